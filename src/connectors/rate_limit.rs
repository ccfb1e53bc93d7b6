//! What a platform's rate-limit headers say, read as hostile input: every number and date is
//! checked, a wait is never longer than [`MAX_PLATFORM_WAIT`], and a value that is probably
//! sent in the other form (an epoch where a delta belongs, or the reverse) is read as what it
//! probably is and logged.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderMap;

use crate::domain::Quota;

/// The longest wait a platform can impose on a source. The platforms we read reset their
/// windows within an hour (GitHub's is an hour, PagerDuty's a minute); anything longer is a
/// fault, and holding a source for it would freeze its data for no reason.
pub const MAX_PLATFORM_WAIT: Duration = Duration::from_secs(60 * 60);

/// Reset values at or above this many seconds are epoch times (2001-09-09 onwards), below it
/// seconds from now: no window lasts 31 years, and no epoch reset lies before 2001.
const EPOCH_FROM: i64 = 1_000_000_000;

/// The rate limit an answer reports: GitHub's `X-RateLimit-*` (reset as epoch seconds) or the
/// IETF draft's `RateLimit-*` that PagerDuty and others send (reset as seconds from now).
/// Counts that do not parse or are negative make no quota; a reset is read in whichever form
/// its size says and clamped to [`MAX_PLATFORM_WAIT`] from `now`.
pub fn quota_of(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Quota> {
    let count = |name: &str| number(headers, name).filter(|n| *n >= 0);
    let (prefix, reset_is_epoch) = if headers.contains_key("x-ratelimit-remaining") {
        ("x-ratelimit-", true)
    } else {
        ("ratelimit-", false)
    };
    let remaining = count(&format!("{prefix}remaining"))?;
    let reset_name = format!("{prefix}reset");
    Some(Quota {
        limit: count(&format!("{prefix}limit")),
        remaining,
        resets_at: number(headers, &reset_name)
            .and_then(|value| reset_time(&reset_name, value, reset_is_epoch, now)),
    })
}

/// How long the platform asks us to wait: `Retry-After` (seconds or an HTTP date), else the
/// time until its quota resets when none is left. Never longer than [`MAX_PLATFORM_WAIT`].
pub fn wait_asked(
    headers: &HeaderMap,
    quota: Option<Quota>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|text| {
            let text = text.trim();
            let asked = match text.parse::<u64>() {
                Ok(seconds) => Duration::from_secs(seconds),
                Err(_) => {
                    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
                    (at - now).to_std().unwrap_or_default()
                }
            };
            Some(clamped("retry-after", text, asked))
        });
    retry_after.or_else(|| {
        let until = quota?.exhausted_until(now)?;
        Some((until - now).to_std().unwrap_or_default())
    })
}

/// `now` plus a wait from [`wait_asked`]: the wait is bounded, so this cannot overflow in any
/// year chrono represents, and it saturates if it somehow would.
pub fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(wait)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(now)
}

fn number(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .split([',', ';'])
        .next()?
        .trim()
        .parse()
        .ok()
}

fn reset_time(
    header: &str,
    value: i64,
    sent_as_epoch: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if value < 0 {
        tracing::warn!(header, value, "ignored a negative rate-limit reset");
        return None;
    }
    let looks_like_epoch = value >= EPOCH_FROM;
    if looks_like_epoch != sent_as_epoch {
        tracing::warn!(
            header,
            value,
            read_as = if looks_like_epoch {
                "epoch seconds"
            } else {
                "seconds from now"
            },
            "a rate-limit reset in the other form than documented"
        );
    }
    let wait = if looks_like_epoch {
        // Beyond chrono's last year is further away than any bound.
        DateTime::from_timestamp(value, 0)
            .map_or(Duration::MAX, |at| (at - now).to_std().unwrap_or_default())
    } else {
        Duration::from_secs(value.unsigned_abs())
    };
    Some(after(now, clamped(header, &value.to_string(), wait)))
}

fn clamped(header: &str, value: &str, wait: Duration) -> Duration {
    if wait > MAX_PLATFORM_WAIT {
        tracing::warn!(
            header,
            value,
            "a platform asked for a wait longer than an hour; waiting an hour"
        );
        MAX_PLATFORM_WAIT
    } else {
        wait
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;
    use reqwest::header::HeaderValue;

    /// A header map of `pairs`, for tests of what answers say.
    pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    reqwest::header::HeaderName::from_static(k),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn hour() -> TimeDelta {
        TimeDelta::hours(1)
    }

    #[test]
    fn reads_githubs_and_the_ietf_rate_limit_headers() {
        let github = headers(&[
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "4987"),
            ("x-ratelimit-reset", "1800000600"),
        ]);
        assert_eq!(
            quota_of(&github, now()),
            Some(Quota {
                limit: Some(5000),
                remaining: 4987,
                resets_at: DateTime::from_timestamp(1_800_000_600, 0)
            })
        );
        let draft = headers(&[
            ("ratelimit-limit", "960"),
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "42"),
        ]);
        let quota = quota_of(&draft, now()).unwrap();
        assert_eq!((quota.limit, quota.remaining), (Some(960), 0));
        assert_eq!(quota.resets_at, Some(now() + TimeDelta::seconds(42)));
        assert_eq!(quota_of(&headers(&[]), now()), None);
    }

    #[test]
    fn a_reset_in_the_other_form_is_read_as_what_it_probably_is() {
        // An epoch where the draft says seconds from now.
        let epoch = headers(&[
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "1800000060"),
        ]);
        assert_eq!(
            quota_of(&epoch, now()).unwrap().resets_at,
            Some(now() + TimeDelta::seconds(60))
        );
        // Seconds from now where GitHub documents an epoch.
        let delta = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "90")]);
        assert_eq!(
            quota_of(&delta, now()).unwrap().resets_at,
            Some(now() + TimeDelta::seconds(90))
        );
    }

    #[test]
    fn resets_far_away_are_clamped_and_nonsense_is_ignored() {
        let far = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "99999999999999"),
        ]);
        assert_eq!(
            quota_of(&far, now()).unwrap().resets_at,
            Some(now() + hour())
        );
        let past = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1000000000"),
        ]);
        assert_eq!(quota_of(&past, now()).unwrap().resets_at, Some(now()));
        let negative = headers(&[("ratelimit-remaining", "5"), ("ratelimit-reset", "-30")]);
        assert_eq!(quota_of(&negative, now()).unwrap().resets_at, None);
        let negative_count = headers(&[("ratelimit-remaining", "-1")]);
        assert_eq!(quota_of(&negative_count, now()), None);
        let garbage = headers(&[("x-ratelimit-remaining", "lots")]);
        assert_eq!(quota_of(&garbage, now()), None);
    }

    #[test]
    fn the_wait_comes_from_retry_after_else_from_an_exhausted_quota() {
        assert_eq!(
            wait_asked(&headers(&[("retry-after", "7")]), None, now()),
            Some(Duration::from_secs(7))
        );
        let date = (now() + TimeDelta::seconds(90)).to_rfc2822();
        assert_eq!(
            wait_asked(&headers(&[("retry-after", &date)]), None, now()),
            Some(Duration::from_secs(90))
        );
        let exhausted = Quota {
            limit: Some(5000),
            remaining: 0,
            resets_at: Some(now() + TimeDelta::seconds(300)),
        };
        assert_eq!(
            wait_asked(&headers(&[]), Some(exhausted), now()),
            Some(Duration::from_secs(300))
        );
        let left = Quota {
            remaining: 3,
            ..exhausted
        };
        assert_eq!(wait_asked(&headers(&[]), Some(left), now()), None);
        assert_eq!(
            wait_asked(&headers(&[("retry-after", "soon")]), None, now()),
            None
        );
    }

    #[test]
    fn a_wait_of_years_is_an_hour() {
        for value in ["99999999999999", "31536000", "18446744073709551615"] {
            assert_eq!(
                wait_asked(&headers(&[("retry-after", value)]), None, now()),
                Some(MAX_PLATFORM_WAIT),
                "{value}"
            );
        }
        let year_away = (now() + TimeDelta::days(365)).to_rfc2822();
        assert_eq!(
            wait_asked(&headers(&[("retry-after", &year_away)]), None, now()),
            Some(MAX_PLATFORM_WAIT)
        );
    }

    proptest! {
        #[test]
        fn no_header_value_panics_or_waits_past_the_bound(
            value in "\\PC{0,24}|-?[0-9]{1,22}",
            name in prop::sample::select(vec![
                "retry-after", "x-ratelimit-reset", "ratelimit-reset",
                "x-ratelimit-remaining", "ratelimit-remaining", "x-ratelimit-limit",
            ]),
            seconds in any::<i64>(),
        ) {
            let Ok(value) = HeaderValue::from_str(&value) else { return Ok(()) };
            let mut map = headers(&[("x-ratelimit-remaining", "0"), ("ratelimit-remaining", "0")]);
            map.insert(name, value);
            // Any instant chrono holds, not only today's.
            let now = DateTime::from_timestamp(seconds % 8_000_000_000_000, 0).unwrap_or(now());
            let quota = quota_of(&map, now);
            if let Some(reset) = quota.and_then(|q| q.resets_at) {
                prop_assert!(reset >= now && reset - now <= hour());
            }
            if let Some(wait) = wait_asked(&map, quota, now) {
                prop_assert!(wait <= MAX_PLATFORM_WAIT);
                let _ = after(now, wait);
            }
        }
    }
}
