//! Messages to every member or to one team (MSG-1) and the notifications every administrator
//! receives (ADM-3), all sent through the outbox (MSG-2).

use orgroster::{Audience, Error, EventKind, Permission, Role};

use crate::fixture::{World, message, sorted, subject};

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
