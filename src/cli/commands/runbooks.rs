//! `opsdeck runbooks SERVICE` lists a service's runbooks; `opsdeck runbook SERVICE NAME` gives
//! one's address, opens, prints or runs it.

use anyhow::anyhow;
use clap_complete::ArgValueCompleter;
use opsdeck::api::{RunbookAsk, RunbookRow};
use opsdeck::domain::delivery::DeployStatus;
use opsdeck::domain::runbooks::{RunbookKind, RunbookOrigin};
use opsdeck::text::clock_time;

use crate::cli::complete::service_names;
use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// What `--incident` and `--env` ask runbooks to be filled in for.
#[derive(Debug, clap::Args)]
pub struct Fill {
    /// Fill `{incident_id}` with this incident
    #[arg(long)]
    incident: Option<String>,
    /// Fill `{env}` and `{version}` for this environment [default: production]
    #[arg(long = "env", value_name = "ENV")]
    environment: Option<String>,
}

impl Fill {
    fn ask(self) -> RunbookAsk {
        RunbookAsk {
            incident_id: self.incident,
            alert: None,
            environment: self.environment,
        }
    }
}

/// A service's runbooks (its own, its system's and team's, its alerts'), filled in
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Service name or entity reference
    #[arg(add = ArgValueCompleter::new(service_names))]
    service: String,
    #[command(flatten)]
    fill: Fill,
}

/// Open, print or run one runbook of a service (by number or title, as `runbooks` lists
/// them); prints its filled-in address by default
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Service name or entity reference
    #[arg(add = ArgValueCompleter::new(service_names))]
    service: String,
    /// Its number in `opsdeck runbooks SERVICE`, or its title
    name: String,
    /// Open it in the browser (http and https only)
    #[arg(long, conflicts_with_all = ["print", "run"])]
    open: bool,
    /// Print a markdown runbook (from the cache; `--refresh` reads GitHub first)
    #[arg(long, conflicts_with = "run")]
    print: bool,
    /// Read the markdown from GitHub before printing
    #[arg(long, requires = "print")]
    refresh: bool,
    /// Run an automated runbook (a workflow) and follow it to its conclusion
    #[arg(long)]
    run: bool,
    /// An input of the workflow, `name=value` (repeatable)
    #[arg(long = "input", value_name = "NAME=VALUE", requires = "run")]
    inputs: Vec<String>,
    #[command(flatten)]
    fill: Fill,
}

pub async fn list(cx: &Context, args: ListArgs) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::CATALOG).await?;
    let rows = engine.runbooks(&args.service, &args.fill.ask()).await?;
    if cx.json() {
        output::json(&rows)?;
    } else {
        print_runbooks(&rows);
    }
    Ok(Exit::Success)
}

/// A service's runbooks, numbered as `opsdeck runbook` takes them.
fn print_runbooks(rows: &[RunbookRow]) {
    if rows.is_empty() {
        output::line(
            "no runbooks: add a link of type runbook to the service, its system or its team",
        );
        return;
    }
    output::table(
        &["#", "TITLE", "KIND", "FROM", "ADDRESS"],
        rows.iter().enumerate().map(|(i, r)| {
            let kind = match &r.kind {
                RunbookKind::Link => "page".to_string(),
                RunbookKind::Markdown { .. } => match r.cached_at {
                    Some(at) => format!("markdown (read {} ago)", output::age(at)),
                    None => "markdown (not read yet)".to_string(),
                },
                RunbookKind::Automated { .. } => "automated".to_string(),
            };
            let from = match &r.origin {
                RunbookOrigin::Service => "service".to_string(),
                RunbookOrigin::System(name) => format!("system {name}"),
                RunbookOrigin::Team(name) => format!("team {name}"),
                RunbookOrigin::Alert(name) => format!("alert {name}"),
            };
            let address = match &r.refused {
                Some(problem) => format!("{} (refused: {problem})", r.url),
                None => r.url.clone(),
            };
            vec![(i + 1).to_string(), r.title.clone(), kind, from, address]
        }),
    );
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::CATALOG).await?;
    let service = args.service.as_str();
    let ask = args.fill.ask();
    let rows = engine.runbooks(service, &ask).await?;
    let row = match args.name.parse::<usize>() {
        Ok(n) if (1..=rows.len()).contains(&n) => rows.get(n - 1),
        _ => rows
            .iter()
            .find(|r| r.title.eq_ignore_ascii_case(args.name.trim())),
    }
    .ok_or_else(|| {
        anyhow!(
            "{service} has no runbook '{}' (see `opsdeck runbooks {service}`)",
            args.name
        )
    })?;
    if args.open {
        let url = engine.launch_runbook(service, &row.template, &ask).await?;
        open::that_detached(&url).map_err(|e| anyhow!("cannot open {url}: {e}"))?;
        if cx.json() {
            output::json(&serde_json::json!({"opened": url}))?;
        } else {
            output::progress(&format!("opened {url}"));
        }
    } else if args.print {
        let document = engine
            .runbook_document(service, &row.template, args.refresh)
            .await?;
        if cx.json() {
            output::json(&document)?;
        } else {
            output::progress(&format!(
                "{}/{} · confirmed by GitHub {} ago",
                document.repo,
                document.path,
                output::age(document.confirmed_at)
            ));
            // Untrusted text: shown, never run.
            output::lines(&document.markdown);
        }
    } else if args.run {
        let mut inputs = std::collections::BTreeMap::new();
        for pair in &args.inputs {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| anyhow!("--input {pair}: use NAME=VALUE"))?;
            inputs.insert(k.trim().to_string(), v.to_string());
        }
        let run = engine
            .run_runbook(service, &row.template, &ask, &inputs)
            .await?;
        let end = engine
            .track_runbook(run, &|p| {
                output::progress(&format!(
                    "{}  {:<11} {}",
                    clock_time(chrono::Utc::now()),
                    p.status.as_str(),
                    p.message
                ))
            })
            .await?;
        if cx.json() {
            output::json(&end)?;
        } else {
            output::line(format!(
                "{}: {} — {}{}",
                end.title,
                end.status.as_str(),
                end.message,
                end.link
                    .as_deref()
                    .map(|l| format!("  {l}"))
                    .unwrap_or_default()
            ));
        }
        return Ok(Exit::from_success(end.status == DeployStatus::Success));
    } else if cx.json() {
        output::json(row)?;
    } else {
        output::line(&row.url);
    }
    Ok(Exit::Success)
}
