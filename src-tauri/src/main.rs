//! Opsdeck's desktop face: a Tauri window over the engine. Starts in demo mode (the sandbox in
//! process) unless a config is given or exists at the default path.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod error;
mod events;

use std::path::PathBuf;
use std::time::Instant;

use opsdeck::config::Config;
use opsdeck::sandbox::Sandbox;
use opsdeck::secrets::Secrets;
use opsdeck::Engine;
use tauri::Manager;

/// What the app runs on, managed by Tauri for the commands.
pub struct Running {
    engine: Engine,
    launched: Instant,
    /// Kept alive for the app's lifetime in demo mode.
    _sandbox: Option<Sandbox>,
}

/// How the app was asked to start: `--demo`, `--config PATH`, `--db PATH`.
#[derive(Default)]
struct Launch {
    demo: bool,
    config: Option<PathBuf>,
    db: Option<PathBuf>,
}

impl Launch {
    fn from_args() -> anyhow::Result<Self> {
        let mut launch = Self {
            config: std::env::var_os("OPSDECK_CONFIG").map(PathBuf::from),
            db: std::env::var_os("OPSDECK_DB").map(PathBuf::from),
            ..Self::default()
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--demo" => launch.demo = true,
                "--config" => launch.config = args.next().map(PathBuf::from),
                "--db" => launch.db = args.next().map(PathBuf::from),
                other => anyhow::bail!(
                    "unknown argument '{other}' (use --demo, --config PATH, --db PATH)"
                ),
            }
        }
        Ok(launch)
    }

    async fn open(self, data_dir: PathBuf, launched: Instant) -> anyhow::Result<Running> {
        let config_path = self
            .config
            .clone()
            .or_else(Config::default_path)
            .filter(|p| p.exists());
        match config_path {
            Some(path) if !self.demo => {
                let db = self.db.unwrap_or_else(|| data_dir.join("cache.sqlite"));
                let engine = Engine::open(Config::load(&path)?, &db, Secrets::default()).await?;
                Ok(Running {
                    engine,
                    launched,
                    _sandbox: None,
                })
            }
            _ => {
                let db = self.db.unwrap_or_else(|| data_dir.join("demo.sqlite"));
                let demo = opsdeck::demo::start(&db).await?;
                Ok(Running {
                    engine: demo.engine,
                    launched,
                    _sandbox: Some(demo.sandbox),
                })
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let launched = Instant::now();
    opsdeck::logging::init("warn");
    let launch = Launch::from_args()?;
    tauri::Builder::default()
        .setup(move |app| {
            let data_dir = app.path().app_data_dir()?;
            let running = tauri::async_runtime::block_on(launch.open(data_dir, launched))?;
            let engine = running.engine.clone();
            app.manage(running);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = events::sync_and_notify(&handle, &engine).await {
                    tracing::error!(error = %e, "first sync failed");
                }
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::teams,
            commands::team_services,
            commands::orphaned_services,
            commands::service,
            commands::search,
            commands::sources,
            commands::identity,
            commands::sync_now,
            commands::ui_ready,
        ])
        .run(tauri::generate_context!())?;
    Ok(())
}
