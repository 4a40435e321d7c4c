//! The hardened fetch of Client ID Metadata Documents (CIMD-00 §6 Security Considerations;
//! RFC 9700 §4.16 / OAuth BCP "SSRF against authorization servers"): anyone can make us GET a
//! URL of their choosing by sending it as a `client_id`, so:
//!
//! - DNS is resolved by us ([`GuardedResolver`]) and EVERY address checked by [`is_public_ip`]
//!   (private, loopback, link-local, unique-local, CGNAT, multicast, documentation, IPv4-mapped,
//!   NAT64, 6to4 ... refused); one bad address refuses the host, so a rebinding record set cannot
//!   mix a public and an internal answer. reqwest connects only to the addresses the resolver
//!   returned, so the check and the connection see the same address (no second lookup to
//!   rebind). IP-literal hosts bypass resolvers, so they are checked before the request.
//! - No proxy from the environment (it would resolve names for us), no redirects (a 3xx is a
//!   refusal), connect and total timeouts, `application/json` only, and the body streamed
//!   and cut off at the configured size.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};
use url::Url;

use super::http_client::{builder, error_chain};
use super::IdpError;
use crate::config::CimdSettings;
use crate::oauth::cimd::{ClientMetadataFetcher, FetchError, FetchedDocument};

/// Connection establishment limit (the total is `[cimd] fetch_timeout_ms`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The CIMD fetcher: one pooled client whose DNS goes through [`GuardedResolver`].
pub struct CimdFetcher {
    client: reqwest::Client,
    /// Under `allow_loopback_for_tests` only: the same client without certificate checks, used
    /// for loopback hosts alone, so tests (and the official SDKs, which insist on an `https`
    /// client id) can serve documents with a throwaway certificate.
    loopback_client: Option<reqwest::Client>,
    allow_loopback: bool,
    max_bytes: usize,
}

impl CimdFetcher {
    /// A fetcher under `[cimd]`'s limits.
    ///
    /// # Errors
    /// `IdpError::Config` when the TLS backend cannot be initialised.
    pub fn new(s: &CimdSettings) -> Result<Self, IdpError> {
        let timeout = Duration::from_millis(s.fetch_timeout_ms);
        let build = |accept_any_cert: bool| {
            builder()
                .no_proxy()
                .connect_timeout(CONNECT_TIMEOUT.min(timeout))
                .timeout(timeout)
                .dns_resolver(Arc::new(GuardedResolver {
                    allow_loopback: s.allow_loopback_for_tests,
                }))
                .danger_accept_invalid_certs(accept_any_cert)
                .build()
                .map_err(|e| {
                    IdpError::Config(format!(
                        "building the CIMD HTTP client: {}",
                        error_chain(&e)
                    ))
                })
        };
        Ok(Self {
            client: build(false)?,
            loopback_client: if s.allow_loopback_for_tests {
                Some(build(true)?)
            } else {
                None
            },
            allow_loopback: s.allow_loopback_for_tests,
            max_bytes: s.max_document_bytes,
        })
    }
}

#[async_trait]
impl ClientMetadataFetcher for CimdFetcher {
    async fn fetch(&self, url: &Url) -> Result<FetchedDocument, FetchError> {
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(FetchError::Unreachable),
        };
        if literal.is_some_and(|ip| !address_allowed(ip, self.allow_loopback)) {
            return Err(FetchError::ForbiddenAddress);
        }
        let client = match &self.loopback_client {
            Some(lax) if crate::config::is_loopback_url(url) => lax,
            _ => &self.client,
        };
        let mut response = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        if !is_json(response.headers().get(CONTENT_TYPE)) {
            return Err(FetchError::NotJson);
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let max_age = response
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(max_age)
            .fold(None, |acc: Option<u64>, v| match (acc, v) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            });
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchedDocument { body, max_age })
    }
}

fn transport(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let chain = error_chain(&e);
    if chain.contains(FORBIDDEN_MARK) {
        return FetchError::ForbiddenAddress;
    }
    tracing::info!(error = %chain, "client metadata document fetch failed");
    FetchError::Unreachable
}

/// `application/json` or any `+json` type, parameters ignored.
fn is_json(value: Option<&reqwest::header::HeaderValue>) -> bool {
    let Some(essence) = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|e| e.trim().to_ascii_lowercase())
    else {
        return false;
    };
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The `max-age` of one `Cache-Control` value (RFC 9111 §5.2.2.1); `no-store` and `no-cache`
/// count as 0. `None` when it says nothing about freshness.
#[must_use]
pub fn max_age(header: &str) -> Option<u64> {
    let mut out = None;
    for directive in header.split(',') {
        let directive = directive.trim();
        let (name, value) = directive
            .split_once('=')
            .map_or((directive, None), |(n, v)| (n.trim(), Some(v.trim())));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            out = value
                .map(|v| v.trim_matches('"'))
                .and_then(|v| v.parse::<u64>().ok())
                .or(Some(0));
        }
    }
    out
}

/// Marks the resolver's refusal in the error chain, so [`transport`] can name it.
const FORBIDDEN_MARK: &str = "cimd: address not allowed";

/// Resolves names with the system resolver and refuses the whole answer when any address in it
/// is not public. What it returns is what reqwest connects to: the address is pinned.
struct GuardedResolver {
    allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err("no addresses".into());
            }
            if addrs
                .iter()
                .any(|a| !address_allowed(a.ip(), allow_loopback))
            {
                return Err(FORBIDDEN_MARK.into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Public, or loopback when the test setting allows it.
fn address_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    is_public_ip(ip) || (allow_loopback && is_loopback(ip))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether `ip` is a globally routable unicast address we may fetch from. Refused: IANA special-
/// purpose ranges (RFC 6890 and its IPv4/IPv6 registries) — unspecified, loopback, private
/// (RFC 1918), CGNAT (RFC 6598), link-local, IETF protocol assignments, documentation,
/// benchmarking, multicast, reserved, broadcast; IPv6 unique-local, link- and site-local,
/// discard, Teredo, ORCHID, documentation; and every IPv6 form that embeds an IPv4 address
/// (mapped, compatible, NAT64, 6to4) unless the embedded address is itself public.
#[must_use]
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network" 0.0.0.0/8
        || a == 10                             // private
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 169 && b == 254)              // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || (a == 192 && b == 168)              // private
        || (a == 198 && (b == 18 || b == 19))  // benchmarking
        || (a == 198 && b == 51 && c == 100)   // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)    // TEST-NET-3
        || a >= 224) // multicast 224/4, reserved 240/4, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() {
        return false;
    }
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated): judge the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        return false;
    }
    // NAT64 well-known prefix 64:ff9b::/96 embeds the IPv4 address in the last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let o = ip.octets();
        return is_public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    // 6to4 2002::/16 embeds it in bits 16..48.
    if s[0] == 0x2002 {
        let o = ip.octets();
        return is_public_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    !((s[0] == 0x64 && s[1] == 0xff9b)         // NAT64 local-use 64:ff9b:1::/48
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // discard 100::/64
        || (s[0] == 0x2001 && s[1] < 0x200)    // IETF protocol assignments 2001::/23 (Teredo, ORCHID, ...)
        || (s[0] == 0x2001 && s[1] == 0xdb8)   // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000)   // documentation 3fff::/20
        || (s[0] & 0xfe00) == 0xfc00           // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80           // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0           // site-local fec0::/10 (deprecated)
        || (s[0] & 0xff00) == 0xff00) // multicast
}

#[cfg(test)]
#[path = "cimd_fetch_tests.rs"]
mod tests;
