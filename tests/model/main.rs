//! Model-based test of [`Roster`] (STYLE 9): proptest-state-machine drives random sequences of
//! invitations, answers, resends, revocations, clock moves, role and team changes,
//! deactivation, reactivation and leaving (MEM-1, MEM-2) through a `Roster` over a store with
//! a [`ManualClock`], compares every result with a small pure reference model, and checks the
//! spec's global invariants after every step.
//!
//! The store is plugged in through [`Backend`]: the same model runs against [`MemoryStore`]
//! (many cases), `SqliteStore` (feature `sqlite`, an in-memory database per case) and
//! `PostgresStore` (feature `postgres`, a schema per case, when `ORGROSTER_TEST_POSTGRES_URL`
//! is set), with fewer cases for the slower stores.
//!
//! `transitions.rs` holds the commands a case runs and the strategies that generate them,
//! `model.rs` the reference model, `sut.rs` the roster under test and the invariants checked
//! after every step; this file the fixed world of every case and the tests.

// A failed unwrap is a failed test; `allow-unwrap-in-tests` only covers `#[test]` functions,
// not this binary's helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod model;
mod sut;
mod transitions;

use proptest::test_runner::{Config, FileFailurePersistence};
use proptest_state_machine::prop_state_machine;

#[cfg(feature = "postgres")]
use sut::Postgres;
#[cfg(feature = "sqlite")]
use sut::Sqlite;
use sut::{Memory, RosterTest};

// ----- the fixed world of every case ---------------------------------------------------------

/// The pool of users; index [`FOUNDER`] created the organization and is its first administrator.
const EMAILS: [&str; 7] = [
    "founder@example.com",
    "ada@example.com",
    "grace@example.org",
    "alan@example.net",
    "edsger@example.com",
    "barbara@example.com",
    "donald@example.io",
];
const USERS: usize = EMAILS.len();
const FOUNDER: usize = 0;
/// Real teams are `0..TEAMS`; index `TEAMS` names a team that does not exist.
const TEAMS: usize = 2;
/// Invitation lifetime (spec: INV-2, the default).
const TTL_DAYS: i64 = 10;
/// The seat cap set at the start of every case (spec: ORG-4).
const INITIAL_CAP: u32 = 5;
/// Entries of a bulk paste that are not addresses (spec: INV-7: reported, never fatal).
const JUNK: [&str; 5] = [
    "not-an-email",
    "x@y",
    "@example.com",
    "two@@example.com",
    "a@-b.com",
];
/// What may separate pasted entries (spec: INV-7: commas, semicolons, spaces, new lines).
const SEPARATORS: [&str; 6] = [",", ";", " ", "\n", ", ", " ;\n"];
const SECONDS_PER_DAY: i64 = 86_400;

/// How the case of an address is varied; addresses match case-insensitively (spec: INV-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Lower,
    Upper,
    Title,
    LoudDomain,
}

fn cased(user: usize, case: Case) -> String {
    let email = EMAILS[user];
    match case {
        Case::Lower => email.to_owned(),
        Case::Upper => email.to_ascii_uppercase(),
        Case::Title => {
            let mut s = email.to_owned();
            s[..1].make_ascii_uppercase();
            s
        }
        Case::LoudDomain => {
            let (local, domain) = email.split_once('@').unwrap();
            format!("{local}@{}", domain.to_ascii_uppercase())
        }
    }
}

fn user_of_key(key: &str) -> usize {
    EMAILS
        .iter()
        .position(|e| *e == key)
        .unwrap_or_else(|| panic!("unknown address {key}"))
}

#[cfg(feature = "postgres")]
#[path = "../support/postgres.rs"]
mod pg_support;

/// `cases`, unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        // One file for this binary: the default (a file per source file, found through the
        // nearest `main.rs`) would put every `tests/*/main.rs` in one shared file.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/model.txt"
        )))),
        ..Config::default()
    }
}

// Many cases of up to 30 transitions over the memory store, which answers at once. The SQL
// stores answer through a driver (PostgreSQL over TCP) and every step's check reads them a
// few dozen times, so they get fewer cases; `PROPTEST_CASES` sets more for a longer run.
prop_state_machine! {
    #![proptest_config(config(2048))]

    /// spec: INV-1..8, INV-11, ROLE-2..4, ADM-5, ORG-4, TEAM-3 over [`MemoryStore`].
    #[test]
    fn roster_matches_the_model_on_the_memory_store(sequential 1..=30 => RosterTest<Memory>);
}

#[cfg(feature = "sqlite")]
prop_state_machine! {
    #![proptest_config(config(64))]

    /// spec: as above, over `SqliteStore` (a fresh in-memory database per case).
    #[test]
    fn roster_matches_the_model_on_the_sqlite_store(sequential 1..=30 => RosterTest<Sqlite>);
}

#[cfg(feature = "postgres")]
prop_state_machine! {
    #![proptest_config(config(24))]

    /// The cases of [`roster_matches_the_model_on_the_postgres_store`] (no `#[test]`: the
    /// test skips them when no server is configured).
    fn postgres_cases(sequential 1..=30 => RosterTest<Postgres>);
}

/// spec: as above, over `PostgresStore` (a fresh schema per case), when
/// `ORGROSTER_TEST_POSTGRES_URL` names a database (`.ci/run` always sets it).
#[cfg(feature = "postgres")]
#[test]
fn roster_matches_the_model_on_the_postgres_store() {
    if pg_support::url().is_none() {
        eprintln!(
            "skipped: set {} (e.g. postgres://postgres@127.0.0.1:5432/test) to run the model \
             against PostgreSQL",
            pg_support::URL_VAR
        );
        return;
    }
    postgres_cases();
}
