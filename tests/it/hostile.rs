//! Malformed, replayed, oversized and hostile input on every endpoint: the RFC error shape, the
//! right status, never a redirect to an unvalidated URI, never a 500.

use serde_json::json;

use crate::support::app::{
    header, hidden, location, meta_refresh, query_param, return_link, status_json, TestApp, FORM,
};

/// `params` with `key` set to `value` instead.
fn replaced<'a>(
    params: &[(&'a str, &'a str)],
    key: &str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    params
        .iter()
        .map(|(k, v)| if *k == key { (*k, value) } else { (*k, *v) })
        .collect()
}

#[tokio::test]
async fn authorize_never_redirects_to_an_untrusted_redirect_uri() {
    let app = TestApp::start().await;
    let req = app.auth_request().await;
    let client_id = req.client_id.as_str();
    for (cid, redirect) in [
        ("no-such-client", "http://127.0.0.1:33418/callback"),
        (client_id, "https://evil.example/callback"),
        (client_id, "http://127.0.0.1:33418/callback/../evil"),
        (client_id, "javascript:alert(1)"),
    ] {
        let res = app
            .authorize(&TestApp::auth_params(
                cid,
                redirect,
                &req.challenge,
                &req.resource,
            ))
            .await;
        assert_eq!(res.status(), 400, "{cid} {redirect}");
        assert!(res.headers().get("location").is_none());
        assert!(header(&res, "content-type").starts_with("text/html"));
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

/// Issue 11 finding 1 (RFC 9700 §4.11.2): for a dynamically registered client, an error found
/// before the user acted is shown on our page, whose link back (not followed by itself) carries
/// the RFC 6749 §4.1.2.1 error response with state and iss. On main these were 302s.
#[tokio::test]
async fn authorize_errors_before_consent_inform_the_user_instead_of_redirecting() {
    let app = TestApp::start().await;
    let req = app.auth_request().await;
    let base = req.params();
    let long_state = "s".repeat(2001);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            base.iter()
                .filter(|(k, _)| *k != "response_type")
                .cloned()
                .collect(),
            "invalid_request",
        ),
        (
            [
                base.clone(),
                vec![("request_uri", "https://evil.example/r")],
            ]
            .concat(),
            "invalid_request",
        ),
        (
            base.iter()
                .filter(|(k, _)| *k != "code_challenge")
                .cloned()
                .collect(),
            "invalid_request",
        ),
        (
            replaced(&base, "code_challenge_method", "plain"),
            "invalid_request",
        ),
        (
            replaced(&base, "response_type", "token"),
            "unsupported_response_type",
        ),
        (
            replaced(&base, "resource", "https://other.example/mcp"),
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
        (replaced(&base, "state", &long_state), "invalid_request"),
    ];
    for (params, expected) in cases {
        let res = app.authorize(&params).await;
        assert_eq!(res.status(), 400, "{expected}");
        assert!(res.headers().get("location").is_none(), "{expected}");
        assert!(header(&res, "content-type").starts_with("text/html"));
        assert!(header(&res, "content-security-policy").contains("default-src 'none'"));
        let html = res.text().await.unwrap();
        assert!(
            meta_refresh(&html).is_none(),
            "no automatic redirect: {html}"
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("request id"), "{html}");
        assert!(
            html.contains("127.0.0.1:33418"),
            "names where the link leads"
        );
        let to = return_link(&html).unwrap_or_else(|| panic!("no link back: {html}"));
        assert!(to.starts_with(&req.redirect), "{to}");
        assert_eq!(query_param(&to, "error").as_deref(), Some(expected), "{to}");
        assert_eq!(query_param(&to, "iss").as_deref(), Some(app.base.as_str()));
        // An overlong state is not echoed (it would make the URL huge).
        let long = params.iter().any(|(k, v)| *k == "state" && v.len() > 2000);
        let state = query_param(&to, "state");
        assert_eq!(
            state.as_deref(),
            (!long).then_some("client-state-123"),
            "{to}"
        );
    }
}

#[tokio::test]
async fn consent_rejects_forgery_other_browsers_and_replay() {
    let app = TestApp::start().await;
    let html = app.consent_page().await;
    let consent_id = hidden(&html, "consent_id");
    let csrf = hidden(&html, "csrf_token");
    let approve = |csrf| {
        [
            ("consent_id", consent_id.as_str()),
            ("csrf_token", csrf),
            ("decision", "approve"),
        ]
    };
    // Another browser (no binding cookie) cannot approve.
    let res = app.post_consent(&app.api, None, &approve(&csrf)).await;
    assert_eq!(res.status(), 403);
    // Wrong CSRF token.
    let res = app
        .post_consent(&app.browser, None, &approve("forged"))
        .await;
    assert_eq!(res.status(), 403);
    // Cross-site Origin.
    let res = app
        .post_consent(&app.browser, Some("https://evil.example"), &approve(&csrf))
        .await;
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
        .browse(&app.url("/oauth/callback?code=x&state=unknown"))
        .await;
    assert_eq!(res.status(), 400);
    let res = app.browse(&app.url("/oauth/callback?code=x")).await;
    assert_eq!(res.status(), 400);

    let html = app.consent_page().await;
    let upstream = location(&app.decide(&html, "approve").await);
    let callback = app.upstream_login(&upstream, "dev-alice").await;
    // A different browser presenting the callback (login CSRF) is refused...
    let res = app.api.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 403);
    // ...and the state is spent, so even the right browser cannot use it afterwards.
    let res = app.browse(&callback).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn upstream_denial_reaches_the_client_as_access_denied() {
    let app = TestApp::start().await;
    let html = app.consent_page().await;
    let upstream = location(&app.decide(&html, "approve").await);
    let state = query_param(&upstream, "state").unwrap();
    let url = format!(
        "{}/oauth/callback?error=access_denied&state={state}",
        app.base
    );
    let res = app.browse(&url).await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("access_denied") && page.contains("33418"),
        "{page}"
    );
    // The user acted (consented, signed in): the page returns to the client by itself.
    let back = meta_refresh(&page).unwrap_or_else(|| panic!("no return: {page}"));
    assert!(
        back.starts_with("http://127.0.0.1:33418/callback?"),
        "{back}"
    );
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.base.as_str())
    );
}

/// Issue 11 finding 1, the attack as reported: a registered attacker URI and a link to our
/// `/authorize` with a bad or missing `response_type` or `prompt=none` bounced straight to it.
#[tokio::test]
async fn authorize_is_no_open_redirector_for_registered_clients() {
    let app = TestApp::start().await;
    let reg = app
        .register(json!({
            "client_name": "Totally legit",
            "redirect_uris": ["https://evil.example/phish"],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    let client_id = reg["client_id"].as_str().unwrap();
    for extra in [
        vec![("response_type", "x")],
        vec![],
        vec![("response_type", "code"), ("prompt", "none")],
    ] {
        let params = [vec![("client_id", client_id)], extra].concat();
        let res = app.authorize(&params).await;
        assert_eq!(res.status(), 400, "{params:?}");
        assert!(res.headers().get("location").is_none(), "{params:?}");
        let html = res.text().await.unwrap();
        assert!(meta_refresh(&html).is_none(), "{html}");
        assert!(
            html.contains("evil.example"),
            "the page says where its link leads"
        );
    }
}

/// Issue 11, smaller point: the upstream's raw error text used to reach the client inside
/// `error_description` (here quotes, backslash, non-ASCII and a line break in the error code).
#[tokio::test]
async fn upstream_error_text_never_reaches_the_client_raw() {
    let app = TestApp::start().await;
    let html = app.consent_page().await;
    let upstream = location(&app.decide(&html, "approve").await);
    let state = query_param(&upstream, "state").unwrap();
    let url = url::Url::parse_with_params(
        &app.url("/oauth/callback"),
        &[
            ("error", "weird\"code\\\u{e9}\r\nX-Injected: 1"),
            (
                "error_description",
                "\"quoted\" \\ caf\u{e9}\u{0}\r\nSet-Cookie: a=b",
            ),
            ("state", &state),
            ("iss", &app.idp.as_ref().unwrap().issuer),
        ],
    )
    .unwrap();
    let res = app.browse(url.as_str()).await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    let back = meta_refresh(&page).unwrap_or_else(|| panic!("no return: {page}"));
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    let d = query_param(&back, "error_description").unwrap();
    assert!(
        d.starts_with("the identity provider refused the sign-in"),
        "{d}"
    );
    assert!(
        d.chars()
            .all(|c| matches!(c, ' '..='!' | '#'..='[' | ']'..='~')),
        "outside RFC 6749's error_description set: {d:?}"
    );
    for raw in ["weird", "quoted", "Injected", "Set-Cookie"] {
        assert!(!d.contains(raw), "upstream text passed on: {d:?}");
        assert!(!page.contains(raw), "upstream text shown: {page}");
    }
}

/// Issue 11, smaller point: our own descriptions cited RFC sections with `§`, outside the
/// RFC 6749 §5.2 character set; every JSON error now stays inside it.
#[tokio::test]
async fn json_error_descriptions_stay_in_the_rfc_6749_character_set() {
    let app = TestApp::start().await;
    let (status, e) = status_json(app.post_body("/register", "text/plain", "{}").await).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    let d = e["error_description"].as_str().unwrap();
    assert!(
        d.chars()
            .all(|c| matches!(c, ' '..='!' | '#'..='[' | ']'..='~')),
        "{d:?}"
    );
    assert!(d.contains("RFC 7591 section 3.1"), "{d}");
}

#[tokio::test]
async fn token_endpoint_rejects_bad_input_in_rfc_shape() {
    let app = TestApp::start().await;
    let (client_id, _) = app.public_client().await;
    let post = |body: &'static str, ctype: &'static str| {
        let app = &app;
        async move {
            let res = app.post_body("/token", ctype, body).await;
            assert_eq!(res.headers()["cache-control"], "no-store");
            status_json(res).await
        }
    };
    let (s, e) = post(
        "{\"grant_type\":\"authorization_code\"}",
        "application/json",
    )
    .await;
    assert_eq!((s, e["error"].as_str().unwrap()), (400, "invalid_request"));
    let (s, e) = post("grant_type=authorization_code&code=%ff%fe", FORM).await;
    assert_eq!((s, e["error"].as_str().unwrap()), (400, "invalid_request"));
    let (s, e) = post(
        "grant_type=password&username=a&password=b&client_id=unknown",
        FORM,
    )
    .await;
    assert_eq!(
        (s, e["error"].as_str().unwrap()),
        (401, "invalid_client"),
        "unknown clients re-register (COMPAT C12)"
    );
    let body = format!("grant_type=password&client_id={client_id}");
    let (s, e) = status_json(app.post_body("/token", FORM, body).await).await;
    assert_eq!(s, 400);
    assert_eq!(e["error"], "unsupported_grant_type");
    let body =
        format!("grant_type=authorization_code&grant_type=refresh_token&client_id={client_id}");
    let (_, e) = status_json(app.post_body("/token", FORM, body).await).await;
    assert_eq!(e["error"], "invalid_request");
    let body = format!("grant_type=authorization_code&code=dcrb_ac_forged&code_verifier={}&redirect_uri=http://127.0.0.1:1/cb&client_id={client_id}", "a".repeat(43));
    let (_, e) = status_json(app.post_body("/token", FORM, body).await).await;
    assert_eq!(e["error"], "invalid_grant");
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
    let (s, e) = status_json(app.post_body("/token", FORM, huge).await).await;
    assert_eq!(s, 413);
    assert_eq!(e["error"], "invalid_request");
    // Wrong method: JSON too.
    let (s, e) = status_json(app.get("/token").await).await;
    assert_eq!(s, 405);
    assert_eq!(e["error"], "invalid_request");
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
        let (status, err) = status_json(app.post_json("/register", &body).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["error"], expected, "{body}: {err}");
    }
    let (s, e) = status_json(
        app.post_body("/register", "application/json", "{not json")
            .await,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(e["error"], "invalid_client_metadata");
    let res = app.post_body("/register", "text/plain", "{}").await;
    assert_eq!(res.status(), 400);
    let res = app
        .post_body("/register", "application/json", vec![b' '; 100_000])
        .await;
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn revoke_and_introspect_require_authentication() {
    let app = TestApp::start().await;
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let at = tokens["access_token"].as_str().unwrap();
    // Introspection without credentials, or as a public client: refused.
    let res = app.post_form("/introspect", &[("token", at)]).await;
    assert_eq!(res.status(), 401);
    let res = app
        .post_form("/introspect", &[("token", at), ("client_id", &client_id)])
        .await;
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
    let res = app.revoke(at, &other).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.introspect(at).await["active"], true);
    let res = app.revoke("garbage", &client_id).await;
    assert_eq!(res.status(), 200);
}
