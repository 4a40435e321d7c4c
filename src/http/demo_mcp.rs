//! A tiny MCP server (Streamable HTTP, JSON responses only) that `dcr-bridge dev` puts behind the
//! resource path, so a first-time user sees a client connect end to end. It knows `initialize`,
//! `ping`, `tools/list` and one tool, `whoami`, which echoes the validated token's claims.
//! Written by hand because it is a demo of the product, not an MCP server library; `serve`
//! never enables it (gateway mode will proxy real MCP servers instead).

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

fn rpc_error(id: &Value, code: i64, message: &str) -> Response {
    Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
        .into_response()
}

/// Answers one MCP request for a caller whose token introspected to `token_info`.
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
                "aud": token_info.get("aud"),
                "exp": token_info.get("exp"),
            });
            json!({"content": [{"type": "text", "text": who.to_string()}], "isError": false})
        }
        "tools/call" => return rpc_error(&id, -32602, "unknown tool"),
        _ => return rpc_error(&id, -32601, "method not found"),
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}
