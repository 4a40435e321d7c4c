//! Software nobody here wrote, next major: the official MCP TypeScript SDK v2 client
//! (`@modelcontextprotocol/client`) connects its Streamable HTTP transport with an OAuth provider
//! to dcr-bridge, whose upstream is `oidc-provider` (an OpenID Certified provider) configured like
//! Okta's custom authorization server. Beyond v1, the SDK itself checks the metadata `issuer`
//! echo, binds the callback leg to the discovered authorization server (SEP-2352), validates
//! RFC 9207 `iss` strictly, and refuses a non-https token endpoint unless it is loopback.

use crate::support::app::{jwt_claims, Db, TestApp};
use crate::support::node::{node_available, run_sdk_v2_flow, OidcProviderProc};

/// The pinned `@modelcontextprotocol/client` (must match `tests/interop/package.json`).
const SDK_V2_VERSION: &str = "2.4.0";

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

fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn mcp_typescript_sdk_v2_connects_through_oauth_against_oidc_provider() {
    let Some((app, upstream)) = start().await else {
        return;
    };
    let out = match run_sdk_v2_flow(&app.resource(), &["--login", "00u1alice"]).await {
        Ok(v) => v,
        Err(e) => panic!(
            "sdk v2 flow failed: {e:#}\nupstream log:\n{}",
            upstream.logs()
        ),
    };
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

    let tokens = &out["tokens"];
    let at = tokens["access_token"].as_str().unwrap();
    let claims = jwt_claims(at);
    assert_eq!(
        claims["aud"],
        app.resource(),
        "token audience is the MCP resource"
    );
    assert_eq!(claims["iss"], app.base);
    // SEP-2352: the SDK stamps the stored credentials with the issuer it validated.
    assert_eq!(tokens["issuer"], app.base);
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

    // A stale access token made the transport refresh (refresh_token grant) and retry.
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

#[tokio::test]
async fn mcp_typescript_sdk_v2_sees_access_denied_when_user_denies_consent() {
    let Some((app, upstream)) = start().await else {
        return;
    };
    let out = match run_sdk_v2_flow(&app.resource(), &["--deny"]).await {
        Ok(v) => v,
        Err(e) => panic!(
            "sdk v2 flow failed: {e:#}\nupstream log:\n{}",
            upstream.logs()
        ),
    };
    // The error redirect carries iss too: the SDK validates it before surfacing the error.
    assert_eq!(
        out["authorization_error"]["error"], "access_denied",
        "{out}"
    );
    assert_eq!(out["authorization_error"]["iss"], app.base, "{out}");
    assert_eq!(out["sdk_error"]["code"], "access_denied", "{out}");
    assert!(out["tokens"].is_null());
}
