//! Organizations: a user's organizations, creating, renaming and deleting one, the back
//! office's licenses, capabilities and seat cap, what members see of it, the host's own
//! permission checks, and the audit trail.

use super::{Actor, Listing, Roster, listing};
use crate::{
    domain::{
        event::{Event, EventActor},
        ids::{LicenseId, OrganizationId},
        member::Membership,
        organization::{
            self, Capabilities, Founder, LicenseKind, Organization, OrganizationCreated, SeatUsage,
        },
        text::{OrganizationName, Profile},
    },
    error::{EntityKind, Error, Result},
    policy::{HostAction, Permission, Scope},
    store::Page,
};

impl Roster {
    /// A page of the organizations the actor belongs to, each with its name and the actor's
    /// membership in it (roles, the email they joined with, when they joined), in a stable
    /// order: the account menu from which an administrator enters the administrator area
    /// (spec: USR-4). Everyone lists their own; nobody lists another user's.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn memberships(&self, actor: &Actor, page: Page) -> Result<Listing<Membership>> {
        let rows = self.store.memberships(actor.user, page).await?;
        Ok(listing(rows, page, |m: &Membership| {
            m.member.organization.as_uuid()
        }))
    }

    /// Creates an organization; `actor` becomes its first administrator.
    ///
    /// # Errors
    /// [`Error::Store`].
    ///
    /// # Examples
    /// ```
    /// use orgroster::{
    ///     Actor, EmailAddress, LinkKey, MemoryStore, Profile, RecordingMailer, Roster, UserId,
    /// };
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let key = LinkKey::generate()?;
    /// let roster = Roster::builder(MemoryStore::new(), RecordingMailer::new(), key).build();
    /// let ada = Actor::new(UserId::new(), EmailAddress::parse("ada@example.com")?);
    /// let name = "Analytical Engines".parse()?;
    /// let profile = Profile::parse("Ada", "Lovelace")?;
    /// let created = roster.create_organization(&ada, name, profile).await?;
    /// assert!(created.founder.is_administrator());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn create_organization(
        &self,
        actor: &Actor,
        name: OrganizationName,
        profile: Profile,
    ) -> Result<OrganizationCreated> {
        let (name, profile) = (&name, &profile);
        self.run(|now| async move {
            let founder = Founder {
                user: actor.user,
                email: actor.email.clone(),
                profile: profile.clone(),
            };
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                organization::create_organization(ctx, name.clone(), founder)
            })?)
        })
        .await
    }

    /// Back office: provisions an organization with no member (spec: ORG-5). Its first
    /// administrator joins through [`Roster::invite_first_administrator`]; until then only the
    /// back office acts on it.
    ///
    /// # Errors
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn provision_organization(&self, name: OrganizationName) -> Result<Organization> {
        let name = &name;
        self.run(|now| async move {
            Ok(self.decide(now, EventActor::System, |ctx| {
                organization::provision_organization(ctx, name.clone())
            }))
        })
        .await
    }

    /// Back office: adds a license (spec: ORG-1, ORG-3). For the host's own staff, not for
    /// members: it checks no actor.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn add_license(
        &self,
        org: OrganizationId,
        kind: LicenseKind,
    ) -> Result<Organization> {
        let kind = &kind;
        self.run(|now| async move {
            let organization = self.organization(org).await?;
            Ok(self.decide(now, EventActor::System, |ctx| {
                organization::add_license(ctx, organization, kind.clone())
            }))
        })
        .await
    }

    /// Back office: removes a license.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn remove_license(
        &self,
        org: OrganizationId,
        license: LicenseId,
    ) -> Result<Organization> {
        self.run(|now| async move {
            let organization = self.organization(org).await?;
            Ok(self.decide(now, EventActor::System, |ctx| {
                organization::remove_license(ctx, organization, license)
            })?)
        })
        .await
    }

    /// Back office: sets the capabilities (spec: ORG-1, ORG-2, ADM-2).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn set_capabilities(
        &self,
        org: OrganizationId,
        capabilities: Capabilities,
    ) -> Result<Organization> {
        self.run(|now| async move {
            let organization = self.organization(org).await?;
            Ok(self.decide(now, EventActor::System, |ctx| {
                organization::set_capabilities(ctx, organization, capabilities)
            }))
        })
        .await
    }

    /// Back office: caps the seats, or lifts the cap with `None` (spec: ORG-4).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn set_seat_cap(
        &self,
        org: OrganizationId,
        seat_cap: Option<u32>,
    ) -> Result<Organization> {
        self.run(|now| async move {
            let organization = self.organization(org).await?;
            Ok(self.decide(now, EventActor::System, |ctx| {
                organization::set_seat_cap(ctx, organization, seat_cap)
            }))
        })
        .await
    }

    /// Renames the organization, for its administrators (spec: ORG-5). Invitations already
    /// sent keep the name they were sent with; mail queued from now on, and every listing,
    /// carries the new one.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn rename_organization(
        &self,
        actor: &Actor,
        org: OrganizationId,
        name: OrganizationName,
    ) -> Result<Organization> {
        let name = &name;
        self.run(|now| async move {
            let access = self
                .access(
                    org,
                    actor,
                    Permission::RenameOrganization,
                    Scope::Organization,
                )
                .await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                organization::rename(ctx, access.organization, name.clone())
            }))
        })
        .await
    }

    /// Deletes an organization with all its data, for the platform's back office (spec: ORG-5):
    /// members, invitations (their links stop working), teams and their history, the audit
    /// trail, its mail, sent or queued, and its learning activity. Nothing of it remains, its
    /// audit trail included: a host that must keep a record of the deletion keeps it itself.
    ///
    /// # Errors
    /// [`Error::NotFound`] (no such organization), [`Error::Store`].
    pub async fn delete_organization(&self, org: OrganizationId) -> Result<()> {
        if self.store.delete_organization(org).await? {
            Ok(())
        } else {
            Err(Error::NotFound {
                entity: EntityKind::Organization,
            })
        }
    }

    /// The organization, for any of its members.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`]
    /// for non-members, [`Error::Store`].
    pub async fn organization_for(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<Organization> {
        let access = self
            .access(
                org,
                actor,
                Permission::ViewOrganization,
                Scope::Organization,
            )
            .await?;
        Ok(access.organization)
    }

    /// Seats in use now (spec: ORG-4). For administrators.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`],
    /// [`Error::Store`].
    pub async fn seat_usage(&self, actor: &Actor, org: OrganizationId) -> Result<SeatUsage> {
        self.access(org, actor, Permission::ManageMembers, Scope::Organization)
            .await?;
        Ok(self.store.seat_usage(org, self.now()).await?)
    }

    /// Checks an action the host performs itself (spec: ADM-2, USR-2, STAT-2).
    ///
    /// # Errors
    /// [`Error::Forbidden`],
    /// [`Error::CapabilityRequired`],
    /// [`Error::NotFound`], [`Error::Store`].
    pub async fn authorize(
        &self,
        actor: &Actor,
        org: OrganizationId,
        action: HostAction,
    ) -> Result<()> {
        let (permission, scope) = action.requirement();
        self.access(org, actor, permission, scope).await?;
        if let HostAction::ViewTeamAnalytics(team) = action {
            self.target_team(org, team).await?;
        }
        Ok(())
    }

    /// A page of the audit trail, oldest first: who did what, when, including invitations
    /// that left the listing (spec: INV-12).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`],
    /// [`Error::Store`].
    pub async fn audit_trail(
        &self,
        actor: &Actor,
        org: OrganizationId,
        page: Page,
    ) -> Result<Listing<Event>> {
        self.access(org, actor, Permission::ViewAuditTrail, Scope::Organization)
            .await?;
        let rows = self.store.events(org, page).await?;
        Ok(listing(rows, page, |e: &Event| e.id.as_uuid()))
    }
}
