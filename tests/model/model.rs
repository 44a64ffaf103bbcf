//! The reference model: what the roster must answer to each transition, computed from a few
//! maps and the spec's rules, with no store and no I/O.

use std::collections::{BTreeMap, BTreeSet};

use orgroster::{InvitationStatus, Role};

use crate::{
    FOUNDER, INITIAL_CAP, SECONDS_PER_DAY, TEAMS, TTL_DAYS,
    transitions::{Entry, Link, Transition, paste},
};

#[derive(Debug, Clone)]
pub(crate) struct ModelInvitation {
    pub(crate) user: usize,
    pub(crate) role: Role,
    pub(crate) team: Option<usize>,
    pub(crate) status: InvitationStatus,
    /// Day (since the start of the case) the current link stops working.
    pub(crate) expires_at: i64,
    /// Resends so far; a link carries the value it was sent with (spec: INV-3).
    pub(crate) resends: u32,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ModelMember {
    pub(crate) roles: BTreeSet<Role>,
    pub(crate) teams: BTreeSet<usize>,
    /// The invitation accepted to join (the founder has none).
    pub(crate) invitation: Option<usize>,
    /// Deactivated by an administrator (spec: MEM-2).
    pub(crate) deactivated: bool,
}

/// What a bulk invitation reports: `(line, user)` invited in paste order, and
/// `(line, text, reason)` refused, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BulkOutcome {
    pub(crate) invited: Vec<(usize, usize)>,
    pub(crate) rejected: Vec<(usize, String, String)>,
}

/// The result of one transition: `Ok` (with the bulk report, for bulk invitations) or the
/// error's kind as [`kind`] spells it.
pub(crate) type Outcome = Result<Option<BulkOutcome>, String>;

#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// Days since the start of the case.
    pub(crate) today: i64,
    pub(crate) cap: Option<u32>,
    pub(crate) members: BTreeMap<usize, ModelMember>,
    /// Every invitation ever sent, in the order sent.
    pub(crate) invitations: Vec<ModelInvitation>,
    /// Per user, every link sent to them, oldest first: (invitation, resends when sent).
    pub(crate) links: BTreeMap<usize, Vec<(usize, u32)>>,
    /// Per user, their most recent invitation.
    latest: BTreeMap<usize, usize>,
    /// What the last transition must return.
    pub(crate) expected: Outcome,
}

pub(crate) fn forbidden(permission: &str) -> String {
    format!("Forbidden({permission})")
}

pub(crate) fn not_found(entity: &str) -> String {
    format!("NotFound({entity})")
}

pub(crate) fn seat_limit(cap: u32, excess: u64) -> String {
    format!("SeatLimit(cap={cap}, excess={excess})")
}

impl Model {
    pub(crate) fn new() -> Self {
        let founder = ModelMember {
            roles: BTreeSet::from([Role::Administrator, Role::Member]),
            ..ModelMember::default()
        };
        Self {
            today: 0,
            cap: Some(INITIAL_CAP),
            members: BTreeMap::from([(FOUNDER, founder)]),
            invitations: Vec::new(),
            links: BTreeMap::new(),
            latest: BTreeMap::new(),
            expected: Ok(None),
        }
    }

    fn has_role(&self, user: usize, role: Role) -> bool {
        self.members
            .get(&user)
            .is_some_and(|m| m.roles.contains(&role))
    }

    fn is_admin(&self, user: usize) -> bool {
        self.has_role(user, Role::Administrator)
    }

    fn is_deactivated(&self, user: usize) -> bool {
        self.members.get(&user).is_some_and(|m| m.deactivated)
    }

    /// Administrators who are not deactivated: never none (spec: ADM-5, MEM-2).
    pub(crate) fn active_administrators(&self) -> Vec<usize> {
        self.with_role(Role::Administrator)
            .into_iter()
            .filter(|u| !self.is_deactivated(*u))
            .collect()
    }

    /// Whether `user` is the last active administrator, whom nothing may take away.
    fn last_active_administrator(&self, user: usize) -> bool {
        self.is_admin(user) && !self.is_deactivated(user) && self.active_administrators().len() <= 1
    }

    /// A deactivated actor is refused whatever they ask, before any permission (spec: MEM-2).
    fn active_actor(&self, actor: usize) -> Result<(), String> {
        if self.is_deactivated(actor) {
            Err("Deactivated".into())
        } else {
            Ok(())
        }
    }

    pub(crate) fn with_role(&self, role: Role) -> Vec<usize> {
        self.members
            .iter()
            .filter(|(_, m)| m.roles.contains(&role))
            .map(|(u, _)| *u)
            .collect()
    }

    pub(crate) fn expired(&self, invitation: &ModelInvitation) -> bool {
        // spec: INV-2 — expired from the instant `expires_at` is reached.
        self.today >= invitation.expires_at
    }

    pub(crate) fn pending_of(&self, user: usize) -> Option<usize> {
        let latest = *self.latest.get(&user)?;
        (self.invitations[latest].status == InvitationStatus::Pending).then_some(latest)
    }

    /// Active members and pending, unexpired invitations (spec: ORG-4, MEM-2).
    pub(crate) fn used(&self) -> u64 {
        let pending = self
            .invitations
            .iter()
            .filter(|i| i.status == InvitationStatus::Pending && !self.expired(i))
            .count();
        let active = self.members.values().filter(|m| !m.deactivated).count();
        (active + pending) as u64
    }

    /// The refusal of one more seat, when every seat is taken (spec: ORG-4).
    fn no_seat_left(&self) -> Option<String> {
        let cap = self.cap?;
        let used = self.used();
        (used >= u64::from(cap)).then(|| seat_limit(cap, used + 1 - u64::from(cap)))
    }

    fn send(&mut self, user: usize, role: Role, team: Option<usize>) {
        let id = self.invitations.len();
        self.invitations.push(ModelInvitation {
            user,
            role,
            team,
            status: InvitationStatus::Pending,
            expires_at: self.today + TTL_DAYS,
            resends: 0,
        });
        self.links.entry(user).or_default().push((id, 0));
        self.latest.insert(user, id);
    }

    fn link(&self, user: usize, link: &Link) -> Option<(usize, u32)> {
        let links = self.links.get(&user)?;
        match link {
            Link::Latest => links.last().copied(),
            Link::Any(index) => Some(links[index.index(links.len())]),
            Link::Superseded(index) => Some(links[index.index(links.len().max(2) - 1)]),
        }
    }

    /// The invitation behind a link, if the link still works (spec: INV-3, INV-6).
    fn open(&self, link: Option<(usize, u32)>) -> Result<usize, String> {
        match link {
            Some((id, resends)) if self.invitations[id].resends == resends => Ok(id),
            _ => Err(not_found("invitation")),
        }
    }

    /// `Pending` and unexpired, in the order `Invitation::pending_unexpired` checks them.
    fn answerable(&self, id: usize) -> Result<(), String> {
        let invitation = &self.invitations[id];
        if invitation.status != InvitationStatus::Pending {
            return Err(format!("InvitationNotPending({})", invitation.status));
        }
        if self.expired(invitation) {
            return Err(format!(
                "InvitationExpired(at +{}s)",
                invitation.expires_at * SECONDS_PER_DAY
            ));
        }
        Ok(())
    }

    fn admin_or(&self, actor: usize, permission: &str) -> Result<(), String> {
        // spec: ROLE-1, ROLE-4 — only administrators manage members, roles and invitations.
        self.active_actor(actor)?;
        if self.is_admin(actor) {
            Ok(())
        } else {
            Err(forbidden(permission))
        }
    }

    fn real_team(team: Option<usize>) -> Result<(), String> {
        match team {
            Some(t) if t >= TEAMS => Err(not_found("team")),
            _ => Ok(()),
        }
    }

    fn member_of(&self, user: usize) -> Result<&ModelMember, String> {
        self.members.get(&user).ok_or_else(|| not_found("member"))
    }

    /// Applies one transition: returns what the SUT must answer, changes the model only on
    /// success. Where several errors apply, the order is the SUT's (read from `service.rs`
    /// and `domain/`): permission first (ROLE-4), then the target's existence, then the pure
    /// core's checks in the order each decision function makes them.
    pub(crate) fn step(&mut self, transition: &Transition) -> Outcome {
        match transition {
            Transition::InviteMember {
                actor,
                user,
                role,
                team,
                ..
            } => {
                // Order: permission (ROLE-4: always first) → Administrator refused (ADM-4: one
                // by one, with names) → team → already member → already invited → seat cap.
                self.admin_or(*actor, "invite_learners")?;
                if *role == Role::Administrator {
                    return Err("Invalid".into());
                }
                Self::real_team(*team)?;
                self.invite_checks(*user)?;
                self.send(*user, *role, *team);
                Ok(None)
            }
            Transition::InviteAdministrator { actor, user, .. } => {
                // spec: ADM-1, ADM-4, ORG-3 (licensed), ORG-4
                self.admin_or(*actor, "manage_administrators")?;
                self.invite_checks(*user)?;
                self.send(*user, Role::Administrator, None);
                Ok(None)
            }
            Transition::BulkInvite {
                actor,
                entries,
                role,
                team,
            } => self.bulk(*actor, entries, *role, *team),
            Transition::Accept {
                user,
                link,
                signer,
                existing_account,
                acknowledged,
                ..
            } => {
                // Order (service::accept_invitation, invitation::accept): link → status →
                // expiry → email → warning → already member → seat cap.
                let id = self.open(self.link(*user, link))?;
                self.answerable(id)?;
                let invitation = self.invitations[id].clone();
                if *signer != invitation.user {
                    // spec: INV-6
                    return Err("EmailMismatch".into());
                }
                if *existing_account && !acknowledged {
                    // spec: INV-5
                    return Err("WarningNotAcknowledged".into());
                }
                if self.members.contains_key(signer) {
                    // spec: INV-11
                    return Err("AlreadyMember".into());
                }
                if let Some(cap) = self.cap {
                    // spec: ORG-4 — the invitation's own seat becomes the member's, so usage
                    // must already fit (it only does not after the cap was lowered).
                    let used = self.used();
                    if used > u64::from(cap) {
                        return Err(seat_limit(cap, used - u64::from(cap)));
                    }
                }
                self.invitations[id].status = InvitationStatus::Accepted;
                let member = ModelMember {
                    roles: BTreeSet::from([Role::Member, invitation.role]),
                    teams: invitation.team.into_iter().collect(),
                    invitation: Some(id),
                    deactivated: false,
                };
                self.members.insert(*signer, member);
                Ok(None)
            }
            Transition::Decline { user, link } => {
                // spec: INV-1, INV-2 — holding the link is enough.
                let id = self.open(self.link(*user, link))?;
                self.answerable(id)?;
                self.invitations[id].status = InvitationStatus::Declined;
                Ok(None)
            }
            Transition::Resend { actor, user } => {
                // Order: permission → invitation → pending → seat (only when expired: an
                // unexpired invitation already holds its seat).
                self.admin_or(*actor, "manage_invitations")?;
                let id = *self
                    .latest
                    .get(user)
                    .ok_or_else(|| not_found("invitation"))?;
                let invitation = &self.invitations[id];
                if invitation.status != InvitationStatus::Pending {
                    return Err(format!("InvitationNotPending({})", invitation.status));
                }
                if self.expired(invitation)
                    && let Some(refusal) = self.no_seat_left()
                {
                    return Err(refusal);
                }
                // spec: INV-3 — a fresh expiry and a new link; the old link dies.
                let today = self.today;
                let invitation = &mut self.invitations[id];
                invitation.resends += 1;
                invitation.expires_at = today + TTL_DAYS;
                let resends = invitation.resends;
                self.links.entry(*user).or_default().push((id, resends));
                Ok(None)
            }
            Transition::Revoke { actor, user } => {
                // spec: INV-4 — pending only, expired or not.
                self.admin_or(*actor, "manage_invitations")?;
                let id = *self
                    .latest
                    .get(user)
                    .ok_or_else(|| not_found("invitation"))?;
                let invitation = &mut self.invitations[id];
                if invitation.status != InvitationStatus::Pending {
                    return Err(format!("InvitationNotPending({})", invitation.status));
                }
                invitation.status = InvitationStatus::Revoked;
                Ok(None)
            }
            Transition::AdvanceClock { days } => {
                self.today += days;
                Ok(None)
            }
            Transition::GrantRole { actor, user, role } => {
                // Order: permission → member → already held → not cumulative (ROLE-2).
                self.admin_or(*actor, "manage_roles")?;
                let member = self.member_of(*user)?;
                if member.roles.contains(role) {
                    return Err(format!("RoleAlreadyHeld({role})"));
                }
                let exclusive = match role {
                    Role::Administrator => Some(Role::TeamSupervisor),
                    Role::TeamSupervisor => Some(Role::Administrator),
                    _ => None,
                };
                if let Some(held) = exclusive.filter(|r| member.roles.contains(r)) {
                    return Err(format!("RolesNotCumulative({held}, {role})"));
                }
                self.members.get_mut(user).unwrap().roles.insert(*role);
                Ok(None)
            }
            Transition::RevokeRole { actor, user, role } => {
                // Order: permission → member → Member is permanent (ROLE-3) → not held →
                // last administrator (ADM-5).
                self.admin_or(*actor, "manage_roles")?;
                let member = self.member_of(*user)?;
                if *role == Role::Member {
                    return Err("LearnerRoleIsPermanent".into());
                }
                if !member.roles.contains(role) {
                    return Err(format!("RoleNotHeld({role})"));
                }
                if *role == Role::Administrator && self.last_active_administrator(*user) {
                    return Err("LastAdministrator".into());
                }
                self.members.get_mut(user).unwrap().roles.remove(role);
                Ok(None)
            }
            Transition::RemoveMember { actor, user } => {
                // spec: ADM-5; the member leaves their teams too.
                self.admin_or(*actor, "manage_members")?;
                self.member_of(*user)?;
                if self.last_active_administrator(*user) {
                    return Err("LastAdministrator".into());
                }
                self.members.remove(user);
                Ok(None)
            }
            Transition::Deactivate { actor, user } => {
                // Order: actor → member → already deactivated → last active administrator.
                self.admin_or(*actor, "manage_members")?;
                if self.member_of(*user)?.deactivated {
                    return Err("AlreadyDeactivated".into());
                }
                if self.last_active_administrator(*user) {
                    return Err("LastAdministrator".into());
                }
                self.members.get_mut(user).unwrap().deactivated = true;
                Ok(None)
            }
            Transition::Reactivate { actor, user } => {
                // Order: actor → member → not deactivated → a free seat (ORG-4).
                self.admin_or(*actor, "manage_members")?;
                if !self.member_of(*user)?.deactivated {
                    return Err("NotDeactivated".into());
                }
                if let Some(cap) = self.cap {
                    let excess = (self.used() + 1).saturating_sub(u64::from(cap));
                    if excess > 0 {
                        return Err(seat_limit(cap, excess));
                    }
                }
                self.members.get_mut(user).unwrap().deactivated = false;
                Ok(None)
            }
            Transition::Leave { user } => {
                // spec: MEM-1 — every member on their own, but not the last administrator.
                if !self.members.contains_key(user) {
                    return Err(forbidden("leave_organization"));
                }
                self.active_actor(*user)?;
                if self.last_active_administrator(*user) {
                    return Err("LastAdministrator".into());
                }
                self.members.remove(user);
                Ok(None)
            }
            Transition::AddToTeam { actor, user, team } => {
                self.team_manager(*actor, *team)?;
                if self.member_of(*user)?.teams.contains(team) {
                    return Err("AlreadyInTeam".into());
                }
                self.members.get_mut(user).unwrap().teams.insert(*team);
                Ok(None)
            }
            Transition::RemoveFromTeam { actor, user, team } => {
                self.team_manager(*actor, *team)?;
                if !self.member_of(*user)?.teams.contains(team) {
                    return Err("NotInTeam".into());
                }
                self.members.get_mut(user).unwrap().teams.remove(team);
                Ok(None)
            }
            Transition::SetSeatCap { cap } => {
                self.cap = *cap;
                Ok(None)
            }
        }
    }

    /// The address checks of a single invitation, in `invitation::invite`'s order.
    fn invite_checks(&self, user: usize) -> Result<(), String> {
        if self.members.contains_key(&user) {
            return Err("AlreadyMember".into());
        }
        if self.pending_of(user).is_some() {
            // spec: INV-8 — an expired invitation is still pending (INV-2).
            return Err("AlreadyInvited".into());
        }
        self.no_seat_left().map_or(Ok(()), Err)
    }

    /// Administrators manage every team; supervisors the teams they belong to (spec:
    /// TEAM-3); the permission is checked before the team is looked up.
    fn team_manager(&self, actor: usize, team: usize) -> Result<(), String> {
        self.active_actor(actor)?;
        let allowed = self.members.get(&actor).is_some_and(|m| {
            m.roles.contains(&Role::Administrator)
                || (m.roles.contains(&Role::TeamSupervisor) && m.teams.contains(&team))
        });
        if !allowed {
            return Err(forbidden("manage_team_members"));
        }
        Self::real_team(Some(team))
    }

    fn bulk(
        &mut self,
        actor: usize,
        entries: &[(Entry, &'static str)],
        role: Role,
        team: Option<usize>,
    ) -> Outcome {
        // Order: permission (ROLE-4: always first) → Administrator refused → empty paste →
        // team → per entry.
        self.admin_or(actor, "invite_learners")?;
        if role == Role::Administrator || entries.is_empty() {
            return Err("Invalid".into());
        }
        Self::real_team(team)?;
        let (_, located) = paste(entries);
        let mut rejected = Vec::new();
        let mut first_seen: BTreeMap<usize, usize> = BTreeMap::new();
        let mut addresses = Vec::new();
        for ((entry, _), (line, text)) in entries.iter().zip(located) {
            match entry {
                Entry::Junk(_) => rejected.push((line, text, "Invalid".to_owned())),
                Entry::User(user, _) => match first_seen.get(user) {
                    // spec: INV-7 — duplicates are found regardless of case.
                    Some(first) => {
                        rejected.push((line, text, format!("DuplicateInPaste({first})")))
                    }
                    None => {
                        first_seen.insert(*user, line);
                        addresses.push((line, *user, text));
                    }
                },
            }
        }
        let mut invited = Vec::new();
        for (line, user, text) in addresses {
            let refusal = if self.members.contains_key(&user) {
                Some("AlreadyMember".to_owned())
            } else if self.pending_of(user).is_some() {
                Some("AlreadyInvited".to_owned())
            } else {
                // spec: ORG-4 — each invitation sent takes a seat for the next entries.
                self.cap
                    .filter(|cap| self.used() >= u64::from(*cap))
                    .map(|cap| format!("SeatLimit({cap})"))
            };
            match refusal {
                Some(reason) => rejected.push((line, text, reason)),
                None => {
                    self.send(user, role, team);
                    invited.push((line, user));
                }
            }
        }
        rejected.sort();
        Ok(Some(BulkOutcome { invited, rejected }))
    }
}
