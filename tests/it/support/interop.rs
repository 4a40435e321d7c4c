//! What the interop tests (`interop*.rs`) share: dcr-bridge behind `oidc-provider` configured like
//! Okta's custom authorization server, and the checks every MCP SDK's run must pass.

#![allow(dead_code)] // not every test uses every helper

use serde_json::Value;

use super::app::{jwt_claims, Db, TestApp};
use super::node::{node_or_skip, OidcProviderProc};

/// dcr-bridge (SQLite) with `upstream.mjs` as its upstream, or `None` when Node is opted out
/// (see [`node_or_skip`]).
pub async fn start_with_oidc_provider() -> Option<(TestApp, OidcProviderProc)> {
    if !node_or_skip().await {
        return None;
    }
    Some(start_behind_oidc_provider().await)
}

/// Like [`start_with_oidc_provider`], for a test that has checked its own prerequisites, Node
/// included.
///
/// dcr-bridge's listener is bound first so the upstream can be started with its exact
/// `/oauth/callback`; the upstream's client is `bridge-client` / `bridge-secret`.
pub async fn start_behind_oidc_provider() -> (TestApp, OidcProviderProc) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://127.0.0.1:{}/oauth/callback",
        listener.local_addr().unwrap().port()
    );
    let upstream = OidcProviderProc::start_with_args(
        Some(&callback),
        "bridge-client",
        "bridge-secret",
        // Okta issues refresh tokens for offline_access without prompt=consent.
        &["--offline-access-without-prompt"],
    )
    .await
    .unwrap();
    let app = TestApp::start_on(Db::Sqlite, listener, Some(upstream.issuer.clone()), |_| {})
        .await
        .unwrap();
    (app, upstream)
}

/// The SDK's first tokens (`out["tokens"]`): an access token of ours for the MCP resource, and
/// a refresh token. Returns the access token.
pub fn assert_tokens_for_resource<'a>(app: &TestApp, out: &'a Value) -> &'a str {
    let tokens = &out["tokens"];
    let at = tokens["access_token"].as_str().unwrap();
    let claims = jwt_claims(at);
    assert_eq!(
        claims["aud"],
        app.resource(),
        "token audience is the MCP resource"
    );
    assert_eq!(claims["iss"], app.base);
    assert!(tokens["refresh_token"].is_string(), "{out}");
    at
}

/// The SDK's refresh (`out["refreshed_tokens"]`) rotated the refresh token, and its access token
/// is for the MCP resource and active. Returns that access token and its introspection.
pub async fn assert_refreshed<'a>(app: &TestApp, out: &'a Value) -> (&'a str, Value) {
    let refreshed = &out["refreshed_tokens"];
    let new_at = refreshed["access_token"].as_str().unwrap();
    assert_ne!(
        refreshed["refresh_token"], out["tokens"]["refresh_token"],
        "refresh rotates"
    );
    assert_eq!(jwt_claims(new_at)["aud"], app.resource());
    let info = app.introspect(new_at).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["aud"], app.resource());
    (new_at, info)
}

/// The SDK's MCP session worked with its token: `tools` lists `whoami`, which names alice and
/// the SDK's `client_id`.
pub fn assert_whoami_session(out: &Value, client_id: &str) {
    let tools: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(tools.contains(&"whoami"), "{tools:?}");
    let whoami = out["whoami"].as_str().unwrap();
    assert!(whoami.contains("alice@example.com"), "{whoami}");
    assert!(whoami.contains(client_id), "{whoami}");
}

/// The SDK refreshed its (made-stale) access token `at` before its next MCP request: a new
/// access token ([`assert_refreshed`]) for `client_id`, with which `whoami` still worked.
pub async fn assert_session_refreshed(app: &TestApp, out: &Value, at: &str, client_id: &str) {
    let new_at = out["refreshed_tokens"]["access_token"].as_str().unwrap();
    assert_ne!(new_at, at, "refresh issues a new access token");
    let (_, info) = assert_refreshed(app, out).await;
    assert_eq!(info["client_id"], client_id);
    assert!(
        out["whoami_after_refresh"]
            .as_str()
            .unwrap()
            .contains("alice@example.com"),
        "{out}"
    );
}
