//! `BENCH_ONLY=introspect`: token introspection and the gateway's token check, each beside
//! baseline A of the same run, and the introspection logic alone (no HTTP) answered from memory
//! against the database path it replaced, so that one run gives the before/after ratio.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use dcr_bridge::app::AppState;
use dcr_bridge::oauth::introspect;

use super::{drive, metadata, percentile_ms, run_row, Budget, Clients, Run, Target};

/// The `introspection_secret` of the benchmark's resource `tools`.
pub const RS_SECRET: &str = "bench-introspection-secret";

/// CPU time (user + system) this process has used so far, in microseconds: server and load
/// generator together (one process), so a row's CPU per operation includes the HTTP client.
fn cpu_us() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the ')'.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports these in USER_HZ, 100 per second on every architecture (sysconf would
    // need libc for the same answer).
    Some(ticks * 1e6 / 100.0)
}

/// A run and the CPU microseconds per operation it cost.
struct Timed {
    run: Run,
    cpu_per_op: Option<f64>,
}

async fn timed<S, F, Fut>(name: &str, states: Vec<S>, budget: Budget, op: F) -> Result<Timed>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(S, Vec<Duration>)>> + Send + 'static,
{
    let before = cpu_us();
    let run = drive(name, states, budget, op).await?;
    let cpu_per_op = before
        .zip(cpu_us())
        .map(|(b, a)| (a - b) / run.ops().max(1) as f64);
    Ok(Timed { run, cpu_per_op })
}

fn print(t: &Timed, ratio: &str) {
    let cpu = t
        .cpu_per_op
        .map_or_else(|| "n/a".to_owned(), |us| format!("{us:.0} us CPU/op"));
    run_row(&t.run, &format!("{ratio}; {cpu}"));
}

/// One `POST /introspect` as resource server `tools`; fails unless the token is active.
async fn introspect_http(t: &Target, c: &Clients, token: &str) -> Result<()> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("tools:{RS_SECRET}"));
    let res = c
        .api
        .post(t.url("/introspect"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("token", token)])
        .send()
        .await?;
    let status = res.status();
    let body: serde_json::Value = res.json().await.context("introspection answer")?;
    if status != 200 || body["active"] != true {
        bail!("POST /introspect: {status} {body}");
    }
    Ok(())
}

/// The introspection table. `callers`: each worker's clients and access token for `target`.
pub async fn run(
    target: &Arc<Target>,
    state: &AppState,
    mcp_direct: &str,
    callers: &[(Clients, Arc<String>)],
    budget: Budget,
) -> Result<()> {
    let workers = callers.len();
    let pool: Vec<Clients> = callers.iter().map(|(c, _)| c.clone()).collect();
    // Untimed: every path once, so no timed row pays for a first verification.
    for (c, at) in callers {
        introspect_http(target, c, at).await?;
    }
    let t = Arc::clone(target);
    let a = timed(
        "A  GET /.well-known/oauth-authorization-server",
        pool,
        budget,
        move |c| {
            let t = Arc::clone(&t);
            async move {
                metadata(&t, &c).await?;
                Ok((c, Vec::new()))
            }
        },
    )
    .await?;
    let t = Arc::clone(target);
    let http = timed(
        "I  POST /introspect (resource server)",
        callers.to_vec(),
        budget,
        move |(c, at)| {
            let t = Arc::clone(&t);
            async move {
                introspect_http(&t, &c, &at).await?;
                Ok(((c, at), Vec::new()))
            }
        },
    )
    .await?;
    let (gateway, direct) = super::gateway_pair(
        ("D", "5", "demo MCP server"),
        target,
        mcp_direct,
        callers,
        budget,
    )
    .await?;
    let tokens: Vec<(AppState, Arc<String>)> = callers
        .iter()
        .map(|(_, at)| (state.clone(), at.clone()))
        .collect();
    let memory = timed(
        "Im introspect_in_memory() (no HTTP)",
        tokens.clone(),
        budget,
        |(s, at)| async move {
            let gw = &s.gateway;
            let mem = introspect::Memory {
                verified: &gw.verified,
                revocations: &gw.revocations,
                users: &gw.users,
                poll_every: Duration::from_secs(gw.settings.revocation_poll_seconds),
            };
            let v = introspect::introspect_in_memory(&s.core, mem, &at).await?;
            if v["active"] != true {
                bail!("inactive: {v}");
            }
            Ok(((s, at), Vec::new()))
        },
    )
    .await?;
    let checks: Vec<(AppState, reqwest::header::HeaderMap)> = callers
        .iter()
        .map(|(_, at)| {
            let mut h = reqwest::header::HeaderMap::new();
            let v = format!("Bearer {at}").parse().context("bearer header")?;
            h.insert(reqwest::header::AUTHORIZATION, v);
            Ok((state.clone(), h))
        })
        .collect::<Result<_>>()?;
    let check = timed(
        "Gm gateway token check auth::check() (no HTTP)",
        checks,
        budget,
        |(s, h)| async move {
            let gw = &s.gateway;
            let route = gw.routes.first().context("no gateway route")?;
            gw.revocations.catch_up(&s.core).await?;
            let checked = dcr_bridge::gateway::auth::check(
                &s.core,
                &gw.verified,
                &gw.revocations,
                &route.resource,
                &h,
                &route.required_scopes,
            );
            if checked.is_err() {
                bail!("token check refused a good token");
            }
            Ok(((s, h), Vec::new()))
        },
    )
    .await?;
    let database = timed(
        "Id introspect() database path (before) (no HTTP)",
        tokens,
        budget,
        |(s, at)| async move {
            let v = introspect::introspect(&s.core, &at).await?;
            if v["active"] != true {
                bail!("inactive: {v}");
            }
            Ok(((s, at), Vec::new()))
        },
    )
    .await?;

    println!();
    println!("introspection: {workers} workers, SQLite, server and load generator in one process");
    println!(
        "{:<46} | {:>6} | {:>8} | {:>7} | {:>7} | ratio vs baseline, same run",
        "scenario", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    println!("{}", "-".repeat(120));
    let of = |x: &Run, base: &Run| x.ops_per_sec() / base.ops_per_sec();
    print(&a, "1.00 of A (baseline A)");
    print(
        &http,
        &format!("{:.2} of A throughput", of(&http.run, &a.run)),
    );
    run_row(
        &gateway,
        &format!(
            "{:.2} of A, {:.2} of D throughput",
            of(&gateway, &a.run),
            of(&gateway, &direct)
        ),
    );
    run_row(&direct, "baseline D");
    print(
        &memory,
        &format!("{:.1}x Id throughput", of(&memory.run, &database.run)),
    );
    print(&database, "baseline Id (the path before issue 15)");
    print(
        &check,
        &format!("{:.1}x Id throughput", of(&check.run, &database.run)),
    );
    println!(
        "Im/Id: the same tokens introspected in-process, from memory vs with the two database \
         reads; p50 of Id {:.3} ms vs Im {:.3} ms",
        percentile_ms(&database.run.latencies, 50.0),
        percentile_ms(&memory.run.latencies, 50.0)
    );
    Ok(())
}
