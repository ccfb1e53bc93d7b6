//! Prometheus Alertmanager API v2, as `alertmanager/openapi.yaml` describes it:
//! `GET /api/v2/alerts` (every state: active, silenced, inhibited, unprocessed) and
//! `GET /api/v2/silences`. Alertmanager has no pagination and no auth of its own; a token, when
//! the source names one, goes as a bearer token for the proxy in front of it.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::http::RequestMeter;
use super::{ConnectorError, Endpoint, FetchProgress, Platform, Reached};
use crate::domain::alerts::{Alert, AlertState, Silence};
use crate::text::one_line;

/// What one sync reads from Alertmanager.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertmanagerSnapshot {
    /// Every alert it holds.
    pub alerts: Vec<Alert>,
    /// Silences that are active or pending; expired ones explain nothing.
    pub silences: Vec<Silence>,
}

/// An Alertmanager.
#[derive(Debug, Clone)]
pub struct AlertmanagerConnector {
    endpoint: Endpoint,
}

/// `alertmanagerStatus`: only what *Test connection* says.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusPayload {
    cluster: ClusterPayload,
    version_info: VersionPayload,
}

#[derive(Deserialize)]
struct ClusterPayload {
    status: String,
    #[serde(default)]
    peers: Vec<Value>,
}

#[derive(Deserialize)]
struct VersionPayload {
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertPayload {
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    fingerprint: String,
    starts_at: DateTime<Utc>,
    status: AlertStatusPayload,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertStatusPayload {
    state: String,
    #[serde(default)]
    silenced_by: Vec<String>,
    #[serde(default)]
    inhibited_by: Vec<String>,
    // Absent before Alertmanager 0.27, which added time-interval muting.
    #[serde(default)]
    muted_by: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SilencePayload {
    id: String,
    status: SilenceStatusPayload,
    matchers: Vec<MatcherPayload>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
}

#[derive(Deserialize)]
struct SilenceStatusPayload {
    state: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MatcherPayload {
    name: String,
    value: String,
    is_regex: bool,
    #[serde(default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

impl AlertmanagerConnector {
    /// A connector reading through `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    /// Reads every alert and the silences that are in force or about to be. Any failure fails
    /// the whole fetch.
    #[tracing::instrument(skip_all, fields(source = %self.endpoint.source_name()), err)]
    pub async fn fetch(
        &self,
        meter: &RequestMeter,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
    ) -> Result<AlertmanagerSnapshot, ConnectorError> {
        let alerts: Vec<AlertPayload> = self.get("/api/v2/alerts", meter).await?;
        progress(FetchProgress {
            pages: 1,
            items: alerts.len(),
            total: None,
        });
        let silences: Vec<SilencePayload> = self.get("/api/v2/silences", meter).await?;
        progress(FetchProgress {
            pages: 2,
            items: alerts.len() + silences.len(),
            total: Some(alerts.len() + silences.len()),
        });
        Ok(snapshot(alerts, silences))
    }

    /// Creates a silence (`POST /api/v2/silences`, a `postableSilence`); sent once. Returns the
    /// id Alertmanager gave it.
    pub async fn create_silence(
        &self,
        silence: &Value,
        meter: &RequestMeter,
    ) -> Result<String, ConnectorError> {
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "silenceID")]
            silence_id: String,
        }
        let url = self.silences_url();
        let created: Option<Created> = self
            .platform()
            .act(self.endpoint.reader(meter), &url, "the silence", || {
                self.endpoint
                    .with_bearer(reqwest::Method::POST, &url)
                    .json(silence)
            })
            .await?;
        created.map(|c| c.silence_id).ok_or_else(|| {
            self.platform().error(
                super::FailureKind::Malformed,
                "Alertmanager accepted the silence but sent no silenceID",
            )
        })
    }

    /// Expires a silence (`DELETE /api/v2/silence/{silenceID}`); sent once.
    pub async fn expire_silence(
        &self,
        id: &str,
        meter: &RequestMeter,
    ) -> Result<(), ConnectorError> {
        let url = self.silence_url(id);
        self.platform()
            .act::<Value>(
                self.endpoint.reader(meter),
                &url,
                "expiring the silence",
                || self.endpoint.with_bearer(reqwest::Method::DELETE, &url),
            )
            .await
            .map(drop)
    }

    /// Every silence Alertmanager holds, expired ones included: how a silence whose answer
    /// was lost is found again.
    pub async fn silences(&self, meter: &RequestMeter) -> Result<Vec<Silence>, ConnectorError> {
        let silences: Vec<SilencePayload> = self.get("/api/v2/silences", meter).await?;
        Ok(silences.into_iter().map(silence_of).collect())
    }

    /// One silence as it stands (`GET /api/v2/silence/{silenceID}`), expired or not.
    pub async fn silence(&self, id: &str, meter: &RequestMeter) -> Result<Silence, ConnectorError> {
        let url = self.silence_url(id);
        let payload: SilencePayload = self
            .platform()
            .get_json(self.endpoint.reader(meter), &url, || {
                self.endpoint.get_with_bearer(&url)
            })
            .await?;
        Ok(silence_of(payload))
    }

    /// `/api/v2/silence/{id}` at this source, the id escaped as one path segment.
    pub fn silence_url(&self, id: &str) -> String {
        self.endpoint.url(&format!(
            "/api/v2/silence/{}",
            crate::text::percent_encoded(id)
        ))
    }

    /// `/api/v2/silences` at this source.
    pub fn silences_url(&self) -> String {
        self.endpoint.url("/api/v2/silences")
    }

    /// *Test connection*: Alertmanager's version and cluster state (`GET /api/v2/status`).
    pub async fn check(&self, meter: &RequestMeter) -> Result<Reached, ConnectorError> {
        let status: StatusPayload = self.get("/api/v2/status", meter).await?;
        let cluster = match status.cluster.status.as_str() {
            "disabled" => "not clustered".to_string(),
            state => format!(
                "cluster {} with {} peers",
                one_line(state, 20),
                status.cluster.peers.len()
            ),
        };
        Ok(Reached {
            found: format!(
                "Alertmanager {}, {cluster}",
                one_line(&status.version_info.version, 40)
            ),
            signed_in_as: None,
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        meter: &RequestMeter,
    ) -> Result<T, ConnectorError> {
        let url = self.endpoint.url(path);
        self.platform()
            .get_json(self.endpoint.reader(meter), &url, || {
                self.endpoint.get_with_bearer(&url)
            })
            .await
    }

    fn platform(&self) -> Platform<'_> {
        Platform {
            endpoint: &self.endpoint,
            called: "Alertmanager",
            not_found: "no Alertmanager API v2 at this address; 'url' should be Alertmanager's root (with its --web.route-prefix, if any)",
            // Alertmanager's errors are a bare JSON string or plain text.
            error_detail: |body| {
                serde_json::from_slice::<String>(body)
                    .ok()
                    .map(|text| one_line(&text, 200))
            },
        }
    }
}

fn snapshot(alerts: Vec<AlertPayload>, silences: Vec<SilencePayload>) -> AlertmanagerSnapshot {
    AlertmanagerSnapshot {
        alerts: alerts.into_iter().map(alert_of).collect(),
        silences: silences
            .into_iter()
            .filter(|s| s.status.state != "expired")
            .map(silence_of)
            .collect(),
    }
}

fn silence_of(s: SilencePayload) -> Silence {
    Silence {
        matchers: s
            .matchers
            .iter()
            .map(|m| {
                let op = match (m.is_regex, m.is_equal) {
                    (false, true) => "=",
                    (false, false) => "!=",
                    (true, true) => "=~",
                    (true, false) => "!~",
                };
                format!("{}{op}{:?}", m.name, m.value)
            })
            .collect::<Vec<_>>()
            .join(","),
        id: s.id,
        created_by: s.created_by,
        comment: s.comment,
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        state: s.status.state,
    }
}

/// A `postableSilence` matching exactly `labels` (each an equality matcher), in force from
/// `starts` to `ends`.
pub fn silence_body(
    labels: &BTreeMap<String, String>,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    created_by: &str,
    comment: &str,
) -> Value {
    let matchers: Vec<Value> = labels
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value, "isRegex": false, "isEqual": true}))
        .collect();
    json!({
        "matchers": matchers,
        "startsAt": starts.to_rfc3339_opts(SecondsFormat::Secs, true),
        "endsAt": ends.to_rfc3339_opts(SecondsFormat::Secs, true),
        "createdBy": created_by,
        "comment": comment,
    })
}

fn alert_of(mut a: AlertPayload) -> Alert {
    let status = a.status;
    let state = match status.state.as_str() {
        "unprocessed" => AlertState::Unprocessed,
        "suppressed" if !status.silenced_by.is_empty() || !status.muted_by.is_empty() => {
            AlertState::Silenced
        }
        "suppressed" => AlertState::Inhibited,
        _ => AlertState::Firing,
    };
    Alert {
        name: a
            .labels
            .get("alertname")
            .cloned()
            .unwrap_or_else(|| a.fingerprint.clone()),
        severity: a.labels.get("severity").cloned(),
        summary: a.annotations.remove("summary"),
        description: a.annotations.remove("description"),
        runbook_url: a.annotations.remove("runbook_url"),
        fingerprint: a.fingerprint,
        state,
        starts_at: a.starts_at,
        generator_url: a.generator_url.filter(|u| !u.is_empty()),
        labels: a.labels,
        silenced_by: status.silenced_by,
        inhibited_by: status.inhibited_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The spec has no examples, so these payloads are written by us to its schemas; the
    /// sandbox's answers are checked against the same schemas in tests/contract.rs.
    #[test]
    fn alerts_keep_silenced_and_inhibited_apart() {
        let alert = |state: &str, silenced: &[&str], inhibited: &[&str]| {
            json!({
                "labels": {"alertname": "HighErrorRate", "service": "checkout-api", "severity": "critical"},
                "annotations": {"summary": "5xx above 5%", "runbook_url": "https://runbooks/x"},
                "receivers": [{"name": "pagerduty"}],
                "fingerprint": "a1b2", "startsAt": "2026-11-26T02:09:00.000Z",
                "updatedAt": "2026-11-26T02:10:00.000Z", "endsAt": "2026-11-26T02:14:00.000Z",
                "generatorURL": "http://prometheus/graph",
                "status": {"state": state, "silencedBy": silenced, "inhibitedBy": inhibited, "mutedBy": []}
            })
        };
        let payloads: Vec<AlertPayload> = serde_json::from_value(json!([
            alert("active", &[], &[]),
            alert("suppressed", &["s1"], &[]),
            alert("suppressed", &[], &["f9"]),
            alert("unprocessed", &[], &[]),
        ]))
        .unwrap();
        let snap = snapshot(payloads, vec![]);
        let states: Vec<_> = snap.alerts.iter().map(|a| a.state).collect();
        assert_eq!(
            states,
            [
                AlertState::Firing,
                AlertState::Silenced,
                AlertState::Inhibited,
                AlertState::Unprocessed
            ]
        );
        let a = &snap.alerts[0];
        assert_eq!(a.name, "HighErrorRate");
        assert_eq!(a.severity.as_deref(), Some("critical"));
        assert_eq!(a.summary.as_deref(), Some("5xx above 5%"));
        assert_eq!(a.runbook_url.as_deref(), Some("https://runbooks/x"));
        assert_eq!(a.labels["service"], "checkout-api");
        assert_eq!(snap.alerts[1].silenced_by, ["s1"]);
    }

    #[test]
    fn silences_keep_their_matchers_and_drop_when_expired() {
        let silence = |id: &str, state: &str| {
            json!({
                "id": id, "status": {"state": state}, "updatedAt": "2026-11-26T01:00:00Z",
                "matchers": [
                    {"name": "alertname", "value": "DiskSpaceLow", "isRegex": false, "isEqual": true},
                    {"name": "instance", "value": "db-.*", "isRegex": true}
                ],
                "startsAt": "2026-11-26T01:00:00Z", "endsAt": "2026-11-26T05:00:00Z",
                "createdBy": "marco", "comment": "disk resize in progress"
            })
        };
        let silences: Vec<SilencePayload> =
            serde_json::from_value(json!([silence("s1", "active"), silence("s0", "expired")]))
                .unwrap();
        let snap = snapshot(vec![], silences);
        assert_eq!(snap.silences.len(), 1);
        assert_eq!(
            snap.silences[0].matchers,
            r#"alertname="DiskSpaceLow",instance=~"db-.*""#
        );
        assert_eq!(snap.silences[0].created_by, "marco");
    }

    #[tokio::test]
    async fn fuzzed_alerts_and_silences_map_or_fail_never_panic() {
        let seeds = crate::connectors::fuzz::served(&[
            "/alertmanager/api/v2/alerts",
            "/alertmanager/api/v2/silences",
        ])
        .await;
        crate::connectors::fuzz::fuzz("alertmanager", &seeds, |bytes| {
            let alerts = serde_json::from_slice::<Vec<AlertPayload>>(bytes).unwrap_or_default();
            let silences = serde_json::from_slice::<Vec<SilencePayload>>(bytes).unwrap_or_default();
            let _ = snapshot(alerts, silences);
        });
    }
}
