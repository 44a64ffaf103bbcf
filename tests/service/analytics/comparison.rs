//! Comparing teams side by side with the organization's totals, who may compare, and the
//! bounds of a comparison (STAT-3).

use orgroster::{Error, Field, Permission, StatsScope, TeamId, ValidationError};

use crate::fixture::actor;

use super::{School, forbidden};

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
