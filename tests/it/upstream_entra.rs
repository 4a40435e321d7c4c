//! `kind = "entra"` beyond the secret and the ID token (issue 13 item 1): certificate
//! credentials (`client_auth = "private_key_jwt"`, RFC 7523 with the certificate's thumbprint
//! in `x5t`) and the groups overage resolved through a Microsoft Graph look-alike, against the
//! certified `oidc-provider` in Entra mode (`tests/interop/upstream.mjs --entra-tenant`, with
//! `--client-jwks` and `--overage-user`).

use base64::Engine as _;
use dcr_bridge::config::{Config, UpstreamClientAuth, UpstreamKind, UpstreamRefresh};
use dcr_bridge::store::PageRequest;
use rsa::pkcs8::EncodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::Value;

use crate::support::app::Db;
use crate::support::interop::{refused_sign_in, start_behind_upstream_on, Interop};
use crate::support::mcp_server::McpMode;
use crate::support::node::{node_or_skip, run_sdk_flow};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The certificate thumbprint as the Entra portal shows it (SHA-1, hex).
const THUMBPRINT: &str = "5DE05F2A00112233445566778899AABBCCDDEEFF";
/// Its `x5t` header value: base64url of those 20 bytes.
const X5T: &str = "XeBfKgARIjNEVWZ3iJmqu8zd7v8";
const RECHECK: i64 = 60;

/// A fresh RSA key: its PKCS#8 PEM and its public JWK set (for the upstream's client).
fn key_pair() -> (String, String) {
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = serde_json::json!({"keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256",
        "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be()),
    }]});
    (pem.to_string(), jwks.to_string())
}

/// dcr-bridge on `db` behind the Entra look-alike with `args`, its one upstream of kind entra
/// at the tenant's issuer; `adjust` sets the rest. `None` when Node or Postgres is opted out.
async fn entra_env(
    db: Db,
    args: &[&str],
    adjust: impl FnOnce(&crate::support::node::OidcProviderProc, &mut Config),
) -> Option<Interop> {
    if !node_or_skip().await {
        return None;
    }
    let mut all = vec!["--entra-tenant", TENANT];
    all.extend(args);
    start_behind_upstream_on(db, McpMode::Stateful, &all, |up, c| {
        let u = &mut c.upstreams[0];
        u.kind = UpstreamKind::Entra;
        u.issuer = Some(up.issuer.parse().unwrap());
        adjust(up, c);
    })
    .await
}

/// Signs with `pem` and names [`THUMBPRINT`]; no client secret.
fn sign_with(c: &mut Config, pem: &str) {
    let u = &mut c.upstreams[0];
    u.client_auth = UpstreamClientAuth::PrivateKeyJwt;
    u.client_secret = None;
    u.private_key_pem = Some(pem.to_owned().into());
    u.certificate_thumbprint = Some(THUMBPRINT.to_owned());
    u.refresh = UpstreamRefresh {
        recheck_interval_seconds: RECHECK as u64,
        max_staleness_seconds: 600,
        retry_interval_seconds: 30,
    };
}

/// The whole SDK flow and a refresh that reaches the upstream, with no secret: the code
/// exchange and the upstream refresh each authenticated by a fresh client assertion that names
/// the certificate in `x5t`.
async fn private_key_jwt_whole_flow_and_upstream_refresh(db: Db) {
    let (pem, jwks) = key_pair();
    let Some(env) = entra_env(db, &["--client-jwks", &jwks], |_, c| sign_with(c, &pem)).await
    else {
        return;
    };
    let up = &env.upstream;
    let out = up.ok_or_panic(
        run_sdk_flow(
            &env.app.resource(),
            &["--login", "00u1alice", "--no-refresh"],
        )
        .await,
        "sdk flow",
    );
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    let client_id = s(&out["client_information"]["client_id"]);
    let refresh_token = s(&out["tokens"]["refresh_token"]);
    env.app.clock.advance(RECHECK + 1);
    let res = env.app.refresh(&refresh_token, &client_id).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}\n{}", up.logs());
    let stats: Value = reqwest::get(format!("http://127.0.0.1:{}/__control/stats", up.port))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["refreshes"], 1, "{stats}");
    let logs = up.logs();
    for grant in ["authorization_code", "refresh_token"] {
        let line = format!("client_assertion x5t={X5T} x5t#S256= grant={grant}");
        assert!(logs.contains(&line), "{line}\n{logs}");
    }
    assert!(!logs.contains("entra refused"), "{logs}");
    // The upstream check (check-config, admin API) names the method, and the look-alike
    // advertises it: no warning.
    let idp = &env.app.state.core.upstreams.iter().next().unwrap().idp;
    let summary = idp.check().await.unwrap();
    assert_eq!(summary["client_auth"], "private_key_jwt", "{summary}");
    let warnings = summary["warnings"].to_string();
    assert!(!warnings.contains("private_key_jwt"), "{warnings}");
}

crate::admin::on_both_databases!(private_key_jwt_whole_flow_and_upstream_refresh);

/// The upstream knows another key than the one we sign with: it refuses the assertion
/// (`invalid_client`), the sign-in fails, and nobody is recorded.
#[tokio::test]
async fn an_assertion_signed_with_an_unregistered_key_is_refused() {
    let (pem, _) = key_pair();
    let (_, other_jwks) = key_pair();
    let Some(env) = entra_env(Db::Sqlite, &["--client-jwks", &other_jwks], |_, c| {
        sign_with(c, &pem);
    })
    .await
    else {
        return;
    };
    let (failure, detail) =
        refused_sign_in(&env.app, &["--login", "00u1alice", "--no-refresh"]).await;
    assert!(!failure.is_empty());
    assert!(
        detail.contains("invalid_client"),
        "{detail}\n{}",
        env.upstream.logs()
    );
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    let users = env.app.state.core.store.list_users(&page).await.unwrap();
    assert!(users.is_empty(), "{users:?}");
    assert!(env.upstream.logs().contains("client_assertion x5t="));
}

/// Alice is in too many groups (her ID token has `_claim_names.groups`), groups are
/// restricted: `graph_groups = false` refuses her with a page that says why.
#[tokio::test]
async fn an_overage_without_graph_is_refused_clearly() {
    let Some(env) = entra_env(Db::Sqlite, &["--overage-user", "00u1alice"], |_, c| {
        let u = &mut c.upstreams[0];
        u.scopes.push("groups".into());
        u.policy.allowed_groups = vec!["engineering".into()];
    })
    .await
    else {
        return;
    };
    let (failure, detail) =
        refused_sign_in(&env.app, &["--login", "00u1alice", "--no-refresh"]).await;
    assert!(
        detail.contains("policy_groups_overage"),
        "{detail}\n{}",
        env.upstream.logs()
    );
    assert!(failure.contains("too many groups"), "{failure}");
    assert!(!env.upstream.logs().contains("graph getMemberGroups"));
}

/// The same user with `graph_groups = true`: her groups come from the Graph look-alike (with
/// the upstream access token), the policy lets her in, and her groups are recorded.
#[tokio::test]
async fn an_overage_is_resolved_through_graph() {
    let Some(env) = entra_env(Db::Sqlite, &["--overage-user", "00u1alice"], |up, c| {
        let u = &mut c.upstreams[0];
        u.scopes.push("groups".into());
        u.policy.allowed_groups = vec!["engineering".into()];
        u.graph_groups = true;
        let graph = format!("http://127.0.0.1:{}/graph/v1.0", up.port);
        u.graph_base = Some(graph.parse().unwrap());
    })
    .await
    else {
        return;
    };
    env.upstream.ok_or_panic(
        run_sdk_flow(
            &env.app.resource(),
            &["--login", "00u1alice", "--no-refresh"],
        )
        .await,
        "sdk flow",
    );
    let logs = env.upstream.logs();
    assert!(
        logs.contains("graph getMemberGroups 00u1alice -> 1"),
        "{logs}"
    );
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    let users = env.app.state.core.store.list_users(&page).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].groups, ["engineering"]);
}

/// Graph cannot give the groups (here: a wrong `graph_base`, answered 404): the sign-in fails
/// as an unavailable upstream, never lets the user through with the incomplete list.
#[tokio::test]
async fn a_graph_that_cannot_answer_fails_the_sign_in() {
    let Some(env) = entra_env(Db::Sqlite, &["--overage-user", "00u1alice"], |up, c| {
        let u = &mut c.upstreams[0];
        u.scopes.push("groups".into());
        u.policy.allowed_groups = vec!["engineering".into()];
        u.graph_groups = true;
        // Not the Graph look-alike's path: it answers 404, not the user's groups.
        let graph = format!("http://127.0.0.1:{}/graph/beta", up.port);
        u.graph_base = Some(graph.parse().unwrap());
    })
    .await
    else {
        return;
    };
    let (failure, detail) =
        refused_sign_in(&env.app, &["--login", "00u1alice", "--no-refresh"]).await;
    assert!(detail.contains("temporarily_unavailable"), "{detail}");
    assert!(
        detail.contains("getMemberGroups answered HTTP 404"),
        "{detail}"
    );
    assert!(failure.contains("cannot be reached"), "{failure}");
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    assert!(env
        .app
        .state
        .core
        .store
        .list_users(&page)
        .await
        .unwrap()
        .is_empty());
}
