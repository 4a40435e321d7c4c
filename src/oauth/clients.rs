//! The one way from a `client_id` to a client, used by /authorize, /token (and revocation and
//! introspection) and registration management alike.
//!
//! Dynamic registrations and the static `[[clients]]` (synced into the store at startup,
//! `static_clients::sync`) live in the store ([`StoreClients`]). [`CimdClients`] adds Client ID
//! Metadata Documents: an `https` client id is fetched, validated and stored as a `cimd` client,
//! so grants, tokens and consents reference it like any other client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::cimd::{self, ClientMetadataFetcher, FetchedDocument};
use super::registration::audit_summary;
use super::settings::Settings;
use super::{Error, Result};
use crate::clock::Clock;
use crate::store::{AuditEvent, ClientKind, ClientRecord, Store, StoreError};

/// Resolves a client id to the client it names, disabled or not (callers decide what a disabled
/// client may still do).
#[async_trait]
pub trait ClientResolver: Send + Sync {
    /// The client, or `None` for an unknown id.
    ///
    /// # Errors
    /// Lookup failures (internal); for a URL client id, `invalid_client` when its metadata
    /// document cannot be fetched or is invalid.
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

/// Most documents remembered as fresh at once; an evicted one is simply fetched again.
const CACHE_CAPACITY: u64 = 10_000;

/// The store's clients, plus Client ID Metadata Documents for URL client ids.
///
/// A document is fetched when no fresh copy is cached, validated (`cimd::document_record`),
/// and written to the store when new or changed; then trusted for its `Cache-Control: max-age`
/// within `[cimd] cache_min_seconds..=cache_max_seconds`. Fetch failures and invalid documents
/// are never cached (CIMD-00 §Metadata Caching): the next request fetches again. A TRANSIENT
/// failure (unreachable host, timeout, 5xx or 429) with a stored record confirmed within
/// `[cimd] stale_if_error_seconds` keeps that record in use, so a client whose document host is
/// briefly down can still refresh; a definitive answer (another status, an invalid document, a
/// client id or domain no longer acceptable) refuses at once, and a client without a stored
/// record always needs a successful fetch. The cache
/// holds only freshness; the record always comes from the store, so an administrator's
/// `disabled` takes effect at once.
pub struct CimdClients {
    store: Arc<dyn Store>,
    fetcher: Arc<dyn ClientMetadataFetcher>,
    settings: Arc<Settings>,
    clock: Arc<dyn Clock>,
    /// client id → when its stored record stops being fresh.
    fresh_until: moka::future::Cache<String, Instant>,
    /// client id → when (clock seconds) this process last fetched its document successfully;
    /// bounds the use of the stored record when the document host fails transiently.
    confirmed_at: moka::future::Cache<String, i64>,
    /// client id → the document just fetched, while concurrent resolutions wait for it.
    in_flight: moka::future::Cache<String, FetchedDocument>,
}

impl CimdClients {
    /// A resolver over `store` that fetches documents with `fetcher` under `settings.cimd`.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        fetcher: Arc<dyn ClientMetadataFetcher>,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let max = Duration::from_secs(settings.cimd.cache_max_seconds.max(1));
        Self {
            store,
            fetcher,
            settings,
            clock,
            fresh_until: moka::future::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(max)
                .build(),
            confirmed_at: moka::future::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .build(),
            // A safety net only: every entry is invalidated as soon as its fetch returns.
            in_flight: moka::future::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(Duration::from_secs(1))
                .build(),
        }
    }

    /// Validates and stores a fetched document of `client_id`, and remembers it as fresh.
    async fn accept(
        &self,
        client_id: &str,
        fetched: &FetchedDocument,
        stored: Option<ClientRecord>,
    ) -> Result<ClientRecord> {
        let now = self.clock.now();
        let record = cimd::document_record(
            client_id,
            &fetched.body,
            &self.settings,
            stored.as_ref(),
            now,
        )
        .inspect_err(|e| {
            crate::metrics::registration_refused("cimd", e);
            tracing::info!(client_id, error = ?e.description(), "client metadata document invalid");
        })?;
        match &stored {
            None => {
                let audit = AuditEvent::new("cimd_client_added", now)
                    .client(client_id)
                    .detail(&audit_summary(&record));
                match self.store.insert_client(&record, &audit).await {
                    Ok(()) => crate::metrics::registration("cimd", "registered"),
                    // Another request stored it meanwhile: update it if it differs from what
                    // we fetched (concurrent first requests must not each log an update).
                    Err(StoreError::Conflict(_)) => {
                        let current = self.store.get_client(client_id).await?;
                        if current.is_none_or(|c| cimd::metadata_changed(&c, &record)) {
                            self.update(&record, now).await?;
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Some(old) if cimd::metadata_changed(old, &record) => {
                self.update(&record, now).await?;
            }
            Some(_) => {}
        }
        self.confirmed_at.insert(client_id.to_owned(), now).await;
        let s = &self.settings.cimd;
        let ttl = fetched
            .max_age
            .unwrap_or(0)
            .clamp(s.cache_min_seconds, s.cache_max_seconds);
        if ttl > 0 {
            self.fresh_until
                .insert(
                    client_id.to_owned(),
                    Instant::now() + Duration::from_secs(ttl),
                )
                .await;
        }
        Ok(record)
    }

    /// Whether `stored` may still be used after a transient fetch failure: it was last confirmed
    /// by a successful fetch at most `stale_if_error_seconds` ago (RFC 5861 §4 `stale-if-error`,
    /// applied by us rather than the publisher). The last confirmation is the later of this
    /// process's last successful fetch and the record's `updated_at` (its last stored change, a
    /// lower bound after a restart), so the window is never longer than configured.
    async fn usable_stale(&self, stored: &ClientRecord) -> bool {
        let confirmed = self
            .confirmed_at
            .get(&stored.client_id)
            .await
            .unwrap_or(stored.updated_at)
            .max(stored.updated_at);
        let age = self.clock.now().saturating_sub(confirmed);
        u64::try_from(age).is_ok_and(|age| age <= self.settings.cimd.stale_if_error_seconds)
    }

    async fn update(&self, record: &ClientRecord, now: i64) -> Result<()> {
        crate::metrics::registration("cimd", "updated");
        let audit = AuditEvent::new("cimd_client_updated", now)
            .client(record.client_id.clone())
            .detail(&audit_summary(record));
        Ok(self.store.update_client(record, &audit).await?)
    }
}

#[async_trait]
impl ClientResolver for CimdClients {
    async fn resolve(&self, client_id: &str) -> Result<Option<ClientRecord>> {
        let stored = self.store.get_client(client_id).await?;
        if !cimd::is_url_client_id(client_id) {
            return Ok(stored);
        }
        // A static client an administrator configured with a URL as its id stays static.
        if stored.as_ref().is_some_and(|c| c.kind != ClientKind::Cimd) {
            return Ok(stored);
        }
        if !self.settings.cimd.enabled {
            return Ok(None);
        }
        // Checked on every resolution, not only on fetch: `allowed_domains` may have changed.
        let url = cimd::check_client_id(client_id, &self.settings.cimd)?;
        if let Some(record) = stored.as_ref() {
            let fresh = self
                .fresh_until
                .get(client_id)
                .await
                .is_some_and(|until| Instant::now() < until);
            crate::metrics::cache(crate::metrics::Cache::CimdDocuments, fresh);
            if fresh {
                return Ok(Some(record.clone()));
            }
        }
        // Concurrent resolutions of one URL share one fetch: moka runs one initialiser per key
        // and hands its result (or error) to every waiter. The entry is dropped right after, so
        // it coalesces only fetches in flight and never stands in for the freshness cache.
        let fetched = self
            .in_flight
            .try_get_with_by_ref(client_id, async { self.fetcher.fetch(&url).await })
            .await;
        self.in_flight.invalidate(client_id).await;
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(e) => {
                if let Some(record) = stored {
                    if e.is_transient() && self.usable_stale(&record).await {
                        tracing::warn!(
                            client_id,
                            error = %e,
                            "client metadata document unavailable; using the stored copy"
                        );
                        return Ok(Some(record));
                    }
                }
                tracing::info!(client_id, error = %e, "client metadata document refused");
                return Err(Error::invalid_client(e.to_string()));
            }
        };
        self.accept(client_id, &fetched, stored).await.map(Some)
    }
}
