//! The upstream kinds (`kind = "okta" | "entra" | "google"`) configured with nothing but issuer,
//! client id, secret and the default scopes, against the certified `oidc-provider` made to look
//! like each IdP (`tests/interop/upstream.mjs` look-alike flags): the MCP TypeScript SDK's
//! whole flow, MCP session and refresh through dcr-bridge.

use dcr_bridge::config::{UpstreamConfig, UpstreamKind};
use dcr_bridge::store::{PageRequest, UserRecord};

use crate::support::interop::{assert_whole_session, start_behind_upstream, Interop};
use crate::support::mcp_server::McpMode;
use crate::support::node::{node_or_skip, run_sdk_flow, OidcProviderProc};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "5f1c6b4e-0d2a-4c1e-9a77-3b8e2d9c1f00";
/// The `oid` upstream.mjs gives its first user (alice) in Entra mode.
const ALICE_OID: &str = "00000000-0000-4000-8000-000000000001";

/// dcr-bridge whose one upstream is `upstream.mjs` with `args`, of `kind`, at the issuer
/// `issuer` picks; `policy` adjusts the rest. `None` when Node is opted out.
async fn kind_env(
    args: &[&str],
    kind: UpstreamKind,
    issuer: impl FnOnce(&OidcProviderProc) -> String,
    adjust: impl FnOnce(&mut UpstreamConfig),
) -> Option<Interop> {
    if !node_or_skip().await {
        return None;
    }
    Some(
        start_behind_upstream(McpMode::Stateful, args, |up, c| {
            let u = &mut c.upstreams[0];
            u.kind = kind;
            u.issuer = Some(issuer(up).parse().unwrap());
            // Every refresh of ours goes upstream first (the token vault), so the session's
            // refresh proves the kind's upstream refresh works.
            u.refresh.recheck_interval_seconds = 0;
            adjust(u);
        })
        .await,
    )
}

/// Alice's whole SDK session (tokens for the MCP resource, whoami, refresh, whoami again), whose
/// refresh reached the upstream; returns the one user it recorded.
async fn alice_session(env: &Interop) -> UserRecord {
    let out = env.upstream.ok_or_panic(
        run_sdk_flow(&env.app.resource(), &["--login", "00u1alice"]).await,
        "sdk flow",
    );
    assert_whole_session(&env.app, &env.mcp, &out).await;
    let url = format!("http://127.0.0.1:{}/__control/stats", env.upstream.port);
    let stats: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert!(
        stats["refreshes"].as_i64().unwrap_or(0) >= 1,
        "our refresh did not reach the upstream: {stats}\n{}",
        env.upstream.logs()
    );
    let mut users = users(env).await;
    assert_eq!(users.len(), 1, "{users:?}");
    users.remove(0)
}

/// An Entra look-alike of [`TENANT`], configured at the issuer with `tenant` as its tenant
/// segment (`None`: [`TENANT`] itself) and with `allowed_tenants`.
async fn entra_env(tenant: Option<&str>, allowed_tenants: &[&str]) -> Option<Interop> {
    let segment = tenant.unwrap_or(TENANT).to_owned();
    let allowed: Vec<String> = allowed_tenants.iter().map(|t| (*t).to_owned()).collect();
    kind_env(
        &["--entra-tenant", TENANT],
        UpstreamKind::Entra,
        |up| format!("http://127.0.0.1:{}/{segment}/v2.0", up.port),
        |u| u.policy.allowed_tenants = allowed,
    )
    .await
}

/// `login`'s SDK flow, which must fail: the failure's text (with our error page's), and the
/// detail of the `login_failed` audit event.
async fn refused_sign_in(env: &Interop, login: &str) -> (String, String) {
    crate::support::interop::refused_sign_in(&env.app, &["--login", login, "--no-refresh"]).await
}

async fn users(env: &Interop) -> Vec<UserRecord> {
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    env.app.state.core.store.list_users(&page).await.unwrap()
}

#[tokio::test]
async fn okta_kind_on_a_custom_authorization_server_asks_for_groups() {
    let Some(env) = kind_env(
        &["--offline-access-without-prompt"],
        UpstreamKind::Okta,
        |up| up.issuer.clone(),
        |_| {},
    )
    .await
    else {
        return;
    };
    let alice = alice_session(&env).await;
    assert_eq!(alice.subject, "00u1alice");
    // The default scopes have no `groups`; the kind added it because discovery offers it.
    assert_eq!(alice.groups, ["engineering"], "{}", env.upstream.logs());
}

#[tokio::test]
async fn entra_kind_single_tenant_keys_users_by_tid_and_oid() {
    let Some(env) = entra_env(None, &[]).await else {
        return;
    };
    let alice = alice_session(&env).await;
    assert_eq!(alice.subject, format!("{TENANT}/{ALICE_OID}"));
    assert_eq!(alice.issuer, env.upstream.issuer);
    let logs = env.upstream.logs();
    assert!(!logs.contains("entra refused"), "{logs}");
}

#[tokio::test]
async fn entra_kind_multi_tenant_verifies_the_issuer_template_and_allowed_tenants() {
    let Some(env) = entra_env(Some("organizations"), &[TENANT]).await else {
        return;
    };
    let alice = alice_session(&env).await;
    // The user's issuer is their tenant's, from the template and `tid`.
    assert_eq!(alice.issuer, env.upstream.issuer);
    assert_eq!(alice.subject, format!("{TENANT}/{ALICE_OID}"));
}

#[tokio::test]
async fn entra_kind_multi_tenant_refuses_a_tenant_not_allowed() {
    let Some(env) = entra_env(Some("common"), &[OTHER_TENANT]).await else {
        return;
    };
    let (_, detail) = refused_sign_in(&env, "00u1alice").await;
    assert!(detail.contains("policy_tenant"), "{detail}");
    assert!(users(&env).await.is_empty());
}

#[tokio::test]
async fn google_kind_gets_its_refresh_token_from_access_type_offline_not_a_scope() {
    let Some(env) = kind_env(
        &["--google"],
        UpstreamKind::Google,
        |up| up.issuer.clone(),
        |u| {
            // The default scopes include offline_access, which Google refuses as a scope.
            assert!(u.scopes.iter().any(|s| s == "offline_access"));
        },
    )
    .await
    else {
        return;
    };
    let alice = alice_session(&env).await;
    assert_eq!(alice.subject, "00u1alice");
    let logs = env.upstream.logs();
    assert!(logs.contains("google offline grant"), "{logs}");
    assert!(!logs.contains("google refused"), "{logs}");
}

#[tokio::test]
async fn entra_kind_tells_an_unassigned_user_so_in_its_own_words() {
    let Some(env) = entra_env(None, &[]).await else {
        return;
    };
    // An unknown user is "not assigned" (AADSTS50105) at the look-alike. Our callback answers
    // with the error page, which names the reason in our words.
    let (failure, detail) = refused_sign_in(&env, "00u9stranger").await;
    assert!(detail.contains("access_denied"), "{detail}");
    assert!(
        failure.contains("/oauth/callback?error=access_denied"),
        "{failure}"
    );
    // The page's text: after its heading, before "Error code".
    let page = failure.split("Error code").next().unwrap_or_default();
    let page = page
        .rsplit("Sign-in did not complete")
        .next()
        .unwrap_or_default();
    assert!(
        page.contains("your account is not assigned to this application in Microsoft Entra ID"),
        "{failure}"
    );
    // Entra's own text stays in the log, off the page.
    assert!(!page.contains("AADSTS"), "{page}");
}

#[tokio::test]
async fn entra_kind_groups_overage_is_refused_clearly_where_groups_decide() {
    // Dave is in more groups than Entra puts in a token: `_claim_names` points at Graph.
    let dave = r#"{"00u4dave":{"email":"dave@example.com","name":"Dave",
        "_claim_names":{"groups":"src1"},
        "_claim_sources":{"src1":{"endpoint":"https://graph.microsoft.com/v1.0/users/d/getMemberObjects"}}}}"#;
    let Some(env) = kind_env(
        &["--entra-tenant", TENANT, "--users-json", dave],
        UpstreamKind::Entra,
        |up| up.issuer.clone(),
        |u| {
            u.scopes.push("groups".to_owned());
            u.policy.allowed_groups = vec!["engineering".to_owned()];
        },
    )
    .await
    else {
        return;
    };
    let (failure, detail) = refused_sign_in(&env, "00u4dave").await;
    assert!(
        failure.contains("too many groups"),
        "{failure}\n{}",
        env.upstream.logs()
    );
    assert!(detail.contains("policy_groups_overage"), "{detail}");
}
