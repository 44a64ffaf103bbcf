//! The host's secret that invitation links are derived from (spec: INV-6).
//!
//! A link's token is `HMAC-SHA-256(key, invitation id, link generation)`: the shell computes
//! it when an invitation is decided and again when its email is rendered, so the token is
//! never written to a store, and nothing a store holds (the invitation's id, its generation,
//! the SHA-256 of the token) lets someone with a copy of the database compute it without
//! the key. The host keeps the key outside the database, as it keeps its session-signing
//! secret.
//!
//! A link already mailed is found by its hash, so changing the key does not revoke it
//! (revoking the invitation does); it makes mail still queued unsendable, and that mail is
//! given up with a reason saying to resend the invitation.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit as _, Mac as _};

use crate::domain::{ids::InvitationId, token::InvitationToken};

/// Separates link tokens from anything else a host might derive from the same key.
const PURPOSE: &[u8] = b"orgroster invitation link v1\0";

/// The secret invitation links are derived from (spec: INV-6). 32 bytes; keep it in the
/// host's secret store, never in the database.
///
/// `Debug` prints `LinkKey(..)`: the key never reaches a log line.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

/// Why a [`LinkKey`] could not be read or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkKeyError {
    /// The text is not 32 bytes in standard base64.
    #[error("a link key is 32 bytes in standard base64 (44 characters ending in `=`)")]
    Malformed,
    /// The operating system gave no secure randomness.
    #[error("no secure randomness to generate a link key")]
    Randomness(#[source] crate::error::BoxError),
}

impl LinkKey {
    /// Wraps 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads a key from standard base64, as [`LinkKey::to_base64`] writes it (for example
    /// from an environment variable the host's secret store fills).
    ///
    /// # Errors
    /// [`LinkKeyError::Malformed`] for anything but 32 bytes in standard base64.
    pub fn from_base64(text: &str) -> Result<Self, LinkKeyError> {
        let mut bytes = [0_u8; 32];
        match STANDARD.decode_slice(text.trim(), &mut bytes) {
            Ok(32) => Ok(Self(bytes)),
            _ => Err(LinkKeyError::Malformed),
        }
    }

    /// A new key from the operating system's CSPRNG. A key that lives only in one process
    /// dies with it, and with it the links of every email not yet sent: store it.
    ///
    /// # Errors
    /// [`LinkKeyError::Randomness`] when no secure randomness is available.
    pub fn generate() -> Result<Self, LinkKeyError> {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| LinkKeyError::Randomness(Box::new(e)))?;
        Ok(Self(bytes))
    }

    /// The key in standard base64, to put in the host's secret store.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The token of generation `generation` of `invitation`'s link: the same inputs always
    /// give the same token, so the email can be rendered long after the decision.
    pub(crate) fn token(&self, invitation: InvitationId, generation: u32) -> InvitationToken {
        // HMAC pads a short key with zeros to the hash's block: padding it here gives the
        // same MAC through the constructor that cannot fail.
        let mut block = [0_u8; 64];
        block[..32].copy_from_slice(&self.0);
        let mut mac = hmac::Hmac::<sha2::Sha256>::new(&block.into());
        mac.update(PURPOSE);
        mac.update(invitation.as_uuid().as_bytes());
        mac.update(&generation.to_be_bytes());
        InvitationToken::from_bytes(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> LinkKey {
        LinkKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_token_depends_on_the_key_the_invitation_and_the_generation() {
        // spec: INV-6
        let id = InvitationId::new();
        let other = InvitationId::new();
        let base = key(1).token(id, 0).hash();
        assert_eq!(
            base,
            key(1).token(id, 0).hash(),
            "the same inputs, the same token"
        );
        assert!(base != key(2).token(id, 0).hash(), "another key");
        assert!(base != key(1).token(other, 0).hash(), "another invitation");
        assert!(base != key(1).token(id, 1).hash(), "a resent link");
    }

    #[test]
    fn the_token_is_hmac_sha256_of_purpose_id_and_generation() {
        // spec: INV-6 — pinned against an independent computation of RFC 2104's HMAC.
        use sha2::Digest as _;
        let secret = [7_u8; 32];
        let id = InvitationId::from_uuid(uuid::Uuid::from_u128(42));
        let mut message = PURPOSE.to_vec();
        message.extend_from_slice(id.as_uuid().as_bytes());
        message.extend_from_slice(&3_u32.to_be_bytes());
        let pad = |byte: u8| {
            let mut block = [byte; 64];
            for (b, k) in block.iter_mut().zip(secret) {
                *b ^= k;
            }
            block
        };
        let inner = sha2::Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(&message)
            .finalize();
        let outer: [u8; 32] = sha2::Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .into();
        let expected = InvitationToken::from_bytes(outer);
        assert_eq!(
            LinkKey::from_bytes(secret).token(id, 3).expose(),
            expected.expose()
        );
    }

    #[test]
    fn a_key_reads_back_from_its_base64_and_nothing_else() {
        let k = LinkKey::generate().expect("randomness");
        let back = LinkKey::from_base64(&k.to_base64()).expect("its own text");
        assert_eq!(back.0, k.0);
        assert!(LinkKey::from_base64("").is_err());
        assert!(LinkKey::from_base64("c2hvcnQ=").is_err());
        assert!(LinkKey::from_base64(&"A".repeat(1000)).is_err());
        assert!(LinkKey::from_base64("not base64 at all, not at all, not at all!!").is_err());
    }

    #[test]
    fn debug_shows_nothing_of_the_key() {
        let k = key(0xab);
        let shown = format!("{k:?} {k:#?}");
        assert!(!shown.contains(&k.to_base64()));
        assert!(!shown.to_lowercase().contains("abab"));
        assert_eq!(format!("{k:?}"), "LinkKey(..)");
    }
}
