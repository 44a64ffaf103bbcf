//! The audit trail: one event for every change (spec: INV-12).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    email::EmailAddress,
    ids::{EventId, InvitationId, LicenseId, OrganizationId, OutboxId, TeamId, UserId},
    organization::{Capabilities, LicenseKind},
    role::Role,
    text::{OrganizationName, Subject, TeamName},
};

/// One entry of an organization's audit trail: who did what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its id; time-ordered.
    pub id: EventId,
    /// The organization.
    pub organization: OrganizationId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: EventActor,
    /// What happened.
    pub kind: EventKind,
}

/// Who caused an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventActor {
    /// A signed-in user.
    User {
        /// The user.
        user: UserId,
    },
    /// Whoever holds an invitation link (declining needs no account).
    Invitee {
        /// The invited address.
        email: EmailAddress,
    },
    /// The host's back office or an automated process.
    System,
}

impl std::fmt::Display for EventActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User { user } => write!(f, "user {user}"),
            Self::Invitee { email } => write!(f, "invitee {email}"),
            Self::System => f.write_str("system"),
        }
    }
}

/// What an [`Event`] records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The organization was created; its creator became the first administrator.
    OrganizationCreated {
        /// Its name.
        name: OrganizationName,
        /// The creator.
        creator: UserId,
    },
    /// The back office provisioned the organization with no member; its first administrator
    /// joins through an invitation (spec: ORG-5).
    OrganizationProvisioned {
        /// Its name.
        name: OrganizationName,
    },
    /// A license was added (spec: ORG-1).
    LicenseAdded {
        /// Its id.
        license: LicenseId,
        /// What it is.
        kind: LicenseKind,
    },
    /// A license was removed.
    LicenseRemoved {
        /// Its id.
        license: LicenseId,
    },
    /// The capabilities changed (spec: ORG-1).
    CapabilitiesChanged {
        /// The new capabilities.
        capabilities: Capabilities,
    },
    /// An administrator renamed the organization (spec: ORG-5).
    OrganizationRenamed {
        /// The name before.
        from: OrganizationName,
        /// The name now.
        to: OrganizationName,
    },
    /// The seat cap changed (spec: ORG-4).
    SeatCapChanged {
        /// The new cap.
        seat_cap: Option<u32>,
    },
    /// A member changed their own name (spec: USR-1).
    ProfileUpdated {
        /// The member's user.
        user: UserId,
    },
    /// An invitation was created and its email queued.
    InvitationSent {
        /// The invitation.
        invitation: InvitationId,
        /// The invited address.
        email: EmailAddress,
        /// The role it grants.
        role: Role,
        /// The team it joins.
        team: Option<TeamId>,
    },
    /// An invitation was resent with a new link; the previous link stopped working (INV-3).
    InvitationResent {
        /// The invitation.
        invitation: InvitationId,
        /// Its address.
        email: EmailAddress,
    },
    /// An invitation was accepted and its invitee became a member.
    InvitationAccepted {
        /// The invitation.
        invitation: InvitationId,
        /// The new member's user.
        user: UserId,
        /// Its address.
        email: EmailAddress,
    },
    /// An invitation was declined.
    InvitationDeclined {
        /// The invitation.
        invitation: InvitationId,
        /// Its address.
        email: EmailAddress,
    },
    /// An invitation was revoked.
    InvitationRevoked {
        /// The invitation.
        invitation: InvitationId,
        /// Its address.
        email: EmailAddress,
    },
    /// A role was granted.
    RoleGranted {
        /// The member's user.
        user: UserId,
        /// The role.
        role: Role,
    },
    /// A role was revoked.
    RoleRevoked {
        /// The member's user.
        user: UserId,
        /// The role.
        role: Role,
    },
    /// A member was removed from the organization.
    MemberRemoved {
        /// The member's user.
        user: UserId,
        /// The member's address.
        email: EmailAddress,
    },
    /// A member left the organization on their own (spec: MEM-1).
    MemberLeft {
        /// The member's user.
        user: UserId,
        /// The member's address.
        email: EmailAddress,
    },
    /// An administrator deactivated a member (spec: MEM-2).
    MemberDeactivated {
        /// The member's user.
        user: UserId,
    },
    /// An administrator reactivated a deactivated member (spec: MEM-2).
    MemberReactivated {
        /// The member's user.
        user: UserId,
    },
    /// A member's personal data was erased from the organization on request; `user` is the
    /// pseudonym that stands for them in the organization's history (spec: USR-5).
    MemberErased {
        /// The pseudonym's user id.
        user: UserId,
    },
    /// A team was created.
    TeamCreated {
        /// The team.
        team: TeamId,
        /// Its name.
        name: TeamName,
    },
    /// A team was renamed.
    TeamRenamed {
        /// The team.
        team: TeamId,
        /// The previous name.
        from: TeamName,
        /// The new name.
        to: TeamName,
    },
    /// A team was deleted; its members stay in the organization.
    TeamDeleted {
        /// The team.
        team: TeamId,
        /// Its name.
        name: TeamName,
    },
    /// A member was added to a team.
    TeamMemberAdded {
        /// The team.
        team: TeamId,
        /// The member's user.
        user: UserId,
    },
    /// A member was removed from a team.
    TeamMemberRemoved {
        /// The team.
        team: TeamId,
        /// The member's user.
        user: UserId,
    },
    /// A team page was edited.
    TeamPageUpdated {
        /// The team.
        team: TeamId,
    },
    /// A message was queued for members (spec: MSG-1).
    MessageSent {
        /// The team addressed, or `None` for everyone.
        team: Option<TeamId>,
        /// Its subject.
        subject: Subject,
        /// How many emails were queued.
        recipients: u64,
    },
    /// An automated notification was queued for every administrator (spec: ADM-3).
    NotificationSent {
        /// Its subject.
        subject: Subject,
        /// How many emails were queued.
        recipients: u64,
    },
    /// An email could not be delivered and was given up (spec: MSG-2).
    MailFailed {
        /// The outbox row.
        outbox: OutboxId,
        /// The address.
        to: EmailAddress,
        /// Why.
        reason: String,
    },
    /// An administrator queued a given-up email again (spec: MSG-3).
    MailRetried {
        /// The outbox row.
        outbox: OutboxId,
        /// The address.
        to: EmailAddress,
        /// Why it had been given up.
        reason: Option<String>,
    },
}
