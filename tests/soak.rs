//! The soak: every source kind syncing on its schedule against platforms that misbehave (the
//! chaos sandbox, a catalog tree rewritten under it) while the UI's queries run. No cached row
//! may ever go missing. Query latency is recorded (target/soak-report.txt), not asserted.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsdeck::config::Config;
use opsdeck_sandbox::{Seed, ARGOCD_SOURCE, GITHUB_SOURCE};

use crate::util::{sandbox, TOKEN};

/// `OPSDECK_SOAK_SECS` shortens or lengthens it; CI runs the default.
fn duration() -> Duration {
    let secs = std::env::var("OPSDECK_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

const CHAOS: &str =
    "latency=0ms..300ms,error_rate=0.2,rate_limit=120/min,malformed=0.05,truncate=0.05,drop=0.05";

fn component(name: &str) -> String {
    format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  owner: group:team-000\n  lifecycle: production\n")
}

fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples
        .get(samples.len() * 99 / 100)
        .copied()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_source_under_chaos_never_loses_a_cached_row() {
    let soak = duration();
    let services = 1500;
    let platform = sandbox(Seed::Scale(services)).await;
    let tree = tempfile::tempdir().unwrap();
    let tree_path = tree.path().to_path_buf();
    let files = move |broken: bool| {
        let mut text: Vec<String> = (0..20)
            .map(|i| component(&format!("local-{i:02}")))
            .collect();
        if broken {
            text.push(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: [unclosed\n".into(),
            );
        }
        // Written aside and renamed in, as editors and git do: a reader sees one file or the other.
        let aside = tree_path.join(".catalog-info.yaml.new");
        std::fs::write(&aside, text.join("---\n")).unwrap();
        std::fs::rename(&aside, tree_path.join("catalog-info.yaml")).unwrap();
    };
    files(false);
    let config = format!(
        "{}\n[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\ninterval = \"1s\"\n",
        crate::util::without_delivery(&platform.config_toml())
            .replace("interval = \"60s\"", "interval = \"2s\"\ntimeout = \"2s\""),
        tree.path().display()
    );
    let config = Config::parse(&config, std::path::Path::new("/tmp/soak.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secrets = crate::util::secrets_with(TOKEN);
    let engine = opsdeck::Engine::open(config, &dir.path().join("cache.sqlite"), secrets)
        .await
        .unwrap();

    // A healthy start, and the quiet query latency to compare with.
    for report in engine.sync(None, &crate::util::no_progress).await.unwrap() {
        assert!(report.landed, "{report:?}");
    }
    let expected_services = services + 20;
    let queries = |engine: opsdeck::Engine| async move {
        let started = Instant::now();
        let teams = engine.teams().await.unwrap();
        let owning = teams.iter().find(|t| t.service_count > 0).unwrap();
        let mine = engine.services(Some(&owning.key)).await.unwrap();
        engine.service(&mine[0].key).await.unwrap();
        engine.search("svc 01", 30).await.unwrap();
        let all = engine.services(None).await.unwrap().len();
        (started.elapsed(), all)
    };
    let mut quiet = Vec::new();
    for _ in 0..200 {
        quiet.push(queries(engine.clone()).await.0);
    }

    platform.set_chaos(CHAOS.parse().unwrap());
    let reports = Arc::new(AtomicUsize::new(0));
    let landed = Arc::new(AtomicUsize::new(0));
    let schedule = tokio::spawn({
        let (engine, reports, landed) = (engine.clone(), reports.clone(), landed.clone());
        async move {
            let count = move |r: &opsdeck::api::SyncReport| {
                reports.fetch_add(1, Ordering::SeqCst);
                if r.landed {
                    landed.fetch_add(1, Ordering::SeqCst);
                }
            };
            engine
                .sync_on_schedule(&crate::util::no_progress, &count)
                .await;
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let rewriter = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut broken = false;
            while !stop.load(Ordering::SeqCst) {
                broken = !broken;
                files(broken);
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
        }
    });

    let deadline = Instant::now() + soak;
    let mut loaded = Vec::new();
    while Instant::now() < deadline {
        let (took, all) = queries(engine.clone()).await;
        assert_eq!(all, expected_services, "a cached row went missing");
        loaded.push(took);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    rewriter.await.unwrap();
    schedule.abort();

    let states = engine.sources().await.unwrap();
    let report = format!(
        "soak {:?} under '{CHAOS}': {} syncs, {} landed; {} query rounds; p99 quiet {:?}, under chaos {:?}\n{}",
        soak,
        reports.load(Ordering::SeqCst),
        landed.load(Ordering::SeqCst),
        loaded.len(),
        p99(&mut quiet),
        p99(&mut loaded),
        states
            .iter()
            .map(|s| format!(
                "  {}: {:?}, {} requests in the last hour, last error: {}",
                s.name,
                s.health,
                s.requests_last_hour,
                s.last_error.as_deref().unwrap_or("-").lines().next().unwrap_or("")
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!("{report}");
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::write(target.join("soak-report.txt"), &report);
    assert!(
        landed.load(Ordering::SeqCst) > 0,
        "some syncs landed: {report}"
    );
    assert!(
        reports.load(Ordering::SeqCst) > landed.load(Ordering::SeqCst),
        "chaos failed some: {report}"
    );

    // The platform heals: everything comes back whole.
    platform.set_chaos(Default::default());
    assert_eq!(engine.cache_integrity().await.unwrap(), "ok");
    assert_eq!(
        engine.services(None).await.unwrap().len(),
        expected_services
    );
}

/// Every deployment the cache holds, newest first.
async fn deployments(engine: &opsdeck::Engine) -> Vec<opsdeck::api::DeploymentRow> {
    engine
        .activity(&opsdeck::ActivityFilter {
            limit: 100_000,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Harsher than [`CHAOS`]: a delivery sync is a few large queries, which retries mostly save.
const DELIVERY_CHAOS: &str =
    "latency=0ms..300ms,error_rate=0.5,rate_limit=60/min,malformed=0.1,truncate=0.1,drop=0.1";

/// The delivery soak: GitHub (GraphQL, and REST for runbook files and comparisons) and Argo CD
/// at a few hundred repositories, syncing on their schedules under chaos. No deployment may
/// ever go missing, and once the platforms heal the cache holds what a fresh sync would.
#[tokio::test(flavor = "multi_thread")]
async fn delivery_under_chaos_never_loses_a_deployment() {
    let soak = duration();
    let platform = sandbox(Seed::Scale(300)).await;
    let config = platform
        .config_toml()
        .replace("interval = \"60s\"", "interval = \"2s\"\ntimeout = \"2s\"");
    let config = Config::parse(&config, std::path::Path::new("/tmp/soak.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secrets = crate::util::secrets_with(TOKEN);
    let engine = opsdeck::Engine::open(config.clone(), &dir.path().join("cache.sqlite"), secrets)
        .await
        .unwrap();
    for report in engine.sync(None, &crate::util::no_progress).await.unwrap() {
        assert!(report.landed, "{report:?}");
    }
    let held = deployments(&engine).await.len();
    assert!(held > 10_000, "a few hundred repositories' history: {held}");

    let reports = Arc::new(AtomicUsize::new(0));
    let landed = Arc::new(AtomicUsize::new(0));
    let schedule = tokio::spawn({
        let (engine, reports, landed) = (engine.clone(), reports.clone(), landed.clone());
        async move {
            let count = move |r: &opsdeck::api::SyncReport| {
                if r.source != GITHUB_SOURCE && r.source != ARGOCD_SOURCE {
                    return;
                }
                reports.fetch_add(1, Ordering::SeqCst);
                if r.landed {
                    landed.fetch_add(1, Ordering::SeqCst);
                }
            };
            engine
                .sync_on_schedule(&crate::util::no_progress, &count)
                .await;
        }
    });
    let deadline = Instant::now() + soak;
    let mut checks = 0;
    while Instant::now() < deadline {
        // GitHub misbehaves all the time; Argo CD ten seconds in twenty.
        match checks % 40 {
            0 => platform.set_chaos(
                format!("github:{DELIVERY_CHAOS};argocd:{DELIVERY_CHAOS}")
                    .parse()
                    .unwrap(),
            ),
            20 => platform.set_chaos(format!("github:{DELIVERY_CHAOS}").parse().unwrap()),
            _ => {}
        }
        let now = deployments(&engine).await.len();
        assert!(now >= held, "a deployment went missing: {now} of {held}");
        checks += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    schedule.abort();
    let report = format!(
        "delivery soak {soak:?} under '{DELIVERY_CHAOS}' on GitHub and Argo CD: {} of their syncs, {} landed, {checks} checks",
        reports.load(Ordering::SeqCst),
        landed.load(Ordering::SeqCst),
    );
    eprintln!("{report}");
    assert!(
        reports.load(Ordering::SeqCst) > landed.load(Ordering::SeqCst),
        "chaos failed some: {report}"
    );

    // The platforms heal: one more sync, and the cache holds what a fresh one reads.
    platform.set_chaos(Default::default());
    for report in engine.sync(None, &crate::util::no_progress).await.unwrap() {
        assert!(report.landed, "{report:?}");
    }
    assert_eq!(engine.cache_integrity().await.unwrap(), "ok");
    let fresh = opsdeck::Engine::in_memory(config, crate::util::secrets_with(TOKEN))
        .await
        .unwrap();
    for report in fresh.sync(None, &crate::util::no_progress).await.unwrap() {
        assert!(report.landed, "{report:?}");
    }
    // What a fresh sync reads, the soaked cache holds, as it is now; beyond that only what
    // has aged past GitHub's 90 days while the soak ran (kept, never lost).
    let recent = |all: Vec<opsdeck::api::DeploymentRow>| {
        let since = chrono::Utc::now() - chrono::Duration::days(89);
        all.into_iter()
            .filter(|d| d.started_at > since)
            .map(|d| (d.source, d.id, d.status, d.finished_at))
            .collect::<std::collections::HashSet<_>>()
    };
    assert_eq!(
        recent(deployments(&engine).await),
        recent(deployments(&fresh).await)
    );
}
