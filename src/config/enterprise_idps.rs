//! `[[enterprise_idps]]`: enterprise identity providers whose Identity Assertion JWT
//! Authorization Grants (ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant; the MCP
//! extension `io.modelcontextprotocol/enterprise-managed-authorization`) we accept with
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.

use serde::{Deserialize, Serialize};

use super::{invalid, parse_client_jwks, Config, ConfigError};

/// One trusted enterprise IdP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseIdpConfig {
    /// Short identifier (users it vouches for are kept under it).
    pub id: String,
    /// Its issuer, exactly as in the ID-JAG's `iss`.
    pub issuer: String,
    /// Its public signing keys, a JSON JWK set.
    pub jwks: String,
    /// Our client ids that may present its ID-JAGs (the ID-JAG's `client_id` claim must also
    /// be the presenting client).
    pub allowed_client_ids: Vec<String>,
}

impl Config {
    pub(super) fn validate_enterprise_idps(&self) -> Result<(), ConfigError> {
        for (i, e) in self.enterprise_idps.iter().enumerate() {
            let key = |f: &str| format!("enterprise_idps[{i}].{f}");
            let id_ok = (1..=64).contains(&e.id.len())
                && e.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !id_ok {
                return Err(invalid(key("id"), "1 to 64 of A-Z a-z 0-9 - _ ."));
            }
            if self.enterprise_idps[..i].iter().any(|o| o.id == e.id) {
                return Err(invalid(key("id"), "duplicate id"));
            }
            if self.upstreams.iter().any(|u| u.id == e.id) {
                return Err(invalid(
                    key("id"),
                    "must differ from every [[upstreams]] id",
                ));
            }
            let issuer_ok = url::Url::parse(&e.issuer).is_ok_and(|u| {
                (u.scheme() == "https" || (self.allow_insecure_http && u.scheme() == "http"))
                    && u.host_str().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
            if !issuer_ok {
                return Err(invalid(
                    key("issuer"),
                    "an https URL with a host and no query or fragment",
                ));
            }
            if self.enterprise_idps[..i]
                .iter()
                .any(|o| o.issuer == e.issuer)
            {
                return Err(invalid(key("issuer"), "duplicate issuer"));
            }
            parse_client_jwks(&e.jwks).map_err(|m| invalid(key("jwks"), m))?;
            if e.allowed_client_ids.is_empty() {
                return Err(invalid(
                    key("allowed_client_ids"),
                    "name at least one client id that may present this IdP's ID-JAGs",
                ));
            }
            if e.allowed_client_ids.iter().any(String::is_empty) {
                return Err(invalid(key("allowed_client_ids"), "empty client id"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "enterprise_idps_tests.rs"]
mod tests;
