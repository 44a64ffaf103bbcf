//! `PostgresStore`: several service instances sharing one database (feature `postgres`).

use std::{borrow::Cow, sync::Arc};

use sqlx::{
    PgConnection, Postgres, Transaction,
    pool::PoolConnection,
    postgres::{PgPool, PgPoolOptions},
};

use super::{
    StoreError,
    plan::{Plan, Step, one_statement},
    sql,
};

mod warm;

use warm::{Conns, Lent};

/// Keeps the roster in PostgreSQL, so that any number of service instances can share it.
///
/// Every commit is atomic at READ COMMITTED (one statement when its writes are independent of
/// each other, otherwise one transaction): each write checks the version it was
/// decided on, unique rules are database constraints, and the outbox is claimed with
/// `FOR UPDATE SKIP LOCKED`, so instances never send the same mail at once. Tables carry the
/// `orgroster_` prefix; migrations are tracked in `_orgroster_migrations`.
///
/// A connection the store has just run a statement on is kept aside for its next statement
/// until it has been idle for a quarter to half a second, instead of going back through the
/// pool, whose liveness checks (a round trip when a connection is handed out, another when it
/// is given back) would triple a command's round trips. Nothing is set aside while the pool
/// is full or one of the store's commands waits for it. Set aside, a connection is not in the
/// pool's idle list: a host sharing the pool, or closing it, may wait that long for it; and
/// the pool's hooks and lifetime checks see it about once a second rather than on every
/// command. A read whose connection turns out dead runs again, once, on another.
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
#[derive(Debug, Clone)]
pub struct PostgresStore {
    conns: Arc<Conns>,
}

/// The statements where PostgreSQL differs from SQLite.
mod dialect {
    use crate::store::sql::Migration;

    // The lookups by a list of keys probe the unique index once per distinct key, whatever
    // the planner believes about the table. The plain `key IN (SELECT …)` form could be
    // planned, on stale statistics (a table right after a bulk insert, before autoanalyze),
    // as a nested loop comparing every row of the organization with every key. `LIMIT 1`
    // keeps the lateral subquery from being pulled up into a join the planner could
    // reorder; each key matches at most one row anyway (a unique index).
    /// The ids of `$2` (a JSON list) with no member in `$1`, as text: usually none. The
    /// members found are locked against removal (`FOR KEY SHARE`, which a role change does
    /// not wait for) until the transaction ends, so none is removed before the activity
    /// recorded in it commits. A lateral probe with `LIMIT 1` rather than `NOT EXISTS`,
    /// which the planner may turn into a hash of every member of the organization.
    pub(super) const USERS_NOT_MEMBERS: &str = "SELECT k.user_id::text FROM (SELECT DISTINCT \
         jsonb_array_elements_text($2::jsonb)::uuid AS user_id) AS k LEFT JOIN LATERAL \
         (SELECT 1 AS hit FROM orgroster_members AS t WHERE t.organization_id = $1 \
         AND t.user_id = k.user_id LIMIT 1 FOR KEY SHARE) AS m ON true WHERE m.hit IS NULL";
    /// One row per distinct email key (`$2`, a JSON list) of organization `$1`: whether a
    /// member has it, its pending invitation if any, and on every row the seat counts at `$3`
    /// when `$count` holds (zeros otherwise); a single row of counts alone for an empty list.
    /// Each address probes the unique indexes of members and pending invitations.
    /// (As `EXISTS`, the planner may hash every member of the organization and probe the
    /// hash: it did for a single address on statistics taken when the organization was
    /// small, a scan of all its members per invitation, 0.8 ms at 1,000 members.)
    macro_rules! invitation_targets {
        ($($count:tt)*) => {
            concat!(
                "SELECT k.email_key AS target_key, mm.hit IS NOT NULL AS is_member, i.*, \
                 s.seat_members, s.seat_pending FROM ",
                crate::store::sql::seat_counts!($($count)*),
                " LEFT JOIN (SELECT DISTINCT jsonb_array_elements_text($2::jsonb) AS email_key) AS k \
                 ON true LEFT JOIN LATERAL (SELECT 1 AS hit FROM orgroster_members AS mm \
                 WHERE mm.organization_id = $1 AND mm.email_key = k.email_key LIMIT 1) AS mm \
                 ON true LEFT JOIN LATERAL (SELECT id, organization_id, email, invitee_first_name, \
                 invitee_last_name, role, team_id, status, token_hash, invited_by, created_at, \
                 sent_at, expires_at, resend_count, closed_at, closed_by, version \
                 FROM orgroster_invitations AS t WHERE t.organization_id = $1 \
                 AND t.status = 'pending' AND t.email_key = k.email_key LIMIT 1) AS i ON true"
            )
        };
    }
    /// See [`invitation_context`](crate::store::sql::invitation_context).
    pub(super) const INVITATION_CONTEXT: &str =
        crate::store::sql::invitation_context!(invitation_targets!(crate::store::sql::capped!()));
    /// Taken in turns across organizations (spec: MSG-3); `SKIP LOCKED`: two instances
    /// claiming at once take disjoint rows. The window runs in a sublink because `FOR
    /// UPDATE` is not allowed beside a window function; the lock re-checks the lease of
    /// each row it takes.
    pub(super) const CLAIM_OUTBOX: &str = "UPDATE orgroster_outbox SET lease_until = $1, \
         claim = $4, attempts = attempts + 1 WHERE id IN (SELECT id FROM orgroster_outbox \
         WHERE id IN (SELECT id FROM (SELECT id, due_at, ROW_NUMBER() OVER \
         (PARTITION BY organization_id ORDER BY due_at, id) AS turn FROM orgroster_outbox \
         WHERE status = 'pending' AND due_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)) \
         AS due ORDER BY turn, due_at, id LIMIT $3) AND status = 'pending' \
         AND (lease_until IS NULL OR lease_until <= $2) FOR UPDATE SKIP LOCKED) \
         RETURNING id, organization_id, recipient, content, status, attempts, created_at, \
         due_at, lease_until, last_error";
    /// The team ids of a JSON list of hex strings (`$4`).
    pub(super) const TEAM_LIST: &str = "SELECT jsonb_array_elements_text($4::jsonb)::uuid";
    /// PostgreSQL numbers its parameters.
    pub(super) const ANONYMOUS_PARAMS: bool = false;
    /// A plain read, no `FOR SHARE`: a change to the organization committed before the
    /// statement fails the check, one committed after it is ordered after this commit (see
    /// `OrganizationWrite::Check`). Share-locking the row made every invitation write the
    /// row's lock marker (a multixact when several hold it): WAL and contention on the
    /// organization's one row for nothing.
    pub(super) const PLAN: crate::store::plan::Dialect = crate::store::plan::Dialect {
        anonymous: ANONYMOUS_PARAMS,
        check_org: "SELECT 1 FROM orgroster_organizations WHERE id = $1 AND version = $2",
    };
    /// Byte-by-byte ordering of text, as Rust orders strings (the database's collation may
    /// differ).
    pub(super) const BYTEWISE: &str = " COLLATE \"C\"";
    /// The planner picks the per-member index for one member's events from its statistics.
    pub(super) const BY_MEMBER: &str = "";
    /// Serializes migrations across processes for the length of the transaction.
    pub(super) const MIGRATION_LOCK: Option<&str> =
        Some("SELECT pg_advisory_xact_lock(7306394815522617713)");
    pub(super) const MIGRATIONS: &[Migration] = &[
        (
            1,
            "initial",
            include_str!("../../migrations/postgres/0001_initial.sql"),
        ),
        (
            2,
            "activity",
            include_str!("../../migrations/postgres/0002_activity.sql"),
        ),
        (
            3,
            "activity_by_time_covering",
            include_str!("../../migrations/postgres/0003_activity_by_time_covering.sql"),
        ),
        (
            4,
            "one_statement_commit",
            include_str!("../../migrations/postgres/0004_one_statement_commit.sql"),
        ),
        (
            6,
            "activity_by_member",
            include_str!("../../migrations/postgres/0006_activity_by_member.sql"),
        ),
        (
            7,
            "outbox_claims",
            include_str!("../../migrations/postgres/0007_outbox_claims.sql"),
        ),
    ];
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`). Call [`PostgresStore::migrate`] next.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URL is malformed or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await
            .map_err(|e| sql::backend("postgres", e))?;
        Ok(Self::new(pool))
    }

    /// Connects with options the host built, for example to set a `search_path` so that
    /// orgroster's tables live in their own schema.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the server cannot be reached.
    pub async fn connect_with(
        options: sqlx::postgres::PgConnectOptions,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await
            .map_err(|e| sql::backend("postgres", e))?;
        Ok(Self::new(pool))
    }

    /// Wraps a pool the host built.
    pub fn new(pool: PgPool) -> Self {
        Self {
            conns: Arc::new(Conns::new(pool)),
        }
    }

    /// The pool, for hosts that share it.
    pub fn pool(&self) -> &PgPool {
        &self.conns.pool
    }

    /// Closes the pool's connections after the commands under way: for a clean shutdown.
    /// Commands afterwards fail with a store error.
    pub async fn close(&self) {
        // The pool's close waits for every connection out of it, those set aside too. It
        // marks the pool closed when called, and from then on nothing is set aside.
        let closing = self.conns.pool.close();
        self.conns.give_back_all();
        closing.await;
    }

    /// A connection for one short read (a one-statement commit takes one the same way): see
    /// [`warm`].
    async fn reader(&self) -> Result<Lent, StoreError> {
        self.conns.lend().await.map_err(Self::err)
    }

    /// A pool connection for a read of several statements (statistics).
    async fn long_reader(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        let pool = &self.conns.pool;
        self.conns
            .wait_for_pool(pool.acquire())
            .await
            .map_err(Self::err)
    }

    async fn write_tx(&self) -> Result<(Transaction<'static, Postgres>, ()), StoreError> {
        let pool = &self.conns.pool;
        let tx = self
            .conns
            .wait_for_pool(pool.begin())
            .await
            .map_err(Self::err)?;
        Ok((tx, ()))
    }

    /// Runs a commit's plan: as one statement when its steps are independent (one round
    /// trip), otherwise statement by statement in a transaction.
    async fn commit_plan(&self, plan: Plan) -> Result<(), StoreError> {
        if let Some(sql) = one_statement(&plan) {
            let expects: Vec<_> = plan.steps.iter().map(|s| s.expect).collect();
            let args = plan.steps.into_iter().flat_map(|s| s.args).collect();
            let q = sqlx::query::<Postgres>(sqlx::AssertSqlSafe(sql));
            let mut conn = self.conns.lend().await.map_err(Self::err)?;
            let result = Self::bind_args(q, args).execute(&mut *conn).await;
            // Not run again if its connection is lost: whether it was applied is not known.
            return match conn.finish(result) {
                Ok(_) => Ok(()),
                Err(e) => Err(Self::plan_error(e, &expects)),
            };
        }
        let (mut tx, ()) = self.write_tx().await?;
        match Self::run_steps(&mut tx, plan.steps).await {
            Ok(()) => tx.commit().await.map_err(Self::err),
            Err(e) => {
                // Dropping the transaction rolls it back as well; an explicit rollback
                // returns the connection to the pool clean at once.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Runs a plan statement by statement on `conn` (inside the caller's transaction).
    async fn run_steps(conn: &mut PgConnection, steps: Vec<Step>) -> Result<(), StoreError> {
        for step in steps {
            // Statements with a fixed text are prepared once per connection; the batched
            // inserts vary with their row count and would crowd the cache.
            let persistent = matches!(step.sql, Cow::Borrowed(_));
            let is_query = step.is_query();
            let q = sqlx::query::<Postgres>(sqlx::AssertSqlSafe(step.sql)).persistent(persistent);
            let q = Self::bind_args(q, step.args);
            let rows = if is_query {
                u64::from(
                    q.fetch_optional(&mut *conn)
                        .await
                        .map_err(Self::err)?
                        .is_some(),
                )
            } else {
                q.execute(&mut *conn)
                    .await
                    .map_err(Self::err)?
                    .rows_affected()
            };
            if let Some(expect) = step.expect
                && rows != 1
            {
                return Err(expect.error());
            }
        }
        Ok(())
    }
}

sql::sql_store!(PostgresStore, Postgres, "postgres", dialect);

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
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {}",
            dialect::INVITATION_CONTEXT
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
        /// Reads a (missing) organization; how many connections are aside afterwards.
        async fn aside_after_a_read(&self) -> usize {
            let org = crate::OrganizationId::new();
            assert_eq!(self.store.organization(org).await.unwrap(), None);
            self.store.conns.aside_len()
        }

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
             0, NULL, 1 FROM generate_series(1, 10) AS n",
            "ANALYZE orgroster_members",
            "ANALYZE orgroster_invitations",
            "INSERT INTO orgroster_members SELECT gen_random_uuid(), $1, gen_random_uuid(), \
             'member-' || n || '@example.com', 'member-' || n || '@example.com', 'A', 'B', 8, \
             0, NULL, 1 FROM generate_series(11, 20000) AS n",
            "INSERT INTO orgroster_invitations SELECT gen_random_uuid(), $1, \
             'invited-' || n || '@example.com', 'invited-' || n || '@example.com', NULL, NULL, \
             'member', NULL, 'pending', sha256(n::text::bytea), gen_random_uuid(), 0, 0, \
             1000, 0, NULL, NULL, 1 FROM generate_series(1, 20000) AS n",
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

    /// The backends of `app`.
    async fn backends(admin: &PgPool, app: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(app)
            .fetch_one(admin)
            .await
            .unwrap()
    }

    /// A read on a connection set aside that was killed meanwhile runs again on a checked
    /// one: the host sees nothing of it.
    #[tokio::test]
    async fn a_read_whose_connection_was_killed_while_aside_runs_again_on_a_checked_one() {
        let Some(fresh) = fresh_store(4, "aside").await else {
            return;
        };
        let store = &fresh.store;
        assert_eq!(fresh.aside_after_a_read().await, 1);
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
        assert_eq!(store.conns.aside_len(), 1, "still aside, dead");
        // Run again on a new connection from the pool.
        assert_eq!(fresh.aside_after_a_read().await, 1);
        assert_eq!(backends(&fresh.admin, &fresh.app).await, 1);
        fresh.finish().await;
    }

    /// While a command of the store waits for the pool, a connection whose statement ended
    /// goes back to the pool, where the command gets it, rather than aside.
    #[tokio::test]
    async fn a_connection_goes_back_to_the_pool_while_a_command_waits_for_one() {
        let Some(fresh) = fresh_store(2, "wait").await else {
            return;
        };
        let store = &fresh.store;
        let org = crate::OrganizationId::new();
        let first = store.conns.lend().await.unwrap();
        let second = store.conns.lend().await.unwrap();
        let waiter = tokio::spawn({
            let store = store.clone();
            async move { store.organization(org).await }
        });
        while store.conns.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        first.finish(Ok(())).unwrap();
        let aside = store.conns.aside_len();
        assert_eq!(aside, 0, "set aside while a command waited");
        assert_eq!(waiter.await.unwrap().unwrap(), None);
        // No one waits now, and the pool has a connection to give (once sqlx has taken the
        // waiter's back): set aside.
        while store.pool().num_idle() == 0 {
            tokio::task::yield_now().await;
        }
        second.finish(Ok(())).unwrap();
        assert_eq!(store.conns.aside_len(), 1);
        fresh.finish().await;
    }

    /// On a pool of one connection nothing is set aside: the store's next transaction, or
    /// the host, would wait for it.
    #[tokio::test]
    async fn a_store_on_a_full_pool_sets_nothing_aside() {
        let Some(fresh) = fresh_store(1, "full").await else {
            return;
        };
        assert_eq!(fresh.aside_after_a_read().await, 0);
        fresh.finish().await;
    }

    /// A host closing the pool it shares with the store is not kept waiting for ever by a
    /// connection set aside: it goes back to the pool once idle.
    #[tokio::test]
    async fn a_host_closing_the_shared_pool_gets_the_connections_set_aside_back() {
        let Some(fresh) = fresh_store(4, "close").await else {
            return;
        };
        let store = &fresh.store;
        assert_eq!(fresh.aside_after_a_read().await, 1);
        // Without the reaper, the close waits for ever: a deadlock guard, not a timing.
        tokio::time::timeout(std::time::Duration::from_secs(30), store.pool().close())
            .await
            .expect("the pool closed");
        assert_eq!(store.conns.aside_len(), 0);
        drop_schema(fresh.admin, &fresh.schema).await;
    }

    /// A store dropped where there is no runtime (after the host's last `block_on`, or
    /// after its runtime is gone) gives back the connections it set aside without a panic,
    /// although sqlx does that in a task (and spawns one more for a pool with a minimum).
    #[test]
    fn a_store_dropped_outside_its_runtime_or_after_it_lets_go_quietly() {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let rt = runtime();
        let pool = PgPoolOptions::new().max_connections(4).min_connections(1);
        let Some(Fresh {
            store,
            admin,
            schema,
            ..
        }) = rt.block_on(fresh_store_with(pool, "drop"))
        else {
            return;
        };
        let org = crate::OrganizationId::new();
        rt.block_on(store.organization(org)).unwrap();
        assert_eq!(store.conns.aside_len(), 1);
        // The runtime is there, but not entered.
        drop(store);
        let url = std::env::var("ORGROSTER_TEST_POSTGRES_URL").unwrap();
        let pool = PgPoolOptions::new().max_connections(4).min_connections(1);
        let connecting = pool.connect_with(options(&url, &schema));
        let store = PostgresStore::new(rt.block_on(connecting).unwrap());
        rt.block_on(store.organization(org)).unwrap();
        assert_eq!(store.conns.aside_len(), 1);
        drop(admin);
        drop(rt);
        // The store's reaper went with the runtime, giving back what was aside.
        assert_eq!(store.conns.aside_len(), 0);
        drop(store);
        let rt = runtime();
        let admin = rt.block_on(PgPool::connect(&url)).unwrap();
        rt.block_on(drop_schema(admin, &schema));
    }
}
