//! `opsdeck oncall`: who is on call, for every team or one team or service; and the incident
//! and alert tables that `incidents` and `alerts` print too.

use clap_complete::ArgValueCompleter;
use opsdeck::api::{AlertRow, IncidentRow, OnCallPanel, ServiceRef, TeamOnCall};
use opsdeck::domain::oncall::PolicyOnCall;
use opsdeck::Scope;

use crate::cli::complete::{service_names, team_names};
use crate::cli::output::{self, day_time, person_text, Exit};
use crate::cli::{drawn_from, Context};

/// Who is on call: every team now and next, or one team's or service's escalation levels
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this team's services
    #[arg(long, conflicts_with = "service", add = ArgValueCompleter::new(team_names))]
    team: Option<String>,
    /// Only this service
    #[arg(long, add = ArgValueCompleter::new(service_names))]
    service: Option<String>,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::ON_CALL).await?;
    let scope = match (&args.team, &args.service) {
        (Some(team), _) => Some(Scope::Team(team)),
        (None, Some(service)) => Some(Scope::Service(service)),
        (None, None) => None,
    };
    match scope {
        None => {
            let teams = engine.on_call_overview().await?;
            if cx.json() {
                output::json(&teams)?;
            } else {
                print_overview(&teams);
            }
        }
        Some(scope) => {
            let panel = engine.on_call_panel(scope).await?;
            if cx.json() {
                output::json(&panel)?;
            } else {
                print_panel(&panel);
            }
        }
    }
    Ok(Exit::Success)
}

fn print_overview(teams: &[TeamOnCall]) {
    let at_level = |t: &TeamOnCall, level: i64| {
        let names: Vec<String> = t
            .policies
            .iter()
            .flat_map(|p| &p.levels)
            .filter(|l| l.level == level)
            .flat_map(|l| &l.now)
            .map(|n| person_text(&n.person.name, n.is_me))
            .collect();
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(", ")
        }
    };
    output::table(
        &[
            "MINE",
            "TEAM",
            "LEVEL 1 NOW",
            "LEVEL 2 NOW",
            "NEXT HANDOFF",
            "TRIGGERED",
            "ACKED",
            "FIRING",
        ],
        teams.iter().map(|t| {
            let handoff = t
                .policies
                .iter()
                .flat_map(|p| &p.levels)
                .filter_map(|l| l.next.as_ref())
                .map(|n| n.starts)
                .min();
            vec![
                if t.is_mine { "*".into() } else { String::new() },
                t.name.clone(),
                at_level(t, 1),
                at_level(t, 2),
                handoff.map_or("-".into(), day_time),
                t.triggered.to_string(),
                t.acknowledged.to_string(),
                t.firing_alerts.to_string(),
            ]
        }),
    );
}

/// Who is on call now and next, per policy and level (a sentence when nobody is).
pub fn print_policies(policies: &[PolicyOnCall], me_on_call: bool) {
    let mut rows = Vec::new();
    for policy in policies {
        for level in &policy.levels {
            let now = if level.now.is_empty() {
                vec![None]
            } else {
                level.now.iter().map(Some).collect()
            };
            for person in now {
                rows.push(vec![
                    policy.policy_name.clone(),
                    level.level.to_string(),
                    person.map_or("nobody".into(), |n| person_text(&n.person.name, n.is_me)),
                    person.and_then(|n| n.until).map_or("-".into(), day_time),
                    level
                        .next
                        .as_ref()
                        .map_or("-".into(), |n| person_text(&n.person.name, n.is_me)),
                    level
                        .next
                        .as_ref()
                        .map_or("-".into(), |n| day_time(n.starts)),
                    person
                        .map(|n| {
                            [n.person.email.as_deref(), n.person.phone.as_deref()]
                                .into_iter()
                                .flatten()
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default(),
                ]);
            }
        }
    }
    if rows.is_empty() {
        output::line(
            "Nobody is on call for these services (no PagerDuty data for them in the cache).",
        );
    } else {
        output::table(
            &[
                "POLICY",
                "LEVEL",
                "ON CALL NOW",
                "UNTIL",
                "NEXT",
                "FROM",
                "CONTACT",
            ],
            rows,
        );
    }
    if me_on_call {
        output::line("");
        output::line("You are on call now.");
    }
}

fn print_panel(panel: &OnCallPanel) {
    print_policies(&panel.policies, panel.me_on_call);
    if !panel.unpaged.is_empty() {
        output::line("");
        output::line(format!(
            "Not wired to PagerDuty (no pagerduty.com/service-id): {}",
            panel.unpaged.join(", ")
        ));
    }
    if !panel.unknown_to_pagerduty.is_empty() {
        output::line(format!(
            "PagerDuty has no service with the id these name: {}",
            panel.unknown_to_pagerduty.join(", ")
        ));
    }
    output::line("");
    output::line(format!(
        "Open incidents ({}; {} resolved recently):",
        panel.incidents.len(),
        panel.resolved_recently
    ));
    print_incidents(&panel.incidents);
    output::line("");
    output::line(format!("Alerts ({}):", panel.alerts.len()));
    print_alerts(&panel.alerts);
}

/// Incidents as a table (`  none` when there are none).
pub fn print_incidents(rows: &[IncidentRow]) {
    if rows.is_empty() {
        output::line("  none");
        return;
    }
    output::table(
        &[
            "INCIDENT", "STATUS", "URGENCY", "PRIORITY", "AGE", "SERVICE", "ASSIGNED", "TITLE",
            "LINK",
        ],
        rows.iter().map(|r| {
            let i = &r.incident;
            vec![
                format!("#{}", i.number),
                i.status.as_str().into(),
                i.urgency.clone(),
                output::or_dash(i.priority.as_deref()),
                output::age(i.created_at),
                service_list(&r.services),
                if i.assignees.is_empty() {
                    "-".into()
                } else {
                    i.assignees.join(", ")
                },
                i.title.clone(),
                i.html_url.clone().unwrap_or_default(),
            ]
        }),
    );
}

/// Alerts as a table, then the silences on them (`  none` when there are none).
pub fn print_alerts(rows: &[AlertRow]) {
    if rows.is_empty() {
        output::line("  none");
        return;
    }
    output::table(
        &[
            "STATE", "SEVERITY", "ALERT", "SERVICE", "FOR", "SUMMARY", "RUNBOOK",
        ],
        rows.iter().map(|r| {
            let a = &r.alert;
            vec![
                a.state.as_str().into(),
                output::or_dash(a.severity.as_deref()),
                a.name.clone(),
                service_list(&r.services),
                output::age(a.starts_at),
                output::or_dash(a.summary.as_deref()),
                output::or_dash(a.runbook_url.as_deref()),
            ]
        }),
    );
    for r in rows {
        for s in &r.silences {
            output::line(format!(
                "  {} is silenced by {} until {}: {}",
                r.alert.name,
                s.created_by,
                day_time(s.ends_at),
                s.comment
            ));
        }
    }
}

fn service_list(services: &[ServiceRef]) -> String {
    if services.is_empty() {
        "-".into()
    } else {
        services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
