//! On call and on fire, through the real connectors against the sandbox: the demo night as the
//! team view and service page read it, PagerDuty's pagination over many pages, its 429 and
//! 401, a failure mid-pagination that must cost nothing, and notifications that fire once.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use opsdeck::domain::alerts::AlertState;
use opsdeck::domain::oncall::IncidentStatus;
use opsdeck::{Engine, Scope};
use opsdeck_sandbox::{
    Seed, DEMO_IDENTITY, DEMO_INCIDENT_TITLE, PAGERDUTY_PREFIX, PAGERDUTY_SOURCE,
};

use crate::util::secrets_with;
use crate::util::{engine, flaky_proxy, no_progress, sandbox, sandbox_config, TOKEN};

#[tokio::test]
async fn the_team_view_tells_the_demo_night() {
    let sandbox = sandbox(Seed::Demo).await;
    let engine = engine(sandbox_config(&sandbox), Some(TOKEN)).await;
    let reports = engine.sync(None, &no_progress).await.unwrap();
    assert!(reports.iter().all(|r| r.landed), "{reports:?}");

    // The tray's summary: dana on call until her first shift ends, the incident on her team.
    let presence = engine.presence().await.unwrap();
    assert!(presence.on_call, "{presence:?}");
    let until = presence.on_call_until.expect("the demo's shifts end");
    assert!(until > chrono::Utc::now(), "{presence:?}");
    assert!(presence.triggered_on_my_teams >= 1, "{presence:?}");
    let lines = presence.lines(&chrono::Utc);
    assert!(lines[0].contains("triggered incident"), "{lines:?}");
    assert!(!lines[0].starts_with("No "), "{lines:?}");
    assert_eq!(
        lines[1],
        format!("You are on call until {}", until.format("%a %H:%M"))
    );

    // opsdeck:// links open what the cache holds, by the keys the screens use.
    use opsdeck::api::Screen;
    let link = |url: &'static str| {
        let engine = engine.clone();
        async move { engine.resolve_link(url).await }
    };
    assert_eq!(
        link("opsdeck://service/checkout-api").await.unwrap(),
        Screen::Service {
            key: "component:default/checkout-api".into()
        }
    );
    assert_eq!(
        link("opsdeck://team/checkout").await.unwrap(),
        Screen::Team {
            key: "group:default/checkout".into()
        }
    );
    let incidents = engine
        .incidents(None, &[IncidentStatus::Triggered])
        .await
        .unwrap();
    let demo = incidents
        .iter()
        .find(|r| r.incident.title == DEMO_INCIDENT_TITLE)
        .unwrap();
    let by_number = format!("opsdeck://incident/{}", demo.incident.number);
    assert_eq!(
        engine.resolve_link(&by_number).await.unwrap(),
        Screen::Incident {
            id: demo.incident.id.clone()
        }
    );
    assert!(link("opsdeck://service/nowhere")
        .await
        .unwrap_err()
        .is_not_found());
    let refused = link("opsdeck://settings/tokens")
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("no screen of Opsdeck's"), "{refused}");

    let panel = engine.on_call_panel(Scope::Team("checkout")).await.unwrap();
    assert!(panel.me_on_call, "dana is on call for checkout");
    let policy = &panel.policies[0];
    assert_eq!(policy.policy_name, "Checkout escalation");
    assert_eq!(policy.levels.len(), 2, "two escalation levels");
    let primary = &policy.levels[0].now[0];
    assert_eq!(primary.person.email.as_deref(), Some(DEMO_IDENTITY));
    assert!(primary.is_me);
    assert_eq!(
        primary.catalog_user.as_deref(),
        Some("user:default/dana"),
        "joined by email"
    );
    assert!(primary
        .person
        .phone
        .as_deref()
        .is_some_and(|p| p.starts_with("+1 ")));
    assert!(primary
        .person
        .profile_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://")));
    let next = policy.levels[0]
        .next
        .as_ref()
        .expect("the next shift is known");
    assert!(
        next.starts > chrono::Utc::now() && next.person.email.as_deref() != Some(DEMO_IDENTITY)
    );
    assert!(
        policy.levels[1].now[0].until.is_some(),
        "the secondary shift ends"
    );

    assert_eq!(panel.incidents.len(), 1);
    let incident = &panel.incidents[0];
    assert_eq!(incident.incident.title, DEMO_INCIDENT_TITLE);
    assert_eq!(incident.incident.status, IncidentStatus::Triggered);
    assert_eq!(incident.incident.urgency, "high");
    assert_eq!(incident.incident.assignees, ["Dana Whitfield"]);
    assert_eq!(incident.services[0].name, "checkout-api");

    let high = panel
        .alerts
        .iter()
        .find(|a| a.alert.name == "HighErrorRate")
        .expect("HighErrorRate fires on checkout-api");
    assert_eq!(high.alert.state, AlertState::Firing);
    assert!(high.alert.runbook_url.is_some());
    assert_eq!(high.services[0].name, "checkout-api");
    assert_eq!(
        panel.alerts[0].alert.name, "HighErrorRate",
        "firing and critical comes first"
    );
    let inhibited = panel
        .alerts
        .iter()
        .find(|a| a.alert.state == AlertState::Inhibited);
    assert!(inhibited.is_some(), "an inhibited alert is kept apart");

    // The service page: the same, for one service.
    let service = engine
        .on_call_panel(Scope::Service("checkout-api"))
        .await
        .unwrap();
    assert_eq!(service.incidents.len(), 1);
    assert_eq!(service.alerts.len(), 1);
    let orphan = engine
        .on_call_panel(Scope::Service("legacy-reports"))
        .await
        .unwrap();
    assert_eq!(orphan.unpaged, ["legacy-reports"], "nobody is paged for it");

    // Elsewhere: one acknowledged incident, a silenced alert that says why.
    let acknowledged = engine
        .incidents(None, &[IncidentStatus::Acknowledged])
        .await
        .unwrap();
    assert_eq!(acknowledged.len(), 1);
    assert!(!acknowledged[0].incident.acknowledged_by.is_empty());
    let resolved = engine
        .incidents(None, &[IncidentStatus::Resolved])
        .await
        .unwrap();
    assert!(resolved.len() >= 3);
    let alerts = engine.alerts(None).await.unwrap();
    let silenced = alerts
        .iter()
        .find(|a| a.alert.state == AlertState::Silenced)
        .unwrap();
    assert_eq!(silenced.silences.len(), 1);
    assert!(silenced.silences[0].comment.contains("resize"));

    // The On call screen: every team with a policy, mine first.
    let overview = engine.on_call_overview().await.unwrap();
    assert_eq!(overview[0].name, "checkout");
    assert!(overview[0].is_mine && overview[0].me_on_call);
    assert_eq!((overview[0].triggered, overview[0].firing_alerts), (1, 1));
    let payments = overview.iter().find(|t| t.name == "payments").unwrap();
    assert_eq!(payments.acknowledged, 1);
    assert!(!payments.me_on_call);

    // Nothing changed: the next sync writes no row.
    let again = engine.sync(None, &no_progress).await.unwrap();
    for r in again.iter().filter(|r| r.source != "catalog") {
        assert_eq!(r.rows_written, 0, "{r:?}");
    }
}

#[tokio::test]
async fn pagerduty_is_read_over_many_pages() {
    let sandbox = sandbox(Seed::Scale(2000)).await;
    let engine = engine(sandbox_config(&sandbox), Some(TOKEN)).await;
    let reports = engine.sync(None, &no_progress).await.unwrap();
    let pagerduty = reports
        .iter()
        .find(|r| r.source == PAGERDUTY_SOURCE)
        .unwrap();
    assert!(pagerduty.landed, "{pagerduty:?}");
    // 100 per page: ~1,600 services, 100 policies, 200 schedules, 500 users, ~700 shifts, …
    assert!(pagerduty.requests > 30, "{pagerduty:?}");
    let overview = engine.on_call_overview().await.unwrap();
    // Departments own no services and page nobody; every team under them does.
    let teams: Vec<_> = overview
        .iter()
        .filter(|t| !t.name.starts_with("dept-"))
        .collect();
    let covered = teams.iter().filter(|t| !t.policies.is_empty()).count();
    assert_eq!(
        covered,
        teams.len(),
        "every generated team has someone on call"
    );
    let open = engine
        .incidents(
            None,
            &[IncidentStatus::Triggered, IncidentStatus::Acknowledged],
        )
        .await
        .unwrap();
    assert_eq!(
        open.len(),
        70,
        "7 in 10 of the 100 generated incidents are open"
    );
    assert_eq!(engine.alerts(None).await.unwrap().len(), 400);
}

fn engine_reading_pagerduty_at(
    config_from: &opsdeck_sandbox::Sandbox,
    url: &str,
    cache: &Engine,
) -> Engine {
    let mut config = sandbox_config(config_from);
    config.sources.retain(|s| s.name == PAGERDUTY_SOURCE);
    config.sources[0].url = Some(url.to_string());
    config.sources[0].timeout = std::time::Duration::from_secs(2);
    cache.reconfigured(config, secrets_with(TOKEN))
}

#[tokio::test]
async fn a_500_mid_pagination_leaves_the_cache_as_it_was() {
    let good = sandbox(Seed::Scale(2000)).await;
    let cache = Engine::in_memory(sandbox_config(&good), secrets_with(TOKEN))
        .await
        .unwrap();
    let upstream = format!("{}{PAGERDUTY_PREFIX}", good.url());
    let healthy = engine_reading_pagerduty_at(&good, &upstream, &cache);
    assert!(healthy.sync(None, &no_progress).await.unwrap()[0].landed);
    let before = healthy.on_call_overview().await.unwrap();
    let incidents_before = healthy
        .incidents(None, &[IncidentStatus::Triggered])
        .await
        .unwrap()
        .len();

    let (url, flaky) = flaky_proxy(
        upstream,
        || {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [("content-type", "application/json")],
                r#"{"error":{"message":"Internal Server Error","code":2000}}"#,
            )
                .into_response()
        },
        |path, _| path.starts_with("/services") && !path.contains("offset=0"),
    )
    .await;
    let broken = engine_reading_pagerduty_at(&good, &url, &cache);
    let report = &broken.sync(None, &no_progress).await.unwrap()[0];
    assert!(!report.landed);
    assert!(
        report.problems[0].contains("500 Internal Server Error (Internal Server Error (code 2000)) — PagerDuty failed; the cached data is kept"),
        "{report:?}"
    );
    assert!(
        flaky.requests.load(Ordering::SeqCst) >= 2,
        "page 1 was read, then page 2 failed"
    );
    let after = broken.on_call_overview().await.unwrap();
    assert_eq!(
        serde_json::to_value(&after).unwrap(),
        serde_json::to_value(&before).unwrap(),
        "the cache is as it was"
    );
    assert_eq!(
        broken
            .incidents(None, &[IncidentStatus::Triggered])
            .await
            .unwrap()
            .len(),
        incidents_before
    );
    let source = &broken.sources().await.unwrap()[0];
    assert_eq!(source.consecutive_failures, 1);
    assert!(source.last_success.is_some());
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let good = sandbox(Seed::Demo).await;
    let cache = Engine::in_memory(sandbox_config(&good), secrets_with(TOKEN))
        .await
        .unwrap();
    static ONCE: AtomicUsize = AtomicUsize::new(0);
    let (url, flaky) = flaky_proxy(
        format!("{}{PAGERDUTY_PREFIX}", good.url()),
        || {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("content-type", "application/json"), ("retry-after", "1")],
                r#"{"error":{"message":"Rate Limit Exceeded","code":2020}}"#,
            )
                .into_response()
        },
        |path, _| path.starts_with("/oncalls") && ONCE.fetch_add(1, Ordering::SeqCst) == 0,
    )
    .await;
    let engine = engine_reading_pagerduty_at(&good, &url, &cache);
    let started = std::time::Instant::now();
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(report.landed, "{report:?}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(
        report.requests as usize,
        flaky.requests.load(Ordering::SeqCst)
    );
    assert_eq!(
        report.requests, 9,
        "8 lists read once, the rate-limited one twice"
    );
}

#[tokio::test]
async fn a_rejected_or_missing_token_says_so() {
    let sandbox = sandbox(Seed::Demo).await;
    let wrong = engine(sandbox_config(&sandbox), Some("not-the-token")).await;
    let report = wrong
        .sync(Some(PAGERDUTY_SOURCE), &no_progress)
        .await
        .unwrap()
        .remove(0);
    assert!(!report.landed);
    assert_eq!(
        report.problems[0],
        "pagerduty: 401 Unauthorized (Invalid Credentials (code 2006)) — the token from embedded sandbox was rejected; supply a valid one"
    );
    let mut config = sandbox_config(&sandbox);
    config.sources.retain(|s| s.name == PAGERDUTY_SOURCE);
    config.sources[0].token_env = Some("OPSDECK_TEST_NO_SUCH_TOKEN".into());
    let none = Engine::in_memory(config, opsdeck::secrets::Secrets::default())
        .await
        .unwrap();
    let report = none.sync(None, &no_progress).await.unwrap().remove(0);
    assert!(
        report.problems[0].contains("OPSDECK_TEST_NO_SUCH_TOKEN"),
        "{report:?}"
    );
}

#[tokio::test]
async fn each_new_triggered_incident_on_my_teams_notifies_once_across_restarts() {
    let sandbox = sandbox(Seed::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.sqlite");
    let secrets = || secrets_with(TOKEN);
    let engine = Engine::open(sandbox_config(&sandbox), &db, secrets())
        .await
        .unwrap();
    engine.sync(None, &no_progress).await.unwrap();
    let first = engine.incidents_to_notify().await.unwrap();
    assert_eq!(first.len(), 1, "the checkout incident, on dana's team");
    assert_eq!(first[0].incident.title, DEMO_INCIDENT_TITLE);
    assert_eq!(first[0].services[0].name, "checkout-api");
    assert!(
        engine.incidents_to_notify().await.unwrap().is_empty(),
        "once"
    );

    // A new incident on a checkout service notifies; one on another team's does not.
    sandbox
        .trigger_incident("cart-service", "Cart writes failing")
        .unwrap();
    sandbox
        .trigger_incident("payments-gateway", "Card declines spike")
        .unwrap();
    engine
        .sync(Some(PAGERDUTY_SOURCE), &no_progress)
        .await
        .unwrap();
    drop(engine);
    let restarted = Engine::open(sandbox_config(&sandbox), &db, secrets())
        .await
        .unwrap();
    let second = restarted.incidents_to_notify().await.unwrap();
    assert_eq!(
        second
            .iter()
            .map(|r| r.incident.title.as_str())
            .collect::<Vec<_>>(),
        ["Cart writes failing"]
    );
    assert!(
        restarted.incidents_to_notify().await.unwrap().is_empty(),
        "once, across restarts"
    );
}

#[tokio::test]
async fn a_malformed_alert_selector_is_reported_with_the_catalogs_problems() {
    let tree = tempfile::tempdir().unwrap();
    std::fs::write(
        tree.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: cart\n  annotations:\n    opsdeck.io/alert-selector: 'app=~\"(\"'\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
    )
    .unwrap();
    let config = opsdeck::config::Config::parse(
        &format!(
            "[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n",
            tree.path().display()
        ),
        std::path::Path::new("/tmp/opsdeck-test.toml"),
    )
    .unwrap();
    let engine = engine(config, None).await;
    let report = engine.sync(None, &no_progress).await.unwrap().remove(0);
    assert!(report.landed, "the catalog still lands: {report:?}");
    assert!(
        report.problems.iter().any(|p| p.starts_with(
            "component:default/cart: annotation opsdeck.io/alert-selector: 'app=~\"(\"': '(' is not a valid regular expression"
        )),
        "{report:?}"
    );
    let source = &engine.sources().await.unwrap()[0];
    assert!(source
        .last_error
        .as_deref()
        .unwrap()
        .contains("opsdeck.io/alert-selector"));
}
