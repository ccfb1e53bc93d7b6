//! `opsdeck report ownership|scorecard`: reports to send round before a review.

use opsdeck::{ReportFormat, ReportKind};

use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Reports: one row per service (ownership) or per team (scorecard)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which report
    #[arg(value_parser = ["ownership", "scorecard"])]
    report: String,
    /// Only this team's services (ownership)
    #[arg(long, value_name = "TEAM")]
    team: Option<String>,
    /// With the services of every group below the team
    #[arg(long, requires = "team")]
    below: bool,
    /// table, csv (RFC 4180, formulas neutralised), json or markdown [default: table, or json with --json]
    #[arg(long, value_parser = parse_format)]
    format: Option<ReportFormat>,
}

fn parse_format(text: &str) -> Result<ReportFormat, String> {
    text.parse()
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::EVERYTHING).await?;
    let kind = match args.report.as_str() {
        "ownership" => ReportKind::Ownership,
        _ => ReportKind::Scorecard,
    };
    if kind == ReportKind::Scorecard && args.team.is_some() {
        anyhow::bail!(
            "the scorecard report covers every team; use `opsdeck scorecard --team` for one"
        );
    }
    let format = args.format.unwrap_or(if cx.json() {
        ReportFormat::Json
    } else {
        ReportFormat::Table
    });
    let report = engine
        .report(kind, args.team.as_deref(), args.below)
        .await?;
    match format {
        ReportFormat::Table => {
            let header: Vec<&str> = report.columns.iter().map(String::as_str).collect();
            output::table(&header, report.rows);
        }
        format => output::raw(&report.render(format)?),
    }
    Ok(Exit::Success)
}
