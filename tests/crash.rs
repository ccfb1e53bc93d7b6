//! kill -9 during syncs of two sources (Backstage and a catalog tree): the cache file survives
//! every time, and each source holds either its previous or its new complete state, never a mix.

use std::time::Instant;

use opsdeck_sandbox::Seed;

use crate::util::{opsdeck, sandbox, TOKEN};

const ROUNDS: usize = 30;

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_engine_mid_sync_never_corrupts_or_mixes_the_cache() {
    // Two catalogs of different sizes: the count of rows tells which one a cache holds.
    let catalogs = [
        (sandbox(Seed::Scale(600)).await, 600),
        (sandbox(Seed::Scale(450)).await, 450),
    ];
    let sizes: Vec<i64> = [600, 450]
        .iter()
        .map(|&n| opsdeck_sandbox::org::entities(Seed::Scale(n)).len() as i64)
        .collect();
    // And two local trees for a second source, of 40 and 25 services.
    let trees = [40, 25];
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let config = dir.path().join("opsdeck.toml");
    let db = dir.path().join("cache.sqlite");
    let sync = |which: usize| {
        let files: Vec<String> = (0..trees[which])
            .map(|i| format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: local-{which}-{i:02}\nspec:\n  type: service\n  owner: group:team-000\n  lifecycle: production\n"))
            .collect();
        let aside = tree.join(".next.yaml");
        std::fs::write(&aside, files.join("---\n")).unwrap();
        std::fs::rename(&aside, tree.join("catalog-info.yaml")).unwrap();
        let text = format!(
            "{}\n[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n",
            crate::util::without_delivery(&catalogs[which].0.config_toml()),
            tree.display()
        );
        std::fs::write(&config, text).unwrap();
        opsdeck()
            .arg("--config")
            .arg(&config)
            .arg("--db")
            .arg(&db)
            .arg("sync")
            .env("OPSDECK_SANDBOX_TOKEN", TOKEN)
            .env("HOME", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long a sync from one catalog to the other takes here, so kills land anywhere in one.
    assert!(sync(0).wait().unwrap().success());
    let started = Instant::now();
    assert!(sync(1).wait().unwrap().success());
    // Only an estimate: other tests share the machine. Each kill that comes after its sync
    // finished shows the sync took less, and the window shrinks to land in the next ones.
    let mut whole = started.elapsed();
    let mut held = sizes[1];
    let mut held_files = trees[1] as i64;
    let mut interrupted = 0;
    // Rounds whose new state had committed when the kill came.
    let mut switched = 0;

    for round in 0..ROUNDS {
        // Always towards the other catalog (and tree), so every sync has everything to rewrite.
        let target = usize::from(held == sizes[0]);
        let mut child = sync(target);
        let kill_at = whole.mul_f64(0.2 + 1.4 * fastrand::f64());
        tokio::time::sleep(kill_at).await;
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap_or_default(); // SIGKILL: no destructor, no rollback by us
        child.wait().unwrap();
        interrupted += usize::from(!finished);
        if finished {
            whole = whole.min(kill_at);
        }

        let config = opsdeck::config::Config::load(&config).unwrap();
        let engine = opsdeck::Engine::open(config, &db, Default::default())
            .await
            .expect("the cache opens after kill -9");
        assert_eq!(
            engine.cache_integrity().await.unwrap(),
            "ok",
            "round {round}"
        );
        let count = engine.entities_from("catalog").await.unwrap();
        assert!(
            count == held || count == sizes[target],
            "round {round} (killed after {kill_at:?}): {count} rows, neither the previous {held} nor the new {}",
            sizes[target]
        );
        let files = engine.entities_from("files").await.unwrap();
        assert!(
            files == held_files || files == trees[target] as i64,
            "round {round}: files holds {files} rows, neither {held_files} nor {}",
            trees[target]
        );
        // The merged view matches the rows it was built from.
        let services = engine.services(None).await.unwrap().len();
        let from_catalog = if count == sizes[0] {
            catalogs[0].1
        } else {
            catalogs[1].1
        };
        assert_eq!(services, from_catalog + files as usize, "round {round}");
        switched += usize::from(count != held);
        held = count;
        held_files = files;
    }
    eprintln!(
        "crash test: {ROUNDS} kills, {interrupted} mid-sync, {switched} after the new state committed, whole sync {whole:?}"
    );
    assert!(
        interrupted >= ROUNDS / 3,
        "kills must land during syncs: {interrupted}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_opsdeck_while_it_tracks_a_rollback_keeps_the_audit_entry() {
    use std::io::BufRead;

    let sandbox = sandbox(Seed::Demo).await;
    // A rollout long enough to be killed in the middle of.
    sandbox.set_actions("rollout=60s".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("opsdeck.toml");
    let db = dir.path().join("cache.sqlite");
    std::fs::write(
        &config,
        format!(
            "{}\n[rollback]\npoll_interval = \"200ms\"\n",
            sandbox.config_toml()
        ),
    )
    .unwrap();
    let cli = |args: &[&str]| {
        let mut command = opsdeck();
        command
            .arg("--config")
            .arg(&config)
            .arg("--db")
            .arg(&db)
            .args(args)
            .env("OPSDECK_SANDBOX_TOKEN", TOKEN)
            .env("HOME", dir.path());
        command
    };
    assert!(cli(&["sync"]).output().unwrap().status.success());
    let mut child = cli(&["rollback", "checkout-api", "--env", "prod", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // Killed once the platform's answer is on screen: between the call and its outcome.
    let answered = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|line| line.contains("accepted"))
    })
    .await
    .unwrap();
    assert!(answered.is_some(), "the rollback was never accepted");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(sandbox.actions_received(), 1);

    let config = opsdeck::config::Config::load(&config).unwrap();
    let engine = opsdeck::Engine::open(config, &db, crate::util::secrets_with(TOKEN))
        .await
        .expect("the cache opens after kill -9");
    assert_eq!(engine.cache_integrity().await.unwrap(), "ok");
    let audit = engine.audit(Some("checkout-api"), 5).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    let entry = &audit[0];
    let steps: Vec<&str> = entry.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, ["requested", "answered"], "{entry:?}");
    assert!(!entry.finished);
    assert_eq!(
        entry.to_version.as_deref(),
        Some(opsdeck_sandbox::DEMO_ROLLBACK_TO)
    );
    // Until its outcome is known, it holds off another rollback there.
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    assert!(
        plan.blockers
            .iter()
            .any(|b| b.kind == opsdeck::domain::rollback::BlockerKind::InFlight),
        "{:?}",
        plan.blockers
    );
    let listed = cli(&["audit"]).output().unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("no outcome recorded"), "{text}");

    // The log is its own file, whole after the kill; an edit behind Opsdeck's back is found.
    let verified = cli(&["audit", "verify"]).output().unwrap();
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{said}");
    assert!(said.contains("the audit log holds: 2 entries"), "{said}");
    let outside = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("cache.audit.sqlite")),
    )
    .await
    .unwrap();
    sqlx::raw_sql(
        "DROP TRIGGER audit_log_is_append_only_update;
         UPDATE audit_log SET actor = 'someone-else' WHERE step = 'requested';",
    )
    .execute(&outside)
    .await
    .unwrap();
    let verified = cli(&["audit", "verify"]).output().unwrap();
    let said = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(verified.status.code(), Some(1), "{said}");
    assert!(
        said.contains("broken at entry 1") && said.contains("it was edited"),
        "{said}"
    );
}
