//! Demo mode: the sandbox in process, an engine wired to it, no account and no config.

use std::path::Path;

use anyhow::Context;
use opsdeck::config::Config;
use opsdeck::secrets::Secrets;
use opsdeck::Engine;
use opsdeck_sandbox::{source_tokens, Sandbox, SandboxOptions, Seed};

/// A running demo: keep it alive as long as the engine is used.
pub struct Demo {
    /// The engine, reading the sandbox.
    pub engine: Engine,
    /// The sandbox it reads; stops when dropped.
    pub sandbox: Sandbox,
}

/// Breaks the demo's platforms on purpose (a chaos spec, see [`opsdeck_sandbox::chaos`]).
const CHAOS_ENV: &str = "OPSDECK_DEMO_CHAOS";

/// How the demo's platforms answer actions (an actions spec, see [`opsdeck_sandbox::actions`]).
const ACTIONS_ENV: &str = "OPSDECK_DEMO_ACTIONS";

/// Starts the sandbox on a free loopback port and opens the cache at `db_path` with a config
/// wired to it. The sandbox's token is handed over in process, never through the environment.
pub async fn start(db_path: &Path) -> anyhow::Result<Demo> {
    let sandbox = Sandbox::start(SandboxOptions {
        port: 0,
        seed: Seed::Demo,
        token: None,
        chaos: spec_from_env(CHAOS_ENV)?,
        actions: spec_from_env(ACTIONS_ENV)?,
    })
    .await
    .context("sandbox: cannot listen on loopback")?;
    let config = Config::parse(&sandbox.config_toml(), Path::new("<demo>"))?;
    let secrets = Secrets::with_embedded(source_tokens(sandbox.token()));
    let engine = Engine::open(config, db_path, secrets).await?;
    Ok(Demo { engine, sandbox })
}

/// A sandbox spec from `env`, or the default when it is unset.
fn spec_from_env<T: Default + std::str::FromStr<Err = String>>(env: &str) -> anyhow::Result<T> {
    match std::env::var(env) {
        Ok(text) => text.parse().map_err(|e| anyhow::anyhow!("{env}: {e}")),
        Err(_) => Ok(T::default()),
    }
}
