//! The reference computation of [`Statistics`] from events (spec: STAT-2).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::{Activity, ActivityKind, CourseCount, Period, Statistics, WeekStats};
use crate::domain::{ids::UserId, text::CourseId};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{activity::test_support::at, ids::OrganizationId, text::ActivityId};

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
