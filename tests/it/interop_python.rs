//! Software nobody here wrote, in another language: the official MCP Python SDK (PyPI `mcp`)
//! connects its streamable HTTP transport with `OAuthClientProvider` to dcr-bridge, whose
//! upstream is `oidc-provider` (an OpenID Certified provider) configured like Okta's custom
//! authorization server. The SDK itself does 401 → protected resource metadata → authorization
//! server metadata (issuer check) → DCR → authorize (state, RFC 9207 iss check) → token, then
//! talks MCP to the demo server behind `/mcp` and refreshes its token.

use crate::support::app::{jwt_claims, Db, TestApp};
use crate::support::node::{node_available, OidcProviderProc};
use crate::support::python::{ensure_venv, run_python_sdk_flow, VenvError};

async fn start() -> Option<(TestApp, OidcProviderProc)> {
    let in_ci = std::env::var_os("CI").is_some();
    if !node_available().await {
        assert!(!in_ci, "Node.js is required in CI for the interop tests");
        eprintln!("skipping: node is not installed");
        return None;
    }
    match ensure_venv().await {
        Ok(()) => {}
        Err(VenvError::Unavailable(why)) => {
            assert!(!in_ci, "Python 3 with venv is required in CI: {why}");
            eprintln!("skipping: {why}");
            return None;
        }
        Err(e @ VenvError::Failed(_)) => panic!("{e}"),
    }
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
    Some((app, upstream))
}

#[tokio::test]
async fn mcp_python_sdk_connects_through_oauth_against_oidc_provider() {
    let Some((app, upstream)) = start().await else {
        return;
    };
    let out = match run_python_sdk_flow(&app.resource(), &["--login", "00u1alice"]).await {
        Ok(v) => v,
        Err(e) => panic!(
            "python sdk flow failed: {e:#}\nupstream log:\n{}",
            upstream.logs()
        ),
    };

    // The SDK registered itself with what it was given.
    let client_id = out["client_info"]["client_id"].as_str().unwrap();
    assert_eq!(
        out["registration_request"]["client_name"],
        "python-sdk-interop"
    );
    assert_eq!(out["client_info"]["token_endpoint_auth_method"], "none");

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

    // The SDK's MCP session worked with that token.
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

    // The SDK refreshed the (pretend-)expired token before its next request.
    let refreshed = &out["refreshed_tokens"];
    let new_at = refreshed["access_token"].as_str().unwrap();
    assert_ne!(new_at, at, "refresh issues a new access token");
    assert_ne!(
        refreshed["refresh_token"], tokens["refresh_token"],
        "refresh rotates"
    );
    assert_eq!(jwt_claims(new_at)["aud"], app.resource());
    let info = app.introspect(new_at).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["aud"], app.resource());
    assert_eq!(info["client_id"], client_id);
    assert!(
        out["whoami_after_refresh"]
            .as_str()
            .unwrap()
            .contains("alice@example.com"),
        "{out}"
    );
}
