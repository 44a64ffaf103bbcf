//! What a decision hands to the store: every write, audit event and outgoing mail of one
//! command, to be applied all together or not at all (spec: ERR-2).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    email::EmailAddress,
    event::{Event, EventActor, EventKind},
    ids::{EventId, InvitationId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
    invitation::Invitation,
    member::Member,
    organization::Organization,
    outbox::OutboxMessage,
    team::Team,
    token::InvitationToken,
};

/// How a change set touches its organization's row.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum OrganizationWrite {
    /// Not at all: the change does not depend on organization-wide counts.
    Untouched,
    /// Check that the organization is still at `expected_version` and bump it. Used by every
    /// change to memberships, roles and invitations, so that seat-cap (ORG-4) and
    /// last-administrator (ADM-5) decisions serialize per organization.
    Touch {
        /// The version the decision read.
        expected_version: u64,
    },
    /// Check that the organization is still at `expected_version`, without bumping it:
    /// the decision read the organization (its licenses, capabilities, seat cap) but no
    /// organization-wide count, so it must not outlive a change to the organization, yet
    /// need not serialize with the organization's other such decisions. A change to the
    /// organization committed before the check fails it; one committed after the check is
    /// ordered after this decision, which is sound because no decision about the organization
    /// itself reads invitations or memberships (those that count them bump it: `Touch`). An
    /// erasure, which reads every row naming a person, reads again once it has committed, for
    /// what such a decision committed meanwhile (spec: USR-5).
    Check {
        /// The version the decision read.
        expected_version: u64,
    },
    /// Write the organization; its `version` is the one read (0: create it).
    Put(Organization),
}

impl OrganizationWrite {
    /// What an invitation decision needs of `organization`: with a seat cap, the seats it
    /// counted must not change under it, so it bumps the version and decisions of the
    /// organization take turns (spec: ORG-4); without one, it only depends on the
    /// organization not changing, and invitations to different addresses commit side by
    /// side (their own rows carry the rest: spec INV-8, INV-11).
    pub fn for_invitations(organization: &Organization) -> Self {
        let expected_version = organization.version;
        if organization.seat_cap.is_some() {
            Self::Touch { expected_version }
        } else {
            Self::Check { expected_version }
        }
    }
}

/// One row written by a change set. Entities carry the version they were read at; 0 means
/// the row must not exist yet. The store writes them at version + 1.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Write {
    /// Insert or update a member. The store refuses a second member for the same
    /// (organization, user) with `StoreError::Duplicate` (spec: INV-11).
    PutMember(Member),
    /// Remove a member and their team memberships (their stints in teams end `at`).
    DeleteMember {
        /// The member.
        member: MemberId,
        /// The version read.
        expected_version: u64,
        /// When.
        at: DateTime<Utc>,
    },
    /// Insert or update an invitation. The store refuses a second pending invitation for the
    /// same (organization, email) with `StoreError::Duplicate` (spec: INV-8). An update
    /// withdraws the invitation's queued, unsent mail: its link is dead (spec: INV-13).
    PutInvitation(Invitation),
    /// Insert or update a team. Team names are unique per organization, regardless of case.
    PutTeam(Team),
    /// Delete a team and its memberships; members stay in the organization.
    DeleteTeam {
        /// The team.
        team: TeamId,
        /// The version read.
        expected_version: u64,
        /// When: the stints of its members end then.
        at: DateTime<Utc>,
    },
    /// Put a member in a team; a second time is `StoreError::Duplicate`. The store keeps the
    /// stint, so team statistics count members who belonged during a period (spec: TEAM-4).
    AddTeamMember {
        /// The team.
        team: TeamId,
        /// The member.
        member: MemberId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Take a member out of a team; absent is `StoreError::Conflict`.
    RemoveTeamMember {
        /// The team.
        team: TeamId,
        /// The member.
        member: MemberId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Queue again an email that was given up (spec: MSG-3): due `at`, its attempts counted
    /// from zero, its last error cleared. One that is not failed (sent, queued, or gone) is
    /// `StoreError::Conflict`.
    RequeueMail {
        /// The outbox row.
        mail: OutboxId,
        /// When it is due.
        at: DateTime<Utc>,
    },
    /// Withdraw the queued, unsent messages and notifications addressed to `to` (invitation
    /// mail stays): a member deactivated receives none (spec: MEM-2).
    WithdrawMailTo {
        /// The member's address, as their mail was addressed.
        to: EmailAddress,
    },
    /// Rewrite who an invitation names (its address and invitee, who sent and closed it),
    /// read at its version, to erase a person (spec: USR-5). Unlike
    /// [`Write::PutInvitation`], its queued mail stays: its link still works.
    RewriteInvitation(Invitation),
    /// Rewrite the actor and record of a stored event of the audit trail, to erase a person
    /// (spec: USR-5); absent is `StoreError::Conflict`.
    RewriteEvent(Event),
    /// Rewrite the recipient and content of an outbox row, whatever its status, to erase a
    /// person (spec: USR-5); a row gone since (withdrawn, or its organization's) is skipped.
    RewriteMail(OutboxMessage),
    /// Put `pseudonym` in place of `user` in the organization's learning activity and team
    /// stints, so its figures keep their counts (spec: USR-5).
    Pseudonymize {
        /// The user erased.
        user: UserId,
        /// Who stands for them now.
        pseudonym: UserId,
    },
}

/// Everything one command changes in one organization.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// The organization every write belongs to.
    pub organization: OrganizationId,
    /// How the organization's own row is touched.
    pub organization_write: OrganizationWrite,
    /// Rows to write, in order.
    pub writes: Vec<Write>,
    /// Audit events to append (spec: INV-12).
    pub events: Vec<Event>,
    /// Mail to queue, in the same commit (spec: INV-9).
    pub outbox: Vec<OutboxMessage>,
}

impl ChangeSet {
    /// Whether it erases a person's data (spec: USR-5): a store that keeps copies of
    /// overwritten rows (a write-ahead log) lets them go once it commits.
    pub fn erases(&self) -> bool {
        self.writes.iter().any(|w| {
            matches!(
                w,
                Write::Pseudonymize { .. }
                    | Write::RewriteInvitation(_)
                    | Write::RewriteEvent(_)
                    | Write::RewriteMail(_)
            )
        })
    }

    /// An empty change set for `organization`.
    pub fn new(organization: OrganizationId, organization_write: OrganizationWrite) -> Self {
        Self {
            organization,
            organization_write,
            writes: Vec::new(),
            events: Vec::new(),
            outbox: Vec::new(),
        }
    }

    /// Whether it changes nothing at all.
    pub fn is_empty(&self) -> bool {
        matches!(self.organization_write, OrganizationWrite::Untouched)
            && self.writes.is_empty()
            && self.events.is_empty()
            && self.outbox.is_empty()
    }
}

/// A decision of the pure core: the outcome to return and the changes to commit.
#[derive(Debug)]
pub(crate) struct Decision<T> {
    /// What the command returns once the changes are committed.
    pub outcome: T,
    /// What to commit.
    pub changes: ChangeSet,
}

/// Where the core gets fresh ids and tokens. The core never reads a clock or a random
/// source itself: the shell passes one of these in, and tests pass a deterministic one.
pub(crate) trait Fresh: std::fmt::Debug {
    /// A fresh, unique id.
    fn uuid(&mut self) -> Uuid;

    /// The token of generation `generation` of `invitation`'s link: unguessable without the
    /// host's secret, and the same every time it is asked for, so that the email can be
    /// rendered later without the token ever being stored (spec: INV-6).
    fn link_token(&mut self, invitation: InvitationId, generation: u32) -> InvitationToken;
}

/// The inputs every decision shares: when, by whom, and where fresh values come from.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    /// The time of the command, from the `Clock`.
    pub now: DateTime<Utc>,
    /// Who acts, as recorded in the audit trail.
    pub actor: EventActor,
    /// Fresh ids and tokens.
    pub fresh: &'a mut dyn Fresh,
}

impl Context<'_> {
    /// An audit event for `organization`, stamped with this context's time and actor.
    pub(crate) fn event(&mut self, organization: OrganizationId, kind: EventKind) -> Event {
        Event {
            id: EventId::from_uuid(self.fresh.uuid()),
            organization,
            at: self.now,
            actor: self.actor.clone(),
            kind,
        }
    }
}
