#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

/// RFC 7636 Appendix B.
const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn desc(r: Result<String, Error>) -> String {
    let e = r.unwrap_err();
    assert_eq!(e.code(), "invalid_request");
    e.description().unwrap().to_owned()
}

#[test]
fn s256_challenge_is_accepted() {
    assert_eq!(
        check_challenge(Some(RFC_CHALLENGE), Some("S256")).unwrap(),
        RFC_CHALLENGE
    );
}

#[test]
fn missing_challenge_is_refused() {
    assert_eq!(
        desc(check_challenge(None, Some("S256"))),
        "code_challenge is required (PKCE S256)"
    );
    assert_eq!(
        desc(check_challenge(Some(""), Some("S256"))),
        "code_challenge is required (PKCE S256)"
    );
    assert_eq!(
        desc(check_challenge(None, None)),
        "code_challenge is required (PKCE S256)"
    );
}

#[test]
fn plain_is_refused_explicit_or_implied() {
    assert_eq!(
        desc(check_challenge(Some(RFC_CHALLENGE), Some("plain"))),
        "PKCE method plain is not supported; use S256"
    );
    assert!(desc(check_challenge(Some(RFC_CHALLENGE), None)).contains("plain"));
    assert!(desc(check_challenge(Some(RFC_CHALLENGE), Some(""))).contains("S256"));
}

#[test]
fn other_methods_and_wrong_case_are_refused() {
    for m in ["s256", "SHA256", "S512", "S256 ", "none"] {
        assert!(
            desc(check_challenge(Some(RFC_CHALLENGE), Some(m))).contains("S256"),
            "{m}"
        );
    }
}

/// Issue 11 #13: each malformed challenge is told what is wrong with it, once, in characters
/// RFC 6749 §5.2 allows in `error_description`.
#[test]
fn malformed_challenges_are_told_what_is_wrong() {
    let how =
        "compute it as BASE64URL(SHA256(code_verifier)) without padding (RFC 7636 section 4.2)";
    let c44 = format!("{RFC_CHALLENGE}A");
    let padded = format!("{RFC_CHALLENGE}=");
    let std_alphabet = RFC_CHALLENGE.replace('-', "+");
    let with_space = format!("{} ", &RFC_CHALLENGE[..42]);
    let unicode = format!("{}\u{e9}", &RFC_CHALLENGE[..41]);
    let huge = "A".repeat(10_000);
    // 'N' differs from the canonical 'M' only in bits that a 32-byte digest cannot set: a
    // hand-made 43-character challenge fails like this three times out of four.
    let noncanonical = format!("{}N", &RFC_CHALLENGE[..42]);
    let cases: [(&str, String); 8] = [
        (&RFC_CHALLENGE[..42], format!("code_challenge has 42 characters, an S256 challenge has exactly 43; {how}")),
        (&c44, format!("code_challenge has 44 characters, an S256 challenge has exactly 43; {how}")),
        (&huge, format!("code_challenge has 10000 characters, an S256 challenge has exactly 43; {how}")),
        (&padded, format!("code_challenge ends in = padding, which RFC 7636 Appendix B leaves out: drop it; {how}")),
        (&std_alphabet, format!("code_challenge uses + or / of standard base64: use the base64url alphabet (- for +, _ for /); {how}")),
        (&with_space, format!("code_challenge character 43 is not base64url (A-Z a-z 0-9 - _); {how}")),
        (&unicode, format!("code_challenge character 42 is not base64url (A-Z a-z 0-9 - _); {how}")),
        (&noncanonical, format!("code_challenge ends in N, which no SHA-256 digest encodes to (the 43rd character is one of A E I M Q U Y c g k o s w 0 4 8); {how}")),
    ];
    for (challenge, expected) in cases {
        let got = desc(check_challenge(Some(challenge), Some("S256")));
        assert_eq!(got, expected);
        assert!(
            got.bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
            "outside RFC 6749 section 5.2: {got}"
        );
    }
}

#[test]
fn verify_rfc7636_appendix_b() {
    assert!(verify(RFC_VERIFIER, RFC_CHALLENGE));
    assert!(!verify(RFC_VERIFIER, &RFC_CHALLENGE.replace('M', "N")));
    assert!(!verify(&RFC_VERIFIER.replace('d', "e"), RFC_CHALLENGE));
}

#[test]
fn plain_downgrade_does_not_verify() {
    // A verifier equal to the challenge is what `plain` would accept.
    assert!(!verify(RFC_CHALLENGE, RFC_CHALLENGE));
}

#[test]
fn verifier_length_and_charset() {
    let challenge_for = |v: &str| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
    let v43 = "a".repeat(43);
    let v128 = "-._~".repeat(32);
    assert!(verify(&v43, &challenge_for(&v43)));
    assert!(verify(&v128, &challenge_for(&v128)));
    for bad in [
        "a".repeat(42),
        "a".repeat(129),
        format!("{}+", "a".repeat(42)),
        format!("{} ", "a".repeat(42)),
        format!("{}é", "a".repeat(42)),
        String::new(),
    ] {
        assert!(!verify(&bad, &challenge_for(&bad)), "{bad:?}");
    }
}

#[test]
fn verify_with_empty_or_wrong_length_challenge() {
    assert!(!verify(RFC_VERIFIER, ""));
    assert!(!verify(RFC_VERIFIER, &RFC_CHALLENGE[..42]));
}
