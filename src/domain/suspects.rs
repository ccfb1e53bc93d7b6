//! Which changes may have caused an incident: every deploy, rollback, deploy run and PagerDuty
//! change event to the incident's service and to what it depends on, in a window before the
//! incident started and after, ranked by one rule that the screens state in words.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::delivery::DeployStatus;

/// The rule [`rank`] follows, as screens and the CLI state it.
pub const RANKING_RULE: &str = "Ranked: changes to this service in production first, then \
production changes to what it depends on, then the rest; within each, the closest before the \
start first. Changes after the start come last.";

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum ChangeKind {
    /// A deployment (GitHub deployment, Argo CD sync).
    Deploy,
    /// A deployment that rolled back to an earlier version.
    Rollback,
    /// A CI run of a deploy workflow.
    DeployRun,
    /// A change event PagerDuty received for the service.
    ChangeEvent,
}

/// How the changed service stands to the incident's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum Closeness {
    /// The incident's own service.
    SameService,
    /// A service it depends on directly.
    DirectDependency,
}

/// A change, as the cache knows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Change {
    /// Unique among the incident's changes (`deploy:<source id>`, `event:<id>`).
    pub id: String,
    pub kind: ChangeKind,
    /// The changed service's cache key.
    pub service_key: String,
    /// Its name.
    pub service: String,
    pub closeness: Closeness,
    /// The environment, when the change names one (a change event may not).
    pub environment: Option<String>,
    /// Whether the environment is production. A change event without one counts as production:
    /// PagerDuty services page for production.
    pub production: bool,
    /// The version deployed, or a change event's summary.
    pub version: String,
    /// The version it replaced, when known.
    pub previous_version: Option<String>,
    /// The commit it deployed, when known.
    pub commit: Option<String>,
    /// The commit it replaced, when known.
    pub previous_commit: Option<String>,
    /// Who made it.
    pub actor: Option<String>,
    /// When it started.
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// Where it stands (deploys and runs).
    pub status: Option<DeployStatus>,
    /// The platform's page for it.
    pub link: Option<String>,
}

/// Where a change ranks, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum SuspectTier {
    /// The incident's service, in production (or a change event on it).
    ServiceInProduction,
    /// A direct dependency, in production.
    DependencyInProduction,
    /// Any other change before the start (another environment).
    Other,
    /// After the incident started: context (a fix, a rollback), not a cause.
    AfterStart,
}

impl SuspectTier {
    /// Why a change ranks where it does, in words.
    pub fn reason(self) -> &'static str {
        match self {
            Self::ServiceInProduction => "this service, in production",
            Self::DependencyInProduction => "a dependency, in production",
            Self::Other => "another environment",
            Self::AfterStart => "after the incident started",
        }
    }
}

/// A change with its rank.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Suspect {
    pub change: Change,
    pub tier: SuspectTier,
    /// Seconds from the change to the incident's start: positive before it, negative after.
    pub seconds_before: i64,
}

/// The window changes are looked for in: `window` before `started` up to `now` (never before
/// `started` when the clock is behind), as far as dates go.
pub fn window(
    started: DateTime<Utc>,
    window: std::time::Duration,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let since = Duration::from_std(window)
        .ok()
        .and_then(|w| started.checked_sub_signed(w))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    (since, now.max(started))
}

/// Ranks `changes` against an incident that started at `started`: by [`SuspectTier`], then
/// closest before the start first (after the start: newest first). Changes outside
/// [`window`] are the caller's to leave out.
pub fn rank(changes: Vec<Change>, started: DateTime<Utc>) -> Vec<Suspect> {
    let mut suspects: Vec<Suspect> = changes
        .into_iter()
        .map(|change| {
            let seconds_before = (started - change.at).num_seconds();
            let tier = if change.at > started {
                SuspectTier::AfterStart
            } else if !change.production {
                SuspectTier::Other
            } else if change.closeness == Closeness::SameService {
                SuspectTier::ServiceInProduction
            } else {
                SuspectTier::DependencyInProduction
            };
            Suspect {
                change,
                tier,
                seconds_before,
            }
        })
        .collect();
    suspects.sort_by(|a, b| {
        a.tier
            .cmp(&b.tier)
            .then_with(|| {
                if a.tier == SuspectTier::AfterStart {
                    b.change.at.cmp(&a.change.at)
                } else {
                    a.seconds_before.cmp(&b.seconds_before)
                }
            })
            .then_with(|| a.change.id.cmp(&b.change.id))
    });
    suspects
}

/// How long before (or after) the start, for people: "8 min before", "2 h 5 min after".
pub fn before_start(seconds_before: i64) -> String {
    let minutes = seconds_before.unsigned_abs() / 60;
    let span = match minutes {
        0 => "under a minute".to_string(),
        m if m < 60 => format!("{m} min"),
        m if m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{} h {} min", m / 60, m % 60),
    };
    if seconds_before >= 0 {
        format!("{span} before")
    } else {
        format!("{span} after")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn change(id: &str, closeness: Closeness, production: bool, when: &str) -> Change {
        Change {
            id: id.into(),
            kind: ChangeKind::Deploy,
            service_key: format!("component:default/{id}"),
            service: id.into(),
            closeness,
            environment: Some(if production { "prod" } else { "staging" }.into()),
            production,
            version: "v1".into(),
            previous_version: None,
            commit: None,
            previous_commit: None,
            actor: None,
            at: at(when),
            status: Some(DeployStatus::Success),
            link: None,
        }
    }

    #[test]
    fn own_production_first_then_dependencies_then_the_rest_then_after_the_start() {
        let started = at("2026-12-02T02:13:00Z");
        let ranked = rank(
            vec![
                change(
                    "staging-own",
                    Closeness::SameService,
                    false,
                    "2026-12-02T02:12:00Z",
                ),
                change(
                    "dep-prod",
                    Closeness::DirectDependency,
                    true,
                    "2026-12-02T02:10:00Z",
                ),
                change(
                    "own-prod-old",
                    Closeness::SameService,
                    true,
                    "2026-12-01T22:00:00Z",
                ),
                change(
                    "own-prod",
                    Closeness::SameService,
                    true,
                    "2026-12-02T02:05:00Z",
                ),
                change("fix", Closeness::SameService, true, "2026-12-02T02:19:00Z"),
                change(
                    "later-fix",
                    Closeness::SameService,
                    true,
                    "2026-12-02T02:30:00Z",
                ),
            ],
            started,
        );
        let order: Vec<&str> = ranked.iter().map(|s| s.change.id.as_str()).collect();
        assert_eq!(
            order,
            [
                "own-prod",
                "own-prod-old",
                "dep-prod",
                "staging-own",
                "later-fix",
                "fix"
            ]
        );
        assert_eq!(ranked[0].seconds_before, 8 * 60);
        assert_eq!(ranked[0].tier, SuspectTier::ServiceInProduction);
        assert_eq!(ranked[4].seconds_before, -17 * 60);
    }

    #[test]
    fn a_change_at_the_start_itself_is_a_suspect_not_an_aftermath() {
        let started = at("2026-12-02T02:13:00Z");
        let ranked = rank(
            vec![change(
                "same",
                Closeness::SameService,
                true,
                "2026-12-02T02:13:00Z",
            )],
            started,
        );
        assert_eq!(ranked[0].tier, SuspectTier::ServiceInProduction);
        assert_eq!(
            before_start(ranked[0].seconds_before),
            "under a minute before"
        );
    }

    #[test]
    fn windows_reach_back_and_up_to_now_across_midnight_and_offsets() {
        let started: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-12-02T01:30:00+01:00")
            .unwrap()
            .with_timezone(&Utc);
        let now = at("2026-12-02T00:40:00Z");
        let (since, until) = window(started, std::time::Duration::from_secs(6 * 3600), now);
        assert_eq!(since, at("2026-12-01T18:30:00Z"));
        assert_eq!(until, now);
        // A clock behind the incident still covers its start.
        let (_, until) = window(
            started,
            std::time::Duration::from_secs(60),
            at("2026-12-01T00:00:00Z"),
        );
        assert_eq!(until, started);
        let (since, _) = window(started, std::time::Duration::from_secs(u64::MAX), now);
        assert_eq!(since, DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(before_start(8 * 60 + 30), "8 min before");
        assert_eq!(before_start(2 * 3600), "2 h before");
        assert_eq!(before_start(-(125 * 60)), "2 h 5 min after");
    }
}
