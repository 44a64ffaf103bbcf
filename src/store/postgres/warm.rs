//! Connections kept warm between the commands of one [`PostgresStore`](super::PostgresStore).
//!
//! sqlx's pool checks a connection with a round trip (a `Sync`, answered by the server) when
//! it hands one out and again when it takes one back. A command is a read and a commit, so
//! the two statements of an invitation cost six round trips: on a small machine where the
//! server and the service share the CPU, a third of the time of a command under load went to
//! those checks. So a connection this store has just finished a statement on, cleanly, is
//! kept aside for the store's next statement instead of going back to the pool. It goes
//! back to the pool's ordinary handling (its checks and hooks, `max_lifetime`,
//! `idle_timeout`, `close`) once it has been idle for [`IDLE`] (a task looks every `IDLE`,
//! so between one and two of them), at the end of the statement that finds it out of the
//! pool for [`LEASE`] or more, and at once when the pool is full, closed, or awaited by one
//! of this store's commands.
//!
//! What the checks were for, kept:
//! - A connection goes aside only when its statement ran to the end (a result, or an error
//!   the server answered with). One whose future was dropped half-way, or that failed in
//!   any other way, is dropped as sqlx's own pool connection, and sqlx checks it.
//! - A connection that was killed while aside fails its next statement. Every connection
//!   aside is then given back to the pool, since whatever killed one (a server restart) may
//!   have killed all, and a read that failed that way runs again, once, on another
//!   connection. A commit is not repeated: whether it was applied is not known, and the
//!   caller gets the error, as when a connection dies mid-commit. (The pool's check before
//!   handing a connection out narrowed that window to the check's round trip; it never
//!   closed it.)

use std::{
    fmt,
    ops::{Deref, DerefMut},
    sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak},
    time::{Duration, Instant},
};

use sqlx::{
    PgConnection, Postgres,
    pool::PoolConnection,
    postgres::{PgDatabaseError, PgPool, PgSeverity},
};
use tokio::runtime::Handle;

/// How long a connection stays aside unused before it goes back to the pool. Short: the
/// point is the next command of a busy store, and a connection aside is not in the pool for
/// anyone else sharing it (nor for `close`, which waits for it).
pub(super) const IDLE: Duration = Duration::from_millis(250);

/// How long a connection stays out of the pool, aside or in use, before it goes back at the
/// end of its statement, so that the pool's own limits (lifetime, idle timeout) still apply.
pub(super) const LEASE: Duration = Duration::from_secs(1);

/// The pool and the connections set aside from it.
pub(super) struct Conns {
    pub(super) pool: PgPool,
    aside: Mutex<Aside>,
    /// The runtime the connections aside came from: sqlx gives a connection back to its pool
    /// in a task, so dropping one needs a runtime's context.
    runtime: OnceLock<Handle>,
}

#[derive(Default)]
struct Aside {
    /// Most recently used last.
    conns: Vec<Idle>,
    /// Whether a task is running that gives expired connections back to the pool.
    reaping: bool,
    /// This store's commands waiting for a connection from the pool. Counted under the same
    /// lock as the list, so that a connection is never set aside while one waits.
    waiting: usize,
}

struct Idle {
    conn: PoolConnection<Postgres>,
    /// When it was taken out of the pool.
    leased: Instant,
    /// When its last statement ended.
    used: Instant,
}

impl Idle {
    fn fresh(&self, now: Instant) -> bool {
        now.duration_since(self.used) < IDLE && now.duration_since(self.leased) < LEASE
    }
}

impl fmt::Debug for Conns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conns")
            .field("pool", &self.pool)
            .field("aside", &self.aside().conns.len())
            .finish_non_exhaustive()
    }
}

impl Conns {
    pub(super) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            aside: Mutex::default(),
            runtime: OnceLock::new(),
        }
    }

    fn aside(&self) -> MutexGuard<'_, Aside> {
        // Nothing panics while holding the lock; if something did, the list is still whole.
        self.aside.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many connections are set aside now.
    #[cfg(test)]
    pub(super) fn aside_len(&self) -> usize {
        self.aside().conns.len()
    }

    /// How many of the store's commands wait for the pool now.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.aside().waiting
    }

    /// A connection for one statement: the one set aside last if it is still fresh, else one
    /// from the pool.
    pub(super) async fn lend(self: &Arc<Self>) -> Result<Lent, sqlx::Error> {
        let (found, stale, waiting) = {
            let mut aside = self.aside();
            let now = Instant::now();
            let mut stale = Vec::new();
            let found = loop {
                match aside.conns.pop() {
                    Some(idle) if idle.fresh(now) => break Some(idle),
                    Some(idle) => stale.push(idle),
                    None => break None,
                }
            };
            let waiting = found.is_none().then(|| Waiting::new(self, &mut aside));
            (found, stale, waiting)
        };
        // Dropped outside the lock: each starts sqlx's return to the pool.
        drop(stale);
        let (conn, leased, unchecked) = match found {
            Some(idle) => (idle.conn, idle.leased, true),
            None => {
                let conn = self.pool.acquire().await?;
                drop(waiting);
                (conn, Instant::now(), false)
            }
        };
        Ok(Lent {
            conn,
            leased,
            unchecked,
            conns: Arc::clone(self),
        })
    }

    /// Awaits `acquiring`, a connection (or a transaction) straight from the pool for a
    /// transaction or a long read: counted as waiting meanwhile, so no connection is set
    /// aside while it waits, and with the connections aside given back first when the pool
    /// has nothing else to give.
    pub(super) async fn wait_for_pool<T>(&self, acquiring: impl Future<Output = T>) -> T {
        let waiting = Waiting::new(self, &mut self.aside());
        if self.pool_full() {
            self.give_back_all();
        }
        let acquired = acquiring.await;
        drop(waiting);
        acquired
    }

    /// Whether every connection the pool may open is out of it.
    fn pool_full(&self) -> bool {
        self.pool.num_idle() == 0 && self.pool.size() >= self.pool.options().get_max_connections()
    }

    /// Sets `conn` aside for the next statement, or gives it back to the pool when a command
    /// waits there, the pool is full or closed, or its lease is over.
    fn set_aside(self: &Arc<Self>, conn: PoolConnection<Postgres>, leased: Instant) {
        let now = Instant::now();
        if now.duration_since(leased) >= LEASE || self.pool_full() {
            return drop(conn);
        }
        let runtime = match self.runtime.get() {
            Some(runtime) => runtime,
            None => match Handle::try_current() {
                Ok(current) => self.runtime.get_or_init(|| current),
                Err(_) => return drop(conn),
            },
        };
        let reaper = {
            let mut aside = self.aside();
            // Under the lock: `close` marks the pool closed, then empties the list under it.
            if aside.waiting > 0 || self.pool.is_closed() {
                drop(aside);
                return drop(conn);
            }
            aside.conns.push(Idle {
                conn,
                leased,
                used: now,
            });
            (!std::mem::replace(&mut aside.reaping, true)).then(|| Reaper(Arc::downgrade(self)))
        };
        if let Some(reaper) = reaper {
            // Dropped unpolled if the runtime is shutting down: the guard still clears
            // `reaping` and gives the connections back.
            runtime.spawn(reaper.run());
        }
    }

    /// Gives every connection set aside back to the pool.
    pub(super) fn give_back_all(&self) {
        let all = std::mem::take(&mut self.aside().conns);
        drop(all);
    }

    /// Gives the expired connections back to the pool; whether any stay aside. The reaper
    /// stops when none do (and a later `set_aside` starts another).
    fn give_back_expired(&self) -> bool {
        let now = Instant::now();
        let closed = self.pool.is_closed();
        let (expired, more) = {
            let mut aside = self.aside();
            let (fresh, expired) = std::mem::take(&mut aside.conns)
                .into_iter()
                .partition::<Vec<_>, _>(|idle| !closed && idle.fresh(now));
            aside.conns = fresh;
            aside.reaping = !aside.conns.is_empty();
            (expired, aside.reaping)
        };
        drop(expired);
        more
    }
}

impl Drop for Conns {
    fn drop(&mut self) {
        let aside = std::mem::take(&mut self.aside().conns);
        // Outside any runtime (a store dropped after its runtime's last `block_on`), enter the
        // one the connections came from; if it is gone, sqlx's task is dropped unrun, which
        // closes the socket and frees the pool's slot.
        let _entered = match (Handle::try_current(), self.runtime.get()) {
            (Err(_), Some(runtime)) => Some(runtime.enter()),
            _ => None,
        };
        drop(aside);
    }
}

/// The task that gives connections back to the pool once they have been aside for [`IDLE`],
/// while any are, for as long as the store lives.
struct Reaper(Weak<Conns>);

impl Reaper {
    async fn run(self) {
        loop {
            tokio::time::sleep(IDLE).await;
            match self.0.upgrade() {
                Some(conns) if conns.give_back_expired() => {}
                _ => return,
            }
        }
    }
}

impl Drop for Reaper {
    /// However the task ends (done, or dropped with its runtime), no connection stays aside
    /// without a reaper.
    fn drop(&mut self) {
        if let Some(conns) = self.0.upgrade() {
            let all = {
                let mut aside = conns.aside();
                aside.reaping = false;
                std::mem::take(&mut aside.conns)
            };
            drop(all);
        }
    }
}

/// Counts a command waiting for the pool, for as long as it waits (its future may be
/// dropped while it does).
struct Waiting<'a>(&'a Conns);

impl<'a> Waiting<'a> {
    /// Counts one more, in `aside`, the locked list of `conns`.
    fn new(conns: &'a Conns, aside: &mut Aside) -> Self {
        aside.waiting += 1;
        Self(conns)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.aside().waiting -= 1;
    }
}

/// A connection lent to one statement. Dropped, it goes back to the pool as any pool
/// connection, through sqlx's checks; [`Lent::settle`] and [`Lent::finish`] set it aside
/// when its statement ended cleanly.
pub(crate) struct Lent {
    conn: PoolConnection<Postgres>,
    leased: Instant,
    /// It came from aside, unchecked since its last statement.
    unchecked: bool,
    conns: Arc<Conns>,
}

impl Deref for Lent {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl Lent {
    /// Takes the result of the read run on this connection and places the connection (see
    /// [`Lent::finish`]); `None` when the read should run again on another connection: when
    /// `may_retry` and this one, unchecked, turned out dead.
    pub(crate) fn settle<T>(
        self,
        result: Result<T, sqlx::Error>,
        may_retry: bool,
    ) -> Option<Result<T, sqlx::Error>> {
        let dead_unchecked = self.place(&result);
        (!(may_retry && dead_unchecked)).then_some(result)
    }

    /// Takes the result of the statement run on this connection and places the connection:
    /// aside when the statement ended cleanly, else to the pool's checks.
    pub(crate) fn finish<T>(self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        self.place(&result);
        result
    }

    /// Places the connection after `result`; whether it was unchecked and is dead.
    fn place<T>(self, result: &Result<T, sqlx::Error>) -> bool {
        match result.as_ref().map_or_else(ending, |_| Ending::Clean) {
            Ending::Clean => self.conns.set_aside(self.conn, self.leased),
            Ending::Unsure => drop(self.conn),
            Ending::Lost => {
                drop(self.conn);
                self.conns.give_back_all();
                return self.unchecked;
            }
        }
        false
    }
}

/// How a statement that failed with `e` left its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Ready for the next statement: the server answered with an error of the statement.
    Clean,
    /// Perhaps mid-exchange: let sqlx check it.
    Unsure,
    /// Gone: the server or the network ended it.
    Lost,
}

fn ending(e: &sqlx::Error) -> Ending {
    match e {
        sqlx::Error::Database(db) => {
            // A FATAL error ends the session, whatever its code; so do class 08 (connection
            // exception) and 57P (the server shutting down or restarting: 57P01 is what a
            // terminated backend sends).
            let fatal = db
                .try_downcast_ref::<PgDatabaseError>()
                .is_some_and(|pg| matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic));
            match db.code() {
                _ if fatal => Ending::Lost,
                Some(code) if code.starts_with("08") || code.starts_with("57P") => Ending::Lost,
                _ => Ending::Clean,
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => Ending::Lost,
        _ => Ending::Unsure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_connection_is_lost_and_a_refused_statement_leaves_it_ready() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(ending(&io), Ending::Lost);
        assert_eq!(
            ending(&sqlx::Error::Protocol("unexpected message".into())),
            Ending::Lost
        );
        assert_eq!(ending(&sqlx::Error::RowNotFound), Ending::Unsure);
        assert_eq!(ending(&sqlx::Error::PoolTimedOut), Ending::Unsure);
    }
}
