//! Records from PagerDuty and Alertmanager sources (services, escalation policies, on-call
//! shifts, incidents, alerts, silences), how they join catalog components, and which
//! incidents the desktop has notified about.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::landing::{record_landed, Landing};
use super::{decode_json, on_backend, Backend, Store, StoreError, Writes};
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
        let mut tx = self.begin_landing().await?;
        let mut landing = tx.connection();
        let (written, alerts_changed) =
            write_changed(landing.reborrow(), source, None, records).await?;
        if alerts_changed {
            rejoin_alerts(landing.reborrow()).await?;
        }
        record_landed(landing, source, at, problems, records.len(), written).await?;
        self.commit_landing(tx).await?;
        self.analyze_after(written, records.len()).await?;
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
        let query = format!(
            "SELECT source, body FROM platform_records WHERE kind = $1 AND {column} IN ({})",
            self.cache.json_strings(2)
        );
        let rows = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(kind.as_str())
                .bind(serde_json::to_string(keys).expect("strings serialise"))
                .fetch_all(pool)
                .await?
        });
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
        let total = match self.cache {
            Backend::Sqlite(_) => "json_extract(body, '$.total_commits')",
            Backend::Postgres(_) => "(body::jsonb ->> 'total_commits')::BIGINT",
        };
        let query = format!(
            "SELECT id, {total} FROM platform_records WHERE kind = $1 AND id IN ({})",
            self.cache.json_strings(2)
        );
        let rows: Vec<(String, Option<i64>)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(RecordKind::Comparison.as_str())
                .bind(serde_json::to_string(ids).expect("strings serialise"))
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(id, total)| Some((id, total?)))
            .collect())
    }

    /// How many records of `kind` `source` holds.
    pub async fn count_records(&self, source: &str, kind: RecordKind) -> Result<usize, StoreError> {
        let count: i64 = on_backend!(&self.cache, pool => {
            sqlx::query_scalar("SELECT count(*) FROM platform_records WHERE source = $1 AND kind = $2")
                .bind(source)
                .bind(kind.as_str())
                .fetch_one(pool)
                .await?
        });
        Ok(count as usize)
    }

    /// Whether any source has landed records of `kind`.
    pub async fn holds_records(&self, kind: RecordKind) -> Result<bool, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM platform_records WHERE kind = $1)")
                .bind(kind.as_str())
                .fetch_one(pool)
                .await?
        }))
    }

    /// Every record of `kind`, with its source.
    pub async fn all_records<T: DeserializeOwned>(
        &self,
        kind: RecordKind,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let rows = on_backend!(&self.cache, pool => {
            sqlx::query_as("SELECT source, body FROM platform_records WHERE kind = $1")
                .bind(kind.as_str())
                .fetch_all(pool)
                .await?
        });
        decode_records(kind, rows)
    }

    /// The components `owner_key` owns, with their wiring.
    pub async fn wiring_of_owner(
        &self,
        owner_key: &str,
    ) -> Result<Vec<ComponentWiring>, StoreError> {
        self.wiring_where("AND e.owner_key = $1 ORDER BY e.name", owner_key)
            .await
    }

    /// The component at `key` with its wiring, if it is one.
    pub async fn wiring_of_component(&self, key: &str) -> Result<Vec<ComponentWiring>, StoreError> {
        self.wiring_where("AND e.entity_key = $1", key).await
    }

    /// The components at `keys` with their wiring.
    pub async fn wiring_of_components(
        &self,
        keys: &[String],
    ) -> Result<Vec<ComponentWiring>, StoreError> {
        let filter = format!("AND e.entity_key IN ({})", self.cache.json_strings(1));
        self.wiring_where(
            &filter,
            &serde_json::to_string(keys).expect("strings serialise"),
        )
        .await
    }

    /// The components the rest of a query (`filter`, one parameter: `value`) picks, with
    /// their wiring.
    async fn wiring_where(
        &self,
        filter: &str,
        value: &str,
    ) -> Result<Vec<ComponentWiring>, StoreError> {
        let query = format!("{WIRING_SELECT} {filter}");
        let rows: Vec<WiringRow> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query).bind(value).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(wiring).collect())
    }

    /// The components wired to the PagerDuty service `service_id`, by name.
    pub async fn wiring_of_pagerduty_service(
        &self,
        service_id: &str,
    ) -> Result<Vec<ComponentWiring>, StoreError> {
        let rows: Vec<WiringRow> = on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT component_key AS entity_key, name, owner_key, service_id FROM component_pagerduty
                 WHERE service_id = $1 ORDER BY name",
            )
            .bind(service_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(wiring).collect())
    }

    /// Every component wired to a PagerDuty service.
    pub async fn pagerduty_wired(&self) -> Result<Vec<ComponentWiring>, StoreError> {
        let rows: Vec<WiringRow> = on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT component_key AS entity_key, name, owner_key, service_id FROM component_pagerduty",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(wiring).collect())
    }

    /// The escalation policies of each owner's PagerDuty-wired components: (owner, policy).
    pub async fn owner_policies(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT DISTINCT c.owner_key, r.join_key FROM component_pagerduty c
                 JOIN platform_records r ON r.kind = 'service' AND r.id = c.service_id
                 WHERE c.owner_key IS NOT NULL AND r.join_key IS NOT NULL",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Incidents on each owner's components, counted per status: (owner, status, count).
    pub async fn incidents_per_owner(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let status = match self.cache {
            Backend::Sqlite(_) => "json_extract(r.body, '$.status')",
            Backend::Postgres(_) => "r.body::jsonb ->> 'status'",
        };
        let query = format!(
            "SELECT c.owner_key, {status} AS status,
                count(DISTINCT r.source || ' ' || r.id) AS incidents
             FROM platform_records r JOIN component_pagerduty c ON c.service_id = r.join_key
             WHERE r.kind = 'incident' AND c.owner_key IS NOT NULL
             GROUP BY c.owner_key, status"
        );
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as(&query).fetch_all(pool).await?
        }))
    }

    /// Alerts joined to any of `component_keys`: (component, source, alert).
    pub async fn alerts_of(
        &self,
        component_keys: &[String],
    ) -> Result<Vec<(String, String, Alert)>, StoreError> {
        let query = format!(
            "SELECT j.component_key, j.source, r.body FROM alert_components j
             JOIN platform_records r ON r.source = j.source AND r.kind = 'alert' AND r.id = j.fingerprint
             WHERE j.component_key IN ({})",
            self.cache.json_strings(1)
        );
        let rows: Vec<(String, String, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(serde_json::to_string(component_keys).expect("strings serialise"))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(component, source, body)| Ok((component, source, decode_json("alert", &body)?)))
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
        let field = |name: &str| match self.cache {
            Backend::Sqlite(_) => format!("json_extract(body, '$.{name}')"),
            Backend::Postgres(_) => format!("(body::jsonb ->> '{name}')"),
        };
        // SQLite's LIKE ignores the case of ASCII letters; PostgreSQL's ILIKE does.
        let like = match self.cache {
            Backend::Sqlite(_) => "LIKE",
            Backend::Postgres(_) => "ILIKE",
        };
        let (number_field, title, status, created) = (
            match self.cache {
                Backend::Sqlite(_) => field("number"),
                Backend::Postgres(_) => format!("{}::BIGINT", field("number")),
            },
            field("title"),
            field("status"),
            field("created_at"),
        );
        // The words are looked for in the body's own text first, a test that parses nothing,
        // so only the few bodies holding them are parsed for their title (PostgreSQL parses a
        // body for each field it reads: every incident's, at every keystroke). Only where
        // the words read the same inside JSON: no quote, backslash or control character.
        let read_every_title = text
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control());
        let query = format!(
            "SELECT source, body FROM platform_records
             WHERE kind = 'incident'
                 AND (($1 IS NOT NULL AND {number_field} = $1)
                      OR ($2 != '' AND ($4 OR body {like} '%' || $2 || '%' ESCAPE '\\')
                          AND {title} {like} '%' || $2 || '%' ESCAPE '\\'))
             ORDER BY {status} = 'resolved', {created} DESC
             LIMIT $3"
        );
        let rows = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(number)
                .bind(if number.is_some() { String::new() } else { words.clone() })
                .bind(limit)
                .bind(read_every_title)
                .fetch_all(pool)
                .await?
        });
        decode_records(RecordKind::Incident, rows)
    }

    /// The components one alert is joined to.
    pub async fn alerts_of_fingerprint(
        &self,
        source: &str,
        fingerprint: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar(
                "SELECT component_key FROM alert_components WHERE source = $1 AND fingerprint = $2
                 ORDER BY component_key",
            )
            .bind(source)
            .bind(fingerprint)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The components each alert (by source and fingerprint) is joined to.
    pub async fn alert_components(
        &self,
    ) -> Result<HashMap<(String, String), Vec<String>>, StoreError> {
        let rows: Vec<(String, String, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT source, fingerprint, component_key FROM alert_components ORDER BY component_key",
            )
            .fetch_all(pool)
            .await?
        });
        let mut joined: HashMap<(String, String), Vec<String>> = HashMap::new();
        for (source, fingerprint, component) in rows {
            joined
                .entry((source, fingerprint))
                .or_default()
                .push(component);
        }
        Ok(joined)
    }

    /// Firing alerts (neither silenced nor inhibited) per owner of the components they join.
    pub async fn firing_alerts_per_owner(&self) -> Result<HashMap<String, i64>, StoreError> {
        let rows: Vec<(String, i64)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT c.owner_key, count(DISTINCT j.source || ' ' || j.fingerprint) AS firing
                 FROM alert_components j
                 JOIN platform_records r ON r.source = j.source AND r.kind = 'alert' AND r.id = j.fingerprint
                 JOIN entities c ON c.entity_key = j.component_key
                 WHERE r.join_key = 'firing' AND c.owner_key IS NOT NULL
                 GROUP BY c.owner_key",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Catalog users by email (lower-cased), for the join with PagerDuty's people.
    pub async fn users_by_email(
        &self,
        emails: &[String],
    ) -> Result<HashMap<String, String>, StoreError> {
        // SQLite compares the column case-blind (COLLATE NOCASE); PostgreSQL both sides lowered.
        let query = match self.cache {
            Backend::Sqlite(_) => format!(
                "SELECT entity_key, email FROM entities WHERE kind = 'user' AND email IN ({})",
                self.cache.json_strings(1)
            ),
            Backend::Postgres(_) => format!(
                "SELECT entity_key, email FROM entities
                 WHERE kind = 'user' AND lower(email) IN (SELECT lower(e) FROM ({}) AS listed(e))",
                self.cache.json_strings(1)
            ),
        };
        let rows: Vec<(String, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(serde_json::to_string(emails).expect("strings serialise"))
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(key, email)| (email.to_lowercase(), key))
            .collect())
    }

    /// Of `incidents` (source, id), those never notified to `recipient`, now marked as
    /// notified at `at`: each incident is handed out once to each user, even across restarts
    /// and between two windows. A file is one user's: `recipient` matters in a shared cache.
    pub async fn take_unnotified(
        &self,
        incidents: &[(String, String)],
        recipient: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        // Called after every sync: with no triggered incident, no write transaction.
        if incidents.is_empty() {
            return Ok(Vec::new());
        }
        let insert = match self.cache {
            Backend::Sqlite(_) => {
                "INSERT INTO notified_incidents (source, incident_id, notified_at)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            }
            Backend::Postgres(_) => {
                "INSERT INTO notified_incidents (source, incident_id, notified_at, recipient)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
            }
        };
        let _writing = self.writer.lock().await;
        let mut fresh = Vec::new();
        on_backend!(&self.cache, pool => {
            let mut tx = pool.write_transaction().await?;
            for (source, id) in incidents {
                // SQLite binds what its statement names, and ignores the extra value.
                let inserted = sqlx::query(insert)
                .bind(source)
                .bind(id)
                .bind(at)
                .bind(recipient)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted > 0 {
                    fresh.push((source.clone(), id.clone()));
                }
            }
            tx.commit().await?;
        });
        Ok(fresh)
    }
}

fn decode_records<T: DeserializeOwned>(
    kind: RecordKind,
    rows: Vec<(String, String)>,
) -> Result<Vec<(String, T)>, StoreError> {
    rows.into_iter()
        .map(|(source, body)| Ok((source, decode_json(kind.as_str(), &body)?)))
        .collect()
}

/// Makes `source`'s records (only those of `scope`: kind and join key, when given) exactly
/// `records`, writing only those that changed. Returns the rows written or deleted, and
/// whether any alert was among them.
pub(super) async fn write_changed(
    mut landing: Landing<'_>,
    source: &str,
    scope: Option<(RecordKind, &str)>,
    records: &[PlatformRecord],
) -> Result<(u64, bool), StoreError> {
    let fetched: HashMap<(&str, &str), &PlatformRecord> = records
        .iter()
        .map(|r| ((r.kind.as_str(), r.id.as_str()), r))
        .collect();
    let held_rows: Vec<(String, String, String)> = match scope {
        None => on_backend!(landing.reborrow(), c => {
            sqlx::query_as("SELECT kind, id, body FROM platform_records WHERE source = $1")
                .bind(source)
                .fetch_all(c)
                .await?
        }),
        Some((kind, join_key)) => on_backend!(landing.reborrow(), c => {
            sqlx::query_as(
                "SELECT kind, id, body FROM platform_records
                 WHERE kind = $1 AND join_key = $2 AND source = $3",
            )
            .bind(kind.as_str())
            .bind(join_key)
            .bind(source)
            .fetch_all(c)
            .await?
        }),
    };
    let held: HashMap<(String, String), String> = held_rows
        .into_iter()
        .map(|(kind, id, body)| ((kind, id), body))
        .collect();
    let mut alerts_changed = false;
    let mut written = 0u64;
    for (kind, id) in held.keys() {
        if !fetched.contains_key(&(kind.as_str(), id.as_str())) {
            on_backend!(landing.reborrow(), c => {
                sqlx::query("DELETE FROM platform_records WHERE source = $1 AND kind = $2 AND id = $3")
                    .bind(source)
                    .bind(kind)
                    .bind(id)
                    .execute(c)
                    .await?;
            });
            alerts_changed |= kind == RecordKind::Alert.as_str();
            written += 1;
        }
    }
    for ((kind, id), record) in &fetched {
        if held.get(&(kind.to_string(), id.to_string())) == Some(&record.body) {
            continue;
        }
        on_backend!(landing.reborrow(), c => {
            sqlx::query(
                "INSERT INTO platform_records (source, kind, id, join_key, body)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (source, kind, id) DO UPDATE SET join_key = excluded.join_key,
                    body = excluded.body",
            )
            .bind(source)
            .bind(kind)
            .bind(id)
            .bind(&record.join_key)
            .bind(&record.body)
            .execute(c)
            .await?;
        });
        alerts_changed |= record.kind == RecordKind::Alert;
        written += 1;
    }
    Ok((written, alerts_changed))
}

/// A component's wiring as read: key, name, owner, PagerDuty service.
type WiringRow = (String, String, Option<String>, Option<String>);

fn wiring((key, name, owner_key, pagerduty_service_id): WiringRow) -> ComponentWiring {
    ComponentWiring {
        key,
        name,
        owner_key,
        pagerduty_service_id,
    }
}

/// Joins every alert to its components again: by the `service` label, or by a component's
/// selector. Writes only the pairs that changed.
pub(super) async fn rejoin_alerts(mut landing: Landing<'_>) -> Result<(), StoreError> {
    let alerts: Vec<(String, String)> = on_backend!(landing.reborrow(), c => {
        sqlx::query_as("SELECT source, body FROM platform_records WHERE kind = 'alert'")
            .fetch_all(c)
            .await?
    });
    let alerts: Vec<(String, Alert)> = alerts
        .into_iter()
        .map(|(source, body)| Ok((source, decode_json("alert", &body)?)))
        .collect::<Result<_, StoreError>>()?;
    let services: BTreeSet<&str> = alerts
        .iter()
        .filter_map(|(_, a)| a.labels.get(crate::domain::alerts::SERVICE_LABEL))
        .map(String::as_str)
        .collect();
    let query = format!(
        "SELECT entity_key, name, alert_selector FROM entities
         WHERE kind = 'component' AND (name IN ({}) OR alert_selector IS NOT NULL)",
        landing.json_strings(1)
    );
    let components: Vec<(String, String, Option<String>)> = on_backend!(landing.reborrow(), c => {
        sqlx::query_as(&query)
            .bind(serde_json::to_string(&services).expect("strings serialise"))
            .fetch_all(c)
            .await?
    });
    let mut targets: HashMap<String, AlertTarget> = HashMap::new();
    for (key, name, selector) in components {
        let selector = selector.and_then(|text| match text.parse::<Selector>() {
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
                name,
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
    let held: Vec<(String, String, String)> = on_backend!(landing.reborrow(), c => {
        sqlx::query_as("SELECT component_key, source, fingerprint FROM alert_components")
            .fetch_all(c)
            .await?
    });
    let held: BTreeSet<(String, String, String)> = held.into_iter().collect();
    for (key, source, fingerprint) in held.difference(&wanted) {
        on_backend!(landing.reborrow(), c => {
            sqlx::query(
                "DELETE FROM alert_components WHERE component_key = $1 AND source = $2 AND fingerprint = $3",
            )
            .bind(key)
            .bind(source)
            .bind(fingerprint)
            .execute(c)
            .await?;
        });
    }
    for (key, source, fingerprint) in wanted.difference(&held) {
        on_backend!(landing.reborrow(), c => {
            sqlx::query(
                "INSERT INTO alert_components (component_key, source, fingerprint) VALUES ($1, $2, $3)",
            )
            .bind(key)
            .bind(source)
            .bind(fingerprint)
            .execute(c)
            .await?;
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Entity;

    #[tokio::test]
    async fn components_are_read_with_their_pagerduty_wiring_on_either_backend() {
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            on_backend!(&store.cache, pool => {
                sqlx::raw_sql(
                    r#"INSERT INTO entities (entity_key, kind, namespace, name, search_name, owner_key,
                           tags, gaps, gap_count, unowned, sources, body) VALUES
                         ('component:default/b', 'component', 'default', 'b', 'b', 'group:default/t',
                          '[]', '[]', 0, false, '[]',
                          '{"metadata": {"annotations": {"pagerduty.com/service-id": "PSVC"}}}'),
                         ('component:default/a', 'component', 'default', 'a', 'a', 'group:default/t',
                          '[]', '[]', 0, false, '[]', '{"metadata": {}}');"#,
                )
                .execute(pool)
                .await
                .map(drop)
                .unwrap()
            });
            let wired = |key: &str, service: Option<&str>| ComponentWiring {
                key: format!("component:default/{key}"),
                name: key.into(),
                owner_key: Some("group:default/t".into()),
                pagerduty_service_id: service.map(Into::into),
            };
            let (a, b) = (wired("a", None), wired("b", Some("PSVC")));
            assert_eq!(
                store.wiring_of_owner("group:default/t").await.unwrap(),
                [a.clone(), b.clone()]
            );
            assert_eq!(
                store
                    .wiring_of_component("component:default/b")
                    .await
                    .unwrap(),
                std::slice::from_ref(&b)
            );
            let mut both = store
                .wiring_of_components(&[a.key.clone(), b.key.clone()])
                .await
                .unwrap();
            both.sort_by(|x, y| x.key.cmp(&y.key));
            assert_eq!(both, [a, b.clone()]);
            assert_eq!(
                store.wiring_of_pagerduty_service("PSVC").await.unwrap(),
                std::slice::from_ref(&b)
            );
            assert_eq!(store.pagerduty_wired().await.unwrap(), [b]);
        }
    }

    fn incident(
        id: &str,
        number: i64,
        title: &str,
        status: crate::domain::oncall::IncidentStatus,
        day: u32,
    ) -> String {
        serde_json::to_string(&crate::domain::oncall::Incident {
            id: id.into(),
            number,
            title: title.into(),
            status,
            urgency: "high".into(),
            priority: None,
            service_id: "PSVC".into(),
            created_at: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, day, 10, 0, 0).unwrap(),
            last_status_change_at: None,
            assignees: vec![],
            acknowledged_by: vec![],
            html_url: None,
            policy_id: None,
        })
        .unwrap()
    }

    fn alert(fingerprint: &str, state: crate::domain::alerts::AlertState) -> String {
        serde_json::to_string(&Alert {
            fingerprint: fingerprint.into(),
            name: "HighErrorRate".into(),
            state,
            severity: None,
            summary: None,
            description: None,
            runbook_url: None,
            starts_at: Utc::now(),
            generator_url: None,
            labels: Default::default(),
            silenced_by: vec![],
            inhibited_by: vec![],
        })
        .unwrap()
    }

    #[tokio::test]
    async fn incidents_alerts_and_people_are_found_and_counted_on_either_backend() {
        use crate::domain::alerts::AlertState;
        use crate::domain::oncall::IncidentStatus;
        let cluster = opsdeck_test_postgres::Cluster::start();
        let records = [
            (
                "pd",
                "incident",
                "I1",
                "PSVC",
                incident(
                    "I1",
                    41,
                    r#"Checkout 50% errors "EU""#,
                    IncidentStatus::Resolved,
                    1,
                ),
            ),
            (
                "pd",
                "incident",
                "I2",
                "PSVC",
                incident("I2", 42, "Checkout slow", IncidentStatus::Triggered, 2),
            ),
            (
                "am",
                "alert",
                "f1",
                "firing",
                alert("f1", AlertState::Firing),
            ),
            (
                "am",
                "alert",
                "f2",
                "silenced",
                alert("f2", AlertState::Silenced),
            ),
        ];
        for store in crate::store::each_backend(&cluster).await {
            on_backend!(&store.cache, pool => {
                sqlx::raw_sql(
                    r#"INSERT INTO entities (entity_key, kind, namespace, name, search_name, owner_key,
                           email, tags, gaps, gap_count, unowned, sources, body) VALUES
                         ('component:default/shop', 'component', 'default', 'shop', 'shop', 'group:default/t',
                          NULL, '[]', '[]', 0, false, '[]',
                          '{"metadata": {"annotations": {"pagerduty.com/service-id": "PSVC"}}}'),
                         ('user:default/dana', 'user', 'default', 'dana', 'dana', NULL,
                          'Dana@Example.com', '[]', '[]', 0, false, '[]', '{}');
                       INSERT INTO alert_components (component_key, source, fingerprint) VALUES
                         ('component:default/shop', 'am', 'f1'), ('component:default/shop', 'am', 'f2');"#,
                )
                .execute(pool)
                .await
                .unwrap();
                for (source, kind, id, join_key, body) in &records {
                    sqlx::query(
                        "INSERT INTO platform_records (source, kind, id, join_key, body)
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(*source)
                    .bind(*kind)
                    .bind(*id)
                    .bind(*join_key)
                    .bind(body.as_str())
                    .execute(pool)
                    .await
                    .unwrap();
                }
            });
            let mut counted = store.incidents_per_owner().await.unwrap();
            counted.sort();
            assert_eq!(
                counted,
                [
                    ("group:default/t".to_string(), "resolved".to_string(), 1),
                    ("group:default/t".to_string(), "triggered".to_string(), 1)
                ]
            );
            let ids = |text: &'static str| {
                let store = &store;
                async move {
                    store
                        .search_incidents(text, 10)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|(_, i)| i.id)
                        .collect::<Vec<_>>()
                }
            };
            assert_eq!(ids("#42").await, ["I2"]);
            // Open ones first; % is a character, not a wildcard.
            assert_eq!(ids("checkout").await, ["I2", "I1"]);
            assert_eq!(ids("50%").await, ["I1"]);
            assert!(ids("5%s").await.is_empty());
            // Words the body holds elsewhere are not a title's; a quote (escaped in JSON)
            // is still found in one.
            assert!(ids("high").await.is_empty());
            assert_eq!(ids(r#"errors "EU""#).await, ["I1"]);
            let alerts = store
                .alerts_of(&["component:default/shop".into()])
                .await
                .unwrap();
            assert_eq!(alerts.len(), 2);
            assert_eq!(
                store.firing_alerts_per_owner().await.unwrap(),
                HashMap::from([("group:default/t".to_string(), 1)])
            );
            assert_eq!(
                store
                    .users_by_email(&["dana@example.COM".into()])
                    .await
                    .unwrap(),
                HashMap::from([(
                    "dana@example.com".to_string(),
                    "user:default/dana".to_string()
                )])
            );
        }
    }

    #[tokio::test]
    async fn records_are_read_counted_and_incidents_notified_once_on_either_backend() {
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            // Rows as a landing leaves them (the landings are not ported yet).
            on_backend!(&store.cache, pool => {
                sqlx::raw_sql(
                    r#"INSERT INTO platform_records (source, kind, id, join_key, body) VALUES
                         ('pd', 'incident', 'I1', 'PSVC', '{"id": "I1"}'),
                         ('pd', 'incident', 'I2', 'PSVC', '{"id": "I2"}'),
                         ('gh', 'comparison', 'o/r:v1...v2', NULL, '{"total_commits": 7}'),
                         ('gh', 'comparison', 'o/r:v2...v3', NULL, '{}');
                       INSERT INTO alert_components (component_key, source, fingerprint) VALUES
                         ('component:default/b', 'am', 'f1'), ('component:default/a', 'am', 'f1');"#,
                )
                .execute(pool)
                .await
                .map(drop)
                .unwrap()
            });
            let by_id: Vec<(String, serde_json::Value)> = store
                .records(
                    RecordKind::Incident,
                    LookupBy::Id,
                    &["I2".into(), "I9".into()],
                )
                .await
                .unwrap();
            assert_eq!(by_id, [("pd".to_string(), serde_json::json!({"id": "I2"}))]);
            let by_join: Vec<(String, serde_json::Value)> = store
                .records(RecordKind::Incident, LookupBy::JoinKey, &["PSVC".into()])
                .await
                .unwrap();
            assert_eq!(by_join.len(), 2);
            let totals = store
                .comparison_totals(&["o/r:v1...v2".into(), "o/r:v2...v3".into()])
                .await
                .unwrap();
            assert_eq!(totals, HashMap::from([("o/r:v1...v2".to_string(), 7)]));
            assert_eq!(
                store
                    .count_records("pd", RecordKind::Incident)
                    .await
                    .unwrap(),
                2
            );
            assert!(store.holds_records(RecordKind::Incident).await.unwrap());
            assert!(!store.holds_records(RecordKind::Alert).await.unwrap());
            let all: Vec<(String, serde_json::Value)> =
                store.all_records(RecordKind::Comparison).await.unwrap();
            assert_eq!(all.len(), 2);
            assert_eq!(
                store.alerts_of_fingerprint("am", "f1").await.unwrap(),
                ["component:default/a", "component:default/b"]
            );
            assert_eq!(
                store.alert_components().await.unwrap()[&("am".to_string(), "f1".to_string())],
                ["component:default/a", "component:default/b"]
            );
            let now = Utc::now();
            let incidents = [
                ("pd".to_string(), "I1".to_string()),
                ("pd".to_string(), "I2".to_string()),
            ];
            let dana = "dana@example.com";
            assert_eq!(
                store
                    .take_unnotified(&incidents[..1], dana, now)
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert_eq!(
                store.take_unnotified(&incidents, dana, now).await.unwrap(),
                [("pd".to_string(), "I2".to_string())]
            );
            // In a shared cache each user is told once; a file is one user's.
            let others = store
                .take_unnotified(&incidents, "ed@example.com", now)
                .await
                .unwrap();
            assert_eq!(others.len(), if store.is_shared() { 2 } else { 0 });
        }
    }

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
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            pagerduty_wiring_follows_the_merged_view_in(store).await;
        }
    }

    async fn pagerduty_wiring_follows_the_merged_view_in(store: Store) {
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
