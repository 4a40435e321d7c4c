#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::config::{RegistrationSettings, TokenSettings};

fn res(id: &str, path: &str) -> Resource {
    Resource {
        id: id.to_owned(),
        path: path.to_owned(),
        uri: format!("https://auth.example.com{path}"),
        scopes: vec!["mcp".to_owned()],
        upstreams: vec!["okta".to_owned()],
        access: Default::default(),
        token_exchange_client: None,
    }
}

fn settings(resources: Vec<Resource>) -> Settings {
    Settings {
        issuer: "https://auth.example.com".to_owned(),
        resources,
        tokens: TokenSettings::default(),
        registration: RegistrationSettings::default(),
        default_upstream: "okta".to_owned(),
        home_realms: Vec::new(),
        client_rules: Vec::new(),
        cimd: crate::config::CimdSettings::default(),
        machine: Default::default(),
        enterprise_idps: Vec::new(),
    }
}

fn two() -> Settings {
    settings(vec![res("tools", "/mcp"), res("docs", "/docs/mcp")])
}

fn v(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| (*s).to_owned()).collect()
}

fn id(values: &[&str], s: &Settings) -> String {
    resolve_resource(&v(values), s).unwrap().id.clone()
}

fn err(values: &[&str], s: &Settings) -> String {
    let e = resolve_resource(&v(values), s).unwrap_err();
    assert_eq!(e.code(), "invalid_target");
    let d = e.description().unwrap().to_owned();
    assert!(
        d.bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
        "{d}"
    );
    d
}

#[test]
fn exact_value_is_resolved() {
    let s = two();
    assert_eq!(id(&["https://auth.example.com/mcp"], &s), "tools");
    assert_eq!(id(&["https://auth.example.com/docs/mcp"], &s), "docs");
}

#[test]
fn scheme_host_case_default_port_and_trailing_slash_are_tolerated() {
    let s = two();
    assert_eq!(id(&["HTTPS://AUTH.Example.COM/mcp"], &s), "tools");
    assert_eq!(id(&["https://auth.example.com/mcp/"], &s), "tools");
    assert_eq!(id(&["https://auth.example.com:443/mcp"], &s), "tools");
    assert_eq!(id(&[" https://auth.example.com/mcp "], &s), "tools");
}

#[test]
fn path_case_other_ports_and_double_slashes_are_not() {
    let s = two();
    assert!(err(&["https://auth.example.com/MCP"], &s).contains("unknown resource"));
    assert!(err(&["https://auth.example.com:8443/mcp"], &s).contains("unknown"));
    assert!(err(&["https://auth.example.com/mcp//"], &s).contains("unknown"));
    assert!(err(&["http://auth.example.com/mcp"], &s).contains("unknown"));
    assert!(err(&["https://auth.example.com/mcp?x=1"], &s).contains("unknown"));
    assert!(err(&["https://auth.example.com.evil.com/mcp"], &s).contains("unknown"));
    assert!(err(&["https://auth.example.com/mcpx"], &s).contains("unknown"));
}

#[test]
fn repeated_and_comma_separated_values_naming_one_resource() {
    let s = two();
    assert_eq!(
        id(
            &[
                "https://auth.example.com/mcp",
                "https://auth.example.com/mcp/"
            ],
            &s
        ),
        "tools"
    );
    assert_eq!(
        id(
            &["https://auth.example.com/mcp,https://AUTH.example.com/mcp"],
            &s
        ),
        "tools"
    );
    assert_eq!(
        id(
            &["https://auth.example.com/mcp, https://auth.example.com/mcp,"],
            &s
        ),
        "tools"
    );
}

#[test]
fn several_distinct_resources_are_refused() {
    let s = two();
    let d = err(
        &[
            "https://auth.example.com/mcp",
            "https://auth.example.com/docs/mcp",
        ],
        &s,
    );
    assert!(d.contains("one resource per request"), "{d}");
    let d = err(
        &["https://auth.example.com/mcp,https://auth.example.com/docs/mcp"],
        &s,
    );
    assert!(d.contains("one resource per request"), "{d}");
}

#[test]
fn unknown_value_is_named_even_next_to_a_known_one() {
    let d = err(
        &["https://auth.example.com/mcp", "https://evil.example/mcp"],
        &two(),
    );
    assert!(d.contains("'https://evil.example/mcp'"), "{d}");
}

#[test]
fn a_configured_uri_containing_a_comma_is_not_split() {
    let s = settings(vec![res("odd", "/a,b")]);
    assert_eq!(id(&["https://auth.example.com/a,b"], &s), "odd");
}

#[test]
fn malformed_values_are_invalid_target() {
    let s = two();
    assert!(err(&["/mcp"], &s).contains("absolute"));
    assert!(err(&["mcp"], &s).contains("absolute"));
    assert!(err(&["https://auth.example.com/mcp#frag"], &s).contains("fragment"));
    assert!(err(&["https://auth.example.com/mcp,/relative"], &s).contains("absolute"));
    let huge = format!("https://auth.example.com/{}", "a".repeat(5000));
    assert!(err(&[huge.as_str()], &s).contains("longer"));
    let many = vec!["https://auth.example.com/mcp"; 30];
    assert!(err(&many, &s).contains("too many"));
}

#[test]
fn descriptions_never_carry_raw_quotes_or_unicode() {
    let d = err(&["urn:\"x\u{e9}\""], &two());
    assert!(d.is_ascii() && !d.contains('"'), "{d}");
}

#[test]
fn absent_resource_defaults_only_when_one_is_configured() {
    let one = settings(vec![res("tools", "/mcp")]);
    assert_eq!(id(&[], &one), "tools");
    assert_eq!(id(&[""], &one), "tools");
    assert_eq!(id(&[" , "], &one), "tools");
    assert!(err(&[], &two()).contains("resource is required when several resources are configured"));
    assert!(err(&[], &settings(vec![])).contains("no resources"));
}

#[test]
fn normalise_forms() {
    assert_eq!(
        normalise("HTTPS://Example.COM:443/").unwrap(),
        "https://example.com"
    );
    assert_eq!(
        normalise("https://example.com").unwrap(),
        "https://example.com"
    );
    assert_eq!(
        normalise("https://example.com/Mcp/").unwrap(),
        "https://example.com/Mcp"
    );
    assert_eq!(
        normalise("http://example.com:80/mcp").unwrap(),
        "http://example.com/mcp"
    );
    assert_eq!(
        normalise("http://example.com:8080/mcp").unwrap(),
        "http://example.com:8080/mcp"
    );
}
