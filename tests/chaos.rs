//! The sandbox's chaos through the real connector: each fault, set on purpose, fails the sync
//! the way the platform failing would, costs no cached row, and the next healthy sync recovers.
//! The control endpoint changes chaos while the sandbox runs.

use opsdeck::domain::Health;
use opsdeck_sandbox::{Seed, CHAOS_PATH};

use crate::util::{engine, no_progress, sandbox, sandbox_config, TOKEN};

#[tokio::test]
async fn each_fault_fails_the_sync_as_a_platform_would_and_costs_nothing() {
    let sandbox = sandbox(Seed::Scale(600)).await;
    let mut config = sandbox_config(&sandbox);
    config.sources[0].timeout = std::time::Duration::from_secs(1);
    let engine = engine(config, Some(TOKEN)).await;
    assert!(engine.sync(None, &no_progress).await.unwrap()[0].landed);
    let before = serde_json::to_value(engine.services(None).await.unwrap()).unwrap();
    // The catalog changes: a sync lists it, then reads the changed services by ref.
    sandbox.edit_catalog(|files| {
        for (_, e) in files.iter_mut().filter(|(_, e)| e.is_kind("component")) {
            e.metadata.description = Some("edited".into());
        }
    });

    // (chaos, part of the error, requests the sync makes)
    for (chaos, expected, requests) in [
        ("error_rate=1", "sandbox chaos: injected server error", 4),
        (
            "backstage:drop=1",
            "no answer: the connection was closed or reset",
            4,
        ),
        ("truncate=1", "the answer was cut off", 4),
        ("malformed=1", "nothing was replaced", 1),
        ("latency=1500ms", "timed out", 4),
    ] {
        sandbox.set_chaos(chaos.parse().unwrap());
        let report = &engine.sync(None, &no_progress).await.unwrap()[0];
        assert!(!report.landed, "{chaos}");
        assert!(
            report.problems[0].contains(expected),
            "{chaos}: {}",
            report.problems[0]
        );
        assert_eq!(report.requests, requests, "{chaos}");
        assert_eq!(
            serde_json::to_value(engine.services(None).await.unwrap()).unwrap(),
            before,
            "{chaos}"
        );
        assert_eq!(
            engine.sources().await.unwrap()[0].health,
            Health::Failing,
            "{chaos}"
        );
    }

    // A rate limit met mid-sync (the listing read, the changes not): the quota and the wait
    // are recorded.
    sandbox.set_chaos("rate_limit=1/min".parse().unwrap());
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(!report.landed && report.requests == 2, "{report:?}");
    assert!(
        report.problems[0].contains("429 Too Many Requests"),
        "{}",
        report.problems[0]
    );
    let state = &engine.sources().await.unwrap()[0];
    assert_eq!(state.health, Health::RateLimited);
    let quota = state.quota.expect("the quota is recorded");
    assert_eq!((quota.limit, quota.remaining), (Some(1), 0));
    assert!(state.retry_after.is_some());

    // The platform heals; the next sync is allowed once the wait is over.
    sandbox.set_chaos(Default::default());
    let wait = (state.retry_after.unwrap() - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    assert!(wait <= std::time::Duration::from_secs(61));
    let early = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(!early.landed && early.requests == 0, "the wait is honoured");
}

#[tokio::test]
async fn after_the_chaos_the_next_healthy_sync_recovers() {
    let sandbox = sandbox(Seed::Demo).await;
    let engine = engine(sandbox_config(&sandbox), Some(TOKEN)).await;
    assert!(engine.sync(None, &no_progress).await.unwrap()[0].landed);
    sandbox.set_chaos("error_rate=1".parse().unwrap());
    assert!(!engine.sync(None, &no_progress).await.unwrap()[0].landed);
    assert!(!engine.sync(None, &no_progress).await.unwrap()[0].landed);
    assert_eq!(engine.sources().await.unwrap()[0].consecutive_failures, 2);
    sandbox.set_chaos(Default::default());
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(report.landed && report.rows_written == 0, "{report:?}");
    let state = &engine.sources().await.unwrap()[0];
    assert_eq!(
        (state.health, state.consecutive_failures),
        (Health::Fresh, 0)
    );
}

#[tokio::test]
async fn the_control_endpoint_reads_changes_and_clears_chaos() {
    let sandbox = sandbox(Seed::Demo).await;
    let url = format!("{}{CHAOS_PATH}", sandbox.url());
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, body: &str, token: Option<&str>| {
        let mut request = client.request(method, &url).body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(send(reqwest::Method::GET, "", None).await.0, 401);
    assert_eq!(
        send(reqwest::Method::PUT, "error_rate=1", Some("wrong"))
            .await
            .0,
        401
    );
    let (status, text) = send(reqwest::Method::PUT, "error_rate=2", Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert!(
        text.contains("error_rate must be a share between 0 and 1"),
        "{text}"
    );

    let (status, text) = send(
        reqwest::Method::PUT,
        "latency=10ms;backstage:error_rate=1",
        Some(TOKEN),
    )
    .await;
    assert_eq!(
        (status, text.trim()),
        (200, "latency=10ms;backstage:error_rate=1")
    );
    assert_eq!(
        send(reqwest::Method::GET, "", Some(TOKEN)).await.1.trim(),
        "latency=10ms;backstage:error_rate=1"
    );
    let catalog = format!("{}/api/catalog/entities/by-query?limit=1", sandbox.url());
    let broken = client
        .get(&catalog)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(broken.status().is_server_error());

    assert_eq!(send(reqwest::Method::DELETE, "", Some(TOKEN)).await.0, 204);
    assert_eq!(
        send(reqwest::Method::GET, "", Some(TOKEN)).await.1.trim(),
        ""
    );
    let healthy = client
        .get(&catalog)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
}

#[tokio::test]
async fn a_spent_quota_holds_the_next_sync_until_the_window_resets() {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_chaos("rate_limit=1/min".parse().unwrap());
    let engine = engine(sandbox_config(&sandbox), Some(TOKEN)).await;
    // The demo fits one page: the sync lands on the window's only request.
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(report.landed && report.requests == 1, "{report:?}");
    let state = &engine.sources().await.unwrap()[0];
    assert_eq!(state.quota.map(|q| q.remaining), Some(0));
    assert_eq!(
        state.health,
        Health::RateLimited,
        "fresh data, but the next sync must wait"
    );
    assert_eq!(state.retry_after, state.quota.unwrap().resets_at);
    assert!(!state.data_stale);
    // Asking now would only earn a 429: no request is made.
    let early = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(!early.landed && early.requests == 0, "{early:?}");
}
