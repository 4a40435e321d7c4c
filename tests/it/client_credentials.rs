//! Machine clients (the MCP client-credentials extension, issue 13 item 7): a `[[clients]]`
//! service account gets a token for itself with `grant_type=client_credentials`, authenticated
//! by its secret or by a `private_key_jwt` assertion (RFC 7523 §2.2) signed with a real RSA key.
//! The token (no user, `sub` = client id, `client_kind: service`) passes the gateway and
//! introspection and is audited; everything else (wrong secret, a client that is no service
//! account, resources and scopes it may not have, replayed, expired, foreign, unsigned and
//! wrongly signed assertions, malformed input) is refused with the RFC error. SQLite and Postgres.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dcr_bridge::config::{ResourceConfig, ServiceAccountConfig, StaticClientConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::admin::{get, on_both_databases, BOOT};
use crate::support::app::{jwt_claims, status_json, Db, TestApp};

on_both_databases!(
    secret_service_account_token_passes_gateway_and_introspection,
    private_key_jwt_service_account_and_assertion_replay,
    bad_assertions_are_refused,
    service_account_limits_and_bad_requests,
);

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A real RSA key pair: the signing key and its public JWK (with `kid`).
pub(crate) struct ClientKey {
    signing: EncodingKey,
    kid: String,
    pub(crate) jwk: Value,
}

impl ClientKey {
    pub(crate) fn new(kid: &str) -> Self {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let pem = private.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let public = private.to_public_key();
        Self {
            signing: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            kid: kid.to_owned(),
            jwk: json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            }),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_typed(None, claims)
    }

    /// Signs `claims` RS256 with this key's `kid` and the JOSE `typ` given.
    pub(crate) fn sign_typed(&self, typ: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.signing).unwrap()
    }
}

/// `ci-bot` (secret, tools only, mcp:read), `deployer` (private_key_jwt with `key`, both
/// resources, every scope), `portal` (a confidential client that is no service account), and a
/// second resource `other` at `/other`.
async fn app(db: Db, key: &ClientKey) -> Option<TestApp> {
    let jwks = json!({ "keys": [key.jwk] }).to_string();
    TestApp::start_with(db, |c| {
        c.admin_token = Some(SecretString::from(BOOT.to_owned()));
        let mut other: ResourceConfig = c.resources[0].clone();
        other.id = "other".into();
        other.path = "/other".into();
        other.scopes = vec!["other:read".into()];
        other.upstream_url = None;
        other.introspection_secret = None;
        other.identity_headers = Default::default();
        c.resources.push(other);
        let client = |id: &str, method: &str| StaticClientConfig {
            client_id: id.into(),
            client_name: Some(format!("{id} (machine)")),
            redirect_uris: Vec::new(),
            token_endpoint_auth_method: method.into(),
            client_secret: None,
            client_secret_file: None,
            upstream: None,
            jwks: None,
            service_account: None,
        };
        c.clients = vec![
            StaticClientConfig {
                client_secret: Some(SecretString::from("bot-secret".to_owned())),
                service_account: Some(ServiceAccountConfig {
                    resources: vec!["tools".into()],
                    scopes: vec!["mcp:read".into()],
                }),
                ..client("ci-bot", "client_secret_post")
            },
            StaticClientConfig {
                jwks: Some(jwks),
                service_account: Some(ServiceAccountConfig {
                    resources: vec!["tools".into(), "other".into()],
                    scopes: Vec::new(),
                }),
                ..client("deployer", "private_key_jwt")
            },
            StaticClientConfig {
                client_secret: Some(SecretString::from("portal-secret".to_owned())),
                redirect_uris: vec!["https://portal.example.com/cb".into()],
                ..client("portal", "client_secret_basic")
            },
        ];
    })
    .await
}

/// Claims of a good assertion by `deployer` for our token endpoint, valid for a minute.
fn assertion_claims(app: &TestApp, jti: &str) -> Value {
    let now = app.state.core.now();
    json!({
        "iss": "deployer", "sub": "deployer", "aud": app.url("/token"),
        "iat": now, "exp": now + 60, "jti": jti,
    })
}

async fn with_assertion(app: &TestApp, assertion: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    status_json(app.token(&form).await).await
}

async fn bot_token(app: &TestApp, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", "ci-bot"),
        ("client_secret", "bot-secret"),
    ];
    form.extend_from_slice(extra);
    status_json(app.token(&form).await).await
}

async fn secret_service_account_token_passes_gateway_and_introspection(db: Db) {
    let key = ClientKey::new("k1");
    let Some(app) = app(db, &key).await else {
        return;
    };
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("client_credentials")));
    assert!(meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
    assert!(meta["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("RS256")));

    // The only resource it may use is the default; its scope list is the default scope.
    let (status, body) = bot_token(&app, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "mcp:read");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let at = body["access_token"].as_str().unwrap().to_owned();
    let claims = jwt_claims(&at);
    assert_eq!(claims["sub"], "ci-bot");
    assert_eq!(claims["client_id"], "ci-bot");
    assert_eq!(claims["client_kind"], "service");
    assert_eq!(claims["aud"], app.resource());

    let seen = app.introspect(&at).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["client_kind"], "service");
    assert_eq!(seen["sub"], "ci-bot");
    assert!(seen.get("username").is_none(), "{seen}");

    // Through the gateway: the demo MCP server learns from the identity headers that a
    // service, not a user, is calling.
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
        who.contains("ci-bot") && who.contains("service"),
        "{answer}"
    );

    // Audited, with the grant type, in the same store as the token.
    let events = app.state.core.store.list_audit_events(50).await.unwrap();
    let issued = events
        .iter()
        .find(|e| e.kind == "token_issued" && e.client_id.as_deref() == Some("ci-bot"))
        .expect("token_issued event");
    let detail: Value = serde_json::from_str(issued.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["grant_type"], "client_credentials");
    assert_eq!(detail["jti"], claims["jti"]);
    assert!(issued.grant_id.is_some());

    // The admin API shows the flag; a user-facing client has it off.
    let (s, view) = get(&app, "/admin/v1/clients/ci-bot", BOOT).await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["service_account"], true);
    assert_eq!(view["grant_types"], json!(["client_credentials"]));
    let (_, view) = get(&app, "/admin/v1/clients/portal", BOOT).await;
    assert_eq!(view["service_account"], false);

    // The client revokes its token (RFC 7009) with its secret: introspection and the gateway
    // stop accepting it.
    let res = app
        .post_form(
            "/revoke",
            &[
                ("token", &at),
                ("client_id", "ci-bot"),
                ("client_secret", "bot-secret"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.introspect(&at).await, json!({"active": false}));
}

async fn private_key_jwt_service_account_and_assertion_replay(db: Db) {
    let key = ClientKey::new("k1");
    let Some(app) = app(db, &key).await else {
        return;
    };
    let other = app.url("/other");
    let assertion = key.sign(&assertion_claims(&app, "jti-1"));
    // No client_id in the body (RFC 7523 §3: the assertion's sub names the client).
    let (status, body) = with_assertion(&app, &assertion, &[("resource", &other)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "other:read");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], other);
    assert_eq!(claims["sub"], "deployer");

    // The same assertion again: its jti is spent.
    let (status, body) = with_assertion(&app, &assertion, &[("resource", &other)]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("replayed"),
        "{body}"
    );

    // The issuer as audience is accepted too (RFC 7523 §3 item 3), with client_id repeated in
    // the body, and a narrower scope.
    let mut c = assertion_claims(&app, "jti-2");
    c["aud"] = json!(app.base);
    let (status, body) = with_assertion(
        &app,
        &key.sign(&c),
        &[
            ("client_id", "deployer"),
            ("resource", &app.resource()),
            ("scope", "mcp:write"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "mcp:write");
    // Several resources and no `resource`: it must say which.
    let (status, body) =
        with_assertion(&app, &key.sign(&assertion_claims(&app, "jti-3")), &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "{body}"
    );
}

async fn bad_assertions_are_refused(db: Db) {
    let key = ClientKey::new("k1");
    let Some(app) = app(db, &key).await else {
        return;
    };
    let now = app.state.core.now();
    let resource = app.resource();
    let refused = |what: &'static str, status: u16, body: Value, error: &str| {
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some(error)),
            "{what}: {body}"
        );
    };
    let mut expired = assertion_claims(&app, "e1");
    expired["exp"] = json!(now - 120);
    expired["iat"] = json!(now - 180);
    let (s, b) = with_assertion(&app, &key.sign(&expired), &[]).await;
    refused("expired", s, b, "invalid_client");

    let mut foreign = assertion_claims(&app, "e2");
    foreign["aud"] = json!("https://other-as.example.com/token");
    let (s, b) = with_assertion(&app, &key.sign(&foreign), &[]).await;
    refused("foreign aud", s, b, "invalid_client");

    let mut far = assertion_claims(&app, "e3");
    far["exp"] = json!(now + 86_400);
    let (s, b) = with_assertion(&app, &key.sign(&far), &[]).await;
    refused("exp a day away", s, b, "invalid_client");

    let mut no_jti = assertion_claims(&app, "e4");
    no_jti.as_object_mut().unwrap().remove("jti");
    let (s, b) = with_assertion(&app, &key.sign(&no_jti), &[]).await;
    refused("no jti", s, b, "invalid_client");

    let mut other_iss = assertion_claims(&app, "e5");
    other_iss["iss"] = json!("ci-bot");
    let (s, b) = with_assertion(&app, &key.sign(&other_iss), &[]).await;
    refused("iss is not sub", s, b, "invalid_client");

    // Signed by a key the client never registered (same kid).
    let stranger = ClientKey::new("k1");
    let (s, b) = with_assertion(&app, &stranger.sign(&assertion_claims(&app, "e6")), &[]).await;
    refused("wrong key", s, b, "invalid_client");

    // `alg: none`, no signature.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(assertion_claims(&app, "e7").to_string())
    );
    let (s, b) = with_assertion(&app, &unsigned, &[]).await;
    refused("alg none", s, b, "invalid_client");

    // HS256 keyed with the public modulus (the classic algorithm confusion).
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &assertion_claims(&app, "e8"),
        &EncodingKey::from_secret(key.jwk["n"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    let (s, b) = with_assertion(&app, &hs, &[]).await;
    refused("HS256", s, b, "invalid_client");

    // An assertion claiming to be the secret client: ci-bot does not use private_key_jwt.
    let mut bot = assertion_claims(&app, "e9");
    bot["iss"] = json!("ci-bot");
    bot["sub"] = json!("ci-bot");
    let (s, b) = with_assertion(&app, &key.sign(&bot), &[]).await;
    refused("another client's method", s, b, "invalid_client");

    for garbage in ["not-a-jwt", "a.b.c", "....", &"x".repeat(20_000)] {
        let (s, b) = with_assertion(&app, garbage, &[]).await;
        assert!(matches!(s, 400 | 401), "{garbage:.20}: {s} {b}");
        assert!(b["error"].is_string(), "{b}");
    }
    // The body's client_id must be the assertion's sub.
    let good = key.sign(&assertion_claims(&app, "e10"));
    let (s, b) = with_assertion(&app, &good, &[("client_id", "ci-bot")]).await;
    refused("client_id differs", s, b, "invalid_client");
    // One method only; both parameters; the jwt-bearer type only.
    let (s, b) = with_assertion(&app, &good, &[("client_secret", "x")]).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_request")),
        "{b}"
    );
    let (s, b) = status_json(
        app.token(&[
            ("grant_type", "client_credentials"),
            ("client_assertion", &good),
        ])
        .await,
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_request")),
        "{b}"
    );
    let (s, b) = status_json(
        app.token(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", &good),
        ])
        .await,
    )
    .await;
    refused("saml2 type", s, b, "invalid_client");
    // The refusals above never reached verification, so the good assertion's jti is unspent.
    let (s, b) = with_assertion(&app, &good, &[("resource", &resource)]).await;
    assert_eq!(s, 200, "{b}");
    // Private key JWT is for the token endpoint only.
    let res = app
        .post_form(
            "/introspect",
            &[
                ("token", b["access_token"].as_str().unwrap()),
                ("client_assertion_type", ASSERTION_TYPE),
                (
                    "client_assertion",
                    &key.sign(&assertion_claims(&app, "e11")),
                ),
            ],
        )
        .await;
    assert_eq!(res.status(), 401);
}

async fn service_account_limits_and_bad_requests(db: Db) {
    let key = ClientKey::new("k1");
    let Some(app) = app(db, &key).await else {
        return;
    };
    let resource = app.resource();
    let other = app.url("/other");
    let expect = |what: &str, got: (u16, Value), status: u16, error: &str| {
        assert_eq!(
            (got.0, got.1["error"].as_str()),
            (status, Some(error)),
            "{what}: {}",
            got.1
        );
    };
    let wrong = status_json(
        app.token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ci-bot"),
            ("client_secret", "wrong"),
        ])
        .await,
    )
    .await;
    expect("wrong secret", wrong, 401, "invalid_client");
    let basic = app
        .api
        .post(app.url("/token"))
        .basic_auth("portal", Some("portal-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    expect(
        "no service account",
        status_json(basic).await,
        400,
        "unauthorized_client",
    );
    let (public_id, _) = app.public_client().await;
    let public = status_json(
        app.token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &public_id),
        ])
        .await,
    )
    .await;
    expect("public dynamic client", public, 400, "unauthorized_client");
    expect(
        "resource not allowed",
        bot_token(&app, &[("resource", &other)]).await,
        400,
        "invalid_target",
    );
    expect(
        "unknown resource",
        bot_token(&app, &[("resource", "https://elsewhere.example.com/mcp")]).await,
        400,
        "invalid_target",
    );
    expect(
        "scope beyond its list",
        bot_token(
            &app,
            &[("resource", &resource), ("scope", "mcp:read mcp:write")],
        )
        .await,
        400,
        "invalid_scope",
    );
    expect(
        "no refresh tokens",
        bot_token(&app, &[("scope", "offline_access")]).await,
        400,
        "invalid_scope",
    );
    expect(
        "scope garbage",
        bot_token(&app, &[("scope", "mcp:read\u{0}\"")]).await,
        400,
        "invalid_scope",
    );
    let twice = status_json(
        app.token(&[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
            ("client_id", "ci-bot"),
            ("client_secret", "bot-secret"),
        ])
        .await,
    )
    .await;
    expect("grant_type twice", twice, 400, "invalid_request");
    let huge = "mcp:read ".repeat(20_000);
    let res = bot_token(&app, &[("scope", &huge)]).await;
    assert!(matches!(res.0, 400 | 413), "oversized: {} {}", res.0, res.1);
    // A service account cannot sign anyone in nor refresh.
    let refresh = status_json(
        app.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "dcrb_rt_nothing"),
            ("client_id", "ci-bot"),
            ("client_secret", "bot-secret"),
        ])
        .await,
    )
    .await;
    expect("refresh", refresh, 400, "unauthorized_client");
    let res = app
        .authorize(&TestApp::auth_params(
            "ci-bot",
            "https://portal.example.com/cb",
            "x".repeat(43).as_str(),
            &resource,
        ))
        .await;
    assert_eq!(res.status(), 400, "a service account has no redirect URI");
    // Still works after all that.
    assert_eq!(bot_token(&app, &[]).await.0, 200);
}
