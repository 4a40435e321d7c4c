//! PKCE (RFC 7636), S256 only: checking the challenge at /authorize and the verifier at /token.
//! OAuth 2.1 §4.1.1 and the MCP spec require S256; `plain` offers nothing against a leaked code
//! and is refused (RFC 9700 §2.1.1).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::crypto::ct_eq;
use super::error::Error;

/// Length of BASE64URL(SHA-256(…)) without padding.
pub const CHALLENGE_LEN: usize = 43;
/// RFC 7636 §4.1: `code_verifier = 43*128unreserved`.
pub const VERIFIER_MIN: usize = 43;
/// RFC 7636 §4.1.
pub const VERIFIER_MAX: usize = 128;

/// Checks the `code_challenge` and `code_challenge_method` of an authorization request and
/// returns the challenge to store.
///
/// # Errors
/// `invalid_request` (RFC 7636 §4.4.1) when the challenge is missing, the method is not `S256`
/// (a missing method means `plain`, RFC 7636 §4.3), or the challenge is not the 43-character
/// base64url encoding of a SHA-256 digest.
pub fn check_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<String, Error> {
    let bad = |m: &str| Err(Error::InvalidRequest(m.to_owned()));
    let Some(challenge) = challenge.filter(|c| !c.is_empty()) else {
        return bad("code_challenge is required (PKCE S256)");
    };
    match method {
        Some("S256") => {}
        Some("plain") => return bad("PKCE method plain is not supported; use S256"),
        None | Some("") => {
            return bad(
                "code_challenge_method is required and must be S256 (without it the method is plain, which is not supported)",
            )
        }
        Some(_) => return bad("unsupported code_challenge_method; use S256"),
    }
    if let Some(problem) = challenge_problem(challenge) {
        return Err(Error::InvalidRequest(problem));
    }
    Ok(challenge.to_owned())
}

/// What is wrong with an S256 `code_challenge`, said so that whoever computed it by hand can
/// fix it (issue 11 #13: a bare "must be 43 base64url characters" hid the real cause). The
/// text stays within RFC 6749 §5.2's `error_description` characters, so it quotes the input
/// only where it is known to be plain base64url.
fn challenge_problem(challenge: &str) -> Option<String> {
    const HOW: &str =
        "compute it as BASE64URL(SHA256(code_verifier)) without padding (RFC 7636 section 4.2)";
    if challenge.ends_with('=') {
        return Some(format!(
            "code_challenge ends in = padding, which RFC 7636 Appendix B leaves out: drop it; {HOW}"
        ));
    }
    if challenge.contains(['+', '/']) {
        return Some(format!(
            "code_challenge uses + or / of standard base64: use the base64url alphabet (- for +, _ for /); {HOW}"
        ));
    }
    if let Some(pos) = challenge
        .chars()
        .position(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Some(format!(
            "code_challenge character {} is not base64url (A-Z a-z 0-9 - _); {HOW}",
            pos + 1
        ));
    }
    if challenge.len() != CHALLENGE_LEN {
        return Some(format!(
            "code_challenge has {} characters, an S256 challenge has exactly {CHALLENGE_LEN}; {HOW}",
            challenge.len()
        ));
    }
    // 43 characters carry 258 bits for a 256-bit digest: the last one's two low bits must be
    // zero. Refusing here catches a challenge no verifier could ever match before /token.
    if URL_SAFE_NO_PAD.decode(challenge).map(|d| d.len()).ok() != Some(32) {
        let last = challenge.chars().last().unwrap_or('?');
        return Some(format!(
            "code_challenge ends in {last}, which no SHA-256 digest encodes to (the 43rd character is one of A E I M Q U Y c g k o s w 0 4 8); {HOW}"
        ));
    }
    None
}

/// Whether `verifier` is well-formed (RFC 7636 §4.1) and `BASE64URL(SHA256(verifier))` equals
/// `challenge` (§4.6), compared in constant time.
#[must_use]
pub fn verify(verifier: &str, challenge: &str) -> bool {
    let well_formed = (VERIFIER_MIN..=VERIFIER_MAX).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    ct_eq(computed.as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
#[path = "pkce_tests.rs"]
mod tests;
