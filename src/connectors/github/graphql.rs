//! What a sync reads from GitHub, through GraphQL (`POST /graphql`, the schema in
//! `github/graphql/schema.graphql`): deployments with their latest status, releases, and the
//! Actions runs of the default branch's newest commits (their check suites' workflow runs), for
//! many repositories a query (one alias each), paging inside each repository newest first down
//! to what the cache holds.
//!
//! A sync first *probes* every repository the cache already holds, many to a query: its
//! newest deployments, newest release and default branch head, enough to see what moved.
//! Then it reads *deeply*, fewer to a query, only what moved (and everything of a repository
//! read for the first time). Every query asks `rateLimit { cost remaining resetAt }`: when the
//! points left would not pay for the next query, the sync stops there, lands nothing, and
//! says when GitHub's hour resets.
//!
//! What the last read saw (a repository's newest release, the head its runs were read at) is
//! kept with the page ETags, under keys of their own, so an unchanged repository costs one
//! alias in a probe and nothing more.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    deployment_of, Conditional, DeploymentPayload, Finished, GithubConnector, RepoKnown, RepoRead,
    UserPayload, HISTORY_DAYS, MAX_DEPLOYMENT_PAGES, PAGE_SIZE,
};
use crate::connectors::http::RequestMeter;
use crate::connectors::rate_limit;
use crate::connectors::{ConnectorError, FailureKind, FetchProgress};
use crate::domain::delivery::{DeliveryTarget, DeployStatus, Deployment, PipelineRun, Release};
use crate::text::one_line;

/// Repositories probed per query: small selections (two connections each, 4 points a query),
/// so an unchanged sync of 8,000 repositories is about 40 queries.
const PROBE_BATCH: usize = 200;

/// Repositories read deeply per query: a full page of deployments, releases and the runs of
/// 20 commits each, about 6 points a query, well inside GitHub's node and time limits.
const DEEP_BATCH: usize = 25;

/// Deployments a probe reads per repository: enough that the open ones are usually among them.
const PROBE_DEPLOYMENTS: usize = 10;

/// Commits of the default branch whose runs are read.
const HISTORY_COMMITS: usize = 20;

/// Check suites read per commit (one per workflow that ran on it).
const SUITES_PER_COMMIT: usize = 10;

/// Prefix of the keys under which what a read saw is kept beside the page ETags.
const SEEN_RELEASE: &str = "graphql:newest-release:";
const SEEN_RUNS_AT: &str = "graphql:runs-read-at:";

const DEPLOYMENTS_FRAGMENT: &str = "fragment OpsdeckDeployments on DeploymentConnection {
  pageInfo { hasNextPage endCursor }
  nodes {
    databaseId environment commitOid createdAt description payload
    ref { name }
    creator { login }
    latestStatus { state description logUrl environmentUrl createdAt }
  }
}";

const RELEASES_FRAGMENT: &str = "fragment OpsdeckReleases on ReleaseConnection {
  nodes { tagName name publishedAt isDraft isPrerelease url author { login } }
}";

const RUNS_FRAGMENT: &str = "fragment OpsdeckRuns on Commit {
  history(first: HISTORY_COMMITS) {
    nodes {
      oid messageHeadline
      checkSuites(first: SUITES_PER_COMMIT) {
        nodes {
          status conclusion createdAt updatedAt
          branch { name }
          workflowRun { databaseId runNumber event url createdAt updatedAt workflow { name } }
        }
      }
    }
  }
}";

/// What one repository's alias asks.
#[derive(Debug, Clone, Default, PartialEq)]
struct Asked {
    /// Deployments: how many, after which cursor.
    deployments: Option<(usize, Option<String>)>,
    /// Releases: how many (1 in a probe: the newest, to compare).
    releases: Option<usize>,
    /// The default branch's head; with its commits' runs when `true`.
    head: Option<bool>,
}

impl Asked {
    fn probe() -> Self {
        Self {
            deployments: Some((PROBE_DEPLOYMENTS, None)),
            releases: Some(1),
            head: Some(false),
        }
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One query: `rateLimit`, and one `repository` alias per entry.
fn query_of(repos: &[(&str, &Asked)]) -> (String, Map<String, Value>) {
    let mut declared = Vec::new();
    let mut body = String::from("  rateLimit { cost remaining resetAt }\n");
    let mut variables = Map::new();
    let (mut deployments, mut releases, mut runs) = (false, false, false);
    for (n, (slug, asked)) in repos.iter().enumerate() {
        let (owner, name) = slug.split_once('/').unwrap_or((slug, ""));
        declared.push(format!("$o{n}: String!, $n{n}: String!"));
        variables.insert(format!("o{n}"), Value::from(owner));
        variables.insert(format!("n{n}"), Value::from(name));
        body.push_str(&format!(
            "  r{n}: repository(owner: $o{n}, name: $n{n}) {{\n"
        ));
        if let Some((first, after)) = &asked.deployments {
            deployments = true;
            let after = match after {
                Some(cursor) => {
                    declared.push(format!("$a{n}: String"));
                    variables.insert(format!("a{n}"), Value::from(cursor.as_str()));
                    format!(", after: $a{n}")
                }
                None => String::new(),
            };
            body.push_str(&format!(
                "    deployments(first: {first}{after}, orderBy: {{field: CREATED_AT, direction: DESC}}) {{ ...OpsdeckDeployments }}\n"
            ));
        }
        match asked.releases {
            Some(1) => body.push_str(
                "    newestRelease: releases(first: 1, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { tagName } }\n",
            ),
            Some(first) => {
                releases = true;
                body.push_str(&format!(
                    "    releases(first: {first}, orderBy: {{field: CREATED_AT, direction: DESC}}) {{ ...OpsdeckReleases }}\n"
                ));
            }
            None => {}
        }
        match asked.head {
            Some(true) => {
                runs = true;
                body.push_str("    defaultBranchRef { target { oid ...OpsdeckRuns } }\n");
            }
            Some(false) => body.push_str("    defaultBranchRef { target { oid } }\n"),
            None => {}
        }
        body.push_str("  }\n");
    }
    let mut text = format!(
        "query OpsdeckDeliveries({}) {{\n{body}}}\n",
        declared.join(", ")
    );
    for (used, fragment) in [
        (deployments, DEPLOYMENTS_FRAGMENT.to_string()),
        (releases, RELEASES_FRAGMENT.to_string()),
        (
            runs,
            RUNS_FRAGMENT
                .replace("HISTORY_COMMITS", &HISTORY_COMMITS.to_string())
                .replace("SUITES_PER_COMMIT", &SUITES_PER_COMMIT.to_string()),
        ),
    ] {
        if used {
            text.push_str(&fragment);
            text.push('\n');
        }
    }
    (text, variables)
}

/// A query of every shape a sync sends (a probe; a deep read with each part, after a cursor
/// and without), for the contract tests to validate against GitHub's schema.
pub fn example_queries() -> Vec<String> {
    let deep = Asked {
        deployments: Some((PAGE_SIZE, None)),
        releases: Some(PAGE_SIZE),
        head: Some(true),
    };
    let next_page = Asked {
        deployments: Some((PAGE_SIZE, Some("Y3Vyc29yOjEwMA==".into()))),
        ..Asked::default()
    };
    vec![
        query_of(&[("acme/web", &Asked::probe()), ("acme/api", &Asked::probe())]).0,
        query_of(&[("acme/web", &deep), ("acme/api", &next_page)]).0,
    ]
}

#[derive(Deserialize)]
struct Answer {
    data: Option<Map<String, Value>>,
    #[serde(default)]
    errors: Vec<QueryError>,
}

/// A GraphQL error as GitHub words it: `type` (`NOT_FOUND`, `RATE_LIMITED`, …) or an
/// `extensions.code` (`undefinedField`, …), the alias it concerns in `path`.
#[derive(Debug, Deserialize)]
struct QueryError {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    message: String,
    #[serde(default)]
    path: Vec<Value>,
    #[serde(default)]
    extensions: Option<ErrorExtensions>,
}

#[derive(Debug, Deserialize)]
struct ErrorExtensions {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Points {
    cost: i64,
    remaining: i64,
    reset_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepoData {
    #[serde(default)]
    deployments: Option<DeploymentPage>,
    #[serde(default)]
    releases: Option<Nodes<ReleaseNode>>,
    /// A probe's newest release.
    #[serde(default)]
    newest_release: Option<Nodes<ReleaseTag>>,
    #[serde(default)]
    default_branch_ref: Option<BranchRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseTag {
    tag_name: String,
}

#[derive(Deserialize)]
struct Nodes<T> {
    #[serde(default = "Vec::new")]
    nodes: Vec<Option<T>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentPage {
    page_info: PageInfo,
    #[serde(default)]
    nodes: Vec<Option<DeploymentNode>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentNode {
    database_id: Option<i64>,
    environment: Option<String>,
    commit_oid: String,
    created_at: DateTime<Utc>,
    description: Option<String>,
    payload: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<Named>,
    creator: Option<UserPayload>,
    latest_status: Option<StatusNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusNode {
    state: String,
    description: Option<String>,
    log_url: Option<String>,
    environment_url: Option<String>,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseNode {
    tag_name: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    published_at: Option<DateTime<Utc>>,
    #[serde(default)]
    is_draft: bool,
    #[serde(default)]
    is_prerelease: bool,
    url: String,
    #[serde(default)]
    author: Option<UserPayload>,
}

#[derive(Deserialize)]
struct BranchRef {
    target: Option<HeadCommit>,
}

#[derive(Deserialize)]
struct HeadCommit {
    oid: String,
    #[serde(default)]
    history: Option<Nodes<CommitNode>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitNode {
    oid: String,
    message_headline: String,
    check_suites: Option<Nodes<SuiteNode>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SuiteNode {
    status: String,
    conclusion: Option<String>,
    updated_at: DateTime<Utc>,
    branch: Option<Named>,
    workflow_run: Option<RunNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunNode {
    database_id: Option<i64>,
    event: String,
    url: String,
    created_at: DateTime<Utc>,
    workflow: Named,
}

/// One repository's read in progress.
struct Reading<'a> {
    slug: &'a str,
    target: String,
    known: &'a RepoKnown,
    read: RepoRead,
    /// What the next deep query asks of it.
    next: Asked,
    deployment_pages: usize,
    /// What the last sync saw, and what this one did.
    seen_release: Option<&'a String>,
    seen_runs_at: Option<&'a String>,
    newest_release: Option<String>,
    runs_read_at: Option<String>,
    /// Held open deployments the reads came across (changed or not).
    reached: Vec<String>,
}

/// GitHub's points as the last answer counted them.
#[derive(Default)]
struct Budget {
    /// What would be left after another query costing what the last one did, and when the
    /// hour resets.
    left: Option<(i64, DateTime<Utc>)>,
}

impl GithubConnector {
    /// Reads `repos` through GraphQL, handing each repository's read to `finished` once it is
    /// whole (a few dozen repositories are in memory at a time, however many there are);
    /// returns what the reads saw, for the next sync. `None` when this GitHub's GraphQL does
    /// not have the fields a sync needs (an older GitHub Enterprise): the REST read is the way
    /// then, and what REST reads of a repository already handed over replaces it.
    pub(super) async fn fetch_graphql(
        &self,
        repos: &[(String, RepoKnown)],
        held: &HashMap<String, String>,
        now: DateTime<Utc>,
        meter: &RequestMeter,
        progress: &mut (dyn FnMut(FetchProgress) + Send),
        finished: &Finished,
    ) -> Result<Option<HashMap<String, String>>, ConnectorError> {
        let horizon = now - Duration::days(HISTORY_DAYS);
        let mut readings: Vec<Reading> = repos
            .iter()
            .map(|(slug, known)| Reading {
                slug,
                target: DeliveryTarget::GithubRepo(slug.clone()).key(),
                known,
                read: RepoRead {
                    slug: slug.clone(),
                    ..RepoRead::default()
                },
                next: Asked::default(),
                deployment_pages: 0,
                seen_release: held.get(&format!("{SEEN_RELEASE}{slug}")),
                seen_runs_at: held.get(&format!("{SEEN_RUNS_AT}{slug}")),
                newest_release: None,
                runs_read_at: None,
                reached: Vec::new(),
            })
            .collect();
        let conditional = Conditional {
            held,
            read: Default::default(),
        };
        let mut budget = Budget::default();
        // Queries sent, and repositories handed over.
        let mut read_so_far = FetchProgress {
            total: Some(readings.len()),
            ..FetchProgress::default()
        };

        // Probe the repositories read before; one read for the first time is read whole.
        let (held_repos, mut deep): (Vec<usize>, Vec<usize>) = (0..readings.len()).partition(|i| {
            readings[*i].known.newest.is_some() || readings[*i].seen_release.is_some()
        });
        for &i in &deep {
            readings[i].next = Asked {
                deployments: Some((PAGE_SIZE, None)),
                releases: Some(PAGE_SIZE),
                head: Some(true),
            };
        }
        for batch in held_repos.chunks(PROBE_BATCH) {
            let asked: Vec<Asked> = batch.iter().map(|_| Asked::probe()).collect();
            let Some(answers) = self
                .query(&readings, batch, &asked, &mut budget, meter)
                .await?
            else {
                return Ok(None);
            };
            let mut whole = Vec::new();
            for (&i, data) in batch.iter().zip(answers) {
                readings[i].probed(data, horizon);
                if readings[i].next.is_empty() {
                    whole.push(i);
                } else {
                    deep.push(i);
                }
            }
            self.hand_over(&mut readings, &whole, &conditional, meter, finished)
                .await?;
            read_so_far.pages += 1;
            read_so_far.items += whole.len();
            progress(read_so_far);
        }

        // Deep reads, DEEP_BATCH repositories a query: one leaves when it is whole and the
        // next waiting takes its place, so each query is full and few are in memory.
        let mut waiting = deep.into_iter();
        let mut active: Vec<usize> = Vec::with_capacity(DEEP_BATCH);
        loop {
            active.extend(waiting.by_ref().take(DEEP_BATCH - active.len()));
            if active.is_empty() {
                break;
            }
            let asked: Vec<Asked> = active
                .iter()
                .map(|i| std::mem::take(&mut readings[*i].next))
                .collect();
            let Some(answers) = self
                .query(&readings, &active, &asked, &mut budget, meter)
                .await?
            else {
                return Ok(None);
            };
            for ((&i, data), asked) in active.iter().zip(answers).zip(&asked) {
                readings[i].read_deeply(data, asked, horizon);
            }
            let (whole, going): (Vec<usize>, Vec<usize>) =
                active.iter().partition(|i| readings[**i].next.is_empty());
            active = going;
            self.hand_over(&mut readings, &whole, &conditional, meter, finished)
                .await?;
            read_so_far.pages += 1;
            read_so_far.items += whole.len();
            progress(read_so_far);
        }

        let (mut marks, _) = conditional
            .read
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        for reading in readings {
            let slug = reading.slug;
            if let Some(tag) = reading.newest_release.or(reading.seen_release.cloned()) {
                marks.insert(format!("{SEEN_RELEASE}{slug}"), tag);
            }
            if let Some(head) = reading.runs_read_at.or(reading.seen_runs_at.cloned()) {
                marks.insert(format!("{SEEN_RUNS_AT}{slug}"), head);
            }
        }
        Ok(Some(marks))
    }

    /// Hands the reads of `whole` over to `finished`, first asking (over REST, one by one) the
    /// statuses of open deployments the reads did not reach.
    async fn hand_over(
        &self,
        readings: &mut [Reading<'_>],
        whole: &[usize],
        conditional: &Conditional<'_>,
        meter: &RequestMeter,
        finished: &Finished,
    ) -> Result<(), ConnectorError> {
        let mut reads = Vec::with_capacity(whole.len());
        for &i in whole {
            let reading = &mut readings[i];
            for open in &reading.known.open {
                let seen = reading.reached.contains(&open.id)
                    || reading.read.deployments.iter().any(|d| d.id == open.id);
                if seen {
                    continue;
                }
                let url = self.statuses_url(reading.slug, &open.id, PAGE_SIZE);
                if let Some(updated) = self
                    .with_status(open.clone(), &url, conditional, meter)
                    .await?
                {
                    if updated != *open {
                        reading.read.deployments.push(updated);
                    }
                }
            }
            let slug = reading.read.slug.clone();
            reads.push(std::mem::replace(
                &mut reading.read,
                RepoRead {
                    slug,
                    ..RepoRead::default()
                },
            ));
        }
        if !reads.is_empty() {
            self.hand(finished, reads).await?;
        }
        Ok(())
    }

    /// Sends one query for the repositories `batch` (indexes into `readings`), each asked
    /// `asked`; the data of each alias, in order. `None` when this GitHub has no GraphQL
    /// endpoint or its schema lacks a field asked.
    async fn query(
        &self,
        readings: &[Reading<'_>],
        batch: &[usize],
        asked: &[Asked],
        budget: &mut Budget,
        meter: &RequestMeter,
    ) -> Result<Option<Vec<RepoData>>, ConnectorError> {
        if let Some((left, reset)) = budget.left {
            if left < 0 {
                return Err(self
                    .platform()
                    .error(
                        FailureKind::RateLimited,
                        format!(
                            "GitHub's GraphQL points for this hour are spent; the sync resumes when they reset at {}; nothing was replaced",
                            reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                    )
                    .with_retry_after(Some(reset)));
            }
        }
        let repos: Vec<(&str, &Asked)> = batch
            .iter()
            .zip(asked)
            .map(|(i, asked)| (readings[*i].slug, asked))
            .collect();
        let (text, variables) = query_of(&repos);
        let url = self.graphql_url();
        let body = serde_json::json!({ "query": text, "variables": variables });
        let answer: Answer = match self
            .platform()
            .get_json(self.endpoint.reader(meter), &url, || {
                self.action(reqwest::Method::POST, &url).json(&body)
            })
            .await
        {
            // No GraphQL endpoint at all: a GitHub Enterprise of old, or a proxy in front of
            // REST alone.
            Err(missing) if missing.kind == FailureKind::NotFound => return Ok(None),
            other => other?,
        };
        if let Some(error) = answer.errors.first() {
            let code = error.extensions.as_ref().and_then(|e| e.code.as_deref());
            if answer.data.is_none() && code == Some("undefinedField") {
                return Ok(None);
            }
            return Err(self
                .query_error(error, batch, readings)
                .with_retry_after(budget.left.map(|(_, reset)| reset)));
        }
        let mut data = answer.data.ok_or_else(|| {
            self.platform().error(
                FailureKind::Malformed,
                "GitHub's GraphQL answered with neither data nor errors; nothing was replaced",
            )
        })?;
        let malformed = |what: String| {
            self.platform().error(
                FailureKind::Malformed,
                format!("GitHub's GraphQL answer {what}; nothing was replaced, GitHub's last data is kept"),
            )
        };
        let points: Points = data
            .remove("rateLimit")
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| malformed(format!("has a rateLimit that is not the schema's ({e})")))?
            .ok_or_else(|| malformed("has no rateLimit".into()))?;
        if points.cost < 0 || points.remaining < 0 {
            return Err(malformed(format!(
                "counts {} points left after a cost of {}",
                points.remaining, points.cost
            )));
        }
        // The next query is likely to cost what this one did.
        budget.left = Some((
            points.remaining - points.cost,
            bounded_reset(points.reset_at, Utc::now()),
        ));
        batch
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let value = data.remove(&format!("r{n}")).unwrap_or(Value::Null);
                if value.is_null() {
                    return Err(malformed(format!("has no data for {}", readings[*i].slug)));
                }
                serde_json::from_value(value).map_err(|e| {
                    malformed(format!(
                        "for {} is not the schema's ({e})",
                        readings[*i].slug
                    ))
                })
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// A GraphQL error in words: which repository, what GitHub said, what to do.
    fn query_error(
        &self,
        error: &QueryError,
        batch: &[usize],
        readings: &[Reading<'_>],
    ) -> ConnectorError {
        let said = one_line(&error.message, 300);
        let repo = error
            .path
            .first()
            .and_then(Value::as_str)
            .and_then(|alias| alias.strip_prefix('r')?.parse::<usize>().ok())
            .and_then(|n| batch.get(n))
            .map(|i| readings[*i].slug);
        match (error.kind.as_deref(), repo) {
            (Some("RATE_LIMITED"), _) => self.platform().error(
                FailureKind::RateLimited,
                format!("GitHub's GraphQL points for this hour are spent ({said}); nothing was replaced"),
            ),
            (Some("NOT_FOUND"), Some(slug)) => self.platform().error(
                FailureKind::NotFound,
                format!(
                    "{said} Check the catalog's github.com/project-slug for {slug} and that the token can read it; nothing was replaced"
                ),
            ),
            (_, Some(slug)) => self.platform().error(
                FailureKind::Malformed,
                format!("GitHub's GraphQL failed for {slug}: {said}; nothing was replaced"),
            ),
            (_, None) => self.platform().error(
                FailureKind::Malformed,
                format!("GitHub's GraphQL refused the query: {said}; nothing was replaced"),
            ),
        }
    }
}

impl Reading<'_> {
    /// Takes a probe's answer: new deployments and open ones that changed, and what must be
    /// read deeply.
    fn probed(&mut self, data: RepoData, horizon: DateTime<Utc>) {
        let page = data.deployments.unwrap_or(DeploymentPage {
            page_info: PageInfo {
                has_next_page: false,
                end_cursor: None,
            },
            nodes: Vec::new(),
        });
        self.take_deployments(page, horizon);
        let newest = data
            .newest_release
            .and_then(|r| r.nodes.into_iter().flatten().next())
            .map(|r| r.tag_name)
            .unwrap_or_default();
        if self.seen_release != Some(&newest) {
            self.next.releases = Some(PAGE_SIZE);
        }
        let head = data
            .default_branch_ref
            .and_then(|b| b.target)
            .map(|t| t.oid)
            .unwrap_or_default();
        if self.seen_runs_at != Some(&head) {
            self.next.head = Some(true);
        }
    }

    fn read_deeply(&mut self, data: RepoData, asked: &Asked, horizon: DateTime<Utc>) {
        if asked.deployments.is_some() {
            if let Some(page) = data.deployments {
                self.take_deployments(page, horizon);
            }
        }
        if asked.releases.is_some() {
            let releases: Vec<Release> = data
                .releases
                .map(|r| r.nodes.into_iter().flatten().collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .filter(|r: &ReleaseNode| !r.is_draft)
                .map(release_of)
                .collect();
            self.newest_release = Some(releases.first().map(|r| r.tag.clone()).unwrap_or_default());
            self.read.releases = Some(releases);
        }
        if asked.head.is_some() {
            let head = data.default_branch_ref.and_then(|b| b.target);
            let head_oid = head.as_ref().map(|h| h.oid.clone()).unwrap_or_default();
            let runs = head
                .and_then(|h| h.history)
                .map(|h| runs_of(h, &self.target))
                .unwrap_or_default();
            // Runs still going are read again next time, head moved or not.
            if !runs.iter().any(|r| r.status.is_open()) {
                self.runs_read_at = Some(head_oid);
            }
            self.read.runs = Some(runs);
        }
    }

    /// Takes a page of deployments, newest first: the new ones, and held open ones whose
    /// status changed; asks the next page while nothing held or older than `horizon` came.
    fn take_deployments(&mut self, page: DeploymentPage, horizon: DateTime<Utc>) {
        self.deployment_pages += 1;
        let mut reached_known = false;
        for node in page.nodes.into_iter().flatten() {
            let Some(deployment) = deployment_of_node(node, &self.target) else {
                continue;
            };
            let held = self.known.holds(deployment.started_at, &deployment.id);
            if held || deployment.started_at < horizon {
                reached_known = true;
                if let Some(open) = self.known.open.iter().find(|o| o.id == deployment.id) {
                    self.reached.push(open.id.clone());
                    if deployment != *open {
                        self.read.deployments.push(deployment);
                    }
                }
                continue;
            }
            self.read.deployments.push(deployment);
        }
        if !reached_known
            && page.page_info.has_next_page
            && self.deployment_pages < MAX_DEPLOYMENT_PAGES
        {
            if let Some(cursor) = page.page_info.end_cursor {
                self.next.deployments = Some((PAGE_SIZE, Some(cursor)));
            }
        }
    }
}

/// When GitHub says its hour resets, as a wait of at most [`rate_limit::MAX_PLATFORM_WAIT`]: a hostile
/// or broken `resetAt` (years ahead) must not stop the source for good.
fn bounded_reset(reset_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let wait = (reset_at - now).to_std().unwrap_or_default();
    rate_limit::after(now, wait.min(rate_limit::MAX_PLATFORM_WAIT))
}

/// A deployment node as the cache keeps it; `None` without the database id every other read
/// (and every action) names it by.
fn deployment_of_node(node: DeploymentNode, target: &str) -> Option<Deployment> {
    let id = node.database_id?;
    let payload = DeploymentPayload {
        id,
        sha: node.commit_oid,
        reference: node.reference.map(|r| r.name).unwrap_or_default(),
        environment: node.environment.unwrap_or_default(),
        // GraphQL gives the payload as the JSON text it was created with.
        payload: node
            .payload
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null),
        description: node.description,
        creator: node.creator,
        created_at: node.created_at,
    };
    let mut deployment = deployment_of(payload, target);
    match node.latest_status {
        Some(latest) => super::apply_latest_status(
            &mut deployment,
            &latest.state.to_ascii_lowercase(),
            latest.created_at,
            latest.log_url.or(latest.environment_url),
            latest.description,
        ),
        None => deployment.status = DeployStatus::Pending,
    }
    Some(deployment)
}

fn release_of(node: ReleaseNode) -> Release {
    Release {
        link: node.url,
        tag: node.tag_name,
        name: node.name.filter(|n| !n.is_empty()),
        published_at: node.published_at,
        author: node.author.map(|a| a.login),
        prerelease: node.is_prerelease,
    }
}

/// The workflow runs of the default branch's newest commits, newest first.
fn runs_of(history: Nodes<CommitNode>, target: &str) -> Vec<PipelineRun> {
    let mut runs: Vec<PipelineRun> = history
        .nodes
        .into_iter()
        .flatten()
        .flat_map(|commit| {
            let suites = commit.check_suites.map(|s| s.nodes).unwrap_or_default();
            let (oid, title) = (commit.oid, commit.message_headline);
            suites.into_iter().flatten().filter_map(move |suite| {
                let run = suite.workflow_run?;
                Some(PipelineRun {
                    id: run.database_id?.to_string(),
                    target: target.to_string(),
                    workflow: run.workflow.name,
                    head_sha: oid.clone(),
                    head_branch: suite.branch.map(|b| b.name),
                    event: run.event,
                    status: DeployStatus::from_run(
                        Some(&suite.status.to_ascii_lowercase()),
                        suite.conclusion.map(|c| c.to_ascii_lowercase()).as_deref(),
                    ),
                    attempt: 1,
                    created_at: run.created_at,
                    started_at: None,
                    updated_at: suite.updated_at,
                    link: Some(run.url),
                    title: title.clone(),
                })
            })
        })
        .collect();
    runs.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_is_waited_for_an_hour_at_most_and_never_in_the_past() {
        let now = Utc::now();
        let far = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
            .unwrap()
            .to_utc();
        assert_eq!(bounded_reset(far, now), now + Duration::hours(1));
        assert_eq!(bounded_reset(now - Duration::days(3), now), now);
        let soon = now + Duration::minutes(7);
        assert_eq!(bounded_reset(soon, now), soon);
    }
}
