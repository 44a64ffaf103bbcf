//! Mail delivery through the outbox: retries, give-ups, leases and stable ids
//! (spec: INV-9, MSG-2).

use chrono::Duration;
use orgroster::{
    Actor, Capabilities, Clock, DeliveryConfig, EmailAddress, EventKind, FailingMailer,
    LicenseKind, ManualClock, MemoryStore, OrganizationId, Page, Profile, Role, Roster,
    RosterConfig, Store, UserId,
};

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
    let config = RosterConfig::default().with_delivery(DeliveryConfig {
        lease: Duration::minutes(5),
        max_attempts: 3,
        base_backoff: Duration::seconds(30),
        max_backoff: Duration::minutes(10),
    });
    let roster = Roster::builder(store.clone(), mailer.clone())
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
    let caps = Capabilities {
        coursecloud_legacy: true,
        ..Capabilities::default()
    };
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
    invite(&room, "bob").await;
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
        failed.items[0].secret.is_none(),
        "the token is erased once the row is closed"
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
        .claim_outbox(room.clock.now(), Duration::minutes(5), 10)
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
        .claim_outbox(room.clock.now(), Duration::minutes(5), 10)
        .await
        .unwrap();
    room.clock.advance(Duration::minutes(6));
    room.roster.deliver_mail(10).await.unwrap();
    let sent = room.mailer.delivered();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].message_id.contains(&claimed[0].id.to_string()));
}

#[tokio::test]
async fn mail_is_queued_in_the_same_commit_even_when_the_server_is_down() {
    // spec: INV-9 — the invitation and its email are recorded together.
    let room = mailroom(FailingMailer::always_transient()).await;
    invite(&room, "fay").await;
    let queued = room
        .store
        .claim_outbox(room.clock.now(), Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].secret.is_some());
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
