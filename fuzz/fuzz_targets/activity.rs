//! The activity batch (spec: STAT-1, ERR-1, ERR-3): `ReportedActivity::check`, the validation
//! `Roster::record_activity` applies to each reported event, never panics, refuses exactly the
//! values outside the documented ranges with the matching error, and what it accepts
//! round-trips: back to a report it checks to the same activity, through storage's
//! (name, value) pair to the same kind, and through serde unchanged. Batches come either as
//! structured values or as JSON text, the host's wire form.
#![no_main]

use arbitrary::Arbitrary;
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use orgroster::{
    Activity, ActivityError, ActivityId, ActivityKind, CourseId, Field, MAX_SECONDS_PER_EVENT,
    OrganizationId, Period, ReportedActivity, ReportedKind, UserId,
};
use uuid::Uuid;

#[derive(Arbitrary, Debug)]
enum Input {
    Events(Vec<Event>),
    Json(String),
    Period { from: (i64, u32), to: (i64, u32) },
}

#[derive(Arbitrary, Debug)]
struct Event {
    id: String,
    user: u128,
    course: String,
    kind: Kind,
    seconds: i64,
    nanos: u32,
}

#[derive(Arbitrary, Debug)]
enum Kind {
    Enrolled,
    Progress(i64),
    Completed,
    CertificateEarned,
    TimeSpent(i64),
}

impl Event {
    /// The report, or `None` for a time `DateTime<Utc>` cannot hold (no host can send one).
    fn report(&self) -> Option<ReportedActivity> {
        Some(ReportedActivity {
            id: self.id.clone(),
            user: UserId::from_uuid(Uuid::from_u128(self.user)),
            course: self.course.clone(),
            kind: match self.kind {
                Kind::Enrolled => ReportedKind::Enrolled,
                Kind::Progress(percent) => ReportedKind::Progress { percent },
                Kind::Completed => ReportedKind::Completed,
                Kind::CertificateEarned => ReportedKind::CertificateEarned,
                Kind::TimeSpent(seconds) => ReportedKind::TimeSpent { seconds },
            },
            at: DateTime::from_timestamp(self.seconds, self.nanos)?,
        })
    }
}

/// The report a host would send for `activity`.
fn reported(activity: &Activity) -> ReportedActivity {
    ReportedActivity {
        id: activity.id.to_string(),
        user: activity.user,
        course: activity.course.to_string(),
        kind: match activity.kind {
            ActivityKind::Enrolled => ReportedKind::Enrolled,
            ActivityKind::Progress { percent } => ReportedKind::Progress {
                percent: i64::from(percent),
            },
            ActivityKind::Completed => ReportedKind::Completed,
            ActivityKind::CertificateEarned => ReportedKind::CertificateEarned,
            ActivityKind::TimeSpent { seconds } => ReportedKind::TimeSpent {
                seconds: i64::from(seconds),
            },
            other => unreachable!("a kind this target does not know: {other:?}"),
        },
        at: activity.at,
    }
}

fn check(report: &ReportedActivity) {
    let org = OrganizationId::from_uuid(Uuid::from_u128(7));
    let json = serde_json::to_string(report).unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<ReportedActivity>(&json)
            .ok()
            .as_ref(),
        Some(report)
    );

    match report.check(org) {
        Ok(activity) => {
            assert_eq!(activity.organization, org);
            assert_eq!(activity.user, report.user);
            assert_eq!(activity.at, report.at);
            assert_eq!(ActivityId::parse(&report.id).as_ref(), Ok(&activity.id));
            assert_eq!(
                CourseId::parse(&report.course).as_ref(),
                Ok(&activity.course)
            );
            match (report.kind, activity.kind) {
                (ReportedKind::Progress { percent }, ActivityKind::Progress { percent: kept }) => {
                    assert_eq!(percent, i64::from(kept));
                    assert!(kept <= 100);
                }
                (
                    ReportedKind::TimeSpent { seconds },
                    ActivityKind::TimeSpent { seconds: kept },
                ) => {
                    assert_eq!(seconds, i64::from(kept));
                    assert!(seconds <= MAX_SECONDS_PER_EVENT);
                }
                (ReportedKind::Enrolled, ActivityKind::Enrolled)
                | (ReportedKind::Completed, ActivityKind::Completed)
                | (ReportedKind::CertificateEarned, ActivityKind::CertificateEarned) => {}
                (reported, kept) => panic!("{reported:?} was recorded as {kept:?}"),
            }
            // Round trips: as a report, as the stores' (name, value) pair, and through serde.
            assert_eq!(reported(&activity).check(org).as_ref(), Ok(&activity));
            let kind = activity.kind;
            let stored = ActivityKind::from_parts(kind.name(), i64::from(kind.value()));
            assert_eq!(stored, Some(kind));
            let json = serde_json::to_string(&activity).unwrap_or_default();
            assert_eq!(
                serde_json::from_str::<Activity>(&json).ok().as_ref(),
                Some(&activity)
            );
        }
        Err(ActivityError::PercentOutOfRange { percent }) => {
            assert_eq!(report.kind, ReportedKind::Progress { percent });
            assert!(!(0..=100).contains(&percent));
        }
        Err(ActivityError::NegativeTime { seconds }) => {
            assert_eq!(report.kind, ReportedKind::TimeSpent { seconds });
            assert!(seconds < 0);
        }
        Err(ActivityError::TooMuchTime { seconds }) => {
            assert_eq!(report.kind, ReportedKind::TimeSpent { seconds });
            assert!(seconds > MAX_SECONDS_PER_EVENT);
        }
        Err(ActivityError::Invalid(error)) => match error.field() {
            Field::ActivityId => assert_eq!(ActivityId::parse(&report.id).err(), Some(error)),
            Field::CourseId => assert_eq!(CourseId::parse(&report.course).err(), Some(error)),
            _ => {}
        },
        // Membership and duplicates are the service's to decide, never `check`'s.
        Err(error) => panic!("check decided {error:?}"),
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Events(events) => events
            .iter()
            .filter_map(Event::report)
            .for_each(|r| check(&r)),
        Input::Json(text) => {
            if let Ok(batch) = serde_json::from_str::<Vec<ReportedActivity>>(&text) {
                batch.iter().for_each(check);
            }
        }
        Input::Period { from, to } => {
            let (Some(from), Some(to)) = (
                DateTime::from_timestamp(from.0, from.1),
                DateTime::from_timestamp(to.0, to.1),
            ) else {
                return;
            };
            // A period read from a request is checked as `Period::new` checks it.
            let json = serde_json::json!({ "from": from, "to": to }).to_string();
            let parsed = serde_json::from_str::<Period>(&json).ok();
            assert_eq!(parsed, Period::new(from, to).ok());
            if let Some(period) = parsed {
                assert!(period.from() < period.to());
                assert!((period.to() - period.from()).num_days() <= Period::MAX_DAYS);
                assert!(period.contains(from) && !period.contains(to));
            }
        }
    }
});
