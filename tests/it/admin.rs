//! The admin API through HTTP: bearer auth (none, wrong, revoked, read-only writing), the
//! problem+json shape of every refusal and of malformed input, and the helpers the other
//! `admin_*` suites share (pages: admin_pages.rs, revocations: admin_revocation.rs, the OpenAPI
//! document: admin_openapi.rs, listeners and restarts: admin_serving.rs).

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
pub(crate) async fn expect_problem_with(
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

pub(crate) async fn audit_events(app: &TestApp) -> Vec<dcr_bridge::store::AuditEvent> {
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
