//! A SQLite writer that aborts right after a commit returned, is killed with SIGKILL in the
//! middle of writing, or abandons a commit: what was committed is in the file after the
//! restart, what was not is wholly absent, and the file is not left locked (spec: INV-9,
//! ERR-2).

use std::{
    collections::BTreeSet,
    sync::Arc,
    thread,
    time::{Duration as StdDuration, Instant},
};

use orgroster::{
    AcceptOptions, Actor, DynStore, EventKind, InvitationStatus, Member, OrganizationId,
    RecordingMailer, Role, UserId,
};
use orgroster::{MailContent, Store};
use uuid::Uuid;

use crate::fixture::{email, licensed_organization, profile};

use super::{
    Rng, base_seed, child, drain, events_of, fixed_now, invitations_of, invite, members_of,
    pool_user, roster_on, runtime, tail, wait_all,
};

/// Set in a child process: the SQLite URL [`crashing_writer`] writes to.
#[cfg(feature = "sqlite")]
const CRASH: &str = "ORGROSTER_CRASH_DB";
/// `abort` (abort right after one commit) or `loop` (bulk invitations until killed).
#[cfg(feature = "sqlite")]
const CRASH_MODE: &str = "ORGROSTER_CRASH_MODE";
/// Addresses per bulk invitation of the `loop` mode.
#[cfg(feature = "sqlite")]
const CRASH_BULK: usize = 200;

/// The child process of the crash tests, run by them with its orders in `ORGROSTER_CRASH_DB`
/// and `ORGROSTER_CRASH_MODE`: it writes to that SQLite file, printing a line after each
/// commit returned, and dies without any clean shutdown. Without orders it fails: it is not a
/// test of its own.
#[cfg(feature = "sqlite")]
#[test]
#[ignore = "a child process: an_invitation_committed_before_a_crash_is_there_after_restart and \
            a_writer_killed_mid_write_keeps_every_commit_and_no_partial_one run it"]
fn crashing_writer() {
    use std::io::Write;

    let Ok(url) = std::env::var(CRASH) else {
        panic!("a child process of the crash tests, run by them: {CRASH} is not set");
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
    let mut writer = child("durability::crashes::crashing_writer");
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
        let options = AcceptOptions::new(profile("Sur", "Vivor"));
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
    let mut writer = child("durability::crashes::crashing_writer");
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
    use orgroster::{ChangeSet, MemberId, OrganizationWrite, RoleSet, SqliteStore, Write};

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
                deactivated_at: None,
                metadata: None,
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
