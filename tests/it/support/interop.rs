//! What the interop tests (`interop*.rs`) share: dcr-bridge behind `oidc-provider` configured like
//! Okta's custom authorization server, in front of a real MCP server built with the official
//! TypeScript SDK ([`McpServerProc`]), and the checks every MCP client's run must pass.

#![allow(dead_code)] // not every test uses every helper

use dcr_bridge::config::Config;
use serde_json::Value;

use super::app::{jwt_claims, Db, TestApp};
use super::cimd_doc::HttpsDocServer;
use super::mcp_server::{McpMode, McpServerProc};
use super::node::{node_or_skip, OidcProviderProc};

/// The parts of an interop test: dcr-bridge, its upstream OP, and the MCP server behind its
/// `/mcp` resource.
pub struct Interop {
    pub app: TestApp,
    pub upstream: OidcProviderProc,
    pub mcp: McpServerProc,
}

/// [`start_behind_oidc_provider`] with the MCP server in `mode`, or `None` when Node is opted
/// out (see [`node_or_skip`]).
pub async fn start_with_oidc_provider(mode: McpMode) -> Option<Interop> {
    if !node_or_skip().await {
        return None;
    }
    Some(start_behind_oidc_provider(mode, |_| {}).await)
}

/// dcr-bridge (SQLite, then `tweak`ed) with `upstream.mjs` as its upstream and `mcp_server.mjs`
/// in `mode` behind `/mcp`, for a test that has checked its own prerequisites, Node included.
///
/// dcr-bridge's listener is bound first so the upstream can be started with its exact
/// `/oauth/callback`; the upstream's client is `bridge-client` / `bridge-secret`.
pub async fn start_behind_oidc_provider(mode: McpMode, tweak: impl FnOnce(&mut Config)) -> Interop {
    // Okta issues refresh tokens for offline_access without prompt=consent.
    start_behind_upstream(mode, &["--offline-access-without-prompt"], |_, c| tweak(c)).await
}

/// Like [`start_behind_oidc_provider`], with `upstream_args` for `upstream.mjs` (e.g. a
/// look-alike mode: `--entra-tenant GUID`, `--google`); `tweak` also gets the upstream.
pub async fn start_behind_upstream(
    mode: McpMode,
    upstream_args: &[&str],
    tweak: impl FnOnce(&OidcProviderProc, &mut Config),
) -> Interop {
    start_behind_upstream_on(Db::Sqlite, mode, upstream_args, tweak)
        .await
        .unwrap()
}

/// [`start_behind_upstream`] on `db`; `None` when Postgres is asked for and opted out.
pub async fn start_behind_upstream_on(
    db: Db,
    mode: McpMode,
    upstream_args: &[&str],
    tweak: impl FnOnce(&OidcProviderProc, &mut Config),
) -> Option<Interop> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://127.0.0.1:{}/oauth/callback",
        listener.local_addr().unwrap().port()
    );
    let (upstream, mcp) = tokio::join!(
        OidcProviderProc::start_with_args(
            Some(&callback),
            "bridge-client",
            "bridge-secret",
            upstream_args,
        ),
        McpServerProc::start(mode),
    );
    let (upstream, mcp) = (upstream.unwrap(), mcp.unwrap());
    let app = TestApp::start_on(db, listener, Some(upstream.issuer.clone()), |c| {
        mcp.protect(c);
        tweak(&upstream, c);
    })
    .await?;
    Some(Interop { app, upstream, mcp })
}

/// [`start_behind_oidc_provider`] that accepts client ID metadata documents on loopback
/// (`[cimd] allow_loopback_for_tests`), and an [`HttpsDocServer`] publishing the one of
/// `client_name`; `None` when Node is opted out.
pub async fn start_with_cimd_document(
    mode: McpMode,
    client_name: &str,
) -> Option<(Interop, HttpsDocServer)> {
    if !node_or_skip().await {
        return None;
    }
    Some(start_behind_cimd_document(mode, client_name).await)
}

/// Like [`start_with_cimd_document`], for a test that has checked its own prerequisites.
pub async fn start_behind_cimd_document(
    mode: McpMode,
    client_name: &str,
) -> (Interop, HttpsDocServer) {
    let docs = HttpsDocServer::start(client_name).await;
    let env = start_behind_oidc_provider(mode, |c| c.cimd.allow_loopback_for_tests = true).await;
    (env, docs)
}

/// dcr-bridge stored the client of `docs` as a CIMD client (it fetched the document; no DCR).
pub async fn assert_cimd_client(app: &TestApp, docs: &HttpsDocServer) {
    let stored = app.state.core.store.get_client(&docs.url).await.unwrap();
    assert_eq!(stored.unwrap().kind, dcr_bridge::store::ClientKind::Cimd);
}

/// An SDK script's run with `docs`' [`script_args`](HttpsDocServer::script_args): the client
/// id (`out[client_key]["client_id"]`) was the document's URL and no DCR was made, the consent
/// page named the document's client, and the whole session held
/// ([`assert_tokens_for_resource`], [`assert_whoami_session`], [`assert_session_refreshed`],
/// [`assert_sdk_server_session`], [`assert_cimd_client`]).
pub async fn assert_cimd_session(
    env: &Interop,
    docs: &HttpsDocServer,
    out: &Value,
    client_key: &str,
) {
    assert_eq!(out[client_key]["client_id"], docs.url.as_str(), "{out}");
    assert!(out["registration_request"].is_null(), "no DCR: {out}");
    assert_eq!(out["consent_page"]["client_name_shown"], true, "{out}");
    let at = assert_tokens_for_resource(&env.app, out);
    assert_whoami_session(out, &docs.url);
    assert_session_refreshed(&env.app, out, at, &docs.url).await;
    assert_sdk_server_session(&env.mcp, out).await;
    assert_cimd_client(&env.app, docs).await;
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

/// The client's MCP session (`tools`, `whoami`, `whoami_after_refresh` in `out`) ran against
/// `mcp` in its mode, before and after the refresh, and `mcp` never saw a credential
/// ([`McpServerProc::assert_reached_without_credentials`]).
pub async fn assert_sdk_server_session(mcp: &McpServerProc, out: &Value) {
    let mode = format!("\"mode\":\"{}\"", mcp.mode.name());
    for key in ["whoami", "whoami_after_refresh"] {
        let text = out[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key}: {out}"));
        assert!(
            text.contains(&mode),
            "{key} not from the SDK server: {text}"
        );
    }
    mcp.assert_reached_without_credentials().await;
}

/// `sdk_flow.mjs` with `args` against `app`'s resource, which must fail: the failure's text
/// (with our error page's), and the detail of the `login_failed` audit event (empty if none).
pub async fn refused_sign_in(app: &TestApp, args: &[&str]) -> (String, String) {
    let out = super::node::run_sdk_flow_raw(&app.resource(), args)
        .await
        .unwrap();
    let failure = format!("{:#}", out.into_json("sdk_flow.mjs").unwrap_err());
    let events = app.state.core.store.list_audit_events(20).await.unwrap();
    let detail = events
        .iter()
        .find(|e| e.kind == "login_failed")
        .and_then(|e| e.detail.clone())
        .unwrap_or_default();
    (failure, detail)
}

/// An SDK script's whole session held: tokens for the MCP resource, `whoami`, the refresh and
/// `whoami` after it, all through the SDK MCP server `mcp` ([`assert_tokens_for_resource`],
/// [`assert_whoami_session`], [`assert_session_refreshed`], [`assert_sdk_server_session`]).
pub async fn assert_whole_session(app: &TestApp, mcp: &McpServerProc, out: &Value) {
    let at = assert_tokens_for_resource(app, out);
    let client_id = out["client_information"]["client_id"].as_str().unwrap();
    assert_whoami_session(out, client_id);
    assert_session_refreshed(app, out, at, client_id).await;
    assert_sdk_server_session(mcp, out).await;
}
