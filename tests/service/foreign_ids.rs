//! Every command and query that takes an id beside an organization refuses an id of another
//! organization with `NotFound`, and changes nothing in either organization.

use std::{future::Future, pin::Pin};

use orgroster::{
    Audience, Clock, EntityKind, Error, HostAction, Message, Period, ReportError, Role, StatsScope,
    Subject, TeamPage,
};

use crate::fixture::{World, actor, email, licensed_organization, team_name};

type Outcome<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>;

#[tokio::test]
async fn every_command_refuses_the_ids_of_another_organization() {
    // spec: ERR-1, ERR-2, TEAM-4
    // Arrange: the world's organization A, and organization B with a team, a member who is
    // also a member of A, a member who is only B's, and a pending invitation.
    let w = World::new().await;
    let r = &w.roster;
    let a = w.org;
    let mine = w.team("Mine").await;
    let both = w.join("both", Role::Member, Some(mine)).await;
    let bob = actor("bob");
    let b = licensed_organization(r, &bob, "Other Org", None).await;
    let theirs = r
        .create_team(&bob, b, team_name("Theirs"))
        .await
        .unwrap()
        .id;
    for who in [&both, &actor("only-b")] {
        let invited = r
            .invite_member(&bob, b, who.email.clone(), Role::Member, Some(theirs))
            .await
            .unwrap();
        r.accept_invitation(who, &invited.token.expose(), crate::fixture::newcomer("B"))
            .await
            .unwrap();
    }
    let only_b = r
        .members(&bob, b, Default::default(), Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|m| m.email.as_str().starts_with("only-b"))
        .unwrap()
        .user;
    let pending = r
        .invite_member(&bob, b, email("pending@example.com"), Role::Member, None)
        .await
        .unwrap()
        .invitation
        .id;
    let period = Period::days_until(w.clock.now(), 30).unwrap();
    let founder = &w.founder;
    let export = |scope| -> Outcome<'_> {
        Box::pin(async move {
            r.export_member_activity(founder, a, scope, period, Vec::new())
                .await
                .map(drop)
                .map_err(|e| match e {
                    ReportError::Roster(e) => *e,
                    other => panic!("{other:?}"),
                })
        })
    };
    let subject = Subject::parse("Hello").unwrap();
    let body = Message::parse("Body").unwrap();
    let filter = orgroster::MemberFilter::default().in_team(theirs);
    let commands: Vec<(&str, EntityKind, Outcome<'_>)> = vec![
        (
            "statistics of their team",
            EntityKind::Team,
            Box::pin(async move {
                r.statistics(founder, a, StatsScope::Team(theirs), period)
                    .await
                    .map(drop)
            }),
        ),
        (
            "statistics of their member",
            EntityKind::Member,
            Box::pin(async move {
                r.statistics(founder, a, StatsScope::Member(only_b), period)
                    .await
                    .map(drop)
            }),
        ),
        (
            "export of their team",
            EntityKind::Team,
            export(StatsScope::Team(theirs)),
        ),
        (
            "export of their member",
            EntityKind::Member,
            export(StatsScope::Member(only_b)),
        ),
        (
            "comparison with their team",
            EntityKind::Team,
            Box::pin(async move {
                r.compare_teams(founder, a, &[mine, theirs], period)
                    .await
                    .map(drop)
            }),
        ),
        (
            "authorizing their team's analytics",
            EntityKind::Team,
            Box::pin(async move {
                r.authorize(founder, a, HostAction::ViewTeamAnalytics(theirs))
                    .await
            }),
        ),
        (
            "listing their team's members",
            EntityKind::Team,
            Box::pin(async move {
                r.members(founder, a, filter, Default::default())
                    .await
                    .map(drop)
            }),
        ),
        (
            "reading their member",
            EntityKind::Member,
            Box::pin(async move { r.member(founder, a, only_b).await.map(drop) }),
        ),
        (
            "reading their team",
            EntityKind::Team,
            Box::pin(async move { r.team(founder, a, theirs).await.map(drop) }),
        ),
        (
            "messaging their team",
            EntityKind::Team,
            Box::pin(async move {
                r.send_message(founder, a, Audience::Team(theirs), subject, body)
                    .await
                    .map(drop)
            }),
        ),
        (
            "adding to their team",
            EntityKind::Team,
            Box::pin(async move { r.add_team_member(founder, a, theirs, both.user).await }),
        ),
        (
            "adding their member to our team",
            EntityKind::Member,
            Box::pin(async move { r.add_team_member(founder, a, mine, only_b).await }),
        ),
        (
            "removing from their team",
            EntityKind::Team,
            Box::pin(async move { r.remove_team_member(founder, a, theirs, both.user).await }),
        ),
        (
            "removing their member from our team",
            EntityKind::Member,
            Box::pin(async move { r.remove_team_member(founder, a, mine, only_b).await }),
        ),
        (
            "renaming their team",
            EntityKind::Team,
            Box::pin(async move {
                r.rename_team(founder, a, theirs, team_name("Taken"))
                    .await
                    .map(drop)
            }),
        ),
        (
            "setting their team's page",
            EntityKind::Team,
            Box::pin(async move {
                r.set_team_page(founder, a, theirs, TeamPage::default())
                    .await
                    .map(drop)
            }),
        ),
        (
            "deleting their team",
            EntityKind::Team,
            Box::pin(async move { r.delete_team(founder, a, theirs).await.map(drop) }),
        ),
        (
            "granting their member a role",
            EntityKind::Member,
            Box::pin(async move {
                r.grant_role(founder, a, only_b, Role::Manager)
                    .await
                    .map(drop)
            }),
        ),
        (
            "revoking their member's role",
            EntityKind::Member,
            Box::pin(async move {
                r.revoke_role(founder, a, only_b, Role::Member)
                    .await
                    .map(drop)
            }),
        ),
        (
            "removing their member",
            EntityKind::Member,
            Box::pin(async move { r.remove_member(founder, a, only_b).await.map(drop) }),
        ),
        (
            "resending their invitation",
            EntityKind::Invitation,
            Box::pin(async move { r.resend_invitation(founder, a, pending).await.map(drop) }),
        ),
        (
            "revoking their invitation",
            EntityKind::Invitation,
            Box::pin(async move { r.revoke_invitation(founder, a, pending).await.map(drop) }),
        ),
        (
            "inviting into their team",
            EntityKind::Team,
            Box::pin(async move {
                r.invite_member(
                    founder,
                    a,
                    email("new@example.com"),
                    Role::Member,
                    Some(theirs),
                )
                .await
                .map(drop)
            }),
        ),
        (
            "inviting many into their team",
            EntityKind::Team,
            Box::pin(async move {
                r.invite_members(
                    founder,
                    a,
                    "x@example.com, y@example.com",
                    Role::Member,
                    Some(theirs),
                )
                .await
                .map(drop)
            }),
        ),
    ];
    r.deliver_mail(1000).await.unwrap();
    let before = (w.snapshot_of(a).await, w.snapshot_of(b).await);

    for (what, entity, outcome) in commands {
        let err = outcome.await.expect_err(what);
        assert!(
            matches!(err, Error::NotFound { entity: e } if e == entity),
            "{what}: {err:?}"
        );
    }

    assert_eq!((w.snapshot_of(a).await, w.snapshot_of(b).await), before);
    assert_eq!(
        r.deliver_mail(1000).await.unwrap().sent,
        0,
        "no mail was queued"
    );
}
