-- orgroster schema, SQLite dialect.
--
-- Times are microseconds since the Unix epoch, bound from the host's Clock (never SQL's own
-- clock), so that time-dependent rules behave the same on every store and in tests.
-- Ids are UUID v7 (16-byte blobs): ordering by id is creation order, which keyset pagination
-- uses. Every row carries its organization, and every read names it, so that an id of one
-- organization never reads a row of another.
--
-- Invitations, audit events and the outbox keep their rows in their primary key's B-tree
-- (WITHOUT ROWID) rather than in a rowid table plus an index on the blob key: one B-tree
-- fewer to write for every row an invitation, an acceptance or a mail adds.

-- Organizations (ORG-1, ORG-2, ORG-4).
CREATE TABLE orgroster_organizations (
    id           BLOB PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    licenses     TEXT NOT NULL,            -- JSON array of licenses (ORG-1)
    capabilities TEXT NOT NULL,            -- JSON object (ORG-1, ORG-2)
    seat_cap     INTEGER,                  -- NULL: no cap (ORG-4)
    created_at   INTEGER NOT NULL,
    -- Bumped by every change to memberships and invitations, so that seat-cap and
    -- last-administrator decisions serialize per organization (optimistic concurrency).
    version      INTEGER NOT NULL
);

-- Members: one row per (organization, user) (INV-11, ROLE-1).
CREATE TABLE orgroster_members (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES orgroster_organizations (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL,
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL,         -- lowercased: emails compare case-insensitively
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    roles           INTEGER NOT NULL,      -- RoleSet bits: 1 admin, 2 manager, 4 supervisor, 8 member
    joined_at       INTEGER NOT NULL,
    invitation_id   BLOB,
    deactivated_at  INTEGER,               -- MEM-2: set while deactivated; NULL while active
    metadata        TEXT,                  -- INV-14: the invitation's host metadata, JSON
    version         INTEGER NOT NULL,
    -- INV-11: a user is never a member of one organization twice, whatever races.
    CONSTRAINT members_one_per_user UNIQUE (organization_id, user_id),
    CONSTRAINT members_one_per_email UNIQUE (organization_id, email_key),
    -- ROLE-2: administrator (1) and team supervisor (4) are never held together.
    CONSTRAINT members_roles_not_cumulative CHECK ((roles & 5) <> 5)
);
-- The member listing, page by page in id order; with `deactivated_at`, it alone answers the
-- count of active members that a seat cap needs (ORG-4, MEM-2).
CREATE INDEX orgroster_members_by_org ON orgroster_members (organization_id, id, deactivated_at);
-- A user's organizations, for their account menu (USR-4): one range of this index, whatever
-- the number of organizations.
CREATE INDEX orgroster_members_by_user ON orgroster_members (user_id, organization_id);

-- Invitations, pending and closed alike: the audit of who was invited stays (INV-12).
CREATE TABLE orgroster_invitations (
    id                 BLOB NOT NULL,
    organization_id    BLOB NOT NULL REFERENCES orgroster_organizations (id) ON DELETE CASCADE,
    email              TEXT NOT NULL,
    email_key          TEXT NOT NULL,
    invitee_first_name TEXT,
    invitee_last_name  TEXT,
    role               TEXT NOT NULL,
    team_id            BLOB,               -- no foreign key: a deleted team leaves the invitation valid
    status             TEXT NOT NULL,
    token_hash         BLOB NOT NULL,      -- SHA-256 of the link's token; the token is never stored (INV-6)
    invited_by         BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    sent_at            INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    resend_count       INTEGER NOT NULL,
    closed_at          INTEGER,
    closed_by          BLOB,
    lifetime           INTEGER,            -- INV-14: its own lifetime in seconds, if any
    metadata           TEXT,               -- INV-14: the host's metadata, JSON
    version            INTEGER NOT NULL,
    CONSTRAINT invitations_pk PRIMARY KEY (id),
    -- A link opens one invitation (INV-3, INV-6).
    CONSTRAINT invitations_unique_token UNIQUE (token_hash)
) WITHOUT ROWID;
-- INV-8: at most one pending invitation per (organization, email).
CREATE UNIQUE INDEX invitations_one_pending_per_email
    ON orgroster_invitations (organization_id, email_key) WHERE status = 'pending';
-- The invitation listing, page by page in id order.
CREATE INDEX orgroster_invitations_by_org ON orgroster_invitations (organization_id, id);
-- INV-15: an invitee's inbox, their pending invitations across organizations page by page
-- in id order: one range of this index, whatever the number of invitations.
CREATE INDEX orgroster_invitations_inbox ON orgroster_invitations (email_key, id)
    WHERE status = 'pending';

-- Teams (TEAM-1, TEAM-2).
CREATE TABLE orgroster_teams (
    id                BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL REFERENCES orgroster_organizations (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    name_key          TEXT NOT NULL,
    message           TEXT,
    suggested_courses TEXT NOT NULL,        -- JSON array, in display order (TEAM-2)
    created_at        INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    -- TEAM-1: names are unique per organization, regardless of case. No read checks them
    -- first: this rule is the check.
    CONSTRAINT teams_unique_name UNIQUE (organization_id, name_key)
);
-- The team listing, page by page in id order.
CREATE INDEX orgroster_teams_by_org ON orgroster_teams (organization_id, id);

-- Who is in which team now; gone with the team or the member.
CREATE TABLE orgroster_team_members (
    team_id         BLOB NOT NULL REFERENCES orgroster_teams (id) ON DELETE CASCADE,
    member_id       BLOB NOT NULL REFERENCES orgroster_members (id) ON DELETE CASCADE,
    organization_id BLOB NOT NULL,
    CONSTRAINT team_members_once PRIMARY KEY (team_id, member_id)
);
-- A member's teams: what supervisors may see and manage (TEAM-3).
CREATE INDEX orgroster_team_members_by_member ON orgroster_team_members (member_id, team_id);

-- INV-12: the audit trail, append-only, keyed in the order it is read.
CREATE TABLE orgroster_events (
    id              BLOB NOT NULL,
    organization_id BLOB NOT NULL,
    at              INTEGER NOT NULL,
    actor           TEXT NOT NULL,          -- JSON
    kind            TEXT NOT NULL,          -- JSON
    CONSTRAINT events_pk PRIMARY KEY (organization_id, id)
) WITHOUT ROWID;

-- INV-9: mail written in the same transaction as the change that caused it. It holds no
-- invitation token (INV-6): a link's token is derived from a key the host keeps outside the
-- database when the email is rendered.
CREATE TABLE orgroster_outbox (
    id              BLOB NOT NULL,
    organization_id BLOB NOT NULL,
    recipient       TEXT NOT NULL,
    content         TEXT NOT NULL,          -- JSON
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    invitation_id   BLOB,                   -- the invitation an invitation mail is for
    claim           BLOB,                   -- MSG-3: the claim holding the row, if any
    CONSTRAINT outbox_pk PRIMARY KEY (id)
) WITHOUT ROWID;
-- The due mail a delivery pass claims (MSG-3).
CREATE INDEX orgroster_outbox_due ON orgroster_outbox (due_at, id) WHERE status = 'pending';
-- The failed mail an organization lists (MSG-2).
CREATE INDEX orgroster_outbox_failed ON orgroster_outbox (organization_id, id) WHERE status = 'failed';
-- An organization's mail, whatever its status: what an erasure rewrites (USR-5) and what
-- deleting the organization removes (ORG-5), found without reading the whole outbox.
CREATE INDEX orgroster_outbox_by_org ON orgroster_outbox (organization_id, id);
-- INV-13: an invitation's queued mail, withdrawn by the commit that accepts, declines,
-- revokes or resends it.
CREATE INDEX orgroster_outbox_invitation ON orgroster_outbox (invitation_id)
    WHERE status = 'pending' AND invitation_id IS NOT NULL;

-- Learning activity (STAT-1), recorded once per (organization, event id): a retried event is
-- not counted twice.
CREATE TABLE orgroster_activities (
    organization_id BLOB NOT NULL,
    id              TEXT NOT NULL,          -- the host's event id
    user_id         BLOB NOT NULL,
    course          TEXT NOT NULL,
    kind            TEXT NOT NULL,          -- enrolled, progress, completed, certificate, time_spent
    value           INTEGER NOT NULL,       -- percent for progress, seconds for time spent, else 0
    at              INTEGER NOT NULL,
    CONSTRAINT activities_once PRIMARY KEY (organization_id, id)
);
-- The statistics of an organization read one period of its activity (STAT-2, STAT-3): this
-- index holds every column they need, in time order, so they never visit the table. New
-- events, which arrive in time order, are appended at its end.
CREATE INDEX orgroster_activities_by_time ON orgroster_activities
    (organization_id, at, user_id, kind, value, course);
-- A member's own figures and the per-member export read one member's events of a period
-- (STAT-2, STAT-4, TEAM-4): with the time index alone any member could make the database
-- read the whole organization's activity. It holds the columns the figures read, so they
-- never visit the table. Its insert positions are random (one learner after another), which
-- makes recording dearer: a member's read must not depend on the size of the organization.
CREATE INDEX orgroster_activities_by_user ON orgroster_activities
    (organization_id, user_id, at, kind, value, course);

-- TEAM-4: the history of team memberships, so that a team's figures count a member's events
-- only while they were in it. A member's stints in one team never overlap.
CREATE TABLE orgroster_team_stints (
    organization_id BLOB NOT NULL,
    team_id         BLOB NOT NULL,          -- no foreign key: stints outlive a deleted team
    user_id         BLOB NOT NULL,
    joined_at       INTEGER NOT NULL,
    left_at         INTEGER                 -- NULL while the member belongs to the team
);
-- A team's members over a period.
CREATE INDEX orgroster_team_stints_by_team ON orgroster_team_stints (team_id, joined_at);
-- A member's stints: closed when they leave, looked up for each event of a team's figures.
CREATE INDEX orgroster_team_stints_by_user ON orgroster_team_stints (organization_id, user_id);

-- A commit runs as one batch of statements, BEGIN IMMEDIATE to COMMIT, in one call into
-- SQLite (src/store/sqlite/batch.rs). After each checked step (a version check, an existence
-- check) the batch inserts here whether the step touched exactly one row; anything else
-- raises, naming the step, which stops the batch before its COMMIT. The store then rolls the
-- transaction back: nothing of the commit stays.
CREATE VIEW orgroster_expect (step, ok) AS SELECT 0, 1 WHERE 0;

CREATE TRIGGER orgroster_expect_raise INSTEAD OF INSERT ON orgroster_expect
WHEN NEW.ok IS NOT 1
BEGIN
    SELECT RAISE(ABORT, 'orgroster: a checked write of the commit did not apply at step ' || NEW.step);
END;
