//! What shipped where, answered from the cache: deployments joined to components by
//! `github.com/project-slug`, `argocd/app-name` or `argocd/app-selector`, read as pipelines,
//! environments, a team's release matrix and a cross-team activity feed. Also what a sync of
//! GitHub or Argo CD needs to ask only for what changed, and the comparisons it caches.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use crate::api::{
    ActivityFilter, ChangesView, DeploymentRow, EnvironmentRow, MatrixCell, PendingRow,
    ReleaseMatrix, ReleaseRow, ServiceDelivery, ServiceRef,
};
use crate::config::SourceKind;
use crate::connectors::github::{GithubConnector, RepoKnown, HISTORY_DAYS};
use crate::connectors::http::RequestMeter;
use crate::domain::delivery::{
    comparisons_worth_caching, environments_now, pending_promotion, pipeline, Comparison,
    DeliveryTarget, Deployment, EnvironmentNow, EnvironmentState, PendingPromotion, PipelineRun,
    WaitReason,
};
use crate::store::{key_name, ActivityQuery, LookupBy, PlatformRecord, RecordKind};
use crate::{Engine, Error, Result};

/// Deployments a service's timeline shows.
const TIMELINE_LENGTH: usize = 100;

/// Comparisons one landing reads at most (a first sync of a large organisation would otherwise
/// add a request per deploy); the rest are read when someone asks what changed, or when the
/// service deploys again.
const COMPARISONS_PER_SYNC: usize = 200;

/// Days the deploy-frequency counts cover.
pub const FREQUENCY_DAYS: i64 = 90;

impl Engine {
    /// A service's pipeline, environments, deploy timeline, what waits for production, and the
    /// changes worth showing first: a pending promotion's, else the last production deploy's.
    pub async fn service_delivery(&self, service: &str) -> Result<ServiceDelivery> {
        let key = self.service_key(service).await?;
        let service = ServiceRef {
            name: key_name(&key).to_string(),
            key: key.clone(),
        };
        let targets = self.store().targets_of_component(&key).await?;
        let now = Utc::now();
        let deployments = self
            .store()
            .deployments_of(&targets, now - Duration::days(HISTORY_DAYS))
            .await?;
        let states = self.environment_states(&targets).await?;
        let order = self.config().delivery.order();
        let environments = environments_now(&deployments, &states, &order);
        let runs = self.runs_of(&targets).await?;
        let bake = Duration::from_std(self.config().delivery.bake_time).unwrap_or_default();
        let stages = pipeline(&runs, &environments, bake, now);
        let mut versions: Vec<String> = Vec::new();
        for d in &deployments {
            if !versions.contains(&d.version) {
                versions.push(d.version.clone());
            }
        }
        let (pending, pending_changes) = match self.pending(&targets, &environments, &order).await?
        {
            Some((row, comparison)) => {
                let from = row.production_version.clone().unwrap_or_default();
                let changes = comparison.map(|c| changes_view(&from, &row.version, c));
                (Some(row), changes)
            }
            None => (None, None),
        };
        let notable_changes = match pending_changes {
            Some(changes) => Some(changes),
            None => {
                self.last_production_changes(&targets, &deployments, &environments)
                    .await?
            }
        };
        Ok(ServiceDelivery {
            wired: !targets.is_empty(),
            stages,
            environments: environment_rows(&service, &environments, &order),
            timeline: deployments
                .iter()
                .take(TIMELINE_LENGTH)
                .map(|d| deployment_row(&service, d))
                .collect(),
            versions,
            pending,
            notable_changes,
            service,
        })
    }

    /// A team's release matrix: each service's version per environment, drift from
    /// production, pending promotions and production deploys per day.
    pub async fn release_matrix(&self, team: &str) -> Result<ReleaseMatrix> {
        let team_key = self.team_key(team).await?;
        let order = self.config().delivery.order();
        let bake = Duration::from_std(self.config().delivery.bake_time).unwrap_or_default();
        let now = Utc::now();
        let first_day = (now - Duration::days(FREQUENCY_DAYS - 1)).date_naive();
        let since = first_day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        // Reads that need nothing of each other run at once, each on a connection of its own.
        let (services, wiring, production) = tokio::try_join!(
            async { Ok::<_, Error>(self.store().services_of(&team_key).await?) },
            async { Ok(self.store().targets_of_owner(&team_key).await?) },
            // Every production environment deployed to: the targets' deploys to any other
            // are none.
            self.production_environments(),
        )?;
        let targets: Vec<String> = wiring.iter().map(|(_, t)| t.clone()).collect();
        let (newest, states, runs, counts) = tokio::try_join!(
            async { Ok(self.store().environment_heads(&targets).await?) },
            self.environment_states(&targets),
            self.runs_of(&targets),
            async {
                Ok(self
                    .store()
                    .daily_deploys(&targets, &production, since)
                    .await?)
            },
        )?;
        let mut per_component: HashMap<&str, Vec<&str>> = HashMap::new();
        for (component, target) in &wiring {
            per_component.entry(component).or_default().push(target);
        }
        let mut rows = Vec::new();
        let mut unwired = Vec::new();
        let mut all_envs: BTreeSet<String> = BTreeSet::new();
        let mut per_row_envs = Vec::new();
        let mut pendings = Vec::new();
        let mut compared = Vec::new();
        for service in &services {
            let Some(own) = per_component.get(service.key.as_str()) else {
                unwired.push(service.name.clone());
                continue;
            };
            let mine: Vec<Deployment> = newest
                .iter()
                .filter(|d| own.contains(&d.target.as_str()))
                .cloned()
                .collect();
            let my_states: Vec<EnvironmentState> = states
                .iter()
                .filter(|s| own.contains(&s.target.as_str()))
                .cloned()
                .collect();
            let environments = environments_now(&mine, &my_states, &order);
            let my_runs: Vec<PipelineRun> = runs
                .iter()
                .filter(|run| own.contains(&run.target.as_str()))
                .cloned()
                .collect();
            // Why each environment waits, as the service's pipeline says.
            let waits: HashMap<String, WaitReason> = pipeline(&my_runs, &environments, bake, now)
                .into_iter()
                .filter(|s| s.is_environment)
                .filter_map(|s| Some((s.name, s.waiting?)))
                .collect();
            all_envs.extend(environments.iter().map(|e| e.environment.clone()));
            let mut daily = vec![0i64; FREQUENCY_DAYS as usize];
            for (_, day, count) in counts.iter().filter(|(t, _, _)| own.contains(&t.as_str())) {
                if let Some(slot) = usize::try_from(*day).ok().and_then(|d| daily.get_mut(d)) {
                    *slot += count;
                }
            }
            let pending = pending_promotion(&environments, &order);
            if let Some(PendingPromotion {
                production_commit: Some(base),
                commit: Some(head),
                ..
            }) = &pending
            {
                compared.extend(own.iter().map(|t| comparison_id(t, base, head)));
            }
            pendings.push(pending.map(|p| (p, own.clone())));
            per_row_envs.push((environments, waits));
            rows.push(ReleaseRow {
                service: ServiceRef {
                    key: service.key.clone(),
                    name: service.name.clone(),
                },
                cells: Vec::new(),
                pending: None,
                daily_deploys: daily,
            });
        }
        // One read for every row's pending comparison, and of its commit count only.
        let totals = self.store().comparison_totals(&compared).await?;
        for (row, pending) in rows.iter_mut().zip(pendings) {
            row.pending = pending.map(|(pending, own)| {
                let commit_count = match (&pending.production_commit, &pending.commit) {
                    (Some(base), Some(head)) => own
                        .iter()
                        .find_map(|t| totals.get(&comparison_id(t, base, head)).copied()),
                    _ => None,
                };
                pending_row(pending, commit_count)
            });
        }
        let columns = order.sort(all_envs);
        for (row, (environments, waits)) in rows.iter_mut().zip(&per_row_envs) {
            let production = production_version(environments, &order);
            row.cells = columns
                .iter()
                .map(|column| {
                    let env = environments.iter().find(|e| &e.environment == column)?;
                    let mut cell = matrix_cell(env, production.as_deref());
                    cell.waiting = waits.get(column).cloned();
                    Some(cell)
                })
                .collect();
        }
        let team_daily_deploys = (0..FREQUENCY_DAYS as usize)
            .map(|day| rows.iter().map(|r| r.daily_deploys[day]).sum())
            .collect();
        Ok(ReleaseMatrix {
            team: team_key,
            environments: columns,
            rows,
            unwired,
            days: (0..FREQUENCY_DAYS)
                .map(|d| (first_day + Duration::days(d)).to_string())
                .collect(),
            team_daily_deploys,
        })
    }

    /// Every environment deployed to, in promotion order.
    pub async fn environments(&self) -> Result<Vec<String>> {
        let order = self.config().delivery.order();
        Ok(order.sort(self.store().environments().await?))
    }

    /// Deploys newest first across teams, as `filter` narrows them.
    pub async fn activity(&self, filter: &ActivityFilter) -> Result<Vec<DeploymentRow>> {
        let owner_key = match &filter.team {
            Some(team) => Some(self.team_key(team).await?),
            None => None,
        };
        let component_keys = match &filter.service {
            Some(service) => Some(vec![self.service_key(service).await?]),
            None => None,
        };
        let rows = self
            .store()
            .activity(&ActivityQuery {
                owner_key,
                component_keys,
                environment: filter.environment.clone(),
                status: filter.status,
                since: filter.since_time(Utc::now())?,
                after: filter.after.clone(),
                limit: filter.page_size()?,
            })
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                deployment_row(
                    &ServiceRef {
                        key: r.component_key.clone(),
                        name: r.name.clone(),
                    },
                    &r.deployment,
                )
            })
            .collect())
    }

    /// The commits between two deployed versions of a service, from the cache. When they are
    /// not cached: read from GitHub now and cached if `ask_github` (an action, so the network
    /// is on its path), else `None`.
    pub async fn changes(
        &self,
        service: &str,
        from: &str,
        to: &str,
        ask_github: bool,
    ) -> Result<Option<ChangesView>> {
        let key = self.service_key(service).await?;
        let targets = self.store().targets_of_component(&key).await?;
        let deployments = self
            .store()
            .deployments_of(&targets, DateTime::UNIX_EPOCH)
            .await?;
        let commit_of = |version: &str| {
            deployments
                .iter()
                .find(|d| d.version == version && d.commit.is_some())
                .and_then(|d| d.commit.clone())
                .ok_or_else(|| {
                    let mut known: Vec<&str> = Vec::new();
                    for d in &deployments {
                        if !known.contains(&d.version.as_str()) && known.len() < 10 {
                            known.push(&d.version);
                        }
                    }
                    Error::NotFound(format!(
                        "no deployment of {} ran version '{version}'; recent versions: {}",
                        key_name(&key),
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ))
                })
        };
        let (base, head) = (commit_of(from)?, commit_of(to)?);
        let repo = github_repo(&targets).ok_or_else(|| {
            Error::NotFound(format!(
                "{} has no github.com/project-slug: its commits cannot be listed",
                key_name(&key)
            ))
        })?;
        let comparison = match self.cached_comparison(&repo.0, &base, &head).await? {
            Some(cached) => cached,
            None if !ask_github => return Ok(None),
            None => {
                let source = self.github_source()?;
                let connector = GithubConnector::new(self.endpoint(source)?);
                let comparison = connector
                    .compare(&repo.1, &base, &head, &RequestMeter::default())
                    .await?;
                self.store()
                    .add_comparisons(&source.name, &[comparison_record(&repo.0, &comparison)])
                    .await?;
                comparison
            }
        };
        Ok(Some(changes_view(from, to, comparison)))
    }

    /// What a GitHub sync needs to ask only for what changed: each wired repository with
    /// what the cache holds of it, and the ETags of the pages read last.
    pub(crate) async fn github_known(
        &self,
        source: &str,
    ) -> Result<(Vec<(String, RepoKnown)>, HashMap<String, String>)> {
        let store = self.store();
        let mut newest = store.newest_deployments(source).await?;
        let mut open: HashMap<String, Vec<Deployment>> = HashMap::new();
        for deployment in store.open_deployments(source).await? {
            open.entry(deployment.target.clone())
                .or_default()
                .push(deployment);
        }
        let repos = store
            .delivery_targets("github:")
            .await?
            .into_iter()
            .filter_map(|target| {
                let Some(DeliveryTarget::GithubRepo(slug)) = DeliveryTarget::from_key(&target)
                else {
                    return None;
                };
                let known = RepoKnown {
                    newest: newest
                        .remove(&target)
                        .map(|(at, ids)| (at, ids.into_iter().collect::<HashSet<_>>())),
                    open: open.remove(&target).unwrap_or_default(),
                };
                Some((slug, known))
            })
            .collect();
        Ok((repos, store.page_etags(source).await?))
    }

    /// Reads from GitHub the comparisons worth caching for the services deployed from
    /// `targets` (see [`comparisons_worth_caching`]); returns what could not be read, as
    /// problems: the deploys landed either way.
    pub(crate) async fn cache_comparisons(
        &self,
        targets: &BTreeSet<String>,
        meter: &RequestMeter,
    ) -> Result<Vec<String>> {
        let Ok(source) = self.github_source() else {
            return Ok(Vec::new());
        };
        let keys: Vec<String> = targets.iter().cloned().collect();
        let components = self.store().components_of_targets(&keys).await?;
        let order = self.config().delivery.order();
        let since = Utc::now() - Duration::days(HISTORY_DAYS);
        let mut wanted: Vec<(String, String, String, String)> = Vec::new();
        for own in components.values() {
            let Some((repo_target, slug)) = github_repo(own) else {
                continue;
            };
            let deployments = self.store().deployments_of(own, since).await?;
            let states = self.environment_states(own).await?;
            let environments = environments_now(&deployments, &states, &order);
            for (base, head) in comparisons_worth_caching(&deployments, &environments, &order) {
                if self
                    .cached_comparison(&repo_target, &base, &head)
                    .await?
                    .is_none()
                {
                    wanted.push((repo_target.clone(), slug.clone(), base, head));
                }
            }
        }
        let mut problems = Vec::new();
        let connector = match self.endpoint(source) {
            Ok(endpoint) => GithubConnector::new(endpoint),
            Err(error) => return Ok(vec![format!("what changed was not read: {error}")]),
        };
        let mut records = Vec::new();
        for (repo_target, slug, base, head) in wanted.into_iter().take(COMPARISONS_PER_SYNC) {
            match connector.compare(&slug, &base, &head, meter).await {
                Ok(comparison) => records.push(comparison_record(&repo_target, &comparison)),
                Err(error) => {
                    problems.push(format!("what changed in {slug} was not read: {error}"));
                    break;
                }
            }
        }
        self.store().add_comparisons(&source.name, &records).await?;
        Ok(problems)
    }

    pub(crate) fn github_source(&self) -> Result<&crate::config::SourceConfig> {
        self.config()
            .sources
            .iter()
            .find(|s| s.kind == SourceKind::Github)
            .ok_or_else(|| {
                Error::NotFound(
                    "no github source in the config: add one (kind = \"github\") to read commits and runbooks kept in GitHub".to_string(),
                )
            })
    }

    /// The CI runs of `targets`.
    pub(crate) async fn runs_of(&self, targets: &[String]) -> Result<Vec<PipelineRun>> {
        Ok(self
            .store()
            .records::<PipelineRun>(RecordKind::Run, LookupBy::JoinKey, targets)
            .await?
            .into_iter()
            .map(|(_, run)| run)
            .collect())
    }

    pub(crate) async fn environment_states(
        &self,
        targets: &[String],
    ) -> Result<Vec<EnvironmentState>> {
        Ok(self
            .store()
            .records::<EnvironmentState>(RecordKind::Environment, LookupBy::JoinKey, targets)
            .await?
            .into_iter()
            .map(|(_, state)| state)
            .collect())
    }

    async fn cached_comparison(
        &self,
        repo_target: &str,
        base: &str,
        head: &str,
    ) -> Result<Option<Comparison>> {
        Ok(self
            .store()
            .records::<Comparison>(
                RecordKind::Comparison,
                LookupBy::Id,
                &[comparison_id(repo_target, base, head)],
            )
            .await?
            .into_iter()
            .next()
            .map(|(_, c)| c))
    }

    /// What waits for production, with the comparison of it against production when cached.
    async fn pending(
        &self,
        targets: &[String],
        environments: &[EnvironmentNow],
        order: &crate::domain::delivery::EnvironmentOrder,
    ) -> Result<Option<(PendingRow, Option<Comparison>)>> {
        let Some(pending) = pending_promotion(environments, order) else {
            return Ok(None);
        };
        let comparison = match (&pending.production_commit, &pending.commit) {
            (Some(base), Some(head)) => self.comparison_of_any(targets, base, head).await?,
            _ => None,
        };
        let row = pending_row(pending, comparison.as_ref().map(|c| c.total_commits));
        Ok(Some((row, comparison)))
    }

    /// The cached comparison of `base` and `head` in whichever of `targets` is a repository.
    pub(crate) async fn comparison_of_any(
        &self,
        targets: &[String],
        base: &str,
        head: &str,
    ) -> Result<Option<Comparison>> {
        for target in targets {
            if let Some(c) = self.cached_comparison(target, base, head).await? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    async fn last_production_changes(
        &self,
        targets: &[String],
        deployments: &[Deployment],
        environments: &[EnvironmentNow],
    ) -> Result<Option<ChangesView>> {
        let order = self.config().delivery.order();
        let Some(current) = environments
            .iter()
            .rev()
            .find(|e| order.is_production(&e.environment))
            .and_then(|e| e.current.as_ref())
        else {
            return Ok(None);
        };
        let Some(before) = deployments.iter().find(|d| {
            d.environment == current.environment
                && d.status.reached()
                && d.started_at < current.started_at
                && d.commit != current.commit
        }) else {
            return Ok(None);
        };
        let (Some(base), Some(head)) = (&before.commit, &current.commit) else {
            return Ok(None);
        };
        Ok(self
            .comparison_of_any(targets, base, head)
            .await?
            .map(|c| changes_view(&before.version, &current.version, c)))
    }
}

/// The repository among a component's targets, as (target key, `owner/repo`).
fn github_repo(targets: &[String]) -> Option<(String, String)> {
    targets
        .iter()
        .find_map(|t| match DeliveryTarget::from_key(t) {
            Some(DeliveryTarget::GithubRepo(slug)) => Some((t.clone(), slug)),
            _ => None,
        })
}

fn pending_row(pending: PendingPromotion, commit_count: Option<i64>) -> PendingRow {
    PendingRow {
        from_environment: pending.from_environment,
        version: pending.version,
        to_environment: pending.to_environment,
        production_version: pending.production_version,
        commit_count,
    }
}

fn comparison_id(repo_target: &str, base: &str, head: &str) -> String {
    format!("{repo_target}|{base}...{head}")
}

fn comparison_record(repo_target: &str, comparison: &Comparison) -> PlatformRecord {
    PlatformRecord::new(
        RecordKind::Comparison,
        &comparison_id(repo_target, &comparison.base, &comparison.head),
        Some(repo_target),
        comparison,
    )
}

pub(crate) fn changes_view(from: &str, to: &str, comparison: Comparison) -> ChangesView {
    let mut commits = comparison.commits;
    commits.reverse();
    ChangesView {
        from_version: from.to_string(),
        to_version: to.to_string(),
        total_commits: comparison.total_commits,
        commits,
        link: comparison.link,
    }
}

pub(crate) fn deployment_row(service: &ServiceRef, d: &Deployment) -> DeploymentRow {
    let source = match DeliveryTarget::from_key(&d.target) {
        Some(DeliveryTarget::GithubRepo(_)) => "github",
        _ => "argocd",
    };
    DeploymentRow {
        source: source.to_string(),
        id: d.id.clone(),
        service: service.clone(),
        environment: d.environment.clone(),
        version: d.version.clone(),
        commit: d.commit.clone(),
        actor: d.actor.clone(),
        started_at: d.started_at,
        finished_at: d.finished_at,
        status: d.status,
        link: d.link.clone(),
        rolled_back_from: d.rolled_back_from.clone(),
        description: d.description.clone(),
    }
}

fn production_version(
    environments: &[EnvironmentNow],
    order: &crate::domain::delivery::EnvironmentOrder,
) -> Option<String> {
    environments
        .iter()
        .rev()
        .find(|e| order.is_production(&e.environment))
        .and_then(|e| e.current.as_ref())
        .map(|d| d.version.clone())
}

fn environment_rows(
    service: &ServiceRef,
    environments: &[EnvironmentNow],
    order: &crate::domain::delivery::EnvironmentOrder,
) -> Vec<EnvironmentRow> {
    let production = production_version(environments, order);
    environments
        .iter()
        .map(|e| EnvironmentRow {
            environment: e.environment.clone(),
            drift: drifts(e, production.as_deref()),
            current: e.current.as_ref().map(|d| deployment_row(service, d)),
            latest: e.latest.as_ref().map(|d| deployment_row(service, d)),
            health: e.state.as_ref().and_then(|s| s.health.clone()),
            sync: e.state.as_ref().and_then(|s| s.sync.clone()),
            automated_sync: e.state.as_ref().is_some_and(|s| s.automated_sync),
            app_link: e.state.as_ref().and_then(|s| s.link.clone()),
        })
        .collect()
}

fn drifts(environment: &EnvironmentNow, production: Option<&str>) -> bool {
    match (environment.current.as_ref(), production) {
        (Some(current), Some(production)) => current.version != production,
        _ => false,
    }
}

fn matrix_cell(environment: &EnvironmentNow, production: Option<&str>) -> MatrixCell {
    let health = environment
        .state
        .as_ref()
        .and_then(|s| s.health.clone())
        .filter(|h| h != "Healthy");
    MatrixCell {
        version: environment.current.as_ref().map(|d| d.version.clone()),
        deployed_at: environment
            .current
            .as_ref()
            .map(|d| d.finished_at.unwrap_or(d.started_at)),
        incoming: environment.latest.as_ref().map(|d| d.version.clone()),
        incoming_status: environment.latest.as_ref().map(|d| d.status),
        drift: drifts(environment, production),
        health,
        waiting: None,
    }
}
