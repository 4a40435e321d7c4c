//! Clients pre-registered in `[[clients]]` (COMPAT C13), and the IdP's own client_id presented
//! by a misconfigured MCP client.

use dcr_bridge::config::StaticClientConfig;
use secrecy::SecretString;

use crate::support::app::{pkce, query_param, Db, TestApp};

fn static_clients() -> Vec<StaticClientConfig> {
    vec![
        StaticClientConfig {
            client_id: "vscode-static".into(),
            client_name: Some("VS Code (pre-registered)".into()),
            redirect_uris: vec![
                "http://127.0.0.1/callback".into(),
                "vscode://vscode.github-authentication/did-authenticate".into(),
            ],
            token_endpoint_auth_method: "none".into(),
            client_secret: None,
            client_secret_file: None,
            upstream: None,
        },
        StaticClientConfig {
            client_id: "internal-portal".into(),
            client_name: Some("Internal portal".into()),
            redirect_uris: vec!["https://portal.example.com/oauth/callback".into()],
            token_endpoint_auth_method: "client_secret_basic".into(),
            client_secret: Some(SecretString::from("portal-secret".to_owned())),
            client_secret_file: None,
            upstream: None,
        },
    ]
}

async fn app() -> TestApp {
    TestApp::start_with(Db::Sqlite, |c| c.clients = static_clients())
        .await
        .unwrap()
}

#[tokio::test]
async fn public_static_client_signs_in_with_its_fixed_id_on_any_loopback_port() {
    let app = app().await;
    let (verifier, challenge) = pkce();
    let resource = app.resource();
    let redirect = "http://127.0.0.1:45123/callback";
    let html = app
        .authorize(&TestApp::auth_params(
            "vscode-static",
            redirect,
            &challenge,
            &resource,
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("VS Code (pre-registered)"));
    assert!(
        !html.contains("not verified"),
        "admin-registered names are not marked unverified"
    );
    let back = app
        .login(
            &TestApp::auth_params("vscode-static", redirect, &challenge, &resource),
            "dev-alice",
        )
        .await;
    let code = query_param(&back, "code").unwrap();
    let res = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
            ("client_id", "vscode-static"),
        ])
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn confidential_static_client_authenticates_with_its_configured_secret() {
    let app = app().await;
    let (verifier, challenge) = pkce();
    let resource = app.resource();
    let redirect = "https://portal.example.com/oauth/callback";
    let back = app
        .login(
            &TestApp::auth_params("internal-portal", redirect, &challenge, &resource),
            "dev-bob",
        )
        .await;
    let code = query_param(&back, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
    ];
    let res = app
        .api
        .post(app.url("/token"))
        .basic_auth("internal-portal", Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .api
        .post(app.url("/token"))
        .basic_auth("internal-portal", Some("portal-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Static clients are managed by the file, not RFC 7592.
    let res = app
        .api
        .get(app.url("/register/internal-portal"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_upstream_client_id_gets_an_explanation() {
    let app = app().await;
    let (_, challenge) = pkce();
    let resource = app.resource();
    let res = app
        .authorize(&TestApp::auth_params(
            "bridge-client",
            "http://127.0.0.1:1234/cb",
            &challenge,
            &resource,
        ))
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("identity provider"), "{html}");
}

#[tokio::test]
async fn sync_updates_changed_clients_and_refuses_to_take_over_dynamic_ones() {
    let app = app().await;
    let settings = app.state.core.settings.clone();
    let store = app.state.core.store.clone();
    let mut changed = static_clients();
    changed[0].redirect_uris = vec!["http://localhost/cb".into()];
    dcr_bridge::oauth::static_clients::sync(store.as_ref(), &changed, &settings, 1)
        .await
        .unwrap();
    let c = store.get_client("vscode-static").await.unwrap().unwrap();
    assert_eq!(c.redirect_uris, vec!["http://localhost/cb"]);
    let (dynamic_id, _) = app.public_client().await;
    changed[0].client_id = dynamic_id;
    assert!(
        dcr_bridge::oauth::static_clients::sync(store.as_ref(), &changed, &settings, 1)
            .await
            .is_err()
    );
    let bad = vec![StaticClientConfig {
        redirect_uris: vec!["javascript:alert(1)".into()],
        ..static_clients().remove(0)
    }];
    assert!(
        dcr_bridge::oauth::static_clients::sync(store.as_ref(), &bad, &settings, 1)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn config_rejects_inconsistent_static_clients() {
    let app = app().await;
    let mut config = (*app.state.config).clone();
    config.clients = static_clients();
    config.clients[0].client_secret = Some(SecretString::from("x".to_owned()));
    assert!(config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("clients[0].client_secret"));
    config.clients = static_clients();
    config.clients[1].client_secret = None;
    assert!(config.validate().is_err());
    config.clients = static_clients();
    config.clients[0].client_id = "bridge-client".into();
    assert!(config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("upstream"));
}

/// Issue 11, finding 8 (client side): an administrator-chosen secret from
/// `openssl rand -base64 32` works in plain RFC 7617 Basic (raw `+`, `/`, `=`) and
/// form-encoded; before, the raw form was form-decoded (`+` to space) and refused.
#[tokio::test]
async fn static_client_secret_with_base64_characters_works_raw_in_basic() {
    const SECRET: &str = "Zq+8/Lm0Pw3+xY7/vB2nKc9dR4tE1sU6hJ5oA0iF=";
    let app = TestApp::start_with(Db::Sqlite, |c| {
        c.clients = vec![StaticClientConfig {
            client_id: "ops-portal".into(),
            client_name: None,
            redirect_uris: vec!["https://ops.example.com/cb".into()],
            token_endpoint_auth_method: "client_secret_basic".into(),
            client_secret: Some(SecretString::from(SECRET.to_owned())),
            client_secret_file: None,
            upstream: None,
        }];
    })
    .await
    .unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    for secret in [SECRET, encoded.as_str(), "wrong"] {
        let res = app
            .api
            .post(app.url("/introspect"))
            .basic_auth("ops-portal", Some(secret))
            .form(&[("token", "dcrb_rt_unknown")])
            .send()
            .await
            .unwrap();
        let want = if secret == "wrong" { 401 } else { 200 };
        assert_eq!(res.status(), want, "{secret}");
    }
}
