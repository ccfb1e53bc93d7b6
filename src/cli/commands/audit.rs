//! `opsdeck audit`: the actions taken, newest first.

use clap_complete::ArgValueCompleter;
use opsdeck::api::AuditEntry;

use crate::cli::complete::service_names;
use crate::cli::output::{self, day_time, Exit};
use crate::cli::{drawn_from, Context};

/// The audit log of actions taken (rollbacks, runbooks, incident updates, silences, syncs);
/// `--json` prints JSON lines, one action a line, for export
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    check: Option<Check>,
    /// Only this service's
    #[arg(long, add = ArgValueCompleter::new(service_names))]
    service: Option<String>,
    /// At most this many actions
    #[arg(long, default_value_t = 50)]
    limit: i64,
}

#[derive(Debug, clap::Subcommand)]
enum Check {
    /// Check that no entry was edited, deleted or reordered since it was written: exits 1
    /// and names the first broken entry if one was
    Verify,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::NONE).await?;
    if let Some(Check::Verify) = args.check {
        return verify(cx, &engine).await;
    }
    if cx.json() {
        print!(
            "{}",
            engine.audit_json_lines(args.service.as_deref()).await?
        );
    } else {
        print_audit(&engine.audit(args.service.as_deref(), args.limit).await?);
    }
    Ok(Exit::Success)
}

async fn verify(cx: &Context, engine: &opsdeck::Engine) -> anyhow::Result<Exit> {
    let verdict = engine.verify_audit().await?;
    if cx.json() {
        output::json(&verdict)?;
    } else {
        match &verdict.first_broken {
            None => output::line(format!(
                "the audit log holds: {} entries, each as written and in order",
                verdict.intact
            )),
            Some(broken) => output::line(format!(
                "the audit log is broken at entry {} (action {}): {}; the {} entries before it hold",
                broken.seq, broken.action_key, broken.problem, verdict.intact
            )),
        }
    }
    Ok(if verdict.first_broken.is_some() {
        Exit::Failure
    } else {
        Exit::Success
    })
}

fn print_audit(entries: &[AuditEntry]) {
    output::table(
        &[
            "WHEN", "WHO", "MACHINE", "SERVICE", "ENV", "FROM", "TO", "EXECUTOR", "OUTCOME", "NOTE",
        ],
        entries.iter().map(|e| {
            let state = e.state.replace('_', " ");
            vec![
                day_time(e.requested_at),
                e.actor.clone(),
                output::or_dash(Some(e.machine.as_str()).filter(|m| !m.is_empty())),
                e.service.name.clone(),
                e.target.label().to_string(),
                output::or_dash(e.from_version.as_deref().or(e.subject.as_deref())),
                output::or_dash(e.to_version.as_deref()),
                output::or_dash(e.executor.as_deref()),
                if e.finished {
                    state
                } else {
                    format!("{state} (no outcome recorded)")
                },
                e.message.clone(),
            ]
        }),
    );
}
