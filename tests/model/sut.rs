//! The system under test: a `Roster` over a store plugged in through [`Backend`], each
//! transition run on it, its answer put in the model's terms, and the spec's global invariants
//! checked against the store after every step.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    marker::PhantomData,
    pin::Pin,
    sync::Arc,
};

use chrono::{DateTime, Duration, Utc};
use orgroster::{
    AcceptOptions, Actor, BulkLineError, Capabilities, Capability, Clock, CourseId, DynStore,
    EmailAddress, Error, InvitationCreated, InvitationFilter, InvitationId, InvitationStatus,
    InvitationToken, LicenseKind, ManualClock, MemberFilter, MembershipStatus, MemoryStore,
    OrganizationId, OrganizationName, Page, Profile, RecordingMailer, Role, Roster, RosterConfig,
    TeamId, TeamName, UserId,
};
use proptest_state_machine::StateMachineTest;
use tokio::runtime::Runtime;

#[cfg(feature = "postgres")]
use crate::pg_support;
use crate::{
    Case, EMAILS, FOUNDER, INITIAL_CAP, TTL_DAYS, USERS, cased,
    model::{BulkOutcome, Model, Outcome, forbidden, not_found, seat_limit},
    transitions::{Link, Reference, Transition, paste},
    user_of_key,
};

/// A store the model runs against. Slow stores (SQLite, PostgreSQL) get fewer cases.
pub(crate) trait Backend: 'static {
    /// A fresh, empty store of the case's own, made on the case's runtime (the runtime that
    /// will drive it: sqlx connections belong to the runtime that opened them).
    fn new_store(rt: &Runtime) -> Fresh;
}

/// Makes what runs on the case's runtime when the case ends, passed or failed. A closure
/// rather than the future itself: the SUT must stay `Sync`, the future need not be.
pub(crate) type Release = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send + Sync>;

/// A fresh store, and how to give back what it holds (connections, a schema) once the case
/// is over: shrinking a failure runs hundreds of cases, and PostgreSQL allows 100
/// connections.
pub(crate) struct Fresh {
    store: Arc<DynStore>,
    release: Option<Release>,
}

/// The reference store.
pub(crate) struct Memory;

impl Backend for Memory {
    fn new_store(_: &Runtime) -> Fresh {
        Fresh {
            store: Arc::new(MemoryStore::new()),
            release: None,
        }
    }
}

/// A fresh in-memory SQLite database per case, migrated (`SqliteStore::in_memory`).
#[cfg(feature = "sqlite")]
pub(crate) struct Sqlite;

#[cfg(feature = "sqlite")]
impl Backend for Sqlite {
    fn new_store(rt: &Runtime) -> Fresh {
        let store = rt
            .block_on(orgroster::SqliteStore::in_memory())
            .expect("in-memory SQLite");
        let pool = store.pool().clone();
        Fresh {
            store: Arc::new(store),
            release: Some(Box::new(|| Box::pin(async move { pool.close().await }))),
        }
    }
}

/// A fresh schema per case in the database `ORGROSTER_TEST_POSTGRES_URL` names, migrated,
/// behind a small pool; the schema is dropped and the pool closed when the case ends.
#[cfg(feature = "postgres")]
pub(crate) struct Postgres;

#[cfg(feature = "postgres")]
impl Backend for Postgres {
    fn new_store(rt: &Runtime) -> Fresh {
        use orgroster::{
            PostgresStore,
            sqlx::{self, postgres::PgPoolOptions},
        };

        let url = pg_support::url().expect("ORGROSTER_TEST_POSTGRES_URL");
        let schema = rt.block_on(pg_support::fresh_schema(&url));
        // One case runs one command at a time; a commit holds one connection while nothing
        // else reads, so two are plenty (the store's own default is 16).
        let pool = rt
            .block_on(
                PgPoolOptions::new()
                    .max_connections(2)
                    .connect_with(pg_support::options(&url, &schema)),
            )
            .expect("connect");
        let store = PostgresStore::new(pool.clone());
        let release = move || -> Pin<Box<dyn Future<Output = ()>>> {
            Box::pin(async move {
                // Best effort, never a panic (this may run while a failed case unwinds): a
                // schema left behind is dropped by `.ci/run` before the next run.
                let drop_schema = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                let _ = sqlx::query(sqlx::AssertSqlSafe(drop_schema))
                    .execute(&pool)
                    .await;
                pool.close().await;
            })
        };
        Fresh {
            store: Arc::new(store),
            release: Some(Box::new(release)),
        }
    }
}

pub(crate) struct Sut {
    rt: Runtime,
    /// Runs when the SUT is dropped, before the store is (see [`Fresh`]).
    release: Option<Release>,
    roster: Roster,
    store: Arc<DynStore>,
    clock: ManualClock,
    start: DateTime<Utc>,
    org: OrganizationId,
    users: Vec<UserId>,
    teams: Vec<TeamId>,
    /// Per user, every link sent to them, oldest first (parallel to `Model::links`).
    links: BTreeMap<usize, Vec<String>>,
    /// Per user, their most recent invitation (parallel to `Model::latest`).
    latest: BTreeMap<usize, InvitationId>,
    /// Every invitation sent, in order (parallel to `Model::invitations`).
    invitations: Vec<InvitationId>,
    /// Seats in use before the last transition (spec: ORG-4).
    used_before: u64,
}

/// The error's variant, with the details the model predicts.
pub(crate) fn kind(error: &Error, start: DateTime<Utc>) -> String {
    match error {
        Error::Forbidden { permission } => forbidden(&permission.to_string()),
        Error::NotFound { entity } => not_found(&entity.to_string()),
        Error::Invalid(_) => "Invalid".into(),
        Error::InvitationExpired { expired_at } => {
            format!(
                "InvitationExpired(at +{}s)",
                (*expired_at - start).num_seconds()
            )
        }
        Error::InvitationNotPending { status } => format!("InvitationNotPending({status})"),
        Error::EmailMismatch => "EmailMismatch".into(),
        Error::WarningNotAcknowledged => "WarningNotAcknowledged".into(),
        Error::RolesNotCumulative { held, requested } => {
            format!("RolesNotCumulative({held}, {requested})")
        }
        Error::RoleAlreadyHeld { role } => format!("RoleAlreadyHeld({role})"),
        Error::RoleNotHeld { role } => format!("RoleNotHeld({role})"),
        Error::LearnerRoleIsPermanent => "LearnerRoleIsPermanent".into(),
        Error::LastAdministrator => "LastAdministrator".into(),
        Error::SeatLimit { cap, excess } => seat_limit(*cap, *excess),
        Error::AlreadyMember => "AlreadyMember".into(),
        Error::AlreadyInvited => "AlreadyInvited".into(),
        Error::AlreadyInTeam => "AlreadyInTeam".into(),
        Error::NotInTeam => "NotInTeam".into(),
        Error::Deactivated => "Deactivated".into(),
        Error::AlreadyDeactivated => "AlreadyDeactivated".into(),
        Error::NotDeactivated => "NotDeactivated".into(),
        other => format!("unexpected: {other:?}"),
    }
}

pub(crate) fn line_kind(reason: &BulkLineError) -> String {
    match reason {
        BulkLineError::Invalid(_) => "Invalid".into(),
        BulkLineError::DuplicateInPaste { first_line } => format!("DuplicateInPaste({first_line})"),
        BulkLineError::AlreadyMember => "AlreadyMember".into(),
        BulkLineError::AlreadyInvited => "AlreadyInvited".into(),
        BulkLineError::SeatLimit { cap } => format!("SeatLimit({cap})"),
        other => format!("unexpected: {other:?}"),
    }
}

impl Drop for Sut {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            self.rt.block_on(release());
        }
    }
}

impl Sut {
    pub(crate) fn new<B: Backend>() -> Self {
        // I/O and timers for the SQL stores' connections.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let Fresh { store, release } = B::new_store(&rt);
        let clock = ManualClock::default();
        let config = RosterConfig::default().with_invitation_ttl(Duration::days(TTL_DAYS));
        let roster = Roster::builder(
            store.clone(),
            RecordingMailer::new(),
            orgroster::LinkKey::from_bytes([7; 32]),
        )
        .clock(clock.clone())
        .config(config)
        .build();
        let users: Vec<UserId> = (0..USERS).map(|_| UserId::new()).collect();
        let founder = Actor::new(
            users[FOUNDER],
            EmailAddress::parse(EMAILS[FOUNDER]).unwrap(),
        );
        let (org, teams) = rt.block_on(async {
            let created = roster
                .create_organization(
                    &founder,
                    OrganizationName::parse("Analytical Engines").unwrap(),
                    Profile::parse("Ada", "Founder").unwrap(),
                )
                .await
                .unwrap();
            let org = created.organization.id;
            let plan = CourseId::parse("enterprise").unwrap();
            roster
                .add_license(org, LicenseKind::Subscription { plan })
                .await
                .unwrap();
            let capabilities = Capabilities::default().with(Capability::CoursecloudLegacy);
            roster.set_capabilities(org, capabilities).await.unwrap();
            roster.set_seat_cap(org, Some(INITIAL_CAP)).await.unwrap();
            let mut teams = Vec::new();
            for name in ["Engineering", "Sales"] {
                let name = TeamName::parse(name).unwrap();
                teams.push(roster.create_team(&founder, org, name).await.unwrap().id);
            }
            (org, teams)
        });
        let start = clock.now();
        Self {
            rt,
            release,
            roster,
            store,
            clock,
            start,
            org,
            users,
            teams,
            links: BTreeMap::new(),
            latest: BTreeMap::new(),
            invitations: Vec::new(),
            used_before: 1,
        }
    }

    fn actor(&self, user: usize) -> Actor {
        self.signed_in(user, Case::Lower)
    }

    fn signed_in(&self, user: usize, case: Case) -> Actor {
        Actor::new(
            self.users[user],
            EmailAddress::parse(cased(user, case)).unwrap(),
        )
    }

    fn team(&self, team: usize) -> TeamId {
        // Index `TEAMS` names a team that was never created.
        self.teams
            .get(team)
            .copied()
            .unwrap_or_else(|| TeamId::from_uuid(uuid::Uuid::nil()))
    }

    fn link(&self, user: usize, link: &Link) -> String {
        let sent = self.links.get(&user).filter(|l| !l.is_empty());
        match (sent, link) {
            (Some(l), Link::Latest) => l[l.len() - 1].clone(),
            (Some(l), Link::Any(index)) => l[index.index(l.len())].clone(),
            (Some(l), Link::Superseded(index)) => l[index.index(l.len().max(2) - 1)].clone(),
            // Never sent: a well-formed link that matches nothing.
            (None, _) => InvitationToken::from_bytes([7; InvitationToken::LEN]).expose(),
        }
    }

    fn sent(&mut self, user: usize, created: &InvitationCreated) {
        self.links
            .entry(user)
            .or_default()
            .push(created.token.expose());
        if created.invitation.resend_count == 0 {
            self.invitations.push(created.invitation.id);
        }
        self.latest.insert(user, created.invitation.id);
    }

    fn run(&mut self, transition: &Transition) -> Outcome {
        let org = self.org;
        let start = self.start;
        let roster = self.roster.clone();
        let result: Result<Option<BulkOutcome>, Error> = match transition {
            Transition::InviteMember {
                actor,
                user,
                case,
                role,
                team,
            } => {
                let email = EmailAddress::parse(cased(*user, *case)).unwrap();
                let team = team.map(|t| self.team(t));
                self.rt
                    .block_on(roster.invite_member(&self.actor(*actor), org, email, *role, team))
                    .map(|created| {
                        self.sent(*user, &created);
                        None
                    })
            }
            Transition::InviteAdministrator { actor, user, case } => {
                let email = EmailAddress::parse(cased(*user, *case)).unwrap();
                let profile = Profile::parse("Invited", "Administrator").unwrap();
                self.rt
                    .block_on(roster.invite_administrator(&self.actor(*actor), org, email, profile))
                    .map(|created| {
                        self.sent(*user, &created);
                        None
                    })
            }
            Transition::BulkInvite {
                actor,
                entries,
                role,
                team,
            } => {
                let (text, _) = paste(entries);
                let team = team.map(|t| self.team(t));
                self.rt
                    .block_on(roster.invite_members(&self.actor(*actor), org, &text, *role, team))
                    .map(|report| {
                        let mut invited = Vec::new();
                        for (line, created) in &report.invited {
                            let user = user_of_key(created.invitation.email.key());
                            self.sent(user, created);
                            invited.push((*line, user));
                        }
                        let mut rejected: Vec<_> = report
                            .rejected
                            .iter()
                            .map(|r| (r.line, r.text.clone(), line_kind(&r.reason)))
                            .collect();
                        rejected.sort();
                        Some(BulkOutcome { invited, rejected })
                    })
            }
            Transition::Accept {
                user,
                link,
                signer,
                case,
                existing_account,
                acknowledged,
            } => {
                let token = self.link(*user, link);
                let mut options = AcceptOptions::new(Profile::parse("Invited", "Person").unwrap());
                if *existing_account {
                    options = options.existing_account(*acknowledged);
                } else {
                    // Not a state the host can ask for through the constructors, but one the
                    // model still drives: an acknowledgement with no warning shown.
                    options.warning_acknowledged = *acknowledged;
                }
                let actor = self.signed_in(*signer, *case);
                self.rt
                    .block_on(roster.accept_invitation(&actor, &token, options))
                    .map(|_| None)
            }
            Transition::Decline { user, link } => {
                let token = self.link(*user, link);
                self.rt
                    .block_on(roster.decline_invitation(&token))
                    .map(|_| None)
            }
            Transition::Resend { actor, user } => {
                let id = self.latest.get(user).copied().unwrap_or_default();
                self.rt
                    .block_on(roster.resend_invitation(&self.actor(*actor), org, id))
                    .map(|created| {
                        self.sent(*user, &created);
                        None
                    })
            }
            Transition::Revoke { actor, user } => {
                let id = self.latest.get(user).copied().unwrap_or_default();
                self.rt
                    .block_on(roster.revoke_invitation(&self.actor(*actor), org, id))
                    .map(|_| None)
            }
            Transition::AdvanceClock { days } => {
                self.clock.advance(Duration::days(*days));
                Ok(None)
            }
            Transition::GrantRole { actor, user, role } => self
                .rt
                .block_on(roster.grant_role(&self.actor(*actor), org, self.users[*user], *role))
                .map(|_| None),
            Transition::RevokeRole { actor, user, role } => self
                .rt
                .block_on(roster.revoke_role(&self.actor(*actor), org, self.users[*user], *role))
                .map(|_| None),
            Transition::RemoveMember { actor, user } => self
                .rt
                .block_on(roster.remove_member(&self.actor(*actor), org, self.users[*user]))
                .map(|_| None),
            Transition::AddToTeam { actor, user, team } => self
                .rt
                .block_on(roster.add_team_member(
                    &self.actor(*actor),
                    org,
                    self.team(*team),
                    self.users[*user],
                ))
                .map(|()| None),
            Transition::RemoveFromTeam { actor, user, team } => self
                .rt
                .block_on(roster.remove_team_member(
                    &self.actor(*actor),
                    org,
                    self.team(*team),
                    self.users[*user],
                ))
                .map(|()| None),
            Transition::SetSeatCap { cap } => self
                .rt
                .block_on(roster.set_seat_cap(org, *cap))
                .map(|_| None),
            Transition::Deactivate { actor, user } => self
                .rt
                .block_on(roster.deactivate_member(&self.actor(*actor), org, self.users[*user]))
                .map(|_| None),
            Transition::Reactivate { actor, user } => self
                .rt
                .block_on(roster.reactivate_member(&self.actor(*actor), org, self.users[*user]))
                .map(|_| None),
            Transition::Leave { user } => self
                .rt
                .block_on(roster.leave_organization(&self.actor(*user), org))
                .map(|_| None),
        };
        result.map_err(|e| kind(&e, start))
    }

    fn user_index(&self, user: UserId) -> usize {
        self.users.iter().position(|u| *u == user).unwrap()
    }

    fn at(&self, day: i64) -> DateTime<Utc> {
        self.start + Duration::days(day)
    }

    /// Compares the SUT with the model and checks the global invariants.
    async fn check(&self, model: &Model) {
        let store = &*self.store;
        let org = self.org;
        let now = self.clock.now();
        assert_eq!(now, self.at(model.today), "clock");
        let all = Page::first(Page::MAX_LIMIT);

        // Listings are read as an active administrator; there is always one (ADM-5, MEM-2).
        let admins = model.with_role(Role::Administrator);
        let active_admins = model.active_administrators();
        assert!(
            !active_admins.is_empty(),
            "model lost its last active administrator"
        );
        let viewer = self.signed_in(active_admins[0], Case::Upper);

        // Members and their roles (spec: ROLE-2, ROLE-3, ROLE-5).
        let members = self
            .roster
            .members(&viewer, org, MemberFilter::default(), all)
            .await
            .unwrap()
            .items;
        let mut listed = BTreeMap::new();
        for m in &members {
            let user = self.user_index(m.user);
            assert_eq!(m.email.key(), EMAILS[user], "member email");
            let roles: BTreeSet<Role> = m.roles.iter().collect();
            // spec: ROLE-2 — never both Administrator and Team Supervisor.
            assert!(
                !(roles.contains(&Role::Administrator) && roles.contains(&Role::TeamSupervisor)),
                "ROLE-2 broken for {user}: {roles:?}"
            );
            // spec: INV-11 — a user is never a member twice.
            let row = (roles, m.status());
            assert!(listed.insert(user, row).is_none(), "{user} listed twice");
        }
        let status = |deactivated| {
            if deactivated {
                MembershipStatus::Deactivated
            } else {
                MembershipStatus::Active
            }
        };
        let expected: BTreeMap<usize, (BTreeSet<Role>, MembershipStatus)> = model
            .members
            .iter()
            .map(|(u, m)| (*u, (m.roles.clone(), status(m.deactivated))))
            .collect();
        assert_eq!(listed, expected, "members, roles and status (MEM-2)");

        // Team memberships (spec: TEAM-1, TEAM-3).
        for (t, team) in self.teams.iter().enumerate() {
            let filter = MemberFilter::default().in_team(*team);
            let in_team: BTreeSet<usize> = self
                .roster
                .members(&viewer, org, filter, all)
                .await
                .unwrap()
                .items
                .iter()
                .map(|m| self.user_index(m.user))
                .collect();
            let expected: BTreeSet<usize> = model
                .members
                .iter()
                .filter(|(_, m)| m.teams.contains(&t))
                .map(|(u, _)| *u)
                .collect();
            assert_eq!(in_team, expected, "members of team {t}");
        }

        // The live listing: pending invitations, expired ones flagged (spec: INV-2, INV-12).
        let pending = self
            .roster
            .invitations(&viewer, org, InvitationFilter::pending(), all)
            .await
            .unwrap()
            .items;
        let mut listed = BTreeMap::new();
        for view in &pending {
            let i = &view.invitation;
            let user = user_of_key(i.email.key());
            let team = i
                .team
                .map(|id| self.teams.iter().position(|t| *t == id).unwrap());
            let row = (i.role, team, i.expires_at, view.expired);
            // spec: INV-8 — at most one pending invitation per address.
            assert!(
                listed.insert(user, row).is_none(),
                "INV-8: two pending for {user}"
            );
        }
        let expected: BTreeMap<_, _> = model
            .invitations
            .iter()
            .filter(|i| i.status == InvitationStatus::Pending)
            .map(|i| {
                let row = (i.role, i.team, self.at(i.expires_at), model.expired(i));
                (i.user, row)
            })
            .collect();
        assert_eq!(listed, expected, "pending invitations");

        // The administrator team: active administrators, then pending administrator
        // invitations with their expiry flag (spec: ADM-1, INV-2).
        let team = self.roster.administrator_team(&viewer, org).await.unwrap();
        let listed: Vec<(usize, MembershipStatus)> = team
            .iter()
            .map(|e| (user_of_key(e.email.key()), e.status))
            .collect();
        let mut expected: Vec<(usize, MembershipStatus)> = admins
            .iter()
            .map(|u| (*u, status(model.members[u].deactivated)))
            .collect();
        expected.extend(
            model
                .invitations
                .iter()
                .filter(|i| i.status == InvitationStatus::Pending && i.role == Role::Administrator)
                .map(|i| {
                    let expired = model.expired(i);
                    (i.user, MembershipStatus::Pending { expired })
                }),
        );
        let sorted = |mut v: Vec<(usize, MembershipStatus)>| {
            v.sort_by_key(|(u, s)| (*u, matches!(s, MembershipStatus::Pending { .. })));
            v
        };
        assert_eq!(sorted(listed), sorted(expected), "administrator team");

        // Every invitation ever sent, through the store: status, role, team, expiry and
        // resends as the model says (spec: INV-1 final states stay final, INV-3, INV-4).
        let rows = store
            .invitations(org, InvitationFilter::default(), all)
            .await
            .unwrap();
        assert_eq!(rows.len(), model.invitations.len(), "invitations stored");
        let mut pending_per_email: BTreeMap<String, usize> = BTreeMap::new();
        for row in &rows {
            if row.status == InvitationStatus::Pending {
                *pending_per_email
                    .entry(row.email.key().to_owned())
                    .or_default() += 1;
            }
        }
        // spec: INV-8
        assert!(
            pending_per_email.values().all(|n| *n <= 1),
            "INV-8: {pending_per_email:?}"
        );
        let stored_members = store
            .members(org, MemberFilter::default(), all)
            .await
            .unwrap();
        for (index, (id, expected)) in self.invitations.iter().zip(&model.invitations).enumerate() {
            let row = store.invitation(org, *id).await.unwrap().unwrap();
            assert_eq!(user_of_key(row.email.key()), expected.user, "invitee");
            assert_eq!(row.status, expected.status, "status of invitation {index}");
            assert_eq!(row.role, expected.role, "role of invitation {index}");
            assert_eq!(row.team, expected.team.map(|t| self.teams[t]), "team");
            assert_eq!(row.expires_at, self.at(expected.expires_at), "expiry");
            assert_eq!(row.resend_count, expected.resends, "resends");
            // spec: INV-11 — an accepted invitation made exactly one member (who may have
            // been removed since: then none is left).
            let joined = stored_members
                .iter()
                .filter(|m| m.invitation == Some(*id))
                .count();
            let still_there = model
                .members
                .values()
                .filter(|m| m.invitation == Some(index))
                .count();
            assert_eq!(joined, still_there, "members from invitation {index}");
            if row.status == InvitationStatus::Accepted {
                assert!(
                    joined <= 1,
                    "INV-11: invitation {index} made {joined} members"
                );
            } else {
                assert_eq!(
                    joined, 0,
                    "a member joined through an unaccepted invitation"
                );
            }
        }
        for m in &stored_members {
            // spec: ROLE-2, through the store too.
            assert!(
                !(m.roles.contains(Role::Administrator) && m.roles.contains(Role::TeamSupervisor))
            );
            // The member → teams index agrees with the team listings (spec: TEAM-1).
            let user = self.user_index(m.user);
            let teams: BTreeSet<usize> = store
                .teams_of(org, m.id)
                .await
                .unwrap()
                .iter()
                .map(|id| self.teams.iter().position(|t| t == id).unwrap())
                .collect();
            assert_eq!(teams, model.members[&user].teams, "teams of {user}");
        }

        // spec: ADM-5, MEM-2 — at least one active administrator.
        let only_administrators = MemberFilter::default()
            .with_role(Role::Administrator)
            .active();
        let administrators = store
            .members(org, only_administrators, Page::first(Page::MAX_LIMIT))
            .await
            .unwrap()
            .len() as u64;
        assert!(administrators >= 1, "ADM-5: no active administrator left");
        assert_eq!(
            administrators,
            active_admins.len() as u64,
            "active administrator count"
        );

        // spec: ORG-4 — members and pending, unexpired invitations count; no command takes
        // usage above the cap (only lowering the cap can leave it above).
        let organization = store.organization(org).await.unwrap().unwrap();
        assert_eq!(organization.seat_cap, model.cap, "seat cap");
        let usage = store.seat_usage(org, now).await.unwrap();
        assert_eq!(usage.used(), model.used(), "seats used: {usage:?}");
        let via_roster = self.roster.seat_usage(&viewer, org).await.unwrap();
        assert_eq!(via_roster, usage, "seat usage through the roster");
        if let Some(cap) = model.cap {
            let used = usage.used();
            assert!(
                used <= u64::from(cap) || used <= self.used_before,
                "ORG-4: usage rose from {} to {used} above the cap {cap}",
                self.used_before
            );
        }
    }
}

/// The model test over the store `B` provides.
pub(crate) struct RosterTest<B>(PhantomData<B>);

impl<B: Backend> StateMachineTest for RosterTest<B> {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        Sut::new::<B>()
    }

    fn apply(mut sut: Sut, model: &Model, transition: Transition) -> Sut {
        sut.used_before = sut
            .rt
            .block_on(sut.store.seat_usage(sut.org, sut.clock.now()))
            .unwrap()
            .used();
        let got = sut.run(&transition);
        assert_eq!(got, model.expected, "after {transition:?}");
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        sut.rt.block_on(sut.check(model));
    }
}
