//! Sending invitations: one, many from a paste, a first administrator's from the back
//! office, and resending one (spec: INV-3, INV-7, INV-8, INV-14, ADM-4, ORG-3, ORG-4, ORG-5).
//! Each is a pure decision over the organization's state as the shell read it.

use super::*;

/// What the store knows about one address in one organization.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressState {
    /// Whether a member has this email.
    pub member: bool,
    /// The pending invitation for it, if any.
    pub pending: Option<Invitation>,
    /// The host's refusal of an invitation to it, if it gave one (spec: MEM-3).
    pub veto: Option<String>,
}

/// What to invite: one address, its role, optional names and team.
#[derive(Debug, Clone)]
pub(crate) struct NewInvitation {
    /// The address.
    pub email: EmailAddress,
    /// The invitee's name (required for administrators, spec: ADM-4).
    pub invitee: Option<Profile>,
    /// The role to grant.
    pub role: Role,
}

/// Who sends an invitation: their user id for the record, their name for the mail.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inviter<'a> {
    /// The user.
    pub user: UserId,
    /// Their name.
    pub profile: &'a Profile,
}

impl<'a> From<&'a Member> for Inviter<'a> {
    fn from(member: &'a Member) -> Self {
        Self {
            user: member.user,
            profile: &member.profile,
        }
    }
}

/// The organization-wide state an invitation decision reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InviteState<'a> {
    /// The organization, at the version read.
    pub organization: &'a Organization,
    /// Who sends it: the inviting member (already authorized by the policy), or the back
    /// office for a first administrator.
    pub inviter: Inviter<'a>,
    /// Seats in use at the time read.
    pub seats: SeatUsage,
    /// The team invitees join, when one was named.
    pub team: Option<&'a Team>,
    /// How long a link works unless the invitation has its own lifetime (spec: INV-2).
    pub ttl: Duration,
    /// The invitations' own lifetime and metadata (spec: INV-14).
    pub options: &'a InviteOptions,
}

impl InviteState<'_> {
    /// How long a link of an invitation with `own` lifetime works: its own, else the
    /// roster's (spec: INV-2, INV-14).
    fn lifetime(&self, own: Option<Lifetime>) -> Duration {
        own.map_or(self.ttl, Lifetime::duration)
    }

    fn free_seats(&self) -> Option<u64> {
        self.organization
            .seat_cap
            .map(|cap| u64::from(cap).saturating_sub(self.seats.used()))
    }

    fn check_administrator_rules(
        &self,
        role: Role,
        invitee: Option<&Profile>,
    ) -> Result<(), DomainError> {
        if role != Role::Administrator {
            return Ok(());
        }
        self.organization.admits_administrators()?;
        if invitee.is_none() {
            // spec: ADM-4 — email, first and last name are all required.
            return Err(DomainError::Invalid(ValidationError::Empty {
                field: Field::FirstName,
            }));
        }
        Ok(())
    }

    fn new_invitation(
        &self,
        ctx: &Context<'_>,
        id: InvitationId,
        new: NewInvitation,
        token: &InvitationToken,
    ) -> Invitation {
        Invitation {
            id,
            organization: self.organization.id,
            email: new.email,
            invitee: new.invitee,
            role: new.role,
            team: self.team.map(|t| t.id),
            status: InvitationStatus::Pending,
            token_hash: token.hash(),
            invited_by: self.inviter.user,
            created_at: ctx.now,
            sent_at: ctx.now,
            expires_at: expiry(ctx.now, self.lifetime(self.options.lifetime)),
            resend_count: 0,
            closed_at: None,
            closed_by: None,
            lifetime: self.options.lifetime,
            metadata: self.options.metadata.clone(),
            version: 0,
        }
    }

    fn invitation_mail(
        &self,
        ctx: &mut Context<'_>,
        invitation: &Invitation,
        resend: bool,
    ) -> OutboxMessage {
        OutboxMessage::new(
            OutboxId::from_uuid(ctx.fresh.uuid()),
            self.organization.id,
            invitation.email.clone(),
            MailContent::Invitation {
                invitation: invitation.id,
                organization: self.organization.name.clone(),
                inviter: self.inviter.profile.clone(),
                invitee: invitation.invitee.clone(),
                role: invitation.role,
                team: self.team.map(|t| t.name.clone()),
                expires_at: invitation.expires_at,
                resend,
                generation: invitation.resend_count,
            },
            ctx.now,
        )
    }

    fn touch(&self) -> ChangeSet {
        ChangeSet::new(
            self.organization.id,
            OrganizationWrite::for_invitations(self.organization),
        )
    }

    fn add_invitation(
        &self,
        ctx: &mut Context<'_>,
        changes: &mut ChangeSet,
        new: NewInvitation,
    ) -> Result<InvitationCreated, DomainError> {
        let id = InvitationId::from_uuid(ctx.fresh.uuid());
        let token = ctx.fresh.link_token(id, 0);
        let invitation = self.new_invitation(ctx, id, new, &token);
        changes
            .outbox
            .push(self.invitation_mail(ctx, &invitation, false));
        changes.events.push(ctx.event(
            self.organization.id,
            EventKind::InvitationSent {
                invitation: invitation.id,
                email: invitation.email.clone(),
                role: invitation.role,
                team: invitation.team,
            },
        ));
        changes
            .writes
            .push(Write::PutInvitation(invitation.clone()));
        Ok(InvitationCreated { invitation, token })
    }
}

/// Refuses the Administrator role in the commands that invite learners: administrators are
/// invited one at a time, with their first and last name (spec: ADM-4).
///
/// # Errors
/// [`DomainError::Invalid`] naming the role field.
pub(crate) fn administrators_one_by_one(role: Role) -> Result<(), DomainError> {
    if role == Role::Administrator {
        return Err(DomainError::Invalid(ValidationError::Malformed {
            field: Field::Role,
            reason: "administrators are invited one at a time with their first and last name",
        }));
    }
    Ok(())
}

fn address_refusal(existing: &AddressState) -> Option<BulkLineError> {
    if existing.member {
        Some(BulkLineError::AlreadyMember)
    } else if existing.pending.is_some() {
        Some(BulkLineError::AlreadyInvited)
    } else {
        existing.veto.as_ref().map(|reason| BulkLineError::Vetoed {
            reason: reason.clone(),
        })
    }
}

/// Decides the back office's invitation of an organization's first administrator (spec:
/// ORG-5): the rules of every administrator invitation (ADM-4, ORG-2, ORG-3, ORG-4), while
/// the organization has no active administrator; once it has one, they invite the others.
///
/// # Errors
/// [`DomainError::AdministratorExists`], then as [`invite`].
pub(crate) fn invite_first_administrator(
    ctx: &mut Context<'_>,
    state: &InviteState<'_>,
    new: NewInvitation,
    existing: &AddressState,
    administrators: u64,
) -> Result<Decision<InvitationCreated>, DomainError> {
    if administrators > 0 {
        return Err(DomainError::AdministratorExists);
    }
    invite(ctx, state, new, existing)
}

/// Decides a single invitation (spec: ADM-4, ORG-2, ORG-3, ORG-4, INV-7, INV-8).
///
/// # Errors
/// [`DomainError::LegacyIntegration`], [`DomainError::NoLicense`], [`DomainError::Invalid`]
/// (administrator without a name), [`DomainError::AlreadyMember`],
/// [`DomainError::AlreadyInvited`], [`DomainError::SeatLimit`].
pub(crate) fn invite(
    ctx: &mut Context<'_>,
    state: &InviteState<'_>,
    new: NewInvitation,
    existing: &AddressState,
) -> Result<Decision<InvitationCreated>, DomainError> {
    state.check_administrator_rules(new.role, new.invitee.as_ref())?;
    match address_refusal(existing) {
        Some(BulkLineError::AlreadyMember) => return Err(DomainError::AlreadyMember),
        Some(BulkLineError::Vetoed { reason }) => return Err(DomainError::Vetoed { reason }),
        Some(_) => return Err(DomainError::AlreadyInvited),
        None => {}
    }
    if let (Some(cap), Some(0)) = (state.organization.seat_cap, state.free_seats()) {
        let excess = state
            .seats
            .used()
            .saturating_add(1)
            .saturating_sub(u64::from(cap));
        return Err(DomainError::SeatLimit { cap, excess });
    }
    let mut changes = state.touch();
    let outcome = state.add_invitation(ctx, &mut changes, new)?;
    Ok(Decision { outcome, changes })
}

/// Decides a bulk invitation: every valid, new address gets an invitation, every other
/// entry is reported with its reason, in paste order (spec: INV-7, ORG-4).
///
/// # Errors
/// [`DomainError::Invalid`] when `role` is Administrator (see [`administrators_one_by_one`]).
pub(crate) fn invite_many(
    ctx: &mut Context<'_>,
    state: &InviteState<'_>,
    paste: ParsedPaste,
    role: Role,
    existing: &HashMap<String, AddressState>,
) -> Result<Decision<BulkInviteReport>, DomainError> {
    administrators_one_by_one(role)?;
    let mut changes = state.touch();
    let mut free = state.free_seats();
    let mut rejected = paste.rejected;
    let mut invited = Vec::new();
    for pasted in paste.addresses {
        let refusal = existing
            .get(pasted.email.key())
            .and_then(address_refusal)
            .or(match (state.organization.seat_cap, free) {
                (Some(cap), Some(0)) => Some(BulkLineError::SeatLimit { cap }),
                _ => None,
            });
        if let Some(reason) = refusal {
            rejected.push(RejectedEntry {
                line: pasted.line,
                text: pasted.email.as_str().to_owned(),
                reason,
            });
            continue;
        }
        free = free.map(|f| f.saturating_sub(1));
        let new = NewInvitation {
            email: pasted.email,
            invitee: None,
            role,
        };
        invited.push((pasted.line, state.add_invitation(ctx, &mut changes, new)?));
    }
    rejected.sort_by_key(|r| r.line);
    if invited.is_empty() {
        changes = ChangeSet::new(state.organization.id, OrganizationWrite::Untouched);
    }
    Ok(Decision {
        outcome: BulkInviteReport { invited, rejected },
        changes,
    })
}

/// Decides a resend: a new link and expiry, the old link dead, a new email queued
/// (spec: INV-3). An expired invitation held no seat, so resending it must fit the cap again
/// (spec: ORG-4).
///
/// # Errors
/// [`DomainError::InvitationNotPending`], [`DomainError::SeatLimit`].
pub(crate) fn resend(
    ctx: &mut Context<'_>,
    state: &InviteState<'_>,
    invitation: Invitation,
) -> Result<Decision<InvitationCreated>, DomainError> {
    if invitation.status != InvitationStatus::Pending {
        return Err(DomainError::InvitationNotPending {
            status: invitation.status,
        });
    }
    if let (Some(cap), Some(0), true) = (
        state.organization.seat_cap,
        state.free_seats(),
        invitation.is_expired(ctx.now),
    ) {
        let excess = state
            .seats
            .used()
            .saturating_add(1)
            .saturating_sub(u64::from(cap));
        return Err(DomainError::SeatLimit { cap, excess });
    }
    let token = ctx
        .fresh
        .link_token(invitation.id, invitation.resend_count.saturating_add(1));
    let ttl = state.lifetime(invitation.lifetime);
    let invitation = invitation.resend(token.hash(), ctx.now, ttl)?;
    let mut changes = state.touch();
    changes
        .outbox
        .push(state.invitation_mail(ctx, &invitation, true));
    changes.events.push(ctx.event(
        state.organization.id,
        EventKind::InvitationResent {
            invitation: invitation.id,
            email: invitation.email.clone(),
        },
    ));
    changes
        .writes
        .push(Write::PutInvitation(invitation.clone()));
    Ok(Decision {
        outcome: InvitationCreated { invitation, token },
        changes,
    })
}
