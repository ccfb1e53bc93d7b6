//! The sandbox's Argo CD API: `GET /api/v1/applications` by `name` or label `selector`, the
//! watch stream `GET /api/v1/stream/applications`, the applications' actions and
//! `GET /api/v1/session/userinfo`, shaped as `argocd/swagger.json` says (checked by
//! tests/contract_delivery.rs), with bearer tokens and Argo CD's error body.

use std::sync::{Arc, RwLock};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use serde_json::{json, Value};

use opsdeck_domain::label_selector::LabelSelector;
use tokio::sync::broadcast;

use super::actions::Actions;
use super::delivery::{read, write, App, DeliveryWorld};
use super::stable_hash;

/// What the watch streams hear.
#[derive(Debug, Clone, Copy)]
pub(super) enum Watched {
    /// The application at this index changed.
    Changed(usize),
    /// Every open stream is cut, as a restarting API server or a dropped connection does.
    Cut,
}

/// Changes a stream may fall behind by before it is cut, as Argo CD's broadcaster drops a
/// subscriber that does not keep up.
const STREAM_BACKLOG: usize = 1024;

pub(super) struct ArgoCdApi {
    pub token: String,
    pub world: Arc<RwLock<DeliveryWorld>>,
    pub actions: Arc<Actions>,
    pub changes: broadcast::Sender<Watched>,
}

/// A sender for [`ArgoCdApi::changes`].
pub(super) fn change_channel() -> broadcast::Sender<Watched> {
    broadcast::channel(STREAM_BACKLOG).0
}

impl ArgoCdApi {
    pub(super) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/api/v1/applications", get(applications))
            .route(
                "/api/v1/applications/{name}",
                get(one_application).patch(patch_application),
            )
            .route("/api/v1/applications/{name}/rollback", post(rollback))
            .route("/api/v1/applications/{name}/sync", post(sync))
            .route("/api/v1/session/userinfo", get(user_info))
            .route("/api/v1/stream/applications", get(watch))
            .with_state(self)
    }

    /// Gives `app` a new resource version and tells the watch streams; and again when the
    /// rollout it started ends, as Argo CD's controller updates the application then.
    fn announce(self: &Arc<Self>, world: &mut DeliveryWorld, app: usize) {
        world.touch_app(app);
        let _ = self.changes.send(Watched::Changed(app));
        let Some(end) = world.apps[app]
            .rollout_until
            .filter(|end| *end > Utc::now())
        else {
            return;
        };
        let api = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep((end - Utc::now()).to_std().unwrap_or_default()).await;
            write(&api.world).touch_app(app);
            let _ = api.changes.send(Watched::Changed(app));
        });
    }

    fn admits(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            == Some(self.token.as_str())
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

/// The account the sandbox's token signs in as.
const ACCOUNT: &str = "opsdeck";

/// `GET /api/v1/session/userinfo`: open to anyone, as Argo CD's is; says whether the token
/// signs in, and as whom.
async fn user_info(State(api): State<Arc<ArgoCdApi>>, headers: HeaderMap) -> Response {
    let body = if api.admits(&headers) {
        json!({"loggedIn": true, "username": ACCOUNT, "iss": "argocd", "groups": []})
    } else {
        json!({"loggedIn": false})
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn application(world: &DeliveryWorld, app: &App) -> Value {
    let now = Utc::now();
    let repo = &world.repos[app.repo];
    let repo_url = format!("https://github.com/{}", repo.slug);
    let entry = |h: &super::delivery::HistoryEntry| {
        let version = &repo.versions[h.version];
        json!({
            "id": h.id, "revision": repo.sha(version.last_commit),
            "deployStartedAt": time(h.started_at()),
            "deployedAt": time(h.deployed_at),
            "source": {"repoURL": repo_url, "path": "deploy", "targetRevision": version.name},
            "initiatedBy": match h.initiator {
                Some(who) => json!({"username": world.logins[who]}),
                None => json!({"automated": true}),
            },
        })
    };
    let history: Vec<&super::delivery::HistoryEntry> = app.history_at(now).collect();
    let newest = history.last().copied();
    let rolling_out = app.rollout_until.filter(|end| now < *end);
    let revision = newest.map(|h| repo.sha(repo.versions[h.version].last_commit));
    let git = app.git_version();
    let target = git.map_or("HEAD".to_string(), |v| repo.versions[v].name.clone());
    let in_sync = newest.map(|h| h.version) == git;
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
            "resourceVersion": app.resource_version.to_string(),
            "creationTimestamp": time(world.started - Duration::days(120)),
        },
        "spec": spec,
        "status": {
            "sync": {"status": if in_sync { "Synced" } else { "OutOfSync" }, "revision": revision,
                     "comparedTo": {"source": {"repoURL": repo_url, "targetRevision": target},
                                    "destination": {"server": "https://kubernetes.default.svc",
                                                    "namespace": app.destination_namespace}}},
            "health": {"status": app.health_at(now)},
            "history": history.iter().map(|h| entry(h)).collect::<Vec<_>>(),
            "operationState": match (rolling_out, app.history.last()) {
                (Some(end), Some(next)) => Some(json!({
                    "phase": "Running", "message": "one or more tasks are running",
                    "startedAt": time(end - Duration::seconds(1)),
                    "operation": {"sync": {"revision": repo.sha(repo.versions[next.version].last_commit)}},
                })),
                _ => newest.map(|h| json!({
                    "phase": "Succeeded", "message": "successfully synced (all tasks run)",
                    "startedAt": time(h.started_at()),
                    "finishedAt": time(h.deployed_at),
                    "operation": {"sync": {"revision": revision}},
                })),
            },
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
    let (filter, _) = match AppFilter::asked(&api, &headers, raw.as_deref()) {
        Ok(asked) => asked,
        Err(refused) => return refused.into_response(),
    };
    let world = read(&api.world);
    let items: Vec<Value> = world
        .apps
        .iter()
        .filter(|app| filter.admits(app))
        .map(|app| application(&world, app))
        .collect();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"metadata": {"resourceVersion": world.resource_version.to_string()}, "items": items})
            .to_string(),
    )
        .into_response()
}

/// The applications a list or a watch asks for, by `name` and label `selector`.
struct AppFilter {
    name: Option<String>,
    selector: Option<LabelSelector>,
}

impl AppFilter {
    /// The filter a list or watch request asks for (the token checked), with its
    /// `resourceVersion` ("" when none), or the answer that refuses it.
    fn asked(
        api: &ArgoCdApi,
        headers: &HeaderMap,
        raw: Option<&str>,
    ) -> Result<(Self, String), Refused> {
        if !api.admits(headers) {
            return Err(Refused(
                StatusCode::UNAUTHORIZED,
                "no session information".into(),
            ));
        }
        let query: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| Refused(StatusCode::BAD_REQUEST, e.to_string()))?;
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let filter = Self {
            name: get("name").map(str::to_string),
            selector: get("selector")
                .map(LabelSelector::parse)
                .transpose()
                .map_err(|problem| Refused(StatusCode::BAD_REQUEST, problem))?,
        };
        Ok((filter, get("resourceVersion").unwrap_or("").to_string()))
    }

    fn admits(&self, app: &App) -> bool {
        self.name.as_ref().is_none_or(|n| *n == app.name)
            && self.selector.as_ref().is_none_or(|s| {
                s.matches(|key| {
                    app.labels
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.as_str())
                })
            })
    }
}

/// One line of the watch stream: grpc-gateway's `{"result": …}` around an
/// `v1alpha1ApplicationWatchEvent`.
fn watch_line(kind: &str, world: &DeliveryWorld, app: &App) -> String {
    let mut line =
        json!({"result": {"type": kind, "application": application(world, app)}}).to_string();
    line.push('\n');
    line
}

/// `GET /api/v1/stream/applications`: as Argo CD's `Watch`, every matching application as
/// `ADDED` first unless a `resourceVersion` is given (or a `name`), then each change as it
/// happens, skipping applications older than that `resourceVersion`. Newline-delimited, held
/// open until the client leaves or the stream is cut.
async fn watch(
    State(api): State<Arc<ArgoCdApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let (filter, since) = match AppFilter::asked(&api, &headers, raw.as_deref()) {
        Ok(asked) => asked,
        Err(refused) => return refused.into_response(),
    };
    // Argo CD reads a version it cannot parse as 0.
    let min_version: u64 = since.parse().unwrap_or(0);
    // Subscribed before the first list is read, so no change falls between them.
    let changes = api.changes.subscribe();
    let added: Vec<Result<String, std::io::Error>> = if since.is_empty() || filter.name.is_some() {
        let world = read(&api.world);
        world
            .apps
            .iter()
            .filter(|app| filter.admits(app))
            .map(|app| Ok(watch_line("ADDED", &world, app)))
            .collect()
    } else {
        Vec::new()
    };
    // After an error the stream ends: the connection is aborted mid-body.
    let following =
        futures_util::stream::unfold(Some((changes, api, filter)), move |state| async move {
            let (mut changes, api, filter) = state?;
            loop {
                match changes.recv().await {
                    Ok(Watched::Changed(index)) => {
                        let line = {
                            let world = read(&api.world);
                            let app = &world.apps[index];
                            (filter.admits(app) && app.resource_version >= min_version)
                                .then(|| watch_line("MODIFIED", &world, app))
                        };
                        if let Some(line) = line {
                            return Some((Ok(line), Some((changes, api, filter))));
                        }
                    }
                    Ok(Watched::Cut) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let cut = std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "stream cut",
                        );
                        return Some((Err(cut), None));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(futures_util::stream::iter(added).chain(following)),
    )
        .into_response();
    response.extensions_mut().insert(super::chaos::Streaming);
    response
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn not_found(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("applications.argoproj.io \"{name}\" not found"),
    )
}

async fn one_application(
    State(api): State<Arc<ArgoCdApi>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !api.admits(&headers) {
        return error(StatusCode::UNAUTHORIZED, "no session information");
    }
    let world = read(&api.world);
    match world.apps.iter().find(|a| a.name == name) {
        Some(app) => ok(application(&world, app)),
        None => not_found(&name),
    }
}

/// What Argo CD says when a token may read but not sync.
const FORBIDDEN: &str = "permission denied: applications, sync, default/app, sub: opsdeck";

/// Why an action's request is turned away, answered in Argo CD's error shape.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        error(self.0, &self.1)
    }
}

/// An action's request: the token checked, the body parsed as JSON.
fn request_of(api: &ArgoCdApi, headers: &HeaderMap, raw: &str) -> Result<Value, Refused> {
    if !api.admits(headers) {
        return Err(Refused(
            StatusCode::UNAUTHORIZED,
            "no session information".into(),
        ));
    }
    serde_json::from_str(raw).map_err(|e| Refused(StatusCode::BAD_REQUEST, e.to_string()))
}

/// `POST /api/v1/applications/{name}/rollback` (`applicationApplicationRollbackRequest`):
/// refused while automated sync is on, as Argo CD does; `dryRun` checks and changes nothing.
async fn rollback(
    State(api): State<Arc<ArgoCdApi>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: String,
) -> Response {
    let request = match request_of(&api, &headers, &raw) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let Some(id) = request.get("id").and_then(Value::as_i64) else {
        return error(StatusCode::BAD_REQUEST, "id is required");
    };
    let dry_run = request.get("dryRun") == Some(&Value::Bool(true));
    let spec = if dry_run {
        api.actions.spec()
    } else {
        api.actions.receive()
    };
    if let Some(refused) = spec.refusal(error, FORBIDDEN) {
        return refused;
    }
    let mut world = write(&api.world);
    let Some(index) = world.apps.iter().position(|a| a.name == name) else {
        return not_found(&name);
    };
    if world.apps[index].automated_sync {
        return error(
            StatusCode::BAD_REQUEST,
            "rollback cannot be initiated when auto-sync is enabled",
        );
    }
    let known = world.apps[index].history_at(Utc::now()).any(|h| h.id == id);
    if !known {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("application {name} does not have deployment with id {id}"),
        );
    }
    if !dry_run {
        if let Err(problem) = world.roll_back_app(index, id, spec.rollout()) {
            return error(StatusCode::BAD_REQUEST, &problem);
        }
        api.announce(&mut world, index);
    }
    let answer = ok(application(&world, &world.apps[index]));
    if dry_run {
        return answer;
    }
    spec.deliver(answer)
}

/// `POST /api/v1/applications/{name}/sync` (`applicationApplicationSyncRequest`): a rollout of
/// what Git holds; refused while another operation runs, as Argo CD does.
async fn sync(
    State(api): State<Arc<ArgoCdApi>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: String,
) -> Response {
    if let Err(refused) = request_of(&api, &headers, &raw) {
        return refused.into_response();
    }
    let spec = api.actions.receive();
    if let Some(refused) = spec.refusal(error, FORBIDDEN) {
        return refused;
    }
    let mut world = write(&api.world);
    let Some(index) = world.apps.iter().position(|a| a.name == name) else {
        return not_found(&name);
    };
    if world.apps[index]
        .rollout_until
        .is_some_and(|end| Utc::now() < end)
    {
        return error(
            StatusCode::BAD_REQUEST,
            "another operation is already in progress",
        );
    }
    if let Err(problem) = world.sync_app(index, spec.rollout()) {
        return error(StatusCode::BAD_REQUEST, &problem);
    }
    api.announce(&mut world, index);
    spec.deliver(ok(application(&world, &world.apps[index])))
}

/// `PATCH /api/v1/applications/{name}` (`applicationApplicationPatchRequest`): a merge patch;
/// the sandbox understands the ones that switch automated sync off and on. Switched on, an
/// application that is out of sync is synced to Git, as Argo CD's automation does.
async fn patch_application(
    State(api): State<Arc<ArgoCdApi>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: String,
) -> Response {
    let request = match request_of(&api, &headers, &raw) {
        Ok(request) => request,
        Err(refused) => return refused.into_response(),
    };
    let patch: Value = match request
        .get("patch")
        .and_then(Value::as_str)
        .map(serde_json::from_str)
    {
        Some(Ok(patch)) => patch,
        _ => return error(StatusCode::BAD_REQUEST, "patch must be a JSON document"),
    };
    if request.get("patchType").and_then(Value::as_str) != Some("merge") {
        return error(
            StatusCode::BAD_REQUEST,
            "the sandbox applies merge patches only",
        );
    }
    let spec = api.actions.receive();
    if let Some(refused) = spec.refusal(error, FORBIDDEN) {
        return refused;
    }
    let mut world = write(&api.world);
    let Some(index) = world.apps.iter().position(|a| a.name == name) else {
        return not_found(&name);
    };
    let policy = patch.pointer("/spec/syncPolicy");
    if policy.is_some_and(|p| p.is_null() || p.get("automated").is_some_and(Value::is_null)) {
        world.apps[index].automated_sync = false;
    } else if policy.is_some_and(|p| p.get("automated").is_some_and(Value::is_object)) {
        world.apps[index].automated_sync = true;
        let app = &world.apps[index];
        let behind = app.history_at(Utc::now()).last().map(|h| h.version) != app.git_version();
        if behind {
            if let Err(problem) = world.sync_app(index, spec.rollout()) {
                return error(StatusCode::BAD_REQUEST, &problem);
            }
        }
    }
    api.announce(&mut world, index);
    spec.deliver(ok(application(&world, &world.apps[index])))
}
