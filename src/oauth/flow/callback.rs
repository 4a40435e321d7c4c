//! Step three, the upstream's answer: the pending request is taken by the upstream `state`
//! (single use), the browser binding checked, `iss` checked (RFC 9207), the upstream code
//! redeemed and its ID token verified, the access policy applied, and the login recorded with
//! our code for the client ([`crate::oauth::login::finish_login`], one transaction).

use super::secrets::{secrets_aad, UpstreamSecrets};
use super::{Flow, FlowError, Notice};
use crate::idp::{IdpError, UpstreamIdp, UpstreamLogin};
use crate::oauth::access::{self, ResourceAccess};
use crate::oauth::authorize::code_redirect_url;
use crate::oauth::login::{finish_login, upstream_tokens_aad, UpstreamUser};
use crate::oauth::{crypto, policy, Error};
use crate::store::{AuditEvent, AuthRequestRecord};

/// The upstream's authorization response, as the HTTP layer read it.
#[derive(Debug, Default)]
pub struct CallbackParams {
    pub state: String,
    pub iss: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The browser-binding value from the cookie, if any.
    pub browser: Option<String>,
    pub request_id: Option<String>,
}

/// A failed completion: what the client is told, and a more precise reason for the audit log.
pub(super) struct Failure {
    pub(super) error: Error,
    pub(super) reason: Option<&'static str>,
    /// What the upstream said (its `error` and `error_description`, or why the code exchange
    /// failed), for the audit trail only: never shown to the user or the client.
    pub(super) upstream: Option<String>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            reason: None,
            upstream: None,
        }
    }
}

/// Longest upstream error text kept in the audit trail.
const MAX_UPSTREAM_ERROR_CHARS: usize = 300;

/// The upstream's text as the audit trail keeps it: no control characters, bounded.
fn upstream_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_UPSTREAM_ERROR_CHARS)
        .collect()
}

/// An upstream failure: the error the user gets and the upstream's own words for the trail.
fn upstream_failure(e: IdpError) -> Failure {
    let upstream = Some(upstream_text(&e.to_string()));
    Failure {
        error: idp_error(e),
        // The reason is our error code (`access_denied`: refused; `temporarily_unavailable`:
        // unreachable or garbage), which stats and metrics group by; the upstream's own words
        // go to `upstream_error`.
        reason: None,
        upstream,
    }
}

impl Flow<'_> {
    /// Completes the flow of the pending `request` the upstream's `state` took (single use);
    /// returns the client's redirect URL carrying our code.
    ///
    /// # Errors
    /// A notice when the request is another browser's; after that, a `login_failed` audit
    /// event and [`FlowError::Redirect`] for our own failures or [`FlowError::Return`] for the
    /// user's (refused, cancelled, upstream trouble).
    pub(super) async fn callback(
        &self,
        request: AuthRequestRecord,
        p: CallbackParams,
    ) -> Result<String, FlowError> {
        let bound = p.browser.as_deref().is_some_and(|b| {
            crypto::ct_eq(crypto::hash(b).as_bytes(), request.browser_hash.as_bytes())
        });
        if !bound {
            // Login CSRF / confused deputy: the response reached a browser that did not start it.
            self.audit_failure(&request, "browser_binding_mismatch", None, &p.request_id)
                .await;
            return Err(Notice::OtherBrowser.into());
        }
        let result = self.complete(&request, &p).await;
        let iss = self.sends_iss(&request).await;
        let issuer = iss.then_some(self.core.settings.issuer.as_str());
        match result {
            Ok(code) => {
                crate::metrics::flow(crate::metrics::Step::Callback, "ok");
                Ok(code_redirect_url(
                    &request.redirect_uri,
                    &code,
                    request.client_state.as_deref(),
                    issuer,
                ))
            }
            Err(Failure {
                error,
                reason,
                upstream,
            }) => {
                let reason = reason.unwrap_or(error.code());
                self.audit_failure(&request, reason, upstream.as_deref(), &p.request_id)
                    .await;
                let (redirect_uri, state) = (request.redirect_uri, request.client_state);
                Err(if matches!(error, Error::Server(_)) {
                    FlowError::Redirect {
                        redirect_uri,
                        state,
                        error,
                        iss,
                    }
                } else {
                    FlowError::Return {
                        redirect_uri,
                        state,
                        error,
                        iss,
                    }
                })
            }
        }
    }

    async fn complete(
        &self,
        request: &AuthRequestRecord,
        p: &CallbackParams,
    ) -> Result<String, Failure> {
        let upstream = self
            .core
            .upstreams
            .get(&request.upstream_id)
            .ok_or_else(|| {
                Error::server(anyhow::anyhow!(
                    "upstream {} is not configured",
                    request.upstream_id
                ))
            })?;
        let sealed = request.upstream.as_ref().map(|leg| leg.sealed.as_str());
        let aad = secrets_aad(&request.id_hash);
        let login = self
            .exchange(upstream.idp.as_ref(), sealed, &aad, p)
            .await?;
        let subject = policy::Subject::from(&login.identity);
        let resource = self.core.settings.resource_by_uri(&request.resource);
        let no_access = ResourceAccess::default();
        let access = resource.map_or(&no_access, |r| &r.access);
        access::admit(&upstream.policy, &access.policy, subject).map_err(|denial| {
            tracing::info!(upstream = %request.upstream_id, resource = %request.resource, reason = denial.reason(), "sign-in refused by the access policy");
            Failure {
                error: denial.to_error(),
                reason: Some(denial.reason()),
                upstream: None,
            }
        })?;
        // Group→scope mapping: the consent page showed the request before anyone knew the
        // user; the narrowing shows in the code's (and so the token response's) `scope`.
        let decision = access::decide_scope(&request.scope, &access.scope_grants, subject);
        if decision.granted.is_empty() && !decision.withheld.is_empty() {
            return Err(Failure {
                error: access::no_scope_left(&decision.withheld),
                reason: Some("scope_not_granted"),
                upstream: None,
            });
        }
        if !decision.withheld.is_empty() {
            tracing::info!(resource = %request.resource, withheld = ?decision.withheld, "scopes withheld by scope_grants");
            let narrowed = AuthRequestRecord {
                scope: decision.granted,
                ..request.clone()
            };
            return Ok(self.issue(&narrowed, &login, p.request_id.clone()).await?);
        }
        Ok(self.issue(request, &login, p.request_id.clone()).await?)
    }

    /// The upstream half: checks the response's issuer and error, opens the pending request's
    /// `sealed` upstream secrets (bound by `aad`), redeems the upstream code, and verifies the
    /// ID token. Shared with the `/account` sign-in ([`super::account`]).
    pub(super) async fn exchange(
        &self,
        idp: &dyn UpstreamIdp,
        sealed: Option<&str>,
        aad: &[u8],
        p: &CallbackParams,
    ) -> Result<UpstreamLogin, Failure> {
        // RFC 9207 §2.4 (mix-up defence), for error responses too: `iss`, when sent, must equal
        // the issuer of the upstream's discovery document; when that document advertises
        // `authorization_response_iss_parameter_supported`, a response without `iss` is refused.
        // An upstream without an issuer identifier (GitHub) has nothing to compare with; its
        // responses are tied to it by our single-use `state` alone.
        let expected = idp
            .issuer_identification()
            .await
            .map_err(upstream_failure)?;
        match (p.iss.as_deref(), expected) {
            (Some(iss), None) => {
                tracing::info!(upstream_iss = ?iss, "iss from an upstream without an issuer identifier; not checked");
            }
            (Some(iss), Some(expected)) if !expected.accepts(iss) => {
                return Err(Error::AccessDenied(
                    "the identity provider's response came from an unexpected issuer".into(),
                )
                .into());
            }
            (None, Some(expected)) if expected.iss_required => {
                return Err(Error::AccessDenied(
                    "the identity provider's response did not identify its issuer".into(),
                )
                .into());
            }
            _ => {}
        }
        if let Some(err) = p.error.as_deref() {
            let detail = p.error_description.as_deref();
            // Debug formatting: the upstream's text must not forge log lines either.
            tracing::info!(upstream_error = ?err, description = ?detail, "upstream returned an error");
            // What the user is told is the kind's (`idp::kinds`): the upstream's own words stay
            // in the log; its `error_description` is never passed on.
            let refusal = idp.classify_error(err, detail);
            let error = if refusal.transient {
                Error::TemporarilyUnavailable(refusal.message)
            } else {
                Error::AccessDenied(refusal.message)
            };
            let said = match detail {
                Some(d) => format!("{err}: {d}"),
                None => err.to_owned(),
            };
            return Err(Failure {
                error,
                reason: Some("upstream_refused"),
                upstream: Some(upstream_text(&said)),
            });
        }
        let code = p.code.as_deref().ok_or_else(|| {
            Error::AccessDenied("the identity provider returned neither a code nor an error".into())
        })?;
        let sealed = sealed.ok_or_else(|| {
            Error::server(anyhow::anyhow!("approved request without upstream leg"))
        })?;
        let plain = self.core.cipher.open(sealed, aad).map_err(Error::server)?;
        let secrets: UpstreamSecrets = serde_json::from_slice(&plain).map_err(Error::server)?;
        idp.exchange_code(code, &secrets.pkce_verifier, &secrets.nonce)
            .await
            .map_err(upstream_failure)
    }

    /// Our half: keeps the upstream tokens sealed to the grant's identity, and records the
    /// user, consent, grant and code in one transaction.
    async fn issue(
        &self,
        request: &AuthRequestRecord,
        login: &UpstreamLogin,
        request_id: Option<String>,
    ) -> Result<String, Error> {
        let user = UpstreamUser {
            upstream_id: request.upstream_id.clone(),
            issuer: login.identity.issuer.clone(),
            subject: login.identity.subject.clone(),
            email: login.identity.email.clone(),
            name: login.identity.name.clone(),
            groups: login.identity.groups.clone(),
        };
        let aad = upstream_tokens_aad(
            &request.upstream_id,
            &user.subject,
            &request.client_id,
            &request.resource,
        );
        let sealed_tokens = self
            .core
            .cipher
            .seal(login.tokens.to_json().as_bytes(), &aad)
            .map_err(Error::server)?;
        finish_login(self.core, request, &user, Some(sealed_tokens), request_id).await
    }

    /// A `login_failed` audit event on its own: no fact of ours commits with it.
    async fn audit_failure(
        &self,
        request: &AuthRequestRecord,
        reason: &str,
        upstream_error: Option<&str>,
        request_id: &Option<String>,
    ) {
        crate::metrics::callback_failed(reason);
        let now = self.core.now();
        let mut detail = serde_json::json!({ "reason": reason, "upstream": request.upstream_id });
        if let Some(said) = upstream_error {
            detail["upstream_error"] = said.into();
        }
        let event = AuditEvent::new("login_failed", now)
            .client(request.client_id.clone())
            .request(request_id.clone())
            .detail(&detail);
        if let Err(e) = self.core.store.insert_audit_event(&event).await {
            tracing::warn!(error = %e, "audit write failed");
        }
        let last_error = match upstream_error {
            Some(said) => format!("login_failed ({reason}): {said}"),
            None => format!("login_failed ({reason})"),
        };
        super::super::record_client_error(self.core, &request.client_id, &last_error, now).await;
    }
}

/// Maps upstream failures to what the client is told; the cause is logged here, once, and
/// never shown.
fn idp_error(e: IdpError) -> Error {
    tracing::warn!(error = %e, "upstream code exchange failed");
    match e {
        IdpError::Unavailable(_) | IdpError::Discovery(_) => Error::TemporarilyUnavailable(
            "the identity provider cannot be reached right now".into(),
        ),
        IdpError::Rejected { .. } => {
            Error::AccessDenied("the identity provider rejected the sign-in".into())
        }
        IdpError::InvalidIdToken(_) | IdpError::OtherSubject => {
            Error::AccessDenied("the identity provider's ID token failed verification".into())
        }
        IdpError::Config(msg) => Error::server(anyhow::anyhow!("upstream configuration: {msg}")),
    }
}
