//! SQLite's one-call commit: the optimisation kept below the port for SQLite's commits (what
//! it buys, measured against the plain transaction, is in `docs/PERFORMANCE.md`).
//!
//! sqlx runs each SQLite connection on a thread of its own, so every statement a command runs
//! is a hop to that thread and back. A commit run step by step costs a hop for `BEGIN`, one
//! per statement and one for `COMMIT`. Here the whole commit, from `BEGIN IMMEDIATE` to
//! `COMMIT`, is one text of statements run by one call. The checks a step must pass are made
//! in SQL: after each checked step, the batch inserts into the view `orgroster_expect` (see
//! the migration) whether the step touched exactly one row, and the view's trigger raises,
//! naming the step, when it did not. The raise stops the batch before its `COMMIT`; the
//! store then rolls the transaction back, so nothing of the commit stays, and maps the step
//! to its error. Whoever runs a batch ends a transaction it leaves open (its future dropped,
//! the rollback failed) before the connection serves anyone else.
//!
//! sqlx's SQLite driver runs several statements given as one text; its documentation calls
//! that behaviour deprecated, so an upgrade of sqlx must keep the conformance suite passing.

use sqlx::{Executor as _, SqliteConnection};

use super::{err, query};
use crate::store::{
    StoreError,
    sql::{
        backend::{Arg, Statement},
        plan::{Expect, Step},
    },
};

/// SQLite's limit of bind parameters in one statement text: a larger commit (a bulk write)
/// runs step by step.
const MAX_PARAMS: usize = 32_766;

/// The start of the message the view's trigger raises, followed by the step's index.
const CHECK_MESSAGE: &str = "orgroster: a checked write of the commit did not apply at step ";

/// A commit's steps as one text of statements, every parameter an anonymous `?`.
#[derive(Debug)]
pub(super) struct Batch {
    statement: Statement,
    /// Each step's check, by step index (what a raised check names).
    checks: Vec<Option<Expect>>,
}

impl Batch {
    /// The steps as one batch, or the steps back when they take more parameters than one
    /// text may.
    pub(super) fn of(steps: Vec<Step>) -> Result<Self, Vec<Step>> {
        let params: usize = steps.iter().map(|s| s.statement.args.len()).sum();
        if params > MAX_PARAMS {
            return Err(steps);
        }
        let mut sql = String::from("BEGIN IMMEDIATE");
        let mut args = Vec::with_capacity(params);
        let mut persistent = true;
        let mut checks = Vec::with_capacity(steps.len());
        for (i, step) in steps.into_iter().enumerate() {
            sql.push_str("; ");
            let mut text = String::new();
            anonymize(
                &mut text,
                &step.statement.sql,
                step.statement.args,
                &mut args,
            );
            match (step.expect.is_some(), step.reads) {
                (false, _) => sql.push_str(&text),
                // A read is checked by the rows it finds.
                (true, true) => {
                    let rows = step.expect.map_or(1, Expect::rows);
                    sql.push_str(&format!(
                        "INSERT INTO orgroster_expect (step, ok) SELECT {i}, COUNT(*) = {rows} \
                         FROM ({text})"
                    ));
                }
                // A write by the rows it changed.
                (true, false) => {
                    sql.push_str(&text);
                    let rows = step.expect.map_or(1, Expect::rows);
                    sql.push_str(&format!(
                        "; INSERT INTO orgroster_expect (step, ok) VALUES ({i}, changes() = {rows})"
                    ));
                }
            }
            persistent &= step.statement.persistent;
            checks.push(step.expect);
        }
        sql.push_str("; COMMIT");
        let mut statement = Statement::new(sql, args);
        // A command's commit recurs with the same text; a bulk write's depends on its size.
        statement.persistent = persistent;
        Ok(Self { statement, checks })
    }

    /// Runs the batch on `conn`: committed whole, or rolled back with the error of the first
    /// step that failed. A failure says whether the rollback ended the transaction.
    pub(super) async fn run(self, conn: &mut SqliteConnection) -> Result<(), Failed> {
        let Err(e) = conn.execute(query(self.statement)).await else {
            return Ok(());
        };
        // The batch stopped before its COMMIT: roll back what it did.
        let ended = conn.execute("ROLLBACK").await.is_ok();
        let failed = e
            .as_database_error()
            .and_then(|db| {
                db.message()
                    .strip_prefix(CHECK_MESSAGE)?
                    .trim()
                    .parse()
                    .ok()
            })
            .and_then(|step: usize| *self.checks.get(step)?);
        Err(Failed {
            error: failed.map_or_else(|| err(e), Expect::error),
            ended,
        })
    }
}

/// A batch that did not commit.
#[derive(Debug)]
pub(super) struct Failed {
    /// Why.
    pub(super) error: StoreError,
    /// Whether its transaction was rolled back; if not, the connection may still hold it
    /// open.
    pub(super) ended: bool,
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
    use crate::store::sql::plan::Step;

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

    #[test]
    fn a_batch_checks_each_checked_step_and_commits_last() {
        let step = |sql: &'static str, reads, expect| Step {
            statement: Statement::new(sql, vec![Arg::Int(7)]),
            reads,
            expect,
        };
        let batch = Batch::of(vec![
            step(
                "SELECT 1 FROM o WHERE id = $1",
                true,
                Some(Expect::Missing("o")),
            ),
            step("INSERT INTO e VALUES (?)", false, None),
            step(
                "UPDATE i SET v = v + 1 WHERE id = $1",
                false,
                Some(Expect::Conflict("i")),
            ),
        ])
        .expect("small enough");
        assert_eq!(
            batch.statement.sql,
            "BEGIN IMMEDIATE; INSERT INTO orgroster_expect (step, ok) SELECT 0, COUNT(*) = 1 \
             FROM (SELECT 1 FROM o WHERE id = ?); INSERT INTO e VALUES (?); UPDATE i SET v = \
             v + 1 WHERE id = ?; INSERT INTO orgroster_expect (step, ok) VALUES (2, changes() \
             = 1); COMMIT"
        );
        assert_eq!(batch.statement.args.len(), 3);
        assert_eq!(
            batch.checks,
            [
                Some(Expect::Missing("o")),
                None,
                Some(Expect::Conflict("i"))
            ]
        );
    }
}
