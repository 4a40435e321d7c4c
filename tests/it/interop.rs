//! Software nobody here wrote: the official MCP TypeScript SDK (`@modelcontextprotocol/sdk`)
//! runs its `auth()` flow against dcr-bridge, whose upstream is `oidc-provider` (an OpenID
//! Certified provider) configured like Okta's custom authorization server, then talks MCP
//! through dcr-bridge's gateway to a real MCP server built with the same SDK
//! (`tests/interop/mcp_server.mjs`, stateful here).

use serde_json::{json, Value};

use crate::support::app::{header, Db, TestApp};
use crate::support::interop::{
    assert_sdk_server_session, assert_session_refreshed, assert_tokens_for_resource,
    assert_whoami_session, start_with_oidc_provider, Interop,
};
use crate::support::mcp_server::{McpMode, McpServerProc};
use crate::support::node::{node_or_skip, run_sdk_flow};

#[tokio::test]
async fn mcp_typescript_sdk_auth_flow_against_oidc_provider_and_stateful_sdk_server() {
    let Some(Interop { app, upstream, mcp }) = start_with_oidc_provider(McpMode::Stateful).await
    else {
        return;
    };
    let out = upstream.ok_or_panic(
        run_sdk_flow(&app.resource(), &["--login", "00u1alice"]).await,
        "sdk flow",
    );
    let at = assert_tokens_for_resource(&app, &out);
    let client_id = out["client_information"]["client_id"].as_str().unwrap();
    // The SDK's transport: initialize, tools/list, whoami (alice, our user for the upstream's
    // 00u1alice, and this client) through the gateway, and whoami again with the refreshed
    // token; the MCP server saw no credential.
    assert_whoami_session(&out, client_id);
    assert_eq!(
        out["server_info"]["name"], "dcr-bridge-interop-sdk-server",
        "{out}"
    );
    assert_session_refreshed(&app, &out, at, client_id).await;
    assert_sdk_server_session(&mcp, &out).await;
    // Revocation by the client (public, client_id only) makes it inactive.
    let new_at = out["refreshed_tokens"]["access_token"].as_str().unwrap();
    let res = app.revoke(new_at, client_id).await;
    assert_eq!(res.status(), 200);
    let info: Value = app.introspect(new_at).await;
    assert_eq!(info["active"], false);
}

#[tokio::test]
async fn mcp_typescript_sdk_sees_access_denied_when_user_denies_consent() {
    let Some(Interop { app, mcp, .. }) = start_with_oidc_provider(McpMode::Stateful).await else {
        return;
    };
    let out = run_sdk_flow(&app.resource(), &["--deny"]).await.unwrap();
    let text = out.to_string();
    assert!(text.contains("access_denied"), "{text}");
    // The unauthenticated probe stopped at the gateway.
    mcp.assert_untouched().await;
}

/// The SDK server's record is trustworthy, and the gateway strips what a client sends: a
/// session through the gateway with a bearer token, a cookie and forged identity headers
/// reaches the server with the token's identity headers only, while the same credentials sent
/// to the server directly are recorded.
#[tokio::test]
async fn stateful_sdk_server_behind_the_gateway_never_sees_authorization_or_cookie() {
    if !node_or_skip().await {
        return;
    }
    let mcp = McpServerProc::start(McpMode::Stateful).await.unwrap();
    let app = TestApp::start_with(Db::Sqlite, |c| mcp.protect(c))
        .await
        .unwrap();
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let at = tokens["access_token"].as_str().unwrap();
    let post = |url: &str, session: Option<&str>, body: Value| {
        let mut req = app
            .api
            .post(url)
            .header("authorization", format!("Bearer {at}"))
            .header("cookie", "mcp_client=should-not-pass")
            // A client posing as someone else through the identity headers.
            .header("x-dcr-user-email", "mallory@example.com")
            .header("x-dcr-client-id", "forged-client")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body);
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        req.send()
    };
    let init = post(
        &app.resource(),
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}}),
    )
    .await
    .unwrap();
    assert_eq!(init.status(), 200);
    let session = header(&init, "mcp-session-id");
    let call = post(
        &app.resource(),
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}}}),
    )
    .await
    .unwrap();
    assert_eq!(call.status(), 200);
    let text = call.text().await.unwrap();
    assert!(text.contains(&client_id), "{text}");
    assert!(text.contains(&session), "whoami names the session: {text}");
    // The gateway replaced the forged identity headers with the token's.
    assert!(text.contains("alice@example.com"), "{text}");
    assert!(
        !text.contains("mallory") && !text.contains("forged-client"),
        "{text}"
    );
    mcp.assert_reached_without_credentials().await;

    // Sent straight to the server, the same headers are recorded.
    let direct = post(
        &mcp.url,
        Some(&session),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "hi"}}}),
    )
    .await
    .unwrap();
    assert_eq!(direct.status(), 200);
    let seen = mcp.seen().await.unwrap();
    assert_eq!(
        seen["credential_headers"],
        json!(["authorization", "cookie"]),
        "{seen}"
    );
}
