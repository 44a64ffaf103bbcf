//! The dates a host may pass: the years 1970 to 9999 (spec: ERR-1, ERR-3).
//!
//! One range for every date that comes in — reporting periods, activity times, the clock's
//! reading — so that no arithmetic on them can leave what `chrono` represents (a week
//! after, ten years before, a lease or an expiry later), and every store orders and
//! stores them alike.

use chrono::{DateTime, Utc};

use super::validation::{Field, ValidationError};

/// The first accepted instant, 1970-01-01T00:00:00Z, in seconds since the Unix epoch.
pub(crate) const EARLIEST_SECONDS: i64 = 0;

/// The first instant past the range, 10000-01-01T00:00:00Z, in seconds since the Unix
/// epoch: the last accepted one is 9999-12-31T23:59:59.999999999Z.
pub(crate) const END_SECONDS: i64 = 253_402_300_800;

/// Whether `at` falls in the years 1970 to 9999.
pub(crate) fn in_range(at: DateTime<Utc>) -> bool {
    (EARLIEST_SECONDS..END_SECONDS).contains(&at.timestamp())
}

/// `at`, when it falls in the years 1970 to 9999.
///
/// # Errors
/// [`ValidationError::OutOfRange`] for `field` otherwise.
pub(crate) fn check(at: DateTime<Utc>, field: Field) -> Result<DateTime<Utc>, ValidationError> {
    if in_range(at) {
        Ok(at)
    } else {
        Err(ValidationError::OutOfRange { field })
    }
}

/// `at`, or the nearest end of the range when it falls outside: for readings that are not
/// a host's input to refuse, such as a clock's.
pub(crate) fn clamp(at: DateTime<Utc>) -> DateTime<Utc> {
    let earliest = DateTime::<Utc>::UNIX_EPOCH;
    let latest = DateTime::<Utc>::from_timestamp(END_SECONDS - 1, 999_999_999).unwrap_or(at);
    at.clamp(earliest, latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_the_years_1970_to_9999() {
        // spec: ERR-3
        let at = |s, ns| DateTime::<Utc>::from_timestamp(s, ns).unwrap();
        assert_eq!(
            at(END_SECONDS, 0).to_rfc3339(),
            "+10000-01-01T00:00:00+00:00"
        );
        assert!(in_range(at(0, 0)));
        assert!(in_range(at(END_SECONDS - 1, 999_999_999)));
        assert!(!in_range(at(END_SECONDS, 0)));
        assert!(!in_range(at(-1, 999_999_999)));
        assert_eq!(
            check(DateTime::<Utc>::MAX_UTC, Field::Period),
            Err(ValidationError::OutOfRange {
                field: Field::Period
            })
        );
        assert_eq!(clamp(DateTime::<Utc>::MIN_UTC), at(0, 0));
        assert_eq!(
            clamp(DateTime::<Utc>::MAX_UTC),
            at(END_SECONDS - 1, 999_999_999)
        );
    }
}
