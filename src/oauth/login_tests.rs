#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::oauth::grants::fixture_tests::{
    challenge, Fixture, REDIRECT, RESOURCE, SCOPE, VERIFIER,
};

#[tokio::test]
async fn login_issues_a_code_bound_to_the_request() {
    let f = Fixture::new().await;
    let before = f.core.now();
    let code = f.code_for(&f.client, SCOPE).await;
    let stored = f
        .store
        .get_auth_code(&crypto::hash(&code))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.client_id, f.client.client_id);
    assert_eq!(stored.redirect_uri, REDIRECT);
    assert_eq!(stored.code_challenge, challenge(VERIFIER));
    assert_eq!(
        (stored.scope.as_str(), stored.resource.as_str()),
        (SCOPE, RESOURCE)
    );
    assert_eq!(stored.expires_at, before + f.core.settings.tokens.code_ttl);
    assert!(stored.used_at.is_none());
    let user = f.store.get_user(&stored.user_id).await.unwrap().unwrap();
    assert_eq!(
        (user.subject.as_str(), user.email.as_deref()),
        ("00u-alice", Some("alice@example.com"))
    );
    let grant = f.store.get_grant(&stored.grant_id).await.unwrap().unwrap();
    assert_eq!(
        (grant.user_id, grant.resource),
        (stored.user_id, RESOURCE.to_owned())
    );

    let kinds: Vec<String> = f
        .store
        .list_audit_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"login".to_owned()) && kinds.contains(&"consented".to_owned()),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_second_login_reuses_the_user_and_the_active_grant() {
    let f = Fixture::new().await;
    let code_a = f.code_for(&f.client, SCOPE).await;
    f.clock.advance(30);
    let code_b = f.code_for(&f.client, "mcp:read").await;
    let a = f
        .store
        .get_auth_code(&crypto::hash(&code_a))
        .await
        .unwrap()
        .unwrap();
    let b = f
        .store
        .get_auth_code(&crypto::hash(&code_b))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.user_id, b.user_id);
    assert_eq!(a.grant_id, b.grant_id);
    assert_eq!(b.scope, "mcp:read");
    assert_eq!(
        f.store.get_grant(&b.grant_id).await.unwrap().unwrap().scope,
        "mcp:read"
    );
    // Each code yields the scope it was issued with.
    assert_eq!(f.redeem(&f.client, &code_a).await.unwrap().scope, SCOPE);
    assert_eq!(
        f.redeem(&f.client, &code_b).await.unwrap().scope,
        "mcp:read"
    );
}

#[tokio::test]
async fn upstream_tokens_are_sealed_to_the_grant_identity() {
    let f = Fixture::new().await;
    let tokens = json!({ "access_token": "upstream-at", "refresh_token": "upstream-rt" });
    let aad = upstream_tokens_aad("corp", "00u-alice", "dcrb_c_main", RESOURCE);
    let sealed = seal_upstream_tokens(&f.core, &tokens, &aad).unwrap();
    assert!(!sealed.contains("upstream-at"));
    assert_eq!(
        open_upstream_tokens(&f.core, &sealed, &aad).unwrap(),
        tokens
    );
    let other = upstream_tokens_aad("corp", "00u-bob", "dcrb_c_main", RESOURCE);
    assert!(open_upstream_tokens(&f.core, &sealed, &other).is_err());
}

/// OIDC Core §5.7: `sub` is unique per issuer. The same subject from another issuer through the
/// same configured upstream id (the id re-pointed at another IdP) is another person; the same
/// issuer through another upstream id is the same person.
#[tokio::test]
async fn users_are_keyed_by_issuer_and_subject() {
    let f = Fixture::new().await;
    let alice = crate::oauth::grants::fixture_tests::alice();
    let user_of = |code: String| {
        let store = f.store.clone();
        async move {
            store
                .get_auth_code(&crypto::hash(&code))
                .await
                .unwrap()
                .unwrap()
                .user_id
        }
    };
    let first = user_of(f.code_with(&f.client, SCOPE, &alice, true).await).await;
    let repointed = UpstreamUser {
        issuer: "https://other-idp.example.com".to_owned(),
        ..alice.clone()
    };
    let other = user_of(f.code_with(&f.client, SCOPE, &repointed, true).await).await;
    assert_ne!(first, other, "another issuer's subject is another person");
    let renamed = UpstreamUser {
        upstream_id: "corp-eu".to_owned(),
        ..alice.clone()
    };
    let same = user_of(f.code_with(&f.client, SCOPE, &renamed, true).await).await;
    assert_eq!(
        first, same,
        "same issuer and subject, whatever the upstream id"
    );
    let user = f.store.get_user(&other).await.unwrap().unwrap();
    assert_eq!(
        (user.issuer.as_str(), user.subject.as_str()),
        ("https://other-idp.example.com", "00u-alice")
    );
}

/// The login runs in one transaction: when a later step fails (here the consent, for a client
/// that no longer exists), neither the user nor the `login` audit row stays behind. Before the
/// store had transactions, each step committed on its own.
#[tokio::test]
async fn a_failed_login_commits_nothing() {
    let f = Fixture::new().await;
    let gone = crate::oauth::grants::fixture_tests::client_record("dcrb_c_gone", &[]);
    let request = AuthRequestRecord {
        id_hash: crypto::hash("consent-id"),
        client_id: gone.client_id.clone(),
        redirect_uri: REDIRECT.to_owned(),
        redirect_uri_sent: true,
        client_state: None,
        code_challenge: challenge(VERIFIER),
        scope: SCOPE.to_owned(),
        resource: RESOURCE.to_owned(),
        upstream_id: "corp".to_owned(),
        browser_hash: crypto::hash("browser"),
        csrf_hash: crypto::hash("csrf"),
        extra: None,
        created_at: f.core.now(),
        expires_at: f.core.now() + 600,
        upstream: None,
    };
    let user = crate::oauth::grants::fixture_tests::alice();
    let failed = finish_login(&f.core, &request, &user, None, None).await;
    assert!(failed.is_err(), "{failed:?}");
    let kinds: Vec<String> = f
        .store
        .list_audit_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["registered"], "no login row without its grant");
}
