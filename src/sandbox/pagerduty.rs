//! The sandbox's PagerDuty REST API v2: `/services`, `/escalation_policies`, `/schedules`,
//! `/users` (and `/users/me`), `/oncalls`, `/incidents` (read, updated, with notes) and `/change_events`, shaped
//! as `pagerduty/openapiv3.json` says (checked by tests/contract.rs): `Token token=` auth, classic pagination with `limit`, `offset`, `more`
//! and `total`, `include[]` for embedded objects, PagerDuty's error body.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::oncall::{Incident, OnCallWorld, Rotation};
use super::org::DEMO_IDENTITY;

/// PagerDuty's default page size, and its largest.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
/// Classic pagination refuses offsets past this.
const MAX_OFFSET: usize = 10_000;
const API: &str = "https://api.pagerduty.com";

pub(super) struct PagerDutyApi {
    pub token: String,
    pub world: Arc<OnCallWorld>,
    pub actions: Arc<super::actions::Actions>,
}

/// The query, with PagerDuty's repeated `key[]` parameters.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<String>) -> Result<Self, String> {
        serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map(Self)
            .map_err(|e| format!("the query string does not parse: {e}"))
    }
    fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    fn includes(&self, what: &str) -> bool {
        self.all("include[]").contains(&what)
    }
    fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, String> {
        self.one(key)
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| format!("{key} must be an ISO 8601 date-time"))
            })
            .transpose()
    }
}

impl PagerDutyApi {
    pub(super) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/services", get(services))
            .route("/escalation_policies", get(escalation_policies))
            .route("/schedules", get(schedules))
            .route("/users", get(users))
            .route("/users/me", get(current_user))
            .route("/oncalls", get(oncalls))
            .route("/incidents", get(incidents))
            .route("/incidents/{id}", get(one_incident).put(update_incident))
            .route("/incidents/{id}/notes", get(notes).post(add_note))
            .route("/change_events", get(change_events))
            .with_state(self)
    }

    /// Checks `Authorization: Token token=…` (PagerDuty answers 401 with code 2006 otherwise)
    /// and reads the query.
    fn admit(&self, headers: &HeaderMap, raw: Option<String>) -> Result<Query, Refusal> {
        let header = headers.get("authorization").and_then(|v| v.to_str().ok());
        if header.and_then(|h| h.strip_prefix("Token token=")) != Some(self.token.as_str()) {
            return Err(Refusal::Unauthorized);
        }
        Query::parse(raw).map_err(Refusal::Invalid)
    }

    fn user_reference(&self, user: usize) -> Value {
        let u = &self.world.users[user];
        reference(
            "user_reference",
            &u.id,
            &u.name,
            "users",
            &format!("/users/{}", u.id),
        )
    }

    fn user(&self, user: usize, with_contact_methods: bool) -> Value {
        let u = &self.world.users[user];
        let methods = [
            ("email_contact_method", "Work", u.email.clone(), None),
            ("phone_contact_method", "Mobile", u.phone.clone(), Some(1)),
        ];
        let contact_methods: Vec<Value> = methods
            .iter()
            .enumerate()
            .map(|(i, (kind, label, address, country))| {
                let id = format!("{}C{i}", u.id);
                // The schema types a user's contact methods as references even when
                // `include[]=contact_methods` embeds their details.
                let mut method = json!({
                    "id": id, "type": format!("{kind}_reference"),
                    "summary": label, "self": format!("{API}/users/{}/contact_methods/{id}", u.id),
                });
                if with_contact_methods {
                    method["label"] = json!(label);
                    method["address"] = json!(address);
                    if let Some(code) = country {
                        method["country_code"] = json!(code);
                        method["enabled"] = json!(true);
                        method["blacklisted"] = json!(false);
                    }
                }
                method
            })
            .collect();
        json!({
            "id": u.id, "type": "user", "summary": u.name, "name": u.name, "email": u.email,
            "self": format!("{API}/users/{}", u.id),
            "html_url": OnCallWorld::web(&format!("/users/{}", u.id)),
            "time_zone": "Europe/London", "color": "green", "role": "user",
            "avatar_url": format!("https://secure.gravatar.com/avatar/{}.png?d=mm&r=PG", u.id),
            "description": null, "invitation_sent": false, "job_title": "Engineer",
            "teams": [], "contact_methods": contact_methods, "notification_rules": [],
        })
    }

    fn policy_reference(&self, policy: usize) -> Value {
        let p = &self.world.policies[policy];
        reference(
            "escalation_policy_reference",
            &p.id,
            &p.name,
            "escalation_policies",
            &format!("/escalation_policies/{}", p.id),
        )
    }

    fn policy(&self, policy: usize) -> Value {
        let p = &self.world.policies[policy];
        let rules: Vec<Value> = p
            .rotations
            .iter()
            .enumerate()
            .map(|(level, r)| {
                json!({
                    "id": format!("{}R{level}", p.id),
                    "escalation_delay_in_minutes": 30,
                    "targets": [schedule_reference(&r.schedule_id, &r.schedule_name)],
                })
            })
            .collect();
        let services: Vec<Value> = p
            .services
            .iter()
            .map(|s| self.service_reference(*s))
            .collect();
        json!({
            "id": p.id, "type": "escalation_policy", "summary": p.name, "name": p.name,
            "self": format!("{API}/escalation_policies/{}", p.id),
            "html_url": OnCallWorld::web(&format!("/escalation_policies/{}", p.id)),
            "description": "", "num_loops": 0, "on_call_handoff_notifications": "if_has_services",
            "escalation_rules": rules, "services": services, "teams": [],
        })
    }

    fn service_reference(&self, service: usize) -> Value {
        let s = &self.world.services[service];
        reference(
            "service_reference",
            &s.id,
            &s.name,
            "services",
            &format!("/service-directory/{}", s.id),
        )
    }

    fn service(&self, service: usize) -> Value {
        let s = &self.world.services[service];
        let incidents = self.world.incidents.read().expect("incidents lock");
        let open: Vec<&Incident> = incidents
            .iter()
            .filter(|i| i.service == service && i.resolved_at.is_none())
            .collect();
        let status = if open.iter().any(|i| i.acknowledged_at.is_none()) {
            "critical"
        } else if !open.is_empty() {
            "warning"
        } else {
            "active"
        };
        let mut body = json!({
            "id": s.id, "type": "service", "summary": s.name, "name": s.name,
            "self": format!("{API}/services/{}", s.id),
            "html_url": OnCallWorld::web(&format!("/service-directory/{}", s.id)),
            "description": format!("{} (from the catalog)", s.name),
            "auto_resolve_timeout": 14400, "acknowledgement_timeout": 1800,
            "created_at": "2024-03-01T09:00:00Z", "status": status,
            // The schema types a service's policy as a reference, `include[]` or not.
            "escalation_policy": self.policy_reference(s.policy),
            "teams": [], "integrations": [], "alert_creation": "create_alerts_and_incidents",
            "incident_urgency_rule": {"type": "constant", "urgency": "high"},
        });
        if let Some(last) = incidents
            .iter()
            .filter(|i| i.service == service)
            .map(|i| i.created_at)
            .max()
        {
            body["last_incident_timestamp"] = json!(last.to_rfc3339());
        }
        body
    }

    fn incident(&self, i: &Incident) -> Value {
        let s = &self.world.services[i.service];
        let status = i.status();
        let assignments = if status == "resolved" {
            json!([])
        } else {
            json!([{"at": i.created_at.to_rfc3339(), "assignee": self.user_reference(i.assignee)}])
        };
        let acknowledgements = match (status, i.acknowledged_at) {
            ("acknowledged", Some(at)) => {
                json!([{"at": at.to_rfc3339(), "acknowledger": self.user_reference(i.assignee)}])
            }
            _ => json!([]),
        };
        let changed = i.resolved_at.or(i.acknowledged_at).unwrap_or(i.created_at);
        let mut body = json!({
            "id": i.id, "type": "incident", "summary": format!("[#{}] {}", i.number, i.title),
            "self": format!("{API}/incidents/{}", i.id),
            "html_url": OnCallWorld::web(&format!("/incidents/{}", i.id)),
            "incident_number": i.number, "title": i.title,
            "created_at": i.created_at.to_rfc3339(), "updated_at": changed.to_rfc3339(),
            "status": status, "incident_key": format!("{:032x}", super::stable_hash(&i.id)),
            "service": self.service_reference(i.service),
            "assignments": assignments, "acknowledgements": acknowledgements,
            "assigned_via": "escalation_policy",
            "last_status_change_at": changed.to_rfc3339(),
            "first_trigger_log_entry": {
                "id": format!("R{}", i.id), "type": "trigger_log_entry_reference",
                "summary": "Triggered through the API",
                "self": format!("{API}/log_entries/R{}?incident_id={}", i.id, i.id),
                "html_url": OnCallWorld::web(&format!("/incidents/{}/log_entries/R{}", i.id, i.id)),
            },
            "alert_counts": {"all": 1, "triggered": if status == "resolved" { 0 } else { 1 }, "resolved": if status == "resolved" { 1 } else { 0 }},
            "is_mergeable": true,
            "escalation_policy": self.policy_reference(s.policy),
            "teams": [], "pending_actions": [],
            "urgency": i.urgency,
        });
        // The schema has no null for these: absent means none.
        if let Some(at) = i.resolved_at {
            body["resolved_at"] = json!(at.to_rfc3339());
        }
        if let Some(p) = i.priority {
            body["priority"] = json!({
                "id": format!("PRIO{p}"), "type": "priority_reference", "summary": p,
                "self": format!("{API}/priorities/PRIO{p}"),
            });
        }
        body
    }
}

/// Why a request gets no answer.
enum Refusal {
    Unauthorized,
    Invalid(String),
    NotFound,
    /// The refusal the sandbox was told to give an action.
    Told(Box<Response>),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => error(StatusCode::UNAUTHORIZED, 2006, "Invalid Credentials", &[]),
            Self::Invalid(problem) => invalid(&problem),
            Self::NotFound => not_found(),
            Self::Told(answer) => *answer,
        }
    }
}

fn reference(kind: &str, id: &str, summary: &str, collection: &str, web_path: &str) -> Value {
    json!({
        "id": id, "type": kind, "summary": summary,
        "self": format!("{API}/{collection}/{id}"),
        "html_url": OnCallWorld::web(web_path),
    })
}

fn schedule_reference(id: &str, name: &str) -> Value {
    reference(
        "schedule_reference",
        id,
        name,
        "schedules",
        &format!("/schedules/{id}"),
    )
}

/// PagerDuty's error body: `{"error": {"message", "code", "errors"}}`.
fn error(status: StatusCode, code: i64, message: &str, errors: &[String]) -> Response {
    json_response(
        status,
        &json!({"error": {"message": message, "code": code, "errors": errors}}),
    )
}

fn invalid(problem: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        2001,
        "Invalid Input Provided",
        &[problem.to_string()],
    )
}

/// The error the sandbox's PagerDuty answers for a failure of its own (what chaos injects).
pub(super) fn server_error(status: StatusCode, message: &str, _url: &str) -> Response {
    let code = if status == StatusCode::TOO_MANY_REQUESTS {
        2020
    } else {
        2000
    };
    error(status, code, message, &[])
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// One page of `items` under `key`, as `limit`/`offset`/`total` ask; only the page's items
/// are rendered.
fn page<T>(key: &str, items: Vec<T>, query: &Query, render: impl FnMut(T) -> Value) -> Response {
    let number = |name: &str, default: usize| -> Result<usize, String> {
        query.one(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{name} must be a non-negative integer"))
        })
    };
    let (limit, offset) = match (number("limit", DEFAULT_LIMIT), number("offset", 0)) {
        (Ok(l), Ok(o)) => (l.clamp(1, MAX_LIMIT), o),
        (Err(e), _) | (_, Err(e)) => return invalid(&e),
    };
    if offset + limit > MAX_OFFSET {
        return invalid(&format!(
            "Offset must be less than {MAX_OFFSET} minus the limit; use cursor-based pagination"
        ));
    }
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(render)
        .collect();
    let mut body = json!({
        "limit": limit, "offset": offset, "more": offset + page.len() < total,
        "total": if query.one("total") == Some("true") { json!(total) } else { Value::Null },
    });
    body[key] = Value::Array(page);
    json_response(StatusCode::OK, &body)
}

async fn services(
    State(api): State<Arc<PagerDutyApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let query = api.admit(&headers, raw)?;
    let mut order: Vec<usize> = (0..api.world.services.len()).collect();
    order.sort_by(|a, b| {
        api.world.services[*a]
            .name
            .cmp(&api.world.services[*b].name)
    });
    Ok(page("services", order, &query, |s| api.service(s)))
}

async fn escalation_policies(
    State(api): State<Arc<PagerDutyApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let query = api.admit(&headers, raw)?;
    let items: Vec<usize> = (0..api.world.policies.len()).collect();
    Ok(page("escalation_policies", items, &query, |p| {
        api.policy(p)
    }))
}

async fn schedules(
    State(api): State<Arc<PagerDutyApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let query = api.admit(&headers, raw)?;
    let items: Vec<(usize, &Rotation)> = api
        .world
        .policies
        .iter()
        .enumerate()
        .flat_map(|(p, policy)| policy.rotations.iter().map(move |r| (p, r)))
        .collect();
    Ok(page("schedules", items, &query, |(p, r)| {
        let users: Vec<Value> = r.members.iter().map(|u| api.user_reference(*u)).collect();
        json!({
            "id": r.schedule_id, "type": "schedule", "summary": r.schedule_name,
            "name": r.schedule_name, "self": format!("{API}/schedules/{}", r.schedule_id),
            "html_url": OnCallWorld::web(&format!("/schedules/{}", r.schedule_id)),
            "time_zone": "Etc/UTC", "description": "",
            "escalation_policies": [api.policy_reference(p)],
            "users": users, "teams": [],
        })
    }))
}

async fn users(
    State(api): State<Arc<PagerDutyApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let query = api.admit(&headers, raw)?;
    let with_methods = query.includes("contact_methods");
    let items: Vec<usize> = (0..api.world.users.len()).collect();
    Ok(page("users", items, &query, |u| api.user(u, with_methods)))
}

/// `GET /users/me`: the sandbox's token is the demo identity's personal token.
async fn current_user(
    State(api): State<Arc<PagerDutyApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let query = api.admit(&headers, raw)?;
    let me = api
        .world
        .users
        .iter()
        .position(|u| u.email == DEMO_IDENTITY)
        .unwrap_or_default();
    let user = api.user(me, query.includes("contact_methods"));
    Ok(json_response(StatusCode::OK, &json!({ "user": user })))
}

async fn oncalls(
    State(api): State<Arc<PagerDutyApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let query = api.admit(&headers, raw)?;
    let now = Utc::now();
    let (since, until) = match (query.time("since"), query.time("until")) {
        (Ok(s), Ok(u)) => (s.unwrap_or(now), u.unwrap_or(now)),
        (Err(e), _) | (_, Err(e)) => return Err(Refusal::Invalid(e)),
    };
    if until < since || until - since > Duration::days(90) {
        return Err(Refusal::Invalid(
            "until must be after since, and at most 90 days later".into(),
        ));
    }
    let earliest = query.one("earliest") == Some("true");
    let with_users = query.includes("users");
    let policies = query.all("escalation_policy_ids[]");
    let users = query.all("user_ids[]");
    let mut items = Vec::new();
    for (p, policy) in api.world.policies.iter().enumerate() {
        if !policies.is_empty() && !policies.contains(&policy.id.as_str()) {
            continue;
        }
        for (level, rotation) in policy.rotations.iter().enumerate() {
            // `since == until` asks who is on call at that moment.
            let shifts = rotation.shifts(since, until.max(since + Duration::seconds(1)));
            let mut seen = std::collections::HashSet::new();
            for (user, start, end) in shifts {
                if earliest && !seen.insert(user) {
                    continue;
                }
                let u = &api.world.users[user];
                if !users.is_empty() && !users.contains(&u.id.as_str()) {
                    continue;
                }
                items.push((p, level, rotation, user, start, end));
            }
        }
    }
    Ok(page(
        "oncalls",
        items,
        &query,
        |(p, level, rotation, user, start, end)| {
            json!({
                "escalation_policy": api.policy_reference(p),
                "escalation_level": level + 1,
                "schedule": schedule_reference(&rotation.schedule_id, &rotation.schedule_name),
                "user": if with_users {
                    // The schema types the user as a reference even when `include[]=users`
                    // embeds the user's details.
                    let mut full = api.user(user, false);
                    full["type"] = json!("user_reference");
                    full
                } else {
                    api.user_reference(user)
                },
                "start": start.to_rfc3339(), "end": end.to_rfc3339(),
            })
        },
    ))
}

async fn incidents(
    State(api): State<Arc<PagerDutyApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let query = api.admit(&headers, raw)?;
    let now = Utc::now();
    let statuses = query.all("statuses[]");
    if let Some(bad) = statuses
        .iter()
        .find(|s| !["triggered", "acknowledged", "resolved"].contains(s))
    {
        return Err(Refusal::Invalid(format!(
            "statuses[] has an unknown status '{bad}'"
        )));
    }
    // Without date_range=all, PagerDuty lists incidents created between since (default: a
    // month ago) and until (default: now).
    let window = if query.one("date_range") == Some("all") {
        None
    } else {
        match (query.time("since"), query.time("until")) {
            (Ok(s), Ok(u)) => Some((s.unwrap_or(now - Duration::days(30)), u.unwrap_or(now))),
            (Err(e), _) | (_, Err(e)) => return Err(Refusal::Invalid(e)),
        }
    };
    let services = query.all("service_ids[]");
    let incidents = api.world.incidents.read().expect("incidents lock").clone();
    let mut chosen: Vec<&Incident> = incidents
        .iter()
        .filter(|i| statuses.is_empty() || statuses.contains(&i.status()))
        .filter(|i| {
            window.is_none_or(|(since, until)| i.created_at >= since && i.created_at <= until)
        })
        .filter(|i| {
            services.is_empty() || services.contains(&api.world.services[i.service].id.as_str())
        })
        .collect();
    chosen.sort_by_key(|i| i.created_at);
    Ok(page("incidents", chosen, &query, |i| api.incident(i)))
}

/// PagerDuty's 404 body.
fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, 2100, "Not Found", &[])
}

/// The error an action meets when the sandbox is told to refuse it.
fn refused(status: StatusCode, message: &str) -> Response {
    let code = if status == StatusCode::FORBIDDEN {
        2010
    } else {
        2000
    };
    error(status, code, message, &[])
}

/// What an incident update or a note starts from.
struct Change {
    spec: super::actions::ActionsSpec,
    /// The user `From` names.
    requester: usize,
    /// The incident's index.
    index: usize,
    request: Value,
}

impl PagerDutyApi {
    /// An update or a note to incident `id`, in PagerDuty's order: the token, the user `From`
    /// names, the action counted (refused when the sandbox is told to), the incident, the body
    /// as JSON.
    fn change(&self, id: &str, headers: &HeaderMap, body: &str) -> Result<Change, Refusal> {
        self.admit(headers, None)?;
        let requester = self.requester(headers)?;
        let spec = self.actions.receive();
        if let Some(answer) = spec.refusal(refused, "Access Denied") {
            return Err(Refusal::Told(Box::new(answer)));
        }
        let index = self.incident_index(id).ok_or(Refusal::NotFound)?;
        let request = serde_json::from_str(body)
            .map_err(|e| Refusal::Invalid(format!("the body is not JSON: {e}")))?;
        Ok(Change {
            spec,
            requester,
            index,
            request,
        })
    }

    /// The index of the incident `id`.
    fn incident_index(&self, id: &str) -> Option<usize> {
        self.world
            .incidents
            .read()
            .expect("incidents lock")
            .iter()
            .position(|i| i.id == id)
    }

    /// The user the `From` header names: PagerDuty acts on behalf of a user of the account.
    fn requester(&self, headers: &HeaderMap) -> Result<usize, Refusal> {
        let from = headers
            .get("from")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        self.world
            .users
            .iter()
            .position(|u| u.email.eq_ignore_ascii_case(from.trim()))
            .ok_or_else(|| {
                Refusal::Invalid(
                    "The From header must be the email address of a valid user of this account"
                        .into(),
                )
            })
    }
}

/// `GET /incidents/{id}`.
async fn one_incident(
    State(api): State<Arc<PagerDutyApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    api.admit(&headers, None)?;
    let incidents = api.world.incidents.read().expect("incidents lock");
    Ok(match incidents.iter().find(|i| i.id == id) {
        Some(i) => json_response(StatusCode::OK, &json!({"incident": api.incident(i)})),
        None => not_found(),
    })
}

/// `PUT /incidents/{id}` (`From` required): status (a resolved incident reopens when set to
/// triggered or acknowledged, as the spec says; resolving a resolved one is refused), urgency,
/// escalation level, assignments.
async fn update_incident(
    State(api): State<Arc<PagerDutyApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Refusal> {
    let Change {
        spec,
        requester,
        index,
        request,
    } = api.change(&id, &headers, &body)?;
    let Some(update) = request.get("incident").filter(|u| u.is_object()) else {
        return Err(Refusal::Invalid("incident is required".into()));
    };
    if !matches!(
        update.get("type").and_then(Value::as_str),
        Some("incident" | "incident_reference")
    ) {
        return Err(Refusal::Invalid(
            "incident.type must be incident or incident_reference".into(),
        ));
    }
    let now = Utc::now();
    let mut incidents = api.world.incidents.write().expect("incidents lock");
    let policy = api.world.services[incidents[index].service].policy;
    let incident = &mut incidents[index];
    match update.get("status").and_then(Value::as_str) {
        None => {}
        Some("resolved") if incident.resolved_at.is_some() => {
            return Ok(error(
                StatusCode::BAD_REQUEST,
                2001,
                "Invalid Input Provided",
                &["Incident Already Resolved".to_string()],
            ))
        }
        Some("resolved") => incident.resolved_at = Some(now),
        Some("acknowledged") => {
            incident.resolved_at = None;
            incident.acknowledged_at.get_or_insert(now);
            incident.assignee = requester;
        }
        Some("triggered") => {
            incident.resolved_at = None;
            incident.acknowledged_at = None;
        }
        Some(other) => {
            return Err(Refusal::Invalid(format!(
                "status '{other}' is not one of resolved, acknowledged, triggered"
            )))
        }
    }
    match update.get("urgency").and_then(Value::as_str) {
        None => {}
        Some("high") => incident.urgency = "high",
        Some("low") => incident.urgency = "low",
        Some(other) => {
            return Err(Refusal::Invalid(format!(
                "urgency '{other}' is not high or low"
            )))
        }
    }
    if let Some(level) = update.get("escalation_level") {
        match level.as_i64() {
            Some(level @ 1..=2) => {
                incident.assignee = api.world.on_call(policy, level as usize, now);
                incident.acknowledged_at = None;
            }
            _ => {
                return Ok(error(
                    StatusCode::BAD_REQUEST,
                    2001,
                    "Invalid Input Provided",
                    &[
                        "Escalation level not found in the incident's escalation policy"
                            .to_string(),
                    ],
                ))
            }
        }
    }
    if let Some(assignments) = update.get("assignments").and_then(Value::as_array) {
        let ids: Vec<&str> = assignments
            .iter()
            .filter_map(|a| a.pointer("/assignee/id").and_then(Value::as_str))
            .collect();
        let Some(user) = ids
            .first()
            .and_then(|id| api.world.users.iter().position(|u| u.id == *id))
        else {
            return Ok(error(
                StatusCode::BAD_REQUEST,
                2001,
                "Invalid Input Provided",
                &["Assignee not found".to_string()],
            ));
        };
        incident.assignee = user;
        incident.acknowledged_at = None;
    }
    let body = json!({"incident": api.incident(incident)});
    drop(incidents);
    Ok(spec.deliver(json_response(StatusCode::OK, &body)))
}

fn note_json(
    api: &PagerDutyApi,
    incident: &str,
    n: usize,
    note: &(DateTime<Utc>, usize, String),
) -> Value {
    json!({
        "id": format!("PN{:05X}", super::stable_hash(&format!("{incident}#{n}")) & 0xF_FFFF),
        "user": api.user_reference(note.1),
        "channel": {"summary": "The PagerDuty website or APIs"},
        "content": note.2,
        "created_at": note.0.to_rfc3339(),
    })
}

/// `GET /incidents/{id}/notes`.
async fn notes(
    State(api): State<Arc<PagerDutyApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    api.admit(&headers, None)?;
    let incidents = api.world.incidents.read().expect("incidents lock");
    let Some(incident) = incidents.iter().find(|i| i.id == id) else {
        return Ok(not_found());
    };
    let notes: Vec<Value> = incident
        .notes
        .iter()
        .enumerate()
        .map(|(n, note)| note_json(&api, &id, n, note))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({"notes": notes})))
}

/// `POST /incidents/{id}/notes` (`From` required): the note, with 200 as the spec says.
async fn add_note(
    State(api): State<Arc<PagerDutyApi>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Refusal> {
    let Change {
        spec,
        requester,
        index,
        request,
    } = api.change(&id, &headers, &body)?;
    let Some(content) = request
        .pointer("/note/content")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
    else {
        return Err(Refusal::Invalid("note.content is required".into()));
    };
    let mut incidents = api.world.incidents.write().expect("incidents lock");
    let notes = &mut incidents[index].notes;
    notes.push((Utc::now(), requester, content.to_string()));
    let note = note_json(
        &api,
        &id,
        notes.len() - 1,
        notes.last().expect("just pushed"),
    );
    drop(incidents);
    Ok(spec.deliver(json_response(StatusCode::OK, &json!({"note": note}))))
}

/// `GET /change_events`: those between `since` and `until`, newest first.
async fn change_events(
    State(api): State<Arc<PagerDutyApi>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let query = api.admit(&headers, raw)?;
    let (since, until) = match (query.time("since"), query.time("until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return Err(Refusal::Invalid(e)),
    };
    let mut chosen: Vec<_> = api
        .world
        .change_events
        .iter()
        .filter(|e| since.is_none_or(|s| e.at >= s) && until.is_none_or(|u| e.at <= u))
        .collect();
    chosen.sort_by_key(|e| std::cmp::Reverse(e.at));
    Ok(page("change_events", chosen, &query, |e| {
        json!({
            "id": e.id, "type": "change_event", "summary": e.summary,
            "timestamp": e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "source": e.source,
            "services": [api.service_reference(e.service)],
            "integration": {"id": format!("PI{:05X}", e.service), "type": "inbound_integration_reference"},
            "links": [{"href": e.link, "text": "The change"}],
            "custom_details": {},
        })
    }))
}
