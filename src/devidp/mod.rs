//! A small, standards-following OpenID Connect provider for `dcr-bridge dev` and the
//! integration tests: discovery, JWKS, authorization code + PKCE S256 with a login form,
//! token (code and refresh with rotation), userinfo. In-memory state; never mounted by `serve`.

mod authorize;
mod keys;
pub mod standalone;
mod token;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use anyhow::Context as _;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::{Clock, SystemClock};
use keys::SigningKey;

/// The dev IdP's configuration: one client, a few users.
#[derive(Debug, Clone)]
pub struct DevIdpConfig {
    /// Issuer, e.g. `http://127.0.0.1:PORT`; a path is allowed (routes are nested under it).
    /// Empty means `http://{listener address}`.
    pub issuer: String,
    /// The one registered client.
    pub client_id: String,
    /// Its secret (client_secret_basic or client_secret_post).
    pub client_secret: String,
    /// Exact redirect URIs of the client.
    pub redirect_uris: Vec<String>,
    /// Who can log in.
    pub users: Vec<DevUser>,
    /// Test shortcut: an authorize request with `login_hint=<sub>` of a known user skips the
    /// form and redirects at once. `dcr-bridge dev` leaves this off and shows the form.
    pub auto_login: bool,
}

impl DevIdpConfig {
    /// A config with the default users and `auto_login` off.
    #[must_use]
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uris: Vec<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uris,
            users: DevUser::defaults(),
            auto_login: false,
        }
    }
}

/// A user of the dev IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevUser {
    /// Stable subject.
    pub sub: String,
    /// Email (always reported verified).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Values of the `groups` claim.
    pub groups: Vec<String>,
    /// When set, the login form asks for it.
    pub password: Option<String>,
}

impl DevUser {
    /// alice (`dev-alice`, engineering) and bob (`dev-bob`, sales); no passwords.
    #[must_use]
    pub fn defaults() -> Vec<Self> {
        vec![
            Self {
                sub: "dev-alice".to_owned(),
                email: "alice@example.com".to_owned(),
                name: "Alice Example".to_owned(),
                groups: vec!["engineering".to_owned()],
                password: None,
            },
            Self {
                sub: "dev-bob".to_owned(),
                email: "bob@example.com".to_owned(),
                name: "Bob Example".to_owned(),
                groups: vec!["sales".to_owned()],
                password: None,
            },
        ]
    }

    /// [`DevUser::defaults`], each with the password `<name>-dev-password` (`dev-alice` /
    /// `alice-dev-password`): what `dcr-bridge dev` and `dev-idp` sign in with. Fixed rather
    /// than random so that the docs, the banner and a restarted process agree.
    #[must_use]
    pub fn with_passwords() -> Vec<Self> {
        Self::defaults()
            .into_iter()
            .map(|mut u| {
                let name = u.sub.trim_start_matches("dev-").to_owned();
                u.password = Some(format!("{name}-dev-password"));
                u
            })
            .collect()
    }
}

/// What a code, refresh token or access token was issued for.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) sub: String,
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
}

/// A pending authorization code.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub(crate) grant: Grant,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    /// Unix seconds.
    pub(crate) expires: i64,
}

/// Shared state of one running dev IdP.
pub(crate) struct DevState {
    pub(crate) config: DevIdpConfig,
    key: RwLock<Arc<SigningKey>>,
    pub(crate) codes: Mutex<HashMap<String, CodeGrant>>,
    pub(crate) refresh_tokens: Mutex<HashMap<String, Grant>>,
    pub(crate) access_tokens: Mutex<HashMap<String, (Grant, i64)>>,
    clock: RwLock<Arc<dyn Clock>>,
    pub(crate) pages: minijinja::Environment<'static>,
    discovery_requests: AtomicUsize,
}

impl DevState {
    fn new(config: DevIdpConfig, key: SigningKey) -> anyhow::Result<Self> {
        let mut pages = minijinja::Environment::new();
        // The `.html` name turns on HTML auto-escaping.
        pages.add_template(
            "devidp_login.html",
            include_str!("../../templates/devidp_login.html"),
        )?;
        Ok(Self {
            config,
            key: RwLock::new(Arc::new(key)),
            codes: Mutex::default(),
            refresh_tokens: Mutex::default(),
            access_tokens: Mutex::default(),
            clock: RwLock::new(Arc::new(SystemClock)),
            pages,
            discovery_requests: AtomicUsize::new(0),
        })
    }

    /// The issuer without a trailing slash, to append endpoint paths to.
    pub(crate) fn base(&self) -> &str {
        self.config.issuer.trim_end_matches('/')
    }

    /// Unix seconds, from the clock tests may share with dcr-bridge.
    pub(crate) fn now(&self) -> i64 {
        self.clock
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .now()
    }

    pub(crate) fn key(&self) -> Arc<SigningKey> {
        self.key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn user(&self, sub: &str) -> Option<&DevUser> {
        self.config.users.iter().find(|u| u.sub == sub)
    }
}

/// Locks a map; a panic elsewhere does not make the dev IdP unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running dev IdP. Dropping it stops the server.
pub struct DevIdpHandle {
    /// The issuer, as in discovery and ID tokens.
    pub issuer: String,
    /// The bound address.
    pub addr: SocketAddr,
    state: Arc<DevState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for DevIdpHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdpHandle")
            .field("issuer", &self.issuer)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl DevIdpHandle {
    /// Replaces the signing key; tokens signed before carry a `kid` the JWKS no longer lists.
    ///
    /// # Errors
    /// Key generation failure.
    pub async fn rotate_key(&self) -> anyhow::Result<()> {
        let key = tokio::task::spawn_blocking(SigningKey::generate).await??;
        *self
            .state
            .key
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(())
    }

    /// Makes the IdP tell time by `clock` (for `iat`/`exp` and code and token expiry), so a
    /// test that moves dcr-bridge's `ManualClock` moves the IdP's too. Default: the system clock.
    pub fn use_clock(&self, clock: Arc<dyn Clock>) {
        *self
            .state
            .clock
            .write()
            .unwrap_or_else(PoisonError::into_inner) = clock;
    }

    /// How many times the discovery document was served (tests check caching with it).
    #[must_use]
    pub fn discovery_requests(&self) -> usize {
        self.state.discovery_requests.load(Ordering::SeqCst)
    }

    /// Stops accepting, drains, and waits for the server task.
    ///
    /// # Errors
    /// When the server failed.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.wait_task().await
    }

    /// Runs until the server stops (for `dcr-bridge dev`, next to the bridge itself).
    ///
    /// # Errors
    /// When the server failed.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        self.wait_task().await
    }

    async fn wait_task(&mut self) -> anyhow::Result<()> {
        match self.task.take() {
            Some(task) => Ok(task
                .await
                .context("dev IdP task")?
                .context("dev IdP server")?),
            None => Ok(()),
        }
    }
}

impl Drop for DevIdpHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the dev IdP on `listener`.
///
/// # Errors
/// Key generation, template or address failures.
pub async fn spawn(
    listener: TcpListener,
    mut config: DevIdpConfig,
) -> anyhow::Result<DevIdpHandle> {
    let addr = listener.local_addr().context("dev IdP listener address")?;
    if config.issuer.is_empty() {
        config.issuer = format!("http://{addr}");
    }
    let issuer_url = url::Url::parse(&config.issuer).context("dev IdP issuer")?;
    let prefix = issuer_url.path().trim_end_matches('/').to_owned();
    let key = tokio::task::spawn_blocking(SigningKey::generate).await??;
    let state = Arc::new(DevState::new(config, key)?);
    let routes = router(state.clone());
    let app = if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(&prefix, routes)
    };
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(issuer = %state.config.issuer, "dev IdP listening");
    Ok(DevIdpHandle {
        issuer: state.config.issuer.clone(),
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}

fn router(state: Arc<DevState>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize::show).post(authorize::submit))
        .route("/token", axum::routing::post(token::token))
        .route("/userinfo", get(token::userinfo).post(token::userinfo))
        .with_state(state)
}

async fn discovery(State(st): State<Arc<DevState>>) -> Json<serde_json::Value> {
    st.discovery_requests.fetch_add(1, Ordering::SeqCst);
    let base = st.base();
    Json(serde_json::json!({
        "issuer": st.config.issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "email", "profile", "groups", "offline_access"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "name", "groups"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks(State(st): State<Arc<DevState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "keys": [st.key().jwk()] }))
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
