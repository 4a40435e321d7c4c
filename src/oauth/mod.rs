//! The protocol core: validated request types, the RFC error enum, client policy, redirect-URI
//! rules, grants and token minting. Pure: no axum, sqlx or reqwest types; I/O only through the
//! `Store`, `UpstreamIdp` and `Clock` traits passed in.

pub mod access;
pub mod authorize;
pub mod cimd;
pub mod client_assertion;
pub mod client_auth;
pub mod client_registration;
pub mod client_rules;
pub mod clients;
pub mod crypto;
pub mod enterprise_idps;
pub mod error;
pub mod flow;
pub mod grants;
pub mod introspect;
pub mod keys;
pub mod login;
pub mod pkce;
pub mod policy;
pub mod redirect_uri;
pub mod registration;
pub mod registration_policy;
pub mod resource;
pub mod revoke;
pub mod scope;
pub mod service_accounts;
pub mod settings;
pub mod signing_alg;
pub mod static_clients;
pub mod tokens;
pub mod upstream_choice;
pub mod upstreams;
pub mod vault;

use std::sync::Arc;

pub use error::{Error, Result};
pub use settings::{Resource, Settings};

use crate::clock::Clock;
use crate::store::Store;

/// What every protocol service needs: storage, time, sealing, signing, settings, the upstream
/// identity providers and the one way to resolve a client id.
#[derive(Clone)]
pub struct Core {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Seals upstream tokens and private keys.
    pub cipher: Arc<crypto::Cipher>,
    /// Signs and verifies our JWTs.
    pub keys: Arc<keys::KeyRing>,
    /// Issuer, resources, lifetimes.
    pub settings: Arc<Settings>,
    /// The configured upstream identity providers.
    pub upstreams: Arc<upstreams::Upstreams>,
    /// Resolves client ids (store today; CIMD next).
    pub clients: Arc<dyn clients::ClientResolver>,
}

impl Core {
    /// Current time, Unix seconds.
    #[must_use]
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// Records a client's last error (refused token request, failed flow) for the admin API. Best
/// effort: the answer the client gets is decided already, and must not turn into a 500.
pub async fn record_client_error(core: &Core, client_id: &str, reason: &str, now: i64) {
    if let Err(e) = core.store.record_client_error(client_id, reason, now).await {
        tracing::warn!(error = %e, client_id, "could not record the client's last error");
    }
}
