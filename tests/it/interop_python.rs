//! Software nobody here wrote, in another language: the official MCP Python SDK (PyPI `mcp`)
//! connects its streamable HTTP transport with `OAuthClientProvider` to dcr-bridge, whose
//! upstream is `oidc-provider` (an OpenID Certified provider) configured like Okta's custom
//! authorization server. The SDK itself does 401 → protected resource metadata → authorization
//! server metadata (issuer check) → DCR or CIMD → authorize (state, RFC 9207 iss check) → token,
//! then talks MCP through dcr-bridge's gateway to a real MCP server built with the official
//! TypeScript SDK (`tests/interop/mcp_server.mjs`, stateful or stateless as each test's name
//! says) and refreshes its token.

use crate::support::interop::{
    assert_cimd_session, assert_sdk_server_session, assert_session_refreshed,
    assert_tokens_for_resource, assert_whoami_session, start_behind_cimd_document,
    start_behind_oidc_provider, Interop,
};
use crate::support::mcp_server::McpMode;
use crate::support::node::node_or_skip;
use crate::support::python::{run_python_sdk_flow, venv_or_skip};

/// Node (upstream, MCP server) and the Python venv are there, or opted out (then `false`).
async fn prerequisites() -> bool {
    node_or_skip().await && venv_or_skip().await
}

#[tokio::test]
async fn mcp_python_sdk_connects_through_oauth_against_oidc_provider_to_stateless_sdk_server() {
    if !prerequisites().await {
        return;
    }
    let Interop { app, upstream, mcp } =
        start_behind_oidc_provider(McpMode::Stateless, |_| {}).await;
    let out = upstream.ok_or_panic(
        run_python_sdk_flow(&app.resource(), &["--login", "00u1alice"]).await,
        "python sdk flow",
    );

    // The SDK registered itself with what it was given.
    let client_id = out["client_info"]["client_id"].as_str().unwrap();
    assert_eq!(
        out["registration_request"]["client_name"],
        "python-sdk-interop"
    );
    assert_eq!(out["client_info"]["token_endpoint_auth_method"], "none");

    let at = assert_tokens_for_resource(&app, &out);

    // The SDK's MCP session worked with that token.
    assert_whoami_session(&out, client_id);

    // The SDK refreshed the (pretend-)expired token before its next request.
    assert_session_refreshed(&app, &out, at, client_id).await;
    assert_sdk_server_session(&mcp, &out).await;
}

/// The Python SDK with `client_metadata_url` (CIMD): no DCR, the document's URL is its client
/// id through consent, upstream login, token, MCP calls to the stateful SDK server and refresh.
#[tokio::test]
async fn mcp_python_sdk_uses_cimd_with_stateful_sdk_server() {
    if !prerequisites().await {
        return;
    }
    let (env, docs) =
        start_behind_cimd_document(McpMode::Stateful, "python-sdk-cimd-interop").await;
    let out = env.upstream.ok_or_panic(
        run_python_sdk_flow(&env.app.resource(), &docs.script_args()).await,
        "python sdk CIMD flow",
    );
    assert_cimd_session(&env, &docs, &out, "client_info").await;
}
