//! Learning activity and the statistics made from it: recording batches with good and bad
//! events, periods, the three scopes with figures worked out by hand, team comparison, who may
//! see what, and the CSV reports.
//!
//! Most tests share one small school (`School::new`), whose every figure is written out
//! literally below; the comments next to each number say which events make it.

//!
//! By area: recording activity and periods (`recording.rs`), statistics at the three scopes
//! and who sees which (`statistics.rs`), comparing teams (`comparison.rs`), and the CSV
//! reports (`reports.rs`).

mod comparison;
mod recording;
mod reports;
mod statistics;

use chrono::{DateTime, TimeZone, Utc};
use orgroster::{
    AcceptOptions, Actor, Clock, CourseCount, CourseId, Error, Period, Permission, ReportError,
    ReportedActivity, ReportedKind, Role, Statistics, StatsScope, TeamId, WeekStats,
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
            AcceptOptions::new(profile(first, last)),
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

use ReportedKind::{CertificateEarned as Certificate, Completed, Enrolled};
