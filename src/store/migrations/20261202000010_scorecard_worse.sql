-- The services that score worse than a week before the results were worked out, with what
-- they scored then and the checks failing now that passed then: worked out with the results,
-- so a screen only reads it.
CREATE TABLE scorecard_worse (
    component_key TEXT PRIMARY KEY,
    owner_key TEXT,
    was_level INTEGER,
    now_level INTEGER,
    newly_failing TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX scorecard_worse_by_owner ON scorecard_worse (owner_key);
-- Nothing walks the history by day any more.
DROP INDEX scorecard_history_by_day;
