//! One cache for the whole organisation, in a real PostgreSQL (Debian's server, started by the
//! test): one process syncs it, the others read it as they read a file of their own, the audit
//! log is kept beside it in the same database, and a wrong password costs nothing it holds.

use opsdeck::domain::rollback::RollbackState;
use opsdeck::secrets::Secrets;
use opsdeck::Engine;
use opsdeck_sandbox::{source_tokens, Seed};
use opsdeck_test_postgres::{Cluster, SUPERUSER, SUPERUSER_PASSWORD};

use crate::util::{
    internal_ca, no_progress, opsdeck, parse_config, sandbox, start_planned_rollback, TOKEN,
};

const PASSWORD_ENV: &str = "OPSDECK_TEST_SHARED_CACHE_PASSWORD";

/// A user's engine on the shared cache (the file path it is given is not used).
async fn user_on(config: &str, dir: &std::path::Path) -> Engine {
    let mut secrets = source_tokens(TOKEN);
    secrets.insert(
        opsdeck::config::CACHE_SECRET.into(),
        SUPERUSER_PASSWORD.into(),
    );
    Engine::open(
        parse_config(config),
        &dir.join("unused.sqlite"),
        Secrets::with_embedded(secrets),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn users_of_a_shared_cache_read_one_sync_and_see_each_others_rollbacks() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let database = cluster.create_database();
    let url = cluster.url(SUPERUSER, &database);
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions("rollout=1s".parse().unwrap());
    let config = format!(
        "{}\n[rollback]\npoll_interval = \"100ms\"\ntimeout = \"30s\"\n[cache]\nurl = \"{url}\"\npassword_env = \"{PASSWORD_ENV}\"\n",
        sandbox.config_toml(),
    );
    let dir = tempfile::tempdir().unwrap();
    assert!(!parse_config(&config).desktop_syncs());
    let (dana, eva) = (
        user_on(&config, dir.path()).await,
        user_on(&config, dir.path()).await,
    );
    // Dana's engine syncs; Eva's, which never synced, reads what it landed.
    let reports = dana.sync(None, &no_progress).await.unwrap();
    assert!(reports.iter().all(|r| r.landed), "{reports:?}");
    let (hers, mine) = (
        dana.services(None).await.unwrap(),
        eva.services(None).await.unwrap(),
    );
    assert!(!mine.is_empty());
    assert_eq!(hers.len(), mine.len());
    let found = eva.search("checkout", 20).await.unwrap();
    assert!(
        found.iter().any(|hit| hit.name == "checkout-api"),
        "{found:?}"
    );
    assert!(!eva.teams().await.unwrap().is_empty());

    // Eva's engine syncs the catalog after an edit: the listing compares the etags the
    // shared cache holds and reads the one changed service by ref; then nothing is written.
    sandbox.edit_catalog(|files| {
        let (_, e) = files
            .iter_mut()
            .find(|(_, e)| e.metadata.name == "checkout-api")
            .unwrap();
        e.metadata.description = Some("Edited in the catalog".into());
    });
    let edited = &eva.sync(Some("catalog"), &no_progress).await.unwrap()[0];
    assert!(edited.landed && edited.requests == 2, "{edited:?}");
    assert_eq!(
        dana.service("checkout-api")
            .await
            .unwrap()
            .description
            .as_deref(),
        Some("Edited in the catalog")
    );
    let unchanged = &dana.sync(Some("catalog"), &no_progress).await.unwrap()[0];
    assert_eq!(
        (unchanged.landed, unchanged.requests, unchanged.rows_written),
        (true, 1, 0)
    );

    // The audit log is kept beside the cache, in its database: shared.
    let (key, run) = start_planned_rollback(&dana, "checkout-api", "prod").await;
    let end = dana.track_rollback(run, &|_| {}).await.unwrap();
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    let seen = eva.audit(Some("checkout-api"), 10).await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].key, key);

    // Two CLIs read it too, the password from the env var the config names; a wrong one is
    // said with where, never what.
    let config_path = dir.path().join("opsdeck.toml");
    std::fs::write(&config_path, &config).unwrap();
    let cli = |home: &std::path::Path, args: &[&str], password: &str| {
        opsdeck()
            .arg("--config")
            .arg(&config_path)
            .args(args)
            .env(PASSWORD_ENV, password)
            .env("HOME", home)
            .env_remove("XDG_DATA_HOME")
            .output()
            .unwrap()
    };
    for home in [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()] {
        let out = cli(home.path(), &["services", "--json"], SUPERUSER_PASSWORD);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(listed.as_array().unwrap().len(), mine.len());
        let out = cli(home.path(), &["audit", "--json"], SUPERUSER_PASSWORD);
        let line = String::from_utf8(out.stdout).unwrap();
        assert!(line.contains(&key), "{line}");
        // Nothing was written beside the CLI: the cache is the database's.
        assert!(!home
            .path()
            .join(".local/share/opsdeck")
            .join("cache.sqlite")
            .exists());
    }
    let refused = cli(dir.path(), &["services"], "not-the-password");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("password authentication failed") && said.contains(&url),
        "{said}"
    );
    assert!(said.contains("opsdeck login cache"), "{said}");
    assert!(!said.contains("not-the-password"), "{said}");
    // And what the cache holds is all there.
    assert_eq!(eva.services(None).await.unwrap().len(), mine.len());

    // A role with the grants the manual gives the team syncs every source and acts, in a
    // cache its owner created; the audit log stays append-only for it.
    cluster.psql(
        &database,
        "CREATE ROLE opsdeck_team NOLOGIN;
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO opsdeck_team;
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO opsdeck_team;
         ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO opsdeck_team;
         REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM opsdeck_team;
         CREATE ROLE agent LOGIN PASSWORD 'agent-pw' IN ROLE opsdeck_team;",
    );
    let as_agent = config.replace(&url, &cluster.url("agent", &database));
    let mut secrets = source_tokens(TOKEN);
    secrets.insert(opsdeck::config::CACHE_SECRET.into(), "agent-pw".into());
    let agent = Engine::open(
        parse_config(&as_agent),
        &dir.path().join("unused.sqlite"),
        Secrets::with_embedded(secrets),
    )
    .await
    .unwrap();
    let reports = agent.sync(None, &no_progress).await.unwrap();
    assert!(reports.iter().all(|r| r.landed), "{reports:?}");
    agent.incidents_to_notify().await.unwrap();
    assert_eq!(agent.audit(None, 10).await.unwrap().len(), 1);
    assert!(agent.verify_audit().await.unwrap().first_broken.is_none());
    let tamper = std::process::Command::new("psql")
        .arg(cluster.url("agent", &database))
        .args(["--no-psqlrc", "-c", "UPDATE audit_log SET actor = 'x'"])
        .env("PGPASSWORD", "agent-pw")
        .output()
        .expect("psql comes with PostgreSQL");
    assert!(
        !tamper.status.success(),
        "the log is append-only for the team"
    );
    let said = String::from_utf8_lossy(&tamper.stderr);
    assert!(said.contains("permission denied"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_cache_over_tls_is_reached_only_where_the_named_ca_vouches_for_the_server() {
    let certificates_dir = tempfile::tempdir().unwrap();
    let certificates = internal_ca(certificates_dir.path());
    let Some(cluster) =
        Cluster::start_with_tls(&certificates.server_cert, &certificates.server_key)
    else {
        return;
    };
    let database = cluster.create_database();
    let sandbox = sandbox(Seed::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    let config_with = |query: &str| {
        format!(
            "{}\n[cache]\nurl = \"postgres://{SUPERUSER}@localhost:{}/{database}?{query}\"\npassword_env = \"{PASSWORD_ENV}\"\n",
            sandbox.config_toml(),
            cluster.port()
        )
    };
    let verified = config_with(&format!(
        "sslmode=verify-full&sslrootcert={}",
        certificates.ca.display()
    ));
    let engine = user_on(&verified, dir.path()).await;
    let reports = engine.sync(None, &no_progress).await.unwrap();
    assert!(reports.iter().all(|r| r.landed), "{reports:?}");
    assert!(!engine.services(None).await.unwrap().is_empty());
    // The server's word for it: each of the engine's connections is encrypted.
    let connections = cluster.psql(
        &database,
        "SELECT count(*) FILTER (WHERE s.ssl) || ' ' || count(*) FILTER (WHERE NOT s.ssl)
         FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.datname = current_database() AND a.client_addr IS NOT NULL",
    );
    let (encrypted, plain) = connections.split_once(' ').unwrap();
    assert!(encrypted.parse::<u32>().unwrap() > 0, "{connections}");
    assert_eq!(plain, "0");

    // The CLI on the same cache: with the CA it reads; without it the server is not trusted,
    // and without TLS the server lets nobody in. Each is said, naming the server.
    let cli = |config: &str| {
        let path = dir.path().join("opsdeck.toml");
        std::fs::write(&path, config).unwrap();
        opsdeck()
            .arg("--config")
            .arg(&path)
            .args(["services", "--json"])
            .env(PASSWORD_ENV, SUPERUSER_PASSWORD)
            .env("HOME", dir.path())
            .env_remove("XDG_DATA_HOME")
            .output()
            .unwrap()
    };
    let out = cli(&verified);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = format!("localhost:{}", cluster.port());
    for (query, expected) in [
        ("sslmode=verify-full", "UnknownIssuer"),
        ("sslmode=disable", "no encryption"),
    ] {
        let out = cli(&config_with(query));
        assert!(!out.status.success(), "{query}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains(expected) && said.contains(&server),
            "{query}: {said}"
        );
    }
}
