//! What an upstream's recent answers say about whether a sign-in can finish there: a circuit
//! breaker fed by its token endpoint (code exchanges and refreshes). While the last call failed
//! to reach it (network, timeout, 5xx, garbage instead of an OAuth answer), a new sign-in is not
//! sent to the IdP on faith: one probe at a time checks it first, and between probes the answer
//! is "unavailable" at once. Hand-written: the state is one timestamp pair, smaller than any
//! breaker crate's configuration.
//!
//! Probing every sign-in would cost a request per flow while the IdP is fine, which is nearly
//! always; remembering the token endpoint's last failure costs nothing, and the first user who
//! meets an outage at the callback spares the ones after.

use std::sync::{Mutex, PoisonError};

use openidconnect::AsyncHttpClient as _;

use super::http_client::UpstreamHttp;
use super::IdpError;

/// Least time, in seconds, between two probes of an upstream believed down; between them a
/// sign-in is refused without a request.
pub const PROBE_INTERVAL_SECONDS: i64 = 2;

/// What the breaker says about sending a browser to the upstream now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No failure since the last success: go.
    Up,
    /// The last call failed and another probe ran within [`PROBE_INTERVAL_SECONDS`]: refuse.
    Down,
    /// The last call failed; this caller probes (and reports with [`Reachability::observe`]).
    Probe,
}

#[derive(Debug, Default)]
struct State {
    /// Clock seconds of the last failure to reach the upstream since its last success.
    failed_at: Option<i64>,
    /// Clock seconds of the last probe handed out.
    probed_at: Option<i64>,
}

/// The breaker of one upstream.
#[derive(Debug, Default)]
pub struct Reachability {
    state: Mutex<State>,
}

impl Reachability {
    /// Whether a sign-in may go to the upstream at clock second `now`; hands out at most one
    /// probe per [`PROBE_INTERVAL_SECONDS`].
    pub fn verdict(&self, now: i64) -> Verdict {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.failed_at.is_none() {
            return Verdict::Up;
        }
        if state
            .probed_at
            .is_some_and(|t| now - t < PROBE_INTERVAL_SECONDS)
        {
            return Verdict::Down;
        }
        state.probed_at = Some(now);
        Verdict::Probe
    }

    /// Records the outcome of a call to the upstream at clock second `now` and passes it on:
    /// [`IdpError::Unavailable`] opens the breaker, anything the upstream answered closes it.
    ///
    /// # Errors
    /// `result`'s own error.
    pub fn observe<T>(&self, result: Result<T, IdpError>, now: i64) -> Result<T, IdpError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &result {
            Err(IdpError::Unavailable(_)) => state.failed_at = Some(now),
            _ => *state = State::default(),
        }
        result
    }
}

/// One GET of the OIDC discovery document at `issuer` with the upstream's own client (its
/// `timeout_seconds` bounds it): any answer below 500 means the IdP is back.
///
/// # Errors
/// [`IdpError::Unavailable`] for no answer or a 5xx.
pub async fn probe(http: &UpstreamHttp, issuer: &str) -> Result<(), IdpError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let request = openidconnect::http::Request::get(url.as_str())
        .body(Vec::new())
        .map_err(|e| IdpError::Config(format!("probe request: {e}")))?;
    match http.call(request).await {
        Ok(response) if !response.status().is_server_error() => Ok(()),
        Ok(response) => Err(IdpError::Unavailable(format!(
            "HTTP status code {} at {url}",
            response.status()
        ))),
        Err(e) => Err(IdpError::Unavailable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Result<(), IdpError> {
        Err(IdpError::Unavailable("connection refused".into()))
    }

    #[test]
    fn up_until_a_call_fails_to_reach_the_upstream() {
        let r = Reachability::default();
        assert_eq!(r.verdict(100), Verdict::Up);
        // An OAuth answer, even a refusal, means the upstream is there.
        let rejected: Result<(), _> = Err(IdpError::Rejected {
            error: "invalid_grant".into(),
            description: None,
        });
        assert!(r.observe(rejected, 100).is_err());
        assert_eq!(r.verdict(100), Verdict::Up);
        assert!(r.observe(down(), 101).is_err());
        assert_eq!(r.verdict(101), Verdict::Probe, "the first caller probes");
    }

    #[test]
    fn one_probe_per_interval_then_a_success_closes() {
        let r = Reachability::default();
        assert!(r.observe(down(), 10).is_err());
        assert_eq!(r.verdict(10), Verdict::Probe);
        assert_eq!(
            r.verdict(10),
            Verdict::Down,
            "a second caller does not probe too"
        );
        assert_eq!(r.verdict(10 + PROBE_INTERVAL_SECONDS - 1), Verdict::Down);
        assert!(r.observe(down(), 10).is_err(), "the probe failed");
        assert_eq!(r.verdict(10 + PROBE_INTERVAL_SECONDS), Verdict::Probe);
        assert!(r.observe(Ok(()), 12).is_ok());
        assert_eq!(r.verdict(12), Verdict::Up);
        assert_eq!(r.verdict(12), Verdict::Up);
    }
}
