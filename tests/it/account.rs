//! `/account` ("connected apps", issue 14 item 5) through HTTP, behind the certified
//! `oidc-provider` upstream, on SQLite and Postgres: users sign in through the real upstream
//! login at the one registered callback, see their own grants only, and remove them.

use reqwest::header::LOCATION;

use crate::account_browser::{
    account_callback, account_page, browser, callback_url, connect, env, grants_of, post_form,
    refresh, remove, set_cookie, sign_in, Env, Walked,
};
use crate::support::app::{hidden, Db};

const ALICE: &str = "00u1alice";
const BOB: &str = "00u2bob";
/// A client name that would be markup if the page did not escape it.
const HOSTILE_NAME: &str = "<script>alert(1)</script> Editor";

#[tokio::test]
async fn connected_apps_on_sqlite() {
    if let Some(env) = env(Db::Sqlite, |_| {}).await {
        connected_apps(&env).await;
    }
}

#[tokio::test]
async fn connected_apps_on_postgres() {
    if let Some(env) = env(Db::Postgres, |_| {}).await {
        connected_apps(&env).await;
    }
}

/// Alice connects two clients and Bob one, through real flows; each sees only their own at
/// /account; Bob cannot remove Alice's by id; Alice removes one, whose refresh token fails at
/// once while the other's works.
async fn connected_apps(env: &Env) {
    let (alice, bob) = (browser(), browser());
    let (editor, editor_tokens) = connect(env, &alice, ALICE, HOSTILE_NAME).await;
    let (notes, notes_tokens) = connect(env, &alice, ALICE, "Alice Notes").await;
    let (_, _) = connect(env, &bob, BOB, "Bob Tool").await;

    // A token issuance counts as use.
    assert!(grants_of(env, &editor).await[0].revoked_at.is_none());

    let page = sign_in(env, &alice, ALICE).await;
    assert!(page.contains("alice@example.com"), "{page}");
    assert!(page.contains("Alice Notes"), "{page}");
    assert!(
        !page.contains("<script>alert"),
        "client names are escaped: {page}"
    );
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; Editor"),
        "{page}"
    );
    assert!(!page.contains("Bob Tool"), "{page}");
    assert_eq!(page.matches(">Remove access</button>").count(), 2, "{page}");
    assert!(page.contains("data-kind=\"dcr\""), "{page}");
    assert!(page.contains("127.0.0.1:33418"), "redirect host: {page}");
    let resource = env.app.resource().replace('/', "&#x2f;");
    assert!(page.contains(&resource), "{page}");
    assert!(page.contains("mcp:read"), "{page}");
    assert!(!page.contains("not yet"), "last used is tracked: {page}");

    let bob_page = sign_in(env, &bob, BOB).await;
    assert!(bob_page.contains("Bob Tool"), "{bob_page}");
    assert!(!bob_page.contains("Alice Notes"), "{bob_page}");

    // Bob cannot remove Alice's grant by its id: 404, and nothing changes.
    let editor_grant = grants_of(env, &editor).await.remove(0);
    let bob_csrf = hidden(&bob_page, "csrf_token");
    let res = remove(env, &bob, &editor_grant.id, &bob_csrf).await;
    assert_eq!(res.status(), 404);
    assert!(grants_of(env, &editor).await[0].revoked_at.is_none());

    // Alice removes the editor.
    let csrf = hidden(&page, "csrf_token");
    let res = remove(env, &alice, &editor_grant.id, &csrf).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/account");
    let (status, body) = refresh(env, &editor_tokens, &editor).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = refresh(env, &notes_tokens, &notes).await;
    assert_eq!(status, 200, "{body}");
    let at = editor_tokens["access_token"].as_str().unwrap();
    assert_eq!(env.app.introspect(at).await["active"], false);

    let page = account_page(env, &alice).await;
    assert!(!page.contains("alert(1)"), "{page}");
    assert!(page.contains("Alice Notes"), "{page}");

    // Audited as the user's own action, on the grant.
    let events = env
        .app
        .state
        .core
        .store
        .list_audit_events(50)
        .await
        .unwrap();
    let removed = events
        .iter()
        .find(|e| e.kind == "account_grant_revoked")
        .expect("audit event");
    assert_eq!(removed.grant_id.as_deref(), Some(editor_grant.id.as_str()));
    assert_eq!(
        removed.actor.as_deref(),
        Some(editor_grant.user_id.as_str())
    );
    assert_eq!(removed.client_id.as_deref(), Some(editor.as_str()));
    assert!(events.iter().any(|e| e.kind == "account_login"));

    // Removing it again: not found.
    let res = remove(env, &alice, &editor_grant.id, &csrf).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn forms_need_the_sessions_csrf_token_and_our_origin() {
    let Some(env) = env(Db::Sqlite, |_| {}).await else {
        return;
    };
    let alice = browser();
    let (client, tokens) = connect(&env, &alice, ALICE, "Alice Notes").await;
    let page = sign_in(&env, &alice, ALICE).await;
    let grant = grants_of(&env, &client).await.remove(0);
    let csrf = hidden(&page, "csrf_token");
    let other = hidden(&sign_in(&env, &browser(), ALICE).await, "csrf_token");
    assert_ne!(csrf, other, "the token is per session");
    for form in [
        vec![("grant_id", grant.id.as_str())],
        vec![("grant_id", grant.id.as_str()), ("csrf_token", "")],
        vec![("grant_id", grant.id.as_str()), ("csrf_token", "wrong")],
        vec![
            ("grant_id", grant.id.as_str()),
            ("csrf_token", other.as_str()),
        ],
    ] {
        let res = post_form(&env, &alice, "/account/remove", &form).await;
        assert_eq!(res.status(), 403, "{form:?}");
    }
    // The right token from another site.
    let res = alice
        .post(env.app.url("/account/remove"))
        .header("origin", "https://evil.example")
        .form(&[("grant_id", grant.id.as_str()), ("csrf_token", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Malformed, repeated and oversized input.
    for body in [
        format!("grant_id=%FF&csrf_token={csrf}"),
        format!("grant_id=a&grant_id=b&csrf_token={csrf}"),
    ] {
        let res = alice
            .post(env.app.url("/account/remove"))
            .header("origin", &env.app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
    }
    let long = "g".repeat(10_000);
    let res = remove(&env, &alice, &long, &csrf).await;
    assert_eq!(res.status(), 404);
    let huge = "g".repeat(2_000_000);
    let res = post_form(&env, &alice, "/account/remove", &[("grant_id", &huge)]).await;
    assert_eq!(res.status(), 413);
    // Without a session at all.
    let res = remove(&env, &browser(), &grant.id, &csrf).await;
    assert_eq!(res.status(), 401);

    assert!(grants_of(&env, &client).await[0].revoked_at.is_none());
    assert_eq!(refresh(&env, &tokens, &client).await.0, 200);

    // Sign-out needs the token too, then ends the session.
    let res = post_form(&env, &alice, "/account/logout", &[("csrf_token", "x")]).await;
    assert_eq!(res.status(), 403);
    let res = post_form(&env, &alice, "/account/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(res.status(), 200);
    let res = alice.get(env.app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/account/login");
}

#[tokio::test]
async fn a_replayed_state_at_the_callback_signs_nobody_in() {
    let Some(env) = env(Db::Sqlite, |_| {}).await else {
        return;
    };
    let alice = browser();
    let url = callback_url(&env, &alice, ALICE).await;
    let first = alice.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 303);
    assert!(set_cookie(&first, "dcrb-account").is_some());
    for b in [&alice, &browser()] {
        let again = b.get(&url).send().await.unwrap();
        assert_eq!(again.status(), 400);
        assert!(set_cookie(&again, "dcrb-account").is_none());
        assert!(again
            .text()
            .await
            .unwrap()
            .contains("expired or was already used"));
    }
}

#[tokio::test]
async fn a_sign_in_started_in_another_browser_is_refused() {
    let Some(env) = env(Db::Sqlite, |_| {}).await else {
        return;
    };
    let (victim, attacker) = (browser(), browser());
    let url = callback_url(&env, &attacker, BOB).await;
    // Login CSRF: the attacker's finished sign-in delivered to the victim's browser.
    let res = victim.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(set_cookie(&res, "dcrb-account").is_none());
}

#[tokio::test]
async fn a_tampered_or_idle_session_cookie_means_signing_in_again() {
    let Some(env) = env(Db::Postgres, |_| {}).await else {
        return;
    };
    let alice = browser();
    let res = account_callback(&env, &alice, ALICE).await;
    let value = set_cookie(&res, "dcrb-account").expect("session cookie");
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("dcrb-account="))
        .unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |v: String| {
        plain
            .get(env.app.url("/account"))
            .header("cookie", format!("dcrb-account={v}"))
            .send()
    };
    assert_eq!(get(value.clone()).await.unwrap().status(), 200);
    let mut tampered = value.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    let res = get(String::from_utf8(tampered).unwrap()).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/account/login");
    assert_eq!(set_cookie(&res, "dcrb-account").as_deref(), Some(""));

    // Idle for longer than the idle timeout: gone, even with the right value.
    env.app.clock.advance(dcr_bridge::account::IDLE_SECONDS + 1);
    let res = get(value).await.unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn a_user_the_policy_refuses_cannot_sign_in() {
    let Some(env) = env(Db::Sqlite, |c| {
        c.upstreams[0].scopes.push("groups".to_owned());
        c.upstreams[0].policy.allowed_groups = vec!["engineering".to_owned()];
    })
    .await
    else {
        return;
    };
    let bob = browser();
    let url = callback_url(&env, &bob, BOB).await;
    let res = bob.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(set_cookie(&res, "dcrb-account").is_none());
    let text = res.text().await.unwrap();
    assert!(text.contains("not in a group allowed"), "{text}");
    let res = bob.get(env.app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let events = env
        .app
        .state
        .core
        .store
        .list_audit_events(20)
        .await
        .unwrap();
    let failed = events
        .iter()
        .find(|e| e.kind == "account_login_failed")
        .expect("audit event");
    assert!(failed
        .detail
        .as_deref()
        .unwrap_or_default()
        .contains("policy_groups"));
    // Alice, in the group, gets in.
    let page = sign_in(&env, &browser(), ALICE).await;
    assert!(page.contains("No application is connected"), "{page}");
}

#[tokio::test]
async fn several_upstreams_get_a_chooser_one_goes_straight_there() {
    let Some(env) = env(Db::Sqlite, |c| {
        let mut other = c.upstreams[0].clone();
        other.id = "partners".to_owned();
        c.upstreams.push(other);
    })
    .await
    else {
        return;
    };
    let b = browser();
    let res = b.get(env.app.url("/account/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("img-src 'none'"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    // (autoescaped: `/` is `&#x2f;` in the attribute)
    assert!(html.contains("login?upstream=corp\""), "{html}");
    assert!(html.contains("login?upstream=partners\""), "{html}");
    let res = b
        .get(env.app.url("/account/login?upstream=partners"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let upstream = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(upstream.starts_with(&env.upstream.issuer), "{upstream}");
    assert!(
        upstream.contains(&urlencode(&env.app.url("/oauth/callback"))),
        "the one registered callback: {upstream}"
    );
    let res = b
        .get(env.app.url("/account/login?upstream=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = b
        .get(
            env.app
                .url("/account/login?upstream=corp&upstream=partners"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Signing in through the chosen one works end to end.
    let walked = crate::account_browser::walk(
        &b,
        &env.app.base,
        b.get(env.app.url("/account/login?upstream=partners"))
            .send()
            .await
            .unwrap(),
        ALICE,
        |u| u == env.app.url("/account"),
    )
    .await;
    assert!(matches!(walked, Walked::Stopped(_)), "{walked:?}");
    account_page(&env, &b).await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
