#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Drives `OidcUpstream` against the dev IdP on 127.0.0.1:0.

use std::collections::BTreeMap;

use tokio::net::TcpListener;

use super::*;
use crate::clock::ManualClock;
use crate::config::UpstreamKind;
use crate::devidp::{self, DevIdpConfig, DevIdpHandle};
use crate::idp::new_pkce;

const CALLBACK: &str = "http://127.0.0.1:9/oauth/callback";
const SECRET: &str = "upstream-s3cret";

async fn dev_idp(issuer_path: &str) -> DevIdpHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}{issuer_path}", listener.local_addr().unwrap());
    let mut config = DevIdpConfig::new(issuer, "bridge", SECRET, vec![CALLBACK.to_owned()]);
    config.auto_login = true;
    devidp::spawn(listener, config).await.unwrap()
}

fn config(issuer: &str) -> UpstreamConfig {
    UpstreamConfig {
        id: "dev".to_owned(),
        kind: UpstreamKind::Oidc,
        issuer: Some(url::Url::parse(issuer).unwrap()),
        web_base: None,
        api_base: None,
        client_id: "bridge".to_owned(),
        client_secret: Some(SecretString::from(SECRET)),
        client_secret_file: None,
        scopes: ["openid", "email", "profile", "offline_access"]
            .map(str::to_owned)
            .to_vec(),
        client_auth: UpstreamClientAuth::ClientSecretBasic,
        extra_authorize_params: BTreeMap::from([("access_type".to_owned(), "offline".to_owned())]),
        discovery_ttl_seconds: 3600,
        timeout_seconds: 15,
        private_key_file: None,
        private_key_pem: None,
        certificate_thumbprint: None,
        graph_groups: false,
        graph_base: None,
        domains: Vec::new(),
        policy: Default::default(),
        refresh: Default::default(),
    }
}

fn real_now() -> i64 {
    crate::clock::SystemClock.now()
}

fn upstream_with(config: &UpstreamConfig) -> (OidcUpstream, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(real_now()));
    (
        OidcUpstream::new(config, CALLBACK, clock.clone()).unwrap(),
        clock,
    )
}

fn upstream(idp: &DevIdpHandle) -> (OidcUpstream, Arc<ManualClock>) {
    upstream_with(&config(&idp.issuer))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn request(nonce: &str) -> (UpstreamAuthRequest, String) {
    let (verifier, challenge) = new_pkce();
    let req = UpstreamAuthRequest {
        state: "state-1".to_owned(),
        nonce: nonce.to_owned(),
        pkce_challenge: challenge,
        force_login: false,
        login_hint: None,
    };
    (req, verifier)
}

/// Runs the browser leg headlessly; returns (code, verifier).
async fn authorize(up: &OidcUpstream, issuer: &str, nonce: &str) -> (String, String) {
    let (req, verifier) = request(nonce);
    let mut url = up.authorization_url(&req).await.unwrap();
    url.query_pairs_mut().append_pair("login_hint", "dev-alice");
    let resp = no_redirects().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(CALLBACK));
    let q: BTreeMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "state-1");
    assert_eq!(q["iss"], issuer);
    (q["code"].clone(), verifier)
}

async fn login(up: &OidcUpstream, idp: &DevIdpHandle) -> Result<UpstreamLogin, IdpError> {
    let (code, verifier) = authorize(up, &idp.issuer, "nonce-1").await;
    up.exchange_code(&code, &verifier, "nonce-1").await
}

#[tokio::test]
async fn check_reports_discovered_metadata() {
    let idp = dev_idp("").await;
    let (up, _) = upstream(&idp);
    let summary = up.check().await.unwrap();
    assert_eq!(summary["issuer"], idp.issuer.as_str());
    assert_eq!(summary["token_endpoint"], format!("{}/token", idp.issuer));
    assert_eq!(
        summary["id_token_signing_algs"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(summary["jwks_keys"], 1);
    assert_eq!(summary["warnings"], serde_json::json!([]));
    // Issue 11 #14: openidconnect drops this RFC 8414 field unless we keep it ourselves.
    assert_eq!(
        summary["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

/// Serves `doc` (with `issuer` and endpoints filled in) as a discovery document, plus a JWKS
/// with no keys. Returns the issuer.
async fn serve_discovery(mut doc: serde_json::Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    doc["issuer"] = base.clone().into();
    doc["authorization_endpoint"] = format!("{base}/authorize").into();
    doc["token_endpoint"] = format!("{base}/token").into();
    doc["jwks_uri"] = format!("{base}/jwks").into();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(doc) }),
        )
        .route(
            "/jwks",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"keys": []})) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn check_warns_when_pkce_methods_lack_s256() {
    let base_doc = serde_json::json!({
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let pkce_warning = "code_challenge_methods_supported does not list S256";
    let mut doc = base_doc.clone();
    doc["code_challenge_methods_supported"] = serde_json::json!(["plain"]);
    let (up, _) = upstream_with(&config(&serve_discovery(doc).await));
    let summary = up.check().await.unwrap();
    assert_eq!(
        summary["code_challenge_methods_supported"],
        serde_json::json!(["plain"])
    );
    assert!(
        summary["warnings"].to_string().contains(pkce_warning),
        "{summary}"
    );
    // Listing S256, or no list at all (Entra), is no warning.
    let mut doc = base_doc.clone();
    doc["code_challenge_methods_supported"] = serde_json::json!(["plain", "S256"]);
    let (up, _) = upstream_with(&config(&serve_discovery(doc).await));
    let summary = up.check().await.unwrap();
    assert!(
        !summary["warnings"].to_string().contains(pkce_warning),
        "{summary}"
    );
    let (up, _) = upstream_with(&config(&serve_discovery(base_doc).await));
    let summary = up.check().await.unwrap();
    assert_eq!(
        summary["code_challenge_methods_supported"],
        serde_json::Value::Null
    );
    assert!(
        !summary["warnings"].to_string().contains(pkce_warning),
        "{summary}"
    );
}

#[tokio::test]
async fn discovery_is_cached_and_shared_by_concurrent_callers() {
    let idp = dev_idp("").await;
    let (up, _) = upstream(&idp);
    let (a, b, c) = tokio::join!(up.check(), up.check(), up.check());
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    up.check().await.unwrap();
    assert_eq!(idp.discovery_requests(), 1);
}

#[tokio::test]
async fn authorization_url_carries_pkce_state_nonce_and_no_resource() {
    let idp = dev_idp("").await;
    let (up, _) = upstream(&idp);
    let (req, _) = request("nonce-1");
    let url = up.authorization_url(&req).await.unwrap();
    assert!(url
        .as_str()
        .starts_with(&format!("{}/authorize?", idp.issuer)));
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "bridge");
    assert_eq!(q["redirect_uri"], CALLBACK);
    assert_eq!(q["state"], "state-1");
    assert_eq!(q["nonce"], "nonce-1");
    assert_eq!(q["code_challenge"], req.pkce_challenge);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["scope"], "openid email profile offline_access");
    assert!(!q.contains_key("resource"));
    assert!(url.query_pairs().filter(|(k, _)| k == "scope").count() == 1);
}

#[tokio::test]
async fn prompt_login_from_the_client_joins_the_configured_prompt() {
    let idp = dev_idp("").await;
    let mut c = config(&idp.issuer);
    c.extra_authorize_params
        .insert("prompt".to_owned(), "consent".to_owned());
    let (up, _) = upstream_with(&c);
    let (mut req, _) = request("n");
    let prompts = |url: url::Url| -> Vec<String> {
        url.query_pairs()
            .filter(|(k, _)| k == "prompt")
            .map(|(_, v)| v.into_owned())
            .collect()
    };
    assert_eq!(
        prompts(up.authorization_url(&req).await.unwrap()),
        vec!["consent"]
    );
    req.force_login = true;
    assert_eq!(
        prompts(up.authorization_url(&req).await.unwrap()),
        vec!["consent login"]
    );
    let (plain, _) = upstream(&idp);
    assert_eq!(
        prompts(plain.authorization_url(&req).await.unwrap()),
        vec!["login"]
    );
}

#[tokio::test]
async fn reserved_extra_params_are_refused() {
    let mut c = config("https://idp.example.com");
    c.extra_authorize_params
        .insert("resource".to_owned(), "https://mcp.example.com".to_owned());
    let err = OidcUpstream::new(&c, CALLBACK, Arc::new(ManualClock::new(0))).unwrap_err();
    assert!(matches!(err, IdpError::Config(m) if m.contains("resource")));
}

#[tokio::test]
async fn code_exchange_verifies_the_id_token_and_returns_identity_and_tokens() {
    let idp = dev_idp("").await;
    let (up, clock) = upstream(&idp);
    let login = login(&up, &idp).await.unwrap();
    let who = &login.identity;
    assert_eq!(who.issuer, idp.issuer);
    assert_eq!(who.subject, "dev-alice");
    assert_eq!(who.email.as_deref(), Some("alice@example.com"));
    assert_eq!(who.email_verified, Some(true));
    assert_eq!(who.name.as_deref(), Some("Alice Example"));
    assert_eq!(who.groups, ["engineering"]);
    let t = &login.tokens;
    assert!(t.refresh_token.is_some() && t.id_token.is_some());
    assert_eq!(t.expires_at, Some(clock.now() + 3600));
    assert_eq!(
        t.scope.as_deref(),
        Some("openid email profile offline_access")
    );
}

#[tokio::test]
async fn client_secret_post_works() {
    let idp = dev_idp("").await;
    let mut c = config(&idp.issuer);
    c.client_auth = UpstreamClientAuth::ClientSecretPost;
    let (up, _) = upstream_with(&c);
    assert_eq!(
        login(&up, &idp).await.unwrap().identity.subject,
        "dev-alice"
    );
}

#[tokio::test]
async fn nonce_mismatch_is_rejected() {
    let idp = dev_idp("").await;
    let (up, _) = upstream(&idp);
    let (code, verifier) = authorize(&up, &idp.issuer, "nonce-1").await;
    let err = up
        .exchange_code(&code, &verifier, "other-nonce")
        .await
        .unwrap_err();
    assert!(matches!(err, IdpError::InvalidIdToken(_)), "{err:?}");
}

#[tokio::test]
async fn expired_id_token_is_rejected_by_our_clock() {
    let idp = dev_idp("").await;
    let (up, clock) = upstream(&idp);
    let (code, verifier) = authorize(&up, &idp.issuer, "nonce-1").await;
    clock.advance(2 * 3600);
    let err = up
        .exchange_code(&code, &verifier, "nonce-1")
        .await
        .unwrap_err();
    assert!(matches!(err, IdpError::InvalidIdToken(m) if m.contains("xpired")));
}

#[tokio::test]
async fn upstream_oauth_errors_become_rejected() {
    let idp = dev_idp("").await;
    let (up, _) = upstream(&idp);
    let (code, verifier) = authorize(&up, &idp.issuer, "nonce-1").await;
    let (_, wrong_verifier) = new_pkce();
    let err = up
        .exchange_code(&code, &wrong_verifier, "nonce-1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IdpError::Rejected { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
    // The failed attempt used the code up.
    let err = up
        .exchange_code(&code, &verifier, "nonce-1")
        .await
        .unwrap_err();
    assert!(matches!(&err, IdpError::Rejected { error, .. } if error == "invalid_grant"));

    let mut c = config(&idp.issuer);
    c.client_secret = Some(SecretString::from("bogus-secret-value"));
    let (bad, _) = upstream_with(&c);
    let err = login(&bad, &idp).await.unwrap_err();
    assert!(matches!(&err, IdpError::Rejected { error, .. } if error == "invalid_client"));
    assert!(!err.to_string().contains("bogus-secret-value"));
}

#[tokio::test]
async fn wrong_issuer_is_rejected_at_discovery() {
    let idp = dev_idp("").await;
    let doc: serde_json::Value = no_redirects()
        .get(format!("{}/.well-known/openid-configuration", idp.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The same document served from another address: its issuer no longer matches.
    let base = fake(200, doc).await;
    let (up, _) = upstream_with(&config(&base));
    let err = up.check().await.unwrap_err();
    assert!(
        matches!(&err, IdpError::Discovery(m) if m.contains("issuer")),
        "{err:?}"
    );
    let (req, _) = request("n");
    assert!(matches!(
        up.authorization_url(&req).await,
        Err(IdpError::Discovery(_))
    ));
}

#[tokio::test]
async fn issuers_with_trailing_slash_or_path_work() {
    for path in ["/", "/oauth2/default"] {
        let idp = dev_idp(path).await;
        let (up, _) = upstream(&idp);
        let login = login(&up, &idp).await.unwrap();
        assert_eq!(login.identity.issuer, idp.issuer);
    }
}

#[tokio::test]
async fn refresh_rotates_and_checks_the_subject() {
    let idp = dev_idp("").await;
    let (up, _) = upstream(&idp);
    let first = login(&up, &idp).await.unwrap().tokens;
    let old = first.refresh_token.unwrap().expose_secret().to_owned();
    let second = up.refresh(&old, "dev-alice").await.unwrap();
    let new = second.refresh_token.unwrap().expose_secret().to_owned();
    assert_ne!(new, old);
    assert!(second.id_token.is_some());
    // The dev IdP rotates: the old token is spent.
    let err = up.refresh(&old, "dev-alice").await.unwrap_err();
    assert!(matches!(&err, IdpError::Rejected { error, .. } if error == "invalid_grant"));
    let err = up.refresh(&new, "dev-bob").await.unwrap_err();
    assert_eq!(err, IdpError::OtherSubject);
}

#[tokio::test]
async fn unknown_kid_refetches_jwks_once_per_interval() {
    let idp = dev_idp("").await;
    let (up, clock) = upstream(&idp);
    login(&up, &idp).await.unwrap();
    idp.rotate_key().await.unwrap();
    login(&up, &idp).await.unwrap();
    assert_eq!(idp.discovery_requests(), 2);
    idp.rotate_key().await.unwrap();
    let err = login(&up, &idp).await.unwrap_err();
    assert!(matches!(err, IdpError::InvalidIdToken(m) if m.contains("rate-limited")));
    clock.advance(31);
    login(&up, &idp).await.unwrap();
    assert_eq!(idp.discovery_requests(), 3);
}

/// A server answering every request with `status` and `body` as JSON.
async fn fake(status: u16, body: serde_json::Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let status = axum::http::StatusCode::from_u16(status).unwrap();
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { (status, axum::Json(body)) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn server_errors_and_unreachable_hosts_are_unavailable() {
    let base = fake(503, serde_json::json!({"error": "busy"})).await;
    let (up, _) = upstream_with(&config(&base));
    assert!(matches!(up.check().await, Err(IdpError::Unavailable(m)) if m.contains("503")));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (up, _) = upstream_with(&config(&closed));
    assert!(matches!(up.check().await, Err(IdpError::Unavailable(_))));
}

#[tokio::test]
async fn symmetric_only_providers_are_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256"],
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(doc) }),
        )
        .route(
            "/jwks",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"keys": []})) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (up, _) = upstream_with(&config(&base));
    assert!(matches!(up.check().await, Err(IdpError::Config(m)) if m.contains("asymmetric")));
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let idp = dev_idp("").await;
    let target = format!("{}/.well-known/openid-configuration", idp.issuer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move || {
        let target = target.clone();
        async move { axum::response::Redirect::temporary(&target) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (up, _) = upstream_with(&config(&base));
    let err = up.check().await.unwrap_err();
    assert!(
        matches!(&err, IdpError::Discovery(m) if m.contains("307")),
        "{err:?}"
    );
    assert_eq!(idp.discovery_requests(), 0);
}

#[tokio::test]
async fn a_clock_shared_with_the_dev_idp_keeps_refresh_working_after_time_travel() {
    let idp = dev_idp("").await;
    let (up, clock) = upstream(&idp);
    idp.use_clock(clock.clone());
    let tokens = login(&up, &idp).await.unwrap().tokens;
    clock.advance(5 * 3600);
    let rt = tokens.refresh_token.unwrap().expose_secret().to_owned();
    let refreshed = up.refresh(&rt, "dev-alice").await.unwrap();
    assert_eq!(refreshed.expires_at, Some(clock.now() + 3600));
}

#[tokio::test]
async fn issuer_identification_comes_from_the_cached_discovery_document() {
    for path in ["", "/", "/oauth2/default"] {
        let idp = dev_idp(path).await;
        let (up, _) = upstream(&idp);
        let (req, _) = request("n");
        up.authorization_url(&req).await.unwrap();
        let fetched = idp.discovery_requests();
        // The dev IdP advertises RFC 9207 and spells its issuer exactly like this.
        let expected = IssuerCheck {
            issuer: idp.issuer.clone(),
            iss_required: true,
        };
        assert_eq!(
            up.issuer_identification().await.unwrap(),
            Some(expected.clone())
        );
        assert_eq!(
            up.issuer_identification().await.unwrap(),
            Some(expected.clone())
        );
        assert_eq!(
            up.check().await.unwrap()["authorization_response_iss_parameter_supported"],
            true
        );
        assert_eq!(idp.discovery_requests(), fetched, "no fetch per login");
    }
}

/// An OP at a fresh address whose discovery document carries
/// `authorization_response_iss_parameter_supported: value` (absent for `None`).
async fn op_advertising(value: Option<serde_json::Value>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut doc = serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    if let Some(v) = value {
        doc["authorization_response_iss_parameter_supported"] = v;
    }
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(doc) }),
        )
        .route(
            "/jwks",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"keys": []})) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn only_a_json_true_makes_iss_required_and_odd_values_do_not_break_discovery() {
    use serde_json::json;
    for (value, required) in [
        (None, false),
        (Some(json!(false)), false),
        (Some(json!(null)), false),
        (Some(json!("true")), false),
        (Some(json!(1)), false),
        (Some(json!({"a": true})), false),
        (Some(json!(true)), true),
    ] {
        let base = op_advertising(value.clone()).await;
        let (up, _) = upstream_with(&config(&base));
        let check = up.issuer_identification().await.unwrap().unwrap();
        assert_eq!(check.iss_required, required, "{value:?}");
        assert_eq!(
            check.issuer, base,
            "the discovery issuer, not the configured URL"
        );
        assert_eq!(
            up.check().await.unwrap()["authorization_response_iss_parameter_supported"],
            required
        );
    }
}

#[tokio::test]
async fn issuer_identification_fails_like_discovery() {
    let base = fake(503, serde_json::json!({"error": "busy"})).await;
    let (up, _) = upstream_with(&config(&base));
    assert!(matches!(
        up.issuer_identification().await,
        Err(IdpError::Unavailable(_))
    ));
}

/// The generic client with a kind's hooks (`idp/kinds/`), against the same servers.
#[path = "oidc_kinds_tests.rs"]
mod kinds;
