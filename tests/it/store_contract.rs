//! The `Store` contract: one set of test bodies, each run against SQLite and Postgres.

use std::sync::Arc;

use dcr_bridge::store::{
    AccessTokenRecord, AuditEvent, AuthCodeRecord, AuthRequestRecord, ClientKind, ClientRecord,
    ConsentRecord, FamilyRecord, GrantRecord, KeyState, RedeemOutcome, RefreshTokenRecord,
    RotateOutcome, SigningKeyRecord, Store, StoreError, UpstreamLeg, UpstreamRecord, UserRecord,
};

use crate::support::db::TestDb;

/// For each name, a module with `sqlite` and `postgres` tests running the body `name(store)`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::support::db::TestDb;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let db = TestDb::sqlite();
                super::$name(db.store().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(db) = TestDb::postgres().await else { return };
                super::$name(db.store().await).await;
            }
        }
    )*};
}

contract!(
    client_lifecycle,
    auth_request_lifecycle,
    upsert_user_is_idempotent,
    grant_is_reused_while_active,
    code_redeems_once,
    rotation_winner_and_grace_replay,
    replay_after_grace_revokes_family,
    replay_after_child_used_is_reuse,
    concurrent_rotation_has_one_winner,
    revoke_access_token,
    revoke_refresh_family,
    revoke_grant_cascades,
    signing_keys_single_current,
    upstream_audit_and_consent,
    purge_expired,
);

const T0: i64 = 1_700_000_000;
const GRACE: i64 = 30;
const RESOURCE: &str = "https://mcp.example.com/";

fn audit(kind: &str) -> AuditEvent {
    AuditEvent::new(kind, T0)
}

fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        kind: ClientKind::Dcr,
        secret_hash: None,
        token_endpoint_auth_method: "none".into(),
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        response_types: vec!["code".into()],
        application_type: "native".into(),
        client_name: Some("Test client".into()),
        client_uri: None,
        logo_uri: None,
        scope: None,
        contacts: vec![],
        software_id: None,
        software_version: None,
        registration_token_hash: Some("rat-hash".into()),
        upstream_id: "dev".into(),
        created_at: T0,
        updated_at: T0,
        last_used_at: None,
        disabled: false,
    }
}

fn user(subject: &str) -> UserRecord {
    UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        upstream_id: "dev".into(),
        subject: subject.into(),
        email: Some(format!("{subject}@example.com")),
        name: None,
        groups: vec!["staff".into()],
        created_at: T0,
        last_login_at: T0,
    }
}

fn grant(user_id: &str, client_id: &str, scope: &str) -> GrantRecord {
    GrantRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.into(),
        client_id: client_id.into(),
        resource: RESOURCE.into(),
        scope: scope.into(),
        upstream_tokens: Some("sealed-upstream".into()),
        created_at: T0,
        updated_at: T0,
        revoked_at: None,
    }
}

fn code(hash: &str, g: &GrantRecord, expires_at: i64) -> AuthCodeRecord {
    AuthCodeRecord {
        code_hash: hash.into(),
        grant_id: g.id.clone(),
        client_id: g.client_id.clone(),
        user_id: g.user_id.clone(),
        redirect_uri: "http://127.0.0.1/callback".into(),
        code_challenge: "challenge".into(),
        scope: g.scope.clone(),
        resource: g.resource.clone(),
        created_at: T0,
        expires_at,
        used_at: None,
        family_id: None,
    }
}

fn family(grant_id: &str) -> FamilyRecord {
    FamilyRecord {
        id: uuid::Uuid::new_v4().to_string(),
        grant_id: grant_id.into(),
        client_id: "c1".into(),
        created_at: T0,
        revoked_at: None,
    }
}

fn refresh(hash: &str, family_id: &str, now: i64) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: hash.into(),
        family_id: family_id.into(),
        parent_hash: None,
        created_at: now,
        expires_at: now + 3600,
        used_at: None,
    }
}

fn access(jti: &str, family_id: &str, grant_id: &str, now: i64) -> AccessTokenRecord {
    AccessTokenRecord {
        jti: jti.into(),
        family_id: family_id.into(),
        grant_id: grant_id.into(),
        client_id: "c1".into(),
        created_at: now,
        expires_at: now + 300,
        revoked_at: None,
    }
}

/// Client `c1`, a user, an active grant and a code `code-1` for it.
async fn granted(store: &dyn Store) -> GrantRecord {
    store.insert_client(&client("c1"), &audit("registered")).await.unwrap();
    let user_id = store.upsert_user(&user("alice")).await.unwrap();
    let mut g = grant(&user_id, "c1", "read");
    g.id = store.grant_and_issue_code(&g, &code("code-1", &g, T0 + 60), &audit("consented")).await.unwrap();
    g
}

/// What `issued` set up: a redeemed code with refresh token `rt-0` and access token `at-0`.
struct Issued {
    grant_id: String,
    family_id: String,
}

async fn issued(store: &dyn Store) -> Issued {
    let g = granted(store).await;
    let fam = family(&g.id);
    let outcome = store
        .redeem_code(
            "code-1",
            T0 + 1,
            &fam,
            Some(&refresh("rt-0", &fam.id, T0 + 1)),
            &access("at-0", &fam.id, &g.id, T0 + 1),
            &audit("token_issued"),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, RedeemOutcome::Redeemed(_)), "{outcome:?}");
    Issued { grant_id: g.id, family_id: fam.id }
}

/// Rotates `old` into `new` at `now`, with replay bytes `replay`.
async fn rotate(store: &dyn Store, iss: &Issued, old: &str, new: &str, now: i64, replay: &[u8]) -> RotateOutcome {
    store
        .rotate_refresh_token(
            old,
            now,
            GRACE,
            &refresh(new, &iss.family_id, now),
            &access(&format!("at-{new}"), &iss.family_id, &iss.grant_id, now),
            replay,
            &audit("refreshed").client("c1").grant(iss.grant_id.clone()),
        )
        .await
        .unwrap()
}

async fn audit_kinds(store: &dyn Store) -> Vec<String> {
    store.list_audit_events(100).await.unwrap().into_iter().map(|e| e.kind).collect()
}

async fn client_lifecycle(store: Arc<dyn Store>) {
    let c = client("c1");
    store.insert_client(&c, &audit("registered")).await.unwrap();
    assert_eq!(store.get_client("c1").await.unwrap(), Some(c.clone()));
    assert_eq!(store.get_client("nope").await.unwrap(), None);
    let dup = store.insert_client(&c, &audit("registered")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    let mut changed = c.clone();
    changed.redirect_uris = vec!["cursor://callback".into(), "http://localhost/cb".into()];
    changed.client_name = None;
    changed.contacts = vec!["ops@example.com".into()];
    changed.disabled = true;
    changed.updated_at = T0 + 5;
    store.update_client(&changed, &audit("client_updated")).await.unwrap();
    store.touch_client("c1", T0 + 7).await.unwrap();
    let got = store.get_client("c1").await.unwrap().unwrap();
    assert_eq!(got, ClientRecord { last_used_at: Some(T0 + 7), ..changed });
    let missing = store.update_client(&client("nope"), &audit("client_updated")).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    // Deleting the client revokes its grants (and keeps them as records).
    let user_id = store.upsert_user(&user("alice")).await.unwrap();
    let g = grant(&user_id, "c1", "read");
    let grant_id = store.grant_and_issue_code(&g, &code("code-1", &g, T0 + 60), &audit("consented")).await.unwrap();
    assert!(store.delete_client("c1", T0 + 10, &audit("client_deleted")).await.unwrap());
    assert_eq!(store.get_client("c1").await.unwrap(), None);
    assert_eq!(store.get_grant(&grant_id).await.unwrap().unwrap().revoked_at, Some(T0 + 10));
    assert!(!store.delete_client("c1", T0 + 11, &audit("client_deleted")).await.unwrap());
    assert_eq!(audit_kinds(&*store).await, ["client_deleted", "consented", "client_updated", "registered"]);
}

fn auth_request(id_hash: &str, expires_at: i64) -> AuthRequestRecord {
    AuthRequestRecord {
        id_hash: id_hash.into(),
        client_id: "c1".into(),
        redirect_uri: "http://127.0.0.1/callback".into(),
        client_state: Some("xyz".into()),
        code_challenge: "challenge".into(),
        scope: "read".into(),
        resource: RESOURCE.into(),
        upstream_id: "dev".into(),
        browser_hash: "browser".into(),
        csrf_hash: "csrf".into(),
        extra: None,
        created_at: T0,
        expires_at,
        upstream: None,
    }
}

async fn auth_request_lifecycle(store: Arc<dyn Store>) {
    store.insert_client(&client("c1"), &audit("registered")).await.unwrap();
    let req = auth_request("req-1", T0 + 100);
    store.insert_auth_request(&req).await.unwrap();
    assert_eq!(store.get_auth_request("req-1", T0).await.unwrap(), Some(req.clone()));
    assert_eq!(store.get_auth_request("req-1", T0 + 100).await.unwrap(), None, "expired");

    let leg = UpstreamLeg { state_hash: "state-1".into(), sealed: "sealed".into(), expires_at: T0 + 700 };
    assert!(!store.approve_auth_request("req-1", &leg, T0 + 100).await.unwrap(), "expired");
    assert!(store.approve_auth_request("req-1", &leg, T0 + 1).await.unwrap());
    assert!(!store.approve_auth_request("req-1", &leg, T0 + 2).await.unwrap(), "approve once");

    assert_eq!(store.take_auth_request_by_state("state-1", T0 + 700).await.unwrap(), None, "expired");
    let taken = store.take_auth_request_by_state("state-1", T0 + 3).await.unwrap().unwrap();
    assert_eq!(taken, AuthRequestRecord { expires_at: T0 + 700, upstream: Some(leg), ..req });
    assert_eq!(store.take_auth_request_by_state("state-1", T0 + 4).await.unwrap(), None, "single use");

    let denied = auth_request("req-2", T0 + 100);
    store.insert_auth_request(&denied).await.unwrap();
    assert_eq!(store.take_auth_request("req-2").await.unwrap(), Some(denied));
    assert_eq!(store.take_auth_request("req-2").await.unwrap(), None);
}

async fn upsert_user_is_idempotent(store: Arc<dyn Store>) {
    let first = user("alice");
    let id = store.upsert_user(&first).await.unwrap();
    assert_eq!(id, first.id);
    let again = UserRecord { email: Some("new@example.com".into()), last_login_at: T0 + 9, ..user("alice") };
    assert_eq!(store.upsert_user(&again).await.unwrap(), id, "same (upstream, subject) keeps its id");
    let got = store.get_user(&id).await.unwrap().unwrap();
    assert_eq!(got, UserRecord { id: id.clone(), created_at: T0, ..again });
    assert_ne!(store.upsert_user(&user("bob")).await.unwrap(), id);
}

async fn grant_is_reused_while_active(store: Arc<dyn Store>) {
    let g = granted(&*store).await;
    let second = grant(&g.user_id, "c1", "read write");
    let id = store.grant_and_issue_code(&second, &code("code-2", &second, T0 + 60), &audit("consented")).await.unwrap();
    assert_eq!(id, g.id, "the active grant is reused");
    assert_eq!(store.get_grant(&id).await.unwrap().unwrap().scope, "read write");
    assert_eq!(store.get_auth_code("code-2").await.unwrap().unwrap().grant_id, g.id);
    let events = store.list_audit_events(1).await.unwrap();
    assert_eq!(events[0].grant_id.as_deref(), Some(g.id.as_str()));

    assert!(store.revoke_grant(&g.id, T0 + 5, &audit("revoked")).await.unwrap());
    let third = grant(&g.user_id, "c1", "read");
    let new_id = store.grant_and_issue_code(&third, &code("code-3", &third, T0 + 60), &audit("consented")).await.unwrap();
    assert_eq!(new_id, third.id, "a revoked grant is not reused");
}

async fn code_redeems_once(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    let stored = store.get_auth_code("code-1").await.unwrap().unwrap();
    assert_eq!((stored.used_at, stored.family_id.as_deref()), (Some(T0 + 1), Some(iss.family_id.as_str())));
    assert!(store.get_access_token("at-0").await.unwrap().unwrap().family_revoked_at.is_none());

    let fam = family(&iss.grant_id);
    let again = store
        .redeem_code("code-1", T0 + 2, &fam, None, &access("at-x", &fam.id, &iss.grant_id, T0 + 2), &audit("token_issued"))
        .await
        .unwrap();
    assert_eq!(again, RedeemOutcome::Replayed);
    assert_eq!(store.get_access_token("at-0").await.unwrap().unwrap().family_revoked_at, Some(T0 + 2));
    assert_eq!(store.get_refresh_token("rt-0").await.unwrap().unwrap().family.revoked_at, Some(T0 + 2));
    assert_eq!(store.get_access_token("at-x").await.unwrap(), None, "the replay stored nothing");
    assert_eq!(audit_kinds(&*store).await[0], "reuse_detected");

    let g = store.get_grant(&iss.grant_id).await.unwrap().unwrap();
    store.grant_and_issue_code(&g, &code("code-old", &g, T0 + 60), &audit("consented")).await.unwrap();
    let fam = family(&iss.grant_id);
    let at = access("at-y", &fam.id, &iss.grant_id, T0 + 60);
    let expired = store.redeem_code("code-old", T0 + 60, &fam, None, &at, &audit("token_issued")).await.unwrap();
    assert_eq!(expired, RedeemOutcome::Invalid);
    let unknown = store.redeem_code("nope", T0, &fam, None, &at, &audit("token_issued")).await.unwrap();
    assert_eq!(unknown, RedeemOutcome::Invalid);
}

async fn rotation_winner_and_grace_replay(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert_eq!(rotate(&*store, &iss, "rt-0", "rt-1", T0 + 10, b"pair-1").await, RotateOutcome::Rotated);
    let old = store.get_refresh_token("rt-0").await.unwrap().unwrap();
    assert_eq!(old.token.used_at, Some(T0 + 10));
    let new = store.get_refresh_token("rt-1").await.unwrap().unwrap();
    assert_eq!((new.token.parent_hash.as_deref(), new.token.used_at), (Some("rt-0"), None));
    assert!(store.get_access_token("at-rt-1").await.unwrap().is_some());

    let retry = rotate(&*store, &iss, "rt-0", "rt-1b", T0 + 10 + GRACE, b"other").await;
    assert_eq!(retry, RotateOutcome::Replay(b"pair-1".to_vec()), "same response within grace");
    assert_eq!(store.get_refresh_token("rt-1b").await.unwrap(), None);
    assert_eq!(rotate(&*store, &iss, "unknown", "rt-x", T0 + 11, b"x").await, RotateOutcome::Invalid);
    let expired = rotate(&*store, &iss, "rt-1", "rt-2", T0 + 10 + 3600, b"x").await;
    assert_eq!(expired, RotateOutcome::Invalid);
}

async fn replay_after_grace_revokes_family(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert_eq!(rotate(&*store, &iss, "rt-0", "rt-1", T0 + 10, b"pair-1").await, RotateOutcome::Rotated);
    let late = rotate(&*store, &iss, "rt-0", "rt-1b", T0 + 11 + GRACE, b"x").await;
    assert_eq!(late, RotateOutcome::ReuseDetected);
    let view = store.get_refresh_token("rt-1").await.unwrap().unwrap();
    assert_eq!(view.family.revoked_at, Some(T0 + 11 + GRACE), "the revocation is committed");
    let event = &store.list_audit_events(1).await.unwrap()[0];
    assert_eq!((event.kind.as_str(), event.grant_id.as_deref()), ("reuse_detected", Some(iss.grant_id.as_str())));
    assert_eq!(rotate(&*store, &iss, "rt-1", "rt-2", T0 + 50, b"x").await, RotateOutcome::Invalid);
}

async fn replay_after_child_used_is_reuse(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert_eq!(rotate(&*store, &iss, "rt-0", "rt-1", T0 + 10, b"pair-1").await, RotateOutcome::Rotated);
    assert_eq!(rotate(&*store, &iss, "rt-1", "rt-2", T0 + 11, b"pair-2").await, RotateOutcome::Rotated);
    let stale = rotate(&*store, &iss, "rt-0", "rt-1b", T0 + 12, b"x").await;
    assert_eq!(stale, RotateOutcome::ReuseDetected, "within grace, but the child was already used");
    assert!(store.get_refresh_token("rt-2").await.unwrap().unwrap().family.revoked_at.is_some());
}

async fn concurrent_rotation_has_one_winner(store: Arc<dyn Store>) {
    let iss = Arc::new(issued(&*store).await);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, iss) = (store.clone(), iss.clone());
            tokio::spawn(async move {
                let replay = format!("pair-{i}").into_bytes();
                (i, rotate(&*store, &iss, "rt-0", &format!("rt-1-{i}"), T0 + 10, &replay).await)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let winners: Vec<_> = outcomes.iter().filter(|(_, o)| *o == RotateOutcome::Rotated).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner_pair = format!("pair-{}", winners[0]).into_bytes();
    for (i, outcome) in &outcomes {
        if *i != winners[0] {
            assert_eq!(*outcome, RotateOutcome::Replay(winner_pair.clone()), "loser {i}");
        }
    }
    let view = store.get_refresh_token(&format!("rt-1-{}", winners[0])).await.unwrap().unwrap();
    assert!(view.family.revoked_at.is_none());
}

async fn revoke_access_token(store: Arc<dyn Store>) {
    issued(&*store).await;
    assert!(store.revoke_access_token("at-0", T0 + 5, &audit("revoked")).await.unwrap());
    assert!(store.revoke_access_token("at-0", T0 + 6, &audit("revoked")).await.unwrap());
    let view = store.get_access_token("at-0").await.unwrap().unwrap();
    assert_eq!(view.token.revoked_at, Some(T0 + 5), "the first revocation is kept");
    assert!(view.family_revoked_at.is_none() && view.grant.revoked_at.is_none());
    assert!(!store.revoke_access_token("nope", T0 + 5, &audit("revoked")).await.unwrap());
}

async fn revoke_refresh_family(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    assert!(store.revoke_refresh_family("rt-0", T0 + 5, &audit("revoked")).await.unwrap());
    assert_eq!(store.get_refresh_token("rt-0").await.unwrap().unwrap().family.revoked_at, Some(T0 + 5));
    assert_eq!(store.get_access_token("at-0").await.unwrap().unwrap().family_revoked_at, Some(T0 + 5));
    assert_eq!(rotate(&*store, &iss, "rt-0", "rt-1", T0 + 6, b"x").await, RotateOutcome::Invalid);
    assert!(!store.revoke_refresh_family("nope", T0 + 5, &audit("revoked")).await.unwrap());
}

async fn revoke_grant_cascades(store: Arc<dyn Store>) {
    let iss = issued(&*store).await;
    let g = store.get_grant(&iss.grant_id).await.unwrap().unwrap();
    store.grant_and_issue_code(&g, &code("code-2", &g, T0 + 60), &audit("consented")).await.unwrap();
    assert!(store.revoke_grant(&iss.grant_id, T0 + 5, &audit("revoked")).await.unwrap());
    assert!(!store.revoke_grant(&iss.grant_id, T0 + 6, &audit("revoked")).await.unwrap());
    assert!(!store.revoke_grant("nope", T0 + 6, &audit("revoked")).await.unwrap());

    let at = store.get_access_token("at-0").await.unwrap().unwrap();
    assert_eq!((at.grant.revoked_at, at.family_revoked_at), (Some(T0 + 5), Some(T0 + 5)));
    let rt = store.get_refresh_token("rt-0").await.unwrap().unwrap();
    assert_eq!((rt.grant.revoked_at, rt.family.revoked_at), (Some(T0 + 5), Some(T0 + 5)));
    assert_eq!(rotate(&*store, &iss, "rt-0", "rt-1", T0 + 6, b"x").await, RotateOutcome::Invalid);
    let fam = family(&iss.grant_id);
    let at = access("at-2", &fam.id, &iss.grant_id, T0 + 6);
    let redeemed = store.redeem_code("code-2", T0 + 6, &fam, None, &at, &audit("token_issued")).await.unwrap();
    assert_eq!(redeemed, RedeemOutcome::Invalid, "codes of a revoked grant are dead");
}

fn key(kid: &str, state: KeyState, created_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        alg: "RS256".into(),
        state,
        private_sealed: format!("sealed-{kid}"),
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        created_at,
        retired_at: None,
    }
}

async fn signing_keys_single_current(store: Arc<dyn Store>) {
    store.insert_signing_key(&key("k1", KeyState::Current, T0)).await.unwrap();
    let second_current = store.insert_signing_key(&key("k2", KeyState::Current, T0 + 1)).await;
    assert!(matches!(second_current, Err(StoreError::Conflict(_))), "{second_current:?}");
    store.insert_signing_key(&key("k2", KeyState::Next, T0 + 1)).await.unwrap();
    let dup_kid = store.insert_signing_key(&key("k2", KeyState::Next, T0 + 2)).await;
    assert!(matches!(dup_kid, Err(StoreError::Conflict(_))), "{dup_kid:?}");

    store.promote_signing_key("k2", T0 + 10).await.unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    let states: Vec<_> = keys.iter().map(|k| (k.kid.as_str(), k.state, k.retired_at)).collect();
    assert_eq!(states, [("k2", KeyState::Current, None), ("k1", KeyState::Retired, Some(T0 + 10))]);
    let missing = store.promote_signing_key("nope", T0 + 11).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(store.list_signing_keys().await.unwrap()[0].state, KeyState::Current, "rolled back");
}

async fn upstream_audit_and_consent(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    let mut up = UpstreamRecord {
        id: "dev".into(),
        issuer: "https://idp.example.com".into(),
        metadata: None,
        status: "discovery failed".into(),
        checked_at: T0,
    };
    store.save_upstream_status(&up).await.unwrap();
    up = UpstreamRecord { metadata: Some("{}".into()), status: "ok".into(), checked_at: T0 + 1, ..up };
    store.save_upstream_status(&up).await.unwrap();
    assert_eq!(store.get_upstream_status("dev").await.unwrap(), Some(up));

    let g = granted(&*store).await;
    let consent = ConsentRecord {
        user_id: g.user_id.clone(),
        client_id: "c1".into(),
        scope: "read".into(),
        resource: RESOURCE.into(),
        created_at: T0,
    };
    store.upsert_consent(&consent).await.unwrap();
    store.upsert_consent(&ConsentRecord { created_at: T0 + 1, ..consent }).await.unwrap();

    let failed = AuditEvent::new("login_failed", T0).detail(&serde_json::json!({"reason": "policy"}));
    store.insert_audit_event(&failed).await.unwrap();
    let events = store.list_audit_events(2).await.unwrap();
    assert_eq!(events[0], failed, "same second: the later event comes first");
    assert_eq!(events.len(), 2);
}

async fn purge_expired(store: Arc<dyn Store>) {
    let iss = issued(&*store).await; // code-1 expires T0+60, rt-0 T0+3601, at-0 T0+301
    store.insert_auth_request(&auth_request("req-old", T0 + 30)).await.unwrap();
    store.insert_auth_request(&auth_request("req-new", T0 + 5000)).await.unwrap();
    assert_eq!(store.purge_expired(T0 + 10).await.unwrap(), 0);
    assert_eq!(store.purge_expired(T0 + 400).await.unwrap(), 3, "request, code, access token");
    assert!(store.get_auth_code("code-1").await.unwrap().is_none());
    assert!(store.get_refresh_token("rt-0").await.unwrap().is_some());
    assert!(store.get_auth_request("req-new", T0 + 400).await.unwrap().is_some());
    assert_eq!(store.purge_expired(T0 + 3601).await.unwrap(), 1, "refresh token");
    assert!(store.get_grant(&iss.grant_id).await.unwrap().is_some(), "grants are not expired rows");
}

/// Two instances starting together on one Postgres database: the migrator's advisory lock makes
/// the second wait, so both succeed and the schema is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrate_postgres() {
    let Some(db) = TestDb::postgres().await else { return };
    let stores: Vec<Arc<dyn Store>> = vec![
        dcr_bridge::store::connect(&db.url).await.unwrap(),
        dcr_bridge::store::connect(&db.url).await.unwrap(),
        dcr_bridge::store::connect(&db.url).await.unwrap(),
    ];
    let runs = stores.iter().map(|s| {
        let s = s.clone();
        tokio::spawn(async move { s.migrate().await })
    });
    for run in runs.collect::<Vec<_>>() {
        run.await.unwrap().unwrap();
    }
    stores[0].migrate().await.unwrap();
    stores[1].insert_client(&client("c1"), &audit("registered")).await.unwrap();
    assert!(stores[2].get_client("c1").await.unwrap().is_some());
}
