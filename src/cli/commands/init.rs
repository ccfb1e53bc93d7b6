//! `opsdeck init`: a config written from answers (or flags), each connection tested, and the
//! identity a platform knows your token by offered for `[identity]`.

use std::io::IsTerminal;

use anyhow::anyhow;
use opsdeck::config::{SourceKind, GITHUB_API, PAGERDUTY_API};
use opsdeck::config_file::{ConfigFile, SourceForm};
use opsdeck::secrets::Secrets;
use opsdeck::Engine;

use super::login::{ask, confirm};
use crate::cli::output::{self, Exit};
use crate::cli::Context;

/// Write or extend the config: asks for each platform at a terminal (or takes the flags with
/// --non-interactive), tests each connection, and offers the email a platform knows your token
/// by as your identity. Sources already in the file are kept; one of the same name is updated
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ask nothing: only the flags given are written
    #[arg(long)]
    non_interactive: bool,
    /// Your email, for [identity]
    #[arg(long, value_name = "EMAIL", conflicts_with = "detect_email")]
    email: Option<String>,
    /// Take [identity] email from what a platform knows your token by (PagerDuty), else from
    /// `git config user.email`
    #[arg(long)]
    detect_email: bool,
    /// A Backstage backend's root URL (source `catalog`)
    #[arg(long, value_name = "URL")]
    backstage: Option<String>,
    /// A directory of catalog-info.yaml files (source `catalog-files`)
    #[arg(long, value_name = "DIR")]
    catalog_files: Option<String>,
    /// PagerDuty [default URL: https://api.pagerduty.com]
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = PAGERDUTY_API)]
    pagerduty: Option<String>,
    /// An Alertmanager's root URL
    #[arg(long, value_name = "URL")]
    alertmanager: Option<String>,
    /// GitHub's API [default URL: https://api.github.com; GitHub Enterprise: https://HOST/api/v3]
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = GITHUB_API)]
    github: Option<String>,
    /// An Argo CD API server's root URL
    #[arg(long, value_name = "URL")]
    argocd: Option<String>,
    /// Where a source's token comes from, SOURCE=ENV_VAR (repeatable); without it, the OS
    /// keychain (`opsdeck login SOURCE`)
    #[arg(long = "token-env", value_name = "SOURCE=VAR")]
    token_env: Vec<String>,
}

/// The sources `init` knows how to ask for, with the names it gives them.
const PLATFORMS: [(&str, SourceKind, &str); 6] = [
    ("catalog", SourceKind::Backstage, "Backstage backend URL"),
    (
        "catalog-files",
        SourceKind::CatalogFiles,
        "Directory of catalog-info.yaml files",
    ),
    (
        "pagerduty",
        SourceKind::Pagerduty,
        "PagerDuty API URL ('y' for https://api.pagerduty.com)",
    ),
    ("alertmanager", SourceKind::Alertmanager, "Alertmanager URL"),
    (
        "github",
        SourceKind::Github,
        "GitHub API URL ('y' for https://api.github.com)",
    ),
    ("argocd", SourceKind::Argocd, "Argo CD URL"),
];

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let interactive = !args.non_interactive;
    if interactive && !std::io::stdin().is_terminal() {
        return Err(anyhow!(
            "no terminal to ask at: pass --non-interactive with the platforms as flags (see `opsdeck init --help`)"
        ));
    }
    let path = cx.config_path()?;
    let mut file = ConfigFile::open(&path)?;
    let token_envs: Vec<(String, String)> = args
        .token_env
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(s, v)| (s.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| anyhow!("--token-env {pair}: write SOURCE=ENV_VAR"))
        })
        .collect::<anyhow::Result<_>>()?;
    if let Some((unknown, _)) = token_envs
        .iter()
        .find(|(source, _)| !PLATFORMS.iter().any(|(name, ..)| name == source))
    {
        let names: Vec<&str> = PLATFORMS.iter().map(|(name, ..)| *name).collect();
        return Err(anyhow!(
            "--token-env {unknown}=…: init names its sources {}",
            names.join(", ")
        ));
    }
    let flags = [
        &args.backstage,
        &args.catalog_files,
        &args.pagerduty,
        &args.alertmanager,
        &args.github,
        &args.argocd,
    ];
    let mut tokens = Vec::new();
    let mut written = Vec::new();
    for ((name, kind, question), flag) in PLATFORMS.into_iter().zip(flags) {
        let answer = match flag {
            Some(given) => Some(given.clone()),
            None if interactive => Some(ask(&format!("{question} (Enter to skip): "))?)
                .filter(|a| !a.is_empty())
                .map(|a| match (a.as_str(), kind) {
                    ("y" | "yes", SourceKind::Pagerduty) => PAGERDUTY_API.to_string(),
                    ("y" | "yes", SourceKind::Github) => GITHUB_API.to_string(),
                    _ => a,
                }),
            None => None,
        };
        let Some(answer) = answer else { continue };
        // What a flag does not say is kept as the file has it.
        let before = file.source(name);
        let token_env = token_envs
            .iter()
            .find(|(source, _)| source == name)
            .map(|(_, var)| var.clone())
            .or_else(|| before.as_ref().and_then(|b| b.token_env.clone()));
        let (url, dir) = match kind {
            // Typed relative to where init runs, but the config reads it relative to itself.
            SourceKind::CatalogFiles => {
                let dir = std::path::absolute(&answer)
                    .map_err(|e| anyhow!("{answer}: cannot make it an absolute path: {e}"))?;
                (None, Some(dir.display().to_string()))
            }
            _ => (Some(answer), None),
        };
        file.put_source(&SourceForm {
            name: name.to_string(),
            kind,
            url,
            token_env: token_env.clone(),
            path: dir,
            interval: before.and_then(|b| b.interval),
        });
        if interactive && token_env.is_none() && kind != SourceKind::CatalogFiles {
            let token = rpassword::prompt_password(format!(
                "Token for {name} (not shown; Enter for none): "
            ))?;
            if !token.trim().is_empty() {
                tokens.push((name, token.trim().to_string()));
            }
        }
        written.push(name);
    }
    if let Some(email) = &args.email {
        file.set_identity(email);
    }
    let config = file.save()?;
    for (name, token) in tokens {
        let source = config.source(name).expect("written above");
        Secrets::default().store_in_keychain(source, &token)?;
    }
    output::progress(&format!(
        "{}: {} written",
        path.display(),
        if written.is_empty() {
            "nothing new".to_string()
        } else {
            written.join(", ")
        }
    ));

    let engine = Engine::in_memory(config, Secrets::default()).await?;
    let checks = engine.check_sources().await;
    for c in &checks {
        output::line(super::sources::check_line(c));
    }
    if args.email.is_none() {
        if let Some((email, from)) = Engine::detected_email(&checks).await {
            let take = args.detect_email
                || (interactive
                    && confirm(
                        &format!("{from} knows you as {email}: make it your identity?"),
                        false,
                        "set it",
                    )
                    .is_ok());
            if take {
                let mut file = ConfigFile::open(&path)?;
                file.set_identity(&email);
                file.save()?;
                output::progress(&format!("[identity] email = \"{email}\""));
            }
        } else if args.detect_email {
            output::notice("neither a platform nor git said who you are: pass --email");
        }
    }
    Ok(Exit::from_success(checks.iter().all(|c| c.ok)))
}
