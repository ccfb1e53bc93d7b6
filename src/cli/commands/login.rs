//! `opsdeck login SOURCE` and `opsdeck logout SOURCE`: a source's token into and out of the
//! OS keychain; and the prompts every command asks at a terminal.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{anyhow, Context as _};
use opsdeck::secrets::{keychain_account, Secrets};

use crate::cli::output::{self, Exit};
use crate::cli::Context;

/// Store a source's token in the OS keychain: asked without echo at a terminal, else read
/// from standard input
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source name from the config
    source: String,
}

pub fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let config = cx.load_config()?;
    let source = config
        .source(&args.source)
        .ok_or_else(|| opsdeck::Error::UnknownSource(args.source.clone()))?;
    let token = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Token for {} (not shown): ", source.name))
            .context("cannot read the token at the terminal")?
    } else {
        let mut token = String::new();
        std::io::stdin()
            .read_to_string(&mut token)
            .context("cannot read the token from standard input")?;
        token
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(anyhow!("{}: no token given; nothing stored", source.name));
    }
    Secrets::default().store_in_keychain(source, token)?;
    if cx.json() {
        output::json(&serde_json::json!({"stored": source.name, "in": "keychain"}))?;
    } else {
        output::progress(&format!(
            "{}: token stored in the OS keychain (as {})",
            source.name,
            keychain_account(source)
        ));
    }
    Ok(Exit::Success)
}

/// Remove a source's token from the OS keychain
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// Source name from the config
    source: String,
}

pub fn logout(cx: &Context, args: LogoutArgs) -> anyhow::Result<Exit> {
    let config = cx.load_config()?;
    let source = config
        .source(&args.source)
        .ok_or_else(|| opsdeck::Error::UnknownSource(args.source.clone()))?;
    let removed = Secrets::default()
        .forget_in_keychain(source)
        .map_err(|reason| {
            anyhow!(
                "{}: the OS keychain could not be reached ({reason}); nothing was removed",
                source.name
            )
        })?;
    if cx.json() {
        output::json(&serde_json::json!({"source": source.name, "removed": removed}))?;
    } else if removed {
        output::progress(&format!(
            "{}: token removed from the OS keychain",
            source.name
        ));
    } else {
        output::progress(&format!(
            "{}: the OS keychain held no token for it (as {})",
            source.name,
            keychain_account(source)
        ));
    }
    if let Some(env) = source
        .token_env
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
