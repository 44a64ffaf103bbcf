//! The worker process of the several-instances tests (`several_instances.rs`): random
//! commands on the shared organizations, checking the model's invariants after each step.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::Arc,
    time::{Duration as StdDuration, Instant},
};

use orgroster::{
    AcceptOptions, Actor, DynStore, Error, Invitation, InvitationFilter, Member, MemberFilter,
    OrganizationId, Page, RecordingMailer, Role, Roster,
};

use crate::fixture::profile;

use super::{
    CHILD_DEADLINE, POOL_USERS, REPLICA, REPLICA_INDEX, REPLICA_OPS, REPLICA_ORGS, REPLICA_SCHEMA,
    REPLICA_SEED, REPLICA_START, Rng, WORKERS, fixed_now, open_store, pool_index, pool_user,
    roster_on, runtime,
};

/// A worker process of the several-instances tests, run by them with its orders in
/// `ORGROSTER_REPLICA…` variables: it opens its own store (its own pool) and runs its share of
/// random commands on the shared organizations, failing on any store error or broken
/// invariant. Without orders it fails: it is not a test of its own.
#[test]
#[ignore = "a child process: several_processes_share_one_sqlite_file and \
            several_processes_share_one_postgres_database run it"]
fn replica_worker() {
    let Ok(url) = std::env::var(REPLICA) else {
        panic!("a child process of the several-instances tests, run by them: {REPLICA} is not set");
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
            roster: roster_on(store.clone(), mailer.clone()),
            store,
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
    /// The store beneath `roster`, read directly to check what must hold.
    store: Arc<DynStore>,
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
        let filter = MemberFilter::default().with_role(Role::Administrator);
        let admins = self
            .store
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
            .store
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
        let options = AcceptOptions::new(profile("Pool", "Invitee"));
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
        let store = &self.store;
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
        let only_administrators = MemberFilter::default().with_role(Role::Administrator);
        let admins = store
            .members(org, only_administrators, Page::first(Page::MAX_LIMIT))
            .await
            .expect("counting administrators")
            .len();
        assert!(admins >= 1, "ADM-5: {org} has no administrator");
    }
}
