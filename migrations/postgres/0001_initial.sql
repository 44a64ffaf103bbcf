-- orgroster schema, PostgreSQL dialect.
--
-- Times are microseconds since the Unix epoch, bound from the host's Clock (never SQL's own
-- clock), so that time-dependent rules behave the same on every store and in tests.
-- Ids are UUID v7: ordering by id is creation order, which keyset pagination
-- uses. Every row carries its organization, and every read names it, so that an id of one
-- organization never reads a row of another.

-- Organizations (ORG-1, ORG-2, ORG-4).
CREATE TABLE orgroster_organizations (
    id           UUID PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    licenses     TEXT NOT NULL,            -- JSON array of licenses (ORG-1)
    capabilities TEXT NOT NULL,            -- JSON object (ORG-1, ORG-2)
    seat_cap     BIGINT,                  -- NULL: no cap (ORG-4)
    created_at   BIGINT NOT NULL,
    -- Bumped by every change to memberships and invitations, so that seat-cap and
    -- last-administrator decisions serialize per organization (optimistic concurrency).
    version      BIGINT NOT NULL
);

-- Members: one row per (organization, user) (INV-11, ROLE-1).
CREATE TABLE orgroster_members (
    id              UUID PRIMARY KEY NOT NULL,
    organization_id UUID NOT NULL REFERENCES orgroster_organizations (id) ON DELETE CASCADE,
    user_id         UUID NOT NULL,
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL,         -- lowercased: emails compare case-insensitively
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    roles           BIGINT NOT NULL,      -- RoleSet bits: 1 admin, 2 manager, 4 supervisor, 8 member
    joined_at       BIGINT NOT NULL,
    invitation_id   UUID,
    deactivated_at  BIGINT,                -- MEM-2: set while deactivated; NULL while active
    metadata        TEXT,                  -- INV-14: the invitation's host metadata, JSON
    version         BIGINT NOT NULL,
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
    id                 UUID PRIMARY KEY NOT NULL,
    organization_id    UUID NOT NULL REFERENCES orgroster_organizations (id) ON DELETE CASCADE,
    email              TEXT NOT NULL,
    email_key          TEXT NOT NULL,
    invitee_first_name TEXT,
    invitee_last_name  TEXT,
    role               TEXT NOT NULL,
    team_id            UUID,               -- no foreign key: a deleted team leaves the invitation valid
    status             TEXT NOT NULL,
    token_hash         BYTEA NOT NULL,      -- SHA-256 of the link's token; the token is never stored (INV-6)
    invited_by         UUID NOT NULL,
    created_at         BIGINT NOT NULL,
    sent_at            BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    resend_count       BIGINT NOT NULL,
    closed_at          BIGINT,
    closed_by          UUID,
    lifetime           BIGINT,             -- INV-14: its own lifetime in seconds, if any
    metadata           TEXT,               -- INV-14: the host's metadata, JSON
    version            BIGINT NOT NULL,
    -- A link opens one invitation (INV-3, INV-6).
    CONSTRAINT invitations_unique_token UNIQUE (token_hash)
);
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
    id                UUID PRIMARY KEY NOT NULL,
    organization_id   UUID NOT NULL REFERENCES orgroster_organizations (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    name_key          TEXT NOT NULL,
    message           TEXT,
    suggested_courses TEXT NOT NULL,        -- JSON array, in display order (TEAM-2)
    created_at        BIGINT NOT NULL,
    version           BIGINT NOT NULL,
    -- TEAM-1: names are unique per organization, regardless of case. No read checks them
    -- first: this rule is the check.
    CONSTRAINT teams_unique_name UNIQUE (organization_id, name_key)
);
-- The team listing, page by page in id order.
CREATE INDEX orgroster_teams_by_org ON orgroster_teams (organization_id, id);

-- Who is in which team now; gone with the team or the member.
CREATE TABLE orgroster_team_members (
    team_id         UUID NOT NULL REFERENCES orgroster_teams (id) ON DELETE CASCADE,
    member_id       UUID NOT NULL REFERENCES orgroster_members (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    CONSTRAINT team_members_once PRIMARY KEY (team_id, member_id)
);
-- A member's teams: what supervisors may see and manage (TEAM-3).
CREATE INDEX orgroster_team_members_by_member ON orgroster_team_members (member_id, team_id);

-- INV-12: the audit trail, append-only.
CREATE TABLE orgroster_events (
    id              UUID PRIMARY KEY NOT NULL,
    organization_id UUID NOT NULL,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,          -- JSON
    kind            TEXT NOT NULL           -- JSON
);
-- The audit trail of an organization, read in id order.
CREATE INDEX orgroster_events_by_org ON orgroster_events (organization_id, id);

-- INV-9: mail written in the same transaction as the change that caused it. It holds no
-- invitation token (INV-6): a link's token is derived from a key the host keeps outside the
-- database when the email is rendered.
CREATE TABLE orgroster_outbox (
    id              UUID PRIMARY KEY NOT NULL,
    organization_id UUID NOT NULL,
    recipient       TEXT NOT NULL,
    content         TEXT NOT NULL,          -- JSON
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    invitation_id   UUID,                   -- the invitation an invitation mail is for
    claim           UUID                    -- MSG-3: the claim holding the row, if any
);
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
    organization_id UUID NOT NULL,
    id              TEXT NOT NULL,          -- the host's event id
    user_id         UUID NOT NULL,
    course          TEXT NOT NULL,
    kind            TEXT NOT NULL,          -- enrolled, progress, completed, certificate, time_spent
    value           BIGINT NOT NULL,       -- percent for progress, seconds for time spent, else 0
    at              BIGINT NOT NULL,
    CONSTRAINT activities_once PRIMARY KEY (organization_id, id)
);
-- The statistics of an organization read one period of its activity (STAT-2, STAT-3): this
-- index holds every column they need, in time order, so they are index-only scans (once
-- autovacuum has marked the pages all-visible). New events, which arrive in time order, are
-- appended at its end.
CREATE INDEX orgroster_activities_by_time ON orgroster_activities (organization_id, at)
    INCLUDE (user_id, kind, value, course);
-- A member's own figures and the per-member export read one member's events of a period
-- (STAT-2, STAT-4, TEAM-4): with the time index alone any member could make the database
-- read the whole organization's activity. It holds the columns the figures read, so they
-- are index-only scans. Its insert positions are random (one learner after another), which
-- makes recording dearer: a member's read must not depend on the size of the organization.
CREATE INDEX orgroster_activities_by_user ON orgroster_activities (organization_id, user_id, at)
    INCLUDE (kind, value, course);

-- TEAM-4: the history of team memberships, so that a team's figures count a member's events
-- only while they were in it. A member's stints in one team never overlap.
CREATE TABLE orgroster_team_stints (
    organization_id UUID NOT NULL,
    team_id         UUID NOT NULL,          -- no foreign key: stints outlive a deleted team
    user_id         UUID NOT NULL,
    joined_at       BIGINT NOT NULL,
    left_at         BIGINT                 -- NULL while the member belongs to the team
);
-- A team's members over a period.
CREATE INDEX orgroster_team_stints_by_team ON orgroster_team_stints (team_id, joined_at);
-- A member's stints: closed when they leave, looked up for each event of a team's figures.
CREATE INDEX orgroster_team_stints_by_user ON orgroster_team_stints (organization_id, user_id);

-- A commit whose steps do not read each other's writes runs as one statement, every step a
-- data-modifying WITH clause (src/store/postgres/one_statement.rs). A version check or
-- existence check that does not hold must abort that statement, and so every write of the
-- commit: the statement passes each checked step's row count here, and this raises, naming
-- the step, when it is not exactly 1.
CREATE FUNCTION orgroster_expect(affected bigint, step integer) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF affected <> 1 THEN
        RAISE EXCEPTION 'orgroster: a checked write of the commit did not apply at step %', step
            USING ERRCODE = 'OR409';
    END IF;
    RETURN 0;
END
$$;
