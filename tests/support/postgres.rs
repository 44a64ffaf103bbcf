//! PostgreSQL for tests and benches: the server `ORGROSTER_TEST_POSTGRES_URL` names, a fresh
//! migrated schema per test (named `orgroster_test_…`, which `.ci/run` drops if a failed run
//! leaves one), and the administration the fault tests need (`pg_stat_activity`, killing
//! backends). Included with `#[path]` by every test binary and bench that needs it.

#![allow(dead_code, clippy::expect_used)]

use std::str::FromStr;

use orgroster::{
    PostgresStore,
    sqlx::{
        self, PgPool,
        postgres::{PgConnectOptions, PgPoolOptions},
    },
};

pub(crate) const URL_VAR: &str = "ORGROSTER_TEST_POSTGRES_URL";

/// The test server's URL, when configured.
pub(crate) fn url() -> Option<String> {
    std::env::var(URL_VAR).ok().filter(|u| !u.is_empty())
}

/// Connection options for `url` with orgroster's tables in `schema`.
pub(crate) fn options(url: &str, schema: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url)
        .expect("a PostgreSQL URL")
        .options([("search_path", schema)])
}

/// A store on `schema` with a pool of at most `max` connections, named `app` in
/// `pg_stat_activity` when given (so a test can find its own backends and only those).
pub(crate) async fn store(url: &str, schema: &str, max: u32, app: Option<&str>) -> PostgresStore {
    let mut options = options(url, schema);
    if let Some(app) = app {
        options = options.application_name(app);
    }
    let pool = PgPoolOptions::new()
        .max_connections(max)
        .connect_with(options)
        .await
        .expect("PostgreSQL reachable");
    PostgresStore::new(pool)
}

/// A new, migrated schema (named so that `.ci/run` drops it if a failed run leaves it).
pub(crate) async fn fresh_schema(url: &str) -> String {
    let schema = format!("orgroster_test_{}", uuid::Uuid::now_v7().simple());
    let admin = admin(url).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let store = store(url, &schema, 1, None).await;
    store.migrate().await.expect("migrate");
    store.pool().close().await;
    schema
}

pub(crate) async fn drop_schema(url: &str, schema: &str) {
    let admin = admin(url).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&admin)
    .await
    .expect("drop schema");
    admin.close().await;
}

/// A small pool outside any test schema, for administration.
pub(crate) async fn admin(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .expect("PostgreSQL reachable")
}

/// Terminates every backend named `app`; returns what each was doing (its state and the
/// start of its statement).
pub(crate) async fn terminate(admin: &PgPool, app: &str) -> Vec<String> {
    sqlx::query_as(
        // In the select list, not the WHERE clause: the planner may evaluate a WHERE
        // clause's conditions in any order, and this one must only touch `app`'s backends.
        "SELECT coalesce(state, '?') || ': ' || left(query, 40), pg_terminate_backend(pid) \
         FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(app)
    .fetch_all(admin)
    .await
    .expect("terminating backends")
    .into_iter()
    .map(|(doing, _): (String, bool)| doing)
    .collect()
}

/// Whether a backend named `app` is running a statement `LIKE pattern`.
pub(crate) async fn running(admin: &PgPool, app: &str, pattern: &str) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1 \
         AND state = 'active' AND query LIKE $2)",
    )
    .bind(app)
    .bind(pattern)
    .fetch_one(admin)
    .await
    .expect("reading pg_stat_activity")
}

/// How many backends named `app` wait for a lock.
pub(crate) async fn waiting_for_lock(admin: &PgPool, app: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE application_name = $1 AND wait_event_type = 'Lock'",
    )
    .bind(app)
    .fetch_one(admin)
    .await
    .expect("reading pg_stat_activity")
}

/// Rows in `table` of `schema`, counted directly (the outbox cannot be read through the
/// `Store` trait without claiming it).
pub(crate) async fn count(admin: &PgPool, schema: &str, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {schema}.{table}"
    )))
    .fetch_one(admin)
    .await
    .expect("counting rows")
}
