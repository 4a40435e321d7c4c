//! Node.js interop harness for the integration tests (see `tests/interop/`).
//!
//! * [`OidcProviderProc`] runs `tests/interop/upstream.mjs`: the certified `oidc-provider`
//!   (pinned 9.13.3) as an Okta-like upstream OP at `http://127.0.0.1:<port>/oauth2/default`.
//! * [`run_sdk_flow`] runs `tests/interop/sdk_flow.mjs`: the MCP TypeScript SDK v1 `auth()`
//!   flow (pinned 1.32.2) against a running dcr-bridge, with a scripted headless browser.
//! * [`run_sdk_v2_flow`] runs `tests/interop/sdk_v2_flow.mjs`: the MCP TypeScript SDK v2 client
//!   (`@modelcontextprotocol/client`, pinned 2.4.0) connecting its Streamable HTTP transport with
//!   an OAuth provider, through the same scripted browser (`tests/interop/browser_leg.mjs`).
//!
//! Ordering: dcr-bridge needs the upstream issuer at start and the upstream needs dcr-bridge's
//! callback URL. Bind dcr-bridge's `TcpListener` on `127.0.0.1:0` first, build
//! `http://127.0.0.1:{port}/oauth/callback`, start the upstream with it, then start dcr-bridge
//! on the already-bound listener. (Without a callback, see
//! [`OidcProviderProc::start_with_args`], the upstream accepts `/oauth/callback` on any
//! loopback port.)
//!
//! Node and npm must be on `PATH`. `npm ci` runs once (per lockfile content) across parallel
//! tests and test processes.

#![allow(dead_code)] // not every test uses every helper

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::OnceCell;

const NPM_CI_TIMEOUT: Duration = Duration::from_secs(600);
const UPSTREAM_START_TIMEOUT: Duration = Duration::from_secs(60);
const SDK_FLOW_TIMEOUT: Duration = Duration::from_secs(180);
const STAMP_FILE: &str = ".dcr-bridge-interop-stamp";

/// `<crate>/tests/interop`.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("interop")
}

/// `true` if `node --version` runs. Lets a test skip itself on machines without Node.
pub async fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

static NPM_DEPS: OnceCell<()> = OnceCell::const_new();

/// Runs `npm ci --no-audit --no-fund` in `tests/interop` unless `node_modules` already matches
/// `package-lock.json`. Safe to call from many tests at once: a `OnceCell` dedups within the
/// process, an exclusive lock file (in the temp dir) dedups across processes (e.g. nextest).
pub async fn ensure_npm_deps() -> Result<()> {
    NPM_DEPS.get_or_try_init(install_npm_deps).await.map(|_| ())
}

fn deps_installed(dir: &Path) -> bool {
    match (
        std::fs::read(dir.join("package-lock.json")),
        std::fs::read(dir.join("node_modules").join(STAMP_FILE)),
    ) {
        (Ok(lock), Ok(stamp)) => lock == stamp,
        _ => false,
    }
}

fn lock_path(dir: &Path) -> PathBuf {
    let tag: String = dir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    std::env::temp_dir().join(format!("dcr-bridge-npm-ci-{tag}.lock"))
}

struct LockGuard(PathBuf);
impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn install_npm_deps() -> Result<()> {
    let dir = interop_dir();
    let lock = lock_path(&dir);
    let deadline = tokio::time::Instant::now() + NPM_CI_TIMEOUT;
    let _guard = loop {
        if deps_installed(&dir) {
            return Ok(());
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break LockGuard(lock.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Another process is installing. Break a lock left by a crashed run.
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > NPM_CI_TIMEOUT);
                if stale {
                    let _ = std::fs::remove_file(&lock);
                }
                if tokio::time::Instant::now() > deadline {
                    bail!(
                        "timed out waiting for another `npm ci` (lock {})",
                        lock.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("creating {}", lock.display())),
        }
    };
    if deps_installed(&dir) {
        return Ok(());
    }
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(NPM_CI_TIMEOUT, cmd.output())
        .await
        .map_err(|_| anyhow!("`npm ci` in {} timed out", dir.display()))?
        .with_context(|| format!("spawning `npm ci` in {} (is npm on PATH?)", dir.display()))?;
    if !output.status.success() {
        bail!(
            "`npm ci` in {} failed ({}):\n{}\n{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let lock_bytes =
        std::fs::read(dir.join("package-lock.json")).context("reading package-lock.json")?;
    std::fs::write(dir.join("node_modules").join(STAMP_FILE), lock_bytes)
        .context("writing npm stamp")?;
    Ok(())
}

type LogBuf = Arc<Mutex<Vec<String>>>;

fn drain_lines<R>(reader: R, prefix: &'static str, buf: LogBuf)
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let verbose = std::env::var_os("INTEROP_VERBOSE").is_some();
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if verbose {
                eprintln!("{prefix} {line}");
            }
            if let Ok(mut b) = buf.lock() {
                b.push(line);
            }
        }
    });
}

fn logs_of(buf: &LogBuf) -> String {
    buf.lock().map(|b| b.join("\n")).unwrap_or_default()
}

/// A running `tests/interop/upstream.mjs` (oidc-provider). Killed on drop; it also exits on its
/// own when its stdin (held here) closes, so a crashed test leaves no orphan.
pub struct OidcProviderProc {
    /// `http://127.0.0.1:{port}/oauth2/default`
    pub issuer: String,
    pub port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
    logs: LogBuf,
}

impl OidcProviderProc {
    /// Starts the upstream with an exact-match redirect URI `callback` (dcr-bridge's
    /// `/oauth/callback`) and a confidential client (`client_secret_basic`; `_post` also accepted).
    /// Users: `00u1alice` (alice@example.com, "Alice Example", groups ["engineering"]),
    /// `00u2bob` (bob@example.com, ["sales"]), `00u3carol` (email_verified=false, ["engineering"]).
    pub async fn start(callback: &str, client_id: &str, client_secret: &str) -> Result<Self> {
        Self::start_with_args(Some(callback), client_id, client_secret, &[]).await
    }

    /// Like [`start`](Self::start). `callback: None` registers the client as a native app so any
    /// `http://127.0.0.1:<any port>/oauth/callback` is accepted. `extra_args` are passed to
    /// upstream.mjs, e.g. `["--access-token-ttl", "5"]`, `["--offline-access-without-prompt"]`,
    /// `["--users-json", r#"{"00u9dan":{"email":"dan@example.com"}}"#]`, `["--issuer-path", "/"]`.
    pub async fn start_with_args(
        callback: Option<&str>,
        client_id: &str,
        client_secret: &str,
        extra_args: &[&str],
    ) -> Result<Self> {
        ensure_npm_deps().await?;
        let dir = interop_dir();
        let mut cmd = Command::new("node");
        cmd.arg("upstream.mjs").args([
            "--port",
            "0",
            "--client-id",
            client_id,
            "--client-secret",
            client_secret,
        ]);
        if let Some(cb) = callback {
            cmd.args(["--callback", cb]);
        }
        cmd.args(extra_args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .context("spawning `node upstream.mjs` (is node on PATH?)")?;
        let logs: LogBuf = Arc::default();
        if let Some(stderr) = child.stderr.take() {
            drain_lines(stderr, "[upstream]", logs.clone());
        }
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("upstream stdout not piped"))?;
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(UPSTREAM_START_TIMEOUT, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = child.start_kill();
                bail!(
                    "upstream.mjs did not report readiness ({}); stderr:\n{}",
                    match other {
                        Err(_) => "timeout".to_owned(),
                        Ok(Err(e)) => e.to_string(),
                        _ => "exited".to_owned(),
                    },
                    logs_of(&logs)
                );
            }
        };
        // Keep draining stdout (it should stay silent) so the pipe never fills.
        drain_lines(lines.into_inner(), "[upstream stdout]", logs.clone());
        let ready: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("upstream.mjs readiness line is not JSON: {line}"))?;
        let issuer = ready["issuer"]
            .as_str()
            .ok_or_else(|| anyhow!("no issuer in {line}"))?
            .to_owned();
        let port = ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| anyhow!("no port in {line}"))?;
        Ok(Self {
            issuer,
            port,
            child,
            stdin,
            logs,
        })
    }

    /// Everything the process wrote to stderr so far (oidc-provider warnings + one line per
    /// request: `[upstream] GET /auth -> 303`). Handy in assertion messages.
    pub fn logs(&self) -> String {
        logs_of(&self.logs)
    }

    /// Graceful stop: close stdin, wait up to 5 s, then kill.
    pub async fn stop(mut self) -> Result<()> {
        drop(self.stdin.take());
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                self.child.kill().await?;
            }
        }
        Ok(())
    }
}

/// Raw result of `sdk_flow.mjs`, whether it succeeded or not.
#[derive(Debug)]
pub struct SdkFlowOutput {
    /// exit status 0
    pub success: bool,
    /// The single JSON line (`{"error", "steps"}` on failure).
    pub json: serde_json::Value,
    /// The script's stderr (SDK warnings etc.).
    pub stderr: String,
}

/// Runs `node sdk_flow.mjs --server-url <server_url> <extra_args…>` and returns its JSON, or an
/// error carrying the script's `error`, its `steps` and stderr when it exits non-zero.
///
/// `server_url` is the MCP resource URL, e.g. `format!("{public_url}/mcp")`.
/// Useful `extra_args`: `--login 00u2bob`, `--deny`, `--upstream-deny`, `--expect-error`,
/// `--no-refresh`, `--no-probe`, `--lenient-cookies`, `--redirect-uri URL`, `--scope S`.
///
/// Success JSON: `client_information`, `tokens`, `refreshed_tokens`, `authorization_response_url`,
/// `authorization_error` (null, or `{error, error_description, state, iss}` in deny modes),
/// `authorization_request_url`, `authorization_server_metadata`, `resource_metadata`,
/// `registration_request`, `consent_page` (`{url, headers, client_name_shown}`),
/// `mcp_probe` (`{unauthenticated_status, www_authenticate, authenticated_status}`), `steps`.
pub async fn run_sdk_flow(server_url: &str, extra_args: &[&str]) -> Result<serde_json::Value> {
    let out = run_sdk_flow_raw(server_url, extra_args).await?;
    if out.success {
        return Ok(out.json);
    }
    let steps = serde_json::to_string_pretty(&out.json["steps"]).unwrap_or_default();
    bail!(
        "sdk_flow.mjs failed: {}\nsteps: {steps}\nstderr:\n{}",
        out.json["error"].as_str().unwrap_or("<no error field>"),
        out.stderr
    )
}

/// Like [`run_sdk_flow`] but returns the output even when the script exits non-zero.
pub async fn run_sdk_flow_raw(server_url: &str, extra_args: &[&str]) -> Result<SdkFlowOutput> {
    run_script_raw("sdk_flow.mjs", server_url, extra_args).await
}

/// Runs `node sdk_v2_flow.mjs --server-url <server_url> <extra_args…>` (MCP TypeScript SDK v2
/// client) and returns its JSON, or an error carrying the script's `error`, its `steps` and
/// stderr when it exits non-zero.
///
/// Useful `extra_args`: `--login 00u2bob`, `--deny`, `--no-refresh`, `--lenient-cookies`,
/// `--redirect-uri URL`, `--client-name NAME` (default `sdk-v2-interop`).
///
/// Success JSON: `sdk_version`, `client_information` (as the SDK saved it, with its `issuer`
/// stamp), `registration_request`, `authorization_server_metadata`, `resource_metadata`,
/// `discovery_state`, `authorization_request_url`, `authorization_response_url` (code redacted),
/// `authorization_error` (null, or `{error, error_description, state, iss}` with `--deny`),
/// `consent_page`, `tokens`, `server_info`, `tools` (names), `whoami` (tool text),
/// `refreshed_tokens`, `whoami_after_refresh`, `steps`. With `--deny`: `sdk_error`
/// (`{name, code, message}` that `finishAuth` threw) and `tokens: null`.
pub async fn run_sdk_v2_flow(server_url: &str, extra_args: &[&str]) -> Result<serde_json::Value> {
    let out = run_script_raw("sdk_v2_flow.mjs", server_url, extra_args).await?;
    if out.success {
        return Ok(out.json);
    }
    let steps = serde_json::to_string_pretty(&out.json["steps"]).unwrap_or_default();
    bail!(
        "sdk_v2_flow.mjs failed: {}\nsteps: {steps}\nstderr:\n{}",
        out.json["error"].as_str().unwrap_or("<no error field>"),
        out.stderr
    )
}

/// Runs `node <script> --server-url <server_url> <extra_args…>` in `tests/interop` and parses
/// the last non-empty stdout line as JSON.
async fn run_script_raw(
    script: &str,
    server_url: &str,
    extra_args: &[&str],
) -> Result<SdkFlowOutput> {
    ensure_npm_deps().await?;
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .args(["--server-url", server_url])
        .args(extra_args)
        .current_dir(interop_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SDK_FLOW_TIMEOUT, cmd.output())
        .await
        .map_err(|_| anyhow!("{script} timed out after {SDK_FLOW_TIMEOUT:?}"))?
        .with_context(|| format!("spawning `node {script}` (is node on PATH?)"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let json: serde_json::Value = serde_json::from_str(line).with_context(|| {
        format!(
            "{script} ({}) printed no JSON line; stdout: {stdout}\nstderr:\n{stderr}",
            output.status
        )
    })?;
    Ok(SdkFlowOutput {
        success: output.status.success(),
        json,
        stderr,
    })
}
