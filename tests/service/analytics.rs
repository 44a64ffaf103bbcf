//! Learning activity and the statistics made from it: recording batches with good and bad
//! events, periods, the three scopes with figures worked out by hand, team comparison, who may
//! see what, and the CSV reports.
//!
//! Most tests share one small school (`School::new`), whose every figure is written out
//! literally below; the comments next to each number say which events make it.

use chrono::{DateTime, Duration, TimeZone, Utc};
use orgroster::{
    AcceptOptions, ActivityError, Actor, Clock, CourseCount, CourseId, EmailAddress, Error, Field,
    HostAction, MemberId, Period, Permission, ReportedActivity, ReportedKind, Role, RoleSet,
    Statistics, StatsScope, Store, TeamId, UserId, ValidationError, WeekStats,
    domain::{
        changes::{ChangeSet, OrganizationWrite, Write},
        member::Member,
    },
    report::{self, ReportError},
};

use crate::fixture::{World, actor, profile};

// ----- helpers --------------------------------------------------------------------------------

/// 2026-`month`-`day` at `hour`:`minute` UTC.
fn at(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, hour, minute, 0)
        .unwrap()
}

/// The Monday 2026-`month`-`day` at midnight, a week of the series.
fn week(month: u32, day: u32) -> DateTime<Utc> {
    at(month, day, 0, 0)
}

/// The world's clock.
fn now(w: &World) -> DateTime<Utc> {
    w.clock.now()
}

fn course(id: &str) -> CourseId {
    CourseId::parse(id).unwrap()
}

fn top(courses: &[(&str, u64)]) -> Vec<CourseCount> {
    courses
        .iter()
        .map(|(id, learners)| CourseCount {
            course: course(id),
            learners: *learners,
        })
        .collect()
}

/// A week of the series: (Monday, active learners, completions, seconds).
fn weeks(rows: &[(DateTime<Utc>, u64, u64, u64)]) -> Vec<WeekStats> {
    rows.iter()
        .map(|(week, active, completions, seconds)| WeekStats {
            week: *week,
            active_learners: *active,
            completions: *completions,
            time_spent_seconds: *seconds,
        })
        .collect()
}

fn event(
    id: &str,
    user: &Actor,
    course: &str,
    kind: ReportedKind,
    at: DateTime<Utc>,
) -> ReportedActivity {
    ReportedActivity {
        id: id.to_owned(),
        user: user.user,
        course: course.to_owned(),
        kind,
        at,
    }
}

use ReportedKind::{CertificateEarned as Certificate, Completed, Enrolled};

fn progress(percent: i64) -> ReportedKind {
    ReportedKind::Progress { percent }
}

fn time(seconds: i64) -> ReportedKind {
    ReportedKind::TimeSpent { seconds }
}

/// A new member `local@example.com` named `first last`, in no team.
async fn join_named(w: &World, local: &str, first: &str, last: &str) -> Actor {
    let who = actor(local);
    let invited = w.invite(&who, Role::Member, None).await;
    w.roster
        .accept_invitation(
            &who,
            &invited.token.expose(),
            AcceptOptions {
                profile: profile(first, last),
                existing_account: false,
                warning_acknowledged: false,
            },
        )
        .await
        .unwrap();
    who
}

/// Parses CSV text back into records with the `csv` crate.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn export(
    w: &World,
    who: &Actor,
    scope: StatsScope,
    period: Period,
) -> Result<(u64, String), ReportError> {
    let mut out = Vec::new();
    let rows = w
        .roster
        .export_member_activity(who, w.org, scope, period, &mut out)
        .await?;
    Ok((rows, String::from_utf8(out).unwrap()))
}

fn forbidden(err: &Error) -> Option<Permission> {
    match err {
        Error::Forbidden { permission } => Some(*permission),
        _ => None,
    }
}

fn export_forbidden(err: &ReportError) -> Option<Permission> {
    match err {
        ReportError::Roster(e) => forbidden(e),
        _ => None,
    }
}

// ----- the school -----------------------------------------------------------------------------

/// One organization, two teams and their history, and 21 events, 17 of them inside the
/// period of four weeks from Monday 2026-01-12 (included) to Monday 2026-02-09 (excluded).
///
/// | who  | roles          | teams over time                                        |
/// |------|----------------|--------------------------------------------------------|
/// | maya | Administrator  | none (the founder)                                     |
/// | max  | Manager        | none                                                   |
/// | sue  | Team Supervisor| Red from Jan 5                                         |
/// | ana  | Member         | Red from Jan 5                                         |
/// | ben  | Member         | Red and Blue from Jan 5: in two teams                  |
/// | cleo | Member         | Red from Jan 5, **left on Jan 26** (mid-period)        |
/// | dev  | Member         | **joined Blue on Jan 26** (mid-period)                 |
/// | eve  | Member         | none                                                   |
/// | fay  | Member         | Blue from Jan 5, left on Jan 7 (before the period)     |
/// | hal  | Member         | none; joined the organization on Feb 12 (after it)     |
///
/// Gus is invited into Red on Jan 26 and never accepts.
struct School {
    w: World,
    red: TeamId,
    blue: TeamId,
    max: Actor,
    sue: Actor,
    ana: Actor,
    ben: Actor,
    dev: Actor,
    period: Period,
}

impl School {
    async fn new() -> Self {
        // The world's clock starts on Monday 2026-01-05 at 09:00.
        let w = World::new().await;
        assert_eq!(now(&w), at(1, 5, 9, 0));
        let red = w.team("Red").await;
        let blue = w.team("Blue").await;
        let ana = w.join("ana", Role::Member, Some(red)).await;
        let ben = w.join("ben", Role::Member, Some(red)).await;
        w.put_in_team(blue, ben.user).await;
        let cleo = w.join("cleo", Role::Member, Some(red)).await;
        let dev = w.join("dev", Role::Member, None).await;
        let eve = w.join("eve", Role::Member, None).await;
        let fay = w.join("fay", Role::Member, Some(blue)).await;
        let sue = w.join("sue", Role::TeamSupervisor, Some(red)).await;
        let max = w.join("max", Role::Member, None).await;
        w.roster
            .grant_role(&w.founder, w.org, max.user, Role::Manager)
            .await
            .unwrap();

        w.clock.set(at(1, 7, 9, 0));
        w.roster
            .remove_team_member(&w.founder, w.org, blue, fay.user)
            .await
            .unwrap();

        w.clock.set(at(1, 26, 9, 0));
        w.roster
            .remove_team_member(&w.founder, w.org, red, cleo.user)
            .await
            .unwrap();
        w.put_in_team(blue, dev.user).await;
        w.invite(&actor("gus"), Role::Member, Some(red)).await;

        w.clock.set(at(2, 12, 9, 0));
        w.join("hal", Role::Member, None).await;

        let events = vec![
            event("a1", &ana, "sql-101", Enrolled, at(1, 13, 10, 0)),
            event("a2", &ana, "sql-101", progress(50), at(1, 14, 10, 0)),
            event("a3", &ana, "sql-101", time(3600), at(1, 14, 11, 0)),
            event("a4", &ana, "sql-101", Completed, at(1, 20, 10, 0)),
            event("a5", &ana, "sql-101", Certificate, at(1, 20, 10, 5)),
            event("b1", &ben, "sql-101", Enrolled, at(1, 13, 9, 0)),
            event("b2", &ben, "rust-201", Enrolled, at(1, 21, 10, 0)),
            event("b3", &ben, "rust-201", time(1800), at(1, 21, 11, 0)),
            event("b4", &ben, "rust-201", Completed, at(2, 3, 10, 0)),
            event("c1", &cleo, "dash-101", Enrolled, at(1, 15, 10, 0)),
            // After cleo left Red: not Red's, as she no longer belonged to it (TEAM-4).
            event("c2", &cleo, "dash-101", time(1200), at(1, 28, 10, 0)),
            // Before dev joined Blue: not Blue's, as he did not belong to it yet (TEAM-4).
            event("d1", &dev, "rust-201", Enrolled, at(1, 16, 10, 0)),
            event("d2", &dev, "rust-201", time(600), at(2, 4, 10, 0)),
            event("e1", &eve, "sql-101", Enrolled, at(1, 22, 10, 0)),
            event("e2", &eve, "sql-101", time(1000), at(1, 22, 11, 0)),
            // The first instant of the period is in it...
            event("e3", &eve, "sql-101", progress(10), at(1, 12, 0, 0)),
            // ... and its end is not.
            event("e4", &eve, "sql-101", time(5000), at(2, 9, 0, 0)),
            // Fay left Blue before the period: hers count for the organization only.
            event("f1", &fay, "dash-101", Enrolled, at(1, 19, 10, 0)),
            event("f2", &fay, "dash-101", Completed, at(1, 19, 11, 0)),
            // Outside the period.
            event("a0", &ana, "dash-101", Enrolled, at(1, 6, 10, 0)),
            event("b9", &ben, "sql-101", time(7200), at(2, 10, 10, 0)),
        ];
        let receipt = w.roster.record_activity(w.org, &events).await.unwrap();
        assert_eq!(receipt.recorded, 21);
        assert!(receipt.rejected.is_empty(), "{:?}", receipt.rejected);

        Self {
            w,
            red,
            blue,
            max,
            sue,
            ana,
            ben,
            dev,
            period: Period::new(week(1, 12), week(2, 9)).unwrap(),
        }
    }

    async fn stats(&self, who: &Actor, scope: StatsScope) -> Result<Statistics, Error> {
        self.w
            .roster
            .statistics(who, self.w.org, scope, self.period)
            .await
    }

    /// The organization over the period, worked out by hand.
    fn expected_organization(&self) -> Statistics {
        Statistics {
            period: self.period,
            invited: 1, // gus, on Jan 26 (everyone else was invited on Jan 5 or Feb 12)
            members: 9, // maya, max, sue, ana, ben, cleo, dev, eve, fay (not hal)
            active_learners: 6, // ana, ben, cleo, dev, eve, fay
            enrolments: 7, // a1, b1, b2, c1, d1, e1, f1
            completions: 3, // a4, b4, f2
            certificates: 1, // a5
            time_spent_seconds: 8200, // a3 3600 + b3 1800 + c2 1200 + d2 600 + e2 1000
            top_courses: top(&[("sql-101", 3), ("dash-101", 2), ("rust-201", 2)]),
            weekly: weeks(&[
                (week(1, 12), 5, 0, 3600), // ana ben cleo dev eve; a3
                (week(1, 19), 4, 2, 2800), // ana ben eve fay; a4 f2; b3 e2
                (week(1, 26), 1, 0, 1200), // cleo; c2
                (week(2, 2), 2, 1, 600),   // ben dev; b4; d2
            ]),
        }
    }

    /// Red over the period: ana, ben, cleo (left mid-period: only her events before) and sue
    /// (no activity).
    fn expected_red(&self) -> Statistics {
        Statistics {
            period: self.period,
            invited: 1,               // gus
            members: 4,               // ana, ben, cleo, sue
            active_learners: 3,       // ana, ben, cleo
            enrolments: 4,            // a1, b1, b2, c1
            completions: 2,           // a4, b4
            certificates: 1,          // a5
            time_spent_seconds: 5400, // a3 3600 + b3 1800 (not c2: after cleo left)
            top_courses: top(&[("sql-101", 2), ("dash-101", 1), ("rust-201", 1)]),
            weekly: weeks(&[
                (week(1, 12), 3, 0, 3600),
                (week(1, 19), 2, 1, 1800),
                (week(2, 2), 1, 1, 0),
            ]),
        }
    }

    /// Blue over the period: ben and dev (joined mid-period: only his events after); not fay
    /// (left before).
    fn expected_blue(&self) -> Statistics {
        Statistics {
            period: self.period,
            invited: 0,
            members: 2,               // ben, dev
            active_learners: 2,       // ben, dev
            enrolments: 2,            // b1, b2 (not d1: before dev joined)
            completions: 1,           // b4
            certificates: 0,          //
            time_spent_seconds: 2400, // b3 1800 + d2 600
            top_courses: top(&[("rust-201", 2), ("sql-101", 1)]),
            weekly: weeks(&[
                (week(1, 12), 1, 0, 0),
                (week(1, 19), 1, 0, 1800),
                (week(2, 2), 2, 1, 600),
            ]),
        }
    }

    /// Ana over the period.
    fn expected_ana(&self) -> Statistics {
        Statistics {
            period: self.period,
            invited: 0,
            members: 1,
            active_learners: 1,
            enrolments: 1,
            completions: 1,
            certificates: 1,
            time_spent_seconds: 3600,
            top_courses: top(&[("sql-101", 1)]),
            weekly: weeks(&[(week(1, 12), 1, 0, 3600), (week(1, 19), 1, 1, 0)]),
        }
    }
}

// ----- recording ------------------------------------------------------------------------------

#[tokio::test]
async fn a_batch_keeps_its_good_events_and_refuses_each_bad_one_with_its_reason() {
    // spec: STAT-1, ERR-1, ERR-3
    let w = World::new().await;
    let ana = w.join("ana", Role::Member, None).await;
    let stranger = actor("stranger");
    let now = now(&w);
    // Every bad event names a course of its own, so a stored one would show in top courses.
    let batch = vec![
        event("e-1", &ana, "sql-101", Enrolled, now),
        event("e-2", &ana, "bad-course", progress(101), now),
        event("e-3", &ana, "bad-course", time(-5), now),
        event("e-4", &stranger, "bad-course", Enrolled, now),
        event("has space", &ana, "bad-course", Enrolled, now),
        event("e-1", &ana, "bad-course", time(60), now),
        event("e-6", &ana, "sql-101", progress(100), now),
        event("e-7", &ana, "sql-101", time(86_400), now),
        event("e-8", &ana, "bad-course", time(86_401), now),
        event("e-9", &ana, "bad course", Enrolled, now),
        event("e-10", &ana, "bad-course", progress(-1), now),
    ];
    let receipt = w.roster.record_activity(w.org, &batch).await.unwrap();

    assert_eq!(receipt.recorded, 3, "e-1, e-6 and e-7");
    let reasons: Vec<(usize, &str, &ActivityError)> = receipt
        .rejected
        .iter()
        .map(|(i, id, e)| (*i, id.as_str(), e))
        .collect();
    assert_eq!(reasons.len(), 8, "{reasons:?}");
    assert_eq!(
        reasons[0],
        (1, "e-2", &ActivityError::PercentOutOfRange { percent: 101 })
    );
    assert_eq!(
        reasons[1],
        (2, "e-3", &ActivityError::NegativeTime { seconds: -5 })
    );
    assert_eq!(reasons[2], (3, "e-4", &ActivityError::UnknownMember));
    assert!(
        matches!(
            reasons[3],
            (4, "has space", ActivityError::Invalid(e)) if e.field() == Field::ActivityId
        ),
        "{:?}",
        reasons[3]
    );
    assert_eq!(
        reasons[4],
        (
            5,
            "e-1",
            &ActivityError::DuplicateId {
                id: "e-1".to_owned()
            }
        )
    );
    assert_eq!(
        reasons[5],
        (8, "e-8", &ActivityError::TooMuchTime { seconds: 86_401 })
    );
    assert!(
        matches!(
            reasons[6],
            (9, "e-9", ActivityError::Invalid(e)) if e.field() == Field::CourseId
        ),
        "{:?}",
        reasons[6]
    );
    assert_eq!(
        reasons[7],
        (
            10,
            "e-10",
            &ActivityError::PercentOutOfRange { percent: -1 }
        )
    );
    // Each reason is a sentence a host can log or show.
    assert!(reasons[0].2.to_string().contains("101"));
    assert!(reasons[1].2.to_string().contains("negative"));
    assert!(reasons[4].2.to_string().contains("e-1"));

    // Only the good events were stored: nothing of the bad course, nor of the stranger.
    let period = Period::new(now - Duration::days(1), now + Duration::days(1)).unwrap();
    let stats = w
        .roster
        .statistics(&w.founder, w.org, StatsScope::Organization, period)
        .await
        .unwrap();
    assert_eq!(stats.active_learners, 1);
    assert_eq!(stats.enrolments, 1);
    assert_eq!(stats.time_spent_seconds, 86_400);
    assert_eq!(stats.top_courses, top(&[("sql-101", 1)]));
}

#[tokio::test]
async fn a_retried_batch_is_refused_as_duplicates_and_changes_no_figure() {
    // spec: STAT-1, ERR-2
    let w = World::new().await;
    let ana = w.join("ana", Role::Member, None).await;
    let now = now(&w);
    let batch = vec![
        event("r-1", &ana, "sql-101", Enrolled, now),
        event("r-2", &ana, "sql-101", time(1200), now),
        event("r-3", &ana, "sql-101", Completed, now),
    ];
    let first = w.roster.record_activity(w.org, &batch).await.unwrap();
    assert_eq!((first.recorded, first.rejected.len()), (3, 0));
    let period = Period::new(now - Duration::days(1), now + Duration::days(1)).unwrap();
    let stats = || {
        w.roster
            .statistics(&w.founder, w.org, StatsScope::Organization, period)
    };
    let before = stats().await.unwrap();
    assert_eq!(
        (
            before.enrolments,
            before.completions,
            before.time_spent_seconds
        ),
        (1, 1, 1200)
    );

    let retry = w.roster.record_activity(w.org, &batch).await.unwrap();
    assert_eq!(retry.recorded, 0);
    assert_eq!(
        retry.rejected,
        vec![
            (
                0,
                "r-1".to_owned(),
                ActivityError::DuplicateId {
                    id: "r-1".to_owned()
                }
            ),
            (
                1,
                "r-2".to_owned(),
                ActivityError::DuplicateId {
                    id: "r-2".to_owned()
                }
            ),
            (
                2,
                "r-3".to_owned(),
                ActivityError::DuplicateId {
                    id: "r-3".to_owned()
                }
            ),
        ]
    );
    // An old id on a different event is still the same event: not counted.
    let reused = w
        .roster
        .record_activity(w.org, &[event("r-2", &ana, "sql-101", time(9999), now)])
        .await
        .unwrap();
    assert_eq!(reused.recorded, 0);
    assert_eq!(stats().await.unwrap(), before);
}

#[tokio::test]
async fn recording_for_an_unknown_organization_is_not_found() {
    // spec: STAT-1, ERR-1
    let w = World::new().await;
    let ana = w.join("ana", Role::Member, None).await;
    let err = w
        .roster
        .record_activity(
            orgroster::OrganizationId::new(),
            &[event("x-1", &ana, "sql-101", Enrolled, now(&w))],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

// ----- periods --------------------------------------------------------------------------------

#[tokio::test]
async fn periods_out_of_order_or_over_ten_years_are_typed_validation_errors() {
    // spec: STAT-2, ERR-3
    let start = at(1, 12, 0, 0);
    assert!(matches!(
        Period::new(start, start - Duration::days(1)),
        Err(ValidationError::Malformed {
            field: Field::Period,
            ..
        })
    ));
    assert!(matches!(
        Period::new(start, start),
        Err(ValidationError::Malformed {
            field: Field::Period,
            ..
        })
    ));
    assert_eq!(
        Period::new(start, start + Duration::days(3654)),
        Err(ValidationError::TooLong {
            field: Field::Period,
            len: 3654,
            max: 3653
        })
    );
    assert_eq!(
        Period::days_until(start, 3654).unwrap_err().field(),
        Field::Period
    );
    let ten_years = Period::new(start, start + Duration::days(3653)).unwrap();
    assert_eq!(
        (ten_years.from(), ten_years.to()),
        (start, start + Duration::days(3653))
    );
    // The error converts into the roster's own error, as every invalid input does.
    let err: Error = Period::new(start, start).unwrap_err().into();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}

#[test]
fn a_period_read_from_json_is_checked_like_any_other() {
    // spec: ERR-1, ERR-3 — a period deserialized in reverse would otherwise reach the stores.
    let good = serde_json::json!({ "from": "2026-01-12T00:00:00Z", "to": "2026-02-09T00:00:00Z" });
    let period: Period = serde_json::from_value(good).unwrap();
    assert_eq!(period, Period::new(week(1, 12), week(2, 9)).unwrap());
    let reversed =
        serde_json::json!({ "from": "2026-02-09T00:00:00Z", "to": "2026-01-12T00:00:00Z" });
    assert!(serde_json::from_value::<Period>(reversed).is_err());
    let too_long =
        serde_json::json!({ "from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z" });
    assert!(serde_json::from_value::<Period>(too_long).is_err());
}

// ----- statistics at three scopes -------------------------------------------------------------

#[tokio::test]
async fn organization_statistics_count_every_member_once_over_the_period() {
    // spec: STAT-2
    let s = School::new().await;
    let org = s
        .stats(&s.w.founder, StatsScope::Organization)
        .await
        .unwrap();
    assert_eq!(org, s.expected_organization());
    assert_eq!(org.completion_rate(), Some(3.0 / 7.0));
    assert_eq!(org.time_per_active_learner(), Some(1366)); // 8200 / 6, rounded down
}

#[tokio::test]
async fn team_statistics_count_who_belonged_during_the_period_and_nobody_else() {
    // spec: STAT-2, TEAM-4
    let s = School::new().await;
    let red = s
        .stats(&s.w.founder, StatsScope::Team(s.red))
        .await
        .unwrap();
    assert_eq!(red, s.expected_red());
    assert_eq!(red.completion_rate(), Some(0.5));
    assert_eq!(red.time_per_active_learner(), Some(1800)); // 5400 / 3
    let blue = s
        .stats(&s.w.founder, StatsScope::Team(s.blue))
        .await
        .unwrap();
    assert_eq!(blue, s.expected_blue());

    // Before dev joined Blue and after cleo left Red, neither belongs: a period of the
    // last week shows Red without cleo, and a period of the first week Blue without dev.
    let last_week = Period::new(week(2, 2), week(2, 9)).unwrap();
    let red_late =
        s.w.roster
            .statistics(&s.w.founder, s.w.org, StatsScope::Team(s.red), last_week)
            .await
            .unwrap();
    assert_eq!(red_late.members, 3, "ana, ben, sue");
    assert_eq!(red_late.active_learners, 1, "ben");
    let first_week = Period::new(week(1, 12), week(1, 19)).unwrap();
    let blue_early =
        s.w.roster
            .statistics(&s.w.founder, s.w.org, StatsScope::Team(s.blue), first_week)
            .await
            .unwrap();
    assert_eq!(blue_early.members, 1, "ben");
    assert_eq!(
        (blue_early.active_learners, blue_early.enrolments),
        (1, 1),
        "b1 only: d1 is dev's, who was not in Blue yet"
    );
}

#[tokio::test]
async fn member_statistics_hold_only_that_members_events() {
    // spec: STAT-2
    let s = School::new().await;
    let ana = s
        .stats(&s.ana, StatsScope::Member(s.ana.user))
        .await
        .unwrap();
    assert_eq!(ana, s.expected_ana());
    // Administrators see the same figures.
    assert_eq!(
        s.stats(&s.w.founder, StatsScope::Member(s.ana.user))
            .await
            .unwrap(),
        ana
    );
    // An empty period is all zeros, not an error.
    let quiet = Period::new(at(3, 1, 0, 0), at(3, 2, 0, 0)).unwrap();
    let none =
        s.w.roster
            .statistics(&s.ana, s.w.org, StatsScope::Member(s.ana.user), quiet)
            .await
            .unwrap();
    assert_eq!(
        (
            none.active_learners,
            none.enrolments,
            none.completion_rate()
        ),
        (0, 0, None)
    );
    assert!(none.weekly.is_empty() && none.top_courses.is_empty());
    assert_eq!(none.time_per_active_learner(), None);
}

#[tokio::test]
async fn a_member_in_two_teams_counts_in_both_and_once_in_the_organization() {
    // spec: STAT-2, STAT-3, TEAM-4
    let w = World::new().await;
    let (north, south) = (w.team("North").await, w.team("South").await);
    let both = w.join("both", Role::Member, Some(north)).await;
    w.put_in_team(south, both.user).await;
    let now = now(&w);
    w.roster
        .record_activity(
            w.org,
            &[
                event("t-1", &both, "sql-101", Enrolled, now),
                event("t-2", &both, "sql-101", time(600), now),
            ],
        )
        .await
        .unwrap();
    let period = Period::new(now - Duration::days(1), now + Duration::days(1)).unwrap();
    let comparison = w
        .roster
        .compare_teams(&w.founder, w.org, &[north, south], period)
        .await
        .unwrap();
    for (_, name, stats) in &comparison.teams {
        assert_eq!(
            (
                stats.members,
                stats.active_learners,
                stats.enrolments,
                stats.time_spent_seconds
            ),
            (1, 1, 1, 600),
            "{name}"
        );
    }
    let org = comparison.organization.unwrap();
    assert_eq!(org.members, 2, "the founder and the member in two teams");
    assert_eq!(
        (org.active_learners, org.enrolments, org.time_spent_seconds),
        (1, 1, 600)
    );
}

// ----- comparison -----------------------------------------------------------------------------

#[tokio::test]
async fn a_comparison_lists_the_teams_in_order_with_the_organizations_totals() {
    // spec: STAT-3
    let s = School::new().await;
    let comparison =
        s.w.roster
            .compare_teams(&s.max, s.w.org, &[s.blue, s.red], s.period)
            .await
            .unwrap();
    assert_eq!(comparison.period, s.period);
    assert_eq!(
        comparison.teams,
        vec![
            (s.blue, "Blue".to_owned(), s.expected_blue()),
            (s.red, "Red".to_owned(), s.expected_red()),
        ]
    );
    assert_eq!(comparison.organization, Some(s.expected_organization()));
    // The same figures as one scope at a time.
    assert_eq!(
        s.stats(&s.max, StatsScope::Team(s.red)).await.unwrap(),
        s.expected_red()
    );
}

#[tokio::test]
async fn a_supervisor_compares_their_own_team_without_the_organizations_totals() {
    // spec: STAT-2, STAT-3
    let s = School::new().await;
    let own =
        s.w.roster
            .compare_teams(&s.sue, s.w.org, &[s.red], s.period)
            .await
            .unwrap();
    assert_eq!(own.teams, vec![(s.red, "Red".to_owned(), s.expected_red())]);
    assert_eq!(own.organization, None);
    let err =
        s.w.roster
            .compare_teams(&s.sue, s.w.org, &[s.red, s.blue], s.period)
            .await
            .unwrap_err();
    assert_eq!(forbidden(&err), Some(Permission::ViewTeamAnalytics));
}

#[tokio::test]
async fn comparing_an_unknown_team_is_not_found_and_no_team_is_an_empty_comparison() {
    // spec: STAT-3, ERR-1
    let s = School::new().await;
    let err =
        s.w.roster
            .compare_teams(&s.w.founder, s.w.org, &[s.red, TeamId::new()], s.period)
            .await
            .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let empty =
        s.w.roster
            .compare_teams(&s.w.founder, s.w.org, &[], s.period)
            .await
            .unwrap();
    assert!(empty.teams.is_empty());
    assert_eq!(empty.organization, Some(s.expected_organization()));
}

// ----- who sees what --------------------------------------------------------------------------

#[tokio::test]
async fn administrators_and_managers_see_every_scope() {
    // spec: STAT-2, ROLE-1, ADM-2
    let s = School::new().await;
    for who in [&s.w.founder, &s.max] {
        assert_eq!(
            s.stats(who, StatsScope::Organization).await.unwrap(),
            s.expected_organization()
        );
        assert_eq!(
            s.stats(who, StatsScope::Team(s.red)).await.unwrap(),
            s.expected_red()
        );
        assert_eq!(
            s.stats(who, StatsScope::Team(s.blue)).await.unwrap(),
            s.expected_blue()
        );
        assert_eq!(
            s.stats(who, StatsScope::Member(s.ana.user)).await.unwrap(),
            s.expected_ana()
        );
        let (rows, _) = export(&s.w, who, StatsScope::Organization, s.period)
            .await
            .unwrap();
        assert_eq!(rows, 10, "every current member, hal included");
    }
}

#[tokio::test]
async fn a_supervisor_sees_only_the_teams_they_supervise() {
    // spec: STAT-2, TEAM-4, ROLE-4
    let s = School::new().await;
    let before = s.w.snapshot().await;
    assert_eq!(
        s.stats(&s.sue, StatsScope::Team(s.red)).await.unwrap(),
        s.expected_red()
    );
    let denied = [
        (StatsScope::Team(s.blue), Permission::ViewTeamAnalytics),
        (
            StatsScope::Organization,
            Permission::ViewOrganizationAnalytics,
        ),
        (
            StatsScope::Member(s.ana.user),
            Permission::ViewOrganizationAnalytics,
        ),
    ];
    for (scope, permission) in denied {
        let err = s.stats(&s.sue, scope).await.unwrap_err();
        assert_eq!(forbidden(&err), Some(permission), "{scope:?}");
        let err = export(&s.w, &s.sue, scope, s.period).await.unwrap_err();
        assert_eq!(export_forbidden(&err), Some(permission), "{scope:?}");
    }
    // Red's per-member report: ana, ben, cleo (left mid-period) and sue herself.
    let (rows, csv) = export(&s.w, &s.sue, StatsScope::Team(s.red), s.period)
        .await
        .unwrap();
    assert_eq!(rows, 4);
    let mut emails: Vec<String> = parse_csv(&csv)[1..].iter().map(|r| r[0].clone()).collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "ana@example.com",
            "ben@example.com",
            "cleo@example.com",
            "sue@example.com"
        ]
    );
    assert_eq!(s.w.snapshot().await, before);
}

#[tokio::test]
async fn a_member_sees_only_themselves_and_may_download_their_certificates() {
    // spec: STAT-2, ROLE-1, ROLE-4
    let s = School::new().await;
    let before = s.w.snapshot().await;
    assert_eq!(
        s.stats(&s.ana, StatsScope::Member(s.ana.user))
            .await
            .unwrap(),
        s.expected_ana()
    );
    // Ana belongs to Red, which does not let her see Red's figures.
    let denied = [
        (
            StatsScope::Member(s.ben.user),
            Permission::ViewOrganizationAnalytics,
        ),
        (StatsScope::Team(s.red), Permission::ViewTeamAnalytics),
        (StatsScope::Team(s.blue), Permission::ViewTeamAnalytics),
        (
            StatsScope::Organization,
            Permission::ViewOrganizationAnalytics,
        ),
    ];
    for (scope, permission) in denied {
        let err = s.stats(&s.ana, scope).await.unwrap_err();
        assert_eq!(forbidden(&err), Some(permission), "{scope:?}");
        let err = export(&s.w, &s.ana, scope, s.period).await.unwrap_err();
        assert_eq!(export_forbidden(&err), Some(permission), "{scope:?}");
    }
    let err =
        s.w.roster
            .compare_teams(&s.ana, s.w.org, &[s.red], s.period)
            .await
            .unwrap_err();
    assert_eq!(forbidden(&err), Some(Permission::ViewTeamAnalytics));

    // Her own report, with her certificate.
    s.w.roster
        .authorize(&s.ana, s.w.org, HostAction::DownloadOwnCertificates)
        .await
        .unwrap();
    let (rows, csv) = export(&s.w, &s.ana, StatsScope::Member(s.ana.user), s.period)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    assert_eq!(
        csv,
        "email,name,enrolments,completions,certificates,hours spent,last active (UTC)\n\
         ana@example.com,Joiner Tester,1,1,1,1.00,2026-01-20 10:05\n"
    );
    assert_eq!(s.w.snapshot().await, before);
}

#[tokio::test]
async fn someone_outside_the_organization_sees_nothing_not_even_themselves() {
    // spec: STAT-2, ROLE-4
    let s = School::new().await;
    let before = s.w.snapshot().await;
    let outsider = actor("outsider");
    for scope in [
        StatsScope::Organization,
        StatsScope::Team(s.red),
        StatsScope::Member(s.ana.user),
        StatsScope::Member(outsider.user),
    ] {
        let err = s.stats(&outsider, scope).await.unwrap_err();
        assert!(forbidden(&err).is_some(), "{scope:?}: {err:?}");
        let err = export(&s.w, &outsider, scope, s.period).await.unwrap_err();
        assert!(export_forbidden(&err).is_some(), "{scope:?}: {err:?}");
    }
    let err =
        s.w.roster
            .compare_teams(&outsider, s.w.org, &[s.red], s.period)
            .await
            .unwrap_err();
    assert!(forbidden(&err).is_some());
    assert_eq!(s.w.snapshot().await, before);
}

#[tokio::test]
async fn a_removed_supervisor_loses_their_teams_figures_at_once() {
    // spec: STAT-2, ROLE-4
    let s = School::new().await;
    s.stats(&s.sue, StatsScope::Team(s.red)).await.unwrap();
    s.w.roster
        .remove_team_member(&s.w.founder, s.w.org, s.red, s.sue.user)
        .await
        .unwrap();
    let err = s.stats(&s.sue, StatsScope::Team(s.red)).await.unwrap_err();
    assert_eq!(forbidden(&err), Some(Permission::ViewTeamAnalytics));
}

// ----- reports --------------------------------------------------------------------------------

#[tokio::test]
async fn the_comparison_report_has_one_row_per_team_and_the_organizations_totals() {
    // spec: STAT-4, STAT-3
    let s = School::new().await;
    let comparison =
        s.w.roster
            .compare_teams(&s.w.founder, s.w.org, &[s.red, s.blue], s.period)
            .await
            .unwrap();
    let mut out = Vec::new();
    report::write_comparison(&comparison, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "team,invited,members,active learners,enrolments,completions,completion rate %,\
         certificates,hours spent,minutes per active learner,top course\n\
         Red,1,4,3,4,2,50.0,1,1.5,30,sql-101\n\
         Blue,0,2,2,2,1,50.0,0,0.7,20,rust-201\n\
         (organization),1,9,6,7,3,42.9,1,2.3,22,sql-101\n"
    );
    let records = parse_csv(&text);
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.len() == 11));

    // A supervisor's comparison has no organization row.
    let own =
        s.w.roster
            .compare_teams(&s.sue, s.w.org, &[s.red], s.period)
            .await
            .unwrap();
    let mut out = Vec::new();
    report::write_comparison(&own, &mut out).unwrap();
    let records = parse_csv(&String::from_utf8(out).unwrap());
    assert_eq!(records.len(), 2);
    assert_eq!(records[1][0], "Red");
}

#[tokio::test]
async fn the_per_member_report_has_a_row_for_every_member_in_scope() {
    // spec: STAT-4, TEAM-4
    let s = School::new().await;
    let (rows, csv) = export(&s.w, &s.w.founder, StatsScope::Organization, s.period)
        .await
        .unwrap();
    assert_eq!(rows, 10);
    let records = parse_csv(&csv);
    assert_eq!(records.len(), 11);
    let row = |email: &str| {
        records
            .iter()
            .find(|r| r[0] == email)
            .unwrap_or_else(|| panic!("{email} is in the report"))
            .join("|")
    };
    assert_eq!(
        row("ben@example.com"),
        "ben@example.com|Joiner Tester|2|1|0|0.50|2026-02-03 10:00"
    );
    assert_eq!(
        row("eve@example.com"),
        "eve@example.com|Joiner Tester|1|0|0|0.28|2026-01-22 11:00"
    );
    assert_eq!(
        row("hal@example.com"),
        "hal@example.com|Joiner Tester|0|0|0|0.00|"
    );
    assert_eq!(
        row("founder@example.com"),
        "founder@example.com|Maya Founder|0|0|0|0.00|"
    );

    // Blue's report: ben and dev, not fay who left before the period.
    let (rows, csv) = export(&s.w, &s.max, StatsScope::Team(s.blue), s.period)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    let mut emails: Vec<String> = parse_csv(&csv)[1..].iter().map(|r| r[0].clone()).collect();
    emails.sort();
    assert_eq!(emails, ["ben@example.com", "dev@example.com"]);
    let (_, csv) = export(&s.w, &s.max, StatsScope::Member(s.dev.user), s.period)
        .await
        .unwrap();
    assert_eq!(
        csv.lines().nth(1),
        Some("dev@example.com,Joiner Tester,1,0,0,0.17,2026-02-04 10:00")
    );
}

#[tokio::test]
async fn report_cells_are_quoted_and_formulas_are_defused() {
    // spec: STAT-4, ERR-3
    let w = World::new().await;
    let names = ["Sales, \"EMEA\"", "=cmd", "+1", "-1", "@x", "=SUM(A1,B1)"];
    let mut teams = Vec::new();
    for name in names {
        teams.push(w.team(name).await);
    }
    let now = now(&w);
    let period = Period::new(now - Duration::days(7), now + Duration::days(1)).unwrap();
    let comparison = w
        .roster
        .compare_teams(&w.founder, w.org, &teams, period)
        .await
        .unwrap();
    let mut out = Vec::new();
    report::write_comparison(&comparison, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[1..7],
        [
            "\"Sales, \"\"EMEA\"\"\",0,0,0,0,0,,0,0.0,,",
            "'=cmd,0,0,0,0,0,,0,0.0,,",
            "'+1,0,0,0,0,0,,0,0.0,,",
            "'-1,0,0,0,0,0,,0,0.0,,",
            "'@x,0,0,0,0,0,,0,0.0,,",
            "\"'=SUM(A1,B1)\",0,0,0,0,0,,0,0.0,,",
        ]
    );
    // Read back, the names are whole again (with the defusing quote).
    let records = parse_csv(&text);
    let read: Vec<&str> = records[1..7].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        read,
        [
            "Sales, \"EMEA\"",
            "'=cmd",
            "'+1",
            "'-1",
            "'@x",
            "'=SUM(A1,B1)"
        ]
    );

    // Learners' names go through the same cells.
    for (i, first) in ["=cmd", "+1", "-1", "@x", "Ada, \"the\""]
        .iter()
        .enumerate()
    {
        join_named(&w, &format!("p{i}"), first, "Tester").await;
    }
    let (_, csv) = export(&w, &w.founder, StatsScope::Organization, period)
        .await
        .unwrap();
    let mut names: Vec<String> = parse_csv(&csv)[1..].iter().map(|r| r[1].clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "'+1 Tester",
            "'-1 Tester",
            "'=cmd Tester",
            "'@x Tester",
            "Ada, \"the\" Tester",
            "Maya Founder"
        ]
    );
    assert!(csv.contains("\"Ada, \"\"the\"\" Tester\""), "{csv}");
}

/// A writer that notes how many lines it had taken at each flush: the export flushes once per
/// page it writes.
#[derive(Default)]
struct PageCounter {
    text: Vec<u8>,
    lines_at_flush: Vec<usize>,
}

impl std::io::Write for PageCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let lines = self.text.iter().filter(|b| **b == b'\n').count();
        self.lines_at_flush.push(lines);
        Ok(())
    }
}

#[tokio::test]
async fn exporting_1200_members_streams_them_in_pages_of_500() {
    // spec: STAT-4
    let w = World::new().await;
    // 1,199 members written straight to the store (the founder is the 1,200th).
    let organization = w.store.organization(w.org).await.unwrap().unwrap();
    let mut changes = ChangeSet::new(
        w.org,
        OrganizationWrite::Touch {
            expected_version: organization.version,
        },
    );
    let mut some = Vec::new();
    for n in 0..1199 {
        let member = Member {
            id: MemberId::new(),
            organization: w.org,
            user: UserId::new(),
            email: EmailAddress::parse(format!("m{n}@example.com")).unwrap(),
            profile: profile("Many", "Member"),
            roles: RoleSet::learner(),
            joined_at: organization.created_at,
            invitation: None,
            version: 0,
        };
        if n % 100 == 0 {
            some.push(member.user);
        }
        changes.writes.push(Write::PutMember(member));
    }
    w.store.commit(changes).await.unwrap();
    let now = now(&w);
    let events: Vec<ReportedActivity> = some
        .iter()
        .enumerate()
        .map(|(i, user)| ReportedActivity {
            id: format!("bulk-{i}"),
            user: *user,
            course: "sql-101".to_owned(),
            kind: Enrolled,
            at: now,
        })
        .collect();
    let receipt = w.roster.record_activity(w.org, &events).await.unwrap();
    assert_eq!(receipt.recorded, 12);

    let period = Period::days_until(now + Duration::days(1), 30).unwrap();
    let mut out = PageCounter::default();
    let rows = w
        .roster
        .export_member_activity(
            &w.founder,
            w.org,
            StatsScope::Organization,
            period,
            &mut out,
        )
        .await
        .unwrap();
    assert_eq!(rows, 1200);
    // Three pages: the header and 500 rows, 500 more, the last 200.
    assert_eq!(out.lines_at_flush, [501, 1001, 1201]);
    let text = String::from_utf8(out.text).unwrap();
    let records = parse_csv(&text);
    assert_eq!(records.len(), 1201);
    assert_eq!(records[0][0], "email");
    let mut emails: Vec<&str> = records[1..].iter().map(|r| r[0].as_str()).collect();
    emails.sort_unstable();
    emails.dedup();
    assert_eq!(emails.len(), 1200, "no member twice, none left out");
    let enrolled: u64 = records[1..]
        .iter()
        .map(|r| r[2].parse::<u64>().unwrap())
        .sum();
    assert_eq!(enrolled, 12);
}

#[tokio::test]
async fn the_report_of_a_team_without_members_is_its_header_alone() {
    // spec: STAT-4
    let w = World::new().await;
    let empty = w.team("Empty").await;
    let period = Period::days_until(now(&w), 30).unwrap();
    let (rows, csv) = export(&w, &w.founder, StatsScope::Team(empty), period)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(
        csv,
        "email,name,enrolments,completions,certificates,hours spent,last active (UTC)\n"
    );
}

// ----- team scope is time in the team ---------------------------------------------------------

#[tokio::test]
async fn a_supervisor_who_adds_a_member_for_a_second_sees_nothing_of_their_history() {
    // spec: TEAM-4, STAT-2, STAT-3, STAT-4
    let w = World::new().await;
    let red = w.team("Red").await;
    let sue = w.join("sue", Role::TeamSupervisor, Some(red)).await;
    let vic = w.join("vic", Role::Member, None).await;
    // Vic's history: weeks before and after the second she spends in Red.
    w.roster
        .record_activity(
            w.org,
            &[
                event("v1", &vic, "sql-101", Enrolled, at(1, 6, 10, 0)),
                event("v2", &vic, "sql-101", time(3600), at(1, 8, 10, 0)),
                event("v3", &vic, "sql-101", Completed, at(2, 20, 10, 0)),
            ],
        )
        .await
        .unwrap();
    w.clock.set(at(2, 1, 9, 0));
    w.roster
        .add_team_member(&sue, w.org, red, vic.user)
        .await
        .unwrap();
    w.advance(Duration::seconds(1));
    w.roster
        .remove_team_member(&sue, w.org, red, vic.user)
        .await
        .unwrap();
    let period = Period::new(at(1, 1, 0, 0), at(3, 1, 0, 0)).unwrap();

    let stats = w
        .roster
        .statistics(&sue, w.org, StatsScope::Team(red), period)
        .await
        .unwrap();
    assert_eq!(stats.members, 2, "sue and, for a second, vic");
    assert_eq!(
        (
            stats.active_learners,
            stats.enrolments,
            stats.completions,
            stats.time_spent_seconds
        ),
        (0, 0, 0, 0),
        "none of vic's events happened in Red"
    );
    assert!(stats.top_courses.is_empty() && stats.weekly.is_empty());
    let comparison = w
        .roster
        .compare_teams(&sue, w.org, &[red], period)
        .await
        .unwrap();
    assert_eq!(comparison.teams[0].2, stats);
    let (rows, csv) = export(&w, &sue, StatsScope::Team(red), period)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    let vic_row = parse_csv(&csv)
        .into_iter()
        .find(|r| r[0] == "vic@example.com")
        .unwrap();
    assert_eq!(vic_row[2..], ["0", "0", "0", "0.00", ""], "{csv}");
}

// ----- comparison bounds ----------------------------------------------------------------------

#[tokio::test]
async fn comparing_no_team_is_forbidden_to_those_who_see_no_teams_figures() {
    // spec: ROLE-4, STAT-2, STAT-3
    let s = School::new().await;
    let before = s.w.snapshot().await;
    for who in [&actor("outsider"), &s.ana] {
        let err =
            s.w.roster
                .compare_teams(who, s.w.org, &[], s.period)
                .await
                .unwrap_err();
        assert_eq!(forbidden(&err), Some(Permission::ViewTeamAnalytics));
    }
    // A supervisor sees their own team's figures: an empty comparison is theirs to ask.
    let empty =
        s.w.roster
            .compare_teams(&s.sue, s.w.org, &[], s.period)
            .await
            .unwrap();
    assert!(empty.teams.is_empty() && empty.organization.is_none());
    assert_eq!(s.w.snapshot().await, before);
}

#[tokio::test]
async fn a_comparison_holds_at_most_100_teams_and_each_team_once_in_first_order() {
    // spec: STAT-3, ERR-3
    let s = School::new().await;
    let too_many: Vec<TeamId> = (0..=orgroster::MAX_COMPARED_TEAMS)
        .map(|_| TeamId::new())
        .collect();
    let err =
        s.w.roster
            .compare_teams(&s.w.founder, s.w.org, &too_many, s.period)
            .await
            .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Invalid(ValidationError::TooMany {
                field: Field::Teams,
                count: 101,
                max: 100
            })
        ),
        "{err:?}"
    );
    // An outsider learns nothing about the bound: the permission comes first.
    let err =
        s.w.roster
            .compare_teams(&actor("outsider"), s.w.org, &too_many, s.period)
            .await
            .unwrap_err();
    assert_eq!(forbidden(&err), Some(Permission::ViewTeamAnalytics));

    // Duplicates are folded, keeping the first order.
    let comparison =
        s.w.roster
            .compare_teams(
                &s.w.founder,
                s.w.org,
                &[s.blue, s.red, s.blue, s.red],
                s.period,
            )
            .await
            .unwrap();
    let order: Vec<TeamId> = comparison.teams.iter().map(|(t, _, _)| *t).collect();
    assert_eq!(order, [s.blue, s.red]);
    assert_eq!(comparison.teams[0].2, s.expected_blue());

    // 100 teams, named 101 times: folded first, then within the bound.
    let mut teams = vec![s.red, s.blue];
    for n in 0..98 {
        teams.push(s.w.team(&format!("Extra {n}")).await);
    }
    teams.push(s.red);
    let comparison =
        s.w.roster
            .compare_teams(&s.w.founder, s.w.org, &teams, s.period)
            .await
            .unwrap();
    assert_eq!(comparison.teams.len(), 100);
    assert_eq!(comparison.teams[0].2, s.expected_red());
}
