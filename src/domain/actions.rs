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
}

impl ActionKind {
    /// Every kind, for parsing and checks.
    pub const ALL: [Self; 3] = [Self::Rollback, Self::RunbookOpen, Self::RunbookRun];

    /// The word the audit log stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rollback => "rollback",
            Self::RunbookOpen => "runbook-open",
            Self::RunbookRun => "runbook-run",
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

/// What an action acts on besides its service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[ts(export)]
pub enum ActionTarget {
    /// One environment the service runs in.
    Environment {
        /// Its name.
        name: String,
    },
    /// A workflow of the service's repository.
    Workflow {
        /// Its file, e.g. `drain-region.yml`.
        workflow: String,
    },
    /// The service alone (a runbook page opened).
    Service,
}

impl ActionTarget {
    /// An environment.
    pub fn environment(name: impl Into<String>) -> Self {
        Self::Environment { name: name.into() }
    }

    /// What the audit log stores: the target's kind and its value.
    pub fn columns(&self) -> (&'static str, &str) {
        match self {
            Self::Environment { name } => ("environment", name),
            Self::Workflow { workflow } => ("workflow", workflow),
            Self::Service => ("service", ""),
        }
    }

    /// The target stored columns name.
    pub fn from_columns(kind: &str, value: &str) -> Option<Self> {
        match kind {
            "environment" => Some(Self::environment(value)),
            "workflow" => Some(Self::Workflow {
                workflow: value.to_string(),
            }),
            "service" => Some(Self::Service),
            _ => None,
        }
    }

    /// For people: the environment, the workflow, or `-`.
    pub fn label(&self) -> &str {
        match self {
            Self::Environment { name } => name,
            Self::Workflow { workflow } => workflow,
            Self::Service => "-",
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
            ActionTarget::environment("prod"),
            ActionTarget::Workflow {
                workflow: "drain-region.yml".into(),
            },
            ActionTarget::Service,
        ] {
            let (kind, value) = target.columns();
            assert_eq!(
                ActionTarget::from_columns(kind, value),
                Some(target.clone())
            );
        }
        assert_eq!(ActionKind::parse("rm -rf"), None);
        assert_eq!(ActionTarget::from_columns("host", "x"), None);
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
