//! Hostile and broken upstreams (issue 13 item 8), against the certified `oidc-provider`
//! (`tests/interop/upstream.mjs`) switched into misbehaving with `/__control/hostile`: one that
//! goes away between sending the browser back and our code exchange, answers the token
//! endpoint with HTML or broken JSON, signs ID tokens with a key its JWKS does not publish,
//! stalls past our timeout, or publishes a discovery document for another issuer. Each must
//! end in a clear page, the RFC error for the client, a `login_failed` audit event where the
//! callback was reached, no user and no grant, and a bounded wait.

use std::time::{Duration, Instant};

use dcr_bridge::config::Config;
use dcr_bridge::idp::IdpError;
use dcr_bridge::store::PageRequest;

use crate::support::app::Db;
use crate::support::interop::{refused_sign_in, start_behind_upstream_on, Interop};
use crate::support::mcp_server::McpMode;
use crate::support::node::{node_or_skip, OidcProviderProc};

/// dcr-bridge on `db` behind a well-behaved `upstream.mjs` (Okta-like), `tweak` applied.
async fn env_on(db: Db, tweak: impl FnOnce(&mut Config)) -> Option<Interop> {
    env_with(db, &[], tweak).await
}

/// [`env_on`] with `upstream.mjs` started with `args` (`--hostile W`: hostile from the start,
/// before dcr-bridge's startup check fetches discovery and JWKS).
async fn env_with(db: Db, args: &[&str], tweak: impl FnOnce(&mut Config)) -> Option<Interop> {
    if !node_or_skip().await {
        return None;
    }
    start_behind_upstream_on(db, McpMode::Stateful, args, |_, c| tweak(c)).await
}

/// Switches the upstream into `what` (`secs` for `token-slow`).
async fn hostile(up: &OidcProviderProc, what: &str, secs: u64) {
    let url = format!(
        "http://127.0.0.1:{}/__control/hostile?what={what}&secs={secs}",
        up.port
    );
    let res = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{what}");
}

/// Alice's sign-in, which must fail: `(page text, login_failed detail)`; and nobody was
/// recorded (no user, so no grant: the login is one transaction).
async fn refused(env: &Interop) -> (String, String) {
    let (failure, detail) =
        refused_sign_in(&env.app, &["--login", "00u1alice", "--no-refresh"]).await;
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    let users = env.app.state.core.store.list_users(&page).await.unwrap();
    assert!(users.is_empty(), "{users:?}\n{}", env.upstream.logs());
    (failure, detail)
}

/// The upstream sends the browser back with a code, then goes away: our exchange cannot reach
/// it. The page says the identity provider cannot be reached, the client gets
/// `temporarily_unavailable`, the audit says why, and no grant was half-written.
async fn an_upstream_that_goes_away_mid_flow(db: Db) {
    let Some(env) = env_on(db, |_| {}).await else {
        return;
    };
    hostile(&env.upstream, "down-after-code", 0).await;
    let (failure, detail) = refused(&env).await;
    let logs = env.upstream.logs();
    assert!(logs.contains("hostile down-after-code"), "{logs}");
    assert!(failure.contains("cannot be reached"), "{failure}");
    assert!(failure.contains("temporarily_unavailable"), "{failure}");
    assert!(detail.contains("temporarily_unavailable"), "{detail}");
    assert!(detail.contains("upstream_error"), "{detail}");
}

crate::admin::on_both_databases!(an_upstream_that_goes_away_mid_flow);

/// HTML (a proxy's sign-in page) or truncated JSON from the token endpoint: an unavailable
/// upstream, never a 500, never a half-read token.
#[tokio::test]
async fn html_or_garbage_json_at_the_token_endpoint() {
    for (what, said) in [
        ("token-html", "unexpected response Content-Type"),
        ("token-garbage", "unparseable token endpoint response"),
    ] {
        let Some(env) = env_on(Db::Sqlite, |_| {}).await else {
            return;
        };
        hostile(&env.upstream, what, 0).await;
        let (failure, detail) = refused(&env).await;
        assert!(env.upstream.logs().contains(&format!("hostile {what}")));
        assert!(failure.contains("cannot be reached"), "{what}: {failure}");
        assert!(
            detail.contains("temporarily_unavailable"),
            "{what}: {detail}"
        );
        assert!(detail.contains(said), "{what}: {detail}");
    }
}

/// ID tokens signed with a key the JWKS does not publish: the JWKS is fetched again once (keys
/// rotate), then the sign-in is refused as an ID token that failed verification.
#[tokio::test]
async fn an_id_token_signed_with_an_unknown_key() {
    let args = ["--hostile", "foreign-jwks"];
    let Some(env) = env_with(Db::Sqlite, &args, |_| {}).await else {
        return;
    };
    let (failure, detail) = refused(&env).await;
    let logs = env.upstream.logs();
    assert_eq!(
        logs.matches("hostile foreign-jwks").count(),
        2,
        "one fetch at discovery, one refetch for the unknown key: {logs}"
    );
    assert!(failure.contains("failed verification"), "{failure}");
    assert!(detail.contains("access_denied"), "{detail}");
    assert!(detail.contains("Signature verification failed"), "{detail}");
}

/// A token endpoint that stalls past `timeout_seconds`: the callback gives up within the bound
/// and says so on the page and in the audit.
#[tokio::test]
async fn a_slow_token_endpoint_is_bounded_by_the_configured_timeout() {
    let Some(env) = env_on(Db::Sqlite, |c| c.upstreams[0].timeout_seconds = 2).await else {
        return;
    };
    hostile(&env.upstream, "token-slow", 30).await;
    let started = Instant::now();
    let (failure, detail) = refused(&env).await;
    let took = started.elapsed();
    // 2 s for the exchange plus the SDK flow around it; the default (15 s) would not fit.
    assert!(took < Duration::from_secs(12), "{took:?}");
    assert!(failure.contains("cannot be reached"), "{failure}");
    assert!(detail.contains("temporarily_unavailable"), "{detail}");
    assert!(
        detail.contains("timed out") || detail.contains("timeout"),
        "{detail}"
    );
}

/// A discovery document that names another issuer (a mix-up, or a misconfigured proxy):
/// nothing goes to its authorization endpoint, the client is told to try later, and the
/// admin's upstream check names the mismatch.
#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_refused() {
    let args = ["--hostile", "wrong-issuer"];
    let Some(env) = env_with(Db::Sqlite, &args, |_| {}).await else {
        return;
    };
    let (failure, _) = refused(&env).await;
    assert!(failure.contains("temporarily_unavailable"), "{failure}");
    let logs = env.upstream.logs();
    assert!(logs.contains("hostile wrong-issuer"), "{logs}");
    assert!(
        !logs.contains("GET /auth"),
        "nothing went to its /authorize: {logs}"
    );
    let idp = &env.app.state.core.upstreams.iter().next().unwrap().idp;
    match idp.check().await {
        Err(IdpError::Discovery(msg)) => assert!(msg.contains("issuer"), "{msg}"),
        other => panic!("{other:?}"),
    }
}
