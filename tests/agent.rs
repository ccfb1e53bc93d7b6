//! `opsdeck agent` as a process against the sandbox: its health and metrics, SIGTERM and kill -9
//! mid-sync, and sync leases among the processes that share one cache. Each runs on a cache
//! file and, where PostgreSQL is installed, on a shared cache in a real PostgreSQL.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_sandbox::{Sandbox, Seed};
use serde_json::Value;

use opsdeck::secrets::Secrets;
use opsdeck_test_postgres::{Cluster, SUPERUSER, SUPERUSER_PASSWORD};

use crate::util::{no_progress, opsdeck, parse_config, sandbox, TOKEN};

/// The env var the processes of a test read the shared cache's password from.
const PASSWORD_ENV: &str = "OPSDECK_TEST_CACHE_PASSWORD";

/// Where the processes of a test keep the cache they share.
struct Cache {
    /// `file`, or `postgres`.
    name: &'static str,
    /// What the config says of it (nothing, for the file in the test's directory).
    section: String,
}

impl Cache {
    fn file() -> Self {
        Self {
            name: "file",
            section: String::new(),
        }
    }
}

/// The caches each test runs on: a file, and a database of `cluster` where PostgreSQL is
/// installed.
fn caches(cluster: &Option<Cluster>) -> Vec<Cache> {
    let mut caches = vec![Cache::file()];
    if let Some(cluster) = cluster {
        let url = cluster.url(SUPERUSER, &cluster.create_database());
        caches.push(Cache {
            name: "postgres",
            section: format!("\n[cache]\nurl = \"{url}\"\npassword_env = \"{PASSWORD_ENV}\"\n"),
        });
    }
    caches
}

/// Secrets that hand the sandbox's token to every source, and the shared cache its password,
/// in process.
fn secrets() -> Secrets {
    let mut secrets = opsdeck_sandbox::source_tokens(TOKEN);
    secrets.insert(
        opsdeck::config::CACHE_SECRET.into(),
        SUPERUSER_PASSWORD.into(),
    );
    Secrets::with_embedded(secrets)
}

/// An agent process, with the address of its `/healthz` and `/metrics`.
struct Agent {
    child: Child,
    base: String,
    /// What it wrote on stderr (its log), collected until it ends.
    log: std::thread::JoinHandle<String>,
}

impl Agent {
    fn start(dir: &Path, config: &Path) -> Self {
        let mut child = opsdeck()
            .arg("--config")
            .arg(config)
            .arg("--db")
            .arg(dir.join("cache.sqlite"))
            .args(["agent", "--listen", "127.0.0.1:0"])
            .env("OPSDECK_SANDBOX_TOKEN", TOKEN)
            .env(PASSWORD_ENV, SUPERUSER_PASSWORD)
            .env("HOME", dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let address = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("the agent did not say where it serves: {first:?}"))
            .to_string();
        let stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
        Self {
            child,
            base: format!("http://{address}"),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn health(&self) -> Value {
        let response = reqwest::get(format!("{}/healthz", self.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Waits until `healthz` satisfies `done`.
    async fn health_when(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = self.health().await;
            if done(&health) {
                return health;
            }
            assert!(Instant::now() < deadline, "never {what}: {health:#}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn metrics(&self) -> String {
        let response = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
        response.text().await.unwrap()
    }

    /// Asserts that `/healthz` and `/metrics` answer 503, saying the cache does not answer,
    /// and `why`; returns what `/metrics` said.
    async fn unavailable_saying(&self, why: &str) -> String {
        let mut said = String::new();
        for path in ["healthz", "metrics"] {
            let response = reqwest::get(format!("{}/{path}", self.base)).await.unwrap();
            assert_eq!(response.status(), 503, "{path}");
            said = response.text().await.unwrap();
            assert!(said.contains("the cache does not answer"), "{path}: {said}");
            assert!(said.contains(why), "{path}: {said}");
        }
        said
    }

    fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for the process to end: its exit status and log.
    fn ended(mut self, within: Duration) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let log = self.log.join().unwrap();
                panic!("the agent did not stop within {within:?}; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.log.join().unwrap())
    }
}

/// Who syncs `source` now, by pid, as `/healthz` says.
fn syncing_pid(health: &Value, source: &str) -> Option<u32> {
    let sources = health["sources"].as_array()?;
    let who = &sources.iter().find(|s| s["name"] == source)?["syncing_now"];
    assert!(
        who.is_null() || who["by"].as_str()?.contains("agent") && who["since"].is_string(),
        "{who}"
    );
    who["pid"].as_u64()?.try_into().ok()
}

/// `sandbox`'s config with only its sources of `kinds`, each on `interval`.
fn config_of(sandbox: &Sandbox, kinds: &[&str], interval: &str) -> String {
    let text = sandbox.config_toml();
    let mut blocks = text.split("[[sources]]");
    let head = blocks.next().unwrap_or_default().to_string();
    blocks
        .filter(|block| {
            kinds
                .iter()
                .any(|k| block.contains(&format!("kind = \"{k}\"")))
        })
        .map(|block| {
            let lines: Vec<&str> = block
                .lines()
                .filter(|line| !line.starts_with("interval"))
                .collect();
            format!(
                "{}\ninterval = \"{interval}\"\n",
                lines.join("\n").trim_end()
            )
        })
        .fold(head, |all, block| format!("{all}[[sources]]{block}"))
}

/// Writes the config `text` with the cache at `cache`.
fn write(dir: &Path, text: &str, cache: &Cache) -> PathBuf {
    let path = dir.join("opsdeck.toml");
    std::fs::write(&path, format!("{text}{}", cache.section)).unwrap();
    path
}

/// Runs `opsdeck ARGS` on the cache in `dir` with `config`, as a process beside the agent.
fn cli(dir: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    opsdeck()
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(dir.join("cache.sqlite"))
        .args(args)
        .env("OPSDECK_SANDBOX_TOKEN", TOKEN)
        .env(PASSWORD_ENV, SUPERUSER_PASSWORD)
        .env("HOME", dir)
        .output()
        .unwrap()
}

async fn open_cache(dir: &Path, config: &Path) -> opsdeck::Engine {
    let config = opsdeck::config::Config::load(config).unwrap();
    opsdeck::Engine::open(config, &dir.join("cache.sqlite"), secrets())
        .await
        .expect("the cache opens")
}

/// Checks `/metrics` with Prometheus's own `promtool`, where Debian's `prometheus` package
/// put it; CI must have it.
fn promtool_accepts(text: &str) {
    let promtool = match which("promtool") {
        Some(path) => path,
        None if std::env::var_os("CI").is_some() => {
            panic!("promtool not found: `make deps` installs Debian's prometheus package")
        }
        None => {
            eprintln!("skipped: promtool not found (Debian's prometheus package)");
            return;
        }
    };
    let mut check = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// The value of the sample `name` in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_syncs_every_source_serves_health_and_metrics_and_stops_on_sigterm() {
    let cluster = Cluster::start();
    for cache in caches(&cluster) {
        eprintln!("on the {} cache", cache.name);
        the_agent_syncs_every_source_serves_health_and_metrics_and_stops_on_sigterm_on(&cache)
            .await;
    }
}

async fn the_agent_syncs_every_source_serves_health_and_metrics_and_stops_on_sigterm_on(
    cache: &Cache,
) {
    let sandbox = sandbox(Seed::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), &sandbox.config_toml(), cache);
    let agent = Agent::start(dir.path(), &config);
    let health = agent
        .health_when("synced every source", |h| {
            h["sources"]
                .as_array()
                .is_some_and(|s| s.iter().all(|s| s["last_success"].is_string()))
        })
        .await;
    assert_eq!(health["status"], "ready");
    assert_eq!(health["sources"].as_array().unwrap().len(), 5);

    // A sync is counted once the screens' summaries are worked out, after it landed.
    let landed = |metrics: &str, source: &str| {
        let name = format!("opsdeck_syncs_total{{source=\"{source}\",outcome=\"landed\"}}");
        sample(metrics, &name).unwrap_or(0.0)
    };
    let sources = ["catalog", "pagerduty", "alertmanager", "github", "argocd"];
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let metrics = agent.metrics().await;
        if sources.iter().all(|s| landed(&metrics, s) >= 1.0) {
            break metrics;
        }
        assert!(
            Instant::now() < deadline,
            "not every sync counted:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    promtool_accepts(&metrics);
    // Two CLIs beside it, at once, read what it landed.
    let (one, two) = std::thread::scope(|threads| {
        let read = || cli(dir.path(), &config, &["services", "--json"]);
        let (one, two) = (threads.spawn(read), threads.spawn(read));
        (one.join().unwrap(), two.join().unwrap())
    });
    let listed = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let services: Value = serde_json::from_slice(&out.stdout).unwrap();
        services.as_array().unwrap().len()
    };
    assert!(listed(&one) > 0);
    assert_eq!(listed(&one), listed(&two));
    let catalog = &health["sources"][0];
    assert_eq!(catalog["name"], "catalog");
    for source in sources {
        let count = format!("opsdeck_sync_duration_seconds_count{{source=\"{source}\"}}");
        assert!(sample(&metrics, &count).unwrap_or(0.0) >= 1.0, "{count}");
    }
    let requests = sample(&metrics, "opsdeck_sync_requests_total{source=\"catalog\"}").unwrap();
    assert!(requests >= 1.0);
    let written = sample(
        &metrics,
        "opsdeck_sync_rows_written_total{source=\"catalog\"}",
    )
    .unwrap();
    assert!(
        written >= catalog["item_count"].as_f64().unwrap(),
        "{written}"
    );
    let last = sample(
        &metrics,
        "opsdeck_source_last_success_timestamp_seconds{source=\"catalog\"}",
    )
    .unwrap();
    let landed_at: DateTime<Utc> = catalog["last_success"].as_str().unwrap().parse().unwrap();
    assert!(
        (last - landed_at.timestamp() as f64).abs() <= 60.0,
        "{last} {landed_at}"
    );

    agent.signal("-TERM");
    let (status, log) = agent.ended(Duration::from_secs(10));
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("sync landed"), "one line a sync: {log}");
    assert!(!log.contains('\x1b'), "no colour codes in a journal: {log}");
    assert!(!log.contains(TOKEN), "the token stays out of the log");
    let engine = open_cache(dir.path(), &config).await;
    assert!(engine.syncing_now().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_sync_lands_nothing_of_it_and_gives_the_lease_up() {
    let cluster = Cluster::start();
    for cache in caches(&cluster) {
        eprintln!("on the {} cache", cache.name);
        sigterm_mid_sync_lands_nothing_of_it_and_gives_the_lease_up_on(&cache).await;
    }
}

async fn sigterm_mid_sync_lands_nothing_of_it_and_gives_the_lease_up_on(cache: &Cache) {
    let before = sandbox(Seed::Scale(120)).await;
    let after = sandbox(Seed::Scale(80)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), &config_of(&before, &["backstage"], "1h"), cache);
    let synced = cli(dir.path(), &config, &["sync"]);
    assert!(synced.status.success());
    let held = open_cache(dir.path(), &config)
        .await
        .entities_from("catalog")
        .await
        .unwrap();

    // The agent's first sync reads another catalog, slowly.
    after.set_chaos("latency=3s".parse().unwrap());
    let config = write(dir.path(), &config_of(&after, &["backstage"], "1s"), cache);
    let agent = Agent::start(dir.path(), &config);
    let pid = agent.pid();
    agent
        .health_when("started syncing", |h| {
            syncing_pid(h, "catalog") == Some(pid)
        })
        .await;
    // A sync asked for meanwhile leaves it to the agent, and has not failed.
    let asked = cli(dir.path(), &config, &["sync", "--source", "catalog"]);
    let said = String::from_utf8_lossy(&asked.stdout);
    assert!(
        asked.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&asked.stderr)
    );
    assert!(
        said.contains("catalog: left to the agent on")
            && said.contains(&format!("pid {pid}"))
            && said.contains("which is syncing it now"),
        "{said}"
    );
    agent.signal("-TERM");
    let (status, log) = agent.ended(Duration::from_secs(5));
    assert!(status.success(), "{status}: {log}");
    assert!(!log.contains("sync landed"), "{log}");

    let engine = open_cache(dir.path(), &config).await;
    assert_eq!(engine.cache_integrity().await.unwrap(), "ok");
    assert_eq!(engine.entities_from("catalog").await.unwrap(), held);
    assert!(engine.syncing_now().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_agent_mid_sync_keeps_the_cache_whole_and_the_next_agent_takes_the_lease_at_once(
) {
    let cluster = Cluster::start();
    for cache in caches(&cluster) {
        eprintln!("on the {} cache", cache.name);
        killing_the_agent_mid_sync_keeps_the_cache_whole_and_the_next_agent_takes_the_lease_at_once_on(&cache).await;
    }
}

async fn killing_the_agent_mid_sync_keeps_the_cache_whole_and_the_next_agent_takes_the_lease_at_once_on(
    cache: &Cache,
) {
    const ROUNDS: usize = 20;
    let catalogs = [
        sandbox(Seed::Scale(120)).await,
        sandbox(Seed::Scale(80)).await,
    ];
    let sizes: Vec<i64> = [120, 80]
        .iter()
        .map(|&n| opsdeck_sandbox::org::entities(Seed::Scale(n)).len() as i64)
        .collect();
    for catalog in &catalogs {
        catalog.set_chaos("latency=50ms..600ms".parse().unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let mut held = 0;
    let mut mid_sync = 0;
    for round in 0..ROUNDS {
        // Always towards the other catalog, so every sync has everything to rewrite.
        let target = usize::from(held == sizes[0]);
        let config = write(
            dir.path(),
            &config_of(&catalogs[target], &["backstage"], "1s"),
            cache,
        );
        let started = Instant::now();
        let agent = Agent::start(dir.path(), &config);
        let pid = agent.pid();
        // The previous agent died holding the lease (ten minutes long) in most rounds: this one
        // takes it at once, since that process is gone.
        agent
            .health_when("took the lease", |h| syncing_pid(h, "catalog") == Some(pid))
            .await;
        assert!(started.elapsed() < Duration::from_secs(10), "round {round}");
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..400))).await;
        mid_sync += usize::from(syncing_pid(&agent.health().await, "catalog") == Some(pid));
        agent.signal("-KILL");
        agent.ended(Duration::from_secs(5));

        let engine = open_cache(dir.path(), &config).await;
        assert_eq!(
            engine.cache_integrity().await.unwrap(),
            "ok",
            "round {round}"
        );
        let count = engine.entities_from("catalog").await.unwrap();
        assert!(
            count == held || count == sizes[target],
            "round {round}: {count} rows, neither the previous {held} nor the new {}",
            sizes[target]
        );
        assert_eq!(
            engine.services(None).await.unwrap().len() as i64 > 0,
            count > 0
        );
        held = count;
    }
    eprintln!("agent kill -9: {ROUNDS} rounds, {mid_sync} while it held the lease");
    assert!(
        mid_sync >= ROUNDS / 3,
        "kills must land during syncs: {mid_sync}"
    );
}

/// A sync's span from the agent's log line when it ended: (source, start, end).
fn sync_spans(log: &str) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    log.lines()
        .filter(|line| line.contains("sync landed") || line.contains("sync failed"))
        .map(|line| {
            let ended: DateTime<Utc> = line.split_whitespace().next().unwrap().parse().unwrap();
            let field = |name: &str| {
                line.split(&format!("{name}="))
                    .nth(1)
                    .and_then(|rest| rest.split([' ', '}']).next())
                    .unwrap_or_else(|| panic!("no {name} in {line}"))
                    .to_string()
            };
            let took = chrono::TimeDelta::milliseconds(field("duration_ms").parse().unwrap());
            (field("source"), ended - took, ended)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_agents_on_one_cache_never_sync_the_same_source_at_once() {
    let cluster = Cluster::start();
    for cache in caches(&cluster) {
        eprintln!("on the {} cache", cache.name);
        two_agents_on_one_cache_never_sync_the_same_source_at_once_on(&cache).await;
    }
}

async fn two_agents_on_one_cache_never_sync_the_same_source_at_once_on(cache: &Cache) {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_chaos("latency=100ms..400ms".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &config_of(&sandbox, &["backstage", "pagerduty", "alertmanager"], "1s"),
        cache,
    );
    let agents = [
        Agent::start(dir.path(), &config),
        Agent::start(dir.path(), &config),
    ];
    tokio::time::sleep(Duration::from_secs(12)).await;
    let mut left = 0.0;
    for agent in &agents {
        let metrics = agent.metrics().await;
        left += ["catalog", "pagerduty", "alertmanager"]
            .iter()
            .filter_map(|s| {
                sample(
                    &metrics,
                    &format!("opsdeck_syncs_total{{source=\"{s}\",outcome=\"left\"}}"),
                )
            })
            .sum::<f64>();
    }
    let spans: Vec<_> = agents
        .into_iter()
        .map(|agent| {
            agent.signal("-TERM");
            let (status, log) = agent.ended(Duration::from_secs(10));
            assert!(status.success());
            sync_spans(&log)
        })
        .collect();
    assert!(spans[0].len() + spans[1].len() >= 9, "{spans:?}");
    for (source, start, end) in &spans[0] {
        for (other, other_start, other_end) in &spans[1] {
            assert!(
                source != other || end <= other_start || other_end <= start,
                "{source} synced by both agents at once: {start}–{end} and {other_start}–{other_end}"
            );
        }
    }
    // The agents did meet: one found a source taken by the other and left it.
    assert!(left >= 1.0, "no sync was left to the other agent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_being_synced_by_another_process_is_left_to_it() {
    let cluster = Cluster::start();
    for cache in caches(&cluster) {
        eprintln!("on the {} cache", cache.name);
        a_source_being_synced_by_another_process_is_left_to_it_on(&cache).await;
    }
}

async fn a_source_being_synced_by_another_process_is_left_to_it_on(cache: &Cache) {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_chaos("latency=300ms".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.sqlite");
    let config = parse_config(&format!(
        "{}{}",
        config_of(&sandbox, &["backstage"], "1h"),
        cache.section
    ));
    // Two engines on one cache file are two holders, as two processes are.
    let open = || opsdeck::Engine::open(config.clone(), &db, secrets());
    let (first, second) = (open().await.unwrap(), open().await.unwrap());
    let (a, b) = tokio::join!(first.sync(Some("catalog"), &no_progress), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        second.sync(Some("catalog"), &no_progress).await
    });
    let (a, b) = (a.unwrap().remove(0), b.unwrap().remove(0));
    assert!(a.landed, "{a:?}");
    assert!(!b.landed);
    let holder = b.left_to.as_deref().unwrap();
    assert!(
        holder.contains(&format!("pid {}", std::process::id())),
        "{holder}"
    );
    assert!(
        b.problems[0].contains("is syncing it, and what it lands shows here"),
        "{:?}",
        b.problems
    );
    assert_eq!(b.requests, 0);
    // Once it is done, the source is free again.
    assert!(first.syncing_now().await.unwrap().is_empty());
    let again = second.sync(Some("catalog"), &no_progress).await.unwrap();
    assert!(again[0].landed, "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_put_in_anothers_place_takes_on_the_syncs_it_cut_short() {
    let cluster = Cluster::start();
    for cache in caches(&cluster) {
        eprintln!("on the {} cache", cache.name);
        an_engine_put_in_anothers_place_takes_on_the_syncs_it_cut_short_on(&cache).await;
    }
}

async fn an_engine_put_in_anothers_place_takes_on_the_syncs_it_cut_short_on(cache: &Cache) {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_chaos("latency=300ms".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = parse_config(&format!(
        "{}{}",
        config_of(&sandbox, &["backstage"], "1h"),
        cache.section
    ));
    let before = opsdeck::Engine::open(config.clone(), &dir.path().join("cache.sqlite"), secrets())
        .await
        .unwrap();
    // The desktop's sources editor saved: its sync loop is stopped mid-sync, its lease kept.
    let cut_short =
        tokio::time::timeout(Duration::from_millis(150), before.sync(None, &no_progress)).await;
    assert!(cut_short.is_err(), "the sync was meant to be under way");
    let syncing = before.syncing_now().await.unwrap();
    assert_eq!(syncing.len(), 1);
    // The engine that holds it says so in its own words; any other names the process.
    assert!(syncing[0].by.starts_with("this "), "{:?}", syncing[0]);
    let elsewhere =
        opsdeck::Engine::open(config.clone(), &dir.path().join("cache.sqlite"), secrets())
            .await
            .unwrap();
    let named = &elsewhere.syncing_now().await.unwrap()[0].by;
    assert!(
        named.contains(&format!("(pid {}, since ", std::process::id())),
        "{named}"
    );
    let after = before.reconfigured(config, secrets());
    let report = after.sync(Some("catalog"), &no_progress).await.unwrap();
    assert!(report[0].landed, "{report:?}");
    assert!(after.syncing_now().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_leaves_syncing_to_the_agent_hears_of_each_landing() {
    let cluster = Cluster::start();
    for cache in caches(&cluster) {
        eprintln!("on the {} cache", cache.name);
        a_reader_that_leaves_syncing_to_the_agent_hears_of_each_landing_on(&cache).await;
    }
}

async fn a_reader_that_leaves_syncing_to_the_agent_hears_of_each_landing_on(cache: &Cache) {
    let sandbox = sandbox(Seed::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &config_of(&sandbox, &["backstage"], "2s"),
        cache,
    );
    // A desktop with `[desktop] sync = false`: it syncs nothing, and follows the cache.
    let reader = open_cache(dir.path(), &config).await;
    let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel();
    let follower = tokio::spawn(async move {
        reader
            .follow_landings(&move || {
                let _ = heard.send(());
            })
            .await
    });
    let agent = Agent::start(dir.path(), &config);
    let within = Duration::from_secs(20);
    for landing in 1..=2 {
        tokio::time::timeout(within, hearing.recv())
            .await
            .unwrap_or_else(|_| panic!("landing {landing} of the agent not heard"))
            .unwrap();
    }
    let health = agent.health().await;
    assert!(health["sources"][0]["last_success"].is_string(), "{health}");
    agent.signal("-TERM");
    let (status, log) = agent.ended(Duration::from_secs(10));
    assert!(status.success(), "{log}");
    tokio::time::sleep(opsdeck::LANDINGS_CHECKED_EVERY * 2).await;
    while hearing.try_recv().is_ok() {}
    // A sync that fails writes its try and its error, and lands nothing: nothing is heard.
    sandbox.set_chaos("error_rate=1".parse().unwrap());
    let failed = cli(dir.path(), &config, &["sync"]);
    assert!(!failed.status.success());
    tokio::time::sleep(opsdeck::LANDINGS_CHECKED_EVERY * 3).await;
    assert!(hearing.try_recv().is_err(), "heard a landing nobody made");
    follower.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cache_that_stops_answering_turns_health_and_metrics_unavailable() {
    let sandbox = sandbox(Seed::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &config_of(&sandbox, &["backstage"], "1h"),
        &Cache::file(),
    );
    let agent = Agent::start(dir.path(), &config);
    agent
        .health_when("synced", |h| h["sources"][0]["last_success"].is_string())
        .await;
    // The cache damaged under the agent: what health reads is gone.
    let cache = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("cache.sqlite")),
    )
    .await
    .unwrap();
    sqlx::query("DROP TABLE sync_state")
        .execute(&cache)
        .await
        .unwrap();
    agent.unavailable_saying("sync_state").await;
    agent.signal("-TERM");
    let (status, log) = agent.ended(Duration::from_secs(10));
    assert!(status.success(), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_cache_that_stops_answering_turns_health_unavailable_until_it_answers() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let database = cluster.create_database();
    // The agent's own role, which the database can shut out and let back in.
    cluster.psql(
        &database,
        &format!("CREATE ROLE agent LOGIN PASSWORD '{SUPERUSER_PASSWORD}'; ALTER DATABASE {database} OWNER TO agent"),
    );
    let cache = Cache {
        name: "postgres",
        section: format!(
            "\n[cache]\nurl = \"{}\"\npassword_env = \"{PASSWORD_ENV}\"\n",
            cluster.url("agent", &database)
        ),
    };
    let sandbox = sandbox(Seed::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        &config_of(&sandbox, &["backstage"], "1h"),
        &cache,
    );
    let agent = Agent::start(dir.path(), &config);
    agent
        .health_when("synced", |h| h["sources"][0]["last_success"].is_string())
        .await;
    cluster.psql(
        &database,
        "ALTER ROLE agent NOLOGIN;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'agent';",
    );
    let said = agent.unavailable_saying("agent").await;
    assert!(!said.contains(SUPERUSER_PASSWORD), "{said}");
    cluster.psql(&database, "ALTER ROLE agent LOGIN");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = reqwest::get(format!("{}/healthz", agent.base))
            .await
            .unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agent.signal("-TERM");
    let (status, log) = agent.ended(Duration::from_secs(10));
    assert!(status.success(), "{log}");
}
