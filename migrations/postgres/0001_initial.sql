-- orgroster schema, PostgreSQL dialect.
-- Times are microseconds since the Unix epoch, bound from the host's Clock (never SQL now()),
-- so time-dependent rules behave identically on every store and in tests.
-- Ids are UUID v7 (uuid): ordering by id is creation order, which keyset pagination uses.

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
    version         BIGINT NOT NULL,
    -- INV-11: a user is never a member of one organization twice, whatever races.
    CONSTRAINT members_one_per_user UNIQUE (organization_id, user_id),
    CONSTRAINT members_one_per_email UNIQUE (organization_id, email_key),
    -- ROLE-2: administrator (1) and team supervisor (4) are never held together.
    CONSTRAINT members_roles_not_cumulative CHECK ((roles & 5) <> 5)
);
CREATE INDEX orgroster_members_by_org ON orgroster_members (organization_id, id);

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
    version            BIGINT NOT NULL,
    CONSTRAINT invitations_unique_token UNIQUE (token_hash)
);
-- INV-8: at most one pending invitation per (organization, email).
CREATE UNIQUE INDEX invitations_one_pending_per_email
    ON orgroster_invitations (organization_id, email_key) WHERE status = 'pending';
CREATE INDEX orgroster_invitations_by_org ON orgroster_invitations (organization_id, id);

CREATE TABLE orgroster_teams (
    id                UUID PRIMARY KEY NOT NULL,
    organization_id   UUID NOT NULL REFERENCES orgroster_organizations (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    name_key          TEXT NOT NULL,
    message           TEXT,
    suggested_courses TEXT NOT NULL,        -- JSON array, in display order (TEAM-2)
    created_at        BIGINT NOT NULL,
    version           BIGINT NOT NULL,
    CONSTRAINT teams_unique_name UNIQUE (organization_id, name_key)
);
CREATE INDEX orgroster_teams_by_org ON orgroster_teams (organization_id, id);

CREATE TABLE orgroster_team_members (
    team_id         UUID NOT NULL REFERENCES orgroster_teams (id) ON DELETE CASCADE,
    member_id       UUID NOT NULL REFERENCES orgroster_members (id) ON DELETE CASCADE,
    organization_id UUID NOT NULL,
    CONSTRAINT team_members_once PRIMARY KEY (team_id, member_id)
);
CREATE INDEX orgroster_team_members_by_member ON orgroster_team_members (member_id, team_id);

-- INV-12: the audit trail, append-only.
CREATE TABLE orgroster_events (
    id              UUID PRIMARY KEY NOT NULL,
    organization_id UUID NOT NULL,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,          -- JSON
    kind            TEXT NOT NULL           -- JSON
);
CREATE INDEX orgroster_events_by_org ON orgroster_events (organization_id, id);

-- INV-9: mail written in the same transaction as the change that caused it.
CREATE TABLE orgroster_outbox (
    id              UUID PRIMARY KEY NOT NULL,
    organization_id UUID NOT NULL,
    recipient       TEXT NOT NULL,
    content         TEXT NOT NULL,          -- JSON
    secret          TEXT,                   -- the invitation token until delivery, then NULL
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT
);
CREATE INDEX orgroster_outbox_due ON orgroster_outbox (due_at, id) WHERE status = 'pending';
CREATE INDEX orgroster_outbox_failed ON orgroster_outbox (organization_id, id) WHERE status = 'failed';
