//! The audit trail and the counts behind the admin API's stats, on both databases: keyset
//! pages of audit events newest first by `(at, seq)` (events of one second in insertion
//! order, no row skipped or repeated while events are appended), the filters and the
//! half-open time range; counts by kind (and by detail where asked); clients by kind, users
//! and active grants.

use std::collections::HashSet;
use std::sync::Arc;

use dcr_bridge::store::{
    AuditAfter, AuditCount, AuditEvent, AuditFilter, ClientKind, ClientRecord, Store,
};

use super::fixtures::{audit, client, granted, T0};

contract!(audit_pages_filters_and_ranges, audit_counts_and_inventory);

fn event(kind: &str, at: i64, actor: Option<&str>, client_id: Option<&str>) -> AuditEvent {
    let mut e = AuditEvent::new(kind, at);
    e.actor = actor.map(Into::into);
    e.client_id = client_id.map(Into::into);
    e
}

/// Every id of the events matching `filter`, page by page of `size`.
async fn walk(store: &dyn Store, filter: &AuditFilter, size: i64) -> Vec<String> {
    let mut after: Option<AuditAfter> = None;
    let mut out = Vec::new();
    loop {
        let page = store.list_audit_page(filter, after, size).await.unwrap();
        out.extend(page.iter().map(|e| e.event.id.clone()));
        let Some(last) = page.last() else { break };
        if page.len() < usize::try_from(size).unwrap() {
            break;
        }
        after = Some(AuditAfter {
            at: last.event.at,
            seq: last.seq,
        });
    }
    out
}

async fn audit_pages_filters_and_ranges(store: Arc<dyn Store>) {
    // Three events in each of four seconds, alternating users and clients.
    let mut written = Vec::new();
    for second in 0..4 {
        for i in 0..3 {
            let (actor, client) = if i % 2 == 0 {
                ("alice", "c1")
            } else {
                ("bob", "c2")
            };
            let kind = if i == 2 { "login_failed" } else { "login" };
            let e = event(kind, T0 + second, Some(actor), Some(client));
            store.insert_audit_event(&e).await.unwrap();
            written.push(e.id);
        }
    }
    let newest_first: Vec<String> = written.iter().rev().cloned().collect();

    // Pages of 5 cut through seconds: the seq keeps the order within one.
    let all = AuditFilter::default();
    assert_eq!(walk(&*store, &all, 5).await, newest_first);
    assert_eq!(walk(&*store, &all, 1).await, newest_first);

    // An event appended while paging (a newer second) does not shift the pages after it.
    let first = store.list_audit_page(&all, None, 4).await.unwrap();
    store
        .insert_audit_event(&event("login", T0 + 9, Some("carol"), None))
        .await
        .unwrap();
    let last = first.last().unwrap();
    let rest = store
        .list_audit_page(
            &all,
            Some(AuditAfter {
                at: last.event.at,
                seq: last.seq,
            }),
            100,
        )
        .await
        .unwrap();
    let mut seen: Vec<String> = first.iter().map(|e| e.event.id.clone()).collect();
    seen.extend(rest.iter().map(|e| e.event.id.clone()));
    assert_eq!(seen, newest_first);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 12);

    // Filters: kind, client, actor, and [from, to).
    let only = |f: AuditFilter| {
        let store = store.clone();
        async move { walk(&*store, &f, 2).await.len() }
    };
    let kind = AuditFilter {
        kind: Some("login_failed".into()),
        ..AuditFilter::default()
    };
    assert_eq!(only(kind).await, 4);
    let by_client = AuditFilter {
        client_id: Some("c2".into()),
        ..AuditFilter::default()
    };
    assert_eq!(only(by_client).await, 4);
    let by_actor = AuditFilter {
        actor: Some("alice".into()),
        kind: Some("login".into()),
        ..AuditFilter::default()
    };
    assert_eq!(only(by_actor).await, 4);
    let window = AuditFilter {
        from: Some(T0 + 1),
        to: Some(T0 + 3),
        ..AuditFilter::default()
    };
    let in_window = walk(&*store, &window, 2).await;
    assert_eq!(in_window, newest_first[3..9]);
    let empty = AuditFilter {
        from: Some(T0 + 2),
        to: Some(T0 + 2),
        ..AuditFilter::default()
    };
    assert_eq!(only(empty).await, 0);
}

async fn audit_counts_and_inventory(store: Arc<dyn Store>) {
    assert_eq!(store.inventory().await.unwrap().users, 0);
    // One dcr client with an active grant of one user, one cimd client.
    granted(&*store).await;
    let cimd = ClientRecord {
        kind: ClientKind::Cimd,
        ..client("https://app.example/client.json")
    };
    store
        .insert_client(&cimd, &audit("cimd_client_added"))
        .await
        .unwrap();
    let inv = store.inventory().await.unwrap();
    assert_eq!(
        inv.clients_by_kind,
        [("cimd".to_owned(), 1), ("dcr".to_owned(), 1)]
    );
    assert_eq!((inv.users, inv.active_grants), (1, 1));

    for (reason, at) in [("upstream_error", T0 + 100), ("state_mismatch", T0 + 101)] {
        let mut e = event("login_failed", at, None, Some("c1"));
        e.detail = Some(serde_json::json!({ "reason": reason }).to_string());
        store.insert_audit_event(&e).await.unwrap();
    }
    let mut late = event("login_failed", T0 + 200, None, Some("c1"));
    late.detail = Some(serde_json::json!({ "reason": "upstream_error" }).to_string());
    store.insert_audit_event(&late).await.unwrap();
    let mut issued = event("token_issued", T0 + 100, Some("u"), Some("c1"));
    issued.detail = Some(serde_json::json!({ "jti": "j1" }).to_string());
    store.insert_audit_event(&issued).await.unwrap();

    // [T0 + 100, T0 + 200): the event at T0 + 200 is out; token_issued is not split by detail.
    let counts = store
        .count_audit_events(T0 + 100, T0 + 200, &["login_failed"])
        .await
        .unwrap();
    let reason = |r: &str| Some(serde_json::json!({ "reason": r }).to_string());
    assert_eq!(
        counts,
        [
            AuditCount {
                kind: "login_failed".into(),
                detail: reason("state_mismatch"),
                count: 1
            },
            AuditCount {
                kind: "login_failed".into(),
                detail: reason("upstream_error"),
                count: 1
            },
            AuditCount {
                kind: "token_issued".into(),
                detail: None,
                count: 1
            },
        ]
    );
    // The events at T0 (registration, consent) and every kind, without detail.
    let everything = store.count_audit_events(T0, T0 + 1000, &[]).await.unwrap();
    let total: i64 = everything.iter().map(|c| c.count).sum();
    assert_eq!(total, 7, "{everything:?}");
    assert!(everything.iter().all(|c| c.detail.is_none()));
}
