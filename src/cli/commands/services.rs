//! `opsdeck services`: a team's services, all of them, or the orphans.

use clap_complete::ArgValueCompleter;

use crate::cli::complete::team_names;
use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Services of a team, or all of them
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Team name
    #[arg(long, conflicts_with = "orphans", add = ArgValueCompleter::new(team_names))]
    team: Option<String>,
    /// Only services whose owner group is missing
    #[arg(long)]
    orphans: bool,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::CATALOG).await?;
    let services = if args.orphans {
        engine.orphaned_services().await?
    } else {
        engine.services(args.team.as_deref()).await?
    };
    if cx.json() {
        output::json(&services)?;
        return Ok(Exit::Success);
    }
    output::table(
        &["SERVICE", "TIER", "LIFECYCLE", "SYSTEM", "GAPS"],
        services.iter().map(|s| {
            vec![
                s.name.clone(),
                output::or_dash(s.tier.as_deref()),
                output::or_dash(s.lifecycle.as_deref()),
                output::or_dash(s.system.as_deref()),
                s.gaps
                    .iter()
                    .map(|g| g.describe())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        }),
    );
    Ok(Exit::Success)
}
