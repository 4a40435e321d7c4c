//! Schemathesis (PyPI, pinned and installed by `.ci/run`) fuzzes the live admin API from its own
//! OpenAPI document (issue 14 item 3): a server on a real listener with seeded data (a client
//! with a user and a grant, a static client, a read-only token), every operation generated from
//! `/admin/v1/openapi.json`, and the run must find no 5xx, no response off its schema and no
//! undocumented status. Once with a read-only token (every write must be a documented 403),
//! then with the bootstrap token. Bounded: each run has a time budget.
//!
//! `schemathesis` must be on PATH (or named by `DCR_BRIDGE_SCHEMATHESIS`); a missing one fails
//! the test, never skips it.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::admin::{call, create_token, BOOT};
use crate::support::app::Db;

/// Pinned in `.ci/run`; the test checks the version it runs.
const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Budget of one run (schemathesis stops generating when it is spent).
const RUN_SECONDS: u64 = 35;

fn schemathesis() -> String {
    std::env::var("DCR_BRIDGE_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".to_owned())
}

async fn run(base: &str, token: &str, label: &str) {
    let bin = schemathesis();
    let report = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.args([
        "run",
        &format!("{base}/admin/v1/openapi.json"),
        "--url",
        base,
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance",
        "--header",
        &format!("Authorization: Bearer {token}"),
        "--max-examples",
        "25",
        "--max-time",
        &RUN_SECONDS.to_string(),
        "--seed",
        "14",
        // One worker: with two, hypothesis (describing its lambdas with Python's `ast` module
        // from two threads) failed twice on Python 3.11.7 with "AST constructor recursion depth
        // mismatch" on a random operation, a failure of the tool, not of the server.
        "--workers",
        "1",
        "--request-timeout",
        "10",
        // Hypothesis's own health check: on a clean CI machine it gave up on
        // `DELETE /admin-tokens/{id_or_name}` once ("too many generated examples are filtered
        // out"), a limit of the generator for a free-form path string, not an answer of the
        // server; every request it does send is still checked.
        "--suppress-health-check=filter_too_much",
        "--no-color",
        "--report-dir",
    ])
    .arg(report.path())
    // Its example database and cache go there too, not into the source tree.
    .current_dir(report.path())
    .env("SCHEMATHESIS_HOOKS", "")
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(RUN_SECONDS + 60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ({label}) ran past its budget"))
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {bin} ({e}): install it with `pip install \
                 schemathesis=={SCHEMATHESIS_VERSION}` (.ci/run does) or name it in \
                 DCR_BRIDGE_SCHEMATHESIS"
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis ({label}) found problems:\n{stdout}\n{stderr}"
    );
    // It really ran operations (an empty document or a wrong URL also "passes").
    assert!(
        stdout.contains("passed") && !stdout.contains("No operations"),
        "{stdout}"
    );
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_or_schema_violation_in_the_admin_api() {
    let version = std::process::Command::new(schemathesis())
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "schemathesis is required ({e}): `pip install schemathesis=={SCHEMATHESIS_VERSION}` \
                 (.ci/run installs it)"
            )
        });
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.contains(SCHEMATHESIS_VERSION),
        "schemathesis {SCHEMATHESIS_VERSION} is pinned, found: {version}"
    );
    let app = crate::support::app::TestApp::start_with(Db::Sqlite, |c| {
        c.admin_token = Some(secrecy::SecretString::from(BOOT.to_owned()));
        // Generated requests never carry a wrong token, but a refused one must not block the run.
        c.rate_limit.admin_auth_failures_per_minute = 10_000;
    })
    .await
    .unwrap();
    // Seeded data: a dynamic client with a user and a grant (and their audit trail), a static
    // client made through the API, a read-only token.
    app.tokens_for_new_client().await;
    let (s, _, b) = call(
        &app,
        Method::POST,
        "/admin/v1/clients",
        Some(BOOT),
        Some(json!({ "client_id": "seeded-static", "redirect_uris": ["http://127.0.0.1/cb"] })),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (reader, _) = create_token(&app, "fuzz-reader", true).await;

    run(&app.base, &reader, "read-only token").await;
    run(&app.base, BOOT, "bootstrap token").await;
}
