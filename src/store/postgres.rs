//! Postgres backend: the shared SQL store over a `PgPool`, the production database.

use async_trait::async_trait;
use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions, PgQueryResult};
use sqlx::Postgres;

use super::changes::{REVOCATIONS_CHANNEL, SIGNING_KEYS_CHANNEL};
use super::sql::{db_error, Dialect, SqlStore, UNIQUE_CONSTRAINTS};
use super::{Change, ChangeFeed, PoolOptions, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// The Postgres store.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects a pool to `url` (`postgres://…`) with the default [`PoolOptions`]. Does not
    /// migrate.
    ///
    /// # Errors
    /// Fails when the server cannot be reached or refuses the connection.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PoolOptions::default()).await
    }

    /// Connects a pool of at most `options.max_connections` to `url`; a request waits at most
    /// `options.acquire_timeout` for a connection, then fails as unavailable
    /// ([`StoreError::is_unavailable`]). Does not migrate.
    ///
    /// # Errors
    /// Fails when the server cannot be reached or refuses the connection.
    pub async fn connect_with(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let pool: PgPool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect(url)
            .await
            .map_err(db_error::<Postgres>)?;
        Ok(Self::from_pool(pool))
    }
}

#[async_trait]
impl Dialect for Postgres {
    const BACKEND: &'static str = "postgres";
    // READ COMMITTED: a conditional UPDATE waits for a concurrent writer of the same row and
    // then re-checks its WHERE clause against the committed row, which is what single use needs.
    const BEGIN_WRITE: &'static str = "BEGIN";

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn conflict(err: &dyn DatabaseError) -> Option<&'static str> {
        let name = err.constraint()?;
        UNIQUE_CONSTRAINTS
            .iter()
            .find(|(pg, _, _)| *pg == name)
            .map(|(_, _, meaning)| *meaning)
    }

    /// sqlx's Postgres migrator holds an advisory lock while it runs, so concurrent instances
    /// starting together apply each migration once.
    async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
        Ok(MIGRATOR.run(pool).await?)
    }

    /// LISTEN on the channels the triggers of migration 0009 notify. The listener keeps one of
    /// the pool's connections for itself (and takes another from the pool to reconnect).
    async fn watch(pool: &PgPool) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        let mut listener = PgListener::connect_with(pool)
            .await
            .map_err(db_error::<Postgres>)?;
        listener
            .listen_all([REVOCATIONS_CHANNEL, SIGNING_KEYS_CHANNEL])
            .await
            .map_err(db_error::<Postgres>)?;
        Ok(Some(Box::new(PgChanges(listener))))
    }
}

/// The LISTEN connection.
struct PgChanges(PgListener);

#[async_trait]
impl ChangeFeed for PgChanges {
    async fn next(&mut self) -> Result<Change, StoreError> {
        // `try_recv` reports a lost connection as `None` (the next call reconnects and listens
        // again), where `recv` would reconnect silently and hide that notifications were missed.
        match self.0.try_recv().await.map_err(db_error::<Postgres>)? {
            None => Ok(Change::Lost),
            Some(n) if n.channel() == SIGNING_KEYS_CHANNEL => Ok(Change::SigningKeys),
            Some(_) => Ok(Change::Revocations),
        }
    }
}
