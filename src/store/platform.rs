//! Records from PagerDuty and Alertmanager sources (services, escalation policies, on-call
//! shifts, incidents, alerts, silences), how they join catalog components, and which
//! incidents the desktop has notified about.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::{Row, Sqlite, Transaction};

use super::landing::record_landed;
use super::{decode_json, Store, StoreError};
use crate::domain::alerts::{components_of_alert, Alert, AlertTarget, Selector};

/// What a platform record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    /// A PagerDuty service; joined by its escalation policy.
    Service,
    /// An escalation policy.
    Policy,
    /// An on-call shift; joined by its escalation policy.
    Shift,
    /// An incident; joined by its PagerDuty service.
    Incident,
    /// An Alertmanager alert.
    Alert,
    /// A silence.
    Silence,
    /// A CI workflow run; joined by its delivery target.
    Run,
    /// A GitHub release; joined by its delivery target.
    Release,
    /// An Argo CD application's live state; joined by its delivery target.
    Environment,
    /// The commits between two versions; joined by its delivery target.
    Comparison,
    /// A PagerDuty change event, once per service it names; joined by that service.
    ChangeEvent,
}

impl RecordKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Policy => "policy",
            Self::Shift => "shift",
            Self::Incident => "incident",
            Self::Alert => "alert",
            Self::Silence => "silence",
            Self::Run => "run",
            Self::Release => "release",
            Self::Environment => "environment",
            Self::Comparison => "comparison",
            Self::ChangeEvent => "change-event",
        }
    }
}

/// One record to store.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PlatformRecord {
    /// What it is.
    pub kind: RecordKind,
    /// Its id within its kind and source.
    pub id: String,
    /// What it is looked up by (see [`RecordKind`]).
    pub join_key: Option<String>,
    /// The domain value as JSON.
    pub body: String,
}

impl PlatformRecord {
    /// A record of `value`.
    pub fn new<T: serde::Serialize>(
        kind: RecordKind,
        id: &str,
        join_key: Option<&str>,
        value: &T,
    ) -> Self {
        Self {
            kind,
            id: id.to_string(),
            join_key: join_key.map(str::to_string),
            body: serde_json::to_string(value).expect("domain records serialise"),
        }
    }
}

/// A component and how it is wired to PagerDuty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentWiring {
    /// Cache key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Owner's cache key.
    pub owner_key: Option<String>,
    /// `pagerduty.com/service-id`.
    pub pagerduty_service_id: Option<String>,
}

/// Which column a lookup compares.
#[derive(Debug, Clone, Copy)]
pub enum LookupBy {
    /// The record's id.
    Id,
    /// Its join key.
    JoinKey,
}

const WIRING_SELECT: &str = "SELECT e.entity_key, e.name, e.owner_key, p.service_id
    FROM entities e LEFT JOIN component_pagerduty p ON p.component_key = e.entity_key
    WHERE e.kind = 'component'";

impl Store {
    /// Makes the cache hold exactly `records` from `source`, in one transaction, writing only
    /// records that changed; a fetch identical to what is held writes nothing. Alerts that
    /// changed are joined to components again in the same transaction. Returns the records
    /// written or deleted.
    pub async fn replace_records(
        &self,
        source: &str,
        records: &[PlatformRecord],
        problems: &[String],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let _writing = self.writer.lock().await;
        let mut tx = super::write_transaction(&self.landing).await?;
        let (written, alerts_changed) = write_changed(&mut tx, source, None, records).await?;
        if alerts_changed {
            rejoin_alerts(&mut tx).await?;
        }
        record_landed(&mut tx, source, at, problems, records.len(), written).await?;
        tx.commit().await?;
        if written > 0 {
            self.analyze().await?;
        }
        Ok(written)
    }

    /// Records of `kind` whose id or join key is among `keys`, with their source.
    pub async fn records<T: DeserializeOwned>(
        &self,
        kind: RecordKind,
        by: LookupBy,
        keys: &[String],
    ) -> Result<Vec<(String, T)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let column = match by {
            LookupBy::Id => "id",
            LookupBy::JoinKey => "join_key",
        };
        let rows = sqlx::query(&format!(
            "SELECT source, body FROM platform_records
             WHERE kind = ? AND {column} IN (SELECT value FROM json_each(?))"
        ))
        .bind(kind.as_str())
        .bind(serde_json::to_string(keys).expect("strings serialise"))
        .fetch_all(&self.pool)
        .await?;
        decode_records(kind, rows)
    }

    /// The commit counts (`total_commits`) of the cached comparisons among `ids`, by id; the
    /// commits themselves are not read.
    pub async fn comparison_totals(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT id, json_extract(body, '$.total_commits') FROM platform_records
             WHERE kind = ? AND id IN (SELECT value FROM json_each(?))",
        )
        .bind(RecordKind::Comparison.as_str())
        .bind(serde_json::to_string(ids).expect("strings serialise"))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, total)| Some((id, total?)))
            .collect())
    }

    /// How many records of `kind` `source` holds.
    pub async fn count_records(&self, source: &str, kind: RecordKind) -> Result<usize, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM platform_records WHERE source = ? AND kind = ?",
        )
        .bind(source)
        .bind(kind.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(count as usize)
    }

    /// Whether any source has landed records of `kind`.
    pub async fn holds_records(&self, kind: RecordKind) -> Result<bool, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM platform_records WHERE kind = ?)")
                .bind(kind.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Every record of `kind`, with its source.
    pub async fn all_records<T: DeserializeOwned>(
        &self,
        kind: RecordKind,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let rows = sqlx::query("SELECT source, body FROM platform_records WHERE kind = ?")
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_records(kind, rows)
    }

    /// The components `owner_key` owns, with their wiring.
    pub async fn wiring_of_owner(
        &self,
        owner_key: &str,
    ) -> Result<Vec<ComponentWiring>, StoreError> {
        let rows = sqlx::query(&format!(
            "{WIRING_SELECT} AND e.owner_key = ? ORDER BY e.name"
        ))
        .bind(owner_key)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(wiring).collect())
    }

    /// The component at `key` with its wiring, if it is one.
    pub async fn wiring_of_component(&self, key: &str) -> Result<Vec<ComponentWiring>, StoreError> {
        let rows = sqlx::query(&format!("{WIRING_SELECT} AND e.entity_key = ?"))
            .bind(key)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(wiring).collect())
    }

    /// The components at `keys` with their wiring.
    pub async fn wiring_of_components(
        &self,
        keys: &[String],
    ) -> Result<Vec<ComponentWiring>, StoreError> {
        let rows = sqlx::query(&format!(
            "{WIRING_SELECT} AND e.entity_key IN (SELECT value FROM json_each(?))"
        ))
        .bind(serde_json::to_string(keys).expect("strings serialise"))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(wiring).collect())
    }

    /// The components wired to the PagerDuty service `service_id`, by name.
    pub async fn wiring_of_pagerduty_service(
        &self,
        service_id: &str,
    ) -> Result<Vec<ComponentWiring>, StoreError> {
        let rows = sqlx::query(
            "SELECT component_key AS entity_key, name, owner_key, service_id FROM component_pagerduty
             WHERE service_id = ? ORDER BY name",
        )
        .bind(service_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(wiring).collect())
    }

    /// Every component wired to a PagerDuty service.
    pub async fn pagerduty_wired(&self) -> Result<Vec<ComponentWiring>, StoreError> {
        let rows = sqlx::query(
            "SELECT component_key AS entity_key, name, owner_key, service_id FROM component_pagerduty",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(wiring).collect())
    }

    /// The escalation policies of each owner's PagerDuty-wired components: (owner, policy).
    pub async fn owner_policies(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT c.owner_key, r.join_key FROM component_pagerduty c
             JOIN platform_records r ON r.kind = 'service' AND r.id = c.service_id
             WHERE c.owner_key IS NOT NULL AND r.join_key IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Incidents on each owner's components, counted per status: (owner, status, count).
    pub async fn incidents_per_owner(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT c.owner_key, json_extract(r.body, '$.status') AS status,
                count(DISTINCT r.source || ' ' || r.id) AS incidents
             FROM platform_records r JOIN component_pagerduty c ON c.service_id = r.join_key
             WHERE r.kind = 'incident' AND c.owner_key IS NOT NULL
             GROUP BY c.owner_key, status",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Alerts joined to any of `component_keys`: (component, source, alert).
    pub async fn alerts_of(
        &self,
        component_keys: &[String],
    ) -> Result<Vec<(String, String, Alert)>, StoreError> {
        let rows = sqlx::query(
            "SELECT j.component_key, j.source, r.body FROM alert_components j
             JOIN platform_records r ON r.source = j.source AND r.kind = 'alert' AND r.id = j.fingerprint
             WHERE j.component_key IN (SELECT value FROM json_each(?))",
        )
        .bind(serde_json::to_string(component_keys).expect("strings serialise"))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.get("component_key"),
                    r.get("source"),
                    decode_json("alert", r.get("body"))?,
                ))
            })
            .collect()
    }

    /// Incidents whose number is `text` (with or without `#`) or whose title holds it, open
    /// ones first, newest first: (source, incident).
    pub async fn search_incidents(
        &self,
        text: &str,
        limit: i64,
    ) -> Result<Vec<(String, crate::domain::oncall::Incident)>, StoreError> {
        let text = text.trim();
        let number: Option<i64> = text.trim_start_matches('#').parse().ok();
        let words = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let rows = sqlx::query(
            "SELECT source, body FROM platform_records
             WHERE kind = 'incident'
                 AND (json_extract(body, '$.number') = ?1
                      OR (?2 != '' AND json_extract(body, '$.title') LIKE '%' || ?2 || '%' ESCAPE '\\'))
             ORDER BY json_extract(body, '$.status') = 'resolved', json_extract(body, '$.created_at') DESC
             LIMIT ?3",
        )
        .bind(number)
        .bind(if number.is_some() { String::new() } else { words })
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        decode_records(RecordKind::Incident, rows)
    }

    /// The components one alert is joined to.
    pub async fn alerts_of_fingerprint(
        &self,
        source: &str,
        fingerprint: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT component_key FROM alert_components WHERE source = ? AND fingerprint = ?
             ORDER BY component_key",
        )
        .bind(source)
        .bind(fingerprint)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The components each alert (by source and fingerprint) is joined to.
    pub async fn alert_components(
        &self,
    ) -> Result<HashMap<(String, String), Vec<String>>, StoreError> {
        let mut joined: HashMap<(String, String), Vec<String>> = HashMap::new();
        for row in sqlx::query(
            "SELECT source, fingerprint, component_key FROM alert_components ORDER BY component_key",
        )
            .fetch_all(&self.pool)
            .await?
        {
            joined
                .entry((row.get("source"), row.get("fingerprint")))
                .or_default()
                .push(row.get("component_key"));
        }
        Ok(joined)
    }

    /// Firing alerts (neither silenced nor inhibited) per owner of the components they join.
    pub async fn firing_alerts_per_owner(&self) -> Result<HashMap<String, i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.owner_key, count(DISTINCT j.source || ' ' || j.fingerprint) AS firing
             FROM alert_components j
             JOIN platform_records r ON r.source = j.source AND r.kind = 'alert' AND r.id = j.fingerprint
             JOIN entities c ON c.entity_key = j.component_key
             WHERE r.join_key = 'firing' AND c.owner_key IS NOT NULL
             GROUP BY c.owner_key",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("owner_key"), r.get("firing")))
            .collect())
    }

    /// Catalog users by email (lower-cased), for the join with PagerDuty's people.
    pub async fn users_by_email(
        &self,
        emails: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT entity_key, email FROM entities
             WHERE kind = 'user' AND email IN (SELECT value FROM json_each(?))",
        )
        .bind(serde_json::to_string(emails).expect("strings serialise"))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>("email").to_lowercase(),
                    r.get("entity_key"),
                )
            })
            .collect())
    }

    /// Of `incidents` (source, id), those never notified, now marked as notified at `at`: each
    /// incident is handed out once, even across restarts and between two windows.
    pub async fn take_unnotified(
        &self,
        incidents: &[(String, String)],
        at: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        // Called after every sync: with no triggered incident, no write transaction.
        if incidents.is_empty() {
            return Ok(Vec::new());
        }
        let _writing = self.writer.lock().await;
        let mut tx = super::write_transaction(&self.pool).await?;
        let mut fresh = Vec::new();
        for (source, id) in incidents {
            let inserted = sqlx::query(
                "INSERT OR IGNORE INTO notified_incidents (source, incident_id, notified_at) VALUES (?, ?, ?)",
            )
            .bind(source)
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted > 0 {
                fresh.push((source.clone(), id.clone()));
            }
        }
        tx.commit().await?;
        Ok(fresh)
    }
}

fn decode_records<T: DeserializeOwned>(
    kind: RecordKind,
    rows: Vec<sqlx::sqlite::SqliteRow>,
) -> Result<Vec<(String, T)>, StoreError> {
    rows.iter()
        .map(|r| Ok((r.get("source"), decode_json(kind.as_str(), r.get("body"))?)))
        .collect()
}

/// Makes `source`'s records (only those of `scope`: kind and join key, when given) exactly
/// `records`, writing only those that changed. Returns the rows written or deleted, and
/// whether any alert was among them.
pub(super) async fn write_changed(
    tx: &mut Transaction<'_, Sqlite>,
    source: &str,
    scope: Option<(RecordKind, &str)>,
    records: &[PlatformRecord],
) -> Result<(u64, bool), StoreError> {
    let fetched: HashMap<(&str, &str), &PlatformRecord> = records
        .iter()
        .map(|r| ((r.kind.as_str(), r.id.as_str()), r))
        .collect();
    let held_rows = match scope {
        None => {
            sqlx::query("SELECT kind, id, body FROM platform_records WHERE source = ?")
                .bind(source)
                .fetch_all(&mut **tx)
                .await?
        }
        Some((kind, join_key)) => {
            sqlx::query(
                "SELECT kind, id, body FROM platform_records
                 WHERE kind = ? AND join_key = ? AND source = ?",
            )
            .bind(kind.as_str())
            .bind(join_key)
            .bind(source)
            .fetch_all(&mut **tx)
            .await?
        }
    };
    let held: HashMap<(String, String), String> = held_rows
        .into_iter()
        .map(|r| ((r.get("kind"), r.get("id")), r.get("body")))
        .collect();
    let mut alerts_changed = false;
    let mut written = 0u64;
    for (kind, id) in held.keys() {
        if !fetched.contains_key(&(kind.as_str(), id.as_str())) {
            sqlx::query("DELETE FROM platform_records WHERE source = ? AND kind = ? AND id = ?")
                .bind(source)
                .bind(kind)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            alerts_changed |= kind == RecordKind::Alert.as_str();
            written += 1;
        }
    }
    for ((kind, id), record) in &fetched {
        if held.get(&(kind.to_string(), id.to_string())) == Some(&record.body) {
            continue;
        }
        sqlx::query(
            "INSERT OR REPLACE INTO platform_records (source, kind, id, join_key, body)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(source)
        .bind(kind)
        .bind(id)
        .bind(&record.join_key)
        .bind(&record.body)
        .execute(&mut **tx)
        .await?;
        alerts_changed |= record.kind == RecordKind::Alert;
        written += 1;
    }
    Ok((written, alerts_changed))
}

fn wiring(r: &sqlx::sqlite::SqliteRow) -> ComponentWiring {
    ComponentWiring {
        key: r.get("entity_key"),
        name: r.get("name"),
        owner_key: r.get("owner_key"),
        pagerduty_service_id: r.get("service_id"),
    }
}

/// Joins every alert to its components again: by the `service` label, or by a component's
/// selector. Writes only the pairs that changed.
pub(super) async fn rejoin_alerts(tx: &mut Transaction<'_, Sqlite>) -> Result<(), StoreError> {
    let alerts: Vec<(String, Alert)> =
        sqlx::query("SELECT source, body FROM platform_records WHERE kind = 'alert'")
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| Ok((r.get("source"), decode_json("alert", r.get("body"))?)))
            .collect::<Result<_, StoreError>>()?;
    let services: BTreeSet<&str> = alerts
        .iter()
        .filter_map(|(_, a)| a.labels.get(crate::domain::alerts::SERVICE_LABEL))
        .map(String::as_str)
        .collect();
    let mut targets: HashMap<String, AlertTarget> = HashMap::new();
    for row in sqlx::query(
        "SELECT entity_key, name, alert_selector FROM entities
         WHERE kind = 'component' AND (name IN (SELECT value FROM json_each(?)) OR alert_selector IS NOT NULL)",
    )
    .bind(serde_json::to_string(&services).expect("strings serialise"))
    .fetch_all(&mut **tx)
    .await?
    {
        let key: String = row.get("entity_key");
        let selector = row
            .get::<Option<String>, _>("alert_selector")
            .and_then(|text| match text.parse::<Selector>() {
                Ok(selector) => Some(selector),
                Err(problem) => {
                    tracing::warn!(component = %key, %problem, "alert selector ignored");
                    None
                }
            });
        targets.insert(
            key.clone(),
            AlertTarget {
                key,
                name: row.get("name"),
                selector,
            },
        );
    }
    let targets: Vec<AlertTarget> = targets.into_values().collect();
    let wanted: BTreeSet<(String, String, String)> = alerts
        .iter()
        .flat_map(|(source, alert)| {
            components_of_alert(alert, &targets)
                .into_iter()
                .map(|key| (key.to_string(), source.clone(), alert.fingerprint.clone()))
        })
        .collect();
    let held: BTreeSet<(String, String, String)> =
        sqlx::query_as("SELECT component_key, source, fingerprint FROM alert_components")
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
    for (key, source, fingerprint) in held.difference(&wanted) {
        sqlx::query(
            "DELETE FROM alert_components WHERE component_key = ? AND source = ? AND fingerprint = ?",
        )
        .bind(key)
        .bind(source)
        .bind(fingerprint)
        .execute(&mut **tx)
        .await?;
    }
    for (key, source, fingerprint) in wanted.difference(&held) {
        sqlx::query(
            "INSERT INTO alert_components (component_key, source, fingerprint) VALUES (?, ?, ?)",
        )
        .bind(key)
        .bind(source)
        .bind(fingerprint)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Entity;

    fn component(name: &str, owner: &str, service_id: Option<&str>) -> Entity {
        let annotations = service_id.map_or(
            serde_json::json!({}),
            |id| serde_json::json!({"pagerduty.com/service-id": id}),
        );
        serde_json::from_value(serde_json::json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"type": "service", "lifecycle": "production", "owner": owner}
        }))
        .unwrap()
    }

    async fn wired(store: &Store) -> Vec<(String, Option<String>, String)> {
        let mut all: Vec<_> = store
            .pagerduty_wired()
            .await
            .unwrap()
            .into_iter()
            .map(|w| (w.name, w.owner_key, w.pagerduty_service_id.unwrap()))
            .collect();
        all.sort();
        all
    }

    #[tokio::test]
    async fn pagerduty_wiring_follows_the_merged_view() {
        let store = Store::in_memory(&crate::store::AuditLocation::default())
            .await
            .unwrap();
        store
            .land_catalog(
                &[
                    component("a", "team-x", Some("P1")),
                    component("b", "team-x", None),
                ],
                Utc::now(),
            )
            .await;
        assert_eq!(
            wired(&store).await,
            [("a".into(), Some("group:default/team-x".into()), "P1".into())]
        );
        // The annotation moves, the owner changes, a component goes: the wiring follows.
        store
            .land_catalog(
                &[
                    component("a", "team-y", None),
                    component("b", "team-y", Some("P2")),
                ],
                Utc::now(),
            )
            .await;
        assert_eq!(
            wired(&store).await,
            [("b".into(), Some("group:default/team-y".into()), "P2".into())]
        );
        let owned = store.wiring_of_owner("group:default/team-y").await.unwrap();
        assert_eq!(owned.len(), 2);
        assert_eq!(owned[1].pagerduty_service_id.as_deref(), Some("P2"));
        store.land_catalog(&[], Utc::now()).await;
        assert!(wired(&store).await.is_empty());
    }
}
