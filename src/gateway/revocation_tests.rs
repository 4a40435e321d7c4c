#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::Revocations;
use crate::oauth::grants::fixture_tests::Fixture;
use crate::store::AuditEvent;

fn jti(access_token: &str) -> String {
    let payload = access_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

/// `n` access tokens of one grant (a code exchange, then refreshes), all revoked with the
/// grant; returns their ids.
async fn revoked(f: &Fixture, n: usize) -> Vec<String> {
    let mut t = f.tokens().await;
    let mut jtis = vec![jti(&t.access_token)];
    for _ in 1..n {
        t = f
            .refresh(t.refresh_token.as_deref().unwrap())
            .await
            .unwrap();
        jtis.push(jti(&t.access_token));
    }
    let view = f.store.get_access_token(&jtis[0]).await.unwrap().unwrap();
    let now = f.core.now();
    assert!(f
        .store
        .revoke_grant(&view.grant.id, now, &AuditEvent::new("grant_revoked", now))
        .await
        .unwrap());
    jtis
}

/// Five revocations, two ids a page: three queries (2, 2, 1), none missed.
#[tokio::test]
async fn poll_reads_every_page() {
    let f = Fixture::new().await;
    let jtis = revoked(&f, 5).await;
    let r = Revocations::with_paging(3600, 2, 100);
    assert_eq!(r.poll(&f.core).await.unwrap(), 5);
    for jti in &jtis {
        assert!(r.is_revoked(jti), "{jti}");
    }
    assert!(!r.is_revoked("not-a-jti"));
}

/// A token that lives longer than `tokens.access_token_ttl` (a client rule) and was revoked
/// longer ago than that is still loaded by a replica's first poll.
#[tokio::test]
async fn first_poll_reaches_back_to_the_longest_token_lifetime() {
    let mut f = Fixture::new().await;
    let mut settings = (*f.core.settings).clone();
    settings.client_rules = vec![crate::config::ClientRuleConfig {
        matches: crate::config::ClientMatch::default(),
        send_iss: None,
        access_token_ttl: Some(3 * 3600),
        upstream: None,
    }];
    f.core.settings = std::sync::Arc::new(settings);
    let jtis = revoked(&f, 1).await;
    f.clock.advance(2 * 3600);
    let r = Revocations::new(f.core.settings.max_access_token_ttl());
    assert_eq!(r.poll(&f.core).await.unwrap(), 1);
    assert!(r.is_revoked(&jtis[0]));
}

/// A page exactly full is followed by an empty one, not taken as the end.
#[tokio::test]
async fn poll_reads_past_an_exactly_full_page() {
    let f = Fixture::new().await;
    let jtis = revoked(&f, 4).await;
    let r = Revocations::with_paging(3600, 2, 100);
    assert_eq!(r.poll(&f.core).await.unwrap(), 4);
    assert!(jtis.iter().all(|j| r.is_revoked(j)));
}

/// The per-poll bound stops reading after the page that reaches it.
#[tokio::test]
async fn poll_stops_at_its_bound() {
    let f = Fixture::new().await;
    let jtis = revoked(&f, 5).await;
    let r = Revocations::with_paging(3600, 2, 3);
    assert_eq!(r.poll(&f.core).await.unwrap(), 4);
    assert_eq!(jtis.iter().filter(|j| r.is_revoked(j)).count(), 4);
}
