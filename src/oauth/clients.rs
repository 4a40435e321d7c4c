//! The one way from a `client_id` to a client, used by /authorize, /token (and revocation and
//! introspection) and registration management alike.
//!
//! Today every client lives in the store: dynamic registrations and the static `[[clients]]`
//! (synced into the store at startup, `static_clients::sync`). Client ID Metadata Documents come
//! next as another [`ClientResolver`] that fetches `https` client ids and falls back to this one
//! for the rest, so the endpoints do not change when it arrives.

use std::sync::Arc;

use async_trait::async_trait;

use super::Result;
use crate::store::{ClientRecord, Store};

/// Resolves a client id to the client it names, disabled or not (callers decide what a disabled
/// client may still do).
#[async_trait]
pub trait ClientResolver: Send + Sync {
    /// The client, or `None` for an unknown id.
    ///
    /// # Errors
    /// Lookup failures (internal).
    async fn resolve(&self, client_id: &str) -> Result<Option<ClientRecord>>;
}

/// Clients registered in the store (DCR and configured static clients).
pub struct StoreClients {
    store: Arc<dyn Store>,
}

impl StoreClients {
    /// A resolver over `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl ClientResolver for StoreClients {
    async fn resolve(&self, client_id: &str) -> Result<Option<ClientRecord>> {
        Ok(self.store.get_client(client_id).await?)
    }
}
