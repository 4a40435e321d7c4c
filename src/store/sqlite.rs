//! SQLite backend: the shared SQL store over a `SqlitePool`, the embedded single-machine default.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::Sqlite;

use super::sql::{db_error, Dialect, SqlStore, UNIQUE_CONSTRAINTS};
use super::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// The SQLite store.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating it if missing) the database file of `url` (`sqlite://path`), in WAL mode
    /// with foreign keys on and a 5 s busy timeout. Does not migrate.
    ///
    /// # Errors
    /// Fails when the URL is malformed or the file cannot be opened or created.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db_error::<Sqlite>)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool: SqlitePool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(db_error::<Sqlite>)?;
        Ok(Self::from_pool(pool))
    }
}

#[async_trait]
impl Dialect for Sqlite {
    const BACKEND: &'static str = "sqlite";
    // A deferred transaction that reads first and then writes cannot wait for another writer:
    // SQLite fails it with SQLITE_BUSY at once. IMMEDIATE takes the write lock up front, so
    // concurrent writers queue on the busy timeout instead.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    /// SQLite names the columns, not the constraint: "UNIQUE constraint failed: t.a, t.b".
    fn conflict(err: &dyn DatabaseError) -> Option<&'static str> {
        if err.kind() != ErrorKind::UniqueViolation {
            return None;
        }
        let columns = err.message().strip_prefix("UNIQUE constraint failed: ")?;
        UNIQUE_CONSTRAINTS
            .iter()
            .find(|(_, cols, _)| *cols == columns)
            .map(|(_, _, meaning)| *meaning)
    }

    async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
        Ok(MIGRATOR.run(pool).await?)
    }
}
