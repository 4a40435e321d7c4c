#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The flow service without HTTP: what each step stores, audits and answers. The upstream leg
//! itself (a real OIDC provider) is covered by the integration tests.

use super::*;
use crate::oauth::authorize::AuthorizeParams;
use crate::oauth::crypto;
use crate::oauth::grants::fixture_tests::{challenge, Fixture, REDIRECT, RESOURCE, VERIFIER};

const BROWSER: &str = "browser-binding-value-0123456789abcdef";

fn start_request(client_id: &str) -> StartRequest {
    StartRequest {
        params: AuthorizeParams {
            response_type: Some("code".to_owned()),
            client_id: Some(client_id.to_owned()),
            redirect_uri: Some(REDIRECT.to_owned()),
            state: Some("xyz".to_owned()),
            code_challenge: Some(challenge(VERIFIER)),
            code_challenge_method: Some("S256".to_owned()),
            resource: vec![RESOURCE.to_owned()],
            ..AuthorizeParams::default()
        },
        browser: BROWSER.to_owned(),
        remembered: Vec::new(),
    }
}

async fn prompt(f: &Fixture) -> ConsentPrompt {
    match f
        .core
        .flow()
        .start(start_request(&f.client.client_id))
        .await
    {
        Ok(Started::Consent(p)) => *p,
        other => panic!("expected the consent page, got {other:?}"),
    }
}

fn decision(p: &ConsentPrompt, decision: &str, browser: &str) -> Decision {
    Decision {
        consent_id: p.consent_id.clone(),
        csrf_token: p.csrf_token.clone(),
        decision: decision.to_owned(),
        upstream: None,
        remember: false,
        browser: Some(browser.to_owned()),
        request_id: Some("req-decide".to_owned()),
    }
}

async fn audit_kinds(f: &Fixture) -> Vec<String> {
    f.store
        .list_audit_events(20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn start_stores_the_pending_request_and_asks() {
    let f = Fixture::new().await;
    let p = prompt(&f).await;
    assert_eq!(
        (p.client_id.as_str(), p.redirect_host.as_str(), p.loopback),
        (f.client.client_id.as_str(), "127.0.0.1:33418", true)
    );
    assert!(p.unverified, "a dynamic client is shown as unverified");
    let stored = f
        .store
        .get_auth_request(&crypto::hash(&p.consent_id), f.core.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.browser_hash, crypto::hash(BROWSER));
    assert_eq!(stored.csrf_hash, crypto::hash(&p.csrf_token));
    assert!(stored.upstream.is_none());
}

#[tokio::test]
async fn an_unknown_client_gets_a_page_never_a_redirect() {
    let f = Fixture::new().await;
    let refused = f.core.flow().start(start_request("dcrb_c_nobody")).await;
    assert!(
        matches!(refused, Err(FlowError::Page(Error::InvalidClient { .. }))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn deny_consumes_the_request_and_audits_it_together() {
    let f = Fixture::new().await;
    let p = prompt(&f).await;
    let denied = f.core.flow().decide(decision(&p, "deny", BROWSER)).await;
    match denied {
        Err(FlowError::Redirect {
            redirect_uri,
            state,
            error: Error::AccessDenied(_),
            iss: true,
        }) => assert_eq!(
            (redirect_uri.as_str(), state.as_deref()),
            (REDIRECT, Some("xyz"))
        ),
        other => panic!("expected an access_denied redirect, got {other:?}"),
    }
    let gone = f
        .store
        .get_auth_request(&crypto::hash(&p.consent_id), f.core.now())
        .await
        .unwrap();
    assert!(gone.is_none());
    assert_eq!(
        audit_kinds(&f).await,
        ["consent_denied", "authorize_started", "registered"]
    );
}

#[tokio::test]
async fn another_browser_cannot_decide() {
    let f = Fixture::new().await;
    let p = prompt(&f).await;
    let refused = f
        .core
        .flow()
        .decide(decision(
            &p,
            "approve",
            "another-browser-binding-value-0000",
        ))
        .await;
    assert!(
        matches!(refused, Err(FlowError::Notice(Notice::NotThisBrowser))),
        "{refused:?}"
    );
    let still = f
        .store
        .get_auth_request(&crypto::hash(&p.consent_id), f.core.now())
        .await
        .unwrap();
    assert!(still.is_some(), "a refused decision leaves the request");
}

/// Approving for an upstream the core does not know is our failure, after the user acted: the
/// client gets `server_error` on its redirect URI.
#[tokio::test]
async fn approve_without_the_upstream_answers_the_client() {
    let f = Fixture::new().await;
    let p = prompt(&f).await;
    let refused = f.core.flow().decide(decision(&p, "approve", BROWSER)).await;
    assert!(
        matches!(
            refused,
            Err(FlowError::Redirect {
                error: Error::Server(_),
                ..
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_callback_with_an_unknown_state_is_a_notice() {
    let f = Fixture::new().await;
    let refused = f
        .core
        .flow()
        .complete_callback(CallbackParams {
            state: "no-such-state".to_owned(),
            code: Some("upstream-code".to_owned()),
            browser: Some(BROWSER.to_owned()),
            ..CallbackParams::default()
        })
        .await;
    assert!(
        matches!(refused, Err(FlowError::Notice(Notice::SignInExpired))),
        "{refused:?}"
    );
}
