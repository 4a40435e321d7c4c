#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn ok(raw: &str) -> RedirectKind {
    match RedirectUri::for_registration(raw) {
        Ok(r) => {
            assert_eq!(r.as_str(), raw, "stored verbatim");
            r.kind()
        }
        Err(e) => panic!("{raw} refused: {e}"),
    }
}

fn refused(raw: &str) -> String {
    match RedirectUri::for_registration(raw) {
        Ok(_) => panic!("{raw} accepted"),
        Err(e) => {
            assert_eq!(e.code(), "invalid_redirect_uri");
            let d = e.description().unwrap_or_default().to_owned();
            // RFC 6749 section 5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
            assert!(
                d.bytes()
                    .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
                "{d}"
            );
            d
        }
    }
}

fn reg(uris: &[&str]) -> Vec<String> {
    uris.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn real_client_redirects_are_accepted() {
    assert_eq!(
        ok("https://claude.ai/api/mcp/auth_callback"),
        RedirectKind::Https
    );
    assert_eq!(
        ok("https://claude.com/api/mcp/auth_callback"),
        RedirectKind::Https
    );
    assert_eq!(
        ok("http://127.0.0.1:6276/oauth/callback"),
        RedirectKind::Loopback
    );
    assert_eq!(
        ok("http://localhost:6274/oauth/callback"),
        RedirectKind::Loopback
    );
    assert_eq!(ok("http://[::1]:33418/"), RedirectKind::Loopback);
    assert_eq!(ok("http://127.0.0.1/callback"), RedirectKind::Loopback);
    assert_eq!(ok("http://localhost"), RedirectKind::Loopback);
    assert_eq!(
        ok("cursor://anysphere.cursor-retrieval/oauth/user-callback"),
        RedirectKind::PrivateUse
    );
    assert_eq!(
        ok("vscode://vscode.github-authentication/did-authenticate"),
        RedirectKind::PrivateUse
    );
    assert_eq!(ok("com.example.app:/cb"), RedirectKind::PrivateUse);
    assert_eq!(
        ok("https://example.com/cb?tenant=a&x=%20y"),
        RedirectKind::Https
    );
}

#[test]
fn dangerous_schemes_are_refused() {
    for raw in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,hi",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "blob:https://example.com/uuid",
        "about:blank",
        "ftp://example.com/cb",
        "ws://localhost/cb",
        "wss://example.com/cb",
        "view-source:https://example.com",
    ] {
        let d = refused(raw);
        assert!(d.contains("not allowed"), "{raw}: {d}");
    }
}

#[test]
fn invalid_schemes_and_relative_uris_are_refused() {
    assert!(refused("/callback").contains("absolute"));
    assert!(refused("callback").contains("absolute"));
    assert!(refused("1app:/cb").contains("scheme"));
    assert!(refused("my_app:/cb").contains("scheme"));
    assert!(refused(":/cb").contains("scheme"));
    assert!(refused("cursor:").contains("nothing after"));
    assert!(refused("").contains("empty"));
}

#[test]
fn fragments_and_userinfo_are_refused() {
    assert!(refused("https://example.com/cb#frag").contains("fragment"));
    assert!(refused("https://example.com/cb#").contains("fragment"));
    assert!(refused("cursor://cb#x").contains("fragment"));
    assert!(refused("http://localhost@evil.com/cb").contains("userinfo"));
    assert!(refused("http://localhost:80@evil.com/").contains("userinfo"));
    assert!(refused("https://user:pw@example.com/cb").contains("userinfo"));
    assert!(refused("https://@example.com/cb").contains("userinfo"));
    assert!(refused("cursor://me@cb/x").contains("userinfo"));
}

#[test]
fn http_is_only_for_loopback() {
    for raw in [
        "http://example.com/cb",
        "http://127.0.0.1.evil.com/cb",
        "http://localhost.evil.com/cb",
        "http://evil.com/127.0.0.1",
        "http://127.1/cb",
        "http://2130706433/cb",
        "http://0x7f.0.0.1/cb",
        "http://127.0.0.2/cb",
        "http://[0:0:0:0:0:0:0:1]/cb",
        "http://localhost./cb",
        "http://127.0.0.1:0/cb",
        "http://127.0.0.1:/cb",
        "http:/127.0.0.1/cb",
        "http:127.0.0.1",
    ] {
        assert!(refused(raw).contains("loopback"), "{raw}");
    }
    refused("http://127.0.0.1:99999/cb");
}

#[test]
fn characters_outside_rfc3986_are_refused() {
    assert!(refused("https://example.com/a b").contains("U+0020"));
    assert!(refused(" https://example.com/cb").contains("U+0020"));
    assert!(refused("https://example.com/cb\n").contains("U+000A"));
    assert!(refused("https://example.com\\@evil.com/").contains("U+005C"));
    assert!(refused("https://exämple.com/cb").contains("U+00E4"));
    assert!(refused("https://example.com/<script>").contains("U+003C"));
    assert!(refused("https://example.com/%zz").contains("percent"));
    assert!(refused("https://example.com/%4").contains("percent"));
}

#[test]
fn huge_uris_are_refused() {
    let long = format!("https://example.com/{}", "a".repeat(MAX_LEN));
    assert!(refused(&long).contains("longer"));
    let fits = format!("https://example.com/{}", "a".repeat(MAX_LEN - 20));
    assert_eq!(fits.len(), MAX_LEN);
    ok(&fits);
}

#[test]
fn https_needs_a_host() {
    assert!(RedirectUri::for_registration("https:///cb").is_err());
    assert!(RedirectUri::for_registration("https://").is_err());
}

#[test]
fn exact_match_for_non_loopback() {
    let r = reg(&["https://claude.ai/api/mcp/auth_callback", "cursor://cb/x"]);
    assert_eq!(
        find_match(&r, "https://claude.ai/api/mcp/auth_callback"),
        Some(&r[0])
    );
    assert_eq!(find_match(&r, "cursor://cb/x"), Some(&r[1]));
    assert_eq!(
        find_match(&r, "https://claude.ai/api/mcp/auth_callback/"),
        None
    );
    assert_eq!(
        find_match(&r, "https://CLAUDE.ai/api/mcp/auth_callback"),
        None
    );
    assert_eq!(
        find_match(&r, "https://claude.ai:443/api/mcp/auth_callback"),
        None
    );
    assert_eq!(
        find_match(&r, "https://claude.ai:8443/api/mcp/auth_callback"),
        None
    );
    assert_eq!(
        find_match(&r, "https://claude.ai/api/mcp/auth_callback?x=1"),
        None
    );
    assert_eq!(
        find_match(&r, "https://claude.ai/api/mcp/auth_callback#x"),
        None
    );
    assert_eq!(find_match(&r, "cursor://cb/x/../y"), None);
    assert_eq!(find_match(&r, ""), None);
}

#[test]
fn loopback_port_may_differ() {
    let r = reg(&["http://127.0.0.1:6276/oauth/callback"]);
    assert_eq!(
        find_match(&r, "http://127.0.0.1:51234/oauth/callback"),
        Some(&r[0])
    );
    assert_eq!(
        find_match(&r, "http://127.0.0.1/oauth/callback"),
        Some(&r[0])
    );
    let no_port = reg(&["http://localhost/cb"]);
    assert_eq!(
        find_match(&no_port, "http://localhost:8080/cb"),
        Some(&no_port[0])
    );
    let v6 = reg(&["http://[::1]:1/cb?x=1"]);
    assert_eq!(find_match(&v6, "http://[::1]:65535/cb?x=1"), Some(&v6[0]));
    assert_eq!(find_match(&v6, "http://[::1]:65535/cb?x=2"), None);
}

#[test]
fn loopback_everything_but_the_port_must_match() {
    let r = reg(&["http://127.0.0.1:6276/oauth/callback"]);
    for bad in [
        "http://localhost:6276/oauth/callback",
        "http://[::1]:6276/oauth/callback",
        "https://127.0.0.1:6276/oauth/callback",
        "http://127.0.0.1:6276/oauth/callback/",
        "http://127.0.0.1:6276/oauth/callback?x=1",
        "http://127.0.0.1:6276/oauth/callback#x",
        "http://127.0.0.1:6276/oauth/other",
        "http://127.0.0.1.evil.com:6276/oauth/callback",
        "http://127.0.0.1@evil.com:6276/oauth/callback",
        "http://evil.com@127.0.0.1:6276/oauth/callback",
        "http://127.0.0.1:0/oauth/callback",
        "http://127.0.0.1:abc/oauth/callback",
        "http://127.0.0.1:65536/oauth/callback",
        "http://127.0.0.1:/oauth/callback",
        "http://127.0.0.1:6276:1/oauth/callback",
    ] {
        assert_eq!(find_match(&r, bad), None, "{bad}");
    }
}

#[test]
fn port_variance_never_applies_to_https_or_other_hosts() {
    let r = reg(&[
        "https://localhost:3000/cb",
        "https://example.com:3000/cb",
        "cursor://x:1/cb",
    ]);
    assert_eq!(find_match(&r, "https://localhost:3001/cb"), None);
    assert_eq!(find_match(&r, "https://example.com:3001/cb"), None);
    assert_eq!(find_match(&r, "cursor://x:2/cb"), None);
}

#[test]
fn resolve_keeps_the_requested_port() {
    let r = reg(&["http://127.0.0.1:6276/cb", "https://example.com/cb"]);
    assert_eq!(
        resolve(&r, "http://127.0.0.1:9999/cb").as_deref(),
        Some("http://127.0.0.1:9999/cb")
    );
    assert_eq!(
        resolve(&r, "http://127.0.0.1/cb").as_deref(),
        Some("http://127.0.0.1/cb")
    );
    assert_eq!(
        resolve(&r, "https://example.com/cb").as_deref(),
        Some("https://example.com/cb")
    );
    assert_eq!(resolve(&r, "https://example.com/cb2"), None);
    let upper = reg(&["http://LOCALHOST/cb"]);
    assert_eq!(
        resolve(&upper, "http://localhost:5/cb").as_deref(),
        Some("http://LOCALHOST:5/cb")
    );
}

#[test]
fn describe_value_is_safe_for_error_description() {
    assert_eq!(describe_value("abc"), "'abc'");
    assert_eq!(describe_value("a\"b\\c\u{e9}\n"), "'a?b?c??'");
    let long = describe_value(&"x".repeat(500));
    assert!(long.len() < 100 && long.ends_with("...'"));
}

#[test]
fn is_http_loopback_works_on_raw_strings() {
    assert!(is_http_loopback("http://127.0.0.1:1/x"));
    assert!(is_http_loopback("http://localhost"));
    assert!(!is_http_loopback("https://localhost/x"));
    assert!(!is_http_loopback("http://127.0.0.1.nip.io/x"));
}

#[test]
fn scheme_allow_list_refuses_unknown_schemes_naming_the_rule() {
    for raw in [
        "myapp://cb",
        "claude://callback",
        "windsurf://codeium.windsurf/cb",
        "intent://cb",
        "chrome-extension://abc/cb",
        "ms-settings:cb",
        "tel:123",
        "sms:123",
        "irc://example.com/cb",
        "gopher://example.com/cb",
        "ssh://example.com",
        "ldap://example.com",
        "market://details",
        "x-apple-data-detectors://0",
    ] {
        let d = refused(raw);
        assert!(d.contains("not allowed"), "{raw}: {d}");
        assert!(d.contains("reverse-DNS"), "{raw}: {d}");
        assert!(d.contains("cursor, vscode, vscode-insiders"), "{raw}: {d}");
    }
}

#[test]
fn reverse_dns_schemes_need_a_period_and_non_empty_labels() {
    assert_eq!(
        ok("com.example.app:/oauth2redirect"),
        RedirectKind::PrivateUse
    );
    assert_eq!(ok("com.example.app://cb"), RedirectKind::PrivateUse);
    assert_eq!(ok("COM.Example.App:/cb"), RedirectKind::PrivateUse);
    assert_eq!(ok("io.my-app+dev:/cb"), RedirectKind::PrivateUse);
    for raw in ["com..app:/cb", "com.:/cb", "com.example.:/cb"] {
        assert!(refused(raw).contains("not allowed"), "{raw}");
    }
    // A leading period is not even a scheme (RFC 3986 section 3.1: ALPHA first).
    assert!(refused(".com.app:/cb").contains("scheme"));
}

#[test]
fn known_client_schemes_are_accepted() {
    // COMPAT C20 (Cursor) and C11 (VS Code, stable and Insiders).
    assert_eq!(
        ok("cursor://anysphere.cursor-mcp/oauth/callback"),
        RedirectKind::PrivateUse
    );
    assert_eq!(
        ok("vscode-insiders://vscode.github-authentication/did-authenticate"),
        RedirectKind::PrivateUse
    );
    assert_eq!(ok("VSCode://cb"), RedirectKind::PrivateUse);
}

#[test]
fn extra_schemes_come_from_the_administrator() {
    let extra = vec!["windsurf".to_owned(), "myapp".to_owned()];
    let with = |raw: &str| RedirectUri::for_registration_with(raw, &extra);
    assert_eq!(
        with("windsurf://codeium.windsurf/cb")
            .map(|r| r.kind())
            .ok(),
        Some(RedirectKind::PrivateUse)
    );
    assert_eq!(
        with("MyApp://cb").map(|r| r.kind()).ok(),
        Some(RedirectKind::PrivateUse)
    );
    assert!(with("otherapp://cb").is_err());
    // The other rules still apply to an allowed scheme.
    for raw in ["myapp://me@cb", "myapp://cb#x", "myapp:", "myapp://cb/\\x"] {
        assert!(with(raw).is_err(), "{raw}");
    }
    // Dangerous schemes stay refused even if someone slipped them into the list.
    let bad = vec!["javascript".to_owned()];
    assert!(RedirectUri::for_registration_with("javascript://x/%0aalert(1)", &bad).is_err());
}
