//! `opsdeck teams`: teams, mine first.

use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Teams, mine first
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
        &["MINE", "TEAM", "TITLE", "SERVICES", "MEMBERS", "GAPS"],
        teams.iter().map(|t| {
            vec![
                if t.is_mine { "*".into() } else { String::new() },
                t.name.clone(),
                t.title.clone(),
                t.service_count.to_string(),
                t.member_count.to_string(),
                t.gap_count.to_string(),
            ]
        }),
    );
    Ok(Exit::Success)
}
