//! The `[[resources]]` keys that hand a user's upstream access token to the resource's MCP
//! server (issue 13 item 5, docs/token-exchange.md): `token_exchange_client` (RFC 8693 at
//! `/token`) and `upstream_token_header` (gateway injection). Both are off unless an admin names
//! them, and each is checked here at load so a mistake stops the start, naming the key.

use secrecy::ExposeSecret as _;

use super::gateway::check_header_name;
use super::{invalid, Config, ConfigError};

impl Config {
    pub(super) fn validate_token_exchange(&self) -> Result<(), ConfigError> {
        for (i, r) in self.resources.iter().enumerate() {
            let key = |f: &str| format!("resources[{i}].{f}");
            if let Some(client_id) = &r.token_exchange_client {
                self.check_exchange_client(&key("token_exchange_client"), client_id)?;
                if let Some(other) = self.resources[..i]
                    .iter()
                    .find(|o| o.token_exchange_client.as_ref() == Some(client_id))
                {
                    return Err(invalid(
                        key("token_exchange_client"),
                        format!(
                            "client {client_id:?} already exchanges tokens for resource {:?}; \
                             one client per resource, so a token exchanged is always for the \
                             resource whose MCP server authenticated",
                            other.id
                        ),
                    ));
                }
            }
            if let Some(name) = &r.upstream_token_header {
                let k = key("upstream_token_header");
                if r.upstream_url.is_none() {
                    return Err(invalid(
                        k,
                        "only a resource with upstream_url (gateway mode) forwards requests",
                    ));
                }
                let lower = name.to_ascii_lowercase();
                check_header_name(&k, &lower)?;
                if r.identity_headers
                    .named()
                    .iter()
                    .any(|(_, other)| *other == lower)
                {
                    return Err(invalid(k, format!("{lower} is already an identity header")));
                }
            }
        }
        Ok(())
    }

    /// The exchange client must be a `[[clients]]` entry that authenticates with a secret: the
    /// upstream token goes only to a caller that proves it is the resource's MCP server.
    fn check_exchange_client(&self, key: &str, client_id: &str) -> Result<(), ConfigError> {
        let Some(c) = self.clients.iter().find(|c| c.client_id == client_id) else {
            return Err(invalid(
                key,
                format!("no [[clients]] entry with client_id {client_id:?}"),
            ));
        };
        let confidential = c.token_endpoint_auth_method != "none"
            && c.client_secret
                .as_ref()
                .is_some_and(|s| !s.expose_secret().is_empty());
        if !confidential {
            return Err(invalid(
                key,
                format!(
                    "client {client_id:?} is public; give it client_secret_basic or \
                     client_secret_post and a client_secret"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "token_exchange_tests.rs"]
mod tests;
