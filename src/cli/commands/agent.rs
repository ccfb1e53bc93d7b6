//! `opsdeck agent`: every source synced on its schedule, headless, for everyone who reads the
//! cache; `/healthz` and `/metrics` for whatever runs and watches it.

use std::net::SocketAddr;

use anyhow::Context as _;

use crate::cli::output::{self, Exit};
use crate::cli::{drawn_from, Context};

/// Sync every source on its schedule, headless, until stopped (SIGTERM or Ctrl+C); serves
/// GET /healthz and GET /metrics (Prometheus text format)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address for /healthz and /metrics (port 0: any free port, printed at start)
    #[arg(long, default_value = "127.0.0.1:9780", value_name = "ADDRESS")]
    listen: SocketAddr,
}

pub async fn run(cx: &Context, args: Args) -> anyhow::Result<Exit> {
    let engine = cx.engine(drawn_from::NONE).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot serve /healthz and /metrics on {}: pick another address with --listen",
                args.listen
            )
        })?;
    let address = listener.local_addr()?;
    output::line(format!(
        "opsdeck agent: {} sources, health and metrics on http://{address}/healthz and /metrics",
        engine.config().sources.len()
    ));
    tracing::info!(%address, sources = engine.config().sources.len(), "agent started");
    opsdeck::agent::run(engine, listener, stop_asked()).await?;
    tracing::info!("agent stopped; syncs under way were dropped, nothing of them landed");
    Ok(Exit::Success)
}

/// Resolves when the service manager (SIGTERM) or the user (Ctrl+C) asks the agent to stop.
async fn stop_asked() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping"),
                }
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "SIGTERM cannot be caught; Ctrl+C stops the agent")
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
