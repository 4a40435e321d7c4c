//! Issue 15 item 5's benchmark: every performance target measured on real processes, each
//! beside a baseline from the same run, on Postgres and SQLite, from 1k to 1M stored grants.
//!
//! ```sh
//! cargo bench --bench performance
//! BENCH_DB=sqlite BENCH_SCALES=1000 BENCH_SECONDS=1 cargo bench --bench performance  # smoke
//! ```
//!
//! Knobs: `BENCH_DB` = `postgres`, `sqlite` or `both` (default); `BENCH_SCALES` (default
//! `1000,10000,100000,1000000` stored clients and grants); `BENCH_SECONDS` per scenario
//! (default 5); `BENCH_CONCURRENCY` workers (default 8); `BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`; unreachable, the run fails naming it);
//! `BENCH_SIGNING_ALG` (`[tokens] signing_algorithm`; default: the server's own).
//!
//! `dcr-bridge dev-idp`, `dcr-bridge demo-mcp` and `dcr-bridge serve` run as their own processes
//! (the bench profile's build of the binary), so the CPU time of each is read apart from
//! `/proc`, and the load generator's too. See `docs/performance.md`.

#[path = "performance/db.rs"]
mod db;
#[path = "performance/load.rs"]
mod load;
#[path = "performance/procs.rs"]
mod procs;
#[path = "performance/report.rs"]
mod report;
#[path = "performance/scenarios.rs"]
mod scenarios;
#[path = "performance/topology.rs"]
mod topology;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use db::{Backend, Database};
use report::{Machine, NotRun, ScaleResult};
use topology::Upstreams;

/// The settings of a run, from the environment.
struct Knobs {
    backends: Vec<Backend>,
    scales: Vec<u64>,
    seconds: u64,
    workers: usize,
    postgres_url: String,
    /// `[tokens] signing_algorithm`; `None`: the server's default.
    signing_algorithm: Option<String>,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(name: &str, value: &str) -> Result<T> {
    match value.trim().parse::<T>() {
        Ok(v) if v > T::default() => Ok(v),
        _ => bail!("{name}={value}: expected a positive integer"),
    }
}

impl Knobs {
    fn from_env() -> Result<Knobs> {
        let backends = match env_or("BENCH_DB", "both").as_str() {
            "both" => vec![Backend::Postgres, Backend::Sqlite],
            "postgres" => vec![Backend::Postgres],
            "sqlite" => vec![Backend::Sqlite],
            other => bail!("BENCH_DB={other}: expected postgres, sqlite or both"),
        };
        let mut scales = env_or("BENCH_SCALES", "1000,10000,100000,1000000")
            .split(',')
            .map(|s| positive::<u64>("BENCH_SCALES", s))
            .collect::<Result<Vec<_>>>()?;
        scales.sort_unstable();
        scales.dedup();
        Ok(Knobs {
            backends,
            scales,
            seconds: positive("BENCH_SECONDS", &env_or("BENCH_SECONDS", "5"))?,
            workers: positive("BENCH_CONCURRENCY", &env_or("BENCH_CONCURRENCY", "8"))?,
            postgres_url: env_or(
                "BENCH_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            signing_algorithm: std::env::var("BENCH_SIGNING_ALG")
                .ok()
                .filter(|v| !v.trim().is_empty()),
        })
    }

    fn describe(&self) -> String {
        format!(
            "BENCH_DB={} BENCH_SCALES={} BENCH_SECONDS={} BENCH_CONCURRENCY={} BENCH_SIGNING_ALG={}",
            self.backends
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join("+"),
            self.scales
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            self.seconds,
            self.workers,
            self.signing_algorithm.as_deref().unwrap_or("(server default)")
        )
    }
}

/// How long `serve` is left alone after start before its idle memory is read.
const IDLE: Duration = Duration::from_secs(2);

/// Every scale on one database: seed (top up), start `serve` afresh, measure, stop it.
async fn run_backend(
    k: &Knobs,
    up: &Upstreams,
    db: &Database,
    dir: &Path,
    has_seed: bool,
    results: &mut Vec<ScaleResult>,
    not_run: &mut Vec<NotRun>,
) -> Result<()> {
    let config = topology::write_bridge_config(dir, up, &db.url, k.signing_algorithm.as_deref())?;
    for (i, &scale) in k.scales.iter().enumerate() {
        let name = db.backend.name();
        let seeded = if has_seed {
            eprintln!("[bench] {name}: seeding to {scale} clients and grants");
            // `seed` applies the migrations itself, on the fresh database too.
            let seed = topology::seed(&config, scale).await?;
            eprintln!("[bench] {name}: seeded: {seed}");
            Some(seed)
        } else if i == 0 {
            None
        } else {
            not_run.push(NotRun {
                backend: db.backend,
                scale,
                why: "this build has no `seed` subcommand, so nothing makes the data set".into(),
            });
            continue;
        };

        eprintln!("[bench] {name}, scale {scale}: starting serve");
        let (bridge, base) = topology::start_bridge(&config, up, dir).await?;
        // Idle means after start-up work (migrations check, key load); the CPU it spends in the
        // idle window shows background work (housekeeping) that would otherwise be counted
        // against whichever scenario it overlaps.
        let idle_from = bridge.cpu()?;
        tokio::time::sleep(IDLE).await;
        let rss_idle = bridge.rss_mib()?;
        let idle_cpu_ms_per_s =
            bridge.cpu()?.saturating_sub(idle_from).as_secs_f64() * 1e3 / IDLE.as_secs_f64();
        let signing = topology::published_algorithms(&base).await?;
        let target = Arc::new(load::Target {
            resource: format!("{base}/mcp"),
            base,
            mcp_direct: up.mcp_url.clone(),
            rs_id: topology::RS_ID.into(),
            rs_secret: topology::RS_SECRET.into(),
        });
        let probe = scenarios::Probe {
            server: &bridge,
            db,
            up,
        };
        eprintln!("[bench] {name}, scale {scale}: scenarios");
        let rows = scenarios::run_all(&probe, &target, k.workers, Duration::from_secs(k.seconds))
            .await
            .map_err(|e| anyhow::anyhow!("{e:#}\n{}", bridge.log_tail()))?;
        let rss_after = bridge.rss_mib()?;
        bridge.stop().await?;
        results.push(ScaleResult {
            backend: db.backend,
            scale,
            seeded,
            rss_idle,
            idle_cpu_ms_per_s,
            signing,
            rss_after,
            rows,
        });
    }
    Ok(())
}

/// Writes the report to `target/performance/<timestamp>.md`; returns the path.
fn write_report(text: &str) -> Result<std::path::PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        std::path::PathBuf::from,
    );
    let dir = target.join("performance");
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    let path = dir.join(format!(
        "{}.md",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    std::fs::write(&path, text).with_context(|| path.display().to_string())?;
    Ok(path)
}

#[tokio::main]
async fn main() -> Result<()> {
    let k = Knobs::from_env()?;
    let mut machine = Machine::probe(k.describe());
    if k.backends.contains(&Backend::Postgres) {
        // Fail before anything starts when Postgres is not there.
        let pool = db::admin_pool(&k.postgres_url).await?;
        machine.postgres = Some(db::postgres_version(&pool).await?);
        pool.close().await;
    }
    let dir = tempfile::tempdir().context("temp dir")?;
    let up = topology::start_upstreams(dir.path()).await?;
    let has_seed = procs::has_subcommand("seed").await;
    if !has_seed {
        eprintln!(
            "[bench] this build has no `seed` subcommand: only the first scale runs, unseeded"
        );
    }

    let mut results = Vec::new();
    let mut not_run = Vec::new();
    for &backend in &k.backends {
        let sub = dir.path().join(backend.name());
        std::fs::create_dir_all(&sub)?;
        let db = Database::create(backend, &k.postgres_url, &sub).await?;
        let ran = run_backend(&k, &up, &db, &sub, has_seed, &mut results, &mut not_run).await;
        // Drop the database whatever happened; the first error wins.
        let dropped = db.drop_database().await;
        ran?;
        dropped?;
    }
    drop(up);

    let text = report::render(&machine, &results, &not_run);
    println!("{text}");
    let path = write_report(&text)?;
    eprintln!("[bench] report written to {}", path.display());
    Ok(())
}
