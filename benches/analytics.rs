//! Criterion benches of learning analytics at scale: 10,000 members in 100 teams and
//! 1,000,000 events over one year.
//!
//! ```sh
//! cargo bench --bench analytics --all-features    # memory, SQLite file, PostgreSQL
//! ```
//!
//! - `{store}/compare_100_teams_30_days`: [`Roster::compare_teams`] of all 100 teams over 30
//!   days (about 82,000 events) as an administrator, the organization's totals included.
//!   Targets: under 100 ms in memory, under 1 s on SQLite and PostgreSQL.
//! - `sqlite_file/ingest_100000_in_batches_of_1000`: [`Roster::record_activity`] of 100,000
//!   new events in batches of 1,000, into the populated SQLite file. Target: under 2 s.
//!   `…_store_only` runs the same batches, checked beforehand, straight into
//!   `Store::record_activities`: the store's share of the time.
//!
//! - `{store}/member_statistics_at_10000_events` and `…_at_1000000_events`: one member's own
//!   [`Roster::statistics`] over the year, as that member, in an organization holding 10,000
//!   and 1,000,000 events of which 500 are the member's (SQLite file and PostgreSQL). A
//!   member's figures are read through the per-member index: both should cost about the
//!   same.
//!
//! A name filter populates only the stores its benches need, so
//! `cargo bench --bench analytics --all-features -- member_statistics` skips the 100 teams.
//!
//! Populating a store is not timed by criterion; its duration is printed. Events are recorded
//! in time order, as a platform reports them. PostgreSQL runs when `ORGROSTER_TEST_POSTGRES_URL`
//! is set, in a fresh schema, analyzed once populated (as autovacuum would be soon after a bulk
//! load: without statistics its planner nests loops over team members and events).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use orgroster::{
    Activity, ActivityId, ActivityKind, Actor, ChangeSet, CourseId, DynStore, EmailAddress, Member,
    MemberId, MemoryStore, OrganizationId, OrganizationWrite, Period, Profile, Recorded,
    RecordingMailer, ReportedActivity, ReportedKind, RoleSet, Roster, StatsScope, TeamId, TeamName,
    UserId, Write,
};
use tokio::runtime::Runtime;

#[path = "../tests/support/scratch.rs"]
mod scratch;

#[cfg(feature = "postgres")]
#[path = "../tests/support/postgres.rs"]
mod pg;

const MEMBERS: usize = 10_000;
const TEAMS: usize = 100;
const EVENTS: usize = 1_000_000;
const COURSES: usize = 60;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A tiny deterministic generator (SplitMix64): the same data on every run and store.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The year the events fall in.
fn year_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

/// What a learner does, with a realistic mix: progress and time most often.
fn kind(rng: &mut Rng) -> ActivityKind {
    match rng.below(100) {
        0..15 => ActivityKind::Enrolled,
        15..50 => ActivityKind::Progress {
            percent: (rng.below(101)) as u8,
        },
        50..85 => ActivityKind::TimeSpent {
            seconds: 60 + rng.below(3600) as u32,
        },
        85..95 => ActivityKind::Completed,
        _ => ActivityKind::CertificateEarned,
    }
}

/// One organization as the benches need it.
struct Populated {
    store: Arc<DynStore>,
    roster: Roster,
    admin: Actor,
    org: OrganizationId,
    teams: Vec<TeamId>,
    users: Vec<UserId>,
}

/// Makes a fresh, migrated store, with what to run once it is populated.
type MakeStore = Box<dyn Fn() -> (Arc<DynStore>, Settle)>;

/// Run after populating: on PostgreSQL, `VACUUM ANALYZE`, as autovacuum does soon after a
/// bulk load (the planner needs the statistics to hash-join team members and events, and an
/// index-only scan needs the visibility map to skip the table's pages).
type Settle = Option<Box<dyn FnOnce()>>;

/// The stores to bench, SQLite's files in `scratch`.
fn stores(rt: &Runtime, scratch: &scratch::ScratchDir) -> Vec<(&'static str, MakeStore)> {
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(unused_mut))]
    let mut stores: Vec<(&'static str, MakeStore)> =
        vec![("memory", Box::new(|| (Arc::new(MemoryStore::new()), None)))];
    #[cfg(feature = "sqlite")]
    {
        let handle = rt.handle().clone();
        let dir = scratch.path();
        stores.push((
            "sqlite_file",
            Box::new(move || {
                handle.block_on(async {
                    let url = scratch::sqlite_url(&dir);
                    eprintln!("sqlite_file: {url}");
                    let store = orgroster::SqliteStore::connect(&url).await.unwrap();
                    store.migrate().await.unwrap();
                    (Arc::new(store) as Arc<DynStore>, None)
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
                    let pool = store.pool().clone();
                    let handle = handle.clone();
                    let settle: Box<dyn FnOnce()> = Box::new(move || {
                        handle.block_on(async {
                            orgroster::sqlx::query("VACUUM ANALYZE")
                                .execute(&pool)
                                .await
                                .unwrap();
                        });
                    });
                    (Arc::new(store) as Arc<DynStore>, Some(settle))
                })
            }),
        ));
    }
    let _ = (rt, scratch);
    stores
}

/// A roster on `store` and a new organization "Bench" in it. Returns the roster, the
/// organization's administrator, the organization, and the administrator's profile, which
/// the benches give their members too.
async fn bench_organization(store: &Arc<DynStore>) -> (Roster, Actor, OrganizationId, Profile) {
    let roster = Roster::builder(
        Arc::clone(store),
        RecordingMailer::new(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .build();
    let admin = Actor::new(
        UserId::new(),
        EmailAddress::parse("admin@bench.example").unwrap(),
    );
    let profile = Profile::parse("Bench", "Mark").unwrap();
    let org = roster
        .create_organization(&admin, "Bench".parse().unwrap(), profile.clone())
        .await
        .unwrap()
        .organization
        .id;
    (roster, admin, org, profile)
}

/// A change set touching `org` at its stored version, for a batch of members written
/// straight to the store.
async fn member_batch(store: &Arc<DynStore>, org: OrganizationId) -> ChangeSet {
    let organization = store.organization(org).await.unwrap().unwrap();
    ChangeSet::new(
        org,
        OrganizationWrite::Touch {
            expected_version: organization.version,
        },
    )
}

/// Learner number `n` of `org`, `m{n}@bench.example`, who joined at `joined_at`.
fn learner(org: OrganizationId, n: usize, profile: &Profile, joined_at: DateTime<Utc>) -> Member {
    Member {
        id: MemberId::new(),
        organization: org,
        user: UserId::new(),
        email: EmailAddress::parse(format!("m{n}@bench.example")).unwrap(),
        profile: profile.clone(),
        roles: RoleSet::learner(),
        joined_at,
        invitation: None,
        deactivated_at: None,
        metadata: None,
        version: 0,
    }
}

/// 100 teams, 10,000 members (each in one team, every tenth in the next one too) who joined
/// before the year, and 1,000,000 events spread over the year, written straight to the store.
async fn populate(store: Arc<DynStore>) -> Populated {
    let (roster, admin, org, profile) = bench_organization(&store).await;
    let mut teams = Vec::with_capacity(TEAMS);
    for t in 0..TEAMS {
        let name = TeamName::parse(format!("Team {t:03}")).unwrap();
        teams.push(roster.create_team(&admin, org, name).await.unwrap().id);
    }
    let joined = year_start() - chrono::Duration::days(31);
    let mut users = Vec::with_capacity(MEMBERS);
    for batch in 0..MEMBERS / 1000 {
        let mut changes = member_batch(&store, org).await;
        for i in 0..1000 {
            let n = batch * 1000 + i;
            let member = learner(org, n, &profile, joined);
            let id = member.id;
            users.push(member.user);
            changes.writes.push(Write::PutMember(member));
            changes.writes.push(Write::AddTeamMember {
                team: teams[n % TEAMS],
                member: id,
                at: joined,
            });
            if n % 10 == 0 {
                changes.writes.push(Write::AddTeamMember {
                    team: teams[(n + 1) % TEAMS],
                    member: id,
                    at: joined,
                });
            }
        }
        store.commit(changes).await.unwrap();
    }
    let courses: Vec<CourseId> = (0..COURSES)
        .map(|c| CourseId::parse(format!("course-{c:02}")).unwrap())
        .collect();
    let mut rng = Rng(42);
    // Events are recorded as they happen: each batch of 10,000 covers the next 1/100 of the
    // year, in random order within it.
    let chunks = EVENTS / 10_000;
    let seconds_per_chunk = 365 * 86_400 / chunks;
    for chunk in 0..chunks {
        let activities: Vec<Activity> = (0..10_000)
            .map(|i| Activity {
                id: ActivityId::parse(format!("ev-{}", chunk * 10_000 + i)).unwrap(),
                organization: org,
                user: users[rng.below(MEMBERS)],
                // A few popular courses, a long tail.
                course: courses[rng.below(COURSES).min(rng.below(COURSES))].clone(),
                kind: kind(&mut rng),
                at: year_start()
                    + chrono::Duration::seconds(
                        (chunk * seconds_per_chunk + rng.below(seconds_per_chunk)) as i64,
                    ),
            })
            .collect();
        let new = store.record_activities(org, &activities).await.unwrap();
        assert!(matches!(new, Recorded::New(new) if new.iter().all(|n| *n)));
    }
    Populated {
        store,
        roster,
        admin,
        org,
        teams,
        users,
    }
}

/// Whether criterion will run the bench `id` (`group/name`): the command line's filters are
/// matched as substrings, as a plain-word filter matches in criterion. Flags and the values
/// of criterion's options are not filters.
fn wanted(id: &str) -> bool {
    const WITH_VALUE: &[&str] = &[
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--output-format",
        "--color",
        "--plotting-backend",
        "--format",
    ];
    let mut filters = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg);
        }
    }
    filters.is_empty() || filters.iter().any(|f| id.contains(f.as_str()))
}

/// How many events of a member-statistics organization are the member's own.
const MEMBER_EVENTS: usize = 500;

/// An organization of `members` members holding `events` events over the year, of which
/// [`MEMBER_EVENTS`] are the first member's, spread over the year like the others. Returns
/// the organization and that member as an actor.
async fn populate_for_member(
    store: &Arc<DynStore>,
    members: usize,
    events: usize,
) -> (Roster, OrganizationId, Actor) {
    let (roster, _, org, profile) = bench_organization(store).await;
    let mut users = Vec::with_capacity(members);
    for batch in 0..members.div_ceil(1000) {
        let mut changes = member_batch(store, org).await;
        for n in batch * 1000..members.min((batch + 1) * 1000) {
            let member = learner(org, n, &profile, year_start());
            users.push(member.user);
            changes.writes.push(Write::PutMember(member));
        }
        store.commit(changes).await.unwrap();
    }
    let courses: Vec<CourseId> = (0..COURSES)
        .map(|c| CourseId::parse(format!("course-{c:02}")).unwrap())
        .collect();
    let mut rng = Rng(11);
    // In time order, batch by batch; the member's events every `events / MEMBER_EVENTS`.
    let every = events / MEMBER_EVENTS;
    let seconds = 365 * 86_400 / events as i64;
    for chunk in (0..events).collect::<Vec<_>>().chunks(10_000) {
        let activities: Vec<Activity> = chunk
            .iter()
            .map(|&n| Activity {
                id: ActivityId::parse(format!("ev-{n}")).unwrap(),
                organization: org,
                user: if n % every == 0 {
                    users[0]
                } else {
                    users[1 + rng.below(members - 1)]
                },
                course: courses[rng.below(COURSES)].clone(),
                kind: kind(&mut rng),
                at: year_start() + chrono::Duration::seconds(n as i64 * seconds),
            })
            .collect();
        store.record_activities(org, &activities).await.unwrap();
    }
    let member = Actor::new(users[0], EmailAddress::parse("m0@bench.example").unwrap());
    (roster, org, member)
}

/// One member's statistics in a small and a large organization, side by side in one store.
fn member_statistics(c: &mut Criterion) {
    let rt = runtime();
    let year = Period::new(year_start(), year_start() + chrono::Duration::days(365)).unwrap();
    let scratch = scratch::ScratchDir::new("bench");
    for (name, make) in stores(&rt, &scratch) {
        if name == "memory" || !wanted(&format!("{name}/member_statistics")) {
            continue;
        }
        let (store, settle) = make();
        let mut sizes = Vec::new();
        for (members, events) in [(100, 10_000), (10_000, 1_000_000)] {
            let start = Instant::now();
            let world = rt.block_on(populate_for_member(&store, members, events));
            eprintln!(
                "{name}: populated {members} members and {events} events in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            sizes.push((events, world));
        }
        if let Some(settle) = settle {
            settle();
        }
        let mut group = c.benchmark_group(name);
        group
            .sample_size(50)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for (events, (roster, org, member)) in &sizes {
            group.bench_function(format!("member_statistics_at_{events}_events"), |b| {
                b.to_async(&rt).iter(|| async {
                    let stats = roster
                        .statistics(member, *org, StatsScope::Member(member.user), year)
                        .await
                        .unwrap();
                    assert_eq!(stats.active_learners, 1);
                });
            });
        }
        group.finish();
    }
}

fn analytics(c: &mut Criterion) {
    let rt = runtime();
    // June 2025: 30 days in the middle of the year, about 82,000 events.
    let from = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
    let period = Period::new(from, from + chrono::Duration::days(30)).unwrap();
    let scratch = scratch::ScratchDir::new("bench");
    for (name, make) in stores(&rt, &scratch) {
        let compare = format!("{name}/compare_100_teams_30_days");
        let ingest_too = name == "sqlite_file" && wanted(&format!("{name}/ingest_100000"));
        if !wanted(&compare) && !ingest_too {
            continue;
        }
        let (store, settle) = make();
        let start = Instant::now();
        let world = rt.block_on(populate(Arc::clone(&store)));
        eprintln!(
            "{name}: populated {MEMBERS} members in {TEAMS} teams and {EVENTS} events in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        if let Some(settle) = settle {
            let start = Instant::now();
            settle();
            eprintln!("{name}: settled in {:.1} s", start.elapsed().as_secs_f64());
        }
        let once = rt
            .block_on(
                world
                    .roster
                    .compare_teams(&world.admin, world.org, &world.teams, period),
            )
            .unwrap();
        let org = once.organization.as_ref().unwrap();
        eprintln!(
            "{name}: June: {} active learners, {} enrolments, {} completions, {:.0} hours",
            org.active_learners,
            org.enrolments,
            org.completions,
            org.time_spent_seconds as f64 / 3600.0
        );

        let mut group = c.benchmark_group(name);
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5))
            .sampling_mode(SamplingMode::Flat);
        group.bench_function("compare_100_teams_30_days", |b| {
            b.to_async(&rt).iter(|| async {
                let comparison = world
                    .roster
                    .compare_teams(&world.admin, world.org, &world.teams, period)
                    .await
                    .unwrap();
                assert_eq!(comparison.teams.len(), TEAMS);
            });
        });
        if name == "sqlite_file" {
            ingest(&mut group, &rt, &world, true);
            ingest(&mut group, &rt, &world, false);
        }
        group.finish();
    }
}

/// 100,000 new events through the roster, in batches of 1,000, as they arrive: dated after
/// every event already recorded (from 2026 on, out of the compared period), one second apart.
/// Building the batches is not timed.
fn ingest(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    world: &Populated,
    through_roster: bool,
) {
    static ROUND: AtomicU64 = AtomicU64::new(0);
    let mut rng = Rng(7);
    let name = if through_roster {
        "ingest_100000_in_batches_of_1000"
    } else {
        // The store's share of the above: the same batches, checked beforehand.
        "ingest_100000_in_batches_of_1000_store_only"
    };
    group.bench_function(name, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let mut batches = Vec::new();
            for _ in 0..iters {
                let r = ROUND.fetch_add(1, Ordering::Relaxed);
                for batch in 0..100 {
                    let events: Vec<ReportedActivity> = (0..1000)
                        .map(|i| ReportedActivity {
                            id: format!("in-{r}-{batch}-{i}"),
                            user: world.users[rng.below(MEMBERS)],
                            course: format!("course-{:02}", rng.below(COURSES)),
                            kind: match rng.below(3) {
                                0 => ReportedKind::Enrolled,
                                1 => ReportedKind::Progress { percent: 50 },
                                _ => ReportedKind::TimeSpent { seconds: 600 },
                            },
                            at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                                + chrono::Duration::seconds(
                                    (r as usize * 100_000 + batch * 1000 + i) as i64,
                                ),
                        })
                        .collect();
                    batches.push(events);
                }
            }
            let checked: Vec<Vec<Activity>> = batches
                .iter()
                .map(|events| events.iter().map(|e| e.check(world.org).unwrap()).collect())
                .collect();
            async move {
                let start = Instant::now();
                if through_roster {
                    for events in &batches {
                        let receipt = world
                            .roster
                            .record_activity(world.org, events)
                            .await
                            .unwrap();
                        assert_eq!(receipt.recorded, 1000);
                    }
                } else {
                    for activities in &checked {
                        let new = world
                            .store
                            .record_activities(world.org, activities)
                            .await
                            .unwrap();
                        assert!(matches!(new, Recorded::New(new) if new.iter().all(|n| *n)));
                    }
                }
                start.elapsed()
            }
        });
    });
}

criterion_group!(benches, analytics, member_statistics);
criterion_main!(benches);
