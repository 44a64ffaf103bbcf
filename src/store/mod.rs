//! The `Store` port: how the roster reads and writes its state, and the stores that come
//! with the crate.
//!
//! # Implementing your own store
//! Implement [`Store`], then run the conformance suite against it (feature `conformance`,
//! module `orgroster::conformance`, macro `store_conformance_tests!`): a store is done when it
//! passes all of it. [`MemoryStore`] is the reference implementation.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

pub use self::memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use self::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use self::sqlite::SqliteStore;
use crate::domain::{
    activity::{Activity, MemberActivity, Period, Statistics, StatsScope},
    changes::ChangeSet,
    email::EmailAddress,
    event::Event,
    ids::{ClaimId, InvitationId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
    invitation::{Invitation, InvitationStatus},
    member::{Member, Membership},
    organization::{Organization, SeatUsage},
    outbox::{OutboxMessage, Settlement},
    role::Role,
    team::Team,
    text::{OrganizationName, Profile, TeamName},
    token::TokenHash,
    validation::{Field, ValidationError},
};
pub(crate) use crate::error::BoxError;

/// What every store maps its failures into. Driver errors never leak through it: they are
/// kept as `source` of [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A write's expected version no longer matches: someone else changed the row first.
    /// Nothing was written; the service re-reads and decides again.
    #[error("{entity} was changed concurrently; nothing was written")]
    Conflict {
        /// What kind of row.
        entity: &'static str,
    },
    /// A uniqueness rule refused a write. Nothing was written.
    #[error("uniqueness rule `{constraint}` refused the write; nothing was written")]
    Duplicate {
        /// The rule, named as in the SQL schema (for example `invitations_one_pending_per_email`).
        constraint: &'static str,
    },
    /// A write referred to a row that does not exist. Nothing was written.
    #[error("{entity} does not exist; nothing was written")]
    Missing {
        /// What kind of row.
        entity: &'static str,
    },
    /// The backend failed (connection lost, disk full…). Whether anything was written is
    /// for the backend to guarantee: the SQL stores roll back.
    #[error("the {backend} store failed")]
    Backend {
        /// Which store.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
}

/// The uniqueness rule names shared by every store.
pub mod constraint {
    /// At most one member per (organization, user) (spec: INV-11).
    pub const ONE_MEMBER_PER_USER: &str = "members_one_per_user";
    /// At most one member per (organization, email).
    pub const ONE_MEMBER_PER_EMAIL: &str = "members_one_per_email";
    /// At most one pending invitation per (organization, email) (spec: INV-8).
    pub const ONE_PENDING_PER_EMAIL: &str = "invitations_one_pending_per_email";
    /// Token hashes are unique.
    pub const UNIQUE_TOKEN: &str = "invitations_unique_token";
    /// Team names are unique per organization, regardless of case.
    pub const UNIQUE_TEAM_NAME: &str = "teams_unique_name";
    /// A member is in a team at most once.
    pub const ONE_TEAM_MEMBERSHIP: &str = "team_members_once";
    /// Ids are unique.
    pub const PRIMARY_KEY: &str = "primary_key";
}

/// Where a keyset-paginated listing starts, and how much it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    /// Return rows whose id sorts after this one; `None` for the first page.
    pub after: Option<Uuid>,
    /// How many rows at most, between 1 and [`Page::MAX_LIMIT`].
    pub limit: u32,
}

impl Page {
    /// The largest page.
    pub const MAX_LIMIT: u32 = 1000;

    /// The first page of up to `limit` rows (clamped to 1..=[`Page::MAX_LIMIT`]).
    pub fn first(limit: u32) -> Self {
        Self {
            after: None,
            limit: limit.clamp(1, Self::MAX_LIMIT),
        }
    }

    /// The page after the row with id `after`.
    pub fn after(after: impl Into<Uuid>, limit: u32) -> Self {
        Self {
            after: Some(after.into()),
            limit: limit.clamp(1, Self::MAX_LIMIT),
        }
    }

    /// The limit as a `usize`, clamped.
    pub fn len(&self) -> usize {
        self.limit.clamp(1, Self::MAX_LIMIT) as usize
    }

    /// Never empty: a page holds at least one row. Present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The version byte of a cursor's bytes, so that a later format can tell its own apart.
const CURSOR_VERSION: u8 = 1;

impl Page {
    /// The page as an opaque, URL-safe cursor a client hands back: what a host puts in its
    /// API responses ([`Listing`](crate::Listing) serializes its next page so). It holds only
    /// where the page starts and its size; a cursor edited by hand names another page of the
    /// same listing, never another organization's rows.
    pub fn cursor(&self) -> String {
        let mut bytes = Vec::with_capacity(21);
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&self.limit.to_be_bytes());
        if let Some(after) = self.after {
            bytes.extend_from_slice(after.as_bytes());
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The page a cursor from [`Page::cursor`] names.
    ///
    /// # Errors
    /// [`ValidationError::Malformed`] for [`Field::Cursor`] when it is not one.
    pub fn from_cursor(cursor: &str) -> Result<Self, ValidationError> {
        let malformed = || ValidationError::Malformed {
            field: Field::Cursor,
            reason: "this page cursor was not made by this listing; start from the first page",
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.as_bytes())
            .map_err(|_| malformed())?;
        let (limit, after) = match bytes.as_slice() {
            [CURSOR_VERSION, limit @ ..] if limit.len() == 4 => (limit, None),
            [CURSOR_VERSION, rest @ ..] if rest.len() == 20 => {
                let (limit, after) = rest.split_at(4);
                (
                    limit,
                    Some(Uuid::from_slice(after).map_err(|_| malformed())?),
                )
            }
            _ => return Err(malformed()),
        };
        let limit = u32::from_be_bytes(limit.try_into().map_err(|_| malformed())?);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(malformed());
        }
        Ok(Self { after, limit })
    }
}

/// Serialized as its [cursor](Page::cursor).
impl serde::Serialize for Page {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.cursor())
    }
}

/// Read back from its [cursor](Page::cursor); a malformed one is an error.
impl<'de> serde::Deserialize<'de> for Page {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let cursor = String::deserialize(deserializer)?;
        Self::from_cursor(&cursor).map_err(serde::de::Error::custom)
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::first(50)
    }
}

/// Which members a listing returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberFilter {
    /// Only members holding this role.
    pub role: Option<Role>,
    /// Only members of this team.
    pub team: Option<TeamId>,
    /// Only deactivated members (`Some(true)`), only active ones (`Some(false)`), or both
    /// (spec: MEM-2).
    pub deactivated: Option<bool>,
}

impl MemberFilter {
    /// Only members holding `role`.
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    /// Only members of `team`.
    pub fn in_team(mut self, team: TeamId) -> Self {
        self.team = Some(team);
        self
    }

    /// Only active members: those who can act and receive mail (spec: MEM-2).
    pub fn active(mut self) -> Self {
        self.deactivated = Some(false);
        self
    }

    /// Only deactivated members (spec: MEM-2).
    pub fn deactivated(mut self) -> Self {
        self.deactivated = Some(true);
        self
    }
}

/// Which invitations a listing returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InvitationFilter {
    /// Only invitations in this status; `None` for all.
    pub status: Option<InvitationStatus>,
    /// Only invitations granting this role.
    pub role: Option<Role>,
}

impl InvitationFilter {
    /// Pending invitations, expired or not: what listings show (spec: INV-2, INV-12).
    pub fn pending() -> Self {
        Self {
            status: Some(InvitationStatus::Pending),
            role: None,
        }
    }
}

/// The state of the addresses an invitation goes to, part of an [`InvitationContext`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvitationTargets {
    /// The email keys ([`EmailAddress::key`]) of the addresses that belong to members, each
    /// once, in no particular order.
    pub member_emails: Vec<String>,
    /// The pending invitations to the addresses, expired or not, each once, in no particular
    /// order.
    pub pending: Vec<Invitation>,
    /// The seats in use, counted only when the organization has a seat cap (spec: ORG-4).
    pub seats: Option<SeatUsage>,
}

/// What an invitation is decided on, read at once by [`Store::invitation_context`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationContext {
    /// The organization.
    pub organization: Organization,
    /// The inviter's membership in it, if any.
    pub member: Option<Member>,
    /// The addresses' state; seats counted only when the organization has a seat cap.
    pub targets: InvitationTargets,
}

/// How [`Store::link_context`] names the invitation it reads: by its link, or by its id from
/// the invitee's inbox (spec: INV-6, INV-15).
///
/// Not `#[non_exhaustive]`: a store must answer every way of naming an invitation, so a new
/// one is meant to break the stores that do not know it yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationLookup {
    /// The invitation whose current link's token has this hash: a superseded link's hash
    /// finds nothing (spec: INV-3, INV-6).
    TokenHash(TokenHash),
    /// The invitation with this id, whatever its status, in whichever organization holds it
    /// (ids are unique across organizations).
    Id(InvitationId),
}

/// What accepting, declining or previewing an invitation is decided on, read at once by
/// [`Store::link_context`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkContext {
    /// The invitation behind the link.
    pub invitation: Invitation,
    /// Its organization.
    pub organization: Organization,
    /// The membership in it of the user asked about, if any.
    pub member: Option<Member>,
    /// The seats in use, when the organization has a seat cap (spec: ORG-4).
    pub seats: Option<SeatUsage>,
    /// The team the invitation names, if it still exists in the organization.
    pub team: Option<Team>,
}

/// A pending invitation as its invitee's inbox lists it, read by [`Store::inbox`] (spec:
/// INV-15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxInvitation {
    /// The invitation.
    pub invitation: Invitation,
    /// Its organization's name.
    pub organization_name: OrganizationName,
    /// The name of the team it names, if that team still exists in the organization.
    pub team_name: Option<TeamName>,
    /// The name of who sent it, while they are a member of the organization.
    pub inviter: Option<Profile>,
}

/// What [`Store::record_activities`] did with a batch of learning events.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recorded {
    /// Every event's user is a member: the batch was recorded. For each event, in order,
    /// `true` if it was new, `false` if its id was recorded before (spec: STAT-1).
    New(Vec<bool>),
    /// Nothing was recorded: these users of the batch are not members of the organization,
    /// each once, in ascending order.
    NotMembers(Vec<UserId>),
}

/// Persistent state of the roster.
///
/// # Contract
/// Every implementation must pass the conformance suite (`orgroster::conformance`). In
/// particular:
/// - [`Store::commit`] applies every part of a [`ChangeSet`] or none (spec: ERR-2).
/// - An entity written with version `v` must be stored at version `v` (0: must not exist);
///   it is then stored at `v + 1`. Otherwise [`StoreError::Conflict`] and nothing is written.
///   The same holds for the organization under [`OrganizationWrite::Touch`] and
///   [`OrganizationWrite::Put`](crate::domain::changes::OrganizationWrite::Put);
///   [`OrganizationWrite::Check`](crate::domain::changes::OrganizationWrite::Check) checks
///   the version without bumping it, within the commit: a change of the organization
///   committed before the commit's check fails it.
/// - The uniqueness rules of [`constraint`] are enforced by the store itself, so a race
///   between service instances ends in [`StoreError::Duplicate`] or
///   [`StoreError::Conflict`], never in duplicates (spec: INV-8, INV-11). Team names rely on
///   it alone: no read checks them before a team is written (spec: TEAM-1).
/// - Outbox rows in a change set become claimable only once committed and are never lost
///   (spec: INV-9). [`Store::claim_outbox`] never hands a row to two callers while its lease
///   runs.
/// - A [`Write::PutInvitation`](crate::domain::changes::Write::PutInvitation) of an
///   invitation already stored (version > 0: accepted, declined, revoked or resent) withdraws
///   that invitation's pending outbox rows in the same commit, before the change set's own
///   mail is queued, so a pass can no longer claim an email whose link is dead (spec: INV-13).
/// - [`Write::RewriteInvitation`](crate::domain::changes::Write::RewriteInvitation) keeps the
///   invitation's queued mail; [`Write::WithdrawMailTo`](crate::domain::changes::Write::WithdrawMailTo)
///   leaves invitation mail alone; a rewritten event that is not there fails the commit, a
///   rewritten mail that is gone is skipped (spec: MEM-2, USR-5). An erasure reads
///   [`Store::invitations`], [`Store::events`] and [`Store::outbox`] to the last page: they
///   list every row of the organization.
/// - Reads observe every committed change set (read-your-writes).
/// - Email addresses are matched by their key ([`EmailAddress::key`]): regardless of case.
/// - Listings are keyset-paginated by id, ascending (ids are UUID v7, so this is creation
///   order).
///
/// Every method is required: each is what some command reads or writes, and none can be
/// derived from the others while keeping its contract (the combined reads are snapshots).
///
/// [`OrganizationWrite::Touch`]: crate::domain::changes::OrganizationWrite::Touch
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// An organization by id.
    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError>;

    /// The organization and `user`'s membership in it, read together: every command needs
    /// both before it decides anything (spec: ROLE-4). `None` when there is no such
    /// organization.
    async fn organization_with_member(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<(Organization, Option<Member>)>, StoreError>;

    /// The member of `org` who is `user`.
    async fn member(&self, org: OrganizationId, user: UserId)
    -> Result<Option<Member>, StoreError>;

    /// A page of `org`'s members, by id.
    async fn members(
        &self,
        org: OrganizationId,
        filter: MemberFilter,
        page: Page,
    ) -> Result<Vec<Member>, StoreError>;

    /// A page of the organizations `user` belongs to, each with its name and the user's
    /// membership, in organization-id order (`page.after` is an organization id) (spec:
    /// USR-4). One indexed read: its cost does not depend on how many organizations exist.
    async fn memberships(&self, user: UserId, page: Page) -> Result<Vec<Membership>, StoreError>;

    /// The teams `member` belongs to, by id.
    async fn teams_of(
        &self,
        org: OrganizationId,
        member: MemberId,
    ) -> Result<Vec<TeamId>, StoreError>;

    /// An invitation of `org` by id.
    async fn invitation(
        &self,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError>;

    /// A page of `org`'s invitations, by id.
    async fn invitations(
        &self,
        org: OrganizationId,
        filter: InvitationFilter,
        page: Page,
    ) -> Result<Vec<Invitation>, StoreError>;

    /// Active members plus pending invitations unexpired at `now` (spec: ORG-4, MEM-2: a
    /// deactivated member takes no seat).
    async fn seat_usage(
        &self,
        org: OrganizationId,
        now: DateTime<Utc>,
    ) -> Result<SeatUsage, StoreError>;

    /// Everything an invitation to `emails` is decided on (spec: ROLE-4, INV-2, INV-8,
    /// ORG-4): the organization, `user`'s membership in it, and the [`InvitationTargets`] of
    /// `emails` — which of the addresses (matched regardless of case) belong to members, the
    /// pending invitations to them (expired or not; closed ones never), and, when the
    /// organization has a seat cap, the seats in use at `now` (counting takes time in
    /// proportion to the organization: only a cap needs it). `None` when there is no such
    /// organization.
    ///
    /// The targets must be one snapshot: invitations to an organization without a seat cap
    /// commit side by side, each trusting that no member and no pending invitation held its
    /// address at one moment (spec: INV-8). The organization and membership need not be in
    /// the same one (the commit checks their versions).
    async fn invitation_context(
        &self,
        org: OrganizationId,
        user: UserId,
        emails: &[EmailAddress],
        now: DateTime<Utc>,
    ) -> Result<Option<InvitationContext>, StoreError>;

    /// The invitation `lookup` names — the one whose current link has a token hash (spec:
    /// INV-3, INV-6), or the one with an id, whatever its status (spec: INV-15) — with its
    /// organization, `user`'s membership in it (none asked for when `user` is `None`), the
    /// seats in use at `now` when the organization has a seat cap, and the team the
    /// invitation names if it still exists in the organization: everything accepting,
    /// declining or previewing an invitation is decided on (spec: INV-1, INV-11, ORG-4).
    /// `None` when no invitation is named so.
    async fn link_context(
        &self,
        lookup: InvitationLookup,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkContext>, StoreError>;

    /// A page of the pending invitations addressed to `email`, matched by its key (regardless
    /// of case), across every organization, expired or not, by invitation id (`page.after` is
    /// an invitation id): each with its organization's name, the name of the team it names
    /// if that team still exists in the organization, and its inviter's name while the
    /// inviter is a member of it (spec: INV-15). Closed invitations are never listed. One
    /// indexed read: its cost does not depend on how many invitations exist.
    async fn inbox(
        &self,
        email: &EmailAddress,
        page: Page,
    ) -> Result<Vec<InboxInvitation>, StoreError>;

    /// A team of `org` by id.
    async fn team(&self, org: OrganizationId, id: TeamId) -> Result<Option<Team>, StoreError>;

    /// A page of `org`'s teams, by id.
    async fn teams(&self, org: OrganizationId, page: Page) -> Result<Vec<Team>, StoreError>;

    /// A page of `org`'s audit trail, oldest first (spec: INV-12).
    async fn events(&self, org: OrganizationId, page: Page) -> Result<Vec<Event>, StoreError>;

    /// Applies a change set atomically (see the contract above).
    async fn commit(&self, changes: ChangeSet) -> Result<(), StoreError>;

    /// Deletes organization `org` with all its data, atomically: members, invitations, teams
    /// and their history, the audit trail, its mail (sent or not) and its learning activity
    /// (spec: ORG-5). Afterwards no read finds anything of it. Whether it existed.
    async fn delete_organization(&self, org: OrganizationId) -> Result<bool, StoreError>;

    /// Leases up to `limit` pending outbox rows due at `now` whose lease has run out to
    /// `claim`, until `now + lease`, counting one attempt on each. The rows are taken in
    /// turns across organizations, each organization's oldest due first (the first due row of
    /// each organization, ordered by due time then id, then the second of each…), so that one
    /// organization's backlog does not hold back another's mail for more than one pass; they
    /// are returned in that order (spec: MSG-3). Two claims running at once never take the
    /// same row.
    async fn claim_outbox(
        &self,
        claim: ClaimId,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Records what became of row `id`, claimed by `claim` (see [`Settlement`]). Only the
    /// claim that holds the row can: `Ok(false)`, with nothing changed, when it no longer
    /// does — its lease ran out and another claim took it, it was withdrawn with its
    /// invitation (spec: INV-13), or it was settled already (spec: MSG-3).
    async fn settle_outbox(
        &self,
        claim: ClaimId,
        id: OutboxId,
        settlement: Settlement,
    ) -> Result<bool, StoreError>;

    /// The outbox row `id` of `org`, whatever its status.
    async fn outbox_message(
        &self,
        org: OrganizationId,
        id: OutboxId,
    ) -> Result<Option<OutboxMessage>, StoreError>;

    /// A page of failed outbox rows of `org`, by id (spec: MSG-2: nothing silently dropped).
    async fn failed_outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// A page of every outbox row of `org` whatever its status (queued, sent, failed), by
    /// id: what an erasure reads (spec: USR-5).
    async fn outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Records learning events of members of `org`, idempotently per (organization, event
    /// id): nothing is counted twice (spec: STAT-1). The events have been checked otherwise.
    ///
    /// When some of the events' users are not members of `org`, records nothing and answers
    /// [`Recorded::NotMembers`] with those users. The check and the insert are one atomic
    /// step: a member removed while the batch is recorded either is refused or had the
    /// events recorded before the removal, never after it. Otherwise answers
    /// [`Recorded::New`]: for each event, `true` if it was new, `false` if its id was
    /// already recorded. An organization that does not exist has no members.
    async fn record_activities(
        &self,
        org: OrganizationId,
        activities: &[Activity],
    ) -> Result<Recorded, StoreError>;

    /// The statistics of each of `scopes` over one period, in the order given (spec: STAT-2,
    /// STAT-3, TEAM-4). Every store must compute the figures of
    /// [`Tally`](crate::domain::activity::Tally) exactly; SQL stores aggregate in SQL, and
    /// compute several teams in one pass over the period's events. A team's figures count
    /// its members' events only while a stint of theirs in the team
    /// [covers](crate::domain::activity::TeamStint::covers) them; its members are those
    /// whose stint [overlaps](crate::domain::activity::TeamStint::overlaps) the period. A
    /// team or member `org` does not have counts nothing; a scope asked for twice gets the
    /// same figures twice.
    async fn statistics(
        &self,
        org: OrganizationId,
        scopes: &[StatsScope],
        period: Period,
    ) -> Result<Vec<Statistics>, StoreError>;

    /// A page of per-member activity over a period, by member id, for the members in
    /// `scope`, with the events [`Store::statistics`] counts for that scope (spec: STAT-4,
    /// TEAM-4).
    async fn member_activity(
        &self,
        org: OrganizationId,
        scope: StatsScope,
        period: Period,
        page: Page,
    ) -> Result<Vec<MemberActivity>, StoreError>;
}

/// When a lease taken at `now` for `lease` runs out; the latest representable time for a
/// lease that would run past it, so no input makes a store panic (spec: ERR-1).
pub(crate) fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now.checked_add_signed(lease)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A dynamically dispatched store, as the service holds it.
pub type DynStore = dyn Store;

/// A shared store is a store: hosts hand the roster an `Arc` of the store they also keep.
#[async_trait::async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError> {
        (**self).organization(id).await
    }
    async fn organization_with_member(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<(Organization, Option<Member>)>, StoreError> {
        (**self).organization_with_member(org, user).await
    }
    async fn member(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<Member>, StoreError> {
        (**self).member(org, user).await
    }
    async fn members(
        &self,
        org: OrganizationId,
        filter: MemberFilter,
        page: Page,
    ) -> Result<Vec<Member>, StoreError> {
        (**self).members(org, filter, page).await
    }
    async fn memberships(&self, user: UserId, page: Page) -> Result<Vec<Membership>, StoreError> {
        (**self).memberships(user, page).await
    }
    async fn teams_of(
        &self,
        org: OrganizationId,
        member: MemberId,
    ) -> Result<Vec<TeamId>, StoreError> {
        (**self).teams_of(org, member).await
    }
    async fn invitation(
        &self,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        (**self).invitation(org, id).await
    }
    async fn invitations(
        &self,
        org: OrganizationId,
        filter: InvitationFilter,
        page: Page,
    ) -> Result<Vec<Invitation>, StoreError> {
        (**self).invitations(org, filter, page).await
    }
    async fn seat_usage(
        &self,
        org: OrganizationId,
        now: DateTime<Utc>,
    ) -> Result<SeatUsage, StoreError> {
        (**self).seat_usage(org, now).await
    }
    async fn invitation_context(
        &self,
        org: OrganizationId,
        user: UserId,
        emails: &[EmailAddress],
        now: DateTime<Utc>,
    ) -> Result<Option<InvitationContext>, StoreError> {
        (**self).invitation_context(org, user, emails, now).await
    }
    async fn link_context(
        &self,
        lookup: InvitationLookup,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkContext>, StoreError> {
        (**self).link_context(lookup, user, now).await
    }
    async fn inbox(
        &self,
        email: &EmailAddress,
        page: Page,
    ) -> Result<Vec<InboxInvitation>, StoreError> {
        (**self).inbox(email, page).await
    }
    async fn team(&self, org: OrganizationId, id: TeamId) -> Result<Option<Team>, StoreError> {
        (**self).team(org, id).await
    }
    async fn teams(&self, org: OrganizationId, page: Page) -> Result<Vec<Team>, StoreError> {
        (**self).teams(org, page).await
    }
    async fn events(&self, org: OrganizationId, page: Page) -> Result<Vec<Event>, StoreError> {
        (**self).events(org, page).await
    }
    async fn commit(&self, changes: ChangeSet) -> Result<(), StoreError> {
        (**self).commit(changes).await
    }
    async fn delete_organization(&self, org: OrganizationId) -> Result<bool, StoreError> {
        (**self).delete_organization(org).await
    }
    async fn claim_outbox(
        &self,
        claim: ClaimId,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        (**self).claim_outbox(claim, now, lease, limit).await
    }
    async fn settle_outbox(
        &self,
        claim: ClaimId,
        id: OutboxId,
        settlement: Settlement,
    ) -> Result<bool, StoreError> {
        (**self).settle_outbox(claim, id, settlement).await
    }
    async fn outbox_message(
        &self,
        org: OrganizationId,
        id: OutboxId,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        (**self).outbox_message(org, id).await
    }
    async fn failed_outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        (**self).failed_outbox(org, page).await
    }
    async fn outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        (**self).outbox(org, page).await
    }
    async fn record_activities(
        &self,
        org: OrganizationId,
        activities: &[Activity],
    ) -> Result<Recorded, StoreError> {
        (**self).record_activities(org, activities).await
    }
    async fn statistics(
        &self,
        org: OrganizationId,
        scopes: &[StatsScope],
        period: Period,
    ) -> Result<Vec<Statistics>, StoreError> {
        (**self).statistics(org, scopes, period).await
    }
    async fn member_activity(
        &self,
        org: OrganizationId,
        scope: StatsScope,
        period: Period,
        page: Page,
    ) -> Result<Vec<MemberActivity>, StoreError> {
        (**self).member_activity(org, scope, period, page).await
    }
}
