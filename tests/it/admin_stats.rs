//! `/admin/v1/stats` through HTTP, after a real sign-in flow: clients by kind, users, active
//! grants, flows started / completed / failed by reason in the window, and the event counts;
//! the window's edges; tokens (none, read-only); malformed windows.

use reqwest::Method;

use crate::admin::{
    admin_app, assert_problem, call, create_token, expect_bad_queries, expect_problem, get, BOOT,
};
use crate::support::app::Db;

const PATH: &str = "/admin/v1/stats";

#[tokio::test]
async fn admin_stats_count_clients_users_grants_and_flows() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    // One full flow: a dynamic client, a user, a grant, login, consent, tokens.
    app.tokens_for_new_client().await;
    // A sign-in that failed at the upstream (the callback writes this; the flow tests cover
    // that it does).
    let failed = dcr_bridge::store::AuditEvent::new("login_failed", app.state.core.now())
        .detail(&serde_json::json!({ "reason": "access_denied", "upstream": "dev" }));
    app.state
        .core
        .store
        .insert_audit_event(&failed)
        .await
        .unwrap();
    let (reader, _) = create_token(&app, "stats-reader", true).await;

    let (s, b) = get(&app, PATH, &reader).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["clients"],
        serde_json::json!({"dcr": 1, "cimd": 0, "static": 0, "total": 1})
    );
    assert_eq!(
        (&b["users"], &b["active_grants"]),
        (&1.into(), &1.into()),
        "{b}"
    );
    let flows = &b["flows"];
    assert_eq!(flows["started"], 2, "{b}");
    assert_eq!(flows["completed"], 1, "{b}");
    assert_eq!(flows["failed"], 1, "{b}");
    assert_eq!(
        flows["failed_by_reason"],
        serde_json::json!({"access_denied": 1})
    );
    assert_eq!(b["events"]["token_issued"], 1, "{b}");
    assert_eq!(b["events"]["registered"], 1, "{b}");
    assert_eq!(b["events"]["admin_token_created"], 1, "{b}");
    let until = b["until"].as_i64().unwrap();
    assert_eq!(b["since"].as_i64().unwrap(), until - 86_400);

    // A window before everything: no flows, no events; what exists now is still counted.
    let (s, b) = get(&app, &format!("{PATH}?since=0&until=1000"), BOOT).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["flows"]["started"], 0);
    assert_eq!(b["events"], serde_json::json!({}));
    assert_eq!(b["clients"]["total"], 1);
    // `until` is exclusive: a window ending at the second of the events leaves them out.
    let first_at = app
        .state
        .core
        .store
        .list_audit_events(500)
        .await
        .unwrap()
        .last()
        .unwrap()
        .at;
    let (_, b) = get(&app, &format!("{PATH}?since=0&until={first_at}"), BOOT).await;
    assert_eq!(b["events"], serde_json::json!({}));
    let next = first_at + 1;
    let (_, b) = get(&app, &format!("{PATH}?since=0&until={next}"), BOOT).await;
    assert_eq!(b["events"]["registered"], 1, "{b}");
}

#[tokio::test]
async fn admin_stats_refuses_missing_tokens_and_malformed_windows() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let (s, h, b) = call(&app, Method::GET, PATH, None, None).await;
    assert_problem(s, &h, &b, 401, "unauthorized");
    expect_bad_queries(
        &app,
        PATH,
        &[
            "?since=yesterday",
            "?until=1e9",
            "?since=20&until=10",
            "?from=1",
            "?since=99999999999999999999",
        ],
    )
    .await;
    expect_problem(&app, Method::POST, PATH, 405, "method_not_allowed").await;
}
