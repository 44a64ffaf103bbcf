//! Email addresses (spec: ERR-1, ERR-3, INV-6): `EmailAddress::parse` never panics, agrees
//! with `FromStr`, `TryFrom<String>` and serde, and what it accepts round-trips unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgroster::{EmailAddress, Field};

/// RFC 5321's limit, as `EmailAddress` documents it.
const MAX_TOTAL: usize = 254;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = EmailAddress::parse(input);
    // Every way in gives the same answer.
    assert_eq!(input.parse::<EmailAddress>(), parsed);
    assert_eq!(EmailAddress::try_from(input.to_owned()), parsed);
    let from_json = serde_json::from_value::<EmailAddress>(serde_json::Value::from(input));
    assert_eq!(from_json.is_ok(), parsed.is_ok());

    let email = match parsed {
        Ok(email) => email,
        Err(error) => {
            assert_eq!(error.field(), Field::Email);
            return;
        }
    };
    let text = email.as_str();
    assert_eq!(text, input.trim_ascii());
    assert!(text.is_ascii() && text.len() <= MAX_TOTAL, "{text:?}");
    assert_eq!(email.key(), text.to_ascii_lowercase());
    assert_eq!(format!("{}@{}", email.local_part(), email.domain()), text);
    assert_eq!(email.to_string(), text);

    // Round trip through each way out: the same address, spelled the same.
    for out in [
        text.to_owned(),
        email.to_string(),
        String::from(email.clone()),
    ] {
        let again = EmailAddress::parse(&out);
        assert_eq!(again.as_ref(), Ok(&email));
        assert_eq!(again.map(|e| e.as_str().to_owned()), Ok(text.to_owned()));
    }
    // The key is an address too, equal to the original (comparison is case-insensitive).
    assert_eq!(EmailAddress::parse(email.key()).as_ref(), Ok(&email));
    let json = serde_json::to_string(&email).unwrap_or_default();
    let back = serde_json::from_str::<EmailAddress>(&json);
    assert_eq!(
        back.map(|e| e.as_str().to_owned()).ok().as_deref(),
        Some(text)
    );
    // Refused before trimming when huge, but accepted padded within the allowance.
    assert_eq!(
        EmailAddress::parse(format!(" \t{text}\r\n ")).as_ref(),
        Ok(&email)
    );
});
