//! The sandbox's Argo CD API: `GET /api/v1/applications` by `name` or label `selector`, shaped
//! as `argocd/swagger.json` says (checked by tests/contract_delivery.rs), with bearer tokens
//! and Argo CD's error body.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::delivery::{App, DeliveryWorld};
use super::stable_hash;

pub(super) struct ArgoCdApi {
    pub token: String,
    pub world: Arc<DeliveryWorld>,
}

impl ArgoCdApi {
    pub(super) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/api/v1/applications", get(applications))
            .with_state(self)
    }
}

/// Argo CD's error body (`runtimeError`): gRPC code and message.
fn error(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::UNAUTHORIZED => 16,
        StatusCode::BAD_REQUEST => 3,
        StatusCode::NOT_FOUND => 5,
        StatusCode::TOO_MANY_REQUESTS => 8,
        _ => 13,
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": message, "code": code, "message": message, "details": []}).to_string(),
    )
        .into_response()
}

/// The error the sandbox's Argo CD answers for a failure of its own (what chaos injects).
pub(super) fn server_error(status: StatusCode, message: &str, _url: &str) -> Response {
    error(status, message)
}

/// A Kubernetes equality-based label selector: `k=v`, `k==v`, `k!=v`, comma-separated.
fn matches(selector: &str, labels: &[(String, String)]) -> Result<bool, String> {
    for requirement in selector.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let (key, value, equal) = if let Some((k, v)) = requirement.split_once("!=") {
            (k, v, false)
        } else if let Some((k, v)) = requirement.split_once("==") {
            (k, v, true)
        } else if let Some((k, v)) = requirement.split_once('=') {
            (k, v, true)
        } else {
            return Err(format!("unable to parse requirement: {requirement}"));
        };
        let held = labels
            .iter()
            .find(|(k, _)| k == key.trim())
            .map(|(_, v)| v.as_str());
        if (held == Some(value.trim())) != equal {
            return Ok(false);
        }
    }
    Ok(true)
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn application(world: &DeliveryWorld, app: &App) -> Value {
    let repo = &world.repos[app.repo];
    let repo_url = format!("https://github.com/{}", repo.slug);
    let entry = |h: &super::delivery::HistoryEntry| {
        let version = &repo.versions[h.version];
        json!({
            "id": h.id, "revision": repo.sha(version.last_commit),
            "deployStartedAt": time(h.deployed_at - Duration::minutes(2)),
            "deployedAt": time(h.deployed_at),
            "source": {"repoURL": repo_url, "path": "deploy", "targetRevision": version.name},
            "initiatedBy": match h.initiator {
                Some(who) => json!({"username": world.logins[who]}),
                None => json!({"automated": true}),
            },
        })
    };
    let newest = app.history.last();
    let revision = newest.map(|h| repo.sha(repo.versions[h.version].last_commit));
    let target = newest.map_or("HEAD".to_string(), |h| {
        repo.versions[h.version].name.clone()
    });
    let labels: serde_json::Map<String, Value> = app
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut spec = json!({
        "project": "default",
        "source": {"repoURL": repo_url, "path": "deploy", "targetRevision": target},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": app.destination_namespace},
    });
    if app.automated_sync {
        spec["syncPolicy"] = json!({"automated": {"prune": true, "selfHeal": true}});
    }
    json!({
        "metadata": {
            "name": app.name, "namespace": "argocd", "labels": labels,
            "uid": format!("{:016x}", stable_hash(&app.name)),
            "resourceVersion": (stable_hash(&app.name) % 100_000).to_string(),
            "creationTimestamp": time(world.started - Duration::days(120)),
        },
        "spec": spec,
        "status": {
            "sync": {"status": "Synced", "revision": revision,
                     "comparedTo": {"source": {"repoURL": repo_url, "targetRevision": target},
                                    "destination": {"server": "https://kubernetes.default.svc",
                                                    "namespace": app.destination_namespace}}},
            "health": {"status": app.health},
            "history": app.history.iter().map(entry).collect::<Vec<_>>(),
            "operationState": newest.map(|h| json!({
                "phase": "Succeeded", "message": "successfully synced (all tasks run)",
                "startedAt": time(h.deployed_at - Duration::minutes(2)),
                "finishedAt": time(h.deployed_at),
                "operation": {"sync": {"revision": revision}},
            })),
            "reconciledAt": time(world.started),
            "sourceType": "Kustomize",
        },
    })
}

async fn applications(
    State(api): State<Arc<ArgoCdApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token != Some(api.token.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "no session information");
    }
    let query: Vec<(String, String)> =
        match serde_urlencoded::from_str(raw.as_deref().unwrap_or("")) {
            Ok(q) => q,
            Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        };
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut items = Vec::new();
    for app in &api.world.apps {
        if get("name").is_some_and(|n| n != app.name) {
            continue;
        }
        if let Some(selector) = get("selector") {
            match matches(selector, &app.labels) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(problem) => return error(StatusCode::BAD_REQUEST, &problem),
            }
        }
        items.push(application(&api.world, app));
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"metadata": {"resourceVersion": "1"}, "items": items}).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_by_equality_and_inequality() {
        let labels = vec![
            (
                "app.kubernetes.io/name".to_string(),
                "checkout-api".to_string(),
            ),
            ("environment".to_string(), "prod".to_string()),
        ];
        assert_eq!(
            matches("app.kubernetes.io/name=checkout-api", &labels),
            Ok(true)
        );
        assert_eq!(
            matches(
                "app.kubernetes.io/name==checkout-api,environment!=beta",
                &labels
            ),
            Ok(true)
        );
        assert_eq!(matches("environment=beta", &labels), Ok(false));
        assert!(matches("environment", &labels).is_err());
    }
}
