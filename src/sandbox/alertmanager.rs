//! The sandbox's Alertmanager API v2: `GET /api/v2/status`, `GET /api/v2/alerts`, `GET`/`POST /api/v2/silences` and
//! `GET`/`DELETE /api/v2/silence/{silenceID}`, shaped as `alertmanager/openapi.yaml` says
//! (checked by tests/contract.rs), with the `active`, `silenced`, `inhibited` and `filter`
//! parameters. A silence created here mutes the alerts it matches, as Alertmanager's does.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::actions::Actions;
use super::oncall::{OnCallWorld, Silence};
use crate::domain::alerts::Selector;

pub(super) struct AlertmanagerApi {
    pub world: Arc<OnCallWorld>,
    pub actions: Arc<Actions>,
}

impl AlertmanagerApi {
    pub(super) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/api/v2/status", get(status))
            .route("/api/v2/alerts", get(alerts))
            .route("/api/v2/silences", get(silences).post(create_silence))
            .route(
                "/api/v2/silence/{id}",
                get(one_silence).delete(expire_silence),
            )
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

/// The Alertmanager release the sandbox answers as.
const VERSION: &str = "0.27.0";

/// `GET /api/v2/status`: a single, unclustered Alertmanager up since the world began.
async fn status(State(api): State<Arc<AlertmanagerApi>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "cluster": {"name": "01SANDBOX", "status": "disabled", "peers": []},
            "versionInfo": {
                "version": VERSION, "revision": "sandbox", "branch": "HEAD",
                "buildUser": "opsdeck@sandbox", "buildDate": "20260101-00:00:00",
                "goVersion": "go1.22.0",
            },
            "config": {"original": "route:\n  receiver: pagerduty\nreceivers:\n  - name: pagerduty\n"},
            "uptime": api.world.started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }),
    )
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
        .map(|a| (a, api.world.silenced_by(a, now)))
        .filter(|(a, silenced_by)| {
            let state = if !silenced_by.is_empty() {
                "silenced"
            } else if !a.inhibited_by.is_empty() {
                "inhibited"
            } else {
                "active"
            };
            flag(state) && filters.iter().all(|f| f.matches(&a.labels))
        })
        .map(|(a, silenced_by)| {
            let suppressed = !silenced_by.is_empty() || !a.inhibited_by.is_empty();
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
                    "silencedBy": silenced_by, "inhibitedBy": a.inhibited_by, "mutedBy": [],
                },
            })
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(items))
}

fn gettable(s: &Silence, now: DateTime<Utc>) -> Value {
    let matchers: Vec<Value> = s
        .matchers
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value, "isRegex": false, "isEqual": true}))
        .collect();
    json!({
        "id": s.id, "status": {"state": s.state(now)}, "updatedAt": s.starts_at.to_rfc3339(),
        "matchers": matchers, "startsAt": s.starts_at.to_rfc3339(),
        "endsAt": s.ends_at.to_rfc3339(), "createdBy": s.created_by,
        "comment": s.comment, "annotations": {},
    })
}

async fn silences(State(api): State<Arc<AlertmanagerApi>>) -> Response {
    let now = Utc::now();
    let items: Vec<Value> = api
        .world
        .silences
        .read()
        .expect("silences lock")
        .iter()
        .map(|s| gettable(s, now))
        .collect();
    json_response(StatusCode::OK, &Value::Array(items))
}

fn bad_request(message: &str) -> Response {
    server_error(StatusCode::BAD_REQUEST, message, "")
}

/// `POST /api/v2/silences` (`postableSilence`): the sandbox takes equality matchers, as
/// Opsdeck sends them; like Alertmanager it refuses an empty matcher list and an end that is
/// not after the start or already past.
async fn create_silence(State(api): State<Arc<AlertmanagerApi>>, body: String) -> Response {
    let posted: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(&format!("parsing silence body: {e}")),
    };
    let time = |field: &str| {
        posted
            .get(field)
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let (Some(starts_at), Some(ends_at)) = (time("startsAt"), time("endsAt")) else {
        return bad_request("startsAt and endsAt must be date-times");
    };
    let mut matchers = Vec::new();
    for m in posted
        .get("matchers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(value)) = (
            m.get("name").and_then(Value::as_str),
            m.get("value").and_then(Value::as_str),
        ) else {
            return bad_request("a matcher needs a name and a value");
        };
        if m.get("isRegex") == Some(&Value::Bool(true))
            || m.get("isEqual") == Some(&Value::Bool(false))
        {
            return bad_request("the sandbox takes equality matchers only");
        }
        matchers.push((name.to_string(), value.to_string()));
    }
    let now = Utc::now();
    if matchers.is_empty() {
        return bad_request("silence invalid: at least one matcher required");
    }
    if ends_at <= starts_at || ends_at <= now {
        return bad_request(
            "silence invalid: end time must not be in the past or before the start",
        );
    }
    let spec = api.actions.receive();
    if let Some(refused) = spec.refusal(
        |status, message| server_error(status, message, ""),
        "forbidden",
    ) {
        return refused;
    }
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..0x1000),
        fastrand::u16(..0x1000),
        fastrand::u64(..0x1_0000_0000_0000)
    );
    api.world
        .silences
        .write()
        .expect("silences lock")
        .push(Silence {
            id: id.clone(),
            matchers,
            created_by: posted
                .get("createdBy")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            comment: posted
                .get("comment")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            starts_at: starts_at.max(now),
            ends_at,
        });
    spec.deliver(json_response(StatusCode::OK, &json!({"silenceID": id})))
}

fn silence_not_found(id: &str) -> Response {
    server_error(
        StatusCode::NOT_FOUND,
        &format!("silence {id} not found"),
        "",
    )
}

/// `GET /api/v2/silence/{silenceID}`.
async fn one_silence(State(api): State<Arc<AlertmanagerApi>>, Path(id): Path<String>) -> Response {
    let now = Utc::now();
    match api
        .world
        .silences
        .read()
        .expect("silences lock")
        .iter()
        .find(|s| s.id == id)
    {
        Some(s) => json_response(StatusCode::OK, &gettable(s, now)),
        None => silence_not_found(&id),
    }
}

/// `DELETE /api/v2/silence/{silenceID}`: expires it now (it stays listed, expired).
async fn expire_silence(
    State(api): State<Arc<AlertmanagerApi>>,
    Path(id): Path<String>,
) -> Response {
    let spec = api.actions.receive();
    if let Some(refused) = spec.refusal(
        |status, message| server_error(status, message, ""),
        "forbidden",
    ) {
        return refused;
    }
    let now = Utc::now();
    let mut silences = api.world.silences.write().expect("silences lock");
    let Some(silence) = silences.iter_mut().find(|s| s.id == id) else {
        return silence_not_found(&id);
    };
    if silence.state(now) == "expired" {
        return server_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("silence {id} already expired"),
            "",
        );
    }
    silence.ends_at = now;
    if silence.starts_at > now {
        silence.starts_at = now;
    }
    spec.deliver(StatusCode::OK.into_response())
}
