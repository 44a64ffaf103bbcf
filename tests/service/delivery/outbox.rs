//! Mail delivery through the outbox: mail queued in the command's own commit, retries,
//! give-ups, leases and stable ids, and an administrator retrying mail given up (spec:
//! INV-9, MSG-2, MSG-3).

use chrono::Duration;
use orgroster::{
    Actor, Capabilities, Capability, ClaimId, Clock, DeliveryConfig, EmailAddress, Error,
    EventKind, FailingMailer, LicenseKind, ManualClock, MemoryStore, OrganizationId, OutboxMessage,
    OutboxStatus, Page, Permission, Profile, Role, Roster, RosterConfig, Store, UserId,
};

use crate::fixture::{World, actor};

struct Mailroom {
    roster: Roster,
    store: MemoryStore,
    clock: ManualClock,
    mailer: FailingMailer,
    admin: Actor,
    org: OrganizationId,
}

async fn mailroom(mailer: FailingMailer) -> Mailroom {
    let store = MemoryStore::new();
    let clock = ManualClock::default();
    let config = RosterConfig::default().with_delivery(
        DeliveryConfig::default()
            .with_lease(Duration::minutes(5))
            .with_send_budget(Duration::seconds(30))
            .with_max_attempts(3)
            .with_backoff(Duration::seconds(30), Duration::minutes(10)),
    );
    let roster = Roster::builder(
        store.clone(),
        mailer.clone(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .clock(clock.clone())
    .config(config)
    .build();
    let admin = Actor::new(
        UserId::new(),
        EmailAddress::parse("admin@mail.example").unwrap(),
    );
    let org = roster
        .create_organization(
            &admin,
            "Mailroom".parse().unwrap(),
            Profile::parse("A", "B").unwrap(),
        )
        .await
        .unwrap()
        .organization
        .id;
    roster
        .add_license(org, LicenseKind::PayPerUse)
        .await
        .unwrap();
    let caps = Capabilities::default().with(Capability::CoursecloudLegacy);
    roster.set_capabilities(org, caps).await.unwrap();
    Mailroom {
        roster,
        store,
        clock,
        mailer,
        admin,
        org,
    }
}

async fn invite(room: &Mailroom, local: &str) -> String {
    let email = EmailAddress::parse(format!("{local}@mail.example")).unwrap();
    let created = room
        .roster
        .invite_member(&room.admin, room.org, email, Role::Member, None)
        .await
        .unwrap();
    created.token.expose()
}

#[tokio::test]
async fn mail_is_queued_in_the_same_commit_even_when_the_server_is_down() {
    // spec: INV-9 — the invitation and its email are recorded together.
    let room = mailroom(FailingMailer::always_transient()).await;
    let link = invite(&room, "fay").await;
    let queued = room
        .store
        .claim_outbox(ClaimId::new(), room.clock.now(), Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert!(
        !format!("{:?}", queued[0]).contains(&link),
        "the queued row holds no token: it is derived again when the mail is rendered (spec: INV-6)"
    );
}

#[tokio::test]
async fn mail_queued_while_the_mail_server_is_down_is_retried_and_never_silently_dropped() {
    // spec: INV-9, MSG-2
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Member, None).await;

    let report = w.deliver_through(FailingMailer::always_transient()).await;
    assert_eq!((report.sent, report.retried, report.failed), (0, 1, 0));
    assert_eq!(
        w.roster.deliver_mail(10).await.unwrap().sent,
        0,
        "not due before its backoff"
    );

    w.advance(Duration::hours(1));
    let report = w.roster.deliver_mail(10).await.unwrap();
    assert_eq!(report.sent, 1);
    let mails = w.mailer.take();
    assert_eq!(mails[0].to, sam.email);
    assert!(mails[0].text.contains(&invited.token.expose()));

    // A permanent failure is recorded, with its reason, not dropped.
    let kim = actor("kim");
    w.invite(&kim, Role::Member, None).await;
    let bounce = Roster::builder(
        w.store.clone(),
        FailingMailer::always_permanent(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .clock(w.clock.clone())
    .build();
    assert_eq!(bounce.deliver_mail(10).await.unwrap().failed, 1);
    let failed = w
        .roster
        .failed_mail(&w.founder, w.org, Page::default())
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].to, kim.email);
    assert!(
        failed.items[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("550"))
    );
    assert!(w.events().await.iter().any(|e| matches!(
        &e.kind,
        EventKind::MailFailed { to, .. } if *to == kim.email
    )));
    assert_eq!(w.roster.deliver_mail(10).await.unwrap().sent, 0);
}

#[tokio::test]
async fn a_transient_failure_is_retried_after_a_backoff_and_then_delivered_once() {
    // spec: INV-9, MSG-2
    let room = mailroom(FailingMailer::transient_first(1)).await;
    let link = invite(&room, "ann").await;
    let first = room.roster.deliver_mail(10).await.unwrap();
    assert_eq!((first.sent, first.retried, first.failed), (0, 1, 0));
    // Not due yet: the backoff holds it back.
    assert_eq!(room.roster.deliver_mail(10).await.unwrap().sent, 0);
    room.clock.advance(Duration::minutes(1));
    let second = room.roster.deliver_mail(10).await.unwrap();
    assert_eq!((second.sent, second.retried, second.failed), (1, 0, 0));
    let delivered = room.mailer.delivered();
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0].text.contains(&link),
        "the link carries the token"
    );
    room.clock.advance(Duration::days(1));
    assert_eq!(
        room.roster.deliver_mail(10).await.unwrap(),
        Default::default()
    );
    assert_eq!(room.mailer.attempts(), 2);
}

#[tokio::test]
async fn a_permanent_failure_is_recorded_listed_and_audited_never_dropped() {
    // spec: MSG-2
    let room = mailroom(FailingMailer::always_permanent()).await;
    let link = invite(&room, "bob").await;
    let report = room.roster.deliver_mail(10).await.unwrap();
    assert_eq!((report.sent, report.retried, report.failed), (0, 0, 1));
    let failed = room
        .roster
        .failed_mail(&room.admin, room.org, Page::first(10))
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);
    assert!(
        failed.items[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("550")
    );
    assert!(
        !format!("{:?}", failed.items[0]).contains(&link),
        "the row holds no token (spec: INV-6)"
    );
    let trail = room
        .roster
        .audit_trail(&room.admin, room.org, Page::first(50))
        .await
        .unwrap();
    assert!(
        trail
            .items
            .iter()
            .any(|e| matches!(e.kind, EventKind::MailFailed { .. }))
    );
}

#[tokio::test]
async fn a_server_that_stays_down_gives_up_after_the_maximum_attempts() {
    // spec: MSG-2
    let room = mailroom(FailingMailer::always_transient()).await;
    invite(&room, "cy").await;
    let mut failed = 0;
    for _ in 0..10 {
        failed += room.roster.deliver_mail(10).await.unwrap().failed;
        room.clock.advance(Duration::minutes(15));
    }
    assert_eq!(failed, 1);
    assert_eq!(room.mailer.attempts(), 3, "max_attempts");
    let listed = room
        .roster
        .failed_mail(&room.admin, room.org, Page::first(10))
        .await
        .unwrap();
    assert!(
        listed.items[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("gave up after 3")
    );
}

#[tokio::test]
async fn a_row_leased_by_another_instance_is_not_sent_until_its_lease_runs_out() {
    // spec: INV-9 — two delivery passes never send the same row at the same time.
    let room = mailroom(FailingMailer::transient_first(0)).await;
    invite(&room, "dee").await;
    let other = room
        .store
        .claim_outbox(ClaimId::new(), room.clock.now(), Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(room.roster.deliver_mail(10).await.unwrap().sent, 0);
    // The other instance died without recording anything: after the lease, it goes out.
    room.clock.advance(Duration::minutes(6));
    assert_eq!(room.roster.deliver_mail(10).await.unwrap().sent, 1);
    assert_eq!(room.mailer.delivered().len(), 1);
}

#[tokio::test]
async fn a_retried_mail_keeps_its_message_id() {
    // spec: INV-9 — at-least-once delivery is recognisable downstream.
    let room = mailroom(FailingMailer::transient_first(0)).await;
    invite(&room, "eve").await;
    let claimed = room
        .store
        .claim_outbox(ClaimId::new(), room.clock.now(), Duration::minutes(5), 10)
        .await
        .unwrap();
    room.clock.advance(Duration::minutes(6));
    room.roster.deliver_mail(10).await.unwrap();
    let sent = room.mailer.delivered();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].message_id.contains(&claimed[0].id.to_string()));
}

/// A mailer whose every send takes `step` of the shared clock's time, and lets other tasks
/// run meanwhile: passes of several workers interleave as they would against a slow server.
#[derive(Debug, Clone)]
struct SlowMailer {
    clock: ManualClock,
    step: Duration,
    sent: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Fired after the first send, when set.
    after_first: std::sync::Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>>,
}

impl SlowMailer {
    fn new(clock: ManualClock, step: Duration) -> Self {
        Self {
            clock,
            step,
            sent: Default::default(),
            after_first: Default::default(),
        }
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl orgroster::Mailer for SlowMailer {
    async fn send(&self, email: &orgroster::OutgoingEmail) -> Result<(), orgroster::MailError> {
        tokio::task::yield_now().await;
        self.clock.advance(self.step);
        self.sent.lock().unwrap().push(email.message_id.clone());
        if let Some(fire) = self.after_first.lock().unwrap().take() {
            let _ = fire.send(());
        }
        tokio::task::yield_now().await;
        Ok(())
    }
}

/// A roster on `store` sending through `mailer`, with a lease of 5 minutes and a send budget
/// of two: a send takes one minute of the shared clock, and the other worker's send may
/// advance it by one more meanwhile.
fn worker(store: &MemoryStore, mailer: &SlowMailer) -> Roster {
    let config = RosterConfig::default().with_delivery(
        DeliveryConfig::default()
            .with_lease(Duration::minutes(5))
            .with_send_budget(Duration::minutes(2)),
    );
    Roster::builder(
        store.clone(),
        mailer.clone(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .clock(mailer.clock.clone())
    .config(config)
    .build()
}

/// `n` invitations queued in a fresh organization of `roster`.
async fn queue_invitations(roster: &Roster, n: usize) {
    let founder = Actor::new(
        UserId::new(),
        EmailAddress::parse("f@slow.example").unwrap(),
    );
    let org = crate::fixture::licensed_organization(roster, &founder, "Slow Mail", None).await;
    let paste: String = (0..n).map(|i| format!("l{i}@slow.example\n")).collect();
    let report = roster
        .invite_members(&founder, org, &paste, Role::Member, None)
        .await
        .unwrap();
    assert_eq!(report.invited.len(), n);
}

#[tokio::test]
async fn two_workers_whose_passes_outlast_the_lease_send_every_mail_exactly_once() {
    // spec: MSG-3 — each send takes a minute, a pass claims 10 under a 5-minute lease: a
    // pass cannot finish within its lease, and the other worker claims what it left.
    let store = MemoryStore::new();
    let mailer = SlowMailer::new(ManualClock::default(), Duration::minutes(1));
    let (a, b) = (worker(&store, &mailer), worker(&store, &mailer));
    queue_invitations(&a, 30).await;
    let run = |roster: Roster| async move {
        let mut totals = orgroster::DeliveryReport::default();
        for _ in 0..40 {
            let pass = roster.deliver_mail(10).await.unwrap();
            totals.sent += pass.sent;
            totals.released += pass.released;
            totals.lost_claims += pass.lost_claims;
            tokio::task::yield_now().await;
        }
        totals
    };
    let (ta, tb) = tokio::join!(run(a), run(b));
    let sent = mailer.sent();
    let mut unique = sent.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), sent.len(), "a mail was sent twice");
    assert_eq!(sent.len(), 30, "every mail was sent");
    assert_eq!(ta.sent + tb.sent, 30);
    assert_eq!(ta.lost_claims + tb.lost_claims, 0);
    assert!(
        ta.released + tb.released > 0,
        "passes outlasting their lease put rows back"
    );
    assert!(
        ta.sent > 0 && tb.sent > 0,
        "both workers sent: {ta:?} {tb:?}"
    );
}

#[tokio::test]
async fn shutdown_stops_a_pass_between_two_mails_and_puts_the_rest_back() {
    // spec: MSG-3
    let store = MemoryStore::new();
    let mailer = SlowMailer::new(ManualClock::default(), Duration::seconds(1));
    let roster = worker(&store, &mailer);
    queue_invitations(&roster, 10).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    *mailer.after_first.lock().unwrap() = Some(stop);
    let settings = orgroster::DeliveryLoop {
        batch: 10,
        interval: std::time::Duration::from_secs(3600),
    };
    let totals = roster
        .run_delivery(settings, async {
            let _ = stopped.await;
        })
        .await;
    assert_eq!(totals.delivered.sent, 1, "{totals:?}");
    assert_eq!(totals.delivered.released, 9);
    // What it put back is due at once, for the next worker.
    assert_eq!(roster.deliver_mail(10).await.unwrap().sent, 9);
    assert_eq!(mailer.sent().len(), 10);
}

#[tokio::test]
async fn a_lease_shorter_than_the_send_budget_still_delivers() {
    // spec: MSG-3, INV-9 — the budget is kept under the lease, or every row would be put back
    // unsent on every pass.
    let store = MemoryStore::new();
    let mailer = SlowMailer::new(ManualClock::default(), Duration::seconds(1));
    let config = RosterConfig::default()
        .with_delivery(DeliveryConfig::default().with_lease(Duration::seconds(30)));
    let roster = Roster::builder(
        store.clone(),
        mailer.clone(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .clock(mailer.clock.clone())
    .config(config)
    .build();
    queue_invitations(&roster, 3).await;
    assert_eq!(roster.deliver_mail(10).await.unwrap().sent, 3);
}

#[tokio::test]
async fn debug_output_of_mail_and_mailers_holds_no_acceptance_link() {
    // spec: INV-6 — logs and panic messages print `Debug`; a link in them opens the invitation.
    let w = crate::fixture::World::new().await;
    let sam = crate::fixture::actor("sam");
    let invited = w.invite(&sam, Role::Member, None).await;
    w.roster.deliver_mail(10).await.unwrap();
    let sent = w.mailer.sent();
    assert_eq!(sent.len(), 1);
    // The token as the mail carries it, read from the link itself.
    let prefix = &w.roster.config().mail.accept_url;
    let start = sent[0]
        .text
        .find(prefix.as_str())
        .expect("the mail holds the link")
        + prefix.len();
    let link_token: String = sent[0].text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(link_token.len() >= 22, "a token of at least 128 bits");
    assert!(sent[0].html.contains(&link_token));
    let accepted = w.accept(&sam, &invited.token).await;
    let failing = FailingMailer::transient_first(0);
    orgroster::Mailer::send(&failing, &sent[0]).await.unwrap();
    let outputs = [
        format!("{:?}", sent[0]),
        format!("{:#?}", sent[0]),
        format!("{:?}", w.mailer),
        format!("{:#?}", w.mailer),
        format!("{failing:?}"),
        format!("{failing:#?}"),
        format!("{invited:?}"),
        format!("{invited:#?}"),
        format!("{accepted:?}"),
        format!("{accepted:#?}"),
        format!("{w:?}"),
    ];
    for output in &outputs {
        for secret in [&link_token, &invited.token.expose()] {
            assert!(!output.contains(secret.as_str()), "{output}");
        }
    }
    // What stays useful.
    assert!(outputs[0].contains(&sent[0].message_id));
    assert!(outputs[0].contains(sent[0].to.as_str()));
    assert!(outputs[0].contains(&sent[0].subject));
    assert!(outputs[0].contains(&format!("<{} bytes elided>", sent[0].text.len())));
}

/// The world's founder's invitation to `who`, given up by a delivery pass whose mail server
/// refuses it for good: its outbox row.
async fn given_up(w: &World, who: &Actor) -> OutboxMessage {
    w.invite(who, Role::Member, None).await;
    let report = w.deliver_through(FailingMailer::always_permanent()).await;
    assert_eq!(report.failed, 1);
    let failed = w
        .roster
        .failed_mail(&w.founder, w.org, Page::default())
        .await
        .unwrap()
        .items;
    assert_eq!(failed.len(), 1);
    failed.into_iter().next().unwrap()
}

#[tokio::test]
async fn an_administrator_retries_an_email_given_up_and_it_goes_out_with_its_reason_kept() {
    // spec: MSG-3, MSG-2
    let w = World::new().await;
    let sam = actor("sam");
    let failed = given_up(&w, &sam).await;
    let reason = failed.last_error.clone();
    assert!(reason.is_some());

    let lee = w.join("lee", Role::Member, None).await;
    let err = w
        .roster
        .retry_mail(&lee, w.org, failed.id)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::RetryMail
        }
    ));

    let retried = w
        .roster
        .retry_mail(&w.founder, w.org, failed.id)
        .await
        .expect("an administrator retries it");
    assert_eq!(retried.id, failed.id);
    assert_eq!(
        (
            retried.status,
            retried.attempts,
            retried.last_error.as_deref()
        ),
        (OutboxStatus::Pending, 0, None)
    );
    let event = w.events().await.pop().unwrap();
    assert!(
        matches!(&event.kind, EventKind::MailRetried { outbox, to, reason: kept }
            if *outbox == failed.id && *to == sam.email && *kept == reason),
        "{event:?}"
    );
    assert!(
        w.roster
            .failed_mail(&w.founder, w.org, Page::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Queued again, it cannot be retried twice.
    let err = w
        .roster
        .retry_mail(&w.founder, w.org, failed.id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::MailNotRetriable { reason } if reason.contains("queued")),
        "{err:?}"
    );

    // The next pass sends it, with a link that opens the invitation.
    w.mailer.take();
    let report = w.roster.deliver_mail(10).await.unwrap();
    assert_eq!(report.sent, 1);
    let sent = w.mailer.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, sam.email);
}

#[tokio::test]
async fn an_email_whose_invitation_is_no_longer_pending_or_unknown_cannot_be_retried() {
    // spec: MSG-3, INV-13, ERR-2
    let w = World::new().await;
    let sam = actor("sam");
    let failed = given_up(&w, &sam).await;
    let invitation = failed.invitation().expect("an invitation's email");
    w.roster
        .revoke_invitation(&w.founder, w.org, invitation)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .retry_mail(&w.founder, w.org, failed.id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::MailNotRetriable { reason } if reason.contains("no longer pending")),
        "{err:?}"
    );
    assert!(err.to_string().contains("cannot be retried"), "{err}");
    for unknown in [orgroster::OutboxId::new(), failed.id] {
        let org = if unknown == failed.id {
            // The same id, asked of another organization.
            w.another_organization(&w.founder, "Elsewhere").await
        } else {
            w.org
        };
        let err = w
            .roster
            .retry_mail(&w.founder, org, unknown)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotFound {
                    entity: orgroster::EntityKind::OutboxMessage
                }
            ),
            "{err:?}"
        );
    }
    assert_eq!(w.snapshot().await, before, "nothing changed");
}
