//! Argo CD API, as `argocd/swagger.json` describes it: `GET /api/v1/applications` by `name`
//! or label `selector`, and the watch stream `GET /api/v1/stream/applications`, with a bearer
//! token. Each application is one environment of a service: its sync and health status,
//! whether automated sync is on, and its `status.history` as deploy history.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;

use super::http::RequestMeter;
use super::{
    transport_error, ConnectorError, Endpoint, FailureKind, FetchProgress, Platform, Reached,
};
use crate::api::SignedInAs;
use crate::domain::delivery::{
    is_kubernetes_name, version_of_ref, DeliveryTarget, DeployStatus, Deployment, EnvironmentState,
};
use crate::text::{one_line, percent_encoded, replace_json_nul_escapes};

/// Lookups sent side by side.
const LOOKUPS_AT_ONCE: usize = 4;
/// The largest line of the watch stream read: one application with its history is tens of
/// KB; a line larger than this is a misbehaving server.
const MAX_WATCH_LINE_BYTES: usize = 8 * 1024 * 1024;

/// How a watch stream ended.
#[derive(Debug)]
pub enum WatchEnd {
    /// It was held for its whole span, or Argo CD closed it cleanly: open it again at once.
    Ended,
    /// It failed, or was never opened: changes since it last was open may have been missed.
    Broken(ConnectorError),
}

/// A change the watch stream reported.
#[derive(Debug, Clone)]
pub struct AppChange {
    /// The application's name (a Kubernetes name, checked).
    pub name: String,
    /// Its labels, which place it in `argocd/app-selector` wirings.
    pub labels: BTreeMap<String, String>,
    /// Whether it was deleted.
    pub deleted: bool,
    app: AppPayload,
}

/// What one sync read for one wiring (an app name or a selector).
#[derive(Debug, Clone, PartialEq)]
pub struct WiringRead {
    /// The wiring's target key.
    pub target: String,
    /// Each application's live state.
    pub environments: Vec<EnvironmentState>,
    /// Their history, as deployments.
    pub deployments: Vec<Deployment>,
}

/// One application as read for a rollback.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveApplication {
    /// Its live state.
    pub state: EnvironmentState,
    /// Its history as deployments, oldest first (ids `app#N`).
    pub deployments: Vec<Deployment>,
    /// `status.operationState.phase`: Running, Succeeded, Failed, Error, Terminating.
    pub operation_phase: Option<String>,
    /// The ids Argo CD keeps in `status.history`.
    pub history_ids: Vec<i64>,
}

/// The body of `POST /api/v1/applications/{name}/rollback` (`applicationApplicationRollbackRequest`).
pub fn rollback_body(name: &str, id: i64, dry_run: bool) -> serde_json::Value {
    serde_json::json!({"name": name, "id": id, "dryRun": dry_run, "prune": false})
}

/// The body of `POST /api/v1/applications/{name}/sync` (`applicationApplicationSyncRequest`):
/// sync to what Git says, pruning nothing.
pub fn sync_body(name: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "prune": false})
}

/// The body of `PATCH /api/v1/applications/{name}` (`applicationApplicationPatchRequest`) that
/// switches automated sync off (removing `spec.syncPolicy.automated`, as Argo CD's UI does
/// before a rollback) or back on with Argo CD's defaults (no pruning, no self-heal).
pub fn automated_sync_body(name: &str, on: bool) -> serde_json::Value {
    let patch = if on {
        r#"{"spec":{"syncPolicy":{"automated":{"prune":false,"selfHeal":false}}}}"#
    } else {
        r#"{"spec":{"syncPolicy":{"automated":null}}}"#
    };
    serde_json::json!({"name": name, "patchType": "merge", "patch": patch})
}

/// An Argo CD API server.
#[derive(Debug, Clone)]
pub struct ArgoCdConnector {
    endpoint: Endpoint,
}

#[derive(Deserialize)]
struct ListPayload {
    #[serde(default)]
    items: Option<Vec<AppPayload>>,
}

#[derive(Debug, Clone, Deserialize)]
struct AppPayload {
    metadata: MetaPayload,
    #[serde(default)]
    spec: SpecPayload,
    #[serde(default)]
    status: StatusPayload,
}

#[derive(Debug, Clone, Deserialize)]
struct MetaPayload {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SpecPayload {
    #[serde(default)]
    destination: DestinationPayload,
    #[serde(default)]
    sync_policy: Option<SyncPolicyPayload>,
}

#[derive(Debug, Clone, Deserialize, Default)]
struct DestinationPayload {
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct SyncPolicyPayload {
    #[serde(default)]
    automated: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct StatusPayload {
    #[serde(default)]
    health: Option<HealthPayload>,
    #[serde(default)]
    sync: Option<SyncPayload>,
    #[serde(default)]
    history: Vec<HistoryPayload>,
    #[serde(default)]
    operation_state: Option<OperationPayload>,
}

#[derive(Debug, Clone, Deserialize)]
struct HealthPayload {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct SyncPayload {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    revision: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryPayload {
    id: i64,
    #[serde(default)]
    revision: Option<String>,
    #[serde(default)]
    deploy_started_at: Option<DateTime<Utc>>,
    deployed_at: DateTime<Utc>,
    #[serde(default)]
    source: Option<SourcePayload>,
    #[serde(default)]
    initiated_by: Option<InitiatorPayload>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourcePayload {
    #[serde(default)]
    target_revision: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct InitiatorPayload {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    automated: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OperationPayload {
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// One line of the watch stream: grpc-gateway's `{"result": …}` or `{"error": …}`.
#[derive(Deserialize)]
struct WatchLine {
    #[serde(default)]
    result: Option<WatchEventPayload>,
    #[serde(default)]
    error: Option<StreamErrorPayload>,
}

/// `v1alpha1ApplicationWatchEvent`.
#[derive(Deserialize)]
struct WatchEventPayload {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    application: Option<AppPayload>,
}

/// `runtimeStreamError`.
#[derive(Deserialize)]
struct StreamErrorPayload {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    http_code: Option<i32>,
}

#[derive(Deserialize)]
struct ErrorPayload {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `sessionGetUserInfoResponse`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserInfo {
    #[serde(default)]
    logged_in: bool,
    #[serde(default)]
    username: Option<String>,
}

fn error_detail(body: &[u8]) -> Option<String> {
    let error: ErrorPayload = serde_json::from_slice(body).ok()?;
    Some(one_line(&error.message.or(error.error)?, 160))
}

impl ArgoCdConnector {
    /// The API server at the endpoint's URL (its root, e.g. `https://argocd.example.com`).
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    fn platform(&self) -> Platform<'_> {
        Platform {
            endpoint: &self.endpoint,
            called: "Argo CD",
            not_found: "no Argo CD API here: check the source's 'url' (the API server's root)",
            error_detail,
        }
    }

    /// *Test connection*: who the token signs in as (`GET /api/v1/session/userinfo`).
    pub async fn check(&self, meter: &RequestMeter) -> Result<Reached, ConnectorError> {
        let url = self.endpoint.url("/api/v1/session/userinfo");
        let info: UserInfo = self
            .platform()
            .get_json(self.endpoint.reader(meter), &url, || {
                self.endpoint.get_with_bearer(&url)
            })
            .await?;
        match info.username.filter(|_| info.logged_in) {
            Some(name) => {
                let name = one_line(&name, 100);
                Ok(Reached {
                    found: format!("signed in as {name}"),
                    signed_in_as: Some(SignedInAs { name, email: None }),
                })
            }
            None => Err(self.platform().error(
                FailureKind::Unauthorized,
                "Argo CD does not take the token as a login: give the source an account's token (argocd account generate-token)",
            )),
        }
    }

    /// Reads the applications of each wiring (`argocd/app-name` or `argocd/app-selector`).
    pub async fn fetch(
        &self,
        wirings: &[DeliveryTarget],
        meter: &RequestMeter,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
    ) -> Result<Vec<WiringRead>, ConnectorError> {
        let total = wirings.len();
        // Made before streamed, as the GitHub connector's, so a spawned sync stays `Send`.
        let pending: Vec<_> = wirings
            .iter()
            .map(|wiring| self.read_wiring(wiring, meter))
            .collect();
        let mut reads = futures_util::stream::iter(pending).buffer_unordered(LOOKUPS_AT_ONCE);
        let mut out = Vec::with_capacity(total);
        let mut items = 0;
        while let Some(read) = reads.try_next().await? {
            items += read.environments.len();
            out.push(read);
            progress(FetchProgress {
                pages: out.len(),
                items,
                total: Some(total),
            });
        }
        drop(reads);
        out.sort_by(|a, b| a.target.cmp(&b.target));
        Ok(out)
    }

    async fn read_wiring(
        &self,
        wiring: &DeliveryTarget,
        meter: &RequestMeter,
    ) -> Result<WiringRead, ConnectorError> {
        let (param, value) = match wiring {
            DeliveryTarget::ArgoApp(name) => ("name", name),
            DeliveryTarget::ArgoSelector(selector) => ("selector", selector),
            DeliveryTarget::GithubRepo(_) => unreachable!("only Argo CD wirings reach Argo CD"),
        };
        let url = self.endpoint.url("/api/v1/applications");
        let list: ListPayload = self
            .platform()
            .get_json(self.endpoint.reader(meter), &url, || {
                self.endpoint.get_with_bearer(&url).query(&[(param, value)])
            })
            .await?;
        let target = wiring.key();
        let mut read = WiringRead {
            target: target.clone(),
            environments: Vec::new(),
            deployments: Vec::new(),
        };
        for app in list.items.unwrap_or_default() {
            self.check_name(&app)?;
            let (state, history) = self.app_of(app, &target);
            read.environments.push(state);
            read.deployments.extend(history);
        }
        Ok(read)
    }

    /// Its name goes into the path of rollback calls: a dot segment must not.
    fn check_name(&self, app: &AppPayload) -> Result<(), ConnectorError> {
        if is_kubernetes_name(&app.metadata.name) {
            return Ok(());
        }
        Err(self.platform().error(
            FailureKind::Malformed,
            format!(
                "Argo CD sent an application named '{}', which is not a Kubernetes name; nothing was replaced",
                one_line(&app.metadata.name, 80)
            ),
        ))
    }

    /// Holds the watch stream (`GET /api/v1/stream/applications`) open for up to `span`,
    /// handing each change over as it comes. It asks with `resourceVersion=0`: any version
    /// makes Argo CD send changes only, not every application first, and this one filters
    /// none out by age.
    pub async fn watch(
        &self,
        meter: &RequestMeter,
        span: Duration,
        on_change: &mut (dyn FnMut(AppChange) + Send),
    ) -> WatchEnd {
        let url = self.endpoint.url("/api/v1/stream/applications");
        let opened = self
            .platform()
            .open_stream(
                self.endpoint.reader(meter),
                &url,
                || {
                    self.endpoint
                        .get_with_bearer(&url)
                        .query(&[("resourceVersion", "0")])
                },
                span,
            )
            .await;
        let mut response = match opened {
            Ok(response) => response,
            // Argo CD sends its headers with the first change: a quiet span ends here.
            Err(e) if e.kind == FailureKind::Timeout => return WatchEnd::Ended,
            Err(e) => return WatchEnd::Broken(e),
        };
        let mut line = Vec::new();
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) if line.iter().all(u8::is_ascii_whitespace) => return WatchEnd::Ended,
                Ok(None) => {
                    return WatchEnd::Broken(self.platform().error(
                        FailureKind::Truncated,
                        "the watch stream ended mid-change; the applications are listed again",
                    ))
                }
                Err(e) => {
                    let error = transport_error(self.endpoint.source_name(), &url, &e);
                    return match error.kind {
                        FailureKind::Timeout => WatchEnd::Ended,
                        _ => WatchEnd::Broken(error),
                    };
                }
            };
            for piece in chunk.split_inclusive(|b| *b == b'\n') {
                line.extend_from_slice(piece);
                if line.len() > MAX_WATCH_LINE_BYTES {
                    return WatchEnd::Broken(self.platform().error(
                        FailureKind::Malformed,
                        format!(
                            "a change on the watch stream is larger than {} MB; the applications are listed instead",
                            MAX_WATCH_LINE_BYTES / (1024 * 1024)
                        ),
                    ));
                }
                if line.ends_with(b"\n") {
                    replace_json_nul_escapes(&mut line);
                    match self.change_of(&line) {
                        Ok(Some(change)) => on_change(change),
                        Ok(None) => {}
                        Err(error) => return WatchEnd::Broken(error),
                    }
                    line.clear();
                }
            }
        }
    }

    /// One line of the watch stream: a change, nothing (a blank line, a bookmark), or why
    /// the stream cannot be trusted.
    fn change_of(&self, line: &[u8]) -> Result<Option<AppChange>, ConnectorError> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let line: WatchLine = serde_json::from_slice(line).map_err(|e| {
            self.platform().error(
                FailureKind::Malformed,
                format!(
                    "the watch stream sent a line that is not the documented JSON ({e}); the applications are listed instead"
                ),
            )
        })?;
        if let Some(error) = line.error {
            let kind = match error.http_code {
                Some(401) => FailureKind::Unauthorized,
                Some(403) => FailureKind::Forbidden,
                _ => FailureKind::ServerError,
            };
            let message = one_line(error.message.as_deref().unwrap_or("no reason given"), 160);
            return Err(self
                .platform()
                .error(kind, format!("Argo CD ended the watch stream: {message}")));
        }
        let Some(event) = line.result else {
            return Ok(None);
        };
        let deleted = match event.kind.as_deref() {
            Some("ADDED" | "MODIFIED") => false,
            Some("DELETED") => true,
            Some("BOOKMARK") => return Ok(None),
            other => {
                return Err(self.platform().error(
                    FailureKind::Malformed,
                    format!(
                        "the watch stream sent a change of type '{}'; the applications are listed instead",
                        one_line(other.unwrap_or(""), 40)
                    ),
                ))
            }
        };
        let app = event.application.ok_or_else(|| {
            self.platform().error(
                FailureKind::Malformed,
                "the watch stream sent a change without its application; the applications are listed instead",
            )
        })?;
        self.check_name(&app)?;
        Ok(Some(AppChange {
            name: app.metadata.name.clone(),
            labels: app.metadata.labels.clone(),
            deleted,
            app,
        }))
    }

    /// What a watched change says about the application, read as in wiring `target`.
    pub fn read_change(
        &self,
        change: &AppChange,
        target: &str,
    ) -> (EnvironmentState, Vec<Deployment>) {
        self.app_of(change.app.clone(), target)
    }

    /// One application as it is now, for a rollback's plan and its tracking.
    pub async fn application(
        &self,
        name: &str,
        target: &str,
        meter: &RequestMeter,
    ) -> Result<LiveApplication, ConnectorError> {
        let url = self.application_url(name);
        let app: AppPayload = self
            .platform()
            .get_json(self.endpoint.reader(meter), &url, || {
                self.endpoint.get_with_bearer(&url)
            })
            .await?;
        Ok(self.live(app, target))
    }

    /// Rolls `name` back to its history entry `id` (`prune: false`); with `dry_run`, Argo CD
    /// only checks that it could. Sent once: a failure is never retried.
    pub async fn rollback(
        &self,
        name: &str,
        id: i64,
        dry_run: bool,
        target: &str,
        meter: &RequestMeter,
    ) -> Result<LiveApplication, ConnectorError> {
        let url = self.rollback_url(name);
        let body = rollback_body(name, id, dry_run);
        let doing = format!("the rollback of {name} to history entry {id}");
        self.act_on(reqwest::Method::POST, &url, &body, &doing, target, meter)
            .await
    }

    /// Switches automated sync off or on: a merge patch ([`automated_sync_body`]); sent once.
    pub async fn set_automated_sync(
        &self,
        name: &str,
        on: bool,
        target: &str,
        meter: &RequestMeter,
    ) -> Result<LiveApplication, ConnectorError> {
        let url = self.application_url(name);
        let body = automated_sync_body(name, on);
        let doing = format!(
            "switching automated sync of {name} {}",
            if on { "back on" } else { "off" }
        );
        self.act_on(reqwest::Method::PATCH, &url, &body, &doing, target, meter)
            .await
    }

    /// Sends an action on an application once; Argo CD answers with the application.
    async fn act_on(
        &self,
        method: reqwest::Method,
        url: &str,
        body: &serde_json::Value,
        doing: &str,
        target: &str,
        meter: &RequestMeter,
    ) -> Result<LiveApplication, ConnectorError> {
        let app: Option<AppPayload> = self
            .platform()
            .act(self.endpoint.reader(meter), url, doing, || {
                self.endpoint.with_bearer(method.clone(), url).json(body)
            })
            .await?;
        let app = app.ok_or_else(|| {
            self.platform().error(
                FailureKind::Malformed,
                format!("{doing}: Argo CD answered without the application"),
            )
        })?;
        Ok(self.live(app, target))
    }

    /// Syncs `name` to its target revision in Git; sent once.
    pub async fn sync(
        &self,
        name: &str,
        target: &str,
        meter: &RequestMeter,
    ) -> Result<LiveApplication, ConnectorError> {
        let url = self.sync_url(name);
        let doing = format!("the sync of {name}");
        self.act_on(
            reqwest::Method::POST,
            &url,
            &sync_body(name),
            &doing,
            target,
            meter,
        )
        .await
    }

    /// The address of the sync call, as a plan shows it.
    pub fn sync_url(&self, name: &str) -> String {
        self.endpoint.url(&format!(
            "/api/v1/applications/{}/sync",
            percent_encoded(name)
        ))
    }

    /// The address of the rollback call, as a plan shows it.
    pub fn rollback_url(&self, name: &str) -> String {
        self.endpoint.url(&format!(
            "/api/v1/applications/{}/rollback",
            percent_encoded(name)
        ))
    }

    /// The address of the call that switches automated sync off.
    pub fn application_url(&self, name: &str) -> String {
        self.endpoint
            .url(&format!("/api/v1/applications/{}", percent_encoded(name)))
    }

    fn live(&self, app: AppPayload, target: &str) -> LiveApplication {
        let operation_phase = app
            .status
            .operation_state
            .as_ref()
            .and_then(|o| o.phase.clone());
        let history_ids = app.status.history.iter().map(|h| h.id).collect();
        let (state, deployments) = self.app_of(app, target);
        LiveApplication {
            state,
            deployments,
            operation_phase,
            history_ids,
        }
    }

    fn app_of(&self, app: AppPayload, target: &str) -> (EnvironmentState, Vec<Deployment>) {
        let labels = &app.metadata.labels;
        let environment = labels
            .get("environment")
            .or_else(|| labels.get("env"))
            .cloned()
            .or_else(|| app.spec.destination.namespace.clone())
            .unwrap_or_else(|| "default".to_string());
        let name = app.metadata.name;
        let link = Some(match &app.metadata.namespace {
            Some(ns) => self.endpoint.url(&format!("/applications/{ns}/{name}")),
            None => self.endpoint.url(&format!("/applications/{name}")),
        });
        let health = app.status.health.and_then(|h| h.status);
        let sync = app.status.sync;
        let state = EnvironmentState {
            app: name.clone(),
            target: target.to_string(),
            environment: environment.clone(),
            health: health.clone(),
            sync: sync.as_ref().and_then(|s| s.status.clone()),
            automated_sync: app
                .spec
                .sync_policy
                .is_some_and(|p| p.automated.is_some_and(|a| automated_is_on(&a))),
            revision: sync.and_then(|s| s.revision),
            link: link.clone(),
        };
        let mut history = app.status.history;
        history.sort_by_key(|h| h.id);
        let newest = history.last().map(|h| h.id);
        let operation = app.status.operation_state;
        // Argo CD's history does not say "rollback"; going back to a version synced before
        // (other than the one just replaced) is one.
        let mut synced_before: Vec<String> = Vec::new();
        let deployments = history
            .into_iter()
            .map(|entry| {
                let revision = entry.revision.unwrap_or_default();
                let version = version_of_ref(
                    entry
                        .source
                        .as_ref()
                        .and_then(|s| s.target_revision.as_deref())
                        .unwrap_or(""),
                    &revision,
                );
                // History holds what was synced; the newest entry's outcome is the
                // application's health now.
                let status = if Some(entry.id) == newest {
                    status_of_live(health.as_deref(), operation.as_ref())
                } else {
                    DeployStatus::Success
                };
                let actor = entry.initiated_by.and_then(|i| {
                    if i.automated == Some(true) {
                        Some("automated".to_string())
                    } else {
                        i.username
                    }
                });
                let description = (Some(entry.id) == newest)
                    .then(|| operation.as_ref().and_then(|o| o.message.clone()))
                    .flatten();
                let replaced = synced_before.last().cloned();
                let rolled_back_from =
                    replaced.filter(|r| *r != version && synced_before.contains(&version));
                synced_before.push(version.clone());
                Deployment {
                    id: format!("{name}#{}", entry.id),
                    target: target.to_string(),
                    environment: environment.clone(),
                    version,
                    commit: (!revision.is_empty()).then_some(revision),
                    actor,
                    started_at: entry.deploy_started_at.unwrap_or(entry.deployed_at),
                    finished_at: (!status.is_open()).then_some(entry.deployed_at),
                    status,
                    link: link.clone(),
                    rolled_back_from,
                    description,
                }
            })
            .collect();
        (state, deployments)
    }
}

/// Whether a `syncPolicy.automated` block is on: present, and not `enabled: false` (Argo CD
/// 2.14 lets an application keep the block with automation switched off).
fn automated_is_on(automated: &serde_json::Value) -> bool {
    !automated.is_null() && automated.get("enabled") != Some(&serde_json::Value::Bool(false))
}

fn status_of_live(health: Option<&str>, operation: Option<&OperationPayload>) -> DeployStatus {
    match operation.and_then(|o| o.phase.as_deref()) {
        Some("Running" | "Terminating") => return DeployStatus::InProgress,
        Some("Failed" | "Error") => return DeployStatus::Failure,
        _ => {}
    }
    match health {
        Some("Healthy") => DeployStatus::Success,
        Some("Progressing") => DeployStatus::InProgress,
        Some("Degraded" | "Missing") => DeployStatus::Failure,
        Some("Suspended") => DeployStatus::Waiting,
        _ => DeployStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn connector() -> ArgoCdConnector {
        connector_at("https://argocd.example.com")
    }

    fn connector_at(url: &str) -> ArgoCdConnector {
        ArgoCdConnector::new(Endpoint::new(
            crate::connectors::SourceClients::new(None).unwrap(),
            "argocd",
            url,
            None,
            None,
            std::time::Duration::from_secs(5),
        ))
    }

    /// An application as the swagger's `v1alpha1Application` describes it (the spec has no
    /// examples; this one is ours).
    fn application() -> serde_json::Value {
        serde_json::json!({
            "metadata": {"name": "checkout-api-prod", "namespace": "argocd",
                         "labels": {"app.kubernetes.io/name": "checkout-api", "environment": "prod"}},
            "spec": {"destination": {"namespace": "checkout", "server": "https://kubernetes.default.svc"},
                     "project": "default",
                     "source": {"repoURL": "https://github.com/demo-org/checkout-api", "targetRevision": "v2.14.0"}},
            "status": {
                "health": {"status": "Degraded"},
                "sync": {"status": "Synced", "revision": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
                "operationState": {"phase": "Succeeded", "message": "successfully synced"},
                "history": [
                    {"id": 7, "revision": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                     "deployStartedAt": "2026-11-26T01:58:00Z", "deployedAt": "2026-11-26T02:00:00Z",
                     "source": {"targetRevision": "v2.14.0"}, "initiatedBy": {"username": "dana"}},
                    {"id": 6, "revision": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                     "deployedAt": "2026-11-20T10:00:00Z",
                     "source": {"targetRevision": "v2.13.2"}, "initiatedBy": {"automated": true}}
                ]
            }
        })
    }

    #[test]
    fn maps_an_application_to_an_environment_and_its_history() {
        let app: AppPayload = serde_json::from_value(application()).unwrap();
        let (state, history) = connector().app_of(app, "argocd-selector:app=checkout-api");
        assert_eq!(state.environment, "prod");
        assert_eq!(state.health.as_deref(), Some("Degraded"));
        assert!(!state.automated_sync);
        assert_eq!(
            state.link.as_deref(),
            Some("https://argocd.example.com/applications/argocd/checkout-api-prod")
        );
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].version, "v2.13.2");
        assert_eq!(history[0].actor.as_deref(), Some("automated"));
        assert_eq!(history[0].status, DeployStatus::Success);
        let newest = &history[1];
        assert_eq!(
            (newest.id.as_str(), newest.version.as_str()),
            ("checkout-api-prod#7", "v2.14.0")
        );
        assert_eq!(
            newest.status,
            DeployStatus::Failure,
            "the live app is degraded"
        );
        assert_eq!(newest.actor.as_deref(), Some("dana"));
        assert_eq!(newest.rolled_back_from, None);
    }

    #[test]
    fn the_environment_falls_back_to_the_namespace_and_a_return_is_a_rollback() {
        let mut value = application();
        value["metadata"]["labels"] = serde_json::json!({});
        value["spec"]["syncPolicy"] = serde_json::json!({"automated": {"prune": true}});
        value["status"]["history"].as_array_mut().unwrap().push(serde_json::json!(
            {"id": 8, "revision": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "deployedAt": "2026-11-26T02:30:00Z",
             "source": {"targetRevision": "v2.13.2"}}));
        let app: AppPayload = serde_json::from_value(value).unwrap();
        let (state, history) = connector().app_of(app, "t");
        assert_eq!(state.environment, "checkout");
        assert!(state.automated_sync);
        assert_eq!(history[2].rolled_back_from.as_deref(), Some("v2.14.0"));
    }

    #[tokio::test]
    async fn fuzzed_applications_map_or_fail_never_panic() {
        let seeds = crate::connectors::fuzz::served(&["/argocd/api/v1/applications"]).await;
        let argocd = connector();
        crate::connectors::fuzz::fuzz("argo cd list", &seeds, |bytes| {
            let Ok(list) = serde_json::from_slice::<ListPayload>(bytes) else {
                return;
            };
            for app in list.items.unwrap_or_default() {
                let _ = argocd.app_of(app, "argocd-app:x");
            }
        });
    }

    /// Serves `body` as the watch stream, then ends it (or cuts the connection, when `cut`),
    /// and watches it.
    async fn watched(body: String, cut: bool) -> (Vec<AppChange>, WatchEnd) {
        let app = axum::Router::new().route(
            "/api/v1/stream/applications",
            axum::routing::get(move || async move {
                let sent = futures_util::stream::once(async move {
                    Ok::<_, std::io::Error>(bytes::Bytes::from(body))
                });
                let end = futures_util::stream::once(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    match cut {
                        true => Err(std::io::Error::other("cut")),
                        false => Ok(bytes::Bytes::new()),
                    }
                });
                axum::body::Body::from_stream(sent.chain(end))
            }),
        );
        let connector = connector_at(&crate::connectors::serve_on_loopback(app).await);
        let mut changes = Vec::new();
        let end = connector
            .watch(&RequestMeter::default(), Duration::from_secs(5), &mut |c| {
                changes.push(c)
            })
            .await;
        (changes, end)
    }

    fn line(kind: &str, app: serde_json::Value) -> String {
        format!(
            "{}\n",
            serde_json::json!({"result": {"type": kind, "application": app}})
        )
    }

    #[tokio::test]
    async fn the_watch_stream_hands_over_changes_and_skips_bookmarks() {
        let mut deleted = application();
        deleted["metadata"]["name"] = "old-app".into();
        let body = [
            line("MODIFIED", application()),
            "\n".to_string(),
            line("BOOKMARK", serde_json::json!({"metadata": {"name": "x"}})),
            line("DELETED", deleted),
        ]
        .concat();
        let (changes, end) = watched(body, false).await;
        assert!(matches!(end, WatchEnd::Ended), "{end:?}");
        let seen: Vec<(&str, bool)> = changes
            .iter()
            .map(|c| (c.name.as_str(), c.deleted))
            .collect();
        assert_eq!(seen, [("checkout-api-prod", false), ("old-app", true)]);
        assert_eq!(changes[0].labels["environment"], "prod");
        let (state, history) = connector().read_change(&changes[0], "argocd-app:checkout-api-prod");
        assert_eq!(state.health.as_deref(), Some("Degraded"));
        assert_eq!(history.len(), 2);
    }

    #[tokio::test]
    async fn a_stream_that_cannot_be_trusted_is_broken_and_says_why() {
        let mut dotted = application();
        dotted["metadata"]["name"] = "..".into();
        let cases = [
            ("{\"result\": 7}\n".to_string(), false, "not the documented JSON"),
            (
                "{\"error\": {\"grpc_code\": 16, \"http_code\": 401, \"message\": \"invalid session\"}}\n".to_string(),
                false,
                "Argo CD ended the watch stream: invalid session",
            ),
            (line("ERROR", application()), false, "a change of type 'ERROR'"),
            (line("ADDED", dotted), false, "not a Kubernetes name"),
            (
                "{\"result\": {\"type\": \"ADDED\"}}\n".to_string(),
                false,
                "without its application",
            ),
            (line("ADDED", application()).trim_end().to_string(), false, "ended mid-change"),
            (line("ADDED", application()), true, "the answer was cut off"),
        ];
        for (body, cut, says) in cases {
            let (_, end) = watched(body.clone(), cut).await;
            match end {
                WatchEnd::Broken(error) => {
                    assert!(error.to_string().contains(says), "{body}: {error}")
                }
                WatchEnd::Ended => panic!("{body}: ended as if whole"),
            }
        }
    }
}
