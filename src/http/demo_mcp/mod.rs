//! A tiny MCP server (Streamable HTTP, JSON responses only, no sessions) that `dcr-bridge dev`
//! runs on its own loopback listener and puts behind the resource path through the gateway,
//! like any MCP server an admin would protect, so a first-time user sees a client connect end
//! to end. It speaks the 2025 revisions (`initialize`) and 2026-07-28 (`server/discover`,
//! stateless, [`protocol`]) and knows `ping`, `tools/list` and one tool, `whoami`, which echoes
//! who the gateway says is calling (its identity headers, [`identity_headers`]). Written by
//! hand because it is a demo of the product, not an MCP server library; `serve` never starts
//! it.

pub mod catalog;
pub mod protocol;

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
        client_kind: Some("x-dcr-client-kind".into()),
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
                handle(&method, &headers, &body, &caller(&headers))
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
        "client_kind": get(&h.client_kind),
    })
}

/// Answers one HTTP request to the MCP endpoint for `caller` (`sub`, `username`,
/// `client_id`, `scope`).
pub fn handle(method: &Method, headers: &HeaderMap, body: &Bytes, caller: &Value) -> Response {
    if method != Method::POST {
        // No server-initiated stream and no session to end: MCP 2025 Streamable HTTP allows
        // 405 here, and 2026-07-28 asks for it.
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mcp = protocol::McpHeaders {
        protocol_version: header("mcp-protocol-version"),
        method: header("mcp-method"),
        name: header("mcp-name"),
    };
    let reply = protocol::answer(&mcp, body, caller);
    match reply.body {
        Some(body) => (reply.status, Json(body)).into_response(),
        None => reply.status.into_response(),
    }
}
