//! Roles and the set of roles a member holds (spec: ROLE-1, ROLE-2, ROLE-3).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the four roles of ROLE-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Manages members, roles, invitations and teams; every administrator has the same
    /// permissions (spec: ADM-1, ADM-2).
    Administrator,
    /// Sees the analytics of the organization and of every team.
    Manager,
    /// Manages the teams they belong to: their members, page and analytics (spec: TEAM-3).
    TeamSupervisor,
    /// A premium learner. Every member holds it (spec: ROLE-3).
    Member,
}

impl Role {
    /// Every role, in the order of ROLE-1.
    pub const ALL: [Self; 4] = [
        Self::Administrator,
        Self::Manager,
        Self::TeamSupervisor,
        Self::Member,
    ];

    pub(crate) const fn bit(self) -> u8 {
        match self {
            Self::Administrator => 1,
            Self::Manager => 2,
            Self::TeamSupervisor => 4,
            Self::Member => 8,
        }
    }

    /// The stable lowercase name used in storage and serialization.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Administrator => "administrator",
            Self::Manager => "manager",
            Self::TeamSupervisor => "team_supervisor",
            Self::Member => "member",
        }
    }

    /// Parses the name produced by [`Role::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Administrator => "Administrator",
            Self::Manager => "Manager",
            Self::TeamSupervisor => "Team Supervisor",
            Self::Member => "Member",
        })
    }
}

/// Why a change to a [`RoleSet`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoleError {
    /// Administrator and Team Supervisor are not cumulative (spec: ROLE-2).
    #[error(
        "the {requested} role cannot be held together with the {held} role; revoke {held} first"
    )]
    NotCumulative {
        /// The role already held.
        held: Role,
        /// The role that was asked for.
        requested: Role,
    },
    /// The role is already held.
    #[error("the member already holds the {role} role")]
    AlreadyHeld {
        /// The role concerned.
        role: Role,
    },
    /// The role is not held, so it cannot be revoked.
    #[error("the member does not hold the {role} role")]
    NotHeld {
        /// The role concerned.
        role: Role,
    },
    /// Every member is a learner; to take that away, remove the member (spec: ROLE-3).
    #[error("every member holds the Member role; remove the member from the organization instead")]
    LearnerRoleIsPermanent,
}

/// The roles one member holds.
///
/// The only constructors are [`RoleSet::learner`] and [`RoleSet::grant`], so a set holding
/// both Administrator and Team Supervisor cannot exist (spec: ROLE-2) and every set holds
/// Member (spec: ROLE-3).
///
/// # Examples
/// ```
/// use orgroster::{Role, RoleSet};
///
/// let admin = RoleSet::learner().grant(Role::Administrator)?.grant(Role::Manager)?;
/// assert!(admin.contains(Role::Manager));
/// assert!(admin.grant(Role::TeamSupervisor).is_err());
/// # Ok::<(), orgroster::RoleError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoleSet(u8);

impl RoleSet {
    /// The roles of a plain learner: Member only.
    pub const fn learner() -> Self {
        Self(Role::Member.bit())
    }

    /// Whether `role` is held.
    pub const fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Adds `role`. Never swaps silently: asking for Administrator while Team Supervisor is
    /// held (or the reverse) fails (spec: ROLE-2).
    ///
    /// # Errors
    /// [`RoleError::NotCumulative`], [`RoleError::AlreadyHeld`].
    pub fn grant(self, role: Role) -> Result<Self, RoleError> {
        if self.contains(role) {
            return Err(RoleError::AlreadyHeld { role });
        }
        let exclusive = match role {
            Role::Administrator => Some(Role::TeamSupervisor),
            Role::TeamSupervisor => Some(Role::Administrator),
            Role::Manager | Role::Member => None,
        };
        if let Some(held) = exclusive.filter(|held| self.contains(*held)) {
            return Err(RoleError::NotCumulative {
                held,
                requested: role,
            });
        }
        Ok(Self(self.0 | role.bit()))
    }

    /// Removes `role`.
    ///
    /// # Errors
    /// [`RoleError::NotHeld`], [`RoleError::LearnerRoleIsPermanent`].
    pub fn revoke(self, role: Role) -> Result<Self, RoleError> {
        if role == Role::Member {
            return Err(RoleError::LearnerRoleIsPermanent);
        }
        if !self.contains(role) {
            return Err(RoleError::NotHeld { role });
        }
        Ok(Self(self.0 & !role.bit()))
    }

    /// The roles held, in the order of ROLE-1.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// Rebuilds a set from stored role names through [`RoleSet::grant`], so stored data
    /// cannot smuggle in a forbidden combination. Member is always included.
    ///
    /// # Errors
    /// [`RoleError::NotCumulative`] when the roles break ROLE-2.
    pub fn from_roles(roles: impl IntoIterator<Item = Role>) -> Result<Self, RoleError> {
        roles
            .into_iter()
            .try_fold(Self::learner(), |set, role| match set.grant(role) {
                Ok(set) => Ok(set),
                Err(RoleError::AlreadyHeld { .. }) => Ok(set),
                Err(e) => Err(e),
            })
    }

    /// The stored bit pattern (Administrator 1, Manager 2, Team Supervisor 4, Member 8).
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Rebuilds a set from [`RoleSet::bits`].
    ///
    /// # Errors
    /// [`RoleError::NotCumulative`] when the bits break ROLE-2.
    pub fn from_bits(bits: u8) -> Result<Self, RoleError> {
        Self::from_roles(Role::ALL.into_iter().filter(|r| bits & r.bit() != 0))
    }
}

impl Default for RoleSet {
    fn default() -> Self {
        Self::learner()
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for role in self.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{role}")?;
        }
        Ok(())
    }
}

impl Serialize for RoleSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for RoleSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let roles = Vec::<Role>::deserialize(deserializer)?;
        Self::from_roles(roles).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn role() -> impl Strategy<Value = Role> {
        prop::sample::select(Role::ALL.to_vec())
    }

    #[test]
    fn a_learner_holds_only_the_member_role() {
        // spec: ROLE-3
        assert_eq!(
            RoleSet::learner().iter().collect::<Vec<_>>(),
            vec![Role::Member]
        );
    }

    #[test]
    fn granting_supervisor_to_an_administrator_fails_and_never_swaps() {
        // spec: ROLE-2
        let admin = RoleSet::learner().grant(Role::Administrator).unwrap();
        assert_eq!(
            admin.grant(Role::TeamSupervisor),
            Err(RoleError::NotCumulative {
                held: Role::Administrator,
                requested: Role::TeamSupervisor
            })
        );
        let sup = RoleSet::learner().grant(Role::TeamSupervisor).unwrap();
        assert_eq!(
            sup.grant(Role::Administrator),
            Err(RoleError::NotCumulative {
                held: Role::TeamSupervisor,
                requested: Role::Administrator
            })
        );
    }

    #[test]
    fn manager_combines_with_either_exclusive_role() {
        // spec: ROLE-3
        let a = RoleSet::learner()
            .grant(Role::Administrator)
            .unwrap()
            .grant(Role::Manager);
        let s = RoleSet::learner()
            .grant(Role::TeamSupervisor)
            .unwrap()
            .grant(Role::Manager);
        assert!(a.is_ok() && s.is_ok());
    }

    #[test]
    fn the_member_role_cannot_be_revoked() {
        assert_eq!(
            RoleSet::learner().revoke(Role::Member),
            Err(RoleError::LearnerRoleIsPermanent)
        );
    }

    #[test]
    fn stored_bits_with_both_exclusive_roles_are_refused() {
        // spec: ROLE-2
        assert!(RoleSet::from_bits(1 | 4 | 8).is_err());
        assert!(RoleSet::from_roles([Role::Administrator, Role::TeamSupervisor]).is_err());
    }

    proptest! {
        #[test]
        fn no_sequence_of_grants_and_revokes_yields_administrator_and_supervisor(
            ops in prop::collection::vec((any::<bool>(), role()), 0..40)
        ) {
            // spec: ROLE-2, ROLE-3
            let mut set = RoleSet::learner();
            for (grant, role) in ops {
                let next = if grant { set.grant(role) } else { set.revoke(role) };
                if let Ok(next) = next { set = next; }
                prop_assert!(!(set.contains(Role::Administrator) && set.contains(Role::TeamSupervisor)));
                prop_assert!(set.contains(Role::Member));
            }
            prop_assert_eq!(RoleSet::from_bits(set.bits()), Ok(set));
        }
    }
}
