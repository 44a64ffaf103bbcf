//! Reading the addresses pasted into a bulk invitation (spec: INV-7).
//!
//! The parser splits the paste into entries, parses each entry as an [`EmailAddress`] and
//! reports every entry that fails, with its line, instead of refusing the whole paste: one bad
//! line must not stop the rest from going out. Only problems with the paste as a whole (too
//! big, empty, too many entries) are errors.

use std::collections::HashMap;

use super::email::EmailAddress;
use super::validation::{Field, ValidationError};

/// The largest paste accepted, in bytes (spec: ERR-3). Far above any honest list, it bounds the
/// work before a single entry is looked at.
pub const MAX_PASTE_BYTES: usize = 4 * 1024 * 1024;

/// How much of a rejected entry is echoed back, in characters, including the "…" that marks a
/// cut. A hostile 10 MB line must not be copied whole into the report.
const MAX_REPORTED_CHARS: usize = 320;

/// The outcome of reading a paste (spec: INV-7): every entry ends up in exactly one of the two
/// lists, each in paste order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPaste {
    /// Valid addresses, each distinct (case-insensitively) and in paste order.
    pub addresses: Vec<PastedAddress>,
    /// Entries that were not taken, in paste order, each with its reason.
    pub rejected: Vec<RejectedEntry>,
}

/// A valid address and the line it was pasted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastedAddress {
    /// The 1-based line of the paste.
    pub line: usize,
    /// The address.
    pub email: EmailAddress,
}

/// An entry that will get no invitation, and why (spec: INV-7).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedEntry {
    /// The 1-based line of the paste.
    pub line: usize,
    /// The entry as pasted, cut to at most 320 characters (ending in "…" when cut).
    pub text: String,
    /// Why it was not taken.
    pub reason: BulkLineError,
}

/// Why one entry of a bulk invitation gets no invitation (spec: INV-7).
///
/// Parsing the paste produces only [`Invalid`](Self::Invalid) and
/// [`DuplicateInPaste`](Self::DuplicateInPaste); the other reasons come from the invitation
/// decision that follows, and live here so one report type covers the whole paste.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BulkLineError {
    /// The entry is not a valid email address.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The same address (compared case-insensitively) was pasted earlier.
    #[error("this address is already on line {first_line} of the paste; it is invited once")]
    DuplicateInPaste {
        /// The 1-based line where the address first appears.
        first_line: usize,
    },
    /// The address belongs to a member of the organization already.
    #[error("this person is already a member of the organization; no invitation is needed")]
    AlreadyMember,
    /// The address has a pending invitation already.
    #[error("this address already has a pending invitation; resend that one instead")]
    AlreadyInvited,
    /// Inviting it would exceed the organization's seats.
    #[error("all {cap} seats are taken; free a seat or raise the limit, then invite again")]
    SeatLimit {
        /// The organization's seat cap.
        cap: u32,
    },
    /// The chosen team no longer exists.
    #[error("the chosen team does not exist (it may have been deleted); pick another team")]
    NoSuchTeam,
    /// The host refused an invitation to this address (spec: MEM-3).
    #[error("refused by the organization's policy: {reason}")]
    Vetoed {
        /// The host's reason.
        reason: String,
    },
}

impl BulkLineError {
    /// A stable, machine-readable name of the reason, as a host's API would send it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_input",
            Self::DuplicateInPaste { .. } => "duplicate_in_paste",
            Self::AlreadyMember => "already_member",
            Self::AlreadyInvited => "already_invited",
            Self::SeatLimit { .. } => "seat_limit",
            Self::NoSuchTeam => "no_such_team",
            Self::Vetoed { .. } => "vetoed",
        }
    }
}

/// Serialized as `{"code": …, "message": …}`: the stable code and the advice a person reads.
impl serde::Serialize for BulkLineError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut reason = serializer.serialize_struct("BulkLineError", 2)?;
        reason.serialize_field("code", self.code())?;
        reason.serialize_field("message", &self.to_string())?;
        reason.end()
    }
}

impl ParsedPaste {
    /// Reads the addresses pasted into a bulk invitation (spec: INV-7).
    ///
    /// Lines are separated by LF (a CR before it is dropped). Within a line, `,` and `;` separate
    /// segments, except inside a double-quoted run such as `"Doe, Jane"`. A segment of the form
    /// `Display Name <address>` yields the text between the angle brackets (a `<` without a closing
    /// `>` yields the rest of the segment, which then fails to parse); text after the `>` is read
    /// again the same way, so `Bob <b@x.com> Ann <a@x.com>` yields both. Other text is split on
    /// white space. Each entry is then parsed as an [`EmailAddress`]; a failure or a repeat of an
    /// earlier address is reported in [`ParsedPaste::rejected`] and the rest are kept.
    ///
    /// `Roster::invite_members` reads a paste this way before it invites anyone; a host may
    /// call it to show what a paste holds before sending it.
    ///
    /// # Errors
    /// Only for the paste as a whole, all naming [`Field::Paste`]:
    /// [`ValidationError::TooLong`] over [`MAX_PASTE_BYTES`] (its `len` and `max` in bytes),
    /// [`ValidationError::Empty`] when there is no entry at all, and
    /// [`ValidationError::TooMany`] for more than `max_addresses` entries, valid or not.
    pub fn parse(input: &str, max_addresses: usize) -> Result<Self, ValidationError> {
        parse_paste(input, max_addresses)
    }
}

/// What [`ParsedPaste::parse`] does.
pub(crate) fn parse_paste(
    input: &str,
    max_addresses: usize,
) -> Result<ParsedPaste, ValidationError> {
    if input.len() > MAX_PASTE_BYTES {
        return Err(ValidationError::TooLong {
            field: Field::Paste,
            len: input.len(),
            max: MAX_PASTE_BYTES,
        });
    }
    // Counted before any entry is parsed or copied, so an oversized list costs one scan.
    let mut count = 0_usize;
    for_each_entry(input, |_, _| count += 1);
    if count == 0 {
        return Err(ValidationError::Empty {
            field: Field::Paste,
        });
    }
    if count > max_addresses {
        return Err(ValidationError::TooMany {
            field: Field::Paste,
            count,
            max: max_addresses,
        });
    }

    let mut parsed = ParsedPaste {
        addresses: Vec::with_capacity(count),
        rejected: Vec::new(),
    };
    let mut first_seen: HashMap<String, usize> = HashMap::with_capacity(count);
    for_each_entry(input, |line, text| {
        let reason = match EmailAddress::parse(text) {
            Ok(email) => match first_seen.get(email.key()) {
                Some(&first_line) => BulkLineError::DuplicateInPaste { first_line },
                None => {
                    first_seen.insert(email.key().to_owned(), line);
                    parsed.addresses.push(PastedAddress { line, email });
                    return;
                }
            },
            Err(error) => BulkLineError::Invalid(error),
        };
        parsed.rejected.push(RejectedEntry {
            line,
            text: excerpt(text),
            reason,
        });
    });
    Ok(parsed)
}

/// Calls `emit` with the 1-based line and text of every entry, in paste order. Both passes of
/// [`parse_paste`] go through here, so the count and the report cannot disagree.
fn for_each_entry<'a>(input: &'a str, mut emit: impl FnMut(usize, &'a str)) {
    for (index, line) in input.split('\n').enumerate() {
        let line_no = index.saturating_add(1);
        let mut rest = line.strip_suffix('\r').unwrap_or(line);
        loop {
            let (segment, tail) = split_segment(rest);
            segment_entries(segment, |entry| emit(line_no, entry));
            match tail {
                Some(tail) => rest = tail,
                None => break,
            }
        }
    }
}

/// Splits `line` at its first `,` or `;` outside a double-quoted run, returning the segment
/// and what follows the separator. A `"` without a partner is an ordinary character, so an
/// odd quote cannot swallow the rest of the line.
fn split_segment(line: &str) -> (&str, Option<&str>) {
    match find_outside_quotes(line, |b| b == b',' || b == b';') {
        Some(at) => (
            line.get(..at).unwrap_or_default(),
            Some(line.get(at.saturating_add(1)..).unwrap_or_default()),
        ),
        None => (line, None),
    }
}

/// Byte index of the first byte matching `wanted` outside a matched pair of double quotes.
/// Only ASCII bytes are sought, so every index returned is a char boundary.
fn find_outside_quotes(text: &str, wanted: impl Fn(u8) -> bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if wanted(b) {
            return Some(i);
        }
        if b == b'"' {
            let after = i.saturating_add(1);
            let partner = bytes
                .get(after..)
                .and_then(|tail| tail.iter().position(|&c| c == b'"'));
            if let Some(offset) = partner {
                i = after.saturating_add(offset);
            }
        }
        i = i.saturating_add(1);
    }
    None
}

/// Calls `emit` with each non-empty entry of one segment.
fn segment_entries<'a>(segment: &'a str, mut emit: impl FnMut(&'a str)) {
    let mut rest = segment;
    while let Some(open) = find_outside_quotes(rest, |b| b == b'<') {
        let after = rest.get(open.saturating_add(1)..).unwrap_or_default();
        let Some(close) = after.find('>') else {
            // No closing bracket: keep the text whole so the person sees what went wrong.
            emit(rest.trim());
            return;
        };
        let inner = after.get(..close).unwrap_or_default().trim();
        let tail = after.get(close.saturating_add(1)..).unwrap_or_default();
        if inner.is_empty() {
            // `Name <>` is reported rather than dropped: the person meant an address here.
            let whole = rest
                .get(..rest.len().saturating_sub(tail.len()))
                .unwrap_or_default();
            emit(whole.trim());
        } else {
            emit(inner);
        }
        rest = tail;
    }
    for word in rest.split(char::is_whitespace) {
        if !word.is_empty() {
            emit(word);
        }
    }
}

/// The entry as pasted, cut to [`MAX_REPORTED_CHARS`] characters in all.
fn excerpt(text: &str) -> String {
    if text.char_indices().nth(MAX_REPORTED_CHARS).is_none() {
        return text.to_owned();
    }
    let keep = MAX_REPORTED_CHARS.saturating_sub(1);
    let cut = text
        .char_indices()
        .nth(keep)
        .map_or(text.len(), |(at, _)| at);
    format!("{}…", text.get(..cut).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn emails(parsed: &ParsedPaste) -> Vec<(usize, &str)> {
        parsed
            .addresses
            .iter()
            .map(|a| (a.line, a.email.as_str()))
            .collect()
    }

    fn rejected(parsed: &ParsedPaste) -> Vec<(usize, &str)> {
        parsed
            .rejected
            .iter()
            .map(|r| (r.line, r.text.as_str()))
            .collect()
    }

    fn entries(input: &str) -> Vec<(usize, &str)> {
        let mut out = Vec::new();
        for_each_entry(input, |line, text| out.push((line, text)));
        out
    }

    #[test]
    fn commas_semicolons_spaces_tabs_and_new_lines_all_separate() {
        // spec: INV-7
        let parsed = parse_paste("a@x.com, b@x.com;c@x.com\n d@x.com\te@x.com", 100).unwrap();
        assert_eq!(
            emails(&parsed),
            [
                (1, "a@x.com"),
                (1, "b@x.com"),
                (1, "c@x.com"),
                (2, "d@x.com"),
                (2, "e@x.com")
            ]
        );
        assert!(parsed.rejected.is_empty());
    }

    #[test]
    fn outlook_style_display_names_yield_the_bracketed_addresses() {
        // spec: INV-7 — the comma inside the quoted name does not split it.
        let parsed = parse_paste("\"Doe, Jane\" <jane@x.com>; Bob <bob@x.com>", 100).unwrap();
        assert_eq!(emails(&parsed), [(1, "jane@x.com"), (1, "bob@x.com")]);
        assert!(parsed.rejected.is_empty());
    }

    #[test]
    fn several_bracketed_addresses_in_one_segment_are_all_read() {
        // spec: INV-7
        let parsed = parse_paste("Bob <bob@x.com> Ann <ann@x.com> carl@x.com", 100).unwrap();
        assert_eq!(
            emails(&parsed),
            [(1, "bob@x.com"), (1, "ann@x.com"), (1, "carl@x.com")]
        );
    }

    #[test]
    fn an_unclosed_bracket_yields_the_whole_segment_which_is_rejected() {
        // spec: INV-7
        let parsed = parse_paste("Bob <bob@x.com, ann@x.com", 100).unwrap();
        assert_eq!(emails(&parsed), [(1, "ann@x.com")]);
        assert_eq!(rejected(&parsed), [(1, "Bob <bob@x.com")]);
        assert!(matches!(
            parsed.rejected[0].reason,
            BulkLineError::Invalid(_)
        ));
    }

    #[test]
    fn empty_brackets_are_reported_not_dropped() {
        // spec: INV-7
        let parsed = parse_paste("Bob <>, ann@x.com", 100).unwrap();
        assert_eq!(rejected(&parsed), [(1, "Bob <>")]);
    }

    #[test]
    fn an_odd_quote_does_not_swallow_the_rest_of_the_line() {
        // spec: INV-7
        let parsed = parse_paste("\"Doe, a@x.com; b@x.com", 100).unwrap();
        assert_eq!(emails(&parsed), [(1, "a@x.com"), (1, "b@x.com")]);
        assert_eq!(rejected(&parsed), [(1, "\"Doe")]);
    }

    #[test]
    fn a_bad_line_and_a_duplicate_are_reported_with_their_lines() {
        // spec: INV-7
        let input = "a@x.com\nnot-an-address\n\nb@x.com\nA@X.com";
        let parsed = parse_paste(input, 100).unwrap();
        assert_eq!(emails(&parsed), [(1, "a@x.com"), (4, "b@x.com")]);
        assert_eq!(rejected(&parsed), [(2, "not-an-address"), (5, "A@X.com")]);
        assert!(matches!(
            parsed.rejected[0].reason,
            BulkLineError::Invalid(ValidationError::Malformed {
                field: Field::Email,
                ..
            })
        ));
        assert_eq!(
            parsed.rejected[1].reason,
            BulkLineError::DuplicateInPaste { first_line: 1 }
        );
    }

    #[test]
    fn crlf_line_endings_count_lines_like_lf() {
        // spec: INV-7
        let parsed = parse_paste("a@x.com\r\nb@x.com\r\n\r\nc@x.com\r\n", 100).unwrap();
        assert_eq!(
            emails(&parsed),
            [(1, "a@x.com"), (2, "b@x.com"), (4, "c@x.com")]
        );
    }

    #[test]
    fn a_paste_over_the_byte_limit_is_refused_as_a_whole() {
        // spec: INV-7, ERR-3
        let huge = "a@x.com ".repeat(10 << 17);
        assert!(huge.len() > MAX_PASTE_BYTES);
        let result = parse_paste(&huge, usize::MAX);
        assert_eq!(
            result,
            Err(ValidationError::TooLong {
                field: Field::Paste,
                len: huge.len(),
                max: MAX_PASTE_BYTES
            })
        );
    }

    #[test]
    fn a_huge_single_entry_is_reported_with_a_short_excerpt() {
        // spec: INV-7
        let line = "é".repeat(MAX_PASTE_BYTES / 2);
        let parsed = parse_paste(&line, 10).unwrap();
        let text = &parsed.rejected[0].text;
        assert_eq!(text.chars().count(), MAX_REPORTED_CHARS);
        assert!(text.ends_with('…'));
        assert!(matches!(
            parsed.rejected[0].reason,
            BulkLineError::Invalid(ValidationError::TooLong { .. })
        ));
    }

    #[test]
    fn an_entry_of_exactly_the_excerpt_length_is_kept_whole() {
        let text = "x".repeat(MAX_REPORTED_CHARS);
        assert_eq!(excerpt(&text), text);
        assert_eq!(
            excerpt(&format!("{text}y")).chars().count(),
            MAX_REPORTED_CHARS
        );
    }

    #[test]
    fn a_paste_with_no_entries_is_empty() {
        // spec: INV-7
        for blank in ["", " \n\r\n, ;\t"] {
            assert_eq!(
                parse_paste(blank, 10),
                Err(ValidationError::Empty {
                    field: Field::Paste
                })
            );
        }
    }

    #[test]
    fn more_entries_than_allowed_is_too_many_counting_invalid_ones() {
        // spec: INV-7
        assert_eq!(
            parse_paste("a@x.com junk b@x.com", 2),
            Err(ValidationError::TooMany {
                field: Field::Paste,
                count: 3,
                max: 2
            })
        );
        assert!(parse_paste("a@x.com junk", 2).is_ok());
    }

    #[test]
    fn line_errors_read_as_advice() {
        assert_eq!(
            BulkLineError::DuplicateInPaste { first_line: 3 }.to_string(),
            "this address is already on line 3 of the paste; it is invited once"
        );
        assert!(
            BulkLineError::SeatLimit { cap: 25 }
                .to_string()
                .contains("25 seats")
        );
        let invalid = BulkLineError::from(ValidationError::Empty {
            field: Field::Email,
        });
        assert_eq!(
            invalid.to_string(),
            "the email address is empty; enter a value"
        );
    }

    /// One pasted item and whether it may follow a white-space separator.
    #[derive(Debug, Clone)]
    enum Item {
        Address(String),
        Junk(String),
        Named(String),
    }

    fn address() -> impl Strategy<Value = String> {
        // A small pool, in random case, so duplicates are common.
        ("[a-cA-C]{1,2}", "[xyXY]").prop_map(|(local, domain)| format!("{local}@{domain}.com"))
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            4 => address().prop_map(Item::Address),
            2 => "[a-z@.é!-]{1,6}".prop_map(Item::Junk),
            1 => (address(), prop::sample::select(vec!["Bob ", "\"Doe, Jane\" ", ""]))
                .prop_map(|(a, name)| Item::Named(format!("{name}<{a}>"))),
        ]
    }

    fn paste() -> impl Strategy<Value = (String, usize)> {
        let separators = vec![
            ",", ", ", ";", " ; ", "\n", "\r\n", "\n\n", " ", "\t", " \n ",
        ];
        prop::collection::vec((item(), prop::sample::select(separators)), 1..40).prop_map(|parts| {
            let mut text = String::new();
            for (i, (item, sep)) in parts.iter().enumerate() {
                let (Item::Address(s) | Item::Junk(s) | Item::Named(s)) = item;
                // A display name needs a hard separator before it, or the word before
                // would read as part of the name.
                let sep = if matches!(item, Item::Named(_)) && sep.trim().is_empty() {
                    ";"
                } else {
                    sep
                };
                if i > 0 {
                    text.push_str(sep);
                }
                text.push_str(s);
            }
            (text, parts.len())
        })
    }

    proptest! {
        #[test]
        fn nothing_is_lost_and_nothing_is_reported_twice((input, items) in paste()) {
            // spec: INV-7
            let produced = entries(&input);
            prop_assert_eq!(produced.len(), items);
            let parsed = parse_paste(&input, items).unwrap();
            prop_assert_eq!(parsed.addresses.len() + parsed.rejected.len(), items);

            // Independent model: first occurrence of each valid key, in order.
            let mut seen = std::collections::HashSet::new();
            let mut expected = Vec::new();
            for (line, text) in &produced {
                if let Ok(email) = EmailAddress::parse(text)
                    && seen.insert(email.key().to_owned())
                {
                    expected.push((*line, email.as_str().to_owned()));
                }
            }
            let got: Vec<(usize, String)> = parsed
                .addresses
                .iter()
                .map(|a| (a.line, a.email.as_str().to_owned()))
                .collect();
            prop_assert_eq!(got, expected);
            prop_assert!(parsed.rejected.windows(2).all(|w| w[0].line <= w[1].line));
        }

        #[test]
        fn one_more_entry_than_allowed_is_too_many((input, items) in paste()) {
            // spec: INV-7
            let too_many = matches!(
                parse_paste(&input, items - 1),
                Err(ValidationError::TooMany { count, .. }) if count == items
            );
            prop_assert!(too_many);
        }

        #[test]
        fn parse_paste_never_panics(input in any::<String>()) {
            let _ = parse_paste(&input, usize::MAX);
        }

        #[test]
        fn parse_paste_never_panics_on_separator_soup(input in "[\"<>,; \r\n\ta@x.é]{0,60}") {
            if let Ok(parsed) = parse_paste(&input, usize::MAX) {
                prop_assert_eq!(
                    parsed.addresses.len() + parsed.rejected.len(),
                    entries(&input).len()
                );
                prop_assert!(parsed.rejected.iter().all(|r| !r.text.is_empty()));
            }
        }
    }
}
