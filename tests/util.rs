//! Shared test harness: the sandbox, engines over it, the CLI binary, and the official specs.

use std::path::PathBuf;

use opsdeck::config::Config;
use opsdeck::sandbox::{Sandbox, SandboxOptions, Seed, CATALOG_SOURCE, PAGERDUTY_SOURCE};
use opsdeck::secrets::Secrets;
use opsdeck::store::Store;
use opsdeck::Engine;
use serde_json::Value;

/// The token every test sandbox accepts.
pub const TOKEN: &str = "test-token";

/// The official API contracts: `OPSDECK_SPECS_DIR`, else `../shared/specs` beside the project.
/// They are never copied into the project, so their absence fails the test plainly.
pub fn specs_dir() -> PathBuf {
    let dir = std::env::var_os("OPSDECK_SPECS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/specs"));
    assert!(
        dir.join("backstage").is_dir(),
        "the API specs are not at {}: set OPSDECK_SPECS_DIR to the directory holding backstage/, github/, …",
        dir.display()
    );
    dir
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

/// A sandbox on a free port with [`TOKEN`].
pub async fn sandbox(seed: Seed) -> Sandbox {
    Sandbox::start(SandboxOptions {
        port: 0,
        seed,
        token: Some(TOKEN.into()),
        chaos: Default::default(),
    })
    .await
    .expect("sandbox starts")
}

/// A config reading `sandbox` as the source `catalog`, with the token in process.
pub fn sandbox_config(sandbox: &Sandbox) -> Config {
    Config::parse(
        &sandbox.config_toml(),
        std::path::Path::new("/tmp/opsdeck-test.toml"),
    )
    .expect("sandbox config parses")
}

/// `token` for the sandbox's sources that need one.
pub fn sandbox_secrets(token: &str) -> Secrets {
    Secrets::with_embedded(
        [CATALOG_SOURCE, PAGERDUTY_SOURCE]
            .map(|source| (source.to_string(), token.to_string()))
            .into(),
    )
}

/// An engine over an in-memory cache.
pub async fn engine(config: Config, token: Option<&str>) -> Engine {
    let secrets = token.map_or_else(Secrets::default, sandbox_secrets);
    Engine::with_store(config, Store::in_memory().await.unwrap(), secrets)
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
