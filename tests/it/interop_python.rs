//! Software nobody here wrote, in another language: the official MCP Python SDK (PyPI `mcp`)
//! connects its streamable HTTP transport with `OAuthClientProvider` to dcr-bridge, whose
//! upstream is `oidc-provider` (an OpenID Certified provider) configured like Okta's custom
//! authorization server. The SDK itself does 401 → protected resource metadata → authorization
//! server metadata (issuer check) → DCR → authorize (state, RFC 9207 iss check) → token, then
//! talks MCP to the demo server behind `/mcp` and refreshes its token.

use crate::support::app::TestApp;
use crate::support::interop::{
    assert_session_refreshed, assert_tokens_for_resource, assert_whoami_session,
    start_behind_oidc_provider,
};
use crate::support::node::{node_or_skip, OidcProviderProc};
use crate::support::python::{run_python_sdk_flow, venv_or_skip};

async fn start() -> Option<(TestApp, OidcProviderProc)> {
    if !node_or_skip().await || !venv_or_skip().await {
        return None;
    }
    Some(start_behind_oidc_provider().await)
}

#[tokio::test]
async fn mcp_python_sdk_connects_through_oauth_against_oidc_provider() {
    let Some((app, upstream)) = start().await else {
        return;
    };
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
}
