//! The pure core: types that parse once, and decisions that are functions of
//! (state, command, `now`) returning an outcome and a [`ChangeSet`](changes::ChangeSet).
//!
//! Nothing here is async, does I/O, reads a clock or draws random numbers: time comes in
//! as `now` and fresh ids and tokens through [`Fresh`](changes::Fresh), so every transition
//! is reproducible and testable without a store.

pub(crate) mod activity;
pub(crate) mod bulk;
pub(crate) mod changes;
pub(crate) mod delivery;
pub(crate) mod email;
pub(crate) mod erasure;
pub(crate) mod error;
pub(crate) mod event;
pub(crate) mod ids;
pub(crate) mod invitation;
pub(crate) mod invite_options;
pub(crate) mod member;
pub(crate) mod organization;
pub(crate) mod outbox;
pub(crate) mod role;
pub(crate) mod team;
pub(crate) mod text;
pub(crate) mod time;
pub(crate) mod token;
pub(crate) mod validation;
