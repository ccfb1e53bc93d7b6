-- Who is syncing each source now, so that the processes sharing one cache (agents, desktops,
-- CLIs) never sync the same source at once. The holder renews its lease while it syncs and
-- gives it up when the sync ends; a lease not renewed by `expires_at`, or whose process is
-- known to be gone, may be taken over.
CREATE TABLE sync_leases (
    source TEXT PRIMARY KEY,
    -- One process's identity: host, pid and a random part, so a reused pid is someone else.
    holder TEXT NOT NULL,
    -- What the holder is (agent, desktop, cli), its host and pid: for the message of a
    -- process that finds the source taken, and for telling a holder that died.
    face TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    taken_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
