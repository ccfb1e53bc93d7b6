//! Cache benchmark: ingest of a generated organisation through the real Backstage connector
//! into a SQLite file, then the latency of each query a click or a keystroke runs.
//!
//! `cargo bench --bench cache [-- --services N --iterations K --catalog-only]`; results go to
//! stdout as a Markdown table, the form BENCHMARKS.md keeps them in. `--catalog-only` times
//! only the Backstage syncs, three times each on fresh caches, beside a plain client paging
//! the same catalog.

use std::time::{Duration, Instant};

use opsdeck::config::Config;
use opsdeck::Engine;
use opsdeck_sandbox::{Sandbox, SandboxOptions, Seed};

#[path = "common.rs"]
mod common;
use common::{percentile, Picks};

struct Args {
    services: usize,
    iterations: usize,
    catalog_only: bool,
}

fn args() -> Args {
    let mut args = Args {
        services: 10_000,
        iterations: 2_000,
        catalog_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--services" => {
                args.services = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--services N")
            }
            "--iterations" => {
                args.iterations = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--iterations K")
            }
            "--catalog-only" => args.catalog_only = true,
            _ => {} // cargo bench passes --bench
        }
    }
    args
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "| {name} | {} | {:.3} | {:.3} | {:.3} |",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.last().unwrap().as_secs_f64() * 1000.0
    );
}

/// Pages the sandbox's Backstage catalog with the connector's query (its seven kinds, its
/// fields and order, 500 a page), as a plain client would: each answer read and its cursor
/// parsed out, nothing kept. The time Backstage itself takes to page the catalog out.
async fn paged_by_plain_client(sandbox: &Sandbox) -> (Duration, usize) {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        page_info: PageInfo,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PageInfo {
        next_cursor: Option<String>,
    }
    let client = reqwest::Client::new();
    let url = format!("{}/api/catalog/entities/by-query", sandbox.url());
    let mut query = opsdeck::backstage_catalog_query();
    // A cursor carries the filters and the order; the size and the fields go again.
    let value_of = |name: &str| {
        let (_, value) = query
            .iter()
            .find(|(n, _)| *n == name)
            .expect("in the query");
        value.clone()
    };
    let (limit, fields) = (value_of("limit"), value_of("fields"));
    let started = Instant::now();
    let mut pages = 0;
    loop {
        let body = client
            .get(&url)
            .bearer_auth(sandbox.token())
            .query(&query)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .bytes()
            .await
            .unwrap();
        pages += 1;
        let page: Page = serde_json::from_slice(&body).unwrap();
        let Some(cursor) = page.page_info.next_cursor else {
            return (started.elapsed(), pages);
        };
        query = vec![
            ("cursor", cursor),
            ("limit", limit.clone()),
            ("fields", fields.clone()),
        ];
    }
}

/// Three rounds, each on a fresh cache: the plain client's paging, then a full, an
/// unchanged Backstage sync, and one after an edit of one component.
async fn catalog_only(sandbox: &Sandbox) {
    println!("| round | plain client pages it s | full sync s | over the paging s | unchanged sync s | one entity changed s | pages | rows written | unchanged sync's requests | one change's requests |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for round in 1..=3 {
        let (paged, pages) = paged_by_plain_client(sandbox).await;
        let dir = tempfile::tempdir().unwrap();
        let config =
            Config::parse(&sandbox.config_toml(), std::path::Path::new("bench.toml")).unwrap();
        let secrets =
            opsdeck::secrets::Secrets::with_embedded(opsdeck_sandbox::source_tokens("bench"));
        let engine = Engine::open(config, &dir.path().join("cache.sqlite"), secrets)
            .await
            .unwrap();
        let timed_sync = || async {
            let started = Instant::now();
            let report = engine
                .sync(Some("catalog"), &|_| {})
                .await
                .unwrap()
                .remove(0);
            assert!(report.landed, "{:?}", report.problems);
            (report, started.elapsed())
        };
        let (full, full_took) = timed_sync().await;
        let (unchanged, unchanged_took) = timed_sync().await;
        sandbox.edit_catalog(|files| {
            let (_, component) = files
                .iter_mut()
                .find(|(_, e)| e.is_kind("component"))
                .expect("a component");
            component.metadata.description = Some(format!("edited in round {round}"));
        });
        let (one_change, one_change_took) = timed_sync().await;
        assert_eq!(one_change.rows_written, 1, "{:?}", one_change.problems);
        println!(
            "| {round} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {pages} | {} | {} | {} |",
            paged.as_secs_f64(),
            full_took.as_secs_f64(),
            full_took.as_secs_f64() - paged.as_secs_f64(),
            unchanged_took.as_secs_f64(),
            one_change_took.as_secs_f64(),
            full.rows_written,
            unchanged.requests,
            one_change.requests
        );
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let sandbox = Sandbox::start(SandboxOptions {
        port: 0,
        seed: Seed::Scale(args.services),
        token: Some("bench".into()),
        chaos: Default::default(),
        actions: Default::default(),
    })
    .await
    .expect("sandbox");
    if args.catalog_only {
        catalog_only(&sandbox).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The same organisation as a local catalog tree, for the catalog-files source.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let documents: Vec<String> = opsdeck_sandbox::org::entities(Seed::Scale(args.services))
        .iter()
        .map(|(_, e)| serde_norway::to_string(e).unwrap())
        .collect();
    // In files of 500 entities: one file of them all passes the 4 MB a catalog file may hold,
    // and would be refused.
    for (n, part) in documents.chunks(500).enumerate() {
        let dir = tree.join(format!("part-{n:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("catalog-info.yaml"), part.join("---\n")).unwrap();
    }
    let config_text = format!(
        "{}\n[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n",
        sandbox.config_toml(),
        tree.display()
    );
    let config = Config::parse(&config_text, std::path::Path::new("bench.toml")).unwrap();
    let secrets = opsdeck::secrets::Secrets::with_embedded(opsdeck_sandbox::source_tokens("bench"));
    let engine = Engine::open(config, &dir.path().join("cache.sqlite"), secrets)
        .await
        .unwrap();

    let pages = std::sync::atomic::AtomicI64::new(0);
    let progress =
        |p: opsdeck::api::SyncProgress| pages.store(p.pages, std::sync::atomic::Ordering::Relaxed);
    let timed_sync = |source: &'static str| {
        let engine = engine.clone();
        async move {
            let started = Instant::now();
            let report = engine.sync(Some(source), &|_| {}).await.unwrap().remove(0);
            assert!(report.landed, "{:?}", report.problems);
            (started.elapsed(), report)
        }
    };
    let started = Instant::now();
    let full = engine
        .sync(Some("catalog"), &progress)
        .await
        .unwrap()
        .remove(0);
    let ingest = started.elapsed();
    assert!(full.landed, "{:?}", full.problems);
    let (resync, unchanged) = timed_sync("catalog").await;

    let teams = engine.teams().await.unwrap();
    let services = engine.services(None).await.unwrap();
    let db_bytes = std::fs::metadata(dir.path().join("cache.sqlite"))
        .unwrap()
        .len()
        + std::fs::metadata(dir.path().join("cache.sqlite-wal")).map_or(0, |m| m.len());
    println!("## Cache at {} services\n", args.services);
    println!(
        "Ingest through the Backstage connector: {} entities in {} pages, {:.2} s; cache file {:.1} MB.\n",
        full.items,
        pages.load(std::sync::atomic::Ordering::Relaxed),
        ingest.as_secs_f64(),
        db_bytes as f64 / 1e6
    );
    let row = |name: &str, took: Duration, r: &opsdeck::api::SyncReport| {
        println!(
            "| {name} | {:.2} | {} | {} |",
            took.as_secs_f64(),
            r.requests,
            r.rows_written
        )
    };

    println!("| query (what the click runs) | samples | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");

    let mut picks = Picks(7);
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations / 10 {
        let t = Instant::now();
        std::hint::black_box(engine.teams().await.unwrap());
        samples.push(t.elapsed());
    }
    report(
        &format!("sidebar: all {} teams with counts", teams.len()),
        samples,
    );

    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let team = &teams[picks.below(teams.len())];
        let t = Instant::now();
        std::hint::black_box(engine.services(Some(&team.key)).await.unwrap());
        samples.push(t.elapsed());
    }
    report("team's services", samples);

    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let service = &services[picks.below(services.len())];
        let t = Instant::now();
        std::hint::black_box(engine.service(&service.key).await.unwrap());
        samples.push(t.elapsed());
    }
    report("service page", samples);

    // Search as you type: every prefix of a service's name, one query per keystroke.
    let mut samples = Vec::with_capacity(args.iterations);
    while samples.len() < args.iterations {
        let name = &services[picks.below(services.len())].name;
        for end in 1..=name.len() {
            let t = Instant::now();
            std::hint::black_box(engine.search(&name[..end], 30).await.unwrap());
            samples.push(t.elapsed());
        }
    }
    report("search as you type (each keystroke)", samples);

    // On call and on fire: PagerDuty (N/20 incidents) and Alertmanager (N/5 alerts) synced,
    // then what the team view and the service page ask for the on-call panel.
    let (pagerduty_full, pagerduty_report) = timed_sync("pagerduty").await;
    let (pagerduty_again, pagerduty_unchanged) = timed_sync("pagerduty").await;
    let (alerts_full, alerts_report) = timed_sync("alertmanager").await;
    let (alerts_again, alerts_unchanged) = timed_sync("alertmanager").await;
    let mut samples = Vec::with_capacity(args.iterations);
    let mut busiest = (0, 0);
    for _ in 0..args.iterations {
        let team = &teams[picks.below(teams.len())];
        let t = Instant::now();
        let panel = engine
            .on_call_panel(opsdeck::Scope::Team(&team.key))
            .await
            .unwrap();
        samples.push(t.elapsed());
        busiest = busiest.max((panel.alerts.len(), panel.incidents.len()));
    }
    report(
        &format!(
            "team view on call: now/next + incidents + alerts (up to {} alerts, {} incidents a team)",
            busiest.0, busiest.1
        ),
        samples,
    );
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let service = &services[picks.below(services.len())];
        let t = Instant::now();
        std::hint::black_box(
            engine
                .on_call_panel(opsdeck::Scope::Service(&service.key))
                .await
                .unwrap(),
        );
        samples.push(t.elapsed());
    }
    report("service page on call", samples);
    let mut samples = Vec::with_capacity(args.iterations / 10);
    for _ in 0..args.iterations / 50 {
        let t = Instant::now();
        std::hint::black_box(engine.on_call_overview().await.unwrap());
        samples.push(t.elapsed());
    }
    report(
        &format!("On call screen: all {} teams", teams.len()),
        samples,
    );
    // What shipped where: GitHub (42 versions × 3 environments for each repository, about a
    // million deployments at 10,000 services) and Argo CD (ten history entries an application),
    // then what the service page, the Releases view and the Activity feed ask.
    let points = sandbox.github_points_spent();
    let (github_full, github_report) = timed_sync("github").await;
    let points_full = sandbox.github_points_spent() - points;
    let (github_again, github_unchanged) = timed_sync("github").await;
    let points_unchanged = sandbox.github_points_spent() - points - points_full;
    let (argocd_full, argocd_report) = timed_sync("argocd").await;
    let (argocd_again, argocd_unchanged) = timed_sync("argocd").await;
    let cache = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("cache.sqlite").display()
    ))
    .await
    .unwrap();
    let watched = argocd_watched(&engine, &config_text, &sandbox, &cache).await;
    let deployments: i64 = sqlx::query_scalar("SELECT count(*) FROM deployments")
        .fetch_one(&cache)
        .await
        .unwrap();
    cache.close().await;
    let mut samples = Vec::with_capacity(args.iterations);
    let mut longest = 0;
    for _ in 0..args.iterations {
        let service = &services[picks.below(services.len())];
        let t = Instant::now();
        let delivery = engine.service_delivery(&service.key).await.unwrap();
        samples.push(t.elapsed());
        longest = longest.max(delivery.timeline.len());
    }
    report(
        &format!(
            "service page delivery: pipeline, environments, timeline (up to {longest} deploys) of {deployments} deployments"
        ),
        samples,
    );
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let team = &teams[picks.below(teams.len())];
        let t = Instant::now();
        std::hint::black_box(engine.release_matrix(&team.key).await.unwrap());
        samples.push(t.elapsed());
    }
    report("team Releases matrix + 90 days of deploy counts", samples);
    let feed = |filter: opsdeck::ActivityFilter| {
        let engine = engine.clone();
        async move {
            let t = Instant::now();
            std::hint::black_box(engine.activity(&filter).await.unwrap());
            t.elapsed()
        }
    };
    let first_page = || opsdeck::ActivityFilter {
        limit: 50,
        ..Default::default()
    };
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        samples.push(feed(first_page()).await);
    }
    report("Activity feed, first page of 50", samples);
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let team = &teams[picks.below(teams.len())];
        samples.push(
            feed(opsdeck::ActivityFilter {
                team: Some(team.key.clone()),
                ..first_page()
            })
            .await,
        );
    }
    report("Activity feed, one team's first page", samples);
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        samples.push(
            feed(opsdeck::ActivityFilter {
                environment: Some("prod".into()),
                status: Some(opsdeck::domain::delivery::DeployStatus::Failure),
                since_seconds: Some(30 * 86_400),
                ..first_page()
            })
            .await,
        );
    }
    report(
        "Activity feed, failed prod deploys in 30 days (a rare match)",
        samples,
    );
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let t = Instant::now();
        std::hint::black_box(engine.environments().await.unwrap());
        samples.push(t.elapsed());
    }
    report("Activity filter: every environment deployed to", samples);
    let mut samples = Vec::with_capacity(args.iterations);
    let mut most = 0;
    for _ in 0..args.iterations {
        let service = &services[picks.below(services.len())];
        let t = Instant::now();
        let rows = engine
            .runbooks(&service.key, &Default::default())
            .await
            .unwrap();
        samples.push(t.elapsed());
        most = most.max(rows.len());
    }
    report(
        &format!("service page runbooks, filled in (up to {most} a service)"),
        samples,
    );
    // The on-call engineer's incident view, with every platform synced: the incident, its
    // policy now, alerts around it, and every change to it and what it depends on ranked.
    let incidents = engine
        .incidents(
            None,
            &[
                opsdeck::domain::oncall::IncidentStatus::Triggered,
                opsdeck::domain::oncall::IncidentStatus::Acknowledged,
                opsdeck::domain::oncall::IncidentStatus::Resolved,
            ],
        )
        .await
        .unwrap();
    let mut samples = Vec::with_capacity(args.iterations);
    let mut most = (0, 0);
    for _ in 0..args.iterations {
        let incident = &incidents[picks.below(incidents.len())].incident;
        let t = Instant::now();
        let view = engine.incident(&incident.id).await.unwrap();
        samples.push(t.elapsed());
        most = most.max((view.suspects.len(), view.neighbours.len()));
    }
    report(
        &format!(
            "incident view: on call, alerts, suspect changes ranked (up to {} suspects, {} services around) of {} incidents",
            most.0,
            most.1,
            incidents.len()
        ),
        samples,
    );
    // The team lead's review, with every platform synced: the tree with its rollups (the
    // sidebar above), a team's scorecard with its sub-teams, the organisation's, a team's own
    // page and a service's how-to-fix; then what a report and a working-out cost.
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let team = &teams[picks.below(teams.len())];
        let t = Instant::now();
        std::hint::black_box(engine.scorecard(Some(&team.key), true).await.unwrap());
        samples.push(t.elapsed());
    }
    report(
        "team's scorecard with the groups below (services, sub-teams, trend, worse)",
        samples,
    );
    let mut samples = Vec::with_capacity(args.iterations / 10);
    for _ in 0..args.iterations / 10 {
        let t = Instant::now();
        std::hint::black_box(engine.scorecard(None, true).await.unwrap());
        samples.push(t.elapsed());
    }
    report(
        &format!(
            "Scorecards screen: the organisation and all {} groups",
            teams.len()
        ),
        samples,
    );
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let team = &teams[picks.below(teams.len())];
        let t = Instant::now();
        std::hint::black_box(engine.team(&team.key).await.unwrap());
        samples.push(t.elapsed());
    }
    report(
        "team's Team tab: sub-teams, what it owns, members, rotations",
        samples,
    );
    let mut samples = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let service = &services[picks.below(services.len())];
        let t = Instant::now();
        std::hint::black_box(engine.service_scorecard(&service.key).await.unwrap());
        samples.push(t.elapsed());
    }
    report("a service's checks and how to fix them", samples);
    let mut samples = Vec::with_capacity(10);
    let mut csv_bytes = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let report = engine
            .report(opsdeck::ReportKind::Ownership, None, false)
            .await
            .unwrap();
        csv_bytes = report.render(opsdeck::ReportFormat::Csv).unwrap().len();
        samples.push(t.elapsed());
    }
    report(
        &format!(
            "ownership report of every service as CSV ({:.1} MB)",
            csv_bytes as f64 / 1e6
        ),
        samples,
    );
    // Another [scorecards] section makes the next read work every service out again.
    let mut samples = Vec::with_capacity(6);
    for run in 0..6 {
        let text = format!(
            "{config_text}\n[scorecards]\ndeployed_within = \"{}d\"\n",
            30 + run
        );
        let other = engine.reconfigured(
            Config::parse(&text, std::path::Path::new("bench.toml")).unwrap(),
            opsdeck::secrets::Secrets::with_embedded(opsdeck_sandbox::source_tokens("bench")),
        );
        let t = Instant::now();
        std::hint::black_box(other.scorecard(None, true).await.unwrap());
        samples.push(t.elapsed());
    }
    report(
        &format!(
            "scorecards worked out for all {} services (after a sync that changed the cache)",
            services.len()
        ),
        samples,
    );
    // An action, not a click: the cache plus the sandbox's Argo CD (the application, the dry
    // run) and GitHub (the commits undone, cached after the first read) on loopback.
    let mut samples = Vec::with_capacity(100);
    let mut blocked = std::collections::BTreeMap::new();
    for _ in 0..100 {
        let service = &services[picks.below(services.len())];
        let t = Instant::now();
        let plan = engine
            .plan_rollback(&service.key, "prod", None)
            .await
            .unwrap();
        samples.push(t.elapsed());
        for blocker in plan.blockers {
            *blocked.entry(format!("{:?}", blocker.kind)).or_insert(0) += 1;
        }
    }
    report(
        &format!("rollback plan of a prod deploy (blockers met: {blocked:?})"),
        samples,
    );

    // A full sync of a second source (every entity again, from files) while the screens'
    // queries run: the merged view of every entity is rebuilt under them. The same click, quiet,
    // before and after, for comparison.
    let click = |engine: Engine, team: String, service: opsdeck::api::ServiceRow| async move {
        let t = Instant::now();
        std::hint::black_box(engine.services(Some(&team)).await.unwrap());
        std::hint::black_box(engine.service(&service.key).await.unwrap());
        std::hint::black_box(engine.search(&service.name[..3], 30).await.unwrap());
        t.elapsed()
    };
    let mut picks = Picks(11);
    let mut pick = || {
        (
            teams[picks.below(teams.len())].key.clone(),
            services[picks.below(services.len())].clone(),
        )
    };
    let mut before = Vec::new();
    for _ in 0..2000 {
        let (team, service) = pick();
        before.push(click(engine.clone(), team, service).await);
    }
    let during = tokio::spawn(timed_sync("files"));
    let mut under_sync = Vec::new();
    while !during.is_finished() {
        let (team, service) = pick();
        under_sync.push(click(engine.clone(), team, service).await);
    }
    let (files_full, files_report) = during.await.unwrap();
    let (files_again, files_unchanged) = timed_sync("files").await;
    let mut after = Vec::new();
    for _ in 0..2000 {
        let (team, service) = pick();
        after.push(click(engine.clone(), team, service).await);
    }
    println!("\n| sync | time s | requests | rows written |");
    println!("|---|---|---|---|");
    row("backstage, full (empty cache)", ingest, &full);
    row("backstage, nothing changed", resync, &unchanged);
    row(
        "catalog-files, full (entities already held from Backstage)",
        files_full,
        &files_report,
    );
    row(
        "catalog-files, nothing changed",
        files_again,
        &files_unchanged,
    );
    row("pagerduty, full", pagerduty_full, &pagerduty_report);
    row(
        "pagerduty, nothing changed",
        pagerduty_again,
        &pagerduty_unchanged,
    );
    row("alertmanager, full", alerts_full, &alerts_report);
    row(
        "alertmanager, nothing changed",
        alerts_again,
        &alerts_unchanged,
    );
    row("github, full (empty cache)", github_full, &github_report);
    row("github, nothing changed", github_again, &github_unchanged);
    row("argocd, full", argocd_full, &argocd_report);
    row("argocd, nothing changed", argocd_again, &argocd_unchanged);
    row(
        "argocd, nothing changed, watch stream held",
        watched.unchanged_took,
        &watched.unchanged,
    );
    println!(
        "\nArgo CD through its watch stream: an application synced at Argo CD was in the cache {} ms after the sync was asked of it, and its sync reported {} ms after ({} requests, {} rows); the scheduled sync before it {} ms.",
        watched.change_visible.as_millis(),
        watched.change_reported.as_millis(),
        watched.change.requests,
        watched.change.rows_written,
        watched.unchanged_took.as_millis(),
    );
    println!(
        "\nGitHub's GraphQL points: full sync {points_full}, unchanged sync {points_unchanged}."
    );
    println!();
    println!(
        "| a click (team's services + service page + search), ms | samples | p50 | p99 | max |"
    );
    println!("|---|---|---|---|---|");
    for (name, samples) in [
        ("quiet, Backstage only", before),
        ("while the catalog-files full sync runs", under_sync),
        ("quiet, after (every entity from both sources)", after),
    ] {
        report(name, samples);
    }
}

/// What the Argo CD watch stream made of a scheduled sync and of a change.
struct Watched {
    unchanged: opsdeck::api::SyncReport,
    unchanged_took: Duration,
    change: opsdeck::api::SyncReport,
    /// From asking Argo CD to the application's new state in the cache.
    change_visible: Duration,
    /// To the sync's report: after the GitHub comparison its deploy asks for, and the
    /// scorecards worked out again.
    change_reported: Duration,
}

/// Runs the sync loop for Argo CD alone (every second) with its watch stream held: the first
/// sync lists the applications, the next reads nothing; then one application is synced at
/// Argo CD and timed until its change lands.
async fn argocd_watched(
    engine: &Engine,
    config_text: &str,
    sandbox: &Sandbox,
    cache: &sqlx::SqlitePool,
) -> Watched {
    let mut config = Config::parse(config_text, std::path::Path::new("bench.toml")).unwrap();
    config.sources.retain(|s| s.name == "argocd");
    config.sources[0].interval = Duration::from_secs(1);
    let secrets = opsdeck::secrets::Secrets::with_embedded(opsdeck_sandbox::source_tokens("bench"));
    let argocd = engine.reconfigured(config, secrets);
    let watching = argocd.clone();
    let (sent, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let sync_loop = tokio::spawn(async move {
        let on_report = move |report: &opsdeck::api::SyncReport| {
            let _ = sent.send((Instant::now(), report.clone()));
        };
        argocd.sync_on_schedule(&|_| {}, &on_report).await
    });
    // The list after the stream opened, then the first sync that trusts the stream.
    while next_report(&mut reports).await.1.requests > 0 {}
    let started = Instant::now();
    let unchanged = watching
        .sync(Some("argocd"), &|_| {})
        .await
        .unwrap()
        .remove(0);
    let unchanged_took = started.elapsed();
    let app: String = sqlx::query_scalar(
        "SELECT id FROM platform_records WHERE kind = 'environment' ORDER BY id LIMIT 1",
    )
    .fetch_one(cache)
    .await
    .unwrap();
    let state = || {
        sqlx::query_scalar::<_, String>(
            "SELECT body FROM platform_records WHERE kind = 'environment' AND id = ?",
        )
        .bind(&app)
        .fetch_one(cache)
    };
    let before = state().await.unwrap();
    let asked = Instant::now();
    let answer = reqwest::Client::new()
        .post(format!(
            "{}{}/api/v1/applications/{app}/sync",
            sandbox.url(),
            opsdeck_sandbox::ARGOCD_PREFIX
        ))
        .bearer_auth(sandbox.token())
        .json(&serde_json::json!({"name": app}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    while state().await.unwrap() == before {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let change_visible = asked.elapsed();
    let (reported, change) = loop {
        let (at, report) = next_report(&mut reports).await;
        if report.rows_written > 0 {
            break (at, report);
        }
    };
    sync_loop.abort();
    Watched {
        unchanged,
        unchanged_took,
        change,
        change_visible,
        change_reported: reported - asked,
    }
}

async fn next_report(
    reports: &mut tokio::sync::mpsc::UnboundedReceiver<(Instant, opsdeck::api::SyncReport)>,
) -> (Instant, opsdeck::api::SyncReport) {
    tokio::time::timeout(Duration::from_secs(120), reports.recv())
        .await
        .expect("an Argo CD sync within 2 minutes")
        .unwrap()
}
