//! `Store::local_changes`: the counts the gateway and introspection catch up on. A revocation,
//! user write or client change counts once it commits, in autocommit or in a transaction, and a
//! rolled-back transaction counts nothing; reads and uses (last use, last error) count nothing.

use std::sync::Arc;

use dcr_bridge::store::Store;

use super::fixtures::{audit, client, granted, user, T0};

contract!(local_changes_count_commits_only);

/// (revocations, users, clients) counted so far.
fn counts(store: &dyn Store) -> (u64, u64, u64) {
    let c = store.local_changes();
    (c.revocations(), c.users(), c.clients())
}

async fn local_changes_count_commits_only(store: Arc<dyn Store>) {
    let g = granted(&*store).await;
    let start = counts(&*store);
    assert!(
        start.1 >= 1,
        "the fixture's user write was counted: {start:?}"
    );

    // Reads and a client's last use change nothing kept in memory.
    store.get_grant(&g.id).await.unwrap();
    store.get_user(&g.user_id).await.unwrap();
    store.touch_client(&g.client_id, T0 + 3600).await.unwrap();
    assert_eq!(counts(&*store), start);

    // Rolled back: nothing.
    let mut tx = store.begin().await.unwrap();
    assert!(tx
        .revoke_grant(&g.id, T0 + 1, &audit("grant_revoked"))
        .await
        .unwrap());
    drop(tx);
    assert_eq!(counts(&*store), start);

    // Committed in a transaction: counted at the commit.
    let mut tx = store.begin().await.unwrap();
    assert!(tx
        .revoke_grant(&g.id, T0 + 1, &audit("grant_revoked"))
        .await
        .unwrap());
    assert_eq!(counts(&*store), start, "not before the commit");
    tx.commit().await.unwrap();
    assert_eq!(counts(&*store).0, start.0 + 1);

    // Autocommit: a user write, a client deleted (its grants revoked with it).
    store.upsert_user(&user("someone-else")).await.unwrap();
    assert_eq!(counts(&*store).1, start.1 + 1);
    store
        .insert_client(&client("doomed"), &audit("registered"))
        .await
        .unwrap();
    assert!(store
        .delete_client("doomed", T0 + 2, &audit("client_deleted"))
        .await
        .unwrap());
    let end = counts(&*store);
    assert_eq!(end.0, start.0 + 2, "{end:?}");
    assert!(end.2 > start.2, "{end:?}");
}
