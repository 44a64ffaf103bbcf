//! The invitee's inbox (spec: INV-15): invitations found by id in any organization, and the
//! pending invitations of one address across organizations.

use super::fixtures::*;

/// spec: INV-15 — an invitation is found by its id alone, whatever its status and whichever
/// organization holds it, with everything its link finds; after a resend its id still finds
/// it. An unknown id, or one of a deleted organization, finds nothing.
pub async fn invitations_are_found_by_id_in_any_organization(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let elsewhere = stored_org(&*store).await;
    let member = new_member(org.id, email("by-id.member", org.id));
    let team = new_team(org.id, "By Id");
    let mut pending = new_invitation(org.id, email("by-id.pending", org.id), t0());
    pending.team = Some(team.id);
    let mut closed = new_invitation(org.id, email("by-id.closed", org.id), t0());
    closed.status = InvitationStatus::Declined;
    closed.closed_at = Some(t0());
    let writes = vec![
        Write::PutMember(member.clone()),
        Write::PutTeam(team.clone()),
        Write::PutInvitation(pending.clone()),
        Write::PutInvitation(closed.clone()),
    ];
    put(&*store, org.id, writes).await.unwrap();
    let foreign = new_invitation(elsewhere.id, email("by-id.foreign", elsewhere.id), t0());
    put(
        &*store,
        elsewhere.id,
        vec![Write::PutInvitation(foreign.clone())],
    )
    .await
    .unwrap();

    for invitation in [&pending, &closed, &foreign] {
        for user in [Some(member.user), None] {
            let by_id = store
                .link_context(InvitationLookup::Id(invitation.id), user, t0())
                .await
                .unwrap()
                .expect("found by id");
            let by_link = store
                .link_context(
                    InvitationLookup::TokenHash(invitation.token_hash),
                    user,
                    t0(),
                )
                .await
                .unwrap();
            assert_eq!(Some(&by_id), by_link.as_ref());
            assert_eq!(by_id.invitation.id, invitation.id);
            assert_eq!(by_id.organization.id, invitation.organization);
        }
    }
    let found = store
        .link_context(InvitationLookup::Id(pending.id), Some(member.user), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.member.map(|m| m.id), Some(member.id));
    assert_eq!(found.team.map(|t| t.id), Some(team.id));
    assert_eq!(found.invitation.status, InvitationStatus::Pending);
    let found = store
        .link_context(InvitationLookup::Id(closed.id), None, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.invitation.status, InvitationStatus::Declined);

    // A resend changes the link, not the id.
    let mut resent = store.invitation(org.id, pending.id).await.unwrap().unwrap();
    resent.token_hash = token(51).hash();
    put(&*store, org.id, vec![Write::PutInvitation(resent.clone())])
        .await
        .unwrap();
    let found = store
        .link_context(InvitationLookup::Id(pending.id), None, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.invitation.token_hash, resent.token_hash);

    assert!(
        store
            .link_context(InvitationLookup::Id(InvitationId::new()), None, t0())
            .await
            .unwrap()
            .is_none(),
        "an unknown id finds nothing"
    );
    assert!(store.delete_organization(elsewhere.id).await.unwrap());
    assert!(
        store
            .link_context(InvitationLookup::Id(foreign.id), None, t0())
            .await
            .unwrap()
            .is_none(),
        "a deleted organization's invitation is gone"
    );
}

/// Every page of `email`'s inbox, `size` entries at a time.
async fn inbox_in_pages(store: &DynStore, email: &EmailAddress, size: u32) -> Vec<InboxInvitation> {
    let mut all = Vec::new();
    let mut page = Page::first(size);
    loop {
        let rows = store.inbox(email, page).await.unwrap();
        assert!(rows.len() <= page.len(), "a page holds at most its limit");
        let last = rows.last().map(|r| r.invitation.id);
        let full = rows.len() == page.len();
        all.extend(rows);
        match last {
            Some(last) if full => page = Page::after(last, size),
            _ => return all,
        }
    }
}

/// spec: INV-15, INV-2 — the inbox lists the pending invitations to one address, whatever
/// the case it was invited or asked in, across organizations, by invitation id, expired ones
/// too: each with its organization's name, its team's name while the team exists and its
/// inviter's name while they are a member. Other addresses and closed invitations are left
/// out, pages are stable, and an invitation leaves the inbox once it is closed or its
/// organization deleted.
pub async fn the_inbox_lists_pending_invitations_across_organizations(store: Arc<DynStore>) {
    let a = stored_org(&*store).await;
    let mut b = stored_org(&*store).await;
    b.name = OrganizationName::parse("Inbox Second Ltd").unwrap();
    store
        .commit(ChangeSet::new(b.id, OrganizationWrite::Put(b.clone())))
        .await
        .unwrap();
    let c = stored_org(&*store).await;
    let d = stored_org(&*store).await;
    let address = email("Inbox.Person", a.id);
    let upper = EmailAddress::parse(address.as_str().to_uppercase()).unwrap();
    let lower = EmailAddress::parse(address.as_str().to_lowercase()).unwrap();
    let someone_else = email("someone.else", a.id);

    // A: invited by a member into a team; a closed invitation and another address beside.
    let boss = new_member(a.id, email("boss", a.id));
    let team = new_team(a.id, "Inbox Team");
    let mut in_a = new_invitation(a.id, address.clone(), t0());
    in_a.team = Some(team.id);
    in_a.invited_by = boss.user;
    let mut closed = new_invitation(a.id, lower.clone(), t0());
    closed.status = InvitationStatus::Revoked;
    closed.closed_at = Some(t0());
    let other = new_invitation(a.id, someone_else.clone(), t0());
    put(
        &*store,
        a.id,
        vec![
            Write::PutMember(boss.clone()),
            Write::PutTeam(team.clone()),
            Write::PutInvitation(closed.clone()),
            Write::PutInvitation(in_a.clone()),
            Write::PutInvitation(other.clone()),
        ],
    )
    .await
    .unwrap();
    // B: in capitals, expired, its team gone and its inviter no member.
    let mut in_b = new_invitation(b.id, upper.clone(), t0() - Duration::days(11));
    in_b.team = Some(TeamId::new());
    put(&*store, b.id, vec![Write::PutInvitation(in_b.clone())])
        .await
        .unwrap();
    // C and D: in lower case.
    let in_c = new_invitation(c.id, lower.clone(), t0());
    put(&*store, c.id, vec![Write::PutInvitation(in_c.clone())])
        .await
        .unwrap();
    let in_d = new_invitation(d.id, lower.clone(), t0());
    put(&*store, d.id, vec![Write::PutInvitation(in_d.clone())])
        .await
        .unwrap();

    let mut expected = vec![in_a.id, in_b.id, in_c.id, in_d.id];
    expected.sort();
    for asked in [&address, &upper, &lower] {
        let all = store.inbox(asked, Page::first(100)).await.unwrap();
        let ids: Vec<InvitationId> = all.iter().map(|r| r.invitation.id).collect();
        assert_eq!(ids, expected, "asked as {asked}");
        for size in [1, 2, 3] {
            assert_eq!(
                inbox_in_pages(&*store, asked, size).await,
                all,
                "pages of {size}"
            );
        }
    }
    let all = store.inbox(&address, Page::first(100)).await.unwrap();
    for row in &all {
        let stored = store
            .invitation(row.invitation.organization, row.invitation.id)
            .await
            .unwrap();
        assert_eq!(Some(&row.invitation), stored.as_ref());
    }
    let entry = |id: InvitationId| all.iter().find(|r| r.invitation.id == id).cloned().unwrap();
    let first = entry(in_a.id);
    assert_eq!(first.organization_name, a.name);
    assert_eq!(first.team_name, Some(team.name.clone()));
    assert_eq!(first.inviter, Some(boss.profile.clone()));
    let second = entry(in_b.id);
    assert_eq!(second.organization_name, b.name);
    assert_eq!(second.invitation.email, upper, "as invited, in capitals");
    assert_eq!(second.team_name, None, "a team that is gone has no name");
    assert_eq!(
        second.inviter, None,
        "an inviter who is no member has no name"
    );
    assert!(second.invitation.is_expired(t0()), "expired, still listed");
    let theirs = store.inbox(&someone_else, Page::first(100)).await.unwrap();
    assert_eq!(
        theirs.iter().map(|r| r.invitation.id).collect::<Vec<_>>(),
        vec![other.id]
    );
    let nobody = email("nobody", a.id);
    assert!(
        store
            .inbox(&nobody, Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .inbox(&address, Page::after(*expected.last().unwrap(), 10))
            .await
            .unwrap()
            .is_empty(),
        "nothing after the last"
    );

    // The team deleted, the inviter removed: their names go with them.
    let a_now = reload(&*store, a.id).await;
    let stored_boss = store.member(a.id, boss.user).await.unwrap().unwrap();
    let stored_team = store.team(a.id, team.id).await.unwrap().unwrap();
    store
        .commit(changes(
            &a_now,
            vec![
                Write::DeleteTeam {
                    team: team.id,
                    expected_version: stored_team.version,
                    at: t0(),
                },
                Write::DeleteMember {
                    member: boss.id,
                    expected_version: stored_boss.version,
                    at: t0(),
                },
            ],
        ))
        .await
        .unwrap();
    let now_first = store.inbox(&address, Page::first(1)).await.unwrap();
    assert_eq!(now_first.len(), 1);
    assert_eq!(now_first[0].invitation.id, expected[0]);
    let first = store
        .inbox(&address, Page::first(100))
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.invitation.id == in_a.id)
        .unwrap();
    assert_eq!((first.team_name, first.inviter), (None, None));

    // Resent, it stays; declined or accepted, it leaves; so does a deleted organization's.
    let mut resent = store.invitation(a.id, in_a.id).await.unwrap().unwrap();
    resent.token_hash = token(52).hash();
    put(&*store, a.id, vec![Write::PutInvitation(resent)])
        .await
        .unwrap();
    let mut declined = store.invitation(c.id, in_c.id).await.unwrap().unwrap();
    declined.status = InvitationStatus::Declined;
    declined.closed_at = Some(t0());
    put(&*store, c.id, vec![Write::PutInvitation(declined)])
        .await
        .unwrap();
    let mut accepted = store.invitation(b.id, in_b.id).await.unwrap().unwrap();
    accepted.status = InvitationStatus::Accepted;
    accepted.closed_at = Some(t0());
    put(&*store, b.id, vec![Write::PutInvitation(accepted)])
        .await
        .unwrap();
    assert!(store.delete_organization(d.id).await.unwrap());
    let left: Vec<InvitationId> = store
        .inbox(&lower, Page::first(100))
        .await
        .unwrap()
        .iter()
        .map(|r| r.invitation.id)
        .collect();
    assert_eq!(left, vec![in_a.id]);
}
