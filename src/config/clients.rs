//! `[[clients]]`: clients an admin pre-registers in the configuration (COMPAT C13), for MCP
//! clients that cannot do dynamic registration or insist on a fixed client_id.

use std::path::PathBuf;

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::{invalid, serialize_opt_secret, Config, ConfigError, ServiceAccountConfig};

/// One pre-registered (static) client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticClientConfig {
    /// The fixed client id the MCP client is configured with.
    pub client_id: String,
    /// Name shown on the consent page.
    #[serde(default)]
    pub client_name: Option<String>,
    /// Exact redirect URIs (loopback ones match any port, as for dynamic clients). Required,
    /// except for a service account, which has none.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// `none` (public, PKCE only), `client_secret_post`, `client_secret_basic` or
    /// `private_key_jwt` (RFC 7523 §2.2, keys in `jwks`).
    #[serde(default = "default_method")]
    pub token_endpoint_auth_method: String,
    /// Secret for the two secret methods; or give `client_secret_file`.
    #[serde(default, serialize_with = "serialize_opt_secret")]
    pub client_secret: Option<SecretString>,
    /// A file holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Upstream its users log in at; default: the first upstream.
    #[serde(default)]
    pub upstream: Option<String>,
    /// `private_key_jwt`: the client's public keys, a JSON JWK set (`{"keys":[…]}`).
    #[serde(default)]
    pub jwks: Option<String>,
    /// A machine client (MCP client-credentials extension): may use
    /// `grant_type=client_credentials` for these resources and scopes, and nothing else.
    #[serde(default)]
    pub service_account: Option<ServiceAccountConfig>,
}

fn default_method() -> String {
    "none".to_owned()
}

impl Config {
    pub(super) fn resolve_client_secret_files(&mut self) -> Result<(), ConfigError> {
        for (i, c) in self.clients.iter_mut().enumerate() {
            if let Some(path) = &c.client_secret_file {
                if c.client_secret.is_some() {
                    return Err(invalid(
                        format!("clients[{i}].client_secret_file"),
                        "give client_secret or client_secret_file, not both",
                    ));
                }
                let content =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
                        var: format!("clients[{i}].client_secret_file"),
                        path: path.clone(),
                        source,
                    })?;
                c.client_secret = Some(SecretString::from(content.trim().to_owned()));
            }
        }
        Ok(())
    }

    pub(super) fn validate_clients(&self) -> Result<(), ConfigError> {
        for (i, c) in self.clients.iter().enumerate() {
            let key = |f: &str| format!("clients[{i}].{f}");
            let id_ok = (1..=128).contains(&c.client_id.len())
                && c.client_id.bytes().all(|b| b.is_ascii_graphic())
                && !c
                    .client_id
                    .starts_with(crate::oauth::crypto::CLIENT_ID_PREFIX)
                && !c.client_id.starts_with("http");
            if !id_ok {
                return Err(invalid(
                    key("client_id"),
                    "1-128 printable ASCII characters, not starting with dcrb_c_ (dynamic \
                     clients) or http (client ID metadata documents)",
                ));
            }
            if self.clients[..i].iter().any(|o| o.client_id == c.client_id) {
                return Err(invalid(key("client_id"), "duplicate client_id"));
            }
            if self.upstreams.iter().any(|u| u.client_id == c.client_id) {
                return Err(invalid(
                    key("client_id"),
                    "must differ from the upstream's client_id: that client belongs to the IdP",
                ));
            }
            if c.redirect_uris.is_empty() && c.service_account.is_none() {
                return Err(invalid(key("redirect_uris"), "at least one redirect URI"));
            }
            let has_secret = c
                .client_secret
                .as_ref()
                .is_some_and(|s| !s.expose_secret().is_empty());
            match (c.token_endpoint_auth_method.as_str(), has_secret) {
                ("none" | "private_key_jwt", false)
                | ("client_secret_post" | "client_secret_basic", true) => {}
                ("private_key_jwt", true) => {
                    return Err(invalid(
                        key("client_secret"),
                        "a private_key_jwt client has no secret",
                    ))
                }
                ("none", true) => {
                    return Err(invalid(
                        key("client_secret"),
                        "a public client (none) has no secret",
                    ))
                }
                ("client_secret_post" | "client_secret_basic", false) => {
                    return Err(invalid(
                        key("client_secret"),
                        "required for this auth method",
                    ))
                }
                _ => {
                    return Err(invalid(
                        key("token_endpoint_auth_method"),
                        "none, client_secret_post, client_secret_basic or private_key_jwt",
                    ))
                }
            }
            if let Some(u) = &c.upstream {
                if !self.upstreams.iter().any(|o| &o.id == u) {
                    return Err(invalid(key("upstream"), format!("no upstream with id {u}")));
                }
            }
            self.validate_service_account(i, c)?;
            // A service account signs no one in: its upstream does not matter.
            if c.service_account.is_none() {
                self.check_client_reaches_a_resource(i, c)?;
            }
        }
        Ok(())
    }

    /// A static client may ask only for resources that accept its upstream (see
    /// `oauth::upstream_choice`: the resource's list and the upstream's policy always decide).
    /// A client whose upstream no resource uses could never sign in, which is a configuration
    /// mistake better caught at start than as `invalid_target` at /authorize.
    fn check_client_reaches_a_resource(
        &self,
        i: usize,
        c: &StaticClientConfig,
    ) -> Result<(), ConfigError> {
        let Some(upstream) = c
            .upstream
            .as_deref()
            .or_else(|| self.upstreams.first().map(|u| u.id.as_str()))
        else {
            return Ok(());
        };
        let reachable = self
            .resources
            .iter()
            .any(|r| self.resource_upstreams(r).iter().any(|u| u == upstream));
        if reachable {
            return Ok(());
        }
        let how = if c.upstream.is_some() {
            "is"
        } else {
            "defaults to the first upstream,"
        };
        Err(invalid(
            format!("clients[{i}].upstream"),
            format!(
                "the client's upstream {how} {upstream:?}, but no [[resources]] entry accepts \
                 it, so the client could use no resource; set upstream to an upstream of \
                 the resources it is for (users always sign in at an upstream the resource lists)"
            ),
        ))
    }
}

#[cfg(test)]
#[path = "clients_tests.rs"]
mod tests;
