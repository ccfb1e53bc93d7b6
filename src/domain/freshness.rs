//! How fresh a source's data is: the rule behind the status bar's badges, the Sources screen,
//! `opsdeck sources` and the "data is old" banners, so every face says the same; and the
//! request budget a platform reports.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use ts_rs::TS;

/// Data older than this many sync intervals is called stale.
pub const STALE_AFTER_INTERVALS: i32 = 3;

/// A source's badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum Health {
    /// The last sync landed and its data is younger than three intervals.
    Fresh,
    /// Nothing failed, but the data is older than three intervals.
    Stale,
    /// The platform asked us to wait; the next sync waits until it allows one.
    RateLimited,
    /// The last attempt failed; the cache holds what the last success brought.
    Failing,
    /// Never synced: nothing from this source in the cache.
    Never,
}

impl Health {
    /// The badge in words, as every face says it.
    pub fn words(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::RateLimited => "rate limited",
            Self::Failing => "failing",
            Self::Never => "never synced",
        }
    }
}

/// What a source's sync state says, at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncTimes {
    /// When a sync last started.
    pub last_attempt: Option<DateTime<Utc>>,
    /// When a sync last landed.
    pub last_success: Option<DateTime<Utc>>,
    /// Whether the last attempt ended in an error.
    pub last_attempt_failed: bool,
    /// Until when the platform asked us to wait.
    pub retry_after: Option<DateTime<Utc>>,
    /// The configured interval.
    pub interval: Duration,
}

impl SyncTimes {
    /// Whether the data held is older than [`STALE_AFTER_INTERVALS`] intervals (or there is
    /// none).
    pub fn data_is_stale(&self, now: DateTime<Utc>) -> bool {
        self.last_success
            .is_none_or(|at| now - at > self.interval * STALE_AFTER_INTERVALS)
    }

    /// The badge. A wait the platform asked for is shown over the failure it caused, since it
    /// says when things will move again.
    pub fn health(&self, now: DateTime<Utc>) -> Health {
        if self.retry_after.is_some_and(|until| until > now) {
            Health::RateLimited
        } else if self.last_attempt_failed {
            Health::Failing
        } else if self.last_success.is_none() {
            Health::Never
        } else if self.data_is_stale(now) {
            Health::Stale
        } else {
            Health::Fresh
        }
    }

    /// When the next scheduled sync is due: an interval after the last attempt, or when the
    /// platform allows, whichever is later; now if it never ran.
    pub fn next_sync(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let regular = self.last_attempt.map_or(now, |at| at + self.interval);
        match self.retry_after {
            Some(until) if until > regular => until,
            _ => regular,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(minutes)
    }

    fn times(success: Option<i64>, failed: bool, retry: Option<i64>) -> SyncTimes {
        SyncTimes {
            last_attempt: Some(at(100)),
            last_success: success.map(at),
            last_attempt_failed: failed,
            retry_after: retry.map(at),
            interval: Duration::minutes(5),
        }
    }

    #[test]
    fn fresh_until_three_intervals_then_stale() {
        let t = times(Some(100), false, None);
        assert_eq!(t.health(at(115)), Health::Fresh);
        assert!(!t.data_is_stale(at(115)));
        assert_eq!(t.health(at(116)), Health::Stale);
        assert!(t.data_is_stale(at(116)));
    }

    #[test]
    fn a_failure_shows_over_staleness_and_a_wait_over_both() {
        assert_eq!(times(Some(10), true, None).health(at(101)), Health::Failing);
        assert_eq!(times(None, true, None).health(at(101)), Health::Failing);
        assert_eq!(
            times(Some(10), true, Some(130)).health(at(101)),
            Health::RateLimited
        );
        // Once the wait is over the failure shows again.
        assert_eq!(
            times(Some(10), true, Some(130)).health(at(131)),
            Health::Failing
        );
        assert_eq!(times(None, false, None).health(at(101)), Health::Never);
    }

    #[test]
    fn next_sync_waits_for_the_platform() {
        assert_eq!(times(None, false, None).next_sync(at(101)), at(105));
        assert_eq!(times(None, true, Some(130)).next_sync(at(101)), at(130));
        assert_eq!(times(None, true, Some(102)).next_sync(at(101)), at(105));
        let never = SyncTimes {
            last_attempt: None,
            ..times(None, false, None)
        };
        assert_eq!(never.next_sync(at(101)), at(101));
    }
}

/// What a platform said about its rate limit on its last answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Quota {
    /// Requests allowed per window, when the platform says.
    pub limit: Option<i64>,
    /// Requests left in the current window.
    pub remaining: i64,
    /// When the window resets, when the platform says.
    #[ts(type = "string | null")]
    pub resets_at: Option<DateTime<Utc>>,
}

impl Quota {
    /// Until when no request may be made: the window's reset, when none is left in it.
    pub fn exhausted_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.resets_at
            .filter(|reset| self.remaining == 0 && *reset > now)
    }
}
