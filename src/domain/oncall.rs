//! Who is on call: PagerDuty's on-call shifts per escalation policy and level, read as "now"
//! and "next" at a given moment, and incidents with their state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A person PagerDuty can page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Person {
    /// PagerDuty user id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email, the join to catalog users.
    pub email: Option<String>,
    /// A phone number to call, as PagerDuty holds it (`+<country code> <number>`).
    pub phone: Option<String>,
    /// The PagerDuty profile page.
    pub profile_url: Option<String>,
}

/// A PagerDuty service; catalog components name it in `pagerduty.com/service-id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagerDutyService {
    /// PagerDuty id.
    pub id: String,
    /// Name in PagerDuty.
    pub name: String,
    /// Its page.
    pub html_url: Option<String>,
    /// The escalation policy that pages for it.
    pub policy_id: Option<String>,
}

/// An escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationPolicy {
    /// PagerDuty id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Its page.
    pub html_url: Option<String>,
}

/// One on-call shift of one person at one level of an escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// Escalation policy id.
    pub policy_id: String,
    /// Escalation policy name.
    pub policy_name: String,
    /// Escalation policy page.
    pub policy_url: Option<String>,
    /// Escalation level, from 1.
    pub level: i64,
    /// Who.
    pub person: Person,
    /// The schedule the shift comes from, when not a direct assignment.
    pub schedule_name: Option<String>,
    /// The schedule's page.
    pub schedule_url: Option<String>,
    /// Start; `None` means always on call.
    pub start: Option<DateTime<Utc>>,
    /// End; `None` means never goes off call.
    pub end: Option<DateTime<Utc>>,
}

impl Shift {
    /// Whether the shift covers `now`.
    pub fn covers(&self, now: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| s <= now) && self.end.is_none_or(|e| now < e)
    }
}

/// Someone on call now, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct OnCallNow {
    /// Who.
    pub person: Person,
    /// End of the shift; `None` when it does not end.
    #[ts(type = "string | null")]
    pub until: Option<DateTime<Utc>>,
    /// The schedule, when the shift comes from one.
    pub schedule_name: Option<String>,
    /// The schedule's page.
    pub schedule_url: Option<String>,
    /// Whether this is the user (by the identity's email).
    pub is_me: bool,
    /// The catalog user with the same email, if any (filled in from the cache).
    pub catalog_user: Option<String>,
}

/// The next shift to start at a level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct NextShift {
    /// Who takes over.
    pub person: Person,
    /// When.
    #[ts(type = "string")]
    pub starts: DateTime<Utc>,
    /// Whether this is the user (by the identity's email).
    pub is_me: bool,
}

/// One escalation level: who is on call now and who is next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct LevelOnCall {
    /// Escalation level, from 1.
    pub level: i64,
    /// On call now (several when a level targets several schedules or users).
    pub now: Vec<OnCallNow>,
    /// The earliest shift starting after now, if PagerDuty reported one.
    pub next: Option<NextShift>,
}

/// One escalation policy's levels at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct PolicyOnCall {
    /// Escalation policy id.
    pub policy_id: String,
    /// Its name.
    pub policy_name: String,
    /// Its page.
    pub policy_url: Option<String>,
    /// Levels, lowest first.
    pub levels: Vec<LevelOnCall>,
}

impl Person {
    /// Whether this person is the one with `email` (emails compare without case).
    pub fn has_email(&self, email: Option<&str>) -> bool {
        matches!((&self.email, email), (Some(mine), Some(theirs)) if mine.eq_ignore_ascii_case(theirs))
    }
}

/// Reads shifts as "now" and "next" at `now`, per policy (by name) and level (ascending);
/// `me` is the identity's email, to mark the user's own shifts.
pub fn on_call_at<'a>(
    shifts: impl IntoIterator<Item = &'a Shift>,
    now: DateTime<Utc>,
    me: Option<&str>,
) -> Vec<PolicyOnCall> {
    let mut policies: Vec<PolicyOnCall> = Vec::new();
    let mut sorted: Vec<&Shift> = shifts.into_iter().collect();
    sorted.sort_by(|a, b| {
        (
            &a.policy_name,
            &a.policy_id,
            a.level,
            a.start,
            &a.person.name,
        )
            .cmp(&(
                &b.policy_name,
                &b.policy_id,
                b.level,
                b.start,
                &b.person.name,
            ))
    });
    for shift in sorted {
        let policy = match policies.last_mut() {
            Some(p) if p.policy_id == shift.policy_id => p,
            _ => {
                policies.push(PolicyOnCall {
                    policy_id: shift.policy_id.clone(),
                    policy_name: shift.policy_name.clone(),
                    policy_url: shift.policy_url.clone(),
                    levels: Vec::new(),
                });
                policies.last_mut().expect("just pushed")
            }
        };
        let level = match policy.levels.last_mut() {
            Some(l) if l.level == shift.level => l,
            _ => {
                policy.levels.push(LevelOnCall {
                    level: shift.level,
                    now: Vec::new(),
                    next: None,
                });
                policy.levels.last_mut().expect("just pushed")
            }
        };
        if shift.covers(now) {
            if !level.now.iter().any(|n| n.person.id == shift.person.id) {
                level.now.push(OnCallNow {
                    person: shift.person.clone(),
                    until: shift.end,
                    schedule_name: shift.schedule_name.clone(),
                    schedule_url: shift.schedule_url.clone(),
                    is_me: shift.person.has_email(me),
                    catalog_user: None,
                });
            }
        } else if let Some(start) = shift.start.filter(|s| *s > now) {
            // Sorted by start, so the first one seen is the earliest.
            if level.next.is_none() {
                level.next = Some(NextShift {
                    person: shift.person.clone(),
                    starts: start,
                    is_me: shift.person.has_email(me),
                });
            }
        }
    }
    policies
}

impl PolicyOnCall {
    /// Whether the user is on call now at any level of this policy.
    pub fn has_me_on_call(&self) -> bool {
        self.levels.iter().any(|l| l.now.iter().any(|n| n.is_me))
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum IncidentStatus {
    /// Paging; nobody has taken it yet.
    Triggered,
    /// Someone is on it.
    Acknowledged,
    /// Over.
    Resolved,
}

impl IncidentStatus {
    /// The name PagerDuty uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triggered => "triggered",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    /// Triggered or acknowledged.
    pub fn is_open(self) -> bool {
        self != Self::Resolved
    }
}

impl std::str::FromStr for IncidentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "triggered" => Ok(Self::Triggered),
            "acknowledged" => Ok(Self::Acknowledged),
            "resolved" => Ok(Self::Resolved),
            other => Err(format!(
                "unknown incident status '{other}': use triggered, acknowledged or resolved"
            )),
        }
    }
}

/// A PagerDuty incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Incident {
    /// PagerDuty id.
    pub id: String,
    /// The account-wide number.
    pub number: i64,
    /// Title; untrusted text.
    pub title: String,
    /// Status.
    pub status: IncidentStatus,
    /// `high` or `low`.
    pub urgency: String,
    /// Priority label (`P1`…), when the account uses priorities.
    pub priority: Option<String>,
    /// The PagerDuty service it is on.
    pub service_id: String,
    /// When it was triggered.
    #[ts(type = "string")]
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    #[ts(type = "string | null")]
    pub last_status_change_at: Option<DateTime<Utc>>,
    /// Who it is assigned to now (names).
    pub assignees: Vec<String>,
    /// Who acknowledged it (names).
    pub acknowledged_by: Vec<String>,
    /// Its page in PagerDuty.
    pub html_url: Option<String>,
    /// The escalation policy paging for it; absent in records cached before it was read.
    #[serde(default)]
    pub policy_id: Option<String>,
}

/// A change PagerDuty received for services (a deploy, a config change, a rollback another
/// tool reported): `GET /change_events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChangeEvent {
    /// PagerDuty's id.
    pub id: String,
    /// What changed; untrusted text.
    pub summary: String,
    /// When the emitting tool saw the change.
    #[ts(type = "string")]
    pub at: DateTime<Utc>,
    /// The PagerDuty services it is about.
    pub service_ids: Vec<String>,
    /// Where it happened (`source`), as the tool named it; untrusted text.
    pub origin: Option<String>,
    /// The first link it carries.
    pub link: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + hours * 3600, 0).unwrap()
    }

    fn shift(policy: &str, level: i64, who: &str, start: Option<i64>, end: Option<i64>) -> Shift {
        Shift {
            policy_id: policy.into(),
            policy_name: format!("{policy} policy"),
            policy_url: None,
            level,
            person: Person {
                id: who.into(),
                name: who.into(),
                email: Some(format!("{who}@x.dev")),
                phone: None,
                profile_url: None,
            },
            schedule_name: None,
            schedule_url: None,
            start: start.map(at),
            end: end.map(at),
        }
    }

    #[test]
    fn now_and_next_per_level() {
        let shifts = vec![
            shift("P1", 2, "bob", Some(1), Some(2)),
            shift("P1", 1, "cid", Some(5), Some(10)),
            shift("P1", 1, "ann", Some(-3), Some(5)),
            shift("P1", 1, "dee", Some(10), Some(15)),
            shift("P1", 2, "eve", Some(-1), Some(1)),
            shift("P0", 1, "fay", None, None),
        ];
        let policies = on_call_at(&shifts, at(0), Some("ANN@x.dev"));
        assert_eq!(
            policies
                .iter()
                .map(|p| p.policy_id.as_str())
                .collect::<Vec<_>>(),
            ["P0", "P1"]
        );
        let p1 = &policies[1];
        assert_eq!(p1.levels.len(), 2);
        assert_eq!(p1.levels[0].now[0].person.id, "ann");
        assert!(p1.levels[0].now[0].is_me, "emails compare without case");
        assert!(!p1.levels[1].now[0].is_me);
        assert_eq!(p1.levels[0].now[0].until, Some(at(5)));
        let next = p1.levels[0].next.as_ref().unwrap();
        assert_eq!((next.person.id.as_str(), next.starts), ("cid", at(5)));
        assert_eq!(p1.levels[1].now[0].person.id, "eve");
        assert_eq!(p1.levels[1].next.as_ref().unwrap().person.id, "bob");
        // A permanent on-call has no end and no next.
        assert_eq!(policies[0].levels[0].now[0].until, None);
        assert!(policies[0].levels[0].next.is_none());
    }

    #[test]
    fn a_shift_ending_now_is_over() {
        let shifts = vec![
            shift("P", 1, "ann", Some(-2), Some(0)),
            shift("P", 1, "bob", Some(0), Some(2)),
        ];
        let level = &on_call_at(&shifts, at(0), None)[0].levels[0];
        assert_eq!(level.now.len(), 1);
        assert_eq!(level.now[0].person.id, "bob");
        assert!(level.next.is_none());
    }

    #[test]
    fn statuses_parse_and_know_whether_open() {
        assert_eq!("acknowledged".parse(), Ok(IncidentStatus::Acknowledged));
        assert!(IncidentStatus::Triggered.is_open());
        assert!(!IncidentStatus::Resolved.is_open());
        assert!("open"
            .parse::<IncidentStatus>()
            .unwrap_err()
            .contains("triggered"));
    }
}
