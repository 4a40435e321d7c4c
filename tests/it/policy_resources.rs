//! Access policy per resource (issue 13 item 3), against the certified `oidc-provider`
//! (`tests/interop/upstream.mjs`) and the MCP TypeScript SDK: `[resources.policy]` on top of
//! `[upstreams.policy]`, Google Workspace by the verified `hd` claim, group→scope mapping
//! (`[[resources.scope_grants]]`) seen in the token response and enforced by the gateway's tool
//! scopes, the policy applied again when the upstream re-confirms the user at our refresh (a
//! user removed from a group upstream loses the grant), and the user claims `[tokens]
//! access_token_claims` puts into access tokens and introspection answers.

use std::collections::BTreeMap;

use dcr_bridge::config::{
    AccessPolicy, AccessTokenClaim, Config, ScopeGrant, UpstreamKind, UpstreamRefresh,
};
use serde_json::{json, Value};

use crate::support::app::{jwt_claims, status_json, Db, TestApp};
use crate::support::interop::{refused_sign_in, start_behind_upstream_on, Interop};
use crate::support::mcp_server::McpMode;
use crate::support::node::{node_or_skip, run_sdk_flow, OidcProviderProc};

/// `[upstreams.refresh] recheck_interval_seconds` of the refresh tests.
const RECHECK: i64 = 60;

/// dcr-bridge on `db` behind `upstream.mjs` with `args` (`kind` at its issuer, asking for the
/// `groups` scope), the stateless SDK MCP server behind `/mcp`, then `tweak`ed; `None` when
/// Node or Postgres is opted out.
async fn env_on(
    db: Db,
    args: &[&str],
    kind: UpstreamKind,
    tweak: impl FnOnce(&mut Config),
) -> Option<Interop> {
    if !node_or_skip().await {
        return None;
    }
    start_behind_upstream_on(db, McpMode::Stateless, args, |up, c| {
        let u = &mut c.upstreams[0];
        u.kind = kind;
        u.issuer = Some(up.issuer.parse().unwrap());
        if kind != UpstreamKind::Google {
            u.scopes.push("groups".into());
        }
        u.refresh = UpstreamRefresh {
            recheck_interval_seconds: RECHECK as u64,
            ..UpstreamRefresh::default()
        };
        tweak(c);
    })
    .await
}

/// The Okta-like generic upstream (`alice` in engineering, `bob` in sales).
async fn generic_env(db: Db, tweak: impl FnOnce(&mut Config)) -> Option<Interop> {
    env_on(
        db,
        &["--offline-access-without-prompt"],
        UpstreamKind::Oidc,
        tweak,
    )
    .await
}

/// What the MCP client holds after signing in.
struct Held {
    client_id: String,
    refresh_token: String,
    access_token: String,
    /// The token response's `scope`.
    scope: String,
}

/// `login`'s whole SDK flow without refresh, with `extra` arguments.
async fn sign_in(env: &Interop, login: &str, extra: &[&str]) -> Held {
    let mut args = vec!["--login", login, "--no-refresh"];
    args.extend_from_slice(extra);
    let out = env
        .upstream
        .ok_or_panic(run_sdk_flow(&env.app.resource(), &args).await, "sdk flow");
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    Held {
        client_id: s(&out["client_information"]["client_id"]),
        refresh_token: s(&out["tokens"]["refresh_token"]),
        access_token: s(&out["tokens"]["access_token"]),
        scope: s(&out["tokens"]["scope"]),
    }
}

/// `login`'s SDK flow, which must be refused: the failure text and the `login_failed` detail.
async fn refused(env: &Interop, login: &str) -> (String, String) {
    refused_sign_in(&env.app, &["--login", login, "--no-refresh"]).await
}

async fn control(up: &OidcProviderProc, path_and_query: &str) {
    let url = format!("http://127.0.0.1:{}/__control/{path_and_query}", up.port);
    let res = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path_and_query}");
}

/// Our refresh with `held`'s refresh token; on success `held` keeps the new tokens.
async fn refresh(env: &Interop, held: &mut Held) -> (u16, Value) {
    let (status, body) =
        status_json(env.app.refresh(&held.refresh_token, &held.client_id).await).await;
    if status == 200 {
        held.refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
        held.access_token = body["access_token"].as_str().unwrap().to_owned();
    }
    (status, body)
}

async fn audit_detail(app: &TestApp, kind: &str) -> Option<String> {
    let events = app.state.core.store.list_audit_events(50).await.unwrap();
    events
        .iter()
        .find(|e| e.kind == kind)
        .map(|e| e.detail.clone().unwrap_or_default())
}

fn groups(list: &[&str]) -> AccessPolicy {
    AccessPolicy {
        allowed_groups: list.iter().map(|s| (*s).to_owned()).collect(),
        ..AccessPolicy::default()
    }
}

#[tokio::test]
async fn resource_policy_refuses_a_user_the_upstream_policy_admits() {
    let Some(env) = generic_env(Db::Sqlite, |c| {
        c.upstreams[0].policy = AccessPolicy {
            allowed_email_domains: vec!["example.com".into()],
            ..AccessPolicy::default()
        };
        c.resources[0].policy = groups(&["engineering"]);
    })
    .await
    else {
        return;
    };
    // bob@example.com passes the upstream's domain rule, not the resource's group rule.
    let (failure, detail) = refused(&env, "00u2bob").await;
    assert!(failure.contains("access_denied"), "{failure}");
    assert!(
        failure.contains("not in a group allowed") && failure.contains("its own access policy"),
        "{failure}"
    );
    assert!(detail.contains("\"resource_policy_groups\""), "{detail}");
    assert!(
        audit_detail(&env.app, "consented").await.is_none(),
        "no code for bob"
    );
    // alice is in engineering: both policies admit her.
    let alice = sign_in(&env, "00u1alice", &[]).await;
    assert_eq!(
        jwt_claims(&alice.access_token)["aud"],
        env.app.resource().as_str()
    );
}

#[tokio::test]
async fn upstream_policy_is_asked_first_and_named_as_before() {
    let Some(env) = generic_env(Db::Sqlite, |c| {
        c.upstreams[0].policy = groups(&["engineering"]);
        c.resources[0].policy = groups(&["sales"]);
    })
    .await
    else {
        return;
    };
    let (_, detail) = refused(&env, "00u2bob").await;
    assert!(detail.contains("\"policy_groups\""), "{detail}");
    assert!(!detail.contains("resource_policy"), "{detail}");
}

/// Google look-alike users: alice (hd example.com, from her email), dave (a consumer account:
/// no hd), erin (another Workspace).
const GOOGLE_USERS: &str = r#"{
  "g-dave": {"email": "dave@gmail.com", "email_verified": true, "name": "Dave", "hd": null},
  "g-erin": {"email": "erin@other.example", "email_verified": true, "name": "Erin"}
}"#;

#[tokio::test]
async fn google_workspace_is_restricted_by_the_hd_claim_and_hinted_upstream() {
    let Some(env) = env_on(
        Db::Sqlite,
        &["--google", "--users-json", GOOGLE_USERS],
        UpstreamKind::Google,
        |c| c.upstreams[0].policy.allowed_hosted_domains = vec!["example.com".into()],
    )
    .await
    else {
        return;
    };
    sign_in(&env, "00u1alice", &[]).await;
    let logs = env.upstream.logs();
    assert!(logs.contains("google hd hint example.com"), "{logs}");

    let (failure, detail) = refused(&env, "g-dave").await;
    assert!(detail.contains("\"policy_no_hosted_domain\""), "{detail}");
    assert!(failure.contains("personal Google account"), "{failure}");

    let (failure, detail) = refused(&env, "g-erin").await;
    assert!(detail.contains("\"policy_hosted_domain\""), "{detail}");
    assert!(
        failure.contains("Google Workspace organisation"),
        "{failure}"
    );
}

#[tokio::test]
async fn google_hosted_domain_on_the_resource_only_and_two_domains_send_no_hint() {
    let Some(env) = env_on(
        Db::Sqlite,
        &["--google", "--users-json", GOOGLE_USERS],
        UpstreamKind::Google,
        |c| {
            c.resources[0].policy.allowed_hosted_domains =
                vec!["example.com".into(), "other.example".into()];
        },
    )
    .await
    else {
        return;
    };
    sign_in(&env, "g-erin", &[]).await;
    let (_, detail) = refused(&env, "g-dave").await;
    assert!(
        detail.contains("\"resource_policy_no_hosted_domain\""),
        "{detail}"
    );
    let logs = env.upstream.logs();
    assert!(!logs.contains("google hd hint"), "{logs}");
}

/// `/mcp` with `mcp:write` reserved to engineering and the `echo` tool needing it.
fn write_for_engineering(c: &mut Config) {
    let r = &mut c.resources[0];
    r.scope_grants = vec![ScopeGrant {
        groups: vec!["engineering".into()],
        scopes: vec!["mcp:write".into()],
    }];
    r.tool_scopes = BTreeMap::from([("echo".to_owned(), vec!["mcp:write".to_owned()])]);
}

/// A `tools/call` of `echo` through the gateway with `token`.
async fn call_echo(app: &TestApp, token: &str) -> reqwest::Response {
    app.api
        .post(app.resource())
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"text": "hi"}}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn scope_grants_narrow_the_granted_scope_and_the_gateway_refuses_the_rest() {
    let Some(env) = generic_env(Db::Sqlite, write_for_engineering).await else {
        return;
    };
    // No scope asked: the resource's defaults (mcp:read mcp:write); bob may have mcp:read only,
    // and the token response says so.
    let bob = sign_in(&env, "00u2bob", &[]).await;
    assert_eq!(bob.scope, "mcp:read");
    assert_eq!(jwt_claims(&bob.access_token)["scope"], "mcp:read");
    let res = call_echo(&env.app, &bob.access_token).await;
    assert_eq!(res.status(), 403);
    let challenge = crate::support::app::header(&res, "www-authenticate");
    assert!(challenge.contains("insufficient_scope"), "{challenge}");

    let alice = sign_in(&env, "00u1alice", &[]).await;
    assert_eq!(alice.scope, "mcp:read mcp:write");
    let res = call_echo(&env.app, &alice.access_token).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // A refresh never widens: bob's refresh token asks in vain for mcp:write.
    let (status, body) = status_json(
        env.app
            .token(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &bob.refresh_token),
                ("client_id", &bob.client_id),
                ("scope", "mcp:read mcp:write"),
            ])
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope");
}

#[tokio::test]
async fn nothing_left_of_the_requested_scope_is_access_denied() {
    // The resource's one scope is reserved: the SDK's request (the defaults) has nothing for bob.
    let Some(env) = generic_env(Db::Sqlite, |c| {
        write_for_engineering(c);
        c.resources[0].scopes = vec!["mcp:write".into()];
    })
    .await
    else {
        return;
    };
    let (failure, detail) = refused(&env, "00u2bob").await;
    assert!(failure.contains("access_denied"), "{failure}");
    assert!(
        failure.contains("mcp:write") && failure.contains("reserved to groups"),
        "{failure}"
    );
    assert!(detail.contains("\"scope_not_granted\""), "{detail}");
}

/// alice signs in, is confirmed at her next due refresh, then loses `engineering` upstream: the
/// next due refresh re-reads her groups from the refreshed ID token and our grant ends.
async fn group_removal_ends_the_grant(db: Db, tweak: fn(&mut Config), reason: &str) {
    let Some(env) = generic_env(db, tweak).await else {
        return;
    };
    let mut alice = sign_in(&env, "00u1alice", &[]).await;
    env.app.clock.advance(RECHECK + 1);
    let (status, body) = refresh(&env, &mut alice).await;
    assert_eq!(status, 200, "{body}\n{}", env.upstream.logs());

    control(&env.upstream, "groups?user=00u1alice&groups=sales").await;
    // Not due yet: nothing asked upstream, nothing changes.
    assert_eq!(refresh(&env, &mut alice).await.0, 200);
    env.app.clock.advance(RECHECK + 1);
    let (status, body) = refresh(&env, &mut alice).await;
    assert_eq!(status, 400, "{body}\n{}", env.upstream.logs());
    assert_eq!(body["error"], "invalid_grant");
    let detail = audit_detail(&env.app, "policy_revoked")
        .await
        .expect("a policy_revoked audit event");
    assert!(detail.contains(&format!("\"{reason}\"")), "{detail}");
    // The grant is gone: its access token too.
    assert_eq!(
        env.app.introspect(&alice.access_token).await["active"],
        false
    );
}

#[tokio::test]
async fn group_removal_upstream_ends_the_grant_at_the_next_refresh_sqlite() {
    group_removal_ends_the_grant(
        Db::Sqlite,
        |c| c.upstreams[0].policy = groups(&["engineering"]),
        "policy_groups",
    )
    .await;
}

#[tokio::test]
async fn group_removal_upstream_ends_the_grant_at_the_next_refresh_postgres() {
    group_removal_ends_the_grant(
        Db::Postgres,
        |c| c.resources[0].policy = groups(&["engineering"]),
        "resource_policy_groups",
    )
    .await;
}

#[tokio::test]
async fn losing_the_group_of_a_held_scope_ends_the_grant_at_the_next_refresh() {
    for db in [Db::Sqlite, Db::Postgres] {
        group_removal_ends_the_grant(db, write_for_engineering, "scope_not_granted").await;
    }
}

#[tokio::test]
async fn access_token_claims_are_chosen_by_config() {
    let all = [
        AccessTokenClaim::Email,
        AccessTokenClaim::Name,
        AccessTokenClaim::Groups,
    ];
    let Some(env) = generic_env(Db::Sqlite, |c| c.tokens.access_token_claims = all.to_vec()).await
    else {
        return;
    };
    let mut alice = sign_in(&env, "00u1alice", &[]).await;
    let claims = jwt_claims(&alice.access_token);
    assert_eq!(claims["email"], "alice@example.com", "{claims}");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["groups"], json!(["engineering"]));
    let seen = env.app.introspect(&alice.access_token).await;
    assert_eq!(seen["email"], "alice@example.com", "{seen}");
    assert_eq!(seen["name"], "Alice Example");
    assert_eq!(seen["groups"], json!(["engineering"]));
    // Refreshed tokens carry them too.
    assert_eq!(refresh(&env, &mut alice).await.0, 200);
    assert_eq!(
        jwt_claims(&alice.access_token)["groups"],
        json!(["engineering"])
    );

    // Only the chosen ones.
    let Some(env) = generic_env(Db::Sqlite, |c| {
        c.tokens.access_token_claims = vec![AccessTokenClaim::Groups];
    })
    .await
    else {
        return;
    };
    let alice = sign_in(&env, "00u1alice", &[]).await;
    let claims = jwt_claims(&alice.access_token);
    assert_eq!(claims["groups"], json!(["engineering"]), "{claims}");
    assert!(
        claims.get("email").is_none() && claims.get("name").is_none(),
        "{claims}"
    );
}

#[tokio::test]
async fn access_tokens_carry_no_user_claims_by_default() {
    let Some(env) = generic_env(Db::Sqlite, |_| {}).await else {
        return;
    };
    let alice = sign_in(&env, "00u1alice", &[]).await;
    let claims = jwt_claims(&alice.access_token);
    for c in ["email", "name", "groups"] {
        assert!(claims.get(c).is_none(), "{c}: {claims}");
    }
    let seen = env.app.introspect(&alice.access_token).await;
    assert_eq!(seen["active"], true);
    for c in ["email", "name", "groups"] {
        assert!(seen.get(c).is_none(), "{c}: {seen}");
    }
}

/// GitHub names only the memberships it was asked to look up: a resource's own organisation
/// rule reaches the GitHub client although the upstream's policy names no organisation.
#[tokio::test]
async fn github_resource_org_rule_looks_up_its_own_organisations() {
    let member = crate::support::github::start_behind_github_with(&[], |c| {
        c.resources[0].policy.allowed_orgs = vec!["acme".into()];
    })
    .await;
    let Some(member) = member else {
        return;
    };
    let out = run_sdk_flow(&member.app.resource(), &["--no-refresh"]).await;
    let out = out.unwrap_or_else(|e| panic!("{e:#}\n{}", member.github.logs()));
    assert!(out["tokens"]["access_token"].is_string(), "{out}");

    let outsider = r#"{"orgs": {"acme": "pending", "other-org": "active"}, "teams": []}"#;
    let env = crate::support::github::start_behind_github_with(&["--user-json", outsider], |c| {
        c.resources[0].policy.allowed_orgs = vec!["acme".into()];
    })
    .await
    .unwrap();
    let (failure, detail) = refused_sign_in(&env.app, &["--no-refresh"]).await;
    assert!(
        detail.contains("\"resource_policy_github_org\""),
        "{detail}"
    );
    assert!(failure.contains("GitHub organisation"), "{failure}");
}
