//! The protocol view of configuration: issuer, resources with their URIs, lifetimes.

use crate::config::{CimdSettings, Config, RegistrationSettings, TokenSettings};

/// A protected resource tokens can be issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Configured id.
    pub id: String,
    /// Path on the public URL, e.g. `/mcp`.
    pub path: String,
    /// Canonical resource URI: issuer + path. Used as the token audience.
    pub uri: String,
    /// Scopes this resource understands (its default scope set).
    pub scopes: Vec<String>,
    /// The upstream its users log in at.
    pub upstream_id: String,
}

/// Everything the protocol core needs to know from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer, no trailing slash.
    pub issuer: String,
    /// Configured resources.
    pub resources: Vec<Resource>,
    /// Lifetimes.
    pub tokens: TokenSettings,
    /// DCR policy.
    pub registration: RegistrationSettings,
    /// Upstream that new dynamic clients map to (the first configured).
    pub default_upstream: String,
    /// Client ID Metadata Documents.
    pub cimd: CimdSettings,
}

impl Settings {
    /// Derives settings from a validated configuration.
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        let issuer = config.issuer();
        let default_upstream = config
            .upstreams
            .first()
            .map(|u| u.id.clone())
            .unwrap_or_default();
        let resources = config
            .resources
            .iter()
            .map(|r| Resource {
                id: r.id.clone(),
                path: r.path.clone(),
                uri: format!("{issuer}{}", r.path),
                scopes: r.scopes.clone(),
                upstream_id: config
                    .upstream_for(r)
                    .map_or_else(|| default_upstream.clone(), |u| u.id.clone()),
            })
            .collect();
        Self {
            issuer,
            resources,
            tokens: config.tokens.clone(),
            registration: config.registration.clone(),
            default_upstream,
            cimd: config.cimd.clone(),
        }
    }

    /// The resource whose canonical URI is exactly `uri`.
    #[must_use]
    pub fn resource_by_uri(&self, uri: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.uri == uri)
    }

    /// The metadata URL of a resource (RFC 9728 §3.1), what `WWW-Authenticate:
    /// resource_metadata` points to.
    #[must_use]
    pub fn resource_metadata_url(&self, r: &Resource) -> String {
        format!(
            "{}/.well-known/oauth-protected-resource{}",
            self.issuer, r.path
        )
    }

    /// Every scope any resource understands, plus `offline_access`, for metadata.
    #[must_use]
    pub fn scopes_supported(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.resources.iter().flat_map(|r| r.scopes.iter()) {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out.push("offline_access".to_owned());
        out
    }
}
