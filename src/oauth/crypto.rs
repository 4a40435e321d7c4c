//! Secrets at rest and on the wire: random values with recognisable prefixes, SHA-256 hashes for
//! lookup, constant-time comparison, and AES-256-GCM sealing with a key id so keys can rotate.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

/// Prefix of authorization codes.
pub const CODE_PREFIX: &str = "dcrb_ac_";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "dcrb_rt_";
/// Prefix of client secrets.
pub const CLIENT_SECRET_PREFIX: &str = "dcrb_cs_";
/// Prefix of RFC 7592 registration access tokens.
pub const REGISTRATION_TOKEN_PREFIX: &str = "dcrb_rat_";
/// Prefix of dynamic client ids.
pub const CLIENT_ID_PREFIX: &str = "dcrb_c_";

/// `len` random bytes, base64url without padding.
#[must_use]
pub fn random_b64(len: usize) -> String {
    let mut buf = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A fresh 256-bit secret with a recognisable prefix (so leaked values can be spotted).
#[must_use]
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", random_b64(32))
}

/// SHA-256 of `value`, lowercase hex. Codes, tokens and secrets are stored only as this.
#[must_use]
pub fn hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// A short, non-reversible fingerprint for logs (first 12 hex chars of the SHA-256).
#[must_use]
pub fn fingerprint(value: &str) -> String {
    let mut h = hash(value);
    h.truncate(12);
    h
}

/// Constant-time equality of two byte strings.
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Errors of sealing and opening.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The ciphertext is not in our format.
    #[error("malformed sealed value")]
    Malformed,
    /// No configured key has this key id.
    #[error("unknown key id {0}")]
    UnknownKey(String),
    /// Authentication failed (wrong key or tampered data).
    #[error("decryption failed")]
    Decrypt,
}

/// AES-256-GCM with a key id in every ciphertext: `v1.<kid>.<base64url(nonce || ct)>`.
/// The current key seals; the current and old keys open.
pub struct Cipher {
    current: (String, Aes256Gcm),
    old: Vec<(String, Aes256Gcm)>,
    /// HMAC key derived from the current key, for values the browser carries (remembered
    /// consent). Not the sealing key itself: one key, one purpose.
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher")
            .field("kid", &self.current.0)
            .finish_non_exhaustive()
    }
}

fn key_id(key: &[u8; 32]) -> String {
    let mut id = hex::encode(Sha256::digest(key));
    id.truncate(8);
    id
}

impl Cipher {
    /// Builds from the current key and earlier keys.
    #[must_use]
    pub fn new(current: &[u8; 32], old: &[[u8; 32]]) -> Self {
        let make = |k: &[u8; 32]| (key_id(k), Aes256Gcm::new(k.into()));
        let mut derive = Sha256::new();
        derive.update(b"dcr-bridge mac key v1\0");
        derive.update(current);
        Self {
            current: make(current),
            old: old.iter().map(make).collect(),
            mac_key: derive.finalize().into(),
        }
    }

    /// Id of the sealing key.
    #[must_use]
    pub fn current_kid(&self) -> &str {
        &self.current.0
    }

    /// HMAC-SHA256 of `parts` (joined unambiguously) for `purpose`, base64url, truncated to
    /// 128 bits: enough to make forgery infeasible, short enough to keep many in one cookie.
    #[must_use]
    pub fn mac(&self, purpose: &str, parts: &[&str]) -> String {
        use hmac::{Hmac, Mac as _};
        let Ok(mut mac) = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.mac_key) else {
            return String::new();
        };
        mac.update(purpose.as_bytes());
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p.as_bytes());
        }
        let tag = mac.finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&tag[..16])
    }

    /// Seals `plain`, binding it to `aad` (e.g. a table and row id) so values can't be swapped.
    ///
    /// # Errors
    /// Only if the AEAD fails, which it does not for valid keys.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<String, CryptoError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .current
            .1
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| CryptoError::Decrypt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!(
            "v1.{}.{}",
            self.current.0,
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Opens a value sealed by [`Cipher::seal`] with the same `aad`.
    ///
    /// # Errors
    /// Malformed input, unknown key id, or failed authentication.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Malformed);
        };
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Malformed)?;
        if raw.len() < 12 + 16 {
            return Err(CryptoError::Malformed);
        }
        let key = std::iter::once(&self.current)
            .chain(self.old.iter())
            .find(|(id, _)| id == kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.to_owned()))?;
        let (nonce, ct) = raw.split_at(12);
        key.1
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// Seals bytes with a key derived from a token the client holds (used for the refresh replay
/// record: only the holder of the old refresh token can read the pair saved for it).
///
/// # Errors
/// Only if the AEAD fails.
pub fn seal_with_token(token: &str, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key: [u8; 32] = Sha256::digest(format!("dcr-bridge replay v1\0{token}").as_bytes()).into();
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = Aes256Gcm::new((&key).into())
        .encrypt(Nonce::from_slice(&nonce), plain)
        .map_err(|_| CryptoError::Decrypt)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens what [`seal_with_token`] sealed.
///
/// # Errors
/// Wrong token or tampered data.
pub fn open_with_token(token: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < 12 + 16 {
        return Err(CryptoError::Malformed);
    }
    let key: [u8; 32] = Sha256::digest(format!("dcr-bridge replay v1\0{token}").as_bytes()).into();
    let (nonce, ct) = sealed.split_at(12);
    Aes256Gcm::new((&key).into())
        .decrypt(Nonce::from_slice(nonce), ct)
        .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
