//! Invitations by email (INV-1..15, ADM-4): inviting one administrator or many members from a
//! paste (`inviting.rs`); accepting through the link, previewing it, and answering it from
//! several places at once (`accepting.rs`); declining, expiry, resending and revoking, with the
//! audit trail that keeps what the listing drops (`lifecycle.rs`); the invitee's inbox across
//! organizations, answered by id under the rules of the link (`inbox.rs`, INV-15); an
//! invitation's own lifetime and the metadata its membership keeps (`options.rs`, INV-14). The
//! mail that carries a link is tested in `delivery/links.rs`.

mod accepting;
mod inbox;
mod inviting;
mod lifecycle;
mod options;
