//! Python interop harness (see `tests/interop/python/`).
//!
//! [`run_python_sdk_flow`] runs `tests/interop/python/sdk_flow.py`: the official MCP Python SDK
//! (PyPI `mcp`, pinned in `requirements.txt`) connecting its streamable HTTP transport with
//! `OAuthClientProvider` to a running dcr-bridge, with a scripted headless browser.
//!
//! The interpreter is a virtualenv at `tests/interop/python/.venv` (git-ignored), created with
//! `python3 -m venv` and `pip install -r requirements.txt` on first use, and rebuilt whenever
//! `requirements.txt` changes. That runs once across parallel tests (a `OnceCell`) and test
//! processes (an exclusive lock file in the temp dir), like `npm ci` in [`super::node`].

#![allow(dead_code)] // not every test uses every helper

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use tokio::process::Command;
use tokio::sync::OnceCell;

const VENV_TIMEOUT: Duration = Duration::from_secs(600);
const SDK_FLOW_TIMEOUT: Duration = Duration::from_secs(180);
const STAMP_FILE: &str = ".dcr-bridge-requirements-stamp";

/// `<crate>/tests/interop/python`.
pub fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("interop")
        .join("python")
}

fn venv_dir() -> PathBuf {
    python_dir().join(".venv")
}

/// The venv's interpreter.
pub fn venv_python() -> PathBuf {
    if cfg!(windows) {
        venv_dir().join("Scripts").join("python.exe")
    } else {
        venv_dir().join("bin").join("python")
    }
}

/// Why the venv is not there.
#[derive(Debug)]
pub enum VenvError {
    /// No `python3`, or it cannot create a virtualenv (e.g. Debian without `python3-venv`).
    /// Tests skip on this outside CI.
    Unavailable(String),
    /// Anything else, e.g. `pip install` failed. Always a test failure.
    Failed(anyhow::Error),
}

impl std::fmt::Display for VenvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(why) => write!(f, "python venv unavailable: {why}"),
            Self::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for VenvError {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(e)
    }
}

/// `Err((unavailable, message))`, cached: a failed install is not retried within a process.
type VenvOutcome = std::result::Result<(), (bool, String)>;
static VENV: OnceCell<VenvOutcome> = OnceCell::const_new();

/// Makes sure `tests/interop/python/.venv` exists and matches `requirements.txt`.
pub async fn ensure_venv() -> std::result::Result<(), VenvError> {
    let outcome = VENV
        .get_or_init(|| async {
            create_venv().await.map_err(|e| match e {
                VenvError::Unavailable(why) => (true, why),
                VenvError::Failed(e) => (false, format!("{e:#}")),
            })
        })
        .await;
    match outcome {
        Ok(()) => Ok(()),
        Err((true, why)) => Err(VenvError::Unavailable(why.clone())),
        Err((false, msg)) => Err(VenvError::Failed(anyhow!("{msg}"))),
    }
}

fn venv_matches(dir: &Path) -> bool {
    match (
        std::fs::read(dir.join("requirements.txt")),
        std::fs::read(dir.join(".venv").join(STAMP_FILE)),
    ) {
        (Ok(req), Ok(stamp)) => req == stamp && venv_python().exists(),
        _ => false,
    }
}

fn lock_path(dir: &Path) -> PathBuf {
    let tag: String = dir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    std::env::temp_dir().join(format!("dcr-bridge-venv-{tag}.lock"))
}

struct LockGuard(PathBuf);
impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn run(cmd: &mut Command, what: &str) -> Result<std::process::Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    tokio::time::timeout(VENV_TIMEOUT, cmd.output())
        .await
        .map_err(|_| anyhow!("`{what}` timed out"))?
        .with_context(|| format!("spawning `{what}`"))
}

async fn create_venv() -> std::result::Result<(), VenvError> {
    let dir = python_dir();
    if venv_matches(&dir) {
        return Ok(());
    }
    let lock = lock_path(&dir);
    let deadline = tokio::time::Instant::now() + VENV_TIMEOUT;
    let _guard = loop {
        if venv_matches(&dir) {
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
                    .is_some_and(|age| age > VENV_TIMEOUT);
                if stale {
                    let _ = std::fs::remove_file(&lock);
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(anyhow!(
                        "timed out waiting for another venv install (lock {})",
                        lock.display()
                    )
                    .into());
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("creating {}", lock.display()))
                    .into())
            }
        }
    };
    if venv_matches(&dir) {
        return Ok(());
    }

    // `--clear`: a venv for other pins is rebuilt from scratch, so no stale package survives.
    let out = match run(
        Command::new("python3")
            .args(["-m", "venv", "--clear", ".venv"])
            .current_dir(&dir),
        "python3 -m venv",
    )
    .await
    {
        Ok(out) => out,
        Err(e) => return Err(VenvError::Unavailable(format!("{e:#}"))),
    };
    if !out.status.success() || !venv_python().exists() {
        return Err(VenvError::Unavailable(format!(
            "`python3 -m venv` in {} failed ({}):\n{}\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let out = run(
        Command::new(venv_python())
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-q",
                "-r",
                "requirements.txt",
            ])
            .current_dir(&dir),
        "pip install -r requirements.txt",
    )
    .await?;
    if !out.status.success() {
        return Err(anyhow!(
            "`pip install -r requirements.txt` in {} failed ({}):\n{}\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let req = std::fs::read(dir.join("requirements.txt")).context("reading requirements.txt")?;
    std::fs::write(dir.join(".venv").join(STAMP_FILE), req).context("writing venv stamp")?;
    Ok(())
}

/// Raw result of `sdk_flow.py`, whether it succeeded or not.
#[derive(Debug)]
pub struct PySdkFlowOutput {
    /// exit status 0
    pub success: bool,
    /// The single JSON line (`{"error", "steps"}` on failure).
    pub json: serde_json::Value,
    /// The script's stderr (SDK logs, tracebacks).
    pub stderr: String,
}

/// Runs `sdk_flow.py --server-url <server_url> <extra_args…>` in the venv (which must exist:
/// call [`ensure_venv`] first) and returns its JSON, or an error carrying the script's `error`,
/// its `steps` and stderr when it exits non-zero.
///
/// Useful `extra_args`: `--login 00u2bob`, `--no-refresh`, `--redirect-uri URL`.
///
/// Success JSON: `tokens`, `refreshed_tokens`, `tools` (names), `whoami` (tool text),
/// `whoami_after_refresh`, `client_info` (the DCR response as the SDK parsed it),
/// `registration_request`, `authorization_server_metadata`, `resource_metadata`,
/// `authorization_request_url`, `authorization_response_url`, `consent_page`, `initialize`,
/// `mcp_version`, `steps`.
pub async fn run_python_sdk_flow(
    server_url: &str,
    extra_args: &[&str],
) -> Result<serde_json::Value> {
    let out = run_python_sdk_flow_raw(server_url, extra_args).await?;
    if out.success {
        return Ok(out.json);
    }
    let steps = serde_json::to_string_pretty(&out.json["steps"]).unwrap_or_default();
    bail!(
        "sdk_flow.py failed: {}\nsteps: {steps}\nstderr:\n{}",
        out.json["error"].as_str().unwrap_or("<no error field>"),
        out.stderr
    )
}

/// Like [`run_python_sdk_flow`] but returns the output even when the script exits non-zero.
pub async fn run_python_sdk_flow_raw(
    server_url: &str,
    extra_args: &[&str],
) -> Result<PySdkFlowOutput> {
    let mut cmd = Command::new(venv_python());
    cmd.arg("sdk_flow.py")
        .args(["--server-url", server_url])
        .args(extra_args)
        .current_dir(python_dir())
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SDK_FLOW_TIMEOUT, cmd.output())
        .await
        .map_err(|_| anyhow!("sdk_flow.py timed out after {SDK_FLOW_TIMEOUT:?}"))?
        .with_context(|| format!("spawning {}", venv_python().display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let json: serde_json::Value = serde_json::from_str(line).with_context(|| {
        format!(
            "sdk_flow.py ({}) printed no JSON line; stdout: {stdout}\nstderr:\n{stderr}",
            output.status
        )
    })?;
    if std::env::var_os("INTEROP_VERBOSE").is_some() {
        eprintln!("[sdk_flow.py stderr]\n{stderr}\n[sdk_flow.py stdout]\n{line}");
    }
    Ok(PySdkFlowOutput {
        success: output.status.success(),
        json,
        stderr,
    })
}
