-- What a delivery sync read, staged part by part as it reads, until the sync lands whole in
-- one transaction (or fails and its parts are dropped): a first sync of thousands of
-- repositories then never holds all of them in memory. Each sync stages under an id of its
-- own, so another process syncing the same source never lands or drops its parts.
CREATE TABLE staged_delivery (
    seq INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    sync_id TEXT NOT NULL,
    staged_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX staged_delivery_by_sync ON staged_delivery (sync_id, seq);
