#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::config::{RegistrationSettings, TokenSettings};

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ISSUER: &str = "https://auth.example.com";

fn resource(id: &str, path: &str) -> Resource {
    Resource {
        id: id.to_owned(),
        path: path.to_owned(),
        uri: format!("{ISSUER}{path}"),
        scopes: vec!["mcp:read".to_owned(), "mcp:write".to_owned()],
        upstreams: vec!["okta".to_owned()],
        access: Default::default(),
        token_exchange_client: None,
    }
}

fn settings(resources: Vec<Resource>) -> Settings {
    Settings {
        issuer: ISSUER.to_owned(),
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

fn one() -> Settings {
    settings(vec![resource("tools", "/mcp")])
}

fn client(uris: &[&str]) -> ClientRecord {
    ClientRecord {
        redirect_uris: uris.iter().map(|s| (*s).to_owned()).collect(),
        upstream_id: "okta".to_owned(),
        ..ClientRecord::test_public("dcrb_c_abc")
    }
}

fn params() -> AuthorizeParams {
    AuthorizeParams {
        response_type: Some("code".to_owned()),
        client_id: Some("dcrb_c_abc".to_owned()),
        redirect_uri: Some("http://127.0.0.1:6276/cb".to_owned()),
        state: Some("xyz".to_owned()),
        code_challenge: Some(CHALLENGE.to_owned()),
        code_challenge_method: Some("S256".to_owned()),
        resource: vec![format!("{ISSUER}/mcp")],
        ..AuthorizeParams::default()
    }
}

fn run(p: AuthorizeParams) -> Result<ValidAuthorize, AuthorizeError> {
    validate_authorize(p, Some(client(&["http://127.0.0.1:6276/cb"])), &one())
}

fn page(r: Result<ValidAuthorize, AuthorizeError>) -> Error {
    match r {
        Err(AuthorizeError::Page(e)) => e,
        other => panic!("expected an error page, got {other:?}"),
    }
}

/// An error answered to the client: at once (static) or through the user (dcr, cimd).
fn redirected(r: Result<ValidAuthorize, AuthorizeError>) -> (String, Option<String>, Error) {
    match r {
        Err(
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
                ..
            }
            | AuthorizeError::Inform {
                redirect_uri,
                state,
                error,
                ..
            },
        ) => (redirect_uri, state, error),
        other => panic!("expected an error for the client, got {other:?}"),
    }
}

#[test]
fn valid_request() {
    let v = run(params()).unwrap();
    assert_eq!(v.redirect_uri, "http://127.0.0.1:6276/cb");
    assert_eq!(v.state.as_deref(), Some("xyz"));
    assert_eq!(v.scope.to_string(), "mcp:read mcp:write");
    assert_eq!(v.resource.id, "tools");
    assert_eq!(v.code_challenge, CHALLENGE);
    assert_eq!(v.client.client_id, "dcrb_c_abc");
}

#[test]
fn loopback_port_variance_keeps_the_requested_port() {
    let p = AuthorizeParams {
        redirect_uri: Some("http://127.0.0.1:50123/cb".to_owned()),
        ..params()
    };
    assert_eq!(run(p).unwrap().redirect_uri, "http://127.0.0.1:50123/cb");
}

#[test]
fn client_problems_are_shown_on_a_page() {
    let p = AuthorizeParams {
        client_id: None,
        ..params()
    };
    assert_eq!(page(run(p)).code(), "invalid_request");
    let p = AuthorizeParams {
        client_id: Some(String::new()),
        ..params()
    };
    assert_eq!(page(run(p)).code(), "invalid_request");
    let p = AuthorizeParams {
        duplicated: vec!["client_id".to_owned()],
        ..params()
    };
    assert_eq!(page(run(p)).code(), "invalid_request");
    // COMPAT C12: unknown client → invalid_client so that the client re-registers.
    let e = page(validate_authorize(params(), None, &one()));
    assert_eq!(
        (e.code(), e.description()),
        ("invalid_client", Some("unknown client"))
    );
    let mut disabled = client(&["http://127.0.0.1:6276/cb"]);
    disabled.disabled = true;
    assert_eq!(
        page(validate_authorize(params(), Some(disabled), &one())).code(),
        "invalid_client"
    );
    let mut other = client(&["http://127.0.0.1:6276/cb"]);
    other.client_id = "dcrb_c_other".to_owned();
    assert_eq!(
        page(validate_authorize(params(), Some(other), &one())).code(),
        "invalid_client"
    );
}

#[test]
fn redirect_uri_problems_are_shown_on_a_page_even_with_other_errors() {
    for uri in [
        "https://evil.example/cb",
        "http://127.0.0.1:6276/cb/",
        "http://localhost:6276/cb",
        "http://127.0.0.1.evil.com:6276/cb",
        "http://127.0.0.1:6276@evil.com/cb",
        "http://127.0.0.1:6276/cb#x",
        "javascript:alert(1)",
    ] {
        let p = AuthorizeParams {
            redirect_uri: Some(uri.to_owned()),
            response_type: Some("token".to_owned()),
            code_challenge: None,
            ..params()
        };
        assert_eq!(page(run(p)).code(), "invalid_request", "{uri}");
    }
    let p = AuthorizeParams {
        duplicated: vec!["redirect_uri".to_owned()],
        ..params()
    };
    assert_eq!(page(run(p)).code(), "invalid_request");
}

#[test]
fn missing_redirect_uri_defaults_only_to_a_single_registration() {
    let p = AuthorizeParams {
        redirect_uri: None,
        ..params()
    };
    assert_eq!(run(p).unwrap().redirect_uri, "http://127.0.0.1:6276/cb");
    let two = client(&["http://127.0.0.1:6276/cb", "cursor://cb"]);
    let p = AuthorizeParams {
        redirect_uri: Some(String::new()),
        ..params()
    };
    assert_eq!(
        page(validate_authorize(p, Some(two), &one())).code(),
        "invalid_request"
    );
}

#[test]
fn response_type_errors_are_redirected_with_state() {
    let p = AuthorizeParams {
        response_type: Some("token".to_owned()),
        ..params()
    };
    let (uri, state, e) = redirected(run(p));
    assert_eq!(
        (uri.as_str(), state.as_deref(), e.code()),
        (
            "http://127.0.0.1:6276/cb",
            Some("xyz"),
            "unsupported_response_type"
        )
    );
    let p = AuthorizeParams {
        response_type: None,
        ..params()
    };
    assert_eq!(redirected(run(p)).2.code(), "invalid_request");
}

#[test]
fn duplicated_parameters_except_resource() {
    let p = AuthorizeParams {
        duplicated: vec!["scope".to_owned(), "state".to_owned()],
        ..params()
    };
    let e = redirected(run(p)).2;
    assert!(e.description().unwrap().contains("'scope', 'state'"));
    let p = AuthorizeParams {
        duplicated: vec!["resource".to_owned()],
        resource: vec![format!("{ISSUER}/mcp"), format!("{ISSUER}/mcp/")],
        ..params()
    };
    assert!(run(p).is_ok());
}

#[test]
fn request_objects_are_refused() {
    let p = AuthorizeParams {
        request: Some("eyJ.x.y".to_owned()),
        ..params()
    };
    assert_eq!(redirected(run(p)).2.code(), "invalid_request");
    let p = AuthorizeParams {
        request_uri: Some("urn:x".to_owned()),
        ..params()
    };
    assert_eq!(redirected(run(p)).2.code(), "invalid_request");
}

#[test]
fn pkce_is_required_and_s256_only() {
    let p = AuthorizeParams {
        code_challenge: None,
        ..params()
    };
    assert!(redirected(run(p))
        .2
        .description()
        .unwrap()
        .contains("code_challenge is required"));
    let p = AuthorizeParams {
        code_challenge_method: Some("plain".to_owned()),
        ..params()
    };
    assert!(redirected(run(p))
        .2
        .description()
        .unwrap()
        .contains("plain"));
    let p = AuthorizeParams {
        code_challenge_method: None,
        ..params()
    };
    assert_eq!(redirected(run(p)).2.code(), "invalid_request");
}

#[test]
fn resource_and_scope_errors_are_redirected() {
    let p = AuthorizeParams {
        resource: vec!["https://evil.example/mcp".to_owned()],
        ..params()
    };
    assert_eq!(redirected(run(p)).2.code(), "invalid_target");
    let p = AuthorizeParams {
        scope: Some("admin".to_owned()),
        ..params()
    };
    assert_eq!(redirected(run(p)).2.code(), "invalid_scope");
    let two = settings(vec![resource("tools", "/mcp"), resource("docs", "/docs")]);
    let p = AuthorizeParams {
        resource: vec![],
        ..params()
    };
    let e = redirected(validate_authorize(
        p,
        Some(client(&["http://127.0.0.1:6276/cb"])),
        &two,
    ))
    .2;
    assert_eq!(e.code(), "invalid_target");
    let p = AuthorizeParams {
        resource: vec![],
        scope: Some("mcp:read offline_access".to_owned()),
        ..params()
    };
    assert_eq!(run(p).unwrap().scope.to_string(), "mcp:read offline_access");
}

#[test]
fn client_without_code_grant_is_unauthorized() {
    let mut c = client(&["http://127.0.0.1:6276/cb"]);
    c.grant_types = vec!["refresh_token".to_owned()];
    assert_eq!(
        redirected(validate_authorize(params(), Some(c), &one()))
            .2
            .code(),
        "unauthorized_client"
    );
}

#[test]
fn overlong_state_is_refused_without_echoing_it() {
    let p = AuthorizeParams {
        state: Some("s".repeat(MAX_STATE_LEN + 1)),
        ..params()
    };
    let (_, state, e) = redirected(run(p));
    assert_eq!((state, e.code()), (None, "invalid_request"));
    let p = AuthorizeParams {
        state: Some("s".repeat(MAX_STATE_LEN)),
        ..params()
    };
    assert!(run(p).is_ok());
    let p = AuthorizeParams {
        state: Some(String::new()),
        ..params()
    };
    assert_eq!(run(p).unwrap().state, None);
}

#[test]
fn prompt_none_cannot_be_combined() {
    let p = AuthorizeParams {
        prompt: Some("none consent".to_owned()),
        ..params()
    };
    assert_eq!(redirected(run(p)).2.code(), "invalid_request");
    let p = AuthorizeParams {
        prompt: Some("consent".to_owned()),
        ..params()
    };
    assert_eq!(run(p).unwrap().prompt.as_deref(), Some("consent"));
}

#[test]
fn error_redirect_url_keeps_query_and_adds_iss() {
    let e = Error::InvalidScope("scope 'x' & more".to_owned());
    assert_eq!(
        error_redirect_url("https://app.example/cb?tenant=a", &e, Some("st ate&="), Some(ISSUER)),
        "https://app.example/cb?tenant=a&error=invalid_scope&error_description=scope+%27x%27+%26+more&state=st+ate%26%3D&iss=https%3A%2F%2Fauth.example.com"
    );
    assert_eq!(
        error_redirect_url(
            "cursor://cb",
            &Error::AccessDenied("no".to_owned()),
            None,
            Some(ISSUER)
        ),
        "cursor://cb?error=access_denied&error_description=no&iss=https%3A%2F%2Fauth.example.com"
    );
    let server = Error::server(anyhow::anyhow!("db password is hunter2"));
    let url = error_redirect_url("http://127.0.0.1:1/cb?", &server, Some(""), Some(ISSUER));
    assert_eq!(
        url,
        "http://127.0.0.1:1/cb?error=server_error&iss=https%3A%2F%2Fauth.example.com"
    );
}

#[test]
fn code_redirect_url_format() {
    assert_eq!(
        code_redirect_url(
            "http://127.0.0.1:5/cb",
            "dcrb_ac_x",
            Some("s1"),
            Some(ISSUER)
        ),
        "http://127.0.0.1:5/cb?code=dcrb_ac_x&state=s1&iss=https%3A%2F%2Fauth.example.com"
    );
    assert_eq!(
        code_redirect_url("https://a.example/cb?x=1&", "c", None, Some(ISSUER)),
        "https://a.example/cb?x=1&code=c&iss=https%3A%2F%2Fauth.example.com"
    );
    assert_eq!(
        code_redirect_url("https://a.example/cb#frag", "c", None, Some(ISSUER)),
        "https://a.example/cb?code=c&iss=https%3A%2F%2Fauth.example.com"
    );
}

/// Every error the RFC would redirect before the user has seen our consent page (finding 1).
fn early_errors() -> Vec<(&'static str, AuthorizeParams)> {
    let base = params;
    vec![
        (
            "missing response_type",
            AuthorizeParams {
                response_type: None,
                ..base()
            },
        ),
        (
            "unsupported response_type",
            AuthorizeParams {
                response_type: Some("x".to_owned()),
                ..base()
            },
        ),
        (
            "prompt=none",
            AuthorizeParams {
                prompt: Some("none".to_owned()),
                ..base()
            },
        ),
        (
            "plain PKCE",
            AuthorizeParams {
                code_challenge_method: Some("plain".to_owned()),
                ..base()
            },
        ),
        (
            "missing PKCE",
            AuthorizeParams {
                code_challenge: None,
                ..base()
            },
        ),
        (
            "unknown scope",
            AuthorizeParams {
                scope: Some("admin".to_owned()),
                ..base()
            },
        ),
        (
            "unknown resource",
            AuthorizeParams {
                resource: vec!["https://evil.example/mcp".to_owned()],
                ..base()
            },
        ),
        (
            "duplicated parameter",
            AuthorizeParams {
                duplicated: vec!["scope".to_owned()],
                ..base()
            },
        ),
        (
            "request object",
            AuthorizeParams {
                request_uri: Some("https://evil.example/req".to_owned()),
                ..base()
            },
        ),
        (
            "overlong state",
            AuthorizeParams {
                state: Some("s".repeat(MAX_STATE_LEN + 1)),
                ..base()
            },
        ),
    ]
}

#[test]
fn unvetted_clients_get_no_redirect_before_the_user_acted() {
    for kind in [ClientKind::Dcr, ClientKind::Cimd] {
        for (case, p) in early_errors() {
            let c = ClientRecord {
                kind,
                ..client(&["http://127.0.0.1:6276/cb"])
            };
            match validate_authorize(p, Some(c), &one()) {
                Err(AuthorizeError::Inform { redirect_uri, .. }) => {
                    assert_eq!(redirect_uri, "http://127.0.0.1:6276/cb", "{case}");
                }
                other => panic!("{kind:?} {case}: expected Inform, got {other:?}"),
            }
        }
    }
}

#[test]
fn static_clients_keep_the_rfc_6749_error_redirect() {
    for (case, p) in early_errors() {
        let c = ClientRecord {
            kind: ClientKind::Static,
            ..client(&["http://127.0.0.1:6276/cb"])
        };
        assert!(
            matches!(
                validate_authorize(p, Some(c), &one()),
                Err(AuthorizeError::Redirect { .. })
            ),
            "{case}"
        );
    }
    assert!(redirects_before_interaction(ClientKind::Static));
    assert!(!redirects_before_interaction(ClientKind::Dcr));
    assert!(!redirects_before_interaction(ClientKind::Cimd));
}

#[test]
fn prompt_none_alone_needs_interaction() {
    let p = AuthorizeParams {
        prompt: Some("none".to_owned()),
        ..params()
    };
    let (_, state, e) = redirected(run(p));
    assert_eq!(
        (state.as_deref(), e.code()),
        (Some("xyz"), "interaction_required")
    );
}

/// Two resources on two upstreams: `tools` signs in at okta, `hr` at entra.
fn two_upstreams() -> Settings {
    settings(vec![
        resource("tools", "/mcp"),
        Resource {
            upstreams: vec!["entra".to_owned()],
            ..resource("hr", "/hr")
        },
    ])
}

#[test]
fn a_static_client_reaches_only_its_upstreams_resources() {
    let okta_static = ClientRecord {
        kind: ClientKind::Static,
        ..client(&["http://127.0.0.1:6276/cb"])
    };
    // Its own upstream's resource: allowed, and the sign-in goes to that upstream.
    let v = validate_authorize(params(), Some(okta_static.clone()), &two_upstreams()).unwrap();
    assert_eq!(v.upstream.decided(), Some("okta"));
    // Another upstream's resource: refused, never signed in at okta under okta's policy.
    let p = AuthorizeParams {
        resource: vec![format!("{ISSUER}/hr")],
        ..params()
    };
    let (_, _, e) = redirected(validate_authorize(p, Some(okta_static), &two_upstreams()));
    assert_eq!(e.code(), "invalid_target");
    // The same resource for a client bound to entra: allowed, signed in at entra.
    let entra_static = ClientRecord {
        kind: ClientKind::Static,
        upstream_id: "entra".to_owned(),
        ..client(&["http://127.0.0.1:6276/cb"])
    };
    let p = AuthorizeParams {
        resource: vec![format!("{ISSUER}/hr")],
        ..params()
    };
    let v = validate_authorize(p, Some(entra_static), &two_upstreams()).unwrap();
    assert_eq!(v.upstream.decided(), Some("entra"));
}

#[test]
fn unmapped_dynamic_clients_sign_in_at_the_resources_upstream() {
    let p = AuthorizeParams {
        resource: vec![format!("{ISSUER}/hr")],
        ..params()
    };
    let unmapped = ClientRecord {
        upstream_id: String::new(),
        ..client(&["http://127.0.0.1:6276/cb"])
    };
    let v = validate_authorize(p, Some(unmapped), &two_upstreams()).unwrap();
    assert_eq!(v.upstream.decided(), Some("entra"));
}

#[test]
fn a_dynamic_client_mapped_elsewhere_is_refused_with_invalid_target() {
    // Mapped to okta (a client rule at registration): hr accepts only entra.
    let p = AuthorizeParams {
        resource: vec![format!("{ISSUER}/hr")],
        ..params()
    };
    let (_, _, e) = redirected(validate_authorize(
        p,
        Some(client(&["http://127.0.0.1:6276/cb"])),
        &two_upstreams(),
    ));
    assert_eq!(e.code(), "invalid_target");
    assert!(e.description().unwrap().contains("okta"), "{e:?}");
}

#[test]
fn login_hint_is_bounded_and_printable() {
    for bad in ["a".repeat(513), "alice@acme.com\r\nX: y".to_owned()] {
        let p = AuthorizeParams {
            login_hint: Some(bad.clone()),
            ..params()
        };
        let (_, _, e) = redirected(run(p));
        assert_eq!(e.code(), "invalid_request", "{bad:?}");
    }
    let p = AuthorizeParams {
        login_hint: Some("alice@acme.com".to_owned()),
        ..params()
    };
    assert_eq!(
        run(p).unwrap().login_hint.as_deref(),
        Some("alice@acme.com")
    );
}

#[test]
fn error_redirect_description_stays_in_the_rfc_character_set() {
    let e =
        Error::AccessDenied("bad \"quote\" \\ §3.1 \u{e9}t\u{e9}\r\nX-Injected: 1\u{0}".to_owned());
    let url = error_redirect_url("https://app.example/cb", &e, None, Some(ISSUER));
    let d = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "error_description")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(d, "bad 'quote' / section 3.1 ?t? X-Injected: 1");
}

/// COMPAT C9: a client rule may turn `iss` off; the rest of the response is unchanged.
#[test]
fn response_urls_without_iss() {
    assert_eq!(
        code_redirect_url("http://127.0.0.1:5/cb", "c", Some("s1"), None),
        "http://127.0.0.1:5/cb?code=c&state=s1"
    );
    let e = Error::AccessDenied("no".into());
    let url = error_redirect_url(
        "https://claude.ai/api/mcp/auth_callback",
        &e,
        Some("s"),
        None,
    );
    assert!(!url.contains("iss="), "{url}");
    assert!(url.starts_with("https://claude.ai/api/mcp/auth_callback?error=access_denied"));
}
