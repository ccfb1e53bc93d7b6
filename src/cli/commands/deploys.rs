//! `opsdeck deploys`: the activity feed.

use clap_complete::ArgValueCompleter;
use opsdeck::api::DeploymentRow;
use opsdeck::domain::delivery::DeployStatus;
use opsdeck::ActivityFilter;

use crate::cli::complete::{service_names, team_names};
use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Deploys, newest first, across teams
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this team's services
    #[arg(long, add = ArgValueCompleter::new(team_names))]
    team: Option<String>,
    /// Only this service
    #[arg(long, add = ArgValueCompleter::new(service_names))]
    service: Option<String>,
    /// Only this environment
    #[arg(long)]
    env: Option<String>,
    /// Only this status (success, failure, in_progress, queued, waiting, …)
    #[arg(long)]
    status: Option<DeployStatus>,
    /// Only deploys this recent, e.g. 24h, 7d
    #[arg(long, value_parser = humantime::parse_duration)]
    since: Option<std::time::Duration>,
    /// At most this many
    #[arg(long, default_value_t = 50)]
    limit: i64,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::DELIVERY).await?;
    let filter = ActivityFilter {
        team: args.team,
        service: args.service,
        environment: args.env,
        status: args.status,
        since_seconds: args
            .since
            .map(|since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX)),
        after: None,
        limit: args.limit,
    };
    let rows = engine.activity(&filter).await?;
    if cx.json() {
        output::json(&rows)?;
    } else {
        print_deploys(&rows);
    }
    Ok(Exit::Success)
}

fn print_deploys(rows: &[DeploymentRow]) {
    output::table(
        &[
            "WHEN", "SERVICE", "ENV", "VERSION", "STATUS", "BY", "COMMIT",
        ],
        rows.iter().map(|d| {
            let version = match &d.rolled_back_from {
                Some(from) => format!("{} (rollback from {from})", d.version),
                None => d.version.clone(),
            };
            vec![
                format!("{} ago", output::age(d.started_at)),
                d.service.name.clone(),
                d.environment.clone(),
                version,
                output::status_text(d.status).to_string(),
                output::or_dash(d.actor.as_deref()),
                d.commit.as_deref().map_or("-".into(), output::short),
            ]
        }),
    );
}
