#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::oauth::grants::fixture_tests::{cipher, store, Fixture, RESOURCE, SCOPE, START};
use crate::oauth::keys::{KeyRing, AT_JWT_TYP};
use crate::oauth::tokens::AccessClaims;

#[tokio::test]
async fn an_active_access_token_describes_itself() {
    let f = Fixture::new().await;
    let t = f.tokens().await;
    let got = introspect(&f.core, &t.access_token).await.unwrap();
    let claims: AccessClaims = verify_access(&f.core, &t.access_token).unwrap();
    assert_eq!(
        got,
        json!({
            "active": true,
            "token_type": "Bearer",
            "scope": SCOPE,
            "client_id": f.client.client_id,
            "sub": claims.sub,
            "aud": RESOURCE,
            "iss": "https://auth.example.com",
            "exp": START + 3600,
            "iat": START,
            "nbf": START,
            "jti": claims.jti,
            "username": "alice@example.com",
        })
    );
}

#[tokio::test]
async fn expired_and_garbage_tokens_are_inactive_and_say_nothing_else() {
    let f = Fixture::new().await;
    let t = f.tokens().await;
    f.clock.advance(3599);
    assert_eq!(
        introspect(&f.core, &t.access_token).await.unwrap()["active"],
        true
    );
    f.clock.advance(1);
    assert_eq!(
        introspect(&f.core, &t.access_token).await.unwrap(),
        json!({ "active": false })
    );
    for junk in ["", "garbage", "a.b.c", "dcrb_rt_unknown"] {
        assert_eq!(
            introspect(&f.core, junk).await.unwrap(),
            json!({ "active": false }),
            "{junk}"
        );
    }
}

#[tokio::test]
async fn a_token_signed_by_a_foreign_key_is_inactive() {
    let f = Fixture::new().await;
    let t = f.tokens().await;
    let (other_store, _dir) = store().await;
    let foreign = KeyRing::load_or_create(other_store.as_ref(), &cipher(), START)
        .await
        .unwrap();
    // Same claims, same jti (which exists in our store), foreign signature.
    let claims: AccessClaims = verify_access(&f.core, &t.access_token).unwrap();
    let forged = foreign.sign(START, AT_JWT_TYP, &claims).unwrap();
    assert_eq!(
        introspect(&f.core, &forged).await.unwrap(),
        json!({ "active": false })
    );
}

#[tokio::test]
async fn a_valid_jwt_unknown_to_the_store_is_inactive() {
    let f = Fixture::new().await;
    let t = f.tokens().await;
    let mut claims: AccessClaims = verify_access(&f.core, &t.access_token).unwrap();
    claims.jti = "never-issued".to_owned();
    let jwt = f.core.keys.sign(START, AT_JWT_TYP, &claims).unwrap();
    assert_eq!(introspect(&f.core, &jwt).await.unwrap()["active"], false);
}

#[tokio::test]
async fn refresh_tokens_are_introspectable_until_used() {
    let f = Fixture::new().await;
    let t = f.tokens().await;
    let rt = t.refresh_token.clone().unwrap();
    let got = introspect(&f.core, &rt).await.unwrap();
    assert_eq!(got["active"], true);
    assert_eq!(got["token_type"], "refresh_token");
    assert_eq!(got["client_id"], f.client.client_id.as_str());
    assert_eq!(got["aud"], RESOURCE);
    assert_eq!(got["scope"], SCOPE);
    assert_eq!(got["username"], "alice@example.com");
    assert_eq!(got["exp"], START + f.core.settings.tokens.refresh_token_ttl);
    assert!(got.get("jti").is_none());

    let next = f.refresh(&rt).await.unwrap();
    assert_eq!(
        introspect(&f.core, &rt).await.unwrap(),
        json!({ "active": false })
    );
    assert_eq!(
        introspect(&f.core, next.refresh_token.as_deref().unwrap())
            .await
            .unwrap()["active"],
        true
    );
}

#[tokio::test]
async fn callers_see_only_their_own_active_tokens() {
    let f = Fixture::new().await;
    let t = f.tokens().await;
    let access = introspect(&f.core, &t.access_token).await.unwrap();
    let refresh = introspect(&f.core, t.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    let inactive = json!({ "active": false });
    let own = Caller::Client(f.client.client_id.clone());
    assert_eq!(own.visible(access.clone()), access);
    assert_eq!(own.visible(refresh.clone()), refresh);
    let other = Caller::Client("dcrb_c_other".to_owned());
    assert_eq!(other.visible(access.clone()), inactive);
    let resource = Caller::Resource(RESOURCE.to_owned());
    assert_eq!(resource.visible(access.clone()), access);
    assert_eq!(
        resource.visible(refresh),
        inactive,
        "a resource server sees no refresh token"
    );
    let elsewhere = Caller::Resource("https://auth.example.com/other".to_owned());
    assert_eq!(elsewhere.visible(access), inactive);
    assert_eq!(own.visible(inactive.clone()), inactive);
}
