//! Where Opsdeck keeps its files by default, per the platform's conventions.

use std::path::PathBuf;

/// The platform's directories for Opsdeck.
pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("dev", "opsdeck", "opsdeck")
}

/// The default cache file (`~/.local/share/opsdeck/cache.sqlite` on Linux).
pub fn default_db_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.data_dir().join("cache.sqlite"))
}
