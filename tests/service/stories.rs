//! The seeds' stories, told as tests: each step is what the seed says the user does, and
//! each assertion what the seed says they see.

use orgroster::{
    BackOfficeUser, CourseId, LicenseKind, MemberFilter, Message, Page, Role, SuggestedCourses,
    TeamPage, UserId,
};

use crate::fixture::{World, actor, email, newcomer, profile, team_name};

/// The second seed's opening: "The team will send you an email invitation to join the
/// platform. This invitation will grant you premium and administrator status … a dropdown
/// menu will show your organization's name. If you click on it, you will be taken to your
/// administrator area", then preparing teams and adding members.
#[tokio::test]
async fn the_platform_invites_the_first_administrator_who_finds_the_organization_in_her_menu() {
    // spec: ORG-5, USR-4, ADM-4, ROLE-1, TEAM-2, INV-7
    let w = World::new().await;
    let platform = BackOfficeUser::new(UserId::new(), profile("Pat", "Platform"));
    let org = w
        .roster
        .provision_organization("Acme Analytics".parse().unwrap())
        .await
        .unwrap()
        .id;
    w.roster
        .add_license(
            org,
            LicenseKind::Subscription {
                plan: CourseId::parse("plus-annual").unwrap(),
            },
        )
        .await
        .unwrap();
    w.roster
        .set_capabilities(org, crate::fixture::learners_capability())
        .await
        .unwrap();

    // "The team will send you an email invitation … premium and administrator status."
    let alice = actor("alice");
    let invited = w
        .roster
        .invite_first_administrator(
            &platform,
            org,
            alice.email.clone(),
            profile("Alice", "Admin"),
        )
        .await
        .unwrap();
    w.mailer.take();
    w.roster.deliver_mail(100).await.unwrap();
    let mail = w.mailer.take().pop().expect("her invitation email");
    assert_eq!(mail.to, alice.email);
    assert!(mail.text.contains("as an Administrator"), "{}", mail.text);

    // "This link will direct you to a page where you can … create your account."
    let joined = w
        .roster
        .accept_invitation(&alice, &invited.token.expose(), newcomer("Alice"))
        .await
        .unwrap();
    assert!(
        joined.member.roles.contains(Role::Member),
        "premium: a learner too"
    );
    assert!(joined.member.is_administrator());

    // "A dropdown menu will show your organization's name … your administrator area."
    let menu = w.roster.memberships(&alice, Page::first(10)).await.unwrap();
    let entry = &menu.items[0];
    assert_eq!(entry.organization_name.as_str(), "Acme Analytics");
    assert!(
        entry.member.is_administrator(),
        "the entry leads to the administrator area"
    );

    // "Preparing your teams": a team and its page.
    let team = w
        .roster
        .create_team(&alice, org, team_name("Data"))
        .await
        .unwrap();
    w.roster
        .set_team_page(
            &alice,
            org,
            team.id,
            TeamPage {
                message: Some(Message::parse("Welcome to the data team").unwrap()),
                suggested_courses: SuggestedCourses::parse(["sql-101"]).unwrap(),
            },
        )
        .await
        .unwrap();

    // "Adding members": a paste, into the team, with a role.
    let report = w
        .roster
        .invite_members(
            &alice,
            org,
            "bob@example.com, carol@example.com",
            Role::Member,
            Some(team.id),
        )
        .await
        .unwrap();
    assert_eq!(report.invited.len(), 2);
    let bob = actor("bob");
    let token = &report.invited[0].1.token;
    w.roster
        .accept_invitation(&bob, &token.expose(), newcomer("Bob"))
        .await
        .unwrap();
    let in_team = w
        .roster
        .members(
            &alice,
            org,
            MemberFilter::default().in_team(team.id),
            Page::first(10),
        )
        .await
        .unwrap();
    assert_eq!(in_team.items.len(), 1);
    assert_eq!(in_team.items[0].email, email("bob@example.com"));
}
