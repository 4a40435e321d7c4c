//! The binary's command line: help, configuration errors naming the key, `check-config` against
//! a live provider, `migrate`, `rotate-keys`.

use std::process::Command;

use crate::support::app::TestApp;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dcr-bridge"));
    c.env_remove("DCR_BRIDGE_CONFIG");
    c
}

fn write_config(dir: &std::path::Path, issuer: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("dcr-bridge.toml");
    let text = format!(
        r#"public_url = "http://127.0.0.1:9"
allow_insecure_http = true
database_url = "sqlite://{db}"
secret_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
{extra}
[[upstreams]]
id = "corp"
issuer = "{issuer}"
client_id = "bridge-client"
client_secret = "bridge-secret"

[[resources]]
id = "tools"
path = "/mcp"
scopes = ["mcp"]
"#,
        db = dir.join("cli.db").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn help_lists_every_command() {
    let out = bin().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "migrate", "check-config", "dev", "rotate-keys"] {
        assert!(text.contains(cmd), "{cmd} missing from --help: {text}");
    }
    for cmd in ["serve", "migrate", "check-config", "dev", "rotate-keys"] {
        assert!(
            bin()
                .args([cmd, "--help"])
                .output()
                .unwrap()
                .status
                .success(),
            "{cmd} --help"
        );
    }
}

#[test]
fn unknown_config_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "https://idp.example.com",
        "listn = \"0.0.0.0:1\"",
    );
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listn"));
}

#[tokio::test]
async fn check_config_reaches_the_upstream_and_prints_the_callback() {
    let app = TestApp::start().await;
    let issuer = app.idp.as_ref().unwrap().issuer.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &issuer, "");
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("http://127.0.0.1:9/oauth/callback"), "{text}");
    assert!(text.contains("upstream corp: ok"), "{text}");
    // An unreachable upstream fails the check.
    let path = write_config(dir.path(), "http://127.0.0.1:9", "");
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn migrate_then_rotate_keys_publishes_both() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "https://idp.example.com", "");
    assert!(bin()
        .args(["migrate", "--config"])
        .arg(&path)
        .status()
        .unwrap()
        .success());
    for _ in 0..2 {
        let out = bin()
            .args(["rotate-keys", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store =
        dcr_bridge::store::connect(&format!("sqlite://{}", dir.path().join("cli.db").display()))
            .await
            .unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(
        keys.iter()
            .filter(|k| k.state == dcr_bridge::store::KeyState::Current)
            .count(),
        1
    );
    assert_eq!(
        keys.len(),
        2,
        "two rotations from an empty key table leave one current and one retired"
    );
}
