//! Sync through the real Backstage connector against the sandbox: pagination, auth failures,
//! and platforms that fail mid-way, which must never cost cached data.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opsdeck::sandbox::Seed;

use crate::util::{engine, no_progress, sandbox, sandbox_config, TOKEN};

#[tokio::test]
async fn pages_through_the_whole_catalog_and_reports_progress() {
    let sandbox = sandbox(Seed::Scale(1200)).await;
    let engine = engine(sandbox_config(&sandbox), Some(TOKEN)).await;
    let pages = Arc::new(Mutex::new(Vec::new()));
    let seen = pages.clone();
    let progress =
        move |p: opsdeck::api::SyncProgress| seen.lock().unwrap().push((p.pages, p.items, p.total));
    let reports = engine.sync(None, &progress).await.unwrap();
    assert!(reports[0].landed, "{:?}", reports[0].problems);

    // Locations are Backstage's own business; every other entity arrives.
    let served = opsdeck::sandbox::org::entities(Seed::Scale(1200)).len();
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
    assert_eq!(teams.len(), 60);
    assert!(teams
        .iter()
        .all(|t| t.service_count == 20 && t.member_count == 5));
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
    assert_eq!(teams[0].name, "checkout", "dana's team comes first");
    assert!(teams[0].is_mine && teams.iter().filter(|t| t.is_mine).count() == 1);
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
            "catalog: no token: set OPSDECK_TEST_UNSET_TOKEN_VAR or run `opsdeck login catalog`"
        ),
        "{}",
        report.problems[0]
    );
    assert_eq!(
        missing.sources().await.unwrap()[0].last_error.as_deref(),
        Some(report.problems[0].as_str())
    );
}

/// How the flaky catalog breaks the second page.
#[derive(Clone, Copy, Debug)]
enum Fault {
    ServerError,
    TooManyRequests,
    Truncated,
    Garbage,
    WrongContentType,
    EntityOfWrongShape,
}

struct Flaky {
    upstream: String,
    fault: Fault,
    requests: AtomicUsize,
}

/// Proxies the sandbox, then breaks every request that carries a cursor.
async fn flaky_handler(
    State(flaky): State<Arc<Flaky>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    flaky.requests.fetch_add(1, Ordering::SeqCst);
    let q = q.unwrap_or_default();
    let json = [("content-type", "application/json; charset=utf-8")];
    if q.contains("cursor=") {
        return match flaky.fault {
            Fault::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, json, r#"{"error":{"name":"Error","message":"database is locked"},"request":{"method":"GET","url":"/entities/by-query"},"response":{"statusCode":500}}"#).into_response(),
            Fault::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "30")], "slow down").into_response(),
            Fault::Truncated => (StatusCode::OK, json, r#"{"items":[{"apiVersion":"backstage.io/v1alpha1","kind":"Comp"#).into_response(),
            Fault::Garbage => (StatusCode::OK, json, "<<<not json>>>").into_response(),
            Fault::WrongContentType => (StatusCode::OK, [("content-type", "text/html")], "<html>login</html>").into_response(),
            Fault::EntityOfWrongShape => (StatusCode::OK, json, r#"{"items":[{"kind":"Component"}],"totalItems":1,"pageInfo":{}}"#).into_response(),
        };
    }
    let upstream = reqwest::Client::new()
        .get(format!(
            "{}/api/catalog/entities/by-query?{q}",
            flaky.upstream
        ))
        .header("authorization", headers["authorization"].clone())
        .send()
        .await
        .unwrap();
    (StatusCode::OK, json, upstream.text().await.unwrap()).into_response()
}

async fn flaky_catalog(upstream: &str, fault: Fault) -> (String, Arc<Flaky>) {
    let flaky = Arc::new(Flaky {
        upstream: upstream.to_string(),
        fault,
        requests: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route(
            "/api/catalog/entities/by-query",
            axum::routing::get(flaky_handler),
        )
        .with_state(flaky.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, flaky)
}

#[tokio::test]
async fn a_failure_mid_pagination_leaves_the_cache_exactly_as_it_was() {
    let good = sandbox(Seed::Scale(1200)).await;
    let store = opsdeck::store::Store::in_memory().await.unwrap();
    let secrets = || {
        opsdeck::secrets::Secrets::with_embedded(
            [("catalog".to_string(), TOKEN.to_string())].into(),
        )
    };
    let healthy = opsdeck::Engine::with_store(sandbox_config(&good), store.clone(), secrets());
    healthy.sync(None, &no_progress).await.unwrap();
    let before_services = serde_json::to_value(healthy.services(None).await.unwrap()).unwrap();
    let before_teams = serde_json::to_value(healthy.teams().await.unwrap()).unwrap();
    let before_success = healthy.sources().await.unwrap()[0].last_success;

    for (fault, expected) in [
        (Fault::ServerError, "500 Internal Server Error (Error: database is locked) — the catalog failed; the cached data is kept"),
        (Fault::TooManyRequests, "429 Too Many Requests (slow down) — rate limited"),
        (Fault::Truncated, "the answer was cut off"),
        (Fault::Garbage, "is not the catalog's by-query JSON"),
        (Fault::WrongContentType, "expected JSON from"),
        (Fault::EntityOfWrongShape, "entity #501 of the catalog's answer does not match the entity model"),
    ] {
        let (url, flaky) = flaky_catalog(&good.url(), fault).await;
        let config = sandbox_config(&good).sources[0].clone();
        let mut config_all = sandbox_config(&good);
        config_all.sources[0] = opsdeck::config::SourceConfig { url: Some(url), ..config };
        let broken = opsdeck::Engine::with_store(config_all, store.clone(), secrets());
        let report = &broken.sync(None, &no_progress).await.unwrap()[0];
        assert!(!report.landed, "{fault:?}");
        assert!(report.problems[0].contains(expected), "{fault:?}: {}", report.problems[0]);
        assert!(flaky.requests.load(Ordering::SeqCst) >= 2, "{fault:?}: page 1 was read before the failure");

        assert_eq!(serde_json::to_value(broken.services(None).await.unwrap()).unwrap(), before_services, "{fault:?}");
        assert_eq!(serde_json::to_value(broken.teams().await.unwrap()).unwrap(), before_teams, "{fault:?}");
        let state = &broken.sources().await.unwrap()[0];
        assert_eq!(state.last_success, before_success, "{fault:?}: the last success stands");
        assert_eq!(state.last_error.as_deref(), Some(report.problems[0].as_str()));
    }

    // The next healthy sync recovers and clears the error.
    let report = &healthy.sync(None, &no_progress).await.unwrap()[0];
    assert!(report.landed);
    assert!(healthy.sources().await.unwrap()[0].last_error.is_none());
}

#[tokio::test]
async fn a_dead_platform_is_named_and_costs_nothing() {
    let good = sandbox(Seed::Demo).await;
    let store = opsdeck::store::Store::in_memory().await.unwrap();
    let secrets = opsdeck::secrets::Secrets::with_embedded(
        [("catalog".to_string(), TOKEN.to_string())].into(),
    );
    let engine = opsdeck::Engine::with_store(sandbox_config(&good), store.clone(), secrets.clone());
    engine.sync(None, &no_progress).await.unwrap();
    let port = good.url().rsplit(':').next().unwrap().to_string();
    drop(good);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(!report.landed);
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
