//! An invitation's own lifetime and the host's metadata it carries to the membership
//! (INV-14), for one invitation, an administrator's, and a whole paste.

use chrono::Duration;
use orgroster::{Error, Field, InviteOptions, Lifetime, Metadata, Page, Role, ValidationError};

use crate::fixture::{World, actor, newcomer, profile};

fn metadata() -> Metadata {
    Metadata::parse(r#"{"cohort":"2027-spring","cost_center":4711}"#).unwrap()
}

#[tokio::test]
async fn an_invitation_with_its_own_lifetime_expires_then_and_keeps_it_when_resent() {
    // spec: INV-14, INV-2, INV-3
    let w = World::new().await;
    let two_hours = Lifetime::new(Duration::hours(2)).unwrap();
    let ann = actor("ann");
    let sent = w
        .roster
        .invite_member_with(
            &w.founder,
            w.org,
            ann.email.clone(),
            Role::Member,
            None,
            InviteOptions::default().lifetime(two_hours),
        )
        .await
        .unwrap();
    assert_eq!(
        sent.invitation.expires_at,
        w.roster.now() + Duration::hours(2)
    );
    assert_eq!(
        w.invitation(sent.invitation.id).await.lifetime,
        Some(two_hours)
    );

    w.advance(Duration::hours(3));
    let err = w
        .roster
        .accept_invitation(&ann, &sent.token.expose(), newcomer("Ann"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvitationExpired { .. }), "{err:?}");

    // Resent, it works for its own two hours again, not the roster's ten days.
    let again = w
        .roster
        .resend_invitation(&w.founder, w.org, sent.invitation.id)
        .await
        .unwrap();
    assert_eq!(
        again.invitation.expires_at,
        w.roster.now() + Duration::hours(2)
    );
    // An invitation without one keeps the roster's setting.
    let bob = w.invite(&actor("bob"), Role::Member, None).await;
    assert_eq!(
        bob.invitation.expires_at,
        w.roster.now() + w.roster.config().invitation_ttl
    );
    assert_eq!(bob.invitation.lifetime, None);
}

#[tokio::test]
async fn the_membership_keeps_the_invitations_metadata() {
    // spec: INV-14, USR-4
    let w = World::new().await;
    let sam = actor("sam");
    let sent = w
        .roster
        .invite_administrator_with(
            &w.founder,
            w.org,
            sam.email.clone(),
            profile("Sam", "Admin"),
            InviteOptions::default().metadata(metadata()),
        )
        .await
        .unwrap();
    assert_eq!(sent.invitation.metadata, Some(metadata()));
    let joined = w
        .roster
        .accept_invitation(&sam, &sent.token.expose(), newcomer("Sam"))
        .await
        .unwrap();
    assert_eq!(joined.member.metadata, Some(metadata()));
    let stored = w.member(sam.user).await.unwrap();
    assert_eq!(
        stored.metadata.as_ref().and_then(|m| m.get("cost_center")),
        Some(&serde_json::json!(4711))
    );
    let menu = w.roster.memberships(&sam, Page::first(10)).await.unwrap();
    assert_eq!(menu.items[0].member.metadata, Some(metadata()));
    // Without metadata, a membership has none.
    let lee = w.join("lee", Role::Member, None).await;
    assert_eq!(w.member(lee.user).await.unwrap().metadata, None);
}

#[tokio::test]
async fn a_paste_gives_every_invitation_the_same_lifetime_and_metadata() {
    // spec: INV-14, INV-7
    let w = World::new().await;
    let week = Lifetime::new(Duration::days(7)).unwrap();
    let report = w
        .roster
        .invite_members_with(
            &w.founder,
            w.org,
            "one@example.com, two@example.com\nnot-an-address",
            Role::Member,
            None,
            InviteOptions::default().lifetime(week).metadata(metadata()),
        )
        .await
        .unwrap();
    assert_eq!(report.invited.len(), 2);
    assert_eq!(report.rejected.len(), 1);
    for (_, created) in &report.invited {
        let stored = w.invitation(created.invitation.id).await;
        assert_eq!(stored.lifetime, Some(week));
        assert_eq!(stored.metadata, Some(metadata()));
        assert_eq!(stored.expires_at, w.roster.now() + Duration::days(7));
    }
}

#[test]
fn lifetimes_out_of_range_and_metadata_too_large_or_not_an_object_are_typed_errors() {
    // spec: INV-14, ERR-3 — refused before any command can run: nothing can change.
    for lifetime in [Duration::minutes(30), Duration::days(31)] {
        let err = Lifetime::new(lifetime).unwrap_err();
        assert_eq!(err.field(), Field::Lifetime);
        assert!(err.to_string().contains("1 hour to 30 days"), "{err}");
        assert!(matches!(Error::from(err), Error::Invalid(_)));
    }
    let large = serde_json::json!({ "notes": "x".repeat(5000) });
    assert!(matches!(
        Metadata::new(large),
        Err(ValidationError::TooLong {
            field: Field::Metadata,
            max: 4096,
            ..
        })
    ));
    let err = Metadata::parse("[\"not\", \"an\", \"object\"]").unwrap_err();
    assert_eq!(err.field(), Field::Metadata);
    assert!(err.to_string().contains("JSON object"), "{err}");
}
