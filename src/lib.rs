//! orgroster
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
pub mod domain;
pub mod error;
pub mod mail;
pub mod policy;
pub mod rules;
pub mod service;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use domain::{
    bulk::{BulkLineError, ParsedPaste, RejectedEntry},
    email::EmailAddress,
    event::{Event, EventActor, EventKind},
    ids::{EventId, InvitationId, LicenseId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
    invitation::{
        Accepted, BulkInviteReport, Invitation, InvitationCreated, InvitationStatus, InvitationView,
    },
    member::{Member, MembershipStatus},
    organization::{
        Capabilities, Capability, License, LicenseKind, Organization, OrganizationCreated,
        SeatUsage,
    },
    outbox::{MailContent, OutboxMessage, OutboxStatus},
    role::{Role, RoleError, RoleSet},
    team::{SuggestedCourses, Team, TeamPage},
    text::{CourseId, Message, OrganizationName, PersonName, Profile, Subject, TeamName},
    token::{InvitationToken, TokenHash},
    validation::{Field, ValidationError},
};
pub use error::{EntityKind, Error, Result};
pub use mail::{
    DefaultTemplates, FailingMailer, MailError, MailSettings, MailTemplates, Mailer, OutgoingEmail,
    RecordingMailer,
};
pub use policy::{HostAction, Permission, Scope};
pub use service::{
    AcceptOptions, Actor, AdministratorEntry, Audience, DeliveryConfig, DeliveryReport,
    EXISTING_ACCOUNT_WARNING, InvitationPreview, Listing, Roster, RosterBuilder, RosterConfig,
};
pub use store::{DynStore, InvitationFilter, MemberFilter, MemoryStore, Page, Store, StoreError};
