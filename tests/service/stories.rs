//! The stories of the two seed articles, one test each: seed 000 (an e-learning vendor's Team
//! dashboard: administrators and their invitations) and seed 004 (another vendor's admin
//! area: roles, teams, team pages, bulk invitations, messages).

use std::collections::BTreeSet;

use chrono::Duration;
use orgroster::{
    AcceptOptions, Actor, Audience, BulkLineError, Capabilities, Capability, CourseId,
    EXISTING_ACCOUNT_WARNING, EmailAddress, EntityKind, Error, EventActor, EventKind,
    FailingMailer, Field, HostAction, InvitationFilter, InvitationStatus, LicenseKind,
    MemberFilter, MembershipStatus, Message, Page, Permission, Profile, Role, Roster, RosterConfig,
    Subject, SuggestedCourses, TeamPage, UserId,
};

use crate::fixture::{
    World, actor, assert_actionable, email, learners_capability, newcomer, profile, team_name,
};

fn subject(text: &str) -> Subject {
    Subject::parse(text).expect("a valid subject")
}

fn message(text: &str) -> Message {
    Message::parse(text).expect("a valid message")
}

fn sorted(emails: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut all: Vec<String> = emails.into_iter().collect();
    all.sort();
    all
}

// ----- seed 000: the Team dashboard -----------------------------------------------------------

#[tokio::test]
async fn a_member_updates_their_own_profile_and_nobody_can_rename_someone_else() {
    // spec: USR-1
    let w = World::new().await;
    let ada = w.join("ada", Role::Member, None).await;
    let ada_before = w.member(ada.user).await.unwrap().profile;

    let updated = w
        .roster
        .update_profile(&w.founder, w.org, profile("Maya", "Okafor"))
        .await
        .unwrap();
    assert_eq!(updated.user, w.founder.user);
    assert_eq!(
        w.member(w.founder.user).await.unwrap().profile,
        profile("Maya", "Okafor")
    );
    // The command has no target: an administrator renaming "someone" renames themselves only.
    assert_eq!(w.member(ada.user).await.unwrap().profile, ada_before);

    w.roster
        .update_profile(&ada, w.org, profile("Ada", "Lovelace"))
        .await
        .unwrap();
    assert_eq!(
        w.member(ada.user).await.unwrap().profile,
        profile("Ada", "Lovelace")
    );
    assert_eq!(
        w.member(w.founder.user).await.unwrap().profile,
        profile("Maya", "Okafor")
    );

    // Another account signed in with Ada's address is not Ada.
    let impostor = Actor::new(UserId::new(), ada.email.clone());
    let before = w.snapshot().await;
    let err = w
        .roster
        .update_profile(&impostor, w.org, profile("Evil", "Twin"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::UpdateOwnProfile
        }
    ));
    assert_eq!(w.snapshot().await, before);
    let renamed: Vec<UserId> = w
        .events()
        .await
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ProfileUpdated { user } => Some(user),
            _ => None,
        })
        .collect();
    assert_eq!(renamed, [w.founder.user, ada.user]);
}

#[tokio::test]
async fn an_administrator_is_invited_by_email_and_name_once_licenses_are_there_and_is_pending_until_accepting()
 {
    // spec: ADM-4, ORG-3, INV-1
    let w = World::new().await;
    let org = w.roster.organization_for(&w.founder, w.org).await.unwrap();
    assert!(org.is_licensed(), "licenses are confirmed first");

    // All three inputs are validated before any command runs.
    assert_eq!(
        EmailAddress::parse("sam.reyes@").unwrap_err().field(),
        Field::Email
    );
    assert_eq!(
        Profile::parse("", "Reyes").unwrap_err().field(),
        Field::FirstName
    );
    assert_eq!(
        Profile::parse("Sam", " ").unwrap_err().field(),
        Field::LastName
    );

    let sam = actor("sam.reyes");
    let invited = w
        .roster
        .invite_administrator(
            &w.founder,
            w.org,
            sam.email.clone(),
            profile("Sam", "Reyes"),
        )
        .await
        .unwrap();
    assert_eq!(invited.invitation.role, Role::Administrator);
    assert_eq!(invited.invitation.status, InvitationStatus::Pending);
    assert_eq!(invited.invitation.invitee, Some(profile("Sam", "Reyes")));

    let team = w
        .roster
        .administrator_team(&w.founder, w.org)
        .await
        .unwrap();
    assert_eq!(team.len(), 2);
    assert_eq!(team[0].user, Some(w.founder.user));
    assert_eq!(team[0].status, MembershipStatus::Active);
    assert_eq!(team[1].email, sam.email);
    assert_eq!(team[1].profile, Some(profile("Sam", "Reyes")));
    assert_eq!(team[1].status, MembershipStatus::Pending { expired: false });
    assert_eq!(team[1].status.to_string(), "Pending");
    assert_eq!(team[1].invitation, Some(invited.invitation.id));
    assert_eq!(team[1].user, None);

    // The invitation is emailed to them, by name, with the link.
    w.roster.deliver_mail(10).await.unwrap();
    let mails = w.mailer.take();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, sam.email);
    assert!(mails[0].text.contains("Hello Sam"), "{}", mails[0].text);
    assert!(mails[0].text.contains(&invited.token.expose()));

    let accepted = w
        .roster
        .accept_invitation(&sam, &invited.token.expose(), newcomer("Sam"))
        .await
        .unwrap();
    assert!(accepted.member.is_administrator());
    assert_eq!(accepted.invitation.status, InvitationStatus::Accepted);
    let team = w
        .roster
        .administrator_team(&w.founder, w.org)
        .await
        .unwrap();
    assert_eq!(team.len(), 2);
    assert!(team.iter().all(|e| e.status == MembershipStatus::Active));
    assert_eq!(team[1].user, Some(sam.user));
    let pending = w
        .roster
        .invitations(
            &w.founder,
            w.org,
            InvitationFilter::pending(),
            Page::default(),
        )
        .await
        .unwrap();
    assert!(pending.items.is_empty());
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
            Capabilities {
                legacy_integration: true,
                ..learners_capability()
            },
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
async fn accepting_an_invitation_makes_the_invitee_an_active_member_with_its_role_and_team() {
    // spec: INV-1
    let w = World::new().await;
    let sales = w.team("Sales").await;
    let mia = actor("mia");
    let invited = w.invite(&mia, Role::Manager, Some(sales)).await;
    let link = invited.token.expose();

    let accepted = w
        .roster
        .accept_invitation(&mia, &link, newcomer("Mia"))
        .await
        .unwrap();
    assert_eq!(accepted.invitation.status, InvitationStatus::Accepted);
    assert_eq!(accepted.invitation.closed_by, Some(mia.user));
    assert_eq!(accepted.member.user, mia.user);
    assert_eq!(accepted.member.invitation, Some(invited.invitation.id));
    assert_eq!(w.roles(mia.user).await, [Role::Manager, Role::Member]);
    assert_eq!(w.team_member_ids(sales).await, [accepted.member.id]);
    let listed = w
        .roster
        .members(&w.founder, w.org, MemberFilter::default(), Page::default())
        .await
        .unwrap();
    assert!(listed.items.iter().any(|m| m.user == mia.user));

    // Accepted is final.
    let before = w.snapshot().await;
    let again = w
        .roster
        .accept_invitation(&mia, &link, newcomer("Mia"))
        .await
        .unwrap_err();
    assert!(matches!(
        again,
        Error::InvitationNotPending {
            status: InvitationStatus::Accepted
        }
    ));
    let decline = w.roster.decline_invitation(&link).await.unwrap_err();
    assert!(matches!(decline, Error::InvitationNotPending { .. }));
    let revoke = w
        .roster
        .revoke_invitation(&w.founder, w.org, invited.invitation.id)
        .await
        .unwrap_err();
    assert!(matches!(revoke, Error::InvitationNotPending { .. }));
    let resend = w
        .roster
        .resend_invitation(&w.founder, w.org, invited.invitation.id)
        .await
        .unwrap_err();
    assert!(matches!(resend, Error::InvitationNotPending { .. }));
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn declining_an_invitation_removes_the_entry_from_the_listing_but_keeps_it_in_the_audit_trail()
 {
    // spec: INV-1, INV-12
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Administrator, None).await;
    let link = invited.token.expose();

    let declined = w.roster.decline_invitation(&link).await.unwrap();
    assert_eq!(declined.status, InvitationStatus::Declined);

    let team = w
        .roster
        .administrator_team(&w.founder, w.org)
        .await
        .unwrap();
    assert_eq!(team.len(), 1, "the entry disappears: {team:?}");
    let pending = w
        .roster
        .invitations(
            &w.founder,
            w.org,
            InvitationFilter::pending(),
            Page::default(),
        )
        .await
        .unwrap();
    assert!(pending.items.is_empty());

    let history = w
        .roster
        .invitations(
            &w.founder,
            w.org,
            InvitationFilter::default(),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(history.items.len(), 1);
    assert_eq!(
        history.items[0].invitation.status,
        InvitationStatus::Declined
    );
    let trail = w
        .roster
        .audit_trail(&w.founder, w.org, Page::first(1000))
        .await
        .unwrap();
    assert!(trail.items.iter().any(|e| matches!(
        &e.kind,
        EventKind::InvitationSent { invitation, .. } if *invitation == invited.invitation.id
    )));
    let declined_event = trail
        .items
        .iter()
        .find(|e| matches!(&e.kind, EventKind::InvitationDeclined { .. }))
        .expect("the decline is in the audit trail");
    assert_eq!(
        declined_event.actor,
        EventActor::Invitee {
            email: sam.email.clone()
        }
    );

    // Declined is final.
    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation(&sam, &link, newcomer("Sam"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvitationNotPending {
            status: InvitationStatus::Declined
        }
    ));
    assert!(matches!(
        w.roster.decline_invitation(&link).await.unwrap_err(),
        Error::InvitationNotPending { .. }
    ));
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn an_invitation_not_accepted_within_ten_days_expires_and_still_shows_as_pending() {
    // spec: INV-2
    let w = World::new().await;
    assert_eq!(w.roster.config().invitation_ttl, Duration::days(10));
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Administrator, None).await;
    let link = invited.token.expose();
    assert_eq!(
        invited.invitation.expires_at - invited.invitation.sent_at,
        Duration::days(10)
    );

    w.advance(Duration::days(10) - Duration::seconds(1));
    let team = w
        .roster
        .administrator_team(&w.founder, w.org)
        .await
        .unwrap();
    assert_eq!(team[1].status, MembershipStatus::Pending { expired: false });

    w.advance(Duration::seconds(1));
    let team = w
        .roster
        .administrator_team(&w.founder, w.org)
        .await
        .unwrap();
    assert_eq!(team.len(), 2);
    assert_eq!(team[1].status, MembershipStatus::Pending { expired: true });
    assert_eq!(team[1].status.to_string(), "Pending (expired)");
    let listing = w
        .roster
        .invitations(
            &w.founder,
            w.org,
            InvitationFilter::pending(),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 1);
    assert!(listing.items[0].expired);
    assert_eq!(
        listing.items[0].invitation.status,
        InvitationStatus::Pending
    );

    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation(&sam, &link, newcomer("Sam"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvitationExpired { expired_at } if expired_at == invited.invitation.expires_at)
    );
    assert_actionable(&err, &["expired", "resend"]);
    let err = w.roster.decline_invitation(&link).await.unwrap_err();
    assert!(matches!(err, Error::InvitationExpired { .. }));
    assert_eq!(w.snapshot().await, before);

    // The period is a setting.
    let short = Roster::builder(
        w.store.clone(),
        w.mailer.clone(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .clock(w.clock.clone())
    .config(RosterConfig::default().with_invitation_ttl(Duration::days(3)))
    .build();
    let kim = short
        .invite_member(
            &w.founder,
            w.org,
            email("kim@example.com"),
            Role::Member,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        kim.invitation.expires_at,
        w.roster.now() + Duration::days(3)
    );
}

#[tokio::test]
async fn resending_an_invitation_sends_a_new_link_with_a_fresh_expiry_and_the_old_link_stops_working()
 {
    // spec: INV-3, INV-12
    let w = World::new().await;
    let sam = actor("sam");
    let first = w.invite(&sam, Role::Administrator, None).await;
    let old_link = first.token.expose();
    w.roster.deliver_mail(10).await.unwrap();
    w.mailer.take();

    w.advance(Duration::days(12));
    let second = w
        .roster
        .resend_invitation(&w.founder, w.org, first.invitation.id)
        .await
        .unwrap();
    let new_link = second.token.expose();
    assert_eq!(second.invitation.id, first.invitation.id);
    assert_ne!(new_link, old_link);
    assert_eq!(second.invitation.status, InvitationStatus::Pending);
    assert_eq!(second.invitation.resend_count, 1);
    assert_eq!(
        second.invitation.expires_at,
        w.roster.now() + Duration::days(10)
    );
    let team = w
        .roster
        .administrator_team(&w.founder, w.org)
        .await
        .unwrap();
    assert_eq!(team[1].status, MembershipStatus::Pending { expired: false });

    w.roster.deliver_mail(10).await.unwrap();
    let mails = w.mailer.take();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, sam.email);
    assert!(mails[0].text.contains(&new_link));
    assert!(!mails[0].text.contains(&old_link));
    assert!(
        mails[0].text.contains("no longer works"),
        "{}",
        mails[0].text
    );

    let before = w.snapshot().await;
    let invitation = EntityKind::Invitation;
    let err = w
        .roster
        .preview_invitation(&old_link, false)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { entity } if entity == invitation));
    let err = w
        .roster
        .accept_invitation(&sam, &old_link, newcomer("Sam"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { entity } if entity == invitation));
    let err = w.roster.decline_invitation(&old_link).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    assert_eq!(w.snapshot().await, before);

    w.roster
        .accept_invitation(&sam, &new_link, newcomer("Sam"))
        .await
        .unwrap();
    assert!(w.events().await.iter().any(|e| matches!(
        &e.kind,
        EventKind::InvitationResent { invitation, .. } if *invitation == first.invitation.id
    )));
}

#[tokio::test]
async fn revoking_a_pending_invitation_removes_it_its_link_never_works_and_inviting_again_does() {
    // spec: INV-4, INV-1, INV-12
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Administrator, None).await;
    let link = invited.token.expose();

    let revoked = w
        .roster
        .revoke_invitation(&w.founder, w.org, invited.invitation.id)
        .await
        .unwrap();
    assert_eq!(revoked.status, InvitationStatus::Revoked);
    assert_eq!(revoked.closed_by, Some(w.founder.user));
    let team = w
        .roster
        .administrator_team(&w.founder, w.org)
        .await
        .unwrap();
    assert_eq!(team.len(), 1, "removed from the team: {team:?}");
    let pending = w
        .roster
        .invitations(
            &w.founder,
            w.org,
            InvitationFilter::pending(),
            Page::default(),
        )
        .await
        .unwrap();
    assert!(pending.items.is_empty());

    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation(&sam, &link, newcomer("Sam"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvitationNotPending {
            status: InvitationStatus::Revoked
        }
    ));
    for again in [
        w.roster
            .revoke_invitation(&w.founder, w.org, invited.invitation.id)
            .await
            .map(drop),
        w.roster
            .resend_invitation(&w.founder, w.org, invited.invitation.id)
            .await
            .map(drop),
    ] {
        assert!(matches!(again, Err(Error::InvitationNotPending { .. })));
    }
    assert_eq!(w.snapshot().await, before);
    assert!(w.events().await.iter().any(|e| matches!(
        &e.kind,
        EventKind::InvitationRevoked { invitation, .. } if *invitation == invited.invitation.id
    )));

    let again = w.invite(&sam, Role::Administrator, None).await;
    assert_ne!(again.invitation.id, invited.invitation.id);
    let accepted = w.accept(&sam, &again.token).await;
    assert!(accepted.member.is_administrator());
}

#[tokio::test]
async fn an_invitee_who_already_has_an_account_sees_a_warning_and_must_acknowledge_it() {
    // spec: INV-5, USR-3
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Administrator, None).await;
    let link = invited.token.expose();

    let preview = w.roster.preview_invitation(&link, true).await.unwrap();
    let warning = preview
        .existing_account_warning
        .expect("a warning for an existing account");
    assert_eq!(warning, EXISTING_ACCOUNT_WARNING);
    for what in [
        "Lists will follow",
        "licenses",
        "course-completion history",
        "integrations",
        "will not",
    ] {
        assert!(warning.contains(what), "the warning mentions {what:?}");
    }
    let fresh = w.roster.preview_invitation(&link, false).await.unwrap();
    assert_eq!(fresh.existing_account_warning, None);

    let before = w.snapshot().await;
    let unacknowledged = AcceptOptions {
        profile: profile("Sam", "Reyes"),
        existing_account: true,
        warning_acknowledged: false,
    };
    let err = w
        .roster
        .accept_invitation(&sam, &link, unacknowledged.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WarningNotAcknowledged));
    assert_actionable(&err, &["warning", "acknowledged"]);
    assert_eq!(w.snapshot().await, before);

    let acknowledged = AcceptOptions {
        warning_acknowledged: true,
        ..unacknowledged
    };
    let accepted = w
        .roster
        .accept_invitation(&sam, &link, acknowledged)
        .await
        .unwrap();
    assert_eq!(accepted.member.profile, profile("Sam", "Reyes"));
}

#[tokio::test]
async fn every_administrator_has_the_same_permissions_including_adding_administrators() {
    // spec: ADM-1, ADM-2
    let w = World::with(
        Capabilities {
            pay_per_use: true,
            ..learners_capability()
        },
        true,
    )
    .await;
    let sam = w.join("sam", Role::Administrator, None).await;
    // An invited administrator adds another administrator, who accepts.
    let kim = actor("kim");
    let invited = w
        .roster
        .invite_administrator(&sam, w.org, kim.email.clone(), profile("Kim", "Lee"))
        .await
        .unwrap();
    w.accept(&kim, &invited.token).await;
    let sales = w.team("Sales").await;

    for (i, admin) in [&w.founder, &sam, &kim].into_iter().enumerate() {
        for action in [
            HostAction::DownloadCourse,
            HostAction::DeliverCourse,
            HostAction::ViewReports,
            HostAction::DownloadReports,
            HostAction::PurchaseWithCard {
                card_owner: admin.user,
            },
            HostAction::CreatePayPerUseLicense,
            HostAction::ViewOrganizationAnalytics,
            HostAction::ViewTeamAnalytics(sales),
        ] {
            w.roster
                .authorize(admin, w.org, action)
                .await
                .unwrap_or_else(|e| panic!("{} {action:?}: {e}", admin.email));
        }
        let r = &w.roster;
        r.administrator_team(admin, w.org).await.unwrap();
        r.invitations(admin, w.org, InvitationFilter::default(), Page::default())
            .await
            .unwrap();
        r.members(admin, w.org, MemberFilter::default(), Page::default())
            .await
            .unwrap();
        r.audit_trail(admin, w.org, Page::default()).await.unwrap();
        r.seat_usage(admin, w.org).await.unwrap();
        r.invite_member(
            admin,
            w.org,
            email(&format!("learner{i}@example.com")),
            Role::Member,
            Some(sales),
        )
        .await
        .unwrap();
        r.invite_administrator(
            admin,
            w.org,
            email(&format!("admin{i}@example.com")),
            profile("New", "Admin"),
        )
        .await
        .unwrap();
        r.create_team(admin, w.org, team_name(&format!("Team {i}")))
            .await
            .unwrap();
        r.send_message(
            admin,
            w.org,
            Audience::Everyone,
            subject("Hello"),
            message("Hi all"),
        )
        .await
        .unwrap();
    }
    // The founder has nothing more than the others: an invited administrator may remove them.
    w.roster
        .remove_member(&kim, w.org, w.founder.user)
        .await
        .unwrap();
    assert!(w.member(w.founder.user).await.is_none());
}

#[tokio::test]
async fn every_administrator_receives_the_organizations_automated_notifications() {
    // spec: ADM-3, MSG-2
    let w = World::new().await;
    let sam = w.join("sam", Role::Administrator, None).await;
    let kim = w.join_with_manager("kim", Role::Administrator, None).await;
    let lee = w.join("lee", Role::Member, None).await;
    let sue = w.join("sue", Role::TeamSupervisor, None).await;
    w.roster.deliver_mail(100).await.unwrap();
    w.mailer.take();

    let queued = w
        .roster
        .notify_administrators(
            w.org,
            subject("A delivered course is scheduled to retire"),
            message("The course negotiation-201 retires on 1 March."),
        )
        .await
        .unwrap();
    assert_eq!(queued, 3);
    assert!(w.mailer.sent().is_empty(), "queued, not sent yet");

    let report = w.roster.deliver_mail(100).await.unwrap();
    assert_eq!(report.sent, 3);
    let mails = w.mailer.take();
    let recipients = sorted(mails.iter().map(|m| m.to.to_string()));
    let admins = sorted([&w.founder, &sam, &kim].map(|a| a.email.to_string()));
    assert_eq!(recipients, admins, "one notification per administrator");
    for mail in &mails {
        assert!(
            mail.subject
                .ends_with("A delivered course is scheduled to retire")
        );
        assert!(mail.text.contains("retires on 1 March"));
        assert!(mail.text.contains("because you are an administrator"));
    }
    assert!(!recipients.contains(&lee.email.to_string()));
    assert!(!recipients.contains(&sue.email.to_string()));
    assert!(
        w.events()
            .await
            .iter()
            .any(|e| matches!(e.kind, EventKind::NotificationSent { recipients: 3, .. }))
    );
}

#[tokio::test]
async fn joining_the_administrator_team_never_opens_another_members_private_resources() {
    // spec: USR-2, ADM-2
    let w = World::new().await;
    let sam = w.join("sam", Role::Administrator, None).await;
    for (me, other) in [(&sam, &w.founder), (&w.founder, &sam)] {
        for (action, permission) in [
            (
                HostAction::OpenList { owner: other.user },
                Permission::AccessPersonalResource,
            ),
            (
                HostAction::PurchaseWithCard {
                    card_owner: other.user,
                },
                Permission::PurchaseWithCard,
            ),
            (
                HostAction::ViewCredentials { owner: other.user },
                Permission::AccessPersonalResource,
            ),
        ] {
            let err = w.roster.authorize(me, w.org, action).await.unwrap_err();
            assert!(
                matches!(err, Error::Forbidden { permission: p } if p == permission),
                "{action:?}: {err:?}"
            );
        }
        for own in [
            HostAction::OpenList { owner: me.user },
            HostAction::PurchaseWithCard {
                card_owner: me.user,
            },
            HostAction::ViewCredentials { owner: me.user },
        ] {
            w.roster.authorize(me, w.org, own).await.unwrap();
        }
    }
}

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
            Capabilities {
                coursecloud_legacy: true,
                pay_per_use: true,
                legacy_integration: false,
            },
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

// ----- seed 004: the admin area ---------------------------------------------------------------

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
async fn inviting_members_in_bulk_invites_each_valid_address_with_the_role_and_team_and_reports_each_bad_line()
 {
    // spec: INV-7, INV-8
    let w = World::new().await;
    let sales = w.team("Sales").await;
    w.invite(&actor("pending"), Role::Member, None).await;
    w.roster.deliver_mail(100).await.unwrap();
    w.mailer.take();

    let paste = "ann@example.com, bob@example.com; carl@example.com\n\
                 not-an-address\n\
                 Ann@Example.com\tdora@example.com\r\n\
                 founder@example.com\n\
                 PENDING@example.com\n";
    let report = w
        .roster
        .invite_members(&w.founder, w.org, paste, Role::TeamSupervisor, Some(sales))
        .await
        .unwrap();

    let invited: Vec<(usize, String)> = report
        .invited
        .iter()
        .map(|(line, c)| (*line, c.invitation.email.to_string()))
        .collect();
    assert_eq!(
        invited,
        [
            (1, "ann@example.com".to_owned()),
            (1, "bob@example.com".to_owned()),
            (1, "carl@example.com".to_owned()),
            (3, "dora@example.com".to_owned()),
        ]
    );
    for (_, created) in &report.invited {
        assert_eq!(created.invitation.role, Role::TeamSupervisor);
        assert_eq!(created.invitation.team, Some(sales));
        assert_eq!(created.invitation.status, InvitationStatus::Pending);
    }

    let rejected: Vec<(usize, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.line, r.text.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (2, "not-an-address"),
            (3, "Ann@Example.com"),
            (4, "founder@example.com"),
            (5, "PENDING@example.com"),
        ]
    );
    assert!(matches!(
        report.rejected[0].reason,
        BulkLineError::Invalid(_)
    ));
    assert_eq!(
        report.rejected[1].reason,
        BulkLineError::DuplicateInPaste { first_line: 1 }
    );
    assert_eq!(report.rejected[2].reason, BulkLineError::AlreadyMember);
    assert_eq!(report.rejected[3].reason, BulkLineError::AlreadyInvited);
    for r in &report.rejected {
        assert!(r.reason.to_string().len() > 20, "{:?}", r.reason);
    }

    // The rest went out.
    let sent = w.roster.deliver_mail(100).await.unwrap();
    assert_eq!(sent.sent, 4);
    let recipients = sorted(w.mailer.take().into_iter().map(|m| m.to.to_string()));
    assert_eq!(
        recipients,
        [
            "ann@example.com",
            "bob@example.com",
            "carl@example.com",
            "dora@example.com"
        ]
    );

    let dora = Actor::new(UserId::new(), email("dora@example.com"));
    let accepted = w.accept(&dora, &report.invited[3].1.token).await;
    assert_eq!(
        w.roles(dora.user).await,
        [Role::TeamSupervisor, Role::Member]
    );
    assert!(w.team_member_ids(sales).await.contains(&accepted.member.id));
}

#[tokio::test]
async fn administrator_and_team_supervisor_are_never_held_together_and_never_swapped() {
    // spec: ROLE-2
    let w = World::new().await;
    let sam = w.join("sam", Role::Administrator, None).await;
    let sue = w.join("sue", Role::TeamSupervisor, None).await;
    let before = w.snapshot().await;

    let err = w
        .roster
        .grant_role(&w.founder, w.org, sam.user, Role::TeamSupervisor)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::RolesNotCumulative {
            held: Role::Administrator,
            requested: Role::TeamSupervisor
        }
    ));
    assert_actionable(&err, &["Team Supervisor", "Administrator", "revoke"]);
    let err = w
        .roster
        .grant_role(&w.founder, w.org, sue.user, Role::Administrator)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::RolesNotCumulative {
            held: Role::TeamSupervisor,
            requested: Role::Administrator
        }
    ));
    assert_eq!(w.snapshot().await, before, "never swapped silently");
    assert_eq!(w.roles(sam.user).await, [Role::Administrator, Role::Member]);
    assert_eq!(
        w.roles(sue.user).await,
        [Role::TeamSupervisor, Role::Member]
    );

    // The way through is explicit: revoke, then grant.
    w.roster
        .revoke_role(&w.founder, w.org, sue.user, Role::TeamSupervisor)
        .await
        .unwrap();
    w.roster
        .grant_role(&w.founder, w.org, sue.user, Role::Administrator)
        .await
        .unwrap();
    assert_eq!(w.roles(sue.user).await, [Role::Administrator, Role::Member]);
}

#[tokio::test]
async fn no_invitation_can_make_a_supervisor_an_administrator_too() {
    // spec: ROLE-5, ROLE-2
    let w = World::new().await;
    let sue = w.join("sue", Role::TeamSupervisor, None).await;
    let mia = w.join("mia", Role::Manager, None).await;
    let before = w.snapshot().await;

    let err = w
        .roster
        .invite_administrator(&w.founder, w.org, sue.email.clone(), profile("Sue", "S"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyMember), "{err:?}");
    for role_path in [
        w.roster
            .invite_member(
                &w.founder,
                w.org,
                email("x@example.com"),
                Role::Administrator,
                None,
            )
            .await
            .map(drop),
        w.roster
            .invite_members(
                &w.founder,
                w.org,
                "x@example.com",
                Role::Administrator,
                None,
            )
            .await
            .map(drop),
    ] {
        assert!(matches!(role_path, Err(Error::Invalid(_))), "{role_path:?}");
    }
    assert_eq!(w.snapshot().await, before);

    // Invited under another address that she then signs in with.
    let sue_elsewhere = Actor::new(sue.user, email("sue.other@example.com"));
    let invited = w
        .roster
        .invite_administrator(
            &w.founder,
            w.org,
            sue_elsewhere.email.clone(),
            profile("Sue", "S"),
        )
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation(&sue_elsewhere, &invited.token.expose(), newcomer("Sue"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyMember), "{err:?}");
    assert_eq!(w.snapshot().await, before);
    assert_eq!(
        w.roles(sue.user).await,
        [Role::TeamSupervisor, Role::Member]
    );

    // Only administrators grant roles.
    for granter in [&mia, &sue] {
        let err = w
            .roster
            .grant_role(granter, w.org, sue.user, Role::Manager)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Forbidden {
                permission: Permission::ManageRoles
            }
        ));
    }
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn there_are_four_roles_every_member_is_a_learner_and_manager_combines_with_the_others() {
    // spec: ROLE-1, ROLE-3
    assert_eq!(
        Role::ALL,
        [
            Role::Administrator,
            Role::Manager,
            Role::TeamSupervisor,
            Role::Member
        ]
    );
    let w = World::new().await;
    let lee = w.join("lee", Role::Member, None).await;
    let mia = w.join("mia", Role::Manager, None).await;
    let sue = w.join("sue", Role::TeamSupervisor, None).await;
    let sam = w.join("sam", Role::Administrator, None).await;
    assert_eq!(w.roles(lee.user).await, [Role::Member]);
    assert_eq!(w.roles(mia.user).await, [Role::Manager, Role::Member]);
    assert_eq!(
        w.roles(sue.user).await,
        [Role::TeamSupervisor, Role::Member]
    );
    assert_eq!(w.roles(sam.user).await, [Role::Administrator, Role::Member]);

    for who in [&sam, &sue] {
        w.roster
            .grant_role(&w.founder, w.org, who.user, Role::Manager)
            .await
            .unwrap();
    }
    assert_eq!(
        w.roles(sam.user).await,
        [Role::Administrator, Role::Manager, Role::Member]
    );
    assert_eq!(
        w.roles(sue.user).await,
        [Role::Manager, Role::TeamSupervisor, Role::Member]
    );

    let before = w.snapshot().await;
    let err = w
        .roster
        .revoke_role(&w.founder, w.org, lee.user, Role::Member)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LearnerRoleIsPermanent));
    assert_eq!(w.snapshot().await, before);

    // What each role is for.
    w.roster
        .authorize(&mia, w.org, HostAction::ViewOrganizationAnalytics)
        .await
        .unwrap();
    w.roster
        .authorize(&lee, w.org, HostAction::DownloadOwnCertificates)
        .await
        .unwrap();
    for denied in [
        HostAction::ViewOrganizationAnalytics,
        HostAction::ViewReports,
    ] {
        assert!(matches!(
            w.roster.authorize(&lee, w.org, denied).await,
            Err(Error::Forbidden { .. })
        ));
    }
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

    let team_filter = |team| MemberFilter {
        role: None,
        team: Some(team),
    };
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

#[tokio::test]
async fn messages_go_to_every_member_or_to_one_team_through_the_outbox() {
    // spec: MSG-1, MSG-2
    let w = World::new().await;
    let a = w.team("Team A").await;
    let b = w.team("Team B").await;
    let sue = w.join("sue", Role::TeamSupervisor, Some(a)).await;
    let ann = w.join("ann", Role::Member, Some(a)).await;
    let bob = w.join("bob", Role::Member, Some(b)).await;
    w.roster.deliver_mail(100).await.unwrap();
    w.mailer.take();

    let queued = w
        .roster
        .send_message(
            &w.founder,
            w.org,
            Audience::Everyone,
            subject("Launch week"),
            message("Training starts Monday."),
        )
        .await
        .unwrap();
    assert_eq!(queued, 3, "everyone but the sender");
    assert!(w.mailer.sent().is_empty(), "mail leaves through the outbox");
    assert_eq!(w.roster.deliver_mail(100).await.unwrap().sent, 3);
    let mails = w.mailer.take();
    assert_eq!(
        sorted(mails.iter().map(|m| m.to.to_string())),
        sorted([&sue, &ann, &bob].map(|a| a.email.to_string()))
    );
    assert!(
        mails
            .iter()
            .all(|m| m.subject == "Launch week" && m.text.contains("Training starts Monday."))
    );

    let queued = w
        .roster
        .send_message(
            &w.founder,
            w.org,
            Audience::Team(a),
            subject("Team A"),
            message("SQL this month."),
        )
        .await
        .unwrap();
    assert_eq!(queued, 2);
    w.roster.deliver_mail(100).await.unwrap();
    let mails = w.mailer.take();
    assert_eq!(
        sorted(mails.iter().map(|m| m.to.to_string())),
        sorted([&sue, &ann].map(|a| a.email.to_string()))
    );
    assert!(mails.iter().all(|m| m.text.contains("to the team Team A")));

    // Supervisors message their teams, and only those.
    let queued = w
        .roster
        .send_message(
            &sue,
            w.org,
            Audience::Team(a),
            subject("Hi"),
            message("Hi team"),
        )
        .await
        .unwrap();
    assert_eq!(queued, 1);
    w.roster.deliver_mail(100).await.unwrap();
    let mails = w.mailer.take();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ann.email);

    let before = w.snapshot().await;
    for (who, audience, permission) in [
        (&sue, Audience::Everyone, Permission::MessageEveryone),
        (&sue, Audience::Team(b), Permission::MessageTeam),
        (&ann, Audience::Team(a), Permission::MessageTeam),
    ] {
        let err = w
            .roster
            .send_message(who, w.org, audience, subject("x"), message("x"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Forbidden { permission: p } if p == permission),
            "{err:?}"
        );
    }
    assert_eq!(w.snapshot().await, before);
    assert_eq!(w.roster.deliver_mail(100).await.unwrap().sent, 0);
}

#[tokio::test]
async fn mail_queued_while_the_mail_server_is_down_is_retried_and_never_silently_dropped() {
    // spec: INV-9, MSG-2
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Member, None).await;

    let down = Roster::builder(
        w.store.clone(),
        FailingMailer::always_transient(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .clock(w.clock.clone())
    .build();
    let report = down.deliver_mail(10).await.unwrap();
    assert_eq!((report.sent, report.retried, report.failed), (0, 1, 0));
    assert_eq!(
        w.roster.deliver_mail(10).await.unwrap().sent,
        0,
        "not due before its backoff"
    );

    w.advance(Duration::hours(1));
    let report = w.roster.deliver_mail(10).await.unwrap();
    assert_eq!(report.sent, 1);
    let mails = w.mailer.take();
    assert_eq!(mails[0].to, sam.email);
    assert!(mails[0].text.contains(&invited.token.expose()));

    // A permanent failure is recorded, with its reason, not dropped.
    let kim = actor("kim");
    w.invite(&kim, Role::Member, None).await;
    let bounce = Roster::builder(
        w.store.clone(),
        FailingMailer::always_permanent(),
        orgroster::LinkKey::from_bytes([7; 32]),
    )
    .clock(w.clock.clone())
    .build();
    assert_eq!(bounce.deliver_mail(10).await.unwrap().failed, 1);
    let failed = w
        .roster
        .failed_mail(&w.founder, w.org, Page::default())
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].to, kim.email);
    assert!(
        failed.items[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("550"))
    );
    assert!(w.events().await.iter().any(|e| matches!(
        &e.kind,
        EventKind::MailFailed { to, .. } if *to == kim.email
    )));
    assert_eq!(w.roster.deliver_mail(10).await.unwrap().sent, 0);
}

#[tokio::test]
async fn an_invitation_is_accepted_only_by_its_address_compared_without_regard_to_case() {
    // spec: INV-6
    let w = World::new().await;
    let invited = w
        .roster
        .invite_member(
            &w.founder,
            w.org,
            email("Jane.Doe@Example.COM"),
            Role::Member,
            None,
        )
        .await
        .unwrap();
    let link = invited.token.expose();
    assert_eq!(link.len(), 43, "32 random bytes: 256 bits");
    let stored = w.invitation(invited.invitation.id).await;
    assert_eq!(
        stored.token_hash,
        invited.token.hash(),
        "only the hash is stored"
    );

    let before = w.snapshot().await;
    let elsewhere = Actor::new(UserId::new(), email("jane.doe@example.org"));
    let err = w
        .roster
        .accept_invitation(&elsewhere, &link, newcomer("Jane"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EmailMismatch));
    assert_actionable(&err, &["sign in with the invited address"]);
    assert_eq!(w.snapshot().await, before);

    let jane = Actor::new(UserId::new(), email("jane.doe@example.com"));
    let accepted = w
        .roster
        .accept_invitation(&jane, &link, newcomer("Jane"))
        .await
        .unwrap();
    assert_eq!(accepted.member.user, jane.user);

    // Single use.
    let twin = Actor::new(UserId::new(), email("JANE.DOE@example.com"));
    let err = w
        .roster
        .accept_invitation(&twin, &link, newcomer("Jane"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvitationNotPending { .. }));
}

#[tokio::test]
async fn previewing_an_invitation_never_changes_anything_even_once_it_expired() {
    // spec: INV-10, INV-2
    let w = World::new().await;
    let sales = w.team("Sales").await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Manager, Some(sales)).await;
    let link = invited.token.expose();

    let before = w.snapshot().await;
    let preview = w.roster.preview_invitation(&link, false).await.unwrap();
    assert_eq!(preview.invitation, invited.invitation.id);
    assert_eq!(preview.organization.as_str(), "Northwind Learning");
    assert_eq!(preview.role, Role::Manager);
    assert_eq!(preview.team.as_ref().map(|t| t.as_str()), Some("Sales"));
    assert_eq!(preview.status, InvitationStatus::Pending);
    assert!(!preview.expired);
    // A mail scanner opens it again, with and without the account flag.
    assert_eq!(
        w.roster.preview_invitation(&link, false).await.unwrap(),
        preview
    );
    w.roster.preview_invitation(&link, true).await.unwrap();
    assert_eq!(w.snapshot().await, before);

    w.advance(Duration::days(11));
    let before = w.snapshot().await;
    let preview = w.roster.preview_invitation(&link, true).await.unwrap();
    assert!(preview.expired);
    assert_eq!(preview.status, InvitationStatus::Pending);
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
async fn the_last_administrator_can_be_neither_removed_nor_demoted() {
    // spec: ADM-5
    let w = World::new().await;
    let before = w.snapshot().await;
    let me = w.founder.user;
    for result in [
        w.roster
            .remove_member(&w.founder, w.org, me)
            .await
            .map(drop),
        w.roster
            .revoke_role(&w.founder, w.org, me, Role::Administrator)
            .await
            .map(drop),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::LastAdministrator), "{err:?}");
        assert_actionable(&err, &["without an administrator", "first"]);
    }
    assert_eq!(w.snapshot().await, before);

    let sam = w.join("sam", Role::Administrator, None).await;
    w.roster
        .revoke_role(&sam, w.org, me, Role::Administrator)
        .await
        .unwrap();
    let before = w.snapshot().await;
    for result in [
        w.roster
            .remove_member(&sam, w.org, sam.user)
            .await
            .map(drop),
        w.roster
            .revoke_role(&sam, w.org, sam.user, Role::Administrator)
            .await
            .map(drop),
    ] {
        assert!(
            matches!(result, Err(Error::LastAdministrator)),
            "{result:?}"
        );
    }
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn a_removed_or_demoted_member_loses_access_at_once() {
    // spec: ROLE-4
    let w = World::new().await;
    let a = w.team("A").await;
    let sam = w.join("sam", Role::Administrator, None).await;
    let sue = w.join("sue", Role::TeamSupervisor, Some(a)).await;
    let lee = w.join("lee", Role::Member, None).await;
    w.roster
        .invite_member(&sam, w.org, email("one@example.com"), Role::Member, None)
        .await
        .unwrap();
    w.roster
        .add_team_member(&sue, w.org, a, lee.user)
        .await
        .unwrap();

    // Demoted: the very next command is refused.
    w.roster
        .revoke_role(&w.founder, w.org, sam.user, Role::Administrator)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .invite_member(&sam, w.org, email("two@example.com"), Role::Member, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Forbidden {
            permission: Permission::InviteLearners
        }
    ));
    assert_actionable(&err, &["invite_learners"]);
    assert_eq!(w.snapshot().await, before);

    // Taken out of the team: no longer manages it.
    w.roster
        .remove_team_member(&w.founder, w.org, a, sue.user)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .remove_team_member(&sue, w.org, a, lee.user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    assert_eq!(w.snapshot().await, before);

    // Removed: nothing at all, not even their own profile.
    w.roster
        .remove_member(&w.founder, w.org, sam.user)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .update_profile(&sam, w.org, profile("Sam", "Gone"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }));
    for action in [
        HostAction::DownloadOwnCertificates,
        HostAction::OpenList { owner: sam.user },
    ] {
        assert!(matches!(
            w.roster.authorize(&sam, w.org, action).await,
            Err(Error::Forbidden { .. })
        ));
    }
    assert!(matches!(
        w.roster.teams(&sam, w.org, Page::default()).await,
        Err(Error::Forbidden { .. })
    ));
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_accepts_declines_and_revokes_of_one_invitation_exactly_one_wins() {
    // spec: INV-11, INV-1
    let w = World::new().await;
    for round in 0..20 {
        let address = email(&format!("racer{round}@example.com"));
        let invited = w
            .roster
            .invite_member(&w.founder, w.org, address.clone(), Role::Member, None)
            .await
            .unwrap();
        let link = invited.token.expose();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (r, who, link) = (
                w.roster.clone(),
                Actor::new(UserId::new(), address.clone()),
                link.clone(),
            );
            tasks.push(tokio::spawn(async move {
                r.accept_invitation(&who, &link, newcomer("Racer"))
                    .await
                    .map(drop)
            }));
        }
        let (r, link) = (w.roster.clone(), link.clone());
        tasks.push(tokio::spawn(async move {
            r.decline_invitation(&link).await.map(drop)
        }));
        let (r, founder, org, id) = (
            w.roster.clone(),
            w.founder.clone(),
            w.org,
            invited.invitation.id,
        );
        tasks.push(tokio::spawn(async move {
            r.revoke_invitation(&founder, org, id).await.map(drop)
        }));
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => wins += 1,
                Err(e) => assert!(
                    matches!(e, Error::InvitationNotPending { .. }),
                    "a loser learns the invitation is closed: {e:?}"
                ),
            }
        }
        assert_eq!(wins, 1, "round {round}");
        let members = w
            .snapshot()
            .await
            .members
            .into_iter()
            .filter(|m| m.email == address)
            .count();
        assert!(members <= 1);
    }

    // One user never joins twice, even through two invitations raced at once.
    let user = UserId::new();
    let mut tasks = Vec::new();
    for address in ["twin.one@example.com", "twin.two@example.com"] {
        let who = Actor::new(user, email(address));
        let invited = w.invite(&who, Role::Member, None).await;
        let r = w.roster.clone();
        tasks.push(tokio::spawn(async move {
            r.accept_invitation(&who, &invited.token.expose(), newcomer("Twin"))
                .await
                .map(drop)
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(e) => assert!(matches!(e, Error::AlreadyMember), "{e:?}"),
        }
    }
    assert_eq!(wins, 1);
    let count = w
        .snapshot()
        .await
        .members
        .iter()
        .filter(|m| m.user == user)
        .count();
    assert_eq!(count, 1);
}
