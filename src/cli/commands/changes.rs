//! `opsdeck changes SERVICE --from A --to B`: the commits between two versions.

use clap_complete::ArgValueCompleter;

use crate::cli::complete::service_names;
use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// The commits between two deployed versions of a service (read from GitHub when not cached)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Service name or entity reference
    #[arg(add = ArgValueCompleter::new(service_names))]
    service: String,
    /// The older version
    #[arg(long)]
    from: String,
    /// The newer version
    #[arg(long)]
    to: String,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::DELIVERY).await?;
    let changes = engine
        .changes(&args.service, &args.from, &args.to, true)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("GitHub gave no comparison of {} and {}", args.from, args.to)
        })?;
    if cx.json() {
        output::json(&changes)?;
        return Ok(Exit::Success);
    }
    output::line(format!(
        "{} → {}: {} commits{}",
        changes.from_version,
        changes.to_version,
        changes.total_commits,
        changes
            .link
            .as_deref()
            .map_or(String::new(), |l| format!("  {l}"))
    ));
    output::table(
        &["COMMIT", "AUTHOR", "WHEN", "TITLE"],
        changes.commits.iter().map(|c| {
            vec![
                output::short(&c.sha),
                output::or_dash(c.author.as_deref()),
                c.authored_at.map_or("-".into(), output::age),
                c.title.clone(),
            ]
        }),
    );
    Ok(Exit::Success)
}
