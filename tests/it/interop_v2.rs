//! Software nobody here wrote, next major: the official MCP TypeScript SDK v2 client
//! (`@modelcontextprotocol/client`) connects its Streamable HTTP transport with an OAuth provider
//! to dcr-bridge, whose upstream is `oidc-provider` (an OpenID Certified provider) configured like
//! Okta's custom authorization server. Beyond v1, the SDK itself checks the metadata `issuer`
//! echo, binds the callback leg to the discovered authorization server (SEP-2352), validates
//! RFC 9207 `iss` strictly, and refuses a non-https token endpoint unless it is loopback. Its MCP
//! calls go through dcr-bridge's gateway to a real MCP server built with the official TypeScript
//! SDK (`tests/interop/mcp_server.mjs`), stateful or stateless as each test's name says.

use crate::support::app::query_param;
use crate::support::interop::{
    assert_cimd_session, assert_sdk_server_session, assert_session_refreshed,
    assert_tokens_for_resource, assert_whoami_session, start_with_cimd_document,
    start_with_oidc_provider, Interop,
};
use crate::support::mcp_server::McpMode;
use crate::support::node::run_sdk_v2_flow;

/// The pinned `@modelcontextprotocol/client` (must match `tests/interop/package.json`).
const SDK_V2_VERSION: &str = "2.4.0";

#[tokio::test]
async fn mcp_typescript_sdk_v2_connects_through_oauth_against_oidc_provider_to_stateful_sdk_server()
{
    let Some(Interop { app, upstream, mcp }) = start_with_oidc_provider(McpMode::Stateful).await
    else {
        return;
    };
    let out = upstream.ok_or_panic(
        run_sdk_v2_flow(&app.resource(), &["--login", "00u1alice"]).await,
        "sdk v2 flow",
    );
    assert_eq!(out["sdk_version"], SDK_V2_VERSION);

    // The SDK registered itself, filling in its v2 DCR default application_type.
    let client_id = out["client_information"]["client_id"].as_str().unwrap();
    let registration = &out["registration_request"];
    assert_eq!(registration["client_name"], "sdk-v2-interop");
    assert_eq!(registration["application_type"], "native", "{registration}");
    assert_eq!(out["client_information"]["application_type"], "native");

    // offline_access (listed in our scopes_supported) was appended to the PRM scopes, and the SDK
    // then asks for prompt=consent.
    let request_url = out["authorization_request_url"].as_str().unwrap();
    let scope = query_param(request_url, "scope").unwrap();
    assert!(
        scope.split(' ').any(|s| s == "offline_access"),
        "{request_url}"
    );
    assert_eq!(
        query_param(request_url, "prompt").as_deref(),
        Some("consent")
    );
    assert_eq!(
        query_param(request_url, "resource").as_deref(),
        Some(app.resource().as_str())
    );

    // The callback carried our iss, and the metadata told the SDK to insist on it: the SDK's
    // strict RFC 9207 check ran (and passed) in finishAuth.
    assert_eq!(
        out["authorization_server_metadata"]["authorization_response_iss_parameter_supported"],
        true
    );
    let response_url = out["authorization_response_url"].as_str().unwrap();
    assert_eq!(
        query_param(response_url, "iss").as_deref(),
        Some(app.base.as_str())
    );
    assert_eq!(out["consent_page"]["client_name_shown"], true, "{out}");

    let at = assert_tokens_for_resource(&app, &out);
    // SEP-2352: the SDK stamps the stored credentials with the issuer it validated.
    assert_eq!(out["tokens"]["issuer"], app.base);

    // The SDK's MCP session worked with that token.
    assert_whoami_session(&out, client_id);

    // A stale access token made the transport refresh (refresh_token grant) and retry.
    assert_session_refreshed(&app, &out, at, client_id).await;
    assert_sdk_server_session(&mcp, &out).await;
}

#[tokio::test]
async fn mcp_typescript_sdk_v2_sees_access_denied_when_user_denies_consent() {
    let Some(Interop { app, upstream, mcp }) = start_with_oidc_provider(McpMode::Stateless).await
    else {
        return;
    };
    let out = upstream.ok_or_panic(
        run_sdk_v2_flow(&app.resource(), &["--deny"]).await,
        "sdk v2 flow",
    );
    // The error redirect carries iss too: the SDK validates it before surfacing the error.
    assert_eq!(
        out["authorization_error"]["error"], "access_denied",
        "{out}"
    );
    assert_eq!(out["authorization_error"]["iss"], app.base, "{out}");
    assert_eq!(out["sdk_error"]["code"], "access_denied", "{out}");
    assert!(out["tokens"].is_null());
    // connect() stopped at the gateway's 401.
    mcp.assert_untouched().await;
}

/// The v2 client with `clientMetadataUrl` (CIMD): no DCR, the document's URL is its client id
/// through consent, upstream login, token, MCP calls to the stateless SDK server and refresh.
#[tokio::test]
async fn mcp_typescript_sdk_v2_uses_cimd_with_stateless_sdk_server() {
    let Some((env, docs)) =
        start_with_cimd_document(McpMode::Stateless, "sdk-v2-cimd-interop").await
    else {
        return;
    };
    let out = env.upstream.ok_or_panic(
        run_sdk_v2_flow(&env.app.resource(), &docs.script_args()).await,
        "sdk v2 CIMD flow",
    );
    // The SDK sent the document's URL as client_id in the authorization request.
    let request_url = out["authorization_request_url"].as_str().unwrap();
    assert_eq!(
        query_param(request_url, "client_id").as_deref(),
        Some(docs.url.as_str())
    );
    assert_cimd_session(&env, &docs, &out, "client_information").await;
}
