//! JWT signing keys: RS256 key pairs kept sealed in the store, one `current` signer, `next` and
//! `retired` keys published in the JWKS so resource servers can verify across a rotation.
//!
//! RFC 9068 §2.1: access tokens are signed, RS256 must be supported; we sign with nothing else.
//! Private keys are stored as PKCS#8 DER sealed with the server cipher, bound to their kid.
//!
//! Rotation across replicas: `stage_next` publishes a new key (every replica's JWKS shows it
//! after its next `reload`), `promote_next` makes it the current key and retires the old one,
//! which stays published so tokens it signed keep verifying. `rotate` does both at once.
//!
//! A key signs only once it has been published (stored, so in every replica's next reload) for
//! `publish_after` seconds (`tokens.signing_key_reload_seconds` × 2): until then the ring keeps
//! signing with the newest key that has been published that long. So a token never reaches a
//! replica (or a resource server's JWKS) that does not know its key yet, whichever replica
//! rotated and however the rotation was split into steps.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::traits::PublicKeyParts as _;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::crypto::Cipher;
use super::{Error, Result};
use crate::store::{AuditEvent, KeyState, SigningKeyRecord, Store, StoreError};

/// The only signing algorithm (RFC 9068 §2.1).
pub const ALG: &str = "RS256";
/// JOSE `typ` of our access tokens (RFC 9068 §2.1).
pub const AT_JWT_TYP: &str = "at+jwt";
const RSA_BITS: usize = 2048;

/// A key that can verify: every published key.
struct Verifier {
    kid: String,
    state: KeyState,
    decoding: DecodingKey,
    jwk: Value,
}

/// A current key not yet published long enough to sign: it takes over at `from`.
struct Pending {
    kid: String,
    key: EncodingKey,
    from: i64,
}

/// One consistent snapshot of the keys.
struct Keys {
    /// The current key, or the key that signs until the current one has been published long
    /// enough.
    signer_kid: String,
    signer: EncodingKey,
    pending: Option<Pending>,
    /// The store's current key (what the admin API calls active).
    current_kid: String,
    verifiers: Vec<Verifier>,
}

impl Keys {
    /// The kid and key that sign at `now`.
    fn signer_at(&self, now: i64) -> (&str, &EncodingKey) {
        match &self.pending {
            Some(p) if p.from <= now => (&p.kid, &p.key),
            _ => (&self.signer_kid, &self.signer),
        }
    }
}

/// The signing keys of this server. Cheap to share; `reload` swaps in a fresh snapshot.
pub struct KeyRing {
    inner: RwLock<Arc<Keys>>,
    /// Seconds a key must have been published before it signs (0: at once).
    publish_after: i64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self
            .snapshot()
            .map(|k| {
                k.verifiers
                    .iter()
                    .map(|v| format!("{}:{}", v.kid, v.state.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        f.debug_struct("KeyRing")
            .field("keys", &kids)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Loads the keys from the store, creating the first `current` key if there is none.
    ///
    /// # Errors
    /// Store failures, a key that cannot be opened with `cipher`, or no usable current key.
    pub async fn load_or_create(store: &dyn Store, cipher: &Cipher, now: i64) -> Result<KeyRing> {
        Self::load_or_create_with(store, cipher, now, 0).await
    }

    /// [`KeyRing::load_or_create`] for a ring whose new keys sign only once they have been
    /// published for `publish_after` seconds (the first key of an empty store signs at once).
    ///
    /// # Errors
    /// As [`KeyRing::load_or_create`].
    pub async fn load_or_create_with(
        store: &dyn Store,
        cipher: &Cipher,
        now: i64,
        publish_after: i64,
    ) -> Result<KeyRing> {
        Ok(KeyRing {
            inner: RwLock::new(Arc::new(
                load_keys(store, cipher, now, publish_after).await?,
            )),
            publish_after,
        })
    }

    /// Re-reads the keys from the store (after a rotation, possibly by another replica).
    ///
    /// # Errors
    /// As [`KeyRing::load_or_create`]; on error the old snapshot stays in use.
    pub async fn reload(&self, store: &dyn Store, cipher: &Cipher, now: i64) -> Result<()> {
        let keys = Arc::new(load_keys(store, cipher, now, self.publish_after).await?);
        let mut guard = self.inner.write().map_err(|_| poisoned())?;
        *guard = keys;
        Ok(())
    }

    /// Publishes a new `next` key, unless one is already staged. Returns its kid.
    ///
    /// # Errors
    /// Store or key generation failures.
    pub async fn stage_next(store: &dyn Store, cipher: &Cipher, now: i64) -> Result<String> {
        let keys = store.list_signing_keys().await?;
        if let Some(next) = keys.iter().find(|k| k.state == KeyState::Next) {
            return Ok(next.kid.clone());
        }
        let record = generate(cipher, KeyState::Next, now).await?;
        store.insert_signing_key(&record).await?;
        Ok(record.kid)
    }

    /// Makes the staged `next` key current; the old current key becomes retired (still
    /// published). Returns the new current kid, or `None` when nothing was staged.
    ///
    /// # Errors
    /// Store failures.
    pub async fn promote_next(store: &dyn Store, now: i64) -> Result<Option<String>> {
        let keys = store.list_signing_keys().await?;
        let Some(next) = keys.into_iter().find(|k| k.state == KeyState::Next) else {
            return Ok(None);
        };
        store.promote_signing_key(&next.kid, now).await?;
        Ok(Some(next.kid))
    }

    /// Stages a new key (or takes the one already staged) and promotes it at once. Call
    /// `reload` on every replica's ring afterwards.
    ///
    /// # Errors
    /// Store or key generation failures.
    pub async fn rotate(store: &dyn Store, cipher: &Cipher, now: i64) -> Result<()> {
        let kid = Self::stage_next(store, cipher, now).await?;
        store.promote_signing_key(&kid, now).await?;
        Ok(())
    }

    /// `stage_next` and/or `promote_next` and the audit event `audit(staged, activated)`
    /// describes, in one transaction (STYLE 21): the rotation and its record commit together.
    /// A new key is generated before the transaction opens (RSA generation takes a while, and
    /// on SQLite the transaction holds the write lock). Returns (staged kid, activated kid).
    ///
    /// # Errors
    /// Store or key generation failures; nothing is changed then.
    pub async fn rotate_audited(
        store: &dyn Store,
        cipher: &Cipher,
        clock: &dyn crate::clock::Clock,
        stage: bool,
        promote: bool,
        audit: impl FnOnce(Option<&str>, Option<&str>) -> AuditEvent + Send,
    ) -> Result<(Option<String>, Option<String>)> {
        let staged_already = |keys: &[SigningKeyRecord]| {
            keys.iter()
                .find(|k| k.state == KeyState::Next)
                .map(|k| k.kid.clone())
        };
        let mut fresh = if stage && staged_already(&store.list_signing_keys().await?).is_none() {
            Some(generate(cipher, KeyState::Next, clock.now()).await?)
        } else {
            None
        };
        // The key is published when it is stored, not when its generation started (seconds
        // earlier on a busy machine): its publish delay counts from here.
        let now = clock.now();
        if let Some(record) = &mut fresh {
            record.created_at = now;
        }
        let mut tx = store.begin().await?;
        let mut next = staged_already(&tx.list_signing_keys().await?);
        let mut staged = None;
        if stage {
            if next.is_none() {
                if let Some(record) = &fresh {
                    tx.insert_signing_key(record).await?;
                    next = Some(record.kid.clone());
                }
            }
            staged.clone_from(&next);
        }
        let mut activated = None;
        if promote {
            if let Some(kid) = &next {
                tx.promote_signing_key(kid, now).await?;
                activated = Some(kid.clone());
            }
        }
        tx.insert_audit_event(&audit(staged.as_deref(), activated.as_deref()))
            .await?;
        tx.commit().await?;
        Ok((staged, activated))
    }

    /// The store's current key (which signs once it has been published long enough).
    ///
    /// # Errors
    /// Only if the lock was poisoned.
    pub fn current_kid(&self) -> Result<String> {
        Ok(self.snapshot()?.current_kid.clone())
    }

    /// The kid that signs at `now`.
    ///
    /// # Errors
    /// Only if the lock was poisoned.
    pub fn signing_kid(&self, now: i64) -> Result<String> {
        Ok(self.snapshot()?.signer_at(now).0.to_owned())
    }

    /// The JWK Set (RFC 7517 §5) of every published key: current, next and retired.
    #[must_use]
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .snapshot()
            .map(|k| k.verifiers.iter().map(|v| v.jwk.clone()).collect())
            .unwrap_or_default();
        json!({ "keys": keys })
    }

    /// Signs `claims` with the key that signs at `now` ([`KeyRing::signing_kid`]), header
    /// `{alg: RS256, typ, kid}`.
    ///
    /// # Errors
    /// Serialisation or signing failure (internal).
    pub fn sign(&self, now: i64, header_typ: &str, claims: &impl Serialize) -> Result<String> {
        let keys = self.snapshot()?;
        let (kid, key) = keys.signer_at(now);
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some(header_typ.to_owned());
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, key).map_err(Error::server)
    }

    /// Verifies an access token of ours: kid one of ours, RS256, `typ` at+jwt, signature, `iss`,
    /// and `exp`/`nbf` against `now` (the Clock, not the system time).
    ///
    /// # Errors
    /// `InvalidToken` for anything that is not a valid, unexpired token of this issuer.
    pub fn verify<T: DeserializeOwned>(&self, jwt: &str, issuer: &str, now: i64) -> Result<T> {
        let claims = self.verify_claims(jwt, issuer)?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid("missing exp"))?;
        if exp <= now {
            return Err(invalid("token expired"));
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now)
        {
            return Err(invalid("token not yet valid"));
        }
        serde_json::from_value(claims).map_err(|_| invalid("unexpected claims"))
    }

    /// Like [`KeyRing::verify`] but accepts an expired token (RFC 7009 revocation of a token
    /// that may have just expired). Signature, kid, alg, typ and issuer are still checked.
    ///
    /// # Errors
    /// `InvalidToken` when the token is not one this issuer signed.
    pub fn verify_ignoring_expiry<T: DeserializeOwned>(
        &self,
        jwt: &str,
        issuer: &str,
    ) -> Result<T> {
        let claims = self.verify_claims(jwt, issuer)?;
        serde_json::from_value(claims).map_err(|_| invalid("unexpected claims"))
    }

    fn verify_claims(&self, jwt: &str, issuer: &str) -> Result<Value> {
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| invalid("malformed token"))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid("unsupported alg"));
        }
        // RFC 9068 §4: typ must be at+jwt (the media type form is equivalent, case-insensitive).
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(AT_JWT_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(invalid("not an access token"));
        }
        let kid = header.kid.ok_or_else(|| invalid("missing kid"))?;
        let keys = self.snapshot()?;
        let key = keys
            .verifiers
            .iter()
            .find(|v| v.kid == kid)
            .ok_or_else(|| invalid("unknown key"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        // Time is the Clock's: checked by the callers above, never the system clock here.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Value>(jwt, &key.decoding, &validation)
            .map_err(|_| invalid("bad signature"))?;
        // jsonwebtoken skips the issuer check when the claim is absent: check it ourselves.
        if data.claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(invalid("wrong issuer"));
        }
        Ok(data.claims)
    }

    fn snapshot(&self) -> Result<Arc<Keys>> {
        Ok(self.inner.read().map_err(|_| poisoned())?.clone())
    }
}

fn invalid(why: &str) -> Error {
    Error::InvalidToken(why.to_owned())
}

fn poisoned() -> Error {
    Error::server(anyhow::anyhow!("key ring lock poisoned"))
}

/// The additional data binding a sealed private key to its kid, so rows can't be swapped.
fn key_aad(kid: &str) -> Vec<u8> {
    [b"signing_key:".as_slice(), kid.as_bytes()].concat()
}

async fn load_keys(
    store: &dyn Store,
    cipher: &Cipher,
    now: i64,
    publish_after: i64,
) -> Result<Keys> {
    // Two attempts: if another replica wins the race to create the first key, use its key.
    for _ in 0..2 {
        let records = store.list_signing_keys().await?;
        if records.iter().any(|k| k.state == KeyState::Current) {
            return build(&records, cipher, now, publish_after);
        }
        let record = generate(cipher, KeyState::Current, now).await?;
        match store.insert_signing_key(&record).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let records = store.list_signing_keys().await?;
    build(&records, cipher, now, publish_after)
}

/// Which key signs: the current one once it has been published for `publish_after`; before
/// that the key retired last among those published that long, or, when none has been (several
/// rotations within `publish_after` of the first key), the oldest retired key: the first key,
/// which every replica loaded when it started. Only a store with no retired key at all (the
/// first key) signs with a fresh current key. Returns (signer, the current key if it takes
/// over later, and when).
fn choose_signer(
    records: &[SigningKeyRecord],
    now: i64,
    publish_after: i64,
) -> Option<(&SigningKeyRecord, Option<(&SigningKeyRecord, i64)>)> {
    let usable = |k: &&SigningKeyRecord| k.alg == ALG;
    let current = records
        .iter()
        .filter(usable)
        .find(|k| k.state == KeyState::Current)?;
    let from = current.created_at.saturating_add(publish_after);
    if from <= now {
        return Some((current, None));
    }
    let retired = || {
        records
            .iter()
            .filter(usable)
            .filter(|k| k.state == KeyState::Retired)
    };
    let fallback = retired()
        .filter(|k| k.created_at.saturating_add(publish_after) <= now)
        .max_by_key(|k| (k.retired_at.unwrap_or(0), k.created_at, &k.kid))
        // Ties (keys made in the same second) broken by kid, so that every replica picks the
        // same key whatever order the store lists them in.
        .or_else(|| retired().min_by_key(|k| (k.created_at, k.retired_at, &k.kid)));
    Some(match fallback {
        Some(older) => (older, Some((current, from))),
        None => (current, None),
    })
}

fn build(
    records: &[SigningKeyRecord],
    cipher: &Cipher,
    now: i64,
    publish_after: i64,
) -> Result<Keys> {
    let (signer_record, pending_record) = choose_signer(records, now, publish_after)
        .ok_or_else(|| Error::server(anyhow::anyhow!("no current RS256 signing key")))?;
    let (signer_kid, signer) = open_private(signer_record, cipher)?;
    let pending = match pending_record {
        Some((record, from)) => {
            let (kid, key) = open_private(record, cipher)?;
            Some(Pending { kid, key, from })
        }
        None => None,
    };
    let current_kid = pending
        .as_ref()
        .map_or_else(|| signer_record.kid.clone(), |p| p.kid.clone());
    let mut verifiers = Vec::new();
    for record in records {
        if record.alg != ALG {
            tracing::warn!(kid = %record.kid, alg = %record.alg, "ignoring signing key with unsupported alg");
            continue;
        }
        let jwk: Value = serde_json::from_str(&record.public_jwk).map_err(|e| {
            Error::server(anyhow::anyhow!(
                "signing key {}: bad public JWK: {e}",
                record.kid
            ))
        })?;
        let (Some(n), Some(e)) = (
            jwk.get("n").and_then(Value::as_str),
            jwk.get("e").and_then(Value::as_str),
        ) else {
            return Err(Error::server(anyhow::anyhow!(
                "signing key {}: JWK lacks n/e",
                record.kid
            )));
        };
        if thumbprint(n, e) != record.kid {
            return Err(Error::server(anyhow::anyhow!(
                "signing key {}: kid does not match its JWK",
                record.kid
            )));
        }
        let decoding = DecodingKey::from_rsa_components(n, e).map_err(Error::server)?;
        verifiers.push(Verifier {
            kid: record.kid.clone(),
            state: record.state,
            decoding,
            jwk: public_jwk(&record.kid, n, e),
        });
    }
    Ok(Keys {
        signer_kid,
        signer,
        pending,
        current_kid,
        verifiers,
    })
}

fn open_private(record: &SigningKeyRecord, cipher: &Cipher) -> Result<(String, EncodingKey)> {
    let der = cipher
        .open(&record.private_sealed, &key_aad(&record.kid))
        .map_err(|e| Error::server(anyhow::anyhow!("signing key {}: {e}", record.kid)))?;
    let private =
        RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| Error::server(anyhow::anyhow!("{e}")))?;
    let (n, e) = components(&RsaPublicKey::from(&private));
    if thumbprint(&n, &e) != record.kid {
        return Err(Error::server(anyhow::anyhow!(
            "signing key {}: private key does not match kid",
            record.kid
        )));
    }
    // ring (behind jsonwebtoken) signs with PKCS#1 DER.
    let pkcs1 = private
        .to_pkcs1_der()
        .map_err(|e| Error::server(anyhow::anyhow!("{e}")))?;
    Ok((
        record.kid.clone(),
        EncodingKey::from_rsa_der(pkcs1.as_bytes()),
    ))
}

/// Generates a fresh key pair off the async threads (RSA key generation takes a while).
async fn generate(cipher: &Cipher, state: KeyState, now: i64) -> Result<SigningKeyRecord> {
    let private =
        tokio::task::spawn_blocking(|| RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS))
            .await
            .map_err(Error::server)?
            .map_err(Error::server)?;
    let (n, e) = components(&RsaPublicKey::from(&private));
    let kid = thumbprint(&n, &e);
    let der = private
        .to_pkcs8_der()
        .map_err(|e| Error::server(anyhow::anyhow!("{e}")))?;
    let private_sealed = cipher
        .seal(der.as_bytes(), &key_aad(&kid))
        .map_err(Error::server)?;
    Ok(SigningKeyRecord {
        public_jwk: public_jwk(&kid, &n, &e).to_string(),
        kid,
        alg: ALG.to_owned(),
        state,
        private_sealed,
        created_at: now,
        retired_at: None,
    })
}

/// Base64url (no padding) of the big-endian modulus and exponent.
fn components(key: &RsaPublicKey) -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    )
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn public_jwk(kid: &str, n: &str, e: &str) -> Value {
    json!({ "kty": "RSA", "use": "sig", "alg": ALG, "kid": kid, "n": n, "e": e })
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
