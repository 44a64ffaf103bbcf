//! `MemoryStore`: the reference store, always compiled, no extra dependencies.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use chrono::{DateTime, Duration, Utc};

use super::{
    InvitationContext, InvitationFilter, InvitationTargets, LinkContext, MemberFilter, Page,
    Recorded, Store, StoreError, constraint,
};
use crate::domain::{
    activity::{Activity, MemberActivity, Period, Statistics, StatsScope, Tally, TeamStint},
    changes::{ChangeSet, OrganizationWrite, Write},
    email::EmailAddress,
    event::Event,
    ids::{ClaimId, EventId, InvitationId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
    invitation::{Invitation, InvitationStatus},
    member::Member,
    organization::{Organization, SeatUsage},
    outbox::{OutboxMessage, OutboxStatus, Settlement, in_turns},
    team::Team,
    text::ActivityId,
    token::TokenHash,
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

#[derive(Debug, Default)]
struct State {
    orgs: HashMap<OrganizationId, Org>,
    tokens: HashMap<TokenHash, (OrganizationId, InvitationId)>,
    outbox: BTreeMap<OutboxId, OutboxMessage>,
    /// The pending rows, with the claim that holds each, if any (spec: MSG-3).
    unsent: BTreeMap<OutboxId, Option<ClaimId>>,
    /// The pending rows of each invitation, withdrawn when it changes (spec: INV-13).
    unsent_by_invitation: HashMap<InvitationId, Vec<OutboxId>>,
}

impl State {
    /// Deletes the pending mail of `invitation`: its link is dead (spec: INV-13).
    fn withdraw_mail_of(&mut self, invitation: InvitationId) {
        for id in self
            .unsent_by_invitation
            .remove(&invitation)
            .unwrap_or_default()
        {
            self.unsent.remove(&id);
            self.outbox.remove(&id);
        }
    }

    /// Drops `id` from the pending mail of `invitation`, once it is sent or given up.
    fn forget_unsent(&mut self, invitation: InvitationId, id: OutboxId) {
        if let Some(ids) = self.unsent_by_invitation.get_mut(&invitation) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.unsent_by_invitation.remove(&invitation);
            }
        }
    }
}

#[derive(Debug)]
struct Org {
    organization: Organization,
    members: BTreeMap<MemberId, Member>,
    by_user: HashMap<UserId, MemberId>,
    by_email: HashMap<String, MemberId>,
    invitations: BTreeMap<InvitationId, Invitation>,
    pending_by_email: HashMap<String, InvitationId>,
    teams: BTreeMap<TeamId, Team>,
    team_names: HashMap<String, TeamId>,
    team_members: BTreeSet<(TeamId, MemberId)>,
    member_teams: BTreeSet<(MemberId, TeamId)>,
    events: BTreeMap<EventId, Event>,
    /// Learning events by time, then arrival.
    activities: BTreeMap<(DateTime<Utc>, u64), Activity>,
    activity_ids: HashSet<ActivityId>,
    /// Every stint of a member in a team, open or closed (spec: TEAM-4).
    stints: Vec<TeamStint>,
}

impl Org {
    /// Members plus pending invitations holding a seat at `now` (spec: ORG-4).
    fn seats(&self, now: DateTime<Utc>) -> SeatUsage {
        SeatUsage {
            members: self.members.len() as u64,
            pending_invitations: self
                .pending_by_email
                .values()
                .filter_map(|id| self.invitations.get(id))
                .filter(|i| i.holds_seat(now))
                .count() as u64,
        }
    }

    /// `user`'s membership.
    fn member_of(&self, user: UserId) -> Option<Member> {
        self.by_user
            .get(&user)
            .and_then(|id| self.members.get(id))
            .cloned()
    }

    /// The targets of an invitation to `emails`, seats counted at `seats_at` if given.
    fn targets(
        &self,
        emails: &[EmailAddress],
        seats_at: Option<DateTime<Utc>>,
    ) -> InvitationTargets {
        let keys: std::collections::BTreeSet<&str> = emails.iter().map(EmailAddress::key).collect();
        InvitationTargets {
            member_emails: keys
                .iter()
                .filter(|k| self.by_email.contains_key(**k))
                .map(|k| (*k).to_owned())
                .collect(),
            pending: distinct(
                keys.iter().filter_map(|k| self.pending_by_email.get(*k)),
                |id| self.invitations.get(id),
            ),
            seats: seats_at.map(|now| self.seats(now)),
        }
    }

    fn new(organization: Organization) -> Self {
        Self {
            organization,
            members: BTreeMap::new(),
            by_user: HashMap::new(),
            by_email: HashMap::new(),
            invitations: BTreeMap::new(),
            pending_by_email: HashMap::new(),
            teams: BTreeMap::new(),
            team_names: HashMap::new(),
            team_members: BTreeSet::new(),
            member_teams: BTreeSet::new(),
            events: BTreeMap::new(),
            activities: BTreeMap::new(),
            activity_ids: HashSet::new(),
            stints: Vec::new(),
        }
    }

    /// Replaces the member with id `id` by `new`, keeping the indexes right. No checks.
    fn set_member(&mut self, id: MemberId, new: Option<Member>) {
        if let Some(old) = self.members.remove(&id) {
            self.by_user.remove(&old.user);
            self.by_email.remove(old.email.key());
        }
        if let Some(new) = new {
            self.by_user.insert(new.user, id);
            self.by_email.insert(new.email.key().to_owned(), id);
            self.members.insert(id, new);
        }
    }

    fn set_team(&mut self, id: TeamId, new: Option<Team>) {
        if let Some(old) = self.teams.remove(&id) {
            self.team_names.remove(&old.name.key());
        }
        if let Some(new) = new {
            self.team_names.insert(new.name.key(), id);
            self.teams.insert(id, new);
        }
    }

    /// Closes the open stints that `matches`, recording how to reopen them.
    fn close_stints(
        &mut self,
        at: DateTime<Utc>,
        undo: &mut Vec<Undo>,
        matches: impl Fn(&TeamStint) -> bool,
    ) {
        for (i, stint) in self.stints.iter_mut().enumerate() {
            if stint.left_at.is_none() && matches(stint) {
                stint.left_at = Some(at.max(stint.joined_at));
                undo.push(Undo::StintClosed(i));
            }
        }
    }

    fn set_team_member(&mut self, team: TeamId, member: MemberId, present: bool) {
        if present {
            self.team_members.insert((team, member));
            self.member_teams.insert((member, team));
        } else {
            self.team_members.remove(&(team, member));
            self.member_teams.remove(&(member, team));
        }
    }
}

impl Org {
    /// The stints of `team` that overlap the period, by user (spec: TEAM-4).
    fn team_stints(&self, team: TeamId, period: &Period) -> HashMap<UserId, Vec<TeamStint>> {
        let mut by_user: HashMap<UserId, Vec<TeamStint>> = HashMap::new();
        for stint in self
            .stints
            .iter()
            .filter(|s| s.team == team && s.overlaps(period))
        {
            by_user.entry(stint.user).or_default().push(*stint);
        }
        by_user
    }

    /// Which of a scope's events count: for a team, those its members had while in it.
    fn scope_filter(&self, scope: StatsScope, period: &Period) -> ScopeFilter {
        match scope {
            StatsScope::Organization => ScopeFilter::All,
            StatsScope::Team(team) => ScopeFilter::Stints(self.team_stints(team, period)),
            StatsScope::Member(user) => ScopeFilter::User(user),
        }
    }

    fn activities_in<'a>(&'a self, period: &Period) -> impl Iterator<Item = &'a Activity> + 'a {
        self.activities
            .range((period.from(), 0)..(period.to(), 0))
            .map(|(_, a)| a)
    }

    fn statistics(&self, scope: StatsScope, period: Period) -> Statistics {
        let filter = self.scope_filter(scope, &period);
        let mut tally = Tally::default();
        for activity in self.activities_in(&period).filter(|a| filter.counts(a)) {
            tally.add(activity);
        }
        let sent_in_period = |i: &&Invitation| period.contains(i.created_at);
        let (invited, members) = match scope {
            StatsScope::Organization => (
                self.invitations.values().filter(sent_in_period).count(),
                self.members
                    .values()
                    .filter(|m| m.joined_at < period.to())
                    .count(),
            ),
            StatsScope::Team(team) => (
                self.invitations
                    .values()
                    .filter(sent_in_period)
                    .filter(|i| i.team == Some(team))
                    .count(),
                filter.users().map_or(0, |u| u.count()),
            ),
            StatsScope::Member(user) => {
                let member = self.by_user.get(&user).and_then(|id| self.members.get(id));
                let key = member.map(|m| m.email.key());
                (
                    self.invitations
                        .values()
                        .filter(sent_in_period)
                        .filter(|i| Some(i.email.key()) == key)
                        .count(),
                    usize::from(member.is_some_and(|m| m.joined_at < period.to())),
                )
            }
        };
        tally.finish(period, invited as u64, members as u64)
    }
}

impl Org {
    /// The statistics of several teams, in the order given, in one pass over the period's
    /// events: each is counted for every team its user belonged to at its time (spec:
    /// STAT-3, TEAM-4).
    fn team_statistics(&self, teams: &[TeamId], period: Period) -> Vec<Statistics> {
        let mut of_user: HashMap<UserId, Vec<(usize, TeamStint)>> = HashMap::new();
        let mut members = vec![HashSet::new(); teams.len()];
        for (i, team) in teams.iter().enumerate() {
            for stint in self
                .stints
                .iter()
                .filter(|s| s.team == *team && s.overlaps(&period))
            {
                members[i].insert(stint.user);
                of_user.entry(stint.user).or_default().push((i, *stint));
            }
        }
        let mut tallies = vec![Tally::default(); teams.len()];
        let mut counted = Vec::new();
        for activity in self.activities_in(&period) {
            counted.clear();
            for (i, stint) in of_user.get(&activity.user).into_iter().flatten() {
                // Counted once per team, whatever its stints.
                if stint.covers(activity.at) && !counted.contains(i) {
                    counted.push(*i);
                    tallies[*i].add(activity);
                }
            }
        }
        tallies
            .into_iter()
            .zip(teams)
            .zip(members)
            .map(|((tally, team), members)| {
                let invited = self
                    .invitations
                    .values()
                    .filter(|i| i.team == Some(*team) && period.contains(i.created_at))
                    .count();
                tally.finish(period, invited as u64, members.len() as u64)
            })
            .collect()
    }
}

/// The events of one scope: see [`Org::scope_filter`].
enum ScopeFilter {
    All,
    Stints(HashMap<UserId, Vec<TeamStint>>),
    User(UserId),
}

impl ScopeFilter {
    /// Whether the scope counts `activity` (spec: TEAM-4).
    fn counts(&self, activity: &Activity) -> bool {
        match self {
            Self::All => true,
            Self::Stints(stints) => stints
                .get(&activity.user)
                .is_some_and(|s| s.iter().any(|s| s.covers(activity.at))),
            Self::User(user) => activity.user == *user,
        }
    }

    /// Whether the scope holds `user` at all.
    fn holds(&self, user: UserId) -> bool {
        match self {
            Self::All => true,
            Self::Stints(stints) => stints.contains_key(&user),
            Self::User(u) => *u == user,
        }
    }

    /// The users of a team scope; `None` for the others.
    fn users(&self) -> Option<impl Iterator<Item = &UserId>> {
        match self {
            Self::Stints(stints) => Some(stints.keys()),
            Self::All | Self::User(_) => None,
        }
    }
}

impl State {
    fn org(&self, id: OrganizationId) -> Option<&Org> {
        self.orgs.get(&id)
    }

    fn org_mut(&mut self, id: OrganizationId) -> Result<&mut Org, StoreError> {
        self.orgs.get_mut(&id).ok_or(StoreError::Missing {
            entity: "organization",
        })
    }

    fn set_invitation(&mut self, org: OrganizationId, id: InvitationId, new: Option<Invitation>) {
        let Some(o) = self.orgs.get_mut(&org) else {
            return;
        };
        if let Some(old) = o.invitations.remove(&id) {
            if o.pending_by_email.get(old.email.key()) == Some(&id) {
                o.pending_by_email.remove(old.email.key());
            }
            self.tokens.remove(&old.token_hash);
        }
        if let Some(new) = new {
            if new.status == InvitationStatus::Pending {
                o.pending_by_email.insert(new.email.key().to_owned(), id);
            }
            self.tokens.insert(new.token_hash, (org, id));
            o.invitations.insert(id, new);
        }
    }
}

/// How to take one applied write back.
enum Undo {
    OrgCreated(OrganizationId),
    Org(Organization),
    Member(MemberId, Option<Member>),
    Invitation(InvitationId, Option<Invitation>),
    Team(TeamId, Option<Team>),
    TeamMember(TeamId, MemberId, bool),
    StintOpened,
    StintClosed(usize),
}

fn check_version(
    stored: Option<u64>,
    expected: u64,
    entity: &'static str,
) -> Result<(), StoreError> {
    match (stored, expected) {
        (None, 0) => Ok(()),
        (Some(_), 0) => Err(StoreError::Duplicate {
            constraint: constraint::PRIMARY_KEY,
        }),
        (Some(v), e) if v == e => Ok(()),
        _ => Err(StoreError::Conflict { entity }),
    }
}

fn apply_org(
    state: &mut State,
    changes: &ChangeSet,
    undo: &mut Vec<Undo>,
) -> Result<(), StoreError> {
    let id = changes.organization;
    match &changes.organization_write {
        OrganizationWrite::Untouched => {
            state.org_mut(id)?;
        }
        write @ (OrganizationWrite::Touch { expected_version }
        | OrganizationWrite::Check { expected_version }) => {
            let org = state.org_mut(id)?;
            check_version(
                Some(org.organization.version),
                *expected_version,
                "organization",
            )?;
            if matches!(write, OrganizationWrite::Touch { .. }) {
                undo.push(Undo::Org(org.organization.clone()));
                org.organization.version += 1;
            }
        }
        OrganizationWrite::Put(new) => {
            if new.id != id {
                return Err(StoreError::Missing {
                    entity: "organization",
                });
            }
            let stored = state.org(id).map(|o| o.organization.version);
            check_version(stored, new.version, "organization")?;
            let mut new = new.clone();
            new.version += 1;
            match state.orgs.get_mut(&id) {
                Some(org) => undo.push(Undo::Org(std::mem::replace(&mut org.organization, new))),
                None => {
                    state.orgs.insert(id, Org::new(new));
                    undo.push(Undo::OrgCreated(id));
                }
            }
        }
    }
    Ok(())
}

fn apply_write(
    state: &mut State,
    org_id: OrganizationId,
    write: &Write,
    undo: &mut Vec<Undo>,
) -> Result<(), StoreError> {
    match write {
        Write::PutMember(member) => {
            let org = state.org_mut(org_id)?;
            if member.organization != org_id {
                return Err(StoreError::Missing {
                    entity: "organization",
                });
            }
            let old = org.members.get(&member.id).cloned();
            check_version(old.as_ref().map(|m| m.version), member.version, "member")?;
            if old.as_ref().is_some_and(|o| o.user != member.user) {
                return Err(StoreError::Conflict { entity: "member" });
            }
            if org
                .by_user
                .get(&member.user)
                .is_some_and(|id| *id != member.id)
            {
                return Err(StoreError::Duplicate {
                    constraint: constraint::ONE_MEMBER_PER_USER,
                });
            }
            if org
                .by_email
                .get(member.email.key())
                .is_some_and(|id| *id != member.id)
            {
                return Err(StoreError::Duplicate {
                    constraint: constraint::ONE_MEMBER_PER_EMAIL,
                });
            }
            let mut new = member.clone();
            new.version += 1;
            org.set_member(member.id, Some(new));
            undo.push(Undo::Member(member.id, old));
        }
        Write::DeleteMember {
            member,
            expected_version,
            at,
        } => {
            let org = state.org_mut(org_id)?;
            let Some(old) = org.members.get(member).cloned() else {
                return Err(StoreError::Conflict { entity: "member" });
            };
            check_version(Some(old.version), *expected_version, "member")?;
            let teams: Vec<TeamId> = org
                .member_teams
                .range((*member, TeamId::from_uuid(uuid::Uuid::nil()))..)
                .take_while(|(m, _)| m == member)
                .map(|(_, t)| *t)
                .collect();
            for team in teams {
                org.set_team_member(team, *member, false);
                undo.push(Undo::TeamMember(team, *member, true));
            }
            org.close_stints(*at, undo, |s| s.user == old.user);
            org.set_member(*member, None);
            undo.push(Undo::Member(*member, Some(old)));
        }
        Write::PutInvitation(invitation) => {
            let org = state.org_mut(org_id)?;
            if invitation.organization != org_id {
                return Err(StoreError::Missing {
                    entity: "organization",
                });
            }
            let old = org.invitations.get(&invitation.id).cloned();
            check_version(
                old.as_ref().map(|i| i.version),
                invitation.version,
                "invitation",
            )?;
            if invitation.status == InvitationStatus::Pending
                && org
                    .pending_by_email
                    .get(invitation.email.key())
                    .is_some_and(|id| *id != invitation.id)
            {
                return Err(StoreError::Duplicate {
                    constraint: constraint::ONE_PENDING_PER_EMAIL,
                });
            }
            if state
                .tokens
                .get(&invitation.token_hash)
                .is_some_and(|(_, id)| *id != invitation.id)
            {
                return Err(StoreError::Duplicate {
                    constraint: constraint::UNIQUE_TOKEN,
                });
            }
            let mut new = invitation.clone();
            new.version += 1;
            state.set_invitation(org_id, invitation.id, Some(new));
            undo.push(Undo::Invitation(invitation.id, old));
        }
        Write::PutTeam(team) => {
            let org = state.org_mut(org_id)?;
            if team.organization != org_id {
                return Err(StoreError::Missing {
                    entity: "organization",
                });
            }
            let old = org.teams.get(&team.id).cloned();
            check_version(old.as_ref().map(|t| t.version), team.version, "team")?;
            if org
                .team_names
                .get(&team.name.key())
                .is_some_and(|id| *id != team.id)
            {
                return Err(StoreError::Duplicate {
                    constraint: constraint::UNIQUE_TEAM_NAME,
                });
            }
            let mut new = team.clone();
            new.version += 1;
            org.set_team(team.id, Some(new));
            undo.push(Undo::Team(team.id, old));
        }
        Write::DeleteTeam {
            team,
            expected_version,
            at,
        } => {
            let org = state.org_mut(org_id)?;
            let Some(old) = org.teams.get(team).cloned() else {
                return Err(StoreError::Conflict { entity: "team" });
            };
            check_version(Some(old.version), *expected_version, "team")?;
            let members: Vec<MemberId> = org
                .team_members
                .range((*team, MemberId::from_uuid(uuid::Uuid::nil()))..)
                .take_while(|(t, _)| t == team)
                .map(|(_, m)| *m)
                .collect();
            for member in members {
                org.set_team_member(*team, member, false);
                undo.push(Undo::TeamMember(*team, member, true));
            }
            org.close_stints(*at, undo, |s| s.team == *team);
            org.set_team(*team, None);
            undo.push(Undo::Team(*team, Some(old)));
        }
        Write::AddTeamMember { team, member, at } => {
            let org = state.org_mut(org_id)?;
            if !org.teams.contains_key(team) {
                return Err(StoreError::Missing { entity: "team" });
            }
            let Some(user) = org.members.get(member).map(|m| m.user) else {
                return Err(StoreError::Missing { entity: "member" });
            };
            if org.team_members.contains(&(*team, *member)) {
                return Err(StoreError::Duplicate {
                    constraint: constraint::ONE_TEAM_MEMBERSHIP,
                });
            }
            org.set_team_member(*team, *member, true);
            undo.push(Undo::TeamMember(*team, *member, false));
            // No earlier than the user's last stint in the team ended: stints never overlap,
            // whatever the clocks of the instances that wrote them (spec: TEAM-4).
            let joined_at = org
                .stints
                .iter()
                .filter(|s| s.team == *team && s.user == user)
                .filter_map(|s| s.left_at)
                .fold(*at, DateTime::max);
            org.stints.push(TeamStint {
                team: *team,
                user,
                joined_at,
                left_at: None,
            });
            undo.push(Undo::StintOpened);
        }
        Write::RemoveTeamMember { team, member, at } => {
            let org = state.org_mut(org_id)?;
            if !org.team_members.contains(&(*team, *member)) {
                return Err(StoreError::Conflict {
                    entity: "team membership",
                });
            }
            let user = org.members.get(member).map(|m| m.user);
            org.set_team_member(*team, *member, false);
            undo.push(Undo::TeamMember(*team, *member, true));
            org.close_stints(*at, undo, |s| s.team == *team && Some(s.user) == user);
        }
    }
    Ok(())
}

fn rollback(state: &mut State, org_id: OrganizationId, undo: Vec<Undo>) {
    for step in undo.into_iter().rev() {
        match step {
            Undo::OrgCreated(id) => {
                state.orgs.remove(&id);
            }
            Undo::Org(old) => {
                if let Some(org) = state.orgs.get_mut(&old.id) {
                    org.organization = old;
                }
            }
            Undo::Member(id, old) => {
                if let Some(org) = state.orgs.get_mut(&org_id) {
                    org.set_member(id, old);
                }
            }
            Undo::Invitation(id, old) => state.set_invitation(org_id, id, old),
            Undo::Team(id, old) => {
                if let Some(org) = state.orgs.get_mut(&org_id) {
                    org.set_team(id, old);
                }
            }
            Undo::StintOpened => {
                if let Some(org) = state.orgs.get_mut(&org_id) {
                    org.stints.pop();
                }
            }
            Undo::StintClosed(i) => {
                if let Some(stint) = state
                    .orgs
                    .get_mut(&org_id)
                    .and_then(|o| o.stints.get_mut(i))
                {
                    stint.left_at = None;
                }
            }
            Undo::TeamMember(team, member, present) => {
                if let Some(org) = state.orgs.get_mut(&org_id) {
                    org.set_team_member(team, member, present);
                }
            }
        }
    }
}

/// The rows of `ids`, each once however often it is asked for (as the SQL stores answer).
fn distinct<'a, K: Ord + 'a, V: Clone + 'a>(
    ids: impl Iterator<Item = &'a K>,
    row: impl Fn(&K) -> Option<&'a V>,
) -> Vec<V> {
    let ids: std::collections::BTreeSet<&K> = ids.collect();
    ids.into_iter().filter_map(row).cloned().collect()
}

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

    async fn members(
        &self,
        org: OrganizationId,
        filter: MemberFilter,
        page: Page,
    ) -> Result<Vec<Member>, StoreError> {
        let after = page.after.map(MemberId::from_uuid);
        Ok(self
            .read(org, |o| {
                let role_ok = |m: &Member| filter.role.is_none_or(|r| m.roles.contains(r));
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
        hash: &TokenHash,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<LinkContext>, StoreError> {
        let state = self.lock();
        let Some((org, id)) = state.tokens.get(hash) else {
            return Ok(None);
        };
        let Some(o) = state.org(*org) else {
            return Ok(None);
        };
        Ok(o.invitations
            .get(id)
            .filter(|i| i.token_hash == *hash)
            .map(|invitation| LinkContext {
                invitation: invitation.clone(),
                organization: o.organization.clone(),
                member: user.and_then(|u| o.member_of(u)),
                seats: o.organization.seats_counted_at(now).map(|at| o.seats(at)),
                team: invitation.team.and_then(|t| o.teams.get(&t).cloned()),
            }))
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
