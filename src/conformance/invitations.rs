//! Invitations: one pending per address, links by token hash, seats, the combined reads an
//! invitation or a link is decided on, and an invitation's own lifetime and metadata (the
//! invitee's inbox and invitations by id are in `inbox`).

use super::fixtures::*;

/// spec: INV-8 — at most one pending invitation per (organization, email), regardless of
/// case; closed invitations do not count.
pub async fn one_pending_invitation_per_email(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let first = new_invitation(org.id, email("dup", org.id), t0());
    put(&*store, org.id, vec![Write::PutInvitation(first.clone())])
        .await
        .unwrap();
    let shouting = EmailAddress::parse(first.email.as_str().to_uppercase()).unwrap();
    let mut second = new_invitation(org.id, shouting.clone(), t0());
    second.token_hash = token(2).hash();
    let dup = put(&*store, org.id, vec![Write::PutInvitation(second.clone())]).await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Duplicate {
                constraint: constraint::ONE_PENDING_PER_EMAIL
            })
        ),
        "{dup:?}"
    );
    let found = targets_of(&*store, org.id, &[shouting]).await.pending;
    assert_eq!(
        found.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![first.id]
    );
    // Revoke the first, then the second goes through (spec: INV-4).
    let mut revoked = store.invitation(org.id, first.id).await.unwrap().unwrap();
    revoked.status = InvitationStatus::Revoked;
    revoked.closed_at = Some(t0());
    put(&*store, org.id, vec![Write::PutInvitation(revoked)])
        .await
        .unwrap();
    put(&*store, org.id, vec![Write::PutInvitation(second)])
        .await
        .unwrap();
}

/// spec: INV-6, INV-3 — invitations are found by the hash of their current token only.
pub async fn invitations_are_found_by_current_token_hash(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let inv = new_invitation(org.id, email("tok", org.id), t0());
    put(&*store, org.id, vec![Write::PutInvitation(inv.clone())])
        .await
        .unwrap();
    let found = store
        .link_context(InvitationLookup::TokenHash(inv.token_hash), None, t0())
        .await
        .unwrap()
        .unwrap()
        .invitation;
    assert_eq!(found.id, inv.id);
    let mut resent = found.clone();
    let new_token = token(3);
    resent.token_hash = new_token.hash();
    put(&*store, org.id, vec![Write::PutInvitation(resent)])
        .await
        .unwrap();
    assert!(
        store
            .link_context(InvitationLookup::TokenHash(inv.token_hash), None, t0())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .link_context(InvitationLookup::TokenHash(new_token.hash()), None, t0())
            .await
            .unwrap()
            .unwrap()
            .invitation
            .id,
        inv.id
    );
    assert!(
        store
            .link_context(InvitationLookup::TokenHash(token(4).hash()), None, t0())
            .await
            .unwrap()
            .is_none()
    );
}

/// One member and three invitations stored in an organization: one pending, one pending
/// but expired at [`t0`], one closed with `closed_status`.
struct Seated {
    member: Member,
    fresh: Invitation,
    old: Invitation,
    closed: Invitation,
}

async fn seated(
    store: &DynStore,
    org: &Organization,
    member_local: &str,
    closed_status: InvitationStatus,
) -> Seated {
    let member = new_member(org.id, email(member_local, org.id));
    let fresh = new_invitation(org.id, email("fresh", org.id), t0());
    let mut old = new_invitation(org.id, email("old", org.id), t0() - Duration::days(11));
    old.token_hash = token(5).hash();
    let mut closed = new_invitation(org.id, email("closed", org.id), t0());
    closed.token_hash = token(6).hash();
    closed.status = closed_status;
    let writes = vec![
        Write::PutMember(member.clone()),
        Write::PutInvitation(fresh.clone()),
        Write::PutInvitation(old.clone()),
        Write::PutInvitation(closed.clone()),
    ];
    put(store, org.id, writes).await.unwrap();
    Seated {
        member,
        fresh,
        old,
        closed,
    }
}

/// spec: ORG-4 — seats are members plus pending invitations not yet expired.
pub async fn seat_usage_counts_members_and_unexpired_invitations(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    seated(&*store, &org, "seat", InvitationStatus::Declined).await;
    let usage = store.seat_usage(org.id, t0()).await.unwrap();
    assert_eq!((usage.members, usage.pending_invitations), (1, 1));
    let later = store
        .seat_usage(org.id, t0() + Duration::days(10))
        .await
        .unwrap();
    assert_eq!(
        later.pending_invitations, 0,
        "expiry is at exactly sent + ttl (spec: INV-2)"
    );
}

/// The combined reads ([`Store::organization_with_member`], [`Store::invitation_context`],
/// [`Store::link_context`]) answer exactly what the single reads do: case-insensitive email
/// keys, pending invitations expired or not (closed ones never), seats at the given time
/// when the organization caps them. [`Store::record_activities`] names the users of a batch
/// who are not members, each once, and then records nothing. And a stale version among
/// otherwise independent writes fails the whole commit (a store may apply such writes as
/// one statement).
///
/// [`Store::organization_with_member`]: crate::Store::organization_with_member
/// [`Store::invitation_context`]: crate::Store::invitation_context
/// [`Store::link_context`]: crate::Store::link_context
/// [`Store::record_activities`]: crate::Store::record_activities
pub async fn combined_reads_agree_with_single_reads(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let Seated {
        member,
        fresh,
        old,
        closed,
    } = seated(&*store, &org, "Mixed.Case", InvitationStatus::Revoked).await;

    let shouted = EmailAddress::parse(member.email.as_str().to_uppercase()).unwrap();
    let nobody = email("nobody", org.id);
    let asked = [
        shouted,
        fresh.email.clone(),
        old.email.clone(),
        closed.email.clone(),
        nobody,
        fresh.email.clone(),
    ];
    // Without a seat cap, no seats are counted.
    let uncounted = targets_of(&*store, org.id, &asked).await;
    assert_eq!(uncounted.member_emails, vec![member.email.key().to_owned()]);
    let mut pending: Vec<InvitationId> = uncounted.pending.iter().map(|i| i.id).collect();
    pending.sort();
    let mut expected = vec![fresh.id, old.id];
    expected.sort();
    assert_eq!(
        pending, expected,
        "pending, expired or not; never closed ones"
    );
    let single = targets_from_single_reads(&*store, org.id, &asked, false).await;
    let mut combined = uncounted.pending.clone();
    combined.sort_by_key(|i| i.id);
    assert_eq!(combined, single.pending);
    assert_eq!(uncounted.seats, None);
    // Under a seat cap, the seats in use at the time asked.
    let mut capped = reload(&*store, org.id).await;
    capped.seat_cap = Some(10);
    store
        .commit(ChangeSet::new(org.id, OrganizationWrite::Put(capped)))
        .await
        .unwrap();
    let targets = targets_of(&*store, org.id, &asked).await;
    let seats = targets.seats.expect("counted under a cap");
    assert_eq!(seats, store.seat_usage(org.id, t0()).await.unwrap());
    assert_eq!((seats.members, seats.pending_invitations), (1, 1));
    assert_eq!(uncounted.member_emails, targets.member_emails);
    assert_eq!(uncounted.pending.len(), targets.pending.len());
    let none = targets_of(&*store, org.id, &[]).await;
    assert!(none.member_emails.is_empty() && none.pending.is_empty());
    assert_eq!(none.seats, Some(seats));
    let mut uncapped = reload(&*store, org.id).await;
    uncapped.seat_cap = None;
    store
        .commit(ChangeSet::new(org.id, OrganizationWrite::Put(uncapped)))
        .await
        .unwrap();
    let org = reload(&*store, org.id).await;

    let (read_org, read_member) = store
        .organization_with_member(org.id, member.user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_org, org);
    assert_eq!(
        read_member,
        store.member(org.id, member.user).await.unwrap()
    );
    assert!(read_member.is_some());
    let (_, stranger) = store
        .organization_with_member(org.id, UserId::new())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stranger, None);
    assert!(
        store
            .organization_with_member(OrganizationId::new(), member.user)
            .await
            .unwrap()
            .is_none()
    );

    // Recording activity checks membership: it names each stranger once, never a member,
    // and records nothing of the batch.
    let stranger = UserId::new();
    let batch = [
        learning(org.id, member.user, 1),
        learning(org.id, stranger, 2),
        learning(org.id, stranger, 3),
        learning(org.id, member.user, 4),
    ];
    assert_eq!(
        store.record_activities(org.id, &batch).await.unwrap(),
        Recorded::NotMembers(vec![stranger]),
        "each stranger once, never a member"
    );
    assert_eq!(
        store.record_activities(org.id, &[]).await.unwrap(),
        Recorded::New(Vec::new())
    );
    let members_only = [batch[0].clone(), batch[3].clone()];
    assert_eq!(
        store
            .record_activities(org.id, &members_only)
            .await
            .unwrap(),
        Recorded::New(vec![true, true]),
        "the refused batch recorded nothing"
    );

    // A stale version among writes that do not depend on each other.
    let newcomer = new_invitation(org.id, email("newcomer", org.id), t0());
    let mut stale = store.member(org.id, member.user).await.unwrap().unwrap();
    stale.version += 1;
    let mut c = changes(
        &org,
        vec![
            Write::PutInvitation(newcomer.clone()),
            Write::PutMember(stale),
        ],
    );
    c.events.push(event(org.id));
    assert!(matches!(
        store.commit(c).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(reload(&*store, org.id).await.version, org.version);
    assert!(
        store
            .invitation(org.id, newcomer.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .events(org.id, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    // A checked organization is not bumped: two commits checking one version both land;
    // once the organization changed, a check of the old version is a conflict.
    for local in ["checked-a", "checked-b"] {
        let mut c = changes(
            &org,
            vec![Write::PutInvitation(new_invitation(
                org.id,
                email(local, org.id),
                t0(),
            ))],
        );
        c.organization_write = OrganizationWrite::Check {
            expected_version: org.version,
        };
        store.commit(c).await.unwrap();
    }
    assert_eq!(reload(&*store, org.id).await.version, org.version);
    let mut renamed = org.clone();
    renamed.name = OrganizationName::parse("Renamed Ltd").unwrap();
    store
        .commit(ChangeSet::new(org.id, OrganizationWrite::Put(renamed)))
        .await
        .unwrap();
    let mut c = changes(&org, vec![Write::PutInvitation(newcomer.clone())]);
    c.organization_write = OrganizationWrite::Check {
        expected_version: org.version,
    };
    assert!(matches!(
        store.commit(c).await,
        Err(StoreError::Conflict {
            entity: "organization"
        })
    ));
    let org = reload(&*store, org.id).await;

    // And a stale organization version alone.
    let mut c = changes(&org, vec![Write::PutInvitation(newcomer.clone())]);
    c.organization_write = OrganizationWrite::Touch {
        expected_version: org.version + 5,
    };
    assert!(matches!(
        store.commit(c).await,
        Err(StoreError::Conflict {
            entity: "organization"
        })
    ));
    assert!(
        store
            .invitation(org.id, newcomer.id)
            .await
            .unwrap()
            .is_none()
    );

    // The one-read contexts of an invitation and of a link answer what the single reads do:
    // seats only when the organization has a seat cap.
    let sorted = |mut t: InvitationTargets| {
        t.member_emails.sort();
        t.pending.sort_by_key(|i| i.id);
        t
    };
    for cap in [None, Some(10)] {
        let mut org = reload(&*store, org.id).await;
        if cap.is_some() {
            org.seat_cap = cap;
            store
                .commit(ChangeSet::new(org.id, OrganizationWrite::Put(org.clone())))
                .await
                .unwrap();
            org = reload(&*store, org.id).await;
        }
        let member_now = store.member(org.id, member.user).await.unwrap();
        let context = store
            .invitation_context(org.id, member.user, &asked, t0())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(context.organization, org);
        assert_eq!(context.member, member_now);
        assert_eq!(
            sorted(context.targets),
            targets_from_single_reads(&*store, org.id, &asked, cap.is_some()).await
        );
        let alone = store
            .invitation_context(org.id, UserId::new(), &[], t0())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(alone.member, None);
        assert_eq!(
            alone.targets,
            targets_from_single_reads(&*store, org.id, &[], cap.is_some()).await
        );
        assert!(
            store
                .invitation_context(OrganizationId::new(), member.user, &asked, t0())
                .await
                .unwrap()
                .is_none()
        );
        let seat_usage = match cap {
            Some(_) => Some(store.seat_usage(org.id, t0()).await.unwrap()),
            None => None,
        };
        for invitation in [&fresh, &old, &closed] {
            let hash = &invitation.token_hash;
            let link = store
                .link_context(InvitationLookup::TokenHash(*hash), Some(member.user), t0())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                Some(&link.invitation),
                store
                    .invitation(org.id, invitation.id)
                    .await
                    .unwrap()
                    .as_ref()
            );
            assert_eq!(link.organization, org);
            assert_eq!(link.member, member_now);
            assert_eq!(link.seats, seat_usage);
            let anonymous = store
                .link_context(InvitationLookup::TokenHash(*hash), None, t0())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(anonymous.invitation, link.invitation);
            assert_eq!(anonymous.member, None);
            // Named by id, it is the same read (spec: INV-15).
            let by_id = store
                .link_context(InvitationLookup::Id(invitation.id), Some(member.user), t0())
                .await
                .unwrap();
            assert_eq!(by_id.as_ref(), Some(&link));
        }
        assert!(
            store
                .link_context(
                    InvitationLookup::TokenHash(token(9).hash()),
                    Some(member.user),
                    t0()
                )
                .await
                .unwrap()
                .is_none()
        );
    }

    // The team a link's invitation names, as `team` reads it: none when it is gone or is
    // another organization's (an invitation keeps its team id when the team is deleted).
    let team = new_team(org.id, "Linked");
    let elsewhere = stored_org(&*store).await;
    let foreign = new_team(elsewhere.id, "Foreign");
    put(&*store, elsewhere.id, vec![Write::PutTeam(foreign.clone())])
        .await
        .unwrap();
    let mut named = Vec::new();
    let mut writes = vec![Write::PutTeam(team.clone())];
    for (i, id) in [team.id, foreign.id, TeamId::new()].into_iter().enumerate() {
        let mut invitation = new_invitation(org.id, email(&format!("teamed{i}"), org.id), t0());
        invitation.team = Some(id);
        invitation.token_hash = token(30).hash();
        named.push(invitation.token_hash);
        writes.push(Write::PutInvitation(invitation));
    }
    put(&*store, org.id, writes).await.unwrap();
    let mut teams = Vec::new();
    for hash in &named {
        let link = store
            .link_context(InvitationLookup::TokenHash(*hash), None, t0())
            .await
            .unwrap()
            .unwrap();
        teams.push(link.team);
    }
    let stored_team = store.team(org.id, team.id).await.unwrap();
    assert!(stored_team.is_some());
    assert_eq!(teams, vec![stored_team, None, None]);
}

/// An invitation's own lifetime and the host's metadata, and a membership's metadata, read
/// back exactly by every read that returns them (spec: INV-14).
pub async fn invitation_lifetime_and_metadata_round_trip(store: Arc<DynStore>) {
    use crate::domain::invite_options::{Lifetime, Metadata};
    let org = stored_org(&*store).await;
    let metadata =
        Metadata::parse(r#"{"cohort":"α-2027","nested":{"ids":[1,2,3]},"flag":true}"#).unwrap();
    let mut invitation = new_invitation(org.id, email("options", org.id), t0());
    invitation.token_hash = token(44).hash();
    invitation.lifetime = Some(Lifetime::new(Duration::hours(36)).unwrap());
    invitation.metadata = Some(metadata.clone());
    let mut member = new_member(org.id, email("kept", org.id));
    member.metadata = Some(metadata.clone());
    put(
        &*store,
        org.id,
        vec![
            Write::PutInvitation(invitation.clone()),
            Write::PutMember(member.clone()),
        ],
    )
    .await
    .unwrap();
    let stored = store
        .invitation(org.id, invitation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.lifetime, invitation.lifetime);
    assert_eq!(stored.metadata, Some(metadata.clone()));
    let listed = store
        .invitations(org.id, InvitationFilter::pending(), Page::first(10))
        .await
        .unwrap();
    assert_eq!(listed, vec![stored.clone()]);
    let link = store
        .link_context(
            InvitationLookup::TokenHash(invitation.token_hash),
            None,
            t0(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.invitation, stored);
    let read = store.member(org.id, member.user).await.unwrap().unwrap();
    assert_eq!(read.metadata, Some(metadata.clone()));
    assert_eq!(all_members(&*store, org.id).await, vec![read]);
    // Written again without them, they are gone.
    let mut plain = stored;
    plain.lifetime = None;
    plain.metadata = None;
    put(&*store, org.id, vec![Write::PutInvitation(plain.clone())])
        .await
        .unwrap();
    let again = store
        .invitation(org.id, invitation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.lifetime, again.metadata), (None, None));
}
