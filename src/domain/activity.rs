//! Learning activity and the statistics made from it (spec: STAT-1..4, TEAM-4).
//!
//! The host reports what learners do; orgroster keeps it per member and answers questions
//! about a period at three scopes — one member, one team, the whole organization — and
//! compares teams side by side. Everything here is pure: the stores feed it rows (the memory
//! store) or compute the same figures in SQL (the SQL stores), and the conformance suite
//! checks that both agree.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Days, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ids::{MemberId, OrganizationId, TeamId, UserId},
    text::{ActivityId, CourseId},
    time,
    validation::{Field, ValidationError},
};

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Where statistics are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// Adds events up into [`Statistics`]: the reference computation the memory store uses and
/// the SQL stores reproduce.
///
/// Built for one pass over many events: each event costs one hash lookup of its learner.
/// The distinct counts (learners per course, learners per week) are kept by remembering,
/// per learner, the courses and weeks already counted for them: a learner follows few
/// courses, and events in time order meet their current week first.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Every learner seen, with what has been counted for them.
    learners: HashMap<UserId, Counted>,
    enrolments: u64,
    completions: u64,
    certificates: u64,
    seconds: u64,
    /// Courses in the order first seen, with their distinct learners.
    courses: Vec<(CourseId, u64)>,
    /// Where each course is in `courses`.
    course_at: HashMap<CourseId, usize>,
    /// Weeks in the order first seen.
    weeks: Vec<WeekTally>,
    /// The week of the last event, which the next one most likely falls in.
    last_week: usize,
}

/// What has been counted for one learner: indexes into [`Tally`]'s courses and weeks.
#[derive(Debug, Clone, Default)]
struct Counted {
    courses: Vec<usize>,
    weeks: Vec<usize>,
}

/// One week of a [`Tally`].
#[derive(Debug, Clone)]
struct WeekTally {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    learners: u64,
    completions: u64,
    seconds: u64,
}

impl Tally {
    /// Counts one event (the caller has checked it falls in the period and the scope).
    pub fn add(&mut self, activity: &Activity) {
        let counted = self.learners.entry(activity.user).or_default();
        match activity.kind {
            ActivityKind::Enrolled => self.enrolments += 1,
            ActivityKind::Completed => self.completions += 1,
            ActivityKind::CertificateEarned => self.certificates += 1,
            ActivityKind::TimeSpent { seconds } => self.seconds += u64::from(seconds),
            ActivityKind::Progress { .. } => {}
        }
        let courses = &mut self.courses;
        let known = counted
            .courses
            .iter()
            .any(|&i| courses.get(i).is_some_and(|(c, _)| *c == activity.course));
        if !known {
            let i = match self.course_at.get(&activity.course) {
                Some(&i) => i,
                None => {
                    courses.push((activity.course.clone(), 0));
                    self.course_at
                        .insert(activity.course.clone(), courses.len() - 1);
                    courses.len() - 1
                }
            };
            if let Some((_, learners)) = courses.get_mut(i) {
                *learners += 1;
            }
            counted.courses.push(i);
        }
        let at = activity.at;
        let current = self
            .weeks
            .get(self.last_week)
            .is_some_and(|w| w.start <= at && at < w.end);
        if !current {
            let start = Period::week_of(at);
            self.last_week = match self.weeks.iter().position(|w| w.start == start) {
                Some(i) => i,
                None => {
                    self.weeks.push(WeekTally {
                        start,
                        // A store may hold any time a host gave it directly.
                        end: start
                            .checked_add_signed(Duration::days(7))
                            .unwrap_or(DateTime::<Utc>::MAX_UTC),
                        learners: 0,
                        completions: 0,
                        seconds: 0,
                    });
                    self.weeks.len() - 1
                }
            };
        }
        let w = self.last_week;
        let Some(week) = self.weeks.get_mut(w) else {
            return;
        };
        // Events in time order: the learner's latest week is the one to check first.
        if !counted.weeks.iter().rev().any(|&seen| seen == w) {
            counted.weeks.push(w);
            week.learners += 1;
        }
        match activity.kind {
            ActivityKind::Completed => week.completions += 1,
            ActivityKind::TimeSpent { seconds } => week.seconds += u64::from(seconds),
            _ => {}
        }
    }

    /// The statistics, with the membership figures the caller counted.
    pub fn finish(self, period: Period, invited: u64, members: u64) -> Statistics {
        let mut top: Vec<CourseCount> = self
            .courses
            .into_iter()
            .map(|(course, learners)| CourseCount { course, learners })
            .collect();
        top.sort_by(|a, b| {
            b.learners
                .cmp(&a.learners)
                .then_with(|| a.course.cmp(&b.course))
        });
        top.truncate(Statistics::TOP_COURSES);
        let mut weeks = self.weeks;
        weeks.sort_by_key(|w| w.start);
        Statistics {
            period,
            invited,
            members,
            active_learners: self.learners.len() as u64,
            enrolments: self.enrolments,
            completions: self.completions,
            certificates: self.certificates,
            time_spent_seconds: self.seconds,
            top_courses: top,
            weekly: weeks
                .into_iter()
                .map(|w| WeekStats {
                    week: w.start,
                    active_learners: w.learners,
                    completions: w.completions,
                    time_spent_seconds: w.seconds,
                })
                .collect(),
        }
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
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
    }

    fn reported(kind: ReportedKind) -> ReportedActivity {
        ReportedActivity {
            id: "e-1".to_owned(),
            user: UserId::new(),
            course: "sql-101".to_owned(),
            kind,
            at: at(2),
        }
    }

    /// The tally as sets and maps, the way the figures are defined (spec: STAT-2).
    fn naive(activities: &[Activity], period: Period) -> Statistics {
        use std::collections::{BTreeMap, HashSet};
        let learners: HashSet<UserId> = activities.iter().map(|a| a.user).collect();
        let count =
            |kind: ActivityKind| activities.iter().filter(|a| a.kind == kind).count() as u64;
        let seconds = |a: &Activity| match a.kind {
            ActivityKind::TimeSpent { seconds } => u64::from(seconds),
            _ => 0,
        };
        let mut courses: BTreeMap<&CourseId, HashSet<UserId>> = BTreeMap::new();
        let mut weeks: BTreeMap<DateTime<Utc>, (HashSet<UserId>, u64, u64)> = BTreeMap::new();
        for a in activities {
            courses.entry(&a.course).or_default().insert(a.user);
            let week = weeks.entry(Period::week_of(a.at)).or_default();
            week.0.insert(a.user);
            week.1 += u64::from(a.kind == ActivityKind::Completed);
            week.2 += seconds(a);
        }
        let mut top: Vec<CourseCount> = courses
            .into_iter()
            .map(|(course, users)| CourseCount {
                course: course.clone(),
                learners: users.len() as u64,
            })
            .collect();
        top.sort_by(|a, b| {
            b.learners
                .cmp(&a.learners)
                .then_with(|| a.course.cmp(&b.course))
        });
        top.truncate(Statistics::TOP_COURSES);
        Statistics {
            period,
            invited: 0,
            members: 0,
            active_learners: learners.len() as u64,
            enrolments: count(ActivityKind::Enrolled),
            completions: count(ActivityKind::Completed),
            certificates: count(ActivityKind::CertificateEarned),
            time_spent_seconds: activities.iter().map(seconds).sum(),
            top_courses: top,
            weekly: weeks
                .into_iter()
                .map(|(week, (users, completions, seconds))| WeekStats {
                    week,
                    active_learners: users.len() as u64,
                    completions,
                    time_spent_seconds: seconds,
                })
                .collect(),
        }
    }

    proptest::proptest! {
        /// The one-lookup-per-event tally counts what the definitions say, whatever the
        /// order of the events (weeks met out of order, courses met again).
        #[test]
        fn the_tally_counts_what_the_definitions_say(
            events in proptest::collection::vec((0..6_usize, 0..14_usize, 0..70_i64, 0..5_u8), 0..300)
        ) {
            // spec: STAT-2
            let org = OrganizationId::new();
            let users: Vec<UserId> = (0..6).map(|_| UserId::new()).collect();
            let start = at(1);
            let activities: Vec<Activity> = events
                .iter()
                .enumerate()
                .map(|(n, &(user, course, hours, kind))| Activity {
                    id: ActivityId::parse(format!("e{n}")).unwrap(),
                    organization: org,
                    user: users[user],
                    course: CourseId::parse(format!("course-{course}")).unwrap(),
                    kind: match kind {
                        0 => ActivityKind::Enrolled,
                        1 => ActivityKind::Progress { percent: 40 },
                        2 => ActivityKind::Completed,
                        3 => ActivityKind::CertificateEarned,
                        _ => ActivityKind::TimeSpent { seconds: 60 * (1 + n as u32 % 7) },
                    },
                    at: start + Duration::hours(hours * 7),
                })
                .collect();
            let period = Period::new(start, start + Duration::days(30)).unwrap();
            let mut tally = Tally::default();
            for a in &activities {
                tally.add(a);
            }
            proptest::prop_assert_eq!(tally.finish(period, 0, 0), naive(&activities, period));
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
    fn a_tally_of_events_at_the_ends_of_time_does_not_panic() {
        // spec: ERR-1 — a store may hold any time a host gave it directly.
        let org = OrganizationId::new();
        let mut tally = Tally::default();
        for at in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            tally.add(&Activity {
                id: ActivityId::parse("edge").unwrap(),
                organization: org,
                user: UserId::new(),
                course: CourseId::parse("sql").unwrap(),
                kind: ActivityKind::Completed,
                at,
            });
        }
        let stats = tally.finish(Period::new(at(1), at(2)).unwrap(), 0, 0);
        assert_eq!(stats.completions, 2);
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

    #[test]
    fn weeks_start_on_monday_at_midnight() {
        let wednesday = Utc.with_ymd_and_hms(2026, 3, 4, 15, 30, 0).unwrap();
        assert_eq!(
            Period::week_of(wednesday),
            Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_tally_counts_learners_once_and_ranks_courses() {
        // spec: STAT-2
        let org = OrganizationId::new();
        let (a, b) = (UserId::new(), UserId::new());
        let event = |user, course: &str, kind| Activity {
            id: ActivityId::parse(format!("{}", uuid::Uuid::now_v7())).unwrap(),
            organization: org,
            user,
            course: CourseId::parse(course).unwrap(),
            kind,
            at: at(3),
        };
        let mut tally = Tally::default();
        tally.add(&event(a, "sql", ActivityKind::Enrolled));
        tally.add(&event(a, "sql", ActivityKind::Completed));
        tally.add(&event(b, "sql", ActivityKind::Enrolled));
        tally.add(&event(b, "rust", ActivityKind::TimeSpent { seconds: 600 }));
        let stats = tally.finish(Period::new(at(1), at(10)).unwrap(), 3, 2);
        assert_eq!(stats.active_learners, 2);
        assert_eq!((stats.enrolments, stats.completions), (2, 1));
        assert_eq!(stats.completion_rate(), Some(0.5));
        assert_eq!(stats.time_per_active_learner(), Some(300));
        assert_eq!(
            stats.top_courses[0],
            CourseCount {
                course: CourseId::parse("sql").unwrap(),
                learners: 2
            }
        );
        assert_eq!(stats.weekly.len(), 1);
    }
}
