use std::io::Write as _;

use super::*;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub(super) fn toml(extra: &str) -> String {
    format!(
        r#"
public_url = "https://auth.example.com"
secret_key = "{KEY}"
{extra}
[[upstreams]]
id = "corp"
issuer = "https://corp.okta.com/oauth2/default"
client_id = "abc"
client_secret = "s3cret"

[[resources]]
id = "tools"
path = "/mcp"
scopes = ["mcp"]
"#
    )
}

pub(super) fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    Config::load_from(
        Some(f.path()),
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
}

#[test]
fn loads_the_documented_example() {
    let c = load(&toml(""), &[]).unwrap();
    assert_eq!(c.issuer(), "https://auth.example.com");
    assert_eq!(c.callback_url(), "https://auth.example.com/oauth/callback");
    assert_eq!(c.listen.port(), 8080);
    assert_eq!(c.database_url, "sqlite://dcr-bridge.db");
    assert_eq!(c.upstreams[0].scopes, upstreams::default_upstream_scopes());
}

#[test]
fn unknown_key_is_named() {
    let err = load(&toml("listn = \"0.0.0.0:1\""), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("listn"), "{err}");
}

#[test]
fn env_overrides_file_and_nests() {
    let c = load(
        &toml(""),
        &[
            ("DCR_BRIDGE_LISTEN", "127.0.0.1:9999"),
            ("DCR_BRIDGE_TOKENS__ACCESS_TOKEN_TTL", "120"),
            ("DCR_BRIDGE_TEST_POSTGRES_URL", "ignored"),
            ("OTHER", "x"),
        ],
    )
    .unwrap();
    assert_eq!(c.listen.port(), 9999);
    assert_eq!(c.tokens.access_token_ttl, 120);
}

#[test]
fn unknown_env_key_is_an_error() {
    let err = load(&toml(""), &[("DCR_BRIDGE_LISTN", "x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("listn"), "{err}");
}

#[test]
fn secret_from_file() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
    let c = load(
        &toml(""),
        &[("DCR_BRIDGE_SECRET_KEY_FILE", f.path().to_str().unwrap())],
    )
    .unwrap();
    assert_eq!(c.secret_key_bytes().unwrap(), [1u8; 32]);
}

#[test]
fn debug_never_shows_secrets() {
    let c = load(&toml(""), &[]).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("s3cret") && !dbg.contains(KEY), "{dbg}");
}

#[test]
fn rejects_bad_values() {
    let cases = [
        (
            toml("").replace("https://auth.example.com\"", "https://auth.example.com/\""),
            None,
        ),
        (
            toml("").replace("https://auth.example.com\"", "https://auth.example.com/x\""),
            Some("public_url"),
        ),
        (
            toml("").replace("https://auth.example.com\"", "http://auth.example.com\""),
            Some("public_url"),
        ),
        (toml("").replace(KEY, "c2hvcnQ="), Some("secret_key")),
        (
            toml("").replace("\"/mcp\"", "\"mcp\""),
            Some("resources[0].path"),
        ),
        (
            toml("").replace("\"/mcp\"", "\"/token\""),
            Some("resources[0].path"),
        ),
        (
            toml("").replace("\"/mcp\"", "\"/register/x\""),
            Some("resources[0].path"),
        ),
        (
            toml("").replace("[\"mcp\"]", "[\"a b\"]"),
            Some("resources[0].scopes"),
        ),
        (
            toml("").replace("client_secret = \"s3cret\"", ""),
            Some("upstreams[0].client_secret"),
        ),
    ];
    for (text, key) in cases {
        match key {
            None => assert!(load(&text, &[]).is_ok()),
            Some(k) => {
                let err = load(&text, &[]).unwrap_err().to_string();
                assert!(err.contains(k), "{k}: {err}");
            }
        }
    }
}

#[test]
fn insecure_http_only_on_loopback() {
    let text = toml("allow_insecure_http = true")
        .replace("https://auth.example.com", "http://127.0.0.1:8080")
        .replace("https://corp.okta.com", "http://localhost:4000");
    assert!(load(&text, &[]).is_ok());
    let text =
        toml("allow_insecure_http = true").replace("https://auth.example.com", "http://10.0.0.1");
    assert!(load(&text, &[])
        .unwrap_err()
        .to_string()
        .contains("loopback"));
}

#[test]
fn expiry_and_rate_limit_defaults_and_overrides() {
    let c = load(&toml(""), &[]).unwrap();
    assert_eq!(c.registration.unused_client_ttl_days, 90);
    assert_eq!(
        c.registration.unused_client_ttl_seconds(),
        Some(90 * 86_400)
    );
    let r = &c.rate_limit;
    assert!(r.enabled && r.client_ip_header.is_none());
    assert_eq!((r.register_per_minute, r.token_per_minute), (20, 600));

    let c = load(
        &toml("[rate_limit]\nregister_per_minute = 3\nclient_ip_header = \"forwarded\"\n"),
        &[
            ("DCR_BRIDGE_REGISTRATION__UNUSED_CLIENT_TTL_DAYS", "0"),
            ("DCR_BRIDGE_RATE_LIMIT__TOKEN_PER_MINUTE", "60"),
        ],
    )
    .unwrap();
    assert_eq!(
        c.registration.unused_client_ttl_seconds(),
        None,
        "0 = never"
    );
    let r = &c.rate_limit;
    assert_eq!(r.client_ip_header, Some(ClientIpHeader::Forwarded));
    assert_eq!((r.register_per_minute, r.token_per_minute), (3, 60));

    for (extra, key) in [
        (
            "[registration]\nunused_client_ttl_days = -1\n",
            "registration.unused_client_ttl_days",
        ),
        (
            "[rate_limit]\nregister_per_minute = 0\n",
            "rate_limit.register_per_minute",
        ),
        ("[rate_limit]\nburst = 5\n", "burst"),
    ] {
        let err = load(&toml(extra), &[]).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

/// Issue 11, finding 10: `trust_forwarded_for = true` read X-Forwarded-For even behind a proxy
/// that writes only `Forwarded`; it is refused with the key that replaces it.
#[test]
fn client_ip_header_replaces_trust_forwarded_for() {
    for (value, header) in [
        ("x-forwarded-for", ClientIpHeader::XForwardedFor),
        ("forwarded", ClientIpHeader::Forwarded),
        ("x-real-ip", ClientIpHeader::XRealIp),
    ] {
        let c = load(
            &toml(&format!("[rate_limit]\nclient_ip_header = \"{value}\"\n")),
            &[],
        )
        .unwrap();
        assert_eq!(c.rate_limit.client_ip_header, Some(header));
    }
    let c = load(
        &toml(""),
        &[("DCR_BRIDGE_RATE_LIMIT__CLIENT_IP_HEADER", "x-real-ip")],
    )
    .unwrap();
    assert_eq!(c.rate_limit.client_ip_header, Some(ClientIpHeader::XRealIp));
    let err = load(&toml("[rate_limit]\ntrust_forwarded_for = true\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rate_limit.trust_forwarded_for") && err.contains("client_ip_header"),
        "{err}"
    );
    let c = load(&toml("[rate_limit]\ntrust_forwarded_for = false\n"), &[]).unwrap();
    assert!(c.rate_limit.client_ip_header.is_none());
    let err = load(
        &toml("[rate_limit]\nclient_ip_header = \"x-client-ip\"\n"),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("client_ip_header") || err.contains("x-client-ip"),
        "{err}"
    );
}

#[test]
fn audit_retention_defaults_overrides_and_limits() {
    let c = load(&toml(""), &[]).unwrap();
    assert_eq!(c.audit.retention_days, 365);
    assert_eq!(c.audit.retention_seconds(), Some(365 * 86_400));
    let c = load(&toml("[audit]\nretention_days = 30\n"), &[]).unwrap();
    assert_eq!(c.audit.retention_seconds(), Some(30 * 86_400));
    let c = load(&toml(""), &[("DCR_BRIDGE_AUDIT__RETENTION_DAYS", "0")]).unwrap();
    assert_eq!(c.audit.retention_seconds(), None, "0 = keep forever");
    for (extra, key) in [
        ("[audit]\nretention_days = -1\n", "audit.retention_days"),
        ("[audit]\nretention_days = 36501\n", "audit.retention_days"),
        ("[audit]\nretention = 30\n", "retention"),
    ] {
        let err = load(&toml(extra), &[]).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn metrics_section_defaults_overrides_and_unknown_keys() {
    let c = load(&toml(""), &[]).unwrap();
    assert!(c.metrics.enabled && !c.metrics.public);
    let c = load(&toml("[metrics]\nenabled = false\n"), &[]).unwrap();
    assert!(!c.metrics.enabled);
    let c = load(&toml(""), &[("DCR_BRIDGE_METRICS__PUBLIC", "true")]).unwrap();
    assert!(c.metrics.public);
    let err = load(&toml("[metrics]\nport = 9090\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("port"), "{err}");
    let err = load(
        &toml("[[resources]]\nid = \"m\"\npath = \"/metrics\"\nscopes = [\"x\"]\n"),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("/metrics"),
        "a resource cannot take /metrics: {err}"
    );
}

#[test]
fn extra_redirect_uri_schemes_are_checked_at_load() {
    let c = load(
        &toml("[registration]\nredirect_uri_schemes = [\"windsurf\", \"my-app+x\"]\n"),
        &[],
    )
    .unwrap();
    assert_eq!(
        c.registration.redirect_uri_schemes,
        ["windsurf", "my-app+x"]
    );
    for (bad, says) in [
        ("\"Windsurf\"", "lowercase"),
        ("\"windsurf:\"", "RFC 3986"),
        ("\"\"", "RFC 3986"),
        ("\"1app\"", "RFC 3986"),
        ("\"javascript\"", "never redirect targets"),
        ("\"data\"", "never redirect targets"),
        ("\"http\"", "own rules"),
        ("\"https\"", "own rules"),
    ] {
        let err = load(
            &toml(&format!("[registration]\nredirect_uri_schemes = [{bad}]\n")),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("registration.redirect_uri_schemes[0]") && err.contains(says),
            "{bad}: {err}"
        );
    }
}

#[test]
fn client_rules_are_read_and_checked() {
    let c = load(
        &toml(
            "[[client_rules]]\nmatch = { redirect_host = \"claude.ai\" }\nsend_iss = false\naccess_token_ttl = 86400\n\n[[client_rules]]\nmatch = { software_id = \"x\", cimd_domain = \"app.example.com\" }\nsend_iss = true\n",
        ),
        &[],
    )
    .unwrap();
    assert_eq!(c.client_rules.len(), 2);
    assert_eq!(
        c.client_rules[0].matches.redirect_host.as_deref(),
        Some("claude.ai")
    );
    assert_eq!(c.client_rules[0].send_iss, Some(false));
    assert_eq!(c.client_rules[0].access_token_ttl, Some(86_400));
    assert_eq!(
        c.client_rules[1].matches.cimd_domain.as_deref(),
        Some("app.example.com")
    );
    assert_eq!(c.client_rules[1].access_token_ttl, None);

    for (rule, key, says) in [
        (
            "match = {}\nsend_iss = false",
            "client_rules[0].match",
            "at least one",
        ),
        (
            "match = { redirect_host = \"claude.ai\" }",
            "client_rules[0].match",
            "changes nothing",
        ),
        (
            "match = { redirect_host = \"https://claude.ai\" }\nsend_iss = false",
            "match.redirect_host",
            "host name",
        ),
        (
            "match = { redirect_host = \"Claude.ai\" }\nsend_iss = false",
            "match.redirect_host",
            "lowercase",
        ),
        (
            "match = { redirect_host = \"claude.ai:443\" }\nsend_iss = false",
            "match.redirect_host",
            "port",
        ),
        (
            "match = { cimd_domain = \"a..b\" }\nsend_iss = false",
            "match.cimd_domain",
            "host name",
        ),
        (
            "match = { software_id = \"\" }\nsend_iss = false",
            "match.software_id",
            "1-255",
        ),
        (
            "match = { redirect_host = \"claude.ai\" }\naccess_token_ttl = 0",
            "access_token_ttl",
            "session_max_age",
        ),
        (
            "match = { redirect_host = \"claude.ai\" }\naccess_token_ttl = 99999999",
            "access_token_ttl",
            "session_max_age",
        ),
        (
            "match = { redirect_host = \"claude.ai\", client_name = \"x\" }\nsend_iss = false",
            "client_name",
            "",
        ),
        (
            "match = { redirect_host = \"claude.ai\" }\nsend_iss = false\nttl = 5",
            "ttl",
            "",
        ),
    ] {
        let err = load(&toml(&format!("[[client_rules]]\n{rule}\n")), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains(says), "{rule}: {err}");
    }
}

#[test]
fn client_rules_can_be_overridden_from_the_environment() {
    let c = load(
        &toml("[[client_rules]]\nmatch = { redirect_host = \"claude.ai\" }\nsend_iss = false\n"),
        &[
            ("DCR_BRIDGE_CLIENT_RULES__0__ACCESS_TOKEN_TTL", "7200"),
            (
                "DCR_BRIDGE_CLIENT_RULES__0__MATCH__REDIRECT_HOST",
                "claude.com",
            ),
        ],
    )
    .unwrap();
    let r = &c.client_rules[0];
    assert_eq!(r.matches.redirect_host.as_deref(), Some("claude.com"));
    assert_eq!((r.send_iss, r.access_token_ttl), (Some(false), Some(7200)));
    let c = load(
        &toml(""),
        &[(
            "DCR_BRIDGE_CLIENT_RULES",
            "[{match = {software_id = \"x\"}, access_token_ttl = 60}]",
        )],
    )
    .unwrap();
    assert_eq!(c.client_rules[0].matches.software_id.as_deref(), Some("x"));
}

#[test]
fn database_and_key_reload_settings_defaults_and_limits() {
    let c = load(&toml(""), &[]).unwrap();
    assert_eq!(c.database.max_connections, 16);
    assert_eq!(c.database.acquire_timeout_seconds, 5);
    assert_eq!(c.tokens.signing_key_reload_seconds, 60);
    assert_eq!(c.tokens.signing_key_publish_seconds(), 120);
    let c = load(
        &toml(
            "[database]\nmax_connections = 4\nacquire_timeout_seconds = 2\n[tokens]\nsigning_key_reload_seconds = 5\n",
        ),
        &[],
    )
    .unwrap();
    assert_eq!(
        c.database.pool(),
        crate::store::PoolOptions {
            max_connections: 4,
            acquire_timeout: std::time::Duration::from_secs(2),
        }
    );
    assert_eq!(c.tokens.signing_key_publish_seconds(), 10);
    for (bad, key) in [
        (
            "[database]\nmax_connections = 0",
            "database.max_connections",
        ),
        (
            "[database]\nmax_connections = 1001",
            "database.max_connections",
        ),
        (
            "[database]\nacquire_timeout_seconds = 0",
            "database.acquire_timeout_seconds",
        ),
        (
            "[database]\nacquire_timeout_seconds = 121",
            "database.acquire_timeout_seconds",
        ),
        (
            "[database]\nacquire_timeout_seconds = -1",
            "acquire_timeout_seconds",
        ),
        ("[database]\npool = 3", "pool"),
        (
            "[tokens]\nsigning_key_reload_seconds = 0",
            "tokens.signing_key_reload_seconds",
        ),
        (
            "[tokens]\nsigning_key_reload_seconds = 3601",
            "tokens.signing_key_reload_seconds",
        ),
    ] {
        let err = load(&toml(&format!("{bad}\n")), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{bad}: {err}");
    }
}

#[test]
fn cimd_stale_if_error_default_override_and_limit() {
    let c = load(&toml(""), &[]).unwrap();
    assert_eq!(c.cimd.stale_if_error_seconds, 86_400);
    let c = load(&toml("[cimd]\nstale_if_error_seconds = 0\n"), &[]).unwrap();
    assert_eq!(c.cimd.stale_if_error_seconds, 0);
    let e = load(&toml("[cimd]\nstale_if_error_seconds = 604801\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("cimd.stale_if_error_seconds"), "{e}");
    assert!(
        load(&toml("[cimd]\nstale_if_error_seconds = -1\n"), &[]).is_err(),
        "negative"
    );
}

#[test]
fn upstream_kinds_with_only_issuer_client_and_secret() {
    for (kind, issuer, want) in [
        ("okta", "https://corp.okta.com", "https://corp.okta.com/"),
        (
            "entra",
            "https://login.microsoftonline.com/organizations/v2.0",
            "https://login.microsoftonline.com/organizations/v2.0",
        ),
        (
            "google",
            "https://accounts.google.com",
            "https://accounts.google.com/",
        ),
        // Google's legacy spelling without scheme, and only Google's.
        (
            "google",
            "accounts.google.com",
            "https://accounts.google.com/",
        ),
    ] {
        let text = toml("")
            .replace("https://corp.okta.com/oauth2/default", issuer)
            .replace(
                "id = \"corp\"",
                &format!("id = \"corp\"\nkind = \"{kind}\""),
            );
        let c = load(&text, &[]).unwrap_or_else(|e| panic!("{kind} {issuer}: {e}"));
        assert_eq!(c.upstreams[0].kind.as_str(), kind);
        assert_eq!(c.upstreams[0].issuer.as_ref().unwrap().as_str(), want);
    }
    let text = toml("").replace("https://corp.okta.com/oauth2/default", "corp.okta.com");
    assert!(load(&text, &[]).is_err(), "other issuers need their scheme");
    let text = toml("")
        .replace("kind", "x")
        .replace("id = \"corp\"", "id = \"corp\"\nkind = \"keycloak\"");
    assert!(load(&text, &[]).unwrap_err().to_string().contains("kind"));
}

#[test]
fn allowed_tenants_are_entra_only_and_lowercase_guids() {
    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let entra = |tenants: &str| {
        toml("")
            .replace(
                "https://corp.okta.com/oauth2/default",
                "https://login.microsoftonline.com/common/v2.0",
            )
            .replace(
                "client_secret = \"s3cret\"",
                &format!("client_secret = \"s3cret\"\nkind = \"entra\"\npolicy = {{ allowed_tenants = {tenants} }}"),
            )
    };
    let c = load(&entra(&format!("[\"{TID}\"]")), &[]).unwrap();
    assert_eq!(c.upstreams[0].policy.allowed_tenants, [TID]);
    for bad in [
        "[\"72F988BF-86F1-41AF-91AB-2D7CD011DB47\"]",
        "[\"contoso.onmicrosoft.com\"]",
        "[\"{72f988bf-86f1-41af-91ab-2d7cd011db47}\"]",
        "[\"\"]",
    ] {
        let err = load(&entra(bad), &[]).unwrap_err().to_string();
        assert!(
            err.contains("upstreams[0].policy.allowed_tenants"),
            "{bad}: {err}"
        );
    }
    let okta = toml("").replace(
        "client_secret = \"s3cret\"",
        &format!("client_secret = \"s3cret\"\npolicy = {{ allowed_tenants = [\"{TID}\"] }}"),
    );
    let err = load(&okta, &[]).unwrap_err().to_string();
    assert!(err.contains("entra"), "{err}");
}
