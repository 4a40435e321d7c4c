//! `tests/interop/github.mjs` (oauth2-mock-server made to answer like GitHub, with GitHub's
//! REST API under `/api/v3`) as a [`NodeService`], and dcr-bridge with it as its one upstream
//! (`kind = "github"`, `web_base` = the mock, so the API is found the GitHub Enterprise Server
//! way, at `{web_base}/api/v3`).

#![allow(dead_code)] // not every test uses every helper

use anyhow::{anyhow, Result};
use dcr_bridge::config::{UpstreamConfig, UpstreamKind};

use super::app::{Db, TestApp};
use super::mcp_server::{McpMode, McpServerProc};
use super::node::{node_or_skip, NodeService};

/// The client dcr-bridge is registered as at the mock.
pub const CLIENT_ID: &str = "Iv1.bridge";
pub const CLIENT_SECRET: &str = "bridge-github-secret";

/// A running `github.mjs`.
pub struct GithubProc {
    /// `http://127.0.0.1:{port}`
    pub web_base: String,
    service: NodeService,
}

impl GithubProc {
    /// Starts the mock for dcr-bridge's exact `callback`, with `args` (`--app`, `--user-json`,
    /// `--token-error CODE`, `--token-garbage`, `--token-delay SECS`, `--user-status N`).
    pub async fn start(callback: &str, args: &[&str]) -> Result<Self> {
        let mut all = vec![
            "--callback",
            callback,
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ];
        all.extend(args);
        let (service, ready) = NodeService::start("github.mjs", &all, "[github]").await?;
        let web_base = ready["web_base"]
            .as_str()
            .ok_or_else(|| anyhow!("no web_base in {ready}"))?
            .to_owned();
        Ok(Self { web_base, service })
    }

    /// Everything it logged so far (one line per request and per grant).
    pub fn logs(&self) -> String {
        self.service.logs()
    }

    /// The mock's counters (`refreshes`, `user_calls`).
    pub async fn stats(&self) -> serde_json::Value {
        let url = format!("{}/__control/stats", self.web_base);
        reqwest::get(url).await.unwrap().json().await.unwrap()
    }

    /// `POST /__control/{path_and_query}` (`org?org=acme&state=none`, `revoke`).
    pub async fn control(&self, path_and_query: &str) {
        let url = format!("{}/__control/{path_and_query}", self.web_base);
        let res = reqwest::Client::new().post(url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path_and_query}");
    }

    /// An upstream configuration of kind github pointing at this mock.
    pub fn configure(&self, u: &mut UpstreamConfig) {
        u.id = "github".into();
        u.kind = UpstreamKind::Github;
        u.issuer = None;
        u.web_base = Some(self.web_base.parse().unwrap());
        u.api_base = None;
        u.client_id = CLIENT_ID.into();
        u.client_secret = Some(secrecy::SecretString::from(CLIENT_SECRET.to_owned()));
    }
}

/// dcr-bridge, its GitHub-like upstream and the SDK MCP server behind `/mcp`.
pub struct GithubEnv {
    pub app: TestApp,
    pub github: GithubProc,
    pub mcp: McpServerProc,
}

/// dcr-bridge (SQLite) whose one upstream is `github.mjs` with `args`; `adjust` sets the rest
/// (policy, scopes). `None` when Node is opted out.
pub async fn start_behind_github(
    args: &[&str],
    adjust: impl FnOnce(&mut UpstreamConfig),
) -> Option<GithubEnv> {
    start_behind_github_with(args, |c| adjust(&mut c.upstreams[0])).await
}

/// Like [`start_behind_github`], with the whole configuration to `tweak` after the upstream
/// (its first entry) was set up.
pub async fn start_behind_github_with(
    args: &[&str],
    tweak: impl FnOnce(&mut dcr_bridge::config::Config),
) -> Option<GithubEnv> {
    start_behind_github_on(Db::Sqlite, args, tweak).await
}

/// Like [`start_behind_github_with`], on `db`; `None` also when Postgres is opted out.
pub async fn start_behind_github_on(
    db: Db,
    args: &[&str],
    tweak: impl FnOnce(&mut dcr_bridge::config::Config),
) -> Option<GithubEnv> {
    if !node_or_skip().await {
        return None;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://127.0.0.1:{}/oauth/callback",
        listener.local_addr().unwrap().port()
    );
    let (github, mcp) = tokio::join!(
        GithubProc::start(&callback, args),
        McpServerProc::start(McpMode::Stateful)
    );
    let (github, mcp) = (github.unwrap(), mcp.unwrap());
    let app = TestApp::start_on(db, listener, Some(github.web_base.clone()), |c| {
        mcp.protect(c);
        github.configure(&mut c.upstreams[0]);
        // Resources and clients name upstreams by id.
        for r in &mut c.resources {
            r.upstream = None;
        }
        tweak(c);
    })
    .await?;
    Some(GithubEnv { app, github, mcp })
}
