//! The official MCP conformance tool, `@modelcontextprotocol/conformance`, run against
//! dcr-bridge (see `tests/conformance/`).
//!
//! Only 0.2.0-alpha.12 has `conformance authorization`, which tests an authorization server
//! (SPEC §D1). It needs Node ≥ 22, so `tests/conformance/package.json` also pins the `node`
//! package from npm: `npm ci` there puts a Node 22 binary at `node_modules/.bin/node`. The
//! system Node only has to provide `npm`.
//!
//! [`conformance_or_skip`] installs it once ([`super::pinned_node`]);
//! [`Conformance::run`] runs `conformance authorization …` to completion,
//! [`Conformance::spawn`] starts it so a test can drive the interactive
//! `authorization-code-grant` scenario. Both collect every `checks.json` the tool writes.
//!
//! `CONFORMANCE_VERBOSE=1` echoes the tool's output as it runs.

#![allow(dead_code)] // not every test uses every helper

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, OnceCell};
use tokio::task::JoinHandle;

use super::pinned_node;
use super::prereq::{self, Prereq};
use super::process::{self, joined, LogBuf};

/// The pinned tool version (must match `tests/conformance/package.json`).
pub const TOOL_VERSION: &str = "0.2.0-alpha.12";
/// The Node major the tool needs at least.
const NODE_MAJOR: u32 = 22;
const STAMP_FILE: &str = ".dcr-bridge-conformance-stamp";
const TOOL_PACKAGE: &str = "@modelcontextprotocol/conformance";

/// `<crate>/tests/conformance`.
pub fn conformance_dir() -> PathBuf {
    super::tests_dir("conformance")
}

/// The installed tool: a Node 22 binary and the tool's CLI script.
#[derive(Clone, Debug)]
pub struct Conformance {
    pub node: PathBuf,
    pub cli: PathBuf,
    pub node_version: String,
}

static TOOL: OnceCell<Conformance> = OnceCell::const_new();

/// The tool, installing it on first use. When it cannot be installed (no npm, no registry, no
/// Node 22 for this platform) the test fails naming it, unless it is opted out
/// ([`prereq::SKIP_VAR`] with `conformance` or `node`): then `None`, after a visible notice.
pub async fn conformance_or_skip() -> Option<Conformance> {
    let probe = || async {
        TOOL.get_or_try_init(install)
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    };
    if !prereq::require(Prereq::Conformance, probe).await {
        return None;
    }
    TOOL.get().cloned()
}

async fn install() -> Result<Conformance> {
    let tool = pinned_node::install(&pinned_node::Pins {
        dir: conformance_dir(),
        stamp_file: STAMP_FILE,
        package: TOOL_PACKAGE,
        version: TOOL_VERSION,
        min_node: (NODE_MAJOR, 0),
    })
    .await?;
    Ok(Conformance {
        node: tool.node,
        cli: tool.package_dir.join("dist").join("index.js"),
        node_version: tool.node_version,
    })
}

/// One check from a `checks.json`.
#[derive(Clone, Debug)]
pub struct Check {
    /// The scenario that produced it, e.g. `authorization-code-grant`.
    pub scenario: String,
    /// e.g. `authorization-server-metadata-cimd`.
    pub id: String,
    /// `SUCCESS`, `WARNING`, `FAILURE`, `SKIPPED`, `INFO`.
    pub status: String,
    pub error_message: Option<String>,
    pub raw: Value,
}

/// A finished run.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Every check of every scenario, in scenario order.
    pub checks: Vec<Check>,
}

impl Outcome {
    pub fn with_status(&self, status: &str) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.status == status).collect()
    }

    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// `scenario / id: STATUS — message`, one line per check.
    pub fn summary(&self) -> String {
        self.checks
            .iter()
            .map(|c| {
                format!(
                    "{} / {}: {}{}",
                    c.scenario,
                    c.id,
                    c.status,
                    c.error_message
                        .as_deref()
                        .map(|m| format!(" — {m}"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Everything, for assertion messages: exit status, checks, the tool's output.
    pub fn report(&self) -> String {
        format!(
            "exit: {}\nchecks:\n{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            self.summary(),
            self.stdout,
            self.stderr
        )
    }
}

/// A running `conformance authorization …`. Killed on drop.
pub struct Run {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    stdout: LogBuf,
    stderr: LogBuf,
    drains: Vec<JoinHandle<()>>,
    out_dir: tempfile::TempDir,
}

impl Conformance {
    /// Starts `conformance authorization <args> -o <temp dir>`.
    pub fn spawn(&self, args: &[&str]) -> Result<Run> {
        let out_dir = tempfile::tempdir()?;
        let bin = conformance_dir().join("node_modules").join(".bin");
        let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))?;
        let mut child = Command::new(&self.node)
            .arg(&self.cli)
            .arg("authorization")
            .args(args)
            .arg("-o")
            .arg(out_dir.path())
            .current_dir(conformance_dir())
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {} {}", self.node.display(), self.cli.display()))?;
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout: LogBuf = Arc::default();
        let stderr: LogBuf = Arc::default();
        let verbose = process::verbose("CONFORMANCE_VERBOSE");
        let mut drains = Vec::new();
        if let Some(out) = child.stdout.take() {
            drains.push(process::drain(
                out,
                "[conformance]",
                stdout.clone(),
                Some(tx),
                verbose,
            ));
        }
        if let Some(err) = child.stderr.take() {
            drains.push(process::drain(
                err,
                "[conformance stderr]",
                stderr.clone(),
                None,
                verbose,
            ));
        }
        Ok(Run {
            child,
            lines,
            stdout,
            stderr,
            drains,
            out_dir,
        })
    }

    /// Runs `conformance authorization <args>` to completion.
    pub async fn run(&self, args: &[&str], timeout: Duration) -> Result<Outcome> {
        self.spawn(args)?.finish(timeout).await
    }
}

impl Run {
    /// The next stdout line satisfying `pred` (earlier lines are skipped, but kept for the
    /// outcome). Fails if the tool exits or `timeout` passes first.
    pub async fn wait_for_line(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let found = tokio::time::timeout(timeout, async {
            while let Some(line) = self.lines.recv().await {
                if pred(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => Ok(line),
            Ok(None) => bail!(
                "the tool ended without printing the expected line\n--- stdout ---\n{}\n--- stderr ---\n{}",
                joined(&self.stdout),
                joined(&self.stderr)
            ),
            Err(_) => bail!(
                "timed out after {timeout:?} waiting for the expected line\n--- stdout ---\n{}\n--- stderr ---\n{}",
                joined(&self.stdout),
                joined(&self.stderr)
            ),
        }
    }

    /// Waits for the tool to exit (killing it after `timeout`) and reads its checks.
    pub async fn finish(mut self, timeout: Duration) -> Result<Outcome> {
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                let _ = self.child.kill().await;
                bail!(
                    "the tool did not exit within {timeout:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    joined(&self.stdout),
                    joined(&self.stderr)
                );
            }
        };
        for d in self.drains.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), d).await;
        }
        let stdout = joined(&self.stdout);
        let stderr = joined(&self.stderr);
        let checks = read_checks(self.out_dir.path()).with_context(|| {
            format!("reading the results ({status})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
        })?;
        Ok(Outcome {
            status,
            stdout,
            stderr,
            checks,
        })
    }
}

/// Every `<out>/authorization-server-<scenario>-<timestamp>/checks.json`, oldest first.
fn read_checks(out: &Path) -> Result<Vec<Check>> {
    let mut dirs: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(out)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("checks.json").is_file())
        .map(|p| {
            let t = std::fs::metadata(p.join("checks.json"))
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (t, p)
        })
        .collect();
    dirs.sort();
    let mut checks = Vec::new();
    for (_, dir) in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Strip the prefix and the `-2026-01-01T00-00-00-000Z` timestamp.
        let scenario = name.strip_prefix("authorization-server-").unwrap_or(&name);
        let scenario = scenario
            .get(
                ..scenario
                    .len()
                    .saturating_sub("-2026-01-01T00-00-00-000Z".len()),
            )
            .unwrap_or(scenario)
            .to_owned();
        let path = dir.join("checks.json");
        let list: Vec<Value> = serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("parsing {}", path.display()))?;
        for raw in list {
            checks.push(Check {
                scenario: scenario.clone(),
                id: raw["id"].as_str().unwrap_or_default().to_owned(),
                status: raw["status"].as_str().unwrap_or_default().to_owned(),
                error_message: raw["errorMessage"].as_str().map(str::to_owned),
                raw,
            });
        }
    }
    if checks.is_empty() {
        bail!("no checks.json under {}", out.display());
    }
    Ok(checks)
}
