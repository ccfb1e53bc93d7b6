//! What shipped where: deployments, pipeline runs and the rules that read them as a pipeline
//! with stages, a release matrix (version per environment) and pending promotions.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Where a deployment or run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum DeployStatus {
    /// Accepted, not started.
    Queued,
    /// Created, waiting for something (a reviewer, a runner).
    Pending,
    /// Held until someone approves it.
    Waiting,
    /// Running.
    InProgress,
    /// Done and healthy.
    Success,
    /// Done and broken: the deploy failed or the application is degraded.
    Failure,
    /// The platform could not run it.
    Error,
    /// Superseded by a later deployment to the same environment.
    Inactive,
    /// Cancelled or skipped.
    Cancelled,
    /// Not read: only the newest deployments' statuses are read (see the GitHub connector).
    Unknown,
}

impl DeployStatus {
    /// Whether it may still change.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Queued | Self::Pending | Self::Waiting | Self::InProgress
        )
    }

    /// Whether it reached its environment (a superseded deployment did, once).
    pub fn reached(self) -> bool {
        matches!(self, Self::Success | Self::Inactive)
    }

    /// A GitHub deployment status `state`.
    pub fn from_github_state(state: &str) -> Self {
        match state {
            "success" => Self::Success,
            "failure" => Self::Failure,
            "error" => Self::Error,
            "inactive" => Self::Inactive,
            "pending" => Self::Pending,
            "queued" => Self::Queued,
            "in_progress" => Self::InProgress,
            "waiting" => Self::Waiting,
            _ => Self::Unknown,
        }
    }

    /// An Actions run's `status` and `conclusion`.
    pub fn from_run(status: Option<&str>, conclusion: Option<&str>) -> Self {
        match (status, conclusion) {
            (_, Some("success" | "neutral")) => Self::Success,
            (_, Some("failure" | "timed_out" | "startup_failure")) => Self::Failure,
            (_, Some("cancelled" | "skipped" | "stale")) => Self::Cancelled,
            (_, Some("action_required")) => Self::Waiting,
            (Some("waiting"), _) => Self::Waiting,
            (Some("queued" | "requested" | "pending"), _) => Self::Queued,
            (Some("in_progress"), _) => Self::InProgress,
            _ => Self::Unknown,
        }
    }

    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Pending => "pending",
            Self::Waiting => "waiting",
            Self::InProgress => "in_progress",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Error => "error",
            Self::Inactive => "inactive",
            Self::Cancelled => "cancelled",
            Self::Unknown => "unknown",
        }
    }
}

impl std::str::FromStr for DeployStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let status = match s {
            "cancelled" => Self::Cancelled,
            "unknown" => Self::Unknown,
            other => Self::from_github_state(other),
        };
        if status == Self::Unknown && s != "unknown" {
            return Err(format!(
                "unknown status '{s}': use queued, pending, waiting, in_progress, success, failure, error, inactive, cancelled or unknown"
            ));
        }
        Ok(status)
    }
}

/// One deploy of a version to an environment, from GitHub (a deployment and its statuses) or
/// Argo CD (an application's history entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Unique within its source: the GitHub deployment id, or `app#history-id`.
    pub id: String,
    /// What it deployed from: a [`DeliveryTarget`] key.
    pub target: String,
    /// The environment.
    pub environment: String,
    /// The version: a tag, a release, else the short commit.
    pub version: String,
    /// The full commit SHA, when known.
    pub commit: Option<String>,
    /// Who started it (a login or user name), or "automated".
    pub actor: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it reached its final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: DeployStatus,
    /// The platform's page for it (run logs, status target, Argo CD application).
    pub link: Option<String>,
    /// The version it rolled back from, when the platform says it was a rollback.
    pub rolled_back_from: Option<String>,
    /// The platform's description.
    pub description: Option<String>,
}

/// One run of a CI workflow (GitHub Actions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun {
    /// The run's id.
    pub id: String,
    /// The repository it ran in: a [`DeliveryTarget`] key.
    pub target: String,
    /// The workflow's name: a pipeline stage such as "build" or "test".
    pub workflow: String,
    /// The commit it ran on.
    pub head_sha: String,
    /// The branch it ran on.
    pub head_branch: Option<String>,
    /// What triggered it: push, workflow_dispatch, …
    pub event: String,
    /// Where it stands.
    pub status: DeployStatus,
    /// The attempt (re-runs count up).
    pub attempt: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When it last changed (its end, once done).
    pub updated_at: DateTime<Utc>,
    /// Its page.
    pub link: Option<String>,
    /// The title GitHub shows (the commit or PR title).
    pub title: String,
}

/// A GitHub release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// Its tag, e.g. v2.14.0.
    pub tag: String,
    /// Its name.
    pub name: Option<String>,
    /// When it was published (drafts have none).
    pub published_at: Option<DateTime<Utc>>,
    /// Who published it.
    pub author: Option<String>,
    /// Its page.
    pub link: String,
    /// Marked as a pre-release.
    pub prerelease: bool,
}

/// An Argo CD application's live state: one environment of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentState {
    /// The application's name.
    pub app: String,
    /// What it deploys from: a [`DeliveryTarget`] key.
    pub target: String,
    /// Its environment (label `environment` or `env`, else the destination namespace).
    pub environment: String,
    /// Health: Healthy, Progressing, Degraded, Suspended, Missing, Unknown.
    pub health: Option<String>,
    /// Sync: Synced, OutOfSync, Unknown.
    pub sync: Option<String>,
    /// Whether automated sync is on.
    pub automated_sync: bool,
    /// The revision it runs.
    pub revision: Option<String>,
    /// The Argo CD page of the application.
    pub link: Option<String>,
}

/// A commit between two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Commit {
    /// Its SHA.
    pub sha: String,
    /// The first line of its message.
    pub title: String,
    /// Its author's login, else name.
    pub author: Option<String>,
    /// When it was authored.
    #[ts(type = "string | null")]
    pub authored_at: Option<DateTime<Utc>>,
    /// Its page.
    pub link: Option<String>,
}

/// What lies between two commits (GitHub's compare).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The older commit.
    pub base: String,
    /// The newer commit.
    pub head: String,
    /// How many commits `head` is ahead of `base` (may exceed `commits`, which GitHub caps).
    pub total_commits: i64,
    /// The commits, oldest first.
    pub commits: Vec<Commit>,
    /// The compare page.
    pub link: Option<String>,
}

/// How a component is wired to a delivery platform; the key deployments are stored under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryTarget {
    /// `github.com/project-slug`: owner/repo.
    GithubRepo(String),
    /// `argocd/app-name`.
    ArgoApp(String),
    /// `argocd/app-selector`: a Kubernetes label selector.
    ArgoSelector(String),
}

impl DeliveryTarget {
    /// The stored key: `github:owner/repo`, `argocd-app:name`, `argocd-selector:k=v`.
    pub fn key(&self) -> String {
        match self {
            Self::GithubRepo(slug) => format!("github:{slug}"),
            Self::ArgoApp(name) => format!("argocd-app:{name}"),
            Self::ArgoSelector(selector) => format!("argocd-selector:{selector}"),
        }
    }

    /// Reads a stored key back; `None` for a key of no kind, or one whose value may not go
    /// into the path of an authenticated request (see [`wiring_problem`]): this is where
    /// every wiring is read, so no other check is needed on the way to a request.
    pub fn from_key(key: &str) -> Option<Self> {
        let (kind, value) = key.split_once(':')?;
        match kind {
            "github" if is_github_slug(value) => Some(Self::GithubRepo(value.to_string())),
            "argocd-app" if is_kubernetes_name(value) => Some(Self::ArgoApp(value.to_string())),
            "argocd-selector" => Some(Self::ArgoSelector(value.to_string())),
            _ => None,
        }
    }
}

/// Whether `slug` is a GitHub `owner/repo` (letters, digits, `-`, `_`, `.`; not `.` or `..`):
/// a slug from the catalog goes into the paths of authenticated requests, so nothing else may.
pub fn is_github_slug(slug: &str) -> bool {
    let Some((owner, repo)) = slug.split_once('/') else {
        return false;
    };
    [owner, repo].iter().all(|part| {
        !part.is_empty()
            && *part != "."
            && *part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    })
}

/// Whether `name` is a Kubernetes object name (a DNS subdomain: lowercase letters, digits, `-`
/// and `.`, starting and ending with a letter or digit, at most 253 characters), as Argo CD
/// applications are named: it goes into the path of rollback calls, so no dot segment may.
pub fn is_kubernetes_name(name: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=253).contains(&name.len())
        && name.starts_with(alphanumeric)
        && name.ends_with(alphanumeric)
        && name
            .chars()
            .all(|c| alphanumeric(c) || c == '-' || c == '.')
        && !name.contains("..")
}

/// What is wrong with a component's delivery wiring, if its slug or application name could
/// not safely name a platform path: said once, as the catalog's problem, and the wiring is
/// not read.
pub fn wiring_problem(entity: &crate::Entity) -> Option<String> {
    let annotations = &entity.metadata.annotations;
    let (annotation, value, expected) = [
        (
            crate::gaps::GITHUB_PROJECT_SLUG,
            is_github_slug as fn(&str) -> bool,
            "owner/repo",
        ),
        (
            crate::gaps::ARGOCD_APP_NAME,
            is_kubernetes_name,
            "a Kubernetes name",
        ),
    ]
    .into_iter()
    .find_map(|(annotation, valid, expected)| {
        let value = annotations.get(annotation)?;
        (!valid(value)).then_some((annotation, value, expected))
    })?;
    Some(format!(
        "{}: annotation {annotation} '{}' is not {expected}; its deliveries are not read",
        entity.entity_ref(),
        crate::text::one_line(value, 80)
    ))
}

/// The order environments are promoted in. Environments it does not name sort after the ones
/// it does, by name; the last environment a service has is its production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentOrder(Vec<String>);

/// The order used when the config names none.
pub const DEFAULT_ENVIRONMENTS: &[&str] = &[
    "dev",
    "development",
    "test",
    "qa",
    "beta",
    "staging",
    "gamma",
    "preprod",
    "prod",
    "production",
];

impl Default for EnvironmentOrder {
    fn default() -> Self {
        Self::new(DEFAULT_ENVIRONMENTS.iter().map(|e| e.to_string()).collect())
    }
}

impl EnvironmentOrder {
    /// An order from first to last (production).
    pub fn new(environments: Vec<String>) -> Self {
        Self(environments)
    }

    /// Sorts `environments` into promotion order, without duplicates.
    pub fn sort(&self, environments: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut all: Vec<String> = environments.into_iter().collect();
        all.sort_by_key(|e| self.rank(e));
        all.dedup();
        all
    }

    fn rank(&self, environment: &str) -> (usize, String) {
        let position = self
            .0
            .iter()
            .position(|e| e.eq_ignore_ascii_case(environment));
        // Where an unnamed environment belongs among the named ones cannot be known: it goes
        // after all of them, by name.
        (position.unwrap_or(self.0.len()), environment.to_string())
    }

    /// Whether `environment` is one the order knows as production (the last named).
    pub fn is_production(&self, environment: &str) -> bool {
        ["prod", "production"]
            .iter()
            .any(|p| p.eq_ignore_ascii_case(environment))
            || self
                .0
                .last()
                .is_some_and(|last| last.eq_ignore_ascii_case(environment))
    }
}

/// What runs in one environment of a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvironmentNow {
    /// The environment.
    pub environment: String,
    /// The last deployment that reached it (what runs there).
    pub current: Option<Deployment>,
    /// A newer deployment that has not (yet) reached it: in flight, waiting or failed.
    pub latest: Option<Deployment>,
    /// Its live state, for Argo CD applications.
    pub state: Option<EnvironmentState>,
}

/// Reads a service's deployments (any order) as what runs in each environment, in promotion
/// order.
pub fn environments_now(
    deployments: &[Deployment],
    states: &[EnvironmentState],
    order: &EnvironmentOrder,
) -> Vec<EnvironmentNow> {
    let mut by_env: BTreeMap<String, Vec<&Deployment>> = BTreeMap::new();
    for d in deployments {
        by_env.entry(d.environment.clone()).or_default().push(d);
    }
    for s in states {
        by_env.entry(s.environment.clone()).or_default();
    }
    order
        .sort(by_env.keys().cloned())
        .into_iter()
        .map(|environment| {
            let mut list = by_env.remove(&environment).unwrap_or_default();
            list.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
            let current = list
                .iter()
                .find(|d| d.status.reached())
                .map(|d| (*d).clone());
            let latest = list
                .first()
                .filter(|d| current.as_ref().is_none_or(|c| c.id != d.id))
                .map(|d| (*d).clone());
            let state = states
                .iter()
                .find(|s| s.environment == environment)
                .cloned();
            EnvironmentNow {
                environment,
                current,
                latest,
                state,
            }
        })
        .collect()
}

/// Why a stage has not moved on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[ts(export)]
pub enum WaitReason {
    /// A deployment to it is held for a reviewer's approval.
    Approval,
    /// An earlier stage failed for the commit on its way here.
    FailedCheck {
        /// The stage that failed.
        stage: String,
    },
    /// The version sits in the previous environment until its bake time has passed.
    BakeTime {
        /// When it may move on.
        #[ts(type = "string")]
        until: DateTime<Utc>,
    },
}

/// One stage of a pipeline: a CI workflow or an environment.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Stage {
    /// Its name: the workflow's or the environment's.
    pub name: String,
    /// Whether it is an environment (a deploy stage) rather than a CI workflow.
    pub is_environment: bool,
    /// Where its latest run or deployment stands.
    pub status: DeployStatus,
    /// The version (or short commit) it ran on.
    pub version: Option<String>,
    /// When its latest run or deployment started.
    #[ts(type = "string | null")]
    pub started_at: Option<DateTime<Utc>>,
    /// How long it took (or has taken so far).
    pub duration_seconds: Option<i64>,
    /// Why it waits, if it does.
    pub waiting: Option<WaitReason>,
    /// Its run or deployment page.
    pub link: Option<String>,
}

/// Reads CI runs and environments as one pipeline: the workflows that ran on the newest commit
/// (in the order they started), then each environment in promotion order.
pub fn pipeline(
    runs: &[PipelineRun],
    environments: &[EnvironmentNow],
    bake_time: Duration,
    now: DateTime<Utc>,
) -> Vec<Stage> {
    let head = runs
        .iter()
        .filter(|r| r.event != "workflow_dispatch")
        .max_by_key(|r| (r.created_at, r.id.clone()));
    let mut stages: Vec<Stage> = Vec::new();
    let mut failed: Option<String> = None;
    if let Some(head) = head {
        let mut latest: HashMap<&str, &PipelineRun> = HashMap::new();
        for run in runs.iter().filter(|r| r.head_sha == head.head_sha) {
            let keep = latest
                .get(run.workflow.as_str())
                .is_none_or(|held| (run.attempt, run.created_at) > (held.attempt, held.created_at));
            if keep {
                latest.insert(&run.workflow, run);
            }
        }
        let mut ordered: Vec<&PipelineRun> = latest.into_values().collect();
        ordered.sort_by_key(|r| (r.started_at.unwrap_or(r.created_at), r.workflow.clone()));
        for run in ordered {
            let end = if run.status.is_open() {
                now
            } else {
                run.updated_at
            };
            let waiting = (run.status == DeployStatus::Waiting).then_some(WaitReason::Approval);
            if matches!(run.status, DeployStatus::Failure | DeployStatus::Error) {
                failed.get_or_insert_with(|| run.workflow.clone());
            }
            stages.push(Stage {
                name: run.workflow.clone(),
                is_environment: false,
                status: run.status,
                version: Some(short_sha(&run.head_sha)),
                started_at: run.started_at.or(Some(run.created_at)),
                duration_seconds: run
                    .started_at
                    .map(|start| (end - start).num_seconds().max(0)),
                waiting,
                link: run.link.clone(),
            });
        }
    }
    let head_commit = head.map(|h| h.head_sha.clone());
    let mut blocked_shown = false;
    let mut previous: Option<&EnvironmentNow> = None;
    for env in environments {
        let shown = env.latest.as_ref().or(env.current.as_ref());
        let runs_here = |d: &Deployment| d.commit.is_some() && d.commit == head_commit;
        let held_for_review = env.latest.as_ref().is_some_and(|d| {
            d.status == DeployStatus::Waiting
                || (d.status.is_open()
                    && runs.iter().any(|r| {
                        r.status == DeployStatus::Waiting && Some(&r.head_sha) == d.commit.as_ref()
                    }))
        });
        let waiting = if held_for_review {
            Some(WaitReason::Approval)
        } else if let Some(stage) = failed.as_ref().filter(|_| {
            !blocked_shown && env.latest.is_none() && !env.current.as_ref().is_some_and(runs_here)
        }) {
            // The failed commit never reaches this environment: the first one it would have
            // reached says why.
            blocked_shown = true;
            Some(WaitReason::FailedCheck {
                stage: stage.clone(),
            })
        } else {
            previous.and_then(|before| {
                let arrived = before.current.as_ref()?;
                let here = env.current.as_ref().map(|c| c.version.as_str());
                if here == Some(arrived.version.as_str()) || env.latest.is_some() {
                    return None;
                }
                let until = arrived.finished_at.unwrap_or(arrived.started_at) + bake_time;
                (until > now).then_some(WaitReason::BakeTime { until })
            })
        };
        stages.push(Stage {
            name: env.environment.clone(),
            is_environment: true,
            status: shown.map_or(DeployStatus::Unknown, |d| d.status),
            version: shown.map(|d| d.version.clone()),
            started_at: shown.map(|d| d.started_at),
            duration_seconds: shown.and_then(|d| {
                let end = d.finished_at.or(d.status.is_open().then_some(now))?;
                Some((end - d.started_at).num_seconds().max(0))
            }),
            waiting,
            link: shown.and_then(|d| d.link.clone()),
        });
        previous = Some(env);
    }
    stages
}

/// A version waiting to reach production: in the environment before it, not in it yet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingPromotion {
    /// The environment it sits in.
    pub from_environment: String,
    /// Its version there.
    pub version: String,
    /// Its commit.
    pub commit: Option<String>,
    /// The production environment.
    pub to_environment: String,
    /// What production runs.
    pub production_version: Option<String>,
    /// Production's commit.
    pub production_commit: Option<String>,
}

/// What is pending promotion to production, if anything: the version in the last environment
/// before production, when production runs another.
pub fn pending_promotion(
    environments: &[EnvironmentNow],
    order: &EnvironmentOrder,
) -> Option<PendingPromotion> {
    let production = environments
        .iter()
        .rev()
        .find(|e| order.is_production(&e.environment))?;
    let before = environments
        .iter()
        .take_while(|e| e.environment != production.environment)
        .filter(|e| e.current.is_some())
        .last()?;
    let candidate = before.current.as_ref()?;
    let live = production.current.as_ref();
    if live.is_some_and(|p| p.version == candidate.version || p.commit == candidate.commit) {
        return None;
    }
    Some(PendingPromotion {
        from_environment: before.environment.clone(),
        version: candidate.version.clone(),
        commit: candidate.commit.clone(),
        to_environment: production.environment.clone(),
        production_version: live.map(|p| p.version.clone()),
        production_commit: live.and_then(|p| p.commit.clone()),
    })
}

/// The commit pairs worth comparing ahead of time, so "what changed" answers from the cache:
/// each environment's running version against the one it replaced there, and a pending
/// promotion against production. Pairs are (base, head) full SHAs.
pub fn comparisons_worth_caching(
    deployments: &[Deployment],
    environments: &[EnvironmentNow],
    order: &EnvironmentOrder,
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for env in environments {
        let Some(current) = &env.current else {
            continue;
        };
        let before = deployments
            .iter()
            .filter(|d| {
                d.environment == env.environment
                    && d.status.reached()
                    && d.started_at < current.started_at
                    && d.commit != current.commit
            })
            .max_by_key(|d| d.started_at);
        if let (Some(base), Some(head)) = (before.and_then(|b| b.commit.clone()), &current.commit) {
            pairs.push((base, head.clone()));
        }
    }
    if let Some(pending) = pending_promotion(environments, order) {
        if let (Some(base), Some(head)) = (pending.production_commit, pending.commit) {
            pairs.push((base, head));
        }
    }
    pairs.sort();
    pairs.dedup();
    pairs
}

/// The first seven characters of a commit SHA, as git shows it.
pub fn short_sha(sha: &str) -> String {
    sha.chars().take(7).collect()
}

/// A version name from a ref: a tag-like ref as is, a commit SHA shortened.
pub fn version_of_ref(reference: &str, sha: &str) -> String {
    let looks_like_sha = reference.len() >= 7 && reference.chars().all(|c| c.is_ascii_hexdigit());
    if reference.is_empty() || looks_like_sha || reference == "HEAD" {
        short_sha(sha)
    } else {
        reference
            .trim_start_matches("refs/tags/")
            .trim_start_matches("refs/heads/")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes_ago: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() - Duration::minutes(minutes_ago)
    }

    fn deploy(
        id: &str,
        env: &str,
        version: &str,
        minutes_ago: i64,
        status: DeployStatus,
    ) -> Deployment {
        Deployment {
            id: id.into(),
            target: "github:demo-org/x".into(),
            environment: env.into(),
            version: version.into(),
            commit: Some(format!("{version}-sha")),
            actor: Some("dana".into()),
            started_at: at(minutes_ago),
            finished_at: (!status.is_open()).then(|| at(minutes_ago - 2)),
            status,
            link: None,
            rolled_back_from: None,
            description: None,
        }
    }

    fn run(workflow: &str, sha: &str, minutes_ago: i64, status: DeployStatus) -> PipelineRun {
        PipelineRun {
            id: format!("{workflow}-{sha}"),
            target: "github:demo-org/x".into(),
            workflow: workflow.into(),
            head_sha: sha.into(),
            head_branch: Some("main".into()),
            event: "push".into(),
            status,
            attempt: 1,
            created_at: at(minutes_ago),
            started_at: Some(at(minutes_ago)),
            updated_at: at(minutes_ago - 3),
            link: None,
            title: "commit".into(),
        }
    }

    #[test]
    fn environments_sort_by_promotion_order_and_unknown_ones_last() {
        let order = EnvironmentOrder::default();
        assert_eq!(
            order.sort(["prod", "canary", "beta", "gamma", "beta"].map(String::from)),
            ["beta", "gamma", "prod", "canary"]
        );
        let custom = EnvironmentOrder::new(vec!["eu".into(), "us".into()]);
        assert!(custom.is_production("us") && custom.is_production("prod"));
        assert!(!custom.is_production("eu"));
    }

    #[test]
    fn current_is_the_last_deploy_that_reached_the_environment() {
        let deployments = vec![
            deploy("1", "prod", "v1", 300, DeployStatus::Inactive),
            deploy("2", "prod", "v2", 200, DeployStatus::Success),
            deploy("3", "prod", "v3", 10, DeployStatus::Failure),
            deploy("4", "beta", "v3", 100, DeployStatus::Success),
        ];
        let envs = environments_now(&deployments, &[], &EnvironmentOrder::default());
        assert_eq!(envs[0].environment, "beta");
        assert_eq!(envs[0].latest, None);
        assert_eq!(envs[1].current.as_ref().unwrap().version, "v2");
        assert_eq!(envs[1].latest.as_ref().unwrap().version, "v3");
    }

    #[test]
    fn a_release_held_for_approval_is_pending_promotion_and_says_why() {
        let deployments = vec![
            deploy("1", "beta", "v5.2.0", 600, DeployStatus::Success),
            deploy("2", "gamma", "v5.2.0", 400, DeployStatus::Success),
            deploy("3", "prod", "v5.1.4", 5000, DeployStatus::Success),
            deploy("4", "prod", "v5.2.0", 60, DeployStatus::Waiting),
        ];
        let order = EnvironmentOrder::default();
        let envs = environments_now(&deployments, &[], &order);
        let stages = pipeline(&[], &envs, Duration::hours(1), at(0));
        let prod = stages.iter().find(|s| s.name == "prod").unwrap();
        assert_eq!(prod.waiting, Some(WaitReason::Approval));
        assert_eq!(prod.version.as_deref(), Some("v5.2.0"));
        let pending = pending_promotion(&envs, &order).unwrap();
        assert_eq!(
            (pending.from_environment.as_str(), pending.version.as_str()),
            ("gamma", "v5.2.0")
        );
        assert_eq!(pending.production_version.as_deref(), Some("v5.1.4"));
        assert_eq!(
            comparisons_worth_caching(&deployments, &envs, &order),
            [("v5.1.4-sha".to_string(), "v5.2.0-sha".to_string())]
        );
    }

    #[test]
    fn a_failed_test_blocks_the_environments_after_it() {
        let runs = vec![
            run("build", "aaa1111", 50, DeployStatus::Success),
            run("test", "aaa1111", 45, DeployStatus::Failure),
            run("build", "0001111", 500, DeployStatus::Success),
        ];
        let deployments = vec![deploy("1", "beta", "v1", 400, DeployStatus::Success)];
        let envs = environments_now(&deployments, &[], &EnvironmentOrder::default());
        let stages = pipeline(&runs, &envs, Duration::hours(1), at(0));
        let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["build", "test", "beta"]);
        assert_eq!(stages[1].status, DeployStatus::Failure);
        assert_eq!(stages[1].duration_seconds, Some(180));
        assert_eq!(
            stages[2].waiting,
            Some(WaitReason::FailedCheck {
                stage: "test".into()
            })
        );
    }

    #[test]
    fn a_fresh_version_bakes_before_it_moves_on() {
        let deployments = vec![
            deploy("1", "gamma", "v2", 30, DeployStatus::Success),
            deploy("2", "prod", "v1", 900, DeployStatus::Success),
        ];
        let envs = environments_now(&deployments, &[], &EnvironmentOrder::default());
        let stages = pipeline(&[], &envs, Duration::hours(1), at(0));
        assert_eq!(
            stages[1].waiting,
            Some(WaitReason::BakeTime {
                until: at(28) + Duration::hours(1)
            })
        );
        let later = pipeline(&[], &envs, Duration::hours(1), at(-120));
        assert_eq!(later[1].waiting, None);
    }

    #[test]
    fn versions_come_from_tags_and_shas_are_shortened() {
        assert_eq!(version_of_ref("v2.14.0", "abc"), "v2.14.0");
        assert_eq!(version_of_ref("refs/tags/v1", "abc"), "v1");
        let sha = "7638417db6d59f3c431d3e1f261cc637155684cd";
        assert_eq!(version_of_ref(sha, sha), "7638417");
        assert_eq!(version_of_ref("", sha), "7638417");
        assert_eq!(
            DeployStatus::from_run(Some("completed"), Some("timed_out")),
            DeployStatus::Failure
        );
        assert_eq!(
            DeployStatus::from_run(Some("waiting"), None),
            DeployStatus::Waiting
        );
        assert_eq!("in_progress".parse(), Ok(DeployStatus::InProgress));
        assert!("bogus".parse::<DeployStatus>().is_err());
    }

    #[test]
    fn targets_round_trip_through_their_keys() {
        for target in [
            DeliveryTarget::GithubRepo("demo-org/checkout-api".into()),
            DeliveryTarget::ArgoApp("cart-service".into()),
            DeliveryTarget::ArgoSelector("app.kubernetes.io/name=checkout-api".into()),
        ] {
            assert_eq!(DeliveryTarget::from_key(&target.key()), Some(target));
        }
        assert_eq!(DeliveryTarget::from_key("svn:x"), None);
    }

    #[test]
    fn only_owner_slash_repo_is_a_slug() {
        assert!(is_github_slug("demo-org/checkout-api"));
        assert!(is_github_slug("o/r.js"));
        for bad in [
            "o", "o/r/x", "../x", "o/..", "o/r?x=1", "o/r#x", "/r", "o/r%2f", "o/ r",
        ] {
            assert!(!is_github_slug(bad), "{bad}");
        }
    }

    #[test]
    fn only_safe_wirings_are_read_back() {
        for bad in [
            "github:o/../x",
            "github:../x",
            "github:o/r?x=1",
            "github:o/r#x",
            "github:o/%2e%2e",
            "github:o/r/extra",
            "argocd-app:..",
            "argocd-app:a/b",
            "argocd-app:Upper",
            "argocd-app:a..b",
        ] {
            assert_eq!(DeliveryTarget::from_key(bad), None, "{bad}");
        }
        assert_eq!(
            DeliveryTarget::from_key("github:demo-org/checkout.api"),
            Some(DeliveryTarget::GithubRepo("demo-org/checkout.api".into()))
        );
        assert_eq!(
            DeliveryTarget::from_key("argocd-app:checkout-api.prod"),
            Some(DeliveryTarget::ArgoApp("checkout-api.prod".into()))
        );
    }

    #[test]
    fn an_unsafe_wiring_is_the_catalogs_problem() {
        let component = |annotations: serde_json::Value| -> crate::Entity {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": "svc", "annotations": annotations},
                "spec": {"type": "service", "lifecycle": "production", "owner": "team"}
            }))
            .unwrap()
        };
        assert_eq!(
            wiring_problem(&component(serde_json::json!({
                "github.com/project-slug": "acme/../../orgs/acme/members?x=",
                "argocd/app-name": "fine-app"
            }))),
            Some("component:default/svc: annotation github.com/project-slug 'acme/../../orgs/acme/members?x=' is not owner/repo; its deliveries are not read".into())
        );
        assert!(
            wiring_problem(&component(serde_json::json!({"argocd/app-name": ".."})))
                .unwrap()
                .contains("argocd/app-name '..' is not a Kubernetes name")
        );
        assert_eq!(
            wiring_problem(&component(serde_json::json!({
                "github.com/project-slug": "acme/web",
                "argocd/app-name": "web-prod"
            }))),
            None
        );
    }

    proptest::proptest! {
        #[test]
        fn a_valid_slug_or_name_never_leaves_its_path_segment(text in "\\PC{0,40}") {
            if is_github_slug(&text) {
                let url = url::Url::parse("https://h/api/repos/").unwrap().join(&text).unwrap();
                proptest::prop_assert_eq!(url.path(), format!("/api/repos/{text}"));
            }
            if is_kubernetes_name(&text) {
                let url = url::Url::parse("https://h/applications/").unwrap().join(&text).unwrap();
                proptest::prop_assert_eq!(url.path(), format!("/applications/{text}"));
            }
        }
    }
}
