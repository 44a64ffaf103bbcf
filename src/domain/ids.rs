//! Identifiers: UUID v7 newtypes, so ids of different entities cannot be mixed up and sort by
//! creation time (which keyset pagination relies on).

use std::{fmt, str::FromStr};

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID, for ids that come back from storage or from the host.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies an [`Organization`](super::organization::Organization).
    OrganizationId
);
id_type!(
    /// Identifies a user account. Users belong to the host service: orgroster never stores
    /// passwords or authenticates anyone, it only refers to users by this id.
    UserId
);
id_type!(
    /// Identifies one [`Member`](super::member::Member): a user's membership in one organization.
    MemberId
);
id_type!(
    /// Identifies a [`Team`](super::team::Team) of learners.
    TeamId
);
id_type!(
    /// Identifies an [`Invitation`](super::invitation::Invitation).
    InvitationId
);
id_type!(
    /// Identifies an audit [`Event`](super::event::Event).
    EventId
);
id_type!(
    /// Identifies a row of the mail outbox; also the stable source of the mail's `Message-ID`.
    OutboxId
);
id_type!(
    /// Identifies one claim of outbox rows by a delivery pass: only the claim that holds a
    /// row can record what became of it (spec: MSG-3).
    ClaimId
);
id_type!(
    /// Identifies a [`License`](super::organization::License) held by an organization.
    LicenseId
);
