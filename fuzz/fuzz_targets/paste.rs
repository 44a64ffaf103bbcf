//! The bulk paste (spec: INV-7, ERR-1, ERR-3): `parse_paste` never panics, every entry lands
//! in exactly one list, and every accepted address re-parses to itself, alone and as a paste.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use orgroster::{BulkLineError, EmailAddress, Field, ParsedPaste, ValidationError};

/// The longest excerpt a rejected entry may carry, in characters (see `RejectedEntry::text`).
const MAX_REPORTED_CHARS: usize = 320;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = match ParsedPaste::parse(input, usize::MAX) {
        Ok(parsed) => parsed,
        Err(error) => {
            // With no cap on the count, only the paste as a whole can be refused.
            assert!(
                matches!(
                    error,
                    ValidationError::Empty {
                        field: Field::Paste
                    } | ValidationError::TooLong {
                        field: Field::Paste,
                        ..
                    }
                ),
                "unexpected error {error:?}"
            );
            return;
        }
    };
    let lines = input.split('\n').count();
    let total = parsed.addresses.len() + parsed.rejected.len();
    assert!(total > 0, "an accepted paste has at least one entry");

    let mut keys = HashSet::new();
    for pasted in &parsed.addresses {
        assert!(
            (1..=lines).contains(&pasted.line),
            "line {} of {lines}",
            pasted.line
        );
        assert!(
            keys.insert(pasted.email.key()),
            "{:?} accepted twice",
            pasted.email
        );
        // Round trip: the accepted text parses to the same address, spelled the same.
        let again = EmailAddress::parse(pasted.email.as_str());
        assert_eq!(again.as_ref(), Ok(&pasted.email));
        assert_eq!(
            again.map(|e| e.as_str().to_owned()),
            Ok(pasted.email.as_str().to_owned())
        );
    }
    assert!(parsed.addresses.windows(2).all(|w| w[0].line <= w[1].line));
    assert!(parsed.rejected.windows(2).all(|w| w[0].line <= w[1].line));
    for rejected in &parsed.rejected {
        assert!(
            (1..=lines).contains(&rejected.line),
            "line {} of {lines}",
            rejected.line
        );
        assert!(!rejected.text.is_empty(), "an empty entry was reported");
        assert!(rejected.text.chars().count() <= MAX_REPORTED_CHARS);
        match &rejected.reason {
            BulkLineError::Invalid(error) => assert_eq!(error.field(), Field::Email),
            BulkLineError::DuplicateInPaste { first_line } => {
                assert!(*first_line <= rejected.line, "{rejected:?}");
            }
            other => panic!("parse_paste produced {other:?}"),
        }
    }

    // The cap counts every entry, valid or not: exactly `total` passes, one less does not.
    assert_eq!(ParsedPaste::parse(input, total).as_ref(), Ok(&parsed));
    assert_eq!(
        ParsedPaste::parse(input, total - 1),
        Err(ValidationError::TooMany {
            field: Field::Paste,
            count: total,
            max: total - 1
        })
    );

    // The accepted addresses, one per line, read back as the same list with nothing rejected.
    if !parsed.addresses.is_empty() {
        let listed: Vec<&str> = parsed.addresses.iter().map(|a| a.email.as_str()).collect();
        let again = ParsedPaste::parse(&listed.join("\n"), listed.len());
        let Ok(again) = again else {
            panic!("the accepted addresses {listed:?} do not parse back: {again:?}");
        };
        assert!(again.rejected.is_empty(), "{:?}", again.rejected);
        let reread: Vec<&str> = again.addresses.iter().map(|a| a.email.as_str()).collect();
        assert_eq!(reread, listed);
    }
});
