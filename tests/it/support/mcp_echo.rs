//! A small MCP-shaped server for the gateway tests that records what reached it: every
//! request's method, path, query and headers. JSON-RPC POSTs are answered, one message or a
//! batch (initialize with a session id, tools/list with [`TOOLS`] and a `nextCursor`,
//! tools/call echoing the arguments); GET opens an SSE stream that sends one event, waits, then
//! another (with `Last-Event-ID: replay-list`, it replays a tools/list answer instead); `/hang`
//! never answers; and every answer sets a cookie (which the gateway must not
//! pass on). The query shapes POST answers: `answer=sse` sends them as SSE events (a priming
//! event, a notification, [`SSE_GAP_MS`] of quiet, then one event per response),
//! `answer=malformed` (or `sse-malformed`) cuts the JSON short, and `pad=N` adds an N-byte
//! description to every listed tool.

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

/// Milliseconds between the two SSE events of a GET, and before the responses of an SSE POST
/// answer.
pub const SSE_GAP_MS: u64 = 700;

/// The tools `tools/list` answers with.
pub const TOOLS: [&str; 3] = ["echo", "deploy", "nuke"];

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
            if last == "replay-list" {
                // A resumed stream replaying the answer to an earlier tools/list (id 1).
                let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
                return sse_answer(vec![respond(&list, 0).unwrap().to_string()]);
            }
            let events = async_stream(last);
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(Body::from_stream(events))
                .unwrap()
        }
        Method::DELETE => StatusCode::NO_CONTENT.into_response(),
        Method::POST => post(uri, body).await,
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

fn query(uri: &Uri, name: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn post(uri: &Uri, body: &Bytes) -> Response {
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return (
            StatusCode::OK,
            axum::Json(json!({"received_bytes": body.len()})),
        )
            .into_response();
    };
    let pad = query(uri, "pad").map_or(0, |n| n.parse::<usize>().unwrap());
    let answers: Vec<Value> = match &msg {
        Value::Array(batch) => batch.iter().filter_map(|m| respond(m, pad)).collect(),
        one => respond(one, pad).into_iter().collect(),
    };
    if answers.is_empty() {
        return StatusCode::ACCEPTED.into_response();
    }
    let batch = msg.is_array();
    let mut res = match query(uri, "answer").as_deref() {
        Some("malformed") => Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"deploy""#,
            ))
            .unwrap(),
        Some("sse-malformed") => sse_answer(vec![
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"deploy""#.to_owned(),
        ]),
        Some("sse") => sse_answer(answers.iter().map(Value::to_string).collect()),
        _ if batch => axum::Json(Value::Array(answers)).into_response(),
        _ => axum::Json(answers.into_iter().next().unwrap()).into_response(),
    };
    res.headers_mut()
        .insert("mcp-session-id", "echo-session-1".parse().unwrap());
    res
}

/// The response to one JSON-RPC message; `None` for a notification or an unknown method.
fn respond(msg: &Value, pad: usize) -> Option<Value> {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let result = match msg.get("method").and_then(Value::as_str) {
        Some("initialize") => json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "echo", "version": "1"},
        }),
        Some("tools/list") => {
            let tools: Vec<Value> = TOOLS
                .iter()
                .map(|name| {
                    json!({"name": name, "description": "d".repeat(pad),
                           "inputSchema": {"type": "object"}})
                })
                .collect();
            json!({"tools": tools, "nextCursor": "page-2", "_meta": {"echo": true}})
        }
        Some("tools/call") => {
            json!({"content": [{"type": "text", "text": msg["params"]["arguments"].to_string()}]})
        }
        _ => return None,
    };
    Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// An SSE answer: a priming event (id, empty data), a notification, a pause of
/// [`SSE_GAP_MS`], then one event per message in `data`, CRLF line endings on the last.
fn sse_answer(data: Vec<String>) -> Response {
    let head = "id: 0\ndata:\n\n: echo\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"working\"}}\n\n";
    let events = futures_util::stream::unfold(0usize, move |n| {
        let data = data.clone();
        async move {
            let chunk = match n {
                0 => head.to_owned(),
                n if n <= data.len() => {
                    if n == 1 {
                        tokio::time::sleep(Duration::from_millis(SSE_GAP_MS)).await;
                    }
                    format!("id: {n}\r\ndata: {}\r\n\r\n", data[n - 1])
                }
                _ => return None,
            };
            Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), n + 1))
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(events))
        .unwrap()
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
