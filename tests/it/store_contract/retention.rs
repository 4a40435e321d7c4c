//! Bounded growth: audit events past retention are purged in batches, and the stale-replay
//! purge and the gateway's revocation poll read their rows through indexes on both databases.

use std::sync::Arc;

use dcr_bridge::store::{AuditEvent, Store, REVOKED_ACCESS_TOKENS, STALE_REPLAY_PURGE};

use super::fixtures::T0;
use crate::support::db::TestDb;

contract!(audit_events_purge_in_batches);
contract!(db: stale_replay_purge_uses_its_index);
contract!(db: revocation_poll_uses_its_indexes);

async fn insert_events(store: &dyn Store, at: i64, n: usize) {
    for _ in 0..n {
        store
            .insert_audit_event(&AuditEvent::new("registered", at))
            .await
            .unwrap();
    }
}

async fn times(store: &dyn Store) -> Vec<i64> {
    let mut at: Vec<i64> = store
        .list_audit_events(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.at)
        .collect();
    at.sort_unstable();
    at
}

/// `before` is exclusive, batches take the oldest first, and the housekeeping loop keeps
/// going until a batch comes back short (here: 1,000, then 1, then none).
async fn audit_events_purge_in_batches(store: Arc<dyn Store>) {
    let s = &*store;
    insert_events(s, T0 - 100, 2).await;
    insert_events(s, T0 - 1, 1).await;
    insert_events(s, T0, 1).await;
    assert_eq!(s.purge_audit_events(T0, 2).await.unwrap(), 2);
    assert_eq!(times(s).await, [T0 - 1, T0], "oldest first");
    assert_eq!(s.purge_audit_events(T0, 2).await.unwrap(), 1);
    assert_eq!(s.purge_audit_events(T0, 2).await.unwrap(), 0);
    assert_eq!(times(s).await, [T0], "an event at the cutoff stays");

    insert_events(s, T0 + 1, 1_001).await;
    insert_events(s, T0 + 2, 1).await;
    assert_eq!(
        dcr_bridge::app::purge_audit_batches(s, T0 + 2)
            .await
            .unwrap(),
        1_002
    );
    assert_eq!(times(s).await, [T0 + 2]);
}

/// The plan of the housekeeping statement names `refresh_tokens_replay_idx` (a full scan of
/// `refresh_tokens` before migration 0002).
async fn stale_replay_purge_uses_its_index(db: TestDb) {
    let plan = plan(&db, &STALE_REPLAY_PURGE.replace("$1", "0")).await;
    assert!(
        plan.iter().any(|l| l.contains("refresh_tokens_replay_idx")),
        "{plan:#?}"
    );
}

/// Each branch of the gateway's poll starts from the partial index on its table's `revoked_at`
/// (migration 0003): without them every branch scans all unexpired access tokens.
async fn revocation_poll_uses_its_indexes(db: TestDb) {
    let sql = REVOKED_ACCESS_TOKENS
        .replace("$1", &(T0 - 70).to_string())
        .replace("$2", &T0.to_string())
        .replace("$3", "''")
        .replace("$4", "10000");
    let plan = plan(&db, &sql).await;
    for index in [
        "access_tokens_revoked_idx",
        "token_families_revoked_idx",
        "grants_revoked_idx",
    ] {
        assert!(plan.iter().any(|l| l.contains(index)), "{index}: {plan:#?}");
    }
}

/// The query plan of `sql`, one line per step. Postgres is told to avoid sequential scans,
/// since on an empty table it would rightly prefer one; what matters is that the indexes can
/// serve the statement.
async fn plan(db: &TestDb, sql: &str) -> Vec<String> {
    use sqlx::{Connection as _, Row as _};
    let _store = db.store().await;
    if db.url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("detail"))
            .collect()
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(&format!("EXPLAIN {sql}"))
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect()
    }
}
