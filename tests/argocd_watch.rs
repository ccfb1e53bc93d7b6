//! Argo CD's watch stream held by the sync loop, against the sandbox: unchanged syncs read
//! nothing, a change lands within seconds without a list, and a broken stream falls back to
//! the list and resumes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opsdeck::api::SyncReport;
use opsdeck::Engine;
use opsdeck_sandbox::{Seed, ARGOCD_PREFIX, ARGOCD_SOURCE};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::util::{delivery_config, engine, flaky_proxy, no_progress, sandbox, TOKEN};

/// Argo CD application lists and watch streams opened through the proxy.
static LISTS: AtomicUsize = AtomicUsize::new(0);
static STREAMS: AtomicUsize = AtomicUsize::new(0);

fn counts_argocd(path: &str, _body: &str) -> bool {
    if path.contains("/api/v1/applications?") {
        LISTS.fetch_add(1, Ordering::SeqCst);
    }
    if path.contains("/api/v1/stream/applications") {
        STREAMS.fetch_add(1, Ordering::SeqCst);
    }
    false
}

/// The next report of the Argo CD source, within 15 seconds.
async fn next_argocd(reports: &mut UnboundedReceiver<SyncReport>) -> SyncReport {
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let report = reports.recv().await.expect("the sync loop runs");
            if report.source == ARGOCD_SOURCE {
                assert!(report.landed, "{report:?}");
                return report;
            }
        }
    })
    .await
    .expect("an Argo CD sync within 15 s")
}

/// The next Argo CD report that wrote something.
async fn next_landing(reports: &mut UnboundedReceiver<SyncReport>) -> SyncReport {
    loop {
        let report = next_argocd(reports).await;
        if report.rows_written > 0 {
            return report;
        }
    }
}

async fn prod_health(engine: &Engine) -> Option<String> {
    let checkout = engine.service_delivery("checkout-api").await.unwrap();
    checkout
        .environments
        .into_iter()
        .find(|e| e.environment == "prod")
        .and_then(|e| e.health)
}

/// Syncs checkout-api's prod application through the sandbox's Argo CD, as someone at Argo
/// CD's UI would.
async fn sync_in_argocd(sandbox: &opsdeck_sandbox::Sandbox) {
    let answer = reqwest::Client::new()
        .post(format!(
            "{}{ARGOCD_PREFIX}/api/v1/applications/checkout-api-prod/sync",
            sandbox.url()
        ))
        .bearer_auth(sandbox.token())
        .json(&serde_json::json!({"name": "checkout-api-prod"}))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );
}

#[tokio::test]
async fn the_watch_lands_changes_without_listing_and_falls_back_to_the_list_when_cut() {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions("rollout=2s".parse().unwrap());
    let (proxy, _) = flaky_proxy(sandbox.url(), || unreachable!(), counts_argocd).await;
    let mut config = delivery_config(&sandbox);
    for source in &mut config.sources {
        if source.name == ARGOCD_SOURCE {
            source.url = Some(format!("{proxy}{ARGOCD_PREFIX}"));
            // Scheduled syncs every second: each must read nothing while the stream holds.
            source.interval = Duration::from_secs(1);
        }
    }
    let engine = engine(config, Some(TOKEN)).await;
    let (sent, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let running = engine.clone();
    let sync_loop = tokio::spawn(async move {
        let on_report = move |report: &SyncReport| {
            let _ = sent.send(report.clone());
        };
        running.sync_on_schedule(&no_progress, &on_report).await
    });

    let first = next_argocd(&mut reports).await;
    assert!(first.requests > 0 && first.rows_written > 0, "{first:?}");
    // The stream is opened before the list, which the next syncs then trust.
    loop {
        let report = next_argocd(&mut reports).await;
        if report.requests == 0 {
            break;
        }
    }
    let listed = LISTS.load(Ordering::SeqCst);
    for _ in 0..3 {
        let unchanged = next_argocd(&mut reports).await;
        assert_eq!(
            (unchanged.requests, unchanged.rows_written),
            (0, 0),
            "{unchanged:?}"
        );
    }
    assert_eq!(prod_health(&engine).await.as_deref(), Some("Healthy"));

    // A sync started at Argo CD shows within seconds, then its end, with no list read.
    // (A new deploy's changes are still asked of GitHub, so its sync is not free of requests.)
    sync_in_argocd(&sandbox).await;
    next_landing(&mut reports).await;
    assert_eq!(prod_health(&engine).await.as_deref(), Some("Progressing"));
    next_landing(&mut reports).await;
    assert_eq!(prod_health(&engine).await.as_deref(), Some("Healthy"));
    assert_eq!(LISTS.load(Ordering::SeqCst), listed, "no list was read");
    assert_eq!(STREAMS.load(Ordering::SeqCst), 1);

    // Cut: what happened meanwhile cannot be told, so the applications are listed again once
    // the stream is back, and changes then come from the stream again.
    sandbox.cut_argocd_streams();
    let mut reopened = false;
    loop {
        let report = next_argocd(&mut reports).await;
        // Until the stream is back (a second away), each sync lists; after, the one that
        // follows lists, and the next trust the stream again.
        reopened |= STREAMS.load(Ordering::SeqCst) == 2;
        assert!(reopened || report.requests > 0, "{report:?}");
        if reopened && report.requests == 0 {
            break;
        }
    }
    assert!(LISTS.load(Ordering::SeqCst) > listed);
    let listed = LISTS.load(Ordering::SeqCst);
    sync_in_argocd(&sandbox).await;
    next_landing(&mut reports).await;
    assert_eq!(prod_health(&engine).await.as_deref(), Some("Progressing"));
    assert_eq!(LISTS.load(Ordering::SeqCst), listed);
    sync_loop.abort();
}
