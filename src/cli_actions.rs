//! The CLI's face of actions: a rollback's plan as text, the confirmation asked at the
//! terminal, its progress as lines; runbooks listed, opened, printed and run; and the audit
//! log as a table.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::anyhow;
use opsdeck::api::{AuditEntry, RollbackConfirmation, RollbackPlan, RunbookAsk, RunbookRow};
use opsdeck::domain::rollback::{unresolved, BlockerKind, RollbackState};
use opsdeck::domain::runbooks::{RunbookKind, RunbookOrigin};
use opsdeck::text::clock_time;
use opsdeck::{Engine, Started};

use crate::{day_time, print_json, print_table, printable};

/// What the user asked for on the command line.
pub(crate) struct Asked {
    pub dry_run: bool,
    pub yes: bool,
    pub disable_auto_sync: bool,
    pub confirm_service: Option<String>,
    pub reason: Option<String>,
    pub json: bool,
}

/// Prints the plan, then (unless a dry run) asks, starts and follows the rollback. Exits 0
/// only when it ends healthy (or for a dry run, always).
pub(crate) async fn rollback(
    engine: &Engine,
    plan: &RollbackPlan,
    asked: Asked,
) -> anyhow::Result<ExitCode> {
    if asked.dry_run && asked.json {
        print_json(plan)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_plan(plan);
    if asked.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let left = unresolved(&plan.blockers, asked.disable_auto_sync);
    if let Some(first) = left.first() {
        let hint = if first.kind == BlockerKind::AutomatedSync {
            " (add --disable-auto-sync to switch it off first)"
        } else {
            ""
        };
        return Err(anyhow!("cannot roll back: {}{hint}", first.message));
    }
    let typed = if plan.needs_override {
        match asked.confirm_service {
            Some(name) => Some(name),
            None if std::io::stdin().is_terminal() => Some(prompt(&format!(
                "None of your teams owns {} and you are not on call for it. Type its name to confirm: ",
                plan.service.name
            ))?),
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
    if !asked.yes {
        if !std::io::stdin().is_terminal() {
            return Err(anyhow!(
                "no terminal to confirm at: add --yes to roll back without asking"
            ));
        }
        let answer = prompt("Roll back? [y/N] ")?;
        if !answer.eq_ignore_ascii_case("y") && !answer.eq_ignore_ascii_case("yes") {
            eprintln!("nothing was done");
            return Ok(ExitCode::from(1));
        }
    }
    let confirmation = RollbackConfirmation {
        key: plan.key.clone(),
        typed_service: typed,
        disable_automated_sync: asked.disable_auto_sync,
        reason: asked.reason,
    };
    let end = match engine.start_rollback(&confirmation).await? {
        Started::AlreadyConfirmed(progress) => *progress,
        Started::Running(run) => {
            engine
                .track_rollback(run, &|p| {
                    eprintln!(
                        "{}  {:<11} {}",
                        clock_time(p.at),
                        p.state.as_str(),
                        printable(&p.message)
                    )
                })
                .await?
        }
    };
    if asked.json {
        print_json(&end)?;
    } else {
        println!(
            "{} in {}: {} → {} {} — {}",
            end.service.name,
            end.environment,
            end.from_version.as_deref().unwrap_or("?"),
            end.to_version,
            end.state.as_str().replace('_', " "),
            printable(&end.message)
        );
    }
    Ok(if end.state == RollbackState::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn prompt(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

fn print_plan(plan: &RollbackPlan) {
    println!(
        "Roll back {} in {} through {}",
        plan.service.name, plan.environment, plan.executor_label
    );
    if let Some(current) = &plan.current {
        println!(
            "  from     {} ({}, {})",
            current.version,
            current
                .commit
                .as_deref()
                .map_or("-", |c| &c[..c.len().min(7)]),
            day_time(current.started_at)
        );
    }
    match &plan.target {
        Some(target) => println!(
            "  to       {} ({}, last deployed {})",
            target.version,
            target
                .commit
                .as_deref()
                .map_or("-", |c| &c[..c.len().min(7)]),
            day_time(target.deployed_at)
        ),
        None => println!("  to       (none)"),
    }
    if let Some(changes) = &plan.changes {
        println!("  undoes   {} commits", changes.total_commits);
        for commit in changes.commits.iter().take(10) {
            println!(
                "           {} {}",
                &commit.sha[..commit.sha.len().min(7)],
                printable(&commit.title)
            );
        }
    } else if let Some(problem) = &plan.changes_problem {
        println!("  undoes   (commits unknown: {})", printable(problem));
    }
    if !plan.on_call.is_empty() {
        println!("  on call  {}", plan.on_call.join(", "));
    }
    for call in &plan.calls {
        println!("  call     {} {}", call.method, call.url);
        println!("           {}", call.body);
    }
    for warning in &plan.warnings {
        println!("  warning  {}", printable(warning));
    }
    for blocker in &plan.blockers {
        println!("  blocked  {}", printable(&blocker.message));
    }
    if plan.needs_override {
        println!(
            "  override none of your teams owns it and you are not on call: its name must be typed"
        );
    }
}

/// The audit log as a table, newest first.
pub(crate) fn print_audit(entries: &[AuditEntry]) {
    print_table(
        &[
            "WHEN", "WHO", "SERVICE", "ENV", "FROM", "TO", "EXECUTOR", "OUTCOME", "NOTE",
        ],
        entries
            .iter()
            .map(|e| {
                vec![
                    day_time(e.requested_at),
                    e.actor.clone(),
                    e.service.name.clone(),
                    e.environment.clone(),
                    e.from_version
                        .clone()
                        .or_else(|| e.subject.as_deref().map(printable))
                        .unwrap_or_else(|| "-".into()),
                    e.to_version.clone().unwrap_or_else(|| "-".into()),
                    e.executor.clone().unwrap_or_else(|| "-".into()),
                    if e.finished {
                        e.state.replace('_', " ")
                    } else {
                        format!("{} (no outcome recorded)", e.state.replace('_', " "))
                    },
                    printable(&e.message),
                ]
            })
            .collect(),
    );
}

/// What to do with a runbook.
pub(crate) enum RunbookUse {
    /// Print its filled-in address.
    Address,
    /// Open it in the browser.
    Open,
    /// Print a markdown runbook.
    Print { refresh: bool },
    /// Run a workflow with these `name=value` inputs.
    Run(Vec<String>),
}

/// A service's runbooks, numbered as `opsdeck runbook` takes them.
pub(crate) fn print_runbooks(rows: &[RunbookRow]) {
    if rows.is_empty() {
        println!("no runbooks: add a link of type runbook to the service, its system or its team");
        return;
    }
    print_table(
        &["#", "TITLE", "KIND", "FROM", "ADDRESS"],
        rows.iter()
            .enumerate()
            .map(|(i, r)| {
                let kind = match &r.kind {
                    RunbookKind::Link => "page".to_string(),
                    RunbookKind::Markdown { .. } => match r.cached_at {
                        Some(at) => format!("markdown (read {} ago)", crate::age(at)),
                        None => "markdown (not read yet)".to_string(),
                    },
                    RunbookKind::Automated { .. } => "automated".to_string(),
                };
                let from = match &r.origin {
                    RunbookOrigin::Service => "service".to_string(),
                    RunbookOrigin::System(name) => format!("system {name}"),
                    RunbookOrigin::Team(name) => format!("team {name}"),
                    RunbookOrigin::Alert(name) => format!("alert {name}"),
                };
                let address = match &r.refused {
                    Some(problem) => format!("{} (refused: {problem})", r.url),
                    None => r.url.clone(),
                };
                vec![
                    (i + 1).to_string(),
                    printable(&r.title),
                    kind,
                    printable(&from),
                    printable(&address),
                ]
            })
            .collect(),
    );
}

/// Opens, prints or runs one runbook; `name` is its number or its title.
pub(crate) async fn runbook(
    engine: &Engine,
    service: &str,
    name: &str,
    ask: &RunbookAsk,
    how: RunbookUse,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let rows = engine.runbooks(service, ask).await?;
    let row = match name.parse::<usize>() {
        Ok(n) if (1..=rows.len()).contains(&n) => rows.get(n - 1),
        _ => rows
            .iter()
            .find(|r| r.title.eq_ignore_ascii_case(name.trim())),
    }
    .ok_or_else(|| {
        anyhow!("{service} has no runbook '{name}' (see `opsdeck runbooks {service}`)")
    })?;
    match how {
        RunbookUse::Address => println!("{}", printable(&row.url)),
        RunbookUse::Open => {
            let url = engine.launch_runbook(service, &row.template, ask).await?;
            open::that_detached(&url).map_err(|e| anyhow!("cannot open {url}: {e}"))?;
            eprintln!("opened {url}");
        }
        RunbookUse::Print { refresh } => {
            let document = engine
                .runbook_document(service, &row.template, refresh)
                .await?;
            eprintln!(
                "{}/{} · confirmed by GitHub {} ago",
                document.repo,
                document.path,
                crate::age(document.confirmed_at)
            );
            if json {
                print_json(&document)?;
            } else {
                // Untrusted text: shown, never run, control characters made visible.
                for line in document.markdown.lines() {
                    println!("{}", printable(line));
                }
            }
        }
        RunbookUse::Run(pairs) => {
            let mut inputs = std::collections::BTreeMap::new();
            for pair in pairs {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--input {pair}: use NAME=VALUE"))?;
                inputs.insert(k.trim().to_string(), v.to_string());
            }
            let run = engine
                .run_runbook(service, &row.template, ask, &inputs)
                .await?;
            let end = engine
                .track_runbook(run, &|p| {
                    eprintln!(
                        "{}  {:<11} {}",
                        clock_time(chrono::Utc::now()),
                        p.status.as_str(),
                        printable(&p.message)
                    )
                })
                .await?;
            if json {
                print_json(&end)?;
            } else {
                println!(
                    "{}: {} — {}{}",
                    printable(&end.title),
                    end.status.as_str(),
                    printable(&end.message),
                    end.link
                        .as_deref()
                        .map(|l| format!("  {l}"))
                        .unwrap_or_default()
                );
            }
            return Ok(
                if end.status == opsdeck::domain::delivery::DeployStatus::Success {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
