//! The protocol view of `[[enterprise_idps]]`: the enterprise IdPs whose ID-JAGs
//! (draft-ietf-oauth-identity-assertion-authz-grant) the `jwt-bearer` grant accepts, each with
//! its keys and the clients that may present its grants.

use jsonwebtoken::jwk::JwkSet;

use crate::config::{parse_client_jwks, Config};

/// One trusted enterprise IdP.
#[derive(Debug, Clone)]
pub struct EnterpriseIdp {
    /// Configured id; the users it vouches for are kept under it (`users.upstream_id`).
    pub id: String,
    /// Its issuer, compared exactly with the ID-JAG's `iss`.
    pub issuer: String,
    /// Its signing keys.
    pub keys: JwkSet,
    /// Our clients that may present its ID-JAGs.
    pub allowed_client_ids: Vec<String>,
}

/// From a validated configuration (entries whose keys fail to parse were refused at load).
#[must_use]
pub fn from_config(config: &Config) -> Vec<EnterpriseIdp> {
    config
        .enterprise_idps
        .iter()
        .filter_map(|e| {
            Some(EnterpriseIdp {
                id: e.id.clone(),
                issuer: e.issuer.clone(),
                keys: parse_client_jwks(&e.jwks).ok()?,
                allowed_client_ids: e.allowed_client_ids.clone(),
            })
        })
        .collect()
}
