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
    Activity, ActivityId, ActivityKind, Actor, CourseId, DynStore, EmailAddress, MemberId,
    MemoryStore, OrganizationId, Period, Profile, RecordingMailer, ReportedActivity, ReportedKind,
    RoleSet, Roster, TeamId, TeamName, UserId,
    domain::{
        changes::{ChangeSet, OrganizationWrite, Write},
        member::Member,
    },
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

/// Run after populating: on PostgreSQL, `ANALYZE`, as autovacuum does soon after a bulk load
/// (the planner needs the statistics to hash-join team members and events).
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
                            orgroster::sqlx::query("ANALYZE")
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

/// 100 teams, 10,000 members (each in one team, every tenth in the next one too) who joined
/// before the year, and 1,000,000 events spread over the year, written straight to the store.
async fn populate(store: Arc<DynStore>) -> Populated {
    let roster = Roster::builder(
        Arc::clone(&store),
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
    let mut teams = Vec::with_capacity(TEAMS);
    for t in 0..TEAMS {
        let name = TeamName::parse(format!("Team {t:03}")).unwrap();
        teams.push(roster.create_team(&admin, org, name).await.unwrap().id);
    }
    let joined = year_start() - chrono::Duration::days(31);
    let mut users = Vec::with_capacity(MEMBERS);
    for batch in 0..MEMBERS / 1000 {
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
                profile: profile.clone(),
                roles: RoleSet::learner(),
                joined_at: joined,
                invitation: None,
                version: 0,
            };
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
        assert!(new.iter().all(|n| *n));
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

fn analytics(c: &mut Criterion) {
    let rt = runtime();
    // June 2025: 30 days in the middle of the year, about 82,000 events.
    let from = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
    let period = Period::new(from, from + chrono::Duration::days(30)).unwrap();
    let scratch = scratch::ScratchDir::new("bench");
    for (name, make) in stores(&rt, &scratch) {
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
            eprintln!("{name}: ANALYZE in {:.1} s", start.elapsed().as_secs_f64());
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
                        assert!(new.iter().all(|n| *n));
                    }
                }
                start.elapsed()
            }
        });
    });
}

criterion_group!(benches, analytics);
criterion_main!(benches);
