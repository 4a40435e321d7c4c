//! What a token request is bound to, through the real server: the scope consented for each
//! refresh-token family (RFC 9700 §4.14.2), `redirect_uri` exactly when /authorize had one
//! (RFC 6749 §4.1.3), and one record of client use per token request.

use serde_json::Value;

use crate::support::app::{
    code_form, jwt_claims, pkce, query_param, refresh_form, status_json, AuthRequest, Db, TestApp,
};

/// Signs in as `dev-alice` for `req`'s client with `extra` parameters and redeems the code.
async fn tokens(app: &TestApp, req: &AuthRequest, extra: &[(&str, &str)]) -> Value {
    let params = [req.params(), extra.to_vec()].concat();
    let back = app.login(&params, "dev-alice").await;
    let code = query_param(&back, "code").unwrap();
    let res = app
        .token(&code_form(
            &code,
            &req.redirect,
            &req.verifier,
            &req.client_id,
        ))
        .await;
    let (status, body) = status_json(res).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A new PKCE pair for another authorization of the same client.
fn again(req: &AuthRequest) -> AuthRequest {
    let (verifier, challenge) = pkce();
    AuthRequest {
        client_id: req.client_id.clone(),
        redirect: req.redirect.clone(),
        verifier,
        challenge,
        resource: req.resource.clone(),
    }
}

/// Refreshes `tokens`' refresh token for `req`'s client, asking for `scope` if given.
async fn refresh(
    app: &TestApp,
    req: &AuthRequest,
    tokens: &Value,
    scope: Option<&str>,
) -> (u16, Value) {
    let mut form = refresh_form(tokens["refresh_token"].as_str().unwrap(), &req.client_id);
    form.extend(scope.map(|s| ("scope", s)));
    status_json(app.token(&form).await).await
}

async fn family_scope_survives_reauthorization(db: Db) {
    let Some(app) = TestApp::start_with(db, |_| {}).await else {
        return;
    };
    let req = app.auth_request().await;
    let wide = tokens(&app, &req, &[("scope", "mcp:read mcp:write")]).await;
    assert_eq!(wide["scope"], "mcp:read mcp:write");
    // The same user authorizes the same client again, for less: the grant row is shared.
    let narrow = tokens(&app, &again(&req), &[("scope", "mcp:read")]).await;
    assert_eq!(narrow["scope"], "mcp:read");

    let (status, first) = refresh(&app, &req, &wide, None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        first["scope"], "mcp:read mcp:write",
        "the earlier family keeps what was consented for it"
    );
    assert_eq!(
        jwt_claims(first["access_token"].as_str().unwrap())["scope"],
        "mcp:read mcp:write"
    );
    let (status, err) = refresh(&app, &req, &narrow, Some("mcp:read mcp:write")).await;
    assert_eq!(
        (status, &err["error"]),
        (400, &Value::from("invalid_scope"))
    );
    let (status, second) = refresh(&app, &req, &narrow, None).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["scope"], "mcp:read", "the later family cannot widen");
    assert_eq!(
        jwt_claims(second["access_token"].as_str().unwrap())["scope"],
        "mcp:read"
    );
}

#[tokio::test]
async fn family_scope_survives_reauthorization_sqlite() {
    family_scope_survives_reauthorization(Db::Sqlite).await;
}

#[tokio::test]
async fn family_scope_survives_reauthorization_postgres() {
    family_scope_survives_reauthorization(Db::Postgres).await;
}

/// The token request for a code from `params` (`redirect_uri` as given), as (status, body).
async fn redeem(
    app: &TestApp,
    req: &AuthRequest,
    params: &[(&str, &str)],
    redirect: Option<&str>,
) -> (u16, Value) {
    let back = app.login(params, "dev-alice").await;
    let code = query_param(&back, "code").unwrap();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", req.verifier.as_str()),
        ("client_id", req.client_id.as_str()),
    ];
    if let Some(redirect) = redirect {
        form.push(("redirect_uri", redirect));
    }
    status_json(app.token(&form).await).await
}

/// RFC 6749 §4.1.3: `redirect_uri` is required at /token if, and only if, it was included in
/// the authorization request, and then must be identical.
#[tokio::test]
async fn redirect_uri_is_required_at_token_only_when_sent_at_authorize() {
    let app = TestApp::start().await;
    let req = app.auth_request().await; // one registered redirect URI
    let without: Vec<_> = req
        .params()
        .into_iter()
        .filter(|(k, _)| *k != "redirect_uri")
        .collect();

    let (status, body) = redeem(&app, &req, &without, None).await;
    assert_eq!(status, 200, "omitted at both: {body}");

    let req = again(&req);
    let (status, body) = redeem(&app, &req, &req.params(), None).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &Value::from("invalid_grant")),
        "{body}"
    );

    let req = again(&req);
    let (status, body) = redeem(
        &app,
        &req,
        &req.params(),
        Some("http://127.0.0.1:33418/other"),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (400, &Value::from("invalid_grant")),
        "{body}"
    );

    let req = again(&req);
    let (status, body) = redeem(&app, &req, &req.params(), Some(&req.redirect)).await;
    assert_eq!(status, 200, "sent at both, identical: {body}");
}

/// Each successful token request records client use at most once (it was written twice: by
/// the grant and again by the HTTP handler), and a client's uses within a minute of the last
/// recorded one write nothing (issue 14: one write a minute per busy client). Counted with a
/// trigger on the real SQLite database.
#[tokio::test]
async fn a_token_request_records_client_use_once() {
    use sqlx::Connection as _;
    let app = TestApp::start().await;
    let mut db = sqlx::SqliteConnection::connect(&app.state.config.database_url)
        .await
        .unwrap();
    for sql in [
        "CREATE TABLE touch_log (client_id TEXT NOT NULL)",
        "CREATE TRIGGER touch_counter AFTER UPDATE OF last_used_at ON clients \
         BEGIN INSERT INTO touch_log VALUES (new.client_id); END",
    ] {
        sqlx::query(sql).execute(&mut db).await.unwrap();
    }
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    assert_eq!(touches(&mut db, &client_id).await, 1, "authorization_code");
    let res = app
        .refresh(tokens["refresh_token"].as_str().unwrap(), &client_id)
        .await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(
        touches(&mut db, &client_id).await,
        1,
        "a refresh within the minute: no write"
    );
    app.clock.advance(61);
    let res = app
        .refresh(tokens["refresh_token"].as_str().unwrap(), &client_id)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        touches(&mut db, &client_id).await,
        2,
        "a refresh a minute later: one more"
    );
}

async fn touches(db: &mut sqlx::SqliteConnection, client_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM touch_log WHERE client_id = $1")
        .bind(client_id)
        .fetch_one(db)
        .await
        .unwrap()
}
