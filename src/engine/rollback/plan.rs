//! A rollback's plan: the cache plus one fresh read of the platform, no side effects.

use super::*;

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
        let plan_key = crate::engine::actions::new_key("rb");
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
        let platform_target = executor
            .as_ref()
            .and_then(|e| platform_target(e, &targets, fresh.argo.as_ref()));
        let unfinished_since =
            crate::engine::actions::window_before(now, self.config().rollback.timeout);
        let held_by = match &platform_target {
            Some(target) => {
                self.store()
                    .unfinished_action(
                        (
                            ActionKind::Rollback,
                            &ActionTarget::Deployment {
                                target: target.clone(),
                                environment: environment.to_string(),
                            },
                        ),
                        unfinished_since,
                    )
                    .await?
            }
            None => None,
        };
        if let Some(busy) = held_by {
            let of = if busy.service == key {
                "here".to_string()
            } else {
                format!(
                    "of {}, which deploys the same way,",
                    key_name(&busy.service)
                )
            };
            blockers.push(Blocker::new(
                BlockerKind::InFlight,
                format!(
                    "{} started a rollback {of} at {} that has no outcome yet: wait for it, or check the platform",
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
            if let (How::Argocd(argocd), true) = (how, automated_sync) {
                calls.push(argocd.sync_off_call(endpoint));
            }
            calls.push(main_call(how, endpoint, target.as_ref()));
            if let (How::Argocd(argocd), false) = (how, automated_sync) {
                if let Err(e) = argocd.dry_run(endpoint).await {
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
        let my_teams: Vec<String> = self
            .teams()
            .await?
            .into_iter()
            .filter(|t| t.is_mine)
            .map(|t| t.key)
            .collect();
        let owner = stored.entity.owner_ref().map(|r| r.key());
        let owned_by_me = owner.as_ref().is_some_and(|o| my_teams.contains(o));
        // Anyone who can edit the catalog can wire a component of their own to another
        // team's application or repository: a rollback from it acts for every component
        // wired there, so each of them must be mine (or mine to answer for) as well.
        let mut shared: Vec<String> = targets
            .iter()
            .filter(|t| executor.as_ref().is_some_and(|e| same_platform(e, t)))
            .cloned()
            .collect();
        shared.extend(platform_target.clone());
        let mut also_claimed_by = Vec::new();
        let mut claims = Vec::new();
        for (claimant, claimant_owner) in self.store().components_wired_to(&shared).await? {
            if claimant == key {
                continue;
            }
            claims.push(Answerable {
                owned_by_my_team: claimant_owner
                    .as_ref()
                    .is_some_and(|o| my_teams.contains(o)),
                me_on_call: self.on_call_for(&claimant).await.1,
            });
            also_claimed_by.push(match &claimant_owner {
                Some(owner) => format!("{} ({})", key_name(&claimant), key_name(owner)),
                None => format!("{} (no owner)", key_name(&claimant)),
            });
        }
        if !also_claimed_by.is_empty() {
            warnings.push(format!(
                "It is also claimed by {}: they deploy through the same {}, and the rollback acts for them too.",
                also_claimed_by.join(", "),
                platform_target.as_deref().unwrap_or("target")
            ));
        }
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
            needs_override: needs_ownership_override(
                Answerable {
                    owned_by_my_team: owned_by_me,
                    me_on_call,
                },
                &claims,
            ),
            platform_target,
            also_claimed_by,
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
    pub(super) fn rollback_plans(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, PendingRollback>> {
        self.pending_rollbacks()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The source's endpoint, when it has a token and may carry an action; else a blocker that
    /// says what to do.
    fn endpoint_with_token(
        &self,
        source: &SourceConfig,
        blockers: &mut Vec<Blocker>,
    ) -> Option<Endpoint> {
        if let Some(problem) = source.refuses_actions() {
            blockers.push(Blocker::new(BlockerKind::Insecure, problem));
            return None;
        }
        match self.endpoint(source) {
            Ok(endpoint) => match no_token(source, &endpoint) {
                None => Some(endpoint),
                Some(problem) => {
                    blockers.push(Blocker::new(BlockerKind::NoToken, problem));
                    None
                }
            },
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
                Some(How::Argocd(ArgoCdRollback {
                    app: argo.state.app.clone(),
                    target: argo.state.target.clone(),
                    history_id,
                    target_revision: target.commit.clone()?,
                }))
            }
            Executor::GithubDeployment => Some(How::GithubDeployment(GithubDeploymentRollback {
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
            })),
            Executor::GithubWorkflow { workflow, git_ref } => {
                Some(How::GithubWorkflow(GithubWorkflowRollback {
                    slug: github_slug(targets)?,
                    workflow: workflow.clone(),
                    body: json!({
                        "ref": git_ref,
                        "inputs": {"environment": environment, "version": target.version},
                        "return_run_details": true,
                    }),
                }))
            }
        }
    }
}

fn main_call(how: &How, endpoint: &Endpoint, target: Option<&RollbackCandidate>) -> PlannedCall {
    let version = target.map_or("", |t| t.version.as_str());
    match how {
        How::Argocd(argocd) => argocd.planned_call(endpoint, version),
        How::GithubDeployment(deployment) => deployment.planned_call(endpoint, version),
        How::GithubWorkflow(workflow) => workflow.planned_call(endpoint, version),
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

/// What a rollback through `executor` acts on, as the delivery wiring keys it: the Argo CD
/// application found (else the one the component names), or the GitHub repository.
fn platform_target(
    executor: &Executor,
    targets: &[String],
    argo: Option<&crate::connectors::argocd::LiveApplication>,
) -> Option<String> {
    match executor {
        Executor::Argocd => argo
            .map(|a| DeliveryTarget::ArgoApp(a.state.app.clone()).key())
            .or_else(|| targets.iter().find(|t| same_platform(executor, t)).cloned()),
        _ => github_slug(targets).map(|slug| DeliveryTarget::GithubRepo(slug).key()),
    }
}

/// Whether the wiring `target` is on `executor`'s platform.
fn same_platform(executor: &Executor, target: &str) -> bool {
    matches!(
        (executor, DeliveryTarget::from_key(target)),
        (
            Executor::Argocd,
            Some(DeliveryTarget::ArgoApp(_) | DeliveryTarget::ArgoSelector(_))
        ) | (
            Executor::GithubDeployment | Executor::GithubWorkflow { .. },
            Some(DeliveryTarget::GithubRepo(_))
        )
    )
}

/// The component's repository (its slug was checked where the wiring was read).
fn github_slug(targets: &[String]) -> Option<String> {
    targets
        .iter()
        .find_map(|t| match DeliveryTarget::from_key(t) {
            Some(DeliveryTarget::GithubRepo(slug)) => Some(slug),
            _ => None,
        })
}
