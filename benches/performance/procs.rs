//! The processes under test: `dcr-bridge` subcommands started from the binary cargo built for
//! this bench, each killed when dropped (also while a panic unwinds), with its output in a file
//! so a failure can show it; and what `/proc` says about any process (CPU time, resident memory).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

/// The release (bench profile) binary of this package.
pub const BIN: &str = env!("CARGO_BIN_EXE_dcr-bridge");

/// One child process; killed on drop.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    child: tokio::process::Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `dcr-bridge <args>` quietly (`DCR_BRIDGE_LOG=warn`), output to `<dir>/<name>.log`.
    pub fn spawn(name: &str, args: &[&str], dir: &Path) -> Result<Proc> {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).with_context(|| log.display().to_string())?;
        let err = out.try_clone()?;
        let child = tokio::process::Command::new(BIN)
            .args(args)
            .env_remove("DCR_BRIDGE_CONFIG")
            .env("DCR_BRIDGE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {BIN} {}", args.join(" ")))?;
        let pid = child.id().context("the child has no pid")?;
        Ok(Proc {
            name: name.to_owned(),
            pid,
            child,
            log,
        })
    }

    /// The last lines the process wrote (for error messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(30);
        format!(
            "--- {} ({}) ---\n{}",
            self.name,
            self.log.display(),
            lines[from..].join("\n")
        )
    }

    /// Fails with the log when the process has exited.
    pub fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status})\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    /// Kills the process and waits for it, so its port and database connections are free.
    pub async fn stop(mut self) -> Result<()> {
        self.child.kill().await.context("killing a child")?;
        Ok(())
    }

    /// CPU time (user + system, all threads) used so far.
    pub fn cpu(&self) -> Result<Duration> {
        cpu_of(self.pid).with_context(|| format!("/proc/{}/stat of {}", self.pid, self.name))
    }

    /// Resident memory now (VmRSS), MiB.
    pub fn rss_mib(&self) -> Result<f64> {
        rss_mib(self.pid).with_context(|| format!("/proc/{}/status of {}", self.pid, self.name))
    }
}

/// A port free right now on 127.0.0.1 (the dev IdP must know dcr-bridge's callback URL before
/// dcr-bridge starts, so ports are chosen up front rather than by binding port 0).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux when unknown,
/// which is what every mainstream kernel uses: no libc call, since unsafe code is forbidden).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process (every thread), from `/proc/<pid>/stat`; `None` once it is gone.
pub fn cpu_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / clock_ticks()))
}

/// This load generator's own CPU time.
pub fn own_cpu() -> Duration {
    cpu_of(std::process::id()).unwrap_or_default()
}

/// VmRSS of a process, MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Polls `url` until it answers 200, failing with the process's log when it exits or
/// `timeout` passes.
pub async fn wait_ready(proc: &mut Proc, url: &str, timeout: Duration) -> Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let start = Instant::now();
    loop {
        proc.ensure_running()?;
        if let Ok(res) = http.get(url).send().await {
            if res.status().is_success() {
                return Ok(());
            }
        }
        if start.elapsed() > timeout {
            bail!(
                "{} did not answer {url} within {timeout:?}\n{}",
                proc.name,
                proc.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `dcr-bridge <args>` to completion; its stdout, or an error with all its output.
pub async fn run_to_end(args: &[&str], timeout: Duration) -> Result<String> {
    let out = tokio::time::timeout(
        timeout,
        tokio::process::Command::new(BIN)
            .args(args)
            .env_remove("DCR_BRIDGE_CONFIG")
            .env("DCR_BRIDGE_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .with_context(|| format!("dcr-bridge {} took over {timeout:?}", args.join(" ")))??;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "dcr-bridge {} failed ({}):\n{stdout}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// Whether the binary has the subcommand `name` (`seed` lands from another branch).
pub async fn has_subcommand(name: &str) -> bool {
    run_to_end(&[name, "--help"], Duration::from_secs(30))
        .await
        .is_ok()
}
