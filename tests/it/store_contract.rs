//! The `Store` contract: one set of test bodies, each run against SQLite and Postgres.

use std::sync::Arc;

use dcr_bridge::store::{
    AuditEvent, AuthRequestRecord, ClientRecord, ConsentRecord, KeyState, SigningKeyRecord, Store,
    StoreError, UpstreamLeg, UpstreamRecord, UserRecord,
};

use crate::support::db::TestDb;

/// For each name, a module with `sqlite` and `postgres` tests running the body `name(store)`.
/// With `db:` first, the body gets the empty, unmigrated [`TestDb`] instead.
macro_rules! contract {
    (db: $($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::support::db::TestDb;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(TestDb::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(db) = TestDb::postgres().await else { return };
                super::$name(db).await;
            }
        }
    )*};
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

mod admin;
mod audit_pages;
mod expiry;
mod fixtures;
mod local_changes;
mod migration;
mod retention;
mod tokens;
mod transaction;
mod vault;

use fixtures::{
    audit, audit_kinds, auth_request, client, code, grant, granted, user, ISSUER, RESOURCE, T0,
};

contract!(
    client_lifecycle,
    auth_request_lifecycle,
    upsert_user_is_idempotent,
    users_are_keyed_by_issuer,
    grant_is_reused_while_active,
    signing_keys_single_current,
    upstream_audit_and_consent,
);

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

    // The leg's upstream (a choice on the consent page) becomes the request's.
    let leg = UpstreamLeg {
        state_hash: "state-1".into(),
        sealed: "sealed".into(),
        expires_at: T0 + 700,
        upstream_id: "chosen".into(),
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
            upstream_id: "chosen".into(),
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

/// OIDC Core §5.7: a `sub` is unique only per issuer. Re-pointing the upstream id `dev` at
/// another IdP yields another user; the same issuer reached through another upstream id is the
/// same user, now recorded as signing in through that id.
async fn users_are_keyed_by_issuer(store: Arc<dyn Store>) {
    let first = user("alice");
    let id = store.upsert_user(&first).await.unwrap();
    let other_idp = UserRecord {
        id: "other-id".into(),
        issuer: "https://other-idp.example.com".into(),
        ..user("alice")
    };
    assert_eq!(
        store.upsert_user(&other_idp).await.unwrap(),
        "other-id",
        "same upstream id and subject, another issuer: another person"
    );
    let renamed = UserRecord {
        upstream_id: "dev-renamed".into(),
        last_login_at: T0 + 5,
        ..user("alice")
    };
    assert_eq!(store.upsert_user(&renamed).await.unwrap(), id);
    let got = store.get_user(&id).await.unwrap().unwrap();
    assert_eq!(
        (
            got.upstream_id.as_str(),
            got.issuer.as_str(),
            got.last_login_at
        ),
        ("dev-renamed", ISSUER, T0 + 5)
    );
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
    // Retired keys go once nothing they signed can be valid; current and next keys never.
    assert_eq!(store.prune_retired_signing_keys(T0 + 10).await.unwrap(), 0);
    assert_eq!(store.prune_retired_signing_keys(T0 + 11).await.unwrap(), 1);
    let kids: Vec<_> = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k2"]);
    assert_eq!(store.prune_retired_signing_keys(i64::MAX).await.unwrap(), 0);
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

contract!(db: concurrent_migrate);

/// Instances starting together on one database (separate pools, as separate processes would
/// have): Postgres' migrator holds an advisory lock, SQLite's runs in one `BEGIN IMMEDIATE`
/// transaction; either way the others wait, all succeed, and each migration is applied once.
async fn concurrent_migrate(db: TestDb) {
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..4 {
        stores.push(dcr_bridge::store::connect(&db.url).await.unwrap());
    }
    let start = Arc::new(tokio::sync::Barrier::new(stores.len()));
    let runs: Vec<_> = stores
        .iter()
        .map(|s| {
            let (s, start) = (s.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                s.migrate().await
            })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    stores[0].migrate().await.unwrap();
    let dialect = if db.url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(
        applied_migrations(&db.url).await,
        migration_files(dialect),
        "each migration once"
    );
    stores[1]
        .insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    assert!(stores[2].get_client("c1").await.unwrap().is_some());
}

/// The versions of the migration files of `dialect` (`0003_gateway.sql` → 3), in order: the
/// expectation follows the directory, so a new migration needs no edit here.
fn migration_files(dialect: &str) -> Vec<i64> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let digits = name.strip_suffix(".sql")?.split('_').next()?.to_owned();
            Some(digits.parse().unwrap())
        })
        .collect();
    versions.sort_unstable();
    assert!(versions.len() >= 3, "{versions:?}");
    versions
}

/// The versions recorded in sqlx's bookkeeping table, one row per applied migration.
async fn applied_migrations(url: &str) -> Vec<i64> {
    use sqlx::Connection as _;
    let sql = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
    }
}
