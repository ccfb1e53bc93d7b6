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

/// Where the log files of a face using the cache at `db` go: `logs/` beside it, so the data
/// directory holds both, and a test's temporary cache keeps its logs to itself.
pub fn log_dir_for(db: &std::path::Path) -> PathBuf {
    db.parent()
        .unwrap_or(std::path::Path::new("."))
        .join("logs")
}

/// Creates `dir` and any missing parents readable by the user only (0700 on Unix). Directories
/// that exist already are left as they are: they may be shared, like `/tmp`.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
