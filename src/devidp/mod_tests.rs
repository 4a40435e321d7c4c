#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The dev IdP's own behaviour, especially its error paths.

use std::collections::BTreeMap;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;

use super::keys::s256;
use super::*;

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

async fn start(auto_login: bool, users: Vec<DevUser>) -> DevIdpHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = DevIdpConfig::new("", "client", "secret", vec![REDIRECT.to_owned()]);
    config.auto_login = auto_login;
    config.users = users;
    spawn(listener, config).await.unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn params(scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", "client".to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("response_type", "code".to_owned()),
        ("scope", scope.to_owned()),
        ("state", "xyz".to_owned()),
        ("nonce", "n-1".to_owned()),
        ("code_challenge", s256(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
    ]
}

fn with(
    mut p: Vec<(&'static str, String)>,
    key: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    p.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        p.push((key, v.to_owned()));
    }
    p
}

async fn get_authorize(idp: &DevIdpHandle, p: &[(&str, String)]) -> reqwest::Response {
    http()
        .get(format!("{}/authorize", idp.issuer))
        .query(p)
        .send()
        .await
        .unwrap()
}

fn location(resp: &reqwest::Response) -> BTreeMap<String, String> {
    assert_eq!(resp.status(), StatusCode::FOUND);
    let url = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(url.as_str().starts_with(REDIRECT));
    url.query_pairs().into_owned().collect()
}

async fn code(idp: &DevIdpHandle, scope: &str) -> String {
    let p = with(params(scope), "login_hint", Some("dev-alice"));
    let q = location(&get_authorize(idp, &p).await);
    assert_eq!(q["state"], "xyz");
    assert_eq!(q["iss"], idp.issuer);
    q["code"].clone()
}

async fn token(idp: &DevIdpHandle, form: &[(&str, &str)], basic: bool) -> (StatusCode, Value) {
    let mut req = http().post(format!("{}/token", idp.issuer));
    if basic {
        req = req.basic_auth("client", Some("secret"));
    }
    let resp = req.form(form).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

async fn redeem(idp: &DevIdpHandle, code: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    token(idp, &form, true).await
}

#[tokio::test]
async fn discovery_and_jwks_describe_the_provider() {
    let idp = start(true, DevUser::defaults()).await;
    let doc: Value = http()
        .get(format!("{}/.well-known/openid-configuration", idp.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], idp.issuer);
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let jwks: Value = http()
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
}

#[tokio::test]
async fn bad_client_or_redirect_uri_gets_a_page_not_a_redirect() {
    let idp = start(true, DevUser::defaults()).await;
    for p in [
        with(params("openid"), "client_id", Some("other")),
        with(params("openid"), "client_id", None),
        with(
            params("openid"),
            "redirect_uri",
            Some("http://127.0.0.1:9/cb/other"),
        ),
        with(params("openid"), "redirect_uri", None),
    ] {
        let resp = get_authorize(&idp, &p).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get("location").is_none());
        assert!(resp
            .text()
            .await
            .unwrap()
            .contains("Development identity provider"));
    }
}

#[tokio::test]
async fn protocol_errors_redirect_with_state_and_iss() {
    let idp = start(true, DevUser::defaults()).await;
    for (p, error) in [
        (
            with(params("openid"), "code_challenge", None),
            "invalid_request",
        ),
        (
            with(params("openid"), "code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (
            with(params("openid"), "code_challenge_method", None),
            "invalid_request",
        ),
        (
            with(params("openid"), "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (params("email"), "invalid_scope"),
    ] {
        let q = location(&get_authorize(&idp, &p).await);
        assert_eq!(q["error"], error);
        assert_eq!(q["state"], "xyz");
        assert_eq!(q["iss"], idp.issuer);
    }
}

#[tokio::test]
async fn repeated_parameters_are_refused() {
    let idp = start(true, DevUser::defaults()).await;
    let mut p = params("openid");
    p.push(("client_id", "client".to_owned()));
    assert_eq!(
        get_authorize(&idp, &p).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn form_lists_users_escapes_values_and_can_deny() {
    let idp = start(false, DevUser::defaults()).await;
    let p = with(params("openid"), "state", Some("<script>x</script>"));
    let resp = get_authorize(&idp, &with(p.clone(), "login_hint", Some("dev-alice"))).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "auto_login off: the form is shown"
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("dev-alice") && html.contains("bob@example.com"));
    assert!(html.contains("name=\"deny\""));
    assert!(!html.contains("<script>x"));
    assert!(html.contains("&lt;script&gt;x"));

    let deny = with(p, "deny", Some("1"));
    let resp = http()
        .post(format!("{}/authorize", idp.issuer))
        .form(&deny)
        .send()
        .await
        .unwrap();
    let q = location(&resp);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "<script>x</script>");
}

#[tokio::test]
async fn password_users_need_their_password() {
    let mut users = DevUser::defaults();
    users[0].password = Some("pw".to_owned());
    let idp = start(false, users).await;
    let url = format!("{}/authorize", idp.issuer);
    let wrong = with(
        with(params("openid"), "login", Some("dev-alice")),
        "password",
        Some("nope"),
    );
    let resp = http().post(&url).form(&wrong).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("Wrong password"));
    let unknown = with(params("openid"), "login", Some("mallory"));
    assert_eq!(
        http()
            .post(&url)
            .form(&unknown)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    let right = with(wrong, "password", Some("pw"));
    let q = location(&http().post(&url).form(&right).send().await.unwrap());
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn code_redeems_once_for_signed_tokens() {
    let idp = start(true, DevUser::defaults()).await;
    let code = code(&idp, "openid email offline_access").await;
    let (status, body) = redeem(&idp, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["refresh_token"].is_string());
    let id_token = body["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "dev-alice");
    assert_eq!(claims["aud"], "client");
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["groups"], serde_json::json!(["engineering"]));
    let (status, body) = redeem(&idp, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let idp = start(true, DevUser::defaults()).await;
    let code = code(&idp, "openid").await;
    let (status, body) = redeem(&idp, &code).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("refresh_token").is_none());
}

#[tokio::test]
async fn token_endpoint_error_paths() {
    let idp = start(true, DevUser::defaults()).await;
    let c = code(&idp, "openid").await;
    let base = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", REDIRECT),
    ];

    let (s, b) = token(&idp, &base, false).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let resp = http()
        .post(format!("{}/token", idp.issuer))
        .basic_auth("client", Some("bad"))
        .form(&base)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Basic");
    let both = [base.as_slice(), &[("client_secret", "secret")]].concat();
    let (s, b) = token(&idp, &both, true).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (s, b) = token(&idp, &[("grant_type", "password")], true).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );

    let (_, b) = token(
        &idp,
        &[
            base.as_slice(),
            &[("code_verifier", "x".repeat(43).as_str())],
        ]
        .concat(),
        true,
    )
    .await;
    assert_eq!(b["error"], "invalid_grant");
    let c2 = code(&idp, "openid").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", c2.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/other"),
        ("code_verifier", VERIFIER),
    ];
    let (_, b) = token(&idp, &form, true).await;
    assert_eq!(b["error"], "invalid_grant");
}

#[tokio::test]
async fn client_secret_post_is_accepted() {
    let idp = start(true, DevUser::defaults()).await;
    let c = code(&idp, "openid").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", c.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", "client"),
        ("client_secret", "secret"),
    ];
    let (s, b) = token(&idp, &form, false).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn refresh_rotates_and_refuses_reuse_and_wider_scope() {
    let idp = start(true, DevUser::defaults()).await;
    let c = code(&idp, "openid email offline_access").await;
    let (_, first) = redeem(&idp, &c).await;
    let old = first["refresh_token"].as_str().unwrap();
    let (s, wide) = token(
        &idp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", old),
            ("scope", "openid groups"),
        ],
        true,
    )
    .await;
    assert_eq!(
        (s, wide["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (_, second) = token(
        &idp,
        &[("grant_type", "refresh_token"), ("refresh_token", old)],
        true,
    )
    .await;
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old);
    let (_, reuse) = token(
        &idp,
        &[("grant_type", "refresh_token"), ("refresh_token", old)],
        true,
    )
    .await;
    assert_eq!(reuse["error"], "invalid_grant");
}

#[tokio::test]
async fn userinfo_needs_a_valid_bearer_token() {
    let idp = start(true, DevUser::defaults()).await;
    let url = format!("{}/userinfo", idp.issuer);
    let resp = http().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(
        http()
            .get(&url)
            .bearer_auth("nope")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let c = code(&idp, "openid").await;
    let (_, tokens) = redeem(&idp, &c).await;
    let info: Value = http()
        .get(&url)
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], "dev-alice");
    assert_eq!(info["email"], "alice@example.com");
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let idp = start(true, DevUser::defaults()).await;
    let url = format!("{}/jwks", idp.issuer);
    idp.shutdown().await.unwrap();
    assert!(http().get(&url).send().await.is_err());
}

#[tokio::test]
async fn a_shared_clock_expires_codes() {
    let idp = start(true, DevUser::defaults()).await;
    let clock = Arc::new(crate::clock::ManualClock::new(1_000_000));
    idp.use_clock(clock.clone());
    let c = code(&idp, "openid").await;
    clock.advance(61);
    let (s, b) = redeem(&idp, &c).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let c = code(&idp, "openid").await;
    let (s, b) = redeem(&idp, &c).await;
    assert_eq!(s, StatusCode::OK);
    let payload = b["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iat"], 1_000_061);
    assert_eq!(claims["exp"], 1_000_061 + 3600);
}
