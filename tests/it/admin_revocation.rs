//! Admin revocations through HTTP: a user's grants, one grant, a client's grants; refresh
//! tokens fail at once and access tokens at the gateway within its poll bound.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::admin::{admin_app, audit_events, call, get, on_both_databases, BOOT};
use crate::support::app::{Db, TestApp};

on_both_databases!(
    revoking_a_users_grants_stops_their_tokens,
    revoking_one_grant_and_a_clients_grants,
);

/// A POST through the gateway to the demo MCP server with `access_token`; the status.
async fn mcp_status(app: &TestApp, access_token: &str) -> u16 {
    app.api
        .post(app.resource())
        .bearer_auth(access_token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits until the gateway refuses `access_token`, at most the documented bound: one poll
/// interval (1 s here) plus a store query.
async fn gateway_refuses_within_bound(app: &TestApp, access_token: &str) {
    let revoked_at = Instant::now();
    while mcp_status(app, access_token).await != 401 {
        assert!(
            revoked_at.elapsed() < Duration::from_millis(1_500),
            "the gateway still accepts the access token {:?} after revocation",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn revoking_a_users_grants_stops_their_tokens(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(mcp_status(&app, &access).await, 401);

    // Find the user, see the grant.
    let (s, users) = get(&app, "/admin/v1/users", BOOT).await;
    assert_eq!(s, 200, "{users}");
    let user = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["subject"].as_str().is_some())
        .unwrap()
        .clone();
    let user_id = user["id"].as_str().unwrap();
    assert_eq!(
        get(&app, &format!("/admin/v1/users/{user_id}"), BOOT)
            .await
            .1,
        user
    );
    let (_, grants) = get(&app, &format!("/admin/v1/users/{user_id}/grants"), BOOT).await;
    let grant = &grants["items"][0];
    assert_eq!(grant["client_id"], client_id.as_str());
    assert_eq!(grant["active"], true);
    assert!(grant.get("upstream_tokens").is_none(), "{grant}");

    // Revoke everything the user has.
    let revoke_all = format!("/admin/v1/users/{user_id}/grants");
    let (s, _, b) = call(&app, Method::DELETE, &revoke_all, Some(BOOT), None).await;
    assert_eq!((s, &b), (200, &json!({"revoked": 1})));
    // The refresh token fails at once.
    let res = app.refresh(&refresh, &client_id).await;
    let (s, body) = crate::support::app::status_json(res).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // The access token fails at the gateway within its bound.
    gateway_refuses_within_bound(&app, &access).await;
    // The grant shows revoked; a second bulk revocation revokes nothing.
    let (_, grants) = get(
        &app,
        &format!("/admin/v1/grants?user_id={user_id}&active=false"),
        BOOT,
    )
    .await;
    assert_eq!(grants["items"][0]["active"], false);
    let (_, _, b) = call(&app, Method::DELETE, &revoke_all, Some(BOOT), None).await;
    assert_eq!(b, json!({"revoked": 0}));
    let event = audit_events(&app)
        .await
        .into_iter()
        .find(|e| e.kind == "admin_grant_revoked")
        .unwrap();
    assert_eq!(event.actor.as_deref(), Some("admin:bootstrap"));
    assert_eq!(event.client_id.as_deref(), Some(client_id.as_str()));
    assert_eq!(event.grant_id.as_deref(), grant["id"].as_str());
}

async fn revoking_one_grant_and_a_clients_grants(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let (client_a, _, tokens_a) = app.tokens_for_new_client().await;
    let (client_b, _, tokens_b) = app.tokens_for_new_client().await;

    // One grant, by id.
    let (_, list) = get(
        &app,
        &format!("/admin/v1/grants?client_id={client_a}"),
        BOOT,
    )
    .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let grant_path = format!("/admin/v1/grants/{}", items[0]["id"].as_str().unwrap());
    assert_eq!(get(&app, &grant_path, BOOT).await.1, items[0]);
    assert_eq!(
        call(&app, Method::DELETE, &grant_path, Some(BOOT), None)
            .await
            .0,
        204
    );
    // Idempotent.
    assert_eq!(
        call(&app, Method::DELETE, &grant_path, Some(BOOT), None)
            .await
            .0,
        204
    );
    assert_eq!(get(&app, &grant_path, BOOT).await.1["active"], false);
    let res = app
        .refresh(tokens_a["refresh_token"].as_str().unwrap(), &client_a)
        .await;
    assert_eq!(res.status(), 400);

    // All of client B's grants; client B stays.
    let (s, _, b) = call(
        &app,
        Method::DELETE,
        &format!("/admin/v1/clients/{client_b}/grants"),
        Some(BOOT),
        None,
    )
    .await;
    assert_eq!((s, b), (200, json!({"revoked": 1})));
    let res = app
        .refresh(tokens_b["refresh_token"].as_str().unwrap(), &client_b)
        .await;
    assert_eq!(res.status(), 400);
    gateway_refuses_within_bound(&app, tokens_b["access_token"].as_str().unwrap()).await;
    assert_eq!(
        get(&app, &format!("/admin/v1/clients/{client_b}"), BOOT)
            .await
            .0,
        200
    );
    // Filter by resource.
    let resource = app.resource();
    let (_, by_resource) = get(
        &app,
        &format!("/admin/v1/grants?resource={}", urlencode(&resource)),
        BOOT,
    )
    .await;
    assert_eq!(
        by_resource["items"].as_array().unwrap().len(),
        2,
        "{by_resource}"
    );
    // Deleting a client revokes its grants too.
    let (client_c, _, tokens_c) = app.tokens_for_new_client().await;
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            &format!("/admin/v1/clients/{client_c}"),
            Some(BOOT),
            None
        )
        .await
        .0,
        204
    );
    let res = app
        .refresh(tokens_c["refresh_token"].as_str().unwrap(), &client_c)
        .await;
    assert_eq!(res.status(), 401, "a deleted client is an invalid_client");
    gateway_refuses_within_bound(&app, tokens_c["access_token"].as_str().unwrap()).await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
