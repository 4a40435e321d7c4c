//! A small MCP-shaped server for the gateway tests that records what reached it: every
//! request's method, path, query and headers. JSON-RPC POSTs are answered (initialize with a
//! session id, tools/list, tools/call echoing the arguments), GET opens an SSE stream that
//! sends one event, waits, then another, `/hang` never answers, and every answer sets a cookie
//! (which the gateway must not pass on).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One request as the MCP server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body_len: usize,
}

/// The running server.
pub struct McpEcho {
    /// `http://127.0.0.1:port/mcp`.
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    _task: tokio::task::JoinHandle<()>,
}

/// Milliseconds between the two SSE events of a GET.
pub const SSE_GAP_MS: u64 = 700;

impl McpEcho {
    pub async fn start() -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push(Seen {
                        method: method.clone(),
                        uri: uri.clone(),
                        headers: headers.clone(),
                        body_len: body.len(),
                    });
                    answer(&method, &uri, &headers, &body).await
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url,
            seen,
            _task: task,
        }
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Response {
    let mut res = route(method, uri, headers, body).await;
    res.headers_mut()
        .insert("set-cookie", "mcp_session=secret; Path=/".parse().unwrap());
    res
}

async fn route(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Response {
    if uri.path().ends_with("/hang") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    match *method {
        Method::GET => {
            let last = headers
                .get("last-event-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_owned();
            let events = async_stream(last);
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(Body::from_stream(events))
                .unwrap()
        }
        Method::DELETE => StatusCode::NO_CONTENT.into_response(),
        Method::POST => {
            let Ok(msg) = serde_json::from_slice::<Value>(body) else {
                return (
                    StatusCode::OK,
                    axum::Json(json!({"received_bytes": body.len()})),
                )
                    .into_response();
            };
            let id = msg.get("id").cloned().unwrap_or(Value::Null);
            let result = match msg.get("method").and_then(Value::as_str) {
                Some("initialize") => json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "echo", "version": "1"},
                }),
                Some("tools/list") => {
                    json!({"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]})
                }
                Some("tools/call") => {
                    json!({"content": [{"type": "text", "text": msg["params"]["arguments"].to_string()}]})
                }
                _ => return StatusCode::ACCEPTED.into_response(),
            };
            let mut res =
                axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response();
            res.headers_mut()
                .insert("mcp-session-id", "echo-session-1".parse().unwrap());
            res
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

/// `id: 1` at once, `id: 2` after [`SSE_GAP_MS`], then the stream ends.
fn async_stream(
    last: String,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold(0u8, move |n| {
        let last = last.clone();
        async move {
            match n {
                0 => Some((
                    Ok(Bytes::from(format!(
                        "id: 1\ndata: {{\"last_event_id\":\"{last}\"}}\n\n"
                    ))),
                    1,
                )),
                1 => {
                    tokio::time::sleep(Duration::from_millis(SSE_GAP_MS)).await;
                    Some((Ok(Bytes::from("id: 2\ndata: {\"n\":2}\n\n")), 2))
                }
                _ => None,
            }
        }
    })
}
