//! The SQL both dialects share, as plain statements, and the shape of what each dialect
//! writes its own way ([`Dialect`]).
//!
//! Statements return their columns in fixed orders, read back by [`rows`](super::rows):
//! - an organization: `id, name, licenses, capabilities, seat_cap, created_at, version`;
//! - a member: `id, organization_id, user_id, email, first_name, last_name, roles,
//!   joined_at, invitation_id, deactivated_at, metadata, version`;
//! - an invitation: `id, organization_id, email, invitee_first_name, invitee_last_name,
//!   role, team_id, status, token_hash, invited_by, created_at, sent_at, expires_at,
//!   resend_count, closed_at, closed_by, lifetime, metadata, version`;
//! - a team: `id, organization_id, name, message, suggested_courses, created_at, version`;
//! - an audit event: `id, organization_id, at, actor, kind`;
//! - an outbox row: `id, organization_id, recipient, content, status, attempts, created_at,
//!   due_at, lease_until, last_error`.
//!
//! Parameters are numbered (`$1`); times are microseconds since the Unix epoch.

/// One migration: version, description and SQL.
pub(crate) type Migration = (i64, &'static str, &'static str);

/// The statistics of one kind of scope over the period `$2..$3` of organization `$1`, the
/// team's or member's id (if any) as `$4`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScopeStatements {
    /// One row: learners, enrolments, completions, certificates, seconds, members, invited.
    pub(crate) totals: &'static str,
    /// Course, learners: one row per course (the top ones are picked in Rust).
    pub(crate) courses: &'static str,
    /// Week, learners, completions, seconds: one row per week with events, in order.
    pub(crate) weeks: &'static str,
}

/// The statistics of several teams in one pass over the period's events (spec: STAT-3): as
/// [`ScopeStatements`], the teams a JSON list of hex ids in `$4`, each row led by its team.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TeamsStatements {
    /// Team, learners, enrolments, completions, certificates, seconds.
    pub(crate) totals: &'static str,
    /// Team, members.
    pub(crate) members: &'static str,
    /// Team, invitations sent in the period.
    pub(crate) invited: &'static str,
    /// Team, course, learners.
    pub(crate) courses: &'static str,
    /// Team, week, learners, completions, seconds.
    pub(crate) weeks: &'static str,
}

/// A page of per-member activity for each kind of scope (spec: STAT-4): the period `$2..$3`
/// of organization `$1`, members after `$4`, at most `$5`, the team's or member's id as `$6`.
/// Each row: member id, user id, email, first name, last name, enrolments, completions,
/// certificates, seconds, last active (NULL for none).
///
/// The page of members is chosen first, then each of its members' events is read through
/// the `(organization_id, user_id, at)` index: a page costs what its members did, not what
/// the whole organization did in the period.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActivityStatements {
    pub(crate) organization: &'static str,
    pub(crate) team: &'static str,
    pub(crate) member: &'static str,
}

/// The statements each dialect writes its own way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The organization `$1` (an organization's columns), the membership of user `$4` in it
    /// (a member's columns, NULLs for none), then, once per distinct email key of the JSON
    /// list `$2`: the key, whether a member has it, its pending invitation (an invitation's
    /// columns, NULLs for none), and the seats in use at `$3` (members, pending) when the
    /// organization has a seat cap, zeros otherwise. One row with NULL targets for an empty
    /// list; none when there is no such organization. One statement: one snapshot.
    pub(crate) invitation_context: &'static str,
    /// The hex user ids of the JSON list `$2` that are not members of organization `$1`, as
    /// text; the members found are kept from removal until the transaction ends.
    pub(crate) users_not_members: &'static str,
    /// Leases due rows (`$2` now, `$1` the lease's end, `$3` how many, `$4` the claim) in
    /// turns across organizations, returning them (an outbox row's columns).
    pub(crate) claim_outbox: &'static str,
    /// One member's statistics.
    pub(crate) member_statistics: ScopeStatements,
    /// One team's statistics.
    pub(crate) team_statistics: ScopeStatements,
    /// Several teams' statistics.
    pub(crate) teams_statistics: TeamsStatements,
    /// Per-member activity.
    pub(crate) member_activity: ActivityStatements,
    /// Taken first in each migration's transaction, to serialize migrating processes.
    pub(crate) migration_lock: Option<&'static str>,
    /// The migrations, in order. Applied ones are checksummed: never edit one, add the next.
    pub(crate) migrations: &'static [Migration],
}
// ----- organizations -------------------------------------------------------------------
/// The organization `$1`.
pub(crate) const SELECT_ORG: &str = "SELECT id, name, licenses, capabilities, seat_cap, created_at, version FROM \
     orgroster_organizations WHERE id = $1";
/// The organization `$1` and the membership of user `$2` in it (NULLs for none).
pub(crate) const ORG_WITH_MEMBER: &str = "SELECT o.id, o.name, o.licenses, o.capabilities, o.seat_cap, o.created_at, o.version, \
     m.id, m.organization_id, m.user_id, m.email, m.first_name, m.last_name, m.roles, \
     m.joined_at, m.invitation_id, m.deactivated_at, m.metadata, m.version FROM orgroster_organizations AS o LEFT JOIN \
     orgroster_members AS m ON m.organization_id = o.id AND m.user_id = $2 WHERE o.id = $1";
/// A new organization, at version 1.
pub(crate) const INSERT_ORG: &str = "INSERT INTO orgroster_organizations (id, name, licenses, capabilities, seat_cap, \
     created_at, version) VALUES ($1, $2, $3, $4, $5, $6, 1)";
/// The organization `$1` read at version `$6`, changed.
pub(crate) const UPDATE_ORG: &str = "UPDATE orgroster_organizations SET name = $2, licenses = $3, capabilities = $4, \
     seat_cap = $5, version = version + 1 WHERE id = $1 AND version = $6";
/// The organization `$1` read at version `$2`, its version bumped.
pub(crate) const TOUCH_ORG: &str =
    "UPDATE orgroster_organizations SET version = version + 1 WHERE id = $1 AND version = $2";
/// One row if the organization `$1` is at version `$2`. No lock: a change committed before the
/// statement fails the check, one committed after it is ordered after this commit.
pub(crate) const CHECK_ORG: &str =
    "SELECT 1 FROM orgroster_organizations WHERE id = $1 AND version = $2";
/// One row if the organization `$1` exists.
pub(crate) const ORG_EXISTS: &str = "SELECT 1 FROM orgroster_organizations WHERE id = $1";
/// The seats in use in organization `$1` at `$2` (spec: ORG-4): active members (MEM-2), and
/// pending invitations not yet expired.
pub(crate) const SEAT_USAGE: &str = "SELECT (SELECT COUNT(*) FROM orgroster_members WHERE organization_id = $1 AND \
     deactivated_at IS NULL), (SELECT COUNT(*) FROM orgroster_invitations WHERE \
     organization_id = $1 AND status = 'pending' AND expires_at > $2)";

// ----- members -------------------------------------------------------------------------
/// The member of organization `$1` who is user `$2`.
pub(crate) const SELECT_MEMBER: &str = "SELECT id, organization_id, user_id, email, first_name, last_name, roles, joined_at, \
     invitation_id, deactivated_at, metadata, version FROM orgroster_members WHERE organization_id = $1 AND user_id = \
     $2";
/// The organizations of user `$1` after organization `$2`, at most `$3`: each one's name, then
/// the membership (spec: USR-4).
pub(crate) const MEMBERSHIPS_PAGE: &str = "SELECT o.name, m.id, m.organization_id, m.user_id, m.email, m.first_name, m.last_name, \
     m.roles, m.joined_at, m.invitation_id, m.deactivated_at, m.metadata, m.version FROM orgroster_members AS m JOIN \
     orgroster_organizations AS o ON o.id = m.organization_id WHERE m.user_id = $1 AND \
     m.organization_id > $2 ORDER BY m.organization_id LIMIT $3";
/// Members of `$1` after `$2` holding any role of the bits `$3` (0: all), active or not as
/// `$5` says (0: both, 1: active only, 2: deactivated only), at most `$4`.
pub(crate) const MEMBERS_PAGE: &str = "SELECT id, organization_id, user_id, email, first_name, last_name, roles, joined_at, \
     invitation_id, deactivated_at, metadata, version FROM orgroster_members WHERE organization_id = \
     $1 AND id > $2 AND ($3 = 0 OR (roles & $3) <> 0) AND ($5 = 0 OR ($5 = 1) = \
     (deactivated_at IS NULL)) ORDER BY id LIMIT $4";
/// Members of team `$1` of `$2` after `$3` holding any role of the bits `$4` (0: all),
/// active or not as `$6` says (as in [`MEMBERS_PAGE`]), at most `$5`.
pub(crate) const TEAM_MEMBERS_PAGE: &str = "SELECT m.id, m.organization_id, m.user_id, m.email, m.first_name, m.last_name, m.roles, \
     m.joined_at, m.invitation_id, m.deactivated_at, m.metadata, m.version FROM orgroster_team_members AS tm JOIN \
     orgroster_members AS m ON m.id = tm.member_id WHERE tm.team_id = $1 AND \
     tm.organization_id = $2 AND tm.member_id > $3 AND ($4 = 0 OR (m.roles & $4) <> 0) AND ($6 \
     = 0 OR ($6 = 1) = (m.deactivated_at IS NULL)) ORDER BY tm.member_id LIMIT $5";
/// The teams member `$1` of `$2` is in.
pub(crate) const TEAMS_OF: &str = "SELECT team_id FROM orgroster_team_members WHERE member_id = $1 AND organization_id = \
     $2 ORDER BY team_id";
/// A new member, at version 1.
pub(crate) const INSERT_MEMBER: &str = "INSERT INTO orgroster_members (id, organization_id, user_id, email, email_key, \
     first_name, last_name, roles, joined_at, invitation_id, deactivated_at, metadata, \
     version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1)";
/// The member `$1` read at version `$13`, changed.
pub(crate) const UPDATE_MEMBER: &str = "UPDATE orgroster_members SET email = $4, email_key = $5, first_name = $6, last_name = \
     $7, roles = $8, joined_at = $9, invitation_id = $10, deactivated_at = $11, metadata = $12, version = \
     version + 1 WHERE id = $1 AND organization_id = $2 AND user_id = $3 AND version = $13";
/// The member `$1` of `$2` read at version `$3`, removed (its team memberships go with it).
pub(crate) const DELETE_MEMBER: &str =
    "DELETE FROM orgroster_members WHERE id = $1 AND organization_id = $2 AND version = $3";

// ----- invitations ---------------------------------------------------------------------
/// The invitation `$2` of organization `$1`.
pub(crate) const SELECT_INVITATION: &str = "SELECT id, organization_id, email, invitee_first_name, invitee_last_name, role, \
     team_id, status, token_hash, invited_by, created_at, sent_at, expires_at, resend_count, \
     closed_at, closed_by, lifetime, metadata, version FROM orgroster_invitations WHERE organization_id = $1 AND \
     id = $2";
/// Invitations of `$1` after `$2`, in status `$3` and of role `$4` (NULL: any), at most `$5`.
pub(crate) const INVITATIONS_PAGE: &str = "SELECT id, organization_id, email, invitee_first_name, invitee_last_name, role, \
     team_id, status, token_hash, invited_by, created_at, sent_at, expires_at, resend_count, \
     closed_at, closed_by, lifetime, metadata, version FROM orgroster_invitations WHERE organization_id = $1 AND \
     id > $2 AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR role = $4) ORDER BY id LIMIT \
     $5";
/// The invitation whose token hashes to `$1` (an invitation's columns), its organization
/// (an organization's), the membership of user `$2` (NULL for none) in it (a member's, NULLs
/// for none), the seats in use at `$3` (members, pending) when the organization caps seats
/// (zeros otherwise), and the team the invitation names if it is still there (a team's, NULLs
/// for none).
pub(crate) const LINK_CONTEXT: &str = "SELECT i.id, i.organization_id, i.email, i.invitee_first_name, i.invitee_last_name, \
     i.role, i.team_id, i.status, i.token_hash, i.invited_by, i.created_at, i.sent_at, \
     i.expires_at, i.resend_count, i.closed_at, i.closed_by, i.lifetime, i.metadata, i.version, o.id, o.name, \
     o.licenses, o.capabilities, o.seat_cap, o.created_at, o.version, m.id, \
     m.organization_id, m.user_id, m.email, m.first_name, m.last_name, m.roles, m.joined_at, \
     m.invitation_id, m.deactivated_at, m.metadata, m.version, CASE WHEN o.seat_cap IS NOT NULL THEN (SELECT COUNT(*) FROM \
     orgroster_members WHERE organization_id = o.id AND deactivated_at IS NULL) ELSE 0 END, CASE WHEN o.seat_cap IS NOT \
     NULL THEN (SELECT COUNT(*) FROM orgroster_invitations WHERE organization_id = o.id AND \
     status = 'pending' AND expires_at > $3) ELSE 0 END, t.id, t.organization_id, t.name, \
     t.message, t.suggested_courses, t.created_at, t.version FROM orgroster_invitations AS i \
     JOIN orgroster_organizations AS o ON o.id = i.organization_id LEFT JOIN \
     orgroster_members AS m ON m.organization_id = o.id AND m.user_id = $2 LEFT JOIN \
     orgroster_teams AS t ON t.id = i.team_id AND t.organization_id = i.organization_id \
     WHERE i.token_hash = $1";
/// As [`LINK_CONTEXT`], for the invitation with id `$1`, whatever its status (spec: INV-15).
/// The same text but for the `WHERE` clause: a unit test below holds them together.
pub(crate) const LINK_CONTEXT_BY_ID: &str = "SELECT i.id, i.organization_id, i.email, i.invitee_first_name, i.invitee_last_name, \
     i.role, i.team_id, i.status, i.token_hash, i.invited_by, i.created_at, i.sent_at, \
     i.expires_at, i.resend_count, i.closed_at, i.closed_by, i.lifetime, i.metadata, i.version, o.id, o.name, \
     o.licenses, o.capabilities, o.seat_cap, o.created_at, o.version, m.id, \
     m.organization_id, m.user_id, m.email, m.first_name, m.last_name, m.roles, m.joined_at, \
     m.invitation_id, m.deactivated_at, m.metadata, m.version, CASE WHEN o.seat_cap IS NOT NULL THEN (SELECT COUNT(*) FROM \
     orgroster_members WHERE organization_id = o.id AND deactivated_at IS NULL) ELSE 0 END, CASE WHEN o.seat_cap IS NOT \
     NULL THEN (SELECT COUNT(*) FROM orgroster_invitations WHERE organization_id = o.id AND \
     status = 'pending' AND expires_at > $3) ELSE 0 END, t.id, t.organization_id, t.name, \
     t.message, t.suggested_courses, t.created_at, t.version FROM orgroster_invitations AS i \
     JOIN orgroster_organizations AS o ON o.id = i.organization_id LEFT JOIN \
     orgroster_members AS m ON m.organization_id = o.id AND m.user_id = $2 LEFT JOIN \
     orgroster_teams AS t ON t.id = i.team_id AND t.organization_id = i.organization_id \
     WHERE i.id = $1";
/// The pending invitations to the email key `$1` after invitation `$2`, at most `$3`, across
/// organizations (spec: INV-15), from the partial index `orgroster_invitations_inbox`: an
/// invitation's columns, then its organization's name, its team's name (NULL when the team
/// is gone) and its inviter's first and last names (NULLs while the inviter is no member).
/// Only the inviter's names are read of their membership.
pub(crate) const INBOX_PAGE: &str = "SELECT i.id, i.organization_id, i.email, i.invitee_first_name, i.invitee_last_name, \
     i.role, i.team_id, i.status, i.token_hash, i.invited_by, i.created_at, i.sent_at, \
     i.expires_at, i.resend_count, i.closed_at, i.closed_by, i.lifetime, i.metadata, i.version, o.name, t.name, \
     m.first_name, m.last_name FROM orgroster_invitations AS i JOIN orgroster_organizations \
     AS o ON o.id = i.organization_id LEFT JOIN orgroster_teams AS t ON t.id = i.team_id AND \
     t.organization_id = i.organization_id LEFT JOIN orgroster_members AS m ON \
     m.organization_id = i.organization_id AND m.user_id = i.invited_by WHERE i.email_key = \
     $1 AND i.status = 'pending' AND i.id > $2 ORDER BY i.id LIMIT $3";
/// New invitations, followed by rows of [`INVITATION_INSERT_COLUMNS`] values (see
/// [`insert_rows`](super::plan::insert_rows)).
pub(crate) const INSERT_INVITATIONS: &str = "INSERT INTO orgroster_invitations (id, organization_id, email, email_key, \
     invitee_first_name, invitee_last_name, role, team_id, status, token_hash, invited_by, \
     created_at, sent_at, expires_at, resend_count, closed_at, closed_by, lifetime, metadata, version) VALUES";
/// The values of each row of [`INSERT_INVITATIONS`].
pub(crate) const INVITATION_INSERT_COLUMNS: usize = 20;
/// The invitation `$1` of `$2` read at version `$20`, changed.
pub(crate) const UPDATE_INVITATION: &str = "UPDATE orgroster_invitations SET email = $3, email_key = $4, invitee_first_name = $5, \
     invitee_last_name = $6, role = $7, team_id = $8, status = $9, token_hash = $10, \
     invited_by = $11, created_at = $12, sent_at = $13, expires_at = $14, resend_count = \
     $15, closed_at = $16, closed_by = $17, lifetime = $18, metadata = $19, version = version \
     + 1 WHERE id = $1 AND organization_id = $2 AND version = $20";
/// Withdraws the pending mail of invitation `$1` of organization `$2` (spec: INV-13).
pub(crate) const WITHDRAW_INVITATION_MAIL: &str = "DELETE FROM orgroster_outbox WHERE invitation_id = $1 AND organization_id = $2 AND \
     status = 'pending'";

// ----- teams ---------------------------------------------------------------------------
/// The team `$2` of organization `$1`.
pub(crate) const SELECT_TEAM: &str = "SELECT id, organization_id, name, message, suggested_courses, created_at, version FROM \
     orgroster_teams WHERE organization_id = $1 AND id = $2";
/// Teams of `$1` after `$2`, at most `$3`.
pub(crate) const TEAMS_PAGE: &str = "SELECT id, organization_id, name, message, suggested_courses, created_at, version FROM \
     orgroster_teams WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3";
/// A new team, at version 1.
pub(crate) const INSERT_TEAM: &str = "INSERT INTO orgroster_teams (id, organization_id, name, name_key, message, \
     suggested_courses, created_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1)";
/// The team `$1` of `$2` read at version `$7`, changed.
pub(crate) const UPDATE_TEAM: &str = "UPDATE orgroster_teams SET name = $3, name_key = $4, message = $5, suggested_courses = \
     $6, version = version + 1 WHERE id = $1 AND organization_id = $2 AND version = $7";
/// The team `$1` of `$2` read at version `$3`, removed (its memberships go with it).
pub(crate) const DELETE_TEAM: &str =
    "DELETE FROM orgroster_teams WHERE id = $1 AND organization_id = $2 AND version = $3";
/// Member `$2` into team `$1`, both of organization `$3`: no row when either is missing.
pub(crate) const ADD_TEAM_MEMBER: &str = "INSERT INTO orgroster_team_members (team_id, member_id, organization_id) SELECT $1, $2, \
     $3 WHERE EXISTS (SELECT 1 FROM orgroster_teams WHERE id = $1 AND organization_id = $3) \
     AND EXISTS (SELECT 1 FROM orgroster_members WHERE id = $2 AND organization_id = $3)";
/// Member `$2` out of team `$1` of organization `$3`.
pub(crate) const REMOVE_TEAM_MEMBER: &str = "DELETE FROM orgroster_team_members WHERE team_id = $1 AND member_id = $2 AND \
     organization_id = $3";
/// Opens the stint of member `$2` in team `$1` of `$3` at `$4`, starting no earlier than the
/// member's last stint in the team ended, so that stints never overlap even when instances'
/// clocks disagree (spec: TEAM-4): the aggregate always yields one row, NULL when there was
/// no stint.
pub(crate) const OPEN_STINT: &str = "INSERT INTO orgroster_team_stints (organization_id, team_id, user_id, joined_at, \
     left_at) SELECT $3, $1, m.user_id, CASE WHEN p.last > $4 THEN p.last ELSE $4 END, NULL \
     FROM orgroster_members AS m CROSS JOIN (SELECT MAX(s.left_at) AS last FROM \
     orgroster_team_stints AS s WHERE s.organization_id = $3 AND s.team_id = $1 AND \
     s.user_id = (SELECT user_id FROM orgroster_members WHERE id = $2)) AS p WHERE m.id = $2 \
     AND m.organization_id = $3";
/// Closes the stint of member `$2` in team `$1` of `$3` at `$4`, ending no earlier than it
/// began (spec: TEAM-4).
pub(crate) const CLOSE_STINT: &str = "UPDATE orgroster_team_stints SET left_at = CASE WHEN joined_at > $4 THEN joined_at ELSE \
     $4 END WHERE team_id = $1 AND organization_id = $3 AND left_at IS NULL AND user_id = \
     (SELECT user_id FROM orgroster_members WHERE id = $2)";
/// Closes every open stint in team `$1` of `$2` at `$3`.
pub(crate) const CLOSE_TEAM_STINTS: &str = "UPDATE orgroster_team_stints SET left_at = CASE WHEN joined_at > $3 THEN joined_at ELSE \
     $3 END WHERE team_id = $1 AND organization_id = $2 AND left_at IS NULL";
/// Closes every open stint of member `$1` of `$2` at `$3`.
pub(crate) const CLOSE_MEMBER_STINTS: &str = "UPDATE orgroster_team_stints SET left_at = CASE WHEN joined_at > $3 THEN joined_at ELSE \
     $3 END WHERE organization_id = $2 AND left_at IS NULL AND user_id = (SELECT user_id \
     FROM orgroster_members WHERE id = $1)";

// ----- events and outbox ----------------------------------------------------------------
/// Events of `$1` after `$2`, at most `$3`.
pub(crate) const EVENTS_PAGE: &str = "SELECT id, organization_id, at, actor, kind FROM orgroster_events WHERE organization_id \
     = $1 AND id > $2 ORDER BY id LIMIT $3";
/// New audit events, followed by rows of [`EVENT_INSERT_COLUMNS`] values.
pub(crate) const INSERT_EVENTS: &str =
    "INSERT INTO orgroster_events (id, organization_id, at, actor, kind) VALUES";
/// The values of each row of [`INSERT_EVENTS`].
pub(crate) const EVENT_INSERT_COLUMNS: usize = 5;
/// New mail, followed by rows of [`OUTBOX_INSERT_COLUMNS`] values.
pub(crate) const INSERT_OUTBOX: &str = "INSERT INTO orgroster_outbox (id, organization_id, recipient, content, invitation_id, \
     status, attempts, created_at, due_at, lease_until, last_error) VALUES";
/// The values of each row of [`INSERT_OUTBOX`].
pub(crate) const OUTBOX_INSERT_COLUMNS: usize = 11;
/// Deletes organization `$1`'s rows of every other table (spec: ORG-5), in this order, before
/// [`DELETE_ORG`]: each table named, rather than left to `ON DELETE CASCADE`, so that a host's
/// SQLite pool without foreign keys loses nothing of it either.
pub(crate) const DELETE_ORG_ROWS: [&str; 8] = [
    "DELETE FROM orgroster_team_members WHERE team_id IN (SELECT id FROM orgroster_teams WHERE \
     organization_id = $1)",
    "DELETE FROM orgroster_teams WHERE organization_id = $1",
    "DELETE FROM orgroster_invitations WHERE organization_id = $1",
    "DELETE FROM orgroster_members WHERE organization_id = $1",
    "DELETE FROM orgroster_team_stints WHERE organization_id = $1",
    "DELETE FROM orgroster_activities WHERE organization_id = $1",
    "DELETE FROM orgroster_events WHERE organization_id = $1",
    "DELETE FROM orgroster_outbox WHERE organization_id = $1",
];
/// Deletes organization `$1`, once [`DELETE_ORG_ROWS`] emptied the rest.
pub(crate) const DELETE_ORG: &str = "DELETE FROM orgroster_organizations WHERE id = $1";
/// The mail `$2` of `$1`.
pub(crate) const SELECT_OUTBOX: &str = "SELECT id, organization_id, recipient, content, status, attempts, created_at, due_at, \
     lease_until, last_error FROM orgroster_outbox WHERE organization_id = $1 AND id = $2";
/// The failed mail `$1` of `$2`, queued again: due at `$3`, its attempts from zero (spec:
/// MSG-3).
pub(crate) const REQUEUE_MAIL: &str = "UPDATE orgroster_outbox SET status = 'pending', attempts = 0, due_at = $3, lease_until = \
     NULL, claim = NULL, last_error = NULL WHERE id = $1 AND organization_id = $2 AND status = \
     'failed'";
/// Mail of `$1` after `$2` whatever its status, at most `$3`.
pub(crate) const OUTBOX_PAGE: &str = "SELECT id, organization_id, recipient, content, status, attempts, created_at, due_at, \
     lease_until, last_error FROM orgroster_outbox WHERE organization_id = $1 AND id > $2 \
     ORDER BY id LIMIT $3";
/// Withdraws the queued messages and notifications of `$1` addressed to `$2` (spec: MEM-2).
pub(crate) const WITHDRAW_MAIL_TO: &str = "DELETE FROM orgroster_outbox WHERE organization_id = $1 AND recipient = $2 AND \
     status = 'pending' AND invitation_id IS NULL";
/// The events of `$1` whose ids follow `IN`, to be inserted again rewritten (spec: USR-5):
/// one statement for a thousand, where an update would take one each.
pub(crate) const DELETE_EVENTS: &str =
    "DELETE FROM orgroster_events WHERE organization_id = $1 AND id IN";
/// The mail `$1` of `$2`, its recipient and content rewritten as `$3` and `$4` (spec: USR-5).
pub(crate) const REWRITE_MAIL: &str = "UPDATE orgroster_outbox SET recipient = $3, content = $4 WHERE id = $1 AND \
     organization_id = $2";
/// Failed mail of `$1` after `$2`, at most `$3`.
pub(crate) const FAILED_OUTBOX_PAGE: &str = "SELECT id, organization_id, recipient, content, status, attempts, created_at, due_at, \
     lease_until, last_error FROM orgroster_outbox WHERE organization_id = $1 AND status = \
     'failed' AND id > $2 ORDER BY id LIMIT $3";
/// Settles row `$1` for the claim `$2` that holds it (spec: MSG-3): the transport took it.
pub(crate) const SETTLE_SENT: &str = "UPDATE orgroster_outbox SET status = 'sent', lease_until = NULL, claim = NULL WHERE id \
     = $1 AND claim = $2 AND status = 'pending'";
/// … put back for `$3`, with the error `$4`.
pub(crate) const SETTLE_RETRY: &str = "UPDATE orgroster_outbox SET due_at = $3, last_error = $4, lease_until = NULL, claim = \
     NULL WHERE id = $1 AND claim = $2 AND status = 'pending'";
/// … given up with the error `$3`.
pub(crate) const SETTLE_FAILED: &str = "UPDATE orgroster_outbox SET status = 'failed', last_error = $3, lease_until = NULL, \
     claim = NULL WHERE id = $1 AND claim = $2 AND status = 'pending'";
/// … not attempted: back at once, the claim's attempt not counted.
pub(crate) const SETTLE_RELEASED: &str = "UPDATE orgroster_outbox SET attempts = attempts - 1, lease_until = NULL, claim = NULL \
     WHERE id = $1 AND claim = $2 AND status = 'pending'";

// ----- learning activity ---------------------------------------------------------------
/// New learning events, followed by rows of [`ACTIVITY_INSERT_COLUMNS`] values and
/// [`ACTIVITIES_ONCE`]: the ids of those that were new come back.
pub(crate) const INSERT_ACTIVITIES: &str = "INSERT INTO orgroster_activities (organization_id, id, user_id, course, kind, value, \
     at) VALUES";
/// The values of each row of [`INSERT_ACTIVITIES`].
pub(crate) const ACTIVITY_INSERT_COLUMNS: usize = 7;
/// Ends [`INSERT_ACTIVITIES`]: an event recorded before is skipped (spec: STAT-1).
pub(crate) const ACTIVITIES_ONCE: &str =
    " ON CONFLICT (organization_id, id) DO NOTHING RETURNING id";
/// The statistics of the whole organization (spec: STAT-2), from the covering time index.
pub(crate) const ORGANIZATION_STATISTICS: ScopeStatements = ScopeStatements {
    totals: ORGANIZATION_TOTALS,
    courses: ORGANIZATION_COURSES,
    weeks: ORGANIZATION_WEEKS,
};
/// See [`ScopeStatements::totals`].
const ORGANIZATION_TOTALS: &str = "SELECT COUNT(DISTINCT user_id), CAST(COALESCE(SUM(CASE WHEN kind = 'enrolled' THEN 1 \
     ELSE 0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE \
     0 END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'certificate' THEN 1 ELSE 0 \
     END), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 \
     END), 0) AS BIGINT), (SELECT COUNT(*) FROM orgroster_members WHERE organization_id = $1 \
     AND joined_at < $3 AND $2 < $3), (SELECT COUNT(*) FROM orgroster_invitations WHERE \
     organization_id = $1 AND created_at >= $2 AND created_at < $3) FROM (SELECT user_id, \
     course, kind, value, at FROM orgroster_activities WHERE organization_id = $1 AND at >= \
     $2 AND at < $3) AS e";
/// See [`ScopeStatements::courses`].
const ORGANIZATION_COURSES: &str = "SELECT course, COUNT(DISTINCT user_id) FROM (SELECT user_id, course, kind, value, at \
     FROM orgroster_activities WHERE organization_id = $1 AND at >= $2 AND at < $3) AS e \
     GROUP BY course";
/// See [`ScopeStatements::weeks`]. Weeks are counted from Monday 1970-01-05 00:00 UTC (345,600 s
/// after the epoch), rounding down for earlier times too, as `Period::week_of` does.
const ORGANIZATION_WEEKS: &str = "SELECT w, COUNT(DISTINCT user_id), CAST(SUM(CASE WHEN kind = 'completed' THEN 1 ELSE 0 \
     END) AS BIGINT), CAST(SUM(CASE WHEN kind = 'time_spent' THEN value ELSE 0 END) AS \
     BIGINT) FROM (SELECT user_id, kind, value, (at - 345600000000) / 604800000000 - CASE \
     WHEN at < 345600000000 AND (at - 345600000000) % 604800000000 <> 0 THEN 1 ELSE 0 END AS \
     w FROM (SELECT user_id, course, kind, value, at FROM orgroster_activities WHERE \
     organization_id = $1 AND at >= $2 AND at < $3) AS e) AS weeks GROUP BY w ORDER BY w";

/// The learning activity of user `$2` of `$1`, now the pseudonym `$3`'s (spec: USR-5).
pub(crate) const PSEUDONYMIZE_ACTIVITIES: &str =
    "UPDATE orgroster_activities SET user_id = $3 WHERE organization_id = $1 AND user_id = $2";
/// The team stints of user `$2` of `$1`, now the pseudonym `$3`'s (spec: USR-5).
pub(crate) const PSEUDONYMIZE_STINTS: &str =
    "UPDATE orgroster_team_stints SET user_id = $3 WHERE organization_id = $1 AND user_id = $2";

// ----- migrations bookkeeping ----------------------------------------------------------
/// orgroster's own bookkeeping, never the host's `_sqlx_migrations`.
pub(crate) const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS _orgroster_migrations (version BIGINT PRIMARY KEY NOT NULL, \
     description TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";
/// The migrations applied: version, checksum.
pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version, checksum FROM _orgroster_migrations ORDER BY version";
/// Records migration `$1`.
pub(crate) const RECORD_MIGRATION: &str = "INSERT INTO _orgroster_migrations (version, description, checksum, applied_at) VALUES \
     ($1, $2, $3, $4)";

#[cfg(test)]
mod tests {
    use super::*;

    /// The two reads of what answering an invitation is decided on differ only in how they
    /// name it: a column added to one must be added to the other.
    #[test]
    fn the_link_context_by_id_is_the_link_context_named_by_id() {
        assert_eq!(
            LINK_CONTEXT_BY_ID,
            LINK_CONTEXT.replace("WHERE i.token_hash = $1", "WHERE i.id = $1")
        );
    }
}
