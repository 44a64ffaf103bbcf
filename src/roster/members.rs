//! Members and roles: listings, one member, a member's own profile, granting and revoking
//! roles, removing, deactivating and reactivating members, leaving, and the administrator
//! team (spec: ROLE-1..5, ADM-1, ADM-5, USR-1, MEM-1, MEM-2).

use serde::Serialize;

use super::{Access, Actor, Listing, Roster, listing};
#[cfg(doc)]
use crate::error::Error;
use crate::{
    domain::{
        changes::{Context, Decision},
        email::EmailAddress,
        error::DomainError,
        ids::{InvitationId, OrganizationId, UserId},
        invitation::InvitationStatus,
        member::{self, Member, MembershipStatus},
        organization::Organization,
        role::Role,
        text::Profile,
    },
    error::Result,
    policy::{Permission, Scope},
    store::{InvitationFilter, MemberFilter, Page},
};

/// One line of the administrator team (seed: the Team dashboard): an administrator, active
/// or deactivated, or a pending administrator invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AdministratorEntry {
    /// The address.
    pub email: EmailAddress,
    /// The name, when known.
    pub profile: Option<Profile>,
    /// Active, Deactivated (spec: MEM-2), or Pending with its expiry flag (spec: INV-2).
    pub status: MembershipStatus,
    /// The member, for an administrator (active or deactivated).
    pub user: Option<UserId>,
    /// The invitation, when pending.
    pub invitation: Option<InvitationId>,
}

impl Roster {
    /// A page of members. Administrators and managers see everyone; with a team filter,
    /// supervisors and members see the teams they belong to (spec: TEAM-3, TEAM-4).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    ///
    /// # Examples
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use orgroster::*;
    /// # let key = LinkKey::generate()?;
    /// # let roster = Roster::builder(MemoryStore::new(), RecordingMailer::new(), key).build();
    /// # let ada = Actor::new(UserId::new(), EmailAddress::parse("ada@example.com")?);
    /// # let org = roster
    /// #     .create_organization(&ada, "Analytical Engines".parse()?, Profile::parse("Ada", "L")?)
    /// #     .await?
    /// #     .organization
    /// #     .id;
    /// # roster.add_license(org, LicenseKind::PayPerUse).await?;
    /// # let learners = Capabilities::default().with(Capability::CoursecloudLegacy);
    /// # roster.set_capabilities(org, learners).await?;
    /// let page = roster.members(&ada, org, MemberFilter::default(), Page::first(50)).await?;
    /// assert_eq!(page.items.len(), 1);
    /// assert!(page.next.is_none(), "the last page");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn members(
        &self,
        actor: &Actor,
        org: OrganizationId,
        filter: MemberFilter,
        page: Page,
    ) -> Result<Listing<Member>> {
        let (permission, scope) = match filter.team {
            Some(team) => (Permission::ViewTeam, Scope::Team(team)),
            None => (Permission::ViewMembers, Scope::Organization),
        };
        self.access(org, actor, permission, scope).await?;
        if let Some(team) = filter.team {
            self.target_team(org, team).await?;
        }
        let rows = self.store.members(org, filter, page).await?;
        Ok(listing(rows, page, |m: &Member| m.id.as_uuid()))
    }

    /// One member: the actor themselves, or anyone for those who may list members.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn member(&self, actor: &Actor, org: OrganizationId, user: UserId) -> Result<Member> {
        if user == actor.user {
            let access = self
                .access(
                    org,
                    actor,
                    Permission::UpdateOwnProfile,
                    Scope::OwnedBy(user),
                )
                .await?;
            return Ok(access.member);
        }
        self.access(org, actor, Permission::ViewMembers, Scope::Organization)
            .await?;
        self.target_member(org, user).await
    }

    /// Changes the actor's own first and last name; nobody can change someone else's
    /// (spec: USR-1).
    ///
    /// # Errors
    /// [`Error::Forbidden`] for non-members, [`Error::NotFound`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn update_profile(
        &self,
        actor: &Actor,
        org: OrganizationId,
        profile: Profile,
    ) -> Result<Member> {
        let profile = &profile;
        self.run(|now| async move {
            let owner = Scope::OwnedBy(actor.user);
            let access = self
                .access(org, actor, Permission::UpdateOwnProfile, owner)
                .await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                member::update_profile(ctx, &access.organization, access.member, profile.clone())
            }))
        })
        .await
    }

    /// Grants a role; Administrator and Team Supervisor are never combined and never swapped
    /// silently (spec: ROLE-2, ROLE-5, ADM-1).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NoLicense`],
    /// [`Error::RolesNotCumulative`], [`Error::RoleAlreadyHeld`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn grant_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
        role: Role,
    ) -> Result<Member> {
        self.run(|now| async move {
            let (access, target) = self.role_change(actor, org, user, role).await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                member::grant_role(ctx, &access.organization, target, role)
            })?)
        })
        .await
    }

    /// Revokes a role; the last administrator cannot be demoted (spec: ADM-5, ROLE-5).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::LastAdministrator`],
    /// [`Error::RoleNotHeld`], [`Error::LearnerRoleIsPermanent`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn revoke_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
        role: Role,
    ) -> Result<Member> {
        self.run(|now| async move {
            let (access, target) = self.role_change(actor, org, user, role).await?;
            let administrators = self.administrators(org).await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                member::revoke_role(ctx, &access.organization, target, role, administrators)
            })?)
        })
        .await
    }

    /// Removes a member from the organization and from their teams; the last administrator
    /// cannot be removed (spec: ADM-5).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::LastAdministrator`],
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn remove_member(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Member> {
        self.end_membership(actor, org, user, member::remove_member)
            .await
    }

    /// Deactivates a member (spec: MEM-2): at once they can do nothing in the organization
    /// (every command and query refuses them with [`Error::Deactivated`]), receive none of
    /// its messages and notifications, and no longer take a seat; their roles, teams and
    /// history stay, and they show as `Deactivated` in listings. The last active
    /// administrator cannot be deactivated (spec: ADM-5).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`] (an administrator, ORG-2),
    /// [`Error::AlreadyDeactivated`], [`Error::LastAdministrator`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn deactivate_member(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Member> {
        self.end_membership(actor, org, user, member::deactivate)
            .await
    }

    /// Reactivates a deactivated member (spec: MEM-2): their access, mail and seat come back
    /// with the roles and teams they kept, within the seat cap (spec: ORG-4).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`] (an administrator, ORG-2),
    /// [`Error::NotDeactivated`], [`Error::SeatLimit`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn reactivate_member(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Member> {
        self.run(|now| async move {
            let (access, target) = self.managed_member(actor, org, user).await?;
            let seats = self.seats_if_capped(&access.organization, now).await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                member::reactivate(ctx, &access.organization, target, seats)
            })?)
        })
        .await
    }

    /// The actor leaves the organization on their own (spec: MEM-1): their team memberships
    /// end (closing their time in each team's figures, TEAM-4), the audit trail records it,
    /// and they can be invited again. Every member may leave, administrators included,
    /// except the last administrator (spec: ADM-5).
    ///
    /// # Errors
    /// [`Error::Forbidden`] (not a member), [`Error::LastAdministrator`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn leave_organization(&self, actor: &Actor, org: OrganizationId) -> Result<Member> {
        self.run(|now| async move {
            let access = self
                .access(
                    org,
                    actor,
                    Permission::LeaveOrganization,
                    Scope::OwnedBy(actor.user),
                )
                .await?;
            let administrators = self.administrators(org).await?;
            let Access {
                organization,
                member: leaver,
                ..
            } = access;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                member::leave(ctx, &organization, leaver, administrators)
            })?)
        })
        .await
    }

    /// The administrator team as the seed's dashboard shows it: administrators, each Active
    /// or Deactivated, then pending administrator invitations flagged when expired (spec:
    /// ADM-1, INV-2, ORG-2, MEM-2).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NotFound`],
    /// [`Error::Store`].
    pub async fn administrator_team(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<Vec<AdministratorEntry>> {
        self.access(
            org,
            actor,
            Permission::ManageAdministrators,
            Scope::Organization,
        )
        .await?;
        let now = self.now();
        let mut entries = Vec::new();
        let filter = MemberFilter::default().with_role(Role::Administrator);
        let mut page = Page::first(Page::MAX_LIMIT);
        loop {
            let rows = self.store.members(org, filter, page).await?;
            let next = (rows.len() >= page.len())
                .then(|| rows.last().map(|m| Page::after(m.id, page.limit)))
                .flatten();
            entries.extend(rows.into_iter().map(|m| AdministratorEntry {
                status: m.status(),
                email: m.email,
                profile: Some(m.profile),
                user: Some(m.user),
                invitation: None,
            }));
            match next {
                Some(p) => page = p,
                None => break,
            }
        }
        let filter = InvitationFilter {
            status: Some(InvitationStatus::Pending),
            role: Some(Role::Administrator),
        };
        let mut page = Page::first(Page::MAX_LIMIT);
        loop {
            let rows = self.store.invitations(org, filter, page).await?;
            let next = (rows.len() >= page.len())
                .then(|| rows.last().map(|i| Page::after(i.id, page.limit)))
                .flatten();
            entries.extend(rows.into_iter().map(|i| AdministratorEntry {
                status: MembershipStatus::Pending {
                    expired: i.is_expired(now),
                },
                email: i.email,
                profile: i.invitee,
                user: None,
                invitation: Some(i.id),
            }));
            match next {
                Some(p) => page = p,
                None => break,
            }
        }
        Ok(entries)
    }

    /// Runs `decide` on the member `user`, managed by the actor, knowing how many active
    /// administrators the organization has (spec: ADM-5): removing and deactivating.
    async fn end_membership(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
        decide: EndMembership,
    ) -> Result<Member> {
        self.run(|now| async move {
            let (access, target) = self.managed_member(actor, org, user).await?;
            let administrators = self.administrators(org).await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                decide(ctx, &access.organization, target, administrators)
            })?)
        })
        .await
    }

    /// The member `user` with the actor's access to manage their membership: members need
    /// `ManageMembers`, an administrator `ManageAdministrators` as well (spec: ADM-1,
    /// ROLE-4).
    async fn managed_member(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
    ) -> Result<(Access, Member)> {
        let access = self
            .access(org, actor, Permission::ManageMembers, Scope::Organization)
            .await?;
        let target = self.target_member(org, user).await?;
        if target.is_administrator() {
            access.allow(Permission::ManageAdministrators, Scope::Organization)?;
        }
        Ok((access, target))
    }

    /// The member whose `role` changes, with the actor's access to change it: roles need
    /// `ManageRoles`, the Administrator role `ManageAdministrators` as well (spec: ADM-1,
    /// ROLE-4), judged on the one membership the command read.
    async fn role_change(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
        role: Role,
    ) -> Result<(Access, Member)> {
        let access = self
            .access(org, actor, Permission::ManageRoles, Scope::Organization)
            .await?;
        if role == Role::Administrator {
            access.allow(Permission::ManageAdministrators, Scope::Organization)?;
        }
        let target = self.target_member(org, user).await?;
        Ok((access, target))
    }
}

/// A decision that ends (or suspends) a membership, given how many active administrators
/// the organization has.
type EndMembership = fn(
    &mut Context<'_>,
    &Organization,
    Member,
    u64,
) -> std::result::Result<Decision<Member>, DomainError>;

impl Roster {
    /// How many active administrators `org` has, counted up to two: enough to tell whether a
    /// member is the last one (spec: ADM-5, MEM-2).
    pub(super) async fn administrators(&self, org: OrganizationId) -> Result<u64> {
        let filter = MemberFilter::default()
            .with_role(Role::Administrator)
            .active();
        let rows = self.store.members(org, filter, Page::first(2)).await?;
        Ok(rows.len() as u64)
    }
}
