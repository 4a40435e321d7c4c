//! The transaction a service holds (`Store::begin`): commit persists, drop rolls back (and lets
//! the next writer in), reads inside see the transaction's own writes, and a fact commits or
//! vanishes together with its audit row.

use std::sync::Arc;

use dcr_bridge::store::{AuditEvent, ConsentRecord, Store};

use super::fixtures::{audit, audit_kinds, auth_request, client, code, grant, user, T0};

contract!(
    tx_commit_persists,
    tx_drop_rolls_back,
    tx_reads_its_own_writes,
    tx_login_commits_or_vanishes_whole,
);

async fn tx_commit_persists(store: Arc<dyn Store>) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    tx.insert_auth_request(&auth_request("req-1", T0 + 60))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(store.get_client("c1").await.unwrap().is_some());
    assert!(store.get_auth_request("req-1", T0).await.unwrap().is_some());
    assert_eq!(audit_kinds(&*store).await, ["registered"]);
}

async fn tx_drop_rolls_back(store: Arc<dyn Store>) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    tx.insert_audit_event(&audit("extra")).await.unwrap();
    drop(tx);
    assert_eq!(store.get_client("c1").await.unwrap(), None);
    assert!(audit_kinds(&*store).await.is_empty());
    // The dropped transaction released its lock (SQLite's write lock above all): the next
    // writer, one-shot or in a transaction, gets through.
    store
        .insert_client(&client("c2"), &audit("registered"))
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(store.get_client("c1").await.unwrap().is_some());
}

async fn tx_reads_its_own_writes(store: Arc<dyn Store>) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    tx.insert_auth_request(&auth_request("req-1", T0 + 60))
        .await
        .unwrap();
    assert!(tx.get_client("c1").await.unwrap().is_some());
    let taken = tx.take_auth_request("req-1").await.unwrap();
    assert!(taken.is_some());
    assert!(tx.get_auth_request("req-1", T0).await.unwrap().is_none());
    drop(tx);
    assert_eq!(store.get_client("c1").await.unwrap(), None);
}

/// The flow's login: user, audit, consent, grant and code in one transaction. Rolled back,
/// none of it stays (no `login` or `consented` row without the grant); committed, all of it.
async fn tx_login_commits_or_vanishes_whole(store: Arc<dyn Store>) {
    store
        .insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    for commit in [false, true] {
        let mut tx = store.begin().await.unwrap();
        let user_id = tx.upsert_user(&user("alice")).await.unwrap();
        tx.insert_audit_event(&AuditEvent::new("login", T0).actor(user_id.clone()))
            .await
            .unwrap();
        tx.upsert_consent(&ConsentRecord {
            user_id: user_id.clone(),
            client_id: "c1".into(),
            scope: "read".into(),
            resource: super::fixtures::RESOURCE.into(),
            created_at: T0,
        })
        .await
        .unwrap();
        let g = grant(&user_id, "c1", "read");
        let grant_id = tx
            .grant_and_issue_code(&g, &code("code-1", &g, T0 + 60), &audit("consented"))
            .await
            .unwrap();
        if commit {
            tx.commit().await.unwrap();
            assert!(store.get_user(&user_id).await.unwrap().is_some());
            assert!(store.get_grant(&grant_id).await.unwrap().is_some());
            assert!(store.get_auth_code("code-1").await.unwrap().is_some());
            assert_eq!(
                audit_kinds(&*store).await,
                ["consented", "login", "registered"]
            );
        } else {
            drop(tx);
            assert!(store.get_user(&user_id).await.unwrap().is_none());
            assert!(store.get_grant(&grant_id).await.unwrap().is_none());
            assert!(store.get_auth_code("code-1").await.unwrap().is_none());
            assert_eq!(audit_kinds(&*store).await, ["registered"]);
        }
    }
}

/// SQLite: this process runs one write transaction at a time (the others queue in order,
/// holding no connection); one that waits longer than the acquire timeout fails as
/// unavailable (a 503 to the client), and the queue moves on once the writer commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writers_queue_in_process() {
    use dcr_bridge::store::sqlite::SqliteStore;
    use dcr_bridge::store::PoolOptions;
    let db = crate::support::db::TestDb::sqlite();
    let options = PoolOptions {
        max_connections: 8,
        acquire_timeout: std::time::Duration::from_secs(1),
    };
    let store = SqliteStore::connect_with(&db.url, options).await.unwrap();
    store.migrate().await.unwrap();
    let first = store.begin().await.unwrap();
    let Err(queued) = store.begin().await else {
        panic!("a second writer began while the first was open");
    };
    assert!(queued.is_unavailable(), "{queued}");
    first.commit().await.unwrap();
    store.begin().await.unwrap().commit().await.unwrap();
}
