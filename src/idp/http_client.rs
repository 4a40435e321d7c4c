//! The one outbound HTTP client for upstream calls (STYLE 17): connect and total timeouts,
//! redirects never followed (SSRF; both oauth2 and openidconnect docs require it), a bounded
//! response size, and 5xx answers turned into errors so callers can tell "unavailable" from
//! "rejected".

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

use super::IdpError;

/// Connection establishment limit.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request limit (connect, send, receive).
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest response body accepted from an upstream (discovery, JWKS, tokens, userinfo).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// `User-Agent` on every outbound request.
#[must_use]
pub fn user_agent() -> String {
    format!("dcr-bridge/{}", env!("CARGO_PKG_VERSION"))
}

/// The client builder with the house settings; other outbound users (CIMD fetches) start here.
pub fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent())
}

/// Builds the plain reqwest client.
///
/// # Errors
/// `IdpError::Config` when the TLS backend cannot be initialised.
pub fn client() -> Result<reqwest::Client, IdpError> {
    builder()
        .build()
        .map_err(|e| IdpError::Config(format!("building the HTTP client: {}", error_chain(&e))))
}

/// Transport-level failures of an upstream call.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connect, TLS, timeout or protocol failure.
    #[error("{0}")]
    Transport(String),
    /// The upstream answered 5xx (the body is dropped: it may echo request data).
    #[error("upstream answered HTTP {0}")]
    Status(u16),
    /// The body exceeded [`MAX_BODY_BYTES`].
    #[error("upstream response larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

/// The reqwest client as openidconnect's `AsyncHttpClient`, with 5xx mapped to
/// [`HttpError::Status`] and the body size bounded. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UpstreamHttp {
    inner: reqwest::Client,
    /// The upstream's configured id, the metrics' `upstream` label.
    upstream: std::sync::Arc<str>,
}

impl UpstreamHttp {
    /// Wraps a client built by [`builder`].
    #[must_use]
    pub fn new(inner: reqwest::Client) -> Self {
        Self {
            inner,
            upstream: "unnamed".into(),
        }
    }

    /// The same client, its calls counted for upstream `id` in the metrics.
    #[must_use]
    pub fn for_upstream(self, id: &str) -> Self {
        Self {
            upstream: id.into(),
            ..self
        }
    }

    /// Builds a fresh client with the house settings.
    ///
    /// # Errors
    /// As [`client`].
    pub fn build() -> Result<Self, IdpError> {
        client().map(Self::new)
    }

    /// A fresh client for the upstream `config`: its id for the metrics and its
    /// `timeout_seconds` as the whole-request limit.
    ///
    /// # Errors
    /// As [`client`].
    pub fn for_config(config: &crate::config::UpstreamConfig) -> Result<Self, IdpError> {
        let total = Duration::from_secs(config.timeout_seconds.max(1));
        builder()
            .connect_timeout(CONNECT_TIMEOUT.min(total))
            .timeout(total)
            .build()
            .map(|c| Self::new(c).for_upstream(&config.id))
            .map_err(|e| IdpError::Config(format!("building the HTTP client: {}", error_chain(&e))))
    }

    /// The underlying reqwest client.
    #[must_use]
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    async fn execute(
        client: reqwest::Client,
        request: HttpRequest,
    ) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| HttpError::Transport(format!("building request: {}", error_chain(&e))))?;
        let mut response = client
            .execute(request)
            .await
            .map_err(|e| HttpError::Transport(error_chain(&e)))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(HttpError::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(HttpError::TooLarge);
        }
        let mut builder = openidconnect::http::Response::builder()
            .status(status)
            .version(response.version());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError::Transport(error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|e| HttpError::Transport(format!("building response: {e}")))
    }
}

impl<'c> AsyncHttpClient<'c> for UpstreamHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let operation = operation(&request);
        let started = std::time::Instant::now();
        Box::pin(async move {
            let result = Self::execute(self.inner.clone(), request).await;
            let error = match &result {
                Ok(res) if res.status().is_client_error() => Some("http_4xx"),
                Ok(_) => None,
                Err(HttpError::Transport(_)) => Some("transport"),
                Err(HttpError::Status(_)) => Some("http_5xx"),
                Err(HttpError::TooLarge) => Some("too_large"),
            };
            crate::metrics::upstream_call(&self.upstream, operation, started, error);
            result
        })
    }
}

/// Which call this is, for the metrics, from its shape: openidconnect POSTs only to the token
/// endpoint (code exchange and refresh), GETs the discovery document under `/.well-known/`, and
/// sends a bearer token only to userinfo; any other GET is the JWKS.
fn operation(request: &HttpRequest) -> &'static str {
    if request.method() == openidconnect::http::Method::POST {
        "token"
    } else if request.uri().path().contains("/.well-known/") {
        "discovery"
    } else if request
        .headers()
        .contains_key(openidconnect::http::header::AUTHORIZATION)
    {
        "userinfo"
    } else {
        "jwks"
    }
}

/// An error and its sources on one line. reqwest puts the cause ("connection refused",
/// "operation timed out") in the source chain, not in `Display`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
