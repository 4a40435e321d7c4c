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

mod tokens;

contract!(
    client_lifecycle,
    auth_request_lifecycle,
    upsert_user_is_idempotent,
    grant_is_reused_while_active,
    signing_keys_single_current,
    upstream_audit_and_consent,
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
    store
        .insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    let user_id = store.upsert_user(&user("alice")).await.unwrap();
    let mut g = grant(&user_id, "c1", "read");
    g.id = store
        .grant_and_issue_code(&g, &code("code-1", &g, T0 + 60), &audit("consented"))
        .await
        .unwrap();
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
    Issued {
        grant_id: g.id,
        family_id: fam.id,
    }
}

/// Rotates `old` into `new` at `now`, with replay bytes `replay`.
async fn rotate(
    store: &dyn Store,
    iss: &Issued,
    old: &str,
    new: &str,
    now: i64,
    replay: &[u8],
) -> RotateOutcome {
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
    store
        .list_audit_events(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
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
    store
        .update_client(&changed, &audit("client_updated"))
        .await
        .unwrap();
    store.touch_client("c1", T0 + 7).await.unwrap();
    let got = store.get_client("c1").await.unwrap().unwrap();
    assert_eq!(
        got,
        ClientRecord {
            last_used_at: Some(T0 + 7),
            ..changed
        }
    );
    let missing = store
        .update_client(&client("nope"), &audit("client_updated"))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    // Deleting the client revokes its grants (and keeps them as records).
    let user_id = store.upsert_user(&user("alice")).await.unwrap();
    let g = grant(&user_id, "c1", "read");
    let grant_id = store
        .grant_and_issue_code(&g, &code("code-1", &g, T0 + 60), &audit("consented"))
        .await
        .unwrap();
    assert!(store
        .delete_client("c1", T0 + 10, &audit("client_deleted"))
        .await
        .unwrap());
    assert_eq!(store.get_client("c1").await.unwrap(), None);
    assert_eq!(
        store
            .get_grant(&grant_id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(T0 + 10)
    );
    assert!(!store
        .delete_client("c1", T0 + 11, &audit("client_deleted"))
        .await
        .unwrap());
    assert_eq!(
        audit_kinds(&*store).await,
        [
            "client_deleted",
            "consented",
            "client_updated",
            "registered"
        ]
    );
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
    store
        .insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    let req = auth_request("req-1", T0 + 100);
    store.insert_auth_request(&req).await.unwrap();
    assert_eq!(
        store.get_auth_request("req-1", T0).await.unwrap(),
        Some(req.clone())
    );
    assert_eq!(
        store.get_auth_request("req-1", T0 + 100).await.unwrap(),
        None,
        "expired"
    );

    let leg = UpstreamLeg {
        state_hash: "state-1".into(),
        sealed: "sealed".into(),
        expires_at: T0 + 700,
    };
    assert!(
        !store
            .approve_auth_request("req-1", &leg, T0 + 100)
            .await
            .unwrap(),
        "expired"
    );
    assert!(store
        .approve_auth_request("req-1", &leg, T0 + 1)
        .await
        .unwrap());
    assert!(
        !store
            .approve_auth_request("req-1", &leg, T0 + 2)
            .await
            .unwrap(),
        "approve once"
    );

    assert_eq!(
        store
            .take_auth_request_by_state("state-1", T0 + 700)
            .await
            .unwrap(),
        None,
        "expired"
    );
    let taken = store
        .take_auth_request_by_state("state-1", T0 + 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        taken,
        AuthRequestRecord {
            expires_at: T0 + 700,
            upstream: Some(leg),
            ..req
        }
    );
    assert_eq!(
        store
            .take_auth_request_by_state("state-1", T0 + 4)
            .await
            .unwrap(),
        None,
        "single use"
    );

    let denied = auth_request("req-2", T0 + 100);
    store.insert_auth_request(&denied).await.unwrap();
    assert_eq!(
        store.take_auth_request("req-2").await.unwrap(),
        Some(denied)
    );
    assert_eq!(store.take_auth_request("req-2").await.unwrap(), None);
}

async fn upsert_user_is_idempotent(store: Arc<dyn Store>) {
    let first = user("alice");
    let id = store.upsert_user(&first).await.unwrap();
    assert_eq!(id, first.id);
    let again = UserRecord {
        email: Some("new@example.com".into()),
        last_login_at: T0 + 9,
        ..user("alice")
    };
    assert_eq!(
        store.upsert_user(&again).await.unwrap(),
        id,
        "same (upstream, subject) keeps its id"
    );
    let got = store.get_user(&id).await.unwrap().unwrap();
    assert_eq!(
        got,
        UserRecord {
            id: id.clone(),
            created_at: T0,
            ..again
        }
    );
    assert_ne!(store.upsert_user(&user("bob")).await.unwrap(), id);
}

async fn grant_is_reused_while_active(store: Arc<dyn Store>) {
    let g = granted(&*store).await;
    let second = grant(&g.user_id, "c1", "read write");
    let id = store
        .grant_and_issue_code(
            &second,
            &code("code-2", &second, T0 + 60),
            &audit("consented"),
        )
        .await
        .unwrap();
    assert_eq!(id, g.id, "the active grant is reused");
    assert_eq!(
        store.get_grant(&id).await.unwrap().unwrap().scope,
        "read write"
    );
    assert_eq!(
        store
            .get_auth_code("code-2")
            .await
            .unwrap()
            .unwrap()
            .grant_id,
        g.id
    );
    let events = store.list_audit_events(1).await.unwrap();
    assert_eq!(events[0].grant_id.as_deref(), Some(g.id.as_str()));

    assert!(store
        .revoke_grant(&g.id, T0 + 5, &audit("revoked"))
        .await
        .unwrap());
    let third = grant(&g.user_id, "c1", "read");
    let new_id = store
        .grant_and_issue_code(
            &third,
            &code("code-3", &third, T0 + 60),
            &audit("consented"),
        )
        .await
        .unwrap();
    assert_eq!(new_id, third.id, "a revoked grant is not reused");
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
    store
        .insert_signing_key(&key("k1", KeyState::Current, T0))
        .await
        .unwrap();
    let second_current = store
        .insert_signing_key(&key("k2", KeyState::Current, T0 + 1))
        .await;
    assert!(
        matches!(second_current, Err(StoreError::Conflict(_))),
        "{second_current:?}"
    );
    store
        .insert_signing_key(&key("k2", KeyState::Next, T0 + 1))
        .await
        .unwrap();
    let dup_kid = store
        .insert_signing_key(&key("k2", KeyState::Next, T0 + 2))
        .await;
    assert!(
        matches!(dup_kid, Err(StoreError::Conflict(_))),
        "{dup_kid:?}"
    );

    store.promote_signing_key("k2", T0 + 10).await.unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    let states: Vec<_> = keys
        .iter()
        .map(|k| (k.kid.as_str(), k.state, k.retired_at))
        .collect();
    assert_eq!(
        states,
        [
            ("k2", KeyState::Current, None),
            ("k1", KeyState::Retired, Some(T0 + 10))
        ]
    );
    let missing = store.promote_signing_key("nope", T0 + 11).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(
        store.list_signing_keys().await.unwrap()[0].state,
        KeyState::Current,
        "rolled back"
    );
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
    up = UpstreamRecord {
        metadata: Some("{}".into()),
        status: "ok".into(),
        checked_at: T0 + 1,
        ..up
    };
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
    store
        .upsert_consent(&ConsentRecord {
            created_at: T0 + 1,
            ..consent
        })
        .await
        .unwrap();

    let failed =
        AuditEvent::new("login_failed", T0).detail(&serde_json::json!({"reason": "policy"}));
    store.insert_audit_event(&failed).await.unwrap();
    let events = store.list_audit_events(2).await.unwrap();
    assert_eq!(
        events[0], failed,
        "same second: the later event comes first"
    );
    assert_eq!(events.len(), 2);
}

/// Two instances starting together on one Postgres database: the migrator's advisory lock makes
/// the second wait, so both succeed and the schema is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrate_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
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
    stores[1]
        .insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    assert!(stores[2].get_client("c1").await.unwrap().is_some());
}
