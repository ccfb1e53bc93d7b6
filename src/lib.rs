//! Opsdeck's engine: domain rules, connectors, the local cache, sync and the sandbox. The CLI
//! (`src/main.rs`) and the desktop app (`src-tauri/`) are thin faces over [`Engine`].
#![deny(missing_docs)]

pub mod agent;
pub mod api;
pub mod config;
pub mod config_file;
mod connectors;
mod engine;
mod error;
pub mod logging;
pub mod paths;
pub mod secrets;
pub mod setup;
mod store;

pub use opsdeck_domain as domain;
pub use opsdeck_domain::text;

pub use api::ActivityFilter;
pub use connectors::backstage::catalog_query as backstage_catalog_query;
pub use connectors::github::graphql_queries as github_graphql_queries;
pub use engine::delivery::FREQUENCY_DAYS;
pub use engine::incident_actions::{ActionRun, StartedAction};
pub use engine::leases::name_this_process;
pub use engine::on_call::Scope;
pub use engine::reports::{Report, ReportFormat, ReportKind};
pub use engine::rollback::{RollbackRun, Started};
pub use engine::runbooks::RunbookRun;
pub use engine::sync::ProgressSink;
pub use engine::sync::LANDINGS_CHECKED_EVERY;
pub use engine::{Engine, SYNCS_PER_HOST};
pub use error::{Error, Result};
