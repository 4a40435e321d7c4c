#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `[upstreams.policy]` and `[resources.policy]` keys checked against the upstream's kind;
//! `[[resources.scope_grants]]` against the resource's scopes; `[tokens] access_token_claims`.

use std::io::Write as _;

use super::super::{AccessTokenClaim, Config, ConfigError};
use super::*;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A configuration whose upstream is of `kind`, with `upstream` and `resource` lines added to
/// the two tables and `top` before them.
fn load(kind: &str, top: &str, upstream: &str, resource: &str) -> Result<Config, ConfigError> {
    let issuer = if kind == "github" {
        String::new()
    } else {
        "issuer = \"https://idp.example.com\"".to_owned()
    };
    let text = format!(
        r#"
public_url = "https://auth.example.com"
secret_key = "{KEY}"
{top}
[[upstreams]]
id = "corp"
kind = "{kind}"
{issuer}
client_id = "bridge"
client_secret = "s3cret"
{upstream}
[[resources]]
id = "tools"
path = "/mcp"
scopes = ["mcp:read", "admin:write"]
{resource}
"#
    );
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    Config::load_from(Some(f.path()), std::iter::empty())
}

fn error(kind: &str, upstream: &str, resource: &str) -> String {
    load(kind, "", upstream, resource).unwrap_err().to_string()
}

#[test]
fn hosted_domains_are_google_only_lowercase_and_exact() {
    let c = load(
        "google",
        "",
        "[upstreams.policy]\nallowed_hosted_domains = [\"acme.com\"]",
        "",
    )
    .unwrap();
    assert_eq!(c.upstreams[0].policy.allowed_hosted_domains, ["acme.com"]);
    let e = error(
        "oidc",
        "[upstreams.policy]\nallowed_hosted_domains = [\"acme.com\"]",
        "",
    );
    assert!(
        e.contains("upstreams[0].policy.allowed_hosted_domains") && e.contains("google"),
        "{e}"
    );
    for bad in ["ACME.com", "*.acme.com", ".acme.com", "a@acme.com", ""] {
        let e = error(
            "google",
            &format!("[upstreams.policy]\nallowed_hosted_domains = [{bad:?}]"),
            "",
        );
        assert!(e.contains("policy.allowed_hosted_domains"), "{bad}: {e}");
    }
}

#[test]
fn resource_policy_keys_follow_the_resource_upstream_kind() {
    let c = load(
        "google",
        "",
        "",
        "[resources.policy]\nallowed_hosted_domains = [\"acme.com\"]\nallowed_email_domains = [\"acme.com\"]",
    )
    .unwrap();
    assert_eq!(c.resources[0].policy.allowed_hosted_domains, ["acme.com"]);
    let e = error(
        "oidc",
        "",
        "[resources.policy]\nallowed_hosted_domains = [\"acme.com\"]",
    );
    assert!(
        e.contains("resources[0].policy.allowed_hosted_domains"),
        "{e}"
    );
    let e = error(
        "okta",
        "",
        "[resources.policy]\nallowed_tenants = [\"72f988bf-86f1-41af-91ab-2d7cd011db47\"]",
    );
    assert!(e.contains("resources[0].policy.allowed_tenants"), "{e}");
    let e = error("oidc", "", "[resources.policy]\nallowed_orgs = [\"acme\"]");
    assert!(e.contains("resources[0].policy.allowed_orgs"), "{e}");
    let e = error(
        "github",
        "",
        "[resources.policy]\nallowed_groups = [\"eng\"]",
    );
    assert!(e.contains("resources[0].policy.allowed_groups"), "{e}");
    let e = error(
        "github",
        "",
        "[resources.policy]\nallowed_teams = [\"acme-corp\"]",
    );
    assert!(e.contains("resources[0].policy.allowed_teams"), "{e}");
    let e = error(
        "oidc",
        "",
        "[resources.policy]\nallowed_email_domains = [\"*.acme.com\"]",
    );
    assert!(
        e.contains("resources[0].policy.allowed_email_domains"),
        "{e}"
    );
    let e = error("oidc", "", "[resources.policy]\nallowed_groupz = [\"eng\"]");
    assert!(e.contains("allowed_groupz"), "{e}");
    load(
        "github",
        "",
        "",
        "[resources.policy]\nallowed_orgs = [\"acme-corp\"]\nallowed_teams = [\"acme-corp/platform\"]",
    )
    .unwrap();
}

#[test]
fn scope_grants_name_groups_and_scopes_of_the_resource() {
    let c = load(
        "oidc",
        "",
        "",
        "[[resources.scope_grants]]\ngroups = [\"mcp-admins\"]\nscopes = [\"admin:write\"]",
    )
    .unwrap();
    assert_eq!(
        c.resources[0].scope_grants,
        [ScopeGrant {
            groups: vec!["mcp-admins".into()],
            scopes: vec!["admin:write".into()],
        }]
    );
    for (grant, key) in [
        (
            "groups = [\"a\"]\nscopes = [\"other:scope\"]",
            "scope_grants[0].scopes",
        ),
        ("groups = [\"a\"]\nscopes = []", "scope_grants[0].scopes"),
        (
            "groups = []\nscopes = [\"admin:write\"]",
            "scope_grants[0].groups",
        ),
        (
            "groups = [\"\"]\nscopes = [\"admin:write\"]",
            "scope_grants[0].groups",
        ),
        ("groups = [\"a\"]", "scopes"),
        (
            "groups = [\"a\"]\nscopes = [\"admin:write\"]\nscope = \"x\"",
            "scope",
        ),
    ] {
        let e = error("oidc", "", &format!("[[resources.scope_grants]]\n{grant}"));
        assert!(e.contains(key), "{grant}: {e}");
    }
}

#[test]
fn access_token_claims_are_named_once() {
    let c = load("oidc", "", "", "").unwrap();
    assert!(c.tokens.access_token_claims.is_empty(), "none by default");
    let c = load(
        "oidc",
        "[tokens]\naccess_token_claims = [\"email\", \"name\", \"groups\"]",
        "",
        "",
    )
    .unwrap();
    assert_eq!(
        c.tokens.access_token_claims,
        [
            AccessTokenClaim::Email,
            AccessTokenClaim::Name,
            AccessTokenClaim::Groups
        ]
    );
    let e = load(
        "oidc",
        "[tokens]\naccess_token_claims = [\"phone\"]",
        "",
        "",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("tokens.access_token_claims"), "{e}");
    let e = load(
        "oidc",
        "[tokens]\naccess_token_claims = [\"email\", \"email\"]",
        "",
        "",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("tokens.access_token_claims") && e.contains("twice"),
        "{e}"
    );
}

#[test]
fn resource_email_domains_need_a_tenant_list_on_a_multi_tenant_entra_upstream() {
    let entra = |resource: &str| {
        let text = format!(
            r#"
public_url = "https://auth.example.com"
secret_key = "{KEY}"
[[upstreams]]
id = "entra"
kind = "entra"
issuer = "https://login.microsoftonline.com/organizations/v2.0"
client_id = "bridge"
client_secret = "s3cret"
[upstreams.policy]
allowed_tenants = []
[[resources]]
id = "tools"
path = "/mcp"
{resource}
"#
        );
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        Config::load_from(Some(f.path()), std::iter::empty())
    };
    let e = entra("[resources.policy]\nallowed_email_domains = [\"acme.com\"]")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("resources[0].policy.allowed_email_domains") && e.contains("allowed_tenants"),
        "{e}"
    );
    entra(
        "[resources.policy]\nallowed_email_domains = [\"acme.com\"]\nallowed_tenants = [\"72f988bf-86f1-41af-91ab-2d7cd011db47\"]",
    )
    .unwrap();
}
