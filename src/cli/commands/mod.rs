//! One module per command: its arguments (`Args`) and its `run`.

pub mod agent;
pub mod alerts;
pub mod audit;
pub mod changes;
pub mod completions;
pub mod config;
pub mod deploys;
pub mod incident;
pub mod incidents;
pub mod init;
pub mod login;
pub mod oncall;
pub mod pipeline;
pub mod releases;
pub mod report;
pub mod rollback;
pub mod runbooks;
pub mod sandbox;
pub mod scorecard;
pub mod search;
pub mod service;
pub mod services;
pub mod sources;
pub mod sync;
pub mod team;
pub mod teams;
