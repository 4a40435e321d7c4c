//! Per-client rules and server-wide client rules in whole flows, with the helpers of the client
//! emulations: COMPAT C9/C22 (`[[client_rules]]`) as a claude.ai operator would set them, the
//! MCP 2026-07-28 `offline_access` rules, and the redirect-URI scheme allow-list.

use dcr_bridge::config::{ClientMatch, ClientRuleConfig};
use serde_json::{json, Value};

use crate::client_emulations::{auth_of, browser_leg, register, token, tokens_and_refresh, Auth};
use crate::support::app::{jwt_claims, location, pkce, query_param, status_json, Db, TestApp};

fn claude_rule(send_iss: Option<bool>, ttl: Option<i64>) -> ClientRuleConfig {
    ClientRuleConfig {
        matches: ClientMatch {
            redirect_host: Some("claude.ai".to_owned()),
            ..ClientMatch::default()
        },
        send_iss,
        access_token_ttl: ttl,
        upstream: None,
    }
}

/// COMPAT C9 and C22 as an operator sets them for claude.ai: no `iss` in its authorization
/// responses (code and error), a day-long access token at the code and refresh grants; a
/// loopback client on the same server keeps `iss` and the default lifetime.
#[tokio::test]
async fn client_rule_drops_iss_and_lengthens_tokens_for_claude_ai_only() {
    let app = TestApp::start_with(Db::Sqlite, |c| {
        c.client_rules = vec![claude_rule(Some(false), Some(86_400))];
    })
    .await
    .unwrap();
    let redirect = "https://claude.ai/api/mcp/auth_callback";
    let reg = register(
        &app,
        json!({
            "client_name": "Claude",
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": "client_secret_post",
        }),
        None,
    )
    .await;
    let client_id = reg["client_id"].as_str().unwrap();
    let (verifier, challenge) = pkce();
    let back = browser_leg(&app, client_id, redirect, &challenge, None).await;
    assert_eq!(query_param(&back, "iss"), None, "{back}");
    let code = query_param(&back, "code").unwrap();
    let tokens = tokens_and_refresh(
        &app,
        client_id,
        auth_of(&reg),
        None,
        &code,
        redirect,
        &verifier,
    )
    .await;
    assert_eq!(tokens["expires_in"], 86_400);
    let claims = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86_400
    );
    let (_, renewed) = token(
        &app,
        client_id,
        auth_of(&reg),
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    // The first refresh token was rotated in tokens_and_refresh; its grace replay still
    // answers with the day-long lifetime.
    assert_eq!(renewed["expires_in"], 86_400, "{renewed}");

    // The error response (the user denies) carries no iss either.
    let (_, challenge) = pkce();
    let resource = app.resource();
    let html = app
        .authorize(&TestApp::auth_params(
            client_id, redirect, &challenge, &resource,
        ))
        .await
        .text()
        .await
        .unwrap();
    let res = app.decide(&html, "deny").await;
    assert_eq!(res.status(), 302);
    let denied = location(&res);
    assert!(
        denied.starts_with(&format!("{redirect}?error=access_denied")),
        "{denied}"
    );
    assert_eq!(query_param(&denied, "iss"), None, "{denied}");

    // Everyone else: iss and the default lifetime.
    let req = app.auth_request().await;
    let back = app.login(&req.params(), "dev-alice").await;
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.state.core.settings.issuer.as_str())
    );
    let (_, _, tokens) = app.tokens_for_new_client().await;
    assert_eq!(tokens["expires_in"], 3600);
}

/// A rule that only lengthens tokens keeps `iss` (the default), and a client that registers
/// claude.ai's callback next to its own URI does not get claude.ai's rule.
#[tokio::test]
async fn client_rule_is_not_borrowed_by_an_extra_redirect_uri() {
    let app = TestApp::start_with(Db::Sqlite, |c| {
        c.client_rules = vec![claude_rule(Some(false), None)];
    })
    .await
    .unwrap();
    let reg = register(
        &app,
        json!({
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "https://evil.example/cb"],
            "token_endpoint_auth_method": "none",
        }),
        None,
    )
    .await;
    let client_id = reg["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    let back = browser_leg(&app, client_id, "https://evil.example/cb", &challenge, None).await;
    assert!(query_param(&back, "iss").is_some(), "{back}");
}

/// MCP 2026-07-28 §Refresh Tokens: `offline_access` is in no PRM and no challenge, but the AS
/// metadata may list it and a client may ask for it; refresh-token issuance follows the
/// client's grant types, never whether `offline_access` was asked for (DCR always grants
/// `refresh_token`, COMPAT C5, even to a client that asked for codes only).
#[tokio::test]
async fn offline_access_rules_of_mcp_2026_07_28() {
    let app = TestApp::start().await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let prm = app.get_json(path).await;
        assert!(
            !prm["scopes_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "offline_access"),
            "{path}: {prm}"
        );
    }
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(meta["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "offline_access"));

    // Asked for, with the prompt=consent the SDKs add: accepted, a refresh token.
    let req = app.auth_request().await;
    let mut params = req.params();
    params.push(("scope", "mcp:read offline_access"));
    params.push(("prompt", "consent"));
    let back = app.login(&params, "dev-alice").await;
    let code = query_param(&back, "code").unwrap();
    let form = crate::support::app::code_form(&code, &req.redirect, &req.verifier, &req.client_id);
    let (status, tokens) = status_json(app.token(&form).await).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    assert!(
        tokens["scope"].as_str().unwrap().contains("mcp:read"),
        "{tokens}"
    );

    // A client that asked for codes only, with and without offline_access and with no scope
    // at all: a refresh token every time.
    let redirect = "http://127.0.0.1:40000/cb";
    let reg = register_codes_only(&app, redirect).await;
    let client_id = reg["client_id"].as_str().unwrap();
    for scope in [
        None,
        Some("offline_access"),
        Some("mcp:read offline_access"),
    ] {
        let (verifier, challenge) = pkce();
        let back = browser_leg(&app, client_id, redirect, &challenge, scope).await;
        let code = query_param(&back, "code").unwrap();
        let form = crate::support::app::code_form(&code, redirect, &verifier, client_id);
        let (status, tokens) = status_json(app.token(&form).await).await;
        assert_eq!(status, 200, "{tokens}");
        assert!(tokens["refresh_token"].is_string(), "{scope:?}: {tokens}");
    }
}

async fn register_codes_only(app: &TestApp, redirect: &str) -> Value {
    let (status, reg) = status_json(
        app.post_json(
            "/register",
            &json!({
                "redirect_uris": [redirect],
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "none",
            }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(
        reg["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    reg
}

/// Redirect-URI scheme allow-list at `/register`: a scheme that is neither reverse-DNS nor a
/// known client's is refused with `invalid_redirect_uri` naming the rule, until the
/// administrator adds it (`registration.redirect_uri_schemes`), e.g. for a VS Code fork.
#[tokio::test]
async fn unknown_redirect_scheme_needs_the_administrator() {
    let body = json!({
        "client_name": "Windsurf",
        "redirect_uris": ["windsurf://codeium.windsurf/oauth/callback"],
        "token_endpoint_auth_method": "none",
    });
    let app = TestApp::start().await;
    let (status, err) = status_json(app.post_json("/register", &body).await).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"], "invalid_redirect_uri");
    let d = err["error_description"].as_str().unwrap();
    assert!(
        d.contains("windsurf scheme is not allowed") && d.contains("reverse-DNS"),
        "{d}"
    );
    // Reverse-DNS needs no configuration.
    let (status, _) = status_json(
        app.post_json(
            "/register",
            &json!({"redirect_uris": ["com.example.agent:/oauth/callback"], "token_endpoint_auth_method": "none"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);

    let app = TestApp::start_with(Db::Sqlite, |c| {
        c.registration.redirect_uri_schemes = vec!["windsurf".to_owned()];
    })
    .await
    .unwrap();
    let reg = register(&app, body, None).await;
    let client_id = reg["client_id"].as_str().unwrap();
    let redirect = "windsurf://codeium.windsurf/oauth/callback";
    let (verifier, challenge) = pkce();
    let back = browser_leg(&app, client_id, redirect, &challenge, None).await;
    let code = query_param(&back, "code").unwrap();
    tokens_and_refresh(
        &app,
        client_id,
        Auth::None,
        None,
        &code,
        redirect,
        &verifier,
    )
    .await;
}
