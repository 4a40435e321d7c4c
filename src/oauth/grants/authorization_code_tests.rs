#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::oauth::grants::fixture_tests::{Fixture, REDIRECT, RESOURCE, SCOPE, VERIFIER};
use crate::oauth::introspect::introspect;
use crate::oauth::tokens::{verify_access, AccessClaims};

async fn exchange_with(
    f: &Fixture,
    code: &str,
    redirect: Option<&str>,
    verifier: Option<&str>,
    resource: &[&str],
) -> Result<TokenResponse> {
    let resource: Vec<String> = resource.iter().map(|r| (*r).to_owned()).collect();
    exchange(
        &f.core, &f.client, code, redirect, verifier, &resource, None,
    )
    .await
}

fn grant_err(r: Result<TokenResponse>) -> String {
    match r {
        Err(Error::InvalidGrant(why)) => why,
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn code_redeems_once_for_an_audience_bound_token_pair() {
    let f = Fixture::new().await;
    let code = f.code_for(&f.client, SCOPE).await;
    assert!(code.starts_with("dcrb_ac_"));
    let t = f.redeem(&f.client, &code).await.unwrap();
    assert_eq!(t.token_type, "bearer");
    assert_eq!(t.expires_in, 3600);
    assert_eq!(t.scope, SCOPE);
    assert!(t.refresh_token.as_deref().unwrap().starts_with("dcrb_rt_"));

    let header = jsonwebtoken::decode_header(&t.access_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let claims: AccessClaims = verify_access(&f.core, &t.access_token).unwrap();
    assert_eq!(claims.aud, RESOURCE);
    assert_eq!(claims.iss, "https://auth.example.com");
    assert_eq!(claims.client_id, f.client.client_id);
    assert_eq!(claims.scope, SCOPE);
    assert_eq!(
        (claims.iat, claims.exp),
        (f.core.now(), f.core.now() + 3600)
    );
    assert!(
        !claims.sub.is_empty() && !claims.sub.contains('@'),
        "our user id, not the email"
    );

    let events = f.store.list_audit_events(10).await.unwrap();
    let issued = events.iter().find(|e| e.kind == "token_issued").unwrap();
    assert_eq!(issued.request_id.as_deref(), Some("req-token"));
    assert!(!issued.detail.as_deref().unwrap().contains(&t.access_token));
}

#[tokio::test]
async fn the_response_never_carries_null() {
    let f = Fixture::new().await;
    let no_refresh = f
        .add_client("dcrb_c_norefresh", &["authorization_code"])
        .await;
    let code = f.code_for(&no_refresh, SCOPE).await;
    let t = f.redeem(&no_refresh, &code).await.unwrap();
    assert!(
        t.refresh_token.is_none(),
        "no refresh_token grant type, no refresh token"
    );
    let json = serde_json::to_value(&t).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access_token", "expires_in", "scope", "token_type"]);
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let f = Fixture::new().await;
    let code = f.code_for(&f.client, SCOPE).await;
    let first = f.redeem(&f.client, &code).await.unwrap();
    assert_eq!(
        introspect(&f.core, &first.access_token).await.unwrap()["active"],
        true
    );

    assert_eq!(
        grant_err(f.redeem(&f.client, &code).await),
        "authorization code already used"
    );
    // RFC 6749 §4.1.2: the tokens issued from the code are revoked.
    assert_eq!(
        introspect(&f.core, &first.access_token).await.unwrap()["active"],
        false
    );
    let refresh = f.refresh(first.refresh_token.as_deref().unwrap()).await;
    assert!(
        matches!(refresh, Err(Error::InvalidGrant(_))),
        "{refresh:?}"
    );
    let events = f.store.list_audit_events(20).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "reuse_detected"));
}

#[tokio::test]
async fn pkce_verifier_is_required_and_must_match() {
    let f = Fixture::new().await;
    let code = f.code_for(&f.client, SCOPE).await;
    let missing = exchange_with(&f, &code, Some(REDIRECT), None, &[]).await;
    assert!(
        matches!(missing, Err(Error::InvalidRequest(_))),
        "{missing:?}"
    );
    let empty = exchange_with(&f, &code, Some(REDIRECT), Some(""), &[]).await;
    assert!(matches!(empty, Err(Error::InvalidRequest(_))), "{empty:?}");
    let wrong = "x".repeat(43);
    let why = grant_err(exchange_with(&f, &code, Some(REDIRECT), Some(&wrong), &[]).await);
    assert!(why.contains("code_verifier"), "{why}");
    // The challenge itself is not a verifier (no `plain` downgrade).
    let challenge = crate::oauth::grants::fixture_tests::challenge(VERIFIER);
    grant_err(exchange_with(&f, &code, Some(REDIRECT), Some(&challenge), &[]).await);
}

/// RFC 6749 §4.1.3: sent at /authorize, so required at /token, and identical.
#[tokio::test]
async fn redirect_uri_is_required_and_must_be_identical() {
    let f = Fixture::new().await;
    let code = f.code_for(&f.client, SCOPE).await;
    for missing in [None, Some("")] {
        let why = grant_err(exchange_with(&f, &code, missing, Some(VERIFIER), &[]).await);
        assert!(why.contains("redirect_uri is required"), "{why}");
    }
    for wrong in [
        "http://127.0.0.1:9999/callback",
        "http://127.0.0.1:33418/callback/",
        "http://localhost:33418/callback",
    ] {
        let why = grant_err(exchange_with(&f, &code, Some(wrong), Some(VERIFIER), &[]).await);
        assert!(why.contains("redirect_uri"), "{wrong}: {why}");
    }
    assert!(
        exchange_with(&f, &code, Some(REDIRECT), Some(VERIFIER), &[])
            .await
            .is_ok()
    );
}

/// RFC 6749 §4.1.3: a client that left `redirect_uri` out at /authorize (it has one registered
/// URI) may leave it out at /token; if it sends one anyway, it must be that URI.
#[tokio::test]
async fn redirect_uri_is_optional_when_the_authorization_request_had_none() {
    let f = Fixture::new().await;
    let alice = crate::oauth::grants::fixture_tests::alice();
    let code = f.code_with(&f.client, SCOPE, &alice, false).await;
    let why = grant_err(
        exchange_with(
            &f,
            &code,
            Some("http://127.0.0.1:9999/callback"),
            Some(VERIFIER),
            &[],
        )
        .await,
    );
    assert!(why.contains("redirect_uri"), "{why}");
    assert_eq!(
        exchange_with(&f, &code, None, Some(VERIFIER), &[])
            .await
            .unwrap()
            .scope,
        SCOPE
    );
    let code = f.code_with(&f.client, SCOPE, &alice, false).await;
    assert!(
        exchange_with(&f, &code, Some(REDIRECT), Some(VERIFIER), &[])
            .await
            .is_ok(),
        "the registered URI, repeated, is fine"
    );
}

#[tokio::test]
async fn another_client_cannot_redeem_nor_burn_the_code() {
    let f = Fixture::new().await;
    let other = f
        .add_client("dcrb_c_other", &["authorization_code", "refresh_token"])
        .await;
    let code = f.code_for(&f.client, SCOPE).await;
    let why = grant_err(f.redeem(&other, &code).await);
    assert_eq!(
        why, "invalid authorization code",
        "same answer as an unknown code"
    );
    assert!(f.redeem(&f.client, &code).await.is_ok());
}

#[tokio::test]
async fn expired_and_unknown_codes_are_invalid_grant() {
    let f = Fixture::new().await;
    let code = f.code_for(&f.client, SCOPE).await;
    f.clock.advance(f.core.settings.tokens.code_ttl);
    assert_eq!(
        grant_err(f.redeem(&f.client, &code).await),
        "authorization code expired"
    );
    assert_eq!(
        grant_err(f.redeem(&f.client, "dcrb_ac_nope").await),
        "invalid authorization code"
    );
}

#[tokio::test]
async fn resource_must_be_the_codes() {
    let f = Fixture::new().await;
    let code = f.code_for(&f.client, SCOPE).await;
    let r = exchange_with(
        &f,
        &code,
        Some(REDIRECT),
        Some(VERIFIER),
        &["https://elsewhere.example/mcp"],
    )
    .await;
    assert!(matches!(r, Err(Error::InvalidTarget(_))), "{r:?}");
    // Case of scheme and host and a trailing slash are tolerated.
    let t = exchange_with(
        &f,
        &code,
        Some(REDIRECT),
        Some(VERIFIER),
        &["HTTPS://Auth.Example.com/mcp/"],
    )
    .await;
    assert_eq!(
        verify_access(&f.core, &t.unwrap().access_token)
            .unwrap()
            .aud,
        RESOURCE
    );
}

#[tokio::test]
async fn a_revoked_grant_redeems_nothing() {
    let f = Fixture::new().await;
    let code = f.code_for(&f.client, SCOPE).await;
    let grant_id = f
        .store
        .get_auth_code(&crate::oauth::crypto::hash(&code))
        .await
        .unwrap()
        .unwrap()
        .grant_id;
    let audit = AuditEvent::new("admin_revoked", f.core.now());
    assert!(f
        .store
        .revoke_grant(&grant_id, f.core.now(), &audit)
        .await
        .unwrap());
    grant_err(f.redeem(&f.client, &code).await);
}
