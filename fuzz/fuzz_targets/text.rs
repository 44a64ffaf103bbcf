//! Names and other bounded text (spec: ERR-1, ERR-3, TEAM-2): every parser of
//! `orgroster::domain::text` (and the course list of a team page) never panics, agrees with
//! `FromStr`, `TryFrom<String>` and serde, and what it accepts round-trips unchanged.
#![no_main]

use std::fmt::Debug;
use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use orgroster::{
    ActivityId, CourseId, Message, OrganizationName, PersonName, Profile, Subject,
    SuggestedCourses, TeamName,
};
use orgroster::{Field, ValidationError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What every bounded text type offers; implemented below by forwarding to each type.
trait Bounded:
    Clone
    + Debug
    + Eq
    + FromStr<Err = ValidationError>
    + TryFrom<String, Error = ValidationError>
    + Into<String>
    + ToString
    + Serialize
    + DeserializeOwned
{
    const MAX_CHARS: usize;
    const FIELD: Field;
    fn parse(input: &str) -> Result<Self, ValidationError>;
    fn as_str(&self) -> &str;
}

macro_rules! bounded {
    ($($name:ident => $field:expr),* $(,)?) => {$(
        impl Bounded for $name {
            const MAX_CHARS: usize = $name::MAX_CHARS;
            const FIELD: Field = $field;
            fn parse(input: &str) -> Result<Self, ValidationError> {
                $name::parse(input)
            }
            fn as_str(&self) -> &str {
                $name::as_str(self)
            }
        }
    )*};
}

bounded! {
    PersonName => Field::FirstName,
    OrganizationName => Field::OrganizationName,
    TeamName => Field::TeamName,
    Subject => Field::Subject,
    Message => Field::Message,
    CourseId => Field::CourseId,
    ActivityId => Field::ActivityId,
}

/// Parses `input` every way there is and checks that an accepted value round-trips.
fn check<T: Bounded>(input: &str) -> Option<T> {
    let parsed = T::parse(input);
    assert_eq!(input.parse::<T>(), parsed);
    assert_eq!(T::try_from(input.to_owned()), parsed);
    let json = serde_json::Value::from(input);
    assert_eq!(serde_json::from_value::<T>(json).ok(), parsed.clone().ok());
    let value = match parsed {
        Ok(value) => value,
        Err(error) => {
            assert_eq!(error.field(), T::FIELD, "{error:?}");
            return None;
        }
    };
    let text = value.as_str();
    assert!(
        !text.is_empty() && text == text.trim(),
        "{text:?} is not trimmed"
    );
    assert!(text.chars().count() <= T::MAX_CHARS, "{text:?} is too long");
    assert!(!text.contains('\r'), "{text:?} kept a carriage return");
    assert_eq!(value.to_string(), text);
    // Round trip through each way out.
    for out in [text.to_owned(), value.to_string(), value.clone().into()] {
        assert_eq!(T::parse(&out).as_ref(), Ok(&value));
    }
    let json = serde_json::to_string(&value).unwrap_or_default();
    assert_eq!(serde_json::from_str::<T>(&json).as_ref().ok(), Some(&value));
    Some(value)
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    check::<PersonName>(input);
    check::<OrganizationName>(input);
    check::<Subject>(input);
    check::<CourseId>(input);
    check::<ActivityId>(input);
    if let Some(team) = check::<TeamName>(input) {
        assert_eq!(team.key(), team.as_str().to_lowercase());
    }
    check::<Message>(input);
    // The message limit (10,000 characters) is beyond the fuzzer's default input length:
    // repeat a short input to land just below and just above it. Only short inputs, because a
    // 10,000-character parse costs as much as a hundred short ones under instrumentation.
    let chars = input.chars().count();
    if chars > 0 && input.len() <= 8 {
        let times = Message::MAX_CHARS / chars;
        for times in [times, times + 1] {
            let long = input.repeat(times);
            if let Ok(message) = Message::parse(&long) {
                assert!(message.as_str().chars().count() <= Message::MAX_CHARS);
                assert_eq!(Message::parse(message.as_str()).as_ref(), Ok(&message));
            }
        }
    }

    // A profile: first name up to the first line break, last name after it.
    let (first, last) = input.split_once('\n').unwrap_or((input, ""));
    let profile = Profile::parse(first, last);
    assert_eq!(
        profile.is_ok(),
        PersonName::parse(first).is_ok() && PersonName::parse(last).is_ok()
    );
    match profile {
        Ok(profile) => {
            let again = Profile::parse(profile.first_name.as_str(), profile.last_name.as_str());
            assert_eq!(again.as_ref(), Ok(&profile));
            let json = serde_json::to_string(&profile).unwrap_or_default();
            assert_eq!(
                serde_json::from_str::<Profile>(&json).ok().as_ref(),
                Some(&profile)
            );
            assert_eq!(
                profile.full_name(),
                format!("{} {}", profile.first_name, profile.last_name)
            );
        }
        Err(error) => {
            let expected = if PersonName::parse(first).is_err() {
                Field::FirstName
            } else {
                Field::LastName
            };
            assert_eq!(error.field(), expected, "{error:?}");
        }
    }

    // A team page's suggested courses, one per white-space separated word.
    let words: Vec<&str> = input.split_whitespace().collect();
    if let Ok(courses) = SuggestedCourses::parse(&words) {
        assert!(courses.as_slice().len() <= SuggestedCourses::MAX);
        let again = SuggestedCourses::parse(courses.as_slice().iter().map(CourseId::as_str));
        assert_eq!(again.as_ref(), Ok(&courses));
        let json = serde_json::to_string(&courses).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<SuggestedCourses>(&json)
                .ok()
                .as_ref(),
            Some(&courses)
        );
    }
});
