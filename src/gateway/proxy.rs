//! Forwarding one authorised request to the MCP server and its answer back, streamed both ways
//! (MCP Streamable HTTP: POST with JSON or SSE answers, GET for the server's SSE stream, DELETE
//! to end a session). Neither body is held whole in memory, except a body that declares a
//! length of at most 64 KiB (a JSON-RPC message, not a stream), which is read first so that it
//! goes out with its headers in one write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt as _;
use serde_json::json;
use url::Url;

/// Request headers never forwarded: the client's credentials for us (the MCP server gets
/// identity headers instead, never the token or our cookies), and `Host`, which is the MCP
/// server's own.
const NEVER_FORWARDED: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::HOST,
    header::PROXY_AUTHORIZATION,
];

/// Largest body of declared length read whole before it is passed on (see [`forward`]).
const SMALL_BODY: usize = 64 * 1024;

/// RFC 9110 §7.6.1: connection-specific headers, meaningful for one hop only.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn drop_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for name in HOP_BY_HOP
        .iter()
        .copied()
        .chain(named.iter().map(String::as_str))
    {
        headers.remove(name);
    }
}

/// The MCP server URL for a request to `public_path` under the resource `resource_path`:
/// the configured URL plus whatever followed the resource path, plus the query.
#[must_use]
pub fn target(upstream: &Url, resource_path: &str, public_path: &str, query: Option<&str>) -> Url {
    let mut url = upstream.clone();
    let rest = public_path
        .strip_prefix(resource_path)
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or("");
    if !rest.is_empty() {
        let base = upstream.path().trim_end_matches('/');
        url.set_path(&format!("{base}{rest}"));
    }
    url.set_query(query);
    url
}

/// A gateway error answer: RFC 6749 §5.2 shape, never cached.
#[must_use]
pub fn gateway_error(status: StatusCode, error: &str, description: &str) -> Response {
    let res = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    crate::http::error::no_store(res)
}

fn too_large(limit: usize) -> Response {
    closing(gateway_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        &format!("the request body is larger than {limit} bytes"),
    ))
}

/// Most of a request body read (and dropped) before an answer that did not need it.
const DRAIN_LIMIT: usize = 64 * 1024;
/// Longest wait for that body.
const DRAIN_TIME: Duration = Duration::from_millis(500);

/// `res` marked as the connection's last answer.
fn closing(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// `res` (a refusal) for a request whose body was not read. The body is read and dropped first,
/// up to [`DRAIN_LIMIT`] within [`DRAIN_TIME`], so the connection stays usable. Otherwise the
/// answer says `Connection: close`: hyper closes a connection whose request body was left
/// unread, and without that header a keep-alive client (httpx in the Python SDK sends headers
/// and body apart) reuses it and loses its next request.
pub async fn after_unread_body(body: Body, res: Response) -> Response {
    let drained = tokio::time::timeout(DRAIN_TIME, axum::body::to_bytes(body, DRAIN_LIMIT)).await;
    if matches!(drained, Ok(Ok(_))) {
        res
    } else {
        closing(res)
    }
}

/// What [`forward`] needs besides the request.
pub struct Upstream<'a> {
    /// The pooled client.
    pub client: &'a reqwest::Client,
    /// Where to send it.
    pub url: Url,
    /// Largest request body.
    pub max_body: usize,
    /// Longest wait for the response headers.
    pub response_timeout: Duration,
    /// Headers to add (identity), after the client's copies of the same names were removed.
    pub add: HeaderMap,
    /// Incoming header names removed before forwarding (the identity header names).
    pub strip: &'a [HeaderName],
}

/// Sends `req` on and streams the answer back. MCP server unreachable → 502, no response
/// headers within the timeout → 504, both with a JSON body; the response body itself is not
/// timed (an SSE stream is long-lived by design).
pub async fn forward(up: Upstream<'_>, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > up.max_body as u64) {
        return too_large(up.max_body);
    }
    let has_body = declared.is_some_and(|n| n > 0)
        || (declared.is_none() && parts.headers.contains_key(header::TRANSFER_ENCODING));

    let mut headers = parts.headers;
    drop_hop_by_hop(&mut headers);
    for name in NEVER_FORWARDED.iter().chain(up.strip) {
        headers.remove(name);
    }
    for (name, value) in &up.add {
        headers.append(name.clone(), value.clone());
    }

    let over = Arc::new(AtomicBool::new(false));
    let mut builder = up.client.request(parts.method, up.url).headers(headers);
    if let Some(len) = declared.filter(|&n| n > 0 && n <= SMALL_BODY as u64) {
        // A small body of declared length (nearly every JSON-RPC message) is read first and
        // sent with the headers in one write, instead of a write per frame: on loopback the
        // system calls, not the bytes, are the gateway's main cost. The declared length bounds it.
        let Ok(bytes) = axum::body::to_bytes(body, len as usize).await else {
            return gateway_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the request body does not match its Content-Length",
            );
        };
        builder = builder.body(bytes);
    } else if has_body {
        // Counts as it streams: a body without (or lying about) Content-Length is cut off at
        // the limit, and the failure below turns into 413, not 502.
        let limit = up.max_body;
        let flag = over.clone();
        let mut seen = 0usize;
        let stream = body.into_data_stream().map(move |chunk| {
            let bytes = chunk.map_err(std::io::Error::other)?;
            seen = seen.saturating_add(bytes.len());
            if seen > limit {
                flag.store(true, Ordering::Release);
                return Err(std::io::Error::other("request body over the gateway limit"));
            }
            Ok(bytes)
        });
        builder = builder.body(reqwest::Body::wrap_stream(stream));
    }

    let sent = tokio::time::timeout(up.response_timeout, builder.send()).await;
    let res = match sent {
        Ok(Ok(res)) => res,
        Ok(Err(_)) if over.load(Ordering::Acquire) => return too_large(up.max_body),
        Ok(Err(e)) if e.is_timeout() => {
            tracing::warn!(error = %e, "MCP server connection timed out");
            return gateway_error(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "the MCP server did not accept the connection in time",
            );
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "MCP server unreachable");
            return gateway_error(
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable",
                "the MCP server could not be reached",
            );
        }
        Err(_) => {
            tracing::warn!(
                timeout_seconds = up.response_timeout.as_secs(),
                "MCP server did not answer in time"
            );
            return gateway_error(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                "the MCP server did not answer in time",
            );
        }
    };

    let status = res.status();
    let mut headers = res.headers().clone();
    drop_hop_by_hop(&mut headers);
    // The MCP server shares our origin through the gateway: a cookie it sets would be sent to
    // our authorization endpoints, and it never gets cookies back anyway.
    headers.remove(header::SET_COOKIE);
    let small = res.content_length().is_some_and(|n| n <= SMALL_BODY as u64)
        && !headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
    let body = if small {
        // Same reason as for requests: one write for head and body. Bounded by the declared
        // length and timed like the headers (an SSE stream is never read this way).
        match tokio::time::timeout(up.response_timeout, res.bytes()).await {
            Ok(Ok(bytes)) => Body::from(bytes),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "MCP server response cut off");
                return gateway_error(
                    StatusCode::BAD_GATEWAY,
                    "upstream_unavailable",
                    "the MCP server's answer was cut off",
                );
            }
            Err(_) => {
                return gateway_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    "the MCP server did not finish its answer in time",
                )
            }
        }
    } else {
        Body::from_stream(res.bytes_stream())
    };
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
