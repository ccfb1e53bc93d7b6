//! `opsdeck pipeline SERVICE`: CI stages, then each environment, and why a stage waits.

use clap_complete::ArgValueCompleter;
use opsdeck::api::ServiceDelivery;
use opsdeck::domain::delivery::WaitReason;
use opsdeck::text::clock_time;

use crate::cli::complete::service_names;
use crate::cli::output::{self, age, status_text, Exit};
use crate::cli::{drawn_from, Context};

/// A service's pipeline: CI stages, then each environment, and why a stage waits
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Service name or entity reference
    #[arg(add = ArgValueCompleter::new(service_names))]
    service: String,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::DELIVERY).await?;
    let delivery = engine.service_delivery(&args.service).await?;
    if cx.json() {
        output::json(&delivery)?;
    } else {
        print_pipeline(&delivery);
    }
    Ok(Exit::Success)
}

fn wait_text(reason: &WaitReason) -> String {
    match reason {
        WaitReason::Approval => "waiting for approval".to_string(),
        WaitReason::FailedCheck { stage } => format!("blocked: {stage} failed"),
        WaitReason::BakeTime { until } => format!("baking until {}", clock_time(*until)),
    }
}

fn print_pipeline(delivery: &ServiceDelivery) {
    if !delivery.wired {
        output::line(format!(
            "{} is not wired to GitHub or Argo CD (github.com/project-slug, argocd/app-name, argocd/app-selector)",
            delivery.service.name
        ));
        return;
    }
    output::table(
        &[
            "STAGE",
            "STATUS",
            "VERSION",
            "STARTED",
            "TOOK",
            "WHY IT WAITS",
        ],
        delivery.stages.iter().map(|s| {
            vec![
                s.name.clone(),
                status_text(s.status).to_string(),
                output::or_dash(s.version.as_deref()),
                s.started_at
                    .map_or("-".into(), |at| format!("{} ago", age(at))),
                s.duration_seconds
                    .map_or("-".into(), |d| format!("{}m{:02}s", d / 60, d % 60)),
                s.waiting.as_ref().map_or(String::new(), wait_text),
            ]
        }),
    );
    output::line("");
    output::table(
        &[
            "ENV", "VERSION", "DEPLOYED", "BY", "HEALTH", "SYNC", "INCOMING",
        ],
        delivery.environments.iter().map(|e| {
            let current = e.current.as_ref();
            vec![
                format!("{}{}", e.environment, if e.drift { " *" } else { "" }),
                current.map_or("-".into(), |d| d.version.clone()),
                current.map_or("-".into(), |d| {
                    format!("{} ago", age(d.finished_at.unwrap_or(d.started_at)))
                }),
                output::or_dash(current.and_then(|d| d.actor.as_deref())),
                output::or_dash(e.health.as_deref()),
                match (&e.sync, e.automated_sync) {
                    (Some(sync), true) => format!("{sync} (auto)"),
                    (Some(sync), false) => sync.clone(),
                    (None, _) => "-".into(),
                },
                e.latest.as_ref().map_or(String::new(), |d| {
                    format!("{} {}", d.version, status_text(d.status))
                }),
            ]
        }),
    );
    if let Some(p) = &delivery.pending {
        output::line("");
        output::line(format!(
            "pending promotion: {} in {} → {} (runs {}){}",
            p.version,
            p.from_environment,
            p.to_environment,
            p.production_version.as_deref().unwrap_or("nothing"),
            p.commit_count
                .map_or(String::new(), |n| format!(", {n} commits"))
        ));
    }
}
