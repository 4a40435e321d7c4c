//! Per client IP rate limits on registration and the token endpoints: 429 in the RFC error shape
//! with `Retry-After`, a bucket per endpoint, forwarded headers only when trusted.

use serde_json::{json, Value};

use crate::support::app::{Db, TestApp};

fn registration() -> Value {
    json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none"})
}

async fn register_from(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app.api.post(app.url("/register")).json(&registration());
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.unwrap()
}

async fn start(tweak: impl FnOnce(&mut dcr_bridge::config::RateLimitSettings)) -> TestApp {
    TestApp::start_with(Db::Sqlite, |c| tweak(&mut c.rate_limit))
        .await
        .unwrap()
}

/// Asserts the 429 shape and returns its `Retry-After` seconds.
async fn assert_limited(res: reqwest::Response) -> u64 {
    assert_eq!(res.status(), 429);
    let h = res.headers();
    assert_eq!(h["cache-control"], "no-store");
    let retry_after: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "temporarily_unavailable", "error_description": "too many requests, retry later"})
    );
    retry_after
}

#[tokio::test]
async fn fourth_registration_in_a_minute_is_refused_token_endpoint_is_not() {
    let app = start(|r| r.register_per_minute = 3).await;
    let mut first = Value::Null;
    for _ in 0..3 {
        first = app.register(registration()).await;
    }
    let retry_after = assert_limited(register_from(&app, None).await).await;
    // One registration comes back every 60 s / 3.
    assert!((1..=20).contains(&retry_after), "{retry_after}");

    // Other endpoints have buckets of their own: /token answers on its merits.
    let res = app.token(&[("grant_type", "password")]).await;
    assert_eq!(res.status(), 401, "no client: invalid_client, not 429");
    // RFC 7592 management is authenticated and not counted as registration.
    let res = app
        .api
        .get(first["registration_client_uri"].as_str().unwrap())
        .bearer_auth(first["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn token_endpoint_has_its_own_limit() {
    let app = start(|r| r.token_per_minute = 2).await;
    for _ in 0..2 {
        let res = app.token(&[("grant_type", "password")]).await;
        assert_eq!(res.status(), 401);
    }
    let res = app.token(&[("grant_type", "password")]).await;
    assert!(assert_limited(res).await <= 30);
    app.register(registration()).await;
}

#[tokio::test]
async fn forwarded_for_counts_only_when_trusted() {
    // Untrusted: a client cannot buy fresh buckets by inventing X-Forwarded-For values.
    let app = start(|r| r.register_per_minute = 1).await;
    assert_eq!(
        register_from(&app, Some("198.51.100.1")).await.status(),
        201
    );
    assert_limited(register_from(&app, Some("198.51.100.2")).await).await;

    // Trusted (behind one proxy that appends): each forwarded client has its own bucket, keyed
    // on the right-most entry, so a value the client wrote to the left changes nothing.
    let app = start(|r| {
        r.register_per_minute = 1;
        r.client_ip_header = Some(dcr_bridge::config::ClientIpHeader::XForwardedFor);
    })
    .await;
    assert_eq!(
        register_from(&app, Some("1.2.3.4, 198.51.100.1"))
            .await
            .status(),
        201
    );
    assert_limited(register_from(&app, Some("9.9.9.9, 198.51.100.1")).await).await;
    assert_eq!(
        register_from(&app, Some("198.51.100.2")).await.status(),
        201
    );
}

/// Issue 11, finding 10: behind a proxy that writes only RFC 7239 `Forwarded`, the
/// `X-Forwarded-For` a client sends passes through and must not pick the bucket.
#[tokio::test]
async fn only_the_configured_forwarding_header_counts() {
    let app = start(|r| {
        r.register_per_minute = 1;
        r.client_ip_header = Some(dcr_bridge::config::ClientIpHeader::Forwarded);
    })
    .await;
    let send = |forwarded: &'static str, xff: &'static str| {
        app.api
            .post(app.url("/register"))
            .header("forwarded", forwarded)
            .header("x-forwarded-for", xff)
            .json(&registration())
            .send()
    };
    assert_eq!(
        send("for=198.51.100.1", "203.0.113.1")
            .await
            .unwrap()
            .status(),
        201
    );
    assert_limited(send("for=198.51.100.1", "203.0.113.2").await.unwrap()).await;
    assert_eq!(
        send("for=198.51.100.2", "203.0.113.2")
            .await
            .unwrap()
            .status(),
        201
    );
}

#[tokio::test]
async fn disabled_means_unlimited() {
    let app = start(|r| {
        r.enabled = false;
        r.register_per_minute = 1;
    })
    .await;
    for _ in 0..3 {
        app.register(registration()).await;
    }
}

#[tokio::test]
async fn authorize_is_limited_per_address_for_get_and_post() {
    let app = start(|r| r.authorize_per_minute = 2).await;
    let (client_id, redirect) = app.public_client().await;
    let (_, challenge) = crate::support::app::pkce();
    let resource = app.resource();
    let params = TestApp::auth_params(&client_id, &redirect, &challenge, &resource);
    for _ in 0..2 {
        assert_eq!(app.authorize(&params).await.status(), 200);
    }
    assert_limited(app.authorize(&params).await).await;
    let res = app
        .browser
        .post(app.url("/authorize"))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_limited(res).await;
}
