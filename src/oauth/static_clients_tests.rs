#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::config::{ClientMatch, ClientRuleConfig};

fn portal(upstream: Option<&str>) -> StaticClientConfig {
    StaticClientConfig {
        client_id: "portal".to_owned(),
        client_name: None,
        redirect_uris: vec!["https://portal.example.com/cb".to_owned()],
        token_endpoint_auth_method: "none".to_owned(),
        client_secret: None,
        client_secret_file: None,
        upstream: upstream.map(str::to_owned),
        jwks: None,
        service_account: None,
    }
}

/// A static client is bound to its own `upstream`, else to a rule's, else to the first
/// upstream (the settings' default, `corp`).
#[test]
fn a_static_client_maps_to_its_upstream_then_a_rule_then_the_first() {
    let mut s = crate::oauth::grants::fixture_tests::settings();
    assert_eq!(record(&portal(None), &s, 1).unwrap().upstream_id, "corp");
    s.client_rules = vec![ClientRuleConfig {
        matches: ClientMatch {
            redirect_host: Some("portal.example.com".to_owned()),
            ..ClientMatch::default()
        },
        upstream: Some("entra".to_owned()),
        ..ClientRuleConfig::default()
    }];
    assert_eq!(record(&portal(None), &s, 1).unwrap().upstream_id, "entra");
    let own = record(&portal(Some("okta")), &s, 1).unwrap();
    assert_eq!(own.upstream_id, "okta");
}
