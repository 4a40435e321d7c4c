//! Several real `dcr-bridge serve` processes (the built binary) on loopback ports, one shared
//! Postgres database, one configuration file and secret key, the development IdP as their
//! upstream and the demo MCP server behind their gateway: a cluster as a load balancer sees it.
//! Each replica can be stopped (SIGTERM, graceful, must exit 0) and started again on its port.
//!
//! Every replica has the same `public_url` (the issuer, the callback the IdP redirects to): that
//! of replica 0, as if a load balancer answered there. Tests address each step of a flow to the
//! replica they choose ([`Cluster::on`] rewrites a URL the server or the IdP produced), and the
//! browser's cookies, kept per host and not per port, follow the user from replica to replica.

#![allow(dead_code)] // not every test uses every helper

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use dcr_bridge::devidp::{DevIdpConfig, DevIdpHandle, DevUser};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use super::app::{hidden, location, pkce, query_param, RS_SECRET};
use super::db::TestDb;
use super::process::{drain, joined, verbose, LogBuf};

/// The bootstrap admin token every replica accepts.
pub const ADMIN_TOKEN: &str = "replica-test-admin-token-0123456789";
/// Set to echo the replicas' logs to stderr.
pub const VERBOSE_VAR: &str = "REPLICAS_VERBOSE";
/// How long a (re)started replica has to answer `/readyz` with 200.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// How long a replica has to exit after SIGTERM.
const STOP_WITHIN: Duration = Duration::from_secs(15);

/// What a cluster is made of.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// How many `serve` processes.
    pub replicas: usize,
    /// `tokens.signing_key_reload_seconds`.
    pub key_reload_seconds: i64,
    /// `database.acquire_timeout_seconds`.
    pub acquire_timeout_seconds: u64,
    /// `gateway.revocation_poll_seconds` (30, the most allowed, unless a test needs less: then
    /// a revocation seen sooner was delivered by LISTEN/NOTIFY).
    pub revocation_poll_seconds: u64,
    /// The database; `None`: a fresh database on the test Postgres server.
    pub database_url: Option<String>,
    /// `DCR_BRIDGE_LOG` of the replicas.
    pub log: String,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            replicas: 3,
            key_reload_seconds: 60,
            acquire_timeout_seconds: 2,
            revocation_poll_seconds: 30,
            database_url: None,
            log: "warn".to_owned(),
        }
    }
}

/// One `dcr-bridge serve` process and its port.
pub struct Replica {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    port: u16,
    child: Option<Child>,
    /// Its stdout and stderr, across restarts.
    pub log: LogBuf,
}

/// The replicas and what they share.
pub struct Cluster {
    /// The `public_url` of every replica (replica 0's address).
    pub public: String,
    pub replicas: Vec<Replica>,
    /// The development IdP, until [`Cluster::stop_idp`].
    pub idp: Option<DevIdpHandle>,
    /// The shared database.
    pub database_url: String,
    /// The demo MCP server behind `/mcp`, until [`Cluster::stop_mcp_server`].
    demo: Option<tokio::task::JoinHandle<()>>,
    /// Cookie-keeping, non-redirecting client: the user's browser.
    pub browser: reqwest::Client,
    /// Plain client for API calls (short timeouts: a replica that hangs fails the test).
    pub api: reqwest::Client,
    options: ClusterOptions,
    config: PathBuf,
    _dir: tempfile::TempDir,
    _db: Option<TestDb>,
}

/// A sign-in between the IdP and our callback ([`Cluster::begin_sign_in`]).
pub struct PendingSignIn {
    pub client_id: String,
    redirect: String,
    verifier: String,
    /// Our callback URL as the IdP redirected to it (on the public URL).
    pub callback: String,
}

/// A free loopback port (bound and released: the usual small race, as in `cli.rs`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(
    dir: &Path,
    public: &str,
    database_url: &str,
    issuer: &str,
    demo: &str,
    o: &ClusterOptions,
) -> PathBuf {
    let path = dir.join("dcr-bridge.toml");
    let text = format!(
        r#"public_url = "{public}"
allow_insecure_http = true
database_url = "{database_url}"
secret_key = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="
admin_token = "{ADMIN_TOKEN}"

# The tests' clients all come from 127.0.0.1: per-IP limits would refuse their load.
[rate_limit]
enabled = false

[database]
acquire_timeout_seconds = {acquire}

[tokens]
signing_key_reload_seconds = {reload}

[gateway]
revocation_poll_seconds = {poll}

[[upstreams]]
id = "corp"
issuer = "{issuer}"
client_id = "bridge-client"
client_secret = "bridge-secret"
scopes = ["openid", "email", "profile", "offline_access"]

[[resources]]
id = "tools"
path = "/mcp"
scopes = ["mcp:read", "mcp:write"]
introspection_secret = "{RS_SECRET}"
upstream_url = "{demo}"
"#,
        acquire = o.acquire_timeout_seconds,
        reload = o.key_reload_seconds,
        poll = o.revocation_poll_seconds,
    );
    std::fs::write(&path, text).unwrap();
    path
}

impl Cluster {
    /// Starts the IdP, the demo MCP server and `options.replicas` replicas, and waits until
    /// every replica is ready. `None` when Postgres is opted out (`DCR_BRIDGE_TEST_SKIP`).
    pub async fn start(options: ClusterOptions) -> Option<Self> {
        let (database_url, db) = match &options.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let db = TestDb::postgres().await?;
                (db.url.clone(), Some(db))
            }
        };
        let ports: Vec<u16> = (0..options.replicas).map(|_| free_port()).collect();
        let public = format!("http://127.0.0.1:{}", ports[0]);
        let idp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", idp_listener.local_addr().unwrap());
        let idp = dcr_bridge::devidp::spawn(
            idp_listener,
            DevIdpConfig {
                issuer: issuer.clone(),
                client_id: "bridge-client".into(),
                client_secret: "bridge-secret".into(),
                redirect_uris: vec![format!("{public}/oauth/callback")],
                users: DevUser::defaults(),
                auto_login: true,
            },
        )
        .await
        .unwrap();
        let demo_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (demo_url, demo) = dcr_bridge::http::demo_mcp::spawn(demo_listener).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &public,
            &database_url,
            &issuer,
            &demo_url,
            &options,
        );
        let replicas = ports
            .iter()
            .map(|port| Replica {
                base: format!("http://127.0.0.1:{port}"),
                port: *port,
                child: None,
                log: LogBuf::default(),
            })
            .collect();
        let mut cluster = Self {
            public,
            replicas,
            idp: Some(idp),
            database_url,
            demo: Some(demo),
            browser: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            api: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            options,
            config,
            _dir: dir,
            _db: db,
        };
        // All at once, as a deployment starts them: they race to migrate and to create the
        // first signing key.
        for i in 0..cluster.replicas.len() {
            cluster.spawn(i);
        }
        for i in 0..cluster.replicas.len() {
            cluster.wait_ready(i).await;
        }
        Some(cluster)
    }

    fn spawn(&mut self, i: usize) {
        let replica = &mut self.replicas[i];
        assert!(replica.child.is_none(), "replica {i} is already running");
        let mut child = Command::new(env!("CARGO_BIN_EXE_dcr-bridge"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env_remove("DCR_BRIDGE_CONFIG")
            .env("DCR_BRIDGE_LISTEN", format!("127.0.0.1:{}", replica.port))
            .env("DCR_BRIDGE_LOG", &self.options.log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawning dcr-bridge serve");
        let v = verbose(VERBOSE_VAR);
        drain(
            child.stdout.take().unwrap(),
            "[replica]",
            replica.log.clone(),
            None,
            v,
        );
        drain(
            child.stderr.take().unwrap(),
            "[replica]",
            replica.log.clone(),
            None,
            v,
        );
        replica.child = Some(child);
    }

    /// Waits until replica `i` answers `/readyz` with 200; fails with its log otherwise.
    pub async fn wait_ready(&mut self, i: usize) {
        let started = Instant::now();
        let url = format!("{}/readyz", self.replicas[i].base);
        while started.elapsed() < READY_WITHIN {
            if let Some(child) = self.replicas[i].child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "replica {i} exited ({status}) before it was ready:\n{}",
                        joined(&self.replicas[i].log)
                    );
                }
            }
            if let Ok(res) = self.api.get(&url).send().await {
                if res.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "replica {i} not ready within {READY_WITHIN:?}:\n{}",
            joined(&self.replicas[i].log)
        );
    }

    /// Stops replica `i` with SIGTERM (graceful: in-flight requests are answered) and asserts
    /// a clean exit within [`STOP_WITHIN`].
    pub async fn stop(&mut self, i: usize) {
        let mut child = self.replicas[i]
            .child
            .take()
            .unwrap_or_else(|| panic!("replica {i} is not running"));
        let pid = child.id().expect("running child has a pid").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let status = tokio::time::timeout(STOP_WITHIN, child.wait())
            .await
            .unwrap_or_else(|_| panic!("replica {i} did not stop within {STOP_WITHIN:?}"))
            .unwrap();
        assert!(
            status.success(),
            "replica {i} exited with {status} on SIGTERM:\n{}",
            joined(&self.replicas[i].log)
        );
    }

    /// Starts replica `i` again on its port and waits until it is ready.
    pub async fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_ready(i).await;
    }

    /// Whether replica `i` is running (as far as the harness knows).
    pub fn is_running(&self, i: usize) -> bool {
        self.replicas[i].child.is_some()
    }

    /// Stops the upstream IdP.
    pub async fn stop_idp(&mut self) {
        if let Some(idp) = self.idp.take() {
            idp.shutdown().await.unwrap();
        }
    }

    /// Stops the demo MCP server behind `/mcp`.
    pub async fn stop_mcp_server(&mut self) {
        if let Some(demo) = self.demo.take() {
            demo.abort();
            let _ = demo.await;
        }
    }

    /// The base URL of replica `i`.
    pub fn base(&self, i: usize) -> &str {
        &self.replicas[i].base
    }

    /// `url` (an absolute URL on the public URL, as the server or the IdP wrote it) sent to
    /// replica `i` instead: same path and query.
    pub fn on(&self, i: usize, url: &str) -> String {
        let rest = url
            .strip_prefix(&self.public)
            .unwrap_or_else(|| panic!("{url} is not on the public URL {}", self.public));
        format!("{}{rest}", self.base(i))
    }

    /// The resource (MCP server) URL tokens are issued for.
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.public)
    }

    /// Registers a public native client at replica `i`; returns (client_id, redirect_uri).
    pub async fn register(&self, i: usize) -> (String, String) {
        let redirect = "http://127.0.0.1:33418/callback".to_owned();
        let res = self
            .api
            .post(format!("{}/register", self.base(i)))
            .json(&json!({
                "client_name": "Replica Test Client",
                "redirect_uris": [redirect],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "application_type": "native",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        (body["client_id"].as_str().unwrap().to_owned(), redirect)
    }

    /// A whole sign-in whose steps go to the replicas `at`: register and `/authorize` on
    /// `at[0]`, consent on `at[1]`, the upstream's callback on `at[2]`, the code exchange on
    /// `at[3]`. Returns (client_id, the token response).
    pub async fn sign_in(&self, at: [usize; 4]) -> (String, Value) {
        let pending = self.begin_sign_in(at[0], at[1]).await;
        self.finish_sign_in(pending, at[2], at[3]).await
    }

    /// The first half of [`Cluster::sign_in`]: register and `/authorize` on replica `a`,
    /// consent on `c`, the user's sign-in at the IdP. Returns where the IdP sends the browser
    /// back (not visited yet).
    pub async fn begin_sign_in(&self, a: usize, c: usize) -> PendingSignIn {
        let (client_id, redirect) = self.register(a).await;
        let (verifier, challenge) = pkce();
        let resource = self.resource();
        let res = self
            .browser
            .get(format!("{}/authorize", self.base(a)))
            .query(&[
                ("response_type", "code"),
                ("client_id", client_id.as_str()),
                ("redirect_uri", redirect.as_str()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("state", "replica-state"),
                ("resource", resource.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "authorize on replica {a}");
        let html = res.text().await.unwrap();
        let res = self
            .browser
            .post(format!("{}/consent", self.base(c)))
            .header("origin", &self.public)
            .form(&[
                ("consent_id", hidden(&html, "consent_id").as_str()),
                ("csrf_token", hidden(&html, "csrf_token").as_str()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            303,
            "consent on replica {c}: {}",
            res.text().await.unwrap()
        );
        let upstream = location(&res);
        let res = self
            .browser
            .get(format!("{upstream}&login_hint=dev-alice"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302, "upstream login");
        PendingSignIn {
            client_id,
            redirect,
            verifier,
            callback: location(&res),
        }
    }

    /// The second half of [`Cluster::sign_in`]: the callback on replica `cb`, the code exchange
    /// on `t`. Returns (client_id, the token response).
    pub async fn finish_sign_in(&self, p: PendingSignIn, cb: usize, t: usize) -> (String, Value) {
        let res = self
            .browser
            .get(self.on(cb, &p.callback))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            302,
            "callback on replica {cb}: {}",
            res.text().await.unwrap()
        );
        let back = location(&res);
        assert!(back.starts_with(&p.redirect), "{back}");
        assert_eq!(
            query_param(&back, "state").as_deref(),
            Some("replica-state")
        );
        let code = query_param(&back, "code").unwrap();
        let resource = self.resource();
        let res = self
            .api
            .post(format!("{}/token", self.base(t)))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", p.redirect.as_str()),
                ("code_verifier", p.verifier.as_str()),
                ("client_id", p.client_id.as_str()),
                ("resource", resource.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "token on replica {t}");
        (p.client_id, res.json().await.unwrap())
    }

    /// A refresh at replica `i`: the response (or the transport error).
    pub async fn refresh(
        &self,
        i: usize,
        refresh_token: &str,
        client_id: &str,
    ) -> reqwest::Result<reqwest::Response> {
        self.api
            .post(format!("{}/token", self.base(i)))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", client_id),
            ])
            .send()
            .await
    }

    /// Introspection of `token` at replica `i` as the resource server.
    pub async fn introspect(&self, i: usize, token: &str) -> reqwest::Result<reqwest::Response> {
        self.api
            .post(format!("{}/introspect", self.base(i)))
            .basic_auth("tools", Some(RS_SECRET))
            .form(&[("token", token)])
            .send()
            .await
    }

    /// An MCP `ping` through replica `i`'s gateway with `token`; the status.
    pub async fn mcp_ping(&self, i: usize, token: &str) -> u16 {
        self.api
            .post(format!("{}/mcp", self.base(i)))
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "ping" }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// POST `path` of the admin API at replica `i` with the bootstrap token; the JSON answer.
    pub async fn admin_post(&self, i: usize, path: &str) -> Value {
        let res = self
            .api
            .post(format!("{}{path}", self.base(i)))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// The kids in replica `i`'s JWKS.
    pub async fn jwks_kids(&self, i: usize) -> Vec<String> {
        let jwks: Value = self
            .api
            .get(format!("{}/jwks", self.base(i)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Every replica's log, for failure messages.
    pub fn logs(&self) -> String {
        self.replicas
            .iter()
            .enumerate()
            .map(|(i, r)| format!("--- replica {i} ---\n{}", joined(&r.log)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The `kid` of a JWT's header.
pub fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}
