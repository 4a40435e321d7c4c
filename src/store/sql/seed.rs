//! Bulk SQL of `dcr-bridge seed` (src/seed.rs): many rows per statement, one transaction per
//! batch, into the real tables so that their indexes and foreign keys do the work they do in
//! production.
//!
//! Kept apart from the [`Store`](crate::store::Store) trait on purpose: nothing serving requests
//! needs it, and its statements are shaped for throughput (Postgres binds one array per column
//! and `UNNEST`s them; SQLite binds multi-row `VALUES` up to its variable limit), which the
//! one-row `Exec` abstraction of the other modules cannot express.

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{Postgres, Sqlite};

use super::{db_error, SqlStore};
use crate::store::{Store as _, StoreError};

/// `software_id` of every seeded client.
pub const SEED_SOFTWARE_ID: &str = "dcr-bridge-seed";
/// Prefix of every seeded user's subject (`seed-<n>`).
pub const SEED_SUBJECT_PREFIX: &str = "seed-";
/// Domain of every seeded user's email: `.invalid` (RFC 2606) is one no identity provider can
/// assert, so a real user whose subject happens to start with `seed-` is never taken for one.
pub const SEED_EMAIL_DOMAIN: &str = "seed.invalid";

/// SQLite binds at most this many variables per statement (SQLITE_MAX_VARIABLE_NUMBER).
const SQLITE_MAX_VARIABLES: usize = 32_766;

const SEEDED_CLIENTS: &str =
    "SELECT client_id FROM clients WHERE kind = 'dcr' AND software_id = 'dcr-bridge-seed'";
const SEEDED_USERS: &str =
    "SELECT id FROM users WHERE subject LIKE 'seed-%' AND email LIKE '%@seed.invalid'";

/// One column of a batch, all rows' values in order.
#[derive(Debug, Clone)]
pub enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<bool>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Self::Text(v) => v.len(),
            Self::Int(v) => v.len(),
            Self::Bool(v) => v.len(),
        }
    }

    fn pg_array_type(&self) -> &'static str {
        match self {
            Self::Text(_) => "text[]",
            Self::Int(_) => "int8[]",
            Self::Bool(_) => "bool[]",
        }
    }
}

/// Rows for one table, column by column.
#[derive(Debug, Clone)]
pub struct TableRows {
    pub table: &'static str,
    pub columns: Vec<(&'static str, Column)>,
}

impl TableRows {
    /// Rows in the batch (every column has as many values).
    #[must_use]
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    /// Whether the batch holds no row.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The database being seeded, by its own pool (the store's, opened with the same options).
pub enum SeedDb {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl SeedDb {
    /// Connects to `url` as `serve` does and applies pending migrations.
    ///
    /// # Errors
    /// Unknown scheme, unreachable database, failed migration.
    pub async fn connect_migrated(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let store = SqlStore::<Postgres>::connect(url).await?;
            store.migrate().await?;
            Ok(Self::Postgres(store.pool().clone()))
        } else if url.starts_with("sqlite:") {
            let store = SqlStore::<Sqlite>::connect(url).await?;
            store.migrate().await?;
            Ok(Self::Sqlite(store.pool().clone()))
        } else {
            Err(StoreError::Corrupt(
                "unsupported database_url scheme (use postgres:// or sqlite://)".to_owned(),
            ))
        }
    }

    /// Seeded clients and seeded grants now in the database.
    ///
    /// # Errors
    /// A failed query.
    pub async fn counts(&self) -> Result<(u64, u64), StoreError> {
        let clients = self
            .count(&format!("SELECT COUNT(*) FROM ({SEEDED_CLIENTS}) s"))
            .await?;
        let grants = self
            .count(&format!(
                "SELECT COUNT(*) FROM grants WHERE user_id IN ({SEEDED_USERS})"
            ))
            .await?;
        Ok((clients, grants))
    }

    /// The ids of every seeded client, in a stable order.
    ///
    /// # Errors
    /// A failed query.
    pub async fn seeded_client_ids(&self) -> Result<Vec<String>, StoreError> {
        let sql = format!("{SEEDED_CLIENTS} ORDER BY client_id");
        match self {
            Self::Postgres(pool) => sqlx::query_scalar(&sql)
                .fetch_all(pool)
                .await
                .map_err(db_error::<Postgres>),
            Self::Sqlite(pool) => sqlx::query_scalar(&sql)
                .fetch_all(pool)
                .await
                .map_err(db_error::<Sqlite>),
        }
    }

    /// The first unused `n` of seeded subjects `seed-<n>`: one past the highest (not the count,
    /// so that a seeded user deleted by hand leaves no number to collide with).
    ///
    /// # Errors
    /// A failed query.
    pub async fn next_user_number(&self) -> Result<u64, StoreError> {
        self.count(
            "SELECT COALESCE(MAX(CAST(SUBSTR(subject, 6) AS BIGINT)) + 1, 0) FROM users \
             WHERE subject LIKE 'seed-%' AND email LIKE '%@seed.invalid'",
        )
        .await
    }

    async fn count(&self, sql: &str) -> Result<u64, StoreError> {
        let n: i64 = match self {
            Self::Postgres(pool) => sqlx::query_scalar(sql)
                .fetch_one(pool)
                .await
                .map_err(db_error::<Postgres>)?,
            Self::Sqlite(pool) => sqlx::query_scalar(sql)
                .fetch_one(pool)
                .await
                .map_err(db_error::<Sqlite>)?,
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Inserts `tables` in order (parents before children) in one transaction; returns the rows
    /// inserted.
    ///
    /// # Errors
    /// A failed statement; nothing of the batch is kept.
    pub async fn insert(&self, tables: &[TableRows]) -> Result<u64, StoreError> {
        match self {
            Self::Postgres(pool) => insert_pg(pool, tables).await,
            Self::Sqlite(pool) => {
                let mut conn = pool.acquire().await.map_err(db_error::<Sqlite>)?;
                insert_sqlite(&mut conn, tables).await
            }
        }
    }

    /// Deletes every seeded row, and what hangs from it, in one transaction; returns the rows
    /// deleted (cascaded rows not counted).
    ///
    /// # Errors
    /// A failed statement; nothing is deleted then.
    pub async fn remove(&self) -> Result<u64, StoreError> {
        let grants = format!("SELECT id FROM grants WHERE user_id IN ({SEEDED_USERS})");
        let statements = [
            format!("DELETE FROM audit_events WHERE client_id IN ({SEEDED_CLIENTS})"),
            format!("DELETE FROM audit_events WHERE user_id IN ({SEEDED_USERS})"),
            format!("DELETE FROM access_tokens WHERE grant_id IN ({grants})"),
            format!("DELETE FROM authorization_codes WHERE grant_id IN ({grants})"),
            format!(
                "DELETE FROM refresh_tokens WHERE family_id IN \
                 (SELECT id FROM token_families WHERE grant_id IN ({grants}))"
            ),
            format!("DELETE FROM token_families WHERE grant_id IN ({grants})"),
            format!("DELETE FROM consents WHERE user_id IN ({SEEDED_USERS})"),
            format!("DELETE FROM grants WHERE user_id IN ({SEEDED_USERS})"),
            format!("DELETE FROM users WHERE id IN ({SEEDED_USERS})"),
            format!("DELETE FROM clients WHERE client_id IN ({SEEDED_CLIENTS})"),
        ];
        match self {
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(db_error::<Postgres>)?;
                let mut removed = 0;
                for sql in &statements {
                    removed += sqlx::query(sql)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error::<Postgres>)?
                        .rows_affected();
                }
                tx.commit().await.map_err(db_error::<Postgres>)?;
                Ok(removed)
            }
            Self::Sqlite(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(db_error::<Sqlite>)?;
                let mut removed = 0;
                for sql in &statements {
                    removed += sqlx::query(sql)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error::<Sqlite>)?
                        .rows_affected();
                }
                tx.commit().await.map_err(db_error::<Sqlite>)?;
                Ok(removed)
            }
        }
    }
}

/// One `INSERT … SELECT * FROM UNNEST($1::text[], …)` per table: a single round trip and a
/// single plan however many rows the batch holds.
async fn insert_pg(pool: &PgPool, tables: &[TableRows]) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await.map_err(db_error::<Postgres>)?;
    let mut inserted = 0;
    for t in tables.iter().filter(|t| !t.is_empty()) {
        let arrays = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, c))| format!("${}::{}", i + 1, c.pg_array_type()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) SELECT * FROM UNNEST({arrays})",
            t.table,
            t.column_list()
        );
        let mut query = sqlx::query(&sql);
        for (_, column) in &t.columns {
            query = match column {
                Column::Text(v) => query.bind(v),
                Column::Int(v) => query.bind(v),
                Column::Bool(v) => query.bind(v),
            };
        }
        inserted += query
            .execute(&mut *tx)
            .await
            .map_err(db_error::<Postgres>)?
            .rows_affected();
    }
    tx.commit().await.map_err(db_error::<Postgres>)?;
    Ok(inserted)
}

/// Multi-row `VALUES` of as many rows as SQLite's variable limit allows, all in one
/// `BEGIN IMMEDIATE` transaction on one connection (whose statement cache reuses the prepared
/// full-size statement from chunk to chunk).
async fn insert_sqlite(
    conn: &mut PoolConnection<Sqlite>,
    tables: &[TableRows],
) -> Result<u64, StoreError> {
    use sqlx::Connection as _;
    // The indexes on random keys (uuids, hashes) outgrow SQLite's default 2 MB page cache long
    // before a million rows; with it every insert rereads index pages from the file.
    sqlx::query("PRAGMA cache_size = -131072")
        .execute(&mut **conn)
        .await
        .map_err(db_error::<Sqlite>)?;
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(db_error::<Sqlite>)?;
    let mut inserted = 0;
    for t in tables.iter().filter(|t| !t.is_empty()) {
        let width = t.columns.len();
        let per_statement = (SQLITE_MAX_VARIABLES / width).max(1);
        let row = format!("({})", vec!["?"; width].join(", "));
        let mut start = 0;
        while start < t.len() {
            let end = (start + per_statement).min(t.len());
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {}",
                t.table,
                t.column_list(),
                vec![row.as_str(); end - start].join(", ")
            );
            let mut query = sqlx::query(&sql);
            for r in start..end {
                for (_, column) in &t.columns {
                    query = match column {
                        Column::Text(v) => query.bind(v.get(r).and_then(Option::as_deref)),
                        Column::Int(v) => query.bind(v.get(r).copied().flatten()),
                        Column::Bool(v) => query.bind(v.get(r).copied().unwrap_or(false)),
                    };
                }
            }
            inserted += query
                .execute(&mut *tx)
                .await
                .map_err(db_error::<Sqlite>)?
                .rows_affected();
            start = end;
        }
    }
    tx.commit().await.map_err(db_error::<Sqlite>)?;
    Ok(inserted)
}
