//! The platform's own provisioning (ORG-5, the second seed's first step): the back office
//! creates an organization with no member and invites its first administrator, who accepts
//! through the ordinary link and finds the organization in their account menu (USR-4).

use orgroster::{
    BackOfficeUser, CourseId, Error, EventActor, EventKind, LicenseKind, MembershipStatus, Page,
    Role, Store, UserId,
};

use crate::fixture::{World, actor, assert_actionable, email, newcomer, profile};

fn pat() -> BackOfficeUser {
    BackOfficeUser::new(UserId::new(), profile("Pat", "Platform"))
}

fn license() -> LicenseKind {
    LicenseKind::Subscription {
        plan: CourseId::parse("plus-annual").unwrap(),
    }
}

#[tokio::test]
async fn the_back_office_provisions_an_organization_and_invites_its_first_administrator() {
    // spec: ORG-5, USR-4, ADM-4, INV-9
    let w = World::new().await;
    let org = w
        .roster
        .provision_organization("Globex Learning".parse().unwrap())
        .await
        .expect("provisioning an organization");
    assert!(
        w.store
            .members(org.id, Default::default(), Page::first(10))
            .await
            .unwrap()
            .is_empty(),
        "no member yet"
    );
    w.roster.add_license(org.id, license()).await.unwrap();
    let hank = actor("hank");
    let sent = w
        .roster
        .invite_first_administrator(
            &pat(),
            org.id,
            email("HANK@example.com"),
            profile("Hank", "Scorpio"),
        )
        .await
        .expect("inviting the first administrator");
    assert_eq!(sent.invitation.role, Role::Administrator);

    // The email goes out through the outbox, signed by the platform's sender.
    w.mailer.take();
    w.roster.deliver_mail(100).await.unwrap();
    let mails = w.mailer.take();
    let mail = mails
        .iter()
        .find(|m| m.to.key() == "hank@example.com")
        .expect("the invitation email");
    assert!(mail.text.contains("Pat Platform"), "{}", mail.text);
    assert!(mail.text.contains("Globex Learning"), "{}", mail.text);

    // Accepted through the ordinary link: an administrator of the organization.
    let joined = w
        .roster
        .accept_invitation(&hank, &sent.token.expose(), newcomer("Hank"))
        .await
        .expect("accepting through the link");
    assert!(joined.member.is_administrator());
    let menu = w.roster.memberships(&hank, Page::first(10)).await.unwrap();
    assert_eq!(menu.items.len(), 1);
    assert_eq!(menu.items[0].organization_name.as_str(), "Globex Learning");
    assert!(menu.items[0].member.is_administrator());
    assert_eq!(menu.items[0].member.status(), MembershipStatus::Active);
    // Now the administrator runs it: the administrator team lists them.
    let team = w.roster.administrator_team(&hank, org.id).await.unwrap();
    assert_eq!(team.len(), 1);

    let events = w
        .roster
        .audit_trail(&hank, org.id, Page::first(50))
        .await
        .unwrap()
        .items;
    assert!(matches!(
        (&events[0].kind, &events[0].actor),
        (EventKind::OrganizationProvisioned { name }, EventActor::System) if name.as_str() == "Globex Learning"
    ));
    assert!(events.iter().any(|e| matches!(
        (&e.kind, &e.actor),
        (
            EventKind::InvitationSent {
                role: Role::Administrator,
                ..
            },
            EventActor::System
        )
    )));
}

#[tokio::test]
async fn the_back_office_invites_only_the_first_administrator() {
    // spec: ORG-5, INV-8, ERR-2
    let w = World::new().await;
    let org = w
        .roster
        .provision_organization("Initech".parse().unwrap())
        .await
        .unwrap();
    w.roster.add_license(org.id, license()).await.unwrap();
    let first = w
        .roster
        .invite_first_administrator(
            &pat(),
            org.id,
            email("peter@example.com"),
            profile("Peter", "Gibbons"),
        )
        .await
        .unwrap();
    // The same address again: already invited. Another candidate: allowed, until one joins.
    let err = w
        .roster
        .invite_first_administrator(
            &pat(),
            org.id,
            email("Peter@Example.com"),
            profile("Peter", "Gibbons"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyInvited), "{err:?}");
    w.roster
        .invite_first_administrator(
            &pat(),
            org.id,
            email("joanna@example.com"),
            profile("Joanna", "Server"),
        )
        .await
        .expect("a second candidate while nobody joined");
    w.roster
        .accept_invitation(&actor("peter"), &first.token.expose(), newcomer("Peter"))
        .await
        .unwrap();

    let before = w.snapshot_of(org.id).await;
    let err = w
        .roster
        .invite_first_administrator(
            &pat(),
            org.id,
            email("bill@example.com"),
            profile("Bill", "Lumbergh"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AdministratorExists), "{err:?}");
    assert_actionable(&err, &["already has an administrator", "invite"]);
    assert_eq!(w.snapshot_of(org.id).await, before, "nothing changed");
    // Nor into an organization that was not provisioned but founded: it has one.
    let err = w
        .roster
        .invite_first_administrator(
            &pat(),
            w.org,
            email("bill@example.com"),
            profile("Bill", "Lumbergh"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AdministratorExists), "{err:?}");
}

#[tokio::test]
async fn a_first_administrator_needs_a_licensed_organization_that_exists() {
    // spec: ORG-5, ORG-3, ERR-1
    let w = World::new().await;
    let org = w
        .roster
        .provision_organization("Unlicensed".parse().unwrap())
        .await
        .unwrap();
    let err = w
        .roster
        .invite_first_administrator(
            &pat(),
            org.id,
            email("ann@example.com"),
            profile("Ann", "Admin"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoLicense), "{err:?}");
    let err = w
        .roster
        .invite_first_administrator(
            &pat(),
            orgroster::OrganizationId::new(),
            email("ann@example.com"),
            profile("Ann", "Admin"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}
