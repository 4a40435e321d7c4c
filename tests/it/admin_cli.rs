//! `dcr-bridge admin-token create|list|revoke` through the real binary, and the bootstrap token
//! from `DCR_BRIDGE_ADMIN_TOKEN` / `DCR_BRIDGE_ADMIN_TOKEN_FILE`.

use std::path::Path;

use dcr_bridge::config::Config;
use secrecy::ExposeSecret as _;

use crate::cli::{bin, write_config};

fn admin_token(config: &Path, args: &[&str]) -> std::process::Output {
    bin()
        .arg("--config")
        .arg(config)
        .arg("admin-token")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn admin_token_cli_creates_lists_and_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", "");

    let out = admin_token(&config, &["create", "--name", "automation", "--read-only"]);
    assert!(out.status.success(), "{out:?}");
    // The token alone on stdout (for scripts), the rest on stderr.
    let token = stdout(&out).trim().to_owned();
    assert!(
        token.starts_with("dcrb_adm_") && !token.contains(' '),
        "{token}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("shown once"));
    // Read while this process holds no connection to the file: closing a descriptor of a
    // SQLite file drops every POSIX lock the process holds on it, after which a pool here was
    // seen to keep reading an old snapshot (sqlite.org/howtocorrupt.html, section 2.2).
    let on_disk = || {
        let mut bytes = std::fs::read(dir.path().join("cli.db")).unwrap();
        if let Ok(wal) = std::fs::read(dir.path().join("cli.db-wal")) {
            bytes.extend(wal);
        }
        bytes
    };
    assert!(
        !on_disk()
            .windows(token.len())
            .any(|w| w == token.as_bytes()),
        "the plain token is in the database"
    );

    // A taken name and a bad name fail, naming the problem.
    let dup = admin_token(&config, &["create", "--name", "automation"]);
    assert!(!dup.status.success());
    assert!(
        String::from_utf8_lossy(&dup.stderr).contains("automation"),
        "{dup:?}"
    );
    let bad = admin_token(&config, &["create", "--name", "two words"]);
    assert!(!bad.status.success());

    let out = admin_token(&config, &["create", "--name", "ops"]);
    assert!(out.status.success(), "{out:?}");
    let list = stdout(&admin_token(&config, &["list"]));
    let row = |name: &str| {
        list.lines()
            .find(|l| l.split('\t').nth(1) == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed: {list}"))
            .to_owned()
    };
    assert!(row("automation").contains("read-only"), "{list}");
    assert!(
        row("ops").contains("read-write") && row("ops").ends_with("active"),
        "{list}"
    );
    assert!(!list.contains(&token));
    let ops_id = row("ops").split('\t').next().unwrap().to_owned();

    // Revoke by name, then by id; revoking again fails.
    let out = admin_token(&config, &["revoke", "automation"]);
    assert!(out.status.success(), "{out:?}");
    assert!(admin_token(&config, &["revoke", &ops_id]).status.success());
    let again = admin_token(&config, &["revoke", "automation"]);
    assert!(!again.status.success());
    let list = stdout(&admin_token(&config, &["list"]));
    assert_eq!(list.matches("revoked").count(), 2, "{list}");

    // The store: the hash only, who created it, the audit trail.
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let store = dcr_bridge::store::connect(&db).await.unwrap();
    let tokens = store.list_admin_tokens().await.unwrap();
    let automation = tokens.iter().find(|t| t.name == "automation").unwrap();
    assert_eq!(
        automation.token_hash,
        dcr_bridge::oauth::crypto::hash(&token)
    );
    assert!(automation.read_only && automation.revoked_at.is_some());
    assert_eq!(automation.created_by, "cli");
    let kinds: Vec<_> = store
        .list_audit_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.actor.unwrap_or_default()))
        .collect();
    let cli = |k: &str| (k.to_owned(), "cli".to_owned());
    assert_eq!(
        kinds,
        [
            cli("admin_token_revoked"),
            cli("admin_token_revoked"),
            cli("admin_token_created"),
            cli("admin_token_created"),
        ]
    );
}

#[test]
fn bootstrap_admin_token_from_env_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", "");
    let token = "0123456789abcdef-bootstrap";
    let loaded = Config::load_from(
        Some(&config),
        [("DCR_BRIDGE_ADMIN_TOKEN".to_owned(), token.to_owned())],
    )
    .unwrap();
    assert_eq!(loaded.admin_token.unwrap().expose_secret(), token);

    let file = dir.path().join("admin-token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let loaded = Config::load_from(
        Some(&config),
        [(
            "DCR_BRIDGE_ADMIN_TOKEN_FILE".to_owned(),
            file.display().to_string(),
        )],
    )
    .unwrap();
    assert_eq!(loaded.admin_token.unwrap().expose_secret(), token);
    // Never printed back.
    let shown = format!(
        "{:?}",
        Config::load_from(
            Some(&config),
            [("DCR_BRIDGE_ADMIN_TOKEN".to_owned(), token.to_owned())]
        )
        .unwrap()
    );
    assert!(!shown.contains(token));

    // A short one is refused at load, naming the key.
    let err = Config::load_from(
        Some(&config),
        [("DCR_BRIDGE_ADMIN_TOKEN".to_owned(), "short".to_owned())],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("admin_token"), "{err}");
    // admin_listen must not be the public listener.
    let err = Config::load_from(
        Some(&config),
        [
            ("DCR_BRIDGE_LISTEN".to_owned(), "127.0.0.1:8080".to_owned()),
            (
                "DCR_BRIDGE_ADMIN_LISTEN".to_owned(),
                "127.0.0.1:8080".to_owned(),
            ),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("admin_listen"), "{err}");
}

#[tokio::test]
async fn a_running_server_honours_cli_created_and_revoked_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "http://127.0.0.1:9", "");
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    // The production order: the CLI creates (and migrates) the database and the first token,
    // then the server starts on it and warms its pool; then the CLI adds and revokes tokens.
    let out = admin_token(&config, &["create", "--name", "first"]);
    assert!(out.status.success(), "{out:?}");
    let first = stdout(&out).trim().to_owned();
    let app = crate::support::app::TestApp::start_with(crate::support::app::Db::Sqlite, |c| {
        c.database_url = db.clone();
        // 30 refused sign-ins below, from one address: not what the sign-in limit is about.
        c.rate_limit.admin_auth_failures_per_minute = 100;
    })
    .await
    .unwrap();
    let call = |token: String| {
        let req = app.api.get(app.url("/admin/v1/clients")).bearer_auth(token);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    for _ in 0..10 {
        assert_eq!(call(first.clone()).await, 200);
        assert_eq!(call("not-a-token".to_owned()).await, 401);
    }
    let out = admin_token(&config, &["create", "--name", "ops"]);
    assert!(out.status.success(), "{out:?}");
    let token = stdout(&out).trim().to_owned();
    for _ in 0..10 {
        assert_eq!(call(token.clone()).await, 200);
    }
    for (name, revoked) in [("first", &first), ("ops", &token)] {
        assert!(admin_token(&config, &["revoke", name]).status.success());
        for _ in 0..10 {
            assert_eq!(
                call(revoked.clone()).await,
                401,
                "revoked {name} still works"
            );
        }
    }
}
