//! `PostgresStore`: several service instances sharing one database (feature `postgres`).
//! This file holds its connection setup, its [`Backend`] on sqlx's PostgreSQL driver, and the
//! statements PostgreSQL writes its own way.

mod one_statement;

use std::time::Duration;

use sqlx::{
    Column as _, Row as _, TypeInfo as _, ValueRef as _,
    postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow},
};

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

/// Keeps the roster in PostgreSQL, so that any number of service instances can share it.
///
/// Every commit is one transaction at READ COMMITTED: each write checks the version it was
/// decided on, unique rules are database constraints, and the outbox is claimed with
/// `FOR UPDATE SKIP LOCKED`, so instances never send the same mail at once. Tables carry the
/// `orgroster_` prefix; migrations are tracked in `_orgroster_migrations`. The pool is used
/// as sqlx hands it out.
///
/// TLS is not compiled in: on anything but a trusted network, enable one of sqlx's TLS
/// features in your own `Cargo.toml` (Cargo unifies features) and use `sslmode=require`.
///
/// # Examples
/// ```no_run
/// use orgroster::{PostgresStore, LinkKey, RecordingMailer, Roster};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::connect("postgres://app@db.internal/app").await?;
/// store.migrate().await?;
/// // The host keeps the key that invitation links derive from in its secret store.
/// let link_key = LinkKey::from_base64(&std::env::var("ROSTER_LINK_KEY")?)?;
/// let roster = Roster::builder(store, RecordingMailer::new(), link_key).build();
/// # Ok(()) }
/// ```
pub type PostgresStore = SqlStore<PostgresBackend>;

/// PostgreSQL under the SQL store: a pool.
#[derive(Debug, Clone)]
pub struct PostgresBackend {
    pool: PgPool,
}

/// How long after its last use a connection is handed out unchecked.
const RECENT: Duration = Duration::from_secs(1);

/// The options of the pools the store makes itself. sqlx checks every connection with a
/// round trip before handing it out, unless told otherwise; here only those idle for
/// [`RECENT`] or longer are checked (as sqlx's documentation of `before_acquire` shows): a
/// connection just given back was checked then, by sqlx, and is in use again at once while
/// the store is busy.
fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(16)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= RECENT {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`). Call [`PostgresStore::migrate`] next.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URL is malformed or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = pool_options()
            .connect(url)
            .await
            .map_err(|e| backend(NAME, e))?;
        Ok(Self::new(pool))
    }

    /// Connects with options the host built, for example to set a `search_path` so that
    /// orgroster's tables live in their own schema.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the server cannot be reached.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = pool_options()
            .connect_with(options)
            .await
            .map_err(|e| backend(NAME, e))?;
        Ok(Self::new(pool))
    }

    /// Wraps a pool the host built, used as it is.
    pub fn new(pool: PgPool) -> Self {
        Self::from_backend(PostgresBackend { pool })
    }

    /// The pool, for hosts that share it.
    pub fn pool(&self) -> &PgPool {
        &self.backend().pool
    }

    /// Closes the pool's connections after the commands under way: for a clean shutdown.
    /// Commands afterwards fail with a store error.
    pub async fn close(&self) {
        self.backend().pool.close().await;
    }

    /// Applies the embedded migrations that have not run yet, in order, each in its own
    /// transaction under an advisory lock, so running it twice, or from two processes at
    /// once, is safe. Bookkeeping lives in orgroster's own `_orgroster_migrations` table,
    /// never in the host's `_sqlx_migrations`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database fails or an applied migration was edited
    /// afterwards (its checksum differs).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        apply_migrations(self.backend()).await
    }
}

/// The store's name, in errors.
const NAME: &str = "postgres";

fn err(e: sqlx::Error) -> StoreError {
    map_error(NAME, e)
}

/// A statement as sqlx runs it.
fn query(statement: Statement) -> sqlx::query::Query<'static, sqlx::Postgres, PgArguments> {
    backend::query(statement)
}

/// A row as PostgreSQL typed its columns.
fn row(r: &PgRow) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(r.columns().len());
    for (i, column) in r.columns().iter().enumerate() {
        if r.try_get_raw(i).map_err(err)?.is_null() {
            values.push(Value::Null);
            continue;
        }
        values.push(match column.type_info().name() {
            "UUID" => Value::Uuid(r.try_get(i).map_err(err)?),
            "INT8" => Value::Int(r.try_get(i).map_err(err)?),
            "INT4" => Value::Int(i64::from(r.try_get::<i32, _>(i).map_err(err)?)),
            "INT2" => Value::Int(i64::from(r.try_get::<i16, _>(i).map_err(err)?)),
            "BOOL" => Value::Bool(r.try_get(i).map_err(err)?),
            "TEXT" | "VARCHAR" => Value::Text(r.try_get(i).map_err(err)?),
            "BYTEA" => Value::Bytes(r.try_get(i).map_err(err)?),
            other => return Err(corrupt(NAME, format!("a column of type {other}"))),
        });
    }
    Ok(Row(values))
}

fn rows(rows: &[PgRow]) -> Result<Vec<Row>, StoreError> {
    rows.iter().map(row).collect()
}

#[async_trait::async_trait]
impl Backend for PostgresBackend {
    const NAME: &'static str = NAME;
    const NUMBERED_PARAMS: bool = true;
    const SQL: Dialect = POSTGRES;
    type Tx = PostgresTransaction;

    async fn read(&self, statement: Statement) -> Result<Vec<Row>, StoreError> {
        rows(&query(statement).fetch_all(&self.pool).await.map_err(err)?)
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

    async fn begin(&self) -> Result<PostgresTransaction, StoreError> {
        let tx = self.pool.begin().await.map_err(err)?;
        Ok(PostgresTransaction { tx })
    }

    /// As one statement when it can (see [`one_statement`]), else in a transaction.
    async fn commit(&self, changes: &ChangeSet, steps: Vec<Step>) -> Result<(), StoreError> {
        let (statement, checks) = match one_statement::fuse(changes, steps) {
            Ok(fused) => fused,
            Err(steps) => return commit_in_transaction(self, steps).await,
        };
        match query(statement).execute(&self.pool).await {
            Ok(_) => Ok(()),
            Err(e) => Err(e
                .as_database_error()
                .and_then(|db| checks.failed_check(db.code().as_deref(), db.message()))
                .unwrap_or_else(|| err(e))),
        }
    }
}

/// A transaction on one pool connection.
#[derive(Debug)]
pub(crate) struct PostgresTransaction {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
}

#[async_trait::async_trait]
impl Transaction for PostgresTransaction {
    async fn execute(&mut self, statement: Statement) -> Result<u64, StoreError> {
        let done = query(statement).execute(&mut *self.tx).await.map_err(err)?;
        Ok(done.rows_affected())
    }

    async fn fetch(&mut self, statement: Statement) -> Result<Vec<Row>, StoreError> {
        rows(
            &query(statement)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(err)?,
        )
    }

    async fn execute_script(&mut self, sql: &'static str) -> Result<(), StoreError> {
        sqlx::raw_sql(sql)
            .execute(&mut *self.tx)
            .await
            .map_err(err)
            .map(drop)
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(err)
    }
}

/// The statements where PostgreSQL differs from SQLite.
const POSTGRES: Dialect = Dialect {
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
    migration_lock: Some(MIGRATION_LOCK),
    migrations: MIGRATIONS,
};

/// Serializes migrating processes for the length of the migration's transaction.
const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7306394815522617713)";

/// Applied migrations are checksummed: never edit one, add the next.
const MIGRATIONS: &[Migration] = &[(
    1,
    "initial",
    include_str!("../../migrations/postgres/0001_initial.sql"),
)];

/// See [`Dialect::invitation_context`]. Each address probes the unique indexes of members and
/// pending invitations, whatever the planner believes about the tables: as `key IN (SELECT …)`
/// or `EXISTS` it could plan, on stale statistics (a table right after a bulk insert, before
/// autoanalyze), a scan or a hash of every row of the organization per invitation. `LIMIT 1`
/// keeps each lateral subquery from being pulled up into a join the planner could reorder;
/// each key matches at most one row anyway (a unique index).
pub(super) const INVITATION_CONTEXT: &str = "SELECT o.id, o.name, o.licenses, o.capabilities, o.seat_cap, o.created_at, o.version, \
     m.id, m.organization_id, m.user_id, m.email, m.first_name, m.last_name, m.roles, \
     m.joined_at, m.invitation_id, m.deactivated_at, m.metadata, m.version, k.email_key, mm.hit IS NOT NULL, i.id, \
     i.organization_id, i.email, i.invitee_first_name, i.invitee_last_name, i.role, \
     i.team_id, i.status, i.token_hash, i.invited_by, i.created_at, i.sent_at, i.expires_at, \
     i.resend_count, i.closed_at, i.closed_by, i.lifetime, i.metadata, i.version, CASE WHEN o.seat_cap IS NOT NULL \
     THEN (SELECT COUNT(*) FROM orgroster_members WHERE organization_id = $1 AND \
     deactivated_at IS NULL) ELSE 0 END, \
     CASE WHEN o.seat_cap IS NOT NULL THEN (SELECT COUNT(*) FROM orgroster_invitations WHERE \
     organization_id = $1 AND status = 'pending' AND expires_at > $3) ELSE 0 END FROM \
     orgroster_organizations AS o LEFT JOIN orgroster_members AS m ON m.organization_id = \
     o.id AND m.user_id = $4 LEFT JOIN (SELECT DISTINCT jsonb_array_elements_text($2::jsonb) \
     AS email_key) AS k ON true LEFT JOIN LATERAL (SELECT 1 AS hit FROM orgroster_members AS \
     t WHERE t.organization_id = $1 AND t.email_key = k.email_key LIMIT 1) AS mm ON true \
     LEFT JOIN LATERAL (SELECT id, organization_id, email, invitee_first_name, \
     invitee_last_name, role, team_id, status, token_hash, invited_by, created_at, sent_at, \
     expires_at, resend_count, closed_at, closed_by, lifetime, metadata, version FROM orgroster_invitations AS t \
     WHERE t.organization_id = $1 AND t.status = 'pending' AND t.email_key = k.email_key \
     LIMIT 1) AS i ON true WHERE o.id = $1";
/// See [`Dialect::users_not_members`]. The members found are locked against removal (`FOR KEY
/// SHARE`, which a role change does not wait for) until the transaction ends. A lateral probe
/// with `LIMIT 1` rather than `NOT EXISTS`, which the planner may turn into a hash of every
/// member of the organization.
const USERS_NOT_MEMBERS: &str = "SELECT k.user_id::text FROM (SELECT DISTINCT jsonb_array_elements_text($2::jsonb)::uuid \
     AS user_id) AS k LEFT JOIN LATERAL (SELECT 1 AS hit FROM orgroster_members AS t WHERE \
     t.organization_id = $1 AND t.user_id = k.user_id LIMIT 1 FOR KEY SHARE) AS m ON true \
     WHERE m.hit IS NULL";
/// See [`Dialect::claim_outbox`]. Taken in turns across organizations (spec: MSG-3); `SKIP
/// LOCKED`: two instances claiming at once take disjoint rows. The window runs in a sublink
/// because `FOR UPDATE` is not allowed beside a window function; the lock re-checks the
/// lease of each row it takes.
const CLAIM_OUTBOX: &str = "UPDATE orgroster_outbox SET lease_until = $1, claim = $4, attempts = attempts + 1 WHERE \
     id IN (SELECT id FROM orgroster_outbox WHERE id IN (SELECT id FROM (SELECT id, due_at, \
     ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY due_at, id) AS turn FROM \
     orgroster_outbox WHERE status = 'pending' AND due_at <= $2 AND (lease_until IS NULL OR \
     lease_until <= $2)) AS due ORDER BY turn, due_at, id LIMIT $3) AND status = 'pending' \
     AND (lease_until IS NULL OR lease_until <= $2) FOR UPDATE SKIP LOCKED) RETURNING id, \
     organization_id, recipient, content, status, attempts, created_at, due_at, lease_until, \
     last_error";
/// See [`ScopeStatements::totals`]. A member's events are read through the per-member index.
pub(super) const MEMBER_TOTALS: &str = "SELECT COUNT(DISTINCT user_id), CAST(COALESCE(SUM(CASE WHEN kind = 'enrolled' THEN 1 \
     ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE \
     0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'certificate' THEN 1 ELSE 0 \
     END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 \
     END), 0) AS BIGINT), (SELECT COUNT(*) FROM orgroster_members WHERE organization_id = $1 \
     AND user_id = $4 AND joined_at < $3 AND $2 < $3), (SELECT COUNT(*) FROM \
     orgroster_invitations WHERE organization_id = $1 AND created_at >= $2 AND created_at < \
     $3 AND email_key = (SELECT email_key FROM orgroster_members WHERE organization_id = $1 \
     AND user_id = $4)) FROM (SELECT user_id, course, kind, value, at FROM \
     orgroster_activities WHERE organization_id = $1 AND user_id = $4 AND at >= $2 AND at < \
     $3) AS e";
/// See [`ScopeStatements::courses`].
const MEMBER_COURSES: &str = "SELECT course, COUNT(DISTINCT user_id) FROM (SELECT user_id, course, kind, value, at \
     FROM orgroster_activities WHERE organization_id = $1 AND user_id = $4 AND at >= $2 AND \
     at < $3) AS e GROUP BY course";
/// See [`ScopeStatements::weeks`].
const MEMBER_WEEKS: &str = "SELECT w, COUNT(DISTINCT user_id), CAST(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 \
     END) AS BIGINT), CAST(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 END) AS \
     BIGINT) FROM (SELECT user_id, kind, value, (at - 345600000000) / 604800000000 - CASE \
     WHEN at < 345600000000 AND (at - 345600000000) % 604800000000 <> 0 THEN 1 ELSE 0 END AS \
     w FROM (SELECT user_id, course, kind, value, at FROM orgroster_activities WHERE \
     organization_id = $1 AND user_id = $4 AND at >= $2 AND at < $3) AS e) AS weeks GROUP BY \
     w ORDER BY w";
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
     CROSS JOIN orgroster_activities AS a WHERE s.organization_id = $1 AND s.team_id = $4 \
     AND s.joined_at < $3 AND (s.left_at IS NULL OR s.left_at > $2) AND a.organization_id = \
     $1 AND a.user_id = s.user_id AND a.at >= $2 AND a.at < $3 AND a.at >= s.joined_at AND \
     (s.left_at IS NULL OR a.at < s.left_at)) AS e";
/// See [`ScopeStatements::courses`].
const TEAM_COURSES: &str = "SELECT course, COUNT(DISTINCT user_id) FROM (SELECT a.user_id, a.course, a.kind, \
     a.value, a.at FROM orgroster_team_stints AS s CROSS JOIN orgroster_activities AS a \
     WHERE s.organization_id = $1 AND s.team_id = $4 AND s.joined_at < $3 AND (s.left_at IS \
     NULL OR s.left_at > $2) AND a.organization_id = $1 AND a.user_id = s.user_id AND a.at \
     >= $2 AND a.at < $3 AND a.at >= s.joined_at AND (s.left_at IS NULL OR a.at < \
     s.left_at)) AS e GROUP BY course";
/// See [`ScopeStatements::weeks`].
const TEAM_WEEKS: &str = "SELECT w, COUNT(DISTINCT user_id), CAST(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 \
     END) AS BIGINT), CAST(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 END) AS \
     BIGINT) FROM (SELECT user_id, kind, value, (at - 345600000000) / 604800000000 - CASE \
     WHEN at < 345600000000 AND (at - 345600000000) % 604800000000 <> 0 THEN 1 ELSE 0 END AS \
     w FROM (SELECT a.user_id, a.course, a.kind, a.value, a.at FROM orgroster_team_stints AS \
     s CROSS JOIN orgroster_activities AS a WHERE s.organization_id = $1 AND s.team_id = $4 \
     AND s.joined_at < $3 AND (s.left_at IS NULL OR s.left_at > $2) AND a.organization_id = \
     $1 AND a.user_id = s.user_id AND a.at >= $2 AND a.at < $3 AND a.at >= s.joined_at AND \
     (s.left_at IS NULL OR a.at < s.left_at)) AS e) AS weeks GROUP BY w ORDER BY w";
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
     s.team_id IN (SELECT jsonb_array_elements_text($4::jsonb)::uuid) GROUP BY s.team_id";
/// See [`TeamsStatements::members`].
const TEAMS_MEMBERS: &str = "SELECT team_id, COUNT(DISTINCT user_id) FROM orgroster_team_stints WHERE \
     organization_id = $1 AND joined_at < $3 AND (left_at IS NULL OR (left_at > $2 AND \
     left_at > joined_at)) AND team_id IN (SELECT \
     jsonb_array_elements_text($4::jsonb)::uuid) GROUP BY team_id";
/// See [`TeamsStatements::invited`].
const TEAMS_INVITED: &str = "SELECT team_id, COUNT(*) FROM orgroster_invitations WHERE organization_id = $1 AND \
     created_at >= $2 AND created_at < $3 AND team_id IN (SELECT \
     jsonb_array_elements_text($4::jsonb)::uuid) GROUP BY team_id";
/// See [`TeamsStatements::courses`].
const TEAMS_COURSES: &str = "SELECT s.team_id, u.course, COUNT(DISTINCT u.user_id) FROM (SELECT user_id, course, at \
     FROM orgroster_activities WHERE organization_id = $1 AND at >= $2 AND at < $3) AS u \
     CROSS JOIN orgroster_team_stints AS s WHERE s.organization_id = $1 AND s.user_id = \
     u.user_id AND s.joined_at <= u.at AND (s.left_at IS NULL OR s.left_at > u.at) AND \
     s.team_id IN (SELECT jsonb_array_elements_text($4::jsonb)::uuid) GROUP BY s.team_id, \
     u.course";
/// See [`TeamsStatements::weeks`].
const TEAMS_WEEKS: &str = "SELECT s.team_id, u.w, COUNT(DISTINCT u.user_id), CAST(SUM(CASE WHEN u.kind = \
     'completed' THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN u.kind = 'time_spent' \
     THEN u.value ELSE 0 END) AS BIGINT) FROM (SELECT user_id, kind, value, at, (at - \
     345600000000) / 604800000000 - CASE WHEN at < 345600000000 AND (at - 345600000000) % \
     604800000000 <> 0 THEN 1 ELSE 0 END AS w FROM orgroster_activities WHERE \
     organization_id = $1 AND at >= $2 AND at < $3) AS u CROSS JOIN orgroster_team_stints AS \
     s WHERE s.organization_id = $1 AND s.user_id = u.user_id AND s.joined_at <= u.at AND \
     (s.left_at IS NULL OR s.left_at > u.at) AND s.team_id IN (SELECT \
     jsonb_array_elements_text($4::jsonb)::uuid) GROUP BY s.team_id, u.w";
/// See [`ActivityStatements`].
pub(super) const ORGANIZATION_ACTIVITY: &str = "WITH page AS (SELECT id, user_id, email, first_name, last_name FROM orgroster_members \
     WHERE organization_id = $1 AND id > $4 ORDER BY id LIMIT $5) SELECT p.id, p.user_id, \
     p.email, p.first_name, p.last_name, CAST(COALESCE(SUM(CASE WHEN a.kind = 'enrolled' \
     THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = 'completed' \
     THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = 'certificate' \
     THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = 'time_spent' \
     THEN a.value ELSE 0 END), 0) AS BIGINT), MAX(a.at) FROM page AS p LEFT JOIN \
     orgroster_activities AS a ON a.organization_id = $1 AND a.user_id = p.user_id AND a.at \
     >= $2 AND a.at < $3 GROUP BY p.id, p.user_id, p.email, p.first_name, p.last_name ORDER \
     BY p.id";
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
     LEFT JOIN orgroster_activities AS a ON a.organization_id = $1 AND a.user_id = p.user_id \
     AND a.at >= $2 AND a.at < $3 AND EXISTS (SELECT 1 FROM orgroster_team_stints AS s WHERE \
     s.organization_id = $1 AND s.team_id = $6 AND s.user_id = a.user_id AND s.joined_at <= \
     a.at AND (s.left_at IS NULL OR s.left_at > a.at)) GROUP BY p.id, p.user_id, p.email, \
     p.first_name, p.last_name ORDER BY p.id";
/// See [`ActivityStatements`].
pub(super) const MEMBER_ACTIVITY: &str = "WITH page AS (SELECT id, user_id, email, first_name, last_name FROM orgroster_members \
     WHERE organization_id = $1 AND id > $4 AND user_id = $6 ORDER BY id LIMIT $5) SELECT \
     p.id, p.user_id, p.email, p.first_name, p.last_name, CAST(COALESCE(SUM(CASE WHEN a.kind \
     = 'enrolled' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = \
     'completed' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = \
     'certificate' THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN a.kind = \
     'time_spent' THEN a.value ELSE 0 END), 0) AS BIGINT), MAX(a.at) FROM page AS p LEFT \
     JOIN orgroster_activities AS a ON a.organization_id = $1 AND a.user_id = p.user_id AND \
     a.at >= $2 AND a.at < $3 GROUP BY p.id, p.user_id, p.email, p.first_name, p.last_name \
     ORDER BY p.id";

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::postgres::PgConnectOptions;

    use crate::Store;

    use super::*;

    /// Pages the context of an invitation to three addresses (one new, one a member's, one
    /// invited) in organization `org` reads, hit or read, counted by `EXPLAIN (ANALYZE,
    /// BUFFERS)`.
    async fn context_pages(pool: &PgPool, org: uuid::Uuid) -> u64 {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {INVITATION_CONTEXT}"
        )))
        .bind(org)
        .bind(r#"["newcomer@example.com", "member-7@example.com", "invited-7@example.com"]"#)
        .bind(0_i64)
        .bind(uuid::Uuid::now_v7())
        .fetch_one(pool)
        .await
        .unwrap();
        // A `json` value's binary form is its text; sqlx decodes `json` only with a feature
        // orgroster does not need.
        let plan: String = sqlx::Row::try_get_unchecked(&row, 0).unwrap();
        let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
        // The top node's counts include every node under it, subplans too.
        let top = &plan[0]["Plan"];
        ["Shared Hit Blocks", "Shared Read Blocks"]
            .iter()
            .map(|k| top[k].as_u64().unwrap())
            .sum()
    }

    /// A migrated store in a schema of its own, its pool's connections named `app` in
    /// `pg_stat_activity` (unique to the test), and a pool for administration.
    struct Fresh {
        store: PostgresStore,
        admin: PgPool,
        schema: String,
        app: String,
    }

    impl Fresh {
        /// Closes the store and drops its schema.
        async fn finish(self) {
            self.store.close().await;
            drop_schema(self.admin, &self.schema).await;
        }
    }

    /// [`Fresh`] on a pool of `max` connections, named after `tag`; `None` when no test
    /// server is configured.
    async fn fresh_store(max: u32, tag: &str) -> Option<Fresh> {
        fresh_store_with(PgPoolOptions::new().max_connections(max), tag).await
    }

    /// [`fresh_store`] with the pool built from `pool`.
    async fn fresh_store_with(pool: PgPoolOptions, tag: &str) -> Option<Fresh> {
        let Ok(url) = std::env::var("ORGROSTER_TEST_POSTGRES_URL") else {
            eprintln!("skipped: set ORGROSTER_TEST_POSTGRES_URL to run it");
            return None;
        };
        let schema = format!("orgroster_test_{}", uuid::Uuid::now_v7().simple());
        let app = format!("orgroster_{tag}_{}", uuid::Uuid::now_v7().simple());
        let admin = PgPool::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .unwrap();
        let options = options(&url, &schema).application_name(&app);
        let store = PostgresStore::new(pool.connect_with(options).await.unwrap());
        store.migrate().await.unwrap();
        Some(Fresh {
            store,
            admin,
            schema,
            app,
        })
    }

    /// Connection options for `url` with orgroster's tables in `schema`.
    fn options(url: &str, schema: &str) -> PgConnectOptions {
        PgConnectOptions::from_str(url)
            .unwrap()
            .options([("search_path", schema)])
    }

    async fn drop_schema(admin: PgPool, schema: &str) {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
    }

    /// An invitation's context probes the indexes for its addresses, whatever the size of
    /// the organization and however stale the planner's statistics: written as `EXISTS`, the
    /// member lookup was planned (on statistics taken while the organization was small) as a
    /// hash of every member of the organization, a scan of all of them per invitation.
    #[tokio::test]
    async fn an_invitations_context_reads_a_few_pages_however_large_the_organization() {
        let Some(fresh) = fresh_store(16, "plan").await else {
            return;
        };
        let store = &fresh.store;
        let pool = store.pool();
        let org = uuid::Uuid::now_v7();
        let statements = [
            // Statistics from when the organization was small, kept: as in a service whose
            // tables grew faster than autovacuum analyzed them.
            "ALTER TABLE orgroster_members SET (autovacuum_enabled = false)",
            "ALTER TABLE orgroster_invitations SET (autovacuum_enabled = false)",
            "INSERT INTO orgroster_organizations VALUES ($1, 'Big', '[]', '{}', NULL, 0, 1)",
            "INSERT INTO orgroster_members SELECT gen_random_uuid(), $1, gen_random_uuid(), \
             'member-' || n || '@example.com', 'member-' || n || '@example.com', 'A', 'B', 8, \
             0, NULL, NULL, NULL, 1 FROM generate_series(1, 10) AS n",
            "ANALYZE orgroster_members",
            "ANALYZE orgroster_invitations",
            "INSERT INTO orgroster_members SELECT gen_random_uuid(), $1, gen_random_uuid(), \
             'member-' || n || '@example.com', 'member-' || n || '@example.com', 'A', 'B', 8, \
             0, NULL, NULL, NULL, 1 FROM generate_series(11, 20000) AS n",
            "INSERT INTO orgroster_invitations SELECT gen_random_uuid(), $1, \
             'invited-' || n || '@example.com', 'invited-' || n || '@example.com', NULL, NULL, \
             'member', NULL, 'pending', sha256(n::text::bytea), gen_random_uuid(), 0, 0, \
             1000, 0, NULL, NULL, NULL, NULL, 1 FROM generate_series(1, 20000) AS n",
        ];
        for sql in statements {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql));
            let q = if sql.contains("$1") { q.bind(org) } else { q };
            q.execute(pool).await.unwrap();
        }
        let pages = context_pages(pool, org).await;
        // A few index probes per address: 22 pages here. A scan of the organization's
        // 20,000 members reads hundreds (as `EXISTS`: 427 pages).
        assert!(pages < 100, "the context read {pages} pages");
        fresh.finish().await;
    }

    /// The pools the store makes check only the connections idle for a while before handing
    /// them out; a host's pool is used with the host's options.
    #[tokio::test]
    async fn only_the_pools_the_store_makes_skip_the_check_of_a_recently_used_connection() {
        let Ok(url) = std::env::var("ORGROSTER_TEST_POSTGRES_URL") else {
            eprintln!("skipped: set ORGROSTER_TEST_POSTGRES_URL to run it");
            return;
        };
        let made = PostgresStore::connect(&url).await.unwrap();
        assert!(!made.pool().options().get_test_before_acquire());
        made.close().await;
        let hosts = PostgresStore::new(PgPool::connect(&url).await.unwrap());
        assert!(hosts.pool().options().get_test_before_acquire());
        hosts.close().await;
    }

    /// A connection killed while idle in the store's pool is checked before it is handed out
    /// again, once it has been idle for a while: the host sees nothing of it.
    #[tokio::test]
    async fn a_connection_killed_while_idle_is_replaced_before_its_next_use() {
        let Some(fresh) = fresh_store_with(pool_options().max_connections(1), "idle").await else {
            return;
        };
        let store = &fresh.store;
        let org = crate::OrganizationId::new();
        assert_eq!(store.organization(org).await.unwrap(), None);
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&fresh.app)
        .execute(&fresh.admin)
        .await
        .unwrap();
        while backends(&fresh.admin, &fresh.app).await > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tokio::time::sleep(RECENT).await;
        assert_eq!(store.organization(org).await.unwrap(), None);
        fresh.finish().await;
    }

    /// The backends of `app`.
    async fn backends(admin: &PgPool, app: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(app)
            .fetch_one(admin)
            .await
            .unwrap()
    }
}
