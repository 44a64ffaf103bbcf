//! Rows as written: round trips, versions, uniqueness, atomic commits, the audit trail.

use super::fixtures::*;

/// An organization reads back as written, at version 1; creating it twice is a duplicate and
/// a stale put is a conflict.
pub async fn organization_roundtrip(store: Arc<DynStore>) {
    let org = new_org();
    store
        .commit(ChangeSet::new(org.id, OrganizationWrite::Put(org.clone())))
        .await
        .unwrap();
    let stored = reload(&*store, org.id).await;
    assert_eq!(stored.version, 1);
    assert_eq!(
        Organization {
            version: 0,
            ..stored.clone()
        },
        org
    );
    let again = store
        .commit(ChangeSet::new(org.id, OrganizationWrite::Put(org.clone())))
        .await;
    assert!(
        matches!(again, Err(StoreError::Duplicate { .. })),
        "{again:?}"
    );
    let mut renamed = stored.clone();
    renamed.seat_cap = Some(3);
    store
        .commit(ChangeSet::new(
            org.id,
            OrganizationWrite::Put(renamed.clone()),
        ))
        .await
        .unwrap();
    let stale = store
        .commit(ChangeSet::new(org.id, OrganizationWrite::Put(renamed)))
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(reload(&*store, org.id).await.seat_cap, Some(3));
    assert!(
        store
            .organization(OrganizationId::new())
            .await
            .unwrap()
            .is_none()
    );
}

/// spec: INV-11 — one member per (organization, user), enforced by the store; read-your-writes;
/// email lookup ignores case.
pub async fn members_are_unique_per_user_and_email(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let m = new_member(org.id, email("Ada", org.id));
    put(&*store, org.id, vec![Write::PutMember(m.clone())])
        .await
        .unwrap();
    let read = store.member(org.id, m.user).await.unwrap().unwrap();
    assert_eq!(read.version, 1);
    assert_eq!(read.email, m.email);
    let upper = EmailAddress::parse(m.email.as_str().to_uppercase()).unwrap();
    assert_eq!(
        targets_of(&*store, org.id, &[upper]).await.member_emails,
        vec![m.email.key().to_owned()]
    );

    let mut twin = new_member(org.id, email("other", org.id));
    twin.user = m.user;
    let dup = put(&*store, org.id, vec![Write::PutMember(twin)]).await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Duplicate {
                constraint: constraint::ONE_MEMBER_PER_USER
            })
        ),
        "{dup:?}"
    );
    let same_mail = new_member(
        org.id,
        EmailAddress::parse(m.email.as_str().to_uppercase()).unwrap(),
    );
    let dup = put(&*store, org.id, vec![Write::PutMember(same_mail)]).await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Duplicate {
                constraint: constraint::ONE_MEMBER_PER_EMAIL
            })
        ),
        "{dup:?}"
    );
    // The same user may belong to another organization.
    let other = stored_org(&*store).await;
    let mut elsewhere = new_member(other.id, m.email.clone());
    elsewhere.user = m.user;
    put(&*store, other.id, vec![Write::PutMember(elsewhere)])
        .await
        .unwrap();
}

/// Every write bumps the version by one; a write at a stale version is a conflict.
pub async fn versions_bump_on_every_write(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let m = new_member(org.id, email("v", org.id));
    put(&*store, org.id, vec![Write::PutMember(m.clone())])
        .await
        .unwrap();
    let mut read = store.member(org.id, m.user).await.unwrap().unwrap();
    read.roles = read.roles.grant(Role::Manager).unwrap();
    put(&*store, org.id, vec![Write::PutMember(read.clone())])
        .await
        .unwrap();
    let now = store.member(org.id, m.user).await.unwrap().unwrap();
    assert_eq!(now.version, 2);
    assert!(now.roles.contains(Role::Manager));
    let stale = put(&*store, org.id, vec![Write::PutMember(read)]).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(
        reload(&*store, org.id).await.version,
        3,
        "two touches after creation"
    );
    let stale_org = store.commit(changes(&org, vec![])).await;
    assert!(
        matches!(stale_org, Err(StoreError::Conflict { .. })),
        "{stale_org:?}"
    );
}

/// spec: ERR-2 — a change set with one stale write leaves every row, event and mail untouched.
pub async fn commit_is_atomic(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let existing = new_member(org.id, email("existing", org.id));
    put(&*store, org.id, vec![Write::PutMember(existing.clone())])
        .await
        .unwrap();
    let org = reload(&*store, org.id).await;
    let fresh = new_member(org.id, email("fresh", org.id));
    let team = new_team(org.id, "Atomic");
    let invitation = new_invitation(org.id, email("invitee", org.id), t0());
    let mut c = changes(
        &org,
        vec![
            Write::PutMember(fresh.clone()),
            Write::PutTeam(team.clone()),
            Write::PutInvitation(invitation.clone()),
            // Stale: the stored member is at version 1, this claims version 0 (insert).
            Write::PutMember(existing.clone()),
        ],
    );
    c.events.push(event(org.id));
    c.outbox.push(mail(org.id, fresh.email.clone(), t0()));
    assert!(store.commit(c).await.is_err());
    assert_eq!(reload(&*store, org.id).await.version, org.version);
    assert!(store.member(org.id, fresh.user).await.unwrap().is_none());
    assert!(store.team(org.id, team.id).await.unwrap().is_none());
    assert!(
        store
            .invitation(org.id, invitation.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .link_context(
                InvitationLookup::TokenHash(invitation.token_hash),
                None,
                t0()
            )
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .events(org.id, Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    let far = t0() + Duration::days(3650);
    let claimed = store
        .claim_outbox(ClaimId::new(), far, Duration::minutes(1), 1000)
        .await
        .unwrap();
    assert!(claimed.iter().all(|m| m.organization != org.id));
}

/// spec: INV-12 — events are appended in order and read back oldest first.
pub async fn events_are_kept_in_order(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let mut expected = Vec::new();
    for _ in 0..5 {
        let org = reload(&*store, org.id).await;
        let mut c = changes(&org, vec![]);
        let e = event(org.id);
        expected.push(e.id);
        c.events.push(e);
        store.commit(c).await.unwrap();
    }
    let first = store.events(org.id, Page::first(3)).await.unwrap();
    let rest = store
        .events(org.id, Page::after(first[2].id, 3))
        .await
        .unwrap();
    let got: Vec<EventId> = first.iter().chain(rest.iter()).map(|e| e.id).collect();
    assert_eq!(got, expected);
}

/// Deleting an organization removes every row of it and nothing of any other (spec: ORG-5):
/// members, invitations and their links, teams and memberships, the audit trail, mail and
/// learning activity; a second deletion finds nothing.
pub async fn deleting_an_organization_leaves_nothing_of_it(store: Arc<DynStore>) {
    let now = t0();
    let mut orgs = Vec::new();
    for name in ["gone", "kept"] {
        let org = stored_org(&*store).await;
        let member = new_member(org.id, email(&format!("{name}.member"), org.id));
        let team = new_team(org.id, "Deleted Along");
        let mut invitation = new_invitation(org.id, email(&format!("{name}.invitee"), org.id), now);
        invitation.token_hash = token(if name == "gone" { 41 } else { 42 }).hash();
        let mut c = changes(
            &org,
            vec![
                Write::PutMember(member.clone()),
                Write::PutTeam(team.clone()),
                Write::PutInvitation(invitation.clone()),
            ],
        );
        c.events = vec![event(org.id)];
        c.outbox = vec![invitation_mail(&invitation, now)];
        store.commit(c).await.unwrap();
        put(
            &*store,
            org.id,
            vec![Write::AddTeamMember {
                team: team.id,
                member: member.id,
                at: now,
            }],
        )
        .await
        .unwrap();
        let recorded = store
            .record_activities(org.id, &[learning(org.id, member.user, 1)])
            .await
            .unwrap();
        assert!(matches!(recorded, Recorded::New(_)), "{recorded:?}");
        orgs.push((org, member, team, invitation));
    }
    let period =
        crate::domain::activity::Period::new(t0() - Duration::days(1), t0() + Duration::days(1))
            .unwrap();

    let (gone, member, team, invitation) = &orgs[0];
    assert!(store.delete_organization(gone.id).await.unwrap());
    assert!(store.organization(gone.id).await.unwrap().is_none());
    assert!(store.member(gone.id, member.user).await.unwrap().is_none());
    assert!(all_members(&*store, gone.id).await.is_empty());
    assert!(
        store
            .memberships(member.user, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .invitation(gone.id, invitation.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .link_context(
                InvitationLookup::TokenHash(invitation.token_hash),
                None,
                now
            )
            .await
            .unwrap()
            .is_none(),
        "its links open nothing"
    );
    assert!(
        store
            .link_context(InvitationLookup::Id(invitation.id), None, now)
            .await
            .unwrap()
            .is_none(),
        "its ids name nothing"
    );
    assert!(
        store
            .inbox(&invitation.email, Page::first(10))
            .await
            .unwrap()
            .is_empty(),
        "its invitations leave their invitees' inboxes"
    );
    assert!(store.team(gone.id, team.id).await.unwrap().is_none());
    assert!(store.teams_of(gone.id, member.id).await.unwrap().is_empty());
    assert!(
        store
            .events(gone.id, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store
        .claim_outbox(ClaimId::new(), now, Duration::zero(), 10_000)
        .await
        .unwrap();
    assert!(
        claimed.iter().all(|m| m.organization != gone.id),
        "its mail is gone"
    );
    let activity = store
        .member_activity(
            gone.id,
            crate::domain::activity::StatsScope::Organization,
            period,
            Page::first(10),
        )
        .await
        .unwrap();
    assert!(activity.is_empty(), "its activity is gone");
    assert!(
        !store.delete_organization(gone.id).await.unwrap(),
        "nothing left to delete"
    );

    // The other organization keeps everything.
    let (kept, member, team, invitation) = &orgs[1];
    assert!(store.organization(kept.id).await.unwrap().is_some());
    assert!(store.member(kept.id, member.user).await.unwrap().is_some());
    assert!(
        store
            .invitation(kept.id, invitation.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .inbox(&invitation.email, Page::first(10))
            .await
            .unwrap()
            .iter()
            .map(|r| r.invitation.id)
            .collect::<Vec<_>>(),
        [invitation.id]
    );
    assert_eq!(store.teams_of(kept.id, member.id).await.unwrap(), [team.id]);
    assert_eq!(
        store.events(kept.id, Page::first(10)).await.unwrap().len(),
        1
    );
    assert!(
        claimed.iter().any(|m| m.organization == kept.id),
        "its mail stays"
    );
    assert_eq!(
        stats_of(
            &*store,
            kept.id,
            crate::domain::activity::StatsScope::Organization,
            period
        )
        .await
        .enrolments,
        1
    );
}

/// The writes of an erasure (spec: USR-5): an invitation rewritten keeps its queued mail
/// (unlike a change of the invitation, its link still works); an event and a mail are
/// rewritten in place, whatever the mail's status; the member's learning activity and team
/// stints pass to the pseudonym, so every figure but the count of members stays; an event
/// that is not there fails the whole commit. [`Store::outbox`](crate::Store::outbox) lists
/// an organization's mail whatever its status, and no other organization's.
pub async fn erasure_rewrites_rows_and_keeps_the_figures(store: Arc<DynStore>) {
    use crate::domain::activity::{Period, StatsScope};
    let now = t0();
    let org = stored_org(&*store).await;
    let other = stored_org(&*store).await;
    let member = new_member(org.id, email("erased", org.id));
    let team = new_team(org.id, "Erasure");
    let mut invitation = new_invitation(org.id, member.email.clone(), now);
    invitation.token_hash = token(43).hash();
    let mut named = event(org.id);
    named.actor = EventActor::User { user: member.user };
    let queued = invitation_mail(&invitation, now);
    let mut c = changes(
        &org,
        vec![
            Write::PutMember(member.clone()),
            Write::PutTeam(team.clone()),
            Write::PutInvitation(invitation.clone()),
        ],
    );
    c.events = vec![named.clone()];
    c.outbox = vec![queued.clone()];
    store.commit(c).await.unwrap();
    let elsewhere = mail(other.id, email("elsewhere", other.id), now);
    let mut c = changes(&reload(&*store, other.id).await, vec![]);
    c.outbox = vec![elsewhere];
    store.commit(c).await.unwrap();
    put(
        &*store,
        org.id,
        vec![Write::AddTeamMember {
            team: team.id,
            member: member.id,
            at: now - Duration::days(1),
        }],
    )
    .await
    .unwrap();
    store
        .record_activities(org.id, &[learning(org.id, member.user, 1)])
        .await
        .unwrap();
    let period = Period::new(now - Duration::days(2), now + Duration::days(2)).unwrap();
    let scopes = [StatsScope::Organization, StatsScope::Team(team.id)];
    let figures = |mut all: Vec<crate::domain::activity::Statistics>| {
        for s in &mut all {
            s.members = 0;
        }
        all
    };
    let before = figures(store.statistics(org.id, &scopes, period).await.unwrap());
    assert_eq!(before[1].enrolments, 1, "her enrolment counts for the team");

    let pseudonym = UserId::new();
    let erased_email = email("pseudonym", org.id);
    let mut rewritten_invitation = store
        .invitation(org.id, invitation.id)
        .await
        .unwrap()
        .unwrap();
    rewritten_invitation.email = erased_email.clone();
    let mut rewritten_event = named.clone();
    rewritten_event.actor = EventActor::User { user: pseudonym };
    let mut rewritten_mail = queued.clone();
    rewritten_mail.to = erased_email.clone();
    let erasure = |missing: Option<Event>| {
        let mut writes = vec![
            Write::DeleteMember {
                member: member.id,
                expected_version: 1,
                at: now + Duration::hours(1),
            },
            Write::RewriteInvitation(rewritten_invitation.clone()),
            Write::RewriteEvent(rewritten_event.clone()),
            Write::RewriteMail(rewritten_mail.clone()),
            Write::Pseudonymize {
                user: member.user,
                pseudonym,
            },
        ];
        writes.extend(missing.map(Write::RewriteEvent));
        writes
    };
    // An event that is not there: nothing of the erasure is applied.
    let err = put(&*store, org.id, erasure(Some(event(org.id))))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(store.member(org.id, member.user).await.unwrap().is_some());
    assert_eq!(
        store.events(org.id, Page::first(10)).await.unwrap(),
        vec![named]
    );

    put(&*store, org.id, erasure(None)).await.unwrap();
    assert!(store.member(org.id, member.user).await.unwrap().is_none());
    let stored = store
        .invitation(org.id, invitation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.email, erased_email);
    assert_eq!(stored.version, rewritten_invitation.version + 1);
    assert_eq!(
        store.events(org.id, Page::first(10)).await.unwrap(),
        vec![rewritten_event]
    );
    let outbox = store.outbox(org.id, Page::first(10)).await.unwrap();
    assert_eq!(
        outbox.len(),
        1,
        "the other organization's mail is not listed"
    );
    assert_eq!(outbox[0].to, erased_email, "rewritten, still queued");
    assert_eq!(outbox[0].status, OutboxStatus::Pending);
    let after = figures(store.statistics(org.id, &scopes, period).await.unwrap());
    assert_eq!(after, before, "the figures keep their counts");
}
