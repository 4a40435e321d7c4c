//! The secrets of the authorization flow that live between requests: the upstream leg's PKCE
//! verifier and nonce (sealed into the pending request) and the MAC that remembers a consent in
//! one browser.

use serde::{Deserialize, Serialize};

use crate::oauth::crypto::{self, Cipher};
use crate::store::{AuthRequestRecord, ClientRecord};

/// The upstream leg's secrets, sealed into the pending request.
#[derive(Serialize, Deserialize)]
pub struct UpstreamSecrets {
    /// Our PKCE verifier for the upstream.
    pub pkce_verifier: String,
    /// The nonce the upstream ID token must carry.
    pub nonce: String,
}

/// A fresh upstream leg: its `state` (and hash), nonce and PKCE challenge, with the verifier and
/// nonce sealed for the pending request.
pub struct FreshLeg {
    pub state: String,
    pub state_hash: String,
    pub nonce: String,
    pub pkce_challenge: String,
    /// [`UpstreamSecrets`], sealed with the associated data the caller chose.
    pub sealed: String,
}

impl FreshLeg {
    /// The upstream authorization request of this leg.
    #[must_use]
    pub fn request(
        &self,
        force_login: bool,
        login_hint: Option<String>,
    ) -> crate::idp::UpstreamAuthRequest {
        crate::idp::UpstreamAuthRequest {
            state: self.state.clone(),
            nonce: self.nonce.clone(),
            pkce_challenge: self.pkce_challenge.clone(),
            force_login,
            login_hint,
        }
    }
}

/// Generates an upstream leg; `aad` gets the state's hash and returns the associated data to
/// seal its secrets with.
///
/// # Errors
/// Sealing failure (internal).
pub fn fresh_leg(
    cipher: &Cipher,
    aad: impl FnOnce(&str) -> Vec<u8>,
) -> Result<FreshLeg, crate::oauth::Error> {
    use crate::oauth::Error;
    let state = crypto::random_b64(32);
    let nonce = crypto::random_b64(32);
    let (pkce_verifier, pkce_challenge) = crate::idp::new_pkce();
    let state_hash = crypto::hash(&state);
    let secrets = UpstreamSecrets {
        pkce_verifier,
        nonce: nonce.clone(),
    };
    let plain = serde_json::to_vec(&secrets).map_err(Error::server)?;
    let sealed = cipher
        .seal(&plain, &aad(&state_hash))
        .map_err(Error::server)?;
    Ok(FreshLeg {
        state,
        state_hash,
        nonce,
        pkce_challenge,
        sealed,
    })
}

/// Associated data binding sealed upstream secrets to one pending request, so a sealed value
/// cannot be replayed into another request's row.
#[must_use]
pub fn secrets_aad(id_hash: &str) -> Vec<u8> {
    format!("auth_request:{id_hash}").into_bytes()
}

/// The MAC that remembers an approval of this request's client, redirect URI, scope and
/// resource in the browser whose binding value is `browser`: a changed redirect URI, scope or
/// resource asks again. So does a changed client: the digest of the client's metadata taken
/// when the request was made ([`client_digest`], kept in the pending request) is part of the
/// MAC, so a Client ID Metadata Document that changed its redirect URIs or name never rides on
/// an approval given to the old one (COMPAT C23; SPEC A11: key CIMD consent on the client id
/// URL plus the redirect URIs).
#[must_use]
pub fn consent_mac(cipher: &Cipher, browser: &str, r: &AuthRequestRecord) -> String {
    cipher.mac(
        "remembered-consent v2",
        &[
            browser,
            &r.client_id,
            &r.redirect_uri,
            &r.scope,
            &r.resource,
            &recorded_client_digest(r),
        ],
    )
}

/// Key of the client digest in the pending request's `extra` JSON.
pub const CLIENT_DIGEST_KEY: &str = "client_digest";

/// Key of the client's `login_hint` in the pending request's `extra` JSON.
pub const LOGIN_HINT_KEY: &str = "login_hint";

/// Key of the client rule's `send_iss` decision (COMPAT C9) in the pending request's `extra`
/// JSON, taken at /authorize where the client is at hand: the callback then answers without
/// looking the client up again.
pub const ISS_KEY: &str = "iss";

/// The `send_iss` decision recorded in the pending request, if it was (requests stored before
/// it was recorded have none).
#[must_use]
pub fn recorded_sends_iss(r: &AuthRequestRecord) -> Option<bool> {
    r.extra
        .as_deref()
        .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .and_then(|v| v.get(ISS_KEY).and_then(serde_json::Value::as_bool))
}

/// A string value of the pending request's `extra` JSON.
#[must_use]
pub fn extra_value(r: &AuthRequestRecord, key: &str) -> Option<String> {
    r.extra
        .as_deref()
        .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .and_then(|v| {
            v.get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
}

/// A digest of what the user is shown about a client and where its answers may go: kind,
/// redirect URIs, name, URIs. Any change makes remembered approvals ask again.
#[must_use]
pub fn client_digest(c: &ClientRecord) -> String {
    let v = serde_json::json!([
        c.kind.as_str(),
        c.redirect_uris,
        c.client_name,
        c.client_uri,
        c.logo_uri,
        c.token_endpoint_auth_method,
    ]);
    crypto::hash(&v.to_string())
}

/// The client digest stored in the pending request (empty when absent).
fn recorded_client_digest(r: &AuthRequestRecord) -> String {
    r.extra
        .as_deref()
        .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .and_then(|v| {
            v.get(CLIENT_DIGEST_KEY)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
