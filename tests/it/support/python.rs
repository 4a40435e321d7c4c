//! Python interop harness (see `tests/interop/python/`).
//!
//! [`run_python_sdk_flow`] runs `tests/interop/python/sdk_flow.py`: the official MCP Python SDK
//! (PyPI `mcp`, pinned in `requirements.txt`) connecting its streamable HTTP transport with
//! `OAuthClientProvider` to a running dcr-bridge, with a scripted headless browser.
//!
//! The interpreter is a virtualenv at `tests/interop/python/.venv` (git-ignored), created with
//! `python3 -m venv` and `pip install -r requirements.txt` on first use, and rebuilt whenever
//! `requirements.txt` changes. That runs once across parallel tests (a `OnceCell`) and test
//! processes (an exclusive lock file in the temp dir, [`super::install`]), like `npm ci` in
//! [`super::node`].

#![allow(dead_code)] // not every test uses every helper

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Result};
use tokio::process::Command;
use tokio::sync::OnceCell;

use super::install;
use super::prereq::{self, Prereq};
use super::process::{self, ScriptOutput};

const VENV_TIMEOUT: Duration = Duration::from_secs(600);
const SDK_FLOW_TIMEOUT: Duration = Duration::from_secs(180);
const STAMP_FILE: &str = ".dcr-bridge-requirements-stamp";

/// `<crate>/tests/interop/python`.
pub fn python_dir() -> PathBuf {
    super::node::interop_dir().join("python")
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
    /// Tests fail on this unless Python is opted out ([`super::prereq::SKIP_VAR`]).
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

/// [`ensure_venv`], as a test prerequisite: when Python cannot make a venv, the test fails
/// naming it unless Python is opted out ([`prereq::SKIP_VAR`]), when this returns `false`
/// after a visible notice. Any other install failure panics.
pub async fn venv_or_skip() -> bool {
    prereq::require(Prereq::Python, || async {
        match ensure_venv().await {
            Ok(()) => Ok(()),
            Err(VenvError::Unavailable(why)) => Err(why),
            Err(e @ VenvError::Failed(_)) => panic!("{e}"),
        }
    })
    .await
}

fn venv_matches(dir: &Path) -> bool {
    install::stamp_matches(
        &dir.join("requirements.txt"),
        &dir.join(".venv").join(STAMP_FILE),
    ) && venv_python().exists()
}

async fn create_venv() -> std::result::Result<(), VenvError> {
    let dir = python_dir();
    let Some(_lock) =
        install::lock_unless_installed(&dir, "venv", "venv install", VENV_TIMEOUT, || {
            venv_matches(&dir)
        })
        .await?
    else {
        return Ok(());
    };

    // `--clear`: a venv for other pins is rebuilt from scratch, so no stale package survives.
    let what = format!("`python3 -m venv` in {}", dir.display());
    let out = process::output(
        Command::new("python3")
            .args(["-m", "venv", "--clear", ".venv"])
            .current_dir(&dir),
        VENV_TIMEOUT,
        &what,
    )
    .await
    .map_err(|e| VenvError::Unavailable(format!("{e:#}")))?;
    if !out.status.success() || !venv_python().exists() {
        return Err(VenvError::Unavailable(process::failure(&what, &out)));
    }
    let what = format!("`pip install -r requirements.txt` in {}", dir.display());
    let out = process::output(
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
        VENV_TIMEOUT,
        &what,
    )
    .await?;
    process::ensure_success(&what, &out)?;
    install::write_stamp(
        &dir.join("requirements.txt"),
        &dir.join(".venv").join(STAMP_FILE),
    )?;
    Ok(())
}

/// Raw result of `sdk_flow.py`, whether it succeeded or not.
pub type PySdkFlowOutput = ScriptOutput;

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
    run_python_sdk_flow_raw(server_url, extra_args)
        .await?
        .into_json("sdk_flow.py")
}

/// Like [`run_python_sdk_flow`] but returns the output even when the script exits non-zero.
pub async fn run_python_sdk_flow_raw(
    server_url: &str,
    extra_args: &[&str],
) -> Result<PySdkFlowOutput> {
    let out = process::run_json_script(
        Command::new(venv_python())
            .arg("sdk_flow.py")
            .args(["--server-url", server_url])
            .args(extra_args)
            .current_dir(python_dir())
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        SDK_FLOW_TIMEOUT,
        &format!("`{} sdk_flow.py`", venv_python().display()),
    )
    .await?;
    if process::verbose("INTEROP_VERBOSE") {
        eprintln!(
            "[sdk_flow.py stderr]\n{}\n[sdk_flow.py stdout]\n{}",
            out.stderr, out.json
        );
    }
    Ok(out)
}

/// Parses Prometheus exposition `text` with the reference parser (`prometheus_client`, pinned in
/// `requirements.txt`) through `parse_metrics.py`: `Ok(families JSON)`, or `Err` with the
/// parser's complaint. The venv must exist ([`venv_or_skip`]).
pub async fn parse_metrics(text: &str) -> Result<serde_json::Value, String> {
    let file = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    std::fs::write(file.path(), text).map_err(|e| e.to_string())?;
    let out = process::output(
        Command::new(venv_python())
            .arg("parse_metrics.py")
            .arg(file.path())
            .current_dir(python_dir())
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        Duration::from_secs(60),
        "`parse_metrics.py`",
    )
    .await
    .map_err(|e| format!("{e:#}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}
