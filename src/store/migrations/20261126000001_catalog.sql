-- What each source said, verbatim: the merged tables below are rebuilt from these rows.
CREATE TABLE source_entities (
    source TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (source, entity_key)
) WITHOUT ROWID;

-- One row per entity reference, merged across sources. A rowid table: rows carry the entity's
-- JSON body, too large for a WITHOUT ROWID b-tree, and lookups go through the indexes below.
CREATE TABLE entities (
    entity_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The name lower-cased with '-', '_' and '.' as spaces: what type-ahead compares against.
    search_name TEXT NOT NULL,
    title TEXT,
    description TEXT,
    spec_type TEXT,
    lifecycle TEXT,
    tier TEXT,
    owner_key TEXT,
    system_key TEXT,
    email TEXT COLLATE NOCASE,
    tags TEXT NOT NULL,
    gaps TEXT NOT NULL,
    gap_count INTEGER NOT NULL,
    -- A component the domain's gaps call unowned: no owner, or one missing from the catalog.
    unowned INTEGER NOT NULL,
    sources TEXT NOT NULL,
    body TEXT NOT NULL
);
-- Serves a team's services in name order, and covers the sidebar's per-team service and
-- gap counts without reading any row.
CREATE INDEX entities_by_owner ON entities (owner_key, kind, name, gap_count);
CREATE INDEX entities_by_kind ON entities (kind, name);
CREATE INDEX entities_by_email ON entities (email) WHERE email IS NOT NULL;
CREATE INDEX entities_by_search_name ON entities (search_name);
-- The few orphaned services, read on every refresh of the sidebar.
CREATE INDEX entities_unowned ON entities (name) WHERE unowned;

CREATE TABLE relations (
    source_key TEXT NOT NULL,
    relation TEXT NOT NULL,
    target_key TEXT NOT NULL,
    PRIMARY KEY (source_key, relation, target_key)
) WITHOUT ROWID;
CREATE INDEX relations_by_target ON relations (target_key, relation);

-- Rows share their rowid with `entities`.
CREATE VIRTUAL TABLE entities_fts USING fts5 (
    name,
    title,
    description,
    tags,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3'
);

CREATE TABLE sync_state (
    source TEXT PRIMARY KEY,
    last_attempt TEXT,
    last_success TEXT,
    last_error TEXT,
    item_count INTEGER NOT NULL DEFAULT 0
);
