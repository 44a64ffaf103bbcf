//! The one error type commands return (spec: ERR-1). A command that fails changed nothing
//! (spec: ERR-2).

use chrono::{DateTime, Utc};

use crate::domain::{role::RoleError, validation::ValidationError};
use crate::{
    domain::{
        error::DomainError, invitation::InvitationStatus, organization::Capability, role::Role,
    },
    policy::Permission,
    store::StoreError,
};

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Boxed error kept as the `source` of infrastructure failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The kinds of entity a [`Error::NotFound`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntityKind {
    /// An organization.
    Organization,
    /// A member of an organization.
    Member,
    /// A team.
    Team,
    /// An invitation.
    Invitation,
    /// A license.
    License,
    /// An outbox message.
    OutboxMessage,
}

impl std::fmt::Display for EntityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Organization => "organization",
            Self::Member => "member",
            Self::Team => "team",
            Self::Invitation => "invitation",
            Self::License => "license",
            Self::OutboxMessage => "outbox message",
        })
    }
}

/// What a command or query can fail with. Every variant says what happened and what to do;
/// whatever the variant, the command changed nothing (spec: ERR-1, ERR-2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The actor lacks a permission, as their membership is stored now (spec: ROLE-4).
    #[error("forbidden: this needs the `{permission}` permission, which the actor does not have")]
    Forbidden {
        /// The missing permission.
        permission: Permission,
    },
    /// The organization's contract does not include a capability the command needs
    /// (spec: ADM-2).
    #[error(
        "the organization does not have the `{capability}` capability this needs; contact support to enable it"
    )]
    CapabilityRequired {
        /// The missing capability.
        capability: Capability,
    },
    /// The actor's membership in the organization is deactivated: they can do nothing in it
    /// until an administrator reactivates them (spec: MEM-2, ROLE-4).
    #[error(
        "your membership in this organization is deactivated; ask one of its administrators to reactivate it"
    )]
    Deactivated,
    /// No such entity in this organization.
    #[error("{entity} not found; check the id and the organization")]
    NotFound {
        /// What was looked for.
        entity: EntityKind,
    },
    /// An input broke the rules of ERR-3.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationError),
    /// The invitation expired; it stays Pending until resent or revoked (spec: INV-2).
    #[error("the invitation expired on {expired_at}; ask an administrator to resend it")]
    InvitationExpired {
        /// When it expired.
        expired_at: DateTime<Utc>,
    },
    /// The invitation was already accepted, declined or revoked (spec: INV-1, INV-4).
    #[error("the invitation is {status} and can no longer change; ask for a new invitation")]
    InvitationNotPending {
        /// Its status.
        status: InvitationStatus,
    },
    /// The signed-in user's email differs from the invited one (spec: INV-6).
    #[error("this invitation was sent to another email address; sign in with the invited address")]
    EmailMismatch,
    /// The invitee has an existing account and did not acknowledge what will not follow
    /// them (spec: INV-5, USR-3).
    #[error(
        "the invitee already has an account: show them the warning (licenses, completion history and integrations do not follow) and accept again with it acknowledged"
    )]
    WarningNotAcknowledged,
    /// Administrator and Team Supervisor are not cumulative (spec: ROLE-2).
    #[error("the {requested} role cannot be held together with {held}; revoke {held} first")]
    RolesNotCumulative {
        /// The role already held.
        held: Role,
        /// The role asked for.
        requested: Role,
    },
    /// The member already holds the role.
    #[error("the member already holds the {role} role")]
    RoleAlreadyHeld {
        /// The role.
        role: Role,
    },
    /// The member does not hold the role.
    #[error("the member does not hold the {role} role")]
    RoleNotHeld {
        /// The role.
        role: Role,
    },
    /// Every member holds the Member role (spec: ROLE-3).
    #[error("every member holds the Member role; remove the member from the organization instead")]
    LearnerRoleIsPermanent,
    /// The command would leave the organization without an administrator (spec: ADM-5).
    #[error(
        "this would leave the organization without an administrator; make someone else administrator first"
    )]
    LastAdministrator,
    /// Administrators beyond the creator need a license first (spec: ORG-3).
    #[error(
        "the organization holds no license yet; contact support to add licenses before adding administrators"
    )]
    NoLicense,
    /// The organization has a legacy integration: no administrator-team features (spec: ORG-2).
    #[error(
        "administrator-team features are not available to organizations with a legacy integration; contact support"
    )]
    LegacyIntegration,
    /// The seat cap would be exceeded (spec: ORG-4).
    #[error(
        "the organization's seat cap of {cap} would be exceeded by {excess}; free seats or raise the cap"
    )]
    SeatLimit {
        /// The cap.
        cap: u32,
        /// Seats the command needs beyond the cap.
        excess: u64,
    },
    /// The user is already a member of the organization (spec: INV-11).
    #[error("this user is already a member of the organization")]
    AlreadyMember,
    /// A pending invitation for the address exists (spec: INV-8).
    #[error(
        "a pending invitation for this address already exists; resend it instead of inviting again"
    )]
    AlreadyInvited,
    /// The member already belongs to the team.
    #[error("the member already belongs to this team")]
    AlreadyInTeam,
    /// The member does not belong to the team.
    #[error("the member does not belong to this team")]
    NotInTeam,
    /// The back office invites only an organization's first administrator; once it has one,
    /// they invite the others (spec: ORG-5).
    #[error(
        "this organization already has an administrator; ask them to invite other administrators"
    )]
    AdministratorExists,
    /// The member is deactivated already (spec: MEM-2).
    #[error("this member is already deactivated; reactivate them instead")]
    AlreadyDeactivated,
    /// The member is active: there is nothing to reactivate (spec: MEM-2).
    #[error("this member is active; only a deactivated member can be reactivated")]
    NotDeactivated,
    /// The email cannot be queued again: it was not given up, or it carries an invitation's
    /// link that no longer works (spec: MSG-3).
    #[error("this email cannot be retried: {reason}")]
    MailNotRetriable {
        /// Why, and what to do instead.
        reason: String,
    },
    /// Another team of the organization has this name, regardless of case.
    #[error("a team with this name already exists in the organization; choose another name")]
    TeamNameTaken,
    /// Concurrent commands kept changing the same organization; nothing was changed.
    #[error(
        "the organization was changed concurrently too many times; nothing was changed, try again"
    )]
    Conflict,
    /// The operating system's random number generator failed; no token was made.
    #[error("the operating system's random number generator failed; try again")]
    Randomness(#[source] BoxError),
    /// The store failed; nothing was changed.
    #[error("the store failed; nothing was changed")]
    Store(#[from] StoreError),
}

impl From<RoleError> for Error {
    fn from(e: RoleError) -> Self {
        match e {
            RoleError::NotCumulative { held, requested } => {
                Self::RolesNotCumulative { held, requested }
            }
            RoleError::AlreadyHeld { role } => Self::RoleAlreadyHeld { role },
            RoleError::NotHeld { role } => Self::RoleNotHeld { role },
            RoleError::LearnerRoleIsPermanent => Self::LearnerRoleIsPermanent,
        }
    }
}

/// The shell's side of the core's refusals: each becomes the variant of the same name, whose
/// message tells the caller what to do (spec: ERR-1).
impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(e) => Self::Invalid(e),
            DomainError::Role(e) => e.into(),
            DomainError::InvitationExpired { expired_at } => Self::InvitationExpired { expired_at },
            DomainError::InvitationNotPending { status } => Self::InvitationNotPending { status },
            DomainError::EmailMismatch => Self::EmailMismatch,
            DomainError::WarningNotAcknowledged => Self::WarningNotAcknowledged,
            DomainError::LastAdministrator => Self::LastAdministrator,
            DomainError::NoLicense => Self::NoLicense,
            DomainError::LegacyIntegration => Self::LegacyIntegration,
            DomainError::SeatLimit { cap, excess } => Self::SeatLimit { cap, excess },
            DomainError::AlreadyMember => Self::AlreadyMember,
            DomainError::AlreadyInvited => Self::AlreadyInvited,
            DomainError::AlreadyInTeam => Self::AlreadyInTeam,
            DomainError::NotInTeam => Self::NotInTeam,
            DomainError::LicenseNotFound => Self::NotFound {
                entity: EntityKind::License,
            },
            DomainError::MailNotRetriable { reason } => Self::MailNotRetriable { reason },
            DomainError::AdministratorExists => Self::AdministratorExists,
            DomainError::AlreadyDeactivated => Self::AlreadyDeactivated,
            DomainError::NotDeactivated => Self::NotDeactivated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_of_the_core_keep_the_public_variant_and_message() {
        // spec: ERR-1 — the core's own error type changes nothing a caller sees.
        let cases = [
            (
                DomainError::LicenseNotFound,
                "license not found; check the id and the organization",
            ),
            (
                DomainError::SeatLimit { cap: 3, excess: 2 },
                "the organization's seat cap of 3 would be exceeded by 2; free seats or raise the cap",
            ),
            (
                DomainError::Role(RoleError::LearnerRoleIsPermanent),
                "every member holds the Member role; remove the member from the organization instead",
            ),
            (
                DomainError::InvitationNotPending {
                    status: InvitationStatus::Revoked,
                },
                "the invitation is revoked and can no longer change; ask for a new invitation",
            ),
        ];
        for (refusal, message) in cases {
            assert_eq!(Error::from(refusal).to_string(), message);
        }
        assert!(matches!(
            Error::from(DomainError::LicenseNotFound),
            Error::NotFound {
                entity: EntityKind::License
            }
        ));
        assert!(matches!(
            Error::from(DomainError::Role(RoleError::NotCumulative {
                held: Role::Administrator,
                requested: Role::TeamSupervisor,
            })),
            Error::RolesNotCumulative {
                held: Role::Administrator,
                requested: Role::TeamSupervisor
            }
        ));
    }
}
