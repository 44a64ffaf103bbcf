//! Service-level tests of `orgroster`, one module per area, so that the test of a rule is found
//! from its id: `organizations` (ORG), `provisioning` (ORG-5), `invitations/` (INV, ADM-4),
//! `roles` (ROLE, ADM, USR), `erasure` (USR-5), `lifecycle` (MEM-1), `deactivation` (MEM-2),
//! `teams` (TEAM), `messages` (MSG-1, ADM-3), `analytics/` (STAT), `delivery/` (the outbox,
//! links' mail, SMTP: INV-9, INV-13, MSG-2, MSG-3). Beside them: the authorization `matrix`,
//! every `errors` variant, what a host sends on (`serialization`), `bad_input` and
//! `foreign_ids`, `races` and `contention` between commands, `durability/` (several processes
//! on one database, crashes, a failing database), PostgreSQL `round_trips`, the seeds told as
//! `stories`, and `spec_coverage`, which checks that every rule is cited by some test. Each
//! test names the spec rules it proves in a `// spec: ID` comment (ids as in `SPEC.md` and
//! `orgroster::rules`).

// A failed expectation in a fixture or helper is a failed test: panicking is the point.
// (`allow-unwrap-in-tests` covers only `#[test]` bodies, not their helpers.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analytics;
mod bad_input;
mod contention;
mod deactivation;
mod delivery;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod durability;
mod erasure;
mod errors;
mod fixture;
mod foreign_ids;
mod hooks;
mod invitations;
mod lifecycle;
mod matrix;
mod messages;
mod organizations;
#[cfg(feature = "postgres")]
#[path = "../support/postgres.rs"]
mod pg;
mod provisioning;
mod races;
mod roles;
#[cfg(feature = "postgres")]
mod round_trips;
#[cfg(feature = "sqlite")]
#[path = "../support/scratch.rs"]
mod scratch;
mod serialization;
#[cfg(feature = "smtp")]
#[path = "../support/smtp_server.rs"]
mod smtp_server;
mod spec_coverage;
mod stories;
mod teams;
mod wrapped_store;
