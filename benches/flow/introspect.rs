//! `BENCH_ONLY=introspect`: token introspection and the gateway's token check, each beside
//! baseline A of the same run, and the introspection logic alone (no HTTP) answered from memory
//! against the database path it replaced, so that one run gives the before/after ratio.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use dcr_bridge::app::AppState;
use dcr_bridge::oauth::introspect;

use super::{baseline_a, drive, percentile_ms, run_row, Budget, Clients, Run, Target};

/// The `introspection_secret` of the benchmark's resource `tools`.
pub const RS_SECRET: &str = "bench-introspection-secret";

/// `run_row` with the process CPU per operation (`drive` measures it: server and load generator
/// together, one process).
fn print(run: &Run, ratio: &str) {
    let cpu = run.cpu_ms_per_op().map_or_else(
        || "n/a".to_owned(),
        |ms| format!("{:.0} us CPU/op", ms * 1e3),
    );
    run_row(run, &format!("{ratio}; {cpu}"));
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
    let a = baseline_a(target, &pool, budget).await?;
    let t = Arc::clone(target);
    let http = drive(
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
    let memory = drive(
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
    let check = drive(
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
    let database = drive(
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
    print(&http, &format!("{:.2} of A throughput", of(&http, &a)));
    run_row(
        &gateway,
        &format!(
            "{:.2} of A, {:.2} of D throughput",
            of(&gateway, &a),
            of(&gateway, &direct)
        ),
    );
    run_row(&direct, "baseline D");
    print(
        &memory,
        &format!("{:.1}x Id throughput", of(&memory, &database)),
    );
    print(&database, "baseline Id (the path before issue 15)");
    print(
        &check,
        &format!("{:.1}x Id throughput", of(&check, &database)),
    );
    println!(
        "Im/Id: the same tokens introspected in-process, from memory vs with the two database \
         reads; p50 of Id {:.3} ms vs Im {:.3} ms",
        percentile_ms(&database.latencies, 50.0),
        percentile_ms(&memory.latencies, 50.0)
    );
    Ok(())
}
