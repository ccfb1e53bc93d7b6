//! The sandbox's night on call: who is on call for each team (a weekly primary rotation and an
//! hourly secondary one, so shifts change while a demo runs), the PagerDuty services of the
//! catalog's components, incidents and Alertmanager alerts, following the demo story. All of
//! it is derived from the organisation and the moment the sandbox started, so every run tells
//! the same story relative to its start.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::org::{Seed, DEMO_IDENTITY};
use super::stable_hash;
use crate::domain::Entity;

/// The PagerDuty account's web address in links.
pub const PAGERDUTY_WEB: &str = "https://opsdeck-demo.pagerduty.com";

/// Where a sandbox alert's graph link points.
const PROMETHEUS_WEB: &str = "https://prometheus.demo.opsdeck.dev";

/// A PagerDuty user (a catalog user).
#[derive(Debug, Clone)]
pub(super) struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// A rotation: members take `length`-long shifts in turn from `anchor`.
#[derive(Debug, Clone)]
pub(super) struct Rotation {
    pub schedule_id: String,
    pub schedule_name: String,
    pub members: Vec<usize>,
    pub anchor: DateTime<Utc>,
    pub length: Duration,
}

impl Rotation {
    /// The shift covering `at`: (member, start, end).
    pub fn shift_at(&self, at: DateTime<Utc>) -> (usize, DateTime<Utc>, DateTime<Utc>) {
        let index = (at - self.anchor)
            .num_seconds()
            .div_euclid(self.length.num_seconds());
        let start = self.anchor + self.length * index as i32;
        let member = self.members[index.rem_euclid(self.members.len() as i64) as usize];
        (member, start, start + self.length)
    }

    /// Shifts overlapping `[since, until)`, in order.
    pub fn shifts(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<(usize, DateTime<Utc>, DateTime<Utc>)> {
        let mut out = Vec::new();
        let mut at = since;
        while at < until {
            let shift = self.shift_at(at);
            at = shift.2;
            out.push(shift);
        }
        out
    }
}

/// A team's escalation policy: level 1 is `rotations[0]`, level 2 `rotations[1]`.
#[derive(Debug, Clone)]
pub(super) struct Policy {
    pub id: String,
    pub name: String,
    pub rotations: [Rotation; 2],
    pub services: Vec<usize>,
}

/// A PagerDuty service (a catalog component with `pagerduty.com/service-id`).
#[derive(Debug, Clone)]
pub(super) struct Service {
    pub id: String,
    pub name: String,
    pub policy: usize,
}

/// An incident and its story.
#[derive(Debug, Clone)]
pub(super) struct Incident {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub service: usize,
    pub urgency: &'static str,
    pub priority: Option<&'static str>,
    pub created_at: DateTime<Utc>,
    pub assignee: usize,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Notes added: (when, who, text).
    pub notes: Vec<(DateTime<Utc>, usize, String)>,
}

impl Incident {
    pub fn status(&self) -> &'static str {
        match (self.resolved_at, self.acknowledged_at) {
            (Some(_), _) => "resolved",
            (None, Some(_)) => "acknowledged",
            (None, None) => "triggered",
        }
    }
}

/// An alert as Alertmanager holds it.
#[derive(Debug, Clone)]
pub(super) struct Alert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<Utc>,
    pub inhibited_by: Vec<String>,
}

impl Alert {
    /// Alertmanager's fingerprint: a hash of the label set, as 16 hex digits.
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", stable_hash(&format!("{:?}", self.labels)))
    }
}

/// A change event PagerDuty received.
#[derive(Debug, Clone)]
pub(super) struct ChangeEvent {
    pub id: String,
    pub summary: String,
    pub at: DateTime<Utc>,
    pub service: usize,
    pub source: String,
    pub link: String,
}

/// A silence.
#[derive(Debug, Clone)]
pub(super) struct Silence {
    pub id: String,
    pub matchers: Vec<(String, String)>,
    pub created_by: String,
    pub comment: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Everything the sandbox's PagerDuty and Alertmanager serve.
#[derive(Debug)]
pub(super) struct OnCallWorld {
    pub started: DateTime<Utc>,
    pub users: Vec<User>,
    pub policies: Vec<Policy>,
    pub services: Vec<Service>,
    pub incidents: RwLock<Vec<Incident>>,
    pub alerts: Vec<Alert>,
    /// Silences, as Alertmanager keeps them: expired ones stay listed.
    pub silences: RwLock<Vec<Silence>>,
    pub change_events: Vec<ChangeEvent>,
}

impl Silence {
    /// `active`, `pending` or `expired` at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.ends_at <= now {
            "expired"
        } else if self.starts_at > now {
            "pending"
        } else {
            "active"
        }
    }

    /// Whether every matcher matches `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers
            .iter()
            .all(|(name, value)| labels.get(name) == Some(value))
    }
}

/// The demo's triggered incident on `checkout-api`.
pub const DEMO_INCIDENT_TITLE: &str = "Checkout error rate above 5%";

impl OnCallWorld {
    /// The world of `entities` (the catalog the sandbox serves), as of `started`.
    pub fn new(seed: Seed, entities: &[Entity], started: DateTime<Utc>) -> Self {
        let hour = started
            .duration_trunc(Duration::hours(1))
            .expect("an hour divides any time");
        let mut users: Vec<User> = Vec::new();
        let mut user_index: HashMap<String, usize> = HashMap::new();
        let mut members: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for e in entities.iter().filter(|e| e.is_kind("user")) {
            let Some(email) = e.profile_str("email") else {
                continue;
            };
            let index = users.len();
            users.push(User {
                id: pd_id("U", &e.metadata.name),
                name: e
                    .profile_str("displayName")
                    .unwrap_or(&e.metadata.name)
                    .to_string(),
                email: email.to_string(),
                phone: format!("555{:04}", stable_hash(email) % 10_000),
            });
            user_index.insert(format!("user:{}", e.metadata.name), index);
            for team in e.spec_list("memberOf") {
                let team = team
                    .trim_start_matches("group:")
                    .trim_start_matches("default/");
                members.entry(team.to_string()).or_default().push(index);
            }
        }
        let mut policies = Vec::new();
        let mut policy_of_team: HashMap<String, usize> = HashMap::new();
        for g in entities.iter().filter(|e| {
            e.is_kind("group") && matches!(e.spec_str("type"), Some("team" | "sub-team"))
        }) {
            let Some(people) = members.get(&g.metadata.name).filter(|m| !m.is_empty()) else {
                continue;
            };
            let mut order = people.clone();
            // The demo identity leads its team's rotation: on call now, as the story says.
            order.sort_by_key(|i| (users[*i].email != DEMO_IDENTITY, users[*i].name.clone()));
            let mut secondary = order.clone();
            let step = 1.min(secondary.len() - 1);
            secondary.rotate_left(step);
            let title = g.display_name().to_string();
            policy_of_team.insert(g.metadata.name.clone(), policies.len());
            policies.push(Policy {
                id: pd_id("E", &g.metadata.name),
                name: format!("{title} escalation"),
                rotations: [
                    Rotation {
                        schedule_id: pd_id("S", &format!("{}-primary", g.metadata.name)),
                        schedule_name: format!("{title} primary"),
                        members: order,
                        anchor: hour - Duration::days(2),
                        length: Duration::days(7),
                    },
                    Rotation {
                        schedule_id: pd_id("S", &format!("{}-secondary", g.metadata.name)),
                        schedule_name: format!("{title} secondary"),
                        members: secondary,
                        anchor: hour,
                        length: Duration::hours(1),
                    },
                ],
                services: Vec::new(),
            });
        }
        let mut services = Vec::new();
        if !policies.is_empty() {
            for c in entities.iter().filter(|e| e.is_kind("component")) {
                let Some(id) = c.metadata.annotations.get("pagerduty.com/service-id") else {
                    continue;
                };
                let owner = c.owner_ref().map(|r| r.name.clone()).unwrap_or_default();
                // A service PagerDuty knows always has a policy; an orphan's falls back to
                // the first team's.
                let policy = policy_of_team.get(&owner).copied().unwrap_or(0);
                policies[policy].services.push(services.len());
                services.push(Service {
                    id: id.clone(),
                    name: c.metadata.name.clone(),
                    policy,
                });
            }
        }
        let mut world = Self {
            started,
            users,
            policies,
            services,
            incidents: RwLock::new(Vec::new()),
            alerts: Vec::new(),
            silences: RwLock::new(Vec::new()),
            change_events: Vec::new(),
        };
        match seed {
            Seed::Demo => world.tell_the_demo_story(),
            Seed::Scale(services) => world.generate(services / 20, services / 5),
        }
        world
    }

    /// The ids of the active silences that mute `alert` at `now`.
    pub fn silenced_by(&self, alert: &Alert, now: DateTime<Utc>) -> Vec<String> {
        self.silences
            .read()
            .expect("silences lock")
            .iter()
            .filter(|s| s.state(now) == "active" && s.matches(&alert.labels))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Who is on call at `level` (1 or 2) of `policy` at `at`.
    pub fn on_call(&self, policy: usize, level: usize, at: DateTime<Utc>) -> usize {
        self.policies[policy].rotations[level - 1].shift_at(at).0
    }

    fn service_named(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }

    /// Triggers a new incident on the service named `service`, assigned to its primary on
    /// call; returns its id, or `None` when no such service is in PagerDuty.
    pub fn trigger(&self, service: &str, title: &str, at: DateTime<Utc>) -> Option<String> {
        let index = self.service_named(service)?;
        let mut incidents = self.incidents.write().expect("incidents lock");
        let number = 4000 + incidents.len() as i64;
        let incident = Incident {
            id: pd_id("Q", &format!("{service}#{number}#{title}")),
            number,
            title: title.to_string(),
            service: index,
            urgency: "high",
            priority: Some("P1"),
            created_at: at,
            assignee: self.on_call(self.services[index].policy, 1, at),
            acknowledged_at: None,
            resolved_at: None,
            notes: Vec::new(),
        };
        let id = incident.id.clone();
        incidents.push(incident);
        Some(id)
    }

    fn tell_the_demo_story(&mut self) {
        let now = self.started;
        let minutes = Duration::minutes;
        // (service, title, urgency, priority, created, acknowledged after, resolved after)
        type Story = (
            &'static str,
            &'static str,
            &'static str,
            Option<&'static str>,
            Duration,
            Option<Duration>,
            Option<Duration>,
        );
        let stories: [Story; 7] = [
            (
                "checkout-api",
                DEMO_INCIDENT_TITLE,
                "high",
                Some("P1"),
                minutes(4),
                None,
                None,
            ),
            (
                "payout-scheduler",
                "Payout batch running 40 minutes late",
                "high",
                Some("P2"),
                minutes(38),
                Some(minutes(13)),
                None,
            ),
            (
                "search-indexer",
                "Search index lag above 10 minutes",
                "high",
                Some("P2"),
                Duration::hours(26),
                Some(minutes(6)),
                Some(minutes(95)),
            ),
            (
                "auth-service",
                "Login latency p99 above 2 s",
                "high",
                Some("P2"),
                Duration::hours(50),
                Some(minutes(3)),
                Some(minutes(41)),
            ),
            (
                "card-vault",
                "Card vault HSM failover",
                "high",
                Some("P1"),
                Duration::hours(75),
                Some(minutes(2)),
                Some(minutes(64)),
            ),
            (
                "push-notifier",
                "Push delivery failures above 2%",
                "low",
                None,
                Duration::hours(122),
                Some(minutes(30)),
                Some(minutes(180)),
            ),
            (
                "api-gateway",
                "502s from the edge gateway",
                "high",
                Some("P1"),
                Duration::hours(146),
                Some(minutes(4)),
                Some(minutes(22)),
            ),
        ];
        let mut incidents = Vec::new();
        for (number, (service, title, urgency, priority, ago, ack, resolved)) in
            stories.into_iter().enumerate()
        {
            let Some(index) = self.service_named(service) else {
                continue;
            };
            let created_at = now - ago;
            incidents.push(Incident {
                id: pd_id("Q", &format!("{service}#{title}")),
                number: 3100 + number as i64,
                title: title.to_string(),
                service: index,
                urgency,
                priority,
                created_at,
                assignee: self.on_call(self.services[index].policy, 1, created_at),
                acknowledged_at: ack.map(|d| created_at + d),
                resolved_at: resolved.map(|d| created_at + d),
                notes: Vec::new(),
            });
        }
        self.incidents = RwLock::new(incidents);

        let runbook = |service: &str, page: &str| {
            format!("https://github.com/demo-org/{service}/blob/main/docs/runbooks/{page}.md")
        };
        // (alertname, service, severity, summary, description, runbook, started minutes ago)
        type AlertStory = (
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            Option<String>,
            i64,
        );
        let alerts: [AlertStory; 7] = [
            (
                "HighErrorRate",
                "checkout-api",
                "critical",
                "checkout-api 5xx rate is 7.2% (above 5%)",
                "More than 5% of POST /v1/checkout requests fail with 5xx in prod for 5 minutes.",
                Some(runbook("checkout-api", "high-error-rate")),
                5,
            ),
            (
                "PayoutQueueBacklog",
                "payout-scheduler",
                "warning",
                "12,400 payouts waiting (above 5,000)",
                "The payout queue has grown for 30 minutes.",
                Some(runbook("payout-scheduler", "queue-backlog")),
                41,
            ),
            (
                "IndexLagHigh",
                "search-indexer",
                "warning",
                "Index lag is 6 minutes (above 5)",
                "Documents take longer than 5 minutes to become searchable.",
                Some(runbook("search-indexer", "index-lag")),
                17,
            ),
            (
                "KafkaConsumerLag",
                "event-pipeline",
                "warning",
                "Consumer group lag above 100k messages",
                "The events consumer falls behind the producers.",
                Some(runbook("event-pipeline", "consumer-lag")),
                63,
            ),
            (
                "CertificateExpiringSoon",
                "api-gateway",
                "info",
                "TLS certificate expires in 9 days",
                "The edge certificate for api.demo.opsdeck.dev expires soon.",
                Some(runbook("api-gateway", "certificates")),
                300,
            ),
            (
                "DiskSpaceLow",
                "warehouse-loader",
                "warning",
                "Disk 91% full on loader-2",
                "The staging volume of warehouse-loader is nearly full.",
                Some(runbook("warehouse-loader", "disk-space")),
                95,
            ),
            (
                "CheckoutWebErrors",
                "checkout-web",
                "warning",
                "checkout-web shows error pages to 3% of sessions",
                "Front-end errors, caused by checkout-api failing.",
                None,
                4,
            ),
        ];
        self.alerts = alerts
            .into_iter()
            .map(
                |(name, service, severity, summary, description, runbook, ago)| {
                    let mut annotations = BTreeMap::from([
                        ("summary".to_string(), summary.to_string()),
                        ("description".to_string(), description.to_string()),
                    ]);
                    if let Some(url) = runbook {
                        annotations.insert("runbook_url".into(), url);
                    }
                    Alert {
                        labels: BTreeMap::from([
                            ("alertname".to_string(), name.to_string()),
                            ("service".to_string(), service.to_string()),
                            ("severity".to_string(), severity.to_string()),
                            ("env".to_string(), "prod".to_string()),
                        ]),
                        annotations,
                        starts_at: now - minutes(ago),
                        inhibited_by: Vec::new(),
                    }
                },
            )
            .collect();
        let silence = Silence {
            id: "6f1b0c2e-4d1a-4f5e-9c3b-2a7d8e9f0a11".into(),
            matchers: vec![
                ("alertname".into(), "DiskSpaceLow".into()),
                ("service".into(), "warehouse-loader".into()),
            ],
            created_by: "eva.novak@demo.opsdeck.dev".into(),
            comment: "Volume resize in progress (CHG-2291)".into(),
            starts_at: now - minutes(90),
            ends_at: now + Duration::hours(3),
        };
        let high_error_rate = self.alerts[0].fingerprint();
        for alert in &mut self.alerts {
            if alert.labels["alertname"] == "CheckoutWebErrors" {
                alert.inhibited_by.push(high_error_rate.clone());
            }
        }
        self.silences = RwLock::new(vec![silence]);
        // A config change on a dependency 40 minutes before the checkout incident: a suspect,
        // below checkout-api's own deploy.
        if let Some(payments) = self.service_named("payments-gateway") {
            self.change_events.push(ChangeEvent {
                id: "01DEMOCHANGEPAYMENTSPOOL".into(),
                summary: "Config change: payments-gateway connection pool 200 → 120 (CHG-2317)"
                    .into(),
                at: now - minutes(44),
                service: payments,
                source: "config-service".into(),
                link: "https://config.demo.opsdeck.dev/changes/CHG-2317".into(),
            });
        }
    }

    /// `incidents` incidents and `alerts` alerts spread over the services, for benchmarks.
    fn generate(&mut self, incidents: usize, alerts: usize) {
        if self.services.is_empty() {
            return;
        }
        let now = self.started;
        let count = self.services.len();
        let generated: Vec<Incident> = (0..incidents)
            .map(|i| {
                let service = (i * 7919) % count;
                let created_at = now - Duration::minutes((i as i64 * 37) % (6 * 24 * 60));
                Incident {
                    id: pd_id("Q", &format!("scale#{i}")),
                    number: 10_000 + i as i64,
                    title: format!("Generated incident {i} on {}", self.services[service].name),
                    service,
                    urgency: if i % 3 == 0 { "low" } else { "high" },
                    priority: None,
                    created_at,
                    assignee: self.on_call(self.services[service].policy, 1, created_at),
                    acknowledged_at: (i % 10 >= 4).then(|| created_at + Duration::minutes(5)),
                    resolved_at: (i % 10 >= 7).then(|| created_at + Duration::minutes(30)),
                    notes: Vec::new(),
                }
            })
            .collect();
        self.incidents = RwLock::new(generated);
        self.change_events = (0..count / 10)
            .map(|i| ChangeEvent {
                id: format!("01SCALE{i:019}"),
                summary: format!("Generated config change {i}"),
                at: now - Duration::minutes((i as i64 * 53) % (6 * 24 * 60)),
                service: (i * 6151) % count,
                source: "config-service".into(),
                link: format!("https://config.scale.opsdeck.dev/changes/{i}"),
            })
            .collect();
        self.alerts = (0..alerts)
            .map(|i| {
                let service = &self.services[(i * 104_729) % count].name;
                Alert {
                    labels: BTreeMap::from([
                        ("alertname".to_string(), format!("GeneratedAlert{}", i % 40)),
                        ("service".to_string(), service.clone()),
                        (
                            "severity".to_string(),
                            ["critical", "warning", "info"][i % 3].to_string(),
                        ),
                        ("instance".to_string(), format!("pod-{i}")),
                    ]),
                    annotations: BTreeMap::from([
                        ("summary".to_string(), format!("Generated alert {i}")),
                        (
                            "runbook_url".to_string(),
                            format!("https://wiki.scale.opsdeck.dev/runbooks/{service}"),
                        ),
                    ]),
                    starts_at: now - Duration::minutes(i as i64 % 600),
                    inhibited_by: Vec::new(),
                }
            })
            .collect();
    }

    /// A link to a PagerDuty page.
    pub fn web(path: &str) -> String {
        format!("{PAGERDUTY_WEB}{path}")
    }

    /// A link to Prometheus for an alert.
    pub fn graph(alertname: &str) -> String {
        format!("{PROMETHEUS_WEB}/graph?g0.expr={alertname}")
    }
}

/// A PagerDuty-shaped id: a letter and six upper-case characters, stable for `key`.
fn pd_id(prefix: &str, key: &str) -> String {
    format!("P{prefix}{:05X}", stable_hash(key) & 0xF_FFFF)
}
