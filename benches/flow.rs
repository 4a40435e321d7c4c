//! Loopback HTTP benchmark of dcr-bridge: every figure is printed beside a baseline measured in
//! the same run, as a ratio, so the numbers say something on any machine.
//!
//! The real server runs in-process (as in `tests/it/support/app.rs`: SQLite in a temp dir, the
//! development OIDC provider as upstream with `auto_login`), and N concurrent workers drive it
//! over HTTP on 127.0.0.1. Server and load generator share one Tokio runtime and the same cores.
//!
//! ```sh
//! cargo bench --bench flow
//! BENCH_SECONDS=10 BENCH_CONCURRENCY=16 cargo bench --bench flow
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

// ---------------------------------------------------------------------------------------------
// The server under test

/// dcr-bridge on 127.0.0.1:0 with the dev IdP on another port; dropping it stops both.
struct Server {
    base: String,
    resource: String,
    /// The demo MCP server behind `/mcp`, called directly (the gateway's baseline).
    mcp_direct: String,
    mcp: tokio::task::JoinHandle<()>,
    _idp: DevIdpHandle,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        self.mcp.abort();
    }
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
    let db_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());

    let idp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let idp_issuer = format!("http://127.0.0.1:{}", idp_listener.local_addr()?.port());
    let idp = dcr_bridge::devidp::spawn(
        idp_listener,
        DevIdpConfig {
            issuer: idp_issuer,
            client_id: "bridge-client".into(),
            client_secret: "bridge-secret".into(),
            redirect_uris: vec![format!("{base}/oauth/callback")],
            users: DevUser::defaults(),
            auto_login: true,
        },
    )
    .await?;

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
            introspection_secret: None,
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
    let store = dcr_bridge::store::connect(&config.database_url).await?;
    store.migrate().await?;
    let state = dcr_bridge::app::build_with(config, store, Arc::new(SystemClock)).await?;
    let task = tokio::spawn(async move {
        if let Err(e) = dcr_bridge::app::serve(state, listener, std::future::pending()).await {
            eprintln!("server stopped: {e:#}");
        }
    });
    Ok(Server {
        resource: format!("{base}/mcp"),
        mcp_direct,
        mcp,
        base,
        _idp: idp,
        _dir: dir,
        task,
    })
}

// ---------------------------------------------------------------------------------------------
// Clients and one unit of work per scenario

/// One MCP `tools/call whoami` at `url`, with `token` as bearer if given.
async fn tools_call(c: &Clients, url: &str, token: Option<&str>) -> Result<()> {
    let mut req = c
        .api
        .post(url)
        // What MCP Streamable HTTP clients send (the SDK server refuses anything less).
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}},
        }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = expect(req.send().await?, 200, "tools/call whoami").await?;
    let sse = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let text = res.text().await?;
    // The SDK server answers a POST with a one-event SSE stream.
    let json = if sse {
        text.lines()
            .find_map(|l| l.strip_prefix("data:"))
            .context("an SSE answer without data")?
    } else {
        text.as_str()
    };
    let body: Value = serde_json::from_str(json.trim())?;
    if body.get("result").is_none() {
        bail!("tools/call whoami: {body}");
    }
    Ok(())
}

/// What every request needs: the server's addresses.
struct Target {
    base: String,
    resource: String,
}

impl Target {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// One worker's HTTP clients: `api` is the MCP client (no cookies), `browser` the user's
/// browser (cookies). Neither follows redirects. Each keeps its own keep-alive connections.
#[derive(Clone)]
struct Clients {
    api: reqwest::Client,
    browser: reqwest::Client,
}

impl Clients {
    fn new() -> Result<Self> {
        Ok(Self {
            api: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            browser: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }
}

/// Fails unless `res` has `want`; the body goes into the error.
async fn expect(res: reqwest::Response, want: u16, what: &str) -> Result<reqwest::Response> {
    if res.status() == StatusCode::from_u16(want)? {
        return Ok(res);
    }
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    bail!("{what}: expected {want}, got {status}: {body}")
}

fn location(res: &reqwest::Response) -> Result<String> {
    Ok(res
        .headers()
        .get(LOCATION)
        .context("no Location header")?
        .to_str()?
        .to_owned())
}

fn query_param(url: &str, name: &str) -> Result<String> {
    url::Url::parse(url)?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no {name} in {url}"))
}

/// The value of a hidden input in an HTML page.
fn hidden(html: &str, name: &str) -> Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .with_context(|| format!("no hidden {name} in the page"))?
        + marker.len();
    let len = html[start..].find('"').context("unterminated value")?;
    Ok(html[start..start + len].to_owned())
}

fn pkce() -> (String, String) {
    let verifier = dcr_bridge::oauth::crypto::random_b64(48);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Baseline A: discovery metadata.
async fn metadata(t: &Target, c: &Clients) -> Result<()> {
    let res = c
        .api
        .get(t.url("/.well-known/oauth-authorization-server"))
        .send()
        .await?;
    expect(res, 200, "metadata").await?.bytes().await?;
    Ok(())
}

/// Baseline B (and the first flow step): registers a public native client.
async fn register(t: &Target, c: &Clients) -> Result<String> {
    let res = c
        .api
        .post(t.url("/register"))
        .json(&json!({
            "client_name": "Bench Client",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "application_type": "native",
        }))
        .send()
        .await?;
    let reg: Value = expect(res, 201, "register").await?.json().await?;
    reg["client_id"]
        .as_str()
        .map(str::to_owned)
        .context("no client_id")
}

/// One whole flow; returns the token response and how long each of `FLOW_STEPS` took.
async fn full_flow(t: &Target, c: &Clients) -> Result<(Value, Vec<Duration>)> {
    let mut steps = Vec::with_capacity(FLOW_STEPS.len());
    let mut lap = Instant::now();
    let mut split = |steps: &mut Vec<Duration>| {
        steps.push(lap.elapsed());
        lap = Instant::now();
    };

    let client_id = register(t, c).await?;
    split(&mut steps);

    let (verifier, challenge) = pkce();
    let res = c
        .browser
        .get(t.url("/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "bench-state"),
            ("resource", t.resource.as_str()),
        ])
        .send()
        .await?;
    let html = expect(res, 200, "authorize").await?.text().await?;
    split(&mut steps);

    let res = c
        .browser
        .post(t.url("/consent"))
        .header("origin", &t.base)
        .form(&[
            ("consent_id", hidden(&html, "consent_id")?.as_str()),
            ("csrf_token", hidden(&html, "csrf_token")?.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await?;
    let upstream = location(&expect(res, 303, "consent").await?)?;
    split(&mut steps);

    let res = c
        .browser
        .get(format!("{upstream}&login_hint={USER}"))
        .send()
        .await?;
    let callback = location(&expect(res, 302, "upstream authorize").await?)?;
    split(&mut steps);

    let res = c.browser.get(callback).send().await?;
    let back = location(&expect(res, 302, "callback").await?)?;
    let code = query_param(&back, "code")?;
    split(&mut steps);

    let res = c
        .api
        .post(t.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("client_id", client_id.as_str()),
            ("resource", t.resource.as_str()),
        ])
        .send()
        .await?;
    let mut tokens: Value = expect(res, 200, "code exchange").await?.json().await?;
    split(&mut steps);
    tokens["client_id"] = Value::String(client_id);
    Ok((tokens, steps))
}

/// A worker's refresh chain: its client and current refresh token.
struct Chain {
    clients: Clients,
    client_id: String,
    refresh_token: String,
}

/// Rotates the chain once (the response carries the next refresh token).
async fn rotate(t: &Target, chain: Chain) -> Result<Chain> {
    let res = chain
        .clients
        .api
        .post(t.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", chain.refresh_token.as_str()),
            ("client_id", chain.client_id.as_str()),
        ])
        .send()
        .await?;
    let tokens: Value = expect(res, 200, "refresh").await?.json().await?;
    if tokens["access_token"].as_str().is_none() {
        bail!("refresh: no access_token in {tokens}");
    }
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .context("refresh: no refresh_token")?
        .to_owned();
    Ok(Chain {
        refresh_token,
        ..chain
    })
}

// ---------------------------------------------------------------------------------------------
// The driver

/// How long a scenario runs.
#[derive(Clone, Copy)]
enum Budget {
    Time(Duration),
    Ops(usize),
}

/// Every operation's latency (and its step latencies, if it has steps).
struct Run {
    name: String,
    elapsed: Duration,
    latencies: Vec<Duration>,
    steps: Vec<Vec<Duration>>,
}

impl Run {
    fn ops(&self) -> usize {
        self.latencies.len()
    }

    fn ops_per_sec(&self) -> f64 {
        self.ops() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `op` in one task per worker state until the budget is spent; each call gets the
/// worker's state and hands it back for the next call. Any failure aborts the benchmark.
async fn drive<S, F, Fut>(name: &str, states: Vec<S>, budget: Budget, op: F) -> Result<Run>
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
    };
    for task in tasks {
        let (latencies, steps) = task.await.context("worker task")??;
        run.latencies.extend(latencies);
        run.steps.extend(steps);
    }
    run.elapsed = start.elapsed();
    run.latencies.sort_unstable();
    Ok(run)
}

/// One MCP server measured twice with the same workers: `tools/call whoami` straight to it
/// (the baseline), then through the gateway at `target.resource` with each worker's token.
/// `names`: the baseline's row label, the gateway's, and what the server is.
async fn gateway_pair(
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
struct GatewayRuns {
    /// The official SDK's server, or why it did not run.
    sdk: std::result::Result<(Run, Run), String>,
    sdk_alone: Option<(Run, Run)>,
    demo: (Run, Run),
    demo_alone: (Run, Run),
}

fn gateway_table(workers: usize, runs: &GatewayRuns) {
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
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

/// Peak resident set size of this process (server and load generator), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v} is not a positive integer")),
        Err(_) => Ok(default),
    }
}

fn row(scenario: &str, ops: &str, rate: &str, p50: f64, p99: f64, ratio: &str) {
    println!("{scenario:<46} | {ops:>6} | {rate:>8} | {p50:>7.2} | {p99:>7.2} | {ratio}");
}

fn run_row(run: &Run, ratio: &str) {
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
fn cost_vs(run: &Run, baseline: &Run, label: &str) -> String {
    format!("{:.2}x {label}", baseline.ops_per_sec() / run.ops_per_sec())
}

#[tokio::main]
async fn main() -> Result<()> {
    let seconds = env_usize("BENCH_SECONDS", 5)?.max(1);
    let workers = env_usize("BENCH_CONCURRENCY", 8)?.max(1);
    let per_scenario = Budget::Time(Duration::from_secs(seconds as u64));
    let rss_start = peak_rss_mib();

    let sdk = start_sdk_server().await;
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
    let gw = GatewayRuns {
        sdk: sdk_pair,
        sdk_alone,
        demo: demo_pair,
        demo_alone,
    };
    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "gateway") {
        // For profiling the gateway alone (`perf record` on this binary).
        gateway_table(workers, &gw);
        return Ok(());
    }

    let t = Arc::clone(&target);
    let a = drive(
        "A  GET /.well-known/oauth-authorization-server",
        pool.clone(),
        per_scenario,
        move |c| {
            let t = Arc::clone(&t);
            async move {
                metadata(&t, &c).await?;
                Ok((c, Vec::new()))
            }
        },
    )
    .await?;

    let t = Arc::clone(&target);
    let refresh = drive(
        "2  POST /token refresh_token",
        chains,
        per_scenario,
        move |chain| {
            let t = Arc::clone(&t);
            async move { Ok((rotate(&t, chain).await?, Vec::new())) }
        },
    )
    .await?;

    let t = Arc::clone(&target);
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
    println!("dcr-bridge loopback benchmark: {workers} concurrent workers, {seconds}s per timed scenario, SQLite, dev IdP upstream, tokens signed {}",
        std::env::var("BENCH_SIGNING").unwrap_or_else(|_| dcr_bridge::oauth::signing_alg::SigningAlgorithm::DEFAULT.to_string()));
    println!();
    println!(
        "{:<46} | {:>6} | {:>8} | {:>7} | {:>7} | ratio vs baseline",
        "scenario", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    println!("{}", "-".repeat(110));
    run_row(&a, "1.00x A (baseline A)");
    run_row(&refresh, &cost_vs(&refresh, &a, "A"));
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
    gateway_table(workers, &gw);
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
