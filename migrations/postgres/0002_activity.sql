-- Learning activity (STAT-1) and the history of team memberships that team statistics need
-- (TEAM-4: a team's figures count the members who belonged to it during the period).

CREATE TABLE orgroster_activities (
    organization_id UUID NOT NULL,
    id              TEXT NOT NULL,          -- the host's event id: a retried event is not counted twice
    user_id         UUID NOT NULL,
    course          TEXT NOT NULL,
    kind            TEXT NOT NULL,          -- enrolled, progress, completed, certificate, time_spent
    value           BIGINT NOT NULL,       -- percent for progress, seconds for time spent, else 0
    at              BIGINT NOT NULL,
    CONSTRAINT activities_once PRIMARY KEY (organization_id, id)
);
CREATE INDEX orgroster_activities_by_time ON orgroster_activities (organization_id, at);
CREATE INDEX orgroster_activities_by_user ON orgroster_activities (organization_id, user_id, at);

CREATE TABLE orgroster_team_stints (
    organization_id UUID NOT NULL,
    team_id         UUID NOT NULL,          -- no foreign key: stints outlive a deleted team
    user_id         UUID NOT NULL,
    joined_at       BIGINT NOT NULL,
    left_at         BIGINT                 -- NULL while the member belongs to the team
);
CREATE INDEX orgroster_team_stints_by_team ON orgroster_team_stints (team_id, joined_at);
CREATE INDEX orgroster_team_stints_by_user ON orgroster_team_stints (organization_id, user_id);

-- Memberships that existed before this migration start when their member joined.
INSERT INTO orgroster_team_stints (organization_id, team_id, user_id, joined_at, left_at)
SELECT tm.organization_id, tm.team_id, m.user_id, m.joined_at, NULL
FROM orgroster_team_members tm JOIN orgroster_members m ON m.id = tm.member_id;
