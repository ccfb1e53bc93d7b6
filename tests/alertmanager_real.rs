//! Against a real Alertmanager (Debian's `prometheus-alertmanager`, started here on a loopback
//! port with clustering off): alerts posted through its API and a silence made through it come
//! out of `opsdeck sync` and `opsdeck alerts` joined to the demo catalog's services.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::opsdeck;

/// Stops the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn alertmanager_binary() -> PathBuf {
    let path = std::env::var_os("OPSDECK_ALERTMANAGER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus-alertmanager"));
    assert!(
        path.is_file(),
        "{} is missing: install Debian's prometheus-alertmanager (`make test` does), or set OPSDECK_ALERTMANAGER_BIN",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(dir: &std::path::Path) -> (Running, String) {
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(alertmanager_binary())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // An empty address turns clustering off.
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{url}/-/ready")).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "alertmanager did not get ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (running, url)
}

/// The `opsdeck` binary over the demo catalog's files and the Alertmanager at `url`, with its
/// config and cache in `dir`: `head` goes before the sources, `alertmanager` into its
/// source. Runs a command and gives its stdout, failing the test when it fails.
fn cli(
    dir: &std::path::Path,
    url: &str,
    head: &str,
    alertmanager: &str,
) -> impl Fn(&[&str]) -> String {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    std::fs::write(
        dir.join("opsdeck.toml"),
        format!(
            "{head}[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n\n\
             [[sources]]\nname = \"alerts\"\nkind = \"alertmanager\"\nurl = \"{url}\"\n{alertmanager}",
            demo.display()
        ),
    )
    .unwrap();
    let dir = dir.to_path_buf();
    move |args: &[&str]| {
        let out = opsdeck()
            .arg("--config")
            .arg(dir.join("opsdeck.toml"))
            .arg("--db")
            .arg(dir.join("cache.sqlite"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_and_silences_from_a_real_alertmanager_reach_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = start(dir.path()).await;
    let client = reqwest::Client::new();
    let now = chrono::Utc::now();
    let alerts = json!([
        {
            "labels": {"alertname": "HighErrorRate", "service": "checkout-api", "severity": "critical"},
            "annotations": {"summary": "5xx above 5%", "runbook_url": "https://runbooks.example/high-error-rate"},
            "startsAt": (now - chrono::Duration::minutes(4)).to_rfc3339(),
            "generatorURL": "http://prometheus.example/graph?g0.expr=errors"
        },
        {
            "labels": {"alertname": "DiskSpaceLow", "service": "warehouse-loader", "severity": "warning"},
            "annotations": {"summary": "Disk 91% full"},
            "startsAt": (now - chrono::Duration::minutes(30)).to_rfc3339()
        },
        {
            "labels": {"alertname": "Watchdog", "severity": "none"},
            "annotations": {"summary": "Always firing"}
        }
    ]);
    let posted = client
        .post(format!("{url}/api/v2/alerts"))
        .json(&alerts)
        .send()
        .await
        .unwrap();
    assert!(
        posted.status().is_success(),
        "{}",
        posted.text().await.unwrap()
    );
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "DiskSpaceLow", "isRegex": false, "isEqual": true}],
        "startsAt": now.to_rfc3339(), "endsAt": (now + chrono::Duration::hours(2)).to_rfc3339(),
        "createdBy": "eva", "comment": "volume resize in progress"
    });
    let created: Value = client
        .post(format!("{url}/api/v2/silences"))
        .json(&silence)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let silence_id = created["silenceID"]
        .as_str()
        .expect("a silence id")
        .to_string();

    // Alertmanager marks alerts after it has processed them; wait for that.
    let started = Instant::now();
    loop {
        let held: Vec<Value> = crate::util::get_json(&format!("{url}/api/v2/alerts")).await;
        let settled = held.len() == 3
            && held.iter().all(|a| a["status"]["state"] != "unprocessed")
            && held.iter().any(|a| a["status"]["state"] == "suppressed");
        if settled {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "alerts were not processed: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let run = cli(dir.path(), &url, "", "");
    // Test connection speaks to the real server as to the sandbox: its version, its cluster.
    let checked = run(&["sources", "check"]);
    let version = std::process::Command::new(alertmanager_binary())
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string()
        + &String::from_utf8_lossy(&version.stderr);
    let version = version
        .split_whitespace()
        .skip_while(|word| *word != "version")
        .nth(1)
        .expect("alertmanager --version names its version");
    assert!(
        checked.contains(&format!(
            "ok     alerts (alertmanager, {url}): Alertmanager {version}, "
        )),
        "{checked}"
    );
    assert!(
        checked.contains("ok     files (catalog-files, ") && checked.contains(" entities in "),
        "{checked}"
    );
    let synced = run(&["sync"]);
    assert!(
        synced.contains("alerts: 4 records"),
        "3 alerts and 1 silence: {synced}"
    );

    let rows: Value = serde_json::from_str(&run(&["alerts", "--json"])).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let by_name = |name: &str| rows.iter().find(|r| r["alert"]["name"] == name).unwrap();
    let high = by_name("HighErrorRate");
    assert_eq!(high["alert"]["state"], "firing");
    assert_eq!(
        high["alert"]["runbook_url"],
        "https://runbooks.example/high-error-rate"
    );
    assert_eq!(high["services"][0]["name"], "checkout-api");
    assert_eq!(high["source"], "alerts");
    let disk = by_name("DiskSpaceLow");
    assert_eq!(disk["alert"]["state"], "silenced");
    assert_eq!(disk["alert"]["silenced_by"][0], silence_id.as_str());
    assert_eq!(disk["silences"][0]["comment"], "volume resize in progress");
    assert_eq!(disk["services"][0]["name"], "warehouse-loader");
    assert_eq!(
        by_name("Watchdog")["services"],
        json!([]),
        "no service label, no selector"
    );
    assert_eq!(
        rows[0]["alert"]["name"], "HighErrorRate",
        "firing and critical first"
    );

    let table = run(&["alerts", "--service", "checkout-api"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[1].starts_with("firing") && lines[1].contains("HighErrorRate"),
        "{table}"
    );
    let all = run(&["alerts"]);
    assert!(
        all.contains("DiskSpaceLow is silenced by eva until ")
            && all.contains("volume resize in progress"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silence_opsdeck_creates_is_alertmanagers_own_until_opsdeck_expires_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = start(dir.path()).await;
    let client = reqwest::Client::new();
    let alert = json!([{
        "labels": {"alertname": "HighErrorRate", "service": "checkout-api", "severity": "critical", "env": "prod"},
        "annotations": {"summary": "5xx above 5%"},
        "startsAt": (chrono::Utc::now() - chrono::Duration::minutes(4)).to_rfc3339(),
    }]);
    let posted = client
        .post(format!("{url}/api/v2/alerts"))
        .json(&alert)
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success());
    let alert_state = || async {
        let held: Vec<Value> = crate::util::get_json(&format!("{url}/api/v2/alerts")).await;
        held.first()
            .map(|a| a["status"]["state"].as_str().unwrap_or("").to_string())
    };
    let wait_for = |want: &'static str| async move {
        let started = Instant::now();
        while alert_state().await.as_deref() != Some(want) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the alert never read {want}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    wait_for("active").await;

    let run = cli(
        dir.path(),
        &url,
        "[identity]\nemail = \"dana@demo.opsdeck.dev\"\n\n[incidents]\npoll_interval = \"200ms\"\n\n",
        "allow_insecure = true\n",
    );
    run(&["sync"]);
    let silenced = run(&[
        "silence",
        "checkout-api",
        "--for",
        "1h",
        "--comment",
        "rolling back v2.14.0",
        "--yes",
    ]);
    assert!(silenced.contains("done"), "{silenced}");

    // Alertmanager's own API lists it, with the alert's exact labels as matchers.
    let silences: Vec<Value> = crate::util::get_json(&format!("{url}/api/v2/silences")).await;
    assert_eq!(silences.len(), 1, "{silences:?}");
    let silence = &silences[0];
    assert_eq!(silence["status"]["state"], "active");
    assert_eq!(silence["createdBy"], "dana@demo.opsdeck.dev");
    assert!(silence["comment"]
        .as_str()
        .unwrap()
        .starts_with("rolling back v2.14.0 (opsdeck "));
    let mut matchers: Vec<(String, String, bool, bool)> = silence["matchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["value"].as_str().unwrap().to_string(),
                m["isRegex"].as_bool().unwrap(),
                m["isEqual"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    matchers.sort();
    let expected: Vec<(String, String, bool, bool)> = [
        ("alertname", "HighErrorRate"),
        ("env", "prod"),
        ("service", "checkout-api"),
        ("severity", "critical"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string(), false, true))
    .collect();
    assert_eq!(matchers, expected);
    let id = silence["id"].as_str().unwrap().to_string();

    wait_for("suppressed").await;
    run(&["sync"]);
    let rows: Value =
        serde_json::from_str(&run(&["alerts", "--service", "checkout-api", "--json"])).unwrap();
    assert_eq!(rows[0]["alert"]["state"], "silenced", "after the next sync");
    assert_eq!(rows[0]["silences"][0]["id"], id.as_str());

    let expired = run(&["unsilence", &id, "--yes"]);
    assert!(expired.contains("done"), "{expired}");
    let one: Value = crate::util::get_json(&format!("{url}/api/v2/silence/{id}")).await;
    assert_eq!(one["status"]["state"], "expired");
    wait_for("active").await;
    let audit: Vec<Value> = run(&["audit", "--json"])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<&str> = audit.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["silence", "silence-expire"],
        "both audited, oldest first"
    );
    assert!(audit.iter().all(|e| e["state"] == "done"), "{audit:?}");
}
