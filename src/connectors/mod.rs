//! Connectors turn a platform's payloads into domain types. They know HTTP and files, and
//! nothing of the cache.

pub mod alertmanager;
pub mod argocd;
pub mod backstage;
pub mod catalog_files;
#[cfg(test)]
mod fuzz;
pub mod github;
pub mod http;
pub mod pagerduty;
pub mod rate_limit;

use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::secrets::Token;
use crate::text::one_line;
use http::{Answer, Failed, Reader, RequestMeter};

/// What kind of failure a connector met, so faces and sync can react without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// 400: the platform refused the request as sent (for PagerDuty's `/users/me`, a token
    /// of the account rather than of a user).
    BadRequest,
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
    /// The platform refused an action for a reason of its own (a conflict, invalid input).
    Refused,
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

    /// Whether an action that failed this way may still have happened: the request left but
    /// no readable answer came back. Such an action is re-read, never retried.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self.kind,
            FailureKind::Network
                | FailureKind::Timeout
                | FailureKind::Truncated
                | FailureKind::Malformed
        )
    }

    /// The same error, with the wait the platform asked for.
    pub fn with_retry_after(mut self, at: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        self.retry_after = at;
        self
    }
}

/// What one cheap, read-only call to a platform showed: *Test connection*'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    /// What was found, in words: "a catalog of 12,712 entities", "Alertmanager 0.27.0".
    pub found: String,
    /// The person the token belongs to, when the platform says.
    pub signed_in_as: Option<crate::api::SignedInAs>,
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

/// A regular file's bytes, checked before it is opened (opening a FIFO waits for a writer;
/// `/dev/zero` never ends) and read no further than `max_bytes`: for files a config or a
/// catalog names, which may be anything.
pub(crate) fn read_regular_file(file: &std::path::Path, max_bytes: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let metadata = std::fs::metadata(file).map_err(|e| format!("cannot read: {e}"))?;
    if !metadata.is_file() {
        return Err("not a regular file (a directory, device, FIFO or socket); not read".into());
    }
    let too_large = || format!("larger than {} MB; not read", max_bytes / (1024 * 1024));
    if metadata.len() > max_bytes {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(max_bytes + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The largest CA bundle read: the whole Mozilla set is about 200 KB.
const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// Redirects a read may follow before it is refused.
const MAX_REDIRECTS: usize = 5;

/// The HTTP clients of one source: bounded connect time, our user agent, the source's own CA
/// bundle when it names one. Reads follow redirects within the source's origin only, so a
/// token never follows a redirect to another host; state-changing calls follow none, so an
/// action is sent once, where it was planned. Each request sets its total time from its
/// source's `timeout`.
#[derive(Debug, Clone)]
pub struct SourceClients {
    reads: reqwest::Client,
    actions: reqwest::Client,
}

impl SourceClients {
    /// Clients trusting the public roots Opsdeck carries (Mozilla's, through webpki-roots), plus the PEM certificates in `ca_file` if given.
    pub fn new(ca_file: Option<&std::path::Path>) -> Result<Self, String> {
        let roots = match ca_file {
            None => Vec::new(),
            Some(path) => {
                let pem = read_regular_file(path, MAX_CA_FILE_BYTES)
                    .map_err(|e| format!("'ca_file' {}: {e}", path.display()))?;
                let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    format!("'ca_file' {} is not a PEM bundle ({e})", path.display())
                })?;
                if certificates.is_empty() {
                    return Err(format!("'ca_file' {} holds no certificate", path.display()));
                }
                certificates
            }
        };
        let client = |redirects: reqwest::redirect::Policy| {
            roots
                .iter()
                .fold(reqwest::Client::builder(), |builder, root| {
                    builder.add_root_certificate(root.clone())
                })
                .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(5))
                .redirect(redirects)
                .build()
                .map_err(|e| format!("the HTTP client cannot be set up ({e})"))
        };
        Ok(Self {
            reads: client(reqwest::redirect::Policy::custom(|attempt| {
                let first = attempt.previous()[0].origin();
                if attempt.url().origin() != first {
                    let to = attempt.url().host_str().unwrap_or("?").to_string();
                    attempt.error(format!("redirected to another host ({to}); not followed"))
                } else if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }))?,
            actions: client(reqwest::redirect::Policy::none())?,
        })
    }

    /// The client for a request of `method`: reads may follow a same-origin redirect,
    /// anything else follows none.
    fn for_method(&self, method: &reqwest::Method) -> &reqwest::Client {
        if matches!(*method, reqwest::Method::GET | reqwest::Method::HEAD) {
            &self.reads
        } else {
            &self.actions
        }
    }
}

/// Classifies a transport error (no HTTP status).
pub(crate) fn transport_error(
    source_name: &str,
    url: &str,
    error: &reqwest::Error,
) -> ConnectorError {
    let (kind, what) = if error.is_redirect() {
        (
            FailureKind::Malformed,
            "redirected to another host, or too often; not followed, so the token stays with its source",
        )
    } else if error.is_timeout() {
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

/// Where and as whom a connector reaches its platform: one per configured source.
#[derive(Debug, Clone)]
pub struct Endpoint {
    clients: SourceClients,
    source_name: String,
    base_url: String,
    /// Where the token may go: the base URL's scheme, host and port (none if it does not
    /// parse, and then no request goes anywhere).
    origin: Option<url::Origin>,
    token: Option<Token>,
    token_env: Option<String>,
    timeout: Duration,
}

impl Endpoint {
    /// The platform at `base_url` (its root), for the source `source_name`; each request may
    /// take up to `timeout`.
    pub fn new(
        clients: SourceClients,
        source_name: &str,
        base_url: &str,
        token: Option<Token>,
        token_env: Option<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            clients,
            source_name: source_name.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            origin: reqwest::Url::parse(base_url).ok().map(|u| u.origin()),
            token,
            token_env,
            timeout,
        }
    }

    /// The source's name.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// The token, if one was found.
    pub(crate) fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// The env var the source names for its token.
    pub(crate) fn token_env(&self) -> Option<&str> {
        self.token_env.as_deref()
    }

    /// A request of `method` to `url` without the bearer token, on the client for its method.
    pub(crate) fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.clients.for_method(&method).request(method, url)
    }

    /// The address of `path` on the platform.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Reads for one sync, counted on `meter`.
    pub(crate) fn reader<'a>(&'a self, meter: &'a RequestMeter) -> Reader<'a> {
        Reader {
            source_name: &self.source_name,
            origin: &self.origin,
            timeout: self.timeout,
            meter,
        }
    }

    /// A JSON `GET` of `url` with the token, if any, as a bearer token.
    pub(crate) fn get_with_bearer(&self, url: &str) -> reqwest::RequestBuilder {
        self.with_bearer(reqwest::Method::GET, url)
    }

    /// A JSON request of `method` to `url` with the token, if any, as a bearer token.
    pub(crate) fn with_bearer(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> reqwest::RequestBuilder {
        let request = self
            .request(method, url)
            .header("Accept", "application/json");
        match &self.token {
            Some(token) => request.bearer_auth(&token.value),
            None => request,
        }
    }
}

/// What a connector says about its platform in errors, and how it reads JSON from it: one
/// place for status codes, content types and cut-off bodies, so every platform's errors name
/// the source and say what to do in the same way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Platform<'a> {
    /// The source and its token.
    pub endpoint: &'a Endpoint,
    /// The platform as a sentence names it: "the catalog", "PagerDuty".
    pub called: &'static str,
    /// What a 404 on a path that must exist most likely means.
    pub not_found: &'static str,
    /// The platform's own explanation in an error body, if the body is its error shape.
    pub error_detail: fn(&[u8]) -> Option<String>,
}

impl Platform<'_> {
    /// Reads `url` (the request `build` makes) and decodes its JSON body as `T`. Any status
    /// but 2xx, a body that is not JSON, cut off or of another shape fails with an error
    /// that says so and that the cache was kept.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        reader: Reader<'_>,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, ConnectorError> {
        let answer = self.get_ok(reader, url, build).await?;
        self.decode(url, &answer)
    }

    /// Reads `url` as [`Platform::get_json`] does, sending `If-None-Match` with the ETag of
    /// the last read when there is one: `None` when the platform says nothing changed (304),
    /// else the answer (for its headers) and its decoded body.
    pub async fn get_json_if_changed<T: DeserializeOwned>(
        &self,
        reader: Reader<'_>,
        url: &str,
        etag: Option<&str>,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Option<(Answer, T)>, ConnectorError> {
        let answer = self
            .get_ok(reader, url, || match etag {
                Some(etag) => build().header(reqwest::header::IF_NONE_MATCH, etag),
                None => build(),
            })
            .await?;
        if answer.status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let value = self.decode(url, &answer)?;
        Ok(Some((answer, value)))
    }

    /// The answer to `url`, when its status is 2xx or 304.
    async fn get_ok(
        &self,
        reader: Reader<'_>,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Answer, ConnectorError> {
        let answer = reader
            .get(url, build)
            .await
            .map_err(|failed| self.failure(failed))?;
        if answer.status.is_success() || answer.status == reqwest::StatusCode::NOT_MODIFIED {
            Ok(answer)
        } else {
            Err(self.status_error(&answer))
        }
    }

    /// Opens a stream at `url` (see [`Reader::open_stream`]); a failing status is an error
    /// as for a read.
    pub async fn open_stream(
        &self,
        reader: Reader<'_>,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
        lifetime: Duration,
    ) -> Result<reqwest::Response, ConnectorError> {
        reader
            .open_stream(url, build, lifetime)
            .await
            .map_err(|failed| self.failure(failed))
    }

    fn failure(&self, failed: Failed) -> ConnectorError {
        match failed {
            Failed::Status {
                answer,
                retry_after,
            } => self.status_error(&answer).with_retry_after(retry_after),
            Failed::Transport(error) => error,
        }
    }

    fn decode<T: DeserializeOwned>(&self, url: &str, answer: &Answer) -> Result<T, ConnectorError> {
        let content_type = answer.content_type();
        if !content_type.starts_with("application/json")
            && !content_type.starts_with("application/vnd.pagerduty+json")
        {
            return Err(self.error(
                FailureKind::Malformed,
                format!(
                    "expected JSON from {url} but got '{}'; is 'url' {}'s address?",
                    if content_type.is_empty() {
                        "no content type"
                    } else {
                        content_type
                    },
                    self.called
                ),
            ));
        }
        serde_json::from_slice(&answer.body).map_err(|e| {
            let (kind, what) = if e.is_eof() {
                (FailureKind::Truncated, "was cut off")
            } else {
                (FailureKind::Malformed, "is not the documented JSON")
            };
            self.error(
                kind,
                format!(
                    "the answer {what} ({e}); nothing was replaced, {}'s last data is kept",
                    self.called
                ),
            )
        })
    }

    /// Sends an action (the request `build` makes) once, never retried, and decodes its
    /// answer as `T` (`None` for an empty 2xx answer). A refusal names the platform, what was
    /// being done and that nothing was retried; see [`ConnectorError::outcome_unknown`].
    pub async fn act<T: DeserializeOwned>(
        &self,
        reader: Reader<'_>,
        url: &str,
        doing: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Option<T>, ConnectorError> {
        let answer = match reader.send_once(url, build).await {
            Ok(answer) if answer.status.is_success() => answer,
            Ok(answer) | Err(Failed::Status { answer, .. }) => {
                return Err(self.refusal(&answer, doing))
            }
            Err(Failed::Transport(error)) => return Err(error),
        };
        if answer.body.is_empty() {
            return Ok(None);
        }
        self.decode(url, &answer).map(Some)
    }

    /// An error for an action the platform answered with a failing status.
    fn refusal(&self, answer: &Answer, doing: &str) -> ConnectorError {
        let status = answer.status;
        let detail = (self.error_detail)(&answer.body)
            .unwrap_or_else(|| one_line(&String::from_utf8_lossy(&answer.body), 160));
        let (kind, advice) = match status.as_u16() {
            401 => (
                FailureKind::Unauthorized,
                "the token was rejected; supply a valid one",
            ),
            403 if answer.is_rate_limited() => (
                FailureKind::RateLimited,
                "rate limited; try again once the limit resets",
            ),
            403 => (
                FailureKind::Forbidden,
                "the token may read but not act; it needs write permission",
            ),
            404 => (
                FailureKind::NotFound,
                "it is not there, or the token cannot see it",
            ),
            429 => (
                FailureKind::RateLimited,
                "rate limited; try again once the limit resets",
            ),
            500..=599 => (
                FailureKind::ServerError,
                "the platform failed; check it before planning again",
            ),
            _ => (FailureKind::Refused, "the platform refused it"),
        };
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        };
        self.error(
            kind,
            format!(
                "{} refused {doing} ({} {}{detail}) — {advice}; nothing was retried",
                self.called,
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        )
    }

    /// An error for an answer with a failing status.
    pub fn status_error(&self, answer: &Answer) -> ConnectorError {
        let status = answer.status;
        let detail = (self.error_detail)(&answer.body)
            .unwrap_or_else(|| one_line(&String::from_utf8_lossy(&answer.body), 120));
        let code = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        let (kind, advice) = match status.as_u16() {
            403 if answer.is_rate_limited() => (
                FailureKind::RateLimited,
                format!("rate limited by {}", self.called),
            ),
            400 => (
                FailureKind::BadRequest,
                format!("{} refused the request as Opsdeck sent it", self.called),
            ),
            401 => (
                FailureKind::Unauthorized,
                match (self.endpoint.token(), self.endpoint.token_env()) {
                    (Some(t), _) => format!(
                        "the token from {} was rejected; supply a valid one",
                        t.origin
                    ),
                    (None, Some(env)) => format!(
                        "no token was sent; set {env} or run `opsdeck login {}`",
                        self.endpoint.source_name
                    ),
                    (None, None) => format!(
                        "no token was sent; add token_env to the source or run `opsdeck login {}`",
                        self.endpoint.source_name
                    ),
                },
            ),
            403 => (
                FailureKind::Forbidden,
                format!("the token lacks permission to read {}", self.called),
            ),
            404 => (FailureKind::NotFound, self.not_found.to_string()),
            429 => (
                FailureKind::RateLimited,
                format!("rate limited by {}", self.called),
            ),
            500..=599 => (
                FailureKind::ServerError,
                format!(
                    "{} failed; the cached data is kept and the next sync will try again",
                    self.called
                ),
            ),
            _ => (FailureKind::Malformed, "unexpected answer".to_string()),
        };
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        self.error(kind, format!("{code}{detail} — {advice}"))
    }

    /// An error of this source.
    pub fn error(&self, kind: FailureKind, message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(&self.endpoint.source_name, kind, message)
    }
}

/// Serves `app` on a free loopback port for a test; returns its base URL.
#[cfg(test)]
pub(crate) async fn serve_on_loopback(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A server on loopback whose `/moved` redirects to `/landing` (counted) with `status`,
    /// and whose `/away` redirects to another origin (counted there).
    async fn redirecting(status: u16) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (landed, elsewhere) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let seen = elsewhere.clone();
        let other = serve_on_loopback(axum::Router::new().fallback(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            async { "elsewhere" }
        }))
        .await;
        let seen = landed.clone();
        let status = axum::http::StatusCode::from_u16(status).unwrap();
        let here = serve_on_loopback(
            axum::Router::new()
                .route(
                    "/moved",
                    axum::routing::any(move || async move { (status, [("location", "/landing")]) }),
                )
                .route(
                    "/away",
                    axum::routing::any(move || {
                        let to = format!("{other}/landing");
                        async move { (status, [("location", to)]) }
                    }),
                )
                .route(
                    "/landing",
                    axum::routing::any(move || {
                        seen.fetch_add(1, Ordering::SeqCst);
                        async { "landed" }
                    }),
                ),
        )
        .await;
        (here, landed, elsewhere)
    }

    #[tokio::test]
    async fn reads_follow_redirects_at_home_only_and_actions_follow_none() {
        let clients = SourceClients::new(None).unwrap();
        for status in [301, 302, 307, 308] {
            let (here, landed, elsewhere) = redirecting(status).await;
            let get = |path: &str| {
                clients
                    .for_method(&reqwest::Method::GET)
                    .get(format!("{here}{path}"))
                    .send()
            };
            let read = get("/moved").await.unwrap();
            assert_eq!(read.status(), 200, "{status}: a read follows at home");
            assert_eq!(landed.load(Ordering::SeqCst), 1);

            let away = get("/away").await.unwrap_err();
            assert!(away.is_redirect(), "{status}: {away}");
            assert_eq!(
                elsewhere.load(Ordering::SeqCst),
                0,
                "{status}: never followed"
            );

            for method in [reqwest::Method::POST, reqwest::Method::PATCH] {
                let acted = clients
                    .for_method(&method)
                    .request(method.clone(), format!("{here}/moved"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    acted.status(),
                    status,
                    "{method}: the redirect is the answer"
                );
            }
            assert_eq!(
                landed.load(Ordering::SeqCst),
                1,
                "{status}: no action was sent twice"
            );
        }
    }
}
