#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::config::{RegistrationSettings, TokenSettings};

const ID: &str = "https://client.example.com/oauth/metadata.json";

fn settings() -> Settings {
    Settings {
        issuer: "https://auth.example.com".to_owned(),
        resources: vec![],
        tokens: TokenSettings::default(),
        registration: RegistrationSettings::default(),
        default_upstream: "okta".to_owned(),
        home_realms: Vec::new(),
        client_rules: Vec::new(),
        cimd: CimdSettings::default(),
        machine: Default::default(),
        enterprise_idps: Vec::new(),
    }
}

fn check(id: &str) -> Result<Url, String> {
    check_client_id(id, &CimdSettings::default())
        .map_err(|e| e.description().unwrap_or_default().to_owned())
}

#[test]
fn url_client_ids_are_recognised_case_insensitively() {
    assert!(is_url_client_id(ID));
    assert!(is_url_client_id("HTTPS://x/y"));
    assert!(is_url_client_id("http://127.0.0.1/x"));
    assert!(!is_url_client_id("mcp_abc"));
    assert!(!is_url_client_id("https:x"));
    assert!(!is_url_client_id("h"));
}

#[test]
fn client_id_url_rules() {
    assert!(check(ID).is_ok());
    assert!(check("https://client.example.com:8443/a").is_ok());
    for (bad, why) in [
        ("http://client.example.com/a", "https"),
        ("https://client.example.com", "path"),
        ("https://client.example.com/", "path"),
        ("https://client.example.com/a#f", "fragment"),
        ("https://client.example.com/a#", "fragment"),
        ("https://u:p@client.example.com/a", "credentials"),
        ("https://u@client.example.com/a", "credentials"),
        ("https://client.example.com/a?x=1", "query"),
        ("https://client.example.com/a/../b", ". or .."),
        ("https://client.example.com/a/./b", ". or .."),
        ("https://client.example.com/a/%2e%2E/b", ". or .."),
        ("https://client.example.com/a/.%2e", ". or .."),
        ("https://Client.example.com/a", "canonical"),
        ("https://client.example.com:443/a", "canonical"),
        ("https://client.example.com/a b", "characters"),
        ("https://client.example.com/\u{202e}a", "characters"),
        ("ftp://client.example.com/a", "https"),
        ("https:///a", "path"),
        ("https://exa%mple.com/a", "valid URL"),
    ] {
        let e = check(bad).expect_err(bad);
        assert!(e.contains(why), "{bad}: {e}");
    }
    let long = format!(
        "https://client.example.com/{}",
        "a".repeat(MAX_CLIENT_ID_LEN)
    );
    assert!(check(&long).unwrap_err().contains("at most"));
}

#[test]
fn loopback_http_only_under_the_test_setting() {
    let id = "http://127.0.0.1:4000/client.json";
    assert!(check(id).unwrap_err().contains("https"));
    let s = CimdSettings {
        allow_loopback_for_tests: true,
        ..CimdSettings::default()
    };
    assert!(check_client_id(id, &s).is_ok());
    // Not a loopback host: still https only.
    assert!(check_client_id("http://example.com/x", &s).is_err());
}

#[test]
fn allowed_domains_exact_and_suffix() {
    let s = CimdSettings {
        allowed_domains: vec!["claude.ai".to_owned(), "*.example.com".to_owned()],
        ..CimdSettings::default()
    };
    assert!(s.domain_allowed("claude.ai"));
    assert!(!s.domain_allowed("evil-claude.ai"));
    assert!(!s.domain_allowed("x.claude.ai"));
    assert!(s.domain_allowed("client.example.com"));
    assert!(s.domain_allowed("a.b.example.com"));
    assert!(!s.domain_allowed("example.com"));
    assert!(!s.domain_allowed("evilexample.com"));
    assert!(!s.domain_allowed(".example.com"));
    let e = check_client_id("https://evil.test/x", &s).unwrap_err();
    assert_eq!(e.code(), "invalid_client");
    assert!(check_client_id(ID, &s).is_ok());
    assert!(CimdSettings::default().domain_allowed("anything.test"));
}

fn doc(extra: serde_json::Value) -> Vec<u8> {
    let mut d = json!({
        "client_id": ID,
        "client_name": "Example\u{202e} Client",
        "redirect_uris": ["http://127.0.0.1/callback", "https://client.example.com/cb"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
    });
    for (k, v) in extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    serde_json::to_vec(&d).unwrap()
}

fn record(body: &[u8]) -> Result<ClientRecord, String> {
    document_record(ID, body, &settings(), None, 100)
        .map_err(|e| e.description().unwrap_or_default().to_owned())
}

#[test]
fn a_valid_document_becomes_a_public_cimd_client() {
    let r = record(&doc(json!({}))).unwrap();
    assert_eq!(r.client_id, ID);
    assert_eq!(r.kind, ClientKind::Cimd);
    assert_eq!(r.token_endpoint_auth_method, "none");
    assert!(r.secret_hash.is_none() && r.registration_token_hash.is_none());
    // Sanitized like DCR: the bidi override is gone.
    assert_eq!(r.client_name.as_deref(), Some("Example Client"));
    assert_eq!(r.redirect_uris.len(), 2);
    // No `[[client_rules]]` upstream for it: unmapped.
    assert_eq!(r.upstream_id, "");
    // No method given: public, not RFC 7591's client_secret_basic default.
    let mut d: serde_json::Value = serde_json::from_slice(&doc(json!({}))).unwrap();
    d.as_object_mut()
        .unwrap()
        .remove("token_endpoint_auth_method");
    assert_eq!(
        record(&serde_json::to_vec(&d).unwrap())
            .unwrap()
            .token_endpoint_auth_method,
        "none"
    );
}

#[test]
fn an_update_keeps_creation_time_and_the_disabled_flag() {
    let old = ClientRecord {
        created_at: 5,
        disabled: true,
        upstream_id: "entra".to_owned(),
        ..record(&doc(json!({}))).unwrap()
    };
    let r = document_record(ID, &doc(json!({})), &settings(), Some(&old), 900).unwrap();
    assert_eq!((r.created_at, r.updated_at, r.disabled), (5, 900, true));
    assert_eq!(r.upstream_id, "entra");
    assert!(!metadata_changed(&old, &r));
    let moved = document_record(
        ID,
        &doc(json!({"redirect_uris": ["http://127.0.0.1/other"]})),
        &settings(),
        Some(&old),
        900,
    )
    .unwrap();
    assert!(metadata_changed(&old, &moved));
}

#[test]
fn hostile_documents_are_refused_as_invalid_client() {
    for (body, why) in [
        (b"not json".to_vec(), "not valid JSON"),
        (b"[1,2]".to_vec(), "JSON object"),
        (
            doc(json!({"client_id": "https://client.example.com/other.json"})),
            "not its own URL",
        ),
        (
            doc(json!({"client_id": "https://client.example.com/oauth/metadata.json/"})),
            "not its own URL",
        ),
        (doc(json!({"client_id": 5})), "must contain client_id"),
        (doc(json!({"client_secret": "s"})), "client_secret"),
        (
            doc(json!({"client_secret_expires_at": 0})),
            "client_secret_expires_at",
        ),
        (
            doc(json!({"token_endpoint_auth_method": "client_secret_basic"})),
            "shared secrets",
        ),
        (
            doc(json!({"token_endpoint_auth_method": "client_secret_jwt"})),
            "shared secrets",
        ),
        (
            doc(
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://client.example.com/jwks"}),
            ),
            "private_key_jwt is not supported",
        ),
        (
            doc(json!({"token_endpoint_auth_method": 1})),
            "must be a string",
        ),
        (
            doc(json!({"jwks_uri": "https://client.example.com/jwks"})),
            "without keys",
        ),
        (doc(json!({"jwks": {"keys": []}})), "without keys"),
        (
            doc(json!({"redirect_uris": []})),
            "redirect_uris is required",
        ),
        (
            doc(json!({"redirect_uris": ["javascript:alert(1)"]})),
            "redirect_uris[0]",
        ),
        (
            doc(json!({"redirect_uris": ["https://client.example.com/cb#x"]})),
            "redirect_uris[0]",
        ),
        (
            doc(json!({"redirect_uris": "https://client.example.com/cb"})),
            "redirect_uris must be",
        ),
        (doc(json!({"client_name": "x".repeat(500)})), "client_name"),
        (
            doc(json!({"grant_types": ["client_credentials"]})),
            "grant type",
        ),
        (
            doc(json!({"logo_uri": "http://evil.test/logo.png"})),
            "logo_uri",
        ),
    ] {
        let e = document_record(ID, &body, &settings(), None, 1).unwrap_err();
        assert_eq!(e.code(), "invalid_client", "{why}");
        let d = e.description().unwrap_or_default();
        assert!(d.contains(why), "{why}: {d}");
    }
    // Without redirect_uris at all.
    let mut d: serde_json::Value = serde_json::from_slice(&doc(json!({}))).unwrap();
    d.as_object_mut().unwrap().remove("redirect_uris");
    assert!(record(&serde_json::to_vec(&d).unwrap())
        .unwrap_err()
        .contains("redirect_uris"));
}

#[test]
fn verified_domain_is_host_and_port() {
    assert_eq!(verified_domain(ID).as_deref(), Some("client.example.com"));
    assert_eq!(
        verified_domain("https://c.example.com:8443/x").as_deref(),
        Some("c.example.com:8443")
    );
    assert_eq!(verified_domain("nope"), None);
}

#[test]
fn only_failures_that_say_nothing_about_the_document_are_transient() {
    for e in [
        FetchError::Unreachable,
        FetchError::Timeout,
        FetchError::Status(500),
        FetchError::Status(503),
        FetchError::Status(599),
        FetchError::Status(429),
    ] {
        assert!(e.is_transient(), "{e:?}");
    }
    for e in [
        FetchError::ForbiddenAddress,
        FetchError::NotJson,
        FetchError::TooLarge(5120),
        FetchError::Status(404),
        FetchError::Status(410),
        FetchError::Status(401),
        FetchError::Status(302),
        FetchError::Status(204),
        FetchError::Status(499),
    ] {
        assert!(!e.is_transient(), "{e:?}");
    }
}

/// A `[[client_rules]]` rule by CIMD domain maps the client at its first use; a refetched
/// document keeps the stored mapping, whatever the rules say now.
#[test]
fn the_cimd_domain_rule_maps_at_first_use_and_refetches_keep_it() {
    let mut s = settings();
    s.client_rules = vec![crate::config::ClientRuleConfig {
        matches: crate::config::ClientMatch {
            cimd_domain: Some("client.example.com".to_owned()),
            ..Default::default()
        },
        upstream: Some("entra".to_owned()),
        ..Default::default()
    }];
    let first = document_record(ID, &doc(json!({})), &s, None, 100).unwrap();
    assert_eq!(first.mapped_upstream(), Some("entra"));
    let unmapped = ClientRecord {
        upstream_id: String::new(),
        ..first.clone()
    };
    let again = document_record(ID, &doc(json!({})), &s, Some(&unmapped), 200).unwrap();
    assert_eq!(again.mapped_upstream(), None);
}
