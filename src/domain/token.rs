//! Invitation link secrets and their stored hashes (spec: INV-6).
//!
//! The domain holds no secret and no randomness: the shell fills the 32 bytes of an
//! [`InvitationToken`] with an HMAC-SHA-256 under the host's 256-bit link key (itself drawn
//! from a CSPRNG), unguessable without that key, above the 128 bits INV-6 asks for. Only the
//! [`TokenHash`] is stored, so a leaked database does not yield working links.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use super::validation::{Field, ValidationError};

/// Length of a token in URL text: 32 bytes in unpadded base64.
const TEXT_LEN: usize = 43;

/// The secret carried by an invitation link (spec: INV-6), shown once and never stored.
///
/// Deliberately missing traits:
/// - no `Display` and no `Serialize`, so the secret cannot slip into a log line, an error
///   message or a stored record by accident; the URL text comes only from
///   [`expose`](Self::expose), which is easy to grep for;
/// - no `PartialEq`, because a derived comparison stops at the first differing byte and so leaks
///   timing; compare through [`TokenHash::verify`], which is constant-time.
///
/// `Debug` prints `InvitationToken(..)` and nothing of the secret.
#[derive(Clone)]
pub struct InvitationToken {
    bytes: [u8; 32],
}

impl InvitationToken {
    /// Number of bytes in a token.
    pub const LEN: usize = 32;

    /// Wraps the bytes of a link's token: secret bytes nobody can guess (spec: INV-6).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { bytes }
    }

    /// Reads a token from the text of a link: exactly 43 characters of URL-safe base64 without
    /// padding (spec: INV-6).
    ///
    /// # Errors
    /// [`ValidationError::Malformed`] with [`Field::Token`] when the length or alphabet is
    /// wrong, as when a mail client cut or altered the link.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        // Checked first so that a huge input is refused without decoding it.
        if text.len() != TEXT_LEN {
            return Err(malformed());
        }
        let mut bytes = [0_u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(Self::LEN) => Ok(Self { bytes }),
            _ => Err(malformed()),
        }
    }

    /// The token as URL text, for building the acceptance link. Named so every place the secret
    /// leaves the domain can be found with a search.
    pub fn expose(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes)
    }

    /// The SHA-256 of the raw bytes: what gets stored (spec: INV-6).
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.bytes).into())
    }
}

fn malformed() -> ValidationError {
    ValidationError::Malformed {
        field: Field::Token,
        reason: "the link is incomplete or was changed; open the link from the email again",
    }
}

impl fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvitationToken(..)")
    }
}

/// The SHA-256 of an [`InvitationToken`]: the only form in which a link is stored
/// (spec: INV-6).
///
/// Equality is constant-time, like [`verify`](Self::verify), so looking a hash up by comparison
/// reveals nothing through timing. Serializes as 64 lowercase hex digits.
#[derive(Clone, Copy)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Wraps a stored hash.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
        out
    }

    /// Reads a hash from 64 hex digits (either case).
    ///
    /// # Errors
    /// [`ValidationError::Malformed`] with [`Field::Token`] for any other text.
    pub fn from_hex(text: &str) -> Result<Self, ValidationError> {
        let reason = "a stored invitation hash must be 64 hexadecimal digits";
        let err = || ValidationError::Malformed {
            field: Field::Token,
            reason,
        };
        if text.len() != 64 {
            return Err(err());
        }
        let mut bytes = [0_u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let [hi, lo] = pair else {
                return Err(err());
            };
            let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) else {
                return Err(err());
            };
            *byte = (hi << 4) | lo;
        }
        Ok(Self(bytes))
    }

    /// Whether `token` hashes to this value, in time independent of where they differ
    /// (spec: INV-6).
    pub fn verify(&self, token: &InvitationToken) -> bool {
        *self == token.hash()
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(
        b"0123456789abcdef"
            .get(usize::from(nibble))
            .copied()
            .unwrap_or(b'0'),
    )
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        // Every byte is visited whatever the outcome, so timing does not tell how many match.
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl Eq for TokenHash {}

impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        let prefix = hex.get(..8).unwrap_or_default();
        write!(f, "TokenHash({prefix}…)")
    }
}

impl serde::Serialize for TokenHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for TokenHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ZERO_HASH: &str = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925";

    fn sample() -> InvitationToken {
        let mut bytes = [0_u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::try_from(i * 7 + 3).unwrap();
        }
        InvitationToken::from_bytes(bytes)
    }

    #[test]
    fn exposed_text_is_43_url_safe_characters_and_parses_back() {
        // spec: INV-6
        let token = sample();
        let text = token.expose();
        assert_eq!(text.len(), 43);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let back = InvitationToken::parse(&text).unwrap();
        assert_eq!(back.expose(), text);
        assert!(token.hash().verify(&back));
    }

    #[test]
    fn truncated_extended_and_altered_links_are_refused() {
        // spec: INV-6
        let text = sample().expose();
        let expected = Err(malformed());
        assert_eq!(InvitationToken::parse(&text[..42]).map(|_| ()), expected);
        assert_eq!(
            InvitationToken::parse(&format!("{text}A")).map(|_| ()),
            expected
        );
        let plus = format!("+{}", &text[1..]);
        assert_eq!(InvitationToken::parse(&plus).map(|_| ()), expected);
        let padded = format!("{}=", &text[..42]);
        assert_eq!(InvitationToken::parse(&padded).map(|_| ()), expected);
        assert_eq!(InvitationToken::parse("").map(|_| ()), expected);
        let multibyte = format!("é{}", &text[2..]);
        assert_eq!(InvitationToken::parse(&multibyte).map(|_| ()), expected);
    }

    #[test]
    fn a_last_character_with_stray_low_bits_is_refused() {
        // spec: INV-6 — only one text maps to each token, so a changed link never still works.
        let text = InvitationToken::from_bytes([0; 32]).expose();
        assert!(text.ends_with('A'));
        let altered = format!("{}B", &text[..42]);
        assert!(InvitationToken::parse(&altered).is_err());
    }

    #[test]
    fn the_hash_is_sha256_of_the_raw_bytes() {
        // spec: INV-6
        let hash = InvitationToken::from_bytes([0; 32]).hash();
        assert_eq!(hash.to_hex(), ZERO_HASH);
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        // spec: INV-6
        let token = sample();
        let debug = format!("{token:?}");
        assert_eq!(debug, "InvitationToken(..)");
        assert!(!debug.contains(&token.expose()));
        assert!(!format!("{:?}", Some(token.clone())).contains(&token.expose()));
    }

    #[test]
    fn hash_debug_shows_only_a_short_prefix() {
        let hash = InvitationToken::from_bytes([0; 32]).hash();
        assert_eq!(format!("{hash:?}"), "TokenHash(66687aad…)");
    }

    #[test]
    fn verify_refuses_a_different_token() {
        // spec: INV-6
        let hash = InvitationToken::from_bytes([0; 32]).hash();
        let mut bytes = [0; 32];
        bytes[31] = 1;
        assert!(!hash.verify(&InvitationToken::from_bytes(bytes)));
        assert!(hash.verify(&InvitationToken::from_bytes([0; 32])));
    }

    #[test]
    fn hex_roundtrips_in_either_case_and_refuses_other_text() {
        let hash = TokenHash::from_hex(ZERO_HASH).unwrap();
        assert_eq!(
            TokenHash::from_hex(&ZERO_HASH.to_uppercase()).unwrap(),
            hash
        );
        assert_eq!(
            hash.as_bytes(),
            TokenHash::from_bytes(*hash.as_bytes()).as_bytes()
        );
        for bad in [&ZERO_HASH[..63], "", &format!("{}g", &ZERO_HASH[..63])] {
            assert!(TokenHash::from_hex(bad).is_err(), "{bad}");
        }
        let multibyte = format!("é{}", &ZERO_HASH[2..]);
        assert!(TokenHash::from_hex(&multibyte).is_err());
    }

    #[test]
    fn serde_stores_the_hash_as_hex() {
        let hash = TokenHash::from_hex(ZERO_HASH).unwrap();
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(json, format!("\"{ZERO_HASH}\""));
        assert_eq!(serde_json::from_str::<TokenHash>(&json).unwrap(), hash);
        assert!(serde_json::from_str::<TokenHash>("\"abc\"").is_err());
    }

    proptest! {
        #[test]
        fn any_token_roundtrips_through_its_url_text(bytes in any::<[u8; 32]>()) {
            // spec: INV-6
            let token = InvitationToken::from_bytes(bytes);
            let back = InvitationToken::parse(&token.expose()).unwrap();
            prop_assert_eq!(back.bytes, bytes);
            prop_assert!(token.hash().verify(&back));
        }

        #[test]
        fn any_hash_roundtrips_through_hex(bytes in any::<[u8; 32]>()) {
            let hash = TokenHash::from_bytes(bytes);
            prop_assert_eq!(TokenHash::from_hex(&hash.to_hex()).unwrap(), hash);
        }

        #[test]
        fn hashes_are_equal_exactly_when_their_bytes_are(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
            prop_assert_eq!(TokenHash::from_bytes(a) == TokenHash::from_bytes(b), a == b);
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = InvitationToken::parse(&s);
            let _ = TokenHash::from_hex(&s);
        }
    }
}
