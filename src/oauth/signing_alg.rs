//! The JWS algorithms our tokens may be signed with (`[tokens] signing_algorithm`), and their
//! keys: generation as PKCS#8, the public JWK (RFC 7518 §6.2 EC, §6.3 RSA, RFC 8037 OKP), the
//! RFC 7638 thumbprint that is the kid, and signing.
//!
//! Keys and signatures come from ring (the crate jsonwebtoken itself signs with), except RSA
//! generation, which ring lacks (the `rsa` crate). We hold the parsed ring key pair and sign the
//! JWS ourselves instead of calling `jsonwebtoken::encode`: that re-parses and re-checks the
//! PKCS#8 key on every signature, which for ECDSA costs as much again as the signature itself.
//! Verification stays with jsonwebtoken ([`PublicParams::decoding_key`]).

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::traits::PublicKeyParts as _;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const RSA_BITS: usize = 2048;

/// A JWS algorithm our keys sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA 2048 (RFC 9068 §2.1's mandatory algorithm).
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4).
    #[serde(rename = "ES256")]
    Es256,
    /// EdDSA over Ed25519 (RFC 8037).
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl SigningAlgorithm {
    /// What a new key ring signs with when `[tokens] signing_algorithm` is unset (an existing
    /// ring keeps its algorithm then: docs/security.md, "Signing keys").
    pub const DEFAULT: Self = Self::Es256;

    /// Every algorithm, as configured.
    pub const ALL: [Self; 3] = [Self::Rs256, Self::Es256, Self::EdDsa];

    /// The JOSE `alg` name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The same algorithm in jsonwebtoken's terms (for verification).
    #[must_use]
    pub fn jwt_algorithm(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = String;

    /// The exact JOSE name: a token's `alg` is case-sensitive (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown signing algorithm {s:?}: RS256, ES256 or EdDSA"))
    }
}

/// The public half of a key, as its JWK members (base64url, no padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicParams {
    Rsa { n: String, e: String },
    Ec { x: String, y: String },
    Okp { x: String },
}

impl PublicParams {
    /// The algorithm this kind of key signs with.
    #[must_use]
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self {
            Self::Rsa { .. } => SigningAlgorithm::Rs256,
            Self::Ec { .. } => SigningAlgorithm::Es256,
            Self::Okp { .. } => SigningAlgorithm::EdDsa,
        }
    }

    /// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
    #[must_use]
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            Self::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            Self::Ec { x, y } => format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
            Self::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The JWK we publish: the key's members, `kid`, `alg` and `use=sig`.
    #[must_use]
    pub fn jwk(&self, kid: &str) -> Value {
        let alg = self.algorithm().as_str();
        match self {
            Self::Rsa { n, e } => {
                json!({ "kty": "RSA", "use": "sig", "alg": alg, "kid": kid, "n": n, "e": e })
            }
            Self::Ec { x, y } => json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": alg, "kid": kid, "x": x, "y": y
            }),
            Self::Okp { x } => json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": alg, "kid": kid, "x": x
            }),
        }
    }

    /// Reads the members of a stored JWK of `alg`; `None` when it is not a key of that kind.
    #[must_use]
    pub fn from_jwk(alg: SigningAlgorithm, jwk: &Value) -> Option<Self> {
        let member = |name: &str| jwk.get(name).and_then(Value::as_str).map(str::to_owned);
        let is = |name: &str, want: &str| jwk.get(name).and_then(Value::as_str) == Some(want);
        match alg {
            SigningAlgorithm::Rs256 if is("kty", "RSA") => Some(Self::Rsa {
                n: member("n")?,
                e: member("e")?,
            }),
            SigningAlgorithm::Es256 if is("kty", "EC") && is("crv", "P-256") => Some(Self::Ec {
                x: member("x")?,
                y: member("y")?,
            }),
            SigningAlgorithm::EdDsa if is("kty", "OKP") && is("crv", "Ed25519") => {
                Some(Self::Okp { x: member("x")? })
            }
            _ => None,
        }
    }

    /// A jsonwebtoken key that verifies this key's signatures.
    ///
    /// # Errors
    /// A member that is not base64url.
    pub fn decoding_key(&self) -> jsonwebtoken::errors::Result<DecodingKey> {
        match self {
            Self::Rsa { n, e } => DecodingKey::from_rsa_components(n, e),
            Self::Ec { x, y } => DecodingKey::from_ec_components(x, y),
            Self::Okp { x } => DecodingKey::from_ed_components(x),
        }
    }
}

/// A private key, parsed once, ready to sign.
pub enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rsa(_) => "Signer(RS256)",
            Self::Ec(_) => "Signer(ES256)",
            Self::Ed(_) => "Signer(EdDSA)",
        })
    }
}

/// A key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

fn key_error(e: impl fmt::Display) -> KeyError {
    KeyError(e.to_string())
}

impl Signer {
    /// The algorithm this key signs with.
    #[must_use]
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self {
            Self::Rsa(_) => SigningAlgorithm::Rs256,
            Self::Ec(_) => SigningAlgorithm::Es256,
            Self::Ed(_) => SigningAlgorithm::EdDsa,
        }
    }

    /// The JWS signature of `message` (for ES256 the fixed-width R || S of RFC 7518 §3.4).
    ///
    /// # Errors
    /// A failure of the system random source (RS256 blinding, ES256 nonces).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            Self::Rsa(pair) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut out,
                )
                .map_err(|_| KeyError("RS256 signing failed".into()))?;
                Ok(out)
            }
            Self::Ec(pair) => Ok(pair
                .sign(&SystemRandom::new(), message)
                .map_err(|_| KeyError("ES256 signing failed".into()))?
                .as_ref()
                .to_vec()),
            Self::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// A compact JWS (RFC 7515 §7.1) of `claims` under `header`; `header` names this key's
    /// algorithm ([`jws_header`]).
    ///
    /// # Errors
    /// Serialisation or signing failure.
    pub fn sign_jws(&self, header: &Value, claims: &impl Serialize) -> Result<String, KeyError> {
        let header = serde_json::to_vec(header).map_err(key_error)?;
        let claims = serde_json::to_vec(claims).map_err(key_error)?;
        let mut jws = URL_SAFE_NO_PAD.encode(header);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut jws);
        let signature = self.sign(jws.as_bytes())?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
        Ok(jws)
    }
}

/// The JOSE header of a token signed with `alg` by key `kid`.
#[must_use]
pub fn jws_header(alg: SigningAlgorithm, typ: &str, kid: &str) -> Value {
    json!({ "alg": alg.as_str(), "typ": typ, "kid": kid })
}

/// A fresh private key of `alg`, as PKCS#8 DER. RSA takes a while: call off the async threads.
///
/// # Errors
/// A failure of the system random source.
pub fn generate_pkcs8(alg: SigningAlgorithm) -> Result<Vec<u8>, KeyError> {
    let rng = SystemRandom::new();
    match alg {
        SigningAlgorithm::Rs256 => {
            let private =
                RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS).map_err(key_error)?;
            Ok(private
                .to_pkcs8_der()
                .map_err(key_error)?
                .as_bytes()
                .to_vec())
        }
        SigningAlgorithm::Es256 => Ok(EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .map_err(|_| KeyError("P-256 key generation failed".into()))?
        .as_ref()
        .to_vec()),
        SigningAlgorithm::EdDsa => Ok(Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| KeyError("Ed25519 key generation failed".into()))?
            .as_ref()
            .to_vec()),
    }
}

/// Opens a PKCS#8 private key of `alg`: the signer and its public members.
///
/// # Errors
/// A key that is not a valid key of `alg`.
pub fn open_pkcs8(alg: SigningAlgorithm, der: &[u8]) -> Result<(Signer, PublicParams), KeyError> {
    match alg {
        SigningAlgorithm::Rs256 => {
            let private = RsaPrivateKey::from_pkcs8_der(der).map_err(key_error)?;
            let public = RsaPublicKey::from(&private);
            let params = PublicParams::Rsa {
                n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            };
            let pair = RsaKeyPair::from_pkcs8(der).map_err(key_error)?;
            Ok((Signer::Rsa(pair), params))
        }
        SigningAlgorithm::Es256 => {
            let pair = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der,
                &SystemRandom::new(),
            )
            .map_err(key_error)?;
            // Uncompressed SEC1 point: 0x04 || x || y, 32 bytes each.
            let point = pair.public_key().as_ref();
            let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
                return Err(KeyError("unexpected P-256 public key length".into()));
            };
            let params = PublicParams::Ec {
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            };
            Ok((Signer::Ec(pair), params))
        }
        SigningAlgorithm::EdDsa => {
            let pair = Ed25519KeyPair::from_pkcs8(der).map_err(key_error)?;
            let params = PublicParams::Okp {
                x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            };
            Ok((Signer::Ed(pair), params))
        }
    }
}
