//! The sandbox's GitHub GraphQL endpoint (`POST /graphql`), for the part of GitHub's schema
//! (`github/graphql/schema.graphql`, checked by tests/connect.rs and tests/delivery.rs)
//! Opsdeck reads: `viewer`, `rateLimit`, and a `repository`'s deployments with their latest
//! status, releases, and its default branch's history with each commit's check suites and
//! workflow runs.
//!
//! The query is parsed and executed field by field (aliases, variables, fragments and inline
//! fragments), with GitHub's rules and words: a connection needs `first` (at most 100); a
//! field the schema lacks is an `undefinedField` error and no data; a repository that does
//! not exist is `null` with a `NOT_FOUND` error beside the other aliases' data; every query
//! costs points as GitHub counts them (each connection's requests, assuming every `first` is
//! filled, over 100, at least 1), taken from the hour's budget and reported by `rateLimit`
//! and the `X-RateLimit-*` headers (`X-RateLimit-Resource: graphql`); a query the points
//! left cannot pay is refused as `RATE_LIMITED`.

use std::collections::HashMap;
use std::sync::Arc;

use apollo_compiler::ast::{self, Definition, Selection};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::delivery::{read, statuses, DeliveryWorld, Deploy, Repo, Run, ENVIRONMENTS};
use super::github::{commit_title, error, time, GithubApi, Refusal, WEB};
use super::org::DEMO_IDENTITY;
use super::stable_hash;

/// The user the sandbox's token belongs to: the demo identity.
const VIEWER_LOGIN: &str = "dana-whitfield";
const VIEWER_NAME: &str = "Dana Whitfield";

/// GitHub's largest page on a connection.
const MAX_PAGE: i64 = 100;

/// The branch every sandbox repository deploys from.
const DEFAULT_BRANCH: &str = "main";

/// `POST /graphql`.
pub(super) async fn graphql(
    State(api): State<Arc<GithubApi>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    match GithubApi::token_of(&headers) {
        Some(token) if token == api.token => {}
        None => {
            return error(
                StatusCode::UNAUTHORIZED,
                "This endpoint requires you to be authenticated.",
            )
        }
        Some(_) => return Refusal::Unauthorized.into_response(),
    }
    let Some(request) = serde_json::from_str::<Value>(&body).ok() else {
        return error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
    };
    let Some(query) = request.get("query").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
    };
    let variables = request
        .get("variables")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let document = match ast::Document::parse(query, "query.graphql") {
        Ok(document) => document,
        Err(errors) => {
            let message = errors.errors.iter().next().map_or_else(
                || "Parse error".to_string(),
                |e| format!("Parse error: {}", e.error),
            );
            return api.graphql_answer(json!({"errors": [{"message": message}]}), None);
        }
    };
    let world = read(&api.world);
    let mut run = Execution {
        world: &world,
        variables: &variables,
        fragments: document
            .definitions
            .iter()
            .filter_map(|d| match d {
                Definition::FragmentDefinition(f) => Some((f.name.as_str(), &**f)),
                _ => None,
            })
            .collect(),
        refusals: Vec::new(),
        errors: Vec::new(),
        points: None,
        now: Utc::now(),
    };
    let Some(operation) = document.definitions.iter().find_map(|d| match d {
        Definition::OperationDefinition(op) => Some(op),
        _ => None,
    }) else {
        return api.graphql_answer(
            json!({"errors": [{"message": "No operations given"}]}),
            None,
        );
    };
    let cost = run.cost(&operation.selection_set);
    let budget = api.spend_points(cost);
    if budget.refused {
        let message = "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.";
        return api.graphql_answer(
            json!({"errors": [{"type": "RATE_LIMITED", "message": message}]}),
            Some(&budget),
        );
    }
    run.points = Some(budget.clone());
    let data = run.object(&Node::Query, &operation.selection_set, "Query");
    let answer = if !run.refusals.is_empty() {
        json!({ "errors": run.refusals })
    } else if run.errors.is_empty() {
        json!({ "data": data })
    } else {
        json!({ "data": data, "errors": run.errors })
    };
    api.graphql_answer(answer, Some(&budget))
}

/// The hour's points after a query: its cost, what is left, when the hour resets.
#[derive(Debug, Clone)]
pub(super) struct Points {
    pub cost: u32,
    pub limit: u32,
    pub used: u32,
    pub reset: DateTime<Utc>,
    pub refused: bool,
}

impl GithubApi {
    fn graphql_answer(&self, body: Value, points: Option<&Points>) -> Response {
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body.to_string(),
        )
            .into_response();
        if let Some(points) = points {
            let headers = response.headers_mut();
            for (name, value) in [
                ("x-ratelimit-limit", points.limit.to_string()),
                (
                    "x-ratelimit-remaining",
                    points.limit.saturating_sub(points.used).to_string(),
                ),
                ("x-ratelimit-used", points.used.to_string()),
                ("x-ratelimit-reset", points.reset.timestamp().to_string()),
                ("x-ratelimit-resource", "graphql".to_string()),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
        }
        response
    }
}

/// An object of the part of the schema served.
#[derive(Clone)]
enum Node<'w> {
    Query,
    Viewer,
    Actor(&'w str),
    Repository(&'w Repo),
    Connection(Page<Node<'w>>),
    PageInfo { has_next: bool, end: Option<String> },
    Deployment(&'w Repo, &'w Deploy),
    DeploymentStatus(&'w Repo, &'w Deploy, &'static str, DateTime<Utc>),
    Ref(&'w Repo, &'w str, u32),
    Commit(&'w Repo, u32),
    CheckSuite(&'w Repo, &'w Run),
    WorkflowRun(&'w Repo, &'w Run),
    Workflow(&'static str),
    Release(&'w Repo, usize),
    RateLimit,
}

/// One page of a connection.
#[derive(Clone)]
struct Page<T> {
    type_name: &'static str,
    nodes: Vec<T>,
    has_next: bool,
    end: Option<String>,
    total: usize,
}

impl Node<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Node::Query => "Query",
            Node::Viewer => "User",
            Node::Actor(_) => "User",
            Node::Repository(_) => "Repository",
            Node::Connection(page) => page.type_name,
            Node::PageInfo { .. } => "PageInfo",
            Node::Deployment(..) => "Deployment",
            Node::DeploymentStatus(..) => "DeploymentStatus",
            Node::Ref(..) => "Ref",
            Node::Commit(..) => "Commit",
            Node::CheckSuite(..) => "CheckSuite",
            Node::WorkflowRun(..) => "WorkflowRun",
            Node::Workflow(_) => "Workflow",
            Node::Release(..) => "Release",
            Node::RateLimit => "RateLimit",
        }
    }

    /// Whether a fragment on `condition` applies to this object (its type or an interface
    /// of it).
    fn is_a(&self, condition: &str) -> bool {
        let name = self.type_name();
        name == condition
            || matches!(
                (name, condition),
                ("User", "Actor")
                    | ("Commit", "GitObject")
                    | (_, "Node")
                    | ("Repository", "RepositoryInfo")
            )
    }
}

/// What a field resolved to.
enum Resolved<'w> {
    Scalar(Value),
    Object(Node<'w>),
    Objects(Vec<Node<'w>>),
}

struct Execution<'a, 'w> {
    world: &'w DeliveryWorld,
    variables: &'a Map<String, Value>,
    fragments: HashMap<&'a str, &'a ast::FragmentDefinition>,
    /// Errors that void the whole answer (GitHub checks these before it runs anything).
    refusals: Vec<Value>,
    /// Errors beside partial data.
    errors: Vec<Value>,
    points: Option<Points>,
    now: DateTime<Utc>,
}

impl<'a, 'w> Execution<'a, 'w> {
    /// The fields of `selections` on `node`, flattened through fragments.
    fn fields(&self, selections: &'a [Selection], on: &Node) -> Vec<&'a ast::Field> {
        let mut out = Vec::new();
        for selection in selections {
            match selection {
                Selection::Field(field) => out.push(&**field),
                Selection::InlineFragment(inline) => {
                    if inline
                        .type_condition
                        .as_ref()
                        .is_none_or(|t| on.is_a(t.as_str()))
                    {
                        out.extend(self.fields(&inline.selection_set, on));
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.fragments.get(spread.fragment_name.as_str()) {
                        if on.is_a(fragment.type_condition.as_str()) {
                            out.extend(self.fields(&fragment.selection_set, on));
                        }
                    }
                }
            }
        }
        out
    }

    fn object(&mut self, node: &Node<'w>, selections: &'a [Selection], path: &str) -> Value {
        let mut out = Map::new();
        for field in self.fields(selections, node) {
            let key = field.alias.as_ref().unwrap_or(&field.name).to_string();
            let here = format!("{path}.{key}");
            let value = match self.field(node, field, &here) {
                Some(Resolved::Scalar(value)) => value,
                Some(Resolved::Object(child)) => self.object(&child, &field.selection_set, &here),
                Some(Resolved::Objects(children)) => Value::Array(
                    children
                        .iter()
                        .map(|child| self.object(child, &field.selection_set, &here))
                        .collect(),
                ),
                None => Value::Null,
            };
            out.insert(key, value);
        }
        Value::Object(out)
    }

    fn argument(&self, field: &ast::Field, name: &str) -> Option<Value> {
        let value = field.arguments.iter().find(|a| a.name == name)?;
        self.value(&value.value)
    }

    fn value(&self, value: &ast::Value) -> Option<Value> {
        Some(match value {
            ast::Value::Null => return None,
            ast::Value::Variable(name) => {
                return self
                    .variables
                    .get(name.as_str())
                    .filter(|v| !v.is_null())
                    .cloned()
            }
            ast::Value::Enum(name) => json!(name.as_str()),
            ast::Value::String(text) => json!(text),
            ast::Value::Int(number) => json!(number.try_to_i32().ok()?),
            ast::Value::Float(number) => json!(number.as_str()),
            ast::Value::Boolean(yes) => json!(yes),
            ast::Value::List(items) => {
                Value::Array(items.iter().filter_map(|v| self.value(v)).collect())
            }
            ast::Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .filter_map(|(k, v)| Some((k.to_string(), self.value(v)?)))
                    .collect(),
            ),
        })
    }

    /// `field` of `node`; `None` for null (an error recorded when it is one).
    fn field(
        &mut self,
        node: &Node<'w>,
        field: &'a ast::Field,
        path: &str,
    ) -> Option<Resolved<'w>> {
        let name = field.name.as_str();
        if name == "__typename" {
            return Some(Resolved::Scalar(json!(node.type_name())));
        }
        let world = self.world;
        let now = self.now;
        let scalar = |value: Value| Some(Resolved::Scalar(value));
        let object = |node: Node<'w>| Some(Resolved::Object(node));
        match (node, name) {
            (Node::Query, "viewer") => object(Node::Viewer),
            (Node::Query, "rateLimit") => object(Node::RateLimit),
            (Node::Query, "repository") => {
                let owner = self.argument(field, "owner");
                let repo = self.argument(field, "name");
                let slug = format!(
                    "{}/{}",
                    owner.as_ref().and_then(Value::as_str).unwrap_or_default(),
                    repo.as_ref().and_then(Value::as_str).unwrap_or_default()
                );
                match world.repo_of_slug.get(&slug) {
                    Some(index) => object(Node::Repository(&world.repos[*index])),
                    None => {
                        let alias = field.alias.as_ref().unwrap_or(&field.name);
                        self.errors.push(json!({
                            "type": "NOT_FOUND", "path": [alias.as_str()],
                            "message": format!("Could not resolve to a Repository with the name '{slug}'."),
                        }));
                        None
                    }
                }
            }
            (Node::Viewer, "login") => scalar(json!(VIEWER_LOGIN)),
            (Node::Viewer, "name") => scalar(json!(VIEWER_NAME)),
            (Node::Viewer, "email") => scalar(json!(DEMO_IDENTITY)),
            (Node::Actor(login), "login") => scalar(json!(login)),
            (Node::RateLimit, _) => {
                let points = self.points.as_ref()?;
                scalar(match name {
                    "cost" => json!(points.cost),
                    "limit" => json!(points.limit),
                    "remaining" => json!(points.limit.saturating_sub(points.used)),
                    "used" => json!(points.used),
                    "resetAt" => json!(time(points.reset)),
                    "nodeCount" => json!(0),
                    _ => return self.undefined(node, name, path),
                })
            }
            (Node::Repository(repo), "nameWithOwner") => scalar(json!(repo.slug)),
            (Node::Repository(repo), "name") => {
                scalar(json!(repo.slug.split('/').nth(1).unwrap_or_default()))
            }
            (Node::Repository(repo), "databaseId") => scalar(json!(repo.id)),
            (Node::Repository(repo), "deployments") => {
                let environments: Option<Vec<String>> = self
                    .argument(field, "environments")
                    .and_then(|v| serde_json::from_value(v).ok());
                let mut list: Vec<&Deploy> = repo
                    .deploys
                    .iter()
                    .filter(|d| {
                        environments.as_ref().is_none_or(|wanted| {
                            wanted.iter().any(|e| e == ENVIRONMENTS[d.environment])
                        })
                    })
                    .collect();
                // The schema's default order is oldest first.
                if !self.descending(field, false) {
                    list.sort_by_key(|d| (d.created_at, d.id));
                } else {
                    list.sort_by_key(|d| std::cmp::Reverse((d.created_at, d.id)));
                }
                let nodes = list
                    .into_iter()
                    .map(|d| Node::Deployment(repo, d))
                    .collect();
                self.connection(field, path, "DeploymentConnection", nodes)
            }
            (Node::Repository(repo), "releases") => {
                let mut indexes: Vec<usize> = (0..repo.versions.len()).collect();
                if self.descending(field, true) {
                    indexes.reverse();
                }
                let nodes = indexes
                    .into_iter()
                    .map(|i| Node::Release(repo, i))
                    .collect();
                self.connection(field, path, "ReleaseConnection", nodes)
            }
            (Node::Repository(repo), "defaultBranchRef") => object(Node::Ref(
                repo,
                DEFAULT_BRANCH,
                repo.commits.saturating_sub(1),
            )),
            (Node::Connection(page), "nodes") => Some(Resolved::Objects(page.nodes.clone())),
            (Node::Connection(page), "totalCount") => scalar(json!(page.total)),
            (Node::Connection(page), "pageInfo") => object(Node::PageInfo {
                has_next: page.has_next,
                end: page.end.clone(),
            }),
            (Node::PageInfo { has_next, .. }, "hasNextPage") => scalar(json!(has_next)),
            (Node::PageInfo { .. }, "hasPreviousPage") => scalar(json!(false)),
            (Node::PageInfo { end, .. }, "endCursor") => scalar(json!(end)),
            (Node::Deployment(repo, d), _) => {
                let version = &repo.versions[d.version];
                let latest = statuses(d, now).into_iter().next();
                match name {
                    "databaseId" => scalar(json!(d.id)),
                    "environment" | "originalEnvironment" | "latestEnvironment" => {
                        scalar(json!(ENVIRONMENTS[d.environment]))
                    }
                    "commitOid" => scalar(json!(repo.sha(version.last_commit))),
                    "createdAt" => scalar(json!(time(d.created_at))),
                    "updatedAt" => scalar(json!(time(latest.map_or(d.created_at, |s| s.1)))),
                    "description" => scalar(json!(d.description)),
                    "task" => scalar(json!("deploy")),
                    "payload" => scalar(json!(d
                        .payload
                        .as_ref()
                        .map_or_else(|| "{}".to_string(), Value::to_string))),
                    "ref" => object(Node::Ref(repo, &version.name, version.last_commit)),
                    "creator" => object(Node::Actor(&world.logins[d.creator])),
                    "latestStatus" => latest.map(|(state, at)| {
                        Resolved::Object(Node::DeploymentStatus(repo, d, state, at))
                    }),
                    "state" => scalar(json!(match latest.map(|s| s.0) {
                        Some("success") => "ACTIVE",
                        Some(state) => return scalar(json!(state.to_ascii_uppercase())),
                        None => "PENDING",
                    })),
                    _ => self.undefined(node, name, path),
                }
            }
            (Node::DeploymentStatus(repo, d, state, at), _) => {
                let environment = ENVIRONMENTS[d.environment];
                let log_url = format!("{WEB}/{}/actions/runs/{}", repo.slug, 7_000_000 + d.id);
                let short = repo.slug.split('/').nth(1).unwrap_or_default();
                match name {
                    "state" => scalar(json!(state.to_ascii_uppercase())),
                    "createdAt" | "updatedAt" => scalar(json!(time(*at))),
                    "description" => scalar(json!(if *state == "queued" {
                        d.description.as_deref().unwrap_or("")
                    } else {
                        ""
                    })),
                    "logUrl" => scalar(json!(log_url)),
                    "environmentUrl" => scalar(json!(format!(
                        "https://{environment}.{short}.demo.opsdeck.dev"
                    ))),
                    "environment" => scalar(json!(environment)),
                    "creator" => object(Node::Actor(&world.logins[d.creator])),
                    _ => self.undefined(node, name, path),
                }
            }
            (Node::Ref(_, ref_name, _), "name") => scalar(json!(ref_name)),
            (Node::Ref(repo, _, commit), "target") => object(Node::Commit(repo, *commit)),
            (Node::Commit(repo, index), _) => match name {
                "oid" => scalar(json!(repo.sha(*index))),
                "messageHeadline" => scalar(json!(commit_title(repo, *index))),
                "committedDate" | "authoredDate" => {
                    scalar(json!(time(repo.authored_at(*index, world.started))))
                }
                "history" => {
                    let nodes = (0..=*index).rev().map(|i| Node::Commit(repo, i)).collect();
                    self.connection(field, path, "CommitHistoryConnection", nodes)
                }
                "checkSuites" => {
                    let mut runs: Vec<&Run> =
                        repo.runs.iter().filter(|r| r.commit == *index).collect();
                    runs.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
                    let nodes = runs
                        .into_iter()
                        .map(|r| Node::CheckSuite(repo, r))
                        .collect();
                    self.connection(field, path, "CheckSuiteConnection", nodes)
                }
                _ => self.undefined(node, name, path),
            },
            (Node::CheckSuite(repo, run), _) => {
                let (status, conclusion) = run.state_at(now);
                match name {
                    "status" => scalar(json!(status.to_ascii_uppercase())),
                    "conclusion" => scalar(json!(conclusion.map(str::to_ascii_uppercase))),
                    "createdAt" => scalar(json!(time(run.created_at))),
                    "updatedAt" => scalar(json!(time(run.updated_at(now)))),
                    "branch" => object(Node::Ref(repo, DEFAULT_BRANCH, run.commit)),
                    "workflowRun" => object(Node::WorkflowRun(repo, run)),
                    "databaseId" => scalar(json!(run.id * 3)),
                    _ => self.undefined(node, name, path),
                }
            }
            (Node::WorkflowRun(repo, run), _) => match name {
                "databaseId" => scalar(json!(run.id)),
                "runNumber" => scalar(json!(run.id % 10_000)),
                "event" => scalar(json!(run.event)),
                "url" => scalar(json!(format!(
                    "{WEB}/{}/actions/runs/{}",
                    repo.slug, run.id
                ))),
                "createdAt" => scalar(json!(time(run.created_at))),
                "updatedAt" => scalar(json!(time(run.updated_at(now)))),
                "workflow" => object(Node::Workflow(run.workflow)),
                _ => self.undefined(node, name, path),
            },
            (Node::Workflow(workflow), "name") => scalar(json!(workflow)),
            (Node::Release(repo, i), _) => {
                let version = &repo.versions[*i];
                match name {
                    "tagName" | "name" => scalar(json!(version.name)),
                    "databaseId" => scalar(json!(repo.id * 1_000 + *i as i64)),
                    "createdAt" => scalar(json!(time(version.released_at - Duration::minutes(10)))),
                    "publishedAt" => scalar(json!(time(version.released_at))),
                    "isDraft" | "isPrerelease" => scalar(json!(false)),
                    "url" => scalar(json!(format!(
                        "{WEB}/{}/releases/tag/{}",
                        repo.slug, version.name
                    ))),
                    "author" => {
                        let logins = &world.logins;
                        let login =
                            &logins[(stable_hash(&version.name) % logins.len() as u64) as usize];
                        object(Node::Actor(login))
                    }
                    _ => self.undefined(node, name, path),
                }
            }
            _ => self.undefined(node, name, path),
        }
    }

    /// Whether a connection's `orderBy` asks newest first (`default_descending` without one).
    fn descending(&self, field: &ast::Field, default_descending: bool) -> bool {
        self.argument(field, "orderBy")
            .and_then(|o| {
                o.get("direction")
                    .and_then(Value::as_str)
                    .map(|d| d == "DESC")
            })
            .unwrap_or(default_descending)
    }

    /// A page of `nodes` as `first` and `after` ask, under GitHub's rules for both.
    fn connection(
        &mut self,
        field: &ast::Field,
        path: &str,
        type_name: &'static str,
        nodes: Vec<Node<'w>>,
    ) -> Option<Resolved<'w>> {
        let name = field.name.as_str();
        let Some(first) = self.argument(field, "first").and_then(|v| v.as_i64()) else {
            self.refusals.push(json!({
                "type": "MISSING_PAGINATION_BOUNDARIES", "path": path.split('.').collect::<Vec<_>>(),
                "message": format!("You must provide a `first` or `last` value to properly paginate the `{name}` connection."),
            }));
            return None;
        };
        if !(0..=MAX_PAGE).contains(&first) {
            self.refusals.push(json!({
                "type": "EXCESSIVE_PAGINATION", "path": path.split('.').collect::<Vec<_>>(),
                "message": format!("Requesting {first} records on the `{name}` connection exceeds the `first` limit of {MAX_PAGE} records."),
            }));
            return None;
        }
        let start = match self.argument(field, "after") {
            None => 0,
            Some(cursor) => match cursor.as_str().and_then(offset_of) {
                Some(offset) => offset,
                None => {
                    self.refusals.push(json!({
                        "type": "INVALID_CURSOR_ARGUMENTS", "path": path.split('.').collect::<Vec<_>>(),
                        "message": format!("`{}` does not appear to be a valid cursor.", cursor.as_str().unwrap_or_default()),
                    }));
                    return None;
                }
            },
        };
        let total = nodes.len();
        let end = (start + first as usize).min(total);
        let page: Vec<Node<'w>> = nodes
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect();
        Some(Resolved::Object(Node::Connection(Page {
            type_name,
            has_next: end < total,
            end: (end > start).then(|| cursor_of(end)),
            nodes: page,
            total,
        })))
    }

    /// GitHub's error for a field its schema does not have (voids the answer).
    fn undefined(&mut self, node: &Node, field: &str, path: &str) -> Option<Resolved<'w>> {
        let type_name = node.type_name();
        self.refusals.push(json!({
            "path": path.split('.').collect::<Vec<_>>(),
            "extensions": {"code": "undefinedField", "typeName": type_name, "fieldName": field},
            "message": format!("Field '{field}' doesn't exist on type '{type_name}'"),
        }));
        None
    }

    /// The query's points as GitHub counts them: every connection's requests, assuming each
    /// `first` is filled (a connection inside another is asked once per parent), over 100,
    /// rounded, at least 1.
    fn cost(&self, selections: &'a [Selection]) -> u32 {
        let requests = self.requests(selections, 1);
        ((requests as f64 / 100.0).round() as u32).max(1)
    }

    fn requests(&self, selections: &'a [Selection], parents: u64) -> u64 {
        let mut total = 0u64;
        for selection in selections {
            total = total.saturating_add(match selection {
                Selection::Field(field) => {
                    match self.argument(field, "first").and_then(|v| v.as_u64()) {
                        Some(first) => {
                            parents.saturating_add(self.requests(
                                &field.selection_set,
                                parents.saturating_mul(first.max(1)),
                            ))
                        }
                        None => self.requests(&field.selection_set, parents),
                    }
                }
                Selection::InlineFragment(inline) => self.requests(&inline.selection_set, parents),
                Selection::FragmentSpread(spread) => self
                    .fragments
                    .get(spread.fragment_name.as_str())
                    .map_or(0, |f| self.requests(&f.selection_set, parents)),
            });
        }
        total
    }
}

/// An opaque cursor, as GitHub's look: base64 of `cursor:v2:` and the offset.
fn cursor_of(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("cursor:v2:{offset}"))
}

fn offset_of(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("cursor:v2:")?
        .parse()
        .ok()
}
