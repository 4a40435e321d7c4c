//! The `[database]` section: the connection pool of `database_url`, and how long a request
//! waits for a connection before it is answered 503 `temporarily_unavailable`.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};
use crate::store::PoolOptions;

/// The connection pool (Postgres; the SQLite file keeps its own small pool).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// The most connections one process opens. Default 16.
    pub max_connections: u32,
    /// Seconds a request waits for a connection (including opening one) before it fails with
    /// 503 `temporarily_unavailable`: while the database is down, no request hangs longer.
    /// Default 5.
    pub acquire_timeout_seconds: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        let pool = PoolOptions::default();
        Self {
            max_connections: pool.max_connections,
            acquire_timeout_seconds: pool.acquire_timeout.as_secs(),
        }
    }
}

impl DatabaseSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=1000).contains(&self.max_connections) {
            return Err(invalid("database.max_connections", "must be 1..=1000"));
        }
        if !(1..=120).contains(&self.acquire_timeout_seconds) {
            return Err(invalid(
                "database.acquire_timeout_seconds",
                "must be 1..=120 seconds",
            ));
        }
        Ok(())
    }

    /// The pool these settings describe.
    #[must_use]
    pub fn pool(&self) -> PoolOptions {
        PoolOptions {
            max_connections: self.max_connections,
            acquire_timeout: std::time::Duration::from_secs(self.acquire_timeout_seconds),
        }
    }
}
