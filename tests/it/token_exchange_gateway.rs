//! The gateway's upstream token header (`[[resources]] upstream_token_header`, issue 13 item 5)
//! in front of the SDK MCP server (`mcp_server.mjs`, which records the header it received),
//! with the environment of `token_exchange.rs`.

use serde_json::json;

use crate::support::app::Db;
use crate::token_exchange::{exchange_env, exchanged, grant_id, sign_in, ADMIN};

/// The gateway sends alice's upstream access token in `X-Upstream-Authorization` on every
/// request it forwards for her (the SDK's whole MCP session), the same one the exchange hands
/// out, and a copy the client forged never reaches the MCP server.
async fn the_gateway_injects_the_upstream_token(db: Db) {
    let Some(env) = exchange_env(db).await else {
        return;
    };
    let held = sign_in(&env).await;
    let (token, _) = exchanged(&env, &held).await;
    let expected = format!("Bearer {token}");
    let seen = env.mcp.assert_reached_without_credentials().await;
    let requests = seen["requests"].as_array().unwrap();
    for r in requests {
        assert_eq!(r["upstream_authorization"], expected.as_str(), "{r}");
    }
    let before = requests.len();
    let res = env
        .app
        .api
        .post(env.app.resource())
        .bearer_auth(&held.access_token)
        .header("x-upstream-authorization", "Bearer forged-by-the-client")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status().as_u16(), 500);
    let seen = env.mcp.seen().await.unwrap();
    let requests = seen["requests"].as_array().unwrap();
    assert_eq!(requests.len(), before + 1, "{seen}");
    assert_eq!(
        requests[before]["upstream_authorization"],
        expected.as_str()
    );
    assert!(!seen.to_string().contains("forged-by-the-client"));

    // Without a valid access token nothing is forwarded, so nothing is injected.
    let res = env
        .app
        .api
        .post(env.app.resource())
        .header("x-upstream-authorization", "Bearer forged-by-the-client")
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // After an admin revokes the grant, the gateway refuses before forwarding (the
    // revocation poll may lag; the grant read for the header does not).
    let grant = grant_id(&env, &held).await;
    let res = env
        .app
        .api
        .delete(env.app.url(&format!("/admin/v1/grants/{grant}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let res = env
        .app
        .api
        .post(env.app.resource())
        .bearer_auth(&held.access_token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let after = env.mcp.seen().await.unwrap();
    assert_eq!(after["requests"].as_array().unwrap().len(), before + 1);
}

crate::admin::on_both_databases!(the_gateway_injects_the_upstream_token);
