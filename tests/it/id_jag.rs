//! Enterprise-Managed Authorization (issue 13 item 6; MCP extension
//! `io.modelcontextprotocol/enterprise-managed-authorization`): an Identity Assertion JWT
//! Authorization Grant (ID-JAG) signed with a real RSA key of a configured `[[enterprise_idps]]`
//! entry, exchanged at `/token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.
//! The token is for the ID-JAG's resource, with the intersection of requested and asserted
//! scopes, for the user keyed by (IdP issuer, sub); it passes introspection and the gateway.
//! Replayed, foreign, expired, unsigned, mistyped and misaddressed ID-JAGs are refused.
//! SQLite and Postgres.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dcr_bridge::config::{EnterpriseIdpConfig, StaticClientConfig};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::admin::on_both_databases;
use crate::client_credentials::ClientKey;
use crate::support::app::{jwt_claims, status_json, Db, TestApp};

on_both_databases!(id_jag_becomes_a_user_token, bad_id_jags_are_refused);

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const IDP: &str = "https://acme.idp.example";
const TYP: &str = "oauth-id-jag+jwt";

/// `chat-app` (allowed to present the IdP's grants) and `other-app` (not), both confidential
/// static clients; the IdP `acme` with `key`.
async fn app(db: Db, key: &ClientKey) -> Option<TestApp> {
    let jwks = json!({ "keys": [key.jwk] }).to_string();
    TestApp::start_with(db, |c| {
        let client = |id: &str| StaticClientConfig {
            client_id: id.into(),
            client_name: Some(id.into()),
            redirect_uris: vec![format!("https://{id}.example.com/cb")],
            token_endpoint_auth_method: "client_secret_post".into(),
            client_secret: Some(SecretString::from(format!("{id}-secret"))),
            client_secret_file: None,
            upstream: None,
            jwks: None,
            service_account: None,
        };
        c.clients = vec![client("chat-app"), client("other-app")];
        c.enterprise_idps = vec![EnterpriseIdpConfig {
            id: "acme".into(),
            issuer: IDP.into(),
            jwks,
            allowed_client_ids: vec!["chat-app".into()],
        }];
    })
    .await
}

/// A good ID-JAG for `chat-app` and our `/mcp`, valid for 5 minutes.
fn id_jag_claims(app: &TestApp, sub: &str, jti: &str) -> Value {
    let now = app.state.core.now();
    json!({
        "iss": IDP, "sub": sub, "email": format!("{sub}@acme.example"),
        "aud": format!("{}/", app.base), "resource": app.resource(),
        "client_id": "chat-app", "scope": "mcp:read mcp:write",
        "iat": now, "exp": now + 300, "jti": jti,
    })
}

async fn present(
    app: &TestApp,
    client: &str,
    assertion: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let secret = format!("{client}-secret");
    let mut form = vec![
        ("grant_type", GRANT),
        ("assertion", assertion),
        ("client_id", client),
        ("client_secret", secret.as_str()),
    ];
    form.extend_from_slice(extra);
    status_json(app.token(&form).await).await
}

async fn id_jag_becomes_a_user_token(db: Db) {
    let key = ClientKey::new("idp-1");
    let Some(app) = app(db, &key).await else {
        return;
    };
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        meta["authorization_grant_profiles_supported"],
        json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
    );
    assert!(meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(GRANT)));

    let jag = key.sign_typed(Some(TYP), &id_jag_claims(&app, "U0194", "jag-1"));
    let (status, body) = present(
        &app,
        "chat-app",
        &jag,
        &[("scope", "mcp:read offline_access")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Requested ∩ asserted: offline_access was not asserted.
    assert_eq!(body["scope"], "mcp:read");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let at = body["access_token"].as_str().unwrap().to_owned();
    let claims = jwt_claims(&at);
    assert_eq!(claims["aud"], app.resource());
    assert_eq!(claims["client_id"], "chat-app");
    assert!(claims.get("client_kind").is_none());
    let user_id = claims["sub"].as_str().unwrap().to_owned();
    assert_ne!(user_id, "U0194", "our own user id, not the IdP's subject");
    let user = app
        .state
        .core
        .store
        .get_user(&user_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (user.issuer.as_str(), user.subject.as_str()),
        (IDP, "U0194")
    );
    assert_eq!(user.upstream_id, "acme");

    let seen = app.introspect(&at).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["username"], "U0194@acme.example");

    let res = app
        .api
        .post(app.resource())
        .bearer_auth(&at)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    let who = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("");
    assert!(
        who.contains("U0194@acme.example") && who.contains(&user_id),
        "{answer}"
    );

    // No scope requested: every asserted scope the resource knows. Same person, same user.
    let jag = key.sign_typed(Some(TYP), &id_jag_claims(&app, "U0194", "jag-2"));
    let (status, body) = present(&app, "chat-app", &jag, &[("resource", &app.resource())]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "mcp:read mcp:write");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["sub"],
        user_id
    );

    let events = app.state.core.store.list_audit_events(50).await.unwrap();
    let issued = events
        .iter()
        .find(|e| e.kind == "token_issued" && e.client_id.as_deref() == Some("chat-app"))
        .expect("token_issued event");
    let detail: Value = serde_json::from_str(issued.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["grant_type"], "jwt-bearer");
    assert_eq!(detail["enterprise_idp"], "acme");
    assert_eq!(issued.user_id.as_deref(), Some(user_id.as_str()));
}

async fn bad_id_jags_are_refused(db: Db) {
    let key = ClientKey::new("idp-1");
    let Some(app) = app(db, &key).await else {
        return;
    };
    let now = app.state.core.now();
    let good = |jti: &str| id_jag_claims(&app, "U1", jti);
    let expect = |what: &str, got: (u16, Value), status: u16, error: &str| {
        assert_eq!(
            (got.0, got.1["error"].as_str()),
            (status, Some(error)),
            "{what}: {}",
            got.1
        );
    };

    let jag = key.sign_typed(Some(TYP), &good("r1"));
    assert_eq!(
        present(&app, "chat-app", &jag, &[]).await.0,
        200,
        "first use"
    );
    expect(
        "replay",
        present(&app, "chat-app", &jag, &[]).await,
        400,
        "invalid_grant",
    );

    let mut c = good("b1");
    c["iss"] = json!("https://evil.example");
    expect(
        "untrusted issuer",
        present(&app, "chat-app", &key.sign_typed(Some(TYP), &c), &[]).await,
        400,
        "invalid_grant",
    );
    let stranger = ClientKey::new("idp-1");
    expect(
        "wrong key",
        present(
            &app,
            "chat-app",
            &stranger.sign_typed(Some(TYP), &good("b2")),
            &[],
        )
        .await,
        400,
        "invalid_grant",
    );
    expect(
        "plain JWT typ",
        present(
            &app,
            "chat-app",
            &key.sign_typed(Some("JWT"), &good("b3")),
            &[],
        )
        .await,
        400,
        "invalid_grant",
    );
    let mut c = good("b4");
    c["aud"] = json!("https://other-as.example");
    expect(
        "foreign audience",
        present(&app, "chat-app", &key.sign_typed(Some(TYP), &c), &[]).await,
        400,
        "invalid_grant",
    );
    let mut c = good("b5");
    c["client_id"] = json!("other-app");
    expect(
        "issued for another client",
        present(&app, "chat-app", &key.sign_typed(Some(TYP), &c), &[]).await,
        400,
        "invalid_grant",
    );
    expect(
        "client the IdP is not allowed for",
        present(&app, "other-app", &key.sign_typed(Some(TYP), &c), &[]).await,
        400,
        "unauthorized_client",
    );
    let mut c = good("b6");
    c["exp"] = json!(now - 120);
    c["iat"] = json!(now - 400);
    expect(
        "expired",
        present(&app, "chat-app", &key.sign_typed(Some(TYP), &c), &[]).await,
        400,
        "invalid_grant",
    );
    let mut c = good("b7");
    c.as_object_mut().unwrap().remove("jti");
    expect(
        "no jti",
        present(&app, "chat-app", &key.sign_typed(Some(TYP), &c), &[]).await,
        400,
        "invalid_grant",
    );
    let mut c = good("b8");
    c["resource"] = json!("https://elsewhere.example/mcp");
    expect(
        "resource not ours",
        present(&app, "chat-app", &key.sign_typed(Some(TYP), &c), &[]).await,
        400,
        "invalid_target",
    );
    expect(
        "resource differs from the request's",
        present(
            &app,
            "chat-app",
            &key.sign_typed(Some(TYP), &good("b9")),
            &[("resource", "https://elsewhere.example/mcp")],
        )
        .await,
        400,
        "invalid_target",
    );
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"oauth-id-jag+jwt"}"#),
        URL_SAFE_NO_PAD.encode(good("b10").to_string())
    );
    expect(
        "alg none",
        present(&app, "chat-app", &unsigned, &[]).await,
        400,
        "invalid_grant",
    );
    for garbage in ["x", "a.b.c", &"y".repeat(20_000)] {
        expect(
            "garbage",
            present(&app, "chat-app", garbage, &[]).await,
            400,
            "invalid_grant",
        );
    }
    let missing = status_json(
        app.token(&[
            ("grant_type", GRANT),
            ("client_id", "chat-app"),
            ("client_secret", "chat-app-secret"),
        ])
        .await,
    )
    .await;
    expect("no assertion", missing, 400, "invalid_request");
    // Nothing requested that was asserted: an empty scope, never more.
    let (s, b) = present(
        &app,
        "chat-app",
        &key.sign_typed(Some(TYP), &good("b11")),
        &[("scope", "admin")],
    )
    .await;
    assert_eq!((s, b["scope"].as_str()), (200, Some("")), "{b}");
}
