//! Software nobody here wrote: the official MCP TypeScript SDK (`@modelcontextprotocol/sdk`)
//! runs its `auth()` flow against dcr-bridge, whose upstream is `oidc-provider` (an OpenID
//! Certified provider) configured like Okta's custom authorization server.

use serde_json::Value;

use crate::support::app::{jwt_claims, Db, TestApp};
use crate::support::node::{node_available, run_sdk_flow, OidcProviderProc};

async fn start() -> Option<(TestApp, OidcProviderProc)> {
    if !node_available().await {
        assert!(
            std::env::var_os("CI").is_none(),
            "Node.js is required in CI for the interop tests"
        );
        eprintln!("skipping: node is not installed");
        return None;
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
async fn mcp_typescript_sdk_auth_flow_against_oidc_provider() {
    let Some((app, upstream)) = start().await else {
        return;
    };
    let out = match run_sdk_flow(&app.resource(), &["--login", "00u1alice"]).await {
        Ok(v) => v,
        Err(e) => panic!("sdk flow failed: {e:#}\nupstream log:\n{}", upstream.logs()),
    };
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
    let refreshed = &out["refreshed_tokens"];
    let new_at = refreshed["access_token"].as_str().unwrap();
    assert_ne!(
        refreshed["refresh_token"], tokens["refresh_token"],
        "refresh rotates"
    );
    assert_eq!(jwt_claims(new_at)["aud"], app.resource());
    // The subject is our user for the upstream's 00u1alice.
    let info = app.introspect(new_at).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["aud"], app.resource());
    // Revocation by the client (public, client_id only) makes it inactive.
    let client_id = out["client_information"]["client_id"].as_str().unwrap();
    let res = app
        .api
        .post(app.url("/revoke"))
        .form(&[("token", new_at), ("client_id", client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let info: Value = app.introspect(new_at).await;
    assert_eq!(info["active"], false);
}

#[tokio::test]
async fn mcp_typescript_sdk_sees_access_denied_when_user_denies_consent() {
    let Some((app, _upstream)) = start().await else {
        return;
    };
    let out = run_sdk_flow(&app.resource(), &["--deny"]).await.unwrap();
    let text = out.to_string();
    assert!(text.contains("access_denied"), "{text}");
}
