//! [`HookedStore`]: a store that forwards every call to another and runs a hook before each
//! commit. The tests' failing store (`errors::FaultyStore`) and their interleaved commits
//! (`races::Interleaved`) are hooks on it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use orgroster::{
    Activity, ChangeSet, ClaimId, DynStore, EmailAddress, Event, InboxInvitation, Invitation,
    InvitationContext, InvitationFilter, InvitationId, InvitationLookup, LinkContext, Member,
    MemberActivity, MemberFilter, MemberId, Membership, Organization, OrganizationId, OutboxId,
    OutboxMessage, Page, Period, Recorded, SeatUsage, Settlement, Statistics, StatsScope, Store,
    StoreError, Team, TeamId, UserId,
};

/// What a [`HookedStore`] runs before each commit.
#[async_trait::async_trait]
pub(crate) trait CommitHook: Send + Sync + 'static {
    /// Runs before each commit, given the store beneath. An error is returned in place of
    /// the commit, which is then not made.
    async fn before_commit(&self, inner: &Arc<DynStore>) -> Result<(), StoreError>;
}

/// A store that forwards every call to `inner`, and runs `hook` before each commit. Clones
/// share the store and the hook.
pub(crate) struct HookedStore<H> {
    inner: Arc<DynStore>,
    hook: Arc<H>,
}

impl<H: CommitHook> HookedStore<H> {
    /// `inner`, with `hook` run before each of its commits.
    pub(crate) fn new(inner: Arc<DynStore>, hook: H) -> Self {
        Self {
            inner,
            hook: Arc::new(hook),
        }
    }

    /// The hook, for its owner to arm, disarm or read.
    pub(crate) fn hook(&self) -> &H {
        &self.hook
    }
}

// Written out rather than derived: a derive would ask `H: Clone` and `H: Debug`.
impl<H> Clone for HookedStore<H> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            hook: Arc::clone(&self.hook),
        }
    }
}

impl<H> std::fmt::Debug for HookedStore<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookedStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
#[deny(clippy::missing_trait_methods)]
impl<H: CommitHook> Store for HookedStore<H> {
    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError> {
        self.inner.organization(id).await
    }
    async fn member(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<Member>, StoreError> {
        self.inner.member(org, user).await
    }
    async fn organization_with_member(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<(Organization, Option<Member>)>, StoreError> {
        self.inner.organization_with_member(org, user).await
    }
    async fn invitation_context(
        &self,
        org: OrganizationId,
        user: UserId,
        emails: &[EmailAddress],
        now: DateTime<Utc>,
    ) -> Result<Option<InvitationContext>, StoreError> {
        self.inner.invitation_context(org, user, emails, now).await
    }
    async fn link_context(
        &self,
        lookup: InvitationLookup,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkContext>, StoreError> {
        self.inner.link_context(lookup, user, now).await
    }
    async fn inbox(
        &self,
        email: &EmailAddress,
        page: Page,
    ) -> Result<Vec<InboxInvitation>, StoreError> {
        self.inner.inbox(email, page).await
    }
    async fn members(
        &self,
        org: OrganizationId,
        filter: MemberFilter,
        page: Page,
    ) -> Result<Vec<Member>, StoreError> {
        self.inner.members(org, filter, page).await
    }
    async fn memberships(&self, user: UserId, page: Page) -> Result<Vec<Membership>, StoreError> {
        self.inner.memberships(user, page).await
    }
    async fn teams_of(
        &self,
        org: OrganizationId,
        member: MemberId,
    ) -> Result<Vec<TeamId>, StoreError> {
        self.inner.teams_of(org, member).await
    }
    async fn invitation(
        &self,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        self.inner.invitation(org, id).await
    }
    async fn invitations(
        &self,
        org: OrganizationId,
        filter: InvitationFilter,
        page: Page,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.inner.invitations(org, filter, page).await
    }
    async fn seat_usage(
        &self,
        org: OrganizationId,
        now: DateTime<Utc>,
    ) -> Result<SeatUsage, StoreError> {
        self.inner.seat_usage(org, now).await
    }
    async fn team(&self, org: OrganizationId, id: TeamId) -> Result<Option<Team>, StoreError> {
        self.inner.team(org, id).await
    }
    async fn teams(&self, org: OrganizationId, page: Page) -> Result<Vec<Team>, StoreError> {
        self.inner.teams(org, page).await
    }
    async fn events(&self, org: OrganizationId, page: Page) -> Result<Vec<Event>, StoreError> {
        self.inner.events(org, page).await
    }
    async fn commit(&self, changes: ChangeSet) -> Result<(), StoreError> {
        self.hook.before_commit(&self.inner).await?;
        self.inner.commit(changes).await
    }
    async fn claim_outbox(
        &self,
        claim: ClaimId,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.inner.claim_outbox(claim, now, lease, limit).await
    }
    async fn settle_outbox(
        &self,
        claim: ClaimId,
        id: OutboxId,
        settlement: Settlement,
    ) -> Result<bool, StoreError> {
        self.inner.settle_outbox(claim, id, settlement).await
    }
    async fn delete_organization(&self, org: OrganizationId) -> Result<bool, StoreError> {
        self.inner.delete_organization(org).await
    }
    async fn outbox_message(
        &self,
        org: OrganizationId,
        id: OutboxId,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        self.inner.outbox_message(org, id).await
    }
    async fn failed_outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.inner.failed_outbox(org, page).await
    }
    async fn outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.inner.outbox(org, page).await
    }
    async fn record_activities(
        &self,
        org: OrganizationId,
        activities: &[Activity],
    ) -> Result<Recorded, StoreError> {
        self.inner.record_activities(org, activities).await
    }
    async fn statistics(
        &self,
        org: OrganizationId,
        scopes: &[StatsScope],
        period: Period,
    ) -> Result<Vec<Statistics>, StoreError> {
        self.inner.statistics(org, scopes, period).await
    }
    async fn member_activity(
        &self,
        org: OrganizationId,
        scope: StatsScope,
        period: Period,
        page: Page,
    ) -> Result<Vec<MemberActivity>, StoreError> {
        self.inner.member_activity(org, scope, period, page).await
    }
}
