//! Why an input was refused (spec: ERR-3).

use std::fmt;

/// Which input a [`ValidationError`] is about, so a host can point at the right form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Field {
    /// An email address.
    Email,
    /// A person's first name.
    FirstName,
    /// A person's last name.
    LastName,
    /// An organization's name.
    OrganizationName,
    /// A team's name.
    TeamName,
    /// A message body or team-page message.
    Message,
    /// The subject line of a message or notification.
    Subject,
    /// A course id from the host's catalogue.
    CourseId,
    /// The list of suggested courses on a team page.
    SuggestedCourses,
    /// An invitation token taken from a link.
    Token,
    /// The text pasted into a bulk invitation.
    Paste,
    /// A license description.
    License,
    /// The role carried by an invitation.
    Role,
    /// A learning event's id.
    ActivityId,
    /// A reporting period.
    Period,
    /// When a learning event happened.
    ActivityTime,
    /// The teams of a comparison.
    Teams,
    /// An invitation's own lifetime (spec: INV-14).
    Lifetime,
    /// The host's metadata of an invitation (spec: INV-14).
    Metadata,
    /// A listing's cursor, as a client sent it back.
    Cursor,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Email => "email address",
            Self::FirstName => "first name",
            Self::LastName => "last name",
            Self::OrganizationName => "organization name",
            Self::TeamName => "team name",
            Self::Message => "message",
            Self::Subject => "subject",
            Self::CourseId => "course id",
            Self::SuggestedCourses => "suggested courses",
            Self::Token => "invitation token",
            Self::Paste => "pasted addresses",
            Self::License => "license",
            Self::Role => "role",
            Self::ActivityId => "activity id",
            Self::Period => "period",
            Self::ActivityTime => "activity time",
            Self::Teams => "teams compared",
            Self::Lifetime => "invitation lifetime",
            Self::Metadata => "metadata",
            Self::Cursor => "page cursor",
        })
    }
}

/// An input that does not meet the rules of ERR-3. Parsing functions return it; once a value
/// is parsed into its newtype, no code checks it again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// Nothing was given (or only white space).
    #[error("the {field} is empty; enter a value")]
    Empty {
        /// The input concerned.
        field: Field,
    },
    /// Longer than the rule allows.
    #[error("the {field} is too long ({len} characters, at most {max}); shorten it")]
    TooLong {
        /// The input concerned.
        field: Field,
        /// Its length in characters (bytes for ASCII-only inputs).
        len: usize,
        /// The largest length allowed.
        max: usize,
    },
    /// Holds a control, formatting or invisible character, which could disguise the text or
    /// break a mail header.
    #[error(
        "the {field} contains a control or invisible character at position {position}; remove it"
    )]
    ForbiddenCharacter {
        /// The input concerned.
        field: Field,
        /// Zero-based character position of the first offending character.
        position: usize,
    },
    /// Not of the expected shape.
    #[error("the {field} is malformed: {reason}")]
    Malformed {
        /// The input concerned.
        field: Field,
        /// What is wrong, in words a person can act on.
        reason: &'static str,
    },
    /// A list holds more items than allowed.
    #[error("too many {field}: {count} given, at most {max}")]
    TooMany {
        /// The input concerned.
        field: Field,
        /// How many were given.
        count: usize,
        /// The largest number allowed.
        max: usize,
    },
    /// A date outside the years 1970 to 9999, or a
    /// duration that would reach past them.
    #[error("the {field} falls outside the years 1970 to 9999; use a date within them")]
    OutOfRange {
        /// The input concerned.
        field: Field,
    },
    /// A list names the same item twice.
    #[error("the {field} list names `{value}` twice; remove the duplicate")]
    Duplicate {
        /// The input concerned.
        field: Field,
        /// The repeated value.
        value: String,
    },
}

impl ValidationError {
    /// The input this error is about.
    pub fn field(&self) -> Field {
        match self {
            Self::Empty { field }
            | Self::TooLong { field, .. }
            | Self::ForbiddenCharacter { field, .. }
            | Self::Malformed { field, .. }
            | Self::TooMany { field, .. }
            | Self::OutOfRange { field }
            | Self::Duplicate { field, .. } => *field,
        }
    }
}
