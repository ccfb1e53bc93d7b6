//! `opsdeck sync`: fetch sources into the cache.

use std::io::IsTerminal;

use opsdeck::api::SyncProgress;
use opsdeck::config::SourceKind;

use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Fetch sources into the cache
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this source
    #[arg(long)]
    source: Option<String>,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::NONE).await?;
    let syncing = engine
        .config()
        .sources
        .iter()
        .filter(|s| args.source.as_ref().is_none_or(|only| *only == s.name));
    for warning in syncing.filter_map(|s| s.insecure_warning()) {
        output::notice(&format!("warning: {warning}"));
    }
    let show_progress = !cx.json() && std::io::stderr().is_terminal();
    // Sources sync side by side: one line shows where each of them is.
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::new());
    let progress = move |p: SyncProgress| {
        if show_progress {
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            let total = p.total.map_or(String::new(), |t| format!("/{t}"));
            seen.insert(
                p.source.clone(),
                format!(
                    "{}: {} pages, {}{total} entities",
                    p.source, p.pages, p.items
                ),
            );
            let line: Vec<String> = seen.values().map(|s| output::printable(s)).collect();
            eprint!("\r\x1b[K{}", line.join(" · "));
        }
    };
    let reports = engine.sync(args.source.as_deref(), &progress).await?;
    if show_progress {
        eprint!("\r\x1b[K");
    }
    if cx.json() {
        output::json(&reports)?;
    } else {
        for r in &reports {
            if r.landed {
                let noun = match engine.config().source(&r.source).map(|s| s.kind) {
                    Some(SourceKind::Backstage | SourceKind::CatalogFiles) => "entities",
                    _ => "records",
                };
                output::line(format!(
                    "{}: {} {noun}, {} rows written, {} requests",
                    r.source, r.items, r.rows_written, r.requests
                ));
            } else if let Some(holder) = &r.left_to {
                output::line(format!(
                    "{}: left to {holder}, which is syncing it now: what it lands shows here",
                    r.source
                ));
                continue;
            } else {
                output::line(format!("{}: not synced", r.source));
            }
            for problem in &r.problems {
                output::line(format!("  {problem}"));
            }
        }
    }
    engine.settle().await;
    // A source another process is syncing has not failed: its sync is under way.
    let failed = |r: &&opsdeck::api::SyncReport| !r.landed && r.left_to.is_none();
    let failures = reports.iter().filter(failed).count();
    if failures > 0 {
        let first = reports
            .iter()
            .find(failed)
            .and_then(|r| r.problems.first())
            .cloned()
            .unwrap_or_default();
        anyhow::bail!("{failures} source(s) failed: {first}");
    }
    Ok(Exit::Success)
}
