//! The admin console (`/admin/`) through HTTP: sign-in with an admin token, the session cookie,
//! sign-out, expiry, revoked tokens, failed sign-ins (audited, rate-limited), the CSP, and the
//! helpers the other `admin_console*` suites share (actions: admin_console_actions.rs, the
//! headless browser: admin_console_browser.rs).

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::Method;

use crate::admin::{admin_app, audit_events, call, create_token, BOOT};
use crate::support::app::{hidden, location, Db, TestApp, FORM};

/// The console's Content-Security-Policy: no script at all.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A browser-like client of the console: cookies kept, redirects not followed.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A same-origin form POST (what a browser sends from a console page).
pub(crate) async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", FORM)
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap()
}

/// GET `path`: status, headers, body.
pub(crate) async fn page(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
) -> (u16, HeaderMap, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// Signs in with `token`; returns the browser with its session and the CSRF token of its forms.
pub(crate) async fn signed_in(app: &TestApp, token: &str) -> (reqwest::Client, String) {
    let client = browser();
    let res = post(app, &client, "/admin/sign-in", &[("token", token)]).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(location(&res), "/admin/");
    let (s, h, html) = page(app, &client, "/admin/").await;
    assert_eq!(s, 200, "{html}");
    assert_eq!(h["content-security-policy"], CSP);
    let csrf = hidden(&html, "csrf");
    (client, csrf)
}

/// Asserts the answer is a redirect to the sign-in page.
pub(crate) fn to_sign_in(status: u16, headers: &HeaderMap) {
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/admin/sign-in");
}

#[tokio::test]
async fn without_a_session_every_page_and_action_goes_to_sign_in() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let client = browser();
    for path in [
        "/admin/",
        "/admin/clients",
        "/admin/clients/some-client",
        "/admin/users",
        "/admin/users/some-user",
        "/admin/grants",
        "/admin/audit",
        "/admin/audit/export.csv",
    ] {
        let (s, h, _) = page(&app, &client, path).await;
        to_sign_in(s, &h);
    }
    let res = post(
        &app,
        &client,
        "/admin/users/u/revoke-grants",
        &[("csrf", "x")],
    )
    .await;
    assert_eq!(
        (res.status().as_u16(), location(&res).as_str()),
        (303, "/admin/sign-in")
    );
    // A bearer token is not a console session.
    let res = app
        .api
        .get(app.url("/admin/clients"))
        .bearer_auth(BOOT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // `/admin` leads to the console; the sign-in page is a page, with the CSP.
    let (s, h, _) = page(&app, &client, "/admin").await;
    assert_eq!((s, &h["location"]), (303, &"/admin/".parse().unwrap()));
    let (s, h, html) = page(&app, &client, "/admin/sign-in").await;
    assert_eq!(s, 200);
    assert_eq!(h["content-security-policy"], CSP);
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        html.contains("name=\"token\"") && !html.contains("<script"),
        "{html}"
    );
    // Unknown console paths are an HTML 404; the API keeps its problem answers.
    let (s, h, _) = page(&app, &client, "/admin/nothing-here").await;
    assert_eq!(s, 404);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let (s, h, _) = call(&app, Method::GET, "/admin/v1/nothing", Some(BOOT), None).await;
    assert_eq!(
        (s, &h["content-type"]),
        (404, &"application/problem+json".parse().unwrap())
    );
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_session_cookie_and_is_audited() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let client = browser();
    let res = post(&app, &client, "/admin/sign-in", &[("token", BOOT)]).await;
    assert_eq!(res.status(), 303);
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    // Over http (the tests' loopback), the cookie is not `Secure` and so cannot be `__Host-`.
    assert!(cookie.starts_with("dcrb-admin="), "{cookie}");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure") && !cookie.contains("Max-Age"),
        "{cookie}"
    );
    let (s, _, html) = page(&app, &client, "/admin/").await;
    assert_eq!(s, 200);
    assert!(html.contains("id=\"operator\">bootstrap<"), "{html}");
    let (s, h, _) = page(&app, &client, "/admin/sign-in").await;
    assert_eq!((s, &h["location"]), (303, &"/admin/".parse().unwrap()));
    let event = audit_events(&app)
        .await
        .into_iter()
        .find(|e| e.kind == "admin_console_signed_in")
        .unwrap();
    assert_eq!(event.actor.as_deref(), Some("admin:bootstrap"));
    assert!(event.detail.unwrap().contains("\"ip\":\"127.0.0.1\""));
}

#[tokio::test]
async fn wrong_tokens_are_refused_audited_and_rate_limited() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let client = browser();
    for wrong in ["nope", "", &BOOT[1..], &"x".repeat(600)] {
        let res = post(&app, &client, "/admin/sign-in", &[("token", wrong)]).await;
        assert_eq!(res.status(), 401, "{wrong}");
        assert!(res.headers().get(SET_COOKIE).is_none());
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("unknown or revoked admin token"));
    }
    let failed: Vec<_> = audit_events(&app)
        .await
        .into_iter()
        .filter(|e| e.kind == "admin_console_sign_in_failed")
        .collect();
    assert_eq!(failed.len(), 4);
    let detail = failed[0].detail.clone().unwrap();
    assert!(
        detail.contains("token_fingerprint") && !detail.contains("nope"),
        "{detail}"
    );
    // The fifth failure reaches the limit: then even the right token is refused, with 429.
    let res = post(&app, &client, "/admin/sign-in", &[("token", "wrong")]).await;
    assert_eq!(res.status(), 401);
    let res = post(&app, &client, "/admin/sign-in", &[("token", BOOT)]).await;
    assert_eq!(res.status(), 429);
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    assert!(res.headers().get(SET_COOKIE).is_none());
    // Refusals past the limit are not audited one by one.
    let failed = audit_events(&app)
        .await
        .into_iter()
        .filter(|e| e.kind == "admin_console_sign_in_failed")
        .count();
    assert_eq!(failed, 5);
    // Once the window has passed, the right token works.
    app.clock.advance(301);
    signed_in(&app, BOOT).await;
}

#[tokio::test]
async fn sign_out_ends_the_session_and_sessions_expire() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let (client, csrf) = signed_in(&app, BOOT).await;
    // Sign-out is a CSRF-checked POST like every other.
    let res = post(&app, &client, "/admin/sign-out", &[]).await;
    assert_eq!(res.status(), 403);
    let res = post(&app, &client, "/admin/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(
        (res.status().as_u16(), location(&res).as_str()),
        (303, "/admin/sign-in")
    );
    assert!(res.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (s, h, _) = page(&app, &client, "/admin/").await;
    to_sign_in(s, &h);

    // Idle expiry: 30 minutes without a request.
    let (client, _) = signed_in(&app, BOOT).await;
    app.clock.advance(29 * 60);
    assert_eq!(page(&app, &client, "/admin/").await.0, 200);
    app.clock.advance(29 * 60);
    assert_eq!(page(&app, &client, "/admin/").await.0, 200);
    app.clock.advance(30 * 60);
    let (s, h, _) = page(&app, &client, "/admin/").await;
    to_sign_in(s, &h);

    // Absolute expiry: 8 hours after sign-in, however busy.
    let (client, _) = signed_in(&app, BOOT).await;
    for _ in 0..16 {
        app.clock.advance(29 * 60);
        assert_eq!(page(&app, &client, "/admin/").await.0, 200);
    }
    app.clock.advance(29 * 60);
    let (s, h, _) = page(&app, &client, "/admin/").await;
    to_sign_in(s, &h);
}

/// Sessions are in the database: a second server on the same database and secret key (a
/// restarted process, another replica) knows the session, with the same CSRF token, and a
/// sign-out there ends it on the first as well.
#[tokio::test]
async fn a_session_survives_a_restart_and_is_known_to_every_replica() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(app) = admin_app(db).await else {
            continue;
        };
        // Sign in by hand to hold the cookie value and present it to either server.
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = post(&app, &plain, "/admin/sign-in", &[("token", BOOT)]).await;
        assert_eq!(res.status(), 303, "{db:?}");
        let cookie = res.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let get = |base: String| {
            let plain = plain.clone();
            let cookie = cookie.clone();
            async move {
                let res = plain
                    .get(format!("{base}/admin/"))
                    .header("cookie", cookie)
                    .send()
                    .await
                    .unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        };
        let (s, html) = get(app.base.clone()).await;
        assert_eq!(s, 200, "{db:?}: {html}");
        let csrf = crate::support::app::hidden(&html, "csrf");

        // A second server: what a restart or another replica is.
        let store = dcr_bridge::store::connect(&app.state.config.database_url)
            .await
            .unwrap();
        let state = dcr_bridge::app::build_with(
            (*app.state.config).clone(),
            store,
            app.clock.clone() as std::sync::Arc<dyn dcr_bridge::clock::Clock>,
        )
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let server = tokio::spawn(async move {
            dcr_bridge::app::serve(state, listener, std::future::pending())
                .await
                .unwrap();
        });
        let (s, html) = get(other.clone()).await;
        assert_eq!(s, 200, "{db:?}: {html}");
        assert_eq!(crate::support::app::hidden(&html, "csrf"), csrf, "{db:?}");

        // Signed out on the second server: the first forgets the session too.
        let res = plain
            .post(format!("{other}/admin/sign-out"))
            .header("cookie", &cookie)
            .header("origin", &other)
            .header("sec-fetch-site", "same-origin")
            .header("content-type", FORM)
            .body(serde_urlencoded::to_string([("csrf", csrf.as_str())]).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            (res.status().as_u16(), location(&res).as_str()),
            (303, "/admin/sign-in"),
            "{db:?}"
        );
        assert_eq!(get(app.base.clone()).await.0, 303, "{db:?}");
        server.abort();
    }
}

#[tokio::test]
async fn revoking_the_admin_token_ends_its_console_sessions() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let (token, id) = create_token(&app, "ops-alice", false).await;
    let (client, _) = signed_in(&app, &token).await;
    let (_, _, html) = page(&app, &client, "/admin/users").await;
    assert!(html.contains("id=\"operator\">ops-alice<"), "{html}");
    let (s, _, _) = call(
        &app,
        Method::DELETE,
        &format!("/admin/v1/admin-tokens/{id}"),
        Some(BOOT),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, h, _) = page(&app, &client, "/admin/users").await;
    to_sign_in(s, &h);
    // And the revoked token cannot sign in again.
    let res = post(&app, &browser(), "/admin/sign-in", &[("token", &token)]).await;
    assert_eq!(res.status(), 401);
}

/// Asserts that a POST of `form` to `path` by `client` is refused (403) from another origin or
/// site, or without an `Origin`, even with the right form fields.
pub(crate) async fn refused_cross_origin(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) {
    let body = serde_urlencoded::to_string(form).unwrap();
    for (origin, site) in [
        (Some("http://evil.example"), None),
        (Some("null"), None),
        (None, None),
        (Some(app.base.as_str()), Some("cross-site")),
        (Some(app.base.as_str()), Some("same-site")),
    ] {
        let mut req = client
            .post(app.url(path))
            .header("content-type", FORM)
            .body(body.clone());
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 403, "{path} {origin:?} {site:?}");
        assert!(res.headers().get(SET_COOKIE).is_none());
    }
}

#[tokio::test]
async fn sign_in_is_refused_cross_origin() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    refused_cross_origin(&app, &browser(), "/admin/sign-in", &[("token", BOOT)]).await;
    let failed = audit_events(&app)
        .await
        .into_iter()
        .filter(|e| e.kind.starts_with("admin_console_"))
        .count();
    assert_eq!(failed, 0, "refused before the token is looked at");
}

#[tokio::test]
async fn with_admin_listen_the_console_is_served_there_only() {
    let app = TestApp::start_with(Db::Sqlite, |c| {
        c.admin_token = Some(secrecy::SecretString::from(BOOT.to_owned()));
        c.admin_listen = Some("127.0.0.1:1".parse().unwrap());
    })
    .await
    .unwrap();
    let client = browser();
    let (s, _, _) = page(&app, &client, "/admin/sign-in").await;
    assert_eq!(s, 404, "not on the public listener");
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_base = format!("http://{}", admin.local_addr().unwrap());
    let server = tokio::spawn(dcr_bridge::app::serve_all(
        app.state.clone(),
        public,
        Some(admin),
        std::future::pending(),
    ));
    // A form posted from the admin listener's own origin (not `public_url`) is same-origin.
    let res = client
        .post(format!("{admin_base}/admin/sign-in"))
        .header("origin", &admin_base)
        .header("content-type", FORM)
        .body(serde_urlencoded::to_string([("token", BOOT)]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = client
        .get(format!("{admin_base}/admin/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("id=\"operator\">bootstrap<"));
    // Another origin is still refused there.
    let res = client
        .post(format!("{admin_base}/admin/sign-in"))
        .header("origin", app.base.replace("127.0.0.1", "localhost"))
        .header("content-type", FORM)
        .body(serde_urlencoded::to_string([("token", BOOT)]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    server.abort();
}
