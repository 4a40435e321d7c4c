//! Validation of an authorization request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1), before anything
//! is stored or sent upstream, and the URLs that answer the client (RFC 6749 §4.1.2, RFC 9207).
//!
//! Order matters (RFC 6749 §4.1.2.1, STYLE rule 10): until `client_id` and `redirect_uri` are
//! known good, errors are shown on our own page; only after that may they go back to the client,
//! and then only at once for a client whose redirect URIs an administrator vetted
//! ([`redirects_before_interaction`], RFC 9700 §4.11.2).

use url::form_urlencoded;

use super::error::Error;
use super::pkce;
use super::redirect_uri::{self, describe_value};
use super::resource::resolve_resource;
use super::scope::{resolve_scope, ScopeSet};
use super::settings::{Resource, Settings};
use super::upstream_choice::{self, UpstreamChoice};
use crate::store::{ClientKind, ClientRecord};

/// Longest `state` we carry; it is echoed in a URL.
pub const MAX_STATE_LEN: usize = 2000;

/// The query parameters of `GET /authorize`, as the HTTP layer read them.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub nonce: Option<String>,
    /// OIDC Core §3.1.2.1: who is signing in; an email address drives home-realm discovery
    /// and is passed on to the upstream.
    pub login_hint: Option<String>,
    /// Every `resource` value (RFC 8707 allows repeating it).
    pub resource: Vec<String>,
    /// Names of parameters given more than once, `resource` excepted (RFC 6749 §3.1: request
    /// and response parameters MUST NOT be included more than once).
    pub duplicated: Vec<String>,
    /// OIDC / RFC 9101 request objects, which we do not support.
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// An authorization request that may proceed to consent.
#[derive(Debug, Clone)]
pub struct ValidAuthorize {
    pub client: ClientRecord,
    /// Where to send the answer: the registered URI, with the requested port for loopback.
    pub redirect_uri: String,
    /// The request carried `redirect_uri` (rather than relying on the one registered URI), so
    /// the token request must repeat it (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    pub state: Option<String>,
    pub scope: ScopeSet,
    pub resource: Resource,
    /// The S256 challenge.
    pub code_challenge: String,
    pub prompt: Option<String>,
    /// Where the user signs in, or the upstreams to choose from ([`upstream_choice`]).
    pub upstream: UpstreamChoice,
    /// The request's `login_hint`, checked ([`upstream_choice::check_login_hint`]).
    pub login_hint: Option<String>,
}

/// Why an authorization request was refused, and where the answer goes.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Shown as an HTML error page: client_id or redirect_uri not trusted (never redirect).
    Page(Error),
    /// Redirected at once to the client's redirect_uri with error, state and iss.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: Error,
        /// Whether the response carries `iss` ([`Settings::sends_iss`]).
        iss: bool,
    },
    /// Shown as an HTML error page that offers, as a link the user must choose, the same error
    /// response to the client: the redirect URI is registered, but nobody vetted it
    /// (RFC 9700 §4.11.2, "inform the user").
    Inform {
        redirect_uri: String,
        state: Option<String>,
        error: Error,
        /// Whether the response carries `iss` ([`Settings::sends_iss`]).
        iss: bool,
    },
}

/// Whether an error found before the user interacted with our consent page may be redirected
/// to `kind`'s redirect URI at once (RFC 6749 §4.1.2.1), rather than shown on our page.
///
/// RFC 9700 §4.11.2: an authorization server that redirects errors to any registered URI is an
/// open redirector when anyone can register. Dynamic clients (RFC 7591: registration is open)
/// and CIMD clients (anyone can host a metadata document) are not vetted, so a link to our
/// `/authorize` with a bad parameter would start on our host and bounce to the attacker's.
/// Static clients' redirect URIs were put in the configuration by an administrator, so they
/// keep the RFC 6749 behaviour. After the user acted (consent decision, upstream sign-in),
/// every client gets its error redirect: the user chose to go on with that client.
#[must_use]
pub fn redirects_before_interaction(kind: ClientKind) -> bool {
    match kind {
        ClientKind::Static => true,
        ClientKind::Dcr | ClientKind::Cimd => false,
    }
}

/// The answer to an error found before the user interacted, once `client` and its
/// `redirect_uri` are established: see [`redirects_before_interaction`].
#[must_use]
pub fn early_error(
    settings: &Settings,
    client: &ClientRecord,
    redirect_uri: String,
    state: Option<String>,
    error: Error,
) -> AuthorizeError {
    let iss = settings.sends_iss(client);
    if redirects_before_interaction(client.kind) {
        AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
            iss,
        }
    } else {
        AuthorizeError::Inform {
            redirect_uri,
            state,
            error,
            iss,
        }
    }
}

/// Validates an authorization request. `client` is what the store holds for
/// `params.client_id` (`None` when unknown).
///
/// # Errors
/// [`AuthorizeError::Page`] while client or redirect URI are not established, then
/// [`AuthorizeError::Redirect`] or [`AuthorizeError::Inform`] as [`early_error`] decides.
pub fn validate_authorize(
    params: AuthorizeParams,
    client: Option<ClientRecord>,
    settings: &Settings,
) -> Result<ValidAuthorize, AuthorizeError> {
    let page = |e: Error| Err(AuthorizeError::Page(e));
    let duplicated = |name: &str| params.duplicated.iter().any(|d| d == name);
    let invalid = |m: &str| Error::InvalidRequest(m.to_owned());

    if duplicated("client_id") {
        return page(invalid("client_id is given more than once"));
    }
    let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return page(invalid("client_id is required"));
    };
    // COMPAT C12: `invalid_client` makes MCP clients drop a stale id and register again.
    let client = match client {
        Some(c) if !c.disabled && c.client_id == client_id => c,
        _ => return page(Error::invalid_client("unknown client")),
    };
    if duplicated("redirect_uri") {
        return page(invalid("redirect_uri is given more than once"));
    }
    let redirect_uri = match params.redirect_uri.as_deref().filter(|r| !r.is_empty()) {
        // OAuth 2.1 §4.1.1: optional only when exactly one is registered.
        None => match client.redirect_uris.as_slice() {
            [only] => only.clone(),
            _ => {
                return page(invalid(
                    "redirect_uri is required: the client registered several",
                ))
            }
        },
        Some(requested) => match redirect_uri::resolve(&client.redirect_uris, requested) {
            Some(uri) => uri,
            None => {
                return page(invalid(
                    "redirect_uri does not match any redirect URI registered for this client",
                ))
            }
        },
    };

    // From here on the client and its redirect URI are established: errors go back to the
    // client, at once or through the user (RFC 9700 §4.11.2).
    let redirect = |error: Error, state: Option<String>| {
        early_error(settings, &client, redirect_uri.clone(), state, error)
    };
    if params
        .state
        .as_ref()
        .is_some_and(|s| s.len() > MAX_STATE_LEN)
    {
        let e = invalid(&format!("state is longer than {MAX_STATE_LEN} characters"));
        return Err(redirect(e, None));
    }
    let state = params.state.clone().filter(|s| !s.is_empty());
    let fail = |e: Error| redirect(e, state.clone());

    match params.response_type.as_deref() {
        None | Some("") => return Err(fail(invalid("response_type is required"))),
        Some("code") => {}
        Some(_) => {
            return Err(fail(Error::UnsupportedResponseType(
                "only response_type=code is supported".to_owned(),
            )))
        }
    }
    let repeated: Vec<String> = params
        .duplicated
        .iter()
        .filter(|d| d.as_str() != "resource")
        .map(|d| describe_value(d))
        .collect();
    if !repeated.is_empty() {
        let m = format!("parameters given more than once: {}", repeated.join(", "));
        return Err(fail(Error::InvalidRequest(m)));
    }
    if params.request.is_some() || params.request_uri.is_some() {
        return Err(fail(invalid(
            "request objects (request, request_uri) are not supported",
        )));
    }
    let may_use_code = client.grant_types.iter().any(|g| g == "authorization_code")
        && (client.response_types.is_empty() || client.response_types.iter().any(|r| r == "code"));
    if !may_use_code {
        return Err(fail(Error::UnauthorizedClient(
            "this client is not registered for the authorization_code grant".to_owned(),
        )));
    }
    let code_challenge = pkce::check_challenge(
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    )
    .map_err(fail)?;
    let resource = resolve_resource(&params.resource, settings)
        .map_err(fail)?
        .clone();
    let login_hint = params.login_hint.clone().filter(|h| !h.trim().is_empty());
    if let Some(h) = &login_hint {
        upstream_choice::check_login_hint(h).map_err(fail)?;
    }
    let upstream = upstream_choice::choose(&client, &resource, login_hint.as_deref(), settings)
        .map_err(fail)?;
    let scope = resolve_scope(params.scope.as_deref(), &resource).map_err(fail)?;
    let prompt = params.prompt.clone().filter(|p| !p.trim().is_empty());
    // OIDC Core §3.1.2.1: `none` must not be combined with other values.
    if prompt.as_deref().is_some_and(|p| {
        p.split(' ').any(|v| v == "none") && p.split(' ').filter(|v| !v.is_empty()).count() > 1
    }) {
        return Err(fail(invalid(
            "prompt=none cannot be combined with other prompt values",
        )));
    }
    // OIDC Core §3.1.2.6: the consent page and the upstream sign-in always need the user.
    if prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|v| v == "none"))
    {
        return Err(fail(Error::InteractionRequired(
            "this server always asks for consent and an upstream sign-in".into(),
        )));
    }
    Ok(ValidAuthorize {
        client,
        redirect_uri,
        redirect_uri_sent: params
            .redirect_uri
            .as_deref()
            .is_some_and(|r| !r.is_empty()),
        state,
        scope,
        resource,
        code_challenge,
        prompt,
        upstream,
        login_hint,
    })
}

/// The error response URL (RFC 6749 §4.1.2.1) with `iss` (RFC 9207 §2) unless a client rule
/// turned it off for this client (`None`, COMPAT C9). Existing query
/// parameters of the redirect URI are kept (RFC 6749 §3.1.2); the description is limited to the
/// RFC's character set by [`Error::wire_description`].
#[must_use]
pub fn error_redirect_url(
    redirect_uri: &str,
    error: &Error,
    state: Option<&str>,
    issuer: Option<&str>,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("error", error.code());
    if let Some(d) = error.wire_description() {
        q.append_pair("error_description", &d);
    }
    if let Some(s) = state.filter(|s| !s.is_empty()) {
        q.append_pair("state", s);
    }
    if let Some(issuer) = issuer {
        q.append_pair("iss", issuer);
    }
    append_query(redirect_uri, &q.finish())
}

/// The success response URL (RFC 6749 §4.1.2) with `iss` (RFC 9207 §2) unless a client rule
/// turned it off for this client (`None`, COMPAT C9).
#[must_use]
pub fn code_redirect_url(
    redirect_uri: &str,
    code: &str,
    state: Option<&str>,
    issuer: Option<&str>,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("code", code);
    if let Some(s) = state.filter(|s| !s.is_empty()) {
        q.append_pair("state", s);
    }
    if let Some(issuer) = issuer {
        q.append_pair("iss", issuer);
    }
    append_query(redirect_uri, &q.finish())
}

/// Appends `query` to the URI's query, as a string: re-serialising through a URL parser would
/// change what the client registered. A fragment cannot be registered; should one be present
/// it is dropped, since the response parameters must be in the query.
fn append_query(uri: &str, query: &str) -> String {
    let base = uri.split('#').next().unwrap_or(uri);
    let sep = match base.rfind('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{base}{sep}{query}")
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
