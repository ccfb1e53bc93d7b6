//! Shared test harness: the sandbox, engines over it, the CLI binary, and the official specs.

use std::path::PathBuf;

use opsdeck::config::Config;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use jsonschema::Validator;
use opsdeck::secrets::Secrets;
use opsdeck::Engine;
use opsdeck_sandbox::{source_tokens, Sandbox, SandboxOptions, Seed};
use serde_json::{json, Value};

/// Secrets that hand `token` to every source of a sandbox config, in process.
pub fn secrets_with(token: &str) -> Secrets {
    Secrets::with_embedded(source_tokens(token))
}

/// The token every test sandbox accepts.
pub const TOKEN: &str = "test-token";

/// Whether the platforms' published API contracts are here; a contract test without them
/// returns at once (CI, where they must be, fails instead: see [`opsdeck_sandbox::specs`]).
pub fn specs_present() -> bool {
    opsdeck_sandbox::specs::specs_dir().is_some()
}

/// The contracts' directory; only after [`specs_present`] said yes.
pub fn specs_dir() -> PathBuf {
    opsdeck_sandbox::specs::specs_dir().expect("checked by specs_present")
}

/// Reads a JSON file from the specs.
pub fn spec_json(relative: &str) -> Value {
    let path = specs_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What `validator` finds wrong with `instance`, one line each (the first ten).
pub fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .take(10)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// OpenAPI 3.0's `nullable: true` is not JSON Schema: rewrite it as a union with null.
pub fn without_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                without_nullable(child);
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_nullable),
        _ => {}
    }
}

/// A validator for `schema` (which may `$ref` the document's components).
pub fn openapi_validator(components: &Value, mut schema: Value) -> Validator {
    without_nullable(&mut schema);
    jsonschema::options()
        .build(&json!({"components": components, "allOf": [schema]}))
        .unwrap()
}

/// Sends `request` and reads the answer: status, content type and JSON body.
pub async fn read(request: reqwest::RequestBuilder) -> (u16, String, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (status, content_type, response.json().await.unwrap())
}

/// `GET url`, its JSON body.
pub async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> T {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// A sandbox on a free port with [`TOKEN`].
pub async fn sandbox(seed: Seed) -> Sandbox {
    Sandbox::start(SandboxOptions {
        port: 0,
        seed,
        token: Some(TOKEN.into()),
        chaos: Default::default(),
        actions: Default::default(),
    })
    .await
    .expect("sandbox starts")
}

/// A config reading `sandbox`'s catalog, PagerDuty and Alertmanager. GitHub and Argo CD are
/// left out: at scale they serve a hundred deployments a repository, which only the tests of
/// delivery (`delivery_config`) should pay for.
pub fn sandbox_config(sandbox: &Sandbox) -> Config {
    parse_config(&without_delivery(&sandbox.config_toml()))
}

/// A config reading every platform `sandbox` serves.
pub fn delivery_config(sandbox: &Sandbox) -> Config {
    parse_config(&sandbox.config_toml())
}

pub fn parse_config(text: &str) -> Config {
    Config::parse(text, std::path::Path::new("/tmp/opsdeck-test.toml"))
        .expect("sandbox config parses")
}

/// A sandbox config's text without its GitHub and Argo CD sources.
pub fn without_delivery(text: &str) -> String {
    let mut blocks = text.split("[[sources]]");
    let head = blocks.next().unwrap_or_default().to_string();
    blocks
        .filter(|block| {
            !block.contains("kind = \"github\"") && !block.contains("kind = \"argocd\"")
        })
        .fold(head, |all, block| format!("{all}[[sources]]{block}"))
}

/// An engine over an in-memory cache.
pub async fn engine(config: Config, token: Option<&str>) -> Engine {
    let secrets = token.map_or_else(Secrets::default, secrets_with);
    Engine::in_memory(config, secrets).await.unwrap()
}

/// A sink for sync progress that ignores it.
pub fn no_progress(_: opsdeck::api::SyncProgress) {}

/// The CLI binary built for these tests.
pub fn opsdeck() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    command
        .env_remove("OPSDECK_CONFIG")
        .env_remove("OPSDECK_DB")
        .env_remove("OPSDECK_LOG");
    command
}

/// A platform in front of the sandbox's that answers `fault` to the requests `breaks` picks
/// (by path and query, and body) and passes the others through, method, headers and all.
pub struct Flaky {
    upstream: String,
    fault: fn() -> Response,
    breaks: fn(&str, &str) -> bool,
    /// What it makes of the bodies it passes through (by path and query), if anything.
    rewrite: Option<fn(&str, String) -> String>,
    /// Requests it received.
    pub requests: AtomicUsize,
}

async fn flaky(State(flaky): State<Arc<Flaky>>, request: Request) -> Response {
    flaky.requests.fetch_add(1, Ordering::SeqCst);
    let path_and_query = request.uri().path_and_query().unwrap().to_string();
    let method = request.method().clone();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    if (flaky.breaks)(&path_and_query, &String::from_utf8_lossy(&body)) {
        return (flaky.fault)();
    }
    let mut forwarded = reqwest::Client::new()
        .request(method, format!("{}{path_and_query}", flaky.upstream))
        .body(body);
    for (name, value) in &headers {
        // The sandbox's links then point back through the proxy.
        forwarded = forwarded.header(name, value);
    }
    let answer = forwarded.send().await.unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    if let Some(rewrite) = flaky.rewrite {
        let body = answer.text().await.unwrap();
        return response
            .body(axum::body::Body::from(rewrite(&path_and_query, body)))
            .unwrap();
    }
    // Streamed, so a held stream (Argo CD's watch) passes through as it comes, and a cut
    // one is cut here too.
    let chunks = futures_util::stream::unfold(Some(answer), |answer| async move {
        let mut answer = answer?;
        match answer.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(answer))),
            Ok(None) => None,
            Err(error) => Some((Err(error), None)),
        }
    });
    response
        .body(axum::body::Body::from_stream(chunks))
        .unwrap()
}

/// Serves a [`Flaky`] in front of `upstream`; returns its URL.
pub async fn flaky_proxy(
    upstream: String,
    fault: fn() -> Response,
    breaks: fn(&str, &str) -> bool,
) -> (String, Arc<Flaky>) {
    serve_flaky(Flaky {
        upstream,
        fault,
        breaks,
        rewrite: None,
        requests: AtomicUsize::new(0),
    })
    .await
}

/// A platform in front of the sandbox's that passes every request through and `rewrite`s
/// each answer's body (given the path and query); returns its URL.
pub async fn rewriting_proxy(upstream: String, rewrite: fn(&str, String) -> String) -> String {
    let (url, _) = serve_flaky(Flaky {
        upstream,
        fault: || unreachable!("a rewriting proxy breaks nothing"),
        breaks: |_, _| false,
        rewrite: Some(rewrite),
        requests: AtomicUsize::new(0),
    })
    .await;
    url
}

async fn serve_flaky(proxy: Flaky) -> (String, Arc<Flaky>) {
    let state = Arc::new(proxy);
    let app = axum::Router::new()
        .fallback(flaky)
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

/// Serves `app` on a free loopback port; returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The demo with every platform, its actions answered as `actions` says (e.g. `rollout=1s`),
/// rollbacks and runbook runs followed every 100 ms, synced once with no problem.
pub async fn demo_with(actions: &str) -> (Sandbox, Engine) {
    let sandbox = sandbox(Seed::Demo).await;
    sandbox.set_actions(actions.parse().unwrap());
    let text = format!(
        "{}\n[rollback]\npoll_interval = \"100ms\"\ntimeout = \"30s\"\n[runbooks]\npoll_interval = \"100ms\"\ntimeout = \"30s\"\n[incidents]\npoll_interval = \"100ms\"\ntimeout = \"20s\"\n",
        sandbox.config_toml()
    );
    let engine = engine(parse_config(&text), Some(TOKEN)).await;
    let reports = engine.sync(None, &no_progress).await.unwrap();
    assert!(
        reports.iter().all(|r| r.landed && r.problems.is_empty()),
        "{reports:?}"
    );
    (sandbox, engine)
}

/// checkout-api's `HighErrorRate` alert, as the demo's cache holds it.
pub async fn high_error_rate(engine: &Engine) -> opsdeck::api::AlertRow {
    engine
        .alerts(Some("checkout-api"))
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.alert.name == "HighErrorRate")
        .expect("the demo's firing alert")
}

/// A config file and a cache in a directory of their own, for the `opsdeck` binary.
pub struct Workspace {
    /// The directory: `opsdeck.toml` and `cache.sqlite`.
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace whose config is `config`.
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("opsdeck.toml"), config).unwrap();
        Self { dir }
    }

    /// Runs `opsdeck` on it with the sandbox's token.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        opsdeck()
            .arg("--config")
            .arg(self.config())
            .arg("--db")
            .arg(self.db())
            .args(args)
            .env("OPSDECK_SANDBOX_TOKEN", TOKEN)
            .env("HOME", self.dir.path())
            .output()
            .unwrap()
    }

    /// What `opsdeck … --json` printed, which must have succeeded.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// What `opsdeck …` printed, which must have succeeded.
    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Its config file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("opsdeck.toml")
    }

    /// Its cache file.
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("cache.sqlite")
    }
}

/// Plans a rollback of `service` in `env` and starts it as planned: the plan's key, and the
/// run to track.
pub async fn start_planned_rollback(
    engine: &Engine,
    service: &str,
    env: &str,
) -> (String, Box<opsdeck::RollbackRun>) {
    let plan = engine.plan_rollback(service, env, None).await.unwrap();
    let started = engine
        .start_rollback(&opsdeck::api::RollbackConfirmation {
            key: plan.key.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let opsdeck::Started::Running(run) = started else {
        panic!("not started: {started:?}")
    };
    (plan.key, run)
}

/// Runs `openssl` with `args` in `dir`, or panics with what it said.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (make deps)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An internal CA's certificate, and a server certificate and key it signed for localhost
/// (and 127.0.0.1), as files.
pub struct InternalCa {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// A new internal CA in `dir`, valid a day, that no system trusts.
pub fn internal_ca(dir: &std::path::Path) -> InternalCa {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=Opsdeck test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "server.ext",
        ],
    );
    InternalCa {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    }
}
