#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::*;

#[test]
fn new_pkce_is_s256_of_a_fresh_verifier() {
    let (verifier, challenge) = new_pkce();
    assert!((43..=128).contains(&verifier.len()));
    assert_eq!(
        challenge,
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    );
    assert_ne!(new_pkce().0, verifier);
}

#[test]
fn tokens_round_trip_through_json_and_debug_hides_them() {
    let tokens = UpstreamTokens {
        access_token: SecretString::from("at-secret"),
        refresh_token: Some(SecretString::from("rt-secret")),
        id_token: None,
        expires_at: Some(1_700_000_000),
        scope: Some("openid email".to_owned()),
    };
    let json = tokens.to_json();
    let back = UpstreamTokens::from_json(&json).unwrap();
    assert_eq!(back.access_token.expose_secret(), "at-secret");
    assert_eq!(back.refresh_token.unwrap().expose_secret(), "rt-secret");
    assert!(back.id_token.is_none());
    assert_eq!(back.expires_at, Some(1_700_000_000));
    assert_eq!(back.scope.as_deref(), Some("openid email"));
    let debug = format!("{tokens:?}");
    assert!(!debug.contains("at-secret") && !debug.contains("rt-secret"));
}

#[test]
fn from_json_error_names_no_value() {
    let err = UpstreamTokens::from_json(r#"{"refresh_token":"rt-secret"}"#).unwrap_err();
    assert!(matches!(err, IdpError::Config(_)));
    assert!(!err.to_string().contains("rt-secret"));
}

#[test]
fn groups_claim_tolerates_odd_shapes() {
    let parse = |json: &str| serde_json::from_str::<ExtraClaims>(json).unwrap().groups;
    assert_eq!(parse(r#"{"groups":["a","b"]}"#), ["a", "b"]);
    assert_eq!(parse(r#"{"groups":"solo"}"#), ["solo"]);
    assert!(parse("{}").is_empty());
    assert!(parse(r#"{"groups":null}"#).is_empty());
    assert!(parse(r#"{"groups":{"_claim_names":1}}"#).is_empty());
    assert_eq!(parse(r#"{"groups":["a",7]}"#), ["a"]);
}

fn metadata() -> serde_json::Value {
    serde_json::json!({
        "issuer": "https://idp.example.com",
        "authorization_endpoint": "https://idp.example.com/authorize",
        "token_endpoint": "https://idp.example.com/token",
        "jwks_uri": "https://idp.example.com/jwks",
        "response_types_supported": ["code", "id_token"],
        "scopes_supported": ["openid", "email"],
    })
}

#[test]
fn check_summary_reports_and_warns() {
    let scopes = ["openid".to_owned(), "groups".to_owned()];
    let s = check_summary(
        "corp",
        &metadata(),
        &["RS256".to_owned()],
        "client_secret_post",
        &scopes,
        0,
    )
    .unwrap();
    assert_eq!(s["issuer"], "https://idp.example.com");
    assert_eq!(s["id_token_signing_algs"], serde_json::json!(["RS256"]));
    let warnings = s["warnings"].to_string();
    assert!(
        warnings.contains("does not list client_secret_post"),
        "{warnings}"
    );
    assert!(warnings.contains("scope groups"), "{warnings}");
    assert!(warnings.contains("no keys"), "{warnings}");
    // Absent auth methods mean client_secret_basic (RFC 8414 §2); absent PKCE list is no warning.
    let s = check_summary(
        "corp",
        &metadata(),
        &["RS256".to_owned()],
        "client_secret_basic",
        &scopes[..1],
        1,
    )
    .unwrap();
    assert_eq!(s["warnings"], serde_json::json!([]));
}

#[test]
fn check_summary_refuses_unusable_metadata() {
    let algs = ["RS256".to_owned()];
    let mut md = metadata();
    md["response_types_supported"] = serde_json::json!(["id_token"]);
    assert!(matches!(
        check_summary("c", &md, &algs, "client_secret_basic", &[], 1),
        Err(IdpError::Discovery(_))
    ));
    let mut md = metadata();
    md["token_endpoint"] = serde_json::Value::Null;
    assert!(matches!(
        check_summary("c", &md, &algs, "client_secret_basic", &[], 1),
        Err(IdpError::Discovery(_))
    ));
    assert!(matches!(
        check_summary("c", &metadata(), &[], "client_secret_basic", &[], 1),
        Err(IdpError::Config(_))
    ));
}

#[test]
fn rejected_error_displays_code_and_description() {
    let e = IdpError::Rejected {
        error: "invalid_grant".into(),
        description: Some("expired".into()),
    };
    assert_eq!(
        e.to_string(),
        "upstream rejected the request: invalid_grant (expired)"
    );
    assert!(!e.is_transient());
    assert!(IdpError::Unavailable("x".into()).is_transient());
}
