//! `SqliteStore`: the embedded default (feature `sqlite`, bundled SQLite: nothing to install).

use std::{
    ops::{Deref, DerefMut},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use sqlx::{
    ConnectOptions as _, Sqlite, Transaction,
    pool::PoolConnection,
    sqlite::{
        SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
        SqliteSynchronous,
    },
};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use super::{
    StoreError,
    plan::{Plan, batch},
    sql,
};

/// Keeps the roster in one SQLite database: a file (WAL mode, safe across processes on one
/// machine) or `sqlite::memory:`.
///
/// Writers are serialized twice over: inside the process, commits take turns on one
/// connection (which also serves reads while it is free, keeping SQLite's page cache warm;
/// other reads go to the pool), so concurrent commits wait their turn instead of failing with
/// "database is locked"; across processes, by `BEGIN IMMEDIATE` with a busy timeout. Foreign
/// keys are on. A commit is one batch of statements, from `BEGIN IMMEDIATE` to `COMMIT`, in
/// one call into the connection's thread.
/// The migrations need SQLite 3.47 or later; the bundled SQLite is 3.51.
///
/// # Examples
/// ```no_run
/// use orgroster::{MemoryStore, RecordingMailer, Roster, SqliteStore};
/// # async fn run() -> Result<(), orgroster::StoreError> {
/// let store = SqliteStore::connect("sqlite:///var/lib/myapp/roster.db").await?;
/// store.migrate().await?;
/// let roster = Roster::builder(store, RecordingMailer::new()).build();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The connection commits run on, and reads while it is free. Holding it serializes this
    /// process's writers. One connection for both keeps SQLite's page cache warm: SQLite
    /// drops a connection's whole cache when another connection has written since its last
    /// read, so reads and writes spread over the pool's connections re-read every page they
    /// touch from the file (about 60 reads per invite-and-accept cycle).
    home: Arc<Mutex<Option<SqliteConnection>>>,
    /// Whether reads go to the pool while the home connection is busy; not for an in-memory
    /// database, whose connections share one cache where SQLite locks whole tables.
    spill: bool,
}

/// A connection to read on: the home connection when it was free, else one from the pool.
enum Reader {
    Home(OwnedMappedMutexGuard<Option<SqliteConnection>, SqliteConnection>),
    Pooled(PoolConnection<Sqlite>),
}

impl Deref for Reader {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            Self::Home(conn) => conn,
            Self::Pooled(conn) => conn,
        }
    }
}

impl DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Self::Home(conn) => conn,
            Self::Pooled(conn) => conn,
        }
    }
}

/// The statements where SQLite differs from PostgreSQL.
mod dialect {
    use crate::store::sql::Migration;

    pub(super) const MEMBERS_BY_EMAILS: &str = "SELECT id, organization_id, user_id, email, \
         first_name, last_name, roles, joined_at, invitation_id, version FROM orgroster_members \
         WHERE organization_id = $1 AND email_key IN (SELECT value FROM json_each($2))";
    /// User ids travel as lowercase hex in a JSON array (blobs cannot be JSON).
    pub(super) const MEMBERS_BY_USERS: &str = "SELECT id, organization_id, user_id, email, \
         first_name, last_name, roles, joined_at, invitation_id, version FROM orgroster_members \
         WHERE organization_id = $1 AND user_id IN (SELECT unhex(value) FROM json_each($2))";
    /// The hex ids of `$2` (a JSON list) with no member in `$1`: usually none, so no rows.
    pub(super) const USERS_NOT_MEMBERS: &str = "SELECT DISTINCT value FROM json_each($2) \
         WHERE NOT EXISTS (SELECT 1 FROM orgroster_members WHERE organization_id = $1 \
         AND user_id = unhex(value))";
    pub(super) const PENDING_BY_EMAILS: &str = "SELECT id, organization_id, email, \
         invitee_first_name, invitee_last_name, role, team_id, status, token_hash, invited_by, \
         created_at, sent_at, expires_at, resend_count, closed_at, closed_by, version \
         FROM orgroster_invitations WHERE organization_id = $1 AND status = 'pending' \
         AND email_key IN (SELECT value FROM json_each($2))";
    /// One row per distinct email key (`$2`, a JSON list) of organization `$1`: whether a
    /// member has it, its pending invitation if any (at most one: a partial unique index),
    /// and on every row the seat counts at `$3` when `$count` holds (zeros otherwise); a
    /// single row of counts alone for an empty list.
    macro_rules! invitation_targets {
        ($($count:tt)*) => {
            concat!(
                "SELECT k.value AS target_key, EXISTS (SELECT 1 FROM orgroster_members AS mm \
                 WHERE mm.organization_id = $1 AND mm.email_key = k.value) AS is_member, i.id, \
                 i.organization_id, i.email, i.invitee_first_name, i.invitee_last_name, i.role, \
                 i.team_id, i.status, i.token_hash, i.invited_by, i.created_at, i.sent_at, \
                 i.expires_at, i.resend_count, i.closed_at, i.closed_by, i.version, \
                 s.seat_members, s.seat_pending FROM ",
                crate::store::sql::seat_counts!($($count)*),
                " LEFT JOIN (SELECT DISTINCT value FROM json_each($2)) AS k ON 1 \
                 LEFT JOIN orgroster_invitations AS i ON i.organization_id = $1 \
                 AND i.status = 'pending' AND i.email_key = k.value"
            )
        };
    }
    /// Seats counted when `$4`.
    pub(super) const INVITATION_TARGETS: &str = invitation_targets!("$4");
    /// See [`invitation_context`](crate::store::sql::invitation_context).
    pub(super) const INVITATION_CONTEXT: &str =
        crate::store::sql::invitation_context!(invitation_targets!(crate::store::sql::capped!()));
    /// One guarded `UPDATE … RETURNING`: writers are serialized, so no row is handed out
    /// twice while its lease runs.
    pub(super) const CLAIM_OUTBOX: &str = "UPDATE orgroster_outbox SET lease_until = $1, \
         attempts = attempts + 1 WHERE id IN (SELECT id FROM orgroster_outbox \
         WHERE status = 'pending' AND due_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) \
         ORDER BY due_at, id LIMIT $3) RETURNING id, organization_id, recipient, content, secret, \
         status, attempts, created_at, due_at, lease_until, last_error";
    /// The team ids of a JSON list of hex strings (`$4`), as blobs.
    pub(super) const TEAM_LIST: &str = "SELECT unhex(value) FROM json_each($4)";
    /// Batched inserts use `?`: SQLite looks `$N` names up one by one when binding.
    pub(super) const ANONYMOUS_PARAMS: bool = true;
    /// No row locks: writers are serialized (`BEGIN IMMEDIATE`), so the check holds until
    /// the commit ends.
    pub(super) const PLAN: crate::store::plan::Dialect = crate::store::plan::Dialect {
        anonymous: ANONYMOUS_PARAMS,
        check_org: "SELECT 1 FROM orgroster_organizations WHERE id = $1 AND version = $2",
    };
    /// Text compares byte by byte already.
    pub(super) const BYTEWISE: &str = "";
    /// `BEGIN IMMEDIATE` already excludes other writers.
    pub(super) const MIGRATION_LOCK: Option<&str> = None;
    /// Applied migrations are checksummed: never edit one, add the next. 0004 needs SQLite
    /// 3.47 or later (`RAISE` with a computed message).
    pub(super) const MIGRATIONS: &[Migration] = &[
        (
            1,
            "initial",
            include_str!("../../migrations/sqlite/0001_initial.sql"),
        ),
        (
            2,
            "activity",
            include_str!("../../migrations/sqlite/0002_activity.sql"),
        ),
        (
            3,
            "activity_by_time_covering",
            include_str!("../../migrations/sqlite/0003_activity_by_time_covering.sql"),
        ),
        (
            4,
            "commit_guard",
            include_str!("../../migrations/sqlite/0004_commit_guard.sql"),
        ),
    ];
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url`: `sqlite://path/to/file.db`,
    /// `sqlite:relative.db`, or `sqlite::memory:`. Call [`SqliteStore::migrate`] next.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URL is malformed or the file cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| sql::backend("sqlite", e))?;
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = options
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // An in-memory database lives as long as its connections and is shared through one
        // cache, where SQLite locks whole tables: one connection avoids both surprises.
        let pool = SqlitePoolOptions::new()
            // An embedded database cannot drop a connection behind the pool's back: the
            // liveness ping sqlx sends before handing out a connection would only cost a hop
            // to the connection's worker thread on every read and commit.
            .test_before_acquire(false)
            .max_connections(if memory { 1 } else { 8 })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(3600))
            })
            .connect_with(options)
            .await
            .map_err(|e| sql::backend("sqlite", e))?;
        Ok(Self::with_pool(pool, !memory))
    }

    /// An empty in-memory database, migrated: for tests and demos.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if SQLite fails.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let store = Self::connect("sqlite::memory:").await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps a pool the host built. Enable foreign keys on it (`foreign_keys(true)`, the
    /// default of `SqliteConnectOptions`) and a busy timeout.
    pub fn new(pool: SqlitePool) -> Self {
        // sqlx names an in-memory database `file:…`; any `file:` URI might be one, and then
        // reads only wait for the home connection instead of spilling.
        let name = pool
            .connect_options()
            .get_filename()
            .to_string_lossy()
            .into_owned();
        let memory = name == ":memory:" || name.starts_with("file:");
        Self::with_pool(pool, !memory)
    }

    fn with_pool(pool: SqlitePool, spill: bool) -> Self {
        Self {
            pool,
            home: Arc::new(Mutex::new(None)),
            spill,
        }
    }

    /// The pool, for hosts that share it.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// A write transaction on a pool connection, with the home connection held so no commit
    /// of this process runs meanwhile. (A `Transaction` cannot borrow the connection out of
    /// a guard it is returned with; these writes are the rare ones: migrations, the outbox,
    /// activity.)
    async fn write_tx(
        &self,
    ) -> Result<
        (
            Transaction<'static, Sqlite>,
            OwnedMutexGuard<Option<SqliteConnection>>,
        ),
        StoreError,
    > {
        let guard = Arc::clone(&self.home).lock_owned().await;
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(Self::err)?;
        Ok((tx, guard))
    }

    /// The home connection, opened with the pool's options if it is not open yet.
    async fn open<'h>(
        home: &'h mut Option<SqliteConnection>,
        pool: &SqlitePool,
    ) -> Result<&'h mut SqliteConnection, StoreError> {
        let conn = match home.take() {
            Some(conn) => conn,
            None => pool.connect_options().connect().await.map_err(Self::err)?,
        };
        Ok(home.insert(conn))
    }

    /// A connection for one read: the home connection if it is free (or, for an in-memory
    /// database, once it is), else one from the pool.
    async fn reader(&self) -> Result<Reader, StoreError> {
        let home = match Arc::clone(&self.home).try_lock_owned() {
            Ok(home) => home,
            Err(_) if self.spill => {
                return Ok(Reader::Pooled(
                    self.pool.acquire().await.map_err(Self::err)?,
                ));
            }
            Err(_) => Arc::clone(&self.home).lock_owned().await,
        };
        let mut home = home;
        Self::open(&mut home, &self.pool).await?;
        OwnedMutexGuard::try_map(home, Option::as_mut)
            .map(Reader::Home)
            .map_err(|_| {
                sql::backend(
                    "sqlite",
                    std::io::Error::other("the connection closed as it was opened"),
                )
            })
    }

    /// Runs a commit's plan as one batch ([`batch`]): one call into the connection's thread
    /// instead of one per statement plus `BEGIN` and `COMMIT`.
    ///
    /// The batch opens its transaction itself, out of sqlx's sight, so this closes it on
    /// every path: a failed batch is rolled back here, and a batch whose caller stops
    /// waiting (the future dropped mid-batch) is rolled back by [`Unfinished`] before its
    /// connection goes back to the pool.
    async fn commit_plan(&self, plan: Plan) -> Result<(), StoreError> {
        let batch = batch(plan)?;
        let recurs = batch.recurs();
        let q = sqlx::query::<Sqlite>(sqlx::AssertSqlSafe(batch.sql)).persistent(recurs);
        let q = Self::bind_args(q, batch.args);
        let mut held = Unfinished(Some(Arc::clone(&self.home).lock_owned().await));
        let mut result = Ok(());
        if let Some(home) = held.0.as_mut() {
            let conn = Self::open(home, &self.pool).await?;
            result = q.execute(&mut *conn).await.map(drop);
            match &result {
                Ok(()) => {}
                // A batch stops at its first failing statement, before its COMMIT. If that
                // was `BEGIN IMMEDIATE` itself there is nothing to roll back: SQLite says
                // so, and that is fine.
                Err(sqlx::Error::Database(_)) => {
                    let _ = sqlx::query::<Sqlite>("ROLLBACK").execute(&mut *conn).await;
                }
                // The connection itself failed: closed, it ends its transaction; the next
                // use opens a new one.
                Err(_) => **home = None,
            }
        }
        // Finished, one way or the other: the home connection is free again.
        held.0 = None;
        result.map_err(|e| Self::plan_error(e, &batch.expects))
    }
}

/// The home connection while a batch may have left its transaction open: if it is dropped
/// holding it (its caller stopped waiting), the transaction is rolled back before anyone
/// else gets the connection, so no one ever sees the batch's uncommitted writes or finds
/// the database locked by them.
struct Unfinished(Option<OwnedMutexGuard<Option<SqliteConnection>>>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        let Some(mut home) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            // The connection's thread runs commands in order: the rollback runs after
            // whatever of the batch it had begun, and the guard goes with it, so the next
            // user waits for the rollback.
            // The batch may also have ended, committed or not: then SQLite refuses the
            // rollback, harmlessly.
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Some(conn) = home.as_mut() {
                        let _ = sqlx::query::<Sqlite>("ROLLBACK").execute(conn).await;
                    }
                });
            }
            // No runtime to roll back on: dropped, the connection closes on its own thread,
            // which ends its transaction; the next use opens a new one.
            Err(_) => *home = None,
        }
    }
}

sql::sql_store!(SqliteStore, Sqlite, "sqlite", dialect);
