//! The cache on both backends side by side, in one run: the same organisation synced from the
//! sandbox into a SQLite file and into a real PostgreSQL (Debian's, started here), then each
//! screen's queries timed through the engine on each (on PostgreSQL once its autovacuum is
//! done with the first syncs' rows), and the memory of an idle agent on each.
//!
//! `cargo bench --bench backends [-- --services N --iterations K]`; results go to stdout as
//! Markdown, the form BENCHMARKS.md keeps them in.

use std::time::{Duration, Instant};

use opsdeck::config::Config;
use opsdeck::{Engine, Scope};
use opsdeck_sandbox::{Sandbox, SandboxOptions, Seed};
use opsdeck_test_postgres::{Cluster, SUPERUSER, SUPERUSER_PASSWORD};

#[path = "common.rs"]
mod common;
use common::{percentile, Picks};

const TOKEN: &str = "bench";
const PASSWORD_ENV: &str = "OPSDECK_BENCH_CACHE_PASSWORD";
const SOURCES: [&str; 5] = ["catalog", "pagerduty", "alertmanager", "github", "argocd"];

fn args() -> (usize, usize) {
    let (mut services, mut iterations) = (10_000, 500);
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |what| it.next().and_then(|v| v.parse().ok()).expect(what);
        match arg.as_str() {
            "--services" => services = number("--services N"),
            "--iterations" => iterations = number("--iterations K"),
            _ => {} // cargo bench passes --bench
        }
    }
    (services, iterations)
}

/// p50 and p99 of `samples`, in ms.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    (percentile(&samples, 0.50), percentile(&samples, 0.99))
}

/// What one backend measured: each sync's seconds, each screen's p50 and p99, the idle
/// agent's resident memory in MB.
struct Measured {
    syncs: Vec<(String, f64)>,
    screens: Vec<(String, (f64, f64))>,
    agent_idle_mb: f64,
}

async fn time<T>(samples: &mut Vec<Duration>, run: impl std::future::Future<Output = T>) {
    let t = Instant::now();
    std::hint::black_box(run.await);
    samples.push(t.elapsed());
}

/// Waits (up to ten minutes) until no autovacuum worker runs in `cluster`: a first sync's
/// million rows set the server vacuuming them for a minute or more, on the cores the
/// screens are timed on.
fn wait_for_autovacuum(cluster: &Cluster) {
    let started = Instant::now();
    let running = || {
        cluster.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
        ) != "0"
    };
    // The launcher starts workers every naptime (a minute): one quiet look is not enough.
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(70)
        && started.elapsed() < Duration::from_secs(600)
    {
        if running() {
            quiet_since = Instant::now();
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    println!(
        "(PostgreSQL's autovacuum done {:.0} s after the last sync)\n",
        started.elapsed().as_secs_f64()
    );
}

async fn measure(
    config_text: &str,
    dir: &std::path::Path,
    iterations: usize,
    cluster: Option<&Cluster>,
) -> Measured {
    let config = Config::parse(config_text, std::path::Path::new("bench.toml")).unwrap();
    let mut secrets = opsdeck_sandbox::source_tokens(TOKEN);
    secrets.insert(
        opsdeck::config::CACHE_SECRET.into(),
        SUPERUSER_PASSWORD.into(),
    );
    let engine = Engine::open(
        config,
        &dir.join("cache.sqlite"),
        opsdeck::secrets::Secrets::with_embedded(secrets),
    )
    .await
    .unwrap();
    let mut syncs = Vec::new();
    for source in SOURCES {
        let started = Instant::now();
        let report = engine.sync(Some(source), &|_| {}).await.unwrap().remove(0);
        assert!(report.landed, "{source}: {:?}", report.problems);
        syncs.push((
            format!("first sync of {source} ({} items)", report.items),
            started.elapsed().as_secs_f64(),
        ));
    }
    if let Some(cluster) = cluster {
        wait_for_autovacuum(cluster);
    }
    let teams = engine.teams().await.unwrap();
    let services = engine.services(None).await.unwrap();
    let mut picks = Picks(7);
    let mut screens = Vec::new();
    let mut screen = |name: &str, samples: Vec<Duration>| {
        screens.push((name.to_string(), percentiles(samples)));
    };
    let mut samples = Vec::new();
    for _ in 0..iterations / 10 {
        time(&mut samples, engine.teams()).await;
    }
    screen(
        &format!("sidebar: all {} teams with counts", teams.len()),
        samples,
    );
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let team = &teams[picks.below(teams.len())].key;
        time(&mut samples, engine.services(Some(team))).await;
    }
    screen("team's services", samples);
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let service = &services[picks.below(services.len())].key;
        time(&mut samples, engine.service(service)).await;
    }
    screen("service page", samples);
    let mut samples = Vec::new();
    while samples.len() < iterations {
        let name = &services[picks.below(services.len())].name;
        for end in 1..=name.len() {
            time(&mut samples, engine.search(&name[..end], 30)).await;
        }
    }
    screen("search as you type (each keystroke)", samples);
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let team = &teams[picks.below(teams.len())].key;
        time(&mut samples, engine.on_call_panel(Scope::Team(team))).await;
    }
    screen("team view on call: now/next + incidents + alerts", samples);
    let mut samples = Vec::new();
    for _ in 0..iterations / 10 {
        time(&mut samples, engine.on_call_overview()).await;
    }
    screen(
        &format!("On call screen: all {} teams", teams.len()),
        samples,
    );
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let service = &services[picks.below(services.len())].key;
        time(&mut samples, engine.service_delivery(service)).await;
    }
    screen("service page delivery", samples);
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let team = &teams[picks.below(teams.len())].key;
        time(&mut samples, engine.release_matrix(team)).await;
    }
    screen("team Releases matrix + 90 days of deploy counts", samples);
    let first_page = || opsdeck::ActivityFilter {
        limit: 50,
        ..Default::default()
    };
    let mut samples = Vec::new();
    for _ in 0..iterations {
        time(&mut samples, engine.activity(&first_page())).await;
    }
    screen("Activity feed, first page of 50", samples);
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let team = Some(teams[picks.below(teams.len())].key.clone());
        let filter = opsdeck::ActivityFilter {
            team,
            ..first_page()
        };
        time(&mut samples, engine.activity(&filter)).await;
    }
    screen("Activity feed, one team's first page", samples);
    let mut samples = Vec::new();
    for _ in 0..iterations {
        let team = &teams[picks.below(teams.len())].key;
        time(&mut samples, engine.scorecard(Some(team), false)).await;
    }
    screen("a team's scorecard", samples);
    drop(engine);
    Measured {
        syncs,
        screens,
        agent_idle_mb: agent_idle_mb(dir),
    }
}

/// The resident memory of `opsdeck agent` on the cache `dir`'s config names, once it has
/// idled ten seconds (every source synced within its interval: nothing due).
fn agent_idle_mb(dir: &std::path::Path) -> f64 {
    let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .arg("--config")
        .arg(dir.join("bench.toml"))
        .arg("--db")
        .arg(dir.join("cache.sqlite"))
        .args(["agent", "--listen", "127.0.0.1:0"])
        .env("OPSDECK_SANDBOX_TOKEN", TOKEN)
        .env(PASSWORD_ENV, SUPERUSER_PASSWORD)
        .env("HOME", dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(10));
    let status = std::fs::read_to_string(format!("/proc/{}/status", agent.id())).unwrap();
    let _ = agent.kill();
    let _ = agent.wait();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS");
    kib / 1024.0
}

#[tokio::main]
async fn main() {
    let (services, iterations) = args();
    let sandbox = Sandbox::start(SandboxOptions {
        port: 0,
        seed: Seed::Scale(services),
        token: Some(TOKEN.into()),
        chaos: Default::default(),
        actions: Default::default(),
    })
    .await
    .expect("sandbox");
    let cluster = Cluster::start().expect("PostgreSQL (Debian's postgresql package)");
    // Every source on a long interval: the agents find nothing due and idle.
    let sources: Vec<String> = sandbox
        .config_toml()
        .lines()
        .filter(|line| !line.starts_with("interval = "))
        .map(|line| match line {
            "[[sources]]" => "[[sources]]\ninterval = \"6h\"".to_string(),
            _ => line.to_string(),
        })
        .collect();
    let sources = sources.join("\n");
    let postgres = format!(
        "{sources}\n[cache]\nurl = \"{}\"\npassword_env = \"{PASSWORD_ENV}\"\n",
        cluster.url(SUPERUSER, &cluster.create_database())
    );
    let mut measured = Vec::new();
    for (config, cluster) in [(sources.clone(), None), (postgres, Some(&cluster))] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bench.toml"), &config).unwrap();
        measured.push(measure(&config, dir.path(), iterations, cluster).await);
    }
    let [sqlite, postgres] = &measured[..] else {
        unreachable!()
    };
    println!("## Both backends at {services} services\n");
    println!("| sync | SQLite s | PostgreSQL s |\n|---|---|---|");
    for ((name, file), (_, shared)) in sqlite.syncs.iter().zip(&postgres.syncs) {
        println!("| {name} | {file:.2} | {shared:.2} |");
    }
    println!(
        "\n| query (what the click runs) | SQLite p50 ms | SQLite p99 ms | PostgreSQL p50 ms | PostgreSQL p99 ms |\n|---|---|---|---|---|"
    );
    for ((name, (file50, file99)), (_, (shared50, shared99))) in
        sqlite.screens.iter().zip(&postgres.screens)
    {
        println!("| {name} | {file50:.3} | {file99:.3} | {shared50:.3} | {shared99:.3} |");
    }
    println!(
        "\nAn idle `opsdeck agent` (every source synced, nothing due, 10 s after start): {:.1} MB resident on SQLite, {:.1} MB on PostgreSQL.",
        sqlite.agent_idle_mb, postgres.agent_idle_mb
    );
}
