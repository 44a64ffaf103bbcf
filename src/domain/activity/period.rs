//! The reporting period every statistic is taken over.

use chrono::{DateTime, Datelike, Days, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    time,
    validation::{Field, ValidationError},
};

/// A reporting period: from `from` (included) to `to` (excluded), at most ten years long,
/// within the years 1970 to 9999.
///
/// Deserializing checks it as [`Period::new`] does, so a reversed or overlong period read
/// from a request never reaches a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawPeriod")]
pub struct Period {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// The unchecked shape of a [`Period`], so deserialization goes through [`Period::new`].
#[derive(Deserialize)]
struct RawPeriod {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl TryFrom<RawPeriod> for Period {
    type Error = ValidationError;

    fn try_from(raw: RawPeriod) -> Result<Self, Self::Error> {
        Self::new(raw.from, raw.to)
    }
}

impl Period {
    /// The longest period: ten years.
    pub const MAX_DAYS: i64 = 3653;

    /// Checks a period.
    ///
    /// # Errors
    /// [`ValidationError::OutOfRange`] when either end falls outside the years 1970 to 9999,
    /// [`ValidationError::Malformed`] when `to` is not after `from`,
    /// [`ValidationError::TooLong`] when it spans more than ten years.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Self, ValidationError> {
        time::check(from, Field::Period)?;
        time::check(to, Field::Period)?;
        if to <= from {
            return Err(ValidationError::Malformed {
                field: Field::Period,
                reason: "the end of the period must come after its start",
            });
        }
        let days = (to - from).num_days();
        if days > Self::MAX_DAYS {
            return Err(ValidationError::TooLong {
                field: Field::Period,
                len: usize::try_from(days).unwrap_or(usize::MAX),
                max: Self::MAX_DAYS as usize,
            });
        }
        Ok(Self { from, to })
    }

    /// The `days` days ending at `end`.
    ///
    /// # Errors
    /// As [`Period::new`]; [`ValidationError::TooLong`] for more than ten years of days, and
    /// [`ValidationError::OutOfRange`] for a count of days no date can be that far from.
    pub fn days_until(end: DateTime<Utc>, days: i64) -> Result<Self, ValidationError> {
        if days > Self::MAX_DAYS {
            return Err(ValidationError::TooLong {
                field: Field::Period,
                len: usize::try_from(days).unwrap_or(usize::MAX),
                max: Self::MAX_DAYS as usize,
            });
        }
        let from = Duration::try_days(days)
            .and_then(|d| end.checked_sub_signed(d))
            .ok_or(ValidationError::OutOfRange {
                field: Field::Period,
            })?;
        Self::new(from, end)
    }

    /// The start (included).
    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    /// The end (excluded).
    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }

    /// Whether `at` falls in the period.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }

    /// The Monday 00:00 UTC that starts the week holding `at` (the earliest representable
    /// day when that Monday is not).
    pub fn week_of(at: DateTime<Utc>) -> DateTime<Utc> {
        let date = at.date_naive();
        let monday = date
            .checked_sub_days(Days::new(u64::from(at.weekday().num_days_from_monday())))
            .unwrap_or(date);
        Utc.from_utc_datetime(&monday.and_time(NaiveTime::MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::test_support::at;

    #[test]
    fn periods_must_be_ordered_and_at_most_ten_years() {
        // spec: STAT-2, ERR-3
        assert!(Period::new(at(2), at(1)).is_err());
        assert!(Period::new(at(1), at(1)).is_err());
        assert!(Period::new(at(1), at(1) + Duration::days(3654)).is_err());
        assert!(Period::new(at(1), at(1) + Duration::days(3653)).is_ok());
    }

    #[test]
    fn a_deserialized_period_is_checked() {
        // spec: ERR-1, ERR-3 — a reversed period would make `BTreeMap::range` panic in the
        // memory store.
        let json =
            |from: DateTime<Utc>, to: DateTime<Utc>| serde_json::json!({ "from": from, "to": to });
        let period: Period = serde_json::from_value(json(at(1), at(2))).unwrap();
        assert_eq!(period, Period::new(at(1), at(2)).unwrap());
        assert_eq!(
            serde_json::to_value(period).unwrap(),
            json(at(1), at(2)),
            "serializes as it deserializes"
        );
        assert!(serde_json::from_value::<Period>(json(at(2), at(1))).is_err());
        assert!(
            serde_json::from_value::<Period>(json(at(1), at(1) + Duration::days(3654))).is_err()
        );
    }

    #[test]
    fn periods_are_bounded_whatever_the_count_of_days() {
        // spec: ERR-1, ERR-3
        for days in [i64::MAX, i64::MIN, 200_000_000, -200_000_000, 3654, 0, -1] {
            let err = Period::days_until(at(1), days).unwrap_err();
            assert_eq!(err.field(), Field::Period, "{days}");
        }
        assert!(Period::days_until(DateTime::<Utc>::MAX_UTC, 1).is_err());
        assert!(Period::days_until(at(1), 3653).is_ok());
    }

    #[test]
    fn weeks_start_on_monday_at_midnight() {
        let wednesday = Utc.with_ymd_and_hms(2026, 3, 4, 15, 30, 0).unwrap();
        assert_eq!(
            Period::week_of(wednesday),
            Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
        );
    }
}
