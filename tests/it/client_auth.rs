//! Token endpoint client authentication as real clients do it (COMPAT C6, C8): confidential
//! clients with client_secret_post (Claude web) and client_secret_basic (with the body
//! client_id the Python SDK adds), refusal of the wrong method, and a case-insensitive Bearer.

use serde_json::{json, Value};

use crate::support::app::{pkce, query_param, TestApp};

/// Registers a confidential client and runs the browser leg; returns (id, secret, redirect,
/// code, verifier).
async fn confidential_code(
    app: &TestApp,
    method: &str,
) -> (String, String, String, String, String) {
    let redirect = "https://claude.ai/api/mcp/auth_callback".to_owned();
    let reg = app
        .register(json!({
            "client_name": "Claude",
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": method,
        }))
        .await;
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let secret = reg["client_secret"].as_str().unwrap().to_owned();
    let (verifier, challenge) = pkce();
    let resource = app.resource();
    let back = app
        .login(
            &TestApp::auth_params(&id, &redirect, &challenge, &resource),
            "dev-alice",
        )
        .await;
    let code = query_param(&back, "code").unwrap();
    (id, secret, redirect, code, verifier)
}

#[tokio::test]
async fn claude_web_style_client_secret_post() {
    let app = TestApp::start().await;
    let (id, secret, redirect, code, verifier) =
        confidential_code(&app, "client_secret_post").await;
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier.as_str()),
        ("client_id", id.as_str()),
    ];
    // Wrong secret, then Basic for a client registered for post: both invalid_client, and
    // neither burns the code.
    let mut wrong = base.to_vec();
    wrong.push(("client_secret", "dcrb_cs_wrong"));
    let res = app.token(&wrong).await;
    assert_eq!(res.status(), 401);
    let res = app
        .api
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&base)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let mut good = base.to_vec();
    good.push(("client_secret", secret.as_str()));
    let res = app.token(&good).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let tokens: Value = res.json().await.unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    let res = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(res.status(), 200);
    // A public-style refresh (no secret) is refused for a confidential client.
    let next: Value = res.json().await.unwrap();
    let res = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", next["refresh_token"].as_str().unwrap()),
            ("client_id", &id),
        ])
        .await;
    assert_eq!(res.status(), 401);
}

/// A code exchange with HTTP Basic and the code-grant fields plus `extra`.
async fn basic_exchange(app: &TestApp, method_extra: (&str, &str)) -> reqwest::Response {
    let (id, secret, redirect, code, verifier) =
        confidential_code(app, "client_secret_basic").await;
    let extra = match method_extra {
        ("client_secret", _) => ("client_secret", secret.as_str()),
        ("client_id", _) => ("client_id", id.as_str()),
        other => other,
    };
    let resource = app.resource();
    app.api
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier.as_str()),
            ("resource", resource.as_str()),
            extra,
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn client_secret_basic_with_body_client_id_like_the_python_sdk() {
    let app = TestApp::start().await;
    let res = basic_exchange(&app, ("client_id", "")).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "bearer");
    // COMPAT C8: the resource accepts the scheme in any case.
    let at = tokens["access_token"].as_str().unwrap();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = app
            .api
            .post(app.resource())
            .header("authorization", format!("{scheme} {at}"))
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
}

#[tokio::test]
async fn basic_and_body_secret_together_is_invalid_request() {
    let app = TestApp::start().await;
    let res = basic_exchange(&app, ("client_secret", "")).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
}
