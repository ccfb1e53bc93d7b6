//! Demo mode: the sandbox in process, an engine wired to it, no account and no config.

use std::path::Path;

use crate::config::Config;
use crate::sandbox::{secrets_with, Sandbox, SandboxOptions, Seed};
use crate::{Engine, Error, Result};

/// A running demo: keep it alive as long as the engine is used.
#[derive(Debug)]
pub struct Demo {
    /// The engine, reading the sandbox.
    pub engine: Engine,
    /// The sandbox it reads; stops when dropped.
    pub sandbox: Sandbox,
}

/// Breaks the demo's platforms on purpose (a chaos spec, see [`crate::sandbox::chaos`]).
pub const CHAOS_ENV: &str = "OPSDECK_DEMO_CHAOS";

/// How the demo's platforms answer actions (an actions spec, see [`crate::sandbox::actions`]).
pub const ACTIONS_ENV: &str = "OPSDECK_DEMO_ACTIONS";

/// Starts the sandbox on a free loopback port and opens the cache at `db_path` with a config
/// wired to it. The sandbox's token is handed over in process, never through the environment.
pub async fn start(db_path: &Path) -> Result<Demo> {
    let chaos = match std::env::var(CHAOS_ENV) {
        Ok(text) => text
            .parse()
            .map_err(|e: String| Error::Sandbox(format!("{CHAOS_ENV}: {e}")))?,
        Err(_) => Default::default(),
    };
    let actions = match std::env::var(ACTIONS_ENV) {
        Ok(text) => text
            .parse()
            .map_err(|e: String| Error::Sandbox(format!("{ACTIONS_ENV}: {e}")))?,
        Err(_) => Default::default(),
    };
    let sandbox = Sandbox::start(SandboxOptions {
        port: 0,
        seed: Seed::Demo,
        token: None,
        chaos,
        actions,
    })
    .await
    .map_err(|e| Error::Sandbox(format!("cannot listen on loopback: {e}")))?;
    let config = Config::parse(&sandbox.config_toml(), Path::new("<demo>"))?;
    let secrets = secrets_with(sandbox.token());
    let engine = Engine::open(config, db_path, secrets).await?;
    Ok(Demo { engine, sandbox })
}
