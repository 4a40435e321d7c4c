#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn resource(scopes: &[&str]) -> Resource {
    Resource {
        id: "mcp".to_owned(),
        path: "/mcp".to_owned(),
        uri: "https://auth.example.com/mcp".to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        upstreams: vec!["okta".to_owned()],
        access: Default::default(),
        token_exchange_client: None,
    }
}

fn set(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

#[test]
fn parse_splits_on_runs_of_spaces_and_dedups() {
    let s = set("  mcp:read   mcp:write mcp:read ");
    assert_eq!(s.as_slice(), ["mcp:read", "mcp:write"]);
    assert_eq!(s.to_string(), "mcp:read mcp:write");
    assert_eq!(s.len(), 2);
    assert!(set("").is_empty());
    assert!(set("    ").is_empty());
}

#[test]
fn parse_keeps_first_seen_order() {
    assert_eq!(set("b a c a b").to_string(), "b a c");
}

#[test]
fn parse_refuses_characters_outside_nqchar() {
    for bad in [
        "a\"b",
        "a\\b",
        "caf\u{e9}",
        "a\tb",
        "a\nb",
        "x\u{7f}",
        "\u{0}",
    ] {
        let e = ScopeSet::parse(bad).unwrap_err();
        assert_eq!(e.code(), "invalid_scope", "{bad:?}");
        let d = e.description().unwrap();
        assert!(!d.contains('"') && !d.contains('\\') && d.is_ascii(), "{d}");
    }
}

#[test]
fn parse_refuses_huge_values() {
    let huge = "a ".repeat(MAX_SCOPE_LEN);
    assert_eq!(ScopeSet::parse(&huge).unwrap_err().code(), "invalid_scope");
}

#[test]
fn set_operations() {
    let a = set("mcp:read offline_access");
    let b = set("mcp:write mcp:read");
    assert!(a.contains("mcp:read") && !a.contains("mcp:write") && !a.contains("mcp"));
    assert!(set("mcp:read").is_subset_of(&a));
    assert!(ScopeSet::default().is_subset_of(&a));
    assert!(!a.is_subset_of(&b));
    assert_eq!(a.union(&b).to_string(), "mcp:read offline_access mcp:write");
    assert_eq!(ScopeSet::from_tokens(["x", "y", "x"]).to_string(), "x y");
    assert_eq!(a.iter().collect::<Vec<_>>(), ["mcp:read", "offline_access"]);
}

#[test]
fn no_scope_gets_the_resource_defaults() {
    // COMPAT C15: the full default set, not the narrowest.
    let r = resource(&["mcp:read", "mcp:write"]);
    assert_eq!(
        resolve_scope(None, &r).unwrap().to_string(),
        "mcp:read mcp:write"
    );
    assert_eq!(
        resolve_scope(Some(""), &r).unwrap().to_string(),
        "mcp:read mcp:write"
    );
    assert_eq!(
        resolve_scope(Some("  "), &r).unwrap().to_string(),
        "mcp:read mcp:write"
    );
}

#[test]
fn requested_subset_is_kept_as_asked() {
    let r = resource(&["mcp:read", "mcp:write"]);
    assert_eq!(
        resolve_scope(Some("mcp:write"), &r).unwrap().to_string(),
        "mcp:write"
    );
    assert_eq!(
        resolve_scope(Some("mcp:read offline_access"), &r)
            .unwrap()
            .to_string(),
        "mcp:read offline_access"
    );
}

#[test]
fn oidc_scopes_copied_from_metadata_are_tolerated() {
    let r = resource(&["mcp:read"]);
    let s = resolve_scope(Some("openid profile email mcp:read"), &r).unwrap();
    assert_eq!(s.to_string(), "openid profile email mcp:read");
}

#[test]
fn only_offline_access_adds_the_defaults() {
    let r = resource(&["mcp:read", "mcp:write"]);
    assert_eq!(
        resolve_scope(Some("offline_access"), &r)
            .unwrap()
            .to_string(),
        "mcp:read mcp:write offline_access"
    );
    assert_eq!(
        resolve_scope(Some("openid offline_access"), &r)
            .unwrap()
            .to_string(),
        "mcp:read mcp:write openid offline_access"
    );
}

#[test]
fn unknown_scope_is_named() {
    let r = resource(&["mcp:read"]);
    let e = resolve_scope(Some("mcp:read admin"), &r).unwrap_err();
    assert_eq!(e.code(), "invalid_scope");
    let d = e.description().unwrap();
    assert!(
        d.contains("'admin'") && d.contains("https://auth.example.com/mcp"),
        "{d}"
    );
    // Case matters: scope tokens are case-sensitive (RFC 6749 §3.3).
    assert_eq!(
        resolve_scope(Some("MCP:READ"), &r).unwrap_err().code(),
        "invalid_scope"
    );
    assert_eq!(
        resolve_scope(Some("OFFLINE_ACCESS"), &r)
            .unwrap_err()
            .code(),
        "invalid_scope"
    );
}

#[test]
fn resource_without_scopes() {
    let r = resource(&[]);
    assert!(resolve_scope(None, &r).unwrap().is_empty());
    assert_eq!(
        resolve_scope(Some("offline_access"), &r)
            .unwrap()
            .to_string(),
        "offline_access"
    );
    assert!(resolve_scope(Some("mcp"), &r).is_err());
}
