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
use super::{PoolOptions, StoreError};

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
        Self::connect_with(url, PoolOptions::default()).await
    }

    /// [`Self::connect`] where `options.acquire_timeout` bounds every wait of a request: for a
    /// pooled connection, for this process's turn to write, and for the file's write lock held
    /// by another process (the busy timeout). Beyond it the request fails as unavailable
    /// ([`StoreError::is_unavailable`]). The pool keeps its own small size: one writer at a
    /// time, readers concurrent under WAL.
    ///
    /// # Errors
    /// As [`Self::connect`].
    pub async fn connect_with(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(db_error::<Sqlite>)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.acquire_timeout)
            .foreign_keys(true);
        let pool: SqlitePool = SqlitePoolOptions::new()
            .max_connections(8)
            // sqlx pings an idle connection before handing it out (one round trip to the
            // connection's worker thread, two thread wake-ups, per acquire: about a sixth of a
            // sign-in flow's database work). A connection to a local file cannot have been
            // dropped by a peer, so there is nothing to test.
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
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
    // One writer per file: this process queues its own writers in order instead of letting
    // them retry in the busy handler.
    const ONE_WRITER: bool = true;

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
    ///
    /// The connection runs with foreign keys off: SQLite changes a constraint only by rebuilding
    /// the table, and with them on, dropping the old table would cascade into its children
    /// (<https://sqlite.org/lang_altertable.html#otheralter>). The pragma cannot change inside a
    /// transaction, hence on the connection; `foreign_key_check` then vets the result before
    /// the commit, so a migration cannot leave dangling references behind.
    async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
        let options = (*pool.connect_options())
            .clone()
            .busy_timeout(MIGRATION_LOCK_WAIT)
            .foreign_keys(false);
        let mut conn = options.connect().await.map_err(db_error::<Sqlite>)?;
        let mut tx = conn
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error::<Sqlite>)?;
        // `run_direct` is `run` minus the `Acquire` indirection, whose higher-ranked bound
        // makes this future fail the `Send` check ("Acquire is not general enough").
        MIGRATOR.run_direct(&mut *tx).await?;
        // Only when something was applied (each applied migration writes its bookkeeping row):
        // the check reads every table, too much for every start of a large database.
        let applied: i64 = sqlx::query_scalar("SELECT total_changes()")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error::<Sqlite>)?;
        let dangling = if applied > 0 {
            sqlx::query("PRAGMA foreign_key_check")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error::<Sqlite>)?
        } else {
            None
        };
        if dangling.is_some() {
            return Err(StoreError::Corrupt(
                "migrations left a foreign key violation; rolled back".to_owned(),
            ));
        }
        tx.commit().await.map_err(db_error::<Sqlite>)?;
        conn.close().await.map_err(db_error::<Sqlite>)?;
        if applied > 0 {
            // A pooled connection opened before the change (the pool opens one at connect)
            // keeps the old schema until its next statement runs, and would expand a `SELECT *`
            // prepared now to the old columns while the step returns the new ones. Closing the
            // idle ones makes every later statement run on a connection that read the new schema.
            for _ in 0..pool.size() {
                let Some(idle) = pool.try_acquire() else {
                    break;
                };
                idle.close().await.map_err(db_error::<Sqlite>)?;
            }
        }
        Ok(())
    }
}
