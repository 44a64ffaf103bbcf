//! Teams and their pages: creating, renaming and deleting teams, their members, their page,
//! and what each member sees of them (spec: TEAM-1..4).

use super::{Actor, Listing, Roster, listing};
#[cfg(doc)]
use crate::error::Error;
use crate::{
    domain::{
        ids::{OrganizationId, TeamId, UserId},
        team::{self, Team, TeamPage},
        text::TeamName,
    },
    error::Result,
    policy::{self, Permission, Scope},
    store::Page,
};

impl Roster {
    /// Creates a team with an empty page (spec: TEAM-1).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::TeamNameTaken`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn create_team(
        &self,
        actor: &Actor,
        org: OrganizationId,
        name: TeamName,
    ) -> Result<Team> {
        let name = &name;
        self.run(|now| async move {
            let access = self
                .access(org, actor, Permission::ManageTeams, Scope::Organization)
                .await?;
            // The store keeps names unique (spec: TEAM-1): a taken one fails the commit.
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                team::create_team(ctx, &access.organization, name.clone())
            }))
        })
        .await
    }

    /// Renames a team (spec: TEAM-1).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::TeamNameTaken`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn rename_team(
        &self,
        actor: &Actor,
        org: OrganizationId,
        team: TeamId,
        name: TeamName,
    ) -> Result<Team> {
        let name = &name;
        self.run(|now| async move {
            let access = self
                .access(org, actor, Permission::ManageTeams, Scope::Organization)
                .await?;
            let current = self.target_team(org, team).await?;
            // The store keeps names unique (spec: TEAM-1): a taken one fails the commit.
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                team::rename_team(ctx, &access.organization, current, name.clone())
            }))
        })
        .await
    }

    /// Deletes a team; its members stay in the organization (spec: TEAM-1).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn delete_team(
        &self,
        actor: &Actor,
        org: OrganizationId,
        team: TeamId,
    ) -> Result<Team> {
        self.run(|now| async move {
            let access = self
                .access(org, actor, Permission::ManageTeams, Scope::Organization)
                .await?;
            let current = self.target_team(org, team).await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                team::delete_team(ctx, &access.organization, current)
            }))
        })
        .await
    }

    /// Puts a member of the organization in a team. Supervisors may do it for the teams they
    /// belong to (spec: TEAM-1, TEAM-3).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`] (team, or a user who is not a member),
    /// [`Error::AlreadyInTeam`], [`Error::Conflict`], [`Error::Store`].
    pub async fn add_team_member(
        &self,
        actor: &Actor,
        org: OrganizationId,
        team: TeamId,
        user: UserId,
    ) -> Result<()> {
        self.change_team_membership(actor, org, team, user, true)
            .await
    }

    /// Takes a member out of a team (spec: TEAM-1, TEAM-3).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::NotInTeam`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn remove_team_member(
        &self,
        actor: &Actor,
        org: OrganizationId,
        team: TeamId,
        user: UserId,
    ) -> Result<()> {
        self.change_team_membership(actor, org, team, user, false)
            .await
    }

    async fn change_team_membership(
        &self,
        actor: &Actor,
        org: OrganizationId,
        team: TeamId,
        user: UserId,
        join: bool,
    ) -> Result<()> {
        self.run(|now| async move {
            let access = self
                .access(org, actor, Permission::ManageTeamMembers, Scope::Team(team))
                .await?;
            let current = self.target_team(org, team).await?;
            let target = self.target_member(org, user).await?;
            let is_in = self.store.teams_of(org, target.id).await?.contains(&team);
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                team::change_membership(ctx, &access.organization, &current, &target, is_in, join)
            })?)
        })
        .await
    }

    /// Sets a team's page: its message and ordered suggested courses (spec: TEAM-2,
    /// TEAM-3).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn set_team_page(
        &self,
        actor: &Actor,
        org: OrganizationId,
        team: TeamId,
        page: TeamPage,
    ) -> Result<Team> {
        let page = &page;
        self.run(|now| async move {
            let access = self
                .access(org, actor, Permission::EditTeamPage, Scope::Team(team))
                .await?;
            let current = self.target_team(org, team).await?;
            Ok(self.decide(now, actor.as_event_actor(), |ctx| {
                team::set_team_page(ctx, &access.organization, current, page.clone())
            }))
        })
        .await
    }

    /// A team with its page, for those who may see it (its members included).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn team(&self, actor: &Actor, org: OrganizationId, team: TeamId) -> Result<Team> {
        self.access(org, actor, Permission::ViewTeam, Scope::Team(team))
            .await?;
        self.target_team(org, team).await
    }

    /// A page of the organization's teams: all of them for administrators and managers, the
    /// actor's own for everyone else (spec: TEAM-4).
    ///
    /// # Errors
    /// [`Error::Forbidden`] for non-members, [`Error::NotFound`], [`Error::Store`].
    pub async fn teams(
        &self,
        actor: &Actor,
        org: OrganizationId,
        page: Page,
    ) -> Result<Listing<Team>> {
        let access = self
            .access(
                org,
                actor,
                Permission::ViewOrganization,
                Scope::Organization,
            )
            .await?;
        let me = access.member;
        if policy::sees_every_team(me.roles) {
            let rows = self.store.teams(org, page).await?;
            return Ok(listing(rows, page, |t: &Team| t.id.as_uuid()));
        }
        let mut mine = Vec::new();
        for id in self.store.teams_of(org, me.id).await? {
            if page.after.is_none_or(|after| id.as_uuid() > after)
                && let Some(t) = self.store.team(org, id).await?
            {
                mine.push(t);
            }
        }
        mine.sort_by_key(|t| t.id);
        mine.truncate(page.len());
        Ok(listing(mine, page, |t: &Team| t.id.as_uuid()))
    }
}
