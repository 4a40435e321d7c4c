//! Throwaway databases for tests: a SQLite file in a temp dir, or a fresh Postgres database on
//! the server named by `DCR_BRIDGE_TEST_POSTGRES_URL` (default: the local server at
//! [`DEFAULT_POSTGRES_URL`]), dropped again when the handle is dropped.

use std::sync::Arc;
use std::time::Duration;

use dcr_bridge::store::{self, Store};
use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;

use super::prereq::{self, Prereq};

/// Env var naming a maintenance connection of a Postgres server the tests may create databases on.
pub const POSTGRES_URL_VAR: &str = "DCR_BRIDGE_TEST_POSTGRES_URL";
/// Used when [`POSTGRES_URL_VAR`] is unset: the server `.ci/run` and the README set up.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The maintenance URL that answered, or why none did; probed once per test process.
static ADMIN_URL: OnceCell<Result<String, String>> = OnceCell::const_new();

async fn probe_admin_url() -> Result<String, String> {
    let (url, named) = match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) => (url, true),
        Err(_) => (DEFAULT_POSTGRES_URL.to_owned(), false),
    };
    let connected =
        tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(&url)).await;
    let why = match connected {
        Ok(Ok(conn)) => {
            conn.close().await.ok();
            return Ok(url);
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 10 s".to_owned(),
    };
    Err(if named {
        format!("{POSTGRES_URL_VAR} is set, but that server does not answer: {why}")
    } else {
        format!(
            "{POSTGRES_URL_VAR} is unset and {DEFAULT_POSTGRES_URL} does not answer ({why}); \
             start Postgres there or set {POSTGRES_URL_VAR} to a server the tests may create \
             databases on"
        )
    })
}

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

    /// A fresh Postgres database. Without a server that answers, the test fails naming the
    /// prerequisite, unless Postgres is opted out ([`prereq::SKIP_VAR`]): then `None`, after
    /// a visible notice.
    pub async fn postgres() -> Option<TestDb> {
        let probe = || async {
            ADMIN_URL
                .get_or_init(probe_admin_url)
                .await
                .as_ref()
                .map(|_| ())
                .map_err(Clone::clone)
        };
        if !prereq::require(Prereq::Postgres, probe).await {
            return None;
        }
        let admin_url = ADMIN_URL.get()?.clone().ok()?;
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
