//! The timed scenarios of one database and scale, each with the CPU time every process spent
//! during it (from `/proc/<pid>/stat`, far steadier than throughput on a shared machine).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::db::{cpu_between, Database, PgCpu};
use crate::load::{self, Chain, Clients, Run, Target};
use crate::procs::{own_cpu, Proc};
use crate::topology::Upstreams;

/// The scenarios, in the order they run (flows last: they add clients and grants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Metadata,
    Refresh,
    Introspect,
    Direct,
    Gateway,
    Flow,
}

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Metadata,
        Scenario::Refresh,
        Scenario::Introspect,
        Scenario::Direct,
        Scenario::Gateway,
        Scenario::Flow,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Scenario::Metadata => "A  GET /.well-known/oauth-authorization-server",
            Scenario::Refresh => "R  POST /token refresh_token",
            Scenario::Introspect => "I  POST /introspect (resource server)",
            Scenario::Direct => "D  tools/call straight to demo-mcp",
            Scenario::Gateway => "G  tools/call through the gateway",
            Scenario::Flow => "F  whole flow register..token",
        }
    }

    /// The target for this row: (minimum ops/s, its text).
    pub fn target(self) -> Option<(f64, &'static str)> {
        match self {
            Scenario::Refresh => Some((2000.0, ">= 2000/s, p99 <= 5x p50")),
            Scenario::Introspect => Some((20000.0, ">= 20000/s")),
            Scenario::Gateway => Some((20000.0, ">= 20000/s")),
            Scenario::Flow => Some((500.0, ">= 500/s proxy-side")),
            Scenario::Metadata | Scenario::Direct => None,
        }
    }
}

/// CPU time each process used during one scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    pub server: Duration,
    /// `None` on SQLite: the database runs inside the server and counts there.
    pub db: Option<Duration>,
    /// Of `db`, the checkpointer, background writer and WAL writer (shared with every database
    /// of the server).
    pub db_shared: Option<Duration>,
    pub idp: Duration,
    pub mcp: Duration,
    pub load: Duration,
}

/// One timed scenario: its operations and the CPU they cost.
pub struct Measured {
    pub scenario: Scenario,
    pub run: Run,
    pub cpu: Cpu,
}

impl Measured {
    /// CPU microseconds per operation.
    pub fn us_per_op(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.run.ops().max(1) as f64
    }

    /// What the machine's cores would do running only dcr-bridge and its database:
    /// operations ÷ (their CPU seconds) × cores.
    pub fn proxy_side_per_sec(&self, cores: usize) -> f64 {
        let cpu = self.cpu.server + self.cpu.db.unwrap_or_default();
        self.run.ops() as f64 / cpu.as_secs_f64().max(1e-9) * cores as f64
    }
}

/// The processes whose CPU is counted.
pub struct Probe<'a> {
    pub server: &'a Proc,
    pub db: &'a Database,
    pub up: &'a Upstreams,
}

struct Snapshot {
    server: Duration,
    db: HashMap<u32, PgCpu>,
    idp: Duration,
    mcp: Duration,
    load: Duration,
}

async fn snapshot(p: &Probe<'_>) -> Result<Snapshot> {
    Ok(Snapshot {
        server: p.server.cpu()?,
        db: p.db.cpu_by_pid().await?,
        idp: p.up.idp.cpu()?,
        mcp: p.up.mcp.cpu()?,
        load: own_cpu(),
    })
}

/// Runs `f` (one timed scenario) between two CPU snapshots.
async fn measure<F>(p: &Probe<'_>, scenario: Scenario, f: F) -> Result<Measured>
where
    F: std::future::Future<Output = Result<Run>>,
{
    let before = snapshot(p).await?;
    let run = f.await.with_context(|| scenario.label())?;
    let after = snapshot(p).await?;
    let db =
        p.db.measured_apart()
            .then(|| cpu_between(&before.db, &after.db));
    Ok(Measured {
        scenario,
        run,
        cpu: Cpu {
            server: after.server.saturating_sub(before.server),
            db: db.map(|(all, _)| all),
            db_shared: db.map(|(_, shared)| shared),
            idp: after.idp.saturating_sub(before.idp),
            mcp: after.mcp.saturating_sub(before.mcp),
            load: after.load.saturating_sub(before.load),
        },
    })
}

/// Every scenario against a running server: one untimed flow per worker first (upstream
/// discovery, signing key, connections; it starts the worker's refresh chain and gives it an
/// access token), then each scenario for `time`.
pub async fn run_all(
    p: &Probe<'_>,
    target: &Arc<Target>,
    workers: usize,
    time: Duration,
) -> Result<Vec<Measured>> {
    let pool = (0..workers)
        .map(|_| Clients::new())
        .collect::<Result<Vec<_>>>()?;
    let mut chains = Vec::with_capacity(workers);
    let mut callers = Vec::with_capacity(workers);
    for clients in &pool {
        let flow = load::full_flow(target, clients)
            .await
            .context("warm-up flow")?;
        load::tools_call(clients, &target.resource, Some(&flow.access_token)).await?;
        load::tools_call(clients, &target.mcp_direct, None).await?;
        load::introspect(target, clients, &flow.access_token).await?;
        load::metadata(target, clients).await?;
        callers.push((clients.clone(), Arc::new(flow.access_token)));
        chains.push(Chain {
            clients: clients.clone(),
            client_id: flow.client_id,
            refresh_token: flow.refresh_token,
        });
    }

    let mut out = Vec::with_capacity(Scenario::ALL.len());
    for scenario in Scenario::ALL {
        let t = Arc::clone(target);
        let measured = match scenario {
            Scenario::Metadata => {
                measure(
                    p,
                    scenario,
                    load::drive(pool.clone(), time, move |c| {
                        let t = Arc::clone(&t);
                        async move {
                            load::metadata(&t, &c).await?;
                            Ok((c, Vec::new()))
                        }
                    }),
                )
                .await?
            }
            Scenario::Refresh => {
                let chains = std::mem::take(&mut chains);
                measure(
                    p,
                    scenario,
                    load::drive(chains, time, move |chain| {
                        let t = Arc::clone(&t);
                        async move { Ok((load::rotate(&t, chain).await?, Vec::new())) }
                    }),
                )
                .await?
            }
            Scenario::Introspect => {
                measure(
                    p,
                    scenario,
                    load::drive(callers.clone(), time, move |(c, at)| {
                        let t = Arc::clone(&t);
                        async move {
                            load::introspect(&t, &c, &at).await?;
                            Ok(((c, at), Vec::new()))
                        }
                    }),
                )
                .await?
            }
            Scenario::Direct | Scenario::Gateway => {
                let via_gateway = scenario == Scenario::Gateway;
                measure(
                    p,
                    scenario,
                    load::drive(callers.clone(), time, move |(c, at)| {
                        let t = Arc::clone(&t);
                        async move {
                            if via_gateway {
                                load::tools_call(&c, &t.resource, Some(&at)).await?;
                            } else {
                                load::tools_call(&c, &t.mcp_direct, None).await?;
                            }
                            Ok(((c, at), Vec::new()))
                        }
                    }),
                )
                .await?
            }
            Scenario::Flow => {
                measure(
                    p,
                    scenario,
                    load::drive(pool.clone(), time, move |c| {
                        let t = Arc::clone(&t);
                        async move {
                            let flow = load::full_flow(&t, &c).await?;
                            Ok((c, flow.steps))
                        }
                    }),
                )
                .await?
            }
        };
        out.push(measured);
    }
    Ok(out)
}
