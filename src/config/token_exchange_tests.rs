#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;

use crate::config::{Config, ConfigError};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// One upstream, two resources (`/mcp` proxied, `/docs` metadata only) with `mcp_keys` and
/// `docs_keys` added to them, and two static clients: `mcp-server` (confidential) and `cli`
/// (public).
fn config(mcp_keys: &str, docs_keys: &str) -> String {
    format!(
        r#"
public_url = "https://auth.example.com"
secret_key = "{KEY}"

[[upstreams]]
id = "corp"
issuer = "https://corp.okta.com/oauth2/default"
client_id = "abc"
client_secret = "s3cret"

[[resources]]
id = "tools"
path = "/mcp"
scopes = ["mcp"]
upstream_url = "http://127.0.0.1:9000/mcp"
{mcp_keys}

[[resources]]
id = "docs"
path = "/docs"
{docs_keys}

[[clients]]
client_id = "mcp-server"
redirect_uris = ["https://mcp.example.com/unused"]
token_endpoint_auth_method = "client_secret_basic"
client_secret = "a-long-enough-secret"

[[clients]]
client_id = "cli"
redirect_uris = ["http://127.0.0.1/callback"]
"#
    )
}

fn load(text: &str) -> Result<Config, ConfigError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    Config::load_from(Some(f.path()), std::iter::empty())
}

fn refused(mcp_keys: &str, docs_keys: &str) -> String {
    load(&config(mcp_keys, docs_keys)).unwrap_err().to_string()
}

#[test]
fn a_confidential_static_client_may_exchange_for_one_resource() {
    let c = load(&config(
        r#"token_exchange_client = "mcp-server"
upstream_token_header = "X-Upstream-Authorization""#,
        "",
    ))
    .unwrap();
    assert_eq!(
        c.resources[0].token_exchange_client.as_deref(),
        Some("mcp-server")
    );
    assert_eq!(c.resources[1].token_exchange_client, None);
}

#[test]
fn the_exchange_client_must_be_a_configured_client() {
    let err = refused(r#"token_exchange_client = "nobody""#, "");
    assert!(
        err.contains("resources[0].token_exchange_client") && err.contains("\"nobody\""),
        "{err}"
    );
}

#[test]
fn the_exchange_client_must_be_confidential() {
    let err = refused(r#"token_exchange_client = "cli""#, "");
    assert!(
        err.contains("resources[0].token_exchange_client") && err.contains("public"),
        "{err}"
    );
}

#[test]
fn one_exchange_client_serves_one_resource_only() {
    let err = refused(
        r#"token_exchange_client = "mcp-server""#,
        r#"token_exchange_client = "mcp-server""#,
    );
    assert!(
        err.contains("resources[1].token_exchange_client") && err.contains("\"tools\""),
        "{err}"
    );
}

#[test]
fn the_upstream_token_header_needs_gateway_mode() {
    let err = refused("", r#"upstream_token_header = "X-Upstream-Authorization""#);
    assert!(
        err.contains("resources[1].upstream_token_header") && err.contains("upstream_url"),
        "{err}"
    );
}

#[test]
fn the_upstream_token_header_cannot_take_a_credential_or_hop_by_hop_name() {
    for name in [
        "Authorization",
        "cookie",
        "Proxy-Authorization",
        "Connection",
        "Transfer-Encoding",
        "TE",
        "Upgrade",
        "X-Forwarded-For",
        "Mcp-Session-Id",
        "Host",
    ] {
        let err = refused(&format!("upstream_token_header = {name:?}"), "");
        assert!(
            err.contains("resources[0].upstream_token_header") && err.contains("reserved"),
            "{name}: {err}"
        );
    }
    for name in ["", "X Upstream", "x-upstream:auth", &"x".repeat(65)] {
        let err = refused(&format!("upstream_token_header = {name:?}"), "");
        assert!(
            err.contains("resources[0].upstream_token_header") && err.contains("header name"),
            "{name:?}: {err}"
        );
    }
}

#[test]
fn the_upstream_token_header_differs_from_the_identity_headers() {
    let err = refused(
        r#"upstream_token_header = "X-User"
identity_headers = { user_id = "x-user" }"#,
        "",
    );
    assert!(
        err.contains("resources[0].upstream_token_header") && err.contains("identity header"),
        "{err}"
    );
}
