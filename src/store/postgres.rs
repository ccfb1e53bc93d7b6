//! What the cache and the audit log share when they live in PostgreSQL: how a database is
//! named to people, reached, and brought up to date.

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;

use super::StoreError;

/// How long a shared database's server has to answer a connection (a dead network never
/// does).
pub(super) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The cache's schema. Each migrator skips the other's migrations, recorded in the same
/// table when the audit log is kept in the cache's database.
pub(super) static CACHE_MIGRATOR: Migrator = Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("src/store/migrations_postgres")
};
/// The audit log's schema.
pub(super) static AUDIT_MIGRATOR: Migrator = Migrator {
    ignore_missing: true,
    ..sqlx::migrate!("src/store/audit_migrations_postgres")
};

/// A PostgreSQL database the organisation shares, as its URL names it.
#[derive(Debug, Clone)]
pub struct SharedDatabase(pub(super) Box<PgConnectOptions>);

impl SharedDatabase {
    /// The database `url` names (`section`: where it is set, for messages); its password,
    /// when it needs one, from [`SharedDatabase::with_password`] or PostgreSQL's own
    /// PGPASSWORD and ~/.pgpass.
    pub fn at(url: &str, section: &str) -> Result<Self, StoreError> {
        Self::parse(url).map_err(|message| StoreError::Open {
            path: format!("{section} url"),
            message,
        })
    }

    /// The database `url` names, or what is wrong with the URL.
    pub(super) fn parse(url: &str) -> Result<Self, String> {
        url.parse::<PgConnectOptions>()
            .map(|options| Self(Box::new(options)))
            .map_err(|e| e.to_string())
    }

    /// The same, connecting with `password`.
    pub fn with_password(self, password: &str) -> Self {
        Self(Box::new(self.0.password(password)))
    }
}

/// A database as people may see it: user, host, port and database, never the password.
pub(super) fn describe(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    )
}

/// A pool of `connections` to the database `options` names, connected when first used.
pub(super) fn lazy_pool(options: &PgConnectOptions, connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(options.clone())
}

/// Reaches the database of `pool` and brings `migrator`'s schema up to date, unless it is
/// already: a role that may only read and write rows cannot migrate, and need not. The error
/// says what went wrong and what to check (`config`: where the URL is set; `password`: how
/// the password is given; `grants`: what the role needs).
pub(super) async fn reach_and_migrate(
    pool: &PgPool,
    migrator: &Migrator,
    config: &str,
    password: &str,
    grants: &str,
) -> Result<(), String> {
    let options = pool.connect_options();
    // One connection first: a pool retries a refused connection until its timeout and then
    // says only that it timed out.
    let unreachable = |e: String| {
        format!("{e}; check {config} in the config (and its sslmode and sslrootcert where the server asks for TLS), that the server is up, and the password ({password})")
    };
    let first = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
        .await
        .map_err(|_| unreachable(format!("no answer in {} s", CONNECT_TIMEOUT.as_secs())))?
        .map_err(|e| unreachable(e.to_string()))?;
    first.close().await.map_err(|e| e.to_string())?;
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string())?;
    let applied: Vec<i64> = if migrated {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
            .map_err(|e| format!("{e}; its role needs SELECT on _sqlx_migrations, and {grants}"))?
    } else {
        Vec::new()
    };
    if !migrator
        .iter()
        .all(|migration| applied.contains(&migration.version))
    {
        migrator.run(pool).await.map_err(|e| {
            format!(
                "{e}; the tables are missing or older than this version's: open it once as a role that may create tables in it (its owner)"
            )
        })?;
    }
    Ok(())
}

/// How long a follower waits before it tries a lost database again.
const FOLLOW_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// Calls `heard` with the payload of each notification on `channel` of the database of
/// `pool` (and once with an empty one after a lost connection came back: what was told
/// meanwhile is lost), for as long as the future runs. `what` names the database in the log,
/// where a loss is said once, when it happens, not every few seconds.
pub(super) async fn follow(
    pool: &PgPool,
    channel: &str,
    what: &str,
    heard: &(dyn Fn(&str) + Send + Sync),
) {
    let mut failing = false;
    let mut listener = loop {
        let listening = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
            listener.listen(channel).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listening.await {
            Ok(listener) => break listener,
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!("cannot follow {what}: {e}; trying again");
                }
                tokio::time::sleep(FOLLOW_RETRY).await;
            }
        }
    };
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                failing = false;
                heard(notification.payload());
            }
            // The connection was lost and is made again on the next call.
            Ok(None) => heard(""),
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!("lost {what}: {e}; trying again");
                }
                tokio::time::sleep(FOLLOW_RETRY).await;
            }
        }
    }
}
