//! A change set as the SQL statements that apply it, decided once for both SQL stores.
//!
//! Planning is pure: it turns a [`ChangeSet`] into [`Step`]s (statement, arguments, and the
//! check on the rows it must affect). The stores then run the plan in as few calls as they
//! can: SQLite as one batch of statements from `BEGIN IMMEDIATE` to `COMMIT` (see
//! [`batch`]); PostgreSQL, when the steps are independent of each other, as ONE statement
//! whose steps are data-modifying `WITH` clauses (see [`one_statement`]), otherwise step by
//! step in a transaction. Either way a commit is one call instead of one per statement plus
//! `BEGIN` and `COMMIT`.

use std::{borrow::Cow, fmt::Write as _};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    StoreError,
    sql::{
        ADD_NEW_MEMBER_TO_TEAM, ADD_TEAM_MEMBER, BATCH_ROWS, CLOSE_MEMBER_STINTS, CLOSE_STINT,
        CLOSE_TEAM_STINTS, DELETE_MEMBER, DELETE_TEAM, EVENT_INSERT_COLUMNS, INSERT_MEMBER,
        INSERT_ORG, INSERT_TEAM, INVITATION_INSERT_COLUMNS, OPEN_NEW_MEMBER_STINT, OPEN_STINT,
        ORG_EXISTS, OUTBOX_INSERT_COLUMNS, REMOVE_TEAM_MEMBER, TOUCH_ORG, UPDATE_INVITATION,
        UPDATE_MEMBER, UPDATE_ORG, UPDATE_TEAM, WITHDRAW_INVITATION_MAIL, insert_many, micros,
        status_name, to_json, version_param,
    },
};
use crate::domain::{
    changes::{ChangeSet, OrganizationWrite, Write},
    invitation::Invitation,
};

/// One bound value. Owned, so that a plan outlives the change set it came from.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bytes(Vec<u8>),
}

/// What a step must have done, or the commit fails (and nothing of it stays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Exactly one row, or someone else changed it since it was read: a conflict.
    Conflict(&'static str),
    /// Exactly one row, or what it refers to is gone.
    Missing(&'static str),
}

impl Expect {
    /// The error when the step did not affect exactly one row.
    pub(crate) fn error(self) -> StoreError {
        match self {
            Self::Conflict(entity) => StoreError::Conflict { entity },
            Self::Missing(entity) => StoreError::Missing { entity },
        }
    }
}

/// One statement of a plan.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// The statement, its parameters numbered from `$1` (or anonymous `?` on SQLite).
    pub(crate) sql: Cow<'static, str>,
    /// Its arguments, in order.
    pub(crate) args: Vec<Arg>,
    /// The check on the rows it affects, if any.
    pub(crate) expect: Option<Expect>,
}

impl Step {
    /// Whether it only reads (an existence check): run with a fetch, not an execute.
    pub(crate) fn is_query(&self) -> bool {
        self.sql.starts_with("SELECT")
    }
}

/// The statements of one commit, in order.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The statements.
    pub(crate) steps: Vec<Step>,
    /// Whether every step would give the same result if they all ran against the state
    /// before the commit: no step reads a row an earlier one writes, and no two steps write
    /// the same row. Only then may the steps run as parts of one statement, where they all
    /// see one snapshot. Team memberships (whose statements read members and teams) and
    /// deletions (which cascade) make a plan dependent, except a membership of a member the
    /// plan inserts, earlier, in a team it does not write (an acceptance into a team).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) independent: bool,
}

#[cfg(feature = "postgres")]
/// PostgreSQL refuses a statement with more than 65,535 parameters.
const MAX_PARAMS: usize = 65_535;

/// Where the SQL of the two stores differs in a plan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The batched inserts use `?` rather than `$N`.
    pub(crate) anonymous: bool,
    /// [`OrganizationWrite::Check`]: the organization `$1` is at version `$2`, one row if so,
    /// holding the row against changes until the commit ends where the database needs it.
    pub(crate) check_org: &'static str,
}

/// Plans `changes` in `dialect`.
pub(crate) fn plan(changes: &ChangeSet, dialect: Dialect) -> Result<Plan, StoreError> {
    let anonymous = dialect.anonymous;
    let org = changes.organization.as_uuid();
    let mut steps = Vec::new();
    let mut independent = true;
    // The rows the puts write: a second write of one row makes the plan dependent.
    let mut written: Vec<Uuid> = Vec::new();
    // The members this commit inserts, with their users: adding one of them to a team needs
    // no read of the members table (an acceptance into a team).
    let mut new_members: Vec<(Uuid, Uuid)> = Vec::new();
    let missing = || StoreError::Missing {
        entity: "organization",
    };
    match &changes.organization_write {
        OrganizationWrite::Untouched => steps.push(Step {
            sql: ORG_EXISTS.into(),
            args: vec![Arg::Uuid(org)],
            expect: Some(Expect::Missing("organization")),
        }),
        OrganizationWrite::Touch { expected_version } => steps.push(Step {
            sql: TOUCH_ORG.into(),
            args: vec![Arg::Uuid(org), Arg::Int(version_param(*expected_version)?)],
            expect: Some(Expect::Conflict("organization")),
        }),
        OrganizationWrite::Check { expected_version } => steps.push(Step {
            sql: dialect.check_org.into(),
            args: vec![Arg::Uuid(org), Arg::Int(version_param(*expected_version)?)],
            expect: Some(Expect::Conflict("organization")),
        }),
        OrganizationWrite::Put(o) => {
            if o.id != changes.organization {
                return Err(missing());
            }
            let mut args = vec![
                Arg::Uuid(org),
                Arg::Text(o.name.as_str().to_owned()),
                Arg::Text(to_json(&o.licenses)?),
                Arg::Text(to_json(&o.capabilities)?),
                Arg::OptInt(o.seat_cap.map(i64::from)),
            ];
            let sql = if o.version == 0 {
                args.extend([Arg::Int(micros(o.created_at)), Arg::Int(1)]);
                INSERT_ORG
            } else {
                args.push(Arg::Int(version_param(o.version)?));
                UPDATE_ORG
            };
            steps.push(Step {
                sql: sql.into(),
                args,
                expect: Some(Expect::Conflict("organization")),
            });
        }
    }
    let writes = &changes.writes;
    let mut i = 0;
    while i < writes.len() {
        match &writes[i] {
            Write::PutInvitation(Invitation { version: 0, .. }) => {
                // A run of new invitations (a bulk invitation) goes in batched inserts.
                let mut run = Vec::new();
                while let Some(Write::PutInvitation(inv)) = writes.get(i) {
                    if inv.version != 0 {
                        break;
                    }
                    if inv.organization != changes.organization {
                        return Err(missing());
                    }
                    written.push(inv.id.as_uuid());
                    run.push(inv);
                    i += 1;
                }
                for chunk in run.chunks(BATCH_ROWS) {
                    let mut args =
                        Vec::with_capacity(chunk.len() * INVITATION_INSERT_COLUMNS.len());
                    for inv in chunk {
                        invitation_args(inv, &mut args);
                        args.push(Arg::Int(1));
                    }
                    steps.push(Step {
                        sql: insert_many(
                            "orgroster_invitations",
                            INVITATION_INSERT_COLUMNS,
                            chunk.len(),
                            anonymous,
                        )
                        .into(),
                        args,
                        expect: None,
                    });
                }
                continue;
            }
            Write::PutInvitation(inv) => {
                if inv.organization != changes.organization {
                    return Err(missing());
                }
                written.push(inv.id.as_uuid());
                let mut args = Vec::with_capacity(INVITATION_INSERT_COLUMNS.len());
                invitation_args(inv, &mut args);
                args.push(Arg::Int(version_param(inv.version)?));
                steps.push(Step {
                    sql: UPDATE_INVITATION.into(),
                    args,
                    expect: Some(Expect::Conflict("invitation")),
                });
                // Its link is dead: so is its queued mail (spec: INV-13). The mail this
                // commit queues (a resend's) is inserted later, and in one statement the
                // deletion sees only rows from before it.
                steps.push(Step {
                    sql: WITHDRAW_INVITATION_MAIL.into(),
                    args: vec![Arg::Uuid(inv.id.as_uuid()), Arg::Uuid(org)],
                    expect: None,
                });
            }
            Write::PutMember(m) => {
                if m.organization != changes.organization {
                    return Err(missing());
                }
                written.push(m.id.as_uuid());
                if m.version == 0 {
                    new_members.push((m.id.as_uuid(), m.user.as_uuid()));
                }
                let args = vec![
                    Arg::Uuid(m.id.as_uuid()),
                    Arg::Uuid(org),
                    Arg::Uuid(m.user.as_uuid()),
                    Arg::Text(m.email.as_str().to_owned()),
                    Arg::Text(m.email.key().to_owned()),
                    Arg::Text(m.profile.first_name.as_str().to_owned()),
                    Arg::Text(m.profile.last_name.as_str().to_owned()),
                    Arg::Int(i64::from(m.roles.bits())),
                    Arg::Int(micros(m.joined_at)),
                    Arg::OptUuid(m.invitation.map(|i| i.as_uuid())),
                ];
                steps.push(put(
                    m.version,
                    (INSERT_MEMBER, UPDATE_MEMBER),
                    "member",
                    args,
                )?);
            }
            Write::DeleteMember {
                member,
                expected_version,
                at,
            } => {
                independent = false;
                let deletion = Deletion {
                    id: member.as_uuid(),
                    expected_version: *expected_version,
                    at: *at,
                    entity: "member",
                };
                deletion.steps(
                    org,
                    (CLOSE_MEMBER_STINTS, DELETE_MEMBER),
                    Order::StintsFirst,
                    &mut steps,
                )?;
            }
            Write::PutTeam(t) => {
                if t.organization != changes.organization {
                    return Err(missing());
                }
                written.push(t.id.as_uuid());
                let mut args = vec![
                    Arg::Uuid(t.id.as_uuid()),
                    Arg::Uuid(org),
                    Arg::Text(t.name.as_str().to_owned()),
                    Arg::Text(t.name.key()),
                    Arg::OptText(t.page.message.as_ref().map(|m| m.as_str().to_owned())),
                    Arg::Text(to_json(&t.page.suggested_courses)?),
                ];
                if t.version == 0 {
                    args.push(Arg::Int(micros(t.created_at)));
                }
                steps.push(put(t.version, (INSERT_TEAM, UPDATE_TEAM), "team", args)?);
            }
            Write::DeleteTeam {
                team,
                expected_version,
                at,
            } => {
                independent = false;
                let deletion = Deletion {
                    id: team.as_uuid(),
                    expected_version: *expected_version,
                    at: *at,
                    entity: "team",
                };
                deletion.steps(
                    org,
                    (CLOSE_TEAM_STINTS, DELETE_TEAM),
                    Order::RowFirst,
                    &mut steps,
                )?;
            }
            Write::AddTeamMember { team, member, at } => {
                let key = [
                    Arg::Uuid(team.as_uuid()),
                    Arg::Uuid(member.as_uuid()),
                    Arg::Uuid(org),
                ];
                let new_user = new_members
                    .iter()
                    .find(|(id, _)| *id == member.as_uuid())
                    .map(|(_, user)| *user);
                // A team this commit writes too is read by the check: that stays dependent.
                let (add, stint, stint_args) = match new_user {
                    Some(user) if !written.contains(&team.as_uuid()) => (
                        ADD_NEW_MEMBER_TO_TEAM,
                        OPEN_NEW_MEMBER_STINT,
                        vec![
                            Arg::Uuid(org),
                            Arg::Uuid(team.as_uuid()),
                            Arg::Uuid(user),
                            Arg::Int(micros(*at)),
                        ],
                    ),
                    _ => {
                        independent = false;
                        let mut args = key.to_vec();
                        args.push(Arg::Int(micros(*at)));
                        (ADD_TEAM_MEMBER, OPEN_STINT, args)
                    }
                };
                steps.push(Step {
                    sql: add.into(),
                    args: key.to_vec(),
                    expect: Some(Expect::Missing("team or member")),
                });
                steps.push(Step {
                    sql: stint.into(),
                    args: stint_args,
                    expect: None,
                });
            }
            Write::RemoveTeamMember { team, member, at } => {
                independent = false;
                let key = [
                    Arg::Uuid(team.as_uuid()),
                    Arg::Uuid(member.as_uuid()),
                    Arg::Uuid(org),
                ];
                let mut args = key.to_vec();
                args.push(Arg::Int(micros(*at)));
                steps.push(Step {
                    sql: CLOSE_STINT.into(),
                    args,
                    expect: None,
                });
                steps.push(Step {
                    sql: REMOVE_TEAM_MEMBER.into(),
                    args: key.to_vec(),
                    expect: Some(Expect::Conflict("team membership")),
                });
            }
        }
        i += 1;
    }
    for chunk in changes.events.chunks(BATCH_ROWS) {
        let mut args = Vec::with_capacity(chunk.len() * EVENT_INSERT_COLUMNS.len());
        for e in chunk {
            args.extend([
                Arg::Uuid(e.id.as_uuid()),
                Arg::Uuid(org),
                Arg::Int(micros(e.at)),
                Arg::Text(to_json(&e.actor)?),
                Arg::Text(to_json(&e.kind)?),
            ]);
        }
        steps.push(Step {
            sql: insert_many(
                "orgroster_events",
                EVENT_INSERT_COLUMNS,
                chunk.len(),
                anonymous,
            )
            .into(),
            args,
            expect: None,
        });
    }
    for chunk in changes.outbox.chunks(BATCH_ROWS) {
        let mut args = Vec::with_capacity(chunk.len() * OUTBOX_INSERT_COLUMNS.len());
        for m in chunk {
            args.extend([
                Arg::Uuid(m.id.as_uuid()),
                Arg::Uuid(org),
                Arg::Text(m.to.as_str().to_owned()),
                Arg::Text(to_json(&m.content)?),
                Arg::OptUuid(m.invitation().map(|i| i.as_uuid())),
                Arg::Text(status_name(m.status).to_owned()),
                Arg::Int(i64::from(m.attempts)),
                Arg::Int(micros(m.created_at)),
                Arg::Int(micros(m.due_at)),
                Arg::OptInt(m.lease_until.map(micros)),
                Arg::OptText(m.last_error.clone()),
            ]);
        }
        steps.push(Step {
            sql: insert_many(
                "orgroster_outbox",
                OUTBOX_INSERT_COLUMNS,
                chunk.len(),
                anonymous,
            )
            .into(),
            args,
            expect: None,
        });
    }
    written.sort_unstable();
    let before = written.len();
    written.dedup();
    independent &= written.len() == before;
    Ok(Plan { steps, independent })
}

/// A versioned row deleted with its team-membership history closed first: a member, or a
/// team. Both statements take (`id`, organization, …).
struct Deletion {
    id: Uuid,
    expected_version: u64,
    at: DateTime<Utc>,
    entity: &'static str,
}

/// Which statement of a [`Deletion`] runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// The stints, while the row they read is still there (a member's).
    StintsFirst,
    /// The row. A team's goes first: on PostgreSQL its delete waits for a commit that is
    /// adding a member to it (that member's foreign key holds the team's row), and closing
    /// the stints afterwards, in a statement of its own, sees the stint that commit opened:
    /// none stays open for a deleted team (spec: TEAM-4).
    RowFirst,
}

impl Deletion {
    /// Ends the open stints (`close`: `$3` the time) and deletes the row (`delete`: `$3`
    /// the version read), in `order`.
    fn steps(
        self,
        org: Uuid,
        (close, delete): (&'static str, &'static str),
        order: Order,
        steps: &mut Vec<Step>,
    ) -> Result<(), StoreError> {
        let close = Step {
            sql: close.into(),
            args: vec![
                Arg::Uuid(self.id),
                Arg::Uuid(org),
                Arg::Int(micros(self.at)),
            ],
            expect: None,
        };
        let delete = Step {
            sql: delete.into(),
            args: vec![
                Arg::Uuid(self.id),
                Arg::Uuid(org),
                Arg::Int(version_param(self.expected_version)?),
            ],
            expect: Some(Expect::Conflict(self.entity)),
        };
        match order {
            Order::StintsFirst => steps.extend([close, delete]),
            Order::RowFirst => steps.extend([delete, close]),
        }
        Ok(())
    }
}

/// An invitation's columns in the order of [`INVITATION_INSERT_COLUMNS`], without `version`.
fn invitation_args(inv: &Invitation, args: &mut Vec<Arg>) {
    args.extend([
        Arg::Uuid(inv.id.as_uuid()),
        Arg::Uuid(inv.organization.as_uuid()),
        Arg::Text(inv.email.as_str().to_owned()),
        Arg::Text(inv.email.key().to_owned()),
        Arg::OptText(
            inv.invitee
                .as_ref()
                .map(|p| p.first_name.as_str().to_owned()),
        ),
        Arg::OptText(
            inv.invitee
                .as_ref()
                .map(|p| p.last_name.as_str().to_owned()),
        ),
        Arg::Text(inv.role.as_str().to_owned()),
        Arg::OptUuid(inv.team.map(|t| t.as_uuid())),
        Arg::Text(inv.status.as_str().to_owned()),
        Arg::Bytes(inv.token_hash.as_bytes().to_vec()),
        Arg::Uuid(inv.invited_by.as_uuid()),
        Arg::Int(micros(inv.created_at)),
        Arg::Int(micros(inv.sent_at)),
        Arg::Int(micros(inv.expires_at)),
        Arg::Int(i64::from(inv.resend_count)),
        Arg::OptInt(inv.closed_at.map(micros)),
        Arg::OptUuid(inv.closed_by.map(|u| u.as_uuid())),
    ]);
}

/// The SQLSTATE `orgroster_expect` raises (PostgreSQL migration 0004).
const EXPECT_FAILED: &str = "OR409";

/// SQLite's extended result code for `RAISE(ABORT, …)` in a trigger (SQLITE_CONSTRAINT_TRIGGER),
/// which the `orgroster_expect` view raises (SQLite migration 0004).
const TRIGGER_RAISED: &str = "1811";

/// How both stores' failed checks begin their message; the step's index ends it.
const EXPECT_MESSAGE: &str = "orgroster: a checked write of the commit did not apply at step ";

#[cfg(feature = "postgres")]
/// The plan as one PostgreSQL statement, or `None` when it must run step by step (its steps
/// depend on each other, or it has too many parameters for one statement).
///
/// Each step becomes a data-modifying `WITH` clause; PostgreSQL runs them all, to
/// completion, as one statement and so in one implicit transaction. The final `SELECT`
/// passes each checked step's row count to `orgroster_expect`, which raises
/// [`EXPECT_FAILED`] with the step's index when it is not 1: the raise aborts the
/// statement, and every write of the change set with it. Unique and foreign-key
/// violations abort it the same way, with the constraint's name as in a transaction.
pub(crate) fn one_statement(plan: &Plan) -> Option<String> {
    let params: usize = plan.steps.iter().map(|s| s.args.len()).sum();
    if !plan.independent || params > MAX_PARAMS {
        return None;
    }
    let mut sql = String::from("WITH ");
    let mut checks = String::from(" SELECT 0");
    let mut base = 0;
    for (i, step) in plan.steps.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "s{i} AS (");
        renumber(&mut sql, &step.sql, base);
        if step.expect.is_some() {
            if !step.is_query() {
                sql.push_str(" RETURNING 1");
            }
            let _ = write!(
                checks,
                " + orgroster_expect((SELECT count(*) FROM s{i}), {i})"
            );
        }
        sql.push(')');
        base += step.args.len();
    }
    sql.push_str(&checks);
    Some(sql)
}

#[cfg(feature = "sqlite")]
/// A plan as one string of SQLite statements, run by one call into SQLite.
#[derive(Debug)]
pub(crate) struct Batch {
    /// `BEGIN IMMEDIATE; …; COMMIT`, every parameter an anonymous `?`.
    pub(crate) sql: String,
    /// The arguments of every statement, in order.
    pub(crate) args: Vec<Arg>,
    /// Each step's check, by step index (what a raised check names).
    pub(crate) expects: Vec<Option<Expect>>,
}

#[cfg(feature = "sqlite")]
/// Batches up to this long recur with the same text (one invitation, one acceptance) and are
/// worth keeping prepared; longer ones are bulk writes whose text depends on their size.
const PREPARED_BATCH_LEN: usize = 8 * 1024;

#[cfg(feature = "sqlite")]
impl Batch {
    /// Whether to keep the batch's statements prepared on the connection.
    pub(crate) fn recurs(&self) -> bool {
        self.sql.len() <= PREPARED_BATCH_LEN
    }
}

#[cfg(feature = "sqlite")]
/// The plan as one batch of SQLite statements: `BEGIN IMMEDIATE`, the steps, `COMMIT`.
///
/// In process a statement costs no network round trip, but each call into the connection
/// is a hand-off to the thread that owns it (about 50 µs here, more than most statements
/// take): a batch is one hand-off instead of one per statement plus `BEGIN` and `COMMIT`.
/// After each checked step, the batch inserts the step's row count into the
/// `orgroster_expect` view, whose trigger raises when it is not 1; the raise stops the batch
/// before its `COMMIT`, and the store rolls the transaction back. Parameters become
/// anonymous, because SQLite numbers `?` across the statements of a batch while `$N`
/// would name the same argument in every statement.
///
/// # Errors
/// [`StoreError::Backend`] if a step names an argument it does not have (a planner bug).
pub(crate) fn batch(plan: Plan) -> Result<Batch, StoreError> {
    let mut sql = String::from("BEGIN IMMEDIATE; ");
    let mut args = Vec::with_capacity(plan.steps.iter().map(|s| s.args.len()).sum());
    let mut expects = Vec::with_capacity(plan.steps.len());
    for (i, step) in plan.steps.into_iter().enumerate() {
        let query = step.is_query();
        match step.expect {
            Some(_) if query => {
                let _ = write!(
                    sql,
                    "INSERT INTO orgroster_expect (step, ok) SELECT {i}, count(*) FROM ("
                );
                anonymize(&mut sql, &step.sql, step.args, &mut args)?;
                sql.push_str("); ");
            }
            Some(_) => {
                anonymize(&mut sql, &step.sql, step.args, &mut args)?;
                let _ = write!(
                    sql,
                    "; INSERT INTO orgroster_expect (step, ok) VALUES ({i}, changes()); "
                );
            }
            None => {
                anonymize(&mut sql, &step.sql, step.args, &mut args)?;
                sql.push_str("; ");
            }
        }
        expects.push(step.expect);
    }
    sql.push_str("COMMIT");
    Ok(Batch { sql, args, expects })
}

/// The step that writes a row read at `version` (0: a new row), with `args` as the insert
/// takes them (the update also takes the version). An insert of values writes its row or
/// fails on a unique rule (a duplicate), so only the update is checked: it misses its row
/// when someone changed it since it was read.
fn put(
    version: u64,
    (insert, update): (&'static str, &'static str),
    entity: &'static str,
    mut args: Vec<Arg>,
) -> Result<Step, StoreError> {
    if version == 0 {
        return Ok(Step {
            sql: insert.into(),
            args,
            expect: None,
        });
    }
    args.push(Arg::Int(version_param(version)?));
    Ok(Step {
        sql: update.into(),
        args,
        expect: Some(Expect::Conflict(entity)),
    })
}

/// The step whose check failed, when a database error is a raised check (either store's).
pub(crate) fn failed_check(code: Option<&str>, message: &str) -> Option<usize> {
    if !matches!(code, Some(EXPECT_FAILED | TRIGGER_RAISED)) {
        return None;
    }
    message.strip_prefix(EXPECT_MESSAGE)?.trim().parse().ok()
}

#[cfg(feature = "sqlite")]
/// Appends `sql` with each `$N` as `?`, pushing the `N`th of `step_args` for it (again for
/// each use); a statement without `$N` parameters keeps its own, in order.
fn anonymize(
    out: &mut String,
    sql: &str,
    step_args: Vec<Arg>,
    args: &mut Vec<Arg>,
) -> Result<(), StoreError> {
    if !has_numbered_parameter(sql) {
        out.push_str(sql);
        args.extend(step_args);
        return Ok(());
    }
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => {
                let arg = n
                    .checked_sub(1)
                    .and_then(|i| step_args.get(i))
                    .ok_or_else(|| StoreError::Backend {
                        backend: "sqlite",
                        source: format!("a planned statement has no argument for ${n}").into(),
                    })?;
                out.push('?');
                args.push(arg.clone());
            }
            Err(_) => out.push('$'),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(feature = "sqlite")]
/// Whether `sql` has a `$N` parameter.
fn has_numbered_parameter(sql: &str) -> bool {
    sql.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'$' && w[1].is_ascii_digit())
}

#[cfg(feature = "postgres")]
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
    use super::*;

    #[cfg(feature = "postgres")]
    #[test]
    fn renumbering_shifts_every_parameter_and_nothing_else() {
        let mut out = String::new();
        renumber(
            &mut out,
            "UPDATE t SET a = $1, b = $12 WHERE c = $2 AND d = 'x$'",
            10,
        );
        assert_eq!(
            out,
            "UPDATE t SET a = $11, b = $22 WHERE c = $12 AND d = 'x$'"
        );
    }

    fn invitation(org: crate::OrganizationId, version: u64) -> Invitation {
        let now = DateTime::<Utc>::from_timestamp(1_767_603_600, 0).expect("a time");
        Invitation {
            id: crate::InvitationId::new(),
            organization: org,
            email: crate::EmailAddress::parse("plan@example.com").expect("an address"),
            invitee: None,
            role: crate::Role::Member,
            team: None,
            status: crate::InvitationStatus::Pending,
            token_hash: crate::InvitationToken::from_bytes([7; 32]).hash(),
            invited_by: crate::UserId::new(),
            created_at: now,
            sent_at: now,
            expires_at: now,
            resend_count: 0,
            closed_at: None,
            closed_by: None,
            version,
        }
    }

    #[cfg(feature = "postgres")]
    const POSTGRES: Dialect = Dialect {
        anonymous: false,
        check_org: "SELECT 1",
    };

    #[cfg(feature = "postgres")]
    #[test]
    fn a_plan_is_independent_unless_a_row_is_written_twice() {
        let org = crate::OrganizationId::new();
        let changes = |writes| {
            let mut c = ChangeSet::new(
                org,
                OrganizationWrite::Check {
                    expected_version: 1,
                },
            );
            c.writes = writes;
            c
        };
        let new = invitation(org, 0);
        let stored = invitation(org, 3);
        let plan_of = |writes| plan(&changes(writes), POSTGRES).expect("a plan");
        let one = plan_of(vec![
            Write::PutInvitation(new.clone()),
            Write::PutInvitation(stored.clone()),
        ]);
        assert!(one.independent);
        assert!(one_statement(&one).is_some());
        let twice = plan_of(vec![
            Write::PutInvitation(stored.clone()),
            Write::PutInvitation(stored),
        ]);
        assert!(!twice.independent);
        assert!(one_statement(&twice).is_none());
        let at = DateTime::<Utc>::from_timestamp(0, 0).expect("a time");
        let team = crate::TeamId::new();
        let with_team = plan_of(vec![
            Write::PutInvitation(new.clone()),
            Write::AddTeamMember {
                team,
                member: crate::MemberId::new(),
                at,
            },
        ]);
        assert!(!with_team.independent);
        // An acceptance into a team: the member the commit inserts needs no read.
        let member = crate::domain::member::Member {
            id: crate::MemberId::new(),
            organization: org,
            user: crate::UserId::new(),
            email: new.email.clone(),
            profile: crate::Profile::parse("Plan", "Member").expect("a profile"),
            roles: crate::RoleSet::learner(),
            joined_at: at,
            invitation: Some(new.id),
            version: 0,
        };
        let accepted = plan_of(vec![
            Write::PutInvitation(stored_again(&new)),
            Write::PutMember(member.clone()),
            Write::AddTeamMember {
                team,
                member: member.id,
                at,
            },
        ]);
        assert!(accepted.independent);
        assert!(one_statement(&accepted).is_some());
        // Added before it is inserted, it is read: dependent.
        let early = plan_of(vec![
            Write::AddTeamMember {
                team,
                member: member.id,
                at,
            },
            Write::PutMember(member),
        ]);
        assert!(!early.independent);
    }

    /// `inv` as stored: version 1.
    fn stored_again(inv: &Invitation) -> Invitation {
        Invitation {
            version: 1,
            ..inv.clone()
        }
    }

    #[test]
    fn a_failed_check_names_its_step() {
        let raised = "orgroster: a checked write of the commit did not apply at step 3";
        assert_eq!(failed_check(Some(EXPECT_FAILED), raised), Some(3));
        assert_eq!(failed_check(Some(TRIGGER_RAISED), raised), Some(3));
        // Another error with the same code, or the message under another code, is not one.
        assert_eq!(failed_check(Some(EXPECT_FAILED), "something else"), None);
        assert_eq!(failed_check(Some("23505"), raised), None);
        assert_eq!(failed_check(None, raised), None);
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn anonymizing_binds_each_use_of_a_parameter_in_order() {
        let mut sql = String::new();
        let mut args = vec![Arg::Int(0)];
        anonymize(
            &mut sql,
            "UPDATE t SET a = $2 WHERE b = $1 AND c = $2 AND d = 'x$'",
            vec![Arg::Int(1), Arg::Int(2)],
            &mut args,
        )
        .expect("every parameter has an argument");
        assert_eq!(sql, "UPDATE t SET a = ? WHERE b = ? AND c = ? AND d = 'x$'");
        let ints: Vec<_> = args
            .iter()
            .map(|a| match a {
                Arg::Int(v) => *v,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(ints, [0, 2, 1, 2]);
        // Anonymous statements keep their arguments as they are.
        let mut sql = String::new();
        let mut args = Vec::new();
        anonymize(
            &mut sql,
            "INSERT INTO t VALUES (?, ?)",
            vec![Arg::Int(1), Arg::Int(2)],
            &mut args,
        )
        .expect("anonymous");
        assert_eq!(
            (sql.as_str(), args.len()),
            ("INSERT INTO t VALUES (?, ?)", 2)
        );
        // A planner bug is an error, not a panic or a NULL.
        assert!(
            anonymize(
                &mut String::new(),
                "SELECT $3",
                vec![Arg::Int(1)],
                &mut Vec::new()
            )
            .is_err()
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_batch_checks_each_checked_step_and_commits_last() {
        const SQLITE: Dialect = Dialect {
            anonymous: true,
            check_org: "SELECT 1 FROM orgroster_organizations WHERE id = $1 AND version = $2",
        };
        let org = crate::OrganizationId::new();
        let mut changes = ChangeSet::new(
            org,
            OrganizationWrite::Check {
                expected_version: 4,
            },
        );
        changes.writes = vec![
            Write::PutInvitation(invitation(org, 0)),
            Write::PutInvitation(invitation(org, 2)),
        ];
        let planned = plan(&changes, SQLITE).expect("a plan");
        let params: usize = planned.steps.iter().map(|s| s.args.len()).sum();
        let batch = batch(planned).expect("a batch");
        assert!(batch.sql.starts_with("BEGIN IMMEDIATE; INSERT INTO orgroster_expect (step, ok) SELECT 0, count(*) FROM (SELECT 1 FROM"));
        assert!(batch.sql.ends_with("; COMMIT"));
        assert!(
            batch
                .sql
                .contains("; INSERT INTO orgroster_expect (step, ok) VALUES (2, changes()); ")
        );
        assert!(!batch.sql.contains('$'));
        assert_eq!(batch.sql.matches('?').count(), batch.args.len());
        assert_eq!(batch.args.len(), params);
        assert_eq!(
            batch.expects,
            [
                Some(Expect::Conflict("organization")),
                None,
                Some(Expect::Conflict("invitation")),
                // The updated invitation's queued mail is withdrawn (spec: INV-13).
                None
            ]
        );
        assert!(
            batch
                .sql
                .contains("DELETE FROM orgroster_outbox WHERE invitation_id = ?")
        );
        assert!(batch.recurs());
    }
}
