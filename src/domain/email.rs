//! Email addresses, bounded and validated once at the edge (spec: ERR-3, INV-6).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use super::validation::{Field, ValidationError};

/// Longest address accepted, in bytes: RFC 5321's 256-octet path limit less the angle brackets.
const MAX_TOTAL: usize = 254;
/// Longest local part (before the `@`) accepted, in bytes (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL: usize = 64;
/// Longest domain accepted, in bytes (RFC 5321 §4.5.3.1.2).
const MAX_DOMAIN: usize = 253;
/// Longest domain label accepted, in bytes (RFC 1035).
const MAX_LABEL: usize = 63;
/// Raw inputs longer than this are refused before trimming, so that a huge run of white space
/// costs nothing to reject. No honest address needs this much padding.
const MAX_RAW_INPUT: usize = 1024;

/// An email address that passed the rules of ERR-3.
///
/// The address is kept as given (surrounding ASCII white space trimmed) for display and for
/// sending mail, and compared through its ASCII-lowercased [`key`](Self::key): equality,
/// ordering and hashing use the key only, so `Jane@Example.com == jane@example.com`. INV-6
/// relies on this when it matches the signed-in user's address to the invited one.
///
/// Deliberate restrictions, stricter than RFC 5322:
/// - Only ASCII is accepted. A non-ASCII character anywhere is refused and the person is asked
///   for the ASCII (punycode, `xn--`) form of the domain. This shuts out look-alike (homoglyph)
///   addresses and Unicode normalisation tricks, at the cost of not supporting internationalised
///   local parts (SMTPUTF8).
/// - Quoted local parts (`"john smith"@example.com`) and comments are not supported: the local
///   part must be a dot-atom.
/// - Domain literals (`user@[192.0.2.1]`) are not supported: the domain must be a host name whose
///   last label is not all digits.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress {
    original: String,
    key: String,
}

impl EmailAddress {
    /// Parses and validates an address (spec: ERR-3).
    ///
    /// Surrounding ASCII white space is trimmed. Every error names [`Field::Email`]:
    /// - [`ValidationError::Empty`] when nothing is left after trimming;
    /// - [`ValidationError::TooLong`] (max 254) when the address exceeds 254 bytes;
    /// - [`ValidationError::ForbiddenCharacter`] for an ASCII control character;
    /// - [`ValidationError::Malformed`] for anything else, with a reason a person can act on.
    pub fn parse(input: impl AsRef<str>) -> Result<Self, ValidationError> {
        let raw = input.as_ref();
        // Bounded before trimming so a 10 MB paste of spaces is not scanned.
        if raw.len() > MAX_RAW_INPUT {
            return Err(too_long(raw.len()));
        }
        let text = raw.trim_ascii();
        if text.is_empty() {
            return Err(ValidationError::Empty {
                field: Field::Email,
            });
        }
        if text.len() > MAX_TOTAL {
            return Err(too_long(text.len()));
        }
        for (position, c) in text.chars().enumerate() {
            if c.is_ascii_control() {
                return Err(ValidationError::ForbiddenCharacter {
                    field: Field::Email,
                    position,
                });
            }
            if !c.is_ascii() {
                return Err(malformed(
                    "it contains a non-ASCII character; type the address using plain ASCII \
                     letters, with an international domain in its ASCII (punycode, xn--) form",
                ));
            }
        }
        let Some((local, domain)) = text.split_once('@') else {
            return Err(malformed(
                "it has no @; an address looks like name@example.com",
            ));
        };
        if domain.contains('@') {
            return Err(malformed(
                "it has more than one @; keep only the one between the name and the domain \
                 (quoted names are not supported)",
            ));
        }
        check_local(local)?;
        check_domain(domain)?;
        Ok(Self {
            original: text.to_owned(),
            key: text.to_ascii_lowercase(),
        })
    }

    /// The address as given, trimmed: what to show and where to send mail.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The ASCII-lowercased address, used for every comparison and uniqueness check (INV-6).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The part before the `@`, as given.
    pub fn local_part(&self) -> &str {
        // Parsing guarantees exactly one '@'; the fallback is never taken.
        self.original.split_once('@').map_or("", |(local, _)| local)
    }

    /// The part after the `@`, as given.
    pub fn domain(&self) -> &str {
        // Parsing guarantees exactly one '@'; the fallback is never taken.
        self.original
            .split_once('@')
            .map_or("", |(_, domain)| domain)
    }
}

fn too_long(len: usize) -> ValidationError {
    ValidationError::TooLong {
        field: Field::Email,
        len,
        max: MAX_TOTAL,
    }
}

fn malformed(reason: &'static str) -> ValidationError {
    ValidationError::Malformed {
        field: Field::Email,
        reason,
    }
}

/// RFC 5322 `atext`: the characters of a dot-atom apart from the dot.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

fn check_local(local: &str) -> Result<(), ValidationError> {
    if local.is_empty() {
        return Err(malformed(
            "nothing comes before the @; add the name part, as in name@example.com",
        ));
    }
    if local.len() > MAX_LOCAL {
        return Err(malformed(
            "the part before the @ is longer than 64 characters; check the address",
        ));
    }
    let bytes = local.as_bytes();
    for &b in bytes {
        if b == b' ' {
            return Err(malformed("it contains a space; remove the spaces"));
        }
        if b == b'"' {
            return Err(malformed(
                "it contains a quote; quoted names before the @ are not supported",
            ));
        }
        if b != b'.' && !is_atext(b) {
            return Err(malformed(
                "the part before the @ may contain only letters, digits, dots and \
                 !#$%&'*+-/=?^_`{|}~",
            ));
        }
    }
    if local.starts_with('.') {
        return Err(malformed("the part before the @ cannot start with a dot"));
    }
    if local.ends_with('.') {
        return Err(malformed("the part before the @ cannot end with a dot"));
    }
    if local.contains("..") {
        return Err(malformed(
            "the part before the @ has two dots in a row; remove one",
        ));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), ValidationError> {
    if domain.is_empty() {
        return Err(malformed(
            "nothing comes after the @; add the domain, as in name@example.com",
        ));
    }
    // Unreachable while MAX_TOTAL holds, kept so the RFC limit stands on its own.
    if domain.len() > MAX_DOMAIN {
        return Err(malformed(
            "the part after the @ is longer than 253 characters; check the address",
        ));
    }
    if domain.bytes().any(|b| b == b' ') {
        return Err(malformed("it contains a space; remove the spaces"));
    }
    if domain.starts_with('[') {
        return Err(malformed(
            "addresses at an IP address in brackets are not supported; use a domain name",
        ));
    }
    let mut labels = 0_usize;
    let mut last = "";
    for label in domain.split('.') {
        check_label(label)?;
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return Err(malformed(
            "the domain has no dot; use a full domain such as example.com",
        ));
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(
            "the domain ends in a number; it must end in a name such as .com or .org",
        ));
    }
    Ok(())
}

fn check_label(label: &str) -> Result<(), ValidationError> {
    if label.is_empty() {
        return Err(malformed(
            "the domain starts or ends with a dot or has two dots in a row; remove the extra dot",
        ));
    }
    if label.len() > MAX_LABEL {
        return Err(malformed(
            "a part of the domain between dots is longer than 63 characters; check the address",
        ));
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(malformed(
            "the domain may contain only letters, digits, hyphens and dots",
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(malformed(
            "a part of the domain starts or ends with a hyphen; check the address",
        ));
    }
    Ok(())
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.original
    }
}

impl PartialEq for EmailAddress {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for EmailAddress {}

impl Hash for EmailAddress {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl PartialOrd for EmailAddress {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EmailAddress {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.original
    }
}

impl FromStr for EmailAddress {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn reason(input: &str) -> &'static str {
        match EmailAddress::parse(input) {
            Err(ValidationError::Malformed { reason, .. }) => reason,
            other => panic!("expected Malformed for {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn common_addresses_are_accepted() {
        // spec: ERR-3
        for ok in [
            "jane@example.com",
            "jane.doe+news@mail.example.co.uk",
            "a@b.io",
            "o'brien@example.ie",
            "x!#$%&'*+-/=?^_`{|}~@example.com",
            "user@xn--bcher-kva.example",
            "user@123.example.com",
            "user@a-b.c-d.com",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn surrounding_white_space_is_trimmed_from_the_original() {
        let email = EmailAddress::parse("  \t Jane@Example.com \n").unwrap();
        assert_eq!(email.as_str(), "Jane@Example.com");
        assert_eq!(email.key(), "jane@example.com");
        assert_eq!(email.local_part(), "Jane");
        assert_eq!(email.domain(), "Example.com");
        assert_eq!(email.to_string(), "Jane@Example.com");
    }

    #[test]
    fn empty_and_blank_inputs_are_empty_errors() {
        // spec: ERR-3
        for blank in ["", "   ", "\t\n"] {
            assert_eq!(
                EmailAddress::parse(blank),
                Err(ValidationError::Empty {
                    field: Field::Email
                })
            );
        }
    }

    #[test]
    fn a_local_part_of_64_bytes_is_accepted_and_65_is_refused() {
        // spec: ERR-3
        let ok = format!("{}@example.com", "a".repeat(64));
        assert!(EmailAddress::parse(&ok).is_ok());
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(reason(&long).contains("64"));
    }

    #[test]
    fn an_address_of_254_bytes_is_accepted_and_255_is_refused() {
        // spec: ERR-3
        let local = "a".repeat(64);
        // 64 + '@' + 3 labels of 61 + dots + "com" = 254
        let domain = format!("{0}.{0}.{0}.com", "b".repeat(61));
        let ok = format!("{local}@{domain}");
        assert_eq!(ok.len(), 254);
        assert!(EmailAddress::parse(&ok).is_ok());
        let long = format!("{local}@b{domain}");
        assert_eq!(long.len(), 255);
        assert_eq!(
            EmailAddress::parse(&long),
            Err(ValidationError::TooLong {
                field: Field::Email,
                len: 255,
                max: 254
            })
        );
    }

    #[test]
    fn a_domain_label_of_63_bytes_is_accepted_and_64_is_refused() {
        let ok = format!("a@{}.com", "b".repeat(63));
        assert!(EmailAddress::parse(&ok).is_ok());
        let long = format!("a@{}.com", "b".repeat(64));
        assert!(reason(&long).contains("63"));
    }

    #[test]
    fn control_characters_are_forbidden_with_their_position() {
        // spec: ERR-3
        assert_eq!(
            EmailAddress::parse("ab\u{7}c@example.com"),
            Err(ValidationError::ForbiddenCharacter {
                field: Field::Email,
                position: 2
            })
        );
        assert!(matches!(
            EmailAddress::parse("a@exa\r\nmple.com"),
            Err(ValidationError::ForbiddenCharacter { position: 5, .. })
        ));
    }

    #[test]
    fn non_ascii_addresses_are_refused_with_a_punycode_hint() {
        // spec: ERR-3 — Cyrillic 'а' looks like Latin 'a'.
        assert!(reason("j\u{430}ne@example.com").contains("punycode"));
        assert!(reason("jane@bücher.example").contains("punycode"));
        assert!(reason("jane@example.com\u{200b}").contains("punycode"));
    }

    #[test]
    fn each_malformed_shape_has_its_own_reason() {
        // spec: ERR-3
        let cases = [
            "example.com",
            "a@b@example.com",
            "@example.com",
            "jane doe@example.com",
            "\"jane\"@example.com",
            "ja(ne)@example.com",
            ".jane@example.com",
            "jane.@example.com",
            "ja..ne@example.com",
            "jane@",
            "jane@[192.0.2.1]",
            "jane@localhost",
            "jane@192.0.2.1",
            "jane@.example.com",
            "jane@exa_mple.com",
            "jane@-example.com",
        ];
        let reasons: HashSet<&str> = cases.iter().map(|c| reason(c)).collect();
        assert_eq!(reasons.len(), cases.len(), "{reasons:#?}");
    }

    #[test]
    fn addresses_differing_only_in_case_are_equal_and_hash_alike() {
        // spec: INV-6
        let a = EmailAddress::parse("A@X.com").unwrap();
        let b = EmailAddress::parse("a@x.COM").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        let set: HashSet<EmailAddress> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn serde_roundtrips_as_the_original_string() {
        let email = EmailAddress::parse("Jane@Example.com").unwrap();
        let json = serde_json::to_string(&email).unwrap();
        assert_eq!(json, "\"Jane@Example.com\"");
        let back: EmailAddress = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_str(), "Jane@Example.com");
    }

    #[test]
    fn serde_refuses_an_invalid_address() {
        // spec: ERR-3
        assert!(serde_json::from_str::<EmailAddress>("\"not an address\"").is_err());
        assert!(serde_json::from_str::<EmailAddress>("\"\"").is_err());
    }

    #[test]
    fn from_str_and_try_from_agree_with_parse() {
        let a: EmailAddress = "a@x.com".parse().unwrap();
        let b = EmailAddress::try_from(String::from("a@x.com")).unwrap();
        assert_eq!(a, b);
        assert_eq!(String::from(a), "a@x.com");
    }

    #[test]
    fn a_ten_megabyte_input_is_refused_without_scanning_it() {
        // spec: ERR-3
        for huge in ["a".repeat(10 << 20), " ".repeat(10 << 20)] {
            let result = EmailAddress::parse(&huge);
            assert!(matches!(result, Err(ValidationError::TooLong { .. })));
        }
    }

    fn valid_address() -> impl Strategy<Value = String> {
        let atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}";
        let local = prop::collection::vec(atom, 1..4).prop_map(|v| v.join("."));
        let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?";
        let domain = (
            prop::collection::vec(label, 1..4),
            "[A-Za-z][A-Za-z0-9]{1,5}",
        )
            .prop_map(|(mut labels, tld)| {
                labels.push(tld);
                labels.join(".")
            });
        (local, domain).prop_map(|(l, d)| format!("{l}@{d}"))
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_any_string(s in any::<String>()) {
            let _ = EmailAddress::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_near_miss_addresses(s in "[ a-zA-Z0-9.@\\-\"\\[\\]\u{430}]{0,40}") {
            let _ = EmailAddress::parse(&s);
        }

        #[test]
        fn every_generated_valid_address_parses_with_a_lowercase_key(s in valid_address()) {
            let email = EmailAddress::parse(&s).unwrap();
            prop_assert_eq!(email.as_str(), s.as_str());
            prop_assert_eq!(email.key(), s.to_ascii_lowercase());
        }

        #[test]
        fn reparsing_the_original_gives_the_same_address(s in valid_address()) {
            let email = EmailAddress::parse(&s).unwrap();
            let again = EmailAddress::parse(email.as_str()).unwrap();
            prop_assert_eq!(again.as_str(), email.as_str());
            prop_assert_eq!(again, email);
        }
    }
}
