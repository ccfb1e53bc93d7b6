-- The cache in PostgreSQL, shared by an organisation's agents, desktops and CLIs: the schema the
-- SQLite cache reached through ../migrations, in one step (PostgreSQL caches start here). Where
-- the two differ: dates are TIMESTAMPTZ (SQLite keeps chrono's text), flags BOOLEAN, search
-- tsvector columns with GIN indexes (SQLite: FTS5), derived tables kept by PL/pgSQL triggers,
-- the generated column STORED (PostgreSQL computes no virtual ones). JSON bodies stay TEXT, as
-- written; what is read out of them is cast to jsonb where it is read.

CREATE FUNCTION opsdeck_annotation(body TEXT, name TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (body::jsonb -> 'metadata' -> 'annotations' ->> name);

-- What each source said, verbatim: the merged tables below are rebuilt from these rows.
CREATE TABLE source_entities (
    source TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (source, entity_key)
);

-- One row per entity reference, merged across sources.
CREATE TABLE entities (
    entity_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The name lower-cased with '-', '_' and '.' as spaces: what type-ahead compares against,
    -- by code point (a prefix is a range of the index).
    search_name TEXT COLLATE "C" NOT NULL,
    title TEXT,
    description TEXT,
    spec_type TEXT,
    lifecycle TEXT,
    tier TEXT,
    owner_key TEXT,
    system_key TEXT,
    -- Compared case-blind, as SQLite's COLLATE NOCASE does: lower-cased where it is read.
    email TEXT,
    tags TEXT NOT NULL,
    gaps TEXT NOT NULL,
    gap_count BIGINT NOT NULL,
    -- A component the domain's gaps call unowned: no owner, or one missing from the catalog.
    unowned BOOLEAN NOT NULL,
    sources TEXT NOT NULL,
    body TEXT NOT NULL,
    alert_selector TEXT GENERATED ALWAYS AS (opsdeck_annotation(body, 'opsdeck.io/alert-selector')) STORED,
    -- What search matches, as SQLite's FTS5 table does: first a word of the name, title or
    -- email, then of those, the description or the tags. Words are split where SQLite splits
    -- them, at anything not a letter or digit (PostgreSQL's parser keeps an email whole).
    search_names TSVECTOR GENERATED ALWAYS AS (
        to_tsvector('simple', regexp_replace(
            name || ' ' || coalesce(title, '') || ' ' || coalesce(email, ''),
            '[^[:alnum:]]+', ' ', 'g'))
    ) STORED,
    search TSVECTOR GENERATED ALWAYS AS (
        to_tsvector('simple', regexp_replace(
            name || ' ' || coalesce(title, '') || ' ' || coalesce(email, '') || ' '
                || coalesce(description, '') || ' ' || tags,
            '[^[:alnum:]]+', ' ', 'g'))
    ) STORED
);
CREATE INDEX entities_by_owner ON entities (owner_key, kind, name, gap_count);
CREATE INDEX entities_by_kind ON entities (kind, name);
CREATE INDEX entities_by_email ON entities (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX entities_by_search_name ON entities (search_name);
CREATE INDEX entities_unowned ON entities (name) WHERE unowned;
CREATE INDEX entities_with_alert_selector ON entities (kind, entity_key, name, alert_selector)
    WHERE alert_selector IS NOT NULL;
CREATE INDEX entities_search_names ON entities USING GIN (search_names);
CREATE INDEX entities_search ON entities USING GIN (search);

CREATE TABLE relations (
    source_key TEXT NOT NULL,
    relation TEXT NOT NULL,
    target_key TEXT NOT NULL,
    declared_by TEXT NOT NULL,
    PRIMARY KEY (source_key, relation, target_key, declared_by)
);
CREATE INDEX relations_by_target ON relations (target_key, relation);
CREATE INDEX relations_by_declarer ON relations (declared_by);

CREATE TABLE merge_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    precedence TEXT NOT NULL
);

CREATE TABLE sync_state (
    source TEXT PRIMARY KEY,
    last_attempt TIMESTAMPTZ,
    last_success TIMESTAMPTZ,
    last_error TEXT,
    item_count BIGINT NOT NULL DEFAULT 0,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    retry_after TIMESTAMPTZ,
    quota_limit BIGINT,
    quota_remaining BIGINT,
    quota_resets_at TIMESTAMPTZ,
    last_requests BIGINT,
    last_rows_written BIGINT,
    last_duration_ms BIGINT
);

-- Tells whoever listens (desktops on a shared cache) that a source's sync landed, when it
-- commits: the payload is the source's name.
CREATE FUNCTION sync_state_landed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.last_success IS NOT NULL THEN
            PERFORM pg_notify('opsdeck_landed', NEW.source);
        END IF;
    ELSIF NEW.last_success IS DISTINCT FROM OLD.last_success THEN
        PERFORM pg_notify('opsdeck_landed', NEW.source);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER sync_state_landed AFTER INSERT OR UPDATE ON sync_state
    FOR EACH ROW EXECUTE FUNCTION sync_state_landed();

CREATE TABLE source_requests (
    source TEXT NOT NULL,
    -- Minutes since the Unix epoch.
    minute BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (source, minute)
);

CREATE TABLE platform_records (
    source TEXT NOT NULL,
    -- service | policy | shift | incident | alert | silence
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    join_key TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (source, kind, id)
);
CREATE INDEX platform_records_by_join ON platform_records (kind, join_key);
CREATE INDEX platform_records_by_id ON platform_records (kind, id, join_key);

CREATE TABLE alert_components (
    component_key TEXT NOT NULL,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (component_key, source, fingerprint)
);
CREATE INDEX alert_components_by_alert ON alert_components (source, fingerprint);

-- Incidents a desktop has notified about, per user (SQLite's file is one user's): the
-- recipient is the user's email, or their login on their machine.
CREATE TABLE notified_incidents (
    recipient TEXT NOT NULL,
    source TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    notified_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (recipient, source, incident_id)
);

CREATE TABLE component_pagerduty (
    component_key TEXT PRIMARY KEY,
    owner_key TEXT,
    name TEXT NOT NULL,
    service_id TEXT NOT NULL
);
CREATE INDEX component_pagerduty_by_service ON component_pagerduty (service_id);
CREATE INDEX component_pagerduty_by_owner ON component_pagerduty (owner_key);

CREATE TABLE deployments (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    -- github:owner/repo | argocd-app:name | argocd-selector:selector
    target TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX deployments_by_target ON deployments (target, started_at, environment, status);
CREATE INDEX deployments_by_source_target ON deployments (source, target, started_at);
CREATE INDEX deployments_by_time ON deployments (started_at, id);
CREATE INDEX deployments_by_environment ON deployments (environment, started_at, id);
CREATE INDEX deployments_by_status ON deployments (status, started_at, id);
CREATE INDEX deployments_by_environment_status ON deployments (environment, status, started_at, id);
CREATE INDEX deployments_open ON deployments (source)
    WHERE status IN ('queued', 'pending', 'waiting', 'in_progress');

CREATE TABLE page_etags (
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (source, url)
);

CREATE TABLE component_delivery (
    component_key TEXT NOT NULL,
    target TEXT NOT NULL,
    owner_key TEXT,
    name TEXT NOT NULL,
    PRIMARY KEY (component_key, target)
);
CREATE INDEX component_delivery_by_target ON component_delivery (target, component_key, owner_key, name);
CREATE INDEX component_delivery_by_owner ON component_delivery (owner_key, target);

-- Every delivery target a component names: its GitHub repository, its Argo CD application or
-- application selector.
CREATE VIEW entity_delivery_targets AS
SELECT entity_key, owner_key, name, 'github:' || opsdeck_annotation(body, 'github.com/project-slug') AS target
FROM entities
WHERE kind = 'component' AND opsdeck_annotation(body, 'github.com/project-slug') IS NOT NULL
UNION ALL
SELECT entity_key, owner_key, name, 'argocd-app:' || opsdeck_annotation(body, 'argocd/app-name')
FROM entities
WHERE kind = 'component' AND opsdeck_annotation(body, 'argocd/app-name') IS NOT NULL
UNION ALL
SELECT entity_key, owner_key, name, 'argocd-selector:' || opsdeck_annotation(body, 'argocd/app-selector')
FROM entities
WHERE kind = 'component' AND opsdeck_annotation(body, 'argocd/app-selector') IS NOT NULL;

-- The PagerDuty and delivery wiring of components, kept as the merged view changes, so reads
-- never parse entity bodies.
CREATE FUNCTION entities_rewire() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM component_pagerduty WHERE component_key = OLD.entity_key;
        DELETE FROM component_delivery WHERE component_key = OLD.entity_key;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        DELETE FROM component_pagerduty WHERE component_key = NEW.entity_key;
        DELETE FROM component_delivery WHERE component_key = NEW.entity_key;
        IF NEW.kind = 'component' THEN
            INSERT INTO component_pagerduty (component_key, owner_key, name, service_id)
            SELECT NEW.entity_key, NEW.owner_key, NEW.name, id
            FROM (SELECT opsdeck_annotation(NEW.body, 'pagerduty.com/service-id') AS id) AS wired
            WHERE id IS NOT NULL;
            INSERT INTO component_delivery (component_key, target, owner_key, name)
            SELECT entity_key, target, owner_key, name FROM entity_delivery_targets
            WHERE entity_key = NEW.entity_key;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER entities_rewired AFTER INSERT OR UPDATE OR DELETE ON entities
    FOR EACH ROW EXECUTE FUNCTION entities_rewire();

CREATE TABLE repo_files (
    repo TEXT NOT NULL,
    path TEXT NOT NULL,
    git_ref TEXT NOT NULL,
    source TEXT NOT NULL,
    sha TEXT NOT NULL,
    etag TEXT,
    html_url TEXT,
    -- When GitHub last said this is the file (read, or answered 304).
    confirmed_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (repo, path, git_ref)
);

CREATE TABLE scorecard_results (
    component_key TEXT PRIMARY KEY,
    owner_key TEXT,
    level BIGINT,
    passed BIGINT NOT NULL,
    total BIGINT NOT NULL,
    outcomes TEXT NOT NULL,
    last_production_deploy BIGINT,
    open_incidents BIGINT NOT NULL
);
CREATE INDEX scorecard_results_by_owner ON scorecard_results (owner_key);

CREATE TABLE scorecard_teams (
    owner_key TEXT PRIMARY KEY,
    tally TEXT NOT NULL
);

CREATE TABLE scorecard_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    computed_at TIMESTAMPTZ NOT NULL,
    fingerprint TEXT NOT NULL
);

CREATE TABLE scorecard_history (
    component_key TEXT NOT NULL,
    day TEXT NOT NULL,
    owner_key TEXT,
    level BIGINT,
    failing TEXT NOT NULL,
    PRIMARY KEY (component_key, day)
);

CREATE TABLE scorecard_team_days (
    day TEXT NOT NULL,
    owner_key TEXT NOT NULL,
    services BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    total BIGINT NOT NULL,
    at_level TEXT NOT NULL,
    PRIMARY KEY (owner_key, day)
);

CREATE TABLE scorecard_worse (
    component_key TEXT PRIMARY KEY,
    owner_key TEXT,
    was_level BIGINT,
    now_level BIGINT,
    newly_failing TEXT NOT NULL
);
CREATE INDEX scorecard_worse_by_owner ON scorecard_worse (owner_key);

CREATE TABLE staged_delivery (
    seq BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    sync_id TEXT NOT NULL,
    staged_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX staged_delivery_by_sync ON staged_delivery (sync_id, seq);

-- Who syncs each source now. In PostgreSQL the lease is also an advisory lock held by the
-- holder's session, which the server lets go of when the holder's connection dies.
CREATE TABLE sync_leases (
    source TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    face TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
