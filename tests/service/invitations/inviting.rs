//! Inviting: an administrator by email and name, once the licenses are there (ADM-4, ORG-3),
//! and members in bulk from a paste, each bad line reported with its reason (INV-7, INV-8).

use orgroster::{
    Actor, BulkLineError, EmailAddress, Field, InvitationFilter, InvitationStatus,
    MembershipStatus, Page, Profile, Role, UserId,
};

use crate::fixture::{World, actor, email, newcomer, profile, sorted};

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
