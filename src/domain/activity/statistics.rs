//! The figures asked of a scope over a period, and what they are made from (spec: STAT-2..4,
//! TEAM-4).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Activity, ActivityKind, Period};
use crate::domain::{
    ids::{MemberId, TeamId, UserId},
    text::CourseId,
};

/// Where statistics are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StatsScope {
    /// The whole organization.
    Organization,
    /// One team: the members who belonged to it at some moment of the period, and of each
    /// only the events while they belonged to it (spec: TEAM-4).
    Team(TeamId),
    /// One member.
    Member(UserId),
}

/// How many learners followed one course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CourseCount {
    /// The course.
    pub course: CourseId,
    /// Distinct learners with activity on it in the period.
    pub learners: u64,
}

/// One week of the per-week series, for charts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekStats {
    /// Monday 00:00 UTC.
    pub week: DateTime<Utc>,
    /// Distinct learners with activity that week.
    pub active_learners: u64,
    /// Completions that week.
    pub completions: u64,
    /// Seconds spent that week.
    pub time_spent_seconds: u64,
}

/// The figures of one scope over one period (spec: STAT-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statistics {
    /// The period.
    pub period: Period,
    /// Invitations sent during the period.
    pub invited: u64,
    /// Members at the end of the period.
    pub members: u64,
    /// Distinct learners with any activity in the period.
    pub active_learners: u64,
    /// Enrolments.
    pub enrolments: u64,
    /// Completions.
    pub completions: u64,
    /// Certificates earned.
    pub certificates: u64,
    /// Seconds spent learning.
    pub time_spent_seconds: u64,
    /// The most followed courses, most learners first (ties by course id), at most
    /// [`Statistics::TOP_COURSES`].
    pub top_courses: Vec<CourseCount>,
    /// One entry per week that had activity, in order.
    pub weekly: Vec<WeekStats>,
}

impl Statistics {
    /// How many courses `top_courses` lists.
    pub const TOP_COURSES: usize = 5;

    /// Completions per enrolment, when there were enrolments.
    pub fn completion_rate(&self) -> Option<f64> {
        (self.enrolments > 0).then(|| self.completions as f64 / self.enrolments as f64)
    }

    /// Seconds per active learner, when there were any.
    pub fn time_per_active_learner(&self) -> Option<u64> {
        self.time_spent_seconds.checked_div(self.active_learners)
    }
}

/// A stretch of time during which a member belonged to a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamStint {
    /// The team.
    pub team: TeamId,
    /// The member's user.
    pub user: UserId,
    /// When they joined it.
    pub joined_at: DateTime<Utc>,
    /// When they left it (or it was deleted); `None` while they still belong.
    pub left_at: Option<DateTime<Utc>>,
}

impl TeamStint {
    /// Whether the member belonged to the team at some moment of the period: the members a
    /// team's figures count (spec: TEAM-4). A stint that ended the moment it began covers
    /// no moment.
    pub fn overlaps(&self, period: &Period) -> bool {
        self.joined_at < period.to()
            && self
                .left_at
                .is_none_or(|left| left > period.from() && left > self.joined_at)
    }

    /// Whether the member belonged to the team at `at`: only such events count for the team
    /// (spec: TEAM-4).
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.joined_at <= at && self.left_at.is_none_or(|left| at < left)
    }
}

/// Several teams side by side over one period, with the organization's totals (spec: STAT-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Comparison {
    /// The period.
    pub period: Period,
    /// One row per team, in the order asked.
    pub teams: Vec<(TeamId, String, Statistics)>,
    /// The whole organization; a member in two teams counts once here. `None` for actors
    /// who may see only some teams (spec: STAT-2).
    pub organization: Option<Statistics>,
}

/// One member's activity over a period: a row of the per-member report (spec: STAT-4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberActivity {
    /// The member; listings page by it.
    pub member: MemberId,
    /// The member's user.
    pub user: UserId,
    /// Their address.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Enrolments.
    pub enrolments: u64,
    /// Completions.
    pub completions: u64,
    /// Certificates.
    pub certificates: u64,
    /// Seconds spent.
    pub time_spent_seconds: u64,
    /// Their last activity in the period.
    pub last_active: Option<DateTime<Utc>>,
}

impl MemberActivity {
    /// Counts one of the member's events (the caller has checked it is theirs and in the
    /// period).
    pub fn add(&mut self, activity: &Activity) {
        match activity.kind {
            ActivityKind::Enrolled => self.enrolments += 1,
            ActivityKind::Completed => self.completions += 1,
            ActivityKind::CertificateEarned => self.certificates += 1,
            ActivityKind::TimeSpent { seconds } => self.time_spent_seconds += u64::from(seconds),
            ActivityKind::Progress { .. } => {}
        }
        self.last_active = Some(self.last_active.map_or(activity.at, |t| t.max(activity.at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::test_support::at;

    #[test]
    fn a_stint_covers_from_its_join_to_before_its_leave() {
        // spec: TEAM-4
        let stint = |joined, left| TeamStint {
            team: TeamId::new(),
            user: UserId::new(),
            joined_at: joined,
            left_at: left,
        };
        let short = stint(at(5), Some(at(6)));
        assert!(!short.covers(at(4)) && short.covers(at(5)) && !short.covers(at(6)));
        assert!(stint(at(5), None).covers(at(28)));
        let period = Period::new(at(2), at(10)).unwrap();
        assert!(short.overlaps(&period));
        assert!(
            !stint(at(5), Some(at(5))).overlaps(&period),
            "no moment in the team"
        );
        assert!(!stint(at(10), None).overlaps(&period));
        assert!(!stint(at(1), Some(at(2))).overlaps(&period));
    }
}
