//! The catalog-files source: the demo tree on disk, broken files, and merging with Backstage.

use std::path::Path;

use opsdeck::config::Config;
use opsdeck_sandbox::Seed;

use crate::util::{engine, no_progress, sandbox, TOKEN};

/// The names of every service in the cache, in name order.
async fn service_names(engine: &opsdeck::Engine) -> Vec<String> {
    engine
        .services(None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect()
}

fn files_config(dir: &Path, extra: &str) -> Config {
    let text = format!(
        "[identity]\nemail = \"dana@demo.opsdeck.dev\"\n\n[[sources]]\nname = \"files\"\nkind = \"catalog-files\"\npath = \"{}\"\n{extra}",
        dir.display()
    );
    Config::parse(&text, Path::new("/tmp/opsdeck.toml")).unwrap()
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
    let engine = engine(files_config(dir.path(), "interval = \"1s\"\n"), None).await;
    // What the desktop asks before it holds its sync loop back for the first frame.
    assert!(
        !engine.holds_catalog().await,
        "an empty cache has nothing to show"
    );
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
    let names = || service_names(&engine);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while names().await != ["first"] {
        assert!(
            std::time::Instant::now() < deadline,
            "the first scheduled sync did not land"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(engine.holds_catalog().await);
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

/// Everything a screen can show of the cache, to compare two caches.
async fn everything(engine: &opsdeck::Engine) -> serde_json::Value {
    let mut details = Vec::new();
    for s in engine.services(None).await.unwrap() {
        details.push(serde_json::to_value(engine.service(&s.key).await.unwrap()).unwrap());
    }
    serde_json::json!({
        "teams": engine.teams().await.unwrap(),
        "services": engine.services(None).await.unwrap(),
        "orphans": engine.orphaned_services().await.unwrap(),
        "details": details,
        "search": engine.search("c", 50).await.unwrap(),
    })
}

#[tokio::test]
async fn a_sync_writes_only_what_changed_and_ends_where_a_fresh_sync_would() {
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, text: &str| std::fs::write(dir.path().join(file), text).unwrap();
    let component = |name: &str, owner: &str, depends: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  owner: {owner}\n  lifecycle: production\n  dependsOn: [{depends}]\n")
    };
    let group = |name: &str, members: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {name}\nspec:\n  type: team\n  children: []\n  members: [{members}]\n")
    };
    let user = |name: &str, team: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: {name}\nspec:\n  profile:\n    email: {name}@example.com\n  memberOf: [{team}]\n")
    };
    write(
        "catalog-info.yaml",
        &format!(
            "{}---\n{}---\n{}",
            component("api", "checkout", "component:db-proxy"),
            component("db-proxy", "storage", ""),
            user("dana", "checkout")
        ),
    );
    let incremental = engine(files_config(dir.path(), ""), None).await;
    let sync = |engine: &opsdeck::Engine| {
        let engine = engine.clone();
        async move { engine.sync(None, &no_progress).await.unwrap().remove(0) }
    };
    let first = sync(&incremental).await;
    assert_eq!(first.rows_written, 3);
    assert_eq!(incremental.orphaned_services().await.unwrap().len(), 2);

    // Nothing new: nothing written.
    let again = sync(&incremental).await;
    assert!(again.landed && again.rows_written == 0, "{again:?}");
    assert_eq!(
        incremental.sources().await.unwrap()[0].last_rows_written,
        Some(0)
    );

    // Each step changes a few entities; after each, the cache equals a fresh sync's.
    let mut documents: std::collections::BTreeMap<&str, String> = [
        ("api", component("api", "checkout", "component:db-proxy")),
        ("db-proxy", component("db-proxy", "storage", "")),
        ("dana", user("dana", "checkout")),
    ]
    .into();
    // (step, documents added, changed or removed, rows written)
    type Step<'a> = (&'a str, Vec<(&'a str, Option<String>)>, i64);
    let steps: Vec<Step> = vec![
        // An owner appears: its services stop being orphans without being rewritten.
        (
            "owner appears",
            vec![("checkout", Some(group("checkout", "dana")))],
            1,
        ),
        // A dependency goes, another owner appears, a member moves.
        (
            "edges change",
            vec![
                ("api", Some(component("api", "checkout", ""))),
                ("storage", Some(group("storage", "dana"))),
                ("dana", Some(user("dana", "storage"))),
            ],
            3,
        ),
        // The owner goes again.
        ("owner goes", vec![("checkout", None)], 1),
    ];
    for (step, changes, written) in steps {
        for (name, text) in changes {
            match text {
                Some(text) => documents.insert(name, text),
                None => documents.remove(name),
            };
        }
        write(
            "catalog-info.yaml",
            &documents
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .join("---\n"),
        );
        let report = sync(&incremental).await;
        assert!(report.landed, "{report:?}");
        assert_eq!(report.rows_written, written, "{step}");
        let fresh = engine(files_config(dir.path(), ""), None).await;
        sync(&fresh).await;
        assert_eq!(
            everything(&incremental).await,
            everything(&fresh).await,
            "after: {step}"
        );
    }
}

#[tokio::test]
async fn faults_in_a_catalog_tree_never_cost_cached_entities() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let component = |name: &str| {
        format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  owner: checkout\n  lifecycle: production\n")
    };
    std::fs::write(
        tree.join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets: [./a.yaml, ./b.yaml]\n",
    )
    .unwrap();
    let whole_a = format!("{}---\n{}", component("a1"), component("a2"));
    std::fs::write(tree.join("a.yaml"), &whole_a).unwrap();
    std::fs::write(tree.join("b.yaml"), component("b1")).unwrap();
    let engine = engine(files_config(&tree, ""), None).await;
    let names = || service_names(&engine);
    let sync = || async { engine.sync(None, &no_progress).await.unwrap().remove(0) };
    assert!(sync().await.landed);
    let all = vec!["a1", "a2", "b1"];
    assert_eq!(names().await, all);

    // Cut inside the second document's metadata, as a write caught half-way leaves it.
    let truncated = &whole_a[..whole_a.rfind("name: a2").unwrap() + 2];
    for (fault, text) in [
        ("a file cut off mid-document", truncated.as_bytes().to_vec()),
        (
            "a file of binary garbage",
            vec![0xff, 0xfe, 0x00, 0x9c, 0x42],
        ),
        (
            "a file of valid YAML that is no entity",
            b"- just\n- a list\n".to_vec(),
        ),
    ] {
        std::fs::write(tree.join("a.yaml"), text).unwrap();
        let report = sync().await;
        assert!(report.landed, "{fault}");
        assert_eq!(names().await, all, "{fault}: nothing is lost");
        assert!(
            report.problems.iter().any(|p| p.starts_with("a.yaml")),
            "{fault}: the file is named: {:?}",
            report.problems
        );
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("kept as last read")),
            "{fault}: {:?}",
            report.problems
        );
    }

    // A file a Location names goes missing (a checkout mid-way): kept too.
    std::fs::remove_file(tree.join("a.yaml")).unwrap();
    let report = sync().await;
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("Location target './a.yaml' does not exist")),
        "{:?}",
        report.problems
    );
    assert_eq!(names().await, all);

    // The whole tree is gone: the sync fails, the cache stays, the source says so.
    std::fs::rename(&tree, dir.path().join("moved")).unwrap();
    let report = sync().await;
    assert!(!report.landed);
    assert!(
        report.problems[0].contains("cannot open catalog directory"),
        "{:?}",
        report.problems
    );
    assert_eq!(names().await, all);
    assert_eq!(
        engine.sources().await.unwrap()[0].health,
        opsdeck::domain::Health::Failing
    );

    // Back, with a2 removed on purpose: the removal is real and lands.
    std::fs::rename(dir.path().join("moved"), &tree).unwrap();
    std::fs::write(tree.join("a.yaml"), component("a1")).unwrap();
    let report = sync().await;
    assert!(
        report.landed && report.problems.is_empty(),
        "{:?}",
        report.problems
    );
    assert_eq!(names().await, vec!["a1", "b1"]);
    assert_eq!(
        engine.sources().await.unwrap()[0].health,
        opsdeck::domain::Health::Fresh
    );
}

fn component_yaml(name: &str) -> String {
    format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  owner: checkout\n  lifecycle: production\n")
}

#[tokio::test]
async fn links_devices_fifos_and_huge_files_are_each_their_files_problem() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret.yaml"),
        component_yaml("from-outside"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path();
    let write = |rel: &str, text: &str| {
        let path = tree.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("good/catalog-info.yaml", &component_yaml("good-one"));
    write("shared/real.yaml", &component_yaml("linked-inside"));
    let link = |target: &Path, rel: &str| {
        let path = tree.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
    };
    link(Path::new("/dev/zero"), "zero/catalog-info.yaml");
    link(
        &outside.path().join("secret.yaml"),
        "escape/catalog-info.yaml",
    );
    link(&tree.join("shared/real.yaml"), "inside/catalog-info.yaml");
    std::fs::create_dir_all(tree.join("fifo")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(tree.join("fifo/catalog-info.yml"))
        .status()
        .unwrap();
    assert!(made.success());
    // Past the cap, and valid YAML all the way, so only its size can refuse it.
    write(
        "huge/catalog-info.yaml",
        &format!("{}# {}\n", component_yaml("huge-one"), "x".repeat(5 << 20)),
    );
    // A Location naming the FIFO and /dev/zero through a link inside the tree.
    link(Path::new("/dev/zero"), "loc/zero.yaml");
    write(
        "loc/catalog-info.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: loc\nspec:\n  targets: [./zero.yaml, ../fifo/catalog-info.yml]\n",
    );

    let engine = engine(files_config(tree, ""), None).await;
    let report = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        engine.sync(None, &no_progress),
    )
    .await
    .expect("no file hangs the sync")
    .unwrap()
    .remove(0);
    assert!(report.landed, "{:?}", report.problems);
    assert_eq!(service_names(&engine).await, ["good-one", "linked-inside"]);
    let said = |needle: &str| {
        assert!(
            report.problems.iter().any(|p| p.contains(needle)),
            "no problem says {needle:?}: {:#?}",
            report.problems
        )
    };
    said("zero/catalog-info.yaml: a symbolic link out of the catalog tree; not followed");
    said("escape/catalog-info.yaml: a symbolic link out of the catalog tree; not followed");
    said("fifo/catalog-info.yml: not a regular file");
    said("huge/catalog-info.yaml: larger than 4 MB; not read");
    said("Location target './zero.yaml' is outside the catalog tree");
    assert!(
        !report.problems.iter().any(|p| p.contains("from-outside")),
        "nothing from outside the tree is read"
    );

    // Links not followed at all, when the source says so.
    let strict = engine.reconfigured(
        files_config(tree, "follow_links = false\n"),
        Default::default(),
    );
    let report = strict.sync(None, &no_progress).await.unwrap().remove(0);
    assert!(report.landed);
    assert_eq!(service_names(&strict).await, ["good-one"]);
    assert!(report
        .problems
        .iter()
        .any(|p| p.contains("inside/catalog-info.yaml: a symbolic link; not followed")));
    // A Location naming a link inside the tree is refused too.
    link(&tree.join("shared/real.yaml"), "loc/inside.yaml");
    write(
        "loc2/catalog-info.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: loc2\nspec:\n  targets: [../loc/inside.yaml]\n",
    );
    let report = strict.sync(None, &no_progress).await.unwrap().remove(0);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p
                .contains("Location target '../loc/inside.yaml' is a symbolic link; not followed")),
        "{:#?}",
        report.problems
    );
    assert_eq!(service_names(&strict).await, ["good-one"]);
}
