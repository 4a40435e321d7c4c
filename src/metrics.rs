//! Prometheus metrics: every metric's name, labels and help text (defined here once), the
//! one-line helpers the call sites use, the process-wide recorder, and the exposition text
//! served at `/metrics` (`http/metrics.rs`).
//!
//! The `metrics` facade records into one global recorder: it is installed once per process (the
//! first [`install`]; later calls reuse it), so several application states in one process (the
//! tests) share the counters, and a scrape shows the process's totals. Label values are bounded
//! by construction: fixed words, RFC error codes, and ids from the configuration (upstreams,
//! resources); never a client id, user id or anything a request chose.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

/// Kinds of metric, for the table of names and the dashboard check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// `{version}` = 1: which build runs.
pub const BUILD_INFO: &str = "dcr_bridge_build_info";
/// `{step, outcome}`: steps of the authorization flow (see [`Step`]).
pub const FLOW_STEPS: &str = "dcr_bridge_flow_steps_total";
/// `{reason}`: failed upstream callbacks by reason (the `login_failed` audit reason).
pub const CALLBACK_FAILURES: &str = "dcr_bridge_flow_callback_failures_total";
/// `{grant_type}`: token sets issued at `/token`.
pub const TOKENS_ISSUED: &str = "dcr_bridge_tokens_issued_total";
/// `{grant_type, error}`: refused `/token` grants by RFC error code.
pub const TOKEN_ERRORS: &str = "dcr_bridge_token_errors_total";
/// Refresh requests answered from the grace window (an idempotent retry, COMPAT C16).
pub const REFRESH_REPLAYS: &str = "dcr_bridge_refresh_replays_total";
/// Refresh tokens presented again after the grace window: the family was revoked.
pub const REFRESH_REUSE: &str = "dcr_bridge_refresh_reuse_detected_total";
/// `{via, outcome}`: upstream access tokens handed to MCP servers (`via` = `exchange` for RFC
/// 8693 at `/token`, `gateway` for the upstream token header), `outcome` = `issued` or the
/// refusal's OAuth error code.
pub const UPSTREAM_TOKEN_HANDOUTS: &str = "dcr_bridge_upstream_token_handouts_total";
/// `{kind, outcome}`: client registrations (dcr, cimd, static).
pub const REGISTRATIONS: &str = "dcr_bridge_registrations_total";
/// `{upstream, operation}`: latency of calls to upstream IdPs.
pub const UPSTREAM_DURATION: &str = "dcr_bridge_upstream_request_duration_seconds";
/// `{upstream, operation, kind}`: failed calls to upstream IdPs.
pub const UPSTREAM_ERRORS: &str = "dcr_bridge_upstream_request_errors_total";
/// `{resource, status_class}`: proxied requests by answer.
pub const GATEWAY_REQUESTS: &str = "dcr_bridge_gateway_requests_total";
/// `{resource}`: time until the proxied answer's headers.
pub const GATEWAY_DURATION: &str = "dcr_bridge_gateway_request_duration_seconds";
/// `{cache, result}`: lookups of in-memory caches.
pub const CACHE_LOOKUPS: &str = "dcr_bridge_cache_lookups_total";
/// `{state}`: database pool connections (`idle`, `in_use`), sampled at scrape.
pub const DB_POOL_CONNECTIONS: &str = "dcr_bridge_db_pool_connections";
/// The database pool's ceiling, sampled at scrape.
pub const DB_POOL_MAX: &str = "dcr_bridge_db_pool_max_connections";

/// Every metric: name, kind, help text. The dashboard test checks its queries against it.
pub const ALL: &[(&str, Kind, &str)] = &[
    (
        BUILD_INFO,
        Kind::Gauge,
        "Always 1; the version label names the running build.",
    ),
    (
        FLOW_STEPS,
        Kind::Counter,
        "Authorization flow steps by step and outcome.",
    ),
    (
        CALLBACK_FAILURES,
        Kind::Counter,
        "Failed upstream callbacks by reason.",
    ),
    (
        TOKENS_ISSUED,
        Kind::Counter,
        "Token sets issued at /token by grant type.",
    ),
    (
        TOKEN_ERRORS,
        Kind::Counter,
        "Refused /token grants by grant type and OAuth error code.",
    ),
    (
        REFRESH_REPLAYS,
        Kind::Counter,
        "Refresh requests answered again inside the grace window.",
    ),
    (
        REFRESH_REUSE,
        Kind::Counter,
        "Refresh token reuse detections (the family was revoked).",
    ),
    (
        UPSTREAM_TOKEN_HANDOUTS,
        Kind::Counter,
        "Upstream access tokens handed to MCP servers, by way and outcome.",
    ),
    (
        REGISTRATIONS,
        Kind::Counter,
        "Client registrations by kind and outcome.",
    ),
    (
        UPSTREAM_DURATION,
        Kind::Histogram,
        "Latency of upstream IdP calls in seconds.",
    ),
    (
        UPSTREAM_ERRORS,
        Kind::Counter,
        "Failed upstream IdP calls by kind of failure.",
    ),
    (
        GATEWAY_REQUESTS,
        Kind::Counter,
        "Proxied requests by resource and status class.",
    ),
    (
        GATEWAY_DURATION,
        Kind::Histogram,
        "Seconds until a proxied answer's headers.",
    ),
    (
        CACHE_LOOKUPS,
        Kind::Counter,
        "In-memory cache lookups by cache and result.",
    ),
    (
        DB_POOL_CONNECTIONS,
        Kind::Gauge,
        "Database pool connections by state, at scrape.",
    ),
    (
        DB_POOL_MAX,
        Kind::Gauge,
        "The database pool's maximum size.",
    ),
];

/// Histogram buckets in seconds: from a cached loopback answer to the outbound timeout (15 s).
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder, once; later calls return the same handle. `None` when
/// another recorder was installed first (dcr-bridge embedded in a program that has its own):
/// then `/metrics` is empty and the program's recorder gets the figures.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(build_recorder).as_ref()
}

fn build_recorder() -> Option<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &BUCKETS)
        .map_err(|e| tracing::warn!(error = %e, "metric buckets refused"))
        .ok()?
        .build_recorder();
    let handle = recorder.handle();
    if let Err(e) = ::metrics::set_global_recorder(recorder) {
        tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty");
        return None;
    }
    for (name, kind, help) in ALL {
        match kind {
            Kind::Counter => ::metrics::describe_counter!(*name, *help),
            Kind::Gauge => ::metrics::describe_gauge!(*name, *help),
            Kind::Histogram => {
                ::metrics::describe_histogram!(*name, ::metrics::Unit::Seconds, *help);
            }
        }
    }
    ::metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    for counter in [REFRESH_REPLAYS, REFRESH_REUSE] {
        ::metrics::counter!(counter).absolute(0);
    }
    // Shown at zero from the start, so a dashboard or alert on it needs no first hand-out.
    for via in ["exchange", "gateway"] {
        ::metrics::counter!(UPSTREAM_TOKEN_HANDOUTS, "via" => via, "outcome" => "issued")
            .absolute(0);
    }
    Some(handle)
}

/// The exposition text (Prometheus text format 0.0.4), with the gauges sampled now.
#[must_use]
pub fn render(store: &dyn Store) -> String {
    let Some(handle) = install() else {
        return String::new();
    };
    let pool = store.pool_stats();
    let in_use = pool.size.saturating_sub(pool.idle);
    ::metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
    ::metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(in_use));
    ::metrics::gauge!(DB_POOL_MAX).set(f64::from(pool.max));
    handle.render()
}

// --- the authorization flow -------------------------------------------------------------------

/// A step of the authorization flow, the `step` label.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// `/authorize` reached the flow service (outcome `started`), before validation.
    Authorize,
    /// The consent page: `shown`, `remembered` (skipped), `given`, `denied`.
    Consent,
    /// The redirect to the upstream: `ok` or `failed`.
    UpstreamRedirect,
    /// The upstream's answer at `/oauth/callback`: `ok` or `failed` (reasons in
    /// [`CALLBACK_FAILURES`]).
    Callback,
    /// Our code on the client's redirect URI: `issued`.
    Code,
}

impl Step {
    fn label(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Consent => "consent",
            Self::UpstreamRedirect => "upstream_redirect",
            Self::Callback => "callback",
            Self::Code => "code",
        }
    }
}

/// One flow step happened with `outcome` (a fixed word, see [`Step`]).
pub fn flow(step: Step, outcome: &'static str) {
    ::metrics::counter!(FLOW_STEPS, "step" => step.label(), "outcome" => outcome).increment(1);
}

/// A callback failed for `reason` (an OAuth error code, a policy refusal or a binding check:
/// fixed words only). The failure also counts as a [`Step::Callback`] `failed`.
pub fn callback_failed(reason: &str) {
    flow(Step::Callback, "failed");
    ::metrics::counter!(CALLBACK_FAILURES, "reason" => reason.to_owned()).increment(1);
}

// --- tokens and registrations -----------------------------------------------------------------

/// A token set was issued by `grant_type`.
pub fn token_issued(grant_type: &'static str) {
    ::metrics::counter!(TOKENS_ISSUED, "grant_type" => grant_type).increment(1);
}

/// A `/token` grant of `grant_type` was refused with `error`.
pub fn token_failed(grant_type: &'static str, error: &crate::oauth::Error) {
    ::metrics::counter!(TOKEN_ERRORS, "grant_type" => grant_type, "error" => error.code())
        .increment(1);
}

/// A refresh was answered from the grace window.
pub fn refresh_replayed() {
    ::metrics::counter!(REFRESH_REPLAYS).increment(1);
}

/// A refresh token was reused after the grace window.
pub fn refresh_reuse_detected() {
    ::metrics::counter!(REFRESH_REUSE).increment(1);
}

/// How an upstream access token went to an MCP server, the `via` label.
#[derive(Debug, Clone, Copy)]
pub enum Handout {
    /// RFC 8693 token exchange at `/token`.
    Exchange,
    /// The gateway's upstream token header.
    Gateway,
}

/// An upstream access token was handed out `via` (`Ok`) or refused with an OAuth error.
pub fn upstream_token_handout(via: Handout, result: Result<(), &crate::oauth::Error>) {
    let via = match via {
        Handout::Exchange => "exchange",
        Handout::Gateway => "gateway",
    };
    let outcome = match result {
        Ok(()) => "issued",
        Err(e) => e.code(),
    };
    ::metrics::counter!(UPSTREAM_TOKEN_HANDOUTS, "via" => via, "outcome" => outcome).increment(1);
}

/// A registration of `kind` (`dcr`, `cimd`, `static`) ended with `outcome` (`registered`,
/// `updated`, or the OAuth error code of a refusal).
pub fn registration(kind: &'static str, outcome: &'static str) {
    ::metrics::counter!(REGISTRATIONS, "kind" => kind, "outcome" => outcome).increment(1);
}

/// A refused registration of `kind`.
pub fn registration_refused(kind: &'static str, error: &crate::oauth::Error) {
    registration(kind, error.code());
}

// --- outbound calls, the gateway, caches ------------------------------------------------------

/// An upstream IdP call of `operation` (`discovery`, `jwks`, `token`, `userinfo`) to
/// `upstream` (its configured id) took since `started`; `error` is the kind of failure, if any
/// (`transport`, `http_4xx`, `http_5xx`, `too_large`).
pub fn upstream_call(
    upstream: &str,
    operation: &'static str,
    started: Instant,
    error: Option<&'static str>,
) {
    let upstream = upstream.to_owned();
    ::metrics::histogram!(UPSTREAM_DURATION, "upstream" => upstream.clone(), "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    if let Some(kind) = error {
        ::metrics::counter!(UPSTREAM_ERRORS, "upstream" => upstream, "operation" => operation, "kind" => kind)
            .increment(1);
    }
}

/// Times a proxied request of `resource` (its configured id) until its answer's headers, and
/// counts it by status class.
pub async fn gateway<B>(
    resource: &str,
    answer: impl Future<Output = axum::http::Response<B>>,
) -> axum::http::Response<B> {
    let started = Instant::now();
    let res = answer.await;
    let class = match res.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    ::metrics::histogram!(GATEWAY_DURATION, "resource" => resource.to_owned())
        .record(started.elapsed().as_secs_f64());
    ::metrics::counter!(GATEWAY_REQUESTS, "resource" => resource.to_owned(), "status_class" => class)
        .increment(1);
    res
}

/// The in-memory caches, the `cache` label.
#[derive(Debug, Clone, Copy)]
pub enum Cache {
    /// The gateway's verified access tokens (`gateway/auth.rs`).
    VerifiedTokens,
    /// The gateway's users for identity headers (`gateway/identity.rs`).
    GatewayUsers,
    /// Freshness of Client ID Metadata Documents (`oauth/clients.rs`).
    CimdDocuments,
}

/// A lookup in `cache` hit or missed.
pub fn cache(cache: Cache, hit: bool) {
    let name = match cache {
        Cache::VerifiedTokens => "verified_tokens",
        Cache::GatewayUsers => "gateway_users",
        Cache::CimdDocuments => "cimd_documents",
    };
    let result = if hit { "hit" } else { "miss" };
    ::metrics::counter!(CACHE_LOOKUPS, "cache" => name, "result" => result).increment(1);
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
