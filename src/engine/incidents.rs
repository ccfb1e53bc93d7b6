//! The incident view, answered from the cache: the incident, its service and what it is part
//! of, who is on call on its escalation policy, the alerts of it and its dependencies, and the
//! changes that may have caused it, ranked by the rule in [`crate::domain::suspects`].

use std::collections::{HashMap, HashSet};

use chrono::{Duration, Utc};

use crate::api::{
    AutomatedSyncOff, ChangesView, EntitySummary, IncidentRow, IncidentView, Neighbour,
    Replacement, ServiceRef, SuspectRow,
};
use crate::domain::actions::ActionKind;
use crate::domain::alerts::AlertState;
use crate::domain::delivery::{
    DeliveryTarget, DeployStatus, Deployment, EnvironmentState, PipelineRun,
};
use crate::domain::oncall::{ChangeEvent, Incident, IncidentStatus, PagerDutyService};
use crate::domain::suspects::{self, Change, ChangeKind, Closeness, RANKING_RULE};
use crate::store::{LookupBy, RecordKind};
use crate::{Engine, Error, Result};

/// Suspects whose commits are looked up in the cache: the ones read first.
const SUSPECTS_WITH_COMMITS: usize = 5;

/// How far before the window a deploy's predecessor is looked for.
const PREDECESSOR_DAYS: i64 = 14;

/// Dependencies whose changes are looked for: each costs a few reads of the cache.
const DEPENDENCIES_SEARCHED: usize = 50;

/// Actions on the incident the view lists.
const ACTIONS_SHOWN: i64 = 20;

/// The kinds of action taken on an incident itself.
pub(crate) const INCIDENT_ACTIONS: [ActionKind; 5] = [
    ActionKind::IncidentAcknowledge,
    ActionKind::IncidentResolve,
    ActionKind::IncidentReassign,
    ActionKind::IncidentUrgency,
    ActionKind::IncidentNote,
];

impl Engine {
    /// The incident `reference` names (its PagerDuty id, or its number with or without `#`),
    /// with everything the on-call engineer needs on one screen.
    pub async fn incident(&self, reference: &str) -> Result<IncidentView> {
        let (source, incident) = self.find_incident(reference).await?;
        let now = Utc::now();
        let wired = self
            .store()
            .wiring_of_pagerduty_service(&incident.service_id)
            .await?;
        let pagerduty_service = self
            .store()
            .records::<PagerDutyService>(
                RecordKind::Service,
                LookupBy::Id,
                std::slice::from_ref(&incident.service_id),
            )
            .await?
            .into_iter()
            .next()
            .map(|(_, s)| s);
        let policy_id = incident
            .policy_id
            .clone()
            .or_else(|| pagerduty_service.as_ref().and_then(|s| s.policy_id.clone()));
        let policy = match policy_id {
            Some(id) => self.policies_now(vec![id]).await?.into_iter().next(),
            None => None,
        };
        let detail = match wired.first() {
            Some(w) => Some(self.service(&w.key).await?),
            None => None,
        };
        let service = wired.first().map(|w| ServiceRef {
            key: w.key.clone(),
            name: w.name.clone(),
        });
        let upstream: Vec<EntitySummary> = detail
            .as_ref()
            .map(|d| d.depends_on.clone())
            .unwrap_or_default();
        let downstream: Vec<EntitySummary> = detail
            .as_ref()
            .map(|d| d.dependents.clone())
            .unwrap_or_default();
        let neighbour_keys: Vec<String> = upstream
            .iter()
            .chain(&downstream)
            .filter(|e| e.exists)
            .map(|e| e.key.clone())
            .collect();
        let neighbour_wiring = self.store().wiring_of_components(&neighbour_keys).await?;

        // Alerts of the service and of everything around it, counted per component; the
        // view lists those of the service and what it depends on.
        let mut alert_keys: Vec<String> = service.iter().map(|s| s.key.clone()).collect();
        alert_keys.extend(neighbour_keys.iter().cloned());
        let joined = self.store().alerts_of(&alert_keys).await?;
        let mut firing: HashMap<String, i64> = HashMap::new();
        for (component, _, alert) in &joined {
            if alert.state == AlertState::Firing {
                *firing.entry(component.clone()).or_default() += 1;
            }
        }
        let shown: HashSet<&str> = service
            .iter()
            .map(|s| s.key.as_str())
            .chain(upstream.iter().map(|e| e.key.as_str()))
            .collect();
        let alerts = self
            .alert_rows(
                joined
                    .iter()
                    .filter(|(component, _, _)| shown.contains(component.as_str()))
                    .cloned()
                    .collect(),
            )
            .await?;

        let open = self
            .incident_rows(
                Some(&neighbour_wiring),
                &[IncidentStatus::Triggered, IncidentStatus::Acknowledged],
            )
            .await?;
        let open_incidents = |key: &str| {
            open.iter()
                .filter(|r: &&IncidentRow| r.services.iter().any(|s| s.key == key))
                .count() as i64
        };
        let neighbours = upstream
            .iter()
            .map(|e| (e, true))
            .chain(downstream.iter().map(|e| (e, false)))
            .map(|(entity, upstream)| Neighbour {
                open_incidents: open_incidents(&entity.key),
                firing_alerts: firing.get(&entity.key).copied().unwrap_or(0),
                entity: entity.clone(),
                upstream,
            })
            .collect();

        let (window_since, until) = suspects::window(
            incident.created_at,
            self.config().incidents.suspect_window,
            now,
        );
        let mut changes = Vec::new();
        let mut targets_of: HashMap<String, Vec<String>> = HashMap::new();
        // A catalog may name thousands: the view reads the first ones, as a page would.
        let dependencies = upstream
            .iter()
            .filter(|e| e.exists && e.kind == "component")
            .take(DEPENDENCIES_SEARCHED);
        let changed_services = service
            .iter()
            .map(|s| (s.key.clone(), s.name.clone(), Closeness::SameService))
            .chain(
                dependencies.map(|e| (e.key.clone(), e.name.clone(), Closeness::DirectDependency)),
            );
        let order = self.config().delivery.order();
        let mut pagerduty_ids: HashMap<String, (String, String, Closeness)> = HashMap::new();
        let mut replaced: HashMap<String, Replacement> = HashMap::new();
        for (key, name, closeness) in changed_services {
            let targets = self.store().targets_of_component(&key).await?;
            let predecessors_since = window_since
                .checked_sub_signed(Duration::days(PREDECESSOR_DAYS))
                .unwrap_or(window_since);
            let deployments = self
                .store()
                .deployments_of(&targets, predecessors_since)
                .await?;
            for (i, d) in deployments.iter().enumerate() {
                if !changed_something(d.status)
                    || d.started_at < window_since
                    || d.started_at > until
                {
                    continue;
                }
                let same_place =
                    |o: &&Deployment| o.target == d.target && o.environment == d.environment;
                let previous = deployments[i + 1..]
                    .iter()
                    .filter(same_place)
                    .find(|p| p.status.reached());
                // The newest deploy since that put another version there: rolling this one
                // back would undo nothing it still runs.
                let since = deployments[..i]
                    .iter()
                    .filter(same_place)
                    .find(|n| n.version != d.version && changed_something(n.status));
                let change = deploy_change(&key, &name, closeness, d, previous, &order);
                if let Some(n) = since {
                    replaced.insert(
                        change.id.clone(),
                        Replacement {
                            version: n.version.clone(),
                            at: n.started_at,
                            rollback: n.rolled_back_from.is_some(),
                        },
                    );
                }
                changes.push(change);
            }
            let deploy_commits: HashSet<(&str, &str)> = deployments
                .iter()
                .filter_map(|d| d.commit.as_deref().map(|c| (d.target.as_str(), c)))
                .collect();
            for run in self.runs_of(&targets).await? {
                let deploys = run.workflow.to_ascii_lowercase().contains("deploy")
                    && changed_something(run.status);
                let in_window = run.created_at >= window_since && run.created_at <= until;
                // A run that made a deployment the cache holds is that deployment already.
                if deploys
                    && in_window
                    && !deploy_commits.contains(&(run.target.as_str(), run.head_sha.as_str()))
                {
                    changes.push(run_change(&key, &name, closeness, &run));
                }
            }
            targets_of.insert(key.clone(), targets);
            let wiring = if closeness == Closeness::SameService {
                wired.first().cloned()
            } else {
                neighbour_wiring.iter().find(|w| w.key == key).cloned()
            };
            if let Some(id) = wiring.and_then(|w| w.pagerduty_service_id) {
                pagerduty_ids.insert(id, (key, name, closeness));
            }
        }
        let ids: Vec<String> = pagerduty_ids.keys().cloned().collect();
        let mut seen_events = HashSet::new();
        for (_, event) in self
            .store()
            .records::<ChangeEvent>(RecordKind::ChangeEvent, LookupBy::JoinKey, &ids)
            .await?
        {
            if event.at < window_since || event.at > until || !seen_events.insert(event.id.clone())
            {
                continue;
            }
            // The closest service it names: the incident's own before a dependency.
            let Some((key, name, closeness)) = event
                .service_ids
                .iter()
                .filter_map(|id| pagerduty_ids.get(id))
                .min_by_key(|(_, _, c)| *c != Closeness::SameService)
            else {
                continue;
            };
            changes.push(event_change(key, name, *closeness, &event));
        }

        let ranked = suspects::rank(changes, incident.created_at);
        let mut rows = Vec::with_capacity(ranked.len());
        for (i, suspect) in ranked.into_iter().enumerate() {
            let changes = if i < SUSPECTS_WITH_COMMITS {
                self.commits_of(&suspect.change, &targets_of).await?
            } else {
                None
            };
            let replaced_by = replaced.remove(&suspect.change.id);
            rows.push(SuspectRow {
                reason: suspect.tier.reason().to_string(),
                when: suspects::before_start(suspect.seconds_before),
                can_roll_back: matches!(
                    suspect.change.kind,
                    ChangeKind::Deploy | ChangeKind::Rollback
                ) && suspect.change.environment.is_some()
                    && replaced_by.is_none(),
                replaced_by,
                total_commits: changes.as_ref().map(|c| c.total_commits),
                commits: changes.map(|c| c.commits).unwrap_or_default(),
                suspect,
            });
        }

        let automated_sync_off = match &service {
            Some(s) => {
                self.automated_sync_off(s, targets_of.get(&s.key).map_or(&[][..], |t| t))
                    .await?
            }
            None => Vec::new(),
        };
        let actions = self.actions_on_incident(&incident.id).await?;
        let d = detail.as_ref();
        Ok(IncidentView {
            source,
            me_on_call: policy.as_ref().is_some_and(|p| p.has_me_on_call()),
            policy,
            pagerduty_service: pagerduty_service.map(|s| s.name),
            service,
            owner: d.and_then(|d| d.owner.clone()),
            system: d.and_then(|d| d.system.clone()),
            tier: d.and_then(|d| d.tier.clone()),
            neighbours,
            alerts,
            suspects: rows,
            ranking_rule: RANKING_RULE.to_string(),
            window_since,
            automated_sync_off,
            actions,
            incident,
        })
    }

    /// The cached incident `reference` names: an id, or a number (`1234`, `#1234`).
    pub(crate) async fn find_incident(&self, reference: &str) -> Result<(String, Incident)> {
        let reference = reference.trim();
        let by_id = self
            .store()
            .records::<Incident>(RecordKind::Incident, LookupBy::Id, &[reference.to_string()])
            .await?;
        if let Some(found) = by_id.into_iter().next() {
            return Ok(found);
        }
        let number = reference.trim_start_matches('#').parse::<i64>().ok();
        if let Some(number) = number {
            let found = self
                .store()
                .all_records::<Incident>(RecordKind::Incident)
                .await?
                .into_iter()
                .find(|(_, i)| i.number == number);
            if let Some(found) = found {
                return Ok(found);
            }
        }
        Err(Error::NotFound(format!(
            "no incident '{reference}' in the cache: give its PagerDuty id or number (open and \
             recently resolved incidents are kept), or sync PagerDuty"
        )))
    }

    /// What the cache holds of the commits a deploy brought.
    async fn commits_of(
        &self,
        change: &Change,
        targets_of: &HashMap<String, Vec<String>>,
    ) -> Result<Option<ChangesView>> {
        let (Some(base), Some(head)) = (&change.previous_commit, &change.commit) else {
            return Ok(None);
        };
        let Some(targets) = targets_of.get(&change.service_key) else {
            return Ok(None);
        };
        Ok(self.comparison_of_any(targets, base, head).await?.map(|c| {
            super::delivery::changes_view(
                change.previous_version.as_deref().unwrap_or(""),
                &change.version,
                c,
            )
        }))
    }

    /// Argo CD applications of `service` that Opsdeck rolled back and that Git's changes do not
    /// reach until someone acts: automated sync switched off by the rollback (until it is back
    /// on), or off before it and the application out of sync since (until it is synced).
    async fn automated_sync_off(
        &self,
        service: &ServiceRef,
        targets: &[String],
    ) -> Result<Vec<AutomatedSyncOff>> {
        let mut out = Vec::new();
        let states = self
            .store()
            .records::<EnvironmentState>(RecordKind::Environment, LookupBy::JoinKey, targets)
            .await?;
        for (source, state) in states {
            if state.automated_sync {
                continue;
            }
            let target = DeliveryTarget::ArgoApp(state.app.clone()).key();
            let steps = self
                .store()
                .audit_steps_of_target(&[ActionKind::Rollback], "deployment", &target, 5)
                .await?;
            let Some(rollback) = super::audit::entries_newest_first(steps)
                .into_iter()
                .find(|e| e.target.label() == state.environment)
            else {
                continue;
            };
            let switched_off = rollback
                .steps
                .iter()
                .any(|s| s.message == super::rollback::AUTOMATED_SYNC_SWITCHED_OFF);
            if !switched_off && state.sync.as_deref() != Some("OutOfSync") {
                continue;
            }
            out.push(AutomatedSyncOff {
                source,
                service: service.clone(),
                environment: state.environment,
                app: state.app,
                since: Some(rollback.requested_at),
                by: Some(rollback.actor),
                switched_off_by_rollback: switched_off,
                sync: state.sync,
                health: state.health,
            });
        }
        Ok(out)
    }

    /// Actions taken on the incident through Opsdeck, newest first.
    async fn actions_on_incident(&self, id: &str) -> Result<Vec<crate::api::AuditEntry>> {
        let steps = self
            .store()
            .audit_steps_of_target(&INCIDENT_ACTIONS, "incident", id, ACTIONS_SHOWN)
            .await?;
        Ok(super::audit::entries_newest_first(steps))
    }
}

/// Whether a deploy (or run) in `status` may have changed what runs: one that never started
/// (waiting for approval, queued, cancelled) changed nothing.
fn changed_something(status: DeployStatus) -> bool {
    !matches!(
        status,
        DeployStatus::Waiting
            | DeployStatus::Pending
            | DeployStatus::Queued
            | DeployStatus::Cancelled
    )
}

fn deploy_change(
    key: &str,
    name: &str,
    closeness: Closeness,
    d: &Deployment,
    previous: Option<&Deployment>,
    order: &crate::domain::delivery::EnvironmentOrder,
) -> Change {
    Change {
        id: format!("deploy:{}", d.id),
        kind: if d.rolled_back_from.is_some() {
            ChangeKind::Rollback
        } else {
            ChangeKind::Deploy
        },
        service_key: key.to_string(),
        service: name.to_string(),
        closeness,
        production: order.is_production(&d.environment),
        environment: Some(d.environment.clone()),
        version: d.version.clone(),
        previous_version: d
            .rolled_back_from
            .clone()
            .or_else(|| previous.map(|p| p.version.clone())),
        commit: d.commit.clone(),
        previous_commit: previous.and_then(|p| p.commit.clone()),
        actor: d.actor.clone(),
        at: d.started_at,
        status: Some(d.status),
        link: d.link.clone(),
    }
}

fn run_change(key: &str, name: &str, closeness: Closeness, run: &PipelineRun) -> Change {
    Change {
        id: format!("run:{}", run.id),
        kind: ChangeKind::DeployRun,
        service_key: key.to_string(),
        service: name.to_string(),
        closeness,
        environment: None,
        // A deploy workflow that names no environment may deploy anywhere: counted as
        // production, the worst case.
        production: true,
        version: format!(
            "{} ({})",
            run.workflow,
            crate::domain::delivery::short_sha(&run.head_sha)
        ),
        previous_version: None,
        commit: Some(run.head_sha.clone()),
        previous_commit: None,
        actor: None,
        at: run.created_at,
        status: Some(run.status),
        link: run.link.clone(),
    }
}

fn event_change(key: &str, name: &str, closeness: Closeness, event: &ChangeEvent) -> Change {
    Change {
        id: format!("event:{}", event.id),
        kind: ChangeKind::ChangeEvent,
        service_key: key.to_string(),
        service: name.to_string(),
        closeness,
        environment: None,
        production: true,
        version: event.summary.clone(),
        previous_version: None,
        commit: None,
        previous_commit: None,
        actor: event.origin.clone(),
        at: event.at,
        status: None,
        link: event.link.clone(),
    }
}
