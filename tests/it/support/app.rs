//! `TestApp`: the real server on 127.0.0.1:0 (SQLite in a temp dir, or a fresh Postgres
//! database) with the development OIDC provider as its upstream, plus a browser-like client
//! (cookies, no redirects) to walk flows step by step.

use std::sync::Arc;

use base64::Engine as _;
use dcr_bridge::app::AppState;
use dcr_bridge::clock::ManualClock;
use dcr_bridge::config::{Config, ResourceConfig, UpstreamConfig};
use dcr_bridge::devidp::{DevIdpConfig, DevIdpHandle, DevUser};
use reqwest::header::LOCATION;
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::Digest as _;

pub const RS_SECRET: &str = "resource-server-secret";

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    /// The development IdP, unless an external upstream was used.
    pub idp: Option<DevIdpHandle>,
    /// Cookie-keeping, non-redirecting client: the user's browser.
    pub browser: reqwest::Client,
    /// Plain client for API calls.
    pub api: reqwest::Client,
    _dir: tempfile::TempDir,
    _db: Option<super::db::TestDb>,
    _server: tokio::task::JoinHandle<()>,
}

/// Which database backs the server.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn pkce() -> (String, String) {
    let verifier = dcr_bridge::oauth::crypto::random_b64(48);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn base_config(public_url: &str, db_url: String, idp_issuer: &str) -> Config {
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    Config {
        public_url: public_url.parse().unwrap(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: db_url,
        secret_key: SecretString::from(key),
        old_secret_keys: vec![],
        allow_insecure_http: true,
        log_format: dcr_bridge::config::LogFormat::Text,
        tokens: dcr_bridge::config::TokenSettings::default(),
        registration: dcr_bridge::config::RegistrationSettings::default(),
        rate_limit: dcr_bridge::config::RateLimitSettings::default(),
        upstreams: vec![UpstreamConfig {
            id: "corp".into(),
            kind: dcr_bridge::config::UpstreamKind::Oidc,
            issuer: idp_issuer.parse().unwrap(),
            client_id: "bridge-client".into(),
            client_secret: Some(SecretString::from("bridge-secret".to_owned())),
            client_secret_file: None,
            scopes: ["openid", "email", "profile", "offline_access"]
                .map(str::to_owned)
                .to_vec(),
            client_auth: dcr_bridge::config::UpstreamClientAuth::ClientSecretBasic,
            extra_authorize_params: Default::default(),
            discovery_ttl_seconds: 3600,
        }],
        resources: vec![ResourceConfig {
            id: "tools".into(),
            path: "/mcp".into(),
            scopes: vec!["mcp:read".into(), "mcp:write".into()],
            upstream: None,
            introspection_secret: Some(SecretString::from(RS_SECRET.to_owned())),
        }],
    }
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(Db::Sqlite, |_| {}).await.unwrap()
    }

    /// `None` when Postgres was asked for but is not configured (and not in CI).
    pub async fn start_with(db: Db, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(db, listener, None, tweak).await
    }

    /// Starts on `listener`; with `upstream_issuer`, that external provider (client
    /// `bridge-client` / `bridge-secret`) replaces the development IdP.
    pub async fn start_on(
        db: Db,
        listener: tokio::net::TcpListener,
        upstream_issuer: Option<String>,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (db_url, test_db) = match db {
            Db::Sqlite => (
                format!("sqlite://{}", dir.path().join("t.db").display()),
                None,
            ),
            Db::Postgres => {
                let t = super::db::TestDb::postgres().await?;
                (t.url.clone(), Some(t))
            }
        };
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (idp, issuer) = match upstream_issuer {
            Some(issuer) => (None, issuer),
            None => {
                let idp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let idp_issuer = format!(
                    "http://127.0.0.1:{}",
                    idp_listener.local_addr().unwrap().port()
                );
                let idp = dcr_bridge::devidp::spawn(
                    idp_listener,
                    DevIdpConfig {
                        issuer: idp_issuer,
                        client_id: "bridge-client".into(),
                        client_secret: "bridge-secret".into(),
                        redirect_uris: vec![format!("{base}/oauth/callback")],
                        users: DevUser::defaults(),
                        auto_login: true,
                    },
                )
                .await
                .unwrap();
                let issuer = idp.issuer.clone();
                (Some(idp), issuer)
            }
        };
        let mut config = base_config(&base, db_url, &issuer);
        tweak(&mut config);
        config.validate().unwrap();
        let store = dcr_bridge::store::connect(&config.database_url)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let clock = Arc::new(ManualClock::new(now()));
        let state = dcr_bridge::app::build_with(config, store, clock.clone(), true)
            .await
            .unwrap();
        let server_state = state.clone();
        let server = tokio::spawn(async move {
            dcr_bridge::app::serve(server_state, listener, std::future::pending())
                .await
                .unwrap();
        });
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let api = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Some(Self {
            base,
            state,
            clock,
            idp,
            browser,
            api,
            _dir: dir,
            _db: test_db,
            _server: server,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn resource(&self) -> String {
        self.url("/mcp")
    }

    /// Registers a client; returns the response JSON (asserts 201).
    pub async fn register(&self, body: Value) -> Value {
        let res = self
            .api
            .post(self.url("/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let json: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{json}");
        json
    }

    /// A public native client with one loopback redirect.
    pub async fn public_client(&self) -> (String, String) {
        let redirect = "http://127.0.0.1:33418/callback".to_owned();
        let reg = self
            .register(json!({
                "client_name": "Test Client",
                "redirect_uris": [redirect],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "application_type": "native",
            }))
            .await;
        (reg["client_id"].as_str().unwrap().to_owned(), redirect)
    }

    pub async fn authorize(&self, params: &[(&str, &str)]) -> reqwest::Response {
        self.browser
            .get(self.url("/authorize"))
            .query(params)
            .send()
            .await
            .unwrap()
    }

    /// Standard authorization request parameters.
    pub fn auth_params<'a>(
        client_id: &'a str,
        redirect: &'a str,
        challenge: &'a str,
        resource: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", "client-state-123"),
            ("resource", resource),
        ]
    }

    /// POSTs the consent form in `html` with `decision`; returns the response.
    pub async fn decide(&self, html: &str, decision: &str) -> reqwest::Response {
        let consent_id = hidden(html, "consent_id");
        let csrf = hidden(html, "csrf_token");
        self.browser
            .post(self.url("/consent"))
            .header("origin", &self.base)
            .form(&[
                ("consent_id", consent_id.as_str()),
                ("csrf_token", csrf.as_str()),
                ("decision", decision),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Logs in at the dev IdP (auto-login via login_hint) and returns our callback URL.
    pub async fn upstream_login(&self, upstream_url: &str, user: &str) -> String {
        let url = format!("{upstream_url}&login_hint={user}");
        let res = self.browser.get(url).send().await.unwrap();
        assert_eq!(
            res.status(),
            302,
            "upstream did not redirect: {}",
            res.text().await.unwrap()
        );
        location(&res)
    }

    /// The whole browser leg: authorize → consent → upstream → callback. Returns the client
    /// redirect URL (with code, state and iss).
    pub async fn login(&self, params: &[(&str, &str)], user: &str) -> String {
        let res = self.authorize(params).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        let res = self.decide(&html, "approve").await;
        assert_eq!(res.status(), 303);
        let upstream = location(&res);
        let callback = self.upstream_login(&upstream, user).await;
        let res = self.browser.get(callback).send().await.unwrap();
        assert_eq!(res.status(), 302, "callback: {}", res.text().await.unwrap());
        location(&res)
    }

    /// Full flow for a new public client; returns (client_id, redirect, tokens JSON).
    pub async fn tokens_for_new_client(&self) -> (String, String, Value) {
        let (client_id, redirect) = self.public_client().await;
        let (verifier, challenge) = pkce();
        let resource = self.resource();
        let back = self
            .login(
                &Self::auth_params(&client_id, &redirect, &challenge, &resource),
                "dev-alice",
            )
            .await;
        let code = query_param(&back, "code").unwrap();
        let res = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("code_verifier", &verifier),
                ("client_id", &client_id),
                ("resource", &resource),
            ])
            .await;
        assert_eq!(res.status(), 200);
        (client_id, redirect, res.json().await.unwrap())
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.api
            .post(self.url("/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let res = self
            .api
            .post(self.url("/introspect"))
            .basic_auth("tools", Some(RS_SECRET))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of a hidden input in an HTML page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The JWT payload, unverified (tests check claims; signature checks are the server's job).
pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}
