//! `Roster`: the commands and queries a host calls, one file per area.
//!
//! Every command has the same one-way shape, written once in [`Roster::run`]: read what it
//! needs through the [`Store`], let the policy judge the actor against their membership as
//! stored now ([`Roster::access`], spec: ROLE-4), let the pure core in `domain` decide, then
//! commit the change set atomically. When the commit meets a concurrent change, the command
//! reads and decides again, a bounded number of times.

mod analytics;
mod answers;
mod delivery;
mod erasure;
mod hooks;
mod inbox;
mod invitations;
mod members;
mod messages;
mod organizations;
mod teams;

use std::{future::Future, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

#[cfg(feature = "runtime-tokio")]
pub use self::delivery::{DeliveryLoop, DeliveryTotals};
pub use self::{
    analytics::MAX_COMPARED_TEAMS,
    answers::{AcceptOptions, EXISTING_ACCOUNT_WARNING, InvitationPreview},
    delivery::{DeliveryConfig, DeliveryReport},
    hooks::{AcceptCheck, Hooks, InviteCheck, Veto},
    inbox::InboxEntry,
    members::AdministratorEntry,
    messages::Audience,
};
use crate::{
    clock::{Clock, SystemClock},
    domain::{
        changes::{ChangeSet, Context, Decision, Fresh},
        email::EmailAddress,
        event::EventActor,
        ids::{InvitationId, OrganizationId, TeamId, UserId},
        invitation::Invitation,
        member::Member,
        organization::Organization,
        team::Team,
        text::Profile,
        time,
        token::InvitationToken,
    },
    error::{EntityKind, Error, Result},
    link_key::LinkKey,
    mail::{DefaultTemplates, MailSettings, MailTemplates, Mailer},
    policy::{self, Permission, Scope, Subject},
    store::{DynStore, Page, Store, StoreError, constraint},
    turnstile::{Turn, Turnstiles},
};

/// The signed-in user a command runs for, as the host authenticated them. Roles are never
/// taken from here: they are read from the store at each command (spec: ROLE-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The host's user id.
    pub user: UserId,
    /// The user's verified email (compared case-insensitively when accepting, INV-6).
    pub email: EmailAddress,
}

impl Actor {
    /// The signed-in user `user` with verified email `email`.
    pub fn new(user: UserId, email: EmailAddress) -> Self {
        Self { user, email }
    }

    /// The actor as the audit trail records them.
    fn as_event_actor(&self) -> EventActor {
        EventActor::User { user: self.user }
    }
}

/// Someone of the platform's own team acting in the back office, as the host authenticated
/// them: the user id an invitation they send records, and the name its email shows (spec:
/// ORG-5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackOfficeUser {
    /// The host's user id.
    pub user: UserId,
    /// Their name, as invitees see it.
    pub profile: Profile,
}

impl BackOfficeUser {
    /// The back-office user `user`, named `profile`.
    pub fn new(user: UserId, profile: Profile) -> Self {
        Self { user, profile }
    }
}

/// Settings of a [`Roster`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RosterConfig {
    /// How long an invitation link works (spec: INV-2; ten days by default). Brought within
    /// 1 hour to 365 days when the roster is built (spec: ERR-1).
    pub invitation_ttl: Duration,
    /// How many times a command decides again after a concurrent change before it returns
    /// [`Error::Conflict`].
    pub conflict_retries: u32,
    /// The most addresses one bulk invitation may hold (spec: INV-7, ERR-3).
    pub max_bulk_addresses: usize,
    /// Links and identifiers in mail.
    pub mail: MailSettings,
    /// Delivery retries.
    pub delivery: DeliveryConfig,
    /// How long a host's [`Hooks`] may take to answer before the command is refused with
    /// [`Error::HookFailed`] (five seconds by default; with the `runtime-tokio` feature).
    pub hook_timeout: std::time::Duration,
}

impl Default for RosterConfig {
    fn default() -> Self {
        Self {
            invitation_ttl: Duration::days(10),
            conflict_retries: 16,
            max_bulk_addresses: 20_000,
            mail: MailSettings::default(),
            delivery: DeliveryConfig::default(),
            hook_timeout: std::time::Duration::from_secs(5),
        }
    }
}

impl RosterConfig {
    /// Sets the invitation lifetime.
    pub fn with_invitation_ttl(mut self, ttl: Duration) -> Self {
        self.invitation_ttl = ttl;
        self
    }

    /// Sets the number of retries after concurrent changes.
    pub fn with_conflict_retries(mut self, retries: u32) -> Self {
        self.conflict_retries = retries;
        self
    }

    /// Sets the most addresses per bulk invitation.
    pub fn with_max_bulk_addresses(mut self, max: usize) -> Self {
        self.max_bulk_addresses = max;
        self
    }

    /// Sets the mail settings.
    pub fn with_mail(mut self, mail: MailSettings) -> Self {
        self.mail = mail;
        self
    }

    /// Sets the delivery settings.
    pub fn with_delivery(mut self, delivery: DeliveryConfig) -> Self {
        self.delivery = delivery;
        self
    }

    /// Sets how long a host's hooks may take to answer.
    pub fn with_hook_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.hook_timeout = timeout;
        self
    }
}

/// Builds a [`Roster`].
#[derive(Debug)]
pub struct RosterBuilder {
    store: Arc<DynStore>,
    mailer: Arc<dyn Mailer>,
    link_key: Arc<LinkKey>,
    clock: Arc<dyn Clock>,
    templates: Arc<dyn MailTemplates>,
    hooks: Option<Arc<dyn Hooks>>,
    config: RosterConfig,
}

impl RosterBuilder {
    /// Asks `hooks` before every invitation and acceptance is decided (spec: MEM-3).
    ///
    /// A hook's time limit ([`RosterConfig::hook_timeout`]) needs Tokio's time driver in the
    /// runtime commands run on (`enable_time`, or `enable_all`).
    pub fn hooks(mut self, hooks: impl Hooks) -> Self {
        self.hooks = Some(Arc::new(hooks));
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Uses `config` instead of the defaults.
    pub fn config(mut self, config: RosterConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses `templates` to render mail.
    pub fn templates(mut self, templates: impl MailTemplates) -> Self {
        self.templates = Arc::new(templates);
        self
    }

    /// The roster, with its settings' durations brought within their bounds.
    pub fn build(self) -> Roster {
        let mut config = self.config;
        config.invitation_ttl = config
            .invitation_ttl
            .clamp(Duration::hours(1), Duration::days(365));
        config.delivery = config.delivery.bounded();
        Roster {
            store: self.store,
            mailer: self.mailer,
            link_key: self.link_key,
            clock: self.clock,
            templates: self.templates,
            hooks: self.hooks,
            config: Arc::new(config),
            turnstiles: Arc::new(Turnstiles::default()),
        }
    }
}

/// One page of a listing, and where the next starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Listing<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The next page, when this one was full: serialized as its opaque cursor
    /// ([`Page::cursor`]), which [`Page::from_cursor`] reads back.
    pub next: Option<Page>,
}

fn listing<T>(items: Vec<T>, page: Page, id: impl Fn(&T) -> Uuid) -> Listing<T> {
    let next =
        (items.len() >= page.len()).then(|| items.last().map(|i| Page::after(id(i), page.limit)));
    Listing {
        items,
        next: next.flatten(),
    }
}

/// The service a host calls: organizations, members, roles, teams, team pages, invitations,
/// messages and mail delivery.
///
/// Cheap to clone; clones share the store, mailer and clock.
///
/// # Examples
/// ```
/// use orgroster::{
///     Actor, EmailAddress, LinkKey, MemoryStore, Profile, RecordingMailer, Roster, UserId,
/// };
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let link_key = LinkKey::generate()?;
/// let roster = Roster::builder(MemoryStore::new(), RecordingMailer::new(), link_key).build();
/// let ada = Actor::new(UserId::new(), EmailAddress::parse("ada@example.com")?);
/// let created = roster
///     .create_organization(&ada, "Analytical Engines".parse()?, Profile::parse("Ada", "Lovelace")?)
///     .await?;
/// assert!(created.founder.is_administrator());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Roster {
    store: Arc<DynStore>,
    mailer: Arc<dyn Mailer>,
    link_key: Arc<LinkKey>,
    clock: Arc<dyn Clock>,
    templates: Arc<dyn MailTemplates>,
    /// The host's veto, if it registered one: without, nothing is asked.
    hooks: Option<Arc<dyn Hooks>>,
    config: Arc<RosterConfig>,
    turnstiles: Arc<Turnstiles>,
}

/// Fresh ids from UUID v7, and link tokens derived from the host's [`LinkKey`] (spec: INV-6).
#[derive(Debug)]
struct KeyedFresh<'k> {
    link_key: &'k LinkKey,
}

impl Fresh for KeyedFresh<'_> {
    fn uuid(&mut self) -> Uuid {
        Uuid::now_v7()
    }

    fn link_token(&mut self, invitation: InvitationId, generation: u32) -> InvitationToken {
        self.link_key.token(invitation, generation)
    }
}

/// The organization and the acting member as stored now, once the policy let the member act
/// (spec: ROLE-4). A command builds one at every attempt, so a member removed or demoted
/// since the last attempt is refused.
#[derive(Debug)]
struct Access {
    organization: Organization,
    member: Member,
    /// The teams the member belongs to: read only when a team is in question.
    teams: Vec<TeamId>,
}

impl Access {
    /// `member` (belonging to `teams`) acting in `organization`, when the policy lets them use
    /// `permission` in `scope`.
    fn new(
        organization: Organization,
        member: Option<Member>,
        teams: Vec<TeamId>,
        permission: Permission,
        scope: Scope,
    ) -> Result<Self> {
        let subject = Subject {
            member: member.as_ref(),
            teams: &teams,
        };
        policy::authorize(subject, &organization, permission, scope)?;
        let member = member.ok_or(Error::Forbidden { permission })?;
        Ok(Self {
            organization,
            member,
            teams,
        })
    }

    /// `member` acting in `organization`, when the policy lets them use `permission` in all
    /// of it or in one of the `teams` they belong to (see [`policy::authorize_somewhere`]).
    fn somewhere(
        organization: Organization,
        member: Option<Member>,
        teams: Vec<TeamId>,
        permission: Permission,
    ) -> Result<Self> {
        let subject = Subject {
            member: member.as_ref(),
            teams: &teams,
        };
        policy::authorize_somewhere(subject, &organization, permission)?;
        let member = member.ok_or(Error::Forbidden { permission })?;
        Ok(Self {
            organization,
            member,
            teams,
        })
    }

    /// Whether the member may also use `permission` in `scope`, judged on the membership
    /// this access was built from (spec: ROLE-4). A team scope needs the member's teams: an
    /// access built for a team scope has them.
    fn allow(&self, permission: Permission, scope: Scope) -> Result<()> {
        let subject = Subject {
            member: Some(&self.member),
            teams: &self.teams,
        };
        policy::authorize(subject, &self.organization, permission, scope)?;
        Ok(())
    }
}

/// Maps a uniqueness refusal that survived every retry to what it means for the caller.
fn duplicate_error(constraint: &'static str) -> Error {
    match constraint {
        constraint::ONE_PENDING_PER_EMAIL => Error::AlreadyInvited,
        constraint::ONE_MEMBER_PER_USER | constraint::ONE_MEMBER_PER_EMAIL => Error::AlreadyMember,
        constraint::UNIQUE_TEAM_NAME => Error::TeamNameTaken,
        constraint::ONE_TEAM_MEMBERSHIP => Error::AlreadyInTeam,
        _ => Error::Conflict,
    }
}

impl Roster {
    /// Starts building a roster on `store`, sending mail through `mailer`, deriving
    /// invitation links from `link_key` (spec: INV-6).
    ///
    /// Every instance of the service that shares a store must use the same key, and the key
    /// must outlive the process: a link is derived again from it when its email is sent, so
    /// a key that changed makes the links of mail still queued unusable (those mails fail
    /// with a reason saying so). Keep it where the host keeps its other secrets, never in
    /// the database.
    pub fn builder(store: impl Store, mailer: impl Mailer, link_key: LinkKey) -> RosterBuilder {
        RosterBuilder {
            store: Arc::new(store),
            mailer: Arc::new(mailer),
            link_key: Arc::new(link_key),
            clock: Arc::new(SystemClock),
            templates: Arc::new(DefaultTemplates),
            hooks: None,
            config: RosterConfig::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RosterConfig {
        &self.config
    }

    /// The clock's current time, within the years 1970 to 9999: every deadline computed from
    /// it (expiries, leases, retries) stays representable (spec: ERR-1).
    pub fn now(&self) -> DateTime<Utc> {
        time::clamp(self.clock.now())
    }

    /// Runs a command: `attempt` reads what the command needs, authorizes the actor with
    /// [`Roster::access`] and lets the pure core decide, at the time it is given; the
    /// decision is committed. When the commit meets a concurrent change, the decision is
    /// stale: `attempt` runs again, up to [`RosterConfig::conflict_retries`] times, then the
    /// command returns [`Error::Conflict`] with nothing changed (spec: ERR-2).
    ///
    /// `attempt` returns a future rather than being an async closure so that every command's
    /// future stays `Send` (an async closure's is not provably so on stable Rust).
    async fn run<T, F>(&self, mut attempt: impl FnMut(DateTime<Utc>) -> F) -> Result<T>
    where
        F: Future<Output = Result<Decision<T>>>,
    {
        let mut retries = 0u32;
        // Held from the first lost race to the end of the command (see `turnstile`).
        let mut turn = None;
        loop {
            let decision = attempt(self.now()).await?;
            if self
                .commit(decision.changes, &mut retries, &mut turn)
                .await?
            {
                return Ok(decision.outcome);
            }
        }
    }

    /// Runs a pure decision at `now` for `actor`, with fresh ids and this roster's links.
    fn decide<T>(
        &self,
        now: DateTime<Utc>,
        actor: EventActor,
        f: impl FnOnce(&mut Context<'_>) -> T,
    ) -> T {
        let mut fresh = KeyedFresh {
            link_key: &self.link_key,
        };
        let mut ctx = Context {
            now,
            actor,
            fresh: &mut fresh,
        };
        f(&mut ctx)
    }

    /// Commits; `Ok(false)` means "decide again". A command that loses a race, or finds
    /// others of its organization queued after losing theirs, waits its `turn` first.
    async fn commit(
        &self,
        changes: ChangeSet,
        retries: &mut u32,
        turn: &mut Option<Turn>,
    ) -> Result<bool> {
        if changes.is_empty() {
            return Ok(true);
        }
        let organization = changes.organization;
        if turn.is_none() && self.turnstiles.busy(organization) {
            // Its decision would most likely go stale behind theirs: queue, then decide again.
            *turn = Some(self.turnstiles.wait(organization).await);
            return Ok(false);
        }
        match self.store.commit(changes).await {
            Ok(()) => Ok(true),
            // Only the store knows team names (spec: TEAM-1): deciding again would not see
            // the team that holds this one.
            Err(StoreError::Duplicate {
                constraint: constraint::UNIQUE_TEAM_NAME,
            }) => Err(Error::TeamNameTaken),
            // A row the decision relied on went missing since it was read (a team deleted
            // under an acceptance into it): like a conflict, the decision is stale, and
            // deciding again sees the row gone (spec: ERR-1, INV-11).
            Err(
                StoreError::Conflict { .. }
                | StoreError::Duplicate { .. }
                | StoreError::Missing { .. },
            ) if *retries < self.config.conflict_retries => {
                *retries += 1;
                if turn.is_none() {
                    *turn = Some(self.turnstiles.wait(organization).await);
                }
                Ok(false)
            }
            Err(StoreError::Duplicate { constraint }) => Err(duplicate_error(constraint)),
            Err(StoreError::Conflict { .. } | StoreError::Missing { .. }) => Err(Error::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the organization and `actor`'s membership in it (one read), and the teams they
    /// belong to when `scope` is a team, then asks the policy whether they may use
    /// `permission` in `scope` (spec: ROLE-4). Every command by a member is authorized here.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown organization; the policy's refusals.
    async fn access(
        &self,
        org: OrganizationId,
        actor: &Actor,
        permission: Permission,
        scope: Scope,
    ) -> Result<Access> {
        let teams = matches!(scope, Scope::Team(_));
        let (organization, member, teams) = self.standing(org, actor, teams).await?;
        Access::new(organization, member, teams, permission, scope)
    }

    /// The organization, `actor`'s membership in it, and, when `with_teams`, the teams they
    /// belong to: what the policy judges.
    async fn standing(
        &self,
        org: OrganizationId,
        actor: &Actor,
        with_teams: bool,
    ) -> Result<(Organization, Option<Member>, Vec<TeamId>)> {
        let (organization, member) = self
            .store
            .organization_with_member(org, actor.user)
            .await?
            .ok_or(Error::NotFound {
                entity: EntityKind::Organization,
            })?;
        let teams = match &member {
            Some(m) if with_teams => self.store.teams_of(org, m.id).await?,
            _ => Vec::new(),
        };
        Ok((organization, member, teams))
    }

    async fn organization(&self, id: OrganizationId) -> Result<Organization> {
        self.store.organization(id).await?.ok_or(Error::NotFound {
            entity: EntityKind::Organization,
        })
    }

    async fn target_member(&self, org: OrganizationId, user: UserId) -> Result<Member> {
        self.store.member(org, user).await?.ok_or(Error::NotFound {
            entity: EntityKind::Member,
        })
    }

    async fn target_team(&self, org: OrganizationId, team: TeamId) -> Result<Team> {
        self.store.team(org, team).await?.ok_or(Error::NotFound {
            entity: EntityKind::Team,
        })
    }

    async fn target_invitation(&self, org: OrganizationId, id: InvitationId) -> Result<Invitation> {
        self.store
            .invitation(org, id)
            .await?
            .ok_or(Error::NotFound {
                entity: EntityKind::Invitation,
            })
    }
}
