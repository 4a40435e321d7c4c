//! Step two, the user's decision on the consent page: checked against the pending request's
//! CSRF token and browser binding; approve (with the upstream the user chose, where the
//! resource offers several) seals a fresh upstream PKCE verifier, state and nonce into the
//! request and sends the browser upstream, deny answers the client `access_denied`.

use super::secrets::{consent_mac, extra_value, fresh_leg, secrets_aad, LOGIN_HINT_KEY};
use super::{Flow, FlowError, Notice};
use crate::metrics::Step;
use crate::oauth::{crypto, Error};
use crate::store::{AuditEvent, AuthRequestRecord, UpstreamLeg};

/// The consent form, as the HTTP layer read it.
#[derive(Debug)]
pub struct Decision {
    pub consent_id: String,
    pub csrf_token: String,
    /// `approve`, `deny`, or whatever else the form said.
    pub decision: String,
    /// The upstream chosen on the page ("Sign in with …"), if the form carried one.
    pub upstream: Option<String>,
    /// The user ticked "don't ask again".
    pub remember: bool,
    /// The browser-binding value from the cookie, if any.
    pub browser: Option<String>,
    pub request_id: Option<String>,
}

/// An approval: where the browser goes, and the approval to remember in it, if asked.
#[derive(Debug)]
pub struct Approved {
    /// The upstream authorization URL.
    pub upstream_url: String,
    /// The MAC to add to the browser's remembered approvals ("don't ask again").
    pub remember: Option<String>,
}

impl Flow<'_> {
    /// Applies the user's decision.
    ///
    /// # Errors
    /// Notices for a stale, foreign or malformed form; deny is a [`FlowError::Redirect`] with
    /// `access_denied`; failures to go upstream as [`Flow::send_upstream`].
    pub async fn decide(&self, d: Decision) -> Result<Approved, FlowError> {
        let now = self.core.now();
        let id_hash = crypto::hash(&d.consent_id);
        let request = match self.core.store.get_auth_request(&id_hash, now).await {
            Ok(Some(r)) if r.upstream.is_none() => r,
            Ok(_) => return Err(Notice::RequestExpired.into()),
            Err(e) => return Err(FlowError::Internal(e.into())),
        };
        let browser_ok = d.browser.as_deref().is_some_and(|b| {
            crypto::ct_eq(crypto::hash(b).as_bytes(), request.browser_hash.as_bytes())
        });
        let csrf_ok = crypto::ct_eq(
            crypto::hash(&d.csrf_token).as_bytes(),
            request.csrf_hash.as_bytes(),
        );
        if !browser_ok || !csrf_ok {
            tracing::warn!(client_id = %request.client_id, browser_ok, csrf_ok, "consent refused: binding check failed");
            return Err(Notice::NotThisBrowser.into());
        }
        match d.decision.as_str() {
            "approve" => {
                let upstream = self.chosen_upstream(&request, d.upstream.as_deref())?;
                crate::metrics::flow(Step::Consent, "given");
                // Remembering needs a decided upstream: a chosen one is chosen again next time.
                let mac = d
                    .browser
                    .as_deref()
                    .filter(|_| d.remember && !request.upstream_id.is_empty())
                    .map(|b| consent_mac(&self.core.cipher, b, &request));
                let request = AuthRequestRecord {
                    upstream_id: upstream,
                    ..request
                };
                let upstream_url = self.send_upstream(request).await?;
                Ok(Approved {
                    upstream_url,
                    remember: mac,
                })
            }
            "deny" => Err(self.deny(&id_hash, request, d.request_id).await),
            _ => Err(Notice::UnknownDecision.into()),
        }
    }

    /// The upstream an approval goes to: the request's own when it was decided (a form naming
    /// another is refused), else the user's choice, which must be one of the resource's
    /// upstreams (the list is the security boundary; a forged value is refused, never
    /// mapped to a default).
    fn chosen_upstream(
        &self,
        request: &AuthRequestRecord,
        chosen: Option<&str>,
    ) -> Result<String, FlowError> {
        if !request.upstream_id.is_empty() {
            return match chosen {
                Some(c) if c != request.upstream_id => {
                    tracing::warn!(client_id = %request.client_id, "consent refused: another upstream than the decided one");
                    Err(Notice::UnknownUpstream.into())
                }
                _ => Ok(request.upstream_id.clone()),
            };
        }
        let offered = self
            .core
            .settings
            .resource_by_uri(&request.resource)
            .map(|r| r.upstreams.as_slice())
            .unwrap_or_default();
        match chosen {
            Some(c) if offered.iter().any(|u| u == c) => Ok(c.to_owned()),
            Some(_) => {
                tracing::warn!(client_id = %request.client_id, "consent refused: an upstream the resource does not offer");
                Err(Notice::UnknownUpstream.into())
            }
            None => Err(Notice::NoUpstreamChosen.into()),
        }
    }

    /// Consumes the pending request and records the refusal, together.
    async fn deny(
        &self,
        id_hash: &str,
        request: AuthRequestRecord,
        request_id: Option<String>,
    ) -> FlowError {
        let audit = AuditEvent::new("consent_denied", self.core.now())
            .client(request.client_id.clone())
            .request(request_id);
        let done = async {
            let mut tx = self.core.store.begin().await?;
            tx.take_auth_request(id_hash).await?;
            tx.insert_audit_event(&audit).await?;
            tx.commit().await
        };
        if let Err(e) = done.await {
            return FlowError::Internal(e.into());
        }
        crate::metrics::flow(Step::Consent, "denied");
        FlowError::Redirect {
            iss: self.sends_iss(&request).await,
            redirect_uri: request.redirect_uri,
            state: request.client_state,
            error: Error::AccessDenied("the user denied the request".into()),
        }
    }

    /// Records the upstream leg of an approved request (single use) and returns the upstream
    /// authorization URL.
    ///
    /// # Errors
    /// The request was approved meanwhile or expired (notice); the upstream is unknown
    /// (`server_error` on the client's redirect URI) or unreachable (the "sign-in service
    /// unavailable" page, returning `temporarily_unavailable` to the client, RFC 6749
    /// §4.1.2.1): the user chose to go on with this client. An unreachable upstream leaves the
    /// pending request as it was: its URL is made before anything is written.
    pub(super) async fn send_upstream(
        &self,
        request: AuthRequestRecord,
    ) -> Result<String, FlowError> {
        let Some(upstream) = self.core.upstreams.get(&request.upstream_id) else {
            return Err(FlowError::Redirect {
                iss: self.sends_iss(&request).await,
                redirect_uri: request.redirect_uri,
                state: request.client_state,
                error: Error::server(anyhow::anyhow!(
                    "upstream {} is not configured",
                    request.upstream_id
                )),
            });
        };
        let fresh = fresh_leg(&self.core.cipher, |_| secrets_aad(&request.id_hash))
            .map_err(FlowError::Internal)?;
        // Discovery (cached) and the upstream's breaker: an IdP whose token endpoint failed
        // lately is probed, not trusted (`idp::reachability`).
        let url = match upstream
            .idp
            .authorization_url(
                &fresh.request(wants_login(&request), extra_value(&request, LOGIN_HINT_KEY)),
            )
            .await
        {
            Ok(url) => url,
            Err(e) => {
                crate::metrics::flow(Step::UpstreamRedirect, "failed");
                tracing::warn!(upstream = %request.upstream_id, error = %e, "upstream authorization URL failed");
                return Err(FlowError::Return {
                    iss: self.sends_iss(&request).await,
                    redirect_uri: request.redirect_uri,
                    state: request.client_state,
                    error: Error::TemporarilyUnavailable(
                        "the identity provider cannot be reached right now".into(),
                    ),
                });
            }
        };
        let now = self.core.now();
        let leg = UpstreamLeg {
            state_hash: fresh.state_hash.clone(),
            sealed: fresh.sealed.clone(),
            expires_at: now + self.core.settings.tokens.authorization_request_ttl,
            upstream_id: request.upstream_id.clone(),
        };
        match self
            .core
            .store
            .approve_auth_request(&request.id_hash, &leg, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(Notice::RequestExpired.into()),
            Err(e) => return Err(FlowError::Internal(e.into())),
        }
        crate::metrics::flow(Step::UpstreamRedirect, "ok");
        Ok(url.to_string())
    }
}

/// Whether the client sent `prompt=login` (kept in the pending request's `extra`).
fn wants_login(request: &AuthRequestRecord) -> bool {
    extra_value(request, "prompt").is_some_and(|p| p.split(' ').any(|x| x == "login"))
}
