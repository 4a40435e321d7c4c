//! `/admin/v1/upstreams` through HTTP: the configured upstreams with their discovery status,
//! a connectivity test of a working one (the development IdP) and of an unreachable one, and
//! the refusals (no token, read-only test, unknown id).

use reqwest::Method;
use serde_json::Value;

use crate::admin::{assert_problem, call, create_token, expect_problem, get, BOOT};
use crate::support::app::{Db, TestApp};

const PATH: &str = "/admin/v1/upstreams";

/// The test app's upstream `corp` (the development IdP) and `down`, whose issuer refuses
/// connections.
async fn app_with_a_dead_upstream() -> TestApp {
    TestApp::start_with(Db::Sqlite, |c| {
        c.admin_token = Some(secrecy::SecretString::from(BOOT.to_owned()));
        let down = dcr_bridge::config::UpstreamConfig {
            id: "down".into(),
            issuer: Some("http://127.0.0.1:1/".parse().unwrap()),
            ..c.upstreams[0].clone()
        };
        c.upstreams.push(down);
    })
    .await
    .unwrap()
}

async fn test_upstream(app: &TestApp, id: &str) -> Value {
    let (s, _, b) = call(
        app,
        Method::POST,
        &format!("{PATH}/{id}/test"),
        Some(BOOT),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b
}

#[tokio::test]
async fn admin_upstreams_status_and_test() {
    let app = app_with_a_dead_upstream().await;
    let (reader, _) = create_token(&app, "upstream-reader", true).await;

    let (s, b) = get(&app, PATH, &reader).await;
    assert_eq!(s, 200, "{b}");
    let items = b["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["corp", "down"]);
    for u in items {
        assert!(
            ["ok", "failing", "unchecked"].contains(&u["status"].as_str().unwrap()),
            "{u}"
        );
        assert!(u.get("client_secret").is_none(), "{u}");
    }

    // The working one: ok, with what discovery found.
    let corp = test_upstream(&app, "corp").await;
    assert_eq!(corp["status"], "ok", "{corp}");
    assert_eq!(corp["kind"], "oidc", "{corp}");
    assert!(corp.get("last_error").is_none(), "{corp}");
    let issuer = corp["issuer"].as_str().unwrap();
    assert_eq!(
        corp["discovery"]["issuer"]
            .as_str()
            .unwrap()
            .trim_end_matches('/'),
        issuer.trim_end_matches('/')
    );
    assert!(corp["checked_at"].is_i64());

    // The dead one: 200 with the failure, recorded for the list.
    let down = test_upstream(&app, "down").await;
    assert_eq!(down["status"], "failing", "{down}");
    let error = down["last_error"].as_str().unwrap();
    assert!(!error.is_empty(), "{down}");
    assert!(down.get("discovery").is_none(), "{down}");
    let (_, b) = get(&app, PATH, BOOT).await;
    assert_eq!(b["items"][0]["status"], "ok", "{b}");
    assert_eq!(b["items"][1]["status"], "failing", "{b}");
    assert_eq!(b["items"][1]["last_error"], error, "{b}");

    // A read-only token may not run a test.
    let (s, h, b) = call(
        &app,
        Method::POST,
        &format!("{PATH}/corp/test"),
        Some(&reader),
        None,
    )
    .await;
    assert_problem(s, &h, &b, 403, "forbidden");
}

#[tokio::test]
async fn admin_upstreams_refusals() {
    let app = app_with_a_dead_upstream().await;
    for (method, path) in [
        (Method::GET, PATH.to_owned()),
        (Method::POST, format!("{PATH}/corp/test")),
    ] {
        let (s, h, b) = call(&app, method, &path, None, None).await;
        assert_problem(s, &h, &b, 401, "unauthorized");
    }
    expect_problem(
        &app,
        Method::POST,
        &format!("{PATH}/nope/test"),
        404,
        "not_found",
    )
    .await;
    expect_problem(
        &app,
        Method::GET,
        &format!("{PATH}/corp/test"),
        405,
        "method_not_allowed",
    )
    .await;
    expect_problem(&app, Method::GET, &format!("{PATH}/corp"), 404, "not_found").await;
}
