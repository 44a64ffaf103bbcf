//! Criterion benches of the commands on each store.
//!
//! ```sh
//! cargo bench --bench commands --all-features        # memory, SQLite file, PostgreSQL
//! ```
//!
//! PostgreSQL benches run when `ORGROSTER_TEST_POSTGRES_URL` is set. The listing benches'
//! setup prints how much resident memory 100,000 members take in `MemoryStore`, when the
//! process's resident memory grew (see `report_growth`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use orgroster::{
    AcceptOptions, Actor, Capabilities, Capability, ChangeSet, ClaimId, DynStore, EmailAddress,
    LicenseKind, Member, MemberFilter, MemberId, MemoryStore, OrganizationId, OrganizationWrite,
    Page, Profile, RecordingMailer, Role, RoleSet, Roster, UserId, Write,
};
use tokio::runtime::Runtime;

#[path = "../tests/support/scratch.rs"]
mod scratch;

#[cfg(feature = "postgres")]
#[path = "../tests/support/postgres.rs"]
mod pg;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn profile() -> Profile {
    Profile::parse("Bench", "Mark").unwrap()
}

/// Makes a fresh, migrated store.
type MakeStore = Box<dyn Fn() -> Arc<DynStore>>;

/// The stores to bench, name and constructor; SQLite's files in `scratch`.
fn stores(rt: &Runtime, scratch: &scratch::ScratchDir) -> Vec<(&'static str, MakeStore)> {
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(unused_mut))]
    let mut stores: Vec<(&'static str, MakeStore)> =
        vec![("memory", Box::new(|| Arc::new(MemoryStore::new())))];
    #[cfg(feature = "sqlite")]
    {
        let handle = rt.handle().clone();
        let dir = scratch.path();
        stores.push((
            "sqlite_file",
            Box::new(move || {
                handle.block_on(async {
                    let url = scratch::sqlite_url(&dir);
                    let store = orgroster::SqliteStore::connect(&url).await.unwrap();
                    store.migrate().await.unwrap();
                    Arc::new(store) as Arc<DynStore>
                })
            }),
        ));
    }
    #[cfg(feature = "postgres")]
    if let Some(url) = pg::url() {
        let handle = rt.handle().clone();
        stores.push((
            "postgres",
            Box::new(move || {
                handle.block_on(async {
                    let schema = pg::fresh_schema(&url).await;
                    eprintln!("postgres: schema {schema}");
                    let store = orgroster::PostgresStore::connect_with(pg::options(&url, &schema))
                        .await
                        .unwrap();
                    Arc::new(store) as Arc<DynStore>
                })
            }),
        ));
    }
    let _ = (rt, scratch);
    stores
}

async fn world(store: Arc<DynStore>) -> (Roster, Actor, OrganizationId) {
    let roster = Roster::builder(
        store,
        RecordingMailer::new(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .build();
    let admin = Actor::new(
        UserId::new(),
        EmailAddress::parse("admin@bench.example").unwrap(),
    );
    let org = roster
        .create_organization(&admin, "Bench".parse().unwrap(), profile())
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
    (roster, admin, org)
}

async fn invite_and_accept(roster: &Roster, admin: &Actor, org: OrganizationId, n: u64) {
    let email = EmailAddress::parse(format!("l{n}@bench.example")).unwrap();
    let created = roster
        .invite_member(admin, org, email.clone(), Role::Member, None)
        .await
        .unwrap();
    let learner = Actor::new(UserId::new(), email);
    let options = AcceptOptions::new(profile());
    roster
        .accept_invitation(&learner, &created.token.expose(), options)
        .await
        .unwrap();
}

fn invite_then_accept(c: &mut Criterion) {
    let rt = runtime();
    let scratch = scratch::ScratchDir::new("bench");
    for (name, make) in stores(&rt, &scratch) {
        let store = make();
        let (roster, admin, org) = rt.block_on(world(Arc::clone(&store)));
        let n = Arc::new(AtomicU64::new(0));
        c.bench_function(&format!("{name}/invite_then_accept"), |b| {
            b.to_async(&rt).iter(|| {
                invite_and_accept(&roster, &admin, org, n.fetch_add(1, Ordering::Relaxed))
            });
        });
        // Throughput of 8 concurrent tasks, all in one organization (without a seat cap, so
        // invitations and acceptances only check its version and need not take turns).
        let one = vec![(roster.clone(), admin.clone(), org); 8];
        c.bench_function(&format!("{name}/invite_then_accept_8_tasks"), |b| {
            b.to_async(&rt)
                .iter_custom(|iters| concurrently(one.clone(), Arc::clone(&n), iters));
        });
        // The same 8 tasks, each in an organization of its own.
        let own: Vec<_> = (0..8)
            .map(|_| rt.block_on(world(Arc::clone(&store))))
            .collect();
        c.bench_function(
            &format!("{name}/invite_then_accept_8_tasks_8_organizations"),
            |b| {
                b.to_async(&rt)
                    .iter_custom(|iters| concurrently(own.clone(), Arc::clone(&n), iters));
            },
        );
    }
}

/// Runs `iters` invite-and-accept cycles on each of the tasks' worlds at once; returns the
/// time per cycle (total time divided by the number of tasks).
async fn concurrently(
    worlds: Vec<(Roster, Actor, OrganizationId)>,
    n: Arc<AtomicU64>,
    iters: u64,
) -> Duration {
    let tasks = worlds.len() as u64;
    let base = n.fetch_add(iters * tasks + 1, Ordering::Relaxed);
    let start = Instant::now();
    let mut handles = Vec::new();
    for (t, (roster, admin, org)) in (0..).zip(worlds) {
        handles.push(tokio::spawn(async move {
            for i in 0..iters {
                invite_and_accept(&roster, &admin, org, base + t * iters + i).await;
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    start.elapsed() / u32::try_from(tasks).unwrap()
}

fn bulk_invite(c: &mut Criterion) {
    let rt = runtime();
    let paste: String = (0..10_000)
        .map(|i| format!("learner{i}@bench.example\n"))
        .collect();
    let scratch = scratch::ScratchDir::new("bench");
    for (name, make) in stores(&rt, &scratch) {
        // One store; a fresh organization per iteration. (Made here: `iter_custom`'s routine
        // already runs inside the runtime.)
        let store = make();
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.bench_function("bulk_invite_10000", |b| {
            // Each iteration needs a fresh organization; building it is not timed.
            b.to_async(&rt).iter_custom(|iters| {
                let paste = &paste;
                let store = Arc::clone(&store);
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (roster, admin, org) = world(Arc::clone(&store)).await;
                        let start = Instant::now();
                        let report = roster
                            .invite_members(&admin, org, paste, Role::Member, None)
                            .await
                            .unwrap();
                        total += start.elapsed();
                        assert_eq!(report.invited.len(), 10_000);
                    }
                    total
                }
            });
        });
        group.finish();
    }
}

/// The process's resident memory in KiB, where the system tells it.
fn resident_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4)
}

/// Prints how much resident memory 100,000 members took, when that was measured: the
/// process's resident memory grows only when the allocator asks the system for more, and
/// it may instead reuse memory that earlier benches freed, so no growth measures nothing.
fn report_growth(before: Option<u64>, after: Option<u64>) {
    match (before, after) {
        (Some(before), Some(after)) if after > before => eprintln!(
            "memory/100000 members: resident memory grew by {} KiB ({} bytes per member)",
            after - before,
            (after - before) * 1024 / 100_000
        ),
        _ => eprintln!(
            "memory/100000 members: resident memory not measured (it did not grow: the \
             allocator reused memory freed earlier, or the system does not tell it)"
        ),
    }
}

fn list_members(c: &mut Criterion) {
    let rt = runtime();
    let scratch = scratch::ScratchDir::new("bench");
    for (name, make) in stores(&rt, &scratch) {
        let store = make();
        let (roster, admin, org) = rt.block_on(world(Arc::clone(&store)));
        let before = resident_kib();
        let mut middle = None;
        rt.block_on(async {
            for batch in 0..100 {
                let organization = store.organization(org).await.unwrap().unwrap();
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
                        email: EmailAddress::parse(format!("m{n}@bench.example")).unwrap(),
                        profile: profile(),
                        roles: RoleSet::learner(),
                        joined_at: organization.created_at,
                        invitation: None,
                        deactivated_at: None,
                        metadata: None,
                        version: 0,
                    };
                    if n == 50_000 {
                        middle = Some(member.id);
                    }
                    changes.writes.push(Write::PutMember(member));
                }
                store.commit(changes).await.unwrap();
            }
        });
        if name == "memory" {
            report_growth(before, resident_kib());
        }
        let page = Page::after(middle.unwrap(), 50);
        c.bench_function(&format!("{name}/list_page_of_50_of_100000"), |b| {
            b.to_async(&rt).iter(|| async {
                let listing = roster
                    .members(&admin, org, MemberFilter::default(), page)
                    .await
                    .unwrap();
                assert_eq!(listing.items.len(), 50);
            });
        });
    }
}

/// A delivery pass's claim of 100 from an outbox where one organization has 100,000 due mails
/// and another one mail, due last: the claim takes turns across organizations (spec: MSG-3),
/// and its window reads every due row to do so. Claimed with no lease, so every iteration
/// finds the same backlog.
fn claim_from_a_backlog(c: &mut Criterion) {
    let rt = runtime();
    let scratch = scratch::ScratchDir::new("bench");
    for (name, make) in stores(&rt, &scratch) {
        let store = make();
        let quiet = rt.block_on(async {
            let (roster, admin, org) = world(Arc::clone(&store)).await;
            for batch in 0..10 {
                let paste: String = (0..10_000)
                    .map(|i| format!("b{batch}-{i}@bench.example\n"))
                    .collect();
                roster
                    .invite_members(&admin, org, &paste, Role::Member, None)
                    .await
                    .unwrap();
            }
            let (roster, admin, quiet) = world(Arc::clone(&store)).await;
            let email = EmailAddress::parse("quiet@bench.example").unwrap();
            roster
                .invite_member(&admin, quiet, email, Role::Member, None)
                .await
                .unwrap();
            quiet
        });
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.bench_function("claim_100_of_100001_due", |b| {
            b.to_async(&rt).iter(|| async {
                let at = chrono::Utc::now() + chrono::Duration::minutes(1);
                let claimed = store
                    .claim_outbox(ClaimId::new(), at, chrono::Duration::zero(), 100)
                    .await
                    .unwrap();
                assert!(claimed.iter().any(|m| m.organization == quiet));
            });
        });
        group.finish();
    }
}

criterion_group!(
    benches,
    invite_then_accept,
    bulk_invite,
    list_members,
    claim_from_a_backlog
);
criterion_main!(benches);
