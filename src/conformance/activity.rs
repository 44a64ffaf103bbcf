//! Learning activity: statistics against a reference, and team stints.

use super::fixtures::*;

/// spec: STAT-1, STAT-2, TEAM-4 — recording is idempotent per event id, and the statistics
/// of every scope equal the reference computation ([`Tally`](crate::domain::activity::Tally)), including members who joined
/// or left a team during the period and a member in two teams.
pub async fn activity_statistics_match_the_reference(store: Arc<DynStore>) {
    use crate::domain::activity::{Activity, ActivityKind, Period, StatsScope, Tally};
    let org = stored_org(&*store).await;
    let base = t0();
    let (red, blue) = (new_team(org.id, "Red"), new_team(org.id, "Blue"));
    let people: Vec<Member> = (0..4)
        .map(|i| new_member(org.id, email(&format!("s{i}"), org.id)))
        .collect();
    let mut writes = vec![Write::PutTeam(red.clone()), Write::PutTeam(blue.clone())];
    writes.extend(people.iter().cloned().map(Write::PutMember));
    put(&*store, org.id, writes).await.unwrap();
    // Stints: p0 in Red (but for two days); p1 in Red and Blue; p2 joins Blue on day 10; p3
    // leaves Red on day 5 (a member of Red in a period that overlaps, with only the events
    // before day 5 counted for it: spec: TEAM-4).
    let day = |d: i64| base + Duration::days(d);
    let stint = |team: &Team, m: &Member, at| Write::AddTeamMember {
        team: team.id,
        member: m.id,
        at,
    };
    let leave = |team: &Team, m: &Member, at| Write::RemoveTeamMember {
        team: team.id,
        member: m.id,
        at,
    };
    put(
        &*store,
        org.id,
        vec![
            stint(&red, &people[0], day(-30)),
            stint(&red, &people[1], day(-30)),
            stint(&blue, &people[1], day(-30)),
            stint(&red, &people[3], day(-30)),
        ],
    )
    .await
    .unwrap();
    put(
        &*store,
        org.id,
        vec![
            stint(&blue, &people[2], day(10)),
            leave(&red, &people[3], day(5)),
        ],
    )
    .await
    .unwrap();
    // p0 leaves Red on day 12 and comes back on day 14: two stints in the period, counted once.
    put(&*store, org.id, vec![leave(&red, &people[0], day(12))])
        .await
        .unwrap();
    put(&*store, org.id, vec![stint(&red, &people[0], day(14))])
        .await
        .unwrap();
    let invite_red = Invitation {
        team: Some(red.id),
        ..new_invitation(org.id, email("inv", org.id), day(2))
    };
    put(&*store, org.id, vec![Write::PutInvitation(invite_red)])
        .await
        .unwrap();

    let kinds = [
        ActivityKind::Enrolled,
        ActivityKind::Progress { percent: 40 },
        ActivityKind::TimeSpent { seconds: 1800 },
        ActivityKind::Completed,
        ActivityKind::CertificateEarned,
    ];
    let courses = [
        "sql-101", "rust-201", "Zeta", "alpha", "b-course", "c-course",
    ];
    let mut events = Vec::new();
    for n in 0..120_i64 {
        let who = &people[(n % 4) as usize];
        events.push(Activity {
            id: crate::domain::text::ActivityId::parse(format!("{}-{n}", org.id)).unwrap(),
            organization: org.id,
            user: who.user,
            course: crate::CourseId::parse(courses[(n % 6) as usize]).unwrap(),
            kind: kinds[(n % 5) as usize],
            at: day(-3) + Duration::hours(n * 7),
        });
    }
    let new = store.record_activities(org.id, &events).await.unwrap();
    assert_eq!(
        new,
        Recorded::New(vec![true; events.len()]),
        "first time: all new"
    );
    let again = store
        .record_activities(org.id, &events[..10])
        .await
        .unwrap();
    assert_eq!(
        again,
        Recorded::New(vec![false; 10]),
        "a retried batch never counts twice"
    );

    let period = Period::new(day(0), day(28)).unwrap();
    // Each team's stints as (member, from day, to day), as written above.
    let in_team = |team: &Team, e: &Activity| -> bool {
        let stints: &[(usize, i64, i64)] = if team.id == red.id {
            &[
                (0, -30, 12),
                (0, 14, i64::MAX),
                (1, -30, i64::MAX),
                (3, -30, 5),
            ]
        } else {
            &[(1, -30, i64::MAX), (2, 10, i64::MAX)]
        };
        stints.iter().any(|(i, from, to)| {
            people[*i].user == e.user && day(*from) <= e.at && (*to == i64::MAX || e.at < day(*to))
        })
    };
    let reference = |keep: &dyn Fn(&Activity) -> bool, invited: u64, members: u64| {
        let mut tally = Tally::default();
        for e in events.iter().filter(|e| period.contains(e.at) && keep(e)) {
            tally.add(e);
        }
        tally.finish(period, invited, members)
    };
    let org_stats = stats_of(&*store, org.id, StatsScope::Organization, period).await;
    assert_eq!(org_stats, reference(&|_| true, 1, 4));
    let red_stats = stats_of(&*store, org.id, StatsScope::Team(red.id), period).await;
    assert_eq!(red_stats, reference(&|e| in_team(&red, e), 1, 3));
    let blue_stats = stats_of(&*store, org.id, StatsScope::Team(blue.id), period).await;
    assert_eq!(blue_stats, reference(&|e| in_team(&blue, e), 0, 2));
    let member = StatsScope::Member(people[2].user);
    let one = stats_of(&*store, org.id, member, period).await;
    assert_eq!(one, reference(&|e| e.user == people[2].user, 0, 1));
    assert!(org_stats.weekly.len() >= 4 && org_stats.top_courses.len() == 5);
    // Several teams at once: the same figures, in the order asked, a repeated team and an
    // unknown one included (spec: STAT-3); other scopes among them too.
    let unknown = crate::TeamId::new();
    let side_by_side = store
        .statistics(
            org.id,
            &[
                StatsScope::Team(blue.id),
                StatsScope::Team(red.id),
                StatsScope::Organization,
                StatsScope::Team(blue.id),
                member,
                StatsScope::Team(unknown),
            ],
            period,
        )
        .await
        .unwrap();
    assert_eq!(
        side_by_side,
        vec![
            blue_stats.clone(),
            red_stats.clone(),
            org_stats.clone(),
            blue_stats.clone(),
            one.clone(),
            Tally::default().finish(period, 0, 0),
        ]
    );
    assert!(
        store
            .statistics(org.id, &[], period)
            .await
            .unwrap()
            .is_empty()
    );

    // Per-member rows, paged, in member-id order.
    let mut rows = store
        .member_activity(org.id, StatsScope::Organization, period, Page::first(3))
        .await
        .unwrap();
    let last = rows.last().unwrap().member;
    rows.extend(
        store
            .member_activity(
                org.id,
                StatsScope::Organization,
                period,
                Page::after(last, 3),
            )
            .await
            .unwrap(),
    );
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let mine = reference(&|e| e.user == row.user, 0, 1);
        assert_eq!(
            (
                row.enrolments,
                row.completions,
                row.certificates,
                row.time_spent_seconds
            ),
            (
                mine.enrolments,
                mine.completions,
                mine.certificates,
                mine.time_spent_seconds
            )
        );
        let last_active = events
            .iter()
            .filter(|e| e.user == row.user && period.contains(e.at))
            .map(|e| e.at)
            .max();
        assert_eq!(row.last_active, last_active);
    }
    let blue_rows = store
        .member_activity(org.id, StatsScope::Team(blue.id), period, Page::first(10))
        .await
        .unwrap();
    let mut blue_users: Vec<_> = blue_rows.iter().map(|r| r.user).collect();
    blue_users.sort();
    let mut expected = vec![people[1].user, people[2].user];
    expected.sort();
    assert_eq!(blue_users, expected);
}

/// spec: TEAM-4 — a member's stints in a team never overlap, even when the instances that
/// wrote them disagree about the time: one removes the member at day 20 by its clock,
/// another adds them back at day 15 by its own. An event of day 17 is counted once, and
/// closing a stint never ends it before it began.
pub async fn stints_never_overlap_whatever_the_clocks(store: Arc<DynStore>) {
    use crate::domain::activity::{Activity, ActivityKind, Period, StatsScope};
    let org = stored_org(&*store).await;
    let day = |d: i64| t0() + Duration::days(d);
    let blue = new_team(org.id, "Blue");
    let m = new_member(org.id, email("skewed", org.id));
    let writes = vec![Write::PutTeam(blue.clone()), Write::PutMember(m.clone())];
    put(&*store, org.id, writes).await.unwrap();
    for (join, at) in [
        (true, day(10)),
        (false, day(20)),
        (true, day(15)),
        (false, day(25)),
    ] {
        let step = if join {
            Write::AddTeamMember {
                team: blue.id,
                member: m.id,
                at,
            }
        } else {
            Write::RemoveTeamMember {
                team: blue.id,
                member: m.id,
                at,
            }
        };
        put(&*store, org.id, vec![step]).await.unwrap();
    }
    let event = |n: u8, at| Activity {
        id: crate::domain::text::ActivityId::parse(format!("{}-skew{n}", org.id)).unwrap(),
        organization: org.id,
        user: m.user,
        course: crate::CourseId::parse("sql-101").unwrap(),
        kind: ActivityKind::Completed,
        at,
    };
    // The second stint opened when the first closed (day 20), not on day 15: day 17 lies in
    // the first stint only, day 21 in the second.
    let events = [event(1, day(17)), event(2, day(21))];
    store.record_activities(org.id, &events).await.unwrap();
    let period = Period::new(day(0), day(28)).unwrap();
    let stats = stats_of(&*store, org.id, StatsScope::Team(blue.id), period).await;
    assert_eq!(stats.completions, 2, "{stats:?}");
    // Compared with another team, in the one pass over the period's events (spec: STAT-3).
    let other = StatsScope::Team(TeamId::new());
    let compared = store
        .statistics(org.id, &[StatsScope::Team(blue.id), other], period)
        .await
        .unwrap();
    assert_eq!(compared[0].completions, 2, "{compared:?}");
}

/// Team figures count a member's events only while they were in the team, clipped to the
/// period: the events before, after and between their stints are not the team's, a stint
/// that ended the moment it began makes no member, and an open stint counts up to the end
/// of the period (spec: TEAM-4, STAT-2, STAT-3, STAT-4).
pub async fn team_figures_count_only_time_in_the_team(store: Arc<DynStore>) {
    use crate::domain::activity::{Activity, ActivityKind, Period, StatsScope, Tally};
    let org = stored_org(&*store).await;
    let day = |d: i64| t0() + Duration::days(d);
    let red = new_team(org.id, "Red");
    // x: one hour in Red on day 10; y: two stints; z: in Red from day 18 on; w: added and
    // removed at the same instant.
    let [x, y, z, w]: [Member; 4] =
        ["x", "y", "z", "w"].map(|l| new_member(org.id, email(l, org.id)));
    let mut writes = vec![Write::PutTeam(red.clone())];
    writes.extend([&x, &y, &z, &w].map(|m| Write::PutMember(m.clone())));
    put(&*store, org.id, writes).await.unwrap();
    let join = |m: &Member, at| Write::AddTeamMember {
        team: red.id,
        member: m.id,
        at,
    };
    let leave = |m: &Member, at| Write::RemoveTeamMember {
        team: red.id,
        member: m.id,
        at,
    };
    let short = day(10) + Duration::hours(12);
    for step in [
        join(&y, day(-30)),
        leave(&y, day(8)),
        join(&x, short),
        leave(&x, short + Duration::hours(1)),
        join(&w, day(11)),
        leave(&w, day(11)),
        join(&z, day(18)),
        join(&y, day(20)),
    ] {
        put(&*store, org.id, vec![step]).await.unwrap();
    }
    let mut n = 0;
    let mut event = |m: &Member, kind, at| {
        n += 1;
        Activity {
            id: crate::domain::text::ActivityId::parse(format!("{}-t{n}", org.id)).unwrap(),
            organization: org.id,
            user: m.user,
            course: crate::CourseId::parse(if n % 2 == 0 { "sql-101" } else { "rust-201" })
                .unwrap(),
            kind,
            at,
        }
    };
    let enrolled = ActivityKind::Enrolled;
    let completed = ActivityKind::Completed;
    let seconds = |s| ActivityKind::TimeSpent { seconds: s };
    // (event, counted for Red)
    let events = [
        (event(&x, completed, day(5)), false),
        (event(&x, enrolled, short), true),
        (event(&x, seconds(600), short + Duration::minutes(30)), true),
        (event(&x, completed, short + Duration::hours(1)), false),
        (event(&x, seconds(7200), day(15)), false),
        (event(&y, enrolled, day(3)), true),
        (event(&y, seconds(900), day(12)), false),
        (event(&y, completed, day(25)), true),
        (event(&z, completed, day(2)), false),
        (event(&z, seconds(300), day(19)), true),
        (event(&w, enrolled, day(11)), false),
        (event(&w, seconds(60), day(13)), false),
    ];
    let all: Vec<Activity> = events.iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(
        store.record_activities(org.id, &all).await.unwrap(),
        Recorded::New(vec![true; all.len()])
    );
    let period = Period::new(day(0), day(28)).unwrap();
    let red_stats = stats_of(&*store, org.id, StatsScope::Team(red.id), period).await;
    // Pinned: x, y and z were members of Red in the period, w never for a moment.
    assert_eq!(
        (
            red_stats.members,
            red_stats.active_learners,
            red_stats.enrolments,
            red_stats.completions,
            red_stats.time_spent_seconds
        ),
        (3, 3, 2, 1, 900)
    );
    let mut tally = Tally::default();
    for (e, _) in events.iter().filter(|(_, counted)| *counted) {
        tally.add(e);
    }
    assert_eq!(red_stats, tally.finish(period, 0, 3));
    let beside = StatsScope::Team(TeamId::new());
    assert_eq!(
        store
            .statistics(org.id, &[StatsScope::Team(red.id), beside], period)
            .await
            .unwrap(),
        vec![red_stats.clone(), Tally::default().finish(period, 0, 0)],
        "a comparison counts what the team's figures count"
    );
    let rows = store
        .member_activity(org.id, StatsScope::Team(red.id), period, Page::first(10))
        .await
        .unwrap();
    let mut got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.user,
                r.enrolments,
                r.completions,
                r.time_spent_seconds,
                r.last_active,
            )
        })
        .collect();
    got.sort();
    let mut expected = vec![
        (x.user, 1, 0, 600, Some(short + Duration::minutes(30))),
        (y.user, 1, 1, 0, Some(day(25))),
        (z.user, 0, 0, 300, Some(day(19))),
    ];
    expected.sort();
    assert_eq!(got, expected, "the export counts what the figures count");

    // A period that holds only x's hour in Red: x is its one member, with the hour's events.
    let hour = Period::new(short, short + Duration::hours(1)).unwrap();
    let stats = stats_of(&*store, org.id, StatsScope::Team(red.id), hour).await;
    assert_eq!(
        (
            stats.members,
            stats.active_learners,
            stats.enrolments,
            stats.time_spent_seconds
        ),
        (1, 1, 1, 600)
    );
    // A period between y's stints, after x left and before z joined: nobody.
    let gap = Period::new(day(16), day(17)).unwrap();
    assert_eq!(
        stats_of(&*store, org.id, StatsScope::Team(red.id), gap).await,
        Tally::default().finish(gap, 0, 0)
    );
}
