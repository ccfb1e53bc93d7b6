//! PagerDuty REST API v2, as `pagerduty/openapiv3.json` describes it: `Token token=…`
//! authorisation, the versioned `Accept` header, classic `offset`/`limit`/`more` pagination,
//! `include[]` for embedded users, contact methods and escalation policies.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::http::RequestMeter;
use super::{ConnectorError, Endpoint, FailureKind, FetchProgress, Platform, Reached};
use crate::api::SignedInAs;
use crate::domain::oncall::{
    ChangeEvent, EscalationPolicy, Incident, PagerDutyService, Person, Shift,
};
use crate::text::one_line;

/// Records per page; PagerDuty's maximum.
pub const PAGE_SIZE: usize = 100;

/// Classic pagination stops at this offset; past it PagerDuty answers 400.
const MAX_OFFSET: usize = 10_000;

/// How far ahead on-call shifts are read: far enough for every level's next shift.
pub const ON_CALL_WINDOW_DAYS: i64 = 7;

/// How far back resolved incidents and change events are read.
pub const RESOLVED_WINDOW_DAYS: i64 = 7;

const ACCEPT: &str = "application/vnd.pagerduty+json;version=2";

/// What one sync reads from PagerDuty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PagerDutySnapshot {
    /// Services, with their escalation policy.
    pub services: Vec<PagerDutyService>,
    /// Escalation policies.
    pub policies: Vec<EscalationPolicy>,
    /// On-call shifts from now to [`ON_CALL_WINDOW_DAYS`] ahead, the earliest per policy, level
    /// and person, with the person's contact details.
    pub shifts: Vec<Shift>,
    /// Open incidents, and those resolved in the last [`RESOLVED_WINDOW_DAYS`].
    pub incidents: Vec<Incident>,
    /// Change events of the last [`RESOLVED_WINDOW_DAYS`].
    pub change_events: Vec<ChangeEvent>,
}

/// A PagerDuty account.
#[derive(Debug, Clone)]
pub struct PagerDutyConnector {
    endpoint: Endpoint,
}

#[derive(Deserialize)]
struct Reference {
    id: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct ServicePayload {
    id: String,
    name: String,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    escalation_policy: Option<Reference>,
}

#[derive(Deserialize)]
struct PolicyPayload {
    id: String,
    name: String,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct SchedulePayload {
    id: String,
    name: String,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct UserPayload {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    contact_methods: Vec<ContactMethodPayload>,
}

#[derive(Deserialize)]
struct ContactMethodPayload {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    country_code: Option<i64>,
}

#[derive(Deserialize)]
struct OncallPayload {
    user: UserPayload,
    #[serde(default)]
    schedule: Option<Reference>,
    escalation_policy: Reference,
    escalation_level: i64,
    #[serde(default)]
    start: Option<DateTime<Utc>>,
    #[serde(default)]
    end: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct IncidentPayload {
    id: String,
    #[serde(default)]
    incident_number: i64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    status: crate::domain::oncall::IncidentStatus,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    priority: Option<Reference>,
    service: Reference,
    created_at: DateTime<Utc>,
    #[serde(default)]
    last_status_change_at: Option<DateTime<Utc>>,
    #[serde(default)]
    assignments: Vec<AssignmentPayload>,
    #[serde(default)]
    acknowledgements: Vec<AcknowledgementPayload>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    escalation_policy: Option<Reference>,
}

#[derive(Deserialize)]
struct ChangeEventPayload {
    id: String,
    #[serde(default)]
    summary: Option<String>,
    timestamp: DateTime<Utc>,
    #[serde(default)]
    services: Vec<Reference>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    links: Vec<LinkPayload>,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct LinkPayload {
    #[serde(default)]
    href: Option<String>,
}

#[derive(Deserialize)]
struct IncidentEnvelope {
    incident: IncidentPayload,
}

#[derive(Deserialize)]
struct AssignmentPayload {
    assignee: Reference,
}

#[derive(Deserialize)]
struct AcknowledgementPayload {
    acknowledger: Reference,
}

#[derive(Deserialize)]
struct PageEnvelope {
    #[serde(default)]
    more: Option<bool>,
    #[serde(flatten)]
    lists: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct CurrentUser {
    user: UserPayload,
}

#[derive(Deserialize)]
struct ServiceCount {
    #[serde(default)]
    total: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
}

impl PagerDutyConnector {
    /// A connector reading through `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    /// Reads services, escalation policies, schedules, users, on-call shifts and incidents as
    /// of `now`. Any failure fails the whole fetch, so a partial picture never replaces a
    /// whole one in the cache.
    #[tracing::instrument(skip_all, fields(source = %self.endpoint.source_name()), err)]
    pub async fn fetch(
        &self,
        now: DateTime<Utc>,
        meter: &RequestMeter,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
    ) -> Result<PagerDutySnapshot, ConnectorError> {
        if self.endpoint.token().is_none() {
            let source = self.endpoint.source_name();
            return Err(self.platform().error(
                FailureKind::Token,
                match self.endpoint.token_env() {
                    Some(env) => format!(
                        "PagerDuty needs an API token: set {env} or run `opsdeck login {source}`"
                    ),
                    None => format!(
                        "PagerDuty needs an API token: add token_env to the source or run `opsdeck login {source}`"
                    ),
                },
            ));
        }
        let mut state = FetchProgress::default();
        let mut read = |state: &mut FetchProgress, pages: usize, items: usize| {
            state.pages += pages;
            state.items += items;
            progress(*state);
        };
        let window_end = (now + Duration::days(ON_CALL_WINDOW_DAYS)).to_rfc3339();
        let resolved_since = (now - Duration::days(RESOLVED_WINDOW_DAYS)).to_rfc3339();
        let now_text = now.to_rfc3339();

        let (services, pages): (Vec<ServicePayload>, _) = self
            .list(
                "/services",
                "services",
                &[("include[]", "escalation_policies")],
                meter,
            )
            .await?;
        read(&mut state, pages, services.len());
        let (policies, pages): (Vec<PolicyPayload>, _) = self
            .list("/escalation_policies", "escalation_policies", &[], meter)
            .await?;
        read(&mut state, pages, policies.len());
        let (schedules, pages): (Vec<SchedulePayload>, _) =
            self.list("/schedules", "schedules", &[], meter).await?;
        read(&mut state, pages, schedules.len());
        let (users, pages): (Vec<UserPayload>, _) = self
            .list(
                "/users",
                "users",
                &[("include[]", "contact_methods")],
                meter,
            )
            .await?;
        read(&mut state, pages, users.len());
        let (oncalls, pages): (Vec<OncallPayload>, _) = self
            .list(
                "/oncalls",
                "oncalls",
                &[
                    ("include[]", "users"),
                    ("since", &now_text),
                    ("until", &window_end),
                    ("earliest", "true"),
                ],
                meter,
            )
            .await?;
        read(&mut state, pages, oncalls.len());
        let (mut incidents, pages): (Vec<IncidentPayload>, _) = self
            .list(
                "/incidents",
                "incidents",
                &[
                    ("statuses[]", "triggered"),
                    ("statuses[]", "acknowledged"),
                    ("date_range", "all"),
                ],
                meter,
            )
            .await?;
        read(&mut state, pages, incidents.len());
        let (resolved, pages): (Vec<IncidentPayload>, _) = self
            .list(
                "/incidents",
                "incidents",
                &[
                    ("statuses[]", "resolved"),
                    ("since", &resolved_since),
                    ("until", &now_text),
                ],
                meter,
            )
            .await?;
        read(&mut state, pages, resolved.len());
        incidents.extend(resolved);
        // A busy account sends more change events in a week than classic pagination reaches:
        // the newest 10,000 are what an incident's suspects need.
        let (change_events, pages): (Vec<ChangeEventPayload>, _) = self
            .list_pages(
                "/change_events",
                "change_events",
                &[("since", &resolved_since), ("until", &now_text)],
                meter,
                true,
            )
            .await?;
        read(&mut state, pages, change_events.len());

        let mut snap = snapshot(services, policies, schedules, users, oncalls, incidents);
        snap.change_events = change_events.into_iter().map(change_event_of).collect();
        Ok(snap)
    }

    /// *Test connection*: whose token this is (`GET /users/me`); a token of the account, which
    /// has no user, is answered 400 there and shown by how many services it sees instead.
    pub async fn check(&self, meter: &RequestMeter) -> Result<Reached, ConnectorError> {
        self.token()?;
        match self
            .get::<CurrentUser>(&self.endpoint.url("/users/me"), meter)
            .await
        {
            Ok(CurrentUser { user }) => {
                let name = one_line(&user.name.or(user.summary).unwrap_or(user.id), 100);
                let email = user.email.map(|email| one_line(&email, 200));
                Ok(Reached {
                    found: match &email {
                        Some(email) => format!("the personal token of {name} <{email}>"),
                        None => format!("the personal token of {name}"),
                    },
                    signed_in_as: Some(SignedInAs { name, email }),
                })
            }
            Err(e) if e.kind == FailureKind::BadRequest => {
                let url = format!("{}?limit=1&total=true", self.endpoint.url("/services"));
                let services: ServiceCount = self.get(&url, meter).await?;
                Ok(Reached {
                    found: format!(
                        "an account token that sees {} services (it belongs to no user: actions need your email in [identity])",
                        services.total.map_or("its".into(), crate::text::grouped)
                    ),
                    signed_in_as: None,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Reads one incident as it stands now (`GET /incidents/{id}`).
    pub async fn incident(
        &self,
        id: &str,
        meter: &RequestMeter,
    ) -> Result<Incident, ConnectorError> {
        let envelope: IncidentEnvelope = self.get(&self.incident_url(id), meter).await?;
        Ok(incident_of(envelope.incident))
    }

    /// `/incidents/{id}` at this source, the id escaped as one path segment.
    pub fn incident_url(&self, id: &str) -> String {
        self.endpoint
            .url(&format!("/incidents/{}", crate::text::percent_encoded(id)))
    }

    /// Updates an incident (`PUT /incidents/{id}` with `body`, an `{"incident": …}` object) on
    /// behalf of `from`, the email of a PagerDuty user, as the `From` header the spec requires.
    /// Sent once; PagerDuty's answer is the incident as it now stands.
    pub async fn update_incident(
        &self,
        id: &str,
        from: &str,
        body: &Value,
        doing: &str,
        meter: &RequestMeter,
    ) -> Result<Incident, ConnectorError> {
        let url = self.incident_url(id);
        let answer: Option<IncidentEnvelope> = self
            .act(&url, reqwest::Method::PUT, from, body, doing, meter)
            .await?;
        answer.map(|a| incident_of(a.incident)).ok_or_else(|| {
            self.platform().error(
                FailureKind::Malformed,
                format!("PagerDuty accepted {doing} but sent no incident back; re-reading it"),
            )
        })
    }

    /// Adds a note to an incident (`POST /incidents/{id}/notes`) as `from`. Sent once.
    pub async fn add_note(
        &self,
        id: &str,
        from: &str,
        content: &str,
        meter: &RequestMeter,
    ) -> Result<String, ConnectorError> {
        let url = format!("{}/notes", self.incident_url(id));
        let body = serde_json::json!({"note": {"content": content}});
        let answer: Option<Value> = self
            .act(&url, reqwest::Method::POST, from, &body, "the note", meter)
            .await?;
        Ok(answer
            .as_ref()
            .and_then(|a| a.pointer("/note/id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// The notes on an incident, newest last (`GET /incidents/{id}/notes`): how a note whose
    /// answer was lost is found again.
    pub async fn notes(
        &self,
        id: &str,
        meter: &RequestMeter,
    ) -> Result<Vec<String>, ConnectorError> {
        #[derive(Deserialize)]
        struct Note {
            #[serde(default)]
            content: String,
        }
        #[derive(Deserialize)]
        struct Notes {
            notes: Vec<Note>,
        }
        let url = format!("{}/notes", self.incident_url(id));
        let notes: Notes = self.get(&url, meter).await?;
        Ok(notes.notes.into_iter().map(|n| n.content).collect())
    }

    /// One object read from `url`.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        meter: &RequestMeter,
    ) -> Result<T, ConnectorError> {
        let token = self.token()?;
        self.platform()
            .get_json(self.endpoint.reader(meter), url, || {
                self.endpoint
                    .request(reqwest::Method::GET, url)
                    .header("Accept", ACCEPT)
                    .header("Authorization", format!("Token token={}", token.value))
            })
            .await
    }

    async fn act<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        method: reqwest::Method,
        from: &str,
        body: &Value,
        doing: &str,
        meter: &RequestMeter,
    ) -> Result<Option<T>, ConnectorError> {
        let token = self.token()?;
        self.platform()
            .act(self.endpoint.reader(meter), url, doing, || {
                self.endpoint
                    .request(method.clone(), url)
                    .header("Accept", ACCEPT)
                    .header("Authorization", format!("Token token={}", token.value))
                    .header("From", from)
                    .json(body)
            })
            .await
    }

    fn token(&self) -> Result<&crate::secrets::Token, ConnectorError> {
        self.endpoint.token().ok_or_else(|| {
            self.platform().error(
                FailureKind::Token,
                format!(
                    "PagerDuty needs an API token: run `opsdeck login {}`",
                    self.endpoint.source_name()
                ),
            )
        })
    }

    /// Every page of a list endpoint; returns the items of `key` and the pages read.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, &str)],
        meter: &RequestMeter,
    ) -> Result<(Vec<T>, usize), ConnectorError> {
        self.list_pages(path, key, query, meter, false).await
    }

    /// Every page of a list endpoint, as [`Self::list`] reads them; with `keep_newest` (a
    /// list PagerDuty sorts newest first), what was read is kept where classic pagination
    /// ends at 10,000 rather than failing the sync.
    async fn list_pages<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, &str)],
        meter: &RequestMeter,
        keep_newest: bool,
    ) -> Result<(Vec<T>, usize), ConnectorError> {
        let url = self.endpoint.url(path);
        let reader = self.endpoint.reader(meter);
        let platform = self.platform();
        let token = self.endpoint.token().expect("checked by fetch");
        let mut items = Vec::new();
        let mut pages = 0;
        loop {
            let offset = items.len().to_string();
            let limit = PAGE_SIZE.to_string();
            let page: PageEnvelope = platform
                .get_json(reader, &url, || {
                    self.endpoint
                        .request(reqwest::Method::GET, &url)
                        .query(query)
                        .query(&[("limit", limit.as_str()), ("offset", offset.as_str())])
                        .header("Accept", ACCEPT)
                        .header("Authorization", format!("Token token={}", token.value))
                })
                .await?;
            pages += 1;
            let list = page.lists.get(key).cloned().ok_or_else(|| {
                platform.error(
                    FailureKind::Malformed,
                    format!("the answer from {url} has no '{key}' list; nothing was replaced"),
                )
            })?;
            let batch: Vec<T> = serde_json::from_value(list).map_err(|e| {
                platform.error(
                    FailureKind::Malformed,
                    format!(
                        "the '{key}' from {url} do not match the API's schema ({e}); nothing was replaced"
                    ),
                )
            })?;
            let got = batch.len();
            items.extend(batch);
            if page.more != Some(true) {
                return Ok((items, pages));
            }
            if got > 0 && items.len() >= MAX_OFFSET && keep_newest {
                tracing::warn!(%url, kept = items.len(), "PagerDuty's offset pagination ends here: the newest are kept");
                return Ok((items, pages));
            }
            if got == 0 || items.len() >= MAX_OFFSET {
                return Err(platform.error(
                    FailureKind::Malformed,
                    format!(
                        "{url} says there is more after {} records but {}; nothing was replaced",
                        items.len(),
                        if got == 0 {
                            "sent an empty page"
                        } else {
                            "PagerDuty's offset pagination ends at 10,000"
                        }
                    ),
                ));
            }
        }
    }

    fn platform(&self) -> Platform<'_> {
        Platform {
            endpoint: &self.endpoint,
            called: "PagerDuty",
            not_found: "no PagerDuty API at this address; 'url' should be https://api.pagerduty.com (or the sandbox's /pagerduty)",
            error_detail: |body| {
                let error = serde_json::from_slice::<ErrorBody>(body).ok()?.error;
                let mut text = error.message.unwrap_or_default();
                if let Some(code) = error.code {
                    text = format!("{text} (code {code})");
                }
                if !error.errors.is_empty() {
                    text = format!("{text}: {}", error.errors.join("; "));
                }
                Some(one_line(&text, 200))
            },
        }
    }
}

/// PagerDuty's Events API v2 at the endpoint's URL (its root, `https://events.pagerduty.com`):
/// change events, routed by an integration key rather than a token.
#[derive(Debug, Clone)]
pub struct ChangeEvents {
    endpoint: Endpoint,
}

#[derive(Deserialize)]
struct EventsErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
}

impl ChangeEvents {
    /// The Events API at the endpoint's URL; the endpoint's token is not sent.
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    /// Sends one change event (`POST /v2/change/enqueue`); PagerDuty answers 202. Sent once.
    pub async fn send(&self, event: &Value, meter: &RequestMeter) -> Result<(), ConnectorError> {
        let url = self.endpoint.url("/v2/change/enqueue");
        let platform = Platform {
            endpoint: &self.endpoint,
            called: "PagerDuty's Events API",
            not_found:
                "no Events API at this address; 'events_url' should be https://events.pagerduty.com",
            error_detail: |body| {
                let error: EventsErrorBody = serde_json::from_slice(body).ok()?;
                let mut text = error.message.unwrap_or_default();
                if !error.errors.is_empty() {
                    text = format!("{text}: {}", error.errors.join("; "));
                }
                Some(one_line(&text, 200))
            },
        };
        platform
            .act::<Value>(
                self.endpoint.reader(meter),
                &url,
                "the change event",
                || {
                    self.endpoint
                        .request(reqwest::Method::POST, &url)
                        .header("Accept", "application/json")
                        .json(event)
                },
            )
            .await
            .map(drop)
    }
}

/// Turns the payloads into domain records: shifts carry their person's contact details and
/// their schedule's name.
fn snapshot(
    services: Vec<ServicePayload>,
    policies: Vec<PolicyPayload>,
    schedules: Vec<SchedulePayload>,
    users: Vec<UserPayload>,
    oncalls: Vec<OncallPayload>,
    incidents: Vec<IncidentPayload>,
) -> PagerDutySnapshot {
    let schedules: HashMap<String, SchedulePayload> =
        schedules.into_iter().map(|s| (s.id.clone(), s)).collect();
    let people: HashMap<String, Person> = users
        .into_iter()
        .map(|u| (u.id.clone(), person_of(u)))
        .collect();
    let shifts = oncalls
        .into_iter()
        .map(|o| {
            let known = people.get(&o.user.id).cloned();
            let schedule = o.schedule.as_ref();
            let listed = schedule.and_then(|s| schedules.get(&s.id));
            Shift {
                policy_id: o.escalation_policy.id.clone(),
                policy_name: o
                    .escalation_policy
                    .summary
                    .clone()
                    .unwrap_or_else(|| o.escalation_policy.id.clone()),
                policy_url: o.escalation_policy.html_url.clone(),
                level: o.escalation_level,
                person: known.unwrap_or_else(|| person_of(o.user)),
                schedule_name: schedule
                    .and_then(|s| s.summary.clone())
                    .or_else(|| listed.map(|s| s.name.clone())),
                schedule_url: schedule
                    .and_then(|s| s.html_url.clone())
                    .or_else(|| listed.and_then(|s| s.html_url.clone())),
                start: o.start,
                end: o.end,
            }
        })
        .collect();
    PagerDutySnapshot {
        services: services
            .into_iter()
            .map(|s| PagerDutyService {
                id: s.id,
                name: s.name,
                html_url: s.html_url,
                policy_id: s.escalation_policy.map(|p| p.id),
            })
            .collect(),
        policies: policies
            .into_iter()
            .map(|p| EscalationPolicy {
                id: p.id,
                name: p.name,
                html_url: p.html_url,
            })
            .collect(),
        shifts,
        incidents: incidents.into_iter().map(incident_of).collect(),
        change_events: Vec::new(),
    }
}

fn incident_of(i: IncidentPayload) -> Incident {
    Incident {
        title: i
            .title
            .or(i.summary)
            .unwrap_or_else(|| format!("incident {}", i.id)),
        id: i.id,
        number: i.incident_number,
        status: i.status,
        urgency: i.urgency.unwrap_or_else(|| "high".into()),
        priority: i.priority.and_then(|p| p.summary),
        service_id: i.service.id,
        created_at: i.created_at,
        last_status_change_at: i.last_status_change_at,
        assignees: i
            .assignments
            .into_iter()
            .map(|a| name_of(a.assignee))
            .collect(),
        acknowledged_by: i
            .acknowledgements
            .into_iter()
            .map(|a| name_of(a.acknowledger))
            .collect(),
        html_url: i.html_url,
        policy_id: i.escalation_policy.map(|p| p.id),
    }
}

fn change_event_of(e: ChangeEventPayload) -> ChangeEvent {
    ChangeEvent {
        summary: e
            .summary
            .unwrap_or_else(|| format!("change event {}", e.id)),
        id: e.id,
        at: e.timestamp,
        service_ids: e.services.into_iter().map(|s| s.id).collect(),
        origin: e.source,
        link: e.links.into_iter().find_map(|l| l.href).or(e.html_url),
    }
}

fn name_of(reference: Reference) -> String {
    reference.summary.unwrap_or(reference.id)
}

fn person_of(user: UserPayload) -> Person {
    let phone = ["phone_contact_method", "sms_contact_method"]
        .iter()
        .find_map(|kind| {
            user.contact_methods
                .iter()
                // PagerDuty's schema calls embedded methods references (`…_reference`).
                .find(|c| c.kind.trim_end_matches("_reference") == *kind && c.address.is_some())
        })
        .map(|c| {
            let number = c.address.clone().unwrap_or_default();
            match c.country_code {
                Some(code) => format!("+{code} {number}"),
                None => number,
            }
        });
    Person {
        name: user
            .name
            .or(user.summary)
            .unwrap_or_else(|| user.id.clone()),
        id: user.id,
        email: user.email,
        phone,
        profile_url: user.html_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OpenAPI document's own example answer of `GET path`, so mapping follows what
    /// PagerDuty documents.
    fn items<T: serde::de::DeserializeOwned>(spec: &Value, path: &str, key: &str) -> Vec<T> {
        let examples = &spec["paths"][path]["get"]["responses"]["200"]["content"]
            ["application/json"]["examples"];
        let page = &examples
            .as_object()
            .expect("the spec has examples")
            .values()
            .next()
            .expect("one example")["value"];
        serde_json::from_value(page[key].clone()).expect("the spec's example maps")
    }

    #[tokio::test]
    async fn an_account_token_is_checked_by_the_services_it_sees() {
        // PagerDuty answers `/users/me` to a token of the account (no user) with its 400.
        let app = axum::Router::new()
            .route(
                "/users/me",
                axum::routing::get(|| async {
                    (
                        axum::http::StatusCode::BAD_REQUEST,
                        [("content-type", "application/json")],
                        r#"{"error":{"message":"Invalid Input Provided","code":2001,"errors":["This endpoint requires a user-level token"]}}"#,
                    )
                }),
            )
            .route(
                "/services",
                axum::routing::get(|| async {
                    (
                        [("content-type", "application/json")],
                        r#"{"services":[],"limit":1,"offset":0,"more":true,"total":1234}"#,
                    )
                }),
            );
        let url = crate::connectors::serve_on_loopback(app).await;
        let connector = PagerDutyConnector::new(Endpoint::new(
            crate::connectors::SourceClients::new(None).unwrap(),
            "pagerduty",
            &url,
            Some(crate::secrets::Token {
                value: "account-token".into(),
                origin: "env PD_TOKEN".into(),
            }),
            Some("PD_TOKEN".into()),
            std::time::Duration::from_secs(5),
        ));
        let meter = RequestMeter::default();
        let reached = connector.check(&meter).await.unwrap();
        assert_eq!(
            reached.found,
            "an account token that sees 1,234 services (it belongs to no user: actions need your email in [identity])"
        );
        assert_eq!(reached.signed_in_as, None);
        assert_eq!(meter.requests(), 2);
    }

    #[test]
    fn the_specs_examples_map_to_records() {
        let Some(text) = opsdeck_sandbox::specs::spec_text("pagerduty/openapiv3.json") else {
            return;
        };
        let spec: Value = serde_json::from_str(&text).expect("the PagerDuty spec is JSON");
        let services: Vec<ServicePayload> = items(&spec, "/services", "services");
        let policies: Vec<PolicyPayload> =
            items(&spec, "/escalation_policies", "escalation_policies");
        let schedules: Vec<SchedulePayload> = items(&spec, "/schedules", "schedules");
        let users: Vec<UserPayload> = items(&spec, "/users", "users");
        let oncalls: Vec<OncallPayload> = items(&spec, "/oncalls", "oncalls");
        let incidents: Vec<IncidentPayload> = items(&spec, "/incidents", "incidents");
        let snap = snapshot(services, policies, schedules, users, oncalls, incidents);

        let service = &snap.services[0];
        assert_eq!(service.id, "PIJ90N7");
        assert!(service.policy_id.is_some());
        assert_eq!(snap.policies[0].id, "PANZZEQ");
        assert_eq!(snap.policies[0].name, "Engineering Escalation Policy");

        let shift = &snap.shifts[0];
        assert_eq!(shift.person.id, "PT23IWX");
        assert_eq!(shift.person.name, "Tim Wright");
        assert_eq!(shift.policy_id, "PT20YPA");
        assert_eq!(shift.policy_name, "Engineering Escalation Policy");
        assert_eq!(shift.level, 2);
        assert_eq!(
            shift.schedule_name.as_deref(),
            Some("Daily Engineering Rotation")
        );
        assert_eq!(
            shift.start.unwrap().to_rfc3339(),
            "2015-03-06T20:28:51+00:00"
        );

        let incident = &snap.incidents[0];
        assert_eq!(incident.id, "PT4KHLK");
        assert_eq!(incident.number, 1234);
        assert_eq!(incident.title, "The server is on fire.");
        assert_eq!(incident.status.as_str(), "resolved");
        assert_eq!(incident.urgency, "high");
        assert_eq!(incident.priority.as_deref(), Some("P2"));
        assert_eq!(incident.service_id, "PIJ90N7");
    }

    #[test]
    fn phones_come_from_contact_methods() {
        let user: UserPayload = serde_json::from_value(serde_json::json!({
            "id": "PX", "type": "user", "name": "Dana", "email": "dana@x.dev",
            "html_url": "https://x.pagerduty.com/users/PX",
            "contact_methods": [
                {"type": "email_contact_method", "label": "Work", "address": "dana@x.dev"},
                {"type": "sms_contact_method_reference", "label": "SMS", "address": "5550000", "country_code": 44},
                {"type": "phone_contact_method", "label": "Mobile", "address": "5550100", "country_code": 1}
            ]
        }))
        .unwrap();
        let person = person_of(user);
        assert_eq!(person.phone.as_deref(), Some("+1 5550100"));
        assert_eq!(person.email.as_deref(), Some("dana@x.dev"));
    }

    #[tokio::test]
    async fn fuzzed_pages_map_or_fail_never_panic() {
        let seeds = crate::connectors::fuzz::served(&[
            "/pagerduty/services?limit=5",
            "/pagerduty/escalation_policies?limit=5",
            "/pagerduty/schedules?limit=5",
            "/pagerduty/users?limit=5",
            "/pagerduty/oncalls?limit=5",
            "/pagerduty/incidents?limit=5",
            "/pagerduty/change_events?limit=5",
            "/pagerduty/incidents/PQD6F07",
        ])
        .await;
        fn list<T: serde::de::DeserializeOwned>(page: &PageEnvelope, key: &str) -> Vec<T> {
            page.lists
                .get(key)
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default()
        }
        crate::connectors::fuzz::fuzz("pagerduty page", &seeds, |bytes| {
            let Ok(page) = serde_json::from_slice::<PageEnvelope>(bytes) else {
                return;
            };
            let _ = snapshot(
                list(&page, "services"),
                list(&page, "escalation_policies"),
                list(&page, "schedules"),
                list(&page, "users"),
                list(&page, "oncalls"),
                list(&page, "incidents"),
            );
            let _: Vec<ChangeEvent> = list::<ChangeEventPayload>(&page, "change_events")
                .into_iter()
                .map(change_event_of)
                .collect();
            if let Ok(one) = serde_json::from_slice::<IncidentEnvelope>(bytes) {
                let _ = incident_of(one.incident);
            }
        });
    }
}
