//! *Test connection* (`opsdeck sources check`): one cheap, read-only call per source, said in
//! words — what it found and whose token it is, or exactly what is wrong — and the sandbox's
//! answers to those calls against the platforms' contracts.

use opsdeck_sandbox::{Seed, ALERTMANAGER_PREFIX, ARGOCD_PREFIX, GITHUB_PREFIX, PAGERDUTY_PREFIX};
use serde_json::{json, Value};

use crate::util::{
    openapi_validator, sandbox, schema_errors, spec_json, specs_dir, specs_present,
    without_nullable, Workspace, TOKEN,
};

/// A directory of catalog files holding two components.
fn catalog_files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: one\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/a\n---\n\
         apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: two\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/a\n",
    )
    .unwrap();
    dir
}

fn by_source<'a>(checks: &'a Value, name: &str) -> &'a Value {
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == name)
        .unwrap_or_else(|| panic!("no check of {name}: {checks}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_source_says_what_it_found_and_whose_token_it_is() {
    let sandbox = sandbox(Seed::Demo).await;
    let files = catalog_files();
    let ws = Workspace::new(&format!(
        "{}\n[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n",
        sandbox.config_toml(),
        files.path().display()
    ));
    let checks = ws.json(&["sources", "check"]);
    let names: Vec<&str> = checks
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "catalog",
            "pagerduty",
            "alertmanager",
            "github",
            "argocd",
            "files"
        ],
        "in the config's order"
    );
    for check in checks.as_array().unwrap() {
        assert_eq!(check["ok"], true, "{check}");
        assert!(check["problem"].is_null(), "{check}");
    }
    let found = |name: &str| {
        by_source(&checks, name)["found"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        found("catalog").starts_with("a catalog of ") && found("catalog").ends_with(" entities"),
        "{}",
        found("catalog")
    );
    assert_eq!(
        found("pagerduty"),
        format!(
            "the personal token of Dana Whitfield <{}>",
            opsdeck_sandbox::DEMO_IDENTITY
        )
    );
    assert_eq!(
        by_source(&checks, "pagerduty")["signed_in_as"],
        json!({"name": "Dana Whitfield", "email": opsdeck_sandbox::DEMO_IDENTITY})
    );
    assert_eq!(found("alertmanager"), "Alertmanager 0.27.0, not clustered");
    assert!(
        found("github").starts_with("the token of Dana Whitfield (dana-whitfield), with ")
            && found("github").ends_with(" requests left this hour; scopes repo, workflow"),
        "{}",
        found("github")
    );
    assert_eq!(
        by_source(&checks, "github")["signed_in_as"],
        json!({"name": "Dana Whitfield (dana-whitfield)", "email": opsdeck_sandbox::DEMO_IDENTITY})
    );
    assert_eq!(found("argocd"), "signed in as opsdeck");
    assert_eq!(found("files"), "2 entities in 1 files");
    // One cheap call each (PagerDuty's user token needs no second; GitHub's user is a second,
    // GraphQL's `viewer`), and nothing cached.
    for name in ["catalog", "pagerduty", "alertmanager", "argocd"] {
        assert_eq!(by_source(&checks, name)["requests"], 1, "{name}");
    }
    assert_eq!(by_source(&checks, "github")["requests"], 2);
    let sources = ws.json(&["sources"]);
    assert!(
        sources
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["last_success"].is_null() && s["item_count"] == 0),
        "a check lands nothing: {sources}"
    );

    let one = ws.stdout(&["sources", "check", "argocd"]);
    assert_eq!(
        one.trim(),
        format!(
            "ok     argocd (argocd, {}{ARGOCD_PREFIX}): signed in as opsdeck",
            sandbox.url()
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_identity_a_platform_knows_the_token_by_is_offered_for_the_config() {
    let sandbox = sandbox(Seed::Demo).await;
    let identity = format!(
        "[identity]\nemail = \"{}\"\n",
        opsdeck_sandbox::DEMO_IDENTITY
    );
    let with = |replacement: &str| {
        let text = sandbox.config_toml();
        assert!(text.contains(&identity));
        let out = Workspace::new(&text.replace(&identity, replacement)).run(&[
            "sources",
            "check",
            "pagerduty",
        ]);
        assert!(out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    assert_eq!(with(&identity), "", "nothing to say when they agree");
    let unset = with("");
    assert!(
        unset.contains(&format!(
            "pagerduty knows your token as {0}: set [identity] email = \"{0}\"",
            opsdeck_sandbox::DEMO_IDENTITY
        )),
        "{unset}"
    );
    let other = with("[identity]\nemail = \"someone@else.example\"\n");
    assert!(
        other.contains("but [identity] email is someone@else.example"),
        "{other}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_wrong_connection_says_exactly_what_is_wrong_and_the_check_fails() {
    let sandbox = sandbox(Seed::Demo).await;
    let url = sandbox.url();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let ws = Workspace::new(&format!(
        "[[sources]]\nname = \"catalog\"\nkind = \"backstage\"\nurl = \"{url}\"\ntoken_env = \"OPSDECK_TEST_WRONG_TOKEN\"\n\n\
         [[sources]]\nname = \"pagerduty\"\nkind = \"pagerduty\"\nurl = \"{url}\"\ntoken_env = \"OPSDECK_SANDBOX_TOKEN\"\n\n\
         [[sources]]\nname = \"alertmanager\"\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:{closed}\"\ntimeout = \"2s\"\n\n\
         [[sources]]\nname = \"github\"\nkind = \"github\"\nurl = \"{url}{GITHUB_PREFIX}\"\n\n\
         [[sources]]\nname = \"argocd\"\nkind = \"argocd\"\nurl = \"{url}{ARGOCD_PREFIX}\"\ntoken_env = \"OPSDECK_TEST_WRONG_TOKEN\"\n\n\
         [[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"/nonexistent/catalog\"\n"
    ));
    let out = crate::util::opsdeck()
        .arg("--config")
        .arg(ws.config())
        .arg("--db")
        .arg(ws.db())
        .args(["sources", "check", "--json"])
        .env("OPSDECK_SANDBOX_TOKEN", TOKEN)
        .env("OPSDECK_TEST_WRONG_TOKEN", "not-the-token")
        .env("HOME", ws.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "any failure fails the check");
    let checks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let problem = |name: &str| {
        let check = by_source(&checks, name);
        assert_eq!(check["ok"], false, "{check}");
        assert!(check["found"].is_null(), "{check}");
        check["problem"].as_str().unwrap().to_string()
    };
    // 401, in words.
    let rejected = problem("catalog");
    assert!(
        rejected.starts_with("401 Unauthorized")
            && rejected.contains(
                "the token from env OPSDECK_TEST_WRONG_TOKEN was rejected; supply a valid one"
            ),
        "{rejected}"
    );
    // The wrong kind of server: PagerDuty's source pointed at the catalog.
    let elsewhere = problem("pagerduty");
    assert!(
        elsewhere.starts_with("404 Not Found")
            && elsewhere.contains("no PagerDuty API at this address"),
        "{elsewhere}"
    );
    let unreachable = problem("alertmanager");
    assert!(
        unreachable.contains(&format!("127.0.0.1:{closed}"))
            && unreachable.contains("check the URL and network"),
        "{unreachable}"
    );
    let anonymous = problem("github");
    assert!(
        anonymous.contains("anonymous (60 requests an hour, public repositories only)")
            && anonymous.contains("give the source a token"),
        "{anonymous}"
    );
    assert!(
        problem("argocd").contains("Argo CD does not take the token as a login"),
        "{}",
        problem("argocd")
    );
    assert!(
        problem("files").contains("cannot open catalog directory /nonexistent/catalog"),
        "{}",
        problem("files")
    );
    // Text names each failure with its source and address.
    let text = crate::util::opsdeck()
        .arg("--config")
        .arg(ws.config())
        .arg("--db")
        .arg(ws.db())
        .args(["sources", "check", "catalog"])
        .env("OPSDECK_TEST_WRONG_TOKEN", "not-the-token")
        .env("HOME", ws.dir.path())
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(1));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "FAILED catalog (backstage, {url}): 401 Unauthorized"
        )),
        "{text}"
    );
}

#[tokio::test]
async fn the_sandbox_answers_test_connection_as_the_contracts_say() {
    if !specs_present() {
        return;
    }
    let sandbox = sandbox(Seed::Demo).await;
    let url = sandbox.url();
    let client = reqwest::Client::new();
    let get = |address: String, auth: Option<String>| {
        let request = client.get(address);
        let request = match auth {
            Some(auth) => request.header("Authorization", auth),
            None => request,
        };
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, headers, response.json::<Value>().await.unwrap())
        }
    };

    // PagerDuty: GET /users/me, the User schema.
    let mut pagerduty = spec_json("pagerduty/openapiv3.json");
    without_nullable(&mut pagerduty["components"]);
    let me = &pagerduty["paths"]["/users/me"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    let (status, _, body) = get(
        format!("{url}{PAGERDUTY_PREFIX}/users/me"),
        Some(format!("Token token={TOKEN}")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        schema_errors(
            &openapi_validator(&pagerduty["components"], me.clone()),
            &body
        ),
        Vec::<String>::new()
    );
    assert_eq!(body["user"]["email"], opsdeck_sandbox::DEMO_IDENTITY);

    // GitHub: GET /rate_limit, the rate-limit-overview schema; anonymous gets 60.
    let mut github = spec_json("github/api.github.com.subset.json");
    without_nullable(&mut github["components"]);
    let overview = json!({"$ref": "#/components/schemas/rate-limit-overview"});
    for auth in [Some(format!("Bearer {TOKEN}")), None] {
        let anonymous = auth.is_none();
        let (status, headers, body) = get(format!("{url}{GITHUB_PREFIX}/rate_limit"), auth).await;
        assert_eq!(status, 200);
        assert_eq!(
            schema_errors(
                &openapi_validator(&github["components"], overview.clone()),
                &body
            ),
            Vec::<String>::new()
        );
        assert_eq!(body["resources"]["core"]["limit"] == 60, anonymous);
        assert_eq!(headers.contains_key("x-oauth-scopes"), !anonymous);
    }
    let (status, _, body) = get(
        format!("{url}{GITHUB_PREFIX}/rate_limit"),
        Some("Bearer wrong".into()),
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Bad credentials"))
    );

    // GitHub's GraphQL: every query Opsdeck sends is valid against GitHub's schema, and the
    // sandbox's answer has the types the schema gives the fields it selects.
    let schema = github_graphql_schema();
    for query in opsdeck::github_graphql_queries() {
        let document = apollo_compiler::ExecutableDocument::parse_and_validate(
            &schema,
            &query,
            "query.graphql",
        )
        .unwrap_or_else(|e| panic!("{query}: {e}"));
        let operation = document.operations.iter().next().unwrap();
        // Every repository a demo one, every cursor the first page's.
        let variables: serde_json::Map<String, Value> = operation
            .variables
            .iter()
            .map(|v| {
                let value = match v.name.as_str().chars().next() {
                    Some('o') => json!("demo-org"),
                    Some('n') => json!("payments-gateway"),
                    _ => Value::Null,
                };
                (v.name.to_string(), value)
            })
            .collect();
        let answer = client
            .post(format!("{url}{GITHUB_PREFIX}/graphql"))
            .bearer_auth(TOKEN)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let body: Value = answer.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(
            graphql_type_errors(&document, &operation.selection_set, &body["data"]),
            Vec::<String>::new(),
            "{body}"
        );
    }
    // What GitHub says to a field it does not have, to no token and to a wrong one.
    let ask = |query: &str, token: Option<&str>| {
        let mut request = client
            .post(format!("{url}{GITHUB_PREFIX}/graphql"))
            .json(&json!({ "query": query }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let answer = request.send().await.unwrap();
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = ask("query { viewer { nickname } }", Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["extensions"]["code"], "undefinedField");
    assert_eq!(ask("query { viewer { login } }", None).await.0, 401);
    // Points as GitHub counts them: three repositories asking the check suites of 100 commits
    // each are 3 × (1 + 100) connection requests, 3 points, taken from the hour.
    let suites = |alias: &str| {
        format!("{alias}: repository(owner: \"demo-org\", name: \"payments-gateway\") {{ defaultBranchRef {{ target {{ ... on Commit {{ history(first: 100) {{ nodes {{ checkSuites(first: 100) {{ nodes {{ status }} }} }} }} }} }} }} }}")
    };
    let costly = format!(
        "query {{ rateLimit {{ cost remaining }} {} {} {} }}",
        suites("a"),
        suites("b"),
        suites("c")
    );
    apollo_compiler::ExecutableDocument::parse_and_validate(&schema, &costly, "q.graphql")
        .unwrap_or_else(|e| panic!("{costly}: {e}"));
    let (_, first) = ask(&costly, Some(TOKEN)).await;
    let (_, second) = ask(&costly, Some(TOKEN)).await;
    assert_eq!(first["data"]["rateLimit"]["cost"], 3, "{first}");
    assert_eq!(
        first["data"]["rateLimit"]["remaining"].as_i64().unwrap() - 3,
        second["data"]["rateLimit"]["remaining"].as_i64().unwrap()
    );
    // A repository GitHub does not know is null, with NOT_FOUND, beside the others' data.
    let (status, partial) = ask(
        "query { r0: repository(owner: \"demo-org\", name: \"nope\") { name } r1: repository(owner: \"demo-org\", name: \"payments-gateway\") { name } }",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    assert!(partial["data"]["r0"].is_null(), "{partial}");
    assert_eq!(partial["data"]["r1"]["name"], "payments-gateway");
    assert_eq!(partial["errors"][0]["type"], "NOT_FOUND");
    assert_eq!(partial["errors"][0]["path"], json!(["r0"]));
    // A connection needs `first` (or `last`), at most 100: else no data at all.
    for (first, kind) in [
        ("", "MISSING_PAGINATION_BOUNDARIES"),
        ("(first: 101)", "EXCESSIVE_PAGINATION"),
    ] {
        let query = format!("query {{ repository(owner: \"demo-org\", name: \"payments-gateway\") {{ deployments{first} {{ nodes {{ databaseId }} }} }} }}");
        let (_, body) = ask(&query, Some(TOKEN)).await;
        assert_eq!(body["errors"][0]["type"], kind, "{body}");
        assert!(body.get("data").is_none(), "{body}");
    }
    let (status, body) = ask("query { viewer { login } }", Some("wrong")).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Bad credentials"))
    );

    // Alertmanager: GET /api/v2/status, alertmanagerStatus.
    let text = std::fs::read_to_string(specs_dir().join("alertmanager/openapi.yaml")).unwrap();
    let alertmanager: Value = serde_norway::from_str(&text).unwrap();
    let swagger = |doc: &Value, name: &str| {
        jsonschema::options()
            .build(&json!({"definitions": doc["definitions"], "$ref": format!("#/definitions/{name}")}))
            .unwrap()
    };
    let (status, _, body) = get(format!("{url}{ALERTMANAGER_PREFIX}/api/v2/status"), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        schema_errors(&swagger(&alertmanager, "alertmanagerStatus"), &body),
        Vec::<String>::new()
    );

    // Argo CD: GET /api/v1/session/userinfo, signed in or not.
    let argocd = spec_json("argocd/swagger.json");
    for (auth, logged_in) in [
        (format!("Bearer {TOKEN}"), true),
        ("Bearer wrong".into(), false),
    ] {
        let (status, _, body) = get(
            format!("{url}{ARGOCD_PREFIX}/api/v1/session/userinfo"),
            Some(auth),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            schema_errors(&swagger(&argocd, "sessionGetUserInfoResponse"), &body),
            Vec::<String>::new()
        );
        assert_eq!(body["loggedIn"], logged_in);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn init_writes_the_platforms_tests_them_and_takes_the_identity_a_platform_knows() {
    let sandbox = sandbox(Seed::Demo).await;
    let url = sandbox.url();
    // A config the user already wrote: its comments and settings stay.
    let ws = Workspace::new(
        "# my own notes\n[delivery]\nenvironments = [\"staging\", \"prod\"] # ours\n",
    );
    let out = ws.run(&[
        "init",
        "--non-interactive",
        "--detect-email",
        "--backstage",
        &url,
        "--pagerduty",
        &format!("{url}{PAGERDUTY_PREFIX}"),
        "--alertmanager",
        &format!("{url}{ALERTMANAGER_PREFIX}"),
        "--github",
        &format!("{url}{GITHUB_PREFIX}"),
        "--argocd",
        &format!("{url}{ARGOCD_PREFIX}"),
        "--token-env",
        "catalog=OPSDECK_SANDBOX_TOKEN",
        "--token-env",
        "pagerduty=OPSDECK_SANDBOX_TOKEN",
        "--token-env",
        "github=OPSDECK_SANDBOX_TOKEN",
        "--token-env",
        "argocd=OPSDECK_SANDBOX_TOKEN",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        5,
        "{stdout}"
    );
    assert!(
        stderr.contains("catalog, pagerduty, alertmanager, github, argocd written")
            && stderr.contains(&format!(
                "[identity] email = \"{}\"",
                opsdeck_sandbox::DEMO_IDENTITY
            )),
        "{stderr}"
    );
    let text = std::fs::read_to_string(ws.config()).unwrap();
    assert!(
        text.starts_with("# my own notes\n")
            && text.contains("environments = [\"staging\", \"prod\"] # ours"),
        "{text}"
    );
    // What init wrote is a config the rest reads: the sync lands everything.
    let synced = ws.stdout(&["sync"]);
    assert_eq!(
        synced
            .lines()
            .filter(|l| l.contains(" records") || l.contains(" entities"))
            .count(),
        5,
        "{synced}"
    );
    // And the identity it took is "me".
    assert_eq!(
        ws.json(&["oncall", "--team", "checkout"])["me_on_call"],
        true
    );

    // Run again with one platform wrong: it is updated in place (what no flag says, kept as
    // the file has it), and the check fails.
    let text = std::fs::read_to_string(ws.config()).unwrap();
    std::fs::write(
        ws.config(),
        text.replace(
            "name = \"argocd\"\n",
            "name = \"argocd\"\ninterval = \"45s\"\n",
        ),
    )
    .unwrap();
    let typo = ws.run(&["init", "--non-interactive", "--token-env", "argo=X"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("init names its sources catalog, "),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
    let again = ws.run(&[
        "init",
        "--non-interactive",
        "--argocd",
        &format!("{url}/nowhere"),
    ]);
    assert_eq!(again.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("FAILED argocd (argocd, "), "{stdout}");
    let text = std::fs::read_to_string(ws.config()).unwrap();
    assert_eq!(text.matches("name = \"argocd\"").count(), 1, "{text}");
    let shown = ws.json(&["config", "show"]);
    let argocd = by_source_named(&shown["sources"], "argocd");
    assert_eq!(argocd["address"], format!("{url}/nowhere"));
    assert_eq!(argocd["interval_secs"], 45);
    assert_eq!(
        argocd["token"], "env OPSDECK_SANDBOX_TOKEN",
        "a flag not given keeps what was written"
    );
}

#[test]
fn sources_are_removed_and_moved_in_the_file_keeping_the_rest() {
    let ws = Workspace::new(
        "# ours\n[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"/tmp\"\n\n\
         # the alerts\n[[sources]]\nname = \"alerts\"\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:9\"\n\n\
         [[sources]]\nname = \"argo\"\nkind = \"argocd\"\nurl = \"http://127.0.0.1:9\" # staging argo\n",
    );
    let moved = ws.json(&["sources", "move", "argo", "--to", "1"]);
    assert_eq!(moved["sources"], json!(["argo", "files", "alerts"]));
    // Each source's comments go with it.
    let text = std::fs::read_to_string(ws.config()).unwrap();
    assert!(
        text.contains(
            "url = \"http://127.0.0.1:9\" # staging argo\n\n# ours\n[[sources]]\nname = \"files\""
        ),
        "{text}"
    );
    let removed = ws.json(&["sources", "remove", "alerts"]);
    assert_eq!(removed["sources"], json!(["argo", "files"]));
    assert!(!std::fs::read_to_string(ws.config())
        .unwrap()
        .contains("# the alerts"));
    let missing = ws.run(&["sources", "remove", "alerts"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("(see `opsdeck sources`)"));
    assert_eq!(
        ws.run(&["sources", "move", "argo", "--to", "0"])
            .status
            .code(),
        Some(2)
    );
}

fn by_source_named<'a>(sources: &'a Value, name: &str) -> &'a Value {
    sources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {sources}"))
}

/// The JSON Schema `opsdeck config schema` prints holds what Opsdeck reads and refuses what it
/// refuses, so an editor's red squiggle is a real mistake.
#[test]
fn the_config_schema_accepts_a_real_config_and_names_mistakes() {
    let out = crate::util::opsdeck()
        .args(["config", "schema"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let as_json =
        |text: &str| serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap();
    let written = "[identity]\nemail = \"dana@example.com\"\n\n\
        [[sources]]\nname = \"catalog\"\nkind = \"backstage\"\nurl = \"https://bs.example.com\"\ntoken_env = \"BS\"\ninterval = \"60s\"\n\n\
        [[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"./catalog\"\nfollow_links = false\n\n\
        [delivery]\nenvironments = [\"staging\", \"prod\"]\nbake_time = \"1h\"\n\n\
        [incidents]\nsuspect_window = \"6h\"\n\n\
        [scorecards]\nlevels = [\"bronze\", \"silver\"]\ndrop = [\"runbook\"]\n\
        [[scorecards.custom]]\nid = \"on-call-doc\"\nlevel = \"silver\"\nannotation = \"opsdeck.io/on-call-doc\"\n";
    opsdeck::config::Config::parse(written, std::path::Path::new("/tmp/o.toml"))
        .expect("Opsdeck reads it");
    assert_eq!(
        schema_errors(&validator, &as_json(written)),
        Vec::<String>::new()
    );
    for (mistake, why) in [
        (
            "[[sources]]\nname = \"x\"\nkind = \"gitlab\"\nurl = \"https://x\"\n",
            "an unknown kind",
        ),
        (
            "[[sources]]\nname = \"x\"\nkind = \"github\"\ntoken = \"ghp_secret\"\n",
            "a token in the file",
        ),
        ("[delivery]\nbake = \"1h\"\n", "a misspelt field"),
        ("[identity]\nemail = 42\n", "a number for an email"),
    ] {
        assert!(
            !validator.is_valid(&as_json(mistake)),
            "the schema lets {why} through"
        );
        assert!(
            opsdeck::config::Config::parse(mistake, std::path::Path::new("/tmp/o.toml")).is_err(),
            "Opsdeck reads {why}"
        );
    }
}

#[test]
fn init_takes_gits_email_when_no_platform_names_one() {
    let files = catalog_files();
    let ws = Workspace::new("");
    std::fs::write(
        ws.dir.path().join(".gitconfig"),
        "[user]\n\tname = Dana\n\temail = dana@git.example\n",
    )
    .unwrap();
    // The directory is given relative to where init runs.
    let (parent, name) = (
        files.path().parent().unwrap(),
        files.path().file_name().unwrap(),
    );
    let out = crate::util::opsdeck()
        .current_dir(parent)
        .arg("--config")
        .arg(ws.config())
        .args([
            "init",
            "--non-interactive",
            "--detect-email",
            "--catalog-files",
        ])
        .arg(name)
        .env("HOME", ws.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("[identity] email = \"dana@git.example\""),
        "{stderr}"
    );
    let shown = ws.json(&["config", "show"]);
    assert_eq!(shown["identity"]["email"], "dana@git.example");
    assert_eq!(
        shown["sources"][0]["address"],
        files.path().to_str().unwrap(),
        "written as an absolute path"
    );
}

/// The sources editor tests a form before it is saved: the token typed into it, never the
/// demo's, and nothing written.
#[tokio::test(flavor = "multi_thread")]
async fn an_unsaved_form_is_tested_with_the_token_typed_into_it() {
    use opsdeck::config_file::SourceForm;
    use opsdeck::setup::SourceDraft;
    let sandbox = sandbox(Seed::Demo).await;
    // The engine the app runs on: the demo's, with the sandbox's token embedded by name.
    let demo = opsdeck::Engine::in_memory(
        opsdeck::config::Config::parse(&sandbox.config_toml(), std::path::Path::new("<demo>"))
            .unwrap(),
        opsdeck::secrets::Secrets::with_embedded(opsdeck_sandbox::source_tokens(TOKEN)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opsdeck.toml");
    let draft = |token: Option<&str>| SourceDraft {
        previous_name: None,
        form: SourceForm {
            name: "pagerduty".into(),
            kind: opsdeck::config::SourceKind::Pagerduty,
            url: Some(format!("{}{PAGERDUTY_PREFIX}", sandbox.url())),
            token_env: None,
            path: None,
            interval: None,
        },
        token: token.map(Into::into),
    };
    let wrong = demo
        .check_draft(&path, &draft(Some("wrong")))
        .await
        .unwrap();
    assert!(!wrong.ok);
    let problem = wrong.problem.unwrap();
    assert!(
        problem.contains("401") && problem.contains("the token from the form was rejected"),
        "{problem}"
    );
    // No token typed: the demo's token of a source of the same name is not sent.
    let untyped = demo.check_draft(&path, &draft(None)).await.unwrap();
    assert!(!untyped.ok, "{untyped:?}");
    let right = demo.check_draft(&path, &draft(Some(TOKEN))).await.unwrap();
    assert!(right.ok, "{right:?}");
    assert_eq!(
        right.signed_in_as.unwrap().email.as_deref(),
        Some(opsdeck_sandbox::DEMO_IDENTITY)
    );
    assert!(!path.exists(), "a test writes nothing");
}

/// GitHub's GraphQL schema from the specs.
fn github_graphql_schema() -> apollo_compiler::validation::Valid<apollo_compiler::Schema> {
    let path = specs_dir().join("github/graphql/schema.graphql");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // GitHub's published schema defines one field of `EnterpriseOwnerInfo` twice, which a strict
    // build refuses; its types are read as they are, and the queries validated against them.
    let schema = match apollo_compiler::Schema::parse(text, "schema.graphql") {
        Ok(schema) => schema,
        Err(with_errors) => with_errors.partial,
    };
    assert!(
        schema.types.contains_key("Query") && schema.types.len() > 1000,
        "{}: GitHub's schema did not parse",
        path.display()
    );
    apollo_compiler::validation::Valid::assume_valid(schema)
}

/// Where `data` does not have the type the schema gives each field `selection` picks: a
/// missing non-null field, a string where an object belongs, and so on.
fn graphql_type_errors(
    document: &apollo_compiler::ExecutableDocument,
    selection: &apollo_compiler::executable::SelectionSet,
    data: &Value,
) -> Vec<String> {
    use apollo_compiler::executable::Selection;
    let mut errors = Vec::new();
    for item in &selection.selections {
        let field = match item {
            Selection::Field(field) => field,
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.fragment_name) {
                    errors.extend(graphql_type_errors(document, &fragment.selection_set, data));
                }
                continue;
            }
            Selection::InlineFragment(inline) => {
                errors.extend(graphql_type_errors(document, &inline.selection_set, data));
                continue;
            }
        };
        let key = field.response_key().as_str();
        let value = &data[key];
        let ty = &field.definition.ty;
        if value.is_null() {
            if ty.is_non_null() {
                errors.push(format!("{key}: null for {ty}"));
            }
            continue;
        }
        let items: Vec<&Value> = match value {
            Value::Array(items) if ty.is_list() => items.iter().filter(|v| !v.is_null()).collect(),
            _ if ty.is_list() => {
                errors.push(format!("{key}: {value} is not a {ty}"));
                continue;
            }
            one => vec![one],
        };
        for value in items {
            let fits = match ty.inner_named_type().as_str() {
                "String" | "ID" | "URI" | "DateTime" | "GitObjectID" | "HTML" => value.is_string(),
                "Int" | "Float" => value.is_number(),
                "Boolean" => value.is_boolean(),
                // Enums come as their names.
                _ if field.selection_set.selections.is_empty() => value.is_string(),
                _ => {
                    let nested = graphql_type_errors(document, &field.selection_set, value);
                    errors.extend(nested.into_iter().map(|e| format!("{key}.{e}")));
                    value.is_object()
                }
            };
            if !fits {
                errors.push(format!("{key}: {value} is not a {ty}"));
            }
        }
    }
    errors
}

/// A GitHub Enterprise with rate limiting off has no `/rate_limit` (404, "Rate limiting is not
/// enabled."): its connection is tested by GraphQL's viewer at `/api/graphql`.
#[tokio::test(flavor = "multi_thread")]
async fn github_enterprise_without_rate_limits_is_tested_by_its_viewer() {
    use axum::routing::{get, post};
    let ghes = crate::util::serve(
        axum::Router::new()
            .route(
                "/api/v3/rate_limit",
                get(|| async {
                    (
                        axum::http::StatusCode::NOT_FOUND,
                        axum::Json(json!({
                            "message": "Rate limiting is not enabled.",
                            "documentation_url": "https://docs.github.com/enterprise-server@3.14/rest",
                            "status": "404"
                        })),
                    )
                }),
            )
            .route(
                "/api/graphql",
                post(|| async {
                    axum::Json(json!({"data": {"viewer": {
                        "login": "dana", "name": "Dana Whitfield", "email": ""
                    }}}))
                }),
            ),
    )
    .await;
    let config = opsdeck::config::Config::parse(
        &format!("[[sources]]\nname = \"ghes\"\nkind = \"github\"\nurl = \"{ghes}/api/v3\"\n"),
        std::path::Path::new("opsdeck.toml"),
    )
    .unwrap();
    let engine = opsdeck::Engine::in_memory(
        config,
        opsdeck::secrets::Secrets::with_typed("ghes", "ghes-token"),
    )
    .await
    .unwrap();
    let check = engine.check_source("ghes").await.unwrap();
    assert!(check.ok, "{check:?}");
    assert_eq!(
        check.found.as_deref(),
        Some("the token of Dana Whitfield (dana), on a GitHub Enterprise without rate limits")
    );
    assert_eq!(
        check.signed_in_as.unwrap().email,
        None,
        "an empty email is none"
    );
}
