//! Composition: builds the application state from configuration, assembles the routers, and
//! serves them with graceful shutdown. `router(state)` is what the tests drive.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use axum::Router;
use tokio::net::TcpListener;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::oauth::clients::CimdClients;
use crate::oauth::crypto::Cipher;
use crate::oauth::keys::KeyRing;
use crate::oauth::upstreams::{Upstream, Upstreams};
use crate::oauth::{Core, Settings};
use crate::store::Store;

mod replica_sync;

/// Everything a request handler can reach.
pub struct App {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The protocol core (store, clock, cipher, keys, settings, upstreams, client resolver).
    pub core: Core,
    /// HTML page renderer.
    pub pages: crate::http::pages::Pages,
    /// Per client IP limits on registration, token, revocation and introspection.
    pub rate_limits: crate::http::rate_limit::RateLimits,
    /// The proxied resources (gateway mode).
    pub gateway: Arc<crate::gateway::Gateway>,
    /// This process's random id: the holder it writes into the cluster-wide leases of
    /// background jobs.
    pub replica_id: String,
}

/// Cheaply cloneable handle to [`App`], the axum state.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Builds the state: connects the store, migrates, loads or creates the signing key, and
/// prepares the upstream clients (discovery happens lazily, so an IdP outage does not stop
/// startup).
///
/// # Errors
/// Database unreachable, migration failure, undecryptable signing key.
pub async fn build(config: Config) -> anyhow::Result<AppState> {
    let store = crate::store::connect_with(&config.database_url, config.database.pool())
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("applying migrations")?;
    build_with(config, store, Arc::new(SystemClock)).await
}

/// As [`build`], with the store and clock supplied (tests use a `ManualClock`).
///
/// # Errors
/// As [`build`].
pub async fn build_with(
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    if config.metrics.enabled {
        crate::metrics::install();
    }
    let cipher = Arc::new(Cipher::new(
        &config.secret_key_bytes()?,
        &config.old_secret_key_bytes()?,
    ));
    let keys = KeyRing::start(
        store.as_ref(),
        &cipher,
        clock.as_ref(),
        config.tokens.signing_key_publish_seconds(),
        config.tokens.signing_algorithm,
    )
    .await
    .map_err(|e| anyhow::anyhow!("loading signing keys: {e}"))?;
    let mut upstreams = Vec::new();
    for up in &config.upstreams {
        let idp = crate::idp::build(
            &config.upstream_for_idp(up),
            &config.callback_url(),
            clock.clone(),
        )
        .with_context(|| format!("upstream {}", up.id))?;
        upstreams.push(Upstream::new(up, idp));
    }
    let settings = Settings::from_config(&config);
    let gateway = Arc::new(crate::gateway::Gateway::new(&config, &settings)?);
    crate::oauth::static_clients::sync(store.as_ref(), &config.clients, &settings, clock.now())
        .await
        .map_err(|e| anyhow::Error::from(e).context("configured [[clients]]"))?;
    let settings = Arc::new(settings);
    let fetcher = crate::idp::cimd_fetch::CimdFetcher::new(&config.cimd)
        .context("the [cimd] document fetcher")?;
    let core = Core {
        clients: Arc::new(CimdClients::new(
            store.clone(),
            Arc::new(fetcher),
            settings.clone(),
            clock.clone(),
        )),
        store,
        clock,
        cipher,
        keys: Arc::new(keys),
        settings,
        upstreams: Arc::new(Upstreams::new(upstreams)),
    };
    let rate_limits = crate::http::rate_limit::RateLimits::new(&config.rate_limit);
    Ok(AppState(Arc::new(App {
        config: Arc::new(config),
        core,
        pages: crate::http::pages::Pages::new()?,
        rate_limits,
        gateway,
        replica_id: format!("replica_{}", uuid::Uuid::new_v4().simple()),
    })))
}

/// The full public router.
pub fn router(state: AppState) -> Router {
    crate::http::routes(state)
}

/// What the admin listener (`admin_listen`) serves: the admin API and `/metrics`.
pub fn admin_router(state: &AppState) -> Router {
    let admin = crate::admin::router(state.clone());
    match crate::http::metrics::routes(state, crate::http::metrics::Listener::Admin) {
        Some(metrics) => admin.merge(metrics),
        None => admin,
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests. With `admin_listen`
/// configured, the admin API is not served here: see [`serve_all`].
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_all(state, listener, None, shutdown).await
}

/// As [`serve`], plus the admin API alone on `admin_listener` (bound to `admin_listen`); both
/// stop on the same `shutdown`, and a failure of either ends both.
///
/// # Errors
/// When a listener fails.
pub async fn serve_all(
    state: AppState,
    listener: TcpListener,
    admin_listener: Option<TcpListener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use futures_util::FutureExt as _;
    if state.config.admin_listen.is_some() && admin_listener.is_none() {
        tracing::warn!(
            "admin_listen is set but no admin listener was bound: the admin API is not served"
        );
    }
    tokio::spawn(check_upstreams(state.clone()));
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let revocations = start_revocation_polling(&state).await;
    let sync = replica_sync::spawn(&state);
    let shutdown = shutdown.boxed().shared();
    let admin = admin_listener.map(|admin_listener| {
        let app = crate::http::middleware::common(
            admin_router(&state),
            state.config.rate_limit.client_ip_header,
        )
        .into_make_service_with_connect_info::<SocketAddr>();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(admin_listener.tap_io(no_delay), app)
                .with_graceful_shutdown(shutdown)
                .await
        })
    });
    // The peer address is the rate-limiting key (unless forwarded headers are trusted).
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let public = axum::serve(listener.tap_io(no_delay), app).with_graceful_shutdown(shutdown);
    let result = match admin {
        None => public.await.context("serving HTTP"),
        Some(mut admin) => tokio::select! {
            r = public => r.context("serving HTTP"),
            r = &mut admin => match r {
                Ok(inner) => inner.context("serving the admin API"),
                Err(e) => Err(anyhow::Error::from(e).context("the admin API task")),
            },
        },
    };
    housekeeping.abort();
    for task in sync {
        task.abort();
    }
    if let Some(task) = revocations {
        task.abort();
    }
    result
}

/// Turns Nagle's algorithm off on an accepted connection. A streamed answer (the gateway's SSE,
/// chunked bodies) goes out in several small writes; with Nagle on, each waits for the ACK of the
/// previous one, which the client delays by up to 40 ms (measured: +40 ms p50 per proxied SSE
/// answer, `cargo bench --bench flow`, row 6).
fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
}

/// With proxied resources: learns the revoked access tokens once before serving (so a restart
/// does not reopen them), then polls every `gateway.revocation_poll_seconds`.
async fn start_revocation_polling(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let gateway = &state.gateway;
    if gateway.routes.is_empty() {
        return None;
    }
    if let Err(e) = gateway.revocations.poll(&state.core).await {
        tracing::warn!(error = %e, "first poll of revoked access tokens failed; will retry");
    }
    let every = std::time::Duration::from_secs(gateway.settings.revocation_poll_seconds);
    Some(tokio::spawn(crate::gateway::revocation::run(
        state.core.clone(),
        gateway.revocations.clone(),
        every,
    )))
}

/// Fetches every upstream's discovery document once at start and records the result, so an
/// unreachable or misconfigured IdP shows in the log (and the admin API) before the first user
/// hits it. Failures do not stop the server: logins retry discovery lazily.
async fn check_upstreams(state: AppState) {
    for upstream in state.core.upstreams.iter() {
        check_upstream(&state.core, upstream).await;
    }
}

/// Checks one upstream's discovery (a failed or not yet loaded document is fetched now; a
/// loaded one comes from the IdP's discovery cache), logs and saves the result, and returns it
/// (also for the admin API's connectivity test).
pub async fn check_upstream(
    core: &crate::oauth::Core,
    upstream: &crate::oauth::upstreams::Upstream,
) -> crate::store::UpstreamRecord {
    let id = &upstream.id;
    let (status, metadata) = match upstream.idp.check().await {
        Ok(found) => {
            tracing::info!(upstream = %id, "upstream discovery ok");
            ("ok".to_owned(), Some(found.to_string()))
        }
        Err(e) => {
            tracing::warn!(upstream = %id, error = %e, "upstream discovery failed; logins will retry");
            (e.to_string(), None)
        }
    };
    let record = crate::store::UpstreamRecord {
        id: id.clone(),
        issuer: upstream.issuer.clone(),
        metadata,
        status,
        checked_at: core.now(),
    };
    if let Err(e) = core.store.save_upstream_status(&record).await {
        tracing::warn!(error = %e, "saving upstream status failed");
    }
    record
}

/// Every minute forgets rate-limit buckets that are full again (this process's memory, so
/// every replica does it; the signing keys are reloaded by [`replica_sync`]). Every five
/// minutes runs [`housekeeping_round`], which with several replicas on one database runs on
/// one of them.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut round: u64 = 0;
    loop {
        tick.tick().await;
        round += 1;
        state.rate_limits.retain_recent();
        if round % 5 == 1 {
            housekeeping_round(&state).await;
        }
    }
}

/// The lease a replica takes for a round of database housekeeping.
pub const HOUSEKEEPING_LEASE: &str = "housekeeping";
/// How long a round's lease lasts: shorter than the five minutes between rounds, so the next
/// round can run (on any replica), longer than a round takes, so no other replica starts one
/// meanwhile. A replica that dies mid-round blocks the others for at most this long.
pub const HOUSEKEEPING_LEASE_SECONDS: i64 = 240;

/// What one round of database housekeeping removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    pub pruned_signing_keys: u64,
    pub purged_expired_rows: u64,
    pub expired_clients: u64,
    pub purged_audit_events: u64,
}

/// One round of database housekeeping, run once per cluster: it first takes the
/// [`HOUSEKEEPING_LEASE`] in the database (a row of `leases`, on Postgres and SQLite alike),
/// and returns `None` without doing anything when another replica holds it. The round prunes
/// retired signing keys, deletes expired pending requests, codes and tokens, dynamic clients
/// unused for longer than `registration.unused_client_ttl_days`, and audit events older than
/// `audit.retention_days`. Each step is idempotent, so a round that overlaps another (a lease
/// that ran out mid-round) does no harm.
pub async fn housekeeping_round(state: &AppState) -> Option<HousekeepingReport> {
    let core = &state.core;
    let now = core.now();
    match core
        .store
        .try_lease(
            HOUSEKEEPING_LEASE,
            &state.replica_id,
            now,
            now + HOUSEKEEPING_LEASE_SECONDS,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!("housekeeping round skipped: another replica holds the lease");
            return None;
        }
        Err(e) => {
            tracing::warn!(error = %e, "taking the housekeeping lease failed");
            return None;
        }
    }
    let mut report = HousekeepingReport::default();
    // A retired key stays published until every token it signed has expired (plus slack
    // for clock skew), then leaves JWKS at the next reload. It may sign for up to the publish
    // delay after it was retired (until its successor is known everywhere: oauth/keys.rs).
    let retired_before = now
        - core.settings.max_access_token_ttl()
        - 300
        - state.config.tokens.signing_key_publish_seconds();
    match core.store.prune_retired_signing_keys(retired_before).await {
        Ok(n) if n > 0 => {
            report.pruned_signing_keys = n;
            tracing::info!(removed = n, "pruned retired signing keys");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "pruning retired signing keys failed"),
    }
    match core.store.purge_expired(now).await {
        Ok(n) if n > 0 => {
            report.purged_expired_rows = n;
            tracing::info!(removed = n, "purged expired rows");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "purge of expired rows failed"),
    }
    // Every step judges by the time the lease was taken: a round slowed down (a busy
    // database) must not act on a later time than the lease it holds covers.
    report.expired_clients = expire_unused_clients(state, now).await;
    report.purged_audit_events = purge_old_audit_events(state, now).await;
    Some(report)
}

/// Audit events deleted per statement: small enough that one batch holds the write lock (all of
/// SQLite, or the rows under Postgres) only briefly.
const AUDIT_PURGE_BATCH: i64 = 1_000;
/// Batches per housekeeping round: a large first backlog is worked off over several rounds
/// instead of in one long burst.
const AUDIT_PURGE_MAX_BATCHES: u32 = 100;

/// Deletes audit events older than `audit.retention_days`, in bounded batches; returns how many.
async fn purge_old_audit_events(state: &AppState, now: i64) -> u64 {
    let Some(retention) = state.config.audit.retention_seconds() else {
        return 0;
    };
    let before = now.saturating_sub(retention);
    match purge_audit_batches(state.core.store.as_ref(), before).await {
        Ok(n) => {
            if n > 0 {
                tracing::info!(removed = n, "purged audit events past retention");
            }
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "purging old audit events failed");
            0
        }
    }
}

/// Repeats [`Store::purge_audit_events`] until a batch comes back short (or the round's budget
/// is spent); returns how many events were deleted.
///
/// # Errors
/// The first store failure (the batches already done stay done).
pub async fn purge_audit_batches(
    store: &dyn Store,
    before: i64,
) -> Result<u64, crate::store::StoreError> {
    let mut removed = 0;
    for _ in 0..AUDIT_PURGE_MAX_BATCHES {
        let n = store.purge_audit_events(before, AUDIT_PURGE_BATCH).await?;
        removed += n;
        if n < AUDIT_PURGE_BATCH.unsigned_abs() {
            break;
        }
        // Let other writers in between batches.
        tokio::task::yield_now().await;
    }
    Ok(removed)
}

/// Deletes dynamic registrations unused for `registration.unused_client_ttl_days` (COMPAT C12:
/// such a client gets 401 `invalid_client` when it comes back, and registers again).
async fn expire_unused_clients(state: &AppState, now: i64) -> u64 {
    let Some(ttl) = state.config.registration.unused_client_ttl_seconds() else {
        return 0;
    };
    match state
        .core
        .store
        .delete_unused_clients(now.saturating_sub(ttl), now)
        .await
    {
        Ok(n) => {
            if n > 0 {
                tracing::info!(deleted = n, "expired unused dynamic clients");
            }
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "expiring unused clients failed");
            0
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
