//! Where and how the admin API is served: `admin_listen`, and a static client an admin
//! disabled staying disabled across a restart.

use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;

use crate::admin::{call, expect_problem_with, get, BOOT};
use crate::admin_pages::walk;
use crate::support::app::{BothListeners, Db, TestApp};

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
    let both = BothListeners::start(app.state.clone()).await;
    let (admin_base, public_base) = (&both.admin_base, &both.public_base);
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
    both.stop().await;
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
            jwks: None,
            service_account: None,
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
