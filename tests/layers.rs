//! The design card's seams, checked on the source: domain rules do no I/O, connectors know no
//! database, the store knows no HTTP, and the faces hold no SQL.

use std::path::Path;

/// Rust files under `dir`, or `dir` itself when it names a file.
fn sources_under(dir: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

fn assert_free_of(dir: &str, forbidden: &[&str]) {
    for (file, text) in sources_under(dir) {
        for word in forbidden {
            assert!(
                !text.contains(word),
                "{file} mentions `{word}`: that belongs to another layer"
            );
        }
    }
}

#[test]
fn domain_does_no_io() {
    assert_free_of(
        "src/domain",
        &["sqlx", "reqwest", "tokio", "std::fs", "std::net", "axum"],
    );
}

#[test]
fn connectors_know_no_database() {
    assert_free_of("src/connectors", &["sqlx", "crate::store"]);
}

#[test]
fn store_knows_no_http() {
    assert_free_of("src/store", &["reqwest", "axum", "crate::connectors"]);
}

#[test]
fn faces_hold_no_sql_and_no_http() {
    assert_free_of("src-tauri/src", &["sqlx", "reqwest", "SELECT "]);
    assert_free_of("src/main.rs", &["sqlx", "reqwest", "SELECT "]);
}
