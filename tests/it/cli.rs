//! The binary's command line: help, configuration errors naming the key, `check-config` against
//! a live provider, `migrate`, `rotate-keys`, and `serve` itself with environment overrides.

use std::process::Command;

use crate::support::app::TestApp;

pub(crate) fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dcr-bridge"));
    c.env_remove("DCR_BRIDGE_CONFIG");
    c
}

pub(crate) fn write_config(dir: &std::path::Path, issuer: &str, extra: &str) -> std::path::PathBuf {
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
    for cmd in [
        "serve",
        "migrate",
        "check-config",
        "dev",
        "rotate-keys",
        "admin-token",
    ] {
        assert!(text.contains(cmd), "{cmd} missing from --help: {text}");
    }
    for cmd in [
        "serve",
        "migrate",
        "check-config",
        "dev",
        "rotate-keys",
        "admin-token",
    ] {
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

/// Issue 11 #13, through the real binary: one line per error naming the key (or variable), the
/// problem and the fix, once; no figment internals, no source locations.
#[test]
fn config_errors_name_the_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "https://idp.example.com", "");
    let missing_key = dir.path().join("no-key.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &missing_key,
        text.lines()
            .filter(|l| !l.starts_with("secret_key"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    type Case<'a> = (&'a std::path::Path, Option<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 3] = [
        (
            &missing_key,
            None,
            "secret_key: required but not set; set it in the configuration file or with \
             DCR_BRIDGE_SECRET_KEY (or DCR_BRIDGE_SECRET_KEY_FILE naming a file that holds it)",
        ),
        (
            &path,
            Some(("DCR_BRIDGE_UPSTREAMS__0__KIND", "keycloak")),
            "upstreams[0].kind: unknown value \"keycloak\" (from environment variable \
             DCR_BRIDGE_UPSTREAMS__0__KIND); use one of: \"oidc\", \"okta\", \"entra\", \"google\", \"github\"",
        ),
        (
            &path,
            Some(("DCR_BRIDGE_UPSTREAMS__2__CLIENT_ID", "x")),
            "invalid configuration: DCR_BRIDGE_UPSTREAMS__2__CLIENT_ID: `upstreams` has 1 \
             entry (indexes start at 0), so [2] does not exist",
        ),
    ];
    for (config, env, expected) in cases {
        let mut cmd = bin();
        cmd.args(["check-config", "--config"]).arg(config);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.trim_end(),
            format!("dcr-bridge: loading configuration: {expected}")
        );
    }
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

/// Issue 15: `rotate-keys` makes a key of `--algorithm`, else of `tokens.signing_algorithm`;
/// an algorithm that is not ES256, EdDSA or RS256 is refused before anything changes.
#[tokio::test]
async fn rotate_keys_takes_the_algorithm_from_the_flag_or_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "https://idp.example.com",
        "[tokens]\nsigning_algorithm = \"RS256\"",
    );
    let rotate = |extra: &[&str]| {
        bin()
            .args(["rotate-keys", "--config"])
            .arg(&path)
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = rotate(&["--algorithm", "HS256"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("RS256, ES256 or EdDSA"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    for extra in [&["--algorithm", "EdDSA"][..], &[]] {
        let out = rotate(extra);
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
    let mut algs: Vec<(String, bool)> = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.alg, k.state == dcr_bridge::store::KeyState::Current))
        .collect();
    algs.sort();
    assert_eq!(
        algs,
        [("EdDSA".to_owned(), false), ("RS256".to_owned(), true)]
    );
}

/// The real binary: `serve` with a file plus environment overrides (`DCR_BRIDGE_PUBLIC_URL`,
/// `DCR_BRIDGE_LISTEN`, `DCR_BRIDGE_SECRET_KEY_FILE`), ready on `/readyz`, and a clean exit
/// on SIGTERM.
#[tokio::test]
async fn serve_binary_layers_env_over_file_and_stops_on_sigterm() {
    let app = TestApp::start().await;
    let issuer = app.idp.as_ref().unwrap().issuer.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &issuer, "");
    let key_file = dir.path().join("secret.key");
    std::fs::write(&key_file, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dcr-bridge"))
        .args(["serve", "--config"])
        .arg(&path)
        .env_remove("DCR_BRIDGE_CONFIG")
        .env("DCR_BRIDGE_PUBLIC_URL", &base)
        .env("DCR_BRIDGE_LISTEN", format!("127.0.0.1:{port}"))
        .env("DCR_BRIDGE_SECRET_KEY_FILE", &key_file)
        .env("DCR_BRIDGE_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..150 {
        if let Ok(res) = http.get(format!("{base}/readyz")).send().await {
            ready = res.status() == 200;
            if ready {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(ready, "serve did not become ready");
    let metadata: serde_json::Value = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["issuer"], base,
        "the environment overrides the file"
    );
    let pid = child.id().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(15), child.wait())
        .await
        .expect("serve did not stop on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// Issue 11 #15: `dev` refuses a configuration file instead of ignoring it (before, it started
/// and ran until killed: the timeout turns that into a failure).
#[tokio::test]
async fn dev_refuses_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_dcr-bridge"))
        .args([
            "dev",
            "--port",
            "0",
            "--idp-port",
            "0",
            "--config",
            "dcr-bridge.toml",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("DCR_BRIDGE_CONFIG")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("dev --config started instead of refusing")
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dev does not read a configuration file")
            && stderr.contains("dcr-bridge serve --config dcr-bridge.toml"),
        "{stderr}"
    );
}

/// Issue 11 #15, through the real `dev` binary writing to a pipe: the banner gives each dev
/// user a password, the dev IdP refuses a wrong one with a page that says so and accepts the
/// right one, and log lines carry no ANSI colour codes.
#[tokio::test]
async fn dev_users_have_passwords_and_logs_to_a_pipe_are_plain() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dcr-bridge"))
        .args(["dev", "--port", "0", "--idp-port", "0", "--data-dir"])
        .arg(dir.path())
        .env_remove("DCR_BRIDGE_CONFIG")
        .env("DCR_BRIDGE_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut output = String::new();
    let read_banner = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            output.push_str(&line);
            output.push('\n');
            if line.contains("Press Ctrl-C to stop.") {
                return;
            }
        }
        panic!("dev exited before its banner:\n{output}");
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), read_banner)
        .await
        .expect("no banner within 60 s");
    assert!(
        !output.contains('\u{1b}'),
        "ANSI escape in piped output:\n{output}"
    );
    assert!(output.contains("INFO"), "no log line seen:\n{output}");
    let after = |label: &str| {
        output
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} in\n{output}"))
            .trim()
            .to_owned()
    };
    let idp = after("Dev identity provider:");
    let public = after("Authorization server:");
    let password = after("dev-alice <alice@example.com>  /");
    assert_eq!(password, "alice-dev-password");
    assert!(output.contains("MCP_AUTO_OPEN_ENABLED=true"), "{output}");

    let (_, challenge) = crate::support::app::pkce();
    let callback = format!("{public}/oauth/callback");
    let form = |password: &str| {
        vec![
            ("client_id", "dcr-bridge-dev".to_owned()),
            ("redirect_uri", callback.clone()),
            ("response_type", "code".to_owned()),
            ("scope", "openid".to_owned()),
            ("state", "s".to_owned()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".to_owned()),
            ("login", "dev-alice".to_owned()),
            ("password", password.to_owned()),
        ]
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{idp}/authorize");
    let wrong = http.post(&url).form(&form("wrong")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("Wrong password: sign-in refused."), "{page}");
    let empty = http.post(&url).form(&form("")).send().await.unwrap();
    assert_eq!(empty.status(), 401);
    let right = http.post(&url).form(&form(&password)).send().await.unwrap();
    assert_eq!(right.status(), 302);
    let location = right.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{callback}?code=")),
        "{location}"
    );
    child.kill().await.unwrap();
}
