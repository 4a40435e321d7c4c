#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! GitHub without network: scopes, the authorization URL, and token endpoint answers (200
//! errors, garbage, comma-separated scopes). The API calls are tested against a GitHub-style
//! server in tests/it/upstream_github.rs.

use super::*;
use crate::clock::ManualClock;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn config(extra: serde_json::Value) -> UpstreamConfig {
    let mut v = serde_json::json!({
        "id": "gh", "kind": "github", "client_id": "Iv1.abc", "client_secret": "s",
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    serde_json::from_value(v).unwrap()
}

fn upstream(extra: serde_json::Value) -> GithubUpstream {
    GithubUpstream::new(
        &config(extra),
        "https://bridge.example/oauth/callback",
        Arc::new(ManualClock::new(1_000)),
    )
    .unwrap()
}

#[test]
fn scopes_drop_the_openid_ones_and_add_read_org_for_org_rules() {
    let oidc_default = strings(&["openid", "email", "profile", "offline_access"]);
    assert_eq!(
        github_scopes(&oidc_default, false),
        ["read:user", "user:email"]
    );
    assert_eq!(
        github_scopes(&oidc_default, true),
        ["read:user", "user:email", "read:org"]
    );
    assert_eq!(
        github_scopes(&strings(&["user:email", "admin:org"]), true),
        ["user:email", "admin:org"]
    );
}

#[test]
fn urls_default_to_github_com_and_ghes_layout() {
    let gh = upstream(serde_json::json!({}));
    assert_eq!(gh.web, "https://github.com");
    assert_eq!(gh.api, "https://api.github.com");
    assert_eq!(
        gh.token_url(),
        "https://github.com/login/oauth/access_token"
    );
    let ghes = upstream(serde_json::json!({"web_base": "https://ghe.example.com/"}));
    assert_eq!(ghes.api, "https://ghe.example.com/api/v3");
    let own = upstream(serde_json::json!({
        "web_base": "https://ghe.example.com", "api_base": "https://api.ghe.example.com/"
    }));
    assert_eq!(own.api, "https://api.ghe.example.com");
}

#[tokio::test]
async fn the_authorization_url_is_github_s_with_pkce_and_no_nonce() {
    let gh = upstream(serde_json::json!({
        "policy": {"allowed_orgs": ["acme"]},
        "extra_authorize_params": {"allow_signup": "false"},
    }));
    let req = UpstreamAuthRequest {
        state: "st".into(),
        nonce: "nn".into(),
        pkce_challenge: "a".repeat(43),
        force_login: true,
        login_hint: None,
    };
    let url = gh.authorization_url(&req).await.unwrap();
    assert_eq!(url.path(), "/login/oauth/authorize");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], "read:user user:email read:org");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], "st");
    assert_eq!(q["prompt"], "select_account");
    assert_eq!(q["allow_signup"], "false");
    assert_eq!(q["redirect_uri"], "https://bridge.example/oauth/callback");
    assert!(!q.contains_key("nonce"), "{url}");
    assert!(gh.issuer_identification().await.unwrap().is_none());
    let plain = UpstreamAuthRequest {
        pkce_challenge: "short".into(),
        ..req
    };
    assert!(matches!(
        gh.authorization_url(&plain).await,
        Err(IdpError::Config(_))
    ));
}

#[test]
fn reserved_authorize_params_are_refused() {
    let c = config(serde_json::json!({"extra_authorize_params": {"redirect_uri": "x"}}));
    let built = GithubUpstream::new(&c, "https://b/cb", Arc::new(ManualClock::new(0)));
    assert!(matches!(built, Err(IdpError::Config(_))));
}

#[test]
fn a_200_error_is_an_error_with_its_rfc_meaning() {
    let body = br#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/"}"#;
    match parse_token_response(StatusCode::OK, body, 0) {
        Err(IdpError::Rejected { error, description }) => {
            assert_eq!(error, "invalid_grant");
            assert!(description.unwrap().contains("bad_verification_code"));
        }
        other => panic!("{:?}", other.map(|t| t.to_json())),
    }
    let creds = br#"{"error":"incorrect_client_credentials"}"#;
    assert!(matches!(
        parse_token_response(StatusCode::OK, creds, 0),
        Err(IdpError::Rejected { error, .. }) if error == "invalid_client"
    ));
    let refresh = br#"{"error":"bad_refresh_token"}"#;
    assert!(matches!(
        parse_token_response(StatusCode::BAD_REQUEST, refresh, 0),
        Err(IdpError::Rejected { error, .. }) if error == "invalid_grant"
    ));
}

#[test]
fn garbage_and_form_answers_are_an_unavailable_upstream() {
    for body in [
        &b"<html>oops</html>"[..],
        b"access_token=gho_x&scope=user&token_type=bearer",
        b"{}",
        b"[1,2]",
        br#"{"access_token":""}"#,
        br#"{"access_token":"x","token_type":"mac"}"#,
    ] {
        assert!(
            matches!(
                parse_token_response(StatusCode::OK, body, 0),
                Err(IdpError::Unavailable(_))
            ),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(matches!(
        parse_token_response(StatusCode::BAD_GATEWAY, b"{}", 0),
        Err(IdpError::Unavailable(_))
    ));
}

#[test]
fn oauth_app_and_github_app_tokens() {
    let app = br#"{"access_token":"gho_a","token_type":"bearer","scope":"read:org,user:email"}"#;
    let t = parse_token_response(StatusCode::OK, app, 100).unwrap();
    assert_eq!(t.scope.as_deref(), Some("read:org user:email"));
    assert!(t.refresh_token.is_none());
    assert!(t.expires_at.is_none(), "OAuth App tokens do not expire");
    let gha = br#"{"access_token":"ghu_a","token_type":"bearer","scope":"","expires_in":28800,"refresh_token":"ghr_r","refresh_token_expires_in":15897600}"#;
    let t = parse_token_response(StatusCode::OK, gha, 100).unwrap();
    assert_eq!(t.expires_at, Some(28_900));
    assert_eq!(t.refresh_token.unwrap().expose_secret(), "ghr_r");
    assert!(t.id_token.is_none());
}

#[test]
fn github_authorize_errors_in_our_words() {
    let gh = upstream(serde_json::json!({}));
    let r = gh.classify_error("redirect_uri_mismatch", Some("The redirect_uri MUST match"));
    assert!(r.message.contains("callback URL"), "{r:?}");
    assert!(!r.transient);
    let r = gh.classify_error("access_denied", None);
    assert!(r.message.contains("cancelled"), "{r:?}");
}

#[test]
fn github_refresh_failures_that_end_the_grant() {
    use crate::idp::RefreshFailure;
    let gh = upstream(serde_json::json!({}));
    // The API's 401 on the stored token (app revoked), a dead refresh token, an account hidden.
    for code in ["invalid_token", "invalid_grant", "access_denied"] {
        assert_eq!(
            gh.classify_refresh_error(code, None),
            RefreshFailure::Revoked,
            "{code}"
        );
    }
    // Our own registration's trouble keeps every grant.
    for code in [
        "invalid_client",
        "invalid_request",
        "unsupported_grant_type",
    ] {
        assert_eq!(
            gh.classify_refresh_error(code, None),
            RefreshFailure::Transient,
            "{code}"
        );
    }
    assert!(gh.rechecks_without_refresh());
}
