//! The on-call engineer's actions besides rollback, each through the one action runner:
//! PagerDuty incident updates and notes (REST v2 with the identity as `From`), Alertmanager
//! silences created and expired, and Argo CD syncs and automated sync switched back on. Each is
//! planned from the cache (what it will call, what stands in its way), confirmed by its key,
//! written to the audit log, sent once and read back until the platform shows it done.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::actions::{new_key, no_token, Act, Follow};
use crate::api::{
    ActionPlan, ActionProgress, ActionRequest, ActionState, PlannedCall, Reassignee, ServiceRef,
};
use crate::config::{SourceConfig, SourceKind};
use crate::connectors::alertmanager::{silence_body, AlertmanagerConnector};
use crate::connectors::argocd::{automated_sync_body, sync_body, ArgoCdConnector};
use crate::connectors::http::RequestMeter;
use crate::connectors::pagerduty::PagerDutyConnector;
use crate::connectors::Endpoint;
use crate::connectors::{ConnectorError, FailureKind};
use crate::domain::actions::{ActionKind, ActionTarget};
use crate::domain::alerts::Alert;
use crate::domain::delivery::{DeliveryTarget, EnvironmentState};
use crate::domain::oncall::{Incident, IncidentStatus, Shift};
use crate::store::{key_name, Begun, LookupBy, RecordKind};
use crate::{Engine, Error, Result};

/// How long a plan may be confirmed after it was made.
const PLAN_LIFETIME_MINUTES: i64 = 10;

/// The shortest and longest silence Opsdeck creates.
const SILENCE_BOUNDS: (i64, i64) = (60, 30 * 24 * 3600);

/// The longest note PagerDuty takes.
const NOTE_MAX_CHARS: usize = 25_000;

/// A planned action as the engine keeps it (never as a face sends it back).
#[derive(Debug, Clone)]
pub(crate) struct PendingAction {
    plan: ActionPlan,
    target: ActionTarget,
    how: How,
}

/// The one call and how to read it back.
#[derive(Debug, Clone)]
enum How {
    /// `PUT /incidents/{id}`; done when the incident reads `expect`.
    UpdateIncident {
        id: String,
        from: String,
        body: Value,
        expect: Expect,
    },
    /// `POST /incidents/{id}/notes`; done when the note is listed.
    Note {
        id: String,
        from: String,
        text: String,
    },
    /// `POST /api/v2/silences`; done when the silence is active. Found again by its comment
    /// (which carries the action's key) when the answer was lost.
    Silence { body: Value, comment: String },
    /// `DELETE /api/v2/silence/{id}`; done when it reads expired.
    ExpireSilence { id: String },
    /// `POST …/sync`; done when the operation succeeded and the application is healthy.
    Sync { app: String, target: String },
    /// `PATCH` automated sync on; done when it reads on.
    AutoSync { app: String, target: String },
}

/// What an updated incident must read.
#[derive(Debug, Clone)]
enum Expect {
    Status(IncidentStatus),
    Urgency(String),
    Assignee(String),
    /// PagerDuty's answer is the confirmation (an escalation level).
    Accepted,
}

/// An action whose call was made, to be followed.
#[derive(Debug)]
pub struct ActionRun {
    act: Act,
    source: String,
    how: How,
    /// What the platform gave back to follow: a silence's id.
    handle: Option<String>,
    progress: ActionProgress,
}

impl ActionRun {
    /// Where it stands now.
    pub fn progress(&self) -> &ActionProgress {
        &self.progress
    }
}

/// What starting an action gave.
#[derive(Debug)]
pub enum StartedAction {
    /// The call was made (or its outcome is unknown); follow it.
    Running(Box<ActionRun>),
    /// The key was confirmed before: nothing was called again.
    AlreadyConfirmed(Box<ActionProgress>),
}

impl Engine {
    /// Plans `request` from the cache: the call it will make, to which source, and what stands
    /// in its way. Nothing is sent.
    pub async fn plan_action(&self, request: &ActionRequest) -> Result<ActionPlan> {
        let pending = match request {
            ActionRequest::Acknowledge { incident } => {
                self.plan_incident_update(incident, ActionKind::IncidentAcknowledge, None)
                    .await?
            }
            ActionRequest::Resolve {
                incident,
                resolution,
            } => {
                self.plan_incident_update(
                    incident,
                    ActionKind::IncidentResolve,
                    resolution.as_deref(),
                )
                .await?
            }
            ActionRequest::Reassign { incident, to } => self.plan_reassign(incident, to).await?,
            ActionRequest::Urgency { incident, urgency } => {
                self.plan_urgency(incident, urgency).await?
            }
            ActionRequest::Note { incident, text } => self.plan_note(incident, text).await?,
            ActionRequest::Silence {
                source,
                fingerprint,
                seconds,
                comment,
                incident,
            } => {
                self.plan_silence(
                    source,
                    fingerprint,
                    *seconds,
                    comment.as_deref(),
                    incident.as_deref(),
                )
                .await?
            }
            ActionRequest::ExpireSilence { source, id } => {
                self.plan_expire(source.as_deref(), id).await?
            }
            ActionRequest::ArgocdSync {
                service,
                environment,
            } => {
                self.plan_argocd(service, environment, ActionKind::ArgocdSync)
                    .await?
            }
            ActionRequest::ArgocdAutoSync {
                service,
                environment,
            } => {
                self.plan_argocd(service, environment, ActionKind::ArgocdAutoSync)
                    .await?
            }
        };
        let plan = pending.plan.clone();
        let mut plans = self.pending_actions();
        let now = Utc::now();
        plans.retain(|_, p| p.plan.expires_at > now);
        plans.insert(plan.key.clone(), pending);
        Ok(plan)
    }

    /// Carries out a planned action once: the audit entry (flushed), then its one call. A key
    /// confirmed before calls nothing again.
    pub async fn start_action(&self, key: &str) -> Result<StartedAction> {
        let now = Utc::now();
        let pending = self.pending_actions().get(key).cloned();
        let Some(pending) = pending else {
            let steps = self.store().action_steps(key).await?;
            return match super::audit::entry_of(&steps) {
                Some(entry) => Ok(StartedAction::AlreadyConfirmed(Box::new(ActionProgress {
                    key: entry.key.clone(),
                    kind: entry.kind,
                    title: entry
                        .subject
                        .clone()
                        .unwrap_or_else(|| entry.kind.label().to_string()),
                    state: state_of_word(&entry.state),
                    message: format!("already confirmed: {}", entry.message),
                    started_at: entry.requested_at,
                    link: None,
                }))),
                None => Err(Error::Refused(
                    "this action was not planned here or its plan expired: plan it again".into(),
                )),
            };
        };
        let plan = &pending.plan;
        if plan.expires_at <= now {
            return Err(Error::Refused(format!(
                "the plan expired at {}: plan it again to see what it does now",
                plan.expires_at.format("%H:%M:%S UTC")
            )));
        }
        if let Some(blocker) = &plan.blocker {
            return Err(Error::Refused(format!("{}: {blocker}", plan.title)));
        }
        let act = Act {
            key: plan.key.clone(),
            kind: plan.kind,
            actor: self.actor(),
            machine: self.machine(),
            service: plan
                .service
                .as_ref()
                .map(|s| s.key.clone())
                .unwrap_or_default(),
            target: pending.target.clone(),
            started_at: now,
        };
        let body = json!({
            "subject": plan.title,
            "source": plan.source,
            "calls": [plan.call],
            "message": format!("{} confirmed: {}", act.actor, plan.title),
        });
        match self
            .begin(&act, body, self.config().incidents.timeout)
            .await?
        {
            Begun::Started => {}
            Begun::AlreadyRequested => {
                return Err(Error::Refused(format!(
                    "{} was confirmed already under this key; nothing was called again",
                    plan.title
                )))
            }
            Begun::InFlight(busy) => {
                return Err(Error::Refused(format!(
                    "{} asked for the same at {} and it has no outcome yet; nothing was called",
                    busy.actor,
                    busy.at.format("%H:%M:%S UTC")
                )))
            }
        }
        self.pending_actions().remove(key);
        let mut run = Box::new(ActionRun {
            progress: ActionProgress {
                key: plan.key.clone(),
                kind: plan.kind,
                title: plan.title.clone(),
                state: ActionState::Requested,
                message: "requested".into(),
                started_at: now,
                link: None,
            },
            source: plan.source.clone(),
            how: pending.how.clone(),
            handle: None,
            act,
        });
        let answer = self.call_once(&mut run).await;
        self.answered(&mut *run, answer).await?;
        Ok(StartedAction::Running(run))
    }

    /// Follows a started action until the platform shows it done, it failed, or
    /// `[incidents] timeout` passed; then syncs its source so every screen shows it.
    pub async fn track_action(
        &self,
        mut run: Box<ActionRun>,
        on_progress: &(dyn Fn(&ActionProgress) + Send + Sync),
    ) -> Result<ActionProgress> {
        self.follow(&mut *run, on_progress).await?;
        if let Err(e) = self.sync(Some(&run.source), &|_| {}).await {
            tracing::warn!(source = %run.source, error = %e, "sync after an action failed");
        }
        Ok(run.progress)
    }

    async fn call_once(&self, run: &mut ActionRun) -> std::result::Result<String, ConnectorError> {
        let meter = RequestMeter::default();
        match run.how.clone() {
            How::UpdateIncident { id, from, body, .. } => {
                let incident = self
                    .pagerduty(&run.source)?
                    .update_incident(&id, &from, &body, &run.progress.title, &meter)
                    .await?;
                run.progress.link = incident.html_url.clone();
                Ok(format!(
                    "PagerDuty: #{} is {}",
                    incident.number,
                    describe(&incident)
                ))
            }
            How::Note { id, from, text } => {
                self.pagerduty(&run.source)?
                    .add_note(&id, &from, &text, &meter)
                    .await?;
                Ok("PagerDuty took the note".into())
            }
            How::Silence { body, .. } => {
                let id = self
                    .alertmanager(&run.source)?
                    .create_silence(&body, &meter)
                    .await?;
                run.handle = Some(id.clone());
                Ok(format!("Alertmanager created silence {id}"))
            }
            How::ExpireSilence { id } => {
                self.alertmanager(&run.source)?
                    .expire_silence(&id, &meter)
                    .await?;
                Ok(format!("Alertmanager expires silence {id}"))
            }
            How::Sync { app, target } => {
                let live = self
                    .argocd(&run.source)?
                    .sync(&app, &target, &meter)
                    .await?;
                run.progress.link = live.state.link.clone();
                Ok(format!("Argo CD syncs {app}"))
            }
            How::AutoSync { app, target } => {
                let live = self
                    .argocd(&run.source)?
                    .set_automated_sync(&app, true, &target, &meter)
                    .await?;
                run.progress.link = live.state.link.clone();
                Ok(format!(
                    "Argo CD: automated sync of {app} is {}",
                    on_off(live.state.automated_sync)
                ))
            }
        }
    }

    /// One look at the platform: where the action stands.
    async fn read_action(
        &self,
        run: &mut ActionRun,
    ) -> std::result::Result<(ActionState, String), ConnectorError> {
        let meter = RequestMeter::default();
        match run.how.clone() {
            How::UpdateIncident { id, expect, .. } => {
                let incident = self.pagerduty(&run.source)?.incident(&id, &meter).await?;
                let done = match &expect {
                    Expect::Status(status) => incident.status == *status,
                    Expect::Urgency(urgency) => incident.urgency == *urgency,
                    Expect::Assignee(name) => incident.assignees.iter().any(|a| a == name),
                    Expect::Accepted => true,
                };
                let state = if done {
                    ActionState::Done
                } else {
                    run.progress.state
                };
                Ok((
                    state,
                    format!("PagerDuty: #{} is {}", incident.number, describe(&incident)),
                ))
            }
            How::Note { id, text, .. } => {
                let notes = self.pagerduty(&run.source)?.notes(&id, &meter).await?;
                Ok(if notes.contains(&text) {
                    (ActionState::Done, "the note is on the incident".into())
                } else {
                    (run.progress.state, "the note is not listed yet".into())
                })
            }
            How::Silence { comment, .. } => {
                let connector = self.alertmanager(&run.source)?;
                if run.handle.is_none() {
                    run.handle = connector
                        .silences(&meter)
                        .await?
                        .into_iter()
                        .find(|s| s.comment == comment)
                        .map(|s| s.id);
                }
                let Some(id) = run.handle.clone() else {
                    return Ok((
                        run.progress.state,
                        "no such silence in Alertmanager yet".into(),
                    ));
                };
                let silence = connector.silence(&id, &meter).await?;
                let state = match silence.state.as_str() {
                    "active" | "pending" => ActionState::Done,
                    "expired" => ActionState::Failed,
                    _ => run.progress.state,
                };
                Ok((
                    state,
                    format!(
                        "silence {id} is {} until {}",
                        silence.state,
                        silence.ends_at.format("%H:%M UTC")
                    ),
                ))
            }
            How::ExpireSilence { id } => {
                let silence = self.alertmanager(&run.source)?.silence(&id, &meter).await?;
                let state = if silence.state == "expired" {
                    ActionState::Done
                } else {
                    run.progress.state
                };
                Ok((state, format!("silence {id} is {}", silence.state)))
            }
            How::Sync { app, target } => {
                let live = self
                    .argocd(&run.source)?
                    .application(&app, &target, &meter)
                    .await?;
                let phase = live.operation_phase.as_deref().unwrap_or("no operation");
                let health = live.state.health.as_deref().unwrap_or("Unknown");
                let state = match phase {
                    "Failed" | "Error" => ActionState::Failed,
                    "Succeeded" if health == "Healthy" => ActionState::Done,
                    "Succeeded" if health == "Degraded" => ActionState::Failed,
                    _ => run.progress.state,
                };
                Ok((state, format!("{app}: sync {phase}, {health}")))
            }
            How::AutoSync { app, target } => {
                let live = self
                    .argocd(&run.source)?
                    .application(&app, &target, &meter)
                    .await?;
                let state = if live.state.automated_sync {
                    ActionState::Done
                } else {
                    run.progress.state
                };
                Ok((
                    state,
                    format!(
                        "automated sync of {app} is {}",
                        on_off(live.state.automated_sync)
                    ),
                ))
            }
        }
    }

    /// Who `who` names to reassign `incident` to: `level:N` (or `level N`), else a person in
    /// the cached on-call shifts by PagerDuty id, email or name.
    pub async fn reassignee(&self, who: &str) -> Result<Reassignee> {
        let who = who.trim();
        let lower = who.to_ascii_lowercase();
        if let Some(level) = lower
            .strip_prefix("level")
            .map(|rest| rest.trim_start_matches([':', ' ']))
        {
            return level
                .parse()
                .map(|level| Reassignee::Level { level })
                .map_err(|_| {
                    Error::Refused(format!("'{who}': write an escalation level as level:2"))
                });
        }
        let people: Vec<_> = self
            .store()
            .all_records::<Shift>(RecordKind::Shift)
            .await?
            .into_iter()
            .map(|(_, s)| s.person)
            .collect();
        people
            .iter()
            .find(|p| p.id == who || p.has_email(Some(who)) || p.name.eq_ignore_ascii_case(who))
            .map(|p| Reassignee::User { id: p.id.clone() })
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "nobody called '{who}' is in PagerDuty's on-call shifts in the cache: give a PagerDuty user id, email or name, or level:N"
                ))
            })
    }

    async fn plan_incident_update(
        &self,
        reference: &str,
        kind: ActionKind,
        resolution: Option<&str>,
    ) -> Result<PendingAction> {
        let (source, incident) = self.find_incident(reference).await?;
        let (status, verb) = match kind {
            ActionKind::IncidentResolve => (IncidentStatus::Resolved, "Resolve"),
            _ => (IncidentStatus::Acknowledged, "Acknowledge"),
        };
        let mut body =
            json!({"incident": {"type": "incident_reference", "status": status.as_str()}});
        if let Some(resolution) = resolution.map(str::trim).filter(|r| !r.is_empty()) {
            body["incident"]["resolution"] = json!(resolution);
        }
        let blocker = match (incident.status, status) {
            (IncidentStatus::Resolved, _) => Some(format!(
                "#{} is resolved already; nothing to {}",
                incident.number,
                verb.to_lowercase()
            )),
            (IncidentStatus::Acknowledged, IncidentStatus::Acknowledged) => Some(format!(
                "#{} is acknowledged already (by {})",
                incident.number,
                list_or(&incident.acknowledged_by, "someone")
            )),
            _ => None,
        };
        self.incident_plan(
            &source,
            &incident,
            kind,
            format!("{verb} #{} {}", incident.number, incident.title),
            body.clone(),
            Expect::Status(status),
            blocker,
        )
        .await
    }

    async fn plan_reassign(&self, reference: &str, to: &Reassignee) -> Result<PendingAction> {
        let (source, incident) = self.find_incident(reference).await?;
        let (body, expect, whom, blocker) = match to {
            Reassignee::User { id } => {
                let person = self
                    .store()
                    .all_records::<Shift>(RecordKind::Shift)
                    .await?
                    .into_iter()
                    .map(|(_, s)| s.person)
                    .find(|p| p.id == *id);
                let name = person.map(|p| p.name).unwrap_or_else(|| id.clone());
                (
                    json!({"incident": {"type": "incident_reference", "assignments": [
                        {"assignee": {"id": id, "type": "user_reference"}}
                    ]}}),
                    Expect::Assignee(name.clone()),
                    name,
                    None,
                )
            }
            Reassignee::Level { level } => (
                json!({"incident": {"type": "incident_reference", "escalation_level": level}}),
                Expect::Accepted,
                format!("escalation level {level}"),
                (*level < 1).then(|| "escalation levels count from 1".to_string()),
            ),
        };
        let blocker = blocker.or_else(|| {
            (incident.status == IncidentStatus::Resolved).then(|| {
                format!(
                    "#{} is resolved; reopen it in PagerDuty first",
                    incident.number
                )
            })
        });
        self.incident_plan(
            &source,
            &incident,
            ActionKind::IncidentReassign,
            format!("Reassign #{} {} to {whom}", incident.number, incident.title),
            body,
            expect,
            blocker,
        )
        .await
    }

    async fn plan_urgency(&self, reference: &str, urgency: &str) -> Result<PendingAction> {
        let (source, incident) = self.find_incident(reference).await?;
        let urgency = urgency.trim().to_ascii_lowercase();
        let blocker = if !["high", "low"].contains(&urgency.as_str()) {
            Some(format!(
                "urgency '{urgency}' is not one PagerDuty knows: use high or low"
            ))
        } else if incident.urgency == urgency {
            Some(format!("#{} is {urgency} urgency already", incident.number))
        } else if incident.status == IncidentStatus::Resolved {
            Some(format!("#{} is resolved", incident.number))
        } else {
            None
        };
        self.incident_plan(
            &source,
            &incident,
            ActionKind::IncidentUrgency,
            format!(
                "Make #{} {} {urgency} urgency",
                incident.number, incident.title
            ),
            json!({"incident": {"type": "incident_reference", "urgency": urgency}}),
            Expect::Urgency(urgency.clone()),
            blocker,
        )
        .await
    }

    async fn plan_note(&self, reference: &str, text: &str) -> Result<PendingAction> {
        let (source, incident) = self.find_incident(reference).await?;
        let text = text.trim().to_string();
        let blocker = if text.is_empty() {
            Some("the note is empty".to_string())
        } else if text.chars().count() > NOTE_MAX_CHARS {
            Some(format!(
                "PagerDuty takes notes of up to {NOTE_MAX_CHARS} characters"
            ))
        } else {
            None
        };
        let mut pending = self
            .incident_plan(
                &source,
                &incident,
                ActionKind::IncidentNote,
                format!("Add a note to #{} {}", incident.number, incident.title),
                json!({"note": {"content": text}}),
                Expect::Accepted,
                blocker,
            )
            .await?;
        if let How::UpdateIncident { id, from, .. } = pending.how.clone() {
            pending.plan.call.method = "POST".into();
            pending.plan.call.url = format!("{}/notes", pending.plan.call.url);
            pending.plan.call.purpose = "add the note".into();
            pending.how = How::Note { id, from, text };
        }
        Ok(pending)
    }

    /// A plan for one PagerDuty call on `incident`, as the identity.
    #[allow(clippy::too_many_arguments)]
    async fn incident_plan(
        &self,
        source: &str,
        incident: &Incident,
        kind: ActionKind,
        title: String,
        body: Value,
        expect: Expect,
        blocker: Option<String>,
    ) -> Result<PendingAction> {
        let config = self.action_source(source, SourceKind::Pagerduty)?;
        let from = self.config().identity.email.clone();
        let (endpoint, cannot) = self.action_endpoint(config, true)?;
        let blocker = blocker.or(cannot).or_else(|| {
            from.is_none().then(|| {
                "PagerDuty acts on behalf of a user: set [identity] email in the config to \
                     your PagerDuty login"
                    .to_string()
            })
        });
        let connector = PagerDutyConnector::new(endpoint);
        let wired = self
            .store()
            .wiring_of_pagerduty_service(&incident.service_id)
            .await?;
        let service = wired.first().map(|w| ServiceRef {
            key: w.key.clone(),
            name: w.name.clone(),
        });
        let call = PlannedCall {
            method: "PUT".into(),
            url: connector.incident_url(&incident.id),
            body: body.to_string(),
            purpose: kind.label().to_string(),
        };
        Ok(self.pending_action(
            kind,
            title,
            service,
            source,
            call,
            Vec::new(),
            blocker,
            ActionTarget::Incident {
                id: incident.id.clone(),
            },
            How::UpdateIncident {
                id: incident.id.clone(),
                from: from.unwrap_or_default(),
                body,
                expect,
            },
        ))
    }

    async fn plan_silence(
        &self,
        source: &str,
        fingerprint: &str,
        seconds: i64,
        comment: Option<&str>,
        incident: Option<&str>,
    ) -> Result<PendingAction> {
        let config = self.action_source(source, SourceKind::Alertmanager)?;
        let alert = self
            .store()
            .records::<Alert>(RecordKind::Alert, LookupBy::Id, &[fingerprint.to_string()])
            .await?
            .into_iter()
            .find(|(s, _)| s == source)
            .map(|(_, a)| a)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no alert {fingerprint} from {source} in the cache: it may have stopped; sync {source}"
                ))
            })?;
        let incident = match incident {
            Some(reference) => Some(self.find_incident(reference).await?.1),
            None => None,
        };
        let key = new_key("silence");
        let actor = self.actor();
        let said = comment.map(str::trim).filter(|c| !c.is_empty());
        let comment = match (said, &incident) {
            (Some(text), _) => format!("{text} (opsdeck {key})"),
            (None, Some(i)) => format!(
                "Silenced by {actor} during incident #{} {} (opsdeck {key})",
                i.number, i.title
            ),
            (None, None) => format!("Silenced by {actor} (opsdeck {key})"),
        };
        let blocker = if alert.labels.is_empty() {
            // No matcher would silence everything; Alertmanager refuses it anyway.
            Some(format!("{} has no labels to match", alert.name))
        } else if !(SILENCE_BOUNDS.0..=SILENCE_BOUNDS.1).contains(&seconds) {
            Some(format!(
                "a silence lasts from {} to {}",
                humantime::format_duration(StdDuration::from_secs(SILENCE_BOUNDS.0 as u64)),
                humantime::format_duration(StdDuration::from_secs(SILENCE_BOUNDS.1 as u64))
            ))
        } else {
            None
        };
        let (endpoint, cannot) = self.action_endpoint(config, false)?;
        let blocker = blocker.or(cannot);
        let now = Utc::now();
        let ends = now + Duration::seconds(seconds.clamp(SILENCE_BOUNDS.0, SILENCE_BOUNDS.1));
        let body = silence_body(&alert.labels, now, ends, &actor, &comment);
        let matchers = matcher_text(&alert.labels);
        let connector = AlertmanagerConnector::new(endpoint);
        let service = self
            .store()
            .alerts_of_fingerprint(source, fingerprint)
            .await?
            .into_iter()
            .next()
            .map(|key| ServiceRef {
                name: key_name(&key).to_string(),
                key,
            });
        let mut warnings = Vec::new();
        if !alert.silenced_by.is_empty() {
            warnings.push(format!(
                "it is silenced already by {}",
                alert.silenced_by.join(", ")
            ));
        }
        let mut pending = self.pending_action(
            ActionKind::Silence,
            format!(
                "Silence {} for {}",
                alert.name,
                humantime::format_duration(StdDuration::from_secs(seconds.max(0) as u64))
            ),
            service,
            source,
            PlannedCall {
                method: "POST".into(),
                url: connector.silences_url(),
                body: body.to_string(),
                purpose: format!("silence {matchers} until {}", ends.format("%H:%M UTC")),
            },
            warnings,
            blocker,
            ActionTarget::Silence {
                id: String::new(),
                matchers,
            },
            How::Silence { body, comment },
        );
        pending.plan.key = key;
        Ok(pending)
    }

    async fn plan_expire(&self, source: Option<&str>, id: &str) -> Result<PendingAction> {
        let held = self
            .store()
            .records::<crate::domain::alerts::Silence>(
                RecordKind::Silence,
                LookupBy::Id,
                &[id.to_string()],
            )
            .await?;
        let source = match source {
            Some(source) => source.to_string(),
            None => held.first().map(|(s, _)| s.clone()).ok_or_else(|| {
                Error::NotFound(format!(
                    "no silence {id} in force in the cache: it may have expired; name its source, or sync Alertmanager"
                ))
            })?,
        };
        let source = source.as_str();
        let config = self.action_source(source, SourceKind::Alertmanager)?;
        let cached = held.into_iter().find(|(s, _)| s == source).map(|(_, s)| s);
        let (endpoint, cannot) = self.action_endpoint(config, false)?;
        let connector = AlertmanagerConnector::new(endpoint);
        let blocker = cannot.or_else(|| {
            cached.is_none().then(|| {
                format!("no silence {id} in force from {source} in the cache: it may have expired; sync {source}")
            })
        });
        let matchers = cached
            .as_ref()
            .map(|s| s.matchers.clone())
            .unwrap_or_default();
        Ok(self.pending_action(
            ActionKind::SilenceExpire,
            format!("Expire silence {id} ({matchers})"),
            None,
            source,
            PlannedCall {
                method: "DELETE".into(),
                url: connector.silence_url(id),
                body: String::new(),
                purpose: "expire the silence: its alerts notify again".into(),
            },
            Vec::new(),
            blocker,
            ActionTarget::Silence {
                id: id.to_string(),
                matchers,
            },
            How::ExpireSilence { id: id.to_string() },
        ))
    }

    async fn plan_argocd(
        &self,
        service: &str,
        environment: &str,
        kind: ActionKind,
    ) -> Result<PendingAction> {
        let key = self.service_key(service).await?;
        let targets = self.store().targets_of_component(&key).await?;
        let (source, state) = self
            .store()
            .records::<EnvironmentState>(RecordKind::Environment, LookupBy::JoinKey, &targets)
            .await?
            .into_iter()
            .find(|(_, s)| s.environment == environment)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{} has no Argo CD application in {environment} in the cache",
                    key_name(&key)
                ))
            })?;
        let config = self.action_source(&source, SourceKind::Argocd)?;
        let (endpoint, cannot) = self.action_endpoint(config, true)?;
        let connector = ArgoCdConnector::new(endpoint);
        let app = state.app.clone();
        let target = DeliveryTarget::ArgoApp(app.clone()).key();
        let service_ref = ServiceRef {
            name: key_name(&key).to_string(),
            key: key.clone(),
        };
        let (title, call, how, mut blocker, warnings) = match kind {
            ActionKind::ArgocdAutoSync => (
                format!("Turn automated sync of {app} ({environment}) back on"),
                PlannedCall {
                    method: "PATCH".into(),
                    url: connector.application_url(&app),
                    body: automated_sync_body(&app, true).to_string(),
                    purpose: format!("switch automated sync of {app} on"),
                },
                How::AutoSync {
                    app: app.clone(),
                    target: target.clone(),
                },
                state
                    .automated_sync
                    .then(|| format!("automated sync of {app} is on already")),
                vec![format!(
                    "Argo CD then deploys what Git says for {app}{}: if Git still holds the version that was rolled back, it comes back",
                    state.revision.as_deref().map(|r| format!(" (it runs {} now)", crate::domain::delivery::short_sha(r))).unwrap_or_default()
                )],
            ),
            _ => (
                format!("Sync {app} ({environment}) to Git"),
                PlannedCall {
                    method: "POST".into(),
                    url: connector.sync_url(&app),
                    body: sync_body(&app).to_string(),
                    purpose: format!("sync {app} to its target revision"),
                },
                How::Sync {
                    app: app.clone(),
                    target: target.clone(),
                },
                None,
                vec![format!(
                    "it deploys what Git says for {app} now ({}), whatever runs",
                    state.sync.as_deref().unwrap_or("sync state unknown")
                )],
            ),
        };
        blocker = blocker.or(cannot);
        Ok(self.pending_action(
            kind,
            title,
            Some(service_ref),
            &source,
            call,
            warnings,
            blocker,
            ActionTarget::Deployment {
                target,
                environment: environment.to_string(),
            },
            how,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn pending_action(
        &self,
        kind: ActionKind,
        title: String,
        service: Option<ServiceRef>,
        source: &str,
        call: PlannedCall,
        warnings: Vec<String>,
        blocker: Option<String>,
        target: ActionTarget,
        how: How,
    ) -> PendingAction {
        PendingAction {
            plan: ActionPlan {
                key: new_key("act"),
                kind,
                title,
                service,
                source: source.to_string(),
                call,
                warnings,
                blocker,
                expires_at: Utc::now() + Duration::minutes(PLAN_LIFETIME_MINUTES),
            },
            target,
            how,
        }
    }

    /// `source`'s endpoint for an action's calls, and why it cannot act when it cannot: plain
    /// `http://` to another machine, its token missing (when `needs_token`) or unreadable (the
    /// keychain unreachable; the endpoint then has no token, for the plan's addresses only).
    fn action_endpoint(
        &self,
        source: &SourceConfig,
        needs_token: bool,
    ) -> Result<(Endpoint, Option<String>)> {
        match self.endpoint(source) {
            Ok(endpoint) => {
                let cannot = source
                    .refuses_actions()
                    .or_else(|| needs_token.then(|| no_token(source, &endpoint)).flatten());
                Ok((endpoint, cannot))
            }
            Err(problem) => {
                let bare = Endpoint::new(
                    self.clients(source)?,
                    &source.name,
                    source.url.as_deref().unwrap_or_default(),
                    None,
                    source.token_env.clone(),
                    source.timeout,
                );
                Ok((bare, Some(problem.message)))
            }
        }
    }

    fn pending_actions(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, PendingAction>> {
        self.action_plans()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The configured source `name`, when it is of `kind`.
    fn action_source(&self, name: &str, kind: SourceKind) -> Result<&SourceConfig> {
        self.config()
            .source(name)
            .filter(|s| s.kind == kind)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no {} source named '{name}' in the config",
                    kind.as_str()
                ))
            })
    }

    fn pagerduty(&self, source: &str) -> std::result::Result<PagerDutyConnector, ConnectorError> {
        Ok(PagerDutyConnector::new(
            self.endpoint(self.configured(source)?)?,
        ))
    }

    fn alertmanager(
        &self,
        source: &str,
    ) -> std::result::Result<AlertmanagerConnector, ConnectorError> {
        Ok(AlertmanagerConnector::new(
            self.endpoint(self.configured(source)?)?,
        ))
    }

    fn argocd(&self, source: &str) -> std::result::Result<ArgoCdConnector, ConnectorError> {
        Ok(ArgoCdConnector::new(
            self.endpoint(self.configured(source)?)?,
        ))
    }

    fn configured(&self, source: &str) -> std::result::Result<&SourceConfig, ConnectorError> {
        self.config().source(source).ok_or_else(|| {
            ConnectorError::new(
                source,
                FailureKind::Io,
                "the source is no longer configured",
            )
        })
    }
}

impl Follow for ActionRun {
    type State = ActionState;
    type Progress = ActionProgress;
    const ACCEPTED: ActionState = ActionState::Accepted;
    const UNKNOWN: ActionState = ActionState::Unknown;
    const FAILED: ActionState = ActionState::Failed;

    fn act(&self) -> &Act {
        &self.act
    }

    fn progress(&self) -> &ActionProgress {
        &self.progress
    }

    fn state(&self) -> ActionState {
        self.progress.state
    }

    fn message(&self) -> &str {
        &self.progress.message
    }

    fn word(state: ActionState) -> &'static str {
        state.as_str()
    }

    fn is_final(state: ActionState) -> bool {
        state.is_final()
    }

    fn finished(&self) -> bool {
        self.progress.state.is_final()
    }

    fn show(&mut self, state: ActionState, message: String) {
        self.progress.state = state;
        self.progress.message = message;
    }

    fn give_up(&mut self, waited: StdDuration) {
        let message = format!(
            "the platform did not show it done within {}: check it there before asking again",
            humantime::format_duration(waited)
        );
        self.show(ActionState::TimedOut, message);
    }

    async fn look(&mut self, engine: &Engine) -> (ActionState, String) {
        match engine.read_action(self).await {
            Ok(read) => read,
            Err(e) => (
                self.progress.state,
                format!("{}: {}", self.progress.state.as_str(), e.message),
            ),
        }
    }

    fn details(&self) -> Value {
        json!({"response_id": self.handle, "link": self.progress.link})
    }
}

fn state_of_word(word: &str) -> ActionState {
    serde_json::from_value(Value::String(word.to_string())).unwrap_or(ActionState::Unknown)
}

/// An incident's state in words: "acknowledged by Ana, high urgency, assigned to Ana".
fn describe(incident: &Incident) -> String {
    let mut text = incident.status.as_str().to_string();
    if incident.status == IncidentStatus::Acknowledged && !incident.acknowledged_by.is_empty() {
        text.push_str(&format!(" by {}", incident.acknowledged_by.join(", ")));
    }
    text.push_str(&format!(", {} urgency", incident.urgency));
    if !incident.assignees.is_empty() {
        text.push_str(&format!(", assigned to {}", incident.assignees.join(", ")));
    }
    text
}

fn list_or(names: &[String], otherwise: &str) -> String {
    if names.is_empty() {
        otherwise.to_string()
    } else {
        names.join(", ")
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// Labels as Alertmanager writes matchers: `{alertname="X", service="y"}`.
fn matcher_text(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_read_as_alertmanager_writes_them() {
        let labels = BTreeMap::from([
            ("alertname".to_string(), "HighErrorRate".to_string()),
            ("service".to_string(), "checkout-api".to_string()),
        ]);
        assert_eq!(
            matcher_text(&labels),
            r#"{alertname="HighErrorRate", service="checkout-api"}"#
        );
    }

    #[test]
    fn stored_states_read_back() {
        for state in [
            ActionState::Requested,
            ActionState::Accepted,
            ActionState::Unknown,
            ActionState::Done,
            ActionState::Failed,
            ActionState::TimedOut,
        ] {
            assert_eq!(state_of_word(state.as_str()), state);
        }
        assert_eq!(state_of_word("nonsense"), ActionState::Unknown);
    }
}
