//! One-click rollback against the sandbox, through the real Argo CD, GitHub and PagerDuty
//! Events connectors: each executor to its end, every refusal, a lost answer, a double
//! submit, the in-flight lock, the ownership override, and what the audit log keeps.

use opsdeck::api::{RollbackConfirmation, RollbackPlan, RollbackProgress};
use opsdeck::config::Config;
use opsdeck::domain::rollback::{BlockerKind, Executor, RollbackState};
use opsdeck::{Engine, Started};
use opsdeck_sandbox::{ActionsSpec, ChaosSpec, Seed, DEMO_ROLLBACK_FROM, DEMO_ROLLBACK_TO};

use crate::util::{demo_with, engine, no_progress, sandbox, TOKEN};

fn confirm(plan: &RollbackPlan) -> RollbackConfirmation {
    RollbackConfirmation {
        key: plan.key.clone(),
        ..Default::default()
    }
}

/// The confirmation of one who neither owns the service nor is on call: its name typed.
fn typed(plan: &RollbackPlan) -> RollbackConfirmation {
    RollbackConfirmation {
        typed_service: Some(plan.service.name.clone()),
        ..confirm(plan)
    }
}

async fn run_to_end(engine: &Engine, confirmation: &RollbackConfirmation) -> RollbackProgress {
    match engine.start_rollback(confirmation).await.unwrap() {
        Started::Running(run) => engine.track_rollback(run, &|_| {}).await.unwrap(),
        Started::AlreadyConfirmed(progress) => panic!("not started: {progress:?}"),
    }
}

#[tokio::test]
async fn checkout_api_rolls_back_through_argo_cd_and_pagerduty_hears_of_it() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(plan.executor, Some(Executor::Argocd));
    assert_eq!(plan.current.as_ref().unwrap().version, DEMO_ROLLBACK_FROM);
    assert_eq!(plan.target.as_ref().unwrap().version, DEMO_ROLLBACK_TO);
    assert!(plan.owned_by_me && plan.me_on_call && !plan.needs_override);
    assert!(
        plan.on_call.iter().any(|who| who.ends_with("(you)")),
        "{:?}",
        plan.on_call
    );
    let changes = plan.changes.as_ref().expect("the commits being undone");
    assert!(changes.total_commits > 0);
    assert_eq!(plan.calls.len(), 1);
    assert_eq!(plan.calls[0].method, "POST");
    assert!(plan.calls[0]
        .url
        .ends_with("/api/v1/applications/checkout-api-prod/rollback"));
    assert!(
        plan.calls[0].body.contains("\"prune\":false"),
        "{}",
        plan.calls[0].body
    );
    assert_eq!(sandbox.actions_received(), 0, "planning changes nothing");

    let seen = std::sync::Mutex::new(Vec::new());
    let Started::Running(run) = engine.start_rollback(&confirm(&plan)).await.unwrap() else {
        panic!("not started")
    };
    assert_eq!(run.progress().state, RollbackState::Accepted);
    let end = engine
        .track_rollback(run, &|p| seen.lock().unwrap().push(p.state))
        .await
        .unwrap();
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    assert!(seen.lock().unwrap().contains(&RollbackState::InProgress));
    assert_eq!(sandbox.actions_received(), 1);

    // The sync after it shows the rollback where it happened.
    let delivery = engine.service_delivery("checkout-api").await.unwrap();
    let prod = delivery
        .environments
        .iter()
        .find(|e| e.environment == "prod")
        .unwrap();
    let now = prod.current.as_ref().unwrap();
    assert_eq!(now.version, DEMO_ROLLBACK_TO);
    assert_eq!(now.rolled_back_from.as_deref(), Some(DEMO_ROLLBACK_FROM));

    let events = sandbox.change_events();
    assert_eq!(events.len(), 1);
    let summary = events[0]["payload"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("checkout-api") && summary.contains("succeeded"),
        "{summary}"
    );
    assert_eq!(events[0]["routing_key"], "3d7aaba91fdcbc4ae5615f75b2cf2d97");

    let audit = engine.audit(Some("checkout-api"), 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    let entry = &audit[0];
    assert_eq!(entry.actor, "dana@demo.opsdeck.dev");
    assert_eq!(
        (entry.from_version.as_deref(), entry.to_version.as_deref()),
        (Some(DEMO_ROLLBACK_FROM), Some(DEMO_ROLLBACK_TO))
    );
    assert!(entry.finished && entry.state == "succeeded");
    let steps: Vec<&str> = entry.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps.first(), Some(&"requested"));
    assert!(
        steps.contains(&"answered") && steps.contains(&"finished"),
        "{steps:?}"
    );
    assert_eq!(steps.last(), Some(&"notified"));
    assert!(entry.calls[0].url.ends_with("/rollback"));
    let lines = engine.audit_json_lines(None).await.unwrap();
    assert_eq!(lines.lines().count(), 1);
    let exported: serde_json::Value = serde_json::from_str(lines.trim()).unwrap();
    assert_eq!(exported["key"], plan.key);
}

#[tokio::test]
async fn automated_sync_is_switched_off_only_with_consent() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let plan = engine
        .plan_rollback("cart-service", "prod", None)
        .await
        .unwrap();
    assert!(plan.automated_sync);
    let blocker = plan
        .blockers
        .iter()
        .find(|b| b.kind == BlockerKind::AutomatedSync)
        .expect("automated sync blocks");
    assert!(blocker.resolvable);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("switching it back on")),
        "{:?}",
        plan.warnings
    );
    assert_eq!(
        plan.calls
            .iter()
            .map(|c| c.method.as_str())
            .collect::<Vec<_>>(),
        ["PATCH", "POST"]
    );

    let refused = engine.start_rollback(&confirm(&plan)).await.unwrap_err();
    assert!(refused.to_string().contains("automatically"), "{refused}");
    assert_eq!(sandbox.actions_received(), 0, "nothing was called");

    let consented = RollbackConfirmation {
        disable_automated_sync: true,
        ..confirm(&plan)
    };
    let end = run_to_end(&engine, &consented).await;
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    assert_eq!(
        sandbox.actions_received(),
        2,
        "the patch, then the rollback"
    );
    let replanned = engine
        .plan_rollback("cart-service", "prod", None)
        .await
        .unwrap();
    assert!(!replanned.automated_sync);
}

#[tokio::test]
async fn payments_gateway_rolls_back_through_a_github_deployment_with_an_override() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    // v5.2.0 waits for approval in prod: that deployment is in flight.
    let prod = engine
        .plan_rollback("payments-gateway", "prod", None)
        .await
        .unwrap();
    assert!(
        prod.blockers
            .iter()
            .any(|b| b.kind == BlockerKind::InFlight),
        "{:?}",
        prod.blockers
    );

    let plan = engine
        .plan_rollback("payments-gateway", "gamma", None)
        .await
        .unwrap();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert_eq!(plan.executor, Some(Executor::GithubDeployment));
    assert!(!plan.owned_by_me && !plan.me_on_call && plan.needs_override);
    let body: serde_json::Value = serde_json::from_str(&plan.calls[0].body).unwrap();
    assert_eq!(body["auto_merge"], false);
    assert_eq!(body["required_contexts"], serde_json::json!([]));
    assert_eq!(
        body["ref"].as_str(),
        plan.target.as_ref().unwrap().commit.as_deref()
    );
    assert_eq!(body["payload"]["rolled_back_from"], "v5.2.0");

    let unconfirmed = engine.start_rollback(&confirm(&plan)).await.unwrap_err();
    assert!(
        unconfirmed.to_string().contains("type its name"),
        "{unconfirmed}"
    );
    let mistyped = RollbackConfirmation {
        typed_service: Some("payments".into()),
        ..confirm(&plan)
    };
    assert!(engine.start_rollback(&mistyped).await.is_err());
    assert_eq!(sandbox.actions_received(), 0);

    let with_reason = RollbackConfirmation {
        reason: Some("payments on-call asked me to".into()),
        ..typed(&plan)
    };
    let end = run_to_end(&engine, &with_reason).await;
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    let entry = &engine.audit(Some("payments-gateway"), 5).await.unwrap()[0];
    let reason = entry.override_reason.as_deref().expect("override recorded");
    assert!(
        reason.contains("typed 'payments-gateway'") && reason.contains("asked me"),
        "{reason}"
    );
    assert!(entry.response_id.is_some(), "the deployment's id");
    let delivery = engine.service_delivery("payments-gateway").await.unwrap();
    let gamma = delivery
        .environments
        .iter()
        .find(|e| e.environment == "gamma")
        .unwrap();
    let now = gamma.current.as_ref().unwrap();
    assert_eq!(Some(&now.version), plan.target.as_ref().map(|t| &t.version));
    assert_eq!(now.rolled_back_from.as_deref(), Some("v5.2.0"));
}

#[tokio::test]
async fn search_indexer_rolls_back_through_its_workflow() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let plan = engine
        .plan_rollback("search-indexer", "prod", None)
        .await
        .unwrap();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert!(
        matches!(&plan.executor, Some(Executor::GithubWorkflow { workflow, .. }) if workflow == "rollback.yml")
    );
    assert!(plan.calls[0]
        .url
        .ends_with("/actions/workflows/rollback.yml/dispatches"));
    let body: serde_json::Value = serde_json::from_str(&plan.calls[0].body).unwrap();
    assert_eq!(body["inputs"]["environment"], "prod");
    assert_eq!(
        body["inputs"]["version"].as_str(),
        plan.target.as_ref().map(|t| t.version.as_str())
    );
    let end = run_to_end(&engine, &typed(&plan)).await;
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    assert!(
        end.link
            .as_deref()
            .is_some_and(|l| l.contains("/actions/runs/")),
        "{:?}",
        end.link
    );
    assert_eq!(sandbox.actions_received(), 1);
}

#[tokio::test]
async fn refusals_fail_the_rollback_once_and_say_why() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    // Argo CD's dry run finds the missing permission while planning.
    sandbox.set_actions("refuse=403".parse().unwrap());
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    let blocker = plan
        .blockers
        .iter()
        .find(|b| b.kind == BlockerKind::PlatformUnreadable)
        .expect("the dry run was refused");
    assert!(blocker.message.contains("403"), "{}", blocker.message);

    // GitHub has no dry run: the refusal comes with the call.
    for (refusal, expected) in [("refuse=403", "403"), ("refuse=500", "500")] {
        sandbox.set_actions(ActionsSpec::default());
        let plan = engine
            .plan_rollback("payments-gateway", "gamma", None)
            .await
            .unwrap();
        sandbox.set_actions(refusal.parse().unwrap());
        let before = sandbox.actions_received();
        let confirmation = typed(&plan);
        let end = run_to_end(&engine, &confirmation).await;
        assert_eq!(end.state, RollbackState::Failed);
        assert!(
            end.message.contains(expected) && end.message.contains("nothing was retried"),
            "{}",
            end.message
        );
        assert_eq!(sandbox.actions_received(), before + 1, "one call, no retry");
    }
    assert!(
        sandbox.change_events().is_empty(),
        "nothing happened to tell PagerDuty of"
    );
    let audit = engine.audit(Some("payments-gateway"), 5).await.unwrap();
    assert!(
        audit.iter().all(|e| e.finished && e.state == "failed"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_lost_answer_is_re_read_never_retried() {
    let (sandbox, engine) = demo_with("drop,rollout=1s").await;
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    let Started::Running(run) = engine.start_rollback(&confirm(&plan)).await.unwrap() else {
        panic!("not started")
    };
    assert_eq!(run.progress().state, RollbackState::Unknown);
    assert!(
        run.progress().message.starts_with("unknown — re-reading"),
        "{}",
        run.progress().message
    );
    sandbox.set_actions("rollout=1s".parse().unwrap());
    let end = engine.track_rollback(run, &|_| {}).await.unwrap();
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    assert_eq!(sandbox.actions_received(), 1, "the call was made once");

    // GitHub: the deployment is found by the key in its payload.
    sandbox.set_actions("drop,rollout=1s".parse().unwrap());
    let plan = engine
        .plan_rollback("payments-gateway", "gamma", None)
        .await
        .unwrap();
    let end = run_to_end(&engine, &typed(&plan)).await;
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    assert_eq!(sandbox.actions_received(), 2);

    // A workflow: the run its dispatch started is found among the workflow's runs.
    let plan = engine
        .plan_rollback("search-indexer", "prod", None)
        .await
        .unwrap();
    let end = run_to_end(&engine, &typed(&plan)).await;
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    assert!(end.link.is_some_and(|l| l.contains("/actions/runs/")));
    assert_eq!(sandbox.actions_received(), 3);
}

#[tokio::test]
async fn a_failed_rollout_is_reported_failed() {
    let (sandbox, engine) = demo_with("fail,rollout=1s").await;
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    let end = run_to_end(&engine, &confirm(&plan)).await;
    assert_eq!(end.state, RollbackState::Failed, "{}", end.message);
    assert!(end.message.contains("Degraded"), "{}", end.message);
    let events = sandbox.change_events();
    assert!(events[0]["payload"]["summary"]
        .as_str()
        .unwrap()
        .contains("failed"));
}

#[tokio::test]
async fn a_double_submit_calls_once_and_a_second_window_is_held_off() {
    let (sandbox, engine) = demo_with("rollout=2s").await;
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    let other_window = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    let confirmation = confirm(&plan);
    let (a, b) = tokio::join!(
        engine.start_rollback(&confirmation),
        engine.start_rollback(&confirmation)
    );
    let (run, repeat) = match (a.unwrap(), b.unwrap()) {
        (Started::Running(run), Started::AlreadyConfirmed(p))
        | (Started::AlreadyConfirmed(p), Started::Running(run)) => (run, p),
        other => panic!("{other:?}"),
    };
    assert!(
        repeat.message.starts_with("already confirmed"),
        "{}",
        repeat.message
    );
    assert_eq!(sandbox.actions_received(), 1);

    let held = engine
        .start_rollback(&confirm(&other_window))
        .await
        .unwrap_err();
    assert!(held.to_string().contains("no outcome yet"), "{held}");
    let replanned = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    assert!(replanned
        .blockers
        .iter()
        .any(|b| b.kind == BlockerKind::InFlight));
    assert_eq!(sandbox.actions_received(), 1);

    let end = engine.track_rollback(run, &|_| {}).await.unwrap();
    assert_eq!(end.state, RollbackState::Succeeded);
    // A retry after the end still calls nothing.
    assert!(matches!(
        engine.start_rollback(&confirmation).await.unwrap(),
        Started::AlreadyConfirmed(_)
    ));
    assert_eq!(sandbox.actions_received(), 1);
}

#[tokio::test]
async fn pagerduty_failing_never_fails_the_rollback() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    sandbox.set_chaos("pagerduty:error_rate=1".parse::<ChaosSpec>().unwrap());
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    let end = run_to_end(&engine, &confirm(&plan)).await;
    assert_eq!(end.state, RollbackState::Succeeded);
    let entry = &engine.audit(None, 1).await.unwrap()[0];
    assert_eq!(entry.state, "succeeded");
    let notified = entry.steps.last().unwrap();
    assert!(
        notified.message.contains("not sent"),
        "{}",
        notified.message
    );
}

#[tokio::test]
async fn an_unknown_target_or_environment_is_a_blocker_not_a_call() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let plan = engine
        .plan_rollback("checkout-api", "prod", Some("v0.0.1"))
        .await
        .unwrap();
    let blocker = plan
        .blockers
        .iter()
        .find(|b| b.kind == BlockerKind::NoTarget)
        .unwrap();
    assert!(
        blocker.message.contains(DEMO_ROLLBACK_TO),
        "{}",
        blocker.message
    );
    let nowhere = engine
        .plan_rollback("checkout-api", "staging", None)
        .await
        .unwrap();
    assert!(
        nowhere
            .blockers
            .iter()
            .any(|b| b.kind == BlockerKind::NoExecutor),
        "{:?}",
        nowhere.blockers
    );
    // Its owner group is gone: nobody owns it, so anyone must type its name.
    let orphan = engine
        .plan_rollback("legacy-reports", "prod", None)
        .await
        .unwrap();
    assert!(orphan.needs_override && orphan.owner.as_deref() == Some("reporting"));
    assert!(engine.start_rollback(&confirm(&plan)).await.is_err());
    assert_eq!(sandbox.actions_received(), 0);
}

#[tokio::test]
async fn without_a_token_the_plan_says_how_to_give_one() {
    let (_sandbox, engine) = demo_with("rollout=1s").await;
    let tokenless = engine.reconfigured(
        engine.config().clone(),
        opsdeck::secrets::Secrets::default(),
    );
    let plan = tokenless
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    let blocker = plan
        .blockers
        .iter()
        .find(|b| b.kind == BlockerKind::NoToken)
        .expect("no token");
    assert!(
        blocker.message.contains("OPSDECK_SANDBOX_TOKEN") || blocker.message.contains("login"),
        "{}",
        blocker.message
    );
    assert!(plan.calls.is_empty(), "no call is planned without a token");
}

#[tokio::test]
async fn a_rollout_without_an_end_times_out_and_change_events_can_be_off() {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions("rollout=60s".parse().unwrap());
    let text = format!(
        "{}\n[rollback]\npoll_interval = \"100ms\"\ntimeout = \"1s\"\npagerduty_change_events = false\n",
        sandbox.config_toml()
    );
    let config = Config::parse(&text, std::path::Path::new("/tmp/opsdeck-test.toml")).unwrap();
    let engine = engine(config, Some(TOKEN)).await;
    engine.sync(None, &no_progress).await.unwrap();
    let plan = engine
        .plan_rollback("search-indexer", "prod", None)
        .await
        .unwrap();
    let end = run_to_end(&engine, &typed(&plan)).await;
    assert_eq!(end.state, RollbackState::TimedOut, "{}", end.message);
    assert!(
        end.message.contains("no end state after 1s"),
        "{}",
        end.message
    );
    assert!(sandbox.change_events().is_empty());
    let entry = &engine.audit(Some("search-indexer"), 1).await.unwrap()[0];
    assert!(entry.finished && entry.state == "timed_out");
}

/// The demo with a catalog-files source adding `shadow`, owned by the data team and wired to
/// checkout-api's production application by name: what anyone who can edit a catalog can do.
async fn demo_with_a_shadow_claim() -> (opsdeck_sandbox::Sandbox, Engine, tempfile::TempDir) {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions("rollout=2s".parse().unwrap());
    let tree = tempfile::tempdir().unwrap();
    std::fs::write(
        tree.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: shadow\n  annotations:\n    argocd/app-name: checkout-api-prod\n    opsdeck.io/rollback: argocd\nspec:\n  type: service\n  owner: data\n  lifecycle: production\n",
    )
    .unwrap();
    let text = format!(
        "{}\n[[sources]]\nname = \"extra\"\nkind = \"catalog-files\"\npath = \"{}\"\n\n[rollback]\npoll_interval = \"100ms\"\ntimeout = \"30s\"\n",
        sandbox.config_toml(),
        tree.path().display()
    );
    let config = Config::parse(&text, std::path::Path::new("/tmp/opsdeck.toml")).unwrap();
    let engine = engine(config, Some(TOKEN)).await;
    engine.sync(None, &no_progress).await.unwrap();
    (sandbox, engine, tree)
}

#[tokio::test]
async fn a_target_claimed_by_another_teams_service_needs_the_override_and_holds_both() {
    let (sandbox, engine, _tree) = demo_with_a_shadow_claim().await;
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    assert!(plan.owned_by_me && plan.me_on_call);
    assert_eq!(
        plan.platform_target.as_deref(),
        Some("argocd-app:checkout-api-prod")
    );
    assert_eq!(plan.also_claimed_by, ["shadow (data)"]);
    assert!(
        plan.needs_override,
        "shadow is neither mine nor mine on call"
    );
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("also claimed by shadow (data)")),
        "{:?}",
        plan.warnings
    );
    let refused = engine.start_rollback(&confirm(&plan)).await.unwrap_err();
    assert!(
        refused.to_string().contains("also acts for shadow (data)"),
        "{refused}"
    );
    assert_eq!(sandbox.actions_received(), 0);

    let Started::Running(run) = engine.start_rollback(&typed(&plan)).await.unwrap() else {
        panic!("not started")
    };
    // The other claimant's page sees the rollback under way on the same application.
    let from_shadow = engine.plan_rollback("shadow", "prod", None).await.unwrap();
    let held = from_shadow
        .blockers
        .iter()
        .find(|b| b.kind == BlockerKind::InFlight)
        .unwrap_or_else(|| panic!("{:?}", from_shadow.blockers));
    assert!(
        held.message
            .contains("of checkout-api, which deploys the same way"),
        "{}",
        held.message
    );
    let end = engine.track_rollback(run, &|_| {}).await.unwrap();
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    let entry = &engine.audit(Some("checkout-api"), 1).await.unwrap()[0];
    assert_eq!(
        entry.target,
        opsdeck::domain::actions::ActionTarget::Deployment {
            target: "argocd-app:checkout-api-prod".into(),
            environment: "prod".into()
        }
    );
    assert_eq!(engine.verify_audit().await.unwrap().first_broken, None);
}

#[tokio::test]
async fn an_audit_log_that_cannot_be_written_after_the_call_does_not_fail_the_rollback() {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions("rollout=4s".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.sqlite");
    let text = format!(
        "{}\n[rollback]\npoll_interval = \"100ms\"\ntimeout = \"30s\"\n",
        sandbox.config_toml()
    );
    let config = Config::parse(&text, std::path::Path::new("/tmp/opsdeck.toml")).unwrap();
    let engine = Engine::open(config, &db, crate::util::secrets_with(TOKEN))
        .await
        .unwrap();
    engine.sync(None, &no_progress).await.unwrap();
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();

    // The log refuses the answer's and the progress steps, as a full disk or a lost lock would.
    let audit_file = dir.path().join("cache.audit.sqlite");
    let outside = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(&audit_file),
    )
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_answers BEFORE INSERT ON audit_log
         WHEN NEW.step IN ('answered', 'progress')
         BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
    )
    .execute(&outside)
    .await
    .unwrap();

    let Started::Running(run) = engine.start_rollback(&confirm(&plan)).await.unwrap() else {
        panic!("not started")
    };
    let progress = run.progress();
    assert_eq!(
        progress.state,
        RollbackState::Accepted,
        "{}",
        progress.message
    );
    assert!(
        progress.message.contains("not yet in the audit log (")
            && progress.message.contains("disk I/O error"),
        "{}",
        progress.message
    );
    assert_eq!(sandbox.actions_received(), 1);

    // Followed while the log is still down (the rollout takes 4 s, read every 100 ms, each
    // failed append retried for most of a second),
    // then the log recovers: the kept steps are written first, then the rest, in order.
    let following = tokio::spawn({
        let engine = engine.clone();
        async move { engine.track_rollback(run, &|_| {}).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    sqlx::query("DROP TRIGGER refuse_answers")
        .execute(&outside)
        .await
        .unwrap();
    let end = following.await.unwrap().unwrap();
    assert_eq!(end.state, RollbackState::Succeeded, "{}", end.message);
    let entry = &engine.audit(Some("checkout-api"), 1).await.unwrap()[0];
    let steps: Vec<&str> = entry.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps[..2], ["requested", "answered"], "{steps:?}");
    // Each look that saw nothing new was not kept as a step of its own.
    for pair in entry.steps.windows(2) {
        assert!(
            (pair[0].step, &pair[0].state, &pair[0].message)
                != (pair[1].step, &pair[1].state, &pair[1].message),
            "a step recorded twice: {:#?}",
            entry.steps
        );
    }
    assert!(entry.finished && entry.state == "succeeded");
    assert_eq!(engine.verify_audit().await.unwrap().first_broken, None);
    assert_eq!(sandbox.actions_received(), 1);
}

#[tokio::test]
async fn a_source_reached_over_plain_http_elsewhere_acts_only_when_allowed() {
    let (_sandbox, demo) = demo_with("rollout=1s").await;
    let mut config = demo.config().clone();
    let argocd = config
        .sources
        .iter_mut()
        .find(|s| s.name == "argocd")
        .unwrap();
    // Not this machine: the token would cross the network in clear.
    argocd.url = Some("http://argocd.internal.example:8080".into());
    let engine = demo.reconfigured(config.clone(), crate::util::secrets_with(TOKEN));
    let plan = engine
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    let insecure = plan
        .blockers
        .iter()
        .find(|b| b.kind == BlockerKind::Insecure)
        .unwrap_or_else(|| panic!("{:?}", plan.blockers));
    assert!(
        insecure.message.contains("allow_insecure = true"),
        "{}",
        insecure.message
    );
    let warned = engine.sources().await.unwrap();
    let warning = warned
        .iter()
        .find(|s| s.name == "argocd")
        .and_then(|s| s.warning.as_deref())
        .unwrap();
    assert!(warning.contains("over plain http://"), "{warning}");

    let argocd = config
        .sources
        .iter_mut()
        .find(|s| s.name == "argocd")
        .unwrap();
    argocd.allow_insecure = true;
    let allowed = demo.reconfigured(config, crate::util::secrets_with(TOKEN));
    let plan = allowed
        .plan_rollback("checkout-api", "prod", None)
        .await
        .unwrap();
    assert!(
        !plan
            .blockers
            .iter()
            .any(|b| b.kind == BlockerKind::Insecure),
        "{:?}",
        plan.blockers
    );
}
