//! The sandbox's PagerDuty Events API v2: `POST /v2/change/enqueue`, as
//! `pagerduty/events-v2.openapiv3.json` says (202 with `status`/`message`, 400 with the
//! `Error` shape). The change events it received are kept for tests and the demo.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

#[derive(Debug, Default)]
pub(super) struct EventsApi {
    pub received: Mutex<Vec<Value>>,
}

impl EventsApi {
    pub(super) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v2/change/enqueue", post(change_event))
            .with_state(self)
    }

    pub(super) fn received(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn invalid(problem: &str) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": [problem]}),
    )
}

/// The error the sandbox's Events API answers for a failure of its own (what chaos injects).
pub(super) fn server_error(status: StatusCode, message: &str, _url: &str) -> Response {
    answer(status, json!({"status": "error", "message": message}))
}

async fn change_event(State(api): State<Arc<EventsApi>>, raw: String) -> Response {
    let Ok(event) = serde_json::from_str::<Value>(&raw) else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": ["JSON parse error"]}),
        );
    };
    if event
        .get("routing_key")
        .and_then(Value::as_str)
        .is_none_or(|k| k.len() != 32)
    {
        return invalid("'routing_key' must be a 32-character integration key");
    }
    if event
        .pointer("/payload/summary")
        .and_then(Value::as_str)
        .is_none_or(|s| s.is_empty() || s.len() > 1024)
    {
        return invalid("'payload.summary' is required (at most 1024 characters)");
    }
    api.received
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(event);
    answer(
        StatusCode::ACCEPTED,
        json!({"status": "success", "message": "Change event processed"}),
    )
}
