//! The sandbox's Alertmanager API v2: `GET /api/v2/alerts` and `GET /api/v2/silences`, shaped
//! as `alertmanager/openapi.yaml` says (checked by tests/contract.rs), with the `active`,
//! `silenced`, `inhibited` and `filter` parameters.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde_json::{json, Value};

use super::oncall::OnCallWorld;
use crate::domain::alerts::Selector;

pub(super) struct AlertmanagerApi {
    pub world: Arc<OnCallWorld>,
}

impl AlertmanagerApi {
    pub(super) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/api/v2/alerts", get(alerts))
            .route("/api/v2/silences", get(silences))
            .with_state(self)
    }
}

/// Alertmanager answers errors as a JSON string.
pub(super) fn server_error(status: StatusCode, message: &str, _url: &str) -> Response {
    json_response(status, &json!(message))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn alerts(State(api): State<Arc<AlertmanagerApi>>, RawQuery(raw): RawQuery) -> Response {
    let query: Vec<(String, String)> =
        match serde_urlencoded::from_str(raw.as_deref().unwrap_or("")) {
            Ok(q) => q,
            Err(e) => return server_error(StatusCode::BAD_REQUEST, &e.to_string(), ""),
        };
    let flag = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .is_none_or(|(_, v)| v != "false")
    };
    let mut filters = Vec::new();
    for (_, text) in query.iter().filter(|(k, _)| k == "filter") {
        match text.parse::<Selector>() {
            Ok(s) => filters.push(s),
            Err(e) => {
                return server_error(
                    StatusCode::BAD_REQUEST,
                    &format!("bad matcher format: {e}"),
                    "",
                )
            }
        }
    }
    let now = Utc::now();
    let items: Vec<Value> = api
        .world
        .alerts
        .iter()
        .filter(|a| {
            let state = if !a.silenced_by.is_empty() {
                "silenced"
            } else if !a.inhibited_by.is_empty() {
                "inhibited"
            } else {
                "active"
            };
            flag(state) && filters.iter().all(|f| f.matches(&a.labels))
        })
        .map(|a| {
            let suppressed = !a.silenced_by.is_empty() || !a.inhibited_by.is_empty();
            json!({
                "labels": a.labels, "annotations": a.annotations,
                "receivers": [{"name": "pagerduty"}],
                "fingerprint": a.fingerprint(),
                "startsAt": a.starts_at.to_rfc3339(), "updatedAt": now.to_rfc3339(),
                // Alertmanager moves endsAt forward while the alert keeps being sent.
                "endsAt": (now + chrono::Duration::minutes(4)).to_rfc3339(),
                "generatorURL": OnCallWorld::graph(&a.labels["alertname"]),
                "status": {
                    "state": if suppressed { "suppressed" } else { "active" },
                    "silencedBy": a.silenced_by, "inhibitedBy": a.inhibited_by, "mutedBy": [],
                },
            })
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(items))
}

async fn silences(State(api): State<Arc<AlertmanagerApi>>) -> Response {
    let now = Utc::now();
    let items: Vec<Value> = api
        .world
        .silences
        .iter()
        .map(|s| {
            let state = if s.ends_at <= now {
                "expired"
            } else if s.starts_at > now {
                "pending"
            } else {
                "active"
            };
            let matchers: Vec<Value> = s
                .matchers
                .iter()
                .map(|(name, value)| json!({"name": name, "value": value, "isRegex": false, "isEqual": true}))
                .collect();
            json!({
                "id": s.id, "status": {"state": state}, "updatedAt": s.starts_at.to_rfc3339(),
                "matchers": matchers, "startsAt": s.starts_at.to_rfc3339(),
                "endsAt": s.ends_at.to_rfc3339(), "createdBy": s.created_by,
                "comment": s.comment, "annotations": {},
            })
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(items))
}
