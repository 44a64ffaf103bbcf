//! `MemoryStore`: the reference store, always compiled, no extra dependencies.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ops::Bound,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use chrono::{DateTime, Duration, Utc};

use super::{
    InboxInvitation, InvitationContext, InvitationFilter, InvitationLookup, LinkContext,
    MemberFilter, Page, Recorded, Store, StoreError, constraint,
};
use crate::domain::{
    activity::{Activity, MemberActivity, Period, Statistics, StatsScope, Tally},
    changes::{ChangeSet, Write},
    email::EmailAddress,
    event::Event,
    ids::{ClaimId, EventId, InvitationId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
    invitation::Invitation,
    member::{Member, Membership},
    organization::{Organization, SeatUsage},
    outbox::{OutboxMessage, OutboxStatus, Settlement, in_turns},
    team::Team,
};

/// Keeps everything in memory behind one mutex: for tests, demos and single-process hosts
/// that need no persistence. Clones share the same data.
///
/// A commit applies its writes one by one while recording how to undo each; the first write
/// that breaks a rule undoes the others, so a change set is applied whole or not at all, with
/// the same checks the SQL stores make (spec: ERR-2). The mutex is never held across an
/// `.await`.
///
/// # Examples
/// ```
/// use orgroster::{MemoryStore, Store};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let org = orgroster::OrganizationId::new();
/// assert!(store.organization(org).await?.is_none());
/// # Ok::<(), orgroster::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore(Arc<Mutex<State>>);

mod commit;
mod state;

use self::{commit::*, state::*};

fn page_of<'a, K: Ord + Copy + 'a, V: Clone + 'a>(
    map: &'a BTreeMap<K, V>,
    after: Option<K>,
    page: Page,
    keep: impl Fn(&V) -> bool,
) -> Vec<V> {
    let iter: Box<dyn Iterator<Item = (&K, &V)>> = match after {
        Some(after) => {
            Box::new(map.range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)))
        }
        None => Box::new(map.iter()),
    };
    iter.map(|(_, v)| v)
        .filter(|v| keep(v))
        .take(page.len())
        .cloned()
        .collect()
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave a half-applied commit behind (commits
        // undo on every error path before returning), so the data is still consistent.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read<T>(&self, org: OrganizationId, f: impl FnOnce(&Org) -> T) -> Option<T> {
        self.lock().org(org).map(f)
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, StoreError> {
        Ok(self.read(id, |o| o.organization.clone()))
    }

    async fn member(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<Member>, StoreError> {
        Ok(self
            .read(org, |o| {
                o.by_user
                    .get(&user)
                    .and_then(|id| o.members.get(id))
                    .cloned()
            })
            .flatten())
    }

    async fn memberships(&self, user: UserId, page: Page) -> Result<Vec<Membership>, StoreError> {
        let state = self.lock();
        let after = page.after.map(OrganizationId::from_uuid);
        let start = (
            user,
            after.unwrap_or(OrganizationId::from_uuid(uuid::Uuid::nil())),
        );
        Ok(state
            .memberships
            .range(start..)
            .take_while(|(u, _)| *u == user)
            .filter(|(_, org)| Some(*org) != after)
            .filter_map(|(_, org)| {
                let o = state.orgs.get(org)?;
                let member = o.by_user.get(&user).and_then(|id| o.members.get(id))?;
                Some(Membership::new(o.organization.name.clone(), member.clone()))
            })
            .take(page.len())
            .collect())
    }

    async fn members(
        &self,
        org: OrganizationId,
        filter: MemberFilter,
        page: Page,
    ) -> Result<Vec<Member>, StoreError> {
        let after = page.after.map(MemberId::from_uuid);
        Ok(self
            .read(org, |o| {
                let role_ok = |m: &Member| {
                    filter.role.is_none_or(|r| m.roles.contains(r))
                        && filter.deactivated.is_none_or(|d| d != m.is_active())
                };
                match filter.team {
                    Some(team) => {
                        let start = (
                            team,
                            after.unwrap_or(MemberId::from_uuid(uuid::Uuid::nil())),
                        );
                        o.team_members
                            .range(start..)
                            .take_while(|(t, _)| *t == team)
                            .filter(|(_, m)| Some(*m) != after)
                            .filter_map(|(_, m)| o.members.get(m))
                            .filter(|m| role_ok(m))
                            .take(page.len())
                            .cloned()
                            .collect()
                    }
                    None => page_of(&o.members, after, page, role_ok),
                }
            })
            .unwrap_or_default())
    }

    async fn teams_of(
        &self,
        org: OrganizationId,
        member: MemberId,
    ) -> Result<Vec<TeamId>, StoreError> {
        Ok(self
            .read(org, |o| {
                o.member_teams
                    .range((member, TeamId::from_uuid(uuid::Uuid::nil()))..)
                    .take_while(|(m, _)| *m == member)
                    .map(|(_, t)| *t)
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn invitation(
        &self,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        Ok(self
            .read(org, |o| o.invitations.get(&id).cloned())
            .flatten())
    }

    async fn invitations(
        &self,
        org: OrganizationId,
        filter: InvitationFilter,
        page: Page,
    ) -> Result<Vec<Invitation>, StoreError> {
        let after = page.after.map(InvitationId::from_uuid);
        Ok(self
            .read(org, |o| {
                page_of(&o.invitations, after, page, |i| {
                    filter.status.is_none_or(|s| i.status == s)
                        && filter.role.is_none_or(|r| i.role == r)
                })
            })
            .unwrap_or_default())
    }

    async fn seat_usage(
        &self,
        org: OrganizationId,
        now: DateTime<Utc>,
    ) -> Result<SeatUsage, StoreError> {
        Ok(self.read(org, |o| o.seats(now)).unwrap_or_default())
    }

    async fn organization_with_member(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<(Organization, Option<Member>)>, StoreError> {
        Ok(self.read(org, |o| (o.organization.clone(), o.member_of(user))))
    }

    async fn invitation_context(
        &self,
        org: OrganizationId,
        user: UserId,
        emails: &[EmailAddress],
        now: DateTime<Utc>,
    ) -> Result<Option<InvitationContext>, StoreError> {
        Ok(self.read(org, |o| InvitationContext {
            organization: o.organization.clone(),
            member: o.member_of(user),
            targets: o.targets(emails, o.organization.seats_counted_at(now)),
        }))
    }

    async fn link_context(
        &self,
        lookup: InvitationLookup,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkContext>, StoreError> {
        let state = self.lock();
        let found = match lookup {
            InvitationLookup::TokenHash(hash) => state.tokens.get(&hash).copied(),
            InvitationLookup::Id(id) => state.invitation_orgs.get(&id).map(|org| (*org, id)),
        };
        let Some((org, id)) = found else {
            return Ok(None);
        };
        let Some(o) = state.org(org) else {
            return Ok(None);
        };
        Ok(o.invitations
            .get(&id)
            .filter(|i| match lookup {
                InvitationLookup::TokenHash(hash) => i.token_hash == hash,
                InvitationLookup::Id(_) => true,
            })
            .map(|invitation| LinkContext {
                invitation: invitation.clone(),
                organization: o.organization.clone(),
                member: user.and_then(|u| o.member_of(u)),
                seats: o.organization.seats_counted_at(now).map(|at| o.seats(at)),
                team: invitation.team.and_then(|t| o.teams.get(&t).cloned()),
            }))
    }

    async fn inbox(
        &self,
        email: &EmailAddress,
        page: Page,
    ) -> Result<Vec<InboxInvitation>, StoreError> {
        let state = self.lock();
        let key = email.key();
        let start = match page.after {
            Some(after) => Bound::Excluded((key.to_owned(), InvitationId::from_uuid(after))),
            None => Bound::Included((key.to_owned(), InvitationId::from_uuid(uuid::Uuid::nil()))),
        };
        Ok(state
            .inbox
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| k == key)
            .filter_map(|(_, id)| {
                let o = state.org(*state.invitation_orgs.get(id)?)?;
                let invitation = o.invitations.get(id)?;
                let inviter = o
                    .by_user
                    .get(&invitation.invited_by)
                    .and_then(|m| o.members.get(m));
                Some(InboxInvitation {
                    invitation: invitation.clone(),
                    organization_name: o.organization.name.clone(),
                    team_name: invitation
                        .team
                        .and_then(|t| o.teams.get(&t))
                        .map(|t| t.name.clone()),
                    inviter: inviter.map(|m| m.profile.clone()),
                })
            })
            .take(page.len())
            .collect())
    }

    async fn team(&self, org: OrganizationId, id: TeamId) -> Result<Option<Team>, StoreError> {
        Ok(self.read(org, |o| o.teams.get(&id).cloned()).flatten())
    }

    async fn teams(&self, org: OrganizationId, page: Page) -> Result<Vec<Team>, StoreError> {
        let after = page.after.map(TeamId::from_uuid);
        Ok(self
            .read(org, |o| page_of(&o.teams, after, page, |_| true))
            .unwrap_or_default())
    }

    async fn events(&self, org: OrganizationId, page: Page) -> Result<Vec<Event>, StoreError> {
        let after = page.after.map(EventId::from_uuid);
        Ok(self
            .read(org, |o| page_of(&o.events, after, page, |_| true))
            .unwrap_or_default())
    }

    async fn commit(&self, changes: ChangeSet) -> Result<(), StoreError> {
        let mut state = self.lock();
        let state = &mut *state;
        if changes
            .outbox
            .iter()
            .any(|m| state.outbox.contains_key(&m.id))
        {
            return Err(StoreError::Duplicate {
                constraint: constraint::PRIMARY_KEY,
            });
        }
        let mut undo = Vec::new();
        let applied = apply_org(state, &changes, &mut undo).and_then(|()| {
            changes
                .writes
                .iter()
                .try_for_each(|w| apply_write(state, changes.organization, w, &mut undo))
        });
        if let Err(e) = applied {
            rollback(state, changes.organization, undo);
            return Err(e);
        }
        if let Some(org) = state.orgs.get_mut(&changes.organization) {
            org.events
                .extend(changes.events.into_iter().map(|e| (e.id, e)));
        }
        for write in &changes.writes {
            if let Write::PutInvitation(i) = write
                && i.version > 0
            {
                state.withdraw_mail_of(i.id);
            }
        }
        for message in changes.outbox {
            state.unsent.insert(message.id, None);
            if let Some(invitation) = message.invitation() {
                state
                    .unsent_by_invitation
                    .entry(invitation)
                    .or_default()
                    .push(message.id);
            }
            state.outbox.insert(message.id, message);
        }
        Ok(())
    }

    async fn claim_outbox(
        &self,
        claim: ClaimId,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut state = self.lock();
        let state = &mut *state;
        // Ordered by their keys: only the rows taken are copied.
        let due: Vec<(OrganizationId, DateTime<Utc>, OutboxId)> = state
            .unsent
            .keys()
            .filter_map(|id| state.outbox.get(id))
            .filter(|m| m.due_at <= now && m.lease_until.is_none_or(|until| until <= now))
            .map(|m| (m.organization, m.due_at, m.id))
            .collect();
        let until = super::lease_end(now, lease);
        let mut claimed = Vec::new();
        for (_, _, id) in in_turns(due, |k| *k).into_iter().take(limit) {
            if let Some(m) = state.outbox.get_mut(&id) {
                m.lease_until = Some(until);
                m.attempts = m.attempts.saturating_add(1);
                state.unsent.insert(m.id, Some(claim));
                claimed.push(m.clone());
            }
        }
        Ok(claimed)
    }

    async fn settle_outbox(
        &self,
        claim: ClaimId,
        id: OutboxId,
        settlement: Settlement,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let state = &mut *state;
        let (Some(Some(holder)), Some(m)) = (state.unsent.get(&id), state.outbox.get_mut(&id))
        else {
            return Ok(false);
        };
        if *holder != claim {
            return Ok(false);
        }
        m.lease_until = None;
        match settlement {
            Settlement::Sent => m.status = OutboxStatus::Sent,
            Settlement::Retry { not_before, error } => {
                m.due_at = not_before;
                m.last_error = Some(error);
            }
            Settlement::Failed { error } => {
                m.status = OutboxStatus::Failed;
                m.last_error = Some(error);
            }
            Settlement::Released => m.attempts = m.attempts.saturating_sub(1),
        }
        if m.status == OutboxStatus::Pending {
            state.unsent.insert(id, None);
        } else {
            let invitation = m.invitation();
            state.unsent.remove(&id);
            if let Some(invitation) = invitation {
                state.forget_unsent(invitation, id);
            }
        }
        Ok(true)
    }

    async fn delete_organization(&self, org: OrganizationId) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(gone) = state.orgs.remove(&org) else {
            return Ok(false);
        };
        for member in gone.members.values() {
            state.memberships.remove(&(member.user, org));
        }
        state.forget_invitations(gone.invitations.values());
        let mail: Vec<OutboxId> = state
            .outbox
            .values()
            .filter(|m| m.organization == org)
            .map(|m| m.id)
            .collect();
        for id in mail {
            state.outbox.remove(&id);
            state.unsent.remove(&id);
        }
        Ok(true)
    }

    async fn outbox_message(
        &self,
        org: OrganizationId,
        id: OutboxId,
    ) -> Result<Option<OutboxMessage>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .get(&id)
            .filter(|m| m.organization == org)
            .cloned())
    }

    async fn failed_outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let after = page.after.map(OutboxId::from_uuid);
        Ok(page_of(&self.lock().outbox, after, page, |m| {
            m.organization == org && m.status == OutboxStatus::Failed
        }))
    }

    async fn outbox(
        &self,
        org: OrganizationId,
        page: Page,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let after = page.after.map(OutboxId::from_uuid);
        Ok(page_of(&self.lock().outbox, after, page, |m| {
            m.organization == org
        }))
    }

    async fn record_activities(
        &self,
        org: OrganizationId,
        activities: &[Activity],
    ) -> Result<Recorded, StoreError> {
        let mut state = self.lock();
        // Checked under the lock the events are recorded under: no removal comes between.
        let strangers: BTreeSet<UserId> = activities
            .iter()
            .map(|a| a.user)
            .filter(|u| state.org(org).is_none_or(|o| !o.by_user.contains_key(u)))
            .collect();
        if !strangers.is_empty() {
            return Ok(Recorded::NotMembers(strangers.into_iter().collect()));
        }
        let Ok(o) = state.org_mut(org) else {
            return Ok(Recorded::New(Vec::new()));
        };
        let mut seq = o.activities.len() as u64;
        Ok(Recorded::New(
            activities
                .iter()
                .map(|a| {
                    let new = o.activity_ids.insert(a.id.clone());
                    if new {
                        seq += 1;
                        o.activities.insert((a.at, seq), a.clone());
                    }
                    new
                })
                .collect(),
        ))
    }

    async fn statistics(
        &self,
        org: OrganizationId,
        scopes: &[StatsScope],
        period: Period,
    ) -> Result<Vec<Statistics>, StoreError> {
        Ok(self
            .read(org, |o| {
                // The teams in one pass over the period's events; the other scopes one by one.
                let teams: Vec<TeamId> = scopes
                    .iter()
                    .filter_map(|s| match s {
                        StatsScope::Team(team) => Some(*team),
                        StatsScope::Organization | StatsScope::Member(_) => None,
                    })
                    .collect();
                let mut of_teams = o.team_statistics(&teams, period).into_iter();
                scopes
                    .iter()
                    .map(|scope| match scope {
                        StatsScope::Team(_) => of_teams
                            .next()
                            .unwrap_or_else(|| Tally::default().finish(period, 0, 0)),
                        _ => o.statistics(*scope, period),
                    })
                    .collect()
            })
            .unwrap_or_else(|| {
                scopes
                    .iter()
                    .map(|_| Tally::default().finish(period, 0, 0))
                    .collect()
            }))
    }

    async fn member_activity(
        &self,
        org: OrganizationId,
        scope: StatsScope,
        period: Period,
        page: Page,
    ) -> Result<Vec<MemberActivity>, StoreError> {
        let after = page.after.map(MemberId::from_uuid);
        Ok(self
            .read(org, |o| {
                let filter = o.scope_filter(scope, &period);
                let rows: Vec<&Member> = match after {
                    Some(after) => Box::new(
                        o.members
                            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
                    )
                        as Box<dyn Iterator<Item = (&MemberId, &Member)>>,
                    None => Box::new(o.members.iter()),
                }
                .map(|(_, m)| m)
                .filter(|m| filter.holds(m.user))
                .take(page.len())
                .collect();
                let mut by_user: HashMap<UserId, MemberActivity> = rows
                    .iter()
                    .map(|m| {
                        (
                            m.user,
                            MemberActivity {
                                member: m.id,
                                user: m.user,
                                email: m.email.to_string(),
                                name: m.profile.full_name(),
                                enrolments: 0,
                                completions: 0,
                                certificates: 0,
                                time_spent_seconds: 0,
                                last_active: None,
                            },
                        )
                    })
                    .collect();
                for a in o.activities_in(&period).filter(|a| filter.counts(a)) {
                    if let Some(row) = by_user.get_mut(&a.user) {
                        row.add(a);
                    }
                }
                rows.iter()
                    .filter_map(|m| by_user.remove(&m.user))
                    .collect()
            })
            .unwrap_or_default())
    }
}
