//! The `Mailer` port, the mail as it leaves the outbox, and its rendering (spec: INV-9, MSG-2).

mod recording;
#[cfg(feature = "smtp")]
mod smtp;

use std::fmt::Write as _;

pub use self::recording::{FailingMailer, RecordingMailer};
#[cfg(feature = "smtp")]
#[cfg_attr(docsrs, doc(cfg(feature = "smtp")))]
pub use self::smtp::{SmtpConfig, SmtpConfigError, SmtpMailer, SmtpSecurity};
use crate::{
    domain::{
        email::EmailAddress, outbox::MailContent, outbox::OutboxMessage, token::InvitationToken,
    },
    error::BoxError,
};

/// One email, rendered and ready for a transport.
///
/// `Debug` shows the message id, recipient and subject, and only the length of each body:
/// an invitation's bodies hold its acceptance link (spec: INV-6).
#[derive(Clone, PartialEq, Eq)]
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
    /// The HTML alternative of the same content.
    pub html: String,
}

impl std::fmt::Debug for OutgoingEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("message_id", &self.message_id)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &elided(&self.text))
            .field("html", &elided(&self.html))
            .finish()
    }
}

/// What `Debug` prints in place of text that may hold a link: its length.
struct Elided(usize);

impl std::fmt::Debug for Elided {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes elided>", self.0)
    }
}

fn elided(text: &str) -> Elided {
    Elided(text.len())
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
#[non_exhaustive]
pub struct MailSettings {
    /// The acceptance link is this followed by the token, for example
    /// `https://learn.example.com/invitations/`.
    pub accept_url: String,
    /// The domain part of `Message-ID`s, for example `learn.example.com`.
    pub message_id_domain: String,
}

impl MailSettings {
    /// Links that start with `accept_url` (the token follows), and `Message-ID`s in
    /// `message_id_domain`.
    pub fn new(accept_url: impl Into<String>, message_id_domain: impl Into<String>) -> Self {
        Self {
            accept_url: accept_url.into(),
            message_id_domain: message_id_domain.into(),
        }
    }
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
    /// Renders `message`. `link` is the token of an invitation's email, derived again from
    /// the host's link key at delivery (the outbox never holds it, spec: INV-6): it goes
    /// into the acceptance link.
    fn render(
        &self,
        message: &OutboxMessage,
        link: Option<&InvitationToken>,
        settings: &MailSettings,
    ) -> OutgoingEmail;
}

/// Plain, clear wording in English, as text and HTML alternatives of the same content.
///
/// Every value that came from a person (names, team names, messages) is escaped in the HTML
/// part; none can reach a header but the subject, whose type cannot hold CR or LF (spec:
/// ERR-3), and the recipient, an [`EmailAddress`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultTemplates;

/// What a mail says, before it is laid out as text or HTML.
///
/// `Debug` shows the action's label and only the length of its link, which may open an
/// invitation (spec: INV-6).
#[derive(Clone, PartialEq, Eq)]
pub struct MailParts {
    /// The subject line.
    pub subject: String,
    /// The opening line.
    pub greeting: String,
    /// The paragraphs of the body.
    pub paragraphs: Vec<String>,
    /// A button: its label and link.
    pub action: Option<(String, String)>,
    /// Small print at the end.
    pub footer: Vec<String>,
}

impl std::fmt::Debug for MailParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailParts")
            .field("subject", &self.subject)
            .field("greeting", &self.greeting)
            .field("paragraphs", &self.paragraphs)
            .field(
                "action",
                &self
                    .action
                    .as_ref()
                    .map(|(label, url)| (label, elided(url))),
            )
            .field("footer", &self.footer)
            .finish()
    }
}

impl MailParts {
    /// The plain-text layout.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n\n", self.greeting);
        for p in &self.paragraphs {
            let _ = write!(text, "{p}\n\n");
        }
        if let Some((label, url)) = &self.action {
            let _ = write!(text, "{label}: {url}\n\n");
        }
        for f in &self.footer {
            let _ = writeln!(text, "{f}");
        }
        text
    }

    /// The HTML layout, with every value escaped.
    pub fn to_html(&self) -> String {
        let mut html = String::from(
            "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; line-height: 1.5\">\n",
        );
        let _ = writeln!(html, "<p>{}</p>", escape(&self.greeting));
        for p in &self.paragraphs {
            let _ = writeln!(html, "<p>{}</p>", escape(p).replace('\n', "<br>"));
        }
        if let Some((label, url)) = &self.action {
            let _ = writeln!(
                html,
                "<p><a href=\"{}\" style=\"display: inline-block; padding: 10px 18px; background: #2b59c3; color: #fff; text-decoration: none; border-radius: 4px\">{}</a></p>",
                escape(url),
                escape(label)
            );
            let _ = writeln!(html, "<p style=\"font-size: small\">{}</p>", escape(url));
        }
        for f in &self.footer {
            let _ = writeln!(
                html,
                "<p style=\"font-size: small; color: #555\">{}</p>",
                escape(f)
            );
        }
        html.push_str("</body></html>\n");
        html
    }
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

impl DefaultTemplates {
    /// What `message` says, before layout, with `link` in an invitation's acceptance link.
    /// Hosts that only want other words can call this and change the parts.
    pub fn parts(
        message: &OutboxMessage,
        link: Option<&InvitationToken>,
        settings: &MailSettings,
    ) -> MailParts {
        match &message.content {
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
                let greeting = invitee.as_ref().map_or_else(
                    || "Hello,".to_owned(),
                    |p| format!("Hello {},", p.first_name),
                );
                let mut invite = format!(
                    "{} invites you to join {organization} as {}",
                    inviter.full_name(),
                    article(&role.to_string())
                );
                match team {
                    Some(team) => {
                        let _ = write!(invite, ", in the team {team}.");
                    }
                    None => invite.push('.'),
                }
                let mut paragraphs = vec![invite];
                if *resend {
                    paragraphs.push(
                        "This is a new link: the one sent before no longer works.".to_owned(),
                    );
                }
                paragraphs.push(format!(
                    "The link works until {}. You can accept or decline on the page it opens.",
                    expires_at.format("%B %-d, %Y at %H:%M UTC")
                ));
                let action = link.map(|token| {
                    (
                        "Accept or decline".to_owned(),
                        format!("{}{}", settings.accept_url, token.expose()),
                    )
                });
                let subject = if *resend {
                    format!("New invitation link: join {organization}")
                } else {
                    format!("Invitation to join {organization}")
                };
                MailParts {
                    subject,
                    greeting,
                    paragraphs,
                    action,
                    footer: vec![
                        "If you were not expecting this invitation, ignore this email: nothing happens unless you accept.".to_owned(),
                    ],
                }
            }
            MailContent::Message {
                organization,
                from,
                team,
                subject,
                body,
                ..
            } => MailParts {
                subject: subject.to_string(),
                greeting: "Hello,".to_owned(),
                paragraphs: vec![body.to_string()],
                action: None,
                footer: vec![match team {
                    Some(team) => format!(
                        "{} wrote to the team {team} of {organization}.",
                        from.full_name()
                    ),
                    None => format!("{} wrote to everyone at {organization}.", from.full_name()),
                }],
            },
            MailContent::Notification {
                organization,
                subject,
                body,
            } => MailParts {
                subject: format!("[{organization}] {subject}"),
                greeting: "Hello,".to_owned(),
                paragraphs: vec![body.to_string()],
                action: None,
                footer: vec![format!(
                    "You receive this because you are an administrator of {organization}."
                )],
            },
        }
    }
}

impl MailTemplates for DefaultTemplates {
    fn render(
        &self,
        message: &OutboxMessage,
        link: Option<&InvitationToken>,
        settings: &MailSettings,
    ) -> OutgoingEmail {
        let parts = Self::parts(message, link, settings);
        OutgoingEmail {
            message_id: format!("<{}@{}>", message.id, settings.message_id_domain),
            to: message.to.clone(),
            text: parts.to_text(),
            html: parts.to_html(),
            subject: parts.subject,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_parts_debug_shows_the_action_label_but_not_its_link() {
        // spec: INV-6
        let parts = MailParts {
            subject: "Invitation".to_owned(),
            greeting: "Hello,".to_owned(),
            paragraphs: vec!["Join us.".to_owned()],
            action: Some((
                "Accept or decline".to_owned(),
                "https://learning.example/invitations/SECRET-TOKEN".to_owned(),
            )),
            footer: Vec::new(),
        };
        for output in [format!("{parts:?}"), format!("{parts:#?}")] {
            assert!(!output.contains("SECRET-TOKEN"), "{output}");
            assert!(output.contains("Accept or decline"), "{output}");
        }
    }
}
