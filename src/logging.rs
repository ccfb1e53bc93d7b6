//! Logging for the two binaries (libraries only emit): `tracing` to stderr, filtered by
//! `OPSDECK_LOG` (any `tracing` filter, e.g. `info` or `opsdeck=debug`).

/// Installs the subscriber; `default_filter` applies when `OPSDECK_LOG` is unset or invalid.
pub fn init(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
