//! `opsdeck scorecard [SERVICE] [--team T [--below]]`: production readiness, level by level.

use clap_complete::ArgValueCompleter;

use crate::cli::complete::{service_names, team_names};
use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Scorecards: a service's checks and how to fix each, a team's services, or the organisation
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A service: every check, and how to fix what fails
    #[arg(add = ArgValueCompleter::new(service_names), conflicts_with = "team")]
    service: Option<String>,
    /// A team's services and sub-teams
    #[arg(long, value_name = "TEAM", add = ArgValueCompleter::new(team_names))]
    team: Option<String>,
    /// With the services of every group below the team
    #[arg(long, requires = "team")]
    below: bool,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::EVERYTHING).await?;
    if let Some(service) = &args.service {
        let card = engine.service_scorecard(service).await?;
        if cx.json() {
            output::json(&card)?;
            return Ok(Exit::Success);
        }
        output::line(format!("{}: {}", card.row.name, card.row.level));
        output::table(
            &["LEVEL", "CHECK", "", "FOUND"],
            card.checks.iter().zip(&card.row.outcomes).map(|(c, o)| {
                vec![
                    c.level.clone(),
                    c.name.clone(),
                    if o.passed { "pass" } else { "FAIL" }.into(),
                    o.detail.clone(),
                ]
            }),
        );
        for fix in &card.fixes {
            output::line("");
            output::line(format!("{} — {}", fix.check.name, fix.check.fix));
            if let Some(snippet) = &fix.snippet {
                output::lines(snippet);
            }
        }
        if let Some(url) = &card.edit_url {
            if !card.fixes.is_empty() {
                output::line("");
                output::line(format!("Edit its catalog file: {url}"));
            }
        }
        return Ok(Exit::Success);
    }
    let view = engine.scorecard(args.team.as_deref(), args.below).await?;
    if cx.json() {
        output::json(&view)?;
        return Ok(Exit::Success);
    }
    output::line(format!(
        "{}: {} · {} services · {}% of checks pass",
        view.team
            .as_deref()
            .map_or("organisation", |t| t.rsplit('/').next().unwrap_or(t)),
        view.level,
        view.tally.services,
        view.tally.percent()
    ));
    let names: Vec<&str> = view.checks.iter().map(|c| c.id.as_str()).collect();
    if view.services.is_empty() {
        output::table(
            &["TEAM", "LEVEL", "SERVICES", "PASS"],
            view.teams.iter().map(|t| {
                vec![
                    format!("{}{}", output::indent(t.depth), t.title),
                    t.level.clone(),
                    t.tally.services.to_string(),
                    format!("{}%", t.tally.percent()),
                ]
            }),
        );
    } else {
        let mut header = vec!["SERVICE", "LEVEL"];
        header.extend(&names);
        output::table(
            &header,
            view.services.iter().map(|s| {
                let mut row = vec![s.name.clone(), s.level.clone()];
                row.extend(
                    s.outcomes
                        .iter()
                        .map(|o| if o.passed { "✓" } else { "✗" }.to_string()),
                );
                row
            }),
        );
    }
    if !view.failing_most.is_empty() {
        output::line("");
        output::line("Failing most:");
        for (check, count) in view.failing_most.iter().take(5) {
            output::line(format!("  {check}: {count} services"));
        }
    }
    if !view.worse.is_empty() {
        output::line("");
        output::line("Worse than a week ago:");
        for w in &view.worse {
            output::line(format!(
                "  {}: {} → {} (now failing {})",
                w.name,
                w.was,
                w.now,
                w.newly_failing.join(", ")
            ));
        }
    }
    Ok(Exit::Success)
}
