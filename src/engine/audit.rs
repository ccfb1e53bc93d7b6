//! The audit log as people read it: each action's steps merged into one entry, newest first,
//! and as JSON lines for export.

use std::collections::HashMap;

use serde_json::Value;

use crate::api::{
    AuditBreak, AuditEntry, AuditStepRow, AuditVerification, PlannedCall, ServiceRef,
};
use crate::domain::actions::Step;
use crate::store::{key_name, AuditStep};
use crate::{Engine, Error, Result};

impl Engine {
    /// The audit log, newest action first (of one service, when given).
    pub async fn audit(&self, service: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
        let key = match service {
            Some(name) => Some(self.service_key(name).await?),
            None => None,
        };
        let steps = self.store().audit_steps(key.as_deref(), limit).await?;
        Ok(entries_newest_first(steps))
    }

    /// Checks the whole audit log's chain: how many entries hold, and the first that does not
    /// (edited, deleted or reordered outside Opsdeck).
    pub async fn verify_audit(&self) -> Result<AuditVerification> {
        let (intact, broken) = self.store().verify_audit().await?;
        Ok(AuditVerification {
            intact,
            first_broken: broken.map(|b| AuditBreak {
                seq: b.seq,
                action_key: b.action_key,
                problem: b.problem,
            }),
        })
    }

    /// Calls `appended` with the action's key each time any client appends to a shared audit
    /// log (and once, with an empty key, after a lost connection came back), for as long as
    /// the future runs: a face re-reads what shows the log. Returns at once when the log is
    /// this machine's own file.
    pub async fn follow_shared_audit(&self, appended: &(dyn Fn(&str) + Send + Sync)) {
        self.store().follow_audit(appended).await;
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

/// The entries of `steps` (in the log's order), newest action first: by where each was
/// requested in the log, which keeps apart two actions requested in the same second.
pub(crate) fn entries_newest_first(steps: Vec<AuditStep>) -> Vec<AuditEntry> {
    let mut order: Vec<String> = Vec::new();
    let mut by_key: HashMap<String, Vec<AuditStep>> = HashMap::new();
    for step in steps {
        if !by_key.contains_key(&step.action_key) {
            order.push(step.action_key.clone());
        }
        by_key
            .entry(step.action_key.clone())
            .or_default()
            .push(step);
    }
    order
        .iter()
        .rev()
        .filter_map(|key| entry_of(&by_key[key]))
        .collect()
}

/// One action's entry from its steps, oldest first; `None` without its `requested` step.
pub(crate) fn entry_of(steps: &[AuditStep]) -> Option<AuditEntry> {
    let first = steps.iter().find(|s| s.step == Step::Requested)?;
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
        kind: first.kind,
        actor: first.actor.clone(),
        machine: first.machine.clone(),
        service: ServiceRef {
            name: key_name(&first.service).to_string(),
            key: first.service.clone(),
        },
        target: first.target.clone(),
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
            .find(|s| s.step != Step::Notified)
            .map_or_else(|| last.state.clone(), |s| s.state.clone()),
        finished: steps.iter().any(|s| s.step == Step::Finished),
        message: steps
            .iter()
            .rev()
            .find(|s| s.step != Step::Notified)
            .and_then(|s| text(&s.body, "message"))
            .unwrap_or_default(),
        steps: steps
            .iter()
            .map(|s| AuditStepRow {
                step: s.step,
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
