//! `SqliteStore`: the embedded default (feature `sqlite`, bundled SQLite: nothing to install).

use std::{
    ops::{Deref, DerefMut},
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use sqlx::{
    Sqlite, Transaction,
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
///
/// In WAL mode the commits' connection leaves checkpoints (folding the WAL back into the
/// database file, where `synchronous = NORMAL` syncs) to a task that runs them beside the
/// commits every few dozen commits, instead of inside the commit that happens to cross
/// SQLite's threshold; it sets `wal_autocheckpoint = 0` on that connection, so a host's own
/// setting for it is overridden.
/// The migrations need SQLite 3.47 or later; the bundled SQLite is 3.51.
///
/// # Examples
/// ```no_run
/// use orgroster::{LinkKey, RecordingMailer, Roster, SqliteStore};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SqliteStore::connect("sqlite:///var/lib/myapp/roster.db").await?;
/// store.migrate().await?;
/// // The host keeps the key that invitation links derive from in its secret store.
/// let link_key = LinkKey::from_base64(&std::env::var("ROSTER_LINK_KEY")?)?;
/// let roster = Roster::builder(store, RecordingMailer::new(), link_key).build();
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
    home: Arc<Mutex<Home>>,
    checkpoints: Arc<Checkpoints>,
}

/// Commits on the home connection between two checkpoints. At the 8 or 9 pages an invitation
/// or an acceptance writes, that is some 550 pages, about half SQLite's own default of 1,000.
const CHECKPOINT_EVERY: u32 = 64;

/// Commits that may go into the WAL while a checkpoint is under way; the next ones wait for
/// it to end. Without a bound, a disk that syncs slower than the commits come would grow the
/// WAL without end (each checkpoint would have more to copy than the last). With it, the
/// WAL holds at most `CHECKPOINT_EVERY + CHECKPOINTS_BEHIND` commits: SQLite starts it over
/// at the first commit after a checkpoint that copied all of it (which a reader holding an
/// old snapshot for long, in this process or another, can prevent, as with SQLite's own
/// checkpoints).
const CHECKPOINTS_BEHIND: u32 = 4 * CHECKPOINT_EVERY;

/// Folds the WAL back into the database file away from the commits.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold, and with
/// `synchronous = NORMAL` the checkpoint is where the database's only two fsyncs happen,
/// flushing every page written since the last one: measured on a file on this project's
/// 2-core test machine, half of an invite-and-accept cycle's time. So the home connection
/// has automatic checkpoints off, and every [`CHECKPOINT_EVERY`] commits a task checkpoints
/// on a pool connection while commits go on ([`SqliteStore::checkpoint`]), and commits wait
/// for it only when it falls [`CHECKPOINTS_BEHIND`] commits behind. Durability is SQLite's
/// `NORMAL` either way: a commit survives a crash of the process, and a power loss once a
/// checkpoint has synced it.
#[derive(Debug, Default)]
struct Checkpoints {
    /// Commits since the last checkpoint began.
    commits: AtomicU32,
    /// Held by the checkpoint under way (one at a time is enough; its guard goes with its
    /// task, however that ends), and waited on by commits that find it too far behind.
    running: Arc<Mutex<()>>,
}

/// Where this process's commits run.
#[derive(Debug)]
enum Home {
    /// Not known yet, or closed after a failure: decided at the next use.
    Unopened,
    /// A database file: this connection, taken out of the pool (so the host's connection
    /// settings apply to it too).
    Open {
        conn: SqliteConnection,
        /// The file is in WAL mode: the connection leaves checkpoints to [`Checkpoints`].
        wal: bool,
    },
    /// An in-memory database: everything stays on the pool, whose connections may not even
    /// share one database (a private `:memory:` is one per connection).
    Pooled,
}

impl Home {
    /// Closes the home connection, if there is one; the next use takes a new one. Closing
    /// ends whatever transaction it holds, on the connection's own thread, after whatever
    /// it had begun: that needs no runtime, and no one can use the connection meanwhile.
    fn discard(&mut self) {
        if matches!(self, Self::Open { .. }) {
            *self = Self::Unopened;
        }
    }
}

/// A connection to read on: the home connection when it was free, else one from the pool.
enum Reader {
    Home(OwnedMappedMutexGuard<Home, SqliteConnection>),
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

impl Reader {
    /// The result of a read run on this connection, for [`sql::read!`]: never run again here,
    /// where a connection is not set aside unchecked.
    // `sql::read!` calls every store's `settle` alike.
    #[allow(clippy::unnecessary_wraps)]
    fn settle<T>(
        self,
        result: Result<T, sqlx::Error>,
        _may_retry: bool,
    ) -> Option<Result<T, sqlx::Error>> {
        Some(result)
    }
}

/// The statements where SQLite differs from PostgreSQL.
mod dialect {
    use crate::store::sql::Migration;

    /// The hex ids of `$2` (a JSON list) with no member in `$1`: usually none, so no rows.
    pub(super) const USERS_NOT_MEMBERS: &str = "SELECT DISTINCT value FROM json_each($2) \
         WHERE NOT EXISTS (SELECT 1 FROM orgroster_members WHERE organization_id = $1 \
         AND user_id = unhex(value))";
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
    /// See [`invitation_context`](crate::store::sql::invitation_context).
    pub(super) const INVITATION_CONTEXT: &str =
        crate::store::sql::invitation_context!(invitation_targets!(crate::store::sql::capped!()));
    /// One guarded `UPDATE … RETURNING`: writers are serialized, so no row is handed out
    /// twice while its lease runs. Taken in turns across organizations (spec: MSG-3).
    pub(super) const CLAIM_OUTBOX: &str = "UPDATE orgroster_outbox SET lease_until = $1, \
         claim = $4, attempts = attempts + 1 WHERE id IN (SELECT id FROM (SELECT id, due_at, \
         ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY due_at, id) AS turn \
         FROM orgroster_outbox WHERE status = 'pending' AND due_at <= $2 \
         AND (lease_until IS NULL OR lease_until <= $2)) ORDER BY turn, due_at, id LIMIT $3) \
         RETURNING id, organization_id, recipient, content, status, attempts, created_at, \
         due_at, lease_until, last_error";
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
    /// One member's events are read through the per-member index: without `ANALYZE`
    /// statistics SQLite prefers the covering time index, which scans the whole
    /// organization's period for one member (spec: STAT-2).
    pub(super) const BY_MEMBER: &str = " INDEXED BY orgroster_activities_by_user";
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
        (
            5,
            "without_rowid",
            include_str!("../../migrations/sqlite/0005_without_rowid.sql"),
        ),
        (
            6,
            "activity_by_member",
            include_str!("../../migrations/sqlite/0006_activity_by_member.sql"),
        ),
        (
            7,
            "outbox_claims",
            include_str!("../../migrations/sqlite/0007_outbox_claims.sql"),
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
        Ok(Self::new(pool))
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
    ///
    /// For a database file, the store takes one connection out of the pool for good (the
    /// pool may open a replacement): its commits run there, and its reads while it is free.
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            home: Arc::new(Mutex::new(Home::Unopened)),
            checkpoints: Arc::default(),
        }
    }

    /// The pool, for hosts that share it. Closing it leaves the store's own connection
    /// open; [`SqliteStore::close`] closes both.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection of the store, its own and the pool's, after the commits and
    /// reads under way: for a clean shutdown (the last connection to a file folds the WAL
    /// into the database and removes it). Commands afterwards fail with a store error.
    pub async fn close(&self) {
        let mut home = self.home.lock().await;
        if let Home::Open { conn, .. } = std::mem::replace(&mut *home, Home::Unopened) {
            // Closing it is best-effort: a connection that fails to close cleanly is closed
            // anyway when dropped.
            let _ = sqlx::Connection::close(conn).await;
        }
        self.pool.close().await;
    }

    /// A write transaction on a pool connection, with the home connection held so no commit
    /// of this process runs meanwhile. (A `Transaction` cannot borrow the connection out of
    /// a guard it is returned with; these writes are the rare ones: migrations, the outbox,
    /// activity.)
    async fn write_tx(
        &self,
    ) -> Result<(Transaction<'static, Sqlite>, OwnedMutexGuard<Home>), StoreError> {
        let guard = Arc::clone(&self.home).lock_owned().await;
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(Self::err)?;
        Ok((tx, guard))
    }

    /// Decides where commits run, the first time: a connection of the pool becomes the home
    /// connection, unless the database lives in memory (SQLite names no file for it). In WAL
    /// mode the home connection leaves checkpoints to [`Checkpoints`].
    async fn open(&self, home: &mut Home) -> Result<(), StoreError> {
        if !matches!(home, Home::Unopened) {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await.map_err(Self::err)?;
        let file: String =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(&mut *conn)
                .await
                .map_err(Self::err)?;
        if file.is_empty() {
            *home = Home::Pooled;
            return Ok(());
        }
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .map_err(Self::err)?;
        let wal = mode.eq_ignore_ascii_case("wal");
        if wal {
            sqlx::query("PRAGMA wal_autocheckpoint = 0")
                .execute(&mut *conn)
                .await
                .map_err(Self::err)?;
        }
        *home = Home::Open {
            conn: conn.detach(),
            wal,
        };
        Ok(())
    }

    /// Counts a commit on the home connection of a WAL file, and starts a checkpoint every
    /// [`CHECKPOINT_EVERY`] of them (unless one is under way, or there is no runtime to run
    /// it on: then the next commit tries again).
    fn committed(&self) {
        let checkpoints = &self.checkpoints;
        if checkpoints.commits.fetch_add(1, Ordering::Relaxed) + 1 < CHECKPOINT_EVERY {
            return;
        }
        let Ok(running) = Arc::clone(&checkpoints.running).try_lock_owned() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        checkpoints.commits.store(0, Ordering::Relaxed);
        let (pool, home) = (self.pool.clone(), Arc::clone(&self.home));
        runtime.spawn(async move {
            // A checkpoint that fails (the pool closed, a reader holding an old snapshot)
            // is tried again after the next round of commits; until then the WAL grows.
            let _ = Self::checkpoint(&pool, &home).await;
            drop(running);
        });
    }

    /// Waits for the checkpoint under way if [`CHECKPOINTS_BEHIND`] commits went into the WAL
    /// since it began. Called before taking the home connection, which the checkpoint's
    /// second pass needs.
    async fn keep_up(&self) {
        if self.checkpoints.commits.load(Ordering::Relaxed) >= CHECKPOINTS_BEHIND {
            drop(self.checkpoints.running.lock().await);
        }
    }

    /// Checkpoints in two passes. The first, on a pool connection, copies the WAL into the
    /// database file and syncs both while commits go on. SQLite starts the WAL over (instead
    /// of growing it) only at a commit that finds all of it copied, and commits went on
    /// during the first pass; so the second pass runs on the home connection, where no
    /// commit of this process can append meanwhile, and copies the few frames they wrote.
    /// (It holds no pool connection while it waits for the home connection: `close` holds
    /// the one while it waits for the others.)
    async fn checkpoint(pool: &SqlitePool, home: &Mutex<Home>) -> Result<(), sqlx::Error> {
        let mut conn = pool.acquire().await?;
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *conn)
            .await?;
        drop(conn);
        if let Home::Open { conn, .. } = &mut *home.lock().await {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// A connection for one short read: the home connection if it is free, else one from
    /// the pool.
    async fn reader(&self) -> Result<Reader, StoreError> {
        if let Ok(mut home) = Arc::clone(&self.home).try_lock_owned() {
            self.open(&mut home).await?;
            if let Ok(conn) = OwnedMutexGuard::try_map(home, |home| match home {
                Home::Open { conn, .. } => Some(conn),
                _ => None,
            }) {
                return Ok(Reader::Home(conn));
            }
        }
        self.long_reader().await.map(Reader::Pooled)
    }

    /// A connection from the pool, for a read that may take long (statistics): on the home
    /// connection it would hold up every commit.
    async fn long_reader(&self) -> Result<PoolConnection<Sqlite>, StoreError> {
        self.pool.acquire().await.map_err(Self::err)
    }

    /// Runs a commit's plan as one batch ([`batch`]): one call into the connection's thread
    /// instead of one per statement plus `BEGIN` and `COMMIT`.
    ///
    /// The batch opens its transaction itself, out of sqlx's sight, so this closes it on
    /// every path: a failed batch is rolled back here, and a batch whose caller stops
    /// waiting (the future dropped mid-batch) is ended by [`Unfinished`] before anyone else
    /// gets its connection.
    async fn commit_plan(&self, plan: Plan) -> Result<(), StoreError> {
        let batch = batch(plan)?;
        let recurs = batch.recurs();
        let q = sqlx::query::<Sqlite>(sqlx::AssertSqlSafe(batch.sql)).persistent(recurs);
        let q = Self::bind_args(q, batch.args);
        self.keep_up().await;
        let mut home = Arc::clone(&self.home).lock_owned().await;
        self.open(&mut home).await?;
        let mut held = Unfinished {
            home: Some(home),
            pooled: None,
        };
        let result = match held.home.as_deref_mut() {
            Some(Home::Open { conn, wal }) => {
                let result = Self::run_batch(conn, q).await;
                if result.is_ok() && *wal {
                    self.committed();
                }
                result
            }
            _ => {
                let conn = held
                    .pooled
                    .insert(self.pool.acquire().await.map_err(Self::err)?);
                Self::run_batch(conn, q).await
            }
        };
        if let (Err(e), Some(home)) = (&result, held.home.as_deref_mut())
            && !matches!(e, sqlx::Error::Database(_))
        {
            // The connection itself failed.
            home.discard();
        }
        // Finished, one way or the other: the connections go back as they are.
        held.pooled = None;
        held.home = None;
        result.map_err(|e| Self::plan_error(e, &batch.expects))
    }

    /// Runs a batch; one that failed stopped at its first failing statement, before its
    /// `COMMIT`, and is rolled back. (If that was `BEGIN IMMEDIATE` itself there is nothing
    /// to roll back: SQLite says so, and that is fine.)
    async fn run_batch(
        conn: &mut SqliteConnection,
        q: sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Result<(), sqlx::Error> {
        let result = q.execute(&mut *conn).await.map(drop);
        if let Err(sqlx::Error::Database(_)) = &result {
            let _ = sqlx::query::<Sqlite>("ROLLBACK").execute(&mut *conn).await;
        }
        result
    }
}

/// The connection of a batch that may have left its transaction open. If it is dropped
/// holding one (its caller stopped waiting mid-batch), the transaction must end before
/// anyone else gets the connection, so no one ever sees the batch's uncommitted writes or
/// finds the database locked by them.
struct Unfinished {
    home: Option<OwnedMutexGuard<Home>>,
    /// The pool connection the batch ran on, for an in-memory database.
    pooled: Option<PoolConnection<Sqlite>>,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(mut conn) = self.pooled.take() {
            match tokio::runtime::Handle::try_current() {
                // The connection's thread runs commands in order: the rollback runs after
                // whatever of the batch it had begun. The batch may also have ended,
                // committed or not: then SQLite refuses the rollback, harmlessly.
                Ok(runtime) => {
                    runtime.spawn(async move {
                        let _ = sqlx::query::<Sqlite>("ROLLBACK").execute(&mut *conn).await;
                    });
                }
                // No runtime to roll back on (nor for sqlx to return a pooled connection
                // on: it would panic). Taken out of the pool and dropped, the connection
                // closes on its own thread, which ends its transaction.
                Err(_) => drop(conn.leak()),
            }
        }
        if let Some(mut home) = self.home.take() {
            home.discard();
        }
    }
}

sql::sql_store!(SqliteStore, Sqlite, "sqlite", dialect);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::{
        Actor, EmailAddress, Organization, Profile, RecordingMailer, Roster, Store, UserId,
    };

    /// A roster on `store`, its founder, and the result of founding an organization.
    async fn found(store: &SqliteStore) -> (Roster, Actor, crate::Result<Organization>) {
        let roster = Roster::builder(
            store.clone(),
            RecordingMailer::new(),
            crate::LinkKey::from_bytes([7; 32]),
        )
        .build();
        let founder = Actor::new(
            UserId::new(),
            EmailAddress::parse("founder@example.com").unwrap(),
        );
        let created = roster
            .create_organization(
                &founder,
                "Founded".parse().unwrap(),
                Profile::parse("Fay", "Founder").unwrap(),
            )
            .await
            .map(|created| created.organization);
        (roster, founder, created)
    }

    /// A migrated store on a new database file in the temp dir, and the file's path.
    async fn file_store(name: &str) -> (SqliteStore, std::path::PathBuf) {
        let path =
            std::env::temp_dir().join(format!("orgroster-{name}-{}.db", uuid::Uuid::now_v7()));
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        (store, path)
    }

    /// A host's pool on a private in-memory database (`SqliteConnectOptions::new()`): every
    /// connection would be a database of its own, so the store must not take one out of the
    /// pool to commit on; migrations, commits and reads all meet in the pool's one database.
    #[tokio::test]
    async fn a_host_pool_on_a_private_in_memory_database_is_one_database() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(SqliteConnectOptions::new())
            .await
            .unwrap();
        let store = SqliteStore::new(pool);
        store.migrate().await.unwrap();
        let (_, founder, created) = found(&store).await;
        let organization = created.expect("a commit on the database the migrations made");
        let org = organization.id;
        assert!(store.organization(org).await.unwrap().is_some());
        assert!(store.member(org, founder.user).await.unwrap().is_some());
        // The writes and reads that stay on the pool see the same database.
        store
            .claim_outbox(
                crate::ClaimId::new(),
                chrono::Utc::now(),
                chrono::Duration::seconds(30),
                10,
            )
            .await
            .expect("the outbox, on the pool's connection");
        let period = crate::domain::activity::Period::new(
            organization.created_at,
            organization.created_at + chrono::Duration::days(1),
        )
        .unwrap();
        store
            .statistics(
                org,
                &[crate::domain::activity::StatsScope::Organization],
                period,
            )
            .await
            .expect("statistics, on the pool's connection");
    }

    /// A member's statistics and the export's per-member join read the member's events
    /// through the per-member index, never a scan of the organization's period (spec:
    /// STAT-2, STAT-4).
    #[tokio::test]
    async fn one_members_events_are_read_through_the_per_member_index() {
        use crate::{
            domain::activity::StatsScope,
            store::sql::{
                MEMBER_ACTIVITY_PAGE, STATS_TOTALS, scope_clip, scope_events, scope_members,
            },
        };
        let store = SqliteStore::in_memory().await.unwrap();
        let member = StatsScope::Member(UserId::new());
        let team = StatsScope::Team(crate::TeamId::new());
        let mut statements =
            vec![STATS_TOTALS.replace("{events}", &scope_events(member, 4, dialect::BY_MEMBER))];
        for scope in [StatsScope::Organization, member, team] {
            statements.push(
                MEMBER_ACTIVITY_PAGE
                    .replace("{scope}", &scope_members(scope, 6))
                    .replace("{clip}", &scope_clip(scope, 6))
                    .replace("{by_member}", dialect::BY_MEMBER),
            );
        }
        for sql in statements {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(store.pool())
                .await
                .unwrap();
            let plan: Vec<String> = rows
                .iter()
                .map(|r| sqlx::Row::get::<String, _>(r, 3))
                .collect();
            let activities: Vec<&String> = plan
                .iter()
                .filter(|step| step.contains("orgroster_activities"))
                .collect();
            assert!(
                !activities.is_empty()
                    && activities.iter().all(|step| step
                        .contains("orgroster_activities_by_user (organization_id=? AND user_id=?")),
                "{plan:#?}"
            );
        }
    }

    /// Closing the store closes its own connection too: the WAL is folded into the file and
    /// removed, and commands afterwards fail instead of reopening a connection.
    #[tokio::test]
    async fn closing_the_store_closes_every_connection() {
        let (store, path) = file_store("close").await;
        found(&store).await.2.unwrap();
        assert!(matches!(*store.home.lock().await, Home::Open { .. }));
        let wal = format!("{}-wal", path.display());
        assert!(std::path::Path::new(&wal).exists());
        store.close().await;
        assert!(
            !std::path::Path::new(&wal).exists(),
            "a connection is still open"
        );
        assert!(found(&store).await.2.is_err());
        let _ = std::fs::remove_file(&path);
    }

    /// The home connection leaves checkpoints to the store, which runs them beside the
    /// commits: a long run of commits starts the WAL over instead of growing it by every
    /// page each commit writes (about 35 MB for these 800 invitations). The bound holds
    /// however slow the disk is, since commits wait for a checkpoint that falls behind.
    #[tokio::test]
    async fn the_wal_is_folded_back_beside_the_commits_and_starts_over() {
        let (store, path) = file_store("ckpt").await;
        let (roster, founder, org) = found(&store).await;
        let org = org.unwrap().id;
        // Members without a team need the legacy capability (and a license).
        roster
            .add_license(org, crate::LicenseKind::PayPerUse)
            .await
            .unwrap();
        let caps = crate::Capabilities {
            coursecloud_legacy: true,
            ..crate::Capabilities::default()
        };
        roster.set_capabilities(org, caps).await.unwrap();
        let mut largest = 0;
        for n in 0..800 {
            let email = EmailAddress::parse(format!("learner{n}@example.com")).unwrap();
            roster
                .invite_member(&founder, org, email, crate::Role::Member, None)
                .await
                .unwrap();
            largest = largest.max(
                std::fs::metadata(format!("{}-wal", path.display()))
                    .unwrap()
                    .len(),
            );
        }
        match &mut *store.home.lock().await {
            Home::Open { conn, .. } => {
                let automatic: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
                assert_eq!(automatic, 0);
            }
            _ => panic!("a database file has a home connection"),
        }
        // An invitation writes 8 to 12 pages; 16 leaves room for B-tree splits. A frame is
        // a page and its 24-byte header, after the WAL's 32-byte header.
        let most = 32 + u64::from(CHECKPOINT_EVERY + CHECKPOINTS_BEHIND) * 16 * (4096 + 24);
        assert!(
            largest <= most,
            "the WAL grew to {largest} bytes, more than {most}"
        );
        store.close().await;
        let _ = std::fs::remove_file(&path);
    }

    /// A database file: commits run on a connection taken out of the pool.
    #[tokio::test]
    async fn a_database_file_gets_a_home_connection() {
        let (store, path) = file_store("home").await;
        assert!(matches!(*store.home.lock().await, Home::Unopened));
        store
            .organization(crate::OrganizationId::new())
            .await
            .unwrap();
        assert!(matches!(*store.home.lock().await, Home::Open { .. }));
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
