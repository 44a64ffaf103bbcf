//! Several service instances on one database, and a database that fails under them.
//!
//! - Four OS processes (this test binary re-invoking itself, see [`replica_worker`]), each with
//!   its own `Roster` and connection pool, race random invitations, accepts, declines,
//!   revokes, resends, role changes, removals and mail delivery on three shared organizations,
//!   on one SQLite file and on one PostgreSQL schema. Afterwards the store must hold the
//!   invariants of the model test, every accepted invitation must have made exactly one
//!   member, and every queued mail must have been sent once or still be waiting
//!   (spec: INV-8, INV-9, INV-11, ROLE-2, ADM-5, ORG-4).
//! - PostgreSQL connections killed while idle and in the middle of a commit: the command fails
//!   with a store error or succeeds, never half-written, and the next command on the same
//!   `Roster` works (spec: ERR-2). And a bulk invitation into an organization already full
//!   of pending invitations stays fast on a table whose statistics are stale.
//! - A process that aborts right after a commit returned, or is killed with SIGKILL in the
//!   middle of writing: what was committed is in the SQLite file after the restart, what was
//!   not is wholly absent (spec: INV-9, ERR-2).
//!
//! Child processes read their orders from environment variables; run without them,
//! [`replica_worker`] and [`crashing_writer`] do nothing.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    io::Read,
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::Arc,
    thread,
    time::{Duration as StdDuration, Instant},
};

use chrono::{DateTime, Utc};
use orgroster::{
    AcceptOptions, Actor, Clock, DynStore, EmailAddress, Error, Event, EventKind, Invitation,
    InvitationFilter, InvitationStatus, ManualClock, Member, MemberFilter, OrganizationId, Page,
    RecordingMailer, Role, Roster, StoreError, UserId,
};
#[cfg(feature = "sqlite")]
use orgroster::{MailContent, Store};
use uuid::Uuid;

use crate::fixture::{email, licensed_organization, profile};
#[cfg(feature = "postgres")]
use crate::pg;

// ----- shared setup --------------------------------------------------------------------------

/// Set in a child process: the URL of the store to work on. Its presence makes
/// [`replica_worker`] a worker.
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

// ----- child processes -----------------------------------------------------------------------

/// This test binary, asked to run only the test `name` (a child-process entry point).
fn child(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
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

// ----- several instances, one database: the worker ---------------------------------------------

/// A worker process of the replica tests. Does nothing unless `ORGROSTER_REPLICA` is set;
/// then it opens its own store (its own pool) and runs its share of random commands on the
/// shared organizations, failing on any store error or broken invariant.
#[test]
fn replica_worker() {
    let Ok(url) = std::env::var(REPLICA) else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let schema = std::env::var(REPLICA_SCHEMA).ok();
    let orgs: Vec<OrganizationId> = var(REPLICA_ORGS)
        .split(',')
        .map(|id| id.parse().expect("an organization id"))
        .collect();
    let index: usize = var(REPLICA_INDEX).parse().expect("a worker index");
    let ops: usize = var(REPLICA_OPS).parse().expect("an operation count");
    let seed: u64 = var(REPLICA_SEED).parse().expect("a seed");
    runtime().block_on(async {
        let store = open_store(&url, schema.as_deref()).await;
        let mailer = RecordingMailer::new();
        let mut worker = Worker {
            roster: roster_on(store, mailer.clone()),
            mailer,
            orgs,
            rng: Rng::new(seed),
            links: Vec::new(),
            tally: BTreeMap::new(),
        };
        start_together(Path::new(&var(REPLICA_START)), index).await;
        let started = epoch_ms();
        for _ in 0..ops {
            worker.step().await;
        }
        println!("window {started} {}", epoch_ms());
        for (outcome, n) in &worker.tally {
            println!("tally {outcome} = {n}");
        }
        println!("replica worker {index} finished");
    });
}

/// Marks worker `index` ready in `dir`, then waits until all [`WORKERS`] are.
async fn start_together(dir: &Path, index: usize) {
    std::fs::write(dir.join(format!("ready-{index}")), b"").expect("marking the worker ready");
    let deadline = Instant::now() + CHILD_DEADLINE;
    while std::fs::read_dir(dir).expect("the start directory").count() < WORKERS {
        assert!(Instant::now() < deadline, "the other workers never came up");
        tokio::time::sleep(StdDuration::from_millis(2)).await;
    }
}

/// Milliseconds since the Unix epoch: when workers ran, comparable across processes.
fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// A link a worker holds: the invitations it sent or resent itself (tokens are only ever
/// returned to the inviter).
#[derive(Debug)]
struct Link {
    user: usize,
    token: String,
}

#[derive(Debug)]
struct Worker {
    roster: Roster,
    mailer: RecordingMailer,
    orgs: Vec<OrganizationId>,
    rng: Rng,
    links: Vec<Link>,
    tally: BTreeMap<String, u64>,
}

/// The tally name of an error a command may answer while other instances race it; panics on
/// anything else (a store error above all).
fn expected(op: &str, error: Error) -> &'static str {
    match error {
        Error::Forbidden { .. } => "forbidden",
        Error::NotFound { .. } => "not found",
        Error::InvitationNotPending { .. } => "not pending",
        Error::AlreadyMember => "already member",
        Error::AlreadyInvited => "already invited",
        Error::SeatLimit { .. } => "seat limit",
        Error::RolesNotCumulative { .. } => "not cumulative",
        Error::RoleAlreadyHeld { .. } => "already held",
        Error::RoleNotHeld { .. } => "not held",
        Error::LastAdministrator => "last administrator",
        Error::Conflict => "conflict",
        other => panic!("{op}: unexpected error {other:?}: {other}"),
    }
}

/// "ok", or the tally name of an expected error.
fn outcome<T>(op: &str, result: Result<T, Error>) -> (Option<T>, &'static str) {
    match result {
        Ok(value) => (Some(value), "ok"),
        Err(e) => (None, expected(op, e)),
    }
}

const GRANTABLE: [Role; 3] = [Role::Administrator, Role::Manager, Role::TeamSupervisor];

impl Worker {
    async fn step(&mut self) {
        let org = self.orgs[self.rng.below(self.orgs.len())];
        let actor = self.actor(org).await;
        let mut roll = self.rng.below(100);
        if (28..54).contains(&roll) && self.links.is_empty() {
            roll = 0; // No link to accept or decline: send one.
        }
        let (op, result) = match roll {
            0..20 => ("invite member", self.invite_member(&actor, org).await),
            20..28 => ("invite administrator", self.invite_admin(&actor, org).await),
            28..48 => ("accept", self.accept().await),
            48..54 => ("decline", self.decline().await),
            54..64 => ("revoke", self.revoke(&actor, org).await),
            64..74 => ("resend", self.resend(&actor, org).await),
            74..84 => ("grant role", self.grant(&actor, org).await),
            84..92 => ("revoke role", self.revoke_role(&actor, org).await),
            92..97 => ("remove member", self.remove(&actor, org).await),
            _ => ("deliver mail", self.deliver().await),
        };
        *self.tally.entry(format!("{op}: {result}")).or_default() += 1;
        self.check(org).await;
    }

    /// Usually one of the organization's administrators, as stored now; sometimes any user of
    /// the pool (who is mostly refused: spec: ROLE-4).
    async fn actor(&mut self, org: OrganizationId) -> Actor {
        if self.rng.below(10) == 0 {
            return pool_user(self.rng.below(POOL_USERS + 1));
        }
        let filter = MemberFilter {
            role: Some(Role::Administrator),
            team: None,
        };
        let admins = self
            .roster
            .store()
            .members(org, filter, Page::first(100))
            .await
            .expect("reading the administrators");
        assert!(!admins.is_empty(), "ADM-5: {org} has no administrator");
        let admin = &admins[self.rng.below(admins.len())];
        Actor::new(admin.user, admin.email.clone())
    }

    /// A random member of `org`, if any.
    async fn some_member(&mut self, org: OrganizationId) -> Option<Member> {
        let members = self
            .roster
            .store()
            .members(org, MemberFilter::default(), Page::first(100))
            .await
            .expect("reading the members");
        (!members.is_empty()).then(|| members[self.rng.below(members.len())].clone())
    }

    /// A random pending invitation of `org`, as the actor's listing shows it.
    async fn some_pending(
        &mut self,
        actor: &Actor,
        org: OrganizationId,
        op: &str,
    ) -> Result<Option<Invitation>, &'static str> {
        let listing = self
            .roster
            .invitations(actor, org, InvitationFilter::pending(), Page::first(100))
            .await
            .map_err(|e| expected(op, e))?;
        let items = listing.items;
        Ok((!items.is_empty()).then(|| items[self.rng.below(items.len())].invitation.clone()))
    }

    fn keep_link(&mut self, invitation: &Invitation, token: &orgroster::InvitationToken) {
        self.links.push(Link {
            user: pool_index(&invitation.email),
            token: token.expose(),
        });
    }

    fn take_link(&mut self) -> Option<Link> {
        (!self.links.is_empty()).then(|| {
            let i = self.rng.below(self.links.len());
            self.links.swap_remove(i)
        })
    }

    async fn invite_member(&mut self, actor: &Actor, org: OrganizationId) -> &'static str {
        let who = pool_user(1 + self.rng.below(POOL_USERS));
        let role = [Role::Member, Role::Manager, Role::TeamSupervisor][self.rng.below(3)];
        let result = self
            .roster
            .invite_member(actor, org, who.email, role, None)
            .await;
        let (created, name) = outcome("invite member", result);
        if let Some(created) = created {
            self.keep_link(&created.invitation, &created.token);
        }
        name
    }

    async fn invite_admin(&mut self, actor: &Actor, org: OrganizationId) -> &'static str {
        let who = pool_user(1 + self.rng.below(POOL_USERS));
        let result = self
            .roster
            .invite_administrator(actor, org, who.email, profile("Pool", "Administrator"))
            .await;
        let (created, name) = outcome("invite administrator", result);
        if let Some(created) = created {
            self.keep_link(&created.invitation, &created.token);
        }
        name
    }

    /// The invitee of one of this worker's links accepts it. Other workers may have revoked,
    /// resent (killing this link) or declined it meanwhile, or be accepting it too.
    async fn accept(&mut self) -> &'static str {
        let Some(link) = self.take_link() else {
            return "no link";
        };
        let options = AcceptOptions {
            profile: profile("Pool", "Invitee"),
            existing_account: false,
            warning_acknowledged: false,
        };
        let result = self
            .roster
            .accept_invitation(&pool_user(link.user), &link.token, options)
            .await;
        outcome("accept", result).1
    }

    async fn decline(&mut self) -> &'static str {
        let Some(link) = self.take_link() else {
            return "no link";
        };
        outcome("decline", self.roster.decline_invitation(&link.token).await).1
    }

    async fn revoke(&mut self, actor: &Actor, org: OrganizationId) -> &'static str {
        let invitation = match self.some_pending(actor, org, "list invitations").await {
            Ok(Some(invitation)) => invitation,
            Ok(None) => return "none pending",
            Err(name) => return name,
        };
        let result = self
            .roster
            .revoke_invitation(actor, org, invitation.id)
            .await;
        outcome("revoke", result).1
    }

    async fn resend(&mut self, actor: &Actor, org: OrganizationId) -> &'static str {
        let invitation = match self.some_pending(actor, org, "list invitations").await {
            Ok(Some(invitation)) => invitation,
            Ok(None) => return "none pending",
            Err(name) => return name,
        };
        let result = self
            .roster
            .resend_invitation(actor, org, invitation.id)
            .await;
        let (created, name) = outcome("resend", result);
        if let Some(created) = created {
            self.keep_link(&created.invitation, &created.token);
        }
        name
    }

    async fn grant(&mut self, actor: &Actor, org: OrganizationId) -> &'static str {
        let Some(member) = self.some_member(org).await else {
            return "no member";
        };
        let role = GRANTABLE[self.rng.below(GRANTABLE.len())];
        let result = self.roster.grant_role(actor, org, member.user, role).await;
        outcome("grant role", result).1
    }

    async fn revoke_role(&mut self, actor: &Actor, org: OrganizationId) -> &'static str {
        let Some(member) = self.some_member(org).await else {
            return "no member";
        };
        let role = GRANTABLE[self.rng.below(GRANTABLE.len())];
        let result = self.roster.revoke_role(actor, org, member.user, role).await;
        outcome("revoke role", result).1
    }

    async fn remove(&mut self, actor: &Actor, org: OrganizationId) -> &'static str {
        let Some(member) = self.some_member(org).await else {
            return "no member";
        };
        let result = self.roster.remove_member(actor, org, member.user).await;
        outcome("remove member", result).1
    }

    /// One delivery pass; prints the `Message-ID` of every mail sent, for the parent to check
    /// that no two instances sent the same row (spec: INV-9).
    async fn deliver(&mut self) -> &'static str {
        self.roster
            .deliver_mail(5)
            .await
            .unwrap_or_else(|e| panic!("deliver mail: unexpected error {e:?}: {e}"));
        for mail in self.mailer.take() {
            println!("sent {}", mail.message_id);
            // The link's hash, for the parent to match mail to the invitations it opens.
            if let Some((_, token)) = mail
                .text
                .split_whitespace()
                .find_map(|w| w.rsplit_once("/invitations/"))
            {
                let token = orgroster::InvitationToken::parse(token).expect("a whole link");
                println!("link {}", token.hash().to_hex());
            }
        }
        "ok"
    }

    /// What must hold after every command, whatever the other instances do; each is one
    /// statement, so it reads one consistent state.
    async fn check(&self, org: OrganizationId) {
        let store = self.roster.store();
        // spec: ORG-4
        let seats = store
            .seat_usage(org, fixed_now())
            .await
            .expect("reading seat usage");
        let cap = store
            .organization(org)
            .await
            .expect("reading the organization")
            .and_then(|o| o.seat_cap);
        assert!(
            cap.is_none_or(|cap| seats.used() <= u64::from(cap)),
            "ORG-4: {org} uses {seats:?}, over the cap of {cap:?}"
        );
        // spec: ADM-5
        let only_administrators = MemberFilter {
            role: Some(Role::Administrator),
            team: None,
        };
        let admins = store
            .members(org, only_administrators, Page::first(Page::MAX_LIMIT))
            .await
            .expect("counting administrators")
            .len();
        assert!(admins >= 1, "ADM-5: {org} has no administrator");
    }
}

// ----- several instances, one database: the drivers --------------------------------------------

/// Creates the shared organizations on `store`, founded by pool user 0.
async fn shared_organizations(store: Arc<DynStore>) -> Vec<OrganizationId> {
    let roster = roster_on(store, RecordingMailer::new());
    let mut orgs = Vec::new();
    for k in 0..ORGS {
        let name = format!("Replica Org {k}");
        // The last has no seat cap, so that its invitations commit side by side rather than
        // in turn (spec: ORG-4).
        let cap = (k + 1 < ORGS).then_some(SEAT_CAP);
        orgs.push(licensed_organization(&roster, &pool_user(0), &name, cap).await);
    }
    orgs
}

/// Runs [`WORKERS`] worker processes on the store at `url` and returns what each printed.
fn run_workers(url: &str, schema: Option<&str>, orgs: &[OrganizationId]) -> Vec<String> {
    let seed = base_seed();
    let orgs: Vec<String> = orgs.iter().map(ToString::to_string).collect();
    let start = std::env::temp_dir().join(format!("orgroster-start-{}", Uuid::now_v7()));
    std::fs::create_dir(&start).expect("a start directory");
    let started = Instant::now();
    let children = (0..WORKERS)
        .map(|index| {
            let mut command = child("replicas::replica_worker");
            command
                .env(REPLICA, url)
                .env(REPLICA_START, &start)
                .env(REPLICA_ORGS, orgs.join(","))
                .env(REPLICA_INDEX, index.to_string())
                .env(REPLICA_OPS, OPS.to_string())
                .env(REPLICA_SEED, seed.wrapping_add(index as u64).to_string());
            match schema {
                Some(schema) => command.env(REPLICA_SCHEMA, schema),
                None => command.env_remove(REPLICA_SCHEMA),
            };
            command.spawn().expect("starting a worker process")
        })
        .collect();
    let finished = wait_all(children);
    let _ = std::fs::remove_dir_all(&start);
    for (index, f) in finished.iter().enumerate() {
        f.assert_ran(
            &format!(
                "worker {index} (seed {}; {REPLICA_SEED}={seed} replays every worker's \
                 choices, not their interleaving)",
                seed.wrapping_add(index as u64)
            ),
            &format!("replica worker {index} finished"),
        );
    }
    // The workers really ran at the same time: each one's window overlaps another's. (They
    // start together; this checks that the runs were long enough to overlap.)
    let windows: Vec<(u128, u128)> = finished
        .iter()
        .map(|f| {
            let (_, window) = f
                .stdout
                .split_once("window ")
                .expect("a worker prints its window");
            let mut ends = window
                .split_whitespace()
                .map(|n| n.parse().expect("a time"));
            (ends.next().expect("start"), ends.next().expect("end"))
        })
        .collect();
    for (i, (start, end)) in windows.iter().enumerate() {
        assert!(
            windows
                .iter()
                .enumerate()
                .any(|(j, (s, e))| j != i && s < end && start < e),
            "worker {i} ran alone: {windows:?}"
        );
    }
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    for line in finished.iter().flat_map(|f| f.stdout.lines()) {
        if let Some((_, entry)) = line.split_once("tally ")
            && let Some((outcome, n)) = entry.rsplit_once(" = ")
        {
            *tally.entry(outcome.to_owned()).or_default() += n.parse::<u64>().unwrap_or(0);
        }
    }
    eprintln!(
        "{WORKERS} workers x {OPS} operations on {url} in {:?} ({REPLICA_SEED}={seed}), \
         all four at once for {} ms: {tally:#?}",
        started.elapsed(),
        windows
            .iter()
            .map(|w| w.1)
            .min()
            .unwrap_or(0)
            .saturating_sub(windows.iter().map(|w| w.0).max().unwrap_or(0))
    );
    finished.into_iter().map(|f| f.stdout).collect()
}

/// The outbox row behind a `Message-ID` of the default templates.
fn outbox_of(message_id: &str) -> Uuid {
    message_id
        .trim_start_matches('<')
        .split('@')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("unexpected Message-ID {message_id}"))
}

/// The global invariants, read through the `Store` trait once every worker is done.
async fn check_shared_state(store: &DynStore, orgs: &[OrganizationId], outputs: &[String]) {
    let now = fixed_now();
    let mut mails_queued = 0_usize;
    let mut totals: BTreeMap<&'static str, usize> = BTreeMap::new();
    // The current link of every invitation still pending: (invitation, generation, hash).
    let mut live_links = Vec::new();
    for &org in orgs {
        let organization = store
            .organization(org)
            .await
            .expect("reading the store")
            .expect("the organization is still there");
        let members = members_of(store, org).await;
        let invitations = invitations_of(store, org).await;
        let events = events_of(store, org).await;

        // spec: ROLE-2 — never both Administrator and Team Supervisor.
        for m in &members {
            assert!(
                !(m.roles.contains(Role::Administrator) && m.roles.contains(Role::TeamSupervisor)),
                "ROLE-2: {} holds {:?}",
                m.email,
                m.roles
            );
        }
        // spec: INV-11 — nobody is a member twice, by user or by address.
        let users: BTreeSet<UserId> = members.iter().map(|m| m.user).collect();
        assert_eq!(
            users.len(),
            members.len(),
            "INV-11: a user is a member twice"
        );
        let addresses: BTreeSet<&str> = members.iter().map(|m| m.email.key()).collect();
        assert_eq!(
            addresses.len(),
            members.len(),
            "an address is a member twice"
        );

        // spec: ADM-5 — at least one administrator, and the count agrees with the listing.
        let only_administrators = MemberFilter {
            role: Some(Role::Administrator),
            team: None,
        };
        let admins = store
            .members(org, only_administrators, Page::first(Page::MAX_LIMIT))
            .await
            .expect("reading the store")
            .len();
        assert!(admins >= 1, "ADM-5: {org} has no administrator left");
        let listed = members.iter().filter(|m| m.is_administrator()).count();
        assert_eq!(admins, listed, "administrator count");

        // spec: INV-8 — at most one pending invitation per address.
        let mut pending: BTreeMap<&str, usize> = BTreeMap::new();
        for i in &invitations {
            if i.status == InvitationStatus::Pending {
                *pending.entry(i.email.key()).or_default() += 1;
            }
        }
        assert!(pending.values().all(|n| *n == 1), "INV-8: {pending:?}");

        // spec: ORG-4 — members and pending invitations (none expires at the fixed time)
        // within the cap; the store's count agrees with the listings.
        let seats = store.seat_usage(org, now).await.expect("reading the store");
        assert_eq!(seats.members, members.len() as u64, "seat usage: members");
        assert_eq!(
            seats.pending_invitations,
            pending.len() as u64,
            "seat usage: pending invitations"
        );
        if let Some(cap) = organization.seat_cap {
            assert!(
                seats.used() <= u64::from(cap),
                "ORG-4: {seats:?} over {cap}"
            );
        }
        // spec: INV-8 — no pending invitation to an address that is a member's: invitations
        // of an organization without a seat cap commit side by side, each trusting one
        // snapshot of the addresses.
        for address in pending.keys() {
            assert!(
                !addresses.contains(address),
                "a pending invitation to {address}, a member's address"
            );
        }

        // spec: INV-11 — every accepted invitation made exactly one member: one acceptance in
        // the audit trail, and that member is still there unless removed since; no other
        // invitation made any. Joins minus removals is who is a member now.
        let mut accepted_by: BTreeMap<orgroster::InvitationId, Vec<UserId>> = BTreeMap::new();
        let mut joins: BTreeMap<UserId, i64> = BTreeMap::new();
        let mut removals: BTreeMap<UserId, usize> = BTreeMap::new();
        for e in &events {
            let name = match &e.kind {
                EventKind::OrganizationCreated { creator, .. } => {
                    *joins.entry(*creator).or_default() += 1;
                    "created"
                }
                EventKind::InvitationAccepted {
                    invitation, user, ..
                } => {
                    accepted_by.entry(*invitation).or_default().push(*user);
                    *joins.entry(*user).or_default() += 1;
                    "accepted"
                }
                EventKind::MemberRemoved { user, .. } => {
                    *joins.entry(*user).or_default() -= 1;
                    *removals.entry(*user).or_default() += 1;
                    "removed"
                }
                EventKind::InvitationSent { .. } => {
                    mails_queued += 1;
                    "sent"
                }
                EventKind::InvitationResent { .. } => {
                    mails_queued += 1;
                    "resent"
                }
                EventKind::InvitationDeclined { .. } => "declined",
                EventKind::InvitationRevoked { .. } => "revoked",
                EventKind::RoleGranted { .. } => "role granted",
                EventKind::RoleRevoked { .. } => "role revoked",
                _ => "other",
            };
            *totals.entry(name).or_default() += 1;
        }
        for (user, n) in &joins {
            let is_member = users.contains(user);
            assert_eq!(
                *n,
                i64::from(is_member),
                "INV-11: {user} joined minus left {n} times, member now: {is_member}"
            );
        }
        for i in &invitations {
            if i.status == InvitationStatus::Pending {
                live_links.push((i.id, i.resend_count, i.token_hash.to_hex()));
            }
            let made: Vec<&Member> = members
                .iter()
                .filter(|m| m.invitation == Some(i.id))
                .collect();
            let acceptances = accepted_by.get(&i.id).map_or(&[][..], Vec::as_slice);
            if i.status == InvitationStatus::Accepted {
                assert_eq!(
                    acceptances.len(),
                    1,
                    "INV-11: invitation {} accepted {} times",
                    i.id,
                    acceptances.len()
                );
                match made.as_slice() {
                    [m] => {
                        assert_eq!(m.user, acceptances[0], "the member is who accepted");
                        assert_eq!(m.email.key(), i.email.key(), "the member's address");
                    }
                    // Gone: then they were removed since (and may have joined again
                    // through a later invitation).
                    [] => assert!(
                        removals.get(&acceptances[0]).copied().unwrap_or(0) > 0,
                        "invitation {} made a member who vanished without being removed",
                        i.id
                    ),
                    more => panic!("INV-11: invitation {} made {} members", i.id, more.len()),
                }
            } else {
                assert!(acceptances.is_empty(), "{:?} invitation accepted", i.status);
                assert!(
                    made.is_empty(),
                    "a member joined through a {:?} invitation",
                    i.status
                );
            }
        }
        for m in &members {
            match m.invitation {
                None => assert_eq!(
                    m.user,
                    pool_user(0).user,
                    "only the founder joined uninvited"
                ),
                Some(id) => {
                    let i = invitations
                        .iter()
                        .find(|i| i.id == id)
                        .expect("a member's invitation is stored");
                    assert_eq!(
                        i.status,
                        InvitationStatus::Accepted,
                        "a member's invitation"
                    );
                }
            }
        }
        let failed = store
            .failed_outbox(org, Page::first(Page::MAX_LIMIT))
            .await
            .expect("reading the store");
        assert!(failed.is_empty(), "mail failed: {failed:?}");
    }

    // spec: INV-9 — every queued mail was sent exactly once (the lease kept the instances
    // from sending the same row) or is still waiting; none was lost.
    let mut sent = BTreeSet::new();
    for line in outputs.iter().flat_map(|o| o.lines()) {
        // The harness prints `test … ... ` before the child's first line: look inside lines.
        if let Some((_, id)) = line.split_once("sent <") {
            assert!(
                sent.insert(outbox_of(id)),
                "INV-9: mail <{id} was sent twice"
            );
        }
    }
    let claimed = store
        .claim_outbox(
            orgroster::ClaimId::new(),
            now,
            chrono::Duration::minutes(1),
            1_000_000,
        )
        .await
        .expect("claiming the rest of the outbox");
    let waiting: BTreeSet<Uuid> = claimed.iter().map(|m| m.id.as_uuid()).collect();
    assert!(sent.is_disjoint(&waiting), "a sent mail is still waiting");
    // Mail of an invitation that changed before it went out was withdrawn (spec: INV-13):
    // sent and waiting together are at most what was queued, and the current link of every
    // invitation still pending was sent or is waiting (spec: INV-9).
    assert!(
        sent.len() + waiting.len() <= mails_queued,
        "INV-9: {} mails sent and {} waiting, but only {mails_queued} queued",
        sent.len(),
        waiting.len()
    );
    let mailed_links: BTreeSet<&str> = outputs
        .iter()
        .flat_map(|o| o.lines())
        .filter_map(|line| line.split_once("link ").map(|(_, hash)| hash.trim()))
        .collect();
    let waiting_links: BTreeSet<(orgroster::InvitationId, u32)> = claimed
        .iter()
        .filter_map(|m| match m.content {
            MailContent::Invitation {
                invitation,
                generation,
                ..
            } => Some((invitation, generation)),
            _ => None,
        })
        .collect();
    for (id, generation, hash) in &live_links {
        assert!(
            mailed_links.contains(hash.as_str()) || waiting_links.contains(&(*id, *generation)),
            "INV-9: the current link of pending invitation {id} was neither sent nor waiting"
        );
    }

    eprintln!(
        "after the run: {totals:?}; {} mails sent, {} waiting",
        sent.len(),
        waiting.len()
    );
    // The run raced what it was meant to race.
    for kind in ["accepted", "declined", "revoked", "resent", "role granted"] {
        assert!(
            totals.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} event in the whole run: {totals:?}"
        );
    }
}

/// spec: INV-8, INV-9, INV-11, ROLE-2, ADM-5, ORG-4 — four processes, one SQLite file.
#[cfg(feature = "sqlite")]
#[test]
fn several_processes_share_one_sqlite_file() {
    let path = std::env::temp_dir().join(format!("orgroster-replicas-{}.db", Uuid::now_v7()));
    let url = format!("sqlite://{}", path.display());
    let rt = runtime();
    let store: Arc<DynStore> = rt.block_on(async {
        let store = orgroster::SqliteStore::connect(&url)
            .await
            .expect("creating the SQLite file");
        store.migrate().await.expect("migrate");
        Arc::new(store)
    });
    let orgs = rt.block_on(shared_organizations(Arc::clone(&store)));
    let outputs = run_workers(&url, None, &orgs);
    rt.block_on(check_shared_state(&*store, &orgs, &outputs));
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// spec: INV-8, INV-9, INV-11, ROLE-2, ADM-5, ORG-4 — four processes, one PostgreSQL
/// database, when `ORGROSTER_TEST_POSTGRES_URL` names one.
#[cfg(feature = "postgres")]
#[test]
fn several_processes_share_one_postgres_database() {
    let Some(url) = pg::url() else {
        eprintln!("skipped: set {} to run it", pg::URL_VAR);
        return;
    };
    let rt = runtime();
    let schema = rt.block_on(pg::fresh_schema(&url));
    let store: Arc<DynStore> = Arc::new(rt.block_on(pg::store(&url, &schema, 3, None)));
    let orgs = rt.block_on(shared_organizations(Arc::clone(&store)));
    let outputs = run_workers(&url, Some(&schema), &orgs);
    rt.block_on(check_shared_state(&*store, &orgs, &outputs));
    drop(store);
    rt.block_on(pg::drop_schema(&url, &schema));
}

// ----- faults: PostgreSQL connections killed -------------------------------------------------

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

/// spec: ERR-2 — connections killed while idle, and in the middle of a commit: the command
/// fails with a store error or succeeds, never half-written, and the next command on the same
/// `Roster` (no restart) works.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_killed_connection_fails_the_command_and_the_next_one_works() {
    let Some(url) = pg::url() else {
        eprintln!("skipped: set {} to run it", pg::URL_VAR);
        return;
    };
    let schema = pg::fresh_schema(&url).await;
    let app = format!("orgroster_kill_{}", Uuid::now_v7().simple());
    let store: Arc<DynStore> = Arc::new(pg::store(&url, &schema, 4, Some(&app)).await);
    let roster = roster_on(Arc::clone(&store), RecordingMailer::new());
    let founder = pool_user(0);
    let org = licensed_organization(&roster, &founder, "Killed Connections", None).await;
    let admin = pg::admin(&url).await;

    // 1. Killed while idle in the pool: the next command may fail or reconnect, but it never
    // half-writes, and the one after it works.
    let before = snapshot(&*store, org).await;
    let killed = pg::terminate(&admin, &app).await;
    assert!(!killed.is_empty(), "the pool had connections");
    let first = invite(&roster, &founder, org, "idle@example.com").await;
    let after = snapshot(&*store, org).await;
    match &first {
        Ok(created) => {
            assert_eq!(after.invitations.len(), before.invitations.len() + 1);
            let id = created.invitation.id;
            assert!(after.invitations.iter().any(|i| i.id == id));
        }
        Err(e) => {
            assert!(is_backend_failure(e), "unexpected {e:?}");
            assert_eq!(after, before, "ERR-2: a failed command changed the store");
        }
    }
    invite(&roster, &founder, org, "next@example.com")
        .await
        .expect("the next command works");

    // 2. Killed in the middle of a commit, deterministically: another session holds the
    // outbox locked, so the commit of a bulk invitation writes its 2,000 invitations and
    // events, then waits on the outbox insert; that is when its connection is killed.
    let before = snapshot(&*store, org).await;
    let outbox_before = pg::count(&admin, &schema, "orgroster_outbox").await;
    let mut blocker = admin.begin().await.expect("begin");
    orgroster::sqlx::query(orgroster::sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {schema}.orgroster_outbox IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut *blocker)
    .await
    .expect("locking the outbox");
    let bulk = paste("locked", 2000);
    let task = spawn_bulk(&roster, &founder, org, bulk.clone());
    let waited = Instant::now();
    while pg::waiting_for_lock(&admin, &app).await == 0 {
        assert!(
            waited.elapsed() < StdDuration::from_secs(60),
            "the commit never reached the locked outbox"
        );
        assert!(
            !task.is_finished(),
            "the bulk invitation ended before the lock"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    let killed = pg::terminate(&admin, &app).await;
    assert!(
        killed
            .iter()
            .any(|k| k.contains("INSERT INTO orgroster_outbox")),
        "the commit was not the one killed: {killed:?}"
    );
    let result = task.await.expect("the command does not panic");
    blocker.rollback().await.expect("releasing the outbox");
    let err = result.expect_err("a commit whose connection was killed cannot succeed");
    assert!(is_backend_failure(&err), "unexpected {err:?}");
    // spec: ERR-2 — the invitations and events written before the kill were rolled back.
    assert_eq!(snapshot(&*store, org).await, before, "ERR-2: partial write");
    assert_eq!(
        pg::count(&admin, &schema, "orgroster_outbox").await,
        outbox_before
    );
    // The same Roster, the same pool: the same command now goes through whole.
    let report = roster
        .invite_members(&founder, org, &bulk, Role::Member, None)
        .await
        .expect("the next command works");
    assert_eq!((report.invited.len(), report.rejected.len()), (2000, 0));
    let after = snapshot(&*store, org).await;
    assert_eq!(after.invitations.len(), before.invitations.len() + 2000);
    assert_eq!(
        pg::count(&admin, &schema, "orgroster_outbox").await,
        outbox_before + 2000
    );

    admin.close().await;
    drop(roster);
    drop(store);
    pg::drop_schema(&url, &schema).await;
}

/// spec: ERR-2 — bulk invitations of 20,000 addresses whose connections are killed while the
/// commit writes invitations, events and mail: each is written whole or not at all, and the
/// next command works.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_bulk_invitation_cut_off_by_a_killed_connection_is_all_or_nothing() {
    let Some(url) = pg::url() else {
        eprintln!("skipped: set {} to run it", pg::URL_VAR);
        return;
    };
    const BULK: usize = 20_000;
    let schema = pg::fresh_schema(&url).await;
    let app = format!("orgroster_cut_{}", Uuid::now_v7().simple());
    let store: Arc<DynStore> = Arc::new(pg::store(&url, &schema, 4, Some(&app)).await);
    let roster = roster_on(Arc::clone(&store), RecordingMailer::new());
    let founder = pool_user(0);
    let org = licensed_organization(&roster, &founder, "Cut Off", None).await;
    let admin = pg::admin(&url).await;

    // Each round waits until the command's backend runs a statement of one phase of the
    // commit, then kills it. (Reading takes milliseconds: too short to aim at.)
    let phases = [
        ("writing invitations", "INSERT INTO orgroster_invitations%"),
        ("writing events", "INSERT INTO orgroster_events%"),
        ("writing mail", "INSERT INTO orgroster_outbox%"),
    ];
    let mut outcomes = Vec::new();
    for (round, (phase, statement)) in phases.into_iter().enumerate() {
        let invitations = invitations_of(&*store, org).await.len();
        let events = events_of(&*store, org).await.len();
        let outbox = pg::count(&admin, &schema, "orgroster_outbox").await;
        let bulk = paste(&format!("round{round}"), BULK);
        let task = spawn_bulk(&roster, &founder, org, bulk);
        let mut killed = Vec::new();
        while !task.is_finished() {
            if pg::running(&admin, &app, statement).await {
                killed = pg::terminate(&admin, &app).await;
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(2)).await;
        }
        let result = task.await.expect("the command does not panic");
        let now_invitations = invitations_of(&*store, org).await.len();
        let now_events = events_of(&*store, org).await.len();
        let now_outbox = pg::count(&admin, &schema, "orgroster_outbox").await;
        let written = now_invitations - invitations;
        // spec: ERR-2 — all or nothing, in every table.
        assert!(
            written == 0 || written == BULK,
            "{phase}: {written} of {BULK} invitations written ({:?})",
            result.as_ref().map(|r| r.invited.len())
        );
        assert_eq!(now_events - events, written, "events ({phase})");
        assert_eq!(
            usize::try_from(now_outbox - outbox).expect("no row vanished"),
            written,
            "mails ({phase})"
        );
        match &result {
            Ok(report) => assert_eq!(report.invited.len(), written, "{phase}"),
            // A kill that lands on COMMIT itself may leave the outcome unknown to the client:
            // then everything is there although the command failed. Never a part of it.
            Err(e) => assert!(is_backend_failure(e), "{phase}: unexpected {e:?}"),
        }
        let verdict = if result.is_ok() { "Ok" } else { "Err" };
        outcomes.push(if killed.is_empty() {
            format!("{phase}: not caught in time; {verdict} with {written} written")
        } else {
            format!("killed while {phase} ({killed:?}): {verdict} with {written} written")
        });
    }
    eprintln!("{outcomes:#?}");
    invite(&roster, &founder, org, "after@example.com")
        .await
        .expect("the next command works");

    admin.close().await;
    drop(roster);
    drop(store);
    pg::drop_schema(&url, &schema).await;
}

/// A bulk invitation of 20,000 addresses into an organization that already holds 20,000
/// pending invitations, right after they were written (the table's statistics still say it
/// is empty): the lookups of existing members and invitations probe the index per address
/// rather than comparing every row with every address (which took 56 s per lookup).
#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_bulk_invitation_into_an_organization_full_of_pending_ones_stays_fast() {
    let Some(url) = pg::url() else {
        eprintln!("skipped: set {} to run it", pg::URL_VAR);
        return;
    };
    const BULK: usize = 20_000;
    let schema = pg::fresh_schema(&url).await;
    let store: Arc<DynStore> = Arc::new(pg::store(&url, &schema, 4, None).await);
    let roster = roster_on(Arc::clone(&store), RecordingMailer::new());
    let founder = pool_user(0);
    let org = licensed_organization(&roster, &founder, "Full House", None).await;
    let started = Instant::now();
    let first = roster
        .invite_members(&founder, org, &paste("first", BULK), Role::Member, None)
        .await
        .expect("the first bulk invitation");
    assert_eq!(first.invited.len(), BULK);
    let first_took = started.elapsed();
    // Half the addresses again (refused: already invited, spec: INV-8), half new.
    let again = (0..BULK)
        .map(|i| match i % 2 {
            0 => format!("first-{i}@bulk.example"),
            _ => format!("second-{i}@bulk.example"),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let started = Instant::now();
    let second = roster
        .invite_members(&founder, org, &again, Role::Member, None)
        .await
        .expect("the second bulk invitation");
    let second_took = started.elapsed();
    assert_eq!(
        (second.invited.len(), second.rejected.len()),
        (BULK / 2, BULK / 2)
    );
    eprintln!("first bulk invitation {first_took:?}, second {second_took:?}");
    assert!(
        second_took < StdDuration::from_secs(30),
        "the second bulk invitation took {second_took:?} (the first {first_took:?})"
    );
    drop(roster);
    drop(store);
    pg::drop_schema(&url, &schema).await;
}

// ----- faults: a SQLite writer that crashes --------------------------------------------------

/// Set in a child process: the SQLite URL [`crashing_writer`] writes to.
#[cfg(feature = "sqlite")]
const CRASH: &str = "ORGROSTER_CRASH_DB";
/// `abort` (abort right after one commit) or `loop` (bulk invitations until killed).
#[cfg(feature = "sqlite")]
const CRASH_MODE: &str = "ORGROSTER_CRASH_MODE";
/// Addresses per bulk invitation of the `loop` mode.
#[cfg(feature = "sqlite")]
const CRASH_BULK: usize = 200;

/// The child process of the crash tests. Does nothing unless `ORGROSTER_CRASH_DB` is set;
/// then it writes to that SQLite file, printing a line after each commit returned, and dies
/// without any clean shutdown.
#[cfg(feature = "sqlite")]
#[test]
fn crashing_writer() {
    use std::io::Write;

    let Ok(url) = std::env::var(CRASH) else {
        return;
    };
    let mode = std::env::var(CRASH_MODE).expect("a crash mode");
    runtime().block_on(async {
        let store = orgroster::SqliteStore::connect(&url)
            .await
            .expect("opening the SQLite file");
        store.migrate().await.expect("migrate");
        let roster = roster_on(Arc::new(store), RecordingMailer::new());
        let founder = pool_user(0);
        let org = licensed_organization(&roster, &founder, "Crash Site", None).await;
        let mut out = std::io::stdout().lock();
        match mode.as_str() {
            "abort" => {
                let created = invite(&roster, &founder, org, "survivor@example.com")
                    .await
                    .expect("inviting");
                writeln!(
                    out,
                    "committed org={org} invitation={}",
                    created.invitation.id
                )
                .and_then(|()| out.flush())
                .expect("printing");
                std::process::abort();
            }
            "loop" => {
                for round in 0..10_000 {
                    let paste = (0..CRASH_BULK)
                        .map(|i| format!("r{round}-{i}@crash.example"))
                        .collect::<Vec<_>>()
                        .join("\n");
                    let report = roster
                        .invite_members(&founder, org, &paste, Role::Member, None)
                        .await
                        .expect("inviting");
                    assert_eq!(report.invited.len(), CRASH_BULK);
                    writeln!(
                        out,
                        "committed org={org} invitation={}",
                        report.invited[0].1.invitation.id
                    )
                    .and_then(|()| out.flush())
                    .expect("printing");
                }
                panic!("never killed");
            }
            other => panic!("unknown crash mode {other}"),
        }
    });
}

/// `(org, invitation)` from a `committed org=… invitation=…` line.
#[cfg(feature = "sqlite")]
fn committed(line: &str) -> Option<(OrganizationId, orgroster::InvitationId)> {
    // The harness prints `test … ... ` before the child's first line: look inside lines.
    let (_, rest) = line.split_once("committed org=")?;
    let (org, invitation) = rest.split_once(" invitation=")?;
    Some((org.parse().ok()?, invitation.trim().parse().ok()?))
}

/// A temporary SQLite file's URL and a guard that removes it.
#[cfg(feature = "sqlite")]
fn temp_sqlite(tag: &str) -> (String, TempFile) {
    let path = std::env::temp_dir().join(format!("orgroster-{tag}-{}.db", Uuid::now_v7()));
    (
        format!("sqlite://{}", path.display()),
        TempFile(path.display().to_string()),
    )
}

#[cfg(feature = "sqlite")]
#[derive(Debug)]
struct TempFile(String);

#[cfg(feature = "sqlite")]
impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0));
        }
    }
}

/// The SQLite file passes `PRAGMA integrity_check`.
#[cfg(feature = "sqlite")]
async fn assert_intact(store: &orgroster::SqliteStore) {
    let verdict: String = orgroster::sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .expect("integrity check");
    assert_eq!(verdict, "ok", "the SQLite file is damaged");
}

/// spec: INV-9 — a process aborts (no clean shutdown) right after `invite_member` returned
/// Ok: a new process finds the invitation, its audit event and its mail with the link.
#[cfg(feature = "sqlite")]
#[test]
fn an_invitation_committed_before_a_crash_is_there_after_restart() {
    let (url, _file) = temp_sqlite("crash");
    let mut writer = child("replicas::crashing_writer");
    writer.env(CRASH, &url).env(CRASH_MODE, "abort");
    let mut finished = wait_all(vec![writer.spawn().expect("starting the writer")]);
    let f = finished.pop().expect("one child");
    assert!(
        !f.status.success(),
        "the writer did not crash: {}",
        f.stdout
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(f.status.signal(), Some(6), "SIGABRT expected: {}", f.stderr);
    }
    let (org, id) = f
        .stdout
        .lines()
        .find_map(committed)
        .unwrap_or_else(|| panic!("the writer committed nothing: {}", tail(&f.stdout)));

    runtime().block_on(async {
        let store = orgroster::SqliteStore::connect(&url)
            .await
            .expect("reopening the file");
        store.migrate().await.expect("migrations are idempotent");
        assert_intact(&store).await;
        let invitation = store
            .invitation(org, id)
            .await
            .expect("reading the store")
            .expect("the committed invitation survived the crash");
        assert_eq!(invitation.status, InvitationStatus::Pending);
        assert_eq!(invitation.email.key(), "survivor@example.com");
        let sent = events_of(&store, org)
            .await
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::InvitationSent { invitation, .. } if invitation == id))
            .count();
        assert_eq!(sent, 1, "its audit event survived");
        // Its mail survived; the restarted host renders its link again from the link key
        // (spec: INV-6), and the link works.
        let mailer = RecordingMailer::new();
        let roster = roster_on(Arc::new(store), mailer.clone());
        let report = roster.deliver_mail(100).await.expect("delivering the outbox");
        assert_eq!(report.sent, 1, "its one mail: {report:?}");
        let sent = mailer.sent();
        let [mail] = sent.as_slice() else {
            panic!("one mail expected: {sent:?}");
        };
        let token = mail
            .text
            .split_whitespace()
            .find_map(|word| word.rsplit_once("/invitations/").map(|(_, t)| t.to_owned()))
            .expect("the link travels with the mail");
        let parsed = orgroster::InvitationToken::parse(&token).expect("a whole token");
        assert!(invitation.token_hash.verify(&parsed));
        let survivor = Actor::new(UserId::new(), email("survivor@example.com"));
        let options = AcceptOptions {
            profile: profile("Sur", "Vivor"),
            existing_account: false,
            warning_acknowledged: false,
        };
        roster
            .accept_invitation(&survivor, &token, options)
            .await
            .expect("the restarted host carries on");
    });
}

/// spec: ERR-2, INV-9 — a process writing bulk invitations of 200 is killed with SIGKILL at
/// a random moment: every invitation whose commit returned is there, every bulk invitation is
/// there whole (with its events and mail) or not at all, and the file is intact and usable.
#[cfg(feature = "sqlite")]
#[test]
fn a_writer_killed_mid_write_keeps_every_commit_and_no_partial_one() {
    use std::{
        io::{BufRead, BufReader},
        sync::mpsc,
    };

    let (url, _file) = temp_sqlite("killed");
    let mut writer = child("replicas::crashing_writer");
    writer.env(CRASH, &url).env(CRASH_MODE, "loop");
    let mut process = writer.spawn().expect("starting the writer");
    let (lines, seen) = mpsc::channel();
    let stdout = process.stdout.take().expect("piped stdout");
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = drain(process.stderr.take());
    let mut printed = Vec::new();
    while printed.len() < 4 {
        match seen.recv_timeout(StdDuration::from_secs(120)) {
            Ok(line) => printed.extend(committed(&line)),
            Err(e) => {
                let _ = process.kill();
                let _ = process.wait();
                panic!(
                    "the writer stopped writing ({e}): {}",
                    tail(&stderr.join().unwrap_or_default())
                );
            }
        }
    }
    // Somewhere inside the next bulk invitation (each takes tens of milliseconds).
    let pause = Rng::new(base_seed()).below(40);
    thread::sleep(StdDuration::from_millis(pause as u64));
    process.kill().expect("killing the writer");
    let status = process.wait().expect("reaping the writer");
    assert!(!status.success(), "the writer was killed");
    reader.join().expect("the reader thread");
    printed.extend(seen.try_iter().filter_map(|l| committed(&l)));
    let org = printed[0].0;

    runtime().block_on(async {
        let store = orgroster::SqliteStore::connect(&url)
            .await
            .expect("reopening the file");
        store.migrate().await.expect("migrations are idempotent");
        assert_intact(&store).await;
        let invitations = invitations_of(&store, org).await;
        let ids: BTreeSet<_> = invitations.iter().map(|i| i.id).collect();
        // spec: INV-9 — every invitation whose commit returned is there.
        for (_, id) in &printed {
            assert!(ids.contains(id), "committed invitation {id} lost");
        }
        // spec: ERR-2 — bulk invitations are whole: a multiple of the batch, each with its
        // event and its mail.
        assert_eq!(
            invitations.len() % CRASH_BULK,
            0,
            "a partial bulk invitation: {} invitations",
            invitations.len()
        );
        assert!(invitations.len() >= printed.len() * CRASH_BULK);
        let sent: BTreeSet<_> = events_of(&store, org)
            .await
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::InvitationSent { invitation, .. } => Some(invitation),
                _ => None,
            })
            .collect();
        assert_eq!(sent, ids, "every invitation has its event, and only those");
        let mailed: BTreeSet<_> = store
            .claim_outbox(
                orgroster::ClaimId::new(),
                fixed_now(),
                chrono::Duration::minutes(5),
                1_000_000,
            )
            .await
            .expect("claiming the outbox")
            .into_iter()
            .filter_map(|m| match m.content {
                MailContent::Invitation { invitation, .. } => Some(invitation),
                _ => None,
            })
            .collect();
        assert_eq!(mailed, ids, "every invitation has its mail, and only those");
        eprintln!(
            "killed {pause} ms after the 4th commit; {} bulk invitations found, {} printed",
            invitations.len() / CRASH_BULK,
            printed.len()
        );
        let roster = roster_on(Arc::new(store), RecordingMailer::new());
        roster
            .invite_member(
                &pool_user(0),
                org,
                email("after@example.com"),
                Role::Member,
                None,
            )
            .await
            .expect("the restarted host carries on");
    });
}

/// spec: ERR-2 — a SQLite commit runs as one batch that opens its own transaction: a host
/// that stops waiting for it (a timeout drops the future mid-batch) must leave nothing of
/// it, and must not leave the database locked for another instance on the same file.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_sqlite_commit_is_all_or_nothing_and_unlocks_the_file() {
    use orgroster::{
        MemberId, RoleSet, SqliteStore,
        domain::changes::{ChangeSet, OrganizationWrite, Write},
    };

    const ROWS: usize = 20_000;
    let path = std::env::temp_dir().join(format!("orgroster-abandon-{}.db", Uuid::now_v7()));
    let url = format!("sqlite://{}", path.display());
    let here = Arc::new(SqliteStore::connect(&url).await.expect("opening the file"));
    here.migrate().await.expect("migrate");
    let there = Arc::new(SqliteStore::connect(&url).await.expect("a second instance"));
    let roster = roster_on(Arc::clone(&here) as Arc<DynStore>, RecordingMailer::new());
    let founder = pool_user(0);
    let org = licensed_organization(&roster, &founder, "Abandoned", None).await;
    let mut outcomes = Vec::new();
    for (round, wait_ms) in [0_u64, 2, 10, 40, 150].into_iter().enumerate() {
        let before = members_of(&*there, org).await.len();
        let organization = here.organization(org).await.expect("read").expect("there");
        let mut changes = ChangeSet::new(
            org,
            OrganizationWrite::Touch {
                expected_version: organization.version,
            },
        );
        for i in 0..ROWS {
            changes.writes.push(Write::PutMember(Member {
                id: MemberId::new(),
                organization: org,
                user: UserId::new(),
                email: email(&format!("r{round}m{i}@abandon.example")),
                profile: profile("Abandoned", "Learner"),
                roles: RoleSet::learner(),
                joined_at: organization.created_at,
                invitation: None,
                version: 0,
            }));
        }
        let outcome =
            tokio::time::timeout(StdDuration::from_millis(wait_ms), here.commit(changes)).await;
        // The other instance writes at once: it waits at most for the rollback, never for
        // the busy timeout, and certainly does not fail with "database is locked".
        let started = Instant::now();
        let other = roster_on(Arc::clone(&there) as Arc<DynStore>, RecordingMailer::new());
        invite(
            &other,
            &founder,
            org,
            &format!("other{round}@abandon.example"),
        )
        .await
        .expect("the other instance writes");
        let waited = started.elapsed();
        let written = members_of(&*there, org).await.len() - before;
        assert!(
            written == 0 || written == ROWS,
            "after {wait_ms} ms: {written} of {ROWS} members written"
        );
        if let Ok(result) = &outcome {
            assert_eq!(result.is_ok(), written == ROWS, "{result:?}");
        }
        outcomes.push(format!(
            "{wait_ms} ms: {} with {written} written; the other instance waited {waited:?}",
            if outcome.is_err() {
                "abandoned"
            } else {
                "finished"
            }
        ));
        // And this instance carries on.
        invite(
            &roster,
            &founder,
            org,
            &format!("here{round}@abandon.example"),
        )
        .await
        .expect("this instance writes");
    }
    eprintln!("{outcomes:#?}");
    assert!(
        outcomes.iter().any(|o| o.contains("abandoned")),
        "no commit was abandoned: {outcomes:#?}"
    );
    drop((roster, here, there));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A PostgreSQL cluster of the test's own, in a temporary directory on a free port, so a test
/// may stop and start the server (the shared server is not ours to stop). Stopped and removed
/// on drop, whatever the test did.
#[cfg(feature = "postgres")]
struct OwnedCluster {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
    /// Run the server's programs as `postgres` (they refuse to run as root).
    as_postgres: bool,
}

#[cfg(feature = "postgres")]
impl OwnedCluster {
    /// Creates and starts a cluster, or `None` when the server's programs are not installed.
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .find(|bin| bin.join("initdb").exists())?;
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
        let dir = std::env::temp_dir().join(format!("orgroster-cluster-{}", Uuid::now_v7()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Self {
            bin,
            dir,
            port,
            as_postgres: root,
        };
        std::fs::create_dir_all(&cluster.dir).expect("the cluster's directory");
        if root {
            // The server's files are postgres's; the directory is made by root.
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(&cluster.dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown of {}", cluster.dir.display());
        }
        let initdb = cluster.bin.join("initdb");
        cluster.run(
            &initdb.to_string_lossy(),
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster.start_server();
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data()
        );
        let log = self.dir.join("server.log").to_string_lossy().into_owned();
        self.pg_ctl(&[
            "-D",
            &self.data(),
            "-l",
            &log,
            "-o",
            &options,
            "-w",
            "start",
        ]);
    }

    /// Stops the server: `fast` (clients cut off, a clean shutdown) or `immediate` (a crash:
    /// recovery from the WAL at the next start).
    fn stop_server(&self, mode: &str) {
        self.pg_ctl(&["-D", &self.data(), "-m", mode, "-w", "stop"]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let pg_ctl = self.bin.join("pg_ctl");
        self.run(&pg_ctl.to_string_lossy(), args);
    }

    /// `program` as the user the server's programs run as.
    fn command(&self, program: &str) -> Command {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("the server's programs run");
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[cfg(feature = "postgres")]
impl Drop for OwnedCluster {
    fn drop(&mut self) {
        // Not `stop_server`: a drop must not panic, whatever state the server is in.
        let pg_ctl = self.bin.join("pg_ctl");
        let _ = self
            .command(&pg_ctl.to_string_lossy())
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// spec: ERR-2 — the database server itself goes away, cleanly and by a crash, between
/// commands and in the middle of a bulk invitation: every command meanwhile fails with a store
/// error and writes nothing, a commit is whole or absent, and once the server is back the same
/// `Roster` (no restart of the host) carries on.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_stopped_server_fails_commands_and_the_host_carries_on_when_it_is_back() {
    if pg::url().is_none() {
        eprintln!("skipped: set {} to run it", pg::URL_VAR);
        return;
    }
    let Some(cluster) = tokio::task::spawn_blocking(OwnedCluster::start)
        .await
        .expect("starting a cluster")
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI: the PostgreSQL server programs (initdb, pg_ctl) are not installed"
        );
        eprintln!("skipped: no PostgreSQL server programs under /usr/lib/postgresql");
        return;
    };
    use std::str::FromStr as _;
    let cluster = Arc::new(cluster);
    let options =
        orgroster::sqlx::postgres::PgConnectOptions::from_str(&cluster.url()).expect("a URL");
    // A short acquire timeout: while the server is down, a command gives up after it.
    let pool = orgroster::sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(StdDuration::from_secs(2))
        .connect_with(options)
        .await
        .expect("the cluster is up");
    let store = orgroster::PostgresStore::new(pool);
    store.migrate().await.expect("migrate");
    let store: Arc<DynStore> = Arc::new(store);
    let roster = roster_on(Arc::clone(&store), RecordingMailer::new());
    let founder = pool_user(0);
    let org = licensed_organization(&roster, &founder, "Outage", None).await;
    invite(&roster, &founder, org, "before@example.com")
        .await
        .expect("the server is up");

    for mode in ["fast", "immediate"] {
        // 1. Between commands: down, every command fails, and writes nothing.
        let before = snapshot(&*store, org).await;
        let stopping = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || stopping.stop_server(mode))
            .await
            .expect("stopping the server");
        for i in 0..2 {
            let down = invite(
                &roster,
                &founder,
                org,
                &format!("down-{mode}-{i}@example.com"),
            )
            .await;
            let err = down.expect_err("no server, no commit");
            assert!(is_backend_failure(&err), "{mode}: unexpected {err:?}");
        }
        let starting = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || starting.start_server())
            .await
            .expect("starting the server");
        assert_eq!(
            snapshot(&*store, org).await,
            before,
            "ERR-2: a command against a stopped server wrote something"
        );
        invite(&roster, &founder, org, &format!("back-{mode}@example.com"))
            .await
            .expect("the server is back: the next command works");

        // 2. In the middle of a bulk invitation of 20,000: whole or absent.
        let before = snapshot(&*store, org).await;
        let bulk = paste(&format!("outage-{mode}"), 20_000);
        let task = spawn_bulk(&roster, &founder, org, bulk);
        tokio::time::sleep(StdDuration::from_millis(150)).await;
        let stopping = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || stopping.stop_server(mode))
            .await
            .expect("stopping the server");
        let result = task.await.expect("the command does not panic");
        let starting = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || starting.start_server())
            .await
            .expect("starting the server");
        let after = snapshot(&*store, org).await;
        let written = after.invitations.len() - before.invitations.len();
        match &result {
            Ok(report) => {
                assert_eq!(report.invited.len(), 20_000);
                assert_eq!(written, 20_000, "{mode}: an acknowledged commit was lost");
            }
            Err(e) => {
                assert!(is_backend_failure(e), "{mode}: unexpected {e:?}");
                assert!(
                    written == 0 || written == 20_000,
                    "ERR-2 ({mode}): {written} of 20,000 invitations written"
                );
            }
        }
        eprintln!(
            "stop ({mode}) mid-bulk: {}",
            if result.is_ok() {
                "the commit finished first"
            } else {
                "the command failed"
            }
        );
        invite(&roster, &founder, org, &format!("after-{mode}@example.com"))
            .await
            .expect("the server is back: the next command works");
    }
    drop(roster);
    drop(store);
}
