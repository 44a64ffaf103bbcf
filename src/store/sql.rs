//! What the SQL stores share: the SQL both dialects understand, row conversions, batching,
//! migrations bookkeeping, and [`sql_store!`], the one implementation of [`Store`] that
//! `SqliteStore` and `PostgresStore` both expand with their own driver and dialect.
//!
//! Why a macro rather than generics over `sqlx::Database`: the generic bounds sqlx needs for
//! executors inside `Send` futures are higher-ranked and brittle; expanding the same body for
//! two concrete drivers keeps one piece of logic with plain, concrete types.
//!
//! [`Store`]: super::Store

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use super::{StoreError, constraint};
use crate::domain::{
    activity::StatsScope,
    email::EmailAddress,
    event::Event,
    ids::{EventId, InvitationId, MemberId, OrganizationId, OutboxId, TeamId, UserId},
    invitation::{Invitation, InvitationStatus},
    member::Member,
    organization::{Organization, SeatUsage},
    outbox::{OutboxMessage, OutboxStatus},
    role::{Role, RoleSet},
    team::{Team, TeamPage},
    text::{Message, OrganizationName, PersonName, Profile, TeamName},
    token::TokenHash,
    validation::Field,
};

pub(crate) const SELECT_ORG: &str = "SELECT id, name, licenses, capabilities, seat_cap, created_at, version \
     FROM orgroster_organizations WHERE id = $1";
pub(crate) const INSERT_ORG: &str = "INSERT INTO orgroster_organizations \
     (id, name, licenses, capabilities, seat_cap, created_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(crate) const UPDATE_ORG: &str = "UPDATE orgroster_organizations SET name = $2, licenses = $3, \
     capabilities = $4, seat_cap = $5, version = version + 1 WHERE id = $1 AND version = $6";
pub(crate) const TOUCH_ORG: &str =
    "UPDATE orgroster_organizations SET version = version + 1 WHERE id = $1 AND version = $2";
pub(crate) const ORG_EXISTS: &str = "SELECT 1 FROM orgroster_organizations WHERE id = $1";

/// The organization (`o`) and member (`m`) columns of the combined reads, prefixed so that
/// they can share a row with an invitation's (see [`JOINED_ORG`], [`JOINED_MEMBER`]).
macro_rules! org_member_columns {
    () => {
        "o.id AS o_id, o.name AS o_name, o.licenses AS o_licenses, \
         o.capabilities AS o_capabilities, o.seat_cap AS o_seat_cap, \
         o.created_at AS o_created_at, o.version AS o_version, m.id AS m_id, \
         m.organization_id AS m_organization_id, m.user_id AS m_user_id, m.email AS m_email, \
         m.first_name AS m_first_name, m.last_name AS m_last_name, m.roles AS m_roles, \
         m.joined_at AS m_joined_at, m.invitation_id AS m_invitation_id, m.version AS m_version"
    };
}
pub(crate) use org_member_columns;

/// The seats in use (spec: ORG-4: members, plus pending invitations not yet expired at
/// `$at`) of the organization `$org` as two columns, `seat_members` and `seat_pending`,
/// counted only when `$count` holds, zeros otherwise: counting takes time in proportion to
/// the organization. Every statement that counts seats counts them here.
macro_rules! seat_count_columns {
    ($org:literal, $at:literal, $($count:tt)*) => {
        concat!(
            "CASE WHEN ",
            $($count)*,
            " THEN (SELECT COUNT(*) FROM orgroster_members WHERE organization_id = ",
            $org,
            ") ELSE 0 END AS seat_members, CASE WHEN ",
            $($count)*,
            " THEN (SELECT COUNT(*) FROM orgroster_invitations WHERE organization_id = ",
            $org,
            " AND status = 'pending' AND expires_at > ",
            $at,
            ") ELSE 0 END AS seat_pending"
        )
    };
}
pub(crate) use seat_count_columns;

/// A one-row derived table `s` of [`seat_count_columns`] for organization `$1` at `$3`.
macro_rules! seat_counts {
    ($($count:tt)*) => {
        concat!(
            "(SELECT ",
            $crate::store::sql::seat_count_columns!("$1", "$3", $($count)*),
            ") AS s"
        )
    };
}
pub(crate) use seat_counts;

/// The organization `$1` and the membership of user `$4` ([`ORG_WITH_MEMBER`]) on every row
/// of the dialect's invitation-targets query (`$targets`, seats counted when the
/// organization has a seat cap); no row when there is no such organization.
macro_rules! invitation_context {
    ($($targets:tt)*) => {
        concat!(
            "SELECT om.*, t.* FROM (SELECT ",
            $crate::store::sql::org_member_columns!(),
            " FROM orgroster_organizations AS o LEFT JOIN orgroster_members AS m \
             ON m.organization_id = o.id AND m.user_id = $4 WHERE o.id = $1) AS om CROSS JOIN (",
            $($targets)*,
            ") AS t"
        )
    };
}
pub(crate) use invitation_context;

/// [`invitation_context`]'s condition for counting seats: the organization has a cap.
macro_rules! capped {
    () => {
        "EXISTS (SELECT 1 FROM orgroster_organizations WHERE id = $1 AND seat_cap IS NOT NULL)"
    };
}
pub(crate) use capped;

/// The organization `$1` and the membership of user `$2` in it.
pub(crate) const ORG_WITH_MEMBER: &str = concat!(
    "SELECT ",
    org_member_columns!(),
    " FROM orgroster_organizations AS o LEFT JOIN orgroster_members AS m \
     ON m.organization_id = o.id AND m.user_id = $2 WHERE o.id = $1"
);

/// The invitation whose token hashes to `$1`, its organization, the membership of user `$2`
/// (NULL for none) in it, when the organization caps seats, the seats in use at `$3`, and the
/// team the invitation names, if it is still there.
pub(crate) const LINK_CONTEXT: &str = concat!(
    "SELECT i.id, i.organization_id, i.email, i.invitee_first_name, i.invitee_last_name, \
     i.role, i.team_id, i.status, i.token_hash, i.invited_by, i.created_at, i.sent_at, \
     i.expires_at, i.resend_count, i.closed_at, i.closed_by, i.version, ",
    org_member_columns!(),
    ", ",
    seat_count_columns!("o.id", "$3", "o.seat_cap IS NOT NULL"),
    ", t.id AS t_id, t.organization_id AS t_organization_id, t.name AS t_name, \
     t.message AS t_message, t.suggested_courses AS t_suggested_courses, \
     t.created_at AS t_created_at, t.version AS t_version \
     FROM orgroster_invitations AS i JOIN orgroster_organizations AS o \
     ON o.id = i.organization_id LEFT JOIN orgroster_members AS m \
     ON m.organization_id = o.id AND m.user_id = $2 LEFT JOIN orgroster_teams AS t \
     ON t.id = i.team_id AND t.organization_id = i.organization_id WHERE i.token_hash = $1"
);

pub(crate) const SELECT_MEMBER: &str = "SELECT id, organization_id, user_id, email, first_name, last_name, \
     roles, joined_at, invitation_id, version FROM orgroster_members \
     WHERE organization_id = $1 AND user_id = $2";
pub(crate) const MEMBERS_PAGE: &str = "SELECT id, organization_id, user_id, email, first_name, last_name, \
     roles, joined_at, invitation_id, version FROM orgroster_members \
     WHERE organization_id = $1 AND id > $2 AND ($3 = 0 OR (roles & $3) <> 0) ORDER BY id LIMIT $4";
pub(crate) const TEAM_MEMBERS_PAGE: &str = "SELECT m.id, m.organization_id, m.user_id, m.email, \
     m.first_name, m.last_name, m.roles, m.joined_at, m.invitation_id, m.version \
     FROM orgroster_team_members tm JOIN orgroster_members m ON m.id = tm.member_id \
     WHERE tm.team_id = $1 AND tm.organization_id = $2 AND tm.member_id > $3 \
     AND ($4 = 0 OR (m.roles & $4) <> 0) ORDER BY tm.member_id LIMIT $5";
pub(crate) const INSERT_MEMBER: &str = "INSERT INTO orgroster_members (id, organization_id, user_id, email, \
     email_key, first_name, last_name, roles, joined_at, invitation_id, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)";
pub(crate) const UPDATE_MEMBER: &str = "UPDATE orgroster_members SET email = $4, email_key = $5, \
     first_name = $6, last_name = $7, roles = $8, joined_at = $9, invitation_id = $10, \
     version = version + 1 WHERE id = $1 AND organization_id = $2 AND user_id = $3 AND version = $11";
pub(crate) const DELETE_MEMBER: &str =
    "DELETE FROM orgroster_members WHERE id = $1 AND organization_id = $2 AND version = $3";
pub(crate) const TEAMS_OF: &str = "SELECT team_id FROM orgroster_team_members \
     WHERE member_id = $1 AND organization_id = $2 ORDER BY team_id";

pub(crate) const SELECT_INVITATION: &str = "SELECT id, organization_id, email, invitee_first_name, \
     invitee_last_name, role, team_id, status, token_hash, invited_by, created_at, sent_at, \
     expires_at, resend_count, closed_at, closed_by, version FROM orgroster_invitations \
     WHERE organization_id = $1 AND id = $2";
pub(crate) const INVITATIONS_PAGE: &str = "SELECT id, organization_id, email, invitee_first_name, \
     invitee_last_name, role, team_id, status, token_hash, invited_by, created_at, sent_at, \
     expires_at, resend_count, closed_at, closed_by, version FROM orgroster_invitations \
     WHERE organization_id = $1 AND id > $2 AND ($3 IS NULL OR status = $3) \
     AND ($4 IS NULL OR role = $4) ORDER BY id LIMIT $5";
pub(crate) const UPDATE_INVITATION: &str = "UPDATE orgroster_invitations SET email = $3, email_key = $4, \
     invitee_first_name = $5, invitee_last_name = $6, role = $7, team_id = $8, status = $9, \
     token_hash = $10, invited_by = $11, created_at = $12, sent_at = $13, expires_at = $14, \
     resend_count = $15, closed_at = $16, closed_by = $17, version = version + 1 \
     WHERE id = $1 AND organization_id = $2 AND version = $18";
pub(crate) const INVITATION_INSERT_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "email",
    "email_key",
    "invitee_first_name",
    "invitee_last_name",
    "role",
    "team_id",
    "status",
    "token_hash",
    "invited_by",
    "created_at",
    "sent_at",
    "expires_at",
    "resend_count",
    "closed_at",
    "closed_by",
    "version",
];
/// The seats in use of organization `$1` at `$2`, always counted.
pub(crate) const SEAT_USAGE: &str = concat!("SELECT ", seat_count_columns!("$1", "$2", "TRUE"));

pub(crate) const SELECT_TEAM: &str = "SELECT id, organization_id, name, message, suggested_courses, \
     created_at, version FROM orgroster_teams WHERE organization_id = $1 AND id = $2";
pub(crate) const TEAMS_PAGE: &str = "SELECT id, organization_id, name, message, suggested_courses, \
     created_at, version FROM orgroster_teams WHERE organization_id = $1 AND id > $2 \
     ORDER BY id LIMIT $3";
pub(crate) const INSERT_TEAM: &str = "INSERT INTO orgroster_teams (id, organization_id, name, name_key, \
     message, suggested_courses, created_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1)";
pub(crate) const UPDATE_TEAM: &str = "UPDATE orgroster_teams SET name = $3, name_key = $4, message = $5, \
     suggested_courses = $6, version = version + 1 \
     WHERE id = $1 AND organization_id = $2 AND version = $7";
pub(crate) const DELETE_TEAM: &str =
    "DELETE FROM orgroster_teams WHERE id = $1 AND organization_id = $2 AND version = $3";
pub(crate) const ADD_TEAM_MEMBER: &str = "INSERT INTO orgroster_team_members (team_id, member_id, \
     organization_id) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM orgroster_teams \
     WHERE id = $1 AND organization_id = $3) AND EXISTS (SELECT 1 FROM orgroster_members \
     WHERE id = $2 AND organization_id = $3)";
/// [`ADD_TEAM_MEMBER`] for a member the same commit inserts, earlier: only the team is
/// checked (the member is in the organization by construction, and its foreign key holds
/// at the end of the statement), so it reads nothing the commit writes and PostgreSQL can
/// run it in the commit's one statement.
pub(crate) const ADD_NEW_MEMBER_TO_TEAM: &str = "INSERT INTO orgroster_team_members (team_id, \
     member_id, organization_id) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM orgroster_teams \
     WHERE id = $1 AND organization_id = $3)";
pub(crate) const REMOVE_TEAM_MEMBER: &str = "DELETE FROM orgroster_team_members \
     WHERE team_id = $1 AND member_id = $2 AND organization_id = $3";

pub(crate) const EVENTS_PAGE: &str = "SELECT id, organization_id, at, actor, kind FROM orgroster_events \
     WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3";
pub(crate) const EVENT_INSERT_COLUMNS: &[&str] = &["id", "organization_id", "at", "actor", "kind"];

pub(crate) const OUTBOX_INSERT_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "recipient",
    "content",
    "invitation_id",
    "status",
    "attempts",
    "created_at",
    "due_at",
    "lease_until",
    "last_error",
];
/// Settles a row for the claim `$2` that holds it (spec: MSG-3): the transport took it.
pub(crate) const SETTLE_SENT: &str = "UPDATE orgroster_outbox SET status = 'sent', \
     lease_until = NULL, claim = NULL WHERE id = $1 AND claim = $2 AND status = 'pending'";
/// … put back for `$3`, with the error `$4`.
pub(crate) const SETTLE_RETRY: &str = "UPDATE orgroster_outbox SET due_at = $3, \
     last_error = $4, lease_until = NULL, claim = NULL \
     WHERE id = $1 AND claim = $2 AND status = 'pending'";
/// … given up with the error `$3`.
pub(crate) const SETTLE_FAILED: &str = "UPDATE orgroster_outbox SET status = 'failed', \
     last_error = $3, lease_until = NULL, claim = NULL \
     WHERE id = $1 AND claim = $2 AND status = 'pending'";
/// … not attempted: back at once, the claim's attempt not counted.
pub(crate) const SETTLE_RELEASED: &str = "UPDATE orgroster_outbox SET attempts = attempts - 1, \
     lease_until = NULL, claim = NULL WHERE id = $1 AND claim = $2 AND status = 'pending'";
/// Withdraws the pending mail of invitation `$1` of organization `$2` (spec: INV-13).
pub(crate) const WITHDRAW_INVITATION_MAIL: &str = "DELETE FROM orgroster_outbox \
     WHERE invitation_id = $1 AND organization_id = $2 AND status = 'pending'";
pub(crate) const FAILED_OUTBOX_PAGE: &str = "SELECT id, organization_id, recipient, content, \
     status, attempts, created_at, due_at, lease_until, last_error FROM orgroster_outbox \
     WHERE organization_id = $1 AND status = 'failed' AND id > $2 ORDER BY id LIMIT $3";

/// Opens a stint, starting no earlier than the member's last stint in the team ended, so
/// that stints never overlap even when instances' clocks disagree (spec: TEAM-4): the
/// aggregate always yields one row, `NULL` when there was no stint.
pub(crate) const OPEN_STINT: &str = "INSERT INTO orgroster_team_stints (organization_id, team_id, \
     user_id, joined_at, left_at) SELECT $3, $1, m.user_id, \
     CASE WHEN p.last > $4 THEN p.last ELSE $4 END, NULL FROM orgroster_members AS m \
     CROSS JOIN (SELECT MAX(s.left_at) AS last FROM orgroster_team_stints AS s \
     WHERE s.organization_id = $3 AND s.team_id = $1 \
     AND s.user_id = (SELECT user_id FROM orgroster_members WHERE id = $2)) AS p \
     WHERE m.id = $2 AND m.organization_id = $3";
/// [`OPEN_STINT`] for a member the same commit inserts: its user (`$3`) bound, not read (the
/// user may have been in the team under an earlier membership).
pub(crate) const OPEN_NEW_MEMBER_STINT: &str = "INSERT INTO orgroster_team_stints \
     (organization_id, team_id, user_id, joined_at, left_at) \
     SELECT $1, $2, $3, CASE WHEN p.last > $4 THEN p.last ELSE $4 END, NULL \
     FROM (SELECT MAX(left_at) AS last FROM orgroster_team_stints \
     WHERE organization_id = $1 AND team_id = $2 AND user_id = $3) AS p";
/// Closes a stint, ending no earlier than it began (spec: TEAM-4).
pub(crate) const CLOSE_STINT: &str = "UPDATE orgroster_team_stints \
     SET left_at = CASE WHEN joined_at > $4 THEN joined_at ELSE $4 END \
     WHERE team_id = $1 AND organization_id = $3 AND left_at IS NULL \
     AND user_id = (SELECT user_id FROM orgroster_members WHERE id = $2)";
pub(crate) const CLOSE_TEAM_STINTS: &str = "UPDATE orgroster_team_stints \
     SET left_at = CASE WHEN joined_at > $3 THEN joined_at ELSE $3 END \
     WHERE team_id = $1 AND organization_id = $2 AND left_at IS NULL";
pub(crate) const CLOSE_MEMBER_STINTS: &str = "UPDATE orgroster_team_stints \
     SET left_at = CASE WHEN joined_at > $3 THEN joined_at ELSE $3 END \
     WHERE organization_id = $2 AND left_at IS NULL \
     AND user_id = (SELECT user_id FROM orgroster_members WHERE id = $1)";

pub(crate) const ACTIVITY_INSERT_COLUMNS: &[&str] = &[
    "organization_id",
    "id",
    "user_id",
    "course",
    "kind",
    "value",
    "at",
];

/// Counts of one scope; `{events}` is replaced by [`scope_events`] with `$4`.
pub(crate) const STATS_TOTALS: &str = "SELECT COUNT(DISTINCT user_id), \
     CAST(COALESCE(SUM(CASE WHEN kind = 'enrolled' THEN 1 ELSE 0 END), 0) AS BIGINT), \
     CAST(COALESCE(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
     CAST(COALESCE(SUM(CASE WHEN kind = 'certificate' THEN 1 ELSE 0 END), 0) AS BIGINT), \
     CAST(COALESCE(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 END), 0) AS BIGINT) \
     FROM {events} e";
pub(crate) const STATS_COURSES: &str = "SELECT course, COUNT(DISTINCT user_id) AS learners \
     FROM {events} e GROUP BY course ORDER BY learners DESC, course{bytewise} LIMIT 5";
/// Weeks counted from Monday 1970-01-05 00:00 UTC (345,600 s after the epoch), rounding
/// down for earlier times too, as `Period::week_of` does.
pub(crate) const STATS_WEEKS: &str = "SELECT w, COUNT(DISTINCT user_id), \
     CAST(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 END) AS BIGINT), \
     CAST(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 END) AS BIGINT) \
     FROM (SELECT user_id, kind, value, \
       (at - 345600000000) / 604800000000 \
       - CASE WHEN at < 345600000000 AND (at - 345600000000) % 604800000000 <> 0 THEN 1 ELSE 0 END AS w \
       FROM {events} e) weeks \
     GROUP BY w ORDER BY w";
pub(crate) const STATS_MEMBERS_ORG: &str = "SELECT COUNT(*) FROM orgroster_members \
     WHERE organization_id = $1 AND joined_at < $3 AND $2 < $3";
/// The users with a stint in team `$4` during the period, as [`TeamStint::overlaps`] says.
///
/// [`TeamStint::overlaps`]: crate::domain::activity::TeamStint::overlaps
pub(crate) const STATS_MEMBERS_TEAM: &str = "SELECT COUNT(DISTINCT user_id) FROM orgroster_team_stints \
     WHERE organization_id = $1 AND team_id = $4 AND joined_at < $3 \
     AND (left_at IS NULL OR (left_at > $2 AND left_at > joined_at))";
pub(crate) const STATS_MEMBERS_MEMBER: &str = "SELECT COUNT(*) FROM orgroster_members \
     WHERE organization_id = $1 AND user_id = $4 AND joined_at < $3 AND $2 < $3";
pub(crate) const STATS_INVITED_ORG: &str = "SELECT COUNT(*) FROM orgroster_invitations \
     WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3";
pub(crate) const STATS_INVITED_TEAM: &str = "SELECT COUNT(*) FROM orgroster_invitations \
     WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 AND team_id = $4";
pub(crate) const STATS_INVITED_MEMBER: &str = "SELECT COUNT(*) FROM orgroster_invitations \
     WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 AND email_key = \
     (SELECT email_key FROM orgroster_members WHERE organization_id = $1 AND user_id = $4)";
/// The (team, user) pairs of the teams in the JSON list `$4` with a stint during the period,
/// as in [`STATS_MEMBERS_TEAM`].
const TEAM_USERS: &str = "SELECT DISTINCT team_id, user_id FROM orgroster_team_stints \
     WHERE organization_id = $1 AND joined_at < $3 \
     AND (left_at IS NULL OR (left_at > $2 AND left_at > joined_at)) AND team_id IN ({teams})";

/// One period of an organization's events, read from the covering time index.
const PERIOD_EVENTS: &str =
    "FROM orgroster_activities WHERE organization_id = $1 AND at >= $2 AND at < $3";

/// The week of `at`, as in [`STATS_WEEKS`].
const WEEK_OF_AT: &str = "(at - 345600000000) / 604800000000 \
     - CASE WHEN at < 345600000000 AND (at - 345600000000) % 604800000000 <> 0 THEN 1 ELSE 0 END";

/// Joins each event `u` of the period to the stint, in one of the teams of the JSON list
/// `$4`, that its member was in at its time (spec: TEAM-4).
///
/// One scan of the period's events, each looking its member's stints up by
/// `(organization_id, user_id)`; `CROSS JOIN` makes SQLite keep that order. Joining the
/// events to a subquery of the teams' members instead left SQLite, whose planner assumes few
/// rows without `ANALYZE` statistics, scanning the members once per event of the period.
/// A member's stints in one team never overlap (a stint opens only when none is open, no
/// earlier than the last one closed, and closes no earlier than it opened: [`OPEN_STINT`],
/// [`CLOSE_STINT`]), so an event meets at most one stint per team.
const TEAM_STINTS: &str = "CROSS JOIN orgroster_team_stints s \
     WHERE s.organization_id = $1 AND s.user_id = u.user_id AND s.joined_at <= u.at \
     AND (s.left_at IS NULL OR s.left_at > u.at) AND s.team_id IN ({teams})";

/// Per-team counts: team, learners, enrolments, completions, certificates, seconds.
pub(crate) fn teams_totals_sql(teams: &str) -> String {
    format!(
        "SELECT s.team_id, COUNT(DISTINCT u.user_id), \
         CAST(COALESCE(SUM(CASE WHEN u.kind = 'enrolled' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN u.kind = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN u.kind = 'certificate' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN u.kind = 'time_spent' THEN u.value ELSE 0 END), 0) AS BIGINT) \
         FROM (SELECT user_id, kind, value, at {PERIOD_EVENTS}) u {} \
         GROUP BY s.team_id",
        TEAM_STINTS.replace("{teams}", teams)
    )
}

/// Per-team, per-course learners: team, course, learners.
pub(crate) fn teams_courses_sql(teams: &str) -> String {
    format!(
        "SELECT s.team_id, u.course, COUNT(DISTINCT u.user_id) FROM \
         (SELECT user_id, course, at {PERIOD_EVENTS}) u {} \
         GROUP BY s.team_id, u.course",
        TEAM_STINTS.replace("{teams}", teams)
    )
}

/// Per-team weeks: team, week, learners, completions, seconds.
pub(crate) fn teams_weeks_sql(teams: &str) -> String {
    format!(
        "SELECT s.team_id, u.w, COUNT(DISTINCT u.user_id), \
         CAST(SUM(CASE WHEN u.kind = 'completed' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN u.kind = 'time_spent' THEN u.value ELSE 0 END) AS BIGINT) \
         FROM (SELECT user_id, kind, value, at, {WEEK_OF_AT} AS w {PERIOD_EVENTS}) u {} \
         GROUP BY s.team_id, u.w",
        TEAM_STINTS.replace("{teams}", teams)
    )
}

/// Per-team members: team, members.
pub(crate) fn teams_members_sql(teams: &str) -> String {
    format!(
        "SELECT team_id, COUNT(DISTINCT user_id) FROM ({}) s GROUP BY team_id",
        TEAM_USERS.replace("{teams}", teams)
    )
}

/// Per-team invitations sent in the period: team, invited.
pub(crate) fn teams_invited_sql(teams: &str) -> String {
    format!(
        "SELECT team_id, COUNT(*) FROM orgroster_invitations WHERE organization_id = $1 \
         AND created_at >= $2 AND created_at < $3 AND team_id IN ({teams}) GROUP BY team_id"
    )
}

/// `{scope}` is replaced by [`scope_members`] and `{clip}` by [`scope_clip`], both with `$6`;
/// `{by_member}` by the dialect's hint for the per-member index.
///
/// The page of members is chosen first, then each of its members' events is read through
/// the `(organization_id, user_id, at)` index: a page costs what its members did, not what
/// the whole organization did in the period (spec: STAT-4).
pub(crate) const MEMBER_ACTIVITY_PAGE: &str = "WITH page AS (SELECT id, user_id, email, \
     first_name, last_name FROM orgroster_members \
     WHERE organization_id = $1 AND id > $4{scope} ORDER BY id LIMIT $5) \
     SELECT p.id, p.user_id, p.email, p.first_name, p.last_name, \
     CAST(COALESCE(SUM(CASE WHEN a.kind = 'enrolled' THEN 1 ELSE 0 END), 0) AS BIGINT) AS enrolments, \
     CAST(COALESCE(SUM(CASE WHEN a.kind = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS completions, \
     CAST(COALESCE(SUM(CASE WHEN a.kind = 'certificate' THEN 1 ELSE 0 END), 0) AS BIGINT) AS certificates, \
     CAST(COALESCE(SUM(CASE WHEN a.kind = 'time_spent' THEN a.value ELSE 0 END), 0) AS BIGINT) AS seconds, \
     MAX(a.at) AS last_active \
     FROM page p LEFT JOIN orgroster_activities AS a{by_member} ON a.organization_id = $1 \
     AND a.user_id = p.user_id AND a.at >= $2 AND a.at < $3{clip} \
     GROUP BY p.id, p.user_id, p.email, p.first_name, p.last_name ORDER BY p.id";

/// The events a scope counts over the period `$2..$3` of organization `$1`, as a subquery
/// with the columns `user_id, course, kind, value, at`; a team's or member's id is `$n`.
/// `by_member` is the dialect's hint for the per-member index.
///
/// A member's events are read through the `(organization_id, user_id, at)` index, and a
/// team's by the same index, member by member, within each of their stints (spec: TEAM-4):
/// neither costs in proportion to the rest of the organization's activity.
pub(crate) fn scope_events(scope: StatsScope, n: usize, by_member: &str) -> String {
    match scope {
        StatsScope::Organization => {
            format!("(SELECT user_id, course, kind, value, at {PERIOD_EVENTS})")
        }
        StatsScope::Member(_) => format!(
            "(SELECT user_id, course, kind, value, at FROM orgroster_activities{by_member} \
             WHERE organization_id = $1 AND user_id = ${n} AND at >= $2 AND at < $3)"
        ),
        StatsScope::Team(_) => format!(
            "(SELECT a.user_id, a.course, a.kind, a.value, a.at \
             FROM orgroster_team_stints s CROSS JOIN orgroster_activities AS a{by_member} \
             WHERE s.organization_id = $1 AND s.team_id = ${n} AND s.joined_at < $3 \
             AND (s.left_at IS NULL OR s.left_at > $2) \
             AND a.organization_id = $1 AND a.user_id = s.user_id AND a.at >= $2 AND a.at < $3 \
             AND a.at >= s.joined_at AND (s.left_at IS NULL OR a.at < s.left_at))"
        ),
    }
}

/// The condition that keeps the members (`user_id`) of a scope, with the scope's id as `$n`;
/// empty for the whole organization. A team holds those with a stint during the period.
pub(crate) fn scope_members(scope: StatsScope, n: usize) -> String {
    match scope {
        StatsScope::Organization => String::new(),
        StatsScope::Team(_) => format!(
            " AND user_id IN (SELECT user_id FROM orgroster_team_stints \
             WHERE organization_id = $1 AND team_id = ${n} AND joined_at < $3 \
             AND (left_at IS NULL OR (left_at > $2 AND left_at > joined_at)))"
        ),
        StatsScope::Member(_) => format!(" AND user_id = ${n}"),
    }
}

/// The condition that keeps a team's events `a` to the stints of their member in the team
/// (spec: TEAM-4), with the team's id as `$n`; empty for the other scopes.
pub(crate) fn scope_clip(scope: StatsScope, n: usize) -> String {
    match scope {
        StatsScope::Team(_) => format!(
            " AND EXISTS (SELECT 1 FROM orgroster_team_stints s WHERE s.organization_id = $1 \
             AND s.team_id = ${n} AND s.user_id = a.user_id AND s.joined_at <= a.at \
             AND (s.left_at IS NULL OR s.left_at > a.at))"
        ),
        StatsScope::Organization | StatsScope::Member(_) => String::new(),
    }
}

/// The id a scope binds, if any.
pub(crate) fn scope_id(scope: StatsScope) -> Option<Uuid> {
    match scope {
        StatsScope::Organization => None,
        StatsScope::Team(team) => Some(team.as_uuid()),
        StatsScope::Member(user) => Some(user.as_uuid()),
    }
}

/// A count column as an unsigned number.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The Monday that starts week `w` (see [`STATS_WEEKS`]).
pub(crate) fn week_start(w: i64) -> Result<DateTime<Utc>, StoreError> {
    time(
        w.saturating_mul(604_800_000_000)
            .saturating_add(345_600_000_000),
    )
}

pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS _orgroster_migrations (\
     version BIGINT PRIMARY KEY NOT NULL, description TEXT NOT NULL, checksum TEXT NOT NULL, \
     applied_at BIGINT NOT NULL)";
pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version, checksum FROM _orgroster_migrations ORDER BY version";
pub(crate) const RECORD_MIGRATION: &str = "INSERT INTO _orgroster_migrations \
     (version, description, checksum, applied_at) VALUES ($1, $2, $3, $4)";

/// Rows per multi-row `INSERT`: under SQLite's 32,766 and PostgreSQL's 65,535 bind
/// parameters for the widest batched table (18 columns).
pub(crate) const BATCH_ROWS: usize = 1000;

/// `INSERT INTO table (cols) VALUES ($1, …), (…)` for `rows` rows, or with anonymous `?`
/// placeholders (SQLite: binding them costs nothing per name, unlike `$N`).
pub(crate) fn insert_many(table: &str, columns: &[&str], rows: usize, anonymous: bool) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..columns.len() {
            if col > 0 {
                sql.push_str(", ");
            }
            n += 1;
            if anonymous {
                sql.push('?');
            } else {
                sql.push('$');
                sql.push_str(&n.to_string());
            }
        }
        sql.push(')');
    }
    sql
}

/// One migration: version, description and SQL.
pub(crate) type Migration = (i64, &'static str, &'static str);

/// The SHA-256 of a migration's SQL, to notice a migration edited after it was applied.
pub(crate) fn checksum(sql: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Time as stored: microseconds since the Unix epoch.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn corrupt(backend: &'static str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        backend,
        source: format!("stored data is not valid: {what}").into(),
    }
}

pub(crate) fn backend(
    backend: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Backend {
        backend,
        source: Box::new(e),
    }
}

/// Maps a uniqueness violation to the rule it broke, from the constraint name (PostgreSQL) or
/// from the table and columns in the message (SQLite, which reports no name for indexes).
pub(crate) fn unique_rule(name: Option<&str>, message: &str) -> &'static str {
    let known = [
        constraint::ONE_MEMBER_PER_USER,
        constraint::ONE_MEMBER_PER_EMAIL,
        constraint::ONE_PENDING_PER_EMAIL,
        constraint::UNIQUE_TOKEN,
        constraint::UNIQUE_TEAM_NAME,
        constraint::ONE_TEAM_MEMBERSHIP,
    ];
    if let Some(rule) = name.and_then(|n| known.into_iter().find(|k| *k == n)) {
        return rule;
    }
    let by_columns = [
        ("orgroster_members.user_id", constraint::ONE_MEMBER_PER_USER),
        (
            "orgroster_members.email_key",
            constraint::ONE_MEMBER_PER_EMAIL,
        ),
        (
            "orgroster_invitations.email_key",
            constraint::ONE_PENDING_PER_EMAIL,
        ),
        ("orgroster_invitations.token_hash", constraint::UNIQUE_TOKEN),
        ("orgroster_teams.name_key", constraint::UNIQUE_TEAM_NAME),
        (
            "orgroster_team_members.member_id",
            constraint::ONE_TEAM_MEMBERSHIP,
        ),
    ];
    by_columns
        .into_iter()
        .find(|(cols, _)| message.contains(cols))
        .map_or(constraint::PRIMARY_KEY, |(_, rule)| rule)
}

/// Maps a driver error: uniqueness to [`StoreError::Duplicate`], missing references to
/// [`StoreError::Missing`], everything else to [`StoreError::Backend`] with the driver error
/// kept as its source.
pub(crate) fn map_error(name: &'static str, e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Duplicate {
                constraint: unique_rule(db.constraint(), db.message()),
            };
        }
        if db.is_foreign_key_violation() {
            return StoreError::Missing {
                entity: "referenced row",
            };
        }
    }
    backend(name, e)
}

/// Reads one column, mapping a decoding failure to a corrupt-data error.
pub(crate) fn get<'r, R, T>(row: &'r R, column: &'static str) -> Result<T, StoreError>
where
    R: Row,
    T: Decode<'r, R::Database> + Type<R::Database>,
    &'static str: ColumnIndex<R>,
{
    row.try_get(column)
        .map_err(|e| corrupt("sql", format!("column `{column}`: {e}")))
}

pub(crate) fn time(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt("sql", "timestamp out of range"))
}

fn opt_time(us: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    us.map(time).transpose()
}

fn version(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt("sql", "negative version"))
}

fn parsed<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| corrupt("sql", e))
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    parsed(serde_json::from_str(text))
}

/// JSON text of a value whose serialization cannot fail (plain data, string keys).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt("sql", e))
}

macro_rules! row_fn {
    ($(#[$doc:meta])* $name:ident -> $ty:ty, |$row:ident| $body:expr) => {
        row_fn!($(#[$doc])* $name() -> $ty, |$row| $body);
    };
    ($(#[$doc:meta])* $name:ident($($param:ident: $pty:ty),*) -> $ty:ty, |$row:ident| $body:expr) => {
        $(#[$doc])*
        pub(crate) fn $name<R>($row: &R, $($param: $pty),*) -> Result<$ty, StoreError>
        where
            R: Row,
            for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
            for<'r> Option<Uuid>: Decode<'r, R::Database>,
            for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
            for<'r> Option<i64>: Decode<'r, R::Database>,
            for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
            for<'r> Option<String>: Decode<'r, R::Database>,
            for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
            &'static str: ColumnIndex<R>,
        {
            $body
        }
    };
}

/// The columns an organization is read from.
pub(crate) struct OrgColumns {
    id: &'static str,
    name: &'static str,
    licenses: &'static str,
    capabilities: &'static str,
    seat_cap: &'static str,
    created_at: &'static str,
    version: &'static str,
}

/// A row of the organizations table.
const ORG: OrgColumns = OrgColumns {
    id: "id",
    name: "name",
    licenses: "licenses",
    capabilities: "capabilities",
    seat_cap: "seat_cap",
    created_at: "created_at",
    version: "version",
};

/// The organization of a combined read ([`org_member_columns`]).
const JOINED_ORG: OrgColumns = OrgColumns {
    id: "o_id",
    name: "o_name",
    licenses: "o_licenses",
    capabilities: "o_capabilities",
    seat_cap: "o_seat_cap",
    created_at: "o_created_at",
    version: "o_version",
};

/// The columns a member is read from.
pub(crate) struct MemberColumns {
    id: &'static str,
    organization_id: &'static str,
    user_id: &'static str,
    email: &'static str,
    first_name: &'static str,
    last_name: &'static str,
    roles: &'static str,
    joined_at: &'static str,
    invitation_id: &'static str,
    version: &'static str,
}

/// A row of the members table.
const MEMBER: MemberColumns = MemberColumns {
    id: "id",
    organization_id: "organization_id",
    user_id: "user_id",
    email: "email",
    first_name: "first_name",
    last_name: "last_name",
    roles: "roles",
    joined_at: "joined_at",
    invitation_id: "invitation_id",
    version: "version",
};

/// The membership of a combined read ([`org_member_columns`]); NULLs for none.
const JOINED_MEMBER: MemberColumns = MemberColumns {
    id: "m_id",
    organization_id: "m_organization_id",
    user_id: "m_user_id",
    email: "m_email",
    first_name: "m_first_name",
    last_name: "m_last_name",
    roles: "m_roles",
    joined_at: "m_joined_at",
    invitation_id: "m_invitation_id",
    version: "m_version",
};

row_fn!(
    /// An organization from a row of the organizations table.
    organization_from -> Organization, |row| organization_in(row, &ORG)
);

row_fn!(
    /// The organization and the membership of a combined read ([`org_member_columns`]).
    organization_with_member -> (Organization, Option<Member>), |row| {
        let member = match get::<_, Option<Uuid>>(row, JOINED_MEMBER.id)? {
            Some(_) => Some(member_in(row, &JOINED_MEMBER)?),
            None => None,
        };
        Ok((organization_in(row, &JOINED_ORG)?, member))
    }
);

row_fn!(
    /// The seats in use of a row with `seat_members` and `seat_pending` counts.
    seats_in -> SeatUsage, |row| Ok(seat_usage(get(row, "seat_members")?, get(row, "seat_pending")?))
);

row_fn!(
    /// An organization from the columns `c` of a row.
    organization_in(c: &OrgColumns) -> Organization, |row| Ok(Organization {
        id: OrganizationId::from_uuid(get(row, c.id)?),
        name: parsed(OrganizationName::parse(get::<_, String>(row, c.name)?))?,
        licenses: json(&get::<_, String>(row, c.licenses)?)?,
        capabilities: json(&get::<_, String>(row, c.capabilities)?)?,
        seat_cap: get::<_, Option<i64>>(row, c.seat_cap)?
            .map(|c| u32::try_from(c).map_err(|_| corrupt("sql", "seat cap out of range")))
            .transpose()?,
        created_at: time(get(row, c.created_at)?)?,
        version: version(get(row, c.version)?)?,
    })
);

row_fn!(
    /// A member from a row of the members table.
    member_from -> Member, |row| member_in(row, &MEMBER)
);

row_fn!(
    /// A member from the columns `c` of a row.
    member_in(c: &MemberColumns) -> Member, |row| Ok(Member {
        id: MemberId::from_uuid(get(row, c.id)?),
        organization: OrganizationId::from_uuid(get(row, c.organization_id)?),
        user: UserId::from_uuid(get(row, c.user_id)?),
        email: parsed(EmailAddress::parse(get::<_, String>(row, c.email)?))?,
        profile: Profile {
            first_name: parsed(PersonName::parse_as(get::<_, String>(row, c.first_name)?, Field::FirstName))?,
            last_name: parsed(PersonName::parse_as(get::<_, String>(row, c.last_name)?, Field::LastName))?,
        },
        roles: parsed(RoleSet::from_bits(
            u8::try_from(get::<_, i64>(row, c.roles)?).map_err(|_| corrupt("sql", "roles out of range"))?,
        ))?,
        joined_at: time(get(row, c.joined_at)?)?,
        invitation: get::<_, Option<Uuid>>(row, c.invitation_id)?.map(InvitationId::from_uuid),
        version: version(get(row, c.version)?)?,
    })
);

row_fn!(
    /// An invitation from a row of the invitations table.
    invitation_from -> Invitation, |row| {
        let first = get::<_, Option<String>>(row, "invitee_first_name")?;
        let last = get::<_, Option<String>>(row, "invitee_last_name")?;
        let invitee = match (first, last) {
            (Some(f), Some(l)) => Some(parsed(Profile::parse(f, l))?),
            _ => None,
        };
        let hash: Vec<u8> = get(row, "token_hash")?;
        let hash: [u8; 32] = hash.try_into().map_err(|_| corrupt("sql", "token hash is not 32 bytes"))?;
        let role = get::<_, String>(row, "role")?;
        let status = get::<_, String>(row, "status")?;
        Ok(Invitation {
            id: InvitationId::from_uuid(get(row, "id")?),
            organization: OrganizationId::from_uuid(get(row, "organization_id")?),
            email: parsed(EmailAddress::parse(get::<_, String>(row, "email")?))?,
            invitee,
            role: Role::from_name(&role).ok_or_else(|| corrupt("sql", "unknown role"))?,
            team: get::<_, Option<Uuid>>(row, "team_id")?.map(TeamId::from_uuid),
            status: InvitationStatus::from_name(&status).ok_or_else(|| corrupt("sql", "unknown status"))?,
            token_hash: TokenHash::from_bytes(hash),
            invited_by: UserId::from_uuid(get(row, "invited_by")?),
            created_at: time(get(row, "created_at")?)?,
            sent_at: time(get(row, "sent_at")?)?,
            expires_at: time(get(row, "expires_at")?)?,
            resend_count: u32::try_from(get::<_, i64>(row, "resend_count")?).map_err(|_| corrupt("sql", "resend count"))?,
            closed_at: opt_time(get(row, "closed_at")?)?,
            closed_by: get::<_, Option<Uuid>>(row, "closed_by")?.map(UserId::from_uuid),
            version: version(get(row, "version")?)?,
        })
    }
);

/// Where a team's columns are in a row.
pub(crate) struct TeamColumns {
    id: &'static str,
    organization_id: &'static str,
    name: &'static str,
    message: &'static str,
    suggested_courses: &'static str,
    created_at: &'static str,
    version: &'static str,
}

/// A row of the teams table.
const TEAM: TeamColumns = TeamColumns {
    id: "id",
    organization_id: "organization_id",
    name: "name",
    message: "message",
    suggested_courses: "suggested_courses",
    created_at: "created_at",
    version: "version",
};

/// The team of [`LINK_CONTEXT`]; NULLs for none.
const JOINED_TEAM: TeamColumns = TeamColumns {
    id: "t_id",
    organization_id: "t_organization_id",
    name: "t_name",
    message: "t_message",
    suggested_courses: "t_suggested_courses",
    created_at: "t_created_at",
    version: "t_version",
};

row_fn!(
    /// A team from a row of the teams table.
    team_from -> Team, |row| team_in(row, &TEAM)
);

row_fn!(
    /// The team of a [`LINK_CONTEXT`] row, if it names one that exists.
    joined_team -> Option<Team>, |row| match get::<_, Option<Uuid>>(row, JOINED_TEAM.id)? {
        Some(_) => team_in(row, &JOINED_TEAM).map(Some),
        None => Ok(None),
    }
);

row_fn!(
    /// A team from the columns `c` of a row.
    team_in(c: &TeamColumns) -> Team, |row| Ok(Team {
        id: TeamId::from_uuid(get(row, c.id)?),
        organization: OrganizationId::from_uuid(get(row, c.organization_id)?),
        name: parsed(TeamName::parse(get::<_, String>(row, c.name)?))?,
        page: TeamPage {
            message: get::<_, Option<String>>(row, c.message)?.map(|m| parsed(Message::parse(m))).transpose()?,
            suggested_courses: json(&get::<_, String>(row, c.suggested_courses)?)?,
        },
        created_at: time(get(row, c.created_at)?)?,
        version: version(get(row, c.version)?)?,
    })
);

row_fn!(
    /// An event from a row of the events table.
    event_from -> Event, |row| Ok(Event {
        id: EventId::from_uuid(get(row, "id")?),
        organization: OrganizationId::from_uuid(get(row, "organization_id")?),
        at: time(get(row, "at")?)?,
        actor: json(&get::<_, String>(row, "actor")?)?,
        kind: json(&get::<_, String>(row, "kind")?)?,
    })
);

row_fn!(
    /// An outbox message from a row of the outbox table.
    outbox_from -> OutboxMessage, |row| {
        let status = match get::<_, String>(row, "status")?.as_str() {
            "pending" => OutboxStatus::Pending,
            "sent" => OutboxStatus::Sent,
            "failed" => OutboxStatus::Failed,
            _ => return Err(corrupt("sql", "unknown outbox status")),
        };
        Ok(OutboxMessage {
            id: OutboxId::from_uuid(get(row, "id")?),
            organization: OrganizationId::from_uuid(get(row, "organization_id")?),
            to: parsed(EmailAddress::parse(get::<_, String>(row, "recipient")?))?,
            content: json(&get::<_, String>(row, "content")?)?,
            status,
            attempts: u32::try_from(get::<_, i64>(row, "attempts")?).map_err(|_| corrupt("sql", "attempts"))?,
            created_at: time(get(row, "created_at")?)?,
            due_at: time(get(row, "due_at")?)?,
            lease_until: opt_time(get(row, "lease_until")?)?,
            last_error: get(row, "last_error")?,
        })
    }
);

pub(crate) fn status_name(status: OutboxStatus) -> &'static str {
    match status {
        OutboxStatus::Pending => "pending",
        OutboxStatus::Sent => "sent",
        OutboxStatus::Failed => "failed",
    }
}

/// Runs one short read, `$read` (a future of `Result<_, sqlx::Error>` built from `$conn`, a
/// `&mut` connection), on `$store.reader()`, and maps its error. The reader's `settle` takes
/// the result and may ask for the read again on another connection, once: PostgreSQL's
/// connections set aside unchecked may turn out dead (see `store::postgres::warm`).
macro_rules! read {
    ($store:ident, |$conn:ident| $read:expr) => {{
        let mut may_retry = true;
        loop {
            let mut lent = $store.reader().await?;
            let result = {
                let $conn = &mut *lent;
                $read.await
            };
            match lent.settle(result, may_retry) {
                ::std::option::Option::Some(result) => break result.map_err(Self::err),
                ::std::option::Option::None => may_retry = false,
            }
        }
    }};
}

pub(crate) use read;

/// Expands the one SQL implementation of [`Store`](super::Store) for a concrete store.
///
/// `$store` must have inherent `reader()` and `long_reader()` returning a connection for a
/// short read (with the `settle` method [`read!`] calls) and for one that may take long
/// (statistics), an inherent `write_tx()`
/// returning the write transaction and the guard that serializes writers (if the dialect
/// needs one), and an inherent `commit_plan()` that runs a planned commit in its own way;
/// `$dialect` is a module with the statements that differ (`MEMBERS_BY_EMAILS`,
/// `PENDING_BY_EMAILS`, `CLAIM_OUTBOX`, `MIGRATION_LOCK`, `MIGRATIONS`).
macro_rules! sql_store {
    ($store:ty, $db:ty, $name:literal, $dialect:ident) => {
        impl $store {
            fn err(e: ::sqlx::Error) -> $crate::store::StoreError {
                $crate::store::sql::map_error($name, e)
            }

            /// Applies the embedded migrations that have not run yet, in order, each in its
            /// own transaction under a lock, so running it twice, or from two processes at
            /// once, is safe. Bookkeeping lives in orgroster's own `_orgroster_migrations`
            /// table, never in the host's `_sqlx_migrations`.
            ///
            /// # Errors
            /// [`StoreError::Backend`](crate::StoreError::Backend) when the database fails or
            /// an applied migration was edited afterwards (its checksum differs).
            pub async fn migrate(&self) -> Result<(), $crate::store::StoreError> {
                use $crate::store::sql::{APPLIED_MIGRATIONS, MIGRATIONS_TABLE, RECORD_MIGRATION, checksum, corrupt};
                for (version, description, sql) in $dialect::MIGRATIONS {
                    let (mut tx, _guard) = self.write_tx().await?;
                    if let Some(lock) = $dialect::MIGRATION_LOCK {
                        ::sqlx::query::<$db>(lock).execute(&mut *tx).await.map_err(Self::err)?;
                    }
                    ::sqlx::query::<$db>(MIGRATIONS_TABLE).execute(&mut *tx).await.map_err(Self::err)?;
                    let applied = ::sqlx::query::<$db>(APPLIED_MIGRATIONS).fetch_all(&mut *tx).await.map_err(Self::err)?;
                    let mut done = false;
                    for row in &applied {
                        let v: i64 = ::sqlx::Row::try_get(row, 0usize).map_err(Self::err)?;
                        let sum: String = ::sqlx::Row::try_get(row, 1usize).map_err(Self::err)?;
                        if v == *version {
                            if sum != checksum(sql) {
                                return Err(corrupt($name, format!(
                                    "migration {version} ({description}) was changed after it was applied"
                                )));
                            }
                            done = true;
                        }
                    }
                    if !done {
                        ::sqlx::raw_sql(*sql).execute(&mut *tx).await.map_err(Self::err)?;
                        ::sqlx::query::<$db>(RECORD_MIGRATION)
                            .bind(*version)
                            .bind(*description)
                            .bind(checksum(sql))
                            .bind(::chrono::Utc::now().timestamp_micros())
                            .execute(&mut *tx)
                            .await
                            .map_err(Self::err)?;
                    }
                    tx.commit().await.map_err(Self::err)?;
                }
                Ok(())
            }

            /// See [`Store::statistics`](crate::Store::statistics).
            async fn scope_statistics(&self, org: $crate::OrganizationId, scope: $crate::domain::activity::StatsScope, period: $crate::domain::activity::Period) -> Result<$crate::domain::activity::Statistics, $crate::StoreError> {
                use $crate::domain::activity::{CourseCount, Statistics, StatsScope, WeekStats};
                use $crate::store::sql::*;
                let events = scope_events(scope, 4, $dialect::BY_MEMBER);
                let id = scope_id(scope);
                let (from, to) = (micros(period.from()), micros(period.to()));
                macro_rules! bound {
                    ($sql:expr) => {{
                        let q = ::sqlx::query::<$db>(::sqlx::AssertSqlSafe($sql)).bind(org.as_uuid()).bind(from).bind(to);
                        match id {
                            Some(id) => q.bind(id),
                            None => q,
                        }
                    }};
                }
                // The five statements read on one connection.
                let mut conn = self.long_reader().await?;
                let totals = bound!(STATS_TOTALS.replace("{events}", &events))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(Self::err)?;
                let get = |row: &<$db as ::sqlx::Database>::Row, i: usize| -> Result<i64, $crate::StoreError> {
                    ::sqlx::Row::try_get::<i64, _>(row, i).map_err(Self::err)
                };
                let courses = bound!(STATS_COURSES.replace("{events}", &events).replace("{bytewise}", $dialect::BYTEWISE))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(Self::err)?;
                let weeks = bound!(STATS_WEEKS.replace("{events}", &events))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(Self::err)?;
                let (members, invited) = match scope {
                    StatsScope::Organization => (STATS_MEMBERS_ORG, STATS_INVITED_ORG),
                    StatsScope::Team(_) => (STATS_MEMBERS_TEAM, STATS_INVITED_TEAM),
                    StatsScope::Member(_) => (STATS_MEMBERS_MEMBER, STATS_INVITED_MEMBER),
                };
                let members = bound!(members.to_owned()).fetch_one(&mut *conn).await.map_err(Self::err)?;
                let invited = bound!(invited.to_owned()).fetch_one(&mut *conn).await.map_err(Self::err)?;
                Ok(Statistics {
                    period,
                    invited: count(get(&invited, 0)?),
                    members: count(get(&members, 0)?),
                    active_learners: count(get(&totals, 0)?),
                    enrolments: count(get(&totals, 1)?),
                    completions: count(get(&totals, 2)?),
                    certificates: count(get(&totals, 3)?),
                    time_spent_seconds: count(get(&totals, 4)?),
                    top_courses: courses
                        .iter()
                        .map(|r| {
                            let course: String = ::sqlx::Row::try_get(r, 0usize).map_err(Self::err)?;
                            Ok(CourseCount {
                                course: $crate::CourseId::parse(course).map_err(|e| corrupt($name, e))?,
                                learners: count(get(r, 1)?),
                            })
                        })
                        .collect::<Result<_, $crate::StoreError>>()?,
                    weekly: weeks
                        .iter()
                        .map(|r| {
                            Ok(WeekStats {
                                week: week_start(get(r, 0)?)?,
                                active_learners: count(get(r, 1)?),
                                completions: count(get(r, 2)?),
                                time_spent_seconds: count(get(r, 3)?),
                            })
                        })
                        .collect::<Result<_, $crate::StoreError>>()?,
                })
            }

            /// See [`Store::statistics`](crate::Store::statistics).
            async fn team_statistics(&self, org: $crate::OrganizationId, teams: &[$crate::TeamId], period: $crate::domain::activity::Period) -> Result<Vec<$crate::domain::activity::Statistics>, $crate::StoreError> {
                use $crate::domain::activity::{CourseCount, Statistics, WeekStats};
                use $crate::store::sql::*;
                if teams.is_empty() {
                    return Ok(Vec::new());
                }
                let list = $dialect::TEAM_LIST;
                let ids: Vec<String> = teams.iter().map(|t| t.as_uuid().simple().to_string()).collect();
                let ids = to_json(&ids)?;
                let (from, to) = (micros(period.from()), micros(period.to()));
                // A team asked for twice is computed once, at its first position, and copied.
                let mut index: ::std::collections::HashMap<::uuid::Uuid, usize> = ::std::collections::HashMap::new();
                for (i, t) in teams.iter().enumerate() {
                    index.entry(t.as_uuid()).or_insert(i);
                }
                let mut stats: Vec<Statistics> = teams
                    .iter()
                    .map(|_| $crate::domain::activity::Tally::default().finish(period, 0, 0))
                    .collect();
                // The five statements read on one connection.
                let mut conn = self.long_reader().await?;
                let query = |sql: String| {
                    ::sqlx::query::<$db>(::sqlx::AssertSqlSafe(sql))
                        .persistent(false)
                        .bind(org.as_uuid())
                        .bind(from)
                        .bind(to)
                        .bind(ids.clone())
                };
                let int = |row: &<$db as ::sqlx::Database>::Row, i: usize| -> Result<i64, $crate::StoreError> {
                    ::sqlx::Row::try_get::<i64, _>(row, i).map_err(Self::err)
                };
                let slot = |row: &<$db as ::sqlx::Database>::Row| -> Result<Option<usize>, $crate::StoreError> {
                    let team: ::uuid::Uuid = ::sqlx::Row::try_get(row, 0usize).map_err(Self::err)?;
                    Ok(index.get(&team).copied())
                };
                for row in query(teams_totals_sql(list)).fetch_all(&mut *conn).await.map_err(Self::err)? {
                    if let Some(i) = slot(&row)? {
                        let s = &mut stats[i];
                        s.active_learners = count(int(&row, 1)?);
                        s.enrolments = count(int(&row, 2)?);
                        s.completions = count(int(&row, 3)?);
                        s.certificates = count(int(&row, 4)?);
                        s.time_spent_seconds = count(int(&row, 5)?);
                    }
                }
                for row in query(teams_members_sql(list)).fetch_all(&mut *conn).await.map_err(Self::err)? {
                    if let Some(i) = slot(&row)? {
                        stats[i].members = count(int(&row, 1)?);
                    }
                }
                for row in query(teams_invited_sql(list)).fetch_all(&mut *conn).await.map_err(Self::err)? {
                    if let Some(i) = slot(&row)? {
                        stats[i].invited = count(int(&row, 1)?);
                    }
                }
                for row in query(teams_courses_sql(list)).fetch_all(&mut *conn).await.map_err(Self::err)? {
                    if let Some(i) = slot(&row)? {
                        let course: String = ::sqlx::Row::try_get(&row, 1usize).map_err(Self::err)?;
                        stats[i].top_courses.push(CourseCount {
                            course: $crate::CourseId::parse(course).map_err(|e| corrupt($name, e))?,
                            learners: count(int(&row, 2)?),
                        });
                    }
                }
                for row in query(teams_weeks_sql(list)).fetch_all(&mut *conn).await.map_err(Self::err)? {
                    if let Some(i) = slot(&row)? {
                        stats[i].weekly.push(WeekStats {
                            week: week_start(int(&row, 1)?)?,
                            active_learners: count(int(&row, 2)?),
                            completions: count(int(&row, 3)?),
                            time_spent_seconds: count(int(&row, 4)?),
                        });
                    }
                }
                for s in &mut stats {
                    // Same order and cut as the reference tally.
                    s.top_courses.sort_by(|a, b| b.learners.cmp(&a.learners).then_with(|| a.course.cmp(&b.course)));
                    s.top_courses.truncate(Statistics::TOP_COURSES);
                    s.weekly.sort_by_key(|w| w.week);
                }
                for (i, t) in teams.iter().enumerate() {
                    match index.get(&t.as_uuid()) {
                        Some(first) if *first != i => stats[i] = stats[*first].clone(),
                        _ => {}
                    }
                }
                Ok(stats)
            }

            /// Binds a plan step's arguments, in order.
            fn bind_args<'q>(
                mut q: ::sqlx::query::Query<'q, $db, <$db as ::sqlx::Database>::Arguments>,
                args: Vec<$crate::store::plan::Arg>,
            ) -> ::sqlx::query::Query<'q, $db, <$db as ::sqlx::Database>::Arguments> {
                use $crate::store::plan::Arg;
                for arg in args {
                    q = match arg {
                        Arg::Uuid(v) => q.bind(v),
                        Arg::OptUuid(v) => q.bind(v),
                        Arg::Int(v) => q.bind(v),
                        Arg::OptInt(v) => q.bind(v),
                        Arg::Text(v) => q.bind(v),
                        Arg::OptText(v) => q.bind(v),
                        Arg::Bytes(v) => q.bind(v),
                    };
                }
                q
            }

            /// The [`InvitationTargets`](crate::InvitationTargets) of an invitation-targets
            /// query's rows (each with `target_key`, `is_member`, an invitation's columns or
            /// NULLs, and the seat counts; one row of counts alone for no addresses), seats
            /// kept when `counted`.
            fn targets_from(rows: &[<$db as ::sqlx::Database>::Row], counted: bool) -> Result<$crate::InvitationTargets, $crate::StoreError> {
                use $crate::store::sql::{get, invitation_from, seats_in};
                let mut targets = $crate::InvitationTargets::default();
                for row in rows {
                    if counted {
                        targets.seats = Some(seats_in(row)?);
                    }
                    let Some(key) = get::<_, Option<String>>(row, "target_key")? else { continue };
                    if ::sqlx::Row::try_get::<bool, _>(row, "is_member").map_err(Self::err)? {
                        targets.member_emails.push(key);
                    }
                    if get::<_, Option<::uuid::Uuid>>(row, "id")?.is_some() {
                        targets.pending.push(invitation_from(row)?);
                    }
                }
                Ok(targets)
            }

            /// The error of a plan that failed: a raised check becomes its step's own error
            /// (a conflict, a missing row), anything else as [`map_error`] says.
            ///
            /// [`map_error`]: crate::store::sql::map_error
            fn plan_error(e: ::sqlx::Error, expects: &[Option<$crate::store::plan::Expect>]) -> $crate::store::StoreError {
                if let ::sqlx::Error::Database(db) = &e {
                    let step = $crate::store::plan::failed_check(db.code().as_deref(), db.message());
                    if let Some(expect) = step.and_then(|i| expects.get(i).copied().flatten()) {
                        return expect.error();
                    }
                }
                Self::err(e)
            }
        }

        #[::async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn organization(&self, id: $crate::OrganizationId) -> Result<Option<$crate::Organization>, $crate::StoreError> {
                let row = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::SELECT_ORG)
                    .bind(id.as_uuid())
                    .fetch_optional(conn))?;
                row.as_ref().map($crate::store::sql::organization_from).transpose()
            }

            async fn member(&self, org: $crate::OrganizationId, user: $crate::UserId) -> Result<Option<$crate::Member>, $crate::StoreError> {
                let row = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::SELECT_MEMBER)
                    .bind(org.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_optional(conn))?;
                row.as_ref().map($crate::store::sql::member_from).transpose()
            }

            async fn organization_with_member(&self, org: $crate::OrganizationId, user: $crate::UserId) -> Result<Option<($crate::Organization, Option<$crate::Member>)>, $crate::StoreError> {
                let row = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::ORG_WITH_MEMBER)
                    .bind(org.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_optional(conn))?;
                row.as_ref().map($crate::store::sql::organization_with_member).transpose()
            }

            async fn invitation_context(&self, org: $crate::OrganizationId, user: $crate::UserId, emails: &[$crate::EmailAddress], now: ::chrono::DateTime<::chrono::Utc>) -> Result<Option<$crate::InvitationContext>, $crate::StoreError> {
                use $crate::store::sql::{micros, organization_with_member, to_json};
                let keys: Vec<&str> = emails.iter().map(|e| e.key()).collect();
                let rows = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($dialect::INVITATION_CONTEXT)
                    .bind(org.as_uuid())
                    .bind(to_json(&keys)?)
                    .bind(micros(now))
                    .bind(user.as_uuid())
                    .fetch_all(conn))?;
                // Every row carries the organization and membership; none: no organization.
                let Some(first) = rows.first() else { return Ok(None) };
                let (organization, member) = organization_with_member(first)?;
                let targets = Self::targets_from(&rows, organization.seats_counted_at(now).is_some())?;
                Ok(Some($crate::InvitationContext { organization, member, targets }))
            }

            async fn link_context(&self, hash: &$crate::TokenHash, user: Option<$crate::UserId>, now: ::chrono::DateTime<::chrono::Utc>) -> Result<Option<$crate::LinkContext>, $crate::StoreError> {
                use $crate::store::sql::{invitation_from, joined_team, micros, organization_with_member, seats_in};
                let row = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::LINK_CONTEXT)
                    .bind(hash.as_bytes().to_vec())
                    .bind(user.map(|u| u.as_uuid()))
                    .bind(micros(now))
                    .fetch_optional(conn))?;
                let Some(row) = row else { return Ok(None) };
                let (organization, member) = organization_with_member(&row)?;
                let seats = match organization.seats_counted_at(now) {
                    Some(_) => Some(seats_in(&row)?),
                    None => None,
                };
                let team = joined_team(&row)?;
                Ok(Some($crate::LinkContext { invitation: invitation_from(&row)?, organization, member, seats, team }))
            }

            async fn members(&self, org: $crate::OrganizationId, filter: $crate::MemberFilter, page: $crate::Page) -> Result<Vec<$crate::Member>, $crate::StoreError> {
                let role = filter.role.map_or(0_i64, |r| i64::from($crate::store::sql::role_bit(r)));
                let after = page.after.unwrap_or(::uuid::Uuid::nil());
                let rows = $crate::store::sql::read!(self, |conn| match filter.team {
                    Some(team) => ::sqlx::query::<$db>($crate::store::sql::TEAM_MEMBERS_PAGE)
                        .bind(team.as_uuid())
                        .bind(org.as_uuid())
                        .bind(after)
                        .bind(role)
                        .bind(page.len() as i64)
                        .fetch_all(conn),
                    None => ::sqlx::query::<$db>($crate::store::sql::MEMBERS_PAGE)
                        .bind(org.as_uuid())
                        .bind(after)
                        .bind(role)
                        .bind(page.len() as i64)
                        .fetch_all(conn),
                })?;
                rows.iter().map($crate::store::sql::member_from).collect()
            }

            async fn teams_of(&self, org: $crate::OrganizationId, member: $crate::MemberId) -> Result<Vec<$crate::TeamId>, $crate::StoreError> {
                let rows = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::TEAMS_OF)
                    .bind(member.as_uuid())
                    .bind(org.as_uuid())
                    .fetch_all(conn))?;
                rows.iter()
                    .map(|r| ::sqlx::Row::try_get::<::uuid::Uuid, _>(r, 0usize).map($crate::TeamId::from_uuid).map_err(Self::err))
                    .collect()
            }

            async fn invitation(&self, org: $crate::OrganizationId, id: $crate::InvitationId) -> Result<Option<$crate::Invitation>, $crate::StoreError> {
                let row = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::SELECT_INVITATION)
                    .bind(org.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(conn))?;
                row.as_ref().map($crate::store::sql::invitation_from).transpose()
            }

            async fn invitations(&self, org: $crate::OrganizationId, filter: $crate::InvitationFilter, page: $crate::Page) -> Result<Vec<$crate::Invitation>, $crate::StoreError> {
                let rows = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::INVITATIONS_PAGE)
                    .bind(org.as_uuid())
                    .bind(page.after.unwrap_or(::uuid::Uuid::nil()))
                    .bind(filter.status.map(|s| s.as_str()))
                    .bind(filter.role.map(|r| r.as_str()))
                    .bind(page.len() as i64)
                    .fetch_all(conn))?;
                rows.iter().map($crate::store::sql::invitation_from).collect()
            }

            async fn seat_usage(&self, org: $crate::OrganizationId, now: ::chrono::DateTime<::chrono::Utc>) -> Result<$crate::SeatUsage, $crate::StoreError> {
                let row = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::SEAT_USAGE)
                    .bind(org.as_uuid())
                    .bind($crate::store::sql::micros(now))
                    .fetch_one(conn))?;
                let members: i64 = ::sqlx::Row::try_get(&row, 0usize).map_err(Self::err)?;
                let pending: i64 = ::sqlx::Row::try_get(&row, 1usize).map_err(Self::err)?;
                Ok($crate::store::sql::seat_usage(members, pending))
            }

            async fn team(&self, org: $crate::OrganizationId, id: $crate::TeamId) -> Result<Option<$crate::Team>, $crate::StoreError> {
                let row = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::SELECT_TEAM)
                    .bind(org.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(conn))?;
                row.as_ref().map($crate::store::sql::team_from).transpose()
            }

            async fn teams(&self, org: $crate::OrganizationId, page: $crate::Page) -> Result<Vec<$crate::Team>, $crate::StoreError> {
                let rows = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::TEAMS_PAGE)
                    .bind(org.as_uuid())
                    .bind(page.after.unwrap_or(::uuid::Uuid::nil()))
                    .bind(page.len() as i64)
                    .fetch_all(conn))?;
                rows.iter().map($crate::store::sql::team_from).collect()
            }

            async fn events(&self, org: $crate::OrganizationId, page: $crate::Page) -> Result<Vec<$crate::Event>, $crate::StoreError> {
                let rows = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::EVENTS_PAGE)
                    .bind(org.as_uuid())
                    .bind(page.after.unwrap_or(::uuid::Uuid::nil()))
                    .bind(page.len() as i64)
                    .fetch_all(conn))?;
                rows.iter().map($crate::store::sql::event_from).collect()
            }

            async fn commit(&self, changes: $crate::domain::changes::ChangeSet) -> Result<(), $crate::StoreError> {
                let plan = $crate::store::plan::plan(&changes, $dialect::PLAN)?;
                self.commit_plan(plan).await
            }

            async fn claim_outbox(&self, claim: $crate::domain::ids::ClaimId, now: ::chrono::DateTime<::chrono::Utc>, lease: ::chrono::Duration, limit: usize) -> Result<Vec<$crate::OutboxMessage>, $crate::StoreError> {
                let (mut tx, _guard) = self.write_tx().await?;
                let rows = ::sqlx::query::<$db>($dialect::CLAIM_OUTBOX)
                    .bind($crate::store::sql::micros($crate::store::lease_end(now, lease)))
                    .bind($crate::store::sql::micros(now))
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .bind(claim.as_uuid())
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(Self::err)?;
                tx.commit().await.map_err(Self::err)?;
                let claimed = rows.iter().map($crate::store::sql::outbox_from).collect::<Result<Vec<_>, _>>()?;
                // `RETURNING` keeps no order: the claim's order is restored here.
                Ok($crate::domain::outbox::in_turns(claimed, |m| (m.organization, m.due_at, m.id)))
            }

            async fn settle_outbox(&self, claim: $crate::domain::ids::ClaimId, id: $crate::OutboxId, settlement: $crate::domain::outbox::Settlement) -> Result<bool, $crate::StoreError> {
                use $crate::domain::outbox::Settlement;
                use $crate::store::sql::{SETTLE_FAILED, SETTLE_RELEASED, SETTLE_RETRY, SETTLE_SENT, micros};
                let (mut tx, _guard) = self.write_tx().await?;
                let query = match &settlement {
                    Settlement::Sent => ::sqlx::query::<$db>(SETTLE_SENT),
                    Settlement::Retry { .. } => ::sqlx::query::<$db>(SETTLE_RETRY),
                    Settlement::Failed { .. } => ::sqlx::query::<$db>(SETTLE_FAILED),
                    Settlement::Released => ::sqlx::query::<$db>(SETTLE_RELEASED),
                }
                .bind(id.as_uuid())
                .bind(claim.as_uuid());
                let query = match settlement {
                    Settlement::Retry { not_before, error } => query.bind(micros(not_before)).bind(error),
                    Settlement::Failed { error } => query.bind(error),
                    _ => query,
                };
                let done = query.execute(&mut *tx).await.map_err(Self::err)?;
                tx.commit().await.map_err(Self::err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn record_activities(&self, org: $crate::OrganizationId, activities: &[$crate::domain::activity::Activity]) -> Result<$crate::store::Recorded, $crate::StoreError> {
                use $crate::store::sql::*;
                let (mut tx, _guard) = self.write_tx().await?;
                // Checked in the transaction that records: writers are serialized (SQLite)
                // or the members' rows are locked against removal until it ends
                // (PostgreSQL).
                let mut users: Vec<$crate::UserId> = activities.iter().map(|a| a.user).collect();
                users.sort_unstable();
                users.dedup();
                if !users.is_empty() {
                    let rows = ::sqlx::query::<$db>($dialect::USERS_NOT_MEMBERS)
                        .bind(org.as_uuid())
                        .bind(to_json(&user_keys(&users))?)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(Self::err)?;
                    if !rows.is_empty() {
                        let mut strangers = Vec::with_capacity(rows.len());
                        for row in &rows {
                            let text: String = ::sqlx::Row::try_get(row, 0usize).map_err(Self::err)?;
                            let id = ::uuid::Uuid::parse_str(&text).map_err(|e| corrupt($name, e))?;
                            strangers.push($crate::UserId::from_uuid(id));
                        }
                        strangers.sort_unstable();
                        return Ok($crate::store::Recorded::NotMembers(strangers));
                    }
                }
                let mut inserted = ::std::collections::HashSet::new();
                for chunk in activities.chunks(BATCH_ROWS) {
                    let sql = insert_many("orgroster_activities", ACTIVITY_INSERT_COLUMNS, chunk.len(), $dialect::ANONYMOUS_PARAMS)
                        + " ON CONFLICT (organization_id, id) DO NOTHING RETURNING id";
                    // Full chunks share one statement, prepared once per connection.
                    let mut q = ::sqlx::query::<$db>(::sqlx::AssertSqlSafe(sql))
                        .persistent(chunk.len() == BATCH_ROWS);
                    for a in chunk {
                        q = q
                            .bind(org.as_uuid())
                            .bind(a.id.as_str().to_owned())
                            .bind(a.user.as_uuid())
                            .bind(a.course.as_str().to_owned())
                            .bind(a.kind.name())
                            .bind(i64::from(a.kind.value()))
                            .bind(micros(a.at));
                    }
                    for row in q.fetch_all(&mut *tx).await.map_err(Self::err)? {
                        let id: String = ::sqlx::Row::try_get(&row, 0usize).map_err(Self::err)?;
                        inserted.insert(id);
                    }
                }
                tx.commit().await.map_err(Self::err)?;
                Ok($crate::store::Recorded::New(activities.iter().map(|a| inserted.contains(a.id.as_str())).collect()))
            }

            async fn statistics(&self, org: $crate::OrganizationId, scopes: &[$crate::domain::activity::StatsScope], period: $crate::domain::activity::Period) -> Result<Vec<$crate::domain::activity::Statistics>, $crate::StoreError> {
                use $crate::domain::activity::StatsScope;
                // Several teams in one pass; a single team, and the other scopes, one by one.
                let teams: Vec<$crate::TeamId> = scopes.iter().filter_map(|s| match s {
                    StatsScope::Team(team) => Some(*team),
                    StatsScope::Organization | StatsScope::Member(_) => None,
                }).collect();
                let mut of_teams = match teams.len() {
                    0 | 1 => Vec::new(),
                    _ => self.team_statistics(org, &teams, period).await?,
                }.into_iter();
                let mut all = Vec::with_capacity(scopes.len());
                for scope in scopes {
                    let batched = match scope {
                        StatsScope::Team(_) => of_teams.next(),
                        StatsScope::Organization | StatsScope::Member(_) => None,
                    };
                    let stats = match batched {
                        Some(stats) => stats,
                        None => self.scope_statistics(org, *scope, period).await?,
                    };
                    all.push(stats);
                }
                Ok(all)
            }

            async fn member_activity(&self, org: $crate::OrganizationId, scope: $crate::domain::activity::StatsScope, period: $crate::domain::activity::Period, page: $crate::Page) -> Result<Vec<$crate::domain::activity::MemberActivity>, $crate::StoreError> {
                use $crate::store::sql::*;
                let sql = MEMBER_ACTIVITY_PAGE
                    .replace("{scope}", &scope_members(scope, 6))
                    .replace("{clip}", &scope_clip(scope, 6))
                    .replace("{by_member}", $dialect::BY_MEMBER);
                let mut q = ::sqlx::query::<$db>(::sqlx::AssertSqlSafe(sql))
                    .bind(org.as_uuid())
                    .bind(micros(period.from()))
                    .bind(micros(period.to()))
                    .bind(page.after.unwrap_or(::uuid::Uuid::nil()))
                    .bind(page.len() as i64);
                if let Some(id) = scope_id(scope) {
                    q = q.bind(id);
                }
                let rows = q.fetch_all(&mut *self.long_reader().await?).await.map_err(Self::err)?;
                rows.iter()
                    .map(|r| {
                        let first: String = get(r, "first_name")?;
                        let last: String = get(r, "last_name")?;
                        Ok($crate::domain::activity::MemberActivity {
                            member: $crate::MemberId::from_uuid(get(r, "id")?),
                            user: $crate::UserId::from_uuid(get(r, "user_id")?),
                            email: get(r, "email")?,
                            name: format!("{first} {last}"),
                            enrolments: count(get(r, "enrolments")?),
                            completions: count(get(r, "completions")?),
                            certificates: count(get(r, "certificates")?),
                            time_spent_seconds: count(get(r, "seconds")?),
                            last_active: get::<_, Option<i64>>(r, "last_active")?.map(time).transpose()?,
                        })
                    })
                    .collect()
            }

            async fn failed_outbox(&self, org: $crate::OrganizationId, page: $crate::Page) -> Result<Vec<$crate::OutboxMessage>, $crate::StoreError> {
                let rows = $crate::store::sql::read!(self, |conn| ::sqlx::query::<$db>($crate::store::sql::FAILED_OUTBOX_PAGE)
                    .bind(org.as_uuid())
                    .bind(page.after.unwrap_or(::uuid::Uuid::nil()))
                    .bind(page.len() as i64)
                    .fetch_all(conn))?;
                rows.iter().map($crate::store::sql::outbox_from).collect()
            }
        }
    };
}

pub(crate) use sql_store;

/// Seat usage from the two counts a query returned.
pub(crate) fn seat_usage(members: i64, pending: i64) -> SeatUsage {
    SeatUsage {
        members: u64::try_from(members).unwrap_or(0),
        pending_invitations: u64::try_from(pending).unwrap_or(0),
    }
}

/// User ids as they travel in a JSON list: lowercase hex (SQLite cannot put blobs in JSON).
pub(crate) fn user_keys(users: &[UserId]) -> Vec<String> {
    users
        .iter()
        .map(|u| u.as_uuid().simple().to_string())
        .collect()
}

/// A version as bound: the column is a signed 64-bit integer.
pub(crate) fn version_param(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| corrupt("sql", "version out of range"))
}

/// A role's bit in the stored role set.
pub(crate) fn role_bit(role: Role) -> u8 {
    role.bit()
}
