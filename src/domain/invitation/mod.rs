//! Invitations and their state machine (spec: INV-1..8, INV-10..12).
//!
//! The transitions are pure functions of (invitation, command, `now`): they consume the
//! invitation, so a stale copy cannot be reused, and return the next state or an error. The
//! decisions below (answering, revoking) and in `sending` (inviting, resending) combine them
//! with the organization's state into a [`ChangeSet`].

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{
    bulk::{BulkLineError, ParsedPaste, RejectedEntry},
    changes::{ChangeSet, Context, Decision, OrganizationWrite, Write},
    email::EmailAddress,
    error::DomainError,
    event::{EventActor, EventKind},
    ids::{InvitationId, MemberId, OutboxId, TeamId, UserId},
    invite_options::{InviteOptions, Lifetime, Metadata},
    member::Member,
    organization::{Organization, SeatUsage},
    outbox::{MailContent, OutboxMessage},
    role::{Role, RoleSet},
    team::Team,
    text::Profile,
    token::{InvitationToken, TokenHash},
    validation::{Field, ValidationError},
};

mod sending;

pub(crate) use sending::{
    AddressState, InviteState, Inviter, NewInvitation, administrators_one_by_one, invite,
    invite_first_administrator, invite_many, resend,
};

/// Lifecycle of an invitation. `Accepted`, `Declined` and `Revoked` are final (spec: INV-1).
/// Expiry is not a status: an expired invitation stays `Pending` (spec: INV-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvitationStatus {
    /// Sent, not yet answered.
    Pending,
    /// Accepted: the invitee became a member.
    Accepted,
    /// Declined by the invitee.
    Declined,
    /// Revoked by an administrator.
    Revoked,
}

impl InvitationStatus {
    /// The stable lowercase name used in storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Revoked => "revoked",
        }
    }

    /// Parses [`InvitationStatus::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Declined, Self::Revoked]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for InvitationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A single-use offer to join an organization with a role and, optionally, a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// The organization.
    pub organization: super::ids::OrganizationId,
    /// The invited address.
    pub email: EmailAddress,
    /// The invitee's name, when given (administrator invitations, spec: ADM-4).
    pub invitee: Option<Profile>,
    /// The role acceptance grants (spec: INV-7).
    pub role: Role,
    /// The team acceptance joins (spec: INV-7).
    pub team: Option<TeamId>,
    /// Where it is in its lifecycle.
    pub status: InvitationStatus,
    /// The SHA-256 of the current link's token; the token itself is never stored (INV-6).
    pub token_hash: TokenHash,
    /// Who sent it.
    pub invited_by: UserId,
    /// When it was first sent.
    pub created_at: DateTime<Utc>,
    /// When the current link was sent.
    pub sent_at: DateTime<Utc>,
    /// When the current link stops working (spec: INV-2).
    pub expires_at: DateTime<Utc>,
    /// How many times it was resent (spec: INV-3).
    pub resend_count: u32,
    /// When it reached a final status.
    pub closed_at: Option<DateTime<Utc>>,
    /// The user who accepted or revoked it.
    pub closed_by: Option<UserId>,
    /// Its own lifetime, kept by every resend; the roster's setting when `None` (spec:
    /// INV-14).
    pub lifetime: Option<Lifetime>,
    /// The host's metadata, which the membership it creates keeps (spec: INV-14).
    pub metadata: Option<Metadata>,
    /// Optimistic-concurrency version; 0 means not yet stored.
    pub version: u64,
}

/// Who is accepting, as the host knows them (spec: INV-5, INV-6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Acceptance {
    /// The signed-in user.
    pub user: UserId,
    /// The user's verified email; must match the invited one, regardless of case.
    pub email: EmailAddress,
    /// The user's name, for their membership.
    pub profile: Profile,
    /// Whether the user had an account before this invitation (spec: INV-5, USR-3).
    pub existing_account: bool,
    /// Whether the user acknowledged the existing-account warning.
    pub warning_acknowledged: bool,
}

impl Invitation {
    /// Whether the link has expired at `now` (spec: INV-2). Derived, never stored.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Whether it counts against the seat cap at `now` (spec: ORG-4).
    pub fn holds_seat(&self, now: DateTime<Utc>) -> bool {
        self.status == InvitationStatus::Pending && !self.is_expired(now)
    }

    fn pending(&self) -> Result<(), DomainError> {
        match self.status {
            InvitationStatus::Pending => Ok(()),
            status => Err(DomainError::InvitationNotPending { status }),
        }
    }

    fn pending_unexpired(&self, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.pending()?;
        if self.is_expired(now) {
            return Err(DomainError::InvitationExpired {
                expired_at: self.expires_at,
            });
        }
        Ok(())
    }

    /// Accepts: pending, unexpired, the invited address, warning acknowledged when needed
    /// (spec: INV-1, INV-2, INV-5, INV-6).
    ///
    /// # Errors
    /// [`DomainError::InvitationNotPending`], [`DomainError::InvitationExpired`], [`DomainError::EmailMismatch`],
    /// [`DomainError::WarningNotAcknowledged`].
    pub(crate) fn accept(
        mut self,
        by: &Acceptance,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        self.pending_unexpired(now)?;
        if by.email != self.email {
            return Err(DomainError::EmailMismatch);
        }
        if by.existing_account && !by.warning_acknowledged {
            return Err(DomainError::WarningNotAcknowledged);
        }
        self.status = InvitationStatus::Accepted;
        self.closed_at = Some(now);
        self.closed_by = Some(by.user);
        Ok(self)
    }

    /// Declines: pending and unexpired (spec: INV-1, INV-2).
    ///
    /// # Errors
    /// [`DomainError::InvitationNotPending`], [`DomainError::InvitationExpired`].
    pub(crate) fn decline(mut self, now: DateTime<Utc>) -> Result<Self, DomainError> {
        self.pending_unexpired(now)?;
        self.status = InvitationStatus::Declined;
        self.closed_at = Some(now);
        Ok(self)
    }

    /// Revokes: pending, expired or not; afterwards the link never works (spec: INV-4).
    ///
    /// # Errors
    /// [`DomainError::InvitationNotPending`].
    pub(crate) fn revoke(mut self, by: UserId, now: DateTime<Utc>) -> Result<Self, DomainError> {
        self.pending()?;
        self.status = InvitationStatus::Revoked;
        self.closed_at = Some(now);
        self.closed_by = Some(by);
        Ok(self)
    }

    /// Resends: pending, expired or not; a new link with a fresh expiry replaces the old
    /// one, which stops working (spec: INV-3).
    ///
    /// # Errors
    /// [`DomainError::InvitationNotPending`].
    pub(crate) fn resend(
        mut self,
        token: TokenHash,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Self, DomainError> {
        self.pending()?;
        self.token_hash = token;
        self.sent_at = now;
        self.expires_at = expiry(now, ttl);
        self.resend_count = self.resend_count.saturating_add(1);
        Ok(self)
    }
}

/// When a link sent at `now` stops working; the latest representable time for a lifetime
/// that reaches past it (the service bounds both: spec ERR-1).
fn expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    now.checked_add_signed(ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// An invitation as listings show it, with its derived expiry flag (spec: INV-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InvitationView {
    /// The invitation.
    pub invitation: Invitation,
    /// Whether it is past its expiry; it is still Pending.
    pub expired: bool,
}

impl InvitationView {
    /// Derives the view at `now`.
    pub fn at(invitation: Invitation, now: DateTime<Utc>) -> Self {
        let expired = invitation.is_expired(now);
        Self {
            invitation,
            expired,
        }
    }
}

/// What an invitation command returns: the invitation and its token, shown this once
/// (spec: INV-6). The token also travels in the queued email.
///
/// Serialized, it holds the invitation only: the token is a secret for the email, never for
/// a host's API responses.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct InvitationCreated {
    /// The invitation as stored.
    pub invitation: Invitation,
    /// The secret for the acceptance link. Never stored: derived from the host's link key,
    /// and derived again when its email is rendered (spec: INV-6).
    #[serde(skip)]
    pub token: InvitationToken,
}

/// What accepting returns.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Accepted {
    /// The invitation, now accepted.
    pub invitation: Invitation,
    /// The new member.
    pub member: Member,
}

/// What a bulk invitation returns: one result per pasted entry, nothing lost, nothing twice
/// (spec: INV-7).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BulkInviteReport {
    /// The invitations sent, in paste order, with the line each came from.
    pub invited: Vec<(usize, InvitationCreated)>,
    /// The entries refused, in paste order, with their reason.
    pub rejected: Vec<RejectedEntry>,
}

/// The organization-wide state an acceptance reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AcceptState<'a> {
    /// The organization, at the version read.
    pub organization: &'a Organization,
    /// Whether the accepting user is already a member.
    pub already_member: bool,
    /// Seats in use, counting this invitation while it is pending (spec: ORG-4).
    pub seats: SeatUsage,
    /// The invitation's team, if it still exists.
    pub team: Option<&'a Team>,
}

/// Decides an acceptance: the invitation becomes Accepted and the invitee a member with the
/// invited role, granted through [`RoleSet`] like any other grant (spec: INV-1, INV-5, INV-6,
/// INV-11, ORG-4, ROLE-5).
///
/// A team deleted since the invitation was sent is skipped: the member still joins the
/// organization, which is what the invitation was for.
///
/// # Errors
/// As [`Invitation::accept`], plus [`DomainError::AlreadyMember`], [`DomainError::LegacyIntegration`] and
/// [`DomainError::NoLicense`] (an administrator invitation, spec: ORG-2, ORG-3) and
/// [`DomainError::SeatLimit`].
pub(crate) fn accept(
    ctx: &mut Context<'_>,
    state: &AcceptState<'_>,
    invitation: Invitation,
    by: &Acceptance,
) -> Result<Decision<Accepted>, DomainError> {
    let invitation = invitation.accept(by, ctx.now)?;
    if state.already_member {
        return Err(DomainError::AlreadyMember);
    }
    if invitation.role == Role::Administrator {
        // Joining the administrator team adds an administrator: the same rules as granting the
        // role apply (spec: ORG-2, ORG-3), whatever changed since the invitation was sent.
        state.organization.admits_administrators()?;
    }
    if let Some(cap) = state.organization.seat_cap {
        // The invitation's own seat turns into the member's: usage must already fit.
        let used = state.seats.used();
        if used > u64::from(cap) {
            return Err(DomainError::SeatLimit {
                cap,
                excess: used - u64::from(cap),
            });
        }
    }
    let roles = match invitation.role {
        Role::Member => RoleSet::learner(),
        role => RoleSet::learner().grant(role)?,
    };
    let member = Member {
        id: MemberId::from_uuid(ctx.fresh.uuid()),
        organization: invitation.organization,
        user: by.user,
        email: by.email.clone(),
        profile: by.profile.clone(),
        roles,
        joined_at: ctx.now,
        invitation: Some(invitation.id),
        deactivated_at: None,
        metadata: invitation.metadata.clone(),
        version: 0,
    };
    let mut changes = ChangeSet::new(
        state.organization.id,
        OrganizationWrite::for_invitations(state.organization),
    );
    changes.events.push(ctx.event(
        state.organization.id,
        EventKind::InvitationAccepted {
            invitation: invitation.id,
            user: by.user,
            email: invitation.email.clone(),
        },
    ));
    changes
        .writes
        .push(Write::PutInvitation(invitation.clone()));
    changes.writes.push(Write::PutMember(member.clone()));
    if let Some(team) = state.team.filter(|t| Some(t.id) == invitation.team) {
        changes.writes.push(Write::AddTeamMember {
            team: team.id,
            member: member.id,
            at: ctx.now,
        });
        changes.events.push(ctx.event(
            state.organization.id,
            EventKind::TeamMemberAdded {
                team: team.id,
                user: by.user,
            },
        ));
    }
    Ok(Decision {
        outcome: Accepted { invitation, member },
        changes,
    })
}

/// Decides a decline by whoever holds the link (spec: INV-1, INV-2).
///
/// # Errors
/// As [`Invitation::decline`].
pub(crate) fn decline(
    ctx: &mut Context<'_>,
    organization: &Organization,
    invitation: Invitation,
) -> Result<Decision<Invitation>, DomainError> {
    let invitation = invitation.decline(ctx.now)?;
    ctx.actor = EventActor::Invitee {
        email: invitation.email.clone(),
    };
    close(ctx, organization, invitation, |i| {
        EventKind::InvitationDeclined {
            invitation: i.id,
            email: i.email.clone(),
        }
    })
}

/// Decides a revocation (spec: INV-4).
///
/// # Errors
/// As [`Invitation::revoke`].
pub(crate) fn revoke(
    ctx: &mut Context<'_>,
    organization: &Organization,
    invitation: Invitation,
    by: UserId,
) -> Result<Decision<Invitation>, DomainError> {
    let invitation = invitation.revoke(by, ctx.now)?;
    close(ctx, organization, invitation, |i| {
        EventKind::InvitationRevoked {
            invitation: i.id,
            email: i.email.clone(),
        }
    })
}

fn close(
    ctx: &mut Context<'_>,
    organization: &Organization,
    invitation: Invitation,
    kind: impl FnOnce(&Invitation) -> EventKind,
) -> Result<Decision<Invitation>, DomainError> {
    let mut changes = ChangeSet::new(
        organization.id,
        OrganizationWrite::for_invitations(organization),
    );
    changes
        .events
        .push(ctx.event(organization.id, kind(&invitation)));
    changes
        .writes
        .push(Write::PutInvitation(invitation.clone()));
    Ok(Decision {
        outcome: invitation,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learner_invitations_refuse_the_administrator_role_naming_the_role_field() {
        // spec: ADM-4 — administrators are invited one at a time, with their names.
        assert!(matches!(
            administrators_one_by_one(Role::Administrator),
            Err(DomainError::Invalid(ValidationError::Malformed {
                field: Field::Role,
                ..
            }))
        ));
        for role in [Role::Member, Role::Manager, Role::TeamSupervisor] {
            assert_eq!(administrators_one_by_one(role), Ok(()), "{role}");
        }
    }
}
