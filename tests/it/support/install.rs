//! Installing test tooling once (`npm ci`, a Python venv): a stamp file records what was
//! installed (a copy of the lockfile or requirements it was installed from), and an exclusive
//! lock file in the temp dir keeps parallel test processes (e.g. nextest) from installing at the
//! same time. Callers add a `OnceCell` to dedup within the process.

#![allow(dead_code)] // not every test uses every helper

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use tokio::process::Command;

use super::process;

/// How long an `npm ci` may take, and how long a test waits for another process's.
pub const NPM_CI_TIMEOUT: Duration = Duration::from_secs(600);

/// `true` when `stamp` exists and holds exactly the bytes of `source`.
pub fn stamp_matches(source: &Path, stamp: &Path) -> bool {
    match (std::fs::read(source), std::fs::read(stamp)) {
        (Ok(source), Ok(stamp)) => source == stamp,
        _ => false,
    }
}

/// Records that what `source` describes is installed: copies it to `stamp`.
pub fn write_stamp(source: &Path, stamp: &Path) -> Result<()> {
    let bytes = std::fs::read(source).with_context(|| format!("reading {}", source.display()))?;
    std::fs::write(stamp, bytes).with_context(|| format!("writing stamp {}", stamp.display()))
}

/// Held while installing; removes the lock file on drop.
pub struct InstallLock(PathBuf);

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `<temp>/dcr-bridge-{kind}-{dir as a file name}.lock`.
fn lock_path(kind: &str, dir: &Path) -> PathBuf {
    let tag: String = dir
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    std::env::temp_dir().join(format!("dcr-bridge-{kind}-{tag}.lock"))
}

/// The exclusive lock for installing `kind` (e.g. `npm-ci`) into `dir`, or `None` when
/// `installed()` holds (before or after waiting for another process's install). A lock older
/// than `timeout` is taken as left by a crashed run and broken; waiting longer than `timeout`
/// fails. `what` names the install in that error.
pub async fn lock_unless_installed(
    dir: &Path,
    kind: &str,
    what: &str,
    timeout: Duration,
    installed: impl Fn() -> bool,
) -> Result<Option<InstallLock>> {
    let lock = lock_path(kind, dir);
    let deadline = tokio::time::Instant::now() + timeout;
    let guard = loop {
        if installed() {
            return Ok(None);
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break InstallLock(lock.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Another process is installing. Break a lock left by a crashed run.
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > timeout);
                if stale {
                    let _ = std::fs::remove_file(&lock);
                }
                if tokio::time::Instant::now() > deadline {
                    bail!(
                        "timed out waiting for another {what} (lock {})",
                        lock.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("creating {}", lock.display())),
        }
    };
    if installed() {
        return Ok(None);
    }
    Ok(Some(guard))
}

/// `node_modules/<stamp_file>` in `dir` matches `package-lock.json`.
pub fn npm_stamp_matches(dir: &Path, stamp_file: &str) -> bool {
    stamp_matches(
        &dir.join("package-lock.json"),
        &dir.join("node_modules").join(stamp_file),
    )
}

/// `npm ci --no-audit --no-fund <extra_args…>` in `dir` unless `installed(dir)`, one process at a
/// time; afterwards stamps `node_modules/<stamp_file>` with `package-lock.json`.
pub async fn npm_ci(
    dir: &Path,
    extra_args: &[&str],
    stamp_file: &str,
    installed: impl Fn(&Path) -> bool,
) -> Result<()> {
    let Some(_lock) =
        lock_unless_installed(dir, "npm-ci", "`npm ci`", NPM_CI_TIMEOUT, || installed(dir)).await?
    else {
        return Ok(());
    };
    let what = format!("`npm ci` in {}", dir.display());
    let out = process::output(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .args(extra_args)
            .current_dir(dir),
        NPM_CI_TIMEOUT,
        &what,
    )
    .await?;
    process::ensure_success(&what, &out)?;
    write_stamp(
        &dir.join("package-lock.json"),
        &dir.join("node_modules").join(stamp_file),
    )
}
