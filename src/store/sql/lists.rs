//! Keyset-paged lists of clients, users, grants and audit events for the admin API: newest
//! first by `(created_at, id)` (audit events by `(at, seq)`, the index of migration 0001), each page starting after the last row of the one before, so a page never
//! skips or repeats a row while others are inserted (an offset would). Filters are fixed SQL
//! fragments with bind parameters, joined only when asked for, so each list keeps to the
//! indexes of migration 0004.

use super::exec::{Arg, Exec};
use super::rows::{self, grant_cols};
use crate::store::{
    AuditAfter, AuditEntry, AuditFilter, ClientFilter, ClientRecord, GrantFilter, GrantRecord,
    PageRequest, StoreError, UserRecord,
};

/// A `WHERE` clause built from optional conditions, numbering the placeholders.
struct Conditions<'a> {
    sql: Vec<String>,
    args: Vec<Arg<'a>>,
}

impl<'a> Conditions<'a> {
    fn new() -> Self {
        Self {
            sql: Vec::new(),
            args: Vec::new(),
        }
    }

    /// The placeholder of the next argument, which is pushed.
    fn bind(&mut self, arg: Arg<'a>) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// `column = value`.
    fn eq(&mut self, column: &str, arg: Arg<'a>) {
        let p = self.bind(arg);
        self.sql.push(format!("{column} = {p}"));
    }

    /// A fixed condition without parameters.
    fn raw(&mut self, condition: &str) {
        self.sql.push(condition.to_owned());
    }

    /// `column op value`, for ranges (`>=`, `<`).
    fn cmp(&mut self, column: &str, op: &str, arg: Arg<'a>) {
        let p = self.bind(arg);
        self.sql.push(format!("{column} {op} {p}"));
    }

    /// Rows strictly after the cursor in `(created, id)` descending order, then `ORDER BY` and
    /// `LIMIT`: the tail of every list query.
    fn page(self, created: &str, id: &str, page: &'a PageRequest) -> (String, Vec<Arg<'a>>) {
        let after = page
            .after
            .as_ref()
            .map(|a| (Arg::from(a.created_at), Arg::from(a.id.as_str())));
        self.tail(created, id, after, page.limit)
    }

    /// As [`Self::page`], the cursor given as its two values.
    fn tail(
        mut self,
        created: &str,
        id: &str,
        after: Option<(Arg<'a>, Arg<'a>)>,
        limit: i64,
    ) -> (String, Vec<Arg<'a>>) {
        if let Some((created_at, last_id)) = after {
            let t = self.bind(created_at);
            let i = self.bind(last_id);
            self.sql.push(format!(
                "({created} < {t} OR ({created} = {t} AND {id} < {i}))"
            ));
        }
        let limit = self.bind(Arg::from(limit));
        let filter = if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        };
        (
            format!("{filter} ORDER BY {created} DESC, {id} DESC LIMIT {limit}"),
            self.args,
        )
    }
}

pub(super) async fn clients(
    db: &mut dyn Exec,
    filter: &ClientFilter,
    page: &PageRequest,
) -> Result<Vec<ClientRecord>, StoreError> {
    let mut c = Conditions::new();
    if let Some(kind) = filter.kind {
        c.eq("kind", Arg::from(kind.as_str()));
    }
    if let Some(disabled) = filter.disabled {
        c.eq("disabled", Arg::from(disabled));
    }
    let (tail, args) = c.page("created_at", "client_id", page);
    let found = db
        .fetch_all(&format!("SELECT * FROM clients{tail}"), &args)
        .await?;
    rows::all(&found, rows::client)
}

pub(super) async fn users(
    db: &mut dyn Exec,
    page: &PageRequest,
) -> Result<Vec<UserRecord>, StoreError> {
    let (tail, args) = Conditions::new().page("created_at", "id", page);
    let found = db
        .fetch_all(&format!("SELECT * FROM users{tail}"), &args)
        .await?;
    rows::all(&found, rows::user)
}

/// `term` as a `LIKE` pattern matching any text that contains it: `%`, `_` and the escape
/// character itself are escaped, so a search for `a_b` finds only `a_b`.
fn contains_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for ch in term.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// The email condition scans the table (no index serves "contains"); the admin API bounds the
/// page size, and the subject and id conditions are exact.
pub(super) async fn search_users(
    db: &mut dyn Exec,
    term: &str,
    page: &PageRequest,
) -> Result<Vec<UserRecord>, StoreError> {
    let like = contains_pattern(term);
    let mut c = Conditions::new();
    let exact = c.bind(Arg::from(term));
    let pattern = c.bind(Arg::from(like.as_str()));
    c.raw(&format!(
        "(id = {exact} OR subject = {exact} OR LOWER(email) LIKE {pattern} ESCAPE '\\')"
    ));
    let (tail, args) = c.page("created_at", "id", page);
    let found = db
        .fetch_all(&format!("SELECT * FROM users{tail}"), &args)
        .await?;
    rows::all(&found, rows::user)
}

pub(super) async fn grants(
    db: &mut dyn Exec,
    filter: &GrantFilter,
    page: &PageRequest,
) -> Result<Vec<GrantRecord>, StoreError> {
    let mut c = Conditions::new();
    if let Some(user_id) = &filter.user_id {
        c.eq("g.user_id", Arg::from(user_id));
    }
    if let Some(client_id) = &filter.client_id {
        c.eq("g.client_id", Arg::from(client_id));
    }
    if let Some(resource) = &filter.resource {
        c.eq("g.resource", Arg::from(resource));
    }
    match filter.active {
        Some(true) => c.raw("g.revoked_at IS NULL"),
        Some(false) => c.raw("g.revoked_at IS NOT NULL"),
        None => {}
    }
    let (tail, args) = c.page("g.created_at", "g.id", page);
    let found = db
        .fetch_all(
            &format!(concat!("SELECT ", grant_cols!(), " FROM grants g{}"), tail),
            &args,
        )
        .await?;
    rows::all(&found, rows::grant)
}

/// The ids of the active grants of a user or a client (or both), for revoking them all: every
/// one, not a page, oldest first so the audit trail reads in order.
pub(super) async fn active_grant_ids(
    db: &mut dyn Exec,
    user_id: Option<&str>,
    client_id: Option<&str>,
) -> Result<Vec<String>, StoreError> {
    let mut c = Conditions::new();
    c.raw("revoked_at IS NULL");
    if let Some(user_id) = user_id {
        c.eq("user_id", Arg::from(user_id));
    }
    if let Some(client_id) = client_id {
        c.eq("client_id", Arg::from(client_id));
    }
    let found = db
        .fetch_all(
            &format!(
                "SELECT id FROM grants WHERE {} ORDER BY created_at, id",
                c.sql.join(" AND ")
            ),
            &c.args,
        )
        .await?;
    found.iter().map(|r| r.text("id")).collect()
}

/// One page of audit events, newest first by `(at, seq)`: the order of `audit_events_at_idx`,
/// which the `at` range also uses.
pub(super) async fn audit_events(
    db: &mut dyn Exec,
    filter: &AuditFilter,
    after: Option<AuditAfter>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    let mut c = Conditions::new();
    if let Some(kind) = &filter.kind {
        c.eq("kind", Arg::from(kind));
    }
    if let Some(client_id) = &filter.client_id {
        c.eq("client_id", Arg::from(client_id));
    }
    if let Some(actor) = &filter.actor {
        c.eq("actor", Arg::from(actor));
    }
    if let Some(user_id) = &filter.user_id {
        c.eq("user_id", Arg::from(user_id));
    }
    if let Some(from) = filter.from {
        c.cmp("at", ">=", Arg::from(from));
    }
    if let Some(to) = filter.to {
        c.cmp("at", "<", Arg::from(to));
    }
    let after = after.map(|a| (Arg::from(a.at), Arg::from(a.seq)));
    let (tail, args) = c.tail("at", "seq", after, limit);
    let found = db
        .fetch_all(&format!("SELECT * FROM audit_events{tail}"), &args)
        .await?;
    found
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                seq: r.int("seq")?,
                event: rows::audit_event(r.as_ref())?,
            })
        })
        .collect()
}
