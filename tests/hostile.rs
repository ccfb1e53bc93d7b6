//! A hostile platform: rate-limit headers with absurd numbers, payloads and links that name
//! other hosts, redirects elsewhere and pages that never end. Each must get an error or be
//! read as what it probably is: never a panic, a hang, a source held for years, or a token
//! sent to a host other than its source's.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use opsdeck::config::Config;
use opsdeck::Engine;
use opsdeck_sandbox::Seed;
use serde_json::json;

use crate::util::{
    flaky_proxy, internal_ca, no_progress, parse_config, rewriting_proxy, sandbox, sandbox_config,
    secrets_with, serve, TOKEN,
};

/// An engine whose catalog source reads `catalog_url` instead of the sandbox's.
async fn catalog_engine(catalog_url: &str, sandbox: &opsdeck_sandbox::Sandbox) -> Engine {
    let mut config = sandbox_config(sandbox);
    config.sources.truncate(1);
    config.sources[0].url = Some(catalog_url.to_string());
    config.sources[0].timeout = std::time::Duration::from_secs(2);
    Engine::in_memory(config, secrets_with(TOKEN))
        .await
        .unwrap()
}

/// A NUL (`\u0000`) in what the platforms say: a shared cache's PostgreSQL cannot hold one in
/// text or jsonb, so it is made U+FFFD where it enters, on both caches alike, and every source
/// still lands.
#[tokio::test(flavor = "multi_thread")]
async fn a_nul_in_platform_text_lands_as_a_replacement_character_on_both_caches() {
    let good = sandbox(Seed::Demo).await;
    let proxy = rewriting_proxy(good.url(), |_, body| {
        body.replace(r#""title":""#, r#""title":"\u0000"#)
            .replace(r#""description":""#, r#""description":"\u0000"#)
    })
    .await;
    let cluster = opsdeck_test_postgres::Cluster::start();
    let mut caches = vec![String::new()];
    if let Some(cluster) = &cluster {
        let url = cluster.url(opsdeck_test_postgres::SUPERUSER, &cluster.create_database());
        caches.push(format!("\n[cache]\nurl = \"{url}\"\n"));
    }
    for cache in caches {
        let config = good.config_toml().replace(&good.url(), &proxy);
        let mut config = parse_config(&format!("{config}{cache}"));
        // Argo CD's watch stream is held open, and the proxy rewrites whole bodies.
        config
            .sources
            .retain(|source| source.name != opsdeck_sandbox::ARGOCD_SOURCE);
        let mut secrets = opsdeck_sandbox::source_tokens(TOKEN);
        secrets.insert(
            opsdeck::config::CACHE_SECRET.into(),
            opsdeck_test_postgres::SUPERUSER_PASSWORD.into(),
        );
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            config,
            &dir.path().join("cache.sqlite"),
            opsdeck::secrets::Secrets::with_embedded(secrets),
        )
        .await
        .unwrap();
        let reports = engine.sync(None, &no_progress).await.unwrap();
        assert!(reports.iter().all(|r| r.landed), "{cache}: {reports:?}");
        use opsdeck::domain::oncall::IncidentStatus::*;
        let incidents = engine
            .incidents(None, &[Triggered, Acknowledged, Resolved])
            .await
            .unwrap();
        assert!(!incidents.is_empty());
        for row in incidents {
            assert!(
                row.incident.title.starts_with('\u{FFFD}'),
                "{cache}: {row:?}"
            );
        }
        let description = engine.service("checkout-api").await.unwrap().description;
        assert!(
            description
                .as_deref()
                .is_some_and(|d| d.starts_with('\u{FFFD}')),
            "{cache}: {description:?}"
        );
    }
}

fn catalog_requests(path: &str, _body: &str) -> bool {
    path.starts_with("/backstage/api/catalog")
}

/// `Retry-After` values a platform might send, each on a 429.
macro_rules! too_many_requests_with {
    ($($name:ident = $value:expr;)*) => {
        $(fn $name() -> Response {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", $value)], "slow down").into_response()
        })*
        const REFUSALS: &[(&str, fn() -> Response)] = &[$((stringify!($name), $name)),*];
    };
}

too_many_requests_with! {
    huge = "99999999999999";
    beyond_u64 = "18446744073709551616";
    negative = "-30";
    a_year = "31536000";
    far_date = "Wed, 21 Oct 2515 07:28:00 GMT";
    garbage = "in a while";
}

#[tokio::test]
async fn absurd_retry_after_values_neither_panic_nor_hold_a_source_past_an_hour() {
    let good = sandbox(Seed::Demo).await;
    for (name, refusal) in REFUSALS {
        let (url, _) = flaky_proxy(good.url(), *refusal, catalog_requests).await;
        let engine = catalog_engine(&format!("{url}/backstage"), &good).await;
        let report = engine.sync(None, &no_progress).await.unwrap().remove(0);
        assert!(!report.landed, "{name}");
        assert!(
            report.problems[0].contains("429"),
            "{name}: {}",
            report.problems[0]
        );
        let state = engine.sources().await.unwrap().remove(0);
        if let Some(until) = state.retry_after {
            assert!(
                until <= Utc::now() + chrono::Duration::minutes(61),
                "{name}: held until {until}"
            );
        }
        assert!(
            state.next_sync <= Utc::now() + chrono::Duration::minutes(61),
            "{name}: next sync {}",
            state.next_sync
        );
    }
}

/// An empty catalog page whose rate-limit headers say the quota is spent until `reset`.
macro_rules! empty_page_resetting {
    ($($name:ident = $prefix:literal, $reset:literal;)*) => {
        $(fn $name() -> Response {
            (
                StatusCode::OK,
                [
                    ("content-type", "application/json"),
                    (concat!($prefix, "remaining"), "0"),
                    (concat!($prefix, "limit"), "100"),
                    (concat!($prefix, "reset"), $reset),
                ],
                r#"{"items":[],"totalItems":0,"pageInfo":{}}"#,
            )
                .into_response()
        })*
        const SPENT: &[(&str, fn() -> Response)] = &[$((stringify!($name), $name)),*];
    };
}

empty_page_resetting! {
    ietf_far_future = "ratelimit-", "99999999999999";
    ietf_as_epoch = "ratelimit-", "1999999999";
    ietf_negative = "ratelimit-", "-1";
    github_far_past = "x-ratelimit-", "1";
    github_far_future = "x-ratelimit-", "99999999999999";
    github_garbage = "x-ratelimit-", "tomorrow";
}

#[tokio::test]
async fn rate_limit_headers_on_a_200_are_checked_and_bounded() {
    let good = sandbox(Seed::Demo).await;
    for (name, page) in SPENT {
        let (url, _) = flaky_proxy(good.url(), *page, catalog_requests).await;
        let engine = catalog_engine(&format!("{url}/backstage"), &good).await;
        let report = engine.sync(None, &no_progress).await.unwrap().remove(0);
        assert!(report.landed, "{name}: {:?}", report.problems);
        let state = engine.sources().await.unwrap().remove(0);
        let quota = state.quota.expect("the counts are read");
        assert_eq!(quota.remaining, 0, "{name}");
        if let Some(reset) = quota.resets_at {
            assert!(
                reset <= Utc::now() + chrono::Duration::minutes(61),
                "{name}: resets {reset}"
            );
        }
        assert!(
            state.next_sync <= Utc::now() + chrono::Duration::minutes(61),
            "{name}: next sync {}",
            state.next_sync
        );
    }
}

fn ten_minutes() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [("retry-after", "600")],
        "slow down",
    )
        .into_response()
}

#[tokio::test]
async fn a_named_sync_goes_before_the_platform_allows_and_says_so() {
    let good = sandbox(Seed::Demo).await;
    let (url, proxy) = flaky_proxy(good.url(), ten_minutes, catalog_requests).await;
    let engine = catalog_engine(&format!("{url}/backstage"), &good).await;
    engine.sync(None, &no_progress).await.unwrap();
    let asked = proxy.requests.load(Ordering::SeqCst);

    // Everything: the wait is honoured, nothing is asked.
    let all = engine.sync(None, &no_progress).await.unwrap().remove(0);
    assert_eq!(proxy.requests.load(Ordering::SeqCst), asked);
    assert!(
        all.problems[0].contains("asked us to wait until"),
        "{:?}",
        all.problems
    );

    // The source by name: asked anyway, with a warning first.
    let named = engine
        .sync(Some("catalog"), &no_progress)
        .await
        .unwrap()
        .remove(0);
    assert!(proxy.requests.load(Ordering::SeqCst) > asked);
    // Refused again: the refusal first, then the warning.
    assert!(named.problems[0].contains("429"), "{:?}", named.problems);
    assert!(
        named.problems[1].contains("synced anyway because you asked"),
        "{:?}",
        named.problems
    );
}

/// What a server that must never be asked saw.
#[derive(Default)]
struct Elsewhere {
    requests: AtomicUsize,
    authorizations: Mutex<Vec<String>>,
}

async fn elsewhere(State(seen): State<Arc<Elsewhere>>, request: Request) -> Response {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    if let Some(auth) = request.headers().get("authorization") {
        seen.authorizations
            .lock()
            .unwrap()
            .push(auth.to_str().unwrap_or_default().to_string());
    }
    (StatusCode::OK, [("content-type", "application/json")], "{}").into_response()
}

async fn serve_elsewhere() -> (String, Arc<Elsewhere>) {
    let seen = Arc::new(Elsewhere::default());
    let app = axum::Router::new()
        .fallback(elsewhere)
        .with_state(seen.clone());
    (serve(app).await, seen)
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_and_the_token_stays_home() {
    let good = sandbox(Seed::Demo).await;
    let (away, seen) = serve_elsewhere().await;
    let redirect = axum::Router::new().fallback(move |request: Request| {
        let to = format!("{away}{}", request.uri());
        async move { (StatusCode::FOUND, [("location", to)]).into_response() }
    });
    let catalog = serve(redirect).await;
    let engine = catalog_engine(&format!("{catalog}/backstage"), &good).await;
    let report = engine.sync(None, &no_progress).await.unwrap().remove(0);
    assert!(!report.landed);
    assert!(
        report.problems[0].starts_with("catalog: redirected to another host"),
        "{}",
        report.problems[0]
    );
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0, "never followed");
    assert!(seen.authorizations.lock().unwrap().is_empty());
}

/// A GitHub stand-in answering as GitHub does for one repository: deployment payloads whose
/// `statuses_url` and `Link` headers name `api.github.com` (or any host `links_to` says),
/// and a second page whose link leads back to itself when `looping`.
#[derive(Clone)]
struct GithubStandIn {
    links_to: String,
    looping: bool,
    paths: Arc<Mutex<Vec<String>>>,
}

async fn github(State(standin): State<GithubStandIn>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    standin
        .paths
        .lock()
        .unwrap()
        .push(format!("{path}?{query}"));
    let json_headers = |link: Option<String>| {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        if let Some(link) = link {
            headers.insert("link", link.parse().unwrap());
        }
        headers
    };
    let deployment = |id: i64, minutes_ago: i64| {
        json!({
            "url": format!("{}/repos/acme/web/deployments/{id}", standin.links_to),
            "id": id, "node_id": "MDEwOkRlcGxveW1lbnQx", "sha": format!("{id:0>40}"),
            "ref": "main", "task": "deploy", "payload": {}, "original_environment": "production",
            "environment": "production", "description": "Deploy request from hubot",
            "creator": {"login": "octocat"},
            "created_at": (Utc::now() - chrono::Duration::minutes(minutes_ago)).to_rfc3339(),
            "updated_at": (Utc::now() - chrono::Duration::minutes(minutes_ago)).to_rfc3339(),
            "statuses_url": format!("{}/repos/acme/web/deployments/{id}/statuses", standin.links_to),
            "repository_url": format!("{}/repos/acme/web", standin.links_to),
        })
    };
    match path.as_str() {
        "/repos/acme/web/deployments" if !query.contains("page=2") => {
            let next = format!(
                "<{}/repositories/1296269/deployments?per_page=100&page=2>; rel=\"next\"",
                standin.links_to
            );
            (
                json_headers(Some(next)),
                json!([deployment(2, 10)]).to_string(),
            )
                .into_response()
        }
        "/repos/acme/web/deployments" => {
            let next = standin.looping.then(|| {
                format!(
                    "<{}/repositories/1296269/deployments?per_page=100&page=2>; rel=\"next\"",
                    standin.links_to
                )
            });
            (json_headers(next), json!([deployment(1, 60)]).to_string()).into_response()
        }
        p if p.ends_with("/statuses") => {
            let status = json!([{
                "id": 1, "state": "success", "description": "Deployment finished successfully.",
                "environment": "production", "creator": {"login": "octocat"},
                "created_at": Utc::now().to_rfc3339(), "updated_at": Utc::now().to_rfc3339(),
                "target_url": "https://example.com/deployment/42/output",
                "log_url": "https://example.com/deployment/42/output",
            }]);
            (json_headers(None), status.to_string()).into_response()
        }
        "/repos/acme/web/actions/runs" => (
            json_headers(None),
            json!({"total_count": 0, "workflow_runs": []}).to_string(),
        )
            .into_response(),
        "/repos/acme/web/releases" => (json_headers(None), "[]").into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            json_headers(None),
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
                .to_string(),
        )
            .into_response(),
    }
}

/// A catalog tree with one component wired to `acme/web`, and an engine reading it and the
/// GitHub stand-in.
async fn github_engine(standin: &GithubStandIn, tree: &Path) -> Engine {
    std::fs::write(
        tree.join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: web\n  annotations:\n    github.com/project-slug: acme/web\nspec:\n  type: service\n  owner: team-a\n  lifecycle: production\n",
    )
    .unwrap();
    let url = serve(
        axum::Router::new()
            .fallback(github)
            .with_state(standin.clone()),
    )
    .await;
    let text = format!(
        "[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n\n[[sources]]\nname = \"github\"\nkind = \"github\"\nurl = \"{url}\"\ntoken_env = \"OPSDECK_HOSTILE_UNSET\"\ntimeout = \"2s\"\n",
        tree.display()
    );
    let config = Config::parse(&text, Path::new("/tmp/opsdeck.toml")).unwrap();
    Engine::in_memory(
        config,
        opsdeck::secrets::Secrets::with_embedded(
            [("github".to_string(), TOKEN.to_string())].into(),
        ),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn payload_urls_and_links_naming_other_hosts_are_read_from_the_configured_one() {
    let (away, seen) = serve_elsewhere().await;
    for links_to in ["https://api.github.com".to_string(), away] {
        let standin = GithubStandIn {
            links_to: links_to.clone(),
            looping: false,
            paths: Default::default(),
        };
        let tree = tempfile::tempdir().unwrap();
        let engine = github_engine(&standin, tree.path()).await;
        let reports = engine.sync(None, &no_progress).await.unwrap();
        assert!(reports.iter().all(|r| r.landed), "{links_to}: {reports:?}");
        let paths = standin.paths.lock().unwrap().clone();
        assert!(
            paths.contains(&"/repos/acme/web/deployments?per_page=100&page=2".to_string()),
            "the next page is asked of the configured host: {paths:?}"
        );
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with("/repos/acme/web/deployments/2/statuses")),
            "statuses are asked of the configured host: {paths:?}"
        );
        let delivery = engine.service_delivery("web").await.unwrap();
        let statuses: Vec<String> = delivery
            .timeline
            .iter()
            .map(|d| serde_json::to_value(d.status).unwrap().to_string())
            .collect();
        assert_eq!(delivery.timeline.len(), 2, "{links_to}: both pages landed");
        assert!(
            statuses.iter().any(|s| s.contains("success")),
            "{links_to}: {statuses:?}"
        );
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_link_that_leads_back_to_its_own_page_fails_the_sync_not_the_machine() {
    let standin = GithubStandIn {
        links_to: "https://api.github.com".into(),
        looping: true,
        paths: Default::default(),
    };
    let tree = tempfile::tempdir().unwrap();
    let engine = github_engine(&standin, tree.path()).await;
    let reports = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        engine.sync(None, &no_progress),
    )
    .await
    .expect("a loop ends")
    .unwrap();
    let github = &reports[1];
    assert!(reports[0].landed && !github.landed, "{reports:?}");
    assert!(
        github.problems[0].contains("page in a loop"),
        "{:?}",
        github.problems
    );
}

/// An internal CA and a server certificate it signed for localhost, served by `openssl
/// s_server -www` (which answers any GET with an HTML page): (its URL, the CA file, the
/// server, which is killed on drop).
struct InternalTls {
    url: String,
    ca_file: std::path::PathBuf,
    server: std::process::Child,
}

impl Drop for InternalTls {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

async fn internal_tls(dir: &Path) -> InternalTls {
    let certificates = internal_ca(dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-cert"])
        .arg(&certificates.server_cert)
        .arg("-key")
        .arg(&certificates.server_key)
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    InternalTls {
        url: format!("https://localhost:{port}"),
        ca_file: certificates.ca,
        server,
    }
}

#[tokio::test]
async fn an_internal_ca_is_trusted_through_the_sources_ca_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let tls = internal_tls(dir.path()).await;
    let sync_with = |ca_file: Option<&Path>| {
        let ca_line = ca_file.map_or(String::new(), |f| {
            format!("ca_file = \"{}\"\n", f.display())
        });
        let text = format!(
            "[[sources]]\nname = \"catalog\"\nkind = \"backstage\"\nurl = \"{}\"\ntimeout = \"5s\"\n{ca_line}",
            tls.url
        );
        async move {
            let config = Config::parse(&text, Path::new("/tmp/opsdeck.toml")).unwrap();
            let engine = Engine::in_memory(config, secrets_with(TOKEN))
                .await
                .unwrap();
            engine.sync(None, &no_progress).await.unwrap().remove(0)
        }
    };
    // Trusted: the handshake holds, and the page is not the catalog's JSON.
    let trusted = sync_with(Some(&tls.ca_file)).await;
    assert!(
        trusted.problems[0].contains("expected JSON"),
        "{:?}",
        trusted.problems
    );
    // Not trusted by the public roots alone.
    let untrusted = sync_with(None).await;
    assert!(
        untrusted.problems[0].contains("cannot connect"),
        "{:?}",
        untrusted.problems
    );
    // A CA file that is not there, or not PEM, is the source's problem, named.
    let missing = sync_with(Some(&dir.path().join("nope.pem"))).await;
    assert!(
        missing.problems[0].contains("'ca_file'") && missing.problems[0].contains("nope.pem"),
        "{:?}",
        missing.problems
    );
    let not_pem = sync_with(Some(&dir.path().join("server.ext"))).await;
    assert!(
        not_pem.problems[0].contains("'ca_file'"),
        "{:?}",
        not_pem.problems
    );
    let endless = sync_with(Some(Path::new("/dev/zero"))).await;
    assert!(
        endless.problems[0].contains("'ca_file' /dev/zero: not a regular file"),
        "{:?}",
        endless.problems
    );
}

/// A platform whose lists never end: Backstage's cursor repeats, PagerDuty says `more: true`
/// after every page (full ones, or empty ones when `empty`).
async fn endless(empty: bool) -> String {
    let app = axum::Router::new()
        .route(
            "/api/catalog/entities/by-query",
            axum::routing::get(|| async {
                let page = json!({"items": [], "totalItems": 1000, "pageInfo": {"nextCursor": "again"}});
                ([("content-type", "application/json")], page.to_string())
            }),
        )
        .route(
            "/services",
            axum::routing::get(move |query: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                let offset: usize = query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
                let services: Vec<_> = (0..if empty { 0 } else { 100 })
                    .map(|i| json!({
                        "id": format!("P{}", offset + i), "type": "service", "summary": "s", "name": "s",
                        "status": "active", "escalation_policy": {"id": "PE", "type": "escalation_policy_reference"},
                        "html_url": "https://example.pagerduty.com/service-directory/P1",
                    }))
                    .collect();
                let page = json!({"services": services, "limit": 100, "offset": offset, "more": true, "total": null});
                ([("content-type", "application/json")], page.to_string())
            }),
        );
    serve(app).await
}

#[tokio::test]
async fn lists_that_never_end_fail_the_sync_in_bounded_time() {
    for empty in [false, true] {
        let url = endless(empty).await;
        let text = format!(
            "[[sources]]\nname = \"catalog\"\nkind = \"backstage\"\nurl = \"{url}\"\n\n[[sources]]\nname = \"pagerduty\"\nkind = \"pagerduty\"\nurl = \"{url}\"\n"
        );
        let config = Config::parse(&text, Path::new("/tmp/opsdeck.toml")).unwrap();
        let secrets = opsdeck::secrets::Secrets::with_embedded(
            [("catalog", TOKEN), ("pagerduty", TOKEN)]
                .map(|(s, t)| (s.to_string(), t.to_string()))
                .into(),
        );
        let engine = Engine::in_memory(config, secrets).await.unwrap();
        let reports = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            engine.sync(None, &no_progress),
        )
        .await
        .expect("endless pages end")
        .unwrap();
        assert!(reports.iter().all(|r| !r.landed), "{reports:?}");
        assert!(
            reports[0].problems[0].contains("a cursor repeated"),
            "{:?}",
            reports[0].problems
        );
        let pagerduty = &reports[1].problems[0];
        let expected = if empty {
            "sent an empty page"
        } else {
            "offset pagination ends at 10,000"
        };
        assert!(pagerduty.contains(expected), "{pagerduty}");
    }
}

#[tokio::test]
async fn a_week_of_change_events_past_classic_pagination_keeps_the_newest_and_lands() {
    let mut app = axum::Router::new();
    for path in [
        "/services",
        "/escalation_policies",
        "/schedules",
        "/users",
        "/oncalls",
        "/incidents",
    ] {
        app = app.route(
            path,
            axum::routing::get(move || async move {
                let mut page = json!({"limit": 100, "offset": 0, "more": false, "total": null});
                page[&path[1..]] = json!([]);
                ([("content-type", "application/json")], page.to_string())
            }),
        );
    }
    let app = app.route(
        "/change_events",
        axum::routing::get(|query: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
            let offset: usize = query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let events: Vec<_> = (0..100)
                .map(|i| json!({
                    "id": format!("E{}", offset + i), "type": "change_event", "summary": "deploy",
                    "timestamp": Utc::now().to_rfc3339(),
                    "services": [{"id": "P1", "type": "service_reference"}],
                }))
                .collect();
            let page = json!({"change_events": events, "limit": 100, "offset": offset, "more": true, "total": null});
            ([("content-type", "application/json")], page.to_string())
        }),
    );
    let url = serve(app).await;
    let text =
        format!("[[sources]]\nname = \"pagerduty\"\nkind = \"pagerduty\"\nurl = \"{url}\"\n");
    let config = Config::parse(&text, Path::new("/tmp/opsdeck.toml")).unwrap();
    let secrets = opsdeck::secrets::Secrets::with_embedded(
        [("pagerduty".to_string(), TOKEN.to_string())].into(),
    );
    let engine = Engine::in_memory(config, secrets).await.unwrap();
    let report = engine.sync(None, &no_progress).await.unwrap().remove(0);
    assert!(report.landed, "{report:?}");
    assert_eq!(report.items, 10_000, "the newest 10,000, one record each");
}

#[test]
fn the_web_views_csp_allows_only_what_the_app_uses() {
    let conf: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src-tauri/tauri.conf.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let csp = conf["app"]["security"]["csp"].as_str().unwrap();
    let mut directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    directives.sort_unstable();
    // Scripts and styles from the app only; nothing remote but a runbook's https images, and
    // those only after the reader asked (the sanitiser holds them back until then).
    assert_eq!(
        directives,
        [
            "base-uri 'none'",
            "connect-src ipc: http://ipc.localhost",
            "default-src 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "img-src https:",
            "script-src 'self'",
            "style-src 'self'",
        ]
    );
}
