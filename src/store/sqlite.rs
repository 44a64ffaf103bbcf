//! `SqliteStore`: the embedded default (feature `sqlite`, bundled SQLite: nothing to install).
//! This file holds its connection setup, its [`Backend`] on sqlx's SQLite driver, and the
//! statements SQLite writes its own way.

mod batch;
mod home;

use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    Row as _, TypeInfo as _, ValueRef as _,
    sqlite::{
        SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
        SqliteRow, SqliteSynchronous,
    },
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{
    StoreError,
    sql::{
        SqlStore, apply_migrations,
        backend::{self, Backend, Row, Statement, Transaction, Value, backend, corrupt, map_error},
        commit_in_transaction,
        plan::Step,
        queries::{ActivityStatements, Dialect, Migration, ScopeStatements, TeamsStatements},
    },
};
use crate::domain::changes::ChangeSet;

/// Keeps the roster in one SQLite database: a file (WAL mode, safe across processes on one
/// machine) or `sqlite::memory:`.
///
/// Writes run in `BEGIN IMMEDIATE` transactions, so that a writer takes SQLite's write lock
/// before it reads anything and two writers never deadlock. Inside the process, writers also
/// take turns on a lock of the store's, so that they queue instead of sleeping in SQLite's
/// busy handler; across processes the busy timeout makes them wait. Foreign keys are on.
/// It needs SQLite 3.47 or later (`unhex`, and a computed message in the commit check's
/// `RAISE`); the bundled SQLite is 3.51.
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
pub type SqliteStore = SqlStore<SqliteBackend>;

/// SQLite under the SQL store.
///
/// For a database file the store opens itself, the commands' short reads and commits run on
/// a connection of their own (see `home`), and only the reads that may take long
/// (statistics, exports) go to the pool. A pool the host gives, and an in-memory database,
/// serve everything from the pool.
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    /// The pool: the host's, or the store's own for the reads that may take long.
    pool: SqlitePool,
    /// Where commands run.
    commands: Commands,
}

/// Where a store's commands run.
#[derive(Debug, Clone)]
enum Commands {
    /// On the connection of their own of a database file the store opened.
    Home(Arc<home::Home>),
    /// On the pool, this process's writers taking turns here rather than in SQLite's busy
    /// handler.
    Pool { writers: Arc<Mutex<()>> },
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url`: `sqlite://path/to/file.db`,
    /// `sqlite:relative.db`, or `sqlite::memory:`. Call [`SqliteStore::migrate`] next.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URL is malformed or the file cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| backend(NAME, e))?;
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
            // What is deleted or rewritten is overwritten with zeros in the file, not left in
            // free space: an erasure leaves no copy behind (spec: USR-5).
            .pragma("secure_delete", "on")
            .busy_timeout(Duration::from_secs(10));
        if memory {
            // An in-memory database lives as long as its connections and is shared through
            // one cache, where SQLite locks whole tables: one connection avoids both
            // surprises, and serves everything.
            let pool = pool_options(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
                .map_err(|e| backend(NAME, e))?;
            return Ok(Self::new(pool));
        }
        let pool = pool_options(8)
            .connect_with(options.clone())
            .await
            .map_err(|e| backend(NAME, e))?;
        let home = home::Home::new(options);
        // Opened now, so that a file that cannot be opened fails here.
        drop(home.lend().await?);
        Ok(Self::from_backend(SqliteBackend {
            pool,
            commands: Commands::Home(Arc::new(home)),
        }))
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

    /// Wraps a pool the host built, used as it is. Enable foreign keys on it
    /// (`foreign_keys(true)`, the default of `SqliteConnectOptions`) and a busy timeout, and
    /// `pragma("secure_delete", "on")` so that an erasure leaves no copy of what it erased in
    /// the file's free space (spec: USR-5).
    pub fn new(pool: SqlitePool) -> Self {
        Self::from_backend(SqliteBackend {
            pool,
            commands: Commands::Pool {
                writers: Arc::default(),
            },
        })
    }

    /// The pool, for hosts that share it. For a database file the store opened, its commands
    /// run on a connection of their own besides (see [`SqliteStore::close`]).
    pub fn pool(&self) -> &SqlitePool {
        &self.backend().pool
    }

    /// Closes every connection of the store after the commands under way: for a clean
    /// shutdown (the last connection to a file folds the WAL into the database and removes
    /// it). Commands afterwards fail with a store error.
    pub async fn close(&self) {
        let backend = self.backend();
        if let Commands::Home(home) = &backend.commands {
            home.close().await;
        }
        backend.pool.close().await;
    }

    /// Applies the embedded migrations that have not run yet, in order, each in its own
    /// transaction, so running it twice, or from two processes at once, is safe.
    /// Bookkeeping lives in orgroster's own `_orgroster_migrations` table, never in the
    /// host's `_sqlx_migrations`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database fails or an applied migration was edited
    /// afterwards (its checksum differs).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        apply_migrations(self.backend()).await
    }
}

/// The store's name, in errors.
const NAME: &str = "sqlite";

/// The options of the pools the store makes, of at most `max` connections.
fn pool_options(max: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        // An embedded database cannot drop a connection behind the pool's back: the liveness
        // ping sqlx sends before handing out a connection would only cost a hop to the
        // connection's worker thread on every read and commit.
        .test_before_acquire(false)
        .max_connections(max)
        .idle_timeout(Some(Duration::from_secs(600)))
        .max_lifetime(Some(Duration::from_secs(3600)))
}

fn err(e: sqlx::Error) -> StoreError {
    map_error(NAME, e)
}

/// A statement as sqlx runs it.
fn query(statement: Statement) -> sqlx::query::Query<'static, sqlx::Sqlite, SqliteArguments> {
    backend::query(statement)
}

/// A row as SQLite typed its values.
fn row(r: &SqliteRow) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(r.len());
    for i in 0..r.len() {
        let raw = r.try_get_raw(i).map_err(err)?;
        if raw.is_null() {
            values.push(Value::Null);
            continue;
        }
        // The value's own type: SQLite types values, not columns.
        values.push(match raw.type_info().name() {
            "INTEGER" => Value::Int(r.try_get_unchecked(i).map_err(err)?),
            "TEXT" => Value::Text(r.try_get_unchecked(i).map_err(err)?),
            "BLOB" => Value::Bytes(r.try_get_unchecked(i).map_err(err)?),
            other => return Err(corrupt(NAME, format!("a value of type {other}"))),
        });
    }
    Ok(Row(values))
}

fn rows(rows: &[SqliteRow]) -> Result<Vec<Row>, StoreError> {
    rows.iter().map(row).collect()
}

#[async_trait::async_trait]
impl Backend for SqliteBackend {
    const NAME: &'static str = NAME;
    const NUMBERED_PARAMS: bool = false;
    const SQL: Dialect = SQLITE;
    type Tx = SqliteTransaction;

    async fn read(&self, statement: Statement) -> Result<Vec<Row>, StoreError> {
        let home = match &self.commands {
            Commands::Home(home) => home.lend_if_free().await.transpose()?,
            Commands::Pool { .. } => None,
        };
        let found = match home {
            Some(mut lent) => query(statement).fetch_all(lent.conn()?).await,
            None => query(statement).fetch_all(&self.pool).await,
        }
        .map_err(err)?;
        rows(&found)
    }

    async fn read_all(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(err)?;
        let mut results = Vec::with_capacity(statements.len());
        for statement in statements {
            results.push(rows(
                &query(statement).fetch_all(&mut *conn).await.map_err(err)?,
            )?);
        }
        Ok(results)
    }

    async fn begin(&self) -> Result<SqliteTransaction, StoreError> {
        match &self.commands {
            Commands::Home(home) => {
                let mut lent = home.lend().await?;
                lent.begin().await?;
                Ok(SqliteTransaction::Home(lent))
            }
            Commands::Pool { writers } => {
                let turn = Arc::clone(writers).lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)?;
                Ok(SqliteTransaction::Pool { tx, _turn: turn })
            }
        }
    }

    /// In one call when it can (see [`batch`]), else step by step. After an erasure, the
    /// write-ahead log is folded into the database and emptied, so that no copy of what was
    /// erased stays in it (spec: USR-5). The commit stands whatever the checkpoint does: one
    /// that fails, or finds a reader still holding an older snapshot past the busy timeout,
    /// leaves the log to SQLite's next checkpoint.
    async fn commit(&self, changes: &ChangeSet, steps: Vec<Step>) -> Result<(), StoreError> {
        self.apply(steps).await?;
        if changes.erases() {
            // Best effort, by design: the change is committed, and a command that failed now
            // would be retried against a store that already holds it.
            let _ = self.empty_the_log().await;
        }
        Ok(())
    }
}

impl SqliteBackend {
    /// Folds the write-ahead log into the database and truncates it to nothing, waiting for
    /// readers through the busy timeout. A file the store did not open in WAL mode has no
    /// log: then this does nothing.
    async fn empty_the_log(&self) -> Result<(), StoreError> {
        const CHECKPOINT: &str = "PRAGMA wal_checkpoint(TRUNCATE)";
        match &self.commands {
            Commands::Home(home) => {
                let mut lent = home.lend().await?;
                sqlx::query(CHECKPOINT)
                    .execute(lent.conn()?)
                    .await
                    .map_err(err)?;
            }
            Commands::Pool { .. } => {
                sqlx::query(CHECKPOINT)
                    .execute(&self.pool)
                    .await
                    .map_err(err)?;
            }
        }
        Ok(())
    }

    /// Applies a commit's steps: in one call when it can (see [`batch`]), else step by step.
    async fn apply(&self, steps: Vec<Step>) -> Result<(), StoreError> {
        let batch = match batch::Batch::of(steps) {
            Ok(batch) => batch,
            Err(steps) => return commit_in_transaction(self, steps).await,
        };
        match &self.commands {
            Commands::Home(home) => {
                let mut lent = home.lend().await?;
                lent.set_open(true);
                let result = batch.run(lent.conn()?).await;
                lent.set_open(matches!(&result, Err(failed) if !failed.ended));
                result.map_err(|failed| failed.error)
            }
            Commands::Pool { writers } => {
                let _turn = writers.lock().await;
                let mut conn = self.pool.acquire().await.map_err(err)?;
                match batch.run(&mut conn).await {
                    Ok(()) => Ok(()),
                    Err(failed) => {
                        if !failed.ended {
                            // It may hold the batch's transaction open: not for anyone else.
                            conn.close_on_drop();
                        }
                        Err(failed.error)
                    }
                }
            }
        }
    }
}

/// A write transaction: on the home connection, or on a pool connection holding this
/// process's writers' turn until it ends.
#[derive(Debug)]
pub(crate) enum SqliteTransaction {
    Home(home::Lent),
    Pool {
        tx: sqlx::Transaction<'static, sqlx::Sqlite>,
        _turn: OwnedMutexGuard<()>,
    },
}

impl SqliteTransaction {
    fn conn(&mut self) -> Result<&mut sqlx::SqliteConnection, StoreError> {
        match self {
            Self::Home(lent) => lent.conn(),
            Self::Pool { tx, .. } => Ok(&mut *tx),
        }
    }
}

#[async_trait::async_trait]
impl Transaction for SqliteTransaction {
    async fn execute(&mut self, statement: Statement) -> Result<u64, StoreError> {
        let done = query(statement).execute(self.conn()?).await.map_err(err)?;
        Ok(done.rows_affected())
    }

    async fn fetch(&mut self, statement: Statement) -> Result<Vec<Row>, StoreError> {
        rows(
            &query(statement)
                .fetch_all(self.conn()?)
                .await
                .map_err(err)?,
        )
    }

    async fn execute_script(&mut self, sql: &'static str) -> Result<(), StoreError> {
        sqlx::raw_sql(sql)
            .execute(self.conn()?)
            .await
            .map_err(err)
            .map(drop)
    }

    async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Home(mut lent) => lent.commit().await,
            Self::Pool { tx, .. } => tx.commit().await.map_err(err),
        }
    }
}

/// The statements where SQLite differs from PostgreSQL.
const SQLITE: Dialect = Dialect {
    invitation_context: INVITATION_CONTEXT,
    users_not_members: USERS_NOT_MEMBERS,
    claim_outbox: CLAIM_OUTBOX,
    member_statistics: ScopeStatements {
        totals: MEMBER_TOTALS,
        courses: MEMBER_COURSES,
        weeks: MEMBER_WEEKS,
    },
    team_statistics: ScopeStatements {
        totals: TEAM_TOTALS,
        courses: TEAM_COURSES,
        weeks: TEAM_WEEKS,
    },
    teams_statistics: TeamsStatements {
        totals: TEAMS_TOTALS,
        members: TEAMS_MEMBERS,
        invited: TEAMS_INVITED,
        courses: TEAMS_COURSES,
        weeks: TEAMS_WEEKS,
    },
    member_activity: ActivityStatements {
        organization: ORGANIZATION_ACTIVITY,
        team: TEAM_ACTIVITY,
        member: MEMBER_ACTIVITY,
    },
    // `BEGIN IMMEDIATE` already excludes other writers.
    migration_lock: None,
    migrations: MIGRATIONS,
};

/// Applied migrations are checksummed: never edit one, add the next.
const MIGRATIONS: &[Migration] = &[(
    1,
    "initial",
    include_str!("../../migrations/sqlite/0001_initial.sql"),
)];

// One member's events, and a team's (member by member), are read through the per-member
// index, named: without `ANALYZE` statistics SQLite prefers the covering time index, which
// scans the whole organization's period for one member (spec: STAT-2, STAT-4).

/// See [`Dialect::invitation_context`]. Each address probes the unique indexes of members and
/// pending invitations (at most one pending per address: a partial unique index).
pub(super) const INVITATION_CONTEXT: &str = "SELECT o.id, o.name, o.licenses, o.capabilities, o.seat_cap, o.created_at, o.version, \
     m.id, m.organization_id, m.user_id, m.email, m.first_name, m.last_name, m.roles, \
     m.joined_at, m.invitation_id, m.deactivated_at, m.metadata, m.version, k.value, EXISTS (SELECT 1 FROM \
     orgroster_members AS mm WHERE mm.organization_id = $1 AND mm.email_key = k.value), \
     i.id, i.organization_id, i.email, i.invitee_first_name, i.invitee_last_name, i.role, \
     i.team_id, i.status, i.token_hash, i.invited_by, i.created_at, i.sent_at, i.expires_at, \
     i.resend_count, i.closed_at, i.closed_by, i.lifetime, i.metadata, i.version, CASE WHEN o.seat_cap IS NOT NULL \
     THEN (SELECT COUNT(*) FROM orgroster_members WHERE organization_id = $1 AND \
     deactivated_at IS NULL) ELSE 0 END, \
     CASE WHEN o.seat_cap IS NOT NULL THEN (SELECT COUNT(*) FROM orgroster_invitations WHERE \
     organization_id = $1 AND status = 'pending' AND expires_at > $3) ELSE 0 END FROM \
     orgroster_organizations AS o LEFT JOIN orgroster_members AS m ON m.organization_id = \
     o.id AND m.user_id = $4 LEFT JOIN (SELECT DISTINCT value FROM json_each($2)) AS k ON 1 \
     LEFT JOIN orgroster_invitations AS i ON i.organization_id = $1 AND i.status = 'pending' \
     AND i.email_key = k.value WHERE o.id = $1";
/// See [`Dialect::users_not_members`]: writers are serialized (`BEGIN IMMEDIATE`), so no
/// removal comes before the transaction ends. User ids travel as hex (blobs cannot be JSON).
const USERS_NOT_MEMBERS: &str = "SELECT DISTINCT value FROM json_each($2) WHERE NOT EXISTS (SELECT 1 FROM \
     orgroster_members WHERE organization_id = $1 AND user_id = unhex(value))";
/// See [`Dialect::claim_outbox`]. One `UPDATE … RETURNING` by serialized writers: no row is
/// handed out twice while its lease runs. Taken in turns across organizations (spec: MSG-3).
const CLAIM_OUTBOX: &str = "UPDATE orgroster_outbox SET lease_until = $1, claim = $4, attempts = attempts + 1 WHERE \
     id IN (SELECT id FROM (SELECT id, due_at, ROW_NUMBER() OVER (PARTITION BY \
     organization_id ORDER BY due_at, id) AS turn FROM orgroster_outbox WHERE status = \
     'pending' AND due_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)) ORDER BY \
     turn, due_at, id LIMIT $3) RETURNING id, organization_id, recipient, content, status, \
     attempts, created_at, due_at, lease_until, last_error";
/// See [`ScopeStatements::totals`]. A member's events are read through the per-member index: without `ANALYZE`
/// statistics SQLite prefers the covering time index, which scans the whole organization's
/// period for one member (spec: STAT-2).
pub(super) const MEMBER_TOTALS: &str = "SELECT COUNT(DISTINCT user_id), CAST(COALESCE(SUM(CASE WHEN kind = 'enrolled' THEN 1 \
     ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE \
     0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'certificate' THEN 1 ELSE 0 \
     END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 \
     END), 0) AS BIGINT), (SELECT COUNT(*) FROM orgroster_members WHERE organization_id = $1 \
     AND user_id = $4 AND joined_at < $3 AND $2 < $3), (SELECT COUNT(*) FROM \
     orgroster_invitations WHERE organization_id = $1 AND created_at >= $2 AND created_at < \
     $3 AND email_key = (SELECT email_key FROM orgroster_members WHERE organization_id = $1 \
     AND user_id = $4)) FROM (SELECT user_id, course, kind, value, at FROM \
     orgroster_activities INDEXED BY orgroster_activities_by_user WHERE organization_id = $1 \
     AND user_id = $4 AND at >= $2 AND at < $3) AS e";
/// See [`ScopeStatements::courses`].
const MEMBER_COURSES: &str = "SELECT course, COUNT(DISTINCT user_id) FROM (SELECT user_id, course, kind, value, at \
     FROM orgroster_activities INDEXED BY orgroster_activities_by_user WHERE organization_id \
     = $1 AND user_id = $4 AND at >= $2 AND at < $3) AS e GROUP BY course";
/// See [`ScopeStatements::weeks`].
const MEMBER_WEEKS: &str = "SELECT w, COUNT(DISTINCT user_id), CAST(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 \
     END) AS BIGINT), CAST(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 END) AS \
     BIGINT) FROM (SELECT user_id, kind, value, (at - 345600000000) / 604800000000 - CASE \
     WHEN at < 345600000000 AND (at - 345600000000) % 604800000000 <> 0 THEN 1 ELSE 0 END AS \
     w FROM (SELECT user_id, course, kind, value, at FROM orgroster_activities INDEXED BY \
     orgroster_activities_by_user WHERE organization_id = $1 AND user_id = $4 AND at >= $2 \
     AND at < $3) AS e) AS weeks GROUP BY w ORDER BY w";
/// See [`ScopeStatements::totals`]. A team's events are read member by member, within each of their stints,
/// through the per-member index (spec: TEAM-4): never in proportion to the rest of the
/// organization's activity.
const TEAM_TOTALS: &str = "SELECT COUNT(DISTINCT user_id), CAST(COALESCE(SUM(CASE WHEN kind = 'enrolled' THEN 1 \
     ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE \
     0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'certificate' THEN 1 ELSE 0 \
     END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 \
     END), 0) AS BIGINT), (SELECT COUNT(DISTINCT user_id) FROM orgroster_team_stints WHERE \
     organization_id = $1 AND team_id = $4 AND joined_at < $3 AND (left_at IS NULL OR \
     (left_at > $2 AND left_at > joined_at))), (SELECT COUNT(*) FROM orgroster_invitations \
     WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 AND team_id = $4) \
     FROM (SELECT a.user_id, a.course, a.kind, a.value, a.at FROM orgroster_team_stints AS s \
     CROSS JOIN orgroster_activities AS a INDEXED BY orgroster_activities_by_user WHERE \
     s.organization_id = $1 AND s.team_id = $4 AND s.joined_at < $3 AND (s.left_at IS NULL \
     OR s.left_at > $2) AND a.organization_id = $1 AND a.user_id = s.user_id AND a.at >= $2 \
     AND a.at < $3 AND a.at >= s.joined_at AND (s.left_at IS NULL OR a.at < s.left_at)) AS e";
/// See [`ScopeStatements::courses`].
const TEAM_COURSES: &str = "SELECT course, COUNT(DISTINCT user_id) FROM (SELECT a.user_id, a.course, a.kind, \
     a.value, a.at FROM orgroster_team_stints AS s CROSS JOIN orgroster_activities AS a \
     INDEXED BY orgroster_activities_by_user WHERE s.organization_id = $1 AND s.team_id = $4 \
     AND s.joined_at < $3 AND (s.left_at IS NULL OR s.left_at > $2) AND a.organization_id = \
     $1 AND a.user_id = s.user_id AND a.at >= $2 AND a.at < $3 AND a.at >= s.joined_at AND \
     (s.left_at IS NULL OR a.at < s.left_at)) AS e GROUP BY course";
/// See [`ScopeStatements::weeks`].
const TEAM_WEEKS: &str = "SELECT w, COUNT(DISTINCT user_id), CAST(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 \
     END) AS BIGINT), CAST(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 END) AS \
     BIGINT) FROM (SELECT user_id, kind, value, (at - 345600000000) / 604800000000 - CASE \
     WHEN at < 345600000000 AND (at - 345600000000) % 604800000000 <> 0 THEN 1 ELSE 0 END AS \
     w FROM (SELECT a.user_id, a.course, a.kind, a.value, a.at FROM orgroster_team_stints AS \
     s CROSS JOIN orgroster_activities AS a INDEXED BY orgroster_activities_by_user WHERE \
     s.organization_id = $1 AND s.team_id = $4 AND s.joined_at < $3 AND (s.left_at IS NULL \
     OR s.left_at > $2) AND a.organization_id = $1 AND a.user_id = s.user_id AND a.at >= $2 \
     AND a.at < $3 AND a.at >= s.joined_at AND (s.left_at IS NULL OR a.at < s.left_at)) AS \
     e) AS weeks GROUP BY w ORDER BY w";
/// See [`TeamsStatements::totals`]. One scan of the period's events, each looking its member's stints up by
/// `(organization_id, user_id)`; `CROSS JOIN` keeps that order on SQLite, whose planner
/// assumes few rows without `ANALYZE` statistics. A member's stints in one team never
/// overlap, so an event meets at most one stint per team.
const TEAMS_TOTALS: &str = "SELECT s.team_id, COUNT(DISTINCT u.user_id), CAST(COALESCE(SUM(CASE WHEN u.kind = \
     'enrolled' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN u.kind = \
     'completed' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN u.kind = \
     'certificate' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN u.kind = \
     'time_spent' THEN u.value ELSE 0 END), 0) AS BIGINT) FROM (SELECT user_id, kind, value, \
     at FROM orgroster_activities WHERE organization_id = $1 AND at >= $2 AND at < $3) AS u \
     CROSS JOIN orgroster_team_stints AS s WHERE s.organization_id = $1 AND s.user_id = \
     u.user_id AND s.joined_at <= u.at AND (s.left_at IS NULL OR s.left_at > u.at) AND \
     s.team_id IN (SELECT unhex(value) FROM json_each($4)) GROUP BY s.team_id";
/// See [`TeamsStatements::members`].
const TEAMS_MEMBERS: &str = "SELECT team_id, COUNT(DISTINCT user_id) FROM orgroster_team_stints WHERE \
     organization_id = $1 AND joined_at < $3 AND (left_at IS NULL OR (left_at > $2 AND \
     left_at > joined_at)) AND team_id IN (SELECT unhex(value) FROM json_each($4)) GROUP BY \
     team_id";
/// See [`TeamsStatements::invited`].
const TEAMS_INVITED: &str = "SELECT team_id, COUNT(*) FROM orgroster_invitations WHERE organization_id = $1 AND \
     created_at >= $2 AND created_at < $3 AND team_id IN (SELECT unhex(value) FROM \
     json_each($4)) GROUP BY team_id";
/// See [`TeamsStatements::courses`].
const TEAMS_COURSES: &str = "SELECT s.team_id, u.course, COUNT(DISTINCT u.user_id) FROM (SELECT user_id, course, at \
     FROM orgroster_activities WHERE organization_id = $1 AND at >= $2 AND at < $3) AS u \
     CROSS JOIN orgroster_team_stints AS s WHERE s.organization_id = $1 AND s.user_id = \
     u.user_id AND s.joined_at <= u.at AND (s.left_at IS NULL OR s.left_at > u.at) AND \
     s.team_id IN (SELECT unhex(value) FROM json_each($4)) GROUP BY s.team_id, u.course";
/// See [`TeamsStatements::weeks`].
const TEAMS_WEEKS: &str = "SELECT s.team_id, u.w, COUNT(DISTINCT u.user_id), CAST(SUM(CASE WHEN u.kind = \
     'completed' THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN u.kind = 'time_spent' \
     THEN u.value ELSE 0 END) AS BIGINT) FROM (SELECT user_id, kind, value, at, (at - \
     345600000000) / 604800000000 - CASE WHEN at < 345600000000 AND (at - 345600000000) % \
     604800000000 <> 0 THEN 1 ELSE 0 END AS w FROM orgroster_activities WHERE \
     organization_id = $1 AND at >= $2 AND at < $3) AS u CROSS JOIN orgroster_team_stints AS \
     s WHERE s.organization_id = $1 AND s.user_id = u.user_id AND s.joined_at <= u.at AND \
     (s.left_at IS NULL OR s.left_at > u.at) AND s.team_id IN (SELECT unhex(value) FROM \
     json_each($4)) GROUP BY s.team_id, u.w";
/// See [`ActivityStatements`].
pub(super) const ORGANIZATION_ACTIVITY: &str = "WITH page AS (SELECT id, user_id, email, first_name, last_name FROM orgroster_members \
     WHERE organization_id = $1 AND id > $4 ORDER BY id LIMIT $5) SELECT p.id, p.user_id, \
     p.email, p.first_name, p.last_name, CAST(COALESCE(SUM(CASE WHEN a.kind = 'enrolled' \
     THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = 'completed' \
     THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = 'certificate' \
     THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = 'time_spent' \
     THEN a.value ELSE 0 END), 0) AS BIGINT), MAX(a.at) FROM page AS p LEFT JOIN \
     orgroster_activities AS a INDEXED BY orgroster_activities_by_user ON a.organization_id \
     = $1 AND a.user_id = p.user_id AND a.at >= $2 AND a.at < $3 GROUP BY p.id, p.user_id, \
     p.email, p.first_name, p.last_name ORDER BY p.id";
/// See [`ActivityStatements`].
pub(super) const TEAM_ACTIVITY: &str = "WITH page AS (SELECT id, user_id, email, first_name, last_name FROM orgroster_members \
     WHERE organization_id = $1 AND id > $4 AND user_id IN (SELECT user_id FROM \
     orgroster_team_stints WHERE organization_id = $1 AND team_id = $6 AND joined_at < $3 \
     AND (left_at IS NULL OR (left_at > $2 AND left_at > joined_at))) ORDER BY id LIMIT $5) \
     SELECT p.id, p.user_id, p.email, p.first_name, p.last_name, CAST(COALESCE(SUM(CASE WHEN \
     a.kind = 'enrolled' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN \
     a.kind = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN \
     a.kind = 'certificate' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN \
     a.kind = 'time_spent' THEN a.value ELSE 0 END), 0) AS BIGINT), MAX(a.at) FROM page AS p \
     LEFT JOIN orgroster_activities AS a INDEXED BY orgroster_activities_by_user ON \
     a.organization_id = $1 AND a.user_id = p.user_id AND a.at >= $2 AND a.at < $3 AND \
     EXISTS (SELECT 1 FROM orgroster_team_stints AS s WHERE s.organization_id = $1 AND \
     s.team_id = $6 AND s.user_id = a.user_id AND s.joined_at <= a.at AND (s.left_at IS NULL \
     OR s.left_at > a.at)) GROUP BY p.id, p.user_id, p.email, p.first_name, p.last_name \
     ORDER BY p.id";
/// See [`ActivityStatements`].
pub(super) const MEMBER_ACTIVITY: &str = "WITH page AS (SELECT id, user_id, email, first_name, last_name FROM orgroster_members \
     WHERE organization_id = $1 AND id > $4 AND user_id = $6 ORDER BY id LIMIT $5) SELECT \
     p.id, p.user_id, p.email, p.first_name, p.last_name, CAST(COALESCE(SUM(CASE WHEN a.kind \
     = 'enrolled' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = \
     'completed' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = \
     'certificate' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = \
     'time_spent' THEN a.value ELSE 0 END), 0) AS BIGINT), MAX(a.at) FROM page AS p LEFT \
     JOIN orgroster_activities AS a INDEXED BY orgroster_activities_by_user ON \
     a.organization_id = $1 AND a.user_id = p.user_id AND a.at >= $2 AND a.at < $3 GROUP BY \
     p.id, p.user_id, p.email, p.first_name, p.last_name ORDER BY p.id";

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
        let store = SqliteStore::in_memory().await.unwrap();
        let statements = [
            MEMBER_TOTALS,
            ORGANIZATION_ACTIVITY,
            MEMBER_ACTIVITY,
            TEAM_ACTIVITY,
        ];
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

    /// The invitee's inbox is one range of its partial index, whatever the number of
    /// invitations (spec: INV-15).
    #[tokio::test]
    async fn the_inbox_is_read_through_its_partial_index() {
        let store = SqliteStore::in_memory().await.unwrap();
        let sql = crate::store::sql::queries::INBOX_PAGE;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(store.pool())
            .await
            .unwrap();
        let plan: Vec<String> = rows
            .iter()
            .map(|r| sqlx::Row::get::<String, _>(r, 3))
            .collect();
        assert!(
            plan.iter().any(|step| step
                .contains("USING INDEX orgroster_invitations_inbox (email_key=? AND id>?)")),
            "{plan:#?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:#?}"
        );
    }

    /// Closing the store closes every connection: the WAL is folded into the file and
    /// removed, and commands afterwards fail instead of reopening a connection.
    #[tokio::test]
    async fn closing_the_store_closes_every_connection() {
        let (store, path) = file_store("close").await;
        found(&store).await.2.unwrap();
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

    /// A long run of commits starts the WAL over instead of growing it by every page each
    /// commit writes (about 35 MB for these 800 invitations): SQLite's own checkpoints fold
    /// it back into the database file.
    #[tokio::test]
    async fn the_wal_is_folded_back_and_starts_over() {
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
        // At most 320 commits' worth of frames: an invitation writes 8 to 12 pages, 16 leave
        // room for B-tree splits. A frame is a page and its 24-byte header, after the WAL's
        // 32-byte header. (SQLite checkpoints once the WAL holds 1,000 pages.)
        let most = 32 + 320 * 16 * (4096 + 24);
        assert!(
            largest <= most,
            "the WAL grew to {largest} bytes, more than {most}"
        );
        store.close().await;
        let _ = std::fs::remove_file(&path);
    }
}
