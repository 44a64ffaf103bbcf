//! The invitee's inbox (INV-15): the pending invitations addressed to a signed-in user's email
//! across organizations, expired ones flagged, answered by id under exactly the rules of the
//! link: the invited address (any case), the existing-account warning (INV-5), the seat cap
//! (ORG-4), expiry (INV-2) and ROLE-2. An id of someone else's invitation is not found, and
//! nothing changes.

use chrono::Duration;
use orgroster::{
    AcceptOptions, Actor, EntityKind, Error, EventKind, InboxEntry, InvitationFilter, InvitationId,
    InvitationStatus, Page, Role, UserId,
};

use crate::fixture::{
    World, actor, assert_actionable, email, licensed_organization, newcomer, profile,
};

/// The ids of the entries of `actor`'s inbox, all of it.
async fn inbox_ids(w: &World, actor: &Actor) -> Vec<InvitationId> {
    inbox(w, actor)
        .await
        .into_iter()
        .map(|e| e.invitation)
        .collect()
}

/// `actor`'s whole inbox, in one page.
async fn inbox(w: &World, actor: &Actor) -> Vec<InboxEntry> {
    let listing = w
        .roster
        .inbox(actor, Page::first(Page::MAX_LIMIT))
        .await
        .unwrap();
    assert!(listing.next.is_none(), "one page holds it");
    listing.items
}

/// Asserts that `err` is the not-found of an invitation.
fn assert_invitation_not_found(err: &Error) {
    assert!(
        matches!(
            err,
            Error::NotFound {
                entity: EntityKind::Invitation
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_inbox_lists_the_pending_invitations_to_the_users_address_across_organizations() {
    // spec: INV-15, INV-2
    let w = World::new().await;
    let sales = w.team("Sales").await;
    let bob = actor("bob");
    let other = licensed_organization(&w.roster, &bob, "Southwind Courses", None).await;
    let here = w
        .roster
        .invite_member(
            &w.founder,
            w.org,
            email("Jane.Doe@Example.com"),
            Role::Manager,
            Some(sales),
        )
        .await
        .unwrap();
    let there = w
        .roster
        .invite_member(
            &bob,
            other,
            email("jane.doe@example.com"),
            Role::Member,
            None,
        )
        .await
        .unwrap();
    let sam = actor("sam");
    let sams = w.invite(&sam, Role::Member, None).await;
    // Signed in with the address in yet another case.
    let jane = Actor::new(UserId::new(), email("JANE.DOE@EXAMPLE.COM"));

    let entries = inbox(&w, &jane).await;
    let mut expected = vec![here.invitation.id, there.invitation.id];
    expected.sort();
    assert_eq!(
        entries.iter().map(|e| e.invitation).collect::<Vec<_>>(),
        expected,
        "both organizations', by id"
    );
    let first = entries
        .iter()
        .find(|e| e.invitation == here.invitation.id)
        .unwrap();
    assert_eq!(first.organization, w.org);
    assert_eq!(first.organization_name.as_str(), "Northwind Learning");
    assert_eq!(first.role, Role::Manager);
    assert_eq!(first.team.as_ref().map(|t| t.as_str()), Some("Sales"));
    assert_eq!(first.inviter, Some(profile("Maya", "Founder")));
    assert_eq!(first.expires_at, here.invitation.expires_at);
    assert!(!first.expired);
    let second = entries
        .iter()
        .find(|e| e.invitation == there.invitation.id)
        .unwrap();
    assert_eq!(second.organization, other);
    assert_eq!(second.organization_name.as_str(), "Southwind Courses");
    assert_eq!((second.role, second.team.as_ref()), (Role::Member, None));
    assert_eq!(second.inviter, Some(profile("Pool", "Founder")));

    // Pages of one, in the same order.
    let page = w.roster.inbox(&jane, Page::first(1)).await.unwrap();
    assert_eq!(page.items, entries[..1]);
    let next = page.next.expect("a full page has a next one");
    let page = w.roster.inbox(&jane, next).await.unwrap();
    assert_eq!(page.items, entries[1..]);

    // Nobody else's invitations, and nobody else sees Jane's.
    assert_eq!(inbox_ids(&w, &sam).await, [sams.invitation.id]);
    assert!(inbox(&w, &actor("nobody")).await.is_empty());

    // Expired, they stay, flagged (spec: INV-2).
    w.advance(Duration::days(10));
    let entries = inbox(&w, &jane).await;
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.expired));

    // Revoked, it leaves.
    w.roster
        .revoke_invitation(&w.founder, w.org, here.invitation.id)
        .await
        .unwrap();
    assert_eq!(inbox_ids(&w, &jane).await, [there.invitation.id]);
}

#[tokio::test]
async fn accepting_from_the_inbox_joins_with_the_invited_role_and_team_and_empties_the_entry() {
    // spec: INV-15, INV-1, INV-6
    let w = World::new().await;
    let sales = w.team("Sales").await;
    let invited = w
        .roster
        .invite_member(
            &w.founder,
            w.org,
            email("Mia@Example.com"),
            Role::Manager,
            Some(sales),
        )
        .await
        .unwrap();
    let mia = Actor::new(UserId::new(), email("mia@EXAMPLE.com"));
    assert_eq!(inbox_ids(&w, &mia).await, [invited.invitation.id]);

    let accepted = w
        .roster
        .accept_invitation_by_id(&mia, invited.invitation.id, newcomer("Mia"))
        .await
        .unwrap();
    assert_eq!(accepted.invitation.status, InvitationStatus::Accepted);
    assert_eq!(accepted.invitation.closed_by, Some(mia.user));
    assert_eq!(accepted.member.user, mia.user);
    assert_eq!(accepted.member.invitation, Some(invited.invitation.id));
    assert_eq!(w.roles(mia.user).await, [Role::Manager, Role::Member]);
    assert_eq!(w.team_member_ids(sales).await, [accepted.member.id]);
    assert!(inbox(&w, &mia).await.is_empty(), "accepted, it leaves");
    assert!(w.events().await.iter().any(|e| matches!(
        &e.kind,
        EventKind::InvitationAccepted { invitation, .. } if *invitation == invited.invitation.id
    )));

    // Accepted is final, by id and by link alike.
    let before = w.snapshot().await;
    for err in [
        w.roster
            .accept_invitation_by_id(&mia, invited.invitation.id, newcomer("Mia"))
            .await
            .map(drop)
            .unwrap_err(),
        w.roster
            .decline_invitation_by_id(&mia, invited.invitation.id)
            .await
            .map(drop)
            .unwrap_err(),
        w.roster
            .accept_invitation(&mia, &invited.token.expose(), newcomer("Mia"))
            .await
            .map(drop)
            .unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                Error::InvitationNotPending {
                    status: InvitationStatus::Accepted
                }
            ),
            "{err:?}"
        );
    }
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn declining_from_the_inbox_closes_the_invitation_as_the_link_does() {
    // spec: INV-15, INV-1, INV-12
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Member, None).await;
    let shouting = Actor::new(sam.user, email("SAM@example.com"));

    let declined = w
        .roster
        .decline_invitation_by_id(&shouting, invited.invitation.id)
        .await
        .unwrap();
    assert_eq!(declined.status, InvitationStatus::Declined);
    assert!(inbox(&w, &sam).await.is_empty(), "declined, it leaves");
    let listed = w
        .roster
        .invitations(
            &w.founder,
            w.org,
            InvitationFilter::pending(),
            Page::default(),
        )
        .await
        .unwrap();
    assert!(listed.items.is_empty(), "and the organization's listing");
    assert!(w.events().await.iter().any(|e| matches!(
        &e.kind,
        EventKind::InvitationDeclined { invitation, .. } if *invitation == invited.invitation.id
    )));
    assert!(w.member(sam.user).await.is_none());

    // Declined is final; its link is dead.
    let before = w.snapshot().await;
    let again = w
        .roster
        .decline_invitation_by_id(&sam, invited.invitation.id)
        .await
        .unwrap_err();
    assert!(matches!(
        again,
        Error::InvitationNotPending {
            status: InvitationStatus::Declined
        }
    ));
    let by_link = w
        .roster
        .accept_invitation(&sam, &invited.token.expose(), newcomer("Sam"))
        .await
        .unwrap_err();
    assert!(matches!(by_link, Error::InvitationNotPending { .. }));
    assert_eq!(w.snapshot().await, before);
}

#[tokio::test]
async fn an_invitation_addressed_to_someone_else_is_not_found_by_id_and_nothing_changes() {
    // spec: INV-15, INV-6, ERR-2
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Member, None).await;
    let id = invited.invitation.id;
    // Another user, another address; and Sam's own user id signed in with another address.
    let jane = actor("jane");
    let sam_elsewhere = Actor::new(sam.user, email("sam@example.org"));

    let before = w.snapshot().await;
    for who in [&jane, &sam_elsewhere, &w.founder] {
        let err = w
            .roster
            .accept_invitation_by_id(who, id, newcomer("Intruder"))
            .await
            .unwrap_err();
        assert_invitation_not_found(&err);
        assert_actionable(&err, &["invitation not found"]);
        let err = w
            .roster
            .decline_invitation_by_id(who, id)
            .await
            .unwrap_err();
        assert_invitation_not_found(&err);
        assert!(inbox(&w, who).await.is_empty());
    }
    // An unknown id is the same answer.
    let err = w
        .roster
        .accept_invitation_by_id(&sam, InvitationId::new(), newcomer("Sam"))
        .await
        .unwrap_err();
    assert_invitation_not_found(&err);
    let err = w
        .roster
        .decline_invitation_by_id(&sam, InvitationId::new())
        .await
        .unwrap_err();
    assert_invitation_not_found(&err);
    assert_eq!(w.snapshot().await, before);

    // Its invitee still can.
    w.roster
        .accept_invitation_by_id(&sam, id, newcomer("Sam"))
        .await
        .unwrap();
}

#[tokio::test]
async fn accepting_from_the_inbox_with_an_existing_account_needs_the_warning_acknowledged() {
    // spec: INV-15, INV-5, USR-3
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Administrator, None).await;

    let before = w.snapshot().await;
    let unacknowledged = AcceptOptions::new(profile("Sam", "Reyes")).existing_account(false);
    let err = w
        .roster
        .accept_invitation_by_id(&sam, invited.invitation.id, unacknowledged.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WarningNotAcknowledged), "{err:?}");
    assert_eq!(w.snapshot().await, before);
    assert_eq!(inbox_ids(&w, &sam).await, [invited.invitation.id]);

    let accepted = w
        .roster
        .accept_invitation_by_id(
            &sam,
            invited.invitation.id,
            unacknowledged.existing_account(true),
        )
        .await
        .unwrap();
    assert_eq!(accepted.member.profile, profile("Sam", "Reyes"));
    assert!(accepted.member.is_administrator());
}

#[tokio::test]
async fn the_seat_cap_holds_for_an_acceptance_from_the_inbox() {
    // spec: INV-15, ORG-4
    let w = World::new().await;
    w.roster.set_seat_cap(w.org, Some(3)).await.unwrap();
    let ann = actor("ann");
    let ann_invite = w.invite(&ann, Role::Member, None).await;
    w.invite(&actor("bob"), Role::Member, None).await;
    w.roster.set_seat_cap(w.org, Some(2)).await.unwrap();

    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation_by_id(&ann, ann_invite.invitation.id, newcomer("Ann"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SeatLimit { cap: 2, excess: 1 }),
        "{err:?}"
    );
    assert_eq!(w.snapshot().await, before);

    w.roster.set_seat_cap(w.org, Some(3)).await.unwrap();
    w.roster
        .accept_invitation_by_id(&ann, ann_invite.invitation.id, newcomer("Ann"))
        .await
        .unwrap();
    assert!(w.member(ann.user).await.is_some());
}

#[tokio::test]
async fn an_expired_invitation_is_flagged_in_the_inbox_and_cannot_be_answered_from_it() {
    // spec: INV-15, INV-2, INV-3
    let w = World::new().await;
    let sam = actor("sam");
    let invited = w.invite(&sam, Role::Member, None).await;
    let id = invited.invitation.id;
    w.advance(Duration::days(10));
    let entries = inbox(&w, &sam).await;
    assert_eq!(entries.len(), 1);
    assert!(entries[0].expired, "flagged");

    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation_by_id(&sam, id, newcomer("Sam"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvitationExpired { .. }), "{err:?}");
    assert_actionable(&err, &["expired", "resend"]);
    let err = w
        .roster
        .decline_invitation_by_id(&sam, id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvitationExpired { .. }), "{err:?}");
    assert_eq!(w.snapshot().await, before);
    assert_eq!(w.invitation(id).await.status, InvitationStatus::Pending);

    // Resent, it is fresh again and can be accepted from the inbox.
    w.roster
        .resend_invitation(&w.founder, w.org, id)
        .await
        .unwrap();
    assert!(!inbox(&w, &sam).await[0].expired);
    w.roster
        .accept_invitation_by_id(&sam, id, newcomer("Sam"))
        .await
        .unwrap();
}

#[tokio::test]
async fn no_acceptance_from_the_inbox_makes_a_supervisor_an_administrator_too() {
    // spec: INV-15, ROLE-2, ROLE-5
    let w = World::new().await;
    let sue = w.join("sue", Role::TeamSupervisor, None).await;
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
    assert_eq!(inbox_ids(&w, &sue_elsewhere).await, [invited.invitation.id]);

    let before = w.snapshot().await;
    let err = w
        .roster
        .accept_invitation_by_id(&sue_elsewhere, invited.invitation.id, newcomer("Sue"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyMember), "{err:?}");
    assert_eq!(w.snapshot().await, before);
    assert_eq!(
        w.roles(sue.user).await,
        [Role::TeamSupervisor, Role::Member]
    );
}
