//! `opsdeck config path|show|validate`: where the config is, what Opsdeck makes of it, and
//! whether it holds.

use opsdeck::config::{Config, SourceKind};
use opsdeck::secrets::{keychain_account, Secrets};

use crate::cli::output::{self, Exit};
use crate::cli::Context;

/// Where the config file is, what Opsdeck makes of it, whether it is valid
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConfigCommand {
    /// Print the config file's path (--config, OPSDECK_CONFIG, or the platform's default)
    Path,
    /// Print the config as Opsdeck reads it: identity, and each source with its address,
    /// interval and where its token comes from (never the token)
    Show,
    /// Check the config file; exits 1, naming the line, when it does not hold
    Validate,
    /// Print the JSON Schema of opsdeck.toml, for editors: save it beside the config and
    /// start the config with `#:schema ./opsdeck.schema.json` (Taplo, Even Better TOML)
    Schema,
}

pub fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    match args.command {
        ConfigCommand::Schema => {
            output::json(&Config::json_schema())?;
            Ok(Exit::Success)
        }
        ConfigCommand::Path => {
            let path = cx.config_path()?;
            if cx.json() {
                output::json(&serde_json::json!({"path": path, "exists": path.exists()}))?;
            } else {
                output::line(path.display().to_string());
                if !path.exists() {
                    output::notice("no file there yet");
                }
            }
            Ok(Exit::Success)
        }
        ConfigCommand::Validate => {
            let path = cx.config_path()?;
            let config = cx.load_config()?;
            let warnings: Vec<String> = config
                .sources
                .iter()
                .filter_map(|s| s.insecure_warning())
                .collect();
            if cx.json() {
                output::json(&serde_json::json!({
                    "path": path, "valid": true, "sources": config.sources.len(),
                    "warnings": warnings,
                }))?;
            } else {
                output::line(format!(
                    "{}: valid, {} sources",
                    path.display(),
                    config.sources.len()
                ));
                for warning in &warnings {
                    output::notice(&format!("warning: {warning}"));
                }
            }
            Ok(Exit::Success)
        }
        ConfigCommand::Show => {
            let config = cx.load_config()?;
            show(cx, &config)
        }
    }
}

/// A source as Opsdeck reads it.
#[derive(serde::Serialize)]
struct ShownSource {
    name: String,
    kind: &'static str,
    /// The URL, or the directory of catalog files.
    address: String,
    interval_secs: u64,
    /// Where the token comes from, or why there is none; never the token.
    token: String,
}

fn show(cx: &Context, config: &Config) -> anyhow::Result<Exit> {
    let secrets = Secrets::default();
    let sources: Vec<ShownSource> = config
        .sources
        .iter()
        .map(|s| ShownSource {
            name: s.name.clone(),
            kind: s.kind.as_str(),
            address: s
                .url
                .clone()
                .or_else(|| s.path.as_ref().map(|p| p.display().to_string()))
                .unwrap_or_default(),
            interval_secs: s.interval.as_secs(),
            token: match secrets.token_for(s) {
                _ if s.kind == SourceKind::CatalogFiles => "none needed (local files)".into(),
                Ok(Some(token)) => token.origin,
                Ok(None) => format!("none (no keychain entry {})", keychain_account(s)),
                Err(e) => e.detail(),
            },
        })
        .collect();
    if cx.json() {
        output::json(&serde_json::json!({
            "identity": {"email": config.identity.email},
            "sources": sources,
        }))?;
        return Ok(Exit::Success);
    }
    output::line(format!(
        "identity: {}",
        config
            .identity
            .email
            .as_deref()
            .unwrap_or("not set ([identity] email: actions and \"my teams\" need it)")
    ));
    output::table(
        &["SOURCE", "KIND", "ADDRESS", "EVERY", "TOKEN FROM"],
        sources.into_iter().map(|s| {
            vec![
                s.name,
                s.kind.to_string(),
                s.address,
                format!("{}s", s.interval_secs),
                s.token,
            ]
        }),
    );
    Ok(Exit::Success)
}
