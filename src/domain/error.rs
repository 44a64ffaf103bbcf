//! Why a decision of the core refuses a command.
//!
//! The core has its own error type so that it depends on nothing outside `domain/`: the
//! shell turns each refusal into the public `Error` variant of the same name, with the
//! message a caller sees (spec: ERR-1).

use chrono::{DateTime, Utc};

use super::{invitation::InvitationStatus, role::RoleError, validation::ValidationError};

/// A rule of the domain refused the command; nothing was decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// An input broke the rules of ERR-3.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationError),
    /// A role change broke ROLE-2 or ROLE-3.
    #[error(transparent)]
    Role(#[from] RoleError),
    /// The invitation expired (spec: INV-2).
    #[error("the invitation expired on {expired_at}")]
    InvitationExpired {
        /// When it expired.
        expired_at: DateTime<Utc>,
    },
    /// The invitation is no longer pending (spec: INV-1, INV-4).
    #[error("the invitation is {status}")]
    InvitationNotPending {
        /// Its status.
        status: InvitationStatus,
    },
    /// The accepting user's email differs from the invited one (spec: INV-6).
    #[error("the invitation was sent to another email address")]
    EmailMismatch,
    /// The invitee has an account and did not acknowledge the warning (spec: INV-5, USR-3).
    #[error("the existing-account warning was not acknowledged")]
    WarningNotAcknowledged,
    /// The command would leave the organization without an administrator (spec: ADM-5).
    #[error("the organization would be left without an administrator")]
    LastAdministrator,
    /// Administrators beyond the creator need a license (spec: ORG-3).
    #[error("the organization holds no license")]
    NoLicense,
    /// Administrator-team features are off for a legacy integration (spec: ORG-2).
    #[error("the organization has a legacy integration")]
    LegacyIntegration,
    /// The seat cap would be exceeded (spec: ORG-4).
    #[error("the seat cap of {cap} would be exceeded by {excess}")]
    SeatLimit {
        /// The cap.
        cap: u32,
        /// Seats needed beyond the cap.
        excess: u64,
    },
    /// The user is already a member (spec: INV-11).
    #[error("the user is already a member")]
    AlreadyMember,
    /// A pending invitation for the address exists (spec: INV-8).
    #[error("a pending invitation for the address exists")]
    AlreadyInvited,
    /// The member already belongs to the team.
    #[error("the member already belongs to the team")]
    AlreadyInTeam,
    /// The member does not belong to the team.
    #[error("the member does not belong to the team")]
    NotInTeam,
    /// The organization holds no license with the id given.
    #[error("the organization holds no such license")]
    LicenseNotFound,
    /// The host refused the invitation (spec: MEM-3).
    #[error("refused by the organization's policy: {reason}")]
    Vetoed {
        /// The host's reason.
        reason: String,
    },
    /// The organization has an administrator already: they invite the others (spec: ORG-5).
    #[error("the organization already has an administrator")]
    AdministratorExists,
    /// The member is deactivated already (spec: MEM-2).
    #[error("the member is already deactivated")]
    AlreadyDeactivated,
    /// The member is active: there is nothing to reactivate (spec: MEM-2).
    #[error("the member is not deactivated")]
    NotDeactivated,
    /// The email was not given up, or its link no longer works (spec: MSG-3).
    #[error("the email cannot be retried: {reason}")]
    MailNotRetriable {
        /// Why.
        reason: String,
    },
}
