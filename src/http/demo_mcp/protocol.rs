//! The demo MCP server's JSON-RPC answers, for both eras of MCP over Streamable HTTP (a
//! "dual-era" server, MCP 2026-07-28 `basic/versioning`): the 2025 revisions, which open with an
//! `initialize` handshake, and 2026-07-28, which has none and declares its protocol version on
//! every request in `params._meta` and in the `MCP-Protocol-Version` header. Pure: headers and
//! body in, status and JSON body out.
//!
//! How a request is told apart, as the TS SDK's dual-era entry does it (`isLegacyRequest`): one
//! carrying `_meta["io.modelcontextprotocol/protocolVersion"]` is modern; anything else is
//! legacy, except that a legacy-looking body under `MCP-Protocol-Version: 2026-07-28` is refused.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::catalog::{call_tool, capabilities, server_info, tools, INSTRUCTIONS};

/// The modern revision this server speaks.
pub const MODERN_VERSION: &str = "2026-07-28";
/// The handshake-based revisions it answers `initialize` with, newest first.
pub const LEGACY_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// `_meta` key of a modern request's protocol version (2026-07-28 `schema.ts`,
/// `RequestMetaObject`), as a JSON pointer below `params` (`/` escaped as `~1`).
const META_VERSION_POINTER: &str = "/params/_meta/io.modelcontextprotocol~1protocolVersion";
/// `_meta` key under which a modern result names the server (`ResultMetaObject`, a SHOULD).
const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

// JSON-RPC error codes: JSON-RPC 2.0, and the MCP-allocated range of 2026-07-28 `schema.ts`.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const HEADER_MISMATCH: i64 = -32020;
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// How long a client may cache `server/discover` and `tools/list` (2026-07-28
/// `CacheableResult.ttlMs`, required on those results); the demo's tools never change.
const TTL_MS: u64 = 300_000;

/// The MCP headers of one request, `None` when absent or not visible ASCII.
#[derive(Clone, Copy, Debug, Default)]
pub struct McpHeaders<'a> {
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<&'a str>,
    /// `Mcp-Method` (SEP-2243).
    pub method: Option<&'a str>,
    /// `Mcp-Name` (SEP-2243), possibly in the `=?base64?…?=` form.
    pub name: Option<&'a str>,
}

/// An HTTP answer: status, and a JSON body unless it is 202 for a notification.
#[derive(Debug, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
}

/// Answers one POSTed JSON-RPC message for `caller` (who the gateway says is calling).
#[must_use]
pub fn answer(headers: &McpHeaders<'_>, body: &[u8], caller: &Value) -> Reply {
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            &Value::Null,
            PARSE_ERROR,
            "parse error",
        );
    };
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = msg.get("method").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            &id,
            INVALID_REQUEST,
            "invalid request",
        );
    };
    match msg.pointer(META_VERSION_POINTER) {
        Some(version) => modern(headers, &msg, method, version, caller),
        // Streamable HTTP 2026-07-28 "Protocol Version Header": the header must match the
        // body's `_meta`, which this body does not carry: `HeaderMismatch` as the spec words
        // it (the TS SDK 2.3 server answers -32602 here).
        None if headers.protocol_version == Some(MODERN_VERSION) => mismatch(
            &id,
            "MCP-Protocol-Version is 2026-07-28 but params._meta has no protocolVersion",
        ),
        None => legacy(headers, &msg, method, caller),
    }
}

/// A 2025-revision request: `initialize` negotiates, everything else is answered plainly.
fn legacy(headers: &McpHeaders<'_>, msg: &Value, method: &str, caller: &Value) -> Reply {
    let Some(id) = msg.get("id") else {
        // A notification such as notifications/initialized: accepted, no body.
        return accepted();
    };
    // 2025-06-18 and later, "Protocol Version Header": an unsupported value gets 400. (Absent
    // means 2025-03-26, whose clients never sent it.)
    if let Some(v) = headers.protocol_version {
        if !LEGACY_VERSIONS.contains(&v) {
            let text = format!("unsupported MCP-Protocol-Version {v:?}");
            return error(StatusCode::BAD_REQUEST, id, INVALID_REQUEST, &text);
        }
    }
    let result = match method {
        "initialize" => {
            let requested = msg
                .pointer("/params/protocolVersion")
                .and_then(Value::as_str);
            // Lifecycle, "Version Negotiation": the requested revision if supported, else
            // the latest one we support (also for a client asking for 2026-07-28 this way).
            let version = requested
                .filter(|v| LEGACY_VERSIONS.contains(v))
                .unwrap_or(LEGACY_VERSIONS[0]);
            json!({
                "protocolVersion": version,
                "capabilities": capabilities(),
                "serverInfo": server_info(),
                "instructions": INSTRUCTIONS,
            })
        }
        "ping" => json!({}),
        "tools/list" => json!({ "tools": tools() }),
        "tools/call" => match call_tool(msg, caller) {
            Some(r) => r,
            None => return unknown_tool(id),
        },
        _ => return error(StatusCode::OK, id, METHOD_NOT_FOUND, "method not found"),
    };
    result_reply(id, result)
}

/// A 2026-07-28 request: stateless, checked against its headers, answered with the result
/// fields that revision requires.
fn modern(
    headers: &McpHeaders<'_>,
    msg: &Value,
    method: &str,
    version: &Value,
    caller: &Value,
) -> Reply {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    // `basic/versioning`, "Protocol Version Negotiation": an unknown version gets the list.
    if version.as_str() != Some(MODERN_VERSION) {
        let mut supported = vec![MODERN_VERSION];
        supported.extend(LEGACY_VERSIONS);
        return Reply {
            status: StatusCode::BAD_REQUEST,
            body: Some(json!({"jsonrpc": "2.0", "id": id, "error": {
                "code": UNSUPPORTED_PROTOCOL_VERSION,
                "message": "Unsupported protocol version",
                "data": {"supported": supported, "requested": version},
            }})),
        };
    }
    if msg.get("id").is_none() {
        // This revision defines no client notifications over HTTP, nor headers for one: accept
        // it like 2025 did (the TS SDK's server exempts them from the header checks too).
        return accepted();
    }
    // Streamable HTTP 2026-07-28, "Server Validation": the headers must mirror the body.
    if headers.protocol_version != Some(MODERN_VERSION) {
        return mismatch(&id, "MCP-Protocol-Version does not match params._meta");
    }
    if headers.method != Some(method) {
        return mismatch(&id, "Mcp-Method does not match the body's method");
    }
    if let Some(field) = name_source(method) {
        let body_name = msg.pointer(field).and_then(Value::as_str);
        let header_name = headers.name.and_then(crate::mcp::decode_header_value);
        if body_name.is_none() || header_name.as_deref() != body_name {
            return mismatch(&id, "Mcp-Name does not match the body");
        }
    }
    let (result, cacheable) = match method {
        "server/discover" => {
            // Only modern revisions here: the 2025 ones are negotiated through `initialize`
            // (as the TS SDK's server answers it).
            let discover = json!({
                "supportedVersions": [MODERN_VERSION],
                "capabilities": capabilities(),
                "instructions": INSTRUCTIONS,
            });
            (discover, Some("public"))
        }
        "ping" => (json!({}), None),
        // `private`: dcr-bridge's gateway trims the list to what each token may call
        // (`filter_tools_list`), so shared caches must not reuse it across tokens.
        "tools/list" => (json!({ "tools": tools() }), Some("private")),
        "tools/call" => match call_tool(msg, caller) {
            Some(r) => (r, None),
            None => return unknown_tool(&id),
        },
        // Streamable HTTP 2026-07-28, "Protocol Version Header": unknown method → 404.
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                &id,
                METHOD_NOT_FOUND,
                "method not found",
            )
        }
    };
    let Value::Object(mut fields) = result else {
        return result_reply(&id, result);
    };
    fields.insert("resultType".into(), json!("complete"));
    fields.insert("_meta".into(), json!({ SERVER_INFO_KEY: server_info() }));
    if let Some(scope) = cacheable {
        fields.insert("ttlMs".into(), json!(TTL_MS));
        fields.insert("cacheScope".into(), json!(scope));
    }
    result_reply(&id, Value::Object(fields))
}

/// Where `Mcp-Name` comes from for `method` (SEP-2243 "Standard Request Headers").
fn name_source(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("/params/name"),
        "resources/read" => Some("/params/uri"),
        _ => None,
    }
}

fn accepted() -> Reply {
    Reply {
        status: StatusCode::ACCEPTED,
        body: None,
    }
}

fn result_reply(id: &Value, result: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        body: Some(json!({"jsonrpc": "2.0", "id": id, "result": result})),
    }
}

fn error(status: StatusCode, id: &Value, code: i64, message: &str) -> Reply {
    Reply {
        status,
        body: Some(
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
        ),
    }
}

/// An unknown tool is invalid params (2026-07-28 `schema.ts`, `InvalidParamsError`).
fn unknown_tool(id: &Value) -> Reply {
    error(StatusCode::OK, id, INVALID_PARAMS, "unknown tool")
}

/// 400 `HeaderMismatch` (Streamable HTTP 2026-07-28, "Server Validation").
fn mismatch(id: &Value, message: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, id, HEADER_MISMATCH, message)
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
