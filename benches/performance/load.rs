//! The load generator: one unit of work per scenario, sent over keep-alive HTTP/1.1 connections
//! (each worker its own `reqwest` clients), and the driver that runs a unit in every worker for a
//! fixed time. Any unexpected status aborts the run, so every counted operation succeeded.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use reqwest::header::LOCATION;
use serde_json::{json, Value};
use sha2::Digest as _;

/// The dev IdP user every flow signs in as, and that user's password (in the IdP's file).
pub const USER: &str = "bench-alice";
pub const PASSWORD: &str = "bench-alice-password";
/// The (never contacted) loopback redirect of every registered client.
const REDIRECT: &str = "http://127.0.0.1:33418/callback";
/// The timed steps of one whole flow, in order.
pub const FLOW_STEPS: [&str; 7] = [
    "POST /register",
    "GET /authorize",
    "POST /consent",
    "GET IdP login form",
    "POST IdP login form",
    "GET /oauth/callback",
    "POST /token (code+PKCE)",
];

/// Where the requests go.
pub struct Target {
    pub base: String,
    /// The gateway resource (`{base}/mcp`), also the tokens' audience.
    pub resource: String,
    /// The demo MCP server called directly (the gateway's baseline).
    pub mcp_direct: String,
    /// The resource server's introspection credentials (`[[resources]]` id and secret).
    pub rs_id: String,
    pub rs_secret: String,
}

impl Target {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// One worker's HTTP clients: `api` is the MCP client or resource server (no cookies),
/// `browser` the user's browser (cookies). Neither follows redirects.
#[derive(Clone)]
pub struct Clients {
    pub api: reqwest::Client,
    pub browser: reqwest::Client,
}

impl Clients {
    pub fn new() -> Result<Self> {
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

/// Fails unless `res` has status `want`; the body goes into the error.
async fn expect(res: reqwest::Response, want: u16, what: &str) -> Result<reqwest::Response> {
    if res.status().as_u16() == want {
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

/// The value of a hidden input in dcr-bridge's consent page.
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

/// Baseline A: the authorization server metadata.
pub async fn metadata(t: &Target, c: &Clients) -> Result<()> {
    let res = c
        .api
        .get(t.url("/.well-known/oauth-authorization-server"))
        .send()
        .await?;
    expect(res, 200, "metadata").await?.bytes().await?;
    Ok(())
}

/// Registers a public native client (RFC 7591), as an MCP client does on first contact.
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

/// The tokens of one whole flow, and how long each of [`FLOW_STEPS`] took.
pub struct Flow {
    pub client_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub steps: Vec<Duration>,
}

/// One whole flow, the IdP's login form posted with a password as a browser does.
pub async fn full_flow(t: &Target, c: &Clients) -> Result<Flow> {
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

    let res = c.browser.get(&upstream).send().await?;
    expect(res, 200, "IdP login form").await?.bytes().await?;
    split(&mut steps);

    // The form carries the authorization request's parameters as hidden inputs (HTML-escaped
    // there); the query of the URL it was served for holds the same values unescaped.
    let mut form_url = url::Url::parse(&upstream)?;
    let mut fields: Vec<(String, String)> = form_url.query_pairs().into_owned().collect();
    form_url.set_query(None);
    fields.push(("login".into(), USER.into()));
    fields.push(("password".into(), PASSWORD.into()));
    let res = c.browser.post(form_url).form(&fields).send().await?;
    let callback = location(&expect(res, 302, "IdP login").await?)?;
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
    let tokens: Value = expect(res, 200, "code exchange").await?.json().await?;
    split(&mut steps);
    let field = |name: &str| {
        tokens[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no {name} from the code exchange"))
    };
    Ok(Flow {
        access_token: field("access_token")?,
        refresh_token: field("refresh_token")?,
        client_id,
        steps,
    })
}

/// A worker's refresh chain: its client and current refresh token.
pub struct Chain {
    pub clients: Clients,
    pub client_id: String,
    pub refresh_token: String,
}

/// Rotates the chain once (the response carries the next refresh token).
pub async fn rotate(t: &Target, chain: Chain) -> Result<Chain> {
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

/// `POST /introspect` of a live access token with the resource server's credentials; it must
/// come back active.
pub async fn introspect(t: &Target, c: &Clients, token: &str) -> Result<()> {
    let res = c
        .api
        .post(t.url("/introspect"))
        .basic_auth(&t.rs_id, Some(&t.rs_secret))
        .form(&[("token", token)])
        .send()
        .await?;
    let body: Value = expect(res, 200, "introspect").await?.json().await?;
    if body["active"] != Value::Bool(true) {
        bail!("introspect: the live access token is not active: {body}");
    }
    Ok(())
}

/// One MCP `tools/call whoami` at `url`, with `token` as bearer if given.
pub async fn tools_call(c: &Clients, url: &str, token: Option<&str>) -> Result<()> {
    let mut req = c
        .api
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}},
        }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let body: Value = expect(req.send().await?, 200, "tools/call whoami")
        .await?
        .json()
        .await?;
    if body.get("result").is_none() {
        bail!("tools/call whoami: {body}");
    }
    Ok(())
}

/// Every operation's latency (sorted) and, for flows, each one's step latencies.
pub struct Run {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub steps: Vec<Vec<Duration>>,
}

impl Run {
    pub fn ops(&self) -> usize {
        self.latencies.len()
    }

    pub fn ops_per_sec(&self) -> f64 {
        self.ops() as f64 / self.elapsed.as_secs_f64()
    }

    /// Nearest-rank percentile, milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        percentile_ms(&self.latencies, p)
    }
}

/// Nearest-rank percentile of sorted latencies, milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

/// Runs `op` in one task per worker state for `time`; each call gets the worker's state and
/// hands it back with its step latencies (empty when it has none). Any failure aborts.
pub async fn drive<S, F, Fut>(states: Vec<S>, time: Duration, op: F) -> Result<Run>
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(S, Vec<Duration>)>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let deadline = start + time;
    let mut tasks = Vec::with_capacity(states.len());
    for state in states {
        let op = Arc::clone(&op);
        tasks.push(tokio::spawn(async move {
            let mut state = state;
            let mut latencies = Vec::with_capacity(4096);
            let mut steps = Vec::new();
            while Instant::now() < deadline {
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
