//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): a JWT the
//! client signed with a key whose public half is in its `[[clients]].jwks`. Verified here: the
//! algorithm from an allow-list (never `none`, never HMAC), the key by `kid`, `iss` = `sub` =
//! the client id, `aud` our token endpoint or issuer, `exp` within bounds of the Clock, and a
//! `jti` used once (kept in the store until the assertion expires, so a replay is refused even
//! on another replica).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::client_auth::{self, ClientCredentials};
use super::{Core, Error, Result};
use crate::store::{ClientKind, ClientRecord};

/// RFC 7523 §2.2 `client_assertion_type`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Signature algorithms accepted (advertised as
/// `token_endpoint_auth_signing_alg_values_supported`): asymmetric only.
pub const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
/// Longest assertion accepted, in bytes (a JWT with an RSA-4096 signature is under 2 KiB).
pub const MAX_ASSERTION_BYTES: usize = 8 * 1024;
/// Latest `exp` accepted, seconds from now: the `jti` is kept until then (RFC 7523 §3 item 4
/// lets the server limit how far in the future it is).
pub const MAX_LIFETIME: i64 = 3600;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY: i64 = 30;
/// Longest `jti` accepted.
const MAX_JTI_CHARS: usize = 256;

/// The claims we read.
#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
}

/// The names of the accepted algorithms, for metadata.
#[must_use]
pub fn algorithm_names() -> Vec<String> {
    ALGORITHMS
        .iter()
        .filter_map(|a| serde_json::to_value(a).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn refused(description: &str) -> Error {
    Error::InvalidClient {
        description: description.to_owned(),
        basic: false,
    }
}

/// The `sub` of an assertion, read without checking anything: only to find the client whose
/// keys then verify it.
///
/// # Errors
/// `invalid_client` when the assertion is too long, not a JWT or has no string `sub`.
pub fn unverified_subject(assertion: &str) -> Result<String> {
    let malformed = || refused("malformed client assertion");
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(refused("client assertion too long"));
    }
    let mut parts = assertion.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    match claims.get("sub").and_then(serde_json::Value::as_str) {
        Some(sub) if !sub.is_empty() => Ok(sub.to_owned()),
        _ => Err(malformed()),
    }
}

/// The token endpoint's client check: an assertion is verified here, every other method by
/// [`client_auth::authenticate_client`].
///
/// # Errors
/// `invalid_client` for a client that is unknown, disabled, registered for another method, or
/// whose assertion fails any check (including a replayed `jti`); store failures are internal.
pub async fn authenticate_client(core: &Core, creds: &ClientCredentials) -> Result<ClientRecord> {
    let ClientCredentials::Assertion {
        client_id,
        assertion,
    } = creds
    else {
        return client_auth::authenticate_client(core.clients.as_ref(), creds).await;
    };
    let client = core
        .clients
        .resolve(client_id)
        .await?
        .filter(|c| !c.disabled && &c.client_id == client_id)
        .ok_or_else(|| refused("unknown client"))?;
    if client.token_endpoint_auth_method != "private_key_jwt" || client.kind != ClientKind::Static {
        return Err(refused(&format!(
            "this client authenticates with {}, not private_key_jwt",
            client.token_endpoint_auth_method
        )));
    }
    let keys = core
        .settings
        .machine
        .keys(client_id)
        .ok_or_else(|| refused("no keys are configured for this client"))?;
    let claims = verify(core, keys, client_id, assertion)?;
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.chars().count() <= MAX_JTI_CHARS)
        .ok_or_else(|| refused("the client assertion needs a jti (at most 256 characters)"))?;
    // Single use (RFC 7523 §3 item 7): the first presentation records it, any later one, here
    // or on another replica, finds it.
    let first = core
        .store
        .use_assertion_jti(
            &format!("client:{client_id}"),
            &jti,
            claims.exp + LEEWAY,
            core.now(),
        )
        .await?;
    if !first {
        tracing::warn!(client_id, "client assertion replayed (jti used before)");
        return Err(refused(
            "client assertion replayed: its jti was used before",
        ));
    }
    Ok(client)
}

/// Checks a JWS signed by the holder of one of `keys`: algorithm from [`ALGORITHMS`], the key
/// by `kid` ([`pick_key`]), the signature. Nothing about the claims (time is the Clock's, the
/// audience the caller's). Returns the header and the claims.
///
/// # Errors
/// A short reason, for the caller's error.
pub(crate) fn verify_signature(
    keys: &JwkSet,
    token: &str,
) -> std::result::Result<(jsonwebtoken::Header, serde_json::Value), &'static str> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed JWT")?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err("algorithm not accepted");
    }
    let key = pick_key(keys, header.kid.as_deref(), header.alg).ok_or("no configured key fits")?;
    let decoding = DecodingKey::from_jwk(key).map_err(|_| "unusable key")?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &decoding, &validation)
        .map_err(|_| "signature does not verify")?;
    Ok((header, data.claims))
}

/// Signature, algorithm, key and claims of `assertion` for `client_id`.
fn verify(core: &Core, keys: &JwkSet, client_id: &str, assertion: &str) -> Result<AssertionClaims> {
    let (_, claims) = verify_signature(keys, assertion)
        .map_err(|why| refused(&format!("client assertion refused: {why}")))?;
    let issuer = &core.settings.issuer;
    let token_endpoint = format!("{issuer}/token");
    // RFC 7523 §3 item 3: the token endpoint URL or the issuer.
    let aud_ok = match claims.get("aud") {
        Some(serde_json::Value::String(a)) => a == &token_endpoint || a == issuer,
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(serde_json::Value::as_str)
            .any(|a| a == token_endpoint || a == issuer),
        _ => false,
    };
    if !aud_ok {
        return Err(refused(
            "client assertion audience must be this server's token endpoint or issuer",
        ));
    }
    let claims: AssertionClaims = serde_json::from_value(claims)
        .map_err(|_| refused("client assertion needs string iss and sub and a numeric exp"))?;
    if claims.iss != client_id || claims.sub != client_id {
        return Err(refused(
            "client assertion iss and sub must both be the client_id",
        ));
    }
    let now = core.now();
    if claims.exp + LEEWAY <= now {
        return Err(refused("client assertion expired"));
    }
    if claims.exp > now + MAX_LIFETIME + LEEWAY {
        return Err(refused(
            "client assertion exp is too far in the future (at most 1 hour)",
        ));
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY)
        || claims.iat.is_some_and(|iat| iat > now + LEEWAY)
    {
        return Err(refused("client assertion not yet valid"));
    }
    Ok(claims)
}

/// The key for `kid` (or the only key when the header names none) whose type fits `alg` and
/// whose own `alg`, if it declares one, is `alg`.
pub(crate) fn pick_key<'a>(keys: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let fits = |k: &&Jwk| {
        let kind_ok = match &k.algorithm {
            AlgorithmParameters::RSA(_) => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            AlgorithmParameters::EllipticCurve(_) => {
                matches!(alg, Algorithm::ES256 | Algorithm::ES384)
            }
            AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
            AlgorithmParameters::OctetKey(_) => false,
        };
        let declared_ok = k
            .common
            .key_algorithm
            .is_none_or(|ka| ka.to_string() == format!("{alg:?}"));
        kind_ok && declared_ok
    };
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .filter(fits)
            .find(|k| k.common.key_id.as_deref() == Some(kid)),
        None if keys.keys.len() == 1 => keys.keys.iter().find(fits),
        None => None,
    }
}
