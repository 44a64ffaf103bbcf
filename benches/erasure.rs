//! Criterion bench of erasing a member's personal data (spec: USR-5): `Roster::erase_member`
//! of a member named by 10,000 audit events who has 10,000 learning activity records.
//! Target: under 1 s on SQLite and PostgreSQL.
//!
//! ```sh
//! cargo bench --bench erasure --all-features        # memory, SQLite file, PostgreSQL
//! ```
//!
//! - `{store}/erase_member_10000_events_10000_activities`: the erasure alone. Each iteration
//!   erases a member of an organization of its own, prepared beforehand (not timed): its
//!   founder (an administrator), 20 pending invitations with their queued mail, a team, the
//!   member and 9 other learners in it, 10,000 events naming the member (half their own
//!   profile updates, half roles the founder granted them) among 2,000 naming the others,
//!   and 10,000 activity records of the member's among 1,800 of the others'. The events go
//!   straight to the store as change sets, the activity as batches of 1,000; the rest
//!   through the roster. Once timed, the organization is deleted, so every iteration finds
//!   the store the same size.
//!
//! Before timing, a prepared store is settled as it would be after a while in service: on
//! SQLite, the write-ahead log is checkpointed (else the erasure's own checkpoint, which
//! empties the log of what was erased, would also fold in the preparation's 20,000 rows); on
//! PostgreSQL, `VACUUM ANALYZE`, as autovacuum would.
//!
//! Before each store's bench, two probes print to stderr, neither timed by criterion:
//! - memory: one erasure run in a fresh process (this binary, started again), which reports
//!   its resident memory before the erasure and its peak during it (`VmRSS`, `VmHWM` of
//!   `/proc/self/status`, the peak reset first). For the SQL stores the organization is
//!   prepared by this process, so the fresh one holds only the erasure's memory; for
//!   `MemoryStore` the fresh process prepares it, and may reuse memory the preparation freed.
//! - breakdown: the erasure's reads (every page of the organization's invitations, events
//!   and outbox, as the erasure reads them) and the change set it makes, committed as two
//!   and timed apart: the member's deletion with the pseudonymization of their activity and
//!   stints, then one rewrite per event naming them. On the SQL stores, with the time of one
//!   statement on a connection in a transaction (`SELECT 1`), to tell what share of the
//!   rewrites' commit its round trips take (the SQL stores run an erasure's commit step by
//!   step, one statement per rewritten event).
//!
//! PostgreSQL runs when `ORGROSTER_TEST_POSTGRES_URL` is set, in a fresh schema dropped when
//! the bench ends. The SQLite file is in a scratch directory, removed at the end.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use criterion::{Criterion, SamplingMode, criterion_group};
use orgroster::{
    Activity, ActivityId, ActivityKind, Actor, Capabilities, Capability, ChangeSet, CourseId,
    DynStore, EmailAddress, Event, EventActor, EventId, EventKind, InvitationFilter, LicenseKind,
    Member, MemberId, MemoryStore, OrganizationId, OrganizationWrite, Page, Profile, Recorded,
    RecordingMailer, Role, RoleSet, Roster, TeamName, UserId, Write,
};
use tokio::runtime::Runtime;

#[path = "../tests/support/scratch.rs"]
mod scratch;

#[cfg(feature = "postgres")]
#[path = "../tests/support/postgres.rs"]
mod pg;

/// Audit events naming the member erased.
const EVENTS: usize = 10_000;
/// The member's learning activity records.
const ACTIVITIES: usize = 10_000;
/// Other learners of the organization.
const OTHERS: usize = 9;
/// One event naming another learner for every this many of the member's.
const OTHER_EVENT_EVERY: usize = 5;
/// Activity records of each other learner.
const OTHER_ACTIVITIES: usize = 200;
/// Pending invitations (and queued mails) of the organization, to other addresses.
const INVITED: usize = 20;
/// Events per change set, and activity records per batch, when preparing.
const EVENT_BATCH: usize = 2_000;
const ACTIVITY_BATCH: usize = 1_000;

/// The environment variable that makes this binary the memory probe's fresh process.
const CHILD: &str = "ORGROSTER_BENCH_ERASURE_CHILD";

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

/// What a store needs besides the `Store` port: its pool, to settle it and to time one
/// statement, and what a fresh process needs to open it again.
enum Sql {
    Memory,
    #[cfg(feature = "sqlite")]
    Sqlite {
        pool: orgroster::sqlx::SqlitePool,
        url: String,
    },
    #[cfg(feature = "postgres")]
    Postgres {
        pool: orgroster::sqlx::PgPool,
        url: String,
        schema: String,
    },
}

impl Sql {
    /// Settles the store after preparing (see the module's documentation).
    async fn settle(&self) {
        match self {
            Self::Memory => {}
            #[cfg(feature = "sqlite")]
            Self::Sqlite { pool, .. } => {
                orgroster::sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(pool)
                    .await
                    .unwrap();
            }
            #[cfg(feature = "postgres")]
            Self::Postgres { pool, .. } => {
                orgroster::sqlx::query("VACUUM ANALYZE")
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    /// The mean time of `SELECT 1` on one connection in a transaction, as a commit run step
    /// by step sends its statements; `None` for `MemoryStore`.
    async fn statement_time(&self) -> Option<Duration> {
        #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
        const N: u32 = 2_000;
        match self {
            Self::Memory => None,
            #[cfg(feature = "sqlite")]
            Self::Sqlite { pool, .. } => {
                let mut tx = pool.begin().await.unwrap();
                let start = Instant::now();
                for _ in 0..N {
                    orgroster::sqlx::query("SELECT 1")
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                let took = start.elapsed() / N;
                tx.rollback().await.unwrap();
                Some(took)
            }
            #[cfg(feature = "postgres")]
            Self::Postgres { pool, .. } => {
                let mut tx = pool.begin().await.unwrap();
                let start = Instant::now();
                for _ in 0..N {
                    orgroster::sqlx::query("SELECT 1")
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                let took = start.elapsed() / N;
                tx.rollback().await.unwrap();
                Some(took)
            }
        }
    }

    /// The environment of a fresh process opening the same store.
    fn child_env(&self, name: &str) -> Vec<(&'static str, String)> {
        #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(unused_mut))]
        let mut env = vec![(CHILD, name.to_owned())];
        match self {
            Self::Memory => {}
            #[cfg(feature = "sqlite")]
            Self::Sqlite { url, .. } => env.push(("ORGROSTER_BENCH_ERASURE_URL", url.clone())),
            #[cfg(feature = "postgres")]
            Self::Postgres { url, schema, .. } => {
                env.push(("ORGROSTER_BENCH_ERASURE_URL", url.clone()));
                env.push(("ORGROSTER_BENCH_ERASURE_SCHEMA", schema.clone()));
            }
        }
        env
    }
}

/// Drops a PostgreSQL schema when dropped, also when a bench panics: on a thread of its own
/// with a runtime of its own, so that it works wherever the drop happens.
#[cfg(feature = "postgres")]
struct DropSchema {
    url: String,
    schema: String,
}

#[cfg(feature = "postgres")]
impl Drop for DropSchema {
    fn drop(&mut self) {
        let dropped = std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(pg::drop_schema(&self.url, &self.schema));
            })
            .join()
        });
        match dropped {
            Ok(()) => eprintln!("postgres: dropped schema {}", self.schema),
            Err(_) => eprintln!("postgres: could not drop schema {}", self.schema),
        }
    }
}

/// A store to bench.
struct BenchStore {
    name: &'static str,
    store: Arc<DynStore>,
    sql: Sql,
    #[cfg(feature = "postgres")]
    _schema: Option<DropSchema>,
}

/// The stores to bench, fresh and migrated; SQLite's file in `scratch`.
fn stores(rt: &Runtime, scratch: &scratch::ScratchDir) -> Vec<BenchStore> {
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(unused_mut))]
    let mut stores = vec![BenchStore {
        name: "memory",
        store: Arc::new(MemoryStore::new()),
        sql: Sql::Memory,
        #[cfg(feature = "postgres")]
        _schema: None,
    }];
    #[cfg(feature = "sqlite")]
    if wanted("sqlite_file/") {
        let url = scratch::sqlite_url(&scratch.path());
        let store = rt.block_on(async {
            let store = orgroster::SqliteStore::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            store
        });
        stores.push(BenchStore {
            name: "sqlite_file",
            sql: Sql::Sqlite {
                pool: store.pool().clone(),
                url,
            },
            store: Arc::new(store),
            #[cfg(feature = "postgres")]
            _schema: None,
        });
    }
    #[cfg(feature = "postgres")]
    if let Some(url) = pg::url().filter(|_| wanted("postgres/")) {
        let (schema, store) = rt.block_on(async {
            let schema = pg::fresh_schema(&url).await;
            eprintln!("postgres: schema {schema}");
            let store = orgroster::PostgresStore::connect_with(pg::options(&url, &schema))
                .await
                .unwrap();
            (schema, store)
        });
        stores.push(BenchStore {
            name: "postgres",
            sql: Sql::Postgres {
                pool: store.pool().clone(),
                url: url.clone(),
                schema: schema.clone(),
            },
            store: Arc::new(store),
            _schema: Some(DropSchema { url, schema }),
        });
    }
    let _ = (rt, scratch);
    stores
}

fn roster(store: &Arc<DynStore>) -> Roster {
    Roster::builder(
        Arc::clone(store),
        RecordingMailer::new(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .build()
}

/// An organization prepared for one erasure, and the member to erase.
#[derive(Clone, Copy)]
struct Scene {
    org: OrganizationId,
    founder: UserId,
    user: UserId,
}

/// A change set touching `org` at its stored version.
async fn touch(store: &DynStore, org: OrganizationId) -> ChangeSet {
    let organization = store.organization(org).await.unwrap().unwrap();
    ChangeSet::new(
        org,
        OrganizationWrite::Touch {
            expected_version: organization.version,
        },
    )
}

/// An event by `actor` of `kind`, now.
fn event(org: OrganizationId, actor: UserId, kind: EventKind) -> Event {
    Event {
        id: EventId::new(),
        organization: org,
        at: Utc::now(),
        actor: EventActor::User { user: actor },
        kind,
    }
}

/// Prepares an organization as the module's documentation says; `n` makes its names unique.
async fn scene(store: &Arc<DynStore>, roster: &Roster, n: u64) -> Scene {
    let founder = Actor::new(
        UserId::new(),
        EmailAddress::parse(format!("founder{n}@bench.example")).unwrap(),
    );
    let org = roster
        .create_organization(&founder, format!("Erasure {n}").parse().unwrap(), profile())
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
    let team = roster
        .create_team(&founder, org, TeamName::parse("Learners").unwrap())
        .await
        .unwrap()
        .id;
    let paste: String = (0..INVITED)
        .map(|i| format!("invitee{i}.{n}@bench.example\n"))
        .collect();
    let invited = roster
        .invite_members(&founder, org, &paste, Role::Member, None)
        .await
        .unwrap();
    assert_eq!(invited.invited.len(), INVITED);

    let now = Utc::now();
    let learners: Vec<Member> = (0..=OTHERS)
        .map(|i| Member {
            id: MemberId::new(),
            organization: org,
            user: UserId::new(),
            email: EmailAddress::parse(format!("learner{i}.{n}@bench.example")).unwrap(),
            // The member's name is theirs alone: the founder's mail does not name them.
            profile: if i == 0 {
                Profile::parse("Zelda", "Erasable").unwrap()
            } else {
                profile()
            },
            roles: RoleSet::learner(),
            joined_at: now,
            invitation: None,
            deactivated_at: None,
            metadata: None,
            version: 0,
        })
        .collect();
    let user = learners[0].user;
    let others: Vec<UserId> = learners[1..].iter().map(|m| m.user).collect();
    let mut changes = touch(store, org).await;
    for member in learners {
        let id = member.id;
        changes.writes.push(Write::PutMember(member));
        changes.writes.push(Write::AddTeamMember {
            team,
            member: id,
            at: now,
        });
    }
    store.commit(changes).await.unwrap();

    // The member's events, with the others' among them, in time order.
    let mut events = Vec::with_capacity(EVENTS + EVENTS / OTHER_EVENT_EVERY);
    for i in 0..EVENTS {
        events.push(if i % 2 == 0 {
            event(org, user, EventKind::ProfileUpdated { user })
        } else {
            event(
                org,
                founder.user,
                EventKind::RoleGranted {
                    user,
                    role: Role::Member,
                },
            )
        });
        if i % OTHER_EVENT_EVERY == 0 {
            let other = others[(i / OTHER_EVENT_EVERY) % OTHERS];
            events.push(event(org, other, EventKind::ProfileUpdated { user: other }));
        }
    }
    for chunk in events.chunks(EVENT_BATCH) {
        let mut changes = touch(store, org).await;
        changes.events.extend_from_slice(chunk);
        store.commit(changes).await.unwrap();
    }

    let courses: Vec<CourseId> = (0..20)
        .map(|c| CourseId::parse(format!("course-{c:02}")).unwrap())
        .collect();
    let whose = (0..ACTIVITIES).map(|_| user).chain(
        others
            .iter()
            .flat_map(|u| (0..OTHER_ACTIVITIES).map(|_| *u)),
    );
    let activities: Vec<Activity> = whose
        .enumerate()
        .map(|(i, user)| Activity {
            id: ActivityId::parse(format!("ev-{i}")).unwrap(),
            organization: org,
            user,
            course: courses[i % courses.len()].clone(),
            kind: match i % 3 {
                0 => ActivityKind::Progress {
                    percent: (i % 101) as u8,
                },
                1 => ActivityKind::TimeSpent { seconds: 300 },
                _ => ActivityKind::Enrolled,
            },
            at: now - chrono::Duration::seconds(i as i64),
        })
        .collect();
    for batch in activities.chunks(ACTIVITY_BATCH) {
        let recorded = store.record_activities(org, batch).await.unwrap();
        assert!(matches!(recorded, Recorded::New(new) if new.iter().all(|n| *n)));
    }
    Scene {
        org,
        founder: founder.user,
        user,
    }
}

/// Erases the scene's member; asserts every event naming them was rewritten.
async fn erase(roster: &Roster, scene: Scene) {
    let erased = roster.erase_member(scene.org, scene.user).await.unwrap();
    assert_eq!(erased.rewritten, EVENTS);
}

/// Every row of every page `fetch` reads, as the erasure reads them; how many pages.
async fn all_pages<T, F, Fut>(fetch: F, id: impl Fn(&T) -> uuid::Uuid) -> (Vec<T>, usize)
where
    F: Fn(Page) -> Fut,
    Fut: Future<Output = Result<Vec<T>, orgroster::StoreError>>,
{
    let mut all = Vec::new();
    let mut pages = 0;
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let rows = fetch(page).await.unwrap();
        pages += 1;
        let next = (rows.len() >= page.len())
            .then(|| rows.last().map(|r| Page::after(id(r), page.limit)))
            .flatten();
        all.extend(rows);
        match next {
            Some(next) => page = next,
            None => return (all, pages),
        }
    }
}

/// The erasure's reads and its change set's commits, timed apart, on a prepared scene; prints
/// them.
async fn breakdown(name: &str, store: &Arc<DynStore>, sql: &Sql, scene: Scene) {
    let org = scene.org;
    let start = Instant::now();
    let member = store.member(org, scene.user).await.unwrap().unwrap();
    let (_, invitation_pages) = all_pages(
        |page| store.invitations(org, InvitationFilter::default(), page),
        |i| i.id.as_uuid(),
    )
    .await;
    let (events, event_pages) = all_pages(|page| store.events(org, page), |e| e.id.as_uuid()).await;
    let (_, outbox_pages) = all_pages(|page| store.outbox(org, page), |m| m.id.as_uuid()).await;
    let reads = start.elapsed();

    // The change set the erasure makes, committed as two: the member's deletion and the
    // pseudonymization of their activity and stints, then the events naming them, rewritten.
    let pseudonym = UserId::new();
    let mut changes = touch(store, org).await;
    changes.writes.push(Write::DeleteMember {
        member: member.id,
        expected_version: member.version,
        at: Utc::now(),
    });
    changes.writes.push(Write::Pseudonymize {
        user: scene.user,
        pseudonym,
    });
    changes.events.push(event(
        org,
        scene.founder,
        EventKind::MemberErased { user: pseudonym },
    ));
    let start = Instant::now();
    store.commit(changes).await.unwrap();
    let deletion = start.elapsed();
    let mut changes = touch(store, org).await;
    let mut rewrites = 0;
    for mut event in events {
        let mut named = false;
        if let EventActor::User { user } = &mut event.actor
            && *user == scene.user
        {
            *user = pseudonym;
            named = true;
        }
        if let EventKind::ProfileUpdated { user } | EventKind::RoleGranted { user, .. } =
            &mut event.kind
            && *user == scene.user
        {
            *user = pseudonym;
            named = true;
        }
        if named {
            rewrites += 1;
            changes.writes.push(Write::RewriteEvent(event));
        }
    }
    assert_eq!(rewrites, EVENTS);
    let start = Instant::now();
    store.commit(changes).await.unwrap();
    let commit = start.elapsed();
    eprintln!(
        "{name}/erase_member breakdown: reads {:.1} ms ({invitation_pages} + {event_pages} + \
         {outbox_pages} pages of invitations, events, outbox); commits: the deletion and \
         pseudonymization {:.1} ms, the {rewrites} event rewrites {:.1} ms",
        ms(reads),
        ms(deletion),
        ms(commit)
    );
    if let Some(statement) = sql.statement_time().await {
        let round_trips = statement * u32::try_from(rewrites).unwrap();
        eprintln!(
            "{name}/erase_member breakdown: one statement in a transaction (SELECT 1) takes \
             {:.1} µs: {rewrites} of them take {:.1} ms, {:.0}% of the rewrites' commit",
            statement.as_secs_f64() * 1e6,
            ms(round_trips),
            100.0 * round_trips.as_secs_f64() / commit.as_secs_f64()
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The KiB of `field` (`VmRSS:`, `VmHWM:`) in this process's `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The memory probe, in this process: runs one erasure in a fresh process and prints its
/// resident memory before and its peak during the erasure.
fn memory_probe(name: &str, sql: &Sql, scene: Option<Scene>) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.envs(sql.child_env(name));
    if let Some(scene) = scene {
        command.env(
            "ORGROSTER_BENCH_ERASURE_SCENE",
            format!(
                "{} {} {}",
                scene.org.as_uuid(),
                scene.founder.as_uuid(),
                scene.user.as_uuid()
            ),
        );
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let figures: Vec<u64> = stdout
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match figures[..] {
        [before, peak, micros] => eprintln!(
            "{name}/erase_member memory: resident {before} KiB before the erasure, peak {peak} \
             KiB during it: +{} KiB (one erasure in a fresh process, {:.1} ms)",
            peak.saturating_sub(before),
            micros as f64 / 1e3
        ),
        _ => eprintln!(
            "{name}/erase_member memory: not measured ({}{})",
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    }
}

/// The memory probe's fresh process: opens the store the environment names, prepares the
/// scene when it is `MemoryStore`'s, and prints its resident memory before the erasure, its
/// peak during it (both KiB) and the erasure's time (µs).
fn child(name: &str) {
    let rt = runtime();
    rt.block_on(async {
        #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(unused))]
        let var = |v: &str| std::env::var(v).unwrap();
        let store: Arc<DynStore> = match name {
            #[cfg(feature = "sqlite")]
            "sqlite_file" => Arc::new(
                orgroster::SqliteStore::connect(&var("ORGROSTER_BENCH_ERASURE_URL"))
                    .await
                    .unwrap(),
            ),
            #[cfg(feature = "postgres")]
            "postgres" => Arc::new(
                orgroster::PostgresStore::connect_with(pg::options(
                    &var("ORGROSTER_BENCH_ERASURE_URL"),
                    &var("ORGROSTER_BENCH_ERASURE_SCHEMA"),
                ))
                .await
                .unwrap(),
            ),
            _ => Arc::new(MemoryStore::new()),
        };
        let roster = roster(&store);
        let scene = match std::env::var("ORGROSTER_BENCH_ERASURE_SCENE") {
            Ok(ids) => {
                let ids: Vec<uuid::Uuid> = ids.split(' ').map(|id| id.parse().unwrap()).collect();
                Scene {
                    org: OrganizationId::from_uuid(ids[0]),
                    founder: UserId::from_uuid(ids[1]),
                    user: UserId::from_uuid(ids[2]),
                }
            }
            Err(_) => scene(&store, &roster, 0).await,
        };
        // The connections opened before the peak is reset.
        store.member(scene.org, scene.user).await.unwrap().unwrap();
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        let before = status_kib("VmRSS:").unwrap();
        let start = Instant::now();
        erase(&roster, scene).await;
        let took = start.elapsed();
        let peak = status_kib("VmHWM:").unwrap();
        println!("{before} {peak} {}", took.as_micros());
    });
}

/// Whether criterion will run the erasure bench of the store `prefix` (`{store}/`) names, as
/// `benches/analytics.rs` decides it: the command line's filters are matched as substrings.
fn wanted(prefix: &str) -> bool {
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
    let bench = format!("{prefix}erase_member_{EVENTS}_events_{ACTIVITIES}_activities");
    filters.is_empty() || filters.iter().any(|f| bench.contains(f.as_str()))
}

fn erase_member(c: &mut Criterion) {
    let rt = runtime();
    let scratch = scratch::ScratchDir::new("bench");
    let mut n = 0u64;
    for bench in stores(&rt, &scratch) {
        let BenchStore {
            name, store, sql, ..
        } = &bench;
        if !wanted(&format!("{name}/")) {
            continue;
        }
        let roster = roster(store);
        rt.block_on(async {
            let start = Instant::now();
            let scene = scene(store, &roster, n).await;
            n += 1;
            sql.settle().await;
            eprintln!(
                "{name}: prepared an organization in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            breakdown(name, store, sql, scene).await;
            store.delete_organization(scene.org).await.unwrap();
        });
        let probe = match sql {
            Sql::Memory => None,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            _ => Some(rt.block_on(async {
                let scene = scene(store, &roster, n).await;
                sql.settle().await;
                scene
            })),
        };
        n += 1;
        memory_probe(name, sql, probe);
        if let Some(scene) = probe {
            rt.block_on(store.delete_organization(scene.org)).unwrap();
        }

        let mut group = c.benchmark_group(*name);
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        group.bench_function(
            format!("erase_member_{EVENTS}_events_{ACTIVITIES}_activities"),
            |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let (store, roster, sql) = (store, &roster, sql);
                    let first = n;
                    n += iters;
                    async move {
                        let mut total = Duration::ZERO;
                        for i in 0..iters {
                            let scene = scene(store, roster, first + i).await;
                            sql.settle().await;
                            let start = Instant::now();
                            erase(roster, scene).await;
                            total += start.elapsed();
                            store.delete_organization(scene.org).await.unwrap();
                        }
                        total
                    }
                });
            },
        );
        group.finish();
        #[cfg(feature = "postgres")]
        if let Sql::Postgres { pool, .. } = sql {
            rt.block_on(pool.close());
        }
    }
}

criterion_group!(benches, erase_member);

fn main() {
    if let Ok(name) = std::env::var(CHILD) {
        child(&name);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
