#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn client(redirects: &[&str]) -> ClientRecord {
    let mut c = ClientRecord::test_public("dcrb_c_x");
    c.redirect_uris = redirects.iter().map(|s| (*s).to_owned()).collect();
    c
}

fn host(h: &str) -> ClientMatch {
    ClientMatch {
        redirect_host: Some(h.to_owned()),
        ..ClientMatch::default()
    }
}

fn rule(m: ClientMatch, send_iss: Option<bool>, ttl: Option<i64>) -> ClientRuleConfig {
    ClientRuleConfig {
        matches: m,
        send_iss,
        access_token_ttl: ttl,
        upstream: None,
    }
}

#[test]
fn redirect_host_needs_every_redirect_on_that_https_host() {
    let claude = client(&["https://claude.ai/api/mcp/auth_callback"]);
    assert!(matches(&host("claude.ai"), &claude));
    assert!(matches(
        &host("claude.ai"),
        &client(&["https://CLAUDE.ai/api/mcp/auth_callback"])
    ));
    // A client that adds its own URI next to claude.ai's does not borrow the rule.
    assert!(!matches(
        &host("claude.ai"),
        &client(&[
            "https://claude.ai/api/mcp/auth_callback",
            "https://evil.example/cb"
        ])
    ));
    for other in [
        "http://claude.ai/cb",
        "https://claude.ai:8443/cb",
        "https://claude.ai.evil.example/cb",
        "https://evil.example/claude.ai",
        "cursor://claude.ai/cb",
        "https://sub.claude.ai/cb",
    ] {
        assert!(!matches(&host("claude.ai"), &client(&[other])), "{other}");
    }
    assert!(!matches(&host("claude.ai"), &client(&[])));
}

#[test]
fn software_id_and_cimd_domain() {
    let mut c = client(&["http://127.0.0.1/cb"]);
    c.software_id = Some("com.example.agent".to_owned());
    let sw = ClientMatch {
        software_id: Some("com.example.agent".to_owned()),
        ..ClientMatch::default()
    };
    assert!(matches(&sw, &c));
    c.software_id = Some("com.example.agent2".to_owned());
    assert!(!matches(&sw, &c));
    c.software_id = None;
    assert!(!matches(&sw, &c));

    let cimd = ClientMatch {
        cimd_domain: Some("app.example.com".to_owned()),
        ..ClientMatch::default()
    };
    let mut doc = client(&["http://127.0.0.1/cb"]);
    doc.client_id = "https://app.example.com/oauth/client.json".to_owned();
    doc.kind = ClientKind::Cimd;
    assert!(matches(&cimd, &doc));
    // Only a CIMD client: the same-looking id on another kind of client is not a document.
    doc.kind = ClientKind::Static;
    assert!(!matches(&cimd, &doc));
    doc.kind = ClientKind::Cimd;
    doc.client_id = "https://app.example.com.evil.example/client.json".to_owned();
    assert!(!matches(&cimd, &doc));

    // Every key given must fit.
    let both = ClientMatch {
        redirect_host: Some("claude.ai".to_owned()),
        software_id: Some("claude".to_owned()),
        cimd_domain: None,
        redirect_scheme: None,
    };
    let mut c = client(&["https://claude.ai/api/mcp/auth_callback"]);
    assert!(!matches(&both, &c));
    c.software_id = Some("claude".to_owned());
    assert!(matches(&both, &c));
}

#[test]
fn first_matching_rule_wins_and_settings_apply_it() {
    let rules = vec![
        rule(host("claude.ai"), Some(false), None),
        rule(host("claude.ai"), Some(true), Some(86_400)),
        rule(host("chatgpt.com"), None, Some(7200)),
    ];
    let claude = client(&["https://claude.ai/api/mcp/auth_callback"]);
    let gpt = client(&["https://chatgpt.com/connector_platform_oauth_redirect"]);
    let cli = client(&["http://127.0.0.1/callback"]);
    assert_eq!(
        rule_for(&rules, &claude).map(|r| r.send_iss),
        Some(Some(false))
    );

    let mut s = crate::oauth::grants::fixture_tests::settings();
    s.client_rules = rules;
    assert!(!s.sends_iss(&claude));
    assert_eq!(s.response_iss(&claude), None);
    // The first rule sets no lifetime: the default, not the second rule's.
    assert_eq!(s.access_token_ttl(&claude), s.tokens.access_token_ttl);
    assert!(s.sends_iss(&gpt), "unset send_iss keeps the default");
    assert_eq!(s.access_token_ttl(&gpt), 7200);
    assert!(s.sends_iss(&cli));
    assert_eq!(s.response_iss(&cli), Some(s.issuer.as_str()));
    assert_eq!(s.access_token_ttl(&cli), s.tokens.access_token_ttl);
    assert_eq!(s.max_access_token_ttl(), 86_400);
}

#[test]
fn redirect_scheme_needs_every_redirect_on_that_scheme() {
    let m = ClientMatch {
        redirect_scheme: Some("cursor".to_owned()),
        ..ClientMatch::default()
    };
    assert!(matches(
        &m,
        &client(&["cursor://anysphere.cursor-mcp/oauth/callback"])
    ));
    // One redirect elsewhere: not the rule's client (it could borrow the mapping).
    assert!(!matches(
        &m,
        &client(&[
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://www.cursor.com/agents/mcp/oauth/callback",
        ])
    ));
    assert!(!matches(&m, &client(&[])));
    assert!(!matches(&m, &client(&["not a url"])));
}

#[test]
fn the_applicable_rule_maps_the_client_to_its_upstream_or_none() {
    let by_software = ClientMatch {
        software_id: Some("okta-app".to_owned()),
        ..ClientMatch::default()
    };
    let rules = vec![
        ClientRuleConfig {
            upstream: Some("okta".to_owned()),
            ..rule(by_software, None, None)
        },
        ClientRuleConfig {
            upstream: Some("entra".to_owned()),
            ..rule(host("entra-app.example"), None, None)
        },
        rule(host("claude.ai"), Some(false), None),
    ];
    let mut okta = client(&["http://127.0.0.1/callback"]);
    okta.software_id = Some("okta-app".to_owned());
    assert_eq!(mapped_upstream(&rules, &okta), "okta");
    let entra = client(&["https://entra-app.example/cb"]);
    assert_eq!(mapped_upstream(&rules, &entra), "entra");
    // A rule without upstream, or no rule: unmapped.
    let claude = client(&["https://claude.ai/api/mcp/auth_callback"]);
    assert_eq!(mapped_upstream(&rules, &claude), "");
    assert_eq!(
        mapped_upstream(&rules, &client(&["http://127.0.0.1/cb"])),
        ""
    );
}
