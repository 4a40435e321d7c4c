//! Clients pre-registered in `[[clients]]` (COMPAT C13), and the IdP's own client_id presented
//! by a misconfigured MCP client.

use dcr_bridge::config::{AccessPolicy, ResourceConfig, StaticClientConfig, UpstreamConfig};
use secrecy::SecretString;

use crate::support::app::{location, pkce, query_param, Db, TestApp};

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
            jwks: None,
            service_account: None,
        },
        StaticClientConfig {
            client_id: "internal-portal".into(),
            client_name: Some("Internal portal".into()),
            redirect_uris: vec!["https://portal.example.com/oauth/callback".into()],
            token_endpoint_auth_method: "client_secret_basic".into(),
            client_secret: Some(SecretString::from("portal-secret".to_owned())),
            client_secret_file: None,
            upstream: None,
            jwks: None,
            service_account: None,
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

/// Issue 11 finding 1, the decision for static clients: their redirect URIs were vetted by an
/// administrator, so errors found before consent keep the RFC 6749 §4.1.2.1 redirect.
#[tokio::test]
async fn static_client_errors_before_consent_are_still_redirected() {
    let app = app().await;
    let (_, challenge) = pkce();
    let resource = app.resource();
    let redirect = "https://portal.example.com/oauth/callback";
    let mut params = TestApp::auth_params("internal-portal", redirect, &challenge, &resource);
    params.retain(|(k, _)| *k != "response_type");
    params.push(("response_type", "x"));
    let res = app.authorize(&params).await;
    assert_eq!(res.status(), 302);
    let to = location(&res);
    assert!(to.starts_with(redirect), "{to}");
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(
        query_param(&to, "state").as_deref(),
        Some("client-state-123")
    );
}

/// Two upstreams on the development IdP: `corp` (open) and `strict`, whose policy admits
/// nobody; resource `tools` (/mcp) signs in at corp and `hr` (/hr) at strict. Client
/// `corp-portal` is bound to corp (by default), `hr-portal` to strict.
async fn two_upstreams_app() -> TestApp {
    TestApp::start_with(Db::Sqlite, |c| {
        let strict = UpstreamConfig {
            id: "strict".into(),
            policy: AccessPolicy {
                allowed_groups: vec!["no-such-group".into()],
                ..AccessPolicy::default()
            },
            ..c.upstreams[0].clone()
        };
        c.upstreams.push(strict);
        let hr = ResourceConfig {
            id: "hr".into(),
            path: "/hr".into(),
            upstream: Some("strict".into()),
            ..c.resources[0].clone()
        };
        c.resources.push(hr);
        let portal = |id: &str, upstream: Option<&str>| StaticClientConfig {
            client_id: id.into(),
            client_name: Some(id.into()),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            token_endpoint_auth_method: "none".into(),
            client_secret: None,
            client_secret_file: None,
            upstream: upstream.map(str::to_owned),
            jwks: None,
            service_account: None,
        };
        c.clients = vec![
            portal("corp-portal", None),
            portal("hr-portal", Some("strict")),
        ];
    })
    .await
    .unwrap()
}

/// Issue 11 finding 4: `[[clients]].upstream` used to be ignored, the sign-in always going to the
/// resource's upstream. Now a static client reaches only resources of its own upstream, and the
/// sign-in goes there, under that upstream's policy: no client choice bypasses a policy.
#[tokio::test]
async fn a_static_clients_upstream_binds_it_and_never_bypasses_a_policy() {
    let app = two_upstreams_app().await;
    let (_, challenge) = pkce();
    let hr = app.url("/hr");
    let redirect = "http://127.0.0.1:45123/callback";
    let last_login_failure = || async {
        let events = app.state.core.store.list_audit_events(50).await.unwrap();
        events
            .into_iter()
            .find(|e| e.kind == "login_failed")
            .and_then(|e| e.detail)
            .unwrap_or_default()
    };

    // A client bound to corp asking for strict's resource is refused before anything happens.
    let res = app
        .authorize(&TestApp::auth_params(
            "corp-portal",
            redirect,
            &challenge,
            &hr,
        ))
        .await;
    assert_eq!(res.status(), 302);
    let to = location(&res);
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("invalid_target"),
        "{to}"
    );

    // The client bound to strict signs in at strict, and strict's policy refuses alice.
    let params = TestApp::auth_params("hr-portal", redirect, &challenge, &hr);
    let html = app.authorize(&params).await.text().await.unwrap();
    let upstream = location(&app.decide(&html, "approve").await);
    let callback = app.upstream_login(&upstream, "dev-alice").await;
    let res = app.browse(&callback).await;
    assert_eq!(res.status(), 400);
    let failure = last_login_failure().await;
    assert!(
        failure.contains("policy_groups") && failure.contains("strict"),
        "{failure}"
    );

    // A dynamic client (recorded with the default upstream, corp) gets the same policy for hr.
    let (dynamic, dynamic_redirect) = app.public_client().await;
    let params = TestApp::auth_params(&dynamic, &dynamic_redirect, &challenge, &hr);
    let html = app.authorize(&params).await.text().await.unwrap();
    let upstream = location(&app.decide(&html, "approve").await);
    let callback = app.upstream_login(&upstream, "dev-alice").await;
    assert_eq!(app.browse(&callback).await.status(), 400);

    // corp's own resource still works for the corp client, signed in at corp.
    let tools = app.resource();
    let back = app
        .login(
            &TestApp::auth_params("corp-portal", redirect, &challenge, &tools),
            "dev-alice",
        )
        .await;
    assert!(query_param(&back, "code").is_some(), "{back}");
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
            jwks: None,
            service_account: None,
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
