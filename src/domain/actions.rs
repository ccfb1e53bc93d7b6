//! What Opsdeck does to platforms, as its audit log records it: the kind of action, its steps,
//! and what it acts on besides its service. Every state-changing call is one of these.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A kind of action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum ActionKind {
    /// A service rolled back in one environment.
    Rollback,
    /// A runbook opened or read.
    RunbookOpen,
    /// An automated runbook (a workflow) run.
    RunbookRun,
    /// A PagerDuty incident acknowledged.
    IncidentAcknowledge,
    /// A PagerDuty incident resolved.
    IncidentResolve,
    /// A PagerDuty incident reassigned to a user or an escalation level.
    IncidentReassign,
    /// A PagerDuty incident's urgency changed.
    IncidentUrgency,
    /// A note added to a PagerDuty incident.
    IncidentNote,
    /// An Alertmanager silence created.
    Silence,
    /// An Alertmanager silence expired.
    SilenceExpire,
    /// An Argo CD application synced to what Git says.
    ArgocdSync,
    /// An Argo CD application's automated sync switched back on.
    ArgocdAutoSync,
}

impl ActionKind {
    /// Every kind, for parsing and checks.
    pub const ALL: [Self; 12] = [
        Self::Rollback,
        Self::RunbookOpen,
        Self::RunbookRun,
        Self::IncidentAcknowledge,
        Self::IncidentResolve,
        Self::IncidentReassign,
        Self::IncidentUrgency,
        Self::IncidentNote,
        Self::Silence,
        Self::SilenceExpire,
        Self::ArgocdSync,
        Self::ArgocdAutoSync,
    ];

    /// The word the audit log stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rollback => "rollback",
            Self::RunbookOpen => "runbook-open",
            Self::RunbookRun => "runbook-run",
            Self::IncidentAcknowledge => "incident-acknowledge",
            Self::IncidentResolve => "incident-resolve",
            Self::IncidentReassign => "incident-reassign",
            Self::IncidentUrgency => "incident-urgency",
            Self::IncidentNote => "incident-note",
            Self::Silence => "silence",
            Self::SilenceExpire => "silence-expire",
            Self::ArgocdSync => "argocd-sync",
            Self::ArgocdAutoSync => "argocd-auto-sync",
        }
    }

    /// What it does, for people: "acknowledge the incident".
    pub fn label(self) -> &'static str {
        match self {
            Self::Rollback => "roll back",
            Self::RunbookOpen => "open a runbook",
            Self::RunbookRun => "run a runbook",
            Self::IncidentAcknowledge => "acknowledge the incident",
            Self::IncidentResolve => "resolve the incident",
            Self::IncidentReassign => "reassign the incident",
            Self::IncidentUrgency => "change the incident's urgency",
            Self::IncidentNote => "add a note to the incident",
            Self::Silence => "silence the alert",
            Self::SilenceExpire => "expire the silence",
            Self::ArgocdSync => "sync the application",
            Self::ArgocdAutoSync => "turn automated sync back on",
        }
    }

    /// The kind a stored word names.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A step of an action, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Step {
    /// Written, and flushed, before the call: the action was asked for.
    Requested,
    /// The platform's answer to the one call (or that it is unknown).
    Answered,
    /// A change seen while following it.
    Progress,
    /// Its outcome.
    Finished,
    /// Others were told (a PagerDuty change event).
    Notified,
}

impl Step {
    /// Every step, for parsing and checks.
    pub const ALL: [Self; 5] = [
        Self::Requested,
        Self::Answered,
        Self::Progress,
        Self::Finished,
        Self::Notified,
    ];

    /// The word the audit log stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Answered => "answered",
            Self::Progress => "progress",
            Self::Finished => "finished",
            Self::Notified => "notified",
        }
    }

    /// The step a stored word names.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What an action acts on besides its service: what holds off a second action on the same
/// thing, whichever service asks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[ts(export)]
pub enum ActionTarget {
    /// Where something is deployed in one environment: a platform target as the delivery
    /// wiring keys it (`argocd-app:checkout`, `github:acme/web`). Every service wired to it
    /// shares it, so a rollback from one holds off a rollback from another.
    Deployment {
        /// The platform target's key.
        target: String,
        /// The environment.
        environment: String,
    },
    /// A workflow of a repository at a ref.
    Workflow {
        /// `owner/repo`; empty in entries written before it was recorded.
        repo: String,
        /// Its file, e.g. `drain-region.yml`.
        workflow: String,
        /// The branch or tag it runs from; empty in entries written before it was recorded.
        git_ref: String,
    },
    /// The service alone (a runbook page opened).
    Service,
    /// An environment of the service, as entries written before deployments were keyed by
    /// their platform target name it.
    Environment {
        /// Its name.
        name: String,
    },
    /// A PagerDuty incident.
    Incident {
        /// PagerDuty's id.
        id: String,
    },
    /// An Alertmanager silence: the one `id` names, or a new one over `matchers`.
    Silence {
        /// Alertmanager's id; empty for a silence not created yet.
        id: String,
        /// Its matchers, in Alertmanager's syntax.
        matchers: String,
    },
}

impl ActionTarget {
    /// What the audit log stores: the target's kind, its value and its detail.
    pub fn columns(&self) -> (&'static str, String, &str) {
        match self {
            Self::Deployment {
                target,
                environment,
            } => ("deployment", target.clone(), environment),
            Self::Workflow {
                repo,
                workflow,
                git_ref,
            } if repo.is_empty() => ("workflow", workflow.clone(), git_ref),
            Self::Workflow {
                repo,
                workflow,
                git_ref,
            } => ("workflow", format!("{repo}/{workflow}"), git_ref),
            Self::Service => ("service", String::new(), ""),
            Self::Environment { name } => ("environment", name.clone(), ""),
            Self::Incident { id } => ("incident", id.clone(), ""),
            Self::Silence { id, matchers } => ("silence", id.clone(), matchers),
        }
    }

    /// The target stored columns name.
    pub fn from_columns(kind: &str, value: &str, detail: &str) -> Option<Self> {
        match kind {
            "deployment" => Some(Self::Deployment {
                target: value.to_string(),
                environment: detail.to_string(),
            }),
            // A workflow's file name has no `/`; what comes before the last one is the repo.
            "workflow" => {
                let (repo, workflow) = value.rsplit_once('/').unwrap_or(("", value));
                Some(Self::Workflow {
                    repo: repo.to_string(),
                    workflow: workflow.to_string(),
                    git_ref: detail.to_string(),
                })
            }
            "service" => Some(Self::Service),
            "environment" => Some(Self::Environment {
                name: value.to_string(),
            }),
            "incident" => Some(Self::Incident {
                id: value.to_string(),
            }),
            "silence" => Some(Self::Silence {
                id: value.to_string(),
                matchers: detail.to_string(),
            }),
            _ => None,
        }
    }

    /// For people: the environment, the workflow, or `-`.
    pub fn label(&self) -> &str {
        match self {
            Self::Deployment { environment, .. } => environment,
            Self::Workflow { workflow, .. } => workflow,
            Self::Service => "-",
            Self::Environment { name } => name,
            Self::Incident { id } => id,
            Self::Silence { id, matchers } if id.is_empty() => matchers,
            Self::Silence { id, .. } => id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_words_read_back() {
        for kind in ActionKind::ALL {
            assert_eq!(ActionKind::parse(kind.as_str()), Some(kind));
        }
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
        for target in [
            ActionTarget::Deployment {
                target: "argocd-app:checkout".into(),
                environment: "prod".into(),
            },
            ActionTarget::Workflow {
                repo: "acme/web".into(),
                workflow: "drain-region.yml".into(),
                git_ref: "main".into(),
            },
            ActionTarget::Workflow {
                repo: String::new(),
                workflow: "drain-region.yml".into(),
                git_ref: String::new(),
            },
            ActionTarget::Service,
            ActionTarget::Environment {
                name: "prod".into(),
            },
            ActionTarget::Incident {
                id: "Q1W2E3".into(),
            },
            ActionTarget::Silence {
                id: String::new(),
                matchers: "{alertname=\"HighErrorRate\", service=\"checkout-api\"}".into(),
            },
        ] {
            let (kind, value, detail) = target.columns();
            assert_eq!(
                ActionTarget::from_columns(kind, &value, detail),
                Some(target.clone())
            );
        }
        assert_eq!(ActionKind::parse("rm -rf"), None);
        assert_eq!(ActionTarget::from_columns("host", "x", ""), None);
    }

    #[test]
    fn kinds_serialize_as_the_log_stores_them() {
        assert_eq!(
            serde_json::to_value(ActionKind::RunbookRun).unwrap(),
            "runbook-run"
        );
        assert_eq!(serde_json::to_value(Step::Finished).unwrap(), "finished");
    }
}
