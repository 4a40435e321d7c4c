//! YAML for the deployment tests (docker-compose.yml through `docker-compose config`, the
//! Kubernetes manifests): parsed by PyYAML, which the Debian `docker-compose` package depends
//! on, into JSON for the assertions. A missing `docker-compose` or `python3-yaml` fails the
//! test naming the prerequisite ([`Prereq::DockerCompose`]).

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tokio::process::Command;
use tokio::sync::OnceCell;

use super::prereq::{self, Prereq};
use super::process;

/// Interpreters that may have PyYAML: the one on `PATH` (perhaps a pyenv or venv one without
/// it), then Debian's, which the `python3-yaml` package installs into.
const PYTHONS: [&str; 2] = ["python3", "/usr/bin/python3"];

/// The first of [`PYTHONS`] that imports `yaml`, probed once.
static PYTHON: OnceCell<Option<&'static str>> = OnceCell::const_new();

async fn python_with_yaml() -> Option<&'static str> {
    *PYTHON
        .get_or_init(|| async {
            for python in PYTHONS {
                let ok = Command::new(python)
                    .args(["-c", "import yaml"])
                    .output()
                    .await
                    .is_ok_and(|out| out.status.success());
                if ok {
                    return Some(python);
                }
            }
            None
        })
        .await
}

/// `true` when `docker-compose` and PyYAML are there (fails the test otherwise, unless opted
/// out: then `false` after a visible notice).
pub async fn docker_compose_or_skip() -> bool {
    prereq::require(Prereq::DockerCompose, || async {
        let compose = Command::new("docker-compose")
            .arg("--version")
            .output()
            .await;
        match compose {
            Ok(out) if out.status.success() => {}
            Ok(out) => return Err(process::failure("`docker-compose --version`", &out)),
            Err(e) => return Err(format!("`docker-compose --version` does not run: {e}")),
        }
        match python_with_yaml().await {
            Some(_) => Ok(()),
            None => Err(format!(
                "none of {PYTHONS:?} imports yaml (Debian package python3-yaml)"
            )),
        }
    })
    .await
}

const TO_JSON: &str = "import json, sys, yaml\n\
with open(sys.argv[1], encoding='utf-8') as f:\n    json.dump(list(yaml.safe_load_all(f)), sys.stdout)";

/// Every document of the YAML `text`, as JSON (`null` for an empty document).
pub async fn documents(text: &str) -> Result<Vec<Value>> {
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), text)?;
    let python = python_with_yaml()
        .await
        .ok_or_else(|| anyhow!("no Python with PyYAML among {PYTHONS:?}"))?;
    let out = process::output(
        Command::new(python).args(["-c", TO_JSON]).arg(file.path()),
        Duration::from_secs(30),
        "PyYAML",
    )
    .await?;
    process::ensure_success("PyYAML", &out)?;
    serde_json::from_slice(&out.stdout).context("PyYAML printed no JSON")
}

/// The documents of the YAML file at `path`.
pub async fn file_documents(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    documents(&text).await
}

/// `docker-compose -f <file> config` (the resolved model, paths made absolute) as JSON.
pub async fn compose_config(file: &Path) -> Result<Value> {
    let out = process::output(
        Command::new("docker-compose")
            .arg("-f")
            .arg(file)
            .arg("config"),
        Duration::from_secs(60),
        "`docker-compose config`",
    )
    .await?;
    process::ensure_success("`docker-compose config`", &out)?;
    let docs = documents(&String::from_utf8_lossy(&out.stdout)).await?;
    match docs.into_iter().next() {
        Some(doc) if doc.is_object() => Ok(doc),
        other => bail!("`docker-compose config` printed no model: {other:?}"),
    }
}
