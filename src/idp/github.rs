//! `kind = "github"`: GitHub and GitHub Enterprise Server, which speak OAuth 2.0 without OpenID
//! Connect (UPSTREAMS §5): no discovery, no ID token, no nonce. Who logged in comes from the
//! REST API (`GET /user`, `GET /user/emails`), org and team membership too. Implements
//! [`UpstreamIdp`] itself; only the wording of refusals is shared with the OIDC kinds.

use std::sync::Arc;

use async_trait::async_trait;
use openidconnect::http::{header, Method, Request, StatusCode};
use openidconnect::AsyncHttpClient as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::http_client::UpstreamHttp;
use super::kinds::{generic_refresh_failure, generic_refusal};
use super::{
    IdpError, IssuerCheck, RefreshFailure, UpstreamAuthRequest, UpstreamIdentity, UpstreamIdp,
    UpstreamLogin, UpstreamRefusal, UpstreamTokens,
};
use crate::clock::Clock;
use crate::config::UpstreamConfig;

/// The REST API version we speak (GitHub: `X-GitHub-Api-Version`).
const API_VERSION: &str = "2022-11-28";
/// Scopes when the configuration names no GitHub scope: the profile and the email addresses.
const DEFAULT_SCOPES: [&str; 2] = ["read:user", "user:email"];
/// OpenID Connect scopes in the shared default list; GitHub has no such scopes.
const OIDC_SCOPES: [&str; 4] = ["openid", "email", "profile", "offline_access"];
/// Scopes that let the API show org and team membership.
const ORG_SCOPES: [&str; 3] = ["read:org", "write:org", "admin:org"];
/// `GET /user/teams` page size (GitHub's maximum) and how many pages we read at most.
const TEAMS_PER_PAGE: usize = 100;
const MAX_TEAM_PAGES: usize = 10;
/// Authorization parameters we set ourselves; `extra_authorize_params` may not override them.
#[rustfmt::skip]
const RESERVED_PARAMS: [&str; 8] = [
    "response_type", "client_id", "redirect_uri", "scope", "state",
    "code_challenge", "code_challenge_method", "resource",
];

/// A GitHub (or GitHub Enterprise Server) OAuth App or GitHub App.
pub struct GithubUpstream {
    id: String,
    client_id: String,
    client_secret: SecretString,
    redirect: String,
    /// `https://github.com` or the GHES host, without a trailing slash; also the issuer users
    /// are recorded under.
    web: String,
    /// `https://api.github.com` or `https://HOST/api/v3`, without a trailing slash.
    api: String,
    scopes: Vec<String>,
    extra_params: Vec<(String, String)>,
    allowed_orgs: Vec<String>,
    check_teams: bool,
    /// Nobody but GitHub decides who signs in: no org, team or email-domain rule.
    open_to_everyone: bool,
    http: UpstreamHttp,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for GithubUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubUpstream")
            .field("id", &self.id)
            .field("web", &self.web)
            .field("api", &self.api)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The scopes to ask GitHub for: the configured ones without the OpenID Connect scopes of the
/// shared default; `read:user user:email` when none is left; `read:org` added when the policy
/// restricts orgs or teams (the membership API needs it).
#[must_use]
pub fn github_scopes(configured: &[String], needs_org: bool) -> Vec<String> {
    let mut scopes: Vec<String> = configured
        .iter()
        .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
        .cloned()
        .collect();
    if scopes.is_empty() {
        scopes = DEFAULT_SCOPES.map(str::to_owned).to_vec();
    }
    if needs_org && !scopes.iter().any(|s| ORG_SCOPES.contains(&s.as_str())) {
        scopes.push(ORG_SCOPES[0].to_owned());
    }
    scopes
}

impl GithubUpstream {
    /// Prepares the upstream; no network until first use.
    ///
    /// # Errors
    /// `IdpError::Config` for a missing secret, unusable URLs or a reserved extra parameter.
    pub fn new(
        config: &UpstreamConfig,
        callback_url: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, IdpError> {
        let bad = |what: &str| IdpError::Config(format!("upstream {}: {what}", config.id));
        let secret = config
            .client_secret
            .clone()
            .filter(|s| !s.expose_secret().is_empty())
            .ok_or_else(|| bad("client_secret is required"))?;
        for key in config.extra_authorize_params.keys() {
            if RESERVED_PARAMS.contains(&key.as_str()) {
                return Err(bad(&format!("extra_authorize_params may not set {key:?}")));
            }
        }
        let web = config
            .github_web_base()
            .map_err(|e| bad(&format!("web_base: {e}")))?;
        let api = config
            .github_api_base()
            .map_err(|e| bad(&format!("api_base: {e}")))?;
        let policy = &config.policy;
        let needs_org = !policy.allowed_orgs.is_empty() || !policy.allowed_teams.is_empty();
        Ok(Self {
            id: config.id.clone(),
            client_id: config.client_id.clone(),
            client_secret: secret,
            redirect: callback_url.to_owned(),
            web: web.as_str().trim_end_matches('/').to_owned(),
            api: api.as_str().trim_end_matches('/').to_owned(),
            scopes: github_scopes(&config.scopes, needs_org),
            extra_params: config
                .extra_authorize_params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            allowed_orgs: policy.allowed_orgs.clone(),
            check_teams: !policy.allowed_teams.is_empty(),
            open_to_everyone: !needs_org && policy.allowed_email_domains.is_empty(),
            http: UpstreamHttp::for_config(config)?,
            clock,
        })
    }

    fn token_url(&self) -> String {
        format!("{}/login/oauth/access_token", self.web)
    }

    /// One token endpoint request: credentials in the form body (GitHub's way), and
    /// `Accept: application/json`, without which GitHub answers form-encoded.
    async fn token_request(&self, form: &[(&str, &str)]) -> Result<UpstreamTokens, IdpError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose_secret())
            .extend_pairs(form)
            .finish();
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.token_url())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.into_bytes())
            .map_err(|e| IdpError::Config(format!("token request: {e}")))?;
        let response = self
            .http
            .call(request)
            .await
            .map_err(|e| IdpError::Unavailable(e.to_string()))?;
        parse_token_response(response.status(), response.body(), self.clock.now())
    }

    /// `GET {api}/{path}`, with the user's token when there is one.
    async fn api_call(
        &self,
        path: &str,
        token: Option<&SecretString>,
    ) -> Result<openidconnect::HttpResponse, IdpError> {
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(format!("{}/{path}", self.api))
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION);
        if let Some(token) = token {
            let bearer = format!("Bearer {}", token.expose_secret());
            request = request.header(header::AUTHORIZATION, bearer);
        }
        let request = request
            .body(Vec::new())
            .map_err(|e| IdpError::Config(format!("API request: {e}")))?;
        self.http
            .call(request)
            .await
            .map_err(|e| IdpError::Unavailable(e.to_string()))
    }

    /// `GET {api}/{path}` with the user's token. `None` when GitHub hides the answer from this
    /// token (403/404: scope not granted, not a member, org restrictions on OAuth Apps).
    async fn api_get<T: DeserializeOwned>(
        &self,
        token: &SecretString,
        path: &str,
    ) -> Result<Option<T>, IdpError> {
        let response = self.api_call(path, Some(token)).await?;
        let status = response.status();
        // The path only: the query is ours and harmless, but keep log lines short.
        let what = path.split('?').next().unwrap_or(path);
        match status {
            StatusCode::OK => serde_json::from_slice(response.body())
                .map(Some)
                // Position only: serde's message may quote a value of the body.
                .map_err(|e| {
                    IdpError::Unavailable(format!(
                        "unparseable GitHub API answer at /{what} (line {} column {})",
                        e.line(),
                        e.column()
                    ))
                }),
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Ok(None),
            // The token we were just given does not work: GitHub refuses this sign-in.
            StatusCode::UNAUTHORIZED => Err(IdpError::Rejected {
                error: "invalid_token".to_owned(),
                description: Some(format!("GitHub API /{what} answered 401")),
            }),
            other => Err(IdpError::Unavailable(format!(
                "GitHub API /{what} answered HTTP {other}"
            ))),
        }
    }

    /// The user behind `token`: numeric id as subject, primary verified email, org and team
    /// memberships the policy asks about (as groups: `org`, `org/team-slug`, lowercase).
    async fn identity(&self, token: &SecretString) -> Result<UpstreamIdentity, IdpError> {
        let user: UserWire =
            self.api_get(token, "user")
                .await?
                .ok_or_else(|| IdpError::Rejected {
                    error: "access_denied".to_owned(),
                    description: Some("GitHub API /user is not visible to this token".to_owned()),
                })?;
        let subject = user.id.as_u64().filter(|id| *id > 0).ok_or_else(|| {
            IdpError::Unavailable("GitHub API /user answered without a numeric id".to_owned())
        })?;
        // Only an address GitHub verified and the user made primary; the public profile
        // `email` may be any address the user typed.
        let emails: Option<Vec<EmailWire>> = self.api_get(token, "user/emails").await?;
        if emails.is_none() {
            tracing::warn!(upstream = %self.id, "GitHub /user/emails not visible (user:email scope not granted?); signing in without an email");
        }
        let email = emails
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.primary && e.verified)
            .map(|e| e.email);
        let mut groups = Vec::new();
        for org in &self.allowed_orgs {
            let path = format!("user/memberships/orgs/{org}");
            let membership: Option<MembershipWire> = self.api_get(token, &path).await?;
            if membership.is_some_and(|m| m.state == "active") {
                groups.push(org.to_ascii_lowercase());
            }
        }
        if self.check_teams {
            groups.extend(self.teams(token).await?);
        }
        groups.sort();
        groups.dedup();
        Ok(UpstreamIdentity {
            issuer: self.web.clone(),
            subject: subject.to_string(),
            email_verified: email.as_ref().map(|_| true),
            email,
            name: user
                .name
                .filter(|n| !n.trim().is_empty())
                .or(Some(user.login)),
            groups,
            tenant: None,
            groups_incomplete: false,
            hosted_domain: None,
        })
    }

    /// The user's teams as `org/team-slug`, at most [`MAX_TEAM_PAGES`] pages.
    async fn teams(&self, token: &SecretString) -> Result<Vec<String>, IdpError> {
        let mut out = Vec::new();
        for page in 1..=MAX_TEAM_PAGES {
            let path = format!("user/teams?per_page={TEAMS_PER_PAGE}&page={page}");
            let Some(teams) = self.api_get::<Vec<TeamWire>>(token, &path).await? else {
                break;
            };
            let full = teams.len() == TEAMS_PER_PAGE;
            out.extend(
                teams
                    .into_iter()
                    .map(|t| format!("{}/{}", t.organization.login, t.slug).to_ascii_lowercase()),
            );
            if !full {
                return Ok(out);
            }
        }
        tracing::warn!(upstream = %self.id, "more than {} GitHub teams; the rest are not checked", TEAMS_PER_PAGE * MAX_TEAM_PAGES);
        Ok(out)
    }
}

#[derive(Deserialize)]
struct UserWire {
    id: serde_json::Value,
    login: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct EmailWire {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

#[derive(Deserialize)]
struct MembershipWire {
    state: String,
}

#[derive(Deserialize)]
struct TeamWire {
    slug: String,
    organization: OrgWire,
}

#[derive(Deserialize)]
struct OrgWire {
    login: String,
}

/// A token endpoint answer. Every field optional: GitHub answers errors with HTTP 200 and
/// `{"error": ...}` (oauth2-rs#313), so the shape decides, not the status.
#[derive(Deserialize)]
struct TokenWire {
    access_token: Option<String>,
    token_type: Option<String>,
    scope: Option<String>,
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Reads a token endpoint answer: an `error` member is an error whatever the status (GitHub
/// sends `bad_verification_code` with 200); anything that is not JSON is a broken upstream.
/// The response `scope` is comma-separated at GitHub; it is stored space-separated.
///
/// # Errors
/// `Rejected` with the RFC 6749 §5.2 code GitHub's code means, `Unavailable` for the rest.
pub(crate) fn parse_token_response(
    status: StatusCode,
    body: &[u8],
    now: i64,
) -> Result<UpstreamTokens, IdpError> {
    let wire: TokenWire = serde_json::from_slice(body).map_err(|_| {
        IdpError::Unavailable(format!(
            "unparseable GitHub token endpoint response (HTTP {status})"
        ))
    })?;
    if let Some(error) = wire.error {
        return Err(rejected(&error, wire.error_description));
    }
    if !status.is_success() {
        return Err(IdpError::Unavailable(format!(
            "GitHub token endpoint answered HTTP {status} without an OAuth error"
        )));
    }
    let access_token = wire.access_token.filter(|t| !t.is_empty()).ok_or_else(|| {
        IdpError::Unavailable("GitHub token endpoint response without access_token".to_owned())
    })?;
    if let Some(kind) = wire
        .token_type
        .filter(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(IdpError::Unavailable(format!(
            "GitHub token endpoint issued a {kind:?} token, not a bearer token"
        )));
    }
    let expires_in = wire.expires_in.and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    });
    Ok(UpstreamTokens {
        access_token: SecretString::from(access_token),
        refresh_token: wire
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(SecretString::from),
        id_token: None,
        // OAuth App tokens carry no expires_in: they never expire.
        expires_at: expires_in.filter(|n| *n > 0).map(|n| now.saturating_add(n)),
        scope: wire.scope.map(|s| {
            s.split([',', ' '])
                .filter(|x| !x.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }),
    })
}

/// GitHub's token endpoint codes with their RFC 6749 §5.2 meaning, so callers (the refresh
/// path) can tell a dead grant from our own misconfiguration; GitHub's code stays in the
/// description for the log.
fn rejected(github: &str, description: Option<String>) -> IdpError {
    let rfc = match github {
        // Wrong, used or expired code; wrong, used or expired refresh token; a PKCE verifier
        // that does not match the challenge is reported as the code being bad.
        "bad_verification_code" | "bad_refresh_token" | "expired_token" => "invalid_grant",
        "incorrect_client_credentials" => "invalid_client",
        "redirect_uri_mismatch" => "invalid_grant",
        "unsupported_grant_type" => "unsupported_grant_type",
        _ => "invalid_request",
    };
    let code: String = github
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    IdpError::Rejected {
        error: rfc.to_owned(),
        description: Some(match description {
            Some(d) => format!("GitHub {code}: {}", d.chars().take(200).collect::<String>()),
            None => format!("GitHub {code}"),
        }),
    }
}

#[async_trait]
impl UpstreamIdp for GithubUpstream {
    fn id(&self) -> &str {
        &self.id
    }

    /// `{web}/login/oauth/authorize` with our S256 challenge (GitHub supports PKCE since
    /// 2025-07, S256 only). No nonce: there is no ID token to carry it.
    async fn authorization_url(&self, req: &UpstreamAuthRequest) -> Result<url::Url, IdpError> {
        super::require_s256(&req.pkce_challenge)?;
        let mut url = url::Url::parse(&format!("{}/login/oauth/authorize", self.web))
            .map_err(|e| IdpError::Config(format!("web_base: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &self.redirect)
                .append_pair("scope", &self.scopes.join(" "))
                .append_pair("state", &req.state)
                .append_pair("code_challenge", &req.pkce_challenge)
                .append_pair("code_challenge_method", "S256");
            let configured_prompt = self.extra_params.iter().any(|(k, _)| k == "prompt");
            for (k, v) in &self.extra_params {
                q.append_pair(k, v);
            }
            // GitHub has no `prompt=login`; `select_account` makes it show the account picker
            // instead of reusing the signed-in account silently.
            if req.force_login && !configured_prompt {
                q.append_pair("prompt", "select_account");
            }
        }
        Ok(url)
    }

    async fn issuer_identification(&self) -> Result<Option<IssuerCheck>, IdpError> {
        Ok(None)
    }

    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        _nonce: &str,
    ) -> Result<UpstreamLogin, IdpError> {
        let tokens = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect),
                ("code_verifier", pkce_verifier),
            ])
            .await?;
        let identity = self.identity(&tokens.access_token).await?;
        Ok(UpstreamLogin { identity, tokens })
    }

    /// GitHub App user tokens expire (8 h) and come with a refresh token (6 months) that
    /// rotates on use. The answer names no user, so `expected_subject` has nothing to be
    /// compared with. OAuth App tokens never expire and have no refresh token: there is
    /// nothing to call this with.
    async fn refresh(
        &self,
        refresh_token: &str,
        _expected_subject: &str,
    ) -> Result<UpstreamTokens, IdpError> {
        let mut tokens = self
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(SecretString::from(refresh_token.to_owned()));
        }
        Ok(tokens)
    }

    /// The API again with the user's token: the same identity and memberships as at sign-in,
    /// so a user removed from an allowed org or team, or who revoked the app (401), loses
    /// access at our next re-confirmation.
    async fn standing(
        &self,
        access_token: &SecretString,
    ) -> Result<Option<UpstreamIdentity>, IdpError> {
        self.identity(access_token).await.map(Some)
    }

    /// OAuth App tokens never expire and have no refresh token: the API is asked with the
    /// access token itself.
    fn rechecks_without_refresh(&self) -> bool {
        true
    }

    /// GitHub's own codes were mapped to RFC 6749 ones by [`rejected`]; the API's 401 on the
    /// stored token (`invalid_token`: the user revoked the app, or GitHub expired the token)
    /// ends the grant as `invalid_grant` does.
    fn classify_refresh_error(&self, error: &str, description: Option<&str>) -> RefreshFailure {
        match error {
            "invalid_token" => RefreshFailure::Revoked,
            _ => generic_refresh_failure(error, description),
        }
    }

    fn classify_error(&self, error: &str, description: Option<&str>) -> UpstreamRefusal {
        match error {
            // The callback URL registered with the GitHub app is not ours (GitHub's
            // "The redirect_uri MUST match the registered callback URL for this application").
            "redirect_uri_mismatch" => UpstreamRefusal {
                transient: false,
                message: "the GitHub application's callback URL does not match this server's; ask the administrator to register this server's /oauth/callback URL".to_owned(),
            },
            "application_suspended" => UpstreamRefusal {
                transient: false,
                message: "the GitHub application this server signs in with is suspended; ask the administrator".to_owned(),
            },
            _ => generic_refusal(error, description),
        }
    }

    /// No discovery: asks the API root's `GET /meta` (public, no token) whether `api_base`
    /// is a GitHub API, and reports the endpoints and scopes dcr-bridge will use.
    async fn check(&self) -> Result<serde_json::Value, IdpError> {
        let url = format!("{}/meta", self.api);
        let response = self.api_call("meta", None).await?;
        if response.status() != StatusCode::OK {
            return Err(IdpError::Discovery(format!(
                "GitHub API answered HTTP {} at {url}: is api_base right?",
                response.status()
            )));
        }
        let meta: serde_json::Value = serde_json::from_slice(response.body())
            .ok()
            .filter(serde_json::Value::is_object)
            .ok_or_else(|| {
                IdpError::Discovery(format!("{url} is not a GitHub API answer (no JSON object)"))
            })?;
        let mut warnings = Vec::new();
        if self.open_to_everyone {
            warnings.push("no policy.allowed_orgs, allowed_teams or allowed_email_domains: anyone with a GitHub account can sign in".to_owned());
        }
        Ok(serde_json::json!({
            "id": self.id,
            "kind": "github",
            "issuer": self.web,
            "web_base": self.web,
            "api_base": self.api,
            "authorization_endpoint": format!("{}/login/oauth/authorize", self.web),
            "token_endpoint": self.token_url(),
            "installed_version": meta.get("installed_version").cloned().unwrap_or(serde_json::Value::Null),
            "client_auth": "client_secret_post",
            "scopes": self.scopes,
            "warnings": warnings,
        }))
    }
}

#[cfg(test)]
#[path = "github_tests.rs"]
mod tests;
