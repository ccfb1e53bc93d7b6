//! The results both faces show: the CLI prints them (`--json` as they are) and the desktop app
//! sends them over IPC. TypeScript bindings are generated from these types into `ui/src/ipc/bindings/`.

use crate::domain::actions::{ActionKind, ActionTarget, Step};
pub use crate::domain::Quota;
pub use crate::store::ActivityCursor;
use chrono::{DateTime, Utc};
use serde::Serialize;
use ts_rs::TS;

use crate::config::SourceKind;
use crate::domain::alerts::{Alert, Silence};
use crate::domain::oncall::{Incident, PolicyOnCall};
use crate::domain::{Gap, Health, Link};

/// A team (catalog `Group`) in the sidebar.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TeamSummary {
    /// Cache key, `group:namespace/name`.
    pub key: String,
    /// Group name.
    pub name: String,
    /// Display title, or the name.
    pub title: String,
    /// Components it owns.
    pub service_count: i64,
    /// Users that are members.
    pub member_count: i64,
    /// Ownership gaps across its services.
    pub gap_count: i64,
    /// Whether the configured identity is a member.
    pub is_mine: bool,
    /// `spec.type`: department, team, sub-team…
    pub group_type: Option<String>,
    /// Its parent group in the tree, by key.
    pub parent: Option<String>,
    /// How deep it is in the tree: 0 at the top.
    pub depth: i64,
    /// Groups directly below it.
    pub child_count: i64,
    /// Components it and every group below it own.
    pub service_count_below: i64,
    /// Ownership gaps across those.
    pub gap_count_below: i64,
}

/// What a team's page shows besides its services: where it sits in the tree, what else it
/// owns, and who is in it and on call for it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TeamDetail {
    /// The team, with its counts.
    pub team: TeamSummary,
    /// Owner-written description; untrusted text.
    pub description: Option<String>,
    /// From the top of the tree down to its parent.
    pub ancestors: Vec<EntitySummary>,
    /// Groups directly below it, with their counts.
    pub sub_teams: Vec<TeamSummary>,
    /// Everything else it owns, by kind: systems, APIs, resources, domains.
    pub owns: Vec<OwnedKind>,
    /// Its services whose system another group owns.
    pub system_mismatches: Vec<SystemMismatch>,
    /// Its members.
    pub members: Vec<Member>,
    /// People in its services' on-call rotations who are not members.
    pub outside_on_call: Vec<OutsideOnCall>,
    /// What the catalog says about the tree around it that could not be drawn as written.
    pub tree_problems: Vec<String>,
}

/// Entities of one kind a team owns.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct OwnedKind {
    /// Lower-cased kind.
    pub kind: String,
    /// The entities, by name.
    pub entities: Vec<EntitySummary>,
}

/// A service owned by one group as part of a system another group owns: which one answers?
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SystemMismatch {
    /// The service.
    pub service: EntitySummary,
    /// Its system.
    pub system: EntitySummary,
    /// The system's owner.
    pub system_owner: Option<EntitySummary>,
}

/// A member of a team.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Member {
    /// The catalog user.
    pub user: EntitySummary,
    /// `spec.profile.email`.
    pub email: Option<String>,
    /// In a rotation (a PagerDuty shift read) for the team's services.
    pub in_rotation: bool,
    /// On call for them now.
    pub on_call_now: bool,
    /// The configured identity.
    pub is_me: bool,
}

/// Someone on call for a team's services who is not in the team.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct OutsideOnCall {
    /// Name as PagerDuty has it.
    pub name: String,
    /// Email, when PagerDuty gave one.
    pub email: Option<String>,
    /// The catalog user with that email.
    pub catalog_user: Option<String>,
    /// The escalation policies they are in.
    pub policies: Vec<String>,
}

/// A check as the scorecard describes it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CheckInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its level.
    pub level: String,
    /// Why it matters.
    pub why: String,
    /// What to do when it fails.
    pub fix: String,
    /// Where to read more.
    pub docs: String,
}

/// One service's scorecard, in a table.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ServiceScoreRow {
    /// Cache key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Display title.
    pub title: String,
    /// Owner's cache key.
    pub owner: Option<String>,
    /// Tier label.
    pub tier: Option<String>,
    /// `spec.lifecycle`.
    pub lifecycle: Option<String>,
    /// The level reached, or `none`.
    pub level: String,
    /// Each check's outcome, in the scorecard's order.
    pub outcomes: Vec<crate::domain::scorecards::CheckOutcome>,
    /// The newest production deploy.
    #[ts(type = "string | null")]
    pub last_production_deploy: Option<DateTime<Utc>>,
    /// Incidents open on it.
    pub open_incidents: i64,
}

/// A team's results in a summary.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TeamScore {
    /// Cache key.
    pub key: String,
    /// Display title.
    pub title: String,
    /// Depth in the tree.
    pub depth: i64,
    /// The level most of its services reach.
    pub level: String,
    /// Its services' results added up (with or without the groups below, as asked).
    pub tally: crate::domain::scorecards::Tally,
}

/// One day of a trend.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TrendPoint {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Checks passed, in percent.
    pub percent: i64,
    /// Services counted.
    pub services: i64,
    /// Services at each level, `none` first.
    pub at_level: Vec<i64>,
}

/// A service that scores worse than a week ago.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Worsened {
    /// Cache key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Level a week ago.
    pub was: String,
    /// Level now.
    pub now: String,
    /// Checks it fails now and passed then.
    pub newly_failing: Vec<String>,
}

/// A scorecard of a team (with or without the groups below) or of the organisation.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ScorecardView {
    /// The team, or `None` for the organisation.
    pub team: Option<String>,
    /// Whether the groups below the team count.
    pub below: bool,
    /// Level names, lowest first.
    pub levels: Vec<String>,
    /// The checks, in order.
    pub checks: Vec<CheckInfo>,
    /// The level most services reach.
    pub level: String,
    /// Every service in scope added up.
    pub tally: crate::domain::scorecards::Tally,
    /// Checks by how many services fail them, most first.
    pub failing_most: Vec<(String, i64)>,
    /// For the organisation every team, for a team its sub-teams; in tree order.
    pub teams: Vec<TeamScore>,
    /// The team's services (none for the organisation: see the report).
    pub services: Vec<ServiceScoreRow>,
    /// Daily results over the last 90 days.
    pub trend: Vec<TrendPoint>,
    /// What got worse since a week ago.
    pub worse: Vec<Worsened>,
    /// When the results were worked out.
    #[ts(type = "string | null")]
    pub computed_at: Option<DateTime<Utc>>,
}

/// How to make one failing check of a service pass.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CheckFix {
    /// The check.
    pub check: CheckInfo,
    /// What was found.
    pub detail: String,
    /// YAML to add to the entity's file, where the catalog is the fix.
    pub snippet: Option<String>,
}

/// A service's scorecard with the way to fix what fails.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ServiceScorecard {
    /// The service's row.
    pub row: ServiceScoreRow,
    /// Level names, lowest first.
    pub levels: Vec<String>,
    /// The checks, in order.
    pub checks: Vec<CheckInfo>,
    /// The failing checks and how to fix each.
    pub fixes: Vec<CheckFix>,
    /// Where the entity's file is edited, when the catalog says (or its GitHub location does).
    pub edit_url: Option<String>,
}

/// A service in a team's table.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ServiceRow {
    /// Cache key, `component:namespace/name`.
    pub key: String,
    /// Component name.
    pub name: String,
    /// Display title, or the name.
    pub title: String,
    /// Name of the system it is part of.
    pub system: Option<String>,
    /// `spec.lifecycle`.
    pub lifecycle: Option<String>,
    /// Tier label.
    pub tier: Option<String>,
    /// `spec.type`.
    pub service_type: Option<String>,
    /// Ownership gaps.
    pub gaps: Vec<Gap>,
    /// Tags.
    pub tags: Vec<String>,
}

/// Another entity a page links to; `exists` is false when the catalog has no such entity.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct EntitySummary {
    /// Cache key.
    pub key: String,
    /// Lower-cased kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Display title, or the name.
    pub title: String,
    /// Whether the entity is in the cache.
    pub exists: bool,
}

/// How a service is wired to a platform, by annotation.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct PlatformWiring {
    /// Platform name for people.
    pub platform: String,
    /// The annotation.
    pub annotation: String,
    /// Its value.
    pub value: String,
}

/// Everything the service page shows.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ServiceDetail {
    /// Cache key.
    pub key: String,
    /// Lower-cased kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Display title, or the name.
    pub title: String,
    /// Owner-written description; untrusted text.
    pub description: Option<String>,
    /// `spec.type`.
    pub service_type: Option<String>,
    /// `spec.lifecycle`.
    pub lifecycle: Option<String>,
    /// Tier label.
    pub tier: Option<String>,
    /// Owning team.
    pub owner: Option<EntitySummary>,
    /// System it is part of.
    pub system: Option<EntitySummary>,
    /// What it depends on.
    pub depends_on: Vec<EntitySummary>,
    /// What depends on it.
    pub dependents: Vec<EntitySummary>,
    /// APIs it provides.
    pub provides_apis: Vec<EntitySummary>,
    /// APIs it consumes.
    pub consumes_apis: Vec<EntitySummary>,
    /// `metadata.links`.
    pub links: Vec<Link>,
    /// Tags.
    pub tags: Vec<String>,
    /// Platforms it is wired to.
    pub platforms: Vec<PlatformWiring>,
    /// Ownership gaps.
    pub gaps: Vec<Gap>,
    /// Sources that reported it, in precedence order.
    pub sources: Vec<String>,
}

/// A search result.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SearchHit {
    /// Cache key.
    pub key: String,
    /// Lower-cased kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Display title, or the name.
    pub title: String,
    /// A hint: the owner of a service, the email of a person.
    pub context: Option<String>,
    /// The team to show for it: the group itself, a person's team, or the owner.
    pub team: Option<String>,
}

/// A source being synced now, by one of the processes that share the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SyncingNow {
    /// Source name.
    pub source: String,
    /// Who, in words: "the agent on ops-1 (pid 4242, since 09:12:03)".
    pub by: String,
    /// What the process is: `agent`, `desktop`, `cli`.
    pub face: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: i64,
    /// When it took the source.
    #[ts(type = "string")]
    pub since: DateTime<Utc>,
}

/// A source's health, for the status bar, the Sources screen and `opsdeck sources`.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SourceStatus {
    /// Configured name.
    pub name: String,
    /// Platform.
    pub kind: SourceKind,
    /// Configured interval in seconds.
    pub interval_secs: u64,
    /// The badge, by the domain's freshness rule.
    pub health: Health,
    /// Whether the data held is older than three intervals: screens built on it say so.
    pub data_stale: bool,
    /// When a sync last started.
    #[ts(type = "string | null")]
    pub last_attempt: Option<DateTime<Utc>>,
    /// When a sync last landed.
    #[ts(type = "string | null")]
    pub last_success: Option<DateTime<Utc>>,
    /// When the next scheduled sync is due (later when the platform asked us to wait).
    #[ts(type = "string")]
    pub next_sync: DateTime<Utc>,
    /// Until when the platform asked us to wait, while it does.
    #[ts(type = "string | null")]
    pub retry_after: Option<DateTime<Utc>>,
    /// Failed syncs since the last one that landed.
    pub consecutive_failures: i64,
    /// The last failure, or the problems of the last sync that landed with some.
    pub last_error: Option<String>,
    /// Entities held from this source.
    pub item_count: i64,
    /// Requests made to the platform in the last hour.
    pub requests_last_hour: i64,
    /// Requests the last sync made.
    pub last_requests: Option<i64>,
    /// Cache rows the last sync that landed wrote (0 when nothing had changed).
    pub last_rows_written: Option<i64>,
    /// How long the last sync took.
    pub last_duration_ms: Option<i64>,
    /// The platform's rate limit, as it last reported it.
    pub quota: Option<Quota>,
    /// A risk in how the source is configured, e.g. its token sent over plain `http://`.
    pub warning: Option<String>,
    /// The process syncing it right now, this one or another sharing the cache.
    pub syncing_now: Option<SyncingNow>,
}

/// A screen the desktop is asked to show from outside the window: an `opsdeck://` link, or a
/// notification clicked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "screen", rename_all = "kebab-case")]
#[ts(export)]
pub enum Screen {
    /// A service's page, by cache key.
    Service {
        /// Cache key.
        key: String,
    },
    /// A team's page, by cache key.
    Team {
        /// Cache key.
        key: String,
    },
    /// The incident view, by PagerDuty id.
    Incident {
        /// PagerDuty id.
        id: String,
    },
}

/// How the desktop app behaves on this machine.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct DesktopSettings {
    /// Whether a tray icon stands in for the window when it closes.
    pub tray: bool,
    /// `[desktop] keep_running_in_tray`.
    pub keep_running_in_tray: bool,
    /// Whether Opsdeck starts at login (hidden, in the tray).
    pub start_at_login: bool,
}

/// What the desktop's tray says at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Presence {
    /// Whether the identity is on call now, at any level of any policy.
    pub on_call: bool,
    /// When the first of those shifts ends, when a schedule says.
    pub on_call_until: Option<DateTime<Utc>>,
    /// Triggered incidents on the identity's teams.
    pub triggered_on_my_teams: i64,
    /// The badge of the source that most needs attention (fresh when none does).
    pub worst_health: Health,
    /// That source.
    pub worst_source: Option<String>,
}

impl Presence {
    /// The tray's lines, worst news first, with times in `local` (the user's clock).
    pub fn lines<Tz: chrono::TimeZone>(&self, local: &Tz) -> Vec<String>
    where
        Tz::Offset: std::fmt::Display,
    {
        let mut lines = Vec::new();
        lines.push(match self.triggered_on_my_teams {
            0 => "No triggered incidents on your teams".to_string(),
            1 => "1 triggered incident on your teams".to_string(),
            n => format!("{n} triggered incidents on your teams"),
        });
        lines.push(match (self.on_call, self.on_call_until) {
            (true, Some(until)) => format!(
                "You are on call until {}",
                until.with_timezone(local).format("%a %H:%M")
            ),
            (true, None) => "You are on call".to_string(),
            (false, _) => "You are not on call".to_string(),
        });
        lines.push(match (&self.worst_source, self.worst_health) {
            (Some(source), health) => format!("Sources: {source} {}", health.words()),
            (None, _) => "Sources: all fresh".to_string(),
        });
        lines
    }
}

/// How the desktop app was started: its first screen and its demo label.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct LaunchInfo {
    /// Whether it runs the demo organisation (the sandbox in process, a cache of its own).
    pub demo: bool,
    /// Whether it runs the demo only because no config exists yet: the welcome is due.
    pub first_run: bool,
    /// Where the config is looked for by default, which `opsdeck init` writes.
    pub config_path: Option<String>,
}

/// *Test connection*'s answer for one source.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SourceCheck {
    /// Configured name.
    pub source: String,
    /// Platform.
    pub kind: SourceKind,
    /// Where it looked: the URL, or the directory of catalog files.
    pub address: String,
    /// Whether the platform answered as it should.
    pub ok: bool,
    /// What it found, in words, when it did.
    pub found: Option<String>,
    /// What is wrong and what to do, when it did not.
    pub problem: Option<String>,
    /// Who the token belongs to, when the platform says.
    pub signed_in_as: Option<SignedInAs>,
    /// Requests made (retries included).
    pub requests: i64,
    /// How long it took.
    pub took_ms: i64,
}

/// A platform's user, as the platform names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SignedInAs {
    /// Name, or login.
    pub name: String,
    /// Email, when the platform says.
    pub email: Option<String>,
}

/// What a sync of one source did.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SyncReport {
    /// Source name.
    pub source: String,
    /// Whether the cache now holds this fetch.
    pub landed: bool,
    /// Entities stored.
    pub items: i64,
    /// Cache rows written: 0 when the source had nothing new.
    pub rows_written: i64,
    /// Requests made to the platform.
    pub requests: i64,
    /// Problems that cost single documents, or the error that stopped the sync.
    pub problems: Vec<String>,
    /// How long the sync took, waits for the platform and the cache included.
    pub duration_ms: i64,
    /// Who synced the source instead, when another process sharing the cache was at it.
    pub left_to: Option<String>,
}

/// Sync progress, streamed to the faces.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SyncProgress {
    /// Source name.
    pub source: String,
    /// Pages or files read.
    pub pages: i64,
    /// Items read.
    pub items: i64,
    /// Total items, when known.
    pub total: Option<i64>,
}

/// A catalog component something is joined to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ServiceRef {
    /// Cache key.
    pub key: String,
    /// Component name.
    pub name: String,
}

/// An incident with the catalog services it is on.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct IncidentRow {
    /// The PagerDuty source it came from.
    pub source: String,
    /// The incident.
    pub incident: Incident,
    /// Components whose `pagerduty.com/service-id` is the incident's service.
    pub services: Vec<ServiceRef>,
}

/// An alert with the catalog services it belongs to and the silences that mute it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AlertRow {
    /// The Alertmanager source it came from.
    pub source: String,
    /// The alert.
    pub alert: Alert,
    /// Components it joins (label `service`, or their alert selector).
    pub services: Vec<ServiceRef>,
    /// Silences named in its `silencedBy`, as cached.
    pub silences: Vec<Silence>,
}

/// Who is on call and what is on fire, for a team or a service.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct OnCallPanel {
    /// Escalation policies of its services, with who is on call now and next per level.
    pub policies: Vec<PolicyOnCall>,
    /// Open incidents: triggered first, then acknowledged, newest first.
    pub incidents: Vec<IncidentRow>,
    /// Incidents resolved in the last days PagerDuty was read for.
    pub resolved_recently: i64,
    /// Alerts: firing first, then by severity, newest first.
    pub alerts: Vec<AlertRow>,
    /// Whether the identity is on call now for any of them.
    pub me_on_call: bool,
    /// Services with no `pagerduty.com/service-id`: nobody is paged for them.
    pub unpaged: Vec<String>,
    /// Services whose PagerDuty service id PagerDuty does not know (once it has synced).
    pub unknown_to_pagerduty: Vec<String>,
}

/// A team's row on the "On call" screen.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TeamOnCall {
    /// The team's cache key.
    pub key: String,
    /// Team name.
    pub name: String,
    /// Display title.
    pub title: String,
    /// Whether the identity is a member.
    pub is_mine: bool,
    /// Its services' escalation policies, now and next.
    pub policies: Vec<PolicyOnCall>,
    /// Whether the identity is on call now for it.
    pub me_on_call: bool,
    /// Triggered incidents on its services.
    pub triggered: i64,
    /// Acknowledged incidents on its services.
    pub acknowledged: i64,
    /// Firing (not silenced or inhibited) alerts on its services.
    pub firing_alerts: i64,
}

/// One deployment, as every delivery screen shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct DeploymentRow {
    /// The platform it came from: `github` or `argocd`.
    pub source: String,
    /// Its id within the source.
    pub id: String,
    /// The service it deployed.
    pub service: ServiceRef,
    /// Its environment.
    pub environment: String,
    /// The version.
    pub version: String,
    /// The commit, full.
    pub commit: Option<String>,
    /// Who started it, or "automated".
    pub actor: Option<String>,
    /// When it started.
    #[ts(type = "string")]
    pub started_at: DateTime<Utc>,
    /// When it ended.
    #[ts(type = "string | null")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: crate::domain::delivery::DeployStatus,
    /// Its page on the platform.
    pub link: Option<String>,
    /// The version it rolled back from, if it was a rollback.
    pub rolled_back_from: Option<String>,
    /// The platform's description.
    pub description: Option<String>,
}

/// What runs in one environment of a service.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct EnvironmentRow {
    /// The environment.
    pub environment: String,
    /// The deployment running there.
    pub current: Option<DeploymentRow>,
    /// A newer one that has not reached it: in flight, waiting or failed.
    pub latest: Option<DeploymentRow>,
    /// Argo CD health (Healthy, Progressing, Degraded, …).
    pub health: Option<String>,
    /// Argo CD sync state (Synced, OutOfSync).
    pub sync: Option<String>,
    /// Whether Argo CD syncs it automatically.
    pub automated_sync: bool,
    /// The Argo CD application's page.
    pub app_link: Option<String>,
    /// Runs another version than production.
    pub drift: bool,
}

/// A version waiting to reach production.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PendingRow {
    /// Where it sits.
    pub from_environment: String,
    /// Its version.
    pub version: String,
    /// Production.
    pub to_environment: String,
    /// What production runs.
    pub production_version: Option<String>,
    /// Commits it would bring, when the comparison is cached.
    pub commit_count: Option<i64>,
}

/// The commits between two versions of a service.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ChangesView {
    /// The older version.
    pub from_version: String,
    /// The newer version.
    pub to_version: String,
    /// How many commits (GitHub lists at most 250 of them).
    pub total_commits: i64,
    /// The commits, newest first.
    pub commits: Vec<crate::domain::delivery::Commit>,
    /// The compare page.
    pub link: Option<String>,
}

/// A service's delivery: pipeline, environments, timeline, what changed.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ServiceDelivery {
    /// The service.
    pub service: ServiceRef,
    /// Whether it is wired to GitHub or Argo CD at all.
    pub wired: bool,
    /// CI workflows, then environments in promotion order.
    pub stages: Vec<crate::domain::delivery::Stage>,
    /// Each environment.
    pub environments: Vec<EnvironmentRow>,
    /// Deployments, newest first (the last 90 days, at most 100).
    pub timeline: Vec<DeploymentRow>,
    /// Versions deployed, newest first: what "what changed" can compare.
    pub versions: Vec<String>,
    /// What is waiting to reach production.
    pub pending: Option<PendingRow>,
    /// What a pending promotion would bring to production, else what the newest production
    /// deploy changed, when cached.
    pub notable_changes: Option<ChangesView>,
}

/// One cell of the release matrix.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct MatrixCell {
    /// The version running.
    pub version: Option<String>,
    /// When it was deployed.
    #[ts(type = "string | null")]
    pub deployed_at: Option<DateTime<Utc>>,
    /// A newer deployment's version and status, when one has not reached it.
    pub incoming: Option<String>,
    /// That deployment's status.
    pub incoming_status: Option<crate::domain::delivery::DeployStatus>,
    /// Runs another version than production.
    pub drift: bool,
    /// Argo CD health, when degraded or progressing.
    pub health: Option<String>,
    /// Why the next version has not reached it: approval, a failed check, bake time.
    pub waiting: Option<crate::domain::delivery::WaitReason>,
}

/// One service's row in the release matrix.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReleaseRow {
    /// The service.
    pub service: ServiceRef,
    /// One cell per matrix environment, in order; `null` where it has none.
    pub cells: Vec<Option<MatrixCell>>,
    /// What waits for production.
    pub pending: Option<PendingRow>,
    /// Production deploys per day, oldest first, over the matrix's days.
    pub daily_deploys: Vec<i64>,
}

/// A team's releases: versions per environment, pending promotions, deploy frequency.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReleaseMatrix {
    /// The team's cache key.
    pub team: String,
    /// The columns, in promotion order.
    pub environments: Vec<String>,
    /// One row per service wired for delivery.
    pub rows: Vec<ReleaseRow>,
    /// Services of the team not wired to GitHub or Argo CD.
    pub unwired: Vec<String>,
    /// The days the counts cover, oldest first (YYYY-MM-DD).
    pub days: Vec<String>,
    /// The team's production deploys per day.
    pub team_daily_deploys: Vec<i64>,
}

/// One HTTP call a rollback will make, exactly as it will be sent (without the token).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct PlannedCall {
    /// `POST`, `PATCH`.
    pub method: String,
    /// The full address.
    pub url: String,
    /// The JSON body.
    pub body: String,
    /// What it does, for people.
    pub purpose: String,
}

/// What a rollback would do, from the cache and one fresh read of the platform: shown before
/// anything happens, confirmed by its `key`.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RollbackPlan {
    /// The idempotency key: confirming it twice acts once.
    pub key: String,
    /// The service.
    pub service: ServiceRef,
    /// Its owning team's name.
    pub owner: Option<String>,
    /// The environment rolled back.
    pub environment: String,
    /// What runs there now.
    pub current: Option<DeploymentRow>,
    /// The version it goes back to.
    pub target: Option<crate::domain::rollback::RollbackCandidate>,
    /// Every earlier version that ran healthy there, newest first.
    pub candidates: Vec<crate::domain::rollback::RollbackCandidate>,
    /// The commits being undone (target to current), when GitHub could say.
    pub changes: Option<ChangesView>,
    /// Why the commits are not listed, when they are not.
    pub changes_problem: Option<String>,
    /// Which platform does it.
    pub executor: Option<crate::domain::rollback::Executor>,
    /// The executor for people: "Argo CD rollback", "GitHub deployment", ….
    pub executor_label: String,
    /// The configured source that will be called.
    pub source: Option<String>,
    /// The calls, in order.
    pub calls: Vec<PlannedCall>,
    /// Whether Argo CD syncs the application automatically (the plan then switches it off
    /// first, if the user consents).
    pub automated_sync: bool,
    /// What the user should know before confirming.
    pub warnings: Vec<String>,
    /// Who is on call for the service now.
    pub on_call: Vec<String>,
    /// Whether the identity is on call for it.
    pub me_on_call: bool,
    /// Whether one of the identity's teams owns it.
    pub owned_by_me: bool,
    /// Whether the user must type the service name to confirm (recorded as an override): the
    /// service, or another service wired to the same target, is neither my team's nor mine
    /// to answer for on call.
    pub needs_override: bool,
    /// What the rollback acts on, as the delivery wiring keys it (`argocd-app:checkout`,
    /// `github:acme/web`): another rollback there waits for this one, whichever service asks.
    pub platform_target: Option<String>,
    /// Other services wired to the same target, each with its owning team: they are rolled
    /// back too.
    pub also_claimed_by: Vec<String>,
    /// What stands in the way; empty when it can run.
    pub blockers: Vec<crate::domain::rollback::Blocker>,
    /// When the plan was made.
    #[ts(type = "string")]
    pub planned_at: DateTime<Utc>,
    /// After this the plan must be made again.
    #[ts(type = "string")]
    pub expires_at: DateTime<Utc>,
}

/// What the user confirms.
#[derive(Debug, Clone, Default, serde::Deserialize, TS)]
#[ts(export)]
pub struct RollbackConfirmation {
    /// The plan's key.
    pub key: String,
    /// The service name as typed, when the plan needs an override.
    pub typed_service: Option<String>,
    /// Consent to switch Argo CD's automated sync off first.
    pub disable_automated_sync: bool,
    /// Why, in the user's words (recorded).
    pub reason: Option<String>,
}

/// Where one rollback stands, as both faces show it live.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RollbackProgress {
    /// The plan's key.
    pub key: String,
    /// The service.
    pub service: ServiceRef,
    /// The environment.
    pub environment: String,
    /// The version rolled back from.
    pub from_version: Option<String>,
    /// The version rolled back to.
    pub to_version: String,
    /// The executor for people.
    pub executor_label: String,
    /// Where it stands.
    pub state: crate::domain::rollback::RollbackState,
    /// What happened last, for people.
    pub message: String,
    /// When it was requested.
    #[ts(type = "string")]
    pub started_at: DateTime<Utc>,
    /// When this was observed.
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// The platform's page for it.
    pub link: Option<String>,
}

/// One step of an audited action.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct AuditStepRow {
    /// Which step.
    pub step: Step,
    /// When.
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// Where the action stood after it.
    pub state: String,
    /// What happened.
    pub message: String,
}

/// What `opsdeck audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerification {
    /// Entries whose hash and link to the one before hold, from the first on.
    pub intact: i64,
    /// The first entry that does not hold, if any: everything from it on is suspect.
    pub first_broken: Option<AuditBreak>,
}

/// An entry of the audit log whose chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditBreak {
    /// Its position in the log.
    pub seq: i64,
    /// Its action's key.
    pub action_key: String,
    /// What is wrong.
    pub problem: String,
}

/// One action in the audit log, its steps merged.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct AuditEntry {
    /// The idempotency key.
    pub key: String,
    /// What kind of action.
    pub kind: ActionKind,
    /// Who.
    pub actor: String,
    /// The machine it was taken from (its host name); empty for entries from before.
    pub machine: String,
    /// The service.
    pub service: ServiceRef,
    /// What it acted on besides the service: an environment, a workflow.
    pub target: ActionTarget,
    /// The version rolled back from.
    pub from_version: Option<String>,
    /// The version rolled back to.
    pub to_version: Option<String>,
    /// What was acted on, when it is not a version: a runbook's title.
    pub subject: Option<String>,
    /// The executor for people.
    pub executor: Option<String>,
    /// The calls made, as planned.
    pub calls: Vec<PlannedCall>,
    /// The platform's id for what it started (deployment, run, history entry).
    pub response_id: Option<String>,
    /// The override, when the user was neither owner nor on call: what they typed and why.
    pub override_reason: Option<String>,
    /// When it was requested.
    #[ts(type = "string")]
    pub requested_at: DateTime<Utc>,
    /// The last state recorded.
    pub state: String,
    /// Whether an outcome was recorded (false: Opsdeck stopped while tracking it).
    pub finished: bool,
    /// The last message.
    pub message: String,
    /// Every step, oldest first.
    pub steps: Vec<AuditStepRow>,
}

/// What a runbook is launched for, beyond its service: an incident, an alert, an environment.
#[derive(Debug, Clone, Default, serde::Deserialize, TS)]
#[ts(export)]
pub struct RunbookAsk {
    /// The incident's id (`{incident_id}`).
    pub incident_id: Option<String>,
    /// The alert's fingerprint: its name and labels fill `{alertname}` and `{label.NAME}`, and
    /// its own runbook comes first.
    pub alert: Option<String>,
    /// The environment (`{env}`, and `{version}`: what runs there); production by default.
    pub environment: Option<String>,
}

/// One runbook of a service, filled in for the context it was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RunbookRow {
    /// Its title.
    pub title: String,
    /// Its URL as written (with placeholders): how it is named when launched.
    pub template: String,
    /// Its URL with the context filled in.
    pub url: String,
    /// Placeholders the context had no value for (left visible in `url`).
    pub unfilled: Vec<String>,
    /// A page, a markdown file, or a workflow.
    pub kind: crate::domain::runbooks::RunbookKind,
    /// The service's own, its system's, its team's, or an alert's.
    pub origin: crate::domain::runbooks::RunbookOrigin,
    /// For a markdown runbook or a workflow: when GitHub last confirmed the cached copy.
    #[ts(type = "string | null")]
    pub cached_at: Option<DateTime<Utc>>,
    /// Why it cannot be opened, when it cannot (a scheme other than http or https).
    pub refused: Option<String>,
}

/// A markdown runbook as cached: its text is untrusted and rendered sanitised.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RunbookDocument {
    /// Its title.
    pub title: String,
    /// Its page on GitHub.
    pub url: String,
    /// `owner/repo`.
    pub repo: String,
    /// Its path.
    pub path: String,
    /// The markdown; untrusted.
    pub markdown: String,
    /// When GitHub last confirmed this copy.
    #[ts(type = "string")]
    pub confirmed_at: DateTime<Utc>,
}

/// An automated runbook's form: the workflow's inputs.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RunbookForm {
    /// Its title.
    pub title: String,
    /// Its URL as written.
    pub template: String,
    /// `owner/repo`.
    pub repo: String,
    /// The workflow file.
    pub workflow: String,
    /// The branch it runs on.
    pub git_ref: String,
    /// Its inputs, in file order; defaults filled from the context where they name it.
    pub inputs: Vec<crate::domain::runbooks::WorkflowInput>,
    /// When GitHub last confirmed the workflow file.
    #[ts(type = "string")]
    pub confirmed_at: DateTime<Utc>,
}

/// Where an automated runbook's run stands.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct RunbookRunProgress {
    /// The audit log's key.
    pub key: String,
    /// The service.
    pub service: ServiceRef,
    /// The runbook's title.
    pub title: String,
    /// The workflow file.
    pub workflow: String,
    /// The run, once known.
    pub run_id: Option<i64>,
    /// Where it stands.
    pub status: crate::domain::delivery::DeployStatus,
    /// Whether it ended (or was given up on).
    pub finished: bool,
    /// What happened last.
    pub message: String,
    /// Its logs.
    pub link: Option<String>,
    /// When it was dispatched.
    #[ts(type = "string")]
    pub started_at: DateTime<Utc>,
}

/// Which deploys the activity feed shows: what the CLI's `deploys` and the desktop's Activity
/// screen both send.
#[derive(Debug, Clone, Default, serde::Deserialize, TS)]
#[ts(export)]
pub struct ActivityFilter {
    /// Only this team's services.
    pub team: Option<String>,
    /// Only this service.
    pub service: Option<String>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only this status.
    pub status: Option<crate::domain::delivery::DeployStatus>,
    /// Only deploys started this many seconds ago or later.
    pub since_seconds: Option<i64>,
    /// Only after this row of the feed: the last of the page before.
    pub after: Option<ActivityCursor>,
    /// At most this many.
    pub limit: i64,
}

/// The most deploys one page of the feed holds: a million rows asked at once would cost memory,
/// not answer a question.
pub const MAX_ACTIVITY_PAGE: i64 = 100_000;

impl ActivityFilter {
    /// The page size asked for, refused outside 1 to [`MAX_ACTIVITY_PAGE`] (SQLite reads a
    /// negative limit as none).
    pub fn page_size(&self) -> crate::Result<i64> {
        if (1..=MAX_ACTIVITY_PAGE).contains(&self.limit) {
            Ok(self.limit)
        } else {
            Err(crate::Error::Refused(format!(
                "a page of {} deploys: ask for 1 to {MAX_ACTIVITY_PAGE}",
                self.limit
            )))
        }
    }

    /// The earliest start asked for, counted back from `now`; a window no calendar can hold
    /// is refused, not wrapped.
    pub fn since_time(&self, now: DateTime<Utc>) -> crate::Result<Option<DateTime<Utc>>> {
        let Some(seconds) = self.since_seconds else {
            return Ok(None);
        };
        chrono::Duration::try_seconds(seconds)
            .filter(|window| *window >= chrono::Duration::zero())
            .and_then(|window| now.checked_sub_signed(window))
            .map(Some)
            .ok_or_else(|| {
                crate::Error::Refused(format!("a window of {seconds} seconds back is not a date"))
            })
    }
}

/// A service around an incident's: one it depends on or one that depends on it, with what is
/// wrong with it now.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Neighbour {
    /// The service (or resource).
    pub entity: EntitySummary,
    /// Whether the incident's service depends on it (else it depends on the incident's).
    pub upstream: bool,
    /// Its open incidents.
    pub open_incidents: i64,
    /// Its firing alerts.
    pub firing_alerts: i64,
}

/// A suspect change as the incident view shows it.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SuspectRow {
    /// The change and its rank.
    pub suspect: crate::domain::suspects::Suspect,
    /// Why it ranks there, in words.
    pub reason: String,
    /// "8 min before", "3 min after".
    pub when: String,
    /// The commits it brought, newest first, when the cache holds them.
    pub commits: Vec<crate::domain::delivery::Commit>,
    /// How many commits it brought, when known (the list may be shorter).
    pub total_commits: Option<i64>,
    /// Whether it can be rolled back from here: a deploy with an environment that still runs
    /// what it put there.
    pub can_roll_back: bool,
    /// What has run there since, when another version replaced it (a rollback, a fix).
    pub replaced_by: Option<Replacement>,
}

/// A deploy that put another version where a suspect had.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Replacement {
    /// The version.
    pub version: String,
    /// When it started.
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// Whether it was a rollback.
    pub rollback: bool,
}

/// An Argo CD application left by a rollback where Git's changes do not reach it: automated
/// sync off since the rollback, or off before it and out of sync since.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AutomatedSyncOff {
    /// The Argo CD source it was read from.
    pub source: String,
    /// The service.
    pub service: ServiceRef,
    /// The environment.
    pub environment: String,
    /// The Argo CD application.
    pub app: String,
    /// When the rollback that switched it off was requested, when Opsdeck did it.
    #[ts(type = "string | null")]
    pub since: Option<DateTime<Utc>>,
    /// Who did.
    pub by: Option<String>,
    /// Whether the rollback switched automated sync off (else it was off before, and the
    /// application has been out of sync with Git since).
    pub switched_off_by_rollback: bool,
    /// Sync status: Synced, OutOfSync.
    pub sync: Option<String>,
    /// Health.
    pub health: Option<String>,
}

/// Everything about one incident on one screen: the incident, its service and what it is part
/// of, who is on call, firing alerts, suspect changes ranked, and what can be done.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct IncidentView {
    /// The PagerDuty source.
    pub source: String,
    /// The incident as cached.
    pub incident: Incident,
    /// The PagerDuty service's name.
    pub pagerduty_service: Option<String>,
    /// The catalog service it is on (the first, when several share the PagerDuty service).
    pub service: Option<ServiceRef>,
    /// Its owner.
    pub owner: Option<EntitySummary>,
    /// Its system.
    pub system: Option<EntitySummary>,
    /// Its tier.
    pub tier: Option<String>,
    /// The escalation policy paging for it, level by level, now.
    pub policy: Option<PolicyOnCall>,
    /// Whether the user is on call on it.
    pub me_on_call: bool,
    /// What it depends on, then what depends on it.
    pub neighbours: Vec<Neighbour>,
    /// Alerts of the service and of what it depends on, firing first.
    pub alerts: Vec<AlertRow>,
    /// Changes ranked, best suspect first.
    pub suspects: Vec<SuspectRow>,
    /// The rule [`IncidentView::suspects`] follow, in words.
    pub ranking_rule: String,
    /// Where the window starts (the configured window before the start).
    #[ts(type = "string")]
    pub window_since: DateTime<Utc>,
    /// Argo CD applications of the service left without automated sync by a rollback.
    pub automated_sync_off: Vec<AutomatedSyncOff>,
    /// Actions taken on it through Opsdeck, newest first.
    pub actions: Vec<AuditEntry>,
}

/// Who an incident is reassigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[ts(export)]
pub enum Reassignee {
    /// A PagerDuty user, by id.
    User {
        /// PagerDuty user id.
        id: String,
    },
    /// A level of the incident's escalation policy.
    Level {
        /// From 1.
        level: i64,
    },
}

/// An on-call action asked for by a face: planned by [`crate::Engine::plan_action`], carried
/// out by [`crate::Engine::start_action`] once confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[ts(export)]
pub enum ActionRequest {
    /// Acknowledge a PagerDuty incident.
    Acknowledge {
        /// Its id or number.
        incident: String,
    },
    /// Resolve it.
    Resolve {
        /// Its id or number.
        incident: String,
        /// The resolution PagerDuty adds to its log.
        resolution: Option<String>,
    },
    /// Reassign it.
    Reassign {
        /// Its id or number.
        incident: String,
        /// To whom.
        to: Reassignee,
    },
    /// Change its urgency.
    Urgency {
        /// Its id or number.
        incident: String,
        /// `high` or `low`.
        urgency: String,
    },
    /// Add a note.
    Note {
        /// Its id or number.
        incident: String,
        /// The note.
        text: String,
    },
    /// Silence an alert for a while, matching its exact labels.
    Silence {
        /// The Alertmanager source.
        source: String,
        /// The alert's fingerprint.
        fingerprint: String,
        /// For how long, in seconds.
        seconds: i64,
        /// Why; by default, the incident it is silenced for.
        comment: Option<String>,
        /// The incident it is silenced during (id or number), named in the comment.
        incident: Option<String>,
    },
    /// Expire a silence.
    ExpireSilence {
        /// The Alertmanager source; by default, the one the cache holds the silence from.
        source: Option<String>,
        /// The silence's id.
        id: String,
    },
    /// Sync a service's Argo CD application in an environment to what Git says.
    ArgocdSync {
        /// The service.
        service: String,
        /// The environment.
        environment: String,
    },
    /// Switch its automated sync back on.
    ArgocdAutoSync {
        /// The service.
        service: String,
        /// The environment.
        environment: String,
    },
}

/// An action planned, to be confirmed by its key.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ActionPlan {
    /// The idempotency key a confirmation carries.
    pub key: String,
    /// What it is.
    pub kind: ActionKind,
    /// What it does, in words: "Acknowledge #1234 Checkout error rate above 5%".
    pub title: String,
    /// The service it acts for, when it has one.
    pub service: Option<ServiceRef>,
    /// The source it goes to.
    pub source: String,
    /// The one call it makes.
    pub call: PlannedCall,
    /// What to know before confirming (it redeploys what Git says).
    pub warnings: Vec<String>,
    /// Why it cannot run, if it cannot: confirming is refused.
    pub blocker: Option<String>,
    /// Until when it may be confirmed.
    #[ts(type = "string")]
    pub expires_at: DateTime<Utc>,
}

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum ActionState {
    /// Written to the audit log; the call is being made.
    Requested,
    /// The platform accepted it; reading it back.
    Accepted,
    /// The answer was lost; reading the platform to find out.
    Unknown,
    /// The platform shows it done.
    Done,
    /// The platform refused it, or it ended badly.
    Failed,
    /// The platform did not show it done in time.
    TimedOut,
}

impl ActionState {
    /// The word the audit log stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Accepted => "accepted",
            Self::Unknown => "unknown",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::TimedOut => "timed-out",
        }
    }

    /// Whether it is an end.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::TimedOut)
    }
}

/// An action under way or ended.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ActionProgress {
    /// Its key.
    pub key: String,
    /// What it is.
    pub kind: ActionKind,
    /// What it does, in words.
    pub title: String,
    /// Where it stands.
    pub state: ActionState,
    /// The platform's words, or ours.
    pub message: String,
    /// When it was confirmed.
    #[ts(type = "string")]
    pub started_at: DateTime<Utc>,
    /// The platform's page for what it acted on.
    pub link: Option<String>,
}
