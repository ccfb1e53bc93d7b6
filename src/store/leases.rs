//! Sync leases: at most one process syncs a source at a time among those sharing the cache.

use chrono::{DateTime, Utc};

use super::{on_backend, Backend, Store, StoreError};

/// A process that holds, or asks for, a source's lease.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseHolder {
    /// The process's identity: host, pid and a random part.
    pub holder: String,
    /// What it is: `agent`, `desktop`, `cli`.
    pub face: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id on that host.
    pub pid: i64,
}

/// A source's lease as the cache holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Lease {
    /// Who holds it.
    #[sqlx(flatten)]
    pub holder: LeaseHolder,
    /// When this holder took it.
    pub taken_at: DateTime<Utc>,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// The key of the lock that tells `holder` lives.
fn alive_key(holder: &str) -> String {
    format!("opsdeck lease holder {holder}")
}

impl Store {
    /// Takes `source`'s lease for `me` until `expires_at`, or renews it when `me` holds it
    /// already. Another holder's lease is taken over only once it lapsed by `now`, or when
    /// `replacing` names that holder (one known to be gone). Returns the lease that stands in
    /// the way, if one does.
    pub async fn take_lease(
        &self,
        source: &str,
        me: &LeaseHolder,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        replacing: Option<&str>,
    ) -> Result<Option<Lease>, StoreError> {
        let _writing = self.writer.lock().await;
        loop {
            // One statement: two processes asking at once cannot both be told yes.
            let (taken, in_the_way): (Option<String>, Option<Lease>) = on_backend!(&self.cache, pool => {
            let taken = sqlx::query_scalar(
                "INSERT INTO sync_leases (source, holder, face, host, pid, taken_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (source) DO UPDATE SET
                    taken_at = CASE WHEN sync_leases.holder = excluded.holder
                        THEN sync_leases.taken_at ELSE excluded.taken_at END,
                    holder = excluded.holder, face = excluded.face, host = excluded.host,
                    pid = excluded.pid, expires_at = excluded.expires_at
                 WHERE sync_leases.holder = excluded.holder
                    OR sync_leases.expires_at <= excluded.taken_at
                    OR sync_leases.holder = $8
                 RETURNING holder",
            )
            .bind(source)
            .bind(&me.holder)
            .bind(&me.face)
            .bind(&me.host)
            .bind(me.pid)
            .bind(now)
            .bind(expires_at)
            .bind(replacing)
            .fetch_optional(pool)
            .await?;
            if taken.is_some() {
                (taken, None)
            } else {
                (taken, sqlx::query_as(
                    "SELECT holder, face, host, pid, taken_at, expires_at FROM sync_leases WHERE source = $1",
                )
                .bind(source)
                .fetch_optional(pool)
                .await?)
            }
                });
            if taken.is_some() {
                return Ok(None);
            }
            // None: its holder gave it up between the two statements; ask again.
            if in_the_way.is_some() {
                return Ok(in_the_way);
            }
        }
    }

    /// Lets the processes sharing a PostgreSQL cache tell that `holder` lives: a lock of its
    /// own, held by a connection of its own, which the server lets go of when that connection
    /// ends, however the process ends (kill -9, a machine gone). Made again if the connection
    /// was lost. Nothing on SQLite, whose holders share a host the engine can ask.
    pub async fn keep_alive(&self, holder: &str) -> Result<(), StoreError> {
        use sqlx::Connection;
        let Backend::Postgres(pool) = &self.cache else {
            return Ok(());
        };
        let mut alive = self.alive.lock().await;
        // A dead network answers nothing: the sync that asked fails instead of waiting on it.
        let within = super::postgres::CONNECT_TIMEOUT;
        if let Some(connection) = alive.get_mut(holder) {
            if let Ok(Ok(())) = tokio::time::timeout(within, connection.ping()).await {
                return Ok(());
            }
        }
        let lock = async {
            let mut connection = sqlx::PgConnection::connect_with(&pool.connect_options()).await?;
            sqlx::query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
                .bind(alive_key(holder))
                .execute(&mut connection)
                .await?;
            Ok::<_, sqlx::Error>(connection)
        };
        let connection = tokio::time::timeout(within, lock).await.map_err(|_| {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the shared cache gave no answer in {} s", within.as_secs()),
            ))
        })??;
        alive.insert(holder.to_string(), connection);
        Ok(())
    }

    /// Whether `holder` is gone: on PostgreSQL, whether no process holds its lock (see
    /// [`Store::keep_alive`]); `None` on SQLite, where it cannot be told.
    pub async fn holder_gone(&self, holder: &str) -> Result<Option<bool>, StoreError> {
        let Backend::Postgres(pool) = &self.cache else {
            return Ok(None);
        };
        // Taken for a moment only: the transaction lets go of it.
        let mut probe = pool.begin().await?;
        let free: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(alive_key(holder))
                .fetch_one(&mut *probe)
                .await?;
        probe.rollback().await?;
        Ok(Some(free))
    }

    /// Gives up `source`'s lease, if `holder` holds it.
    pub async fn release_lease(&self, source: &str, holder: &str) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        on_backend!(&self.cache, pool => {
            sqlx::query("DELETE FROM sync_leases WHERE source = $1 AND holder = $2")
                .bind(source)
                .bind(holder)
                .execute(pool)
                .await
                .map(drop)?
        });
        Ok(())
    }

    /// Gives up every lease `holder` holds, and its lock of the living.
    pub async fn release_leases(&self, holder: &str) -> Result<(), StoreError> {
        self.alive.lock().await.remove(holder);
        let _writing = self.writer.lock().await;
        on_backend!(&self.cache, pool => {
            sqlx::query("DELETE FROM sync_leases WHERE holder = $1")
                .bind(holder)
                .execute(pool)
                .await
                .map(drop)?
        });
        Ok(())
    }

    /// Every lease held now, by source.
    pub async fn leases(&self) -> Result<Vec<(String, Lease)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            source: String,
            #[sqlx(flatten)]
            lease: Lease,
        }
        let rows: Vec<Row> = on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT source, holder, face, host, pid, taken_at, expires_at
                 FROM sync_leases ORDER BY source",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|r| (r.source, r.lease)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn process(name: &str) -> LeaseHolder {
        LeaseHolder {
            holder: name.into(),
            face: "agent".into(),
            host: "box".into(),
            pid: 7,
        }
    }

    #[tokio::test]
    async fn a_holder_sharing_a_postgres_cache_is_known_alive_until_its_connection_ends() {
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            store.keep_alive("a").await.unwrap();
            store.keep_alive("a").await.unwrap();
            if !store.is_shared() {
                assert_eq!(store.holder_gone("a").await.unwrap(), None);
                continue;
            }
            assert_eq!(store.holder_gone("a").await.unwrap(), Some(false));
            assert_eq!(
                store.holder_gone("b").await.unwrap(),
                Some(true),
                "never announced"
            );
            // The server lets go of the lock when the connection ends: here as at kill -9.
            let connection = store.alive.lock().await.remove("a").unwrap();
            drop(connection);
            let mut gone = None;
            for _ in 0..50 {
                gone = store.holder_gone("a").await.unwrap();
                if gone == Some(true) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(gone, Some(true));
            // A lost connection is made again.
            store.keep_alive("a").await.unwrap();
            assert_eq!(store.holder_gone("a").await.unwrap(), Some(false));
            store.release_leases("a").await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_lease_goes_to_one_holder_until_it_lapses_or_is_given_up() {
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            a_lease_goes_to_one_holder_until_it_lapses_or_is_given_up_in(store).await;
        }
    }

    async fn a_lease_goes_to_one_holder_until_it_lapses_or_is_given_up_in(store: Store) {
        let (a, b) = (process("a"), process("b"));
        // Whole seconds: PostgreSQL keeps microseconds, chrono's clock nanoseconds.
        let t0 = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        let term = TimeDelta::seconds(120);
        assert_eq!(
            store
                .take_lease("gh", &a, t0, t0 + term, None)
                .await
                .unwrap(),
            None
        );
        let later = t0 + TimeDelta::seconds(30);
        let in_the_way = store
            .take_lease("gh", &b, later, later + term, None)
            .await
            .unwrap()
            .expect("a holds it");
        assert_eq!(in_the_way.holder, a);
        assert_eq!(in_the_way.expires_at, t0 + term);
        // Another source is free; a's renewal keeps when it took the lease.
        assert_eq!(
            store
                .take_lease("argo", &b, later, later + term, None)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .take_lease("gh", &a, later, later + term, None)
                .await
                .unwrap(),
            None
        );
        let held = store.leases().await.unwrap();
        assert_eq!(held[1].0, "gh");
        assert_eq!(
            (held[1].1.taken_at, held[1].1.expires_at),
            (t0, later + term)
        );
        // Lapsed: b takes it over, and a's renewal is then refused.
        let lapsed = later + term;
        assert_eq!(
            store
                .take_lease("gh", &b, lapsed, lapsed + term, None)
                .await
                .unwrap(),
            None
        );
        let refused = store
            .take_lease("gh", &a, lapsed, lapsed + term, None)
            .await
            .unwrap();
        assert_eq!(refused.map(|l| l.holder), Some(b.clone()));
        // A holder known to be gone is replaced at once; a release by a non-holder does nothing.
        assert_eq!(
            store
                .take_lease("gh", &a, lapsed, lapsed + term, Some("b"))
                .await
                .unwrap(),
            None
        );
        store.release_lease("gh", "b").await.unwrap();
        assert_eq!(store.leases().await.unwrap().len(), 2);
        store.release_leases("b").await.unwrap();
        store.release_lease("gh", "a").await.unwrap();
        assert!(store.leases().await.unwrap().is_empty());
    }
}
