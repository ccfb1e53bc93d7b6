//! What shipped where, through the real GitHub and Argo CD connectors against the sandbox: the
//! demo story, pagination, conditional requests, rate limits, and a failure that costs nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{Duration, Utc};
use opsdeck::api::ActivityCursor;
use opsdeck::domain::delivery::{DeployStatus, WaitReason};
use opsdeck::{ActivityFilter, Engine};
use opsdeck_sandbox::{
    ChaosSpec, Seed, ARGOCD_SOURCE, CATALOG_SOURCE, DEMO_AWAITING_APPROVAL, DEMO_ROLLBACK_FROM,
    DEMO_ROLLBACK_TO, GITHUB_PREFIX, GITHUB_SOURCE,
};

use crate::util::{delivery_config, engine, flaky_proxy, no_progress, sandbox, TOKEN};

async fn synced_demo() -> (opsdeck_sandbox::Sandbox, Engine) {
    let sandbox = sandbox(Seed::Demo).await;
    let engine = engine(delivery_config(&sandbox), Some(TOKEN)).await;
    let reports = engine.sync(None, &no_progress).await.unwrap();
    assert!(
        reports.iter().all(|r| r.landed && r.problems.is_empty()),
        "{reports:?}"
    );
    (sandbox, engine)
}

#[tokio::test]
async fn the_demo_story_reads_as_pipelines_environments_and_changes() {
    let (_sandbox, engine) = synced_demo().await;

    // checkout-api: v2.14.0 reached prod 12 minutes ago through Argo CD, after v2.13.2.
    let checkout = engine.service_delivery("checkout-api").await.unwrap();
    let names: Vec<&str> = checkout.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["build", "test", "beta", "gamma", "prod"]);
    let prod = checkout
        .environments
        .iter()
        .find(|e| e.environment == "prod")
        .unwrap();
    let current = prod.current.as_ref().unwrap();
    assert_eq!(current.version, DEMO_ROLLBACK_FROM);
    let ago = Utc::now() - current.finished_at.unwrap();
    assert!(
        ago >= Duration::minutes(11) && ago <= Duration::minutes(14),
        "{ago}"
    );
    assert_eq!(prod.health.as_deref(), Some("Healthy"));
    assert!(!prod.automated_sync);
    assert_eq!(checkout.timeline[0].version, DEMO_ROLLBACK_FROM);
    let changes = checkout.notable_changes.expect("cached by the sync");
    assert_eq!(
        (changes.from_version.as_str(), changes.to_version.as_str()),
        (DEMO_ROLLBACK_TO, DEMO_ROLLBACK_FROM)
    );
    assert_eq!(changes.total_commits as usize, changes.commits.len());
    assert!(changes.commits.iter().all(|c| c
        .link
        .as_deref()
        .unwrap()
        .starts_with("https://github.com/demo-org/checkout-api/commit/")));

    // payments-gateway: v5.2.0 sits in gamma, waiting for approval to prod.
    let payments = engine.service_delivery("payments-gateway").await.unwrap();
    let prod_stage = payments.stages.iter().find(|s| s.name == "prod").unwrap();
    assert_eq!(prod_stage.waiting, Some(WaitReason::Approval));
    assert_eq!(prod_stage.version.as_deref(), Some(DEMO_AWAITING_APPROVAL));
    let pending = payments.pending.unwrap();
    assert_eq!(
        (pending.from_environment.as_str(), pending.version.as_str()),
        ("gamma", DEMO_AWAITING_APPROVAL)
    );
    assert!(
        pending.commit_count.unwrap() > 0,
        "the pending commits were compared"
    );

    // search-indexer: its newest commit failed the test stage, so nothing moves on.
    let search = engine.service_delivery("search-indexer").await.unwrap();
    let test = search.stages.iter().find(|s| s.name == "test").unwrap();
    assert_eq!(test.status, DeployStatus::Failure);
    let beta = search.stages.iter().find(|s| s.name == "beta").unwrap();
    assert_eq!(
        beta.waiting,
        Some(WaitReason::FailedCheck {
            stage: "test".into()
        })
    );

    // cart-service syncs automatically.
    let cart = engine.service_delivery("cart-service").await.unwrap();
    assert!(cart.environments.iter().any(|e| e.automated_sync));

    // Two older versions were never compared: the cache says so, and asking reads GitHub
    // once, after which the cache answers.
    let (older, old) = (&checkout.versions[4], &checkout.versions[2]);
    let cached_only = engine
        .changes("checkout-api", older, old, false)
        .await
        .unwrap();
    assert!(cached_only.is_none(), "no network on a look");
    let asked = engine
        .changes("checkout-api", older, old, true)
        .await
        .unwrap()
        .unwrap();
    assert!(asked.total_commits > 0);
    let now_cached = engine
        .changes("checkout-api", older, old, false)
        .await
        .unwrap();
    assert_eq!(now_cached.unwrap().total_commits, asked.total_commits);

    // Any two versions compare from the cache, even with GitHub gone.
    drop(_sandbox);
    let again = engine
        .changes("checkout-api", DEMO_ROLLBACK_TO, DEMO_ROLLBACK_FROM, false)
        .await
        .unwrap()
        .expect("cached by the sync");
    assert_eq!(again.total_commits, changes.total_commits);
    let unknown = engine
        .changes("checkout-api", "v0.0.1", DEMO_ROLLBACK_FROM, true)
        .await
        .unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("no deployment of checkout-api ran version 'v0.0.1'"),
        "{unknown}"
    );
}

#[tokio::test]
async fn the_release_matrix_and_the_activity_feed() {
    let (_sandbox, engine) = synced_demo().await;
    let matrix = engine.release_matrix("payments").await.unwrap();
    assert_eq!(matrix.environments, ["beta", "gamma", "prod"]);
    let row = matrix
        .rows
        .iter()
        .find(|r| r.service.name == "payments-gateway")
        .unwrap();
    let cells: Vec<_> = row.cells.iter().map(|c| c.as_ref().unwrap()).collect();
    assert_eq!(cells[1].version.as_deref(), Some(DEMO_AWAITING_APPROVAL));
    assert!(cells[1].drift, "gamma runs another version than prod");
    assert_eq!(cells[2].incoming.as_deref(), Some(DEMO_AWAITING_APPROVAL));
    assert_eq!(cells[2].incoming_status, Some(DeployStatus::Queued));
    assert!(!cells[2].drift);
    // The commits waiting, as the service page counts them from the cached comparison.
    let page = engine.service_delivery("payments-gateway").await.unwrap();
    let (pending, on_page) = (row.pending.as_ref().unwrap(), page.pending.unwrap());
    assert_eq!(pending.version, DEMO_AWAITING_APPROVAL);
    assert!(pending.commit_count.is_some_and(|n| n > 0));
    assert_eq!(pending.commit_count, on_page.commit_count);
    assert_eq!(matrix.days.len(), 90);
    assert_eq!(
        matrix.team_daily_deploys.iter().sum::<i64>(),
        matrix
            .rows
            .iter()
            .flat_map(|r| &r.daily_deploys)
            .sum::<i64>()
    );
    assert!(
        row.daily_deploys.iter().sum::<i64>() >= 10,
        "90 days of prod deploys"
    );

    let all = engine
        .activity(&ActivityFilter {
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        all.windows(2).all(|w| w[0].started_at >= w[1].started_at),
        "newest first"
    );
    assert_eq!(all[0].service.name, "checkout-api");
    let mine = engine
        .activity(&ActivityFilter {
            team: Some("payments".into()),
            environment: Some("prod".into()),
            status: Some(DeployStatus::Queued),
            since_seconds: Some(24 * 3600),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].version, DEMO_AWAITING_APPROVAL);
    let page_two = engine
        .activity(&ActivityFilter {
            after: Some(ActivityCursor {
                started_at: all[9].started_at,
                id: all[9].id.clone(),
            }),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    let ids = |rows: &[opsdeck::api::DeploymentRow]| -> Vec<String> {
        rows.iter().map(|d| d.id.clone()).collect()
    };
    assert_eq!(
        ids(&page_two),
        ids(&all[10..15]),
        "the next five, none skipped"
    );
    // What a web view or a script sends is checked: no page without bounds, no window no
    // calendar holds.
    for (limit, since_seconds) in [(0, None), (-1, None), (i64::MAX, None), (5, Some(i64::MAX))] {
        let refused = engine
            .activity(&ActivityFilter {
                limit,
                since_seconds,
                ..Default::default()
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("ask for 1 to 100000") || refused.contains("is not a date"),
            "{refused}"
        );
    }
}

/// The sandbox's catalog and GitHub alone; GitHub read through `proxy` when given.
fn catalog_and_github(
    sandbox: &opsdeck_sandbox::Sandbox,
    proxy: Option<&str>,
) -> opsdeck::config::Config {
    let mut config = delivery_config(sandbox);
    config
        .sources
        .retain(|s| s.name == CATALOG_SOURCE || s.name == GITHUB_SOURCE);
    if let Some(proxy) = proxy {
        config.sources[1].url = Some(format!("{proxy}{GITHUB_PREFIX}"));
    }
    config
}

/// Counts the GraphQL queries sent through a proxy.
static GRAPHQL_QUERIES: AtomicUsize = AtomicUsize::new(0);

fn counts_graphql(path: &str, _body: &str) -> bool {
    if path.ends_with("/graphql") {
        GRAPHQL_QUERIES.fetch_add(1, Ordering::SeqCst);
    }
    false
}

#[tokio::test]
async fn an_unchanged_sync_is_one_probe_and_writes_nothing() {
    let (sandbox, synced) = synced_demo().await;
    let (url, _) = flaky_proxy(sandbox.url(), || unreachable!(), counts_graphql).await;
    let mut config = synced.config().clone();
    for source in &mut config.sources {
        if source.name == GITHUB_SOURCE {
            source.url = Some(format!("{url}{GITHUB_PREFIX}"));
        }
    }
    let engine = synced.reconfigured(config, crate::util::secrets_with(TOKEN));
    for _ in 0..2 {
        for source in [GITHUB_SOURCE, ARGOCD_SOURCE] {
            let before = GRAPHQL_QUERIES.load(Ordering::SeqCst);
            let report = engine
                .sync(Some(source), &no_progress)
                .await
                .unwrap()
                .remove(0);
            assert!(report.landed, "{report:?}");
            assert_eq!(report.rows_written, 0, "{report:?}");
            if source == GITHUB_SOURCE {
                // The demo's 62 repositories fit one probe (their newest deployments, newest
                // release, default branch head); payments-gateway's runs are read again
                // while its prod deploy waits for approval.
                assert_eq!(GRAPHQL_QUERIES.load(Ordering::SeqCst) - before, 2);
            }
        }
    }
}

#[tokio::test]
async fn deep_history_is_read_page_by_page() {
    static QUERIES: AtomicUsize = AtomicUsize::new(0);
    let sandbox = sandbox(Seed::Scale(40)).await;
    let (url, _) = flaky_proxy(
        sandbox.url(),
        || unreachable!(),
        |path, _| {
            if path.ends_with("/graphql") {
                QUERIES.fetch_add(1, Ordering::SeqCst);
            }
            false
        },
    )
    .await;
    let config = catalog_and_github(&sandbox, Some(&url));
    let engine = engine(config, Some(TOKEN)).await;
    let reports = engine.sync(None, &no_progress).await.unwrap();
    assert!(reports.iter().all(|r| r.landed), "{reports:?}");
    let all = engine
        .activity(&ActivityFilter {
            limit: 100_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let repos: std::collections::BTreeSet<&str> =
        all.iter().map(|d| d.service.name.as_str()).collect();
    // 42 versions × 3 environments (less those that failed in gamma): more than one page
    // of 100 per repository.
    assert!(!repos.is_empty());
    for repo in &repos {
        let held = all.iter().filter(|d| d.service.name == *repo).count();
        assert!(held > 100 && held <= 126, "{repo}: {held}");
    }
    assert!(
        all.iter().all(|d| d.status != DeployStatus::Unknown),
        "every deployment comes with its latest status"
    );
    // Two rounds of queries, 25 repositories each: their first page and their second.
    assert_eq!(QUERIES.load(Ordering::SeqCst), 2 * repos.len().div_ceil(25));
}

#[tokio::test]
async fn a_500_mid_pagination_lands_nothing_and_the_next_sync_lands_all() {
    let good = sandbox(Seed::Scale(40)).await;
    let cache = engine(delivery_config(&good), Some(TOKEN)).await;
    let (url, flaky) = flaky_proxy(
        good.url(),
        || {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [("content-type", "application/json")],
                r#"{"message":"Server Error","documentation_url":"https://docs.github.com/rest"}"#,
            )
                .into_response()
        },
        // A deeper page of some repository's deployments, after the first query's.
        |path, body| path.ends_with("/graphql") && body.contains("after: $a"),
    )
    .await;
    let healthy_config = catalog_and_github(&good, None);
    let broken = cache.reconfigured(
        catalog_and_github(&good, Some(&url)),
        crate::util::secrets_with(TOKEN),
    );
    let reports = broken.sync(None, &no_progress).await.unwrap();
    assert!(reports[0].landed);
    let failed = &reports[1];
    assert!(!failed.landed);
    assert!(
        failed.problems[0].contains(
            "500 Internal Server Error (Server Error) — GitHub failed; the cached data is kept"
        ),
        "{failed:?}"
    );
    assert!(
        flaky.requests.load(Ordering::SeqCst) >= 2,
        "page 1 was read first"
    );
    let nothing = broken
        .activity(&ActivityFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        nothing.is_empty(),
        "page 1's deployments did not land alone"
    );

    let healthy = cache.reconfigured(healthy_config, crate::util::secrets_with(TOKEN));
    let report = healthy
        .sync(Some(GITHUB_SOURCE), &no_progress)
        .await
        .unwrap()
        .remove(0);
    assert!(report.landed, "{report:?}");
    let all = healthy
        .activity(&ActivityFilter {
            limit: 100_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        all.len() > 100 * 8,
        "every repository's whole history: {}",
        all.len()
    );
}

#[tokio::test]
async fn a_spent_quota_is_waited_out_until_its_reset() {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_chaos("github:rate_limit=2/s".parse::<ChaosSpec>().unwrap());
    let config = catalog_and_github(&sandbox, None);
    let engine = engine(config, Some(TOKEN)).await;
    let started = std::time::Instant::now();
    let reports = engine.sync(None, &no_progress).await.unwrap();
    let github = &reports[1];
    assert!(github.landed, "{github:?}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "the 403 with X-RateLimit-Remaining: 0 was waited out until X-RateLimit-Reset"
    );
}

#[tokio::test]
async fn graphql_points_too_few_for_the_next_query_stop_the_sync_until_the_reset() {
    let sandbox = sandbox(Seed::Scale(40)).await;
    let config = catalog_and_github(&sandbox, None);
    let engine = engine(config, Some(TOKEN)).await;
    engine
        .sync(Some(CATALOG_SOURCE), &no_progress)
        .await
        .unwrap();
    // A first read of 25 repositories costs 6 points: 10 pay for one query, not two.
    sandbox.set_github_hourly_limit(10);
    let github = engine
        .sync(Some(GITHUB_SOURCE), &no_progress)
        .await
        .unwrap()
        .remove(0);
    assert!(!github.landed);
    assert_eq!(github.requests, 1, "the second query was not sent");
    assert!(
        github.problems[0].contains("GraphQL points for this hour are spent")
            && github.problems[0].contains("nothing was replaced"),
        "{github:?}"
    );
    let source = engine
        .sources()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == GITHUB_SOURCE)
        .unwrap();
    let next = source.next_sync;
    assert!(
        next > Utc::now() + Duration::minutes(50),
        "waits for the hour's reset: {next}"
    );
    assert!(engine
        .activity(&ActivityFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());

    // GitHub itself refuses a query it cannot be paid for.
    sandbox.set_github_hourly_limit(3);
    let engine = engine.reconfigured(engine.config().clone(), crate::util::secrets_with(TOKEN));
    let github = engine
        .sync(Some(GITHUB_SOURCE), &no_progress)
        .await
        .unwrap()
        .remove(0);
    assert!(!github.landed);
    assert!(
        github.problems[0].contains("API rate limit exceeded"),
        "{github:?}"
    );
}

#[tokio::test]
async fn a_repository_github_does_not_know_fails_the_sync_by_name() {
    let sandbox = sandbox(Seed::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: gone\n  annotations:\n    github.com/project-slug: demo-org/renamed-away\nspec:\n  type: service\n  lifecycle: production\n  owner: team-payments\n",
    )
    .unwrap();
    let text = format!(
        "[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n\n[[sources]]\nname = \"{GITHUB_SOURCE}\"\nkind = \"github\"\nurl = \"{}{GITHUB_PREFIX}\"\n",
        dir.path().display(),
        sandbox.url()
    );
    let engine = engine(crate::util::parse_config(&text), Some(TOKEN)).await;
    let reports = engine.sync(None, &no_progress).await.unwrap();
    let github = &reports[1];
    assert!(!github.landed, "{reports:?}");
    assert_eq!(
        github.problems[0],
        "github: Could not resolve to a Repository with the name 'demo-org/renamed-away'. Check the catalog's github.com/project-slug for demo-org/renamed-away and that the token can read it; nothing was replaced"
    );
}

#[tokio::test]
async fn a_github_whose_graphql_lacks_a_field_is_read_through_rest() {
    let sandbox = sandbox(Seed::Demo).await;
    let (url, flaky) = flaky_proxy(
        sandbox.url(),
        || {
            (
                StatusCode::OK,
                [("content-type", "application/json; charset=utf-8")],
                r#"{"errors":[{"path":["query","r0","deployments","nodes","latestStatus"],"extensions":{"code":"undefinedField","typeName":"Deployment","fieldName":"latestStatus"},"message":"Field 'latestStatus' doesn't exist on type 'Deployment'"}]}"#,
            )
                .into_response()
        },
        |path, _| path.ends_with("/graphql"),
    )
    .await;
    let config = catalog_and_github(&sandbox, Some(&url));
    let engine = engine(config, Some(TOKEN)).await;
    let reports = engine.sync(None, &no_progress).await.unwrap();
    assert!(reports.iter().all(|r| r.landed), "{reports:?}");
    assert!(
        flaky.requests.load(Ordering::SeqCst) > 62 * 3,
        "every repository's lists read over REST"
    );
    let delivery = engine.service_delivery("payments-gateway").await.unwrap();
    let prod = delivery
        .environments
        .iter()
        .find(|e| e.environment == "prod")
        .unwrap();
    assert!(prod.current.is_some(), "{delivery:?}");
}

#[tokio::test]
async fn a_rejected_token_is_named_for_both_platforms() {
    let sandbox = sandbox(Seed::Demo).await;
    let engine = engine(delivery_config(&sandbox), Some(TOKEN)).await;
    engine
        .sync(Some(CATALOG_SOURCE), &no_progress)
        .await
        .unwrap();
    let wrong = engine.reconfigured(
        delivery_config(&sandbox),
        crate::util::secrets_with("not-the-token"),
    );
    let github = wrong
        .sync(Some(GITHUB_SOURCE), &no_progress)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        github.problems[0],
        "github: 401 Unauthorized (Bad credentials) — the token from embedded sandbox was rejected; supply a valid one"
    );
    let argocd = wrong
        .sync(Some(ARGOCD_SOURCE), &no_progress)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        argocd.problems[0],
        "argocd: 401 Unauthorized (no session information) — the token from embedded sandbox was rejected; supply a valid one"
    );
}
