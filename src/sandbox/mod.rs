//! The sandbox: a simulated platform on loopback that serves the real APIs' contracts for a
//! deterministic organisation. It is the demo mode's data, the tests' bed and the benchmarks'
//! load. Connectors cannot tell it from the real platform.

mod backstage;
pub mod org;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;

pub use org::{Seed, DEMO_IDENTITY};

/// The env var the written config names for the sandbox's token.
pub const TOKEN_ENV: &str = "OPSDECK_SANDBOX_TOKEN";

/// The name of the catalog source in a sandbox config.
pub const CATALOG_SOURCE: &str = "catalog";

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Loopback port; 0 picks a free one.
    pub port: u16,
    /// Which organisation.
    pub seed: Seed,
    /// The bearer token clients must send; random when `None`.
    pub token: Option<String>,
}

/// A running sandbox. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    token: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Sandbox {
    /// Binds to 127.0.0.1 and serves in the background on the current tokio runtime.
    pub async fn start(options: SandboxOptions) -> std::io::Result<Self> {
        let token = options.token.unwrap_or_else(random_token);
        let api = Arc::new(backstage::CatalogApi::new(
            token.clone(),
            org::entities(options.seed),
        ));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, api.router()).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::error!(error = %e, "sandbox server stopped");
            }
        });
        tracing::info!(%addr, "sandbox listening");
        Ok(Self {
            addr,
            token,
            shutdown: Some(shutdown),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:7007`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bearer token it accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// An `opsdeck.toml` wired to this sandbox. The token is not in it: the source names
    /// [`TOKEN_ENV`].
    pub fn config_toml(&self) -> String {
        format!(
            "# Written by `opsdeck sandbox`: the demo organisation served on {url}.\n\
             # The sandbox's token is read from {TOKEN_ENV}; `opsdeck sandbox` prints it.\n\n\
             [identity]\nemail = \"{DEMO_IDENTITY}\"\n\n\
             [[sources]]\nname = \"{CATALOG_SOURCE}\"\nkind = \"backstage\"\nurl = \"{url}\"\n\
             token_env = \"{TOKEN_ENV}\"\ninterval = \"60s\"\n",
            url = self.url()
        )
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A token that differs per start, so a config from an old sandbox cannot silently work.
fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("sbx_{:016x}", h.finish())
}
