//! `dcr-bridge seed` through the real binary: top-up counts, idempotence, a running server that
//! lists the seeded rows and still serves real flows beside them, `--remove` taking the seeded
//! rows and nothing else, foreign keys intact, and the arguments and databases it refuses.
//! On SQLite and Postgres.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::admin::{admin_app, get, on_both_databases, BOOT};
use crate::cli::bin;
use crate::support::app::{Db, TestApp};

on_both_databases!(
    seed_tops_up_to_the_asked_counts_and_is_idempotent,
    seeded_rows_are_served_beside_real_ones_and_removed_alone,
);

/// The app's own configuration as a file for the binary: same database, key, issuer, upstream
/// and resource, so the seeded rows are what this server would have written.
fn config_for(app: &TestApp, dir: &Path) -> PathBuf {
    let c = &app.state.config;
    let upstream = &c.upstreams[0];
    let resource = &c.resources[0];
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let text = format!(
        r#"public_url = "{public}"
allow_insecure_http = true
database_url = "{db}"
secret_key = "{key}"

[[upstreams]]
id = "{up}"
issuer = "{issuer}"
client_id = "bridge-client"
client_secret = "bridge-secret"

[[resources]]
id = "{rid}"
path = "{path}"
scopes = {scopes:?}
"#,
        public = app.base,
        db = c.database_url,
        up = upstream.id,
        issuer = upstream.issuer.as_ref().unwrap(),
        rid = resource.id,
        path = resource.path,
        scopes = resource.scopes,
    );
    let path = dir.join("seed.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `seed` with `args`; on success, its one JSON line.
fn seed(config: &Path, args: &[&str]) -> Result<Value, String> {
    let out = bin()
        .arg("--config")
        .arg(config)
        .arg("seed")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)));
    }
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    Ok(serde_json::from_str(&stdout).unwrap())
}

fn counts(report: &Value) -> (u64, u64, u64) {
    assert!(report["seconds"].as_f64().unwrap() >= 0.0, "{report}");
    (
        report["clients"].as_u64().unwrap(),
        report["grants"].as_u64().unwrap(),
        report["inserted_rows"].as_u64().unwrap(),
    )
}

/// Rows for `clients` new clients and `grants` new grants of whole new users (3 grants each):
/// client + `registered` event; user per 3 grants; consent, grant, family, refresh token,
/// access token and `token_issued` event per grant.
fn rows(clients: u64, grants: u64) -> u64 {
    2 * clients + grants.div_ceil(3) + 6 * grants
}

async fn stats(app: &TestApp) -> Value {
    let (s, b) = get(app, "/admin/v1/stats", BOOT).await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn seed_tops_up_to_the_asked_counts_and_is_idempotent(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&app, dir.path());

    let first = seed(&config, &["--clients", "1000", "--grants", "1000"]).unwrap();
    assert_eq!(counts(&first), (1000, 1000, rows(1000, 1000)), "{first}");
    // Top-up: only the difference, in small batches too.
    let more = seed(
        &config,
        &["--clients", "2000", "--grants", "2000", "--batch", "700"],
    )
    .unwrap();
    assert_eq!(counts(&more), (2000, 2000, rows(1000, 1000)), "{more}");
    let again = seed(&config, &["--clients", "2000", "--grants", "2000"]).unwrap();
    assert_eq!(counts(&again), (2000, 2000, 0), "{again}");
    // Fewer than seeded is not a removal: nothing changes.
    let fewer = seed(&config, &["--clients", "10", "--grants", "10"]).unwrap();
    assert_eq!(counts(&fewer), (2000, 2000, 0), "{fewer}");

    let s = stats(&app).await;
    assert_eq!(s["clients"]["dcr"], 2000, "{s}");
    assert_eq!(s["active_grants"], 2000, "{s}");
    // Whole users per run: 334 for each run of 1000 grants.
    assert_eq!(s["users"], 2 * 1000_u64.div_ceil(3), "{s}");
}

async fn seeded_rows_are_served_beside_real_ones_and_removed_alone(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&app, dir.path());
    // A real client, user and grant before the seeding, another one after.
    let (real_client, _, real_tokens) = app.tokens_for_new_client().await;
    let report = seed(&config, &["--clients", "1000", "--grants", "1000"]).unwrap();
    assert_eq!(counts(&report).0, 1000, "{report}");
    let (later_client, _, later_tokens) = app.tokens_for_new_client().await;

    // The admin API lists the seeded rows like any others.
    let (s, page) = get(&app, "/admin/v1/clients?limit=500", BOOT).await;
    assert_eq!(s, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 500, "{page}");
    let seeded = items
        .iter()
        .find(|c| c["software_id"] == "dcr-bridge-seed")
        .unwrap_or_else(|| panic!("no seeded client in {page}"));
    let seeded_id = seeded["client_id"].as_str().unwrap();
    assert!(seeded_id.starts_with("dcrb_c_"), "{seeded}");
    assert_eq!(seeded["kind"], "dcr");
    let (s, grants) = get(
        &app,
        &format!("/admin/v1/grants?client_id={seeded_id}"),
        BOOT,
    )
    .await;
    assert_eq!(s, 200, "{grants}");
    let grant = &grants["items"][0];
    assert_eq!(grant["resource"], app.resource(), "{grants}");
    let user_id = grant["user_id"].as_str().unwrap();
    let (s, user) = get(&app, &format!("/admin/v1/users/{user_id}"), BOOT).await;
    assert_eq!(s, 200, "{user}");
    assert!(
        user["subject"].as_str().unwrap().starts_with("seed-"),
        "{user}"
    );
    let s = stats(&app).await;
    assert_eq!(s["active_grants"], 1002, "{s}");

    // Real flows and refreshes still work on the seeded database, before and after removal.
    let refresh = |client: String, tokens: Value| {
        let app = &app;
        async move {
            let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
            let res = app.refresh(&rt, &client).await;
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let real_tokens = refresh(real_client.clone(), real_tokens).await;
    let later_tokens = refresh(later_client.clone(), later_tokens).await;

    let removed = seed(&config, &["--remove"]).unwrap();
    let (clients, grants, deleted) = counts(&removed);
    assert_eq!((clients, grants), (0, 0), "{removed}");
    assert!(deleted >= rows(1000, 1000), "{removed}");
    let s = stats(&app).await;
    assert_eq!(s["clients"]["dcr"], 2, "{s}");
    assert_eq!(s["active_grants"], 2, "{s}");
    assert_eq!(s["users"], 1, "{s}");
    for (client, tokens) in [(real_client, real_tokens), (later_client, later_tokens)] {
        let (s, b) = get(&app, &format!("/admin/v1/clients/{client}"), BOOT).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = get(&app, &format!("/admin/v1/grants?client_id={client}"), BOOT).await;
        assert_eq!((s, b["items"].as_array().unwrap().len()), (200, 1), "{b}");
        refresh(client, tokens).await;
    }
    // The real facts' audit trail is kept; removing again finds nothing.
    let (_, events) = get(&app, "/admin/v1/audit-events?limit=500", BOOT).await;
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "token_issued"),
        "{events}"
    );
    let again = seed(&config, &["--remove"]).unwrap();
    assert_eq!(counts(&again), (0, 0, 0), "{again}");
}

/// A SQLite file seeded and topped up by the binary alone, checked from this process
/// afterwards (no server holds it): every foreign key resolves, the file is sound, and
/// `--remove` leaves the seeded tables empty.
#[tokio::test]
async fn seeded_sqlite_file_passes_the_foreign_key_check() {
    use sqlx::{Connection as _, Row as _};
    let dir = tempfile::tempdir().unwrap();
    let config = crate::cli::write_config(dir.path(), "http://127.0.0.1:9", "");
    seed(&config, &["--clients", "1000", "--grants", "1000"]).unwrap();
    seed(&config, &["--clients", "1500", "--grants", "2500"]).unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let check = |url: String| async move {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let broken = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert!(
            broken.is_empty(),
            "{} rows break a foreign key",
            broken.len()
        );
        let integrity: String = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(integrity, "ok");
        let mut counts = Vec::new();
        for table in [
            "clients",
            "users",
            "grants",
            "consents",
            "token_families",
            "refresh_tokens",
            "access_tokens",
            "audit_events",
        ] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
            counts.push(n);
        }
        conn.close().await.unwrap();
        counts
    };
    assert_eq!(
        check(url.clone()).await,
        [1500, 834, 2500, 2500, 2500, 2500, 2500, 4000]
    );
    seed(&config, &["--remove"]).unwrap();
    assert_eq!(check(url).await, [0; 8]);
}

/// What the command refuses, and that the refusal says why.
#[test]
fn seed_refuses_bad_arguments_and_an_unreachable_database() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::cli::write_config(dir.path(), "http://127.0.0.1:9", "");
    let refused = |args: &[&str], says: &str| {
        let err = seed(&config, args).unwrap_err();
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refused(
        &["--clients", "0", "--grants", "5"],
        "at least one seeded client",
    );
    refused(&["--clients", "10000001", "--grants", "1"], "10000000");
    refused(&["--clients", "1", "--grants", "99999999999"], "10000000");
    refused(
        &["--clients", "1", "--grants", "1", "--batch", "0"],
        "--batch",
    );
    refused(&["--clients", "-1", "--grants", "1"], "-1");
    refused(&["--grants", "1"], "--clients");
    refused(&["--remove", "--clients", "1"], "--clients");
    // Nothing asked, nothing made (and the database is created and migrated).
    let nothing = seed(&config, &["--clients", "0", "--grants", "0"]).unwrap();
    assert_eq!(counts(&nothing), (0, 0, 0));

    // A database that does not answer: a clear failure, soon, naming the setting and not the
    // password in the URL.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("sqlite://{}", dir.path().join("cli.db").display()),
        "postgres://seeder:hunter2@127.0.0.1:9/nowhere",
    );
    std::fs::write(&config, text).unwrap();
    let started = std::time::Instant::now();
    let err = seed(&config, &["--clients", "1", "--grants", "1"]).unwrap_err();
    assert!(err.contains("database_url"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
