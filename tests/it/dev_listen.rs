//! Issue 15 item 2: `dev` and `dev-idp` can listen beyond loopback (a container), and then say
//! loudly that the development IdP signs anyone in.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::support::deploy::{free_port, port_of, root, BIN};
use crate::support::process::{self, LogBuf};

/// `dev --listen 0.0.0.0:…` (a container) serves beyond loopback, with localhost URLs, and
/// warns loudly that the dev IdP signs anyone in, as `dev-idp` does; the trial helpers refuse a
/// dcr-bridge config.
#[tokio::test]
async fn dev_listens_beyond_loopback_only_with_a_loud_warning() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let idp_port = free_port();
    let mut child = Command::new(BIN)
        .args(["dev", "--listen", "0.0.0.0:0", "--idp-port"])
        .arg(idp_port.to_string())
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("DCR_BRIDGE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr_logs: LogBuf = Arc::default();
    process::drain(
        child.stderr.take().unwrap(),
        "[dev]",
        stderr_logs.clone(),
        None,
        false,
    );
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("Press Ctrl-C to stop.") {
                return;
            }
        }
        panic!("dev exited:\n{banner}\n{}", process::joined(&stderr_logs));
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("no banner within 60 s");
    let warning = process::joined(&stderr_logs);
    assert!(
        warning.contains("WARNING") && warning.contains("signs in ANYONE"),
        "{warning}"
    );
    let public = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("Authorization server:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(public.starts_with("http://localhost:"), "{public}");
    let port = port_of(&public);
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let discovery: Value = reqwest::get(format!(
        "http://127.0.0.1:{idp_port}/.well-known/openid-configuration"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(discovery["issuer"], format!("http://localhost:{idp_port}"));
    child.kill().await.unwrap();

    // `dev-idp` beyond loopback warns the same way.
    let port = free_port();
    let secret = root().join("deploy/compose/idp-client-secret");
    let mut idp = Command::new(BIN)
        .args(["dev-idp", "--listen", &format!("0.0.0.0:{port}")])
        .args(["--issuer", &format!("http://localhost:{port}")])
        .args(["--redirect-uri", "http://localhost:8080/oauth/callback"])
        .arg("--client-secret-file")
        .arg(&secret)
        .env_remove("DCR_BRIDGE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(idp.stderr.take().unwrap()).lines();
    let mut warning = String::new();
    while !warning.contains("signs in ANYONE") {
        let line = tokio::time::timeout(Duration::from_secs(30), stderr.next_line())
            .await
            .expect("no warning from dev-idp within 30 s")
            .unwrap()
            .unwrap_or_else(|| panic!("dev-idp exited without the warning: {warning}"));
        warning.push_str(&line);
    }
    idp.kill().await.unwrap();

    // The trial helpers read no dcr-bridge configuration, and say so rather than ignore one.
    for command in ["dev-idp", "demo-mcp"] {
        let out = Command::new(BIN)
            .args([command, "--config", "dcr-bridge.toml"])
            .env_remove("DCR_BRIDGE_CONFIG")
            .output()
            .await
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "{command} does not read the dcr-bridge configuration"
            )),
            "{stderr}"
        );
    }
}
