//! Service-level tests of `orgroster`: the stories of the two seed articles, the
//! authorization matrix, every error variant, hostile input, mail delivery through the outbox,
//! and a check that every rule is cited by some test. Each test names the spec rules it
//! proves in a `// spec: ID` comment (ids as in `SPEC.md` and `orgroster::rules`).

// A failed expectation in a fixture or helper is a failed test: panicking is the point.
// (`allow-unwrap-in-tests` covers only `#[test]` bodies, not their helpers.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analytics;
mod bad_input;
mod contention;
mod delivery;
mod errors;
mod fixture;
mod foreign_ids;
mod links;
mod matrix;
#[cfg(feature = "postgres")]
#[path = "../support/postgres.rs"]
mod pg;
mod races;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod replicas;
#[cfg(feature = "postgres")]
mod round_trips;
#[cfg(feature = "sqlite")]
#[path = "../support/scratch.rs"]
mod scratch;
#[cfg(feature = "smtp")]
mod smtp;
#[cfg(feature = "smtp")]
#[path = "../support/smtp_server.rs"]
mod smtp_server;
mod spec_coverage;
mod stories;
mod wrapped_store;
