//! `opsdeck rollback SERVICE --env ENV`: the plan, the confirmation, the rollback followed to
//! healthy or failed.

use std::io::IsTerminal;

use anyhow::anyhow;
use clap_complete::ArgValueCompleter;
use opsdeck::api::{RollbackConfirmation, RollbackPlan};
use opsdeck::domain::rollback::{unresolved, BlockerKind, RollbackState};
use opsdeck::text::clock_time;
use opsdeck::Started;

use crate::cli::complete::service_names;
use crate::cli::output::{self, day_time, short, Exit};
use crate::cli::{drawn_from, Context};

/// Roll a service back in one environment: prints the plan, asks, then follows it to healthy
/// or failed. With --json, stdout is one document: the plan, and the outcome when it ran
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Service name or entity reference
    #[arg(add = ArgValueCompleter::new(service_names))]
    service: String,
    /// The environment
    #[arg(long = "env", value_name = "ENV")]
    environment: String,
    /// The version to go back to [default: the last one healthy there before the current]
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// Print the plan and exit; nothing is changed
    #[arg(long)]
    dry_run: bool,
    /// Confirm without asking
    #[arg(long)]
    yes: bool,
    /// Consent to switching Argo CD's automated sync off first, when it is on
    #[arg(long)]
    disable_auto_sync: bool,
    /// The service's name, typed, when none of your teams owns it and you are not on call
    /// for it (recorded as an override)
    #[arg(long, value_name = "SERVICE")]
    confirm_service: Option<String>,
    /// Why, for the audit log
    #[arg(long)]
    reason: Option<String>,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::DELIVERY).await?;
    let plan = engine
        .plan_rollback(&args.service, &args.environment, args.to.as_deref())
        .await?;
    if args.dry_run {
        if cx.json() {
            output::json(&plan)?;
        } else {
            print_plan(&plan);
        }
        return Ok(Exit::Success);
    }
    if !cx.json() {
        print_plan(&plan);
    }
    let left = unresolved(&plan.blockers, args.disable_auto_sync);
    if let Some(first) = left.first() {
        let hint = if first.kind == BlockerKind::AutomatedSync {
            " (add --disable-auto-sync to switch it off first)"
        } else {
            ""
        };
        return Err(anyhow!("cannot roll back: {}{hint}", first.message));
    }
    let typed = if plan.needs_override {
        match args.confirm_service {
            Some(name) => Some(name),
            None if std::io::stdin().is_terminal() => Some(crate::cli::commands::login::ask(
                &format!(
                    "None of your teams owns {} and you are not on call for it. Type its name to confirm: ",
                    plan.service.name
                ),
            )?),
            None => {
                return Err(anyhow!(
                    "none of your teams owns {} and you are not on call for it: pass --confirm-service {}",
                    plan.service.name,
                    plan.service.name
                ))
            }
        }
    } else {
        None
    };
    crate::cli::commands::login::confirm("Roll back?", args.yes, "roll back")?;
    let confirmation = RollbackConfirmation {
        key: plan.key.clone(),
        typed_service: typed,
        disable_automated_sync: args.disable_auto_sync,
        reason: args.reason,
    };
    let end = match engine.start_rollback(&confirmation).await? {
        Started::AlreadyConfirmed(progress) => *progress,
        Started::Running(run) => {
            engine
                .track_rollback(run, &|p| {
                    output::progress(&format!(
                        "{}  {:<11} {}",
                        clock_time(p.at),
                        p.state.as_str(),
                        p.message
                    ))
                })
                .await?
        }
    };
    if cx.json() {
        output::json(&serde_json::json!({"plan": plan, "outcome": end}))?;
    } else {
        output::line(format!(
            "{} in {}: {} → {} {} — {}",
            end.service.name,
            end.environment,
            end.from_version.as_deref().unwrap_or("?"),
            end.to_version,
            end.state.as_str().replace('_', " "),
            end.message
        ));
    }
    Ok(Exit::from_success(end.state == RollbackState::Succeeded))
}

fn print_plan(plan: &RollbackPlan) {
    output::line(format!(
        "Roll back {} in {} through {}",
        plan.service.name, plan.environment, plan.executor_label
    ));
    let commit = |c: Option<&str>| c.map_or("-".to_string(), short);
    if let Some(current) = &plan.current {
        output::line(format!(
            "  from     {} ({}, {})",
            current.version,
            commit(current.commit.as_deref()),
            day_time(current.started_at)
        ));
    }
    match &plan.target {
        Some(target) => output::line(format!(
            "  to       {} ({}, last deployed {})",
            target.version,
            commit(target.commit.as_deref()),
            day_time(target.deployed_at)
        )),
        None => output::line("  to       (none)"),
    }
    if let Some(changes) = &plan.changes {
        output::line(format!("  undoes   {} commits", changes.total_commits));
        for c in changes.commits.iter().take(10) {
            output::line(format!("           {} {}", short(&c.sha), c.title));
        }
    } else if let Some(problem) = &plan.changes_problem {
        output::line(format!("  undoes   (commits unknown: {problem})"));
    }
    if !plan.on_call.is_empty() {
        output::line(format!("  on call  {}", plan.on_call.join(", ")));
    }
    for call in &plan.calls {
        output::line(format!("  call     {} {}", call.method, call.url));
        output::line(format!("           {}", call.body));
    }
    for warning in &plan.warnings {
        output::line(format!("  warning  {warning}"));
    }
    for blocker in &plan.blockers {
        output::line(format!("  blocked  {}", blocker.message));
    }
    if plan.needs_override {
        output::line(
            "  override none of your teams owns it and you are not on call: its name must be typed",
        );
    }
}
