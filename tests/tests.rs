//! Integration tests: one binary, one module per area (as ripgrep does).

mod agent;
mod alertmanager_real;
mod argocd_watch;
mod catalog_files;
mod chaos;
mod cli;
mod connect;
mod contract;
mod contract_actions;
mod contract_delivery;
mod contract_incidents;
mod contract_oncall;
mod crash;
mod delivery;
mod hostile;
mod incidents;
mod oncall;
mod ownership;
mod rollback;
mod runbooks;
mod shared_audit;
mod shared_cache;
mod soak;
mod sync;
mod util;
