//! What `SqlStore` asks of a database driver: run a read, run a transaction. Arguments go in
//! owned ([`Arg`]) and rows come back owned ([`Row`]), so the store's logic is written once,
//! with no driver type in it; each dialect file implements [`Backend`] for its driver.

use std::borrow::Cow;

use uuid::Uuid;

use super::{plan::Step, queries::Dialect};
use crate::{
    domain::changes::ChangeSet,
    store::{StoreError, constraint},
};

/// One bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bytes(Vec<u8>),
}

/// One statement and its arguments, in order (`$1` is the first).
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) sql: Cow<'static, str>,
    pub(crate) args: Vec<Arg>,
    /// Whether to keep it prepared on each connection: yes for the dialect's fixed
    /// statements, no for one whose text depends on a bulk write's size.
    pub(crate) persistent: bool,
}

impl Statement {
    /// `sql` with `args`, kept prepared when it is a fixed statement.
    pub(crate) fn new(sql: impl Into<Cow<'static, str>>, args: Vec<Arg>) -> Self {
        let sql = sql.into();
        Self {
            persistent: matches!(sql, Cow::Borrowed(_)),
            sql,
            args,
        }
    }
}

/// `statement` as sqlx runs it on the database `DB`, its arguments bound in order.
pub(crate) fn query<DB>(statement: Statement) -> sqlx::query::Query<'static, DB, DB::Arguments>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    Uuid: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    Option<Uuid>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    Option<i64>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    Option<String>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    Vec<u8>: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let mut q =
        sqlx::query::<DB>(sqlx::AssertSqlSafe(statement.sql)).persistent(statement.persistent);
    for arg in statement.args {
        q = match arg {
            Arg::Uuid(v) => q.bind(v),
            Arg::OptUuid(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
            Arg::OptInt(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
            Arg::Bytes(v) => q.bind(v),
        };
    }
    q
}

/// One value of a row, as the driver decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    /// PostgreSQL's booleans (SQLite's are integers).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    /// PostgreSQL's ids (SQLite's are 16-byte blobs).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Uuid(Uuid),
}

/// One row, its values in the statement's column order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Row(pub(crate) Vec<Value>);

/// A database the SQL store runs on.
#[async_trait::async_trait]
pub(crate) trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// The store's name, in errors.
    const NAME: &'static str;
    /// Whether batched inserts number their parameters (`$1, $2, …`) rather than leave them
    /// anonymous (`?`, which SQLite binds without looking a name up).
    const NUMBERED_PARAMS: bool;
    /// The statements the dialect writes its own way.
    const SQL: Dialect;
    /// An open transaction.
    type Tx: Transaction;

    /// Runs one of the short reads commands make.
    async fn read(&self, statement: Statement) -> Result<Vec<Row>, StoreError>;

    /// Runs reads that may take long (statistics, exports), one after the other on one
    /// connection.
    async fn read_all(&self, statements: Vec<Statement>) -> Result<Vec<Vec<Row>>, StoreError>;

    /// Begins a transaction that will write.
    async fn begin(&self) -> Result<Self::Tx, StoreError>;

    /// Applies a commit, planned as `steps` from `changes`: all of it or none, failing with
    /// the error of the first step whose check does not hold. The plain way is
    /// [`commit_in_transaction`](super::commit_in_transaction).
    async fn commit(&self, changes: &ChangeSet, steps: Vec<Step>) -> Result<(), StoreError>;
}

/// A transaction of a [`Backend`]. Dropped without [`Transaction::commit`], it rolls back.
#[async_trait::async_trait]
pub(crate) trait Transaction: Send {
    /// Runs a statement; how many rows it changed.
    async fn execute(&mut self, statement: Statement) -> Result<u64, StoreError>;

    /// Runs a statement that returns rows.
    async fn fetch(&mut self, statement: Statement) -> Result<Vec<Row>, StoreError>;

    /// Runs a script of statements without arguments (a migration).
    async fn execute_script(&mut self, sql: &'static str) -> Result<(), StoreError>;

    /// Commits.
    async fn commit(self) -> Result<(), StoreError>;
}

pub(crate) fn corrupt(backend: &'static str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        backend,
        source: format!("stored data is not valid: {what}").into(),
    }
}

pub(crate) fn backend(
    backend: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Backend {
        backend,
        source: Box::new(e),
    }
}

/// Maps a driver error: uniqueness to [`StoreError::Duplicate`], missing references to
/// [`StoreError::Missing`], everything else to [`StoreError::Backend`] with the driver error
/// kept as its source.
pub(crate) fn map_error(name: &'static str, e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Duplicate {
                constraint: unique_rule(db.constraint(), db.message()),
            };
        }
        if db.is_foreign_key_violation() {
            return StoreError::Missing {
                entity: "referenced row",
            };
        }
    }
    backend(name, e)
}

/// Maps a uniqueness violation to the rule it broke, from the constraint name (PostgreSQL) or
/// from the table and columns in the message (SQLite, which reports no name for indexes).
pub(crate) fn unique_rule(name: Option<&str>, message: &str) -> &'static str {
    let known = [
        constraint::ONE_MEMBER_PER_USER,
        constraint::ONE_MEMBER_PER_EMAIL,
        constraint::ONE_PENDING_PER_EMAIL,
        constraint::UNIQUE_TOKEN,
        constraint::UNIQUE_TEAM_NAME,
        constraint::ONE_TEAM_MEMBERSHIP,
    ];
    if let Some(rule) = name.and_then(|n| known.into_iter().find(|k| *k == n)) {
        return rule;
    }
    let by_columns = [
        ("orgroster_members.user_id", constraint::ONE_MEMBER_PER_USER),
        (
            "orgroster_members.email_key",
            constraint::ONE_MEMBER_PER_EMAIL,
        ),
        (
            "orgroster_invitations.email_key",
            constraint::ONE_PENDING_PER_EMAIL,
        ),
        ("orgroster_invitations.token_hash", constraint::UNIQUE_TOKEN),
        ("orgroster_teams.name_key", constraint::UNIQUE_TEAM_NAME),
        (
            "orgroster_team_members.member_id",
            constraint::ONE_TEAM_MEMBERSHIP,
        ),
    ];
    by_columns
        .into_iter()
        .find(|(cols, _)| message.contains(cols))
        .map_or(constraint::PRIMARY_KEY, |(_, rule)| rule)
}
