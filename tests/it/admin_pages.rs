//! Admin API lists through HTTP: cursor pagination over several pages in a stable order,
//! and a client's changes and deletion.

use reqwest::Method;
use serde_json::{json, Value};

use crate::admin::{admin_app, audit_events, call, expect_problem, get, on_both_databases, BOOT};
use crate::support::app::{Db, TestApp};

on_both_databases!(clients_pages_changes_and_deletion);

/// The ids of every page of `path` (which has no query yet) at `limit`, checking each page.
pub(crate) async fn walk(app: &TestApp, path: &str, id_field: &str, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let (s, page) = get(app, &url, BOOT).await;
        assert_eq!(s, 200, "{url}: {page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize);
        ids.extend(
            items
                .iter()
                .map(|i| i[id_field].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
        assert!(pages < 100, "pagination does not end");
    }
}

async fn clients_pages_changes_and_deletion(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let mut registered = Vec::new();
    for _ in 0..5 {
        registered.push(app.public_client().await.0);
    }
    // Pages of 2 cover all five, newest first, without repeats, ending without a cursor.
    let all = walk(&app, "/admin/v1/clients", "client_id", 2).await;
    assert_eq!(all.len(), 5, "{all:?}");
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5);
    let mut expected = registered.clone();
    expected.sort();
    assert_eq!(sorted, expected);
    assert_eq!(
        walk(&app, "/admin/v1/clients?kind=dcr", "client_id", 3).await,
        all
    );
    assert!(walk(&app, "/admin/v1/clients?kind=static", "client_id", 3)
        .await
        .is_empty());

    // Disable one: it is listed as disabled and can no longer start a flow.
    let target = &registered[2];
    let path = format!("/admin/v1/clients/{target}");
    let (s, _, b) = call(
        &app,
        Method::PATCH,
        &path,
        Some(BOOT),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!((s, &b["disabled"]), (200, &json!(true)), "{b}");
    assert_eq!(
        walk(&app, "/admin/v1/clients?disabled=true", "client_id", 10).await,
        std::slice::from_ref(target)
    );
    assert_eq!(
        walk(&app, "/admin/v1/clients?disabled=false", "client_id", 10)
            .await
            .len(),
        4
    );
    let (_, challenge) = crate::support::app::pkce();
    let resource = app.resource();
    let res = app
        .authorize(&TestApp::auth_params(
            target,
            "http://127.0.0.1:33418/callback",
            &challenge,
            &resource,
        ))
        .await;
    assert_ne!(res.status(), 200, "a disabled client got the consent page");

    // Rename and new redirect URIs, checked like a registration.
    let (s, _, b) = call(
        &app,
        Method::PATCH,
        &path,
        Some(BOOT),
        Some(json!({"client_name": "  Renamed\u{200b} app ", "redirect_uris": ["http://127.0.0.1/new-cb", "cursor://anysphere.cursor-mcp/oauth/callback"]})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["client_name"], "Renamed app");
    assert_eq!(
        b["redirect_uris"][1],
        "cursor://anysphere.cursor-mcp/oauth/callback"
    );
    let (_, got) = get(&app, &path, BOOT).await;
    assert_eq!(got, b);
    assert!(got.get("secret_hash").is_none() && got.get("registration_token_hash").is_none());

    // Delete: gone, and audited with the token's name.
    let (s, _, _) = call(&app, Method::DELETE, &path, Some(BOOT), None).await;
    assert_eq!(s, 204);
    assert_eq!(get(&app, &path, BOOT).await.0, 404);
    let events = audit_events(&app).await;
    let kinds: Vec<_> = events
        .iter()
        .filter(|e| e.client_id.as_deref() == Some(target))
        .map(|e| (e.kind.as_str(), e.actor.as_deref()))
        .collect();
    assert_eq!(
        kinds[..3],
        [
            ("admin_client_deleted", Some("admin:bootstrap")),
            ("admin_client_updated", Some("admin:bootstrap")),
            ("admin_client_updated", Some("admin:bootstrap")),
        ]
    );
}

#[tokio::test]
async fn admin_users_paginate_over_several_pages() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let store = &app.state.core.store;
    for i in 0..7 {
        let user = dcr_bridge::store::UserRecord {
            id: format!("user-{i}"),
            upstream_id: "corp".into(),
            issuer: "https://idp.example.com".into(),
            subject: format!("s{i}"),
            email: None,
            name: None,
            groups: vec![],
            // Three share a second: the id breaks the tie.
            created_at: 1_700_000_000 + i64::from(i / 3),
            last_login_at: 1_700_000_000,
        };
        store.upsert_user(&user).await.unwrap();
    }
    let ids = walk(&app, "/admin/v1/users", "id", 3).await;
    assert_eq!(
        ids,
        ["user-6", "user-5", "user-4", "user-3", "user-2", "user-1", "user-0"]
    );
    // A cursor of another list is refused rather than misread.
    let (_, first) = get(&app, "/admin/v1/users?limit=1", BOOT).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    expect_problem(
        &app,
        Method::GET,
        &format!("/admin/v1/clients?cursor={cursor}"),
        400,
        "invalid_request",
    )
    .await;
}

/// `GET /admin/v1/users?q=`: exact id or subject, or part of the email (case-insensitive),
/// paged like the plain list; `%` and `_` are literal; an empty or oversized term is a 400.
#[tokio::test]
async fn admin_users_search_by_email_subject_or_id() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(app) = admin_app(db).await else {
            continue;
        };
        let store = &app.state.core.store;
        let people = [
            ("u-1", "00u1", Some("Alice.Smith@Acme.com")),
            ("u-2", "00u2", Some("alice@other.org")),
            ("u-3", "00u3", Some("bob@acme.com")),
            ("u-4", "alice", None),
            ("u-5", "00u5", Some("a_b%c@acme.com")),
            ("u-6", "00u6", Some("axbyc@acme.com")),
        ];
        for (i, (id, subject, email)) in people.iter().enumerate() {
            let user = dcr_bridge::store::UserRecord {
                id: (*id).into(),
                upstream_id: "corp".into(),
                issuer: "https://idp.example.com".into(),
                subject: (*subject).into(),
                email: email.map(str::to_owned),
                name: None,
                groups: vec![],
                created_at: 1_700_000_000 + i as i64,
                last_login_at: 1_700_000_000,
            };
            store.upsert_user(&user).await.unwrap();
        }
        let found = |q: &str| {
            let path = format!("/admin/v1/users?q={q}");
            let app = &app;
            async move { walk(app, &path, "id", 1).await }
        };
        // Part of an email, any case; the subject is exact (u-4's is "alice", without email).
        assert_eq!(found("ALICE").await, ["u-2", "u-1"], "{db:?}");
        assert_eq!(found("alice").await, ["u-4", "u-2", "u-1"], "{db:?}");
        assert_eq!(
            found("acme.com").await,
            ["u-6", "u-5", "u-3", "u-1"],
            "{db:?}"
        );
        assert_eq!(found("00u3").await, ["u-3"], "{db:?}");
        assert_eq!(found("u-2").await, ["u-2"], "{db:?}");
        // LIKE wildcards are plain characters.
        assert_eq!(found("a_b%25c").await, ["u-5"], "{db:?}");
        assert!(found("%25").await == ["u-5"], "{db:?}");
        assert!(found("nobody").await.is_empty(), "{db:?}");
        let long = "x".repeat(321);
        for bad in ["", "%20%20", long.as_str()] {
            expect_problem(
                &app,
                Method::GET,
                &format!("/admin/v1/users?q={bad}"),
                400,
                "invalid_request",
            )
            .await;
        }
    }
}
