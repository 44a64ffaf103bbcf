//! Learning activity and statistics: recording what the host reports, statistics of a
//! member, a team or the organization, team comparisons, and the CSV export
//! (spec: STAT-1..4, TEAM-4).

use std::collections::{HashMap, HashSet};

use super::{Access, Actor, Roster};
use crate::{
    domain::validation::{Field, ValidationError},
    domain::{
        activity::{
            Activity, ActivityError, ActivityReceipt, CheckedBatch, Comparison, Period,
            ReportedActivity, Statistics, StatsScope,
        },
        ids::{OrganizationId, TeamId, UserId},
    },
    error::{Error, Result},
    policy::{self, Permission, Scope},
    report::{self, ReportError},
    store::{Page, Recorded, StoreError},
};

/// The most teams [`Roster::compare_teams`] compares at once: a comparison is one pass over
/// the period, and its statements name every team (spec: STAT-3, ERR-3).
pub const MAX_COMPARED_TEAMS: usize = 100;

impl Roster {
    /// Records learning events the host reports, one at a time or in batches (spec: STAT-1).
    /// Each event is checked on its own: malformed values, users who are not members and ids
    /// seen before (a retried batch) are refused with their reason, and the rest are kept.
    /// For the host's own systems: it checks no actor.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown organization, [`Error::Store`]. Problems with single
    /// events are in the receipt.
    pub async fn record_activity(
        &self,
        org: OrganizationId,
        reported: &[ReportedActivity],
    ) -> Result<ActivityReceipt> {
        self.organization(org).await?;
        // The store checks membership as it records (spec: STAT-1): each refusal names users
        // who are not members, and the batch is checked again without their events.
        let mut strangers = HashSet::new();
        loop {
            let batch = CheckedBatch::check(org, reported, &strangers);
            let activities = batch.activities();
            match self.store.record_activities(org, &activities).await? {
                Recorded::New(new) => {
                    let mut receipt = batch.receipt(&new);
                    self.refuse_strangers_repeats(org, reported, &activities, &mut receipt)
                        .await?;
                    return Ok(receipt);
                }
                Recorded::NotMembers(users) => {
                    let before = strangers.len();
                    strangers.extend(
                        users
                            .into_iter()
                            .filter(|u| activities.iter().any(|a| a.user == *u)),
                    );
                    if strangers.len() == before {
                        // No user of the batch: a store that breaks its contract would
                        // loop for ever here.
                        return Err(Error::Store(StoreError::Backend {
                            backend: "store",
                            source: "record_activities refused users outside the batch".into(),
                        }));
                    }
                }
            }
        }
    }

    /// An event refused as a repeat of an earlier one in the batch is refused as a
    /// stranger's when its user is not a member, as it would have been had its user been
    /// checked: the store only saw the users of the events it was given (spec: STAT-1).
    async fn refuse_strangers_repeats(
        &self,
        org: OrganizationId,
        reported: &[ReportedActivity],
        recorded: &[Activity],
        receipt: &mut ActivityReceipt,
    ) -> Result<()> {
        let members: HashSet<UserId> = recorded.iter().map(|a| a.user).collect();
        let mut checked: HashMap<UserId, bool> = HashMap::new();
        for (index, _, error) in &mut receipt.rejected {
            let ActivityError::DuplicateId { .. } = error else {
                continue;
            };
            let user = reported[*index].user;
            if members.contains(&user) {
                continue;
            }
            let is_member = match checked.get(&user) {
                Some(known) => *known,
                None => {
                    let known = self.store.member(org, user).await?.is_some();
                    checked.insert(user, known);
                    known
                }
            };
            if !is_member {
                *error = ActivityError::UnknownMember;
            }
        }
        Ok(())
    }

    /// Statistics of one member, one team or the whole organization over a period
    /// (spec: STAT-2, TEAM-4).
    ///
    /// # Errors
    /// [`Error::Forbidden`] outside the actor's reach, [`Error::NotFound`], [`Error::Store`].
    ///
    /// # Examples
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use orgroster::*;
    /// # let key = LinkKey::generate()?;
    /// # let roster = Roster::builder(MemoryStore::new(), RecordingMailer::new(), key).build();
    /// # let ada = Actor::new(UserId::new(), EmailAddress::parse("ada@example.com")?);
    /// # let org = roster
    /// #     .create_organization(&ada, "Analytical Engines".parse()?, Profile::parse("Ada", "L")?)
    /// #     .await?
    /// #     .organization
    /// #     .id;
    /// # roster.add_license(org, LicenseKind::PayPerUse).await?;
    /// # let learners = Capabilities::default().with(Capability::CoursecloudLegacy);
    /// # roster.set_capabilities(org, learners).await?;
    /// let period = Period::days_until(roster.now(), 30)?;
    /// let figures = roster.statistics(&ada, org, StatsScope::Organization, period).await?;
    /// assert_eq!(figures.members, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn statistics(
        &self,
        actor: &Actor,
        org: OrganizationId,
        scope: StatsScope,
        period: Period,
    ) -> Result<Statistics> {
        let (permission, reach) = policy::statistics_requirement(actor.user, scope);
        self.access(org, actor, permission, reach).await?;
        self.target_scope(org, scope).await?;
        let mut stats = self.store.statistics(org, &[scope], period).await?;
        stats
            .pop()
            .ok_or_else(|| Error::Store(missing_statistics()))
    }

    /// Several teams side by side over one period, with the organization's totals for those
    /// who may see them (spec: STAT-3). Supervisors may compare the teams they belong to. A
    /// team named twice is compared once, where it first appears; at most
    /// [`MAX_COMPARED_TEAMS`] teams.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for an actor who sees no team's figures (an empty list included)
    /// or for a team outside the actor's reach; [`Error::Invalid`] for more than
    /// [`MAX_COMPARED_TEAMS`] teams; [`Error::NotFound`] for a team the organization does not
    /// have; [`Error::Store`].
    pub async fn compare_teams(
        &self,
        actor: &Actor,
        org: OrganizationId,
        teams: &[TeamId],
        period: Period,
    ) -> Result<Comparison> {
        // The membership and its teams are read once, not once per team compared.
        let (organization, member, member_teams) = self.standing(org, actor, true).await?;
        // Checked before anything else, an empty list included (spec: ROLE-4): the actor
        // must see the figures of some team.
        let access = Access::somewhere(
            organization,
            member,
            member_teams,
            Permission::ViewTeamAnalytics,
        )?;
        let mut seen = HashSet::with_capacity(teams.len().min(MAX_COMPARED_TEAMS + 1));
        let distinct: Vec<TeamId> = teams.iter().copied().filter(|t| seen.insert(*t)).collect();
        if distinct.len() > MAX_COMPARED_TEAMS {
            return Err(Error::Invalid(ValidationError::TooMany {
                field: Field::Teams,
                count: distinct.len(),
                max: MAX_COMPARED_TEAMS,
            }));
        }
        let teams = distinct.as_slice();
        let mut names = Vec::with_capacity(teams.len());
        for team in teams {
            access.allow(Permission::ViewTeamAnalytics, Scope::Team(*team))?;
            names.push(self.target_team(org, *team).await?.name.to_string());
        }
        let sees_all = access
            .allow(Permission::ViewOrganizationAnalytics, Scope::Organization)
            .is_ok();
        // The teams, and the organization's totals for those who see them, in one read.
        let mut scopes: Vec<StatsScope> = teams.iter().map(|t| StatsScope::Team(*t)).collect();
        if sees_all {
            scopes.push(StatsScope::Organization);
        }
        let mut stats = self.store.statistics(org, &scopes, period).await?;
        if stats.len() != scopes.len() {
            return Err(Error::Store(missing_statistics()));
        }
        let organization = match sees_all {
            true => stats.pop(),
            false => None,
        };
        let rows = teams
            .iter()
            .copied()
            .zip(names)
            .zip(stats)
            .map(|((t, n), s)| (t, n, s))
            .collect();
        Ok(Comparison {
            period,
            teams: rows,
            organization,
        })
    }

    /// Writes the per-member activity of `scope` over a period as CSV, page by page, so a
    /// large organization is never held in memory (spec: STAT-4). Returns the number of
    /// member rows. Allowed to those who may see the scope's statistics.
    ///
    /// # Errors
    /// [`ReportError::Roster`] wrapping [`Error::Forbidden`], [`Error::NotFound`] or
    /// [`Error::Store`]; [`ReportError::Write`] when writing fails.
    pub async fn export_member_activity<W: std::io::Write + Send>(
        &self,
        actor: &Actor,
        org: OrganizationId,
        scope: StatsScope,
        period: Period,
        mut out: W,
    ) -> std::result::Result<u64, ReportError> {
        let wrap = |e: Error| ReportError::Roster(Box::new(e));
        let (permission, reach) = policy::statistics_requirement(actor.user, scope);
        self.access(org, actor, permission, reach)
            .await
            .map_err(wrap)?;
        self.target_scope(org, scope).await.map_err(wrap)?;
        let mut page = Page::first(500);
        let mut written = 0u64;
        loop {
            let rows = self
                .store
                .member_activity(org, scope, period, page)
                .await
                .map_err(|e| wrap(e.into()))?;
            // The first page brings the header, even when it is empty: an empty report still
            // says what it would hold.
            let first = page.after.is_none();
            out = report::write_member_rows(&rows, first, out)?;
            written += rows.len() as u64;
            match rows.last() {
                Some(last) if rows.len() >= page.len() => {
                    page = Page::after(last.member, page.limit)
                }
                _ => break,
            }
        }
        Ok(written)
    }

    /// Refuses a scope naming a team or a member that `org` does not have, another
    /// organization's included (spec: ERR-1, TEAM-4).
    async fn target_scope(&self, org: OrganizationId, scope: StatsScope) -> Result<()> {
        match scope {
            StatsScope::Organization => Ok(()),
            StatsScope::Team(team) => self.target_team(org, team).await.map(drop),
            StatsScope::Member(user) => self.target_member(org, user).await.map(drop),
        }
    }
}

/// A store that answered fewer statistics than it was asked for.
fn missing_statistics() -> StoreError {
    StoreError::Backend {
        backend: "store",
        source: "statistics answered fewer scopes than asked for".into(),
    }
}
