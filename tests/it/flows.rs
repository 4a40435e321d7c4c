//! Whole flows through the real server and the development OIDC provider: DCR → consent →
//! upstream login → code → tokens → refresh → revoke, on SQLite and Postgres.

use serde_json::Value;

use crate::support::app::{
    code_form, header, jwt_claims, location, pkce, query_param, refresh_form, status_json, Db,
    TestApp,
};

/// `url`, the client's redirect, carries the standard request's `state` and our `iss`.
fn assert_state_and_iss(app: &TestApp, url: &str) {
    assert_eq!(
        query_param(url, "state").as_deref(),
        Some("client-state-123")
    );
    assert_eq!(query_param(url, "iss").as_deref(), Some(app.base.as_str()));
}

async fn full_flow(db: Db) {
    let Some(app) = TestApp::start_with(db, |_| {}).await else {
        return;
    };
    let (client_id, redirect, tokens) = app.tokens_for_new_client().await;
    assert_eq!(tokens["token_type"], "bearer");
    assert!(tokens["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(tokens["scope"], "mcp:read mcp:write");
    let at = tokens["access_token"].as_str().unwrap();
    let claims = jwt_claims(at);
    assert_eq!(claims["aud"], app.resource());
    assert_eq!(claims["iss"], app.base);
    assert_eq!(claims["client_id"], client_id.as_str());
    let info = app.introspect(at).await;
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["aud"], app.resource());

    // Refresh rotates.
    let rt = tokens["refresh_token"].as_str().unwrap();
    let resource = app.resource();
    let mut form = refresh_form(rt, &client_id);
    form.push(("resource", &resource));
    let res = app.token(&form).await;
    assert_eq!(res.status(), 200);
    let refreshed: Value = res.json().await.unwrap();
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    assert_eq!(
        jwt_claims(refreshed["access_token"].as_str().unwrap())["aud"],
        app.resource()
    );

    // Revocation of the new access token: introspection says inactive.
    let new_at = refreshed["access_token"].as_str().unwrap();
    let res = app.revoke(new_at, &client_id).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.introspect(new_at).await["active"], false);
    let _ = redirect;
}

#[tokio::test]
async fn full_flow_sqlite() {
    full_flow(Db::Sqlite).await;
}

#[tokio::test]
async fn full_flow_postgres() {
    full_flow(Db::Postgres).await;
}

#[tokio::test]
async fn callback_redirect_carries_code_state_and_iss_with_302() {
    let app = TestApp::start().await;
    let req = app.auth_request().await;
    let back = app.login(&req.params(), "dev-alice").await;
    assert!(back.starts_with(&req.redirect));
    assert_state_and_iss(&app, &back);
    assert!(query_param(&back, "code").unwrap().starts_with("dcrb_ac_"));
}

#[tokio::test]
async fn loopback_redirect_matches_any_port() {
    let app = TestApp::start().await;
    let req = app.auth_request().await;
    let other_port = "http://127.0.0.1:51234/callback";
    let back = app
        .login(
            &TestApp::auth_params(&req.client_id, other_port, &req.challenge, &req.resource),
            "dev-bob",
        )
        .await;
    assert!(back.starts_with(other_port), "{back}");
}

#[tokio::test]
async fn code_is_single_use_and_replay_revokes_what_it_issued() {
    let app = TestApp::start().await;
    let req = app.auth_request().await;
    let code = app.code(&req, "dev-alice").await;
    let form = code_form(&code, &req.redirect, &req.verifier, &req.client_id);
    let first: Value = app.token(&form).await.json().await.unwrap();
    let res = app.token(&form).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");
    // RFC 6749 §4.1.2: tokens issued from the code are revoked.
    let rt = first["refresh_token"].as_str().unwrap();
    let res = app.refresh(rt, &req.client_id).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        app.introspect(first["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
}

#[tokio::test]
async fn wrong_verifier_redirect_or_client_is_invalid_grant() {
    let app = TestApp::start().await;
    let req = app.auth_request().await;
    let (other_client, _) = app.public_client().await;
    let code = app.code(&req, "dev-alice").await;
    let (wrong_verifier, _) = pkce();
    for (cid, redir, ver) in [
        (
            req.client_id.as_str(),
            req.redirect.as_str(),
            wrong_verifier.as_str(),
        ),
        (
            req.client_id.as_str(),
            "http://127.0.0.1:33418/other",
            req.verifier.as_str(),
        ),
        (
            other_client.as_str(),
            req.redirect.as_str(),
            req.verifier.as_str(),
        ),
    ] {
        let res = app.token(&code_form(&code, redir, ver, cid)).await;
        assert_eq!(res.status(), 400);
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], "invalid_grant", "{err}");
    }
}

#[tokio::test]
async fn refresh_grace_window_replays_the_same_pair_then_reuse_revokes() {
    let app = TestApp::start().await;
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let form = refresh_form(rt, &client_id);
    let a: Value = app.token(&form).await.json().await.unwrap();
    let b: Value = app.token(&form).await.json().await.unwrap();
    assert_eq!(
        a, b,
        "a retry inside the grace window gets the same pair (COMPAT C16)"
    );
    app.clock
        .advance(app.state.core.settings.tokens.refresh_grace_seconds + 1);
    let res = app.token(&form).await;
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "invalid_grant");
    // The family is gone: the token the first refresh issued no longer works.
    let next = a["refresh_token"].as_str().unwrap();
    let res = app.refresh(next, &client_id).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn concurrent_refresh_has_one_winner_and_identical_answers() {
    let app = TestApp::start().await;
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let api = app.api.clone();
        let url = app.url("/token");
        let (rt, cid) = (rt.clone(), client_id.clone());
        tasks.push(tokio::spawn(async move {
            let res = api
                .post(url)
                .form(&refresh_form(&rt, &cid))
                .send()
                .await
                .unwrap();
            status_json(res).await
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert!(answers
        .windows(2)
        .all(|w| w[0].1["refresh_token"] == w[1].1["refresh_token"]));
}

#[tokio::test]
async fn consent_deny_redirects_access_denied_with_iss() {
    let app = TestApp::start().await;
    let html = app.consent_page().await;
    let res = app.decide(&html, "deny").await;
    assert_eq!(res.status(), 302);
    let back = location(&res);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_state_and_iss(&app, &back);
}

#[tokio::test]
async fn consent_page_names_client_and_is_unframeable() {
    let app = TestApp::start().await;
    let req = app.auth_request().await;
    let res = app.authorize(&req.params()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    assert!(header(&res, "content-security-policy").contains("frame-ancestors 'none'"));
    assert!(header(&res, "set-cookie").contains("HttpOnly"));
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Test Client")
            && html.contains("127.0.0.1:33418")
            && html.contains("mcp:read")
    );
}

#[tokio::test]
async fn upstream_key_rotation_is_picked_up_through_jwks_refetch() {
    let app = TestApp::start().await;
    // First login caches the upstream's discovery document and JWKS.
    app.tokens_for_new_client().await;
    app.idp.as_ref().unwrap().rotate_key().await.unwrap();
    // The next ID token carries an unknown kid: the client refetches the JWKS and succeeds.
    let (_, _, tokens) = app.tokens_for_new_client().await;
    assert!(tokens["access_token"].is_string());
}

#[tokio::test]
async fn remembered_consent_skips_the_page_only_for_that_browser_and_client() {
    let app = TestApp::start().await;
    let req = app.auth_request().await;
    let params = req.params();
    let html = app.authorize(&params).await.text().await.unwrap();
    assert!(html.contains("name=\"remember\""));
    let res = app
        .decide_with(&html, "approve", &[("remember", "1")])
        .await;
    assert_eq!(res.status(), 303);
    let set_cookie: Vec<_> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        set_cookie
            .iter()
            .any(|c| c.starts_with("dcrb-consent=") && c.contains("HttpOnly")),
        "{set_cookie:?}"
    );

    // Same browser, same client: straight to the upstream, and the flow completes.
    let res = app.authorize(&params).await;
    assert_eq!(res.status(), 303);
    let upstream = location(&res);
    assert!(
        upstream.starts_with(&app.idp.as_ref().unwrap().issuer),
        "{upstream}"
    );
    let callback = app.upstream_login(&upstream, "dev-alice").await;
    let res = app.browse(&callback).await;
    assert_eq!(res.status(), 302);
    assert!(query_param(&location(&res), "code").is_some());

    // prompt=consent forces the page.
    let mut forced = params.clone();
    forced.push(("prompt", "consent"));
    assert_eq!(app.authorize(&forced).await.status(), 200);
    // Another client in the same browser: the page.
    let (other, other_redirect) = app.public_client().await;
    let other_params = TestApp::auth_params(&other, &other_redirect, &req.challenge, &req.resource);
    assert_eq!(app.authorize(&other_params).await.status(), 200);
    // Another scope for the same client: the page.
    let mut narrower = params.clone();
    narrower.push(("scope", "mcp:read"));
    assert_eq!(app.authorize(&narrower).await.status(), 200);
    // The cookie copied to another browser is useless without that browser's binding cookie.
    let res = app
        .api
        .get(app.url("/authorize"))
        .query(&params)
        .header("cookie", set_cookie[0].split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Issue 11, finding 9: "don't ask again" outlives a browser restart. A restart keeps only the
/// cookies with a lifetime; before, the binding cookie was a session cookie, so the remembered
/// approval (keyed to it) was useless after a restart.
#[tokio::test]
async fn remembered_consent_survives_a_browser_restart() {
    let app = TestApp::start().await;
    let req = app.auth_request().await;
    let params = req.params();
    let html = app.authorize(&params).await.text().await.unwrap();
    let res = app
        .decide_with(&html, "approve", &[("remember", "1")])
        .await;
    assert_eq!(res.status(), 303);
    let persistent: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|c| c.contains("Max-Age=2592000"))
        .collect();
    assert!(
        persistent.iter().any(|c| c.starts_with("dcrb-browser=")),
        "{persistent:?}"
    );
    assert!(
        persistent.iter().any(|c| c.starts_with("dcrb-consent=")),
        "{persistent:?}"
    );
    let jar: Vec<&str> = persistent
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    let res = app
        .api
        .get(app.url("/authorize"))
        .query(&params)
        .header("cookie", jar.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the consent page again after a restart");
}

#[tokio::test]
async fn prompt_login_is_forwarded_upstream() {
    let app = TestApp::start().await;
    let (client_id, redirect) = app.public_client().await;
    let (_, challenge) = pkce();
    let resource = app.resource();
    let mut params = TestApp::auth_params(&client_id, &redirect, &challenge, &resource);
    params.push(("prompt", "login"));
    let html = app.authorize(&params).await.text().await.unwrap();
    let upstream = location(&app.decide(&html, "approve").await);
    assert_eq!(query_param(&upstream, "prompt").as_deref(), Some("login"));
    let html = app
        .authorize(&TestApp::auth_params(
            &client_id, &redirect, &challenge, &resource,
        ))
        .await
        .text()
        .await
        .unwrap();
    let upstream = location(&app.decide(&html, "approve").await);
    assert_eq!(query_param(&upstream, "prompt"), None);
}

#[tokio::test]
async fn rotation_never_extends_a_sign_in_past_session_max_age() {
    let app = TestApp::start_with(Db::Sqlite, |c| {
        c.tokens.session_max_age = 2 * 3600;
        c.tokens.refresh_token_ttl = 24 * 3600;
    })
    .await
    .unwrap();
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let mut rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Refreshing every 50 minutes keeps working until the sign-in is two hours old...
    for _ in 0..2 {
        app.clock.advance(50 * 60);
        let res = app
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &client_id),
            ])
            .await;
        assert_eq!(res.status(), 200);
        rt = res.json::<Value>().await.unwrap()["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    // ...then the client must send the user through the IdP again.
    app.clock.advance(50 * 60);
    let res = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", &client_id),
        ])
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
}
