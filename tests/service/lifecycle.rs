//! A membership's life beyond joining: leaving on one's own (MEM-1).

use orgroster::{Capabilities, Capability, Error, EventActor, EventKind, Page, Permission, Role};

use crate::fixture::{World, actor, assert_actionable};

#[tokio::test]
async fn a_member_leaves_on_their_own_their_teams_go_with_them_and_they_can_be_invited_again() {
    // spec: MEM-1, TEAM-4
    let w = World::new().await;
    let team = w.team("Leavers").await;
    let lee = w.join("lee", Role::Member, Some(team)).await;
    assert_eq!(w.team_member_ids(team).await.len(), 1);

    let left = w
        .roster
        .leave_organization(&lee, w.org)
        .await
        .expect("a member may leave");
    assert_eq!(left.user, lee.user);
    assert!(w.member(lee.user).await.is_none(), "no longer a member");
    assert!(w.team_member_ids(team).await.is_empty(), "out of the team");
    let menu = w
        .roster
        .memberships(&lee, Page::first(10))
        .await
        .expect("their organizations");
    assert!(menu.items.is_empty(), "gone from their account menu");
    let event = w.events().await.pop().expect("an event");
    assert!(
        matches!(&event.kind, EventKind::MemberLeft { user, email } if *user == lee.user && *email == lee.email),
        "{event:?}"
    );
    assert!(
        matches!(event.actor, EventActor::User { user } if user == lee.user),
        "recorded as their own act: {:?}",
        event.actor
    );

    // Gone, they act no more; invited again, they are back.
    let err = w.roster.leave_organization(&lee, w.org).await.unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::LeaveOrganization
        }
    ));
    let again = w.invite(&lee, Role::Member, None).await;
    w.accept(&lee, &again.token).await;
    assert!(w.member(lee.user).await.is_some(), "a member again");
}

#[tokio::test]
async fn the_last_administrator_cannot_leave_and_another_one_can() {
    // spec: MEM-1, ADM-5
    let w = World::new().await;
    let before = w.snapshot().await;
    let err = w
        .roster
        .leave_organization(&w.founder, w.org)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastAdministrator), "{err:?}");
    assert_actionable(&err, &["without an administrator", "first"]);
    assert_eq!(w.snapshot().await, before, "nothing changed");

    let sam = w.join("sam", Role::Administrator, None).await;
    w.roster
        .leave_organization(&w.founder, w.org)
        .await
        .expect("one administrator leaves while another stays");
    assert!(w.member(w.founder.user).await.is_none());
    let err = w.roster.leave_organization(&sam, w.org).await.unwrap_err();
    assert!(matches!(err, Error::LastAdministrator), "{err:?}");
}

#[tokio::test]
async fn leaving_needs_no_administrator_team_and_a_stranger_cannot_leave() {
    // spec: MEM-1, ORG-2
    let w = World::with(Capabilities::default(), false).await;
    let stranger = actor("stranger");
    let before = w.snapshot().await;
    let err = w
        .roster
        .leave_organization(&stranger, w.org)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::LeaveOrganization
        }
    ));
    assert_eq!(w.snapshot().await, before);
    // A legacy organization has no administrator team, and its members still leave.
    let legacy = World::with(
        Capabilities::default()
            .with(Capability::LegacyIntegration)
            .with(Capability::CoursecloudLegacy),
        false,
    )
    .await;
    let learner = legacy.join("legacy", Role::Member, None).await;
    legacy
        .roster
        .leave_organization(&learner, legacy.org)
        .await
        .expect("leaving a legacy organization");
    assert!(legacy.member(learner.user).await.is_none());
}
