//! The sandbox's GitHub and Argo CD serve what the official contracts say: each GitHub answer
//! Opsdeck reads against the OpenAPI 3 response schema of its path (and its error schema), with
//! `Link` pagination and ETags; Argo CD's application list and watch stream against its Swagger
//! definitions.

use opsdeck_sandbox::{Seed, ARGOCD_PREFIX, GITHUB_PREFIX};
use serde_json::{json, Value};

use crate::util::{
    openapi_validator, read, sandbox, schema_errors, spec_json, specs_present, without_nullable,
    TOKEN,
};

fn github_doc() -> Value {
    let mut doc = spec_json("github/api.github.com.subset.json");
    without_nullable(&mut doc["components"]);
    doc
}

fn github_get(url: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .get(url)
        .header("Accept", "application/vnd.github+json")
        .bearer_auth(TOKEN)
}

#[tokio::test]
async fn every_github_answer_matches_the_openapi_response_schema() {
    if !specs_present() {
        return;
    }
    let doc = github_doc();
    let components = &doc["components"];
    let schema_of = |path: &str| {
        openapi_validator(
            components,
            doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
                .clone(),
        )
    };
    let sandbox = sandbox(Seed::Demo).await;
    let api = format!("{}{GITHUB_PREFIX}/repos/demo-org", sandbox.url());
    for repo in ["payments-gateway", "search-indexer", "checkout-api"] {
        let (status, _, deployments) = read(github_get(&format!(
            "{api}/{repo}/deployments?per_page=100"
        )))
        .await;
        let id = match repo {
            "checkout-api" => None,
            _ => Some(deployments[0]["id"].as_i64().unwrap()),
        };
        assert_eq!(status, 200);
        if id.is_some() {
            // The schema has teeth: a deployment without its commit is refused.
            let mut broken = deployments.clone();
            broken[0].as_object_mut().unwrap().remove("sha");
            assert!(
                !schema_errors(&schema_of("/repos/{owner}/{repo}/deployments"), &broken).is_empty()
            );
        }
        let reads = [
            (
                "/repos/{owner}/{repo}/deployments",
                format!("{api}/{repo}/deployments?per_page=100"),
            ),
            (
                "/repos/{owner}/{repo}/actions/runs",
                format!("{api}/{repo}/actions/runs?per_page=100"),
            ),
            (
                "/repos/{owner}/{repo}/releases",
                format!("{api}/{repo}/releases?per_page=100"),
            ),
        ];
        for (path, url) in reads {
            let (status, content_type, body) = read(github_get(&url)).await;
            assert_eq!(status, 200, "{url}");
            assert!(content_type.starts_with("application/json"), "{url}");
            assert_eq!(
                schema_errors(&schema_of(path), &body),
                Vec::<String>::new(),
                "{url}"
            );
        }
        if let Some(id) = id {
            let url = format!("{api}/{repo}/deployments/{id}/statuses");
            let (_, _, body) = read(github_get(&url)).await;
            assert!(!body.as_array().unwrap().is_empty());
            let path = "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses";
            assert_eq!(
                schema_errors(&schema_of(path), &body),
                Vec::<String>::new(),
                "{url}"
            );
        }
    }
    // Compare between two of checkout-api's deployed commits.
    let (_, _, runs) = read(github_get(&format!(
        "{api}/checkout-api/actions/runs?per_page=100"
    )))
    .await;
    let shas: Vec<&str> = runs["workflow_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["head_sha"].as_str().unwrap())
        .collect();
    let (base, head) = (shas.last().unwrap(), shas[0]);
    let url = format!("{api}/checkout-api/compare/{base}...{head}");
    let (status, _, body) = read(github_get(&url)).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ahead");
    assert!(body["total_commits"].as_i64().unwrap() > 1);
    assert_eq!(
        schema_errors(
            &schema_of("/repos/{owner}/{repo}/compare/{basehead}"),
            &body
        ),
        Vec::<String>::new()
    );

    // Errors: a wrong token and a repository that does not exist, in GitHub's error shape.
    let basic_error = openapi_validator(
        components,
        json!({"$ref": "#/components/schemas/basic-error"}),
    );
    let (status, _, body) = read(
        reqwest::Client::new()
            .get(format!("{api}/payments-gateway/deployments"))
            .bearer_auth("wrong"),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Bad credentials"))
    );
    assert_eq!(schema_errors(&basic_error, &body), Vec::<String>::new());
    let (status, _, body) = read(github_get(&format!("{api}/no-such-repo/deployments"))).await;
    assert_eq!(status, 404);
    assert_eq!(schema_errors(&basic_error, &body), Vec::<String>::new());
}

#[tokio::test]
async fn github_pages_link_onwards_and_unchanged_pages_answer_304() {
    if !specs_present() {
        return;
    }
    let sandbox = sandbox(Seed::Demo).await;
    let url = format!(
        "{}{GITHUB_PREFIX}/repos/demo-org/payments-gateway/deployments?per_page=10",
        sandbox.url()
    );
    let first = github_get(&url).send().await.unwrap();
    let link = first.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("per_page=10&page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("rel=\"last\""), "{link}");
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let remaining = |r: &reqwest::Response| -> i64 {
        r.headers()["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = remaining(&first);
    let next = link
        .split(',')
        .next()
        .unwrap()
        .trim()
        .trim_start_matches('<');
    let next = &next[..next.find('>').unwrap()];
    let second: Value = github_get(next).send().await.unwrap().json().await.unwrap();
    assert_eq!(second.as_array().unwrap().len(), 10);
    let again = github_get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(
        remaining(&again),
        before - 1,
        "the second page counted, the 304 did not"
    );
}

#[tokio::test]
async fn argocd_applications_match_the_swagger_definitions() {
    if !specs_present() {
        return;
    }
    let spec = spec_json("argocd/swagger.json");
    let check = |name: &str| spec_validator(&spec, name);
    let sandbox = sandbox(Seed::Demo).await;
    let base = format!("{}{ARGOCD_PREFIX}/api/v1/applications", sandbox.url());
    let get = |query: &[(&str, &str)]| {
        reqwest::Client::new()
            .get(&base)
            .query(query)
            .bearer_auth(TOKEN)
    };
    let (status, _, list) = read(get(&[("selector", "app.kubernetes.io/name=checkout-api")])).await;
    assert_eq!(status, 200);
    assert_eq!(
        schema_errors(&check("v1alpha1ApplicationList"), &list),
        Vec::<String>::new()
    );
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "beta, gamma and prod");
    let prod = items
        .iter()
        .find(|a| a["metadata"]["labels"]["environment"] == "prod")
        .unwrap();
    let history = prod["status"]["history"].as_array().unwrap();
    assert!(history.len() <= 10, "Argo CD keeps ten entries");
    assert_eq!(
        history.last().unwrap()["source"]["targetRevision"],
        "v2.14.0"
    );
    assert!(
        prod["spec"]["syncPolicy"].is_null(),
        "checkout-api syncs by hand"
    );
    let mut broken = list.clone();
    broken["items"][0]["status"]["history"][0]["id"] = json!("seven");
    assert!(!schema_errors(&check("v1alpha1ApplicationList"), &broken).is_empty());

    let (_, _, cart) = read(get(&[("name", "cart-service")])).await;
    let cart = &cart["items"][0];
    assert!(cart["spec"]["syncPolicy"]["automated"].is_object());
    assert_eq!(
        schema_errors(&check("v1alpha1Application"), cart),
        Vec::<String>::new()
    );

    let (status, _, error) = read(reqwest::Client::new().get(&base).bearer_auth("wrong")).await;
    assert_eq!(status, 401);
    assert_eq!(
        schema_errors(&check("runtimeError"), &error),
        Vec::<String>::new()
    );
    let (status, _, error) = read(get(&[("selector", "no equals sign")])).await;
    assert_eq!(status, 400);
    assert_eq!(
        schema_errors(&check("runtimeError"), &error),
        Vec::<String>::new()
    );
}

/// The next line of a held stream.
async fn next_line(stream: &mut reqwest::Response, buffer: &mut Vec<u8>) -> Value {
    loop {
        if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            return serde_json::from_slice(&line).unwrap();
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("a line within 10 s")
            .unwrap()
            .expect("the stream is held open");
        buffer.extend_from_slice(&chunk);
    }
}

#[tokio::test]
async fn argocd_watch_stream_lines_match_the_swagger_stream_result() {
    if !specs_present() {
        return;
    }
    let spec = spec_json("argocd/swagger.json");
    let mut result =
        spec["paths"]["/api/v1/stream/applications"]["get"]["responses"]["200"]["schema"].clone();
    result["definitions"] = spec["definitions"].clone();
    let stream_result = jsonschema::options().build(&result).unwrap();
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions("rollout=1s".parse().unwrap());
    let base = format!("{}{ARGOCD_PREFIX}/api/v1", sandbox.url());
    let watch = |query: &[(&str, &str)]| {
        reqwest::Client::new()
            .get(format!("{base}/stream/applications"))
            .query(query)
            .bearer_auth(TOKEN)
            .send()
    };

    // Without a resourceVersion, every matching application comes first, as ADDED.
    let mut named = watch(&[("name", "checkout-api-prod")]).await.unwrap();
    assert_eq!(named.status(), 200);
    let mut buffer = Vec::new();
    let added = next_line(&mut named, &mut buffer).await;
    assert_eq!(schema_errors(&stream_result, &added), Vec::<String>::new());
    assert_eq!(added["result"]["type"], "ADDED");
    let version: u64 = added["result"]["application"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // With one, changes only: a sync at Argo CD, then its end, each a newer version.
    let mut changes = watch(&[("resourceVersion", "0")]).await.unwrap();
    let synced = reqwest::Client::new()
        .post(format!("{base}/applications/checkout-api-prod/sync"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "checkout-api-prod"}))
        .send()
        .await
        .unwrap();
    assert_eq!(synced.status(), 200);
    let mut buffer = Vec::new();
    let mut versions = vec![version];
    for health in ["Progressing", "Healthy"] {
        let modified = next_line(&mut changes, &mut buffer).await;
        assert_eq!(
            schema_errors(&stream_result, &modified),
            Vec::<String>::new()
        );
        let application = &modified["result"]["application"];
        assert_eq!(modified["result"]["type"], "MODIFIED");
        assert_eq!(application["metadata"]["name"], "checkout-api-prod");
        assert_eq!(application["status"]["health"]["status"], health);
        versions.push(
            application["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        );
    }
    assert!(
        versions.is_sorted() && versions[0] < versions[1],
        "{versions:?}"
    );

    let (status, _, error) = read(
        reqwest::Client::new()
            .get(format!("{base}/stream/applications"))
            .bearer_auth("wrong"),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        schema_errors(&spec_validator(&spec, "runtimeError"), &error),
        Vec::<String>::new()
    );
}

fn spec_validator(spec: &Value, definition: &str) -> jsonschema::Validator {
    jsonschema::options()
        .build(&json!({"definitions": spec["definitions"], "$ref": format!("#/definitions/{definition}")}))
        .unwrap()
}
