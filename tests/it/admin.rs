//! The admin API through HTTP: bearer auth (none, wrong, revoked, read-only writing), the
//! problem+json shape of every refusal and of malformed input, clients, users, grants and admin
//! tokens, cursor pagination over several pages, revocations that make refresh tokens fail at
//! once and access tokens fail at the gateway within its poll bound, the audit trail, the
//! OpenAPI document against the router, and `admin_listen`.

use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::support::app::{Db, TestApp};

/// For each name, a module with `sqlite` and `postgres` tests running `name(db)`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::support::app::Db;

            #[tokio::test]
            async fn sqlite() {
                super::$name(Db::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(Db::Postgres).await;
            }
        }
    )*};
}
pub(crate) use on_both_databases;

on_both_databases!(
    clients_pages_changes_and_deletion,
    revoking_a_users_grants_stops_their_tokens,
    revoking_one_grant_and_a_clients_grants,
);

/// The bootstrap token every test app is configured with.
pub(crate) const BOOT: &str = "bootstrap-token-for-the-admin-tests";

/// A test app with the bootstrap admin token and a 1 s gateway revocation poll; `None` when
/// Postgres is opted out.
pub(crate) async fn admin_app(db: Db) -> Option<TestApp> {
    TestApp::start_with(db, |c| {
        c.admin_token = Some(SecretString::from(BOOT.to_owned()));
        c.gateway.revocation_poll_seconds = 1;
    })
    .await
}

/// One admin request: status, response headers, JSON body (`Null` when empty).
pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app.api.request(method, app.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    };
    (status, headers, json)
}

pub(crate) async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let (s, _, b) = call(app, Method::GET, path, Some(token), None).await;
    (s, b)
}

/// Asserts an RFC 9457 problem with `status` and `code`.
pub(crate) fn assert_problem(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
    want: u16,
    code: &str,
) {
    assert_eq!(status, want, "{body}");
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "{body}"
    );
    assert_eq!(body["status"], want, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], "about:blank", "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
}

/// Asserts that `method path` with the bootstrap token, without a body, is the problem
/// `want` / `code`.
pub(crate) async fn expect_problem(
    app: &TestApp,
    method: Method,
    path: &str,
    want: u16,
    code: &str,
) {
    let (s, h, b) = call(app, method, path, Some(BOOT), None).await;
    assert_problem(s, &h, &b, want, code);
}

/// Asserts that GET `path` with each query string is 400 `invalid_request`.
pub(crate) async fn expect_bad_queries(app: &TestApp, path: &str, queries: &[&str]) {
    for query in queries {
        expect_problem(
            app,
            Method::GET,
            &format!("{path}{query}"),
            400,
            "invalid_request",
        )
        .await;
    }
}

/// As [`expect_problem`], with a JSON body.
async fn expect_problem_with(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Value,
    want: u16,
    code: &str,
) {
    let (s, h, b) = call(app, method, path, Some(BOOT), Some(body)).await;
    assert_problem(s, &h, &b, want, code);
}

/// Creates an admin token through the API with the bootstrap token; returns (token, id).
pub(crate) async fn create_token(app: &TestApp, name: &str, read_only: bool) -> (String, String) {
    let (s, _, b) = call(
        app,
        Method::POST,
        "/admin/v1/admin-tokens",
        Some(BOOT),
        Some(json!({ "name": name, "read_only": read_only })),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let token = b["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("dcrb_adm_"), "{token}");
    (token, b["admin_token"]["id"].as_str().unwrap().to_owned())
}

async fn audit_events(app: &TestApp) -> Vec<dcr_bridge::store::AuditEvent> {
    app.state.core.store.list_audit_events(500).await.unwrap()
}

#[tokio::test]
async fn admin_refuses_missing_wrong_and_revoked_tokens() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let path = "/admin/v1/clients";

    let (s, h, b) = call(&app, Method::GET, path, None, None).await;
    assert_problem(s, &h, &b, 401, "unauthorized");
    assert_eq!(h["www-authenticate"], "Bearer realm=\"dcr-bridge-admin\"");

    for wrong in [
        "nope",
        "dcrb_adm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &BOOT[1..],
    ] {
        let (s, h, b) = call(&app, Method::GET, path, Some(wrong), None).await;
        assert_problem(s, &h, &b, 401, "unauthorized");
        assert!(
            h["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("error=\"invalid_token\""),
            "{h:?}"
        );
    }
    // Another scheme, or two Authorization headers, are refused; the scheme is matched
    // case-insensitively (RFC 7235 §2.1).
    let basic = format!("Basic {BOOT}");
    let bearer = format!("Bearer {BOOT}");
    let lower = format!("bearer {BOOT}");
    let cases: [(&[&str], u16); 3] = [
        (&[&basic], 401),
        (&[&bearer, "Bearer other"], 401),
        (&[&lower], 200),
    ];
    for (values, want) in cases {
        let mut req = app.api.get(app.url(path));
        for v in values {
            req = req.header("authorization", *v);
        }
        assert_eq!(req.send().await.unwrap().status(), want, "{values:?}");
    }

    // A stored token works until revoked (by name), then gets 401.
    let (token, id) = create_token(&app, "laptop-ops", false).await;
    assert_eq!(get(&app, path, &token).await.0, 200);
    let (s, _, _) = call(
        &app,
        Method::DELETE,
        "/admin/v1/admin-tokens/laptop-ops",
        Some(BOOT),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, h, b) = call(&app, Method::GET, path, Some(&token), None).await;
    assert_problem(s, &h, &b, 401, "unauthorized");
    // Revoking it again, by id or name, is a 404 problem.
    for again in [id.as_str(), "laptop-ops"] {
        expect_problem(
            &app,
            Method::DELETE,
            &format!("/admin/v1/admin-tokens/{again}"),
            404,
            "not_found",
        )
        .await;
    }
    // The list shows it revoked, never a token value; last use was recorded.
    let (s, list) = get(&app, "/admin/v1/admin-tokens", BOOT).await;
    assert_eq!(s, 200);
    let listed = &list["items"][0];
    assert_eq!(listed["name"], "laptop-ops");
    assert_eq!(listed["active"], false);
    assert!(listed["last_used_at"].is_i64(), "{listed}");
    assert!(!list.to_string().contains(&token));
    assert!(!list
        .to_string()
        .contains(&dcr_bridge::oauth::crypto::hash(&token)));
    // Audited with the acting token's name.
    let events = audit_events(&app).await;
    let revoked = events
        .iter()
        .find(|e| e.kind == "admin_token_revoked")
        .unwrap();
    assert_eq!(revoked.actor.as_deref(), Some("admin:bootstrap"));
    assert!(revoked.request_id.is_some());
    assert!(revoked.detail.as_deref().unwrap().contains(&id));
}

#[tokio::test]
async fn admin_read_only_token_reads_but_never_writes() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let (client_id, _) = app.public_client().await;
    let (reader, _) = create_token(&app, "auditor", true).await;
    assert_eq!(get(&app, "/admin/v1/clients", &reader).await.0, 200);
    assert_eq!(
        get(&app, &format!("/admin/v1/clients/{client_id}"), &reader)
            .await
            .0,
        200
    );
    let before = audit_events(&app).await.len();
    let writes = [
        (
            Method::PATCH,
            format!("/admin/v1/clients/{client_id}"),
            Some(json!({"disabled": true})),
        ),
        (
            Method::DELETE,
            format!("/admin/v1/clients/{client_id}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/admin/v1/clients/{client_id}/grants"),
            None,
        ),
        (
            Method::POST,
            "/admin/v1/admin-tokens".to_owned(),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            "/admin/v1/admin-tokens/auditor".to_owned(),
            None,
        ),
        (
            Method::DELETE,
            "/admin/v1/grants/some-grant".to_owned(),
            None,
        ),
        (
            Method::DELETE,
            "/admin/v1/users/some-user/grants".to_owned(),
            None,
        ),
    ];
    for (method, path, body) in writes {
        let (s, h, b) = call(&app, method.clone(), &path, Some(&reader), body).await;
        assert_problem(s, &h, &b, 403, "forbidden");
        assert!(
            h["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("insufficient_scope"),
            "{method} {path}"
        );
    }
    // Nothing changed, nothing was audited.
    let (_, c) = get(&app, &format!("/admin/v1/clients/{client_id}"), BOOT).await;
    assert_eq!(c["disabled"], false);
    assert_eq!(audit_events(&app).await.len(), before);
}

#[tokio::test]
async fn admin_malformed_input_gets_problems() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let (client_id, _) = app.public_client().await;
    let client_path = format!("/admin/v1/clients/{client_id}");
    let cases: Vec<(Method, String, Option<Value>, u16, &str)> = vec![
        (
            Method::GET,
            "/admin/v1/clients?cursor=not-a-cursor".into(),
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/admin/v1/users?cursor=dXNlcnM6MTox".into(),
            None,
            200,
            "",
        ),
        (
            Method::GET,
            "/admin/v1/grants?cursor=dXNlcnM6MTp4".into(),
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/admin/v1/clients?limit=0".into(),
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/admin/v1/clients?limit=501".into(),
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/admin/v1/clients?limit=many".into(),
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/admin/v1/clients?kind=bogus".into(),
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/admin/v1/clients?disabled=maybe".into(),
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/admin/v1/clients?colour=red".into(),
            None,
            400,
            "invalid_request",
        ),
        (
            Method::GET,
            "/admin/v1/clients/no-such-client".into(),
            None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/admin/v1/users/no-such-user".into(),
            None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/admin/v1/users/no-such-user/grants".into(),
            None,
            404,
            "not_found",
        ),
        (
            Method::DELETE,
            "/admin/v1/users/no-such-user/grants".into(),
            None,
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/admin/v1/grants/no-such-grant".into(),
            None,
            404,
            "not_found",
        ),
        (
            Method::DELETE,
            "/admin/v1/grants/no-such-grant".into(),
            None,
            404,
            "not_found",
        ),
        (
            Method::DELETE,
            "/admin/v1/clients/no-such-client".into(),
            None,
            404,
            "not_found",
        ),
        (
            Method::PATCH,
            "/admin/v1/clients/no-such-client".into(),
            Some(json!({"disabled": true})),
            404,
            "not_found",
        ),
        (
            Method::PATCH,
            client_path.clone(),
            Some(json!({"disabled": "yes"})),
            400,
            "invalid_request",
        ),
        (
            Method::PATCH,
            client_path.clone(),
            Some(json!({"secret": "x"})),
            400,
            "invalid_request",
        ),
        (
            Method::PATCH,
            client_path.clone(),
            Some(json!([1, 2])),
            400,
            "invalid_request",
        ),
        (
            Method::PATCH,
            client_path.clone(),
            Some(json!({"redirect_uris": ["javascript:alert(1)"]})),
            400,
            "invalid_request",
        ),
        (
            Method::PATCH,
            client_path.clone(),
            Some(json!({"redirect_uris": []})),
            400,
            "invalid_request",
        ),
        (
            Method::POST,
            "/admin/v1/admin-tokens".into(),
            Some(json!({"name": "bad name!"})),
            400,
            "invalid_request",
        ),
        (
            Method::POST,
            "/admin/v1/admin-tokens".into(),
            Some(json!({"name": "bootstrap"})),
            400,
            "invalid_request",
        ),
        (
            Method::POST,
            "/admin/v1/admin-tokens".into(),
            Some(json!({"read_only": true})),
            400,
            "invalid_request",
        ),
        (
            Method::PUT,
            "/admin/v1/clients".into(),
            None,
            405,
            "method_not_allowed",
        ),
        (
            Method::GET,
            "/admin/v1/nothing-here".into(),
            None,
            404,
            "not_found",
        ),
        (Method::GET, "/admin/v1".into(), None, 404, "not_found"),
    ];
    for (method, path, body, want, code) in cases {
        let (s, h, b) = call(&app, method.clone(), &path, Some(BOOT), body).await;
        if want == 200 {
            assert_eq!(s, 200, "{method} {path}: {b}");
        } else {
            assert_problem(s, &h, &b, want, code);
        }
    }
    // A wrong method keeps its Allow header.
    let (_, h, _) = call(&app, Method::PUT, "/admin/v1/clients", Some(BOOT), None).await;
    assert!(h["allow"].to_str().unwrap().contains("GET"), "{h:?}");

    // Bodies that are not JSON, not declared as JSON, or too large.
    let post = |ct: &'static str, body: Vec<u8>| {
        app.api
            .post(app.url("/admin/v1/admin-tokens"))
            .bearer_auth(BOOT)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let cases: [(&str, Vec<u8>, u16, &str); 4] = [
        (
            "application/json",
            b"{\"name\": ".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "application/json",
            b"\xff\xfe".to_vec(),
            400,
            "invalid_request",
        ),
        (
            "text/plain",
            b"{\"name\": \"x\"}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            vec![b' '; 70 * 1024],
            413,
            "payload_too_large",
        ),
    ];
    for (ct, body, want, code) in cases {
        let res = post(ct, body).await.unwrap();
        let (s, h) = (res.status().as_u16(), res.headers().clone());
        let b: Value = res.json().await.unwrap();
        assert_problem(s, &h, &b, want, code);
    }
    // A duplicate token name is a conflict.
    create_token(&app, "twice", false).await;
    let (s, h, b) = call(
        &app,
        Method::POST,
        "/admin/v1/admin-tokens",
        Some(BOOT),
        Some(json!({"name": "twice"})),
    )
    .await;
    assert_problem(s, &h, &b, 409, "conflict");
}

/// The ids of every page of `path` (which has no query yet) at `limit`, checking each page.
async fn walk(app: &TestApp, path: &str, id_field: &str, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let (s, page) = get(app, &url, BOOT).await;
        assert_eq!(s, 200, "{url}: {page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize);
        ids.extend(
            items
                .iter()
                .map(|i| i[id_field].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
        assert!(pages < 100, "pagination does not end");
    }
}

async fn clients_pages_changes_and_deletion(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let mut registered = Vec::new();
    for _ in 0..5 {
        registered.push(app.public_client().await.0);
    }
    // Pages of 2 cover all five, newest first, without repeats, ending without a cursor.
    let all = walk(&app, "/admin/v1/clients", "client_id", 2).await;
    assert_eq!(all.len(), 5, "{all:?}");
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5);
    let mut expected = registered.clone();
    expected.sort();
    assert_eq!(sorted, expected);
    assert_eq!(
        walk(&app, "/admin/v1/clients?kind=dcr", "client_id", 3).await,
        all
    );
    assert!(walk(&app, "/admin/v1/clients?kind=static", "client_id", 3)
        .await
        .is_empty());

    // Disable one: it is listed as disabled and can no longer start a flow.
    let target = &registered[2];
    let path = format!("/admin/v1/clients/{target}");
    let (s, _, b) = call(
        &app,
        Method::PATCH,
        &path,
        Some(BOOT),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!((s, &b["disabled"]), (200, &json!(true)), "{b}");
    assert_eq!(
        walk(&app, "/admin/v1/clients?disabled=true", "client_id", 10).await,
        std::slice::from_ref(target)
    );
    assert_eq!(
        walk(&app, "/admin/v1/clients?disabled=false", "client_id", 10)
            .await
            .len(),
        4
    );
    let (_, challenge) = crate::support::app::pkce();
    let resource = app.resource();
    let res = app
        .authorize(&TestApp::auth_params(
            target,
            "http://127.0.0.1:33418/callback",
            &challenge,
            &resource,
        ))
        .await;
    assert_ne!(res.status(), 200, "a disabled client got the consent page");

    // Rename and new redirect URIs, checked like a registration.
    let (s, _, b) = call(
        &app,
        Method::PATCH,
        &path,
        Some(BOOT),
        Some(json!({"client_name": "  Renamed\u{200b} app ", "redirect_uris": ["http://127.0.0.1/new-cb", "cursor://anysphere.cursor-mcp/oauth/callback"]})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["client_name"], "Renamed app");
    assert_eq!(
        b["redirect_uris"][1],
        "cursor://anysphere.cursor-mcp/oauth/callback"
    );
    let (_, got) = get(&app, &path, BOOT).await;
    assert_eq!(got, b);
    assert!(got.get("secret_hash").is_none() && got.get("registration_token_hash").is_none());

    // Delete: gone, and audited with the token's name.
    let (s, _, _) = call(&app, Method::DELETE, &path, Some(BOOT), None).await;
    assert_eq!(s, 204);
    assert_eq!(get(&app, &path, BOOT).await.0, 404);
    let events = audit_events(&app).await;
    let kinds: Vec<_> = events
        .iter()
        .filter(|e| e.client_id.as_deref() == Some(target))
        .map(|e| (e.kind.as_str(), e.actor.as_deref()))
        .collect();
    assert_eq!(
        kinds[..3],
        [
            ("admin_client_deleted", Some("admin:bootstrap")),
            ("admin_client_updated", Some("admin:bootstrap")),
            ("admin_client_updated", Some("admin:bootstrap")),
        ]
    );
}

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

#[tokio::test]
async fn admin_users_paginate_over_several_pages() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let store = &app.state.core.store;
    for i in 0..7 {
        let user = dcr_bridge::store::UserRecord {
            id: format!("user-{i}"),
            upstream_id: "corp".into(),
            issuer: "https://idp.example.com".into(),
            subject: format!("s{i}"),
            email: None,
            name: None,
            groups: vec![],
            // Three share a second: the id breaks the tie.
            created_at: 1_700_000_000 + i64::from(i / 3),
            last_login_at: 1_700_000_000,
        };
        store.upsert_user(&user).await.unwrap();
    }
    let ids = walk(&app, "/admin/v1/users", "id", 3).await;
    assert_eq!(
        ids,
        ["user-6", "user-5", "user-4", "user-3", "user-2", "user-1", "user-0"]
    );
    // A cursor of another list is refused rather than misread.
    let (_, first) = get(&app, "/admin/v1/users?limit=1", BOOT).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    expect_problem(
        &app,
        Method::GET,
        &format!("/admin/v1/clients?cursor={cursor}"),
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn admin_openapi_document_matches_the_router() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    // Served without a token.
    let res = app.get("/admin/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["admin_token"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // Every answer of the second landing is a typed schema, and the audit list offers CSV.
    for schema in [
        "AuditEventView",
        "Stats",
        "FlowCounts",
        "SigningKeyView",
        "KeyStateView",
        "Rotated",
        "UpstreamView",
        "CheckStatus",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    let audit = &doc["paths"]["/admin/v1/audit-events"]["get"]["responses"]["200"]["content"];
    assert!(audit["application/json"]["schema"].is_object(), "{audit}");
    assert!(audit["text/csv"]["schema"].is_object(), "{audit}");
    assert_eq!(
        doc["components"]["schemas"]["KeyStateView"]["enum"],
        json!(["next", "active", "retired"])
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 9, "{:?}", paths.keys());
    let methods = ["get", "post", "put", "patch", "delete"];
    let mut operations = 0;
    for (path, item) in paths {
        assert!(path.starts_with("/admin/v1/"), "{path}");
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for m in methods {
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap();
            if let Some(op) = item.get(m) {
                let (s, h, b) = call(&app, method, &concrete, None, None).await;
                operations += 1;
                // In the document → routed, behind the token check.
                assert_problem(s, &h, &b, 401, "unauthorized");
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("401"), "{m} {path}");
                assert!(op["tags"].is_array(), "{m} {path}");
            } else {
                // Not in the document → not routed for this method (the token is checked
                // first, so it is sent here).
                let (s, h, b) = call(&app, method, &concrete, Some(BOOT), None).await;
                assert_problem(s, &h, &b, 405, "method_not_allowed");
            }
        }
    }
    assert_eq!(operations, 21);
    // Operation ids are unique, as OpenAPI requires (client generators name methods by them).
    let mut ids: Vec<_> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op.get("operationId").and_then(Value::as_str))
        .collect();
    assert_eq!(ids.len(), 21);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 21, "duplicate operationId");
    // The routes are registered with the document (utoipa-axum): a path outside it is not one.
    for stray in [
        "/admin/v1/clients/x/y",
        "/admin/v1/tokens",
        "/admin/v1/signing-keys/x/y",
    ] {
        let (s, h, b) = call(&app, Method::GET, stray, None, None).await;
        assert_problem(s, &h, &b, 404, "not_found");
    }
}

#[tokio::test]
async fn admin_listen_serves_the_admin_api_on_its_own_listener() {
    let app = TestApp::start_with(Db::Sqlite, |c| {
        c.admin_token = Some(SecretString::from(BOOT.to_owned()));
        // Any address: the test binds the admin listener itself below.
        c.admin_listen = Some("127.0.0.1:1".parse().unwrap());
    })
    .await
    .unwrap();
    // Not on the public listener.
    let res = app
        .api
        .get(app.url("/admin/v1/clients"))
        .bearer_auth(BOOT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // On the admin listener, next to a second public one serving the same state.
    let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_base = format!("http://{}", admin.local_addr().unwrap());
    let public_base = format!("http://{}", public.local_addr().unwrap());
    let state = app.state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dcr_bridge::app::serve_all(
        state,
        public,
        Some(admin),
        async {
            let _ = stopped.await;
        },
    ));
    let res = app
        .api
        .get(format!("{admin_base}/admin/v1/clients"))
        .bearer_auth(BOOT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let res = app
        .api
        .get(format!(
            "{admin_base}/.well-known/oauth-authorization-server"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "the admin listener serves only the admin API"
    );
    let res = app
        .api
        .get(format!(
            "{public_base}/.well-known/oauth-authorization-server"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // One shutdown stops both.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn admin_static_client_stays_disabled_across_a_restart_and_keeps_its_metadata() {
    let app = TestApp::start_with(Db::Sqlite, |c| {
        c.admin_token = Some(SecretString::from(BOOT.to_owned()));
        c.clients = vec![dcr_bridge::config::StaticClientConfig {
            client_id: "vscode-static".into(),
            client_name: Some("VS Code (pre-registered)".into()),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            token_endpoint_auth_method: "none".into(),
            client_secret: None,
            client_secret_file: None,
            upstream: None,
        }];
    })
    .await
    .unwrap();
    let path = "/admin/v1/clients/vscode-static";
    assert_eq!(
        walk(&app, "/admin/v1/clients?kind=static", "client_id", 5).await,
        ["vscode-static"]
    );
    // Its metadata belongs to [[clients]]: 409, nothing changed.
    expect_problem_with(
        &app,
        Method::PATCH,
        path,
        json!({"client_name": "Renamed"}),
        409,
        "conflict",
    )
    .await;
    let (s, _, b) = call(
        &app,
        Method::PATCH,
        path,
        Some(BOOT),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!((s, &b["disabled"]), (200, &json!(true)), "{b}");
    assert_eq!(b["client_name"], "VS Code (pre-registered)");
    // The sync every start runs keeps the administrator's decision.
    let core = &app.state.core;
    dcr_bridge::oauth::static_clients::sync(
        core.store.as_ref(),
        &app.state.config.clients,
        &core.settings,
        core.now() + 10,
    )
    .await
    .unwrap();
    assert_eq!(get(&app, path, BOOT).await.1["disabled"], true);
}
