-- A commit runs as one batch of statements, BEGIN IMMEDIATE to COMMIT, in one call into
-- SQLite (src/store/plan.rs, `batch`). After each checked write (a version check, an
-- existence check) the batch inserts the number of rows it changed here; anything but 1
-- raises, naming the step, which stops the batch before its COMMIT. The store then rolls
-- the transaction back: nothing of the commit stays.
CREATE VIEW orgroster_expect (step, ok) AS SELECT 0, 1 WHERE 0;

CREATE TRIGGER orgroster_expect_raise INSTEAD OF INSERT ON orgroster_expect
WHEN NEW.ok IS NOT 1
BEGIN
    SELECT RAISE(ABORT, 'orgroster: a checked write of the commit did not apply at step ' || NEW.step);
END;
