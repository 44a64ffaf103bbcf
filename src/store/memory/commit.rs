//! A change set applied to the state one write at a time, each with its undo, so that the
//! first write that breaks a rule takes the others back (spec: ERR-2).

use chrono::DateTime;

use super::state::*;
use crate::domain::{
    activity::TeamStint,
    changes::{ChangeSet, OrganizationWrite, Write},
    event::Event,
    ids::{ClaimId, InvitationId, MemberId, OrganizationId, TeamId, UserId},
    invitation::{Invitation, InvitationStatus},
    member::Member,
    organization::Organization,
    outbox::{OutboxMessage, OutboxStatus},
    team::Team,
};
use crate::store::{StoreError, constraint};

/// How to take one applied write back.
pub(super) enum Undo {
    OrgCreated(OrganizationId),
    Org(Organization),
    Member(MemberId, Option<Member>),
    Invitation(InvitationId, Option<Invitation>),
    Team(TeamId, Option<Team>),
    TeamMember(TeamId, MemberId, bool),
    StintOpened,
    StintClosed(usize),
    /// A failed mail queued again: as it was.
    Mail(OutboxMessage),
    /// A queued mail withdrawn: queued again, with the claim that held it.
    MailWithdrawn(OutboxMessage, Option<ClaimId>),
    /// A mail rewritten: as it was, its delivery state untouched.
    MailRewritten(OutboxMessage),
    /// An event rewritten: as it was.
    Event(Event),
    /// The activity and stints of `user` given to `pseudonym`: given back.
    Pseudonymized {
        user: UserId,
        pseudonym: UserId,
    },
}

pub(super) fn check_version(
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

pub(super) fn apply_org(
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

pub(super) fn apply_write(
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
            state.set_member(org_id, member.id, Some(new));
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
            state.set_member(org_id, *member, None);
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
        Write::RequeueMail { mail, at } => {
            let Some(message) = state
                .outbox
                .get_mut(mail)
                .filter(|m| m.organization == org_id && m.status == OutboxStatus::Failed)
            else {
                return Err(StoreError::Conflict { entity: "mail" });
            };
            undo.push(Undo::Mail(message.clone()));
            message.status = OutboxStatus::Pending;
            message.attempts = 0;
            message.due_at = *at;
            message.lease_until = None;
            message.last_error = None;
            let invitation = message.invitation();
            state.unsent.insert(*mail, None);
            if let Some(invitation) = invitation {
                state
                    .unsent_by_invitation
                    .entry(invitation)
                    .or_default()
                    .push(*mail);
            }
        }
        Write::WithdrawMailTo { to } => {
            let withdrawn: Vec<_> = state
                .unsent
                .iter()
                .filter(|(id, _)| {
                    state.outbox.get(id).is_some_and(|m| {
                        m.organization == org_id
                            && m.to.as_str() == to.as_str()
                            && m.invitation().is_none()
                    })
                })
                .map(|(id, claim)| (*id, *claim))
                .collect();
            for (id, claim) in withdrawn {
                state.unsent.remove(&id);
                if let Some(mail) = state.outbox.remove(&id) {
                    undo.push(Undo::MailWithdrawn(mail, claim));
                }
            }
        }
        Write::RewriteInvitation(invitation) => {
            let org = state.org_mut(org_id)?;
            if invitation.organization != org_id {
                return Err(StoreError::Missing {
                    entity: "organization",
                });
            }
            let old = org.invitations.get(&invitation.id).cloned();
            if old.is_none() {
                return Err(StoreError::Conflict {
                    entity: "invitation",
                });
            }
            check_version(
                old.as_ref().map(|i| i.version),
                invitation.version,
                "invitation",
            )?;
            let mut new = invitation.clone();
            new.version += 1;
            state.set_invitation(org_id, invitation.id, Some(new));
            undo.push(Undo::Invitation(invitation.id, old));
        }
        Write::RewriteEvent(event) => {
            let org = state.org_mut(org_id)?;
            let Some(stored) = org.events.get_mut(&event.id) else {
                return Err(StoreError::Conflict { entity: "event" });
            };
            let old = std::mem::replace(stored, event.clone());
            undo.push(Undo::Event(old));
        }
        Write::RewriteMail(mail) => {
            if let Some(stored) = state
                .outbox
                .get_mut(&mail.id)
                .filter(|m| m.organization == org_id)
            {
                let old = stored.clone();
                stored.to = mail.to.clone();
                stored.content = mail.content.clone();
                undo.push(Undo::MailRewritten(old));
            }
        }
        Write::Pseudonymize { user, pseudonym } => {
            state.org_mut(org_id)?.pseudonymize(*user, *pseudonym);
            undo.push(Undo::Pseudonymized {
                user: *user,
                pseudonym: *pseudonym,
            });
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

pub(super) fn rollback(state: &mut State, org_id: OrganizationId, undo: Vec<Undo>) {
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
            Undo::Member(id, old) => state.set_member(org_id, id, old),
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
            Undo::Mail(old) => {
                state.unsent.remove(&old.id);
                if let Some(invitation) = old.invitation() {
                    state.forget_unsent(invitation, old.id);
                }
                state.outbox.insert(old.id, old);
            }
            Undo::MailWithdrawn(mail, claim) => {
                state.unsent.insert(mail.id, claim);
                state.outbox.insert(mail.id, mail);
            }
            Undo::MailRewritten(old) => {
                state.outbox.insert(old.id, old);
            }
            Undo::Event(old) => {
                if let Some(org) = state.orgs.get_mut(&org_id) {
                    org.events.insert(old.id, old);
                }
            }
            Undo::Pseudonymized { user, pseudonym } => {
                if let Some(org) = state.orgs.get_mut(&org_id) {
                    org.pseudonymize(pseudonym, user);
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
