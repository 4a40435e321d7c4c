//! A directory under `tests/` whose `package.json` pins one Node tool and the Node it needs, as
//! the `node` npm package (`tests/conformance`, `tests/inspector`): `npm ci` there puts that
//! Node at `node_modules/.bin/node`, so the system Node only has to provide `npm`.
//!
//! [`install`] runs `npm ci` once per lockfile (guarded by [`super::install`] against parallel
//! tests and test processes), then checks the tool's version and the Node's.

#![allow(dead_code)] // not every test uses every helper

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tokio::process::Command;

use super::install;

/// What a directory pins.
pub struct Pins<'a> {
    /// The directory, e.g. `tests/inspector`.
    pub dir: PathBuf,
    /// Stamp file name under `node_modules` ([`install::npm_ci`]).
    pub stamp_file: &'a str,
    /// The tool's npm package, and the exact version `package.json` pins.
    pub package: &'a str,
    pub version: &'a str,
    /// The lowest Node (major, minor) the tool runs on.
    pub min_node: (u32, u32),
}

/// An installed tool.
#[derive(Clone, Debug)]
pub struct Installed {
    /// `<dir>/node_modules/.bin/node`.
    pub node: PathBuf,
    /// What `node --version` printed.
    pub node_version: String,
    /// `<dir>/node_modules/<package>`.
    pub package_dir: PathBuf,
}

/// `npm ci` in `pins.dir` unless already done, then checks the versions.
pub async fn install(pins: &Pins<'_>) -> Result<Installed> {
    let stamp = pins.stamp_file;
    install::npm_ci(&pins.dir, &["--loglevel=error"], stamp, |d| {
        deps_installed(d, stamp)
    })
    .await?;
    let modules = pins.dir.join("node_modules");
    let version = installed_version(&modules, pins.package)?;
    if version != pins.version {
        bail!(
            "installed {} is {version}, expected {}",
            pins.package,
            pins.version
        );
    }
    let node = modules.join(".bin").join("node");
    let out = Command::new(&node)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {} --version", node.display()))?;
    let node_version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut parts = node_version.trim_start_matches('v').split('.');
    let mut next = || parts.next().and_then(|p| p.parse::<u32>().ok());
    let have = next()
        .zip(next())
        .ok_or_else(|| anyhow!("unexpected `node --version` output {node_version:?}"))?;
    if !out.status.success() || have < pins.min_node {
        let (major, minor) = pins.min_node;
        bail!(
            "{} is {node_version:?}, need Node ≥ {major}.{minor}",
            node.display()
        );
    }
    Ok(Installed {
        node,
        node_version,
        package_dir: modules.join(pins.package),
    })
}

/// The `version` in `<node_modules>/<package>/package.json`.
pub fn installed_version(node_modules: &Path, package: &str) -> Result<String> {
    let path = node_modules.join(package).join("package.json");
    let json: Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    json["version"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no version in {}", path.display()))
}

/// `node_modules` matches the lockfile: either our stamp (written after our own `npm ci`)
/// equals `package-lock.json`, or an `npm ci` that ran outside the tests (`.ci/run`) left
/// npm's hidden lockfile no older than `package-lock.json` and every direct dependency at
/// the exact version `package.json` pins.
fn deps_installed(dir: &Path, stamp_file: &str) -> bool {
    if install::npm_stamp_matches(dir, stamp_file) {
        return true;
    }
    let mtime = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = match (
        mtime(dir.join("node_modules").join(".package-lock.json")),
        mtime(dir.join("package-lock.json")),
    ) {
        (Some(hidden), Some(lock)) => hidden >= lock,
        _ => false,
    };
    let Some(pins) = std::fs::read(dir.join("package.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|j| j["dependencies"].as_object().cloned())
    else {
        return false;
    };
    fresh
        && pins.iter().all(|(name, want)| {
            installed_version(&dir.join("node_modules"), name)
                .is_ok_and(|have| want.as_str() == Some(have.as_str()))
        })
}
