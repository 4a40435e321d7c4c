#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `[[resources]] upstream` / `upstreams`, `[[upstreams]] domains` and the `upstream` of
//! `[[client_rules]]` in the configuration.

use super::super::tests::load;
use super::super::{Config, ConfigError};

/// Two upstreams (okta with `okta_extra`, entra with `entra_extra`), one resource with
/// `resource`, then `tail`.
fn config(
    okta_extra: &str,
    entra_extra: &str,
    resource: &str,
    tail: &str,
) -> Result<Config, ConfigError> {
    let text = format!(
        r#"
public_url = "https://auth.example.com"
secret_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
[[upstreams]]
id = "okta"
kind = "okta"
issuer = "https://acme.okta.com/oauth2/default"
client_id = "a"
client_secret = "s"
{okta_extra}
[[upstreams]]
id = "entra"
kind = "entra"
issuer = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
client_id = "b"
client_secret = "s"
{entra_extra}
[[resources]]
id = "tools"
path = "/mcp"
{resource}
{tail}"#
    );
    load(&text, &[])
}

fn error(okta: &str, entra: &str, resource: &str, tail: &str) -> String {
    config(okta, entra, resource, tail).unwrap_err().to_string()
}

#[test]
fn a_resource_accepts_the_listed_upstreams_or_its_one_or_the_first() {
    let c = config("", "", r#"upstreams = ["entra", "okta"]"#, "").unwrap();
    assert_eq!(c.resource_upstreams(&c.resources[0]), ["entra", "okta"]);
    let c = config("", "", r#"upstream = "entra""#, "").unwrap();
    assert_eq!(c.resource_upstreams(&c.resources[0]), ["entra"]);
    let c = config("", "", "", "").unwrap();
    assert_eq!(c.resource_upstreams(&c.resources[0]), ["okta"]);
}

#[test]
fn upstream_and_upstreams_are_checked_and_named() {
    let both = error("", "", "upstream = \"okta\"\nupstreams = [\"entra\"]", "");
    assert!(
        both.contains("resources[0].upstreams") && both.contains("not both"),
        "{both}"
    );
    let unknown = error("", "", r#"upstreams = ["okta", "google"]"#, "");
    assert!(
        unknown.contains("resources[0].upstreams") && unknown.contains("google"),
        "{unknown}"
    );
    let twice = error("", "", r#"upstreams = ["okta", "okta"]"#, "");
    assert!(twice.contains("listed twice"), "{twice}");
    let one = error("", "", r#"upstream = "google""#, "");
    assert!(one.contains("resources[0].upstream:"), "{one}");
}

#[test]
fn domains_are_lowercase_and_claimed_once() {
    let c = config(
        r#"domains = ["acme.com"]"#,
        r#"domains = ["contoso.com", "fabrikam.com"]"#,
        "",
        "",
    )
    .unwrap();
    assert_eq!(c.upstreams[1].domains, ["contoso.com", "fabrikam.com"]);
    for bad in [
        "Acme.com",
        "*.acme.com",
        "@acme.com",
        "acme",
        "acme .com",
        "-acme.com",
    ] {
        let e = error(&format!("domains = [{bad:?}]"), "", "", "");
        assert!(e.contains("upstreams[0].domains"), "{bad}: {e}");
    }
    let shared = error(
        r#"domains = ["acme.com"]"#,
        r#"domains = ["acme.com"]"#,
        "",
        "",
    );
    assert!(
        shared.contains("upstreams[1].domains") && shared.contains("okta"),
        "{shared}"
    );
}

#[test]
fn a_client_rule_may_map_to_an_upstream_and_match_a_redirect_scheme() {
    let rule = "[[client_rules]]\nmatch = { redirect_scheme = \"cursor\" }\nupstream = \"entra\"\n";
    let c = config("", "", "", rule).unwrap();
    assert_eq!(c.client_rules[0].upstream.as_deref(), Some("entra"));
    let unknown = error("", "", "", &rule.replace("\"entra\"", "\"google\""));
    assert!(unknown.contains("client_rules[0].upstream"), "{unknown}");
    let scheme = error("", "", "", &rule.replace("\"cursor\"", "\"Cursor:\""));
    assert!(
        scheme.contains("client_rules[0].match.redirect_scheme"),
        "{scheme}"
    );
    // No match keys: refused, so a rule never maps every client by accident.
    let empty = error(
        "",
        "",
        "",
        "[[client_rules]]\nmatch = {}\nupstream = \"entra\"\n",
    );
    assert!(
        empty.contains("client_rules[0].match") && empty.contains("at least one"),
        "{empty}"
    );
}
