//! GitHub REST, as `github/api.github.com.subset.json` describes it: deployments and their
//! statuses, Actions workflow runs, releases and compare, with a bearer token, `Link` header
//! pagination at `per_page=100`, and conditional requests (`If-None-Match`) so a page that did
//! not change costs a 304. Rate limits (`X-RateLimit-*`, secondary limits) are honoured by the
//! shared reader.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::http::{Answer, RequestMeter};
use super::{ConnectorError, Endpoint, FailureKind, FetchProgress, Platform, Reached};
use crate::api::SignedInAs;
use crate::domain::delivery::{
    version_of_ref, Commit, Comparison, DeliveryTarget, DeployStatus, Deployment, PipelineRun,
    Release,
};
use crate::text::{one_line, percent_encoded};

mod graphql;

/// Records per page; GitHub's maximum.
pub const PAGE_SIZE: usize = 100;

/// How far back deployments are read on a repository's first sync.
pub const HISTORY_DAYS: i64 = 90;

/// Pages of deployments read per repository and sync at most: GitHub lists newest first, and
/// a sync stops at the first deployment it already holds, so only a first sync goes deep.
const MAX_DEPLOYMENT_PAGES: usize = 10;

/// Statuses read per environment for deployments new to the cache: each costs a request, and
/// older deployments were superseded (GitHub marks them inactive). The rest are `unknown`.
pub const STATUS_READS_PER_ENVIRONMENT: usize = 5;

/// Repositories read side by side: well under GitHub's advice against many concurrent
/// requests, enough that each repository's round trips overlap.
const REPOS_AT_ONCE: usize = 8;

/// What the cache holds for one repository, so a sync reads only what changed.
#[derive(Debug, Clone, Default)]
pub struct RepoKnown {
    /// When the newest deployment held started, and the ids of those that started then:
    /// GitHub lists newest first, so reading stops there.
    pub newest: Option<(DateTime<Utc>, HashSet<String>)>,
    /// Held deployments that may still change (queued, pending, waiting, in progress).
    pub open: Vec<Deployment>,
}

impl RepoKnown {
    /// Whether the deployment `id` that started `at` is held (or older than what is).
    fn holds(&self, started_at: DateTime<Utc>, id: &str) -> bool {
        self.newest
            .as_ref()
            .is_some_and(|(at, ids)| started_at < *at || (started_at == *at && ids.contains(id)))
    }
}

/// What one sync read from one repository.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepoRead {
    /// `owner/repo`.
    pub slug: String,
    /// Deployments new to the cache, and open ones whose status changed.
    pub deployments: Vec<Deployment>,
    /// The latest workflow runs, or `None` when GitHub said they did not change.
    pub runs: Option<Vec<PipelineRun>>,
    /// The latest releases, or `None` when they did not change.
    pub releases: Option<Vec<Release>>,
}

/// What one sync saw of GitHub, besides the reads handed over as they finished.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GithubSnapshot {
    /// The ETag of every page read, and what GraphQL reads saw, for the next sync.
    pub etags: HashMap<String, String>,
    /// Answers that were 304 Not Modified.
    pub not_modified: usize,
}

/// Where a sync hands each repository's read once it is whole, so a first sync of thousands
/// of repositories never holds them all: the caller stages them as they come.
pub type Finished = tokio::sync::mpsc::Sender<Vec<RepoRead>>;

/// A file read from a repository.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoFile {
    /// Its text.
    pub text: String,
    /// Its blob SHA.
    pub sha: String,
    /// Its page on GitHub.
    pub html_url: Option<String>,
    /// The answer's ETag, for the next conditional read.
    pub etag: Option<String>,
}

/// A GitHub (or GitHub Enterprise) API.
#[derive(Debug, Clone)]
pub struct GithubConnector {
    endpoint: Endpoint,
}

#[derive(Deserialize)]
struct UserPayload {
    login: String,
}

#[derive(Deserialize)]
struct DeploymentPayload {
    id: i64,
    sha: String,
    #[serde(rename = "ref")]
    reference: String,
    environment: String,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    description: Option<String>,
    creator: Option<UserPayload>,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct StatusPayload {
    state: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    target_url: Option<String>,
    #[serde(default)]
    log_url: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct RunsPayload {
    workflow_runs: Vec<RunPayload>,
}

#[derive(Deserialize)]
struct RunPayload {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    head_branch: Option<String>,
    head_sha: String,
    event: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    run_attempt: Option<i64>,
    #[serde(default)]
    run_started_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    html_url: String,
    display_title: String,
    path: String,
}

#[derive(Deserialize)]
struct ReleasePayload {
    tag_name: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    published_at: Option<DateTime<Utc>>,
    author: Option<UserPayload>,
    html_url: String,
    prerelease: bool,
    draft: bool,
}

#[derive(Deserialize)]
struct ComparisonPayload {
    html_url: String,
    total_commits: i64,
    commits: Vec<CommitPayload>,
}

#[derive(Deserialize)]
struct CommitPayload {
    sha: String,
    html_url: String,
    commit: CommitDetailPayload,
    author: Option<UserPayload>,
}

#[derive(Deserialize)]
struct CommitDetailPayload {
    message: String,
    author: Option<GitUserPayload>,
}

#[derive(Deserialize)]
struct GitUserPayload {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    date: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct ErrorPayload {
    message: String,
}

/// `rate-limit-overview`: the core API's budget.
#[derive(Deserialize)]
struct RateLimitOverview {
    resources: RateResources,
}

#[derive(Deserialize)]
struct RateResources {
    core: RateLimit,
}

#[derive(Deserialize)]
struct RateLimit {
    limit: u64,
    remaining: u64,
}

/// GitHub's budget for a request without a token.
const UNAUTHENTICATED_LIMIT: u64 = 60;

fn error_detail(body: &[u8]) -> Option<String> {
    let error: ErrorPayload = serde_json::from_slice(body).ok()?;
    Some(one_line(&error.message, 160))
}

/// The next page after `current`, from the `rel="next"` address of a `Link` header. Only the
/// link's query (its page or cursor) is taken, onto `current`'s own address: GitHub's links
/// name `api.github.com/repositories/{id}/…`, which is neither a stand-in's nor an Enterprise
/// server's address, and a header is never where a token's destination comes from. `None` on
/// the last page; an error for a link that names no page.
fn next_page(answer: &Answer, current: &str) -> Result<Option<String>, String> {
    let Some(header) = answer
        .headers
        .get(reqwest::header::LINK)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let next = header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| url.trim().trim_start_matches('<').trim_end_matches('>'))
    });
    let Some(next) = next else { return Ok(None) };
    let here = reqwest::Url::parse(current).map_err(|e| e.to_string())?;
    let there = here
        .join(next)
        .map_err(|e| format!("its next-page link does not parse ({e})"))?;
    let Some(query) = there.query().filter(|q| !q.is_empty()) else {
        return Err("its next-page link names no page".to_string());
    };
    let mut page = here;
    page.set_query(Some(query));
    Ok(Some(page.to_string()))
}

fn etag_of(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Conditional reads of one sync: the ETags held, the ones read, the 304s counted.
struct Conditional<'a> {
    held: &'a HashMap<String, String>,
    read: std::sync::Mutex<(HashMap<String, String>, usize)>,
}

impl Conditional<'_> {
    fn keep(&self, url: &str, etag: Option<String>) {
        if let Some(etag) = etag {
            self.lock().0.insert(url.to_string(), etag);
        }
    }

    fn forget(&self, url: &str) {
        self.lock().0.remove(url);
    }

    fn unchanged(&self, url: &str) {
        let mut read = self.lock();
        if let Some(etag) = self.held.get(url) {
            read.0.insert(url.to_string(), etag.clone());
        }
        read.1 += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, String>, usize)> {
        self.read.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl GithubConnector {
    /// The API at the endpoint's URL (`https://api.github.com`, or
    /// `https://HOST/api/v3` for GitHub Enterprise Server).
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    fn platform(&self) -> Platform<'_> {
        Platform {
            endpoint: &self.endpoint,
            called: "GitHub",
            not_found:
                "not found: check the source's 'url' and that the token can read the repository",
            error_detail,
        }
    }

    fn request(&self, url: &str) -> reqwest::RequestBuilder {
        self.action(reqwest::Method::GET, url)
    }

    /// Reads `repos` (with what the cache knows of each), asking only for what changed since
    /// the last sync (`etags`: its page ETags and what its GraphQL reads saw). Through
    /// GraphQL; through REST on a GitHub Enterprise whose GraphQL lacks the fields.
    pub async fn fetch(
        &self,
        repos: &[(String, RepoKnown)],
        etags: &HashMap<String, String>,
        now: DateTime<Utc>,
        meter: &RequestMeter,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
        finished: Finished,
    ) -> Result<GithubSnapshot, ConnectorError> {
        if let Some(etags) = self
            .fetch_graphql(repos, etags, now, meter, progress, &finished)
            .await?
        {
            return Ok(GithubSnapshot {
                etags,
                not_modified: 0,
            });
        }
        self.fetch_rest(repos, etags, now, meter, progress, &finished)
            .await
    }

    /// Hands whole reads over; fails when whoever takes them stopped.
    async fn hand(&self, finished: &Finished, reads: Vec<RepoRead>) -> Result<(), ConnectorError> {
        finished.send(reads).await.map_err(|_| {
            self.platform().error(
                FailureKind::Io,
                "the cache stopped taking what GitHub's sync read; nothing was replaced",
            )
        })
    }

    /// Reads `repos` through REST, one repository's lists at a time, asking only for the
    /// pages whose ETags in `etags` changed.
    async fn fetch_rest(
        &self,
        repos: &[(String, RepoKnown)],
        etags: &HashMap<String, String>,
        now: DateTime<Utc>,
        meter: &RequestMeter,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
        finished: &Finished,
    ) -> Result<GithubSnapshot, ConnectorError> {
        let conditional = Conditional {
            held: etags,
            read: Default::default(),
        };
        let total = repos.len();
        let mut done = 0;
        // The futures are made before they are streamed: a stream that maps borrowed items
        // itself is not `Send` for every lifetime, and syncs run on spawned tasks.
        let pending: Vec<_> = repos
            .iter()
            .map(|(slug, known)| self.read_repo(slug, known, &conditional, now, meter))
            .collect();
        let mut reads = futures_util::stream::iter(pending).buffer_unordered(REPOS_AT_ONCE);
        while let Some(repo) = reads.try_next().await? {
            self.hand(finished, vec![repo]).await?;
            done += 1;
            progress(FetchProgress {
                pages: done,
                items: done,
                total: Some(total),
            });
        }
        drop(reads);
        let (etags, not_modified) = conditional
            .read
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        Ok(GithubSnapshot {
            etags,
            not_modified,
        })
    }

    async fn read_repo(
        &self,
        slug: &str,
        known: &RepoKnown,
        conditional: &Conditional<'_>,
        now: DateTime<Utc>,
        meter: &RequestMeter,
    ) -> Result<RepoRead, ConnectorError> {
        let target = DeliveryTarget::GithubRepo(slug.to_string()).key();
        let mut deployments = self
            .new_deployments(slug, &target, known, conditional, now, meter)
            .await?;
        for open in &known.open {
            if let Some(updated) = self
                .with_status(
                    open.clone(),
                    &self.statuses_url(slug, &open.id, PAGE_SIZE),
                    conditional,
                    meter,
                )
                .await?
            {
                if updated != *open {
                    deployments.push(updated);
                }
            }
        }
        let runs_url = self
            .endpoint
            .url(&format!("/repos/{slug}/actions/runs?per_page={PAGE_SIZE}"));
        let runs = self
            .read_if_changed::<RunsPayload>(&runs_url, conditional, meter)
            .await?
            .map(|page| {
                page.workflow_runs
                    .into_iter()
                    .map(|run| run_of(run, &target))
                    .collect()
            });
        let releases_url = self
            .endpoint
            .url(&format!("/repos/{slug}/releases?per_page={PAGE_SIZE}"));
        let releases = self
            .read_if_changed::<Vec<ReleasePayload>>(&releases_url, conditional, meter)
            .await?
            .map(|list| {
                list.into_iter()
                    .filter(|r| !r.draft)
                    .map(release_of)
                    .collect()
            });
        Ok(RepoRead {
            slug: slug.to_string(),
            deployments,
            runs,
            releases,
        })
    }

    /// A deployment's statuses, addressed from the configured base URL: the payload's own
    /// `statuses_url` names github.com even on GitHub Enterprise stand-ins, and a payload is
    /// never where a token's destination comes from.
    fn statuses_url(&self, slug: &str, deployment_id: &str, per_page: usize) -> String {
        self.endpoint.url(&format!(
            "/repos/{slug}/deployments/{deployment_id}/statuses?per_page={per_page}"
        ))
    }

    /// Deployments the cache does not hold, newest first, down to the first one it holds or
    /// [`HISTORY_DAYS`] back; `[]` when the first page did not change.
    async fn new_deployments(
        &self,
        slug: &str,
        target: &str,
        known: &RepoKnown,
        conditional: &Conditional<'_>,
        now: DateTime<Utc>,
        meter: &RequestMeter,
    ) -> Result<Vec<Deployment>, ConnectorError> {
        let horizon = now - Duration::days(HISTORY_DAYS);
        let first = self
            .endpoint
            .url(&format!("/repos/{slug}/deployments?per_page={PAGE_SIZE}"));
        let mut fresh: Vec<DeploymentPayload> = Vec::new();
        let mut next = Some(first.clone());
        let mut pages = 0;
        let mut seen = std::collections::HashSet::new();
        while let Some(url) = next.take() {
            if !seen.insert(url.clone()) {
                return Err(self.platform().error(
                    FailureKind::Malformed,
                    format!("the deployments of {slug} page in a loop ({url} again); nothing was replaced"),
                ));
            }
            // Only the first page is asked conditionally: it changes whenever anything is
            // deployed, and the deeper pages are read only when it did.
            let etag = (url == first).then(|| conditional.held.get(&url)).flatten();
            let Some((answer, page)) = self
                .platform()
                .get_json_if_changed::<Vec<DeploymentPayload>>(
                    self.endpoint.reader(meter),
                    &url,
                    etag.map(String::as_str),
                    || self.request(&url),
                )
                .await?
            else {
                conditional.unchanged(&url);
                return Ok(Vec::new());
            };
            if url == first {
                conditional.keep(&url, etag_of(&answer));
            }
            pages += 1;
            let mut reached_known = false;
            for deployment in page {
                if known.holds(deployment.created_at, &deployment.id.to_string())
                    || deployment.created_at < horizon
                {
                    reached_known = true;
                    continue;
                }
                fresh.push(deployment);
            }
            if !reached_known && pages < MAX_DEPLOYMENT_PAGES {
                next = next_page(&answer, &url).map_err(|problem| {
                    self.platform().error(
                        FailureKind::Malformed,
                        format!("the deployments of {slug}: {problem}; nothing was replaced"),
                    )
                })?;
            }
        }
        let mut read_per_env: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::with_capacity(fresh.len());
        for payload in fresh {
            let reads = read_per_env.entry(payload.environment.clone()).or_default();
            let statuses_url = self.statuses_url(slug, &payload.id.to_string(), PAGE_SIZE);
            let deployment = deployment_of(payload, target);
            if *reads < STATUS_READS_PER_ENVIRONMENT {
                *reads += 1;
                let read = self
                    .with_status(deployment.clone(), &statuses_url, conditional, meter)
                    .await?;
                out.push(read.unwrap_or(deployment));
            } else {
                out.push(deployment);
            }
        }
        Ok(out)
    }

    /// `deployment` with its latest status, or `None` when its statuses did not change.
    async fn with_status(
        &self,
        mut deployment: Deployment,
        url: &str,
        conditional: &Conditional<'_>,
        meter: &RequestMeter,
    ) -> Result<Option<Deployment>, ConnectorError> {
        let Some(statuses) = self
            .read_if_changed::<Vec<StatusPayload>>(url, conditional, meter)
            .await?
        else {
            return Ok(None);
        };
        // GitHub lists a deployment's statuses newest first.
        match statuses.into_iter().next() {
            Some(latest) => apply_latest_status(
                &mut deployment,
                &latest.state,
                latest.created_at,
                latest.log_url.or(latest.target_url),
                latest.description,
            ),
            None => deployment.status = DeployStatus::Pending,
        }
        // Only an open deployment's statuses are asked again.
        if !deployment.status.is_open() {
            conditional.forget(url);
        }
        Ok(Some(deployment))
    }

    async fn read_if_changed<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        conditional: &Conditional<'_>,
        meter: &RequestMeter,
    ) -> Result<Option<T>, ConnectorError> {
        let etag = conditional.held.get(url).map(String::as_str);
        match self
            .platform()
            .get_json_if_changed::<T>(self.endpoint.reader(meter), url, etag, || self.request(url))
            .await?
        {
            Some((answer, value)) => {
                conditional.keep(url, etag_of(&answer));
                Ok(Some(value))
            }
            None => {
                conditional.unchanged(url);
                Ok(None)
            }
        }
    }

    /// The commits between `base` and `head` in `slug` (GitHub's compare; the first 250).
    pub async fn compare(
        &self,
        slug: &str,
        base: &str,
        head: &str,
        meter: &RequestMeter,
    ) -> Result<Comparison, ConnectorError> {
        let url = self.endpoint.url(&format!(
            "/repos/{slug}/compare/{base}...{head}?per_page={PAGE_SIZE}"
        ));
        let payload: ComparisonPayload = self
            .platform()
            .get_json(self.endpoint.reader(meter), &url, || self.request(&url))
            .await?;
        Ok(comparison_of(payload, base, head))
    }

    /// The newest deployments of `slug` to `environment` (one page), each with its latest
    /// status: a plan's fresh look at what runs and what is in flight there.
    pub async fn environment_deployments(
        &self,
        slug: &str,
        environment: &str,
        meter: &RequestMeter,
    ) -> Result<Vec<Deployment>, ConnectorError> {
        let target = DeliveryTarget::GithubRepo(slug.to_string()).key();
        let payloads = self.newest_in(slug, environment, meter).await?;
        let mut out = Vec::with_capacity(payloads.len());
        for payload in payloads {
            let statuses_url = self.statuses_url(slug, &payload.id.to_string(), 1);
            let mut deployment = deployment_of(payload, &target);
            deployment.status = self.latest_status(&statuses_url, meter).await?;
            out.push(deployment);
        }
        Ok(out)
    }

    /// The first page (10) of `slug`'s deployments to `environment`, newest first.
    async fn newest_in(
        &self,
        slug: &str,
        environment: &str,
        meter: &RequestMeter,
    ) -> Result<Vec<DeploymentPayload>, ConnectorError> {
        let url = self.deployments_url(slug);
        self.platform()
            .get_json(self.endpoint.reader(meter), &url, || {
                self.request(&url)
                    .query(&[("environment", environment), ("per_page", "10")])
            })
            .await
    }

    /// Creates a deployment of `commit` to `environment` (`auto_merge: false`,
    /// `required_contexts: []`), with `payload`; returns its id. Sent once.
    pub async fn create_deployment(
        &self,
        slug: &str,
        request: &Value,
        meter: &RequestMeter,
    ) -> Result<i64, ConnectorError> {
        #[derive(Deserialize)]
        struct Created {
            id: i64,
        }
        let url = self.deployments_url(slug);
        let doing = format!("a deployment in {slug}");
        let created: Option<Created> = self
            .platform()
            .act(self.endpoint.reader(meter), &url, &doing, || {
                self.action(reqwest::Method::POST, &url).json(request)
            })
            .await?;
        created.map(|c| c.id).ok_or_else(|| {
            self.platform().error(
                FailureKind::Malformed,
                format!("{doing}: GitHub answered without the deployment"),
            )
        })
    }

    /// The address deployments are created at, as a plan shows it.
    pub fn deployments_url(&self, slug: &str) -> String {
        self.endpoint.url(&format!("/repos/{slug}/deployments"))
    }

    /// A deployment's latest status (GitHub lists them newest first) and its log link.
    pub async fn deployment_status(
        &self,
        slug: &str,
        id: i64,
        meter: &RequestMeter,
    ) -> Result<DeployStatus, ConnectorError> {
        let url = self.endpoint.url(&format!(
            "/repos/{slug}/deployments/{id}/statuses?per_page=1"
        ));
        self.latest_status(&url, meter).await
    }

    async fn latest_status(
        &self,
        url: &str,
        meter: &RequestMeter,
    ) -> Result<DeployStatus, ConnectorError> {
        let statuses: Vec<StatusPayload> = self
            .platform()
            .get_json(self.endpoint.reader(meter), url, || self.request(url))
            .await?;
        Ok(statuses.first().map_or(DeployStatus::Pending, |s| {
            DeployStatus::from_github_state(&s.state)
        }))
    }

    /// The deployment of `slug` to `environment` whose payload carries `key` under
    /// `opsdeck_key`, among the newest: how a rollback whose answer was lost finds what it
    /// created.
    pub async fn find_deployment(
        &self,
        slug: &str,
        environment: &str,
        key: &str,
        meter: &RequestMeter,
    ) -> Result<Option<i64>, ConnectorError> {
        let payloads = self.newest_in(slug, environment, meter).await?;
        Ok(payloads
            .iter()
            .find(|p| p.payload.get("opsdeck_key").and_then(Value::as_str) == Some(key))
            .map(|p| p.id))
    }

    /// Dispatches `workflow` on `git_ref` with `inputs`, asking for the run it starts
    /// (`return_run_details`); the run's id when GitHub returns it. Sent once.
    pub async fn dispatch_workflow(
        &self,
        slug: &str,
        workflow: &str,
        request: &Value,
        meter: &RequestMeter,
    ) -> Result<Option<i64>, ConnectorError> {
        #[derive(Deserialize)]
        struct Dispatched {
            workflow_run_id: i64,
        }
        let url = self.dispatch_url(slug, workflow);
        let doing = format!("dispatching {workflow} in {slug}");
        let dispatched: Option<Dispatched> = self
            .platform()
            .act(self.endpoint.reader(meter), &url, &doing, || {
                self.action(reqwest::Method::POST, &url).json(request)
            })
            .await?;
        Ok(dispatched.map(|d| d.workflow_run_id))
    }

    /// The address a workflow is dispatched at, as a plan shows it.
    pub fn dispatch_url(&self, slug: &str, workflow: &str) -> String {
        self.endpoint.url(&format!(
            "/repos/{slug}/actions/workflows/{workflow}/dispatches"
        ))
    }

    /// The newest run of `workflow` started by a dispatch at or after `since`: the run a
    /// dispatch started when GitHub did not say, or its answer was lost.
    pub async fn find_dispatched_run(
        &self,
        slug: &str,
        workflow: &str,
        since: DateTime<Utc>,
        meter: &RequestMeter,
    ) -> Result<Option<i64>, ConnectorError> {
        let url = self
            .endpoint
            .url(&format!("/repos/{slug}/actions/workflows/{workflow}/runs"));
        let created = format!(">={}", since.format("%Y-%m-%dT%H:%M:%SZ"));
        let runs: RunsPayload = self
            .platform()
            .get_json(self.endpoint.reader(meter), &url, || {
                self.request(&url).query(&[
                    ("event", "workflow_dispatch"),
                    ("created", created.as_str()),
                    ("per_page", "10"),
                ])
            })
            .await?;
        Ok(runs
            .workflow_runs
            .iter()
            .filter(|r| r.created_at >= since)
            .max_by_key(|r| r.created_at)
            .map(|r| r.id))
    }

    /// An Actions run's state and its page.
    pub async fn run(
        &self,
        slug: &str,
        run_id: i64,
        meter: &RequestMeter,
    ) -> Result<PipelineRun, ConnectorError> {
        let url = self
            .endpoint
            .url(&format!("/repos/{slug}/actions/runs/{run_id}"));
        let payload: RunPayload = self
            .platform()
            .get_json(self.endpoint.reader(meter), &url, || self.request(&url))
            .await?;
        Ok(run_of(
            payload,
            &DeliveryTarget::GithubRepo(slug.to_string()).key(),
        ))
    }

    /// A file of `slug` at `git_ref` (`GET /repos/{owner}/{repo}/contents/{path}`), decoded
    /// from base64; `None` when `etag` says the copy held is current (304).
    pub async fn file(
        &self,
        slug: &str,
        path: &str,
        git_ref: &str,
        etag: Option<&str>,
        meter: &RequestMeter,
    ) -> Result<Option<RepoFile>, ConnectorError> {
        #[derive(Deserialize)]
        struct ContentPayload {
            #[serde(rename = "type")]
            kind: String,
            encoding: String,
            content: String,
            sha: String,
            html_url: Option<String>,
        }
        let encoded: Vec<String> = path.split('/').map(percent_encoded).collect();
        let url = self.endpoint.url(&format!(
            "/repos/{slug}/contents/{}?ref={}",
            encoded.join("/"),
            percent_encoded(git_ref)
        ));
        let Some((answer, payload)) = self
            .platform()
            .get_json_if_changed::<ContentPayload>(self.endpoint.reader(meter), &url, etag, || {
                self.request(&url)
            })
            .await?
        else {
            return Ok(None);
        };
        if payload.kind != "file" || payload.encoding != "base64" {
            return Err(self.platform().error(
                FailureKind::Malformed,
                format!(
                    "{slug}/{path} is a {} ({}), not a file",
                    payload.kind, payload.encoding
                ),
            ));
        }
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(payload.content.replace(['\n', '\r'], ""))
            .map_err(|e| {
                self.platform().error(
                    FailureKind::Malformed,
                    format!("{slug}/{path}: the content is not base64 ({e})"),
                )
            })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            self.platform().error(
                FailureKind::Malformed,
                format!("{slug}/{path} is not UTF-8 text"),
            )
        })?;
        Ok(Some(RepoFile {
            text,
            sha: payload.sha,
            html_url: payload.html_url,
            etag: etag_of(&answer),
        }))
    }

    /// *Test connection*: the token's budget (`GET /rate_limit`, which costs none of it) and,
    /// for a classic token, its scopes. An answer given to no token is a failure: GitHub
    /// then grants 60 requests an hour on public repositories only.
    pub async fn check(&self, meter: &RequestMeter) -> Result<Reached, ConnectorError> {
        let url = self.endpoint.url("/rate_limit");
        let read = self
            .platform()
            .get_json_if_changed::<RateLimitOverview>(
                self.endpoint.reader(meter),
                &url,
                None,
                || self.request(&url),
            )
            .await;
        let read = match read {
            // GitHub Enterprise with rate limiting off has no /rate_limit ("Rate limiting is
            // not enabled."): whose token it is is the test then.
            Err(not_found) if not_found.kind == FailureKind::NotFound => {
                let viewer = self.viewer(meter).await.map_err(|_| not_found)?;
                return Ok(Reached {
                    found: format!(
                        "the token of {}, on a GitHub Enterprise without rate limits",
                        viewer.name
                    ),
                    signed_in_as: Some(viewer),
                });
            }
            other => other?,
        };
        let Some((answer, overview)) = read else {
            return Err(self.platform().error(
                FailureKind::Malformed,
                "GitHub answered /rate_limit with 304 to a request that named no ETag",
            ));
        };
        let core = overview.resources.core;
        if self.endpoint.token().is_none() || core.limit <= UNAUTHENTICATED_LIMIT {
            return Err(self.platform().error(
                FailureKind::Token,
                format!(
                    "GitHub took the request as anonymous ({} requests an hour, public repositories only): give the source a token",
                    core.limit
                ),
            ));
        }
        let scopes = answer
            .headers
            .get("x-oauth-scopes")
            .and_then(|v| v.to_str().ok())
            .map(|scopes| match one_line(scopes, 200) {
                none if none.is_empty() => "; a classic token without scopes".to_string(),
                scopes => format!("; scopes {scopes}"),
            })
            .unwrap_or_default();
        // Whose token it is comes from GraphQL's `viewer`; a GitHub Enterprise without it, or a
        // token that may not read it, still has a working connection.
        let viewer = self.viewer(meter).await.ok();
        let owner = viewer
            .as_ref()
            .map(|v| format!("the token of {},", v.name))
            .unwrap_or_else(|| "a token".to_string());
        Ok(Reached {
            found: format!(
                "{owner} with {} of {} requests left this hour{scopes}",
                crate::text::grouped(core.remaining),
                crate::text::grouped(core.limit)
            ),
            signed_in_as: viewer,
        })
    }

    /// The token's user (`query { viewer { login name email } }` on the GraphQL endpoint):
    /// their login, or name, and their public email when they show one.
    async fn viewer(&self, meter: &RequestMeter) -> Result<SignedInAs, ConnectorError> {
        let url = self.graphql_url();
        let body = serde_json::json!({ "query": VIEWER_QUERY });
        let answer: GraphQlAnswer<ViewerData> = self
            .platform()
            .get_json(self.endpoint.reader(meter), &url, || {
                self.action(reqwest::Method::POST, &url).json(&body)
            })
            .await?;
        let viewer = answer.data.map(|d| d.viewer).ok_or_else(|| {
            let said = answer
                .errors
                .first()
                .map_or("no data and no error", |e| e.message.as_str());
            self.platform().error(
                FailureKind::Malformed,
                format!(
                    "GitHub's GraphQL did not say who the token is: {}",
                    one_line(said, 200)
                ),
            )
        })?;
        let login = one_line(&viewer.login, 100);
        let name = viewer
            .name
            .map(|n| one_line(&n, 100))
            .filter(|n| !n.is_empty())
            .map_or_else(|| login.clone(), |n| format!("{n} ({login})"));
        let email = Some(one_line(&viewer.email, 200)).filter(|e| e.contains('@'));
        Ok(SignedInAs { name, email })
    }

    /// GitHub's GraphQL endpoint beside its REST API: `https://api.github.com/graphql`, and
    /// `https://HOST/api/graphql` for GitHub Enterprise's `https://HOST/api/v3`.
    fn graphql_url(&self) -> String {
        let rest = self.endpoint.url("");
        match rest.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => format!("{rest}/graphql"),
        }
    }

    fn action(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.endpoint
            .with_bearer(method, url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
    }
}

/// The GraphQL query *Test connection* sends to learn whose token it is.
const VIEWER_QUERY: &str = "query { viewer { login name email } }";

/// Every GraphQL query Opsdeck sends to GitHub (one of each shape a sync's are built in),
/// for the contract tests to check against GitHub's schema.
pub fn graphql_queries() -> Vec<String> {
    let mut queries = vec![VIEWER_QUERY.to_string()];
    queries.extend(graphql::example_queries());
    queries
}

/// A GraphQL answer: `data`, or `errors`, or both (partial data).
#[derive(Debug, Deserialize)]
struct GraphQlAnswer<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(Debug, Deserialize)]
struct GraphQlError {
    message: String,
}

#[derive(Debug, Deserialize)]
struct ViewerData {
    viewer: Viewer,
}

/// `User` as the query above selects it.
#[derive(Debug, Deserialize)]
struct Viewer {
    login: String,
    name: Option<String>,
    /// The public profile email; empty when the user shows none.
    email: String,
}

fn deployment_of(payload: DeploymentPayload, target: &str) -> Deployment {
    let field = |name: &str| {
        payload
            .payload
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let version =
        field("version").unwrap_or_else(|| version_of_ref(&payload.reference, &payload.sha));
    Deployment {
        id: payload.id.to_string(),
        target: target.to_string(),
        environment: payload.environment,
        version,
        commit: Some(payload.sha),
        actor: payload.creator.map(|c| c.login),
        started_at: payload.created_at,
        finished_at: None,
        status: DeployStatus::Unknown,
        link: None,
        // Opsdeck's own rollbacks name what they roll back in the payload.
        rolled_back_from: field("rolled_back_from"),
        description: payload.description.filter(|d| !d.is_empty()),
    }
}

/// A deployment as its latest status (`state` as REST spells it) leaves it.
fn apply_latest_status(
    deployment: &mut Deployment,
    state: &str,
    at: DateTime<Utc>,
    link: Option<String>,
    description: Option<String>,
) {
    deployment.status = DeployStatus::from_github_state(state);
    deployment.finished_at = (!deployment.status.is_open()).then_some(at);
    deployment.link = link;
    if let Some(text) = description.filter(|d| !d.is_empty()) {
        deployment.description = Some(text);
    }
}

fn run_of(payload: RunPayload, target: &str) -> PipelineRun {
    // A run without a name is named after its workflow file.
    let workflow = payload.name.filter(|n| !n.is_empty()).unwrap_or_else(|| {
        let file = payload.path.split('@').next().unwrap_or(&payload.path);
        file.rsplit('/').next().unwrap_or(file).to_string()
    });
    PipelineRun {
        id: payload.id.to_string(),
        target: target.to_string(),
        workflow,
        head_sha: payload.head_sha,
        head_branch: payload.head_branch,
        event: payload.event,
        status: DeployStatus::from_run(payload.status.as_deref(), payload.conclusion.as_deref()),
        attempt: payload.run_attempt.unwrap_or(1),
        created_at: payload.created_at,
        started_at: payload.run_started_at,
        updated_at: payload.updated_at,
        link: Some(payload.html_url),
        title: payload.display_title,
    }
}

fn release_of(payload: ReleasePayload) -> Release {
    Release {
        tag: payload.tag_name,
        name: payload.name.filter(|n| !n.is_empty()),
        published_at: payload.published_at,
        author: payload.author.map(|a| a.login),
        link: payload.html_url,
        prerelease: payload.prerelease,
    }
}

fn comparison_of(payload: ComparisonPayload, base: &str, head: &str) -> Comparison {
    Comparison {
        base: base.to_string(),
        head: head.to_string(),
        total_commits: payload.total_commits,
        commits: payload
            .commits
            .into_iter()
            .map(|c| Commit {
                title: c
                    .commit
                    .message
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                author: c
                    .author
                    .map(|a| a.login)
                    .or_else(|| c.commit.author.as_ref().and_then(|a| a.name.clone())),
                authored_at: c.commit.author.and_then(|a| a.date),
                sha: c.sha,
                link: Some(c.html_url),
            })
            .collect(),
        link: Some(payload.html_url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's REST description, whose examples the mapping must read; `None` where the
    /// published contracts are absent.
    fn github_spec() -> Option<Value> {
        let text = opsdeck_sandbox::specs::spec_text("github/api.github.com.subset.json")?;
        Some(serde_json::from_str(&text).expect("the GitHub spec is JSON"))
    }

    fn example(spec: &Value, name: &str) -> Value {
        spec["components"]["examples"][name]["value"].clone()
    }

    #[test]
    fn maps_the_specs_deployment_and_its_latest_status() {
        let Some(spec) = github_spec() else { return };
        let list: Vec<DeploymentPayload> =
            serde_json::from_value(example(&spec, "deployment-items")).unwrap();
        let deployment = deployment_of(list.into_iter().next().unwrap(), "github:octocat/example");
        assert_eq!(deployment.id, "1");
        assert_eq!(deployment.environment, "production");
        assert_eq!(deployment.version, "topic-branch");
        assert_eq!(
            deployment.commit.as_deref(),
            Some("a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d")
        );
        assert_eq!(deployment.actor.as_deref(), Some("octocat"));
        assert_eq!(deployment.status, DeployStatus::Unknown);
        let statuses: Vec<StatusPayload> =
            serde_json::from_value(example(&spec, "deployment-status-items")).unwrap();
        let latest = &statuses[0];
        assert_eq!(
            DeployStatus::from_github_state(&latest.state),
            DeployStatus::Success
        );
        assert_eq!(
            latest.log_url.as_deref(),
            Some("https://example.com/deployment/42/output")
        );
    }

    #[test]
    fn maps_the_specs_workflow_runs_releases_and_comparison() {
        let Some(spec) = github_spec() else { return };
        let runs: RunsPayload =
            serde_json::from_value(example(&spec, "workflow-run-paginated")).unwrap();
        let run = run_of(
            runs.workflow_runs.into_iter().next().unwrap(),
            "github:octo-org/octo-repo",
        );
        assert_eq!(run.workflow, "Build");
        assert_eq!(run.status, DeployStatus::Queued);
        assert_eq!(run.head_sha, "acb5820ced9479c074f688cc328bf03f341a511d");
        assert_eq!(run.title, "Update README.md");
        let releases: Vec<ReleasePayload> =
            serde_json::from_value(example(&spec, "release-items")).unwrap();
        let release = release_of(releases.into_iter().next().unwrap());
        assert_eq!(release.tag, "v1.0.0");
        assert_eq!(release.author.as_deref(), Some("octocat"));
        let comparison = comparison_of(
            serde_json::from_value(example(&spec, "commit-comparison")).unwrap(),
            "master",
            "topic",
        );
        assert_eq!(comparison.total_commits, 1);
        let commit = &comparison.commits[0];
        assert_eq!(commit.title, "Fix all the bugs");
        assert_eq!(commit.author.as_deref(), Some("octocat"));
    }

    fn with_link(link: &str) -> Answer {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::LINK, link.parse().unwrap());
        Answer {
            status: reqwest::StatusCode::OK,
            headers,
            body: Default::default(),
        }
    }

    #[test]
    fn the_next_page_is_the_links_query_on_the_same_address() {
        let here = "http://127.0.0.1:9/github/repos/acme/web/deployments?per_page=100";
        let link = "<https://api.github.com/repositories/1/deployments?per_page=100&page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\"";
        // GitHub's own links name api.github.com and a numeric path: the configured
        // address is asked for that page, and only it.
        assert_eq!(
            next_page(&with_link(link), here).unwrap().as_deref(),
            Some("http://127.0.0.1:9/github/repos/acme/web/deployments?per_page=100&page=2")
        );
        let elsewhere = "<https://evil.example/steal?page=2>; rel=\"next\"";
        assert_eq!(
            next_page(&with_link(elsewhere), here).unwrap().as_deref(),
            Some("http://127.0.0.1:9/github/repos/acme/web/deployments?page=2")
        );
        let no_page = "<https://api.github.com/elsewhere>; rel=\"next\"";
        assert!(next_page(&with_link(no_page), here).is_err());
        let relative = "</github/repos/acme/web/deployments?page=3>; rel=\"next\"";
        assert_eq!(
            next_page(&with_link(relative), here).unwrap().as_deref(),
            Some("http://127.0.0.1:9/github/repos/acme/web/deployments?page=3")
        );
        let last = "<http://127.0.0.1:9/x?page=1>; rel=\"first\"";
        assert_eq!(next_page(&with_link(last), here), Ok(None));
        let none = Answer {
            status: reqwest::StatusCode::OK,
            headers: Default::default(),
            body: Default::default(),
        };
        assert_eq!(next_page(&none, here), Ok(None));
    }

    #[tokio::test]
    async fn fuzzed_payloads_map_or_fail_never_panic() {
        let repo = "/github/repos/demo-org/payments-gateway";
        let mut seeds = crate::connectors::fuzz::served(&[
            &format!("{repo}/deployments?per_page=5"),
            &format!("{repo}/actions/runs?per_page=5"),
            &format!("{repo}/releases?per_page=5"),
        ])
        .await;
        let deployments: Vec<DeploymentPayload> = serde_json::from_slice(&seeds[0]).unwrap();
        let id = deployments[0].id;
        seeds.extend(
            crate::connectors::fuzz::served(&[&format!("{repo}/deployments/{id}/statuses")]).await,
        );
        crate::connectors::fuzz::fuzz("github payload", &seeds, |bytes| {
            let target = "github:demo-org/payments-gateway";
            if let Ok(list) = serde_json::from_slice::<Vec<DeploymentPayload>>(bytes) {
                list.into_iter()
                    .for_each(|d| drop(deployment_of(d, target)));
            }
            if let Ok(list) = serde_json::from_slice::<Vec<StatusPayload>>(bytes) {
                for status in list {
                    let _ = DeployStatus::from_github_state(&status.state);
                }
            }
            if let Ok(page) = serde_json::from_slice::<RunsPayload>(bytes) {
                page.workflow_runs
                    .into_iter()
                    .for_each(|r| drop(run_of(r, target)));
            }
            if let Ok(list) = serde_json::from_slice::<Vec<ReleasePayload>>(bytes) {
                list.into_iter().for_each(|r| drop(release_of(r)));
            }
            if let Ok(comparison) = serde_json::from_slice::<ComparisonPayload>(bytes) {
                let _ = comparison_of(comparison, "a", "b");
            }
        });
    }
}
