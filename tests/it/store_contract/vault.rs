//! The upstream token vault's lease on a grant (`take_upstream_lease` and friends): one holder
//! at a time, and only for a caller that read the current tokens; success stores and releases
//! in one step; a holder that lost its lease writes nothing.

use std::sync::Arc;

use dcr_bridge::store::Store;

use super::fixtures::{audit, granted, T0};

contract!(
    lease_has_one_holder_until_it_expires,
    lease_needs_the_tokens_the_caller_read,
    refreshed_tokens_are_stored_by_the_holder_only,
    release_backs_off_and_frees_the_lease,
    login_binds_the_upstream_and_ends_a_lease,
    no_lease_on_a_revoked_grant,
);

async fn lease_has_one_holder_until_it_expires(store: Arc<dyn Store>) {
    let g = granted(store.as_ref()).await;
    let sealed = "sealed-upstream";
    assert!(store
        .take_upstream_lease(&g.id, "a", sealed, T0, T0 + 60)
        .await
        .unwrap());
    assert!(!store
        .take_upstream_lease(&g.id, "b", sealed, T0 + 59, T0 + 119)
        .await
        .unwrap());
    let s = store.get_upstream_session(&g.id).await.unwrap().unwrap();
    assert_eq!(s.lease_until, Some(T0 + 60));
    // Expired: another caller may take it.
    assert!(store
        .take_upstream_lease(&g.id, "b", sealed, T0 + 60, T0 + 120)
        .await
        .unwrap());
    // The first holder's late result is not written.
    assert!(!store
        .store_upstream_refresh(&g.id, "a", "new-a", T0 + 61)
        .await
        .unwrap());
    let s = store.get_upstream_session(&g.id).await.unwrap().unwrap();
    assert_eq!(s.sealed_tokens.as_deref(), Some(sealed));
}

/// Eight callers at once, all having read the same tokens: exactly one gets the lease.
async fn lease_needs_the_tokens_the_caller_read(store: Arc<dyn Store>) {
    let g = granted(store.as_ref()).await;
    assert!(!store
        .take_upstream_lease(&g.id, "a", "stale", T0, T0 + 60)
        .await
        .unwrap());
    let takes = (0..8).map(|i| {
        let (store, id) = (store.clone(), g.id.clone());
        tokio::spawn(async move {
            store
                .take_upstream_lease(&id, &format!("h{i}"), "sealed-upstream", T0, T0 + 60)
                .await
                .unwrap()
        })
    });
    let won = futures_util::future::join_all(takes)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(won, 1);
}

async fn refreshed_tokens_are_stored_by_the_holder_only(store: Arc<dyn Store>) {
    let g = granted(store.as_ref()).await;
    assert!(store
        .take_upstream_lease(&g.id, "a", "sealed-upstream", T0, T0 + 60)
        .await
        .unwrap());
    assert!(!store
        .store_upstream_refresh(&g.id, "b", "new-b", T0 + 1)
        .await
        .unwrap());
    assert!(store
        .store_upstream_refresh(&g.id, "a", "new-a", T0 + 2)
        .await
        .unwrap());
    let s = store.get_upstream_session(&g.id).await.unwrap().unwrap();
    assert_eq!(s.sealed_tokens.as_deref(), Some("new-a"));
    assert_eq!(
        (s.checked_at, s.lease_until, s.retry_at),
        (Some(T0 + 2), None, None)
    );
    // The old tokens no longer take a lease; the new ones do.
    assert!(!store
        .take_upstream_lease(&g.id, "c", "sealed-upstream", T0 + 3, T0 + 63)
        .await
        .unwrap());
    assert!(store
        .take_upstream_lease(&g.id, "c", "new-a", T0 + 3, T0 + 63)
        .await
        .unwrap());
}

async fn release_backs_off_and_frees_the_lease(store: Arc<dyn Store>) {
    let g = granted(store.as_ref()).await;
    assert!(store
        .take_upstream_lease(&g.id, "a", "sealed-upstream", T0, T0 + 60)
        .await
        .unwrap());
    store
        .release_upstream_lease(&g.id, "b", T0 + 99)
        .await
        .unwrap();
    let s = store.get_upstream_session(&g.id).await.unwrap().unwrap();
    assert_eq!(
        (s.lease_until, s.retry_at),
        (Some(T0 + 60), None),
        "not b's to release"
    );
    store
        .release_upstream_lease(&g.id, "a", T0 + 30)
        .await
        .unwrap();
    let s = store.get_upstream_session(&g.id).await.unwrap().unwrap();
    assert_eq!((s.lease_until, s.retry_at), (None, Some(T0 + 30)));
    assert_eq!(s.sealed_tokens.as_deref(), Some("sealed-upstream"));
}

async fn login_binds_the_upstream_and_ends_a_lease(store: Arc<dyn Store>) {
    let g = granted(store.as_ref()).await;
    let s = store.get_upstream_session(&g.id).await.unwrap().unwrap();
    assert_eq!((s.upstream_id, s.checked_at), (None, None), "not bound yet");
    assert!(store
        .take_upstream_lease(&g.id, "a", "sealed-upstream", T0, T0 + 60)
        .await
        .unwrap());
    let mut tx = store.begin().await.unwrap();
    tx.bind_grant_upstream(&g.id, "corp", T0 + 5).await.unwrap();
    tx.commit().await.unwrap();
    let s = store.get_upstream_session(&g.id).await.unwrap().unwrap();
    assert_eq!(s.upstream_id.as_deref(), Some("corp"));
    assert_eq!((s.checked_at, s.lease_until), (Some(T0 + 5), None));
    // The refresh that was in flight finds its lease gone.
    assert!(!store
        .store_upstream_refresh(&g.id, "a", "new-a", T0 + 6)
        .await
        .unwrap());
    let mut tx = store.begin().await.unwrap();
    assert!(tx
        .bind_grant_upstream("no-such-grant", "corp", T0)
        .await
        .is_err());
}

async fn no_lease_on_a_revoked_grant(store: Arc<dyn Store>) {
    let g = granted(store.as_ref()).await;
    assert!(store
        .revoke_grant(&g.id, T0, &audit("upstream_revoked"))
        .await
        .unwrap());
    assert!(!store
        .take_upstream_lease(&g.id, "a", "sealed-upstream", T0, T0 + 60)
        .await
        .unwrap());
    let s = store.get_upstream_session(&g.id).await.unwrap().unwrap();
    assert_eq!(s.revoked_at, Some(T0));
}
