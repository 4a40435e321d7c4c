//! The upstream token vault tied to our refresh (issue 13 item 4), against the certified
//! `oidc-provider` (`tests/interop/upstream.mjs`, refresh-token rotation on, with its test
//! controls: a refresh counter that also counts replayed refresh tokens, disabling a user, an
//! outage switch): our refresh reaches the upstream when the grant is due, once per grant under
//! concurrency, revokes our grant when the upstream ends the user's, and rides out an outage
//! within `max_staleness_seconds`.

use dcr_bridge::clock::Clock as _;
use dcr_bridge::config::{Config, UpstreamKind, UpstreamRefresh};
use dcr_bridge::store::UpstreamSession;
use serde_json::Value;

use crate::support::app::{jwt_claims, Db};
use crate::support::interop::{start_behind_upstream_on, Interop};
use crate::support::mcp_server::McpMode;
use crate::support::node::{node_or_skip, run_sdk_flow, OidcProviderProc};

const ADMIN: &str = "admin-token-for-the-vault-tests";
/// `[upstreams.refresh]` of every test here.
const RECHECK: i64 = 60;
const STALENESS: i64 = 600;
const RETRY: i64 = 30;

/// dcr-bridge on `db` behind `upstream.mjs` with `args`, its one upstream of `kind` at the
/// look-alike's issuer; `None` when Node or Postgres is opted out.
async fn vault_env(db: Db, args: &[&str], kind: UpstreamKind) -> Option<Interop> {
    if !node_or_skip().await {
        return None;
    }
    start_behind_upstream_on(db, McpMode::Stateful, args, |up, c: &mut Config| {
        c.admin_token = Some(ADMIN.to_owned().into());
        let u = &mut c.upstreams[0];
        u.kind = kind;
        u.issuer = Some(up.issuer.parse().unwrap());
        u.refresh = UpstreamRefresh {
            recheck_interval_seconds: RECHECK as u64,
            max_staleness_seconds: STALENESS as u64,
            retry_interval_seconds: RETRY as u64,
        };
    })
    .await
}

/// The Okta-like generic upstream (rotating refresh tokens).
async fn generic_env(db: Db) -> Option<Interop> {
    vault_env(db, &["--offline-access-without-prompt"], UpstreamKind::Oidc).await
}

/// What the MCP client holds after signing in: a public client's id and our tokens.
struct Held {
    client_id: String,
    refresh_token: String,
    access_token: String,
}

/// `login`'s whole SDK flow (no refresh yet).
async fn sign_in(env: &Interop, login: &str) -> Held {
    let out = env.upstream.ok_or_panic(
        run_sdk_flow(&env.app.resource(), &["--login", login, "--no-refresh"]).await,
        "sdk flow",
    );
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    Held {
        client_id: s(&out["client_information"]["client_id"]),
        refresh_token: s(&out["tokens"]["refresh_token"]),
        access_token: s(&out["tokens"]["access_token"]),
    }
}

/// Our refresh with `held`'s refresh token; on success `held` keeps the new tokens.
async fn refresh(env: &Interop, held: &mut Held) -> (u16, Value) {
    let res = env.app.refresh(&held.refresh_token, &held.client_id).await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    if status == 200 {
        held.refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
        held.access_token = body["access_token"].as_str().unwrap().to_owned();
    }
    (status, body)
}

/// The upstream's counters: `refreshes`, `replays`, `refresh_scopes`.
async fn stats(up: &OidcProviderProc) -> Value {
    let url = format!("http://127.0.0.1:{}/__control/stats", up.port);
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn control(up: &OidcProviderProc, path_and_query: &str) {
    let url = format!("http://127.0.0.1:{}/__control/{path_and_query}", up.port);
    let res = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path_and_query}");
}

/// The grant behind `held`'s access token, as the vault sees it.
async fn session(env: &Interop, held: &Held) -> UpstreamSession {
    let jti = jwt_claims(&held.access_token)["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = &env.app.state.core.store;
    let view = store.get_access_token(&jti).await.unwrap().unwrap();
    store
        .get_upstream_session(&view.grant.id)
        .await
        .unwrap()
        .unwrap()
}

/// Refreshes until due (not yet; then after the recheck interval) and checks that exactly one
/// upstream refresh happened per due refresh, no refresh token twice (rotating upstreams), and
/// that the upstream's new tokens were stored. `rotates`: the upstream rotates refresh tokens.
async fn assert_refresh_reaches_upstream(env: &Interop, held: &mut Held, rotates: bool) {
    let up = &env.upstream;
    let before = session(env, held).await;
    assert!(
        before.sealed_tokens.is_some(),
        "the login stored upstream tokens"
    );
    assert_eq!(before.checked_at, Some(env.app.clock.now()));

    // Not due: confirmed at login, less than the recheck interval ago.
    assert_eq!(refresh(env, held).await.0, 200);
    assert_eq!(stats(up).await["refreshes"], 0, "{}", up.logs());

    for round in 1..=2 {
        env.app.clock.advance(RECHECK + 1);
        let (status, body) = refresh(env, held).await;
        assert_eq!(status, 200, "{body}\n{}", up.logs());
        let st = stats(up).await;
        assert_eq!(st["refreshes"], round, "{st}\n{}", up.logs());
        let replays = if rotates { 0 } else { round - 1 };
        assert_eq!(st["replays"], replays, "{st}");
        let after = session(env, held).await;
        assert_eq!(after.checked_at, Some(env.app.clock.now()));
        assert_ne!(after.sealed_tokens, before.sealed_tokens);
        // Confirmed just now: the next refresh does not go upstream.
        assert_eq!(refresh(env, held).await.0, 200);
        assert_eq!(stats(up).await["refreshes"], round);
    }
}

async fn refresh_reaches_the_upstream_when_due(db: Db) {
    let Some(env) = generic_env(db).await else {
        return;
    };
    let mut held = sign_in(&env, "00u1alice").await;
    assert_refresh_reaches_upstream(&env, &mut held, true).await;
}

/// Eight refreshes of one grant at once, once it is due: one upstream refresh, no upstream
/// refresh token sent twice, and every caller served (one rotation, seven grace replays).
async fn concurrent_refreshes_refresh_upstream_once(db: Db) {
    let Some(env) = generic_env(db).await else {
        return;
    };
    let held = sign_in(&env, "00u1alice").await;
    env.app.clock.advance(RECHECK + 1);
    let calls = (0..8).map(|_| env.app.refresh(&held.refresh_token, &held.client_id));
    let results = futures_util::future::join_all(calls).await;
    let mut pairs = Vec::new();
    for res in results {
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{body}\n{}", env.upstream.logs());
        pairs.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    pairs.dedup();
    assert_eq!(pairs.len(), 1, "all callers got the one rotated pair");
    let st = stats(&env.upstream).await;
    assert_eq!(st["refreshes"], 1, "{st}\n{}", env.upstream.logs());
    assert_eq!(st["replays"], 0, "{st}");
}

/// Two replicas of dcr-bridge on one database (each its own upstream client and caches), eight
/// refreshes of one grant spread over both once it is due: still one upstream refresh.
async fn two_replicas_refresh_upstream_once(db: Db) {
    let Some(env) = generic_env(db).await else {
        return;
    };
    let held = sign_in(&env, "00u1alice").await;
    let config = (*env.app.state.config).clone();
    let store = dcr_bridge::store::connect(&config.database_url)
        .await
        .unwrap();
    let replica = dcr_bridge::app::build_with(config, store, env.app.clock.clone())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = tokio::spawn(dcr_bridge::app::serve(
        replica,
        listener,
        std::future::pending(),
    ));
    env.app.clock.advance(RECHECK + 1);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", held.refresh_token.as_str()),
        ("client_id", held.client_id.as_str()),
    ];
    let calls = (0..8).map(|i| {
        let base = if i % 2 == 0 { &env.app.base } else { &other };
        env.app.api.post(format!("{base}/token")).form(&form).send()
    });
    for res in futures_util::future::join_all(calls).await {
        let res = res.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{body}\n{}", env.upstream.logs());
    }
    let st = stats(&env.upstream).await;
    assert_eq!(st["refreshes"], 1, "{st}\n{}", env.upstream.logs());
    assert_eq!(st["replays"], 0, "{st}");
    server.abort();
}

/// A user disabled upstream loses access at our next due refresh: `invalid_grant`, the grant
/// and its tokens revoked (admin API), an `upstream_revoked` audit event with the reason.
async fn a_user_disabled_upstream_loses_access_at_the_next_refresh(db: Db) {
    let Some(env) = generic_env(db).await else {
        return;
    };
    let mut held = sign_in(&env, "00u1alice").await;
    let grant_id = session(&env, &held).await.grant_id;
    control(&env.upstream, "disable?user=00u1alice").await;
    // Not due yet: still served (the upstream is not asked).
    assert_eq!(refresh(&env, &mut held).await.0, 200);
    env.app.clock.advance(RECHECK + 1);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert_eq!(stats(&env.upstream).await["refreshes"], 1);

    let (code, grant) = admin_get(&env, &format!("/admin/v1/grants/{grant_id}")).await;
    assert_eq!(code, 200, "{grant}");
    assert_eq!(grant["active"], false, "{grant}");
    assert!(grant["revoked_at"].is_i64(), "{grant}");
    assert_eq!(
        env.app.introspect(&held.access_token).await["active"],
        false
    );
    // The same refresh token again: revoked, and the upstream is not asked again.
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(stats(&env.upstream).await["refreshes"], 1);

    let store = &env.app.state.core.store;
    let events = store.list_audit_events(20).await.unwrap();
    let event = events.iter().find(|e| e.kind == "upstream_revoked");
    let event = event.expect("an upstream_revoked event");
    assert_eq!(event.grant_id.as_deref(), Some(grant_id.as_str()));
    let detail = event.detail.clone().unwrap_or_default();
    assert!(
        detail.contains("\"upstream_error\":\"invalid_grant\""),
        "{detail}"
    );
}

/// The upstream goes away: our refresh still works within `max_staleness_seconds` of the last
/// confirmation (backing off between attempts), then answers 503 `temporarily_unavailable`
/// without using up the refresh token; when the upstream is back, the same token works and the
/// grant is confirmed again.
async fn an_outage_is_ridden_out_within_max_staleness(db: Db) {
    let Some(env) = generic_env(db).await else {
        return;
    };
    let mut held = sign_in(&env, "00u1alice").await;
    let login = env.app.clock.now();
    control(&env.upstream, "outage?mode=down").await;
    env.app.clock.advance(RECHECK + 1);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(status, 200, "within max_staleness: {body}");
    let s = session(&env, &held).await;
    assert_eq!(s.checked_at, Some(login), "not confirmed");
    assert_eq!(s.retry_at, Some(env.app.clock.now() + RETRY), "backing off");
    assert_eq!(s.lease_until, None, "the lease was released");

    control(&env.upstream, "outage?mode=503").await;
    env.app.clock.set(login + STALENESS + 1);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    control(&env.upstream, "outage?mode=up").await;
    // Still backing off from the last attempt: still 503, nothing sent upstream.
    let (status, _) = refresh(&env, &mut held).await;
    assert_eq!(status, 503);
    assert_eq!(stats(&env.upstream).await["refreshes"], 0);
    env.app.clock.advance(RETRY);
    let (status, body) = refresh(&env, &mut held).await;
    assert_eq!(status, 200, "recovered with the same refresh token: {body}");
    assert_eq!(stats(&env.upstream).await["refreshes"], 1);
    assert_eq!(
        session(&env, &held).await.checked_at,
        Some(env.app.clock.now())
    );
}

async fn admin_get(env: &Interop, path: &str) -> (u16, Value) {
    let res = env
        .app
        .api
        .get(env.app.url(path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

crate::admin::on_both_databases!(
    refresh_reaches_the_upstream_when_due,
    concurrent_refreshes_refresh_upstream_once,
    two_replicas_refresh_upstream_once,
    a_user_disabled_upstream_loses_access_at_the_next_refresh,
    an_outage_is_ridden_out_within_max_staleness,
);

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// A kind's look-alike (`args`) at its own issuer, with alice signed in.
async fn kind_signed_in(args: &[&str], kind: UpstreamKind) -> Option<(Interop, Held)> {
    let env = vault_env(Db::Sqlite, args, kind).await?;
    let held = sign_in(&env, "00u1alice").await;
    Some((env, held))
}

#[tokio::test]
async fn okta_kind_refresh_reaches_the_rotating_upstream() {
    let args = ["--offline-access-without-prompt"];
    let Some((env, mut held)) = kind_signed_in(&args, UpstreamKind::Okta).await else {
        return;
    };
    assert_refresh_reaches_upstream(&env, &mut held, true).await;
    // Okta-like upstreams get no scope on refresh: the one granted (RFC 6749 §6).
    assert_eq!(stats(&env.upstream).await["refresh_scopes"][0], "");
}

#[tokio::test]
async fn entra_kind_refresh_sends_its_scopes_and_never_mixes_offline_access_with_default() {
    let args = ["--entra-tenant", TENANT];
    let Some((env, mut held)) = kind_signed_in(&args, UpstreamKind::Entra).await else {
        return;
    };
    assert_refresh_reaches_upstream(&env, &mut held, true).await;
    let st = stats(&env.upstream).await;
    let scope = st["refresh_scopes"][0].as_str().unwrap();
    assert!(scope.split(' ').any(|s| s == "openid"), "{scope}");
    let logs = env.upstream.logs();
    assert!(!logs.contains("entra refused"), "{logs}");
}

#[tokio::test]
async fn google_kind_refresh_keeps_the_refresh_token_google_does_not_rotate() {
    let Some((env, mut held)) = kind_signed_in(&["--google"], UpstreamKind::Google).await else {
        return;
    };
    // Google sends no new refresh token: the original is kept and sent again next time.
    assert_refresh_reaches_upstream(&env, &mut held, false).await;
}
