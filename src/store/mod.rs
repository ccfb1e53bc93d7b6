//! The local cache: SQLite through sqlx, one file, WAL. Every screen reads from here; sync is
//! the only writer of platform data, actions the only writer of the audit log. Knows nothing
//! of HTTP.

mod audit;
mod catalog;
mod delivery;
mod files;
mod landing;
mod leases;
mod platform;
mod postgres;
mod scorecards;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub use audit::{AuditLocation, AuditStep, Begun};
pub use catalog::{
    key_name, RelatedEntity, SourceRows, StoredEntity, SyncCost, SyncStateRow, TeamHead,
};
pub use delivery::{ActivityCursor, ActivityQuery, DeliveryLanding, DeliveryPart};
pub use files::{FileAt, StoredFile};
pub use leases::{Lease, LeaseHolder};
pub use platform::{ComponentWiring, LookupBy, PlatformRecord, RecordKind};
pub use postgres::SharedDatabase;
pub use scorecards::{ScorecardResult, ScoredService, Worsening};

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
    /// The shared audit log could not be opened.
    #[error("cannot open the shared audit log at {at}: {message}")]
    SharedAuditLog {
        /// Where: user, host, port and database (never a password).
        at: String,
        /// What went wrong, and what to do.
        message: String,
    },
    /// A query failed.
    #[error("cache query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored JSON column did not decode (a cache written by another version).
    #[error(
        "cache holds data this version cannot read ({0}); delete the cache file to rebuild it from the platforms (the audit log is a file of its own and is kept)"
    )]
    Corrupt(String),
}

/// One of the two databases the store speaks to: SQLite (a file of this machine's) or
/// PostgreSQL (shared). Queries written once run on either through [`on_backend!`].
#[derive(Debug, Clone)]
pub(crate) enum Backend<S, P> {
    Sqlite(S),
    Postgres(P),
}

impl<S, P> Backend<S, P> {
    /// A subquery of the strings in the JSON array bound as parameter `$n`: how a list is
    /// bound once, whatever its length.
    pub(crate) fn json_strings(&self, n: usize) -> String {
        match self {
            Self::Sqlite(_) => format!("SELECT value FROM json_each(${n})"),
            Self::Postgres(_) => format!("SELECT opsdeck_listed(${n}::jsonb)"),
        }
    }

    /// A join that keeps the table before it outermost: SQLite's CROSS JOIN, which its
    /// planner never reorders; PostgreSQL plans its joins well from its statistics.
    pub(crate) fn outer_first(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "CROSS JOIN",
            Self::Postgres(_) => "JOIN",
        }
    }
}

/// Runs `$body` with `$bound` bound to what `$backend` holds, whichever database it is: the
/// body is written once and compiled for each.
macro_rules! on_backend {
    ($backend:expr, $bound:ident => $body:expr) => {
        match $backend {
            $crate::store::Backend::Sqlite($bound) => $body,
            $crate::store::Backend::Postgres($bound) => $body,
        }
    };
}
use on_backend;

/// The cache, and the audit log (in its own file beside it, or shared in PostgreSQL). Cloning
/// is cheap and shares the pools.
#[derive(Debug, Clone)]
pub struct Store {
    /// The cache's database: a file of this machine's, or a PostgreSQL database shared.
    cache: Backend<SqlitePool, sqlx::PgPool>,
    /// For a SQLite file: one connection for the landings that rewrite much of the cache, with
    /// a page cache to match (see [`LANDING_CACHE_KIB`]).
    landing: Option<SqlitePool>,
    /// Held by every write. SQLite takes one writer at a time anyway; queueing here instead of
    /// on its lock means a long rebuild never runs another writer into the busy timeout.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    audit: audit::AuditDb,
    /// Set once a shared audit log was reached and its schema found current.
    audit_checked: std::sync::Arc<tokio::sync::OnceCell<()>>,
    /// Held by every append: each entry is chained to the last one, read in the same turn.
    audit_writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// In a shared cache, the connection of each lease holder of this process that holds its
    /// lock of the living (see [`Store::keep_alive`]).
    alive:
        std::sync::Arc<tokio::sync::Mutex<std::collections::HashMap<String, sqlx::PgConnection>>>,
    /// Held while a checkpoint a landing handed over runs (see [`Store::commit_landing`]).
    checkpointing: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// For a SQLite file: the connection those checkpoints run on. Not one of the readers':
    /// refreshing the planner's statistics after a landing takes each of those in turn, and
    /// waited for the checkpoint to finish.
    checkpointer: Option<SqlitePool>,
}

/// The page cache of the landing connection, in KiB. A full landing rewrites tens of
/// megabytes; in SQLite's default 2 MB the pages it touches again and again spilled into the
/// WAL and were read back from it (a full catalog sync spent a third to a half more time in
/// the kernel). The connection closes a minute after its last landing, and its cache with it.
const LANDING_CACHE_KIB: u32 = 65_536;
/// The size, in bytes, the WAL is cut back to once a checkpoint has emptied it. A landing of a
/// million deployments grew it past a gigabyte, and without a limit it kept that size on disk
/// for as long as the app stayed open.
const WAL_KEPT_BYTES: u64 = 64 * 1024 * 1024;
/// WAL pages past which a commit checkpoints on its own connection (SQLite's default: 1,000):
/// a safety net. A landing hands its pages to a checkpoint that runs beside what follows it
/// instead: in its commit, the checkpoint cost a full catalog landing of 14,000 entities
/// half a second of its three.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 50_000;
/// Times a migration that failed is tried again, in case another process was migrating too.
const MIGRATION_RETRIES: u64 = 5;
/// SQLite's primary result code for a database another connection holds.
const SQLITE_BUSY: &str = "5";
/// The advisory lock a landing in a shared cache holds until it commits.
const LANDING_LOCK: i64 = 0x6f70_7364_6563_6b4c; // "opsdeckL"
/// Connections to a shared cache: the screens' reads in parallel, and a landing.
const SHARED_CONNECTIONS: u32 = 6;
/// How long the landing and checkpoint connections stay open unused.
const LANDING_IDLE: Duration = Duration::from_secs(60);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations");
static AUDIT_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/audit_migrations");

/// Where the audit log of the cache at `cache` lives: beside it, `<name>.audit.<ext>`.
pub fn audit_path_of(cache: &Path) -> std::path::PathBuf {
    let stem = cache.file_stem().unwrap_or_default().to_string_lossy();
    let name = match cache.extension() {
        Some(ext) => format!("{stem}.audit.{}", ext.to_string_lossy()),
        None => format!("{stem}.audit"),
    };
    cache.with_file_name(name)
}

/// Makes `path` readable and writable by the user only (created so when new, its directory
/// too); SQLite gives its WAL and shared-memory files the database's mode.
fn private_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::paths::private_dir(dir)?;
    }
    // Opening a FIFO for writing waits for a reader: only a regular file, or none yet.
    match std::fs::metadata(path) {
        Ok(found) if !found.is_file() => {
            return Err(std::io::Error::other(
                "not a regular file (a directory, device, FIFO or socket)",
            ))
        }
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the cache file at `path`, and the audit log where `audit`
    /// says, and brings their schemas up to date.
    pub async fn open(path: &Path, audit: &AuditLocation) -> Result<Self, StoreError> {
        let open_error = |message: String| StoreError::Open {
            path: path.display().to_string(),
            message,
        };
        let audit_path = audit_path_of(path);
        let beside = matches!(audit, AuditLocation::BesideCache);
        for file in std::iter::once(path).chain(beside.then_some(audit_path.as_path())) {
            private_file(file).map_err(|e| open_error(format!("{}: {e}", file.display())))?;
        }
        let options = |file: &Path| {
            SqliteConnectOptions::new()
                .filename(file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .pragma("journal_size_limit", WAL_KEPT_BYTES.to_string())
                .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
        };
        let audit = match audit {
            // FULL: an append is on disk when it returns (see `append`); the log's
            // connections write nothing else.
            AuditLocation::BesideCache => Backend::Sqlite(
                Self::pool(
                    options(&audit_path).synchronous(SqliteSynchronous::Full),
                    2,
                    &AUDIT_MIGRATOR,
                )
                .await
                .map_err(|e| open_error(format!("the audit log {}: {e}", audit_path.display())))?,
            ),
            AuditLocation::Postgres(shared) => audit::open_shared(&shared.0),
        };
        let store = Self::connect(options(path), 4, audit)
            .await
            .map_err(|e| open_error(e.to_string()))?;
        let one_connection = || {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .idle_timeout(LANDING_IDLE)
        };
        let landing = one_connection()
            .connect_lazy_with(options(path).pragma("cache_size", format!("-{LANDING_CACHE_KIB}")));
        Ok(Self {
            landing: Some(landing),
            checkpointer: Some(one_connection().connect_lazy_with(options(path))),
            ..store
        })
    }

    /// Opens the cache shared in the PostgreSQL database `shared`, and the audit log
    /// where `audit` says (beside the cache: in the same database), and brings the cache's
    /// schema up to date unless it is (a role that may not create tables need not).
    pub async fn open_shared(
        shared: &SharedDatabase,
        audit: &AuditLocation,
    ) -> Result<Self, StoreError> {
        let shared = &shared.0;
        let pool = postgres::lazy_pool(shared, SHARED_CONNECTIONS);
        postgres::reach_and_migrate(
            &pool,
            &postgres::CACHE_MIGRATOR,
            "[cache] url",
            &format!(
                "password_env, `opsdeck login {}`, PGPASSWORD or ~/.pgpass",
                crate::config::CACHE_SECRET
            ),
            "SELECT, INSERT, UPDATE and DELETE on the cache's tables",
        )
        .await
        .map_err(|message| StoreError::Open {
            path: postgres::describe(shared),
            message,
        })?;
        let audit = match audit {
            AuditLocation::BesideCache => audit::open_shared(shared),
            AuditLocation::Postgres(elsewhere) => audit::open_shared(&elsewhere.0),
        };
        Ok(Self {
            cache: Backend::Postgres(pool),
            landing: None,
            writer: Default::default(),
            audit,
            audit_checked: Default::default(),
            audit_writer: Default::default(),
            alive: Default::default(),
            checkpointing: Default::default(),
            checkpointer: None,
        })
    }

    /// A private in-memory cache, with the audit log where `audit` says (in memory too when
    /// beside the cache): for tests and benchmarks.
    pub async fn in_memory(audit: &AuditLocation) -> Result<Self, StoreError> {
        // Each parse names a new shared in-memory database: one for the cache, one for the log.
        let memory = || SqliteConnectOptions::from_str("sqlite::memory:");
        let open_error = |e: sqlx::Error| StoreError::Open {
            path: ":memory:".into(),
            message: e.to_string(),
        };
        let audit = match audit {
            // One connection each: each in-memory connection would be a separate database.
            AuditLocation::BesideCache => Backend::Sqlite(
                Self::pool(memory()?, 1, &AUDIT_MIGRATOR)
                    .await
                    .map_err(open_error)?,
            ),
            AuditLocation::Postgres(shared) => audit::open_shared(&shared.0),
        };
        Self::connect(memory()?, 1, audit).await
    }

    /// Whether the cache is a database shared with other machines (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self.cache, Backend::Postgres(_))
    }

    /// Begins a landing: on SQLite on the landing connection, with its larger page cache.
    async fn begin_landing(&self) -> Result<landing::WriteTransaction, StoreError> {
        Ok(match &self.cache {
            Backend::Sqlite(pool) => Backend::Sqlite(
                self.landing
                    .as_ref()
                    .unwrap_or(pool)
                    .write_transaction()
                    .await?,
            ),
            Backend::Postgres(pool) => {
                let mut landing = pool.write_transaction().await?;
                // One landing at a time, whichever process lands, as SQLite's writer lock
                // has it: two sources' merges would otherwise write the same entities' rows.
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(LANDING_LOCK)
                    .execute(&mut *landing)
                    .await?;
                Backend::Postgres(landing)
            }
        })
    }

    /// Commits a landing, then checkpoints the WAL it wrote into the cache file in the
    /// background: what the landing wrote is in place and seen by every reader from the
    /// commit on, and the copy runs beside what follows (its scorecards, the screens'
    /// reads). One such checkpoint at a time; pages it did not reach go with the next.
    async fn commit_landing(&self, tx: landing::WriteTransaction) -> Result<(), StoreError> {
        tx.commit().await?;
        let Backend::Sqlite(pool) = &self.cache else {
            return Ok(());
        };
        let Ok(checkpointing) = self.checkpointing.clone().try_lock_owned() else {
            return Ok(());
        };
        let pool = self.checkpointer.as_ref().unwrap_or(pool).clone();
        tokio::spawn(async move {
            // PASSIVE: it waits for no reader and no writer, and copies what they allow.
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(%error, "cache checkpoint failed; the next landing tries again");
            }
            drop(checkpointing);
        });
        Ok(())
    }

    /// Waits for the checkpoint a landing left running, if any: a process about to exit
    /// leaves what it landed in the cache file itself, not only in its WAL.
    pub async fn settle(&self) {
        let _ = self.checkpointing.lock().await;
    }

    /// Begins a small write.
    async fn begin_write(&self) -> Result<landing::WriteTransaction, StoreError> {
        Ok(match &self.cache {
            Backend::Sqlite(pool) => Backend::Sqlite(pool.write_transaction().await?),
            Backend::Postgres(pool) => Backend::Postgres(pool.write_transaction().await?),
        })
    }

    /// SQLite's own check of the file: "ok", or what is damaged. PostgreSQL keeps its files
    /// consistent itself: there, whether every migration of the cache applied whole.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let rows: Vec<String> = match &self.cache {
            Backend::Sqlite(pool) => {
                sqlx::query_scalar("PRAGMA integrity_check")
                    .fetch_all(pool)
                    .await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT coalesce(string_agg('migration ' || version || ' (' || description || ') failed', '; '), 'ok')
                     FROM _sqlx_migrations WHERE NOT success",
                )
                .fetch_all(pool)
                .await?
            }
        };
        Ok(rows.join("; "))
    }

    /// What the cache holds from `source`, as it reported it.
    pub async fn source_entities(
        &self,
        source: &str,
    ) -> Result<Vec<crate::domain::Entity>, StoreError> {
        let bodies: Vec<String> = on_backend!(&self.cache, pool => {
            sqlx::query_scalar("SELECT body FROM source_entities WHERE source = $1")
                .bind(source)
                .fetch_all(pool)
                .await?
        });
        bodies
            .iter()
            .map(|body| decode_json("source_entities.body", body))
            .collect()
    }

    /// How many entities the cache holds from `source`.
    pub async fn source_entity_count(&self, source: &str) -> Result<i64, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar("SELECT count(*) FROM source_entities WHERE source = $1")
                .bind(source)
                .fetch_one(pool)
                .await?
        }))
    }

    async fn pool(
        options: SqliteConnectOptions,
        connections: u32,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<SqlitePool, sqlx::Error> {
        // Processes opening a new cache at once (agents started together) race to create it:
        // turning WAL on wants the file alone, and SQLite says busy at once instead of waiting.
        let mut retries = 0;
        let pool = loop {
            match SqlitePoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await
            {
                Err(sqlx::Error::Database(busy))
                    if busy.code().as_deref() == Some(SQLITE_BUSY)
                        && retries < MIGRATION_RETRIES =>
                {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(50 * retries)).await;
                }
                connected => break connected?,
            }
        };
        // And to migrate it: each migration is a transaction, so the one that loses sees the
        // other's on a retry.
        let mut retries = 0;
        loop {
            match migrator.run(&pool).await {
                Err(
                    sqlx::migrate::MigrateError::Execute(_)
                    | sqlx::migrate::MigrateError::ExecuteMigration(..),
                ) if retries < MIGRATION_RETRIES => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(50 * retries)).await;
                }
                migrated => break migrated?,
            }
        }
        Ok(pool)
    }

    async fn connect(
        options: SqliteConnectOptions,
        connections: u32,
        audit: audit::AuditDb,
    ) -> Result<Self, StoreError> {
        let pool = Self::pool(options, connections, &MIGRATOR).await?;
        let store = Self {
            landing: None,
            cache: Backend::Sqlite(pool),
            writer: Default::default(),
            audit,
            audit_checked: Default::default(),
            audit_writer: Default::default(),
            alive: Default::default(),
            checkpointing: Default::default(),
            checkpointer: None,
        };
        store.move_audit_rows_from_cache().await?;
        Ok(store)
    }
}

/// Polls `future` `polls` times, a moment apart (for the connection threads it waits on), and
/// drops it unless it finished: a caller that stops waiting partway, as a stopped agent does.
#[cfg(test)]
pub(crate) async fn given_up_after(future: impl std::future::Future, polls: usize) {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..polls {
        if future.as_mut().poll(&mut context).is_ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A cache on each backend: SQLite in memory, and PostgreSQL in a fresh database of `cluster`
/// where it is installed.
#[cfg(test)]
pub(crate) async fn each_backend(cluster: &Option<opsdeck_test_postgres::Cluster>) -> Vec<Store> {
    use opsdeck_test_postgres::{SUPERUSER, SUPERUSER_PASSWORD};
    let mut stores = vec![Store::in_memory(&AuditLocation::default()).await.unwrap()];
    if let Some(cluster) = cluster {
        let database = cluster.create_database();
        let shared = SharedDatabase::at(&cluster.url(SUPERUSER, &database), "[cache]")
            .unwrap()
            .with_password(SUPERUSER_PASSWORD);
        stores.push(
            Store::open_shared(&shared, &AuditLocation::default())
                .await
                .unwrap(),
        );
    }
    stores
}

#[cfg(test)]
impl Store {
    /// The SQLite cache's pool, for tests that look into the file.
    pub(crate) fn sqlite(&self) -> &SqlitePool {
        match &self.cache {
            Backend::Sqlite(pool) => pool,
            Backend::Postgres(_) => panic!("a SQLite cache"),
        }
    }

    /// `entities` as the whole of a source named `catalog`, landed at `at`: for tests.
    pub(crate) async fn land_catalog(
        &self,
        entities: &[crate::domain::Entity],
        at: chrono::DateTime<chrono::Utc>,
    ) {
        self.replace_source(
            SourceRows {
                source: "catalog",
                entities,
                problems: &[],
            },
            &["catalog".to_string()],
            at,
        )
        .await
        .expect("a test catalog lands");
    }
}

/// A pool a transaction that writes begins on.
pub(crate) trait Writes {
    type Database: sqlx::Database;
    /// Begins a transaction that writes.
    async fn write_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>;
}

impl Writes for SqlitePool {
    type Database = sqlx::Sqlite;
    /// `BEGIN IMMEDIATE` takes the write lock before the first read: in a plain (deferred)
    /// one, another process that writes between this one's reads and its first write fails it
    /// at once with "database is locked" (SQLite's busy snapshot, which no busy timeout waits
    /// out), as when an agent and a desktop land into one cache.
    ///
    /// Begun in a task of its own, which finishes even when the caller stops waiting: sqlx's
    /// `begin_with` dropped after SQLite began the transaction but before sqlx checked that it
    /// did returns the connection to the pool still in it, holding the write lock for good (an
    /// agent stopped while its scorecards began to land then hung on its last write). A
    /// transaction no one waits for any more is dropped in that task, which rolls it back.
    async fn write_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        let pool = self.clone();
        match tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await }).await {
            Ok(begun) => begun,
            Err(stopped) => match stopped.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err(sqlx::Error::Io(std::io::Error::other(
                    "the write was stopped as the process shuts down",
                ))),
            },
        }
    }
}

impl Writes for sqlx::PgPool {
    type Database = sqlx::Postgres;
    /// PostgreSQL's rows are locked as they are written; a plain transaction is one.
    async fn write_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cache_path_that_is_not_a_regular_file_is_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("cache.sqlite");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let refused = tokio::time::timeout(
            Duration::from_secs(10),
            Store::open(&fifo, &AuditLocation::default()),
        )
        .await
        .expect("no wait for a reader")
        .unwrap_err()
        .to_string();
        assert!(refused.contains("not a regular file"), "{refused}");
        let refused = Store::open(dir.path(), &AuditLocation::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("not a regular file"), "{refused}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_write_given_up_while_it_begins_leaves_the_cache_writable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cache.sqlite"), &AuditLocation::default())
            .await
            .unwrap();
        // Every point the begin can be given up at, from before its BEGIN to after.
        for polls in 1..=12 {
            given_up_after(store.sqlite().write_transaction(), polls).await;
            let next =
                tokio::time::timeout(Duration::from_secs(5), store.sqlite().write_transaction())
                    .await
                    .unwrap_or_else(|_| {
                        panic!("given up after {polls} polls, a write left the cache locked")
                    });
            next.unwrap().rollback().await.unwrap();
        }
    }

    #[tokio::test]
    async fn every_connection_cuts_the_wal_back_and_landings_get_their_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cache.sqlite"), &AuditLocation::default())
            .await
            .unwrap();
        let landing = store.landing.as_ref().unwrap();
        for (pool, cache_kib) in [(store.sqlite(), 2_000), (landing, LANDING_CACHE_KIB)] {
            let wal_limit: i64 = sqlx::query_scalar("PRAGMA journal_size_limit")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(wal_limit as u64, WAL_KEPT_BYTES);
            let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(cache, -i64::from(cache_kib));
            let autocheckpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(autocheckpoint, i64::from(WAL_AUTOCHECKPOINT_PAGES));
        }
    }

    #[tokio::test]
    async fn a_landing_is_checkpointed_after_its_commit_and_settle_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let store = Store::open(&path, &AuditLocation::default()).await.unwrap();
        let file_size = || std::fs::metadata(&path).unwrap().len();
        let before = file_size();
        let entities: Vec<crate::domain::Entity> = (0..300)
            .map(|n| {
                serde_json::from_value(serde_json::json!({
                    "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                    "metadata": {"name": format!("service-{n}"), "description": "x".repeat(500)},
                    "spec": {"owner": "team"}
                }))
                .unwrap()
            })
            .collect();
        // A checkpoint still under way holds up neither the landing nor the
        // statistics refreshed after it.
        let held_up = store
            .checkpointer
            .as_ref()
            .unwrap()
            .acquire()
            .await
            .unwrap();
        tokio::time::timeout(
            Duration::from_secs(60),
            store.land_catalog(&entities, chrono::Utc::now()),
        )
        .await
        .expect("the landing waited for its checkpoint");
        // Far below the pages at which a commit checkpoints on its own: only the landing's
        // checkpoint copies its pages into the file, and `settle` waits for it.
        assert_eq!(file_size(), before);
        drop(held_up);
        store.settle().await;
        assert!(file_size() > before + 150_000, "{} bytes", file_size());
        assert_eq!(store.all_services().await.unwrap().len(), 300);
    }
    /// The columns of every table and view of a cache, by table.
    fn columns(rows: Vec<(String, String)>) -> std::collections::BTreeSet<(String, String)> {
        rows.into_iter().collect()
    }

    #[tokio::test]
    async fn the_postgres_cache_has_the_sqlite_caches_tables_and_columns() {
        let Some(cluster) = opsdeck_test_postgres::Cluster::start() else {
            return;
        };
        let database = cluster.create_database();
        let url = cluster.url(opsdeck_test_postgres::SUPERUSER, &database);
        let options = url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .unwrap()
            .password(opsdeck_test_postgres::SUPERUSER_PASSWORD);
        let postgres = sqlx::PgPool::connect_with(options).await.unwrap();
        postgres::CACHE_MIGRATOR.run(&postgres).await.unwrap();
        // The wiring triggers read a component's annotations as SQLite's do.
        let body = serde_json::json!({"metadata": {"annotations": {
            "pagerduty.com/service-id": "PX1", "github.com/project-slug": "o/r",
            "argocd/app-name": "shop", "opsdeck.io/alert-selector": "team=a"}}});
        sqlx::query(
            "INSERT INTO entities (entity_key, kind, namespace, name, search_name, owner_key, tags,
                 gaps, gap_count, unowned, sources, body)
             VALUES ('component:default/a', 'component', 'default', 'a', 'a', 'group:default/t',
                 '[]', '[]', 0, false, '[]', $1)",
        )
        .bind(body.to_string())
        .execute(&postgres)
        .await
        .unwrap();
        let wired: (String, String, String) = sqlx::query_as(
            "SELECT (SELECT service_id FROM component_pagerduty),
                    (SELECT string_agg(target, ' ' ORDER BY target) FROM component_delivery),
                    (SELECT alert_selector FROM entities)",
        )
        .fetch_one(&postgres)
        .await
        .unwrap();
        assert_eq!(
            wired,
            (
                "PX1".into(),
                "argocd-app:shop github:o/r".into(),
                "team=a".into()
            )
        );
        sqlx::query("DELETE FROM entities")
            .execute(&postgres)
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM component_pagerduty) + (SELECT count(*) FROM component_delivery)",
        )
        .fetch_one(&postgres)
        .await
        .unwrap();
        assert_eq!(left, 0);
        let postgres = columns(
            sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
            )
            .fetch_all(&postgres)
            .await
            .unwrap(),
        );
        let store = Store::in_memory(&AuditLocation::default()).await.unwrap();
        let sqlite = columns(
            sqlx::query_as(
                "SELECT m.name, c.name FROM sqlite_master m, pragma_table_xinfo(m.name) c
                 WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
                   AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\' AND m.name NOT LIKE 'entities\\_fts%' ESCAPE '\\'",
            )
            .fetch_all(store.sqlite())
            .await
            .unwrap(),
        );
        // PostgreSQL searches columns of the entities themselves, SQLite an FTS5 table; and
        // it keeps which user was told of an incident (a file is one user's).
        let only_postgres: Vec<_> = postgres
            .difference(&sqlite)
            .filter(|(table, column)| match table.as_str() {
                "entities" => !column.starts_with("search"),
                "notified_incidents" => column != "recipient",
                _ => true,
            })
            .collect();
        let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
        assert!(
            only_postgres.is_empty() && only_sqlite.is_empty(),
            "only in PostgreSQL: {only_postgres:?}; only in SQLite: {only_sqlite:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn processes_opening_a_new_cache_at_once_all_get_it_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let beside = AuditLocation::default();
        let opened =
            futures_util::future::join_all((0..4).map(|_| Store::open(&path, &beside))).await;
        for store in opened {
            let store = store.expect("every opener gets a migrated cache");
            assert_eq!(store.integrity_check().await.unwrap(), "ok");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_write_transaction_is_not_failed_by_another_process_writing_after_its_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let (ours, theirs) = (
            Store::open(&path, &AuditLocation::default()).await.unwrap(),
            Store::open(&path, &AuditLocation::default()).await.unwrap(),
        );
        let mut landing = ours.sqlite().write_transaction().await.unwrap();
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_state")
            .fetch_one(&mut *landing)
            .await
            .unwrap();
        // Another process writes after our read: it waits for our landing, and never
        // invalidates what we read (a deferred transaction would fail at its first write).
        let other =
            tokio::spawn(async move { theirs.record_attempt("other", chrono::Utc::now()).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        sqlx::query("INSERT INTO sync_state (source, last_attempt) VALUES ('ours', 'now')")
            .execute(&mut *landing)
            .await
            .expect("our write goes through");
        landing.commit().await.unwrap();
        other.await.unwrap().expect("theirs lands after ours");
        let sources: Vec<String> =
            sqlx::query_scalar("SELECT source FROM sync_state ORDER BY source")
                .fetch_all(ours.sqlite())
                .await
                .unwrap();
        assert_eq!(sources, ["other", "ours"]);
    }
}
