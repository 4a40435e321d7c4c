//! Gateway mode: a resource with `upstream_url` proxied to an MCP server (here the recording
//! [`McpEcho`]), with the token checked locally, credentials never forwarded, both bodies
//! streamed, its own body limit, and bounded answers when the MCP server is down or slow.

use std::time::{Duration, Instant};

use dcr_bridge::config::{Config, ResourceConfig};
use serde_json::{json, Value};

use crate::support::app::{code_form, header, query_param, status_json, Db, TestApp};
use crate::support::mcp_echo::{McpEcho, SSE_GAP_MS};

/// dcr-bridge on SQLite with `/mcp` proxied to `upstream` and a metadata-only second resource
/// `/other`.
pub(crate) async fn gateway_app(upstream: &str, tweak: impl FnOnce(&mut Config)) -> TestApp {
    gateway_app_on(Db::Sqlite, upstream, tweak).await.unwrap()
}

/// [`gateway_app`] on `db`; `None` when Postgres is opted out (`DCR_BRIDGE_TEST_SKIP`).
pub(crate) async fn gateway_app_on(
    db: Db,
    upstream: &str,
    tweak: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    let upstream = upstream.to_owned();
    TestApp::start_with(db, move |c| {
        c.resources[0].upstream_url = Some(upstream.parse().unwrap());
        let other = ResourceConfig {
            id: "other".into(),
            path: "/other".into(),
            upstream_url: None,
            identity_headers: Default::default(),
            ..c.resources[0].clone()
        };
        c.resources.push(other);
        tweak(c);
    })
    .await
}

/// Tokens for a new public client, for `resource`, with `scope` if given.
pub(crate) async fn tokens(app: &TestApp, resource: &str, scope: Option<&str>) -> Value {
    let mut req = app.auth_request().await;
    req.resource = resource.to_owned();
    let mut params = req.params();
    if let Some(s) = scope {
        params.push(("scope", s));
    }
    let back = app.login(&params, "dev-alice").await;
    let code = query_param(&back, "code").unwrap();
    let mut form = code_form(&code, &req.redirect, &req.verifier, &req.client_id);
    form.push(("resource", &req.resource));
    let res = app.token(&form).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

pub(crate) async fn access_token(app: &TestApp) -> String {
    tokens(app, &app.resource(), None).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `GET /mcp` for the MCP server's SSE stream, resumed after `last_event_id`.
pub(crate) async fn resume(app: &TestApp, token: &str, last_event_id: &str) -> reqwest::Response {
    app.api
        .get(app.url("/mcp"))
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .header("last-event-id", last_event_id)
        .send()
        .await
        .unwrap()
}

pub(crate) fn rpc(method: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {}})
}

#[tokio::test]
async fn gateway_forwards_mcp_requests_without_the_clients_credentials() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |_| {}).await;
    let at = access_token(&app).await;

    let res = app
        .api
        .post(app.url("/mcp?trace=1"))
        .bearer_auth(&at)
        .header("cookie", "dcrb_session=stolen")
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-method", "initialize")
        .header("mcp-name", "whatever")
        .header("connection", "x-hop")
        .header("x-hop", "drop me")
        .header("x-custom", "keep me")
        .header("proxy-authorization", "Basic eDp5")
        .json(&rpc("initialize"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "mcp-session-id"), "echo-session-1");
    assert!(
        res.headers().get("set-cookie").is_none(),
        "MCP server cookies are dropped"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["result"]["serverInfo"]["name"], "echo");

    // A session request, a tool call below the resource path, and the session's end.
    let res = app
        .api
        .post(app.url("/mcp/sub/path"))
        .bearer_auth(&at)
        .header("mcp-session-id", "echo-session-1")
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"x": 1}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .api
        .delete(app.url("/mcp"))
        .bearer_auth(&at)
        .header("mcp-session-id", "echo-session-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let seen = echo.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert!(s.headers.get("authorization").is_none(), "{:?}", s.headers);
        assert!(s.headers.get("cookie").is_none(), "{:?}", s.headers);
        assert!(s.headers.get("proxy-authorization").is_none());
    }
    let first = &seen[0];
    assert_eq!(first.uri.path(), "/mcp");
    assert_eq!(first.uri.query(), Some("trace=1"));
    assert_eq!(first.headers["mcp-protocol-version"], "2025-06-18");
    assert_eq!(first.headers["mcp-method"], "initialize");
    assert_eq!(first.headers["mcp-name"], "whatever");
    assert_eq!(first.headers["x-custom"], "keep me");
    assert!(
        first.headers.get("x-hop").is_none(),
        "named in Connection: hop-by-hop"
    );
    let echo_host = echo
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp");
    assert_eq!(first.headers["host"], echo_host);
    assert_eq!(seen[1].uri.path(), "/mcp/sub/path");
    assert_eq!(seen[1].headers["mcp-session-id"], "echo-session-1");
    assert_eq!(seen[2].method, "DELETE");
    assert_eq!(seen[2].headers["mcp-session-id"], "echo-session-1");
}

#[tokio::test]
async fn gateway_streams_sse_as_it_arrives() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |_| {}).await;
    let at = access_token(&app).await;
    let started = Instant::now();
    let mut res = resume(&app, &at, "41").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/event-stream");
    let first = res.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    let text = String::from_utf8_lossy(&first).to_string();
    assert!(text.contains("\"last_event_id\":\"41\""), "{text}");
    assert!(
        first_at < Duration::from_millis(SSE_GAP_MS),
        "the first event must arrive before the MCP server sends the second ({first_at:?})"
    );
    let mut rest = Vec::new();
    while let Some(chunk) = res.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(String::from_utf8_lossy(&rest).contains("id: 2"));
    assert!(started.elapsed() >= Duration::from_millis(SSE_GAP_MS));
}

#[tokio::test]
async fn gateway_refuses_missing_malformed_expired_and_foreign_tokens_sqlite() {
    refuses_missing_malformed_expired_and_foreign_tokens(Db::Sqlite).await;
}

#[tokio::test]
async fn gateway_refuses_missing_malformed_expired_and_foreign_tokens_postgres() {
    refuses_missing_malformed_expired_and_foreign_tokens(Db::Postgres).await;
}

async fn refuses_missing_malformed_expired_and_foreign_tokens(db: Db) {
    let echo = McpEcho::start().await;
    let Some(app) = gateway_app_on(db, &echo.url, |_| {}).await else {
        return;
    };
    let tokens_mcp = tokens(&app, &app.resource(), None).await;
    let at = tokens_mcp["access_token"].as_str().unwrap();
    let rt = tokens_mcp["refresh_token"].as_str().unwrap();
    let other = tokens(&app, &app.url("/other"), None).await;
    let other_at = other["access_token"].as_str().unwrap();

    // No token: the bare challenge, no error code (RFC 6750 §3.1).
    let res = app
        .api
        .post(app.url("/mcp"))
        .json(&rpc("initialize"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = header(&res, "www-authenticate");
    assert_eq!(
        challenge,
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"mcp:read mcp:write\"",
            app.url("/.well-known/oauth-protected-resource/mcp")
        )
    );
    assert_eq!(header(&res, "cache-control"), "no-store");
    // Below the resource path too: not the discovery catch-all.
    let res = app
        .api
        .get(app.url("/mcp/.well-known/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let mut tampered = at.to_owned();
    tampered.pop();
    tampered.push(if at.ends_with('A') { 'B' } else { 'A' });
    let unsigned = {
        let mut parts = at.split('.');
        let (h, p) = (parts.next().unwrap(), parts.next().unwrap());
        format!("{h}.{p}.")
    };
    for (what, token) in [
        ("garbage", "not-a-jwt"),
        ("tampered signature", tampered.as_str()),
        ("no signature", unsigned.as_str()),
        ("refresh token", rt),
        ("token for another resource", other_at),
        ("oversized", &"a".repeat(20_000)),
    ] {
        let res = app
            .api
            .post(app.url("/mcp"))
            .bearer_auth(token)
            .json(&rpc("initialize"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{what}");
        assert!(
            header(&res, "www-authenticate").contains("error=\"invalid_token\""),
            "{what}"
        );
        let (_, body) = status_json(res).await;
        assert_eq!(body["error"], "invalid_token", "{what}");
    }
    // Expired: the Clock moves past the access token lifetime.
    app.clock.advance(3601);
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(at)
        .json(&rpc("ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "expired");
    assert!(
        echo.seen().is_empty(),
        "no refused request reaches the MCP server"
    );
}

#[tokio::test]
async fn gateway_insufficient_scope_names_every_needed_scope() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |c| {
        c.resources[0].required_scopes = vec!["mcp:read".into(), "mcp:write".into()];
    })
    .await;
    let narrow = tokens(&app, &app.resource(), Some("mcp:read")).await;
    assert_eq!(narrow["scope"], "mcp:read");
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(narrow["access_token"].as_str().unwrap())
        .json(&rpc("initialize"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let challenge = header(&res, "www-authenticate");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"mcp:read mcp:write\""),
        "{challenge}"
    );
    assert!(echo.seen().is_empty());
    let full = access_token(&app).await;
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(&full)
        .json(&rpc("initialize"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn gateway_has_its_own_body_limit_and_leaves_mcp_answers_alone() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |c| c.gateway.max_body_bytes = 200 * 1024).await;
    let at = access_token(&app).await;
    // Larger than the authorization server's 64 KiB limit, within the gateway's.
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(&at)
        .body(vec![b'x'; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(echo.seen()[0].body_len, 100 * 1024);

    // Over the limit, declared: refused before anything is forwarded.
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(&at)
        .body(vec![b'x'; 300 * 1024])
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(res).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(echo.seen().len(), 1);

    // Over the limit, chunked (no Content-Length): cut off while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..30).map(|_| Ok(vec![b'y'; 16 * 1024])).collect();
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(&at)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);

    // The MCP server's own 405 passes through as it is, not rewritten into OAuth JSON.
    let res = app
        .api
        .put(app.url("/mcp"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.text().await.unwrap(), "");
}

#[tokio::test]
async fn gateway_answers_502_quickly_when_the_mcp_server_is_down() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", closed.local_addr().unwrap());
    drop(closed);
    let app = gateway_app(&url, |_| {}).await;
    let at = access_token(&app).await;
    let started = Instant::now();
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(&at)
        .json(&rpc("initialize"))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(res).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"], "upstream_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn gateway_answers_504_in_bounded_time_when_the_mcp_server_hangs() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |c| c.gateway.response_timeout_seconds = 1).await;
    let at = access_token(&app).await;
    let started = Instant::now();
    let res = app
        .api
        .post(app.url("/mcp/hang"))
        .bearer_auth(&at)
        .json(&rpc("initialize"))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(res).await;
    assert_eq!(status, 504);
    assert_eq!(body["error"], "upstream_timeout");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn gateway_revoked_grant_stops_working_within_the_poll_bound_sqlite() {
    revoked_grant_stops_working_within_the_poll_bound(Db::Sqlite).await;
}

#[tokio::test]
async fn gateway_revoked_grant_stops_working_within_the_poll_bound_postgres() {
    revoked_grant_stops_working_within_the_poll_bound(Db::Postgres).await;
}

async fn revoked_grant_stops_working_within_the_poll_bound(db: Db) {
    let echo = McpEcho::start().await;
    let Some(app) = gateway_app_on(db, &echo.url, |c| {
        c.gateway.revocation_poll_seconds = 1;
    })
    .await
    else {
        return;
    };
    let at = access_token(&app).await;
    let call = || async {
        app.api
            .post(app.url("/mcp"))
            .bearer_auth(&at)
            .json(&rpc("tools/list"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(call().await, 200);
    let claims = crate::support::app::jwt_claims(&at);
    let store = &app.state.core.store;
    let view = store
        .get_access_token(claims["jti"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let now = app.state.core.now();
    let audit = dcr_bridge::store::AuditEvent::new("revoked", now);
    assert!(store
        .revoke_grant(&view.grant.id, now, &audit)
        .await
        .unwrap());
    let revoked_at = Instant::now();
    // The bound: one poll interval (1 s here) plus one store query.
    loop {
        if call().await == 401 {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_millis(1_500),
            "still accepted {:?} after the grant was revoked",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn gateway_sends_identity_headers_and_strips_forged_copies_sqlite() {
    sends_identity_headers_and_strips_forged_copies(Db::Sqlite).await;
}

#[tokio::test]
async fn gateway_sends_identity_headers_and_strips_forged_copies_postgres() {
    sends_identity_headers_and_strips_forged_copies(Db::Postgres).await;
}

async fn sends_identity_headers_and_strips_forged_copies(db: Db) {
    let echo = McpEcho::start().await;
    let Some(app) = gateway_app_on(db, &echo.url, |c| {
        c.resources[0].identity_headers = dcr_bridge::config::IdentityHeaders {
            user_id: Some("X-User-Id".into()),
            email: Some("X-User-Email".into()),
            name: Some("X-User-Name".into()),
            groups: Some("X-User-Groups".into()),
            client_id: Some("X-Client-Id".into()),
            scopes: Some("X-Scopes".into()),
            client_kind: Some("X-Client-Kind".into()),
            jwt: Some("X-Identity-Token".into()),
        };
    })
    .await
    else {
        return;
    };
    let at = access_token(&app).await;
    let claims = crate::support::app::jwt_claims(&at);
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(&at)
        .header("x-user-id", "admin")
        .header("X-User-Email", "ceo@example.com")
        .header("x-user-groups", "admins")
        .header("x-identity-token", "forged")
        .header("x-scopes", "everything")
        .json(&rpc("tools/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = echo.seen();
    let h = &seen[0].headers;
    let one = |name: &str| {
        let all: Vec<_> = h.get_all(name).iter().collect();
        assert_eq!(all.len(), 1, "{name}: {all:?}");
        all[0].to_str().unwrap().to_owned()
    };
    assert_eq!(one("x-user-id"), claims["sub"].as_str().unwrap());
    assert_eq!(one("x-user-email"), "alice@example.com");
    assert_eq!(one("x-user-name"), "Alice Example");
    assert_eq!(one("x-user-groups"), "engineering");
    assert_eq!(one("x-client-id"), claims["client_id"].as_str().unwrap());
    assert_eq!(one("x-scopes"), "mcp:read mcp:write");
    assert_eq!(one("x-client-kind"), "user");

    // The identity JWT verifies with our JWKS, for the MCP server's audience, and is no
    // access token.
    let jwt = one("x-identity-token");
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("identity+jwt"));
    let jwks = app.get_json("/jwks").await;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .unwrap();
    let decoding =
        jsonwebtoken::DecodingKey::from_jwk(&serde_json::from_value(key.clone()).unwrap()).unwrap();
    // The key's algorithm (ES256 for a new key ring), as the JWK says.
    assert_eq!(key["alg"], "ES256");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[echo.url.as_str()]);
    validation.set_issuer(&[app.base.as_str()]);
    // The test server's Clock is a ManualClock set to the wall clock at start.
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<Value>(&jwt, &decoding, &validation).unwrap();
    let c = data.claims;
    assert_eq!(c["sub"], claims["sub"]);
    assert_eq!(c["email"], "alice@example.com");
    assert_eq!(c["groups"], json!(["engineering"]));
    assert!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap() <= 60);
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(&jwt)
        .json(&rpc("tools/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "an identity JWT is not an access token");
}

#[tokio::test]
async fn gateway_per_tool_scopes_challenge_with_every_needed_scope() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |c| {
        c.resources[0].required_scopes = vec!["mcp:read".into()];
        c.resources[0].tool_scopes =
            std::collections::BTreeMap::from([("deploy".into(), vec!["mcp:write".into()])]);
    })
    .await;
    let narrow = tokens(&app, &app.resource(), Some("mcp:read")).await;
    let narrow = narrow["access_token"].as_str().unwrap();
    let call = |tool: &str, id: u32| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": tool, "arguments": {}}})
    };
    let post = |token: &str, body: Value, name: Option<&str>| {
        let mut req = app.api.post(app.url("/mcp")).bearer_auth(token).json(&body);
        if let Some(n) = name {
            req = req.header("mcp-method", "tools/call").header("mcp-name", n);
        }
        async move { req.send().await.unwrap() }
    };
    // A tool without a mapping needs only required_scopes.
    assert_eq!(post(narrow, call("echo", 1), None).await.status(), 200);
    assert_eq!(
        post(narrow, call("echo", 1), Some("echo")).await.status(),
        200
    );
    // MCP 2026-07-28 (SEP-2243): Mcp-Name may come base64-encoded; it is compared decoded.
    // "=?base64?ZWNobw==?=" is "echo".
    assert_eq!(
        post(narrow, call("echo", 1), Some("=?base64?ZWNobw==?="))
            .await
            .status(),
        200
    );
    let (status, body) =
        status_json(post(narrow, call("echo", 1), Some("=?base64?not base64?=")).await).await;
    assert_eq!(status, 400, "{body}");
    // The mapped tool: 403 naming every scope the call needs, in one challenge.
    for (what, body) in [
        ("single", call("deploy", 2)),
        ("batch", json!([call("echo", 3), call("deploy", 4)])),
    ] {
        let res = post(narrow, body, None).await;
        assert_eq!(res.status(), 403, "{what}");
        let challenge = header(&res, "www-authenticate");
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(
            challenge.contains("scope=\"mcp:read mcp:write\""),
            "{challenge}"
        );
    }
    // Mcp-Name must match the body, never stand in for it.
    let res = post(narrow, call("deploy", 5), Some("echo")).await;
    let (status, body) = status_json(res).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    let res = post(
        narrow,
        json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call"}),
        None,
    )
    .await;
    assert_eq!(res.status(), 400);
    // A body the gateway cannot read the way every server would is refused, not passed on:
    // a key twice (parsers differ on which wins), or not JSON at all.
    for raw in [
        r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","name":"deploy"}}"#,
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo"}} // deploy"#,
    ] {
        let res = app
            .api
            .post(app.url("/mcp"))
            .bearer_auth(narrow)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(res).await;
        assert_eq!(status, 400, "{raw}: {body}");
        assert_eq!(body["error"], "invalid_request");
    }
    let before = echo.seen().len();
    assert_eq!(before, 3, "refused calls never reach the MCP server");
    // With the scope, the call goes through, body intact.
    let full = access_token(&app).await;
    let res = post(&full, call("deploy", 7), Some("deploy")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], 7);
}
