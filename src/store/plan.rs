//! A change set as the SQL statements that apply it, decided once for both SQL stores.
//!
//! Planning is pure: it turns a [`ChangeSet`] into [`Step`]s (statement, arguments, and the
//! check on the rows it must affect). The stores then run the plan: SQLite statement by
//! statement inside one transaction (in process, a statement costs no network round trip);
//! PostgreSQL, when the steps are independent of each other, as ONE statement whose steps
//! are data-modifying `WITH` clauses, so a commit is one round trip instead of one per
//! statement plus `BEGIN` and `COMMIT` (see [`one_statement`]).

use std::{borrow::Cow, fmt::Write as _};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    StoreError,
    sql::{
        ADD_TEAM_MEMBER, BATCH_ROWS, CLOSE_MEMBER_STINTS, CLOSE_STINT, CLOSE_TEAM_STINTS,
        DELETE_MEMBER, DELETE_TEAM, EVENT_INSERT_COLUMNS, INSERT_MEMBER, INSERT_ORG, INSERT_TEAM,
        INVITATION_INSERT_COLUMNS, OPEN_STINT, ORG_EXISTS, OUTBOX_INSERT_COLUMNS,
        REMOVE_TEAM_MEMBER, TOUCH_ORG, UPDATE_INVITATION, UPDATE_MEMBER, UPDATE_ORG, UPDATE_TEAM,
        insert_many, micros, status_name, to_json, version_param,
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
    /// deletions (which cascade) make a plan dependent.
    pub(crate) independent: bool,
}

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
    /// Whether an independent plan may run as [`one_statement`].
    pub(crate) one_statement: bool,
}

/// Plans `changes` in `dialect`.
pub(crate) fn plan(changes: &ChangeSet, dialect: Dialect) -> Result<Plan, StoreError> {
    let anonymous = dialect.anonymous;
    let org = changes.organization.as_uuid();
    let mut steps = Vec::new();
    let mut independent = true;
    // The rows the puts write: a second write of one row makes the plan dependent.
    let mut written: Vec<Uuid> = Vec::new();
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
            }
            Write::PutMember(m) => {
                if m.organization != changes.organization {
                    return Err(missing());
                }
                written.push(m.id.as_uuid());
                let mut args = vec![
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
                let sql = if m.version == 0 {
                    INSERT_MEMBER
                } else {
                    args.push(Arg::Int(version_param(m.version)?));
                    UPDATE_MEMBER
                };
                steps.push(Step {
                    sql: sql.into(),
                    args,
                    expect: Some(Expect::Conflict("member")),
                });
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
                deletion.steps(org, CLOSE_MEMBER_STINTS, DELETE_MEMBER, &mut steps)?;
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
                let sql = if t.version == 0 {
                    args.push(Arg::Int(micros(t.created_at)));
                    INSERT_TEAM
                } else {
                    args.push(Arg::Int(version_param(t.version)?));
                    UPDATE_TEAM
                };
                steps.push(Step {
                    sql: sql.into(),
                    args,
                    expect: Some(Expect::Conflict("team")),
                });
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
                deletion.steps(org, CLOSE_TEAM_STINTS, DELETE_TEAM, &mut steps)?;
            }
            Write::AddTeamMember { team, member, at } => {
                independent = false;
                let key = [
                    Arg::Uuid(team.as_uuid()),
                    Arg::Uuid(member.as_uuid()),
                    Arg::Uuid(org),
                ];
                steps.push(Step {
                    sql: ADD_TEAM_MEMBER.into(),
                    args: key.to_vec(),
                    expect: Some(Expect::Missing("team or member")),
                });
                let mut args = key.to_vec();
                args.push(Arg::Int(micros(*at)));
                steps.push(Step {
                    sql: OPEN_STINT.into(),
                    args,
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
                Arg::OptText(m.secret.as_ref().map(|s| s.expose())),
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

impl Deletion {
    /// Ends the open stints (`close`: `$3` the time) then deletes the row (`delete`: `$3`
    /// the version read).
    fn steps(
        self,
        org: Uuid,
        close: &'static str,
        delete: &'static str,
        steps: &mut Vec<Step>,
    ) -> Result<(), StoreError> {
        steps.push(Step {
            sql: close.into(),
            args: vec![
                Arg::Uuid(self.id),
                Arg::Uuid(org),
                Arg::Int(micros(self.at)),
            ],
            expect: None,
        });
        steps.push(Step {
            sql: delete.into(),
            args: vec![
                Arg::Uuid(self.id),
                Arg::Uuid(org),
                Arg::Int(version_param(self.expected_version)?),
            ],
            expect: Some(Expect::Conflict(self.entity)),
        });
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
pub(crate) const EXPECT_FAILED: &str = "OR409";

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

/// The step a failed `orgroster_expect` names in its message ("… step N").
pub(crate) fn failed_step(message: &str) -> Option<usize> {
    message.rsplit(' ').next()?.parse().ok()
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
    use super::*;

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

    const POSTGRES: Dialect = Dialect {
        anonymous: false,
        check_org: "SELECT 1",
        one_statement: true,
    };

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
        let with_team = plan_of(vec![
            Write::PutInvitation(new),
            Write::AddTeamMember {
                team: crate::TeamId::new(),
                member: crate::MemberId::new(),
                at: DateTime::<Utc>::from_timestamp(0, 0).expect("a time"),
            },
        ]);
        assert!(!with_team.independent);
    }

    #[test]
    fn a_failed_check_names_its_step() {
        assert_eq!(
            failed_step("orgroster: a checked write of the commit did not apply at step 3"),
            Some(3)
        );
        assert_eq!(failed_step("something else"), None);
    }
}
