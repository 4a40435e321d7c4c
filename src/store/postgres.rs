//! Postgres backend: the shared SQL store over a `PgPool`, the production database.

use async_trait::async_trait;
use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions, PgQueryResult};
use sqlx::Postgres;

use super::sql::{db_error, Dialect, SqlStore, UNIQUE_CONSTRAINTS};
use super::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// The Postgres store.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects a pool to `url` (`postgres://…`). Does not migrate.
    ///
    /// # Errors
    /// Fails when the server cannot be reached or refuses the connection.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool: PgPool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(10))
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
}
