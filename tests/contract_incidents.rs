//! The on-call actions speak the contracts both ways: what Opsdeck plans to send (PagerDuty's
//! incident update and note, Alertmanager's `postableSilence`, Argo CD's sync and patch)
//! against each spec's request schema, and what the sandbox answers against the response and
//! error schemas.

use opsdeck::api::{ActionRequest, Reassignee};
use opsdeck_sandbox::{Seed, ALERTMANAGER_PREFIX, ARGOCD_PREFIX, PAGERDUTY_PREFIX};
use serde_json::{json, Value};

use crate::util::{
    demo_with, openapi_validator, read, sandbox, schema_errors, spec_json, specs_dir,
    specs_present, without_nullable, TOKEN,
};

fn pagerduty_doc() -> Value {
    let mut doc = spec_json("pagerduty/openapiv3.json");
    without_nullable(&mut doc["components"]);
    doc
}

fn swagger(definitions: &Value, name: &str) -> jsonschema::Validator {
    jsonschema::options()
        .build(&json!({"definitions": definitions, "$ref": format!("#/definitions/{name}")}))
        .unwrap()
}

fn pagerduty(method: reqwest::Method, url: &str, from: Option<&str>) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new()
        .request(method, url)
        .header("Accept", "application/vnd.pagerduty+json;version=2")
        .header("Authorization", format!("Token token={TOKEN}"));
    match from {
        Some(from) => request.header("From", from),
        None => request,
    }
}

#[tokio::test]
async fn pagerduty_incident_updates_and_notes_match_the_openapi_schemas() {
    if !specs_present() {
        return;
    }
    let doc = pagerduty_doc();
    let components = &doc["components"];
    let schema = |path: &str, method: &str, part: &str| {
        let operation = &doc["paths"][path][method];
        let schema = match part {
            "request" => operation["requestBody"]["content"]["application/json"]["schema"].clone(),
            status => {
                operation["responses"][status]["content"]["application/json"]["schema"].clone()
            }
        };
        openapi_validator(components, schema)
    };
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let id = engine.incident("#3100").await.unwrap().incident.id;
    let one = "/incidents/{id}";
    let notes = "/incidents/{id}/notes";
    let from = engine.config().identity.email.clone().unwrap();

    // What Opsdeck plans to send, for each kind of update.
    let level = engine.reassignee("level:2").await.unwrap();
    let person = match engine.reassignee("Lena Fischer").await.unwrap() {
        Reassignee::User { id } => id,
        other => panic!("{other:?}"),
    };
    for request in [
        ActionRequest::Acknowledge {
            incident: id.clone(),
        },
        ActionRequest::Resolve {
            incident: id.clone(),
            resolution: Some("rolled back".into()),
        },
        ActionRequest::Reassign {
            incident: id.clone(),
            to: level,
        },
        ActionRequest::Reassign {
            incident: id.clone(),
            to: Reassignee::User { id: person },
        },
        ActionRequest::Urgency {
            incident: id.clone(),
            urgency: "low".into(),
        },
    ] {
        let plan = engine.plan_action(&request).await.unwrap();
        let body: Value = serde_json::from_str(&plan.call.body).unwrap();
        assert_eq!(
            schema_errors(&schema(one, "put", "request"), &body),
            Vec::<String>::new(),
            "{request:?}"
        );
    }
    let mut broken = json!({"incident": {"type": "incident_reference", "status": "fixed"}});
    assert!(!schema_errors(&schema(one, "put", "request"), &broken).is_empty());
    broken = json!({"incident": {"status": "resolved"}});
    assert!(
        !schema_errors(&schema(one, "put", "request"), &broken).is_empty(),
        "type is required"
    );
    let note = engine
        .plan_action(&ActionRequest::Note {
            incident: id.clone(),
            text: "watching".into(),
        })
        .await
        .unwrap();
    let note_body: Value = serde_json::from_str(&note.call.body).unwrap();
    assert_eq!(
        schema_errors(&schema(notes, "post", "request"), &note_body),
        Vec::<String>::new()
    );

    // What the sandbox answers.
    let base = format!("{}{PAGERDUTY_PREFIX}", sandbox.url());
    let url = format!("{base}/incidents/{id}");
    let (status, _, body) = read(pagerduty(reqwest::Method::GET, &url, None)).await;
    assert_eq!(status, 200);
    assert_eq!(
        schema_errors(&schema(one, "get", "200"), &body),
        Vec::<String>::new()
    );
    let ack = json!({"incident": {"type": "incident_reference", "status": "acknowledged"}});
    let (status, _, body) =
        read(pagerduty(reqwest::Method::PUT, &url, Some(&from)).json(&ack)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        schema_errors(&schema(one, "put", "200"), &body),
        Vec::<String>::new()
    );
    assert_eq!(body["incident"]["status"], "acknowledged");
    let (status, _, body) = read(
        pagerduty(reqwest::Method::POST, &format!("{url}/notes"), Some(&from)).json(&note_body),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        schema_errors(&schema(notes, "post", "200"), &body),
        Vec::<String>::new()
    );
    let (status, _, body) = read(pagerduty(
        reqwest::Method::GET,
        &format!("{url}/notes"),
        None,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        schema_errors(&schema(notes, "get", "200"), &body),
        Vec::<String>::new()
    );
    assert_eq!(body["notes"][0]["content"], "watching");

    // Refusals in PagerDuty's error shape: no From, an unknown incident, resolving twice.
    let error = openapi_validator(
        components,
        json!({"$ref": "#/components/responses/NotFound/content/application~1json/schema"}),
    );
    let resolve = json!({"incident": {"type": "incident_reference", "status": "resolved"}});
    let (status, _, body) = read(pagerduty(reqwest::Method::PUT, &url, None).json(&resolve)).await;
    assert_eq!(status, 400);
    assert_eq!(schema_errors(&error, &body), Vec::<String>::new());
    let (status, _, body) = read(
        pagerduty(
            reqwest::Method::PUT,
            &format!("{base}/incidents/PNOSUCH"),
            Some(&from),
        )
        .json(&resolve),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(schema_errors(&error, &body), Vec::<String>::new());
    let (status, _, _) =
        read(pagerduty(reqwest::Method::PUT, &url, Some(&from)).json(&resolve)).await;
    assert_eq!(status, 200);
    let (status, _, body) =
        read(pagerduty(reqwest::Method::PUT, &url, Some(&from)).json(&resolve)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["errors"][0], "Incident Already Resolved");

    // Change events, as the list Opsdeck reads.
    let (status, _, body) = read(pagerduty(
        reqwest::Method::GET,
        &format!("{base}/change_events?limit=10"),
        None,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        schema_errors(&schema("/change_events", "get", "200"), &body),
        Vec::<String>::new()
    );
    assert!(!body["change_events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn silences_match_alertmanagers_swagger_both_ways() {
    if !specs_present() {
        return;
    }
    let path = specs_dir().join("alertmanager/openapi.yaml");
    let doc: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let definitions = doc["definitions"].clone();
    let (sandbox, engine) = demo_with("rollout=1s").await;
    let alert = crate::util::high_error_rate(&engine).await;
    let plan = engine
        .plan_action(&ActionRequest::Silence {
            source: alert.source,
            fingerprint: alert.alert.fingerprint,
            seconds: 3600,
            comment: None,
            incident: Some("#3100".into()),
        })
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&plan.call.body).unwrap();
    assert_eq!(
        schema_errors(&swagger(&definitions, "postableSilence"), &body),
        Vec::<String>::new()
    );

    let base = format!("{}{ALERTMANAGER_PREFIX}/api/v2", sandbox.url());
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/silences"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["silenceID"]
        .as_str()
        .expect("silenceID, as the spec's 200 says")
        .to_string();
    let one = client
        .get(format!("{base}/silence/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let one: Value = one.json().await.unwrap();
    assert_eq!(
        schema_errors(&swagger(&definitions, "gettableSilence"), &one),
        Vec::<String>::new()
    );
    assert_eq!(one["status"]["state"], "active");
    assert_eq!(
        client
            .delete(format!("{base}/silence/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let one: Value = crate::util::get_json(&format!("{base}/silence/{id}")).await;
    assert_eq!(one["status"]["state"], "expired");
    assert_eq!(
        client
            .get(format!("{base}/silence/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let mut empty = body.clone();
    empty["matchers"] = json!([]);
    assert_eq!(
        client
            .post(format!("{base}/silences"))
            .json(&empty)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn argo_cd_sync_and_automated_sync_match_the_swagger() {
    if !specs_present() {
        return;
    }
    let definitions = spec_json("argocd/swagger.json")["definitions"].clone();
    let sandbox = sandbox(Seed::Demo).await;
    let (_, engine) = demo_with("rollout=1s").await;
    for (request, definition) in [
        (
            ActionRequest::ArgocdSync {
                service: "checkout-api".into(),
                environment: "prod".into(),
            },
            "applicationApplicationSyncRequest",
        ),
        (
            ActionRequest::ArgocdAutoSync {
                service: "checkout-api".into(),
                environment: "prod".into(),
            },
            "applicationApplicationPatchRequest",
        ),
    ] {
        let plan = engine.plan_action(&request).await.unwrap();
        let body: Value = serde_json::from_str(&plan.call.body).unwrap();
        assert_eq!(
            schema_errors(&swagger(&definitions, definition), &body),
            Vec::<String>::new(),
            "{definition}"
        );
    }
    let url = format!(
        "{}{ARGOCD_PREFIX}/api/v1/applications/checkout-api-prod/sync",
        sandbox.url()
    );
    let (status, _, app) = read(
        reqwest::Client::new()
            .post(url)
            .bearer_auth(TOKEN)
            .json(&json!({"name": "checkout-api-prod", "prune": false})),
    )
    .await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(
        schema_errors(&swagger(&definitions, "v1alpha1Application"), &app),
        Vec::<String>::new()
    );
    assert_eq!(app["status"]["operationState"]["phase"], "Running");
}
