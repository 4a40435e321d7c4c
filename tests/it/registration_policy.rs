//! `[registration]` policy through the real server: closed mode, redirect-URI schemes, hosts
//! and loopback (for registered and CIMD clients), and the cap on dynamic clients, including
//! under concurrent registrations, on SQLite and Postgres.

use serde_json::{json, Value};

use crate::admin::{audit_events, on_both_databases};
use crate::cimd::{authorize_page, cimd_for_tests, DocServer, REDIRECT};
use crate::support::app::{status_json, Db, TestApp};

const NATIVE: &str = "http://127.0.0.1:33418/callback";

async fn try_register(app: &TestApp, uri: &str) -> (u16, Value) {
    let body = json!({ "redirect_uris": [uri], "token_endpoint_auth_method": "none" });
    status_json(app.post_json("/register", &body).await).await
}

#[tokio::test]
async fn closed_mode_refuses_and_hides_the_endpoint() {
    for tweak in [
        (|c: &mut dcr_bridge::config::Config| {
            c.registration.mode = Some(dcr_bridge::config::RegistrationMode::Closed);
        }) as fn(&mut dcr_bridge::config::Config),
        |c| c.registration.enabled = false,
    ] {
        let app = TestApp::start_with(Db::Sqlite, tweak).await.unwrap();
        let res = app
            .post_json("/register", &json!({ "redirect_uris": [NATIVE] }))
            .await;
        assert_eq!(res.headers()["cache-control"], "no-store");
        let (status, body) = status_json(res).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"], "access_denied", "{body}");
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("closed"));
        let meta = app
            .get_json("/.well-known/oauth-authorization-server")
            .await;
        assert!(meta.get("registration_endpoint").is_none(), "{meta}");
    }
    // Open (the default) advertises it, and MCP clients register on the first try.
    let app = TestApp::start().await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(meta["registration_endpoint"].is_string());
    assert_eq!(try_register(&app, NATIVE).await.0, 201);
}

#[tokio::test]
async fn redirect_policy_names_the_rule_that_refuses() {
    let app = TestApp::start_with(Db::Sqlite, |c| {
        c.registration.allowed_redirect_hosts = vec!["claude.ai".into(), "*.corp.example".into()];
        c.registration.allowed_redirect_schemes = vec!["https".into(), "http".into()];
        c.registration.allow_loopback_redirects = false;
    })
    .await
    .unwrap();
    for ok in [
        "https://claude.ai/api/mcp/auth_callback",
        "https://a.corp.example/cb",
    ] {
        assert_eq!(try_register(&app, ok).await.0, 201, "{ok}");
    }
    for (uri, rule) in [
        ("https://evil.example/cb", "allowed_redirect_hosts"),
        ("https://corp.example/cb", "allowed_redirect_hosts"),
        (
            "https://claude.ai.evil.example/cb",
            "allowed_redirect_hosts",
        ),
        (NATIVE, "allow_loopback_redirects"),
        ("http://localhost:1/cb", "allow_loopback_redirects"),
        (
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "allowed_redirect_schemes",
        ),
    ] {
        let (status, body) = try_register(&app, uri).await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}");
        let d = body["error_description"].as_str().unwrap();
        assert!(
            d.contains(rule) && d.contains("redirect_uris[0]"),
            "{uri}: {d}"
        );
    }
    // RFC 7592 updates obey it too.
    let reg = app
        .register(json!({ "redirect_uris": ["https://claude.ai/cb"], "token_endpoint_auth_method": "none" }))
        .await;
    let res = app
        .api
        .put(reg["registration_client_uri"].as_str().unwrap())
        .bearer_auth(reg["registration_access_token"].as_str().unwrap())
        .json(&json!({ "redirect_uris": ["https://evil.example/cb"], "token_endpoint_auth_method": "none" }))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(res).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
}

/// A CIMD client's document is checked by the same redirect policy: with loopback redirects
/// off, a document listing only a loopback redirect is refused on our page.
#[tokio::test]
async fn cimd_documents_obey_the_redirect_policy() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, |c| {
        cimd_for_tests(c);
        c.registration.allow_loopback_redirects = false;
    })
    .await
    .unwrap();
    let (status, body) = authorize_page(&app, &docs.client_id(), REDIRECT).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("allow_loopback_redirects"), "{body}");
    // With the default policy the same document is accepted.
    let open = TestApp::start_with(Db::Sqlite, cimd_for_tests)
        .await
        .unwrap();
    assert_eq!(
        authorize_page(&open, &docs.client_id(), REDIRECT).await.0,
        200
    );
}

async fn cap_is_enforced_and_audited(db: Db) {
    let Some(app) = TestApp::start_with(db, |c| c.registration.max_dynamic_clients = Some(2)).await
    else {
        return;
    };
    let first = app
        .register(json!({ "redirect_uris": [NATIVE], "token_endpoint_auth_method": "none" }))
        .await;
    assert_eq!(try_register(&app, NATIVE).await.0, 201);
    let (status, body) = try_register(&app, NATIVE).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "access_denied");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("limit of 2"),
        "{body}"
    );
    let refused: Vec<_> = audit_events(&app)
        .await
        .into_iter()
        .filter(|e| e.kind == "registration_refused")
        .collect();
    assert_eq!(refused.len(), 1);
    assert!(refused[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("max_dynamic_clients"));
    // Deleting a client (RFC 7592) makes room again.
    let res = app
        .api
        .delete(first["registration_client_uri"].as_str().unwrap())
        .bearer_auth(first["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(try_register(&app, NATIVE).await.0, 201);
    assert_eq!(try_register(&app, NATIVE).await.0, 403);
}

/// Concurrent registrations cannot overshoot the cap (Postgres: the count is serialized).
async fn cap_holds_under_concurrency(db: Db) {
    let Some(app) = TestApp::start_with(db, |c| {
        c.registration.max_dynamic_clients = Some(3);
        c.rate_limit.enabled = false;
    })
    .await
    else {
        return;
    };
    let attempts = (0..12).map(|_| try_register(&app, NATIVE));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 403),
        "{statuses:?}"
    );
    let inventory = app.state.core.store.inventory().await.unwrap();
    assert_eq!(
        inventory.clients_by_kind,
        vec![("dcr".to_owned(), 3)],
        "{inventory:?}"
    );
}

on_both_databases!(cap_is_enforced_and_audited, cap_holds_under_concurrency);
