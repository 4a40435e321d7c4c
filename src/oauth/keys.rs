//! JWT signing keys: RS256, ES256 or EdDSA key pairs ([`SigningAlgorithm`]) kept sealed in the
//! store, one `current` signer, `next` and `retired` keys published in the JWKS so resource
//! servers can verify across a rotation.
//!
//! Each key verifies only with the algorithm stored beside it: a token's header `alg` must equal
//! its key's (RFC 8725 §3.1), so nobody can pick the algorithm a key is checked with. Private keys
//! are stored as PKCS#8 DER sealed with the server cipher, bound to their kid.
//!
//! `[tokens] signing_algorithm` differing from the current key's algorithm makes the server
//! rotate on its own at start ([`KeyRing::start`]): a key of the configured algorithm is staged
//! and promoted, signing after the publish delay below like any other rotation.
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

use jsonwebtoken::{DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::crypto::Cipher;
pub use super::signing_alg::SigningAlgorithm;
use super::signing_alg::{generate_pkcs8, jws_header, open_pkcs8, PublicParams, Signer};
use super::{Error, Result};
use crate::clock::Clock;
use crate::store::{AuditEvent, KeyState, SigningKeyRecord, Store, StoreError};

/// JOSE `typ` of our access tokens (RFC 9068 §2.1).
pub const AT_JWT_TYP: &str = "at+jwt";

/// A key that can verify: every published key.
struct Verifier {
    kid: String,
    state: KeyState,
    /// The only algorithm this key verifies with.
    alg: SigningAlgorithm,
    decoding: DecodingKey,
    jwk: Value,
}

/// A current key not yet published long enough to sign: it takes over at `from`.
struct Pending {
    kid: String,
    key: Signer,
    from: i64,
}

/// One consistent snapshot of the keys.
struct Keys {
    /// The current key, or the key that signs until the current one has been published long
    /// enough.
    signer_kid: String,
    signer: Signer,
    pending: Option<Pending>,
    /// The store's current key (what the admin API calls active).
    current_kid: String,
    verifiers: Vec<Verifier>,
}

impl Keys {
    /// The kid and key that sign at `now`.
    fn signer_at(&self, now: i64) -> (&str, &Signer) {
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
    /// The algorithm of a first key, should the store have none (emptied by an operator).
    first_alg: SigningAlgorithm,
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

    /// The ring a server starts with: when `configured` (`[tokens] signing_algorithm`) differs
    /// from the current key's algorithm, first rotates to a key of `configured`
    /// ([`KeyRing::switch_algorithm`]); an empty store gets a first key of `configured`, or of
    /// [`SigningAlgorithm::DEFAULT`] when unset. Unset, an existing ring keeps its algorithm.
    ///
    /// # Errors
    /// As [`KeyRing::load_or_create`], or a failed switch.
    pub async fn start(
        store: &dyn Store,
        cipher: &Cipher,
        clock: &dyn Clock,
        publish_after: i64,
        configured: Option<SigningAlgorithm>,
    ) -> Result<KeyRing> {
        if let Some(alg) = configured {
            Self::switch_algorithm(store, cipher, clock, alg).await?;
        }
        let first_alg = configured.unwrap_or(SigningAlgorithm::DEFAULT);
        Ok(KeyRing {
            inner: RwLock::new(Arc::new(
                load_keys(store, cipher, clock.now(), publish_after, first_alg).await?,
            )),
            publish_after,
            first_alg,
        })
    }

    /// Rotates to a fresh key of `alg` when the current key has another algorithm: staged and
    /// promoted in one audited transaction (`signing_algorithm_switched`), the new key signing
    /// once published for the ring's delay, the old one retired and still published. Several
    /// replicas starting at once switch exactly once: the transaction re-reads the current key,
    /// and the single-current index refuses a second promotion. Returns the new kid, `None`
    /// when nothing was done (no key yet, already `alg`, another replica switched first, or a
    /// staged `next` key of another algorithm, which is left for the operator to promote).
    ///
    /// # Errors
    /// Store or key generation failures.
    pub async fn switch_algorithm(
        store: &dyn Store,
        cipher: &Cipher,
        clock: &dyn Clock,
        alg: SigningAlgorithm,
    ) -> Result<Option<String>> {
        let keys = store.list_signing_keys().await?;
        let Some(current) = keys.iter().find(|k| k.state == KeyState::Current) else {
            return Ok(None);
        };
        if current.alg == alg.as_str() {
            return Ok(None);
        }
        if let Some(next) = keys
            .iter()
            .find(|k| k.state == KeyState::Next && k.alg != alg.as_str())
        {
            tracing::warn!(kid = %next.kid, staged_alg = %next.alg, configured = %alg,
                "a next signing key of another algorithm is staged: not switching algorithm; \
                 promote it (rotate-keys --promote) and restart to switch");
            return Ok(None);
        }
        let from = current.alg.clone();
        let now = clock.now();
        let rotated = rotate_in_tx(
            store,
            cipher,
            clock,
            Some(alg),
            true,
            true,
            true,
            |staged, activated| {
                AuditEvent::new("signing_algorithm_switched", now)
                    .actor("config")
                    .detail(&json!({
                        "from_alg": from, "to_alg": alg.as_str(),
                        "staged_kid": staged, "activated_kid": activated,
                    }))
            },
        )
        .await;
        match rotated {
            Ok((_, activated)) => {
                if let Some(kid) = &activated {
                    tracing::info!(%kid, from = %from, to = %alg, "signing algorithm switched: new key signs after the publish delay");
                }
                Ok(activated)
            }
            // Another replica promoted its key between our read and our promotion.
            Err(Error::Server(e))
                if matches!(
                    e.downcast_ref::<StoreError>(),
                    Some(StoreError::Conflict(_))
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
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
                load_keys(store, cipher, now, publish_after, SigningAlgorithm::DEFAULT).await?,
            )),
            publish_after,
            first_alg: SigningAlgorithm::DEFAULT,
        })
    }

    /// Re-reads the keys from the store (after a rotation, possibly by another replica).
    ///
    /// # Errors
    /// As [`KeyRing::load_or_create`]; on error the old snapshot stays in use.
    pub async fn reload(&self, store: &dyn Store, cipher: &Cipher, now: i64) -> Result<()> {
        let keys =
            Arc::new(load_keys(store, cipher, now, self.publish_after, self.first_alg).await?);
        let mut guard = self.inner.write().map_err(|_| poisoned())?;
        *guard = keys;
        Ok(())
    }

    /// Publishes a new `next` key of `alg`, unless one is already staged. Returns its kid.
    ///
    /// # Errors
    /// Store or key generation failures.
    pub async fn stage_next(
        store: &dyn Store,
        cipher: &Cipher,
        alg: SigningAlgorithm,
        now: i64,
    ) -> Result<String> {
        let keys = store.list_signing_keys().await?;
        if let Some(next) = keys.iter().find(|k| k.state == KeyState::Next) {
            return Ok(next.kid.clone());
        }
        let record = generate(cipher, alg, KeyState::Next, now).await?;
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
    pub async fn rotate(
        store: &dyn Store,
        cipher: &Cipher,
        alg: SigningAlgorithm,
        now: i64,
    ) -> Result<()> {
        let kid = Self::stage_next(store, cipher, alg, now).await?;
        store.promote_signing_key(&kid, now).await?;
        Ok(())
    }

    /// `stage_next` and/or `promote_next` (a new key is of `alg`; unset, of the current key's
    /// algorithm) and the audit event
    /// `audit(staged, activated)` describes, in one transaction (STYLE 21): the rotation and its
    /// record commit together. Returns (staged kid, activated kid).
    ///
    /// # Errors
    /// Store or key generation failures; nothing is changed then.
    pub async fn rotate_audited(
        store: &dyn Store,
        cipher: &Cipher,
        clock: &dyn Clock,
        alg: Option<SigningAlgorithm>,
        stage: bool,
        promote: bool,
        audit: impl FnOnce(Option<&str>, Option<&str>) -> AuditEvent + Send,
    ) -> Result<(Option<String>, Option<String>)> {
        rotate_in_tx(store, cipher, clock, alg, stage, promote, false, audit).await
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

    /// The algorithm of the key that signs at `now`.
    ///
    /// # Errors
    /// Only if the lock was poisoned.
    pub fn signing_algorithm(&self, now: i64) -> Result<SigningAlgorithm> {
        Ok(self.snapshot()?.signer_at(now).1.algorithm())
    }

    /// Signs `claims` with the key that signs at `now` ([`KeyRing::signing_kid`]), header
    /// `{alg, typ, kid}` with that key's algorithm.
    ///
    /// # Errors
    /// Serialisation or signing failure (internal).
    pub fn sign(&self, now: i64, header_typ: &str, claims: &impl Serialize) -> Result<String> {
        let keys = self.snapshot()?;
        let (kid, key) = keys.signer_at(now);
        key.sign_jws(&jws_header(key.algorithm(), header_typ, kid), claims)
            .map_err(Error::server)
    }

    /// Verifies an access token of ours: kid one of ours, the header's `alg` that key's
    /// algorithm, `typ` at+jwt, signature, `iss`,
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
        // An `alg` jsonwebtoken does not know (`none` among them) fails here.
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| invalid("malformed token"))?;
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
        // The key's algorithm, never the token's choice (RFC 8725 §3.1: no HS256 with the
        // public key as secret, no ES256 header on an RSA kid).
        let alg = key.alg.jwt_algorithm();
        if header.alg != alg {
            return Err(invalid("alg does not match the key"));
        }
        let mut validation = Validation::new(alg);
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
    first_alg: SigningAlgorithm,
) -> Result<Keys> {
    // Two attempts: if another replica wins the race to create the first key, use its key.
    for _ in 0..2 {
        let records = store.list_signing_keys().await?;
        if records.iter().any(|k| k.state == KeyState::Current) {
            return build(&records, cipher, now, publish_after);
        }
        let record = generate(cipher, first_alg, KeyState::Current, now).await?;
        match store.insert_signing_key(&record).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let records = store.list_signing_keys().await?;
    build(&records, cipher, now, publish_after)
}

/// [`KeyRing::rotate_audited`]; with `only_if_other_alg`, does nothing (and audits nothing)
/// when the transaction finds the current key already of `alg`.
#[allow(clippy::too_many_arguments)] // one private body behind two public entry points
async fn rotate_in_tx(
    store: &dyn Store,
    cipher: &Cipher,
    clock: &dyn Clock,
    alg: Option<SigningAlgorithm>,
    stage: bool,
    promote: bool,
    only_if_other_alg: bool,
    audit: impl FnOnce(Option<&str>, Option<&str>) -> AuditEvent + Send,
) -> Result<(Option<String>, Option<String>)> {
    let staged_already = |keys: &[SigningKeyRecord]| {
        keys.iter()
            .find(|k| k.state == KeyState::Next)
            .map(|k| k.kid.clone())
    };
    // A new key is generated before the transaction opens (RSA generation takes a while, and on
    // SQLite the transaction holds the write lock).
    let before = store.list_signing_keys().await?;
    let alg = alg.unwrap_or_else(|| {
        before
            .iter()
            .find(|k| k.state == KeyState::Current)
            .and_then(|k| k.alg.parse().ok())
            .unwrap_or(SigningAlgorithm::DEFAULT)
    });
    let mut fresh = if stage && staged_already(&before).is_none() {
        Some(generate(cipher, alg, KeyState::Next, clock.now()).await?)
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
    let in_tx = tx.list_signing_keys().await?;
    if only_if_other_alg
        && in_tx
            .iter()
            .any(|k| k.state == KeyState::Current && k.alg == alg.as_str())
    {
        return Ok((None, None));
    }
    let mut next = staged_already(&in_tx);
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
    let usable = |k: &&SigningKeyRecord| k.alg.parse::<SigningAlgorithm>().is_ok();
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
        .ok_or_else(|| Error::server(anyhow::anyhow!("no usable current signing key")))?;
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
        let Ok(alg) = record.alg.parse::<SigningAlgorithm>() else {
            tracing::warn!(kid = %record.kid, alg = %record.alg, "ignoring signing key with unsupported alg");
            continue;
        };
        let key_error =
            |why: &str| Error::server(anyhow::anyhow!("signing key {}: {why}", record.kid));
        let jwk: Value = serde_json::from_str(&record.public_jwk)
            .map_err(|e| key_error(&format!("bad public JWK: {e}")))?;
        let params = PublicParams::from_jwk(alg, &jwk)
            .ok_or_else(|| key_error(&format!("JWK is no {alg} public key")))?;
        if params.thumbprint() != record.kid {
            return Err(key_error("kid does not match its JWK"));
        }
        let decoding = params.decoding_key().map_err(Error::server)?;
        verifiers.push(Verifier {
            kid: record.kid.clone(),
            state: record.state,
            alg,
            decoding,
            jwk: params.jwk(&record.kid),
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

fn open_private(record: &SigningKeyRecord, cipher: &Cipher) -> Result<(String, Signer)> {
    let fail = |why: String| Error::server(anyhow::anyhow!("signing key {}: {why}", record.kid));
    let alg: SigningAlgorithm = record.alg.parse().map_err(fail)?;
    let der = cipher
        .open(&record.private_sealed, &key_aad(&record.kid))
        .map_err(|e| fail(e.to_string()))?;
    let (signer, params) = open_pkcs8(alg, &der).map_err(|e| fail(e.to_string()))?;
    if params.thumbprint() != record.kid {
        return Err(fail("private key does not match kid".into()));
    }
    Ok((record.kid.clone(), signer))
}

/// Generates a fresh key pair of `alg` off the async threads (RSA key generation takes a
/// while).
async fn generate(
    cipher: &Cipher,
    alg: SigningAlgorithm,
    state: KeyState,
    now: i64,
) -> Result<SigningKeyRecord> {
    let der = tokio::task::spawn_blocking(move || generate_pkcs8(alg))
        .await
        .map_err(Error::server)?
        .map_err(Error::server)?;
    let (_, params) = open_pkcs8(alg, &der).map_err(Error::server)?;
    let kid = params.thumbprint();
    let private_sealed = cipher.seal(&der, &key_aad(&kid)).map_err(Error::server)?;
    Ok(SigningKeyRecord {
        public_jwk: params.jwk(&kid).to_string(),
        kid,
        alg: alg.as_str().to_owned(),
        state,
        private_sealed,
        created_at: now,
        retired_at: None,
    })
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
