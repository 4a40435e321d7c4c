//! The database of one run: a fresh Postgres database (`dcr_bridge_bench_<pid>`, dropped at the
//! end) or a SQLite file in a temp dir; and, for Postgres, the CPU time of the server processes
//! that work for it.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row as _;

/// Which database a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "Postgres",
            Backend::Sqlite => "SQLite",
        }
    }
}

/// The database dcr-bridge runs on.
pub struct Database {
    pub backend: Backend,
    /// What `database_url` says.
    pub url: String,
    /// Postgres: a connection to the maintenance database (creates, watches and drops ours).
    admin: Option<(PgPool, String)>,
}

/// Reaches the Postgres server at `url` or fails naming it and the knob that sets it.
pub async fn admin_pool(url: &str) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .with_context(|| {
            format!(
                "Postgres is unreachable at {url} (set BENCH_POSTGRES_URL, or BENCH_DB=sqlite to \
                 skip Postgres)"
            )
        })
}

/// `SELECT version()`.
pub async fn postgres_version(pool: &PgPool) -> Result<String> {
    Ok(sqlx::query_scalar("SELECT version()")
        .fetch_one(pool)
        .await?)
}

impl Database {
    /// A new empty database for `backend`: Postgres through `pg_url`, SQLite under `dir`.
    pub async fn create(backend: Backend, pg_url: &str, dir: &Path) -> Result<Database> {
        match backend {
            Backend::Sqlite => Ok(Database {
                backend,
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                admin: None,
            }),
            Backend::Postgres => {
                let pool = admin_pool(pg_url).await?;
                drop_orphans(&pool).await?;
                let name = format!("dcr_bridge_bench_{}", std::process::id());
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&pool)
                    .await?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await
                    .with_context(|| format!("CREATE DATABASE {name}"))?;
                let mut url = url::Url::parse(pg_url).context("BENCH_POSTGRES_URL")?;
                url.set_path(&format!("/{name}"));
                Ok(Database {
                    backend,
                    url: url.to_string(),
                    admin: Some((pool, name)),
                })
            }
        }
    }

    /// CPU time so far of each Postgres process working for this database: its backends, and
    /// the checkpointer, background writer and WAL writer (`shared`: they write what those
    /// backends commit, and also what other databases of this server commit). Backends of other
    /// databases (other users of this server) are left out, which summing every process named
    /// `postgres` would not do on a shared machine. Empty on SQLite (the database is inside the
    /// dcr-bridge process and its CPU counts there).
    pub async fn cpu_by_pid(&self) -> Result<HashMap<u32, PgCpu>> {
        let Some((pool, name)) = &self.admin else {
            return Ok(HashMap::new());
        };
        let rows = sqlx::query(
            "SELECT pid, datname IS DISTINCT FROM $1 AS shared FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND (datname = $1 \
             OR backend_type IN ('checkpointer', 'background writer', 'walwriter'))",
        )
        .bind(name)
        .fetch_all(pool)
        .await?;
        let mut by_pid = HashMap::new();
        for row in rows {
            let pid: i32 = row.try_get("pid")?;
            let shared: bool = row.try_get("shared")?;
            let pid = u32::try_from(pid)?;
            if let Some(cpu) = crate::procs::cpu_of(pid) {
                by_pid.insert(pid, PgCpu { cpu, shared });
            }
        }
        Ok(by_pid)
    }

    /// Whether this database's CPU is measured apart (Postgres) or inside dcr-bridge (SQLite).
    pub fn measured_apart(&self) -> bool {
        self.admin.is_some()
    }

    /// Drops the Postgres database (its connections closed by force); SQLite's temp dir goes
    /// with its owner.
    pub async fn drop_database(self) -> Result<()> {
        if let Some((pool, name)) = self.admin {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await
                .with_context(|| format!("DROP DATABASE {name}"))?;
            pool.close().await;
        }
        Ok(())
    }
}

/// CPU time so far of one Postgres process, and whether it is a shared writer.
#[derive(Clone, Copy)]
pub struct PgCpu {
    cpu: Duration,
    shared: bool,
}

/// CPU consumed between two [`Database::cpu_by_pid`] snapshots: (all, of which shared writers).
/// A backend that appeared in between counts whole (it was opened for this run).
pub fn cpu_between(
    before: &HashMap<u32, PgCpu>,
    after: &HashMap<u32, PgCpu>,
) -> (Duration, Duration) {
    let mut all = Duration::ZERO;
    let mut shared = Duration::ZERO;
    for (pid, now) in after {
        let then = before.get(pid).map(|p| p.cpu).unwrap_or_default();
        let used = now.cpu.saturating_sub(then);
        all += used;
        if now.shared {
            shared += used;
        }
    }
    (all, shared)
}

/// Drops `dcr_bridge_bench_<pid>` databases whose bench process is gone (a run that was killed
/// before it could clean up).
async fn drop_orphans(pool: &PgPool) -> Result<()> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'dcr\\_bridge\\_bench\\_%'",
    )
    .fetch_all(pool)
    .await?;
    for name in names {
        let Some(pid) = name
            .strip_prefix("dcr_bridge_bench_")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            bail!("unexpected database name {name:?}");
        }
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(pool)
            .await
            .with_context(|| format!("dropping the orphaned {name}"))?;
    }
    Ok(())
}
