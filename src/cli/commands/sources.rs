//! `opsdeck sources`: each source with its last sync.

use opsdeck::text::clock_time;

use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Each source with its last sync, health and request budget
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(cx: &Context, _: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::NONE).await?;
    let sources = engine.sources().await?;
    if cx.json() {
        output::json(&sources)?;
        return Ok(Exit::Success);
    }
    output::table(
        &[
            "SOURCE",
            "KIND",
            "HEALTH",
            "LAST SUCCESS",
            "FAILURES",
            "ROWS",
            "REQ/1H",
            "QUOTA LEFT",
            "NEXT SYNC",
        ],
        sources.iter().map(|s| {
            vec![
                s.name.clone(),
                s.kind.as_str().into(),
                output::health_text(s.health).into(),
                s.last_success
                    .map_or("-".into(), |at| format!("{} ago", output::age(at))),
                s.consecutive_failures.to_string(),
                s.item_count.to_string(),
                s.requests_last_hour.to_string(),
                s.quota
                    .map_or("-".into(), |q| match (q.limit, q.resets_at) {
                        (Some(limit), Some(at)) => {
                            format!("{}/{limit} until {}", q.remaining, clock_time(at))
                        }
                        (Some(limit), None) => format!("{}/{limit}", q.remaining),
                        (None, _) => q.remaining.to_string(),
                    }),
                clock_time(s.next_sync),
            ]
        }),
    );
    for warning in sources.iter().filter_map(|s| s.warning.as_deref()) {
        output::notice(&format!("warning: {warning}"));
    }
    for s in sources.iter().filter(|s| s.last_error.is_some()) {
        let error = s.last_error.as_deref().unwrap_or_default();
        let label = if s.consecutive_failures > 0 {
            "error"
        } else {
            "problems"
        };
        output::line("");
        output::line(format!("{} {label}:", s.name));
        for line in error.lines().take(10) {
            output::line(format!("  {line}"));
        }
    }
    Ok(Exit::Success)
}
