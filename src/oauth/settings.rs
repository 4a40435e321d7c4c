//! The protocol view of configuration: issuer, resources with their URIs, lifetimes.

use crate::config::{CimdSettings, ClientRuleConfig, Config, RegistrationSettings, TokenSettings};
use crate::store::ClientRecord;

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
    /// The upstreams its users may sign in at, in configured order (at least one); a sign-in
    /// never happens anywhere else.
    pub upstreams: Vec<String>,
    /// Its own access policy and group→scope mapping (`oauth::access`).
    pub access: crate::oauth::access::ResourceAccess,
    /// The client its MCP server authenticates as for token exchange (RFC 8693), if enabled.
    pub token_exchange_client: Option<String>,
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
    /// Upstream that static clients without their own `upstream` or a rule map to (the first
    /// configured).
    pub default_upstream: String,
    /// Home-realm discovery: email domain → the upstream that claims it (`[[upstreams]]
    /// domains`; configuration loading refuses a domain claimed twice).
    pub home_realms: Vec<(String, String)>,
    /// Per-client quirks (COMPAT C9, C22), first match wins.
    pub client_rules: Vec<ClientRuleConfig>,
    /// Client ID Metadata Documents.
    pub cimd: CimdSettings,
    /// Service accounts and `private_key_jwt` keys of static clients.
    pub machine: crate::oauth::service_accounts::MachineClients,
    /// Enterprise IdPs whose ID-JAGs the `jwt-bearer` grant accepts.
    pub enterprise_idps: Vec<crate::oauth::enterprise_idps::EnterpriseIdp>,
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
                upstreams: config.resource_upstreams(r),
                access: crate::oauth::access::ResourceAccess {
                    policy: r.policy.clone(),
                    scope_grants: r.scope_grants.clone(),
                },
                token_exchange_client: r.token_exchange_client.clone(),
            })
            .collect();
        let home_realms = config
            .upstreams
            .iter()
            .flat_map(|u| u.domains.iter().map(|d| (d.clone(), u.id.clone())))
            .collect();
        let machine = crate::oauth::service_accounts::MachineClients::from_config(config, &issuer);
        Self {
            issuer,
            resources,
            tokens: config.tokens.clone(),
            registration: config.registration.clone(),
            default_upstream,
            home_realms,
            client_rules: config.client_rules.clone(),
            cimd: config.cimd.clone(),
            machine,
            enterprise_idps: crate::oauth::enterprise_idps::from_config(config),
        }
    }

    /// Whether authorization responses to `client` carry `iss` (RFC 9207 §2; COMPAT C9).
    /// Default yes: the TS SDK 2.x, the Python SDK and mcp-remote check it when present, and
    /// since our metadata advertises `authorization_response_iss_parameter_supported` the TS SDK
    /// 2.x and the Python SDK refuse a response without it. A rule turns it off only for
    /// clients known to choke on it.
    #[must_use]
    pub fn sends_iss(&self, client: &ClientRecord) -> bool {
        crate::oauth::client_rules::rule_for(&self.client_rules, client)
            .and_then(|r| r.send_iss)
            .unwrap_or(true)
    }

    /// The issuer to put in an authorization response to `client`, if any.
    #[must_use]
    pub fn response_iss(&self, client: &ClientRecord) -> Option<&str> {
        self.sends_iss(client).then_some(self.issuer.as_str())
    }

    /// Access-token lifetime for `client` (COMPAT C22: a connector that never refreshes gets
    /// a longer one without lengthening everyone's).
    #[must_use]
    pub fn access_token_ttl(&self, client: &ClientRecord) -> i64 {
        crate::oauth::client_rules::rule_for(&self.client_rules, client)
            .and_then(|r| r.access_token_ttl)
            .unwrap_or(self.tokens.access_token_ttl)
    }

    /// The longest access-token lifetime any client gets: how long a retired signing key must
    /// stay published.
    #[must_use]
    pub fn max_access_token_ttl(&self) -> i64 {
        self.client_rules
            .iter()
            .filter_map(|r| r.access_token_ttl)
            .fold(self.tokens.access_token_ttl, i64::max)
    }

    /// The upstream `[[client_rules]]` map `client` to, `""` when none (stored at
    /// registration as the client's `upstream_id`).
    #[must_use]
    pub fn mapped_upstream(&self, client: &ClientRecord) -> String {
        crate::oauth::client_rules::mapped_upstream(&self.client_rules, client)
    }

    /// The upstream whose `domains` hold `domain` (lowercase), for home-realm discovery.
    #[must_use]
    pub fn home_realm(&self, domain: &str) -> Option<&str> {
        self.home_realms
            .iter()
            .find(|(d, _)| d == domain)
            .map(|(_, u)| u.as_str())
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

    /// The resource whose MCP server authenticates as `client_id` for token exchange.
    #[must_use]
    pub fn exchange_resource(&self, client_id: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.token_exchange_client.as_deref() == Some(client_id))
    }

    /// Whether any resource has token exchange enabled (AS metadata advertises the grant).
    #[must_use]
    pub fn token_exchange_enabled(&self) -> bool {
        self.resources
            .iter()
            .any(|r| r.token_exchange_client.is_some())
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
