//! The outbox: at-least-once delivery, leases and claims, turns across organizations, and
//! mail withdrawn with its invitation.

use super::fixtures::*;

/// spec: INV-9 — committed mail is claimable, leased, re-claimable after the lease, retried,
/// sent or failed (listed with its reason).
pub async fn outbox_is_at_least_once(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    // A time far from other cases' rows so the claim sees only this case's mail first.
    let now = t0() - Duration::days(10_000)
        + Duration::minutes(i64::from(org.id.as_uuid().as_bytes()[15]));
    let a = mail(org.id, email("a", org.id), now);
    let b = mail(org.id, email("b", org.id), now);
    let mut c = changes(&org, vec![]);
    c.outbox = vec![a.clone(), b.clone()];
    store.commit(c).await.unwrap();
    let lease = Duration::minutes(5);
    let claim = |at| claim_mine(&store, org.id, ClaimId::new(), at);
    let first = claim(now).await;
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|m| m.attempts == 1));
    assert!(claim(now + Duration::minutes(1)).await.is_empty());
    let holder = ClaimId::new();
    let again = claim_mine(&store, org.id, holder, now + Duration::minutes(6)).await;
    assert_eq!(
        again.len(),
        2,
        "an expired lease makes the row claimable again"
    );
    assert!(again.iter().all(|m| m.attempts == 2));
    assert!(
        again
            .iter()
            .all(|m| m.lease_until == Some(now + Duration::minutes(6) + lease))
    );

    let settle = |id, settlement| store.settle_outbox(holder, id, settlement);
    assert!(settle(a.id, Settlement::Sent).await.unwrap());
    let retry = Settlement::Retry {
        not_before: now + Duration::hours(1),
        error: "421 try later".to_owned(),
    };
    assert!(settle(b.id, retry).await.unwrap());
    assert!(claim(now + Duration::minutes(30)).await.is_empty());
    let retrier = ClaimId::new();
    let retried = claim_mine(&store, org.id, retrier, now + Duration::hours(1)).await;
    assert_eq!(retried.iter().map(|m| m.id).collect::<Vec<_>>(), vec![b.id]);
    assert_eq!(retried[0].last_error.as_deref(), Some("421 try later"));
    let failure = Settlement::Failed {
        error: "550 no such user".to_owned(),
    };
    assert!(store.settle_outbox(retrier, b.id, failure).await.unwrap());
    let failed = store.failed_outbox(org.id, Page::first(10)).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].status, OutboxStatus::Failed);
    assert_eq!(failed[0].last_error.as_deref(), Some("550 no such user"));
    assert!(claim(now + Duration::days(30)).await.is_empty());
}

/// Claims `store`'s due mail at `at` under `claim`, keeping `org`'s rows.
async fn claim_mine(
    store: &Arc<DynStore>,
    org: OrganizationId,
    claim: ClaimId,
    at: DateTime<Utc>,
) -> Vec<OutboxMessage> {
    store
        .claim_outbox(claim, at, Duration::minutes(5), 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.organization == org)
        .collect()
}

/// spec: MSG-3 — only the claim that holds a row records its outcome: a pass whose lease ran
/// out, and whose rows another pass claimed, can neither mark them sent nor put them back;
/// a released row is claimable at once, its attempt not counted.
pub async fn only_the_claim_holding_a_row_settles_it(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let now = t0() - Duration::days(12_000)
        + Duration::minutes(i64::from(org.id.as_uuid().as_bytes()[15]));
    let row = mail(org.id, email("held", org.id), now);
    let mut c = changes(&org, vec![]);
    c.outbox = vec![row.clone()];
    store.commit(c).await.unwrap();
    let (stale, current) = (ClaimId::new(), ClaimId::new());
    assert_eq!(claim_mine(&store, org.id, stale, now).await.len(), 1);
    let later = now + Duration::minutes(6);
    assert_eq!(claim_mine(&store, org.id, current, later).await.len(), 1);
    for settlement in [
        Settlement::Sent,
        Settlement::Released,
        Settlement::Failed {
            error: "late".to_owned(),
        },
        Settlement::Retry {
            not_before: later,
            error: "late".to_owned(),
        },
    ] {
        let held = store
            .settle_outbox(stale, row.id, settlement)
            .await
            .unwrap();
        assert!(!held, "a stale claim settled a row another claim holds");
    }
    assert!(
        claim_mine(&store, org.id, ClaimId::new(), later)
            .await
            .is_empty(),
        "the current claim still holds the row"
    );
    assert!(
        store
            .settle_outbox(current, row.id, Settlement::Released)
            .await
            .unwrap()
    );
    let again = claim_mine(&store, org.id, ClaimId::new(), later).await;
    assert_eq!(again.len(), 1, "a released row is claimable at once");
    assert_eq!(
        again[0].attempts, 2,
        "the released claim's attempt is not counted"
    );
    assert!(
        !store
            .settle_outbox(current, row.id, Settlement::Sent)
            .await
            .unwrap(),
        "a claim that released a row no longer holds it"
    );
    assert!(
        !store
            .settle_outbox(ClaimId::new(), OutboxId::new(), Settlement::Sent)
            .await
            .unwrap(),
        "no row"
    );
}

/// spec: MSG-3 — claims take turns across organizations: one organization's backlog does not
/// hold back another's mail, due later, for more than one pass.
pub async fn claims_take_turns_across_organizations(store: Arc<DynStore>) {
    let busy = stored_org(&*store).await;
    let quiet = stored_org(&*store).await;
    let now = t0() - Duration::days(14_000)
        + Duration::minutes(i64::from(busy.id.as_uuid().as_bytes()[15]));
    let mut c = changes(&busy, vec![]);
    c.outbox = (0..30)
        .map(|i| {
            mail(
                busy.id,
                email(&format!("b{i}"), busy.id),
                now + Duration::seconds(i),
            )
        })
        .collect();
    store.commit(c).await.unwrap();
    let mut c = changes(&quiet, vec![]);
    let late = mail(quiet.id, email("q", quiet.id), now + Duration::minutes(1));
    c.outbox = vec![late.clone()];
    store.commit(c).await.unwrap();
    let at = now + Duration::minutes(2);
    let pass = store
        .claim_outbox(ClaimId::new(), at, Duration::minutes(5), 5)
        .await
        .unwrap();
    assert!(
        pass.iter().any(|m| m.id == late.id),
        "the quiet organization's mail waited behind the busy one's backlog"
    );
    let busy_rows: Vec<_> = pass.iter().filter(|m| m.organization == busy.id).collect();
    assert!(!busy_rows.is_empty() && busy_rows.len() < 5);
    assert!(
        busy_rows
            .windows(2)
            .all(|w| (w[0].due_at, w[0].id) < (w[1].due_at, w[1].id)),
        "each organization's oldest due first"
    );
}

/// spec: INV-13 — a commit that changes an invitation (resent, revoked, accepted, declined)
/// withdraws its queued, unsent mail, also mail a pass has claimed; the commit's own mail
/// (a resend's) and other mail stay.
pub async fn an_invitation_change_withdraws_its_queued_mail(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let now = t0() - Duration::days(16_000)
        + Duration::minutes(i64::from(org.id.as_uuid().as_bytes()[15]));
    let invitation = new_invitation(org.id, email("w", org.id), now);
    let other = new_invitation(org.id, email("o", org.id), now);
    let first = invitation_mail(&invitation, now);
    let second = invitation_mail(&invitation, now);
    let others = invitation_mail(&other, now);
    let message = mail(org.id, email("m", org.id), now);
    let org = reload(&*store, org.id).await;
    let mut c = changes(
        &org,
        vec![
            Write::PutInvitation(invitation.clone()),
            Write::PutInvitation(other.clone()),
        ],
    );
    c.outbox = vec![
        first.clone(),
        second.clone(),
        others.clone(),
        message.clone(),
    ];
    store.commit(c).await.unwrap();
    // One of its mails is claimed by a pass, the other waits.
    let pass = ClaimId::new();
    let claimed = store
        .claim_outbox(pass, now, Duration::minutes(5), 10_000)
        .await
        .unwrap();
    assert!(claimed.iter().any(|m| m.id == first.id));
    assert!(
        store
            .settle_outbox(pass, second.id, Settlement::Released)
            .await
            .unwrap()
    );
    let stored = store
        .invitation(org.id, invitation.id)
        .await
        .unwrap()
        .unwrap();
    let resent = Invitation {
        resend_count: 1,
        token_hash: token(2).hash(),
        ..stored
    };
    let fresh = invitation_mail(&resent, now);
    let org = reload(&*store, org.id).await;
    let mut c = changes(&org, vec![Write::PutInvitation(resent.clone())]);
    c.outbox = vec![fresh.clone()];
    store.commit(c).await.unwrap();
    assert!(
        !store
            .settle_outbox(pass, first.id, Settlement::Sent)
            .await
            .unwrap(),
        "a withdrawn mail is no longer held by the pass that claimed it"
    );
    let due = claim_mine(&store, org.id, ClaimId::new(), now + Duration::minutes(10)).await;
    let mut ids: Vec<OutboxId> = due.iter().map(|m| m.id).collect();
    ids.sort_unstable();
    // The pass's lease has run out: what it claimed and still exists is due again.
    let mut expected = vec![fresh.id, others.id, message.id];
    expected.sort_unstable();
    assert_eq!(
        ids, expected,
        "the invitation's old mail is gone; its new mail, the other invitation's and the \
         message stay"
    );
}

/// Concurrent claims never hand the same row to two callers.
pub async fn concurrent_claims_never_share_a_row(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let now = t0() - Duration::days(20_000)
        + Duration::minutes(i64::from(org.id.as_uuid().as_bytes()[15]));
    let mut c = changes(&org, vec![]);
    c.outbox = (0..40)
        .map(|i| mail(org.id, email(&format!("c{i}"), org.id), now))
        .collect();
    let ids: HashSet<OutboxId> = c.outbox.iter().map(|m| m.id).collect();
    store.commit(c).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..10 {
                got.extend(
                    store
                        .claim_outbox(ClaimId::new(), now, Duration::minutes(5), 3)
                        .await
                        .unwrap(),
                );
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for m in task.await.unwrap() {
            if ids.contains(&m.id) {
                assert!(seen.insert(m.id), "row {} claimed twice", m.id);
            }
        }
    }
    // Rows of other cases may have been claimed too; ours are all claimed exactly once
    // unless other rows crowded them out, in which case a final claim gets the rest.
    for m in store
        .claim_outbox(ClaimId::new(), now, Duration::minutes(5), 10_000)
        .await
        .unwrap()
    {
        if ids.contains(&m.id) {
            assert!(seen.insert(m.id), "row {} claimed twice", m.id);
        }
    }
    assert_eq!(seen, ids);
}

/// A given-up mail is queued again by `Write::RequeueMail` (spec: MSG-3): readable by id,
/// claimable at once with its attempts from zero, its error cleared; a mail that is not
/// failed, or of another organization, is a conflict that leaves the commit unapplied.
pub async fn failed_mail_is_queued_again_once(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let now = t0() - Duration::days(11_000)
        + Duration::minutes(i64::from(org.id.as_uuid().as_bytes()[15]));
    let row = mail(org.id, email("retried", org.id), now);
    let mut c = changes(&org, vec![]);
    c.outbox = vec![row.clone()];
    store.commit(c).await.unwrap();
    let claim = ClaimId::new();
    assert_eq!(claim_mine(&store, org.id, claim, now).await.len(), 1);
    let failed = Settlement::Failed {
        error: "mailbox full".to_owned(),
    };
    assert!(store.settle_outbox(claim, row.id, failed).await.unwrap());
    let stored = store.outbox_message(org.id, row.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OutboxStatus::Failed);
    assert_eq!(stored.last_error.as_deref(), Some("mailbox full"));
    let other = stored_org(&*store).await;
    assert!(
        store
            .outbox_message(other.id, row.id)
            .await
            .unwrap()
            .is_none(),
        "another organization's mail reads as none"
    );

    // Of another organization: a conflict, and nothing of that commit stays.
    let mut foreign = changes(
        &other,
        vec![Write::RequeueMail {
            mail: row.id,
            at: now,
        }],
    );
    foreign.outbox = vec![mail(other.id, email("beside", other.id), now)];
    assert!(matches!(
        store.commit(foreign).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(
        claim_mine(&store, other.id, ClaimId::new(), now)
            .await
            .is_empty()
    );

    let later = now + Duration::minutes(1);
    let requeue = || {
        vec![Write::RequeueMail {
            mail: row.id,
            at: later,
        }]
    };
    put(&*store, org.id, requeue()).await.unwrap();
    let again = store.outbox_message(org.id, row.id).await.unwrap().unwrap();
    assert_eq!(
        (
            again.status,
            again.attempts,
            again.due_at,
            again.lease_until,
            again.last_error
        ),
        (OutboxStatus::Pending, 0, later, None, None)
    );
    assert!(
        store
            .failed_outbox(org.id, Page::first(10))
            .await
            .unwrap()
            .is_empty(),
        "no longer failed"
    );
    let claimed = claim_mine(&store, org.id, ClaimId::new(), later).await;
    assert_eq!(claimed.len(), 1, "claimable once due");
    assert_eq!(claimed[0].attempts, 1);
    // Queued (and claimed) now, not failed: requeueing it again is a conflict.
    assert!(matches!(
        put(&*store, org.id, requeue()).await,
        Err(StoreError::Conflict { .. })
    ));
}
