//! Concurrent commits: one winner per race, and one outcome per invitation race.

use super::fixtures::*;

/// Concurrent commits at the same organization version: exactly one wins, the others
/// conflict and write nothing.
pub async fn concurrent_commits_have_one_winner(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(&store);
        let org = org.clone();
        tasks.push(tokio::spawn(async move {
            let m = new_member(org.id, email(&format!("race{i}"), org.id));
            let user = m.user;
            (
                user,
                store.commit(changes(&org, vec![Write::PutMember(m)])).await,
            )
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (user, result) = task.await.unwrap();
        match result {
            Ok(()) => winners.push(user),
            Err(StoreError::Conflict { .. }) => {
                assert!(store.member(org.id, user).await.unwrap().is_none());
            }
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(reload(&*store, org.id).await.version, org.version + 1);
}

/// spec: INV-11 — 16 concurrent tasks accepting, declining, revoking and resending one
/// invitation, 1,000 rounds: exactly one closing outcome each round, and never two members
/// for one user.
pub async fn invitation_race_has_exactly_one_outcome(store: Arc<DynStore>) {
    invitation_race(store, 1000).await;
}

/// The race of [`invitation_race_has_exactly_one_outcome`] with a chosen number of rounds.
pub async fn invitation_race(store: Arc<DynStore>, rounds: usize) {
    let roster = Roster::builder(
        Arc::clone(&store),
        RecordingMailer::new(),
        crate::LinkKey::from_bytes([7; 32]),
    )
    .build();
    let founder = Actor::new(
        UserId::new(),
        EmailAddress::parse("founder@race.example").unwrap(),
    );
    let created = roster
        .create_organization(
            &founder,
            OrganizationName::parse("Race").unwrap(),
            profile(),
        )
        .await
        .unwrap();
    let org = created.organization.id;
    roster
        .set_capabilities(
            org,
            Capabilities::default().with(Capability::CoursecloudLegacy),
        )
        .await
        .unwrap();
    for round in 0..rounds {
        let invitee = Actor::new(
            UserId::new(),
            EmailAddress::parse(format!("r{round}@race.example")).unwrap(),
        );
        let created = roster
            .invite_member(&founder, org, invitee.email.clone(), Role::Member, None)
            .await
            .unwrap();
        let link = created.token.expose();
        let id = created.invitation.id;
        let mut tasks = Vec::new();
        for task in 0..16 {
            let roster = roster.clone();
            let founder = founder.clone();
            let invitee = invitee.clone();
            let link = link.clone();
            tasks.push(tokio::spawn(async move {
                let options = AcceptOptions::new(profile());
                match task % 4 {
                    0 => (
                        "accept",
                        roster
                            .accept_invitation(&invitee, &link, options)
                            .await
                            .map(drop),
                    ),
                    1 => ("decline", roster.decline_invitation(&link).await.map(drop)),
                    2 => (
                        "revoke",
                        roster.revoke_invitation(&founder, org, id).await.map(drop),
                    ),
                    _ => (
                        "resend",
                        roster.resend_invitation(&founder, org, id).await.map(drop),
                    ),
                }
            }));
        }
        let mut closing = Vec::new();
        for task in tasks {
            let (what, result) = task.await.unwrap();
            match result {
                Ok(()) if what != "resend" => closing.push(what),
                Ok(()) => {}
                Err(
                    Error::InvitationNotPending { .. }
                    | Error::NotFound { .. }
                    | Error::AlreadyMember
                    | Error::Conflict,
                ) => {}
                Err(e) => panic!("round {round}: {what} failed unexpectedly: {e}"),
            }
        }
        assert_eq!(
            closing.len(),
            1,
            "round {round}: closing outcomes {closing:?}"
        );
        let final_state = store.invitation(org, id).await.unwrap().unwrap();
        let expected = match closing[0] {
            "accept" => InvitationStatus::Accepted,
            "decline" => InvitationStatus::Declined,
            _ => InvitationStatus::Revoked,
        };
        assert_eq!(final_state.status, expected, "round {round}");
        let member = store.member(org, invitee.user).await.unwrap();
        assert_eq!(
            member.is_some(),
            expected == InvitationStatus::Accepted,
            "round {round}"
        );
        let by_mail: Vec<Member> = all_members(&*store, org)
            .await
            .into_iter()
            .filter(|m| m.email.key() == invitee.email.key())
            .collect();
        assert!(
            by_mail.len() <= 1,
            "round {round}: {} members for one address",
            by_mail.len()
        );
    }
    let pending = store
        .invitations(org, InvitationFilter::pending(), Page::first(10))
        .await
        .unwrap();
    assert!(pending.is_empty());
}
