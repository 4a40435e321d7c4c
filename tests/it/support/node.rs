//! Node.js interop harness for the integration tests (see `tests/interop/`).
//!
//! * [`NodeService`]: a long-lived script that prints one readiness line, like
//!   [`OidcProviderProc`] here and `McpServerProc` ([`super::mcp_server`]).
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
//! tests and test processes ([`super::install`]).

#![allow(dead_code)] // not every test uses every helper

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::OnceCell;

use super::install;
use super::prereq::{self, Prereq};
use super::process::{self, LogBuf, ScriptOutput};

/// How long a [`NodeService`] may take to print its readiness line.
const SERVICE_START_TIMEOUT: Duration = Duration::from_secs(60);
const SDK_FLOW_TIMEOUT: Duration = Duration::from_secs(180);
const STAMP_FILE: &str = ".dcr-bridge-interop-stamp";
const VERBOSE_VAR: &str = "INTEROP_VERBOSE";

/// `<crate>/tests/interop`.
pub fn interop_dir() -> PathBuf {
    super::tests_dir("interop")
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

/// [`node_available`] (and `npm`), as a test prerequisite: missing, the test fails naming it
/// unless Node is opted out ([`prereq::SKIP_VAR`]), when this returns `false` after a
/// visible notice.
pub async fn node_or_skip() -> bool {
    prereq::require(Prereq::Node, || async {
        if !node_available().await {
            return Err("`node --version` does not run".to_owned());
        }
        let npm = Command::new("npm")
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        match npm {
            Ok(s) if s.success() => Ok(()),
            _ => Err("`npm --version` does not run".to_owned()),
        }
    })
    .await
}

static NPM_DEPS: OnceCell<()> = OnceCell::const_new();

/// Runs `npm ci --no-audit --no-fund` in `tests/interop` unless `node_modules` already matches
/// `package-lock.json`. Safe to call from many tests at once: a `OnceCell` dedups within the
/// process, an exclusive lock file (in the temp dir) dedups across processes (e.g. nextest).
pub async fn ensure_npm_deps() -> Result<()> {
    NPM_DEPS.get_or_try_init(install_npm_deps).await.map(|_| ())
}

async fn install_npm_deps() -> Result<()> {
    install::npm_ci(&interop_dir(), &[], STAMP_FILE, |dir| {
        install::npm_stamp_matches(dir, STAMP_FILE)
    })
    .await
}

/// A long-lived `node <script>` in `tests/interop` that prints one JSON line on stdout once it
/// is ready (and nothing else there), logs to stderr, and exits when its stdin closes. Killed on
/// drop; closing stdin (held here) also ends it, so a crashed test leaves no orphan.
pub struct NodeService {
    child: Child,
    stdin: Option<ChildStdin>,
    logs: LogBuf,
}

impl NodeService {
    /// Runs `node <script> <args…>` and waits up to [`SERVICE_START_TIMEOUT`] for its readiness
    /// line; `prefix` marks its log lines (`[upstream]`). Returns the service and that line.
    pub async fn start(
        script: &str,
        args: &[&str],
        prefix: &'static str,
    ) -> Result<(Self, serde_json::Value)> {
        ensure_npm_deps().await?;
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(interop_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning `node {script}` (is node on PATH?)"))?;
        let logs: LogBuf = Arc::default();
        let verbose = process::verbose(VERBOSE_VAR);
        if let Some(stderr) = child.stderr.take() {
            process::drain(stderr, prefix, logs.clone(), None, verbose);
        }
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("{script} stdout not piped"))?;
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(SERVICE_START_TIMEOUT, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = child.start_kill();
                bail!(
                    "{script} did not report readiness ({}); stderr:\n{}",
                    match other {
                        Err(_) => "timeout".to_owned(),
                        Ok(Err(e)) => e.to_string(),
                        _ => "exited".to_owned(),
                    },
                    process::joined(&logs)
                );
            }
        };
        // Keep draining stdout (it should stay silent) so the pipe never fills.
        process::drain(lines.into_inner(), prefix, logs.clone(), None, verbose);
        let ready = serde_json::from_str(&line)
            .with_context(|| format!("{script} readiness line is not JSON: {line}"))?;
        Ok((Self { child, stdin, logs }, ready))
    }

    /// Everything the process wrote to stderr so far.
    pub fn logs(&self) -> String {
        process::joined(&self.logs)
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

/// A running `tests/interop/upstream.mjs` (oidc-provider), a [`NodeService`].
pub struct OidcProviderProc {
    /// `http://127.0.0.1:{port}/oauth2/default`
    pub issuer: String,
    pub port: u16,
    service: NodeService,
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
        let mut args = vec![
            "--port",
            "0",
            "--client-id",
            client_id,
            "--client-secret",
            client_secret,
        ];
        if let Some(cb) = callback {
            args.extend(["--callback", cb]);
        }
        args.extend(extra_args);
        let (service, ready) = NodeService::start("upstream.mjs", &args, "[upstream]").await?;
        let issuer = ready["issuer"]
            .as_str()
            .ok_or_else(|| anyhow!("no issuer in {ready}"))?
            .to_owned();
        let port = ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| anyhow!("no port in {ready}"))?;
        Ok(Self {
            issuer,
            port,
            service,
        })
    }

    /// Everything the process wrote to stderr so far (oidc-provider warnings + one line per
    /// request: `[upstream] GET /auth -> 303`). Handy in assertion messages.
    pub fn logs(&self) -> String {
        self.service.logs()
    }

    /// The value of `result`, or a panic naming `what` with the error and [`logs`](Self::logs).
    pub fn ok_or_panic<T>(&self, result: Result<T>, what: &str) -> T {
        match result {
            Ok(v) => v,
            Err(e) => panic!("{what} failed: {e:#}\nupstream log:\n{}", self.logs()),
        }
    }

    /// Graceful stop: close stdin, wait up to 5 s, then kill.
    pub async fn stop(self) -> Result<()> {
        self.service.stop().await
    }
}

/// Raw result of `sdk_flow.mjs`, whether it succeeded or not.
pub type SdkFlowOutput = ScriptOutput;

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
    run_sdk_flow_raw(server_url, extra_args)
        .await?
        .into_json("sdk_flow.mjs")
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
    run_script_raw("sdk_v2_flow.mjs", server_url, extra_args)
        .await?
        .into_json("sdk_v2_flow.mjs")
}

/// Runs `node <script> --server-url <server_url> <extra_args…>` in `tests/interop` and parses
/// the last non-empty stdout line as JSON.
async fn run_script_raw(
    script: &str,
    server_url: &str,
    extra_args: &[&str],
) -> Result<ScriptOutput> {
    ensure_npm_deps().await?;
    process::run_json_script(
        Command::new("node")
            .arg(script)
            .args(["--server-url", server_url])
            .args(extra_args)
            .current_dir(interop_dir()),
        SDK_FLOW_TIMEOUT,
        &format!("`node {script}`"),
    )
    .await
}
