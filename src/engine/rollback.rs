//! Rolling a service back in one environment: plan (the cache plus one fresh read of the
//! platform, no side effects), confirm (the plan's key, an override when the user neither owns
//! the service nor is on call for it), execute (exactly one call per key, written to the audit
//! log before it is made), track (the platform read until healthy, failed or timed out) and
//! tell PagerDuty. The audit log holds every step.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::delivery::deployment_row;
use crate::api::{
    AuditEntry, AuditStepRow, PlannedCall, RollbackConfirmation, RollbackPlan, RollbackProgress,
    ServiceRef,
};
use crate::config::{SourceConfig, SourceKind};
use crate::connectors::argocd::{automated_sync_off_body, rollback_body, ArgoCdConnector};
use crate::connectors::github::GithubConnector;
use crate::connectors::http::RequestMeter;
use crate::connectors::pagerduty::ChangeEvents;
use crate::connectors::{ConnectorError, Endpoint};
use crate::domain::delivery::{is_github_slug, DeliveryTarget, Deployment};
use crate::domain::rollback::{
    choose_target, needs_ownership_override, rollback_candidates, state_of_application,
    state_of_status, unresolved, ArgoHistory, Blocker, BlockerKind, Executor, RollbackCandidate,
    RollbackState, ROLLBACK_ANNOTATION,
};
use crate::store::{key_name, AuditStep, Begun, FINISHED, REQUESTED};
use crate::{Engine, Error, Result, Scope};

/// How long a plan may be confirmed after it was made.
const PLAN_LIFETIME_MINUTES: i64 = 10;

/// The annotation that routes a service's change events to PagerDuty.
const INTEGRATION_KEY_ANNOTATION: &str = "pagerduty.com/integration-key";

/// What an action is called in the audit log.
const ROLLBACK: &str = "rollback";

/// A confirmed plan's calls, as the engine keeps them (never as the web view sent them).
#[derive(Debug, Clone)]
pub(crate) struct PendingRollback {
    plan: RollbackPlan,
    how: How,
}

/// How the executor's platform is called and read.
#[derive(Debug, Clone)]
enum How {
    Argocd {
        app: String,
        /// The wiring it was read through (a delivery target key).
        target: String,
        history_id: i64,
        target_revision: String,
    },
    GithubDeployment {
        slug: String,
        body: Value,
    },
    GithubWorkflow {
        slug: String,
        workflow: String,
        body: Value,
    },
}

/// What starting a rollback gave.
#[derive(Debug)]
pub enum Started {
    /// The call was made (or its outcome is unknown); track it to the end.
    Running(Box<RollbackRun>),
    /// The key was confirmed before: nothing was called again. Where it stands.
    AlreadyConfirmed(Box<RollbackProgress>),
}

/// A rollback whose call was made, to be tracked.
#[derive(Debug)]
pub struct RollbackRun {
    pending: PendingRollback,
    actor: String,
    source: String,
    /// What the platform gave back to follow: a deployment or run id, found later when the
    /// answer was lost.
    handle: Option<i64>,
    /// Whether the call may have reached the platform: only then is PagerDuty told.
    reached_platform: bool,
    progress: RollbackProgress,
}

impl RollbackRun {
    /// Where it stands now.
    pub fn progress(&self) -> &RollbackProgress {
        &self.progress
    }
}

impl Engine {
    /// Plans a rollback of `service` in `environment`, to `to` or the last version that ran
    /// healthy there before the current one. Reads the platform once; changes nothing.
    pub async fn plan_rollback(
        &self,
        service: &str,
        environment: &str,
        to: Option<&str>,
    ) -> Result<RollbackPlan> {
        let (key, stored) = self.service_entity(service).await?;
        let service_ref = ServiceRef {
            name: key_name(&key).to_string(),
            key: key.clone(),
        };
        let now = Utc::now();
        let mut blockers = Vec::new();
        let mut warnings = Vec::new();
        let executor = match Executor::of_component(&stored.entity.metadata.annotations) {
            Ok(Some(executor)) => Some(executor),
            Ok(None) => {
                blockers.push(Blocker::new(
                    BlockerKind::NoExecutor,
                    format!("{} is wired to neither Argo CD nor GitHub: add argocd/app-name, argocd/app-selector or github.com/project-slug, or {ROLLBACK_ANNOTATION}", service_ref.name),
                ));
                None
            }
            Err(problem) => {
                blockers.push(Blocker::new(BlockerKind::NoExecutor, problem));
                None
            }
        };
        let targets = self.store().targets_of_component(&key).await?;
        let cached: Vec<Deployment> = self
            .store()
            .deployments_of(&targets, DateTime::UNIX_EPOCH)
            .await?
            .into_iter()
            .filter(|d| d.environment == environment)
            .collect();
        let source = executor.as_ref().and_then(|e| self.executor_source(e));
        let endpoint = match (&executor, source) {
            (Some(executor), None) => {
                blockers.push(Blocker::new(
                    BlockerKind::NoSource,
                    format!(
                        "no {} source in the config: add one to roll back through it",
                        source_kind_of(executor).as_str()
                    ),
                ));
                None
            }
            (_, Some(source)) => self.endpoint_with_token(source, &mut blockers),
            (None, None) => None,
        };
        let plan_key = crate::engine::new_action_key("rb");
        let mut fresh = Fresh::default();
        if let (Some(executor), Some(endpoint)) = (&executor, &endpoint) {
            match self
                .read_fresh(executor, endpoint, &targets, environment)
                .await
            {
                Ok(read) => fresh = read,
                Err(Error::Connector(e)) => blockers.push(Blocker::new(
                    BlockerKind::PlatformUnreadable,
                    format!("{e}; the plan needs one fresh read of the platform"),
                )),
                Err(other) => return Err(other),
            }
        }
        // Argo CD can only return to what it keeps in history; GitHub to any commit.
        let deployments = match &fresh.argo {
            Some(argo) => argo.deployments.clone(),
            None => merge(&cached, &fresh.github),
        };
        let current = newest_reached(&deployments);
        let candidates = current
            .map(|c| rollback_candidates(&deployments, c))
            .unwrap_or_default();
        let target = match current {
            // A service wired to nothing has said so already.
            None if executor.is_none() => None,
            None => {
                blockers.push(Blocker::new(
                    BlockerKind::NothingRunning,
                    format!(
                        "nothing is known to run in {environment}: sync, or check the environment's name"
                    ),
                ));
                None
            }
            Some(current) => {
                let known_earlier = rollback_candidates(&cached, current);
                let argo = fresh.argo.as_ref().map(|a| ArgoHistory {
                    app: &a.state.app,
                    kept: a.history_ids.len(),
                });
                choose_target(&candidates, to, &known_earlier, argo, environment)
                    .map_err(|blocker| blockers.push(blocker))
                    .ok()
            }
        };
        blockers.extend(fresh.blockers.iter().cloned());
        let unfinished_since = now - self.rollback_timeout();
        if let Some(busy) = self
            .store()
            .unfinished_action((ROLLBACK, &key, environment), unfinished_since)
            .await?
        {
            blockers.push(Blocker::new(
                BlockerKind::InFlight,
                format!(
                    "{} started a rollback here at {} that has no outcome yet: wait for it, or check the platform",
                    busy.actor,
                    busy.at.format("%H:%M:%S UTC")
                ),
            ));
        }
        let automated_sync = fresh.argo.as_ref().is_some_and(|a| a.state.automated_sync);
        if automated_sync {
            warnings.push(format!(
                "Argo CD syncs {} automatically and refuses a rollback until that is off. The plan switches it off first; switching it back on later syncs the newest commit in Git again — the version being rolled back — unless Git is reverted first.",
                fresh.argo.as_ref().map_or("", |a| a.state.app.as_str())
            ));
        }
        let actor = self.actor();
        let how = match (&executor, current, &target) {
            (Some(executor), Some(current), Some(target)) => self.how(
                executor,
                &fresh,
                &targets,
                &Move {
                    environment,
                    current,
                    target,
                    actor: &actor,
                    key: &plan_key,
                },
            ),
            _ => None,
        };
        let mut calls = Vec::new();
        if let (Some(how), Some(endpoint)) = (&how, &endpoint) {
            if automated_sync {
                if let How::Argocd { app, .. } = how {
                    calls.push(PlannedCall {
                        method: "PATCH".into(),
                        url: ArgoCdConnector::new(endpoint.clone()).application_url(app),
                        body: automated_sync_off_body(app).to_string(),
                        purpose: format!("switch automated sync of {app} off"),
                    });
                }
            }
            calls.push(main_call(how, endpoint, target.as_ref()));
            if let (
                How::Argocd {
                    app,
                    target,
                    history_id,
                    ..
                },
                false,
            ) = (how, automated_sync)
            {
                // Argo CD's own check of the rollback, without doing it.
                let connector = ArgoCdConnector::new(endpoint.clone());
                if let Err(e) = connector
                    .rollback(app, *history_id, true, target, &RequestMeter::default())
                    .await
                {
                    blockers.push(Blocker::new(
                        BlockerKind::PlatformUnreadable,
                        format!("Argo CD's dry run of the rollback failed: {}", e.message),
                    ));
                }
            }
        }
        let changes_and_problem = match (current, &target) {
            (Some(current), Some(target)) => {
                match self
                    .changes(&key, &target.version, &current.version, true)
                    .await
                {
                    Ok(changes) => (changes, None),
                    Err(e) => (None, Some(e.to_string())),
                }
            }
            _ => (None, None),
        };
        let (on_call, me_on_call) = self.on_call_for(&key).await;
        let owner = stored.entity.owner_ref().map(|r| r.key());
        let owned_by_me = match &owner {
            Some(owner) => self
                .teams()
                .await?
                .iter()
                .any(|t| t.is_mine && &t.key == owner),
            None => false,
        };
        let plan = RollbackPlan {
            key: plan_key.clone(),
            owner: owner.as_deref().map(|k| key_name(k).to_string()),
            environment: environment.to_string(),
            current: current.map(|c| deployment_row(&service_ref, c)),
            target,
            candidates,
            changes: changes_and_problem.0,
            changes_problem: changes_and_problem.1,
            executor_label: executor
                .as_ref()
                .map_or_else(|| "none".to_string(), Executor::describe),
            executor,
            source: source.map(|s| s.name.clone()),
            calls,
            automated_sync,
            warnings,
            on_call,
            me_on_call,
            owned_by_me,
            needs_override: needs_ownership_override(owned_by_me, me_on_call),
            blockers,
            planned_at: now,
            expires_at: now + Duration::minutes(PLAN_LIFETIME_MINUTES),
            service: service_ref,
        };
        if let Some(how) = how {
            let mut plans = self.rollback_plans();
            plans.retain(|_, p| p.plan.expires_at > now);
            plans.insert(
                plan_key,
                PendingRollback {
                    plan: plan.clone(),
                    how,
                },
            );
        }
        Ok(plan)
    }

    /// Carries out a confirmed plan: checks the confirmation, writes the audit entry (flushed)
    /// and makes the call, once per key. A second confirmation of the same key calls nothing.
    pub async fn start_rollback(&self, confirmation: &RollbackConfirmation) -> Result<Started> {
        let now = Utc::now();
        let pending = self.rollback_plans().get(&confirmation.key).cloned();
        let Some(pending) = pending else {
            let steps = self.store().action_steps(&confirmation.key).await?;
            return match entry_of(&steps) {
                Some(entry) => Ok(Started::AlreadyConfirmed(Box::new(progress_of_entry(
                    &entry,
                )))),
                None => Err(Error::Refused(
                    "this plan was not made here or has expired: plan the rollback again".into(),
                )),
            };
        };
        let plan = &pending.plan;
        if plan.expires_at <= now {
            return Err(Error::Refused(format!(
                "the plan expired at {}: plan the rollback again to see what runs now",
                plan.expires_at.format("%H:%M:%S UTC")
            )));
        }
        let left = unresolved(&plan.blockers, confirmation.disable_automated_sync);
        if let Some(first) = left.first() {
            return Err(Error::Refused(format!(
                "the rollback cannot run: {}",
                first.message
            )));
        }
        if plan.needs_override
            && confirmation.typed_service.as_deref().map(str::trim) != Some(&plan.service.name)
        {
            return Err(Error::Refused(format!(
                "none of your teams owns {} and you are not on call for it: type its name to confirm",
                plan.service.name
            )));
        }
        let (Some(target), Some(source)) = (&plan.target, &plan.source) else {
            return Err(Error::Refused("the plan has no target".into()));
        };
        let actor = self.actor();
        let override_reason = plan.needs_override.then(|| {
            format!(
                "{actor} typed '{}': not in the owning team, not on call{}",
                plan.service.name,
                confirmation
                    .reason
                    .as_deref()
                    .map(|r| format!("; reason: {r}"))
                    .unwrap_or_default()
            )
        });
        let requested = AuditStep {
            action_key: plan.key.clone(),
            step: REQUESTED.into(),
            at: now,
            actor: actor.clone(),
            action: ROLLBACK.into(),
            service: plan.service.key.clone(),
            environment: plan.environment.clone(),
            state: RollbackState::Requested.as_str().into(),
            body: json!({
                "from": plan.current.as_ref().map(|c| &c.version),
                "from_deployment": plan.current.as_ref().map(|c| &c.id),
                "to": target.version,
                "to_commit": target.commit,
                "executor": plan.executor_label,
                "source": source,
                "calls": plan.calls,
                "disable_automated_sync": confirmation.disable_automated_sync,
                "on_call": plan.on_call,
                "override": override_reason,
                "reason": confirmation.reason,
                "message": format!("{actor} confirmed the rollback of {} in {} to {}", plan.service.name, plan.environment, target.version),
            }),
        };
        let unfinished_since = now - self.rollback_timeout();
        match self.store().begin_action(&requested, unfinished_since).await? {
            Begun::Started => {}
            Begun::AlreadyRequested => {
                let steps = self.store().action_steps(&plan.key).await?;
                let entry = entry_of(&steps).expect("a requested key has steps");
                return Ok(Started::AlreadyConfirmed(Box::new(progress_of_entry(&entry))));
            }
            Begun::InFlight(busy) => {
                return Err(Error::Refused(format!(
                    "{} started another rollback of {} in {} at {} that has no outcome yet; nothing was called",
                    busy.actor,
                    plan.service.name,
                    plan.environment,
                    busy.at.format("%H:%M:%S UTC")
                )))
            }
        }
        self.rollback_plans().remove(&plan.key);
        let mut run = RollbackRun {
            progress: RollbackProgress {
                key: plan.key.clone(),
                service: plan.service.clone(),
                environment: plan.environment.clone(),
                from_version: plan.current.as_ref().map(|c| c.version.clone()),
                to_version: target.version.clone(),
                executor_label: plan.executor_label.clone(),
                state: RollbackState::Requested,
                message: "requested".into(),
                started_at: now,
                at: now,
                link: plan.current.as_ref().and_then(|c| c.link.clone()),
            },
            pending: pending.clone(),
            actor,
            source: source.clone(),
            handle: None,
            reached_platform: false,
        };
        self.call(&mut run, confirmation.disable_automated_sync)
            .await?;
        Ok(Started::Running(Box::new(run)))
    }

    /// Follows a started rollback until the platform reports it healthy or failed, or the
    /// configured time passes; `on_progress` hears every change. Records the outcome, tells
    /// PagerDuty and syncs the executor's source so every screen shows what runs now.
    pub async fn track_rollback(
        &self,
        mut run: Box<RollbackRun>,
        on_progress: &(dyn Fn(&RollbackProgress) + Send + Sync),
    ) -> Result<RollbackProgress> {
        let deadline = run.progress.started_at + self.rollback_timeout();
        let poll = self.config().rollback.poll_interval;
        if !run.progress.state.is_final() {
            on_progress(&run.progress);
        }
        while !run.progress.state.is_final() {
            if Utc::now() >= deadline {
                let message = format!(
                    "no end state after {}: check {} before planning again",
                    humantime::format_duration(self.config().rollback.timeout),
                    run.progress.executor_label
                );
                self.advance(&mut run, RollbackState::TimedOut, message)
                    .await?;
                break;
            }
            tokio::time::sleep(poll).await;
            let (state, message) = self.read_progress(&mut run).await;
            if state != run.progress.state || message != run.progress.message {
                self.advance(&mut run, state, message).await?;
                if !run.progress.state.is_final() {
                    on_progress(&run.progress);
                }
            }
        }
        on_progress(&run.progress);
        self.tell_pagerduty(&run).await?;
        if let Err(e) = self.sync(Some(&run.source), &|_| {}).await {
            tracing::warn!(source = %run.source, error = %e, "sync after a rollback failed");
        }
        Ok(run.progress)
    }

    /// The audit log, newest action first (of one service, when given).
    pub async fn audit(&self, service: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
        let key = match service {
            Some(name) => Some(self.service_key(name).await?),
            None => None,
        };
        let steps = self.store().audit_steps(key.as_deref(), limit).await?;
        let mut by_key: HashMap<String, Vec<AuditStep>> = HashMap::new();
        for step in steps {
            by_key
                .entry(step.action_key.clone())
                .or_default()
                .push(step);
        }
        let mut entries: Vec<AuditEntry> = by_key.values().filter_map(|s| entry_of(s)).collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.requested_at));
        Ok(entries)
    }

    /// The audit log as JSON lines, one action per line, oldest first: for export.
    pub async fn audit_json_lines(&self, service: Option<&str>) -> Result<String> {
        let mut entries = self.audit(service, i64::MAX).await?;
        entries.reverse();
        let mut out = String::new();
        for entry in entries {
            out.push_str(
                &serde_json::to_string(&entry).map_err(|e| Error::Refused(e.to_string()))?,
            );
            out.push('\n');
        }
        Ok(out)
    }
}

/// The rollback a plan describes: in which environment, from what, to what, by whom, under
/// which key.
#[derive(Clone, Copy)]
struct Move<'a> {
    environment: &'a str,
    current: &'a Deployment,
    target: &'a RollbackCandidate,
    actor: &'a str,
    key: &'a str,
}

/// What the plan's fresh read of the platform found.
#[derive(Debug, Default)]
struct Fresh {
    argo: Option<crate::connectors::argocd::LiveApplication>,
    github: Vec<Deployment>,
    blockers: Vec<Blocker>,
}

impl Engine {
    fn rollback_plans(&self) -> std::sync::MutexGuard<'_, HashMap<String, PendingRollback>> {
        self.pending_rollbacks()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The source's endpoint, when it has a token; else a blocker that says how to give one.
    fn endpoint_with_token(
        &self,
        source: &SourceConfig,
        blockers: &mut Vec<Blocker>,
    ) -> Option<Endpoint> {
        match self.endpoint(source) {
            Ok(endpoint) if endpoint.token().is_some() => Some(endpoint),
            Ok(_) => {
                let name = &source.name;
                blockers.push(Blocker::new(
                    BlockerKind::NoToken,
                    match &source.token_env {
                        Some(env) => {
                            format!("no token for {name}: set {env} or run `opsdeck login {name}`")
                        }
                        None => format!("no token for {name}: run `opsdeck login {name}`"),
                    },
                ));
                None
            }
            Err(e) => {
                blockers.push(Blocker::new(BlockerKind::NoToken, e.to_string()));
                None
            }
        }
    }

    /// Who is on call for the service now (the identity marked), and whether it is me; nobody
    /// when PagerDuty was never read.
    async fn on_call_for(&self, service_key: &str) -> (Vec<String>, bool) {
        let Ok(panel) = self.on_call_panel(Scope::Service(service_key)).await else {
            return (Vec::new(), false);
        };
        let mut names: Vec<String> = Vec::new();
        for who in panel
            .policies
            .iter()
            .flat_map(|p| &p.levels)
            .flat_map(|l| &l.now)
        {
            let name = if who.is_me {
                format!("{} (you)", who.person.name)
            } else {
                who.person.name.clone()
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
        (names, panel.me_on_call)
    }

    fn rollback_timeout(&self) -> Duration {
        Duration::from_std(self.config().rollback.timeout).unwrap_or(Duration::minutes(15))
    }

    fn executor_source(&self, executor: &Executor) -> Option<&SourceConfig> {
        let kind = source_kind_of(executor);
        self.config().sources.iter().find(|s| s.kind == kind)
    }

    /// The plan's one fresh look at the platform: the Argo CD application as it is, or the
    /// newest GitHub deployments to the environment; and what is in flight there.
    async fn read_fresh(
        &self,
        executor: &Executor,
        endpoint: &Endpoint,
        targets: &[String],
        environment: &str,
    ) -> Result<Fresh> {
        let meter = RequestMeter::default();
        let mut fresh = Fresh::default();
        match executor {
            Executor::Argocd => {
                let states = self.environment_states(targets).await?;
                let Some(state) = states.iter().find(|s| s.environment == environment) else {
                    fresh.blockers.push(Blocker::new(
                        BlockerKind::NoExecutor,
                        format!("no Argo CD application of this service is in {environment} (as last synced)"),
                    ));
                    return Ok(fresh);
                };
                let live = ArgoCdConnector::new(endpoint.clone())
                    .application(&state.app, &state.target, &meter)
                    .await?;
                if live.state.automated_sync {
                    fresh.blockers.push(Blocker {
                        kind: BlockerKind::AutomatedSync,
                        message: format!(
                            "Argo CD syncs {} automatically and refuses a rollback while it does: consent to switching automated sync off first",
                            live.state.app
                        ),
                        resolvable: true,
                    });
                }
                if matches!(
                    live.operation_phase.as_deref(),
                    Some("Running" | "Terminating")
                ) {
                    fresh.blockers.push(Blocker::new(
                        BlockerKind::InFlight,
                        format!(
                            "Argo CD is syncing {} right now: wait for it to finish",
                            live.state.app
                        ),
                    ));
                }
                fresh.argo = Some(live);
            }
            Executor::GithubDeployment | Executor::GithubWorkflow { .. } => {
                let Some(slug) = github_slug(targets) else {
                    fresh.blockers.push(Blocker::new(
                        BlockerKind::NoExecutor,
                        "no github.com/project-slug of the form owner/repo: GitHub cannot roll it back",
                    ));
                    return Ok(fresh);
                };
                let connector = GithubConnector::new(endpoint.clone());
                fresh.github = connector
                    .environment_deployments(&slug, environment, &meter)
                    .await?;
                let open = fresh.github.iter().find(|d| d.status.is_open());
                if let Some(open) = open {
                    fresh.blockers.push(Blocker::new(
                        BlockerKind::InFlight,
                        format!(
                            "deployment {} of {} to {environment} is still {}: wait for it, or resolve it on GitHub",
                            open.id,
                            open.version,
                            open.status.as_str()
                        ),
                    ));
                }
            }
        }
        Ok(fresh)
    }

    /// How the executor will be called for this target.
    fn how(
        &self,
        executor: &Executor,
        fresh: &Fresh,
        targets: &[String],
        planned: &Move<'_>,
    ) -> Option<How> {
        let Move {
            environment,
            current,
            target,
            actor,
            key: plan_key,
        } = *planned;
        let description = format!(
            "Rollback from {} to {} by {actor} (Opsdeck)",
            current.version, target.version
        );
        match executor {
            Executor::Argocd => {
                let argo = fresh.argo.as_ref()?;
                let history_id = target
                    .deployment_id
                    .rsplit_once('#')
                    .and_then(|(_, id)| id.parse().ok())?;
                Some(How::Argocd {
                    app: argo.state.app.clone(),
                    target: argo.state.target.clone(),
                    history_id,
                    target_revision: target.commit.clone()?,
                })
            }
            Executor::GithubDeployment => Some(How::GithubDeployment {
                slug: github_slug(targets)?,
                body: json!({
                    "ref": target.commit.clone()?,
                    "environment": environment,
                    "auto_merge": false,
                    "required_contexts": [],
                    "description": description,
                    "payload": {
                        "version": target.version,
                        "rolled_back_from": current.version,
                        "rolled_back_deployment": current.id,
                        "opsdeck_key": plan_key,
                    },
                    "production_environment": self.config().delivery.order().is_production(environment),
                }),
            }),
            Executor::GithubWorkflow { workflow, git_ref } => Some(How::GithubWorkflow {
                slug: github_slug(targets)?,
                workflow: workflow.clone(),
                body: json!({
                    "ref": git_ref,
                    "inputs": {"environment": environment, "version": target.version},
                    "return_run_details": true,
                }),
            }),
        }
    }

    /// Makes the rollback's call(s), once, recording each answer. A call whose answer was
    /// lost leaves the run `unknown`, to be re-read; a refusal finishes it.
    async fn call(&self, run: &mut RollbackRun, disable_automated_sync: bool) -> Result<()> {
        let source = self
            .config()
            .source(&run.source)
            .expect("a plan's source is configured");
        let endpoint = match self.endpoint(source) {
            Ok(endpoint) => endpoint,
            Err(e) => return self.answered_with(run, e).await,
        };
        let meter = RequestMeter::default();
        let how = run.pending.how.clone();
        let outcome = match &how {
            How::Argocd {
                app,
                target,
                history_id,
                ..
            } => {
                let connector = ArgoCdConnector::new(endpoint);
                if disable_automated_sync && run.pending.plan.automated_sync {
                    if let Err(e) = connector.disable_automated_sync(app, target, &meter).await {
                        return self.answered_with(run, e).await;
                    }
                    self.record(
                        run,
                        "progress",
                        RollbackState::Requested,
                        "automated sync switched off".into(),
                    )
                    .await?;
                }
                connector
                    .rollback(app, *history_id, false, target, &meter)
                    .await
                    .map(|_| format!("Argo CD started syncing {app} to history entry {history_id}"))
            }
            How::GithubDeployment { slug, body } => {
                match GithubConnector::new(endpoint)
                    .create_deployment(slug, body, &meter)
                    .await
                {
                    Ok(id) => {
                        run.handle = Some(id);
                        Ok(format!("GitHub deployment {id} created"))
                    }
                    Err(e) => Err(e),
                }
            }
            How::GithubWorkflow {
                slug,
                workflow,
                body,
            } => {
                match GithubConnector::new(endpoint)
                    .dispatch_workflow(slug, workflow, body, &meter)
                    .await
                {
                    Ok(Some(id)) => {
                        run.handle = Some(id);
                        Ok(format!("{workflow} dispatched: run {id}"))
                    }
                    Ok(None) => Ok(format!("{workflow} dispatched; finding the run it started")),
                    Err(e) => Err(e),
                }
            }
        };
        match outcome {
            Ok(message) => {
                run.reached_platform = true;
                self.record(run, "answered", RollbackState::Accepted, message)
                    .await
            }
            Err(e) => self.answered_with(run, e).await,
        }
    }

    async fn answered_with(&self, run: &mut RollbackRun, e: ConnectorError) -> Result<()> {
        if e.outcome_unknown() {
            run.reached_platform = true;
            return self
                .record(
                    run,
                    "answered",
                    RollbackState::Unknown,
                    format!(
                        "unknown — re-reading the platform ({}); nothing is retried",
                        e.message
                    ),
                )
                .await;
        }
        self.record(run, "answered", RollbackState::Failed, e.message.clone())
            .await?;
        self.advance(run, RollbackState::Failed, e.message).await
    }

    /// Reads where the rollback stands; a read that fails keeps the state and says so.
    async fn read_progress(&self, run: &mut RollbackRun) -> (RollbackState, String) {
        match self.read_platform(run).await {
            Ok(read) => read,
            Err(e) => (
                run.progress.state,
                format!("{}: {}", run.progress.state.as_str(), e.message),
            ),
        }
    }

    async fn read_platform(
        &self,
        run: &mut RollbackRun,
    ) -> std::result::Result<(RollbackState, String), ConnectorError> {
        let source = self
            .config()
            .source(&run.source)
            .expect("a run's source is configured");
        let endpoint = self.endpoint(source)?;
        let meter = RequestMeter::default();
        let plan = run.pending.plan.clone();
        let unknown = run.progress.state == RollbackState::Unknown;
        match &run.pending.how.clone() {
            How::Argocd {
                app,
                target,
                target_revision,
                ..
            } => {
                let live = ArgoCdConnector::new(endpoint)
                    .application(app, target, &meter)
                    .await?;
                let state = state_of_application(
                    live.operation_phase.as_deref(),
                    live.state.revision.as_deref(),
                    live.state.health.as_deref(),
                    target_revision,
                );
                if unknown && state == RollbackState::Accepted {
                    return Ok((RollbackState::Unknown, format!("unknown — Argo CD shows no sync of {app} to the target yet; nothing is retried")));
                }
                Ok((
                    state,
                    format!(
                        "{app}: {} / {}",
                        live.operation_phase.as_deref().unwrap_or("no operation"),
                        live.state.health.as_deref().unwrap_or("health unknown")
                    ),
                ))
            }
            How::GithubDeployment { slug, .. } => {
                let connector = GithubConnector::new(endpoint);
                if run.handle.is_none() {
                    run.handle = connector
                        .find_deployment(slug, &plan.environment, &plan.key, &meter)
                        .await?;
                }
                let Some(id) = run.handle else {
                    return Ok((RollbackState::Unknown, "unknown — no deployment of this rollback on GitHub yet; nothing is retried".into()));
                };
                let status = connector.deployment_status(slug, id, &meter).await?;
                Ok((
                    state_of_status(status),
                    format!("deployment {id}: {}", status.as_str()),
                ))
            }
            How::GithubWorkflow { slug, workflow, .. } => {
                let connector = GithubConnector::new(endpoint);
                if run.handle.is_none() {
                    let since = run.progress.started_at - Duration::seconds(5);
                    run.handle = connector
                        .find_dispatched_run(slug, workflow, since, &meter)
                        .await?;
                }
                let Some(id) = run.handle else {
                    return Ok((
                        run.progress.state,
                        format!(
                            "{}: no run of {workflow} started by the dispatch yet",
                            run.progress.state.as_str()
                        ),
                    ));
                };
                let started = connector.run(slug, id, &meter).await?;
                run.progress.link = started.link.clone();
                Ok((
                    state_of_status(started.status),
                    format!("run {id} of {workflow}: {}", started.status.as_str()),
                ))
            }
        }
    }

    async fn advance(
        &self,
        run: &mut RollbackRun,
        state: RollbackState,
        message: String,
    ) -> Result<()> {
        let step = if state.is_final() {
            FINISHED
        } else {
            "progress"
        };
        self.record(run, step, state, message).await
    }

    async fn record(
        &self,
        run: &mut RollbackRun,
        step: &str,
        state: RollbackState,
        message: String,
    ) -> Result<()> {
        let now = Utc::now();
        run.progress.state = state;
        run.progress.message = message.clone();
        run.progress.at = now;
        let plan = &run.pending.plan;
        self.store()
            .append_audit(&AuditStep {
                action_key: plan.key.clone(),
                step: step.into(),
                at: now,
                actor: run.actor.clone(),
                action: ROLLBACK.into(),
                service: plan.service.key.clone(),
                environment: plan.environment.clone(),
                state: state.as_str().into(),
                body: json!({"message": message, "response_id": run.handle.map(|h| h.to_string())}),
            })
            .await?;
        Ok(())
    }

    /// Sends the finished rollback to PagerDuty as a change event, when configured and the
    /// service has an integration key. Its failure is recorded, never the rollback's.
    async fn tell_pagerduty(&self, run: &RollbackRun) -> Result<()> {
        if !self.config().rollback.pagerduty_change_events || !run.reached_platform {
            return Ok(());
        }
        let Some(source) = self
            .config()
            .sources
            .iter()
            .find(|s| s.kind == SourceKind::Pagerduty)
        else {
            return Ok(());
        };
        let plan = &run.pending.plan;
        let Some(routing_key) = self.store().entity(&plan.service.key).await?.and_then(|e| {
            e.entity
                .metadata
                .annotations
                .get(INTEGRATION_KEY_ANNOTATION)
                .cloned()
        }) else {
            return Ok(());
        };
        let p = &run.progress;
        let summary = format!(
            "Rollback of {} in {}: {} → {} {}",
            p.service.name,
            p.environment,
            p.from_version.as_deref().unwrap_or("?"),
            p.to_version,
            p.state.as_str().replace('_', " ")
        );
        let mut event = json!({
            "routing_key": routing_key,
            "payload": {
                "summary": summary,
                "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "source": "opsdeck",
                "custom_details": {
                    "service": p.service.name, "environment": p.environment,
                    "from_version": p.from_version, "to_version": p.to_version,
                    "executor": p.executor_label, "outcome": p.state.as_str(),
                    "actor": run.actor, "opsdeck_action": p.key,
                },
            },
        });
        if let Some(link) = &p.link {
            event["links"] = json!([{"href": link, "text": "The rollback on its platform"}]);
        }
        let endpoint = Endpoint::new(
            self.http().clone(),
            &source.name,
            source
                .events_url
                .as_deref()
                .unwrap_or(crate::connectors::pagerduty::EVENTS_API),
            None,
            None,
            source.timeout,
        );
        let message = match ChangeEvents::new(endpoint)
            .send(&event, &RequestMeter::default())
            .await
        {
            Ok(()) => "change event sent to PagerDuty".to_string(),
            Err(e) => format!("the change event was not sent: {}", e.message),
        };
        self.store()
            .append_audit(&AuditStep {
                action_key: plan.key.clone(),
                step: "notified".into(),
                at: Utc::now(),
                actor: run.actor.clone(),
                action: ROLLBACK.into(),
                service: plan.service.key.clone(),
                environment: plan.environment.clone(),
                state: p.state.as_str().into(),
                body: json!({"message": message}),
            })
            .await?;
        Ok(())
    }
}

fn source_kind_of(executor: &Executor) -> SourceKind {
    match executor {
        Executor::Argocd => SourceKind::Argocd,
        _ => SourceKind::Github,
    }
}

fn main_call(how: &How, endpoint: &Endpoint, target: Option<&RollbackCandidate>) -> PlannedCall {
    let version = target.map_or("", |t| t.version.as_str());
    match how {
        How::Argocd {
            app, history_id, ..
        } => PlannedCall {
            method: "POST".into(),
            url: ArgoCdConnector::new(endpoint.clone()).rollback_url(app),
            body: rollback_body(app, *history_id, false).to_string(),
            purpose: format!("roll {app} back to history entry {history_id} ({version})"),
        },
        How::GithubDeployment { slug, body } => PlannedCall {
            method: "POST".into(),
            url: GithubConnector::new(endpoint.clone()).deployments_url(slug),
            body: body.to_string(),
            purpose: format!("create a deployment of {version} in {slug}"),
        },
        How::GithubWorkflow {
            slug,
            workflow,
            body,
        } => PlannedCall {
            method: "POST".into(),
            url: GithubConnector::new(endpoint.clone()).dispatch_url(slug, workflow),
            body: body.to_string(),
            purpose: format!("dispatch {workflow} in {slug} with version {version}"),
        },
    }
}

/// The deployment that runs in the environment: the newest that reached it.
fn newest_reached(deployments: &[Deployment]) -> Option<&Deployment> {
    deployments
        .iter()
        .filter(|d| d.status.reached())
        .max_by_key(|d| d.started_at)
}

/// The cache's deployments with the fresh read's replacing those with the same id.
fn merge(cached: &[Deployment], fresh: &[Deployment]) -> Vec<Deployment> {
    let mut out: Vec<Deployment> = cached
        .iter()
        .filter(|c| !fresh.iter().any(|f| f.id == c.id))
        .cloned()
        .collect();
    out.extend(fresh.iter().cloned());
    out
}

/// The component's repository, when its slug is one (it goes into the path of a write).
fn github_slug(targets: &[String]) -> Option<String> {
    targets
        .iter()
        .find_map(|t| match DeliveryTarget::from_key(t) {
            Some(DeliveryTarget::GithubRepo(slug)) if is_github_slug(&slug) => Some(slug),
            _ => None,
        })
}

/// One action's steps (oldest first) as an audit entry.
fn entry_of(steps: &[AuditStep]) -> Option<AuditEntry> {
    let first = steps.iter().find(|s| s.step == REQUESTED)?;
    let last = steps.last()?;
    let text = |v: &Value, field: &str| v.get(field).and_then(Value::as_str).map(str::to_string);
    let calls = first
        .body
        .get("calls")
        .and_then(|c| serde_json::from_value::<Vec<PlannedCallRecord>>(c.clone()).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|c| PlannedCall {
            method: c.method,
            url: c.url,
            body: c.body,
            purpose: c.purpose,
        })
        .collect();
    Some(AuditEntry {
        key: first.action_key.clone(),
        action: first.action.clone(),
        actor: first.actor.clone(),
        service: ServiceRef {
            name: key_name(&first.service).to_string(),
            key: first.service.clone(),
        },
        environment: first.environment.clone(),
        from_version: text(&first.body, "from"),
        to_version: text(&first.body, "to"),
        subject: text(&first.body, "subject"),
        executor: text(&first.body, "executor"),
        calls,
        response_id: steps
            .iter()
            .rev()
            .find_map(|s| text(&s.body, "response_id")),
        override_reason: text(&first.body, "override"),
        requested_at: first.at,
        state: steps
            .iter()
            .rev()
            .find(|s| s.step != "notified")
            .map_or_else(|| last.state.clone(), |s| s.state.clone()),
        finished: steps.iter().any(|s| s.step == FINISHED),
        message: steps
            .iter()
            .rev()
            .find(|s| s.step != "notified")
            .and_then(|s| text(&s.body, "message"))
            .unwrap_or_default(),
        steps: steps
            .iter()
            .map(|s| AuditStepRow {
                step: s.step.clone(),
                at: s.at,
                state: s.state.clone(),
                message: text(&s.body, "message").unwrap_or_default(),
            })
            .collect(),
    })
}

#[derive(serde::Deserialize)]
struct PlannedCallRecord {
    method: String,
    url: String,
    body: String,
    purpose: String,
}

fn progress_of_entry(entry: &AuditEntry) -> RollbackProgress {
    let state = serde_json::from_value(Value::String(entry.state.clone()))
        .unwrap_or(RollbackState::Unknown);
    RollbackProgress {
        key: entry.key.clone(),
        service: entry.service.clone(),
        environment: entry.environment.clone(),
        from_version: entry.from_version.clone(),
        to_version: entry.to_version.clone().unwrap_or_default(),
        executor_label: entry.executor.clone().unwrap_or_default(),
        state,
        message: format!("already confirmed: {}", entry.message),
        started_at: entry.requested_at,
        at: Utc::now(),
        link: None,
    }
}
