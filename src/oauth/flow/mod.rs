//! The authorization flow as ONE service: start at /authorize → the user's consent decision →
//! the upstream callback → our code on the client's redirect URI.
//!
//! [`Flow`] builds and stores the pending request, generates and seals the upstream PKCE
//! verifier, state and nonce, calls the upstream, checks `iss`, applies the access policy, and
//! creates the user, consent, grant and code with their audit events, each step in its own store
//! transaction (never one held across a call to the upstream: on SQLite it is the database's
//! write lock). The HTTP layer parses, keeps the browser-binding cookies and renders; every way
//! the flow can refuse is a [`FlowError`], which it maps to a page or a redirect in one place.

mod account;
mod callback;
mod decide;
pub mod secrets;
mod start;

pub use account::Completed;
pub use callback::CallbackParams;
pub use decide::{Approved, Decision};
pub use start::{display_host, ConsentPrompt, StartRequest, Started, UpstreamOption};

use super::authorize::AuthorizeError;
use super::{Core, Error};
use crate::store::AuthRequestRecord;

/// The authorization flow over the core's store, upstreams, cipher and clock.
pub struct Flow<'c> {
    core: &'c Core,
}

impl Core {
    /// The authorization flow service.
    #[must_use]
    pub fn flow(&self) -> Flow<'_> {
        Flow { core: self }
    }
}

/// Why the browser cannot go on: which answer it gets. Each variant says where the answer may
/// go, because the open-redirector rules depend on how far the flow got (RFC 9700 §4.11.2).
#[derive(Debug)]
pub enum FlowError {
    /// A page that names no OAuth error and leads nowhere: the input is malformed, the pending
    /// request is gone, or it belongs to another browser.
    Notice(Notice),
    /// /authorize before client and redirect URI are trusted: a page naming the OAuth error.
    Page(Error),
    /// A failure of ours after validation, before a redirect is possible: a generic page.
    Internal(Error),
    /// The error response on the client's redirect URI at once (302).
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: Error,
        /// Whether the response carries `iss` (a client rule may turn it off, COMPAT C9).
        iss: bool,
    },
    /// A page offering the error response as a link the user must choose (unvetted client
    /// before the user acted, RFC 9700 §4.11.2 "inform the user").
    Inform {
        redirect_uri: String,
        state: Option<String>,
        error: Error,
        /// As for `Redirect`.
        iss: bool,
    },
    /// After the upstream sign-in: a page naming the error that returns to the client by itself.
    Return {
        redirect_uri: String,
        state: Option<String>,
        error: Error,
        /// As for `Redirect`.
        iss: bool,
    },
}

/// The pages without an OAuth error, one per reason (the HTTP layer holds their texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The consent form did not parse.
    MalformedForm,
    /// The consent form lacks a field.
    IncompleteForm,
    /// The consent form's decision is neither approve nor deny.
    UnknownDecision,
    /// The consent form came from another site (Origin).
    CrossSite,
    /// The consent form's CSRF token or browser binding does not match.
    NotThisBrowser,
    /// The consent form named an upstream this request does not offer (forged choice).
    UnknownUpstream,
    /// The consent form approved without choosing among the offered upstreams.
    NoUpstreamChosen,
    /// The pending request was answered already or expired before the decision.
    RequestExpired,
    /// The upstream's response did not parse.
    MalformedResponse,
    /// The upstream's response repeated a parameter.
    RepeatedParameter,
    /// The upstream's response carried no state.
    NoState,
    /// No pending request for the upstream's state (expired or used).
    SignInExpired,
    /// The callback reached a browser that did not start the flow (login CSRF).
    OtherBrowser,
}

impl Flow<'_> {
    /// Whether authorization responses to the pending `request`'s client carry `iss` (COMPAT
    /// C9): the client rule's decision recorded at /authorize; for a request stored without
    /// it, the client's rule now, or the default (yes) when the client cannot be looked up.
    pub(crate) async fn sends_iss(&self, request: &AuthRequestRecord) -> bool {
        if let Some(recorded) = secrets::recorded_sends_iss(request) {
            return recorded;
        }
        match self.core.clients.resolve(&request.client_id).await {
            Ok(Some(client)) => self.core.settings.sends_iss(&client),
            _ => true,
        }
    }
}

impl From<AuthorizeError> for FlowError {
    fn from(e: AuthorizeError) -> Self {
        match e {
            AuthorizeError::Page(e) => Self::Page(e),
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
                iss,
            } => Self::Redirect {
                redirect_uri,
                state,
                error,
                iss,
            },
            AuthorizeError::Inform {
                redirect_uri,
                state,
                error,
                iss,
            } => Self::Inform {
                redirect_uri,
                state,
                error,
                iss,
            },
        }
    }
}

impl From<Notice> for FlowError {
    fn from(n: Notice) -> Self {
        Self::Notice(n)
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
