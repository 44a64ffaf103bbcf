//! Teams: administrators create them and set their pages (TEAM-1, TEAM-2), a Team Supervisor
//! manages only the teams they supervise (TEAM-3), and team data stays within the team
//! (TEAM-4).

use std::collections::BTreeSet;

use orgroster::{
    CourseId, EntityKind, Error, HostAction, MemberFilter, Page, Permission, Role,
    SuggestedCourses, TeamPage, UserId,
};

use crate::fixture::{World, actor, message, team_name};

#[tokio::test]
async fn teams_have_a_page_with_a_message_and_an_ordered_list_of_suggested_courses() {
    // spec: TEAM-1, TEAM-2
    let w = World::new().await;
    let sales = w
        .roster
        .create_team(&w.founder, w.org, team_name("Sales EMEA"))
        .await
        .unwrap();
    assert_eq!(sales.page, TeamPage::default());
    let support = w.team("Support").await;
    let renamed = w
        .roster
        .rename_team(&w.founder, w.org, sales.id, team_name("Sales Europe"))
        .await
        .unwrap();
    assert_eq!(renamed.name.as_str(), "Sales Europe");

    let page = TeamPage {
        message: Some(message(
            "Welcome to Sales Europe!\nStart with the negotiation course.",
        )),
        suggested_courses: SuggestedCourses::parse(["negotiation-201", "crm-101", "excel-basics"])
            .unwrap(),
    };
    w.roster
        .set_team_page(&w.founder, w.org, sales.id, page.clone())
        .await
        .unwrap();
    let seen = w.roster.team(&w.founder, w.org, sales.id).await.unwrap();
    assert_eq!(seen.page, page);
    let order: Vec<&str> = seen
        .page
        .suggested_courses
        .as_slice()
        .iter()
        .map(CourseId::as_str)
        .collect();
    assert_eq!(order, ["negotiation-201", "crm-101", "excel-basics"]);

    // The order is the administrator's, not alphabetical.
    let reordered = TeamPage {
        suggested_courses: SuggestedCourses::parse(["excel-basics", "negotiation-201"]).unwrap(),
        ..page.clone()
    };
    let updated = w
        .roster
        .set_team_page(&w.founder, w.org, sales.id, reordered.clone())
        .await
        .unwrap();
    assert_eq!(updated.page, reordered);

    // A member may belong to several teams and sees their team's page.
    let ada = w.join("ada", Role::Member, Some(sales.id)).await;
    w.put_in_team(support, ada.user).await;
    let ada_member = w.member(ada.user).await.unwrap();
    assert_eq!(w.team_member_ids(sales.id).await, [ada_member.id]);
    assert_eq!(w.team_member_ids(support).await, [ada_member.id]);
    assert_eq!(
        w.roster.team(&ada, w.org, sales.id).await.unwrap().page,
        reordered
    );

    // Deleting a team keeps its members in the organization.
    w.roster
        .delete_team(&w.founder, w.org, support)
        .await
        .unwrap();
    assert!(w.member(ada.user).await.is_some());
    let teams = w
        .roster
        .teams(&w.founder, w.org, Page::default())
        .await
        .unwrap();
    assert_eq!(
        teams.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        [sales.id]
    );
    let err = w.roster.team(&w.founder, w.org, support).await.unwrap_err();
    assert!(matches!(
        err,
        Error::NotFound {
            entity: EntityKind::Team
        }
    ));
}

#[tokio::test]
async fn a_team_supervisor_manages_only_the_members_and_page_of_the_teams_they_supervise() {
    // spec: TEAM-3, ROLE-1
    let w = World::new().await;
    let a = w.team("A").await;
    let b = w.team("B").await;
    let sue = w.join("sue", Role::TeamSupervisor, Some(a)).await;
    let lee = w.join("lee", Role::Member, None).await;
    let lee_id = w.member(lee.user).await.unwrap().id;
    let stranger = actor("stranger");

    w.roster
        .add_team_member(&sue, w.org, a, lee.user)
        .await
        .unwrap();
    assert!(w.team_member_ids(a).await.contains(&lee_id));

    let before = w.snapshot().await;
    let err = w
        .roster
        .add_team_member(&sue, w.org, b, lee.user)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::ManageTeamMembers
        }
    ));
    let err = w
        .roster
        .add_team_member(&sue, w.org, a, stranger.user)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                entity: EntityKind::Member
            }
        ),
        "members must already belong to the organization: {err:?}"
    );
    let page = TeamPage {
        message: Some(message("Team B news")),
        suggested_courses: SuggestedCourses::default(),
    };
    let err = w
        .roster
        .set_team_page(&sue, w.org, b, page.clone())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::EditTeamPage
        }
    ));
    for forbidden in [
        w.roster
            .create_team(&sue, w.org, team_name("C"))
            .await
            .map(drop),
        w.roster
            .rename_team(&sue, w.org, a, team_name("Mine"))
            .await
            .map(drop),
        w.roster.delete_team(&sue, w.org, a).await.map(drop),
    ] {
        assert!(matches!(
            forbidden,
            Err(Error::Forbidden {
                permission: Permission::ManageTeams
            })
        ));
    }
    let err = w
        .roster
        .authorize(&sue, w.org, HostAction::ViewTeamAnalytics(b))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    assert_eq!(w.snapshot().await, before);

    // Their own team: page, suggestions, analytics, members.
    let own_page = TeamPage {
        message: Some(message("Team A: this month, SQL.")),
        suggested_courses: SuggestedCourses::parse(["sql-101", "sql-201"]).unwrap(),
    };
    w.roster
        .set_team_page(&sue, w.org, a, own_page.clone())
        .await
        .unwrap();
    assert_eq!(w.roster.team(&sue, w.org, a).await.unwrap().page, own_page);
    w.roster
        .authorize(&sue, w.org, HostAction::ViewTeamAnalytics(a))
        .await
        .unwrap();
    w.roster
        .remove_team_member(&sue, w.org, a, lee.user)
        .await
        .unwrap();
    assert!(!w.team_member_ids(a).await.contains(&lee_id));
    assert!(
        w.member(lee.user).await.is_some(),
        "still in the organization"
    );
}

#[tokio::test]
async fn team_data_is_isolated_so_a_supervisor_sees_only_their_teams_members() {
    // spec: TEAM-4, TEAM-3
    let w = World::new().await;
    let a = w.team("A").await;
    let b = w.team("B").await;
    let sue = w.join("sue", Role::TeamSupervisor, Some(a)).await;
    let ann = w.join("ann", Role::Member, Some(a)).await;
    let bob = w.join("bob", Role::Member, Some(b)).await;
    let before = w.snapshot().await;

    let team_filter = |team| MemberFilter::default().in_team(team);
    for viewer in [&sue, &ann] {
        let seen = w
            .roster
            .members(viewer, w.org, team_filter(a), Page::default())
            .await
            .unwrap();
        let users: BTreeSet<UserId> = seen.items.iter().map(|m| m.user).collect();
        assert_eq!(users, BTreeSet::from([sue.user, ann.user]));
        let err = w
            .roster
            .members(viewer, w.org, team_filter(b), Page::default())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Forbidden {
                permission: Permission::ViewTeam
            }
        ));
        let err = w
            .roster
            .members(viewer, w.org, MemberFilter::default(), Page::default())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Forbidden {
                permission: Permission::ViewMembers
            }
        ));
        let teams = w
            .roster
            .teams(viewer, w.org, Page::default())
            .await
            .unwrap();
        assert_eq!(teams.items.iter().map(|t| t.id).collect::<Vec<_>>(), [a]);
        assert!(matches!(
            w.roster.team(viewer, w.org, b).await,
            Err(Error::Forbidden { .. })
        ));
    }
    assert!(matches!(
        w.roster.team(&bob, w.org, a).await,
        Err(Error::Forbidden { .. })
    ));
    let all = w
        .roster
        .teams(&w.founder, w.org, Page::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
    assert_eq!(w.snapshot().await, before);
}
