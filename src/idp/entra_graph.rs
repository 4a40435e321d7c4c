//! `kind = "entra"` with `graph_groups = true`: the groups overage resolved through Microsoft
//! Graph. Above 200 groups (6 in an implicit-flow token) Entra leaves `groups` out of the ID
//! token and says so with `_claim_names.groups` (OIDC Core §5.6.2 distributed claims, pointing
//! at the retired Azure AD Graph); the user's groups then come from
//! `POST {graph_base}/me/getMemberGroups` with the upstream access token (needs the
//! `User.Read` delegated permission, and `GroupMember.Read.All` for groups beyond the user's
//! own; Graph answers 403 `Authorization_RequestDenied` without it).
//!
//! A wrapper around the OIDC upstream: everything is delegated, and a login whose groups are
//! incomplete gets them from Graph before the access policy sees it.

use async_trait::async_trait;
use openidconnect::http::{header, Method, Request, StatusCode};
use openidconnect::AsyncHttpClient as _;
use secrecy::{ExposeSecret as _, SecretString};

use super::http_client::UpstreamHttp;
use super::{
    IdpError, IssuerCheck, OidcUpstream, RefreshFailure, UpstreamAuthRequest, UpstreamIdentity,
    UpstreamIdp, UpstreamLogin, UpstreamRefusal, UpstreamTokens,
};

/// Microsoft Graph's v1.0 root, the `graph_base` default.
pub const GRAPH_V1: &str = "https://graph.microsoft.com/v1.0";
/// Most group ids taken from one answer (getMemberGroups returns at most 11 000).
const MAX_GROUPS: usize = 11_000;

/// An Entra upstream that resolves the groups overage through Graph.
pub struct GraphGroups {
    inner: OidcUpstream,
    /// `{graph_base}/me/getMemberGroups`.
    url: String,
    http: UpstreamHttp,
}

impl std::fmt::Debug for GraphGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphGroups")
            .field("inner", &self.inner)
            .field("url", &self.url)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct MemberGroups {
    value: Vec<serde_json::Value>,
}

impl GraphGroups {
    /// Wraps `inner`, asking Graph at `config`'s `graph_base` (default [`GRAPH_V1`]).
    ///
    /// # Errors
    /// `IdpError::Config` when the HTTP client cannot be built.
    pub fn new(
        inner: OidcUpstream,
        config: &crate::config::UpstreamConfig,
    ) -> Result<Self, IdpError> {
        let base = config
            .graph_base
            .as_ref()
            .map_or(GRAPH_V1, url::Url::as_str);
        Ok(Self {
            inner,
            url: format!("{}/me/getMemberGroups", base.trim_end_matches('/')),
            http: UpstreamHttp::for_config(config)?,
        })
    }

    /// The user's group ids (transitive, security and Microsoft 365 groups: the same ids the
    /// `groups` claim would have carried).
    ///
    /// # Errors
    /// `Rejected` (`access_denied`) when Graph refuses the token or the permission;
    /// `Unavailable` for network trouble, 5xx and answers that are not Graph's.
    pub async fn member_groups(
        &self,
        access_token: &SecretString,
    ) -> Result<Vec<String>, IdpError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(&self.url)
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", access_token.expose_secret()),
            )
            .body(br#"{"securityEnabledOnly":false}"#.to_vec())
            .map_err(|e| IdpError::Config(format!("Graph request: {e}")))?;
        let response = self
            .http
            .call(request)
            .await
            .map_err(|e| IdpError::Unavailable(format!("Microsoft Graph: {e}")))?;
        match response.status() {
            StatusCode::OK => {}
            // InvalidAuthenticationToken / Authorization_RequestDenied: the token does not
            // carry the permission (admin consent missing) or is not for Graph.
            s @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                return Err(IdpError::Rejected {
                    error: "access_denied".to_owned(),
                    description: Some(format!(
                        "Microsoft Graph getMemberGroups answered {s}: grant the app User.Read and GroupMember.Read.All with admin consent"
                    )),
                })
            }
            s => {
                return Err(IdpError::Unavailable(format!(
                    "Microsoft Graph getMemberGroups answered HTTP {s}"
                )))
            }
        }
        let groups: MemberGroups = serde_json::from_slice(response.body()).map_err(|e| {
            IdpError::Unavailable(format!(
                "unparseable Microsoft Graph answer (line {} column {})",
                e.line(),
                e.column()
            ))
        })?;
        Ok(groups
            .value
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .take(MAX_GROUPS)
            .collect())
    }

    /// Fills an incomplete group list from Graph.
    async fn complete(
        &self,
        identity: &mut UpstreamIdentity,
        access_token: &SecretString,
    ) -> Result<(), IdpError> {
        if identity.groups_incomplete {
            identity.groups = self.member_groups(access_token).await?;
            identity.groups_incomplete = false;
            tracing::info!(upstream = %self.inner.id(), groups = identity.groups.len(), "groups overage resolved through Microsoft Graph");
        }
        Ok(())
    }
}

#[async_trait]
impl UpstreamIdp for GraphGroups {
    fn id(&self) -> &str {
        self.inner.id()
    }

    async fn authorization_url(&self, req: &UpstreamAuthRequest) -> Result<url::Url, IdpError> {
        self.inner.authorization_url(req).await
    }

    async fn issuer_identification(&self) -> Result<Option<IssuerCheck>, IdpError> {
        self.inner.issuer_identification().await
    }

    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<UpstreamLogin, IdpError> {
        let mut login = self.inner.exchange_code(code, pkce_verifier, nonce).await?;
        self.complete(&mut login.identity, &login.tokens.access_token)
            .await?;
        Ok(login)
    }

    async fn refresh(
        &self,
        refresh_token: &str,
        expected_subject: &str,
    ) -> Result<UpstreamTokens, IdpError> {
        self.inner.refresh(refresh_token, expected_subject).await
    }

    fn classify_error(&self, error: &str, description: Option<&str>) -> UpstreamRefusal {
        self.inner.classify_error(error, description)
    }

    fn classify_refresh_error(&self, error: &str, description: Option<&str>) -> RefreshFailure {
        self.inner.classify_refresh_error(error, description)
    }

    async fn check(&self) -> Result<serde_json::Value, IdpError> {
        let mut summary = self.inner.check().await?;
        summary["graph_groups"] = self.url.clone().into();
        Ok(summary)
    }
}
