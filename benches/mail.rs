//! Criterion benches of mail: rendering an invitation, and delivering 1,000 queued mails to
//! the local test SMTP server (`tests/support/smtp_server.rs`) over one reused connection.
//!
//! ```sh
//! cargo bench --bench mail --all-features
//! ```
//!
//! The delivery bench prints how many connections the server accepted per 1,000 mails.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/support/smtp_server.rs"]
mod smtp_server;

use std::{
    hint::black_box,
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use orgroster::{
    Actor, Capabilities, Capability, DefaultTemplates, EmailAddress, InvitationId, InvitationToken,
    LicenseKind, MailContent, MailSettings, MailTemplates, MemoryStore, OrganizationId, OutboxId,
    OutboxMessage, Profile, Role, Roster, SmtpConfig, SmtpMailer, TeamName, UserId,
};
use smtp_server::SmtpServer;
use tokio::runtime::Runtime;

const MAILS: usize = 1_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn invitation() -> OutboxMessage {
    let now = Utc::now();
    OutboxMessage::new(
        OutboxId::new(),
        OrganizationId::new(),
        EmailAddress::parse("ann.invitee@bench.example").unwrap(),
        MailContent::Invitation {
            invitation: InvitationId::new(),
            organization: "Northwind Learning".parse().unwrap(),
            inviter: Profile::parse("Maya", "Founder").unwrap(),
            invitee: Some(Profile::parse("Ann", "Invitee").unwrap()),
            role: Role::Member,
            team: Some(TeamName::parse("Onboarding <2026> & Co").unwrap()),
            expires_at: now + chrono::Duration::days(10),
            resend: false,
            generation: 0,
        },
        now,
    )
}

fn render_invitation(c: &mut Criterion) {
    let message = invitation();
    let settings = MailSettings::default();
    c.bench_function("render_invitation", |b| {
        let link = InvitationToken::from_bytes([7; 32]);
        b.iter(|| DefaultTemplates.render(black_box(&message), Some(&link), black_box(&settings)));
    });
}

/// A roster sending through `mailer`, with `MAILS` invitations queued.
async fn queued(mailer: SmtpMailer) -> Roster {
    let roster = Roster::builder(
        MemoryStore::new(),
        mailer,
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .build();
    let admin = Actor::new(
        UserId::new(),
        EmailAddress::parse("admin@bench.example").unwrap(),
    );
    let org = roster
        .create_organization(
            &admin,
            "Bench".parse().unwrap(),
            Profile::parse("Bench", "Mark").unwrap(),
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
    let paste: String = (0..MAILS)
        .map(|i| format!("learner{i}@bench.example\n"))
        .collect();
    let report = roster
        .invite_members(&admin, org, &paste, Role::Member, None)
        .await
        .unwrap();
    assert_eq!(report.invited.len(), MAILS);
    roster
}

fn deliver_1000_over_one_connection(c: &mut Criterion) {
    let rt = runtime();
    let server = rt.block_on(SmtpServer::start());
    // Connections the server accepted for each delivery of `MAILS` mails.
    let connections = Mutex::new(Vec::new());
    let mut group = c.benchmark_group("smtp");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("deliver_1000_over_one_connection", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let server = &server;
            let connections = &connections;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // A new mailer each time: its first send opens the connection, timed too.
                    let config = SmtpConfig::new(
                        "127.0.0.1",
                        server.port(),
                        "Bench <no-reply@bench.example>",
                    )
                    .with_max_connections(1);
                    let roster = queued(SmtpMailer::new(config).unwrap()).await;
                    let before = server.connections();
                    let start = Instant::now();
                    let report = roster.deliver_mail(MAILS).await.unwrap();
                    total += start.elapsed();
                    assert_eq!(report.sent, MAILS as u64);
                    assert_eq!(server.take_received().len(), MAILS);
                    connections
                        .lock()
                        .unwrap()
                        .push(server.connections() - before);
                }
                total
            }
        });
    });
    group.finish();
    let connections = connections.into_inner().unwrap();
    let most = connections.iter().max().copied().unwrap_or(0);
    eprintln!(
        "smtp/deliver_1000_over_one_connection: {} deliveries of {MAILS} mails, \
         at most {most} connection(s) each (server total {})",
        connections.len(),
        server.connections()
    );
    // The server's tasks end with the runtime.
    drop(server);
    drop(rt);
}

criterion_group!(benches, render_invitation, deliver_1000_over_one_connection);
criterion_main!(benches);
