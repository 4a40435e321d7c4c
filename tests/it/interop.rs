//! Software nobody here wrote: the official MCP TypeScript SDK (`@modelcontextprotocol/sdk`)
//! runs its `auth()` flow against dcr-bridge, whose upstream is `oidc-provider` (an OpenID
//! Certified provider) configured like Okta's custom authorization server.

use serde_json::Value;

use crate::support::interop::{
    assert_refreshed, assert_tokens_for_resource, start_with_oidc_provider,
};
use crate::support::node::run_sdk_flow;

#[tokio::test]
async fn mcp_typescript_sdk_auth_flow_against_oidc_provider() {
    let Some((app, upstream)) = start_with_oidc_provider().await else {
        return;
    };
    let out = upstream.ok_or_panic(
        run_sdk_flow(&app.resource(), &["--login", "00u1alice"]).await,
        "sdk flow",
    );
    assert_tokens_for_resource(&app, &out);
    // The subject is our user for the upstream's 00u1alice.
    let (new_at, _) = assert_refreshed(&app, &out).await;
    // Revocation by the client (public, client_id only) makes it inactive.
    let client_id = out["client_information"]["client_id"].as_str().unwrap();
    let res = app.revoke(new_at, client_id).await;
    assert_eq!(res.status(), 200);
    let info: Value = app.introspect(new_at).await;
    assert_eq!(info["active"], false);
}

#[tokio::test]
async fn mcp_typescript_sdk_sees_access_denied_when_user_denies_consent() {
    let Some((app, _upstream)) = start_with_oidc_provider().await else {
        return;
    };
    let out = run_sdk_flow(&app.resource(), &["--deny"]).await.unwrap();
    let text = out.to_string();
    assert!(text.contains("access_denied"), "{text}");
}
