//! Erasing a member's personal data from an organization on request (spec: USR-5).
//!
//! The membership ends, and wherever the organization still holds the member's user id,
//! email or name (invitations, the audit trail, the outbox, learning activity and team
//! stints), a pseudonym takes its place: a fresh user id, an address in the reserved
//! `.invalid` domain, and a placeholder name. Rows are rewritten, never deleted, so the
//! organization's figures and history keep their counts.
//!
//! Rows are matched and rewritten field by field, with every variant of the audit trail and
//! of the outbox's content named: a new variant that carries a person cannot be forgotten
//! here without the compiler saying so.

use std::collections::HashSet;

use super::{
    changes::{ChangeSet, Context, Decision, OrganizationWrite, Write},
    email::EmailAddress,
    error::DomainError,
    event::{Event, EventActor, EventKind},
    ids::{InvitationId, UserId},
    invitation::Invitation,
    member::{Member, keep_an_administrator},
    organization::Organization,
    outbox::{MailContent, OutboxMessage},
    text::Profile,
};

/// Who a person is to the organization: the user id, the email they joined with and their
/// name. Both the member whose data is erased and the pseudonym that replaces it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Person {
    /// The host's user id.
    pub user: UserId,
    /// Their email; matched regardless of case.
    pub email: EmailAddress,
    /// Their name.
    pub profile: Profile,
}

impl Person {
    /// The person `member` is.
    pub(crate) fn of(member: &Member) -> Self {
        Self {
            user: member.user,
            email: member.email.clone(),
            profile: member.profile.clone(),
        }
    }

    /// Whether `invitation` was addressed to them, or sent or closed by them.
    pub(crate) fn in_invitation(&self, invitation: &Invitation) -> bool {
        invitation.email.key() == self.email.key()
            || invitation.invited_by == self.user
            || invitation.closed_by == Some(self.user)
    }

    /// Whether `event` names them: as its actor, or in what it records.
    pub(crate) fn in_event(&self, event: &Event) -> bool {
        self.erased_in_event(&mut event.clone(), None)
    }

    /// Whether `mail` is addressed to them or names them, or carries one of `invitations`
    /// (those they sent: the mail names them as its inviter, whatever they were called).
    pub(crate) fn in_mail(
        &self,
        mail: &OutboxMessage,
        invitations: &HashSet<InvitationId>,
    ) -> bool {
        self.erased_in_mail(&mut mail.clone(), invitations, None)
    }

    /// Rewrites what names this person in `event` as `pseudonym` (when given); whether
    /// anything named them.
    fn erased_in_event(&self, event: &mut Event, pseudonym: Option<&Self>) -> bool {
        let actor = match &mut event.actor {
            EventActor::User { user } => self.user_in(user, pseudonym),
            EventActor::Invitee { email } => self.email_in(email, pseudonym),
            EventActor::System => false,
        };
        actor | self.erased_in_kind(&mut event.kind, pseudonym)
    }

    fn erased_in_kind(&self, kind: &mut EventKind, pseudonym: Option<&Self>) -> bool {
        use EventKind as K;
        match kind {
            K::OrganizationCreated { creator: user, .. }
            | K::ProfileUpdated { user }
            | K::RoleGranted { user, .. }
            | K::RoleRevoked { user, .. }
            | K::MemberDeactivated { user }
            | K::MemberReactivated { user }
            | K::MemberErased { user }
            | K::TeamMemberAdded { user, .. }
            | K::TeamMemberRemoved { user, .. } => self.user_in(user, pseudonym),
            K::InvitationSent { email, .. }
            | K::InvitationResent { email, .. }
            | K::InvitationDeclined { email, .. }
            | K::InvitationRevoked { email, .. } => self.email_in(email, pseudonym),
            // A mail server's reply often repeats the address.
            K::MailFailed { to, reason, .. } => {
                self.email_in(to, pseudonym) | self.text_in(reason, pseudonym)
            }
            K::MailRetried { to, reason, .. } => {
                let in_reason = match reason {
                    Some(reason) => self.text_in(reason, pseudonym),
                    None => false,
                };
                self.email_in(to, pseudonym) | in_reason
            }
            K::InvitationAccepted { user, email, .. }
            | K::MemberRemoved { user, email }
            | K::MemberLeft { user, email } => {
                self.user_in(user, pseudonym) | self.email_in(email, pseudonym)
            }
            K::OrganizationProvisioned { .. }
            | K::LicenseAdded { .. }
            | K::LicenseRemoved { .. }
            | K::CapabilitiesChanged { .. }
            | K::OrganizationRenamed { .. }
            | K::SeatCapChanged { .. }
            | K::TeamCreated { .. }
            | K::TeamRenamed { .. }
            | K::TeamDeleted { .. }
            | K::TeamPageUpdated { .. }
            | K::MessageSent { .. }
            | K::NotificationSent { .. } => false,
        }
    }

    fn erased_in_mail(
        &self,
        mail: &mut OutboxMessage,
        invitations: &HashSet<InvitationId>,
        pseudonym: Option<&Self>,
    ) -> bool {
        let to = self.email_in(&mut mail.to, pseudonym);
        let error = match &mut mail.last_error {
            Some(error) => self.text_in(error, pseudonym),
            None => false,
        };
        let content = match &mut mail.content {
            // The mail of an invitation they sent names them as its inviter, whatever they
            // were called; one sent to them, by the name the inviter gave them (ADM-4).
            MailContent::Invitation {
                invitation,
                inviter,
                invitee,
                ..
            } => {
                let inviter =
                    invitations.contains(invitation) && replace(inviter, name_of(pseudonym));
                let invitee = match invitee {
                    Some(profile) if to => replace(profile, name_of(pseudonym)),
                    _ => false,
                };
                inviter | invitee
            }
            MailContent::Message { sender, from, .. } => {
                self.user_in(sender, pseudonym) && replace(from, name_of(pseudonym))
            }
            MailContent::Notification { .. } => false,
        };
        to | error | content
    }

    /// Whether `text` holds their address, in any case; rewritten to the pseudonym's.
    fn text_in(&self, text: &mut String, pseudonym: Option<&Self>) -> bool {
        let key = self.email.key();
        if key.is_empty() || !text.to_ascii_lowercase().contains(key) {
            return false;
        }
        if let Some(pseudonym) = pseudonym {
            let mut rest = std::mem::take(text);
            while let Some(at) = rest.to_ascii_lowercase().find(key) {
                text.push_str(&rest[..at]);
                text.push_str(pseudonym.email.as_str());
                rest = rest[at + key.len()..].to_owned();
            }
            text.push_str(&rest);
        }
        true
    }

    fn user_in(&self, user: &mut UserId, pseudonym: Option<&Self>) -> bool {
        *user == self.user && replace(user, pseudonym.map(|p| &p.user))
    }

    fn email_in(&self, email: &mut EmailAddress, pseudonym: Option<&Self>) -> bool {
        email.key() == self.email.key() && replace(email, pseudonym.map(|p| &p.email))
    }
}

/// The pseudonym's name, when rewriting.
fn name_of(pseudonym: Option<&Person>) -> Option<&Profile> {
    pseudonym.map(|p| &p.profile)
}

/// Puts `with` (when given) in place of `value`; always `true`: `value` named the person.
fn replace<T: Clone>(value: &mut T, with: Option<&T>) -> bool {
    if let Some(with) = with {
        *value = with.clone();
    }
    true
}

/// What an organization holds that names a person, as [`Person::in_invitation`],
/// [`Person::in_event`] and [`Person::in_mail`] find it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mentions {
    /// The invitations addressed to them, or sent or closed by them.
    pub invitations: Vec<Invitation>,
    /// The audit trail's events that name them.
    pub events: Vec<Event>,
    /// The outbox's mail addressed to them, naming them, or carrying an invitation they sent.
    pub mail: Vec<OutboxMessage>,
}

impl Mentions {
    /// Whether nothing names the person.
    pub(crate) fn is_empty(&self) -> bool {
        self.invitations.is_empty() && self.events.is_empty() && self.mail.is_empty()
    }

    /// `invitations`, `events` and `mail` naming the person.
    pub(crate) fn new(
        invitations: Vec<Invitation>,
        events: Vec<Event>,
        mail: Vec<OutboxMessage>,
    ) -> Self {
        Self {
            invitations,
            events,
            mail,
        }
    }
}

/// What an erasure returns: who was erased, and the pseudonym that now stands for them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Erased {
    /// The membership that ended.
    pub member: Member,
    /// The pseudonym in its place.
    pub pseudonym: Person,
    /// How many invitations, events and emails were rewritten.
    pub rewritten: usize,
}

/// The pseudonym of a fresh id: a user id, an address in the reserved `.invalid` domain
/// (RFC 2606: it can never be delivered) and a placeholder name.
fn pseudonym(id: uuid::Uuid) -> Result<Person, DomainError> {
    Ok(Person {
        user: UserId::from_uuid(id),
        email: EmailAddress::parse(format!("erased-{}@erased.invalid", id.simple()))?,
        profile: Profile::parse("Erased", "Member")?,
    })
}

/// The invitations of `invitations` that `person` sent: their mail names them as its
/// inviter.
pub(crate) fn sent_by(person: &Person, invitations: &[Invitation]) -> HashSet<InvitationId> {
    invitations
        .iter()
        .filter(|i| i.invited_by == person.user)
        .map(|i| i.id)
        .collect()
}

/// Decides erasing `member`'s personal data from `organization` (spec: USR-5): the membership
/// ends as a removal does (their teams go, their stints close), their queued messages and
/// notifications are withdrawn, and every row of `mentions` is rewritten with a pseudonym, as
/// are their learning activity and team stints, so the organization's figures keep their
/// counts. The audit trail records the erasure under the pseudonym.
///
/// # Errors
/// [`DomainError::LastAdministrator`]: the last active administrator stays (spec: ADM-5);
/// another must be appointed first.
pub(crate) fn erase(
    ctx: &mut Context<'_>,
    organization: &Organization,
    member: Member,
    administrators: u64,
    mentions: Mentions,
) -> Result<Decision<Erased>, DomainError> {
    keep_an_administrator(&member, administrators)?;
    let person = Person::of(&member);
    let pseudonym = pseudonym(ctx.fresh.uuid())?;
    let mut changes = ChangeSet::new(
        organization.id,
        OrganizationWrite::Touch {
            expected_version: organization.version,
        },
    );
    changes.writes.push(Write::DeleteMember {
        member: member.id,
        expected_version: member.version,
        at: ctx.now,
    });
    // Mail not sent yet is not sent at all: rewritten, it would go to the pseudonym.
    changes.writes.push(Write::WithdrawMailTo {
        to: member.email.clone(),
    });
    let rewritten = rewrite_into(&mut changes, &person, &pseudonym, mentions);
    changes.writes.push(Write::Pseudonymize {
        user: person.user,
        pseudonym: pseudonym.user,
    });
    changes.events.push(ctx.event(
        organization.id,
        EventKind::MemberErased {
            user: pseudonym.user,
        },
    ));
    Ok(Decision {
        outcome: Erased {
            member,
            pseudonym,
            rewritten,
        },
        changes,
    })
}

/// Decides rewriting, after an erasure, the rows of `mentions` that still name `person`:
/// written while the erasure read (by a command of theirs it then refused, or a delivery
/// pass recording a failure), they get the same `pseudonym` (spec: USR-5). How many rows.
pub(crate) fn rewrite(
    organization: &Organization,
    person: &Person,
    pseudonym: &Person,
    mentions: Mentions,
) -> Decision<usize> {
    let mut changes = ChangeSet::new(organization.id, OrganizationWrite::Untouched);
    let rewritten = rewrite_into(&mut changes, person, pseudonym, mentions);
    Decision {
        outcome: rewritten,
        changes,
    }
}

/// Adds to `changes` the rewrite of every row of `mentions` naming `person`; how many.
fn rewrite_into(
    changes: &mut ChangeSet,
    person: &Person,
    pseudonym: &Person,
    mentions: Mentions,
) -> usize {
    let sent = sent_by(person, &mentions.invitations);
    let before = changes.writes.len();
    for mut invitation in mentions.invitations {
        let to_them = invitation.email.key() == person.email.key();
        if to_them {
            invitation.email = pseudonym.email.clone();
            invitation.invitee = invitation.invitee.map(|_| pseudonym.profile.clone());
            // The host's metadata of an invitation to them may be about them too.
            invitation.metadata = None;
        }
        let by_them = person.user_in(&mut invitation.invited_by, Some(pseudonym));
        let closed = match &mut invitation.closed_by {
            Some(user) => person.user_in(user, Some(pseudonym)),
            None => false,
        };
        if to_them | by_them | closed {
            changes.writes.push(Write::RewriteInvitation(invitation));
        }
    }
    for mut event in mentions.events {
        if person.erased_in_event(&mut event, Some(pseudonym)) {
            changes.writes.push(Write::RewriteEvent(event));
        }
    }
    for mut mail in mentions.mail {
        if person.erased_in_mail(&mut mail, &sent, Some(pseudonym)) {
            changes.writes.push(Write::RewriteMail(mail));
        }
    }
    changes.writes.len() - before
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::domain::{
        ids::{EventId, MemberId, OrganizationId},
        role::RoleSet,
    };

    fn zoe() -> Member {
        Member {
            id: MemberId::new(),
            organization: OrganizationId::new(),
            user: UserId::new(),
            email: EmailAddress::parse("Zoe@Example.com").unwrap(),
            profile: Profile::parse("Zoe", "Quill").unwrap(),
            roles: RoleSet::learner(),
            joined_at: DateTime::UNIX_EPOCH,
            invitation: None,
            deactivated_at: None,
            metadata: None,
            version: 1,
        }
    }

    fn event(member: &Member, actor: EventActor, kind: EventKind) -> Event {
        Event {
            id: EventId::new(),
            organization: member.organization,
            at: DateTime::UNIX_EPOCH,
            actor,
            kind,
        }
    }

    #[test]
    fn an_event_names_a_person_by_user_id_or_address_in_any_case() {
        // spec: USR-5
        let zoe = zoe();
        let person = Person::of(&zoe);
        let pseudonym = pseudonym(uuid::Uuid::now_v7()).unwrap();
        let shouted = EmailAddress::parse("ZOE@EXAMPLE.COM").unwrap();
        let mut by_address = event(
            &zoe,
            EventActor::Invitee {
                email: shouted.clone(),
            },
            EventKind::MailFailed {
                outbox: crate::domain::ids::OutboxId::new(),
                to: shouted,
                reason: "550 <Zoe@EXAMPLE.com>: mailbox unavailable".to_owned(),
            },
        );
        assert!(person.in_event(&by_address));
        assert!(person.erased_in_event(&mut by_address, Some(&pseudonym)));
        assert!(!person.in_event(&by_address), "nothing of her is left");
        assert!(
            matches!(&by_address.kind, EventKind::MailFailed { to, .. } if *to == pseudonym.email)
        );
        let EventKind::MailFailed { reason, .. } = &by_address.kind else {
            unreachable!("a MailFailed event")
        };
        assert_eq!(
            *reason,
            format!("550 <{}>: mailbox unavailable", pseudonym.email),
            "the server's reply repeated the address"
        );

        let mut by_user = event(
            &zoe,
            EventActor::System,
            EventKind::ProfileUpdated { user: zoe.user },
        );
        assert!(person.erased_in_event(&mut by_user, Some(&pseudonym)));
        assert!(
            matches!(by_user.kind, EventKind::ProfileUpdated { user } if user == pseudonym.user)
        );

        let someone_else = event(
            &zoe,
            EventActor::User {
                user: UserId::new(),
            },
            EventKind::TeamPageUpdated {
                team: crate::domain::ids::TeamId::new(),
            },
        );
        assert!(!person.in_event(&someone_else));
    }

    #[test]
    fn the_pseudonym_is_undeliverable_and_fresh() {
        // spec: USR-5 — RFC 2606 reserves `.invalid`: mail to it can never be delivered.
        let id = uuid::Uuid::now_v7();
        let p = pseudonym(id).unwrap();
        assert!(p.email.as_str().ends_with("@erased.invalid"));
        assert_eq!(p.user.as_uuid(), id);
        assert_ne!(pseudonym(uuid::Uuid::now_v7()).unwrap().email, p.email);
    }
}
