-- A commit whose writes do not depend on each other runs as one statement: every write a
-- data-modifying WITH clause (src/store/plan.rs). A version check or existence check that
-- did not hold must abort that statement, and so every write of the commit: this raises,
-- naming the step, when a checked write did not affect exactly one row.
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
