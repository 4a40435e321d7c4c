//! Generic OpenID Connect upstream: discovery (cached, issuer checked exactly), the
//! authorization URL, the code exchange with ID token verification, and refresh. Per-IdP quirks
//! belong in their own files next to this one, not in here.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use moka::future::Cache;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AuthType, AuthorizationCode, ClaimsVerificationError, Client, ClientId,
    ClientSecret, CsrfToken, DiscoveryError, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdToken, IdTokenClaims, IdTokenFields, IdTokenVerifier, IssuerUrl,
    Nonce, OAuth2TokenResponse as _, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, SubjectIdentifier,
    TokenResponse as _, UserInfoClaims,
};
use secrecy::{ExposeSecret as _, SecretString};

use super::client_assertion::ClientAssertion;
use super::discovery_metadata::ProviderMetadata;
use super::http_client::{error_chain, UpstreamHttp};
use super::kinds::{self, Quirks, TokenClaims};
use super::reachability::{probe, Reachability, Verdict};
use super::{
    ExtraClaims, IdpError, IssuerCheck, RefreshFailure, UpstreamAuthRequest, UpstreamIdentity,
    UpstreamIdp, UpstreamLogin, UpstreamRefusal, UpstreamTokens,
};
use crate::clock::Clock;
use crate::config::{UpstreamClientAuth, UpstreamConfig};

/// ID token algorithms we accept: asymmetric only. An OP listing HS256 would otherwise get
/// tokens accepted that are keyed with our client secret (UPSTREAMS §4).
#[rustfmt::skip]
const ASYMMETRIC_ALGS: [CoreJwsSigningAlgorithm; 10] = {
    use CoreJwsSigningAlgorithm as A;
    [A::RsaSsaPkcs1V15Sha256, A::RsaSsaPkcs1V15Sha384, A::RsaSsaPkcs1V15Sha512,
     A::RsaSsaPssSha256, A::RsaSsaPssSha384, A::RsaSsaPssSha512,
     A::EcdsaP256Sha256, A::EcdsaP384Sha384, A::EcdsaP521Sha512, A::EdDsa]
};

/// Authorization parameters we set ourselves; `extra_authorize_params` may not override them.
/// `resource` is here because RFC 8707 resources are ours, not the upstream's. Parameters a
/// kind forbids besides these: [`Quirks::forbidden_params`].
#[rustfmt::skip]
const RESERVED_PARAMS: [&str; 9] = [
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
    "code_challenge", "code_challenge_method", "resource",
];

/// Least time between two forced discovery/JWKS refetches caused by an unknown `kid`.
const FORCED_REFRESH_INTERVAL: i64 = 30;

type TokenResp = StandardTokenResponse<
    IdTokenFields<
        ExtraClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
type OidcIdToken = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Claims = IdTokenClaims<ExtraClaims, CoreGenderClaim>;
type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResp,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How the `nonce` claim is checked.
#[derive(Clone, Copy)]
enum NonceCheck<'a> {
    /// Code exchange: present and equal (OIDC Core §3.1.3.7 step 11).
    Exact(&'a Nonce),
    /// Refresh: the trait does not carry the original nonce; the ID token comes straight from
    /// the authenticated token endpoint, so replay protection adds nothing (OIDC Core §12.2).
    Any,
}

/// A generic OpenID Connect upstream.
pub struct OidcUpstream {
    id: String,
    /// Issuer spellings to try: `Url` cannot tell `https://x` from `https://x/`, and providers
    /// differ (Google: no slash; Auth0: slash); the provider's own spelling must match exactly.
    issuer_candidates: Vec<String>,
    client_id: ClientId,
    /// `None` with `private_key_jwt`, which signs instead ([`ClientAssertion`]).
    client_secret: Option<ClientSecret>,
    assertion: Option<ClientAssertion>,
    auth_type: AuthType,
    client_auth: UpstreamClientAuth,
    redirect: RedirectUrl,
    scopes: Vec<String>,
    extra_params: Vec<(String, String)>,
    http: UpstreamHttp,
    clock: Arc<dyn Clock>,
    discovery: Cache<(), Arc<ProviderMetadata>>,
    last_forced_refresh: Mutex<Option<i64>>,
    /// Whether the token endpoint answered lately: a sign-in is not sent to a dead IdP.
    reachability: Reachability,
    /// What the upstream's kind does differently (authorize parameters, issuer, claims,
    /// errors).
    quirks: Box<dyn Quirks>,
}

impl std::fmt::Debug for OidcUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcUpstream")
            .field("id", &self.id)
            .field("issuer", &self.issuer_candidates.first())
            .field("client_id", &self.client_id.as_str())
            .field("kind", &self.quirks.kind())
            .finish_non_exhaustive()
    }
}

impl OidcUpstream {
    /// Prepares the upstream; no network until first use.
    ///
    /// # Errors
    /// `IdpError::Config` for a missing secret, a bad callback URL or a reserved extra parameter.
    pub fn new(
        config: &UpstreamConfig,
        callback_url: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, IdpError> {
        let assertion = ClientAssertion::for_config(config)?;
        let secret = config
            .client_secret
            .as_ref()
            .filter(|s| !s.expose_secret().is_empty())
            .map(|s| ClientSecret::new(s.expose_secret().to_owned()));
        if secret.is_none() && assertion.is_none() {
            return Err(IdpError::Config(format!(
                "upstream {}: client_secret is required",
                config.id
            )));
        }
        let redirect = RedirectUrl::new(callback_url.to_owned())
            .map_err(|e| IdpError::Config(format!("callback URL: {e}")))?;
        let quirks = kinds::for_config(config)?;
        for key in config.extra_authorize_params.keys() {
            if RESERVED_PARAMS.contains(&key.as_str())
                || quirks.forbidden_params().contains(&key.as_str())
            {
                return Err(IdpError::Config(format!(
                    "upstream {}: extra_authorize_params may not set {key:?}",
                    config.id
                )));
            }
        }
        let configured = kinds::issuer(config)?;
        let issuer = configured.as_str();
        let issuer_candidates = if configured.path() == "/" {
            vec![issuer.trim_end_matches('/').to_owned(), issuer.to_owned()]
        } else {
            vec![issuer.to_owned()]
        };
        Ok(Self {
            id: config.id.clone(),
            issuer_candidates,
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: secret,
            assertion,
            auth_type: match config.client_auth {
                UpstreamClientAuth::ClientSecretBasic => AuthType::BasicAuth,
                // With no secret, the body carries only client_id beside the assertion.
                UpstreamClientAuth::ClientSecretPost | UpstreamClientAuth::PrivateKeyJwt => {
                    AuthType::RequestBody
                }
            },
            client_auth: config.client_auth,
            redirect,
            scopes: config.scopes.clone(),
            extra_params: config
                .extra_authorize_params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            http: UpstreamHttp::for_config(config)?,
            clock,
            discovery: Cache::builder()
                .max_capacity(1)
                .time_to_live(Duration::from_secs(config.discovery_ttl_seconds.max(1)))
                .build(),
            last_forced_refresh: Mutex::new(None),
            reachability: Reachability::default(),
            quirks,
        })
    }

    /// Refuses at once while the token endpoint's last call failed to reach it, except for
    /// one probe of the discovery document now and then ([`Reachability`]), bounded by the
    /// upstream's `timeout_seconds`.
    async fn reachable(&self) -> Result<(), IdpError> {
        let now = self.clock.now();
        match self.reachability.verdict(now) {
            Verdict::Up => Ok(()),
            Verdict::Down => Err(IdpError::Unavailable(
                "the token endpoint failed lately and the last probe too".to_owned(),
            )),
            Verdict::Probe => {
                tracing::info!(upstream = %self.id, "probing an upstream whose token endpoint failed lately");
                let issuer = self.issuer_candidates.first().map_or("", String::as_str);
                let probed = probe(&self.http, issuer).await;
                self.reachability.observe(probed, self.clock.now())
            }
        }
    }

    /// Discovery and JWKS, from the cache or fetched once for all concurrent callers.
    async fn metadata(&self) -> Result<Arc<ProviderMetadata>, IdpError> {
        self.discovery
            .try_get_with((), self.discover())
            .await
            .map_err(|e| (*e).clone())
    }

    async fn discover(&self) -> Result<Arc<ProviderMetadata>, IdpError> {
        let mut mismatch = IdpError::Config("no issuer configured".to_owned());
        for candidate in &self.issuer_candidates {
            let issuer = IssuerUrl::new(candidate.clone())
                .map_err(|e| IdpError::Config(format!("issuer: {e}")))?;
            if let Some(expected) = self.quirks.discovery_issuer(candidate) {
                return self.discover_named(&issuer, &expected).await.map(Arc::new);
            }
            match ProviderMetadata::discover_async(issuer, &self.http).await {
                Ok(md) => {
                    tracing::info!(upstream = %self.id, issuer = %candidate, keys = md.jwks().keys().len(), "upstream discovery loaded");
                    return Ok(Arc::new(md));
                }
                // Only an issuer mismatch is worth trying the other spelling for.
                Err(DiscoveryError::Validation(msg)) => mismatch = IdpError::Discovery(msg),
                Err(e) => return Err(e.into()),
            }
        }
        Err(mismatch)
    }

    /// Discovery at `issuer` for a document that names another issuer, `expected` (Entra's
    /// multi-tenant template): openidconnect's `discover_async` insists on equality, so this
    /// fetches the same two documents itself and checks `issuer` against `expected` exactly.
    async fn discover_named(
        &self,
        issuer: &IssuerUrl,
        expected: &str,
    ) -> Result<ProviderMetadata, IdpError> {
        use openidconnect::AsyncHttpClient as _;
        let url = issuer
            .join(".well-known/openid-configuration")
            .map_err(|e| IdpError::Config(format!("issuer: {e}")))?;
        let request = openidconnect::http::Request::get(url.as_str())
            .header(openidconnect::http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| IdpError::Config(format!("discovery request: {e}")))?;
        let response = self
            .http
            .call(request)
            .await
            .map_err(|e| IdpError::from(DiscoveryError::Request(e)))?;
        // As `discover_async`: 5xx is worth retrying, any other status is a wrong document.
        let status = response.status();
        if status.is_server_error() {
            return Err(IdpError::Unavailable(format!(
                "HTTP status code {status} at {url}"
            )));
        }
        if status != openidconnect::http::StatusCode::OK {
            return Err(IdpError::Discovery(format!(
                "HTTP status code {status} at {url}"
            )));
        }
        let md: ProviderMetadata = serde_json::from_slice(response.body())
            .map_err(|e| IdpError::Discovery(format!("unparseable metadata at {url}: {e}")))?;
        if md.issuer().as_str() != expected {
            return Err(IdpError::Discovery(format!(
                "unexpected issuer URI `{}` (expected `{expected}`)",
                md.issuer().as_str()
            )));
        }
        let jwks = openidconnect::JsonWebKeySet::fetch_async(md.jwks_uri(), &self.http)
            .await
            .map_err(IdpError::from)?;
        tracing::info!(upstream = %self.id, issuer = %expected, keys = jwks.keys().len(), "upstream discovery loaded");
        Ok(md.set_jwks(jwks))
    }

    fn client(&self, md: &ProviderMetadata) -> OidcClient {
        OidcClient::from_provider_metadata(
            md.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone())
        .set_auth_type(self.auth_type.clone())
    }

    /// A verifier that knows no shared secret and accepts only asymmetric algorithms the
    /// provider advertises; time comes from our clock.
    fn verifier(
        &self,
        md: &ProviderMetadata,
    ) -> Result<IdTokenVerifier<'static, CoreJsonWebKey>, IdpError> {
        let algs = allowed_algs(md);
        if algs.is_empty() {
            return Err(IdpError::Config(
                "the upstream advertises no asymmetric ID token signing algorithm (HS* and none are refused)".to_owned(),
            ));
        }
        let clock = self.clock.clone();
        Ok(IdTokenVerifier::new_public_client(
            self.client_id.clone(),
            md.issuer().clone(),
            md.jwks().clone(),
        )
        .set_allowed_algs(algs)
        // `iss` is the kind's to check (Quirks::check_issuer), after everything else verified.
        .require_issuer_match(false)
        .set_time_fn(move || {
            (UNIX_EPOCH + Duration::from_secs(u64::try_from(clock.now()).unwrap_or(0))).into()
        }))
    }

    /// Verifies an ID token; on an unknown `kid` refetches discovery and JWKS once (at most
    /// every 30 s) and tries again, since keys rotate and openidconnect never refetches.
    async fn verify(
        &self,
        md: Arc<ProviderMetadata>,
        token: &OidcIdToken,
        nonce: NonceCheck<'_>,
    ) -> Result<Claims, IdpError> {
        let (claims, md) = match self.claims(&md, token, nonce)? {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                if !self.may_force_refresh() {
                    return Err(IdpError::InvalidIdToken(
                        "signed with an unknown key (JWKS refetch rate-limited)".to_owned(),
                    ));
                }
                tracing::warn!(upstream = %self.id, "ID token signed with an unknown key; refetching discovery and JWKS");
                self.discovery.invalidate(&()).await;
                let md = self.metadata().await?;
                (self.claims(&md, token, nonce)?.map_err(IdpError::from)?, md)
            }
            other => (other.map_err(IdpError::from)?, md),
        };
        self.quirks
            .check_issuer(md.issuer().as_str(), &token_claims(&claims))?;
        Ok(claims)
    }

    fn claims(
        &self,
        md: &ProviderMetadata,
        token: &OidcIdToken,
        nonce: NonceCheck<'_>,
    ) -> Result<Result<Claims, ClaimsVerificationError>, IdpError> {
        let verifier = self.verifier(md)?;
        let claims = match nonce {
            NonceCheck::Exact(n) => token.claims(&verifier, n).cloned(),
            NonceCheck::Any => token.claims(&verifier, |_: Option<&Nonce>| Ok(())).cloned(),
        };
        Ok(claims.and_then(|c| {
            // OIDC Core §3.1.3.7 steps 4–5: several audiences need an azp, and azp must be us.
            match c.authorized_party() {
                Some(azp) if azp.as_str() != self.client_id.as_str() => Err(
                    ClaimsVerificationError::InvalidAudience("azp is not our client_id".to_owned()),
                ),
                None if c.audiences().len() > 1 => Err(ClaimsVerificationError::InvalidAudience(
                    "several audiences and no azp".to_owned(),
                )),
                _ => Ok(c),
            }
        }))
    }

    fn may_force_refresh(&self) -> bool {
        let now = self.clock.now();
        let mut last = self
            .last_forced_refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| now - t < FORCED_REFRESH_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// `client_assertion_type` and a fresh `client_assertion` for one token request, when
    /// this upstream is `private_key_jwt`; else nothing.
    fn assertion(&self, md: &ProviderMetadata) -> Result<Vec<(&'static str, String)>, IdpError> {
        match (&self.assertion, md.token_endpoint()) {
            (Some(signer), Some(url)) => Ok(signer.params(url.as_str(), self.clock.now())?.into()),
            _ => Ok(Vec::new()),
        }
    }

    fn tokens(&self, resp: &TokenResp) -> UpstreamTokens {
        let now = self.clock.now();
        UpstreamTokens {
            access_token: SecretString::from(resp.access_token().secret().clone()),
            refresh_token: resp
                .refresh_token()
                .map(|t| SecretString::from(t.secret().clone())),
            id_token: resp.id_token().map(|t| SecretString::from(t.to_string())),
            expires_at: resp
                .expires_in()
                .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
            scope: resp
                .scopes()
                .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")),
        }
    }

    /// Fills email (and a missing name) from userinfo when the ID token had no email: some
    /// IdPs keep ID tokens thin. A failure only loses these optional claims.
    async fn enrich_from_userinfo(
        &self,
        client: &OidcClient,
        access_token: &AccessToken,
        identity: &mut UpstreamIdentity,
    ) {
        let subject = SubjectIdentifier::new(identity.subject.clone());
        let Ok(request) = client.user_info(access_token.clone(), Some(subject)) else {
            return;
        };
        let info: Result<UserInfoClaims<ExtraClaims, CoreGenderClaim>, _> =
            request.request_async(&self.http).await;
        match info {
            Ok(info) => {
                identity.email = info.email().map(|e| e.as_str().to_owned());
                identity.email_verified = info.email_verified();
                let name = info.name().and_then(|n| n.get(None));
                identity.name = identity.name.take().or(name.map(|n| n.as_str().to_owned()));
            }
            Err(e) => tracing::warn!(upstream = %self.id, error = %error_chain(&e),
                "userinfo failed; continuing without it"),
        }
    }
}

#[async_trait]
impl UpstreamIdp for OidcUpstream {
    fn id(&self) -> &str {
        &self.id
    }

    async fn authorization_url(&self, req: &UpstreamAuthRequest) -> Result<url::Url, IdpError> {
        super::require_s256(&req.pkce_challenge)?;
        self.reachable().await?;
        let md = self.metadata().await?;
        let client = self.client(&md);
        let (state, nonce) = (req.state.clone(), req.nonce.clone());
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        );
        let supported = md
            .scopes_supported()
            .map(|s| s.iter().map(|x| x.as_str().to_owned()).collect::<Vec<_>>());
        let scopes = self
            .quirks
            .authorize_scopes(&self.scopes, supported.as_deref());
        // openidconnect adds `openid` itself.
        for scope in scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        request = request
            .add_extra_param("code_challenge", req.pkce_challenge.clone())
            .add_extra_param("code_challenge_method", "S256");
        // `prompt` may come from the kind, from the configuration and from the client
        // (`login`); send one parameter carrying all values. Other configured parameters
        // replace the kind's value of the same name.
        let mut prompt: Vec<String> = Vec::new();
        let mut params: Vec<(String, String)> = Vec::new();
        let kind_params = self.quirks.authorize_params().iter();
        for (k, v) in kind_params
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain(self.quirks.authorize_hints())
            .chain(self.extra_params.iter().cloned())
        {
            if k == "prompt" {
                for p in v.split(' ').filter(|p| !p.is_empty()) {
                    if !prompt.iter().any(|q| q == p) {
                        prompt.push(p.to_owned());
                    }
                }
            } else {
                params.retain(|(name, _)| *name != k);
                params.push((k, v));
            }
        }
        for (k, v) in params {
            request = request.add_extra_param(k, v);
        }
        if req.force_login && !prompt.iter().any(|p| p == "login") {
            prompt.push("login".to_owned());
        }
        if !prompt.is_empty() {
            request = request.add_extra_param("prompt", prompt.join(" "));
        }
        // A configured `login_hint` (extra_authorize_params) stays the only one.
        let configured = self.extra_params.iter().any(|(k, _)| k == "login_hint");
        if let Some(hint) = req.login_hint.as_ref().filter(|_| !configured) {
            request = request.add_extra_param("login_hint", hint.clone());
        }
        Ok(request.url().0)
    }

    async fn issuer_identification(&self) -> Result<Option<IssuerCheck>, IdpError> {
        let md = self.metadata().await?;
        Ok(Some(IssuerCheck {
            // Discovery already checked it equals the configured issuer (one of its spellings).
            issuer: md.issuer().as_str().to_owned(),
            iss_required: md
                .additional_metadata()
                .authorization_response_iss_parameter_supported,
        }))
    }

    async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<UpstreamLogin, IdpError> {
        let md = self.metadata().await?;
        let client = self.client(&md);
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| IdpError::no_token_endpoint())?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        for (k, v) in self.assertion(&md)? {
            request = request.add_extra_param(k, v);
        }
        let sent = request.request_async(&self.http).await;
        let resp = self
            .reachability
            .observe(sent.map_err(IdpError::from), self.clock.now())?;
        let id_token = resp.id_token().ok_or_else(|| {
            IdpError::InvalidIdToken("the token response has no id_token".to_owned())
        })?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = self.verify(md, id_token, NonceCheck::Exact(&nonce)).await?;
        let mut identity = self.quirks.identity(&token_claims(&claims))?;
        if identity.email.is_none() && client.user_info_url().is_some() {
            self.enrich_from_userinfo(&client, resp.access_token(), &mut identity)
                .await;
        }
        Ok(UpstreamLogin {
            identity,
            tokens: self.tokens(&resp),
        })
    }

    async fn refresh(
        &self,
        refresh_token: &str,
        expected_subject: &str,
    ) -> Result<UpstreamTokens, IdpError> {
        Ok(self
            .refresh_confirming(refresh_token, expected_subject)
            .await?
            .0)
    }

    async fn refresh_confirming(
        &self,
        refresh_token: &str,
        expected_subject: &str,
    ) -> Result<(UpstreamTokens, Option<UpstreamIdentity>), IdpError> {
        let md = self.metadata().await?;
        let client = self.client(&md);
        let old = RefreshToken::new(refresh_token.to_owned());
        let mut request = client
            .exchange_refresh_token(&old)
            .map_err(|_| IdpError::no_token_endpoint())?;
        for scope in self.quirks.refresh_scopes(&self.scopes).unwrap_or_default() {
            request = request.add_scope(Scope::new(scope));
        }
        for (k, v) in self.assertion(&md)? {
            request = request.add_extra_param(k, v);
        }
        let sent = request.request_async(&self.http).await;
        let resp = self
            .reachability
            .observe(sent.map_err(IdpError::from), self.clock.now())?;
        let mut confirmed = None;
        if let Some(id_token) = resp.id_token() {
            let claims = self.verify(md, id_token, NonceCheck::Any).await?;
            let identity = self.quirks.identity(&token_claims(&claims))?;
            if identity.subject != expected_subject {
                return Err(IdpError::OtherSubject);
            }
            confirmed = Some(identity);
        }
        let mut tokens = self.tokens(&resp);
        // Upstreams that do not rotate omit refresh_token; the old one stays valid.
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(SecretString::from(refresh_token.to_owned()));
        }
        Ok((tokens, confirmed))
    }

    fn classify_error(&self, error: &str, description: Option<&str>) -> UpstreamRefusal {
        self.quirks.classify_error(error, description)
    }

    fn classify_refresh_error(&self, error: &str, description: Option<&str>) -> RefreshFailure {
        self.quirks.classify_refresh_error(error, description)
    }

    async fn check(&self) -> Result<serde_json::Value, IdpError> {
        let md = self.metadata().await?;
        let raw = serde_json::to_value(&*md)
            .map_err(|e| IdpError::Discovery(format!("metadata does not serialize: {e}")))?;
        let algs: Vec<String> = allowed_algs(&md)
            .iter()
            .filter_map(|a| serde_json::to_value(a).ok()?.as_str().map(str::to_owned))
            .collect();
        let mut summary = super::check_summary(
            &self.id,
            &raw,
            &algs,
            self.client_auth.as_str(),
            &self.scopes,
            md.jwks().keys().len(),
        )?;
        summary["kind"] = self.quirks.kind().as_str().into();
        if let Some(list) = summary["warnings"].as_array_mut() {
            list.extend(self.quirks.warnings().into_iter().map(Into::into));
        }
        Ok(summary)
    }
}

/// The claims a kind maps to a user, borrowed from verified ID token claims.
fn token_claims(claims: &Claims) -> TokenClaims<'_> {
    TokenClaims {
        issuer: claims.issuer().as_str(),
        subject: claims.subject().as_str(),
        email: claims.email().map(|e| e.as_str()),
        email_verified: claims.email_verified(),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        extra: claims.additional_claims(),
    }
}

fn allowed_algs(md: &ProviderMetadata) -> Vec<CoreJwsSigningAlgorithm> {
    md.id_token_signing_alg_values_supported()
        .iter()
        .filter(|a| ASYMMETRIC_ALGS.contains(a))
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
