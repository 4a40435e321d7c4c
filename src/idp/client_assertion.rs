//! `client_auth = "private_key_jwt"`: dcr-bridge authenticates at the upstream token endpoint
//! with a JWT signed by its own key (RFC 7523 §2.2 and §3, OIDC Core §9), the way Entra ID
//! certificate credentials work. openidconnect has no client assertion support, so the
//! assertion is built here with jsonwebtoken and sent as two extra form parameters.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::ExposeSecret as _;
use serde::Serialize;

use super::IdpError;
use crate::config::{thumbprint_bytes, UpstreamClientAuth, UpstreamConfig};

/// RFC 7523 §2.2 `client_assertion_type`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of one assertion. Entra refuses assertions valid for more than 10 minutes
/// (AADSTS700024 once outside their validity); one token request needs seconds.
const LIFETIME_SECONDS: i64 = 300;

/// Our signing key for the upstream token endpoint and the header that names its certificate.
pub struct ClientAssertion {
    client_id: String,
    key: EncodingKey,
    header: Header,
}

impl std::fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAssertion")
            .field("client_id", &self.client_id)
            .field("x5t", &self.header.x5t)
            .field("x5t#S256", &self.header.x5t_s256)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

impl ClientAssertion {
    /// The signer for `config`, when its `client_auth` is `private_key_jwt`.
    ///
    /// # Errors
    /// `IdpError::Config` when the key (validated at load) cannot be used.
    pub fn for_config(config: &UpstreamConfig) -> Result<Option<Self>, IdpError> {
        if config.client_auth != UpstreamClientAuth::PrivateKeyJwt {
            return Ok(None);
        }
        let bad = |what: &str| IdpError::Config(format!("upstream {}: {what}", config.id));
        let pem = config
            .private_key_pem
            .as_ref()
            .ok_or_else(|| bad("private_key_file is required for private_key_jwt"))?;
        let key = EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes())
            .map_err(|_| bad("private_key_file is not a PEM RSA private key"))?;
        let mut header = Header::new(Algorithm::RS256);
        if let Some(raw) = &config.certificate_thumbprint {
            let bytes =
                thumbprint_bytes(raw).ok_or_else(|| bad("certificate_thumbprint is not hex"))?;
            // RFC 7515 §4.1.7 / §4.1.8: base64url of the thumbprint's bytes, by its length.
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
            if bytes.len() == 20 {
                header.x5t = Some(b64);
            } else {
                header.x5t_s256 = Some(b64);
            }
        }
        Ok(Some(Self {
            client_id: config.client_id.clone(),
            key,
            header,
        }))
    }

    /// The form parameters of one token request to `token_endpoint` at `now` (unix seconds):
    /// `client_assertion_type` and a fresh `client_assertion` (its own `jti`: RFC 7523 §3
    /// lets the upstream refuse a replayed one).
    ///
    /// # Errors
    /// `IdpError::Config` when signing fails.
    pub fn params(
        &self,
        token_endpoint: &str,
        now: i64,
    ) -> Result<[(&'static str, String); 2], IdpError> {
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            // RFC 7523 §3: the token endpoint's URL identifies the authorization server
            // (Entra requires exactly it).
            aud: token_endpoint,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(LIFETIME_SECONDS),
        };
        let jwt = jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map_err(|e| IdpError::Config(format!("signing the client assertion: {e}")))?;
        Ok([
            ("client_assertion_type", ASSERTION_TYPE.to_owned()),
            ("client_assertion", jwt),
        ])
    }
}

#[cfg(test)]
#[path = "client_assertion_tests.rs"]
mod tests;
