//! The `Mailer` port, the mail as it leaves the outbox, and its rendering (spec: INV-9, MSG-2).

mod recording;

use std::fmt::Write as _;

pub use self::recording::{FailingMailer, RecordingMailer};
use crate::{
    domain::{email::EmailAddress, outbox::MailContent, outbox::OutboxMessage},
    error::BoxError,
};

/// One email, rendered and ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// A stable `Message-ID` derived from the outbox row, so that a resend after a crash can
    /// be recognised downstream (delivery is at least once).
    pub message_id: String,
    /// The recipient.
    pub to: EmailAddress,
    /// The subject line; never holds CR or LF.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// Worth retrying later: connection refused, timeout, a 4xx reply.
    #[error("temporary mail failure: {reason}")]
    Transient {
        /// What happened.
        reason: String,
        /// The transport's error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// Retrying will not help: a 5xx reply, an invalid recipient.
    #[error("permanent mail failure: {reason}")]
    Permanent {
        /// What happened.
        reason: String,
        /// The transport's error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl MailError {
    /// A transient failure with a reason.
    pub fn transient(reason: impl Into<String>) -> Self {
        Self::Transient {
            reason: reason.into(),
            source: None,
        }
    }

    /// A permanent failure with a reason.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
            source: None,
        }
    }

    /// Whether retrying may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// Sends email. Delivery is at least once: the same [`OutgoingEmail::message_id`] may be
/// sent again after a crash, so implementations should pass it on to the transport.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug + 'static {
    /// Sends one email.
    ///
    /// # Errors
    /// [`MailError::Transient`] to be retried, [`MailError::Permanent`] to be given up.
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;
}

#[async_trait::async_trait]
impl<M: Mailer + ?Sized> Mailer for std::sync::Arc<M> {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        (**self).send(email).await
    }
}

/// Where links in mail point and how mail is identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The acceptance link is this followed by the token, for example
    /// `https://learn.example.com/invitations/`.
    pub accept_url: String,
    /// The domain part of `Message-ID`s, for example `learn.example.com`.
    pub message_id_domain: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            accept_url: "https://learning.example/invitations/".to_owned(),
            message_id_domain: "orgroster.invalid".to_owned(),
        }
    }
}

/// Turns an outbox row into an [`OutgoingEmail`]. Hosts replace it to use their own wording.
pub trait MailTemplates: Send + Sync + std::fmt::Debug + 'static {
    /// Renders `message`. The invitation token, when the row has one, goes into the link.
    fn render(&self, message: &OutboxMessage, settings: &MailSettings) -> OutgoingEmail;
}

/// Plain, clear wording in English.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultTemplates;

impl MailTemplates for DefaultTemplates {
    fn render(&self, message: &OutboxMessage, settings: &MailSettings) -> OutgoingEmail {
        let mut text = String::new();
        let subject = match &message.content {
            MailContent::Invitation {
                organization,
                inviter,
                invitee,
                role,
                team,
                expires_at,
                resend,
                ..
            } => {
                let greeting = invitee
                    .as_ref()
                    .map_or_else(|| "Hello".to_owned(), |p| format!("Hello {}", p.first_name));
                let _ = writeln!(text, "{greeting},\n");
                let _ = write!(
                    text,
                    "{} invites you to join {organization} as {}",
                    inviter.full_name(),
                    article(role.to_string().as_str())
                );
                match team {
                    Some(team) => {
                        let _ = writeln!(text, " in the team {team}.");
                    }
                    None => text.push_str(".\n"),
                }
                if *resend {
                    text.push_str(
                        "This link replaces the one sent before, which no longer works.\n",
                    );
                }
                let link = message.secret.as_ref().map_or_else(
                    || "(the link was already delivered)".to_owned(),
                    |t| format!("{}{}", settings.accept_url, t.expose()),
                );
                let _ = writeln!(text, "\nAccept or decline: {link}");
                let _ = writeln!(
                    text,
                    "The link works until {}.",
                    expires_at.format("%Y-%m-%d %H:%M UTC")
                );
                text.push_str(
                    "\nIf you were not expecting this invitation, you can ignore this email: nothing happens unless you accept.\n",
                );
                format!("Invitation to join {organization}")
            }
            MailContent::Message {
                organization,
                from,
                team,
                subject,
                body,
            } => {
                let _ = writeln!(text, "{body}\n");
                let _ = match team {
                    Some(team) => writeln!(
                        text,
                        "-- {} for the team {team}, {organization}",
                        from.full_name()
                    ),
                    None => writeln!(text, "-- {}, {organization}", from.full_name()),
                };
                subject.to_string()
            }
            MailContent::Notification {
                organization,
                subject,
                body,
            } => {
                let _ = writeln!(text, "{body}\n");
                let _ = writeln!(
                    text,
                    "-- automated notification for the administrators of {organization}"
                );
                subject.to_string()
            }
        };
        OutgoingEmail {
            message_id: format!("<{}@{}>", message.id, settings.message_id_domain),
            to: message.to.clone(),
            subject,
            text,
        }
    }
}

fn article(noun: &str) -> String {
    let vowel = noun
        .chars()
        .next()
        .is_some_and(|c| "AEIOUaeiou".contains(c));
    format!("{} {noun}", if vowel { "an" } else { "a" })
}
