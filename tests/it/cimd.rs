//! Client ID Metadata Documents through the real server: a document served by a local axum
//! server on loopback (`[cimd] allow_loopback_for_tests`), the whole flow with a URL client id,
//! and the hostile cases (mismatched id, oversized, slow, redirecting, non-JSON, private
//! address, unlisted redirect URI, changed document against a remembered consent).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};

use crate::support::app::{code_form, location, pkce, query_param, status_json, Db, TestApp};

/// What the document server answers.
#[derive(Clone)]
struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
    cache_control: Option<&'static str>,
    location: Option<String>,
    delay: Duration,
}

/// A local server publishing one client metadata document at `/client.json`.
pub(crate) struct DocServer {
    base: String,
    answer: Arc<Mutex<Answer>>,
    hits: Arc<AtomicUsize>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl DocServer {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let answer = Arc::new(Mutex::new(Answer {
            status: 200,
            content_type: "application/json",
            body: String::new(),
            cache_control: Some("max-age=0"),
            location: None,
            delay: Duration::ZERO,
        }));
        let hits = Arc::new(AtomicUsize::new(0));
        let (a, h) = (answer.clone(), hits.clone());
        let app = axum::Router::new().fallback(move || {
            let a = a.lock().unwrap().clone();
            h.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(a.delay).await;
                let mut headers = HeaderMap::new();
                headers.insert(header::CONTENT_TYPE, a.content_type.parse().unwrap());
                if let Some(c) = a.cache_control {
                    headers.insert(header::CACHE_CONTROL, c.parse().unwrap());
                }
                if let Some(l) = &a.location {
                    headers.insert(header::LOCATION, l.parse().unwrap());
                }
                (StatusCode::from_u16(a.status).unwrap(), headers, a.body).into_response()
            }
        });
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        });
        let server = Self {
            base,
            answer,
            hits,
            stop,
        };
        server.publish(&server.document(&["http://127.0.0.1/callback"]));
        server
    }

    pub(crate) fn client_id(&self) -> String {
        format!("{}/client.json", self.base)
    }

    /// A valid document for this server's client id with `redirect_uris`.
    pub(crate) fn document(&self, redirect_uris: &[&str]) -> Value {
        json!({
            "client_id": self.client_id(),
            "client_name": "CIMD Test Client",
            "client_uri": "https://client.example.com",
            "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
    }

    pub(crate) fn publish(&self, doc: &Value) {
        self.set(|a| a.body = doc.to_string());
    }

    fn set(&self, f: impl FnOnce(&mut Answer)) {
        f(&mut self.answer.lock().unwrap());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Stops listening and closes idle connections: the host is down (connection refused).
    async fn stop(&self) {
        let _ = self.stop.send(true);
        // Graceful shutdown closes keep-alive connections asynchronously.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The test setting on, no caching (every resolution fetches), a short fetch timeout.
pub(crate) fn cimd_for_tests(c: &mut dcr_bridge::config::Config) {
    c.cimd.allow_loopback_for_tests = true;
    c.cimd.cache_min_seconds = 0;
    c.cimd.fetch_timeout_ms = 500;
}

/// The client's redirect: port-less in the document, an ephemeral port in use (COMPAT C19).
pub(crate) const REDIRECT: &str = "http://127.0.0.1:49731/callback";

async fn full_flow(db: Db) {
    let docs = DocServer::start().await;
    let Some(app) = TestApp::start_with(db, cimd_for_tests).await else {
        return;
    };
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["client_id_metadata_document_supported"], true);

    let client_id = docs.client_id();
    let (verifier, challenge) = pkce();
    let resource = app.resource();
    let params = TestApp::auth_params(&client_id, REDIRECT, &challenge, &resource);
    let res = app.authorize(&params).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    // The verified domain is the client id's host, not the self-declared name's claim.
    let domain = client_id
        .trim_start_matches("http://")
        .trim_end_matches("/client.json");
    assert!(
        html.contains(&format!("published by <strong>{domain}</strong>")),
        "{html}"
    );
    assert!(!html.contains("not verified"), "{html}");
    assert!(html.contains("CIMD Test Client"));

    let res = app.decide(&html, "approve").await;
    assert_eq!(res.status(), 303);
    let callback = app.upstream_login(&location(&res), "dev-alice").await;
    let res = app.browse(&callback).await;
    assert_eq!(res.status(), 302);
    let back = location(&res);
    assert!(back.starts_with(REDIRECT), "{back}");
    let code = query_param(&back, "code").unwrap();

    let mut form = code_form(&code, REDIRECT, &verifier, &client_id);
    form.push(("resource", &resource));
    let (status, tokens) = status_json(app.token(&form).await).await;
    assert_eq!(status, 200, "{tokens}");
    let introspected = app
        .introspect(tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["client_id"], client_id.as_str());

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = status_json(app.refresh(refresh, &client_id).await).await;
    assert_eq!(status, 200, "{refreshed}");

    // Stored as a cimd client, so grants reference it like any other.
    let stored = app
        .state
        .core
        .store
        .get_client(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.kind, dcr_bridge::store::ClientKind::Cimd);
    assert_eq!(stored.redirect_uris, ["http://127.0.0.1/callback"]);

    // The document withdrawn: the client no longer authenticates at /token.
    docs.set(|a| a.status = 404);
    let next = refreshed["refresh_token"].as_str().unwrap();
    let (status, err) = status_json(app.refresh(next, &client_id).await).await;
    assert_eq!(status, 401, "{err}");
    assert_eq!(err["error"], "invalid_client");
}

#[tokio::test]
async fn cimd_client_full_flow_sqlite() {
    full_flow(Db::Sqlite).await;
}

#[tokio::test]
async fn cimd_client_full_flow_postgres() {
    full_flow(Db::Postgres).await;
}

/// Runs the flow for `docs`' client id; returns its token response.
async fn cimd_tokens(app: &TestApp, docs: &DocServer) -> Value {
    let client_id = docs.client_id();
    let (verifier, challenge) = pkce();
    let resource = app.resource();
    let params = TestApp::auth_params(&client_id, REDIRECT, &challenge, &resource);
    let res = app.authorize(&params).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let res = app.decide(&html, "approve").await;
    assert_eq!(res.status(), 303);
    let callback = app.upstream_login(&location(&res), "dev-alice").await;
    let back = location(&app.browse(&callback).await);
    let code = query_param(&back, "code").unwrap();
    let mut form = code_form(&code, REDIRECT, &verifier, &client_id);
    form.push(("resource", &resource));
    let (status, tokens) = status_json(app.token(&form).await).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// A refresh with the stored record while the document host fails transiently (stopped,
/// then 503) within `stale_if_error_seconds`; refused after the window, and at once on a
/// definitive answer (404). A NEW client from a down host is refused: no stored record.
#[tokio::test]
async fn stored_document_is_used_while_its_host_is_down() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, |c| {
        cimd_for_tests(c);
        c.cimd.stale_if_error_seconds = 600;
    })
    .await
    .unwrap();
    let client_id = docs.client_id();
    let tokens = cimd_tokens(&app, &docs).await;
    let mut refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    // The next refresh token of a successful refresh.
    let ok = |(status, body): (u16, Value)| {
        assert_eq!(status, 200, "{body}");
        body["refresh_token"].as_str().unwrap().to_owned()
    };

    // 5xx: transient.
    docs.set(|a| a.status = 503);
    refresh = ok(status_json(app.refresh(&refresh, &client_id).await).await);
    // 429: transient too.
    docs.set(|a| a.status = 429);
    refresh = ok(status_json(app.refresh(&refresh, &client_id).await).await);

    // A definitive answer refuses at once, stored record or not.
    docs.set(|a| a.status = 404);
    let (status, err) = status_json(app.refresh(&refresh, &client_id).await).await;
    assert_eq!(status, 401, "{err}");
    assert_eq!(err["error"], "invalid_client");
    docs.set(|a| a.status = 200);
    refresh = ok(status_json(app.refresh(&refresh, &client_id).await).await);

    // The host down (connection refused), inside the window: still served, with the
    // document's redirect URIs as stored.
    app.clock.advance(500);
    docs.stop().await;
    let hits = docs.hits();
    refresh = ok(status_json(app.refresh(&refresh, &client_id).await).await);
    assert_eq!(docs.hits(), hits, "the host was down");
    // Past the window counted from the last successful fetch: refused.
    app.clock.advance(101);
    let (status, err) = status_json(app.refresh(&refresh, &client_id).await).await;
    assert_eq!(status, 401, "{err}");
    assert_eq!(err["error"], "invalid_client");

    // A client never fetched before, from a down host: refused on our page.
    let down = DocServer::start().await;
    down.stop().await;
    let (status, html) = authorize_page(&app, &down.client_id(), REDIRECT).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("could not be retrieved"), "{html}");
}

/// `stale_if_error_seconds = 0`: the first transient failure refuses.
#[tokio::test]
async fn stale_window_zero_refuses_at_the_first_failure() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, |c| {
        cimd_for_tests(c);
        c.cimd.stale_if_error_seconds = 0;
    })
    .await
    .unwrap();
    let tokens = cimd_tokens(&app, &docs).await;
    docs.set(|a| a.status = 502);
    app.clock.advance(1);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, err) = status_json(app.refresh(refresh, &docs.client_id()).await).await;
    assert_eq!(status, 401, "{err}");
    assert_eq!(err["error"], "invalid_client");
}

/// Concurrent first requests for one URL client id share one fetch, and the client is stored
/// once (one `cimd_client_added`, no spurious update).
#[tokio::test]
async fn concurrent_first_requests_fetch_once() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, cimd_for_tests)
        .await
        .unwrap();
    // Slow enough that every request arrives while the first fetch is in flight.
    docs.set(|a| a.delay = Duration::from_millis(300));
    let id = docs.client_id();
    let pages =
        futures_util::future::join_all((0..8).map(|_| authorize_page(&app, &id, REDIRECT))).await;
    for (status, body) in pages {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(docs.hits(), 1);
    let events = app.state.core.store.list_audit_events(50).await.unwrap();
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count("cimd_client_added"), 1);
    assert_eq!(count("cimd_client_updated"), 0);
    // No freshness is kept (max-age=0): the next request fetches again.
    assert_eq!(authorize_page(&app, &id, REDIRECT).await.0, 200);
    assert_eq!(docs.hits(), 2);
    // Failures are shared too, and not remembered.
    docs.set(|a| a.status = 404);
    let pages =
        futures_util::future::join_all((0..4).map(|_| authorize_page(&app, &id, REDIRECT))).await;
    for (status, body) in pages {
        assert_eq!(status, 400, "{body}");
    }
    assert_eq!(docs.hits(), 3);
}

/// RFC 7592 management (`/register/{id}`) is a store-only lookup of registered clients: a
/// percent-encoded URL id never triggers a fetch, and a stored CIMD client is not managed
/// there (401 `invalid_token`, as for an unknown client; RFC 7592 §2.1-§2.3).
#[tokio::test]
async fn registration_management_never_fetches_and_refuses_cimd_clients() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, cimd_for_tests)
        .await
        .unwrap();
    let id = docs.client_id();
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let uri = app.url(&format!("/register/{encoded}"));
    let refused = |res: reqwest::Response| async move {
        let (status, body) = status_json(res).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_token");
    };
    let update = json!({"client_id": id, "redirect_uris": ["http://127.0.0.1/x"]});
    // Unknown URL id: no fetch.
    refused(app.api.get(&uri).bearer_auth("t").send().await.unwrap()).await;
    refused(
        app.api
            .put(&uri)
            .bearer_auth("t")
            .json(&update)
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(app.api.delete(&uri).bearer_auth("t").send().await.unwrap()).await;
    assert_eq!(docs.hits(), 0);

    // Stored as a cimd client: still not managed here, still no fetch, not deleted.
    assert_eq!(authorize_page(&app, &id, REDIRECT).await.0, 200);
    assert_eq!(docs.hits(), 1);
    refused(app.api.get(&uri).bearer_auth("t").send().await.unwrap()).await;
    refused(app.api.delete(&uri).bearer_auth("t").send().await.unwrap()).await;
    assert_eq!(docs.hits(), 1);
    assert!(app
        .state
        .core
        .store
        .get_client(&id)
        .await
        .unwrap()
        .is_some());
}

/// Changes the document server's answer for one hostile case.
type Setup = Box<dyn Fn(&mut Answer)>;

/// `/authorize` for `client_id` with the standard parameters; returns (status, body).
pub(crate) async fn authorize_page(
    app: &TestApp,
    client_id: &str,
    redirect: &str,
) -> (u16, String) {
    let (_, challenge) = pkce();
    let resource = app.resource();
    let res = app
        .authorize(&TestApp::auth_params(
            client_id, redirect, &challenge, &resource,
        ))
        .await;
    assert!(res.headers().get("location").is_none());
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Each hostile document is refused on our own page with `invalid_client`, and nothing is
/// stored or cached: fixing the document makes the next request work.
#[tokio::test]
async fn hostile_documents_are_refused_on_our_page() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, cimd_for_tests)
        .await
        .unwrap();
    let id = docs.client_id();
    let good = docs.document(&["http://127.0.0.1/callback"]);
    let mut mismatched = good.clone();
    mismatched["client_id"] = json!(format!("{}/other.json", docs.base));
    let mut secret = good.clone();
    secret["token_endpoint_auth_method"] = json!("client_secret_post");
    let mut padded = good.clone();
    // Unknown fields are ignored by the metadata rules: only the size limit stops this one.
    padded["x_padding"] = json!("z".repeat(6000));
    let cases: Vec<(&str, Setup, &str)> = vec![
        (
            "client_id mismatch",
            Box::new(move |a| a.body = mismatched.to_string()),
            "not its own URL",
        ),
        (
            "oversized",
            Box::new(move |a| a.body = padded.to_string()),
            "larger than 5120 bytes",
        ),
        (
            "slow",
            Box::new(|a| a.delay = Duration::from_secs(3)),
            "timed out",
        ),
        (
            "redirect",
            Box::new(|a| {
                a.status = 302;
                a.location = Some("http://169.254.169.254/latest/meta-data".to_owned());
            }),
            "answered HTTP 302",
        ),
        (
            "not JSON content type",
            Box::new(|a| a.content_type = "text/html"),
            "not served as application",
        ),
        (
            "invalid JSON",
            Box::new(|a| a.body = "{\"client_id\":".to_owned()),
            "not valid JSON",
        ),
        (
            "shared secret method",
            Box::new(move |a| a.body = secret.to_string()),
            "shared secrets",
        ),
        ("server error", Box::new(|a| a.status = 500), "HTTP 500"),
    ];
    for (name, setup, expected) in cases {
        docs.publish(&good);
        docs.set(|a| {
            *a = Answer {
                status: 200,
                content_type: "application/json",
                body: a.body.clone(),
                cache_control: Some("max-age=0"),
                location: None,
                delay: Duration::ZERO,
            };
            setup(a);
        });
        let started = std::time::Instant::now();
        let (status, body) = authorize_page(&app, &id, REDIRECT).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(body.contains("invalid_client"), "{name}: {body}");
        assert!(body.contains(expected), "{name}: {body}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name} took too long"
        );
    }
    // Nothing was stored from the refused documents, and failures were not cached: the valid
    // document works at once.
    assert!(app
        .state
        .core
        .store
        .get_client(&id)
        .await
        .unwrap()
        .is_none());
    docs.publish(&good);
    docs.set(|a| {
        a.status = 200;
        a.content_type = "application/json";
        a.delay = Duration::ZERO;
        a.location = None;
    });
    let (status, _) = authorize_page(&app, &id, REDIRECT).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn redirect_uri_not_in_the_document_is_refused() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, cimd_for_tests)
        .await
        .unwrap();
    for redirect in [
        "http://127.0.0.1:49731/other",
        "https://attacker.example/callback",
        "http://localhost:49731/callback",
    ] {
        let (status, body) = authorize_page(&app, &docs.client_id(), redirect).await;
        assert_eq!(status, 400, "{redirect}");
        assert!(body.contains("does not match"), "{redirect}: {body}");
    }
}

/// Without the test setting, loopback and private addresses are never fetched, whether the
/// host is a name that resolves there or a literal, and the http loopback id is refused.
#[tokio::test]
async fn private_addresses_are_refused_without_the_test_setting() {
    let docs = DocServer::start().await;
    let app = TestApp::start().await;
    let port = docs.base.rsplit(':').next().unwrap().to_owned();
    for (id, expected) in [
        (docs.client_id(), "must use https"),
        (
            format!("https://localhost:{port}/client.json"),
            "not publicly routable",
        ),
        (
            format!("https://127.0.0.1:{port}/client.json"),
            "not publicly routable",
        ),
        (
            "https://[::ffff:7f00:1]/client.json".to_owned(),
            "not publicly routable",
        ),
        (
            "https://10.0.0.1/client.json".to_owned(),
            "not publicly routable",
        ),
        (
            "https://169.254.169.254/client.json".to_owned(),
            "not publicly routable",
        ),
    ] {
        let (status, body) = authorize_page(&app, &id, REDIRECT).await;
        assert_eq!(status, 400, "{id}");
        assert!(body.contains(expected), "{id}: {body}");
    }
    assert_eq!(docs.hits(), 0, "no request may reach the loopback server");
}

#[tokio::test]
async fn admin_restrictions_disable_and_allow_list() {
    let docs = DocServer::start().await;
    let off = TestApp::start_with(Db::Sqlite, |c| {
        cimd_for_tests(c);
        c.cimd.enabled = false;
    })
    .await
    .unwrap();
    let meta = off
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(meta.get("client_id_metadata_document_supported").is_none());
    let (status, body) = authorize_page(&off, &docs.client_id(), REDIRECT).await;
    assert_eq!(status, 400);
    assert!(body.contains("unknown client"), "{body}");

    let listed = TestApp::start_with(Db::Sqlite, |c| {
        cimd_for_tests(c);
        c.cimd.allowed_domains = vec!["*.example.com".to_owned()];
    })
    .await
    .unwrap();
    let (status, body) = authorize_page(&listed, &docs.client_id(), REDIRECT).await;
    assert_eq!(status, 400);
    assert!(body.contains("are not accepted by this server"), "{body}");
    assert_eq!(docs.hits(), 0);
}

/// COMPAT C23: a remembered approval skips the page only while the document is unchanged.
#[tokio::test]
async fn changed_document_shows_the_consent_page_again() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, cimd_for_tests)
        .await
        .unwrap();
    let id = docs.client_id();
    let (_, challenge) = pkce();
    let resource = app.resource();
    let params = TestApp::auth_params(&id, REDIRECT, &challenge, &resource);
    let html = app.authorize(&params).await.text().await.unwrap();
    let res = app
        .decide_with(&html, "approve", &[("remember", "1")])
        .await;
    assert_eq!(res.status(), 303);
    // Unchanged (refetched, since nothing is cached here): remembered.
    let res = app.authorize(&params).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    // The document now also sends codes elsewhere: the page again, although the redirect URI
    // of this request is the same.
    docs.publish(&docs.document(&[
        "http://127.0.0.1/callback",
        "https://attacker.example/collect",
    ]));
    let res = app.authorize(&params).await;
    assert_eq!(res.status(), 200);
    // A new name alone asks again too.
    let mut renamed = docs.document(&["http://127.0.0.1/callback"]);
    renamed["client_name"] = json!("Totally Trustworthy");
    docs.publish(&renamed);
    let res = app.authorize(&params).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Totally Trustworthy"));
}

/// The open-redirector rule (RFC 9700 §4.11.2) holds for CIMD clients: anyone can publish a
/// document, so an error before the user acted is shown, not redirected.
#[tokio::test]
async fn errors_before_consent_are_not_redirected_for_cimd_clients() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, cimd_for_tests)
        .await
        .unwrap();
    let id = docs.client_id();
    let (_, challenge) = pkce();
    let resource = app.resource();
    let mut params = TestApp::auth_params(&id, REDIRECT, &challenge, &resource);
    params[0] = ("response_type", "token");
    let res = app.authorize(&params).await;
    assert!(res.headers().get("location").is_none());
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(body.contains("unsupported_response_type"), "{body}");
}

/// The cache honours `max-age` within bounds: a second resolution inside it does not fetch.
#[tokio::test]
async fn documents_are_cached_for_their_max_age() {
    let docs = DocServer::start().await;
    let app = TestApp::start_with(Db::Sqlite, |c| {
        cimd_for_tests(c);
        c.cimd.cache_min_seconds = 1;
    })
    .await
    .unwrap();
    docs.set(|a| a.cache_control = Some("public, max-age=60"));
    let id = docs.client_id();
    assert_eq!(authorize_page(&app, &id, REDIRECT).await.0, 200);
    assert_eq!(authorize_page(&app, &id, REDIRECT).await.0, 200);
    assert_eq!(docs.hits(), 1);
}

/// The official MCP TypeScript SDK (v1) with `clientMetadataUrl`: it sees
/// `client_id_metadata_document_supported`, skips DCR and uses the URL as its client id through
/// consent, upstream login, code exchange, MCP calls to the stateful SDK server behind the
/// gateway, and refresh.
#[tokio::test]
async fn mcp_typescript_sdk_uses_cimd_stateful() {
    use crate::support::interop::{assert_cimd_session, start_with_cimd_document};
    use crate::support::mcp_server::McpMode;
    use crate::support::node::run_sdk_flow;
    let Some((env, docs)) = start_with_cimd_document(McpMode::Stateful, "sdk-cimd-interop").await
    else {
        return;
    };
    let out = env.upstream.ok_or_panic(
        run_sdk_flow(&env.app.resource(), &docs.script_args()).await,
        "sdk CIMD flow",
    );
    assert_cimd_session(&env, &docs, &out, "client_information").await;
}
