//! `Roster`: the commands and queries a host calls.
//!
//! Every command runs the same one-way flow: read what it needs through the [`Store`],
//! check the actor's permission with [`policy::authorize`] against the membership as stored
//! now, let the pure core decide, then commit the change set atomically. When the commit
//! meets a concurrent change it reads again and decides again, a bounded number of times.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    clock::{Clock, SystemClock},
    domain::{
        activity::{
            Activity, ActivityError, ActivityReceipt, Comparison, Period, ReportedActivity,
            Statistics, StatsScope,
        },
        bulk::parse_paste,
        changes::{ChangeSet, Context, Decision, Fresh, OrganizationWrite},
        email::EmailAddress,
        event::{Event, EventActor, EventKind},
        ids::{ClaimId, InvitationId, LicenseId, OrganizationId, TeamId, UserId},
        invitation::{
            self, AcceptState, Acceptance, Accepted, AddressState, BulkInviteReport, Invitation,
            InvitationCreated, InvitationStatus, InvitationView, InviteState, NewInvitation,
        },
        member::{self, Member, MembershipStatus},
        organization::{
            self, Capabilities, Founder, LicenseKind, Organization, OrganizationCreated, SeatUsage,
        },
        outbox::{MailContent, MailDraft, OutboxMessage, Settlement},
        role::Role,
        team::{self, Team, TeamPage},
        text::{Message, OrganizationName, Profile, Subject, TeamName},
        time,
        token::InvitationToken,
    },
    error::{EntityKind, Error, Field, Result, ValidationError},
    link_key::LinkKey,
    mail::{DefaultTemplates, MailSettings, MailTemplates, Mailer},
    policy::{self, HostAction, Permission, Scope, Subject as PolicySubject},
    report::{self, ReportError},
    store::{
        DynStore, InvitationContext, InvitationFilter, InvitationTargets, LinkContext,
        MemberFilter, Page, Recorded, Store, StoreError, constraint,
    },
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
}

/// How mail delivery retries and gives up (spec: INV-9, MSG-2).
///
/// The durations are brought within bounds when the roster is built: the lease within 1
/// second to 1 day, the send budget within 0 to half the lease, the base backoff within 0 to 1 day, the longest backoff within 0 to 30
/// days (spec: ERR-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// How long a claimed row is reserved for one delivery pass.
    pub lease: Duration,
    /// The longest one send may take. A pass starts sending a row only while more than this
    /// is left of its lease, and puts the rest back when it is not, so no other pass
    /// can claim a row while it is being sent (spec: MSG-3). Mailers must give up on a send
    /// within it (`SmtpMailer`'s timeout).
    pub send_budget: Duration,
    /// Attempts before a mail is marked failed.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles on each further one.
    pub base_backoff: Duration,
    /// The longest delay between retries.
    pub max_backoff: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            lease: Duration::minutes(5),
            send_budget: Duration::seconds(60),
            max_attempts: 8,
            base_backoff: Duration::seconds(30),
            max_backoff: Duration::hours(2),
        }
    }
}

impl DeliveryConfig {
    /// Within the bounds above, so that no deadline computed from them overflows.
    fn bounded(self) -> Self {
        let lease = self.lease.clamp(Duration::seconds(1), Duration::days(1));
        Self {
            lease,
            // A budget as long as the lease would release every row unsent.
            send_budget: self.send_budget.clamp(Duration::zero(), lease / 2),
            max_attempts: self.max_attempts,
            base_backoff: self.base_backoff.clamp(Duration::zero(), Duration::days(1)),
            max_backoff: self.max_backoff.clamp(Duration::zero(), Duration::days(30)),
        }
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
}

impl Default for RosterConfig {
    fn default() -> Self {
        Self {
            invitation_ttl: Duration::days(10),
            conflict_retries: 16,
            max_bulk_addresses: 20_000,
            mail: MailSettings::default(),
            delivery: DeliveryConfig::default(),
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
}

/// Builds a [`Roster`].
#[derive(Debug)]
pub struct RosterBuilder {
    store: Arc<DynStore>,
    mailer: Arc<dyn Mailer>,
    link_key: Arc<LinkKey>,
    clock: Arc<dyn Clock>,
    templates: Arc<dyn MailTemplates>,
    config: RosterConfig,
}

impl RosterBuilder {
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
            config: Arc::new(config),
            turnstiles: Arc::new(Turnstiles::default()),
        }
    }
}

/// One page of a listing, and where the next starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing<T> {
    /// The rows.
    pub items: Vec<T>,
    /// The next page, when this one was full.
    #[serde(skip)]
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

/// What the invitee sees before deciding (spec: INV-5, INV-10). Looking never changes the
/// invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitationPreview {
    /// The invitation.
    pub invitation: InvitationId,
    /// The organization's name.
    pub organization: OrganizationName,
    /// The role it grants.
    pub role: Role,
    /// The team it joins, when it still exists.
    pub team: Option<TeamName>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// Whether it already has (it still shows as Pending, INV-2).
    pub expired: bool,
    /// Its status.
    pub status: InvitationStatus,
    /// Set when the invitee already has an account: what does not follow them (spec: INV-5,
    /// USR-3). Acceptance then needs `warning_acknowledged`.
    pub existing_account_warning: Option<&'static str>,
}

/// The most teams [`Roster::compare_teams`] compares at once: a comparison is one pass over
/// the period, and its statements name every team (spec: STAT-3, ERR-3).
pub const MAX_COMPARED_TEAMS: usize = 100;

/// The text of the existing-account warning (spec: INV-5, USR-3).
pub const EXISTING_ACCOUNT_WARNING: &str = "You already have an account. Your Lists will follow you into this organization; licenses, course-completion history and integrations tied to your current account will not.";

/// The invitee's answer when accepting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptOptions {
    /// The name for the membership.
    pub profile: Profile,
    /// Whether the user had an account before this invitation (the host knows).
    pub existing_account: bool,
    /// Whether the user acknowledged [`EXISTING_ACCOUNT_WARNING`].
    pub warning_acknowledged: bool,
}

/// One line of the administrator team (seed: the Team dashboard): an active administrator or
/// a pending administrator invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdministratorEntry {
    /// The address.
    pub email: EmailAddress,
    /// The name, when known.
    pub profile: Option<Profile>,
    /// Active, or Pending with its expiry flag (spec: INV-2).
    pub status: MembershipStatus,
    /// The member, when active.
    pub user: Option<UserId>,
    /// The invitation, when pending.
    pub invitation: Option<InvitationId>,
}

/// Whom a message goes to (spec: MSG-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every member of the organization.
    Everyone,
    /// The members of one team.
    Team(TeamId),
}

/// What one delivery pass did (spec: INV-9, MSG-2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Mail accepted by the transport.
    pub sent: u64,
    /// Mail put back for a later attempt.
    pub retried: u64,
    /// Mail given up, with the reason recorded.
    pub failed: u64,
    /// Mail claimed but not attempted, put back at once: the pass was asked to stop, or too
    /// little of its lease was left (spec: MSG-3).
    pub released: u64,
    /// Mail whose row this pass no longer held when it came to record the outcome: its
    /// lease ran out and another pass claimed it, or it was withdrawn with its invitation
    /// (spec: MSG-3, INV-13).
    pub lost_claims: u64,
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

fn as_user(actor: &Actor) -> EventActor {
    EventActor::User { user: actor.user }
}

/// Maps a uniqueness refusal that survived every retry to what it means for the caller.
/// Checks each reported event on its own (spec: STAT-1): malformed values, users known not
/// to be members (`strangers`) and ids seen earlier in the batch are refused with their
/// reason. Returns the events to record, with their index in `reported`, and the receipt of
/// the refused ones.
fn check_activities(
    org: OrganizationId,
    reported: &[ReportedActivity],
    strangers: &HashSet<UserId>,
) -> (Vec<(usize, Activity)>, ActivityReceipt) {
    let mut receipt = ActivityReceipt::default();
    let mut seen = HashSet::new();
    let mut accepted = Vec::new();
    for (index, event) in reported.iter().enumerate() {
        let checked = event.check(org).and_then(|a| {
            if strangers.contains(&a.user) {
                Err(ActivityError::UnknownMember)
            } else if !seen.insert(a.id.clone()) {
                Err(ActivityError::DuplicateId {
                    id: event.id.clone(),
                })
            } else {
                Ok(a)
            }
        });
        match checked {
            Ok(activity) => accepted.push((index, activity)),
            Err(e) => receipt.rejected.push((index, event.id.clone(), e)),
        }
    }
    (accepted, receipt)
}

/// A store that answered fewer statistics than it was asked for.
fn missing_statistics() -> StoreError {
    StoreError::Backend {
        backend: "store",
        source: "statistics answered fewer scopes than asked for".into(),
    }
}

fn duplicate_error(constraint: &'static str) -> Error {
    match constraint {
        constraint::ONE_PENDING_PER_EMAIL => Error::AlreadyInvited,
        constraint::ONE_MEMBER_PER_USER | constraint::ONE_MEMBER_PER_EMAIL => Error::AlreadyMember,
        constraint::UNIQUE_TEAM_NAME => Error::TeamNameTaken,
        constraint::ONE_TEAM_MEMBERSHIP => Error::AlreadyInTeam,
        _ => Error::Conflict,
    }
}

/// Runs `$body` (which reads, authorizes and decides, yielding a `Decision`) and commits the
/// result, deciding again after a concurrent change. A macro rather than a closure so that
/// `?` in the body returns from the command and every future stays `Send`.
macro_rules! retrying {
    ($self:ident, |$now:ident| $body:block) => {{
        let mut attempt = 0u32;
        // Held from the first lost race to the end of the command (see `turnstile`).
        let mut turn = None;
        loop {
            let $now = $self.now();
            let decision: Decision<_> = $body;
            if $self
                .commit(decision.changes, &mut attempt, &mut turn)
                .await?
            {
                break Ok(decision.outcome);
            }
        }
    }};
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
    config: Arc<RosterConfig>,
    turnstiles: Arc<Turnstiles>,
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
            config: RosterConfig::default(),
        }
    }

    /// The store, for hosts that read it directly.
    pub fn store(&self) -> &DynStore {
        &*self.store
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
        attempt: &mut u32,
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
            ) if *attempt < self.config.conflict_retries => {
                *attempt += 1;
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

    async fn organization(&self, id: OrganizationId) -> Result<Organization> {
        self.store.organization(id).await?.ok_or(Error::NotFound {
            entity: EntityKind::Organization,
        })
    }

    /// The seats in use, counted only when the organization caps them (spec: ORG-4): no
    /// decision reads them otherwise, and counting takes time in proportion to the
    /// organization. Uncapped, the count is zero.
    async fn seats_if_capped(
        &self,
        organization: &Organization,
        now: DateTime<Utc>,
    ) -> Result<SeatUsage> {
        match organization.seats_counted_at(now) {
            Some(now) => Ok(self.store.seat_usage(organization.id, now).await?),
            None => Ok(SeatUsage::default()),
        }
    }

    /// The organization and `user`'s membership in it, in one read.
    async fn organization_with_member(
        &self,
        id: OrganizationId,
        user: UserId,
    ) -> Result<(Organization, Option<Member>)> {
        self.store
            .organization_with_member(id, user)
            .await?
            .ok_or(Error::NotFound {
                entity: EntityKind::Organization,
            })
    }

    /// Checks that `actor` may use `permission` in `scope`, reading their membership now
    /// (spec: ROLE-4). Returns the membership.
    async fn allow(
        &self,
        org: &Organization,
        actor: &Actor,
        permission: Permission,
        scope: Scope,
    ) -> Result<Member> {
        let member = self.store.member(org.id, actor.user).await?;
        self.allow_member(org, member, permission, scope).await
    }

    /// [`Roster::allow`] for a membership already read, with the organization, in the same
    /// command.
    async fn allow_member(
        &self,
        org: &Organization,
        member: Option<Member>,
        permission: Permission,
        scope: Scope,
    ) -> Result<Member> {
        let teams = match (&member, scope) {
            (Some(m), Scope::Team(_)) => self.store.teams_of(org.id, m.id).await?,
            _ => Vec::new(),
        };
        permitted(org, member.as_ref(), &teams, permission, scope)?;
        member.ok_or(Error::Forbidden { permission })
    }

    /// Loads the organization and checks the actor's permission in it (spec: ROLE-4).
    async fn authorized(
        &self,
        org: OrganizationId,
        actor: &Actor,
        permission: Permission,
        scope: Scope,
    ) -> Result<(Organization, Member)> {
        // One read for both: every command starts here.
        let (organization, member) = self.organization_with_member(org, actor.user).await?;
        let member = self
            .allow_member(&organization, member, permission, scope)
            .await?;
        Ok((organization, member))
    }

    /// Administrators' rows (an administrator role, an administrator member or invitation)
    /// also need `ManageAdministrators` (spec: ADM-1), checked on the membership `me` this
    /// command already read (spec: ROLE-4).
    async fn allow_administrators(&self, org: &Organization, me: Member) -> Result<()> {
        self.allow_member(
            org,
            Some(me),
            Permission::ManageAdministrators,
            Scope::Organization,
        )
        .await
        .map(drop)
    }

    /// The organization and the member whose `role` changes, once the actor may change it:
    /// roles need `ManageRoles`, the Administrator role `ManageAdministrators` as well
    /// (spec: ADM-1, ROLE-4), checked on the one membership the command read.
    async fn role_change(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
        role: Role,
    ) -> Result<(Organization, Member)> {
        let (organization, me) = self
            .authorized(org, actor, Permission::ManageRoles, Scope::Organization)
            .await?;
        if role == Role::Administrator {
            self.allow_administrators(&organization, me).await?;
        }
        let target = self.target_member(org, user).await?;
        Ok((organization, target))
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

    /// The invitation behind a link, with its organization, `user`'s membership, the seats
    /// if capped and the team it names: one read.
    async fn link_context(
        &self,
        token: &str,
        user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<LinkContext> {
        let token = InvitationToken::parse(token)?;
        self.store
            .link_context(&token.hash(), user, now)
            .await?
            .ok_or(Error::NotFound {
                entity: EntityKind::Invitation,
            })
    }

    /// [`Roster::authorized`] for an invitation to `emails`, with their targets, in one
    /// read.
    async fn invitation_context(
        &self,
        org: OrganizationId,
        actor: &Actor,
        permission: Permission,
        emails: &[EmailAddress],
        now: DateTime<Utc>,
    ) -> Result<(Organization, Member, InvitationTargets)> {
        let InvitationContext {
            organization,
            member,
            targets,
        } = self
            .store
            .invitation_context(org, actor.user, emails, now)
            .await?
            .ok_or(Error::NotFound {
                entity: EntityKind::Organization,
            })?;
        let inviter = self
            .allow_member(&organization, member, permission, Scope::Organization)
            .await?;
        Ok((organization, inviter, targets))
    }

    // ----- organizations and provisioning ------------------------------------------------

    /// Creates an organization; `actor` becomes its first administrator.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn create_organization(
        &self,
        actor: &Actor,
        name: OrganizationName,
        profile: Profile,
    ) -> Result<OrganizationCreated> {
        retrying!(self, |now| {
            let founder = Founder {
                user: actor.user,
                email: actor.email.clone(),
                profile: profile.clone(),
            };
            self.decide(now, as_user(actor), |ctx| {
                organization::create_organization(ctx, name.clone(), founder)
            })?
        })
    }

    /// Back office: adds a license (spec: ORG-1, ORG-3). For the host's own staff, not for
    /// members: it checks no actor.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn add_license(
        &self,
        org: OrganizationId,
        kind: LicenseKind,
    ) -> Result<Organization> {
        retrying!(self, |now| {
            let organization = self.organization(org).await?;
            self.decide(now, EventActor::System, |ctx| {
                organization::add_license(ctx, organization, kind.clone())
            })
        })
    }

    /// Back office: removes a license.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn remove_license(
        &self,
        org: OrganizationId,
        license: LicenseId,
    ) -> Result<Organization> {
        retrying!(self, |now| {
            let organization = self.organization(org).await?;
            self.decide(now, EventActor::System, |ctx| {
                organization::remove_license(ctx, organization, license)
            })?
        })
    }

    /// Back office: sets the capabilities (spec: ORG-1, ORG-2, ADM-2).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn set_capabilities(
        &self,
        org: OrganizationId,
        capabilities: Capabilities,
    ) -> Result<Organization> {
        retrying!(self, |now| {
            let organization = self.organization(org).await?;
            self.decide(now, EventActor::System, |ctx| {
                organization::set_capabilities(ctx, organization, capabilities)
            })
        })
    }

    /// Back office: caps the seats, or lifts the cap with `None` (spec: ORG-4).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn set_seat_cap(
        &self,
        org: OrganizationId,
        seat_cap: Option<u32>,
    ) -> Result<Organization> {
        retrying!(self, |now| {
            let organization = self.organization(org).await?;
            self.decide(now, EventActor::System, |ctx| {
                organization::set_seat_cap(ctx, organization, seat_cap)
            })
        })
    }

    /// The organization, for any of its members.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`] for non-members, [`Error::Store`].
    pub async fn organization_for(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<Organization> {
        let (organization, _) = self
            .authorized(
                org,
                actor,
                Permission::ViewOrganization,
                Scope::Organization,
            )
            .await?;
        Ok(organization)
    }

    /// Seats in use now (spec: ORG-4). For administrators.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Forbidden`], [`Error::Store`].
    pub async fn seat_usage(&self, actor: &Actor, org: OrganizationId) -> Result<SeatUsage> {
        self.authorized(org, actor, Permission::ManageMembers, Scope::Organization)
            .await?;
        Ok(self.store.seat_usage(org, self.now()).await?)
    }

    /// Checks an action the host performs itself (spec: ADM-2, USR-2, STAT-2).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::CapabilityRequired`], [`Error::NotFound`],
    /// [`Error::Store`].
    pub async fn authorize(
        &self,
        actor: &Actor,
        org: OrganizationId,
        action: HostAction,
    ) -> Result<()> {
        let (permission, scope) = action.requirement();
        self.authorized(org, actor, permission, scope).await?;
        if let HostAction::ViewTeamAnalytics(team) = action {
            self.target_team(org, team).await?;
        }
        Ok(())
    }

    // ----- profiles ----------------------------------------------------------------------

    /// Changes the actor's own first and last name; nobody can change someone else's
    /// (spec: USR-1).
    ///
    /// # Errors
    /// [`Error::Forbidden`] for non-members, [`Error::NotFound`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn update_profile(
        &self,
        actor: &Actor,
        org: OrganizationId,
        profile: Profile,
    ) -> Result<Member> {
        retrying!(self, |now| {
            let (organization, me) = self
                .authorized(
                    org,
                    actor,
                    Permission::UpdateOwnProfile,
                    Scope::OwnedBy(actor.user),
                )
                .await?;
            self.decide(now, as_user(actor), |ctx| {
                member::update_profile(ctx, &organization, me, profile.clone())
            })
        })
    }

    // ----- invitations -------------------------------------------------------------------

    /// Invites an administrator by email, first and last name (spec: ADM-1, ADM-4, ORG-2,
    /// ORG-3, ORG-4). The invitation email is queued in the same commit (spec: INV-9).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NoLicense`],
    /// [`Error::AlreadyMember`], [`Error::AlreadyInvited`], [`Error::SeatLimit`],
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn invite_administrator(
        &self,
        actor: &Actor,
        org: OrganizationId,
        email: EmailAddress,
        profile: Profile,
    ) -> Result<InvitationCreated> {
        let new = NewInvitation {
            email,
            invitee: Some(profile),
            role: Role::Administrator,
        };
        self.invite(actor, org, new, None, Permission::ManageAdministrators)
            .await
    }

    /// Invites one learner with a role (not Administrator: see
    /// [`Roster::invite_administrator`]) and optionally a team (spec: INV-7, ADM-2).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::CapabilityRequired`], [`Error::Invalid`],
    /// [`Error::AlreadyMember`], [`Error::AlreadyInvited`], [`Error::SeatLimit`],
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn invite_member(
        &self,
        actor: &Actor,
        org: OrganizationId,
        email: EmailAddress,
        role: Role,
        team: Option<TeamId>,
    ) -> Result<InvitationCreated> {
        let new = NewInvitation {
            email,
            invitee: None,
            role,
        };
        self.invite(actor, org, new, team, Permission::InviteLearners)
            .await
    }

    async fn invite(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewInvitation,
        team: Option<TeamId>,
        permission: Permission,
    ) -> Result<InvitationCreated> {
        retrying!(self, |now| {
            let (organization, inviter, targets) = self
                .invitation_context(
                    org,
                    actor,
                    permission,
                    std::slice::from_ref(&new.email),
                    now,
                )
                .await?;
            if permission == Permission::InviteLearners && new.role == Role::Administrator {
                // Checked after the permission (spec: ROLE-4): administrators are invited
                // one at a time with their names (spec: ADM-4).
                return Err(administrators_one_by_one());
            }
            let team = match team {
                Some(id) => Some(self.target_team(org, id).await?),
                None => None,
            };
            let existing = AddressState {
                member: !targets.member_emails.is_empty(),
                pending: targets.pending.into_iter().next(),
            };
            let state = InviteState {
                organization: &organization,
                inviter: &inviter,
                seats: targets.seats.unwrap_or_default(),
                team: team.as_ref(),
                ttl: self.config.invitation_ttl,
            };
            self.decide(now, as_user(actor), |ctx| {
                invitation::invite(ctx, &state, new.clone(), &existing)
            })?
        })
    }

    /// Invites many learners from pasted text: addresses separated by commas, semicolons,
    /// spaces or new lines, all with one role and one team. Every valid new address gets an
    /// invitation; every other entry is reported with its line and reason (spec: INV-7,
    /// ORG-4).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a paste that is empty, too large, or names Administrator;
    /// [`Error::Forbidden`], [`Error::CapabilityRequired`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`]. Problems with single entries are not errors:
    /// they are in the report.
    pub async fn invite_members(
        &self,
        actor: &Actor,
        org: OrganizationId,
        paste: &str,
        role: Role,
        team: Option<TeamId>,
    ) -> Result<BulkInviteReport> {
        // Parsed once, but refused only after the permission check (spec: ROLE-4).
        let parsed = parse_paste(paste, self.config.max_bulk_addresses);
        let emails: Vec<EmailAddress> = parsed
            .as_ref()
            .map(|p| p.addresses.iter().map(|a| a.email.clone()).collect())
            .unwrap_or_default();
        retrying!(self, |now| {
            let (organization, inviter, targets) = self
                .invitation_context(org, actor, Permission::InviteLearners, &emails, now)
                .await?;
            if role == Role::Administrator {
                return Err(administrators_one_by_one());
            }
            let parsed = parsed.as_ref().map_err(Clone::clone)?;
            let team = match team {
                Some(id) => Some(self.target_team(org, id).await?),
                None => None,
            };
            let mut existing: HashMap<String, AddressState> = HashMap::new();
            for key in targets.member_emails {
                existing.entry(key).or_default().member = true;
            }
            for i in targets.pending {
                let key = i.email.key().to_owned();
                existing.entry(key).or_default().pending = Some(i);
            }
            let state = InviteState {
                organization: &organization,
                inviter: &inviter,
                seats: targets.seats.unwrap_or_default(),
                team: team.as_ref(),
                ttl: self.config.invitation_ttl,
            };
            self.decide(now, as_user(actor), |ctx| {
                invitation::invite_many(ctx, &state, parsed.clone(), role, &existing)
            })?
        })
    }

    /// What an invitation link offers, without changing anything: mail scanners open links
    /// (spec: INV-10). Needs no signed-in user; `existing_account` adds the warning of INV-5.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed token, [`Error::NotFound`] for an unknown or
    /// superseded link, [`Error::Store`].
    pub async fn preview_invitation(
        &self,
        token: &str,
        existing_account: bool,
    ) -> Result<InvitationPreview> {
        let now = self.now();
        let LinkContext {
            invitation,
            organization,
            team,
            ..
        } = self.link_context(token, None, now).await?;
        let team = team.map(|t| t.name);
        Ok(InvitationPreview {
            invitation: invitation.id,
            organization: organization.name,
            role: invitation.role,
            team,
            expires_at: invitation.expires_at,
            expired: invitation.is_expired(now),
            status: invitation.status,
            existing_account_warning: existing_account.then_some(EXISTING_ACCOUNT_WARNING),
        })
    }

    /// Accepts the invitation behind a link. The actor must be signed in with the invited
    /// address (any case), acknowledge the existing-account warning when it applies, and not
    /// be a member yet; they join with the invited role and team (spec: INV-1, INV-2, INV-5,
    /// INV-6, INV-11, ORG-4, ROLE-5). Of concurrent accepts, declines, revokes and resends,
    /// exactly one wins.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::NotFound`], [`Error::InvitationNotPending`],
    /// [`Error::InvitationExpired`], [`Error::EmailMismatch`],
    /// [`Error::WarningNotAcknowledged`], [`Error::AlreadyMember`], [`Error::SeatLimit`],
    /// [`Error::LegacyIntegration`] and [`Error::NoLicense`] (an administrator invitation,
    /// ORG-2, ORG-3), [`Error::Conflict`], [`Error::Store`].
    pub async fn accept_invitation(
        &self,
        actor: &Actor,
        token: &str,
        options: AcceptOptions,
    ) -> Result<Accepted> {
        let acceptance = Acceptance {
            user: actor.user,
            email: actor.email.clone(),
            profile: options.profile,
            existing_account: options.existing_account,
            warning_acknowledged: options.warning_acknowledged,
        };
        retrying!(self, |now| {
            let link = self.link_context(token, Some(actor.user), now).await?;
            let (invitation, organization) = (link.invitation, link.organization);
            let state = AcceptState {
                organization: &organization,
                already_member: link.member.is_some(),
                seats: link.seats.unwrap_or_default(),
                team: link.team.as_ref(),
            };
            self.decide(now, as_user(actor), |ctx| {
                invitation::accept(ctx, &state, invitation, &acceptance)
            })?
        })
    }

    /// Declines the invitation behind a link; holding the link is enough (spec: INV-1,
    /// INV-2). The entry leaves the listing and stays in the audit trail (spec: INV-12).
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::NotFound`], [`Error::InvitationNotPending`],
    /// [`Error::InvitationExpired`], [`Error::Conflict`], [`Error::Store`].
    pub async fn decline_invitation(&self, token: &str) -> Result<Invitation> {
        retrying!(self, |now| {
            let link = self.link_context(token, None, now).await?;
            self.decide(now, EventActor::System, |ctx| {
                invitation::decline(ctx, &link.organization, link.invitation)
            })?
        })
    }

    async fn manage_invitation(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<(Organization, Member, Invitation)> {
        let (organization, me) = self
            .authorized(
                org,
                actor,
                Permission::ManageInvitations,
                Scope::Organization,
            )
            .await?;
        let invitation = self.target_invitation(org, id).await?;
        if invitation.role == Role::Administrator {
            self.allow_administrators(&organization, me.clone()).await?;
        }
        Ok((organization, me, invitation))
    }

    /// Resends a pending invitation, expired or not: a new link and expiry; the previous
    /// link stops working (spec: INV-3).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NotFound`],
    /// [`Error::InvitationNotPending`], [`Error::SeatLimit`], [`Error::Conflict`],
    /// [`Error::Store`].
    pub async fn resend_invitation(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<InvitationCreated> {
        retrying!(self, |now| {
            let (organization, me, invitation) = self.manage_invitation(actor, org, id).await?;
            let team = match invitation.team {
                Some(team) => self.store.team(org, team).await?,
                None => None,
            };
            let state = InviteState {
                organization: &organization,
                inviter: &me,
                seats: self.seats_if_capped(&organization, now).await?,
                team: team.as_ref(),
                ttl: self.config.invitation_ttl,
            };
            self.decide(now, as_user(actor), |ctx| {
                invitation::resend(ctx, &state, invitation)
            })?
        })
    }

    /// Revokes a pending invitation: its link never works again; inviting the address again
    /// later works normally (spec: INV-4).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NotFound`],
    /// [`Error::InvitationNotPending`], [`Error::Conflict`], [`Error::Store`].
    pub async fn revoke_invitation(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<Invitation> {
        retrying!(self, |now| {
            let (organization, _, invitation) = self.manage_invitation(actor, org, id).await?;
            self.decide(now, as_user(actor), |ctx| {
                invitation::revoke(ctx, &organization, invitation, actor.user)
            })?
        })
    }

    /// A page of invitations with their expiry flag. With [`InvitationFilter::pending`]
    /// this is the live listing: declined and revoked invitations are gone from it, expired
    /// ones still show as pending (spec: INV-2, INV-12).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn invitations(
        &self,
        actor: &Actor,
        org: OrganizationId,
        filter: InvitationFilter,
        page: Page,
    ) -> Result<Listing<InvitationView>> {
        self.authorized(
            org,
            actor,
            Permission::ManageInvitations,
            Scope::Organization,
        )
        .await?;
        let now = self.now();
        let rows = self.store.invitations(org, filter, page).await?;
        let items = rows
            .into_iter()
            .map(|i| InvitationView::at(i, now))
            .collect();
        Ok(listing(items, page, |v: &InvitationView| {
            v.invitation.id.as_uuid()
        }))
    }

    /// The administrator team as the seed's dashboard shows it: active administrators, then
    /// pending administrator invitations flagged when expired (spec: ADM-1, INV-2, ORG-2).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NotFound`],
    /// [`Error::Store`].
    pub async fn administrator_team(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<Vec<AdministratorEntry>> {
        self.authorized(
            org,
            actor,
            Permission::ManageAdministrators,
            Scope::Organization,
        )
        .await?;
        let now = self.now();
        let mut entries = Vec::new();
        let filter = MemberFilter {
            role: Some(Role::Administrator),
            team: None,
        };
        let mut page = Page::first(Page::MAX_LIMIT);
        loop {
            let rows = self.store.members(org, filter, page).await?;
            let next = (rows.len() >= page.len())
                .then(|| rows.last().map(|m| Page::after(m.id, page.limit)))
                .flatten();
            entries.extend(rows.into_iter().map(|m| AdministratorEntry {
                email: m.email,
                profile: Some(m.profile),
                status: MembershipStatus::Active,
                user: Some(m.user),
                invitation: None,
            }));
            match next {
                Some(p) => page = p,
                None => break,
            }
        }
        let filter = InvitationFilter {
            status: Some(InvitationStatus::Pending),
            role: Some(Role::Administrator),
        };
        let mut page = Page::first(Page::MAX_LIMIT);
        loop {
            let rows = self.store.invitations(org, filter, page).await?;
            let next = (rows.len() >= page.len())
                .then(|| rows.last().map(|i| Page::after(i.id, page.limit)))
                .flatten();
            entries.extend(rows.into_iter().map(|i| AdministratorEntry {
                status: MembershipStatus::Pending {
                    expired: i.is_expired(now),
                },
                email: i.email,
                profile: i.invitee,
                user: None,
                invitation: Some(i.id),
            }));
            match next {
                Some(p) => page = p,
                None => break,
            }
        }
        Ok(entries)
    }

    // ----- members and roles -------------------------------------------------------------

    /// A page of members. Administrators and managers see everyone; with a team filter,
    /// supervisors and members see the teams they belong to (spec: TEAM-3, TEAM-4).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn members(
        &self,
        actor: &Actor,
        org: OrganizationId,
        filter: MemberFilter,
        page: Page,
    ) -> Result<Listing<Member>> {
        let (permission, scope) = match filter.team {
            Some(team) => (Permission::ViewTeam, Scope::Team(team)),
            None => (Permission::ViewMembers, Scope::Organization),
        };
        self.authorized(org, actor, permission, scope).await?;
        if let Some(team) = filter.team {
            self.target_team(org, team).await?;
        }
        let rows = self.store.members(org, filter, page).await?;
        Ok(listing(rows, page, |m: &Member| m.id.as_uuid()))
    }

    /// One member: the actor themselves, or anyone for those who may list members.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn member(&self, actor: &Actor, org: OrganizationId, user: UserId) -> Result<Member> {
        let organization = self.organization(org).await?;
        if user == actor.user {
            return self
                .allow(
                    &organization,
                    actor,
                    Permission::UpdateOwnProfile,
                    Scope::OwnedBy(user),
                )
                .await;
        }
        self.allow(
            &organization,
            actor,
            Permission::ViewMembers,
            Scope::Organization,
        )
        .await?;
        self.target_member(org, user).await
    }

    /// Grants a role; Administrator and Team Supervisor are never combined and never swapped
    /// silently (spec: ROLE-2, ROLE-5, ADM-1).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::NoLicense`],
    /// [`Error::RolesNotCumulative`], [`Error::RoleAlreadyHeld`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn grant_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
        role: Role,
    ) -> Result<Member> {
        retrying!(self, |now| {
            let (organization, target) = self.role_change(actor, org, user, role).await?;
            self.decide(now, as_user(actor), |ctx| {
                member::grant_role(ctx, &organization, target, role)
            })?
        })
    }

    /// Revokes a role; the last administrator cannot be demoted (spec: ADM-5, ROLE-5).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::LastAdministrator`],
    /// [`Error::RoleNotHeld`], [`Error::LearnerRoleIsPermanent`], [`Error::NotFound`],
    /// [`Error::Conflict`], [`Error::Store`].
    pub async fn revoke_role(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
        role: Role,
    ) -> Result<Member> {
        retrying!(self, |now| {
            let (organization, target) = self.role_change(actor, org, user, role).await?;
            let administrators = self.administrators(org).await?;
            self.decide(now, as_user(actor), |ctx| {
                member::revoke_role(ctx, &organization, target, role, administrators)
            })?
        })
    }

    /// Removes a member from the organization and from their teams; the last administrator
    /// cannot be removed (spec: ADM-5).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::LegacyIntegration`], [`Error::LastAdministrator`],
    /// [`Error::NotFound`], [`Error::Conflict`], [`Error::Store`].
    pub async fn remove_member(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Member> {
        retrying!(self, |now| {
            let (organization, me) = self
                .authorized(org, actor, Permission::ManageMembers, Scope::Organization)
                .await?;
            let target = self.target_member(org, user).await?;
            if target.is_administrator() {
                self.allow_administrators(&organization, me).await?;
            }
            let administrators = self.administrators(org).await?;
            self.decide(now, as_user(actor), |ctx| {
                member::remove_member(ctx, &organization, target, administrators)
            })?
        })
    }

    // ----- teams and team pages ----------------------------------------------------------

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
        retrying!(self, |now| {
            let (organization, _) = self
                .authorized(org, actor, Permission::ManageTeams, Scope::Organization)
                .await?;
            // The store keeps names unique (spec: TEAM-1): a taken one fails the commit.
            self.decide(now, as_user(actor), |ctx| {
                team::create_team(ctx, &organization, name.clone(), false)
            })?
        })
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
        retrying!(self, |now| {
            let (organization, _) = self
                .authorized(org, actor, Permission::ManageTeams, Scope::Organization)
                .await?;
            let current = self.target_team(org, team).await?;
            // The store keeps names unique (spec: TEAM-1): a taken one fails the commit.
            self.decide(now, as_user(actor), |ctx| {
                team::rename_team(ctx, &organization, current, name.clone(), false)
            })?
        })
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
        retrying!(self, |now| {
            let (organization, _) = self
                .authorized(org, actor, Permission::ManageTeams, Scope::Organization)
                .await?;
            let current = self.target_team(org, team).await?;
            self.decide(now, as_user(actor), |ctx| {
                team::delete_team(ctx, &organization, current)
            })
        })
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
        retrying!(self, |now| {
            let (organization, _) = self
                .authorized(org, actor, Permission::ManageTeamMembers, Scope::Team(team))
                .await?;
            let current = self.target_team(org, team).await?;
            let target = self.target_member(org, user).await?;
            let is_in = self.store.teams_of(org, target.id).await?.contains(&team);
            self.decide(now, as_user(actor), |ctx| {
                team::change_membership(ctx, &organization, &current, &target, is_in, join)
            })?
        })
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
        retrying!(self, |now| {
            let (organization, _) = self
                .authorized(org, actor, Permission::EditTeamPage, Scope::Team(team))
                .await?;
            let current = self.target_team(org, team).await?;
            self.decide(now, as_user(actor), |ctx| {
                team::set_team_page(ctx, &organization, current, page.clone())
            })
        })
    }

    /// A team with its page, for those who may see it (its members included).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn team(&self, actor: &Actor, org: OrganizationId, team: TeamId) -> Result<Team> {
        self.authorized(org, actor, Permission::ViewTeam, Scope::Team(team))
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
        let (_, me) = self
            .authorized(
                org,
                actor,
                Permission::ViewOrganization,
                Scope::Organization,
            )
            .await?;
        if me.roles.contains(Role::Administrator) || me.roles.contains(Role::Manager) {
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

    // ----- messages and notifications ----------------------------------------------------

    /// Sends a message to every member or to one team's members; supervisors may message the
    /// teams they belong to (spec: MSG-1, MSG-2). Returns how many emails were queued.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn send_message(
        &self,
        actor: &Actor,
        org: OrganizationId,
        audience: Audience,
        subject: Subject,
        body: Message,
    ) -> Result<u64> {
        retrying!(self, |now| {
            let organization = self.organization(org).await?;
            let (from, team, filter) = match audience {
                Audience::Everyone => (
                    self.allow(
                        &organization,
                        actor,
                        Permission::MessageEveryone,
                        Scope::Organization,
                    )
                    .await?,
                    None,
                    MemberFilter::default(),
                ),
                Audience::Team(team) => (
                    self.allow(
                        &organization,
                        actor,
                        Permission::MessageTeam,
                        Scope::Team(team),
                    )
                    .await?,
                    Some(self.target_team(org, team).await?),
                    MemberFilter {
                        role: None,
                        team: Some(team),
                    },
                ),
            };
            // Recipients are read a page at a time: only their mail is held until the commit.
            let mut draft = MailDraft::message(
                &organization,
                &from,
                team.as_ref(),
                subject.clone(),
                body.clone(),
            );
            self.addressed(&mut draft, org, filter, now, as_user(actor))
                .await?;
            self.decide(now, as_user(actor), |ctx| draft.finish(ctx))
        })
    }

    /// Queues an automated notification to every administrator, for the host's own
    /// automation (for example: a delivered course is scheduled to retire) (spec: ADM-3).
    /// Returns how many emails were queued.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Store`].
    pub async fn notify_administrators(
        &self,
        org: OrganizationId,
        subject: Subject,
        body: Message,
    ) -> Result<u64> {
        retrying!(self, |now| {
            let organization = self.organization(org).await?;
            let filter = MemberFilter {
                role: Some(Role::Administrator),
                team: None,
            };
            let mut draft = MailDraft::notification(&organization, subject.clone(), body.clone());
            self.addressed(&mut draft, org, filter, now, EventActor::System)
                .await?;
            self.decide(now, EventActor::System, |ctx| draft.finish(ctx))
        })
    }

    /// Addresses `draft` to `org`'s members matching `filter`, read a page at a time.
    async fn addressed(
        &self,
        draft: &mut MailDraft,
        org: OrganizationId,
        filter: MemberFilter,
        now: DateTime<Utc>,
        actor: EventActor,
    ) -> Result<()> {
        let mut page = Page::first(Page::MAX_LIMIT);
        loop {
            let rows = self.store.members(org, filter, page).await?;
            self.decide(now, actor.clone(), |ctx| draft.address(ctx, &rows));
            match rows.last() {
                Some(last) if rows.len() >= page.len() => page = Page::after(last.id, page.limit),
                _ => return Ok(()),
            }
        }
    }

    // ----- learning activity and statistics ---------------------------------------------

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
            let (accepted, mut receipt) = check_activities(org, reported, &strangers);
            let activities: Vec<Activity> = accepted.iter().map(|(_, a)| a.clone()).collect();
            let new = match self.store.record_activities(org, &activities).await? {
                Recorded::New(new) => new,
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
                    continue;
                }
            };
            for ((index, activity), new) in accepted.into_iter().zip(new) {
                if new {
                    receipt.recorded += 1;
                } else {
                    let id = activity.id.to_string();
                    receipt
                        .rejected
                        .push((index, id.clone(), ActivityError::DuplicateId { id }));
                }
            }
            // An event refused as a repeat of an earlier one in the batch is refused as a
            // stranger's when its user is not a member, as it would have been had its user
            // been checked: the store only saw the users of the events it was given.
            let members: HashSet<UserId> = activities.iter().map(|a| a.user).collect();
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
            receipt.rejected.sort_by_key(|(index, _, _)| *index);
            return Ok(receipt);
        }
    }

    /// How many administrators `org` has, counted up to two: enough to tell whether a
    /// member is the last one (spec: ADM-5).
    async fn administrators(&self, org: OrganizationId) -> Result<u64> {
        let filter = MemberFilter {
            role: Some(Role::Administrator),
            team: None,
        };
        let rows = self.store.members(org, filter, Page::first(2)).await?;
        Ok(rows.len() as u64)
    }

    /// What `actor` needs to see statistics of `scope` (spec: STAT-2, TEAM-4): administrators
    /// and managers see everything, supervisors their own teams, members themselves.
    fn statistics_requirement(actor: &Actor, scope: StatsScope) -> (Permission, Scope) {
        match scope {
            StatsScope::Organization => {
                (Permission::ViewOrganizationAnalytics, Scope::Organization)
            }
            StatsScope::Team(team) => (Permission::ViewTeamAnalytics, Scope::Team(team)),
            StatsScope::Member(user) if user == actor.user => {
                (Permission::ViewOwnActivity, Scope::OwnedBy(user))
            }
            StatsScope::Member(_) => (Permission::ViewOrganizationAnalytics, Scope::Organization),
        }
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

    /// Statistics of one member, one team or the whole organization over a period
    /// (spec: STAT-2, TEAM-4).
    ///
    /// # Errors
    /// [`Error::Forbidden`] outside the actor's reach, [`Error::NotFound`], [`Error::Store`].
    pub async fn statistics(
        &self,
        actor: &Actor,
        org: OrganizationId,
        scope: StatsScope,
        period: Period,
    ) -> Result<Statistics> {
        let (permission, reach) = Self::statistics_requirement(actor, scope);
        self.authorized(org, actor, permission, reach).await?;
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
        let (organization, member) = self.organization_with_member(org, actor.user).await?;
        let member_teams = match &member {
            Some(m) => self.store.teams_of(org, m.id).await?,
            None => Vec::new(),
        };
        let allowed = |permission, scope| {
            permitted(
                &organization,
                member.as_ref(),
                &member_teams,
                permission,
                scope,
            )
        };
        // Checked before anything else, an empty list included (spec: ROLE-4): the actor
        // must see the figures of some team.
        let sees_teams = allowed(Permission::ViewTeamAnalytics, Scope::Organization).is_ok()
            || member_teams
                .iter()
                .any(|t| allowed(Permission::ViewTeamAnalytics, Scope::Team(*t)).is_ok());
        if !sees_teams {
            return Err(Error::Forbidden {
                permission: Permission::ViewTeamAnalytics,
            });
        }
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
            allowed(Permission::ViewTeamAnalytics, Scope::Team(*team))?;
            names.push(self.target_team(org, *team).await?.name.to_string());
        }
        let sees_all = allowed(Permission::ViewOrganizationAnalytics, Scope::Organization).is_ok();
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
        let (permission, reach) = Self::statistics_requirement(actor, scope);
        self.authorized(org, actor, permission, reach)
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

    // ----- audit trail -------------------------------------------------------------------

    /// A page of the audit trail, oldest first: who did what, when, including invitations
    /// that left the listing (spec: INV-12).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn audit_trail(
        &self,
        actor: &Actor,
        org: OrganizationId,
        page: Page,
    ) -> Result<Listing<Event>> {
        self.authorized(org, actor, Permission::ViewAuditTrail, Scope::Organization)
            .await?;
        let rows = self.store.events(org, page).await?;
        Ok(listing(rows, page, |e: &Event| e.id.as_uuid()))
    }

    // ----- mail delivery -----------------------------------------------------------------

    /// Mail that was given up, with the reason, for administrators (spec: MSG-2: nothing is
    /// dropped silently).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Store`].
    pub async fn failed_mail(
        &self,
        actor: &Actor,
        org: OrganizationId,
        page: Page,
    ) -> Result<Listing<OutboxMessage>> {
        self.authorized(org, actor, Permission::ViewAuditTrail, Scope::Organization)
            .await?;
        let rows = self.store.failed_outbox(org, page).await?;
        Ok(listing(rows, page, |m: &OutboxMessage| m.id.as_uuid()))
    }

    /// One delivery pass: claims up to `limit` due mails with a lease, sends them, marks them
    /// sent; retries transient failures later with exponential backoff and jitter; records
    /// permanent failures, and those out of attempts, as failed with their reason and an
    /// audit event (spec: INV-9, MSG-2). Run it on a timer; several instances may run it at
    /// once: a mail is sent only while the pass's claim holds it with more than
    /// [`DeliveryConfig::send_budget`] of its lease left, and only that claim can record its
    /// outcome, so two passes never both send one mail (spec: MSG-3). An invitation's link is
    /// derived again from the link key, and checked against the invitation as stored just
    /// before the mail is rendered: a mail whose link no longer opens it (or has expired) is
    /// given up with the reason (spec: INV-6, INV-13). An invitation changed between that
    /// check and the send cannot stop the mail under way; the pass counts it in
    /// [`DeliveryReport::lost_claims`].
    ///
    /// # Errors
    /// [`Error::Store`] when the outbox cannot be read or updated; a mail whose status could
    /// not be recorded is sent again later (at least once).
    pub async fn deliver_mail(&self, limit: usize) -> Result<DeliveryReport> {
        self.delivery_pass(limit, &mut || false).await
    }

    /// [`Roster::deliver_mail`], stopping between two mails once `stop` says so.
    async fn delivery_pass(
        &self,
        limit: usize,
        stop: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<DeliveryReport> {
        let claim = ClaimId::new();
        let claimed = self
            .store
            .claim_outbox(claim, self.now(), self.config.delivery.lease, limit)
            .await?;
        let mut report = DeliveryReport::default();
        let mut rows = claimed.into_iter().peekable();
        let sent = self.send_claimed(claim, &mut rows, stop, &mut report).await;
        // Whatever ended the pass (a stop, too little lease left, a store error), the rows it
        // did not start go back at once rather than wait out their lease.
        for unsent in rows {
            let released = Settlement::Released;
            match self.store.settle_outbox(claim, unsent.id, released).await {
                Ok(held) => report.count(held, &Settlement::Released),
                Err(e) if sent.is_ok() => return Err(e.into()),
                Err(_) => break,
            }
        }
        sent.map(|()| report)
    }

    /// Sends the claimed `rows` one by one, recording each, until they run out, `stop` says
    /// so, or too little of the lease is left; what it did not start stays in `rows`.
    async fn send_claimed(
        &self,
        claim: ClaimId,
        rows: &mut std::iter::Peekable<std::vec::IntoIter<OutboxMessage>>,
        stop: &mut (dyn FnMut() -> bool + Send),
        report: &mut DeliveryReport,
    ) -> Result<()> {
        while let Some(next) = rows.peek() {
            if stop() {
                return Ok(());
            }
            let Some(settlement) = self.send_one(next).await? else {
                return Ok(());
            };
            let Some(message) = rows.next() else {
                return Ok(());
            };
            let held = self
                .store
                .settle_outbox(claim, message.id, settlement.clone())
                .await?;
            report.count(held, &settlement);
            if let (true, Settlement::Failed { error }) = (held, settlement) {
                let mut changes =
                    ChangeSet::new(message.organization, OrganizationWrite::Untouched);
                let failed = EventKind::MailFailed {
                    outbox: message.id,
                    to: message.to,
                    reason: error,
                };
                let event = self.decide(self.now(), EventActor::System, |ctx| {
                    ctx.event(message.organization, failed)
                });
                changes.events.push(event);
                self.store.commit(changes).await?;
            }
        }
        Ok(())
    }

    /// Renders and sends one claimed mail: what to record of it, or `None`, unsent, when no
    /// more than [`DeliveryConfig::send_budget`] is left of its lease (spec: MSG-3).
    async fn send_one(&self, message: &OutboxMessage) -> Result<Option<Settlement>> {
        let delivery = &self.config.delivery;
        let link = match &message.content {
            MailContent::Invitation {
                invitation,
                generation,
                ..
            } => match self
                .live_link(message.organization, *invitation, *generation)
                .await?
            {
                Ok(token) => Some(token),
                Err(reason) => {
                    let error = reason.to_owned();
                    return Ok(Some(Settlement::Failed { error }));
                }
            },
            _ => None,
        };
        let email = self
            .templates
            .render(message, link.as_ref(), &self.config.mail);
        // Checked last, just before the send: all the send may take must fit in the lease.
        let left = message.lease_until.map(|until| until - self.now());
        if left.is_none_or(|left| left <= delivery.send_budget) {
            return Ok(None);
        }
        Ok(Some(match self.mailer.send(&email).await {
            Ok(()) => Settlement::Sent,
            Err(e) if e.is_transient() && message.attempts < delivery.max_attempts => {
                Settlement::Retry {
                    not_before: self.now() + backoff(delivery, message.attempts),
                    error: e.to_string(),
                }
            }
            Err(e) if e.is_transient() => Settlement::Failed {
                error: format!("gave up after {} attempts: {e}", message.attempts),
            },
            Err(e) => Settlement::Failed {
                error: e.to_string(),
            },
        }))
    }

    /// The token of the link an invitation's mail carries, derived again from the link key,
    /// when it still opens the invitation; otherwise why the mail must not go out
    /// (spec: INV-6, INV-13).
    async fn live_link(
        &self,
        org: OrganizationId,
        id: InvitationId,
        generation: u32,
    ) -> Result<std::result::Result<InvitationToken, &'static str>> {
        let Some(invitation) = self.store.invitation(org, id).await? else {
            return Ok(Err("the invitation no longer exists"));
        };
        if invitation.status != InvitationStatus::Pending {
            return Ok(Err(
                "the invitation is no longer pending: its link would not work",
            ));
        }
        if invitation.is_expired(self.now()) {
            return Ok(Err(
                "the invitation expired before its mail could be sent: resend the invitation",
            ));
        }
        let token = self.link_key.token(id, generation);
        if !invitation.token_hash.verify(&token) {
            return Ok(Err(
                "the link in this mail does not open the invitation (it was resent, or the \
                 link key changed since it was sent): resend the invitation",
            ));
        }
        Ok(Ok(token))
    }
}

impl DeliveryReport {
    /// Counts one mail as `settled`, or as a lost claim when the pass no longer `held` it.
    fn count(&mut self, held: bool, settled: &Settlement) {
        let counter = match (held, settled) {
            (false, _) => &mut self.lost_claims,
            (true, Settlement::Sent) => &mut self.sent,
            (true, Settlement::Retry { .. }) => &mut self.retried,
            (true, Settlement::Released) => &mut self.released,
            (true, Settlement::Failed { .. }) => &mut self.failed,
        };
        *counter += 1;
    }
}

/// Settings of [`Roster::run_delivery`].
#[cfg(feature = "runtime-tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime-tokio")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryLoop {
    /// Mails claimed per pass.
    pub batch: usize,
    /// The pause after a pass that found less than a full batch.
    pub interval: std::time::Duration,
}

#[cfg(feature = "runtime-tokio")]
impl Default for DeliveryLoop {
    fn default() -> Self {
        Self {
            batch: 100,
            interval: std::time::Duration::from_secs(5),
        }
    }
}

/// What [`Roster::run_delivery`] did before it stopped.
#[cfg(feature = "runtime-tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime-tokio")))]
#[derive(Debug, Default)]
pub struct DeliveryTotals {
    /// All passes added up.
    pub delivered: DeliveryReport,
    /// Passes that failed because the store did (the loop went on after a pause).
    pub store_errors: u64,
    /// The last of those errors.
    pub last_error: Option<Error>,
}

#[cfg(feature = "runtime-tokio")]
impl Roster {
    /// The ready-made delivery worker: runs [`Roster::deliver_mail`] pass after pass — at
    /// once while passes come back full, otherwise every `interval` — until `shutdown`
    /// completes. Shutdown is graceful and prompt: it is looked at between two mails, so the
    /// loop returns once the mail under way is sent and recorded, and the mails its pass
    /// claimed but did not start go back in the queue at once; a mail claimed by a worker
    /// that died is claimed again once its lease runs out (spec: INV-9, MSG-3). A failing
    /// store does not stop the loop: it pauses and tries again.
    ///
    /// Spawn it in every instance of your service; claims keep instances from sending the
    /// same mail (spec: MSG-3).
    ///
    /// ```no_run
    /// # async fn run(roster: orgroster::Roster) {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let worker = tokio::spawn({
    ///     let roster = roster.clone();
    ///     async move { roster.run_delivery(Default::default(), async { let _ = stopped.await; }).await }
    /// });
    /// // … on shutdown:
    /// let _ = stop.send(());
    /// let totals = worker.await;
    /// # }
    /// ```
    pub async fn run_delivery(
        &self,
        settings: DeliveryLoop,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> DeliveryTotals {
        let mut totals = DeliveryTotals::default();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stopping = false;
        loop {
            // Looked at between two mails, so a long pass stops after the mail under way.
            let mut stop = || {
                if !stopping {
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    stopping = shutdown.as_mut().poll(&mut cx).is_ready();
                }
                stopping
            };
            let full = match self.delivery_pass(settings.batch, &mut stop).await {
                Ok(pass) => {
                    let DeliveryReport {
                        sent,
                        retried,
                        failed,
                        released,
                        lost_claims,
                    } = pass;
                    let total = &mut totals.delivered;
                    total.sent += sent;
                    total.retried += retried;
                    total.failed += failed;
                    total.released += released;
                    total.lost_claims += lost_claims;
                    sent + retried + failed >= settings.batch as u64
                }
                Err(e) => {
                    totals.store_errors += 1;
                    totals.last_error = Some(e);
                    false
                }
            };
            if stopping {
                // The shutdown future has completed: it must not be polled again.
                return totals;
            }
            let pause = if full {
                std::time::Duration::ZERO
            } else {
                settings.interval
            };
            tokio::select! {
                biased;
                () = &mut shutdown => return totals,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// The policy's verdict for a membership and the teams it belongs to, read by the caller.
fn permitted(
    org: &Organization,
    member: Option<&Member>,
    teams: &[TeamId],
    permission: Permission,
    scope: Scope,
) -> Result<()> {
    policy::authorize(PolicySubject { member, teams }, org, permission, scope)?;
    Ok(())
}

fn administrators_one_by_one() -> Error {
    Error::Invalid(crate::domain::validation::ValidationError::Malformed {
        field: crate::domain::validation::Field::Role,
        reason: "administrators are invited one at a time with their first and last name",
    })
}

/// `base * 2^(attempts - 1)`, capped, with up to ±20% jitter so that instances that failed
/// together do not retry together.
fn backoff(config: &DeliveryConfig, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let raw = config
        .base_backoff
        .num_milliseconds()
        .saturating_mul(1_i64 << exp);
    let capped = raw.min(config.max_backoff.num_milliseconds()).max(0);
    let mut r = [0u8; 2];
    let jitter = match getrandom::fill(&mut r) {
        Ok(()) => i64::from(u16::from_le_bytes(r) % 401) - 200,
        Err(_) => 0,
    };
    Duration::milliseconds(capped + capped * jitter / 1000)
}
