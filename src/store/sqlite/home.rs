//! The commands' own connection: the optimisation kept below the port for a SQLite file the
//! store opens itself (what it buys, measured against a pool, is in `docs/PERFORMANCE.md`).
//!
//! Every commit of a command runs on one connection, held directly rather than taken from a
//! pool: a pool connection given back is returned by a task of its own, and the next command
//! waits for that task before it can run. Short reads run there too while it is free (one
//! connection keeps SQLite's page cache, which a connection drops whenever another one wrote
//! since its last read), and on the pool while a commit holds it. Commits take turns on it,
//! so this process's writers queue here instead of in SQLite's busy handler; other processes
//! are kept out by `BEGIN IMMEDIATE` and the busy timeout. Reads that may take long
//! (statistics, exports) stay on the pool.
//!
//! A transaction runs on the connection with plain `BEGIN IMMEDIATE` and `COMMIT`. One left
//! open (its command's future dropped, or a failure before its end) closes the connection,
//! which rolls it back at once; the next command opens a new one.

use std::sync::Arc;

use sqlx::{
    ConnectOptions as _, Connection as _, Executor as _, SqliteConnection,
    sqlite::SqliteConnectOptions,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{NAME, err};
use crate::store::{StoreError, sql::backend::backend};

/// The connection, opened at first use and again after it failed.
#[derive(Debug)]
pub(super) struct Home {
    options: SqliteConnectOptions,
    slot: Arc<Mutex<Slot>>,
}

/// What the home's mutex guards.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    conn: Option<SqliteConnection>,
    /// A transaction is open on `conn`.
    open: bool,
    /// Closed by the store: no command runs any more.
    closed: bool,
}

/// The connection, lent to one command until dropped.
#[derive(Debug)]
pub(crate) struct Lent(OwnedMutexGuard<Slot>);

impl Home {
    /// A home connection to the database `options` name.
    pub(super) fn new(options: SqliteConnectOptions) -> Self {
        Self {
            options,
            slot: Arc::default(),
        }
    }

    /// Waits for the connection, and opens it if needed.
    pub(super) async fn lend(&self) -> Result<Lent, StoreError> {
        let slot = Arc::clone(&self.slot).lock_owned().await;
        self.prepare(slot).await
    }

    /// The connection when no command holds it.
    pub(super) async fn lend_if_free(&self) -> Option<Result<Lent, StoreError>> {
        let slot = Arc::clone(&self.slot).try_lock_owned().ok()?;
        Some(self.prepare(slot).await)
    }

    /// Opens the connection if needed, unless the store was closed.
    async fn prepare(&self, mut slot: OwnedMutexGuard<Slot>) -> Result<Lent, StoreError> {
        if slot.closed {
            return Err(backend(NAME, sqlx::Error::PoolClosed));
        }
        if slot.conn.is_none() {
            slot.conn = Some(self.options.connect().await.map_err(err)?);
        }
        Ok(Lent(slot))
    }

    /// Closes the connection after the command under way; commands afterwards fail.
    pub(super) async fn close(&self) {
        let mut slot = self.slot.lock().await;
        slot.closed = true;
        if let Some(conn) = slot.conn.take() {
            let _ = conn.close().await;
        }
    }
}

impl Drop for Lent {
    /// A transaction still open here will not be ended by anyone: the connection is closed,
    /// which rolls it back and frees the file for other processes at once, and the next
    /// command opens a new one.
    fn drop(&mut self) {
        if self.0.open {
            self.0.conn = None;
            self.0.open = false;
        }
    }
}

impl Lent {
    /// The connection.
    pub(super) fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.0
            .conn
            .as_mut()
            .ok_or_else(|| backend(NAME, sqlx::Error::PoolClosed))
    }

    /// Notes that a transaction is open on the connection (`true`) or ended (`false`).
    pub(super) fn set_open(&mut self, open: bool) {
        self.0.open = open;
    }

    /// Begins a write transaction.
    pub(super) async fn begin(&mut self) -> Result<(), StoreError> {
        self.set_open(true);
        self.conn()?
            .execute("BEGIN IMMEDIATE")
            .await
            .map_err(err)
            .map(drop)
    }

    /// Commits the transaction begun.
    pub(super) async fn commit(&mut self) -> Result<(), StoreError> {
        self.conn()?.execute("COMMIT").await.map_err(err)?;
        self.set_open(false);
        Ok(())
    }
}
