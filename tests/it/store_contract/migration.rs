//! Migration 0002 on a database holding version-1 data: users get an issuer (and are keyed by
//! it), families get their grant's scope, and nothing hanging off users is lost (SQLite rebuilds
//! the table).

use std::path::Path;

use dcr_bridge::store::UserRecord;

use super::fixtures::user;
use crate::support::db::TestDb;

contract!(db: version_2_backfills_issuers_and_family_scopes);

/// Version-1 rows: upstream `a` discovered (metadata issuer differs from the configured one),
/// `b` only configured, `c` never recorded; `a2` is a second id for `a`'s IdP, whose subject
/// `s2` collides with `a`'s once keyed by issuer.
const V1_ROWS: &[&str] = &[
    "INSERT INTO upstreams (id, issuer, metadata, status, checked_at) VALUES \
     ('a', 'https://a.example/', '{\"issuer\":\"https://a.example\"}', 'ok', 1), \
     ('a2', 'https://a.example/', '{\"issuer\":\"https://a.example\"}', 'ok', 1), \
     ('b', 'https://b.example/', NULL, 'discovery failed', 1)",
    "INSERT INTO users (id, upstream_id, subject, email, name, groups, created_at, last_login_at) VALUES \
     ('u-a', 'a', 's1', NULL, NULL, '[]', 1, 1), \
     ('u-b', 'b', 's1', NULL, NULL, '[]', 1, 1), \
     ('u-c', 'c', 's1', NULL, NULL, '[]', 1, 1), \
     ('u-a-s2', 'a', 's2', NULL, NULL, '[]', 1, 5), \
     ('u-a2-s2', 'a2', 's2', NULL, NULL, '[]', 1, 3)",
    "INSERT INTO clients (client_id, kind, token_endpoint_auth_method, redirect_uris, grant_types, \
     response_types, application_type, contacts, upstream_id, created_at, updated_at) VALUES \
     ('c1', 'dcr', 'none', '[]', '[]', '[]', 'native', '[]', 'a', 1, 1)",
    "INSERT INTO consents (user_id, client_id, scope, resource, created_at) VALUES \
     ('u-a', 'c1', 'read write', 'https://mcp.example.com/', 1)",
    "INSERT INTO grants (id, user_id, client_id, resource, scope, created_at, updated_at) VALUES \
     ('g1', 'u-a', 'c1', 'https://mcp.example.com/', 'read write', 1, 1)",
    "INSERT INTO token_families (id, grant_id, client_id, created_at) VALUES ('f1', 'g1', 'c1', 1)",
    "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) \
     VALUES ('rt-1', 'f1', 1, 9999999999)",
];

async fn version_2_backfills_issuers_and_family_scopes(db: TestDb) {
    use sqlx::Connection as _;
    // Version 1 only, applied by sqlx from a copy of the shipped file (same checksum), then
    // filled the way a version-1 server would have.
    let dialect = if db.url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let v1 = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("migrations/{dialect}/0001_init.sql")),
        v1.path().join("0001_init.sql"),
    )
    .unwrap();
    let migrator = sqlx::migrate::Migrator::new(v1.path()).await.unwrap();
    if dialect == "sqlite" {
        let create = format!("{}?mode=rwc", db.url);
        let mut conn = sqlx::SqliteConnection::connect(&create).await.unwrap();
        migrator.run(&mut conn).await.unwrap();
        for sql in V1_ROWS {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        migrator.run(&mut conn).await.unwrap();
        for sql in V1_ROWS {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    }

    let store = db.store().await;
    let issuer = |id: &'static str| {
        let store = store.clone();
        async move { store.get_user(id).await.unwrap().unwrap().issuer }
    };
    assert_eq!(
        issuer("u-a").await,
        "https://a.example",
        "discovered issuer"
    );
    assert_eq!(
        issuer("u-b").await,
        "https://b.example/",
        "configured issuer"
    );
    assert_eq!(
        issuer("u-c").await,
        "legacy:c",
        "unknown upstream: not attributed"
    );
    assert_eq!(
        issuer("u-a-s2").await,
        "https://a.example",
        "most recent login wins"
    );
    assert_eq!(
        issuer("u-a2-s2").await,
        "legacy:a2",
        "never merged on a guess"
    );

    // Nothing under the users was lost, and the family has the grant's scope.
    let grant = store.get_grant("g1").await.unwrap().unwrap();
    assert_eq!((grant.user_id.as_str(), grant.revoked_at), ("u-a", None));
    let rt = store.get_refresh_token("rt-1").await.unwrap().unwrap();
    assert_eq!(rt.family.scope, "read write");
    assert_eq!(
        count(
            &db.url,
            "SELECT COUNT(*) FROM consents WHERE user_id = 'u-a'"
        )
        .await,
        1,
        "the version-1 consent survived the users rebuild"
    );

    // The migrated key is live: the same person signing in again keeps their id.
    let again = UserRecord {
        upstream_id: "a".into(),
        issuer: "https://a.example".into(),
        subject: "s1".into(),
        ..user("s1")
    };
    assert_eq!(store.upsert_user(&again).await.unwrap(), "u-a");
}

async fn count(url: &str, sql: &str) -> i64 {
    use sqlx::Connection as _;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}
