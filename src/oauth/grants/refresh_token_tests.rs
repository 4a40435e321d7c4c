#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::oauth::grants::fixture_tests::{Fixture, RESOURCE, SCOPE};
use crate::oauth::introspect::introspect;
use crate::oauth::tokens::verify_access;

fn rt(t: &TokenResponse) -> &str {
    t.refresh_token.as_deref().unwrap()
}

fn grant_err(r: Result<TokenResponse>) -> String {
    match r {
        Err(Error::InvalidGrant(why)) => why,
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn refresh_rotates_the_token() {
    let f = Fixture::new().await;
    let first = f.tokens().await;
    f.clock.advance(100);
    let second = f.refresh(rt(&first)).await.unwrap();
    assert_ne!(rt(&second), rt(&first));
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(
        (second.token_type.as_str(), second.scope.as_str()),
        ("bearer", SCOPE)
    );
    let claims = verify_access(&f.core, &second.access_token).unwrap();
    assert_eq!((claims.aud.as_str(), claims.iat), (RESOURCE, f.core.now()));
    // The new token rotates in turn; the first access token stays valid until it expires.
    let third = f.refresh(rt(&second)).await.unwrap();
    assert_eq!(
        introspect(&f.core, &third.access_token).await.unwrap()["active"],
        true
    );
    assert_eq!(
        introspect(&f.core, &first.access_token).await.unwrap()["active"],
        true
    );
    assert!(f
        .store
        .list_audit_events(20)
        .await
        .unwrap()
        .iter()
        .any(|e| e.kind == "refreshed"));
}

#[tokio::test]
async fn a_retry_within_the_grace_window_gets_the_same_response() {
    let f = Fixture::new().await;
    let first = f.tokens().await;
    let won = f.refresh(rt(&first)).await.unwrap();
    f.clock
        .advance(f.core.settings.tokens.refresh_grace_seconds);
    let retry = f.refresh(rt(&first)).await.unwrap();
    // COMPAT C16: byte-identical, so a client that lost the first response is whole again.
    assert_eq!(
        serde_json::to_vec(&retry).unwrap(),
        serde_json::to_vec(&won).unwrap()
    );
    // And the pair it got is live.
    assert_eq!(
        introspect(&f.core, &retry.access_token).await.unwrap()["active"],
        true
    );
    assert!(f.refresh(rt(&retry)).await.is_ok());
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_family() {
    let f = Fixture::new().await;
    let first = f.tokens().await;
    let second = f.refresh(rt(&first)).await.unwrap();
    f.clock
        .advance(f.core.settings.tokens.refresh_grace_seconds + 1);
    assert_eq!(
        grant_err(f.refresh(rt(&first)).await),
        "refresh token reuse detected; the grant's tokens were revoked"
    );
    // The token the legitimate holder got is dead too, and so are the access tokens.
    let why = grant_err(f.refresh(rt(&second)).await);
    assert_eq!(why, "refresh token revoked");
    assert_eq!(
        introspect(&f.core, &second.access_token).await.unwrap()["active"],
        false
    );
    assert_eq!(
        introspect(&f.core, &first.access_token).await.unwrap()["active"],
        false
    );
    let events = f.store.list_audit_events(20).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "reuse_detected"));
}

#[tokio::test]
async fn reuse_after_the_child_was_used_revokes_even_within_grace() {
    let f = Fixture::new().await;
    let first = f.tokens().await;
    let second = f.refresh(rt(&first)).await.unwrap();
    let third = f.refresh(rt(&second)).await.unwrap();
    grant_err(f.refresh(rt(&first)).await);
    grant_err(f.refresh(rt(&third)).await);
}

#[tokio::test]
async fn scope_can_narrow_one_access_token_but_not_widen() {
    let f = Fixture::new().await;
    let first = f.tokens().await;
    let narrow = grants_refresh(&f, rt(&first), Some("mcp:read"))
        .await
        .unwrap();
    assert_eq!(narrow.scope, "mcp:read");
    assert_eq!(
        verify_access(&f.core, &narrow.access_token).unwrap().scope,
        "mcp:read"
    );
    // The refresh token keeps the whole grant.
    let full = f.refresh(rt(&narrow)).await.unwrap();
    assert_eq!(full.scope, SCOPE);

    let wide = grants_refresh(&f, rt(&full), Some("mcp:read mcp:admin")).await;
    assert!(matches!(wide, Err(Error::InvalidScope(_))), "{wide:?}");
    // A refused request does not consume the token.
    assert!(grants_refresh(&f, rt(&full), Some("  ")).await.is_ok());
}

async fn grants_refresh(f: &Fixture, token: &str, scope: Option<&str>) -> Result<TokenResponse> {
    refresh(&f.core, &f.client, token, scope, &[], None).await
}

#[tokio::test]
async fn another_client_gets_invalid_grant_and_changes_nothing() {
    let f = Fixture::new().await;
    let other = f
        .add_client("dcrb_c_other", &["authorization_code", "refresh_token"])
        .await;
    let first = f.tokens().await;
    let r = refresh(&f.core, &other, rt(&first), None, &[], None).await;
    assert_eq!(
        grant_err(r),
        "invalid refresh token",
        "same answer as an unknown token"
    );
    assert!(f.refresh(rt(&first)).await.is_ok());
}

#[tokio::test]
async fn resource_on_refresh_must_stay_the_same() {
    let f = Fixture::new().await;
    let first = f.tokens().await;
    let r = refresh(
        &f.core,
        &f.client,
        rt(&first),
        None,
        &["https://other.example/mcp".to_owned()],
        None,
    )
    .await;
    assert!(matches!(r, Err(Error::InvalidTarget(_))), "{r:?}");
    let ok = refresh(
        &f.core,
        &f.client,
        rt(&first),
        None,
        &[RESOURCE.to_owned()],
        None,
    )
    .await;
    assert_eq!(
        verify_access(&f.core, &ok.unwrap().access_token)
            .unwrap()
            .aud,
        RESOURCE
    );
}

#[tokio::test]
async fn expired_unknown_and_revoked_tokens_are_invalid_grant() {
    let f = Fixture::new().await;
    let first = f.tokens().await;
    assert_eq!(
        grant_err(f.refresh("dcrb_rt_unknown").await),
        "invalid refresh token"
    );

    f.clock.advance(f.core.settings.tokens.refresh_token_ttl);
    assert_eq!(
        grant_err(f.refresh(rt(&first)).await),
        "refresh token expired"
    );

    let f = Fixture::new().await;
    let t = f.tokens().await;
    let view = f
        .store
        .get_refresh_token(&crypto::hash(rt(&t)))
        .await
        .unwrap()
        .unwrap();
    let audit = AuditEvent::new("admin_revoked", f.core.now());
    f.store
        .revoke_grant(&view.grant.id, f.core.now(), &audit)
        .await
        .unwrap();
    assert_eq!(grant_err(f.refresh(rt(&t)).await), "refresh token revoked");
}

/// RFC 9700 §4.14.2: each family keeps the scope consented for it. A second authorization of the
/// same client with less scope rewrites the shared grant, but neither narrows the first family
/// nor lets the second one widen back.
#[tokio::test]
async fn each_family_keeps_the_scope_consented_for_it() {
    let f = Fixture::new().await;
    let wide = f.tokens().await;
    f.clock.advance(10);
    let code = f.code_for(&f.client, "mcp:read").await;
    let narrow = f.redeem(&f.client, &code).await.unwrap();
    assert_eq!(narrow.scope, "mcp:read");

    f.clock.advance(10);
    let wide2 = f.refresh(rt(&wide)).await.unwrap();
    assert_eq!(wide2.scope, SCOPE, "the first family is not narrowed");
    assert_eq!(
        introspect(&f.core, rt(&wide2)).await.unwrap()["scope"],
        SCOPE
    );
    let widen = grants_refresh(&f, rt(&narrow), Some("mcp:read mcp:write")).await;
    assert!(matches!(widen, Err(Error::InvalidScope(_))), "{widen:?}");
    let narrow2 = f.refresh(rt(&narrow)).await.unwrap();
    assert_eq!(
        narrow2.scope, "mcp:read",
        "the second family is not widened"
    );
    let claims = verify_access(&f.core, &narrow2.access_token).unwrap();
    assert_eq!(claims.scope, "mcp:read");
    assert_eq!(
        introspect(&f.core, rt(&narrow2)).await.unwrap()["scope"],
        "mcp:read"
    );
    // Down-scoping within the family still works.
    let down = grants_refresh(&f, rt(&wide2), Some("mcp:write"))
        .await
        .unwrap();
    assert_eq!(down.scope, "mcp:write");
}
