//! Opsdeck's engine: domain rules, connectors, the local cache, sync and the sandbox. The CLI
//! (`src/main.rs`) and the desktop app (`src-tauri/`) are thin faces over [`Engine`].
#![deny(missing_docs)]

pub mod api;
pub mod config;
pub mod connectors;
mod delivery;
pub mod demo;
pub mod domain;
mod engine;
mod error;
pub mod logging;
mod on_call;
pub mod paths;
mod rollback;
mod runbooks;
pub mod sandbox;
pub mod secrets;
pub mod store;
mod sync;
pub mod text;

pub use delivery::{ActivityFilter, FREQUENCY_DAYS};
pub use engine::{Engine, SYNCS_PER_HOST};
pub use error::{Error, Result};
pub use on_call::Scope;
pub use rollback::{RollbackRun, Started};
pub use runbooks::RunbookRun;
pub use sync::ProgressSink;
