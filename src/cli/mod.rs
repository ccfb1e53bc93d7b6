//! The command line: global options, one module per command (its arguments and its `run`), and
//! the output every command prints through. Commands call the engine and print; they hold no
//! business logic.

mod commands;
mod complete;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::{CommandFactory, Parser, Subcommand};
use opsdeck::config::{Config, SourceKind};
use opsdeck::domain::Health;
use opsdeck::secrets::Secrets;
use opsdeck::Engine;

use output::{Exit, Format};

/// Exit codes, shown under `opsdeck --help`.
const EXIT_CODES: &str = "Exit status: 0 done (an action: confirmed healthy by its platform), \
1 a failure (one line on stderr; with --json, {\"error\": …}), 2 a wrong command line.";

#[derive(Debug, Parser)]
#[command(
    name = "opsdeck",
    version,
    about = "Services, owners and their platforms, from a local cache",
    after_help = EXIT_CODES
)]
struct Cli {
    /// Config file [default: the platform's config dir, e.g. ~/.config/opsdeck/opsdeck.toml]
    #[arg(long, global = true, env = "OPSDECK_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Cache file [default: the platform's data dir, e.g. ~/.local/share/opsdeck/cache.sqlite]
    #[arg(long, global = true, env = "OPSDECK_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    /// Print one JSON document on stdout (and errors as JSON on stderr) instead of text
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Sandbox(commands::sandbox::Args),
    Sync(commands::sync::Args),
    Agent(commands::agent::Args),
    Sources(commands::sources::Args),
    Teams(commands::teams::Args),
    Team(commands::team::Args),
    Scorecard(commands::scorecard::Args),
    Report(commands::report::Args),
    Services(commands::services::Args),
    Service(commands::service::Args),
    Search(commands::search::Args),
    Oncall(commands::oncall::Args),
    Incidents(commands::incidents::Args),
    Incident(commands::incident::Args),
    Silence(commands::incident::SilenceArgs),
    Unsilence(commands::incident::UnsilenceArgs),
    Argocd(commands::incident::ArgocdArgs),
    Alerts(commands::alerts::Args),
    Deploys(commands::deploys::Args),
    Pipeline(commands::pipeline::Args),
    Releases(commands::releases::Args),
    Changes(commands::changes::Args),
    Rollback(commands::rollback::Args),
    Runbooks(commands::runbooks::ListArgs),
    Runbook(commands::runbooks::Args),
    Audit(commands::audit::Args),
    Init(commands::init::Args),
    Config(commands::config::Args),
    Login(commands::login::Args),
    Logout(commands::login::LogoutArgs),
    Completions(commands::completions::Args),
    Man(commands::completions::ManArgs),
}

/// Runs the command line and says how it ended.
pub fn main() -> ExitCode {
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            }
            .into();
        }
    };
    let format = if cli.json { Format::Json } else { Format::Text };
    // The one stderr line of a failure is the CLI's output; logs only when asked. Commands that
    // use the cache also log to the file beside it.
    let log_dir = cli
        .command
        .uses_cache()
        .then(|| cli.db.clone().or_else(opsdeck::paths::default_db_path))
        .flatten()
        .map(|db| opsdeck::paths::log_dir_for(&db));
    // The agent runs under a service manager, whose journal keeps what it says on stderr.
    let (face, stderr_log) = match cli.command {
        Command::Agent(_) => ("agent", "warn,opsdeck=info"),
        _ => ("cli", "off"),
    };
    opsdeck::name_this_process(face);
    opsdeck::logging::init(stderr_log, log_dir.as_deref());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            output::report_error(format, &format!("cannot start the async runtime: {e}"));
            return Exit::Failure.into();
        }
    };
    let context = Context {
        config: cli.config,
        db: cli.db,
        format,
    };
    match runtime.block_on(cli.command.run(&context)) {
        Ok(exit) => exit.into(),
        Err(e) => {
            output::report_error(format, &with_hint(&e));
            Exit::Failure.into()
        }
    }
}

/// The failure's message, with the command that helps when a name was not found.
fn with_hint(error: &anyhow::Error) -> String {
    let hint = match error.downcast_ref::<opsdeck::Error>() {
        Some(opsdeck::Error::NoService(name)) => format!(" (try `opsdeck search {name}`)"),
        Some(opsdeck::Error::NoTeam(_)) => " (see `opsdeck teams`)".into(),
        Some(opsdeck::Error::UnknownSource(_)) => " (see `opsdeck sources`)".into(),
        _ => String::new(),
    };
    format!("{error:#}{hint}")
}

impl Command {
    async fn run(self, cx: &Context) -> anyhow::Result<Exit> {
        use commands::*;
        match self {
            Self::Sandbox(args) => sandbox::run(cx, args).await,
            Self::Sync(args) => sync::run(cx, args).await,
            Self::Agent(args) => agent::run(cx, args).await,
            Self::Sources(args) => sources::run(cx, args).await,
            Self::Teams(args) => teams::run(cx, args).await,
            Self::Team(args) => team::run(cx, args).await,
            Self::Scorecard(args) => scorecard::run(cx, args).await,
            Self::Report(args) => report::run(cx, args).await,
            Self::Services(args) => services::run(cx, args).await,
            Self::Service(args) => service::run(cx, args).await,
            Self::Search(args) => search::run(cx, args).await,
            Self::Oncall(args) => oncall::run(cx, args).await,
            Self::Incidents(args) => incidents::run(cx, args).await,
            Self::Incident(args) => incident::run(cx, args).await,
            Self::Silence(args) => incident::silence(cx, args).await,
            Self::Unsilence(args) => incident::unsilence(cx, args).await,
            Self::Argocd(args) => incident::argocd(cx, args).await,
            Self::Alerts(args) => alerts::run(cx, args).await,
            Self::Deploys(args) => deploys::run(cx, args).await,
            Self::Pipeline(args) => pipeline::run(cx, args).await,
            Self::Releases(args) => releases::run(cx, args).await,
            Self::Changes(args) => changes::run(cx, args).await,
            Self::Rollback(args) => rollback::run(cx, args).await,
            Self::Runbooks(args) => runbooks::list(cx, args).await,
            Self::Runbook(args) => runbooks::run(cx, args).await,
            Self::Audit(args) => audit::run(cx, args).await,
            Self::Init(args) => init::run(cx, args).await,
            Self::Config(args) => config::run(cx, args),
            Self::Login(args) => login::run(cx, args),
            Self::Logout(args) => login::logout(cx, args),
            Self::Completions(args) => completions::run(args),
            Self::Man(args) => completions::man(args),
        }
    }

    /// Whether the command opens the cache (and so logs beside it).
    fn uses_cache(&self) -> bool {
        !matches!(
            self,
            Self::Sandbox(_)
                | Self::Init(_)
                | Self::Config(_)
                | Self::Login(_)
                | Self::Logout(_)
                | Self::Completions(_)
                | Self::Man(_)
        )
    }
}

/// What every command is given: where the config and cache are, and how to print.
pub struct Context {
    config: Option<PathBuf>,
    db: Option<PathBuf>,
    format: Format,
}

/// Which sources an answer is drawn from: its notice names those that are old, and only those.
pub mod drawn_from {
    use opsdeck::config::SourceKind;

    /// Teams, services, search, runbooks.
    pub const CATALOG: &[SourceKind] = &[SourceKind::Backstage, SourceKind::CatalogFiles];
    /// On call and incidents.
    pub const ON_CALL: &[SourceKind] = &[
        SourceKind::Backstage,
        SourceKind::CatalogFiles,
        SourceKind::Pagerduty,
    ];
    /// Alerts.
    pub const ALERTS: &[SourceKind] = &[
        SourceKind::Backstage,
        SourceKind::CatalogFiles,
        SourceKind::Alertmanager,
    ];
    /// Deploys, pipelines, releases, rollbacks.
    pub const DELIVERY: &[SourceKind] = &[
        SourceKind::Backstage,
        SourceKind::CatalogFiles,
        SourceKind::Github,
        SourceKind::Argocd,
    ];
    /// Scorecards and reports: every kind of source.
    pub const EVERYTHING: &[SourceKind] = &[
        SourceKind::Backstage,
        SourceKind::CatalogFiles,
        SourceKind::Pagerduty,
        SourceKind::Alertmanager,
        SourceKind::Github,
        SourceKind::Argocd,
    ];
    /// Nothing cached: sync, sources, the audit log.
    pub const NONE: &[SourceKind] = &[];
}

impl Context {
    /// Whether to print JSON.
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// The config file's path.
    pub fn config_path(&self) -> anyhow::Result<PathBuf> {
        self.config
            .clone()
            .or_else(Config::default_path)
            .ok_or_else(|| anyhow!("no home directory to find the config in; pass --config PATH"))
    }

    /// The config, which must exist.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let path = self.config_path()?;
        if !path.exists() {
            return Err(anyhow!(
                "no config at {}: write one (see README) or run `opsdeck sandbox --write-config {}`",
                path.display(),
                path.display()
            ));
        }
        Ok(Config::load(&path)?)
    }

    /// The engine over the cache; its answers drawn from `sources` are preceded by a notice
    /// on stderr for each of those that is failing or stale (stdout stays the answer).
    pub async fn engine(&self, sources: &[SourceKind]) -> anyhow::Result<Engine> {
        let config = self.load_config()?;
        let db = match self.db.clone().or_else(|| config.cache.file()) {
            Some(db) => db,
            None => opsdeck::paths::default_db_path()
                .ok_or_else(|| anyhow!("no data directory for the cache; pass --db PATH"))?,
        };
        let engine = Engine::open(config, &db, Secrets::default()).await?;
        self.say_when_answers_are_old(&engine, sources).await?;
        Ok(engine)
    }

    async fn say_when_answers_are_old(
        &self,
        engine: &Engine,
        kinds: &[SourceKind],
    ) -> anyhow::Result<()> {
        for s in engine
            .sources()
            .await?
            .into_iter()
            .filter(|s| kinds.contains(&s.kind))
        {
            let as_of = s
                .last_success
                .map_or("nothing from it is cached".to_string(), |at| {
                    format!("answers use its data from {} ago", output::age(at))
                });
            let why = match s.health {
                Health::Failing | Health::RateLimited => s
                    .last_error
                    .as_deref()
                    .and_then(|e| e.lines().next())
                    .map(|line| line.strip_prefix(&format!("{}: ", s.name)).unwrap_or(line))
                    .unwrap_or_default()
                    .to_string(),
                Health::Stale => format!(
                    "not synced for over {} intervals",
                    opsdeck::domain::freshness::STALE_AFTER_INTERVALS
                ),
                Health::Never => {
                    output::notice(&format!("{} has never synced; run `opsdeck sync`", s.name));
                    continue;
                }
                Health::Fresh => continue,
            };
            output::notice(&format!(
                "{} is {} — {as_of} ({why})",
                s.name,
                s.health.words()
            ));
        }
        Ok(())
    }
}
