-- A member's own figures and the per-member export read one member's events of a period
-- (spec: STAT-2, STAT-4, TEAM-4). The time index alone would make them scan every event of
-- the organization in the period, so that any member could make the database read the
-- whole organization's activity; this index makes their cost follow the member's own.
--
-- Its insert positions are random (one learner after another), which makes recording events
-- dearer than with the time index alone (see migration 0003); a member's read must not
-- depend on the size of the organization, and that is the price.
-- It holds the columns the figures read, so they never visit the table: the member's events
-- sit side by side in it, where the table scatters them over the whole organization's pages.
CREATE INDEX orgroster_activities_by_user ON orgroster_activities
    (organization_id, user_id, at, kind, value, course);
