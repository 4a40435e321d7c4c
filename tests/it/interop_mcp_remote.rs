//! Software nobody here wrote, as the desktop hosts run it: `mcp-remote` (the stdio <-> HTTP
//! bridge Claude Desktop, Cursor and Windsurf launch for remote MCP servers) as a child process,
//! `mcp-remote <dcr-bridge>/mcp <callback-port> --host 127.0.0.1`, with its own config dir.
//!
//! It discovers dcr-bridge, registers itself (RFC 7591; or, with `--client-metadata-url`, uses its
//! client ID metadata document's URL as client id), starts its loopback callback server and
//! opens the authorization URL with the `open` npm package. That "browser" is
//! `tests/interop/fake-browser/xdg-open` ([`fake_browser`]), which only records the URL; the
//! test then walks it as
//! the user (consent, the development IdP's login as dev-alice, dcr-bridge's callback) and
//! delivers the code to mcp-remote's loopback callback. mcp-remote exchanges it, and the test
//! speaks MCP (newline-delimited JSON-RPC) through mcp-remote's stdin/stdout and dcr-bridge's
//! gateway to a real MCP server built with the official TypeScript SDK
//! (`tests/interop/mcp_server.mjs`, stateful or stateless as each test's name says). Once the
//! access token has expired (the server's clock moved on), the gateway answers 401 and
//! mcp-remote refreshes and retries.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::support::app::{jwt_claims, query_param, Db, TestApp};
use crate::support::cimd_doc::HttpsDocServer;
use crate::support::fake_browser;
use crate::support::interop::{assert_cimd_client, assert_sdk_server_session};
use crate::support::mcp_server::{McpMode, McpServerProc};
use crate::support::node::{ensure_npm_deps, interop_dir, node_or_skip};
use crate::support::process::{self, LogBuf};

/// The pinned `mcp-remote` (must match `tests/interop/package.json`).
const MCP_REMOTE_VERSION: &str = "0.15.1";
/// How long mcp-remote may take to discover, register and open the browser.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one JSON-RPC answer may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `mcp-remote` with a headless browser; killed on drop.
struct McpRemote {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: LogBuf,
    /// `MCP_REMOTE_CONFIG_DIR` (the stand-in for `~/.mcp-auth`).
    config_dir: PathBuf,
    /// Where the fake browser records the URLs it is asked to open.
    browser_log: PathBuf,
    _home: tempfile::TempDir,
}

impl McpRemote {
    /// `node node_modules/mcp-remote/dist/proxy.js <server_url> <callback_port> --host 127.0.0.1`
    /// in a fresh HOME and config dir, without a desktop, with the fake browser.
    async fn start(server_url: &str, callback_port: u16, extra_args: &[&str]) -> Result<Self> {
        ensure_npm_deps().await?;
        let dir = interop_dir();
        let pkg: Value = serde_json::from_slice(&std::fs::read(
            dir.join("node_modules/mcp-remote/package.json"),
        )?)?;
        assert_eq!(pkg["version"], MCP_REMOTE_VERSION, "installed mcp-remote");
        let bin = pkg["bin"]["mcp-remote"]
            .as_str()
            .ok_or_else(|| anyhow!("mcp-remote has no `mcp-remote` bin"))?;
        let entry = dir.join("node_modules/mcp-remote").join(bin);

        let home = tempfile::tempdir()?;
        let config_dir = home.path().join("mcp-auth");
        let browser_log = home.path().join("browser.log");

        let mut cmd = Command::new("node");
        cmd.arg(&entry)
            .arg(server_url)
            .arg(callback_port.to_string())
            .args(["--host", "127.0.0.1", "--auth-timeout", "120"])
            .args(extra_args);
        if process::verbose("INTEROP_VERBOSE") {
            // Writes `<config dir>/mcp-remote-v1/<hash>_debug.log`.
            cmd.arg("--debug");
        }
        fake_browser::install(&mut cmd, &browser_log)?;
        cmd.env("HOME", home.path())
            .env("MCP_REMOTE_CONFIG_DIR", &config_dir)
            .current_dir(home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .context("spawning `node mcp-remote` (is node on PATH?)")?;
        let verbose = process::verbose("INTEROP_VERBOSE");
        let stderr: LogBuf = LogBuf::default();
        let err = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        process::drain(err, "[mcp-remote]", stderr.clone(), None, verbose);
        let out = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        process::drain(
            out,
            "[mcp-remote stdout]",
            LogBuf::default(),
            Some(tx),
            verbose,
        );
        Ok(Self {
            stdin: child.stdin.take(),
            child,
            stdout: rx,
            stderr,
            config_dir,
            browser_log,
            _home: home,
        })
    }

    fn logs(&self) -> String {
        process::joined(&self.stderr)
    }

    /// Fails if mcp-remote has exited.
    fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("mcp-remote exited ({status})");
        }
        Ok(())
    }

    /// The first URL mcp-remote asked the browser to open.
    async fn opened_url(&mut self) -> Result<String> {
        let log = self.browser_log.clone();
        fake_browser::first_url(&log, BROWSER_TIMEOUT, || self.ensure_running()).await
    }

    /// Writes one JSON-RPC message to mcp-remote's stdin.
    async fn send(&mut self, msg: &Value) -> Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| anyhow!("stdin closed"))?;
        stdin.write_all(format!("{msg}\n").as_bytes()).await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Sends request `id` and returns its response (skipping anything else mcp-remote writes).
    async fn request(&mut self, id: u64, method: &str, params: Value) -> Result<Value> {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        let deadline = tokio::time::Instant::now() + RPC_TIMEOUT;
        loop {
            let line = tokio::time::timeout_at(deadline, self.stdout.recv())
                .await
                .map_err(|_| anyhow!("no answer to {method} within {RPC_TIMEOUT:?}"))?
                .ok_or_else(|| anyhow!("mcp-remote closed stdout while awaiting {method}"))?;
            let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                bail!("mcp-remote wrote a non-JSON line to stdout: {line}");
            };
            if msg["id"] == id && msg.get("method").is_none() {
                return Ok(msg);
            }
        }
    }

    /// A file mcp-remote keeps for the server (`<config dir>/mcp-remote-v1/<hash>_<name>`).
    fn stored(&self, name: &str) -> Result<Value> {
        let store = self.config_dir.join("mcp-remote-v1");
        let suffix = format!("_{name}");
        let path = std::fs::read_dir(&store)
            .with_context(|| format!("reading {}", store.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| file_name(p).is_some_and(|n| n.ends_with(&suffix)))
            .ok_or_else(|| anyhow!("no *{suffix} in {}", store.display()))?;
        Ok(serde_json::from_slice(&std::fs::read(&path)?)?)
    }

    /// Closes stdin (mcp-remote then shuts down), waits briefly, then kills.
    async fn stop(mut self) {
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

impl Drop for McpRemote {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("mcp-remote stderr:\n{}", self.logs());
        }
    }
}

fn file_name(p: &Path) -> Option<&str> {
    p.file_name().and_then(|n| n.to_str())
}

/// A loopback port nobody listens on right now (for mcp-remote's callback server).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn mcp_remote_signs_in_and_proxies_mcp_over_stdio_to_stateless_sdk_server() {
    if !node_or_skip().await {
        return;
    }
    end_to_end(McpMode::Stateless, None).await;
}

/// With `--client-metadata-url` mcp-remote identifies itself by its client ID metadata document
/// (CIMD) instead of registering, and keeps no client_info.json.
#[tokio::test]
async fn mcp_remote_uses_cimd_with_stateful_sdk_server() {
    if !node_or_skip().await {
        return;
    }
    let docs = HttpsDocServer::start_with_redirect(
        CIMD_CLIENT_NAME,
        // Port-less loopback: mcp-remote's callback port is chosen per run (COMPAT C19).
        "http://127.0.0.1/oauth/callback",
    )
    .await;
    end_to_end(McpMode::Stateful, Some(&docs)).await;
}

/// The `client_name` of [`mcp_remote_uses_cimd_with_stateful_sdk_server`]'s document.
const CIMD_CLIENT_NAME: &str = "mcp-remote-cimd-interop";

/// dcr-bridge (dev IdP) with the SDK server in `mode` behind `/mcp`, and mcp-remote (with
/// `--client-metadata-url` when `cimd` is given) through the whole [`run`].
async fn end_to_end(mode: McpMode, cimd: Option<&HttpsDocServer>) {
    let started = Instant::now();
    let mcp = McpServerProc::start(mode).await.unwrap();
    let app = TestApp::start_with(Db::Sqlite, |c| {
        mcp.protect(c);
        c.cimd.allow_loopback_for_tests = cimd.is_some();
    })
    .await
    .unwrap();
    let port = free_port();
    let redirect_uri = format!("http://127.0.0.1:{port}/oauth/callback");
    let args = match cimd {
        Some(docs) => vec!["--client-metadata-url", docs.url.as_str()],
        None => Vec::new(),
    };
    let mut remote = McpRemote::start(&app.resource(), port, &args)
        .await
        .unwrap();
    // On failure, `remote`'s drop prints mcp-remote's stderr.
    let whoami = run(&app, &mut remote, &redirect_uri, cimd).await.unwrap();
    remote.stop().await;
    assert_sdk_server_session(&mcp, &whoami).await;
    if let Some(docs) = cimd {
        assert_cimd_client(&app, docs).await;
    }
    eprintln!(
        "mcp-remote {MCP_REMOTE_VERSION}: end to end in {:?}",
        started.elapsed()
    );
}

/// The whole run, with DCR or (given `cimd`) the document's URL as client id; returns the
/// `whoami` texts before and after the refresh (as `{whoami, whoami_after_refresh}`).
async fn run(
    app: &TestApp,
    remote: &mut McpRemote,
    redirect_uri: &str,
    cimd: Option<&HttpsDocServer>,
) -> Result<Value> {
    // mcp-remote discovered dcr-bridge, registered and sent the "browser" to our /authorize.
    let authorize_url = remote.opened_url().await?;
    let param = |name: &str| query_param(&authorize_url, name);
    assert!(
        authorize_url.starts_with(&app.url("/authorize?")),
        "{authorize_url}"
    );
    let client_id = param("client_id").ok_or_else(|| anyhow!("no client_id"))?;
    match cimd {
        Some(docs) => assert_eq!(client_id, docs.url, "{authorize_url}"),
        None => assert!(client_id.starts_with("dcrb_c_"), "{authorize_url}"),
    }
    assert_eq!(param("redirect_uri").as_deref(), Some(redirect_uri));
    assert_eq!(param("response_type").as_deref(), Some("code"));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("resource"), Some(app.resource()));
    let state = param("state").ok_or_else(|| anyhow!("no state"))?;
    // The scope the 401 challenge named, plus offline_access (in our scopes_supported), for
    // which mcp-remote also asks for prompt=consent.
    let scope = param("scope").unwrap_or_default();
    for s in ["mcp:read", "mcp:write", "offline_access"] {
        assert!(scope.split(' ').any(|x| x == s), "{authorize_url}");
    }

    if cimd.is_some() {
        // A client id from a metadata document is not cached as a registration.
        assert!(remote.stored("client_info.json").is_err(), "no DCR");
    } else {
        // The registration mcp-remote made (and stored) is ours: a public client for that
        // loopback redirect.
        let info = remote.stored("client_info.json")?;
        assert_eq!(info["client_id"], client_id.as_str(), "{info}");
        assert_eq!(info["redirect_uris"], json!([redirect_uri]), "{info}");
    }
    let redirect = url::Url::parse(redirect_uri)?;
    assert_eq!(redirect.scheme(), "http");
    assert_eq!(redirect.host_str(), Some("127.0.0.1"), "loopback redirect");

    // The user's part: consent, upstream login as dev-alice, our callback.
    let name = if cimd.is_some() {
        CIMD_CLIENT_NAME
    } else {
        "MCP CLI Proxy"
    };
    let response_url = app.login_at(&authorize_url, name, "dev-alice").await;
    assert!(
        response_url.starts_with(&format!("{redirect_uri}?")),
        "{response_url}"
    );
    assert_eq!(query_param(&response_url, "state"), Some(state));
    assert_eq!(query_param(&response_url, "iss"), Some(app.base.clone()));
    assert!(query_param(&response_url, "code").is_some());

    // The browser lands on mcp-remote's loopback callback, which takes the code.
    remote.ensure_running()?;
    let res = app.api.get(&response_url).send().await?;
    let status = res.status();
    let body = res.text().await?;
    assert_eq!(status, 200, "loopback callback: {body}");
    assert!(body.contains("Authorization successful"), "{body}");

    // MCP over stdio, through mcp-remote and the gateway to the SDK server, with our token.
    let init = remote
        .request(
            1,
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "dcr-bridge-interop", "version": "0.0.0"},
            }),
        )
        .await?;
    assert_eq!(
        init["result"]["serverInfo"]["name"], "dcr-bridge-interop-sdk-server",
        "{init}"
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    remote
        .send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await?;

    let list = remote.request(2, "tools/list", json!({})).await?;
    let tools = list["result"]["tools"]
        .as_array()
        .ok_or_else(|| anyhow!("tools/list: {list}"))?;
    assert!(tools.iter().any(|t| t["name"] == "whoami"), "{list}");

    let first = call_whoami(remote, 3, &client_id).await?;

    // What mcp-remote keeps in its own config dir: our access token for the MCP resource.
    let tokens = remote.stored("tokens.json")?;
    let at = tokens["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("tokens.json: {tokens}"))?;
    assert_eq!(jwt_claims(at)["aud"], app.resource());
    assert!(tokens["refresh_token"].is_string(), "refresh token stored");

    // The access token expires: the gateway answers 401 `invalid_token`, and mcp-remote's
    // transport refreshes (refresh_token grant), stores the new tokens and retries the call.
    let exp = jwt_claims(at)["exp"]
        .as_i64()
        .ok_or_else(|| anyhow!("no exp in the access token"))?;
    app.clock.set(exp + 1);
    let after_refresh = call_whoami(remote, 4, &client_id).await?;
    let refreshed = remote.stored("tokens.json")?;
    assert_ne!(
        refreshed["access_token"], tokens["access_token"],
        "refreshed"
    );
    assert_ne!(
        refreshed["refresh_token"], tokens["refresh_token"],
        "rotated"
    );
    let new_at = refreshed["access_token"].as_str().unwrap_or_default();
    assert_eq!(app.introspect(new_at).await["active"], true);
    Ok(json!({"whoami": first, "whoami_after_refresh": after_refresh}))
}

/// Calls `whoami` (request `id`) through mcp-remote; its text names alice and `client_id`.
async fn call_whoami(remote: &mut McpRemote, id: u64, client_id: &str) -> Result<String> {
    let call = remote
        .request(id, "tools/call", json!({"name": "whoami", "arguments": {}}))
        .await?;
    assert_eq!(call["result"]["isError"], false, "{call}");
    let text = call["result"]["content"][0]["text"]
        .as_str()
        .ok_or_else(|| anyhow!("whoami: {call}"))?;
    assert!(text.contains("alice@example.com"), "{text}");
    assert!(text.contains(client_id), "{text}");
    Ok(text.to_owned())
}
