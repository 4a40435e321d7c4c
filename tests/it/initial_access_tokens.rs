//! RFC 7591 §3 initial access tokens through the real server and binary: created by the admin
//! API and the CLI, presented as `Authorization: Bearer` on POST /register, counted atomically,
//! audited; and the hostile cases (no token, token in the query string or body, used up,
//! expired, revoked, oversized, wrong scheme; malformed admin input).

use reqwest::Method;
use serde_json::{json, Value};

use crate::admin::{assert_problem, audit_events, call, create_token, on_both_databases, BOOT};
use crate::cli::{bin, write_config};
use crate::support::app::{status_json, Db, TestApp};

const BODY: &str =
    r#"{"redirect_uris":["http://127.0.0.1:33418/callback"],"token_endpoint_auth_method":"none"}"#;
const PATH: &str = "/admin/v1/initial-access-tokens";

async fn iat_app(db: Db) -> Option<TestApp> {
    TestApp::start_with(db, |c| {
        c.admin_token = Some(secrecy::SecretString::from(BOOT.to_owned()));
        c.registration.mode = Some(dcr_bridge::config::RegistrationMode::InitialAccessToken);
        c.rate_limit.enabled = false;
    })
    .await
}

async fn create(app: &TestApp, body: Value) -> (String, Value) {
    let (s, _, b) = call(app, Method::POST, PATH, Some(BOOT), Some(body)).await;
    assert_eq!(s, 201, "{b}");
    let token = b["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("dcrb_iat_"), "{token}");
    (token, b["initial_access_token"].clone())
}

/// POST /register with `auth` as the whole Authorization header value (if any).
async fn register(app: &TestApp, path: &str, auth: Option<&str>) -> (u16, Option<String>, Value) {
    let mut req = app
        .api
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(BODY);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let (s, b) = status_json(res).await;
    (s, challenge, b)
}

fn assert_invalid_token(r: &(u16, Option<String>, Value), says: &str) {
    let (s, challenge, b) = r;
    assert_eq!(*s, 401, "{b}");
    assert_eq!(challenge.as_deref(), Some("Bearer error=\"invalid_token\""));
    assert_eq!(b["error"], "invalid_token");
    assert!(
        b["error_description"].as_str().unwrap().contains(says),
        "{b}"
    );
}

async fn tokens_gate_registration(db: Db) {
    let Some(app) = iat_app(db).await else { return };
    assert_invalid_token(
        &register(&app, "/register", None).await,
        "initial access token",
    );
    let (token, view) = create(&app, json!({ "name": "fleet", "max_uses": 2 })).await;
    assert_eq!(
        (view["uses"].as_i64(), view["state"].as_str()),
        (Some(0), Some("active"))
    );
    let bearer = format!("Bearer {token}");
    for _ in 0..2 {
        let (s, _, b) = register(&app, "/register", Some(&bearer)).await;
        assert_eq!(s, 201, "{b}");
    }
    assert_invalid_token(&register(&app, "/register", Some(&bearer)).await, "used up");
    let (s, list) = crate::admin::get(&app, PATH, BOOT).await;
    assert_eq!(s, 200);
    assert_eq!(list["items"][0]["uses"], 2);
    assert_eq!(list["items"][0]["state"], "used_up");
    let events = audit_events(&app).await;
    let registered: Vec<_> = events.iter().filter(|e| e.kind == "registered").collect();
    assert_eq!(registered.len(), 2);
    assert!(registered.iter().all(|e| e
        .detail
        .as_deref()
        .unwrap()
        .contains("\"initial_access_token_name\":\"fleet\"")));
    let refused = events
        .iter()
        .find(|e| e.kind == "registration_refused")
        .unwrap();
    assert!(refused.detail.as_deref().unwrap().contains("used_up"));
    assert!(events
        .iter()
        .any(|e| e.kind == "initial_access_token_created"
            && e.actor.as_deref() == Some("admin:bootstrap")));
    // The registration policy shows the mode and the count.
    let (s, policy) = crate::admin::get(&app, "/admin/v1/registration-policy", BOOT).await;
    assert_eq!(s, 200);
    assert_eq!(policy["mode"], "initial_access_token");
    assert_eq!(policy["dynamic_clients"], 2);
    assert_eq!(policy["source"], "config");
}

/// Two concurrent registrations with a one-use token: exactly one succeeds (and with more
/// racers, still exactly one).
async fn one_use_is_counted_once(db: Db) {
    let Some(app) = iat_app(db).await else { return };
    for racers in [2, 8] {
        let (token, _) = create(
            &app,
            json!({ "name": format!("once-{racers}"), "max_uses": 1 }),
        )
        .await;
        let bearer = format!("Bearer {token}");
        let outcomes = futures_util::future::join_all(
            (0..racers).map(|_| register(&app, "/register", Some(&bearer))),
        )
        .await;
        let statuses: Vec<u16> = outcomes.iter().map(|o| o.0).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(statuses.iter().filter(|s| **s == 401).count(), racers - 1);
    }
}

on_both_databases!(tokens_gate_registration, one_use_is_counted_once);

#[tokio::test]
async fn hostile_presentations_are_refused() {
    let app = iat_app(Db::Sqlite).await.unwrap();
    let (token, _) = create(&app, json!({ "name": "h" })).await;
    // Only the Authorization header counts: not the query string, not the body.
    assert_invalid_token(
        &register(&app, &format!("/register?access_token={token}"), None).await,
        "initial access token",
    );
    let res = app
        .api
        .post(app.url("/register"))
        .json(&json!({ "redirect_uris": ["http://127.0.0.1:1/cb"], "access_token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    for auth in [
        format!("Basic {token}"),
        "Bearer dcrb_iat_not-a-token".to_owned(),
        format!("Bearer {}", "x".repeat(8 * 1024)),
        format!("Bearer {token}x"),
    ] {
        let r = register(&app, "/register", Some(&auth)).await;
        assert_eq!(r.0, 401, "{}", &auth[..20]);
        assert_eq!(r.1.as_deref(), Some("Bearer error=\"invalid_token\""));
    }
    assert_eq!(
        register(&app, "/register", Some(&format!("Bearer {token}")))
            .await
            .0,
        201
    );

    // Expired.
    let (short, _) = create(&app, json!({ "name": "short", "expires_in": 60 })).await;
    app.clock.advance(61);
    assert_invalid_token(
        &register(&app, "/register", Some(&format!("Bearer {short}"))).await,
        "expired",
    );
    // Revoked, by name; then its name is free again and revoking twice is 404.
    let (s, _, _) = call(&app, Method::DELETE, &format!("{PATH}/h"), Some(BOOT), None).await;
    assert_eq!(s, 204);
    assert_invalid_token(
        &register(&app, "/register", Some(&format!("Bearer {token}"))).await,
        "revoked",
    );
    let (s, h, b) = call(&app, Method::DELETE, &format!("{PATH}/h"), Some(BOOT), None).await;
    assert_problem(s, &h, &b, 404, "not_found");
    create(&app, json!({ "name": "h" })).await;
    assert!(audit_events(&app)
        .await
        .iter()
        .any(|e| e.kind == "initial_access_token_revoked"
            && e.detail.as_deref().unwrap().contains("revoked_token_name")));
}

#[tokio::test]
async fn admin_api_refuses_bad_input_and_read_only_writes() {
    let app = iat_app(Db::Sqlite).await.unwrap();
    for body in [
        json!({ "name": "a", "max_uses": 0 }),
        json!({ "name": "a", "expires_in": 0 }),
        json!({ "name": "a", "expires_in": -5 }),
        json!({ "name": "a", "expires_in": i64::MAX }),
        json!({ "name": "two words" }),
        json!({ "name": "a", "uses": 3 }),
        json!({ "max_uses": 1 }),
        json!("a"),
    ] {
        let (s, h, b) = call(&app, Method::POST, PATH, Some(BOOT), Some(body.clone())).await;
        assert_problem(s, &h, &b, 400, "invalid_request");
    }
    create(&app, json!({ "name": "dup" })).await;
    let (s, h, b) = call(
        &app,
        Method::POST,
        PATH,
        Some(BOOT),
        Some(json!({ "name": "dup" })),
    )
    .await;
    assert_problem(s, &h, &b, 409, "conflict");
    let (s, h, b) = call(&app, Method::GET, PATH, None, None).await;
    assert_problem(s, &h, &b, 401, "unauthorized");
    let (reader, _) = create_token(&app, "reader", true).await;
    let (s, h, b) = call(
        &app,
        Method::POST,
        PATH,
        Some(&reader),
        Some(json!({ "name": "r" })),
    )
    .await;
    assert_problem(s, &h, &b, 403, "forbidden");
    let (s, _, _) = call(
        &app,
        Method::GET,
        "/admin/v1/registration-policy",
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(s, 200);
    // The list never holds a token value.
    let (_, list) = crate::admin::get(&app, PATH, BOOT).await;
    assert!(!list.to_string().contains("dcrb_iat_"), "{list}");
}

#[test]
fn cli_creates_lists_and_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", "");
    let run = |args: &[&str]| {
        bin()
            .arg("--config")
            .arg(&config)
            .arg("initial-access-token")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "create",
        "--name",
        "fleet",
        "--max-uses",
        "5",
        "--expires-in",
        "30d",
    ]);
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        token.starts_with("dcrb_iat_") && !token.contains(' '),
        "{token}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown once"));
    for bad in [
        vec!["create", "--name", "x", "--expires-in", "3w"],
        vec!["create", "--name", "x", "--max-uses", "0"],
        vec!["create", "--name", "fleet"],
        vec!["revoke", "nobody"],
    ] {
        assert!(!run(&bad).status.success(), "{bad:?}");
    }
    let list = String::from_utf8_lossy(&run(&["list"]).stdout).into_owned();
    let row = list.lines().find(|l| l.contains("\tfleet\t")).unwrap();
    assert!(row.contains("0/5") && row.ends_with("active"), "{row}");
    assert!(!list.contains(&token));
    assert!(run(&["revoke", "fleet"]).status.success());
    let list = String::from_utf8_lossy(&run(&["list"]).stdout).into_owned();
    assert!(
        list.lines()
            .any(|l| l.contains("\tfleet\t") && l.ends_with("revoked")),
        "{list}"
    );
}
