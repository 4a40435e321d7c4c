//! The admin API's client writes through HTTP: creating a static client (its secret shown once,
//! stored hashed, working at /token), changing redirect URIs and the upstream binding, who may
//! change what, last use and last error, and the start-up sync disabling a client removed from
//! `[[clients]]` while leaving the API-created ones alone. On SQLite and Postgres.

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::admin::{
    admin_app, assert_problem, call, create_token, expect_problem_with, get, on_both_databases,
    BOOT,
};
use crate::support::app::{Db, TestApp};

on_both_databases!(
    admin_creates_static_clients_and_shows_the_secret_once,
    admin_client_creation_refuses_bad_input,
    admin_patches_redirect_uris_and_upstream_by_who_manages_the_client,
    admin_client_shows_last_use_and_last_error,
    static_client_removed_from_config_is_disabled_with_its_grants_revoked,
);

/// A public `[[clients]]` entry with one redirect URI.
pub(crate) fn file_client(
    client_id: &str,
    redirect: &str,
) -> dcr_bridge::config::StaticClientConfig {
    dcr_bridge::config::StaticClientConfig {
        client_id: client_id.into(),
        client_name: None,
        redirect_uris: vec![redirect.into()],
        token_endpoint_auth_method: "none".into(),
        client_secret: None,
        client_secret_file: None,
        upstream: None,
        jwks: None,
        service_account: None,
    }
}

/// A test app with the bootstrap token and one `[[clients]]` entry, after `tweak`; `None`
/// when Postgres is opted out.
async fn app_with_file_client(
    db: Db,
    client_id: &str,
    redirect: &str,
    tweak: impl FnOnce(&mut dcr_bridge::config::Config),
) -> Option<TestApp> {
    TestApp::start_with(db, |c| {
        c.admin_token = Some(SecretString::from(BOOT.to_owned()));
        c.clients = vec![file_client(client_id, redirect)];
        tweak(c);
    })
    .await
}

/// `api-made`, a public static client created through the API.
async fn create_api_made(app: &TestApp) {
    let (s, b) = create(
        app,
        json!({ "client_id": "api-made", "redirect_uris": ["http://127.0.0.1/cb"] }),
    )
    .await;
    assert_eq!(s, 201, "{b}");
}

async fn create(app: &TestApp, body: Value) -> (u16, Value) {
    let (s, _, b) = call(
        app,
        Method::POST,
        "/admin/v1/clients",
        Some(BOOT),
        Some(body),
    )
    .await;
    (s, b)
}

/// A token request authenticated with HTTP Basic and a refresh token that does not exist:
/// `invalid_grant` (400) proves the secret was accepted, `invalid_client` (401) that it was not.
async fn basic_token_request(app: &TestApp, client_id: &str, secret: &str) -> (u16, Value) {
    let res = app
        .api
        .post(app.url("/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "dcrb_rt_nothing"),
        ])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn admin_creates_static_clients_and_shows_the_secret_once(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    // A confidential client with a chosen id: the secret comes back once.
    let (s, b) = create(
        &app,
        json!({
            "client_id": "build-agent",
            "client_name": "Build agent",
            "redirect_uris": ["http://127.0.0.1/callback", "https://ci.example.com/cb"],
            "token_endpoint_auth_method": "client_secret_basic",
        }),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let secret = b["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("dcrb_cs_"), "{secret}");
    let client = &b["client"];
    assert_eq!(client["client_id"], "build-agent");
    assert_eq!(client["kind"], "static");
    assert_eq!(client["managed_by"], "admin");
    assert_eq!(client["application_type"], "web");
    assert_eq!(client["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(client["upstream_id"], "corp");
    // Stored as the hash a [[clients]] secret gets; never shown again.
    let stored = app
        .state
        .core
        .store
        .get_client("build-agent")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.secret_hash.as_deref(),
        Some(dcr_bridge::oauth::crypto::hash(&secret).as_str())
    );
    let (s, got) = get(&app, "/admin/v1/clients/build-agent", BOOT).await;
    assert_eq!(s, 200);
    assert!(!got.to_string().contains(&secret), "{got}");
    assert!(got.get("client_secret").is_none());
    // The secret works at /token; a wrong one does not.
    let (s, body) = basic_token_request(&app, "build-agent", &secret).await;
    assert_eq!(
        (s, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    let (s, body) = basic_token_request(&app, "build-agent", "dcrb_cs_wrong").await;
    assert_eq!(
        (s, &body["error"]),
        (401, &json!("invalid_client")),
        "{body}"
    );

    // A public client without an id gets a generated one and no secret.
    let (s, b) = create(&app, json!({ "redirect_uris": ["cursor://anysphere/cb"] })).await;
    assert_eq!(s, 201, "{b}");
    assert!(b.get("client_secret").is_none(), "{b}");
    let id = b["client"]["client_id"].as_str().unwrap();
    assert!(id.starts_with("dcrb_s_"), "{id}");
    assert_eq!(b["client"]["token_endpoint_auth_method"], "none");
    assert_eq!(b["client"]["application_type"], "native");

    // The same id again is a conflict; audited once, with the acting token.
    let (s, h, b) = call(
        &app,
        Method::POST,
        "/admin/v1/clients",
        Some(BOOT),
        Some(json!({ "client_id": "build-agent", "redirect_uris": ["http://127.0.0.1/cb"] })),
    )
    .await;
    assert_problem(s, &h, &b, 409, "conflict");
    let events = crate::admin::audit_events(&app).await;
    let created: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "admin_client_created")
        .collect();
    assert_eq!(created.len(), 2);
    assert!(created
        .iter()
        .all(|e| e.actor.as_deref() == Some("admin:bootstrap")));
    assert!(created.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")));
    assert!(!format!("{events:?}").contains(&secret));
}

async fn admin_client_creation_refuses_bad_input(db: Db) {
    let Some(app) =
        app_with_file_client(db, "from-file", "http://127.0.0.1/callback", |_| {}).await
    else {
        return;
    };
    let path = "/admin/v1/clients";
    let good = json!({ "redirect_uris": ["http://127.0.0.1/cb"] });
    // No token, a wrong one, a read-only one.
    let (s, h, b) = call(&app, Method::POST, path, None, Some(good.clone())).await;
    assert_problem(s, &h, &b, 401, "unauthorized");
    let (s, h, b) = call(&app, Method::POST, path, Some("wrong"), Some(good.clone())).await;
    assert_problem(s, &h, &b, 401, "unauthorized");
    let (reader, _) = create_token(&app, "reader", true).await;
    let (s, h, b) = call(&app, Method::POST, path, Some(&reader), Some(good.clone())).await;
    assert_problem(s, &h, &b, 403, "forbidden");
    // Malformed and invalid bodies.
    for bad in [
        json!({}),
        json!({ "redirect_uris": [] }),
        json!({ "redirect_uris": "http://127.0.0.1/cb" }),
        json!({ "redirect_uris": ["javascript:alert(1)"] }),
        json!({ "redirect_uris": ["http://evil.example.com/cb"] }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "surprise": 1 }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "upstream_id": "nowhere" }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "private_key_jwt" }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "client_id": "dcrb_c_spoof" }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "client_id": "https://x.example/doc" }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "client_id": "has space" }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "client_id": "" }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "client_id": "x".repeat(129) }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "client_id": "bridge-client" }),
        json!({ "redirect_uris": ["http://127.0.0.1/cb"], "client_name": "x".repeat(10_000) }),
    ] {
        expect_problem_with(&app, Method::POST, path, bad, 400, "invalid_request").await;
    }
    let (s, h, b) = call(&app, Method::POST, path, Some(BOOT), None).await;
    assert_eq!(s, 415, "{b}");
    assert_eq!(h["content-type"], "application/problem+json");
    let res = app
        .api
        .post(app.url(path))
        .bearer_auth(BOOT)
        .header("content-type", "application/json")
        .body("{\"redirect_uris\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Oversized: more than the admin body limit.
    let uris: Vec<String> = (0..2000)
        .map(|i| format!("http://127.0.0.1/callback/{i:040}"))
        .collect();
    let (s, h, b) = call(
        &app,
        Method::POST,
        path,
        Some(BOOT),
        Some(json!({ "redirect_uris": uris })),
    )
    .await;
    assert_problem(s, &h, &b, 413, "payload_too_large");
    // An id a [[clients]] entry holds is the file's.
    expect_problem_with(
        &app,
        Method::POST,
        path,
        json!({ "client_id": "from-file", "redirect_uris": ["http://127.0.0.1/cb"] }),
        409,
        "conflict",
    )
    .await;
    // Nothing was created by any of it.
    let (_, list) = get(&app, "/admin/v1/clients?kind=static", BOOT).await;
    let ids: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].clone())
        .collect();
    assert_eq!(ids, [json!("from-file")]);
}

async fn admin_patches_redirect_uris_and_upstream_by_who_manages_the_client(db: Db) {
    let second = |c: &mut dcr_bridge::config::Config| {
        let mut second = c.upstreams[0].clone();
        second.id = "second".into();
        c.upstreams.push(second);
    };
    let Some(app) =
        app_with_file_client(db, "from-file", "http://127.0.0.1/callback", second).await
    else {
        return;
    };
    create_api_made(&app).await;
    let path = "/admin/v1/clients/api-made";
    let patch = |body: Value| call(&app, Method::PATCH, path, Some(BOOT), Some(body));
    // Redirect URIs of an API-made static client: checked like a registration's; its type
    // follows them.
    let (s, _, b) = patch(json!({ "redirect_uris": ["https://app.example.com/cb"] })).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["redirect_uris"], json!(["https://app.example.com/cb"]));
    assert_eq!(b["application_type"], "web");
    for bad in [
        json!({ "redirect_uris": ["javascript:alert(1)"] }),
        json!({ "redirect_uris": [] }),
        json!({ "redirect_uris": ["https://app.example.com/cb#frag"] }),
        json!({ "upstream_id": "nowhere" }),
        json!({ "upstream_id": 7 }),
    ] {
        expect_problem_with(&app, Method::PATCH, path, bad, 400, "invalid_request").await;
    }
    // The upstream binding, to a configured upstream.
    let (s, _, b) = patch(json!({ "upstream_id": "second", "client_name": "API made" })).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (&b["upstream_id"], &b["client_name"]),
        (&json!("second"), &json!("API made"))
    );
    let updated = crate::admin::audit_events(&app)
        .await
        .into_iter()
        .find(|e| e.kind == "admin_client_updated")
        .unwrap();
    assert!(updated.detail.unwrap().contains("upstream_id"));
    // A [[clients]] entry: only disabled; a DCR client: name, URIs and upstream too.
    expect_problem_with(
        &app,
        Method::PATCH,
        "/admin/v1/clients/from-file",
        json!({ "upstream_id": "second" }),
        409,
        "conflict",
    )
    .await;
    let (dcr, _) = app.public_client().await;
    let (s, _, b) = call(
        &app,
        Method::PATCH,
        &format!("/admin/v1/clients/{dcr}"),
        Some(BOOT),
        Some(json!({ "upstream_id": "second" })),
    )
    .await;
    assert_eq!((s, &b["upstream_id"]), (200, &json!("second")), "{b}");
    // Unknown client, read-only token.
    expect_problem_with(
        &app,
        Method::PATCH,
        "/admin/v1/clients/nobody",
        json!({ "upstream_id": "second" }),
        404,
        "not_found",
    )
    .await;
    let (reader, _) = create_token(&app, "reader", true).await;
    let (s, h, b) = call(
        &app,
        Method::PATCH,
        path,
        Some(&reader),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_problem(s, &h, &b, 403, "forbidden");
}

async fn admin_client_shows_last_use_and_last_error(db: Db) {
    let Some(app) = admin_app(db).await else {
        return;
    };
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let path = format!("/admin/v1/clients/{client_id}");
    let (_, b) = get(&app, &path, BOOT).await;
    assert_eq!(b["last_used_at"], app.state.core.now(), "{b}");
    assert!(b.get("last_error").is_none(), "{b}");
    // A refused refresh: the client's last error, with the reason and time.
    app.clock.advance(5);
    let res = app.refresh("dcrb_rt_not-a-token", &client_id).await;
    assert_eq!(res.status(), 400);
    let (_, b) = get(&app, &path, BOOT).await;
    let reason = b["last_error"]["reason"].as_str().unwrap();
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert_eq!(b["last_error"]["at"], app.state.core.now());
    // The same reason again within the minute: not rewritten; a minute later: rewritten.
    app.clock.advance(10);
    app.refresh("dcrb_rt_not-a-token", &client_id).await;
    let (_, again) = get(&app, &path, BOOT).await;
    assert_eq!(again["last_error"], b["last_error"]);
    app.clock.advance(60);
    app.refresh("dcrb_rt_not-a-token", &client_id).await;
    let (_, later) = get(&app, &path, BOOT).await;
    assert_eq!(later["last_error"]["at"], app.state.core.now());
    // A successful refresh moves last use, and a use within the minute after it does not.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let res = app.refresh(refresh, &client_id).await;
    assert_eq!(res.status(), 200);
    let used = app.state.core.now();
    let (_, b) = get(&app, &path, BOOT).await;
    assert_eq!(b["last_used_at"], used);
}

async fn static_client_removed_from_config_is_disabled_with_its_grants_revoked(db: Db) {
    let Some(app) =
        app_with_file_client(db, "leaving", "http://127.0.0.1:33418/callback", |_| {}).await
    else {
        return;
    };
    create_api_made(&app).await;
    // The configured client gets a grant.
    let (verifier, challenge) = crate::support::app::pkce();
    let redirect = "http://127.0.0.1:33418/callback";
    let resource = app.resource();
    let params = TestApp::auth_params("leaving", redirect, &challenge, &resource);
    let back = app.login(&params, "dev-alice").await;
    let code = crate::support::app::query_param(&back, "code").unwrap();
    let mut form = crate::support::app::code_form(&code, redirect, &verifier, "leaving");
    form.push(("resource", &resource));
    let res = app.token(&form).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();

    // The next start has no [[clients]] entry for it.
    let core = &app.state.core;
    let sync = |now| {
        dcr_bridge::oauth::static_clients::sync(core.store.as_ref(), &[], &core.settings, now)
    };
    sync(core.now() + 10).await.unwrap();
    let (_, b) = get(&app, "/admin/v1/clients/leaving", BOOT).await;
    assert_eq!(
        (&b["disabled"], &b["managed_by"]),
        (&json!(true), &json!("config")),
        "{b}"
    );
    let (_, grants) = get(&app, "/admin/v1/grants?client_id=leaving", BOOT).await;
    assert!(grants["items"][0]["revoked_at"].is_i64(), "{grants}");
    let res = app
        .refresh(tokens["refresh_token"].as_str().unwrap(), "leaving")
        .await;
    assert_ne!(res.status(), 200);
    // The API-made static client is untouched.
    let (_, b) = get(&app, "/admin/v1/clients/api-made", BOOT).await;
    assert_eq!(b["disabled"], false, "{b}");
    // Audited once; a second start changes nothing and audits nothing.
    let removed = |events: &[dcr_bridge::store::AuditEvent]| {
        events
            .iter()
            .filter(|e| e.kind == "static_client_removed")
            .count()
    };
    let events = crate::admin::audit_events(&app).await;
    assert_eq!(removed(&events), 1);
    let revoked = events
        .iter()
        .find(|e| e.kind == "revoked" && e.client_id.as_deref() == Some("leaving"))
        .unwrap();
    assert!(revoked.user_id.is_some(), "{revoked:?}");
    sync(core.now() + 20).await.unwrap();
    assert_eq!(removed(&crate::admin::audit_events(&app).await), 1);
}
