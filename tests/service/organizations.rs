//! Organizations: the licenses and capabilities they hold (ORG-1), the legacy integration that
//! leaves them without an administrator team (ORG-2), the license a second administrator needs
//! (ORG-3), the seat cap that counts pending invitations (ORG-4), renaming (ORG-5), and a
//! user's organizations (USR-4).

use chrono::Duration;
use orgroster::{
    BulkLineError, Capabilities, Capability, CourseId, Error, EventKind, HostAction, LicenseKind,
    Page, Permission, Role,
};

use crate::fixture::{
    World, actor, assert_actionable, email, learners_capability, newcomer, profile,
};

#[tokio::test]
async fn learners_are_invited_only_with_coursecloud_legacy_and_pay_per_use_licenses_only_with_pay_per_use()
 {
    // spec: ADM-2, ORG-1
    let w = World::with(Capabilities::default(), true).await;
    let before = w.snapshot().await;
    let err = w
        .roster
        .invite_member(
            &w.founder,
            w.org,
            email("lee@example.com"),
            Role::Member,
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::CapabilityRequired {
            capability: Capability::CoursecloudLegacy
        }
    ));
    assert_actionable(&err, &["coursecloud_legacy", "contact support"]);
    let err = w
        .roster
        .invite_members(&w.founder, w.org, "lee@example.com", Role::Member, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CapabilityRequired { .. }));
    let err = w
        .roster
        .authorize(&w.founder, w.org, HostAction::CreatePayPerUseLicense)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::CapabilityRequired {
            capability: Capability::PayPerUse
        }
    ));
    assert_eq!(w.snapshot().await, before);

    // Administrators are invited without either capability.
    w.roster
        .invite_administrator(
            &w.founder,
            w.org,
            email("sam@example.com"),
            profile("Sam", "R"),
        )
        .await
        .unwrap();

    // Licenses of every kind of ORG-1.
    w.roster
        .add_license(
            w.org,
            LicenseKind::PurchasedCourse {
                course: CourseId::parse("negotiation-201").unwrap(),
            },
        )
        .await
        .unwrap();
    let org = w
        .roster
        .add_license(w.org, LicenseKind::PayPerUse)
        .await
        .unwrap();
    let kinds: Vec<String> = org.licenses.iter().map(|l| l.kind.to_string()).collect();
    assert_eq!(
        kinds,
        [
            "subscription `plus-annual`",
            "purchased course `negotiation-201`",
            "pay-per-use"
        ]
    );

    w.roster
        .set_capabilities(
            w.org,
            Capabilities::default()
                .with(Capability::CoursecloudLegacy)
                .with(Capability::PayPerUse),
        )
        .await
        .unwrap();
    let lee = w.join("lee", Role::Member, None).await;
    w.roster
        .authorize(&w.founder, w.org, HostAction::CreatePayPerUseLicense)
        .await
        .unwrap();
    // A capability never stands in for the role.
    let err = w
        .roster
        .invite_member(&lee, w.org, email("ann@example.com"), Role::Member, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::InviteLearners
        }
    ));
    let err = w
        .roster
        .authorize(&lee, w.org, HostAction::CreatePayPerUseLicense)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::CreatePayPerUseLicense
        }
    ));
}

#[tokio::test]
async fn an_organization_with_a_legacy_integration_has_no_administrator_team_features() {
    // spec: ORG-2
    let w = World::new().await;
    let pending = actor("pending.admin");
    let invited = w.invite(&pending, Role::Administrator, None).await;
    let sam = w.join("sam", Role::Administrator, None).await;
    let lee = w.join("lee", Role::Member, None).await;
    w.roster
        .set_capabilities(
            w.org,
            learners_capability().with(Capability::LegacyIntegration),
        )
        .await
        .unwrap();
    let before = w.snapshot().await;

    let (r, o, f) = (&w.roster, w.org, &w.founder);
    let id = invited.invitation.id;
    let link = invited.token.expose();
    let results = vec![
        (
            "invite_administrator",
            r.invite_administrator(f, o, email("new@example.com"), profile("N", "A"))
                .await
                .map(drop),
        ),
        (
            "administrator_team",
            r.administrator_team(f, o).await.map(drop),
        ),
        (
            "grant_role",
            r.grant_role(f, o, lee.user, Role::Administrator)
                .await
                .map(drop),
        ),
        (
            "revoke_role",
            r.revoke_role(f, o, sam.user, Role::Administrator)
                .await
                .map(drop),
        ),
        (
            "remove_member",
            r.remove_member(f, o, sam.user).await.map(drop),
        ),
        (
            "resend_invitation",
            r.resend_invitation(f, o, id).await.map(drop),
        ),
        (
            "revoke_invitation",
            r.revoke_invitation(f, o, id).await.map(drop),
        ),
        (
            "accept_invitation",
            r.accept_invitation(&pending, &link, newcomer("Pending"))
                .await
                .map(drop),
        ),
    ];
    for (command, result) in results {
        let err = result.expect_err(command);
        assert!(
            matches!(err, Error::LegacyIntegration),
            "{command}: {err:?}"
        );
        assert_actionable(&err, &["legacy integration", "contact support"]);
    }
    assert_eq!(w.snapshot().await, before, "nothing changes");

    // Features outside the administrator team still work.
    w.roster
        .invite_member(f, o, email("learner@example.com"), Role::Member, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn adding_an_administrator_without_a_license_fails_with_no_license_and_changes_nothing() {
    // spec: ORG-3
    let w = World::with(learners_capability(), false).await;
    let lee = w.join("lee", Role::Member, None).await;
    let before = w.snapshot().await;

    let err = w
        .roster
        .invite_administrator(
            &w.founder,
            w.org,
            email("sam@example.com"),
            profile("Sam", "R"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoLicense), "{err:?}");
    assert_actionable(&err, &["license", "contact support"]);
    let err = w
        .roster
        .grant_role(&w.founder, w.org, lee.user, Role::Administrator)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoLicense), "{err:?}");
    assert_eq!(w.snapshot().await, before);

    // Once a license is in, the same invitation goes out.
    let license = w
        .roster
        .add_license(
            w.org,
            LicenseKind::PurchasedCourse {
                course: CourseId::parse("negotiation-201").unwrap(),
            },
        )
        .await
        .unwrap()
        .licenses[0]
        .id;
    let sam = actor("sam");
    let invited = w
        .roster
        .invite_administrator(&w.founder, w.org, sam.email.clone(), profile("Sam", "R"))
        .await
        .unwrap();

    // The license is gone by the time Sam accepts: Sam does not become an administrator.
    w.roster.remove_license(w.org, license).await.unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation(&sam, &invited.token.expose(), newcomer("Sam"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoLicense), "{err:?}");
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn the_seat_cap_counts_pending_unexpired_invitations_at_invite_and_at_accept() {
    // spec: ORG-4
    let w = World::new().await;
    w.roster.set_seat_cap(w.org, Some(3)).await.unwrap();
    let ann = actor("ann");
    let bob = actor("bob");
    let ann_invite = w.invite(&ann, Role::Member, None).await;
    let bob_invite = w.invite(&bob, Role::Member, None).await;
    let usage = w.roster.seat_usage(&w.founder, w.org).await.unwrap();
    assert_eq!((usage.members, usage.pending_invitations), (1, 2));

    let before = w.snapshot().await;
    let err = w
        .roster
        .invite_member(
            &w.founder,
            w.org,
            email("carl@example.com"),
            Role::Member,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SeatLimit { cap: 3, excess: 1 }),
        "{err:?}"
    );
    assert_actionable(&err, &["3", "by 1"]);
    let report = w
        .roster
        .invite_members(
            &w.founder,
            w.org,
            "carl@example.com dan@example.com",
            Role::Member,
            None,
        )
        .await
        .unwrap();
    assert!(report.invited.is_empty());
    assert!(
        report
            .rejected
            .iter()
            .all(|r| r.reason == BulkLineError::SeatLimit { cap: 3 })
    );
    assert_eq!(w.snapshot().await, before);

    // Expired invitations hold no seat.
    w.advance(Duration::days(10));
    let usage = w.roster.seat_usage(&w.founder, w.org).await.unwrap();
    assert_eq!(usage.pending_invitations, 0);
    let carl = actor("carl");
    let carl_invite = w.invite(&carl, Role::Member, None).await;
    let report = w
        .roster
        .invite_members(
            &w.founder,
            w.org,
            "dan@example.com, eve@example.com",
            Role::Member,
            None,
        )
        .await
        .unwrap();
    assert_eq!(report.invited.len(), 1, "one seat was left");
    assert_eq!(
        report.rejected[0].reason,
        BulkLineError::SeatLimit { cap: 3 }
    );
    // Resending an expired invitation takes a seat again.
    let before = w.snapshot().await;
    let err = w
        .roster
        .resend_invitation(&w.founder, w.org, ann_invite.invitation.id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SeatLimit { cap: 3, .. }), "{err:?}");
    assert_eq!(w.snapshot().await, before);
    drop(bob_invite);

    // Checked again at accept time.
    w.roster.set_seat_cap(w.org, Some(2)).await.unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation(&carl, &carl_invite.token.expose(), newcomer("Carl"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SeatLimit { cap: 2, excess: 1 }),
        "{err:?}"
    );
    assert_eq!(w.snapshot().await, before);
    w.roster.set_seat_cap(w.org, Some(3)).await.unwrap();
    w.accept(&carl, &carl_invite.token).await;
    let usage = w.roster.seat_usage(&w.founder, w.org).await.unwrap();
    assert_eq!((usage.members, usage.pending_invitations), (2, 1));
}

#[tokio::test]
async fn a_user_sees_every_organization_they_belong_to_with_its_name_and_their_roles() {
    // spec: USR-4
    let w = World::new().await;
    let learner = w.join("menu", Role::Member, None).await;
    // A second organization, created by the same learner: they are its administrator.
    let own = w
        .another_organization(&learner, "Learner's Own Academy")
        .await;
    // A third one they do not belong to.
    w.another_organization(&actor("stranger"), "Elsewhere")
        .await;

    let menu = w
        .roster
        .memberships(&learner, Page::first(10))
        .await
        .expect("their organizations");
    let mut expected = vec![
        (w.org, "Northwind Learning".to_owned(), vec![Role::Member]),
        (
            own,
            "Learner's Own Academy".to_owned(),
            vec![Role::Administrator, Role::Member],
        ),
    ];
    expected.sort_by_key(|(org, ..)| *org);
    let listed: Vec<_> = menu
        .items
        .iter()
        .map(|m| {
            (
                m.member.organization,
                m.organization_name.as_str().to_owned(),
                m.member.roles.iter().collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(listed, expected);
    assert!(menu.next.is_none(), "one page held them all");

    // Paged one at a time, the same two, in the same order.
    let first = w
        .roster
        .memberships(&learner, Page::first(1))
        .await
        .expect("the first page");
    let next = first.next.expect("a full page has a next one");
    let second = w
        .roster
        .memberships(&learner, next)
        .await
        .expect("the second page");
    assert_eq!(
        [&first.items[..], &second.items[..]].concat(),
        menu.items,
        "pages follow each other"
    );

    // Removed from an organization, it leaves their menu.
    w.roster
        .remove_member(&w.founder, w.org, learner.user)
        .await
        .expect("removing the learner");
    let after = w
        .roster
        .memberships(&learner, Page::first(10))
        .await
        .expect("their organizations");
    assert_eq!(
        after
            .items
            .iter()
            .map(|m| m.member.organization)
            .collect::<Vec<_>>(),
        [own]
    );
}

#[tokio::test]
async fn an_administrator_renames_the_organization_and_what_follows_carries_the_new_name() {
    // spec: ORG-5, USR-4
    let w = World::new().await;
    let lee = w.join("lee", Role::Member, None).await;
    let before = w.snapshot().await;
    let err = w
        .roster
        .rename_organization(&lee, w.org, "Lee's Own".parse().expect("a valid name"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::RenameOrganization
        }
    ));
    assert_eq!(w.snapshot().await, before, "refused, nothing changed");

    let renamed = w
        .roster
        .rename_organization(
            &w.founder,
            w.org,
            "Northwind Academy".parse().expect("a valid name"),
        )
        .await
        .expect("an administrator renames it");
    assert_eq!(renamed.name.as_str(), "Northwind Academy");
    let seen = w
        .roster
        .organization_for(&lee, w.org)
        .await
        .expect("a member sees it");
    assert_eq!(seen.name.as_str(), "Northwind Academy");
    let menu = w
        .roster
        .memberships(&lee, Page::first(10))
        .await
        .expect("their organizations");
    assert_eq!(
        menu.items[0].organization_name.as_str(),
        "Northwind Academy"
    );
    let event = w.events().await.pop().expect("an event");
    assert!(
        matches!(&event.kind, EventKind::OrganizationRenamed { from, to }
            if from.as_str() == "Northwind Learning" && to.as_str() == "Northwind Academy"),
        "{event:?}"
    );

    // An invitation sent from now on names the organization by its new name.
    w.mailer.take();
    w.invite(&actor("sam"), Role::Member, None).await;
    w.roster.deliver_mail(10).await.expect("a delivery pass");
    let sent = w.mailer.take();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].text.contains("Northwind Academy"),
        "{}",
        sent[0].text
    );
    assert!(!sent[0].text.contains("Northwind Learning"));
}

#[tokio::test]
async fn the_back_office_deletes_an_organization_and_nothing_of_it_answers_any_more() {
    // spec: ORG-5
    let w = World::new().await;
    let lee = w.join("lee", Role::Member, None).await;
    let sam = actor("sam");
    let pending = w.invite(&sam, Role::Member, None).await;
    let other = w.another_organization(&lee, "Still Here").await;

    w.roster
        .delete_organization(w.org)
        .await
        .expect("the back office deletes it");
    for who in [&w.founder, &lee] {
        let err = w.roster.organization_for(who, w.org).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotFound {
                    entity: orgroster::EntityKind::Organization
                }
            ),
            "{err:?}"
        );
    }
    let err = w
        .roster
        .accept_invitation(&sam, &pending.token.expose(), newcomer("Sam"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let menu = w
        .roster
        .memberships(&lee, Page::first(10))
        .await
        .expect("their organizations");
    assert_eq!(
        menu.items
            .iter()
            .map(|m| m.member.organization)
            .collect::<Vec<_>>(),
        [other],
        "only the organization that was not deleted"
    );
    let err = w.roster.delete_organization(w.org).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}
