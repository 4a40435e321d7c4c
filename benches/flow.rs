//! Loopback HTTP benchmark of dcr-bridge: every figure is printed beside a baseline measured in
//! the same run, as a ratio, so the numbers say something on any machine.
//!
//! The real server runs in-process (as in `tests/it/support/app.rs`: SQLite in a temp dir, the
//! development OIDC provider as upstream with `auto_login`), and N concurrent workers drive it
//! over HTTP on 127.0.0.1. Server, dev IdP and load generator each have a Tokio runtime of their
//! own (so their CPU can be told apart) and share the same cores.
//!
//! ```sh
//! cargo bench --bench flow
//! BENCH_SECONDS=10 BENCH_CONCURRENCY=16 cargo bench --bench flow
//! BENCH_ONLY=refresh BENCH_DB=postgres cargo bench --bench flow
//! ```
//!
//! See `docs/benchmarks.md` for what each scenario measures.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use dcr_bridge::clock::SystemClock;
use dcr_bridge::config::{
    Config, LogFormat, RateLimitSettings, RegistrationSettings, ResourceConfig, TokenSettings,
    UpstreamClientAuth, UpstreamConfig, UpstreamKind,
};
use dcr_bridge::devidp::{DevIdpConfig, DevIdpHandle, DevUser};
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::Digest as _;

#[path = "flow/introspect.rs"]
mod introspect;

/// The development user every flow logs in as.
const USER: &str = "dev-alice";
/// The (never contacted) loopback redirect of every registered client.
const REDIRECT: &str = "http://127.0.0.1:33418/callback";
/// Names of the timed steps of one full flow, in order.
const FLOW_STEPS: [&str; 6] = [
    "POST /register",
    "GET /authorize",
    "POST /consent",
    "GET upstream authorize",
    "GET /oauth/callback",
    "POST /token (code+PKCE)",
];

#[path = "flow/options.rs"]
mod options;
use options::{database_name, database_url, refresh_table};
#[path = "flow/client.rs"]
mod client;
#[path = "flow/driver.rs"]
mod driver;
use client::*;
use driver::*;

// ---------------------------------------------------------------------------------------------
// The server under test

/// dcr-bridge on 127.0.0.1:0 with the dev IdP on another port; dropping it stops both.
struct Server {
    base: String,
    resource: String,
    /// The demo MCP server behind `/mcp`, called directly (the gateway's baseline).
    mcp_direct: String,
    mcp: tokio::task::JoinHandle<()>,
    idp: Option<DevIdpHandle>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
    /// dcr-bridge's and the dev IdP's own runtimes (see [`Side`]).
    runtimes: Vec<tokio::runtime::Runtime>,
    /// The server's state, for the in-process rows of `BENCH_ONLY=introspect`.
    state: dcr_bridge::app::AppState,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        self.mcp.abort();
        drop(self.idp.take());
        for rt in self.runtimes.drain(..) {
            rt.shutdown_background();
        }
    }
}

/// Whose CPU a thread's time is: dcr-bridge and the dev IdP each run on a runtime of their own
/// with named threads, so the flow's CPU splits into dcr-bridge's (with SQLite, whose
/// connections each run on a `sqlx-sqlite-worker-N` thread), the IdP's and the load
/// generator's (everything else).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Bridge,
    Idp,
    LoadGenerator,
}

const BRIDGE_THREADS: &str = "bench-bridge";
const IDP_THREADS: &str = "bench-idp";

fn runtime(name: &str, workers: usize) -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        // Blocking threads must live to the end: an exited thread's CPU is no longer listed.
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .enable_all()
        .build()?)
}

/// CPU seconds (user + system) used so far by this process's live threads, per [`Side`]:
/// `[bridge, idp, load generator]`.
fn cpu_by_side() -> Option<[f64; 3]> {
    let mut sides = [0.0; 3];
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let Some(cpu) = std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .and_then(|s| cpu_seconds(&s))
        else {
            continue;
        };
        let side = match comm.trim() {
            c if c == BRIDGE_THREADS || c.starts_with("sqlx-sqlite-wor") => Side::Bridge,
            c if c == IDP_THREADS => Side::Idp,
            _ => Side::LoadGenerator,
        };
        sides[side as usize] += cpu;
    }
    Some(sides)
}

/// The official SDK's MCP server (`tests/interop/mcp_server.mjs --stateless`, Node), the
/// realistic baseline of rows S and 6: a separate process doing real MCP work per call.
struct SdkServer {
    url: String,
    _child: tokio::process::Child,
}

/// Starts [`SdkServer`], or says why not (no Node, or `npm ci` not run in tests/interop).
async fn start_sdk_server() -> std::result::Result<SdkServer, String> {
    use tokio::io::AsyncBufReadExt as _;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    if !dir.join("node_modules/@modelcontextprotocol/sdk").is_dir() {
        return Err(format!("run `npm ci` in {}", dir.display()));
    }
    let mut child = tokio::process::Command::new("node")
        .arg("mcp_server.mjs")
        .arg("--stateless")
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .map_err(|_| "mcp_server.mjs did not start within 30 s".to_owned())?
        .map_err(|e| e.to_string())?
        .ok_or("mcp_server.mjs exited")?;
    let started: Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
    let url = started["url"].as_str().ok_or("no url")?.to_owned();
    Ok(SdkServer { url, _child: child })
}

async fn start_server(sdk_url: Option<&str>) -> Result<Server> {
    let dir = tempfile::tempdir().context("temp dir")?;
    let db_url = database_url(dir.path()).await?;
    // Listeners are bound here and handed to the runtime that serves them (a tokio listener
    // belongs to the runtime it is made in).
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let bridge_rt = runtime(BRIDGE_THREADS, 2)?;
    let idp_rt = runtime(IDP_THREADS, 1)?;

    let idp_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    idp_listener.set_nonblocking(true)?;
    let idp_issuer = format!("http://127.0.0.1:{}", idp_listener.local_addr()?.port());
    let idp_config = DevIdpConfig {
        issuer: idp_issuer,
        client_id: "bridge-client".into(),
        client_secret: "bridge-secret".into(),
        redirect_uris: vec![format!("{base}/oauth/callback")],
        users: DevUser::defaults(),
        auto_login: true,
    };
    let idp = idp_rt
        .spawn(async move {
            let listener = tokio::net::TcpListener::from_std(idp_listener)?;
            dcr_bridge::devidp::spawn(listener, idp_config).await
        })
        .await??;

    // The demo MCP server (as under `dcr-bridge dev`) behind the gateway at `/mcp`.
    let mcp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (mcp_direct, mcp) = dcr_bridge::http::demo_mcp::spawn(mcp_listener)?;

    let mut config = Config {
        public_url: base.parse()?,
        listen: "127.0.0.1:0".parse()?,
        admin_listen: None,
        admin_token: None,
        database_url: db_url,
        database: Default::default(),
        secret_key: SecretString::from(base64::engine::general_purpose::STANDARD.encode([7u8; 32])),
        old_secret_keys: vec![],
        allow_insecure_http: true,
        log_format: LogFormat::Text,
        // `BENCH_SIGNING=ES256|EdDSA|RS256`: the access token signing algorithm (unset: the
        // default of a new key ring, docs/security.md "Signing keys").
        tokens: TokenSettings {
            signing_algorithm: match std::env::var("BENCH_SIGNING") {
                Ok(v) => Some(v.parse().map_err(anyhow::Error::msg)?),
                Err(_) => None,
            },
            ..TokenSettings::default()
        },
        registration: RegistrationSettings::default(),
        // All load comes from 127.0.0.1: limits would only measure 429s.
        rate_limit: RateLimitSettings {
            enabled: false,
            ..Default::default()
        },
        audit: Default::default(),
        gateway: Default::default(),
        // `BENCH_METRICS=off`: no recorder is installed (the cost of metrics, docs/metrics.md).
        metrics: dcr_bridge::config::MetricsSettings {
            enabled: std::env::var("BENCH_METRICS").map_or(true, |v| v != "off"),
            ..Default::default()
        },
        upstreams: vec![UpstreamConfig {
            id: "corp".into(),
            kind: UpstreamKind::Oidc,
            issuer: Some(idp.issuer.parse()?),
            web_base: None,
            api_base: None,
            client_id: "bridge-client".into(),
            client_secret: Some(SecretString::from("bridge-secret".to_owned())),
            client_secret_file: None,
            scopes: ["openid", "email", "profile", "offline_access"]
                .map(str::to_owned)
                .to_vec(),
            client_auth: UpstreamClientAuth::ClientSecretBasic,
            extra_authorize_params: Default::default(),
            discovery_ttl_seconds: 3600,
            timeout_seconds: 15,
            private_key_file: None,
            private_key_pem: None,
            certificate_thumbprint: None,
            graph_groups: false,
            graph_base: None,
            domains: Vec::new(),
            policy: Default::default(),
            refresh: Default::default(),
        }],
        resources: vec![ResourceConfig {
            id: "tools".into(),
            path: "/mcp".into(),
            scopes: vec!["mcp:read".into(), "mcp:write".into()],
            upstream: None,
            upstreams: Vec::new(),
            introspection_secret: Some(SecretString::from(introspect::RS_SECRET.to_owned())),
            upstream_url: Some(mcp_direct.parse()?),
            required_scopes: Vec::new(),
            identity_headers: dcr_bridge::http::demo_mcp::identity_headers(),
            tool_scopes: Default::default(),
            filter_tools_list: None,
            policy: Default::default(),
            scope_grants: Vec::new(),
            token_exchange_client: None,
            upstream_token_header: None,
        }],
        clients: Vec::new(),
        client_rules: Vec::new(),
        cimd: dcr_bridge::config::CimdSettings::default(),
        enterprise_idps: Vec::new(),
    };
    if let Some(url) = sdk_url {
        let mut sdk = config.resources[0].clone();
        sdk.id = "sdk".into();
        sdk.path = "/sdk".into();
        sdk.upstream_url = Some(url.parse()?);
        config.resources.push(sdk);
    }
    config.validate()?;
    let state = bridge_rt
        .spawn(async move {
            let store =
                dcr_bridge::store::connect_with(&config.database_url, config.database.pool())
                    .await?;
            store.migrate().await?;
            dcr_bridge::app::build_with(config, store, Arc::new(SystemClock)).await
        })
        .await??;
    let served = state.clone();
    let task = bridge_rt.spawn(async move {
        let served = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => dcr_bridge::app::serve(served, listener, std::future::pending()).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = served {
            eprintln!("server stopped: {e:#}");
        }
    });
    Ok(Server {
        resource: format!("{base}/mcp"),
        mcp_direct,
        mcp,
        base,
        idp: Some(idp),
        _dir: dir,
        task,
        runtimes: vec![bridge_rt, idp_rt],
        state,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let seconds = env_usize("BENCH_SECONDS", 5)?.max(1);
    let workers = env_usize("BENCH_CONCURRENCY", 8)?.max(1);
    let per_scenario = Budget::Time(Duration::from_secs(seconds as u64));
    let rss_start = peak_rss_mib();

    // `BENCH_ONLY=flow`: rows A, 4 and B only (for `perf record` on the sign-in flow);
    // `BENCH_ONLY=refresh`: rows A and 2.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let flow_only = only == "flow";
    let refresh_only = only == "refresh";
    let sdk = if flow_only || refresh_only {
        Err(format!("BENCH_ONLY={only}"))
    } else {
        start_sdk_server().await
    };
    let server = start_server(sdk.as_ref().ok().map(|s| s.url.as_str())).await?;
    let target = Arc::new(Target {
        base: server.base.clone(),
        resource: server.resource.clone(),
    });
    let pool = (0..workers)
        .map(|_| Clients::new())
        .collect::<Result<Vec<_>>>()?;

    // Warm-up, untimed: one flow per worker (upstream discovery, signing key, connections)
    // also gives each worker the first refresh token of its chain.
    let mut chains = Vec::with_capacity(workers);
    let mut callers = Vec::with_capacity(workers);
    for clients in &pool {
        let (tokens, _) = full_flow(&target, clients).await?;
        let access_token = tokens["access_token"]
            .as_str()
            .context("no access_token from the code exchange")?
            .to_owned();
        tools_call(clients, &target.resource, Some(&access_token)).await?;
        tools_call(clients, &server.mcp_direct, None).await?;
        callers.push((clients.clone(), Arc::new(access_token)));
        chains.push(Chain {
            clients: clients.clone(),
            client_id: tokens["client_id"]
                .as_str()
                .context("client_id")?
                .to_owned(),
            refresh_token: tokens["refresh_token"]
                .as_str()
                .context("no refresh_token from the code exchange")?
                .to_owned(),
        });
        metadata(&target, clients).await?;
    }
    // Tokens for the SDK server's resource, one more flow per worker.
    let sdk_target = Arc::new(Target {
        base: server.base.clone(),
        resource: format!("{}/sdk", server.base),
    });
    let mut sdk_callers = Vec::new();
    if let Ok(sdk) = &sdk {
        for clients in &pool {
            let (tokens, _) = full_flow(&sdk_target, clients).await?;
            let at = tokens["access_token"].as_str().context("access_token")?;
            tools_call(clients, &sdk_target.resource, Some(at)).await?;
            tools_call(clients, &sdk.url, None).await?;
            sdk_callers.push((clients.clone(), Arc::new(at.to_owned())));
        }
    }
    let rss_ready = peak_rss_mib();
    if refresh_only {
        return refresh_table(&target, &pool, chains, per_scenario, workers, seconds).await;
    }
    if only == "introspect" {
        return introspect::run(
            &target,
            &server.state,
            &server.mcp_direct,
            &callers,
            per_scenario,
        )
        .await;
    }

    let gw = if flow_only {
        None
    } else {
        Some(
            async {
                let demo_pair = gateway_pair(
                    ("D", "5", "demo MCP server"),
                    &target,
                    &server.mcp_direct,
                    &callers,
                    per_scenario,
                )
                .await?;
                let sdk_pair = match &sdk {
                    Ok(sdk) => Ok(gateway_pair(
                        ("S", "6", "SDK MCP server"),
                        &sdk_target,
                        &sdk.url,
                        &sdk_callers,
                        per_scenario,
                    )
                    .await?),
                    Err(why) => Err(why.clone()),
                };
                // Added latency of one request alone (no queueing behind other workers).
                let alone = Budget::Time(Duration::from_secs(seconds.min(3) as u64));
                let demo_alone = gateway_pair(
                    ("D1", "5-1", "demo MCP, 1 worker"),
                    &target,
                    &server.mcp_direct,
                    &callers[..1],
                    alone,
                )
                .await?;
                let sdk_alone = match &sdk {
                    Ok(sdk) => Some(
                        gateway_pair(
                            ("S1", "6-1", "SDK MCP, 1 worker"),
                            &sdk_target,
                            &sdk.url,
                            &sdk_callers[..1],
                            alone,
                        )
                        .await?,
                    ),
                    Err(_) => None,
                };
                anyhow::Ok(GatewayRuns {
                    sdk: sdk_pair,
                    sdk_alone,
                    demo: demo_pair,
                    demo_alone,
                })
            }
            .await?,
        )
    };
    if let Some(gw) = gw.as_ref().filter(|_| only == "gateway") {
        // For profiling the gateway alone (`perf record` on this binary).
        gateway_table(workers, gw);
        return Ok(());
    }

    let a = baseline_a(&target, &pool, per_scenario).await?;

    let t = Arc::clone(&target);
    let refresh = if flow_only {
        None
    } else {
        Some(
            drive(
                "2  POST /token refresh_token",
                chains,
                per_scenario,
                move |chain| {
                    let t = Arc::clone(&t);
                    async move { Ok((rotate(&t, chain).await?, Vec::new())) }
                },
            )
            .await?,
        )
    };

    let t = Arc::clone(&target);
    let cpu_before = process_cpu_seconds();
    let sides_before = cpu_by_side();
    let flow = drive(
        "4  full flow (register..token)",
        pool.clone(),
        per_scenario,
        move |c| {
            let t = Arc::clone(&t);
            async move {
                let (_, steps) = full_flow(&t, &c).await?;
                Ok((c, steps))
            }
        },
    )
    .await?;

    let flow_cpu = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let flow_sides = cpu_by_side()
        .zip(sides_before)
        .map(|(after, before)| [0, 1, 2].map(|i| after[i] - before[i]));
    let t = Arc::clone(&target);
    let b = drive(
        "B  POST /register",
        pool.clone(),
        Budget::Ops(flow.ops()),
        move |c| {
            let t = Arc::clone(&t);
            async move {
                register(&t, &c).await?;
                Ok((c, Vec::new()))
            }
        },
    )
    .await?;
    let rss_end = peak_rss_mib();

    // Per-step latencies of the flow (step 6 is scenario 3, the code exchange).
    let mut step_latencies: Vec<Vec<Duration>> = vec![Vec::new(); FLOW_STEPS.len()];
    for steps in &flow.steps {
        for (i, d) in steps.iter().enumerate() {
            if let Some(v) = step_latencies.get_mut(i) {
                v.push(*d);
            }
        }
    }
    for v in &mut step_latencies {
        v.sort_unstable();
    }
    let a_p50 = percentile_ms(&a.latencies, 50.0);
    let flow_total: f64 = flow.steps.iter().flatten().map(Duration::as_secs_f64).sum();

    println!();
    println!(
        "dcr-bridge loopback benchmark: {workers} concurrent workers, {seconds}s per timed scenario, {}, dev IdP upstream, tokens signed {}",
        database_name(),
        std::env::var("BENCH_SIGNING").unwrap_or_else(|_| dcr_bridge::oauth::signing_alg::SigningAlgorithm::DEFAULT.to_string())
    );
    println!();
    println!(
        "{:<46} | {:>6} | {:>8} | {:>7} | {:>7} | ratio vs baseline",
        "scenario", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    println!("{}", "-".repeat(110));
    run_row(&a, "1.00x A (baseline A)");
    if let Some(refresh) = &refresh {
        run_row(refresh, &cost_vs(refresh, &a, "A"));
    }
    if let Some(code) = step_latencies.last() {
        row(
            "3  POST /token authorization_code",
            &code.len().to_string(),
            "(in 4)",
            percentile_ms(code, 50.0),
            percentile_ms(code, 99.0),
            &format!("{:.2}x A p50 latency", percentile_ms(code, 50.0) / a_p50),
        );
    }
    run_row(&flow, &cost_vs(&flow, &b, "B"));
    run_row(
        &b,
        &format!("1.00x B (baseline B; {})", cost_vs(&b, &a, "A")),
    );
    println!();
    println!("ratio: baseline ops/s / scenario ops/s at equal concurrency = how many baseline");
    println!("operations one scenario operation costs. Row 3 (no own throughput) compares p50s.");
    println!();
    println!(
        "{:<46} | {:>7} | {:>7} | share of flow time",
        "flow step (scenario 4)", "p50 ms", "p99 ms"
    );
    println!("{}", "-".repeat(88));
    for (name, v) in FLOW_STEPS.iter().zip(&step_latencies) {
        let share: f64 = v.iter().map(Duration::as_secs_f64).sum::<f64>() / flow_total;
        println!(
            "{name:<46} | {:>7.2} | {:>7.2} | {:>5.1}%",
            percentile_ms(v, 50.0),
            percentile_ms(v, 99.0),
            share * 100.0
        );
    }
    if let Some(cpu) = flow_cpu {
        println!();
        println!(
            "CPU of this process (server, dev IdP and load generator) in row 4: {:.2} ms per flow ({:.1} s over {} flows)",
            cpu * 1e3 / flow.ops() as f64,
            cpu,
            flow.ops()
        );
    }
    if let Some([bridge, idp, load]) = flow_sides {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let per_flow = |s: f64| s * 1e3 / flow.ops() as f64;
        println!(
            "  of which dcr-bridge + SQLite {:.2} ms (proxy-side capacity: {:.0} flows/s on {cores} cores), dev IdP {:.2} ms, load generator {:.2} ms",
            per_flow(bridge),
            cores as f64 * flow.ops() as f64 / bridge,
            per_flow(idp),
            per_flow(load),
        );
    }
    if let Some(gw) = &gw {
        gateway_table(workers, gw);
    }
    println!();
    let mib = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1} MiB"));
    println!(
        "peak RSS (VmHWM, server + load generator in one process): at start {}, after server start and warm-up {}, after all scenarios {}",
        mib(rss_start),
        mib(rss_ready),
        mib(rss_end)
    );
    drop(server);
    Ok(())
}
