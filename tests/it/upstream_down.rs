//! The IdP goes down after dcr-bridge cached its discovery document and keys (issue 15): the
//! callback of a sign-in under way, and every new sign-in after it, get the "sign-in service
//! unavailable" page at once (503, returning `temporarily_unavailable` to the client, RFC 6749
//! §4.1.2.1) instead of a browser sent to a dead IdP; nothing is half-written; and sign-ins work
//! again once the IdP is back.

use std::time::{Duration, Instant};

use dcr_bridge::devidp::{DevIdpConfig, DevUser};
use dcr_bridge::idp::reachability::PROBE_INTERVAL_SECONDS;
use dcr_bridge::store::{GrantFilter, PageRequest};

use crate::support::app::{location, meta_refresh, pkce, query_param, Db, TestApp};

/// Generous: connection refused is immediate; this bounds "at once", it is not a benchmark.
const FAIL_WITHIN: Duration = Duration::from_secs(5);

/// The consent page for a new public client: (client id, redirect URI, page).
async fn consent_page(app: &TestApp) -> (String, String, String) {
    let (client_id, redirect) = app.public_client().await;
    let (_, challenge) = pkce();
    let resource = app.resource();
    let params = TestApp::auth_params(&client_id, &redirect, &challenge, &resource);
    let res = app.authorize(&params).await;
    assert_eq!(res.status(), 200, "authorize");
    (client_id, redirect, res.text().await.unwrap())
}

/// `res` is the "sign-in service unavailable" page, returning to `redirect` with
/// `temporarily_unavailable` and the client's state.
async fn assert_unavailable_page(what: &str, res: reqwest::Response, redirect: &str) {
    assert_eq!(res.status(), 503, "{what}");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Sign-in service unavailable"),
        "{what}: {page}"
    );
    let back = meta_refresh(&page).unwrap_or_default();
    assert!(back.starts_with(redirect), "{what}: {back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("temporarily_unavailable"),
        "{what}: {back}"
    );
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some("client-state-123")
    );
}

async fn grants_of(app: &TestApp, client_id: &str) -> usize {
    let filter = GrantFilter {
        client_id: Some(client_id.to_owned()),
        ..Default::default()
    };
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    let grants = app.state.core.store.list_grants(&filter, &page).await;
    grants.unwrap().len()
}

/// Stops the dev IdP and waits until its port refuses connections.
async fn stop_idp(app: &mut TestApp) -> std::net::SocketAddr {
    let idp = app.idp.take().expect("the dev IdP");
    let addr = idp.addr;
    drop(idp);
    let deadline = Instant::now() + FAIL_WITHIN;
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "the dev IdP did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    addr
}

async fn the_idp_goes_down_after_discovery(db: Db) {
    let Some(mut app) = TestApp::start_with(db, |_| {}).await else {
        return;
    };
    // One whole sign-in: discovery and keys are cached.
    app.tokens_for_new_client().await;

    // --- Mid-flow: the user signed in at the IdP, which stops before our code exchange -------
    let (client_id, redirect, html) = consent_page(&app).await;
    let res = app.decide(&html, "approve").await;
    assert_eq!(res.status(), 303, "consent");
    let callback = app.upstream_login(&location(&res), "dev-alice").await;
    let addr = stop_idp(&mut app).await;
    let started = Instant::now();
    let res = app.browse(&callback).await;
    assert!(started.elapsed() < FAIL_WITHIN, "{:?}", started.elapsed());
    assert_unavailable_page("callback", res, &redirect).await;
    assert_eq!(grants_of(&app, &client_id).await, 0, "nothing half-written");

    // --- A new sign-in: not sent to the dead IdP ---------------------------------------------
    let (client_id, redirect, html) = consent_page(&app).await;
    let started = Instant::now();
    let res = app.decide(&html, "approve").await;
    assert!(started.elapsed() < FAIL_WITHIN, "{:?}", started.elapsed());
    assert_unavailable_page("consent", res, &redirect).await;
    // Between probes the answer needs no request to the IdP either.
    let (_, redirect_2, html_2) = consent_page(&app).await;
    let res = app.decide(&html_2, "approve").await;
    assert_unavailable_page("consent, no probe", res, &redirect_2).await;

    // --- The IdP is back on the same address (with a new signing key) ------------------------
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let idp = dcr_bridge::devidp::spawn(
        listener,
        DevIdpConfig {
            issuer: format!("http://{addr}"),
            client_id: "bridge-client".into(),
            client_secret: "bridge-secret".into(),
            redirect_uris: vec![app.url("/oauth/callback")],
            users: DevUser::defaults(),
            auto_login: true,
        },
    )
    .await
    .unwrap();
    idp.use_clock(app.clock.clone());
    app.idp = Some(idp);
    app.clock.advance(PROBE_INTERVAL_SECONDS);
    // The refused approval left the pending request as it was: the same form goes on now.
    let res = app.decide(&html, "approve").await;
    assert_eq!(res.status(), 303, "consent after the IdP returned");
    let callback = app.upstream_login(&location(&res), "dev-alice").await;
    let res = app.browse(&callback).await;
    assert_eq!(res.status(), 302, "callback: {}", res.text().await.unwrap());
    let back = location(&res);
    assert!(back.starts_with(&redirect), "{back}");
    assert!(query_param(&back, "code").is_some(), "{back}");
    assert_eq!(grants_of(&app, &client_id).await, 1);
}

crate::admin::on_both_databases!(the_idp_goes_down_after_discovery);
