-- Deployments read from GitHub (deployments and their statuses) and Argo CD (application
-- history), one row each, with the columns the timeline, the matrix and the activity feed
-- filter and sort by. Times are Unix seconds.
CREATE TABLE deployments (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    -- github:owner/repo | argocd-app:name | argocd-selector:selector
    target TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (source, id)
) WITHOUT ROWID;
-- Covers a team's facts (environment, status, start) without reading a body.
CREATE INDEX deployments_by_target ON deployments (target, started_at, environment, status);
CREATE INDEX deployments_by_source_target ON deployments (source, target, started_at);
-- The activity feed walks these newest first, by start then id, as its pages are cut: all
-- deploys, one environment's, one status's, or both (a rare status in one environment must
-- not walk every deploy there: without histograms the planner cannot know it is rare).
CREATE INDEX deployments_by_time ON deployments (started_at, id);
CREATE INDEX deployments_by_environment ON deployments (environment, started_at, id);
CREATE INDEX deployments_by_status ON deployments (status, started_at, id);
CREATE INDEX deployments_by_environment_status ON deployments (environment, status, started_at, id);
-- The few deployments whose status may still change, re-read on each sync.
CREATE INDEX deployments_open ON deployments (source)
    WHERE status IN ('queued', 'pending', 'waiting', 'in_progress');

-- The ETag of each page a source read last, so the next sync asks `If-None-Match`.
CREATE TABLE page_etags (
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (source, url)
) WITHOUT ROWID;

-- Components' delivery wiring (`github.com/project-slug`, `argocd/app-name`,
-- `argocd/app-selector`) as target keys, kept by triggers as the merged view changes.
CREATE TABLE component_delivery (
    component_key TEXT NOT NULL,
    target TEXT NOT NULL,
    owner_key TEXT,
    name TEXT NOT NULL,
    PRIMARY KEY (component_key, target)
) WITHOUT ROWID;
CREATE INDEX component_delivery_by_target ON component_delivery (target, component_key, owner_key, name);
CREATE INDEX component_delivery_by_owner ON component_delivery (owner_key, target);

CREATE VIEW entity_delivery_targets AS
SELECT entity_key, owner_key, name,
    'github:' || json_extract(body, '$.metadata.annotations."github.com/project-slug"') AS target
FROM entities
WHERE kind = 'component' AND json_extract(body, '$.metadata.annotations."github.com/project-slug"') IS NOT NULL
UNION ALL
SELECT entity_key, owner_key, name,
    'argocd-app:' || json_extract(body, '$.metadata.annotations."argocd/app-name"') AS target
FROM entities
WHERE kind = 'component' AND json_extract(body, '$.metadata.annotations."argocd/app-name"') IS NOT NULL
UNION ALL
SELECT entity_key, owner_key, name,
    'argocd-selector:' || json_extract(body, '$.metadata.annotations."argocd/app-selector"') AS target
FROM entities
WHERE kind = 'component' AND json_extract(body, '$.metadata.annotations."argocd/app-selector"') IS NOT NULL;

CREATE TRIGGER component_delivery_on_insert AFTER INSERT ON entities BEGIN
    DELETE FROM component_delivery WHERE component_key = NEW.entity_key;
    INSERT INTO component_delivery (component_key, target, owner_key, name)
    SELECT entity_key, target, owner_key, name FROM entity_delivery_targets
    WHERE entity_key = NEW.entity_key;
END;
CREATE TRIGGER component_delivery_on_delete AFTER DELETE ON entities BEGIN
    DELETE FROM component_delivery WHERE component_key = OLD.entity_key;
END;
CREATE TRIGGER component_delivery_on_update AFTER UPDATE ON entities BEGIN
    DELETE FROM component_delivery WHERE component_key = OLD.entity_key;
    INSERT INTO component_delivery (component_key, target, owner_key, name)
    SELECT entity_key, target, owner_key, name FROM entity_delivery_targets
    WHERE entity_key = NEW.entity_key;
END;
INSERT INTO component_delivery (component_key, target, owner_key, name)
SELECT entity_key, target, owner_key, name FROM entity_delivery_targets;
