//! The audit log shared in a real PostgreSQL (Debian's server, started by the test): two
//! clients with caches of their own see each other's rollbacks, from which machine, and are
//! held off the same target; the CLI finds the password where the config says.

use opsdeck::domain::rollback::{BlockerKind, RollbackState};
use opsdeck::secrets::Secrets;
use opsdeck::Engine;
use opsdeck_sandbox::{source_tokens, Seed};
use opsdeck_test_postgres::{Cluster, SUPERUSER, SUPERUSER_PASSWORD};

use crate::util::{no_progress, opsdeck, parse_config, sandbox, start_planned_rollback, TOKEN};

const PASSWORD_ENV: &str = "OPSDECK_TEST_AUDIT_PASSWORD";

/// A client of its own (its own cache in memory) with the team's log in `url`.
async fn client(config: &str) -> Engine {
    let mut secrets = source_tokens(TOKEN);
    secrets.insert("audit-log".into(), SUPERUSER_PASSWORD.into());
    let engine = Engine::in_memory(parse_config(config), Secrets::with_embedded(secrets))
        .await
        .unwrap();
    let reports = engine.sync(None, &no_progress).await.unwrap();
    assert!(reports.iter().all(|r| r.landed), "{reports:?}");
    engine
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_from_one_client_is_in_the_log_of_another_and_holds_it_off() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let database = cluster.create_database();
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions("rollout=2s".parse().unwrap());
    let config = format!(
        "{}\n[rollback]\npoll_interval = \"100ms\"\ntimeout = \"30s\"\n[audit]\nurl = \"{}\"\npassword_env = \"{PASSWORD_ENV}\"\n",
        sandbox.config_toml(),
        cluster.url(SUPERUSER, &database)
    );
    let (dana, eva) = (client(&config).await, client(&config).await);

    let (key, run) = start_planned_rollback(&dana, "checkout-api", "prod").await;
    // Another client, its own cache: the rollback under way is in its plan as a blocker.
    let elsewhere = eva
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    assert!(
        elsewhere
            .blockers
            .iter()
            .any(|b| b.kind == BlockerKind::InFlight),
        "{:?}",
        elsewhere.blockers
    );
    let end = dana.track_rollback(run, &|_| {}).await.unwrap();
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    assert_eq!(sandbox.actions_received(), 1);

    let seen = eva.audit(Some("checkout-api"), 10).await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let machine = gethostname();
    assert_eq!(
        (
            seen[0].key.as_str(),
            seen[0].machine.as_str(),
            seen[0].state.as_str()
        ),
        (key.as_str(), machine.as_str(), "succeeded")
    );
    assert!(seen[0].finished);
    assert!(eva.verify_audit().await.unwrap().first_broken.is_none());

    // The CLI on a third machine's config reads it with the password from the env var the
    // config names.
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("opsdeck.toml");
    std::fs::write(&config_path, &config).unwrap();
    let run = |args: &[&str], password: Option<&str>| {
        let mut command = opsdeck();
        command
            .arg("--config")
            .arg(&config_path)
            .arg("--db")
            .arg(dir.path().join("cache.sqlite"))
            .args(args)
            .env_remove(PASSWORD_ENV)
            .env("HOME", dir.path());
        if let Some(password) = password {
            command.env(PASSWORD_ENV, password);
        }
        command.output().unwrap()
    };
    let audit = |password: &str| run(&["audit", "--json"], Some(password));
    let out = audit(SUPERUSER_PASSWORD);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let listed: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(listed["key"], key.as_str());
    assert_eq!(listed["machine"], machine.as_str());
    let refused = audit("not-the-password");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("password authentication failed"), "{said}");
    assert!(said.contains(&cluster.url(SUPERUSER, &database)), "{said}");
    assert!(!said.contains("not-the-password"), "{said}");
    // Without the password, what the cache answers still answers; the log says what to check.
    let teams = run(&["teams"], None);
    assert!(
        teams.status.success(),
        "{}",
        String::from_utf8_lossy(&teams.stderr)
    );
    let refused = run(&["audit"], None);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("cannot open the shared audit log") && said.contains("password_env"),
        "{said}"
    );
}

fn gethostname() -> String {
    std::process::Command::new("hostname")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap()
}
