-- Statistics read one period of an organization's activity. One index now holds every column
-- they need, in time order, so they are answered by index-only scans (once autovacuum has
-- marked the pages all-visible); it replaces both earlier indexes.
--
-- The per-user index `(organization_id, user_id, at)` is dropped: its insert positions are
-- random (one learner after another), so every new event dirtied a page of it, and team
-- figures walked it once per member (11,000 index scans and heap fetches for 100 teams).
-- Per-member and per-team figures now scan the period in this index and keep the members they
-- need (a team's members are hashed).

DROP INDEX orgroster_activities_by_time;
DROP INDEX orgroster_activities_by_user;
CREATE INDEX orgroster_activities_by_time ON orgroster_activities (organization_id, at)
    INCLUDE (user_id, kind, value, course);
