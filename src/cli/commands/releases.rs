//! `opsdeck releases`: a team's version per environment.

use clap_complete::ArgValueCompleter;
use opsdeck::api::ReleaseMatrix;

use crate::cli::complete::team_names;
use crate::cli::output::{self, status_text, Exit};
use crate::cli::{drawn_from, Context};

/// A team's releases: version per environment, drift, pending promotions
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Team name [default: my first team]
    #[arg(long, add = ArgValueCompleter::new(team_names))]
    team: Option<String>,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::DELIVERY).await?;
    let team = match args.team {
        Some(team) => team,
        None => engine
            .teams()
            .await?
            .into_iter()
            .find(|t| t.is_mine)
            .map(|t| t.name)
            .ok_or_else(|| {
                anyhow::anyhow!("name a team with --team (no [identity] team of mine)")
            })?,
    };
    let matrix = engine.release_matrix(&team).await?;
    if cx.json() {
        output::json(&matrix)?;
    } else {
        print_releases(&matrix);
    }
    Ok(Exit::Success)
}

fn print_releases(matrix: &ReleaseMatrix) {
    let mut header = vec!["SERVICE"];
    header.extend(matrix.environments.iter().map(String::as_str));
    header.extend(["PENDING", "PROD DEPLOYS 30D"]);
    let days = matrix.days.len();
    output::table(
        &header,
        matrix.rows.iter().map(|r| {
            let mut row = vec![r.service.name.clone()];
            row.extend(r.cells.iter().map(|c| match c {
                None => "-".to_string(),
                Some(c) => {
                    let mut text = output::or_dash(c.version.as_deref());
                    if c.drift {
                        text.push_str(" *");
                    }
                    if let (Some(v), Some(s)) = (&c.incoming, c.incoming_status) {
                        text.push_str(&format!(" ({v} {})", status_text(s)));
                    }
                    text
                }
            }));
            row.push(r.pending.as_ref().map_or(String::new(), |p| {
                format!(
                    "{} from {}{}",
                    p.version,
                    p.from_environment,
                    p.commit_count
                        .map_or(String::new(), |n| format!(", {n} commits"))
                )
            }));
            row.push(
                r.daily_deploys[days.saturating_sub(30).min(r.daily_deploys.len())..]
                    .iter()
                    .sum::<i64>()
                    .to_string(),
            );
            row
        }),
    );
    if !matrix.unwired.is_empty() {
        output::line("");
        output::line(format!(
            "not wired to GitHub or Argo CD: {}",
            matrix.unwired.join(", ")
        ));
    }
    output::line("* runs another version than production");
}
