//! The pure core: types that parse once, and decisions that are functions of
//! (state, command, `now`) returning an outcome and a [`ChangeSet`](changes::ChangeSet).
//!
//! Nothing here is async, does I/O, reads a clock or draws random numbers: time comes in
//! as `now` and fresh ids and tokens through [`Fresh`](changes::Fresh), so every transition
//! is reproducible and testable without a store.

pub mod activity;
pub mod bulk;
pub mod changes;
pub mod delivery;
pub mod email;
pub mod error;
pub mod event;
pub mod ids;
pub mod invitation;
pub mod member;
pub mod organization;
pub mod outbox;
pub mod role;
pub mod team;
pub mod text;
pub mod time;
pub mod token;
pub mod validation;
