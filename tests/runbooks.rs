//! Runbooks against the sandbox: found on the service, its system, its team and its alerts,
//! filled in with the context; markdown read at sync and readable with GitHub down; an
//! automated runbook's inputs from its workflow file, checked, dispatched and followed; every
//! launch and run in the audit log; schemes other than http(s) refused.

use std::collections::BTreeMap;

use opsdeck::api::RunbookAsk;
use opsdeck::config::Config;
use opsdeck::domain::delivery::DeployStatus;
use opsdeck::domain::runbooks::{InputType, RunbookKind, RunbookOrigin};
use opsdeck_sandbox::ChaosSpec;

use crate::util::{demo_with, engine, no_progress};

const MARKDOWN: &str =
    "https://github.com/demo-org/checkout-api/blob/main/docs/runbooks/high-error-rate.md";
const DRAIN: &str = "https://github.com/demo-org/checkout-api/actions/workflows/drain-region.yml";

#[tokio::test]
async fn checkout_api_has_its_own_inherited_and_alert_runbooks_filled_in() {
    let (_sandbox, engine) = demo_with("rollout=1s").await;
    let rows = engine
        .runbooks("checkout-api", &RunbookAsk::default())
        .await
        .unwrap();
    let origins: Vec<(&str, &RunbookOrigin)> =
        rows.iter().map(|r| (r.title.as_str(), &r.origin)).collect();
    assert_eq!(
        origins,
        [
            ("Runbook", &RunbookOrigin::Service),
            ("High error rate runbook", &RunbookOrigin::Service),
            ("Drain a region (automated)", &RunbookOrigin::Service),
            (
                "Storefront degraded mode",
                &RunbookOrigin::System("storefront".into())
            ),
            (
                "Checkout on-call handbook",
                &RunbookOrigin::Team("checkout".into())
            ),
        ],
        "HighErrorRate's runbook_url is the markdown runbook already listed"
    );
    // The wiki link's template: production and what runs there; no incident asked for.
    assert_eq!(
        rows[0].url,
        "https://wiki.demo.opsdeck.dev/runbooks/checkout-api?env=prod&version=v2.14.0&incident={incident_id}"
    );
    assert_eq!(rows[0].unfilled, ["incident_id"]);
    assert_eq!(
        rows[3].url,
        "https://wiki.demo.opsdeck.dev/systems/storefront/degraded-mode"
    );
    assert!(matches!(rows[1].kind, RunbookKind::Markdown { .. }));
    assert!(
        rows[1].cached_at.is_some(),
        "read at the GitHub sync, before anyone opened it"
    );
    assert!(matches!(rows[2].kind, RunbookKind::Automated { .. }));
    // The alert it was asked for (the same markdown runbook) comes first, with the incident.
    let alert = engine.alerts(Some("checkout-api")).await.unwrap()[0]
        .alert
        .fingerprint
        .clone();
    let ask = RunbookAsk {
        incident_id: Some("Q1 2/3".into()),
        alert: Some(alert),
        environment: Some("gamma".into()),
    };
    let rows = engine.runbooks("checkout-api", &ask).await.unwrap();
    assert_eq!(rows[0].origin, RunbookOrigin::Alert("HighErrorRate".into()));
    let wiki = rows.iter().find(|r| r.title == "Runbook").unwrap();
    assert_eq!(
        wiki.url,
        "https://wiki.demo.opsdeck.dev/runbooks/checkout-api?env=gamma&version=v2.14.0&incident=Q1%202%2F3"
    );
    assert!(wiki.unfilled.is_empty());

    // An orphan with no runbook anywhere.
    let none = engine
        .runbooks("legacy-reports", &RunbookAsk::default())
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test]
async fn a_markdown_runbook_reads_from_the_cache_while_github_is_down() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    sandbox.set_chaos("github:error_rate=1".parse::<ChaosSpec>().unwrap());
    let document = engine
        .runbook_document("checkout-api", MARKDOWN, false)
        .await
        .unwrap();
    assert!(document
        .markdown
        .starts_with("# High error rate on checkout-api"));
    assert_eq!(document.path, "docs/runbooks/high-error-rate.md");
    let asked = engine
        .runbook_document("checkout-api", MARKDOWN, true)
        .await
        .unwrap();
    assert_eq!(
        asked.markdown, document.markdown,
        "a refresh that fails keeps the copy"
    );
    // Back up: a refresh confirms the copy (a 304) and moves its age.
    sandbox.set_chaos(ChaosSpec::default());
    let fresh = engine
        .runbook_document("checkout-api", MARKDOWN, true)
        .await
        .unwrap();
    assert!(fresh.confirmed_at >= document.confirmed_at);
    let not_markdown = engine
        .runbook_document("checkout-api", DRAIN, false)
        .await
        .unwrap_err();
    assert!(not_markdown.to_string().contains("not a markdown file"));
    // Each read in the app is a launch, in the audit log; a refresh is not another.
    let reads: Vec<(&str, String)> = engine
        .audit(Some("checkout-api"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind.as_str(), e.state))
        .collect();
    assert_eq!(reads, [("runbook-open", "read".to_string())]);
}

#[tokio::test]
async fn an_automated_runbook_is_checked_dispatched_followed_and_audited() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let form = engine
        .runbook_form("checkout-api", DRAIN, &RunbookAsk::default())
        .await
        .unwrap();
    let environment = form
        .inputs
        .iter()
        .find(|i| i.name == "environment")
        .unwrap();
    assert_eq!(
        environment.default.as_deref(),
        Some("prod"),
        "production, from the context"
    );
    assert_eq!(form.workflow, "drain-region.yml");
    let types: Vec<(&str, InputType)> = form
        .inputs
        .iter()
        .map(|i| (i.name.as_str(), i.input_type))
        .collect();
    assert_eq!(
        types,
        [
            ("region", InputType::Choice),
            ("percent", InputType::Number),
            ("dry_run", InputType::Boolean),
            ("environment", InputType::Environment),
            ("reason", InputType::String),
        ]
    );
    let ask = RunbookAsk::default();
    let given = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let refused = engine
        .run_runbook(
            "checkout-api",
            DRAIN,
            &ask,
            &given(&[("region", "mars"), ("dry_run", "perhaps")]),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("one of eu-west-1") && refused.contains("'dry_run' must be true or false"),
        "{refused}"
    );
    assert_eq!(sandbox.actions_received(), 0);

    let run = engine
        .run_runbook(
            "checkout-api",
            DRAIN,
            &ask,
            &given(&[
                ("region", "eu-west-1"),
                ("environment", "prod"),
                ("reason", "HighErrorRate"),
            ]),
        )
        .await
        .unwrap();
    assert!(run.progress().run_id.is_some());
    // The same workflow at the same ref waits until this run has finished.
    let held = engine
        .run_runbook(
            "checkout-api",
            DRAIN,
            &ask,
            &given(&[("region", "eu-west-1"), ("environment", "prod")]),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(held.contains("has not finished"), "{held}");
    assert_eq!(sandbox.actions_received(), 1);
    let seen = std::sync::Mutex::new(Vec::new());
    let end = engine
        .track_runbook(run, &|p| seen.lock().unwrap().push(p.status))
        .await
        .unwrap();
    assert!(end.finished);
    assert_eq!(end.status, DeployStatus::Success, "{}", end.message);
    assert!(end
        .link
        .as_deref()
        .is_some_and(|l| l.contains("/actions/runs/")));
    assert!(seen.lock().unwrap().contains(&DeployStatus::InProgress));
    assert_eq!(sandbox.actions_received(), 1);

    let launched = engine
        .launch_runbook("checkout-api", MARKDOWN, &ask)
        .await
        .unwrap();
    assert_eq!(launched, MARKDOWN);
    let audit = engine.audit(Some("checkout-api"), 10).await.unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e.kind.as_str(), e.state.as_str()))
        .collect();
    assert_eq!(
        actions,
        [("runbook-open", "opened"), ("runbook-run", "success")]
    );
    assert_eq!(
        audit[1].subject.as_deref(),
        Some("Drain a region (automated)")
    );
    assert!(audit[1].finished && audit[1].response_id.is_some());
    assert!(
        matches!(&audit[1].target, opsdeck::domain::actions::ActionTarget::Workflow { repo, git_ref, .. }
            if repo == "demo-org/checkout-api" && !git_ref.is_empty()),
        "{:?}",
        audit[1].target
    );
}

#[tokio::test]
async fn runbooks_that_are_not_http_are_refused_and_the_refusal_audited() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: odd\n  links:\n    - url: \"javascript:alert(1)\"\n      title: Sneaky\n      type: runbook\n    - url: \"mailto:oncall@example.com\"\n      title: Mail\n      type: runbook\n    - url: \"https://wiki.example.com/{service}/{nope}\"\n      title: Wiki\n      type: runbook\nspec:\n  type: service\n  owner: group:default/nobody\n  lifecycle: production\n",
    )
    .unwrap();
    let text = format!(
        "[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n",
        dir.path().display()
    );
    let config = Config::parse(&text, &dir.path().join("o.toml")).unwrap();
    let engine = engine(config, None).await;
    engine.sync(None, &no_progress).await.unwrap();
    let rows = engine
        .runbooks("odd", &RunbookAsk::default())
        .await
        .unwrap();
    assert!(rows[0]
        .refused
        .as_deref()
        .is_some_and(|r| r.contains("'javascript:'")));
    assert!(rows[1].refused.is_some());
    assert_eq!(
        rows[2].url, "https://wiki.example.com/odd/{nope}",
        "unknown placeholders stay"
    );
    assert!(rows[2].refused.is_none());
    let refused = engine
        .launch_runbook("odd", "javascript:alert(1)", &RunbookAsk::default())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("http or https"), "{refused}");
    let entry = &engine.audit(Some("odd"), 1).await.unwrap()[0];
    assert_eq!(
        (entry.kind.as_str(), entry.state.as_str()),
        ("runbook-open", "refused")
    );
}
