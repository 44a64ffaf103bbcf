//! The store conformance suite: the behaviour every [`Store`](crate::Store) must exhibit.
//!
//! Each case is a public `async fn` taking the store under test as an [`Arc<DynStore>`]; the
//! [`store_conformance_tests!`](crate::store_conformance_tests) macro expands to one
//! `#[tokio::test]` per case so a failure is reported by name. Every case creates its own
//! organizations with fresh ids, so cases can share one database and run in parallel.
//!
//! Run it against your own store:
//!
//! ```text
//! // tests/conformance.rs, with orgroster's `conformance` feature enabled
//! mod my_store {
//!     orgroster::store_conformance_tests!(|| async { Some(my_crate::MyStore::new()) });
//! }
//! // A store that leaves something behind gives it to a second closure, run after each
//! // case that passed (here a file to remove):
//! mod my_file_store {
//!     orgroster::store_conformance_tests!(
//!         || async {
//!             let path = my_crate::scratch_path();
//!             Some((my_crate::MyStore::open(&path).await, path))
//!         },
//!         |path: std::path::PathBuf| async move { std::fs::remove_file(path).ok(); }
//!     );
//! }
//! ```
//!
//! Not a stable part of the public API: cases may be added in patch releases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, Duration, Utc};

use crate::{
    AcceptOptions, Actor, Error, Roster,
    domain::{
        changes::{ChangeSet, OrganizationWrite, Write},
        email::EmailAddress,
        event::{Event, EventActor, EventKind},
        ids::{ClaimId, EventId, InvitationId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
        invitation::{Invitation, InvitationStatus},
        member::Member,
        organization::{Capabilities, Organization},
        outbox::{MailContent, OutboxMessage, OutboxStatus, Settlement},
        role::{Role, RoleSet},
        team::{Team, TeamPage},
        text::{Message, OrganizationName, Profile, Subject, TeamName},
        token::InvitationToken,
    },
    mail::RecordingMailer,
    store::{
        DynStore, InvitationFilter, InvitationTargets, MemberFilter, Page, Recorded, StoreError,
        constraint,
    },
};

fn t0() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_603_600, 0).unwrap()
}

fn email(local: &str, org: OrganizationId) -> EmailAddress {
    EmailAddress::parse(format!("{local}.{}@example.com", &org.to_string()[..8])).unwrap()
}

fn profile() -> Profile {
    Profile::parse("Grace", "Hopper").unwrap()
}

fn token(n: u8) -> InvitationToken {
    let mut bytes = [n; 32];
    // Distinct per call site and per run: the first bytes come from a fresh UUID.
    bytes[..16].copy_from_slice(uuid::Uuid::now_v7().as_bytes());
    InvitationToken::from_bytes(bytes)
}

fn new_org() -> Organization {
    Organization {
        id: OrganizationId::new(),
        name: OrganizationName::parse("Conformance Ltd").unwrap(),
        licenses: Vec::new(),
        capabilities: Capabilities::default(),
        seat_cap: None,
        created_at: t0(),
        version: 0,
    }
}

fn new_member(org: OrganizationId, mail: EmailAddress) -> Member {
    Member {
        id: MemberId::new(),
        organization: org,
        user: UserId::new(),
        email: mail,
        profile: profile(),
        roles: RoleSet::learner(),
        joined_at: t0(),
        invitation: None,
        version: 0,
    }
}

fn new_invitation(org: OrganizationId, mail: EmailAddress, now: DateTime<Utc>) -> Invitation {
    Invitation {
        id: InvitationId::new(),
        organization: org,
        email: mail,
        invitee: None,
        role: Role::Member,
        team: None,
        status: InvitationStatus::Pending,
        token_hash: token(1).hash(),
        invited_by: UserId::new(),
        created_at: now,
        sent_at: now,
        expires_at: now + Duration::days(10),
        resend_count: 0,
        closed_at: None,
        closed_by: None,
        version: 0,
    }
}

fn new_team(org: OrganizationId, name: &str) -> Team {
    Team {
        id: TeamId::new(),
        organization: org,
        name: TeamName::parse(name).unwrap(),
        page: TeamPage::default(),
        created_at: t0(),
        version: 0,
    }
}

fn event(org: OrganizationId) -> Event {
    Event {
        id: EventId::new(),
        organization: org,
        at: t0(),
        actor: EventActor::System,
        kind: EventKind::SeatCapChanged { seat_cap: None },
    }
}

fn mail(org: OrganizationId, to: EmailAddress, now: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage::new(
        OutboxId::new(),
        org,
        to,
        MailContent::Notification {
            organization: OrganizationName::parse("Conformance Ltd").unwrap(),
            subject: Subject::parse("Hello").unwrap(),
            body: Message::parse("Body").unwrap(),
        },
        now,
    )
}

/// The email of `invitation`, as an invitation's decision queues it.
fn invitation_mail(invitation: &Invitation, now: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage::new(
        OutboxId::new(),
        invitation.organization,
        invitation.email.clone(),
        MailContent::Invitation {
            invitation: invitation.id,
            organization: OrganizationName::parse("Conformance Ltd").unwrap(),
            inviter: profile(),
            invitee: None,
            role: invitation.role,
            team: None,
            expires_at: invitation.expires_at,
            resend: invitation.resend_count > 0,
            generation: invitation.resend_count,
        },
        now,
    )
}

fn changes(org: &Organization, writes: Vec<Write>) -> ChangeSet {
    let mut c = ChangeSet::new(
        org.id,
        OrganizationWrite::Touch {
            expected_version: org.version,
        },
    );
    c.writes = writes;
    c
}

async fn stored_org(store: &DynStore) -> Organization {
    let org = new_org();
    store
        .commit(ChangeSet::new(org.id, OrganizationWrite::Put(org.clone())))
        .await
        .unwrap();
    store.organization(org.id).await.unwrap().unwrap()
}

async fn reload(store: &DynStore, org: OrganizationId) -> Organization {
    store.organization(org).await.unwrap().unwrap()
}

async fn put(store: &DynStore, org: OrganizationId, writes: Vec<Write>) -> Result<(), StoreError> {
    let org = reload(store, org).await;
    store.commit(changes(&org, writes)).await
}

/// The one statistics of `scope`, as [`Store::statistics`](crate::Store::statistics)
/// answers for it alone.
async fn stats_of(
    store: &DynStore,
    org: OrganizationId,
    scope: crate::domain::activity::StatsScope,
    period: crate::domain::activity::Period,
) -> crate::domain::activity::Statistics {
    let mut stats = store.statistics(org, &[scope], period).await.unwrap();
    assert_eq!(stats.len(), 1, "one scope asked, one answered");
    stats.pop().unwrap()
}

/// The targets of an invitation to `emails`, as [`Store::invitation_context`] reads them
/// for a user who is no member.
///
/// [`Store::invitation_context`]: crate::Store::invitation_context
async fn targets_of(
    store: &DynStore,
    org: OrganizationId,
    emails: &[EmailAddress],
) -> InvitationTargets {
    store
        .invitation_context(org, UserId::new(), emails, t0())
        .await
        .unwrap()
        .unwrap()
        .targets
}

/// Every member of `org`, page by page.
async fn all_members(store: &DynStore, org: OrganizationId) -> Vec<Member> {
    let mut all = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let rows = store
            .members(org, MemberFilter::default(), page)
            .await
            .unwrap();
        all.extend(rows.iter().cloned());
        match rows.last() {
            Some(last) if rows.len() == page.len() => page = Page::after(last.id, page.limit),
            _ => return all,
        }
    }
}

/// What an invitation to `emails` must see, from the single reads: the members' email keys
/// and the pending invitations to the addresses (by key), and the seats at [`t0`] when
/// `capped`.
async fn targets_from_single_reads(
    store: &DynStore,
    org: OrganizationId,
    emails: &[EmailAddress],
    capped: bool,
) -> InvitationTargets {
    let keys: HashSet<&str> = emails.iter().map(EmailAddress::key).collect();
    let mut member_emails: Vec<String> = all_members(store, org)
        .await
        .into_iter()
        .map(|m| m.email.key().to_owned())
        .filter(|k| keys.contains(k.as_str()))
        .collect();
    member_emails.sort();
    let mut pending: Vec<Invitation> = store
        .invitations(
            org,
            InvitationFilter::pending(),
            Page::first(Page::MAX_LIMIT),
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|i| keys.contains(i.email.key()))
        .collect();
    pending.sort_by_key(|i| i.id);
    let seats = match capped {
        true => Some(store.seat_usage(org, t0()).await.unwrap()),
        false => None,
    };
    InvitationTargets {
        member_emails,
        pending,
        seats,
    }
}

/// A learning event of `user` in `org`, with the id `n` made unique to the organization.
fn learning(org: OrganizationId, user: UserId, n: u32) -> crate::domain::activity::Activity {
    crate::domain::activity::Activity {
        id: crate::domain::text::ActivityId::parse(format!("{org}-l{n}")).unwrap(),
        organization: org,
        user,
        course: crate::CourseId::parse("sql-101").unwrap(),
        kind: crate::domain::activity::ActivityKind::Enrolled,
        at: t0(),
    }
}

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
            .link_context(&invitation.token_hash, None, t0())
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
        .link_context(&inv.token_hash, None, t0())
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
            .link_context(&inv.token_hash, None, t0())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .link_context(&new_token.hash(), None, t0())
            .await
            .unwrap()
            .unwrap()
            .invitation
            .id,
        inv.id
    );
    assert!(
        store
            .link_context(&token(4).hash(), None, t0())
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
                .link_context(hash, Some(member.user), t0())
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
            let anonymous = store.link_context(hash, None, t0()).await.unwrap().unwrap();
            assert_eq!(anonymous.invitation, link.invitation);
            assert_eq!(anonymous.member, None);
        }
        assert!(
            store
                .link_context(&token(9).hash(), Some(member.user), t0())
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
        let link = store.link_context(hash, None, t0()).await.unwrap().unwrap();
        teams.push(link.team);
    }
    let stored_team = store.team(org.id, team.id).await.unwrap();
    assert!(stored_team.is_some());
    assert_eq!(teams, vec![stored_team, None, None]);
}

/// Listings are keyset-paginated by id: ascending, complete, without repeats, and stable
/// when rows are added while paging.
pub async fn pagination_is_ordered_complete_and_stable(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let m = new_member(org.id, email(&format!("p{i}"), org.id));
        ids.push(m.id);
        put(&*store, org.id, vec![Write::PutMember(m)])
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut page = Page::first(10);
    let mut added = false;
    loop {
        let rows = store
            .members(org.id, MemberFilter::default(), page)
            .await
            .unwrap();
        seen.extend(rows.iter().map(|m| m.id));
        if !added {
            let late = new_member(org.id, email("late", org.id));
            ids.push(late.id);
            put(&*store, org.id, vec![Write::PutMember(late)])
                .await
                .unwrap();
            added = true;
        }
        if rows.len() < page.len() {
            break;
        }
        page = Page::after(rows.last().unwrap().id, 10);
    }
    ids.sort();
    assert_eq!(
        seen, ids,
        "every member once, in id order, the late one at the end"
    );
    let none = store
        .members(
            OrganizationId::new(),
            MemberFilter::default(),
            Page::first(5),
        )
        .await;
    assert!(none.unwrap().is_empty());
}

/// Member listings filter by role and by team, exactly; a member's teams are theirs alone.
pub async fn member_filters_and_role_counts(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let team = new_team(org.id, "Filters");
    let mut admin = new_member(org.id, email("admin", org.id));
    admin.roles = RoleSet::learner().grant(Role::Administrator).unwrap();
    let learner = new_member(org.id, email("learner", org.id));
    let writes = vec![
        Write::PutTeam(team.clone()),
        Write::PutMember(admin.clone()),
        Write::PutMember(learner.clone()),
        Write::AddTeamMember {
            team: team.id,
            member: learner.id,
            at: t0(),
        },
    ];
    put(&*store, org.id, writes).await.unwrap();
    let admins = MemberFilter {
        role: Some(Role::Administrator),
        team: None,
    };
    let rows = store
        .members(org.id, admins, Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![admin.id]
    );
    let in_team = MemberFilter {
        role: None,
        team: Some(team.id),
    };
    let rows = store
        .members(org.id, in_team, Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![learner.id]
    );
    let with_role = |role| MemberFilter {
        role: Some(role),
        team: None,
    };
    assert_eq!(
        store
            .members(org.id, with_role(Role::Administrator), Page::first(10))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .members(org.id, with_role(Role::Member), Page::first(10))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store.teams_of(org.id, learner.id).await.unwrap(),
        vec![team.id]
    );
    assert!(
        !store
            .teams_of(org.id, admin.id)
            .await
            .unwrap()
            .contains(&team.id)
    );
}

/// Team names are unique per organization regardless of case; team memberships are unique
/// and go away with their team or their member.
pub async fn teams_and_team_memberships(store: Arc<DynStore>) {
    let org = stored_org(&*store).await;
    let sales = new_team(org.id, "Sales");
    let m = new_member(org.id, email("team", org.id));
    let writes = vec![
        Write::PutTeam(sales.clone()),
        Write::PutMember(m.clone()),
        Write::AddTeamMember {
            team: sales.id,
            member: m.id,
            at: t0(),
        },
    ];
    put(&*store, org.id, writes).await.unwrap();
    assert_eq!(
        store.team(org.id, sales.id).await.unwrap().unwrap().name,
        sales.name
    );
    let twin = new_team(org.id, "SALES");
    let dup = put(&*store, org.id, vec![Write::PutTeam(twin)]).await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Duplicate {
                constraint: constraint::UNIQUE_TEAM_NAME
            })
        ),
        "{dup:?}"
    );
    let again = put(
        &*store,
        org.id,
        vec![Write::AddTeamMember {
            team: sales.id,
            member: m.id,
            at: t0(),
        }],
    )
    .await;
    assert!(
        matches!(
            again,
            Err(StoreError::Duplicate {
                constraint: constraint::ONE_TEAM_MEMBERSHIP
            })
        ),
        "{again:?}"
    );
    let ghost = put(
        &*store,
        org.id,
        vec![Write::AddTeamMember {
            team: TeamId::new(),
            member: m.id,
            at: t0(),
        }],
    )
    .await;
    assert!(ghost.is_err(), "a membership needs an existing team");
    // A member the same commit inserts (an acceptance into a team), into a team that does
    // not exist: the whole commit fails, the member is not written either.
    let newcomer = new_member(org.id, email("newcomer", org.id));
    let lost = put(
        &*store,
        org.id,
        vec![
            Write::PutMember(newcomer.clone()),
            Write::AddTeamMember {
                team: TeamId::new(),
                member: newcomer.id,
                at: t0(),
            },
        ],
    )
    .await;
    assert!(matches!(lost, Err(StoreError::Missing { .. })), "{lost:?}");
    assert!(
        store.member(org.id, newcomer.user).await.unwrap().is_none(),
        "the member of a failed commit was written"
    );
    // The same name is free in another organization.
    let other = stored_org(&*store).await;
    put(
        &*store,
        other.id,
        vec![Write::PutTeam(new_team(other.id, "Sales"))],
    )
    .await
    .unwrap();

    let support = new_team(org.id, "Support");
    put(
        &*store,
        org.id,
        vec![
            Write::PutTeam(support.clone()),
            Write::AddTeamMember {
                team: support.id,
                member: m.id,
                at: t0(),
            },
        ],
    )
    .await
    .unwrap();
    // A rename onto another team's name, in any case, is refused as well; onto its own name
    // in another case it is not (spec: TEAM-1).
    let mut renamed = store.team(org.id, support.id).await.unwrap().unwrap();
    renamed.name = TeamName::parse("sALES").unwrap();
    let dup = put(&*store, org.id, vec![Write::PutTeam(renamed.clone())]).await;
    assert!(
        matches!(
            dup,
            Err(StoreError::Duplicate {
                constraint: constraint::UNIQUE_TEAM_NAME
            })
        ),
        "{dup:?}"
    );
    renamed.name = TeamName::parse("SUPPORT").unwrap();
    put(&*store, org.id, vec![Write::PutTeam(renamed)])
        .await
        .unwrap();
    let stored_sales = store.team(org.id, sales.id).await.unwrap().unwrap();
    put(
        &*store,
        org.id,
        vec![Write::DeleteTeam {
            team: sales.id,
            expected_version: stored_sales.version,
            at: t0(),
        }],
    )
    .await
    .unwrap();
    assert!(store.team(org.id, sales.id).await.unwrap().is_none());
    assert_eq!(
        store.teams_of(org.id, m.id).await.unwrap(),
        vec![support.id]
    );
    let stored_m = store.member(org.id, m.user).await.unwrap().unwrap();
    put(
        &*store,
        org.id,
        vec![Write::DeleteMember {
            member: m.id,
            expected_version: stored_m.version,
            at: t0(),
        }],
    )
    .await
    .unwrap();
    assert!(store.member(org.id, m.user).await.unwrap().is_none());
    let in_support = MemberFilter {
        role: None,
        team: Some(support.id),
    };
    assert!(
        store
            .members(org.id, in_support, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    let teams = store.teams(org.id, Page::first(10)).await.unwrap();
    assert_eq!(
        teams.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![support.id]
    );
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
            Capabilities {
                coursecloud_legacy: true,
                ..Capabilities::default()
            },
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
                let options = AcceptOptions {
                    profile: profile(),
                    existing_account: false,
                    warning_acknowledged: false,
                };
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

/// spec: STAT-1, STAT-2, TEAM-4 — recording is idempotent per event id, and the statistics
/// of every scope equal the reference computation ([`Tally`](crate::domain::activity::Tally)), including members who joined
/// or left a team during the period and a member in two teams.
pub async fn activity_statistics_match_the_reference(store: Arc<DynStore>) {
    use crate::domain::activity::{Activity, ActivityKind, Period, StatsScope, Tally};
    let org = stored_org(&*store).await;
    let base = t0();
    let (red, blue) = (new_team(org.id, "Red"), new_team(org.id, "Blue"));
    let people: Vec<Member> = (0..4)
        .map(|i| new_member(org.id, email(&format!("s{i}"), org.id)))
        .collect();
    let mut writes = vec![Write::PutTeam(red.clone()), Write::PutTeam(blue.clone())];
    writes.extend(people.iter().cloned().map(Write::PutMember));
    put(&*store, org.id, writes).await.unwrap();
    // Stints: p0 in Red (but for two days); p1 in Red and Blue; p2 joins Blue on day 10; p3
    // leaves Red on day 5 (a member of Red in a period that overlaps, with only the events
    // before day 5 counted for it: spec: TEAM-4).
    let day = |d: i64| base + Duration::days(d);
    let stint = |team: &Team, m: &Member, at| Write::AddTeamMember {
        team: team.id,
        member: m.id,
        at,
    };
    let leave = |team: &Team, m: &Member, at| Write::RemoveTeamMember {
        team: team.id,
        member: m.id,
        at,
    };
    put(
        &*store,
        org.id,
        vec![
            stint(&red, &people[0], day(-30)),
            stint(&red, &people[1], day(-30)),
            stint(&blue, &people[1], day(-30)),
            stint(&red, &people[3], day(-30)),
        ],
    )
    .await
    .unwrap();
    put(
        &*store,
        org.id,
        vec![
            stint(&blue, &people[2], day(10)),
            leave(&red, &people[3], day(5)),
        ],
    )
    .await
    .unwrap();
    // p0 leaves Red on day 12 and comes back on day 14: two stints in the period, counted once.
    put(&*store, org.id, vec![leave(&red, &people[0], day(12))])
        .await
        .unwrap();
    put(&*store, org.id, vec![stint(&red, &people[0], day(14))])
        .await
        .unwrap();
    let invite_red = Invitation {
        team: Some(red.id),
        ..new_invitation(org.id, email("inv", org.id), day(2))
    };
    put(&*store, org.id, vec![Write::PutInvitation(invite_red)])
        .await
        .unwrap();

    let kinds = [
        ActivityKind::Enrolled,
        ActivityKind::Progress { percent: 40 },
        ActivityKind::TimeSpent { seconds: 1800 },
        ActivityKind::Completed,
        ActivityKind::CertificateEarned,
    ];
    let courses = [
        "sql-101", "rust-201", "Zeta", "alpha", "b-course", "c-course",
    ];
    let mut events = Vec::new();
    for n in 0..120_i64 {
        let who = &people[(n % 4) as usize];
        events.push(Activity {
            id: crate::domain::text::ActivityId::parse(format!("{}-{n}", org.id)).unwrap(),
            organization: org.id,
            user: who.user,
            course: crate::CourseId::parse(courses[(n % 6) as usize]).unwrap(),
            kind: kinds[(n % 5) as usize],
            at: day(-3) + Duration::hours(n * 7),
        });
    }
    let new = store.record_activities(org.id, &events).await.unwrap();
    assert_eq!(
        new,
        Recorded::New(vec![true; events.len()]),
        "first time: all new"
    );
    let again = store
        .record_activities(org.id, &events[..10])
        .await
        .unwrap();
    assert_eq!(
        again,
        Recorded::New(vec![false; 10]),
        "a retried batch never counts twice"
    );

    let period = Period::new(day(0), day(28)).unwrap();
    // Each team's stints as (member, from day, to day), as written above.
    let in_team = |team: &Team, e: &Activity| -> bool {
        let stints: &[(usize, i64, i64)] = if team.id == red.id {
            &[
                (0, -30, 12),
                (0, 14, i64::MAX),
                (1, -30, i64::MAX),
                (3, -30, 5),
            ]
        } else {
            &[(1, -30, i64::MAX), (2, 10, i64::MAX)]
        };
        stints.iter().any(|(i, from, to)| {
            people[*i].user == e.user && day(*from) <= e.at && (*to == i64::MAX || e.at < day(*to))
        })
    };
    let reference = |keep: &dyn Fn(&Activity) -> bool, invited: u64, members: u64| {
        let mut tally = Tally::default();
        for e in events.iter().filter(|e| period.contains(e.at) && keep(e)) {
            tally.add(e);
        }
        tally.finish(period, invited, members)
    };
    let org_stats = stats_of(&*store, org.id, StatsScope::Organization, period).await;
    assert_eq!(org_stats, reference(&|_| true, 1, 4));
    let red_stats = stats_of(&*store, org.id, StatsScope::Team(red.id), period).await;
    assert_eq!(red_stats, reference(&|e| in_team(&red, e), 1, 3));
    let blue_stats = stats_of(&*store, org.id, StatsScope::Team(blue.id), period).await;
    assert_eq!(blue_stats, reference(&|e| in_team(&blue, e), 0, 2));
    let member = StatsScope::Member(people[2].user);
    let one = stats_of(&*store, org.id, member, period).await;
    assert_eq!(one, reference(&|e| e.user == people[2].user, 0, 1));
    assert!(org_stats.weekly.len() >= 4 && org_stats.top_courses.len() == 5);
    // Several teams at once: the same figures, in the order asked, a repeated team and an
    // unknown one included (spec: STAT-3); other scopes among them too.
    let unknown = crate::TeamId::new();
    let side_by_side = store
        .statistics(
            org.id,
            &[
                StatsScope::Team(blue.id),
                StatsScope::Team(red.id),
                StatsScope::Organization,
                StatsScope::Team(blue.id),
                member,
                StatsScope::Team(unknown),
            ],
            period,
        )
        .await
        .unwrap();
    assert_eq!(
        side_by_side,
        vec![
            blue_stats.clone(),
            red_stats.clone(),
            org_stats.clone(),
            blue_stats.clone(),
            one.clone(),
            Tally::default().finish(period, 0, 0),
        ]
    );
    assert!(
        store
            .statistics(org.id, &[], period)
            .await
            .unwrap()
            .is_empty()
    );

    // Per-member rows, paged, in member-id order.
    let mut rows = store
        .member_activity(org.id, StatsScope::Organization, period, Page::first(3))
        .await
        .unwrap();
    let last = rows.last().unwrap().member;
    rows.extend(
        store
            .member_activity(
                org.id,
                StatsScope::Organization,
                period,
                Page::after(last, 3),
            )
            .await
            .unwrap(),
    );
    assert_eq!(rows.len(), 4);
    for row in &rows {
        let mine = reference(&|e| e.user == row.user, 0, 1);
        assert_eq!(
            (
                row.enrolments,
                row.completions,
                row.certificates,
                row.time_spent_seconds
            ),
            (
                mine.enrolments,
                mine.completions,
                mine.certificates,
                mine.time_spent_seconds
            )
        );
        let last_active = events
            .iter()
            .filter(|e| e.user == row.user && period.contains(e.at))
            .map(|e| e.at)
            .max();
        assert_eq!(row.last_active, last_active);
    }
    let blue_rows = store
        .member_activity(org.id, StatsScope::Team(blue.id), period, Page::first(10))
        .await
        .unwrap();
    let mut blue_users: Vec<_> = blue_rows.iter().map(|r| r.user).collect();
    blue_users.sort();
    let mut expected = vec![people[1].user, people[2].user];
    expected.sort();
    assert_eq!(blue_users, expected);
}

/// spec: TEAM-4 — a member's stints in a team never overlap, even when the instances that
/// wrote them disagree about the time: one removes the member at day 20 by its clock,
/// another adds them back at day 15 by its own. An event of day 17 is counted once, and
/// closing a stint never ends it before it began.
pub async fn stints_never_overlap_whatever_the_clocks(store: Arc<DynStore>) {
    use crate::domain::activity::{Activity, ActivityKind, Period, StatsScope};
    let org = stored_org(&*store).await;
    let day = |d: i64| t0() + Duration::days(d);
    let blue = new_team(org.id, "Blue");
    let m = new_member(org.id, email("skewed", org.id));
    let writes = vec![Write::PutTeam(blue.clone()), Write::PutMember(m.clone())];
    put(&*store, org.id, writes).await.unwrap();
    for (join, at) in [
        (true, day(10)),
        (false, day(20)),
        (true, day(15)),
        (false, day(25)),
    ] {
        let step = if join {
            Write::AddTeamMember {
                team: blue.id,
                member: m.id,
                at,
            }
        } else {
            Write::RemoveTeamMember {
                team: blue.id,
                member: m.id,
                at,
            }
        };
        put(&*store, org.id, vec![step]).await.unwrap();
    }
    let event = |n: u8, at| Activity {
        id: crate::domain::text::ActivityId::parse(format!("{}-skew{n}", org.id)).unwrap(),
        organization: org.id,
        user: m.user,
        course: crate::CourseId::parse("sql-101").unwrap(),
        kind: ActivityKind::Completed,
        at,
    };
    // The second stint opened when the first closed (day 20), not on day 15: day 17 lies in
    // the first stint only, day 21 in the second.
    let events = [event(1, day(17)), event(2, day(21))];
    store.record_activities(org.id, &events).await.unwrap();
    let period = Period::new(day(0), day(28)).unwrap();
    let stats = stats_of(&*store, org.id, StatsScope::Team(blue.id), period).await;
    assert_eq!(stats.completions, 2, "{stats:?}");
    // Compared with another team, in the one pass over the period's events (spec: STAT-3).
    let other = StatsScope::Team(TeamId::new());
    let compared = store
        .statistics(org.id, &[StatsScope::Team(blue.id), other], period)
        .await
        .unwrap();
    assert_eq!(compared[0].completions, 2, "{compared:?}");
}

/// Team figures count a member's events only while they were in the team, clipped to the
/// period: the events before, after and between their stints are not the team's, a stint
/// that ended the moment it began makes no member, and an open stint counts up to the end
/// of the period (spec: TEAM-4, STAT-2, STAT-3, STAT-4).
pub async fn team_figures_count_only_time_in_the_team(store: Arc<DynStore>) {
    use crate::domain::activity::{Activity, ActivityKind, Period, StatsScope, Tally};
    let org = stored_org(&*store).await;
    let day = |d: i64| t0() + Duration::days(d);
    let red = new_team(org.id, "Red");
    // x: one hour in Red on day 10; y: two stints; z: in Red from day 18 on; w: added and
    // removed at the same instant.
    let [x, y, z, w]: [Member; 4] =
        ["x", "y", "z", "w"].map(|l| new_member(org.id, email(l, org.id)));
    let mut writes = vec![Write::PutTeam(red.clone())];
    writes.extend([&x, &y, &z, &w].map(|m| Write::PutMember(m.clone())));
    put(&*store, org.id, writes).await.unwrap();
    let join = |m: &Member, at| Write::AddTeamMember {
        team: red.id,
        member: m.id,
        at,
    };
    let leave = |m: &Member, at| Write::RemoveTeamMember {
        team: red.id,
        member: m.id,
        at,
    };
    let short = day(10) + Duration::hours(12);
    for step in [
        join(&y, day(-30)),
        leave(&y, day(8)),
        join(&x, short),
        leave(&x, short + Duration::hours(1)),
        join(&w, day(11)),
        leave(&w, day(11)),
        join(&z, day(18)),
        join(&y, day(20)),
    ] {
        put(&*store, org.id, vec![step]).await.unwrap();
    }
    let mut n = 0;
    let mut event = |m: &Member, kind, at| {
        n += 1;
        Activity {
            id: crate::domain::text::ActivityId::parse(format!("{}-t{n}", org.id)).unwrap(),
            organization: org.id,
            user: m.user,
            course: crate::CourseId::parse(if n % 2 == 0 { "sql-101" } else { "rust-201" })
                .unwrap(),
            kind,
            at,
        }
    };
    let enrolled = ActivityKind::Enrolled;
    let completed = ActivityKind::Completed;
    let seconds = |s| ActivityKind::TimeSpent { seconds: s };
    // (event, counted for Red)
    let events = [
        (event(&x, completed, day(5)), false),
        (event(&x, enrolled, short), true),
        (event(&x, seconds(600), short + Duration::minutes(30)), true),
        (event(&x, completed, short + Duration::hours(1)), false),
        (event(&x, seconds(7200), day(15)), false),
        (event(&y, enrolled, day(3)), true),
        (event(&y, seconds(900), day(12)), false),
        (event(&y, completed, day(25)), true),
        (event(&z, completed, day(2)), false),
        (event(&z, seconds(300), day(19)), true),
        (event(&w, enrolled, day(11)), false),
        (event(&w, seconds(60), day(13)), false),
    ];
    let all: Vec<Activity> = events.iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(
        store.record_activities(org.id, &all).await.unwrap(),
        Recorded::New(vec![true; all.len()])
    );
    let period = Period::new(day(0), day(28)).unwrap();
    let red_stats = stats_of(&*store, org.id, StatsScope::Team(red.id), period).await;
    // Pinned: x, y and z were members of Red in the period, w never for a moment.
    assert_eq!(
        (
            red_stats.members,
            red_stats.active_learners,
            red_stats.enrolments,
            red_stats.completions,
            red_stats.time_spent_seconds
        ),
        (3, 3, 2, 1, 900)
    );
    let mut tally = Tally::default();
    for (e, _) in events.iter().filter(|(_, counted)| *counted) {
        tally.add(e);
    }
    assert_eq!(red_stats, tally.finish(period, 0, 3));
    let beside = StatsScope::Team(TeamId::new());
    assert_eq!(
        store
            .statistics(org.id, &[StatsScope::Team(red.id), beside], period)
            .await
            .unwrap(),
        vec![red_stats.clone(), Tally::default().finish(period, 0, 0)],
        "a comparison counts what the team's figures count"
    );
    let rows = store
        .member_activity(org.id, StatsScope::Team(red.id), period, Page::first(10))
        .await
        .unwrap();
    let mut got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.user,
                r.enrolments,
                r.completions,
                r.time_spent_seconds,
                r.last_active,
            )
        })
        .collect();
    got.sort();
    let mut expected = vec![
        (x.user, 1, 0, 600, Some(short + Duration::minutes(30))),
        (y.user, 1, 1, 0, Some(day(25))),
        (z.user, 0, 0, 300, Some(day(19))),
    ];
    expected.sort();
    assert_eq!(got, expected, "the export counts what the figures count");

    // A period that holds only x's hour in Red: x is its one member, with the hour's events.
    let hour = Period::new(short, short + Duration::hours(1)).unwrap();
    let stats = stats_of(&*store, org.id, StatsScope::Team(red.id), hour).await;
    assert_eq!(
        (
            stats.members,
            stats.active_learners,
            stats.enrolments,
            stats.time_spent_seconds
        ),
        (1, 1, 1, 600)
    );
    // A period between y's stints, after x left and before z joined: nobody.
    let gap = Period::new(day(16), day(17)).unwrap();
    assert_eq!(
        stats_of(&*store, org.id, StatsScope::Team(red.id), gap).await,
        Tally::default().finish(gap, 0, 0)
    );
}

/// Reads given an id that belongs to another organization find nothing: a team, a member, an
/// invitation of organization B read with organization A's id, even for a user who is a
/// member of both, with activity in both (spec: ERR-1, TEAM-4).
pub async fn ids_of_another_organization_read_nothing(store: Arc<DynStore>) {
    use crate::domain::activity::{Activity, ActivityKind, Period, StatsScope, Tally};
    let (a, b) = (stored_org(&*store).await, stored_org(&*store).await);
    let both = UserId::new();
    let in_a = Member {
        user: both,
        ..new_member(a.id, email("both", a.id))
    };
    let in_b = Member {
        user: both,
        ..new_member(b.id, email("both", b.id))
    };
    let only_b = new_member(b.id, email("only", b.id));
    let team_a = new_team(a.id, "Alpha");
    let team_b = new_team(b.id, "Beta");
    let invitation_b = new_invitation(b.id, email("inv", b.id), t0());
    put(
        &*store,
        a.id,
        vec![
            Write::PutTeam(team_a.clone()),
            Write::PutMember(in_a.clone()),
        ],
    )
    .await
    .unwrap();
    put(
        &*store,
        b.id,
        vec![
            Write::PutTeam(team_b.clone()),
            Write::PutMember(in_b.clone()),
            Write::PutMember(only_b.clone()),
            Write::PutInvitation(invitation_b.clone()),
        ],
    )
    .await
    .unwrap();
    let join = |team: &Team, m: &Member| Write::AddTeamMember {
        team: team.id,
        member: m.id,
        at: t0() - Duration::days(1),
    };
    put(&*store, a.id, vec![join(&team_a, &in_a)])
        .await
        .unwrap();
    put(
        &*store,
        b.id,
        vec![join(&team_b, &in_b), join(&team_b, &only_b)],
    )
    .await
    .unwrap();
    let activity = |org: &Organization, n: u32| Activity {
        id: crate::domain::text::ActivityId::parse(format!("{}-f{n}", org.id)).unwrap(),
        organization: org.id,
        user: both,
        course: crate::CourseId::parse("sql-101").unwrap(),
        kind: ActivityKind::Enrolled,
        at: t0() + Duration::hours(i64::from(n)),
    };
    store
        .record_activities(a.id, &[activity(&a, 1), activity(&a, 2)])
        .await
        .unwrap();
    store
        .record_activities(b.id, &[activity(&b, 3)])
        .await
        .unwrap();
    let period = Period::new(t0(), t0() + Duration::days(1)).unwrap();
    let nothing = Tally::default().finish(period, 0, 0);
    let before = reload(&*store, a.id).await;

    assert_eq!(store.team(a.id, team_b.id).await.unwrap(), None);
    assert_eq!(store.member(a.id, only_b.user).await.unwrap(), None);
    assert_eq!(
        store
            .record_activities(a.id, &[learning(a.id, only_b.user, 9)])
            .await
            .unwrap(),
        Recorded::NotMembers(vec![only_b.user])
    );
    assert!(
        targets_of(&*store, a.id, std::slice::from_ref(&only_b.email))
            .await
            .member_emails
            .is_empty()
    );
    assert_eq!(store.invitation(a.id, invitation_b.id).await.unwrap(), None);
    assert!(store.teams_of(a.id, in_b.id).await.unwrap().is_empty());
    for member in [in_a.id, in_b.id] {
        assert!(
            !store
                .teams_of(a.id, member)
                .await
                .unwrap()
                .contains(&team_b.id)
        );
    }
    let filter = MemberFilter {
        role: None,
        team: Some(team_b.id),
    };
    assert!(
        store
            .members(a.id, filter, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        stats_of(&*store, a.id, StatsScope::Team(team_b.id), period).await,
        nothing,
        "B's team shows nothing of A's activity"
    );
    let own_team = StatsScope::Team(team_a.id);
    let side_by_side = store
        .statistics(a.id, &[StatsScope::Team(team_b.id), own_team], period)
        .await
        .unwrap();
    assert_eq!(side_by_side[0], nothing.clone());
    assert!(
        store
            .member_activity(a.id, StatsScope::Team(team_b.id), period, Page::first(10))
            .await
            .unwrap()
            .is_empty(),
        "B's team lists none of A's members"
    );
    assert_eq!(
        stats_of(&*store, a.id, StatsScope::Member(only_b.user), period).await,
        nothing
    );
    // The same reads with A's own ids see A's data.
    let own = stats_of(&*store, a.id, own_team, period).await;
    assert_eq!((own.members, own.enrolments), (1, 2));
    assert_eq!(side_by_side[1], own);
    // Writing B's team into A is refused, and changes nothing.
    assert!(
        put(&*store, a.id, vec![join(&team_b, &in_a)])
            .await
            .is_err()
    );
    assert_eq!(reload(&*store, a.id).await, before);
    assert!(
        !store
            .teams_of(b.id, in_a.id)
            .await
            .unwrap()
            .contains(&team_b.id)
    );
}

/// The names of every case, in the order the macro runs them.
#[doc(hidden)]
pub const CASES: &[&str] = &[
    "organization_roundtrip",
    "members_are_unique_per_user_and_email",
    "versions_bump_on_every_write",
    "commit_is_atomic",
    "one_pending_invitation_per_email",
    "invitations_are_found_by_current_token_hash",
    "seat_usage_counts_members_and_unexpired_invitations",
    "combined_reads_agree_with_single_reads",
    "pagination_is_ordered_complete_and_stable",
    "member_filters_and_role_counts",
    "teams_and_team_memberships",
    "events_are_kept_in_order",
    "outbox_is_at_least_once",
    "only_the_claim_holding_a_row_settles_it",
    "claims_take_turns_across_organizations",
    "an_invitation_change_withdraws_its_queued_mail",
    "concurrent_claims_never_share_a_row",
    "concurrent_commits_have_one_winner",
    "invitation_race_has_exactly_one_outcome",
    "activity_statistics_match_the_reference",
    "team_figures_count_only_time_in_the_team",
    "stints_never_overlap_whatever_the_clocks",
    "ids_of_another_organization_read_nothing",
];

/// Expands to one `#[tokio::test]` per conformance case. `$make` is an async closure
/// returning `Option<S>` where `S` converts into `Arc<DynStore>`; `None` skips the case
/// (for example when no database URL is configured).
///
/// With a second argument, `$make` returns `Option<(S, T)>` and `$after`, an async closure
/// taking the `T`, runs once the case is over and its store dropped: to remove what the
/// store leaves behind, a database file or a schema. It does not run after a failed case,
/// whose leftovers are then there to look at.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(
            || async { ($make)().await.map(|store| (store, ())) },
            |(): ()| async {}
        );
    };
    ($make:expr, $after:expr) => {
        $crate::store_conformance_tests!(@cases $make, $after,
            organization_roundtrip,
            members_are_unique_per_user_and_email,
            versions_bump_on_every_write,
            commit_is_atomic,
            one_pending_invitation_per_email,
            invitations_are_found_by_current_token_hash,
            seat_usage_counts_members_and_unexpired_invitations,
            combined_reads_agree_with_single_reads,
            pagination_is_ordered_complete_and_stable,
            member_filters_and_role_counts,
            teams_and_team_memberships,
            events_are_kept_in_order,
            outbox_is_at_least_once,
            only_the_claim_holding_a_row_settles_it,
            claims_take_turns_across_organizations,
            an_invitation_change_withdraws_its_queued_mail,
            concurrent_claims_never_share_a_row,
            concurrent_commits_have_one_winner,
            invitation_race_has_exactly_one_outcome,
            activity_statistics_match_the_reference,
            team_figures_count_only_time_in_the_team,
            stints_never_overlap_whatever_the_clocks,
            ids_of_another_organization_read_nothing
        );
    };
    (@cases $make:expr, $after:expr, $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((store, leftovers)) = ($make)().await else {
                    eprintln!("skipping {}: backend not configured", stringify!($name));
                    return;
                };
                let store: ::std::sync::Arc<$crate::DynStore> = ::std::sync::Arc::new(store);
                $crate::conformance::$name(store).await;
                ($after)(leftovers).await;
            }
        )+
        /// The macro runs every case the suite lists, in its order.
        #[test]
        fn macro_covers_every_case() {
            assert_eq!(&[$(stringify!($name)),+][..], $crate::conformance::CASES);
        }
    };
}
