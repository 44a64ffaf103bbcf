//! Statistics at the three scopes — organization, team, member — worked out by hand on the
//! school (STAT-2, TEAM-4), who sees which (STAT-2, ROLE-4), and a team's figures counting a
//! member only while they were in the team (TEAM-4).

use chrono::Duration;
use orgroster::{HostAction, Period, Permission, Role, StatsScope};

use crate::fixture::{World, actor};

use super::{
    Completed, Enrolled, School, at, event, export, export_forbidden, forbidden, now, parse_csv,
    time, week,
};

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
