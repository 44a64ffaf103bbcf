//! Invitations: sending them one by one, from a paste, or (the back office) to a first
//! administrator; resending, revoking, and the listing (spec: INV-1..14, ORG-5). Answering
//! them is in `answers`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Access, Actor, BackOfficeUser, InviteCheck, Listing, Roster, listing};
use crate::{
    domain::{
        bulk::parse_paste,
        email::EmailAddress,
        event::EventActor,
        ids::{InvitationId, OrganizationId, TeamId},
        invitation::{
            self, AddressState, BulkInviteReport, Invitation, InvitationCreated, InvitationView,
            InviteState, Inviter, NewInvitation,
        },
        invite_options::InviteOptions,
        organization::{Organization, SeatUsage},
        role::Role,
        text::Profile,
    },
    error::{EntityKind, Error, Result},
    policy::{Permission, Scope},
    store::{InvitationContext, InvitationFilter, InvitationTargets, Page},
};

impl Roster {
    /// Invites an administrator by email, first and last name (spec: ADM-1, ADM-4, ORG-2,
    /// ORG-3, ORG-4). The invitation email is queued in the same commit (spec: INV-9).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NoLicense`],
    /// [`Error::AlreadyMember`], [`Error::AlreadyInvited`], [`Error::SeatLimit`],
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn invite_administrator(
        &self,
        actor: &Actor,
        org: OrganizationId,
        email: EmailAddress,
        profile: Profile,
    ) -> Result<InvitationCreated> {
        let options = InviteOptions::default();
        self.invite_administrator_with(actor, org, email, profile, options)
            .await
    }

    /// [`Roster::invite_administrator`], with the invitation's own lifetime and the
    /// metadata its membership keeps (spec: INV-14).
    ///
    /// # Errors
    /// As [`Roster::invite_administrator`].
    pub async fn invite_administrator_with(
        &self,
        actor: &Actor,
        org: OrganizationId,
        email: EmailAddress,
        profile: Profile,
        options: InviteOptions,
    ) -> Result<InvitationCreated> {
        let new = NewInvitation {
            email,
            invitee: Some(profile),
            role: Role::Administrator,
        };
        let permission = Permission::ManageAdministrators;
        self.invite(actor, org, new, None, permission, options)
            .await
    }

    /// Back office: `sender`, of the platform's own team, invites the first administrator of
    /// an organization, by email, first and last name (spec: ORG-5, the second seed's first
    /// step). The rules of every administrator invitation apply (ADM-4, ORG-2, ORG-3 (the
    /// organization needs a license), ORG-4), and the invitee accepts through the ordinary
    /// link. Once the organization has an active administrator, they invite the others.
    ///
    /// # Errors
    /// [`Error::AdministratorExists`], [`Error::LegacyIntegration`], [`Error::NoLicense`],
    /// [`Error::AlreadyInvited`], [`Error::SeatLimit`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn invite_first_administrator(
        &self,
        sender: &BackOfficeUser,
        org: OrganizationId,
        email: EmailAddress,
        profile: Profile,
    ) -> Result<InvitationCreated> {
        let new = &NewInvitation {
            email,
            invitee: Some(profile),
            role: Role::Administrator,
        };
        let options = &InviteOptions::default();
        self.run(|now| async move {
            let emails = std::slice::from_ref(&new.email);
            let InvitationContext {
                organization,
                targets,
                ..
            } = self
                .store
                .invitation_context(org, sender.user, emails, now)
                .await?
                .ok_or(Error::NotFound {
                    entity: EntityKind::Organization,
                })?;
            let administrators = self.administrators(org).await?;
            let mut existing = AddressState {
                member: !targets.member_emails.is_empty(),
                pending: targets.pending.into_iter().next(),
                veto: None,
            };
            let check = InviteCheck {
                organization: &organization,
                actor: None,
                email: &new.email,
                role: new.role,
                team: None,
            };
            self.vet_address(check, &mut existing).await?;
            let state = InviteState {
                organization: &organization,
                inviter: Inviter {
                    user: sender.user,
                    profile: &sender.profile,
                },
                seats: targets.seats.unwrap_or_default(),
                team: None,
                ttl: self.config.invitation_ttl,
                options,
            };
            Ok(self.decide(now, EventActor::System, |ctx| {
                invitation::invite_first_administrator(
                    ctx,
                    &state,
                    new.clone(),
                    &existing,
                    administrators,
                )
            })?)
        })
        .await
    }

    /// Invites one learner with a role (not Administrator: see
    /// [`Roster::invite_administrator`]) and optionally a team (spec: INV-7, ADM-2).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::CapabilityRequired`], [`Error::Invalid`],
    /// [`Error::AlreadyMember`], [`Error::AlreadyInvited`], [`Error::SeatLimit`],
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
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
    /// let bob = EmailAddress::parse("bob@example.com")?;
    /// let sent = roster.invite_member(&ada, org, bob, Role::Member, None).await?;
    /// assert_eq!(sent.invitation.status, InvitationStatus::Pending);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn invite_member(
        &self,
        actor: &Actor,
        org: OrganizationId,
        email: EmailAddress,
        role: Role,
        team: Option<TeamId>,
    ) -> Result<InvitationCreated> {
        let options = InviteOptions::default();
        self.invite_member_with(actor, org, email, role, team, options)
            .await
    }

    /// [`Roster::invite_member`], with the invitation's own lifetime and the metadata its
    /// membership keeps (spec: INV-14).
    ///
    /// # Errors
    /// As [`Roster::invite_member`].
    pub async fn invite_member_with(
        &self,
        actor: &Actor,
        org: OrganizationId,
        email: EmailAddress,
        role: Role,
        team: Option<TeamId>,
        options: InviteOptions,
    ) -> Result<InvitationCreated> {
        let new = NewInvitation {
            email,
            invitee: None,
            role,
        };
        self.invite(actor, org, new, team, Permission::InviteLearners, options)
            .await
    }

    async fn invite(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewInvitation,
        team: Option<TeamId>,
        permission: Permission,
        options: InviteOptions,
    ) -> Result<InvitationCreated> {
        let (new, options) = (&new, &options);
        self.run(|now| async move {
            let emails = std::slice::from_ref(&new.email);
            let (access, targets) = self
                .invitation_context(org, actor, permission, emails, now)
                .await?;
            if permission == Permission::InviteLearners {
                // Checked after the permission (spec: ROLE-4).
                invitation::administrators_one_by_one(new.role)?;
            }
            let team = match team {
                Some(id) => Some(self.target_team(org, id).await?),
                None => None,
            };
            let mut existing = AddressState {
                member: !targets.member_emails.is_empty(),
                pending: targets.pending.into_iter().next(),
                veto: None,
            };
            let check = InviteCheck {
                organization: &access.organization,
                actor: Some(actor),
                email: &new.email,
                role: new.role,
                team: team.as_ref(),
            };
            self.vet_address(check, &mut existing).await?;
            let state = InviteState {
                organization: &access.organization,
                inviter: (&access.member).into(),
                seats: targets.seats.unwrap_or_default(),
                team: team.as_ref(),
                ttl: self.config.invitation_ttl,
                options,
            };
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                invitation::invite(ctx, &state, new.clone(), &existing)
            })?)
        })
        .await
    }

    /// Invites many learners from pasted text: addresses separated by commas, semicolons,
    /// spaces or new lines, all with one role and one team. Every valid new address gets an
    /// invitation; every other entry is reported with its line and reason (spec: INV-7,
    /// ORG-4).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a paste that is empty, too large, or names Administrator;
    /// [`Error::Forbidden`], [`Error::CapabilityRequired`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`]. Problems with single entries are not errors:
    /// they are in the report.
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
    /// let paste = "bob@example.com; carol@example.com\nnot-an-address";
    /// let report = roster.invite_members(&ada, org, paste, Role::Member, None).await?;
    /// assert_eq!(report.invited.len(), 2);
    /// assert_eq!(report.rejected[0].line, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn invite_members(
        &self,
        actor: &Actor,
        org: OrganizationId,
        paste: &str,
        role: Role,
        team: Option<TeamId>,
    ) -> Result<BulkInviteReport> {
        let options = InviteOptions::default();
        self.invite_members_with(actor, org, paste, role, team, options)
            .await
    }

    /// [`Roster::invite_members`], every invitation of the paste with the same lifetime and
    /// the same metadata for its membership (spec: INV-14).
    ///
    /// # Errors
    /// As [`Roster::invite_members`].
    pub async fn invite_members_with(
        &self,
        actor: &Actor,
        org: OrganizationId,
        paste: &str,
        role: Role,
        team: Option<TeamId>,
        options: InviteOptions,
    ) -> Result<BulkInviteReport> {
        let options = &options;
        // Parsed once, but refused only after the permission check (spec: ROLE-4).
        let parsed = &parse_paste(paste, self.config.max_bulk_addresses);
        let emails: Vec<EmailAddress> = parsed
            .as_ref()
            .map(|p| p.addresses.iter().map(|a| a.email.clone()).collect())
            .unwrap_or_default();
        let emails = emails.as_slice();
        self.run(|now| async move {
            let (access, targets) = self
                .invitation_context(org, actor, Permission::InviteLearners, emails, now)
                .await?;
            invitation::administrators_one_by_one(role)?;
            let parsed = parsed.as_ref().map_err(Clone::clone)?;
            let team = match team {
                Some(id) => Some(self.target_team(org, id).await?),
                None => None,
            };
            let mut existing: HashMap<String, AddressState> = HashMap::new();
            for key in targets.member_emails {
                existing.entry(key).or_default().member = true;
            }
            for i in targets.pending {
                let key = i.email.key().to_owned();
                existing.entry(key).or_default().pending = Some(i);
            }
            for address in &parsed.addresses {
                let check = InviteCheck {
                    organization: &access.organization,
                    actor: Some(actor),
                    email: &address.email,
                    role,
                    team: team.as_ref(),
                };
                let state = existing.entry(address.email.key().to_owned()).or_default();
                self.vet_address(check, state).await?;
            }
            let state = InviteState {
                organization: &access.organization,
                inviter: (&access.member).into(),
                seats: targets.seats.unwrap_or_default(),
                team: team.as_ref(),
                ttl: self.config.invitation_ttl,
                options,
            };
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                invitation::invite_many(ctx, &state, parsed.clone(), role, &existing)
            })?)
        })
        .await
    }

    /// Resends a pending invitation, expired or not: a new link and expiry; the previous
    /// link stops working (spec: INV-3).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NotFound`],
    /// [`Error::InvitationNotPending`], [`Error::SeatLimit`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn resend_invitation(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<InvitationCreated> {
        self.run(|now| async move {
            let (access, invitation) = self.managed_invitation(actor, org, id).await?;
            let team = match invitation.team {
                Some(team) => self.store.team(org, team).await?,
                None => None,
            };
            let state = InviteState {
                organization: &access.organization,
                inviter: (&access.member).into(),
                seats: self.seats_if_capped(&access.organization, now).await?,
                team: team.as_ref(),
                ttl: self.config.invitation_ttl,
                options: &InviteOptions::default(),
            };
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                invitation::resend(ctx, &state, invitation)
            })?)
        })
        .await
    }

    /// Revokes a pending invitation: its link never works again; inviting the address again
    /// later works normally (spec: INV-4).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NotFound`],
    /// [`Error::InvitationNotPending`], [`Error::Conflict`], [`Error::Store`].
    pub async fn revoke_invitation(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<Invitation> {
        self.run(|now| async move {
            let (access, invitation) = self.managed_invitation(actor, org, id).await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                invitation::revoke(ctx, &access.organization, invitation, actor.user)
            })?)
        })
        .await
    }

    /// A page of invitations with their expiry flag. With [`InvitationFilter::pending`]
    /// this is the live listing: declined and revoked invitations are gone from it, expired
    /// ones still show as pending (spec: INV-2, INV-12).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn invitations(
        &self,
        actor: &Actor,
        org: OrganizationId,
        filter: InvitationFilter,
        page: Page,
    ) -> Result<Listing<InvitationView>> {
        self.access(
            org,
            actor,
            Permission::ManageInvitations,
            Scope::Organization,
        )
        .await?;
        let now = self.now();
        let rows = self.store.invitations(org, filter, page).await?;
        let items = rows
            .into_iter()
            .map(|i| InvitationView::at(i, now))
            .collect();
        Ok(listing(items, page, |v: &InvitationView| {
            v.invitation.id.as_uuid()
        }))
    }

    /// The invitation `id` with the actor's access to manage it: invitations need
    /// `ManageInvitations`, an administrator's `ManageAdministrators` as well (spec: ADM-1,
    /// ROLE-4).
    async fn managed_invitation(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<(Access, Invitation)> {
        let access = self
            .access(
                org,
                actor,
                Permission::ManageInvitations,
                Scope::Organization,
            )
            .await?;
        let invitation = self.target_invitation(org, id).await?;
        if invitation.role == Role::Administrator {
            access.allow(Permission::ManageAdministrators, Scope::Organization)?;
        }
        Ok((access, invitation))
    }

    /// The actor's access to invite to `emails`, and what the store knows of those
    /// addresses, in one read.
    async fn invitation_context(
        &self,
        org: OrganizationId,
        actor: &Actor,
        permission: Permission,
        emails: &[EmailAddress],
        now: DateTime<Utc>,
    ) -> Result<(Access, InvitationTargets)> {
        let InvitationContext {
            organization,
            member,
            targets,
        } = self
            .store
            .invitation_context(org, actor.user, emails, now)
            .await?
            .ok_or(Error::NotFound {
                entity: EntityKind::Organization,
            })?;
        let access = Access::new(
            organization,
            member,
            Vec::new(),
            permission,
            Scope::Organization,
        )?;
        Ok((access, targets))
    }

    /// Asks the host's hook about an address that would otherwise be invited (spec: MEM-3),
    /// and keeps its veto in `state` for the decision, which refuses that address.
    ///
    /// # Errors
    /// [`Error::HookFailed`].
    async fn vet_address(&self, check: InviteCheck<'_>, state: &mut AddressState) -> Result<()> {
        if state.member || state.pending.is_some() {
            return Ok(());
        }
        match self.vet_invite(check).await {
            Err(Error::Vetoed { reason }) => {
                state.veto = Some(reason);
                Ok(())
            }
            other => other,
        }
    }

    /// The seats in use, counted only when the organization caps them (spec: ORG-4): no
    /// decision reads them otherwise, and counting takes time in proportion to the
    /// organization. Uncapped, the count is zero.
    pub(super) async fn seats_if_capped(
        &self,
        organization: &Organization,
        now: DateTime<Utc>,
    ) -> Result<SeatUsage> {
        match organization.seats_counted_at(now) {
            Some(now) => Ok(self.store.seat_usage(organization.id, now).await?),
            None => Ok(SeatUsage::default()),
        }
    }
}
