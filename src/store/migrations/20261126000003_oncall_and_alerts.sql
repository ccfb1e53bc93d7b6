-- What PagerDuty and Alertmanager sources said, as domain records (JSON bodies), each with the
-- key it is looked up by: a service's and a shift's escalation policy, an incident's service.
CREATE TABLE platform_records (
    source TEXT NOT NULL,
    -- service | policy | shift | incident | alert | silence
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    join_key TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (source, kind, id)
) WITHOUT ROWID;
CREATE INDEX platform_records_by_join ON platform_records (kind, join_key);
-- Covers a lookup of a record's join key by id (a PagerDuty service's policy).
CREATE INDEX platform_records_by_id ON platform_records (kind, id, join_key);

-- Which components each alert belongs to (label `service`, or the component's selector).
-- Derived from the alerts and the catalog; rebuilt when either changes.
CREATE TABLE alert_components (
    component_key TEXT NOT NULL,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (component_key, source, fingerprint)
) WITHOUT ROWID;
CREATE INDEX alert_components_by_alert ON alert_components (source, fingerprint);

-- Incidents the desktop has notified about, so each notifies once, across restarts.
CREATE TABLE notified_incidents (
    source TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    notified_at TEXT NOT NULL,
    PRIMARY KEY (source, incident_id)
) WITHOUT ROWID;

-- Components wired to PagerDuty (`pagerduty.com/service-id`), kept by triggers as the merged
-- view changes, so on-call reads never parse entity bodies.
CREATE TABLE component_pagerduty (
    component_key TEXT PRIMARY KEY,
    owner_key TEXT,
    name TEXT NOT NULL,
    service_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX component_pagerduty_by_service ON component_pagerduty (service_id);
CREATE INDEX component_pagerduty_by_owner ON component_pagerduty (owner_key);
CREATE TRIGGER component_pagerduty_on_insert AFTER INSERT ON entities BEGIN
    DELETE FROM component_pagerduty WHERE component_key = NEW.entity_key;
    INSERT INTO component_pagerduty (component_key, owner_key, name, service_id)
    SELECT NEW.entity_key, NEW.owner_key, NEW.name, id
    FROM (SELECT json_extract(NEW.body, '$.metadata.annotations."pagerduty.com/service-id"') AS id)
    WHERE NEW.kind = 'component' AND id IS NOT NULL;
END;
CREATE TRIGGER component_pagerduty_on_delete AFTER DELETE ON entities BEGIN
    DELETE FROM component_pagerduty WHERE component_key = OLD.entity_key;
END;
CREATE TRIGGER component_pagerduty_on_update AFTER UPDATE ON entities BEGIN
    DELETE FROM component_pagerduty WHERE component_key = OLD.entity_key;
    INSERT INTO component_pagerduty (component_key, owner_key, name, service_id)
    SELECT NEW.entity_key, NEW.owner_key, NEW.name, id
    FROM (SELECT json_extract(NEW.body, '$.metadata.annotations."pagerduty.com/service-id"') AS id)
    WHERE NEW.kind = 'component' AND id IS NOT NULL;
END;
INSERT INTO component_pagerduty (component_key, owner_key, name, service_id)
SELECT entity_key, owner_key, name, json_extract(body, '$.metadata.annotations."pagerduty.com/service-id"')
FROM entities
WHERE kind = 'component'
    AND json_extract(body, '$.metadata.annotations."pagerduty.com/service-id"') IS NOT NULL;

-- A component's `opsdeck.io/alert-selector`, for the few components that have one.
ALTER TABLE entities ADD COLUMN alert_selector TEXT
    GENERATED ALWAYS AS (json_extract(body, '$.metadata.annotations."opsdeck.io/alert-selector"')) VIRTUAL;
CREATE INDEX entities_with_alert_selector ON entities (kind, entity_key, name, alert_selector)
    WHERE alert_selector IS NOT NULL;
