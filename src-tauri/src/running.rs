//! What the app runs on: the engine (the demo's or the user's own platforms'), how it was
//! launched, and its sync loop; swapped in place when the sources editor saves, so a change
//! takes effect without a restart.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use opsdeck::api::LaunchInfo;
use opsdeck::config::Config;
use opsdeck::secrets::Secrets;
use opsdeck::Engine;
use opsdeck_sandbox::Sandbox;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter};

/// Managed by Tauri for the commands.
pub struct Running {
    engine: RwLock<Engine>,
    launch: RwLock<LaunchInfo>,
    pub start_up: StartUp,
    /// The config file the sources editor edits.
    config_path: Option<PathBuf>,
    /// The cache of the user's own platforms, apart from the demo's.
    own_db: Option<PathBuf>,
    /// Kept alive while the demo runs.
    sandbox: Mutex<Option<Sandbox>>,
    sync_loop: Mutex<Option<JoinHandle<()>>>,
    /// Whether the window has drawn its first team list: the sync loop waits for it.
    first_list_drawn: tokio::sync::watch::Sender<bool>,
}

/// When the start-up's steps were done, from the app's `main`: what the benchmark's launch
/// time is made of.
pub struct StartUp {
    launched: Instant,
    engine_opened: Duration,
    page_loaded: OnceLock<Duration>,
}

impl StartUp {
    /// The web view's page has loaded (its scripts run next).
    pub fn page_loaded(&self) {
        let _ = self.page_loaded.set(self.launched.elapsed());
    }

    /// One line for the log: the steps so far, and the whole time until now.
    pub fn report(&self, step: &str) -> String {
        let page = self
            .page_loaded
            .get()
            .map_or("not yet".to_string(), |at| format!("{} ms", at.as_millis()));
        format!(
            "opsdeck-desktop: {step} {} ms after launch (cache and engine open at {} ms, page loaded at {page})",
            self.launched.elapsed().as_millis(),
            self.engine_opened.as_millis()
        )
    }
}

/// What the app opens on, decided before any window opens.
pub enum Launch {
    /// The demo; `first_run` when only because no config exists yet.
    Demo { db: PathBuf, first_run: bool },
    /// The config at `path`.
    Configured { config: Box<Config>, db: PathBuf },
}

impl Launch {
    /// The cache this launch opens.
    pub fn db(&self) -> &std::path::Path {
        let (Self::Demo { db, .. } | Self::Configured { db, .. }) = self;
        db
    }
}

impl Running {
    /// Opens what `launch` says; `config_path` is the file the editor edits, `own_db` the cache
    /// a config saved from the demo opens.
    pub async fn open(
        launch: Launch,
        config_path: Option<PathBuf>,
        own_db: Option<PathBuf>,
        launched: Instant,
    ) -> anyhow::Result<Self> {
        let shown_path = config_path.as_ref().map(|p| p.display().to_string());
        let (engine, sandbox, demo, first_run) = match launch {
            Launch::Configured { config, db } => {
                let engine = Engine::open(*config, &db, Secrets::default()).await?;
                (engine, None, false, false)
            }
            Launch::Demo { db, first_run } => {
                let demo = crate::demo::start(&db).await?;
                (demo.engine, Some(demo.sandbox), true, first_run)
            }
        };
        Ok(Self {
            engine: RwLock::new(engine),
            launch: RwLock::new(LaunchInfo {
                demo,
                first_run,
                config_path: shown_path,
            }),
            start_up: StartUp {
                launched,
                engine_opened: launched.elapsed(),
                page_loaded: OnceLock::new(),
            },
            config_path,
            own_db,
            sandbox: Mutex::new(sandbox),
            sync_loop: Mutex::new(None),
            first_list_drawn: tokio::sync::watch::Sender::new(false),
        })
    }

    /// The engine in force now; what a command started keeps running on it.
    pub fn engine(&self) -> Engine {
        self.engine.read().expect("engine lock").clone()
    }

    pub fn launch(&self) -> LaunchInfo {
        self.launch.read().expect("launch lock").clone()
    }

    /// The config file the sources editor edits.
    pub fn config_path(&self) -> Result<&std::path::Path, String> {
        self.config_path.as_deref().ok_or_else(|| {
            "no home directory for a config: start Opsdeck with --config PATH".into()
        })
    }

    /// The window has drawn its first team list: a sync loop waiting for it starts.
    pub fn first_list_drawn(&self) {
        self.first_list_drawn.send_replace(true);
    }

    /// (Re)starts the sync loop on the engine in force, stopping the one before. A sync cut
    /// short lands nothing: each lands in one transaction.
    pub fn start_syncing(&self, handle: &AppHandle) {
        let task = tauri::async_runtime::spawn(crate::events::sync_on_schedule(
            handle.clone(),
            self.engine(),
            self.first_list_drawn.subscribe(),
        ));
        if let Some(before) = self.sync_loop.lock().expect("sync loop lock").replace(task) {
            before.abort();
        }
    }

    /// Puts `config`, just saved by the editor, in force: the demo gives way to the user's own
    /// platforms and their own cache, or the engine is reconfigured over the same cache. The
    /// window is told to read everything again.
    pub async fn apply(&self, handle: &AppHandle, config: Config) -> anyhow::Result<()> {
        let leaving_demo = self.launch().demo;
        let engine = if leaving_demo {
            let db = self.own_db.clone().ok_or_else(|| {
                anyhow::anyhow!("no home directory for the cache; pass --db PATH")
            })?;
            Engine::open(config, &db, Secrets::default()).await?
        } else {
            self.engine().reconfigured(config, Secrets::default())
        };
        *self.engine.write().expect("engine lock") = engine;
        if leaving_demo {
            let mut launch = self.launch.write().expect("launch lock");
            launch.demo = false;
            launch.first_run = false;
        }
        self.start_syncing(handle);
        if leaving_demo {
            self.sandbox.lock().expect("sandbox lock").take();
        }
        let _ = handle.emit(crate::events::LAUNCH_CHANGED, self.launch());
        let _ = handle.emit(crate::events::CACHE_CHANGED, ());
        Ok(())
    }
}
