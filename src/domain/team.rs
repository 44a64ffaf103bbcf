//! Teams of learners and their pages (spec: TEAM-1..3).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    ids::{OrganizationId, TeamId},
    text::{CourseId, Message, TeamName},
    validation::{Field, ValidationError},
};

/// A group of learners with its page (spec: TEAM-1, TEAM-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Its id.
    pub id: TeamId,
    /// The organization.
    pub organization: OrganizationId,
    /// Its name, unique in the organization regardless of case.
    pub name: TeamName,
    /// What its members see on their home page.
    pub page: TeamPage,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Optimistic-concurrency version; 0 means not yet stored.
    pub version: u64,
}

/// A team's page: a message and an ordered list of suggested courses (spec: TEAM-2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamPage {
    /// The message on the team's home page.
    pub message: Option<Message>,
    /// Suggested courses, in the order shown.
    pub suggested_courses: SuggestedCourses,
}

/// An ordered list of distinct course ids, at most [`SuggestedCourses::MAX`] (spec: TEAM-2,
/// ERR-3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<CourseId>", into = "Vec<CourseId>")]
pub struct SuggestedCourses(Vec<CourseId>);

impl SuggestedCourses {
    /// The most courses a page may suggest.
    pub const MAX: usize = 100;

    /// Checks the list: at most [`Self::MAX`], no course twice.
    ///
    /// # Errors
    /// [`ValidationError::TooMany`], [`ValidationError::Duplicate`].
    pub fn new(courses: Vec<CourseId>) -> Result<Self, ValidationError> {
        if courses.len() > Self::MAX {
            return Err(ValidationError::TooMany {
                field: Field::SuggestedCourses,
                count: courses.len(),
                max: Self::MAX,
            });
        }
        let mut seen = std::collections::HashSet::new();
        for course in &courses {
            if !seen.insert(course.as_str()) {
                return Err(ValidationError::Duplicate {
                    field: Field::SuggestedCourses,
                    value: course.to_string(),
                });
            }
        }
        Ok(Self(courses))
    }

    /// Parses course ids from text, then checks the list.
    ///
    /// # Errors
    /// As [`CourseId::parse`] and [`SuggestedCourses::new`].
    pub fn parse<I, S>(courses: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for course in courses {
            if parsed.len() == Self::MAX {
                return Err(ValidationError::TooMany {
                    field: Field::SuggestedCourses,
                    count: Self::MAX + 1,
                    max: Self::MAX,
                });
            }
            parsed.push(CourseId::parse(course)?);
        }
        Self::new(parsed)
    }

    /// The courses, in order.
    pub fn as_slice(&self) -> &[CourseId] {
        &self.0
    }
}

impl TryFrom<Vec<CourseId>> for SuggestedCourses {
    type Error = ValidationError;

    fn try_from(courses: Vec<CourseId>) -> Result<Self, Self::Error> {
        Self::new(courses)
    }
}

impl From<SuggestedCourses> for Vec<CourseId> {
    fn from(courses: SuggestedCourses) -> Self {
        courses.0
    }
}

use super::{
    changes::{ChangeSet, Context, Decision, OrganizationWrite, Write},
    error::DomainError,
    event::EventKind,
    member::Member,
    organization::Organization,
};

/// Every team command checks the organization's version at least: removing or demoting a
/// member, or taking a supervisor out of a team, bumps it, so a command authorized just
/// before cannot land after (spec: ROLE-4). `touch` bumps it too, for the changes that
/// others' authorizations depend on (team memberships, deletions).
fn changes(organization: &Organization, touch: bool) -> ChangeSet {
    let expected_version = organization.version;
    let write = if touch {
        OrganizationWrite::Touch { expected_version }
    } else {
        OrganizationWrite::Check { expected_version }
    };
    ChangeSet::new(organization.id, write)
}

/// Decides creating a team (spec: TEAM-1). Whether another team of the organization has the
/// name, regardless of case, only the store knows as it commits: it refuses the duplicate.
pub(crate) fn create_team(
    ctx: &mut Context<'_>,
    organization: &Organization,
    name: TeamName,
) -> Decision<Team> {
    let team = Team {
        id: TeamId::from_uuid(ctx.fresh.uuid()),
        organization: organization.id,
        name,
        page: TeamPage::default(),
        created_at: ctx.now,
        version: 0,
    };
    let mut changes = changes(organization, false);
    changes.events.push(ctx.event(
        organization.id,
        EventKind::TeamCreated {
            team: team.id,
            name: team.name.clone(),
        },
    ));
    changes.writes.push(Write::PutTeam(team.clone()));
    Decision {
        outcome: team,
        changes,
    }
}

/// Decides renaming a team (spec: TEAM-1). As for [`create_team`], the store refuses a name
/// another team of the organization has.
pub(crate) fn rename_team(
    ctx: &mut Context<'_>,
    organization: &Organization,
    mut team: Team,
    name: TeamName,
) -> Decision<Team> {
    let from = std::mem::replace(&mut team.name, name);
    let mut changes = changes(organization, false);
    changes.events.push(ctx.event(
        organization.id,
        EventKind::TeamRenamed {
            team: team.id,
            from,
            to: team.name.clone(),
        },
    ));
    changes.writes.push(Write::PutTeam(team.clone()));
    Decision {
        outcome: team,
        changes,
    }
}

/// Decides deleting a team; its members stay in the organization (spec: TEAM-1).
pub(crate) fn delete_team(
    ctx: &mut Context<'_>,
    organization: &Organization,
    team: Team,
) -> Decision<Team> {
    let mut changes = changes(organization, true);
    changes.events.push(ctx.event(
        organization.id,
        EventKind::TeamDeleted {
            team: team.id,
            name: team.name.clone(),
        },
    ));
    changes.writes.push(Write::DeleteTeam {
        team: team.id,
        expected_version: team.version,
        at: ctx.now,
    });
    Decision {
        outcome: team,
        changes,
    }
}

/// Decides putting a member of the organization in a team (`join`) or taking them out
/// (spec: TEAM-1, TEAM-3). `is_in` says whether they belong to it now.
///
/// # Errors
/// [`DomainError::AlreadyInTeam`] when joining twice, [`DomainError::NotInTeam`] when leaving a team one
/// is not in.
pub(crate) fn change_membership(
    ctx: &mut Context<'_>,
    organization: &Organization,
    team: &Team,
    member: &Member,
    is_in: bool,
    join: bool,
) -> Result<Decision<()>, DomainError> {
    let (write, kind) = match (join, is_in) {
        (true, true) => return Err(DomainError::AlreadyInTeam),
        (false, false) => return Err(DomainError::NotInTeam),
        (true, false) => (
            Write::AddTeamMember {
                team: team.id,
                member: member.id,
                at: ctx.now,
            },
            EventKind::TeamMemberAdded {
                team: team.id,
                user: member.user,
            },
        ),
        (false, true) => (
            Write::RemoveTeamMember {
                team: team.id,
                member: member.id,
                at: ctx.now,
            },
            EventKind::TeamMemberRemoved {
                team: team.id,
                user: member.user,
            },
        ),
    };
    let mut changes = changes(organization, true);
    changes.events.push(ctx.event(organization.id, kind));
    changes.writes.push(write);
    Ok(Decision {
        outcome: (),
        changes,
    })
}

/// Decides a new team page (spec: TEAM-2, TEAM-3).
pub(crate) fn set_team_page(
    ctx: &mut Context<'_>,
    organization: &Organization,
    mut team: Team,
    page: TeamPage,
) -> Decision<Team> {
    team.page = page;
    let mut changes = changes(organization, false);
    changes.events.push(ctx.event(
        organization.id,
        EventKind::TeamPageUpdated { team: team.id },
    ));
    changes.writes.push(Write::PutTeam(team.clone()));
    Decision {
        outcome: team,
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggested_courses_keep_their_order_and_refuse_duplicates() {
        // spec: TEAM-2, ERR-3
        let courses = SuggestedCourses::parse(["rust-101", "sql-201"]).unwrap();
        assert_eq!(courses.as_slice()[1].as_str(), "sql-201");
        assert!(matches!(
            SuggestedCourses::parse(["a", "b", "a"]),
            Err(ValidationError::Duplicate { .. })
        ));
        let many: Vec<String> = (0..=SuggestedCourses::MAX)
            .map(|i| format!("c{i}"))
            .collect();
        assert!(matches!(
            SuggestedCourses::parse(many),
            Err(ValidationError::TooMany { .. })
        ));
    }
}
