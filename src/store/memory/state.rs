//! What `MemoryStore` holds: every organization's rows and indexes, and the outbox.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::commit::Undo;
use crate::domain::{
    activity::{Activity, Period, Statistics, StatsScope, Tally, TeamStint},
    email::EmailAddress,
    event::Event,
    ids::{ClaimId, EventId, InvitationId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
    invitation::{Invitation, InvitationStatus},
    member::Member,
    organization::{Organization, SeatUsage},
    outbox::OutboxMessage,
    team::Team,
    text::ActivityId,
    token::TokenHash,
};
use crate::store::{InvitationTargets, StoreError};

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) orgs: HashMap<OrganizationId, Org>,
    pub(super) tokens: HashMap<TokenHash, (OrganizationId, InvitationId)>,
    pub(super) outbox: BTreeMap<OutboxId, OutboxMessage>,
    /// The pending rows, with the claim that holds each, if any (spec: MSG-3).
    pub(super) unsent: BTreeMap<OutboxId, Option<ClaimId>>,
    /// The pending rows of each invitation, withdrawn when it changes (spec: INV-13).
    pub(super) unsent_by_invitation: HashMap<InvitationId, Vec<OutboxId>>,
    /// Every user's organizations, for their account menu (spec: USR-4).
    pub(super) memberships: BTreeSet<(UserId, OrganizationId)>,
    /// Every invitation's organization: an inbox names an invitation by its id alone (spec:
    /// INV-15).
    pub(super) invitation_orgs: HashMap<InvitationId, OrganizationId>,
    /// The pending invitations by email key, then id: every invitee's inbox (spec: INV-15).
    pub(super) inbox: BTreeSet<(String, InvitationId)>,
}

impl State {
    /// Deletes the pending mail of `invitation`: its link is dead (spec: INV-13).
    pub(super) fn withdraw_mail_of(&mut self, invitation: InvitationId) {
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
    pub(super) fn forget_unsent(&mut self, invitation: InvitationId, id: OutboxId) {
        if let Some(ids) = self.unsent_by_invitation.get_mut(&invitation) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.unsent_by_invitation.remove(&invitation);
            }
        }
    }
}

#[derive(Debug)]
pub(super) struct Org {
    pub(super) organization: Organization,
    pub(super) members: BTreeMap<MemberId, Member>,
    pub(super) by_user: HashMap<UserId, MemberId>,
    pub(super) by_email: HashMap<String, MemberId>,
    pub(super) invitations: BTreeMap<InvitationId, Invitation>,
    pub(super) pending_by_email: HashMap<String, InvitationId>,
    pub(super) teams: BTreeMap<TeamId, Team>,
    pub(super) team_names: HashMap<String, TeamId>,
    pub(super) team_members: BTreeSet<(TeamId, MemberId)>,
    pub(super) member_teams: BTreeSet<(MemberId, TeamId)>,
    pub(super) events: BTreeMap<EventId, Event>,
    /// Learning events by time, then arrival.
    pub(super) activities: BTreeMap<(DateTime<Utc>, u64), Activity>,
    pub(super) activity_ids: HashSet<ActivityId>,
    /// Every stint of a member in a team, open or closed (spec: TEAM-4).
    pub(super) stints: Vec<TeamStint>,
}

impl Org {
    /// Gives `user`'s learning activity and team stints to `pseudonym` (spec: USR-5).
    pub(super) fn pseudonymize(&mut self, user: UserId, pseudonym: UserId) {
        for activity in self.activities.values_mut().filter(|a| a.user == user) {
            activity.user = pseudonym;
        }
        for stint in self.stints.iter_mut().filter(|s| s.user == user) {
            stint.user = pseudonym;
        }
    }

    /// Active members plus pending invitations holding a seat at `now` (spec: ORG-4, MEM-2).
    pub(super) fn seats(&self, now: DateTime<Utc>) -> SeatUsage {
        SeatUsage {
            members: self.members.values().filter(|m| m.is_active()).count() as u64,
            pending_invitations: self
                .pending_by_email
                .values()
                .filter_map(|id| self.invitations.get(id))
                .filter(|i| i.holds_seat(now))
                .count() as u64,
        }
    }

    /// `user`'s membership.
    pub(super) fn member_of(&self, user: UserId) -> Option<Member> {
        self.by_user
            .get(&user)
            .and_then(|id| self.members.get(id))
            .cloned()
    }

    /// The targets of an invitation to `emails`, seats counted at `seats_at` if given.
    pub(super) fn targets(
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

    pub(super) fn new(organization: Organization) -> Self {
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
    pub(super) fn set_member(&mut self, id: MemberId, new: Option<Member>) {
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

    pub(super) fn set_team(&mut self, id: TeamId, new: Option<Team>) {
        if let Some(old) = self.teams.remove(&id) {
            self.team_names.remove(&old.name.key());
        }
        if let Some(new) = new {
            self.team_names.insert(new.name.key(), id);
            self.teams.insert(id, new);
        }
    }

    /// Closes the open stints that `matches`, recording how to reopen them.
    pub(super) fn close_stints(
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

    pub(super) fn set_team_member(&mut self, team: TeamId, member: MemberId, present: bool) {
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
    pub(super) fn team_stints(
        &self,
        team: TeamId,
        period: &Period,
    ) -> HashMap<UserId, Vec<TeamStint>> {
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
    pub(super) fn scope_filter(&self, scope: StatsScope, period: &Period) -> ScopeFilter {
        match scope {
            StatsScope::Organization => ScopeFilter::All,
            StatsScope::Team(team) => ScopeFilter::Stints(self.team_stints(team, period)),
            StatsScope::Member(user) => ScopeFilter::User(user),
        }
    }

    pub(super) fn activities_in<'a>(
        &'a self,
        period: &Period,
    ) -> impl Iterator<Item = &'a Activity> + 'a {
        self.activities
            .range((period.from(), 0)..(period.to(), 0))
            .map(|(_, a)| a)
    }

    pub(super) fn statistics(&self, scope: StatsScope, period: Period) -> Statistics {
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
    pub(super) fn team_statistics(&self, teams: &[TeamId], period: Period) -> Vec<Statistics> {
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
pub(super) enum ScopeFilter {
    All,
    Stints(HashMap<UserId, Vec<TeamStint>>),
    User(UserId),
}

impl ScopeFilter {
    /// Whether the scope counts `activity` (spec: TEAM-4).
    pub(super) fn counts(&self, activity: &Activity) -> bool {
        match self {
            Self::All => true,
            Self::Stints(stints) => stints
                .get(&activity.user)
                .is_some_and(|s| s.iter().any(|s| s.covers(activity.at))),
            Self::User(user) => activity.user == *user,
        }
    }

    /// Whether the scope holds `user` at all.
    pub(super) fn holds(&self, user: UserId) -> bool {
        match self {
            Self::All => true,
            Self::Stints(stints) => stints.contains_key(&user),
            Self::User(u) => *u == user,
        }
    }

    /// The users of a team scope; `None` for the others.
    pub(super) fn users(&self) -> Option<impl Iterator<Item = &UserId>> {
        match self {
            Self::Stints(stints) => Some(stints.keys()),
            Self::All | Self::User(_) => None,
        }
    }
}

impl State {
    pub(super) fn org(&self, id: OrganizationId) -> Option<&Org> {
        self.orgs.get(&id)
    }

    pub(super) fn org_mut(&mut self, id: OrganizationId) -> Result<&mut Org, StoreError> {
        self.orgs.get_mut(&id).ok_or(StoreError::Missing {
            entity: "organization",
        })
    }

    /// Replaces the member with id `id` of `org` by `new`, keeping the organization's indexes
    /// and the users' memberships right. No checks.
    pub(super) fn set_member(&mut self, org: OrganizationId, id: MemberId, new: Option<Member>) {
        let Some(o) = self.orgs.get_mut(&org) else {
            return;
        };
        if let Some(old) = o.members.get(&id) {
            self.memberships.remove(&(old.user, org));
        }
        if let Some(new) = &new {
            self.memberships.insert((new.user, org));
        }
        o.set_member(id, new);
    }

    pub(super) fn set_invitation(
        &mut self,
        org: OrganizationId,
        id: InvitationId,
        new: Option<Invitation>,
    ) {
        let Some(o) = self.orgs.get_mut(&org) else {
            return;
        };
        if let Some(old) = o.invitations.remove(&id) {
            if o.pending_by_email.get(old.email.key()) == Some(&id) {
                o.pending_by_email.remove(old.email.key());
            }
            self.tokens.remove(&old.token_hash);
            self.invitation_orgs.remove(&id);
            self.inbox.remove(&(old.email.key().to_owned(), id));
        }
        if let Some(new) = new {
            if new.status == InvitationStatus::Pending {
                o.pending_by_email.insert(new.email.key().to_owned(), id);
                self.inbox.insert((new.email.key().to_owned(), id));
            }
            self.tokens.insert(new.token_hash, (org, id));
            self.invitation_orgs.insert(id, org);
            o.invitations.insert(id, new);
        }
    }

    /// Forgets the invitations of a deleted organization in the indexes across
    /// organizations: links, ids, inboxes and queued mail (spec: ORG-5).
    pub(super) fn forget_invitations<'a>(&mut self, gone: impl Iterator<Item = &'a Invitation>) {
        for invitation in gone {
            self.tokens.remove(&invitation.token_hash);
            self.unsent_by_invitation.remove(&invitation.id);
            self.invitation_orgs.remove(&invitation.id);
            self.inbox
                .remove(&(invitation.email.key().to_owned(), invitation.id));
        }
    }
}

/// The rows of `ids`, each once however often it is asked for (as the SQL stores answer).
pub(super) fn distinct<'a, K: Ord + 'a, V: Clone + 'a>(
    ids: impl Iterator<Item = &'a K>,
    row: impl Fn(&K) -> Option<&'a V>,
) -> Vec<V> {
    let ids: std::collections::BTreeSet<&K> = ids.collect();
    ids.into_iter().filter_map(row).cloned().collect()
}
