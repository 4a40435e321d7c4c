//! The driver of `benches/flow.rs`: runs a scenario's workers, times them, prints rows.

#![allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// The driver

/// How long a scenario runs.
#[derive(Clone, Copy)]
pub(crate) enum Budget {
    Time(Duration),
    Ops(usize),
}

/// Every operation's latency (and its step latencies, if it has steps).
pub(crate) struct Run {
    pub(crate) name: String,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) steps: Vec<Vec<Duration>>,
    /// CPU seconds (user + system) this process spent during the run: server and load
    /// generator together, far less sensitive to other processes' load than wall time.
    pub(crate) cpu_seconds: Option<f64>,
}

impl Run {
    pub(crate) fn ops(&self) -> usize {
        self.latencies.len()
    }

    pub(crate) fn ops_per_sec(&self) -> f64 {
        self.ops() as f64 / self.elapsed.as_secs_f64()
    }

    /// Process CPU milliseconds per operation.
    pub(crate) fn cpu_ms_per_op(&self) -> Option<f64> {
        self.cpu_seconds.map(|s| s * 1e3 / self.ops() as f64)
    }
}

/// Runs `op` in one task per worker state until the budget is spent; each call gets the
/// worker's state and hands it back for the next call. Any failure aborts the benchmark.
pub(crate) async fn drive<S, F, Fut>(
    name: &str,
    states: Vec<S>,
    budget: Budget,
    op: F,
) -> Result<Run>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(S, Vec<Duration>)>> + Send + 'static,
{
    let op = Arc::new(op);
    let (deadline, remaining) = match budget {
        Budget::Time(d) => (Some(Instant::now() + d), usize::MAX),
        Budget::Ops(n) => (None, n),
    };
    let remaining = Arc::new(AtomicUsize::new(remaining));
    let cpu_start = process_cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(states.len());
    for state in states {
        let op = Arc::clone(&op);
        let remaining = Arc::clone(&remaining);
        tasks.push(tokio::spawn(async move {
            let mut state = state;
            let mut latencies = Vec::new();
            let mut steps = Vec::new();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let claimed = remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
                if claimed.is_err() {
                    break;
                }
                let t0 = Instant::now();
                let (next, step) = op(state).await?;
                latencies.push(t0.elapsed());
                if !step.is_empty() {
                    steps.push(step);
                }
                state = next;
            }
            anyhow::Ok((latencies, steps))
        }));
    }
    let mut run = Run {
        name: name.to_owned(),
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        steps: Vec::new(),
        cpu_seconds: None,
    };
    for task in tasks {
        let (latencies, steps) = task.await.context("worker task")??;
        run.latencies.extend(latencies);
        run.steps.extend(steps);
    }
    run.elapsed = start.elapsed();
    run.cpu_seconds = process_cpu_seconds()
        .zip(cpu_start)
        .map(|(end, start)| end - start);
    run.latencies.sort_unstable();
    Ok(run)
}

/// One MCP server measured twice with the same workers: `tools/call whoami` straight to it
/// (the baseline), then through the gateway at `target.resource` with each worker's token.
/// `names`: the baseline's row label, the gateway's, and what the server is.
pub(crate) async fn gateway_pair(
    names: (&str, &str, &str),
    target: &Arc<Target>,
    direct_url: &str,
    callers: &[(Clients, Arc<String>)],
    budget: Budget,
) -> Result<(Run, Run)> {
    let (base, row, what) = names;
    let direct_url = Arc::new(direct_url.to_owned());
    // Untimed: both paths once for a second first, so neither timed run pays for warming up the
    // other (Node's JIT, connection pools): the direct run used to go first and cold.
    let warm = Budget::Time(Duration::from_secs(1));
    for via_gateway in [false, true] {
        let url = Arc::new(if via_gateway {
            target.resource.clone()
        } else {
            direct_url.to_string()
        });
        drive("warm-up", callers.to_vec(), warm, move |(c, at)| {
            let url = Arc::clone(&url);
            async move {
                tools_call(&c, &url, via_gateway.then_some(at.as_str())).await?;
                Ok(((c, at), Vec::new()))
            }
        })
        .await?;
    }
    let direct = drive(
        &format!("{base:<3}tools/call, direct to the {what}"),
        callers.to_vec(),
        budget,
        move |(c, at)| {
            let url = Arc::clone(&direct_url);
            async move {
                tools_call(&c, &url, None).await?;
                Ok(((c, at), Vec::new()))
            }
        },
    )
    .await?;
    let t = Arc::clone(target);
    let gateway = drive(
        &format!("{row:<3}tools/call through the gateway"),
        callers.to_vec(),
        budget,
        move |(c, at)| {
            let t = Arc::clone(&t);
            async move {
                tools_call(&c, &t.resource, Some(&at)).await?;
                Ok(((c, at), Vec::new()))
            }
        },
    )
    .await?;
    Ok((gateway, direct))
}

/// The gateway table: each pair as the gateway's share of the direct throughput and the
/// latency it adds.
/// Every pair of the gateway table: (through the gateway, direct).
pub(crate) struct GatewayRuns {
    /// The official SDK's server, or why it did not run.
    pub(crate) sdk: std::result::Result<(Run, Run), String>,
    pub(crate) sdk_alone: Option<(Run, Run)>,
    pub(crate) demo: (Run, Run),
    pub(crate) demo_alone: (Run, Run),
}

pub(crate) fn gateway_table(workers: usize, runs: &GatewayRuns) {
    println!();
    println!("gateway: authenticated MCP tools/call through dcr-bridge vs the same MCP server called directly");
    println!(
        "{:<46} | {:>6} | {:>8} | {:>7} | {:>7} | vs direct, same run",
        "scenario", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    println!("{}", "-".repeat(110));
    let pair = |(gateway, direct): &(Run, Run), label: &str| {
        run_row(
            gateway,
            &format!(
                "{:.2} of {label} throughput; +{:.2} ms p50, +{:.2} ms p99",
                gateway.ops_per_sec() / direct.ops_per_sec(),
                percentile_ms(&gateway.latencies, 50.0) - percentile_ms(&direct.latencies, 50.0),
                percentile_ms(&gateway.latencies, 99.0) - percentile_ms(&direct.latencies, 99.0),
            ),
        );
        run_row(direct, &format!("baseline {label}"));
    };
    match &runs.sdk {
        Ok(p) => pair(p, "S"),
        Err(why) => println!("S/6 (official SDK MCP server, Node) NOT RUN: {why}"),
    }
    if let Some(p) = &runs.sdk_alone {
        pair(p, "S1");
    }
    pair(&runs.demo, "D");
    pair(&runs.demo_alone, "D1");
    println!(
        "S: tests/interop/mcp_server.mjs --stateless (official TypeScript SDK, its own process); \
         D: the in-process demo server (almost no work per call: the ratio is the gateway's \
         whole cost against nearly nothing). {workers} workers; S1, D1: one."
    );
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
pub(crate) fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

/// Peak resident set size of this process (server and load generator), in MiB.
pub(crate) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) this process used so far, in seconds; Linux counts it in clock
/// ticks of 1/100 s (`USER_HZ`, fixed at 100 on every architecture we run on).
pub(crate) fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// User + system CPU seconds of a `/proc/…/stat` line.
pub(crate) fn cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces; the fields after its `)` are fixed.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

pub(crate) fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v} is not a positive integer")),
        Err(_) => Ok(default),
    }
}

pub(crate) fn row(scenario: &str, ops: &str, rate: &str, p50: f64, p99: f64, ratio: &str) {
    println!("{scenario:<46} | {ops:>6} | {rate:>8} | {p50:>7.2} | {p99:>7.2} | {ratio}");
}

pub(crate) fn run_row(run: &Run, ratio: &str) {
    row(
        &run.name,
        &run.ops().to_string(),
        &format!("{:.1}", run.ops_per_sec()),
        percentile_ms(&run.latencies, 50.0),
        percentile_ms(&run.latencies, 99.0),
        ratio,
    );
}

/// How many baseline operations one scenario operation costs (throughput ratio).
pub(crate) fn cost_vs(run: &Run, baseline: &Run, label: &str) -> String {
    format!("{:.2}x {label}", baseline.ops_per_sec() / run.ops_per_sec())
}

/// Baseline A: `GET /.well-known/oauth-authorization-server` by every worker of `pool`, the
/// HTTP floor every other row is compared with.
pub(crate) async fn baseline_a(
    target: &Arc<Target>,
    pool: &[Clients],
    budget: Budget,
) -> Result<Run> {
    let t = Arc::clone(target);
    drive(
        "A  GET /.well-known/oauth-authorization-server",
        pool.to_vec(),
        budget,
        move |c| {
            let t = Arc::clone(&t);
            async move {
                metadata(&t, &c).await?;
                Ok((c, Vec::new()))
            }
        },
    )
    .await
}
