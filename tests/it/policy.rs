//! `[upstreams.policy]`: who may sign in, checked after the upstream's ID token and before any
//! code of ours; a refusal reaches the client as `access_denied` and the audit log as
//! `login_failed` with the precise reason.

use dcr_bridge::config::AccessPolicy;

use crate::support::app::{location, query_param, Db, TestApp};

async fn app_with(policy: AccessPolicy) -> TestApp {
    TestApp::start_with(Db::Sqlite, |c| c.upstreams[0].policy = policy)
        .await
        .unwrap()
}

/// Runs the browser leg for `user`; returns the callback response.
async fn sign_in(app: &TestApp, user: &str) -> reqwest::Response {
    let callback = app.upstream_callback_for_new_client(user).await;
    app.browser.get(callback).send().await.unwrap()
}

#[tokio::test]
async fn groups_policy_admits_members_and_refuses_others_with_a_reason() {
    let app = app_with(AccessPolicy {
        allowed_groups: vec!["engineering".into()],
        ..AccessPolicy::default()
    })
    .await;
    let res = sign_in(&app, "dev-alice").await;
    assert_eq!(res.status(), 302);
    assert!(query_param(&location(&res), "code").is_some());

    let res = sign_in(&app, "dev-bob").await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("access_denied") && page.contains("group"),
        "{page}"
    );
    let events = app.state.core.store.list_audit_events(20).await.unwrap();
    let refused = events.iter().find(|e| e.kind == "login_failed").unwrap();
    assert!(refused.detail.as_deref().unwrap().contains("policy_groups"));
    // No code was issued to bob: the only grant belongs to alice.
    assert_eq!(events.iter().filter(|e| e.kind == "consented").count(), 1);
}

#[tokio::test]
async fn email_domain_policy_is_exact() {
    let app = app_with(AccessPolicy {
        allowed_email_domains: vec!["example.com".into()],
        ..AccessPolicy::default()
    })
    .await;
    assert_eq!(sign_in(&app, "dev-alice").await.status(), 302);
    let app = app_with(AccessPolicy {
        allowed_email_domains: vec!["corp.example.com".into()],
        ..AccessPolicy::default()
    })
    .await;
    assert_eq!(sign_in(&app, "dev-alice").await.status(), 400);
}

#[tokio::test]
async fn policy_domains_are_validated() {
    let app = TestApp::start().await;
    let mut config = (*app.state.config).clone();
    config.upstreams[0].policy.allowed_email_domains = vec!["*.example.com".into()];
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("policy.allowed_email_domains"), "{err}");
}
