//! Who may do what: one table from (roles, permission, scope) to allow or deny
//! (spec: ROLE-1, ROLE-4, ROLE-5, ADM-1, ADM-2, ORG-1, ORG-2, TEAM-3, USR-1, USR-2).
//!
//! Every command of [`Roster`](crate::Roster) calls [`authorize`] with the actor's membership
//! as the store holds it *now*, never with roles the actor carries around, so a removed or
//! demoted member loses access at once (spec: ROLE-4). Hosts call it too, through
//! [`Roster::authorize`](crate::Roster::authorize), for what they perform themselves
//! (downloading a course, purchasing with a card, opening a List).

use serde::{Deserialize, Serialize};

use crate::{
    domain::{
        activity::StatsScope,
        ids::{TeamId, UserId},
        member::Member,
        organization::{Capability, Organization},
        role::{Role, RoleSet},
    },
    error::Error,
};

/// A permission, named in [`Error::Forbidden`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Permission {
    /// Invite, promote, demote and list administrators (spec: ADM-2; an administrator-team
    /// feature, unavailable with a legacy integration, ORG-2).
    ManageAdministrators,
    /// Remove members and list them (spec: ROLE-1).
    ManageMembers,
    /// Grant and revoke roles (spec: ROLE-5).
    ManageRoles,
    /// List, resend and revoke invitations (spec: ROLE-1).
    ManageInvitations,
    /// Invite learners (spec: ADM-2: needs the `coursecloud_legacy` capability).
    InviteLearners,
    /// Create, rename and delete teams (spec: TEAM-1).
    ManageTeams,
    /// Add and remove a team's members (spec: TEAM-1, TEAM-3; supervisors: their teams).
    ManageTeamMembers,
    /// Edit a team's page and suggest courses (spec: TEAM-2, TEAM-3).
    EditTeamPage,
    /// See a team, its page and its members (members: their own teams).
    ViewTeam,
    /// Message every member (spec: MSG-1).
    MessageEveryone,
    /// Message a team's members (spec: MSG-1; supervisors: their teams).
    MessageTeam,
    /// See the organization itself: its name, and the teams one belongs to. Every member.
    ViewOrganization,
    /// List the organization's members.
    ViewMembers,
    /// Read the audit trail (spec: INV-12).
    ViewAuditTrail,
    /// See organization-wide analytics (spec: ROLE-1, STAT-2).
    ViewOrganizationAnalytics,
    /// See a team's analytics (spec: ROLE-1, STAT-2, TEAM-4; supervisors: their teams).
    ViewTeamAnalytics,
    /// See one's own learning activity (spec: ROLE-1, STAT-2).
    ViewOwnActivity,
    /// Download one's own certificates (spec: ROLE-1).
    DownloadOwnCertificates,
    /// Download courses (spec: ADM-2).
    DownloadCourses,
    /// Deliver courses to an integrated learning platform (spec: ADM-2).
    DeliverCourses,
    /// View activity reports (spec: ADM-2).
    ViewReports,
    /// Download activity reports (spec: ADM-2, STAT-4).
    DownloadReports,
    /// Receive the organization's automated notifications (spec: ADM-2, ADM-3).
    ReceiveNotifications,
    /// Purchase with a payment card saved on one's own profile (spec: ADM-2, USR-2).
    PurchaseWithCard,
    /// Create pay-per-use licenses (spec: ADM-2: needs the `pay_per_use` capability).
    CreatePayPerUseLicense,
    /// Change one's own first and last name (spec: USR-1).
    UpdateOwnProfile,
    /// Leave the organization on one's own (spec: MEM-1).
    LeaveOrganization,
    /// Queue again an email that was given up (spec: MSG-3).
    RetryMail,
    /// Rename the organization (spec: ORG-5).
    RenameOrganization,
    /// Open a personal resource: a List, saved card or login credentials (spec: USR-2).
    AccessPersonalResource,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = serde_plain_name(*self);
        f.write_str(name)
    }
}

fn serde_plain_name(p: Permission) -> &'static str {
    use Permission as P;
    match p {
        P::ManageAdministrators => "manage_administrators",
        P::ManageMembers => "manage_members",
        P::ManageRoles => "manage_roles",
        P::ManageInvitations => "manage_invitations",
        P::InviteLearners => "invite_learners",
        P::ManageTeams => "manage_teams",
        P::ManageTeamMembers => "manage_team_members",
        P::EditTeamPage => "edit_team_page",
        P::ViewTeam => "view_team",
        P::MessageEveryone => "message_everyone",
        P::MessageTeam => "message_team",
        P::ViewOrganization => "view_organization",
        P::ViewMembers => "view_members",
        P::ViewAuditTrail => "view_audit_trail",
        P::ViewOrganizationAnalytics => "view_organization_analytics",
        P::ViewTeamAnalytics => "view_team_analytics",
        P::ViewOwnActivity => "view_own_activity",
        P::DownloadOwnCertificates => "download_own_certificates",
        P::DownloadCourses => "download_courses",
        P::DeliverCourses => "deliver_courses",
        P::ViewReports => "view_reports",
        P::DownloadReports => "download_reports",
        P::ReceiveNotifications => "receive_notifications",
        P::PurchaseWithCard => "purchase_with_card",
        P::CreatePayPerUseLicense => "create_pay_per_use_license",
        P::UpdateOwnProfile => "update_own_profile",
        P::LeaveOrganization => "leave_organization",
        P::RetryMail => "retry_mail",
        P::RenameOrganization => "rename_organization",
        P::AccessPersonalResource => "access_personal_resource",
    }
}

/// Where a permission is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// The organization as a whole.
    Organization,
    /// One team: supervisors and members are limited to their own teams (spec: TEAM-3,
    /// TEAM-4).
    Team(TeamId),
    /// A resource that belongs to one user: only its owner may use it, whatever the roles
    /// (spec: USR-1, USR-2).
    OwnedBy(UserId),
}

/// An action the host itself performs, checked with [`Roster::authorize`](crate::Roster::authorize).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostAction {
    /// Download a course (spec: ADM-2).
    DownloadCourse,
    /// Deliver a course to an integrated learning platform (spec: ADM-2).
    DeliverCourse,
    /// View activity reports (spec: ADM-2).
    ViewReports,
    /// Download activity reports (spec: ADM-2).
    DownloadReports,
    /// Purchase with the payment card saved on `card_owner`'s profile: only administrators,
    /// and only with their own card (spec: ADM-2, USR-2).
    PurchaseWithCard {
        /// Whose profile the card is saved on.
        card_owner: UserId,
    },
    /// Create pay-per-use licenses (spec: ADM-2, with the `pay_per_use` capability).
    CreatePayPerUseLicense,
    /// Open a List (spec: USR-2, USR-3: Lists stay personal).
    OpenList {
        /// The List's owner.
        owner: UserId,
    },
    /// See someone's login credentials (spec: USR-2: nobody but their owner).
    ViewCredentials {
        /// Whose credentials.
        owner: UserId,
    },
    /// See organization-wide analytics (spec: STAT-2).
    ViewOrganizationAnalytics,
    /// See a team's analytics (spec: STAT-2, TEAM-4).
    ViewTeamAnalytics(TeamId),
    /// Download one's own certificates (spec: ROLE-1).
    DownloadOwnCertificates,
}

impl HostAction {
    /// The permission and scope the action needs.
    pub fn requirement(self) -> (Permission, Scope) {
        use Permission as P;
        match self {
            Self::DownloadCourse => (P::DownloadCourses, Scope::Organization),
            Self::DeliverCourse => (P::DeliverCourses, Scope::Organization),
            Self::ViewReports => (P::ViewReports, Scope::Organization),
            Self::DownloadReports => (P::DownloadReports, Scope::Organization),
            Self::PurchaseWithCard { card_owner } => {
                (P::PurchaseWithCard, Scope::OwnedBy(card_owner))
            }
            Self::CreatePayPerUseLicense => (P::CreatePayPerUseLicense, Scope::Organization),
            Self::OpenList { owner } | Self::ViewCredentials { owner } => {
                (P::AccessPersonalResource, Scope::OwnedBy(owner))
            }
            Self::ViewOrganizationAnalytics => (P::ViewOrganizationAnalytics, Scope::Organization),
            Self::ViewTeamAnalytics(team) => (P::ViewTeamAnalytics, Scope::Team(team)),
            Self::DownloadOwnCertificates => (P::DownloadOwnCertificates, Scope::Organization),
        }
    }
}

/// The actor as the store holds them now: their membership and the teams they belong to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    /// The membership, or `None` when the actor is not a member.
    pub member: Option<&'a Member>,
    /// The teams the member belongs to.
    pub teams: &'a [TeamId],
}

/// How far a role reaches for one permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Not at all.
    None,
    /// Only the teams the member belongs to.
    OwnTeams,
    /// Only resources the member owns.
    Own,
    /// Everywhere in the organization.
    All,
}

/// How far `role` reaches for `permission`: ROLE-1 and ADM-2, one row per permission.
fn reach(role: Role, permission: Permission) -> Reach {
    use Permission as P;
    use Reach::{All, None as No, Own, OwnTeams};
    use Role::{Administrator as A, Manager as M, Member as L, TeamSupervisor as S};
    match (permission, role) {
        (P::ManageAdministrators | P::ManageMembers | P::ManageRoles | P::ManageInvitations, A) => {
            All
        }
        (P::InviteLearners | P::ManageTeams | P::MessageEveryone | P::ViewAuditTrail, A) => All,
        (P::DownloadCourses | P::DeliverCourses | P::ReceiveNotifications, A) => All,
        (P::CreatePayPerUseLicense | P::RetryMail | P::RenameOrganization, A) => All,
        (P::ManageTeamMembers | P::EditTeamPage | P::MessageTeam, A) => All,
        (P::ManageTeamMembers | P::EditTeamPage | P::MessageTeam, S) => OwnTeams,
        (P::ViewTeam | P::ViewTeamAnalytics, A | M) => All,
        (P::ViewTeam | P::ViewTeamAnalytics, S) => OwnTeams,
        (P::ViewTeam, L) => OwnTeams,
        (
            P::ViewMembers | P::ViewOrganizationAnalytics | P::ViewReports | P::DownloadReports,
            A | M,
        ) => All,
        (P::PurchaseWithCard, A) => Own,
        (
            P::ViewOwnActivity
            | P::DownloadOwnCertificates
            | P::UpdateOwnProfile
            | P::LeaveOrganization,
            _,
        ) => Own,
        (P::AccessPersonalResource, _) => Own,
        (P::ViewOrganization, _) => All,
        _ => No,
    }
}

/// The capability a permission needs beyond the role (spec: ADM-2).
fn capability(permission: Permission) -> Option<Capability> {
    match permission {
        Permission::InviteLearners => Some(Capability::CoursecloudLegacy),
        Permission::CreatePayPerUseLicense => Some(Capability::PayPerUse),
        _ => None,
    }
}

/// The subject's membership in `organization`, when they may act there at all: a
/// deactivated member may not (spec: MEM-2).
fn acting_member<'s>(
    subject: Subject<'s>,
    organization: &Organization,
    permission: Permission,
) -> Result<&'s Member, Error> {
    match subject.member.filter(|m| m.organization == organization.id) {
        None => Err(Error::Forbidden { permission }),
        Some(member) if !member.is_active() => Err(Error::Deactivated),
        Some(member) => Ok(member),
    }
}

/// Decides whether `subject` may use `permission` in `scope` of `organization`.
///
/// # Errors
/// [`Error::Forbidden`] naming the permission (spec: ROLE-4); [`Error::Deactivated`] for a
/// deactivated member, whatever the permission (spec: MEM-2); [`Error::LegacyIntegration`]
/// for administrator-team features of a legacy organization (spec: ORG-2);
/// [`Error::CapabilityRequired`] when the organization lacks the capability (spec: ADM-2).
pub(crate) fn authorize(
    subject: Subject<'_>,
    organization: &Organization,
    permission: Permission,
    scope: Scope,
) -> Result<(), Error> {
    let member = acting_member(subject, organization, permission)?;
    let allowed = member
        .roles
        .iter()
        .any(|role| match (reach(role, permission), scope) {
            (Reach::All, Scope::Organization | Scope::Team(_)) => true,
            (Reach::OwnTeams, Scope::Team(team)) => subject.teams.contains(&team),
            (Reach::Own, Scope::OwnedBy(owner)) => owner == member.user,
            // Self-service permissions asked for without an owner apply to the actor themselves.
            (Reach::Own, Scope::Organization) => !matches!(
                permission,
                Permission::PurchaseWithCard | Permission::AccessPersonalResource
            ),
            _ => false,
        });
    if !allowed {
        return Err(Error::Forbidden { permission });
    }
    if permission == Permission::ManageAdministrators && !organization.has_administrator_team() {
        return Err(Error::LegacyIntegration);
    }
    if let Some(capability) = capability(permission).filter(|c| !organization.has(*c)) {
        return Err(Error::CapabilityRequired { capability });
    }
    Ok(())
}

/// Decides whether `subject` may use `permission` somewhere in `organization`: in all of it,
/// or in one of the teams they belong to. A supervisor compares the teams they belong to
/// (spec: STAT-3, TEAM-4).
///
/// # Errors
/// [`Error::Forbidden`] naming the permission; [`Error::Deactivated`] (spec: MEM-2).
pub(crate) fn authorize_somewhere(
    subject: Subject<'_>,
    organization: &Organization,
    permission: Permission,
) -> Result<(), Error> {
    acting_member(subject, organization, permission)?;
    let mut scopes = std::iter::once(Scope::Organization)
        .chain(subject.teams.iter().map(|team| Scope::Team(*team)));
    if scopes.any(|scope| authorize(subject, organization, permission, scope).is_ok()) {
        Ok(())
    } else {
        Err(Error::Forbidden { permission })
    }
}

/// Whether a member holding `roles` sees every team of the organization in its listing, or
/// only the teams they belong to (spec: TEAM-4): every team where a role of theirs reaches
/// every team's page.
pub(crate) fn sees_every_team(roles: RoleSet) -> bool {
    roles
        .iter()
        .any(|role| reach(role, Permission::ViewTeam) == Reach::All)
}

/// The permission and scope that `user` needs to see the statistics of `scope`
/// (spec: STAT-2, TEAM-4): administrators and managers see everything, supervisors their own
/// teams, members themselves.
pub(crate) fn statistics_requirement(user: UserId, scope: StatsScope) -> (Permission, Scope) {
    match scope {
        StatsScope::Organization => (Permission::ViewOrganizationAnalytics, Scope::Organization),
        StatsScope::Team(team) => (Permission::ViewTeamAnalytics, Scope::Team(team)),
        StatsScope::Member(member) if member == user => {
            (Permission::ViewOwnActivity, Scope::OwnedBy(member))
        }
        StatsScope::Member(_) => (Permission::ViewOrganizationAnalytics, Scope::Organization),
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::domain::{
        email::EmailAddress,
        ids::{MemberId, OrganizationId},
        organization::Capabilities,
        text::Profile,
    };

    fn organization() -> Organization {
        Organization {
            id: OrganizationId::new(),
            name: "Analytical Engines".parse().unwrap(),
            licenses: Vec::new(),
            capabilities: Capabilities::default(),
            seat_cap: None,
            created_at: DateTime::UNIX_EPOCH,
            version: 1,
        }
    }

    fn member(organization: &Organization, role: Role) -> Member {
        let roles = match role {
            Role::Member => RoleSet::learner(),
            role => RoleSet::learner().grant(role).unwrap(),
        };
        Member {
            id: MemberId::new(),
            organization: organization.id,
            user: UserId::new(),
            email: EmailAddress::parse("ada@example.com").unwrap(),
            profile: Profile::parse("Ada", "Lovelace").unwrap(),
            roles,
            joined_at: DateTime::UNIX_EPOCH,
            invitation: None,
            deactivated_at: None,
            metadata: None,
            version: 1,
        }
    }

    #[test]
    fn administrators_and_managers_see_every_team_the_others_their_own() {
        // spec: TEAM-4
        let org = organization();
        for (role, every) in [
            (Role::Administrator, true),
            (Role::Manager, true),
            (Role::TeamSupervisor, false),
            (Role::Member, false),
        ] {
            assert_eq!(sees_every_team(member(&org, role).roles), every, "{role}");
        }
    }

    #[test]
    fn team_figures_are_seen_organization_wide_or_in_ones_own_teams() {
        // spec: STAT-3, TEAM-4, ROLE-4
        let org = organization();
        let team = TeamId::new();
        let forbidden = |r: Result<(), Error>| {
            matches!(
                r,
                Err(Error::Forbidden {
                    permission: Permission::ViewTeamAnalytics
                })
            )
        };
        let manager = member(&org, Role::Manager);
        let supervisor = member(&org, Role::TeamSupervisor);
        let learner = member(&org, Role::Member);
        let judge = |member: Option<&Member>, teams: &[TeamId]| {
            let subject = Subject { member, teams };
            authorize_somewhere(subject, &org, Permission::ViewTeamAnalytics)
        };
        assert!(judge(Some(&manager), &[]).is_ok());
        assert!(judge(Some(&supervisor), &[team]).is_ok());
        assert!(forbidden(judge(Some(&supervisor), &[])));
        assert!(forbidden(judge(Some(&learner), &[team])));
        assert!(forbidden(judge(None, &[team])));
        // Another organization's membership counts for nothing.
        let elsewhere = member(&organization(), Role::Administrator);
        assert!(forbidden(judge(Some(&elsewhere), &[])));
    }

    #[test]
    fn statistics_of_a_member_need_organization_analytics_unless_they_are_ones_own() {
        // spec: STAT-2
        let (me, other, team) = (UserId::new(), UserId::new(), TeamId::new());
        assert_eq!(
            statistics_requirement(me, StatsScope::Member(me)),
            (Permission::ViewOwnActivity, Scope::OwnedBy(me))
        );
        assert_eq!(
            statistics_requirement(me, StatsScope::Member(other)),
            (Permission::ViewOrganizationAnalytics, Scope::Organization)
        );
        assert_eq!(
            statistics_requirement(me, StatsScope::Team(team)),
            (Permission::ViewTeamAnalytics, Scope::Team(team))
        );
        assert_eq!(
            statistics_requirement(me, StatsScope::Organization),
            (Permission::ViewOrganizationAnalytics, Scope::Organization)
        );
    }
}
