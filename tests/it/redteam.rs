//! Regression tests for the findings of the red-team review (all three fixed): each reproduces
//! the attack that used to work. A test for a newly found, still open bug may be added here as
//! `#[ignore]` with the reason, and un-ignored with the fix.

use serde_json::Value;

use crate::support::app::{query_param, TestApp};

/// REDTEAM-1: a refresh token must not be accepted as a bearer access token at a resource path
/// (introspection also describes refresh tokens; the resource now requires `token_type` Bearer).
#[tokio::test]
async fn redteam_refresh_token_is_not_a_bearer_access_token() {
    let app = TestApp::start().await;
    let (_client_id, _redirect, tokens) = app.tokens_for_new_client().await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let res = app
        .api
        .post(app.resource())
        .bearer_auth(refresh)
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        401,
        "a refresh token was accepted as an access token at the resource"
    );
    // The access token itself keeps working.
    let res = app
        .api
        .post(app.resource())
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// REDTEAM-2: RFC 9207 §2.4: the upstream advertises
/// `authorization_response_iss_parameter_supported: true` (the dev IdP does), so an
/// authorization response WITHOUT `iss` must be rejected (the callback used to check `iss` only
/// when present).
#[tokio::test]
async fn redteam_callback_requires_iss_when_upstream_advertises_it() {
    let app = TestApp::start().await;
    let callback = app.upstream_callback_for_new_client("dev-alice").await;
    assert!(
        query_param(&callback, "iss").is_some(),
        "the dev IdP sends iss"
    );
    // Strip `iss` from the upstream's answer (a mix-up attacker's IdP would not send ours).
    let mut url = url::Url::parse(&callback).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    let res = app.browser.get(url.as_str()).send().await.unwrap();
    let back = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        back.as_deref()
            .and_then(|l| query_param(l, "code"))
            .is_none(),
        "a code was issued for an upstream response without iss: {back:?}"
    );
}

/// REDTEAM-3: the consent page shows `client_name`; every Bidi_Control and Default_Ignorable
/// code point (U+061C, U+3164 HANGUL FILLER, U+115F, U+00AD, U+2060..U+2064, U+180E …) must be
/// stripped, or a name could be blank or visually rearranged.
#[tokio::test]
async fn redteam_client_name_drops_every_bidi_control_and_invisible_character() {
    let app = TestApp::start().await;
    let invisible = [
        '\u{061C}', '\u{00AD}', '\u{115F}', '\u{1160}', '\u{180E}', '\u{2060}', '\u{2061}',
        '\u{2062}', '\u{2063}', '\u{2064}', '\u{3164}', '\u{FFA0}', '\u{034F}',
    ];
    for c in invisible {
        let name = format!("Cla{c}ude");
        let res = app
            .api
            .post(app.url("/register"))
            .json(&serde_json::json!({
                "client_name": name,
                "redirect_uris": ["http://127.0.0.1:33418/callback"],
                "token_endpoint_auth_method": "none",
            }))
            .send()
            .await
            .unwrap();
        if res.status() == 400 {
            continue; // refusing the name is an acceptable fix too
        }
        let body: Value = res.json().await.unwrap();
        let stored = body["client_name"].as_str().unwrap_or_default();
        assert!(
            !stored.contains(c),
            "U+{:04X} kept in client_name {stored:?}",
            u32::from(c)
        );
    }
}
