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
/// The content type of an HTML form post.
pub const FORM: &str = "application/x-www-form-urlencoded";

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
    _demo: tokio::task::JoinHandle<()>,
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
        admin_listen: None,
        admin_token: None,
        database_url: db_url,
        database: Default::default(),
        secret_key: SecretString::from(key),
        old_secret_keys: vec![],
        allow_insecure_http: true,
        log_format: dcr_bridge::config::LogFormat::Text,
        tokens: dcr_bridge::config::TokenSettings::default(),
        registration: dcr_bridge::config::RegistrationSettings::default(),
        rate_limit: dcr_bridge::config::RateLimitSettings::default(),
        audit: dcr_bridge::config::AuditSettings::default(),
        gateway: Default::default(),
        metrics: Default::default(),
        upstreams: vec![UpstreamConfig {
            id: "corp".into(),
            kind: dcr_bridge::config::UpstreamKind::Oidc,
            issuer: Some(idp_issuer.parse().unwrap()),
            web_base: None,
            api_base: None,
            client_id: "bridge-client".into(),
            client_secret: Some(SecretString::from("bridge-secret".to_owned())),
            client_secret_file: None,
            scopes: ["openid", "email", "profile", "offline_access"]
                .map(str::to_owned)
                .to_vec(),
            client_auth: dcr_bridge::config::UpstreamClientAuth::ClientSecretBasic,
            extra_authorize_params: Default::default(),
            discovery_ttl_seconds: 3600,
            timeout_seconds: 15,
            private_key_file: None,
            private_key_pem: None,
            certificate_thumbprint: None,
            graph_groups: false,
            graph_base: None,
            domains: Vec::new(),
            policy: Default::default(),
            refresh: Default::default(),
        }],
        resources: vec![ResourceConfig {
            id: "tools".into(),
            path: "/mcp".into(),
            scopes: vec!["mcp:read".into(), "mcp:write".into()],
            upstream: None,
            upstreams: Vec::new(),
            introspection_secret: Some(SecretString::from(RS_SECRET.to_owned())),
            upstream_url: None,
            required_scopes: Vec::new(),
            identity_headers: Default::default(),
            tool_scopes: Default::default(),
            filter_tools_list: None,
            policy: Default::default(),
            scope_grants: Vec::new(),
            token_exchange_client: None,
            upstream_token_header: None,
        }],
        clients: Vec::new(),
        client_rules: Vec::new(),
        cimd: dcr_bridge::config::CimdSettings::default(),
        enterprise_idps: Vec::new(),
    }
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(Db::Sqlite, |_| {}).await.unwrap()
    }

    /// `None` when Postgres was asked for and is opted out (`DCR_BRIDGE_TEST_SKIP=postgres`);
    /// a missing Postgres server fails the test.
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
        // `/mcp` is proxied by the gateway to the demo MCP server, as under `dcr-bridge dev`,
        // unless `tweak` puts another one there (the interop tests' SDK server:
        // `McpServerProc::protect`).
        let demo_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (demo_url, demo) = dcr_bridge::http::demo_mcp::spawn(demo_listener).unwrap();
        config.resources[0].upstream_url = Some(demo_url.parse().unwrap());
        config.resources[0].identity_headers = dcr_bridge::http::demo_mcp::identity_headers();
        tweak(&mut config);
        config.validate().unwrap();
        let store = dcr_bridge::store::connect_with(&config.database_url, config.database.pool())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let clock = Arc::new(ManualClock::new(now()));
        // The dev IdP tells the same time, so moving the clock never makes its tokens look
        // expired or not yet valid to dcr-bridge (refreshes reach it: the token vault).
        if let Some(idp) = &idp {
            idp.use_clock(clock.clone());
        }
        let state = dcr_bridge::app::build_with(config, store, clock.clone())
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
            _demo: demo,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn resource(&self) -> String {
        self.url("/mcp")
    }

    /// GET `path` with the API client.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.api.get(self.url(path)).send().await.unwrap()
    }

    /// GET `path` with the API client; the response JSON (whatever the status).
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    /// POSTs `body` as JSON to `path` with the API client.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.api
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs `form` to `path` with the API client.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.api
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a raw `body` declared as `content_type` (e.g. [`FORM`]) to `path` with the API
    /// client.
    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.api
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// GET `url` (absolute) with the browser.
    pub async fn browse(&self, url: &str) -> reqwest::Response {
        self.browser.get(url).send().await.unwrap()
    }

    /// Registers a client; returns the response JSON (asserts 201).
    pub async fn register(&self, body: Value) -> Value {
        let (status, json) = status_json(self.post_json("/register", &body).await).await;
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

    /// A new public client ([`public_client`](Self::public_client)) and a fresh PKCE pair, for
    /// the standard authorization request ([`AuthRequest::params`]).
    pub async fn auth_request(&self) -> AuthRequest {
        let (client_id, redirect) = self.public_client().await;
        let (verifier, challenge) = pkce();
        AuthRequest {
            client_id,
            redirect,
            verifier,
            challenge,
            resource: self.resource(),
        }
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

    /// The consent page (HTML) for a new [`auth_request`](Self::auth_request), as the browser
    /// gets it from `/authorize`.
    pub async fn consent_page(&self) -> String {
        let req = self.auth_request().await;
        self.authorize(&req.params()).await.text().await.unwrap()
    }

    /// POSTs `form` to `/consent` from `client`, with an `Origin` header if `origin` is given.
    pub async fn post_consent(
        &self,
        client: &reqwest::Client,
        origin: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = client.post(self.url("/consent"));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.form(form).send().await.unwrap()
    }

    /// POSTs the consent form in `html` with `decision` (and `extra` fields) from the browser,
    /// same-origin; returns the response.
    pub async fn decide_with(
        &self,
        html: &str,
        decision: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let consent_id = hidden(html, "consent_id");
        let csrf = hidden(html, "csrf_token");
        let form = [
            &[
                ("consent_id", consent_id.as_str()),
                ("csrf_token", csrf.as_str()),
                ("decision", decision),
            ][..],
            extra,
        ]
        .concat();
        self.post_consent(&self.browser, Some(&self.base), &form)
            .await
    }

    /// POSTs the consent form in `html` with `decision`; returns the response.
    pub async fn decide(&self, html: &str, decision: &str) -> reqwest::Response {
        self.decide_with(html, decision, &[]).await
    }

    /// Logs in at the dev IdP (auto-login via login_hint) and returns our callback URL.
    pub async fn upstream_login(&self, upstream_url: &str, user: &str) -> String {
        let res = self
            .browse(&format!("{upstream_url}&login_hint={user}"))
            .await;
        assert_eq!(
            res.status(),
            302,
            "upstream did not redirect: {}",
            res.text().await.unwrap()
        );
        location(&res)
    }

    /// For a new public client: authorize → approve → upstream login as `user`; returns our
    /// callback URL as the upstream sent it (not yet visited).
    pub async fn upstream_callback_for_new_client(&self, user: &str) -> String {
        let (client_id, redirect) = self.public_client().await;
        let (_, challenge) = pkce();
        let resource = self.resource();
        let html = self
            .authorize(&Self::auth_params(
                &client_id, &redirect, &challenge, &resource,
            ))
            .await
            .text()
            .await
            .unwrap();
        let upstream = location(&self.decide(&html, "approve").await);
        self.upstream_login(&upstream, user).await
    }

    /// The whole browser leg: authorize → consent → upstream → callback. Returns the client
    /// redirect URL (with code, state and iss).
    pub async fn login(&self, params: &[(&str, &str)], user: &str) -> String {
        let res = self.authorize(params).await;
        self.approve_and_sign_in(res, None, user).await
    }

    /// [`login`](Self::login) from the authorization URL a real client opened, checking that
    /// the consent page names `client_name`.
    pub async fn login_at(&self, authorize_url: &str, client_name: &str, user: &str) -> String {
        let res = self.browse(authorize_url).await;
        self.approve_and_sign_in(res, Some(client_name), user).await
    }

    /// From the consent page `res`: approve, sign in upstream as `user`, visit our callback;
    /// returns where it redirects.
    async fn approve_and_sign_in(
        &self,
        res: reqwest::Response,
        client_name: Option<&str>,
        user: &str,
    ) -> String {
        assert_eq!(res.status(), 200, "authorize");
        let html = res.text().await.unwrap();
        if let Some(name) = client_name {
            assert!(html.contains(name), "the consent page names {name}");
        }
        let res = self.decide(&html, "approve").await;
        assert_eq!(res.status(), 303, "consent");
        let upstream = location(&res);
        let callback = self.upstream_login(&upstream, user).await;
        let res = self.browse(&callback).await;
        assert_eq!(res.status(), 302, "callback: {}", res.text().await.unwrap());
        location(&res)
    }

    /// [`login`](Self::login) as `user` with `req`'s standard parameters; returns the code.
    pub async fn code(&self, req: &AuthRequest, user: &str) -> String {
        let back = self.login(&req.params(), user).await;
        query_param(&back, "code").unwrap()
    }

    /// Full flow for a new public client; returns (client_id, redirect, tokens JSON).
    pub async fn tokens_for_new_client(&self) -> (String, String, Value) {
        let req = self.auth_request().await;
        let code = self.code(&req, "dev-alice").await;
        let mut form = code_form(&code, &req.redirect, &req.verifier, &req.client_id);
        form.push(("resource", &req.resource));
        let res = self.token(&form).await;
        assert_eq!(res.status(), 200);
        (req.client_id, req.redirect, res.json().await.unwrap())
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_form("/token", form).await
    }

    /// A public client's refresh ([`refresh_form`]) at `/token`.
    pub async fn refresh(&self, refresh_token: &str, client_id: &str) -> reqwest::Response {
        self.token(&refresh_form(refresh_token, client_id)).await
    }

    /// A public client's revocation of `token` (RFC 7009), identified by `client_id` only.
    pub async fn revoke(&self, token: &str, client_id: &str) -> reqwest::Response {
        self.post_form("/revoke", &[("token", token), ("client_id", client_id)])
            .await
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

/// A new public client's authorization request ([`TestApp::auth_request`]).
pub struct AuthRequest {
    pub client_id: String,
    pub redirect: String,
    pub verifier: String,
    pub challenge: String,
    /// The MCP resource ([`TestApp::resource`]).
    pub resource: String,
}

impl AuthRequest {
    /// [`TestApp::auth_params`] for this request.
    pub fn params(&self) -> Vec<(&str, &str)> {
        TestApp::auth_params(
            &self.client_id,
            &self.redirect,
            &self.challenge,
            &self.resource,
        )
    }
}

/// An authorization-code grant's `/token` form (no `resource`, no client secret).
pub fn code_form<'a>(
    code: &'a str,
    redirect: &'a str,
    verifier: &'a str,
    client_id: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
        ("client_id", client_id),
    ]
}

/// A public client's refresh-token grant `/token` form (no `resource`).
pub fn refresh_form<'a>(refresh_token: &'a str, client_id: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ]
}

/// The response's status and JSON body.
pub async fn status_json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// The value of the response's `name` header (which must be there, and ASCII).
pub fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()[name].to_str().unwrap().to_owned()
}

pub fn location(res: &reqwest::Response) -> String {
    header(res, LOCATION.as_str())
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

/// An HTML attribute value with the entities minijinja's autoescape writes decoded.
fn unescape_attr(v: &str) -> String {
    v.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The link back to the client that an `/authorize` error page offers (`id="return"`).
pub fn return_link(html: &str) -> Option<String> {
    let marker = "id=\"return\" href=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape_attr(&html[start..end]))
}

/// Where an error page's meta refresh leads, if it has one.
pub fn meta_refresh(html: &str) -> Option<String> {
    let marker = "http-equiv=\"refresh\" content=\"5;url=";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape_attr(&html[start..end]))
}

/// An app's state served again by `app::serve_all` on two fresh listeners, a public and an
/// admin one (`admin_listen`).
pub struct BothListeners {
    pub public_base: String,
    pub admin_base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl BothListeners {
    pub async fn start(state: AppState) -> Self {
        let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_base = format!("http://{}", admin.local_addr().unwrap());
        let public_base = format!("http://{}", public.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(dcr_bridge::app::serve_all(
            state,
            public,
            Some(admin),
            async {
                let _ = stopped.await;
            },
        ));
        Self {
            public_base,
            admin_base,
            stop,
            server,
        }
    }

    /// One shutdown stops both: fails unless both end cleanly within 5 s.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), self.server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
