//! [`McpServerProc`] runs `tests/interop/mcp_server.mjs`: a small real MCP server built with
//! the official TypeScript SDK (`@modelcontextprotocol/sdk` `McpServer` +
//! `StreamableHTTPServerTransport`), stateful or stateless, with the tools `whoami` (the
//! gateway's identity headers) and `echo`. [`McpServerProc::protect`] puts it behind a test
//! server's `/mcp` resource; [`McpServerProc::assert_reached_without_credentials`] asserts from
//! what the server recorded that the gateway forwarded the MCP traffic with identity headers
//! and never an `Authorization` or `Cookie` header.

#![allow(dead_code)] // not every test uses every helper

use anyhow::{anyhow, Context, Result};
use dcr_bridge::config::{Config, IdentityHeaders};
use serde_json::Value;

use super::node::NodeService;

/// How the server keeps MCP sessions (the `--stateful` / `--stateless` of `mcp_server.mjs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpMode {
    /// `initialize` creates a session; later requests carry `Mcp-Session-Id`; GET opens the SSE
    /// stream and DELETE ends the session.
    Stateful,
    /// No sessions (`sessionIdGenerator: undefined`): a new server per POST; GET and DELETE 405.
    Stateless,
}

impl McpMode {
    /// The name `mcp_server.mjs` reports (and `whoami` shows as `mode`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Stateful => "stateful",
            Self::Stateless => "stateless",
        }
    }
}

/// A running `mcp_server.mjs`; stopped on drop (see [`NodeService`]).
pub struct McpServerProc {
    /// `http://127.0.0.1:{port}/mcp`
    pub url: String,
    /// `http://127.0.0.1:{port}/_seen`: what reached the server (not under `/mcp`, so the
    /// gateway never forwards to it).
    pub seen_url: String,
    pub mode: McpMode,
    /// The pinned `@modelcontextprotocol/sdk` the server runs on.
    pub sdk_version: String,
    service: NodeService,
}

impl McpServerProc {
    pub async fn start(mode: McpMode) -> Result<Self> {
        let flag = format!("--{}", mode.name());
        let (service, ready) =
            NodeService::start("mcp_server.mjs", &[&flag], "[mcp-server]").await?;
        let field = |name: &str| {
            ready[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("no {name} in {ready}"))
        };
        Ok(Self {
            url: field("url")?,
            seen_url: field("seen_url")?,
            mode,
            sdk_version: field("sdk_version")?,
            service,
        })
    }

    /// The identity headers `mcp_server.mjs` reads (its `IDENTITY_HEADERS`).
    pub fn identity_headers() -> IdentityHeaders {
        IdentityHeaders {
            user_id: Some("x-dcr-user-id".into()),
            email: Some("x-dcr-user-email".into()),
            name: Some("x-dcr-user-name".into()),
            groups: Some("x-dcr-groups".into()),
            client_id: Some("x-dcr-client-id".into()),
            scopes: Some("x-dcr-scopes".into()),
            client_kind: None,
            jwt: None,
        }
    }

    /// Makes this server the `upstream_url` of the test server's `/mcp` resource (in place of
    /// the demo), with [`identity_headers`](Self::identity_headers). A `TestApp` tweak.
    pub fn protect(&self, config: &mut Config) {
        let resource = &mut config.resources[0];
        resource.upstream_url = Some(self.url.parse().expect("mcp_server.mjs URL"));
        resource.identity_headers = Self::identity_headers();
    }

    /// What the server recorded (`GET /_seen`): `{mode, requests: [{method, path, rpc,
    /// session_id, protocol_version, mcp_method, credential_headers, identity}],
    /// credential_headers}`.
    pub async fn seen(&self) -> Result<Value> {
        let res = reqwest::get(&self.seen_url)
            .await
            .with_context(|| format!("GET {}", self.seen_url))?;
        anyhow::ensure!(res.status() == 200, "GET /_seen: {}", res.status());
        Ok(res.json().await?)
    }

    /// The server handled MCP traffic (tools/call among it) in its mode, every request came with
    /// the gateway's identity headers, and none carried `Authorization`, `Proxy-Authorization`
    /// or `Cookie`. Returns what it recorded.
    pub async fn assert_reached_without_credentials(&self) -> Value {
        let seen = self.seen().await.unwrap();
        if super::process::verbose("INTEROP_VERBOSE") {
            eprintln!("[mcp-server seen] {seen:#}");
        }
        let requests = seen["requests"].as_array().unwrap();
        assert_eq!(seen["mode"], self.mode.name(), "{seen}");
        assert!(!requests.is_empty(), "no request reached the MCP server");
        assert_eq!(
            seen["credential_headers"],
            serde_json::json!([]),
            "the MCP server received client credentials: {seen}"
        );
        for r in requests {
            assert_eq!(r["path"], "/mcp", "{r}");
            assert_eq!(r["identity"], true, "request without identity headers: {r}");
        }
        assert!(
            requests.iter().any(|r| r["rpc"] == "tools/call"),
            "no tools/call reached the MCP server: {seen}"
        );
        for r in requests {
            match self.mode {
                // Only initialize opens a session; everything else carried the one it created.
                McpMode::Stateful => assert!(
                    r["session_id"].is_string() || r["rpc"] == "initialize",
                    "request outside a session: {r}"
                ),
                McpMode::Stateless => assert!(r["session_id"].is_null(), "{r}"),
            }
        }
        seen
    }

    /// Nothing reached the server (e.g. every request was refused by the gateway).
    pub async fn assert_untouched(&self) {
        let seen = self.seen().await.unwrap();
        assert_eq!(seen["requests"], serde_json::json!([]), "{seen}");
    }

    /// Everything the process wrote to stderr so far (one line per request).
    pub fn logs(&self) -> String {
        self.service.logs()
    }
}
