//! Answering an invitation: what its link shows, and accepting or declining it through the
//! link or, signed in, from the inbox by its id (spec: INV-1, INV-2, INV-5, INV-6, INV-10,
//! INV-11, INV-15).
//!
//! Accepting and declining have no policy step: holding the link, and for accepting being
//! signed in with the invited address, is the authority (spec: INV-6). From the inbox no link
//! is held: being signed in with the invited address is (spec: INV-15).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AcceptCheck, Actor, Roster};
use crate::{
    domain::{
        email::EmailAddress,
        event::EventActor,
        ids::{InvitationId, UserId},
        invitation::{self, AcceptState, Acceptance, Accepted, Invitation, InvitationStatus},
        role::Role,
        text::{OrganizationName, Profile, TeamName},
        token::InvitationToken,
    },
    error::{EntityKind, Error, Result},
    store::{InvitationLookup, LinkContext},
};

/// How a command names the invitation it answers.
#[derive(Debug, Clone, Copy)]
enum Named<'a> {
    /// By the token of its link: holding it is the authority (spec: INV-6).
    Link(&'a str),
    /// By its id, from the inbox of the user signed in with `email`: it must be addressed to
    /// them (spec: INV-15).
    Inbox {
        id: InvitationId,
        email: &'a EmailAddress,
    },
}

/// What the invitee sees before deciding (spec: INV-5, INV-10). Looking never changes the
/// invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InvitationPreview {
    /// The invitation.
    pub invitation: InvitationId,
    /// The organization's name.
    pub organization: OrganizationName,
    /// The role it grants.
    pub role: Role,
    /// The team it joins, when it still exists.
    pub team: Option<TeamName>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// Whether it already has (it still shows as Pending, INV-2).
    pub expired: bool,
    /// Its status.
    pub status: InvitationStatus,
    /// Set when the invitee already has an account: what does not follow them (spec: INV-5,
    /// USR-3). Acceptance then needs `warning_acknowledged`.
    pub existing_account_warning: Option<&'static str>,
}

/// The text of the existing-account warning (spec: INV-5, USR-3).
pub const EXISTING_ACCOUNT_WARNING: &str = "You already have an account. Your Lists will follow you into this organization; licenses, course-completion history and integrations tied to your current account will not.";

/// The invitee's answer when accepting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptOptions {
    /// The name for the membership.
    pub profile: Profile,
    /// Whether the user had an account before this invitation (the host knows).
    pub existing_account: bool,
    /// Whether the user acknowledged [`EXISTING_ACCOUNT_WARNING`].
    pub warning_acknowledged: bool,
}

impl AcceptOptions {
    /// A newcomer's answer: the name for the membership, and no account before this
    /// invitation.
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            existing_account: false,
            warning_acknowledged: false,
        }
    }

    /// The answer of a user who had an account before this invitation, and whether they
    /// acknowledged [`EXISTING_ACCOUNT_WARNING`] (spec: INV-5).
    pub fn existing_account(mut self, warning_acknowledged: bool) -> Self {
        self.existing_account = true;
        self.warning_acknowledged = warning_acknowledged;
        self
    }
}

impl Roster {
    /// What an invitation link offers, without changing anything: mail scanners open links
    /// (spec: INV-10). Needs no signed-in user; `existing_account` adds the warning of INV-5.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed token, [`Error::NotFound`] for an unknown or
    /// superseded link, [`Error::Store`].
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
    /// # let bob = EmailAddress::parse("bob@example.com")?;
    /// # let sent = roster.invite_member(&ada, org, bob, Role::Member, None).await?;
    /// let link = sent.token.expose(); // what the email's link carries
    /// let preview = roster.preview_invitation(&link, false).await?;
    /// assert_eq!(preview.organization.as_str(), "Analytical Engines");
    /// assert!(!preview.expired);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn preview_invitation(
        &self,
        token: &str,
        existing_account: bool,
    ) -> Result<InvitationPreview> {
        let now = self.now();
        let LinkContext {
            invitation,
            organization,
            team,
            ..
        } = self.answer_context(Named::Link(token), None, now).await?;
        let team = team.map(|t| t.name);
        Ok(InvitationPreview {
            invitation: invitation.id,
            organization: organization.name,
            role: invitation.role,
            team,
            expires_at: invitation.expires_at,
            expired: invitation.is_expired(now),
            status: invitation.status,
            existing_account_warning: existing_account.then_some(EXISTING_ACCOUNT_WARNING),
        })
    }

    /// Accepts the invitation behind a link. The actor must be signed in with the invited
    /// address (any case), acknowledge the existing-account warning when it applies, and not
    /// be a member yet; they join with the invited role and team (spec: INV-1, INV-2, INV-5,
    /// INV-6, INV-11, ORG-4, ROLE-5). Of concurrent accepts, declines, revokes and resends,
    /// exactly one wins.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::NotFound`], [`Error::InvitationNotPending`],
    /// [`Error::InvitationExpired`], [`Error::EmailMismatch`],
    /// [`Error::WarningNotAcknowledged`], [`Error::AlreadyMember`], [`Error::SeatLimit`],
    /// [`Error::LegacyIntegration`] and [`Error::NoLicense`] (an administrator invitation,
    /// ORG-2, ORG-3), [`Error::Conflict`], [`Error::Store`].
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
    /// # let sent = roster
    /// #     .invite_member(&ada, org, EmailAddress::parse("bob@example.com")?, Role::Member, None)
    /// #     .await?;
    /// # let link = sent.token.expose();
    /// // Bob, signed in with the invited address (any case), follows the link.
    /// let bob = Actor::new(UserId::new(), EmailAddress::parse("Bob@Example.com")?);
    /// let options = AcceptOptions::new(Profile::parse("Bob", "Babbage")?);
    /// let accepted = roster.accept_invitation(&bob, &link, options).await?;
    /// assert_eq!(accepted.member.user, bob.user);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn accept_invitation(
        &self,
        actor: &Actor,
        token: &str,
        options: AcceptOptions,
    ) -> Result<Accepted> {
        self.accept(actor, Named::Link(token), options).await
    }

    /// Accepts invitation `id` from the actor's inbox ([`Roster::inbox`]), under the rules of
    /// the link (see [`Roster::accept_invitation`]; spec: INV-15). No link is held, so the
    /// invitation must be addressed to the actor's email (any case): one addressed to someone
    /// else is reported as not found, like an unknown id, and reveals nothing.
    ///
    /// # Errors
    /// [`Error::NotFound`] (unknown, or addressed to someone else),
    /// [`Error::InvitationNotPending`], [`Error::InvitationExpired`],
    /// [`Error::WarningNotAcknowledged`], [`Error::AlreadyMember`], [`Error::SeatLimit`],
    /// [`Error::LegacyIntegration`] and [`Error::NoLicense`] (an administrator invitation,
    /// ORG-2, ORG-3), [`Error::Conflict`], [`Error::Store`].
    pub async fn accept_invitation_by_id(
        &self,
        actor: &Actor,
        id: InvitationId,
        options: AcceptOptions,
    ) -> Result<Accepted> {
        let named = Named::Inbox {
            id,
            email: &actor.email,
        };
        self.accept(actor, named, options).await
    }

    /// Declines the invitation behind a link; holding the link is enough (spec: INV-1,
    /// INV-2). The entry leaves the listing and stays in the audit trail (spec: INV-12).
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::NotFound`], [`Error::InvitationNotPending`],
    /// [`Error::InvitationExpired`], [`Error::Conflict`], [`Error::Store`].
    pub async fn decline_invitation(&self, token: &str) -> Result<Invitation> {
        self.decline(Named::Link(token)).await
    }

    /// Declines invitation `id` from the actor's inbox ([`Roster::inbox`]), under the rules
    /// of the link (see [`Roster::decline_invitation`]; spec: INV-15). No link is held, so the
    /// invitation must be addressed to the actor's email (any case): one addressed to someone
    /// else is reported as not found, like an unknown id, and reveals nothing.
    ///
    /// # Errors
    /// [`Error::NotFound`] (unknown, or addressed to someone else),
    /// [`Error::InvitationNotPending`], [`Error::InvitationExpired`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn decline_invitation_by_id(
        &self,
        actor: &Actor,
        id: InvitationId,
    ) -> Result<Invitation> {
        self.decline(Named::Inbox {
            id,
            email: &actor.email,
        })
        .await
    }

    /// Accepts the invitation `named`, for the link and the inbox alike.
    async fn accept(
        &self,
        actor: &Actor,
        named: Named<'_>,
        options: AcceptOptions,
    ) -> Result<Accepted> {
        let acceptance = &Acceptance {
            user: actor.user,
            email: actor.email.clone(),
            profile: options.profile,
            existing_account: options.existing_account,
            warning_acknowledged: options.warning_acknowledged,
        };
        self.run(|now| async move {
            let link = self.answer_context(named, Some(actor.user), now).await?;
            let (invitation, organization) = (link.invitation, link.organization);
            let check = AcceptCheck {
                organization: &organization,
                actor,
                invitation: &invitation,
            };
            self.vet_accept(check).await?;
            let state = AcceptState {
                organization: &organization,
                already_member: link.member.is_some(),
                seats: link.seats.unwrap_or_default(),
                team: link.team.as_ref(),
            };
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                invitation::accept(ctx, &state, invitation, acceptance)
            })?)
        })
        .await
    }

    /// Declines the invitation `named`, for the link and the inbox alike.
    async fn decline(&self, named: Named<'_>) -> Result<Invitation> {
        self.run(|now| async move {
            let link = self.answer_context(named, None, now).await?;
            Ok(self.decide(now, EventActor::System, |ctx| {
                invitation::decline(ctx, &link.organization, link.invitation)
            })?)
        })
        .await
    }

    /// The invitation `named`, with its organization, `user`'s membership, the seats if
    /// capped and the team it names: one read.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed token; [`Error::NotFound`] for an unknown or
    /// superseded link, an unknown id, or an id of an invitation addressed to someone other
    /// than the inbox's owner.
    async fn answer_context(
        &self,
        named: Named<'_>,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<LinkContext> {
        let (lookup, invitee) = match named {
            Named::Link(token) => {
                let token = InvitationToken::parse(token)?;
                (InvitationLookup::TokenHash(token.hash()), None)
            }
            Named::Inbox { id, email } => (InvitationLookup::Id(id), Some(email)),
        };
        self.store
            .link_context(lookup, user, now)
            .await?
            // Without the link, an invitation addressed to someone else is as good as
            // unknown: ids must not tell a user about others' invitations (spec: INV-15).
            .filter(|link| invitee.is_none_or(|email| link.invitation.email.key() == email.key()))
            .ok_or(Error::NotFound {
                entity: EntityKind::Invitation,
            })
    }
}
