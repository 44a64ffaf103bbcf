//! Outgoing mail as the domain records it: rows written in the same commit as the change
//! that caused them, delivered later, at least once (spec: INV-9, MSG-2).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    email::EmailAddress,
    ids::{InvitationId, OrganizationId, OutboxId},
    role::Role,
    text::{Message, OrganizationName, Profile, Subject, TeamName},
    token::InvitationToken,
};

/// What a mail says, as data. It is rendered into text only at delivery, so a host's
/// templates apply to mail queued before they were installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MailContent {
    /// An invitation to join an organization (also used for a resend).
    Invitation {
        /// The invitation.
        invitation: InvitationId,
        /// The organization's name.
        organization: OrganizationName,
        /// Who invited them.
        inviter: Profile,
        /// The invitee's name, when given (administrator invitations, spec: ADM-4).
        invitee: Option<Profile>,
        /// The role it grants.
        role: Role,
        /// The team it joins.
        team: Option<TeamName>,
        /// When the link stops working.
        expires_at: DateTime<Utc>,
        /// Whether this replaces an earlier link (spec: INV-3).
        resend: bool,
    },
    /// A message from an administrator or supervisor (spec: MSG-1).
    Message {
        /// The organization's name.
        organization: OrganizationName,
        /// Who wrote it.
        from: Profile,
        /// The team addressed, if any.
        team: Option<TeamName>,
        /// Its subject.
        subject: Subject,
        /// Its body.
        body: Message,
    },
    /// An automated notification to an administrator (spec: ADM-3).
    Notification {
        /// The organization's name.
        organization: OrganizationName,
        /// Its subject.
        subject: Subject,
        /// Its body.
        body: Message,
    },
}

/// Delivery state of an [`OutboxMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting to be sent (or to be retried).
    Pending,
    /// Accepted by the mail transport.
    Sent,
    /// Given up; `last_error` says why.
    Failed,
}

/// One queued email.
///
/// An invitation's token travels in [`OutboxMessage::secret`] until the mail is sent: the
/// link must reach the invitee, yet only its hash is kept afterwards (spec: INV-6, INV-9).
/// Stores erase the secret when the row is marked sent or failed.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// Its id, also the source of the mail's stable `Message-ID`.
    pub id: OutboxId,
    /// The organization.
    pub organization: OrganizationId,
    /// The recipient.
    pub to: EmailAddress,
    /// What to say.
    pub content: MailContent,
    /// The invitation token to put in the link, until delivery.
    pub secret: Option<InvitationToken>,
    /// Delivery state.
    pub status: OutboxStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Not to be attempted before this time (backoff).
    pub due_at: DateTime<Utc>,
    /// Claimed by a delivery pass until this time; others skip it until then.
    pub lease_until: Option<DateTime<Utc>>,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

impl OutboxMessage {
    /// A new pending message, due now.
    pub fn new(
        id: OutboxId,
        organization: OrganizationId,
        to: EmailAddress,
        content: MailContent,
        secret: Option<InvitationToken>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            organization,
            to,
            content,
            secret,
            status: OutboxStatus::Pending,
            attempts: 0,
            created_at: now,
            due_at: now,
            lease_until: None,
            last_error: None,
        }
    }
}

use super::{
    changes::{ChangeSet, Context, Decision, OrganizationWrite},
    event::EventKind,
    member::Member,
    organization::Organization,
    team::Team,
};

/// One queued mail of `content` for each recipient, and the audit event `kind` made from
/// how many were queued.
fn mail_each<'m>(
    ctx: &mut Context<'_>,
    organization: &Organization,
    recipients: impl Iterator<Item = &'m Member>,
    content: &MailContent,
    kind: impl FnOnce(u64) -> EventKind,
) -> Decision<u64> {
    let mut changes = ChangeSet::new(organization.id, OrganizationWrite::Untouched);
    for member in recipients {
        let id = OutboxId::from_uuid(ctx.fresh.uuid());
        let to = member.email.clone();
        changes.outbox.push(OutboxMessage::new(
            id,
            organization.id,
            to,
            content.clone(),
            None,
            ctx.now,
        ));
    }
    let recipients = changes.outbox.len() as u64;
    changes
        .events
        .push(ctx.event(organization.id, kind(recipients)));
    Decision {
        outcome: recipients,
        changes,
    }
}

/// Decides a message to members: one queued email per recipient (spec: MSG-1, MSG-2).
/// `recipients` are the members addressed (the team's members, or everyone); the sender is
/// not mailed their own message.
pub fn send_message(
    ctx: &mut Context<'_>,
    organization: &Organization,
    from: &Member,
    team: Option<&Team>,
    recipients: &[Member],
    subject: Subject,
    body: Message,
) -> Decision<u64> {
    let content = MailContent::Message {
        organization: organization.name.clone(),
        from: from.profile.clone(),
        team: team.map(|t| t.name.clone()),
        subject: subject.clone(),
        body,
    };
    let others = recipients.iter().filter(|m| m.id != from.id);
    mail_each(ctx, organization, others, &content, |recipients| {
        EventKind::MessageSent {
            team: team.map(|t| t.id),
            subject,
            recipients,
        }
    })
}

/// Decides an automated notification to every administrator (spec: ADM-3).
pub fn notify_administrators(
    ctx: &mut Context<'_>,
    organization: &Organization,
    administrators: &[Member],
    subject: Subject,
    body: Message,
) -> Decision<u64> {
    let content = MailContent::Notification {
        organization: organization.name.clone(),
        subject: subject.clone(),
        body,
    };
    let admins = administrators.iter().filter(|m| m.is_administrator());
    mail_each(ctx, organization, admins, &content, |recipients| {
        EventKind::NotificationSent {
            subject,
            recipients,
        }
    })
}
