//! Organizations, their members and roles, administrator teams, learner teams with team
//! pages, and invitations by email: the people side of a B2B learning platform, as a library
//! your Rust service links.
//!
//! orgroster does not authenticate anyone and never stores passwords: the host service signs
//! users in and tells orgroster who acts ([`Actor`]). orgroster decides what that user may do,
//! records what changed, and queues the emails to send.
//!
//! # Quickstart
//!
//! ```
//! use orgroster::{
//!     AcceptOptions, Actor, Capabilities, Capability, EmailAddress, LicenseKind, LinkKey,
//!     MemoryStore, Profile, RecordingMailer, Role, Roster, UserId,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let mailer = RecordingMailer::new();
//! // Links are derived from a key the host keeps outside the database (here, for a demo, a
//! // fresh one; a real host loads its own: see `LinkKey`).
//! let roster = Roster::builder(MemoryStore::new(), mailer.clone(), LinkKey::generate()?).build();
//!
//! // The host's signed-in user creates an organization and becomes its first administrator.
//! let ada = Actor::new(UserId::new(), EmailAddress::parse("ada@example.com")?);
//! let org = roster
//!     .create_organization(&ada, "Analytical Engines".parse()?, Profile::parse("Ada", "Lovelace")?)
//!     .await?
//!     .organization
//!     .id;
//!
//! // The host's back office provisions a license and the capability to invite learners.
//! roster.add_license(org, LicenseKind::PayPerUse).await?;
//! roster.set_capabilities(org, Capabilities::default().with(Capability::CoursecloudLegacy)).await?;
//!
//! // Invite learners from a paste: every line gets a result.
//! let report = roster
//!     .invite_members(&ada, org, "bob@example.com, not-an-address", Role::Member, None)
//!     .await?;
//! assert_eq!((report.invited.len(), report.rejected.len()), (1, 1));
//!
//! // The invitation email goes out through the outbox, at least once.
//! roster.deliver_mail(100).await?;
//! assert_eq!(mailer.sent().len(), 1);
//!
//! // Bob follows the link from the email, signed in with the invited address.
//! let link = report.invited[0].1.token.expose();
//! let bob = Actor::new(UserId::new(), EmailAddress::parse("Bob@Example.com")?);
//! let options = AcceptOptions::new(Profile::parse("Bob", "Babbage")?);
//! let accepted = roster.accept_invitation(&bob, &link, options).await?;
//! assert_eq!(accepted.member.roles.iter().collect::<Vec<_>>(), vec![Role::Member]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # How a command flows
//!
//! Every command of [`Roster`] reads what it needs through the [`Store`] port, asks the
//! `policy` module whether the actor may act (against the membership as stored now), lets the
//! pure core in `domain` decide (a function of state, command and time that returns the
//! outcome and a change set), then commits the change set atomically. Emails are rows of that
//! same commit, delivered later by [`Roster::deliver_mail`], so none is lost when the mail
//! server is down.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | yes | `SqliteStore`: the embedded store, bundled SQLite (nothing to install) |
//! | `postgres` | no | `PostgresStore`: several service instances sharing one database |
//! | `smtp` | no | `SmtpMailer` on lettre: plain SMTP, no TLS library compiled in |
//! | `smtp-rustls` | no | `SmtpMailer` with STARTTLS or implicit TLS through rustls |
//! | `runtime-tokio` | with `sqlite`, `postgres` or `smtp` | `Roster::run_delivery`, the ready-made delivery loop |
//! | `conformance` | no | `orgroster::conformance` and `store_conformance_tests!`: the store conformance suite, for your own stores |
//!
//! [`MemoryStore`], [`RecordingMailer`] and [`FailingMailer`] are always compiled and need
//! nothing else.
//!
//! # Choosing a store
//!
//! - [`MemoryStore`]: tests, demos, and single-process hosts that keep nothing across
//!   restarts.
//! - `SqliteStore` (feature `sqlite`, on by default): one machine, one file, nothing to
//!   install.
//! - `PostgresStore` (feature `postgres`): several service instances sharing one database.
//!
//! All of them pass the same conformance suite. Write your own by implementing [`Store`] and
//! running the suite against it (feature `conformance`).
//!
//! # Errors
//!
//! Every command returns [`Error`]. Its [`Error::code`] is stable, and
//! [`Error::http_status`] is what a web host would answer:
//!
//! | code | HTTP | variant |
//! |---|---|---|
//! | `forbidden` | 403 | [`Error::Forbidden`]: the actor lacks a permission |
//! | `capability_required` | 403 | [`Error::CapabilityRequired`]: the organization's contract lacks a capability |
//! | `deactivated` | 403 | [`Error::Deactivated`]: the actor's membership is deactivated |
//! | `not_found` | 404 | [`Error::NotFound`]: no such organization, member, team, invitation, license or mail |
//! | `invalid_input` | 422 | [`Error::Invalid`]: an input broke a rule of ERR-3 |
//! | `invitation_expired` | 410 | [`Error::InvitationExpired`]: the invitation's link expired |
//! | `invitation_not_pending` | 409 | [`Error::InvitationNotPending`]: the invitation was accepted, declined or revoked |
//! | `email_mismatch` | 403 | [`Error::EmailMismatch`]: signed in with another address than the invited one |
//! | `warning_not_acknowledged` | 409 | [`Error::WarningNotAcknowledged`]: the existing-account warning must be acknowledged |
//! | `roles_not_cumulative` | 409 | [`Error::RolesNotCumulative`]: Administrator and Team Supervisor together |
//! | `role_already_held` | 409 | [`Error::RoleAlreadyHeld`]: the member holds the role already |
//! | `role_not_held` | 409 | [`Error::RoleNotHeld`]: the member does not hold the role |
//! | `learner_role_is_permanent` | 409 | [`Error::LearnerRoleIsPermanent`]: the Member role cannot be revoked |
//! | `last_administrator` | 409 | [`Error::LastAdministrator`]: the last active administrator stays |
//! | `no_license` | 409 | [`Error::NoLicense`]: administrators beyond the creator need a license |
//! | `legacy_integration` | 409 | [`Error::LegacyIntegration`]: no administrator team with a legacy integration |
//! | `seat_limit` | 409 | [`Error::SeatLimit`]: the seat cap would be exceeded |
//! | `already_member` | 409 | [`Error::AlreadyMember`]: the user is a member already |
//! | `already_invited` | 409 | [`Error::AlreadyInvited`]: a pending invitation for the address exists |
//! | `already_in_team` | 409 | [`Error::AlreadyInTeam`]: the member is in the team already |
//! | `not_in_team` | 409 | [`Error::NotInTeam`]: the member is not in the team |
//! | `vetoed` | 403 | [`Error::Vetoed`]: the host's hook refused it |
//! | `hook_failed` | 500 | [`Error::HookFailed`]: the host's hook panicked or timed out |
//! | `administrator_exists` | 409 | [`Error::AdministratorExists`]: the organization has an administrator already |
//! | `already_deactivated` | 409 | [`Error::AlreadyDeactivated`]: the member is deactivated already |
//! | `not_deactivated` | 409 | [`Error::NotDeactivated`]: the member is active |
//! | `mail_not_retriable` | 409 | [`Error::MailNotRetriable`]: the email cannot be queued again |
//! | `team_name_taken` | 409 | [`Error::TeamNameTaken`]: another team has the name |
//! | `conflict` | 409 | [`Error::Conflict`]: concurrent changes kept winning; nothing changed, try again |
//! | `randomness` | 500 | [`Error::Randomness`]: the operating system's random generator failed |
//! | `store` | 503 | [`Error::Store`]: the store failed; nothing changed |
//!
//! # The rules
//!
//! [`rules`] states every domain rule with its id (`INV-3`, `ROLE-2`…); tests cite the same
//! ids, so `grep -rn "spec: INV-3" tests src` finds the proof of a rule.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
mod domain;
mod error;
mod link_key;
mod mail;
mod policy;
mod report;
mod roster;
pub mod rules;
mod store;
mod turnstile;

pub use clock::{Clock, ManualClock, SystemClock};
pub use domain::{
    activity::{
        Activity, ActivityError, ActivityKind, ActivityReceipt, Comparison, CourseCount,
        MAX_SECONDS_PER_EVENT, MemberActivity, Period, ReportedActivity, ReportedKind, Statistics,
        StatsScope, Tally, TeamStint, WeekStats,
    },
    bulk::{BulkLineError, MAX_PASTE_BYTES, ParsedPaste, RejectedEntry},
    changes::{ChangeSet, OrganizationWrite, Write},
    email::EmailAddress,
    erasure::{Erased, Person},
    event::{Event, EventActor, EventKind},
    ids::{
        ClaimId, EventId, InvitationId, LicenseId, MemberId, OrganizationId, OutboxId, TeamId,
        UserId,
    },
    invitation::{
        Accepted, BulkInviteReport, Invitation, InvitationCreated, InvitationStatus, InvitationView,
    },
    invite_options::{InviteOptions, Lifetime, Metadata},
    member::{Member, Membership, MembershipStatus},
    organization::{
        Capabilities, Capability, License, LicenseKind, Organization, OrganizationCreated,
        SeatUsage,
    },
    outbox::{MailContent, OutboxMessage, OutboxStatus, Settlement},
    role::{Role, RoleError, RoleSet},
    team::{SuggestedCourses, Team, TeamPage},
    text::{
        ActivityId, CourseId, Message, OrganizationName, PersonName, Profile, Subject, TeamName,
    },
    token::{InvitationToken, TokenHash},
    validation::{Field, ValidationError},
};
pub use error::{BoxError, EntityKind, Error, Result};
pub use link_key::{LinkKey, LinkKeyError};
pub use mail::{
    DefaultTemplates, FailingMailer, MailError, MailSettings, MailTemplates, Mailer, OutgoingEmail,
    RecordingMailer,
};
#[cfg(feature = "smtp")]
#[cfg_attr(docsrs, doc(cfg(feature = "smtp")))]
pub use mail::{SmtpConfig, SmtpConfigError, SmtpMailer, SmtpSecurity};
pub use policy::{HostAction, Permission, Scope};
pub use report::ReportError;
pub use roster::{
    AcceptCheck, AcceptOptions, Actor, AdministratorEntry, Audience, BackOfficeUser,
    DeliveryConfig, DeliveryReport, EXISTING_ACCOUNT_WARNING, Hooks, InboxEntry, InvitationPreview,
    InviteCheck, Listing, MAX_COMPARED_TEAMS, Roster, RosterBuilder, RosterConfig, Veto,
};
#[cfg(feature = "runtime-tokio")]
pub use roster::{DeliveryLoop, DeliveryTotals};
/// The SQL driver the SQL stores use, re-exported so hosts build pools with a matching version.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sqlx;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteStore;
pub use store::{
    DynStore, InboxInvitation, InvitationContext, InvitationFilter, InvitationLookup,
    InvitationTargets, LinkContext, MemberFilter, MemoryStore, Page, Recorded, Store, StoreError,
    constraint,
};
