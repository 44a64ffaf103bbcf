//! Several OS processes, each with its own `Roster` and pool, race random commands on shared
//! organizations in one SQLite file or one PostgreSQL schema; afterwards the store holds every
//! invariant and every mail was sent once or still waits (spec: INV-8, INV-9, INV-11, ROLE-2,
//! ADM-5, ORG-4).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Instant,
};

use orgroster::{
    DynStore, EventKind, InvitationStatus, MailContent, Member, MemberFilter, OrganizationId, Page,
    RecordingMailer, Role, UserId,
};
use uuid::Uuid;

use crate::fixture::licensed_organization;
#[cfg(feature = "postgres")]
use crate::pg;

use super::{
    OPS, ORGS, REPLICA, REPLICA_INDEX, REPLICA_OPS, REPLICA_ORGS, REPLICA_SCHEMA, REPLICA_SEED,
    REPLICA_START, SEAT_CAP, WORKERS, base_seed, child, events_of, fixed_now, invitations_of,
    members_of, pool_user, roster_on, runtime, wait_all,
};

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
            let mut command = child("durability::worker::replica_worker");
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
        let only_administrators = MemberFilter::default().with_role(Role::Administrator);
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
