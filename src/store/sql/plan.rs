//! A change set as the statements that apply it, in order, each with the check on the rows
//! it must affect. Planning is pure; [`SqlStore::commit`](super::SqlStore) runs the plan in
//! one transaction and rolls it back at the first statement whose check fails.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    backend::{Arg, Statement},
    queries::{
        ADD_TEAM_MEMBER, CHECK_ORG, CLOSE_MEMBER_STINTS, CLOSE_STINT, CLOSE_TEAM_STINTS,
        DELETE_EVENTS, DELETE_MEMBER, DELETE_TEAM, EVENT_INSERT_COLUMNS, INSERT_EVENTS,
        INSERT_INVITATIONS, INSERT_MEMBER, INSERT_ORG, INSERT_OUTBOX, INSERT_TEAM,
        INVITATION_INSERT_COLUMNS, OPEN_STINT, ORG_EXISTS, OUTBOX_INSERT_COLUMNS,
        PSEUDONYMIZE_ACTIVITIES, PSEUDONYMIZE_STINTS, REMOVE_TEAM_MEMBER, REQUEUE_MAIL,
        REWRITE_MAIL, TOUCH_ORG, UPDATE_INVITATION, UPDATE_MEMBER, UPDATE_ORG, UPDATE_TEAM,
        WITHDRAW_INVITATION_MAIL, WITHDRAW_MAIL_TO,
    },
    rows::{micros, status_name, to_json, version_param},
};
use crate::{
    domain::{
        changes::{ChangeSet, OrganizationWrite, Write},
        event::Event,
        invitation::Invitation,
        invite_options::{Lifetime, Metadata},
    },
    store::StoreError,
};

/// Rows per multi-row `INSERT`: under SQLite's 32,766 and PostgreSQL's 65,535 bind
/// parameters for the widest batched table (18 columns).
pub(crate) const BATCH_ROWS: usize = 1000;

/// What a step must have done, or the commit fails (and nothing of it stays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Exactly one row, or someone else changed it since it was read: a conflict.
    Conflict(&'static str),
    /// Exactly one row, or what it refers to is gone.
    Missing(&'static str),
    /// Exactly this many rows, or one of them changed since it was read: a conflict.
    Rows(u64, &'static str),
}

impl Expect {
    /// How many rows the step must read or change.
    pub(crate) fn rows(self) -> u64 {
        match self {
            Self::Conflict(_) | Self::Missing(_) => 1,
            Self::Rows(rows, _) => rows,
        }
    }

    /// The error when the step did not affect exactly [`Expect::rows`] rows.
    pub(crate) fn error(self) -> StoreError {
        match self {
            Self::Conflict(entity) | Self::Rows(_, entity) => StoreError::Conflict { entity },
            Self::Missing(entity) => StoreError::Missing { entity },
        }
    }
}

/// One statement of a plan.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) statement: Statement,
    /// Whether it reads (an existence check, counted by the rows it returns) rather than
    /// writes (counted by the rows it changes).
    pub(crate) reads: bool,
    /// The check on the rows it reads or changes, if any.
    pub(crate) expect: Option<Expect>,
}

impl Step {
    fn write(sql: &'static str, args: Vec<Arg>, expect: Option<Expect>) -> Self {
        Self {
            statement: Statement::new(sql, args),
            reads: false,
            expect,
        }
    }
}

/// `head` (`INSERT INTO table (columns) VALUES`) followed by `rows` rows of `columns`
/// parameters each: `$1, $2, …` when `numbered`, else anonymous `?`.
pub(crate) fn insert_rows(head: &str, columns: usize, rows: usize, numbered: bool) -> String {
    let mut sql = String::with_capacity(head.len() + rows * columns * 6);
    sql.push_str(head);
    let mut n = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { " (" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            n += 1;
            if numbered {
                sql.push('$');
                sql.push_str(&n.to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Inserts of up to this many rows recur (a command's few events and mails) and are kept
/// prepared; longer ones but a full batch depend on a bulk write's size.
const PREPARED_ROWS: usize = 8;

/// A batched insert of `rows` rows: kept prepared when its text recurs (a few rows, a full
/// batch), not when it depends on a bulk write's size.
fn batched(head: &str, columns: usize, rows: usize, numbered: bool, args: Vec<Arg>) -> Step {
    let mut statement = Statement::new(insert_rows(head, columns, rows, numbered), args);
    statement.persistent = rows <= PREPARED_ROWS || rows == BATCH_ROWS;
    Step {
        statement,
        reads: false,
        expect: None,
    }
}

/// Plans `changes`, with batched inserts numbering their parameters when `numbered`.
pub(crate) fn plan(changes: &ChangeSet, numbered: bool) -> Result<Vec<Step>, StoreError> {
    let org = changes.organization.as_uuid();
    let mut steps = Vec::new();
    let missing = || StoreError::Missing {
        entity: "organization",
    };
    match &changes.organization_write {
        OrganizationWrite::Untouched => steps.push(Step {
            statement: Statement::new(ORG_EXISTS, vec![Arg::Uuid(org)]),
            reads: true,
            expect: Some(Expect::Missing("organization")),
        }),
        OrganizationWrite::Touch { expected_version } => steps.push(Step::write(
            TOUCH_ORG,
            vec![Arg::Uuid(org), Arg::Int(version_param(*expected_version)?)],
            Some(Expect::Conflict("organization")),
        )),
        OrganizationWrite::Check { expected_version } => steps.push(Step {
            statement: Statement::new(
                CHECK_ORG,
                vec![Arg::Uuid(org), Arg::Int(version_param(*expected_version)?)],
            ),
            reads: true,
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
                args.push(Arg::Int(micros(o.created_at)));
                INSERT_ORG
            } else {
                args.push(Arg::Int(version_param(o.version)?));
                UPDATE_ORG
            };
            steps.push(Step::write(
                sql,
                args,
                Some(Expect::Conflict("organization")),
            ));
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
                    run.push(inv);
                    i += 1;
                }
                for chunk in run.chunks(BATCH_ROWS) {
                    let mut args = Vec::with_capacity(chunk.len() * INVITATION_INSERT_COLUMNS);
                    for inv in chunk {
                        invitation_args(inv, &mut args);
                        args.push(Arg::Int(1));
                    }
                    steps.push(batched(
                        INSERT_INVITATIONS,
                        INVITATION_INSERT_COLUMNS,
                        chunk.len(),
                        numbered,
                        args,
                    ));
                }
                continue;
            }
            Write::PutInvitation(inv) => {
                if inv.organization != changes.organization {
                    return Err(missing());
                }
                let mut args = Vec::with_capacity(INVITATION_INSERT_COLUMNS);
                invitation_args(inv, &mut args);
                args.push(Arg::Int(version_param(inv.version)?));
                steps.push(Step::write(
                    UPDATE_INVITATION,
                    args,
                    Some(Expect::Conflict("invitation")),
                ));
                // Its link is dead: so is its queued mail (spec: INV-13). The mail this
                // commit queues (a resend's) is inserted later.
                steps.push(Step::write(
                    WITHDRAW_INVITATION_MAIL,
                    vec![Arg::Uuid(inv.id.as_uuid()), Arg::Uuid(org)],
                    None,
                ));
            }
            Write::PutMember(m) => {
                if m.organization != changes.organization {
                    return Err(missing());
                }
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
                    Arg::OptInt(m.deactivated_at.map(micros)),
                    Arg::OptText(m.metadata.as_ref().map(Metadata::to_json)),
                ];
                steps.push(put(
                    m.version,
                    (INSERT_MEMBER, UPDATE_MEMBER),
                    "member",
                    &mut args,
                )?);
            }
            Write::DeleteMember {
                member,
                expected_version,
                at,
            } => {
                // The stints first, while the member they read is still there.
                let [close, delete] = deletion(
                    member.as_uuid(),
                    org,
                    *expected_version,
                    *at,
                    (CLOSE_MEMBER_STINTS, DELETE_MEMBER),
                    "member",
                )?;
                steps.extend([close, delete]);
            }
            Write::PutTeam(t) => {
                if t.organization != changes.organization {
                    return Err(missing());
                }
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
                steps.push(put(
                    t.version,
                    (INSERT_TEAM, UPDATE_TEAM),
                    "team",
                    &mut args,
                )?);
            }
            Write::DeleteTeam {
                team,
                expected_version,
                at,
            } => {
                // The team first: on PostgreSQL its delete waits for a commit that is adding
                // a member to it (that member's foreign key holds the team's row), and
                // closing the stints afterwards sees the stint that commit opened: none
                // stays open for a deleted team (spec: TEAM-4).
                let [close, delete] = deletion(
                    team.as_uuid(),
                    org,
                    *expected_version,
                    *at,
                    (CLOSE_TEAM_STINTS, DELETE_TEAM),
                    "team",
                )?;
                steps.extend([delete, close]);
            }
            Write::AddTeamMember { team, member, at } => {
                let key = vec![
                    Arg::Uuid(team.as_uuid()),
                    Arg::Uuid(member.as_uuid()),
                    Arg::Uuid(org),
                ];
                let mut stint = key.clone();
                stint.push(Arg::Int(micros(*at)));
                steps.push(Step::write(
                    ADD_TEAM_MEMBER,
                    key,
                    Some(Expect::Missing("team or member")),
                ));
                steps.push(Step::write(OPEN_STINT, stint, None));
            }
            Write::RequeueMail { mail, at } => steps.push(Step::write(
                REQUEUE_MAIL,
                vec![
                    Arg::Uuid(mail.as_uuid()),
                    Arg::Uuid(org),
                    Arg::Int(micros(*at)),
                ],
                Some(Expect::Conflict("mail")),
            )),
            Write::WithdrawMailTo { to } => steps.push(Step::write(
                WITHDRAW_MAIL_TO,
                vec![Arg::Uuid(org), Arg::Text(to.as_str().to_owned())],
                None,
            )),
            Write::RewriteInvitation(inv) => {
                if inv.organization != changes.organization {
                    return Err(missing());
                }
                // The same update as a change of the invitation, but its mail stays queued:
                // its link still works (spec: USR-5).
                let mut args = Vec::with_capacity(INVITATION_INSERT_COLUMNS);
                invitation_args(inv, &mut args);
                args.push(Arg::Int(version_param(inv.version)?));
                steps.push(Step::write(
                    UPDATE_INVITATION,
                    args,
                    Some(Expect::Conflict("invitation")),
                ));
            }
            Write::RewriteEvent(_) => {
                // A run of rewritten events (an erasure's, thousands) goes in batches: each
                // deletes its events, checking they are all there, and inserts them again.
                let mut run = Vec::new();
                while let Some(Write::RewriteEvent(e)) = writes.get(i) {
                    run.push(e);
                    i += 1;
                }
                for chunk in run.chunks(BATCH_ROWS) {
                    let mut args = Vec::with_capacity(chunk.len() + 1);
                    args.push(Arg::Uuid(org));
                    args.extend(chunk.iter().map(|e| Arg::Uuid(e.id.as_uuid())));
                    let mut delete = Statement::new(id_list(DELETE_EVENTS, chunk.len()), args);
                    delete.persistent = chunk.len() <= PREPARED_ROWS || chunk.len() == BATCH_ROWS;
                    steps.push(Step {
                        statement: delete,
                        reads: false,
                        expect: Some(Expect::Rows(chunk.len() as u64, "event")),
                    });
                    let mut args = Vec::with_capacity(chunk.len() * EVENT_INSERT_COLUMNS);
                    for e in chunk {
                        event_args(e, org, &mut args)?;
                    }
                    steps.push(batched(
                        INSERT_EVENTS,
                        EVENT_INSERT_COLUMNS,
                        chunk.len(),
                        numbered,
                        args,
                    ));
                }
                continue;
            }
            Write::RewriteMail(m) => steps.push(Step::write(
                REWRITE_MAIL,
                vec![
                    Arg::Uuid(m.id.as_uuid()),
                    Arg::Uuid(org),
                    Arg::Text(m.to.as_str().to_owned()),
                    Arg::Text(to_json(&m.content)?),
                ],
                None,
            )),
            Write::Pseudonymize { user, pseudonym } => {
                for sql in [PSEUDONYMIZE_ACTIVITIES, PSEUDONYMIZE_STINTS] {
                    let args = vec![
                        Arg::Uuid(org),
                        Arg::Uuid(user.as_uuid()),
                        Arg::Uuid(pseudonym.as_uuid()),
                    ];
                    steps.push(Step::write(sql, args, None));
                }
            }
            Write::RemoveTeamMember { team, member, at } => {
                let key = vec![
                    Arg::Uuid(team.as_uuid()),
                    Arg::Uuid(member.as_uuid()),
                    Arg::Uuid(org),
                ];
                let mut stint = key.clone();
                stint.push(Arg::Int(micros(*at)));
                steps.push(Step::write(CLOSE_STINT, stint, None));
                steps.push(Step::write(
                    REMOVE_TEAM_MEMBER,
                    key,
                    Some(Expect::Conflict("team membership")),
                ));
            }
        }
        i += 1;
    }
    for chunk in changes.events.chunks(BATCH_ROWS) {
        let mut args = Vec::with_capacity(chunk.len() * EVENT_INSERT_COLUMNS);
        for e in chunk {
            event_args(e, org, &mut args)?;
        }
        steps.push(batched(
            INSERT_EVENTS,
            EVENT_INSERT_COLUMNS,
            chunk.len(),
            numbered,
            args,
        ));
    }
    for chunk in changes.outbox.chunks(BATCH_ROWS) {
        let mut args = Vec::with_capacity(chunk.len() * OUTBOX_INSERT_COLUMNS);
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
        steps.push(batched(
            INSERT_OUTBOX,
            OUTBOX_INSERT_COLUMNS,
            chunk.len(),
            numbered,
            args,
        ));
    }
    Ok(steps)
}

/// The two steps that delete a versioned row with its team-membership history closed: `close`
/// ends the open stints (`$3` the time), `delete` removes the row (`$3` the version read).
/// Both take (`id`, organization, …).
fn deletion(
    id: Uuid,
    org: Uuid,
    expected_version: u64,
    at: DateTime<Utc>,
    (close, delete): (&'static str, &'static str),
    entity: &'static str,
) -> Result<[Step; 2], StoreError> {
    Ok([
        Step::write(
            close,
            vec![Arg::Uuid(id), Arg::Uuid(org), Arg::Int(micros(at))],
            None,
        ),
        Step::write(
            delete,
            vec![
                Arg::Uuid(id),
                Arg::Uuid(org),
                Arg::Int(version_param(expected_version)?),
            ],
            Some(Expect::Conflict(entity)),
        ),
    ])
}

/// An event's values in the order of [`INSERT_EVENTS`].
fn event_args(e: &Event, org: Uuid, args: &mut Vec<Arg>) -> Result<(), StoreError> {
    args.extend([
        Arg::Uuid(e.id.as_uuid()),
        Arg::Uuid(org),
        Arg::Int(micros(e.at)),
        Arg::Text(to_json(&e.actor)?),
        Arg::Text(to_json(&e.kind)?),
    ]);
    Ok(())
}

/// `head` (a statement ending in `IN`) followed by the parameters `$2` to `$(rows + 1)`:
/// `$1` is the organization.
fn id_list(head: &str, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + rows * 7);
    sql.push_str(head);
    for n in 0..rows {
        sql.push_str(if n == 0 { " ($" } else { ", $" });
        sql.push_str(&(n + 2).to_string());
    }
    sql.push(')');
    sql
}

/// An invitation's values in the order of [`INSERT_INVITATIONS`], without `version`.
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
        Arg::OptInt(inv.lifetime.map(Lifetime::seconds)),
        Arg::OptText(inv.metadata.as_ref().map(Metadata::to_json)),
    ]);
}

/// The step that writes a row read at `version` (0: a new row), with `args` as the insert
/// takes them (the update also takes the version). An insert of values writes its row or
/// fails on a unique rule (a duplicate), so only the update is checked: it misses its row
/// when someone changed it since it was read.
fn put(
    version: u64,
    (insert, update): (&'static str, &'static str),
    entity: &'static str,
    args: &mut Vec<Arg>,
) -> Result<Step, StoreError> {
    let mut args = std::mem::take(args);
    if version == 0 {
        return Ok(Step::write(insert, args, None));
    }
    args.push(Arg::Int(version_param(version)?));
    Ok(Step::write(update, args, Some(Expect::Conflict(entity))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_inserts_number_or_leave_anonymous_every_parameter() {
        assert_eq!(
            insert_rows("INSERT INTO t (a, b) VALUES", 2, 2, true),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_rows("INSERT INTO t (a, b) VALUES", 2, 2, false),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }

    #[test]
    fn a_changed_invitation_withdraws_its_mail_and_is_checked() {
        let org = crate::OrganizationId::new();
        let now = DateTime::<Utc>::from_timestamp(1_767_603_600, 0).expect("a time");
        let invitation = Invitation {
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
            lifetime: None,
            metadata: None,
            version: 2,
        };
        let mut changes = ChangeSet::new(
            org,
            OrganizationWrite::Check {
                expected_version: 4,
            },
        );
        changes.writes = vec![
            Write::PutInvitation(Invitation {
                version: 0,
                ..invitation.clone()
            }),
            Write::PutInvitation(invitation),
        ];
        let steps = plan(&changes, false).expect("a plan");
        let checks: Vec<_> = steps.iter().map(|s| (s.reads, s.expect)).collect();
        assert_eq!(
            checks,
            [
                (true, Some(Expect::Conflict("organization"))),
                (false, None),
                (false, Some(Expect::Conflict("invitation"))),
                // The updated invitation's queued mail is withdrawn (spec: INV-13).
                (false, None),
            ]
        );
        assert!(
            steps[1]
                .statement
                .sql
                .ends_with("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        );
        assert_eq!(steps[1].statement.args.len(), INVITATION_INSERT_COLUMNS);
        assert_eq!(steps[3].statement.sql, WITHDRAW_INVITATION_MAIL);
    }
}
