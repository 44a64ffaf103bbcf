//! Learning activity and the statistics made from it (spec: STAT-1..4, TEAM-4).
//!
//! The host reports what learners do; orgroster keeps it per member and answers questions
//! about a period at three scopes — one member, one team, the whole organization — and
//! compares teams side by side. Everything here is pure: the stores feed it rows (the memory
//! store) or compute the same figures in SQL (the SQL stores), and the conformance suite
//! checks that both agree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ids::{OrganizationId, UserId},
    text::{ActivityId, CourseId},
};

mod period;
mod reported;
mod statistics;
mod tally;

pub use period::Period;
pub(crate) use reported::CheckedBatch;
pub use reported::{
    ActivityError, ActivityReceipt, MAX_SECONDS_PER_EVENT, ReportedActivity, ReportedKind,
};
pub use statistics::{
    Comparison, CourseCount, MemberActivity, Statistics, StatsScope, TeamStint, WeekStats,
};
pub use tally::Tally;

/// What happened, as the host reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActivityKind {
    /// Enrolled in a course.
    Enrolled,
    /// Made progress in a course.
    Progress {
        /// How far, from 0 to 100.
        percent: u8,
    },
    /// Completed a course.
    Completed,
    /// Earned a course's certificate.
    CertificateEarned,
    /// Spent time learning.
    TimeSpent {
        /// How long.
        seconds: u32,
    },
}

impl ActivityKind {
    /// The stable name used in storage.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Enrolled => "enrolled",
            Self::Progress { .. } => "progress",
            Self::Completed => "completed",
            Self::CertificateEarned => "certificate",
            Self::TimeSpent { .. } => "time_spent",
        }
    }

    /// The number carried by the kind: percent for progress, seconds for time spent.
    pub const fn value(self) -> u32 {
        match self {
            Self::Progress { percent } => percent as u32,
            Self::TimeSpent { seconds } => seconds,
            Self::Enrolled | Self::Completed | Self::CertificateEarned => 0,
        }
    }

    /// Rebuilds a kind from [`ActivityKind::name`] and [`ActivityKind::value`].
    pub fn from_parts(name: &str, value: i64) -> Option<Self> {
        Some(match name {
            "enrolled" => Self::Enrolled,
            "progress" => Self::Progress {
                percent: u8::try_from(value).ok().filter(|p| *p <= 100)?,
            },
            "completed" => Self::Completed,
            "certificate" => Self::CertificateEarned,
            "time_spent" => Self::TimeSpent {
                seconds: u32::try_from(value).ok()?,
            },
            _ => return None,
        })
    }
}

/// One learning event of one member, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// The host's id for it.
    pub id: ActivityId,
    /// The organization.
    pub organization: OrganizationId,
    /// The member's user.
    pub user: UserId,
    /// The course.
    pub course: CourseId,
    /// What happened.
    pub kind: ActivityKind,
    /// When.
    pub at: DateTime<Utc>,
}

/// What the tests of every part share.
#[cfg(test)]
mod test_support {
    use chrono::{DateTime, TimeZone, Utc};

    pub(super) fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
    }
}
