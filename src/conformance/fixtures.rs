//! Builders and reads the conformance cases share, and the names they use.

pub(super) use std::{collections::HashSet, sync::Arc};

pub(super) use chrono::{DateTime, Duration, Utc};

pub(super) use crate::{
    AcceptOptions, Actor, Capability, Error, Roster,
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
        DynStore, InboxInvitation, InvitationFilter, InvitationLookup, InvitationTargets,
        MemberFilter, Page, Recorded, StoreError, constraint,
    },
};

pub(super) fn t0() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_603_600, 0).unwrap()
}

pub(super) fn email(local: &str, org: OrganizationId) -> EmailAddress {
    EmailAddress::parse(format!("{local}.{}@example.com", &org.to_string()[..8])).unwrap()
}

pub(super) fn profile() -> Profile {
    Profile::parse("Grace", "Hopper").unwrap()
}

pub(super) fn token(n: u8) -> InvitationToken {
    let mut bytes = [n; 32];
    // Distinct per call site and per run: the first bytes come from a fresh UUID.
    bytes[..16].copy_from_slice(uuid::Uuid::now_v7().as_bytes());
    InvitationToken::from_bytes(bytes)
}

pub(super) fn new_org() -> Organization {
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

pub(super) fn new_member(org: OrganizationId, mail: EmailAddress) -> Member {
    Member {
        id: MemberId::new(),
        organization: org,
        user: UserId::new(),
        email: mail,
        profile: profile(),
        roles: RoleSet::learner(),
        joined_at: t0(),
        invitation: None,
        deactivated_at: None,
        metadata: None,
        version: 0,
    }
}

pub(super) fn new_invitation(
    org: OrganizationId,
    mail: EmailAddress,
    now: DateTime<Utc>,
) -> Invitation {
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
        lifetime: None,
        metadata: None,
        version: 0,
    }
}

pub(super) fn new_team(org: OrganizationId, name: &str) -> Team {
    Team {
        id: TeamId::new(),
        organization: org,
        name: TeamName::parse(name).unwrap(),
        page: TeamPage::default(),
        created_at: t0(),
        version: 0,
    }
}

pub(super) fn event(org: OrganizationId) -> Event {
    Event {
        id: EventId::new(),
        organization: org,
        at: t0(),
        actor: EventActor::System,
        kind: EventKind::SeatCapChanged { seat_cap: None },
    }
}

pub(super) fn mail(org: OrganizationId, to: EmailAddress, now: DateTime<Utc>) -> OutboxMessage {
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
pub(super) fn invitation_mail(invitation: &Invitation, now: DateTime<Utc>) -> OutboxMessage {
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

pub(super) fn changes(org: &Organization, writes: Vec<Write>) -> ChangeSet {
    let mut c = ChangeSet::new(
        org.id,
        OrganizationWrite::Touch {
            expected_version: org.version,
        },
    );
    c.writes = writes;
    c
}

pub(super) async fn stored_org(store: &DynStore) -> Organization {
    let org = new_org();
    store
        .commit(ChangeSet::new(org.id, OrganizationWrite::Put(org.clone())))
        .await
        .unwrap();
    store.organization(org.id).await.unwrap().unwrap()
}

pub(super) async fn reload(store: &DynStore, org: OrganizationId) -> Organization {
    store.organization(org).await.unwrap().unwrap()
}

pub(super) async fn put(
    store: &DynStore,
    org: OrganizationId,
    writes: Vec<Write>,
) -> Result<(), StoreError> {
    let org = reload(store, org).await;
    store.commit(changes(&org, writes)).await
}

/// The one statistics of `scope`, as [`Store::statistics`](crate::Store::statistics)
/// answers for it alone.
pub(super) async fn stats_of(
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
pub(super) async fn targets_of(
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
pub(super) async fn all_members(store: &DynStore, org: OrganizationId) -> Vec<Member> {
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
pub(super) async fn targets_from_single_reads(
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
pub(super) fn learning(
    org: OrganizationId,
    user: UserId,
    n: u32,
) -> crate::domain::activity::Activity {
    crate::domain::activity::Activity {
        id: crate::domain::text::ActivityId::parse(format!("{org}-l{n}")).unwrap(),
        organization: org,
        user,
        course: crate::CourseId::parse("sql-101").unwrap(),
        kind: crate::domain::activity::ActivityKind::Enrolled,
        at: t0(),
    }
}
