//! SQLite's batched commit: the optimisation kept below the port for SQLite's commits (what
//! it buys, measured against the plain transaction, is in `docs/PERFORMANCE.md`).
//!
//! sqlx runs each SQLite connection on a thread of its own, so every statement a command runs
//! is a hop to that thread and back. A commit run step by step costs a hop for `BEGIN`, one
//! per statement and one for `COMMIT`; here its statements go in one text, run by one call,
//! and the thread streams back each statement's result as it finishes: three hops whatever
//! the commit's size. The checks are the plain path's, made on the streamed results in
//! order: the first that fails drops the transaction, which rolls back every statement of
//! the batch, those run after it included.

use sqlx::{Either, Executor as _};

use super::{SqliteBackend, err};
use crate::store::{
    StoreError,
    sql::{
        backend::{Arg, Backend as _, Statement, Transaction as _, corrupt},
        plan::{Expect, Step},
    },
};

/// SQLite's limit of bind parameters in one statement text: a larger commit (a bulk write)
/// runs step by step.
const MAX_PARAMS: usize = 32_766;

/// A commit's steps as one text of statements, every parameter an anonymous `?`.
#[derive(Debug)]
pub(super) struct Batch {
    statement: Statement,
    /// Each step's kind and check, in order.
    steps: Vec<(bool, Option<Expect>)>,
}

impl Batch {
    /// The steps as one batch, or the steps back when they take more parameters than one
    /// text may.
    pub(super) fn of(steps: Vec<Step>) -> Result<Self, Vec<Step>> {
        let params: usize = steps.iter().map(|s| s.statement.args.len()).sum();
        if params > MAX_PARAMS {
            return Err(steps);
        }
        let mut sql = String::new();
        let mut args = Vec::with_capacity(params);
        let mut persistent = true;
        let mut checks = Vec::with_capacity(steps.len());
        for step in steps {
            if !sql.is_empty() {
                sql.push_str("; ");
            }
            anonymize(&mut sql, &step.statement.sql, step.statement.args, &mut args);
            persistent &= step.statement.persistent;
            checks.push((step.reads, step.expect));
        }
        let mut statement = Statement::new(sql, args);
        // A command's commit recurs with the same text; a bulk write's depends on its size.
        statement.persistent = persistent;
        Ok(Self {
            statement,
            steps: checks,
        })
    }

    /// Runs the batch in one transaction of `backend`, checking each step's result as it
    /// comes back, and commits when every check held.
    pub(super) async fn run(self, backend: &SqliteBackend) -> Result<(), StoreError> {
        let mut tx = backend.begin().await?;
        let mut results = (&mut *tx.tx).fetch_many(super::query(self.statement));
        let mut step = 0;
        let mut rows = 0_u64;
        while let Some(result) = std::future::poll_fn(|cx| results.as_mut().poll_next(cx))
            .await
            .transpose()
            .map_err(err)?
        {
            let done = match result {
                Either::Right(_) => {
                    rows += 1;
                    continue;
                }
                Either::Left(done) => done,
            };
            let Some(&(reads, expect)) = self.steps.get(step) else {
                return Err(corrupt(super::NAME, "a batch ran more statements than it holds"));
            };
            // A read's statement changes nothing: its count is the rows it returned.
            let affected = if reads { rows } else { done.rows_affected() };
            if let Some(expect) = expect
                && affected != 1
            {
                // Dropped, the transaction rolls back: nothing of the commit stays.
                return Err(expect.error());
            }
            step += 1;
            rows = 0;
        }
        drop(results);
        if step != self.steps.len() {
            return Err(corrupt(super::NAME, "a batch ran fewer statements than it holds"));
        }
        tx.commit().await
    }
}

/// Appends `sql` with each `$N` as `?`, pushing the `N`th of `step_args` for it (again for
/// each use); a statement without `$N` parameters keeps its own, in order. sqlx binds a
/// batch's anonymous parameters statement after statement, but `$N` by its number across
/// the whole text.
fn anonymize(out: &mut String, sql: &str, step_args: Vec<Arg>, args: &mut Vec<Arg>) {
    let mut rest = sql;
    let mut numbered = false;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits]
            .parse::<usize>()
            .ok()
            .and_then(|n| step_args.get(n.checked_sub(1)?))
        {
            Some(arg) => {
                numbered = true;
                out.push('?');
                args.push(arg.clone());
            }
            None => {
                out.push('$');
                out.push_str(&rest[..digits]);
            }
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    if !numbered {
        args.extend(step_args);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymizing_binds_each_use_of_a_parameter_in_order() {
        let mut sql = String::new();
        let mut args = Vec::new();
        anonymize(
            &mut sql,
            "UPDATE t SET a = $2 WHERE id = $1 AND b = $2",
            vec![Arg::Int(1), Arg::Int(2)],
            &mut args,
        );
        anonymize(
            &mut sql,
            "; INSERT INTO u VALUES (?, ?)",
            vec![Arg::Int(3), Arg::Int(4)],
            &mut args,
        );
        assert_eq!(
            sql,
            "UPDATE t SET a = ? WHERE id = ? AND b = ?; INSERT INTO u VALUES (?, ?)"
        );
        assert_eq!(
            args,
            [2, 1, 2, 3, 4].map(Arg::Int).to_vec(),
            "each use of a parameter binds its value again"
        );
    }
}
