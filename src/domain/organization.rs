//! Organizations, their licenses, capabilities and seat cap (spec: ORG-1..4).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ids::{LicenseId, OrganizationId},
    text::{CourseId, OrganizationName},
};

/// A customer account (spec: ORG-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Its id.
    pub id: OrganizationId,
    /// Its name, shown in invitations.
    pub name: OrganizationName,
    /// The licenses it holds (spec: ORG-1, ORG-3).
    pub licenses: Vec<License>,
    /// What its contract enables (spec: ORG-1, ORG-2, ADM-2).
    pub capabilities: Capabilities,
    /// The most members plus pending, unexpired invitations it may have (spec: ORG-4).
    /// `None` means no cap.
    pub seat_cap: Option<u32>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Optimistic-concurrency version: bumped by every change to the organization, its
    /// memberships or its invitations, so decisions that depend on counts (seat cap, last
    /// administrator) serialize per organization on every store. 0 means not yet stored.
    pub version: u64,
}

impl Organization {
    /// Whether administrator-team features are available (spec: ORG-2).
    pub fn has_administrator_team(&self) -> bool {
        !self.capabilities.legacy_integration
    }

    /// Whether the organization holds at least one license (spec: ORG-3).
    pub fn is_licensed(&self) -> bool {
        !self.licenses.is_empty()
    }

    /// Whether another administrator may join: administrator-team features available
    /// (spec: ORG-2) and a license held (spec: ORG-3).
    ///
    /// # Errors
    /// [`DomainError::LegacyIntegration`], [`DomainError::NoLicense`].
    pub(crate) fn admits_administrators(&self) -> Result<(), DomainError> {
        if !self.has_administrator_team() {
            return Err(DomainError::LegacyIntegration);
        }
        if !self.is_licensed() {
            return Err(DomainError::NoLicense);
        }
        Ok(())
    }

    /// Whether it has the given capability.
    pub fn has(&self, capability: Capability) -> bool {
        self.capabilities.has(capability)
    }

    /// When a decision must count the seats in use: `now` under a seat cap, never without
    /// one (spec: ORG-4), since no other rule reads them and counting takes time in
    /// proportion to the organization.
    pub fn seats_counted_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.seat_cap.map(|_| now)
    }
}

/// One license an organization holds (spec: ORG-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    /// Its id, used to remove it.
    pub id: LicenseId,
    /// What kind of license it is.
    pub kind: LicenseKind,
    /// When it was added.
    pub added_at: DateTime<Utc>,
}

/// The kinds of license of ORG-1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LicenseKind {
    /// A subscription plan, by its id in the host's catalogue.
    Subscription {
        /// The plan's id.
        plan: CourseId,
    },
    /// A course purchased individually.
    PurchasedCourse {
        /// The course's id.
        course: CourseId,
    },
    /// Pay-per-use licenses.
    PayPerUse,
}

impl std::fmt::Display for LicenseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Subscription { plan } => write!(f, "subscription `{plan}`"),
            Self::PurchasedCourse { course } => write!(f, "purchased course `{course}`"),
            Self::PayPerUse => f.write_str("pay-per-use"),
        }
    }
}

/// What an organization's contract enables (spec: ORG-1). Set by the host's back office.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// A legacy integration: no administrator-team features (spec: ORG-2).
    pub legacy_integration: bool,
    /// CourseCloud Legacy: administrators may invite learners (spec: ADM-2).
    pub coursecloud_legacy: bool,
    /// Pay-per-use: administrators may create pay-per-use licenses (spec: ADM-2).
    pub pay_per_use: bool,
}

impl Capabilities {
    /// These capabilities with `capability` on.
    pub fn with(mut self, capability: Capability) -> Self {
        match capability {
            Capability::LegacyIntegration => self.legacy_integration = true,
            Capability::CoursecloudLegacy => self.coursecloud_legacy = true,
            Capability::PayPerUse => self.pay_per_use = true,
        }
        self
    }

    /// Whether `capability` is on.
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::LegacyIntegration => self.legacy_integration,
            Capability::CoursecloudLegacy => self.coursecloud_legacy,
            Capability::PayPerUse => self.pay_per_use,
        }
    }
}

/// One capability, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Capability {
    /// See [`Capabilities::legacy_integration`].
    LegacyIntegration,
    /// See [`Capabilities::coursecloud_legacy`].
    CoursecloudLegacy,
    /// See [`Capabilities::pay_per_use`].
    PayPerUse,
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LegacyIntegration => "legacy_integration",
            Self::CoursecloudLegacy => "coursecloud_legacy",
            Self::PayPerUse => "pay_per_use",
        })
    }
}

/// How many seats an organization uses (spec: ORG-4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatUsage {
    /// Active members: a deactivated one takes no seat (spec: MEM-2).
    pub members: u64,
    /// Pending invitations that have not expired.
    pub pending_invitations: u64,
}

impl SeatUsage {
    /// Seats in use: active members plus pending, unexpired invitations.
    pub fn used(&self) -> u64 {
        self.members.saturating_add(self.pending_invitations)
    }
}

use super::{
    changes::{ChangeSet, Context, Decision, OrganizationWrite, Write},
    email::EmailAddress,
    error::DomainError,
    event::EventKind,
    ids::{MemberId, UserId},
    member::Member,
    role::{Role, RoleSet},
    text::Profile,
};

/// Who creates an organization: they become its first administrator.
#[derive(Debug, Clone)]
pub(crate) struct Founder {
    /// The user.
    pub user: UserId,
    /// Their verified email.
    pub email: EmailAddress,
    /// Their name.
    pub profile: Profile,
}

/// What creating an organization returns.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct OrganizationCreated {
    /// The organization.
    pub organization: Organization,
    /// Its first administrator.
    pub founder: Member,
}

/// Decides creating an organization; its creator becomes the first administrator, which
/// needs no license (spec: ORG-3 applies to administrators beyond the creator).
///
/// # Errors
/// None today; the `Result` leaves room for rules on creation.
pub(crate) fn create_organization(
    ctx: &mut Context<'_>,
    name: OrganizationName,
    founder: Founder,
) -> Result<Decision<OrganizationCreated>, DomainError> {
    let organization = Organization {
        id: OrganizationId::from_uuid(ctx.fresh.uuid()),
        name,
        licenses: Vec::new(),
        capabilities: Capabilities::default(),
        seat_cap: None,
        created_at: ctx.now,
        version: 0,
    };
    let founder = Member {
        id: MemberId::from_uuid(ctx.fresh.uuid()),
        organization: organization.id,
        user: founder.user,
        email: founder.email,
        profile: founder.profile,
        roles: RoleSet::learner().grant(Role::Administrator)?,
        joined_at: ctx.now,
        invitation: None,
        deactivated_at: None,
        metadata: None,
        version: 0,
    };
    let mut changes = ChangeSet::new(
        organization.id,
        OrganizationWrite::Put(organization.clone()),
    );
    changes.events.push(ctx.event(
        organization.id,
        EventKind::OrganizationCreated {
            name: organization.name.clone(),
            creator: founder.user,
        },
    ));
    changes.writes.push(Write::PutMember(founder.clone()));
    Ok(Decision {
        outcome: OrganizationCreated {
            organization,
            founder,
        },
        changes,
    })
}

/// Decides the back office's provisioning of an organization with no member yet: its first
/// administrator joins through an invitation the back office sends (spec: ORG-5).
pub(crate) fn provision_organization(
    ctx: &mut Context<'_>,
    name: OrganizationName,
) -> Decision<Organization> {
    let organization = Organization {
        id: OrganizationId::from_uuid(ctx.fresh.uuid()),
        name,
        licenses: Vec::new(),
        capabilities: Capabilities::default(),
        seat_cap: None,
        created_at: ctx.now,
        version: 0,
    };
    let name = organization.name.clone();
    put(
        ctx,
        organization,
        EventKind::OrganizationProvisioned { name },
    )
}

fn put(
    ctx: &mut Context<'_>,
    organization: Organization,
    kind: EventKind,
) -> Decision<Organization> {
    let mut changes = ChangeSet::new(
        organization.id,
        OrganizationWrite::Put(organization.clone()),
    );
    changes.events.push(ctx.event(organization.id, kind));
    Decision {
        outcome: organization,
        changes,
    }
}

/// Decides adding a license (back office, spec: ORG-1).
pub(crate) fn add_license(
    ctx: &mut Context<'_>,
    mut organization: Organization,
    kind: LicenseKind,
) -> Decision<Organization> {
    let license = License {
        id: LicenseId::from_uuid(ctx.fresh.uuid()),
        kind,
        added_at: ctx.now,
    };
    let event = EventKind::LicenseAdded {
        license: license.id,
        kind: license.kind.clone(),
    };
    organization.licenses.push(license);
    put(ctx, organization, event)
}

/// Decides removing a license (back office, spec: ORG-1).
///
/// # Errors
/// [`DomainError::LicenseNotFound`] when the organization holds no such license.
pub(crate) fn remove_license(
    ctx: &mut Context<'_>,
    mut organization: Organization,
    license: LicenseId,
) -> Result<Decision<Organization>, DomainError> {
    let before = organization.licenses.len();
    organization.licenses.retain(|l| l.id != license);
    if organization.licenses.len() == before {
        return Err(DomainError::LicenseNotFound);
    }
    Ok(put(
        ctx,
        organization,
        EventKind::LicenseRemoved { license },
    ))
}

/// Decides new capabilities (back office, spec: ORG-1).
pub(crate) fn set_capabilities(
    ctx: &mut Context<'_>,
    mut organization: Organization,
    capabilities: Capabilities,
) -> Decision<Organization> {
    organization.capabilities = capabilities;
    put(
        ctx,
        organization,
        EventKind::CapabilitiesChanged { capabilities },
    )
}

/// Decides renaming the organization, for an administrator (spec: ORG-5). Invitations
/// already sent keep the name they were sent with; mail queued from now on carries the new
/// one.
pub(crate) fn rename(
    ctx: &mut Context<'_>,
    mut organization: Organization,
    name: OrganizationName,
) -> Decision<Organization> {
    let from = std::mem::replace(&mut organization.name, name.clone());
    put(
        ctx,
        organization,
        EventKind::OrganizationRenamed { from, to: name },
    )
}

/// Decides a new seat cap (back office, spec: ORG-4). Lowering it below current usage is
/// allowed: existing members stay, and no new seat is taken until usage is under the cap.
pub(crate) fn set_seat_cap(
    ctx: &mut Context<'_>,
    mut organization: Organization,
    seat_cap: Option<u32>,
) -> Decision<Organization> {
    organization.seat_cap = seat_cap;
    put(ctx, organization, EventKind::SeatCapChanged { seat_cap })
}
