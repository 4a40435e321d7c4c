//! Running the external programs the harnesses need (`npm`, `node`, `python3`, the venv's
//! interpreter): to completion with a timeout and captured output, or long-lived with their
//! output drained line by line into a log buffer.

#![allow(dead_code)] // not every test uses every helper

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Lines a child process wrote, shared with the task draining them.
pub type LogBuf = Arc<Mutex<Vec<String>>>;

/// Everything in `buf`, one line each.
pub fn joined(buf: &LogBuf) -> String {
    buf.lock().map(|b| b.join("\n")).unwrap_or_default()
}

/// `true` when the environment variable `var` is set (e.g. `INTEROP_VERBOSE`).
pub fn verbose(var: &str) -> bool {
    std::env::var_os(var).is_some()
}

/// Reads `reader` line by line into `buf` (and `tx`, if any) until it closes, echoing each line
/// to stderr behind `prefix` when `verbose`.
pub fn drain<R>(
    reader: R,
    prefix: &'static str,
    buf: LogBuf,
    tx: Option<mpsc::UnboundedSender<String>>,
    verbose: bool,
) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if verbose {
                eprintln!("{prefix} {line}");
            }
            if let Some(tx) = &tx {
                let _ = tx.send(line.clone());
            }
            if let Ok(mut b) = buf.lock() {
                b.push(line);
            }
        }
    })
}

/// Runs `cmd` to completion (stdin closed, stdout and stderr captured), killing it after
/// `timeout`. `what` names it in errors, e.g. "`npm ci` in /path".
pub async fn output(cmd: &mut Command, timeout: Duration, what: &str) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let program = cmd.as_std().get_program().to_owned();
    tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| anyhow!("{what} timed out after {timeout:?}"))?
        .with_context(|| format!("spawning {what}{}", path_hint(&program)))
}

/// " (is npm on PATH?)" for a program looked up on `PATH`; nothing for a path.
fn path_hint(program: &OsStr) -> String {
    let program = Path::new(program);
    if program.components().count() == 1 {
        format!(" (is {} on PATH?)", program.display())
    } else {
        String::new()
    }
}

/// "{what} failed ({status}):\n{stdout}\n{stderr}".
pub fn failure(what: &str, out: &Output) -> String {
    format!(
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fails with [`failure`] unless `out` is a zero exit.
pub fn ensure_success(what: &str, out: &Output) -> Result<()> {
    if !out.status.success() {
        bail!("{}", failure(what, out));
    }
    Ok(())
}

/// Raw result of an interop script that prints one JSON line, whether it succeeded or not.
#[derive(Debug)]
pub struct ScriptOutput {
    /// exit status 0
    pub success: bool,
    /// The single JSON line (`{"error", "steps"}` on failure).
    pub json: Value,
    /// The script's stderr (SDK warnings, logs, tracebacks).
    pub stderr: String,
}

impl ScriptOutput {
    /// The JSON on success, else an error carrying the script's `error`, its `steps` and stderr.
    pub fn into_json(self, what: &str) -> Result<Value> {
        if self.success {
            return Ok(self.json);
        }
        let steps = serde_json::to_string_pretty(&self.json["steps"]).unwrap_or_default();
        bail!(
            "{what} failed: {}\nsteps: {steps}\nstderr:\n{}",
            self.json["error"].as_str().unwrap_or("<no error field>"),
            self.stderr
        )
    }
}

/// Runs `cmd` like [`output`] and parses the last non-empty stdout line as JSON.
pub async fn run_json_script(
    cmd: &mut Command,
    timeout: Duration,
    what: &str,
) -> Result<ScriptOutput> {
    let output = output(cmd, timeout, what).await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let json: Value = serde_json::from_str(line).with_context(|| {
        format!(
            "{what} ({}) printed no JSON line; stdout: {stdout}\nstderr:\n{stderr}",
            output.status
        )
    })?;
    Ok(ScriptOutput {
        success: output.status.success(),
        json,
        stderr,
    })
}
