//! A tiny MCP server (Streamable HTTP, JSON responses only) that `dcr-bridge dev` runs on its
//! own loopback listener and puts behind the resource path through the gateway, like any MCP
//! server an admin would protect, so a first-time user sees a client connect end to end. It
//! knows `initialize`, `ping`, `tools/list` and one tool, `whoami`, which echoes who the
//! gateway says is calling (its identity headers, [`identity_headers`]). Written by hand
//! because it is a demo of the product, not an MCP server library; `serve` never starts it.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::config::IdentityHeaders;

/// The identity headers the demo server reads; the dev resource names them.
#[must_use]
pub fn identity_headers() -> IdentityHeaders {
    IdentityHeaders {
        user_id: Some("x-dcr-user-id".into()),
        email: Some("x-dcr-user-email".into()),
        client_id: Some("x-dcr-client-id".into()),
        scopes: Some("x-dcr-scopes".into()),
        ..IdentityHeaders::default()
    }
}

/// Serves the demo on `listener` (loopback) until the task is aborted. Returns its MCP URL.
///
/// # Errors
/// When the listener has no local address.
pub fn spawn(
    listener: tokio::net::TcpListener,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let url = format!("http://{}/mcp", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/mcp",
        axum::routing::any(
            |method: Method, headers: HeaderMap, body: Bytes| async move {
                handle(&method, &body, &caller(&headers))
            },
        ),
    );
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "demo MCP server stopped");
        }
    });
    Ok((url, task))
}

/// Who the gateway says is calling, in the shape `whoami` shows.
fn caller(headers: &HeaderMap) -> Value {
    let h = identity_headers();
    let get = |name: &Option<String>| {
        name.as_deref()
            .and_then(|n| headers.get(n))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    json!({
        "sub": get(&h.user_id),
        "username": get(&h.email),
        "client_id": get(&h.client_id),
        "scope": get(&h.scopes),
    })
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Response {
    Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
        .into_response()
}

/// Answers one MCP request for `token_info` (`sub`, `username`, `client_id`, `scope`).
pub fn handle(method: &Method, body: &Bytes, token_info: &Value) -> Response {
    if method != Method::POST {
        // No server-initiated stream in the demo (MCP Streamable HTTP allows 405 here).
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return rpc_error(&Value::Null, -32700, "parse error");
    };
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let Some(m) = msg.get("method").and_then(Value::as_str) else {
        return rpc_error(&id, -32600, "invalid request");
    };
    if msg.get("id").is_none() {
        // A notification (e.g. notifications/initialized): accepted, no body.
        return StatusCode::ACCEPTED.into_response();
    }
    let result = match m {
        "initialize" => {
            let version = msg
                .pointer("/params/protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("2025-06-18");
            json!({
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "dcr-bridge-dev-demo", "version": env!("CARGO_PKG_VERSION")},
                "instructions": "Demo MCP server of `dcr-bridge dev`: call the whoami tool.",
            })
        }
        "ping" => json!({}),
        "tools/list" => json!({"tools": [{
            "name": "whoami",
            "description": "Shows who the access token says you are (subject, client, scopes, audience).",
            "inputSchema": {"type": "object", "properties": {}},
        }]}),
        "tools/call" if msg.pointer("/params/name").and_then(Value::as_str) == Some("whoami") => {
            let who = json!({
                "sub": token_info.get("sub"),
                "username": token_info.get("username"),
                "client_id": token_info.get("client_id"),
                "scope": token_info.get("scope"),
            });
            json!({"content": [{"type": "text", "text": who.to_string()}], "isError": false})
        }
        "tools/call" => return rpc_error(&id, -32602, "unknown tool"),
        _ => return rpc_error(&id, -32601, "method not found"),
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}
