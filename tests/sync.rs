//! Sync through the real Backstage connector against the sandbox: pagination, auth failures,
//! and platforms that fail mid-way, which must never cost cached data.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use opsdeck_sandbox::Seed;

use crate::util::{engine, no_progress, sandbox, sandbox_config, TOKEN};

#[tokio::test]
async fn pages_through_the_whole_catalog_and_reports_progress() {
    let sandbox = sandbox(Seed::Scale(1200)).await;
    let engine = engine(sandbox_config(&sandbox), Some(TOKEN)).await;
    let pages = Arc::new(Mutex::new(Vec::new()));
    let seen = pages.clone();
    let progress =
        move |p: opsdeck::api::SyncProgress| seen.lock().unwrap().push((p.pages, p.items, p.total));
    let reports = engine.sync(Some("catalog"), &progress).await.unwrap();
    assert!(reports[0].landed, "{:?}", reports[0].problems);

    // Locations are Backstage's own business; every other entity arrives.
    let served = opsdeck_sandbox::org::entities(Seed::Scale(1200)).len();
    assert_eq!(reports[0].items as usize, served);
    let pages = pages.lock().unwrap().clone();
    assert!(
        pages.len() >= 3,
        "500 a page: 1200 services and their teams span 3+ pages, got {pages:?}"
    );
    assert_eq!(pages.last().unwrap().1 as usize, served);
    assert_eq!(pages.last().unwrap().2, Some(served as i64));

    assert_eq!(engine.services(None).await.unwrap().len(), 1200);
    let teams = engine.teams().await.unwrap();
    assert_eq!(teams.len(), 60 + 2, "60 teams in 2 departments");
    let (departments, teams): (Vec<_>, Vec<_>) = teams
        .iter()
        .partition(|t| t.group_type.as_deref() == Some("department"));
    assert!(teams
        .iter()
        .all(|t| t.service_count == 20 && t.member_count == 5));
    assert!(departments
        .iter()
        .all(|d| d.service_count == 0 && d.service_count_below == 600));
    let status = &engine.sources().await.unwrap()[0];
    assert_eq!(status.item_count as usize, served);
    assert!(status.last_success.is_some() && status.last_error.is_none());
}

#[tokio::test]
async fn demo_story_lands_in_the_cache() {
    let sandbox = sandbox(Seed::Demo).await;
    let engine = engine(sandbox_config(&sandbox), Some(TOKEN)).await;
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(
        report.landed && report.problems.is_empty(),
        "{:?}",
        report.problems
    );
    let teams = engine.teams().await.unwrap();
    // The tree's top, then dana's team first below it.
    assert_eq!(
        teams
            .iter()
            .take(2)
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        vec!["engineering", "checkout"]
    );
    assert!(teams[1].is_mine && teams.iter().filter(|t| t.is_mine).count() == 1);
    for team in ["payments", "checkout", "search", "identity", "platform"] {
        assert!(teams.iter().any(|t| t.name == team), "team {team}");
    }
    let orphans = engine.orphaned_services().await.unwrap();
    assert_eq!(
        orphans.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        vec!["legacy-reports"]
    );

    let api = engine.service("checkout-api").await.unwrap();
    assert_eq!(api.owner.as_ref().unwrap().key, "group:default/checkout");
    assert_eq!(api.tier.as_deref(), Some("1"));
    assert!(api.gaps.is_empty());
    assert!(api
        .depends_on
        .iter()
        .any(|d| d.key == "component:default/cart-service" && d.exists));
    assert!(api
        .dependents
        .iter()
        .any(|d| d.key == "component:default/mobile-bff"));
    assert!(api
        .provides_apis
        .iter()
        .any(|a| a.name == "checkout-public-api"));
    assert!(api.platforms.iter().any(|p| p.platform == "Argo CD"));

    let hits = engine.search("checkout-api", 5).await.unwrap();
    assert_eq!(
        hits[0].key, "component:default/checkout-api",
        "the exact name ranks first"
    );
    let hits = engine.search("dana", 5).await.unwrap();
    assert_eq!(hits[0].kind, "user");
    assert_eq!(hits[0].team.as_deref(), Some("group:default/checkout"));
    // FTS5 syntax in typed text is searched as words, never parsed as a query.
    for text in ["AND OR NOT", "\"*(", "name:checkout", "checkout^ NEAR(api)"] {
        assert!(engine.search(text, 5).await.is_ok(), "{text}");
    }
    assert!(engine.search("\"*(", 5).await.unwrap().is_empty());
}

#[tokio::test]
async fn rejected_and_missing_tokens_are_one_clear_line() {
    let sandbox = sandbox(Seed::Demo).await;
    let wrong = engine(sandbox_config(&sandbox), Some("wrong-token")).await;
    let report = &wrong.sync(None, &no_progress).await.unwrap()[0];
    assert!(!report.landed);
    assert_eq!(
        report.problems[0],
        "catalog: 401 Unauthorized (AuthenticationError: Illegal token) — the token from embedded sandbox was rejected; supply a valid one"
    );

    // No token at all: the config names an env var nobody set, and the keychain has none.
    let text = sandbox
        .config_toml()
        .replace("OPSDECK_SANDBOX_TOKEN", "OPSDECK_TEST_UNSET_TOKEN_VAR");
    let config = opsdeck::config::Config::parse(&text, std::path::Path::new("t.toml")).unwrap();
    let missing = engine(config, None).await;
    let report = &missing.sync(None, &no_progress).await.unwrap()[0];
    assert!(
        report.problems[0].starts_with(
            "catalog: no token; set OPSDECK_TEST_UNSET_TOKEN_VAR or run `opsdeck login catalog`"
        ),
        "{}",
        report.problems[0]
    );
    assert_eq!(
        missing.sources().await.unwrap()[0].last_error.as_deref(),
        Some(report.problems[0].as_str())
    );
}

/// How the flaky catalog breaks its answers.
#[derive(Clone, Copy, Debug)]
enum Fault {
    ServerError,
    /// 429 with `Retry-After` in seconds.
    TooManyRequests(u32),
    /// Answers only after 3 s.
    Slow,
    Truncated,
    /// A body past the 32 MB cap.
    Huge,
    Garbage,
    WrongContentType,
    EntityOfWrongShape,
}

struct Flaky {
    upstream: String,
    fault: Fault,
    /// Requests answered well before the faults begin.
    good_first: usize,
    /// Requests that still get the fault.
    faults_left: AtomicUsize,
    requests: AtomicUsize,
}

/// Proxies the sandbox's catalog (pages and reads by ref), then breaks the requests after
/// the first `good_first`, as many as `faults_left`.
async fn flaky_handler(
    State(flaky): State<Arc<Flaky>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let before = flaky.requests.fetch_add(1, Ordering::SeqCst);
    let json = [("content-type", "application/json; charset=utf-8")];
    let faulty = before >= flaky.good_first
        && flaky
            .faults_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if faulty {
        return match flaky.fault {
            Fault::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, json, r#"{"error":{"name":"Error","message":"database is locked"},"request":{"method":"GET","url":"/entities/by-query"},"response":{"statusCode":500}}"#).into_response(),
            Fault::TooManyRequests(secs) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", secs.to_string())], "slow down").into_response(),
            Fault::Slow => {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                (StatusCode::OK, json, "{}").into_response()
            }
            Fault::Truncated => (StatusCode::OK, json, r#"{"items":[{"apiVersion":"backstage.io/v1alpha1","kind":"Comp"#).into_response(),
            Fault::Huge => (StatusCode::OK, json, format!("{{\"items\":[{}]}}", " ".repeat(33 << 20))).into_response(),
            Fault::Garbage => (StatusCode::OK, json, "<<<not json>>>").into_response(),
            Fault::WrongContentType => (StatusCode::OK, [("content-type", "text/html")], "<html>login</html>").into_response(),
            Fault::EntityOfWrongShape if method == Method::POST => {
                // As many items as refs asked, none of them an entity.
                let asked: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let items = vec![serde_json::json!({"kind": "Component"}); asked["entityRefs"].as_array().unwrap().len()];
                (StatusCode::OK, json, serde_json::json!({ "items": items }).to_string()).into_response()
            }
            Fault::EntityOfWrongShape => (StatusCode::OK, json, r#"{"items":[{"kind":"Component"}],"totalItems":1,"pageInfo":{}}"#).into_response(),
        };
    }
    forward(&flaky.upstream, method, &uri, &headers, body).await
}

/// Asks `upstream`'s catalog the same question with the same token.
async fn forward(
    upstream: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let answer = reqwest::Client::new()
        .request(method, format!("{upstream}{uri}"))
        .header("authorization", headers["authorization"].clone())
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        answer.text().await.unwrap(),
    )
        .into_response()
}

/// Serves `app` on a free loopback port; returns its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A catalog in front of `upstream` that breaks `faults` requests after its first
/// `good_first`.
async fn flaky_catalog(
    upstream: &str,
    fault: Fault,
    good_first: usize,
    faults: usize,
) -> (String, Arc<Flaky>) {
    let flaky = Arc::new(Flaky {
        upstream: upstream.to_string(),
        fault,
        good_first,
        faults_left: AtomicUsize::new(faults),
        requests: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route(
            "/api/catalog/entities/by-query",
            axum::routing::get(flaky_handler),
        )
        .route(
            "/api/catalog/entities/by-refs",
            axum::routing::post(flaky_handler),
        )
        .with_state(flaky.clone());
    let url = serve(app).await;
    (url, flaky)
}

fn secrets() -> opsdeck::secrets::Secrets {
    opsdeck::secrets::Secrets::with_embedded([("catalog".to_string(), TOKEN.to_string())].into())
}

/// An empty cache, for [`engine_reading`].
async fn fresh_cache(good: &opsdeck_sandbox::Sandbox) -> opsdeck::Engine {
    opsdeck::Engine::in_memory(sandbox_config(good), secrets())
        .await
        .unwrap()
}

/// An engine on `cache`'s cache whose catalog source reads `url` with a 1 s request timeout.
fn engine_reading(
    good: &opsdeck_sandbox::Sandbox,
    url: String,
    cache: &opsdeck::Engine,
) -> opsdeck::Engine {
    let mut config = sandbox_config(good);
    config.sources[0].url = Some(url);
    config.sources[0].timeout = std::time::Duration::from_secs(1);
    cache.reconfigured(config, secrets())
}

#[tokio::test]
async fn a_failure_mid_pagination_leaves_the_cache_exactly_as_it_was() {
    let good = sandbox(Seed::Scale(1200)).await;
    let healthy = opsdeck::Engine::in_memory(sandbox_config(&good), secrets())
        .await
        .unwrap();
    healthy.sync(None, &no_progress).await.unwrap();
    let before_services = serde_json::to_value(healthy.services(None).await.unwrap()).unwrap();
    let before_teams = serde_json::to_value(healthy.teams().await.unwrap()).unwrap();
    let before_success = healthy.sources().await.unwrap()[0].last_success;
    // Every service changes: a sync lists the catalog (one page), then reads the 1,200
    // services by ref, 500 a request; the faults begin at the second of those.
    good.edit_catalog(|files| {
        for (_, e) in files.iter_mut().filter(|(_, e)| e.is_kind("component")) {
            e.metadata.description = Some(format!("{} (edited)", e.metadata.name));
        }
    });

    // (fault, message, whether it is retried)
    for (round, (fault, expected, retried)) in [
        (Fault::ServerError, "500 Internal Server Error (Error: database is locked) — the catalog failed; the cached data is kept", true),
        (Fault::Slow, "catalog: timed out (127.0.0.1:", true),
        (Fault::Truncated, "the answer was cut off", false),
        (Fault::Huge, "is larger than 32 MB; nothing was replaced", false),
        (Fault::Garbage, "is not the documented JSON", false),
        (Fault::WrongContentType, "expected JSON from", false),
        (Fault::EntityOfWrongShape, "entity #501 of the catalog's answer does not match the entity model", false),
    ]
    .into_iter()
    .enumerate()
    {
        let (url, flaky) = flaky_catalog(&good.url(), fault, 2, usize::MAX).await;
        let broken = engine_reading(&good, url, &healthy);
        let report = &broken.sync(None, &no_progress).await.unwrap()[0];
        assert!(!report.landed, "{fault:?}");
        assert!(report.problems[0].contains(expected), "{fault:?}: {}", report.problems[0]);
        // The listing, the first 500 by ref, then the failing request and, for failures
        // that may pass, three retries.
        let requests = flaky.requests.load(Ordering::SeqCst);
        assert_eq!(requests, if retried { 6 } else { 3 }, "{fault:?}");
        assert_eq!(report.requests, requests as i64, "{fault:?}: every request is counted");

        assert_eq!(serde_json::to_value(broken.services(None).await.unwrap()).unwrap(), before_services, "{fault:?}");
        assert_eq!(serde_json::to_value(broken.teams().await.unwrap()).unwrap(), before_teams, "{fault:?}");
        let state = &broken.sources().await.unwrap()[0];
        assert_eq!(state.last_success, before_success, "{fault:?}: the last success stands");
        assert_eq!(state.last_error.as_deref(), Some(report.problems[0].as_str()));
        assert_eq!(state.health, opsdeck::domain::Health::Failing, "{fault:?}");
        assert_eq!(state.consecutive_failures, round as i64 + 1, "{fault:?}");
        assert_eq!(state.last_requests, Some(requests as i64), "{fault:?}");
    }

    // The next healthy sync recovers, clears the error and the failure count, and writes
    // the services that changed, read by ref.
    let report = &healthy.sync(None, &no_progress).await.unwrap()[0];
    assert!(report.landed);
    assert_eq!((report.rows_written, report.requests), (1200, 1 + 3));
    let state = &healthy.sources().await.unwrap()[0];
    assert!(state.last_error.is_none());
    assert_eq!(
        (state.consecutive_failures, state.health),
        (0, opsdeck::domain::Health::Fresh)
    );
    assert!(
        state.requests_last_hour >= 6 * 2 + 2 * 3,
        "{}",
        state.requests_last_hour
    );
    let (_, edited) = opsdeck_sandbox::org::entities(Seed::Scale(1200))
        .into_iter()
        .find(|(_, e)| e.is_kind("component"))
        .unwrap();
    let name = edited.metadata.name;
    let service = healthy.service(&name).await.unwrap();
    assert_eq!(service.description, Some(format!("{name} (edited)")));

    // A first sync that fails mid-way lands nothing either.
    let (url, flaky) = flaky_catalog(&good.url(), Fault::EntityOfWrongShape, 1, 1).await;
    let first = engine_reading(&good, url, &fresh_cache(&good).await);
    let report = &first.sync(None, &no_progress).await.unwrap()[0];
    assert!(!report.landed);
    assert!(
        report.problems[0].contains("entity #501 of the catalog's answer does not match"),
        "{}",
        report.problems[0]
    );
    assert_eq!(
        flaky.requests.load(Ordering::SeqCst),
        2,
        "page 1, then page 2"
    );
    assert!(first.services(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_sync_reads_by_ref_only_what_changed_since_the_cache_copy() {
    let good = sandbox(Seed::Scale(1200)).await;
    let (_, edited) = opsdeck_sandbox::org::entities(Seed::Scale(1200))
        .into_iter()
        .find(|(_, e)| e.is_kind("component"))
        .unwrap();
    let edited = edited.metadata.name;
    // A component whose dependency cannot become a relation: a problem of the source's.
    let flawed: opsdeck::domain::Entity = serde_json::from_value(serde_json::json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "flawed"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-0001", "dependsOn": ["nameless"]}
    }))
    .unwrap();
    good.edit_catalog(|files| files.push(("flawed.yaml".into(), flawed)));
    let engine = fresh_cache(&good).await;
    let first = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(first.landed, "{first:?}");
    assert_eq!(first.requests, 4, "every entity, 500 a page");
    assert_eq!(first.problems.len(), 1, "{:?}", first.problems);
    let first_success = engine.sources().await.unwrap()[0].last_success;

    // Nothing changed: one page of refs and etags (2,000 a page), nothing written, the
    // problems still told.
    let again = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(again.landed);
    assert_eq!(
        (again.requests, again.rows_written, again.items),
        (1, 0, first.items)
    );
    assert_eq!(again.problems, first.problems);
    let state = &engine.sources().await.unwrap()[0];
    assert_eq!(
        state.last_error.as_deref(),
        Some(first.problems[0].as_str())
    );
    assert!(state.last_success > first_success);

    // After a failed sync the source's last error is the failure: the next sync that finds
    // nothing changed tells the entities' problems again.
    good.set_chaos("backstage:error_rate=1".parse().unwrap());
    assert!(!engine.sync(None, &no_progress).await.unwrap()[0].landed);
    good.set_chaos(opsdeck_sandbox::ChaosSpec::default());
    let recovered = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(recovered.landed);
    assert_eq!((recovered.requests, recovered.rows_written), (1, 0));
    assert_eq!(recovered.problems, first.problems);
    let state = &engine.sources().await.unwrap()[0];
    assert_eq!(
        state.last_error.as_deref(),
        Some(first.problems[0].as_str())
    );
    assert_eq!(state.consecutive_failures, 0);

    // One service edited, one gone, one new: read by ref with what their changes touched
    // (Backstage's etag changes with an entity's relations too), in one request.
    let new: opsdeck::domain::Entity = serde_json::from_value(serde_json::json!({
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
        "metadata": {"name": "brand-new"},
        "spec": {"type": "service", "lifecycle": "experimental", "owner": "team-0001"}
    }))
    .unwrap();
    good.edit_catalog(|files| {
        files.retain(|(_, e)| e.metadata.name != "flawed");
        let edited = files
            .iter_mut()
            .find(|(_, e)| e.metadata.name == edited)
            .unwrap();
        edited.1.metadata.description = Some("Edited in the catalog".into());
        files.push(("new.yaml".into(), new));
    });
    let changed = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(changed.landed, "{:?}", changed.problems);
    assert_eq!(changed.requests, 2, "the listing, then one read by ref");
    assert!(changed.problems.is_empty(), "{:?}", changed.problems);
    assert!(
        (3..20).contains(&changed.rows_written),
        "{}",
        changed.rows_written
    );
    assert_eq!(changed.items, first.items);
    assert_eq!(
        engine
            .service(&edited)
            .await
            .unwrap()
            .description
            .as_deref(),
        Some("Edited in the catalog")
    );
    assert!(engine.service("brand-new").await.is_ok());
    assert!(engine.service("flawed").await.is_err());
    let state = &engine.sources().await.unwrap()[0];
    assert!(state.last_error.is_none());
}

#[tokio::test]
async fn failures_that_pass_are_retried_and_the_sync_lands() {
    let good = sandbox(Seed::Scale(1200)).await;
    let pages = opsdeck_sandbox::org::entities(Seed::Scale(1200))
        .len()
        .div_ceil(500);
    for fault in [Fault::ServerError, Fault::Slow, Fault::TooManyRequests(1)] {
        let (url, flaky) = flaky_catalog(&good.url(), fault, 1, 2).await;
        let engine = engine_reading(&good, url, &fresh_cache(&good).await);
        let started = std::time::Instant::now();
        let report = &engine.sync(None, &no_progress).await.unwrap()[0];
        assert!(report.landed, "{fault:?}: {:?}", report.problems);
        assert_eq!(
            engine.services(None).await.unwrap().len(),
            1200,
            "{fault:?}"
        );
        // Every page and two failed tries.
        assert_eq!(
            flaky.requests.load(Ordering::SeqCst),
            pages + 2,
            "{fault:?}"
        );
        assert_eq!(report.requests, pages as i64 + 2, "{fault:?}");
        if let Fault::TooManyRequests(secs) = fault {
            assert!(
                started.elapsed() >= std::time::Duration::from_secs(2 * secs as u64),
                "Retry-After was honoured twice"
            );
        }
    }
}

#[tokio::test]
async fn a_long_rate_limit_waits_for_the_platform_without_asking_again() {
    let good = sandbox(Seed::Scale(1200)).await;
    // Longer than the 1 s request timeout: the sync does not hold for it.
    let (url, flaky) = flaky_catalog(&good.url(), Fault::TooManyRequests(3), 1, 1).await;
    let engine = engine_reading(&good, url, &fresh_cache(&good).await);
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(!report.landed);
    assert!(
        report.problems[0].starts_with("catalog: 429 Too Many Requests (slow down) — rate limited")
            && report.problems[0].contains("; next sync "),
        "{}",
        report.problems[0]
    );
    assert_eq!(
        flaky.requests.load(Ordering::SeqCst),
        2,
        "no retry inside the sync"
    );
    let state = &engine.sources().await.unwrap()[0];
    assert_eq!(state.health, opsdeck::domain::Health::RateLimited);
    let until = state.retry_after.expect("the wait is recorded");
    assert!(until > chrono::Utc::now() + chrono::Duration::seconds(1));
    assert!(state.next_sync >= until);

    // Asking again before the platform allows makes no request.
    let early = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(!early.landed && early.requests == 0);
    assert!(
        early.problems[0].contains("asked us to wait until"),
        "{}",
        early.problems[0]
    );
    assert_eq!(flaky.requests.load(Ordering::SeqCst), 2);

    let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(100)).await;
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(report.landed, "{:?}", report.problems);
    let state = &engine.sources().await.unwrap()[0];
    assert_eq!(state.health, opsdeck::domain::Health::Fresh);
    assert!(state.retry_after.is_none());
}

#[tokio::test]
async fn a_dead_platform_is_named_and_costs_nothing() {
    let good = sandbox(Seed::Demo).await;
    let secrets = opsdeck::secrets::Secrets::with_embedded(
        [("catalog".to_string(), TOKEN.to_string())].into(),
    );
    let engine = opsdeck::Engine::in_memory(sandbox_config(&good), secrets.clone())
        .await
        .unwrap();
    engine.sync(None, &no_progress).await.unwrap();
    let port = good.url().rsplit(':').next().unwrap().to_string();
    drop(good);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(!report.landed);
    assert_eq!(
        report.requests, 2,
        "a platform that is down is tried twice, not four times"
    );
    assert!(
        report.problems[0].starts_with(&format!("catalog: cannot connect (127.0.0.1:{port})")),
        "{}",
        report.problems[0]
    );
    assert_eq!(
        engine.services(Some("checkout")).await.unwrap().len(),
        8,
        "cached rows survive"
    );
}

/// Forwards to the sandbox after 300 ms, counting requests in flight at once.
#[derive(Default)]
struct Counting {
    upstream: String,
    in_flight: AtomicUsize,
    most: AtomicUsize,
}

async fn counting_handler(
    State(counting): State<Arc<Counting>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = counting.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    counting.most.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let answer = forward(&counting.upstream, method, &uri, &headers, body).await;
    counting.in_flight.fetch_sub(1, Ordering::SeqCst);
    answer
}

#[tokio::test]
async fn sources_of_one_kind_sync_side_by_side_bounded_per_host_and_kept_apart() {
    let good = sandbox(Seed::Demo).await;
    let counting = Arc::new(Counting {
        upstream: good.url(),
        ..Default::default()
    });
    let app = axum::Router::new()
        .route(
            "/api/catalog/entities/by-query",
            axum::routing::get(counting_handler),
        )
        .with_state(counting.clone());
    let url = serve(app).await;

    let names = ["east", "west", "north"];
    let config: String = names
        .iter()
        .map(|n| format!("[[sources]]\nname = \"{n}\"\nkind = \"backstage\"\nurl = \"{url}\"\n"))
        .collect();
    let config = opsdeck::config::Config::parse(&config, std::path::Path::new("t.toml")).unwrap();
    let secrets = opsdeck::secrets::Secrets::with_embedded(
        names
            .iter()
            .map(|n| (n.to_string(), TOKEN.to_string()))
            .collect(),
    );
    let engine = opsdeck::Engine::in_memory(config, secrets).await.unwrap();
    let reports = engine.sync(None, &no_progress).await.unwrap();
    assert!(reports.iter().all(|r| r.landed), "{reports:?}");
    assert_eq!(
        reports
            .iter()
            .map(|r| r.source.as_str())
            .collect::<Vec<_>>(),
        names,
        "reports in config order"
    );
    assert_eq!(
        counting.most.load(Ordering::SeqCst),
        opsdeck::SYNCS_PER_HOST,
        "side by side, but no more than the bound on one host"
    );

    // Each source's rows are its own; the catalog shows each entity once, from all three.
    // Locations are Backstage's own business and are not served.
    let served = opsdeck_sandbox::org::entities(Seed::Demo)
        .iter()
        .filter(|(_, e)| !e.is_kind("location"))
        .count() as i64;
    for name in names {
        assert_eq!(engine.entities_from(name).await.unwrap(), served);
    }
    assert_eq!(engine.services(None).await.unwrap().len(), 62);
    let detail = engine.service("checkout-api").await.unwrap();
    assert_eq!(detail.sources, names);
}
