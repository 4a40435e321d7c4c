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
use sqlx::{ConnectOptions as _, Connection as _, Sqlite};

use super::sql::{db_error, Dialect, SqlStore, UNIQUE_CONSTRAINTS};
use super::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a starting instance waits for another one's migrations (the pool's 5 s busy timeout
/// is for requests, not for a schema change that may rewrite a table).
const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(300);

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

    /// sqlx takes no lock for SQLite, so two processes starting on one file would both see a
    /// migration as pending and the second would fail ("table … already exists"). The whole run
    /// happens in one `BEGIN IMMEDIATE` transaction on a dedicated connection instead: its write
    /// lock is the cross-process lock (in WAL mode readers are not blocked), a concurrent starter
    /// queues on the busy timeout, and then finds every migration applied. The migrator's own
    /// per-migration transactions become savepoints inside it. A crash or error rolls back and
    /// releases the lock; nothing like `locking_mode=EXCLUSIVE` can be left behind on a pooled
    /// connection.
    async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
        let options = (*pool.connect_options())
            .clone()
            .busy_timeout(MIGRATION_LOCK_WAIT);
        let mut conn = options.connect().await.map_err(db_error::<Sqlite>)?;
        let mut tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error::<Sqlite>)?;
        // `run_direct` is `run` minus the `Acquire` indirection, whose higher-ranked bound
        // makes this future fail the `Send` check ("Acquire is not general enough").
        MIGRATOR.run_direct(&mut *tx).await?;
        tx.commit().await.map_err(db_error::<Sqlite>)?;
        conn.close().await.map_err(db_error::<Sqlite>)
    }
}
