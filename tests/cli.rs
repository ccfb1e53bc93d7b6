//! The `opsdeck` binary end to end: sandbox → sync → every read command, `--json`, exit codes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Output, Stdio};

use opsdeck_sandbox::Seed;
use serde_json::Value;

use crate::util::{opsdeck, sandbox, Workspace, TOKEN};

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        text.trim_end().lines().count(),
        1,
        "one line on stderr, got: {text}"
    );
    text.trim_end().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_then_every_read_command_as_json() {
    let sandbox = sandbox(Seed::Demo).await;
    let ws = Workspace::new(&sandbox.config_toml());
    let reports = ws.json(&["sync"]);
    assert_eq!(reports[0]["landed"], true);

    let sources = ws.json(&["sources"]);
    assert_eq!(sources[0]["name"], "catalog");
    assert_eq!(sources[0]["kind"], "backstage");
    assert!(sources[0]["last_success"].is_string());

    let teams = ws.json(&["teams"]);
    assert_eq!(teams[0]["name"], "engineering");
    assert_eq!(teams[0]["service_count_below"], 61);
    assert_eq!(teams[1]["name"], "checkout");
    assert_eq!(teams[1]["is_mine"], true);
    assert_eq!(teams[1]["parent"], "group:default/engineering");

    let services = ws.json(&["services", "--team", "checkout"]);
    let names: Vec<_> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"checkout-api") && names.contains(&"cart-service"));
    assert_eq!(ws.json(&["services"]).as_array().unwrap().len(), 62);
    assert_eq!(
        ws.json(&["services", "--orphans"])[0]["name"],
        "legacy-reports"
    );

    let service = ws.json(&["service", "legacy-reports"]);
    let gaps: Vec<_> = service["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(
        gaps,
        vec!["orphan-owner", "no-pagerduty", "no-argocd", "no-runbook"]
    );
    assert_eq!(service["owner"]["exists"], false);

    let hits = ws.json(&["search", "payments", "gateway"]);
    assert_eq!(hits[0]["key"], "component:default/payments-gateway");

    // The table forms print too, with the same data.
    let out = ws.run(&["service", "checkout-api"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Owner          group:default/checkout"),
        "{text}"
    );
    assert!(
        text.contains("Platform       Argo CD: app.kubernetes.io/name=checkout-api"),
        "{text}"
    );

    // What shipped where.
    let deploys = ws.json(&[
        "deploys", "--team", "payments", "--env", "prod", "--since", "24h",
    ]);
    assert_eq!(deploys[0]["service"]["name"], "payments-gateway");
    assert_eq!(deploys[0]["version"], "v5.2.0");
    assert_eq!(deploys[0]["status"], "queued");
    let pipeline = ws.json(&["pipeline", "payments-gateway"]);
    let prod = pipeline["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "prod")
        .unwrap();
    assert_eq!(prod["waiting"]["reason"], "approval");
    let releases = ws.json(&["releases", "--team", "payments"]);
    assert_eq!(
        releases["environments"],
        serde_json::json!(["beta", "gamma", "prod"])
    );
    let changes = ws.json(&[
        "changes",
        "checkout-api",
        "--from",
        "v2.13.2",
        "--to",
        "v2.14.0",
    ]);
    assert!(changes["total_commits"].as_i64().unwrap() > 0);
    let out = ws.run(&["pipeline", "search-indexer"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("blocked: test failed"), "{text}");
    let out = ws.run(&["releases"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("checkout-api") && text.contains("v2.14.0"),
        "my team's, by default: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_exit_1_with_one_line_and_bad_usage_exits_2() {
    let sandbox = sandbox(Seed::Demo).await;
    let ws = Workspace::new(&sandbox.config_toml());
    assert!(ws.run(&["sync"]).status.success());

    let out = ws.run(&["service", "no-such-service"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_line(&out),
        "opsdeck: no service 'no-such-service' in the cache (try `opsdeck search no-such-service`)"
    );

    let out = ws.run(&["services", "--team", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("no team 'nobody'"));

    let out = ws.run(&["sync", "--source", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_line(&out),
        "opsdeck: no source named 'nope' in the config (see `opsdeck sources`)"
    );

    let out = opsdeck()
        .args(["--config", "/nonexistent/opsdeck.toml", "teams"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).starts_with("opsdeck: no config at /nonexistent/opsdeck.toml"));

    for args in [
        &["frobnicate"][..],
        &["services", "--team"],
        &["search"],
        &["sandbox", "--seed", "huge"],
        &["sandbox", "--chaos", "error_rate=2"],
    ] {
        let out = opsdeck().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }

    // A rejected token: exit 1, one line naming the source and what to do; the cache is kept.
    let out = ws.run(&["sync"]);
    assert!(out.status.success());
    let out = opsdeck()
        .arg("--config")
        .arg(ws.dir.path().join("opsdeck.toml"))
        .arg("--db")
        .arg(ws.dir.path().join("cache.sqlite"))
        .arg("sync")
        .env("OPSDECK_SANDBOX_TOKEN", "stale")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_line(&out),
        "opsdeck: 4 source(s) failed: catalog: 401 Unauthorized (AuthenticationError: Illegal token) — the token from env OPSDECK_SANDBOX_TOKEN was rejected; supply a valid one"
    );
    assert_eq!(
        ws.json(&["services", "--team", "checkout"])
            .as_array()
            .unwrap()
            .len(),
        8
    );
}

#[test]
fn sandbox_command_writes_a_config_and_serves_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sub/opsdeck.toml");
    let mut child = opsdeck()
        .args([
            "sandbox",
            "--port",
            "0",
            "--seed",
            "scale:40",
            "--token",
            "cli-token",
            "--write-config",
        ])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "export OPSDECK_SANDBOX_TOKEN=cli-token"
    );
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains(&format!("url = \"{url}\"")));
    assert!(
        !written.contains("cli-token"),
        "the token never goes into the config"
    );

    let out = opsdeck()
        .arg("--config")
        .arg(&config)
        .arg("--db")
        .arg(dir.path().join("c.sqlite"))
        .args(["sync", "--json"])
        .env("OPSDECK_SANDBOX_TOKEN", "cli-token")
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Services, a department, teams, their people and systems.
    assert_eq!(reports[0]["items"], 40 + 1 + 8 + 8 * 5 + 8);

    // With --json, one line a script can read while the sandbox keeps serving.
    let mut child = opsdeck()
        .args([
            "sandbox",
            "--json",
            "--token",
            "json-token",
            "--chaos",
            "latency=1ms..5ms",
            "--chaos",
            "backstage:error_rate=0.5",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(started["url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(started["token_env"], "OPSDECK_SANDBOX_TOKEN");
    assert_eq!(started["token"], "json-token");
    assert_eq!(started["config"], Value::Null);
    assert_eq!(
        started["chaos"],
        "latency=1ms..5ms;backstage:error_rate=0.5"
    );
    assert!(started["chaos_url"]
        .as_str()
        .unwrap()
        .ends_with("/_sandbox/chaos"));
}

/// `opsdeck login` stores the token in the Secret Service; a sync then needs no env var.
/// Runs in a private D-Bus session with a throwaway gnome-keyring.
#[tokio::test(flavor = "multi_thread")]
async fn login_stores_the_token_in_the_keychain() {
    let available = ["dbus-run-session", "gnome-keyring-daemon"]
        .iter()
        .all(|tool| {
            std::process::Command::new("which")
                .arg(tool)
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install dbus-x11 and gnome-keyring (make test does)"
        );
        eprintln!("skipped: dbus-run-session or gnome-keyring-daemon is not installed");
        return;
    }
    let sandbox = sandbox(Seed::Demo).await;
    let ws = Workspace::new(&sandbox.config_toml());
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let script = format!(
        "echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; \
         printf '%s' '{TOKEN}' | '{bin}' --config opsdeck.toml login catalog && \
         '{bin}' --config opsdeck.toml --db cache.sqlite sync --source catalog --json"
    );
    let mut child = std::process::Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .current_dir(ws.dir.path())
        .env("HOME", ws.dir.path())
        .env("XDG_DATA_HOME", ws.dir.path().join("data"))
        .env("XDG_RUNTIME_DIR", ws.dir.path())
        .env_remove("OPSDECK_SANDBOX_TOKEN")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().flush().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    assert!(
        stderr.contains("catalog: token stored in the OS keychain"),
        "{stderr}"
    );
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        reports[0]["landed"], true,
        "the keychain token was used: {reports}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_the_cli_answers_from_the_cache_says_so_and_logs_each_sync() {
    let sandbox = sandbox(Seed::Demo).await;
    let ws = Workspace::new(&sandbox.config_toml());
    let empty = ws.run(&["teams"]);
    assert!(empty.status.success());
    assert_eq!(
        stderr_line(&empty),
        "opsdeck: catalog has never synced; run `opsdeck sync`"
    );
    assert!(ws.run(&["sync"]).status.success());
    let fresh = ws.run(&["teams"]);
    assert!(fresh.stderr.is_empty(), "fresh data needs no notice");
    drop(sandbox);

    let out = ws.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("catalog: cannot connect (127.0.0.1:"));

    let out = ws.run(&["teams", "--json"]);
    assert!(out.status.success(), "the cache answers");
    let teams: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        teams[1]["name"], "checkout",
        "under the tree's top, mine first"
    );
    let notice = stderr_line(&out);
    assert!(
        notice.starts_with("opsdeck: catalog is failing — answers use its data from ")
            && notice.contains("(cannot connect (127.0.0.1:"),
        "{notice}"
    );

    let out = ws.run(&["sources"]);
    let table = String::from_utf8(out.stdout).unwrap();
    let row = table.lines().nth(1).unwrap();
    assert!(
        row.contains("catalog") && row.contains("failing") && row.contains(" 1 "),
        "{table}"
    );
    assert!(
        table.contains("catalog error:\n  catalog: cannot connect"),
        "{table}"
    );

    // One structured line per sync in the rotating log beside the cache, and no token.
    let logs: Vec<_> = std::fs::read_dir(ws.dir.path().join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let name = logs[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("opsdeck.") && name.ends_with(".log"),
        "{name}"
    );
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    let landed = log.lines().find(|l| l.contains("sync landed")).expect(&log);
    for field in [
        "source=catalog",
        "kind=\"backstage\"",
        "outcome=\"landed\"",
        "pages=1",
        "rows=",
        "rows_written=",
        "requests=1",
        "duration_ms=",
    ] {
        assert!(landed.contains(field), "{field} in {landed}");
    }
    let failed = log.lines().find(|l| l.contains("sync failed")).expect(&log);
    assert!(
        failed.contains("outcome=\"failed\"") && failed.contains("cannot connect"),
        "{failed}"
    );
    assert!(!log.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_prints_its_plan_asks_and_lands_in_the_audit_log() {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions("rollout=1s".parse().unwrap());
    let ws = Workspace::new(&format!(
        "{}\n[rollback]\npoll_interval = \"200ms\"\n",
        sandbox.config_toml()
    ));
    assert!(ws.run(&["sync"]).status.success());

    let plan = ws.json(&["rollback", "checkout-api", "--env", "prod", "--dry-run"]);
    assert_eq!(plan["target"]["version"], opsdeck_sandbox::DEMO_ROLLBACK_TO);
    assert_eq!(plan["blockers"], serde_json::json!([]));
    let out = ws.run(&["rollback", "cart-service", "--env", "prod", "--dry-run"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("PATCH") && text.contains("warning"), "{text}");

    // No terminal, no --yes: nothing is done.
    let out = ws.run(&["rollback", "checkout-api", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("--yes"));
    let out = ws.run(&["rollback", "cart-service", "--env", "prod", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("--disable-auto-sync"));
    let out = ws.run(&["rollback", "payments-gateway", "--env", "gamma", "--yes"]);
    assert!(stderr_line(&out).contains("--confirm-service payments-gateway"));
    assert_eq!(sandbox.actions_received(), 0);

    let out = ws.run(&["rollback", "checkout-api", "--env", "prod", "--yes"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("v2.14.0 → v2.13.2 succeeded"), "{text}");
    let progress = String::from_utf8(out.stderr).unwrap();
    assert!(progress.contains("accepted"), "{progress}");

    // With --json, stdout is one document: the plan and the outcome, nothing else.
    let done = ws.json(&[
        "rollback",
        "payments-gateway",
        "--env",
        "gamma",
        "--yes",
        "--confirm-service",
        "payments-gateway",
    ]);
    assert_eq!(done["plan"]["service"]["name"], "payments-gateway");
    assert_eq!(done["outcome"]["state"], "succeeded", "{done}");

    let out = ws.run(&["audit", "--json"]);
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let lines: Vec<Value> = lines
        .into_iter()
        .filter(|l| l["service"]["name"] == "checkout-api")
        .collect();
    assert_eq!(lines[0]["state"], "succeeded");
    assert_eq!(lines[0]["actor"], "dana@demo.opsdeck.dev");
    let out = ws.run(&["audit"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("checkout-api") && text.contains("succeeded"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn runbooks_are_listed_printed_and_run() {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions("rollout=1s".parse().unwrap());
    let ws = Workspace::new(&format!(
        "{}\n[rollback]\npoll_interval = \"200ms\"\n[runbooks]\npoll_interval = \"200ms\"\n",
        sandbox.config_toml()
    ));
    assert!(ws.run(&["sync"]).status.success());
    let out = ws.run(&["runbooks", "checkout-api", "--incident", "Q42"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("incident=Q42")
            && text.contains("team checkout")
            && text.contains("markdown (read"),
        "{text}"
    );
    let rows = ws.json(&["runbooks", "legacy-reports"]);
    assert_eq!(rows, serde_json::json!([]));
    let row = ws.json(&["runbook", "checkout-api", "1", "--incident", "Q42"]);
    assert!(
        row["url"].as_str().unwrap().starts_with("https://"),
        "{row}"
    );

    let out = ws.run(&[
        "runbook",
        "checkout-api",
        "High error rate runbook",
        "--print",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("# High error rate on checkout-api"));

    let out = ws.run(&[
        "runbook",
        "checkout-api",
        "3",
        "--run",
        "--input",
        "region=eu-west-1",
        "--input",
        "environment=prod",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Drain a region (automated): success"),
        "{text}"
    );
    let out = ws.run(&[
        "runbook",
        "checkout-api",
        "3",
        "--run",
        "--input",
        "region=mars",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_line(&out).contains("one of eu-west-1"));
    let out = ws.run(&["audit"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Drain a region"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_json_errors_are_json_on_stderr() {
    let sandbox = sandbox(Seed::Demo).await;
    let ws = Workspace::new(&sandbox.config_toml());
    assert!(ws.run(&["sync"]).status.success());
    let out = ws.run(&["service", "no-such-service", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let error: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(
        error["error"]["message"],
        "no service 'no-such-service' in the cache (try `opsdeck search no-such-service`)"
    );
}

#[test]
fn terminal_escapes_from_a_catalog_print_inert_in_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = r"\u001b]0;pwned\u0007\u001b[2J\r\nforged";
    std::fs::write(
        dir.path().join("catalog-info.yaml"),
        format!(
            "apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: evil
  title: \"Evil {hostile}\"
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: evil-api
  title: \"Evil API {hostile}\"
  description: \"{hostile}\"
  tags: [evil]
  links:
    - url: https://example.com/runbook
      title: \"Runbook {hostile}\"
      type: runbook
spec:
  type: service
  lifecycle: \"production{hostile}\"
  owner: group:evil
  system: \"evil{hostile}\"
"
        ),
    )
    .unwrap();
    let ws = Workspace::new(&format!(
        "[identity]\nemail = \"dana@demo.opsdeck.dev\"\n\n[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n",
        dir.path().display()
    ));
    assert!(ws.run(&["sync"]).status.success());
    for (args, shown) in [
        (&["teams"][..], "Evil"),
        (&["services"], "evil-api"),
        (&["services", "--team", "evil"], "evil-api"),
        (&["service", "evil-api"], "Evil API"),
        (&["search", "evil"], "Evil API"),
        (&["runbooks", "evil-api"], "Runbook"),
    ] {
        let out = ws.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(shown), "{args:?}: {text}");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?} printed a control character: {text:?}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("forged")),
            "{args:?} let a catalog forge a line: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cache_file_the_config_names_is_used_unless_db_names_another() {
    let sandbox = sandbox(Seed::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    let named = dir.path().join("named").join("cache.sqlite");
    let config = dir.path().join("opsdeck.toml");
    let text = format!(
        "{}\n[cache]\nurl = \"sqlite://{}\"\n",
        sandbox.config_toml(),
        named.display()
    );
    std::fs::write(&config, text).unwrap();
    let sync = |db: &[&std::ffi::OsStr]| {
        let out = opsdeck()
            .arg("--config")
            .arg(&config)
            .args(db)
            .args(["sync", "--source", "catalog"])
            .env("OPSDECK_SANDBOX_TOKEN", TOKEN)
            .env("HOME", dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sync(&[]);
    assert!(named.exists());
    let given = dir.path().join("given.sqlite");
    sync(&["--db".as_ref(), given.as_os_str()]);
    assert!(given.exists());
}
