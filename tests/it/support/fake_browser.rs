//! The headless "browser" of the tests that run a real MCP client which opens the authorization
//! URL itself (mcp-remote, the MCP Inspector CLI). Both use the `open` npm package, which on
//! Linux runs its bundled xdg-open; without a desktop (no `DISPLAY`, `XDG_CURRENT_DESKTOP=
//! X-Generic`) that one runs `$BROWSER`: `tests/interop/fake-browser/xdg-open`, which only
//! appends each URL to a log file. The test then walks the URL through dcr-bridge itself.

#![allow(dead_code)] // not every test uses every helper

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use tokio::process::Command;

/// What `open` looks at to decide how to open a URL; removed from the client's environment.
const DESKTOP_VARS: &[&str] = &[
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
    "KDE_FULL_SESSION",
    "GNOME_DESKTOP_SESSION_ID",
    "MATE_DESKTOP_SESSION_ID",
    "DESKTOP_SESSION",
];

/// Runs `cmd` without a desktop, with the fake browser logging the URLs it opens to `log`.
pub fn install(cmd: &mut Command, log: &Path) -> Result<()> {
    let dir = super::tests_dir("interop").join("fake-browser");
    // Also first on PATH, for a plain `xdg-open` lookup.
    let path = std::env::join_paths(std::iter::once(dir.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))?;
    for var in DESKTOP_VARS {
        cmd.env_remove(var);
    }
    cmd.env("PATH", path)
        .env("XDG_CURRENT_DESKTOP", "X-Generic")
        .env("BROWSER", dir.join("xdg-open"))
        .env("DCRB_FAKE_BROWSER_LOG", log);
    Ok(())
}

/// The first URL opened (a whole line of `log`), polling until `timeout`; `running()` fails
/// when the client has exited, which ends the wait at once.
pub async fn first_url(
    log: &Path,
    timeout: Duration,
    mut running: impl FnMut() -> Result<()>,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        // Only whole lines: the script may be half-way through writing one.
        if let Some((first, _)) = text.split_once('\n') {
            return Ok(first.to_owned());
        }
        running()?;
        if Instant::now() > deadline {
            bail!("no browser was opened within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
