//! The token half of the contract: code redemption, refresh rotation (grace, reuse, races),
//! revocation and expiry.

use std::sync::Arc;

use dcr_bridge::store::{FamilyRecord, GrantRecord, RedeemOutcome, RotateOutcome, Store};

use super::fixtures::{
    access, audit, audit_kinds, auth_request, code, family, issued, refresh, rotate, GRACE, T0,
};

contract!(
    code_redeems_once,
    rotation_winner_and_grace_replay,
    replay_after_grace_revokes_family,
    replay_after_child_used_is_reuse,
    concurrent_rotation_has_one_winner,
    revoke_access_token,
    revoke_refresh_family,
    revoke_grant_cascades,
    purge_expired,
    purge_drops_stale_replay_answers,
    families_keep_their_code_scope,
    revoked_access_tokens_direct,
    revoked_access_tokens_by_family,
    revoked_access_tokens_by_grant,
    revoked_access_tokens_in_pages,
    refresh_view_and_grant_use,
);

async fn code_redeems_once(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    let stored = store.get_auth_code("code-1").await.unwrap().unwrap();
    assert_eq!(
        (stored.used_at, stored.family_id.as_deref()),
        (Some(T0 + 1), Some(iss.family_id.as_str()))
    );
    assert!(store
        .get_access_token("at-0")
        .await
        .unwrap()
        .unwrap()
        .family_revoked_at
        .is_none());

    let fam = family(&iss.grant_id);
    let again = store
        .redeem_code(
            "code-1",
            T0 + 2,
            &fam,
            None,
            &access("at-x", &fam.id, &iss.grant_id, T0 + 2),
            &audit("token_issued"),
        )
        .await
        .unwrap();
    assert_eq!(again, RedeemOutcome::Replayed);
    assert_eq!(
        store
            .get_access_token("at-0")
            .await
            .unwrap()
            .unwrap()
            .family_revoked_at,
        Some(T0 + 2)
    );
    assert_eq!(
        store
            .get_refresh_token("rt-0")
            .await
            .unwrap()
            .unwrap()
            .family
            .revoked_at,
        Some(T0 + 2)
    );
    assert_eq!(
        store.get_access_token("at-x").await.unwrap(),
        None,
        "the replay stored nothing"
    );
    assert_eq!(audit_kinds(&*store).await[0], "reuse_detected");

    let g = store.get_grant(&iss.grant_id).await.unwrap().unwrap();
    store
        .grant_and_issue_code(&g, &code("code-old", &g, T0 + 60), &audit("consented"))
        .await
        .unwrap();
    let fam = family(&iss.grant_id);
    let at = access("at-y", &fam.id, &iss.grant_id, T0 + 60);
    let expired = store
        .redeem_code("code-old", T0 + 60, &fam, None, &at, &audit("token_issued"))
        .await
        .unwrap();
    assert_eq!(expired, RedeemOutcome::Invalid);
    let unknown = store
        .redeem_code("nope", T0, &fam, None, &at, &audit("token_issued"))
        .await
        .unwrap();
    assert_eq!(unknown, RedeemOutcome::Invalid);
}

async fn rotation_winner_and_grace_replay(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1", T0 + 10, b"pair-1").await,
        RotateOutcome::Rotated
    );
    let old = store.get_refresh_token("rt-0").await.unwrap().unwrap();
    assert_eq!(old.token.used_at, Some(T0 + 10));
    let new = store.get_refresh_token("rt-1").await.unwrap().unwrap();
    assert_eq!(
        (new.token.parent_hash.as_deref(), new.token.used_at),
        (Some("rt-0"), None)
    );
    assert!(store.get_access_token("at-rt-1").await.unwrap().is_some());

    let retry = rotate(&*store, &iss, "rt-0", "rt-1b", T0 + 10 + GRACE, b"other").await;
    assert_eq!(
        retry,
        RotateOutcome::Replay(b"pair-1".to_vec()),
        "same response within grace"
    );
    assert_eq!(store.get_refresh_token("rt-1b").await.unwrap(), None);
    assert_eq!(
        rotate(&*store, &iss, "unknown", "rt-x", T0 + 11, b"x").await,
        RotateOutcome::Invalid
    );
    let expired = rotate(&*store, &iss, "rt-1", "rt-2", T0 + 10 + 3600, b"x").await;
    assert_eq!(expired, RotateOutcome::Invalid);
}

async fn replay_after_grace_revokes_family(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1", T0 + 10, b"pair-1").await,
        RotateOutcome::Rotated
    );
    let late = rotate(&*store, &iss, "rt-0", "rt-1b", T0 + 11 + GRACE, b"x").await;
    assert_eq!(late, RotateOutcome::ReuseDetected);
    let view = store.get_refresh_token("rt-1").await.unwrap().unwrap();
    assert_eq!(
        view.family.revoked_at,
        Some(T0 + 11 + GRACE),
        "the revocation is committed"
    );
    let event = &store.list_audit_events(1).await.unwrap()[0];
    assert_eq!(
        (event.kind.as_str(), event.grant_id.as_deref()),
        ("reuse_detected", Some(iss.grant_id.as_str()))
    );
    assert_eq!(
        rotate(&*store, &iss, "rt-1", "rt-2", T0 + 50, b"x").await,
        RotateOutcome::Invalid
    );
}

async fn replay_after_child_used_is_reuse(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1", T0 + 10, b"pair-1").await,
        RotateOutcome::Rotated
    );
    assert_eq!(
        rotate(&*store, &iss, "rt-1", "rt-2", T0 + 11, b"pair-2").await,
        RotateOutcome::Rotated
    );
    let stale = rotate(&*store, &iss, "rt-0", "rt-1b", T0 + 12, b"x").await;
    assert_eq!(
        stale,
        RotateOutcome::ReuseDetected,
        "within grace, but the child was already used"
    );
    assert!(store
        .get_refresh_token("rt-2")
        .await
        .unwrap()
        .unwrap()
        .family
        .revoked_at
        .is_some());
}

async fn concurrent_rotation_has_one_winner(store: Arc<dyn Store>) {
    let iss = Arc::new(issued(&*store).await);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, iss) = (store.clone(), iss.clone());
            tokio::spawn(async move {
                let replay = format!("pair-{i}").into_bytes();
                (
                    i,
                    rotate(
                        &*store,
                        &iss,
                        "rt-0",
                        &format!("rt-1-{i}"),
                        T0 + 10,
                        &replay,
                    )
                    .await,
                )
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let winners: Vec<_> = outcomes
        .iter()
        .filter(|(_, o)| *o == RotateOutcome::Rotated)
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner_pair = format!("pair-{}", winners[0]).into_bytes();
    for (i, outcome) in &outcomes {
        if *i != winners[0] {
            assert_eq!(
                *outcome,
                RotateOutcome::Replay(winner_pair.clone()),
                "loser {i}"
            );
        }
    }
    let view = store
        .get_refresh_token(&format!("rt-1-{}", winners[0]))
        .await
        .unwrap()
        .unwrap();
    assert!(view.family.revoked_at.is_none());
}

async fn revoke_access_token(store: Arc<dyn Store>) {
    issued(&*store).await;
    assert!(store
        .revoke_access_token("at-0", T0 + 5, &audit("revoked"))
        .await
        .unwrap());
    assert!(store
        .revoke_access_token("at-0", T0 + 6, &audit("revoked"))
        .await
        .unwrap());
    let view = store.get_access_token("at-0").await.unwrap().unwrap();
    assert_eq!(
        view.token.revoked_at,
        Some(T0 + 5),
        "the first revocation is kept"
    );
    assert!(view.family_revoked_at.is_none() && view.grant.revoked_at.is_none());
    assert!(!store
        .revoke_access_token("nope", T0 + 5, &audit("revoked"))
        .await
        .unwrap());
}

async fn revoke_refresh_family(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert!(store
        .revoke_refresh_family("rt-0", T0 + 5, &audit("revoked"))
        .await
        .unwrap());
    assert_eq!(
        store
            .get_refresh_token("rt-0")
            .await
            .unwrap()
            .unwrap()
            .family
            .revoked_at,
        Some(T0 + 5)
    );
    assert_eq!(
        store
            .get_access_token("at-0")
            .await
            .unwrap()
            .unwrap()
            .family_revoked_at,
        Some(T0 + 5)
    );
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1", T0 + 6, b"x").await,
        RotateOutcome::Invalid
    );
    assert!(!store
        .revoke_refresh_family("nope", T0 + 5, &audit("revoked"))
        .await
        .unwrap());
}

async fn revoke_grant_cascades(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    let g = store.get_grant(&iss.grant_id).await.unwrap().unwrap();
    store
        .grant_and_issue_code(&g, &code("code-2", &g, T0 + 60), &audit("consented"))
        .await
        .unwrap();
    assert!(store
        .revoke_grant(&iss.grant_id, T0 + 5, &audit("revoked"))
        .await
        .unwrap());
    assert!(!store
        .revoke_grant(&iss.grant_id, T0 + 6, &audit("revoked"))
        .await
        .unwrap());
    assert!(!store
        .revoke_grant("nope", T0 + 6, &audit("revoked"))
        .await
        .unwrap());

    let at = store.get_access_token("at-0").await.unwrap().unwrap();
    assert_eq!(
        (at.grant.revoked_at, at.family_revoked_at),
        (Some(T0 + 5), Some(T0 + 5))
    );
    let rt = store.get_refresh_token("rt-0").await.unwrap().unwrap();
    assert_eq!(
        (rt.grant.revoked_at, rt.family.revoked_at),
        (Some(T0 + 5), Some(T0 + 5))
    );
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1", T0 + 6, b"x").await,
        RotateOutcome::Invalid
    );
    let fam = family(&iss.grant_id);
    let at = access("at-2", &fam.id, &iss.grant_id, T0 + 6);
    let redeemed = store
        .redeem_code("code-2", T0 + 6, &fam, None, &at, &audit("token_issued"))
        .await
        .unwrap();
    assert_eq!(
        redeemed,
        RedeemOutcome::Invalid,
        "codes of a revoked grant are dead"
    );
}

async fn purge_expired(store: Arc<dyn Store>) {
    let iss = issued(&*store).await; // code-1 expires T0+60, rt-0 T0+3601, at-0 T0+301
    store
        .insert_auth_request(&auth_request("req-old", T0 + 30))
        .await
        .unwrap();
    store
        .insert_auth_request(&auth_request("req-new", T0 + 5000))
        .await
        .unwrap();
    assert_eq!(store.purge_expired(T0 + 10).await.unwrap(), 0);
    assert_eq!(
        store.purge_expired(T0 + 400).await.unwrap(),
        3,
        "request, code, access token"
    );
    assert!(store.get_auth_code("code-1").await.unwrap().is_none());
    assert!(store.get_refresh_token("rt-0").await.unwrap().is_some());
    assert!(store
        .get_auth_request("req-new", T0 + 400)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.purge_expired(T0 + 3601).await.unwrap(),
        1,
        "refresh token"
    );
    assert!(
        store.get_grant(&iss.grant_id).await.unwrap().is_some(),
        "grants are not expired rows"
    );
}

async fn purge_drops_stale_replay_answers(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1", T0 + 10, b"pair-1").await,
        RotateOutcome::Rotated
    );
    store.purge_expired(T0 + 10 + 599).await.unwrap();
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1b", T0 + 11, b"x").await,
        RotateOutcome::Replay(b"pair-1".to_vec()),
        "kept while it may still be needed"
    );
    store.purge_expired(T0 + 10 + 600).await.unwrap();
    // Without the sealed answer a retry cannot be replayed: it is treated as reuse.
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1c", T0 + 11, b"x").await,
        RotateOutcome::ReuseDetected
    );
}

/// RFC 9700 §4.14.2: a family takes the scope of the code it was redeemed from, whatever the
/// caller put in `family.scope`, and keeps it when a later authorization rewrites the grant's
/// scope; revoking the grant still kills every family.
async fn families_keep_their_code_scope(store: Arc<dyn Store>) {
    let iss = issued(&*store).await; // code-1 with scope "read"
    let g = store.get_grant(&iss.grant_id).await.unwrap().unwrap();
    let wider = GrantRecord {
        scope: "read write".into(),
        ..g.clone()
    };
    store
        .grant_and_issue_code(
            &wider,
            &code("code-2", &wider, T0 + 60),
            &audit("consented"),
        )
        .await
        .unwrap();
    let fam2 = FamilyRecord {
        scope: "ignored".into(),
        ..family(&iss.grant_id)
    };
    let redeemed = store
        .redeem_code(
            "code-2",
            T0 + 2,
            &fam2,
            Some(&refresh("rt-2", &fam2.id, T0 + 2)),
            &access("at-2", &fam2.id, &iss.grant_id, T0 + 2),
            &audit("token_issued"),
        )
        .await
        .unwrap();
    assert!(
        matches!(redeemed, RedeemOutcome::Redeemed(_)),
        "{redeemed:?}"
    );

    let first = store.get_refresh_token("rt-0").await.unwrap().unwrap();
    assert_eq!(
        (first.family.scope.as_str(), first.grant.scope.as_str()),
        ("read", "read write"),
        "the older family keeps what was consented for it"
    );
    let second = store.get_refresh_token("rt-2").await.unwrap().unwrap();
    assert_eq!(second.family.scope, "read write");
    // Rotation stays in the family, and so does its scope.
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1", T0 + 3, b"x").await,
        RotateOutcome::Rotated
    );
    let rotated = store.get_refresh_token("rt-1").await.unwrap().unwrap();
    assert_eq!(rotated.family.scope, "read");

    assert!(store
        .revoke_grant(&iss.grant_id, T0 + 4, &audit("revoked"))
        .await
        .unwrap());
    for rt in ["rt-1", "rt-2"] {
        let view = store.get_refresh_token(rt).await.unwrap().unwrap();
        assert_eq!(view.family.revoked_at, Some(T0 + 4), "{rt}");
    }
}

/// The gateway's poll (`revoked_access_tokens`): unexpired tokens revoked at or after `since`.
async fn revoked_access_tokens_direct(store: Arc<dyn Store>) {
    issued(&*store).await;
    let list = |since: i64, now: i64| {
        let store = store.clone();
        async move {
            store
                .revoked_access_tokens(since, now, "", 100)
                .await
                .unwrap()
        }
    };
    assert!(list(T0, T0 + 2).await.is_empty(), "nothing revoked yet");
    assert!(store
        .revoke_access_token("at-0", T0 + 5, &audit("revoked"))
        .await
        .unwrap());
    assert_eq!(list(T0 + 5, T0 + 6).await, ["at-0"]);
    assert_eq!(list(T0, T0 + 6).await, ["at-0"]);
    assert!(
        list(T0 + 6, T0 + 7).await.is_empty(),
        "revoked before `since`"
    );
    // `access` tokens live 300 s: an expired token is refused anyway, so it is not listed.
    assert!(list(T0, T0 + 400).await.is_empty());
    assert!(store
        .revoked_access_tokens(T0, T0 + 6, "", 0)
        .await
        .unwrap()
        .is_empty());
}

async fn revoked_access_tokens_by_family(store: Arc<dyn Store>) {
    issued(&*store).await;
    assert!(store
        .revoke_refresh_family("rt-0", T0 + 5, &audit("revoked"))
        .await
        .unwrap());
    assert_eq!(
        store
            .revoked_access_tokens(T0 + 5, T0 + 6, "", 100)
            .await
            .unwrap(),
        ["at-0"]
    );
}

async fn revoked_access_tokens_by_grant(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert!(store
        .revoke_grant(&iss.grant_id, T0 + 5, &audit("revoked"))
        .await
        .unwrap());
    assert_eq!(
        store
            .revoked_access_tokens(T0 + 5, T0 + 6, "", 100)
            .await
            .unwrap(),
        ["at-0"]
    );
}

/// Keyset pages in `jti` order: each page starts after the last id of the previous one, a
/// token revoked twice (itself, then its grant) is listed once, and paging ends on a short page.
async fn revoked_access_tokens_in_pages(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    for (i, (old, new)) in [("rt-0", "rt-1"), ("rt-1", "rt-2"), ("rt-2", "rt-3")]
        .into_iter()
        .enumerate()
    {
        let at = T0 + 2 + i64::try_from(i).unwrap();
        assert_eq!(
            rotate(&*store, &iss, old, new, at, b"x").await,
            RotateOutcome::Rotated
        );
    }
    assert!(store
        .revoke_access_token("at-0", T0 + 5, &audit("revoked"))
        .await
        .unwrap());
    assert!(store
        .revoke_grant(&iss.grant_id, T0 + 6, &audit("revoked"))
        .await
        .unwrap());
    let page = |after: &'static str| {
        let store = store.clone();
        async move {
            store
                .revoked_access_tokens(T0 + 5, T0 + 7, after, 2)
                .await
                .unwrap()
        }
    };
    assert_eq!(page("").await, ["at-0", "at-rt-1"]);
    assert_eq!(page("at-rt-1").await, ["at-rt-2", "at-rt-3"]);
    assert!(page("at-rt-3").await.is_empty());
    // A `since` after the direct revocation still finds at-0 through its grant.
    assert_eq!(
        store
            .revoked_access_tokens(T0 + 6, T0 + 7, "", 10)
            .await
            .unwrap(),
        ["at-0", "at-rt-1", "at-rt-2", "at-rt-3"]
    );
}

/// The refresh token's view carries its grant's vault side and user, as their own reads
/// return them (a refresh reads nothing else before it rotates); rotation marks the grant used
/// at most once a minute, and again once the minute has passed.
async fn refresh_view_and_grant_use(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    let view = store.get_refresh_token("rt-0").await.unwrap().unwrap();
    let user = view.user.clone().expect("the grant's user");
    assert_eq!(
        store.get_user(&view.grant.user_id).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        Some(view.upstream),
        store.get_upstream_session(&iss.grant_id).await.unwrap()
    );
    let last_used = || async { store.list_connected_apps(&user.id).await.unwrap()[0].last_used_at };
    assert_eq!(
        last_used().await,
        Some(T0 + 1),
        "set by the code redemption"
    );
    assert_eq!(
        rotate(&*store, &iss, "rt-0", "rt-1", T0 + 30, b"pair-1").await,
        RotateOutcome::Rotated
    );
    assert_eq!(
        last_used().await,
        Some(T0 + 1),
        "within the minute: unchanged"
    );
    assert_eq!(
        rotate(&*store, &iss, "rt-1", "rt-2", T0 + 61, b"pair-2").await,
        RotateOutcome::Rotated
    );
    assert_eq!(last_used().await, Some(T0 + 61), "a minute later: written");
    assert!(store.get_access_token("at-rt-2").await.unwrap().is_some());
}
