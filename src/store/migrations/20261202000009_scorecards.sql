-- Scorecards, worked out by the engine after a sync changes the cache (or the scorecard config
-- changes) so that screens and reports read results, never rules.

-- Each service's latest result: the level reached (index into the configured levels, NULL
-- below the first) and every check's outcome, in the scorecard's order.
CREATE TABLE scorecard_results (
    component_key TEXT PRIMARY KEY,
    owner_key TEXT,
    level INTEGER,
    passed INTEGER NOT NULL,
    total INTEGER NOT NULL,
    outcomes TEXT NOT NULL,
    last_production_deploy INTEGER,
    open_incidents INTEGER NOT NULL
);
CREATE INDEX scorecard_results_by_owner ON scorecard_results (owner_key);

-- Each owner's services added up (a domain `Tally` as JSON): what the tree rolls up.
CREATE TABLE scorecard_teams (
    owner_key TEXT PRIMARY KEY,
    tally TEXT NOT NULL
) WITHOUT ROWID;

-- When the results were worked out, and from which scorecard (its levels and a fingerprint
-- of its rules): results of another scorecard are worked out again before they are read.
CREATE TABLE scorecard_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    computed_at TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);

-- Trends. A service's row is added only on a day its result differs from its previous row,
-- so what a service scored on any day is its newest row up to that day; rows are never
-- changed, only pruned when a newer one is more than a year old.
CREATE TABLE scorecard_history (
    component_key TEXT NOT NULL,
    day TEXT NOT NULL,
    owner_key TEXT,
    level INTEGER,
    failing TEXT NOT NULL,
    PRIMARY KEY (component_key, day)
) WITHOUT ROWID;

-- Each owner's tally per day (the day's last), for the charts; pruned after a year.
CREATE TABLE scorecard_team_days (
    day TEXT NOT NULL,
    owner_key TEXT NOT NULL,
    services INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    total INTEGER NOT NULL,
    at_level TEXT NOT NULL,
    PRIMARY KEY (owner_key, day)
) WITHOUT ROWID;
-- "What changed this week" starts from the services with a row in it.
CREATE INDEX scorecard_history_by_day ON scorecard_history (day);
