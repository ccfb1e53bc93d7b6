//! `opsdeck login SOURCE` and `opsdeck logout SOURCE`: a source's token (or the shared audit
//! log's password) into and out of the OS keychain; and the prompts every command asks at a
//! terminal.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{anyhow, Context as _};
use opsdeck::config::{Config, AUDIT_LOG_SECRET, CACHE_SECRET};
use opsdeck::secrets::{keychain_account, Secrets};

use crate::cli::output::{self, Exit};
use crate::cli::Context;

/// Store a source's token in the OS keychain (or, as `cache` or `audit-log`, the password of
/// the shared cache's or audit log's database): asked without echo at a terminal, else read
/// from standard input
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source name from the config, or cache, or audit-log
    source: String,
}

/// What a secret is kept for: its name, the env var that overrides it, its keychain account.
struct Kept {
    name: String,
    env: Option<String>,
    account: String,
}

/// The source named `name`, or the shared cache or audit log when `name` is `cache` or
/// `audit-log` and no source takes that name.
fn kept_for(config: &Config, name: &str) -> anyhow::Result<Kept> {
    if let Some(source) = config.source(name) {
        return Ok(Kept {
            name: source.name.clone(),
            env: source.token_env.clone(),
            account: keychain_account(source),
        });
    }
    let database = match name {
        CACHE_SECRET => &config.cache,
        AUDIT_LOG_SECRET => &config.audit,
        _ => return Err(opsdeck::Error::UnknownSource(name.to_string()).into()),
    };
    match database.keychain_account(name) {
        Some(account) => Ok(Kept {
            name: name.into(),
            env: database.password_env.clone(),
            account,
        }),
        None => Err(opsdeck::Error::UnknownSource(name.to_string()).into()),
    }
}

pub fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let config = cx.load_config()?;
    let kept = kept_for(&config, &args.source)?;
    let what = if [AUDIT_LOG_SECRET, CACHE_SECRET].contains(&kept.name.as_str()) {
        "Password"
    } else {
        "Token"
    };
    let token = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{what} for {} (not shown): ", kept.name))
            .context("cannot read it at the terminal")?
    } else {
        let mut token = String::new();
        std::io::stdin()
            .read_to_string(&mut token)
            .context("cannot read it from standard input")?;
        token
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(anyhow!("{}: nothing given; nothing stored", kept.name));
    }
    Secrets::default().store_secret(&kept.name, kept.env.as_deref(), &kept.account, token)?;
    if cx.json() {
        output::json(&serde_json::json!({"stored": kept.name, "in": "keychain"}))?;
    } else {
        output::progress(&format!(
            "{}: {} stored in the OS keychain (as {})",
            kept.name,
            what.to_lowercase(),
            kept.account
        ));
    }
    Ok(Exit::Success)
}

/// Remove a source's token (or, as `cache` or `audit-log`, a shared database's password) from
/// the OS keychain
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// Source name from the config, or cache, or audit-log
    source: String,
}

pub fn logout(cx: &Context, args: LogoutArgs) -> anyhow::Result<Exit> {
    let config = cx.load_config()?;
    let kept = kept_for(&config, &args.source)?;
    let removed = Secrets::default()
        .forget_in_keychain(&kept.account)
        .map_err(|reason| {
            anyhow!(
                "{}: the OS keychain could not be reached ({reason}); nothing was removed",
                kept.name
            )
        })?;
    if cx.json() {
        output::json(&serde_json::json!({"source": kept.name, "removed": removed}))?;
    } else if removed {
        output::progress(&format!("{}: removed from the OS keychain", kept.name));
    } else {
        output::progress(&format!(
            "{}: the OS keychain held nothing for it (as {})",
            kept.name, kept.account
        ));
    }
    if let Some(env) = kept
        .env
        .as_deref()
        .filter(|env| std::env::var_os(env).is_some())
    {
        output::notice(&format!(
            "{env} is still set in this environment, and is still used"
        ));
    }
    Ok(Exit::Success)
}

/// Asks `question` on stderr and reads one line of the answer.
pub fn ask(question: &str) -> anyhow::Result<String> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// Asks `question` (`… [y/N] `) unless `yes`; anything but yes ends the command with nothing
/// done. Without a terminal to ask at, says to add `--yes` to `doing` without asking.
pub fn confirm(question: &str, yes: bool, doing: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(anyhow::anyhow!(
            "no terminal to confirm at: add --yes to {doing} without asking"
        ));
    }
    let answer = ask(&format!("{question} [y/N] "))?;
    if answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        Err(anyhow::anyhow!("not confirmed: nothing was done"))
    }
}
