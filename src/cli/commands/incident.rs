//! `opsdeck incident ID`: the incident view (suspect changes ranked), and its actions
//! (`ack`, `resolve`, `note`, `reassign`, `urgency`); `opsdeck silence`, `opsdeck unsilence`
//! and `opsdeck argocd`: the other on-call actions. Each action prints its plan, asks (or
//! `--yes`), is audited, and exits 0 only once its platform shows it done.

use anyhow::anyhow;
use clap_complete::ArgValueCompleter;
use opsdeck::api::{ActionPlan, ActionRequest, ActionState, IncidentView};
use opsdeck::text::clock_time;
use opsdeck::{Engine, StartedAction};

use crate::cli::commands::oncall::{print_alerts, print_policies};
use crate::cli::complete::service_names;
use crate::cli::output::{self, day_time, short, Exit};
use crate::cli::{drawn_from, Context};

/// One incident: who is on call, the service and what is around it, firing alerts and the
/// changes that may have caused it, ranked. With an action, does it (after asking)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The incident's PagerDuty id or number (`1234`, `#1234`)
    incident: String,
    #[command(subcommand)]
    action: Option<IncidentAction>,
    /// Confirm the action without asking
    #[arg(long, global = true)]
    yes: bool,
}

#[derive(Debug, clap::Subcommand)]
enum IncidentAction {
    /// Acknowledge it
    Ack,
    /// Resolve it
    Resolve {
        /// The resolution PagerDuty adds to its log
        #[arg(long)]
        resolution: Option<String>,
    },
    /// Add a note
    Note {
        /// The note
        text: String,
    },
    /// Reassign it to a person (PagerDuty id, email or name) or an escalation level (`level:2`)
    Reassign {
        /// Who
        who: String,
    },
    /// Change its urgency
    Urgency {
        /// `high` or `low`
        #[arg(value_parser = ["high", "low"])]
        urgency: String,
    },
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::EVERYTHING).await?;
    let incident = args.incident;
    let request = match args.action {
        None => {
            let view = engine.incident(&incident).await?;
            if cx.json() {
                output::json(&view)?;
            } else {
                print_view(&view);
            }
            return Ok(Exit::Success);
        }
        Some(IncidentAction::Ack) => ActionRequest::Acknowledge { incident },
        Some(IncidentAction::Resolve { resolution }) => ActionRequest::Resolve {
            incident,
            resolution,
        },
        Some(IncidentAction::Note { text }) => ActionRequest::Note { incident, text },
        Some(IncidentAction::Reassign { who }) => ActionRequest::Reassign {
            to: engine.reassignee(&who).await?,
            incident,
        },
        Some(IncidentAction::Urgency { urgency }) => ActionRequest::Urgency { incident, urgency },
    };
    act(cx, &engine, &request, args.yes).await
}

/// Silence a service's firing alert (or the alert named) in Alertmanager for a while, matching
/// its exact labels
#[derive(Debug, clap::Args)]
pub struct SilenceArgs {
    /// The service whose firing alert to silence
    #[arg(add = ArgValueCompleter::new(service_names), required_unless_present = "alert")]
    service: Option<String>,
    /// The alert's name (`alertname`), when the service has several or none is named
    #[arg(long, value_name = "NAME")]
    alert: Option<String>,
    /// For how long, e.g. 30m, 2h
    #[arg(long = "for", value_name = "DURATION")]
    duration: humantime::Duration,
    /// Why [default: the incident it is silenced during, else who silenced it]
    #[arg(long)]
    comment: Option<String>,
    /// The incident it is silenced during (named in the comment)
    #[arg(long, value_name = "ID")]
    incident: Option<String>,
    /// Confirm without asking
    #[arg(long)]
    yes: bool,
}

pub async fn silence(cx: &Context, args: SilenceArgs) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::ALERTS).await?;
    let rows = engine.alerts(args.service.as_deref()).await?;
    let chosen: Vec<_> = rows
        .iter()
        .filter(|r| args.alert.as_ref().is_none_or(|name| r.alert.name == *name))
        .filter(|r| r.alert.state == opsdeck::domain::alerts::AlertState::Firing)
        .collect();
    let row = match chosen.as_slice() {
        [one] => *one,
        [] => return Err(anyhow!("no firing alert matches: nothing to silence")),
        many => {
            return Err(anyhow!(
                "{} firing alerts match ({}): name one with --alert",
                many.len(),
                many.iter()
                    .map(|r| r.alert.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    };
    let request = ActionRequest::Silence {
        source: row.source.clone(),
        fingerprint: row.alert.fingerprint.clone(),
        seconds: i64::try_from(args.duration.as_secs()).unwrap_or(i64::MAX),
        comment: args.comment,
        incident: args.incident,
    };
    act(cx, &engine, &request, args.yes).await
}

/// Expire an Alertmanager silence: its alerts notify again
#[derive(Debug, clap::Args)]
pub struct UnsilenceArgs {
    /// The silence's id
    id: String,
    /// The Alertmanager source [default: the one the cache holds it from]
    #[arg(long)]
    source: Option<String>,
    /// Confirm without asking
    #[arg(long)]
    yes: bool,
}

pub async fn unsilence(cx: &Context, args: UnsilenceArgs) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::ALERTS).await?;
    let request = ActionRequest::ExpireSilence {
        source: args.source,
        id: args.id,
    };
    act(cx, &engine, &request, args.yes).await
}

/// Argo CD: sync a service's application to Git, or turn its automated sync back on (after a
/// rollback switched it off)
#[derive(Debug, clap::Args)]
pub struct ArgocdArgs {
    #[command(subcommand)]
    what: ArgocdAction,
}

#[derive(Debug, clap::Subcommand)]
enum ArgocdAction {
    /// Sync the application to what Git says (it deploys it)
    Sync(Application),
    /// Turn automated sync back on (Argo CD then deploys what Git says)
    AutoSync {
        /// Only `on`: a rollback switches it off, with consent
        #[arg(value_parser = ["on"])]
        state: String,
        #[command(flatten)]
        application: Application,
    },
}

/// A service's Argo CD application in one environment.
#[derive(Debug, clap::Args)]
struct Application {
    /// The service
    #[arg(add = ArgValueCompleter::new(service_names))]
    service: String,
    /// The environment
    #[arg(long = "env", value_name = "ENV")]
    environment: String,
    /// Confirm without asking
    #[arg(long)]
    yes: bool,
}

pub async fn argocd(cx: &Context, args: ArgocdArgs) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::DELIVERY).await?;
    let (request, yes) = match args.what {
        ArgocdAction::Sync(Application {
            service,
            environment,
            yes,
        }) => (
            ActionRequest::ArgocdSync {
                service,
                environment,
            },
            yes,
        ),
        ArgocdAction::AutoSync {
            application:
                Application {
                    service,
                    environment,
                    yes,
                },
            ..
        } => (
            ActionRequest::ArgocdAutoSync {
                service,
                environment,
            },
            yes,
        ),
    };
    act(cx, &engine, &request, yes).await
}

/// Plans `request`, prints the plan, asks (unless `yes`), carries it out and follows it to
/// its end: 0 only when the platform shows it done.
async fn act(
    cx: &Context,
    engine: &Engine,
    request: &ActionRequest,
    yes: bool,
) -> anyhow::Result<Exit> {
    let plan = engine.plan_action(request).await?;
    if !cx.json() {
        print_plan(&plan);
    }
    if let Some(blocker) = &plan.blocker {
        return Err(anyhow!("cannot {}: {blocker}", plan.kind.label()));
    }
    crate::cli::commands::login::confirm(&format!("{}?", plan.title), yes, "go ahead")?;
    let end = match engine.start_action(&plan.key).await? {
        StartedAction::AlreadyConfirmed(progress) => *progress,
        StartedAction::Running(run) => {
            engine
                .track_action(run, &|p| {
                    output::progress(&format!(
                        "{}  {:<9} {}",
                        clock_time(chrono::Utc::now()),
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
            "{}: {} — {}",
            end.title,
            end.state.as_str(),
            end.message
        ));
    }
    Ok(Exit::from_success(end.state == ActionState::Done))
}

fn print_plan(plan: &ActionPlan) {
    output::line(&plan.title);
    output::line(format!("  source   {}", plan.source));
    output::line(format!("  call     {} {}", plan.call.method, plan.call.url));
    if !plan.call.body.is_empty() {
        output::line(format!("           {}", plan.call.body));
    }
    for warning in &plan.warnings {
        output::line(format!("  warning  {warning}"));
    }
    if let Some(blocker) = &plan.blocker {
        output::line(format!("  blocked  {blocker}"));
    }
}

fn print_view(view: &IncidentView) {
    let i = &view.incident;
    output::line(format!("#{} {}", i.number, i.title));
    output::line(format!(
        "  {} · {} urgency{} · started {} ({} ago){}",
        i.status.as_str(),
        i.urgency,
        i.priority
            .as_deref()
            .map(|p| format!(" · {p}"))
            .unwrap_or_default(),
        day_time(i.created_at),
        output::age(i.created_at),
        if i.assignees.is_empty() {
            String::new()
        } else {
            format!(" · assigned to {}", i.assignees.join(", "))
        }
    ));
    if let Some(url) = &i.html_url {
        output::line(format!("  {url}"));
    }
    let service = view.service.as_ref().map_or("-", |s| s.name.as_str());
    output::line(format!(
        "  service {service} · owner {} · system {} · tier {}",
        view.owner.as_ref().map_or("-", |o| o.name.as_str()),
        view.system.as_ref().map_or("-", |s| s.name.as_str()),
        view.tier.as_deref().unwrap_or("-"),
    ));
    output::line("");
    output::line(format!(
        "Suspect changes since {} — {}",
        day_time(view.window_since),
        view.ranking_rule
    ));
    if view.suspects.is_empty() {
        output::line("  none in the cache");
    } else {
        output::table(
            &[
                "#", "WHEN", "SERVICE", "ENV", "CHANGE", "FROM", "WHO", "WHY", "LINK",
            ],
            view.suspects.iter().enumerate().map(|(n, row)| {
                let c = &row.suspect.change;
                vec![
                    (n + 1).to_string(),
                    row.when.clone(),
                    c.service.clone(),
                    output::or_dash(c.environment.as_deref()),
                    c.version.clone(),
                    output::or_dash(c.previous_version.as_deref()),
                    output::or_dash(c.actor.as_deref()),
                    row.reason.clone(),
                    c.link.clone().unwrap_or_default(),
                ]
            }),
        );
        if let Some(top) = view.suspects.first().filter(|t| !t.commits.is_empty()) {
            output::line(format!(
                "  #1 brought {} commits:",
                top.total_commits.unwrap_or(top.commits.len() as i64)
            ));
            for c in top.commits.iter().take(10) {
                output::line(format!("     {} {}", short(&c.sha), c.title));
            }
        }
    }
    for off in &view.automated_sync_off {
        let since = off.since.map_or("-".into(), clock_time);
        let (app, env, service) = (&off.app, &off.environment, &off.service.name);
        output::line(if off.switched_off_by_rollback {
            format!(
                "  Automated sync of {app} ({env}) is off since the rollback at {since}: `opsdeck argocd auto-sync on {service} --env {env}`"
            )
        } else {
            format!(
                "  {app} ({env}) runs what the rollback at {since} put back, not what Git says: `opsdeck argocd sync {service} --env {env}`"
            )
        });
    }
    output::line("");
    output::line("On call:");
    match &view.policy {
        Some(policy) => print_policies(std::slice::from_ref(policy), view.me_on_call),
        None => output::line("  no escalation policy in the cache"),
    }
    output::line("");
    output::line(format!(
        "Alerts of {service} and what it depends on ({}):",
        view.alerts.len()
    ));
    print_alerts(&view.alerts);
    output::line("");
    output::line("Around it:");
    if view.neighbours.is_empty() {
        output::line("  nothing in the catalog");
    } else {
        output::table(
            &["", "SERVICE", "INCIDENTS", "FIRING"],
            view.neighbours.iter().map(|n| {
                vec![
                    if n.upstream { "depends on" } else { "used by" }.to_string(),
                    n.entity.name.clone(),
                    n.open_incidents.to_string(),
                    n.firing_alerts.to_string(),
                ]
            }),
        );
    }
    if !view.actions.is_empty() {
        output::line("");
        output::line("Done here through Opsdeck:");
        for a in &view.actions {
            output::line(format!(
                "  {} {} {}: {}",
                day_time(a.requested_at),
                a.actor,
                a.kind.label(),
                a.message
            ));
        }
    }
}
