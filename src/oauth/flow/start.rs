//! Step one, `/authorize`: resolve and validate (errors go back to the client only once
//! client_id and redirect_uri are known good, STYLE 10), store the pending request bound to the
//! browser, and either ask the user or, for an approval this browser remembered, go upstream.

use serde::Serialize;
use url::Url;

use super::secrets::{client_digest, consent_mac, CLIENT_DIGEST_KEY, ISS_KEY, LOGIN_HINT_KEY};
use super::{Flow, FlowError};
use crate::metrics::Step;
use crate::oauth::authorize::{self, AuthorizeParams, ValidAuthorize};
use crate::oauth::upstream_choice::UpstreamChoice;
use crate::oauth::{cimd, crypto, Error, Settings};
use crate::store::{AuditEvent, AuthRequestRecord, ClientKind, ClientRecord};

/// An authorization request as the HTTP layer read it, with the browser it came from.
#[derive(Debug)]
pub struct StartRequest {
    /// The request's parameters.
    pub params: AuthorizeParams,
    /// The browser-binding value: the cookie's, or a fresh one the HTTP layer is about to set.
    pub browser: String,
    /// The approvals this browser asked us to remember (MACs from its cookie).
    pub remembered: Vec<String>,
}

/// Where the browser goes next.
#[derive(Debug)]
pub enum Started {
    /// Show the consent page.
    Consent(Box<ConsentPrompt>),
    /// A remembered approval: straight to this upstream authorization URL.
    Upstream(String),
}

/// One upstream offered on the consent page.
#[derive(Debug, Serialize)]
pub struct UpstreamOption {
    /// The value the form posts back (`upstream`).
    pub id: String,
    /// What the button says.
    pub name: String,
}

/// What the consent page shows, and the handles its form posts back.
#[derive(Debug, Serialize)]
pub struct ConsentPrompt {
    pub client_name: String,
    /// A dynamically registered client: its name is its own claim, and the page says so.
    pub unverified: bool,
    /// For a Client ID Metadata Document client, the `host[:port]` of its client id URL: whoever
    /// controls it published the metadata (CIMD-00 §OAuth Phishing Attacks).
    pub verified_domain: Option<String>,
    pub client_id: String,
    pub redirect_uri: String,
    /// `host[:port]` of the redirect URI (`scheme:` for private-use schemes).
    pub redirect_host: String,
    pub loopback: bool,
    pub resource: String,
    pub resource_name: String,
    pub scopes: Vec<String>,
    /// The upstream the user signs in at next; empty when they choose (`upstream_choices`).
    pub upstream_name: String,
    /// The resource's upstreams to choose from (the consent page's "Sign in with" buttons);
    /// empty when the upstream is decided.
    pub upstream_choices: Vec<UpstreamOption>,
    /// The pending request's handle (stored only hashed).
    pub consent_id: String,
    /// The form's CSRF token (stored only hashed).
    pub csrf_token: String,
    #[serde(skip)]
    client: ClientRecord,
    #[serde(skip)]
    state: Option<String>,
}

impl ConsentPrompt {
    /// The answer when the page itself cannot be shown: still before the user acted, so the
    /// same rule as for validation errors.
    #[must_use]
    pub fn refuse(self, settings: &Settings, error: Error) -> FlowError {
        authorize::early_error(settings, &self.client, self.redirect_uri, self.state, error).into()
    }
}

impl Flow<'_> {
    /// Starts the flow.
    ///
    /// # Errors
    /// [`FlowError::Page`], [`FlowError::Redirect`] or [`FlowError::Inform`] as validation
    /// decides; from a remembered approval, as [`Flow::decide`] when it approves.
    pub async fn start(&self, req: StartRequest) -> Result<Started, FlowError> {
        crate::metrics::flow(Step::Authorize, "started");
        let client = match req.params.client_id.as_deref() {
            Some(id) => self
                .core
                .clients
                .resolve(id)
                .await
                .map_err(FlowError::Page)?,
            None => None,
        };
        // COMPAT C13: a client configured with the IdP's own client_id (copied from the IdP
        // console) gets an explanation instead of a bare "unknown client".
        if let (None, Some(id)) = (&client, req.params.client_id.as_deref()) {
            if self.core.upstreams.is_upstream_client_id(id) {
                return Err(FlowError::Page(Error::invalid_client(
                    "this is the identity provider's client id, which only dcr-bridge uses; \
                     leave the client id empty so the application registers itself, or ask \
                     the administrator for a pre-registered client",
                )));
            }
        }
        let valid = authorize::validate_authorize(req.params, client, &self.core.settings)?;
        match self.pend(&valid, &req.browser, &req.remembered).await {
            Ok(Pending::Remembered(record)) => {
                crate::metrics::flow(Step::Consent, "remembered");
                self.send_upstream(*record).await.map(Started::Upstream)
            }
            Ok(Pending::Ask {
                consent_id,
                csrf_token,
            }) => {
                crate::metrics::flow(Step::Consent, "shown");
                Ok(Started::Consent(Box::new(
                    self.prompt(valid, consent_id, csrf_token),
                )))
            }
            // Still before the user acted: the same rule as for validation errors.
            Err(e) => Err(authorize::early_error(
                &self.core.settings,
                &valid.client,
                valid.redirect_uri,
                valid.state,
                e,
            )
            .into()),
        }
    }

    /// Stores the pending request and decides whether this browser already approved it.
    async fn pend(
        &self,
        v: &ValidAuthorize,
        browser: &str,
        remembered: &[String],
    ) -> Result<Pending, Error> {
        let now = self.core.now();
        let consent_id = crypto::random_b64(32);
        let csrf_token = crypto::random_b64(32);
        let record = AuthRequestRecord {
            id_hash: crypto::hash(&consent_id),
            client_id: v.client.client_id.clone(),
            redirect_uri: v.redirect_uri.clone(),
            redirect_uri_sent: v.redirect_uri_sent,
            client_state: v.state.clone(),
            code_challenge: v.code_challenge.clone(),
            scope: v.scope.to_string(),
            resource: v.resource.uri.clone(),
            // Empty while the user has to choose; approving records the choice.
            upstream_id: v.upstream.decided().unwrap_or_default().to_owned(),
            browser_hash: crypto::hash(browser),
            csrf_hash: crypto::hash(&csrf_token),
            extra: Some({
                let mut extra = serde_json::json!({
                    CLIENT_DIGEST_KEY: client_digest(&v.client),
                    ISS_KEY: self.core.settings.sends_iss(&v.client),
                });
                if let Some(p) = &v.prompt {
                    extra["prompt"] = serde_json::json!(p);
                }
                if let Some(h) = &v.login_hint {
                    extra[LOGIN_HINT_KEY] = serde_json::json!(h);
                }
                extra.to_string()
            }),
            created_at: now,
            expires_at: now + self.core.settings.tokens.authorization_request_ttl,
            upstream: None,
        };
        // The flow's first fact and its audit event, together (STYLE 21).
        let audit = AuditEvent::new("authorize_started", now)
            .client(record.client_id.clone())
            .detail(&serde_json::json!({
                "resource": record.resource,
                "scope": record.scope,
                "upstream": record.upstream_id,
                "upstream_chosen_by": match &v.upstream {
                    UpstreamChoice::Decided { by, .. } => by.as_str(),
                    UpstreamChoice::Ask(_) => "user",
                },
            }));
        let mut tx = self.core.store.begin().await?;
        tx.insert_auth_request(&record).await?;
        tx.insert_audit_event(&audit).await?;
        tx.commit().await?;
        // No touch_client here: only a completed token request counts as use, so a flood of
        // /authorize requests cannot keep a spam registration from expiring.

        // Consent is per (browser, client): an approval this browser asked us to remember skips
        // the page, unless the client asks for the prompt (OIDC Core §3.1.2.1
        // prompt=consent|login).
        let forced = v
            .prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|x| x == "consent" || x == "login"));
        // A remembered approval goes straight upstream only when the upstream is decided: the
        // choice itself is the user's to make each time.
        let mac = consent_mac(&self.core.cipher, browser, &record);
        if !forced && v.upstream.decided().is_some() && remembered.contains(&mac) {
            tracing::info!(client_id = %v.client.client_id, "consent remembered in this browser");
            return Ok(Pending::Remembered(Box::new(record)));
        }
        Ok(Pending::Ask {
            consent_id,
            csrf_token,
        })
    }

    fn prompt(&self, v: ValidAuthorize, consent_id: String, csrf_token: String) -> ConsentPrompt {
        let loopback = Url::parse(&v.redirect_uri)
            .ok()
            .as_ref()
            .is_some_and(crate::config::is_loopback_url);
        // The upstream `validate_authorize` decided on, or the resource's to choose from.
        let name = |id: &str| {
            self.core
                .upstreams
                .get(id)
                .map_or_else(|| id.to_owned(), |u| u.display_name.clone())
        };
        let (upstream_name, upstream_choices) = match &v.upstream {
            UpstreamChoice::Decided { upstream, .. } => (name(upstream), Vec::new()),
            UpstreamChoice::Ask(ids) => (
                String::new(),
                ids.iter()
                    .map(|id| UpstreamOption {
                        id: id.clone(),
                        name: name(id),
                    })
                    .collect(),
            ),
        };
        ConsentPrompt {
            client_name: v
                .client
                .client_name
                .clone()
                .unwrap_or_else(|| "An unnamed application".to_owned()),
            unverified: v.client.kind == ClientKind::Dcr,
            verified_domain: (v.client.kind == ClientKind::Cimd)
                .then(|| cimd::verified_domain(&v.client.client_id))
                .flatten(),
            client_id: v.client.client_id.clone(),
            redirect_host: display_host(&v.redirect_uri),
            redirect_uri: v.redirect_uri,
            loopback,
            resource: v.resource.uri,
            resource_name: v.resource.id,
            scopes: v.scope.iter().map(str::to_owned).collect(),
            upstream_name,
            upstream_choices,
            consent_id,
            csrf_token,
            client: v.client,
            state: v.state,
        }
    }
}

/// The stored pending request: ask, or go on with a remembered approval.
enum Pending {
    Ask {
        consent_id: String,
        csrf_token: String,
    },
    Remembered(Box<AuthRequestRecord>),
}

/// `host[:port]` of a redirect URI as shown to the user (`scheme:` for private-use schemes).
#[must_use]
pub fn display_host(redirect_uri: &str) -> String {
    Url::parse(redirect_uri)
        .map(|u| match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => format!("{}:", u.scheme()),
        })
        .unwrap_or_default()
}
