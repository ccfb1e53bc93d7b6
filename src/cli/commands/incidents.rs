//! `opsdeck incidents`: PagerDuty incidents from the cache.

use clap_complete::ArgValueCompleter;
use opsdeck::domain::oncall::IncidentStatus;

use crate::cli::commands::oncall::print_incidents;
use crate::cli::complete::team_names;
use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// PagerDuty incidents, triggered first, newest first
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only incidents on this team's services
    #[arg(long, add = ArgValueCompleter::new(team_names))]
    team: Option<String>,
    /// Statuses to list
    #[arg(long, value_delimiter = ',', default_value = "triggered,acknowledged")]
    status: Vec<IncidentStatus>,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::ON_CALL).await?;
    let rows = engine.incidents(args.team.as_deref(), &args.status).await?;
    if cx.json() {
        output::json(&rows)?;
    } else {
        print_incidents(&rows);
    }
    Ok(Exit::Success)
}
