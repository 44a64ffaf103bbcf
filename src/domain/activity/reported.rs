//! What the host reports, and the checks of each event and of a whole batch (spec: STAT-1).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Activity, ActivityKind};
use crate::domain::{
    ids::{OrganizationId, UserId},
    text::{ActivityId, CourseId},
    time,
    validation::{Field, ValidationError},
};

/// One learning event as the host reports it, before it is checked: the numbers are wide
/// signed integers so that a negative or oversized value is refused with a reason rather
/// than unrepresentable at the host's edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedActivity {
    /// The host's id for the event; a retry carries the same id.
    pub id: String,
    /// The member's user.
    pub user: UserId,
    /// The course.
    pub course: String,
    /// What happened.
    pub kind: ReportedKind,
    /// When: in the years 1970 to 9999.
    pub at: DateTime<Utc>,
}

/// What happened, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReportedKind {
    /// Enrolled in a course.
    Enrolled,
    /// Progress, in percent (0..=100).
    Progress {
        /// Percent.
        percent: i64,
    },
    /// Completed a course.
    Completed,
    /// Earned a certificate.
    CertificateEarned,
    /// Time spent, in seconds (0..=86,400 per event).
    TimeSpent {
        /// Seconds.
        seconds: i64,
    },
}

/// Why one reported event was refused; the rest of its batch is kept (spec: STAT-1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActivityError {
    /// The id or course id is malformed.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// Progress must be between 0 and 100 percent.
    #[error("progress of {percent}% is outside 0..=100")]
    PercentOutOfRange {
        /// What was reported.
        percent: i64,
    },
    /// Time spent cannot be negative.
    #[error("time spent cannot be negative ({seconds} s)")]
    NegativeTime {
        /// What was reported.
        seconds: i64,
    },
    /// One event covers at most a day of time spent.
    #[error("time spent of {seconds} s is more than a day in one event; report it in parts")]
    TooMuchTime {
        /// What was reported.
        seconds: i64,
    },
    /// The user is not a member of the organization.
    #[error("the user is not a member of this organization")]
    UnknownMember,
    /// An event with this id was already recorded (a retried batch) or appears twice in the
    /// batch; it is not counted again.
    #[error("an event with id `{id}` was already recorded; it is not counted twice")]
    DuplicateId {
        /// The id.
        id: String,
    },
}

impl ActivityError {
    /// A stable, machine-readable name of the reason, as a host's API would send it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_input",
            Self::PercentOutOfRange { .. } => "percent_out_of_range",
            Self::NegativeTime { .. } => "negative_time",
            Self::TooMuchTime { .. } => "too_much_time",
            Self::UnknownMember => "unknown_member",
            Self::DuplicateId { .. } => "duplicate_id",
        }
    }
}

/// Serialized as `{"code": …, "message": …}`: the stable code and the advice a person reads.
impl Serialize for ActivityError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut reason = serializer.serialize_struct("ActivityError", 2)?;
        reason.serialize_field("code", self.code())?;
        reason.serialize_field("message", &self.to_string())?;
        reason.end()
    }
}

/// The most time one event may report: a day.
pub const MAX_SECONDS_PER_EVENT: i64 = 86_400;

impl ReportedActivity {
    /// Checks the event's own values (membership and duplicates are the caller's to check).
    ///
    /// # Errors
    /// [`ActivityError::Invalid`] (with [`ValidationError::OutOfRange`] for a time outside
    /// the years 1970 to 9999), [`ActivityError::PercentOutOfRange`],
    /// [`ActivityError::NegativeTime`], [`ActivityError::TooMuchTime`].
    pub fn check(&self, organization: OrganizationId) -> Result<Activity, ActivityError> {
        let at = time::check(self.at, Field::ActivityTime)?;
        let kind = match self.kind {
            ReportedKind::Enrolled => ActivityKind::Enrolled,
            ReportedKind::Completed => ActivityKind::Completed,
            ReportedKind::CertificateEarned => ActivityKind::CertificateEarned,
            ReportedKind::Progress { percent } => ActivityKind::Progress {
                percent: u8::try_from(percent)
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or(ActivityError::PercentOutOfRange { percent })?,
            },
            ReportedKind::TimeSpent { seconds } if seconds < 0 => {
                return Err(ActivityError::NegativeTime { seconds });
            }
            ReportedKind::TimeSpent { seconds } => ActivityKind::TimeSpent {
                seconds: u32::try_from(seconds)
                    .ok()
                    .filter(|s| i64::from(*s) <= MAX_SECONDS_PER_EVENT)
                    .ok_or(ActivityError::TooMuchTime { seconds })?,
            },
        };
        Ok(Activity {
            id: ActivityId::parse(&self.id)?,
            organization,
            user: self.user,
            course: CourseId::parse(&self.course)?,
            kind,
            at,
        })
    }
}

/// What recording a batch did: every event is either recorded or refused with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ActivityReceipt {
    /// How many events were recorded.
    pub recorded: u64,
    /// The refused events: their position in the batch, their id as reported, and why.
    pub rejected: Vec<(usize, String, ActivityError)>,
}

/// A batch of reported events, each checked on its own (spec: STAT-1): the events to record,
/// and those refused with why. A refusal never holds back the rest of the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CheckedBatch {
    /// The events to record, with their position in the batch.
    pub accepted: Vec<(usize, Activity)>,
    /// The refused events: their position in the batch, their id as reported, and why.
    pub rejected: Vec<(usize, String, ActivityError)>,
}

impl CheckedBatch {
    /// Checks every event of `reported` for `organization`: its values first
    /// ([`ReportedActivity::check`]), then its user, refused when among `strangers` (the
    /// reported users who are not members), then its id, refused when an event accepted
    /// earlier in the batch has it (spec: STAT-1).
    pub(crate) fn check(
        organization: OrganizationId,
        reported: &[ReportedActivity],
        strangers: &HashSet<UserId>,
    ) -> Self {
        let mut batch = Self::default();
        let mut seen = HashSet::new();
        for (index, event) in reported.iter().enumerate() {
            let checked = event.check(organization).and_then(|a| {
                if strangers.contains(&a.user) {
                    Err(ActivityError::UnknownMember)
                } else if !seen.insert(a.id.clone()) {
                    Err(ActivityError::DuplicateId {
                        id: event.id.clone(),
                    })
                } else {
                    Ok(a)
                }
            });
            match checked {
                Ok(activity) => batch.accepted.push((index, activity)),
                Err(e) => batch.rejected.push((index, event.id.clone(), e)),
            }
        }
        batch
    }

    /// The events to record, in batch order.
    pub(crate) fn activities(&self) -> Vec<Activity> {
        self.accepted.iter().map(|(_, a)| a.clone()).collect()
    }

    /// What recording the batch did, once the store has said of each event to record
    /// whether it was `new`: an event it already held (a retried batch) is refused as a
    /// duplicate, never counted twice. Refusals come in batch order.
    pub(crate) fn receipt(self, new: &[bool]) -> ActivityReceipt {
        let mut receipt = ActivityReceipt {
            recorded: 0,
            rejected: self.rejected,
        };
        for ((index, activity), new) in self.accepted.into_iter().zip(new) {
            if *new {
                receipt.recorded += 1;
            } else {
                let id = activity.id.to_string();
                receipt
                    .rejected
                    .push((index, id.clone(), ActivityError::DuplicateId { id }));
            }
        }
        receipt.rejected.sort_by_key(|(index, _, _)| *index);
        receipt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::test_support::at;

    fn reported(kind: ReportedKind) -> ReportedActivity {
        ReportedActivity {
            id: "e-1".to_owned(),
            user: UserId::new(),
            course: "sql-101".to_owned(),
            kind,
            at: at(2),
        }
    }

    #[test]
    fn a_batch_keeps_what_it_does_not_refuse_and_says_why_of_the_rest() {
        // spec: STAT-1
        let org = OrganizationId::new();
        let (member, stranger) = (UserId::new(), UserId::new());
        let event = |id: &str, user, kind| ReportedActivity {
            id: id.to_owned(),
            user,
            ..reported(kind)
        };
        let batch = [
            event("a", member, ReportedKind::Enrolled),
            event("b", stranger, ReportedKind::Enrolled),
            event("a", member, ReportedKind::Completed),
            // Its values are checked before its user.
            event("c", stranger, ReportedKind::Progress { percent: 101 }),
            // A refused event's id does not count as seen.
            event("b", member, ReportedKind::Completed),
        ];
        let checked = CheckedBatch::check(org, &batch, &HashSet::from([stranger]));
        let accepted: Vec<(usize, String)> = checked
            .accepted
            .iter()
            .map(|(i, a)| (*i, a.id.to_string()))
            .collect();
        assert_eq!(accepted, [(0, "a".to_owned()), (4, "b".to_owned())]);
        assert_eq!(
            checked.rejected,
            [
                (1, "b".to_owned(), ActivityError::UnknownMember),
                (
                    2,
                    "a".to_owned(),
                    ActivityError::DuplicateId { id: "a".to_owned() }
                ),
                (
                    3,
                    "c".to_owned(),
                    ActivityError::PercentOutOfRange { percent: 101 }
                ),
            ]
        );
        assert_eq!(checked.activities().len(), 2);
    }

    #[test]
    fn events_the_store_already_had_are_refused_as_duplicates_in_batch_order() {
        // spec: STAT-1 — a retried batch is not counted twice.
        let org = OrganizationId::new();
        let member = UserId::new();
        let event = |id: &str| ReportedActivity {
            id: id.to_owned(),
            user: member,
            ..reported(ReportedKind::Enrolled)
        };
        let batch = [event("x"), event("bad id"), event("y"), event("z")];
        let checked = CheckedBatch::check(org, &batch, &HashSet::new());
        let receipt = checked.receipt(&[true, false, true]);
        assert_eq!(receipt.recorded, 2);
        let rejected: Vec<(usize, &str, bool)> = receipt
            .rejected
            .iter()
            .map(|(i, id, e)| {
                let duplicate = matches!(e, ActivityError::DuplicateId { id: d } if d == id);
                (*i, id.as_str(), duplicate)
            })
            .collect();
        assert_eq!(rejected, [(1, "bad id", false), (2, "y", true)]);
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_reason() {
        // spec: STAT-1, ERR-3
        let org = OrganizationId::new();
        let err = |k| reported(k).check(org).unwrap_err();
        assert_eq!(
            err(ReportedKind::Progress { percent: 101 }),
            ActivityError::PercentOutOfRange { percent: 101 }
        );
        assert_eq!(
            err(ReportedKind::Progress { percent: -1 }),
            ActivityError::PercentOutOfRange { percent: -1 }
        );
        assert_eq!(
            err(ReportedKind::TimeSpent { seconds: -5 }),
            ActivityError::NegativeTime { seconds: -5 }
        );
        assert!(matches!(
            err(ReportedKind::TimeSpent { seconds: 86_401 }),
            ActivityError::TooMuchTime { .. }
        ));
        let mut bad_id = reported(ReportedKind::Enrolled);
        bad_id.id = "has space".to_owned();
        assert!(matches!(bad_id.check(org), Err(ActivityError::Invalid(_))));
        assert!(
            reported(ReportedKind::Progress { percent: 100 })
                .check(org)
                .is_ok()
        );
    }
}
