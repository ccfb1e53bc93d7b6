//! `opsdeck alerts`: Alertmanager's alerts from the cache.

use clap_complete::ArgValueCompleter;

use crate::cli::commands::oncall::print_alerts;
use crate::cli::complete::service_names;
use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Alertmanager alerts (firing, silenced, inhibited), firing first
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only alerts of this service
    #[arg(long, add = ArgValueCompleter::new(service_names))]
    service: Option<String>,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::ALERTS).await?;
    let rows = engine.alerts(args.service.as_deref()).await?;
    if cx.json() {
        output::json(&rows)?;
    } else {
        print_alerts(&rows);
    }
    Ok(Exit::Success)
}
