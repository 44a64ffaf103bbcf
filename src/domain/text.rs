//! Bounded, validated text: names, subjects, messages and course ids (spec: ERR-3).
//!
//! Every type here trims surrounding white space, refuses empty text, counts its length in
//! characters, and refuses control characters and the invisible or direction-changing
//! characters that can make text look like something it is not (for instance U+202E, which
//! reverses the text after it). Once parsed, a value never needs checking again.

use std::fmt;

use super::validation::{Field, ValidationError};

/// How a type treats line breaks and which characters it accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No control characters at all: the text may end up in a mail header or a one-line field.
    SingleLine,
    /// Line feeds and tabs allowed; CR LF and lone CR become LF.
    MultiLine,
    /// Printable ASCII without spaces, as identifiers in a host's catalogue are.
    AsciiGraphic,
}

/// Invisible or format characters used to disguise text (bidirectional overrides, zero-width
/// characters, soft hyphen, line and paragraph separators, interlinear annotations). They are
/// not `char::is_control`, so they need listing.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

fn is_forbidden(c: char, kind: Kind) -> bool {
    let allowed_control = kind == Kind::MultiLine && (c == '\n' || c == '\t');
    (c.is_control() && !allowed_control) || is_invisible(c)
}

/// The single validation routine behind every type in this module (spec: ERR-3).
fn clean(input: &str, field: Field, max: usize, kind: Kind) -> Result<String, ValidationError> {
    // A char is at most 4 bytes, so anything longer than this is too long whatever it holds.
    // The allowance for surrounding white space keeps padded input acceptable while still
    // refusing a 10 MB paste before trimming or counting a single character.
    let byte_limit = max.saturating_mul(4);
    if input.len() > byte_limit.saturating_add(1024) {
        return Err(ValidationError::TooLong {
            field,
            len: input.len(),
            max,
        });
    }
    let text = input.trim();
    if text.is_empty() {
        return Err(ValidationError::Empty { field });
    }
    if text.len() > byte_limit {
        return Err(ValidationError::TooLong {
            field,
            len: text.len(),
            max,
        });
    }
    let crlf = if kind == Kind::MultiLine {
        text.matches("\r\n").count()
    } else {
        0
    };
    let len = text.chars().count().saturating_sub(crlf);
    if len > max {
        return Err(ValidationError::TooLong { field, len, max });
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().enumerate().peekable();
    while let Some((position, c)) = chars.next() {
        let c = if kind == Kind::MultiLine && c == '\r' {
            // One line break, not two: a CR LF pair is consumed whole.
            if chars.peek().is_some_and(|&(_, next)| next == '\n') {
                chars.next();
            }
            '\n'
        } else {
            c
        };
        if is_forbidden(c, kind) {
            return Err(ValidationError::ForbiddenCharacter { field, position });
        }
        if kind == Kind::AsciiGraphic && !c.is_ascii_graphic() {
            return Err(ValidationError::Malformed {
                field,
                reason: "use only ASCII letters, digits and punctuation, without spaces",
            });
        }
        out.push(c);
    }
    Ok(out)
}

/// Generates a bounded text newtype whose only constructor validates through [`clean`].
macro_rules! bounded_text {
    (
        $(#[$meta:meta])*
        $name:ident, field: $field:expr, max: $max:expr, kind: $kind:expr
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest text accepted, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Trims and validates `input` (spec: ERR-3).
            ///
            /// # Errors
            /// [`ValidationError::Empty`] when nothing is left after trimming,
            /// [`ValidationError::TooLong`] over [`Self::MAX_CHARS`] characters,
            /// [`ValidationError::ForbiddenCharacter`] for a control or invisible character.
            pub fn parse(input: impl AsRef<str>) -> Result<Self, ValidationError> {
                clean(input.as_ref(), $field, Self::MAX_CHARS, $kind).map(Self)
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

bounded_text! {
    /// A person's first or last name: one line of at most 100 characters (spec: ERR-3).
    ///
    /// [`parse`](Self::parse) reports errors against [`Field::FirstName`]; use
    /// [`parse_as`](Self::parse_as) to name [`Field::LastName`] instead.
    PersonName, field: Field::FirstName, max: 100, kind: Kind::SingleLine
}

impl PersonName {
    /// Like [`parse`](Self::parse), but errors name `field` (normally [`Field::FirstName`] or
    /// [`Field::LastName`]) so a host can point at the right form input.
    pub fn parse_as(input: impl AsRef<str>, field: Field) -> Result<Self, ValidationError> {
        clean(input.as_ref(), field, Self::MAX_CHARS, Kind::SingleLine).map(Self)
    }
}

bounded_text! {
    /// An organization's name: one line of at most 120 characters (spec: ERR-3).
    OrganizationName, field: Field::OrganizationName, max: 120, kind: Kind::SingleLine
}

bounded_text! {
    /// A team's name: one line of at most 80 characters (spec: ERR-3).
    ///
    /// Names are shown as given but compared through [`key`](Self::key), so an organization
    /// cannot hold both `Sales` and `sales`.
    TeamName, field: Field::TeamName, max: 80, kind: Kind::SingleLine
}

impl TeamName {
    /// The lowercased name, for case-insensitive uniqueness within an organization.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

bounded_text! {
    /// A subject line of at most 200 characters (spec: ERR-3).
    ///
    /// It goes into mail headers, so CR, LF and every other control character are refused:
    /// header injection is impossible by construction.
    Subject, field: Field::Subject, max: 200, kind: Kind::SingleLine
}

bounded_text! {
    /// A message body of at most 10 000 characters (spec: ERR-3).
    ///
    /// Line feeds and tabs are kept; CR LF and lone CR are turned into LF before checking, so
    /// the stored text has one line-break convention. Other control characters are refused.
    Message, field: Field::Message, max: 10_000, kind: Kind::MultiLine
}

bounded_text! {
    /// A course id from the host's catalogue: at most 128 printable ASCII characters, no spaces
    /// (spec: ERR-3). Anything else is [`ValidationError::Malformed`].
    CourseId, field: Field::CourseId, max: 128, kind: Kind::AsciiGraphic
}

bounded_text! {
    /// The host's id for one learning event: at most 128 printable ASCII characters, no
    /// spaces. Reporting an event with an id already recorded never counts it twice
    /// (spec: STAT-1).
    ActivityId, field: Field::ActivityId, max: 128, kind: Kind::AsciiGraphic
}

/// A person's first and last names.
///
/// Deserializing validates both names and reports errors against the right field.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawProfile")]
pub struct Profile {
    /// The first (given) name.
    pub first_name: PersonName,
    /// The last (family) name.
    pub last_name: PersonName,
}

impl Profile {
    /// Validates both names, reporting [`Field::FirstName`] or [`Field::LastName`] (spec: ERR-3).
    pub fn parse(first: impl AsRef<str>, last: impl AsRef<str>) -> Result<Self, ValidationError> {
        Ok(Self {
            first_name: PersonName::parse_as(first, Field::FirstName)?,
            last_name: PersonName::parse_as(last, Field::LastName)?,
        })
    }

    /// The names joined by a space, as in "Jane Doe".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// The unvalidated shape of a [`Profile`], so deserialization can route through
/// [`Profile::parse`] and name the failing field.
#[derive(serde::Deserialize)]
struct RawProfile {
    first_name: String,
    last_name: String,
}

impl TryFrom<RawProfile> for Profile {
    type Error = ValidationError;

    fn try_from(raw: RawProfile) -> Result<Self, Self::Error> {
        Self::parse(raw.first_name, raw.last_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_and_kept_as_given() {
        let name = PersonName::parse("  Zoë  ").unwrap();
        assert_eq!(name.as_str(), "Zoë");
        assert_eq!(name.to_string(), "Zoë");
        assert_eq!(String::from(name), "Zoë");
    }

    #[test]
    fn blank_text_is_an_empty_error_for_the_right_field() {
        // spec: ERR-3
        assert_eq!(
            PersonName::parse(" \t "),
            Err(ValidationError::Empty {
                field: Field::FirstName
            })
        );
        assert_eq!(
            PersonName::parse_as("", Field::LastName),
            Err(ValidationError::Empty {
                field: Field::LastName
            })
        );
        assert_eq!(
            OrganizationName::parse("").unwrap_err().field(),
            Field::OrganizationName
        );
        assert_eq!(TeamName::parse("").unwrap_err().field(), Field::TeamName);
        assert_eq!(Subject::parse("").unwrap_err().field(), Field::Subject);
        assert_eq!(Message::parse("\r\n").unwrap_err().field(), Field::Message);
        assert_eq!(CourseId::parse("").unwrap_err().field(), Field::CourseId);
    }

    #[test]
    fn lengths_are_counted_in_characters_at_each_boundary() {
        // spec: ERR-3 — 'é' is two bytes, so a byte count would refuse these too early.
        fn check<T: std::fmt::Debug>(
            max: usize,
            field: Field,
            parse: fn(&str) -> Result<T, ValidationError>,
        ) {
            assert!(parse(&"é".repeat(max)).is_ok(), "{field:?} at {max}");
            assert_eq!(
                parse(&"é".repeat(max + 1)).unwrap_err(),
                ValidationError::TooLong {
                    field,
                    len: max + 1,
                    max
                }
            );
        }
        check(100, Field::FirstName, |s| PersonName::parse(s));
        check(120, Field::OrganizationName, |s| OrganizationName::parse(s));
        check(80, Field::TeamName, |s| TeamName::parse(s));
        check(200, Field::Subject, |s| Subject::parse(s));
        check(10_000, Field::Message, |s| Message::parse(s));
        assert!(CourseId::parse("c".repeat(128)).is_ok());
        assert!(matches!(
            CourseId::parse("c".repeat(129)),
            Err(ValidationError::TooLong {
                len: 129,
                max: 128,
                ..
            })
        ));
    }

    #[test]
    fn a_bidi_override_is_refused_at_its_position() {
        // spec: ERR-3 — U+202E would display "Acme\u{202E}gnp.exe" as "Acmeexe.png".
        assert_eq!(
            OrganizationName::parse("Acme\u{202E}gnp.exe"),
            Err(ValidationError::ForbiddenCharacter {
                field: Field::OrganizationName,
                position: 4
            })
        );
    }

    #[test]
    fn every_listed_invisible_character_is_refused() {
        // spec: ERR-3
        let listed = [
            '\u{AD}', '\u{61C}', '\u{180E}', '\u{200B}', '\u{200F}', '\u{202A}',
        ]
        .into_iter()
        .chain([
            '\u{2028}', '\u{2029}', '\u{2060}', '\u{2064}', '\u{2066}', '\u{206F}',
        ])
        .chain(['\u{FEFF}', '\u{FFF9}', '\u{FFFB}']);
        for c in listed {
            let text = format!("a{c}b");
            assert!(
                matches!(
                    TeamName::parse(&text),
                    Err(ValidationError::ForbiddenCharacter { position: 1, .. })
                ),
                "U+{:04X}",
                u32::from(c)
            );
            assert!(Message::parse(&text).is_err(), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn a_subject_with_crlf_is_refused() {
        // spec: ERR-3 — a line break in a header would let the text add headers of its own.
        assert_eq!(
            Subject::parse("Hello\r\nBcc: victim@example.com"),
            Err(ValidationError::ForbiddenCharacter {
                field: Field::Subject,
                position: 5
            })
        );
        assert!(Subject::parse("Hello\nthere").is_err());
        assert!(PersonName::parse("Jane\tDoe").is_err());
    }

    #[test]
    fn a_message_normalises_crlf_and_lone_cr_to_lf() {
        // spec: ERR-3
        let msg = Message::parse("Hi,\r\n\r\nwelcome\rto\tthe team\n").unwrap();
        assert_eq!(msg.as_str(), "Hi,\n\nwelcome\nto\tthe team");
    }

    #[test]
    fn a_message_reports_the_position_in_the_trimmed_text() {
        // spec: ERR-3 — position counts the CR of a CR LF pair, as the person typed it.
        assert_eq!(
            Message::parse("a\r\nb\u{7}"),
            Err(ValidationError::ForbiddenCharacter {
                field: Field::Message,
                position: 4
            })
        );
    }

    #[test]
    fn a_message_of_max_chars_with_crlf_counts_each_pair_once() {
        let text = "a\r\n".repeat(5_000);
        assert!(Message::parse(&text).is_ok());
    }

    #[test]
    fn a_course_id_must_be_printable_ascii_without_spaces() {
        // spec: ERR-3
        assert_eq!(
            CourseId::parse(" rust-101/v2 ").unwrap().as_str(),
            "rust-101/v2"
        );
        for bad in ["rust 101", "cöurse"] {
            assert!(
                matches!(
                    CourseId::parse(bad),
                    Err(ValidationError::Malformed {
                        field: Field::CourseId,
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            CourseId::parse("a\u{0}b"),
            Err(ValidationError::ForbiddenCharacter { position: 1, .. })
        ));
    }

    #[test]
    fn team_names_compare_case_insensitively_through_their_key() {
        let a = TeamName::parse("Sales EMEA").unwrap();
        let b = TeamName::parse("sales emea").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn a_profile_names_the_failing_field_and_joins_the_full_name() {
        // spec: ERR-3
        let profile = Profile::parse(" Jane ", "Doe").unwrap();
        assert_eq!(profile.full_name(), "Jane Doe");
        assert_eq!(
            Profile::parse("Jane", " ").unwrap_err().field(),
            Field::LastName
        );
        assert_eq!(
            Profile::parse("", "Doe").unwrap_err().field(),
            Field::FirstName
        );
    }

    #[test]
    fn serde_roundtrips_and_refuses_invalid_text() {
        let subject = Subject::parse("Welcome").unwrap();
        let json = serde_json::to_string(&subject).unwrap();
        assert_eq!(json, "\"Welcome\"");
        assert_eq!(serde_json::from_str::<Subject>(&json).unwrap(), subject);
        assert!(serde_json::from_str::<Subject>("\"a\\r\\nb\"").is_err());

        let profile = Profile::parse("Jane", "Doe").unwrap();
        let json = serde_json::to_string(&profile).unwrap();
        assert_eq!(json, r#"{"first_name":"Jane","last_name":"Doe"}"#);
        assert_eq!(serde_json::from_str::<Profile>(&json).unwrap(), profile);
        let err = serde_json::from_str::<Profile>(r#"{"first_name":"Jane","last_name":""}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("last name"), "{err}");
    }

    #[test]
    fn a_ten_megabyte_input_is_refused_without_scanning_it() {
        // spec: ERR-3
        for huge in ["x".repeat(10 << 20), " ".repeat(10 << 20)] {
            let result = Message::parse(&huge);
            assert!(matches!(result, Err(ValidationError::TooLong { .. })));
        }
    }

    fn accepted_is_clean(value: &str, max: usize, kind: Kind) -> Result<(), TestCaseError> {
        prop_assert!(!value.is_empty());
        prop_assert_eq!(value, value.trim());
        prop_assert!(value.chars().count() <= max);
        prop_assert!(!value.chars().any(|c| is_forbidden(c, kind)));
        prop_assert!(!value.contains('\r'));
        Ok(())
    }

    /// Strings rich in the characters the rules are about.
    fn tricky() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                any::<char>(),
                prop::sample::select(vec![
                    '\r', '\n', '\t', ' ', '\u{0}', '\u{85}', '\u{202E}', '\u{200B}', '\u{FEFF}',
                    'a', 'é', '漢'
                ]),
            ],
            0..120,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_accepted_values_obey_the_rules(s in tricky()) {
            if let Ok(v) = PersonName::parse(&s) {
                accepted_is_clean(v.as_str(), PersonName::MAX_CHARS, Kind::SingleLine)?;
            }
            if let Ok(v) = OrganizationName::parse(&s) {
                accepted_is_clean(v.as_str(), OrganizationName::MAX_CHARS, Kind::SingleLine)?;
            }
            if let Ok(v) = TeamName::parse(&s) {
                accepted_is_clean(v.as_str(), TeamName::MAX_CHARS, Kind::SingleLine)?;
            }
            if let Ok(v) = Subject::parse(&s) {
                accepted_is_clean(v.as_str(), Subject::MAX_CHARS, Kind::SingleLine)?;
            }
            if let Ok(v) = Message::parse(&s) {
                accepted_is_clean(v.as_str(), Message::MAX_CHARS, Kind::MultiLine)?;
            }
            if let Ok(v) = CourseId::parse(&s) {
                accepted_is_clean(v.as_str(), CourseId::MAX_CHARS, Kind::AsciiGraphic)?;
                prop_assert!(v.as_str().bytes().all(|b| b.is_ascii_graphic()));
            }
        }

        #[test]
        fn parsing_never_panics_on_any_string(s in any::<String>()) {
            let _ = PersonName::parse(&s);
            let _ = Message::parse(&s);
            let _ = CourseId::parse(&s);
        }

        #[test]
        fn accepted_values_reparse_to_themselves(s in tricky()) {
            if let Ok(v) = Message::parse(&s) {
                prop_assert_eq!(Message::parse(v.as_str()), Ok(v));
            }
            if let Ok(v) = Subject::parse(&s) {
                prop_assert_eq!(Subject::parse(v.as_str()), Ok(v));
            }
        }
    }
}
