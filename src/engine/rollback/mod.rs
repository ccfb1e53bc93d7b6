//! Rolling a service back in one environment: plan (the cache plus one fresh read of the
//! platform, no side effects), confirm (the plan's key, an override when the user neither owns
//! the service nor is on call for it), execute (exactly one call per key, written to the audit
//! log before it is made), track (the platform read until healthy, failed or timed out) and
//! tell PagerDuty. The audit log holds every step.

mod argocd;

pub(crate) use argocd::AUTOMATED_SYNC_SWITCHED_OFF;
mod execute;
mod github_deployment;
mod github_workflow;
mod plan;

use argocd::ArgoCdRollback;
use github_deployment::GithubDeploymentRollback;
use github_workflow::GithubWorkflowRollback;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::actions::{no_token, Act, Follow};
use super::audit::entry_of;
use super::delivery::deployment_row;
use crate::api::{
    AuditEntry, PlannedCall, RollbackConfirmation, RollbackPlan, RollbackProgress, ServiceRef,
};
use crate::config::{SourceConfig, SourceKind};
use crate::connectors::argocd::{automated_sync_body, rollback_body, ArgoCdConnector};
use crate::connectors::github::GithubConnector;
use crate::connectors::http::RequestMeter;
use crate::connectors::pagerduty::ChangeEvents;
use crate::connectors::{ConnectorError, Endpoint};
use crate::domain::actions::{ActionKind, ActionTarget, Step};
use crate::domain::delivery::{DeliveryTarget, Deployment};
use crate::domain::rollback::{
    choose_target, needs_ownership_override, rollback_candidates, state_of_application,
    state_of_status, unresolved, Answerable, ArgoHistory, Blocker, BlockerKind, Executor,
    RollbackCandidate, RollbackState, ROLLBACK_ANNOTATION,
};
use crate::store::{key_name, Begun};
use crate::{Engine, Error, Result, Scope};

/// How long a plan may be confirmed after it was made.
const PLAN_LIFETIME_MINUTES: i64 = 10;

/// The annotation that routes a service's change events to PagerDuty.
const INTEGRATION_KEY_ANNOTATION: &str = "pagerduty.com/integration-key";

/// A confirmed plan's calls, as the engine keeps them (never as the web view sent them).
#[derive(Debug, Clone)]
pub(crate) struct PendingRollback {
    plan: RollbackPlan,
    how: How,
}

/// How the executor's platform is called and read.
#[derive(Debug, Clone)]
enum How {
    Argocd(ArgoCdRollback),
    GithubDeployment(GithubDeploymentRollback),
    GithubWorkflow(GithubWorkflowRollback),
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
    act: Act,
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

fn source_kind_of(executor: &Executor) -> SourceKind {
    match executor {
        Executor::Argocd => SourceKind::Argocd,
        _ => SourceKind::Github,
    }
}

/// Where an already confirmed rollback stands, from its audit entry.
fn progress_of_entry(entry: &AuditEntry) -> RollbackProgress {
    let state = serde_json::from_value(Value::String(entry.state.clone()))
        .unwrap_or(RollbackState::Unknown);
    RollbackProgress {
        key: entry.key.clone(),
        service: entry.service.clone(),
        environment: entry.target.label().to_string(),
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
