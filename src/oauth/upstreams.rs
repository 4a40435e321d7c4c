//! The upstream identity providers as the core sees them: each configured upstream's
//! [`UpstreamIdp`] (the only door to openidconnect, in idp/) with what the flow needs to know
//! about it beside the protocol (its access policy, the name the consent page shows, the client
//! id registered there). Held by [`super::Core`], so services reach an IdP without the HTTP
//! layer.

use std::sync::Arc;

use crate::config::{AccessPolicy, UpstreamConfig, UpstreamKind, UpstreamRefresh};
use crate::idp::UpstreamIdp;

/// One configured upstream.
#[derive(Clone)]
pub struct Upstream {
    /// Configured id (stored on clients and pending requests).
    pub id: String,
    /// The configured issuer (GitHub: its web base), for status records.
    pub issuer: String,
    /// How the consent page names the upstream: the issuer's host.
    pub display_name: String,
    /// The ONE client id dcr-bridge is registered under there (COMPAT C13 recognises it).
    pub client_id: String,
    /// The configured kind (`oidc`, `okta`, `entra`, `google`, `github`).
    pub kind: UpstreamKind,
    /// Who may sign in, beyond the upstream's own rules.
    pub policy: AccessPolicy,
    /// When our refresh refreshes upstream first (the token vault, [`super::vault`]).
    pub refresh: UpstreamRefresh,
    /// The implementation.
    pub idp: Arc<dyn UpstreamIdp>,
}

impl Upstream {
    /// An upstream from its configuration and its built implementation.
    #[must_use]
    pub fn new(config: &UpstreamConfig, idp: Arc<dyn UpstreamIdp>) -> Self {
        Self {
            id: config.id.clone(),
            issuer: config.home(),
            display_name: url::Url::parse(&config.home())
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| config.id.clone()),
            client_id: config.client_id.clone(),
            kind: config.kind,
            policy: config.policy.clone(),
            refresh: config.refresh,
            idp,
        }
    }
}

/// Every configured upstream, in configuration order.
#[derive(Clone, Default)]
pub struct Upstreams(Vec<Upstream>);

impl Upstreams {
    /// The set, from upstreams in configuration order.
    #[must_use]
    pub fn new(upstreams: Vec<Upstream>) -> Self {
        Self(upstreams)
    }

    /// The upstream with this id.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Upstream> {
        self.0.iter().find(|u| u.id == id)
    }

    /// All of them.
    pub fn iter(&self) -> impl Iterator<Item = &Upstream> {
        self.0.iter()
    }

    /// Whether `client_id` is the id dcr-bridge itself is registered under at some upstream
    /// (COMPAT C13: users paste it into their MCP client by mistake).
    #[must_use]
    pub fn is_upstream_client_id(&self, client_id: &str) -> bool {
        self.0.iter().any(|u| u.client_id == client_id)
    }
}
