//! What introspection shows to whom (RFC 7662 §2.1, §4): a resource server sees access tokens for
//! its own resource only; a client sees its own tokens, refresh tokens included.

use serde_json::Value;

use crate::support::app::{TestApp, RS_SECRET};

#[tokio::test]
async fn resource_servers_never_see_refresh_tokens_as_active() {
    let app = TestApp::start().await;
    let (_, _, tokens) = app.tokens_for_new_client().await;
    let info = app
        .introspect(tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(info, serde_json::json!({"active": false}));
    let info = app
        .introspect(tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "Bearer");
}

#[tokio::test]
async fn confidential_clients_see_only_their_own_tokens() {
    let app = TestApp::start().await;
    let (_, _, public_tokens) = app.tokens_for_new_client().await;
    let reg = app
        .register(serde_json::json!({"redirect_uris": ["https://app.example.com/cb"], "token_endpoint_auth_method": "client_secret_post"}))
        .await;
    let (id, secret) = (
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    );
    let res = app
        .api
        .post(app.url("/introspect"))
        .form(&[
            ("token", public_tokens["access_token"].as_str().unwrap()),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        serde_json::json!({"active": false})
    );
    // Wrong resource credentials are refused outright.
    let res = app
        .api
        .post(app.url("/introspect"))
        .basic_auth("tools", Some(format!("{RS_SECRET}x")))
        .form(&[("token", public_tokens["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// Issue 11, finding 8: a resource secret from `openssl rand -base64 32` (with `+`, `/`, `=`)
/// works sent raw in RFC 7617 Basic and form-encoded (RFC 6749 §2.3.1); a wrong one is 401
/// `invalid_client` that neither says "unknown client" nor which part was wrong.
#[tokio::test]
async fn resource_secret_with_base64_characters_works_raw_and_encoded() {
    const SECRET: &str = "k+3pQ/9vZx1Lr8+Tg/Wm0aYc2NqE7sHd4uVbJ5oF6iA=";
    let app = TestApp::start_with(crate::support::app::Db::Sqlite, |c| {
        c.resources[0].introspection_secret = Some(secrecy::SecretString::from(SECRET.to_owned()));
    })
    .await
    .unwrap();
    let (_, _, tokens) = app.tokens_for_new_client().await;
    let access = tokens["access_token"].as_str().unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    assert_ne!(encoded, SECRET);
    for secret in [SECRET, encoded.as_str()] {
        let res = app
            .api
            .post(app.url("/introspect"))
            .basic_auth("tools", Some(secret))
            .form(&[("token", access)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{secret}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["active"],
            true,
            "{secret}"
        );
    }
    let wrong = SECRET.replace('+', " ");
    let res = app
        .api
        .post(app.url("/introspect"))
        .basic_auth("tools", Some(&wrong))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_description"], "client authentication failed");
}
