//! Malformed, replayed, oversized and hostile input on every endpoint: the RFC error shape, the
//! right status, never a redirect to an unvalidated URI, never a 500.

use serde_json::{json, Value};

use crate::support::app::{location, pkce, query_param, TestApp};

#[tokio::test]
async fn authorize_never_redirects_to_an_untrusted_redirect_uri() {
    let app = TestApp::start().await;
    let (client_id, _) = app.public_client().await;
    let (_, challenge) = pkce();
    let resource = app.resource();
    for (cid, redirect) in [
        ("no-such-client", "http://127.0.0.1:33418/callback"),
        (client_id.as_str(), "https://evil.example/callback"),
        (
            client_id.as_str(),
            "http://127.0.0.1:33418/callback/../evil",
        ),
        (client_id.as_str(), "javascript:alert(1)"),
    ] {
        let res = app
            .authorize(&TestApp::auth_params(cid, redirect, &challenge, &resource))
            .await;
        assert_eq!(res.status(), 400, "{cid} {redirect}");
        assert!(res.headers().get("location").is_none());
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = res.text().await.unwrap();
        assert!(
            html.contains("request id"),
            "error pages carry the request id"
        );
        assert!(!html.contains("<script"), "nothing reflected unescaped");
    }
    let res = app
        .authorize(&[("client_id", "<script>alert(1)</script>")])
        .await;
    assert_eq!(res.status(), 400);
    assert!(!res.text().await.unwrap().contains("<script>alert(1)"));
}

#[tokio::test]
async fn authorize_errors_after_validation_redirect_with_state_and_iss() {
    let app = TestApp::start().await;
    let (client_id, redirect) = app.public_client().await;
    let (_, challenge) = pkce();
    let resource = app.resource();
    let base = TestApp::auth_params(&client_id, &redirect, &challenge, &resource);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            base.iter()
                .filter(|(k, _)| *k != "code_challenge")
                .cloned()
                .collect(),
            "invalid_request",
        ),
        (
            base.iter()
                .map(|(k, v)| {
                    if *k == "code_challenge_method" {
                        (*k, "plain")
                    } else {
                        (*k, *v)
                    }
                })
                .collect(),
            "invalid_request",
        ),
        (
            base.iter()
                .map(|(k, v)| {
                    if *k == "response_type" {
                        (*k, "token")
                    } else {
                        (*k, *v)
                    }
                })
                .collect(),
            "unsupported_response_type",
        ),
        (
            base.iter()
                .map(|(k, v)| {
                    if *k == "resource" {
                        (*k, "https://other.example/mcp")
                    } else {
                        (*k, *v)
                    }
                })
                .collect(),
            "invalid_target",
        ),
        (
            [base.clone(), vec![("scope", "admin:everything")]].concat(),
            "invalid_scope",
        ),
        (
            [base.clone(), vec![("state", "second")]].concat(),
            "invalid_request",
        ),
        (
            [base.clone(), vec![("prompt", "none")]].concat(),
            "interaction_required",
        ),
    ];
    for (params, expected) in cases {
        let res = app.authorize(&params).await;
        assert_eq!(res.status(), 302, "{expected}");
        let to = location(&res);
        assert!(to.starts_with(&redirect), "{to}");
        assert_eq!(query_param(&to, "error").as_deref(), Some(expected), "{to}");
        assert_eq!(query_param(&to, "iss").as_deref(), Some(app.base.as_str()));
    }
}

#[tokio::test]
async fn consent_rejects_forgery_other_browsers_and_replay() {
    let app = TestApp::start().await;
    let (client_id, redirect) = app.public_client().await;
    let (_, challenge) = pkce();
    let resource = app.resource();
    let html = app
        .authorize(&TestApp::auth_params(
            &client_id, &redirect, &challenge, &resource,
        ))
        .await
        .text()
        .await
        .unwrap();
    let consent_id = crate::support::app::hidden(&html, "consent_id");
    let csrf = crate::support::app::hidden(&html, "csrf_token");
    // Another browser (no binding cookie) cannot approve.
    let res = app
        .api
        .post(app.url("/consent"))
        .form(&[
            ("consent_id", consent_id.as_str()),
            ("csrf_token", csrf.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Wrong CSRF token.
    let res = app
        .browser
        .post(app.url("/consent"))
        .form(&[
            ("consent_id", consent_id.as_str()),
            ("csrf_token", "forged"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Cross-site Origin.
    let res = app
        .browser
        .post(app.url("/consent"))
        .header("origin", "https://evil.example")
        .form(&[
            ("consent_id", consent_id.as_str()),
            ("csrf_token", csrf.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Malformed.
    let res = app
        .browser
        .post(app.url("/consent"))
        .body("%%%")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // The real one works once, then never again.
    assert_eq!(app.decide(&html, "approve").await.status(), 303);
    assert_eq!(app.decide(&html, "approve").await.status(), 400);
}

#[tokio::test]
async fn callback_rejects_unknown_state_other_browser_and_replay() {
    let app = TestApp::start().await;
    let res = app
        .browser
        .get(app.url("/oauth/callback?code=x&state=unknown"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .browser
        .get(app.url("/oauth/callback?code=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    let (client_id, redirect) = app.public_client().await;
    let (_, challenge) = pkce();
    let resource = app.resource();
    let html = app
        .authorize(&TestApp::auth_params(
            &client_id, &redirect, &challenge, &resource,
        ))
        .await
        .text()
        .await
        .unwrap();
    let upstream = location(&app.decide(&html, "approve").await);
    let callback = app.upstream_login(&upstream, "dev-alice").await;
    // A different browser presenting the callback (login CSRF) is refused...
    let res = app.api.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 403);
    // ...and the state is spent, so even the right browser cannot use it afterwards.
    let res = app.browser.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn upstream_denial_reaches_the_client_as_access_denied() {
    let app = TestApp::start().await;
    let (client_id, redirect) = app.public_client().await;
    let (_, challenge) = pkce();
    let resource = app.resource();
    let html = app
        .authorize(&TestApp::auth_params(
            &client_id, &redirect, &challenge, &resource,
        ))
        .await
        .text()
        .await
        .unwrap();
    let upstream = location(&app.decide(&html, "approve").await);
    let state = query_param(&upstream, "state").unwrap();
    let url = format!(
        "{}/oauth/callback?error=access_denied&state={state}",
        app.base
    );
    let res = app.browser.get(url).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("access_denied") && page.contains("33418"),
        "{page}"
    );
}

#[tokio::test]
async fn token_endpoint_rejects_bad_input_in_rfc_shape() {
    let app = TestApp::start().await;
    let (client_id, _) = app.public_client().await;
    let post = |body: &'static str, ctype: &'static str| {
        let app = &app;
        async move {
            let res = app
                .api
                .post(app.url("/token"))
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            assert_eq!(res.headers()["cache-control"], "no-store");
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (s, e) = post(
        "{\"grant_type\":\"authorization_code\"}",
        "application/json",
    )
    .await;
    assert_eq!((s, e["error"].as_str().unwrap()), (400, "invalid_request"));
    let (s, e) = post(
        "grant_type=authorization_code&code=%ff%fe",
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!((s, e["error"].as_str().unwrap()), (400, "invalid_request"));
    let (s, e) = post(
        "grant_type=password&username=a&password=b&client_id=unknown",
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str().unwrap()),
        (401, "invalid_client"),
        "unknown clients re-register (COMPAT C12)"
    );
    let body = format!("grant_type=password&client_id={client_id}");
    let res = app
        .api
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let body =
        format!("grant_type=authorization_code&grant_type=refresh_token&client_id={client_id}");
    let res = app
        .api
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let body = format!("grant_type=authorization_code&code=dcrb_ac_forged&code_verifier={}&redirect_uri=http://127.0.0.1:1/cb&client_id={client_id}", "a".repeat(43));
    let res = app
        .api
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    // Basic with a bad secret: 401 with a Basic challenge.
    let res = app
        .api
        .post(app.url("/token"))
        .basic_auth(&client_id, Some("wrong"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Oversized.
    let huge = format!(
        "grant_type=refresh_token&refresh_token={}",
        "a".repeat(200_000)
    );
    let res = app
        .api
        .post(app.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // Wrong method: JSON too.
    let res = app.api.get(app.url("/token")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn registration_rejects_bad_metadata() {
    let app = TestApp::start().await;
    let cases = [
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://ok.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (json!({}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": "https://ok.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://ok.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://ok.example/cb"], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
    ];
    for (body, expected) in cases {
        let res = app
            .api
            .post(app.url("/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], expected, "{body}: {err}");
    }
    let res = app
        .api
        .post(app.url("/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    let res = app
        .api
        .post(app.url("/register"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .api
        .post(app.url("/register"))
        .header("content-type", "application/json")
        .body(vec![b' '; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn revoke_and_introspect_require_authentication() {
    let app = TestApp::start().await;
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let at = tokens["access_token"].as_str().unwrap();
    // Introspection without credentials, or as a public client: refused.
    let res = app
        .api
        .post(app.url("/introspect"))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .api
        .post(app.url("/introspect"))
        .form(&[("token", at), ("client_id", client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .api
        .post(app.url("/introspect"))
        .basic_auth("tools", Some("wrong"))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Revoking someone else's token is a silent no-op (RFC 7009 §2.2).
    let (other, _) = app.public_client().await;
    let res = app
        .api
        .post(app.url("/revoke"))
        .form(&[("token", at), ("client_id", other.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.introspect(at).await["active"], true);
    let res = app
        .api
        .post(app.url("/revoke"))
        .form(&[("token", "garbage"), ("client_id", client_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
