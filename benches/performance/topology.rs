//! The real processes of one benchmark: the dev IdP (`dcr-bridge dev-idp`, its login form with a
//! password), the demo MCP server (`dcr-bridge demo-mcp`), and `dcr-bridge serve` on the
//! database of the run, restarted after every seeding step; `dcr-bridge seed` between scales.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use serde_json::Value;

use crate::load::{PASSWORD, USER};
use crate::procs::{free_port, wait_ready, Proc};

/// The resource server's introspection credentials (`[[resources]]` id and secret).
pub const RS_ID: &str = "tools";
pub const RS_SECRET: &str = "bench-resource-server-secret";
const IDP_CLIENT_ID: &str = "bench-bridge";
const IDP_CLIENT_SECRET: &str = "bench-bridge-upstream-secret";

/// The dev IdP and the demo MCP server, shared by every run; and the address dcr-bridge will
/// listen on (the IdP must know its callback URL).
pub struct Upstreams {
    pub idp: Proc,
    pub idp_issuer: String,
    pub mcp: Proc,
    pub mcp_url: String,
    pub bridge_port: u16,
}

/// Starts the dev IdP and the demo MCP server in `dir`.
pub async fn start_upstreams(dir: &Path) -> Result<Upstreams> {
    let bridge_port = free_port()?;
    let idp_port = free_port()?;
    let idp_issuer = format!("http://127.0.0.1:{idp_port}");
    let idp_file = dir.join("dev-idp.toml");
    std::fs::write(
        &idp_file,
        format!(
            r#"listen = "127.0.0.1:{idp_port}"
issuer = "{idp_issuer}"
client_id = "{IDP_CLIENT_ID}"
client_secret = "{IDP_CLIENT_SECRET}"
redirect_uris = ["http://127.0.0.1:{bridge_port}/oauth/callback"]

[[users]]
sub = "{USER}"
email = "alice@example.com"
name = "Alice Bench"
groups = ["engineering"]
password = "{PASSWORD}"
"#
        ),
    )?;
    let idp_path = path_str(&idp_file)?;
    let mut idp = Proc::spawn("dev-idp", &["dev-idp", "--file", idp_path], dir)?;
    wait_ready(
        &mut idp,
        &format!("{idp_issuer}/.well-known/openid-configuration"),
        Duration::from_secs(60),
    )
    .await?;

    let mcp_port = free_port()?;
    let listen = format!("127.0.0.1:{mcp_port}");
    let mut mcp = Proc::spawn("demo-mcp", &["demo-mcp", "--listen", &listen], dir)?;
    wait_listening(&mut mcp, &listen).await?;
    Ok(Upstreams {
        idp,
        idp_issuer,
        mcp,
        mcp_url: format!("http://{listen}/mcp"),
        bridge_port,
    })
}

/// Waits until something accepts TCP connections at `addr` (the demo MCP server has no GET
/// route to poll).
async fn wait_listening(proc: &mut Proc, addr: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        proc.ensure_running()?;
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!(
                "{} never listened on {addr}\n{}",
                proc.name,
                proc.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

/// Writes the `serve` configuration for `database_url` into `dir`; returns its path.
pub fn write_bridge_config(
    dir: &Path,
    up: &Upstreams,
    database_url: &str,
    signing_algorithm: Option<&str>,
) -> Result<PathBuf> {
    let port = up.bridge_port;
    // Unset: the server's default for a new deployment.
    let tokens = signing_algorithm.map_or_else(String::new, |alg| {
        format!("[tokens]\nsigning_algorithm = \"{alg}\"\n")
    });
    let secret_key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let text = format!(
        r#"public_url = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
allow_insecure_http = true
database_url = "{database_url}"
secret_key = "{secret_key}"

{tokens}
# Every request comes from 127.0.0.1: limits would only measure 429s.
[rate_limit]
enabled = false

[[upstreams]]
id = "bench-idp"
kind = "oidc"
issuer = "{issuer}"
client_id = "{IDP_CLIENT_ID}"
client_secret = "{IDP_CLIENT_SECRET}"
scopes = ["openid", "email", "profile", "offline_access"]

[[resources]]
id = "{RS_ID}"
path = "/mcp"
scopes = ["mcp:read", "mcp:write"]
introspection_secret = "{RS_SECRET}"
upstream_url = "{mcp_url}"

[resources.identity_headers]
user_id = "x-dcr-user-id"
email = "x-dcr-user-email"
client_id = "x-dcr-client-id"
scopes = "x-dcr-scopes"
client_kind = "x-dcr-client-kind"
"#,
        issuer = up.idp_issuer,
        mcp_url = up.mcp_url,
    );
    let path = dir.join("dcr-bridge.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// `dcr-bridge serve --config <config>`, answering `/readyz`; its base URL.
pub async fn start_bridge(config: &Path, up: &Upstreams, dir: &Path) -> Result<(Proc, String)> {
    let mut proc = Proc::spawn("serve", &["serve", "--config", path_str(config)?], dir)?;
    let base = format!("http://127.0.0.1:{}", up.bridge_port);
    wait_ready(
        &mut proc,
        &format!("{base}/readyz"),
        Duration::from_secs(120),
    )
    .await?;
    Ok((proc, base))
}

/// The `alg` of every key the server publishes at `/jwks` (which one signs is the server's
/// choice: the current key).
pub async fn published_algorithms(base: &str) -> Result<String> {
    let jwks: Value = reqwest::get(format!("{base}/jwks"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .context("/jwks has no keys")?
        .iter()
        .filter_map(|k| k["alg"].as_str())
        .collect();
    Ok(algs.join(", "))
}

/// `dcr-bridge seed --config <config> --clients N --grants N`: tops the database up to `n`
/// clients and `n` grants; its JSON line (`clients`, `grants`, `inserted_rows`, `seconds`).
pub async fn seed(config: &Path, n: u64) -> Result<Value> {
    let n = n.to_string();
    let out = crate::procs::run_to_end(
        &[
            "seed",
            "--config",
            path_str(config)?,
            "--clients",
            &n,
            "--grants",
            &n,
        ],
        Duration::from_secs(6 * 3600),
    )
    .await?;
    let line = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("seed printed no JSON line: {out}"))?;
    serde_json::from_str(line).with_context(|| format!("seed's line is not JSON: {line}"))
}
