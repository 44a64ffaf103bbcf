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
    /// The host's hook refused the command, with its reason (spec: MEM-3).
    #[error("refused by the organization's policy: {reason}")]
    Vetoed {
        /// The host's reason, for the person refused.
        reason: String,
    },
    /// The host's hook failed (it panicked or did not answer in time): the command was
    /// refused and nothing changed (spec: MEM-3).
    #[error("the host's check failed ({reason}); nothing was changed, try again later")]
    HookFailed {
        /// What went wrong.
        reason: String,
    },
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

impl Error {
    /// A stable, machine-readable name of the variant (`seat_limit`, `invitation_expired`…),
    /// for a host's API responses and logs: it never changes once released. The crate
    /// documentation lists every code with its HTTP status.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Forbidden { .. } => "forbidden",
            Self::CapabilityRequired { .. } => "capability_required",
            Self::Deactivated => "deactivated",
            Self::NotFound { .. } => "not_found",
            Self::Invalid(_) => "invalid_input",
            Self::InvitationExpired { .. } => "invitation_expired",
            Self::InvitationNotPending { .. } => "invitation_not_pending",
            Self::EmailMismatch => "email_mismatch",
            Self::WarningNotAcknowledged => "warning_not_acknowledged",
            Self::RolesNotCumulative { .. } => "roles_not_cumulative",
            Self::RoleAlreadyHeld { .. } => "role_already_held",
            Self::RoleNotHeld { .. } => "role_not_held",
            Self::LearnerRoleIsPermanent => "learner_role_is_permanent",
            Self::LastAdministrator => "last_administrator",
            Self::NoLicense => "no_license",
            Self::LegacyIntegration => "legacy_integration",
            Self::SeatLimit { .. } => "seat_limit",
            Self::AlreadyMember => "already_member",
            Self::AlreadyInvited => "already_invited",
            Self::AlreadyInTeam => "already_in_team",
            Self::NotInTeam => "not_in_team",
            Self::Vetoed { .. } => "vetoed",
            Self::HookFailed { .. } => "hook_failed",
            Self::AdministratorExists => "administrator_exists",
            Self::AlreadyDeactivated => "already_deactivated",
            Self::NotDeactivated => "not_deactivated",
            Self::MailNotRetriable { .. } => "mail_not_retriable",
            Self::TeamNameTaken => "team_name_taken",
            Self::Conflict => "conflict",
            Self::Randomness(_) => "randomness",
            Self::Store(_) => "store",
        }
    }

    /// The HTTP status a web host would answer with (`403`, `404`, `409`, `410`, `422`,
    /// `500`, `503`), as a plain number: the crate depends on no HTTP library.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Forbidden { .. } => 403,
            Self::CapabilityRequired { .. } => 403,
            Self::Deactivated => 403,
            Self::NotFound { .. } => 404,
            Self::Invalid(_) => 422,
            Self::InvitationExpired { .. } => 410,
            Self::InvitationNotPending { .. } => 409,
            Self::EmailMismatch => 403,
            Self::WarningNotAcknowledged => 409,
            Self::RolesNotCumulative { .. } => 409,
            Self::RoleAlreadyHeld { .. } => 409,
            Self::RoleNotHeld { .. } => 409,
            Self::LearnerRoleIsPermanent => 409,
            Self::LastAdministrator => 409,
            Self::NoLicense => 409,
            Self::LegacyIntegration => 409,
            Self::SeatLimit { .. } => 409,
            Self::AlreadyMember => 409,
            Self::AlreadyInvited => 409,
            Self::AlreadyInTeam => 409,
            Self::NotInTeam => 409,
            Self::Vetoed { .. } => 403,
            Self::HookFailed { .. } => 500,
            Self::AdministratorExists => 409,
            Self::AlreadyDeactivated => 409,
            Self::NotDeactivated => 409,
            Self::MailNotRetriable { .. } => 409,
            Self::TeamNameTaken => 409,
            Self::Conflict => 409,
            Self::Randomness(_) => 500,
            Self::Store(_) => 503,
        }
    }
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
            DomainError::Vetoed { reason } => Self::Vetoed { reason },
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

    /// One error of every variant, with the code and status it must keep.
    fn every_variant() -> Vec<(Error, &'static str, u16)> {
        use crate::domain::organization::Capability;
        vec![
            (
                Error::Forbidden {
                    permission: Permission::ManageMembers,
                },
                "forbidden",
                403,
            ),
            (
                Error::CapabilityRequired {
                    capability: Capability::PayPerUse,
                },
                "capability_required",
                403,
            ),
            (Error::Deactivated, "deactivated", 403),
            (
                Error::NotFound {
                    entity: EntityKind::Team,
                },
                "not_found",
                404,
            ),
            (
                Error::Invalid(ValidationError::Empty {
                    field: crate::domain::validation::Field::Email,
                }),
                "invalid_input",
                422,
            ),
            (
                Error::InvitationExpired {
                    expired_at: DateTime::UNIX_EPOCH,
                },
                "invitation_expired",
                410,
            ),
            (
                Error::InvitationNotPending {
                    status: InvitationStatus::Accepted,
                },
                "invitation_not_pending",
                409,
            ),
            (Error::EmailMismatch, "email_mismatch", 403),
            (
                Error::WarningNotAcknowledged,
                "warning_not_acknowledged",
                409,
            ),
            (
                Error::RolesNotCumulative {
                    held: Role::Administrator,
                    requested: Role::TeamSupervisor,
                },
                "roles_not_cumulative",
                409,
            ),
            (
                Error::RoleAlreadyHeld {
                    role: Role::Manager,
                },
                "role_already_held",
                409,
            ),
            (
                Error::RoleNotHeld {
                    role: Role::Manager,
                },
                "role_not_held",
                409,
            ),
            (
                Error::LearnerRoleIsPermanent,
                "learner_role_is_permanent",
                409,
            ),
            (Error::LastAdministrator, "last_administrator", 409),
            (Error::NoLicense, "no_license", 409),
            (Error::LegacyIntegration, "legacy_integration", 409),
            (Error::SeatLimit { cap: 1, excess: 1 }, "seat_limit", 409),
            (Error::AlreadyMember, "already_member", 409),
            (Error::AlreadyInvited, "already_invited", 409),
            (Error::AlreadyInTeam, "already_in_team", 409),
            (Error::NotInTeam, "not_in_team", 409),
            (
                Error::Vetoed {
                    reason: "not our domain".to_owned(),
                },
                "vetoed",
                403,
            ),
            (
                Error::HookFailed {
                    reason: "it panicked".to_owned(),
                },
                "hook_failed",
                500,
            ),
            (Error::AdministratorExists, "administrator_exists", 409),
            (Error::AlreadyDeactivated, "already_deactivated", 409),
            (Error::NotDeactivated, "not_deactivated", 409),
            (
                Error::MailNotRetriable {
                    reason: "sent".to_owned(),
                },
                "mail_not_retriable",
                409,
            ),
            (Error::TeamNameTaken, "team_name_taken", 409),
            (Error::Conflict, "conflict", 409),
            (Error::Randomness("no entropy".into()), "randomness", 500),
            (
                Error::Store(StoreError::Conflict { entity: "member" }),
                "store",
                503,
            ),
        ]
    }

    #[test]
    fn every_code_and_status_is_pinned_and_documented_once() {
        // spec: ERR-1 — a host branches on codes: renaming one breaks this test.
        let docs = include_str!("lib.rs");
        let mut codes = std::collections::HashSet::new();
        for (error, code, status) in every_variant() {
            assert_eq!(error.code(), code, "{error:?}");
            assert_eq!(error.http_status(), status, "{error:?}");
            assert!(codes.insert(code), "{code} is used twice");
            let row = format!("//! | `{code}` | {status} | [`Error::");
            assert_eq!(
                docs.matches(&row).count(),
                1,
                "the crate docs' table lacks {row}"
            );
        }
        let documented = docs
            .lines()
            .filter(|l| l.starts_with("//! | `") && l.contains("| [`Error::"))
            .count();
        assert_eq!(
            documented,
            codes.len(),
            "the table lists a code no variant has"
        );
    }
}
