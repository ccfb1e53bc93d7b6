//! The team lead's review against the demo: the org tree with counts rolled up, a team's page,
//! scorecards with a spread of levels, and reports equal through the CLI and the engine.

use opsdeck::config::Config;
use opsdeck::secrets::Secrets;
use opsdeck::{Engine, ReportFormat, ReportKind};

use crate::util::{demo_with, sandbox, Workspace};
use opsdeck_sandbox::org::Seed;

#[tokio::test]
async fn the_demo_is_a_tree_with_counts_rolled_up() {
    let (_sandbox, engine) = demo_with("").await;
    let teams = engine.teams().await.unwrap();
    let find = |name: &str| teams.iter().find(|t| t.name == name).unwrap();
    let engineering = find("engineering");
    assert_eq!(
        (engineering.depth, engineering.parent.as_deref()),
        (0, None)
    );
    assert_eq!(engineering.service_count, 0);
    assert_eq!(
        engineering.service_count_below, 61,
        "every service but the orphan"
    );
    let platform = find("platform");
    assert_eq!((platform.depth, platform.child_count), (1, 2));
    assert_eq!(
        (platform.service_count, platform.service_count_below),
        (4, 8)
    );
    assert_eq!(find("platform-build").depth, 2);
    // Tree order: a group before the groups below it.
    let at = |name: &str| teams.iter().position(|t| t.name == name).unwrap();
    assert!(at("engineering") < at("checkout") && at("platform") < at("platform-build"));

    let page = engine.team("platform-build").await.unwrap();
    assert_eq!(
        page.ancestors
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        vec!["engineering", "platform"]
    );
    assert_eq!(page.members.len(), 1);
    assert!(page.members[0].in_rotation, "{:?}", page.members);
    // Its services are part of a system the parent team owns: which one answers?
    assert_eq!(page.system_mismatches.len(), 2);
    assert_eq!(
        page.system_mismatches[0]
            .system_owner
            .as_ref()
            .unwrap()
            .name,
        "platform"
    );
    let parent = engine.team("platform").await.unwrap();
    assert_eq!(
        parent
            .sub_teams
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        vec!["platform-build", "platform-runtime"]
    );
    let kinds: Vec<&str> = parent.owns.iter().map(|o| o.kind.as_str()).collect();
    assert!(
        kinds.contains(&"system") && kinds.contains(&"api"),
        "{kinds:?}"
    );
    assert!(parent.tree_problems.is_empty());
}

#[tokio::test]
async fn scorecards_spread_the_demo_across_levels() {
    let (_sandbox, engine) = demo_with("").await;
    let org = engine.scorecard(None, true).await.unwrap();
    assert_eq!(org.tally.services, 62);
    let level = |name: &str| {
        org.teams
            .iter()
            .find(|t| t.key == format!("group:default/{name}"))
            .map(|t| t.level.clone())
            .unwrap()
    };
    assert_eq!(level("checkout"), "gold");
    assert_eq!(level("platform-build"), "silver");
    assert_eq!(level("search"), "bronze");
    assert_eq!(level("engineering"), "gold");

    let orphan = engine.service_scorecard("legacy-reports").await.unwrap();
    assert_eq!(orphan.row.level, "none");
    let owner = orphan.fixes.iter().find(|f| f.check.id == "owner").unwrap();
    assert!(owner.detail.contains("is not in the catalog"), "{owner:?}");
    assert!(owner.snippet.as_deref().unwrap().contains("owner:"));

    let build = engine
        .scorecard(Some("platform-build"), false)
        .await
        .unwrap();
    let registry = build
        .services
        .iter()
        .find(|s| s.name == "artifact-registry")
        .unwrap();
    let rotation = registry
        .outcomes
        .iter()
        .find(|o| o.check == "rotation")
        .unwrap();
    assert!(!rotation.passed && rotation.detail.contains("1 person at level 1"));
    assert_eq!(build.trend.len(), 1, "today's point");
}

// The CLI blocks a thread while the sandbox serves it from another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_the_same_through_the_cli_and_the_engine() {
    let sandbox = sandbox(Seed::Demo).await;
    let ws = Workspace::new(&sandbox.config_toml());
    let cli = |args: &[&str]| ws.stdout(args);
    cli(&["sync"]);
    let csv = cli(&[
        "report",
        "ownership",
        "--team",
        "platform",
        "--below",
        "--format",
        "csv",
    ]);
    let scorecard = cli(&["report", "scorecard", "--format", "markdown"]);
    let json = cli(&["report", "ownership", "--json"]);

    let engine = Engine::open(
        Config::load(&ws.config()).unwrap(),
        &ws.db(),
        Secrets::default(),
    )
    .await
    .unwrap();
    let ownership = engine
        .report(ReportKind::Ownership, Some("platform"), true)
        .await
        .unwrap();
    assert_eq!(csv, ownership.render(ReportFormat::Csv).unwrap());
    assert_eq!(ownership.rows.len(), 8);
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("service,owner,team path,tier,lifecycle,level,owner,"));
    assert!(header.ends_with("on call L1,on call L2,last production deploy,open incidents"));
    assert!(
        csv.contains("open incidents\r\n"),
        "RFC 4180 ends records with CRLF"
    );
    assert!(
        csv.contains("artifact-registry,platform-build,engineering / platform / platform-build,2,production,silver,"),
        "{csv}"
    );
    let all = engine
        .report(ReportKind::Scorecard, None, false)
        .await
        .unwrap();
    assert_eq!(scorecard, all.render(ReportFormat::Markdown).unwrap());
    assert!(
        scorecard.contains("| (organisation) |  | 62 |"),
        "{scorecard}"
    );
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 62);
    assert_eq!(rows[0]["service"], "ab-test-assigner");

    // The desktop's Export: a file in the folder, never over another.
    let export = || {
        engine.export_report(
            ReportKind::Ownership,
            Some("platform"),
            ReportFormat::Csv,
            ws.dir.path(),
        )
    };
    let first = export().await.unwrap();
    let second = export().await.unwrap();
    assert_ne!(first, second);
    assert_eq!(std::fs::read_to_string(&first).unwrap(), csv);
    assert!(first
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("opsdeck-ownership-platform-"));
}
