//! Cross-cutting layers: request ids (STYLE 19), tracing spans without secrets (STYLE 20), a body
//! size limit, CORS for the JSON endpoints (COMPAT C4), and security headers on every response.
//! An incoming `X-Request-Id` is kept only when it is short and plain (see
//! [`plain_request_id`]); anything else is replaced by a fresh one before any span, handler,
//! audit row or response sees it.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::ClientIpHeader;
use crate::store::request_context::{self, RequestContext};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Largest request body accepted anywhere (registration documents and forms are small).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// CORS for discovery, registration, token, revocation, introspection and resource endpoints.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static("mcp-method"),
            HeaderName::from_static("mcp-name"),
        ])
        .expose_headers([
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            HeaderName::from_static("mcp-session-id"),
            REQUEST_ID.clone(),
        ])
        .max_age(Duration::from_secs(3600))
}

/// Layers of the authorization server's own routes (not the proxied resources): preflight
/// status, body limit, and JSON for framework errors.
pub fn inner<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(axum::middleware::from_fn(preflight_no_content))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // Outside the body limit, so its own 413 answers get the JSON shape and headers too.
        .layer(axum::middleware::from_fn(json_framework_errors))
}

/// Layers every route gets, the proxied resources included: request id, trace span, security
/// headers.
pub fn common(router: Router, client_ip_header: Option<ClientIpHeader>) -> Router {
    router
        .layer(axum::middleware::from_fn(security_headers))
        // Inside SetRequestIdLayer, so the id it sees is the final one.
        .layer(axum::middleware::from_fn(move |req, next| {
            request_context(client_ip_header, req, next)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                // Only the path: query strings carry codes and states.
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        // Outermost: drops an unacceptable incoming id so that SetRequestIdLayer (which keeps an
        // id that is present) generates one. Rate limiters are route layers, further in, so a
        // refused request is logged with the clean id too.
        .layer(axum::middleware::from_fn(drop_unplain_request_id))
}

/// Serves the request with its id, address and user agent as the current
/// [`RequestContext`], so every audit event written for it records them.
async fn request_context(
    client_ip_header: Option<ClientIpHeader>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let ctx = RequestContext::new(
        crate::http::form::request_id(req.headers()),
        crate::http::rate_limit::client_ip(&req, client_ip_header).map(|ip| ip.to_string()),
        req.headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    );
    request_context::scope(ctx, next.run(req)).await
}

/// Longest incoming request id kept.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether an incoming request id may be kept: 1 to 64 of `A-Z a-z 0-9 . _ -`. The id goes into
/// every log line of the request, the response and `audit_events.request_id`, so a client must
/// not be able to put 350 KB, line breaks or look-alike characters there (issue 11, finding 2).
#[must_use]
pub fn plain_request_id(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Removes every incoming `X-Request-Id` unless there is exactly one and it is plain.
async fn drop_unplain_request_id(mut req: Request<Body>, next: Next) -> Response {
    let mut values = req.headers().get_all(&REQUEST_ID).iter();
    let keep = match (values.next(), values.next()) {
        (Some(v), None) => plain_request_id(v.as_bytes()),
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !keep {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// COMPAT C4: browsers and some clients expect a CORS preflight to be 204 No Content.
pub async fn preflight_no_content(req: Request<Body>, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut res = next.run(req).await;
    if preflight && res.status() == StatusCode::OK {
        *res.status_mut() = StatusCode::NO_CONTENT;
    }
    res
}

/// Errors produced by the framework rather than a handler (body too large, wrong method) get
/// the RFC 6749 §5.2 JSON shape too, so clients never have to parse a bare text body.
async fn json_framework_errors(req: Request<Body>, next: Next) -> Response {
    let res = next.run(req).await;
    let description = match res.status() {
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large",
        StatusCode::METHOD_NOT_ALLOWED => "this method is not allowed on this endpoint",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported content type",
        _ => return res,
    };
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let status = res.status();
    let mut out = (
        status,
        axum::Json(
            serde_json::json!({ "error": "invalid_request", "error_description": description }),
        ),
    )
        .into_response();
    for name in [
        header::ALLOW,
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::VARY,
    ] {
        if let Some(v) = res.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// Headers safe for every response; HTML pages add their own CSP.
async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    res
}

#[cfg(test)]
#[path = "middleware_tests.rs"]
mod tests;
