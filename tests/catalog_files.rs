//! The catalog-files source: the demo tree on disk, broken files, and merging with Backstage.

use std::path::{Path, PathBuf};

use opsdeck::config::Config;
use opsdeck::sandbox::Seed;

use crate::util::{engine, no_progress, sandbox, TOKEN};

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

fn files_config(dir: &Path, extra: &str) -> Config {
    let text = format!(
        "[identity]\nemail = \"dana@demo.opsdeck.dev\"\n\n[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n{extra}",
        dir.display()
    );
    Config::parse(&text, Path::new("/tmp/opsdeck.toml")).unwrap()
}

#[test]
fn the_embedded_demo_is_exactly_the_tree_in_assets() {
    let load = opsdeck::connectors::catalog_files::load_tree("files", &demo_dir()).unwrap();
    assert!(load.problems.is_empty(), "{:?}", load.problems);
    let mut on_disk: Vec<_> = load.entities.iter().map(|e| e.entity_ref().key()).collect();
    let mut embedded: Vec<_> = opsdeck::sandbox::org::entities(Seed::Demo)
        .iter()
        .map(|(_, e)| e.entity_ref().key())
        .collect();
    on_disk.sort();
    embedded.sort();
    assert_eq!(
        on_disk, embedded,
        "assets/demo and sandbox::org::DEMO_FILES disagree"
    );
}

#[tokio::test]
async fn a_broken_file_costs_only_its_bad_document() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path();
    std::fs::write(
        tree.join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets: [./team.yaml, ./broken.yaml]\n",
    )
    .unwrap();
    std::fs::write(
        tree.join("team.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: checkout\nspec:\n  type: team\n  children: []\n",
    )
    .unwrap();
    std::fs::write(
        tree.join("broken.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: good-one\nspec:\n  type: service\n  owner: checkout\n  lifecycle: production\n  dependsOn: [cart-service]\n---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: bad-one\n  tags: [unclosed\n",
    )
    .unwrap();
    let engine = engine(files_config(tree, ""), None).await;
    let report = &engine.sync(None, &no_progress).await.unwrap()[0];
    assert!(report.landed, "the sync lands with the good entities");
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert_eq!(
        report.problems[1],
        "component:default/good-one: spec.dependsOn: entity reference 'cart-service' needs a kind (write it as kind:name)",
        "a reference that cannot become a relation is reported, not dropped"
    );
    assert!(
        report.problems[0].starts_with("broken.yaml line 1"),
        "{}",
        report.problems[0]
    );
    assert!(report.problems[0].contains("invalid YAML"));
    let services = engine.services(Some("checkout")).await.unwrap();
    assert_eq!(
        services.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        vec!["good-one"]
    );
    let state = &engine.sources().await.unwrap()[0];
    assert!(state
        .last_error
        .as_deref()
        .unwrap()
        .contains("broken.yaml line 1"));
    assert!(state.last_success.is_some());
}

#[tokio::test]
async fn one_entity_from_two_sources_is_one_row_and_the_first_source_wins() {
    let sandbox = sandbox(Seed::Demo).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout-api\n  title: Checkout API (local)\nspec:\n  type: service\n  owner: checkout\n  lifecycle: production\n",
    )
    .unwrap();
    let backstage = format!(
        "[[sources]]\nname = \"catalog\"\nkind = \"backstage\"\nurl = \"{}\"\ntoken_env = \"OPSDECK_SANDBOX_TOKEN\"\n",
        sandbox.url()
    );
    let engine = engine(files_config(dir.path(), &backstage), Some(TOKEN)).await;
    // Sync Backstage last: the files source still wins because it comes first in the config.
    engine.sync(Some("files"), &no_progress).await.unwrap();
    engine.sync(Some("catalog"), &no_progress).await.unwrap();
    let hits = engine.search("checkout-api", 10).await.unwrap();
    assert_eq!(
        hits.iter()
            .filter(|h| h.key == "component:default/checkout-api")
            .count(),
        1
    );
    let detail = engine.service("checkout-api").await.unwrap();
    assert_eq!(detail.sources, vec!["files", "catalog"]);
    assert_eq!(detail.title, "Checkout API (local)");
    assert_eq!(
        engine.services(Some("checkout")).await.unwrap().len(),
        8,
        "not duplicated"
    );
}

#[tokio::test]
async fn the_schedule_brings_changes_in_without_anyone_asking() {
    let dir = tempfile::tempdir().unwrap();
    let component = |name: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  owner: checkout\n  lifecycle: production\n")
    };
    std::fs::write(dir.path().join("catalog-info.yaml"), component("first")).unwrap();
    let engine = engine(files_config(dir.path(), "interval = \"200ms\"\n"), None).await;
    let reports = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let schedule = tokio::spawn({
        let (engine, reports) = (engine.clone(), reports.clone());
        async move {
            let counted = move |_: &opsdeck::api::SyncReport| {
                reports.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            };
            engine.sync_on_schedule(&no_progress, &counted).await;
        }
    });
    let names = || async {
        engine
            .services(None)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while names().await != ["first"] {
        assert!(
            std::time::Instant::now() < deadline,
            "the first scheduled sync did not land"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    std::fs::write(
        dir.path().join("catalog-info.yaml"),
        format!("{}---\n{}", component("first"), component("second")),
    )
    .unwrap();
    while names().await != ["first", "second"] {
        assert!(
            std::time::Instant::now() < deadline,
            "the change was not synced on the next interval"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The rows land just before the report is handed over: wait for it too.
    while reports.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "each sync reports to the face"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    schedule.abort();
}
