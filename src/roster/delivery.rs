//! Mail delivery: passes that claim queued mail, send it and record what became of it, the
//! ready-made delivery loop, the mail given up and retrying it (spec: INV-9, MSG-2, MSG-3,
//! INV-13).

use chrono::Duration;

use super::{Actor, Listing, Roster, listing};
use crate::{
    domain::{
        delivery::{
            Jitter, Retries, Sent, dead_link, fits_in_lease, given_up, link_refusal, settle,
        },
        email::EmailAddress,
        event::EventActor,
        ids::{ClaimId, OrganizationId, OutboxId},
        outbox::{self, MailContent, OutboxMessage, Settlement},
    },
    error::{EntityKind, Error, Result},
    policy::{Permission, Scope},
    store::{MemberFilter, Page},
};

/// How mail delivery retries and gives up (spec: INV-9, MSG-2).
///
/// The durations are brought within bounds when the roster is built: the lease within 1
/// second to 1 day, the send budget within 0 to half the lease, the base backoff within 0 to 1 day, the longest backoff within 0 to 30
/// days (spec: ERR-1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryConfig {
    /// How long a claimed row is reserved for one delivery pass.
    pub lease: Duration,
    /// The longest one send may take. A pass starts sending a row only while more than this
    /// is left of its lease, and puts the rest back when it is not, so no other pass
    /// can claim a row while it is being sent (spec: MSG-3). Mailers must give up on a send
    /// within it (`SmtpMailer`'s timeout).
    pub send_budget: Duration,
    /// Attempts before a mail is marked failed.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles on each further one.
    pub base_backoff: Duration,
    /// The longest delay between retries.
    pub max_backoff: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            lease: Duration::minutes(5),
            send_budget: Duration::seconds(60),
            max_attempts: 8,
            base_backoff: Duration::seconds(30),
            max_backoff: Duration::hours(2),
        }
    }
}

impl DeliveryConfig {
    /// With a lease of `lease` on each claimed row.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// With `budget` as the longest one send may take.
    pub fn with_send_budget(mut self, budget: Duration) -> Self {
        self.send_budget = budget;
        self
    }

    /// With `attempts` before a mail is marked failed.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// With retries after `base`, doubling up to `max`.
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_backoff = base;
        self.max_backoff = max;
        self
    }

    /// Within the bounds above, so that no deadline computed from them overflows.
    /// How failed mail is retried, for the core's decision.
    fn retries(&self) -> Retries {
        Retries {
            max_attempts: self.max_attempts,
            base_backoff: self.base_backoff,
            max_backoff: self.max_backoff,
        }
    }

    pub(super) fn bounded(self) -> Self {
        let lease = self.lease.clamp(Duration::seconds(1), Duration::days(1));
        Self {
            lease,
            // A budget as long as the lease would release every row unsent.
            send_budget: self.send_budget.clamp(Duration::zero(), lease / 2),
            max_attempts: self.max_attempts,
            base_backoff: self.base_backoff.clamp(Duration::zero(), Duration::days(1)),
            max_backoff: self.max_backoff.clamp(Duration::zero(), Duration::days(30)),
        }
    }
}

/// What one delivery pass did (spec: INV-9, MSG-2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// Mail accepted by the transport.
    pub sent: u64,
    /// Mail put back for a later attempt.
    pub retried: u64,
    /// Mail given up, with the reason recorded.
    pub failed: u64,
    /// Mail claimed but not attempted, put back at once: the pass was asked to stop, or too
    /// little of its lease was left (spec: MSG-3).
    pub released: u64,
    /// Mail whose row this pass no longer held when it came to record the outcome: its
    /// lease ran out and another pass claimed it, or it was withdrawn with its invitation
    /// (spec: MSG-3, INV-13).
    pub lost_claims: u64,
}

impl Roster {
    /// Mail that was given up, with the reason, for administrators (spec: MSG-2: nothing is
    /// dropped silently).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn failed_mail(
        &self,
        actor: &Actor,
        org: OrganizationId,
        page: Page,
    ) -> Result<Listing<OutboxMessage>> {
        self.access(org, actor, Permission::ViewAuditTrail, Scope::Organization)
            .await?;
        let rows = self.store.failed_outbox(org, page).await?;
        Ok(listing(rows, page, |m: &OutboxMessage| m.id.as_uuid()))
    }

    /// Queues again an email that was given up, for an administrator who fixed its cause (a
    /// mailbox that was full, an address corrected at the provider): it is due at once, its
    /// attempts counted from zero, and the reason it had failed stays in the audit trail
    /// (spec: MSG-3). An invitation's email is retried only while its link still opens the
    /// invitation: one whose invitation was answered, revoked, resent or has expired is
    /// refused, with what to do instead.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`] (no such email in the organization),
    /// [`Error::MailNotRetriable`], [`Error::Conflict`], [`Error::Store`].
    pub async fn retry_mail(
        &self,
        actor: &Actor,
        org: OrganizationId,
        mail: OutboxId,
    ) -> Result<OutboxMessage> {
        self.run(|now| async move {
            let access = self
                .access(org, actor, Permission::RetryMail, Scope::Organization)
                .await?;
            let message = self
                .store
                .outbox_message(org, mail)
                .await?
                .ok_or(Error::NotFound {
                    entity: EntityKind::OutboxMessage,
                })?;
            let refusal = match &message.content {
                MailContent::Invitation {
                    invitation,
                    generation,
                    ..
                } => {
                    let stored = self.store.invitation(org, *invitation).await?;
                    let token = self.link_key.token(*invitation, *generation);
                    dead_link(stored.as_ref(), &token, now).map(str::to_owned)
                }
                // A deactivated member receives nothing, failed mail included (spec: MEM-2).
                MailContent::Message { .. } | MailContent::Notification { .. } => self
                    .deactivated_recipient(org, &message.to)
                    .await?
                    .then(|| {
                        "its recipient's membership is deactivated; reactivate them first"
                            .to_owned()
                    }),
            };
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                outbox::retry(ctx, &access.organization, message, refusal)
            })?)
        })
        .await
    }

    /// Whether `to` is the address of a deactivated member of `org`: deactivated members are
    /// few, and read a page at a time.
    async fn deactivated_recipient(&self, org: OrganizationId, to: &EmailAddress) -> Result<bool> {
        let filter = MemberFilter::default().deactivated();
        let mut page = Page::first(Page::MAX_LIMIT);
        loop {
            let rows = self.store.members(org, filter, page).await?;
            if rows.iter().any(|m| m.email.key() == to.key()) {
                return Ok(true);
            }
            match rows.last() {
                Some(last) if rows.len() >= page.len() => page = Page::after(last.id, page.limit),
                _ => return Ok(false),
            }
        }
    }

    /// One delivery pass: claims up to `limit` due mails with a lease, sends them, marks them
    /// sent; retries transient failures later with exponential backoff and jitter; records
    /// permanent failures, and those out of attempts, as failed with their reason and an
    /// audit event (spec: INV-9, MSG-2). Run it on a timer; several instances may run it at
    /// once: a mail is sent only while the pass's claim holds it with more than
    /// [`DeliveryConfig::send_budget`] of its lease left, and only that claim can record its
    /// outcome, so two passes never both send one mail (spec: MSG-3). An invitation's link is
    /// derived again from the link key, and checked against the invitation as stored just
    /// before the mail is rendered: a mail whose link no longer opens it (or has expired) is
    /// given up with the reason (spec: INV-6, INV-13). An invitation changed between that
    /// check and the send cannot stop the mail under way; the pass counts it in
    /// [`DeliveryReport::lost_claims`].
    ///
    /// # Errors
    /// [`Error::Store`] when the outbox cannot be read or updated; a mail whose status could
    /// not be recorded is sent again later (at least once).
    pub async fn deliver_mail(&self, limit: usize) -> Result<DeliveryReport> {
        self.delivery_pass(limit, &mut || false).await
    }

    /// [`Roster::deliver_mail`], stopping between two mails once `stop` says so.
    async fn delivery_pass(
        &self,
        limit: usize,
        stop: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<DeliveryReport> {
        let claim = ClaimId::new();
        let claimed = self
            .store
            .claim_outbox(claim, self.now(), self.config.delivery.lease, limit)
            .await?;
        let mut report = DeliveryReport::default();
        let mut rows = claimed.into_iter().peekable();
        let sent = self.send_claimed(claim, &mut rows, stop, &mut report).await;
        // Whatever ended the pass (a stop, too little lease left, a store error), the rows it
        // did not start go back at once rather than wait out their lease.
        for unsent in rows {
            let released = Settlement::Released;
            match self.store.settle_outbox(claim, unsent.id, released).await {
                Ok(held) => report.count(held, &Settlement::Released),
                Err(e) if sent.is_ok() => return Err(e.into()),
                Err(_) => break,
            }
        }
        sent.map(|()| report)
    }

    /// Sends the claimed `rows` one by one, recording each, until they run out, `stop` says
    /// so, or too little of the lease is left; what it did not start stays in `rows`.
    async fn send_claimed(
        &self,
        claim: ClaimId,
        rows: &mut std::iter::Peekable<std::vec::IntoIter<OutboxMessage>>,
        stop: &mut (dyn FnMut() -> bool + Send),
        report: &mut DeliveryReport,
    ) -> Result<()> {
        while let Some(next) = rows.peek() {
            if stop() {
                return Ok(());
            }
            let Some(settlement) = self.send_one(next).await? else {
                return Ok(());
            };
            let Some(message) = rows.next() else {
                return Ok(());
            };
            let held = self
                .store
                .settle_outbox(claim, message.id, settlement.clone())
                .await?;
            report.count(held, &settlement);
            if let (true, Settlement::Failed { error }) = (held, settlement) {
                let changes = self.decide(self.now(), EventActor::System, |ctx| {
                    given_up(ctx, &message, error)
                });
                self.store.commit(changes).await?;
            }
        }
        Ok(())
    }

    /// Renders and sends one claimed mail: what to record of it, or `None`, unsent, when no
    /// more than [`DeliveryConfig::send_budget`] is left of its lease (spec: MSG-3).
    async fn send_one(&self, message: &OutboxMessage) -> Result<Option<Settlement>> {
        let delivery = &self.config.delivery;
        let link = match &message.content {
            MailContent::Invitation {
                invitation,
                generation,
                ..
            } => {
                // The link is derived again, and checked against the invitation as stored
                // now (spec: INV-6, INV-13).
                let stored = self
                    .store
                    .invitation(message.organization, *invitation)
                    .await?;
                let token = self.link_key.token(*invitation, *generation);
                if let Some(refusal) = link_refusal(stored.as_ref(), &token, self.now()) {
                    return Ok(Some(refusal));
                }
                Some(token)
            }
            _ => None,
        };
        let email = self
            .templates
            .render(message, link.as_ref(), &self.config.mail);
        // Checked last, just before the send: all the send may take must fit in the lease.
        if !fits_in_lease(message.lease_until, self.now(), delivery.send_budget) {
            return Ok(None);
        }
        let sent = match self.mailer.send(&email).await {
            Ok(()) => Sent::Accepted,
            Err(e) => Sent::Refused {
                transient: e.is_transient(),
                reason: e.to_string(),
            },
        };
        let retries = delivery.retries();
        Ok(Some(settle(
            message.attempts,
            sent,
            &retries,
            self.now(),
            jitter(),
        )))
    }
}

impl DeliveryReport {
    /// Counts one mail as `settled`, or as a lost claim when the pass no longer `held` it.
    fn count(&mut self, held: bool, settled: &Settlement) {
        let counter = match (held, settled) {
            (false, _) => &mut self.lost_claims,
            (true, Settlement::Sent) => &mut self.sent,
            (true, Settlement::Retry { .. }) => &mut self.retried,
            (true, Settlement::Released) => &mut self.released,
            (true, Settlement::Failed { .. }) => &mut self.failed,
        };
        *counter += 1;
    }
}

/// Settings of [`Roster::run_delivery`].
#[cfg(feature = "runtime-tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime-tokio")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryLoop {
    /// Mails claimed per pass.
    pub batch: usize,
    /// The pause after a pass that found less than a full batch.
    pub interval: std::time::Duration,
}

#[cfg(feature = "runtime-tokio")]
impl Default for DeliveryLoop {
    fn default() -> Self {
        Self {
            batch: 100,
            interval: std::time::Duration::from_secs(5),
        }
    }
}

/// What [`Roster::run_delivery`] did before it stopped.
#[cfg(feature = "runtime-tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime-tokio")))]
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DeliveryTotals {
    /// All passes added up.
    pub delivered: DeliveryReport,
    /// Passes that failed because the store did (the loop went on after a pause).
    pub store_errors: u64,
    /// The last of those errors.
    pub last_error: Option<Error>,
}

#[cfg(feature = "runtime-tokio")]
impl Roster {
    /// The ready-made delivery worker: runs [`Roster::deliver_mail`] pass after pass — at
    /// once while passes come back full, otherwise every `interval` — until `shutdown`
    /// completes. Shutdown is graceful and prompt: it is looked at between two mails, so the
    /// loop returns once the mail under way is sent and recorded, and the mails its pass
    /// claimed but did not start go back in the queue at once; a mail claimed by a worker
    /// that died is claimed again once its lease runs out (spec: INV-9, MSG-3). A failing
    /// store does not stop the loop: it pauses and tries again.
    ///
    /// Spawn it in every instance of your service; claims keep instances from sending the
    /// same mail (spec: MSG-3).
    ///
    /// ```no_run
    /// # async fn run(roster: orgroster::Roster) {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let worker = tokio::spawn({
    ///     let roster = roster.clone();
    ///     async move { roster.run_delivery(Default::default(), async { let _ = stopped.await; }).await }
    /// });
    /// // … on shutdown:
    /// let _ = stop.send(());
    /// let totals = worker.await;
    /// # }
    /// ```
    pub async fn run_delivery(
        &self,
        settings: DeliveryLoop,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> DeliveryTotals {
        let mut totals = DeliveryTotals::default();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stopping = false;
        loop {
            // Looked at between two mails, so a long pass stops after the mail under way.
            let mut stop = || {
                if !stopping {
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    stopping = shutdown.as_mut().poll(&mut cx).is_ready();
                }
                stopping
            };
            let full = match self.delivery_pass(settings.batch, &mut stop).await {
                Ok(pass) => {
                    let DeliveryReport {
                        sent,
                        retried,
                        failed,
                        released,
                        lost_claims,
                    } = pass;
                    let total = &mut totals.delivered;
                    total.sent += sent;
                    total.retried += retried;
                    total.failed += failed;
                    total.released += released;
                    total.lost_claims += lost_claims;
                    sent + retried + failed >= settings.batch as u64
                }
                Err(e) => {
                    totals.store_errors += 1;
                    totals.last_error = Some(e);
                    false
                }
            };
            if stopping {
                // The shutdown future has completed: it must not be polled again.
                return totals;
            }
            let pause = if full {
                std::time::Duration::ZERO
            } else {
                settings.interval
            };
            tokio::select! {
                biased;
                () = &mut shutdown => return totals,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// A spread for a retry's backoff, from the operating system's random numbers; none when they
/// fail, since a retry without spread is still a retry.
fn jitter() -> Jitter {
    let mut random = [0u8; 2];
    match getrandom::fill(&mut random) {
        Ok(()) => Jitter::from_random(u16::from_le_bytes(random)),
        Err(_) => Jitter::NONE,
    }
}
