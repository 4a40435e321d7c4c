//! The end users' account pages: first-party sign-ins in flight, sessions, and the list of a
//! user's connected apps.

use super::audit::insert_audit;
use super::exec::{args, Exec, SqlRow};
use super::rows::{self, grant_cols};
use crate::store::{
    AccountLoginRecord, AccountSessionRecord, AuditEvent, ClientKind, ConnectedApp,
    ConsoleSessionRecord, StoreError,
};

/// Most connected apps one page lists (a user with more sees the newest).
pub const MAX_CONNECTED_APPS: i64 = 200;

/// Idle sessions are touched at most this often (seconds): a page view is a read, not a write.
const TOUCH_EVERY: i64 = 60;

pub(super) async fn insert_login(
    db: &mut dyn Exec,
    r: &AccountLoginRecord,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO account_logins (state_hash, upstream_id, browser_hash, sealed, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![
            &r.state_hash,
            &r.upstream_id,
            &r.browser_hash,
            &r.sealed,
            r.created_at,
            r.expires_at
        ],
    )
    .await?;
    Ok(())
}

/// Single use: the DELETE both checks and consumes (as for authorization requests).
pub(super) async fn take_login(
    db: &mut dyn Exec,
    state_hash: &str,
    now: i64,
) -> Result<Option<AccountLoginRecord>, StoreError> {
    let row = db
        .fetch_optional(
            "DELETE FROM account_logins WHERE state_hash = $1 AND expires_at > $2 RETURNING *",
            args![state_hash, now],
        )
        .await?;
    rows::opt(row, login)
}

fn login(r: &dyn SqlRow) -> Result<AccountLoginRecord, StoreError> {
    Ok(AccountLoginRecord {
        state_hash: r.text("state_hash")?,
        upstream_id: r.text("upstream_id")?,
        browser_hash: r.text("browser_hash")?,
        sealed: r.text("sealed")?,
        created_at: r.int("created_at")?,
        expires_at: r.int("expires_at")?,
    })
}

pub(super) async fn insert_session(
    db: &mut dyn Exec,
    s: &AccountSessionRecord,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO account_sessions (id_hash, user_id, upstream_id, created_at, last_seen_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![
            &s.id_hash,
            &s.user_id,
            &s.upstream_id,
            s.created_at,
            s.last_seen_at,
            s.expires_at
        ],
    )
    .await?;
    Ok(())
}

/// The session, unless past its absolute end (the idle timeout is the service's decision).
pub(super) async fn get_session(
    db: &mut dyn Exec,
    id_hash: &str,
    now: i64,
) -> Result<Option<AccountSessionRecord>, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT * FROM account_sessions WHERE id_hash = $1 AND expires_at > $2",
            args![id_hash, now],
        )
        .await?;
    rows::opt(row, session)
}

fn session(r: &dyn SqlRow) -> Result<AccountSessionRecord, StoreError> {
    Ok(AccountSessionRecord {
        id_hash: r.text("id_hash")?,
        user_id: r.text("user_id")?,
        upstream_id: r.text("upstream_id")?,
        created_at: r.int("created_at")?,
        last_seen_at: r.int("last_seen_at")?,
        expires_at: r.int("expires_at")?,
    })
}

/// The two session tables: `/account` and the admin console. Same columns for what follows.
#[derive(Debug, Clone, Copy)]
pub(super) enum Sessions {
    Account,
    Console,
}

impl Sessions {
    fn table(self) -> &'static str {
        match self {
            Self::Account => "account_sessions",
            Self::Console => "admin_console_sessions",
        }
    }
}

/// Bounded write rate: only when the last touch is [`TOUCH_EVERY`] seconds old.
pub(super) async fn touch_session(
    db: &mut dyn Exec,
    which: Sessions,
    id_hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    db.execute(
        &format!(
            "UPDATE {} SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at <= $3",
            which.table()
        ),
        args![id_hash, now, now - TOUCH_EVERY],
    )
    .await?;
    Ok(())
}

pub(super) async fn delete_session(
    db: &mut dyn Exec,
    which: Sessions,
    id_hash: &str,
) -> Result<bool, StoreError> {
    let n = db
        .execute(
            &format!("DELETE FROM {} WHERE id_hash = $1", which.table()),
            args![id_hash],
        )
        .await?;
    Ok(n > 0)
}

/// The user's active grants, newest first, with their clients (served by
/// `grants_user_created_idx`).
pub(super) async fn connected_apps(
    db: &mut dyn Exec,
    user_id: &str,
) -> Result<Vec<ConnectedApp>, StoreError> {
    let found = db
        .fetch_all(
            concat!(
                "SELECT ",
                grant_cols!(),
                ", g.last_used_at AS g_last_used_at, c.client_name AS c_client_name, \
                 c.kind AS c_kind, c.redirect_uris AS c_redirect_uris \
                 FROM grants g LEFT JOIN clients c ON c.client_id = g.client_id \
                 WHERE g.user_id = $1 AND g.revoked_at IS NULL \
                 ORDER BY g.created_at DESC, g.id DESC LIMIT $2"
            ),
            args![user_id, MAX_CONNECTED_APPS],
        )
        .await?;
    rows::all(&found, connected_app)
}

fn connected_app(r: &dyn SqlRow) -> Result<ConnectedApp, StoreError> {
    let redirect_uris = match r.opt_text("c_redirect_uris")? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("column redirect_uris: {e}")))?,
        None => Vec::new(),
    };
    Ok(ConnectedApp {
        grant: rows::grant(r)?,
        last_used_at: r.opt_int("g_last_used_at")?,
        client_name: r.opt_text("c_client_name")?,
        client_kind: r.opt_text("c_kind")?.as_deref().and_then(ClientKind::parse),
        redirect_uris,
    })
}

/// Inserts the console session and its audit event, ending the one it replaces; run in a
/// transaction.
pub(super) async fn open_console_session(
    db: &mut dyn Exec,
    s: &ConsoleSessionRecord,
    replaces: Option<&str>,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    if let Some(old) = replaces {
        delete_session(db, Sessions::Console, old).await?;
    }
    db.execute(
        "INSERT INTO admin_console_sessions (id_hash, token_hash, created_at, last_seen_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5)",
        args![
            &s.id_hash,
            &s.token_hash,
            s.created_at,
            s.last_seen_at,
            s.expires_at
        ],
    )
    .await?;
    insert_audit(db, audit).await
}

/// The console session, unless past its absolute end (the idle timeout is the console's
/// decision).
pub(super) async fn get_console_session(
    db: &mut dyn Exec,
    id_hash: &str,
    now: i64,
) -> Result<Option<ConsoleSessionRecord>, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT * FROM admin_console_sessions WHERE id_hash = $1 AND expires_at > $2",
            args![id_hash, now],
        )
        .await?;
    rows::opt(row, |r| {
        Ok(ConsoleSessionRecord {
            id_hash: r.text("id_hash")?,
            token_hash: r.text("token_hash")?,
            created_at: r.int("created_at")?,
            last_seen_at: r.int("last_seen_at")?,
            expires_at: r.int("expires_at")?,
        })
    })
}
