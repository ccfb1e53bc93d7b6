//! Connectors turn a platform's payloads into domain types. They know HTTP and files, and
//! nothing of the cache.

pub mod backstage;
pub mod catalog_files;
pub mod http;

use std::time::Duration;

/// What kind of failure a connector met, so faces and sync can react without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// 401: the token is missing or was rejected.
    Unauthorized,
    /// 403: the token lacks a permission.
    Forbidden,
    /// 404 on a path that must exist: the URL is probably wrong.
    NotFound,
    /// 429.
    RateLimited,
    /// 5xx.
    ServerError,
    /// No connection could be made: refused, DNS, TLS.
    Unreachable,
    /// The connection broke: reset, closed before an answer.
    Network,
    /// No answer in time.
    Timeout,
    /// The answer was not what the contract says (bad JSON, wrong shape, too large).
    Malformed,
    /// The answer's body was cut off before its end.
    Truncated,
    /// A local file or directory could not be read.
    Io,
    /// No token could be had.
    Token,
}

/// A connector's failure: names the source, says what happened and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ConnectorError {
    /// The configured source's name.
    pub source_name: String,
    /// Failure class.
    pub kind: FailureKind,
    /// One line a person can act on.
    pub message: String,
    /// When the platform allows the next request, when it asked us to wait.
    pub retry_after: Option<chrono::DateTime<chrono::Utc>>,
}

impl ConnectorError {
    /// Builds an error for a source.
    pub fn new(source_name: &str, kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            source_name: source_name.to_string(),
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, with the wait the platform asked for.
    pub fn with_retry_after(mut self, at: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        self.retry_after = at;
        self
    }
}

/// Progress of a fetch, for status bars and `opsdeck sync`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchProgress {
    /// Pages (or files) read so far.
    pub pages: usize,
    /// Items read so far.
    pub items: usize,
    /// Total items, when the platform says.
    pub total: Option<usize>,
}

/// The HTTP client every connector uses: bounded connect time, our user agent. Each request
/// sets its total time from its source's `timeout`.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("the HTTP client's fixed settings are valid")
}

/// Classifies a transport error (no HTTP status).
pub(crate) fn transport_error(
    source_name: &str,
    url: &str,
    error: &reqwest::Error,
) -> ConnectorError {
    let (kind, what) = if error.is_timeout() {
        (FailureKind::Timeout, "timed out")
    } else if error.is_connect() {
        (FailureKind::Unreachable, "cannot connect")
    } else if error.is_decode() || error.is_body() {
        (FailureKind::Truncated, "the answer was cut off")
    } else if error.is_request() {
        (
            FailureKind::Network,
            "no answer: the connection was closed or reset",
        )
    } else {
        (FailureKind::Network, "request failed")
    };
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| url.to_string());
    ConnectorError::new(
        source_name,
        kind,
        format!(
            "{what} ({host}); the cached data is kept — check the URL and network, then sync again"
        ),
    )
}
