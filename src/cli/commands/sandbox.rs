//! `opsdeck sandbox`: the simulated platforms on loopback until interrupted.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use opsdeck_sandbox::{
    ActionsSpec, ChaosSpec, Sandbox, SandboxOptions, Seed, ACTIONS_PATH, CHAOS_PATH, TOKEN_ENV,
};

use crate::cli::output::{self, Exit};
use crate::cli::Context;

/// Serve the simulated platforms on loopback until interrupted
#[derive(Debug, clap::Args)]
pub struct Args {
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
}

fn parse_chaos(text: &str) -> Result<ChaosSpec, String> {
    text.parse()
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let chaos = args
        .chaos
        .into_iter()
        .fold(ChaosSpec::default(), ChaosSpec::then);
    let chaos_text = chaos.to_string();
    let port = args.port;
    let sandbox = Sandbox::start(SandboxOptions {
        port,
        seed: args.seed,
        token: args.token,
        chaos,
        actions: args.actions,
    })
    .await
    .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    if let Some(path) = &args.write_config {
        create_parent(path)?;
        std::fs::write(path, sandbox.config_toml())
            .with_context(|| format!("cannot write {}", path.display()))?;
        output::progress(&format!("wrote {}", path.display()));
    }
    if cx.json() {
        // One line, so a script can read it while the sandbox keeps running.
        let started = serde_json::json!({
            "url": sandbox.url(),
            "token_env": TOKEN_ENV,
            "token": sandbox.token(),
            "config": args.write_config,
            "chaos": chaos_text,
            "chaos_url": format!("{}{CHAOS_PATH}", sandbox.url()),
            "actions_url": format!("{}{ACTIONS_PATH}", sandbox.url()),
        });
        println!("{started}");
    } else {
        output::line(format!(
            "sandbox serving the Backstage catalog API at {}",
            sandbox.url()
        ));
        output::line(format!("export {TOKEN_ENV}={}", sandbox.token()));
        if !chaos_text.is_empty() {
            output::line(format!("chaos: {chaos_text}"));
        }
        output::line(format!(
            "change chaos while it runs: curl -X PUT -H \"Authorization: Bearer ${TOKEN_ENV}\" --data 'error_rate=0.5' {}{CHAOS_PATH}",
            sandbox.url()
        ));
    }
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    Ok(Exit::Success)
}

/// The directory a path's file goes in, created when missing.
fn create_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(())
}
