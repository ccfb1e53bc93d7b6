//! Where the platforms' published API contracts are, for the tests that hold Opsdeck and the
//! sandbox to them. They are never copied into the project: a clone of the repository alone has
//! none, and its contract tests skip; CI must have them.

use std::path::{Path, PathBuf};

/// The env var that names the directory holding `backstage/`, `github/`, `pagerduty/`, …
pub const SPECS_DIR_ENV: &str = "OPSDECK_SPECS_DIR";

/// The contracts' directory: `OPSDECK_SPECS_DIR`, else `shared/specs` beside the project.
/// `None` when neither holds them, unless `CI` is set: there their absence fails the test.
pub fn specs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os(SPECS_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // This crate is `<project>/src/sandbox`: the specs sit beside `<project>`.
            let beside_project = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(3);
            beside_project
                .unwrap_or(Path::new(".."))
                .join("shared/specs")
        });
    if dir.join("backstage").is_dir() {
        return Some(dir);
    }
    let why = format!(
        "the platforms' API contracts are not at {}: set {SPECS_DIR_ENV} to the directory holding backstage/, github/, pagerduty/, alertmanager/ and argocd/",
        dir.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{why} (CI requires them)");
    eprintln!("skipped: {why}");
    None
}

/// The text of a contract file, `relative` to [`specs_dir`]; `None` when the contracts are absent.
pub fn spec_text(relative: &str) -> Option<String> {
    let path = specs_dir()?.join(relative);
    Some(
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the API contract {} cannot be read: {e}", path.display())),
    )
}
