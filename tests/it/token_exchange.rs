//! RFC 8693 token exchange and the gateway's upstream token header (issue 13 item 5), against
//! the certified `oidc-provider` (`tests/interop/upstream.mjs`), whose access tokens are real:
//! the token handed out must be accepted by its userinfo endpoint. The MCP server behind `/mcp`
//! (`mcp_server.mjs`) authenticates as the `[[clients]]` entry named in the resource's
//! `token_exchange_client`; a second resource `/other` has its own exchange client. The
//! gateway's upstream token header: `token_exchange_gateway.rs`.

use dcr_bridge::config::{Config, StaticClientConfig};
use dcr_bridge::oauth::grants::token_exchange::{ACCESS_TOKEN_TYPE, GRANT_TYPE};
use serde_json::{json, Value};

use crate::support::app::{jwt_claims, Db};
use crate::support::interop::{start_behind_upstream_on, Interop};
use crate::support::mcp_server::McpMode;
use crate::support::node::{node_or_skip, run_sdk_flow, OidcProviderProc};

pub(crate) const ADMIN: &str = "admin-token-for-the-exchange-tests";
/// The MCP server of `/mcp`.
pub(crate) const EXCHANGER: &str = "mcp-exchange";
pub(crate) const EXCHANGER_SECRET: &str = "exchange-secret-for-the-tests";
/// The MCP server of `/other`.
const OTHER: &str = "other-exchange";
const OTHER_SECRET: &str = "other-exchange-secret-for-tests";
/// A confidential static client no resource names.
const BYSTANDER: &str = "bystander";
const BYSTANDER_SECRET: &str = "bystander-secret-for-the-tests";
/// The upstream's access-token lifetime in these tests (beyond the hand-out margin).
const UPSTREAM_TTL: i64 = 120;

fn static_client(client_id: &str, secret: &str) -> StaticClientConfig {
    StaticClientConfig {
        client_id: client_id.to_owned(),
        client_name: Some(format!("{client_id} MCP server")),
        redirect_uris: vec!["https://mcp.example.com/unused".to_owned()],
        token_endpoint_auth_method: "client_secret_basic".to_owned(),
        client_secret: Some(secret.to_owned().into()),
        client_secret_file: None,
        upstream: None,
        jwks: None,
        service_account: None,
    }
}

/// dcr-bridge on `db` behind `upstream.mjs` (Okta-like, access tokens for [`UPSTREAM_TTL`]),
/// `/mcp` with exchange and the upstream token header, `/other` with exchange only; `None`
/// when Node or Postgres is opted out.
pub(crate) async fn exchange_env(db: Db) -> Option<Interop> {
    if !node_or_skip().await {
        return None;
    }
    let ttl = UPSTREAM_TTL.to_string();
    let args = [
        "--offline-access-without-prompt",
        "--access-token-ttl",
        &ttl,
    ];
    start_behind_upstream_on(db, McpMode::Stateful, &args, |_, c: &mut Config| {
        c.admin_token = Some(ADMIN.to_owned().into());
        c.clients.push(static_client(EXCHANGER, EXCHANGER_SECRET));
        c.clients.push(static_client(OTHER, OTHER_SECRET));
        c.clients.push(static_client(BYSTANDER, BYSTANDER_SECRET));
        let mut other = c.resources[0].clone();
        other.id = "other".to_owned();
        other.path = "/other".to_owned();
        other.upstream_url = None;
        other.identity_headers = Default::default();
        other.introspection_secret = None;
        other.token_exchange_client = Some(OTHER.to_owned());
        c.resources[0].token_exchange_client = Some(EXCHANGER.to_owned());
        c.resources[0].upstream_token_header = Some("X-Upstream-Authorization".to_owned());
        c.resources.push(other);
    })
    .await
}

/// What the MCP client holds after alice signed in through the SDK (whose MCP session went
/// through the gateway).
pub(crate) struct Held {
    pub client_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub(crate) async fn sign_in(env: &Interop) -> Held {
    let out = env.upstream.ok_or_panic(
        run_sdk_flow(
            &env.app.resource(),
            &["--login", "00u1alice", "--no-refresh"],
        )
        .await,
        "sdk flow",
    );
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    Held {
        client_id: s(&out["client_information"]["client_id"]),
        access_token: s(&out["tokens"]["access_token"]),
        refresh_token: s(&out["tokens"]["refresh_token"]),
    }
}

/// A token exchange by `client` (HTTP Basic) with `subject` and `extra` parameters.
async fn exchange(
    env: &Interop,
    client: (&str, &str),
    subject: &str,
    extra: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let mut form = vec![
        ("grant_type", GRANT_TYPE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN_TYPE),
    ];
    form.extend_from_slice(extra);
    let res = env
        .app
        .api
        .post(env.app.url("/token"))
        .basic_auth(client.0, Some(client.1))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let cache = res
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = res.json().await.unwrap();
    (status, body, cache)
}

/// The upstream access token the MCP server of `/mcp` gets for `held`.
pub(crate) async fn exchanged(env: &Interop, held: &Held) -> (String, Value) {
    let (status, body, cache) =
        exchange(env, (EXCHANGER, EXCHANGER_SECRET), &held.access_token, &[]).await;
    assert_eq!(status, 200, "{body}\n{}", env.upstream.logs());
    assert_eq!(cache.as_deref(), Some("no-store"));
    (body["access_token"].as_str().unwrap().to_owned(), body)
}

/// The upstream's userinfo answer (status, claims) for `token`: the real check that it is the
/// user's upstream access token.
async fn userinfo(up: &OidcProviderProc, token: &str) -> (u16, Value) {
    let discovery: Value = reqwest::get(format!("{}/.well-known/openid-configuration", up.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = reqwest::Client::new()
        .get(discovery["userinfo_endpoint"].as_str().unwrap())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

async fn upstream_refreshes(up: &OidcProviderProc) -> (i64, i64) {
    let url = format!("http://127.0.0.1:{}/__control/stats", up.port);
    let st: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    (
        st["refreshes"].as_i64().unwrap(),
        st["replays"].as_i64().unwrap(),
    )
}

pub(crate) async fn grant_id(env: &Interop, held: &Held) -> String {
    let jti = jwt_claims(&held.access_token)["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let view = env.app.state.core.store.get_access_token(&jti).await;
    view.unwrap().unwrap().grant.id
}

/// Every audit event's text, for "no token in it".
async fn audit_text(env: &Interop) -> (Vec<dcr_bridge::store::AuditEvent>, String) {
    let events = env
        .app
        .state
        .core
        .store
        .list_audit_events(500)
        .await
        .unwrap();
    let text = format!("{events:?}");
    (events, text)
}

/// `dcr_bridge_upstream_token_handouts_total{via, outcome}` now (process-wide).
async fn handouts(env: &Interop, via: &str, outcome: &str) -> f64 {
    let res = env
        .app
        .api
        .get(env.app.url("/metrics"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("dcr_bridge_upstream_token_handouts_total{"))
        .filter(|l| l.contains(&format!("via=\"{via}\"")))
        .filter(|l| l.contains(&format!("outcome=\"{outcome}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The MCP server gets alice's upstream access token: accepted by the upstream's userinfo,
/// not ours, `no-store`, audited without it, counted, and the same token again while it is
/// good (no upstream call). Metadata advertises the grant.
async fn the_mcp_server_gets_the_users_upstream_token(db: Db) {
    let Some(env) = exchange_env(db).await else {
        return;
    };
    let metadata = env
        .app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    let grants = metadata["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!(GRANT_TYPE)), "{metadata}");

    let held = sign_in(&env).await;
    let issued_before = handouts(&env, "exchange", "issued").await;
    let (token, body) = exchanged(&env, &held).await;
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN_TYPE, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((1..=UPSTREAM_TTL).contains(&expires_in), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_ne!(token, held.access_token);
    let (status, claims) = userinfo(&env.upstream, &token).await;
    assert_eq!(status, 200, "{claims}");
    assert_eq!(claims["sub"], "00u1alice", "{claims}");
    // Our own access token is no upstream token.
    assert_eq!(userinfo(&env.upstream, &held.access_token).await.0, 401);
    assert!(handouts(&env, "exchange", "issued").await >= issued_before + 1.0);

    // Replayed while valid: the same upstream token, nothing sent upstream.
    let (again, _) = exchanged(&env, &held).await;
    assert_eq!(again, token);
    assert_eq!(upstream_refreshes(&env.upstream).await, (0, 0));

    // Audited every time, with client, user, grant and resource, never a token.
    let (events, text) = audit_text(&env).await;
    let done: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "token_exchanged")
        .collect();
    assert_eq!(done.len(), 2, "{text}");
    let e = done[0];
    assert_eq!(e.client_id.as_deref(), Some(EXCHANGER));
    assert_eq!(
        e.grant_id.as_deref(),
        Some(grant_id(&env, &held).await.as_str())
    );
    let sub = jwt_claims(&held.access_token)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(e.user_id.as_deref(), Some(sub.as_str()));
    let detail: Value = serde_json::from_str(e.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["resource"], "tools", "{detail}");
    assert!(
        !text.contains(&token),
        "an audit event holds the upstream token"
    );
    assert!(
        !text.contains(&held.access_token),
        "an audit event holds the subject token"
    );

    // Nothing else shows the upstream token: our introspection does not know it, the admin
    // API's view of the grant does not carry it.
    assert_eq!(env.app.introspect(&token).await["active"], false);
    let grant = env
        .app
        .api
        .get(
            env.app
                .url(&format!("/admin/v1/grants/{}", grant_id(&env, &held).await)),
        )
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 200);
    assert!(!grant.text().await.unwrap().contains(&token));
    assert!(!env
        .app
        .state
        .core
        .store
        .list_audit_events(1)
        .await
        .unwrap()
        .is_empty());
    let _ = held.client_id;
}

/// An upstream access token that expired (our clock) or expires within the margin is
/// refreshed upstream first, through the vault's lease: once for many concurrent exchanges,
/// no refresh token sent twice, and the new token works upstream.
async fn an_expiring_upstream_token_is_refreshed_first(db: Db) {
    let Some(env) = exchange_env(db).await else {
        return;
    };
    let held = sign_in(&env).await;
    let (first, _) = exchanged(&env, &held).await;
    assert_eq!(upstream_refreshes(&env.upstream).await, (0, 0));

    env.app.clock.advance(UPSTREAM_TTL + 1);
    let (second, body) = exchanged(&env, &held).await;
    assert_eq!(
        upstream_refreshes(&env.upstream).await,
        (1, 0),
        "{}",
        env.upstream.logs()
    );
    assert_ne!(second, first);
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!(
        (UPSTREAM_TTL - 2..=UPSTREAM_TTL).contains(&expires_in),
        "{body}"
    );
    assert_eq!(userinfo(&env.upstream, &second).await.0, 200);

    // Inside the margin (29 s left): refreshed again, by one of eight callers at once.
    env.app.clock.advance(UPSTREAM_TTL - 29);
    let calls =
        (0..8).map(|_| exchange(&env, (EXCHANGER, EXCHANGER_SECRET), &held.access_token, &[]));
    let mut tokens: Vec<String> = Vec::new();
    for (status, body, _) in futures_util::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "every caller got the one refreshed token");
    assert_ne!(tokens[0], second);
    assert_eq!(upstream_refreshes(&env.upstream).await, (2, 0));
    assert_eq!(userinfo(&env.upstream, &tokens[0]).await.0, 200);

    // Our own refresh after that finds the upstream side current: no third upstream refresh.
    let res = env.app.refresh(&held.refresh_token, &held.client_id).await;
    assert_eq!(res.status(), 200);
    assert_eq!(upstream_refreshes(&env.upstream).await, (2, 0));
}

/// Revoked grants, a user the IdP disabled, other clients and wrong secrets are refused, each
/// with the RFC error and no token; refusals are audited and counted.
async fn who_may_exchange_what(db: Db) {
    let Some(env) = exchange_env(db).await else {
        return;
    };
    let held = sign_in(&env).await;
    let subject = held.access_token.as_str();
    let refused_before = handouts(&env, "exchange", "unauthorized_client").await;

    // A confidential client no resource names, and the exchange client of another resource.
    let (status, body, _) = exchange(&env, (BYSTANDER, BYSTANDER_SECRET), subject, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("not enabled"));
    let (status, body, _) = exchange(&env, (OTHER, OTHER_SECRET), subject, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("another resource"));
    // The right client with a wrong secret, and the user's own (public) client.
    let (status, body, _) = exchange(&env, (EXCHANGER, "wrong-secret"), subject, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let res = env
        .app
        .token(&[
            ("grant_type", GRANT_TYPE),
            ("client_id", &held.client_id),
            ("subject_token", subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
        ])
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    // Asking for the other resource's token by name.
    let other = env.app.url("/other");
    let (status, body, _) = exchange(
        &env,
        (EXCHANGER, EXCHANGER_SECRET),
        subject,
        &[("resource", &other)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("resource other"));
    assert!(handouts(&env, "exchange", "unauthorized_client").await >= refused_before + 3.0);

    // Still fine for the right client.
    exchanged(&env, &held).await;

    // The user's grant revoked by an admin: the same subject token is refused from now on.
    let grant = grant_id(&env, &held).await;
    let res = env
        .app
        .api
        .delete(env.app.url(&format!("/admin/v1/grants/{grant}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let (status, body, _) = exchange(&env, (EXCHANGER, EXCHANGER_SECRET), subject, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("revoked"));

    let (events, text) = audit_text(&env).await;
    let refusals = events
        .iter()
        .filter(|e| e.kind == "token_exchange_refused")
        .count();
    assert!(refusals >= 3, "{text}");
    assert!(!text.contains(subject));
}

/// A user disabled at the IdP: once the upstream token is due, the exchange's upstream refresh
/// fails permanently, our grant is revoked (`upstream_revoked`) and the exchange answers
/// `invalid_grant`.
async fn a_user_disabled_upstream_gets_no_token(db: Db) {
    let Some(env) = exchange_env(db).await else {
        return;
    };
    let held = sign_in(&env).await;
    exchanged(&env, &held).await;
    let url = format!(
        "http://127.0.0.1:{}/__control/disable?user=00u1alice",
        env.upstream.port
    );
    let res = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    env.app.clock.advance(UPSTREAM_TTL + 1);
    let (status, body, _) =
        exchange(&env, (EXCHANGER, EXCHANGER_SECRET), &held.access_token, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (events, _) = audit_text(&env).await;
    assert!(events.iter().any(|e| e.kind == "upstream_revoked"));
    // And from now on the subject token is a revoked one.
    let (status, body, _) =
        exchange(&env, (EXCHANGER, EXCHANGER_SECRET), &held.access_token, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
}

/// Malformed, oversized, foreign, tampered and misdirected input: the RFC error, never a 500.
async fn hostile_exchange_requests(db: Db) {
    let Some(env) = exchange_env(db).await else {
        return;
    };
    let held = sign_in(&env).await;
    let (upstream_token, _) = exchanged(&env, &held).await;
    let me = (EXCHANGER, EXCHANGER_SECRET);
    // One signature character changed (not the last, whose low bits may be padding).
    let sig_at = held.access_token.rfind('.').unwrap() + 5;
    let mut tampered = held.access_token.clone().into_bytes();
    tampered[sig_at] = if tampered[sig_at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let oversized = "e".repeat(5000);
    let subjects: [(&str, &str); 6] = [
        ("garbage", "not-a-token"),
        ("oversized", &oversized),
        ("refresh token", &held.refresh_token),
        ("the upstream token itself", &upstream_token),
        ("tampered signature", &tampered),
        ("a JWT of no one", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
    ];
    for (what, subject) in subjects {
        let (status, body, _) = exchange(&env, me, subject, &[]).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{what}: {body}"
        );
        assert!(body["access_token"].is_null());
    }
    let s = held.access_token.as_str();
    let cases: [(&[(&str, &str)], &str); 7] = [
        (
            &[(
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            )],
            "invalid_request",
        ),
        (
            &[(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:refresh_token",
            )],
            "invalid_request",
        ),
        (
            &[("actor_token", s), ("actor_token_type", ACCESS_TOKEN_TYPE)],
            "invalid_request",
        ),
        (&[("scope", "openid")], "invalid_scope"),
        (
            &[("audience", "https://api.example.com/")],
            "invalid_target",
        ),
        (&[("audience", "other")], "unauthorized_client"),
        (&[("subject_token", s)], "invalid_request"), // repeated
    ];
    for (extra, error) in cases {
        let (status, body, _) = exchange(&env, me, s, extra).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{extra:?}: {body}"
        );
    }
    // The explicit, allowed forms: our resource by URI or id, the one token type.
    let resource = env.app.resource();
    let (status, body, _) = exchange(
        &env,
        me,
        s,
        &[
            ("resource", &resource),
            ("audience", "tools"),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Missing parameters.
    for drop in ["subject_token", "subject_token_type"] {
        let form: Vec<(&str, &str)> = [
            ("grant_type", GRANT_TYPE),
            ("subject_token", s),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
        ]
        .into_iter()
        .filter(|(k, _)| *k != drop)
        .collect();
        let res = env
            .app
            .api
            .post(env.app.url("/token"))
            .basic_auth(EXCHANGER, Some(EXCHANGER_SECRET))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "without {drop}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{body}");
        assert!(body["error_description"].as_str().unwrap().contains(drop));
    }
    // An expired subject token (our clock).
    env.app.clock.advance(3 * 3600);
    let (status, body, _) = exchange(&env, me, s, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
}

crate::admin::on_both_databases!(
    the_mcp_server_gets_the_users_upstream_token,
    an_expiring_upstream_token_is_refreshed_first,
    who_may_exchange_what,
    a_user_disabled_upstream_gets_no_token,
    hostile_exchange_requests,
);

/// Without any resource enabling it, the grant is neither advertised nor usable.
#[tokio::test]
async fn without_an_enabled_resource_the_grant_is_neither_advertised_nor_usable() {
    let app = crate::support::app::TestApp::start_with(Db::Sqlite, |c| {
        c.clients.push(static_client(EXCHANGER, EXCHANGER_SECRET));
    })
    .await
    .unwrap();
    let metadata = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    let grants = metadata["grant_types_supported"].as_array().unwrap();
    assert!(!grants.contains(&json!(GRANT_TYPE)), "{metadata}");
    let (_, _, tokens) = app.tokens_for_new_client().await;
    let res = app
        .api
        .post(app.url("/token"))
        .basic_auth(EXCHANGER, Some(EXCHANGER_SECRET))
        .form(&[
            ("grant_type", GRANT_TYPE),
            ("subject_token", tokens["access_token"].as_str().unwrap()),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
}
