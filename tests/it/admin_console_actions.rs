//! The console's pages and actions through HTTP: revocations and client changes (audited with
//! the admin token's name, as the API audits them), CSRF and origin checks on every POST,
//! read-only tokens, malformed input, and escaping of what clients registered.

use reqwest::Method;
use serde_json::json;

use crate::admin::{admin_app, audit_events, call, create_token, get, on_both_databases, BOOT};
use crate::admin_console::{page, post, refused_cross_origin, signed_in};
use crate::support::app::{location, status_json, Db, TestApp};

on_both_databases!(find_a_user_and_revoke_their_grants);

/// The id of the user `dev-alice`, after a real sign-in flow.
async fn alice(app: &TestApp) -> String {
    let (_, users) = get(app, "/admin/v1/users", BOOT).await;
    users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["subject"] == "dev-alice")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn find_a_user_and_revoke_their_grants(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (token, _) = create_token(&app, "ops-carol", false).await;
    let (browser, csrf) = signed_in(&app, &token).await;

    let (s, _, html) = page(&app, &browser, "/admin/users?q=ALICE%40example").await;
    assert_eq!(s, 200, "{html}");
    assert!(
        html.contains("alice@example.com") && !html.contains("bob@"),
        "{html}"
    );
    let (_, _, html) = page(&app, &browser, "/admin/users?q=dev-alice").await;
    assert!(html.contains("alice@example.com"), "{html}");
    let (_, _, html) = page(&app, &browser, "/admin/users?q=nobody%40example.com").await;
    assert!(html.contains("No users match"), "{html}");

    let user_id = alice(&app).await;
    let user_page = format!("/admin/users/{user_id}");
    let (s, _, html) = page(&app, &browser, &user_page).await;
    assert_eq!(s, 200);
    assert!(
        html.contains(&client_id) && html.contains("id=\"revoke-all\""),
        "{html}"
    );

    let revoke = format!("{user_page}/revoke-grants");
    let res = post(&app, &browser, &revoke, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{user_page}?done=revoked&n=1"));
    let (_, _, html) = page(&app, &browser, &location(&res)).await;
    assert!(
        html.contains("Revoked 1 grant(s)") && html.contains(">revoked "),
        "{html}"
    );
    // The refresh token fails at once.
    let (s, body) = status_json(app.refresh(refresh, &client_id).await).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    // Audited with the token's name, as the API does; the audit page shows it.
    let event = audit_events(&app)
        .await
        .into_iter()
        .find(|e| e.kind == "admin_grant_revoked")
        .unwrap();
    assert_eq!(event.actor.as_deref(), Some("admin:ops-carol"));
    assert_eq!(event.client_id.as_deref(), Some(client_id.as_str()));
    let (_, _, html) = page(&app, &browser, "/admin/audit?type=admin_grant_revoked").await;
    assert!(
        html.contains("admin:ops-carol") && html.contains(&client_id),
        "{html}"
    );
    let (s, h, csv) = page(
        &app,
        &browser,
        "/admin/audit/export.csv?type=admin_grant_revoked",
    )
    .await;
    assert_eq!(s, 200);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.contains("admin:ops-carol"), "{csv}");
}

#[tokio::test]
async fn every_post_needs_the_sessions_csrf_token_and_this_origin() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    app.tokens_for_new_client().await;
    let (browser, csrf) = signed_in(&app, BOOT).await;
    let (_, other_csrf) = signed_in(&app, BOOT).await;
    let user_id = alice(&app).await;
    let revoke = format!("/admin/users/{user_id}/revoke-grants");
    for form in [
        vec![],
        vec![("csrf", "")],
        vec![("csrf", "wrong")],
        vec![("csrf", other_csrf.as_str())],
        vec![("csrf", &csrf[1..])],
    ] {
        let res = post(&app, &browser, &revoke, &form).await;
        assert_eq!(res.status(), 403, "{form:?}");
        assert!(res.text().await.unwrap().contains("CSRF"));
    }
    // The right token, but from another origin or site.
    refused_cross_origin(&app, &browser, &revoke, &[("csrf", &csrf)]).await;
    // Not a form, or too large, or malformed.
    let res = browser
        .post(app.url(&revoke))
        .header("origin", &app.base)
        .json(&json!({ "csrf": csrf }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let big = "x".repeat(20_000);
    let res = post(&app, &browser, &revoke, &[("csrf", &csrf), ("pad", &big)]).await;
    assert_eq!(res.status(), 413);
    let res = post(&app, &browser, &revoke, &[("csrf", &csrf), ("csrf", &csrf)]).await;
    assert_eq!(res.status(), 400);
    // Nothing was revoked by any of these.
    let (_, grants) = get(&app, &format!("/admin/v1/users/{user_id}/grants"), BOOT).await;
    assert_eq!(grants["items"][0]["active"], true);
    assert!(audit_events(&app)
        .await
        .iter()
        .all(|e| e.kind != "admin_grant_revoked"));
}

#[tokio::test]
async fn read_only_tokens_see_no_actions_and_their_posts_are_refused() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let (client_id, _, _) = app.tokens_for_new_client().await;
    let (token, _) = create_token(&app, "auditor", true).await;
    let (browser, csrf) = signed_in(&app, &token).await;
    let user_id = alice(&app).await;
    let grant_id = get(&app, &format!("/admin/v1/users/{user_id}/grants"), BOOT)
        .await
        .1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/admin/users/{user_id}"),
        format!("/admin/clients/{client_id}"),
        "/admin/grants".to_owned(),
    ] {
        let (s, _, html) = page(&app, &browser, &path).await;
        assert_eq!(s, 200);
        assert!(html.contains("read-only"), "{html}");
        assert!(
            !html.contains("/revoke") && !html.contains("/disable"),
            "{path}: {html}"
        );
    }
    for path in [
        format!("/admin/users/{user_id}/revoke-grants"),
        format!("/admin/grants/{grant_id}/revoke"),
        format!("/admin/clients/{client_id}/disable"),
        format!("/admin/clients/{client_id}/delete"),
    ] {
        let res = post(&app, &browser, &path, &[("csrf", &csrf)]).await;
        assert_eq!(res.status(), 403, "{path}");
        assert!(res.text().await.unwrap().contains("read-only"));
    }
    let (_, grant) = get(&app, &format!("/admin/v1/grants/{grant_id}"), BOOT).await;
    assert_eq!(grant["active"], true);
    let (_, client) = get(&app, &format!("/admin/v1/clients/{client_id}"), BOOT).await;
    assert_eq!(client["disabled"], false);
    // Signing out is not a change: a read-only token may.
    let res = post(&app, &browser, "/admin/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn clients_are_disabled_enabled_and_deleted_and_grants_revoked_one_by_one() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let (browser, csrf) = signed_in(&app, BOOT).await;
    let client_page = format!("/admin/clients/{client_id}");
    let (_, _, html) = page(&app, &browser, "/admin/clients?kind=dcr&disabled=false").await;
    assert!(html.contains(&client_id), "{html}");

    let res = post(
        &app,
        &browser,
        &format!("{client_page}/disable"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&res), format!("{client_page}?done=disabled"));
    let (_, _, html) = page(&app, &browser, &location(&res)).await;
    assert!(html.contains("id=\"client-state\">disabled<"), "{html}");
    let (_, _, html) = page(&app, &browser, "/admin/clients?disabled=false").await;
    assert!(!html.contains(&client_id));
    let res = post(
        &app,
        &browser,
        &format!("{client_page}/enable"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&res), format!("{client_page}?done=enabled"));
    let event = audit_events(&app)
        .await
        .into_iter()
        .find(|e| e.kind == "admin_client_updated")
        .unwrap();
    assert_eq!(event.actor.as_deref(), Some("admin:bootstrap"));

    // One grant, from the grants page, back to the filtered list.
    let (_, list) = get(
        &app,
        &format!("/admin/v1/grants?client_id={client_id}"),
        BOOT,
    )
    .await;
    let grant_id = list["items"][0]["id"].as_str().unwrap();
    let back = format!("/admin/grants?client_id={client_id}");
    let res = post(
        &app,
        &browser,
        &format!("/admin/grants/{grant_id}/revoke"),
        &[("csrf", &csrf), ("back", &back)],
    )
    .await;
    assert_eq!(location(&res), format!("{back}&done=revoked"));
    let (s, _, html) = page(&app, &browser, &location(&res)).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("The grant was revoked"));
    let res = app
        .refresh(tokens["refresh_token"].as_str().unwrap(), &client_id)
        .await;
    assert_eq!(res.status(), 400);
    // A `back` that leaves the console is not followed.
    let res = post(
        &app,
        &browser,
        &format!("/admin/grants/{grant_id}/revoke"),
        &[("csrf", &csrf), ("back", "//evil.example/admin/")],
    )
    .await;
    assert_eq!(location(&res), "/admin/grants?done=revoked");

    let res = post(
        &app,
        &browser,
        &format!("{client_page}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(location(&res), "/admin/clients?done=deleted");
    let (s, _, _) = call(
        &app,
        Method::GET,
        &format!("/admin/v1/clients/{client_id}"),
        Some(BOOT),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _, html) = page(&app, &browser, &client_page).await;
    assert_eq!(s, 404, "{html}");
    let res = post(
        &app,
        &browser,
        &format!("{client_page}/explode"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn client_supplied_names_render_escaped() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let evil = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let reg = app
        .register(json!({
            "client_name": evil,
            "redirect_uris": ["http://127.0.0.1:9/cb"],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    let client_id = reg["client_id"].as_str().unwrap();
    let (browser, _) = signed_in(&app, BOOT).await;
    for path in [
        "/admin/clients".to_owned(),
        format!("/admin/clients/{client_id}"),
    ] {
        let (s, _, html) = page(&app, &browser, &path).await;
        assert_eq!(s, 200);
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;alert("), "{html}");
    }
    let (_, _, html) = page(&app, &browser, "/admin/audit?type=registered").await;
    assert!(
        !html.contains("<script") && html.contains(client_id),
        "{html}"
    );
}

#[tokio::test]
async fn malformed_queries_and_ids_are_400_pages() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let (browser, _) = signed_in(&app, BOOT).await;
    let long = "a".repeat(3000);
    for path in [
        "/admin/?window=2y".to_owned(),
        "/admin/clients?kind=bogus".to_owned(),
        "/admin/clients?disabled=maybe".to_owned(),
        "/admin/clients?cursor=garbage".to_owned(),
        "/admin/clients?kinds=dcr".to_owned(),
        "/admin/clients?kind=dcr&kind=cimd".to_owned(),
        "/admin/clients?kind=%FF".to_owned(),
        "/admin/users?cursor=Z3JhbnRzOjE6eA".to_owned(),
        format!("/admin/users?q={long}"),
        "/admin/grants?active=yes".to_owned(),
        format!("/admin/grants?resource={long}"),
        "/admin/audit?from=yesterday".to_owned(),
        "/admin/audit?from=2025-13-01T00:00".to_owned(),
        "/admin/audit?from=10&to=5".to_owned(),
        "/admin/audit?type=Not-A-Type".to_owned(),
        "/admin/audit/export.csv?cursor=x".to_owned(),
        "/admin/clients/%FF%FE".to_owned(),
    ] {
        let (s, h, html) = page(&app, &browser, &path).await;
        assert_eq!(s, 400, "{path}: {html}");
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{path}"
        );
        assert!(!html.contains(&long), "{path}");
    }
    for path in ["/admin/users/no-such-user", "/admin/clients/no-such-client"] {
        let (s, _, _) = page(&app, &browser, path).await;
        assert_eq!(s, 404, "{path}");
    }
    let (s, _, html) = page(
        &app,
        &browser,
        "/admin/audit?from=2020-01-01T00:00&to=2100-01-01T00:00",
    )
    .await;
    assert_eq!(s, 200, "{html}");
}

#[tokio::test]
async fn the_overview_charts_flow_failures_by_reason() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    app.tokens_for_new_client().await;
    let (browser, _) = signed_in(&app, BOOT).await;
    // A consent denied is a failed flow with the reason `consent_denied`.
    let req = app.auth_request().await;
    let html = app.authorize(&req.params()).await.text().await.unwrap();
    assert_eq!(app.decide(&html, "deny").await.status(), 302);
    let (s, _, html) = page(&app, &browser, "/admin/?window=1h").await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("id=\"count-users\">1<"), "{html}");
    assert!(html.contains("id=\"count-failed\">1<"), "{html}");
    let chart = &html[html.find("id=\"failures\"").unwrap()..];
    assert!(
        chart.contains("<th scope=\"row\">consent_denied</th>"),
        "{chart}"
    );
    assert!(
        chart.contains("<rect x=\"0\" y=\"0\" height=\"10\" width=\"100\">"),
        "{chart}"
    );
}
