//! Expiry of unused dynamic registrations: which clients go, which stay, and what is left.

use std::sync::Arc;

use dcr_bridge::store::{ClientKind, ClientRecord, Store};

use super::fixtures::{audit, auth_request, client, code, grant, user, T0};

contract!(unused_clients_expire);

/// The cutoff: clients last used (or registered) strictly before it are unused.
const CUTOFF: i64 = T0 + 1000;
const NOW: i64 = T0 + 5000;

async fn insert(store: &dyn Store, c: ClientRecord) {
    store.insert_client(&c, &audit("registered")).await.unwrap();
}

fn used_at(id: &str, last_used_at: Option<i64>) -> ClientRecord {
    ClientRecord {
        last_used_at,
        ..client(id)
    }
}

/// A grant for `client_id`, revoked at once when `revoked`.
async fn grant_for(store: &dyn Store, client_id: &str, revoked: bool) -> String {
    let user_id = store.upsert_user(&user("alice")).await.unwrap();
    let g = grant(&user_id, client_id, "read");
    let id = store
        .grant_and_issue_code(
            &g,
            &code(&format!("code-{client_id}"), &g, T0 + 60),
            &audit("consented"),
        )
        .await
        .unwrap();
    if revoked {
        assert!(store
            .revoke_grant(&id, T0 + 2, &audit("revoked"))
            .await
            .unwrap());
    }
    id
}

async fn unused_clients_expire(store: Arc<dyn Store>) {
    let s = &*store;
    // Expire: never used and registered long ago; used long ago; only a revoked grant.
    insert(s, client("never-used")).await;
    insert(s, used_at("used-long-ago", Some(CUTOFF - 1))).await;
    insert(s, client("revoked-grant")).await;
    let revoked_grant = grant_for(s, "revoked-grant", true).await;
    // Stay: used recently; exactly at the cutoff; registered recently; an active grant; not a
    // dynamic registration.
    insert(s, used_at("used-recently", Some(CUTOFF + 1))).await;
    insert(s, used_at("used-at-cutoff", Some(CUTOFF))).await;
    insert(
        s,
        ClientRecord {
            created_at: CUTOFF,
            updated_at: CUTOFF,
            ..client("new")
        },
    )
    .await;
    insert(s, client("active-grant")).await;
    let active_grant = grant_for(s, "active-grant", false).await;
    for (id, kind) in [("static", ClientKind::Static), ("cimd", ClientKind::Cimd)] {
        insert(s, ClientRecord { kind, ..client(id) }).await;
    }
    // A pending request of an expiring client goes with it (cascade).
    store
        .insert_auth_request(&dcr_request("never-used"))
        .await
        .unwrap();

    assert_eq!(store.delete_unused_clients(CUTOFF, NOW).await.unwrap(), 3);

    for gone in ["never-used", "used-long-ago", "revoked-grant"] {
        assert_eq!(store.get_client(gone).await.unwrap(), None, "{gone}");
    }
    for kept in [
        "used-recently",
        "used-at-cutoff",
        "new",
        "active-grant",
        "static",
        "cimd",
    ] {
        assert!(store.get_client(kept).await.unwrap().is_some(), "{kept}");
    }
    assert_eq!(
        store.get_auth_request("req-never-used", T0).await.unwrap(),
        None
    );
    let kept_record = store.get_grant(&revoked_grant).await.unwrap().unwrap();
    assert_eq!(kept_record.revoked_at, Some(T0 + 2), "revoked grants stay");
    assert_eq!(
        store
            .get_grant(&active_grant)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );

    let mut expired: Vec<_> = store
        .list_audit_events(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "client_expired")
        .map(|e| {
            assert_eq!((e.at, e.actor.as_deref()), (NOW, Some("housekeeping")));
            e.client_id.unwrap()
        })
        .collect();
    expired.sort();
    assert_eq!(expired, ["never-used", "revoked-grant", "used-long-ago"]);

    assert_eq!(
        store.delete_unused_clients(CUTOFF, NOW).await.unwrap(),
        0,
        "nothing left to expire"
    );
}

fn dcr_request(client_id: &str) -> dcr_bridge::store::AuthRequestRecord {
    dcr_bridge::store::AuthRequestRecord {
        client_id: client_id.into(),
        ..auth_request(&format!("req-{client_id}"), T0 + 100)
    }
}
