//! Issue 11, finding 2: an incoming `X-Request-Id` is kept only when short and plain
//! (`^[A-Za-z0-9._-]{1,64}$`); anything else is replaced before the span, the handlers, the audit
//! trail and the response see it, refused (429) requests included.

use reqwest::header::HeaderValue;
use serde_json::{json, Value};

use crate::support::app::{Db, TestApp};

fn registration() -> Value {
    json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none"})
}

/// Registers with `id` as `X-Request-Id`; returns the status and the response's id.
async fn register_with_id(app: &TestApp, id: HeaderValue) -> (u16, String) {
    let res = app
        .api
        .post(app.url("/register"))
        .header("x-request-id", id)
        .json(&registration())
        .send()
        .await
        .unwrap();
    let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    (res.status().as_u16(), echoed)
}

async fn last_audit_request_id(app: &TestApp) -> Option<String> {
    let events = app.state.core.store.list_audit_events(1).await.unwrap();
    assert_eq!(events[0].kind, "registered");
    events[0].request_id.clone()
}

fn is_fresh(id: &str, sent: &[u8]) -> bool {
    id.as_bytes() != sent
        && (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[tokio::test]
async fn unplain_request_ids_are_replaced_everywhere() {
    let app = TestApp::start().await;
    let huge = "a".repeat(350_000);
    let bad: Vec<Vec<u8>> = vec![
        huge.into_bytes(),
        b"has spaces in it".to_vec(),
        b"line%0d%0abreak".to_vec(),
        b"tab\there".to_vec(),
        "caf\u{e9}-\u{202e}".as_bytes().to_vec(),
        "x".repeat(65).into_bytes(),
    ];
    for sent in bad {
        let (status, echoed) =
            register_with_id(&app, HeaderValue::from_bytes(&sent).unwrap()).await;
        let shown = String::from_utf8_lossy(&sent[..sent.len().min(40)]).into_owned();
        assert_eq!(status, 201, "{shown}");
        assert!(is_fresh(&echoed, &sent), "{shown} -> {echoed}");
        assert_eq!(
            last_audit_request_id(&app).await.as_deref(),
            Some(echoed.as_str()),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn a_plain_request_id_is_kept() {
    let app = TestApp::start().await;
    for sent in ["req-42_a.b", &"x".repeat(64)] {
        let (status, echoed) = register_with_id(&app, HeaderValue::from_str(sent).unwrap()).await;
        assert_eq!(status, 201);
        assert_eq!(echoed, sent);
        assert_eq!(last_audit_request_id(&app).await.as_deref(), Some(sent));
    }
    // No id: one is made.
    let res = app.post_json("/register", &registration()).await;
    let made = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(is_fresh(&made, b""), "{made}");
}

#[tokio::test]
async fn refused_requests_get_a_fresh_id_too() {
    let app = TestApp::start_with(Db::Sqlite, |c| c.rate_limit.register_per_minute = 1)
        .await
        .unwrap();
    app.register(registration()).await;
    let sent = "b".repeat(350_000);
    let (status, echoed) = register_with_id(&app, HeaderValue::from_str(&sent).unwrap()).await;
    assert_eq!(status, 429);
    assert!(is_fresh(&echoed, sent.as_bytes()), "{}", echoed.len());
}
