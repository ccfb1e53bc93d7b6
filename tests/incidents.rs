//! The incident view and the on-call engineer's actions against the sandbox, through the real
//! PagerDuty, Alertmanager and Argo CD connectors: the demo's suspects ranked, each action to
//! its end, every refusal (403, 404, a state the platform no longer holds) called once and
//! audited, a lost answer found again by reading, never by sending twice.

use opsdeck::api::{ActionProgress, ActionRequest, ActionState, Reassignee};
use opsdeck::domain::actions::ActionKind;
use opsdeck::domain::alerts::AlertState;
use opsdeck::domain::oncall::IncidentStatus;
use opsdeck::domain::suspects::{ChangeKind, SuspectTier};
use opsdeck::{Engine, StartedAction};
use opsdeck_sandbox::{ActionsSpec, DEMO_ROLLBACK_FROM};

use crate::util::{demo_with, TOKEN};

/// The demo's triggered incident on checkout-api.
const DEMO_INCIDENT: &str = "#3100";

async fn run(engine: &Engine, request: ActionRequest) -> ActionProgress {
    let plan = engine.plan_action(&request).await.unwrap();
    assert!(plan.blocker.is_none(), "{:?}", plan.blocker);
    match engine.start_action(&plan.key).await.unwrap() {
        StartedAction::Running(run) => engine.track_action(run, &|_| {}).await.unwrap(),
        StartedAction::AlreadyConfirmed(p) => panic!("not started: {p:?}"),
    }
}

#[tokio::test]
async fn the_demo_incident_puts_checkout_apis_deploy_first_and_the_payments_config_change_lower() {
    let (_sandbox, engine) = demo_with("rollout=1s").await;
    let view = engine.incident(DEMO_INCIDENT).await.unwrap();
    assert_eq!(view.incident.title, "Checkout error rate above 5%");
    assert_eq!(view.service.as_ref().unwrap().name, "checkout-api");
    assert_eq!(view.owner.as_ref().unwrap().name, "checkout");
    assert_eq!(view.tier.as_deref(), Some("1"));
    let top = &view.suspects[0];
    assert_eq!(top.suspect.change.service, "checkout-api");
    assert_eq!(top.suspect.change.version, DEMO_ROLLBACK_FROM);
    assert_eq!(top.suspect.change.environment.as_deref(), Some("prod"));
    assert_eq!(top.suspect.tier, SuspectTier::ServiceInProduction);
    assert!(
        top.suspect.seconds_before > 0 && top.when.ends_with("before"),
        "{}",
        top.when
    );
    assert!(top.can_roll_back);
    assert!(
        !top.commits.is_empty(),
        "the commits it brought, from the cache"
    );
    let event = view
        .suspects
        .iter()
        .position(|s| s.suspect.change.kind == ChangeKind::ChangeEvent)
        .expect("PagerDuty's change event on payments-gateway");
    assert!(event > 0);
    assert_eq!(
        view.suspects[event].suspect.change.service,
        "payments-gateway"
    );
    assert_eq!(
        view.suspects[event].suspect.tier,
        SuspectTier::DependencyInProduction
    );
    // Ranked as the rule says: tiers never go backwards.
    assert!(view
        .suspects
        .windows(2)
        .all(|w| w[0].suspect.tier <= w[1].suspect.tier));
    assert!(view
        .ranking_rule
        .contains("this service in production first"));

    let policy = view.policy.as_ref().expect("who is on call on its policy");
    assert_eq!(policy.levels.len(), 2);
    assert!(view.me_on_call, "the demo identity holds level 1");
    assert!(view
        .alerts
        .iter()
        .any(|a| a.alert.name == "HighErrorRate" && a.alert.runbook_url.is_some()));
    assert!(view
        .neighbours
        .iter()
        .any(|n| n.upstream && n.entity.name == "payments-gateway"));
    assert!(view
        .neighbours
        .iter()
        .any(|n| !n.upstream && n.entity.name == "checkout-web"));
    // Found by its id as by its number, and from the palette by number and by title.
    let by_id = engine.incident(&view.incident.id).await.unwrap();
    assert_eq!(by_id.incident.number, view.incident.number);
    for text in ["3100", "#3100", "error rate"] {
        let hits = engine.search(text, 10).await.unwrap();
        assert_eq!(hits[0].kind, "incident", "{text}: {hits:?}");
        assert_eq!(hits[0].key, view.incident.id);
    }
    let missing = engine.incident("#999999").await.unwrap_err().to_string();
    assert!(missing.contains("no incident '#999999'"), "{missing}");
}

#[tokio::test]
async fn each_incident_action_is_sent_once_confirmed_by_pagerduty_and_audited() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let id = engine.incident(DEMO_INCIDENT).await.unwrap().incident.id;
    let incident = || ActionRequest::Acknowledge {
        incident: id.clone(),
    };

    let plan = engine.plan_action(&incident()).await.unwrap();
    assert_eq!(plan.call.method, "PUT");
    assert!(plan
        .call
        .url
        .ends_with(&format!("/pagerduty/incidents/{id}")));
    assert!(plan.call.body.contains("\"acknowledged\""));
    assert_eq!(sandbox.actions_received(), 0, "planning changes nothing");
    let end = run(&engine, incident()).await;
    assert_eq!(end.state, ActionState::Done, "{}", end.message);
    assert_eq!(sandbox.actions_received(), 1);
    let view = engine.incident(&id).await.unwrap();
    assert_eq!(
        view.incident.status,
        IncidentStatus::Acknowledged,
        "synced after"
    );
    // A second acknowledgement is refused before any call: nothing to do.
    let again = engine.plan_action(&incident()).await.unwrap();
    assert!(again.blocker.unwrap().contains("acknowledged already"));
    assert!(engine.start_action(&again.key).await.is_err());
    assert_eq!(sandbox.actions_received(), 1);

    let note = run(
        &engine,
        ActionRequest::Note {
            incident: id.clone(),
            text: "Rolled back v2.14.0, watching the error rate".into(),
        },
    )
    .await;
    assert_eq!(note.state, ActionState::Done, "{}", note.message);
    let to = engine.reassignee("level:2").await.unwrap();
    assert_eq!(to, Reassignee::Level { level: 2 });
    let reassigned = run(
        &engine,
        ActionRequest::Reassign {
            incident: id.clone(),
            to,
        },
    )
    .await;
    assert_eq!(
        reassigned.state,
        ActionState::Done,
        "{}",
        reassigned.message
    );
    let urgency = run(
        &engine,
        ActionRequest::Urgency {
            incident: id.clone(),
            urgency: "low".into(),
        },
    )
    .await;
    assert_eq!(urgency.state, ActionState::Done, "{}", urgency.message);
    let resolved = run(
        &engine,
        ActionRequest::Resolve {
            incident: id.clone(),
            resolution: Some("v2.14.0 rolled back".into()),
        },
    )
    .await;
    assert_eq!(resolved.state, ActionState::Done, "{}", resolved.message);
    assert_eq!(sandbox.actions_received(), 5, "one call each");

    let view = engine.incident(&id).await.unwrap();
    assert_eq!(view.incident.status, IncidentStatus::Resolved);
    assert_eq!(view.incident.urgency, "low");
    let kinds: Vec<ActionKind> = view.actions.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            ActionKind::IncidentResolve,
            ActionKind::IncidentUrgency,
            ActionKind::IncidentReassign,
            ActionKind::IncidentNote,
            ActionKind::IncidentAcknowledge,
        ],
        "every action on it, newest first"
    );
    assert!(view.actions.iter().all(|a| a.finished && a.state == "done"));
    assert!(view.actions.iter().all(|a| a.calls.len() == 1));
    let resolve_again = engine
        .plan_action(&ActionRequest::Resolve {
            incident: id,
            resolution: None,
        })
        .await
        .unwrap();
    assert!(resolve_again.blocker.unwrap().contains("resolved already"));
}

#[tokio::test]
async fn refusals_end_the_action_once_and_say_why() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let id = engine.incident(DEMO_INCIDENT).await.unwrap().incident.id;

    // 403: the token may read, not write.
    sandbox.set_actions("refuse=403".parse().unwrap());
    let end = run(
        &engine,
        ActionRequest::Acknowledge {
            incident: id.clone(),
        },
    )
    .await;
    assert_eq!(end.state, ActionState::Failed);
    assert!(
        end.message.contains("403") && end.message.contains("nothing was retried"),
        "{}",
        end.message
    );
    assert_eq!(sandbox.actions_received(), 1, "one call, no retry");
    sandbox.set_actions(ActionsSpec::default());

    // A state the platform holds no longer: resolved behind this cache's back.
    let other = crate::util::engine(engine.config().clone(), Some(TOKEN)).await;
    other.sync(None, &crate::util::no_progress).await.unwrap();
    let done = run(
        &other,
        ActionRequest::Resolve {
            incident: id.clone(),
            resolution: None,
        },
    )
    .await;
    assert_eq!(done.state, ActionState::Done);
    let before = sandbox.actions_received();
    let stale = run(
        &engine,
        ActionRequest::Resolve {
            incident: id.clone(),
            resolution: None,
        },
    )
    .await;
    assert_eq!(stale.state, ActionState::Failed);
    assert!(
        stale.message.contains("Incident Already Resolved"),
        "{}",
        stale.message
    );
    assert_eq!(sandbox.actions_received(), before + 1);

    // 404: the incident is not on the platform the config now names.
    let elsewhere = crate::util::sandbox(opsdeck_sandbox::Seed::Demo).await;
    let fresh = sandbox
        .trigger_incident("checkout-api", "Checkout latency above 2 s")
        .unwrap();
    engine
        .sync(Some("pagerduty"), &crate::util::no_progress)
        .await
        .unwrap();
    let moved = engine.reconfigured(
        crate::util::delivery_config(&elsewhere),
        crate::util::secrets_with(TOKEN),
    );
    let gone = run(
        &moved,
        ActionRequest::Acknowledge {
            incident: fresh.clone(),
        },
    )
    .await;
    assert_eq!(gone.state, ActionState::Failed);
    assert!(gone.message.contains("404"), "{}", gone.message);
    assert_eq!(elsewhere.actions_received(), 1);

    let audit = engine.audit(Some("checkout-api"), 20).await.unwrap();
    let failed: Vec<_> = audit.iter().filter(|e| e.state == "failed").collect();
    assert_eq!(failed.len(), 3, "{audit:?}");
    assert!(failed.iter().all(|e| e.finished));
}

#[tokio::test]
async fn without_a_token_or_an_identity_the_plan_says_what_to_set_and_nothing_is_sent() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let ack = ActionRequest::Acknowledge {
        incident: DEMO_INCIDENT.into(),
    };
    let tokenless = engine.reconfigured(engine.config().clone(), Default::default());
    let plan = tokenless.plan_action(&ack).await.unwrap();
    let blocker = plan.blocker.clone().unwrap();
    // With no keychain to ask (as here) or nothing in it, the same advice.
    assert!(
        blocker.contains("OPSDECK_SANDBOX_TOKEN") && blocker.contains("opsdeck login pagerduty"),
        "{blocker}"
    );
    assert!(tokenless.start_action(&plan.key).await.is_err());
    let mut anonymous = engine.config().clone();
    anonymous.identity.email = None;
    let nobody = engine.reconfigured(anonymous, crate::util::secrets_with(TOKEN));
    let blocker = nobody.plan_action(&ack).await.unwrap().blocker.unwrap();
    assert!(blocker.contains("[identity] email"), "{blocker}");
    assert_eq!(sandbox.actions_received(), 0);
}

#[tokio::test]
async fn a_lost_answer_is_found_again_by_reading_never_sent_twice() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let id = engine.incident(DEMO_INCIDENT).await.unwrap().incident.id;
    sandbox.set_actions("drop".parse().unwrap());
    let end = run(
        &engine,
        ActionRequest::Acknowledge {
            incident: id.clone(),
        },
    )
    .await;
    assert_eq!(end.state, ActionState::Done, "{}", end.message);
    assert_eq!(sandbox.actions_received(), 1);

    let alert = crate::util::high_error_rate(&engine).await;
    let silenced = run(
        &engine,
        ActionRequest::Silence {
            source: alert.source.clone(),
            fingerprint: alert.alert.fingerprint.clone(),
            seconds: 1800,
            comment: None,
            incident: Some(id),
        },
    )
    .await;
    assert_eq!(
        silenced.state,
        ActionState::Done,
        "found by its comment: {}",
        silenced.message
    );
    assert_eq!(sandbox.actions_received(), 2);
}

#[tokio::test]
async fn a_silence_mutes_the_alert_until_it_is_expired() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let alert = crate::util::high_error_rate(&engine).await;
    let request = ActionRequest::Silence {
        source: alert.source.clone(),
        fingerprint: alert.alert.fingerprint.clone(),
        seconds: 2 * 3600,
        comment: None,
        incident: Some(DEMO_INCIDENT.into()),
    };
    let plan = engine.plan_action(&request).await.unwrap();
    assert_eq!(plan.call.method, "POST");
    assert!(plan.call.url.ends_with("/alertmanager/api/v2/silences"));
    for label in ["alertname", "service", "severity", "env"] {
        assert!(
            plan.call.body.contains(&format!("\"name\":\"{label}\"")),
            "{}",
            plan.call.body
        );
    }
    assert!(plan
        .call
        .body
        .contains("incident #3100 Checkout error rate above 5%"));
    let end = run(&engine, request).await;
    assert_eq!(end.state, ActionState::Done, "{}", end.message);
    let row = crate::util::high_error_rate(&engine).await;
    assert_eq!(row.alert.state, AlertState::Silenced, "synced after");
    assert_eq!(row.silences.len(), 1);

    let silence = row.silences[0].id.clone();
    let expired = run(
        &engine,
        ActionRequest::ExpireSilence {
            source: None,
            id: silence.clone(),
        },
    )
    .await;
    assert_eq!(expired.state, ActionState::Done, "{}", expired.message);
    let row = crate::util::high_error_rate(&engine).await;
    assert_eq!(row.alert.state, AlertState::Firing);
    assert_eq!(sandbox.actions_received(), 2);

    let gone = engine
        .plan_action(&ActionRequest::ExpireSilence {
            source: None,
            id: silence,
        })
        .await
        .unwrap_err();
    assert!(gone.to_string().contains("may have expired"), "{gone}");
    let short = engine
        .plan_action(&ActionRequest::Silence {
            source: alert.source,
            fingerprint: alert.alert.fingerprint,
            seconds: 5,
            comment: None,
            incident: None,
        })
        .await
        .unwrap();
    assert!(short.blocker.unwrap().contains("a silence lasts from"));
}

/// Rolls `service` back in `environment`, consenting to automated sync going off.
async fn roll_back(engine: &Engine, service: &str, environment: &str) {
    let plan = engine
        .plan_rollback(service, environment, None)
        .await
        .unwrap();
    let confirmation = opsdeck::api::RollbackConfirmation {
        key: plan.key.clone(),
        disable_automated_sync: true,
        ..Default::default()
    };
    match engine.start_rollback(&confirmation).await.unwrap() {
        opsdeck::Started::Running(run) => {
            let end = engine.track_rollback(run, &|_| {}).await.unwrap();
            assert_eq!(
                end.state,
                opsdeck::domain::rollback::RollbackState::Succeeded,
                "{}",
                end.message
            );
        }
        opsdeck::Started::AlreadyConfirmed(_) => panic!("not started"),
    }
}

#[tokio::test]
async fn a_rollback_on_manual_sync_stands_out_of_sync_until_synced_to_git() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    roll_back(&engine, "checkout-api", "prod").await;
    let view = engine.incident(DEMO_INCIDENT).await.unwrap();
    let off = view
        .automated_sync_off
        .first()
        .expect("the standing notice");
    assert_eq!(
        (off.app.as_str(), off.environment.as_str()),
        ("checkout-api-prod", "prod")
    );
    assert!(!off.switched_off_by_rollback, "it was off before");
    assert_eq!(
        off.sync.as_deref(),
        Some("OutOfSync"),
        "Git still holds v2.14.0"
    );
    assert!(off.since.is_some() && off.by.is_some());
    assert!(view
        .suspects
        .iter()
        .any(|s| s.suspect.tier == SuspectTier::AfterStart
            && s.suspect.change.kind == ChangeKind::Rollback));
    let top = &view.suspects[0];
    assert_eq!(top.suspect.change.version, DEMO_ROLLBACK_FROM);
    let replaced = top.replaced_by.as_ref().expect("rolled back since");
    assert!(
        replaced.rollback && replaced.version == "v2.13.2",
        "{replaced:?}"
    );
    assert!(!top.can_roll_back, "nothing of it runs there to roll back");

    let before = sandbox.actions_received();
    let synced = run(
        &engine,
        ActionRequest::ArgocdSync {
            service: "checkout-api".into(),
            environment: "prod".into(),
        },
    )
    .await;
    assert_eq!(synced.state, ActionState::Done, "{}", synced.message);
    assert_eq!(sandbox.actions_received(), before + 1);
    let view = engine.incident(DEMO_INCIDENT).await.unwrap();
    assert!(
        view.automated_sync_off.is_empty(),
        "synced to Git: nothing stands"
    );

    let auto = ActionRequest::ArgocdAutoSync {
        service: "checkout-api".into(),
        environment: "prod".into(),
    };
    let plan = engine.plan_action(&auto).await.unwrap();
    assert!(
        plan.warnings[0].contains("deploys what Git says"),
        "{:?}",
        plan.warnings
    );
    assert_eq!(plan.call.method, "PATCH");
    let end = run(&engine, auto.clone()).await;
    assert_eq!(end.state, ActionState::Done, "{}", end.message);
    let again = engine.plan_action(&auto).await.unwrap();
    assert!(again.blocker.unwrap().contains("on already"));
}

#[tokio::test]
async fn automated_sync_switched_off_by_a_rollback_stands_until_it_is_back_on() {
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let id = sandbox
        .trigger_incident("cart-service", "Cart writes failing")
        .unwrap();
    engine
        .sync(Some("pagerduty"), &crate::util::no_progress)
        .await
        .unwrap();
    roll_back(&engine, "cart-service", "prod").await;
    let off = engine.incident(&id).await.unwrap().automated_sync_off;
    assert_eq!(off.len(), 1, "{off:?}");
    assert!(off[0].switched_off_by_rollback);
    let synced = run(
        &engine,
        ActionRequest::ArgocdSync {
            service: "cart-service".into(),
            environment: "prod".into(),
        },
    )
    .await;
    assert_eq!(synced.state, ActionState::Done, "{}", synced.message);
    let off = engine.incident(&id).await.unwrap().automated_sync_off;
    assert_eq!(off.len(), 1, "synced, but still not automated");
    assert_eq!(off[0].sync.as_deref(), Some("Synced"));
    let on = run(
        &engine,
        ActionRequest::ArgocdAutoSync {
            service: "cart-service".into(),
            environment: "prod".into(),
        },
    )
    .await;
    assert_eq!(on.state, ActionState::Done, "{}", on.message);
    assert!(engine
        .incident(&id)
        .await
        .unwrap()
        .automated_sync_off
        .is_empty());
}
