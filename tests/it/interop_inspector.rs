//! The MCP Inspector CLI (`@modelcontextprotocol/inspector` 2.12.0, `mcp-inspector --cli`,
//! built on the TS SDK v2 client) against dcr-bridge, headless, in both protocol eras:
//! `--protocol-era legacy` (the 2025 `initialize` handshake) and `modern` (2026-07-28:
//! `server/discover`, stateless requests with `Mcp-Method`/`Mcp-Name`).
//!
//! Without a terminal the CLI refuses interactive OAuth unless `MCP_AUTO_OPEN_ENABLED=true`
//! (`assertInteractiveOAuthAllowed` in its `core/cli/cliOAuth.ts`); with it, it prints
//! `Please navigate to: <url>` and opens the URL with the `open` npm package, which without a
//! desktop runs `$BROWSER`: `tests/interop/fake-browser/xdg-open` ([`fake_browser`]), which
//! only records it. The test then walks that URL as the user (consent page, the development
//! IdP's login as dev-alice, dcr-bridge's callback) and delivers the code to the Inspector's
//! loopback callback.
//!
//! One Inspector run does one method, so the flow is three runs sharing one HOME, whose
//! `~/.mcp-inspector/secrets.json` keeps the client and tokens between them
//! (`MCP_INSPECTOR_SECRET_STORE=file`): `tools/list` (401 → discovery → DCR → consent →
//! upstream login → token), `tools/call whoami` with `--stored-auth-only` (no second login),
//! and, after dcr-bridge's clock passes the access token's expiry, `tools/call whoami` again
//! (401 → refresh → retry). Every MCP call goes through the gateway to the demo MCP server.
//! A third test does the same with `--client-metadata-url` (CIMD, a document served over
//! HTTPS on loopback by [`HttpsDocServer`]) instead of DCR.
//!
//! The Inspector needs Node ≥ 22.19: `tests/inspector/package.json` pins it with the `node`
//! npm package ([`pinned_node`]). `INTEROP_VERBOSE=1` echoes the Inspector's output.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

use dcr_bridge::store::ClientKind;

use crate::support::app::{jwt_claims, query_param, Db, TestApp};
use crate::support::cimd_doc::HttpsDocServer;
use crate::support::fake_browser;
use crate::support::pinned_node::{self, Installed};
use crate::support::prereq::{self, Prereq};
use crate::support::process::{self, LogBuf};

/// The pinned Inspector (must match `tests/inspector/package.json`).
const INSPECTOR_VERSION: &str = "2.12.0";
/// Its `engines.node`.
const MIN_NODE: (u32, u32) = (22, 19);
/// How long one Inspector run may take (discovery, registration, the browser leg, the call).
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

static INSPECTOR: OnceCell<Installed> = OnceCell::const_new();

/// The installed Inspector; a missing one fails the test unless `inspector` (or `node`) is
/// opted out ([`prereq::SKIP_VAR`]): then `None`, after a visible notice.
async fn inspector_or_skip() -> Option<Installed> {
    let probe = || async {
        INSPECTOR
            .get_or_try_init(|| async {
                pinned_node::install(&pinned_node::Pins {
                    dir: crate::support::tests_dir("inspector"),
                    stamp_file: ".dcr-bridge-inspector-stamp",
                    package: "@modelcontextprotocol/inspector",
                    version: INSPECTOR_VERSION,
                    min_node: MIN_NODE,
                })
                .await
            })
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    };
    if !prereq::require(Prereq::Inspector, probe).await {
        return None;
    }
    INSPECTOR.get().cloned()
}

/// Inspector runs against one server, sharing a HOME (its stored client and tokens).
struct Inspector {
    tool: Installed,
    server_url: String,
    era: &'static str,
    /// `--client-metadata-url`: CIMD instead of DCR.
    client_metadata_url: Option<String>,
    callback_url: String,
    home: tempfile::TempDir,
}

/// A finished, successful run.
struct Run {
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    /// stdout as the one JSON object `--format json` prints.
    fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.stdout).with_context(|| {
            format!(
                "Inspector stdout is not JSON:\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&self.stdout),
                self.stderr
            )
        })
    }
}

impl Inspector {
    fn new(
        tool: Installed,
        server_url: String,
        era: &'static str,
        client_metadata_url: Option<String>,
    ) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Ok(Self {
            tool,
            server_url,
            era,
            client_metadata_url,
            callback_url: format!("http://127.0.0.1:{port}/oauth/callback"),
            home: tempfile::tempdir()?,
        })
    }

    fn browser_log(&self) -> PathBuf {
        self.home.path().join("browser.log")
    }

    /// `node <launcher> --cli <server> --transport http --protocol-era <era> --format json
    /// --callback-url <loopback> <args…>`, headless, with the fake browser.
    fn spawn(&self, args: &[&str]) -> Result<(Child, LogBuf)> {
        let launcher = self
            .tool
            .package_dir
            .join("clients/launcher/build/index.js");
        let mut cmd = Command::new(&self.tool.node);
        cmd.arg(launcher)
            .args(["--cli", &self.server_url, "--transport", "http"])
            .args(["--protocol-era", self.era, "--format", "json"])
            .args(["--callback-url", &self.callback_url]);
        if let Some(url) = &self.client_metadata_url {
            cmd.args(["--client-metadata-url", url]);
        }
        cmd.args(args);
        fake_browser::install(&mut cmd, &self.browser_log())?;
        cmd.env("HOME", self.home.path())
            .env("MCP_AUTO_OPEN_ENABLED", "true")
            // No keychain here: keep the client and tokens in ~/.mcp-inspector/secrets.json.
            .env("MCP_INSPECTOR_SECRET_STORE", "file")
            .env("NO_COLOR", "1")
            .current_dir(self.home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("spawning the Inspector")?;
        let stderr = LogBuf::default();
        let err = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let verbose = process::verbose("INTEROP_VERBOSE");
        process::drain(err, "[inspector]", stderr.clone(), None, verbose);
        Ok((child, stderr))
    }

    /// Runs to completion (no browser leg expected).
    async fn run(&self, args: &[&str]) -> Result<Run> {
        let (child, stderr) = self.spawn(args)?;
        finish(child, &stderr).await
    }

    /// The first URL the Inspector asked the browser to open, while `child` runs.
    async fn opened_url(&self, child: &mut Child, stderr: &LogBuf) -> Result<String> {
        fake_browser::first_url(&self.browser_log(), RUN_TIMEOUT, || {
            match child.try_wait()? {
                Some(status) => bail!(
                    "the Inspector exited ({status}) before opening a browser:\n{}",
                    process::joined(stderr)
                ),
                None => Ok(()),
            }
        })
        .await
    }

    /// The tokens the Inspector keeps for the server: the one `…:tokens:…` entry of
    /// `~/.mcp-inspector/secrets.json`, a JSON string.
    fn stored_tokens(&self) -> Result<Value> {
        let path = self.home.path().join(".mcp-inspector/secrets.json");
        let file: Value = serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("parsing {}", path.display()))?;
        let secrets = file["secrets"]
            .as_object()
            .ok_or_else(|| anyhow!("{file}"))?;
        let mut tokens = secrets.iter().filter(|(k, _)| k.contains(":tokens:"));
        match (tokens.next(), tokens.next()) {
            (Some((_, v)), None) => Ok(serde_json::from_str(v.as_str().unwrap_or_default())?),
            _ => bail!("not one token entry in {}: {file}", path.display()),
        }
    }
}

/// Waits for the Inspector to exit; its output, or an error with everything it said.
async fn finish(mut child: Child, stderr: &LogBuf) -> Result<Run> {
    let mut stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let read = async {
        let mut buf = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut buf).await?;
        let status = child.wait().await?;
        anyhow::Ok((status, buf))
    };
    let (status, out) = tokio::time::timeout(RUN_TIMEOUT, read)
        .await
        .map_err(|_| anyhow!("the Inspector did not exit within {RUN_TIMEOUT:?}"))??;
    // Let the stderr drain catch up with the last lines.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stderr = process::joined(stderr);
    if !status.success() {
        bail!(
            "the Inspector exited with {status}\n--- stdout ---\n{}\n--- stderr ---\n{stderr}",
            String::from_utf8_lossy(&out),
        );
    }
    Ok(Run {
        stdout: out,
        stderr,
    })
}

#[tokio::test]
async fn mcp_inspector_cli_legacy_era_signs_in_and_calls_whoami() {
    inspector_flow("legacy", false).await;
}

#[tokio::test]
async fn mcp_inspector_cli_modern_era_signs_in_and_calls_whoami() {
    inspector_flow("modern", false).await;
}

/// With `--client-metadata-url` the Inspector skips DCR: the document's URL is its client id
/// (MCP 2026-07-28 prefers CIMD; DCR is deprecated there).
#[tokio::test]
async fn mcp_inspector_cli_modern_era_uses_cimd() {
    inspector_flow("modern", true).await;
}

/// The client name the CIMD document declares, shown on the consent page.
const CIMD_CLIENT_NAME: &str = "MCP Inspector (CIMD interop)";
/// The document's redirect URI: port-less loopback, matched on any port (COMPAT C19).
const CIMD_REDIRECT: &str = "http://127.0.0.1/oauth/callback";

async fn inspector_flow(era: &'static str, cimd: bool) {
    let Some(tool) = inspector_or_skip().await else {
        return;
    };
    let started = Instant::now();
    let docs = match cimd {
        true => Some(HttpsDocServer::start_with_redirect(CIMD_CLIENT_NAME, CIMD_REDIRECT).await),
        false => None,
    };
    let app = TestApp::start_with(Db::Sqlite, |c| c.cimd.allow_loopback_for_tests = cimd)
        .await
        .unwrap();
    let url = docs.as_ref().map(|d| d.url.clone());
    let inspector = Inspector::new(tool, app.resource(), era, url).unwrap();
    run(&app, &inspector).await.unwrap();
    eprintln!(
        "MCP Inspector {INSPECTOR_VERSION} ({era}, {}): end to end in {:?}",
        if cimd { "CIMD" } else { "DCR" },
        started.elapsed()
    );
}

async fn run(app: &TestApp, inspector: &Inspector) -> Result<()> {
    // 1. tools/list: 401 → discovery → DCR (or CIMD) → the browser is sent to our /authorize.
    let (mut child, stderr) = inspector.spawn(&["--method", "tools/list"])?;
    let authorize_url = inspector.opened_url(&mut child, &stderr).await?;
    // It prints the URL before opening it; the stderr drain may still be catching up.
    let prompt = format!("Please navigate to: {authorize_url}");
    let printed = async {
        while !process::joined(&stderr).contains(&prompt) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), printed)
        .await
        .map_err(|_| anyhow!("the Inspector did not print the URL it opened"))?;
    let param = |name: &str| query_param(&authorize_url, name);
    assert!(
        authorize_url.starts_with(&app.url("/authorize?")),
        "{authorize_url}"
    );
    let client_id = param("client_id").ok_or_else(|| anyhow!("no client_id"))?;
    match &inspector.client_metadata_url {
        None => assert!(client_id.starts_with("dcrb_c_"), "DCR: {authorize_url}"),
        Some(url) => assert_eq!(&client_id, url, "CIMD, no DCR: {authorize_url}"),
    }
    assert_eq!(param("redirect_uri"), Some(inspector.callback_url.clone()));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("resource"), Some(app.resource()));
    // The challenge's scope plus offline_access (in our scopes_supported), with prompt=consent.
    let scope = param("scope").unwrap_or_default();
    assert!(
        scope.split(' ').any(|s| s == "offline_access"),
        "{authorize_url}"
    );
    assert_eq!(
        param("prompt").as_deref(),
        Some("consent"),
        "{authorize_url}"
    );
    let state = param("state").ok_or_else(|| anyhow!("no state"))?;

    // The user's part: consent, upstream login as dev-alice, our callback.
    let client_name = match inspector.client_metadata_url {
        None => "MCP Inspector",
        Some(_) => CIMD_CLIENT_NAME,
    };
    let response_url = app.login_at(&authorize_url, client_name, "dev-alice").await;
    check_client(app, inspector, &client_id).await?;
    assert!(
        response_url.starts_with(&format!("{}?", inspector.callback_url)),
        "{response_url}"
    );
    assert_eq!(query_param(&response_url, "state"), Some(state));
    // SDK v2 refuses a response without `iss` when the metadata advertises it (C9).
    assert_eq!(query_param(&response_url, "iss"), Some(app.base.clone()));

    // The browser lands on the Inspector's loopback callback, which takes the code.
    let res = app.api.get(&response_url).send().await?;
    assert!(
        res.status().is_success(),
        "loopback callback: {}",
        res.status()
    );
    let list = finish(child, &stderr).await?.json()?;
    let tools = list
        .pointer("/result/tools")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("tools/list: {list}"))?;
    assert!(tools.iter().any(|t| t["name"] == "whoami"), "{list}");

    // 2. tools/call whoami with the stored token: no second login.
    let call = [
        "--method",
        "tools/call",
        "--tool-name",
        "whoami",
        "--stored-auth-only",
    ];
    let result = inspector.run(&call).await?.json()?;
    let text = whoami_text(&result)?;
    assert!(text.contains("alice@example.com"), "{text}");
    assert!(text.contains(&client_id), "{text}");
    // Only a 2026-07-28 answer names the server in `_meta` (the demo's `protocol.rs`): this is
    // how the test knows which era reached the MCP server through the gateway.
    let server_info = result.pointer("/result/_meta/io.modelcontextprotocol~1serverInfo/name");
    match inspector.era {
        "modern" => assert_eq!(server_info, Some(&json!("dcr-bridge-dev-demo")), "{result}"),
        _ => assert_eq!(server_info, None, "{result}"),
    }
    let first = inspector.stored_tokens()?;
    let access_token = first["access_token"].as_str().unwrap_or_default();
    assert_eq!(jwt_claims(access_token)["aud"], app.resource());
    let refresh_token = first["refresh_token"].as_str().unwrap_or_default();
    assert!(refresh_token.starts_with("dcrb_rt_"), "{first}");

    // 3. The access token expires (dcr-bridge's clock): 401 → refresh → the call again.
    app.clock.advance(2 * 3600);
    let text = whoami_text(&inspector.run(&call).await?.json()?)?.to_owned();
    assert!(text.contains("alice@example.com"), "after refresh: {text}");
    let second = inspector.stored_tokens()?;
    assert_ne!(second["access_token"], first["access_token"], "{second}");
    assert!(second["refresh_token"].is_string(), "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"], "rotated");
    let log = std::fs::read_to_string(inspector.browser_log())?;
    assert_eq!(log.lines().count(), 1, "one browser visit in all: {log}");
    Ok(())
}

/// What dcr-bridge stored for the client: a public client for the Inspector's loopback
/// callback, registered (DCR) or from the document (CIMD).
async fn check_client(app: &TestApp, inspector: &Inspector, client_id: &str) -> Result<()> {
    let store = &app.state.core.store;
    let client = store
        .get_client(client_id)
        .await?
        .ok_or_else(|| anyhow!("{client_id} is not stored"))?;
    assert_eq!(client.token_endpoint_auth_method, "none");
    assert!(client.grant_types.iter().any(|g| g == "refresh_token"));
    if inspector.client_metadata_url.is_some() {
        assert_eq!(client.kind, ClientKind::Cimd);
        assert_eq!(client.client_name.as_deref(), Some(CIMD_CLIENT_NAME));
        assert_eq!(client.redirect_uris, [CIMD_REDIRECT]);
        return Ok(());
    }
    assert_eq!(client.kind, ClientKind::Dcr);
    assert_eq!(client.client_name.as_deref(), Some("MCP Inspector"));
    assert_eq!(client.application_type, "native");
    assert_eq!(
        client.redirect_uris,
        std::slice::from_ref(&inspector.callback_url)
    );
    Ok(())
}

/// The text `whoami` answered, from the Inspector's `--format json` output.
fn whoami_text(out: &Value) -> Result<&str> {
    assert_eq!(out.pointer("/result/isError"), Some(&json!(false)), "{out}");
    out.pointer("/result/content/0/text")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("whoami: {out}"))
}
