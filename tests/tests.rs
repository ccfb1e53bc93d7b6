//! Integration tests: one binary, one module per area (as ripgrep does).

mod catalog_files;
mod chaos;
mod cli;
mod contract;
mod crash;
mod layers;
mod soak;
mod sync;
mod util;
