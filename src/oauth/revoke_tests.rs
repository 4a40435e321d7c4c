#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::oauth::grants::fixture_tests::{Fixture, ISSUER};
use crate::oauth::introspect::introspect;

async fn active(f: &Fixture, token: &str) -> bool {
    introspect(&f.core, token).await.unwrap()["active"] == true
}

#[tokio::test]
async fn revoking_an_access_token_kills_only_it() {
    let f = Fixture::new().await;
    let t = f.tokens().await;
    revoke(
        &f.core,
        &f.client,
        &t.access_token,
        Some("access_token"),
        Some("req-r".to_owned()),
    )
    .await
    .unwrap();
    assert!(!active(&f, &t.access_token).await);
    // RFC 7009 §2.1: revoking an access token MAY leave the refresh token; we do.
    let rt = t.refresh_token.as_deref().unwrap();
    assert!(active(&f, rt).await);
    let next = f.refresh(rt).await.unwrap();
    assert!(active(&f, &next.access_token).await);
    let events = f.store.list_audit_events(20).await.unwrap();
    let ev = events.iter().find(|e| e.kind == "revoked").unwrap();
    assert_eq!(ev.request_id.as_deref(), Some("req-r"));
    // Revoking again is fine (RFC 7009 §2.2).
    revoke(&f.core, &f.client, &t.access_token, None, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_family() {
    let f = Fixture::new().await;
    let t = f.tokens().await;
    let rt = t.refresh_token.as_deref().unwrap();
    // A wrong hint is only a hint (RFC 7009 §2.1), an unknown one is ignored.
    revoke(&f.core, &f.client, rt, Some("access_token"), None)
        .await
        .unwrap();
    assert!(!active(&f, rt).await);
    assert!(
        !active(&f, &t.access_token).await,
        "RFC 7009 §2.1: its access tokens go too"
    );
    assert!(matches!(
        f.refresh(rt).await,
        Err(crate::oauth::Error::InvalidGrant(_))
    ));
    revoke(&f.core, &f.client, rt, Some("something_else"), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn another_clients_tokens_are_left_alone() {
    let f = Fixture::new().await;
    let other = f
        .add_client("dcrb_c_other", &["authorization_code", "refresh_token"])
        .await;
    let t = f.tokens().await;
    let rt = t.refresh_token.as_deref().unwrap();
    revoke(&f.core, &other, &t.access_token, None, None)
        .await
        .unwrap();
    revoke(&f.core, &other, rt, None, None).await.unwrap();
    assert!(active(&f, &t.access_token).await);
    assert!(active(&f, rt).await);
    let events = f.store.list_audit_events(20).await.unwrap();
    assert!(!events.iter().any(|e| e.kind == "revoked"));
}

#[tokio::test]
async fn unknown_malformed_and_expired_tokens_answer_ok() {
    let f = Fixture::new().await;
    for junk in ["", "garbage", "a.b.c", "dcrb_rt_unknown", "dcrb_ac_code"] {
        revoke(&f.core, &f.client, junk, None, None).await.unwrap();
    }
    let t = f.tokens().await;
    f.clock.advance(f.core.settings.tokens.access_token_ttl + 1);
    revoke(&f.core, &f.client, &t.access_token, None, None)
        .await
        .unwrap();
    let claims: AccessClaims = f
        .core
        .keys
        .verify_ignoring_expiry(&t.access_token, ISSUER)
        .unwrap();
    let view = f
        .store
        .get_access_token(&claims.jti)
        .await
        .unwrap()
        .unwrap();
    assert!(
        view.token.revoked_at.is_some(),
        "an expired token of ours is still marked"
    );
}
