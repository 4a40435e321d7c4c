//! Where the request being served came from (request id, client address, user agent), for the
//! audit trail: the HTTP layer sets it around each request ([`scope`]) and the store fills it
//! into every audit event written while serving it that does not say otherwise, so no service
//! has to thread three strings through every call to record them (issue 14, item 6).
//!
//! A tokio task-local, not a global: it lives only as long as the request's future, and work
//! spawned off the request (housekeeping, background refreshes) records no request.

use std::future::Future;

/// Longest user agent kept in the audit trail; a client may send kilobytes.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// The request an audit event was written for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: Option<String>,
    /// The client's address as rate limiting sees it (the trusted proxy's header, else the peer).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// A context, the user agent cut to [`MAX_USER_AGENT_CHARS`] characters with control
    /// characters dropped (it goes into log lines and CSV exports).
    #[must_use]
    pub fn new(request_id: Option<String>, ip: Option<String>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|ua| !ua.is_empty());
        Self {
            request_id,
            ip,
            user_agent,
        }
    }
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// Runs `fut` with `ctx` as the current request.
pub async fn scope<F: Future>(ctx: RequestContext, fut: F) -> F::Output {
    CURRENT.scope(ctx, fut).await
}

/// The request being served, if any.
#[must_use]
pub fn current() -> Option<RequestContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// `event` with the current request's id, address and user agent where it has none.
#[must_use]
pub fn fill(event: &super::AuditEvent) -> super::AuditEvent {
    let mut e = event.clone();
    if let Some(ctx) = current() {
        e.request_id = e.request_id.or(ctx.request_id);
        e.ip = e.ip.or(ctx.ip);
        e.user_agent = e.user_agent.or(ctx.user_agent);
    }
    e
}

/// The structured log line of an audit event (target `audit`), emitted once the event is
/// durable: after the commit of its transaction.
pub fn log(e: &super::AuditEvent) {
    tracing::info!(
        target: "audit",
        audit_id = %e.id,
        kind = %e.kind,
        at = e.at,
        actor = e.actor.as_deref(),
        client_id = e.client_id.as_deref(),
        user_id = e.user_id.as_deref(),
        grant_id = e.grant_id.as_deref(),
        request_id = e.request_id.as_deref(),
        ip = e.ip.as_deref(),
        user_agent = e.user_agent.as_deref(),
        detail = e.detail.as_deref(),
        "audit event"
    );
}
