//! Outgoing mail as the domain records it: rows written in the same commit as the change
//! that caused them, delivered later, at least once (spec: INV-9, MSG-2).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    email::EmailAddress,
    ids::{InvitationId, OrganizationId, OutboxId, UserId},
    role::Role,
    text::{Message, OrganizationName, Profile, Subject, TeamName},
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
        /// Which of the invitation's links this mail carries (its resend count when sent):
        /// with the host's link key, what the link's token is derived from when the mail is
        /// rendered (spec: INV-6).
        #[serde(default)]
        generation: u32,
    },
    /// A message from an administrator or supervisor (spec: MSG-1).
    Message {
        /// The organization's name.
        organization: OrganizationName,
        /// Who wrote it: the user, so that an erasure finds their messages whatever they
        /// were called (spec: USR-5).
        sender: UserId,
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
#[non_exhaustive]
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
/// It holds no secret: an invitation's link is derived from the host's link key when the
/// mail is rendered (spec: INV-6).
#[derive(Debug, Clone, Serialize)]
pub struct OutboxMessage {
    /// Its id, also the source of the mail's stable `Message-ID`.
    pub id: OutboxId,
    /// The organization.
    pub organization: OrganizationId,
    /// The recipient.
    pub to: EmailAddress,
    /// What to say.
    pub content: MailContent,
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
    /// The invitation whose link it carries, if it is an invitation's email: its queued
    /// copies are withdrawn when the invitation changes (spec: INV-13).
    pub fn invitation(&self) -> Option<InvitationId> {
        match &self.content {
            MailContent::Invitation { invitation, .. } => Some(*invitation),
            _ => None,
        }
    }

    /// A new pending message, due now.
    pub fn new(
        id: OutboxId,
        organization: OrganizationId,
        to: EmailAddress,
        content: MailContent,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            organization,
            to,
            content,
            status: OutboxStatus::Pending,
            attempts: 0,
            created_at: now,
            due_at: now,
            lease_until: None,
            last_error: None,
        }
    }
}

/// What a delivery pass did with a row it claimed (spec: MSG-3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settlement {
    /// The transport accepted it: done.
    Sent,
    /// Put back for another attempt, not before `not_before`.
    Retry {
        /// When it may be attempted again.
        not_before: DateTime<Utc>,
        /// Why this attempt failed.
        error: String,
    },
    /// Given up.
    Failed {
        /// Why.
        error: String,
    },
    /// Not attempted (the pass stopped, or too little of its lease was left to send it):
    /// back in the queue at once, and the attempt its claim counted is not counted.
    Released,
}

/// The order in which due mail is claimed: in turns across organizations, each
/// organization's oldest due first, so that one organization's large backlog does not hold
/// back another's mail for more than one pass (spec: MSG-3). The SQL stores order their
/// claim the same way (`ROW_NUMBER() OVER (PARTITION BY organization_id …)`).
///
/// `key` gives each item's organization, due time and id; items may be rows or just their
/// keys, so a store can order its due mail without copying it.
pub(crate) fn in_turns<T>(
    mut due: Vec<T>,
    key: impl Fn(&T) -> (OrganizationId, DateTime<Utc>, OutboxId),
) -> Vec<T> {
    due.sort_by_key(|m| {
        let (_, due_at, id) = key(m);
        (due_at, id)
    });
    let mut turns: std::collections::HashMap<OrganizationId, usize> =
        std::collections::HashMap::new();
    let mut ranked: Vec<(usize, T)> = due
        .into_iter()
        .map(|m| {
            let turn = turns.entry(key(&m).0).or_default();
            *turn += 1;
            (*turn, m)
        })
        .collect();
    ranked.sort_by_key(|(turn, m)| {
        let (_, due_at, id) = key(m);
        (*turn, due_at, id)
    });
    ranked.into_iter().map(|(_, m)| m).collect()
}

use super::{
    changes::{ChangeSet, Context, Decision, OrganizationWrite},
    event::EventKind,
    member::Member,
    organization::Organization,
    team::Team,
};

/// Decides queueing again an email that was given up, for an administrator (spec: MSG-3):
/// due `ctx.now`, its attempts counted from zero, and the reason it had failed kept in the
/// audit trail. `dead_link` is why the link an invitation's email carries no longer opens
/// the invitation, as delivery would find it (`None` for other mail, or a link that works):
/// such an email would only be given up again.
///
/// # Errors
/// [`DomainError::MailNotRetriable`] when the email is not failed, or its link is dead.
pub(crate) fn retry(
    ctx: &mut Context<'_>,
    organization: &Organization,
    mut message: OutboxMessage,
    dead_link: Option<String>,
) -> Result<Decision<OutboxMessage>, super::error::DomainError> {
    let refuse = |reason: String| super::error::DomainError::MailNotRetriable { reason };
    match message.status {
        OutboxStatus::Failed => {}
        OutboxStatus::Pending => {
            return Err(refuse("it is still queued for delivery".to_owned()));
        }
        OutboxStatus::Sent => return Err(refuse("it was sent".to_owned())),
    }
    if let Some(reason) = dead_link {
        return Err(refuse(reason));
    }
    let mut changes = ChangeSet::new(
        organization.id,
        OrganizationWrite::Check {
            expected_version: organization.version,
        },
    );
    changes.events.push(ctx.event(
        organization.id,
        EventKind::MailRetried {
            outbox: message.id,
            to: message.to.clone(),
            reason: message.last_error.clone(),
        },
    ));
    changes.writes.push(super::changes::Write::RequeueMail {
        mail: message.id,
        at: ctx.now,
    });
    message.status = OutboxStatus::Pending;
    message.attempts = 0;
    message.due_at = ctx.now;
    message.lease_until = None;
    message.last_error = None;
    Ok(Decision {
        outcome: message,
        changes,
    })
}

/// Mail to members being addressed page by page: the shell reads the recipients a page at a
/// time and [`address`](Self::address)es each, so no more than a page of members is held at
/// once; [`finish`](Self::finish) decides. Every email is queued in the one commit, so it
/// reaches all its recipients or none (spec: MSG-1, MSG-2, ADM-3).
#[derive(Debug)]
pub(crate) struct MailDraft {
    content: MailContent,
    about: Addressed,
    changes: ChangeSet,
}

/// What a [`MailDraft`] is, for whom, and what its audit event says.
#[derive(Debug)]
enum Addressed {
    /// A message: everyone addressed but its sender.
    Message {
        sender: super::ids::MemberId,
        team: Option<super::ids::TeamId>,
        subject: Subject,
    },
    /// A notification: administrators only.
    Notification { subject: Subject },
}

impl MailDraft {
    /// A message from `from` in `organization`, to `team`'s members or everyone; the sender is
    /// not mailed their own message. Its commit fails if the organization changed since it
    /// was read, as it does when the sender is removed or demoted (spec: MSG-1, ROLE-4).
    pub(crate) fn message(
        organization: &Organization,
        from: &Member,
        team: Option<&Team>,
        subject: Subject,
        body: Message,
    ) -> Self {
        let content = MailContent::Message {
            organization: organization.name.clone(),
            sender: from.user,
            from: from.profile.clone(),
            team: team.map(|t| t.name.clone()),
            subject: subject.clone(),
            body,
        };
        let check = OrganizationWrite::Check {
            expected_version: organization.version,
        };
        Self {
            content,
            about: Addressed::Message {
                sender: from.id,
                team: team.map(|t| t.id),
                subject,
            },
            changes: ChangeSet::new(organization.id, check),
        }
    }

    /// An automated notification to the administrators addressed (spec: ADM-3).
    pub(crate) fn notification(
        organization: &Organization,
        subject: Subject,
        body: Message,
    ) -> Self {
        let content = MailContent::Notification {
            organization: organization.name.clone(),
            subject: subject.clone(),
            body,
        };
        // Checked, as a message is: a member deactivated since the recipients were read
        // makes the draft stale, so it is addressed again without them (spec: MEM-2).
        let check = OrganizationWrite::Check {
            expected_version: organization.version,
        };
        Self {
            content,
            about: Addressed::Notification { subject },
            changes: ChangeSet::new(organization.id, check),
        }
    }

    /// Queues one email to each of `recipients` the draft is for.
    pub(crate) fn address(&mut self, ctx: &mut Context<'_>, recipients: &[Member]) {
        let wanted = |m: &&Member| match &self.about {
            Addressed::Message { sender, .. } => m.id != *sender,
            Addressed::Notification { .. } => m.is_administrator(),
        };
        for member in recipients.iter().filter(wanted) {
            self.changes.outbox.push(OutboxMessage::new(
                OutboxId::from_uuid(ctx.fresh.uuid()),
                self.changes.organization,
                member.email.clone(),
                self.content.clone(),
                ctx.now,
            ));
        }
    }

    /// The decision: every email addressed, and the audit event saying how many.
    pub(crate) fn finish(mut self, ctx: &mut Context<'_>) -> Decision<u64> {
        let recipients = self.changes.outbox.len() as u64;
        let kind = match self.about {
            Addressed::Message { team, subject, .. } => EventKind::MessageSent {
                team,
                subject,
                recipients,
            },
            Addressed::Notification { subject } => EventKind::NotificationSent {
                subject,
                recipients,
            },
        };
        let event = ctx.event(self.changes.organization, kind);
        self.changes.events.push(event);
        Decision {
            outcome: recipients,
            changes: self.changes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(org: OrganizationId, due_minute: i64) -> OutboxMessage {
        let at = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(due_minute);
        let Ok(to) = EmailAddress::parse("someone@example.com") else {
            unreachable!("a valid address")
        };
        let content = MailContent::Notification {
            organization: "Org".parse().expect("a name"),
            subject: "Hello".parse().expect("a subject"),
            body: "Body".parse().expect("a body"),
        };
        OutboxMessage::new(OutboxId::new(), org, to, content, at)
    }

    #[test]
    fn due_mail_is_taken_in_turns_across_organizations() {
        // spec: MSG-3 — B's one mail, due last, comes second, not after A's backlog.
        let (a, b, c) = (
            OrganizationId::new(),
            OrganizationId::new(),
            OrganizationId::new(),
        );
        let mut due: Vec<_> = (0..100).map(|i| message(a, i)).collect();
        due.push(message(b, 500));
        due.push(message(c, 400));
        due.push(message(c, 401));
        let order: Vec<(OrganizationId, DateTime<Utc>)> =
            in_turns(due, |m| (m.organization, m.due_at, m.id))
                .iter()
                .map(|m| (m.organization, m.due_at))
                .collect();
        let minute = |i| DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(i);
        assert_eq!(
            &order[..5],
            &[
                (a, minute(0)),
                (c, minute(400)),
                (b, minute(500)),
                (a, minute(1)),
                (c, minute(401))
            ]
        );
        assert_eq!(order.len(), 103);
        assert_eq!(order[102], (a, minute(99)));
    }
}
