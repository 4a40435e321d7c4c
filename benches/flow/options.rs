//! The options of `benches/flow.rs` beyond its default run: `BENCH_DB=postgres` (the database
//! the server runs on) and `BENCH_ONLY=refresh` (baseline A and row 2 with the process CPU
//! per operation).

use std::sync::Arc;

use anyhow::{bail, Context as _, Result};

use super::{
    baseline_a, cost_vs, drive, percentile_ms, rotate, run_row, Budget, Chain, Clients, Target,
};

/// `BENCH_DB=postgres`: a fresh database on the server of `BENCH_POSTGRES_URL` (else
/// `DCR_BRIDGE_TEST_POSTGRES_URL`, else the local default), created for this run as
/// `tests/it/support/db.rs` does and left behind (its name is printed). Otherwise SQLite in
/// `dir`.
pub async fn database_url(dir: &std::path::Path) -> Result<String> {
    use sqlx::Connection as _;
    match std::env::var("BENCH_DB").as_deref() {
        Err(_) | Ok("sqlite") => Ok(format!("sqlite://{}", dir.join("bench.db").display())),
        Ok("postgres") => {
            let admin = std::env::var("BENCH_POSTGRES_URL")
                .or_else(|_| std::env::var("DCR_BRIDGE_TEST_POSTGRES_URL"))
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let name = format!("dcr_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .with_context(|| format!("BENCH_DB=postgres: cannot connect to {admin}"))?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
            let mut url = reqwest::Url::parse(&admin)?;
            url.set_path(&name);
            eprintln!("BENCH_DB=postgres: database {name} (drop it when done)");
            Ok(url.to_string())
        }
        Ok(other) => bail!("BENCH_DB={other}: use sqlite or postgres"),
    }
}

/// The database the server runs on, for the table's title.
pub fn database_name() -> &'static str {
    if std::env::var("BENCH_DB").is_ok_and(|v| v == "postgres") {
        "Postgres"
    } else {
        "SQLite"
    }
}

/// `BENCH_ONLY=refresh`: baseline A, then row 2, each with the process CPU per operation.
pub async fn refresh_table(
    target: &Arc<Target>,
    pool: &[Clients],
    chains: Vec<Chain>,
    budget: Budget,
    workers: usize,
    seconds: usize,
) -> Result<()> {
    let a = baseline_a(target, pool, budget).await?;
    let t = Arc::clone(target);
    let refresh = drive(
        "2  POST /token refresh_token",
        chains,
        budget,
        move |chain| {
            let t = Arc::clone(&t);
            async move { Ok((rotate(&t, chain).await?, Vec::new())) }
        },
    )
    .await?;
    println!();
    println!(
        "dcr-bridge refresh benchmark: {workers} concurrent workers, {seconds}s per timed scenario, {}",
        database_name()
    );
    println!();
    println!(
        "{:<46} | {:>6} | {:>8} | {:>7} | {:>7} | ratio vs baseline",
        "scenario", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    println!("{}", "-".repeat(110));
    run_row(&a, "1.00x A (baseline A)");
    run_row(
        &refresh,
        &format!(
            "{}; p99/p50 {:.1}",
            cost_vs(&refresh, &a, "A"),
            percentile_ms(&refresh.latencies, 99.0) / percentile_ms(&refresh.latencies, 50.0)
        ),
    );
    if let (Some(cpu_a), Some(cpu_r)) = (a.cpu_ms_per_op(), refresh.cpu_ms_per_op()) {
        println!();
        println!(
            "process CPU per operation (server + load generator): A {cpu_a:.3} ms, refresh {cpu_r:.3} ms ({:.2}x A)",
            cpu_r / cpu_a
        );
    }
    Ok(())
}
