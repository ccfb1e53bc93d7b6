//! A local tree of `catalog-info.yaml` files, read the way Backstage reads file locations:
//! every `catalog-info.yaml` (or `.yml`) in the tree, plus the files `Location` entities point
//! to, relative to the file that names them and never outside the tree.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use super::{ConnectorError, FailureKind};
use crate::domain::documents::parse_catalog_documents;
use crate::domain::merge::MANAGED_BY_LOCATION;
use crate::domain::Entity;

/// What a tree held: the entities, and the problems that cost only their own document or file.
#[derive(Debug, Default)]
pub struct CatalogLoad {
    /// Every entity that parsed, first occurrence of each reference only.
    pub entities: Vec<Entity>,
    /// One line per problem, naming file and line.
    pub problems: Vec<String>,
    /// Files read.
    pub files: usize,
    /// Locations (`file:/abs/path`, as [`MANAGED_BY_LOCATION`] names them) that could not be
    /// read or hold a document that does not parse: what the cache had from them is kept.
    pub damaged: std::collections::HashSet<String>,
}

/// The largest catalog file read. A hand-written catalog file is kilobytes; a larger one is a
/// generated or hostile file, and reading it whole would cost memory on every sync.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Whether symbolic links in the tree are followed (to files inside it only, always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// A link to a file inside the tree is read as that file.
    FollowInside,
    /// No link is followed.
    Refuse,
}

/// Loads the tree at `root`. Fails only when the root itself cannot be read; anything wrong
/// inside a file becomes a problem and the rest still loads. Only regular files inside the
/// tree, of at most [`MAX_FILE_BYTES`], are read: a committed link to `/dev/zero`, a FIFO or a
/// file elsewhere is that file's problem, never a hang or the whole memory.
pub fn load_tree(
    source_name: &str,
    root: &Path,
    links: Links,
) -> Result<CatalogLoad, ConnectorError> {
    let root = root.canonicalize().map_err(|e| {
        ConnectorError::new(
            source_name,
            FailureKind::Io,
            format!(
                "cannot open catalog directory {}: {e}; fix 'path' in the config",
                root.display()
            ),
        )
    })?;
    if !root.is_dir() {
        return Err(ConnectorError::new(
            source_name,
            FailureKind::Io,
            format!(
                "{} is not a directory; 'path' must name the catalog tree",
                root.display()
            ),
        ));
    }

    let mut load = CatalogLoad::default();
    let mut queue: VecDeque<PathBuf> = find_catalog_files(&root, links, &mut load.problems).into();
    let mut visited = HashSet::new();
    let mut first_seen: HashMap<String, String> = HashMap::new();
    let relative = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();

    while let Some(file) = queue.pop_front() {
        if !visited.insert(file.clone()) {
            continue; // Location loops and files both found and referenced are read once.
        }
        let location = location_of(&file);
        let text = match read_regular_file(&file) {
            Ok(text) => text,
            Err(e) => {
                load.problems.push(format!("{}: {e}", relative(&file)));
                load.damaged.insert(location);
                continue;
            }
        };
        load.files += 1;
        for parsed in parse_catalog_documents(&text) {
            let mut parsed = match parsed {
                Ok(p) => p,
                Err(e) => {
                    load.problems.push(format!(
                        "{} line {}: {}",
                        relative(&file),
                        e.line,
                        e.message
                    ));
                    load.damaged.insert(location.clone());
                    continue;
                }
            };
            parsed
                .entity
                .metadata
                .annotations
                .insert(MANAGED_BY_LOCATION.to_string(), location.clone());
            let here = format!("{} line {}", relative(&file), parsed.line);
            if parsed.entity.is_kind("location") {
                queue.extend(location_targets(
                    &parsed.entity,
                    (&file, &root, links),
                    &here,
                    &mut load,
                ));
            }
            let key = parsed.entity.entity_ref().key();
            if let Some(first) = first_seen.get(&key) {
                load.problems.push(format!(
                    "{here}: duplicate entity {} (first defined at {first}); this copy is ignored",
                    parsed.entity.entity_ref()
                ));
                continue;
            }
            first_seen.insert(key, here);
            load.entities.push(parsed.entity);
        }
    }
    Ok(load)
}

/// A catalog file's text: a regular file of at most [`MAX_FILE_BYTES`], in UTF-8.
fn read_regular_file(file: &Path) -> Result<String, String> {
    let bytes = super::read_regular_file(file, MAX_FILE_BYTES)?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text; not read".into())
}

/// The location annotation of what `file` holds, as Backstage writes it for files.
fn location_of(file: &Path) -> String {
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    format!("file:{}", absolute.display())
}

/// Every `catalog-info.yaml`/`.yml` under `root`, sorted so loads are deterministic; hidden
/// directories and `node_modules` are skipped, and linked directories are not entered. A
/// linked catalog file is read only as `links` allows and only when it leads inside the tree.
fn find_catalog_files(root: &Path, links: Links, problems: &mut Vec<String>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(format!("{}: cannot list: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                if !name.starts_with('.') && name != "node_modules" {
                    dirs.push(path);
                }
            } else if name == "catalog-info.yaml" || name == "catalog-info.yml" {
                if !file_type.is_symlink() {
                    found.push(path);
                    continue;
                }
                let shown = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                match (links, path.canonicalize()) {
                    (Links::Refuse, _) => problems.push(format!(
                        "{shown}: a symbolic link; not followed (the source sets follow_links = false)"
                    )),
                    (Links::FollowInside, Ok(target)) if target.starts_with(root) => {
                        found.push(target)
                    }
                    (Links::FollowInside, Ok(_)) => problems.push(format!(
                        "{shown}: a symbolic link out of the catalog tree; not followed"
                    )),
                    (Links::FollowInside, Err(e)) => {
                        problems.push(format!("{shown}: a broken symbolic link ({e})"))
                    }
                }
            }
        }
    }
    found.sort();
    found
}

/// The files a `Location` entity points to, resolved and confined to the tree.
fn location_targets(
    location: &Entity,
    (file, root, links): (&Path, &Path, Links),
    here: &str,
    load: &mut CatalogLoad,
) -> Vec<PathBuf> {
    let problems = &mut load.problems;
    let location_type = location.spec_str("type").unwrap_or("file");
    let mut targets: Vec<&str> = location.spec_list("targets");
    targets.extend(location.spec_str("target"));
    if location_type != "file" {
        if !targets.is_empty() {
            problems.push(format!(
                "{here}: Location of type '{location_type}' is not followed (catalog-files reads files only)"
            ));
        }
        return Vec::new();
    }
    let dir = file.parent().unwrap_or(root);
    let mut out = Vec::new();
    for target in targets {
        let joined = dir.join(target);
        let linked = joined.symlink_metadata().is_ok_and(|m| m.is_symlink());
        if linked && links == Links::Refuse {
            problems.push(format!(
                "{here}: Location target '{target}' is a symbolic link; not followed (the source sets follow_links = false)"
            ));
            continue;
        }
        match joined.canonicalize() {
            Ok(path) if !path.starts_with(root) => problems.push(format!(
                "{here}: Location target '{target}' is outside the catalog tree; not followed"
            )),
            // Whether it is a file that may be read is the read's to say.
            Ok(path) => out.push(path),
            Err(_) => {
                problems.push(format!("{here}: Location target '{target}' does not exist"));
                // Named but gone (a checkout mid-way, a rename): what it held is kept.
                load.damaged.insert(location_of(&joined));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_demo_is_exactly_the_tree_in_assets() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        let load = load_tree("files", &demo, Links::FollowInside).unwrap();
        assert!(load.problems.is_empty(), "{:?}", load.problems);
        let mut on_disk: Vec<_> = load.entities.iter().map(|e| e.entity_ref().key()).collect();
        let mut embedded: Vec<_> = opsdeck_sandbox::org::entities(opsdeck_sandbox::Seed::Demo)
            .iter()
            .map(|(_, e)| e.entity_ref().key())
            .collect();
        on_disk.sort();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "assets/demo and the sandbox's embedded demo disagree"
        );
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn component(name: &str) -> String {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  owner: team-a\n  lifecycle: production\n")
    }

    fn location(targets: &[&str]) -> String {
        let list: String = targets.iter().map(|t| format!("    - {t}\n")).collect();
        format!("apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: loc-{}\nspec:\n  targets:\n{list}", targets.len())
    }

    #[test]
    fn follows_locations_survives_loops_and_reports_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "catalog-info.yaml",
            &location(&["./services/a.yaml", "./services/b.yaml"]),
        );
        write(
            root,
            "services/a.yaml",
            &format!(
                "{}---\n{}",
                component("svc-a"),
                location(&["../catalog-info.yaml"])
            ),
        );
        write(
            root,
            "services/b.yaml",
            &format!(
                "{}---\nkind: [broken\n---\n{}",
                component("svc-b"),
                component("svc-c")
            ),
        );
        write(root, "team/catalog-info.yaml", &component("svc-a"));
        let load = load_tree("files", root, Links::FollowInside).unwrap();
        let mut names: Vec<_> = load
            .entities
            .iter()
            .filter(|e| e.is_kind("component"))
            .map(|e| e.metadata.name.clone())
            .collect();
        names.sort();
        assert_eq!(names, vec!["svc-a", "svc-b", "svc-c"]);
        assert_eq!(load.problems.len(), 2, "{:?}", load.problems);
        // The broken document starts on line 10; the parser notices on line 10 or 11.
        assert!(
            load.problems
                .iter()
                .any(|p| p.starts_with("services/b.yaml line 1") && p.contains(": invalid YAML")),
            "{:?}",
            load.problems
        );
        assert!(
            load.problems
                .iter()
                .any(|p| p.contains("duplicate entity component:default/svc-a")),
            "{:?}",
            load.problems
        );
    }

    #[test]
    fn locations_cannot_escape_the_tree() {
        let outer = tempfile::tempdir().unwrap();
        write(outer.path(), "secret.yaml", &component("outside"));
        write(
            outer.path(),
            "tree/catalog-info.yaml",
            &location(&["../secret.yaml", "./missing.yaml"]),
        );
        let load = load_tree("files", &outer.path().join("tree"), Links::FollowInside).unwrap();
        assert!(load.entities.iter().all(|e| e.metadata.name != "outside"));
        assert!(load
            .problems
            .iter()
            .any(|p| p.contains("outside the catalog tree")));
        assert!(load.problems.iter().any(|p| p.contains("does not exist")));
    }

    #[test]
    fn a_missing_root_is_one_clear_error() {
        let err = load_tree(
            "files",
            Path::new("/definitely/not/here"),
            Links::FollowInside,
        )
        .unwrap_err();
        assert_eq!(err.kind, FailureKind::Io);
        assert!(err
            .to_string()
            .starts_with("files: cannot open catalog directory /definitely/not/here"));
    }

    #[test]
    fn fuzzed_catalog_yaml_parses_or_fails_never_panics() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(demo.join("services"))
            .unwrap()
            .chain(std::fs::read_dir(&demo).unwrap())
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .collect();
        crate::connectors::fuzz::fuzz("catalog yaml", &seeds, |bytes| {
            for parsed in parse_catalog_documents(&String::from_utf8_lossy(bytes))
                .into_iter()
                .flatten()
            {
                let entity = parsed.entity;
                let _ = entity.entity_ref().key();
                let _ = crate::domain::relations_of(&entity);
                let _ = crate::domain::alerts::selector_problem(&entity);
                let _ = crate::domain::delivery::wiring_problem(&entity);
            }
        });
    }
}
