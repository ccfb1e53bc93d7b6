-- Sync health per source: failures in a row, when a rate-limited platform may be asked again,
-- the quota it reported, and what the last sync cost.
ALTER TABLE sync_state ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN retry_after TEXT;
ALTER TABLE sync_state ADD COLUMN quota_limit INTEGER;
ALTER TABLE sync_state ADD COLUMN quota_remaining INTEGER;
ALTER TABLE sync_state ADD COLUMN quota_resets_at TEXT;
ALTER TABLE sync_state ADD COLUMN last_requests INTEGER;
ALTER TABLE sync_state ADD COLUMN last_rows_written INTEGER;
ALTER TABLE sync_state ADD COLUMN last_duration_ms INTEGER;

-- Requests made to each source per minute, for "requests in the last hour".
CREATE TABLE source_requests (
    source TEXT NOT NULL,
    -- Minutes since the Unix epoch.
    minute INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (source, minute)
) WITHOUT ROWID;

-- Relations remember which entity declared them, so a sync that changes a few entities
-- re-derives only their edges. Both ends may declare the same edge (a user's memberOf and its
-- group's members), hence the declarer in the key.
CREATE TABLE relations_declared (
    source_key TEXT NOT NULL,
    relation TEXT NOT NULL,
    target_key TEXT NOT NULL,
    declared_by TEXT NOT NULL,
    PRIMARY KEY (source_key, relation, target_key, declared_by)
) WITHOUT ROWID;
-- Kept visible until the next sync rebuilds them with their true declarers.
INSERT INTO relations_declared SELECT source_key, relation, target_key, source_key FROM relations;
DROP TABLE relations;
ALTER TABLE relations_declared RENAME TO relations;
CREATE INDEX relations_by_target ON relations (target_key, relation);
CREATE INDEX relations_by_declarer ON relations (declared_by);

-- The source order the merged view was built with. A missing row or another order rebuilds it
-- whole on the next sync (as this migration's new relations table needs).
CREATE TABLE merge_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    precedence TEXT NOT NULL
);
