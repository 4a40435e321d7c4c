//! `[[clients]]` entries that are machine clients (the MCP client-credentials extension,
//! `io.modelcontextprotocol/oauth-client-credentials`): `service_account = { resources, scopes }`
//! lets a confidential static client use `grant_type=client_credentials` for those resources
//! and scopes only. Also the `private_key_jwt` key set (`jwks`, RFC 7523 §2.2) any confidential
//! static client may authenticate with.

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use serde::{Deserialize, Serialize};

use super::{invalid, Config, ConfigError, StaticClientConfig};

/// Most keys accepted in one client's `jwks` (a rotation needs two; more is a mistake).
pub const MAX_CLIENT_KEYS: usize = 10;

/// What a machine client may ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountConfig {
    /// Ids of the `[[resources]]` it may get tokens for (at least one).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Scopes it may get; empty: every scope of its resources. A token for a resource carries
    /// only scopes that resource understands.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Parses a client's `jwks` (a JSON JWK set) into keys we can verify with: RSA, EC P-256/384
/// or Ed25519 public keys, no private parts, unique `kid`s when there are several.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_client_jwks(text: &str) -> Result<JwkSet, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a JSON JWK set: {e}"))?;
    // A private key pasted by mistake must not be accepted (nor kept in our config dump).
    let private = value
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|keys| keys.iter().any(|k| k.get("d").is_some()));
    if private {
        return Err("contains a private key (\"d\"): give the public keys only".to_owned());
    }
    let set: JwkSet =
        serde_json::from_value(value).map_err(|e| format!("not a JSON JWK set: {e}"))?;
    if set.keys.is_empty() || set.keys.len() > MAX_CLIENT_KEYS {
        return Err(format!("give 1 to {MAX_CLIENT_KEYS} keys"));
    }
    for key in &set.keys {
        if matches!(key.algorithm, AlgorithmParameters::OctetKey(_)) {
            return Err("symmetric (oct) keys are not accepted: give public keys".to_owned());
        }
    }
    if set.keys.len() > 1 {
        let mut kids: Vec<&str> = Vec::new();
        for key in &set.keys {
            match key.common.key_id.as_deref() {
                Some(kid) if !kids.contains(&kid) => kids.push(kid),
                _ => return Err("with several keys each needs its own \"kid\"".to_owned()),
            }
        }
    }
    Ok(set)
}

impl Config {
    /// The `[[clients]]` checks of service accounts and `private_key_jwt`; the rest is in
    /// `clients.rs`.
    pub(super) fn validate_service_account(
        &self,
        i: usize,
        c: &StaticClientConfig,
    ) -> Result<(), ConfigError> {
        let key = |f: &str| format!("clients[{i}].{f}");
        match (c.token_endpoint_auth_method.as_str(), &c.jwks) {
            ("private_key_jwt", None) => {
                return Err(invalid(
                    key("jwks"),
                    "required for private_key_jwt: the client's public keys as a JSON JWK set",
                ))
            }
            ("private_key_jwt", Some(text)) => {
                parse_client_jwks(text).map_err(|m| invalid(key("jwks"), m))?;
            }
            (_, Some(_)) => {
                return Err(invalid(
                    key("jwks"),
                    "only for token_endpoint_auth_method = \"private_key_jwt\"",
                ))
            }
            (_, None) => {}
        }
        let Some(sa) = &c.service_account else {
            return Ok(());
        };
        if c.token_endpoint_auth_method == "none" {
            return Err(invalid(
                key("token_endpoint_auth_method"),
                "a service account is a confidential client: client_secret_basic, \
                 client_secret_post or private_key_jwt",
            ));
        }
        if !c.redirect_uris.is_empty() {
            return Err(invalid(
                key("redirect_uris"),
                "a service account signs no user in: leave redirect_uris out",
            ));
        }
        if sa.resources.is_empty() {
            return Err(invalid(
                key("service_account.resources"),
                "name at least one [[resources]] id",
            ));
        }
        for (j, id) in sa.resources.iter().enumerate() {
            if !self.resources.iter().any(|r| &r.id == id) {
                return Err(invalid(
                    format!("clients[{i}].service_account.resources[{j}]"),
                    format!("no [[resources]] entry with id {id:?}"),
                ));
            }
            if sa.resources[..j].contains(id) {
                return Err(invalid(
                    format!("clients[{i}].service_account.resources[{j}]"),
                    "listed twice",
                ));
            }
        }
        for (j, scope) in sa.scopes.iter().enumerate() {
            let known = self
                .resources
                .iter()
                .filter(|r| sa.resources.contains(&r.id))
                .any(|r| r.scopes.contains(scope));
            if !known {
                return Err(invalid(
                    format!("clients[{i}].service_account.scopes[{j}]"),
                    format!("{scope:?} is not a scope of any of the service account's resources"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "service_accounts_tests.rs"]
mod tests;
