#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `[gateway]` and the gateway keys of `[[resources]]`, through the whole configuration loader.

use crate::config::tests::{load, toml};
use url::Url;

#[test]
fn gateway_upstream_url_must_be_absolute_http_or_https() {
    let with = |line: &str| load(&format!("{}{line}\n", toml("")), &[]);
    let c = with("upstream_url = \"http://10.0.0.5:9000/mcp\"").unwrap();
    assert_eq!(
        c.resources[0].upstream_url.as_ref().map(Url::as_str),
        Some("http://10.0.0.5:9000/mcp")
    );
    assert!(load(&toml(""), &[]).unwrap().resources[0]
        .upstream_url
        .is_none());
    for (bad, why) in [
        ("ftp://mcp.internal/mcp", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("https://user:pw@mcp.internal/mcp", "credentials"),
        ("https://mcp.internal/mcp?x=1", "query"),
        ("https://mcp.internal/mcp#f", "fragment"),
    ] {
        let err = with(&format!("upstream_url = \"{bad}\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("resources[0].upstream_url"), "{bad}: {err}");
        assert!(err.contains(why), "{bad}: {err}");
    }
    // Not absolute: refused when parsed.
    let err = with("upstream_url = \"/mcp\"").unwrap_err().to_string();
    assert!(err.contains("upstream_url"), "{err}");
    let err = with("required_scopes = [\"admin\"]")
        .unwrap_err()
        .to_string();
    assert!(err.contains("resources[0].required_scopes"), "{err}");
}

#[test]
fn gateway_section_defaults_and_limits() {
    let c = load(&toml(""), &[]).unwrap();
    assert_eq!(c.gateway.max_body_bytes, 4 * 1024 * 1024);
    assert_eq!(c.gateway.revocation_poll_seconds, 10);
    assert_eq!(c.gateway.connect_timeout_seconds, 5);
    assert_eq!(c.gateway.response_timeout_seconds, 30);
    assert_eq!(c.gateway.max_tools_list_bytes, 4 * 1024 * 1024);
    let c = load(
        &toml("[gateway]\nmax_body_bytes = 1048576\nrevocation_poll_seconds = 2\nmax_tools_list_bytes = 65536\n"),
        &[],
    )
    .unwrap();
    assert_eq!(c.gateway.max_body_bytes, 1_048_576);
    assert_eq!(c.gateway.max_tools_list_bytes, 65_536);
    assert_eq!(c.gateway.revocation_poll_seconds, 2);
    for bad in [
        "max_body_bytes = 0",
        "max_body_bytes = 1073741824",
        "max_tools_list_bytes = 0",
        "max_tools_list_bytes = 1073741824",
        "revocation_poll_seconds = 0",
        "revocation_poll_seconds = 31",
        "connect_timeout_seconds = 0",
        "response_timeout_seconds = 0",
    ] {
        let err = load(&toml(&format!("[gateway]\n{bad}\n")), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("gateway."), "{bad}: {err}");
    }
}

/// Issue 15: the pool bound and the key reload interval, with their defaults and limits, each
/// error naming its key.
#[test]
fn identity_header_names_are_checked() {
    let with = |lines: &str| {
        load(
            &format!(
                "{}upstream_url = \"http://127.0.0.1:9000/mcp\"\n{lines}\n",
                toml("")
            ),
            &[],
        )
    };
    let c = with("[resources.identity_headers]\nuser_id = \"X-User-Id\"\njwt = \"X-Identity\"")
        .unwrap();
    assert_eq!(
        c.resources[0].identity_headers.user_id.as_deref(),
        Some("X-User-Id")
    );
    for (bad, why) in [
        ("user_id = \"Authorization\"", "reserved"),
        ("email = \"cookie\"", "reserved"),
        ("scopes = \"Mcp-Session-Id\"", "reserved"),
        ("user_id = \"X-Forwarded-For\"", "reserved"),
        ("email = \"x-forwarded-host\"", "reserved"),
        ("name = \"X-Real-IP\"", "reserved"),
        ("groups = \"X Groups\"", "header name"),
        ("groups = \"\"", "header name"),
        ("user_id = \"X-A\"\nemail = \"x-a\"", "twice"),
        ("unknown = \"X-A\"", "unknown"),
    ] {
        let err = with(&format!("[resources.identity_headers]\n{bad}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("identity_headers"), "{bad}: {err}");
        assert!(err.contains(why), "{bad}: {err}");
    }
    // Only a proxied resource sends them.
    let err = load(
        &format!(
            "{}[resources.identity_headers]\nuser_id = \"X-User-Id\"\n",
            toml("")
        ),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("upstream_url"), "{err}");
}

#[test]
fn tool_scopes_must_be_resource_scopes_on_a_proxied_resource() {
    let base = format!("{}upstream_url = \"http://127.0.0.1:9000/mcp\"\n", toml(""));
    let c = load(
        &format!("{base}[resources.tool_scopes]\ndeploy = [\"mcp\"]\n"),
        &[],
    )
    .unwrap();
    assert_eq!(c.resources[0].tool_scopes["deploy"], ["mcp"]);
    let err = load(
        &format!("{base}[resources.tool_scopes]\ndeploy = [\"admin\"]\n"),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("resources[0].tool_scopes.deploy"), "{err}");
    let err = load(
        &format!("{}[resources.tool_scopes]\ndeploy = [\"mcp\"]\n", toml("")),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("upstream_url"), "{err}");
}

#[test]
fn filter_tools_list_defaults_on_and_only_on_a_proxied_resource() {
    let base = format!("{}upstream_url = \"http://127.0.0.1:9000/mcp\"\n", toml(""));
    let c = load(&base, &[]).unwrap();
    assert_eq!(c.resources[0].filter_tools_list, None);
    assert!(c.resources[0].filters_tools_list());
    let c = load(&format!("{base}filter_tools_list = false\n"), &[]).unwrap();
    assert!(!c.resources[0].filters_tools_list());
    let err = load(&format!("{}filter_tools_list = true\n", toml("")), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("resources[0].filter_tools_list") && err.contains("upstream_url"),
        "{err}"
    );
}
