//! The sandbox serves what the official contracts say: every page of `by-query` and every
//! answer of `by-refs` against the catalog OpenAPI, every entity against Backstage's JSON
//! schemas for its kind, and errors shaped like the responses recorded from a real backend.

use jsonschema::{Registry, Validator};
use opsdeck_sandbox::Seed;
use serde_json::{json, Value};

use crate::util::{read, sandbox, schema_errors, spec_json, specs_dir, specs_present, TOKEN};

const SCHEMA_BASE: &str = "https://backstage.io/schemas/";

/// Backstage's entity schemas, registered by `$id` so their relative `$ref`s resolve.
fn entity_schemas() -> Registry<'static> {
    let dir = specs_dir().join("backstage/catalog-model-schema");
    let mut files = vec![
        dir.join("Entity.schema.json"),
        dir.join("EntityEnvelope.schema.json"),
        dir.join("EntityMeta.schema.json"),
        dir.join("shared/common.schema.json"),
    ];
    files.extend(
        std::fs::read_dir(dir.join("kinds"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json")),
    );
    let resources: Vec<(String, Value)> = files
        .into_iter()
        .map(|path| {
            let schema: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let id = schema["$id"]
                .as_str()
                .unwrap_or_else(|| panic!("{} has no $id", path.display()));
            (format!("{SCHEMA_BASE}{id}"), schema)
        })
        .collect();
    Registry::new()
        .extend(resources)
        .unwrap()
        .prepare()
        .unwrap()
}

fn kind_validator(registry: &'static Registry<'static>, kind: &str) -> Validator {
    let id = match kind {
        "Component" => "ComponentV1alpha1",
        "System" => "SystemV1alpha1",
        "Domain" => "DomainV1alpha1",
        "API" => "ApiV1alpha1",
        "Resource" => "ResourceV1alpha1",
        "Group" => "GroupV1alpha1",
        "User" => "UserV1alpha1",
        "Location" => "LocationV1alpha1",
        other => panic!("the sandbox serves a kind without a schema: {other}"),
    };
    jsonschema::options()
        .with_registry(registry)
        .with_base_uri(SCHEMA_BASE)
        .build(&json!({"$ref": id}))
        .unwrap()
}

/// A validator for a response schema of the catalog OpenAPI document.
fn openapi_validator(schema_name: &str) -> Validator {
    let mut doc = spec_json("backstage/catalog-backend.openapi.json");
    let components = doc["components"].take();
    jsonschema::options()
        .build(&json!({"components": components, "$ref": format!("#/components/schemas/{schema_name}")}))
        .unwrap()
}

async fn get(url: &str, token: Option<&str>) -> (u16, String, Value) {
    let request = reqwest::Client::new().get(url);
    read(match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    })
    .await
}

#[tokio::test]
async fn every_page_and_every_entity_match_the_official_schemas() {
    if !specs_present() {
        return;
    }
    let registry: &'static Registry<'static> = Box::leak(Box::new(entity_schemas()));
    let page_schema = openapi_validator("EntitiesQueryResponse");
    let sandbox = sandbox(Seed::Demo).await;
    let mut url = format!(
        "{}/api/catalog/entities/by-query?limit=25&orderField=metadata.name,asc",
        sandbox.url()
    );
    let (mut pages, mut entities, mut kinds) = (0, 0, std::collections::BTreeSet::new());
    loop {
        let (status, content_type, page) = get(&url, Some(TOKEN)).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, "application/json; charset=utf-8");
        assert_eq!(
            schema_errors(&page_schema, &page),
            Vec::<String>::new(),
            "page {pages}"
        );
        for item in page["items"].as_array().unwrap() {
            let kind = item["kind"].as_str().unwrap();
            let problems = schema_errors(&kind_validator(registry, kind), item);
            assert!(
                problems.is_empty(),
                "{} {}: {problems:?}",
                kind,
                item["metadata"]["name"]
            );
            kinds.insert(kind.to_string());
            entities += 1;
        }
        pages += 1;
        match page["pageInfo"]["nextCursor"].as_str() {
            Some(cursor) => {
                url = with_params(
                    &format!("{}/api/catalog/entities/by-query", sandbox.url()),
                    &[("cursor", cursor), ("limit", "25")],
                )
            }
            None => break,
        }
    }
    assert!(pages > 3, "the demo spans several pages of 25");
    assert_eq!(entities, opsdeck_sandbox::org::entities(Seed::Demo).len());
    for kind in [
        "Component",
        "Group",
        "User",
        "System",
        "Domain",
        "API",
        "Resource",
        "Location",
    ] {
        assert!(kinds.contains(kind), "the demo serves no {kind}");
    }
}

#[tokio::test]
async fn scale_seed_entities_match_the_schemas_too() {
    if !specs_present() {
        return;
    }
    let registry: &'static Registry<'static> = Box::leak(Box::new(entity_schemas()));
    let sandbox = sandbox(Seed::Scale(60)).await;
    let (_, _, page) = get(
        &format!("{}/api/catalog/entities/by-query?limit=500", sandbox.url()),
        Some(TOKEN),
    )
    .await;
    for item in page["items"].as_array().unwrap() {
        let problems = schema_errors(
            &kind_validator(registry, item["kind"].as_str().unwrap()),
            item,
        );
        assert!(
            problems.is_empty(),
            "{}: {problems:?}",
            item["metadata"]["name"]
        );
    }
}

#[tokio::test]
async fn auth_errors_are_shaped_like_the_real_backend() {
    if !specs_present() {
        return;
    }
    let sandbox = sandbox(Seed::Demo).await;
    let error_schema = openapi_validator("Error");
    let url = format!("{}/api/catalog/entities/by-query?limit=1", sandbox.url());
    for (token, recorded) in [
        (None, "backstage/real-responses/unauthenticated-401.json"),
        (Some("wrong"), "backstage/real-responses/bad-token-401.json"),
    ] {
        let (status, _, body) = get(&url, token).await;
        assert_eq!(status, 401);
        assert_eq!(schema_errors(&error_schema, &body), Vec::<String>::new());
        let real = spec_json(recorded);
        assert_eq!(
            body["error"], real["error"],
            "error name and message as recorded"
        );
        assert_eq!(body["request"], real["request"], "request echo as recorded");
        assert_eq!(body["response"], real["response"]);
    }
}

#[tokio::test]
async fn by_name_finds_entities_and_404s_like_the_real_backend() {
    if !specs_present() {
        return;
    }
    let sandbox = sandbox(Seed::Demo).await;
    let by_name = |name: &str| {
        format!(
            "{}/api/catalog/entities/by-name/component/default/{name}",
            sandbox.url()
        )
    };
    let (status, _, body) = get(&by_name("checkout-api"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(body["metadata"]["name"], "checkout-api");
    let relations = body["relations"].as_array().unwrap();
    assert!(relations.contains(&json!({"type": "ownedBy", "targetRef": "group:default/checkout"})));
    assert!(relations
        .contains(&json!({"type": "dependencyOf", "targetRef": "component:default/checkout-web"})));

    let (status, _, body) = get(&by_name("does-not-exist"), Some(TOKEN)).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        spec_json("backstage/real-responses/entity-not-found-404.json")
    );
}

#[tokio::test]
async fn filters_fields_and_cursors_behave_as_recorded() {
    if !specs_present() {
        return;
    }
    let sandbox = sandbox(Seed::Scale(300)).await;
    let base = format!("{}/api/catalog/entities/by-query", sandbox.url());

    // Filter sets: conditions AND within a set, sets OR; values match case-insensitively.
    let (_, _, page) =
        get(&format!("{base}?filter=kind=Component,relations.ownedBy=group:default/TEAM-0001&filter=kind=group,metadata.name=team-0002"), Some(TOKEN)).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(page["totalItems"], items.len());
    assert!(items
        .iter()
        .all(|e| e["spec"]["owner"] == "team-0001" || e["metadata"]["name"] == "team-0002"));
    assert_eq!(items.iter().filter(|e| e["kind"] == "Group").count(), 1);
    assert_eq!(
        items.len(),
        300 / 15 + 1,
        "team-0001 owns every 15th of 300 services"
    );

    // `fields` prunes each entity to the named subtrees.
    let (_, _, page) = get(
        &format!("{base}?filter=kind=group&fields=kind,metadata.name&limit=2"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(page["items"][0].as_object().unwrap().len(), 2);
    assert_eq!(page["items"][0]["metadata"].as_object().unwrap().len(), 1);

    // The cursor carries the query but not `limit`: without it the page falls back to 200.
    let (_, _, first) = get(
        &format!("{base}?filter=kind=component&limit=10"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 10);
    let cursor = first["pageInfo"]["nextCursor"].as_str().unwrap();
    let (_, _, second) = get(&with_params(&base, &[("cursor", cursor)]), Some(TOKEN)).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 200);
    assert!(second["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"] == "Component"));
    assert!(second["pageInfo"]["prevCursor"].is_string());

    let (status, _, body) = get(&format!("{base}?cursor=not-a-cursor"), Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["name"], "InputError");
}

#[tokio::test]
async fn by_refs_answers_in_order_with_null_for_no_entity_like_the_real_backend() {
    if !specs_present() {
        return;
    }
    let registry: &'static Registry<'static> = Box::leak(Box::new(entity_schemas()));
    let batch_schema = openapi_validator("EntitiesBatchResponse");
    let error_schema = openapi_validator("Error");
    let sandbox = sandbox(Seed::Demo).await;
    let url = format!("{}/api/catalog/entities/by-refs", sandbox.url());
    let post = |body: Value| {
        read(
            reqwest::Client::new()
                .post(&url)
                .bearer_auth(TOKEN)
                .json(&body),
        )
    };

    // As recorded: two entities that exist (a ref's kind in any case) and one that does not.
    let recorded = spec_json("backstage/real-responses/entities-by-refs.json");
    let (status, content_type, body) = post(json!({"entityRefs": [
        "component:default/checkout-api", "Group:default/checkout", "component:default/does-not-exist"
    ]}))
    .await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/json; charset=utf-8")
    );
    assert_eq!(schema_errors(&batch_schema, &body), Vec::<String>::new());
    let shape = |answer: &Value| -> Vec<Option<Vec<String>>> {
        answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_object().map(|o| o.keys().cloned().collect()))
            .collect()
    };
    assert_eq!(
        shape(&body),
        shape(&recorded),
        "items in order, null where none"
    );
    assert_eq!(body["items"][0]["metadata"]["name"], "checkout-api");
    assert_eq!(body["items"][1]["kind"], "Group");
    for item in body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i.is_null())
    {
        let kind = item["kind"].as_str().unwrap();
        assert_eq!(
            schema_errors(&kind_validator(registry, kind), item),
            Vec::<String>::new()
        );
    }

    // `fields` prunes each entity, as on by-query.
    let (_, _, body) = post(json!({
        "entityRefs": ["component:default/checkout-api"],
        "fields": ["kind", "metadata.etag"]
    }))
    .await;
    assert_eq!(body["items"][0].as_object().unwrap().len(), 2);
    assert!(body["items"][0]["metadata"]["etag"].is_string());

    // A body without refs is the caller's error, shaped as Backstage's.
    let (status, _, body) = post(json!({"refs": []})).await;
    assert_eq!(status, 400);
    assert_eq!(schema_errors(&error_schema, &body), Vec::<String>::new());
    assert_eq!(body["error"]["name"], "InputError");
    assert_eq!(body["request"]["method"], "POST");
}

#[tokio::test]
async fn an_edited_catalog_changes_the_etags_of_what_it_touched_only() {
    let sandbox = sandbox(Seed::Demo).await;
    let etags = || async {
        let (_, _, page) = get(
            &format!(
                "{}/api/catalog/entities/by-query?fields=kind,metadata.name,metadata.etag&limit=1000",
                sandbox.url()
            ),
            Some(TOKEN),
        )
        .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    format!(
                        "{}/{}",
                        i["kind"].as_str().unwrap(),
                        i["metadata"]["name"].as_str().unwrap()
                    ),
                    i["metadata"]["etag"].as_str().unwrap().to_string(),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let moved = |before: &std::collections::BTreeMap<String, String>,
                 after: &std::collections::BTreeMap<String, String>| {
        before
            .keys()
            .filter(|k| before[*k] != after[*k])
            .cloned()
            .collect::<Vec<_>>()
    };
    let edit_checkout_api = |edit: fn(&mut opsdeck::domain::Entity)| {
        sandbox.edit_catalog(|files| {
            let (_, e) = files
                .iter_mut()
                .find(|(_, e)| e.metadata.name == "checkout-api")
                .unwrap();
            edit(e);
        })
    };
    let before = etags().await;
    edit_checkout_api(|e| e.metadata.description = Some("edited".into()));
    let described = etags().await;
    assert_eq!(moved(&before, &described), ["Component/checkout-api"]);
    edit_checkout_api(|e| e.spec["owner"] = json!("payments"));
    assert_eq!(
        moved(&described, &etags().await),
        ["Component/checkout-api", "Group/checkout", "Group/payments"],
        "the entity, and the owners its relation left and joined"
    );
}

fn with_params(base: &str, params: &[(&str, &str)]) -> String {
    reqwest::Url::parse_with_params(base, params)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn chaos_errors_and_rate_limits_are_shaped_like_the_backends() {
    if !specs_present() {
        return;
    }
    let sandbox = sandbox(Seed::Demo).await;
    let error_schema = openapi_validator("Error");
    let url = format!("{}/api/catalog/entities/by-query?limit=1", sandbox.url());

    sandbox.set_chaos("backstage:error_rate=1".parse().unwrap());
    let (status, content_type, body) = get(&url, Some(TOKEN)).await;
    assert!([500, 502, 503].contains(&status), "{status}");
    assert!(content_type.starts_with("application/json"));
    assert_eq!(schema_errors(&error_schema, &body), Vec::<String>::new());
    assert_eq!(body["response"]["statusCode"], status);
    assert_eq!(
        body["request"]["url"],
        "/api/catalog/entities/by-query?limit=1"
    );

    sandbox.set_chaos("rate_limit=1/min".parse().unwrap());
    let allowed = reqwest::Client::new()
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["ratelimit-limit"], "1");
    assert_eq!(allowed.headers()["ratelimit-remaining"], "0");
    let limited = reqwest::Client::new()
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(limited.headers()["ratelimit-remaining"], "0");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(schema_errors(&error_schema, &body), Vec::<String>::new());
    assert_eq!(body["response"]["statusCode"], 429);
}
