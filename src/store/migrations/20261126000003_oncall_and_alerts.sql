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
CREATE INDEX platform_records_by_id ON platform_records (kind, id);

-- Which components each alert belongs to (label `service`, or the component's selector).
-- Derived from the alerts and the catalog; rebuilt when either changes.
CREATE TABLE alert_components (
    component_key TEXT NOT NULL,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (component_key, source, fingerprint)
) WITHOUT ROWID;

-- Incidents the desktop has notified about, so each notifies once, across restarts.
CREATE TABLE notified_incidents (
    source TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    notified_at TEXT NOT NULL,
    PRIMARY KEY (source, incident_id)
) WITHOUT ROWID;

-- The annotations that wire a component to PagerDuty and Alertmanager, readable by index.
ALTER TABLE entities ADD COLUMN pagerduty_service_id TEXT
    GENERATED ALWAYS AS (json_extract(body, '$.metadata.annotations."pagerduty.com/service-id"')) VIRTUAL;
ALTER TABLE entities ADD COLUMN alert_selector TEXT
    GENERATED ALWAYS AS (json_extract(body, '$.metadata.annotations."opsdeck.io/alert-selector"')) VIRTUAL;
CREATE INDEX entities_by_pagerduty_service ON entities (pagerduty_service_id, kind, owner_key, entity_key, name)
    WHERE pagerduty_service_id IS NOT NULL;
CREATE INDEX entities_with_alert_selector ON entities (kind, entity_key, name, alert_selector)
    WHERE alert_selector IS NOT NULL;
