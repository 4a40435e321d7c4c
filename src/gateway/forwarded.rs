//! The `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` headers the MCP server
//! gets, written by dcr-bridge alone. The de-facto `X-Forwarded-*` family rather than RFC 7239
//! `Forwarded`, because it is what MCP server stacks read out of the box (Express
//! `trust proxy`, uvicorn/Starlette proxy headers, ASP.NET forwarded headers, Go's gorilla).
//!
//! Every forwarding header the client sent is removed first (including `Forwarded` and
//! `X-Real-IP`; RFC 9700 §4.13: a reverse proxy sanitises forwarded headers): what reaches the
//! MCP server is what dcr-bridge vouches for. The client address
//! is the one the rate limiter uses: the right-most entry of `rate_limit.client_ip_header`
//! when a trusted proxy writes it, else the TCP peer; it is sent alone, never appended to a
//! chain the client wrote. Proto and host are those of `public_url`, the address clients reach
//! dcr-bridge at, never the client's `Host` header.

use std::net::IpAddr;

use anyhow::Context as _;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::config::ClientIpHeader;
use crate::http::rate_limit::forwarded_for;

/// `X-Forwarded-For`.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Forwarding headers removed from every proxied request: those we write, the rest of the
/// family, and the other conventions an MCP server might read instead.
pub const FROM_CLIENT: [HeaderName; 7] = [
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-forwarded-prefix"),
    HeaderName::from_static("x-real-ip"),
    axum::http::header::FORWARDED,
];

/// What the forwarding headers are made of, fixed at start.
#[derive(Debug, Clone)]
pub struct Forwarding {
    client_ip_header: Option<ClientIpHeader>,
    proto: HeaderValue,
    host: HeaderValue,
}

impl Forwarding {
    /// For clients that reach us at `public_url`, behind the proxy that writes
    /// `client_ip_header`, if any.
    ///
    /// # Errors
    /// A `public_url` without a host (refused by configuration validation before this).
    pub fn new(public_url: &Url, client_ip_header: Option<ClientIpHeader>) -> anyhow::Result<Self> {
        let host = public_url.host_str().context("public_url has no host")?;
        // `port()` is `None` for the scheme's default port, which Host leaves out too.
        let host = match public_url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Ok(Self {
            client_ip_header,
            proto: HeaderValue::from_str(public_url.scheme()).context("public_url scheme")?,
            host: HeaderValue::from_str(&host).context("public_url host")?,
        })
    }

    /// The headers for a request that arrived with `incoming` from the TCP peer `peer`.
    /// Without a peer address (a router driven without connection info) and no trusted header,
    /// no `X-Forwarded-For` is sent.
    #[must_use]
    pub fn headers(&self, incoming: &HeaderMap, peer: Option<IpAddr>) -> HeaderMap {
        let mut out = HeaderMap::with_capacity(3);
        let client = self
            .client_ip_header
            .and_then(|h| forwarded_for(incoming, h))
            .or(peer);
        if let Some(ip) = client {
            // An IP address is always a valid header value.
            if let Ok(v) = HeaderValue::from_str(&ip.to_canonical().to_string()) {
                out.insert(X_FORWARDED_FOR, v);
            }
        }
        out.insert(X_FORWARDED_PROTO, self.proto.clone());
        out.insert(X_FORWARDED_HOST, self.host.clone());
        out
    }
}

#[cfg(test)]
#[path = "forwarded_tests.rs"]
mod tests;
