//! The `X-Forwarded-*` headers the MCP server gets are written by the gateway: the client's
//! own forwarding headers never reach it, and the client address is the one dcr-bridge trusts
//! (the TCP peer, or the right-most entry of `rate_limit.client_ip_header`).

use dcr_bridge::config::ClientIpHeader;
use reqwest::header::HeaderMap;

use crate::gateway::{access_token, gateway_app, rpc};
use crate::support::app::TestApp;
use crate::support::mcp_echo::McpEcho;

/// A request carrying every forwarding header a client could forge; what the MCP server saw.
async fn forged_request(app: &TestApp, echo: &McpEcho, xff: &str) -> HeaderMap {
    let at = access_token(app).await;
    let res = app
        .api
        .post(app.url("/mcp"))
        .bearer_auth(&at)
        .header("x-forwarded-for", xff)
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-port", "443")
        .header("x-forwarded-prefix", "/admin")
        .header("x-real-ip", "6.6.6.6")
        .header("forwarded", "for=6.6.6.6;host=evil.example;proto=https")
        .json(&rpc("initialize"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    echo.seen().last().unwrap().headers.clone()
}

fn one(h: &HeaderMap, name: &str) -> String {
    let all: Vec<_> = h.get_all(name).iter().collect();
    assert_eq!(all.len(), 1, "{name}: {all:?}");
    all[0].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn gateway_writes_x_forwarded_headers_and_drops_the_clients() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |_| {}).await;
    let h = forged_request(&app, &echo, "6.6.6.6").await;
    // The test client connects from loopback; public_url is http://127.0.0.1:<port>.
    assert_eq!(one(&h, "x-forwarded-for"), "127.0.0.1");
    assert_eq!(one(&h, "x-forwarded-proto"), "http");
    assert_eq!(
        one(&h, "x-forwarded-host"),
        app.base.trim_start_matches("http://")
    );
    for gone in [
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-real-ip",
        "forwarded",
    ] {
        assert!(h.get(gone).is_none(), "{gone}: {:?}", h.get(gone));
    }
}

#[tokio::test]
async fn gateway_x_forwarded_for_is_the_trusted_proxys_client_address() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |c| {
        c.rate_limit.client_ip_header = Some(ClientIpHeader::XForwardedFor);
    })
    .await;
    // The proxy appended the address it saw; the entries left of it are the client's own.
    let h = forged_request(&app, &echo, "6.6.6.6, 203.0.113.7").await;
    assert_eq!(one(&h, "x-forwarded-for"), "203.0.113.7");
    assert!(h.get("forwarded").is_none());
    assert!(h.get("x-real-ip").is_none());
}
