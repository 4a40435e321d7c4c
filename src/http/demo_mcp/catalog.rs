//! What the demo MCP server offers, the same in both protocol eras: its identity, capabilities
//! and instructions, and its one tool, `whoami`.

use serde_json::{json, Value};

/// `tools/call`: the `whoami` result, `None` for any other tool.
pub fn call_tool(msg: &Value, caller: &Value) -> Option<Value> {
    if msg.pointer("/params/name").and_then(Value::as_str) != Some("whoami") {
        return None;
    }
    let mut who = json!({
        "sub": caller.get("sub"),
        "username": caller.get("username"),
        "client_id": caller.get("client_id"),
        "scope": caller.get("scope"),
    });
    // `service` for a machine client's token (no user behind it).
    if let Some(kind) = caller.get("client_kind").filter(|k| !k.is_null()) {
        who["client_kind"] = kind.clone();
    }
    Some(json!({"content": [{"type": "text", "text": who.to_string()}], "isError": false}))
}

/// The server's `instructions`.
pub const INSTRUCTIONS: &str = "Demo MCP server of `dcr-bridge dev`: call the whoami tool.";

/// Tools only, with no list-change notifications.
pub fn capabilities() -> Value {
    json!({"tools": {}})
}

/// Its `Implementation`: `serverInfo`, or `_meta` `io.modelcontextprotocol/serverInfo`.
pub fn server_info() -> Value {
    json!({"name": "dcr-bridge-dev-demo", "version": env!("CARGO_PKG_VERSION")})
}

/// The `tools` of `tools/list`.
pub fn tools() -> Value {
    json!([{
        "name": "whoami",
        "description": "Shows who the access token says you are (subject, client, scopes, audience).",
        "inputSchema": {"type": "object", "properties": {}},
    }])
}
