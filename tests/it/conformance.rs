//! The official MCP conformance tool (`@modelcontextprotocol/conformance`, `conformance
//! authorization`) against dcr-bridge: the authorization-server metadata scenario, then the
//! whole run with its interactive authorization-code grant, whose browser leg (consent, the
//! development IdP's login) is driven here headlessly.
//!
//! The tool does not test DCR, refresh, PKCE or redirect-URI negatives, or audiences (SPEC
//! §D1); the other integration tests do.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::app::TestApp;
use crate::support::conformance::{conformance_or_skip, Outcome, TOOL_VERSION};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const METADATA_SCENARIO: &str = "authorization-server-metadata-endpoint";

/// No check failed, the tool exited 0, and warnings are shown (not hidden, not fatal).
fn assert_passed(out: &Outcome, label: &str, started: Instant) {
    eprintln!(
        "conformance {TOOL_VERSION} {label} ({:.1?}):\n{}",
        started.elapsed(),
        out.summary()
    );
    for w in out.with_status("WARNING") {
        eprintln!(
            "conformance WARNING {}: {}",
            w.id,
            w.error_message.as_deref().unwrap_or("")
        );
    }
    assert!(
        out.with_status("FAILURE").is_empty(),
        "conformance checks failed:\n{}",
        out.report()
    );
    assert!(out.status.success(), "{}", out.report());
}

/// The CIMD check passes: dcr-bridge advertises client ID metadata documents (`[cimd]`).
fn assert_cimd_passes(out: &Outcome) {
    let cimd = out
        .check("authorization-server-metadata-cimd")
        .unwrap_or_else(|| panic!("no CIMD check:\n{}", out.report()));
    assert_eq!(cimd.status, "SUCCESS", "{}", out.report());
}

#[tokio::test]
async fn official_tool_authorization_server_metadata() {
    let Some(tool) = conformance_or_skip().await else {
        return;
    };
    let app = TestApp::start().await;
    let started = Instant::now();
    let out = tool
        .run(
            &["--url", &app.base, "--scenario", METADATA_SCENARIO],
            RUN_TIMEOUT,
        )
        .await
        .unwrap();
    assert_passed(&out, METADATA_SCENARIO, started);
    let metadata = out
        .check("authorization-server-metadata")
        .unwrap_or_else(|| panic!("no metadata check:\n{}", out.report()));
    assert_eq!(metadata.status, "SUCCESS", "{}", out.report());
    assert_eq!(metadata.raw["details"]["body"]["issuer"], app.base);
    assert_cimd_passes(&out);
}

#[tokio::test]
async fn official_tool_full_authorization_run_with_code_grant() {
    let Some(tool) = conformance_or_skip().await else {
        return;
    };
    let app = TestApp::start().await;
    // The tool listens on 127.0.0.1:<port>/callback; that redirect must be registered.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let reg = app
        .register(json!({
            "client_name": "mcp-conformance",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
        }))
        .await;
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    let resource = app.resource();
    let port_arg = port.to_string();
    let started = Instant::now();
    let mut run = tool
        .spawn(&[
            "--url",
            &app.base,
            "--client-id",
            &client_id,
            "--resource",
            &resource,
            "-p",
            &port_arg,
        ])
        .unwrap();

    // The browser leg: the tool prints the authorize URL and waits for its callback.
    let authorize_prefix = app.url("/authorize?");
    let authorize_url = run
        .wait_for_line(RUN_TIMEOUT, |l| l.trim().starts_with(&authorize_prefix))
        .await
        .unwrap();
    let params: Vec<(String, String)> = url::Url::parse(authorize_url.trim())
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(param("redirect_uri"), Some(redirect.as_str()));
    assert_eq!(param("resource"), Some(resource.as_str()));
    assert_eq!(param("code_challenge_method"), Some("S256"));
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // authorize → consent (approve) → dev IdP login → /oauth/callback → the tool's callback.
    let back = app.login(&pairs, "dev-alice").await;
    assert!(back.starts_with(&format!("{redirect}?")), "{back}");

    // Hand the response to the tool's listener (it starts listening as it prints the URL).
    let mut delivered = None;
    for _ in 0..50 {
        match app.api.get(&back).send().await {
            Ok(res) => {
                delivered = Some(res);
                break;
            }
            Err(e) if e.is_connect() => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("delivering the callback: {e}"),
        }
    }
    let res = delivered.expect("the tool's callback listener never accepted a connection");
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );

    let out = run.finish(RUN_TIMEOUT).await.unwrap();
    assert_passed(&out, "authorization (all scenarios)", started);
    for id in ["authorization-server-metadata", "authorization-code-grant"] {
        let check = out
            .check(id)
            .unwrap_or_else(|| panic!("no {id} check:\n{}", out.report()));
        assert_eq!(check.status, "SUCCESS", "{id}:\n{}", out.report());
    }
    assert_cimd_passes(&out);
}
