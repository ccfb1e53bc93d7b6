//! `opsdeck teams`: the team tree, with counts of each group's own and of everything below it.

use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Teams as a tree (each group above the groups below it), my teams' branches first
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(cx: &Context, _: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::CATALOG).await?;
    let teams = engine.teams().await?;
    if cx.json() {
        output::json(&teams)?;
        return Ok(Exit::Success);
    }
    output::table(
        &[
            "MINE",
            "TEAM",
            "TYPE",
            "SERVICES",
            "BELOW",
            "MEMBERS",
            "GAPS",
            "GAPS BELOW",
        ],
        teams.iter().map(|t| {
            vec![
                if t.is_mine { "*".into() } else { String::new() },
                format!("{}{}", output::indent(t.depth), t.name),
                t.title.clone(),
                t.group_type.clone().unwrap_or_default(),
                t.service_count.to_string(),
                t.service_count_below.to_string(),
                t.member_count.to_string(),
                t.gap_count.to_string(),
                t.gap_count_below.to_string(),
            ]
        }),
    );
    Ok(Exit::Success)
}
