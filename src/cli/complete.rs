//! Values the shell completes from the cache: service and team names. Completion must never
//! fail loudly or hang a shell: any problem completes nothing.

use std::ffi::OsStr;

use clap_complete::CompletionCandidate;
use opsdeck::config::Config;
use opsdeck::secrets::Secrets;
use opsdeck::Engine;

/// Service names starting with what was typed.
pub fn service_names(typed: &OsStr) -> Vec<CompletionCandidate> {
    names(typed, |engine| async move {
        Ok(engine
            .services(None)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect())
    })
}

/// Team names starting with what was typed, mine first.
pub fn team_names(typed: &OsStr) -> Vec<CompletionCandidate> {
    names(typed, |engine| async move {
        Ok(engine.teams().await?.into_iter().map(|t| t.name).collect())
    })
}

fn names<F, Fut>(typed: &OsStr, read: F) -> Vec<CompletionCandidate>
where
    F: FnOnce(Engine) -> Fut,
    Fut: std::future::Future<Output = opsdeck::Result<Vec<String>>>,
{
    let typed = typed.to_string_lossy();
    let Some(names) = from_cache(read) else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter(|name| name.starts_with(typed.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

/// The cache named by `OPSDECK_CONFIG`/`OPSDECK_DB` or the defaults, read once.
fn from_cache<F, Fut>(read: F) -> Option<Vec<String>>
where
    F: FnOnce(Engine) -> Fut,
    Fut: std::future::Future<Output = opsdeck::Result<Vec<String>>>,
{
    let config_path = std::env::var_os("OPSDECK_CONFIG")
        .map(Into::into)
        .or_else(Config::default_path)?;
    let db = std::env::var_os("OPSDECK_DB")
        .map(Into::into)
        .or_else(opsdeck::paths::default_db_path)?;
    if !db.exists() {
        return None;
    }
    let config = Config::load(&config_path).ok()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let engine = Engine::open(config, &db, Secrets::default()).await.ok()?;
        read(engine).await.ok()
    })
}
