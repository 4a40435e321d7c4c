#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn basic(raw: &str) -> String {
    format!("Basic {}", STANDARD.encode(raw))
}

fn client(method: &str, secret: Option<&str>) -> ClientRecord {
    ClientRecord {
        secret_hash: secret.map(crypto::hash),
        token_endpoint_auth_method: method.to_owned(),
        ..ClientRecord::test_public("dcrb_c_abc")
    }
}

fn is_invalid_client(e: &Error, want_basic: bool) -> bool {
    matches!(e, Error::InvalidClient { basic, .. } if *basic == want_basic)
}

#[test]
fn body_only_public_and_post() {
    let c = from_parts(None, Some("id1"), None).unwrap();
    assert_eq!(
        c,
        ClientCredentials::None {
            client_id: "id1".to_owned()
        }
    );
    assert_eq!(c.method(), "none");
    let c = from_parts(None, Some("id1"), Some("s")).unwrap();
    assert_eq!(c.method(), "client_secret_post");
    assert_eq!(c.client_id(), "id1");
    // An empty client_secret is what some public clients send.
    assert_eq!(
        from_parts(None, Some("id1"), Some("")).unwrap().method(),
        "none"
    );
}

#[test]
fn missing_client_id_is_invalid_client() {
    assert!(is_invalid_client(
        &from_parts(None, None, None).unwrap_err(),
        false
    ));
    assert!(is_invalid_client(
        &from_parts(None, Some(""), None).unwrap_err(),
        false
    ));
    assert!(is_invalid_client(
        &from_parts(None, None, Some("s")).unwrap_err(),
        false
    ));
}

#[test]
fn basic_is_parsed_with_case_insensitive_scheme() {
    for h in [
        basic("id:secret"),
        basic("id:secret").replace("Basic", "basic"),
        basic("id:secret").replace("Basic", "BASIC"),
    ] {
        let c = from_parts(Some(&h), None, None).unwrap();
        assert_eq!(
            c,
            ClientCredentials::Basic {
                client_id: "id".to_owned(),
                client_secret: "secret".to_owned(),
                raw_secret: None,
            }
        );
        assert!(c.is_basic());
    }
}

#[test]
fn basic_secret_may_contain_colons_and_encoded_chars() {
    let c = from_parts(Some(&basic("id:se:cr:et")), None, None).unwrap();
    assert_eq!(c.secret(), Some("se:cr:et"));
    let c = from_parts(Some(&basic("my%3Aid:p%40ss+word%25")), None, None).unwrap();
    assert_eq!(c.client_id(), "my:id");
    assert_eq!(c.secret(), Some("p@ss word%"));
    let c = from_parts(
        Some(&basic("https%3A%2F%2Fapp.example%2Fclient.json:")),
        None,
        None,
    )
    .unwrap();
    assert_eq!(c.client_id(), "https://app.example/client.json");
    assert_eq!(c.secret(), Some(""));
    // A stray '%' from a client that skipped the encoding is kept.
    assert_eq!(
        from_parts(Some(&basic("id:100%")), None, None)
            .unwrap()
            .secret(),
        Some("100%")
    );
    let c = from_parts(Some(&basic("id:s\u{e9}cret")), None, None).unwrap();
    assert_eq!(c.secret(), Some("s\u{e9}cret"));
}

#[test]
fn credentials_without_the_scheme_are_accepted() {
    // http::form::authorization() hands over only what follows "Basic ".
    let token = STANDARD.encode("id:secret");
    let c = ClientCredentials::from_parts(Some(&token), Some("id"), None).unwrap();
    assert_eq!(c.client_id(), "id");
    assert_eq!(c.secret(), Some("secret"));
}

#[test]
fn basic_without_padding_is_accepted() {
    let h = format!("Basic {}", STANDARD_NO_PAD.encode("id:secret1"));
    assert_eq!(from_parts(Some(&h), None, None).unwrap().client_id(), "id");
}

#[test]
fn malformed_basic_is_invalid_client_with_challenge() {
    let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, b':', 0xfe]));
    let bad_utf8_escape = basic("%ff:x");
    for h in [
        "Basic".to_owned(),
        "Basic ".to_owned(),
        "Basic !!!".to_owned(),
        "bAsIc".to_owned(),
        "!!!".to_owned(),
        basic("no-colon"),
        basic(":secret"),
        not_utf8,
        bad_utf8_escape,
        "Bearer abc".to_owned(),
        "Digest x".to_owned(),
        String::new(),
    ] {
        let e = from_parts(Some(&h), None, None).unwrap_err();
        assert!(is_invalid_client(&e, true), "{h}: {e}");
    }
}

#[test]
fn basic_plus_body_secret_is_invalid_request() {
    let e = from_parts(Some(&basic("id:s")), Some("id"), Some("s")).unwrap_err();
    assert_eq!(e.code(), "invalid_request");
}

#[test]
fn basic_plus_same_body_client_id_is_fine_but_different_is_not() {
    // The Python SDK sends client_id in the body next to Basic.
    assert!(from_parts(Some(&basic("id:s")), Some("id"), None)
        .unwrap()
        .is_basic());
    let e = from_parts(Some(&basic("id:s")), Some("other"), None).unwrap_err();
    assert!(is_invalid_client(&e, true));
    let c = from_parts(Some(&basic("my%3Aid:s")), Some("my:id"), None).unwrap();
    assert_eq!(c.client_id(), "my:id");
}

#[test]
fn debug_never_shows_the_secret() {
    let c = from_parts(Some(&basic("id:topsecret")), None, None).unwrap();
    let d = format!("{c:?}");
    assert!(
        d.contains("client_secret_basic") && !d.contains("topsecret"),
        "{d}"
    );
}

fn creds(method: &str, id: &str, secret: &str) -> ClientCredentials {
    let (client_id, client_secret) = (id.to_owned(), secret.to_owned());
    match method {
        "none" => ClientCredentials::None { client_id },
        "post" => ClientCredentials::Post {
            client_id,
            client_secret,
        },
        _ => ClientCredentials::Basic {
            client_id,
            client_secret,
            raw_secret: None,
        },
    }
}

#[test]
fn authenticate_public_client() {
    let c = client("none", None);
    assert!(authenticate(Some(&c), &creds("none", "dcrb_c_abc", "")).is_ok());
    let e = authenticate(Some(&c), &creds("post", "dcrb_c_abc", "x")).unwrap_err();
    assert!(is_invalid_client(&e, false) && e.description().unwrap().contains("public"));
    assert!(is_invalid_client(
        &authenticate(Some(&c), &creds("basic", "dcrb_c_abc", "x")).unwrap_err(),
        true
    ));
}

#[test]
fn authenticate_confidential_clients() {
    let post = client("client_secret_post", Some("dcrb_cs_right"));
    assert!(authenticate(Some(&post), &creds("post", "dcrb_c_abc", "dcrb_cs_right")).is_ok());
    assert!(is_invalid_client(
        &authenticate(Some(&post), &creds("post", "dcrb_c_abc", "dcrb_cs_wrong")).unwrap_err(),
        false
    ));
    assert!(is_invalid_client(
        &authenticate(Some(&post), &creds("none", "dcrb_c_abc", "")).unwrap_err(),
        false
    ));
    assert!(is_invalid_client(
        &authenticate(Some(&post), &creds("basic", "dcrb_c_abc", "dcrb_cs_right")).unwrap_err(),
        true
    ));

    let basic = client("client_secret_basic", Some("dcrb_cs_right"));
    assert!(authenticate(Some(&basic), &creds("basic", "dcrb_c_abc", "dcrb_cs_right")).is_ok());
    let e = authenticate(Some(&basic), &creds("basic", "dcrb_c_abc", "dcrb_cs_righ")).unwrap_err();
    assert!(is_invalid_client(&e, true));
    assert_eq!(e.description(), Some("client authentication failed"));
    assert!(is_invalid_client(
        &authenticate(Some(&basic), &creds("basic", "dcrb_c_abc", "")).unwrap_err(),
        true
    ));
}

#[test]
fn confidential_client_without_stored_hash_never_authenticates() {
    let broken = client("client_secret_post", None);
    assert!(authenticate(Some(&broken), &creds("post", "dcrb_c_abc", "")).is_err());
    assert!(authenticate(Some(&broken), &creds("post", "dcrb_c_abc", "anything")).is_err());
}

#[test]
fn stored_hash_is_not_accepted_as_the_secret() {
    let c = client("client_secret_post", Some("dcrb_cs_right"));
    let hash = crypto::hash("dcrb_cs_right");
    assert!(authenticate(Some(&c), &creds("post", "dcrb_c_abc", &hash)).is_err());
}

#[test]
fn unknown_disabled_or_mismatched_client_is_unknown() {
    let e = authenticate(None, &creds("basic", "x", "y")).unwrap_err();
    assert!(is_invalid_client(&e, true));
    assert_eq!(e.description(), Some("unknown client"));
    let mut disabled = client("none", None);
    disabled.disabled = true;
    let e = authenticate(Some(&disabled), &creds("none", "dcrb_c_abc", "")).unwrap_err();
    assert_eq!(e.description(), Some("unknown client"));
    let other = client("none", None);
    let e = authenticate(Some(&other), &creds("none", "dcrb_c_other", "")).unwrap_err();
    assert_eq!(e.description(), Some("unknown client"));
}

/// Issue 11, finding 8: a secret from `openssl rand -base64 32` (with `+`, `/`, `=`) sent raw in
/// Basic (RFC 7617) used to be form-decoded (`+` became a space) and never matched.
#[test]
fn basic_secret_is_accepted_raw_and_form_encoded() {
    let secret = "q+3/Xk9=ab+cd/ef%2B0=";
    let c = client("client_secret_basic", Some(secret));
    let raw = from_parts(Some(&basic(&format!("dcrb_c_abc:{secret}"))), None, None).unwrap();
    authenticate(Some(&c), &raw).unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let form = from_parts(Some(&basic(&format!("dcrb_c_abc:{encoded}"))), None, None).unwrap();
    authenticate(Some(&c), &form).unwrap();
    // A secret with a bare '%' that does not decode is still a valid raw secret.
    let odd = client("client_secret_basic", Some("a%zz+b"));
    let creds = from_parts(Some(&basic("dcrb_c_abc:a%zz+b")), None, None).unwrap();
    authenticate(Some(&odd), &creds).unwrap();
    // Neither reading of a wrong secret passes, and the error is not "unknown client".
    let wrong = from_parts(Some(&basic("dcrb_c_abc:q 3/Xk9=")), None, None).unwrap();
    let e = authenticate(Some(&c), &wrong).unwrap_err();
    assert!(is_invalid_client(&e, true));
    assert_eq!(e.description(), Some("client authentication failed"));
}

#[test]
fn basic_credentials_keep_both_readings_and_hide_the_secret() {
    let b = BasicCredentials::parse(&basic("my%3Aid:a+b%2Fc=")).unwrap();
    assert_eq!(b.id, "my:id");
    assert_eq!(b.raw_secret, "a+b%2Fc=");
    assert_eq!(b.decoded_secret, "a b/c=");
    assert!(b.secret_matches(|s| s == "a+b%2Fc="));
    assert!(b.secret_matches(|s| s == "a b/c="));
    assert!(!b.secret_matches(|s| s == "a+b/c="));
    assert!(!format!("{b:?}").contains("a+b"));
}
