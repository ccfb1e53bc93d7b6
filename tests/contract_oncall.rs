//! The sandbox's PagerDuty and Alertmanager serve what the official contracts say: every page
//! of every list Opsdeck reads against the PagerDuty OpenAPI 3 response schema of its path,
//! errors against PagerDuty's error schema, and Alertmanager's alerts and silences against its
//! Swagger definitions.

use opsdeck_sandbox::{Seed, ALERTMANAGER_PREFIX, PAGERDUTY_PREFIX};
use serde_json::{json, Value};

use crate::util::{
    openapi_validator as validator, read, sandbox, schema_errors, spec_json, specs_dir,
    specs_present, without_nullable, TOKEN,
};

fn pagerduty_doc() -> Value {
    let mut doc = spec_json("pagerduty/openapiv3.json");
    without_nullable(&mut doc["components"]);
    doc
}

async fn pagerduty_get(url: &str, token: Option<&str>) -> (u16, String, Value) {
    let request = reqwest::Client::new()
        .get(url)
        .header("Accept", "application/vnd.pagerduty+json;version=2");
    read(match token {
        Some(t) => request.header("Authorization", format!("Token token={t}")),
        None => request,
    })
    .await
}

#[tokio::test]
async fn every_pagerduty_page_matches_the_openapi_response_schema() {
    if !specs_present() {
        return;
    }
    let doc = pagerduty_doc();
    let components = &doc["components"];
    let sandbox = sandbox(Seed::Demo).await;
    let base = format!("{}{PAGERDUTY_PREFIX}", sandbox.url());
    let since = chrono::Utc::now().to_rfc3339();
    let until = (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339();
    // (path, the list's key, query)
    type Read<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let week_ago = (chrono::Utc::now() - chrono::Duration::days(7)).to_rfc3339();
    let reads: [Read; 7] = [
        (
            "/services",
            "services",
            vec![("include[]", "escalation_policies")],
        ),
        ("/escalation_policies", "escalation_policies", vec![]),
        ("/schedules", "schedules", vec![]),
        ("/users", "users", vec![("include[]", "contact_methods")]),
        (
            "/oncalls",
            "oncalls",
            vec![
                ("include[]", "users"),
                ("since", &since),
                ("until", &until),
                ("earliest", "true"),
            ],
        ),
        (
            "/incidents",
            "incidents",
            vec![
                ("statuses[]", "triggered"),
                ("statuses[]", "acknowledged"),
                ("statuses[]", "resolved"),
                ("date_range", "all"),
            ],
        ),
        (
            "/change_events",
            "change_events",
            vec![("since", &week_ago), ("until", &since)],
        ),
    ];
    for (path, key, query) in reads {
        let schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]
            .clone();
        let page_schema = validator(components, schema);
        let (mut offset, mut pages, mut items) = (0, 0, 0);
        loop {
            let mut url = reqwest::Url::parse(&format!("{base}{path}")).unwrap();
            url.query_pairs_mut()
                .extend_pairs(&query)
                .append_pair("limit", "10")
                .append_pair("offset", &offset.to_string())
                .append_pair("total", "true");
            let (status, content_type, page) = pagerduty_get(url.as_str(), Some(TOKEN)).await;
            assert_eq!(status, 200, "{url}: {page}");
            assert_eq!(content_type, "application/json; charset=utf-8");
            assert_eq!(
                schema_errors(&page_schema, &page),
                Vec::<String>::new(),
                "{path} page {pages}"
            );
            assert_eq!(page["offset"], offset, "{path}: offset is echoed");
            assert_eq!(page["limit"], 10, "{path}: limit is echoed");
            let got = page[key].as_array().unwrap().len();
            items += got;
            pages += 1;
            if page["more"] != json!(true) {
                assert_eq!(
                    page["total"].as_u64().unwrap() as usize,
                    items,
                    "{path}: total"
                );
                break;
            }
            offset += got;
        }
        assert!(items > 0, "{path} serves the demo organisation");
        if matches!(path, "/services" | "/users" | "/oncalls") {
            assert!(
                pages > 1,
                "{path} spans several pages of 10 ({items} items)"
            );
        }
    }
}

#[tokio::test]
async fn pagerduty_errors_have_pagerdutys_error_shape() {
    if !specs_present() {
        return;
    }
    let doc = pagerduty_doc();
    let components = &doc["components"];
    let error_schema = validator(
        components,
        json!({"$ref": "#/components/responses/Unauthorized/content/application~1json/schema"}),
    );
    let sandbox = sandbox(Seed::Demo).await;
    let base = format!("{}{PAGERDUTY_PREFIX}", sandbox.url());

    for token in [None, Some("wrong")] {
        let (status, _, body) = pagerduty_get(&format!("{base}/incidents"), token).await;
        assert_eq!(status, 401);
        assert_eq!(schema_errors(&error_schema, &body), Vec::<String>::new());
        assert_eq!(body["error"]["code"], 2006);
    }
    let (status, _, body) = pagerduty_get(
        &format!("{base}/services?offset=9990&limit=100"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 400, "classic pagination stops at 10,000");
    assert_eq!(schema_errors(&error_schema, &body), Vec::<String>::new());
    let (status, _, body) =
        pagerduty_get(&format!("{base}/incidents?statuses[]=open"), Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 2001);
}

#[tokio::test]
async fn the_demo_night_follows_the_story() {
    if !specs_present() {
        return;
    }
    let sandbox = sandbox(Seed::Demo).await;
    let base = format!("{}{PAGERDUTY_PREFIX}", sandbox.url());
    let now = chrono::Utc::now().to_rfc3339();
    let mut url = reqwest::Url::parse(&format!("{base}/oncalls")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("include[]", "users"),
        ("since", &now),
        ("until", &now),
        ("limit", "100"),
    ]);
    let (_, _, page) = pagerduty_get(url.as_str(), Some(TOKEN)).await;
    let checkout_level_1: Vec<&Value> = page["oncalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["escalation_policy"]["summary"] == "Checkout escalation" && o["escalation_level"] == 1
        })
        .collect();
    assert_eq!(checkout_level_1.len(), 1);
    assert_eq!(
        checkout_level_1[0]["user"]["email"],
        "dana@demo.opsdeck.dev"
    );

    let (_, _, page) = pagerduty_get(
        &format!("{base}/incidents?statuses[]=triggered&date_range=all"),
        Some(TOKEN),
    )
    .await;
    let triggered = page["incidents"].as_array().unwrap();
    assert_eq!(triggered.len(), 1);
    assert_eq!(triggered[0]["title"], "Checkout error rate above 5%");
    assert_eq!(triggered[0]["urgency"], "high");
    assert_eq!(triggered[0]["service"]["summary"], "checkout-api");
    let (_, _, page) = pagerduty_get(
        &format!("{base}/incidents?statuses[]=acknowledged&date_range=all"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(page["incidents"].as_array().unwrap().len(), 1);
    let (_, _, page) = pagerduty_get(
        &format!("{base}/incidents?statuses[]=resolved"),
        Some(TOKEN),
    )
    .await;
    assert!(page["incidents"].as_array().unwrap().len() >= 3);

    let alerts: Value = reqwest::get(format!(
        "{}{ALERTMANAGER_PREFIX}/api/v2/alerts",
        sandbox.url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let alerts = alerts.as_array().unwrap();
    let high = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "HighErrorRate")
        .unwrap();
    assert_eq!(high["labels"]["service"], "checkout-api");
    assert_eq!(high["status"]["state"], "active");
    assert!(high["annotations"]["runbook_url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let silenced: Vec<_> = alerts
        .iter()
        .filter(|a| !a["status"]["silencedBy"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(silenced.len(), 1);
    let with_runbooks = alerts
        .iter()
        .filter(|a| a["status"]["state"] == "active" && a["annotations"]["runbook_url"].is_string())
        .count();
    assert!(
        with_runbooks >= 4,
        "a handful of firing alerts with runbooks"
    );
}

fn alertmanager_definitions() -> Value {
    let path = specs_dir().join("alertmanager/openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_norway::from_str(&text).unwrap();
    doc["definitions"].clone()
}

#[tokio::test]
async fn alertmanager_answers_match_its_swagger_definitions() {
    if !specs_present() {
        return;
    }
    let definitions = alertmanager_definitions();
    let check = |name: &str| {
        jsonschema::options()
            .build(&json!({"definitions": definitions, "$ref": format!("#/definitions/{name}")}))
            .unwrap()
    };
    let sandbox = sandbox(Seed::Demo).await;
    let base = format!("{}{ALERTMANAGER_PREFIX}/api/v2", sandbox.url());
    for (path, definition) in [
        ("/alerts", "gettableAlerts"),
        ("/silences", "gettableSilences"),
    ] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert!(
            !body.as_array().unwrap().is_empty(),
            "{path} serves the demo night"
        );
        assert_eq!(
            schema_errors(&check(definition), &body),
            Vec::<String>::new(),
            "{path}"
        );
    }
    // The filters Alertmanager documents: states and matchers.
    let quiet: Vec<Value> = reqwest::get(format!("{base}/alerts?silenced=false&inhibited=false"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(quiet.iter().all(|a| a["status"]["state"] == "active"));
    let one: Vec<Value> = reqwest::get(format!(
        "{base}/alerts?filter=alertname%3D%22HighErrorRate%22"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(one.len(), 1);
}
