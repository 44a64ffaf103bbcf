//! Connections kept warm between the commands of one [`PostgresStore`](super::PostgresStore).
//!
//! sqlx's pool checks a connection with a round trip (a `Sync`, answered by the server) when
//! it hands one out and again when it takes one back. A command is a read and a commit, so
//! the two statements of an invitation cost six round trips: on a small machine where the
//! server and the service share the CPU, a third of the time of a command under load went to
//! those checks. So a connection this store has just finished a statement on, cleanly, is
//! kept aside for the store's next statement instead of going back to the pool; one that
//! has been idle for [`IDLE`], or out of the pool for [`LEASE`], goes back to the pool's
//! ordinary handling (its checks, `max_lifetime`, `idle_timeout`, `close`).
//!
//! What the checks were for, kept:
//! - A connection goes aside only when its statement ran to the end (a result, or an error
//!   the server answered with). One whose future was dropped half-way, or that failed in
//!   any other way, is dropped as sqlx's own pool connection, and sqlx checks it.
//! - A connection that was killed while aside fails its next statement. A read that fails
//!   that way on such a connection runs again on one from the pool (checked there); and
//!   every connection aside is given back to the pool, since whatever killed one (a server
//!   restart) may have killed all. A commit is not repeated: whether it was applied is not
//!   known, and the caller gets the error, as when a connection dies mid-commit.
//! - A command of this store waiting for the pool is served first: while one waits, a
//!   connection goes back to the pool, not aside.

use std::{
    fmt,
    ops::{Deref, DerefMut},
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use sqlx::{PgConnection, Postgres, pool::PoolConnection, postgres::PgPool};

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
    /// This store's commands waiting for a connection from the pool.
    waiting: AtomicUsize,
}

#[derive(Default)]
struct Aside {
    /// Most recently used last.
    conns: Vec<Idle>,
    /// Whether a task is running that gives expired connections back to the pool.
    reaping: bool,
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
            waiting: AtomicUsize::new(0),
        }
    }

    fn aside(&self) -> std::sync::MutexGuard<'_, Aside> {
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
        self.waiting.load(Ordering::Acquire)
    }

    /// A connection for one statement: the one set aside last if it is still fresh, else one
    /// from the pool.
    pub(super) async fn lend(self: &Arc<Self>) -> Result<Lent, sqlx::Error> {
        if let Some(idle) = self.take_fresh() {
            return Ok(Lent {
                conn: idle.conn,
                leased: idle.leased,
                unchecked: true,
                conns: Arc::clone(self),
            });
        }
        let conn = {
            let _waiting = Waiting::new(&self.waiting);
            self.pool.acquire().await?
        };
        Ok(Lent {
            conn,
            leased: Instant::now(),
            unchecked: false,
            conns: Arc::clone(self),
        })
    }

    fn take_fresh(&self) -> Option<Idle> {
        let now = Instant::now();
        let mut stale = Vec::new();
        let found = {
            let mut aside = self.aside();
            loop {
                match aside.conns.pop() {
                    Some(idle) if idle.fresh(now) => break Some(idle),
                    Some(idle) => stale.push(idle),
                    None => break None,
                }
            }
        };
        // Dropped outside the lock: each starts sqlx's return to the pool.
        drop(stale);
        found
    }

    /// Sets `conn` aside for the next statement, or gives it back to the pool when a command
    /// waits there, its lease is over or the pool is closed.
    fn set_aside(self: &Arc<Self>, conn: PoolConnection<Postgres>, leased: Instant) {
        let now = Instant::now();
        if self.waiting.load(Ordering::Acquire) > 0
            || now.duration_since(leased) >= LEASE
            || self.pool.is_closed()
        {
            return drop(conn);
        }
        let start_reaper = {
            let mut aside = self.aside();
            aside.conns.push(Idle {
                conn,
                leased,
                used: now,
            });
            !std::mem::replace(&mut aside.reaping, true)
        };
        if start_reaper {
            tokio::spawn(reap(Arc::downgrade(self)));
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
        if tokio::runtime::Handle::try_current().is_err() {
            // sqlx gives a connection back to its pool in a task, which needs a runtime. With
            // none (a store dropped after its runtime), close the socket here instead; the
            // pool may open a replacement.
            for idle in aside {
                drop(idle.conn.detach());
            }
        }
    }
}

/// Gives connections back to the pool once they have been aside for [`IDLE`], while any
/// are, for as long as the store lives.
async fn reap(conns: Weak<Conns>) {
    loop {
        tokio::time::sleep(IDLE).await;
        match conns.upgrade() {
            Some(conns) if conns.give_back_expired() => {}
            _ => return,
        }
    }
}

/// Counts a command waiting for the pool, for as long as it waits (its future may be
/// dropped while it does).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection lent to one statement (or a few, of one read). Dropped, it goes back to the
/// pool as any pool connection, through sqlx's checks; [`Lent::settle`] sets it aside when
/// its statement ended cleanly.
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
        sqlx::Error::Database(db) => match db.code() {
            // Class 08: connection exception; 57P: the server shutting down or restarting
            // (57P01 is what a terminated backend sends).
            Some(code) if code.starts_with("08") || code.starts_with("57P") => Ending::Lost,
            _ => Ending::Clean,
        },
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
