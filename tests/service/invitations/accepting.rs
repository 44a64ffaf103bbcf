//! Accepting an invitation through its link: the invitee becomes an active member with the
//! invitation's role and team (INV-1); an existing account acknowledges a warning first
//! (INV-5, USR-3); only the invited address may accept (INV-6); previewing changes nothing
//! (INV-10); and of concurrent answers to one invitation exactly one wins (INV-11).

use chrono::Duration;
use orgroster::{
    AcceptOptions, Actor, EXISTING_ACCOUNT_WARNING, Error, InvitationStatus, MemberFilter, Page,
    Role, UserId,
};

use crate::fixture::{World, actor, assert_actionable, email, newcomer, profile};

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
    let unacknowledged = AcceptOptions::new(profile("Sam", "Reyes")).existing_account(false);
    let err = w
        .roster
        .accept_invitation(&sam, &link, unacknowledged.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WarningNotAcknowledged));
    assert_actionable(&err, &["warning", "acknowledged"]);
    assert_eq!(w.snapshot().await, before);

    let acknowledged = unacknowledged.clone().existing_account(true);
    let accepted = w
        .roster
        .accept_invitation(&sam, &link, acknowledged)
        .await
        .unwrap();
    assert_eq!(accepted.member.profile, profile("Sam", "Reyes"));
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
