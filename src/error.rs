//! The engine's error: one type both faces match on.

use crate::config::ConfigError;
use crate::connectors::ConnectorError;
use crate::secrets::TokenError;
use crate::store::StoreError;

/// Anything the engine can fail with; each message is one line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The cache failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A platform or file source failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// No token for a source.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A source name that the config does not have.
    #[error("no source named '{0}' in the config")]
    UnknownSource(String),
    /// A service name that the cache does not hold.
    #[error("no service '{0}' in the cache")]
    NoService(String),
    /// A team name that the cache does not hold.
    #[error("no team '{0}' in the cache")]
    NoTeam(String),
    /// A name that is not in the cache.
    #[error("{0}")]
    NotFound(String),
    /// An action Opsdeck will not take as asked; the message says why and what to do.
    #[error("{0}")]
    Refused(String),
    /// The agent's HTTP endpoint stopped serving.
    #[error("the agent's HTTP endpoint (/healthz, /metrics) stopped: {0}")]
    Serve(std::io::Error),
}

impl Error {
    /// Whether the error is about something the user asked for that does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::NotFound(_) | Self::UnknownSource(_) | Self::NoService(_) | Self::NoTeam(_)
        )
    }
}

/// The engine's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
