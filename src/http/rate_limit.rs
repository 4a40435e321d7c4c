//! Per client IP rate limits (tower_governor) on the endpoints anyone can call without a session:
//! `POST /register`, `/token`, `/revoke`, `/introspect`, and `/authorize` (whose every request
//! stores a pending authorization). Each endpoint has its own bucket per
//! address, so a registration storm cannot starve token refreshes and a resource server's
//! introspection load cannot starve its users' clients. Over the limit: 429 with
//! `Retry-After` and the RFC 6749 §5.2 error shape.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use governor::middleware::NoOpMiddleware;
use serde_json::json;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use crate::app::AppState;
use crate::config::{ClientIpHeader, RateLimitSettings};

/// The endpoints that are limited, each with a bucket of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /register` (RFC 7591); RFC 7592 management is authenticated and not counted.
    Register,
    /// `POST /token`.
    Token,
    /// `POST /revoke`.
    Revoke,
    /// `POST /introspect`.
    Introspect,
    /// `GET|POST /authorize`: each request stores a pending authorization.
    Authorize,
}

type Limit = GovernorConfig<ClientIp, NoOpMiddleware>;

/// The configured limiters; empty when `rate_limit.enabled` is false.
#[derive(Debug, Clone, Default)]
pub struct RateLimits {
    register: Option<Arc<Limit>>,
    token: Option<Arc<Limit>>,
    revoke: Option<Arc<Limit>>,
    introspect: Option<Arc<Limit>>,
    authorize: Option<Arc<Limit>>,
    admin_auth: Option<Arc<AdminAuthLimit>>,
}

impl RateLimits {
    /// Builds one keyed limiter per endpoint from the settings.
    #[must_use]
    pub fn new(settings: &RateLimitSettings) -> Self {
        if !settings.enabled {
            return Self::default();
        }
        let key = ClientIp {
            header: settings.client_ip_header,
        };
        let per_minute = |n: u32| limit(n, key, vec![Method::POST]);
        Self {
            register: per_minute(settings.register_per_minute),
            token: per_minute(settings.token_per_minute),
            revoke: per_minute(settings.token_per_minute),
            introspect: per_minute(settings.token_per_minute),
            authorize: limit(
                settings.authorize_per_minute,
                key,
                vec![Method::GET, Method::POST],
            ),
            admin_auth: AdminAuthLimit::new(settings.admin_auth_failures_per_minute).map(Arc::new),
        }
    }

    /// The limit on failed admin sign-ins, if enabled.
    #[must_use]
    pub fn admin_auth(&self) -> Option<&AdminAuthLimit> {
        self.admin_auth.as_deref()
    }

    /// `routes` with the limiter of `endpoint` in front of its POST handlers, if enabled.
    pub fn apply(&self, endpoint: Endpoint, routes: Router<AppState>) -> Router<AppState> {
        let config = match endpoint {
            Endpoint::Register => &self.register,
            Endpoint::Token => &self.token,
            Endpoint::Revoke => &self.revoke,
            Endpoint::Introspect => &self.introspect,
            Endpoint::Authorize => &self.authorize,
        };
        match config {
            Some(config) => {
                routes.route_layer(GovernorLayer::new(config.clone()).error_handler(too_many))
            }
            None => routes,
        }
    }

    /// Forgets addresses whose bucket is full again, so the state stays as small as the set of
    /// recently limited clients. Called by housekeeping every minute.
    pub fn retain_recent(&self) {
        for config in [
            &self.register,
            &self.token,
            &self.revoke,
            &self.introspect,
            &self.authorize,
        ]
        .into_iter()
        .flatten()
        {
            config.limiter().retain_recent();
            config.limiter().shrink_to_fit();
        }
        if let Some(admin) = &self.admin_auth {
            admin.retain_recent();
        }
    }
}

/// Failed admin API sign-ins per client address (the same keys as the limits above: IPv6 by
/// /64). Only failures take from the bucket, so automation with a good token is never slowed;
/// once a failure finds the bucket empty the address is blocked until the bucket has a cell
/// again, and while blocked every admin request is refused before its token is looked at:
/// otherwise a guesser would still learn from a 200 which guess was right.
#[derive(Debug)]
pub struct AdminAuthLimit {
    failures: governor::DefaultKeyedRateLimiter<IpAddr>,
    blocked: std::sync::Mutex<std::collections::HashMap<IpAddr, std::time::Instant>>,
}

impl AdminAuthLimit {
    fn new(per_minute: u32) -> Option<Self> {
        let per_minute = std::num::NonZeroU32::new(per_minute)?;
        Some(Self {
            failures: governor::RateLimiter::keyed(governor::Quota::per_minute(per_minute)),
            blocked: std::sync::Mutex::default(),
        })
    }

    /// Seconds until `ip` may try again, if it is blocked now.
    #[must_use]
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let now = std::time::Instant::now();
        let blocked = self.blocked.lock().ok()?;
        let until = *blocked.get(&bucket(ip))?;
        (until > now).then(|| until.duration_since(now).as_secs().saturating_add(1))
    }

    /// Counts a failed sign-in from `ip`; `Some(seconds)` when that emptied the bucket and the
    /// address is blocked for that long from now on.
    pub fn failed(&self, ip: IpAddr) -> Option<u64> {
        let key = bucket(ip);
        let Err(not_until) = self.failures.check_key(&key) else {
            return None;
        };
        let wait = not_until.wait_time_from(governor::clock::Clock::now(
            &governor::clock::DefaultClock::default(),
        ));
        if let Ok(mut blocked) = self.blocked.lock() {
            blocked.insert(key, std::time::Instant::now() + wait);
        }
        Some(wait.as_secs().saturating_add(1))
    }

    fn retain_recent(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
        let now = std::time::Instant::now();
        if let Ok(mut blocked) = self.blocked.lock() {
            blocked.retain(|_, until| *until > now);
        }
    }
}

/// `per_minute` requests a minute, all of them allowed as a burst: one comes back every
/// `60 s / per_minute`. `None` for 0, which configuration validation already refuses.
fn limit(per_minute: u32, key: ClientIp, methods: Vec<Method>) -> Option<Arc<Limit>> {
    let period = Duration::from_secs(60).checked_div(per_minute)?;
    GovernorConfigBuilder::default()
        .period(period)
        .burst_size(per_minute)
        .methods(methods)
        .key_extractor(key)
        .finish()
        .map(Arc::new)
}

/// 429 in the RFC 6749 §5.2 shape, not cacheable, with the seconds until a request is allowed
/// again (rounded up: governor reports whole seconds, truncated).
#[allow(clippy::needless_pass_by_value)] // the signature tower_governor calls
fn too_many(err: GovernorError) -> Response {
    let GovernorError::TooManyRequests { wait_time, .. } = err else {
        // Only a key extractor fails this way, and ours always finds a key.
        tracing::error!(error = %err, "rate limiter failed");
        let body = json!({ "error": "server_error" });
        return crate::http::error::no_store(
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response(),
        );
    };
    let retry_after = wait_time.saturating_add(1);
    tracing::info!(retry_after, "rate limited");
    let body = json!({
        "error": "temporarily_unavailable",
        "error_description": "too many requests, retry later",
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    crate::http::error::no_store(response)
}

/// The rate-limiting key: the client's address, IPv6 widened to its /64 (one subscriber's
/// allocation, which an attacker could otherwise cycle through for fresh buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp {
    /// The header the trusted proxy writes (`rate_limit.client_ip_header`); `None`: the peer.
    pub header: Option<ClientIpHeader>,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        // Without a peer address (a router driven without `ConnectInfo`), all such requests
        // share one bucket rather than escape the limit.
        let ip = client_ip(req, self.header).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(bucket(ip))
    }
}

/// The client's address: the trusted proxy's `header` when configured and parseable, else the
/// peer; `None` without either (a router driven without `ConnectInfo`).
pub fn client_ip<T>(req: &Request<T>, header: Option<ClientIpHeader>) -> Option<IpAddr> {
    header
        .and_then(|h| forwarded_for(req.headers(), h))
        .or_else(|| {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_canonical())
        })
}

/// IPv4 (IPv4-mapped IPv6 included) as is; IPv6 cut to its /64.
#[must_use]
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// The right-most entry of the `which` header, and only of that header: the address the one trusted proxy
/// in front of us saw. Entries to its left were written by the client or by proxies we do not
/// know, so they are never used (a proxy that appends, as nginx's `$proxy_add_x_forwarded_for`
/// and cloud load balancers do, would otherwise let the client pick its own rate-limit key).
/// Other forwarding headers are ignored: a proxy that writes only RFC 7239 `Forwarded` passes a
/// client-sent `X-Forwarded-For` through untouched. An unparseable right-most entry means no
/// forwarded address.
#[must_use]
pub fn forwarded_for(headers: &HeaderMap, which: ClientIpHeader) -> Option<IpAddr> {
    let last = headers
        .get_all(HeaderName::from_static(which.name()))
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()?;
    match which {
        ClientIpHeader::XForwardedFor | ClientIpHeader::XRealIp => parse_node(last),
        // RFC 7239 §4: `forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )`.
        ClientIpHeader::Forwarded => last.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("for")
                .then(|| parse_node(value))
                .flatten()
        }),
    }
}

/// `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]`, `"[2001:db8::1]:443"`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            node.strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<Ipv6Addr>()
                .ok()
                .map(IpAddr::V6)
        })
}

#[cfg(test)]
#[path = "rate_limit_tests.rs"]
mod tests;
