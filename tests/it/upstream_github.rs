//! `kind = "github"` against a GitHub-style OAuth server (`tests/interop/github.mjs`:
//! oauth2-mock-server with GitHub's paths, 200-status errors, opaque tokens, no ID token, and
//! GitHub's REST API): the MCP TypeScript SDK's whole flow and session through dcr-bridge, a
//! GitHub App refresh that reaches the upstream, the email and org/team rules, and an
//! upstream that errs, talks garbage, stalls or refuses its own token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dcr_bridge::config::UpstreamRefresh;
use dcr_bridge::idp::{IdpError, UpstreamAuthRequest, UpstreamIdp};
use dcr_bridge::store::{PageRequest, UserRecord};
use secrecy::ExposeSecret as _;

use crate::admin::{call, BOOT};
use crate::support::app::Db;
use crate::support::github::{
    start_behind_github, start_behind_github_on, start_behind_github_with, GithubEnv, GithubProc,
};
use crate::support::interop::{assert_whole_session, refused_sign_in};
use crate::support::node::{node_or_skip, run_sdk_flow};

async fn users(env: &GithubEnv) -> Vec<UserRecord> {
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    env.app.state.core.store.list_users(&page).await.unwrap()
}

fn ok_or_panic<T>(env: &GithubEnv, r: anyhow::Result<T>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what} failed: {e:#}\ngithub log:\n{}", env.github.logs()))
}

/// The SDK flow, which must fail: `reason` is in the `login_failed` audit event, our error page
/// says `page_says`, and nobody was recorded. `None` when Node is opted out.
async fn assert_refused(
    args: &[&str],
    adjust: impl FnOnce(&mut dcr_bridge::config::UpstreamConfig),
    reason: &str,
    page_says: &str,
) -> Option<GithubEnv> {
    let env = start_behind_github(args, adjust).await?;
    let (failure, detail) = refused_sign_in(&env.app, &["--no-refresh"]).await;
    assert!(detail.contains(reason), "{detail}\n{}", env.github.logs());
    assert!(page_text(&failure).contains(page_says), "{failure}");
    assert!(users(&env).await.is_empty());
    Some(env)
}

/// The page text of a failed flow: after its heading, before "Error code".
fn page_text(failure: &str) -> &str {
    let page = failure.split("Error code").next().unwrap_or_default();
    page.rsplit("Sign-in did not complete")
        .next()
        .unwrap_or_default()
}

#[tokio::test]
async fn github_oauth_app_whole_flow_to_our_token_and_whoami() {
    let Some(env) = start_behind_github(&[], |u| {
        u.policy.allowed_orgs = vec!["ACME".into()];
        u.policy.allowed_teams = vec!["acme/platform".into()];
    })
    .await
    else {
        return;
    };
    let out = ok_or_panic(
        &env,
        run_sdk_flow(&env.app.resource(), &[]).await,
        "sdk flow",
    );
    assert_whole_session(&env.app, &env.mcp, &out).await;

    let users = users(&env).await;
    assert_eq!(users.len(), 1, "{users:?}");
    let alice = &users[0];
    // The numeric id is the key, under the web base as issuer; never the login or email.
    assert_eq!(alice.subject, "1001");
    assert_eq!(alice.issuer, env.github.web_base);
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.name.as_deref(), Some("Alice Example"));
    assert_eq!(alice.groups, ["acme", "acme/platform"]);
    let logs = env.github.logs();
    // PKCE S256 went upstream, with read:org for the org rule; no nonce; JSON at the token
    // endpoint; the API was asked who logged in.
    assert!(
        logs.contains("authorize scope=\"read:user user:email read:org\" pkce=S256"),
        "{logs}"
    );
    assert!(!logs.contains("nonce"), "{logs}");
    assert!(
        logs.contains("token grant=authorization_code -> ok (OAuth App)"),
        "{logs}"
    );
    for path in [
        "/api/v3/user -> 200",
        "/api/v3/user/emails -> 200",
        "/api/v3/user/memberships/orgs/ACME -> 200",
        "/api/v3/user/teams -> 200",
    ] {
        assert!(logs.contains(path), "{path}: {logs}");
    }
}

/// The GitHub-like mock with `args` and our GitHub upstream client for it, after an
/// authorization request the mock answered with a code: `(mock, client, code, PKCE verifier)`.
/// `None` when Node is opted out.
async fn authorized(args: &[&str]) -> Option<(GithubProc, Arc<dyn UpstreamIdp>, String, String)> {
    if !node_or_skip().await {
        return None;
    }
    let callback = "http://127.0.0.1:9/oauth/callback";
    let github = GithubProc::start(callback, args).await.unwrap();
    let mut config: dcr_bridge::config::UpstreamConfig = serde_json::from_value(
        serde_json::json!({"id": "github", "kind": "github", "client_id": "x", "client_secret": "y"}),
    )
    .unwrap();
    github.configure(&mut config);
    let idp = dcr_bridge::idp::build(&config, callback, Arc::new(dcr_bridge::clock::SystemClock))
        .unwrap();
    let (verifier, challenge) = dcr_bridge::idp::new_pkce();
    let url = idp
        .authorization_url(&UpstreamAuthRequest {
            state: "st".into(),
            nonce: "unused".into(),
            pkce_challenge: challenge,
            force_login: false,
            login_hint: None,
        })
        .await
        .unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects.get(url).send().await.unwrap();
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code: {location}\n{}", github.logs()));
    Some((github, idp, code, verifier))
}

/// A GitHub App: the code exchange gives an expiring token and a refresh token; `refresh`
/// reaches GitHub, gets the rotated pair, and the used refresh token is dead after it.
#[tokio::test]
async fn github_app_refresh_reaches_github_and_rotates() {
    let Some((github, idp, code, verifier)) = authorized(&["--app"]).await else {
        return;
    };
    let login = idp.exchange_code(&code, &verifier, "unused").await.unwrap();
    assert_eq!(login.identity.subject, "1001");
    let first = login.tokens;
    assert!(first.expires_at.is_some(), "GitHub App tokens expire");
    let old = first.refresh_token.expect("GitHub App refresh token");
    let refreshed = idp.refresh(old.expose_secret(), "1001").await.unwrap();
    let new = refreshed.refresh_token.expect("rotated refresh token");
    assert_ne!(new.expose_secret(), old.expose_secret());
    assert_ne!(
        refreshed.access_token.expose_secret(),
        first.access_token.expose_secret()
    );
    assert!(github
        .logs()
        .contains("token grant=refresh_token -> ok (rotated)"));
    // The used one is dead (GitHub: 200 + bad_refresh_token), reported as invalid_grant.
    match idp.refresh(old.expose_secret(), "1001").await {
        Err(IdpError::Rejected { error, description }) => {
            assert_eq!(error, "invalid_grant");
            assert!(description
                .unwrap_or_default()
                .contains("bad_refresh_token"));
        }
        other => panic!("{:?}", other.map(|t| t.to_json())),
    }
    // The admin/`check` probe: no discovery, the API root answers.
    let summary = idp.check().await.unwrap();
    assert_eq!(summary["kind"], "github");
    assert_eq!(summary["installed_version"], "3.14.0");
    assert_eq!(summary["api_base"], format!("{}/api/v3", github.web_base));
}

#[tokio::test]
async fn only_a_primary_verified_email_is_taken() {
    let bob = r#"{"id": 2002, "login": "bob", "name": null, "email": "bob@public.example",
        "emails": [{"email": "bob@example.com", "primary": true, "verified": false},
                   {"email": "bob@other.example", "primary": false, "verified": true}]}"#;
    let Some(env) = start_behind_github(&["--app", "--user-json", bob], |_| {}).await else {
        return;
    };
    ok_or_panic(
        &env,
        run_sdk_flow(&env.app.resource(), &["--no-refresh"]).await,
        "sdk flow",
    );
    let users = users(&env).await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].subject, "2002");
    assert_eq!(users[0].email, None, "{:?}", users[0]);
    // No display name: the login stands in.
    assert_eq!(users[0].name.as_deref(), Some("bob"));
}

#[tokio::test]
async fn a_user_outside_the_allowed_org_is_refused_with_a_clear_page() {
    let outsider = r#"{"orgs": {"acme": "pending", "other-org": "active"}, "teams": []}"#;
    assert_refused(
        &["--user-json", outsider],
        |u| u.policy.allowed_orgs = vec!["acme".into()],
        "policy_github_org",
        "not an active member of a GitHub organisation",
    )
    .await;
}

#[tokio::test]
async fn a_user_outside_the_allowed_teams_is_refused() {
    assert_refused(
        &[],
        |u| u.policy.allowed_teams = vec!["acme/security".into()],
        "policy_github_team",
        "not a member of a GitHub team",
    )
    .await;
}

#[tokio::test]
async fn a_200_status_error_at_the_token_endpoint_fails_the_sign_in_clearly() {
    let refused = assert_refused(
        &["--token-error", "bad_verification_code"],
        |_| {},
        "access_denied",
        "the identity provider rejected the sign-in",
    );
    if let Some(env) = refused.await {
        let logs = env.github.logs();
        assert!(logs.contains("-> bad_verification_code"), "{logs}");
    }
}

#[tokio::test]
async fn garbage_from_the_token_endpoint_is_an_unavailable_upstream() {
    assert_refused(
        &["--token-garbage"],
        |_| {},
        "temporarily_unavailable",
        "cannot be reached",
    )
    .await;
}

/// The callback waits for GitHub only until the outbound client's total timeout (15 s). Tested
/// at the upstream client: a browser that gives up earlier cancels our callback with it.
#[tokio::test]
async fn a_stalled_token_endpoint_is_given_up_on_within_the_timeout() {
    let Some((github, idp, code, verifier)) = authorized(&["--token-delay", "60"]).await else {
        return;
    };
    let started = Instant::now();
    let result = idp.exchange_code(&code, &verifier, "unused").await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(IdpError::Unavailable(_))),
        "{:?}\n{}",
        result.map(|l| l.identity),
        github.logs()
    );
    assert!(took < Duration::from_secs(25), "{took:?}");
}

#[tokio::test]
async fn a_401_from_the_user_api_refuses_the_sign_in() {
    let refused = assert_refused(
        &["--user-status", "401"],
        |_| {},
        "access_denied",
        "the identity provider rejected the sign-in",
    );
    if let Some(env) = refused.await {
        assert!(env.github.logs().contains("/api/v3/user -> 401"));
    }
}

/// The admin API's upstream test: no discovery for GitHub, the API root answers; the summary
/// warns that nobody but GitHub decides who signs in.
#[tokio::test]
async fn the_admin_upstream_test_asks_the_github_api() {
    let Some(env) = start_behind_github_with(&[], |c| {
        c.admin_token = Some(secrecy::SecretString::from(BOOT.to_owned()));
    })
    .await
    else {
        return;
    };
    let (s, _, b) = call(
        &env.app,
        reqwest::Method::POST,
        "/admin/v1/upstreams/github/test",
        Some(BOOT),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "ok", "{b}");
    assert_eq!(b["kind"], "github", "{b}");
    assert_eq!(b["issuer"], env.github.web_base, "{b}");
    let found = &b["discovery"];
    assert_eq!(
        found["token_endpoint"],
        format!("{}/login/oauth/access_token", env.github.web_base),
        "{b}"
    );
    assert_eq!(
        found["scopes"],
        serde_json::json!(["read:user", "user:email"])
    );
    assert!(
        found["warnings"][0]
            .as_str()
            .unwrap_or_default()
            .contains("anyone with a GitHub account"),
        "{b}"
    );
    assert!(env.github.logs().contains("GET /api/v3/meta -> 200"));
}

/// `[upstreams.refresh]` of the re-confirmation tests.
const RECHECK: i64 = 60;

/// What the MCP client holds after signing in: its id and our tokens.
struct Held {
    client_id: String,
    refresh_token: String,
}

/// dcr-bridge on `db` behind the mock with `args`, alice allowed through the `acme` org, and
/// signed in (the SDK's whole flow, no refresh yet). `None` when Node or Postgres is opted out.
async fn signed_in_through_acme(db: Db, args: &[&str]) -> Option<(GithubEnv, Held)> {
    let env = start_behind_github_on(db, args, |c| {
        let u = &mut c.upstreams[0];
        u.policy.allowed_orgs = vec!["acme".into()];
        u.refresh = UpstreamRefresh {
            recheck_interval_seconds: RECHECK as u64,
            max_staleness_seconds: 600,
            retry_interval_seconds: 30,
        };
    })
    .await?;
    let out = ok_or_panic(
        &env,
        run_sdk_flow(&env.app.resource(), &["--no-refresh"]).await,
        "sdk flow",
    );
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let held = Held {
        client_id: s(&out["client_information"]["client_id"]),
        refresh_token: s(&out["tokens"]["refresh_token"]),
    };
    Some((env, held))
}

/// Our refresh with `held`'s refresh token; on success `held` keeps the new one.
async fn refresh(env: &GithubEnv, held: &mut Held) -> (u16, serde_json::Value) {
    let res = env.app.refresh(&held.refresh_token, &held.client_id).await;
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap();
    if status == 200 {
        held.refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    }
    (status, body)
}

/// The detail of the newest audit event of `kind` (`upstream_revoked`: the upstream ended the
/// grant; `policy_revoked`: the access policy no longer admits the user).
async fn revoked_detail(env: &GithubEnv, kind: &str) -> String {
    let events = env
        .app
        .state
        .core
        .store
        .list_audit_events(30)
        .await
        .unwrap();
    events
        .iter()
        .find(|e| e.kind == kind)
        .and_then(|e| e.detail.clone())
        .unwrap_or_else(|| panic!("no {kind} event: {events:?}"))
}

/// A GitHub App (expiring user tokens, rotating refresh tokens): once the grant is due, our
/// refresh refreshes at GitHub and asks the API again; after the user is dropped from the
/// allowed org, the next due refresh revokes our grant (`invalid_grant`, audited with the
/// policy's reason) and GitHub is not asked again.
async fn github_app_refresh_rechecks_the_org_and_a_dropped_user_loses_access(db: Db) {
    let Some((env, mut held)) = signed_in_through_acme(db, &["--app"]).await else {
        return;
    };
    let gh = &env.github;
    assert_eq!(refresh(&env, &mut held).await.0, 200, "not due yet");
    assert_eq!(gh.stats().await["refreshes"], 0);
    env.app.clock.advance(RECHECK + 1);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(status, 200, "{body}\n{}", gh.logs());
    let st = gh.stats().await;
    assert_eq!(
        (st["refreshes"].as_i64(), st["user_calls"].as_i64()),
        (Some(1), Some(2)),
        "{st}"
    );
    assert!(gh
        .logs()
        .contains("token grant=refresh_token -> ok (rotated)"));

    gh.control("org?org=acme&state=none").await;
    env.app.clock.advance(RECHECK + 1);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // A policy refusal at re-confirmation, as for OpenID kinds (the policy engineer's
    // `policy_revoked`), with the policy's reason.
    assert!(revoked_detail(&env, "policy_revoked")
        .await
        .contains("\"reason\":\"policy_github_org\""));
    // Revoked: the same token again is refused without asking GitHub.
    let (status, _) = refresh(&env, &mut held).await;
    assert_eq!(status, 400);
    assert_eq!(gh.stats().await["refreshes"], 2, "{}", gh.logs());
}

/// An OAuth App (tokens that never expire, no refresh token): at the recheck interval our
/// refresh asks the API with the stored token; once the user revoked the app at GitHub (the API
/// answers 401), our grant is revoked.
async fn oauth_app_token_is_rechecked_with_the_api_and_a_revoked_app_ends_the_grant(db: Db) {
    let Some((env, mut held)) = signed_in_through_acme(db, &[]).await else {
        return;
    };
    let gh = &env.github;
    env.app.clock.advance(RECHECK + 1);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(status, 200, "{body}\n{}", gh.logs());
    let st = gh.stats().await;
    assert_eq!(
        (st["refreshes"].as_i64(), st["user_calls"].as_i64()),
        (Some(0), Some(2)),
        "{st}"
    );
    // Confirmed just now: not asked again.
    assert_eq!(refresh(&env, &mut held).await.0, 200);
    assert_eq!(gh.stats().await["user_calls"], 2);

    gh.control("revoke").await;
    env.app.clock.advance(RECHECK + 1);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(gh.logs().contains("/api/v3/user -> 401"), "{}", gh.logs());
    let detail = revoked_detail(&env, "upstream_revoked").await;
    assert!(
        detail.contains("\"upstream_error\":\"invalid_token\""),
        "{detail}"
    );
}

/// The user API fails (5xx) at a due re-confirmation after GitHub rotated the refresh token:
/// the grant is kept (within `max_staleness_seconds`), the rotated token is kept, and the next
/// attempt after the back-off works with it.
async fn a_failing_user_api_after_a_rotation_keeps_the_grant_and_the_new_token(db: Db) {
    let Some((env, mut held)) = signed_in_through_acme(db, &["--app"]).await else {
        return;
    };
    let gh = &env.github;
    gh.control("api?status=502").await;
    env.app.clock.advance(RECHECK + 1);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(status, 200, "within max_staleness: {body}\n{}", gh.logs());
    assert_eq!(gh.stats().await["refreshes"], 1);
    gh.control("api?status=200").await;
    // Backing off: not asked again yet.
    assert_eq!(refresh(&env, &mut held).await.0, 200);
    assert_eq!(gh.stats().await["refreshes"], 1);
    env.app.clock.advance(31);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(status, 200, "{body}\n{}", gh.logs());
    // The rotated refresh token was stored and used: no bad_refresh_token.
    assert_eq!(gh.stats().await["refreshes"], 2);
    assert!(!gh.logs().contains("bad_refresh_token"), "{}", gh.logs());
}

crate::admin::on_both_databases!(
    github_app_refresh_rechecks_the_org_and_a_dropped_user_loses_access,
    oauth_app_token_is_rechecked_with_the_api_and_a_revoked_app_ends_the_grant,
    a_failing_user_api_after_a_rotation_keeps_the_grant_and_the_new_token,
);
