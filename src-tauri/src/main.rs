//! Opsdeck's desktop face: a Tauri window over the engine. Starts in demo mode (the sandbox in
//! process) unless a config is given or exists at the default path; without either, its UI
//! welcomes first (the demo, or how to connect).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod demo;
mod error;
mod events;
mod notify;
mod presence;
#[cfg(target_os = "linux")]
mod rendering;
mod running;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use opsdeck::config::Config;
use running::{Launch, Running};
use tauri::Manager;

/// As the CLI's (see `src/main.rs`): what a big sync freed goes back to the system while the
/// window idles. At 10,000 services the app process held 397 MB after its first syncs with
/// glibc's allocator, 147 MB with this (BENCHMARKS.md).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Start with the window hidden, in the tray (as starting at login does)
    #[arg(long)]
    hidden: bool,
    /// An opsdeck:// link to open: opsdeck://service/NAME, opsdeck://incident/ID,
    /// opsdeck://team/NAME (passed on to the running Opsdeck, if one runs)
    #[arg(value_name = "LINK")]
    link: Option<String>,
}

/// What the app opens on, from the arguments, before any window opens, so a bad config is one
/// line on stderr rather than a failed window: the launch, the config file the sources editor
/// edits, and the cache the user's own platforms use.
fn launch_from(args: Args) -> anyhow::Result<(Launch, Option<PathBuf>, Option<PathBuf>)> {
    // A config named explicitly must be used; only a missing default file means demo mode.
    let given = args.config.clone();
    let config = given.or_else(|| Config::default_path().filter(|p| p.exists()));
    let no_home = || anyhow::anyhow!("no home directory for the cache; pass --db PATH");
    let first_run = config.is_none() && !args.demo;
    let edited = args.config.or_else(Config::default_path);
    Ok(match config {
        Some(path) if !args.demo => {
            let config = Config::load(&path)?;
            let db = args
                .db
                .or_else(|| config.cache.file())
                .or_else(opsdeck::paths::default_db_path)
                .ok_or_else(no_home)?;
            let launch = Launch::Configured {
                config: Box::new(config),
                db: db.clone(),
            };
            (launch, edited, Some(db))
        }
        _ => {
            let launch = Launch::Demo {
                db: args
                    .db
                    .or_else(opsdeck::paths::demo_db_path)
                    .ok_or_else(no_home)?,
                first_run,
            };
            (launch, edited, opsdeck::paths::default_db_path())
        }
    })
}

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    rendering::paint_directly_without_a_gpu();
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
    let args = Args::parse();
    let (hidden, link) = (args.hidden, args.link.clone());
    let (launch, config_path, own_db) = launch_from(args)?;
    opsdeck::name_this_process("desktop");
    opsdeck::logging::init("warn", Some(&opsdeck::paths::log_dir_for(launch.db())));
    // Single instance first: a second launch must hand over before anything else starts.
    let builder = tauri::Builder::default()
        .plugin(presence::single_instance())
        .plugin(tauri_plugin_deep_link::init())
        // Not its visibility: a window hidden in the tray when Opsdeck quit must open shown.
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .arg(presence::HIDDEN_ARG)
                .build(),
        )
        .plugin(tauri_plugin_opener::init());
    #[cfg(not(target_os = "linux"))]
    let builder = builder.plugin(tauri_plugin_notification::init());
    builder
        .setup(move |app| {
            let running = tauri::async_runtime::block_on(Running::open(
                launch,
                config_path,
                own_db,
                launched,
            ))?;
            running.start_syncing(app.handle());
            app.manage(running);
            presence::setup(app, hidden, link)?;
            tauri::async_runtime::spawn(presence::refresh_tray(app.handle().clone()));
            Ok(())
        })
        .on_window_event(presence::on_window_event)
        .on_page_load(|webview, load| {
            if load.event() == tauri::webview::PageLoadEvent::Finished {
                if let Some(running) = webview.try_state::<Running>() {
                    running.start_up.page_loaded();
                }
                presence::page_loaded(&webview.window());
            }
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
            commands::config_sources,
            commands::check_draft,
            commands::save_source,
            commands::remove_source,
            commands::move_source,
            commands::detect_identity,
            commands::set_identity,
            commands::open_pending_link,
            commands::desktop_settings,
            commands::set_start_at_login,
            commands::set_keep_running_in_tray,
            commands::ui_ready,
        ])
        .run(tauri::generate_context!())?;
    Ok(())
}
