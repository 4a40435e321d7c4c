#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `kind = "github"` in the configuration: what it needs, what it refuses, and what other
//! kinds may not borrow from it.

use std::io::Write as _;

use super::super::{Config, ConfigError};
use super::*;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn load(upstream: &str) -> Result<Config, ConfigError> {
    let text = format!(
        r#"
public_url = "https://auth.example.com"
secret_key = "{KEY}"
[[upstreams]]
id = "gh"
client_id = "Iv1.abc"
client_secret = "s3cret"
{upstream}
[[resources]]
id = "tools"
path = "/mcp"
scopes = ["mcp"]
"#
    );
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    Config::load_from(Some(f.path()), std::iter::empty())
}

fn error(upstream: &str) -> String {
    load(upstream).unwrap_err().to_string()
}

#[test]
fn github_needs_only_its_client() {
    let c = load("kind = \"github\"").unwrap();
    let up = &c.upstreams[0];
    assert_eq!(up.kind, UpstreamKind::Github);
    assert!(up.issuer.is_none());
    assert_eq!(up.home(), "https://github.com");
    assert_eq!(
        up.github_api_base().unwrap().as_str(),
        "https://api.github.com/"
    );
}

#[test]
fn github_enterprise_server_takes_its_web_base_and_derives_the_api() {
    let c = load("kind = \"github\"\nweb_base = \"https://ghe.example.com\"").unwrap();
    let up = &c.upstreams[0];
    assert_eq!(up.home(), "https://ghe.example.com");
    assert_eq!(
        up.github_api_base().unwrap().as_str(),
        "https://ghe.example.com/api/v3"
    );
}

#[test]
fn github_refuses_an_issuer_and_other_kinds_need_one() {
    let e = error("kind = \"github\"\nissuer = \"https://github.com\"");
    assert!(
        e.contains("upstreams[0].issuer") && e.contains("web_base"),
        "{e}"
    );
    let e = error("kind = \"okta\"");
    assert!(e.contains("upstreams[0].issuer: is required"), "{e}");
}

#[test]
fn github_keys_belong_to_github() {
    let oidc = "issuer = \"https://corp.okta.com\"\n";
    for (extra, key) in [
        ("web_base = \"https://ghe.example.com\"", "web_base"),
        ("api_base = \"https://ghe.example.com/api/v3\"", "api_base"),
        (
            "[upstreams.policy]\nallowed_orgs = [\"acme\"]",
            "policy.allowed_orgs",
        ),
        (
            "[upstreams.policy]\nallowed_teams = [\"acme/devs\"]",
            "policy.allowed_teams",
        ),
    ] {
        let e = error(&format!("{oidc}{extra}"));
        assert!(e.contains(&format!("upstreams[0].{key}")), "{e}");
    }
}

#[test]
fn github_policy_entries_have_github_shapes() {
    let ok = load(
        "kind = \"github\"\n[upstreams.policy]\nallowed_orgs = [\"Acme-Corp\"]\nallowed_teams = [\"acme-corp/platform_team\"]",
    );
    assert!(ok.is_ok(), "{ok:?}");
    for (rule, bad) in [
        ("allowed_orgs", "\"acme/devs\""),
        ("allowed_orgs", "\"-acme\""),
        ("allowed_orgs", "\"\""),
        ("allowed_teams", "\"acme\""),
        ("allowed_teams", "\"acme/Dev Team\""),
        ("allowed_teams", "\"acme/devs/x\""),
        ("allowed_groups", "\"engineering\""),
    ] {
        let e = error(&format!(
            "kind = \"github\"\n[upstreams.policy]\n{rule} = [{bad}]"
        ));
        assert!(
            e.contains(&format!("upstreams[0].policy.{rule}")),
            "{rule} {bad}: {e}"
        );
    }
}

#[test]
fn github_urls_are_https_unless_loopback_trials() {
    let e = error("kind = \"github\"\nweb_base = \"http://ghe.example.com\"");
    assert!(e.contains("upstreams[0].web_base"), "{e}");
    let e = error("kind = \"github\"\napi_base = \"https://ghe.example.com/api?x=1\"");
    assert!(e.contains("upstreams[0].api_base"), "{e}");
}
