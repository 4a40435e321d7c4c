//! The protocol view of machine clients (MCP client-credentials extension): which static
//! clients are service accounts, for which resources and scopes, and the `private_key_jwt`
//! keys (RFC 7523 §2.2) of the clients that authenticate with one. Built from the validated
//! configuration; the client record itself says `grant_types = ["client_credentials"]`.

use std::collections::HashMap;

use jsonwebtoken::jwk::JwkSet;

use super::Resource;
use crate::config::{parse_client_jwks, Config};

/// What one service account may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Canonical URIs of the resources it may get tokens for.
    pub resources: Vec<String>,
    /// Scopes it may get; empty: every scope of the resource asked for.
    pub scopes: Vec<String>,
}

impl ServiceAccount {
    /// The scopes it may get in a token for `resource`: its own list cut down to what the
    /// resource understands (all of the resource's when it has no list).
    #[must_use]
    pub fn allowed_scopes(&self, resource: &Resource) -> Vec<String> {
        resource
            .scopes
            .iter()
            .filter(|s| self.scopes.is_empty() || self.scopes.contains(s))
            .cloned()
            .collect()
    }
}

/// Service accounts and client key sets, by client id.
#[derive(Debug, Clone, Default)]
pub struct MachineClients {
    accounts: HashMap<String, ServiceAccount>,
    keys: HashMap<String, JwkSet>,
}

impl MachineClients {
    /// From a validated configuration (entries that fail to parse were refused at load).
    #[must_use]
    pub fn from_config(config: &Config, issuer: &str) -> Self {
        let mut out = Self::default();
        for c in &config.clients {
            if let Some(sa) = &c.service_account {
                let resources = config
                    .resources
                    .iter()
                    .filter(|r| sa.resources.contains(&r.id))
                    .map(|r| format!("{issuer}{}", r.path))
                    .collect();
                out.accounts.insert(
                    c.client_id.clone(),
                    ServiceAccount {
                        resources,
                        scopes: sa.scopes.clone(),
                    },
                );
            }
            if let Some(set) = c.jwks.as_deref().and_then(|t| parse_client_jwks(t).ok()) {
                out.keys.insert(c.client_id.clone(), set);
            }
        }
        out
    }

    /// The service account `client_id` is, if it is one.
    #[must_use]
    pub fn account(&self, client_id: &str) -> Option<&ServiceAccount> {
        self.accounts.get(client_id)
    }

    /// The `private_key_jwt` keys of `client_id`.
    #[must_use]
    pub fn keys(&self, client_id: &str) -> Option<&JwkSet> {
        self.keys.get(client_id)
    }

    /// Whether any service account is configured (metadata advertises the grant then).
    #[must_use]
    pub fn has_accounts(&self) -> bool {
        !self.accounts.is_empty()
    }

    /// Whether any client authenticates with `private_key_jwt` (metadata advertises it then).
    #[must_use]
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }
}
