//! Production-readiness scorecards: checks over what the cache knows of a service, grouped in
//! levels (bronze, silver, gold by default). A service reaches a level when it passes every
//! check of that level and of every level below, the way OpsLevel and Cortex rank services.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::entity::Entity;
use super::gaps::{
    ALERT_SELECTOR, ARGOCD_APP_NAME, ARGOCD_APP_SELECTOR, GITHUB_PROJECT_SLUG, PAGERDUTY_SERVICE_ID,
};
use super::rollback::Executor;

/// Alerts a component has in Prometheus, as the Backstage Prometheus plugin annotates them
/// (`all`, or alert names).
pub const PROMETHEUS_ALERT: &str = "prometheus.io/alert";

/// The checks Opsdeck knows how to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// The owner named in `spec.owner` is in the catalog.
    Owner,
    /// The owner group has members.
    OwnerMembers,
    /// Lifecycle and tier are set.
    LifecycleTier,
    /// A description and at least one link.
    DescriptionLinks,
    /// Wired to a PagerDuty service with an escalation policy (two levels at tier 1).
    Escalation,
    /// The first escalation level rotates between more than one person.
    Rotation,
    /// A runbook: the service's own, its system's or its team's.
    Runbook,
    /// Alerts are routed to it (an alert selector, or alerts that name it).
    Alerts,
    /// Wired to GitHub or Argo CD.
    Delivery,
    /// Deployed to production recently.
    Deployed,
    /// A rollback is possible (the executor rule finds a way).
    Rollback,
    /// No incident left open for long.
    Incidents,
}

impl CheckId {
    /// Every built-in check, in the order they are shown.
    pub const ALL: [CheckId; 12] = [
        Self::Owner,
        Self::OwnerMembers,
        Self::LifecycleTier,
        Self::DescriptionLinks,
        Self::Escalation,
        Self::Rotation,
        Self::Runbook,
        Self::Alerts,
        Self::Delivery,
        Self::Deployed,
        Self::Rollback,
        Self::Incidents,
    ];

    /// Its name in `opsdeck.toml` and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::OwnerMembers => "owner-members",
            Self::LifecycleTier => "lifecycle-tier",
            Self::DescriptionLinks => "description-links",
            Self::Escalation => "escalation",
            Self::Rotation => "rotation",
            Self::Runbook => "runbook",
            Self::Alerts => "alerts",
            Self::Delivery => "delivery",
            Self::Deployed => "deployed",
            Self::Rollback => "rollback",
            Self::Incidents => "incidents",
        }
    }

    /// The level it sits at by default: 0 bronze, 1 silver, 2 gold.
    fn default_level(self) -> usize {
        match self {
            Self::Owner | Self::OwnerMembers | Self::LifecycleTier | Self::DescriptionLinks => 0,
            Self::Escalation | Self::Runbook | Self::Alerts | Self::Delivery => 1,
            Self::Rotation | Self::Deployed | Self::Rollback | Self::Incidents => 2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Owner => "Owner in the catalog",
            Self::OwnerMembers => "Owner has members",
            Self::LifecycleTier => "Lifecycle and tier set",
            Self::DescriptionLinks => "Description and links",
            Self::Escalation => "Paged through an escalation policy",
            Self::Rotation => "On-call rotation of more than one",
            Self::Runbook => "Runbook",
            Self::Alerts => "Alerts routed to it",
            Self::Delivery => "Delivery wired",
            Self::Deployed => "Deployed to production recently",
            Self::Rollback => "Rollback possible",
            Self::Incidents => "No incident left open",
        }
    }

    fn why(self) -> &'static str {
        match self {
            Self::Owner => "an owner that does not exist means nobody answers for the service",
            Self::OwnerMembers => "a team with no members is nobody to ask",
            Self::LifecycleTier => "tier and lifecycle say how much care a service needs",
            Self::DescriptionLinks => "the person paged at 2 a.m. may never have seen it",
            Self::Escalation => "an incident nobody is paged for waits until a customer calls; tier 1 needs a second level when the first does not answer",
            Self::Rotation => "one person on call for ever burns out, and is sometimes asleep",
            Self::Runbook => "a runbook turns a page into steps",
            Self::Alerts => "a service nothing alerts on fails silently",
            Self::Delivery => "deploys and rollbacks need to know where the service ships from",
            Self::Deployed => "a service nobody deploys rots: the next deploy is the risky one",
            Self::Rollback => "the fastest fix for a bad deploy is to undo it",
            Self::Incidents => "an incident left open hides the next one",
        }
    }

    fn fix(self) -> &'static str {
        match self {
            Self::Owner => "set spec.owner to a group in the catalog",
            Self::OwnerMembers => "add users to the owner group (spec.members or users' spec.memberOf)",
            Self::LifecycleTier => "set spec.lifecycle and the label tier",
            Self::DescriptionLinks => "write metadata.description and add metadata.links",
            Self::Escalation => "annotate pagerduty.com/service-id and give the PagerDuty service an escalation policy (two levels for tier 1)",
            Self::Rotation => "put a schedule of several people on the policy's first level in PagerDuty",
            Self::Runbook => "add a link of type runbook to the service, its system or its team",
            Self::Alerts => "annotate prometheus.io/alert or opsdeck.io/alert-selector, or label its alerts service=<name>",
            Self::Delivery => "annotate github.com/project-slug or argocd/app-name",
            Self::Deployed => "ship a change to production",
            Self::Rollback => "wire Argo CD or GitHub, or annotate opsdeck.io/rollback",
            Self::Incidents => "resolve or hand over the open incident in PagerDuty",
        }
    }

    fn docs(self) -> &'static str {
        match self {
            Self::Escalation | Self::Rotation | Self::Incidents => {
                "https://support.pagerduty.com/main/docs/escalation-policies"
            }
            Self::Alerts => "https://prometheus.io/docs/alerting/latest/configuration/#matcher",
            Self::Deployed | Self::Delivery | Self::Rollback => {
                "https://backstage.io/docs/features/software-catalog/well-known-annotations"
            }
            _ => "https://backstage.io/docs/features/software-catalog/descriptor-format",
        }
    }
}

impl std::str::FromStr for CheckId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|c| c.as_str()).collect();
                format!("unknown check '{s}': use one of {}", names.join(", "))
            })
    }
}

/// What a check compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// One of Opsdeck's own.
    Builtin(CheckId),
    /// The annotation is set.
    Annotation(String),
    /// The label is set.
    Label(String),
    /// The tag is present.
    Tag(String),
    /// A link of this type is present.
    LinkType(String),
}

/// One check of a scorecard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Its name in config and reports.
    pub id: String,
    /// Its name for people.
    pub name: String,
    /// The level it belongs to (index into the scorecard's levels).
    pub level: usize,
    /// Why it matters.
    pub why: String,
    /// What to do when it fails.
    pub fix: String,
    /// Where to read more.
    pub docs: String,
    /// What it compares.
    pub rule: Rule,
}

/// The numbers the checks compare against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// `deployed` passes with a production deploy this recent.
    pub deployed_within: Duration,
    /// `incidents` fails when an incident is open longer than this.
    pub incident_open_longer_than: Duration,
    /// `escalation` wants this many levels at tier 1.
    pub tier1_escalation_levels: i64,
    /// `rotation` wants this many people at the first level.
    pub rotation_people: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            deployed_within: Duration::days(30),
            incident_open_longer_than: Duration::days(7),
            tier1_escalation_levels: 2,
            rotation_people: 2,
        }
    }
}

/// Levels and their checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scorecard {
    /// Level names, lowest first.
    pub levels: Vec<String>,
    /// Checks in the order shown.
    pub checks: Vec<Check>,
    /// What the checks compare against.
    pub thresholds: Thresholds,
}

/// The default level names.
pub const DEFAULT_LEVELS: [&str; 3] = ["bronze", "silver", "gold"];

impl Default for Scorecard {
    fn default() -> Self {
        Self {
            levels: DEFAULT_LEVELS.iter().map(|l| l.to_string()).collect(),
            checks: CheckId::ALL.into_iter().map(Check::builtin).collect(),
            thresholds: Thresholds::default(),
        }
    }
}

impl Check {
    /// A built-in check at its default level.
    pub fn builtin(id: CheckId) -> Self {
        Self {
            id: id.as_str().to_string(),
            name: id.name().to_string(),
            level: id.default_level(),
            why: id.why().to_string(),
            fix: id.fix().to_string(),
            docs: id.docs().to_string(),
            rule: Rule::Builtin(id),
        }
    }
}

/// What the cache knows of a service beyond its entity, gathered for the checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFacts {
    /// The owner named is in the catalog.
    pub owner_exists: bool,
    /// Members of the owner group.
    pub owner_members: i64,
    /// The PagerDuty service it names is known and has a policy: the policy's levels with
    /// someone on call, and the people at level 1 across the shifts read.
    pub escalation: Option<(i64, i64)>,
    /// Whether PagerDuty has been synced at all (else PagerDuty checks cannot be judged).
    pub pagerduty_synced: bool,
    /// Where an inherited runbook comes from when the service has none of its own.
    pub inherited_runbook: Option<String>,
    /// Alerts in the cache that name the service.
    pub alerts_seen: bool,
    /// The newest deploy that reached production.
    pub last_production_deploy: Option<DateTime<Utc>>,
    /// When the oldest open incident started.
    pub oldest_open_incident: Option<DateTime<Utc>>,
}

/// One check's outcome for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CheckOutcome {
    /// The check.
    pub check: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found, in words.
    pub detail: String,
}

/// A service's result: the level reached (index into the levels; `None` below the first) and
/// every check's outcome in scorecard order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceScore {
    /// Level reached.
    pub level: Option<usize>,
    /// Outcomes.
    pub outcomes: Vec<CheckOutcome>,
}

impl Scorecard {
    /// Runs every check over a service at `now`.
    pub fn evaluate(
        &self,
        entity: &Entity,
        facts: &ServiceFacts,
        now: DateTime<Utc>,
    ) -> ServiceScore {
        let outcomes: Vec<CheckOutcome> = self
            .checks
            .iter()
            .map(|check| {
                let (passed, detail) = self.judge(&check.rule, entity, facts, now);
                CheckOutcome {
                    check: check.id.clone(),
                    passed,
                    detail,
                }
            })
            .collect();
        let mut level = None;
        for l in 0..self.levels.len() {
            let all_pass = self
                .checks
                .iter()
                .zip(&outcomes)
                .filter(|(c, _)| c.level == l)
                .all(|(_, o)| o.passed);
            if !all_pass {
                break;
            }
            level = Some(l);
        }
        ServiceScore { level, outcomes }
    }

    fn judge(
        &self,
        rule: &Rule,
        entity: &Entity,
        facts: &ServiceFacts,
        now: DateTime<Utc>,
    ) -> (bool, String) {
        let annotation = |key: &str| entity.annotation(key);
        let t = &self.thresholds;
        match rule {
            Rule::Annotation(key) => match annotation(key) {
                Some(v) => (true, format!("{key}: {v}")),
                None => (false, format!("no annotation {key}")),
            },
            Rule::Label(key) => match entity.metadata.labels.get(key) {
                Some(v) if !v.trim().is_empty() => (true, format!("{key}: {v}")),
                _ => (false, format!("no label {key}")),
            },
            Rule::Tag(tag) => {
                let has = entity
                    .metadata
                    .tags
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(tag));
                (has, format!("{} tag {tag}", if has { "has" } else { "no" }))
            }
            Rule::LinkType(kind) => {
                let has = entity.metadata.links.iter().any(|l| {
                    l.link_type
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case(kind))
                });
                (
                    has,
                    format!("{} link of type {kind}", if has { "a" } else { "no" }),
                )
            }
            Rule::Builtin(id) => match id {
                CheckId::Owner => match (entity.spec_str("owner"), facts.owner_exists) {
                    (None, _) => (false, "no spec.owner".into()),
                    (Some(o), false) => (false, format!("owner {o} is not in the catalog")),
                    (Some(o), true) => (true, format!("owned by {o}")),
                },
                CheckId::OwnerMembers => match facts.owner_members {
                    0 if !facts.owner_exists => (false, "no owner to have members".into()),
                    0 => (false, "the owner group has no members".into()),
                    n => (true, format!("{n} members")),
                },
                CheckId::LifecycleTier => {
                    let missing: Vec<&str> = [
                        ("spec.lifecycle", entity.spec_str("lifecycle").is_some()),
                        (
                            "label tier",
                            entity.tier().is_some_and(|t| !t.trim().is_empty()),
                        ),
                    ]
                    .into_iter()
                    .filter(|(_, set)| !set)
                    .map(|(what, _)| what)
                    .collect();
                    if missing.is_empty() {
                        (
                            true,
                            format!(
                                "{}, tier {}",
                                entity.spec_str("lifecycle").unwrap_or(""),
                                entity.tier().unwrap_or("")
                            ),
                        )
                    } else {
                        (false, format!("no {}", missing.join(" and no ")))
                    }
                }
                CheckId::DescriptionLinks => {
                    let described = entity
                        .metadata
                        .description
                        .as_deref()
                        .is_some_and(|d| !d.trim().is_empty());
                    let links = entity.metadata.links.len();
                    match (described, links) {
                        (true, 0) => (false, "no links".into()),
                        (false, 0) => (false, "no description and no links".into()),
                        (false, _) => (false, "no description".into()),
                        (true, n) => (true, format!("described, {n} links")),
                    }
                }
                CheckId::Escalation => {
                    let Some(id) = annotation(PAGERDUTY_SERVICE_ID) else {
                        return (false, format!("no {PAGERDUTY_SERVICE_ID} annotation"));
                    };
                    let tier1 = entity.tier() == Some("1");
                    match facts.escalation {
                        None if !facts.pagerduty_synced => {
                            (false, format!("PagerDuty service {id} not synced yet"))
                        }
                        None => (
                            false,
                            format!("PagerDuty has no service {id} with an escalation policy"),
                        ),
                        Some((0, _)) => {
                            (false, "nobody is on call in its escalation policy".into())
                        }
                        Some((levels, _)) if tier1 && levels < t.tier1_escalation_levels => (
                            false,
                            format!(
                                "tier 1 with {levels} escalation level{} on call; wants {}",
                                plural(levels),
                                t.tier1_escalation_levels
                            ),
                        ),
                        Some((levels, _)) => (
                            true,
                            format!("{levels} escalation level{} on call", plural(levels)),
                        ),
                    }
                }
                CheckId::Rotation => match facts.escalation {
                    None => (false, "no escalation policy to rotate".into()),
                    Some((_, people)) if people < t.rotation_people => (
                        false,
                        format!(
                            "{people} person{} at level 1; wants {}",
                            if people == 1 { "" } else { "s" },
                            t.rotation_people
                        ),
                    ),
                    Some((_, people)) => (true, format!("{people} people rotate at level 1")),
                },
                CheckId::Runbook => {
                    if entity.metadata.links.iter().any(|l| l.is_runbook()) {
                        (true, "its own runbook".into())
                    } else if let Some(from) = &facts.inherited_runbook {
                        (true, format!("the runbook of {from}"))
                    } else {
                        (
                            false,
                            "no runbook link on the service, its system or its team".into(),
                        )
                    }
                }
                CheckId::Alerts => {
                    if let Some(selector) = annotation(ALERT_SELECTOR) {
                        (true, format!("alert selector {selector}"))
                    } else if let Some(alerts) = annotation(PROMETHEUS_ALERT) {
                        (true, format!("Prometheus alerts: {alerts}"))
                    } else if facts.alerts_seen {
                        (true, "alerts name it (label service)".into())
                    } else {
                        (false, format!("no {ALERT_SELECTOR} or {PROMETHEUS_ALERT} annotation, and no alert seen naming it"))
                    }
                }
                CheckId::Delivery => {
                    let wired: Vec<&str> = [
                        ("GitHub", GITHUB_PROJECT_SLUG),
                        ("Argo CD", ARGOCD_APP_NAME),
                        ("Argo CD", ARGOCD_APP_SELECTOR),
                    ]
                    .into_iter()
                    .filter(|(_, key)| annotation(key).is_some())
                    .map(|(platform, _)| platform)
                    .collect();
                    if wired.is_empty() {
                        (false, "wired to neither GitHub nor Argo CD".into())
                    } else {
                        let mut wired = wired;
                        wired.dedup();
                        (true, format!("wired to {}", wired.join(" and ")))
                    }
                }
                CheckId::Deployed => match facts.last_production_deploy {
                    None => (false, "no production deploy in the cache".into()),
                    Some(at) if now - at > t.deployed_within => (
                        false,
                        format!(
                            "last production deploy {} days ago; wants within {}",
                            (now - at).num_days(),
                            t.deployed_within.num_days()
                        ),
                    ),
                    Some(at) => (
                        true,
                        format!(
                            "deployed to production {} days ago",
                            (now - at).num_days().max(0)
                        ),
                    ),
                },
                CheckId::Rollback => match Executor::of_component(&entity.metadata.annotations) {
                    Ok(Some(executor)) => (true, format!("through {}", executor.describe())),
                    Ok(None) => (
                        false,
                        "nothing to roll back with: not wired to Argo CD or GitHub".into(),
                    ),
                    Err(problem) => (false, problem),
                },
                CheckId::Incidents => match facts.oldest_open_incident {
                    Some(at) if now - at > t.incident_open_longer_than => (
                        false,
                        format!("an incident open for {} days", (now - at).num_days()),
                    ),
                    Some(_) => (true, "open incidents are recent".into()),
                    None => (true, "no open incident".into()),
                },
            },
        }
    }

    /// The level's name, or `none` below the first.
    pub fn level_name(&self, level: Option<usize>) -> &str {
        level
            .and_then(|l| self.levels.get(l))
            .map(String::as_str)
            .unwrap_or("none")
    }

    /// A check by id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Results added up over services: a team's, a subtree's, the organisation's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Tally {
    /// Services counted.
    pub services: i64,
    /// Services at each level, `none` first then lowest to highest.
    pub at_level: Vec<i64>,
    /// Checks passed, over every service.
    pub passed: i64,
    /// Checks run, over every service.
    pub total: i64,
    /// Services failing each check, by check id.
    #[ts(type = "Record<string, number>")]
    pub failing: BTreeMap<String, i64>,
}

impl Tally {
    /// Counts one service's score.
    pub fn add(&mut self, levels: usize, score: &ServiceScore) {
        self.add_counts(
            levels,
            score.level,
            score.outcomes.iter().map(|o| (o.check.as_str(), o.passed)),
        );
    }

    /// Counts one service from its level and each check's pass or fail.
    pub fn add_counts<'a>(
        &mut self,
        levels: usize,
        level: Option<usize>,
        outcomes: impl IntoIterator<Item = (&'a str, bool)>,
    ) {
        if self.at_level.len() < levels + 1 {
            self.at_level.resize(levels + 1, 0);
        }
        self.services += 1;
        self.at_level[level.map_or(0, |l| (l + 1).min(levels))] += 1;
        for (check, passed) in outcomes {
            self.total += 1;
            if passed {
                self.passed += 1;
            } else {
                *self.failing.entry(check.to_string()).or_default() += 1;
            }
        }
    }

    /// The level most services reach: the median service's. `None` with no services or when
    /// the median service reaches no level.
    pub fn median_level(&self) -> Option<usize> {
        if self.services == 0 {
            return None;
        }
        // Counting from the top, the level where half the services have been passed.
        let half = (self.services + 1) / 2;
        let mut seen = 0;
        for (index, count) in self.at_level.iter().enumerate().rev() {
            seen += count;
            if seen >= half {
                return index.checked_sub(1);
            }
        }
        None
    }

    /// Checks passed, in percent (100 with nothing run).
    pub fn percent(&self) -> i64 {
        if self.total == 0 {
            100
        } else {
            self.passed * 100 / self.total
        }
    }
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        if self.at_level.len() < other.at_level.len() {
            self.at_level.resize(other.at_level.len(), 0);
        }
        for (mine, theirs) in self.at_level.iter_mut().zip(&other.at_level) {
            *mine += theirs;
        }
        self.services += other.services;
        self.passed += other.passed;
        self.total += other.total;
        for (check, count) in other.failing {
            *self.failing.entry(check).or_default() += count;
        }
    }
}

/// Whether a service scores worse now than then: a lower level, or a check it passed then and
/// fails now. Returns the checks failing now that passed then (maybe none, when only the level
/// dropped), or `None` when it is not worse.
pub fn worsened(
    (was, failed): (Option<usize>, &[String]),
    (is, failing): (Option<usize>, &[String]),
) -> Option<Vec<String>> {
    let newly_failing: Vec<String> = failing
        .iter()
        .filter(|c| !failed.contains(c))
        .cloned()
        .collect();
    let rank = |level: Option<usize>| level.map_or(0, |l| l + 1);
    (rank(is) < rank(was) || !newly_failing.is_empty()).then_some(newly_failing)
}

/// Where a catalog entity's file can be edited: `backstage.io/edit-url`, else derived from
/// `backstage.io/managed-by-location` (the file) or `backstage.io/source-location` (its
/// directory's `catalog-info.yaml`) when they point into a GitHub repository.
pub fn edit_url(entity: &Entity) -> Option<String> {
    let annotations = &entity.metadata.annotations;
    if let Some(url) = annotations.get("backstage.io/edit-url") {
        return super::links::openable(url).ok().map(str::to_string);
    }
    let github = |location: &str| -> Option<(String, Vec<String>)> {
        let url = location.trim().strip_prefix("url:")?;
        let rest = url.strip_prefix("https://")?;
        let mut parts: Vec<String> = rest.split('/').map(str::to_string).collect();
        // host / owner / repo / blob|tree / ref / path…
        if parts.len() < 5 || !matches!(parts[3].as_str(), "blob" | "tree") {
            return None;
        }
        parts[3] = "edit".into();
        Some((parts[0].clone(), parts))
    };
    if let Some((_, parts)) = annotations
        .get("backstage.io/managed-by-location")
        .and_then(|l| github(l))
        .filter(|(_, p)| {
            p.last()
                .is_some_and(|f| f.ends_with(".yaml") || f.ends_with(".yml"))
        })
    {
        return Some(format!("https://{}", parts.join("/")));
    }
    let (_, mut parts) = annotations
        .get("backstage.io/source-location")
        .and_then(|l| github(l))?;
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.push("catalog-info.yaml".into());
    Some(format!("https://{}", parts.join("/")))
}

/// The YAML to add to an entity's file so a failing check passes, where the catalog is the fix.
pub fn catalog_snippet(rule: &Rule, entity: &Entity) -> Option<String> {
    let name = &entity.metadata.name;
    let annotation =
        |key: &str, value: &str| format!("metadata:\n  annotations:\n    {key}: {value}");
    Some(match rule {
        Rule::Annotation(key) => annotation(key, "<value>"),
        Rule::Label(key) => format!("metadata:\n  labels:\n    {key}: <value>"),
        Rule::Tag(tag) => format!("metadata:\n  tags:\n    - {tag}"),
        Rule::LinkType(kind) => format!(
            "metadata:\n  links:\n    - url: https://…\n      title: {name} {kind}\n      type: {kind}"
        ),
        Rule::Builtin(id) => match id {
            CheckId::Owner => "spec:\n  owner: <group in the catalog>".into(),
            CheckId::LifecycleTier => "metadata:\n  labels:\n    tier: \"2\"\nspec:\n  lifecycle: production".into(),
            CheckId::DescriptionLinks => format!(
                "metadata:\n  description: What {name} does, in one sentence.\n  links:\n    - url: https://…\n      title: Dashboard\n      type: dashboard"
            ),
            CheckId::Escalation => annotation(PAGERDUTY_SERVICE_ID, "<PagerDuty service id>"),
            CheckId::Runbook => format!(
                "metadata:\n  links:\n    - url: https://…\n      title: {name} runbook\n      type: runbook"
            ),
            CheckId::Alerts => annotation(ALERT_SELECTOR, &format!("'service=\"{name}\"'")),
            CheckId::Delivery | CheckId::Rollback => {
                annotation(GITHUB_PROJECT_SLUG, "<owner>/<repository>")
            }
            CheckId::OwnerMembers
            | CheckId::Rotation
            | CheckId::Deployed
            | CheckId::Incidents => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(value: serde_json::Value) -> Entity {
        let mut base = json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "checkout-api"},
            "spec": {"type": "service", "owner": "checkout"}
        });
        merge(&mut base, value);
        serde_json::from_value(base).unwrap()
    }

    fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
        match (into, from) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (slot, v) => *slot = v,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-12-02T10:00:00Z".parse().unwrap()
    }

    fn well_run() -> (Entity, ServiceFacts) {
        let entity = service(json!({
            "metadata": {
                "description": "Takes orders.",
                "labels": {"tier": "1"},
                "annotations": {PAGERDUTY_SERVICE_ID: "P1", GITHUB_PROJECT_SLUG: "demo/checkout-api"},
                "links": [{"url": "https://wiki/rb", "type": "runbook"}]
            },
            "spec": {"lifecycle": "production"}
        }));
        let facts = ServiceFacts {
            owner_exists: true,
            owner_members: 4,
            escalation: Some((2, 3)),
            pagerduty_synced: true,
            inherited_runbook: None,
            alerts_seen: true,
            last_production_deploy: Some(now() - Duration::days(2)),
            oldest_open_incident: Some(now() - Duration::hours(3)),
        };
        (entity, facts)
    }

    fn failing(score: &ServiceScore) -> Vec<&str> {
        score
            .outcomes
            .iter()
            .filter(|o| !o.passed)
            .map(|o| o.check.as_str())
            .collect()
    }

    #[test]
    fn a_well_run_service_reaches_gold() {
        let (entity, facts) = well_run();
        let card = Scorecard::default();
        let score = card.evaluate(&entity, &facts, now());
        assert_eq!(failing(&score), Vec::<&str>::new());
        assert_eq!(card.level_name(score.level), "gold");
    }

    #[test]
    fn a_level_needs_every_level_below() {
        let (entity, mut facts) = well_run();
        // Fails bronze (owner missing) but passes all of silver and gold: no level at all.
        facts.owner_exists = false;
        facts.owner_members = 0;
        let card = Scorecard::default();
        let score = card.evaluate(&entity, &facts, now());
        assert_eq!(failing(&score), vec!["owner", "owner-members"]);
        assert_eq!(score.level, None);
        assert_eq!(card.level_name(score.level), "none");
    }

    #[test]
    fn tier_one_wants_two_escalation_levels_and_others_one() {
        let (mut entity, mut facts) = well_run();
        facts.escalation = Some((1, 1));
        let card = Scorecard::default();
        let score = card.evaluate(&entity, &facts, now());
        assert_eq!(failing(&score), vec!["escalation", "rotation"]);
        assert_eq!(card.level_name(score.level), "bronze");
        assert!(score.outcomes[4]
            .detail
            .contains("tier 1 with 1 escalation level"));
        entity.metadata.labels.insert("tier".into(), "2".into());
        let score = card.evaluate(&entity, &facts, now());
        assert_eq!(failing(&score), vec!["rotation"]);
        assert_eq!(card.level_name(score.level), "silver");
    }

    #[test]
    fn time_checks_compare_with_the_thresholds() {
        let (entity, mut facts) = well_run();
        facts.last_production_deploy = Some(now() - Duration::days(31));
        facts.oldest_open_incident = Some(now() - Duration::days(8));
        let card = Scorecard::default();
        let score = card.evaluate(&entity, &facts, now());
        assert_eq!(failing(&score), vec!["deployed", "incidents"]);
        let mut lenient = Scorecard::default();
        lenient.thresholds.deployed_within = Duration::days(60);
        lenient.thresholds.incident_open_longer_than = Duration::days(10);
        assert_eq!(
            failing(&lenient.evaluate(&entity, &facts, now())),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn an_orphan_without_wiring_fails_what_it_lacks() {
        let entity = service(json!({"spec": {"owner": "reporting"}}));
        let facts = ServiceFacts {
            pagerduty_synced: true,
            ..Default::default()
        };
        let score = Scorecard::default().evaluate(&entity, &facts, now());
        assert_eq!(
            failing(&score),
            vec![
                "owner",
                "owner-members",
                "lifecycle-tier",
                "description-links",
                "escalation",
                "rotation",
                "runbook",
                "alerts",
                "delivery",
                "deployed",
                "rollback"
            ]
        );
        assert_eq!(
            score.outcomes[0].detail,
            "owner reporting is not in the catalog"
        );
    }

    #[test]
    fn an_inherited_runbook_and_custom_rules_count() {
        let (mut entity, mut facts) = well_run();
        entity.metadata.links.clear();
        entity.metadata.links.push(crate::Link {
            url: "https://grafana/d/1".into(),
            title: None,
            icon: None,
            link_type: Some("Dashboard".into()),
        });
        facts.inherited_runbook = Some("team checkout".into());
        let mut card = Scorecard::default();
        for (id, rule) in [
            ("slo", Rule::Annotation("opsdeck.io/slo".into())),
            ("dashboard", Rule::LinkType("dashboard".into())),
            ("pci", Rule::Tag("pci".into())),
            ("cost-centre", Rule::Label("cost-centre".into())),
        ] {
            card.checks.push(Check {
                id: id.into(),
                name: id.into(),
                level: 2,
                why: String::new(),
                fix: String::new(),
                docs: String::new(),
                rule,
            });
        }
        let score = card.evaluate(&entity, &facts, now());
        assert_eq!(failing(&score), vec!["slo", "pci", "cost-centre"]);
        assert_eq!(score.outcomes[6].detail, "the runbook of team checkout");
        assert_eq!(card.level_name(score.level), "silver");
    }

    #[test]
    fn tallies_add_up_and_give_the_median_level() {
        let card = Scorecard::default();
        let (entity, facts) = well_run();
        let gold = card.evaluate(&entity, &facts, now());
        let none = card.evaluate(&entity, &ServiceFacts::default(), now());
        let mut a = Tally::default();
        a.add(3, &gold);
        a.add(3, &gold);
        let mut b = Tally::default();
        b.add(3, &none);
        assert_eq!(b.median_level(), None);
        a += b;
        assert_eq!(a.services, 3);
        assert_eq!(a.at_level, vec![1, 0, 0, 2]);
        assert_eq!(a.median_level(), Some(2));
        assert_eq!(a.failing["owner"], 1);
        assert_eq!(a.total, 36);
        assert_eq!(Tally::default().percent(), 100);
        assert_eq!(Tally::default().median_level(), None);
    }

    #[test]
    fn worse_is_a_lower_level_or_a_check_newly_failing() {
        let checks = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let (rotation, both) = (checks(&["rotation"]), checks(&["rotation", "runbook"]));
        assert_eq!(
            worsened((Some(2), &[]), (Some(1), &rotation)),
            Some(rotation.clone())
        );
        assert_eq!(
            worsened((Some(1), &rotation), (Some(1), &both)),
            Some(checks(&["runbook"]))
        );
        assert_eq!(worsened((Some(1), &both), (None, &both)), Some(vec![]));
        assert_eq!(
            worsened((Some(1), &both), (Some(1), &rotation)),
            None,
            "better is not worse"
        );
        assert_eq!(worsened((None, &both), (None, &both)), None);
    }

    #[test]
    fn the_edit_url_comes_from_the_annotation_or_the_github_location() {
        let with =
            |key: &str, value: &str| service(json!({"metadata": {"annotations": {key: value}}}));
        assert_eq!(
            edit_url(&with(
                "backstage.io/edit-url",
                "https://ghe.corp/o/r/edit/main/catalog-info.yaml"
            ))
            .as_deref(),
            Some("https://ghe.corp/o/r/edit/main/catalog-info.yaml")
        );
        assert_eq!(
            edit_url(&with("backstage.io/edit-url", "javascript:alert(1)")),
            None
        );
        assert_eq!(
            edit_url(&with(
                "backstage.io/managed-by-location",
                "url:https://github.com/demo/checkout/blob/main/services/checkout.yaml"
            ))
            .as_deref(),
            Some("https://github.com/demo/checkout/edit/main/services/checkout.yaml")
        );
        assert_eq!(
            edit_url(&with(
                "backstage.io/source-location",
                "url:https://github.com/demo/checkout/tree/main/api/"
            ))
            .as_deref(),
            Some("https://github.com/demo/checkout/edit/main/api/catalog-info.yaml")
        );
        assert_eq!(
            edit_url(&with("backstage.io/source-location", "file:/srv/catalog/")),
            None
        );
        assert_eq!(
            edit_url(&with(
                "backstage.io/source-location",
                "url:https://gitlab.com/o/r/-/tree/main"
            )),
            None
        );
    }

    #[test]
    fn catalog_fixes_print_the_yaml_to_add() {
        let (entity, _) = well_run();
        let snippet = catalog_snippet(&Rule::Builtin(CheckId::Alerts), &entity).unwrap();
        assert_eq!(
            snippet,
            "metadata:\n  annotations:\n    opsdeck.io/alert-selector: 'service=\"checkout-api\"'"
        );
        assert!(catalog_snippet(&Rule::Builtin(CheckId::Rotation), &entity).is_none());
        for id in CheckId::ALL {
            assert_eq!(id.as_str().parse::<CheckId>(), Ok(id));
        }
        assert!("slo"
            .parse::<CheckId>()
            .unwrap_err()
            .contains("owner-members"));
    }
}
