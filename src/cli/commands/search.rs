//! `opsdeck search WORDS`: services, teams, people and systems.

use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Search services, teams, people and systems
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Words to find (prefixes match)
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::CATALOG).await?;
    let hits = engine.search(&args.text.join(" "), 50).await?;
    if cx.json() {
        output::json(&hits)?;
        return Ok(Exit::Success);
    }
    output::table(
        &["KIND", "NAME", "TITLE", "CONTEXT"],
        hits.iter().map(|h| {
            vec![
                h.kind.clone(),
                h.name.clone(),
                h.title.clone(),
                h.context.clone().unwrap_or_default(),
            ]
        }),
    );
    Ok(Exit::Success)
}
