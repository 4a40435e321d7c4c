//! The narrow, object-safe face of a sqlx connection that the shared SQL is written against.
//!
//! Both backends understand the same SQL here (`$N` placeholders, `ON CONFLICT`, `RETURNING`),
//! so the queries are written once; this module is the only place that is generic over the sqlx
//! driver, which keeps the heavy trait bounds in one impl instead of on every query.

use std::future::Future;
use std::ops::DerefMut;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{ColumnIndex, Connection, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::Dialect;
use crate::store::{request_context, AuditEvent, ChangeMarks, LocalChanges, StoreError};

/// One bind parameter.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Bool(bool),
    Blob(Option<&'a [u8]>),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Self::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Self::Text(Some(v))
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Self::Text(v.as_deref())
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Self::Text(v)
    }
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Self::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Self::Int(v)
    }
}

impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Self::Blob(Some(v))
    }
}

/// Builds a `&[Arg]` from expressions convertible into [`Arg`].
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::store::sql::exec::Arg::from($v)),*] };
}
pub(crate) use args;

/// Typed access to the columns of a fetched row. Decoding failures are `Corrupt`.
pub trait SqlRow: Send {
    fn text(&self, col: &str) -> Result<String, StoreError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError>;
    fn flag(&self, col: &str) -> Result<bool, StoreError>;
    fn opt_blob(&self, col: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

/// A fetched row, owned.
pub type BoxRow = Box<dyn SqlRow>;

fn get<'r, R, T>(row: &'r R, col: &str) -> Result<T, StoreError>
where
    R: Row,
    T: Decode<'r, R::Database> + Type<R::Database>,
    for<'c> &'c str: ColumnIndex<R>,
{
    row.try_get(col)
        .map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

impl<R> SqlRow for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str) -> Result<String, StoreError> {
        get(self, col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        get(self, col)
    }
    fn int(&self, col: &str) -> Result<i64, StoreError> {
        get(self, col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        get(self, col)
    }
    fn flag(&self, col: &str) -> Result<bool, StoreError> {
        get(self, col)
    }
    fn opt_blob(&self, col: &str) -> Result<Option<Vec<u8>>, StoreError> {
        get(self, col)
    }
}

/// Runs SQL on one connection (pooled or inside a transaction).
#[async_trait]
pub trait Exec: Send {
    /// Runs a statement; returns the number of rows it affected.
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError>;
    /// Fetches at most one row.
    async fn fetch_optional(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<BoxRow>, StoreError>;
    /// Fetches every row.
    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<BoxRow>, StoreError>;
    /// An audit event was written here: its log line goes out now on a pooled connection, at
    /// the commit in a transaction (never for one rolled back).
    fn audited(&mut self, event: AuditEvent);
}

/// The future of [`TxExec::commit`].
pub type CommitFuture = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

/// A write transaction.
pub trait TxExec: Send {
    /// The transaction as a plain executor.
    fn exec(&mut self) -> &mut dyn Exec;
    /// Commits; dropping the transaction instead rolls it back.
    fn commit(self: Box<Self>) -> CommitFuture;
}

impl<DB: Dialect> TxExec for Conn<sqlx::Transaction<'static, DB>>
where
    Self: Exec,
{
    fn exec(&mut self) -> &mut dyn Exec {
        self
    }

    // Written out rather than `async fn` so the future owns the bare `Transaction`, not `Self`:
    // a where-clause on `Self` would otherwise pin its `Send` proof to the 'static lifetime.
    fn commit(self: Box<Self>) -> CommitFuture {
        let Conn(tx, pending, marks) = *self;
        Box::pin(async move {
            tx.commit().await.map_err(super::db_error::<DB>)?;
            marks.changes.committed(marks.pending);
            pending.iter().flatten().for_each(request_context::log);
            Ok(())
        })
    }
}

/// Admits one write transaction of this process at a time, in arrival order (tokio's mutex is
/// fair), for a database that serialises writers anyway (SQLite). Waiting here costs no
/// connection and no polling: without it, concurrent `BEGIN IMMEDIATE`s each hold a pooled
/// connection and retry in SQLite's busy handler, whose growing sleeps (up to 100 ms each) made
/// the tail of concurrent refreshes 30 times their median. The busy timeout stays for other
/// processes on the same file (`migrate` and the CLI beside `serve`).
#[derive(Default)]
pub struct WriteGate(std::sync::Arc<tokio::sync::Mutex<()>>);

impl WriteGate {
    /// This process's turn to write, after at most `wait` (then `PoolTimedOut`: the writers
    /// ahead hold the database for too long, a 503 to the caller like a pool timeout).
    pub async fn enter(&self, wait: std::time::Duration) -> Result<WriteTurn, StoreError> {
        tokio::time::timeout(wait, std::sync::Arc::clone(&self.0).lock_owned())
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))
    }
}

/// A turn of the [`WriteGate`], held until its transaction commits or is dropped.
pub type WriteTurn = tokio::sync::OwnedMutexGuard<()>;

/// A write transaction holding its [`WriteTurn`].
pub struct Gated(pub Box<dyn TxExec>, pub WriteTurn);

impl TxExec for Gated {
    fn exec(&mut self) -> &mut dyn Exec {
        self.0.exec()
    }

    fn commit(self: Box<Self>) -> CommitFuture {
        let Gated(tx, turn) = *self;
        let committing = tx.commit();
        Box::pin(async move {
            let done = committing.await;
            drop(turn);
            done
        })
    }
}

/// A connection handle: a `PoolConnection` or a `Transaction`, both of which deref to the driver's
/// connection; a transaction (`Some`) keeps the audit events written in it until its commit, and
/// the [`Marks`] of what it changed likewise.
pub struct Conn<C>(pub C, pub Option<Vec<AuditEvent>>, pub Marks);

/// What the statements run on a connection changed ([`ChangeMarks::of_statement`]), counted in
/// the store's [`LocalChanges`] once they commit: at once in autocommit, at the commit in a
/// transaction (never for one rolled back).
pub struct Marks {
    changes: Arc<LocalChanges>,
    pending: ChangeMarks,
}

impl Marks {
    /// Nothing marked yet, counted in `changes`.
    #[must_use]
    pub fn new(changes: &Arc<LocalChanges>) -> Self {
        Self {
            changes: changes.clone(),
            pending: ChangeMarks::none(),
        }
    }
}

impl<C> Conn<C> {
    /// `sql` ran and wrote something (`wrote`: rows affected or returned).
    fn ran(&mut self, sql: &str, wrote: bool) {
        if !wrote {
            return;
        }
        let marks = ChangeMarks::of_statement(sql);
        if marks == ChangeMarks::none() {
            return;
        }
        if self.1.is_some() {
            self.2.pending = self.2.pending.with(marks);
        } else {
            self.2.changes.committed(marks);
        }
    }
}

type DbOf<C> = <<C as std::ops::Deref>::Target as Connection>::Database;

fn bind<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
{
    for arg in args {
        query = match *arg {
            Arg::Text(v) => query.bind(v),
            Arg::Int(v) => query.bind(v),
            Arg::Bool(v) => query.bind(v),
            Arg::Blob(v) => query.bind(v),
        };
    }
    query
}

#[async_trait]
impl<C> Exec for Conn<C>
where
    C: DerefMut + Send,
    C::Target: Connection,
    DbOf<C>: Dialect,
    <DbOf<C> as Database>::Row: SqlRow,
    for<'c> &'c mut C::Target: Executor<'c, Database = DbOf<C>>,
    for<'q> <DbOf<C> as Database>::Arguments<'q>: IntoArguments<'q, DbOf<C>>,
    for<'q> Option<&'q str>: Encode<'q, DbOf<C>> + Type<DbOf<C>>,
    for<'q> Option<i64>: Encode<'q, DbOf<C>> + Type<DbOf<C>>,
    for<'q> bool: Encode<'q, DbOf<C>> + Type<DbOf<C>>,
    for<'q> Option<&'q [u8]>: Encode<'q, DbOf<C>> + Type<DbOf<C>>,
{
    async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let done = bind(sqlx::query(sql), args)
            .execute(&mut *self.0)
            .await
            .map_err(super::db_error::<DbOf<C>>)?;
        let n = <DbOf<C> as Dialect>::rows_affected(&done);
        self.ran(sql, n > 0);
        Ok(n)
    }

    async fn fetch_optional(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<BoxRow>, StoreError> {
        let row = bind(sqlx::query(sql), args)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(super::db_error::<DbOf<C>>)?;
        self.ran(sql, row.is_some());
        Ok(row.map(|r| Box::new(r) as BoxRow))
    }

    async fn fetch_all(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<BoxRow>, StoreError> {
        let rows = bind(sqlx::query(sql), args)
            .fetch_all(&mut *self.0)
            .await
            .map_err(super::db_error::<DbOf<C>>)?;
        self.ran(sql, !rows.is_empty());
        Ok(rows.into_iter().map(|r| Box::new(r) as BoxRow).collect())
    }

    fn audited(&mut self, event: AuditEvent) {
        match &mut self.1 {
            Some(pending) => pending.push(event),
            None => request_context::log(&event),
        }
    }
}
