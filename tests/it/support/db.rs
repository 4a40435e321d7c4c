//! Throwaway databases for tests: a SQLite file in a temp dir, or a fresh Postgres database on
//! the server named by `DCR_BRIDGE_TEST_POSTGRES_URL`, dropped again when the handle is dropped.

use std::sync::Arc;

use dcr_bridge::store::{self, Store};
use sqlx::{Connection, PgConnection};

/// Env var naming a maintenance connection of a Postgres server the tests may create databases on.
pub const POSTGRES_URL_VAR: &str = "DCR_BRIDGE_TEST_POSTGRES_URL";

/// One empty database (not migrated). Dropping it deletes it.
pub struct TestDb {
    /// URL to connect to it, as `store::connect` takes it.
    pub url: String,
    kind: Kind,
}

enum Kind {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A SQLite database in a fresh temp dir (the file is created on connect).
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        TestDb {
            url,
            kind: Kind::Sqlite { _dir: dir },
        }
    }

    /// A fresh Postgres database, or `None` (with a note on stderr) when no server is configured.
    /// Panics when none is configured under CI, so the Postgres half is never silently skipped.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "Postgres tests must run in CI: set {POSTGRES_URL_VAR}"
            );
            eprintln!("skipping Postgres: {POSTGRES_URL_VAR} is not set");
            return None;
        };
        let name = format!("dcr_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the Postgres test server");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = with_database(&admin_url, &name);
        Some(TestDb {
            url,
            kind: Kind::Postgres { admin_url, name },
        })
    }

    /// A connected, migrated store on this database.
    pub async fn store(&self) -> Arc<dyn Store> {
        let store = store::connect(&self.url).await.expect("connect store");
        store.migrate().await.expect("migrate");
        store
    }
}

/// `admin_url` with its database path replaced by `name` (query string kept).
fn with_database(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("valid Postgres URL");
    url.set_path(name);
    url.to_string()
}

impl Drop for TestDb {
    /// Best effort: a leftover database only costs disk. Runs on its own thread and runtime
    /// because `Drop` cannot await and may run inside (or outside) a Tokio runtime.
    fn drop(&mut self) {
        let Kind::Postgres { admin_url, name } = &self.kind else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(e) = sqlx::query(&sql).execute(&mut admin).await {
                        eprintln!("could not drop test database {name}: {e}");
                    }
                    admin.close().await.ok();
                }
            });
        });
        dropper.join().ok();
    }
}
