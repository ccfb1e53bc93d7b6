//! Opsdeck's desktop face: a Tauri window over the engine. Starts in demo mode (the sandbox in
//! process) unless a config is given or exists at the default path; without either, its UI
//! welcomes first (the demo, or how to connect).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod demo;
mod error;
mod events;
mod notify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use opsdeck::api::LaunchInfo;
use opsdeck::config::Config;
use opsdeck::secrets::Secrets;
use opsdeck::Engine;
use opsdeck_sandbox::Sandbox;
use tauri::Manager;

/// What the app runs on, managed by Tauri for the commands.
pub struct Running {
    engine: Engine,
    launched: Instant,
    launch: LaunchInfo,
    /// Kept alive for the app's lifetime in demo mode.
    _sandbox: Option<Sandbox>,
}

/// Opsdeck's desktop app: services, owners, on-call, deploys and rollbacks from a local cache.
///
/// Without a config (none given, none at the default path) it opens the demo: a simulated
/// organisation served in process, with its own cache, no account needed.
#[derive(Debug, clap::Parser)]
#[command(name = "opsdeck-desktop", version, about)]
struct Args {
    /// Open the demo even when a config exists
    #[arg(long)]
    demo: bool,
    /// The config file (default: the platform's config dir, see `opsdeck config path`)
    #[arg(long, env = "OPSDECK_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// The cache file (default: beside the config, or the demo's own)
    #[arg(long, env = "OPSDECK_DB", value_name = "PATH")]
    db: Option<PathBuf>,
}

/// What the app runs on, decided from the arguments before any window opens, so a bad config
/// is one line on stderr rather than a failed window.
enum Launch {
    /// The demo; `first_run` when only because no config exists yet.
    Demo {
        db: PathBuf,
        first_run: bool,
    },
    Configured {
        config: Box<Config>,
        db: PathBuf,
    },
}

impl Launch {
    fn from_args(args: Args) -> anyhow::Result<Self> {
        // A config named explicitly must be used; only a missing default file means demo mode.
        let config = args
            .config
            .or_else(|| Config::default_path().filter(|p| p.exists()));
        let no_home = || anyhow::anyhow!("no home directory for the cache; pass --db PATH");
        let first_run = config.is_none() && !args.demo;
        Ok(match config {
            Some(path) if !args.demo => Self::Configured {
                config: Box::new(Config::load(&path)?),
                db: args
                    .db
                    .or_else(opsdeck::paths::default_db_path)
                    .ok_or_else(no_home)?,
            },
            _ => Self::Demo {
                db: args
                    .db
                    .or_else(opsdeck::paths::demo_db_path)
                    .ok_or_else(no_home)?,
                first_run,
            },
        })
    }

    fn db(&self) -> &std::path::Path {
        let (Self::Demo { db, .. } | Self::Configured { db, .. }) = self;
        db
    }

    async fn open(self, launched: Instant) -> anyhow::Result<Running> {
        let config_path = Config::default_path().map(|p| p.display().to_string());
        match self {
            Self::Configured { config, db } => {
                let engine = Engine::open(*config, &db, Secrets::default()).await?;
                Ok(Running {
                    engine,
                    launched,
                    launch: LaunchInfo {
                        demo: false,
                        first_run: false,
                        config_path,
                    },
                    _sandbox: None,
                })
            }
            Self::Demo { db, first_run } => {
                let demo = demo::start(&db).await?;
                Ok(Running {
                    engine: demo.engine,
                    launched,
                    launch: LaunchInfo {
                        demo: true,
                        first_run,
                        config_path,
                    },
                    _sandbox: Some(demo.sandbox),
                })
            }
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, as the CLI does: our messages already carry their cause.
            eprintln!("opsdeck-desktop: {e}");
            ExitCode::from(1)
        }
    }
}

fn run() -> anyhow::Result<()> {
    let launched = Instant::now();
    let launch = Launch::from_args(Args::parse())?;
    opsdeck::logging::init("warn", Some(&opsdeck::paths::log_dir_for(launch.db())));
    let builder = tauri::Builder::default().plugin(tauri_plugin_opener::init());
    #[cfg(not(target_os = "linux"))]
    let builder = builder.plugin(tauri_plugin_notification::init());
    builder
        .setup(move |app| {
            let running = tauri::async_runtime::block_on(launch.open(launched))?;
            let engine = running.engine.clone();
            app.manage(running);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(events::sync_on_schedule(handle, engine));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::teams,
            commands::team_services,
            commands::team,
            commands::scorecard,
            commands::service_scorecard,
            commands::export_report,
            commands::orphaned_services,
            commands::service,
            commands::search,
            commands::sources,
            commands::on_call,
            commands::on_call_overview,
            commands::service_delivery,
            commands::release_matrix,
            commands::activity,
            commands::environments,
            commands::changes,
            commands::incidents,
            commands::incident,
            commands::plan_action,
            commands::start_action,
            commands::plan_rollback,
            commands::start_rollback,
            commands::audit,
            commands::runbooks,
            commands::runbook_document,
            commands::runbook_form,
            commands::open_runbook,
            commands::run_runbook,
            commands::export_audit,
            commands::open_link,
            commands::identity,
            commands::sync_now,
            commands::check_source,
            commands::launch_info,
            commands::restart,
            commands::ui_ready,
        ])
        .run(tauri::generate_context!())?;
    Ok(())
}
