//! `opsdeck.toml`: who "me" is and which sources to read. Tokens are never in this file, only
//! the name of the environment variable that holds one (or the keychain, via `opsdeck login`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::domain::scorecards::{Check, CheckId, Rule, Scorecard};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped fields.
    #[error("config {path} is invalid: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// A source entry misses a field its kind needs, or repeats a name.
    #[error("config {path}: source '{source_name}': {message}")]
    Source {
        /// The file.
        path: PathBuf,
        /// The source's name.
        source_name: String,
        /// What to fix.
        message: String,
    },
}

/// Which platform a source reads.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Deserialize,
    serde::Serialize,
    ts_rs::TS,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum SourceKind {
    /// Backstage catalog REST API.
    Backstage,
    /// A local tree of `catalog-info.yaml` files.
    CatalogFiles,
    /// PagerDuty REST API v2.
    Pagerduty,
    /// Prometheus Alertmanager API v2.
    Alertmanager,
    /// GitHub REST API.
    Github,
    /// Argo CD API.
    Argocd,
}

impl SourceKind {
    /// Whether it brings catalog entities, which the other kinds' records join to.
    pub fn is_catalog(self) -> bool {
        matches!(self, Self::Backstage | Self::CatalogFiles)
    }

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backstage => "backstage",
            Self::CatalogFiles => "catalog-files",
            Self::Pagerduty => "pagerduty",
            Self::Alertmanager => "alertmanager",
            Self::Github => "github",
            Self::Argocd => "argocd",
        }
    }
}

/// PagerDuty's REST API, the `url` of a `pagerduty` source that names none.
pub const PAGERDUTY_API: &str = "https://api.pagerduty.com";

/// PagerDuty's Events API, where change events go, for every account.
pub const PAGERDUTY_EVENTS_API: &str = "https://events.pagerduty.com";

/// GitHub.com's REST and GraphQL API; GitHub Enterprise sources name their own.
pub const GITHUB_API: &str = "https://api.github.com";

/// `[delivery]`: how environments are read.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Environments in promotion order, production last; others sort after them by name.
    #[serde(default)]
    pub environments: Option<Vec<String>>,
    /// How long a version sits in an environment before it is promoted, e.g. `1h`.
    #[serde(default = "default_bake_time", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub bake_time: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            environments: None,
            bake_time: default_bake_time(),
        }
    }
}

impl DeliveryConfig {
    /// The promotion order: the configured one, else the default.
    pub fn order(&self) -> crate::domain::delivery::EnvironmentOrder {
        match &self.environments {
            Some(list) => crate::domain::delivery::EnvironmentOrder::new(list.clone()),
            None => Default::default(),
        }
    }
}

fn default_bake_time() -> Duration {
    Duration::from_secs(3600)
}

/// `[rollback]`: how rollbacks are tracked and told.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackConfig {
    /// How long a rollback is tracked before it is reported timed out, e.g. `15m`.
    #[serde(default = "default_rollback_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    /// How often the platform is read while a rollback runs.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub poll_interval: Duration,
    /// Whether a finished rollback is sent to PagerDuty as a change event (when a PagerDuty
    /// source is configured and the service has `pagerduty.com/integration-key`).
    #[serde(default = "default_true")]
    pub pagerduty_change_events: bool,
}

impl Default for RollbackConfig {
    fn default() -> Self {
        Self {
            timeout: default_rollback_timeout(),
            poll_interval: default_poll_interval(),
            pagerduty_change_events: true,
        }
    }
}

/// `[runbooks]`: how automated runbooks (workflow runs) are followed.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbooksConfig {
    /// How long a run is followed before it is left to GitHub, e.g. `30m`.
    #[serde(default = "default_runbook_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    /// How often GitHub is read while a run goes on.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub poll_interval: Duration,
}

impl Default for RunbooksConfig {
    fn default() -> Self {
        Self {
            timeout: default_runbook_timeout(),
            poll_interval: default_poll_interval(),
        }
    }
}

fn default_runbook_timeout() -> Duration {
    Duration::from_secs(30 * 60)
}

fn default_rollback_timeout() -> Duration {
    Duration::from_secs(15 * 60)
}

/// `[desktop]`: how the desktop app behaves on this machine.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DesktopConfig {
    /// Closing the window keeps Opsdeck syncing and notifying from the tray (its *Quit* quits);
    /// `false`: closing the window quits.
    #[serde(default = "on_by_default")]
    pub keep_running_in_tray: bool,
    /// Sync every source on its schedule while the app runs; `false` leaves that to an
    /// `opsdeck agent` that shares the cache (what it lands still shows at once, and *Sync
    /// now* still syncs here). By default on for a cache of this machine's, off for a shared
    /// one (`[cache] url`), which the organisation's agent keeps.
    pub sync: Option<bool>,
}

impl Default for DesktopConfig {
    fn default() -> Self {
        Self {
            keep_running_in_tray: on_by_default(),
            sync: None,
        }
    }
}

fn on_by_default() -> bool {
    true
}

/// `[incidents]`: the incident view's window for suspect changes, and how its actions
/// (PagerDuty updates, silences, Argo CD syncs) are followed.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentsConfig {
    /// How far before an incident started changes are suspects, e.g. `6h`.
    #[serde(default = "default_suspect_window", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub suspect_window: Duration,
    /// How long an action is followed until the platform shows it done, e.g. `2m`.
    #[serde(default = "default_incident_action_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    /// How often the platform is read while an action is followed.
    #[serde(default = "default_incident_poll_interval", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub poll_interval: Duration,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        Self {
            suspect_window: default_suspect_window(),
            timeout: default_incident_action_timeout(),
            poll_interval: default_incident_poll_interval(),
        }
    }
}

fn default_suspect_window() -> Duration {
    Duration::from_secs(6 * 3600)
}

fn default_incident_action_timeout() -> Duration {
    Duration::from_secs(2 * 60)
}

fn default_incident_poll_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(3)
}

fn default_true() -> bool {
    true
}

/// `[cache]` and `[audit]`: where the cache and the audit log are kept. Without a `url`,
/// in files of this machine's.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// A PostgreSQL database the organisation shares, e.g.
    /// `postgres://opsdeck@db.example.com/opsdeck?sslmode=verify-full`, without a password.
    /// For the cache, also `sqlite:///path/to/cache.sqlite`: a file of this machine's other
    /// than the default (`--db` still wins).
    pub url: Option<String>,
    /// Environment variable holding the database password. Without it (or unset), the
    /// keychain (`opsdeck login cache` or `opsdeck login audit-log`), then PGPASSWORD and
    /// ~/.pgpass.
    pub password_env: Option<String>,
}

/// PostgreSQL's port where a URL names none.
const POSTGRES_PORT: u16 = 5432;

/// The name the shared audit log's password goes by in the keychain and in messages.
pub const AUDIT_LOG_SECRET: &str = "audit-log";
/// The name the shared cache's password goes by in the keychain and in messages.
pub const CACHE_SECRET: &str = "cache";

impl StorageConfig {
    /// The PostgreSQL database `url` names, if it names one.
    pub fn shared_url(&self) -> Option<&str> {
        let url = self.url.as_deref()?;
        let scheme = url::Url::parse(url).ok()?.scheme().to_string();
        matches!(scheme.as_str(), "postgres" | "postgresql").then_some(url)
    }

    /// The file a `sqlite://` url names.
    pub fn file(&self) -> Option<PathBuf> {
        let url = url::Url::parse(self.url.as_deref()?).ok()?;
        (url.scheme() == "sqlite")
            .then(|| url.to_file_path().ok())
            .flatten()
    }

    /// The keychain account of the shared database's password, `NAME@HOST:PORT` (`name`:
    /// [`CACHE_SECRET`] or [`AUDIT_LOG_SECRET`]): `None` when nothing is shared.
    pub fn keychain_account(&self, name: &str) -> Option<String> {
        let url = url::Url::parse(self.shared_url()?).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        Some(format!(
            "{name}@{host}:{}",
            url.port().unwrap_or(POSTGRES_PORT)
        ))
    }

    /// What is wrong with `url`, if anything: it must name a PostgreSQL server (or, where
    /// `file_allowed`, a SQLite file), and carry no password (config files are read by
    /// editors, backups and screens). `name` is the password's, for messages.
    fn check(&self, name: &str, file_allowed: bool) -> Result<(), String> {
        let Some(url) = &self.url else {
            return Ok(());
        };
        let parsed = url::Url::parse(url).map_err(|e| format!("'url' is not a URL ({e})"))?;
        if file_allowed && parsed.scheme() == "sqlite" {
            return match parsed.to_file_path() {
                Ok(_) if parsed.query().is_none() => Ok(()),
                _ => Err("'url' must name the file by its absolute path, sqlite:///path/to/cache.sqlite, without parameters".into()),
            };
        }
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            let or_file = if file_allowed {
                " or sqlite:///PATH"
            } else {
                ""
            };
            return Err(format!(
                "'url' must be a postgres://{or_file} URL (it is {}://); a file of this machine's needs no url",
                parsed.scheme()
            ));
        }
        // PostgreSQL's URLs may also carry the password, or another server, as parameters.
        let parameter = |names: &[&str]| {
            parsed
                .query_pairs()
                .find(|(key, _)| names.contains(&key.as_ref()))
                .map(|(key, _)| key.into_owned())
        };
        if let Some(key) = parameter(&["host", "hostaddr", "port"]) {
            return Err(format!(
                "'url' names its server in a '{key}' parameter: name it as the URL's host and port, the one its password is kept for"
            ));
        }
        if parsed.password().is_some() || parameter(&["password"]).is_some() {
            return Err(format!(
                "'url' carries a password: take it out, and set {} or run `opsdeck login {name}`",
                self.password_env.as_deref().unwrap_or("password_env")
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err("'url' names no host".into());
        }
        Ok(())
    }
}

/// `[identity]`: who the user is, to find "my teams".
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The user's email, matched against catalog users' `spec.profile.email`.
    pub email: Option<String>,
}

/// One `[[sources]]` entry.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name, used in the CLI, the status bar and the keychain.
    pub name: String,
    /// Which platform.
    pub kind: SourceKind,
    /// Base URL for API sources.
    pub url: Option<String>,
    /// Environment variable holding the token.
    pub token_env: Option<String>,
    /// Sync interval, e.g. `60s`, `5m`.
    #[serde(default = "default_interval", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub interval: Duration,
    /// The longest one request to the platform may take, e.g. `30s`.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    /// Directory for `catalog-files`, relative to the config file.
    pub path: Option<PathBuf>,
    /// For `catalog-files`: whether a symbolic link to a file inside the tree is read (default
    /// true); links out of the tree are never followed.
    pub follow_links: Option<bool>,
    /// For `pagerduty`: where change events go (default `https://events.pagerduty.com`).
    pub events_url: Option<String>,
    /// PEM certificates to trust besides the public roots Opsdeck carries, for an internal CA;
    /// relative to the config file.
    pub ca_file: Option<PathBuf>,
    /// Allows actions through a source reached over plain `http://` on another machine: its
    /// token and every action would cross the network readable by anyone on the way.
    #[serde(default)]
    pub allow_insecure: bool,
}

impl SourceConfig {
    /// The host this source's token crosses the network to in clear text: a plain `http://`
    /// address that is not this machine. `None` for `https://`, loopback and local files.
    pub fn plain_http_host(&self) -> Option<String> {
        let url = reqwest::Url::parse(self.url.as_deref()?).ok()?;
        if url.scheme() != "http" {
            return None;
        }
        let loopback = match url.host()? {
            url::Host::Domain(name) => name == "localhost" || name.ends_with(".localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        (!loopback).then(|| url.host_str().unwrap_or_default().to_string())
    }

    /// What to say about a source whose token would cross the network in clear text.
    pub fn insecure_warning(&self) -> Option<String> {
        let host = self.plain_http_host()?;
        Some(format!(
            "{} sends its token to {host} over plain http://: anyone on the network path can read it; use https://{}",
            self.name,
            if self.allow_insecure {
                " (actions are allowed by 'allow_insecure')"
            } else {
                ", or set 'allow_insecure = true' to act through it anyway"
            }
        ))
    }

    /// Why no action may go through this source, if it may not: a token in clear text.
    pub fn refuses_actions(&self) -> Option<String> {
        let host = self.plain_http_host().filter(|_| !self.allow_insecure)?;
        Some(format!(
            "{} is reached over plain http:// ({host}): actions would send its token and the change unencrypted; use https://, or set 'allow_insecure = true' on the source",
            self.name
        ))
    }

    /// Sources sharing this key share a bound on concurrent syncs: the platform's host (with
    /// its port), or the local disk.
    pub fn host_key(&self) -> String {
        self.url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .and_then(|u| {
                let host = u.host_str()?.to_string();
                Some(u.port().map_or(host.clone(), |p| format!("{host}:{p}")))
            })
            .unwrap_or_else(|| "local files".to_string())
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(300)
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Bounds of a duration setting, inclusive.
type Bounds = (Duration, Duration);

const fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A sync more often than every second hammers a platform; one less often than weekly leaves
/// every screen stale (and, at years, overflows the arithmetic of due times).
const SOURCE_INTERVAL: Bounds = (seconds(1), seconds(7 * 24 * 3600));
/// One request: a second at least for any network, ten minutes at most for any page.
const REQUEST_TIMEOUT: Bounds = (seconds(1), seconds(600));
/// How often an action's platform is read while it runs: under 100 ms is busy-polling.
const POLL_INTERVAL: Bounds = (Duration::from_millis(100), seconds(300));
/// How long an action is followed.
const ACTION_TIMEOUT: Bounds = (seconds(1), seconds(24 * 3600));
/// How far before an incident changes are suspects: a week covers any slow burn.
const SUSPECT_WINDOW: Bounds = (seconds(60), seconds(7 * 24 * 3600));
/// How long a version bakes before promotion.
const BAKE_TIME: Bounds = (seconds(0), seconds(90 * 24 * 3600));

fn within(field: &str, value: Duration, (min, max): Bounds) -> Result<(), String> {
    if value < min || value > max {
        let show = |d: Duration| humantime::format_duration(d).to_string();
        return Err(format!(
            "'{field}' must be between {} and {} (it is {})",
            show(min),
            show(max),
            show(value)
        ));
    }
    Ok(())
}

/// The parser's explanation and where, without the text around it: a misquoted line may hold
/// a token pasted into the wrong place, and errors go to screens and logs.
fn parse_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = line_of(text, span.start);
            let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// `[scorecards]`: levels, thresholds, and changes to the default checks.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ScorecardsConfig {
    /// Level names, lowest first.
    levels: Option<Vec<String>>,
    /// `deployed` passes with a production deploy this recent, e.g. `30d`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    deployed_within: Option<Duration>,
    /// `incidents` fails with an incident open longer than this, e.g. `7d`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    incident_open_longer_than: Option<Duration>,
    /// Escalation levels a tier 1 service needs.
    tier1_escalation_levels: Option<i64>,
    /// People a first-level rotation needs.
    rotation_people: Option<i64>,
    /// Built-in checks left out.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    drop: Vec<CheckId>,
    /// Built-in checks moved to another level.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, CheckOverride>")]
    checks: std::collections::BTreeMap<CheckId, CheckOverride>,
    /// Checks of our own.
    #[serde(default)]
    custom: Vec<CustomCheck>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CheckOverride {
    #[schemars(with = "String")]
    level: toml::Spanned<String>,
}

/// `[[scorecards.custom]]`: a check that an annotation, label, tag or link type is present.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CustomCheck {
    #[schemars(with = "String")]
    id: toml::Spanned<String>,
    name: Option<String>,
    #[schemars(with = "String")]
    level: toml::Spanned<String>,
    annotation: Option<String>,
    label: Option<String>,
    tag: Option<String>,
    link_type: Option<String>,
    #[serde(default)]
    why: String,
    #[serde(default)]
    fix: String,
    #[serde(default)]
    docs: String,
}

/// Thresholds a scorecard compares against: beyond them a check means nothing.
const SCORECARD_WINDOW: Bounds = (seconds(3600), seconds(366 * 24 * 3600));
const SCORECARD_COUNT: (i64, i64) = (1, 20);

impl ScorecardsConfig {
    /// The scorecard this section describes, or what is wrong and on which line of `text`.
    fn resolve(&self, text: &str) -> Result<Scorecard, String> {
        let at = |span: std::ops::Range<usize>, message: String| {
            format!("line {}: [scorecards] {message}", line_of(text, span.start))
        };
        let mut card = Scorecard::default();
        if let Some(levels) = &self.levels {
            let mut seen = std::collections::HashSet::new();
            if levels.is_empty()
                || levels
                    .iter()
                    .any(|l| l.trim().is_empty() || !seen.insert(l))
            {
                return Err("[scorecards] 'levels' must name one level or more, each once".into());
            }
            // With fewer levels than the default three, the higher defaults share the top one.
            for check in &mut card.checks {
                check.level = check.level.min(levels.len() - 1);
            }
            card.levels = levels.clone();
        }
        let level = |name: &toml::Spanned<String>| {
            card.levels
                .iter()
                .position(|l| l == name.get_ref())
                .ok_or_else(|| {
                    at(
                        name.span(),
                        format!(
                            "unknown level '{}': use one of {}",
                            name.get_ref(),
                            card.levels.join(", ")
                        ),
                    )
                })
        };
        for (id, change) in &self.checks {
            let moved = level(&change.level)?;
            if let Some(check) = card
                .checks
                .iter_mut()
                .find(|c| c.rule == Rule::Builtin(*id))
            {
                check.level = moved;
            }
        }
        card.checks
            .retain(|c| !self.drop.iter().any(|d| c.rule == Rule::Builtin(*d)));
        for custom in &self.custom {
            let id = custom.id.get_ref();
            if id.trim().is_empty() || card.check(id).is_some() || id.parse::<CheckId>().is_ok() {
                return Err(at(
                    custom.id.span(),
                    format!("custom check '{id}' needs an id of its own"),
                ));
            }
            let rules: Vec<Rule> = [
                custom.annotation.clone().map(Rule::Annotation),
                custom.label.clone().map(Rule::Label),
                custom.tag.clone().map(Rule::Tag),
                custom.link_type.clone().map(Rule::LinkType),
            ]
            .into_iter()
            .flatten()
            .collect();
            let [rule] = <[Rule; 1]>::try_from(rules).map_err(|_| {
                at(
                    custom.id.span(),
                    format!("custom check '{id}' needs exactly one of annotation, label, tag or link_type"),
                )
            })?;
            card.checks.push(Check {
                id: id.clone(),
                name: custom.name.clone().unwrap_or_else(|| id.clone()),
                level: level(&custom.level)?,
                why: custom.why.clone(),
                fix: custom.fix.clone(),
                docs: custom.docs.clone(),
                rule,
            });
        }
        let t = &mut card.thresholds;
        for (field, value, target) in [
            (
                "deployed_within",
                self.deployed_within,
                &mut t.deployed_within,
            ),
            (
                "incident_open_longer_than",
                self.incident_open_longer_than,
                &mut t.incident_open_longer_than,
            ),
        ] {
            if let Some(value) = value {
                within(field, value, SCORECARD_WINDOW).map_err(|m| format!("[scorecards] {m}"))?;
                *target = chrono::Duration::from_std(value).expect("bounded above");
            }
        }
        for (field, value, target) in [
            (
                "tier1_escalation_levels",
                self.tier1_escalation_levels,
                &mut t.tier1_escalation_levels,
            ),
            (
                "rotation_people",
                self.rotation_people,
                &mut t.rotation_people,
            ),
        ] {
            if let Some(value) = value {
                let (min, max) = SCORECARD_COUNT;
                if !(min..=max).contains(&value) {
                    return Err(format!(
                        "[scorecards] '{field}' must be between {min} and {max} (it is {value})"
                    ));
                }
                *target = value;
            }
        }
        Ok(card)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who "me" is.
    #[serde(default)]
    pub identity: Identity,
    /// Sources, in precedence order: when two report the same entity, the first one's wins.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// How environments are ordered and how long versions bake.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// How rollbacks are tracked and told.
    #[serde(default)]
    pub rollback: RollbackConfig,
    /// How automated runbooks are followed.
    #[serde(default)]
    pub runbooks: RunbooksConfig,
    /// The incident view's suspect window and how its actions are followed.
    #[serde(default)]
    pub incidents: IncidentsConfig,
    /// How the desktop app behaves on this machine.
    #[serde(default)]
    pub desktop: DesktopConfig,
    /// Where the cache is kept: a file of this machine's, or a PostgreSQL database the
    /// organisation shares (its agents sync it; desktops and CLIs read it).
    #[serde(default)]
    pub cache: StorageConfig,
    /// Where the audit log is kept: beside the cache (in a shared cache's database, shared
    /// with it), or in a PostgreSQL database of its own.
    #[serde(default)]
    pub audit: StorageConfig,
    /// `[scorecards]` as written; [`Config::scorecard`] is what it resolves to.
    #[serde(default)]
    scorecards: ScorecardsConfig,
    /// The production-readiness levels and checks: the defaults as `[scorecards]` changes them.
    #[serde(skip)]
    pub scorecard: Scorecard,
}

impl Config {
    /// Reads and validates a config file; relative `path`s are resolved against its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `path` is where it came from, for messages and for
    /// resolving relative directories.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: parse_error(text, &e),
        })?;
        for (section, field, value, bounds) in [
            (
                "delivery",
                "bake_time",
                config.delivery.bake_time,
                BAKE_TIME,
            ),
            (
                "rollback",
                "timeout",
                config.rollback.timeout,
                ACTION_TIMEOUT,
            ),
            (
                "rollback",
                "poll_interval",
                config.rollback.poll_interval,
                POLL_INTERVAL,
            ),
            (
                "runbooks",
                "timeout",
                config.runbooks.timeout,
                ACTION_TIMEOUT,
            ),
            (
                "runbooks",
                "poll_interval",
                config.runbooks.poll_interval,
                POLL_INTERVAL,
            ),
            (
                "incidents",
                "suspect_window",
                config.incidents.suspect_window,
                SUSPECT_WINDOW,
            ),
            (
                "incidents",
                "timeout",
                config.incidents.timeout,
                ACTION_TIMEOUT,
            ),
            (
                "incidents",
                "poll_interval",
                config.incidents.poll_interval,
                POLL_INTERVAL,
            ),
        ] {
            within(field, value, bounds).map_err(|message| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!("[{section}] {message}"),
            })?;
        }
        config.scorecard =
            config
                .scorecards
                .resolve(text)
                .map_err(|message| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message,
                })?;
        for (section, storage, name, file_allowed) in [
            ("cache", &config.cache, CACHE_SECRET, true),
            ("audit", &config.audit, AUDIT_LOG_SECRET, false),
        ] {
            storage
                .check(name, file_allowed)
                .map_err(|message| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("[{section}] {message}"),
                })?;
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut seen = std::collections::HashSet::new();
        for source in &mut config.sources {
            let problem = |message: &str| ConfigError::Source {
                path: path.to_path_buf(),
                source_name: source.name.clone(),
                message: message.to_string(),
            };
            if source.name.trim().is_empty() {
                return Err(problem("the name is empty"));
            }
            if !seen.insert(source.name.clone()) {
                return Err(problem("another source has the same name"));
            }
            for (field, value, bounds) in [
                ("interval", source.interval, SOURCE_INTERVAL),
                ("timeout", source.timeout, REQUEST_TIMEOUT),
            ] {
                if let Err(message) = within(field, value, bounds) {
                    return Err(problem(&message));
                }
            }
            if let Some(ca_file) = &source.ca_file {
                if ca_file.is_relative() {
                    source.ca_file = Some(base.join(ca_file));
                }
            }
            if source.events_url.is_some() && source.kind != SourceKind::Pagerduty {
                return Err(problem("'events_url' is for kind pagerduty only"));
            }
            if source.follow_links.is_some() && source.kind != SourceKind::CatalogFiles {
                return Err(problem("'follow_links' is for kind catalog-files only"));
            }
            match source.kind {
                SourceKind::CatalogFiles => match &source.path {
                    None => return Err(problem("kind catalog-files needs 'path' (a directory)")),
                    Some(p) if p.is_relative() => source.path = Some(base.join(p)),
                    Some(_) => {}
                },
                // PagerDuty and GitHub.com have one API address for every account.
                SourceKind::Pagerduty => {
                    source.url.get_or_insert_with(|| PAGERDUTY_API.to_string());
                    source
                        .events_url
                        .get_or_insert_with(|| PAGERDUTY_EVENTS_API.to_string());
                }
                SourceKind::Github if source.url.is_none() => {
                    source.url = Some(GITHUB_API.to_string());
                }
                _ if source.url.is_none() => {
                    return Err(problem(&format!(
                        "kind {} needs 'url'",
                        source.kind.as_str()
                    )))
                }
                _ => {}
            }
            // A PagerDuty or GitHub URL given, not defaulted, is checked like any other.
            if let Some(url) = source.url.as_deref() {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(problem("'url' must start with http:// or https://"));
                }
            }
        }
        Ok(config)
    }

    /// The JSON Schema of `opsdeck.toml`, from these types: editors complete and check the
    /// file with it (`#:schema ./opsdeck.schema.json` on its first line, for Taplo).
    pub fn json_schema() -> serde_json::Value {
        let mut schema =
            serde_json::to_value(schemars::schema_for!(Config)).expect("a schema is JSON");
        schema["title"] = serde_json::json!("opsdeck.toml");
        schema
    }

    /// The platform's default config file (`~/.config/opsdeck/opsdeck.toml` on Linux).
    pub fn default_path() -> Option<PathBuf> {
        crate::paths::project_dirs().map(|d| d.config_dir().join("opsdeck.toml"))
    }

    /// Whether the desktop app syncs on a schedule (`[desktop] sync`, by default unless the
    /// cache is shared).
    pub fn desktop_syncs(&self) -> bool {
        self.desktop
            .sync
            .unwrap_or(self.cache.shared_url().is_none())
    }

    /// A source by name.
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/opsdeck.schema.json` is what editors are pointed at: written from the types here,
    /// as the IPC bindings are, and never stale in CI.
    #[test]
    fn the_committed_json_schema_is_the_types_schema() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/opsdeck.schema.json");
        let schema = serde_json::to_string_pretty(&Config::json_schema()).unwrap() + "\n";
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != schema {
            assert!(
                std::env::var_os("CI").is_none(),
                "docs/opsdeck.schema.json is stale: run `cargo test --lib` and commit it"
            );
            std::fs::write(&path, schema).unwrap();
        }
    }

    #[test]
    fn delivery_names_the_promotion_order_and_the_bake_time() {
        let config = Config::parse(
            "[delivery]\nenvironments = ['eu', 'us']\nbake_time = '30m'\n[[sources]]\nname='gh'\nkind='github'\n",
            Path::new("o.toml"),
        )
        .unwrap();
        assert_eq!(config.delivery.bake_time, Duration::from_secs(1800));
        assert!(config.delivery.order().is_production("us"));
        assert_eq!(config.sources[0].url.as_deref(), Some(GITHUB_API));
        let defaults = Config::parse("", Path::new("o.toml")).unwrap();
        assert_eq!(defaults.delivery.bake_time, Duration::from_secs(3600));
        assert!(defaults.delivery.order().is_production("prod"));
        let typo = Config::parse("[delivery]\nbake = '1h'\n", Path::new("o.toml")).unwrap_err();
        assert!(typo.to_string().contains("unknown field `bake`"), "{typo}");
    }

    #[test]
    fn a_pagerduty_source_defaults_to_pagerdutys_api() {
        let config = Config::parse(
            "[[sources]]\nname='pd'\nkind='pagerduty'\ntoken_env='PD'\n",
            Path::new("o.toml"),
        )
        .unwrap();
        assert_eq!(config.sources[0].url.as_deref(), Some(PAGERDUTY_API));
        assert_eq!(
            config.sources[0].events_url.as_deref(),
            Some("https://events.pagerduty.com")
        );
        assert!(config.rollback.pagerduty_change_events);
        assert_eq!(config.rollback.timeout, Duration::from_secs(900));
        let misplaced = Config::parse(
            "[[sources]]\nname='gh'\nkind='github'\nevents_url='https://x'\n",
            Path::new("o.toml"),
        )
        .unwrap_err();
        assert!(
            misplaced.to_string().contains("pagerduty only"),
            "{misplaced}"
        );
        let err = Config::parse(
            "[[sources]]\nname='am'\nkind='alertmanager'\n",
            Path::new("o.toml"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config o.toml: source 'am': kind alertmanager needs 'url'"
        );
    }

    #[test]
    fn brief_example_parses_and_resolves_paths() {
        let text = r#"
[identity]
email = "dana@example.com"

[[sources]]
name = "catalog"
kind = "backstage"
url = "https://backstage.example.com"
token_env = "BACKSTAGE_TOKEN"
interval = "60s"

[[sources]]
name = "catalog-files"
kind = "catalog-files"
path = "./catalog"
"#;
        let c = Config::parse(text, Path::new("/etc/opsdeck/opsdeck.toml")).unwrap();
        assert_eq!(c.identity.email.as_deref(), Some("dana@example.com"));
        assert_eq!(c.sources[0].interval, Duration::from_secs(60));
        assert_eq!(c.sources[1].interval, Duration::from_secs(300));
        assert_eq!(c.sources[0].timeout, Duration::from_secs(30));
        assert_eq!(c.sources[0].host_key(), "backstage.example.com");
        assert_eq!(c.sources[1].host_key(), "local files");
        assert_eq!(
            c.sources[1].path.as_deref(),
            Some(Path::new("/etc/opsdeck/./catalog"))
        );
    }

    #[test]
    fn the_desktop_syncs_unless_told_to_leave_it_to_an_agent() {
        let p = Path::new("o.toml");
        assert!(Config::parse("", p).unwrap().desktop_syncs());
        let config = Config::parse("[desktop]\nsync = false\n", p).unwrap();
        assert!(!config.desktop_syncs());
        assert!(config.desktop.keep_running_in_tray);
        // A shared cache is the agent's to keep, unless the desktop is told to sync too.
        let shared = "[cache]\nurl = 'postgres://opsdeck@db.example.com/opsdeck'\n";
        assert!(!Config::parse(shared, p).unwrap().desktop_syncs());
        let told = format!("{shared}[desktop]\nsync = true\n");
        assert!(Config::parse(&told, p).unwrap().desktop_syncs());
        // However the scheme is spelt: never a file when the config names a database.
        let upper = "[cache]\nurl = 'PostgreSQL://opsdeck@db.example.com/opsdeck'\n";
        assert!(Config::parse(upper, p)
            .unwrap()
            .cache
            .shared_url()
            .is_some());
        let file = Config::parse("[cache]\nurl = 'sqlite:///var/tmp/c.sqlite'\n", p).unwrap();
        assert_eq!(file.cache.file(), Some(PathBuf::from("/var/tmp/c.sqlite")));
        assert!(file.desktop_syncs());
    }

    #[test]
    fn a_shared_audit_log_is_a_postgres_url_without_a_password() {
        let p = Path::new("o.toml");
        let config = Config::parse(
            "[audit]\nurl = 'postgres://opsdeck@db.example.com/opsdeck?sslmode=verify-full'\npassword_env = 'OPSDECK_DB_PASSWORD'\n",
            p,
        )
        .unwrap();
        assert_eq!(
            config.audit.password_env.as_deref(),
            Some("OPSDECK_DB_PASSWORD")
        );
        assert_eq!(
            config.audit.keychain_account(AUDIT_LOG_SECRET).as_deref(),
            Some("audit-log@db.example.com:5432")
        );
        for (text, said) in [
            (
                "[audit]\nurl = 'postgres://opsdeck:hunter2@db/opsdeck'\n",
                "carries a password: take it out, and set password_env or run `opsdeck login audit-log`",
            ),
            (
                "[audit]\nurl = 'postgres://opsdeck@db/opsdeck?sslmode=require&password=hunter2'\n",
                "carries a password",
            ),
            (
                "[audit]\nurl = 'postgres://opsdeck@db/opsdeck?host=elsewhere.example.com'\n",
                "names its server in a 'host' parameter",
            ),
            ("[audit]\nurl = 'sqlite:///tmp/x'\n", "must be a postgres:// URL"),
            (
                "[cache]\nurl = 'postgres://opsdeck:hunter2@db/opsdeck'\n",
                "[cache] 'url' carries a password: take it out, and set password_env or run `opsdeck login cache`",
            ),
            ("[cache]\nurl = 'sqlite://cache.sqlite'\n", "by its absolute path"),
            ("[cache]\nurl = 'mysql://db/x'\n", "must be a postgres:// or sqlite:///PATH URL"),
            ("[audit]\nurl = 'postgres:///opsdeck'\n", "names no host"),
            ("[audit]\nurl = 'db.example.com'\n", "is not a URL"),
        ] {
            let err = Config::parse(text, p).unwrap_err().to_string();
            assert!(err.contains(said), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn mistakes_name_the_file_the_source_and_the_fix() {
        let p = Path::new("o.toml");
        let err = Config::parse("[[sources]]\nname='a'\nkind='backstage'\n", p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config o.toml: source 'a': kind backstage needs 'url'"
        );
        let err = Config::parse("[[sources]]\nname='a'\nkind='catalog-files'\npath='x'\n[[sources]]\nname='a'\nkind='catalog-files'\npath='y'\n", p).unwrap_err();
        assert!(err.to_string().contains("same name"));
        let err = Config::parse("[[sources]]\nname='a'\nkind='gitlab'\n", p).unwrap_err();
        assert!(
            err.to_string().starts_with("config o.toml is invalid:"),
            "{err}"
        );
        let err = Config::parse(
            "[[sources]]\nname='a'\nkind='backstage'\nurl='x'\ntoken='secret'\n",
            p,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `token`"), "{err}");
        let err = Config::parse(
            "[[sources]]\nname='a'\nkind='backstage'\nurl='ftp://x'\n",
            p,
        )
        .unwrap_err();
        assert!(err.to_string().contains("http://"), "{err}");
        let err = Config::parse(
            "[[sources]]\nname='a'\nkind='backstage'\nurl='http://x'\ninterval='0s'\n",
            p,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config o.toml: source 'a': 'interval' must be between 1s and 7days (it is 0s)"
        );
        let err = Config::parse(
            "[[sources]]\nname='a'\nkind='backstage'\nurl='http://x'\ninterval='1000years'\n",
            p,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("'interval' must be between"),
            "{err}"
        );
        let err = Config::parse("[rollback]\npoll_interval='0s'\n", p).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config o.toml is invalid: [rollback] 'poll_interval' must be between 100ms and 5m (it is 0s)"
        );
    }

    #[test]
    fn scorecards_add_drop_and_re_level_checks() {
        let config = Config::parse(
            r#"
[scorecards]
levels = ["bronze", "silver", "gold", "platinum"]
deployed_within = "14d"
rotation_people = 3
drop = ["description-links"]
checks.runbook = { level = "bronze" }

[[scorecards.custom]]
id = "slo"
name = "SLO documented"
level = "platinum"
annotation = "opsdeck.io/slo"
"#,
            Path::new("o.toml"),
        )
        .unwrap();
        let card = &config.scorecard;
        assert_eq!(card.levels.len(), 4);
        assert!(card.check("description-links").is_none());
        assert_eq!(card.check("runbook").unwrap().level, 0);
        assert_eq!(card.check("deployed").unwrap().level, 2);
        let slo = card.check("slo").unwrap();
        assert_eq!((slo.level, slo.name.as_str()), (3, "SLO documented"));
        assert_eq!(card.thresholds.deployed_within, chrono::Duration::days(14));
        assert_eq!(card.thresholds.rotation_people, 3);
        assert_eq!(Config::default().scorecard, Scorecard::default());
    }

    #[test]
    fn scorecard_mistakes_name_the_line() {
        let err = |text: &str| {
            Config::parse(text, Path::new("o.toml"))
                .unwrap_err()
                .to_string()
        };
        let unknown_level = err("[scorecards]\n\n[scorecards.checks.runbook]\nlevel = 'diamond'\n");
        assert!(
            unknown_level.contains(
                "line 4: [scorecards] unknown level 'diamond': use one of bronze, silver, gold"
            ),
            "{unknown_level}"
        );
        let unknown_check = err("[scorecards]\ndrop = ['owner', 'slo']\n");
        assert!(unknown_check.contains("line 2"), "{unknown_check}");
        assert!(unknown_check.contains("owner-members"), "{unknown_check}");
        let two_rules =
            err("[[scorecards.custom]]\nid = 'x'\nlevel = 'gold'\ntag = 'a'\nlabel = 'b'\n");
        assert!(
            two_rules.contains("line 2: [scorecards] custom check 'x' needs exactly one of"),
            "{two_rules}"
        );
        let same_id = err("[[scorecards.custom]]\nid = 'runbook'\nlevel = 'gold'\ntag = 'a'\n");
        assert!(
            same_id.contains("custom check 'runbook' needs an id of its own"),
            "{same_id}"
        );
        let window = err("[scorecards]\ndeployed_within = '5y'\n");
        assert!(
            window.contains("'deployed_within' must be between 1h and"),
            "{window}"
        );
        let count = err("[scorecards]\nrotation_people = 0\n");
        assert!(
            count.contains("'rotation_people' must be between 1 and 20"),
            "{count}"
        );
        assert!(err("[scorecards]\nlevels = []\n").contains("'levels' must name one level or more"));
    }

    #[test]
    fn a_parse_error_says_where_without_echoing_the_line() {
        let p = Path::new("o.toml");
        let err = Config::parse(
            "[[sources]]\nname='gh'\nkind='github'\ntoken_env = ghp_0123456789abcdefSECRET\n",
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("SECRET") && !err.contains("ghp_"), "{err}");
        assert!(err.contains("line 4, column 13"), "{err}");
    }

    #[test]
    fn plain_http_to_another_machine_is_named_and_refuses_actions() {
        let source = |url: &str, allow: bool| {
            let text = format!(
                "[[sources]]\nname='argo'\nkind='argocd'\nurl='{url}'\nallow_insecure={allow}\n"
            );
            Config::parse(&text, Path::new("o.toml")).unwrap().sources[0].clone()
        };
        for local in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:9",
            "https://argo.example",
        ] {
            assert_eq!(source(local, false).insecure_warning(), None, "{local}");
            assert_eq!(source(local, false).refuses_actions(), None, "{local}");
        }
        let remote = source("http://argo.internal:8080", false);
        assert!(remote
            .insecure_warning()
            .unwrap()
            .contains("argo.internal over plain http://"));
        assert!(remote
            .refuses_actions()
            .unwrap()
            .contains("allow_insecure = true"));
        let allowed = source("http://argo.internal:8080", true);
        assert!(allowed.insecure_warning().is_some());
        assert_eq!(allowed.refuses_actions(), None);
    }
}
