//! The sandbox's GitHub REST API, as `github/api.github.com.subset.json` says (checked by
//! tests/contract_delivery.rs): deployments and their statuses, Actions runs, releases and
//! compare (and `/rate_limit`), with bearer tokens, `Link` pagination, ETags answered with 304 (which do not count
//! against the quota, as on GitHub) and `X-RateLimit-*` headers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::actions::Actions;
use super::delivery::{
    read, repo_file, statuses, write, DeliveryWorld, Deploy, Repo, Run, ENVIRONMENTS,
    ROLLBACK_WORKFLOW,
};
use super::stable_hash;
use crate::domain::runbooks::{checked_inputs, workflow_inputs};

const DOCS: &str = "https://docs.github.com/rest";
pub(super) const WEB: &str = "https://github.com";
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

pub(super) struct GithubApi {
    pub token: String,
    pub world: Arc<RwLock<DeliveryWorld>>,
    pub actions: Arc<Actions>,
    /// The hour's requests (REST) and points (GraphQL); tests may lower it.
    pub hourly_limit: Arc<std::sync::atomic::AtomicU32>,
    /// The current hour's window: when it started and the requests it counted.
    pub quota: Mutex<(DateTime<Utc>, u32)>,
    /// GraphQL's hour, counted apart in points as on GitHub.
    points: Mutex<(DateTime<Utc>, u32)>,
    /// Every GraphQL point spent since the start, for the benchmarks.
    pub points_spent: Arc<std::sync::atomic::AtomicU64>,
}

impl GithubApi {
    pub(super) fn new(
        token: String,
        world: Arc<RwLock<DeliveryWorld>>,
        actions: Arc<Actions>,
    ) -> Self {
        let hourly_limit = Arc::new(std::sync::atomic::AtomicU32::new(read(&world).hourly_limit));
        Self {
            token,
            world,
            actions,
            hourly_limit,
            quota: Mutex::new((Utc::now(), 0)),
            points: Mutex::new((Utc::now(), 0)),
            points_spent: Default::default(),
        }
    }

    pub(super) fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(
                "/repos/{owner}/{repo}/deployments",
                get(deployments).post(create_deployment),
            )
            .route("/repos/{owner}/{repo}/actions/runs/{id}", get(one_run))
            .route("/repos/{owner}/{repo}/contents/{*path}", get(contents))
            .route(
                "/repos/{owner}/{repo}/actions/workflows/{workflow}/runs",
                get(workflow_runs),
            )
            .route(
                "/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches",
                post(dispatch),
            )
            .route(
                "/repos/{owner}/{repo}/deployments/{id}/statuses",
                get(deployment_statuses),
            )
            .route("/repos/{owner}/{repo}/actions/runs", get(runs))
            .route("/repos/{owner}/{repo}/releases", get(releases))
            .route("/repos/{owner}/{repo}/compare/{basehead}", get(compare))
            .route("/rate_limit", get(rate_limit))
            .route("/graphql", post(super::github_graphql::graphql))
            .with_state(self)
    }

    /// The token a request carries, as `Bearer` or `token`.
    pub(super) fn token_of(headers: &HeaderMap) -> Option<&str> {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("token "))
            })
    }

    /// The repository's index, if the token is right and it exists.
    fn admit(&self, headers: &HeaderMap, owner: &str, name: &str) -> Result<usize, Refusal> {
        if Self::token_of(headers) != Some(self.token.as_str()) {
            return Err(Refusal::Unauthorized);
        }
        let slug = format!("{owner}/{name}");
        read(&self.world)
            .repo_of_slug
            .get(&slug)
            .copied()
            .ok_or(Refusal::NotFound)
    }

    /// The hour's limit, what it has used, and when it resets, after counting `requests`.
    fn spend(&self, requests: u32) -> (u32, u32, DateTime<Utc>) {
        let mut quota = self.quota.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        if now - quota.0 >= Duration::hours(1) {
            *quota = (now, 0);
        }
        quota.1 += requests;
        (self.limit(), quota.1, quota.0 + Duration::hours(1))
    }

    fn limit(&self) -> u32 {
        self.hourly_limit.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes a GraphQL query's `cost` from the hour's points, unless fewer are left.
    pub(super) fn spend_points(&self, cost: u32) -> super::github_graphql::Points {
        let mut points = self.points.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        if now - points.0 >= Duration::hours(1) {
            *points = (now, 0);
        }
        let refused = points.1.saturating_add(cost) > self.limit();
        if !refused {
            points.1 += cost;
            self.points_spent
                .fetch_add(u64::from(cost), std::sync::atomic::Ordering::Relaxed);
        }
        super::github_graphql::Points {
            cost,
            limit: self.limit(),
            used: points.1,
            reset: points.0 + Duration::hours(1),
            refused,
        }
    }

    /// Answers `body`, or 304 when the client holds it; counts it against the quota unless
    /// it was a 304, as GitHub does.
    fn answer(&self, headers: &HeaderMap, body: &Value, link: Option<String>) -> Response {
        let text = body.to_string();
        let etag = format!("W/\"{:016x}\"", stable_hash(&text));
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|held| held == etag);
        let (limit, used, reset) = self.spend(u32::from(!fresh));
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                text,
            )
                .into_response()
        };
        let h = response.headers_mut();
        h.insert(
            header::ETAG,
            HeaderValue::from_str(&etag).expect("hex is a header"),
        );
        h.insert("x-ratelimit-limit", HeaderValue::from(limit));
        h.insert(
            "x-ratelimit-remaining",
            HeaderValue::from(limit.saturating_sub(used)),
        );
        h.insert("x-ratelimit-used", HeaderValue::from(used));
        h.insert("x-ratelimit-reset", HeaderValue::from(reset.timestamp()));
        h.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
        if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
            h.insert(header::LINK, link);
        }
        response
    }
}

/// Why a request is turned away.
pub(super) enum Refusal {
    Unauthorized,
    NotFound,
    Invalid(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => error(StatusCode::UNAUTHORIZED, "Bad credentials"),
            Self::NotFound => error(StatusCode::NOT_FOUND, "Not Found"),
            Self::Invalid(problem) => error(StatusCode::UNPROCESSABLE_ENTITY, &problem),
        }
    }
}

/// GitHub's error body: `{"message", "documentation_url", "status"}`.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        json!({"message": message, "documentation_url": DOCS, "status": status.as_u16().to_string()})
            .to_string(),
    )
        .into_response()
}

/// The error the sandbox's GitHub answers for a failure of its own (what chaos injects).
pub(super) fn server_error(status: StatusCode, message: &str, _url: &str) -> Response {
    error(status, message)
}

/// Where this request reached the sandbox: the base of the links it answers with.
fn api_base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}{}", super::GITHUB_PREFIX)
}

struct Paging {
    per_page: usize,
    page: usize,
}

fn paging(raw: Option<&str>) -> Result<(Paging, Vec<(String, String)>), Refusal> {
    let query: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| Refusal::Invalid(e.to_string()))?;
    let number = |name: &str, default: usize| -> Result<usize, Refusal> {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map_or(Ok(default), |(_, v)| {
                v.parse()
                    .map_err(|_| Refusal::Invalid(format!("{name} must be a positive integer")))
            })
    };
    Ok((
        Paging {
            per_page: number("per_page", DEFAULT_PER_PAGE)?.clamp(1, MAX_PER_PAGE),
            page: number("page", 1)?.max(1),
        },
        query,
    ))
}

/// One page of `items` and its `Link` header (next, last, first, prev as GitHub sends them).
fn page_of<T>(items: Vec<T>, paging: &Paging, url: &str) -> (Vec<T>, Option<String>) {
    let pages = items.len().div_ceil(paging.per_page).max(1);
    let link_to = |page: usize, rel: &str| {
        format!(
            "<{url}?per_page={}&page={page}>; rel=\"{rel}\"",
            paging.per_page
        )
    };
    let mut links = Vec::new();
    if paging.page < pages {
        links.push(link_to(paging.page + 1, "next"));
        links.push(link_to(pages, "last"));
    }
    if paging.page > 1 {
        links.push(link_to(1, "first"));
        links.push(link_to(paging.page - 1, "prev"));
    }
    let page = items
        .into_iter()
        .skip((paging.page - 1) * paging.per_page)
        .take(paging.per_page)
        .collect();
    (page, (!links.is_empty()).then(|| links.join(", ")))
}

fn simple_user(login: &str) -> Value {
    let id = (stable_hash(login) % 90_000_000) as i64 + 1_000;
    let api = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": id, "node_id": format!("U_{id:x}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}"),
        "gravatar_id": "", "url": api, "html_url": format!("{WEB}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"), "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": "User", "site_admin": false
    })
}

fn minimal_repository(base: &str, repo: &Repo) -> Value {
    let api = format!("{base}/repos/{}", repo.slug);
    let (owner, name) = repo
        .slug
        .split_once('/')
        .unwrap_or(("demo-org", &repo.slug));
    let mut value = json!({
        "id": repo.id, "node_id": format!("R_{:x}", repo.id), "name": name,
        "full_name": repo.slug, "owner": simple_user(owner), "private": true,
        "html_url": format!("{WEB}/{}", repo.slug), "description": null, "fork": false,
        "url": api,
    });
    for (field, path) in [
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ] {
        value[field] = json!(format!("{api}{path}"));
    }
    value
}

pub(super) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn deployment_json(world: &DeliveryWorld, base: &str, repo: &Repo, d: &Deploy) -> Value {
    let version = &repo.versions[d.version];
    let url = format!("{base}/repos/{}/deployments/{}", repo.slug, d.id);
    let environment = ENVIRONMENTS[d.environment];
    let updated = statuses(d, Utc::now())
        .first()
        .map_or(d.created_at, |s| s.1);
    json!({
        "url": url, "id": d.id, "node_id": format!("DE_{:x}", d.id),
        "sha": repo.sha(version.last_commit), "ref": version.name, "task": "deploy",
        "payload": d.payload.clone().unwrap_or_else(|| json!({})), "original_environment": environment, "environment": environment,
        "description": d.description, "creator": simple_user(&world.logins[d.creator]),
        "created_at": time(d.created_at), "updated_at": time(updated),
        "statuses_url": format!("{url}/statuses"),
        "repository_url": format!("{base}/repos/{}", repo.slug),
        "transient_environment": false, "production_environment": environment == "prod",
    })
}

async fn deployments(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let index = api.admit(&headers, &owner, &name)?;
    let world = read(&api.world);
    let repo = &world.repos[index];
    let (paging, query) = paging(raw.as_deref())?;
    let environment = query
        .iter()
        .find(|(k, _)| k == "environment")
        .map(|(_, v)| v);
    let base = api_base(&headers);
    let newest_first: Vec<&Deploy> = repo
        .deploys
        .iter()
        .rev()
        .filter(|d| environment.is_none_or(|e| ENVIRONMENTS[d.environment] == e))
        .collect();
    let (page, link) = page_of(
        newest_first,
        &paging,
        &format!("{base}/repos/{}/deployments", repo.slug),
    );
    let body: Vec<Value> = page
        .into_iter()
        .map(|d| deployment_json(&world, &base, repo, d))
        .collect();
    Ok(api.answer(&headers, &json!(body), link))
}

async fn deployment_statuses(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name, id)): Path<(String, String, i64)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let index = api.admit(&headers, &owner, &name)?;
    let world = read(&api.world);
    let repo = &world.repos[index];
    let Some(deploy) = repo.deploys.iter().find(|d| d.id == id) else {
        return Err(Refusal::NotFound);
    };
    let (paging, _) = paging(raw.as_deref())?;
    let base = api_base(&headers);
    let deployment_url = format!("{base}/repos/{}/deployments/{id}", repo.slug);
    let environment = ENVIRONMENTS[deploy.environment];
    let log_url = format!("{WEB}/{}/actions/runs/{}", repo.slug, 7_000_000 + id);
    let all: Vec<Value> = statuses(deploy, Utc::now())
        .into_iter()
        .enumerate()
        .map(|(n, (state, at))| {
            let status_id = id * 10 + n as i64;
            json!({
                "url": format!("{deployment_url}/statuses/{status_id}"), "id": status_id,
                "node_id": format!("DES_{status_id:x}"), "state": state,
                "creator": simple_user(&world.logins[deploy.creator]),
                "description": if state == "queued" { deploy.description.as_deref().unwrap_or("") } else { "" },
                "environment": environment, "target_url": log_url, "log_url": log_url,
                "environment_url": format!("https://{environment}.{}.demo.opsdeck.dev", name),
                "created_at": time(at), "updated_at": time(at),
                "deployment_url": deployment_url,
                "repository_url": format!("{base}/repos/{}", repo.slug),
            })
        })
        .collect();
    let (page, link) = page_of(all, &paging, &format!("{deployment_url}/statuses"));
    Ok(api.answer(&headers, &json!(page), link))
}

fn run_json(world: &DeliveryWorld, base: &str, repo: &Repo, run: &Run) -> Value {
    let sha = repo.sha(run.commit);
    let api_url = format!("{base}/repos/{}/actions/runs/{}", repo.slug, run.id);
    let started = run.created_at + Duration::seconds(5);
    let now = Utc::now();
    let (status, conclusion) = run.state_at(now);
    let updated = run.updated_at(now);
    let author = &world.logins[(stable_hash(&sha) % world.logins.len() as u64) as usize];
    let workflow_id = stable_hash(run.path) % 1_000_000;
    json!({
        "id": run.id, "name": run.workflow, "node_id": format!("WFR_{:x}", run.id),
        "head_branch": "main", "head_sha": sha, "path": format!("{}@main", run.path),
        "display_title": commit_title(repo, run.commit), "run_number": run.id % 10_000,
        "run_attempt": 1, "event": run.event, "status": status, "conclusion": conclusion,
        "workflow_id": workflow_id, "check_suite_id": run.id * 3,
        "url": api_url, "html_url": format!("{WEB}/{}/actions/runs/{}", repo.slug, run.id),
        "pull_requests": [], "created_at": time(run.created_at), "updated_at": time(updated),
        "run_started_at": time(started), "actor": simple_user(author),
        "triggering_actor": simple_user(author),
        "jobs_url": format!("{api_url}/jobs"), "logs_url": format!("{api_url}/logs"),
        "check_suite_url": format!("{base}/repos/{}/check-suites/{}", repo.slug, run.id * 3),
        "artifacts_url": format!("{api_url}/artifacts"), "cancel_url": format!("{api_url}/cancel"),
        "rerun_url": format!("{api_url}/rerun"),
        "workflow_url": format!("{base}/repos/{}/actions/workflows/{workflow_id}", repo.slug),
        "head_commit": {
            "id": sha, "tree_id": repo.sha(run.commit + 100_000),
            "message": commit_title(repo, run.commit),
            "timestamp": time(repo.authored_at(run.commit, world.started)),
            "author": {"name": author, "email": format!("{author}@demo.opsdeck.dev")},
            "committer": {"name": "GitHub", "email": "noreply@github.com"},
        },
        "repository": minimal_repository(base, repo),
        "head_repository": minimal_repository(base, repo),
    })
}

async fn runs(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let index = api.admit(&headers, &owner, &name)?;
    let world = read(&api.world);
    let repo = &world.repos[index];
    let (paging, _) = paging(raw.as_deref())?;
    let base = api_base(&headers);
    let total = repo.runs.len();
    let newest_first: Vec<&Run> = repo.runs.iter().rev().collect();
    let (page, link) = page_of(
        newest_first,
        &paging,
        &format!("{base}/repos/{}/actions/runs", repo.slug),
    );
    let body = json!({
        "total_count": total,
        "workflow_runs": page.into_iter().map(|r| run_json(&world, &base, repo, r)).collect::<Vec<_>>(),
    });
    Ok(api.answer(&headers, &body, link))
}

async fn releases(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let index = api.admit(&headers, &owner, &name)?;
    let world = read(&api.world);
    let repo = &world.repos[index];
    let (paging, _) = paging(raw.as_deref())?;
    let base = api_base(&headers);
    let newest_first: Vec<(usize, &super::delivery::Version)> =
        repo.versions.iter().enumerate().rev().collect();
    let (page, link) = page_of(
        newest_first,
        &paging,
        &format!("{base}/repos/{}/releases", repo.slug),
    );
    let body: Vec<Value> = page
        .into_iter()
        .map(|(i, v)| {
            let id = repo.id * 1_000 + i as i64;
            let url = format!("{base}/repos/{}/releases/{id}", repo.slug);
            let author = &world.logins[(stable_hash(&v.name) % world.logins.len() as u64) as usize];
            json!({
                "url": url, "html_url": format!("{WEB}/{}/releases/tag/{}", repo.slug, v.name),
                "assets_url": format!("{url}/assets"),
                "upload_url": format!("https://uploads.github.com/repos/{}/releases/{id}/assets{{?name,label}}", repo.slug),
                "tarball_url": format!("{base}/repos/{}/tarball/{}", repo.slug, v.name),
                "zipball_url": format!("{base}/repos/{}/zipball/{}", repo.slug, v.name),
                "id": id, "node_id": format!("RE_{id:x}"), "tag_name": v.name,
                "target_commitish": "main", "name": v.name, "body": null, "draft": false,
                "prerelease": false, "created_at": time(v.released_at - Duration::minutes(10)),
                "published_at": time(v.released_at), "author": simple_user(author), "assets": [],
            })
        })
        .collect();
    Ok(api.answer(&headers, &json!(body), link))
}

const TITLES: &[&str] = &[
    "Retry idempotent calls to the ledger",
    "Bump dependencies",
    "Add metrics for cache hits",
    "Fix timeout handling on slow upstreams",
    "Tune connection pool size",
    "Log request ids on errors",
    "Remove dead feature flag",
    "Validate currency codes",
    "Speed up batch writes",
    "Handle empty carts in totals",
    "Reject expired tokens early",
    "Raise error-rate alert threshold",
];

pub(super) fn commit_title(repo: &Repo, index: u32) -> String {
    TITLES[(stable_hash(&repo.sha(index)) % TITLES.len() as u64) as usize].to_string()
}

fn commit_json(world: &DeliveryWorld, base: &str, repo: &Repo, index: u32) -> Value {
    let sha = repo.sha(index);
    let login = &world.logins[(stable_hash(&sha) % world.logins.len() as u64) as usize];
    let api_url = format!("{base}/repos/{}/commits/{sha}", repo.slug);
    let at = time(repo.authored_at(index, world.started));
    let parents: Vec<Value> = index
        .checked_sub(1)
        .map(|p| {
            let parent = repo.sha(p);
            json!({"sha": parent, "url": format!("{base}/repos/{}/commits/{parent}", repo.slug),
                   "html_url": format!("{WEB}/{}/commit/{parent}", repo.slug)})
        })
        .into_iter()
        .collect();
    json!({
        "url": api_url, "sha": sha, "node_id": format!("C_{}", &sha[..12]),
        "html_url": format!("{WEB}/{}/commit/{sha}", repo.slug),
        "comments_url": format!("{api_url}/comments"),
        "commit": {
            "url": format!("{base}/repos/{}/git/commits/{sha}", repo.slug),
            "author": {"name": login, "email": format!("{login}@demo.opsdeck.dev"), "date": at},
            "committer": {"name": login, "email": format!("{login}@demo.opsdeck.dev"), "date": at},
            "message": format!("{}\n\nPart of the regular release train.", commit_title(repo, index)),
            "comment_count": 0,
            "tree": {"sha": repo.sha(index + 100_000),
                     "url": format!("{base}/repos/{}/git/trees/{}", repo.slug, repo.sha(index + 100_000))},
            "verification": {"verified": false, "reason": "unsigned", "payload": null,
                             "signature": null, "verified_at": null},
        },
        "author": simple_user(login), "committer": simple_user(login), "parents": parents,
    })
}

/// An unauthenticated caller's hourly requests on GitHub.
const ANONYMOUS_LIMIT: u32 = 60;

/// `GET /rate_limit`, which costs nothing: the token's hour (a classic token's scopes in
/// `X-OAuth-Scopes`), an anonymous caller's 60, or 401 for a token GitHub does not know.
async fn rate_limit(State(api): State<Arc<GithubApi>>, headers: HeaderMap) -> Response {
    let (limit, used, reset) = match GithubApi::token_of(&headers) {
        None => (ANONYMOUS_LIMIT, 0, Utc::now() + Duration::hours(1)),
        Some(token) if token == api.token => api.spend(0),
        Some(_) => return Refusal::Unauthorized.into_response(),
    };
    let window = json!({
        "limit": limit, "remaining": limit.saturating_sub(used), "used": used,
        "reset": reset.timestamp(),
    });
    let search = json!({"limit": 30, "remaining": 30, "used": 0, "reset": reset.timestamp()});
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        json!({"resources": {"core": window, "search": search}, "rate": window}).to_string(),
    )
        .into_response();
    if GithubApi::token_of(&headers).is_some() {
        response
            .headers_mut()
            .insert("x-oauth-scopes", HeaderValue::from_static("repo, workflow"));
    }
    response
}

async fn compare(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name, basehead)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let index = api.admit(&headers, &owner, &name)?;
    let world = read(&api.world);
    let repo = &world.repos[index];
    let Some((base_sha, head_sha)) = basehead.split_once("...") else {
        return Err(Refusal::NotFound);
    };
    let (Some(base), Some(head)) = (repo.commit_of(base_sha), repo.commit_of(head_sha)) else {
        return Err(Refusal::NotFound);
    };
    let api_base = api_base(&headers);
    let (status, ahead, behind) = match head.cmp(&base) {
        std::cmp::Ordering::Greater => ("ahead", head - base, 0),
        std::cmp::Ordering::Less => ("behind", 0, base - head),
        std::cmp::Ordering::Equal => ("identical", 0, 0),
    };
    let commits: Vec<Value> = (base + 1..=head.max(base))
        .take(250)
        .map(|i| commit_json(&world, &api_base, repo, i))
        .collect();
    let html = format!("{WEB}/{}/compare/{basehead}", repo.slug);
    let body = json!({
        "url": format!("{api_base}/repos/{}/compare/{basehead}", repo.slug),
        "html_url": html, "permalink_url": html.clone(),
        "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
        "base_commit": commit_json(&world, &api_base, repo, base),
        "merge_base_commit": commit_json(&world, &api_base, repo, base.min(head)),
        "status": status, "ahead_by": ahead, "behind_by": behind,
        "total_commits": ahead, "commits": commits, "files": [],
    });
    Ok(api.answer(&headers, &body, None))
}

/// What GitHub says when a token may read but not write.
const FORBIDDEN: &str = "Resource not accessible by personal access token";

fn body_of(raw: &str) -> Result<Value, Refusal> {
    serde_json::from_str(raw).map_err(|e| Refusal::Invalid(format!("Problems parsing JSON: {e}")))
}

/// `POST /repos/{owner}/{repo}/deployments`: `ref` (a SHA or a version tag) to `environment`.
async fn create_deployment(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    raw: String,
) -> Result<Response, Refusal> {
    let index = api.admit(&headers, &owner, &name)?;
    let body = body_of(&raw)?;
    let spec = api.actions.receive();
    if let Some(refused) = spec.refusal(error, FORBIDDEN) {
        return Ok(refused);
    }
    let wanted = body.get("ref").and_then(Value::as_str).unwrap_or_default();
    let environment = body
        .get("environment")
        .and_then(Value::as_str)
        .unwrap_or("production");
    let mut world = write(&api.world);
    let repo = &world.repos[index];
    let Some(version) = repo
        .versions
        .iter()
        .position(|v| v.name == wanted || repo.sha(v.last_commit) == wanted)
    else {
        return Err(Refusal::Invalid(format!("No ref found for: {wanted}")));
    };
    let Some(environment) = ENVIRONMENTS.iter().position(|e| *e == environment) else {
        return Err(Refusal::Invalid(format!(
            "environment '{environment}' is not one of {}",
            ENVIRONMENTS.join(", ")
        )));
    };
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    let payload = body.get("payload").cloned().filter(Value::is_object);
    let id = world.create_deploy(
        index,
        (version, environment),
        spec.rollout(),
        description,
        payload,
    );
    let base = api_base(&headers);
    let repo = &world.repos[index];
    let created = repo
        .deploys
        .iter()
        .find(|d| d.id == id)
        .expect("just created");
    let answer = (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        deployment_json(&world, &base, repo, created).to_string(),
    )
        .into_response();
    Ok(spec.deliver(answer))
}

/// `POST …/actions/workflows/{workflow}/dispatches`: a workflow the repository holds, with
/// its inputs checked as GitHub does against the file's `workflow_dispatch` declarations. The
/// rollback workflow also deploys `version` to `environment`.
async fn dispatch(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name, workflow)): Path<(String, String, String)>,
    headers: HeaderMap,
    raw: String,
) -> Result<Response, Refusal> {
    let index = api.admit(&headers, &owner, &name)?;
    let slug = format!("{owner}/{name}");
    let file =
        repo_file(&slug, &format!(".github/workflows/{workflow}")).ok_or(Refusal::NotFound)?;
    let body = body_of(&raw)?;
    if body.get("ref").and_then(Value::as_str).is_none() {
        return Err(Refusal::Invalid(
            "Invalid request: \"ref\" wasn't supplied.".into(),
        ));
    }
    let given: BTreeMap<String, String> = body
        .get("inputs")
        .and_then(Value::as_object)
        .map(|inputs| {
            inputs
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let declared = workflow_inputs(file.text).map_err(Refusal::Invalid)?;
    let inputs = checked_inputs(&declared, &given)
        .map_err(|problems| Refusal::Invalid(format!("Invalid inputs: {}", problems.join("; "))))?;
    let spec = api.actions.receive();
    if let Some(refused) = spec.refusal(error, FORBIDDEN) {
        return Ok(refused);
    }
    let mut world = write(&api.world);
    let deploys = if file == ROLLBACK_WORKFLOW {
        let repo = &world.repos[index];
        let (version, environment) = (&inputs["version"], &inputs["environment"]);
        let (Some(version), Some(environment)) = (
            repo.versions.iter().position(|v| &v.name == version),
            ENVIRONMENTS.iter().position(|e| e == environment),
        ) else {
            return Err(Refusal::Invalid(format!(
                "Invalid inputs: environment '{environment}' or version '{version}' is unknown"
            )));
        };
        Some((version, environment))
    } else {
        None
    };
    let run = world.dispatch(index, &file, deploys, spec.rollout());
    let answer = if body.get("return_run_details") == Some(&Value::Bool(true)) {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            json!({
                "workflow_run_id": run,
                "run_url": format!("{}/repos/{slug}/actions/runs/{run}", api_base(&headers)),
                "html_url": format!("{WEB}/{slug}/actions/runs/{run}"),
            })
            .to_string(),
        )
            .into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    Ok(spec.deliver(answer))
}

/// `GET /repos/{owner}/{repo}/contents/{path}` (`content-file`): the repository's files on
/// `main` (the default), base64 in lines of 60 as GitHub sends them.
async fn contents(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name, path)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    api.admit(&headers, &owner, &name)?;
    let (_, query) = paging(raw.as_deref())?;
    let git_ref = query
        .iter()
        .find(|(k, _)| k == "ref")
        .map_or("main", |(_, v)| v.as_str());
    let slug = format!("{owner}/{name}");
    if git_ref != "main" {
        return Err(Refusal::NotFound);
    }
    let file = repo_file(&slug, &path).ok_or(Refusal::NotFound)?;
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(file.text);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    let sha = format!(
        "{:016x}{:016x}{:08x}",
        stable_hash(file.text),
        stable_hash(&slug),
        stable_hash(file.path) as u32
    );
    let base = api_base(&headers);
    let api_url = format!("{base}/repos/{slug}/contents/{}?ref=main", file.path);
    let html = format!("{WEB}/{slug}/blob/main/{}", file.path);
    let git = format!("{base}/repos/{slug}/git/blobs/{sha}");
    let body = json!({
        "type": "file", "encoding": "base64", "size": file.text.len(),
        "name": file.path.rsplit('/').next().unwrap_or(file.path), "path": file.path,
        "content": format!("{}\n", lines.join("\n")), "sha": sha, "url": api_url,
        "git_url": git, "html_url": html,
        "download_url": format!("https://raw.githubusercontent.com/{slug}/main/{}", file.path),
        "_links": {"git": git, "self": api_url, "html": html},
    });
    Ok(api.answer(&headers, &body, None))
}

async fn one_run(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name, id)): Path<(String, String, i64)>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let index = api.admit(&headers, &owner, &name)?;
    let world = read(&api.world);
    let repo = &world.repos[index];
    let run = repo
        .runs
        .iter()
        .find(|r| r.id == id)
        .ok_or(Refusal::NotFound)?;
    let body = run_json(&world, &api_base(&headers), repo, run);
    Ok(api.answer(&headers, &body, None))
}

/// A workflow's runs, newest first, filtered by `event` and `created` (`>=TIME`).
async fn workflow_runs(
    State(api): State<Arc<GithubApi>>,
    Path((owner, name, workflow)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Refusal> {
    let index = api.admit(&headers, &owner, &name)?;
    let (paging, query) = paging(raw.as_deref())?;
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let since = match get("created").and_then(|c| c.strip_prefix(">=")) {
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|_| Refusal::Invalid(format!("created: '{text}' is not a time")))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let world = read(&api.world);
    let repo = &world.repos[index];
    let base = api_base(&headers);
    let matching: Vec<&Run> = repo
        .runs
        .iter()
        .rev()
        .filter(|r| r.path.ends_with(&format!("/{workflow}")))
        .filter(|r| get("event").is_none_or(|e| e == r.event))
        .filter(|r| since.is_none_or(|s| r.created_at >= s))
        .collect();
    let total = matching.len();
    let (page, link) = page_of(
        matching,
        &paging,
        &format!(
            "{base}/repos/{}/actions/workflows/{workflow}/runs",
            repo.slug
        ),
    );
    let body = json!({
        "total_count": total,
        "workflow_runs": page.into_iter().map(|r| run_json(&world, &base, repo, r)).collect::<Vec<_>>(),
    });
    Ok(api.answer(&headers, &body, link))
}
