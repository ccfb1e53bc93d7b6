//! The one way connectors make requests: idempotent reads retried with exponential backoff and
//! jitter, `429`/`Retry-After` and the platforms' rate-limit headers honoured, bodies
//! size-limited, every request counted for the source's budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

use super::rate_limit::{after, quota_of, wait_asked};
use super::{transport_error, ConnectorError, FailureKind};
use crate::domain::Quota;
use crate::text::replace_json_nul_escapes;

/// Retries after the first try, for failures that may pass: no answer, 5xx, 429, a cut body.
const RETRIES: usize = 3;
/// Retries when no connection can be made at all: a platform that is down or a wrong address
/// rarely comes back within seconds, and each try would only lengthen the failed sync.
const UNREACHABLE_RETRIES: usize = 1;
/// First backoff; each retry doubles it, with jitter.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest backoff between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// A platform asking for a longer wait than this (or than the source's request timeout, if
/// shorter) fails the sync and sets the next one after the wait, instead of holding the sync
/// and the source's slot that long.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(20);
/// The largest answer read. A page of any platform we read is a few MB at most; anything
/// larger is a misbehaving server, and reading it would cost memory, not data.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Counts a sync's requests and keeps the platform's last word on its rate limit. Shared by
/// the tries of one sync, so it lives outside each request.
#[derive(Debug, Default)]
pub struct RequestMeter {
    state: Mutex<MeterState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct MeterState {
    requests: i64,
    quota: Option<Quota>,
}

impl RequestMeter {
    /// Requests made so far, retries included.
    pub fn requests(&self) -> i64 {
        self.lock().requests
    }

    /// The rate limit the platform last reported, if any answer carried one.
    pub fn quota(&self) -> Option<Quota> {
        self.lock().quota
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MeterState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An answer whose body was read whole. Its status may be any but 429 and 5xx, which are
/// retried and, if they persist, returned as [`Failed::Status`].
#[derive(Debug)]
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: bytes::Bytes,
}

impl Answer {
    /// Whether the platform refused for its rate limit: 429, or a 403 as GitHub sends both
    /// when the quota is spent and for its secondary limits (which carry `Retry-After`). A
    /// 403 with neither is a missing permission.
    pub fn is_rate_limited(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS
            || (self.status == StatusCode::FORBIDDEN
                && (quota_of(&self.headers, Utc::now()).is_some_and(|q| q.remaining == 0)
                    || self.headers.contains_key(reqwest::header::RETRY_AFTER)))
    }

    /// The `Content-Type`, or "" when none was sent.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Why a read failed after its retries.
#[derive(Debug)]
pub enum Failed {
    /// The platform kept answering 429 or 5xx (the last answer), or asked for a longer wait
    /// than a sync holds for; `retry_after` is when it allows the next request.
    Status {
        /// The last answer.
        answer: Answer,
        /// When the platform allows the next request, if it said.
        retry_after: Option<DateTime<Utc>>,
    },
    /// No usable answer: the connection, a timeout, a cut or oversized body.
    Transport(ConnectorError),
}

/// Where and how a connector reads.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    /// The source's name, for errors.
    pub source_name: &'a str,
    /// The only origin requests may go to: the source's configured base URL's.
    pub origin: &'a Option<url::Origin>,
    /// The whole time one try may take.
    pub timeout: Duration,
    /// The sync's meter.
    pub meter: &'a RequestMeter,
}

impl Reader<'_> {
    /// Sends the request `build` makes (again for each try) and reads its body.
    pub async fn get(
        &self,
        url: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, Failed> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(FIRST_BACKOFF)
            .with_max_delay(MAX_BACKOFF)
            .with_max_times(RETRIES)
            .with_jitter();
        let unreachable_tries = AtomicUsize::new(0);
        (|| self.try_once(url, &build))
            .retry(backoff)
            .when(|failed| failed.may_pass(&unreachable_tries))
            // The platform's own wait wins over our backoff; a wait too long for a sync
            // stops the retries.
            .adjust(|failed, backoff| match failed.platform_wait() {
                Some(wait) if wait > MAX_INLINE_WAIT.min(self.timeout) => None,
                Some(wait) => Some(wait),
                None => backoff,
            })
            .notify(|failed, wait| {
                tracing::debug!(source = self.source_name, ?wait, failure = %failed.summary(), "retrying")
            })
            .await
    }

    /// Sends the request once, never again: for actions, where a second try could act twice.
    pub async fn send_once(
        &self,
        url: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, Failed> {
        self.try_once(url, &build).await
    }

    /// Opens a stream: sends the request once, to the source's own host only, and hands over
    /// the answer with its body unread when it is 2xx. It may stay open up to `lifetime`.
    pub async fn open_stream(
        &self,
        url: &str,
        build: impl Fn() -> RequestBuilder,
        lifetime: Duration,
    ) -> Result<reqwest::Response, Failed> {
        let response = self.send(url, &build, lifetime).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = self.read_body(url, response).await?;
        let answer = Answer {
            status,
            headers,
            body,
        };
        let now = Utc::now();
        let quota = quota_of(&answer.headers, now);
        let retry_after = wait_asked(&answer.headers, quota, now).map(|wait| after(now, wait));
        Err(Failed::Status {
            answer,
            retry_after,
        })
    }

    /// Sends the request `build` makes, counted, with its headers' rate limit kept.
    async fn send(
        &self,
        url: &str,
        build: &impl Fn() -> RequestBuilder,
        timeout: Duration,
    ) -> Result<reqwest::Response, Failed> {
        let (client, request) = build().timeout(timeout).build_split();
        let request =
            request.map_err(|e| Failed::Transport(transport_error(self.source_name, url, &e)))?;
        // The one check every request passes: whatever built its address, the token goes
        // to the source's own host or nowhere.
        if self.origin.as_ref() != Some(&request.url().origin()) {
            return Err(Failed::Transport(ConnectorError::new(
                self.source_name,
                FailureKind::Malformed,
                format!(
                    "refused to send a request to {}, which is not this source's host; nothing was replaced",
                    request.url().host_str().unwrap_or("an address without a host")
                ),
            )));
        }
        let sent = client.execute(request).await;
        self.meter.lock().requests += 1;
        let response =
            sent.map_err(|e| Failed::Transport(transport_error(self.source_name, url, &e)))?;
        if let Some(quota) = quota_of(response.headers(), Utc::now()) {
            self.meter.lock().quota = Some(quota);
        }
        Ok(response)
    }

    /// Reads a whole body, up to [`MAX_BODY_BYTES`], its JSON NULs made U+FFFD.
    async fn read_body(
        &self,
        url: &str,
        mut response: reqwest::Response,
    ) -> Result<bytes::Bytes, Failed> {
        let mut body = bytes::BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(Failed::Transport(ConnectorError::new(
                            self.source_name,
                            FailureKind::Malformed,
                            format!(
                                "the answer from {url} is larger than {} MB; nothing was replaced",
                                MAX_BODY_BYTES / (1024 * 1024)
                            ),
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => {
                    replace_json_nul_escapes(&mut body);
                    return Ok(body.freeze());
                }
                Err(e) => {
                    return Err(Failed::Transport(transport_error(
                        self.source_name,
                        url,
                        &e,
                    )))
                }
            }
        }
    }

    async fn try_once(
        &self,
        url: &str,
        build: &impl Fn() -> RequestBuilder,
    ) -> Result<Answer, Failed> {
        let response = self.send(url, build, self.timeout).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let quota = quota_of(&headers, Utc::now());
        let body = self.read_body(url, response).await?;
        let answer = Answer {
            status,
            headers,
            body,
        };
        if answer.is_rate_limited() || status.is_server_error() {
            let now = Utc::now();
            let retry_after = wait_asked(&answer.headers, quota, now).map(|wait| after(now, wait));
            return Err(Failed::Status {
                answer,
                retry_after,
            });
        }
        Ok(answer)
    }
}

impl Failed {
    /// Whether another try may succeed; counts the tries that found no connection at all.
    fn may_pass(&self, unreachable_tries: &AtomicUsize) -> bool {
        match self {
            Self::Status { .. } => true,
            Self::Transport(e) => match e.kind {
                FailureKind::Unreachable => {
                    unreachable_tries.fetch_add(1, Ordering::Relaxed) < UNREACHABLE_RETRIES
                }
                FailureKind::Network | FailureKind::Timeout | FailureKind::Truncated => true,
                _ => false,
            },
        }
    }

    fn platform_wait(&self) -> Option<Duration> {
        match self {
            Self::Status {
                retry_after: Some(at),
                ..
            } => Some((*at - Utc::now()).to_std().unwrap_or_default()),
            _ => None,
        }
    }

    fn summary(&self) -> String {
        match self {
            Self::Status { answer, .. } => answer.status.to_string(),
            Self::Transport(e) => e.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::rate_limit::tests::headers;

    #[test]
    fn a_403_is_a_rate_limit_only_when_the_quota_is_spent_or_a_wait_is_asked() {
        let answer = |status: u16, pairs: &[(&'static str, &str)]| Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: headers(pairs),
            body: Default::default(),
        };
        assert!(answer(429, &[]).is_rate_limited());
        assert!(answer(403, &[("x-ratelimit-remaining", "0")]).is_rate_limited());
        assert!(answer(403, &[("retry-after", "60")]).is_rate_limited());
        assert!(!answer(403, &[("x-ratelimit-remaining", "4999")]).is_rate_limited());
        assert!(!answer(403, &[]).is_rate_limited());
    }
}
