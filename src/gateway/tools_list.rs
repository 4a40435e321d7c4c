//! `filter_tools_list`: the MCP server's answer to a `tools/list` request, rewritten so that it
//! leaves out the tools the token may not call (the mapped tools of [`super::tools::hidden`]):
//! a user never sees a tool that would answer 403. Only `result.tools` changes; `nextCursor`,
//! `_meta` and every other field, and every other message of a batch or an SSE stream, pass
//! through as they are.
//!
//! A JSON answer is read whole, up to `gateway.max_tools_list_bytes`; an SSE answer is passed on
//! event by event, holding at most one event of that size. What cannot be vetted (too large,
//! not JSON, `result.tools` not an array, compressed) never reaches the client: a JSON answer
//! becomes 502 `upstream_invalid_response`; an SSE answer, whose 200 has already gone out, gets a
//! JSON-RPC error (-32603) for each `tools/list` request still unanswered, and ends.

use std::collections::HashSet;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures_util::StreamExt as _;
use serde_json::{json, Value};

use super::proxy::gateway_error;
use super::sse;

/// JSON-RPC 2.0 §5.1 "Internal error".
const INTERNAL_ERROR: i64 = -32603;

/// What to leave out of one request's `tools/list` answers.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The tools the token may not call.
    pub hidden: HashSet<String>,
    /// The ids of the request's `tools/list` messages.
    pub list_ids: Vec<Value>,
    /// Largest JSON answer, or SSE event, held to be vetted.
    pub max_bytes: usize,
}

/// `res` with the hidden tools left out of every `tools/list` result in it. Only a successful
/// JSON or SSE answer is read; any other answer (202, errors, other types) carries no tool list
/// a client would take and passes through.
pub async fn apply(filter: Filter, res: Response) -> Response {
    if !res.status().is_success() {
        return res;
    }
    let kind = media_type(res.headers());
    if !matches!(kind.as_str(), "application/json" | "text/event-stream") {
        return res;
    }
    // The request went without Accept-Encoding; a server that compresses anyway is not read.
    if let Some(enc) = res
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.eq_ignore_ascii_case("identity"))
    {
        return refuse(&format!("is compressed ({enc})"));
    }
    if kind == "text/event-stream" {
        return sse_answer(filter, res);
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match read_capped(body, filter.max_bytes).await {
        Ok(b) => b,
        Err(why) => return refuse(&why),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let Ok(mut msg) = serde_json::from_slice::<Value>(&bytes) else {
        return refuse("is not JSON");
    };
    match leave_out(&mut msg, &filter.hidden) {
        Err(why) => refuse(why),
        Ok(false) => Response::from_parts(parts, Body::from(bytes)),
        Ok(true) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(msg.to_string()))
        }
    }
}

/// The media type of a response, lowercase, without parameters.
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// 502: the answer could not be vetted, so none of it is passed on.
fn refuse(why: &str) -> Response {
    tracing::warn!(why, "MCP server's tools/list answer refused");
    gateway_error(
        StatusCode::BAD_GATEWAY,
        "upstream_invalid_response",
        &format!("the MCP server's tools/list answer {why}"),
    )
}

async fn read_capped(body: Body, max: usize) -> Result<Vec<u8>, String> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| "broke off".to_owned())?;
        if out.len().saturating_add(chunk.len()) > max {
            return Err(format!("is larger than {max} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Leaves the hidden tools out of a message or batch. Returns whether anything changed.
///
/// # Errors
/// A `result.tools` that is not an array.
pub fn leave_out(msg: &mut Value, hidden: &HashSet<String>) -> Result<bool, &'static str> {
    let mut changed = false;
    let messages: Vec<&mut Value> = match msg {
        Value::Array(batch) => batch.iter_mut().collect(),
        one => vec![one],
    };
    for m in messages {
        let Some(tools) = m.pointer_mut("/result/tools") else {
            continue;
        };
        let Value::Array(tools) = tools else {
            return Err("has a result.tools that is not an array");
        };
        let before = tools.len();
        // A tool without a string name cannot be called, nor checked: left out as well.
        tools.retain(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| !hidden.contains(n))
        });
        if tools.len() != before {
            changed = true;
            // MCP 2026-07-28: a list trimmed for this token must not be cached for others,
            // whatever scope the MCP server declared for the whole list.
            if let Some(scope) = m.pointer_mut("/result/cacheScope") {
                *scope = Value::String("private".into());
            }
        }
    }
    Ok(changed)
}

/// The ids of the responses in a message or batch.
fn answered(msg: &Value) -> Vec<&Value> {
    let messages: Vec<&Value> = match msg {
        Value::Array(batch) => batch.iter().collect(),
        one => vec![one],
    };
    messages
        .into_iter()
        .filter(|m| m.get("result").is_some() || m.get("error").is_some())
        .filter_map(|m| m.get("id"))
        .collect()
}

/// The SSE answer, filtered event by event as it streams.
fn sse_answer(filter: Filter, res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let state = SseState {
        upstream: body.into_data_stream(),
        events: sse::Events::default(),
        unanswered: filter.list_ids.clone(),
        filter,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, SseState::step);
    Response::from_parts(parts, Body::from_stream(stream))
}

struct SseState {
    upstream: axum::body::BodyDataStream,
    events: sse::Events,
    filter: Filter,
    /// `tools/list` ids not yet answered: those a failure answers with an error.
    unanswered: Vec<Value>,
    done: bool,
}

impl SseState {
    async fn step(mut self) -> Option<(Result<Bytes, axum::Error>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.events.next_event() {
                let out = self.vet(event);
                return Some((Ok(out), self));
            }
            if self.events.pending() > self.filter.max_bytes {
                let why = format!("has an event larger than {} bytes", self.filter.max_bytes);
                let out = self.fail(&why);
                return Some((Ok(out), self));
            }
            match self.upstream.next().await {
                Some(Ok(chunk)) => self.events.push(&chunk),
                Some(Err(e)) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
                None => {
                    self.done = true;
                    let rest = self.events.rest();
                    if rest.is_empty() {
                        return None;
                    }
                    let out = self.vet(rest);
                    return Some((Ok(out), self));
                }
            }
        }
    }

    /// One event as it goes to the client: unchanged, rewritten, or the failure.
    fn vet(&mut self, event: Vec<u8>) -> Bytes {
        if event.len() > self.filter.max_bytes {
            let why = format!("has an event larger than {} bytes", self.filter.max_bytes);
            return self.fail(&why);
        }
        let Some(data) = sse::data(&event).filter(|d| !d.iter().all(u8::is_ascii_whitespace))
        else {
            // No data (a priming event with only an id, a comment, a retry): nothing to vet.
            return Bytes::from(event);
        };
        let Ok(mut msg) = serde_json::from_slice::<Value>(&data) else {
            return self.fail("has an event that is not JSON");
        };
        let changed = match leave_out(&mut msg, &self.filter.hidden) {
            Ok(c) => c,
            Err(why) => return self.fail(why),
        };
        let ids = answered(&msg);
        self.unanswered.retain(|id| !ids.contains(&id));
        if changed {
            Bytes::from(sse::with_data(&event, &msg.to_string()))
        } else {
            Bytes::from(event)
        }
    }

    /// Ends the stream with a JSON-RPC error for each `tools/list` request still unanswered.
    fn fail(&mut self, why: &str) -> Bytes {
        tracing::warn!(why, "MCP server's tools/list answer cut off");
        self.done = true;
        let message = format!("the MCP server's tools/list answer {why}");
        let mut out = Vec::new();
        for id in &self.unanswered {
            let error = json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": {"code": INTERNAL_ERROR, "message": message},
            });
            out.extend_from_slice(format!("event: message\ndata: {error}\n\n").as_bytes());
        }
        Bytes::from(out)
    }
}

#[cfg(test)]
#[path = "tools_list_tests.rs"]
mod tests;
