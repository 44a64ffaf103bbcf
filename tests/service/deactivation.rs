//! Deactivating and reactivating a member (MEM-2): no access, no mail and no seat while
//! deactivated; roles, teams and history kept; everything back on reactivation.

use orgroster::{
    Audience, Error, EventActor, EventKind, MemberFilter, MembershipStatus, Page, Period,
    Permission, Role, StatsScope,
};

use crate::fixture::{World, actor, assert_actionable, message, sorted, subject};

#[tokio::test]
async fn a_deactivated_member_loses_access_at_once_and_keeps_roles_teams_and_history() {
    // spec: MEM-2, ROLE-4
    let w = World::new().await;
    let team = w.team("Night shift").await;
    let sue = w.join("sue", Role::TeamSupervisor, Some(team)).await;
    let ann = w.join("ann", Role::Member, Some(team)).await;

    let deactivated = w
        .roster
        .deactivate_member(&w.founder, w.org, sue.user)
        .await
        .expect("an administrator deactivates a member");
    assert_eq!(deactivated.status(), MembershipStatus::Deactivated);
    assert_eq!(deactivated.deactivated_at, Some(w.roster.now()));

    // Refused at once, whatever they ask, with an error that says what to do.
    let err = w
        .roster
        .members(
            &sue,
            w.org,
            MemberFilter::default().in_team(team),
            Page::first(10),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Deactivated), "{err:?}");
    assert_actionable(&err, &["deactivated", "reactivate"]);
    let err = w
        .roster
        .statistics(
            &sue,
            w.org,
            StatsScope::Team(team),
            Period::days_until(w.roster.now(), 7).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Deactivated), "{err:?}");
    let err = w.roster.leave_organization(&sue, w.org).await.unwrap_err();
    assert!(matches!(err, Error::Deactivated), "{err:?}");

    // Kept: the roles, the team, the history; shown as Deactivated.
    let kept = w.member(sue.user).await.expect("still a member");
    assert_eq!(kept.roles, deactivated.roles);
    assert!(kept.roles.contains(Role::TeamSupervisor));
    assert_eq!(w.team_member_ids(team).await.len(), 2, "still in the team");
    let event = w.events().await.pop().expect("an event");
    assert!(
        matches!(event.kind, EventKind::MemberDeactivated { user } if user == sue.user),
        "{event:?}"
    );
    assert!(matches!(event.actor, EventActor::User { user } if user == w.founder.user));
    let menu = w.roster.memberships(&sue, Page::first(10)).await.unwrap();
    assert_eq!(menu.items.len(), 1, "the account menu still lists it");
    assert_eq!(menu.items[0].member.status(), MembershipStatus::Deactivated);

    // Listings show the status and filter on it.
    let listed = |filter: MemberFilter| {
        let w = w.clone();
        async move {
            w.roster
                .members(&w.founder, w.org, filter, Page::first(10))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|m| (m.user, m.status()))
                .collect::<Vec<_>>()
        }
    };
    let all = listed(MemberFilter::default()).await;
    assert_eq!(all.len(), 3);
    assert!(all.contains(&(sue.user, MembershipStatus::Deactivated)));
    assert!(all.contains(&(ann.user, MembershipStatus::Active)));
    assert_eq!(
        listed(MemberFilter::default().deactivated()).await,
        vec![(sue.user, MembershipStatus::Deactivated)]
    );
    let active = listed(MemberFilter::default().active()).await;
    assert_eq!(active.len(), 2);
    assert!(!active.iter().any(|(user, _)| *user == sue.user));
    assert_eq!(
        listed(MemberFilter::default().in_team(team).deactivated()).await,
        vec![(sue.user, MembershipStatus::Deactivated)]
    );
}

#[tokio::test]
async fn reactivation_gives_everything_back() {
    // spec: MEM-2
    let w = World::new().await;
    let team = w.team("Day shift").await;
    let sue = w.join("sue", Role::TeamSupervisor, Some(team)).await;
    w.roster
        .deactivate_member(&w.founder, w.org, sue.user)
        .await
        .unwrap();

    let back = w
        .roster
        .reactivate_member(&w.founder, w.org, sue.user)
        .await
        .expect("an administrator reactivates a member");
    assert_eq!(back.status(), MembershipStatus::Active);
    assert_eq!(back.deactivated_at, None);
    assert!(back.roles.contains(Role::TeamSupervisor));
    let event = w.events().await.pop().expect("an event");
    assert!(
        matches!(event.kind, EventKind::MemberReactivated { user } if user == sue.user),
        "{event:?}"
    );
    // The supervisor acts on their team again.
    let members = w
        .roster
        .members(
            &sue,
            w.org,
            MemberFilter::default().in_team(team),
            Page::first(10),
        )
        .await
        .expect("access is back");
    assert_eq!(members.items.len(), 1);
}

#[tokio::test]
async fn a_deactivated_member_receives_no_messages_or_notifications() {
    // spec: MEM-2, MSG-1, ADM-3
    let w = World::new().await;
    let team = w.team("Readers").await;
    let ann = w.join("ann", Role::Member, Some(team)).await;
    let bob = w.join("bob", Role::Member, Some(team)).await;
    let sam = w.join("sam", Role::Administrator, None).await;
    w.roster.deliver_mail(100).await.unwrap();
    w.mailer.take();
    // Queued before they are deactivated, not yet sent: withdrawn for them.
    w.roster
        .send_message(
            &w.founder,
            w.org,
            Audience::Everyone,
            subject("Before"),
            message("Queued earlier."),
        )
        .await
        .unwrap();
    for user in [bob.user, sam.user] {
        w.roster
            .deactivate_member(&w.founder, w.org, user)
            .await
            .unwrap();
    }
    w.roster.deliver_mail(100).await.unwrap();
    let earlier = sorted(w.mailer.take().iter().map(|m| m.to.to_string()));
    assert_eq!(earlier, sorted([&ann].map(|a| a.email.to_string())));

    for audience in [Audience::Everyone, Audience::Team(team)] {
        let queued = w
            .roster
            .send_message(
                &w.founder,
                w.org,
                audience,
                subject("News"),
                message("Read this."),
            )
            .await
            .unwrap();
        assert_eq!(queued, 1, "{audience:?}: only ann");
    }
    let queued = w
        .roster
        .notify_administrators(w.org, subject("Retiring"), message("A course retires."))
        .await
        .unwrap();
    assert_eq!(queued, 1, "only the founder, the one active administrator");
    w.roster.deliver_mail(100).await.unwrap();
    let recipients = sorted(w.mailer.take().iter().map(|m| m.to.to_string()));
    assert_eq!(
        recipients,
        sorted([&ann, &ann, &w.founder].map(|a| a.email.to_string()))
    );

    // Reactivated, they receive mail again.
    w.roster
        .reactivate_member(&w.founder, w.org, bob.user)
        .await
        .unwrap();
    let queued = w
        .roster
        .send_message(
            &w.founder,
            w.org,
            Audience::Team(team),
            subject("Welcome back"),
            message("Hello again."),
        )
        .await
        .unwrap();
    assert_eq!(queued, 2);
}

#[tokio::test]
async fn deactivation_frees_a_seat_and_reactivation_needs_one() {
    // spec: MEM-2, ORG-4
    let w = World::new().await;
    let ann = w.join("ann", Role::Member, None).await;
    let bob = w.join("bob", Role::Member, None).await;
    w.roster.set_seat_cap(w.org, Some(3)).await.unwrap();
    let err = w
        .roster
        .invite_member(&w.founder, w.org, actor("cat").email, Role::Member, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SeatLimit { cap: 3, excess: 1 }),
        "{err:?}"
    );

    w.roster
        .deactivate_member(&w.founder, w.org, bob.user)
        .await
        .unwrap();
    let seats = w.roster.seat_usage(&w.founder, w.org).await.unwrap();
    assert_eq!((seats.members, seats.used()), (2, 2), "bob's seat is free");
    let cat = w
        .roster
        .invite_member(&w.founder, w.org, actor("cat").email, Role::Member, None)
        .await
        .expect("the freed seat takes an invitation");

    let before = w.snapshot().await;
    let err = w
        .roster
        .reactivate_member(&w.founder, w.org, bob.user)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SeatLimit { cap: 3, excess: 1 }),
        "{err:?}"
    );
    assert_eq!(w.snapshot().await, before, "nothing changed");

    w.roster
        .revoke_invitation(&w.founder, w.org, cat.invitation.id)
        .await
        .unwrap();
    w.roster
        .reactivate_member(&w.founder, w.org, bob.user)
        .await
        .expect("a seat is free again");
    assert_eq!(
        w.roster
            .seat_usage(&w.founder, w.org)
            .await
            .unwrap()
            .members,
        3
    );
    assert!(w.member(ann.user).await.unwrap().is_active());
}

#[tokio::test]
async fn the_last_active_administrator_stays() {
    // spec: MEM-2, ADM-5
    let w = World::new().await;
    let sam = w.join("sam", Role::Administrator, None).await;
    w.roster
        .deactivate_member(&w.founder, w.org, sam.user)
        .await
        .expect("one of two administrators");

    let before = w.snapshot().await;
    let err = w
        .roster
        .deactivate_member(&w.founder, w.org, w.founder.user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastAdministrator), "{err:?}");
    // A deactivated administrator does not count: the founder is the last active one.
    let err = w
        .roster
        .leave_organization(&w.founder, w.org)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastAdministrator), "{err:?}");
    let err = w
        .roster
        .revoke_role(&w.founder, w.org, w.founder.user, Role::Administrator)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastAdministrator), "{err:?}");
    assert_eq!(w.snapshot().await, before, "nothing changed");

    // The deactivated administrator can be demoted or removed: the active one stays.
    w.roster
        .remove_member(&w.founder, w.org, sam.user)
        .await
        .expect("removing a deactivated administrator");
}

#[tokio::test]
async fn deactivating_twice_reactivating_an_active_member_or_a_stranger_is_refused() {
    // spec: MEM-2, ERR-1, ERR-2
    let w = World::new().await;
    let ann = w.join("ann", Role::Member, None).await;
    let before = w.snapshot().await;
    let err = w
        .roster
        .reactivate_member(&w.founder, w.org, ann.user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotDeactivated), "{err:?}");
    assert_actionable(&err, &["active", "deactivated"]);
    let err = w
        .roster
        .deactivate_member(&w.founder, w.org, actor("stranger").user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(w.snapshot().await, before);

    w.roster
        .deactivate_member(&w.founder, w.org, ann.user)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .deactivate_member(&w.founder, w.org, ann.user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyDeactivated), "{err:?}");
    assert_actionable(&err, &["already deactivated", "reactivate"]);
    assert_eq!(w.snapshot().await, before);

    // A member of another organization is not found in this one.
    let other = w.another_organization(&ann, "Elsewhere").await;
    let err = w
        .roster
        .deactivate_member(&ann, other, w.founder.user)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    // Only administrators deactivate: a manager may not.
    let max = w.join("max", Role::Manager, None).await;
    let err = w
        .roster
        .reactivate_member(&max, w.org, ann.user)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Forbidden {
                permission: Permission::ManageMembers
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn failed_mail_to_a_deactivated_member_cannot_be_retried() {
    // spec: MEM-2, MSG-3
    let w = World::new().await;
    let ann = w.join("ann", Role::Member, None).await;
    w.roster.deliver_mail(100).await.unwrap();
    w.roster
        .send_message(
            &w.founder,
            w.org,
            Audience::Everyone,
            subject("News"),
            message("Read this."),
        )
        .await
        .unwrap();
    w.deliver_through(orgroster::FailingMailer::always_permanent())
        .await;
    let failed = w
        .roster
        .failed_mail(&w.founder, w.org, Page::first(10))
        .await
        .unwrap()
        .items;
    let to_ann = failed
        .iter()
        .find(|m| m.to == ann.email)
        .expect("her message, given up")
        .id;
    w.roster
        .deactivate_member(&w.founder, w.org, ann.user)
        .await
        .unwrap();
    let before = w.snapshot().await;
    let err = w
        .roster
        .retry_mail(&w.founder, w.org, to_ann)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MailNotRetriable { .. }), "{err:?}");
    assert_actionable(&err, &["deactivated", "reactivate"]);
    assert_eq!(w.snapshot().await, before, "nothing changed");
    // Reactivated, she may have it again.
    w.roster
        .reactivate_member(&w.founder, w.org, ann.user)
        .await
        .unwrap();
    w.roster
        .retry_mail(&w.founder, w.org, to_ann)
        .await
        .expect("retried once she is back");
}
