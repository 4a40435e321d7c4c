#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::config::{RegistrationSettings, TokenSettings};

fn resource(upstreams: &[&str]) -> Resource {
    Resource {
        id: "tools".to_owned(),
        path: "/mcp".to_owned(),
        uri: "https://auth.example.com/mcp".to_owned(),
        scopes: vec!["mcp".to_owned()],
        upstreams: upstreams.iter().map(|u| (*u).to_owned()).collect(),
        access: Default::default(),
        token_exchange_client: None,
    }
}

/// Okta claims acme.com, Entra contoso.com; gh claims nothing.
fn settings() -> Settings {
    Settings {
        issuer: "https://auth.example.com".to_owned(),
        resources: Vec::new(),
        tokens: TokenSettings::default(),
        registration: RegistrationSettings::default(),
        default_upstream: "okta".to_owned(),
        home_realms: vec![
            ("acme.com".to_owned(), "okta".to_owned()),
            ("contoso.com".to_owned(), "entra".to_owned()),
        ],
        client_rules: Vec::new(),
        cimd: crate::config::CimdSettings::default(),
        machine: Default::default(),
        enterprise_idps: Vec::new(),
    }
}

fn client(upstream: &str) -> ClientRecord {
    ClientRecord {
        upstream_id: upstream.to_owned(),
        ..ClientRecord::test_public("dcrb_c_abc")
    }
}

fn decided(upstream: &str, by: DecidedBy) -> UpstreamChoice {
    UpstreamChoice::Decided {
        upstream: upstream.to_owned(),
        by,
    }
}

fn pick(c: &ClientRecord, r: &Resource, hint: Option<&str>) -> Result<UpstreamChoice, Error> {
    choose(c, r, hint, &settings())
}

#[test]
fn a_mapped_client_signs_in_at_its_upstream_when_the_resource_lists_it() {
    let both = resource(&["okta", "entra"]);
    assert_eq!(
        pick(&client("entra"), &both, None).unwrap(),
        decided("entra", DecidedBy::Client)
    );
    // The mapping wins over home-realm discovery: the hint names okta's domain.
    assert_eq!(
        pick(&client("entra"), &both, Some("alice@acme.com")).unwrap(),
        decided("entra", DecidedBy::Client)
    );
}

#[test]
fn a_mapped_client_is_refused_by_a_resource_that_does_not_list_its_upstream() {
    let e = pick(&client("gh"), &resource(&["okta", "entra"]), None).unwrap_err();
    assert_eq!(e.code(), "invalid_target");
    let d = e.description().unwrap();
    assert!(d.contains("gh") && d.contains("does not accept"), "{d}");
    // Nor does a hint lead around it.
    let e = pick(&client("gh"), &resource(&["okta"]), Some("a@acme.com")).unwrap_err();
    assert_eq!(e.code(), "invalid_target");
}

#[test]
fn an_unmapped_client_on_a_one_upstream_resource_uses_it() {
    assert_eq!(
        pick(&client(""), &resource(&["entra"]), Some("alice@acme.com")).unwrap(),
        decided("entra", DecidedBy::Resource)
    );
}

#[test]
fn an_unmapped_client_on_a_several_upstream_resource_chooses() {
    let both = resource(&["okta", "entra"]);
    let ask = UpstreamChoice::Ask(vec!["okta".to_owned(), "entra".to_owned()]);
    assert_eq!(pick(&client(""), &both, None).unwrap(), ask);
    assert_eq!(ask.decided(), None);
    // Hints that are no email address of a claimed domain leave the choice to the user.
    for hint in [
        "alice",
        "alice@",
        "@acme.com",
        "a@b@acme.com",
        "alice@example.org",
    ] {
        assert_eq!(pick(&client(""), &both, Some(hint)).unwrap(), ask, "{hint}");
    }
}

#[test]
fn home_realm_discovery_picks_by_email_domain_within_the_resources_list() {
    let both = resource(&["okta", "entra"]);
    assert_eq!(
        pick(&client(""), &both, Some("alice@contoso.com")).unwrap(),
        decided("entra", DecidedBy::HomeRealm)
    );
    // Domains compare case-insensitively.
    assert_eq!(
        pick(&client(""), &both, Some(" Bob@ACME.com ")).unwrap(),
        decided("okta", DecidedBy::HomeRealm)
    );
    // A domain of an upstream the resource does not list never leads there.
    let okta_gh = resource(&["okta", "gh"]);
    assert_eq!(
        pick(&client(""), &okta_gh, Some("alice@contoso.com")).unwrap(),
        UpstreamChoice::Ask(vec!["okta".to_owned(), "gh".to_owned()])
    );
}

#[test]
fn login_hints_are_bounded_and_printable() {
    assert!(check_login_hint("alice@acme.com").is_ok());
    assert!(check_login_hint(&"a".repeat(MAX_LOGIN_HINT_LEN)).is_ok());
    for bad in [
        "a".repeat(MAX_LOGIN_HINT_LEN + 1),
        "alice@acme.com\u{0}".to_owned(),
        "a\nb".to_owned(),
    ] {
        assert_eq!(
            check_login_hint(&bad).unwrap_err().code(),
            "invalid_request"
        );
    }
}
