//! PostgreSQL's one-statement commit: the optimisation kept below the port for PostgreSQL
//! (what it buys, measured against the plain transaction, is in `docs/PERFORMANCE.md`).
//!
//! A commit run as a transaction costs a round trip for `BEGIN`, one per statement and one
//! for `COMMIT`, and holds its row locks across all of them, so that concurrent commands on
//! one organization queue behind each other's round trips. When no step of a commit reads
//! what another step writes, the commit runs instead as ONE statement whose steps are
//! data-modifying `WITH` clauses: one round trip, in the statement's own implicit
//! transaction.
//!
//! Every clause of such a statement sees the snapshot the statement started from, not the
//! other clauses' writes, so only commits whose steps are independent qualify (see
//! [`independent`]); the others take the plain path. The final `SELECT` passes each checked
//! step's row count to `orgroster_expect` (defined in the migration), which raises
//! [`CHECK_FAILED`] naming the step when the count is not 1: the raise aborts the statement
//! and every write of the commit with it, as a failed check rolls back the transaction on
//! the plain path. Unique and foreign-key violations abort it the same way (foreign keys are
//! checked when the whole statement is done, so a new organization and its founder can go
//! in together).

use std::fmt::Write as _;

use crate::{
    domain::changes::{ChangeSet, Write},
    store::{
        StoreError,
        sql::{
            backend::Statement,
            plan::{Expect, Step},
        },
    },
};

/// The SQLSTATE `orgroster_expect` raises.
pub(super) const CHECK_FAILED: &str = "OR409";

/// The start of the message `orgroster_expect` raises, followed by the step's index.
const CHECK_MESSAGE: &str = "orgroster: a checked write of the commit did not apply at step ";

/// PostgreSQL's limit of bind parameters in one statement.
const MAX_PARAMS: usize = 65_535;

/// The commit as one statement and the checks of its steps, or its steps back when it must
/// run step by step: they are not [`independent`], or together they take more parameters
/// than one statement may.
pub(super) fn fuse(
    changes: &ChangeSet,
    steps: Vec<Step>,
) -> Result<(Statement, Checks), Vec<Step>> {
    let params: usize = steps.iter().map(|s| s.statement.args.len()).sum();
    if !independent(changes) || params > MAX_PARAMS {
        return Err(steps);
    }
    let mut sql = String::from("WITH ");
    let mut checks = String::from(" SELECT 0");
    let mut args = Vec::with_capacity(params);
    let mut persistent = true;
    let mut expects = Vec::with_capacity(steps.len());
    for (i, step) in steps.into_iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "s{i} AS (");
        renumber(&mut sql, &step.statement.sql, args.len());
        if step.expect.is_some() {
            if !step.reads {
                sql.push_str(" RETURNING 1");
            }
            let _ = write!(
                checks,
                " + orgroster_expect((SELECT count(*) FROM s{i}), {i})"
            );
        }
        sql.push(')');
        persistent &= step.statement.persistent;
        args.extend(step.statement.args);
        expects.push(step.expect);
    }
    sql.push_str(&checks);
    let mut statement = Statement::new(sql, args);
    // A command's commit recurs with the same text; a bulk write's depends on its size.
    statement.persistent = persistent;
    Ok((statement, Checks(expects)))
}

/// Each step's check of a fused commit, by step index (what a raised check names).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Checks(Vec<Option<Expect>>);

impl Checks {
    /// The error a failed step's check stands for, when the database error `code` and
    /// `message` are `orgroster_expect`'s raise.
    pub(super) fn failed_check(&self, code: Option<&str>, message: &str) -> Option<StoreError> {
        if code != Some(CHECK_FAILED) {
            return None;
        }
        let step: usize = message.strip_prefix(CHECK_MESSAGE)?.trim().parse().ok()?;
        let expect = (*self.0.get(step)?)?;
        Some(expect.error())
    }
}

/// Whether no step of the commit reads a row another step writes, so that all of them can
/// run against one snapshot: the commit puts organizations, invitations, members and teams,
/// queues mail again (each row at most once), queues mail and records events. Team memberships and deletions
/// do not qualify: opening and closing a stint reads the member's row, and a deletion
/// closes the stints of the row it removes.
fn independent(changes: &ChangeSet) -> bool {
    let mut written = Vec::with_capacity(changes.writes.len());
    for write in &changes.writes {
        written.push(match write {
            Write::PutInvitation(i) => i.id.as_uuid(),
            Write::PutMember(m) => m.id.as_uuid(),
            Write::PutTeam(t) => t.id.as_uuid(),
            Write::RequeueMail { mail, .. } => mail.as_uuid(),
            // Deletions, deactivation's mail withdrawal and an erasure's rewrites read or
            // remove rows other steps touch, and are rare: they run step by step.
            Write::DeleteMember { .. }
            | Write::WithdrawMailTo { .. }
            | Write::RewriteInvitation(_)
            | Write::RewriteEvent(_)
            | Write::RewriteMail(_)
            | Write::Pseudonymize { .. }
            | Write::DeleteTeam { .. }
            | Write::AddTeamMember { .. }
            | Write::RemoveTeamMember { .. } => return false,
        });
    }
    written.sort_unstable();
    let count = written.len();
    written.dedup();
    written.len() == count
}

/// Appends `sql` with every `$N` parameter shifted by `base`.
fn renumber(out: &mut String, sql: &str, base: usize) {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => {
                let _ = write!(out, "{}", n + base);
            }
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::{
        domain::{
            changes::OrganizationWrite,
            ids::{MemberId, OrganizationId, TeamId},
        },
        store::sql::plan::plan,
    };

    #[test]
    fn renumbering_shifts_every_parameter_and_nothing_else() {
        let mut out = String::new();
        renumber(&mut out, "SELECT $1, $12::jsonb, '$' WHERE a = $2", 10);
        assert_eq!(out, "SELECT $11, $22::jsonb, '$' WHERE a = $12");
    }

    fn changes(writes: Vec<Write>) -> ChangeSet {
        let mut changes = ChangeSet::new(
            OrganizationId::new(),
            OrganizationWrite::Touch {
                expected_version: 3,
            },
        );
        changes.writes = writes;
        changes
    }

    #[test]
    fn a_commit_of_memberships_or_deletions_runs_step_by_step() {
        let at = DateTime::<Utc>::from_timestamp(1_767_603_600, 0).expect("a time");
        let (team, member) = (TeamId::new(), MemberId::new());
        for write in [
            Write::AddTeamMember { team, member, at },
            Write::RemoveTeamMember { team, member, at },
            Write::DeleteMember {
                member,
                expected_version: 1,
                at,
            },
            Write::DeleteTeam {
                team,
                expected_version: 1,
                at,
            },
        ] {
            let changes = changes(vec![write]);
            let steps = plan(&changes, true).expect("a plan");
            assert!(fuse(&changes, steps).is_err());
        }
    }

    #[test]
    fn a_fused_commit_checks_each_checked_step_and_names_it() {
        let changes = changes(Vec::new());
        let steps = plan(&changes, true).expect("a plan");
        let (statement, checks) = fuse(&changes, steps).expect("independent");
        assert!(statement.sql.starts_with("WITH s0 AS (UPDATE"));
        assert!(
            statement.sql.ends_with(
                " RETURNING 1) SELECT 0 + orgroster_expect((SELECT count(*) FROM s0), 0)"
            )
        );
        let message = format!("{CHECK_MESSAGE}0");
        assert!(matches!(
            checks.failed_check(Some(CHECK_FAILED), &message),
            Some(StoreError::Conflict {
                entity: "organization"
            })
        ));
        assert!(checks.failed_check(Some("23505"), &message).is_none());
        assert_eq!(checks, Checks(vec![Some(Expect::Conflict("organization"))]));
    }
}
