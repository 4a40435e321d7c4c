//! The console in a real headless browser: Debian's Chromium driven through chromedriver
//! (WebDriver, with the `fantoccini` crate). Sign in with an admin token, find a user who
//! signed in through a real flow, revoke their grants, see the audit entry; then the user's
//! refresh token fails. The browser runs the console exactly as an operator would: its CSP,
//! SameSite=Strict cookie, Origin and CSRF checks all apply.
//!
//! Needs `chromium` and `chromedriver` on PATH (`apt-get install chromium chromium-driver`;
//! `.ci/run` installs them). Missing, the test fails, unless `DCR_BRIDGE_TEST_SKIP` names
//! `chromium` outside CI.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::admin::{admin_app, audit_events, BOOT};
use crate::support::app::{status_json, Db};

/// chromedriver, ended when the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_on_path(names: &[&str]) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

/// chromedriver and the Chromium binary; `None` when opted out.
fn prerequisites() -> Option<(String, String)> {
    let found = (
        find_on_path(&["chromedriver"]),
        find_on_path(&["chromium", "chromium-browser"]),
    );
    if let (Some(driver), Some(browser)) = found {
        return Some((driver, browser));
    }
    let skip = std::env::var("DCR_BRIDGE_TEST_SKIP").unwrap_or_default();
    let ci = std::env::var_os("CI").is_some();
    if !ci && skip.split(',').any(|s| s.trim() == "chromium") {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED admin console browser test: DCR_BRIDGE_TEST_SKIP names chromium"
        );
        return None;
    }
    panic!(
        "the admin console browser test needs chromium and chromedriver on PATH \
         (apt-get install -y chromium chromium-driver; .ci/run installs them), found {found:?}; \
         outside CI, DCR_BRIDGE_TEST_SKIP=chromium opts out"
    );
}

/// Starts chromedriver on a free port and a headless Chromium session through it.
async fn start_browser(driver: &str, chromium: &str) -> (Driver, Client) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {driver}: {e}"));
    let driver = Driver(child);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--no-first-run", "--window-size=1280,900"],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        // chromedriver listens on loopback, plain http: no TLS connector needed.
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await;
        match connected {
            Ok(client) => return (driver, client),
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session from chromedriver at {url}: {e}"),
        }
    }
}

/// Waits (at most 20 s) for the element at `css` on the page the browser is on.
async fn element(b: &Client, css: &str) -> fantoccini::elements::Element {
    b.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
}

/// Clicks the element at `css` and waits (at most 20 s) until the browser is on a page whose
/// URL satisfies `arrived`. On failure, says where the browser is and what the page shows.
async fn click_and_wait(b: &Client, css: &str, arrived: impl Fn(&url::Url) -> bool) {
    element(b, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
    let started = Instant::now();
    loop {
        let url = b.current_url().await.unwrap();
        if arrived(&url) {
            return;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let source = b.source().await.unwrap_or_default();
            let head: String = source.chars().take(2000).collect();
            panic!("after clicking {css} the browser is still on {url}; the page:\n{head}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_revokes_a_users_grants_in_chromium() {
    let Some((driver, chromium)) = prerequisites() else {
        return;
    };
    let app = admin_app(Db::Sqlite).await.unwrap();
    // A user signs in through a real flow and gets a refresh token.
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let (_driver, b) = start_browser(&driver, &chromium).await;
    let run = async {
        // No session: the console sends the browser to sign in.
        b.goto(&app.url("/admin/users")).await.unwrap();
        element(&b, "#token").await.send_keys(BOOT).await.unwrap();
        element(&b, "#sign-in").await.click().await.unwrap();
        let who = element(&b, "#operator").await.text().await.unwrap();
        assert_eq!(who, "bootstrap");

        // Find the user by email. Every click that navigates waits for the next page's URL
        // before it looks for an element, or it could find (and click) one on the page it left.
        click_and_wait(&b, "nav a[href='/admin/users']", |u| {
            u.path() == "/admin/users"
        })
        .await;
        element(&b, "#q")
            .await
            .send_keys("alice@example.com")
            .await
            .unwrap();
        click_and_wait(&b, "#search", |u| {
            u.query_pairs()
                .any(|(k, v)| k == "q" && v == "alice@example.com")
        })
        .await;
        click_and_wait(&b, "#users a[href^='/admin/users/']", |u| {
            u.path().starts_with("/admin/users/")
        })
        .await;
        let email = element(&b, "#user-email").await.text().await.unwrap();
        assert_eq!(email, "alice@example.com");
        let source = b.source().await.unwrap();
        assert!(source.contains(&client_id), "the user's grant is listed");

        // Revoke all their grants: the action redirects back to the user's page with a notice.
        element(&b, "#revoke-all").await.click().await.unwrap();
        let notice = element(&b, "#notice").await.text().await.unwrap();
        assert_eq!(notice, "Revoked 1 grant(s).");

        // The audit log shows who did it.
        click_and_wait(&b, "nav a[href='/admin/audit']", |u| {
            u.path() == "/admin/audit"
        })
        .await;
        let first = element(&b, "#events tr.event").await;
        let kind = first
            .find(Locator::Css(".type"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let actor = first
            .find(Locator::Css(".actor"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            (kind.as_str(), actor.as_str()),
            ("admin_grant_revoked", "admin:bootstrap")
        );
    };
    // Close the browser session even when an assertion fails.
    let outcome = std::panic::AssertUnwindSafe(run).catch_unwind().await;
    b.clone().close().await.ok();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }

    // The user's refresh token now fails.
    let (s, body) = status_json(app.refresh(&refresh, &client_id).await).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let event = audit_events(&app)
        .await
        .into_iter()
        .find(|e| e.kind == "admin_grant_revoked")
        .unwrap();
    assert_eq!(event.client_id.as_deref(), Some(client_id.as_str()));
}
