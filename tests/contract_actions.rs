//! Actions speak the contracts both ways: what Opsdeck sends (the plan's calls, the change
//! event, a runbook's dispatch) against each spec's request schema, and what the sandbox
//! answers against its response and error schemas: GitHub deployments, dispatches and
//! repository contents, Argo CD's rollback and patch, PagerDuty's Events API v2.

use opsdeck::config::Config;
use opsdeck_sandbox::{Seed, ARGOCD_PREFIX, GITHUB_PREFIX, PAGERDUTY_EVENTS_PREFIX};
use serde_json::{json, Value};

use crate::util::{
    engine, no_progress, openapi_validator, read, sandbox, schema_errors, spec_json, specs_present,
    start_planned_rollback, without_nullable, TOKEN,
};

fn github_doc() -> Value {
    let mut doc = spec_json("github/api.github.com.subset.json");
    without_nullable(&mut doc["components"]);
    doc
}

fn argocd_schema(name: &str) -> jsonschema::Validator {
    let definitions = spec_json("argocd/swagger.json")["definitions"].clone();
    jsonschema::options()
        .build(&json!({"definitions": definitions, "$ref": format!("#/definitions/{name}")}))
        .unwrap()
}

fn github_post(url: &str, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("Accept", "application/vnd.github+json")
        .bearer_auth(TOKEN)
        .json(body)
}

#[tokio::test]
async fn github_actions_match_the_openapi_request_and_response_schemas() {
    if !specs_present() {
        return;
    }
    let doc = github_doc();
    let components = &doc["components"];
    let operation = |path: &str, method: &str| doc["paths"][path][method].clone();
    let request_schema = |path: &str| {
        openapi_validator(
            components,
            operation(path, "post")["requestBody"]["content"]["application/json"]["schema"].clone(),
        )
    };
    let response_schema = |path: &str, method: &str, status: &str| {
        openapi_validator(
            components,
            operation(path, method)["responses"][status]["content"]["application/json"]["schema"]
                .clone(),
        )
    };
    let sandbox = sandbox(Seed::Demo).await;
    let config = Config::parse(&sandbox.config_toml(), std::path::Path::new("t.toml")).unwrap();
    let engine = engine(config, Some(TOKEN)).await;
    engine.sync(None, &no_progress).await.unwrap();

    // What Opsdeck would send for payments-gateway and search-indexer, as planned.
    let deployments = "/repos/{owner}/{repo}/deployments";
    let deployment_plan = engine
        .plan_rollback("payments-gateway", "gamma", None)
        .await
        .unwrap();
    let deployment_body: Value = serde_json::from_str(&deployment_plan.calls[0].body).unwrap();
    assert_eq!(
        schema_errors(&request_schema(deployments), &deployment_body),
        Vec::<String>::new()
    );
    let mut broken = deployment_body.clone();
    broken["auto_merge"] = json!("no");
    assert!(!schema_errors(&request_schema(deployments), &broken).is_empty());
    let dispatches = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches";
    let workflow_plan = engine
        .plan_rollback("search-indexer", "prod", None)
        .await
        .unwrap();
    let dispatch_body: Value = serde_json::from_str(&workflow_plan.calls[0].body).unwrap();
    assert_eq!(
        schema_errors(&request_schema(dispatches), &dispatch_body),
        Vec::<String>::new()
    );

    // What the sandbox answers.
    let api = format!("{}{GITHUB_PREFIX}/repos/demo-org", sandbox.url());
    let (status, _, created) = read(github_post(
        &format!("{api}/payments-gateway/deployments"),
        &deployment_body,
    ))
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        schema_errors(&response_schema(deployments, "post", "201"), &created),
        Vec::<String>::new()
    );
    assert_eq!(created["payload"]["opsdeck_key"], deployment_plan.key);
    let (status, _, dispatched) = read(github_post(
        &format!("{api}/search-indexer/actions/workflows/rollback.yml/dispatches"),
        &dispatch_body,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        schema_errors(&response_schema(dispatches, "post", "200"), &dispatched),
        Vec::<String>::new()
    );
    let run_id = dispatched["workflow_run_id"].as_i64().unwrap();
    let get = |url: String| {
        reqwest::Client::new()
            .get(url)
            .header("Accept", "application/vnd.github+json")
            .bearer_auth(TOKEN)
    };
    let (status, _, run) = read(get(format!("{api}/search-indexer/actions/runs/{run_id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(run["event"], "workflow_dispatch");
    assert_eq!(run["status"], "in_progress");
    let one_run = response_schema("/repos/{owner}/{repo}/actions/runs/{run_id}", "get", "200");
    assert_eq!(schema_errors(&one_run, &run), Vec::<String>::new());
    let mut broken = run.clone();
    broken["id"] = json!("one");
    assert!(!schema_errors(&one_run, &broken).is_empty());
    let (status, _, runs) = read(get(format!(
        "{api}/search-indexer/actions/workflows/rollback.yml/runs?event=workflow_dispatch"
    )))
    .await;
    assert_eq!(status, 200);
    assert_eq!(runs["workflow_runs"][0]["id"], run_id);
    assert_eq!(
        schema_errors(
            &response_schema(
                "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
                "get",
                "200"
            ),
            &runs
        ),
        Vec::<String>::new()
    );

    // A ref GitHub does not know: 422 in its validation error shape; no such workflow: 404.
    let (status, _, invalid) = read(github_post(
        &format!("{api}/payments-gateway/deployments"),
        &json!({"ref": "no-such-ref", "environment": "gamma"}),
    ))
    .await;
    assert_eq!(status, 422);
    let validation = openapi_validator(
        components,
        json!({"$ref": "#/components/schemas/validation-error"}),
    );
    assert_eq!(schema_errors(&validation, &invalid), Vec::<String>::new());
    let (status, _, missing) = read(github_post(
        &format!("{api}/search-indexer/actions/workflows/nope.yml/dispatches"),
        &dispatch_body,
    ))
    .await;
    assert_eq!(status, 404);
    let basic = openapi_validator(
        components,
        json!({"$ref": "#/components/schemas/basic-error"}),
    );
    assert_eq!(schema_errors(&basic, &missing), Vec::<String>::new());
}

#[tokio::test]
async fn argocd_rollback_and_patch_match_the_swagger_definitions() {
    if !specs_present() {
        return;
    }
    let sandbox = sandbox(Seed::Demo).await;
    let config = Config::parse(&sandbox.config_toml(), std::path::Path::new("t.toml")).unwrap();
    let engine = engine(config, Some(TOKEN)).await;
    engine.sync(None, &no_progress).await.unwrap();
    let base = format!("{}{ARGOCD_PREFIX}/api/v1/applications", sandbox.url());

    let plan = engine
        .plan_rollback("cart-service", "prod", None)
        .await
        .unwrap();
    let patch: Value = serde_json::from_str(&plan.calls[0].body).unwrap();
    let rollback: Value = serde_json::from_str(&plan.calls[1].body).unwrap();
    let patch_request = argocd_schema("applicationApplicationPatchRequest");
    let rollback_request = argocd_schema("applicationApplicationRollbackRequest");
    assert_eq!(schema_errors(&patch_request, &patch), Vec::<String>::new());
    assert_eq!(
        schema_errors(&rollback_request, &rollback),
        Vec::<String>::new()
    );
    let mut broken = rollback.clone();
    broken["id"] = json!("three");
    assert!(!schema_errors(&rollback_request, &broken).is_empty());

    let client = reqwest::Client::new();
    let application = argocd_schema("v1alpha1Application");
    let runtime_error = argocd_schema("runtimeError");
    // Automated sync on: Argo CD refuses, in its error shape.
    let (status, _, refused) = read(
        client
            .post(format!("{base}/cart-service/rollback"))
            .bearer_auth(TOKEN)
            .json(&rollback),
    )
    .await;
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("auto-sync"));
    assert_eq!(
        schema_errors(&runtime_error, &refused),
        Vec::<String>::new()
    );
    let (status, _, patched) = read(
        client
            .patch(format!("{base}/cart-service"))
            .bearer_auth(TOKEN)
            .json(&patch),
    )
    .await;
    assert_eq!(status, 200);
    assert!(patched["spec"]["syncPolicy"].is_null());
    assert_eq!(schema_errors(&application, &patched), Vec::<String>::new());
    let (status, _, rolling) = read(
        client
            .post(format!("{base}/cart-service/rollback"))
            .bearer_auth(TOKEN)
            .json(&rollback),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(rolling["status"]["operationState"]["phase"], "Running");
    assert_eq!(rolling["status"]["health"]["status"], "Progressing");
    assert_eq!(schema_errors(&application, &rolling), Vec::<String>::new());
    let (status, _, one) = read(
        client
            .get(format!("{base}/cart-service"))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(schema_errors(&application, &one), Vec::<String>::new());
    let (status, _, unknown) = read(
        client
            .post(format!("{base}/cart-service/rollback"))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "cart-service", "id": 999_999})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        schema_errors(&runtime_error, &unknown),
        Vec::<String>::new()
    );
    let (status, _, missing) =
        read(client.get(format!("{base}/no-such-app")).bearer_auth(TOKEN)).await;
    assert_eq!(status, 404);
    assert_eq!(
        schema_errors(&runtime_error, &missing),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn change_events_match_the_events_api_schemas() {
    if !specs_present() {
        return;
    }
    let spec = spec_json("pagerduty/events-v2.openapiv3.json");
    let components = &spec["components"];
    let operation = &spec["paths"]["/change/enqueue"]["post"];
    let request = openapi_validator(
        components,
        operation["requestBody"]["content"]["application/json"]["schema"].clone(),
    );
    let success = openapi_validator(
        components,
        json!({"$ref": "#/components/responses/Success/content/application~1json/schema"}),
    );
    let error = openapi_validator(
        components,
        json!({"$ref": "#/components/responses/Error/content/application~1json/schema"}),
    );
    let sandbox = sandbox(Seed::Demo).await;
    let text = format!(
        "{}\n[rollback]\npoll_interval = \"100ms\"\n[runbooks]\npoll_interval = \"100ms\"\n",
        sandbox.config_toml()
    );
    sandbox.set_actions("rollout=1s".parse().unwrap());
    let config = Config::parse(&text, std::path::Path::new("t.toml")).unwrap();
    let engine = engine(config, Some(TOKEN)).await;
    engine.sync(None, &no_progress).await.unwrap();
    let (_, run) = start_planned_rollback(&engine, "checkout-api", "prod").await;
    engine.track_rollback(run, &|_| {}).await.unwrap();
    let sent = sandbox.change_events();
    assert_eq!(sent.len(), 1);
    assert_eq!(schema_errors(&request, &sent[0]), Vec::<String>::new());
    let mut broken = sent[0].clone();
    broken["payload"].as_object_mut().unwrap().remove("summary");
    assert!(!schema_errors(&request, &broken).is_empty());

    let url = format!(
        "{}{PAGERDUTY_EVENTS_PREFIX}/v2/change/enqueue",
        sandbox.url()
    );
    let client = reqwest::Client::new();
    let (status, _, accepted) = read(client.post(&url).json(&sent[0])).await;
    assert_eq!(status, 202);
    assert_eq!(schema_errors(&success, &accepted), Vec::<String>::new());
    assert!(!schema_errors(&success, &json!({"message": "no status"})).is_empty());
    let (status, _, refused) = read(client.post(&url).json(&broken)).await;
    assert_eq!(status, 400);
    assert_eq!(schema_errors(&error, &refused), Vec::<String>::new());
    assert!(!schema_errors(&error, &json!({"status": "invalid event"})).is_empty());
}

#[tokio::test]
async fn runbook_files_and_dispatches_match_the_openapi_schemas() {
    if !specs_present() {
        return;
    }
    let doc = github_doc();
    let components = &doc["components"];
    let contents = "/repos/{owner}/{repo}/contents/{path}";
    let answer = openapi_validator(
        components,
        doc["paths"][contents]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            .clone(),
    );
    let file = openapi_validator(
        components,
        json!({"$ref": "#/components/schemas/content-file"}),
    );
    let sandbox = sandbox(Seed::Demo).await;
    let api = format!(
        "{}{GITHUB_PREFIX}/repos/demo-org/checkout-api",
        sandbox.url()
    );
    let get = |url: String| {
        reqwest::Client::new()
            .get(url)
            .header("Accept", "application/vnd.github+json")
            .bearer_auth(TOKEN)
    };
    for path in [
        "docs/runbooks/high-error-rate.md",
        ".github/workflows/drain-region.yml",
        ".github/workflows/rollback.yml",
    ] {
        let (status, _, body) = read(get(format!("{api}/contents/{path}?ref=main"))).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            schema_errors(&answer, &body),
            Vec::<String>::new(),
            "{path}"
        );
        assert_eq!(schema_errors(&file, &body), Vec::<String>::new(), "{path}");
        assert_eq!(body["encoding"], "base64");
    }
    let (_, _, body) = read(get(format!(
        "{api}/contents/docs/runbooks/high-error-rate.md"
    )))
    .await;
    let mut broken = body.clone();
    broken.as_object_mut().unwrap().remove("sha");
    assert!(!schema_errors(&file, &broken).is_empty());
    let (status, _, missing) = read(get(format!("{api}/contents/docs/nope.md"))).await;
    assert_eq!(status, 404);
    let basic = openapi_validator(
        components,
        json!({"$ref": "#/components/schemas/basic-error"}),
    );
    assert_eq!(schema_errors(&basic, &missing), Vec::<String>::new());

    // A dispatch as Opsdeck sends it for an automated runbook, and GitHub's input checks.
    let dispatches = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches";
    let request = openapi_validator(
        components,
        doc["paths"][dispatches]["post"]["requestBody"]["content"]["application/json"]["schema"]
            .clone(),
    );
    let body = json!({"ref": "main", "return_run_details": true,
                      "inputs": {"region": "eu-west-1", "environment": "prod", "dry_run": "true", "percent": "100"}});
    assert_eq!(schema_errors(&request, &body), Vec::<String>::new());
    let url = format!("{api}/actions/workflows/drain-region.yml/dispatches");
    let (status, _, dispatched) = read(github_post(&url, &body)).await;
    assert_eq!(status, 200);
    assert!(dispatched["workflow_run_id"].is_i64());
    let (status, _, invalid) = read(github_post(
        &url,
        &json!({"ref": "main", "inputs": {"region": "mars"}}),
    ))
    .await;
    assert_eq!(status, 422);
    assert!(invalid["message"].as_str().unwrap().contains("region"));
    let validation = openapi_validator(
        components,
        json!({"$ref": "#/components/schemas/validation-error"}),
    );
    assert_eq!(schema_errors(&validation, &invalid), Vec::<String>::new());
}
