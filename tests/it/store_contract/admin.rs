//! The admin API's store methods on both databases: admin tokens by hash (name unique among
//! unrevoked tokens, revoke by id or name), keyset pages of clients, users and grants (stable
//! order, no row skipped or repeated, filters), and bulk grant revocation in a transaction that
//! the gateway's revocation poll sees.

use std::collections::HashSet;
use std::sync::Arc;

use dcr_bridge::store::{
    AdminTokenRecord, ClientFilter, ClientKind, GrantFilter, PageAfter, PageRequest, Store,
    StoreError,
};

use super::fixtures::{audit, audit_kinds, client, code, grant, issued, user, T0};

contract!(
    admin_tokens_by_hash_and_name,
    client_pages_are_stable_and_filtered,
    user_and_grant_pages,
    bulk_revocation_is_seen_by_the_gateway_poll,
);

fn token(id: &str, name: &str, read_only: bool) -> AdminTokenRecord {
    AdminTokenRecord {
        id: id.into(),
        name: name.into(),
        token_hash: format!("hash-of-{id}"),
        read_only,
        created_at: T0,
        created_by: "cli".into(),
        last_used_at: None,
        revoked_at: None,
    }
}

async fn admin_tokens_by_hash_and_name(store: Arc<dyn Store>) {
    let ops = token("adm_1", "ops", false);
    store
        .insert_admin_token(&ops, &audit("admin_token_created"))
        .await
        .unwrap();
    assert_eq!(
        store.find_admin_token("hash-of-adm_1").await.unwrap(),
        Some(ops.clone())
    );
    assert_eq!(store.find_admin_token("hash-of-nope").await.unwrap(), None);

    // A second unrevoked token cannot take the name.
    let dup = store
        .insert_admin_token(&token("adm_2", "ops", true), &audit("admin_token_created"))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    // Last use is written at most once a minute.
    store.touch_admin_token("adm_1", T0 + 10).await.unwrap();
    store.touch_admin_token("adm_1", T0 + 20).await.unwrap();
    let got = store
        .find_admin_token("hash-of-adm_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.last_used_at, Some(T0 + 10));
    store.touch_admin_token("adm_1", T0 + 80).await.unwrap();
    let got = store
        .find_admin_token("hash-of-adm_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.last_used_at, Some(T0 + 80));

    // Revoke by name: the token no longer authenticates, the name is free again, and the
    // revoked row stays listed.
    let revoked = store
        .revoke_admin_token("ops", T0 + 100, &audit("admin_token_revoked"))
        .await
        .unwrap();
    assert_eq!(
        (revoked.id.as_str(), revoked.revoked_at),
        ("adm_1", Some(T0 + 100))
    );
    assert_eq!(store.find_admin_token("hash-of-adm_1").await.unwrap(), None);
    let again = store
        .revoke_admin_token("ops", T0 + 101, &audit("admin_token_revoked"))
        .await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    let reader = AdminTokenRecord {
        created_at: T0 + 200,
        ..token("adm_3", "ops", true)
    };
    store
        .insert_admin_token(&reader, &audit("admin_token_created"))
        .await
        .unwrap();
    // Revoke by id.
    store
        .revoke_admin_token("adm_3", T0 + 300, &audit("admin_token_revoked"))
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_admin_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.revoked_at.is_some()))
        .collect();
    assert_eq!(
        listed,
        [("adm_3".to_owned(), true), ("adm_1".to_owned(), true)]
    );

    // Every write has its audit row, and the revocation names the token it revoked.
    assert_eq!(
        audit_kinds(&*store).await,
        [
            "admin_token_revoked",
            "admin_token_created",
            "admin_token_revoked",
            "admin_token_created"
        ]
    );
    let events = store.list_audit_events(10).await.unwrap();
    let detail: serde_json::Value =
        serde_json::from_str(events[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["revoked_token_id"], "adm_3");
    assert_eq!(detail["revoked_token_name"], "ops");
}

/// Pages through `fetch` with pages of `size`, returning every id in order.
async fn all_pages<F, Fut>(size: i64, mut fetch: F) -> Vec<(i64, String)>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Vec<(i64, String)>>,
{
    let mut out: Vec<(i64, String)> = Vec::new();
    let mut after = None;
    loop {
        let rows = fetch(PageRequest {
            after: after.clone(),
            limit: size,
        })
        .await;
        let full = rows.len() as i64 == size;
        out.extend(rows);
        if !full {
            return out;
        }
        let (created_at, id) = out.last().unwrap().clone();
        after = Some(PageAfter { created_at, id });
    }
}

async fn client_pages_are_stable_and_filtered(store: Arc<dyn Store>) {
    // Seven clients, several created in the same second (ties broken by id), of mixed kinds.
    let specs = [
        ("a", T0, ClientKind::Dcr, false),
        ("b", T0, ClientKind::Static, false),
        ("c", T0 + 1, ClientKind::Dcr, true),
        ("d", T0 + 1, ClientKind::Dcr, false),
        ("e", T0 + 1, ClientKind::Cimd, false),
        ("f", T0 + 2, ClientKind::Dcr, true),
        ("g", T0 + 3, ClientKind::Dcr, false),
    ];
    for (id, at, kind, disabled) in specs {
        let c = dcr_bridge::store::ClientRecord {
            kind,
            disabled,
            created_at: at,
            ..client(id)
        };
        store.insert_client(&c, &audit("registered")).await.unwrap();
    }
    let list = |filter: ClientFilter| {
        let store = store.clone();
        move |page: PageRequest| {
            let store = store.clone();
            let filter = filter.clone();
            async move {
                store
                    .list_clients(&filter, &page)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| (c.created_at, c.client_id))
                    .collect()
            }
        }
    };
    let ids = |rows: Vec<(i64, String)>| rows.into_iter().map(|r| r.1).collect::<Vec<_>>();
    let everything = ids(all_pages(100, list(ClientFilter::default())).await);
    assert_eq!(everything, ["g", "f", "e", "d", "c", "b", "a"]);
    for size in [1, 2, 3] {
        assert_eq!(
            ids(all_pages(size, list(ClientFilter::default())).await),
            everything,
            "page size {size}"
        );
    }
    let dcr_enabled = ClientFilter {
        kind: Some(ClientKind::Dcr),
        disabled: Some(false),
    };
    assert_eq!(ids(all_pages(2, list(dcr_enabled)).await), ["g", "d", "a"]);
    let disabled = ClientFilter {
        kind: None,
        disabled: Some(true),
    };
    assert_eq!(ids(all_pages(1, list(disabled)).await), ["f", "c"]);
    let cimd = ClientFilter {
        kind: Some(ClientKind::Cimd),
        disabled: None,
    };
    assert_eq!(ids(all_pages(5, list(cimd)).await), ["e"]);

    // A row inserted while paging, older than the cursor, shows up on a later page; none
    // already shown repeats.
    let first = store
        .list_clients(
            &ClientFilter::default(),
            &PageRequest {
                after: None,
                limit: 3,
            },
        )
        .await
        .unwrap();
    let last = first.last().unwrap();
    let late = dcr_bridge::store::ClientRecord {
        created_at: T0 - 5,
        ..client("late")
    };
    store
        .insert_client(&late, &audit("registered"))
        .await
        .unwrap();
    let rest = store
        .list_clients(
            &ClientFilter::default(),
            &PageRequest {
                after: Some(PageAfter {
                    created_at: last.created_at,
                    id: last.client_id.clone(),
                }),
                limit: 100,
            },
        )
        .await
        .unwrap();
    let seen: HashSet<_> = first.iter().map(|c| c.client_id.clone()).collect();
    assert!(rest.iter().all(|c| !seen.contains(&c.client_id)));
    assert_eq!(rest.last().unwrap().client_id, "late");
}

async fn user_and_grant_pages(store: Arc<dyn Store>) {
    let mut users = Vec::new();
    for (i, name) in ["u0", "u1", "u2", "u3"].iter().enumerate() {
        let mut u = user(name);
        u.created_at = T0 + i as i64;
        users.push(store.upsert_user(&u).await.unwrap());
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_users(&PageRequest {
                after: after.clone(),
                limit: 3,
            })
            .await
            .unwrap();
        let full = page.len() == 3;
        seen.extend(page.iter().map(|u| u.id.clone()));
        let Some(last) = page.last() else { break };
        after = Some(PageAfter {
            created_at: last.created_at,
            id: last.id.clone(),
        });
        if !full {
            break;
        }
    }
    let newest_first: Vec<_> = users.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    // Grants: two clients, two users, one revoked.
    for c in ["c1", "c2"] {
        store
            .insert_client(&client(c), &audit("registered"))
            .await
            .unwrap();
    }
    let mut grant_ids = Vec::new();
    for (i, (u, c)) in [(0, "c1"), (0, "c2"), (1, "c1")].into_iter().enumerate() {
        let mut g = grant(&users[u], c, "read");
        g.created_at = T0 + 10 + i as i64;
        let id = store
            .grant_and_issue_code(
                &g,
                &code(&format!("code-{i}"), &g, T0 + 60),
                &audit("consented"),
            )
            .await
            .unwrap();
        grant_ids.push(id);
    }
    store
        .revoke_grant(&grant_ids[0], T0 + 20, &audit("revoked"))
        .await
        .unwrap();
    let grants = |filter: GrantFilter| {
        let store = store.clone();
        async move {
            store
                .list_grants(
                    &filter,
                    &PageRequest {
                        after: None,
                        limit: 10,
                    },
                )
                .await
                .unwrap()
                .into_iter()
                .map(|g| g.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        grants(GrantFilter::default()).await,
        [
            grant_ids[2].clone(),
            grant_ids[1].clone(),
            grant_ids[0].clone()
        ]
    );
    let of_user0 = GrantFilter {
        user_id: Some(users[0].clone()),
        ..GrantFilter::default()
    };
    assert_eq!(
        grants(of_user0.clone()).await,
        [grant_ids[1].clone(), grant_ids[0].clone()]
    );
    let active_of_user0 = GrantFilter {
        active: Some(true),
        ..of_user0
    };
    assert_eq!(grants(active_of_user0).await, [grant_ids[1].clone()]);
    let revoked_c1 = GrantFilter {
        client_id: Some("c1".into()),
        active: Some(false),
        ..GrantFilter::default()
    };
    assert_eq!(grants(revoked_c1).await, [grant_ids[0].clone()]);
    let other_resource = GrantFilter {
        resource: Some("https://other.example.com/".into()),
        ..GrantFilter::default()
    };
    assert!(grants(other_resource).await.is_empty());
}

async fn bulk_revocation_is_seen_by_the_gateway_poll(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    let grant = store.get_grant(&iss.grant_id).await.unwrap().unwrap();
    assert!(store
        .revoked_access_tokens(T0, T0 + 2, "", 100)
        .await
        .unwrap()
        .is_empty());

    let mut tx = store.begin().await.unwrap();
    let ids = tx
        .active_grant_ids(Some(&grant.user_id), None)
        .await
        .unwrap();
    assert_eq!(ids, std::slice::from_ref(&iss.grant_id));
    assert_eq!(
        tx.active_grant_ids(None, Some("c1")).await.unwrap(),
        std::slice::from_ref(&iss.grant_id)
    );
    assert!(tx
        .active_grant_ids(None, Some("c9"))
        .await
        .unwrap()
        .is_empty());
    assert!(tx
        .revoke_grant(&iss.grant_id, T0 + 2, &audit("admin_grant_revoked"))
        .await
        .unwrap());
    // Not visible before the commit.
    drop(tx);
    assert!(store
        .revoked_access_tokens(T0, T0 + 2, "", 100)
        .await
        .unwrap()
        .is_empty());

    let mut tx = store.begin().await.unwrap();
    assert!(tx
        .revoke_grant(&iss.grant_id, T0 + 2, &audit("admin_grant_revoked"))
        .await
        .unwrap());
    assert!(tx
        .active_grant_ids(Some(&grant.user_id), None)
        .await
        .unwrap()
        .is_empty());
    tx.commit().await.unwrap();
    // The access token under the grant is what the gateway's poll now reports, and the refresh
    // token's view shows the revoked family and grant.
    assert_eq!(
        store
            .revoked_access_tokens(T0, T0 + 2, "", 100)
            .await
            .unwrap(),
        ["at-0"]
    );
    let view = store.get_refresh_token("rt-0").await.unwrap().unwrap();
    assert_eq!(view.grant.revoked_at, Some(T0 + 2));
    assert_eq!(view.family.revoked_at, Some(T0 + 2));
    assert_eq!(audit_kinds(&*store).await[0], "admin_grant_revoked");
}
