//! `/admin/v1/audit-events` through HTTP: tokens (none, read-only reads), filters by type,
//! client, user and time range, cursor pages over several pages, the CSV export (by `Accept`
//! and by `format`, header row, the same events as the JSON pages, formula cells defused), and
//! malformed filters and cursors as problems.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::Method;
use serde_json::Value;

use crate::admin::{
    admin_app, assert_problem, call, create_token, expect_bad_queries, expect_problem, get, BOOT,
};
use crate::support::app::{Db, TestApp};

const PATH: &str = "/admin/v1/audit-events";

/// Writes `n` events of `kind` by `actor` (also the user they concern, as for a user's own
/// facts) about `client` at `at` straight to the store (the flows that write them for real
/// are tested elsewhere, admin_audit_facts.rs; here only the listing is).
async fn seed(app: &TestApp, n: usize, kind: &str, at: i64, actor: &str, client: &str) {
    for _ in 0..n {
        let e = dcr_bridge::store::AuditEvent::new(kind, at)
            .actor(actor)
            .user(actor)
            .client(client);
        app.state.core.store.insert_audit_event(&e).await.unwrap();
    }
}

/// Every event id of `query`, following `next_cursor` with pages of `limit`.
async fn walk(app: &TestApp, query: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut path = format!("{PATH}?limit={limit}{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (s, b) = get(app, &path, BOOT).await;
        assert_eq!(s, 200, "{b}");
        let items = b["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize);
        out.extend(items.iter().cloned());
        match b["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("more than 100 pages");
}

/// The CSV export of `query` with `accept`: status, content type, parsed records.
async fn export(app: &TestApp, query: &str, accept: &str) -> (u16, String, Vec<Vec<String>>) {
    let res = app
        .api
        .get(app.url(&format!("{PATH}{query}")))
        .bearer_auth(BOOT)
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    let records = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (status, ctype, records)
}

crate::admin::on_both_databases!(audit_events_filter_page_and_export);

async fn audit_events_filter_page_and_export(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let now = app.state.core.now();
    seed(&app, 7, "login", now - 100, "alice", "c1").await;
    seed(&app, 5, "login_failed", now - 50, "bob", "c2").await;
    // An admin write through the API is audited, and listed.
    let (reader, _) = create_token(&app, "auditor", true).await;

    // No token: 401; a read-only token reads.
    let (s, h, b) = call(&app, Method::GET, PATH, None, None).await;
    assert_problem(s, &h, &b, 401, "unauthorized");
    let (s, b) = get(&app, &format!("{PATH}?type=admin_token_created"), &reader).await;
    assert_eq!(s, 200, "{b}");
    let created = &b["items"][0];
    assert_eq!(created["actor"], "admin:bootstrap");
    assert_eq!(created["detail"]["name"], "auditor", "{created}");
    assert!(b.get("next_cursor").is_none());

    // Pages of 2 over 13 events (7 + 5 + the token): newest first, each once.
    let all = walk(&app, "", 2).await;
    let ats: Vec<i64> = all.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    assert_eq!(all.len(), 13);
    assert!(ats.windows(2).all(|w| w[0] >= w[1]), "{ats:?}");
    let mut ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 13);

    // Filters.
    assert_eq!(walk(&app, "&type=login", 3).await.len(), 7);
    assert_eq!(walk(&app, "&client_id=c2", 3).await.len(), 5);
    assert_eq!(walk(&app, "&user_id=alice", 3).await.len(), 7);
    assert_eq!(
        walk(&app, "&user_id=alice&type=login_failed", 3)
            .await
            .len(),
        0
    );
    let window = format!("&from={}&to={}", now - 100, now - 50);
    let in_window = walk(&app, &window, 4).await;
    assert_eq!(in_window.len(), 7);
    assert!(in_window.iter().all(|e| e["type"] == "login"));
    assert_eq!(
        walk(&app, &format!("&from={}", now - 50), 50).await.len(),
        6
    );

    // CSV by Accept and by format: a header row, then the same events as the JSON pages.
    for (query, accept) in [("", "text/csv"), ("?format=csv", "application/json")] {
        let (s, ctype, rows) = export(&app, query, accept).await;
        assert_eq!(s, 200);
        assert!(ctype.starts_with("text/csv"), "{ctype}");
        assert_eq!(rows[0][..4], ["seq", "id", "at", "type"]);
        let csv_ids: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
        let json_ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(csv_ids, json_ids);
    }
    let (_, _, rows) = export(&app, "?type=login_failed&client_id=c2", "text/csv").await;
    assert_eq!(rows.len(), 6);
    assert!(rows[1..]
        .iter()
        .all(|r| r[3] == "login_failed" && r[5] == "c2"));
    // JSON is the default, and what */* or json first gets.
    for accept in ["*/*", "application/json, text/csv", "text/html"] {
        let res = app
            .api
            .get(app.url(PATH))
            .bearer_auth(BOOT)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.headers()["content-type"],
            "application/json",
            "{accept}"
        );
    }
}

#[tokio::test]
async fn admin_audit_csv_streams_past_a_batch_and_defuses_formulas() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let now = app.state.core.now();
    // More than one store batch (500), to cross a page boundary of the stream.
    seed(&app, 1203, "refreshed", now - 10, "alice", "c1").await;
    // No value the server writes today starts with a formula character (request ids are the
    // server's own when malformed); the export defuses them all the same.
    let mut hostile = dcr_bridge::store::AuditEvent::new("login_failed", now)
        .actor("=HYPERLINK(\"https://evil.example\")");
    hostile.request_id = Some("@SUM(1)".into());
    app.state
        .core
        .store
        .insert_audit_event(&hostile)
        .await
        .unwrap();
    let (s, _, rows) = export(&app, "", "text/csv").await;
    assert_eq!(s, 200);
    assert_eq!(rows.len(), 1 + 1204);
    let seqs: Vec<i64> = rows[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first, each once"
    );
    assert_eq!(rows[1][3], "login_failed");
    assert_eq!(rows[1][4], "'=HYPERLINK(\"https://evil.example\")");
    assert_eq!(rows[1][8], "'@SUM(1)", "request_id");
}

#[tokio::test]
async fn admin_audit_malformed_filters_and_cursors_are_problems() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let users_cursor = URL_SAFE_NO_PAD.encode("users:1:u1");
    let not_a_seq = URL_SAFE_NO_PAD.encode("audit-events:1:abc");
    let cases = [
        "?from=yesterday".to_owned(),
        "?to=1.5".to_owned(),
        "?from=20&to=10".to_owned(),
        "?type=Login".to_owned(),
        "?type=a%20b".to_owned(),
        format!("?type={}", "a".repeat(65)),
        "?format=xml".to_owned(),
        "?limit=0".to_owned(),
        "?limit=501".to_owned(),
        "?cursor=%21%21".to_owned(),
        format!("?cursor={users_cursor}"),
        format!("?cursor={not_a_seq}"),
        "?format=csv&limit=5".to_owned(),
        "?actor_id=alice".to_owned(),
    ];
    let cases: Vec<&str> = cases.iter().map(String::as_str).collect();
    expect_bad_queries(&app, PATH, &cases).await;
    // Writing to the list is not a method it has.
    expect_problem(&app, Method::POST, PATH, 405, "method_not_allowed").await;
}
