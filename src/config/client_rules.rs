//! `[[client_rules]]`: per-client quirks (COMPAT C9, C22) and the client→upstream mapping. A
//! rule matches clients by the host or scheme of their redirect URIs, their RFC 7591
//! `software_id`, or the domain of their Client ID Metadata Document, and changes what they get:
//! whether authorization responses carry RFC 9207 `iss`, how long their access tokens live, and
//! which upstream their users sign in at (stored on the client at registration).

use serde::{Deserialize, Serialize};

use super::{invalid, Config, ConfigError};

/// One rule. The first rule (in file order) whose `match` fits a client applies to it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientRuleConfig {
    /// Which clients: every key given must fit.
    #[serde(rename = "match")]
    pub matches: ClientMatch,
    /// Whether authorization responses (codes and errors) carry `iss` (RFC 9207 §2); unset
    /// keeps the default, `true`.
    #[serde(default)]
    pub send_iss: Option<bool>,
    /// Access-token lifetime in seconds for these clients; unset keeps `tokens.access_token_ttl`.
    #[serde(default)]
    pub access_token_ttl: Option<i64>,
    /// The upstream these clients map to, recorded on the client when it registers (DCR, a
    /// CIMD client's first use, a static client without its own `upstream`). A resource that
    /// does not list it refuses the client (`invalid_target`). Unset: no mapping.
    #[serde(default)]
    pub upstream: Option<String>,
}

/// What a rule matches on. At least one key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientMatch {
    /// Every redirect URI of the client is `https` on exactly this host (case-insensitive, no
    /// port): a client that adds one redirect URI elsewhere does not get the rule.
    #[serde(default)]
    pub redirect_host: Option<String>,
    /// The client's registered `software_id` equals this (RFC 7591 §2; self-asserted, so only
    /// for settings a client could not abuse against its own users).
    #[serde(default)]
    pub software_id: Option<String>,
    /// The client_id is a Client ID Metadata Document URL on exactly this host.
    #[serde(default)]
    pub cimd_domain: Option<String>,
    /// Every redirect URI of the client has this scheme (lowercase, e.g. `cursor` or
    /// `https`).
    #[serde(default)]
    pub redirect_scheme: Option<String>,
}

/// A host name as written in a rule: lowercase DNS-like labels, no port, scheme or path.
fn is_host(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A URI scheme as written in a rule (RFC 3986 §3.1, lowercase).
fn is_scheme(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'+' || b == b'-' || b == b'.'
        })
}

impl Config {
    pub(super) fn validate_client_rules(&self) -> Result<(), ConfigError> {
        for (i, r) in self.client_rules.iter().enumerate() {
            let key = |f: &str| format!("client_rules[{i}].{f}");
            let m = &r.matches;
            if m.redirect_host.is_none()
                && m.software_id.is_none()
                && m.cimd_domain.is_none()
                && m.redirect_scheme.is_none()
            {
                return Err(invalid(
                    key("match"),
                    "give at least one of redirect_host, redirect_scheme, software_id, cimd_domain",
                ));
            }
            if m.redirect_scheme.as_deref().is_some_and(|s| !is_scheme(s)) {
                return Err(invalid(
                    key("match.redirect_scheme"),
                    "a lowercase URI scheme such as https or cursor, without ':'",
                ));
            }
            if let Some(u) = &r.upstream {
                if !self.upstreams.iter().any(|o| &o.id == u) {
                    return Err(invalid(key("upstream"), format!("no upstream with id {u}")));
                }
            }
            for (name, host) in [
                ("match.redirect_host", &m.redirect_host),
                ("match.cimd_domain", &m.cimd_domain),
            ] {
                if host.as_deref().is_some_and(|h| !is_host(h)) {
                    return Err(invalid(
                        key(name),
                        "a lowercase host name such as claude.ai, without scheme, port or path",
                    ));
                }
            }
            if m.software_id
                .as_deref()
                .is_some_and(|s| s.is_empty() || s.len() > 255)
            {
                return Err(invalid(key("match.software_id"), "1-255 characters"));
            }
            if r.send_iss.is_none() && r.access_token_ttl.is_none() && r.upstream.is_none() {
                return Err(invalid(
                    key("match"),
                    "the rule changes nothing: set send_iss, access_token_ttl or upstream",
                ));
            }
            // No access token outlives the bound on a sign-in (`tokens.session_max_age`), so a
            // user disabled at the IdP still loses access within it.
            if let Some(ttl) = r.access_token_ttl {
                if ttl <= 0 || ttl > self.tokens.session_max_age {
                    return Err(invalid(
                        key("access_token_ttl"),
                        format!(
                            "must be 1 to tokens.session_max_age ({}) seconds",
                            self.tokens.session_max_age
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
