//! `opsdeck sources`: each source with its last sync; `opsdeck sources check`: each source's
//! connection tested.

use opsdeck::config_file::ConfigFile;
use opsdeck::text::clock_time;

use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Each source with its last sync, health and request budget
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<SourcesCommand>,
}

#[derive(Debug, clap::Subcommand)]
enum SourcesCommand {
    /// Test each source's connection (or NAME's) with one cheap, read-only call: says what it
    /// found or exactly what is wrong; exits 1 when any fails. Nothing is cached.
    Check {
        /// Source name from the config [default: every source]
        name: Option<String>,
    },
    /// Remove a source from the config file (its comments go with it; the rest is kept)
    Remove {
        /// Source name from the config
        name: String,
    },
    /// Move a source to another place in the config's precedence order (1 is first: its
    /// entities win over the same entity from a later source)
    Move {
        /// Source name from the config
        name: String,
        /// Its new place, from 1
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        to: u64,
    },
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    match args.command {
        None => list(cx).await,
        Some(SourcesCommand::Check { name }) => check(cx, name).await,
        Some(SourcesCommand::Remove { name }) => edit(cx, &name, |file| file.remove_source(&name)),
        Some(SourcesCommand::Move { name, to }) => {
            let index = usize::try_from(to - 1).unwrap_or(usize::MAX);
            edit(cx, &name, |file| file.move_source(&name, index))
        }
    }
}

/// Edits the config file in place with `change`, which says whether `name` was there.
fn edit(
    cx: &Context,
    name: &str,
    change: impl FnOnce(&mut ConfigFile) -> bool,
) -> anyhow::Result<Exit> {
    let path = cx.config_path()?;
    let mut file = ConfigFile::open(&path)?;
    if !change(&mut file) {
        return Err(opsdeck::Error::UnknownSource(name.to_string()).into());
    }
    let config = file.save()?;
    let order: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    if cx.json() {
        output::json(&serde_json::json!({"path": path, "sources": order}))?;
    } else {
        output::progress(&format!(
            "{}: sources now {}",
            path.display(),
            order.join(", ")
        ));
    }
    Ok(Exit::Success)
}

async fn check(cx: &Context, name: Option<String>) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::NONE).await?;
    let checks = match name {
        Some(name) => vec![engine.check_source(&name).await?],
        None => engine.check_sources().await,
    };
    let all_ok = checks.iter().all(|c| c.ok);
    if let Some(advice) = engine.identity_advice(&checks) {
        output::notice(&advice);
    }
    if cx.json() {
        output::json(&checks)?;
        return Ok(Exit::from_success(all_ok));
    }
    for c in &checks {
        output::line(check_line(c));
    }
    Ok(Exit::from_success(all_ok))
}

/// One connection test as a line: `ok` or `FAILED`, the source and where, what it said.
pub fn check_line(c: &opsdeck::api::SourceCheck) -> String {
    format!(
        "{} {} ({}, {}): {}",
        if c.ok { "ok    " } else { "FAILED" },
        c.source,
        c.kind.as_str(),
        c.address,
        c.found
            .as_deref()
            .or(c.problem.as_deref())
            .unwrap_or_default()
    )
}

async fn list(cx: &Context) -> anyhow::Result<Exit> {
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
                s.health.words().into(),
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
    for s in &sources {
        if let Some(now) = &s.syncing_now {
            output::line(format!("{}: being synced now by {}", s.name, now.by));
        }
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
