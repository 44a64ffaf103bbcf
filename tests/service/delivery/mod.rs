//! Mail delivery: the outbox and the delivery passes that empty it (`outbox.rs`: INV-9, MSG-2,
//! MSG-3), the invitation links the mail carries (`links.rs`: INV-6, INV-13), and, with the
//! `smtp` feature, a real SMTP conversation (`smtp/`).

mod links;
mod outbox;
#[cfg(feature = "smtp")]
mod smtp;
