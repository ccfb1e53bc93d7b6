//! Chaos: the sandbox breaking its platforms on purpose, for tests and live demos. Faults are
//! set per platform or for all (`--chaos`, or `PUT /_sandbox/chaos` while it runs):
//!
//! `latency=300ms..3s,error_rate=0.2,rate_limit=50/min,malformed=0.05,truncate=0.05,drop=0.05`
//!
//! Clauses are separated by `;`; a clause prefixed `backstage:` applies to that platform only,
//! over the clauses for all.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Platforms the sandbox serves, as chaos clauses name them.
pub const PLATFORMS: [&str; 5] = ["backstage", "pagerduty", "alertmanager", "github", "argocd"];

const SETTINGS: &str = "latency, error_rate, rate_limit, malformed, truncate, drop";

/// What one platform suffers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Faults {
    /// Added to every answer: uniform between the two.
    pub latency: Option<(Duration, Duration)>,
    /// Share of requests answered 500/502/503 with the platform's error body.
    pub error_rate: f64,
    /// Requests allowed per window; more get 429 with `Retry-After`.
    pub rate_limit: Option<(u32, Duration)>,
    /// Share of answers whose body is replaced by something that is not the contract's JSON.
    pub malformed: f64,
    /// Share of answers cut off halfway (the declared length is the whole one).
    pub truncate: f64,
    /// Share of requests whose connection is closed before any body arrives.
    pub drop: f64,
}

/// A chaos specification: its clauses in order, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChaosSpec {
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    platform: Option<String>,
    key: String,
    value: String,
    apply: Setting,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Setting {
    Latency(Duration, Duration),
    ErrorRate(f64),
    RateLimit(u32, Duration),
    Malformed(f64),
    Truncate(f64),
    Drop(f64),
}

impl std::str::FromStr for ChaosSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut clauses = Vec::new();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (platform, settings) = match part.split_once(':') {
                Some((platform, rest)) if !platform.contains('=') => {
                    let platform = platform.trim();
                    if !PLATFORMS.contains(&platform) {
                        return Err(format!(
                            "chaos: unknown platform '{platform}' (the sandbox serves {})",
                            PLATFORMS.join(", ")
                        ));
                    }
                    (Some(platform.to_string()), rest)
                }
                _ => (None, part),
            };
            for setting in settings.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (key, value) = setting.split_once('=').ok_or_else(|| {
                    format!("chaos: '{setting}' is not key=value (settings: {SETTINGS})")
                })?;
                let (key, value) = (key.trim(), value.trim());
                clauses.push(Clause {
                    platform: platform.clone(),
                    key: key.to_string(),
                    value: value.to_string(),
                    apply: parse_setting(key, value)?,
                });
            }
        }
        Ok(Self { clauses })
    }
}

fn parse_setting(key: &str, value: &str) -> Result<Setting, String> {
    let share = || -> Result<f64, String> {
        value
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..=1.0).contains(p))
            .ok_or_else(|| format!("chaos: {key} must be a share between 0 and 1, not '{value}'"))
    };
    let duration = |text: &str| {
        humantime::parse_duration(text.trim())
            .map_err(|e| format!("chaos: {key}: '{text}' is not a duration ({e})"))
    };
    Ok(match key {
        "latency" => {
            let (low, high) = match value.split_once("..") {
                Some((low, high)) => (duration(low)?, duration(high)?),
                None => (duration(value)?, duration(value)?),
            };
            if low > high {
                return Err(format!("chaos: latency {value} runs backwards"));
            }
            Setting::Latency(low, high)
        }
        "error_rate" => Setting::ErrorRate(share()?),
        "malformed" => Setting::Malformed(share()?),
        "truncate" => Setting::Truncate(share()?),
        "drop" => Setting::Drop(share()?),
        "rate_limit" => {
            let (count, per) = value
                .split_once('/')
                .ok_or_else(|| format!("chaos: rate_limit is N/s, N/min or N/h, not '{value}'"))?;
            let count: u32 = count
                .trim()
                .parse()
                .map_err(|_| format!("chaos: rate_limit count '{count}' is not a number"))?;
            let window = match per.trim() {
                "s" | "sec" => Duration::from_secs(1),
                "min" | "m" => Duration::from_secs(60),
                "h" | "hour" => Duration::from_secs(3600),
                other => {
                    return Err(format!(
                        "chaos: rate_limit window '{other}' is not s, min or h"
                    ))
                }
            };
            Setting::RateLimit(count, window)
        }
        other => {
            return Err(format!(
                "chaos: unknown setting '{other}' (settings: {SETTINGS})"
            ))
        }
    })
}

impl fmt::Display for ChaosSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut groups: Vec<(Option<&str>, Vec<String>)> = Vec::new();
        for c in &self.clauses {
            let setting = format!("{}={}", c.key, c.value);
            match groups.last_mut() {
                Some((platform, settings)) if *platform == c.platform.as_deref() => {
                    settings.push(setting)
                }
                _ => groups.push((c.platform.as_deref(), vec![setting])),
            }
        }
        let text: Vec<String> = groups
            .into_iter()
            .map(|(platform, settings)| match platform {
                Some(p) => format!("{p}:{}", settings.join(",")),
                None => settings.join(","),
            })
            .collect();
        f.write_str(&text.join(";"))
    }
}

impl ChaosSpec {
    /// This spec followed by `later`'s clauses (which win where both set something).
    pub fn then(mut self, later: ChaosSpec) -> ChaosSpec {
        self.clauses.extend(later.clauses);
        self
    }

    /// The faults `platform` suffers: the clauses for all, then its own, later ones winning.
    fn faults_for(&self, platform: &str) -> Faults {
        let mut faults = Faults::default();
        let general = self.clauses.iter().filter(|c| c.platform.is_none());
        let own = self
            .clauses
            .iter()
            .filter(|c| c.platform.as_deref() == Some(platform));
        for clause in general.chain(own) {
            match clause.apply {
                Setting::Latency(low, high) => faults.latency = Some((low, high)),
                Setting::ErrorRate(p) => faults.error_rate = p,
                Setting::RateLimit(n, window) => faults.rate_limit = Some((n, window)),
                Setting::Malformed(p) => faults.malformed = p,
                Setting::Truncate(p) => faults.truncate = p,
                Setting::Drop(p) => faults.drop = p,
            }
        }
        faults
    }
}

/// The chaos a running sandbox applies, changeable while it runs.
#[derive(Debug, Default)]
pub(super) struct Chaos {
    spec: RwLock<ChaosSpec>,
    /// Per platform: when its rate-limit window opened and the requests counted in it.
    windows: Mutex<HashMap<&'static str, (Instant, u32)>>,
}

impl Chaos {
    /// Chaos starting with `spec`.
    pub fn new(spec: ChaosSpec) -> Self {
        Self {
            spec: RwLock::new(spec),
            windows: Mutex::default(),
        }
    }

    /// The spec in force.
    pub fn spec(&self) -> ChaosSpec {
        self.spec.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the spec; rate-limit windows start over.
    pub fn set(&self, spec: ChaosSpec) {
        *self.spec.write().unwrap_or_else(|p| p.into_inner()) = spec;
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Counts a request against `platform`'s window: `Ok(remaining)` when allowed, `Err(wait)`
    /// until the window reopens when not.
    fn admit(&self, platform: &'static str, limit: u32, window: Duration) -> Result<u32, Duration> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let (opened, count) = windows.entry(platform).or_insert((now, 0));
        if now.duration_since(*opened) >= window {
            (*opened, *count) = (now, 0);
        }
        if *count >= limit {
            return Err(window.saturating_sub(now.duration_since(*opened)));
        }
        *count += 1;
        Ok(limit - *count)
    }
}

/// Builds a platform's own error answer (status, message, the request's path and query).
/// Marks a response whose body is a stream held open: truncating it means cutting it, as
/// its end is never reached to halve.
#[derive(Debug, Clone, Copy)]
pub(super) struct Streaming;

pub(super) type ErrorBody = fn(StatusCode, &str, &str) -> Response;

/// What the chaos layer of one platform needs.
#[derive(Clone)]
pub(super) struct ChaosLayer {
    /// Shared with the control endpoint.
    pub chaos: Arc<Chaos>,
    /// The platform's name in clauses.
    pub platform: &'static str,
    /// Its error body.
    pub error_body: ErrorBody,
}

/// The middleware: applies the platform's faults to each request and answer.
pub(super) async fn apply(
    State(layer): State<ChaosLayer>,
    request: Request,
    next: Next,
) -> Response {
    let faults = layer.chaos.spec().faults_for(layer.platform);
    let url = request.uri().to_string();
    let mut remaining = None;
    if let Some((limit, window)) = faults.rate_limit {
        match layer.chaos.admit(layer.platform, limit, window) {
            Ok(left) => remaining = Some((limit, left, window)),
            Err(wait) => {
                let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                // GitHub spends its primary quota with a 403 that says when it resets;
                // the others answer 429 with Retry-After.
                let github = layer.platform == "github";
                let mut response = (layer.error_body)(
                    if github {
                        StatusCode::FORBIDDEN
                    } else {
                        StatusCode::TOO_MANY_REQUESTS
                    },
                    "sandbox chaos: API rate limit exceeded",
                    &url,
                );
                let headers = response.headers_mut();
                if github {
                    github_quota_headers(headers, limit, 0, seconds);
                } else {
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                    rate_limit_headers(headers, limit, 0, seconds);
                }
                return response;
            }
        }
    }
    if let Some((low, high)) = faults.latency {
        let spread = high.saturating_sub(low).mul_f64(fastrand::f64());
        tokio::time::sleep(low + spread).await;
    }
    if roll(faults.drop) {
        return cut_off(Vec::new(), None);
    }
    if roll(faults.error_rate) {
        let status = [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::SERVICE_UNAVAILABLE,
        ][fastrand::usize(..3)];
        return (layer.error_body)(status, "sandbox chaos: injected server error", &url);
    }
    let mut response = next.run(request).await;
    if let Some((limit, left, window)) = remaining {
        if layer.platform == "github" {
            github_quota_headers(response.headers_mut(), limit, left, window.as_secs());
        } else {
            rate_limit_headers(response.headers_mut(), limit, left, window.as_secs());
        }
    }
    if !response.status().is_success() {
        return response;
    }
    if roll(faults.malformed) {
        let garbage: &[u8] = [
            &b"{\"items\": [{\"apiVersion\": \"backstage.io/v1alpha1\", \"kind\": "[..],
            b"<html><body>502 Bad Gateway</body></html>",
            b"{\"items\": \"not a list\", \"pageInfo\": 7}",
        ][fastrand::usize(..3)];
        let (parts, _) = response.into_parts();
        let mut response = Response::from_parts(parts, Body::from(garbage));
        response.headers_mut().remove(header::CONTENT_LENGTH);
        return response;
    }
    if roll(faults.truncate) {
        let (parts, body) = response.into_parts();
        if parts.extensions.get::<Streaming>().is_some() {
            return Response::from_parts(parts, cut_off(Vec::new(), None).into_body());
        }
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let mut response = cut_off(bytes[..bytes.len() / 2].to_vec(), Some(bytes.len()));
        *response.status_mut() = parts.status;
        for (name, value) in &parts.headers {
            if name != header::CONTENT_LENGTH {
                response.headers_mut().insert(name, value.clone());
            }
        }
        return response;
    }
    response
}

fn roll(share: f64) -> bool {
    share > 0.0 && fastrand::f64() < share
}

/// An answer that sends `sent` and then breaks the connection. With `declared`, the headers
/// promise that many bytes, as a server that died mid-answer would have.
pub(super) fn cut_off(sent: Vec<u8>, declared: Option<usize>) -> Response {
    use futures_util::StreamExt;
    let has_data = !sent.is_empty();
    let data = futures_util::stream::once(async move { Ok::<_, std::io::Error>(sent) });
    let cut = futures_util::stream::once(async move {
        if has_data {
            // Long enough for the server to flush what was sent before the connection breaks.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox chaos: connection cut",
        ))
    });
    let mut response = Response::new(Body::from_stream(data.chain(cut)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(length) = declared {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

/// The IETF draft's rate-limit headers, which a quota-aware client reads.
/// GitHub's `X-RateLimit-*`: the reset as epoch seconds.
fn github_quota_headers(
    headers: &mut axum::http::HeaderMap,
    limit: u32,
    left: u32,
    reset_secs: u64,
) {
    let reset = chrono::Utc::now().timestamp() + reset_secs as i64;
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(left));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
}

fn rate_limit_headers(headers: &mut axum::http::HeaderMap, limit: u32, left: u32, reset_secs: u64) {
    headers.insert("ratelimit-limit", HeaderValue::from(limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(left));
    headers.insert("ratelimit-reset", HeaderValue::from(reset_secs));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issues_example_parses_and_prints_back() {
        let text = "latency=300ms..3s,error_rate=0.2,rate_limit=50/min,malformed=0.05,truncate=0.05,drop=0.05";
        let spec: ChaosSpec = text.parse().unwrap();
        assert_eq!(spec.to_string(), text);
        let faults = spec.faults_for("backstage");
        assert_eq!(
            faults.latency,
            Some((Duration::from_millis(300), Duration::from_secs(3)))
        );
        assert_eq!(faults.rate_limit, Some((50, Duration::from_secs(60))));
        assert_eq!(
            (
                faults.error_rate,
                faults.malformed,
                faults.truncate,
                faults.drop
            ),
            (0.2, 0.05, 0.05, 0.05)
        );
    }

    #[test]
    fn a_platform_clause_overrides_the_general_ones_for_that_platform() {
        let spec: ChaosSpec = "error_rate=0.1,latency=1s;backstage:error_rate=0.9"
            .parse()
            .unwrap();
        let faults = spec.faults_for("backstage");
        assert_eq!(faults.error_rate, 0.9);
        assert_eq!(
            faults.latency,
            Some((Duration::from_secs(1), Duration::from_secs(1)))
        );
        assert_eq!(
            spec.to_string(),
            "error_rate=0.1,latency=1s;backstage:error_rate=0.9"
        );
        assert_eq!(
            ChaosSpec::default().faults_for("backstage"),
            Faults::default()
        );
    }

    #[test]
    fn mistakes_say_what_is_allowed() {
        for (text, message) in [
            ("error_rate=2", "error_rate must be a share between 0 and 1"),
            ("jitter=1", "unknown setting 'jitter'"),
            ("gitlab:drop=0.1", "unknown platform 'gitlab'"),
            ("rate_limit=50", "rate_limit is N/s, N/min or N/h"),
            ("rate_limit=50/day", "window 'day'"),
            ("latency=3s..1s", "runs backwards"),
            ("latency=fast", "is not a duration"),
            ("drop", "is not key=value"),
        ] {
            let err = text.parse::<ChaosSpec>().unwrap_err();
            assert!(err.contains(message), "{text}: {err}");
        }
    }

    #[test]
    fn the_rate_limit_window_admits_its_count_then_says_how_long_to_wait() {
        let chaos = Chaos::default();
        let window = Duration::from_secs(60);
        assert_eq!(chaos.admit("backstage", 2, window), Ok(1));
        assert_eq!(chaos.admit("backstage", 2, window), Ok(0));
        let wait = chaos.admit("backstage", 2, window).unwrap_err();
        assert!(wait > Duration::from_secs(59) && wait <= window, "{wait:?}");
        chaos.set(ChaosSpec::default());
        assert_eq!(
            chaos.admit("backstage", 2, window),
            Ok(1),
            "a new spec starts over"
        );
    }
}
