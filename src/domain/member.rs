//! Members: a user's membership in one organization.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    email::EmailAddress,
    ids::{InvitationId, MemberId, OrganizationId, UserId},
    invite_options::Metadata,
    role::{Role, RoleSet},
    text::{OrganizationName, Profile},
};

/// A user's membership in one organization, active or deactivated (spec: MEM-2): a
/// membership that is on offer but not yet taken is an
/// [`Invitation`](super::invitation::Invitation) (spec: INV-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its id; time-ordered, which keyset pagination relies on.
    pub id: MemberId,
    /// The organization.
    pub organization: OrganizationId,
    /// The host's user.
    pub user: UserId,
    /// The email the member joined with; messages and notifications go there.
    pub email: EmailAddress,
    /// First and last name; only the member can change them (spec: USR-1).
    pub profile: Profile,
    /// The roles held (spec: ROLE-1..3).
    pub roles: RoleSet,
    /// When the member joined.
    pub joined_at: DateTime<Utc>,
    /// The invitation accepted to join; `None` for an organization's creator.
    pub invitation: Option<InvitationId>,
    /// When an administrator deactivated the membership; `None` while it is active. A
    /// deactivated member can do nothing in the organization, receives no mail from it and
    /// takes no seat, and keeps their roles, teams and history (spec: MEM-2).
    pub deactivated_at: Option<DateTime<Utc>>,
    /// The host's metadata of the invitation accepted to join, if it had any (spec: INV-14).
    pub metadata: Option<Metadata>,
    /// Optimistic-concurrency version; 0 means not yet stored.
    pub version: u64,
}

impl Member {
    /// Whether the member is an administrator.
    pub fn is_administrator(&self) -> bool {
        self.roles.contains(Role::Administrator)
    }

    /// Whether the member is active: not deactivated (spec: MEM-2).
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }

    /// `Active` or `Deactivated`, as listings show it (spec: MEM-2).
    pub fn status(&self) -> MembershipStatus {
        if self.is_active() {
            MembershipStatus::Active
        } else {
            MembershipStatus::Deactivated
        }
    }
}

/// One organization a user belongs to, as their account menu lists it (spec: USR-4): the
/// organization's name beside the user's membership in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Membership {
    /// The organization's name.
    pub organization_name: OrganizationName,
    /// The user's membership in it: the organization's id, their roles, the email they
    /// joined with, when they joined.
    pub member: Member,
}

impl Membership {
    /// `member`, in the organization named `organization_name`.
    pub fn new(organization_name: OrganizationName, member: Member) -> Self {
        Self {
            organization_name,
            member,
        }
    }
}

/// Membership status shown in listings of the administrator team (seed: "Pending", "Active").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MembershipStatus {
    /// Invited, not yet accepted. `expired` is set once the invitation is past its expiry,
    /// and the entry stays Pending until it is resent or revoked (spec: INV-2).
    Pending {
        /// Whether the invitation has expired.
        expired: bool,
    },
    /// Accepted: a member.
    Active,
    /// A member an administrator deactivated: no access, no mail, no seat, until
    /// reactivated (spec: MEM-2).
    Deactivated,
}

impl std::fmt::Display for MembershipStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pending { expired: false } => f.write_str("Pending"),
            Self::Pending { expired: true } => f.write_str("Pending (expired)"),
            Self::Active => f.write_str("Active"),
            Self::Deactivated => f.write_str("Deactivated"),
        }
    }
}

use super::{
    changes::{ChangeSet, Context, Decision, OrganizationWrite, Write},
    error::DomainError,
    event::EventKind,
    organization::{Organization, SeatUsage},
};

fn touch(organization: &Organization) -> ChangeSet {
    ChangeSet::new(
        organization.id,
        OrganizationWrite::Touch {
            expected_version: organization.version,
        },
    )
}

/// The last active administrator can be neither removed, demoted nor deactivated, and cannot
/// leave (spec: ADM-5, MEM-2): `administrators` counts the active ones, and a deactivated
/// administrator is not among them.
pub(crate) fn keep_an_administrator(
    member: &Member,
    administrators: u64,
) -> Result<(), DomainError> {
    if member.is_administrator() && member.is_active() && administrators <= 1 {
        return Err(DomainError::LastAdministrator);
    }
    Ok(())
}

/// Decides a role grant, through [`RoleSet::grant`] (spec: ROLE-2, ROLE-5).
///
/// # Errors
/// [`DomainError::Role`] (not cumulative, or already held), [`DomainError::LegacyIntegration`]
/// (granting Administrator without administrator-team features, spec: ORG-2),
/// [`DomainError::NoLicense`] (a second administrator without a license, spec: ORG-3).
pub(crate) fn grant_role(
    ctx: &mut Context<'_>,
    organization: &Organization,
    mut member: Member,
    role: Role,
) -> Result<Decision<Member>, DomainError> {
    if role == Role::Administrator {
        organization.admits_administrators()?;
    }
    member.roles = member.roles.grant(role)?;
    let kind = EventKind::RoleGranted {
        user: member.user,
        role,
    };
    Ok(put_member(ctx, organization, member, kind))
}

/// Writes the member as changed, with the event that says what changed.
fn put_member(
    ctx: &mut Context<'_>,
    organization: &Organization,
    member: Member,
    kind: EventKind,
) -> Decision<Member> {
    let mut changes = touch(organization);
    changes.events.push(ctx.event(organization.id, kind));
    changes.writes.push(Write::PutMember(member.clone()));
    Decision {
        outcome: member,
        changes,
    }
}

/// Decides a role revocation (spec: ADM-5, ROLE-3).
///
/// # Errors
/// [`DomainError::Role`] (not held, or the permanent Member role),
/// [`DomainError::LastAdministrator`], [`DomainError::LegacyIntegration`] (revoking
/// Administrator, spec: ORG-2).
pub(crate) fn revoke_role(
    ctx: &mut Context<'_>,
    organization: &Organization,
    mut member: Member,
    role: Role,
    administrators: u64,
) -> Result<Decision<Member>, DomainError> {
    if role == Role::Administrator && !organization.has_administrator_team() {
        return Err(DomainError::LegacyIntegration);
    }
    let roles = member.roles.revoke(role)?;
    if role == Role::Administrator {
        keep_an_administrator(&member, administrators)?;
    }
    member.roles = roles;
    let kind = EventKind::RoleRevoked {
        user: member.user,
        role,
    };
    Ok(put_member(ctx, organization, member, kind))
}

/// Decides removing a member from the organization; their team memberships go with them.
///
/// # Errors
/// [`DomainError::LastAdministrator`] (spec: ADM-5).
pub(crate) fn remove_member(
    ctx: &mut Context<'_>,
    organization: &Organization,
    member: Member,
    administrators: u64,
) -> Result<Decision<Member>, DomainError> {
    let event = EventKind::MemberRemoved {
        user: member.user,
        email: member.email.clone(),
    };
    depart(ctx, organization, member, administrators, event)
}

/// Decides a member leaving the organization on their own (spec: MEM-1): as a removal, their
/// team memberships go with them, and they can be invited again.
///
/// # Errors
/// [`DomainError::LastAdministrator`] (spec: ADM-5, MEM-1).
pub(crate) fn leave(
    ctx: &mut Context<'_>,
    organization: &Organization,
    member: Member,
    administrators: u64,
) -> Result<Decision<Member>, DomainError> {
    let event = EventKind::MemberLeft {
        user: member.user,
        email: member.email.clone(),
    };
    depart(ctx, organization, member, administrators, event)
}

/// A member's row deleted, with `event` in the audit trail, unless they are the last
/// administrator.
fn depart(
    ctx: &mut Context<'_>,
    organization: &Organization,
    member: Member,
    administrators: u64,
    event: EventKind,
) -> Result<Decision<Member>, DomainError> {
    keep_an_administrator(&member, administrators)?;
    let mut changes = touch(organization);
    changes.events.push(ctx.event(organization.id, event));
    changes.writes.push(Write::DeleteMember {
        member: member.id,
        expected_version: member.version,
        at: ctx.now,
    });
    Ok(Decision {
        outcome: member,
        changes,
    })
}

/// Decides deactivating a member (spec: MEM-2): from now on they can do nothing in the
/// organization, receive none of its messages and notifications (those queued for them and
/// not yet sent are withdrawn) and take no seat; their roles, teams and history
/// stay. The organization's version is bumped, so a concurrent decision counting seats or
/// administrators is decided again.
///
/// # Errors
/// [`DomainError::AlreadyDeactivated`], [`DomainError::LastAdministrator`] (the last active
/// administrator, spec: ADM-5).
pub(crate) fn deactivate(
    ctx: &mut Context<'_>,
    organization: &Organization,
    mut member: Member,
    administrators: u64,
) -> Result<Decision<Member>, DomainError> {
    if !member.is_active() {
        return Err(DomainError::AlreadyDeactivated);
    }
    keep_an_administrator(&member, administrators)?;
    member.deactivated_at = Some(ctx.now);
    let to = member.email.clone();
    let kind = EventKind::MemberDeactivated { user: member.user };
    let mut decision = put_member(ctx, organization, member, kind);
    // What was queued for them before is not sent either.
    decision.changes.writes.push(Write::WithdrawMailTo { to });
    Ok(decision)
}

/// Decides reactivating a deactivated member (spec: MEM-2): everything they had is theirs
/// again, and they take a seat again, which the seat cap must leave free (spec: ORG-4).
///
/// # Errors
/// [`DomainError::NotDeactivated`], [`DomainError::SeatLimit`].
pub(crate) fn reactivate(
    ctx: &mut Context<'_>,
    organization: &Organization,
    mut member: Member,
    seats: SeatUsage,
) -> Result<Decision<Member>, DomainError> {
    if member.is_active() {
        return Err(DomainError::NotDeactivated);
    }
    if let Some(cap) = organization.seat_cap {
        let excess = seats
            .used()
            .saturating_add(1)
            .saturating_sub(u64::from(cap));
        if excess > 0 {
            return Err(DomainError::SeatLimit { cap, excess });
        }
    }
    member.deactivated_at = None;
    let kind = EventKind::MemberReactivated { user: member.user };
    Ok(put_member(ctx, organization, member, kind))
}

/// Decides a profile change by its owner (spec: USR-1). The policy has already checked that
/// the actor is the member.
pub(crate) fn update_profile(
    ctx: &mut Context<'_>,
    organization: &Organization,
    mut member: Member,
    profile: Profile,
) -> Decision<Member> {
    member.profile = profile;
    let mut changes = ChangeSet::new(organization.id, OrganizationWrite::Untouched);
    changes.events.push(ctx.event(
        organization.id,
        EventKind::ProfileUpdated { user: member.user },
    ));
    changes.writes.push(Write::PutMember(member.clone()));
    Decision {
        outcome: member,
        changes,
    }
}
