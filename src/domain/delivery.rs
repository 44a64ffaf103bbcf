//! What a delivery pass decides about each mail it claimed (spec: INV-9, MSG-2, MSG-3,
//! INV-13): whether an invitation's mail may still go out, whether its send still fits in
//! the claim's lease, and after the send what to record: sent, retried after a backoff, or
//! given up with the reason. The shell reads, renders and sends; these functions decide.

use chrono::{DateTime, Duration, Utc};

use super::{
    changes::{ChangeSet, Context, OrganizationWrite},
    event::EventKind,
    invitation::{Invitation, InvitationStatus},
    outbox::{OutboxMessage, Settlement},
    token::InvitationToken,
};

/// How failed mail is retried (spec: MSG-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retries {
    /// Attempts before a mail is given up.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles on each further one.
    pub base_backoff: Duration,
    /// The longest delay between retries.
    pub max_backoff: Duration,
}

/// A spread of up to ±20% on a backoff, so that instances whose sends failed together do not
/// retry together. The shell draws it; the core draws nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Jitter {
    /// Within -200..=200 thousandths.
    per_mille: i64,
}

impl Jitter {
    /// No spread.
    pub(crate) const NONE: Self = Self { per_mille: 0 };

    /// The spread that a uniformly `random` number picks: -20% to +20%, in steps of 0.1%.
    pub(crate) fn from_random(random: u16) -> Self {
        Self {
            per_mille: i64::from(random % 401) - 200,
        }
    }
}

/// What the mail transport said of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    /// It took the mail.
    Accepted,
    /// It refused the mail; a `transient` refusal may succeed later.
    Refused {
        /// Whether trying again later may succeed.
        transient: bool,
        /// The transport's reason.
        reason: String,
    },
}

/// What to record instead of sending an invitation's mail whose link, derived again as
/// `token`, no longer opens the `invitation` as stored at `now`: such mail is given up with
/// the reason of [`dead_link`] (spec: INV-6, INV-13). `None`: the mail may go out.
pub(crate) fn link_refusal(
    invitation: Option<&Invitation>,
    token: &InvitationToken,
    now: DateTime<Utc>,
) -> Option<Settlement> {
    dead_link(invitation, token, now).map(|reason| Settlement::Failed {
        error: reason.to_owned(),
    })
}

/// Why a link derived as `token` no longer opens the `invitation` as stored at `now`: it is
/// gone, answered or revoked, expired, or was resent since (or the link key changed).
/// `None`: the link works.
pub(crate) fn dead_link(
    invitation: Option<&Invitation>,
    token: &InvitationToken,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    Some(match invitation {
        None => "the invitation no longer exists",
        Some(i) if i.status != InvitationStatus::Pending => {
            "the invitation is no longer pending: its link would not work"
        }
        Some(i) if i.is_expired(now) => {
            "the invitation expired before its mail could be sent: resend the invitation"
        }
        Some(i) if !i.token_hash.verify(token) => {
            "the link in this mail does not open the invitation (it was resent, or the link \
             key changed since it was sent): resend the invitation"
        }
        Some(_) => return None,
    })
}

/// Whether a mail whose claim lasts until `lease_until` may still be sent at `now`: all a
/// send may take, `send_budget`, must fit in what is left of the lease, so that no other pass
/// can claim the mail while it is being sent (spec: MSG-3). A mail it does not fit goes back
/// unsent.
pub(crate) fn fits_in_lease(
    lease_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    send_budget: Duration,
) -> bool {
    lease_until.is_some_and(|until| until - now > send_budget)
}

/// What to record of a mail after its attempt number `attempts` was `sent` at `now`
/// (spec: INV-9, MSG-2): sent; after a transient refusal, retried once its backoff has
/// passed while attempts are left, otherwise given up saying after how many; after a
/// permanent refusal, given up with the transport's reason.
pub(crate) fn settle(
    attempts: u32,
    sent: Sent,
    retries: &Retries,
    now: DateTime<Utc>,
    jitter: Jitter,
) -> Settlement {
    match sent {
        Sent::Accepted => Settlement::Sent,
        Sent::Refused {
            transient: true,
            reason,
        } if attempts < retries.max_attempts => Settlement::Retry {
            not_before: now + backoff(retries, attempts, jitter),
            error: reason,
        },
        Sent::Refused {
            transient: true,
            reason,
        } => Settlement::Failed {
            error: format!("gave up after {attempts} attempts: {reason}"),
        },
        Sent::Refused {
            transient: false,
            reason,
        } => Settlement::Failed { error: reason },
    }
}

/// The delay after attempt number `attempts`: `base_backoff * 2^(attempts - 1)`, at most
/// `max_backoff`, spread by `jitter` (spec: MSG-2).
pub(crate) fn backoff(retries: &Retries, attempts: u32, jitter: Jitter) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let raw = retries
        .base_backoff
        .num_milliseconds()
        .saturating_mul(1_i64 << exp);
    let capped = raw.min(retries.max_backoff.num_milliseconds()).max(0);
    Duration::milliseconds(capped + capped * jitter.per_mille / 1000)
}

/// What records that `message` was given up with `reason`: an audit event, so that no mail is
/// dropped silently (spec: MSG-2).
pub(crate) fn given_up(
    ctx: &mut Context<'_>,
    message: &OutboxMessage,
    reason: String,
) -> ChangeSet {
    let mut changes = ChangeSet::new(message.organization, OrganizationWrite::Untouched);
    let failed = EventKind::MailFailed {
        outbox: message.id,
        to: message.to.clone(),
        reason,
    };
    changes.events.push(ctx.event(message.organization, failed));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        email::EmailAddress,
        ids::{InvitationId, OrganizationId, UserId},
        role::Role,
    };

    const RETRIES: Retries = Retries {
        max_attempts: 8,
        base_backoff: Duration::seconds(30),
        max_backoff: Duration::hours(2),
    };

    fn refused(transient: bool) -> Sent {
        Sent::Refused {
            transient,
            reason: "421 try later".to_owned(),
        }
    }

    #[test]
    fn the_backoff_doubles_from_the_base_up_to_the_longest() {
        // spec: MSG-2
        let delay = |attempts| backoff(&RETRIES, attempts, Jitter::NONE).num_seconds();
        assert_eq!(delay(0), 30);
        assert_eq!(delay(1), 30);
        assert_eq!(delay(2), 60);
        assert_eq!(delay(3), 120);
        assert_eq!(delay(9), 7_200);
        assert_eq!(delay(u32::MAX), 7_200);
    }

    #[test]
    fn jitter_spreads_a_backoff_by_at_most_a_fifth_either_way() {
        // spec: MSG-2 — instances that failed together do not retry together.
        let delay = |random| backoff(&RETRIES, 2, Jitter::from_random(random)).num_seconds();
        assert_eq!(delay(0), 48);
        assert_eq!(delay(200), 60);
        assert_eq!(delay(400), 72);
        assert_eq!(delay(401), 48);
        assert!((48..=72).contains(&delay(u16::MAX)));
    }

    #[test]
    fn a_transient_refusal_is_retried_after_its_backoff_while_attempts_are_left() {
        // spec: MSG-2, INV-9
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            settle(3, refused(true), &RETRIES, now, Jitter::NONE),
            Settlement::Retry {
                not_before: now + Duration::seconds(120),
                error: "421 try later".to_owned(),
            }
        );
        assert_eq!(
            settle(8, refused(true), &RETRIES, now, Jitter::NONE),
            Settlement::Failed {
                error: "gave up after 8 attempts: 421 try later".to_owned(),
            }
        );
    }

    #[test]
    fn a_permanent_refusal_is_given_up_at_once_and_an_accepted_mail_is_sent() {
        // spec: MSG-2
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            settle(1, refused(false), &RETRIES, now, Jitter::NONE),
            Settlement::Failed {
                error: "421 try later".to_owned(),
            }
        );
        assert_eq!(
            settle(1, Sent::Accepted, &RETRIES, now, Jitter::NONE),
            Settlement::Sent
        );
    }

    #[test]
    fn a_mail_is_sent_only_while_more_than_the_send_budget_is_left_of_its_lease() {
        // spec: MSG-3
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let budget = Duration::seconds(60);
        assert!(fits_in_lease(
            Some(now + Duration::seconds(61)),
            now,
            budget
        ));
        assert!(!fits_in_lease(
            Some(now + Duration::seconds(60)),
            now,
            budget
        ));
        assert!(!fits_in_lease(Some(now), now, budget));
        assert!(!fits_in_lease(None, now, budget));
    }

    #[test]
    fn an_invitations_mail_goes_out_only_while_its_link_opens_the_invitation() {
        // spec: INV-6, INV-13
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1);
        let token = InvitationToken::from_bytes([7; 32]);
        let invitation = Invitation {
            id: InvitationId::new(),
            organization: OrganizationId::new(),
            email: EmailAddress::parse("bob@example.com").unwrap(),
            invitee: None,
            role: Role::Member,
            team: None,
            status: InvitationStatus::Pending,
            token_hash: token.hash(),
            invited_by: UserId::new(),
            created_at: now,
            sent_at: now,
            expires_at: now + Duration::days(10),
            resend_count: 0,
            closed_at: None,
            closed_by: None,
            lifetime: None,
            metadata: None,
            version: 1,
        };
        let reason =
            |invitation: Option<&Invitation>, token: &InvitationToken, now| match link_refusal(
                invitation, token, now,
            ) {
                Some(Settlement::Failed { error }) => Some(error),
                other => other.map(|s| format!("{s:?}")),
            };
        assert_eq!(reason(Some(&invitation), &token, now), None);
        assert!(reason(None, &token, now).is_some_and(|r| r.contains("no longer exists")));
        let later = invitation.expires_at;
        assert!(reason(Some(&invitation), &token, later).is_some_and(|r| r.contains("expired")));
        let other = InvitationToken::from_bytes([8; 32]);
        assert!(reason(Some(&invitation), &other, now).is_some_and(|r| r.contains("resent")));
        let revoked = Invitation {
            status: InvitationStatus::Revoked,
            ..invitation
        };
        assert!(reason(Some(&revoked), &token, now).is_some_and(|r| r.contains("pending")));
    }
}
