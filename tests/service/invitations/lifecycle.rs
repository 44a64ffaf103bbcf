//! What becomes of a pending invitation besides acceptance: declined (INV-1), expired after ten
//! days yet still listed as pending (INV-2), resent with a new link (INV-3), revoked (INV-4);
//! the listing drops what is settled and the audit trail keeps it (INV-12).

use chrono::Duration;
use orgroster::{
    EntityKind, Error, EventActor, EventKind, InvitationFilter, InvitationStatus, MembershipStatus,
    Page, Role, Roster, RosterConfig,
};

use crate::fixture::{World, actor, assert_actionable, email, newcomer};

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
