//! The `[cimd]` section: whether an `https` client_id is resolved as a Client ID Metadata
//! Document (draft-ietf-oauth-client-id-metadata-document, MCP 2025-11-25 §Client ID Metadata
//! Documents), for which hosts, and the bounds of the fetch and of the cache.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

/// Client ID Metadata Documents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CimdSettings {
    /// Whether URL client ids are fetched and advertised (`client_id_metadata_document_supported`).
    pub enabled: bool,
    /// Hosts whose documents are accepted: `example.com` (that host only) or `*.example.com`
    /// (any host below it, not the domain itself). Empty accepts any host.
    pub allowed_domains: Vec<String>,
    /// Largest document accepted, in bytes (CIMD-00 §Maximum Response Size recommends 5 KB).
    pub max_document_bytes: usize,
    /// Whole-fetch limit (connect, TLS, headers, body), in milliseconds.
    pub fetch_timeout_ms: u64,
    /// Bounds on how long a fetched document is trusted, whatever its `Cache-Control: max-age`
    /// says (CIMD-00 §Metadata Caching allows our own bounds). A response without `max-age` is
    /// kept for the minimum.
    pub cache_min_seconds: u64,
    pub cache_max_seconds: u64,
    /// How long a stored document may still be used when refetching it fails transiently
    /// (unreachable host, timeout, HTTP 5xx or 429), counted from its last successful fetch
    /// (RFC 5861 `stale-if-error` spirit). 0 refuses the client at the first failure.
    pub stale_if_error_seconds: u64,
    /// UNSAFE, for tests only: accept `http` client ids on loopback hosts and fetch from loopback
    /// addresses. Never enable it in production: any local service becomes fetchable.
    pub allow_loopback_for_tests: bool,
}

impl Default for CimdSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_domains: Vec::new(),
            max_document_bytes: 5 * 1024,
            fetch_timeout_ms: 5_000,
            cache_min_seconds: 60,
            cache_max_seconds: 3_600,
            stale_if_error_seconds: 86_400,
            allow_loopback_for_tests: false,
        }
    }
}

/// Accepted range of `max_document_bytes`: below 1 KiB no real document fits; above 64 KiB the
/// fetch becomes a way to make us buffer attacker data.
const DOCUMENT_BYTES: std::ops::RangeInclusive<usize> = 1024..=64 * 1024;
/// Accepted range of `fetch_timeout_ms`.
const FETCH_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=30_000;
/// Longest `cache_max_seconds`: a day, so a changed or withdrawn document takes effect daily.
const MAX_CACHE_SECONDS: u64 = 86_400;
/// Longest `stale_if_error_seconds`: a week, so an unreachable host keeps a client at most that.
const MAX_STALE_SECONDS: u64 = 7 * 86_400;

impl CimdSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !DOCUMENT_BYTES.contains(&self.max_document_bytes) {
            return Err(invalid(
                "cimd.max_document_bytes",
                "must be 1024 to 65536 bytes",
            ));
        }
        if !FETCH_TIMEOUT_MS.contains(&self.fetch_timeout_ms) {
            return Err(invalid(
                "cimd.fetch_timeout_ms",
                "must be 100 to 30000 milliseconds",
            ));
        }
        if self.cache_max_seconds > MAX_CACHE_SECONDS {
            return Err(invalid(
                "cimd.cache_max_seconds",
                format!("must be at most {MAX_CACHE_SECONDS} seconds"),
            ));
        }
        if self.cache_min_seconds > self.cache_max_seconds {
            return Err(invalid(
                "cimd.cache_min_seconds",
                "must not exceed cache_max_seconds",
            ));
        }
        if self.stale_if_error_seconds > MAX_STALE_SECONDS {
            return Err(invalid(
                "cimd.stale_if_error_seconds",
                format!("must be at most {MAX_STALE_SECONDS} seconds"),
            ));
        }
        for (i, d) in self.allowed_domains.iter().enumerate() {
            let host = d.strip_prefix("*.").unwrap_or(d);
            let ok = !host.is_empty()
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                });
            if !ok {
                return Err(invalid(
                    format!("cimd.allowed_domains[{i}]"),
                    "must be a lowercase host name such as example.com or *.example.com",
                ));
            }
        }
        Ok(())
    }

    /// Whether `host` (as in the client id URL, lowercase) may publish documents: an exact entry,
    /// or a `*.domain` entry with `host` strictly below `domain`. Empty list: any host.
    #[must_use]
    pub fn domain_allowed(&self, host: &str) -> bool {
        self.allowed_domains.is_empty()
            || self
                .allowed_domains
                .iter()
                .any(|d| match d.strip_prefix("*.") {
                    Some(parent) => host
                        .strip_suffix(parent)
                        .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                    None => host == d,
                })
    }
}
