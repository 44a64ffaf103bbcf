//! The world every test starts from: a roster on a [`MemoryStore`], a [`RecordingMailer`] and
//! a [`ManualClock`], one licensed organization with the `coursecloud_legacy` capability and
//! its founding administrator, plus helpers to make actors, members and teams and to take a
//! snapshot of everything a command could change.

use std::future::Future;

use chrono::Duration;
use orgroster::{
    AcceptOptions, Accepted, Actor, Capabilities, Capability, Clock, CourseId, DeliveryReport,
    EmailAddress, Error, Event, FailingMailer, Invitation, InvitationCreated, InvitationFilter,
    InvitationToken, LicenseKind, ManualClock, Member, MemberFilter, MemberId, MemoryStore,
    Message, Organization, OrganizationId, Page, Profile, RecordingMailer, Role, Roster, SeatUsage,
    Store, StoreError, Subject, Team, TeamId, TeamName, UserId,
};
use uuid::Uuid;

/// A roster, its collaborators (clones sharing their state) and one organization.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) roster: Roster,
    pub(crate) store: MemoryStore,
    pub(crate) mailer: RecordingMailer,
    pub(crate) clock: ManualClock,
    pub(crate) org: OrganizationId,
    pub(crate) founder: Actor,
}

/// Everything a command could change, read straight from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) organization: Option<Organization>,
    pub(crate) members: Vec<Member>,
    pub(crate) invitations: Vec<Invitation>,
    pub(crate) teams: Vec<Team>,
    pub(crate) team_members: Vec<(TeamId, Vec<MemberId>)>,
    pub(crate) events: Vec<Event>,
    pub(crate) seats: SeatUsage,
    pub(crate) failed_mail: Vec<String>,
}

/// An actor signed in as `local@example.com`, with a fresh user id.
pub(crate) fn actor(local: &str) -> Actor {
    Actor::new(UserId::new(), email(&format!("{local}@example.com")))
}

/// A valid email address.
pub(crate) fn email(text: &str) -> EmailAddress {
    EmailAddress::parse(text).expect("a valid test address")
}

/// A valid profile.
pub(crate) fn profile(first: &str, last: &str) -> Profile {
    Profile::parse(first, last).expect("a valid test profile")
}

/// A valid team name.
pub(crate) fn team_name(name: &str) -> TeamName {
    TeamName::parse(name).expect("a valid team name")
}

/// The answer of an invitee who had no account before.
pub(crate) fn newcomer(first: &str) -> AcceptOptions {
    AcceptOptions::new(profile(first, "Tester"))
}

/// Capabilities with learner invitations on (spec: ADM-2).
pub(crate) fn learners_capability() -> Capabilities {
    Capabilities::default().with(Capability::CoursecloudLegacy)
}

/// `founder` creates an organization with a license and the `coursecloud_legacy` capability
/// (spec: ORG-3, ADM-2), capped at `seat_cap` seats.
pub(crate) async fn licensed_organization(
    roster: &Roster,
    founder: &Actor,
    name: &str,
    seat_cap: Option<u32>,
) -> OrganizationId {
    let org = roster
        .create_organization(
            founder,
            name.parse().expect("a valid name"),
            profile("Pool", "Founder"),
        )
        .await
        .expect("creating an organization")
        .organization
        .id;
    roster
        .add_license(org, LicenseKind::PayPerUse)
        .await
        .expect("adding a license");
    roster
        .set_capabilities(org, learners_capability())
        .await
        .expect("setting capabilities");
    if seat_cap.is_some() {
        roster
            .set_seat_cap(org, seat_cap)
            .await
            .expect("setting the seat cap");
    }
    org
}

/// Every page of a keyset-paginated listing.
pub(crate) async fn all_pages<T, F, Fut>(mut fetch: F, id: impl Fn(&T) -> Uuid) -> Vec<T>
where
    F: FnMut(Page) -> Fut,
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut all = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let rows = fetch(page).await.expect("the memory store never fails");
        let full = rows.len() >= page.len();
        let last = rows.last().map(&id);
        all.extend(rows);
        match (full, last) {
            (true, Some(last)) => page = Page::after(last, Page::MAX_LIMIT),
            _ => return all,
        }
    }
}

impl World {
    /// A licensed organization with the `coursecloud_legacy` capability (spec: ORG-3, ADM-2).
    pub(crate) async fn new() -> Self {
        Self::with(learners_capability(), true).await
    }

    /// An organization with these capabilities, holding a subscription license when
    /// `licensed`.
    pub(crate) async fn with(capabilities: Capabilities, licensed: bool) -> Self {
        let store = MemoryStore::new();
        let mailer = RecordingMailer::new();
        let clock = ManualClock::default();
        let roster = Roster::builder(
            store.clone(),
            mailer.clone(),
            orgroster::LinkKey::from_bytes([7; 32]),
        )
        .clock(clock.clone())
        .build();
        let founder = actor("founder");
        let created = roster
            .create_organization(
                &founder,
                "Northwind Learning".parse().expect("a valid name"),
                profile("Maya", "Founder"),
            )
            .await
            .expect("creating an organization");
        let org = created.organization.id;
        if licensed {
            roster
                .add_license(
                    org,
                    LicenseKind::Subscription {
                        plan: CourseId::parse("plus-annual").expect("a valid plan id"),
                    },
                )
                .await
                .expect("adding a license");
        }
        if capabilities != Capabilities::default() {
            roster
                .set_capabilities(org, capabilities)
                .await
                .expect("setting capabilities");
        }
        Self {
            roster,
            store,
            mailer,
            clock,
            org,
            founder,
        }
    }

    /// Another organization in the world's store, named `name`, created by `founder`.
    pub(crate) async fn another_organization(&self, founder: &Actor, name: &str) -> OrganizationId {
        self.roster
            .create_organization(
                founder,
                name.parse().expect("a valid name"),
                profile("Other", "Founder"),
            )
            .await
            .expect("creating another organization")
            .organization
            .id
    }

    /// One delivery pass of the world's queued mail through `mailer` instead of the world's.
    pub(crate) async fn deliver_through(&self, mailer: FailingMailer) -> DeliveryReport {
        Roster::builder(
            self.store.clone(),
            mailer,
            orgroster::LinkKey::from_bytes([7; 32]),
        )
        .clock(self.clock.clone())
        .build()
        .deliver_mail(1000)
        .await
        .expect("a delivery pass")
    }

    /// Moves the clock forward.
    pub(crate) fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The founder invites `who` with `role` (administrators by name) into `team`.
    pub(crate) async fn invite(
        &self,
        who: &Actor,
        role: Role,
        team: Option<TeamId>,
    ) -> InvitationCreated {
        let result = if role == Role::Administrator {
            assert!(team.is_none(), "administrators are invited without a team");
            self.roster
                .invite_administrator(
                    &self.founder,
                    self.org,
                    who.email.clone(),
                    profile("Invited", "Administrator"),
                )
                .await
        } else {
            self.roster
                .invite_member(&self.founder, self.org, who.email.clone(), role, team)
                .await
        };
        result.unwrap_or_else(|e| panic!("inviting {} as {role}: {e}", who.email))
    }

    /// `who` accepts the invitation behind `token` as a newcomer.
    pub(crate) async fn accept(&self, who: &Actor, token: &InvitationToken) -> Accepted {
        self.roster
            .accept_invitation(who, &token.expose(), newcomer("Joiner"))
            .await
            .unwrap_or_else(|e| panic!("{} accepting: {e}", who.email))
    }

    /// A new member `local@example.com` with `role` (and Member), in `team` when given.
    pub(crate) async fn join(&self, local: &str, role: Role, team: Option<TeamId>) -> Actor {
        let who = actor(local);
        let invited = self.invite(&who, role, team).await;
        self.accept(&who, &invited.token).await;
        who
    }

    /// A new administrator who also holds Manager, or a supervisor of `team` who also holds
    /// Manager (spec: ROLE-3).
    pub(crate) async fn join_with_manager(
        &self,
        local: &str,
        role: Role,
        team: Option<TeamId>,
    ) -> Actor {
        let who = self.join(local, role, team).await;
        self.roster
            .grant_role(&self.founder, self.org, who.user, Role::Manager)
            .await
            .expect("granting Manager");
        who
    }

    /// A new team, created by the founder.
    pub(crate) async fn team(&self, name: &str) -> TeamId {
        self.roster
            .create_team(&self.founder, self.org, team_name(name))
            .await
            .expect("creating a team")
            .id
    }

    /// The founder puts `user` in `team`.
    pub(crate) async fn put_in_team(&self, team: TeamId, user: UserId) {
        self.roster
            .add_team_member(&self.founder, self.org, team, user)
            .await
            .expect("adding a team member");
    }

    /// The member that `user` is, as stored.
    pub(crate) async fn member(&self, user: UserId) -> Option<Member> {
        self.store
            .member(self.org, user)
            .await
            .expect("the memory store never fails")
    }

    /// The roles `user` holds.
    pub(crate) async fn roles(&self, user: UserId) -> Vec<Role> {
        self.member(user)
            .await
            .map(|m| m.roles.iter().collect())
            .unwrap_or_default()
    }

    /// The ids of the members of `team`.
    pub(crate) async fn team_member_ids(&self, team: TeamId) -> Vec<MemberId> {
        self.snapshot()
            .await
            .team_members
            .into_iter()
            .find(|(t, _)| *t == team)
            .map(|(_, members)| members)
            .unwrap_or_default()
    }

    /// The invitation `id` as stored.
    pub(crate) async fn invitation(&self, id: orgroster::InvitationId) -> Invitation {
        self.store
            .invitation(self.org, id)
            .await
            .expect("the memory store never fails")
            .expect("the invitation exists")
    }

    /// Every event of the audit trail.
    pub(crate) async fn events(&self) -> Vec<Event> {
        self.snapshot().await.events
    }

    /// The observable state of the world's organization.
    pub(crate) async fn snapshot(&self) -> Snapshot {
        self.snapshot_of(self.org).await
    }

    /// The observable state of organization `org`.
    pub(crate) async fn snapshot_of(&self, org: OrganizationId) -> Snapshot {
        let store = &self.store;
        let organization = store
            .organization(org)
            .await
            .expect("the memory store never fails");
        let members = all_pages(
            |page| store.members(org, MemberFilter::default(), page),
            |m: &Member| m.id.as_uuid(),
        )
        .await;
        let invitations = all_pages(
            |page| store.invitations(org, InvitationFilter::default(), page),
            |i: &Invitation| i.id.as_uuid(),
        )
        .await;
        let teams = all_pages(|page| store.teams(org, page), |t: &Team| t.id.as_uuid()).await;
        let mut team_members = Vec::new();
        for team in &teams {
            let filter = MemberFilter::default().in_team(team.id);
            let ids = all_pages(
                |page| store.members(org, filter, page),
                |m: &Member| m.id.as_uuid(),
            )
            .await
            .into_iter()
            .map(|m| m.id)
            .collect();
            team_members.push((team.id, ids));
        }
        let events = all_pages(|page| store.events(org, page), |e: &Event| e.id.as_uuid()).await;
        let seats = store
            .seat_usage(org, self.clock.now())
            .await
            .expect("the memory store never fails");
        let failed_mail = all_pages(
            |page| store.failed_outbox(org, page),
            |m: &orgroster::OutboxMessage| m.id.as_uuid(),
        )
        .await
        .into_iter()
        .map(|m| format!("{} {} {:?}", m.id, m.to, m.last_error))
        .collect();
        Snapshot {
            organization,
            members,
            invitations,
            teams,
            team_members,
            events,
            seats,
            failed_mail,
        }
    }
}

/// Asserts that `err`'s message is a sentence that says what to do, and holds every one of
/// `words` (spec: ERR-1).
pub(crate) fn assert_actionable(err: &Error, words: &[&str]) {
    let message = err.to_string();
    assert!(
        message.len() > 20,
        "the message of {err:?} is too short to act on: {message:?}"
    );
    for word in words {
        assert!(
            message.contains(word),
            "the message of {err:?} should mention {word:?}: {message:?}"
        );
    }
}

/// A valid subject.
pub(crate) fn subject(text: &str) -> Subject {
    Subject::parse(text).expect("a valid subject")
}

/// A valid message.
pub(crate) fn message(text: &str) -> Message {
    Message::parse(text).expect("a valid message")
}

/// `emails`, sorted.
pub(crate) fn sorted(emails: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut all: Vec<String> = emails.into_iter().collect();
    all.sort();
    all
}
