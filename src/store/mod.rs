//! The local cache: SQLite through sqlx, one file, WAL. Every screen reads from here; sync is
//! the only writer of platform data, actions the only writer of the audit log. Knows nothing
//! of HTTP.

mod audit;
mod catalog;
mod delivery;
mod files;
mod landing;
mod platform;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub use audit::{AuditStep, Begun};
pub use catalog::{key_name, RelatedEntity, SourceRows, StoredEntity, SyncCost, SyncStateRow};
pub use delivery::{ActivityCursor, ActivityQuery, DeliveryLanding};
pub use files::{FileAt, StoredFile};
pub use platform::{ComponentWiring, LookupBy, PlatformRecord, RecordKind};

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Opening or migrating the database failed.
    #[error("cannot open the cache at {path}: {message}")]
    Open {
        /// The database file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A query failed.
    #[error("cache query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored JSON column did not decode (a cache written by another version).
    #[error(
        "cache holds data this version cannot read ({0}); delete the cache file to rebuild it"
    )]
    Corrupt(String),
}

/// The cache. Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    /// Held by every write. SQLite takes one writer at a time anyway; queueing here instead of
    /// on its lock means a long rebuild never runs another writer into the busy timeout.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations");

impl Store {
    /// Opens (creating if needed) the cache file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |message: String| StoreError::Open {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_error(e.to_string()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        Self::connect(options, 4)
            .await
            .map_err(|e| open_error(e.to_string()))
    }

    /// A private in-memory cache, for tests.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options =
            SqliteConnectOptions::from_str("sqlite::memory:").map_err(StoreError::Query)?;
        // One connection: each in-memory connection would be a separate database.
        Self::connect(options, 1)
            .await
            .map_err(|e| StoreError::Open {
                path: ":memory:".into(),
                message: e.to_string(),
            })
    }

    /// SQLite's own check of the file: "ok", or what is damaged.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.join("; "))
    }

    /// What the cache holds from `source`, as it reported it.
    pub async fn source_entities(
        &self,
        source: &str,
    ) -> Result<Vec<crate::domain::Entity>, StoreError> {
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM source_entities WHERE source = ?")
                .bind(source)
                .fetch_all(&self.pool)
                .await?;
        bodies
            .iter()
            .map(|body| decode_json("source_entities.body", body))
            .collect()
    }

    /// How many entities the cache holds from `source`.
    pub async fn source_entity_count(&self, source: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM source_entities WHERE source = ?")
                .bind(source)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn connect(options: SqliteConnectOptions, connections: u32) -> Result<Self, sqlx::Error> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            writer: Default::default(),
        })
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}
