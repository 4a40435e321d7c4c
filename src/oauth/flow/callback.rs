//! Step three, the upstream's answer: the pending request is taken by the upstream `state`
//! (single use), the browser binding checked, `iss` checked (RFC 9207), the upstream code
//! redeemed and its ID token verified, the access policy applied, and the login recorded with
//! our code for the client ([`crate::oauth::login::finish_login`], one transaction).

use super::secrets::{secrets_aad, UpstreamSecrets};
use super::{Flow, FlowError, Notice};
use crate::idp::{IdpError, UpstreamIdp, UpstreamLogin};
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
struct Failure {
    error: Error,
    reason: Option<&'static str>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            reason: None,
        }
    }
}

impl Flow<'_> {
    /// Completes the flow; returns the client's redirect URL carrying our code.
    ///
    /// # Errors
    /// Notices while the pending request is unknown or another browser's; after that, a
    /// `login_failed` audit event and [`FlowError::Redirect`] for our own failures or
    /// [`FlowError::Return`] for the user's (refused, cancelled, upstream trouble).
    pub async fn callback(&self, p: CallbackParams) -> Result<String, FlowError> {
        let now = self.core.now();
        let request = match self
            .core
            .store
            .take_auth_request_by_state(&crypto::hash(&p.state), now)
            .await
        {
            Ok(Some(r)) => r,
            Ok(None) => {
                crate::metrics::callback_failed("sign_in_expired");
                return Err(Notice::SignInExpired.into());
            }
            Err(e) => return Err(FlowError::Internal(e.into())),
        };
        let bound = p.browser.as_deref().is_some_and(|b| {
            crypto::ct_eq(crypto::hash(b).as_bytes(), request.browser_hash.as_bytes())
        });
        if !bound {
            // Login CSRF / confused deputy: the response reached a browser that did not start it.
            self.audit_failure(&request, "browser_binding_mismatch", &p.request_id)
                .await;
            return Err(Notice::OtherBrowser.into());
        }
        let result = self.complete(&request, &p).await;
        let iss = self.sends_iss(&request.client_id).await;
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
            Err(Failure { error, reason }) => {
                self.audit_failure(&request, reason.unwrap_or(error.code()), &p.request_id)
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
        let login = self.exchange(upstream.idp.as_ref(), request, p).await?;
        let subject = policy::Subject {
            email: login.identity.email.as_deref(),
            email_verified: login.identity.email_verified,
            groups: &login.identity.groups,
            tenant: login.identity.tenant.as_deref(),
            groups_incomplete: login.identity.groups_incomplete,
        };
        policy::check(&upstream.policy, subject).map_err(|refusal| {
            tracing::info!(upstream = %request.upstream_id, reason = refusal.as_str(), "sign-in refused by the access policy");
            Failure {
                error: refusal.to_error(),
                reason: Some(refusal.as_str()),
            }
        })?;
        Ok(self.issue(request, &login, p.request_id.clone()).await?)
    }

    /// The upstream half: checks the response's issuer and error, redeems the upstream code,
    /// and verifies the ID token.
    async fn exchange(
        &self,
        idp: &dyn UpstreamIdp,
        request: &AuthRequestRecord,
        p: &CallbackParams,
    ) -> Result<UpstreamLogin, Error> {
        // RFC 9207 §2.4 (mix-up defence), for error responses too: `iss`, when sent, must equal
        // the issuer of the upstream's discovery document; when that document advertises
        // `authorization_response_iss_parameter_supported`, a response without `iss` is refused.
        let expected = idp.issuer_identification().await.map_err(idp_error)?;
        match p.iss.as_deref() {
            Some(iss) if !expected.accepts(iss) => {
                return Err(Error::AccessDenied(
                    "the identity provider's response came from an unexpected issuer".into(),
                ));
            }
            None if expected.iss_required => {
                return Err(Error::AccessDenied(
                    "the identity provider's response did not identify its issuer".into(),
                ));
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
            return Err(if refusal.transient {
                Error::TemporarilyUnavailable(refusal.message)
            } else {
                Error::AccessDenied(refusal.message)
            });
        }
        let code = p.code.as_deref().ok_or_else(|| {
            Error::AccessDenied("the identity provider returned neither a code nor an error".into())
        })?;
        let sealed = request.upstream.as_ref().ok_or_else(|| {
            Error::server(anyhow::anyhow!("approved request without upstream leg"))
        })?;
        let plain = self
            .core
            .cipher
            .open(&sealed.sealed, &secrets_aad(&request.id_hash))
            .map_err(Error::server)?;
        let secrets: UpstreamSecrets = serde_json::from_slice(&plain).map_err(Error::server)?;
        idp.exchange_code(code, &secrets.pkce_verifier, &secrets.nonce)
            .await
            .map_err(idp_error)
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
        request_id: &Option<String>,
    ) {
        crate::metrics::callback_failed(reason);
        let event = AuditEvent::new("login_failed", self.core.now())
            .client(request.client_id.clone())
            .request(request_id.clone())
            .detail(&serde_json::json!({ "reason": reason, "upstream": request.upstream_id }));
        if let Err(e) = self.core.store.insert_audit_event(&event).await {
            tracing::warn!(error = %e, "audit write failed");
        }
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
        IdpError::InvalidIdToken(_) => {
            Error::AccessDenied("the identity provider's ID token failed verification".into())
        }
        IdpError::Config(msg) => Error::server(anyhow::anyhow!("upstream configuration: {msg}")),
    }
}
