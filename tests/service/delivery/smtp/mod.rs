//! Real SMTP: `SmtpMailer` holds a real conversation over TCP with the test server of
//! `tests/support/smtp_server.rs`, driven by `Roster::deliver_mail` and `Roster::run_delivery`
//! (spec: INV-9, MSG-2, ERR-3).
//!
//! Expected `Message-ID`s come from the outbox itself: [`queued`] reads the due rows with a
//! zero lease before any delivery (which counts one attempt on each, and changes nothing
//! else), so "every message exactly once" is checked against what was committed, not against
//! what was rendered.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration as StdDuration,
};

use chrono::Duration;
use orgroster::{
    AcceptOptions, Actor, Capabilities, Capability, Clock, DefaultTemplates, DeliveryConfig,
    DeliveryLoop, DeliveryReport, DynStore, EmailAddress, EventKind, InvitationStatus, LicenseKind,
    MailError, MailSettings, MailTemplates, Mailer, ManualClock, MemoryStore, OrganizationId,
    OutgoingEmail, Page, Profile, Role, Roster, RosterConfig, SmtpConfig, SmtpMailer, UserId,
};
use tokio::sync::watch;

mod headers;

use crate::smtp_server::{Received, SmtpServer, Stage, Times};

const FROM: &str = "Northwind Learning <no-reply@learning.example>";
const ACCEPT_URL: &str = "https://learn.example/invitations/";
const DOMAIN: &str = "learn.example";
/// Long enough for a loaded machine, short enough for a failing test to end.
const PATIENCE: StdDuration = StdDuration::from_secs(20);

fn email(text: &str) -> EmailAddress {
    EmailAddress::parse(text).unwrap()
}

fn smtp_config(server: &SmtpServer) -> SmtpConfig {
    SmtpConfig::new("127.0.0.1", server.port(), FROM).with_timeout(StdDuration::from_secs(10))
}

/// A mailer for `server`, as one service instance would hold it.
fn mailer(server: &SmtpServer) -> SmtpMailer {
    SmtpMailer::new(smtp_config(server)).unwrap()
}

fn config() -> RosterConfig {
    RosterConfig::default()
        .with_mail(MailSettings::new(ACCEPT_URL, DOMAIN))
        .with_delivery(
            DeliveryConfig::default()
                .with_lease(Duration::minutes(5))
                .with_send_budget(Duration::seconds(30))
                .with_max_attempts(5)
                .with_backoff(Duration::seconds(30), Duration::minutes(10)),
        )
}

fn memory() -> Arc<DynStore> {
    Arc::new(MemoryStore::new())
}

/// One organization and the roster of the service instance that created it.
struct Office {
    roster: Roster,
    store: Arc<DynStore>,
    clock: ManualClock,
    admin: Actor,
    org: OrganizationId,
}

async fn office(store: Arc<DynStore>, mailer: impl Mailer) -> Office {
    office_with(store, mailer, DefaultTemplates).await
}

async fn office_with(
    store: Arc<DynStore>,
    mailer: impl Mailer,
    templates: impl MailTemplates,
) -> Office {
    let clock = ManualClock::default();
    let roster = Roster::builder(
        Arc::clone(&store),
        mailer,
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .clock(clock.clone())
    .config(config())
    .templates(templates)
    .build();
    let admin = Actor::new(UserId::new(), email("maya@northwind.example"));
    let org = roster
        .create_organization(
            &admin,
            "Northwind Learning".parse().unwrap(),
            Profile::parse("Maya", "Founder").unwrap(),
        )
        .await
        .unwrap()
        .organization
        .id;
    roster
        .add_license(org, LicenseKind::PayPerUse)
        .await
        .unwrap();
    let capabilities = Capabilities::default().with(Capability::CoursecloudLegacy);
    roster.set_capabilities(org, capabilities).await.unwrap();
    Office {
        roster,
        store,
        clock,
        admin,
        org,
    }
}

impl Office {
    /// Another service instance: its own store handle and mailer, the same database, clock
    /// and settings.
    fn instance(&self, store: Arc<DynStore>, mailer: impl Mailer) -> Roster {
        Roster::builder(store, mailer, orgroster::LinkKey::from_bytes([7; 32]))
            .clock(self.clock.clone())
            .config(config())
            .build()
    }

    /// Invites `local@mail.example` as a learner; returns the link's token.
    async fn invite(&self, local: &str) -> String {
        self.roster
            .invite_member(
                &self.admin,
                self.org,
                email(&format!("{local}@mail.example")),
                Role::Member,
                None,
            )
            .await
            .unwrap()
            .token
            .expose()
    }

    /// Invites `n` learners in one bulk invitation: `n` queued mails.
    async fn invite_many(&self, n: usize) {
        let paste: String = (0..n)
            .map(|i| format!("learner{i}@mail.example\n"))
            .collect();
        let report = self
            .roster
            .invite_members(&self.admin, self.org, &paste, Role::Member, None)
            .await
            .unwrap();
        assert_eq!(report.invited.len(), n, "{:?}", report.rejected);
    }

    /// The `Message-ID`s the due outbox rows will carry (see the module documentation).
    async fn queued(&self) -> BTreeSet<String> {
        queued(&*self.store, &self.clock).await
    }

    async fn deliver(&self, limit: usize) -> DeliveryReport {
        self.roster.deliver_mail(limit).await.unwrap()
    }
}

/// The `Message-ID`s of every row due now: read with a zero lease, so they stay due.
async fn queued(store: &DynStore, clock: &ManualClock) -> BTreeSet<String> {
    store
        .claim_outbox(
            orgroster::ClaimId::new(),
            clock.now(),
            Duration::zero(),
            100_000,
        )
        .await
        .unwrap()
        .iter()
        .map(|m| format!("<{}@{DOMAIN}>", m.id))
        .collect()
}

/// How many times each `Message-ID` arrived.
fn counts(ids: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for id in ids {
        *counts.entry(id.clone()).or_insert(0) += 1;
    }
    counts
}

/// Every expected message arrived exactly once, and nothing else did.
fn assert_exactly_once(received: &[String], expected: &BTreeSet<String>) {
    let counts = counts(received);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    let arrived: BTreeSet<String> = counts.into_keys().collect();
    let lost: Vec<_> = expected.difference(&arrived).collect();
    let strange: Vec<_> = arrived.difference(expected).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(strange.is_empty(), "never queued: {strange:?}");
}

/// The token in the first acceptance link of `text`.
fn link_token(text: &str) -> String {
    let at = text.find(ACCEPT_URL).expect("an acceptance link") + ACCEPT_URL.len();
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A mail to hand to the mailer directly.
fn outgoing(local: &str) -> OutgoingEmail {
    OutgoingEmail {
        message_id: format!("<{}@{DOMAIN}>", uuid::Uuid::now_v7()),
        to: email(&format!("{local}@mail.example")),
        subject: "Direct".to_owned(),
        text: "Hello.\n".to_owned(),
        html: "<p>Hello.</p>\n".to_owned(),
    }
}

// ----- the mail as it arrives ---------------------------------------------------------------

#[tokio::test]
async fn an_invitation_arrives_over_smtp_with_its_headers_both_alternatives_and_a_working_link() {
    // spec: INV-9, INV-6, MSG-2
    let server = SmtpServer::start().await;
    let office = office(memory(), mailer(&server)).await;
    let issued = office.invite("ann").await;
    let expected = office.queued().await;
    assert_eq!(expected.len(), 1);

    let report = office.deliver(10).await;
    assert_eq!(
        (
            report.sent,
            report.retried,
            report.failed,
            report.released,
            report.lost_claims
        ),
        (1, 0, 0, 0, 0)
    );
    let received = server.received();
    assert_eq!(received.len(), 1);
    let envelope = &received[0];
    assert_eq!(envelope.from, "no-reply@learning.example");
    assert_eq!(envelope.to, ["ann@mail.example"]);

    let mail = envelope.mail();
    let from = mail.decoded_header("From").unwrap();
    assert!(
        from.contains("Northwind Learning") && from.contains("<no-reply@learning.example>"),
        "{from}"
    );
    assert_eq!(mail.all("From").len(), 1);
    assert_eq!(mail.all("To"), ["ann@mail.example"]);
    assert!(mail.header("Cc").is_none() && mail.header("Bcc").is_none());
    assert_eq!(
        mail.decoded_header("Subject").unwrap(),
        "Invitation to join Northwind Learning"
    );
    assert_eq!(
        BTreeSet::from([mail.header("Message-ID").unwrap()]),
        expected,
        "the Message-ID is derived from the outbox row"
    );
    assert!(mail.header("Date").is_some());
    assert_eq!(mail.header("MIME-Version").as_deref(), Some("1.0"));
    assert_eq!(mail.media_type(), "multipart/alternative");

    let parts = mail.parts();
    let types: Vec<String> = parts.iter().map(|p| p.media_type()).collect();
    assert_eq!(
        types,
        ["text/plain", "text/html"],
        "plain first, richest last"
    );
    for part in &parts {
        assert_eq!(
            part.content_type_param("charset")
                .map(|c| c.to_ascii_lowercase())
                .as_deref(),
            Some("utf-8")
        );
    }
    let text = parts[0].text();
    let html = parts[1].text();
    assert!(
        text.contains("invites you to join Northwind Learning"),
        "{text}"
    );
    assert!(
        html.contains("invites you to join Northwind Learning"),
        "{html}"
    );
    assert!(html.contains("<html>") && !text.contains("<p>"));

    // The link works: the token in the mail is the one issued, and it opens the invitation.
    let token = link_token(&text);
    assert_eq!(token, issued);
    assert!(
        html.contains(&format!("href=\"{ACCEPT_URL}{token}\"")),
        "{html}"
    );
    let preview = office
        .roster
        .preview_invitation(&token, false)
        .await
        .unwrap();
    assert_eq!(preview.organization.as_str(), "Northwind Learning");
    assert_eq!(preview.status, InvitationStatus::Pending);
    let ann = Actor::new(UserId::new(), email("ann@mail.example"));
    let options = AcceptOptions::new(Profile::parse("Ann", "Invitee").unwrap());
    let accepted = office
        .roster
        .accept_invitation(&ann, &token, options)
        .await
        .unwrap();
    assert_eq!(accepted.member.email, ann.email);
}

// ----- failures and retries -----------------------------------------------------------------

#[tokio::test]
async fn mail_queued_while_the_server_is_down_arrives_exactly_once_when_it_comes_back() {
    // spec: INV-9, MSG-2
    let server = SmtpServer::down().await;
    let office = office(memory(), mailer(&server)).await;
    office.invite_many(5).await;
    let expected = office.queued().await;
    assert_eq!(expected.len(), 5);

    let down = office.deliver(100).await;
    assert_eq!((down.sent, down.retried, down.failed), (0, 5, 0));
    assert!(server.received().is_empty());
    assert_eq!(server.connections(), 0, "nothing was listening");

    // Back up, but the backoff holds the mail until it is due.
    server.restart().await;
    assert_eq!(office.deliver(100).await, DeliveryReport::default());
    assert!(server.received().is_empty());

    office.clock.advance(Duration::minutes(10));
    let up = office.deliver(100).await;
    assert_eq!((up.sent, up.retried, up.failed), (5, 0, 0));
    assert_exactly_once(&server.message_ids(), &expected);

    // Nothing is left to send, however long we wait.
    office.clock.advance(Duration::days(2));
    assert_eq!(office.deliver(100).await, DeliveryReport::default());
    assert_eq!(server.received().len(), 5);
}

#[tokio::test]
async fn a_4xx_reply_is_retried_later_and_the_mail_then_arrives_once() {
    // spec: INV-9, MSG-2
    let server = SmtpServer::start().await;
    let office = office(memory(), mailer(&server)).await;
    office.invite_many(2).await;
    let expected = office.queued().await;
    server.refuse(Stage::Rcpt, 450, Times::Next(1));
    server.refuse(Stage::Data, 451, Times::Next(1));

    let first = office.deliver(100).await;
    assert_eq!((first.sent, first.retried, first.failed), (0, 2, 0));
    assert_eq!(server.refused(), [(Stage::Rcpt, 450), (Stage::Data, 451)]);
    assert!(server.received().is_empty());
    let failed = office
        .roster
        .failed_mail(&office.admin, office.org, Page::first(10))
        .await
        .unwrap();
    assert!(failed.items.is_empty(), "a 4xx is not a failure");

    office.clock.advance(Duration::minutes(10));
    let second = office.deliver(100).await;
    assert_eq!((second.sent, second.retried, second.failed), (2, 0, 0));
    assert_exactly_once(&server.message_ids(), &expected);
}

#[tokio::test]
async fn a_5xx_reply_is_recorded_as_failed_listed_and_audited_and_not_retried() {
    // spec: MSG-2
    let server = SmtpServer::start().await;
    let office = office(memory(), mailer(&server)).await;
    office.invite("refused-at-rcpt").await;
    office.invite("refused-at-data").await;
    server.refuse(Stage::Rcpt, 550, Times::Next(1));
    server.refuse(Stage::Data, 554, Times::Next(1));

    let report = office.deliver(100).await;
    assert_eq!((report.sent, report.retried, report.failed), (0, 0, 2));
    assert!(server.received().is_empty());

    let failed = office
        .roster
        .failed_mail(&office.admin, office.org, Page::first(10))
        .await
        .unwrap()
        .items;
    let mut reasons: Vec<(String, String)> = failed
        .iter()
        .map(|m| (m.to.to_string(), m.last_error.clone().unwrap_or_default()))
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].0, "refused-at-data@mail.example");
    assert!(reasons[0].1.contains("554"), "{}", reasons[0].1);
    assert_eq!(reasons[1].0, "refused-at-rcpt@mail.example");
    assert!(reasons[1].1.contains("550"), "{}", reasons[1].1);

    let trail = office
        .roster
        .audit_trail(&office.admin, office.org, Page::first(100))
        .await
        .unwrap()
        .items;
    for m in &failed {
        assert!(
            trail.iter().any(|e| matches!(
                &e.kind,
                EventKind::MailFailed { outbox, to, reason }
                    if *outbox == m.id && *to == m.to && reason.contains("refused")
            )),
            "no MailFailed event for {}",
            m.to
        );
    }

    // Given up for good: a day later nothing is tried again.
    office.clock.advance(Duration::days(1));
    assert_eq!(office.deliver(100).await, DeliveryReport::default());
    assert_eq!(server.refused().len(), 2);
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn smtp_mailer_classifies_refused_connections_and_4xx_as_transient_and_5xx_as_permanent() {
    // spec: MSG-2
    let server = SmtpServer::down().await;
    let mailer = mailer(&server);
    let refused = mailer.send(&outgoing("down")).await.unwrap_err();
    assert!(
        matches!(refused, MailError::Transient { .. }),
        "connection refused: {refused}"
    );

    server.restart().await;
    for (stage, code, transient) in [
        (Stage::Rcpt, 450, true),
        (Stage::Data, 451, true),
        (Stage::Rcpt, 550, false),
        (Stage::Data, 554, false),
    ] {
        server.refuse(stage, code, Times::Next(1));
        let err = mailer.send(&outgoing("refused")).await.unwrap_err();
        assert_eq!(err.is_transient(), transient, "{code} at {stage:?}: {err}");
        assert_eq!(
            matches!(err, MailError::Permanent { .. }),
            !transient,
            "{err}"
        );
        assert!(err.to_string().contains(&code.to_string()), "{err}");
    }
    mailer.send(&outgoing("accepted")).await.unwrap();
    assert_eq!(server.received().len(), 1);

    // A server too slow to answer within the command timeout: try again later.
    server.set_reply_delay(StdDuration::from_secs(2));
    let impatient =
        SmtpMailer::new(smtp_config(&server).with_timeout(StdDuration::from_millis(200))).unwrap();
    let slow = impatient.send(&outgoing("slow")).await.unwrap_err();
    assert!(slow.is_transient(), "a time-out: {slow}");
}

#[tokio::test]
async fn a_send_cancelled_mid_conversation_does_not_make_the_next_refused_mail_look_sent() {
    // spec: MSG-2, INV-9 — a host may wrap delivery in a timeout or abort it; the connection
    // it leaves behind must not answer the next mail with the previous mail's replies.
    let server = SmtpServer::start().await;
    let mailer = mailer(&server);
    server.set_reply_delay(StdDuration::from_millis(300));
    let cancelled = tokio::time::timeout(
        StdDuration::from_millis(100),
        mailer.send(&outgoing("cancelled")),
    )
    .await;
    assert!(
        cancelled.is_err(),
        "cancelled while the server holds its reply"
    );
    // The next delivery pass comes a little later.
    tokio::time::sleep(StdDuration::from_millis(20)).await;
    server.set_reply_delay(StdDuration::ZERO);
    server.refuse(Stage::Data, 554, Times::Next(1));
    let next = mailer.send(&outgoing("refused")).await;
    assert!(
        matches!(next, Err(MailError::Permanent { .. })),
        "the server refused it with 554, yet the mailer said {next:?}"
    );
    assert_eq!(server.refused(), [(Stage::Data, 554)]);
}

// ----- several instances, crashes -----------------------------------------------------------

/// Two delivery loops (two service instances, each with its own store handle and mailer)
/// drain one outbox at the same time: every mail arrives exactly once.
async fn two_instances_send_every_mail_exactly_once(a: Arc<DynStore>, b: Arc<DynStore>) {
    const MAILS: usize = 60;
    let server = SmtpServer::start().await;
    // Slow enough that both loops are sending at the same time.
    server.set_reply_delay(StdDuration::from_millis(2));
    let office = office(a, mailer(&server)).await;
    let other = office.instance(b, mailer(&server));
    office.invite_many(MAILS).await;
    let expected = office.queued().await;
    assert_eq!(expected.len(), MAILS);

    let settings = DeliveryLoop {
        batch: 4,
        interval: StdDuration::from_millis(5),
    };
    let (stop, stopped) = watch::channel(false);
    let workers: Vec<_> = [office.roster.clone(), other]
        .into_iter()
        .map(|roster| {
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                roster.run_delivery(settings, shutdown).await
            })
        })
        .collect();
    assert!(
        server.wait_for(MAILS, PATIENCE).await,
        "only {} of {MAILS} arrived",
        server.received().len()
    );
    stop.send(true).unwrap();
    let mut sent = Vec::new();
    for worker in workers {
        let totals = worker.await.unwrap();
        assert_eq!(totals.store_errors, 0, "{:?}", totals.last_error);
        assert_eq!((totals.delivered.retried, totals.delivered.failed), (0, 0));
        sent.push(totals.delivered.sent);
    }
    assert_eq!(sent.iter().sum::<u64>(), MAILS as u64, "{sent:?}");
    assert!(sent.iter().all(|&n| n > 0), "both instances sent: {sent:?}");
    assert_exactly_once(&server.message_ids(), &expected);
    assert_eq!(office.deliver(100).await, DeliveryReport::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_delivery_loops_on_one_memory_store_never_send_the_same_mail_twice() {
    // spec: INV-9 — leases keep instances from sending the same row at the same time.
    let store = memory();
    two_instances_send_every_mail_exactly_once(Arc::clone(&store), store).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_delivery_loops_on_one_sqlite_file_never_send_the_same_mail_twice() {
    // spec: INV-9 — two connections to one database file, as two processes would hold.
    let path = std::env::temp_dir().join(format!("orgroster-smtp-{}.db", uuid::Uuid::now_v7()));
    let url = format!("sqlite://{}", path.display());
    let first = orgroster::SqliteStore::connect(&url).await.unwrap();
    first.migrate().await.unwrap();
    let second = orgroster::SqliteStore::connect(&url).await.unwrap();
    two_instances_send_every_mail_exactly_once(Arc::new(first), Arc::new(second)).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_delivery_loop_mid_batch_and_restarting_it_loses_nothing() {
    // spec: INV-9 — at least once: only the mail in flight when the loop died may arrive twice.
    const MAILS: usize = 20;
    let server = SmtpServer::start().await;
    server.hold_replies_from(3);
    let office = office(memory(), mailer(&server)).await;
    office.invite_many(MAILS).await;
    let expected = office.queued().await;

    let worker = tokio::spawn({
        let roster = office.roster.clone();
        let settings = DeliveryLoop {
            batch: 10,
            interval: StdDuration::from_millis(10),
        };
        async move { roster.run_delivery(settings, std::future::pending()).await }
    });
    // Killed while the server holds its reply to the third mail of the first batch.
    assert!(server.wait_for(3, PATIENCE).await);
    worker.abort();
    assert!(worker.await.unwrap_err().is_cancelled());
    server.release();
    let dead_connections = server.connections();

    // Restarted: a new process with a new mailer over the same outbox. What the dead loop had
    // not claimed goes out at once; what it had claimed, once its lease has run out.
    let restarted = office.instance(Arc::clone(&office.store), mailer(&server));
    let now = restarted.deliver_mail(100).await.unwrap();
    assert_eq!(now.sent, (MAILS - 10) as u64, "the unclaimed rest");
    office.clock.advance(Duration::minutes(6));
    let later = restarted.deliver_mail(100).await.unwrap();
    assert_eq!((later.retried, later.failed), (0, 0));
    assert!(
        later.sent > 0,
        "the claimed rows the dead loop had not sent: {later:?}"
    );
    office.clock.advance(Duration::days(1));
    assert_eq!(
        restarted.deliver_mail(100).await.unwrap(),
        DeliveryReport::default()
    );

    let received = server.received();
    let ids: Vec<String> = received.iter().map(Received::message_id).collect();
    let arrived: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(arrived, expected, "the set received is the set queued");
    // The mail in flight is the last one the dead loop's connections brought.
    let in_flight = received
        .iter()
        .filter(|r| r.connection <= dead_connections)
        .map(Received::message_id)
        .next_back();
    let twice: Vec<String> = counts(&ids)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, n)| {
            assert_eq!(n, 2, "{id}");
            id
        })
        .collect();
    assert!(
        twice.is_empty() || Some(&twice[0]) == in_flight.as_ref() && twice.len() == 1,
        "only the mail in flight may arrive twice: {twice:?}, in flight {in_flight:?}"
    );
    assert_eq!(ids.len(), MAILS + twice.len());
}

// ----- connections --------------------------------------------------------------------------

#[tokio::test]
async fn one_delivery_pass_reuses_one_smtp_connection() {
    // spec: MSG-2
    const MAILS: usize = 50;
    let server = SmtpServer::start().await;
    let one = SmtpMailer::new(smtp_config(&server).with_max_connections(1)).unwrap();
    let office = office(memory(), one).await;
    office.invite_many(MAILS).await;
    assert_eq!(office.deliver(100).await.sent, MAILS as u64);
    assert_eq!(server.received().len(), MAILS);
    assert_eq!(
        server.connections(),
        1,
        "connections opened for {MAILS} mails"
    );
    // That the connection does not stall on each mail (Nagle's algorithm off) is checked
    // beside the mailer's code, without timing.
}

#[tokio::test]
async fn a_pooled_connection_the_server_has_closed_is_replaced_without_a_failure() {
    // spec: MSG-2
    let server = SmtpServer::start().await;
    let mailer = mailer(&server);
    mailer.send(&outgoing("first")).await.unwrap();
    // The server restarts between two passes: the kept connection is dead.
    server.stop();
    server.restart().await;
    mailer.send(&outgoing("second")).await.unwrap();
    assert_eq!(server.received().len(), 2);
    assert_eq!(server.connections(), 2);
}
