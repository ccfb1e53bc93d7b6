//! Rollback rules: which platform rolls a service back, to which version, what stands in the
//! way, and how a platform's answers read as the rollback's progress. No I/O: the engine
//! brings the cache, the platforms' answers and the audit log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::delivery::{DeployStatus, Deployment};

/// The annotation that chooses a component's rollback executor.
pub const ROLLBACK_ANNOTATION: &str = "opsdeck.io/rollback";

/// The branch a rollback workflow is dispatched on when the annotation names none.
pub const DEFAULT_WORKFLOW_REF: &str = "main";

/// How a service is rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[ts(export)]
pub enum Executor {
    /// Argo CD's rollback to a history entry of the environment's application.
    Argocd,
    /// A new GitHub deployment of the target's commit.
    GithubDeployment,
    /// A GitHub Actions workflow dispatched with inputs `environment` and `version`.
    GithubWorkflow {
        /// The workflow file, e.g. `rollback.yml`.
        workflow: String,
        /// The branch or tag the workflow runs from.
        git_ref: String,
    },
}

impl Executor {
    /// What the annotation `opsdeck.io/rollback` says, else what the component is wired to:
    /// Argo CD first (it owns what runs), then GitHub deployments. `None` when nothing is wired.
    pub fn of_component(annotations: &BTreeMap<String, String>) -> Result<Option<Self>, String> {
        if let Some(chosen) = annotations.get(ROLLBACK_ANNOTATION) {
            return chosen.parse().map(Some);
        }
        if annotations.contains_key("argocd/app-name")
            || annotations.contains_key("argocd/app-selector")
        {
            return Ok(Some(Self::Argocd));
        }
        Ok(annotations
            .contains_key("github.com/project-slug")
            .then_some(Self::GithubDeployment))
    }

    /// The name a person reads in the plan.
    pub fn describe(&self) -> String {
        match self {
            Self::Argocd => "Argo CD rollback".into(),
            Self::GithubDeployment => "GitHub deployment".into(),
            Self::GithubWorkflow { workflow, git_ref } => {
                format!("GitHub Actions workflow {workflow} on {git_ref}")
            }
        }
    }
}

impl std::str::FromStr for Executor {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        match text {
            "argocd" => return Ok(Self::Argocd),
            "github-deployment" => return Ok(Self::GithubDeployment),
            _ => {}
        }
        if let Some(spec) = text.strip_prefix("github-workflow:") {
            let (workflow, git_ref) = spec.split_once('@').unwrap_or((spec, DEFAULT_WORKFLOW_REF));
            let valid = !workflow.is_empty()
                && !git_ref.is_empty()
                && workflow
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if valid {
                return Ok(Self::GithubWorkflow {
                    workflow: workflow.to_string(),
                    git_ref: git_ref.to_string(),
                });
            }
        }
        Err(format!(
            "{ROLLBACK_ANNOTATION}: '{text}' is not a rollback executor; use argocd, github-deployment or github-workflow:<file>[@<ref>]"
        ))
    }
}

/// A version a service can go back to in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RollbackCandidate {
    /// The version.
    pub version: String,
    /// Its commit.
    pub commit: Option<String>,
    /// The deployment that last brought it there.
    pub deployment_id: String,
    /// When that deployment started.
    #[ts(type = "string")]
    pub deployed_at: chrono::DateTime<chrono::Utc>,
}

/// The versions that ran healthy in an environment before `current`, newest first, each once:
/// the first is the default target. `deployments` are the environment's, in any order.
pub fn rollback_candidates(
    deployments: &[Deployment],
    current: &Deployment,
) -> Vec<RollbackCandidate> {
    let mut earlier: Vec<&Deployment> = deployments
        .iter()
        .filter(|d| d.environment == current.environment)
        .filter(|d| d.status.reached() && d.started_at < current.started_at)
        .filter(|d| d.version != current.version)
        .collect();
    earlier.sort_by_key(|d| std::cmp::Reverse(d.started_at));
    let mut out: Vec<RollbackCandidate> = Vec::new();
    for d in earlier {
        if out.iter().any(|c| c.version == d.version) {
            continue;
        }
        out.push(RollbackCandidate {
            version: d.version.clone(),
            commit: d.commit.clone(),
            deployment_id: d.id.clone(),
            deployed_at: d.started_at,
        });
    }
    out
}

/// What Argo CD keeps of an application: it can only roll back to these entries.
#[derive(Debug, Clone, Copy)]
pub struct ArgoHistory<'a> {
    /// The application.
    pub app: &'a str,
    /// How many syncs it keeps.
    pub kept: usize,
}

/// The version to go back to: `asked`, when it is among `candidates`, else the first (the
/// last that ran healthy before the current). When it is not: why, naming the versions that
/// can be picked, or that Argo CD no longer keeps it when the cache still knows it ran
/// healthy there (`known_earlier`).
pub fn choose_target(
    candidates: &[RollbackCandidate],
    asked: Option<&str>,
    known_earlier: &[RollbackCandidate],
    argo: Option<ArgoHistory<'_>>,
    environment: &str,
) -> Result<RollbackCandidate, Blocker> {
    let Some(version) = asked else {
        return candidates.first().cloned().ok_or_else(|| {
            Blocker::new(
                BlockerKind::NoTarget,
                format!("no earlier version ran healthy in {environment}"),
            )
        });
    };
    if let Some(found) = candidates.iter().find(|c| c.version == version) {
        return Ok(found.clone());
    }
    let ran_here = known_earlier.iter().any(|c| c.version == version);
    Err(match argo {
        Some(ArgoHistory { app, kept }) if ran_here => Blocker::new(
            BlockerKind::OutsideHistory,
            format!(
                "Argo CD keeps the last {kept} syncs of {app} and {version} is no longer among them: roll back through Git, or pick a newer version"
            ),
        ),
        _ => {
            let pickable: Vec<&str> = candidates.iter().take(10).map(|c| c.version.as_str()).collect();
            Blocker::new(
                BlockerKind::NoTarget,
                format!(
                    "{version} did not run healthy in {environment} before the current version; pick one of: {}",
                    if pickable.is_empty() { "none".to_string() } else { pickable.join(", ") }
                ),
            )
        }
    })
}

/// Why a plan cannot be carried out as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum BlockerKind {
    /// The component names no executor and is wired to no platform that can roll back.
    NoExecutor,
    /// The executor's platform is not a configured source.
    NoSource,
    /// No token for the executor's source.
    NoToken,
    /// The executor's source is reached over plain `http://` on another machine.
    Insecure,
    /// Nothing known runs in the environment.
    NothingRunning,
    /// No earlier version ran healthy there, or the chosen one is not among them.
    NoTarget,
    /// Argo CD no longer keeps the target in the application's history.
    OutsideHistory,
    /// Argo CD syncs the application automatically: it refuses a rollback until that is off.
    AutomatedSync,
    /// Another deploy or rollback of the service in that environment is not finished.
    InFlight,
    /// The platform could not be read for the plan's fresh look.
    PlatformUnreadable,
}

/// One reason a plan cannot run, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Blocker {
    /// What kind.
    pub kind: BlockerKind,
    /// What it is and what to do.
    pub message: String,
    /// Whether a step of the plan the user can consent to resolves it (automated sync).
    pub resolvable: bool,
}

impl Blocker {
    /// A blocker no consent can lift.
    pub fn new(kind: BlockerKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            resolvable: false,
        }
    }
}

/// Whether a service, or another service wired to the same target, is mine to act for: one of
/// my teams owns it, or I am on call for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answerable {
    /// One of my teams owns it.
    pub owned_by_my_team: bool,
    /// I am on call for it.
    pub me_on_call: bool,
}

impl Answerable {
    fn is_mine(self) -> bool {
        self.owned_by_my_team || self.me_on_call
    }
}

/// What the user must do beyond confirming: type the service name when it is not theirs to act
/// for, or when any other service wired to the same target (`claims`) is not: a rollback
/// acts for all of them, and anyone who can edit a catalog can wire one.
pub fn needs_ownership_override(service: Answerable, claims: &[Answerable]) -> bool {
    !service.is_mine() || !claims.iter().all(|c| c.is_mine())
}

/// The blockers that remain once the user consented (or not) to switching automated sync off.
pub fn unresolved(blockers: &[Blocker], disable_automated_sync: bool) -> Vec<&Blocker> {
    blockers
        .iter()
        .filter(|b| !(b.resolvable && disable_automated_sync))
        .collect()
}

/// Where a rollback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RollbackState {
    /// Written to the audit log; the call is being made.
    Requested,
    /// The platform accepted it.
    Accepted,
    /// The platform is rolling out the target.
    InProgress,
    /// The target runs and is healthy.
    Succeeded,
    /// The platform refused it or the rollout failed.
    Failed,
    /// The call may or may not have reached the platform; it is being re-read, never retried.
    Unknown,
    /// No end state within the configured time.
    TimedOut,
}

impl RollbackState {
    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimedOut)
    }

    /// The snake-case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Accepted => "accepted",
            Self::InProgress => "in_progress",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
            Self::TimedOut => "timed_out",
        }
    }
}

/// How a rollback's deployment status reads as its state: GitHub's statuses and an Actions
/// run's conclusion both come as a [`DeployStatus`].
pub fn state_of_status(status: DeployStatus) -> RollbackState {
    match status {
        DeployStatus::Success | DeployStatus::Inactive => RollbackState::Succeeded,
        DeployStatus::Failure | DeployStatus::Error | DeployStatus::Cancelled => {
            RollbackState::Failed
        }
        DeployStatus::Queued | DeployStatus::Pending | DeployStatus::Waiting => {
            RollbackState::Accepted
        }
        DeployStatus::InProgress | DeployStatus::Unknown => RollbackState::InProgress,
    }
}

/// How an Argo CD application reads as the state of a rollback to `target_revision`: its
/// operation's phase first, then whether it runs the target and how healthy it is.
pub fn state_of_application(
    operation_phase: Option<&str>,
    revision: Option<&str>,
    health: Option<&str>,
    target_revision: &str,
) -> RollbackState {
    match operation_phase {
        Some("Running" | "Terminating") => return RollbackState::InProgress,
        Some("Failed" | "Error") => return RollbackState::Failed,
        _ => {}
    }
    if revision != Some(target_revision) {
        return RollbackState::Accepted;
    }
    match health {
        Some("Healthy") => RollbackState::Succeeded,
        Some("Degraded" | "Missing") => RollbackState::Failed,
        _ => RollbackState::InProgress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_annotation_wins_else_argo_cd_then_github() {
        let workflow = annotations(&[
            ("github.com/project-slug", "o/r"),
            (ROLLBACK_ANNOTATION, "github-workflow:rollback.yml"),
        ]);
        assert_eq!(
            Executor::of_component(&workflow),
            Ok(Some(Executor::GithubWorkflow {
                workflow: "rollback.yml".into(),
                git_ref: "main".into()
            }))
        );
        let pinned = annotations(&[(ROLLBACK_ANNOTATION, "github-workflow:undo.yaml@release")]);
        assert!(matches!(
            Executor::of_component(&pinned),
            Ok(Some(Executor::GithubWorkflow { git_ref, .. })) if git_ref == "release"
        ));
        let both = annotations(&[
            ("github.com/project-slug", "o/r"),
            ("argocd/app-selector", "app=x"),
        ]);
        assert_eq!(Executor::of_component(&both), Ok(Some(Executor::Argocd)));
        let github = annotations(&[("github.com/project-slug", "o/r")]);
        assert_eq!(
            Executor::of_component(&github),
            Ok(Some(Executor::GithubDeployment))
        );
        assert_eq!(Executor::of_component(&annotations(&[])), Ok(None));
        for bad in ["helm", "github-workflow:", "github-workflow:../x.yml"] {
            let err =
                Executor::of_component(&annotations(&[(ROLLBACK_ANNOTATION, bad)])).unwrap_err();
            assert!(err.contains("argocd, github-deployment"), "{err}");
        }
    }

    fn deploy(id: &str, version: &str, hours_ago: i64, status: DeployStatus) -> Deployment {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap();
        Deployment {
            id: id.into(),
            target: "t".into(),
            environment: "prod".into(),
            version: version.into(),
            commit: Some(format!("{version}-sha")),
            actor: None,
            started_at: now - Duration::hours(hours_ago),
            finished_at: None,
            status,
            link: None,
            rolled_back_from: None,
            description: None,
        }
    }

    #[test]
    fn candidates_are_earlier_healthy_versions_newest_first_each_once() {
        let current = deploy("9", "v3", 1, DeployStatus::Success);
        let history = vec![
            deploy("1", "v1", 50, DeployStatus::Inactive),
            deploy("2", "v2", 40, DeployStatus::Inactive),
            deploy("3", "v2.1", 30, DeployStatus::Failure),
            deploy("4", "v1", 20, DeployStatus::Inactive),
            deploy("5", "v3", 10, DeployStatus::Inactive),
            current.clone(),
        ];
        let candidates = rollback_candidates(&history, &current);
        let versions: Vec<&str> = candidates.iter().map(|c| c.version.as_str()).collect();
        assert_eq!(
            versions,
            ["v1", "v2"],
            "failed and current versions are not targets"
        );
        assert_eq!(candidates[0].deployment_id, "4");
    }

    #[test]
    fn the_target_is_the_asked_version_or_the_last_healthy_one_and_says_why_not() {
        let current = deploy("9", "v3", 1, DeployStatus::Success);
        let history = vec![
            deploy("1", "v1", 50, DeployStatus::Inactive),
            deploy("2", "v2", 40, DeployStatus::Inactive),
            current.clone(),
        ];
        let all = rollback_candidates(&history, &current);
        let kept = rollback_candidates(&history[1..], &current);
        assert_eq!(
            choose_target(&all, None, &all, None, "prod")
                .unwrap()
                .version,
            "v2"
        );
        assert_eq!(
            choose_target(&all, Some("v1"), &all, None, "prod")
                .unwrap()
                .version,
            "v1"
        );
        let argo = Some(ArgoHistory {
            app: "a-prod",
            kept: 2,
        });
        let gone = choose_target(&kept, Some("v1"), &all, argo, "prod").unwrap_err();
        assert_eq!(gone.kind, BlockerKind::OutsideHistory);
        assert!(
            gone.message.contains("last 2 syncs of a-prod"),
            "{}",
            gone.message
        );
        let unknown = choose_target(&all, Some("v9"), &all, argo, "prod").unwrap_err();
        assert_eq!(unknown.kind, BlockerKind::NoTarget);
        assert!(
            unknown.message.ends_with("pick one of: v2, v1"),
            "{}",
            unknown.message
        );
        let none = choose_target(&[], None, &[], None, "prod").unwrap_err();
        assert_eq!(none.message, "no earlier version ran healthy in prod");
    }

    #[test]
    fn an_override_is_needed_only_without_ownership_or_a_shift() {
        let answerable = |owned_by_my_team, me_on_call| Answerable {
            owned_by_my_team,
            me_on_call,
        };
        let (owned, on_call, neither) = (
            answerable(true, false),
            answerable(false, true),
            answerable(false, false),
        );
        assert!(!needs_ownership_override(owned, &[]));
        assert!(!needs_ownership_override(on_call, &[owned, on_call]));
        assert!(needs_ownership_override(neither, &[]));
        // Mine, but wired to the same application as another team's service.
        assert!(needs_ownership_override(owned, &[owned, neither]));
    }

    #[test]
    fn consent_lifts_only_the_automated_sync_blocker() {
        let blockers = vec![
            Blocker {
                kind: BlockerKind::AutomatedSync,
                message: "auto".into(),
                resolvable: true,
            },
            Blocker::new(BlockerKind::InFlight, "busy"),
        ];
        assert_eq!(unresolved(&blockers, false).len(), 2);
        let left = unresolved(&blockers, true);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].kind, BlockerKind::InFlight);
    }

    #[test]
    fn platform_answers_read_as_rollback_states() {
        assert_eq!(
            state_of_status(DeployStatus::Queued),
            RollbackState::Accepted
        );
        assert_eq!(
            state_of_status(DeployStatus::InProgress),
            RollbackState::InProgress
        );
        assert_eq!(
            state_of_status(DeployStatus::Success),
            RollbackState::Succeeded
        );
        assert_eq!(state_of_status(DeployStatus::Error), RollbackState::Failed);
        let target = "aaa";
        let read = |phase, revision, health| state_of_application(phase, revision, health, target);
        assert_eq!(
            read(Some("Running"), Some("bbb"), Some("Healthy")),
            RollbackState::InProgress
        );
        assert_eq!(
            read(Some("Succeeded"), Some("bbb"), Some("Healthy")),
            RollbackState::Accepted,
            "the old revision still runs"
        );
        assert_eq!(
            read(Some("Succeeded"), Some("aaa"), Some("Progressing")),
            RollbackState::InProgress
        );
        assert_eq!(
            read(Some("Succeeded"), Some("aaa"), Some("Healthy")),
            RollbackState::Succeeded
        );
        assert_eq!(
            read(Some("Succeeded"), Some("aaa"), Some("Degraded")),
            RollbackState::Failed
        );
        assert_eq!(read(Some("Error"), None, None), RollbackState::Failed);
        assert!(RollbackState::TimedOut.is_final() && !RollbackState::Unknown.is_final());
    }
}
