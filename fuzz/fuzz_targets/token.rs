//! Invitation tokens and their stored hashes (spec: INV-6, ERR-1): `InvitationToken::parse` and
//! `TokenHash::from_hex` never panic, accept exactly one spelling of each value, and what they
//! accept round-trips; `Debug` never shows the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgroster::{Field, InvitationToken, TokenHash, ValidationError};

fuzz_target!(|data: &[u8]| {
    // Bytes to text: any 32 bytes make a token whose link text reads back as the same token.
    if let Some(bytes) = data.first_chunk::<32>() {
        let token = InvitationToken::from_bytes(*bytes);
        let text = token.expose();
        assert_eq!(text.len(), 43);
        let again = InvitationToken::parse(&text);
        assert!(again.is_ok_and(|t| t.hash() == token.hash() && token.hash().verify(&t)));
        let hash = TokenHash::from_bytes(*bytes);
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Ok(hash));
    }

    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match InvitationToken::parse(input) {
        Ok(token) => {
            // Canonical: the link text is the only spelling of this token.
            assert_eq!(token.expose(), input);
            let again = InvitationToken::parse(&token.expose());
            assert!(again.is_ok_and(|t| token.hash().verify(&t)));
            assert_eq!(format!("{token:?}"), "InvitationToken(..)");
        }
        Err(error) => assert_malformed_token(&error),
    }
    let parsed = TokenHash::from_hex(input);
    let from_json = serde_json::from_value::<TokenHash>(serde_json::Value::from(input));
    assert_eq!(from_json.ok(), parsed.clone().ok());
    match parsed {
        Ok(hash) => {
            // Either case is read; lowercase is written.
            assert_eq!(hash.to_hex(), input.to_ascii_lowercase());
            assert_eq!(TokenHash::from_hex(&hash.to_hex()), Ok(hash));
            let json = serde_json::to_string(&hash).unwrap_or_default();
            assert_eq!(serde_json::from_str::<TokenHash>(&json).ok(), Some(hash));
            let shown = format!("{hash:?}");
            assert!(!shown.contains(&hash.to_hex()), "{shown}");
        }
        Err(error) => assert_malformed_token(&error),
    }
});

/// What either parser must refuse with: a malformed token, nothing else.
fn assert_malformed_token(error: &ValidationError) {
    assert!(
        matches!(
            error,
            ValidationError::Malformed {
                field: Field::Token,
                ..
            }
        ),
        "{error:?}"
    );
}
