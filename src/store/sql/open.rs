//! How the shared SQL store opens a pooled connection or a write transaction: as trait objects,
//! with this process's change marks, and on SQLite behind the in-process writer queue.

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::Transaction;

use super::exec::{self, Conn, Exec, Marks, TxExec};
use super::{db_error, Dialect, SqlStore};
use crate::store::StoreError;

/// Opens connections and write transactions as trait objects, so that the futures of the
/// `Store` methods hold no driver types (whose `Send` proofs trip over higher-ranked lifetimes).
#[async_trait]
pub trait Open {
    /// A pooled connection in autocommit mode.
    async fn conn(&self) -> Result<Box<dyn Exec>, StoreError>;
    /// A write transaction ([`Dialect::BEGIN_WRITE`]).
    async fn begin(&self) -> Result<Box<dyn TxExec>, StoreError>;
}

#[async_trait]
impl<DB: Dialect> Open for SqlStore<DB>
where
    Conn<Transaction<'static, DB>>: Exec,
    Conn<PoolConnection<DB>>: Exec,
{
    async fn conn(&self) -> Result<Box<dyn Exec>, StoreError> {
        Ok(Box::new(Conn(
            self.pool.acquire().await.map_err(db_error::<DB>)?,
            None,
            Marks::new(&self.changes),
        )))
    }

    async fn begin(&self) -> Result<Box<dyn TxExec>, StoreError> {
        // The turn before the connection: a queued writer holds no pooled connection.
        let turn = match &self.writers {
            Some(gate) => Some(
                gate.enter(self.pool.options().get_acquire_timeout())
                    .await?,
            ),
            None => None,
        };
        let tx = Box::new(Conn(
            self.pool
                .begin_with(DB::BEGIN_WRITE)
                .await
                .map_err(db_error::<DB>)?,
            Some(Vec::new()),
            Marks::new(&self.changes),
        ));
        Ok(match turn {
            Some(turn) => Box::new(exec::Gated(tx, turn)),
            None => tx,
        })
    }
}
