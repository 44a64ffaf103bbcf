//! Several service instances on one database, and a database that fails under them.
//!
//! - `several_instances.rs`: four OS processes (this test binary re-invoking itself, each
//!   running `worker.rs`'s [`worker::replica_worker`]), each with its own `Roster` and
//!   connection pool, race random invitations, accepts, declines, revokes, resends, role
//!   changes, removals and mail delivery on four shared organizations, on one SQLite file and
//!   on one PostgreSQL schema. Afterwards the store must hold the invariants of the model test,
//!   every accepted invitation must have made exactly one member, and every queued mail must
//!   have been sent once or still be waiting (spec: INV-8, INV-9, INV-11, ROLE-2, ADM-5,
//!   ORG-4).
//! - `killed_connections.rs`: PostgreSQL connections killed while idle and in the middle of a
//!   commit: the command fails with a store error or succeeds, never half-written, and the
//!   next command on the same `Roster` works (spec: ERR-2). And a bulk invitation into an
//!   organization already full of pending invitations stays fast on a table whose statistics
//!   are stale.
//! - `crashes.rs`: a process that aborts right after a commit returned, or is killed with
//!   SIGKILL in the middle of writing: what was committed is in the SQLite file after the
//!   restart, what was not is wholly absent (spec: INV-9, ERR-2).
//! - `stopped_server.rs`: a PostgreSQL server of the test's own, stopped and started again
//!   under the commands (spec: ERR-2).
//!
//! The child processes, `replica_worker` and `crashing_writer`, are tests marked `#[ignore]`:
//! their parents run them with `--ignored --exact` and their orders in environment variables.
//! Run on their own, without orders, they fail rather than pass having checked nothing.

#[cfg(feature = "sqlite")]
mod crashes;
#[cfg(feature = "postgres")]
mod killed_connections;
mod several_instances;
#[cfg(feature = "postgres")]
mod stopped_server;
mod worker;

use std::{
    future::Future,
    io::Read,
    process::{Child, Command, ExitStatus, Stdio},
    sync::Arc,
    thread,
    time::{Duration as StdDuration, Instant},
};

use chrono::{DateTime, Utc};
use orgroster::{
    Actor, Clock, DynStore, EmailAddress, Error, Event, Invitation, InvitationFilter, ManualClock,
    Member, MemberFilter, OrganizationId, Page, RecordingMailer, Role, Roster, StoreError, UserId,
};
use uuid::Uuid;

use crate::fixture::email;
#[cfg(feature = "postgres")]
use crate::pg;

// ----- shared setup --------------------------------------------------------------------------

/// Set in a child process: the URL of the store [`worker::replica_worker`] works on.
const REPLICA: &str = "ORGROSTER_REPLICA";
/// The PostgreSQL schema of the store (PostgreSQL only).
const REPLICA_SCHEMA: &str = "ORGROSTER_REPLICA_SCHEMA";
/// The shared organizations, comma-separated.
const REPLICA_ORGS: &str = "ORGROSTER_REPLICA_ORGS";
/// The worker's index.
const REPLICA_INDEX: &str = "ORGROSTER_REPLICA_INDEX";
/// How many operations the worker runs.
const REPLICA_OPS: &str = "ORGROSTER_REPLICA_OPS";
/// The worker's seed. Set it in the parent's environment to replay a run.
const REPLICA_SEED: &str = "ORGROSTER_REPLICA_SEED";
/// A directory where each worker marks itself ready, and which it watches until every
/// worker is: so all start their operations together, however slowly the processes came up.
const REPLICA_START: &str = "ORGROSTER_REPLICA_START";

/// Processes sharing the database.
const WORKERS: usize = 4;
/// Organizations they share.
const ORGS: usize = 4;
/// Users each organization may invite (user 0, the founder, is already in).
const POOL_USERS: usize = 12;
/// The seat cap of every shared organization: fewer than the pool, so it binds (ORG-4).
const SEAT_CAP: u32 = 8;
/// Operations per worker.
const OPS: usize = 400;
/// The longest a child process may run.
const CHILD_DEADLINE: StdDuration = StdDuration::from_secs(180);

/// A current-thread runtime with I/O and timers, for tests that also wait on processes.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// User `i` of the pool every worker shares: 0 is the founder of every organization, 1..=12
/// are invitees. The same person in every organization, as a host's user would be.
fn pool_user(i: usize) -> Actor {
    let local = if i == 0 {
        "founder".to_owned()
    } else {
        format!("user{i}")
    };
    let id = Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 + i as u128);
    Actor::new(
        UserId::from_uuid(id),
        email(&format!("{local}@replica.example")),
    )
}

/// The pool index of the user an address belongs to.
fn pool_index(address: &EmailAddress) -> usize {
    let local = address.key().split('@').next().unwrap_or_default();
    if local == "founder" {
        return 0;
    }
    local
        .strip_prefix("user")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{address} is not a pool address"))
}

/// A tiny xorshift generator: workers are random, seeded, and need no dependency.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed: nearby seeds give unrelated streams, and never zero.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-enough in `0..n`; `n` must not be 0.
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "nothing to choose from");
        (self.next() % n as u64) as usize
    }
}

/// The seed of this run: `ORGROSTER_REPLICA_SEED` when set (to replay), else the time.
fn base_seed() -> u64 {
    std::env::var(REPLICA_SEED)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// Opens the store at `url`: `sqlite://…`, or `postgres://…` with the tables in `schema`.
async fn open_store(url: &str, schema: Option<&str>) -> Arc<DynStore> {
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres") {
        let schema = schema.expect("a PostgreSQL store needs its schema");
        return Arc::new(pg::store(url, schema, 3, None).await);
    }
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite") {
        let store = orgroster::SqliteStore::connect(url)
            .await
            .expect("opening the SQLite file");
        return Arc::new(store);
    }
    let _ = schema;
    panic!("no store for {url} in this build")
}

/// A roster on `store` at the fixed time of [`ManualClock::default`], as every process uses:
/// no invitation expires during a run, so seat counts are exact (spec: ORG-4).
fn roster_on(store: Arc<DynStore>, mailer: RecordingMailer) -> Roster {
    Roster::builder(store, mailer, orgroster::LinkKey::from_bytes([7; 32]))
        .clock(ManualClock::default())
        .build()
}

/// `founder` invites `address` into `org` as a member, without a team.
async fn invite(
    roster: &Roster,
    founder: &Actor,
    org: OrganizationId,
    address: &str,
) -> Result<orgroster::InvitationCreated, Error> {
    roster
        .invite_member(founder, org, email(address), Role::Member, None)
        .await
}

/// The time every roster of this module runs at.
fn fixed_now() -> DateTime<Utc> {
    ManualClock::default().now()
}

/// Every page of a keyset-paginated store listing.
async fn every<T, F, Fut>(mut fetch: F, id: impl Fn(&T) -> Uuid) -> Vec<T>
where
    F: FnMut(Page) -> Fut,
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut all = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let rows = fetch(page).await.expect("reading the store");
        let full = rows.len() >= page.len();
        let last = rows.last().map(&id);
        all.extend(rows);
        match (full, last) {
            (true, Some(last)) => page = Page::after(last, Page::MAX_LIMIT),
            _ => return all,
        }
    }
}

/// Everything a command on `org` could change, read through the `Store` trait.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    organization: Option<orgroster::Organization>,
    members: Vec<Member>,
    invitations: Vec<Invitation>,
    events: Vec<Event>,
    seats: orgroster::SeatUsage,
}

#[cfg(feature = "postgres")]
async fn snapshot(store: &DynStore, org: OrganizationId) -> Snapshot {
    Snapshot {
        organization: store.organization(org).await.expect("reading the store"),
        members: members_of(store, org).await,
        invitations: invitations_of(store, org).await,
        events: events_of(store, org).await,
        seats: store
            .seat_usage(org, fixed_now())
            .await
            .expect("reading the store"),
    }
}

async fn members_of(store: &DynStore, org: OrganizationId) -> Vec<Member> {
    every(
        |page| store.members(org, MemberFilter::default(), page),
        |m: &Member| m.id.as_uuid(),
    )
    .await
}

async fn invitations_of(store: &DynStore, org: OrganizationId) -> Vec<Invitation> {
    every(
        |page| store.invitations(org, InvitationFilter::default(), page),
        |i: &Invitation| i.id.as_uuid(),
    )
    .await
}

async fn events_of(store: &DynStore, org: OrganizationId) -> Vec<Event> {
    every(|page| store.events(org, page), |e: &Event| e.id.as_uuid()).await
}

/// A store error, as a killed connection must surface.
#[cfg(feature = "postgres")]
fn is_backend_failure(e: &Error) -> bool {
    matches!(e, Error::Store(StoreError::Backend { .. }))
}

/// The founder's bulk invitation of `paste` (members, no team) as a task of its own, so that
/// the test can cut it off while it runs.
#[cfg(feature = "postgres")]
fn spawn_bulk(
    roster: &Roster,
    founder: &Actor,
    org: OrganizationId,
    paste: String,
) -> tokio::task::JoinHandle<Result<orgroster::BulkInviteReport, Error>> {
    let (roster, founder) = (roster.clone(), founder.clone());
    tokio::spawn(async move {
        roster
            .invite_members(&founder, org, &paste, Role::Member, None)
            .await
    })
}

/// The paste of `n` fresh addresses tagged `tag`, one per line.
#[cfg(feature = "postgres")]
fn paste(tag: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{tag}-{i}@bulk.example"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ----- child processes -----------------------------------------------------------------------

/// This test binary, asked to run only the ignored test `name` (a child-process entry point,
/// by its full path).
fn child(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// How a child process ended, and what it printed.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    /// Panics unless the child exited successfully after printing `marker` (proof that the
    /// harness found and ran the entry point, rather than zero tests).
    fn assert_ran(&self, what: &str, marker: &str) {
        assert!(
            self.status.success(),
            "{what} failed with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            tail(&self.stdout),
            tail(&self.stderr)
        );
        assert!(
            self.stdout.contains(marker),
            "{what} did not run: {marker:?} missing\n--- stdout ---\n{}",
            tail(&self.stdout)
        );
    }
}

/// The last 4,000 bytes of `text`, for failure messages.
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(4000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Reads a child's pipe to the end on a thread of its own, so that no child ever blocks on a
/// full pipe while the parent waits for another.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// Waits for every child, killing (by its own handle) any still running at the deadline.
fn wait_all(mut children: Vec<Child>) -> Vec<Finished> {
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| (drain(c.stdout.take()), drain(c.stderr.take())))
        .collect();
    let deadline = Instant::now() + CHILD_DEADLINE;
    let mut statuses: Vec<Option<ExitStatus>> = vec![None; children.len()];
    while statuses.iter().any(Option::is_none) {
        for (child, status) in children.iter_mut().zip(&mut statuses) {
            if status.is_none() {
                *status = child.try_wait().expect("waiting for a child");
            }
        }
        if Instant::now() > deadline {
            for (child, status) in children.iter_mut().zip(&statuses) {
                if status.is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            let output: Vec<String> = readers
                .into_iter()
                .map(|(out, err)| {
                    let out = out.join().unwrap_or_default();
                    let err = err.join().unwrap_or_default();
                    format!("{}\n{}", tail(&out), tail(&err))
                })
                .collect();
            panic!("child processes still running after {CHILD_DEADLINE:?}: {output:#?}");
        }
        thread::sleep(StdDuration::from_millis(20));
    }
    statuses
        .into_iter()
        .zip(readers)
        .map(|(status, (out, err))| Finished {
            status: status.expect("every child finished"),
            stdout: out.join().expect("reading stdout"),
            stderr: err.join().expect("reading stderr"),
        })
        .collect()
}
