//! The audit trail's facts (issue 14 item 6) through HTTP: every event of a sign-in carries the
//! request id, client, user, address and user agent; the list filters by user; a flow's start,
//! a signing-key rotation and failed admin sign-ins are recorded; failed sign-ins are limited
//! per address. On SQLite and Postgres.

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::admin::{admin_app, assert_problem, call, get, on_both_databases, BOOT};
use crate::support::app::{Db, TestApp};

on_both_databases!(
    audit_events_of_a_sign_in_name_user_client_address_and_agent,
    failed_admin_sign_ins_are_audited_and_limited_per_address,
);

async fn audit_events_of_a_sign_in_name_user_client_address_and_agent(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    // A refresh with a user agent and a request id of the client's own.
    let res = app
        .api
        .post(app.url("/token"))
        .header("user-agent", "claude-code/1.0\t(linux)")
        .header("x-request-id", "refresh-42")
        .form(&crate::support::app::refresh_form(
            tokens["refresh_token"].as_str().unwrap(),
            &client_id,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let (s, page) = get(
        &app,
        &format!("/admin/v1/audit-events?client_id={client_id}&limit=50"),
        BOOT,
    )
    .await;
    assert_eq!(s, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    let of = |kind: &str| -> &Value {
        items
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {page}"))
    };
    let user_id = of("token_issued")["user_id"].as_str().unwrap().to_owned();
    for kind in [
        "authorize_started",
        "login",
        "consented",
        "token_issued",
        "refreshed",
    ] {
        let e = of(kind);
        assert_eq!(e["ip"], "127.0.0.1", "{e}");
        assert!(e["request_id"].is_string(), "{e}");
        assert_eq!(e["client_id"], json!(client_id), "{e}");
        if kind != "authorize_started" {
            assert_eq!(e["user_id"], json!(user_id), "{e}");
        }
    }
    let refreshed = of("refreshed");
    assert_eq!(refreshed["request_id"], "refresh-42");
    // Control characters are dropped from the agent before it is stored.
    assert_eq!(refreshed["user_agent"], "claude-code/1.0(linux)");
    // Filtered by user: that user's facts only, the flow's start (no user yet) not among them.
    let (_, mine) = get(
        &app,
        &format!("/admin/v1/audit-events?user_id={user_id}"),
        BOOT,
    )
    .await;
    let kinds: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for kind in ["login", "consented", "token_issued", "refreshed"] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
    assert!(!kinds.contains(&"authorize_started"), "{kinds:?}");
    let (_, nobody) = get(&app, "/admin/v1/audit-events?user_id=nobody", BOOT).await;
    assert_eq!(nobody["items"], json!([]));
    // The CSV export has the new columns.
    let csv = app
        .api
        .get(app.url("/admin/v1/audit-events?format=csv"))
        .bearer_auth(BOOT)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with(
            "seq,id,at,type,actor,client_id,user_id,grant_id,request_id,ip,user_agent,detail"
        ),
        "{csv}"
    );
    assert!(csv.contains("claude-code/1.0(linux)"), "{csv}");

    // A signing-key rotation and its audit event commit together.
    let (s, _, b) = call(
        &app,
        Method::POST,
        "/admin/v1/signing-keys/rotate",
        Some(BOOT),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, rotated) = get(
        &app,
        "/admin/v1/audit-events?type=admin_signing_key_rotated",
        BOOT,
    )
    .await;
    let event = &rotated["items"][0];
    assert_eq!(event["detail"]["activated_kid"], b["activated"], "{event}");
    assert_eq!(event["ip"], "127.0.0.1");
}

async fn failed_admin_sign_ins_are_audited_and_limited_per_address(db: Db) {
    let Some(app) = TestApp::start_with(db, |c| {
        c.admin_token = Some(SecretString::from(BOOT.to_owned()));
        c.rate_limit.admin_auth_failures_per_minute = 3;
        c.rate_limit.client_ip_header = Some(dcr_bridge::config::ClientIpHeader::XForwardedFor);
    })
    .await
    else {
        return;
    };
    let attempt = |token: &'static str, from: &'static str| {
        let req = app
            .api
            .get(app.url("/admin/v1/clients"))
            .bearer_auth(token)
            .header("x-forwarded-for", from);
        async move { req.send().await.unwrap() }
    };
    for _ in 0..3 {
        assert_eq!(attempt("guess", "198.51.100.7").await.status(), 401);
    }
    // The fourth failure empties the bucket: 429, and from then on even the right token is
    // refused from that address without being looked at.
    let res = attempt("guess", "198.51.100.7").await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    let res = attempt(BOOT, "198.51.100.7").await;
    let (s, h) = (res.status().as_u16(), res.headers().clone());
    let body: Value = res.json().await.unwrap();
    assert_problem(s, &h, &body, 429, "too_many_requests");
    // Another address is not affected; a request without a token counts for nothing.
    assert_eq!(attempt(BOOT, "198.51.100.8").await.status(), 200);
    for _ in 0..5 {
        let res = app
            .api
            .get(app.url("/admin/v1/clients"))
            .header("x-forwarded-for", "198.51.100.9")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(attempt(BOOT, "198.51.100.9").await.status(), 200);

    let events = crate::admin::audit_events(&app).await;
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "admin_auth_failed")
        .collect();
    assert_eq!(failed.len(), 4, "{events:?}");
    assert!(failed
        .iter()
        .all(|e| e.ip.as_deref() == Some("198.51.100.7")));
    // The token only as a fingerprint.
    assert!(failed[0]
        .detail
        .as_deref()
        .unwrap()
        .contains(&dcr_bridge::oauth::crypto::fingerprint("guess")));
    assert!(!format!("{events:?}").contains("\"guess\""));
    let blocked: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "admin_auth_blocked")
        .collect();
    assert_eq!(blocked.len(), 1, "{events:?}");
}
