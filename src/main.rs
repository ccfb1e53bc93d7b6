//! `opsdeck`: the command-line face of the engine. Parses arguments, calls the engine, prints.
//!
//! Exit codes: 0 success, 1 failure (one line on stderr), 2 bad usage.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use opsdeck::api::{
    AlertRow, DeploymentRow, IncidentRow, OnCallPanel, ReleaseMatrix, ServiceDelivery, ServiceRef,
    SyncProgress, TeamOnCall,
};
use opsdeck::config::{Config, SourceKind};
use opsdeck::domain::delivery::{DeployStatus, WaitReason};
use opsdeck::domain::oncall::IncidentStatus;
use opsdeck::domain::Health;
use opsdeck::sandbox::{
    ActionsSpec, ChaosSpec, Sandbox, SandboxOptions, Seed, ACTIONS_PATH, CHAOS_PATH, TOKEN_ENV,
};
use opsdeck::secrets::Secrets;
use opsdeck::text::clock_time;
use opsdeck::{ActivityFilter, Engine, Scope};
use serde::Serialize;

mod cli_actions;

#[derive(Parser)]
#[command(
    name = "opsdeck",
    version,
    about = "Services, owners and their platforms, from a local cache"
)]
struct Cli {
    /// Config file [default: the platform's config dir, e.g. ~/.config/opsdeck/opsdeck.toml]
    #[arg(long, global = true, env = "OPSDECK_CONFIG")]
    config: Option<PathBuf>,
    /// Cache file [default: the platform's data dir, e.g. ~/.local/share/opsdeck/cache.sqlite]
    #[arg(long, global = true, env = "OPSDECK_DB")]
    db: Option<PathBuf>,
    /// Print JSON instead of tables
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulated platforms on loopback until interrupted
    Sandbox {
        /// Port on 127.0.0.1 (0 picks a free one)
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Organisation to serve: `demo` or `scale:N` (N services)
        #[arg(long, default_value = "demo")]
        seed: Seed,
        /// Write an opsdeck.toml wired to this sandbox
        #[arg(long, value_name = "PATH")]
        write_config: Option<PathBuf>,
        /// Token clients must send [default: a new random one]
        #[arg(long, env = TOKEN_ENV, hide_env_values = true)]
        token: Option<String>,
        /// Break the platforms on purpose, e.g. `latency=300ms..3s,error_rate=0.2,
        /// rate_limit=50/min,malformed=0.05,truncate=0.05,drop=0.05`; prefix `backstage:` for
        /// one platform; repeatable. Change it while running with PUT /_sandbox/chaos
        #[arg(long, value_name = "SPEC", value_parser = parse_chaos)]
        chaos: Vec<ChaosSpec>,
        /// How actions (rollbacks) are answered: `refuse=403`, `refuse=500`, `drop`, `fail`,
        /// `rollout=6s`, comma-separated. Change it while running with PUT /_sandbox/actions
        #[arg(long, value_name = "SPEC", default_value = "rollout=6s")]
        actions: ActionsSpec,
    },
    /// Fetch sources into the cache
    Sync {
        /// Only this source
        #[arg(long)]
        source: Option<String>,
    },
    /// Each source with its last sync
    Sources,
    /// Teams, mine first
    Teams,
    /// Services of a team, or all of them
    Services {
        /// Team name
        #[arg(long, conflicts_with = "orphans")]
        team: Option<String>,
        /// Only services whose owner group is missing
        #[arg(long)]
        orphans: bool,
    },
    /// One service: owner, system, relations, links, platforms, gaps
    Service {
        /// Service name or entity reference
        name: String,
    },
    /// Search services, teams, people and systems
    Search {
        /// Words to find (prefixes match)
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Who is on call: every team now and next, or one team's or service's escalation levels
    Oncall {
        /// Only this team's services
        #[arg(long, conflicts_with = "service")]
        team: Option<String>,
        /// Only this service
        #[arg(long)]
        service: Option<String>,
    },
    /// PagerDuty incidents, triggered first, newest first
    Incidents {
        /// Only incidents on this team's services
        #[arg(long)]
        team: Option<String>,
        /// Statuses to list
        #[arg(long, value_delimiter = ',', default_value = "triggered,acknowledged")]
        status: Vec<IncidentStatus>,
    },
    /// Alertmanager alerts (firing, silenced, inhibited), firing first
    Alerts {
        /// Only alerts of this service
        #[arg(long)]
        service: Option<String>,
    },
    /// Deploys, newest first, across teams
    Deploys {
        /// Only this team's services
        #[arg(long)]
        team: Option<String>,
        /// Only this service
        #[arg(long)]
        service: Option<String>,
        /// Only this environment
        #[arg(long)]
        env: Option<String>,
        /// Only this status (success, failure, in_progress, queued, waiting, …)
        #[arg(long)]
        status: Option<DeployStatus>,
        /// Only deploys this recent, e.g. 24h, 7d
        #[arg(long, value_parser = humantime::parse_duration)]
        since: Option<std::time::Duration>,
        /// At most this many
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// A service's pipeline: CI stages, then each environment, and why a stage waits
    Pipeline {
        /// Service name or entity reference
        service: String,
    },
    /// A team's releases: version per environment, drift, pending promotions
    Releases {
        /// Team name [default: my first team]
        #[arg(long)]
        team: Option<String>,
    },
    /// The commits between two deployed versions of a service
    Changes {
        /// Service name or entity reference
        service: String,
        /// The older version
        #[arg(long)]
        from: String,
        /// The newer version
        #[arg(long)]
        to: String,
    },
    /// Roll a service back in one environment: prints the plan, asks, then follows it to
    /// healthy or failed
    Rollback {
        /// Service name or entity reference
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
    },
    /// A service's runbooks (its own, its system's and team's, its alerts'), filled in
    Runbooks {
        /// Service name or entity reference
        service: String,
        /// Fill `{incident_id}` with this incident
        #[arg(long)]
        incident: Option<String>,
        /// Fill `{env}` and `{version}` for this environment [default: production]
        #[arg(long = "env", value_name = "ENV")]
        environment: Option<String>,
    },
    /// Open, print or run one runbook of a service (by number or title, as `runbooks` lists
    /// them); prints its filled-in address by default
    Runbook {
        /// Service name or entity reference
        service: String,
        /// Its number in `opsdeck runbooks SERVICE`, or its title
        name: String,
        /// Open it in the browser (http and https only)
        #[arg(long, conflicts_with_all = ["print", "run"])]
        open: bool,
        /// Print a markdown runbook (from the cache; `--refresh` reads GitHub first)
        #[arg(long, conflicts_with = "run")]
        print: bool,
        /// Read the markdown from GitHub before printing
        #[arg(long, requires = "print")]
        refresh: bool,
        /// Run an automated runbook (a workflow) and follow it to its conclusion
        #[arg(long)]
        run: bool,
        /// An input of the workflow, `name=value` (repeatable)
        #[arg(long = "input", value_name = "NAME=VALUE", requires = "run")]
        inputs: Vec<String>,
        /// Fill `{incident_id}` with this incident
        #[arg(long)]
        incident: Option<String>,
        /// Fill `{env}` and `{version}` for this environment [default: production]
        #[arg(long = "env", value_name = "ENV")]
        environment: Option<String>,
    },
    /// The audit log of actions taken (rollbacks, runbooks); `--json` prints JSON lines, for
    /// export
    Audit {
        /// Only this service's
        #[arg(long)]
        service: Option<String>,
        /// At most this many actions
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Store a source's token in the OS keychain (read from standard input)
    Login {
        /// Source name from the config
        source: String,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // The one stderr line of a failure is the CLI's output; logs only when asked. Commands that
    // use the cache also log to the file beside it.
    let log_dir = match cli.command {
        Command::Sandbox { .. } | Command::Login { .. } => None,
        _ => cli
            .db
            .clone()
            .or_else(opsdeck::paths::default_db_path)
            .map(|db| opsdeck::paths::log_dir_for(&db)),
    };
    opsdeck::logging::init("off", log_dir.as_deref());
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            let message = format!("{e:#}");
            eprintln!("opsdeck: {}", message.lines().next().unwrap_or_default());
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Sandbox {
        port,
        seed,
        write_config,
        token,
        chaos,
        actions,
    } = cli.command
    {
        let chaos = chaos
            .into_iter()
            .fold(ChaosSpec::default(), ChaosSpec::then);
        let options = SandboxOptions {
            port,
            seed,
            token,
            chaos,
            actions,
        };
        return serve_sandbox(options, write_config.as_deref(), cli.json).await;
    }
    if let Command::Login { source } = &cli.command {
        return login(cli.config.as_deref(), source);
    }
    let engine = open_engine(cli.config.as_deref(), cli.db.as_deref()).await?;
    let json = cli.json;
    // Each answer says when the sources it is drawn from are old, and only those.
    const CATALOG: &[SourceKind] = &[SourceKind::Backstage, SourceKind::CatalogFiles];
    const ON_CALL: &[SourceKind] = &[
        SourceKind::Backstage,
        SourceKind::CatalogFiles,
        SourceKind::Pagerduty,
    ];
    const ALERTS: &[SourceKind] = &[
        SourceKind::Backstage,
        SourceKind::CatalogFiles,
        SourceKind::Alertmanager,
    ];
    const DELIVERY: &[SourceKind] = &[
        SourceKind::Backstage,
        SourceKind::CatalogFiles,
        SourceKind::Github,
        SourceKind::Argocd,
    ];
    let drawn_from = match &cli.command {
        Command::Teams
        | Command::Services { .. }
        | Command::Service { .. }
        | Command::Search { .. } => CATALOG,
        Command::Oncall { .. } | Command::Incidents { .. } => ON_CALL,
        Command::Alerts { .. } => ALERTS,
        Command::Deploys { .. }
        | Command::Pipeline { .. }
        | Command::Releases { .. }
        | Command::Changes { .. }
        | Command::Rollback { .. } => DELIVERY,
        Command::Runbooks { .. } | Command::Runbook { .. } => CATALOG,
        Command::Sync { .. }
        | Command::Audit { .. }
        | Command::Sources
        | Command::Sandbox { .. }
        | Command::Login { .. } => &[],
    };
    say_when_answers_are_old(&engine, drawn_from).await?;
    match cli.command {
        Command::Sync { source } => {
            let show_progress = !json && std::io::stderr().is_terminal();
            // Sources sync side by side: one line shows where each of them is.
            let seen = std::sync::Mutex::new(std::collections::BTreeMap::new());
            let progress = move |p: SyncProgress| {
                if show_progress {
                    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                    let total = p.total.map_or(String::new(), |t| format!("/{t}"));
                    seen.insert(
                        p.source.clone(),
                        format!(
                            "{}: {} pages, {}{total} entities",
                            p.source, p.pages, p.items
                        ),
                    );
                    let line: Vec<&str> = seen.values().map(String::as_str).collect();
                    eprint!("\r\x1b[K{}", line.join(" · "));
                }
            };
            let reports = engine.sync(source.as_deref(), &progress).await?;
            if show_progress {
                eprint!("\r\x1b[K");
            }
            let failed = reports.iter().filter(|r| !r.landed).count();
            if json {
                print_json(&reports)?;
            } else {
                for r in &reports {
                    if r.landed {
                        let noun = match engine.config().source(&r.source).map(|s| s.kind) {
                            Some(SourceKind::Backstage | SourceKind::CatalogFiles) => "entities",
                            _ => "records",
                        };
                        println!(
                            "{}: {} {noun}, {} rows written, {} requests",
                            r.source, r.items, r.rows_written, r.requests
                        );
                    } else {
                        println!("{}: not synced", r.source);
                    }
                    for problem in &r.problems {
                        println!("  {}", printable(problem));
                    }
                }
            }
            if failed > 0 {
                let first = reports
                    .iter()
                    .find(|r| !r.landed)
                    .and_then(|r| r.problems.first())
                    .cloned()
                    .unwrap_or_default();
                eprintln!("opsdeck: {failed} source(s) failed: {}", printable(&first));
                return Ok(ExitCode::from(1));
            }
        }
        Command::Sources => {
            let sources = engine.sources().await?;
            if json {
                print_json(&sources)?;
            } else {
                let rows = sources
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.kind.as_str().into(),
                            health_text(s.health).into(),
                            s.last_success
                                .map_or("-".into(), |at| format!("{} ago", age(at))),
                            s.consecutive_failures.to_string(),
                            s.item_count.to_string(),
                            s.requests_last_hour.to_string(),
                            s.quota
                                .map_or("-".into(), |q| match (q.limit, q.resets_at) {
                                    (Some(limit), Some(at)) => {
                                        format!("{}/{limit} until {}", q.remaining, clock_time(at))
                                    }
                                    (Some(limit), None) => format!("{}/{limit}", q.remaining),
                                    (None, _) => q.remaining.to_string(),
                                }),
                            clock_time(s.next_sync),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "SOURCE",
                        "KIND",
                        "HEALTH",
                        "LAST SUCCESS",
                        "FAILURES",
                        "ROWS",
                        "REQ/1H",
                        "QUOTA LEFT",
                        "NEXT SYNC",
                    ],
                    rows,
                );
                for s in sources.iter().filter(|s| s.last_error.is_some()) {
                    let error = s.last_error.as_deref().unwrap_or_default();
                    let label = if s.consecutive_failures > 0 {
                        "error"
                    } else {
                        "problems"
                    };
                    println!("\n{} {label}:", s.name);
                    for line in error.lines().take(10) {
                        println!("  {}", printable(line));
                    }
                }
            }
        }
        Command::Teams => {
            let teams = engine.teams().await?;
            if json {
                print_json(&teams)?;
            } else {
                let rows = teams
                    .iter()
                    .map(|t| {
                        vec![
                            if t.is_mine { "*".into() } else { String::new() },
                            t.name.clone(),
                            printable(&t.title),
                            t.service_count.to_string(),
                            t.member_count.to_string(),
                            t.gap_count.to_string(),
                        ]
                    })
                    .collect();
                print_table(
                    &["MINE", "TEAM", "TITLE", "SERVICES", "MEMBERS", "GAPS"],
                    rows,
                );
            }
        }
        Command::Services { team, orphans } => {
            let services = if orphans {
                engine.orphaned_services().await?
            } else {
                engine.services(team.as_deref()).await?
            };
            if json {
                print_json(&services)?;
            } else {
                let rows = services
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.tier.clone().unwrap_or_else(|| "-".into()),
                            s.lifecycle.clone().unwrap_or_else(|| "-".into()),
                            s.system.clone().unwrap_or_else(|| "-".into()),
                            s.gaps
                                .iter()
                                .map(|g| g.describe())
                                .collect::<Vec<_>>()
                                .join(", "),
                        ]
                    })
                    .collect();
                print_table(&["SERVICE", "TIER", "LIFECYCLE", "SYSTEM", "GAPS"], rows);
            }
        }
        Command::Service { name } => {
            let s = engine.service(&name).await?;
            if json {
                print_json(&s)?;
            } else {
                let refs = |list: &[opsdeck::api::EntitySummary]| {
                    if list.is_empty() {
                        "-".to_string()
                    } else {
                        list.iter().map(summary).collect::<Vec<_>>().join(", ")
                    }
                };
                let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                let mut out = vec![
                    ("Service", format!("{} ({})", s.name, s.key)),
                    ("Title", printable(&s.title)),
                    ("Owner", s.owner.as_ref().map_or("-".into(), summary)),
                    ("System", s.system.as_ref().map_or("-".into(), summary)),
                    ("Type", opt(&s.service_type)),
                    ("Lifecycle", opt(&s.lifecycle)),
                    ("Tier", opt(&s.tier)),
                    (
                        "Description",
                        printable(s.description.as_deref().unwrap_or("-")),
                    ),
                    ("Depends on", refs(&s.depends_on)),
                    ("Dependents", refs(&s.dependents)),
                    ("Provides APIs", refs(&s.provides_apis)),
                    ("Consumes APIs", refs(&s.consumes_apis)),
                    (
                        "Tags",
                        if s.tags.is_empty() {
                            "-".into()
                        } else {
                            printable(&s.tags.join(", "))
                        },
                    ),
                    (
                        "Gaps",
                        if s.gaps.is_empty() {
                            "none".into()
                        } else {
                            s.gaps
                                .iter()
                                .map(|g| g.describe())
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                    ),
                    ("Sources", s.sources.join(", ")),
                ];
                for p in &s.platforms {
                    out.push((
                        "Platform",
                        printable(&format!("{}: {} ({})", p.platform, p.value, p.annotation)),
                    ));
                }
                for l in &s.links {
                    let kind = l.link_type.as_deref().unwrap_or("link");
                    out.push((
                        "Link",
                        printable(&format!(
                            "[{kind}] {} {}",
                            l.title.as_deref().unwrap_or(""),
                            l.url
                        )),
                    ));
                }
                let mut stdout = std::io::stdout().lock();
                for (k, v) in out {
                    writeln!(stdout, "{k:<14} {v}")?;
                }
            }
        }
        Command::Search { text } => {
            let hits = engine.search(&text.join(" "), 50).await?;
            if json {
                print_json(&hits)?;
            } else {
                let rows = hits
                    .iter()
                    .map(|h| {
                        vec![
                            h.kind.clone(),
                            h.name.clone(),
                            printable(&h.title),
                            printable(h.context.as_deref().unwrap_or("")),
                        ]
                    })
                    .collect();
                print_table(&["KIND", "NAME", "TITLE", "CONTEXT"], rows);
            }
        }
        Command::Oncall { team, service } => {
            let scope = match (&team, &service) {
                (Some(team), _) => Some(Scope::Team(team)),
                (None, Some(service)) => Some(Scope::Service(service)),
                (None, None) => None,
            };
            match scope {
                None => print_on_call_overview(&engine.on_call_overview().await?, json)?,
                Some(scope) => print_on_call_panel(&engine.on_call_panel(scope).await?, json)?,
            }
        }
        Command::Incidents { team, status } => {
            let rows = engine.incidents(team.as_deref(), &status).await?;
            if json {
                print_json(&rows)?;
            } else {
                print_incidents(&rows);
            }
        }
        Command::Alerts { service } => {
            let rows = engine.alerts(service.as_deref()).await?;
            if json {
                print_json(&rows)?;
            } else {
                print_alerts(&rows);
            }
        }
        Command::Deploys {
            team,
            service,
            env,
            status,
            since,
            limit,
        } => {
            let filter = ActivityFilter {
                team,
                service,
                environment: env,
                status,
                since: since
                    .map(|s| Utc::now() - chrono::Duration::from_std(s).unwrap_or_default()),
                after: None,
                limit,
            };
            let rows = engine.activity(&filter).await?;
            if json {
                print_json(&rows)?;
            } else {
                print_deploys(&rows);
            }
        }
        Command::Pipeline { service } => {
            let delivery = engine.service_delivery(&service).await?;
            if json {
                print_json(&delivery)?;
            } else {
                print_pipeline(&delivery);
            }
        }
        Command::Releases { team } => {
            let team = match team {
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
            if json {
                print_json(&matrix)?;
            } else {
                print_releases(&matrix);
            }
        }
        Command::Changes { service, from, to } => {
            let changes = engine
                .changes(&service, &from, &to, true)
                .await?
                .expect("asking GitHub answers or fails");
            if json {
                print_json(&changes)?;
            } else {
                println!(
                    "{} → {}: {} commits{}",
                    changes.from_version,
                    changes.to_version,
                    changes.total_commits,
                    changes
                        .link
                        .as_deref()
                        .map_or(String::new(), |l| format!("  {l}"))
                );
                print_table(
                    &["COMMIT", "AUTHOR", "WHEN", "TITLE"],
                    changes
                        .commits
                        .iter()
                        .map(|c| {
                            vec![
                                short(&c.sha),
                                printable(c.author.as_deref().unwrap_or("-")),
                                c.authored_at.map_or("-".into(), age),
                                printable(&c.title),
                            ]
                        })
                        .collect(),
                );
            }
        }
        Command::Rollback {
            service,
            environment,
            to,
            dry_run,
            yes,
            disable_auto_sync,
            confirm_service,
            reason,
        } => {
            let plan = engine
                .plan_rollback(&service, &environment, to.as_deref())
                .await?;
            let asked = cli_actions::Asked {
                dry_run,
                yes,
                disable_auto_sync,
                confirm_service,
                reason,
                json,
            };
            return cli_actions::rollback(&engine, &plan, asked).await;
        }
        Command::Runbooks {
            service,
            incident,
            environment,
        } => {
            let rows = engine
                .runbooks(&service, &runbook_ask(incident, environment))
                .await?;
            if json {
                print_json(&rows)?;
            } else {
                cli_actions::print_runbooks(&rows);
            }
        }
        Command::Runbook {
            service,
            name,
            open,
            print,
            refresh,
            run,
            inputs,
            incident,
            environment,
        } => {
            let ask = runbook_ask(incident, environment);
            let how = if open {
                cli_actions::RunbookUse::Open
            } else if print {
                cli_actions::RunbookUse::Print { refresh }
            } else if run {
                cli_actions::RunbookUse::Run(inputs)
            } else {
                cli_actions::RunbookUse::Address
            };
            return cli_actions::runbook(&engine, &service, &name, &ask, how, json).await;
        }
        Command::Audit { service, limit } => {
            if json {
                print!("{}", engine.audit_json_lines(service.as_deref()).await?);
            } else {
                cli_actions::print_audit(&engine.audit(service.as_deref(), limit).await?);
            }
        }
        Command::Sandbox { .. } | Command::Login { .. } => {
            unreachable!("handled before the engine opens")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `--incident` and `--env` ask runbooks to be filled in for.
fn runbook_ask(incident: Option<String>, environment: Option<String>) -> opsdeck::api::RunbookAsk {
    opsdeck::api::RunbookAsk {
        incident_id: incident,
        alert: None,
        environment,
    }
}

fn parse_chaos(text: &str) -> Result<ChaosSpec, String> {
    text.parse()
}

fn config_path(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(Config::default_path)
        .ok_or_else(|| anyhow!("no home directory to find the config in; pass --config PATH"))
}

fn load_config(flag: Option<&Path>) -> anyhow::Result<Config> {
    let path = config_path(flag)?;
    if !path.exists() {
        return Err(anyhow!(
            "no config at {}: write one (see README) or run `opsdeck sandbox --write-config {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(Config::load(&path)?)
}

async fn open_engine(config: Option<&Path>, db: Option<&Path>) -> anyhow::Result<Engine> {
    let config = load_config(config)?;
    let db = match db {
        Some(db) => db.to_path_buf(),
        None => opsdeck::paths::default_db_path()
            .ok_or_else(|| anyhow!("no data directory for the cache; pass --db PATH"))?,
    };
    Ok(Engine::open(config, &db, Secrets::default()).await?)
}

fn login(config: Option<&Path>, source: &str) -> anyhow::Result<ExitCode> {
    let config = load_config(config)?;
    let source = config
        .source(source)
        .ok_or_else(|| opsdeck::Error::UnknownSource(source.to_string()))?;
    if std::io::stdin().is_terminal() {
        eprintln!(
            "Paste the token for {} and press Enter (Ctrl-D to finish):",
            source.name
        );
    }
    let mut token = String::new();
    std::io::stdin()
        .read_to_string(&mut token)
        .context("cannot read the token from standard input")?;
    let token = token.trim();
    if token.is_empty() {
        return Err(anyhow!(
            "{}: no token on standard input; nothing stored",
            source.name
        ));
    }
    Secrets::store_in_keychain(source, token)?;
    eprintln!("{}: token stored in the OS keychain", source.name);
    Ok(ExitCode::SUCCESS)
}

async fn serve_sandbox(
    options: SandboxOptions,
    write_config: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let port = options.port;
    let chaos = options.chaos.to_string();
    let sandbox = Sandbox::start(options)
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    if let Some(path) = write_config {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(path, sandbox.config_toml())
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if json {
        // One line, so a script can read it while the sandbox keeps running.
        let started = serde_json::json!({
            "url": sandbox.url(),
            "token_env": TOKEN_ENV,
            "token": sandbox.token(),
            "config": write_config,
            "chaos": chaos,
            "chaos_url": format!("{}{CHAOS_PATH}", sandbox.url()),
            "actions_url": format!("{}{ACTIONS_PATH}", sandbox.url()),
        });
        println!("{started}");
    } else {
        println!(
            "sandbox serving the Backstage catalog API at {}",
            sandbox.url()
        );
        println!("export {TOKEN_ENV}={}", sandbox.token());
        if !chaos.is_empty() {
            println!("chaos: {chaos}");
        }
        println!(
            "change chaos while it runs: curl -X PUT -H \"Authorization: Bearer ${TOKEN_ENV}\" --data 'error_rate=0.5' {}{CHAOS_PATH}",
            sandbox.url()
        );
    }
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

pub(crate) fn print_table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_string()
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "{}",
        line(header.iter().map(|h| h.to_string()).collect())
    );
    for row in rows {
        let _ = writeln!(stdout, "{}", line(row));
    }
}

fn summary(e: &opsdeck::api::EntitySummary) -> String {
    if e.exists {
        e.key.clone()
    } else {
        format!("{} (missing)", e.key)
    }
}

/// Catalog text is untrusted: control characters (ANSI escapes, carriage returns) could rewrite
/// the terminal, so they are shown as visible replacements.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

pub(crate) fn age(at: DateTime<Utc>) -> String {
    let secs = (Utc::now() - at).num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d", secs / 86_400),
    }
}

/// Answers always come from the cache; when a source is failing or its data is stale, stderr
/// says so (stdout stays the answer, JSON included).
async fn say_when_answers_are_old(engine: &Engine, kinds: &[SourceKind]) -> anyhow::Result<()> {
    for s in engine
        .sources()
        .await?
        .into_iter()
        .filter(|s| kinds.contains(&s.kind))
    {
        let as_of = s
            .last_success
            .map_or("nothing from it is cached".to_string(), |at| {
                format!("answers use its data from {} ago", age(at))
            });
        let why = match s.health {
            Health::Failing | Health::RateLimited => s
                .last_error
                .as_deref()
                .and_then(|e| e.lines().next())
                .map(|line| printable(line.strip_prefix(&format!("{}: ", s.name)).unwrap_or(line)))
                .unwrap_or_default(),
            Health::Stale => format!(
                "not synced for over {} intervals",
                opsdeck::domain::freshness::STALE_AFTER_INTERVALS
            ),
            Health::Never => {
                eprintln!("opsdeck: {} has never synced; run `opsdeck sync`", s.name);
                continue;
            }
            Health::Fresh => continue,
        };
        eprintln!(
            "opsdeck: {} is {} — {as_of} ({why})",
            s.name,
            health_text(s.health)
        );
    }
    Ok(())
}

fn print_on_call_overview(teams: &[TeamOnCall], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&teams);
    }
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
    let rows = teams
        .iter()
        .map(|t| {
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
        })
        .collect();
    print_table(
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
        rows,
    );
    Ok(())
}

fn print_on_call_panel(panel: &OnCallPanel, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(panel);
    }
    let mut rows = Vec::new();
    for policy in &panel.policies {
        for level in &policy.levels {
            let now = if level.now.is_empty() {
                vec![None]
            } else {
                level.now.iter().map(Some).collect()
            };
            for person in now {
                rows.push(vec![
                    printable(&policy.policy_name),
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
        println!("Nobody is on call for these services (no PagerDuty data for them in the cache).");
    } else {
        print_table(
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
    if panel.me_on_call {
        println!("\nYou are on call now.");
    }
    if !panel.unpaged.is_empty() {
        println!(
            "\nNot wired to PagerDuty (no pagerduty.com/service-id): {}",
            panel.unpaged.join(", ")
        );
    }
    if !panel.unknown_to_pagerduty.is_empty() {
        println!(
            "PagerDuty has no service with the id these name: {}",
            panel.unknown_to_pagerduty.join(", ")
        );
    }
    println!(
        "\nOpen incidents ({}; {} resolved recently):",
        panel.incidents.len(),
        panel.resolved_recently
    );
    print_incidents(&panel.incidents);
    println!("\nAlerts ({}):", panel.alerts.len());
    print_alerts(&panel.alerts);
    Ok(())
}

fn print_incidents(rows: &[IncidentRow]) {
    if rows.is_empty() {
        println!("  none");
        return;
    }
    let table = rows
        .iter()
        .map(|r| {
            let i = &r.incident;
            vec![
                format!("#{}", i.number),
                i.status.as_str().into(),
                i.urgency.clone(),
                i.priority.clone().unwrap_or_else(|| "-".into()),
                age(i.created_at),
                service_names(&r.services),
                if i.assignees.is_empty() {
                    "-".into()
                } else {
                    printable(&i.assignees.join(", "))
                },
                printable(&i.title),
                i.html_url.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &[
            "INCIDENT", "STATUS", "URGENCY", "PRIORITY", "AGE", "SERVICE", "ASSIGNED", "TITLE",
            "LINK",
        ],
        table,
    );
}

fn short(sha: &str) -> String {
    sha.chars().take(7).collect()
}

fn status_text(status: DeployStatus) -> &'static str {
    match status {
        DeployStatus::InProgress => "in progress",
        DeployStatus::Unknown => "-",
        other => other.as_str(),
    }
}

fn print_deploys(rows: &[DeploymentRow]) {
    print_table(
        &[
            "WHEN", "SERVICE", "ENV", "VERSION", "STATUS", "BY", "COMMIT",
        ],
        rows.iter()
            .map(|d| {
                let version = match &d.rolled_back_from {
                    Some(from) => format!("{} (rollback from {from})", d.version),
                    None => d.version.clone(),
                };
                vec![
                    format!("{} ago", age(d.started_at)),
                    printable(&d.service.name),
                    printable(&d.environment),
                    printable(&version),
                    status_text(d.status).to_string(),
                    printable(d.actor.as_deref().unwrap_or("-")),
                    d.commit.as_deref().map_or("-".into(), short),
                ]
            })
            .collect(),
    );
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
        println!(
            "{} is not wired to GitHub or Argo CD (github.com/project-slug, argocd/app-name, argocd/app-selector)",
            delivery.service.name
        );
        return;
    }
    print_table(
        &[
            "STAGE",
            "STATUS",
            "VERSION",
            "STARTED",
            "TOOK",
            "WHY IT WAITS",
        ],
        delivery
            .stages
            .iter()
            .map(|s| {
                vec![
                    printable(&s.name),
                    status_text(s.status).to_string(),
                    printable(s.version.as_deref().unwrap_or("-")),
                    s.started_at
                        .map_or("-".into(), |at| format!("{} ago", age(at))),
                    s.duration_seconds
                        .map_or("-".into(), |d| format!("{}m{:02}s", d / 60, d % 60)),
                    s.waiting.as_ref().map_or(String::new(), wait_text),
                ]
            })
            .collect(),
    );
    println!();
    print_table(
        &[
            "ENV", "VERSION", "DEPLOYED", "BY", "HEALTH", "SYNC", "INCOMING",
        ],
        delivery
            .environments
            .iter()
            .map(|e| {
                let current = e.current.as_ref();
                vec![
                    format!(
                        "{}{}",
                        printable(&e.environment),
                        if e.drift { " *" } else { "" }
                    ),
                    current.map_or("-".into(), |d| printable(&d.version)),
                    current.map_or("-".into(), |d| {
                        format!("{} ago", age(d.finished_at.unwrap_or(d.started_at)))
                    }),
                    current
                        .and_then(|d| d.actor.as_deref())
                        .map_or("-".into(), printable),
                    e.health.as_deref().map_or("-".into(), printable),
                    match (&e.sync, e.automated_sync) {
                        (Some(sync), true) => format!("{} (auto)", printable(sync)),
                        (Some(sync), false) => printable(sync),
                        (None, _) => "-".into(),
                    },
                    e.latest.as_ref().map_or(String::new(), |d| {
                        format!("{} {}", printable(&d.version), status_text(d.status))
                    }),
                ]
            })
            .collect(),
    );
    if let Some(p) = &delivery.pending {
        println!(
            "\npending promotion: {} in {} → {} (runs {}){}",
            p.version,
            p.from_environment,
            p.to_environment,
            p.production_version.as_deref().unwrap_or("nothing"),
            p.commit_count
                .map_or(String::new(), |n| format!(", {n} commits"))
        );
    }
}

fn print_releases(matrix: &ReleaseMatrix) {
    let mut header = vec!["SERVICE"];
    header.extend(matrix.environments.iter().map(String::as_str));
    header.extend(["PENDING", "PROD DEPLOYS 30D"]);
    let days = matrix.days.len();
    print_table(
        &header,
        matrix
            .rows
            .iter()
            .map(|r| {
                let mut row = vec![printable(&r.service.name)];
                row.extend(r.cells.iter().map(|c| match c {
                    None => "-".to_string(),
                    Some(c) => {
                        let mut text = c.version.as_deref().map_or("-".into(), printable);
                        if c.drift {
                            text.push_str(" *");
                        }
                        if let (Some(v), Some(s)) = (&c.incoming, c.incoming_status) {
                            text.push_str(&format!(" ({} {})", printable(v), status_text(s)));
                        }
                        text
                    }
                }));
                row.push(r.pending.as_ref().map_or(String::new(), |p| {
                    format!(
                        "{} from {}{}",
                        printable(&p.version),
                        p.from_environment,
                        p.commit_count
                            .map_or(String::new(), |n| format!(", {n} commits"))
                    )
                }));
                row.push(
                    r.daily_deploys[days.saturating_sub(30)..]
                        .iter()
                        .sum::<i64>()
                        .to_string(),
                );
                row
            })
            .collect(),
    );
    if !matrix.unwired.is_empty() {
        println!(
            "\nnot wired to GitHub or Argo CD: {}",
            matrix.unwired.join(", ")
        );
    }
    println!("* runs another version than production");
}

fn print_alerts(rows: &[AlertRow]) {
    if rows.is_empty() {
        println!("  none");
        return;
    }
    let table = rows
        .iter()
        .map(|r| {
            let a = &r.alert;
            vec![
                a.state.as_str().into(),
                a.severity.clone().unwrap_or_else(|| "-".into()),
                printable(&a.name),
                service_names(&r.services),
                age(a.starts_at),
                printable(a.summary.as_deref().unwrap_or("-")),
                a.runbook_url.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print_table(
        &[
            "STATE", "SEVERITY", "ALERT", "SERVICE", "FOR", "SUMMARY", "RUNBOOK",
        ],
        table,
    );
    for r in rows.iter().filter(|r| !r.silences.is_empty()) {
        for s in &r.silences {
            println!(
                "  {} is silenced by {} until {}: {}",
                printable(&r.alert.name),
                printable(&s.created_by),
                day_time(s.ends_at),
                printable(&s.comment)
            );
        }
    }
}

fn service_names(services: &[ServiceRef]) -> String {
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

fn person_text(name: &str, is_me: bool) -> String {
    if is_me {
        format!("{} (you)", printable(name))
    } else {
        printable(name)
    }
}

/// A moment in the coming days, in local time: `Tue 09:00`.
pub(crate) fn day_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono::Local)
        .format("%a %H:%M")
        .to_string()
}

fn health_text(health: Health) -> &'static str {
    match health {
        Health::Fresh => "fresh",
        Health::Stale => "stale",
        Health::RateLimited => "rate limited",
        Health::Failing => "failing",
        Health::Never => "never synced",
    }
}
