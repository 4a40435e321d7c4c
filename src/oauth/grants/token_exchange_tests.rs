#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::oauth::grants::fixture_tests::{settings, RESOURCE};
use crate::store::{ClientKind, ClientRecord};

const MCP_SERVER: &str = "mcp-server";

/// The fixture's `/mcp` resource with exchange enabled for [`MCP_SERVER`], and a second
/// resource `/docs` without.
fn enabled() -> Settings {
    let mut s = settings();
    s.resources[0].token_exchange_client = Some(MCP_SERVER.to_owned());
    let mut docs = s.resources[0].clone();
    docs.id = "docs".to_owned();
    docs.path = "/docs".to_owned();
    docs.uri = format!("{}/docs", s.issuer);
    docs.token_exchange_client = None;
    s.resources.push(docs);
    s
}

fn confidential_static(client_id: &str) -> ClientRecord {
    ClientRecord {
        kind: ClientKind::Static,
        secret_hash: Some("00".repeat(32)),
        token_endpoint_auth_method: "client_secret_basic".to_owned(),
        ..ClientRecord::test_public(client_id)
    }
}

fn request(subject_token: &str) -> ExchangeRequest<'_> {
    ExchangeRequest {
        subject_token: Some(subject_token),
        subject_token_type: Some(ACCESS_TOKEN_TYPE),
        ..ExchangeRequest::default()
    }
}

fn code(r: Result<&str>) -> &'static str {
    r.unwrap_err().code()
}

#[test]
fn only_the_confidential_static_client_a_resource_names_may_exchange() {
    let s = enabled();
    let r = exchange_resource(&s, &confidential_static(MCP_SERVER)).unwrap();
    assert_eq!(r.id, "mcp");
    let other = exchange_resource(&s, &confidential_static("someone-else")).unwrap_err();
    assert_eq!(other.code(), "unauthorized_client");
    // The same id as a public or dynamic client (never configured so, but never trusted).
    let public = ClientRecord {
        kind: ClientKind::Static,
        ..ClientRecord::test_public(MCP_SERVER)
    };
    assert_eq!(
        exchange_resource(&s, &public).unwrap_err().code(),
        "unauthorized_client"
    );
    let dynamic = ClientRecord {
        kind: ClientKind::Dcr,
        ..confidential_static(MCP_SERVER)
    };
    assert_eq!(
        exchange_resource(&s, &dynamic).unwrap_err().code(),
        "unauthorized_client"
    );
    // Nothing enabled at all.
    assert!(!settings().token_exchange_enabled());
    assert!(s.token_exchange_enabled());
}

#[test]
fn a_well_formed_request_yields_its_subject_token() {
    let s = enabled();
    let own = &s.resources[0];
    assert_eq!(check_request(&request("tok"), own, &s).unwrap(), "tok");
    let explicit = ExchangeRequest {
        requested_token_type: Some(ACCESS_TOKEN_TYPE),
        resource: vec![RESOURCE.to_owned()],
        audience: vec!["mcp".to_owned(), "HTTPS://Auth.Example.com/mcp".to_owned()],
        scope: Some(" "),
        ..request("tok")
    };
    assert_eq!(check_request(&explicit, own, &s).unwrap(), "tok");
}

#[test]
fn missing_or_unsupported_parameters_are_invalid_requests() {
    let s = enabled();
    let own = &s.resources[0];
    for req in [
        ExchangeRequest {
            subject_token: None,
            ..request("")
        },
        request(""),
        ExchangeRequest {
            subject_token_type: None,
            ..request("tok")
        },
        ExchangeRequest {
            subject_token_type: Some("urn:ietf:params:oauth:token-type:refresh_token"),
            ..request("tok")
        },
        ExchangeRequest {
            subject_token_type: Some("urn:ietf:params:oauth:token-type:id_token"),
            ..request("tok")
        },
        ExchangeRequest {
            requested_token_type: Some("urn:ietf:params:oauth:token-type:refresh_token"),
            ..request("tok")
        },
        ExchangeRequest {
            requested_token_type: Some("urn:ietf:params:oauth:token-type:jwt"),
            ..request("tok")
        },
        ExchangeRequest {
            actor_token: Some("actor"),
            actor_token_type: Some(ACCESS_TOKEN_TYPE),
            ..request("tok")
        },
    ] {
        assert_eq!(
            code(check_request(&req, own, &s)),
            "invalid_request",
            "{req:?}"
        );
    }
    let long = "a".repeat(MAX_SUBJECT_TOKEN + 1);
    let err = check_request(&request(&long), own, &s).unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("longer"), "{err}");
}

#[test]
fn a_scope_is_refused_because_the_upstream_token_cannot_be_narrowed() {
    let s = enabled();
    let req = ExchangeRequest {
        scope: Some("mcp:read"),
        ..request("tok")
    };
    let err = check_request(&req, &s.resources[0], &s).unwrap_err();
    assert_eq!(err.code(), "invalid_scope");
    assert!(err.to_string().contains("cannot be narrowed"), "{err}");
}

#[test]
fn a_target_other_than_the_clients_resource_is_refused() {
    let s = enabled();
    let own = &s.resources[0];
    let docs = ExchangeRequest {
        resource: vec![format!("{}/docs", s.issuer)],
        ..request("tok")
    };
    let err = check_request(&docs, own, &s).unwrap_err();
    assert_eq!(err.code(), "unauthorized_client");
    assert!(
        err.to_string().contains("not enabled for resource docs"),
        "{err}"
    );
    let by_id = ExchangeRequest {
        audience: vec!["docs".to_owned()],
        ..request("tok")
    };
    assert_eq!(code(check_request(&by_id, own, &s)), "unauthorized_client");
    for unknown in [
        "https://api.example.com/",
        "not a uri",
        "https://auth.example.com/mcp#x",
    ] {
        let req = ExchangeRequest {
            audience: vec![unknown.to_owned()],
            ..request("tok")
        };
        assert_eq!(
            code(check_request(&req, own, &s)),
            "invalid_target",
            "{unknown}"
        );
    }
}

#[test]
fn an_expired_upstream_token_is_never_handed_out() {
    assert_eq!(usable_for(Some(1100), true, 1000).unwrap(), Some(100));
    assert_eq!(usable_for(None, false, 1000).unwrap(), None);
    assert_eq!(
        usable_for(Some(1000), true, 1000).unwrap_err().code(),
        "temporarily_unavailable"
    );
    assert_eq!(
        usable_for(Some(999), false, 1000).unwrap_err().code(),
        "invalid_grant"
    );
}

#[test]
fn the_response_never_shows_the_token_in_debug_output() {
    let r = ExchangeResponse {
        access_token: "upstream-secret".to_owned(),
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: "Bearer",
        expires_in: Some(60),
    };
    assert!(!format!("{r:?}").contains("upstream-secret"));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(json["expires_in"], 60);
    let no_expiry = ExchangeResponse {
        expires_in: None,
        ..r
    };
    assert!(serde_json::to_value(&no_expiry)
        .unwrap()
        .get("expires_in")
        .is_none());
}
