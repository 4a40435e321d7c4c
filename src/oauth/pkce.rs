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
    // Decoding also refuses non-canonical trailing bits, so a challenge that could never
    // equal BASE64URL(SHA256(verifier)) is caught here rather than at /token.
    let digest_len = URL_SAFE_NO_PAD.decode(challenge).map(|d| d.len());
    if challenge.len() != CHALLENGE_LEN || digest_len.ok() != Some(32) {
        return bad(
            "code_challenge must be 43 base64url characters: BASE64URL(SHA256(code_verifier))",
        );
    }
    Ok(challenge.to_owned())
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
