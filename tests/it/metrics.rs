//! `/metrics`: the Prometheus text after a real flow, a refresh, a reuse and gateway calls
//! (deltas between two scrapes, since every app of this test process records into one
//! recorder), its protection on each listener, and the text checked by the reference parser.
//!
//! Series whose labels are this test's own (its upstream and resource ids) are compared exactly;
//! the others are shared with tests running at the same time and only have a lower bound.

use std::collections::BTreeMap;

use dcr_bridge::metrics as m;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::admin::{create_token, BOOT};
use crate::support::app::{BothListeners, Db, TestApp};
use crate::support::python;

/// One scrape: series (`name{labels}` as rendered) → value.
#[derive(Debug)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut series = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let value: f64 = value.parse().unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(
                series.insert(name.to_owned(), value).is_none(),
                "twice: {line}"
            );
        }
        Self(series)
    }

    /// The value of the one series of `name` carrying every pair of `labels` (0 when absent).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<f64> = self
            .0
            .iter()
            .filter(|(series, _)| {
                let (n, rest) = series.split_once('{').unwrap_or((series.as_str(), ""));
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|(_, v)| *v)
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?}: {found:?}");
        found.first().copied().unwrap_or(0.0)
    }
}

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = app.api.get(app.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn scrape_ok(app: &TestApp) -> (Scrape, String) {
    let res = scrape(app, Some(BOOT)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let text = res.text().await.unwrap();
    (Scrape::parse(&text), text)
}

/// One `tools/call whoami` through the gateway.
async fn tools_call(app: &TestApp, token: Option<&str>) -> u16 {
    let mut req = app
        .api
        .post(app.resource())
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "whoami", "arguments": {}}}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn metrics_app(tweak: impl FnOnce(&mut dcr_bridge::config::Config)) -> TestApp {
    TestApp::start_with(Db::Sqlite, |c| {
        c.admin_token = Some(SecretString::from(BOOT.to_owned()));
        tweak(c);
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn metrics_count_a_flow_a_refresh_a_reuse_and_gateway_calls() {
    let app = metrics_app(|c| {
        c.upstreams[0].id = "metrics-corp".into();
        c.resources[0].id = "metrics-tools".into();
    })
    .await;
    let (before, _) = scrape_ok(&app).await;

    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let first_refresh = tokens["refresh_token"].as_str().unwrap();
    let res = app.refresh(first_refresh, &client_id).await;
    assert_eq!(res.status(), 200);
    let refreshed: Value = res.json().await.unwrap();
    let access = refreshed["access_token"].as_str().unwrap();
    // Two calls with one token (the second is a cache hit), one without a token.
    assert_eq!(tools_call(&app, Some(access)).await, 200);
    assert_eq!(tools_call(&app, Some(access)).await, 200);
    assert_eq!(tools_call(&app, None).await, 401);
    // A scope beyond the family's: refused; then the first token again past the grace window.
    let mut form =
        crate::support::app::refresh_form(refreshed["refresh_token"].as_str().unwrap(), &client_id);
    form.push(("scope", "mcp:admin"));
    assert_eq!(app.token(&form).await.status(), 400);
    app.clock.advance(3600);
    let res = app.refresh(first_refresh, &client_id).await;
    assert_eq!(res.status(), 400);

    let (after, text) = scrape_ok(&app).await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);

    for (step, outcome) in [
        ("authorize", "started"),
        ("consent", "shown"),
        ("consent", "given"),
        ("upstream_redirect", "ok"),
        ("callback", "ok"),
        ("code", "issued"),
    ] {
        let d = delta(m::FLOW_STEPS, &[("step", step), ("outcome", outcome)]);
        assert!(d >= 1.0, "{step}/{outcome}: {d}\n{text}");
    }
    for grant_type in ["authorization_code", "refresh_token"] {
        assert!(delta(m::TOKENS_ISSUED, &[("grant_type", grant_type)]) >= 1.0);
    }
    assert!(
        delta(
            m::REGISTRATIONS,
            &[("kind", "dcr"), ("outcome", "registered")]
        ) >= 1.0
    );
    let scope = [("grant_type", "refresh_token"), ("error", "invalid_scope")];
    assert!(delta(m::TOKEN_ERRORS, &scope) >= 1.0);
    let reuse = [("grant_type", "refresh_token"), ("error", "invalid_grant")];
    assert!(delta(m::TOKEN_ERRORS, &reuse) >= 1.0);
    assert!(delta(m::REFRESH_REUSE, &[]) >= 1.0);

    // This test's own upstream and resource: exact figures.
    let token_calls = [("upstream", "metrics-corp"), ("operation", "token")];
    let count = format!("{}_count", m::UPSTREAM_DURATION);
    assert_eq!(
        delta(&count, &token_calls),
        1.0,
        "one code exchange\n{text}"
    );
    let discovery = [("upstream", "metrics-corp"), ("operation", "discovery")];
    assert!(after.get(&count, &discovery) >= 1.0, "{text}");
    assert_eq!(after.get(m::UPSTREAM_ERRORS, &token_calls), 0.0);
    let gw = |class: &str| {
        after.get(
            m::GATEWAY_REQUESTS,
            &[("resource", "metrics-tools"), ("status_class", class)],
        )
    };
    assert_eq!((gw("2xx"), gw("4xx"), gw("5xx")), (2.0, 1.0, 0.0), "{text}");
    let gw_count = format!("{}_count", m::GATEWAY_DURATION);
    assert_eq!(after.get(&gw_count, &[("resource", "metrics-tools")]), 3.0);
    let inf = format!("{}_bucket", m::GATEWAY_DURATION);
    assert_eq!(
        after.get(&inf, &[("resource", "metrics-tools"), ("le", "+Inf")]),
        3.0
    );
    let cache = |result: &str| {
        delta(
            m::CACHE_LOOKUPS,
            &[("cache", "verified_tokens"), ("result", result)],
        )
    };
    assert!(cache("miss") >= 1.0 && cache("hit") >= 1.0, "{text}");

    // Sampled at scrape; the build.
    assert!(after.get(m::DB_POOL_MAX, &[]) >= 1.0, "{text}");
    assert!(after.get(m::DB_POOL_CONNECTIONS, &[("state", "idle")]) >= 0.0);
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    assert_eq!(after.get(m::BUILD_INFO, &version), 1.0);

    // No client id, user id or token anywhere in the text.
    assert!(!text.contains(&client_id), "client id leaked into labels");
    assert!(!text.contains("dev-alice"), "user leaked into labels");
}

#[tokio::test]
async fn metrics_need_an_admin_token_on_the_main_listener() {
    let app = metrics_app(|_| {}).await;
    let res = scrape(&app, None).await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    assert!(!res.text().await.unwrap().contains("dcr_bridge_"));
    assert_eq!(scrape(&app, Some("dcrb_adm_wrong")).await.status(), 401);
    assert_eq!(scrape(&app, Some("")).await.status(), 401);
    // A read-only token is enough; a revoked one is not.
    let (read_only, id) = create_token(&app, "prometheus", true).await;
    assert_eq!(scrape(&app, Some(&read_only)).await.status(), 200);
    let (status, _, _) = crate::admin::call(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/v1/admin-tokens/{id}"),
        Some(BOOT),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(scrape(&app, Some(&read_only)).await.status(), 401);
    // Only GET (and HEAD).
    let res = app
        .api
        .post(app.url("/metrics"))
        .bearer_auth(BOOT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}

#[tokio::test]
async fn metrics_public_or_disabled_as_configured() {
    let app = metrics_app(|c| c.metrics.public = true).await;
    let res = scrape(&app, None).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains(m::BUILD_INFO));

    let app = metrics_app(|c| c.metrics.enabled = false).await;
    assert_eq!(scrape(&app, Some(BOOT)).await.status(), 404);
    assert_eq!(scrape(&app, None).await.status(), 404);
}

#[tokio::test]
async fn admin_listen_serves_metrics_without_a_token_and_the_main_listener_not_at_all() {
    let app = metrics_app(|c| c.admin_listen = Some("127.0.0.1:1".parse().unwrap())).await;
    assert_eq!(scrape(&app, Some(BOOT)).await.status(), 404);
    assert_eq!(scrape(&app, None).await.status(), 404);
    let both = BothListeners::start(app.state.clone()).await;
    let get = |url: String| app.api.get(url).send();
    let res = get(format!("{}/metrics", both.admin_base)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    assert!(res.text().await.unwrap().contains(m::BUILD_INFO));
    let res = get(format!("{}/metrics", both.public_base)).await.unwrap();
    assert_eq!(res.status(), 404);
    // The admin API there still needs its token.
    let res = get(format!("{}/admin/v1/clients", both.admin_base))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    both.stop().await;
}

#[tokio::test]
async fn the_exposition_text_passes_the_reference_parser() {
    if !python::venv_or_skip().await {
        return;
    }
    let app = metrics_app(|_| {}).await;
    // Some of everything: a flow, a refresh, a gateway call.
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let res = app
        .refresh(tokens["refresh_token"].as_str().unwrap(), &client_id)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(tools_call(&app, tokens["access_token"].as_str()).await, 200);
    let (_, text) = scrape_ok(&app).await;
    let parsed = python::parse_metrics(&text)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let families: BTreeMap<&str, &Value> = parsed["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f))
        .collect();
    // The parser names a counter family without `_total`.
    for (name, kind, _) in m::ALL {
        let (family, expected) = match kind {
            m::Kind::Counter => (name.strip_suffix("_total").unwrap(), "counter"),
            m::Kind::Gauge => (*name, "gauge"),
            m::Kind::Histogram => (*name, "histogram"),
        };
        let Some(f) = families.get(family) else {
            // Only failures may be absent from a run without any.
            assert!(
                [m::CALLBACK_FAILURES, m::UPSTREAM_ERRORS].contains(name),
                "{name} missing from\n{text}"
            );
            continue;
        };
        assert_eq!(f["type"], expected, "{name}");
    }
    // A hostile text is refused, so the check above could fail.
    let broken = python::parse_metrics("dcr_bridge_x_total{a=\"1} 1\n").await;
    assert!(broken.is_err(), "{broken:?}");
}
