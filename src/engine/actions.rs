//! The one action runner. Every call that changes a platform goes through it, whatever its
//! kind: the kind plans and the face asks for consent; then [`Engine::begin`] writes the audit
//! entry (flushed, and refused while another action of the kind holds the same target), the
//! kind makes its one call, never retried, and [`Engine::answered`] records what came back;
//! [`Engine::follow`] reads the platform until an end state or the kind's timeout, recording
//! every change. A lost answer is found again by reading, never by calling again.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::connectors::ConnectorError;
use crate::domain::actions::{ActionKind, ActionTarget, Step};
use crate::store::{AuditStep, Begun};
use crate::{Engine, Result};

/// A fresh key for an action in the audit log: `prefix`, the time, and 64 random bits.
pub(crate) fn new_key(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{:016x}",
        Utc::now().format("%Y%m%dT%H%M%S"),
        fastrand::u64(..)
    )
}

/// One action under way: what the audit log files its steps under.
#[derive(Debug, Clone)]
pub(crate) struct Act {
    /// Its idempotency key.
    pub key: String,
    pub kind: ActionKind,
    /// Who acts.
    pub actor: String,
    /// The machine it acts from.
    pub machine: String,
    /// The service's cache key.
    pub service: String,
    pub target: ActionTarget,
    /// When it was requested.
    pub started_at: DateTime<Utc>,
}

impl Act {
    /// A step of this action, now.
    pub fn step(&self, step: Step, state: &str, body: Value) -> AuditStep {
        AuditStep {
            action_key: self.key.clone(),
            step,
            at: Utc::now(),
            actor: self.actor.clone(),
            machine: self.machine.clone(),
            kind: self.kind,
            service: self.service.clone(),
            target: self.target.clone(),
            state: state.to_string(),
            body,
        }
    }
}

/// What the runner needs of each kind of action to record and follow it.
pub(crate) trait Follow: Send {
    /// Where an action of this kind stands, in its own words.
    type State: Copy + PartialEq + Send + Sync;
    /// What the faces are shown.
    type Progress;
    /// The answer to the call was an acceptance.
    const ACCEPTED: Self::State;
    /// The answer was lost: the call may have arrived.
    const UNKNOWN: Self::State;
    /// The platform refused.
    const FAILED: Self::State;

    fn act(&self) -> &Act;
    fn progress(&self) -> &Self::Progress;
    fn state(&self) -> Self::State;
    fn message(&self) -> &str;
    /// A state as the audit log stores it.
    fn word(state: Self::State) -> &'static str;
    /// Whether a state is an end.
    fn is_final(state: Self::State) -> bool;
    /// Whether the action has reached an end.
    fn finished(&self) -> bool;
    /// Shows a new state and message to the faces.
    fn show(&mut self, state: Self::State, message: String);
    /// The action's time ran out: its end as the faces see it.
    fn give_up(&mut self, waited: Duration);
    /// One look at the platform. A failed read keeps the state and says why.
    fn look(&mut self, engine: &Engine) -> impl Future<Output = (Self::State, String)> + Send;
    /// What a recorded step carries besides its message (the platform's id, a link).
    fn details(&self) -> Value {
        json!({})
    }
}

impl Engine {
    /// Writes the action's `requested` entry, flushed before it returns: the door every call
    /// goes through. Refused when the key was requested before, or another action of the kind
    /// on the same service and target was requested within `hold_off` and has no outcome.
    pub(crate) async fn begin(&self, act: &Act, body: Value, hold_off: Duration) -> Result<Begun> {
        let since = window_before(act.started_at, hold_off);
        let requested = AuditStep {
            at: act.started_at,
            ..act.step(Step::Requested, "requested", body)
        };
        Ok(self.store().begin_action(&requested, since).await?)
    }

    /// Shows `state` and records it as `step`, with the kind's details.
    pub(crate) async fn note<F: Follow>(
        &self,
        action: &mut F,
        step: Step,
        state: F::State,
        message: String,
    ) -> Result<()> {
        let mut body = action.details();
        body["message"] = json!(message);
        let step = action.act().step(step, F::word(state), body);
        match self.record(step).await {
            Ok(()) => action.show(state, message),
            // The platform acted, or is acting: a log that cannot be written must not turn
            // that into a failure, nor stop the following. Said on screen; the step is kept
            // and appended before the next one.
            Err(problem) => action.show(
                state,
                format!("{message} — not yet in the audit log ({problem}); kept and written with the next step"),
            ),
        }
        Ok(())
    }

    /// Appends a step after any the log could not take before, in order, retrying each
    /// a few times; a step that still cannot be written waits for the next call.
    pub(crate) async fn record(&self, step: AuditStep) -> std::result::Result<(), String> {
        use backon::{ExponentialBuilder, Retryable};
        let mut waiting = self.unrecorded_steps().lock().await;
        waiting.push(step);
        while let Some(first) = waiting.first() {
            let backoff = ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_times(3);
            let appended = (|| self.store().append_audit(first))
                .retry(backoff)
                .notify(|error, _| tracing::warn!(%error, "audit log append failed; retrying"))
                .await;
            match appended {
                Ok(()) => {
                    waiting.remove(0);
                }
                Err(error) => {
                    tracing::error!(%error, waiting = waiting.len(), "audit log append failed; the steps are kept in memory");
                    return Err(error.to_string());
                }
            }
        }
        Ok(())
    }

    /// Records the answer to the action's one call: accepted, unknown (it may have arrived;
    /// following it will tell) or refused, which ends it.
    pub(crate) async fn answered<F: Follow>(
        &self,
        action: &mut F,
        answer: std::result::Result<String, ConnectorError>,
    ) -> Result<()> {
        match answer {
            Ok(message) => {
                self.note(action, Step::Answered, F::ACCEPTED, message)
                    .await
            }
            Err(e) if e.outcome_unknown() => {
                let message = format!(
                    "unknown — re-reading the platform ({}); nothing is retried",
                    e.message
                );
                self.note(action, Step::Answered, F::UNKNOWN, message).await
            }
            Err(e) => {
                self.note(action, Step::Answered, F::FAILED, e.message.clone())
                    .await?;
                self.note(action, Step::Finished, F::FAILED, e.message)
                    .await
            }
        }
    }

    /// Reads the platform every poll interval of the action's kind until it ends or the
    /// kind's timeout passes, recording each change; `on_progress` hears each one.
    pub(crate) async fn follow<F: Follow>(
        &self,
        action: &mut F,
        on_progress: &(dyn Fn(&F::Progress) + Send + Sync),
    ) -> Result<()> {
        let (timeout, poll) = self.action_limits(action.act().kind);
        let deadline = window_after(action.act().started_at, timeout);
        if !action.finished() {
            on_progress(action.progress());
        }
        let mut last_seen = (action.state(), action.message().to_string());
        while !action.finished() {
            if Utc::now() >= deadline {
                action.give_up(timeout);
                let (state, message) = (action.state(), action.message().to_string());
                self.note(action, Step::Finished, state, message).await?;
                break;
            }
            tokio::time::sleep(poll).await;
            let (state, message) = action.look(self).await;
            // Compared with what the platform said last, not with what is shown: a note can
            // add to the shown message (a step not yet in the audit log), and that is no
            // change of the platform's to record again at every look.
            if (state, &message) != (last_seen.0, &last_seen.1) {
                last_seen = (state, message.clone());
                let step = if F::is_final(state) {
                    Step::Finished
                } else {
                    Step::Progress
                };
                self.note(action, step, state, message).await?;
                if !action.finished() {
                    on_progress(action.progress());
                }
            }
        }
        on_progress(action.progress());
        Ok(())
    }

    /// How long an action of `kind` is followed, and how often its platform is read.
    fn action_limits(&self, kind: ActionKind) -> (Duration, Duration) {
        let config = self.config();
        match kind {
            ActionKind::Rollback => (config.rollback.timeout, config.rollback.poll_interval),
            ActionKind::RunbookRun | ActionKind::RunbookOpen => {
                (config.runbooks.timeout, config.runbooks.poll_interval)
            }
            // A sync rolls out like a rollback does.
            ActionKind::ArgocdSync => (config.rollback.timeout, config.rollback.poll_interval),
            ActionKind::IncidentAcknowledge
            | ActionKind::IncidentResolve
            | ActionKind::IncidentReassign
            | ActionKind::IncidentUrgency
            | ActionKind::IncidentNote
            | ActionKind::Silence
            | ActionKind::SilenceExpire
            | ActionKind::ArgocdAutoSync => {
                (config.incidents.timeout, config.incidents.poll_interval)
            }
        }
    }
}

/// Why `source` cannot act without a token, when its endpoint has none.
pub(crate) fn no_token(
    source: &crate::config::SourceConfig,
    endpoint: &crate::connectors::Endpoint,
) -> Option<String> {
    if endpoint.token().is_some() {
        return None;
    }
    let name = &source.name;
    Some(match &source.token_env {
        Some(env) => format!("no token for {name}: set {env} or run `opsdeck login {name}`"),
        None => format!("no token for {name}: run `opsdeck login {name}`"),
    })
}

/// The start of a window of `length` ending at `at`. A length no calendar holds (a config
/// value of a million years) reaches back as far as dates go, never past them into a panic.
pub(crate) fn window_before(at: DateTime<Utc>, length: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(length)
        .ok()
        .and_then(|length| at.checked_sub_signed(length))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The end of a window of `length` starting at `at`, as far as dates go.
fn window_after(at: DateTime<Utc>, length: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(length)
        .ok()
        .and_then(|length| at.checked_add_signed(length))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_no_calendar_holds_end_where_dates_end() {
        let now = Utc::now();
        let ages = Duration::from_secs(u64::MAX);
        assert_eq!(window_before(now, ages), DateTime::<Utc>::MIN_UTC);
        assert_eq!(window_after(now, ages), DateTime::<Utc>::MAX_UTC);
        let minute = Duration::from_secs(60);
        assert_eq!(
            window_before(now, minute),
            now - chrono::Duration::minutes(1)
        );
        assert_eq!(
            window_after(now, minute),
            now + chrono::Duration::minutes(1)
        );
    }
}
