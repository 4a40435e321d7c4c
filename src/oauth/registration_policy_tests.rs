use super::*;
use crate::config::HostPattern;

fn uri(raw: &str) -> RedirectUri {
    RedirectUri::for_registration(raw).unwrap()
}

fn policy(f: impl FnOnce(&mut RegistrationSettings)) -> RegistrationSettings {
    let mut r = RegistrationSettings::default();
    f(&mut r);
    r
}

#[test]
fn default_policy_accepts_what_the_built_in_rules_accept() {
    let r = RegistrationSettings::default();
    for u in [
        "https://claude.ai/api/mcp/auth_callback",
        "http://127.0.0.1:6276/cb",
        "http://localhost/cb",
        "cursor://anysphere.cursor-mcp/oauth/callback",
    ] {
        check_redirect(&r, &uri(u)).unwrap();
    }
}

#[test]
fn hosts_exact_and_subdomain_patterns() {
    let r = policy(|r| {
        r.allowed_redirect_hosts = vec!["claude.ai".into(), "*.corp.example".into()];
    });
    check_redirect(&r, &uri("https://claude.ai/cb")).unwrap();
    check_redirect(&r, &uri("https://CLAUDE.ai/cb")).unwrap();
    check_redirect(&r, &uri("https://a.corp.example/cb")).unwrap();
    check_redirect(&r, &uri("https://a.b.corp.example/cb")).unwrap();
    for bad in [
        "https://corp.example/cb",
        "https://evilcorp.example/cb",
        "https://claude.ai.evil.com/cb",
        "https://evil.com/claude.ai",
        "https://xclaude.ai/cb",
    ] {
        let e = check_redirect(&r, &uri(bad)).unwrap_err();
        assert_eq!(e.code(), "invalid_redirect_uri", "{bad}");
        assert!(
            e.description().unwrap().contains("allowed_redirect_hosts"),
            "{bad}: {e}"
        );
    }
    // Loopback and private-use URIs are not host-matched.
    check_redirect(&r, &uri("http://127.0.0.1:9/cb")).unwrap();
    check_redirect(&r, &uri("cursor://anysphere.cursor-mcp/cb")).unwrap();
}

#[test]
fn loopback_can_be_turned_off() {
    let r = policy(|r| r.allow_loopback_redirects = false);
    for u in [
        "http://127.0.0.1:1/cb",
        "http://[::1]:1/cb",
        "http://localhost/cb",
        "https://localhost/cb",
    ] {
        let e = check_redirect(&r, &uri(u)).unwrap_err();
        assert!(
            e.description()
                .unwrap()
                .contains("allow_loopback_redirects"),
            "{u}"
        );
    }
    check_redirect(&r, &uri("https://claude.ai/cb")).unwrap();
}

#[test]
fn schemes_narrow_the_built_in_list() {
    let r = policy(|r| r.allowed_redirect_schemes = vec!["https".into()]);
    check_redirect(&r, &uri("https://claude.ai/cb")).unwrap();
    for u in ["http://127.0.0.1:1/cb", "cursor://anysphere.cursor-mcp/cb"] {
        let e = check_redirect(&r, &uri(u)).unwrap_err();
        assert!(
            e.description()
                .unwrap()
                .contains("allowed_redirect_schemes"),
            "{u}"
        );
    }
}

#[test]
fn host_patterns_parse_strictly() {
    assert_eq!(
        HostPattern::parse("*.example.com").unwrap(),
        HostPattern::Subdomains("example.com".into())
    );
    for bad in [
        "",
        "*",
        "*.com",
        "Example.com",
        "https://a.com",
        "a.com:443",
        "a.com/x",
        "a..com",
        "*.*.a.com",
        "localhost",
        "127.0.0.1",
        "-a.com",
        "a b.com",
    ] {
        assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn lifetimes() {
    assert_eq!(parse_lifetime("30d"), Ok(30 * 86_400));
    assert_eq!(parse_lifetime("12h"), Ok(43_200));
    assert_eq!(parse_lifetime("45m"), Ok(2_700));
    assert_eq!(parse_lifetime("90s"), Ok(90));
    assert_eq!(parse_lifetime("3600"), Ok(3_600));
    for bad in ["", "d", "-1d", "1w", "1.5h", "99999999999999999999d", "1 d"] {
        assert!(parse_lifetime(bad).is_err(), "{bad:?}");
    }
    assert!(check_limits(Some(0), None).is_err());
    assert!(check_limits(None, Some(0)).is_err());
    assert!(check_limits(None, Some(MAX_TOKEN_LIFETIME + 1)).is_err());
    assert!(check_limits(Some(1), Some(60)).is_ok());
}

#[test]
fn gate_by_mode() {
    let ask = |bearer| Applicant {
        bearer,
        request_id: None,
    };
    gate(&RegistrationSettings::default(), ask(None)).unwrap();
    let closed = policy(|r| r.mode = Some(RegistrationMode::Closed));
    assert_eq!(
        gate(&closed, ask(Some("x"))).unwrap_err().code(),
        "access_denied"
    );
    let iat = policy(|r| r.mode = Some(RegistrationMode::InitialAccessToken));
    assert_eq!(gate(&iat, ask(None)).unwrap_err().code(), "invalid_token");
    assert_eq!(
        gate(&iat, ask(Some(""))).unwrap_err().code(),
        "invalid_token"
    );
    let long = "a".repeat(MAX_BEARER_LEN + 1);
    assert_eq!(
        gate(&iat, ask(Some(&long))).unwrap_err().code(),
        "invalid_token"
    );
    gate(&iat, ask(Some("dcrb_iat_x"))).unwrap();
}

#[test]
fn minted_tokens_are_stored_by_hash() {
    let (plain, rec) = mint_initial_token("ci", Some(2), Some(100), "cli", 10);
    assert!(plain.starts_with(INITIAL_TOKEN_PREFIX));
    assert_eq!(rec.token_hash, crypto::hash(&plain));
    assert!(rec.id.starts_with("iat_"));
    assert_eq!(rec.unusable(10), None);
    assert_eq!(rec.unusable(100), Some("expired"));
    let used = InitialAccessTokenRecord {
        uses: 2,
        ..rec.clone()
    };
    assert_eq!(used.unusable(10), Some("used_up"));
    let revoked = InitialAccessTokenRecord {
        revoked_at: Some(5),
        ..rec
    };
    assert_eq!(revoked.unusable(10), Some("revoked"));
}
