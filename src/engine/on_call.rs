//! Who is on call and what is on fire, answered from the cache: PagerDuty's shifts and
//! incidents joined to components by `pagerduty.com/service-id`, Alertmanager's alerts by the
//! `service` label or a component's selector, people to catalog users by email.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Utc;

use crate::api::{AlertRow, IncidentRow, OnCallPanel, Presence, ServiceRef, TeamOnCall};
use crate::domain::alerts::{Alert, AlertState, Silence};
use crate::domain::oncall::{
    on_call_at, Incident, IncidentStatus, PagerDutyService, PolicyOnCall, Shift,
};
use crate::domain::Health;
use crate::store::{ComponentWiring, LookupBy, RecordKind, TeamHead};
use crate::{Engine, Result};

/// Whose on-call panel to show.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// A team's services (`checkout`, `group:checkout`).
    Team(&'a str),
    /// One service (`checkout-api`, `component:default/checkout-api`).
    Service(&'a str),
}

/// See [`Engine::on_call_summary`].
#[derive(Debug)]
pub(crate) struct OnCallSummary {
    /// Every team, mine first.
    teams: Vec<TeamHead>,
    /// Each owner's escalation policies.
    policies_of: HashMap<String, Vec<String>>,
    shifts_by_policy: HashMap<String, Vec<Shift>>,
    /// Open incidents by owner and status.
    incidents: HashMap<(String, String), i64>,
    /// Firing alerts by owner.
    firing: HashMap<String, i64>,
}

impl Engine {
    /// On call now and next, open incidents and alerts for a team's services or one service.
    pub async fn on_call_panel(&self, scope: Scope<'_>) -> Result<OnCallPanel> {
        let wiring = self.wiring(scope).await?;
        let services = self.pagerduty_services(&wiring).await?;
        let policies = self.policies_on_call(&services).await?;
        let known: Vec<&str> = services.iter().map(|s| s.id.as_str()).collect();
        let pagerduty_synced = self.store().holds_records(RecordKind::Service).await?;
        let incidents = self
            .incident_rows(
                Some(&wiring),
                &[
                    IncidentStatus::Triggered,
                    IncidentStatus::Acknowledged,
                    IncidentStatus::Resolved,
                ],
            )
            .await?;
        let (open, resolved): (Vec<IncidentRow>, Vec<IncidentRow>) = incidents
            .into_iter()
            .partition(|r| r.incident.status.is_open());
        let keys: Vec<String> = wiring.iter().map(|w| w.key.clone()).collect();
        let alerts = self
            .alert_rows(self.store().alerts_of(&keys).await?)
            .await?;
        Ok(OnCallPanel {
            me_on_call: policies.iter().any(PolicyOnCall::has_me_on_call),
            policies,
            incidents: open,
            resolved_recently: resolved.len() as i64,
            alerts,
            unpaged: wiring
                .iter()
                .filter(|w| w.pagerduty_service_id.is_none())
                .map(|w| w.name.clone())
                .collect(),
            unknown_to_pagerduty: wiring
                .iter()
                .filter(|w| {
                    pagerduty_synced
                        && w.pagerduty_service_id
                            .as_deref()
                            .is_some_and(|id| !known.contains(&id))
                })
                .map(|w| w.name.clone())
                .collect(),
        })
    }

    /// Every team's on-call now and next, with its open incidents and firing alerts; the
    /// identity's teams first.
    pub async fn on_call_overview(&self) -> Result<Vec<TeamOnCall>> {
        let summary = self.on_call_summary().await?;
        let now = Utc::now();
        let me = self.config().identity.email.as_deref();
        Ok(summary
            .teams
            .iter()
            .map(|team| {
                let shifts = summary
                    .policies_of
                    .get(&team.key)
                    .into_iter()
                    .flatten()
                    .flat_map(|p| summary.shifts_by_policy.get(p).into_iter().flatten());
                let policies = on_call_at(shifts, now, me);
                let count = |status: IncidentStatus| {
                    summary
                        .incidents
                        .get(&(team.key.clone(), status.as_str().to_string()))
                        .copied()
                        .unwrap_or(0)
                };
                TeamOnCall {
                    me_on_call: policies.iter().any(PolicyOnCall::has_me_on_call),
                    triggered: count(IncidentStatus::Triggered),
                    acknowledged: count(IncidentStatus::Acknowledged),
                    firing_alerts: summary.firing.get(&team.key).copied().unwrap_or(0),
                    policies,
                    key: team.key.clone(),
                    name: team.name.clone(),
                    title: team.title.clone(),
                    is_mine: team.is_mine,
                }
            })
            .collect())
    }

    /// What the On call screen shows that changes only when a source lands (who is on call
    /// changes with the clock, and is read from these shifts at each call): worked out once a
    /// landing, whichever process landed, and at the end of each sync that lands here.
    pub(crate) async fn on_call_summary(&self) -> Result<Arc<OnCallSummary>> {
        let mark = self.store().landings_mark().await?;
        if let Some(summary) = self.inner.on_call_summary.get(&mark) {
            return Ok(summary);
        }
        let me = self.config().identity.email.as_deref();
        let teams = self.store().team_heads(me).await?;
        let mut policies_of: HashMap<String, Vec<String>> = HashMap::new();
        for (owner, policy) in self.store().owner_policies().await? {
            policies_of.entry(owner).or_default().push(policy);
        }
        let mut incidents: HashMap<(String, String), i64> = HashMap::new();
        for (owner, status, count) in self.store().incidents_per_owner().await? {
            incidents.insert((owner, status), count);
        }
        let summary = Arc::new(OnCallSummary {
            teams,
            policies_of,
            shifts_by_policy: self.shifts_by_policy().await?,
            incidents,
            firing: self.store().firing_alerts_per_owner().await?,
        });
        self.inner.on_call_summary.keep(mark, summary.clone());
        Ok(summary)
    }

    /// Every cached on-call shift, by escalation policy.
    pub(crate) async fn shifts_by_policy(&self) -> Result<HashMap<String, Vec<Shift>>> {
        let mut by_policy: HashMap<String, Vec<Shift>> = HashMap::new();
        for (_, shift) in self.store().all_records::<Shift>(RecordKind::Shift).await? {
            by_policy
                .entry(shift.policy_id.clone())
                .or_default()
                .push(shift);
        }
        Ok(by_policy)
    }

    /// Incidents with one of `statuses`, of a team's services or all; triggered first, then
    /// acknowledged, then resolved, newest first.
    pub async fn incidents(
        &self,
        team: Option<&str>,
        statuses: &[IncidentStatus],
    ) -> Result<Vec<IncidentRow>> {
        let wiring = match team {
            Some(team) => Some(self.wiring(Scope::Team(team)).await?),
            None => None,
        };
        self.incident_rows(wiring.as_deref(), statuses).await
    }

    /// Alerts of one service, or all of them; firing first, then by severity, newest first.
    pub async fn alerts(&self, service: Option<&str>) -> Result<Vec<AlertRow>> {
        let joined = match service {
            Some(service) => {
                let keys: Vec<String> = self
                    .wiring(Scope::Service(service))
                    .await?
                    .into_iter()
                    .map(|w| w.key)
                    .collect();
                self.store().alerts_of(&keys).await?
            }
            None => {
                let components = self.store().alert_components().await?;
                self.store()
                    .all_records::<Alert>(RecordKind::Alert)
                    .await?
                    .into_iter()
                    .flat_map(|(source, alert)| {
                        let keys = components
                            .get(&(source.clone(), alert.fingerprint.clone()))
                            .cloned()
                            .unwrap_or_default();
                        if keys.is_empty() {
                            vec![(String::new(), source, alert)]
                        } else {
                            keys.into_iter()
                                .map(|k| (k, source.clone(), alert.clone()))
                                .collect()
                        }
                    })
                    .collect()
            }
        };
        self.alert_rows(joined).await
    }

    /// What the desktop's tray shows: whether the user is on call now and until when, the
    /// triggered incidents on their teams, and the source that most needs attention.
    pub async fn presence(&self) -> Result<Presence> {
        let overview = self.on_call_overview().await?;
        let my_shifts_end = overview
            .iter()
            .flat_map(|t| &t.policies)
            .flat_map(|p| &p.levels)
            .flat_map(|l| &l.now)
            .filter(|n| n.is_me)
            .map(|n| n.until);
        let (mut on_call, mut until) = (false, None);
        for end in my_shifts_end {
            on_call = true;
            until = match (until, end) {
                (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                (a, b) => a.or(b),
            };
        }
        let sources = self.sources().await?;
        let worst = [
            Health::Failing,
            Health::RateLimited,
            Health::Stale,
            Health::Never,
        ]
        .into_iter()
        .find_map(|health| sources.iter().find(|s| s.health == health));
        Ok(Presence {
            on_call,
            on_call_until: until,
            triggered_on_my_teams: overview
                .iter()
                .filter(|t| t.is_mine)
                .map(|t| t.triggered)
                .sum(),
            worst_health: worst.map_or(Health::Fresh, |s| s.health),
            worst_source: worst.map(|s| s.name.clone()),
        })
    }

    /// Whom this engine's notifications are for, where users share a cache: the identity's
    /// email, else the login on this machine.
    fn recipient(&self) -> String {
        match &self.config().identity.email {
            Some(email) => email.to_lowercase(),
            None => {
                let login = std::env::var("USER").or_else(|_| std::env::var("USERNAME"));
                format!("{}@{}", login.unwrap_or_default(), self.machine())
            }
        }
    }

    /// Triggered incidents on services of the identity's teams that were never handed out
    /// before to this user, now marked as handed out: each appears once, across restarts and
    /// windows.
    pub async fn incidents_to_notify(&self) -> Result<Vec<IncidentRow>> {
        let me = self.config().identity.email.as_deref();
        let mut wiring = Vec::new();
        let teams = self.store().team_heads(me).await?;
        for team in teams.iter().filter(|t| t.is_mine) {
            wiring.extend(self.store().wiring_of_owner(&team.key).await?);
        }
        if wiring.is_empty() {
            return Ok(Vec::new());
        }
        let triggered = self
            .incident_rows(Some(&wiring), &[IncidentStatus::Triggered])
            .await?;
        let ids: Vec<(String, String)> = triggered
            .iter()
            .map(|r| (r.source.clone(), r.incident.id.clone()))
            .collect();
        let fresh = self
            .store()
            .take_unnotified(&ids, &self.recipient(), Utc::now())
            .await?;
        Ok(triggered
            .into_iter()
            .filter(|r| fresh.contains(&(r.source.clone(), r.incident.id.clone())))
            .collect())
    }

    async fn wiring(&self, scope: Scope<'_>) -> Result<Vec<ComponentWiring>> {
        Ok(match scope {
            Scope::Team(team) => {
                let key = self.team_key(team).await?;
                self.store().wiring_of_owner(&key).await?
            }
            Scope::Service(service) => {
                let key = self.service_key(service).await?;
                self.store().wiring_of_component(&key).await?
            }
        })
    }

    async fn pagerduty_services(
        &self,
        wiring: &[ComponentWiring],
    ) -> Result<Vec<PagerDutyService>> {
        let ids: Vec<String> = wiring
            .iter()
            .filter_map(|w| w.pagerduty_service_id.clone())
            .collect();
        Ok(self
            .store()
            .records::<PagerDutyService>(RecordKind::Service, LookupBy::Id, &ids)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    async fn policies_on_call(&self, services: &[PagerDutyService]) -> Result<Vec<PolicyOnCall>> {
        let policy_ids: Vec<String> = services
            .iter()
            .filter_map(|s| s.policy_id.clone())
            .collect();
        self.policies_now(policy_ids).await
    }

    /// Who is on call now and next on each of `policy_ids`, with their catalog users.
    pub(crate) async fn policies_now(
        &self,
        mut policy_ids: Vec<String>,
    ) -> Result<Vec<PolicyOnCall>> {
        policy_ids.sort_unstable();
        policy_ids.dedup();
        let shifts: Vec<Shift> = self
            .store()
            .records::<Shift>(RecordKind::Shift, LookupBy::JoinKey, &policy_ids)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        let mut policies = on_call_at(&shifts, Utc::now(), self.config().identity.email.as_deref());
        let emails: Vec<String> = policies
            .iter()
            .flat_map(|p| &p.levels)
            .flat_map(|l| &l.now)
            .filter_map(|n| n.person.email.as_ref().map(|e| e.to_lowercase()))
            .collect();
        let users = self.store().users_by_email(&emails).await?;
        for now in policies
            .iter_mut()
            .flat_map(|p| &mut p.levels)
            .flat_map(|l| &mut l.now)
        {
            now.catalog_user = now
                .person
                .email
                .as_ref()
                .and_then(|e| users.get(&e.to_lowercase()).cloned());
        }
        Ok(policies)
    }

    /// Incidents of the PagerDuty services `wiring` names (all when `None`), with the
    /// components they are on.
    pub(crate) async fn incident_rows(
        &self,
        wiring: Option<&[ComponentWiring]>,
        statuses: &[IncidentStatus],
    ) -> Result<Vec<IncidentRow>> {
        let all_wired;
        let (wiring, incidents) = match wiring {
            Some(wiring) => {
                let ids: Vec<String> = wiring
                    .iter()
                    .filter_map(|w| w.pagerduty_service_id.clone())
                    .collect();
                let incidents = self
                    .store()
                    .records::<Incident>(RecordKind::Incident, LookupBy::JoinKey, &ids)
                    .await?;
                (wiring, incidents)
            }
            None => {
                all_wired = self.store().pagerduty_wired().await?;
                let incidents = self
                    .store()
                    .all_records::<Incident>(RecordKind::Incident)
                    .await?;
                (all_wired.as_slice(), incidents)
            }
        };
        let mut rows: Vec<IncidentRow> = incidents
            .into_iter()
            .filter(|(_, i)| statuses.contains(&i.status))
            .map(|(source, incident)| IncidentRow {
                services: wiring
                    .iter()
                    .filter(|w| {
                        w.pagerduty_service_id.as_deref() == Some(incident.service_id.as_str())
                    })
                    .map(|w| ServiceRef {
                        key: w.key.clone(),
                        name: w.name.clone(),
                    })
                    .collect(),
                source,
                incident,
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.incident.status, std::cmp::Reverse(a.incident.created_at))
                .cmp(&(b.incident.status, std::cmp::Reverse(b.incident.created_at)))
        });
        Ok(rows)
    }

    /// Groups (component, alert) pairs by alert, adds the silences that mute each, and sorts.
    pub(crate) async fn alert_rows(
        &self,
        joined: Vec<(String, String, Alert)>,
    ) -> Result<Vec<AlertRow>> {
        let mut by_alert: BTreeMap<String, AlertRow> = BTreeMap::new();
        let mut silence_ids: Vec<String> = Vec::new();
        for (component, source, alert) in joined {
            silence_ids.extend(alert.silenced_by.iter().cloned());
            let row = by_alert
                .entry(format!("{source} {}", alert.fingerprint))
                .or_insert_with(|| AlertRow {
                    source,
                    alert,
                    services: Vec::new(),
                    silences: Vec::new(),
                });
            if !component.is_empty() {
                row.services.push(ServiceRef {
                    name: crate::store::key_name(&component).to_string(),
                    key: component,
                });
            }
        }
        let silences: Vec<Silence> = self
            .store()
            .records::<Silence>(RecordKind::Silence, LookupBy::Id, &silence_ids)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        let mut rows: Vec<AlertRow> = by_alert
            .into_values()
            .map(|mut row| {
                row.silences = silences
                    .iter()
                    .filter(|s| row.alert.silenced_by.contains(&s.id))
                    .cloned()
                    .collect();
                row
            })
            .collect();
        rows.sort_by(|a, b| {
            let rank = |r: &AlertRow| {
                (
                    r.alert.state != AlertState::Firing,
                    r.alert.state,
                    severity_rank(r.alert.severity.as_deref()),
                    std::cmp::Reverse(r.alert.starts_at),
                )
            };
            rank(a).cmp(&rank(b))
        });
        Ok(rows)
    }
}

/// Most severe first; unknown severities after the known ones.
fn severity_rank(severity: Option<&str>) -> u8 {
    match severity.map(str::to_ascii_lowercase).as_deref() {
        Some("critical" | "page") => 0,
        Some("error" | "high") => 1,
        Some("warning" | "warn") => 2,
        Some("info" | "low") => 3,
        _ => 4,
    }
}
