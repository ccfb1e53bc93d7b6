//! `opsdeck team NAME`: where a team sits, its sub-teams, what else it owns, its members and
//! who is on call for it.

use clap_complete::ArgValueCompleter;

use crate::cli::complete::team_names;
use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// A team: its place in the tree, sub-teams, what it owns, members and rotations
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Team name (`checkout`, `group:checkout`)
    #[arg(add = ArgValueCompleter::new(team_names))]
    team: String,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::ON_CALL).await?;
    let team = engine.team(&args.team).await?;
    if cx.json() {
        output::json(&team)?;
        return Ok(Exit::Success);
    }
    let t = &team.team;
    let path: Vec<&str> = team
        .ancestors
        .iter()
        .map(|a| a.name.as_str())
        .chain([t.name.as_str()])
        .collect();
    output::line(format!("{} ({})", t.title, path.join(" / ")));
    output::line(format!(
        "{} services ({} with the groups below) · {} members · {} gaps ({} below)",
        t.service_count, t.service_count_below, t.member_count, t.gap_count, t.gap_count_below
    ));
    if !team.sub_teams.is_empty() {
        output::line("");
        output::table(
            &["SUB-TEAM", "SERVICES", "BELOW", "GAPS"],
            team.sub_teams.iter().map(|s| {
                vec![
                    s.name.clone(),
                    s.service_count.to_string(),
                    s.service_count_below.to_string(),
                    s.gap_count_below.to_string(),
                ]
            }),
        );
    }
    if !team.owns.is_empty() {
        output::line("");
        output::table(
            &["OWNS", "NAMES"],
            team.owns.iter().map(|o| {
                vec![
                    o.kind.clone(),
                    o.entities
                        .iter()
                        .map(|e| e.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            }),
        );
    }
    for m in &team.system_mismatches {
        output::line(format!(
            "! {} is part of {}, which {} owns",
            m.service.name,
            m.system.name,
            m.system_owner
                .as_ref()
                .map_or("nobody", |o| o.name.as_str())
        ));
    }
    output::line("");
    output::table(
        &["MEMBER", "EMAIL", "ROTATION", "ON CALL NOW"],
        team.members.iter().map(|m| {
            vec![
                output::person_text(&m.user.title, m.is_me),
                output::or_dash(m.email.as_deref()),
                if m.in_rotation { "yes" } else { "" }.into(),
                if m.on_call_now { "yes" } else { "" }.into(),
            ]
        }),
    );
    if !team.outside_on_call.is_empty() {
        output::line("");
        output::line("On call for its services without being in the team:");
        output::table(
            &["PERSON", "EMAIL", "POLICIES"],
            team.outside_on_call.iter().map(|o| {
                vec![
                    o.name.clone(),
                    output::or_dash(o.email.as_deref()),
                    o.policies.join(", "),
                ]
            }),
        );
    }
    for problem in &team.tree_problems {
        output::notice(problem);
    }
    Ok(Exit::Success)
}
