//! Scripted emulations of MCP clients that cannot run here (issue 12 item 5): claude.ai,
//! ChatGPT, Cursor, VS Code and Claude Code. Each test replays what the client is publicly known
//! to send (COMPAT.md: discovery order, CORS preflights, redirect URIs, DCR bodies, token
//! authentication) through registration → consent → upstream login → token → refresh against
//! the real server, and checks the answers that client depends on. They are emulations, not the
//! clients: docs/clients.md says which behaviour each one is taken from.
//!
//! The per-client rules, the MCP 2026-07-28 `offline_access` rules and the redirect-scheme
//! allow-list, exercised with these helpers, are in `client_quirk_rules.rs`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::app::{header, jwt_claims, pkce, query_param, status_json, TestApp};

/// How a client authenticates at `/token`.
#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    None,
    Post(&'a str),
    Basic(&'a str),
}

/// The registration response's client credentials as the client will use them.
pub(crate) fn auth_of(reg: &Value) -> Auth<'_> {
    let secret = reg["client_secret"].as_str().unwrap_or_default();
    match reg["token_endpoint_auth_method"].as_str().unwrap() {
        "none" => Auth::None,
        "client_secret_post" => Auth::Post(secret),
        "client_secret_basic" => Auth::Basic(secret),
        other => panic!("unexpected method {other}"),
    }
}

/// POSTs a `/token` form the way a client with `auth` does, optionally from a browser origin.
pub(crate) async fn token(
    app: &TestApp,
    client_id: &str,
    auth: Auth<'_>,
    origin: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut req = app.api.post(app.url("/token"));
    match auth {
        Auth::None => form.push(("client_id", client_id)),
        Auth::Post(secret) => {
            form.push(("client_id", client_id));
            form.push(("client_secret", secret));
        }
        Auth::Basic(secret) => req = req.basic_auth(client_id, Some(secret)),
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    status_json(req.form(&form).send().await.unwrap()).await
}

/// A CORS preflight from `origin` for `method` on `path`; asserts the 204 a browser needs.
pub(crate) async fn preflight(app: &TestApp, path: &str, origin: &str, headers: &str) {
    let res = app
        .api
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204, "preflight {path} from {origin}");
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        origin,
        "{path}"
    );
    let allowed = header(&res, "access-control-allow-headers").to_ascii_lowercase();
    for h in headers.split(',').map(str::trim) {
        assert!(allowed.contains(h), "{path}: {h} not in {allowed}");
    }
}

/// The unauthenticated MCP request every client starts with (COMPAT C3): 401 and the PRM URL.
pub(crate) async fn first_contact(app: &TestApp, origin: Option<&str>) -> String {
    let mut req = app
        .api
        .post(app.resource())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let res = req
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = header(&res, "www-authenticate");
    if origin.is_some() {
        let expose = header(&res, "access-control-expose-headers").to_ascii_lowercase();
        assert!(expose.contains("www-authenticate"), "{expose}");
    }
    // MCP 2026-07-28 §Refresh Tokens: offline_access is never in a challenge.
    assert!(!challenge.contains("offline_access"), "{challenge}");
    let start = challenge.find("resource_metadata=\"").unwrap() + "resource_metadata=\"".len();
    let end = start + challenge[start..].find('"').unwrap();
    challenge[start..end].to_owned()
}

/// GET `url` (absolute) as JSON with an optional Origin; asserts 200 and CORS.
pub(crate) async fn get_json(app: &TestApp, url: &str, origin: Option<&str>) -> Value {
    let mut req = app
        .api
        .get(url)
        .header("mcp-protocol-version", "2025-06-18");
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    if let Some(o) = origin {
        assert_eq!(header(&res, "access-control-allow-origin"), o, "{url}");
    }
    res.json().await.unwrap()
}

/// RFC 7591 §3.2.1 / COMPAT C5: 201, no null members, the refresh grant granted.
pub(crate) async fn register(app: &TestApp, body: Value, origin: Option<&str>) -> Value {
    let mut req = app.api.post(app.url("/register")).json(&body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let (status, reg) = status_json(req.send().await.unwrap()).await;
    assert_eq!(status, 201, "{reg}");
    let obj = reg.as_object().unwrap();
    assert!(obj.values().all(|v| !v.is_null()), "null member in {reg}");
    assert!(
        reg["grant_types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "refresh_token"),
        "{reg}"
    );
    assert_eq!(reg["redirect_uris"], body["redirect_uris"], "kept verbatim");
    reg
}

/// The browser leg for `redirect` (the URI the client sends this time, maybe on another
/// loopback port than registered): authorize → consent → upstream → our 302. Returns the
/// Location, checked to be `redirect` with code and state.
pub(crate) async fn browser_leg(
    app: &TestApp,
    client_id: &str,
    redirect: &str,
    challenge: &str,
    scope: Option<&str>,
) -> String {
    let resource = app.resource();
    let mut params = TestApp::auth_params(client_id, redirect, challenge, &resource);
    if let Some(s) = scope {
        params.push(("scope", s));
    }
    let back = app.login(&params, "dev-alice").await;
    assert!(
        back.starts_with(&format!("{redirect}?")),
        "{back} is not on {redirect}"
    );
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some("client-state-123")
    );
    back
}

/// Code → tokens → refresh → duplicate refresh within the grace window (COMPAT C16) → the
/// access token at the MCP endpoint. Returns the first token response.
pub(crate) async fn tokens_and_refresh(
    app: &TestApp,
    client_id: &str,
    auth: Auth<'_>,
    origin: Option<&str>,
    code: &str,
    redirect: &str,
    verifier: &str,
) -> Value {
    let resource = app.resource();
    let (status, tokens) = token(
        app,
        client_id,
        auth,
        origin,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
            ("resource", &resource),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "bearer", "COMPAT C8");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    assert_eq!(jwt_claims(access)["aud"], resource.as_str(), "COMPAT C14");
    assert_eq!(jwt_claims(access)["client_id"], client_id);

    let refresh_form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (status, renewed) = token(app, client_id, auth, origin, &refresh_form).await;
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"], "rotated");
    // A retry of the same refresh (lost response, second window) gets the same new pair.
    let (status, again) = token(app, client_id, auth, origin, &refresh_form).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["refresh_token"], renewed["refresh_token"]);

    // The renewed token makes an MCP call through the gateway to the demo server, which learns
    // the client from the gateway's identity headers (never from the token itself).
    let mut call = app
        .api
        .post(app.resource())
        .bearer_auth(renewed["access_token"].as_str().unwrap())
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}},
        }));
    if let Some(o) = origin {
        call = call.header("origin", o);
    }
    let res = call.send().await.unwrap();
    assert_eq!(res.status(), 200, "tools/call through the gateway");
    if let Some(o) = origin {
        assert_eq!(
            res.headers()["access-control-allow-origin"],
            o,
            "COMPAT C4 on the MCP endpoint"
        );
    }
    let answer: Value = res.json().await.unwrap();
    let who = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("");
    assert!(who.contains(client_id), "whoami names the client: {answer}");
    tokens
}

/// claude.ai (COMPAT C3-C7, C11, C16): browser-origin discovery from the 401, DCR as a
/// confidential client with `client_secret_post` and its https callback, no `scope` sent,
/// 302 back, refresh with a retried duplicate.
#[tokio::test]
async fn claude_ai_web_connector() {
    let app = TestApp::start().await;
    let origin = Some("https://claude.ai");
    preflight(
        &app,
        "/mcp",
        "https://claude.ai",
        "authorization, content-type, mcp-protocol-version, mcp-session-id",
    )
    .await;
    let prm_url = first_contact(&app, origin).await;
    assert_eq!(
        prm_url,
        app.url("/.well-known/oauth-protected-resource/mcp")
    );
    let prm = get_json(&app, &prm_url, origin).await;
    let issuer = prm["authorization_servers"][0].as_str().unwrap();
    let meta = get_json(
        &app,
        &format!("{issuer}/.well-known/oauth-authorization-server"),
        origin,
    )
    .await;
    assert_eq!(meta["issuer"], issuer);
    assert!(meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "client_secret_post"));
    preflight(&app, "/register", "https://claude.ai", "content-type").await;
    preflight(&app, "/token", "https://claude.ai", "content-type").await;

    let redirect = "https://claude.ai/api/mcp/auth_callback";
    let reg = register(
        &app,
        json!({
            "client_name": "Claude",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
        }),
        origin,
    )
    .await;
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_post");
    assert!(reg["client_secret"].as_str().is_some_and(|s| !s.is_empty()));
    let client_id = reg["client_id"].as_str().unwrap();

    // No scope: the resource's default scopes (C15), and still a refresh token (MCP
    // 2026-07-28: refresh issuance does not depend on offline_access being asked for).
    let (verifier, challenge) = pkce();
    let back = browser_leg(&app, client_id, redirect, &challenge, None).await;
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(issuer),
        "C9 default"
    );
    let code = query_param(&back, "code").unwrap();
    let tokens = tokens_and_refresh(
        &app,
        client_id,
        auth_of(&reg),
        origin,
        &code,
        redirect,
        &verifier,
    )
    .await;
    assert_eq!(tokens["scope"], "mcp:read mcp:write");
    assert_eq!(tokens["expires_in"], 3600);
}

/// ChatGPT (COMPAT C1, C4): it fetches only the path-suffixed PRM, never the root one; DCR with
/// its hosted https callback and no `token_endpoint_auth_method` (the server's default,
/// `client_secret_basic`, is then what it must use, RFC 7591 §2), the PRM scopes requested.
#[tokio::test]
async fn chatgpt_connector() {
    let app = TestApp::start().await;
    let origin = Some("https://chatgpt.com");
    let _ = first_contact(&app, origin).await;
    let prm = get_json(
        &app,
        &app.url("/.well-known/oauth-protected-resource/mcp"),
        origin,
    )
    .await;
    assert_eq!(prm["resource"], app.resource());
    let scopes: Vec<&str> = prm["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(!scopes.contains(&"offline_access"), "MCP 2026-07-28");
    let issuer = prm["authorization_servers"][0].as_str().unwrap();
    let meta = get_json(
        &app,
        &format!("{issuer}/.well-known/oauth-authorization-server"),
        origin,
    )
    .await;
    assert!(meta["registration_endpoint"].is_string());
    preflight(&app, "/register", "https://chatgpt.com", "content-type").await;
    preflight(
        &app,
        "/token",
        "https://chatgpt.com",
        "authorization, content-type",
    )
    .await;

    let redirect = "https://chatgpt.com/connector_platform_oauth_redirect";
    let reg = register(
        &app,
        json!({
            "client_name": "ChatGPT",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }),
        origin,
    )
    .await;
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    let client_id = reg["client_id"].as_str().unwrap();
    let scope = scopes.join(" ");
    let (verifier, challenge) = pkce();
    let back = browser_leg(&app, client_id, redirect, &challenge, Some(&scope)).await;
    let code = query_param(&back, "code").unwrap();
    let tokens = tokens_and_refresh(
        &app,
        client_id,
        auth_of(&reg),
        origin,
        &code,
        redirect,
        &verifier,
    )
    .await;
    assert_eq!(tokens["scope"], scope.as_str());
}

/// Cursor (COMPAT C2, C11, C20): AS metadata first, DCR as a public client with both of its
/// callbacks, the private-use `cursor://` one used.
#[tokio::test]
async fn cursor_private_use_scheme() {
    let app = TestApp::start().await;
    let meta = get_json(
        &app,
        &app.url("/.well-known/oauth-authorization-server"),
        None,
    )
    .await;
    assert!(meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "none"));
    let redirect = "cursor://anysphere.cursor-mcp/oauth/callback";
    let reg = register(
        &app,
        json!({
            "client_name": "Cursor",
            "redirect_uris": [redirect, "https://www.cursor.com/agents/mcp/oauth/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }),
        None,
    )
    .await;
    assert!(reg.get("client_secret").is_none(), "public client");
    let client_id = reg["client_id"].as_str().unwrap();
    let (verifier, challenge) = pkce();
    let back = browser_leg(&app, client_id, redirect, &challenge, None).await;
    let code = query_param(&back, "code").unwrap();
    tokens_and_refresh(
        &app,
        client_id,
        Auth::None,
        None,
        &code,
        redirect,
        &verifier,
    )
    .await;
}

/// VS Code (COMPAT C10, C19): the DCR body of its `fetchDynamicRegistration` (vscode.dev
/// relays, a port-less loopback URI and the fixed 33418 one, `none`, the grant types we list),
/// then an ephemeral port because 33418 was taken.
#[tokio::test]
async fn vscode_loopback_ephemeral_port() {
    let app = TestApp::start().await;
    let prm = get_json(&app, &first_contact(&app, None).await, None).await;
    let scope = prm["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let reg = register(
        &app,
        json!({
            "client_name": "Visual Studio Code",
            "client_uri": "https://code.visualstudio.com",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": [
                "https://insiders.vscode.dev/redirect",
                "https://vscode.dev/redirect",
                "http://127.0.0.1/",
                "http://127.0.0.1:33418/",
            ],
            "scope": scope,
            "token_endpoint_auth_method": "none",
        }),
        None,
    )
    .await;
    let client_id = reg["client_id"].as_str().unwrap();
    let redirect = "http://127.0.0.1:54917/";
    let (verifier, challenge) = pkce();
    let back = browser_leg(&app, client_id, redirect, &challenge, Some(&scope)).await;
    let code = query_param(&back, "code").unwrap();
    tokens_and_refresh(
        &app,
        client_id,
        Auth::None,
        None,
        &code,
        redirect,
        &verifier,
    )
    .await;
}

/// Claude Code (COMPAT C2, C10, C12, C21): DCR with its `localhost` callback on the port it
/// listens on, public client, refresh; a registration that was deleted gets 401
/// `invalid_client` so it registers again.
#[tokio::test]
async fn claude_code_cli() {
    let app = TestApp::start().await;
    let prm = get_json(&app, &first_contact(&app, None).await, None).await;
    let issuer = prm["authorization_servers"][0].as_str().unwrap();
    let meta = get_json(
        &app,
        &format!("{issuer}/.well-known/oauth-authorization-server"),
        None,
    )
    .await;
    assert!(meta["registration_endpoint"].is_string(), "C2");
    let redirect = "http://localhost:49152/callback";
    let reg = register(
        &app,
        json!({
            "client_name": "Claude Code (dcr-bridge)",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }),
        None,
    )
    .await;
    assert_eq!(reg["application_type"], "native");
    let client_id = reg["client_id"].as_str().unwrap();
    let (verifier, challenge) = pkce();
    let back = browser_leg(&app, client_id, redirect, &challenge, None).await;
    let code = query_param(&back, "code").unwrap();
    let tokens = tokens_and_refresh(
        &app,
        client_id,
        Auth::None,
        None,
        &code,
        redirect,
        &verifier,
    )
    .await;

    // A stale id (the database was reset, or the registration expired): 401 invalid_client.
    let (status, err) = token(
        &app,
        "dcrb_c_gone",
        Auth::None,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_client"))
    );
}
