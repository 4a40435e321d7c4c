//! The secrets of the authorization flow that live between requests: the upstream leg's PKCE
//! verifier and nonce (sealed into the pending request) and the MAC that remembers a consent in
//! one browser.

use serde::{Deserialize, Serialize};

use crate::oauth::crypto::Cipher;
use crate::store::AuthRequestRecord;

/// The upstream leg's secrets, sealed into the pending request.
#[derive(Serialize, Deserialize)]
pub struct UpstreamSecrets {
    /// Our PKCE verifier for the upstream.
    pub pkce_verifier: String,
    /// The nonce the upstream ID token must carry.
    pub nonce: String,
}

/// Associated data binding sealed upstream secrets to one pending request, so a sealed value
/// cannot be replayed into another request's row.
#[must_use]
pub fn secrets_aad(id_hash: &str) -> Vec<u8> {
    format!("auth_request:{id_hash}").into_bytes()
}

/// The MAC that remembers an approval of this request's client, redirect URI, scope and
/// resource in the browser whose binding value is `browser`: a changed redirect URI, scope or
/// resource asks again.
#[must_use]
pub fn consent_mac(cipher: &Cipher, browser: &str, r: &AuthRequestRecord) -> String {
    cipher.mac(
        "remembered-consent v1",
        &[
            browser,
            &r.client_id,
            &r.redirect_uri,
            &r.scope,
            &r.resource,
        ],
    )
}
