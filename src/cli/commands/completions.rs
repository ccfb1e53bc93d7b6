//! `opsdeck completions SHELL` and `opsdeck man`: generated from the same definitions as the
//! parser, so they cannot drift from it.

use clap::CommandFactory;
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};

use crate::cli::output::Exit;
use crate::cli::Cli;

/// Print the shell's completion script; service and team names complete from the cache.
/// Install: `source <(opsdeck completions bash)` in ~/.bashrc (zsh, fish likewise)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh or fish
    shell: Shell,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Print the man page (roff) of opsdeck: `opsdeck man > opsdeck.1`
#[derive(Debug, clap::Args)]
pub struct ManArgs {}

pub fn run(args: Args) -> anyhow::Result<Exit> {
    let completer: &dyn EnvCompleter = match args.shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
    };
    let bin = std::env::args().next().unwrap_or_else(|| "opsdeck".into());
    completer.write_registration(
        "COMPLETE",
        "opsdeck",
        "opsdeck",
        &bin,
        &mut std::io::stdout(),
    )?;
    Ok(Exit::Success)
}

pub fn man(_: ManArgs) -> anyhow::Result<Exit> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(Exit::Success)
}
