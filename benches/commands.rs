//! Criterion benches of the commands on each store.
//!
//! Run with `cargo bench --bench commands`. Besides timings, the setup of the listing bench
//! prints how much resident memory 100,000 members take in `MemoryStore`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use orgroster::{
    AcceptOptions, Actor, Capabilities, EmailAddress, LicenseKind, MemberFilter, MemberId,
    MemoryStore, OrganizationId, Page, Profile, RecordingMailer, Role, RoleSet, Roster, Store,
    UserId,
    domain::{
        changes::{ChangeSet, OrganizationWrite, Write},
        member::Member,
    },
};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn profile() -> Profile {
    Profile::parse("Bench", "Mark").expect("profile")
}

async fn world(store: MemoryStore) -> (Roster, Actor, OrganizationId) {
    let roster = Roster::builder(store, RecordingMailer::new()).build();
    let admin = Actor::new(
        UserId::new(),
        EmailAddress::parse("admin@bench.example").expect("email"),
    );
    let org = roster
        .create_organization(&admin, "Bench".parse().expect("name"), profile())
        .await
        .expect("organization")
        .organization
        .id;
    roster
        .add_license(org, LicenseKind::PayPerUse)
        .await
        .expect("license");
    let caps = Capabilities {
        coursecloud_legacy: true,
        ..Capabilities::default()
    };
    roster
        .set_capabilities(org, caps)
        .await
        .expect("capabilities");
    (roster, admin, org)
}

fn invite_then_accept(c: &mut Criterion) {
    let rt = runtime();
    let (roster, admin, org) = rt.block_on(world(MemoryStore::new()));
    let n = AtomicU64::new(0);
    c.bench_function("memory/invite_then_accept", |b| {
        b.to_async(&rt).iter(|| async {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let email = EmailAddress::parse(format!("l{i}@bench.example")).expect("email");
            let created = roster
                .invite_member(&admin, org, email.clone(), Role::Member, None)
                .await
                .expect("invite");
            let learner = Actor::new(UserId::new(), email);
            let options = AcceptOptions {
                profile: profile(),
                existing_account: false,
                warning_acknowledged: false,
            };
            roster
                .accept_invitation(&learner, &created.token.expose(), options)
                .await
                .expect("accept");
        });
    });
}

fn bulk_invite(c: &mut Criterion) {
    let rt = runtime();
    let paste: String = (0..10_000)
        .map(|i| format!("learner{i}@bench.example\n"))
        .collect();
    let mut group = c.benchmark_group("memory");
    group.sample_size(10);
    group.bench_function("bulk_invite_10000", |b| {
        // Each iteration needs a fresh organization; building it is not timed.
        b.to_async(&rt).iter_custom(|iters| {
            let paste = &paste;
            async move {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    let (roster, admin, org) = world(MemoryStore::new()).await;
                    let start = std::time::Instant::now();
                    let report = roster
                        .invite_members(&admin, org, paste, Role::Member, None)
                        .await
                        .expect("bulk");
                    total += start.elapsed();
                    assert_eq!(report.invited.len(), 10_000);
                }
                total
            }
        });
    });
    group.finish();
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4)
}

fn list_members(c: &mut Criterion) {
    let rt = runtime();
    let store = MemoryStore::new();
    let (roster, admin, org) = rt.block_on(world(store.clone()));
    let before = resident_kib();
    let mut middle = None;
    rt.block_on(async {
        for batch in 0..100 {
            let organization = store.organization(org).await.expect("read").expect("org");
            let mut changes = ChangeSet::new(
                org,
                OrganizationWrite::Touch {
                    expected_version: organization.version,
                },
            );
            for i in 0..1000 {
                let n = batch * 1000 + i;
                let member = Member {
                    id: MemberId::new(),
                    organization: org,
                    user: UserId::new(),
                    email: EmailAddress::parse(format!("m{n}@bench.example")).expect("email"),
                    profile: profile(),
                    roles: RoleSet::learner(),
                    joined_at: organization.created_at,
                    invitation: None,
                    version: 0,
                };
                if n == 50_000 {
                    middle = Some(member.id);
                }
                changes.writes.push(Write::PutMember(member));
            }
            store.commit(changes).await.expect("commit");
        }
    });
    let after = resident_kib();
    eprintln!(
        "memory/100000 members: resident memory grew by {} KiB ({} bytes per member)",
        after.saturating_sub(before),
        after.saturating_sub(before) * 1024 / 100_000
    );
    let page = Page::after(middle.expect("middle member"), 50);
    c.bench_function("memory/list_page_of_50_of_100000", |b| {
        b.to_async(&rt).iter(|| async {
            let listing = roster
                .members(&admin, org, MemberFilter::default(), page)
                .await
                .expect("list");
            assert_eq!(listing.items.len(), 50);
        });
    });
}

criterion_group!(benches, invite_then_accept, bulk_invite, list_members);
criterion_main!(benches);
