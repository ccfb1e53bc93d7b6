-- What a delivery sync read, staged part by part as it reads, until the sync lands whole in
-- one transaction (or fails and its parts are dropped): a first sync of thousands of
-- repositories then never holds all of them in memory.
CREATE TABLE staged_delivery (
    seq INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX staged_delivery_by_source ON staged_delivery (source, seq);
