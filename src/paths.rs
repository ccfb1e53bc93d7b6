//! Where Opsdeck keeps its files by default, per the platform's conventions.

use std::path::PathBuf;

/// The platform's directories for Opsdeck.
pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("dev", "opsdeck", "opsdeck")
}

/// The default cache file (`~/.local/share/opsdeck/cache.sqlite` on Linux), shared by the CLI
/// and the desktop app.
pub fn default_db_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.data_dir().join("cache.sqlite"))
}

/// The demo mode's cache, kept apart from real data (`~/.local/share/opsdeck/demo.sqlite`).
pub fn demo_db_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.data_dir().join("demo.sqlite"))
}
