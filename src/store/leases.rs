//! Sync leases: at most one process syncs a source at a time among those sharing the cache.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

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
            let taken: Option<String> = sqlx::query_scalar(
                "INSERT INTO sync_leases (source, holder, face, host, pid, taken_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (source) DO UPDATE SET
                    taken_at = CASE WHEN sync_leases.holder = excluded.holder
                        THEN sync_leases.taken_at ELSE excluded.taken_at END,
                    holder = excluded.holder, face = excluded.face, host = excluded.host,
                    pid = excluded.pid, expires_at = excluded.expires_at
                 WHERE sync_leases.holder = excluded.holder
                    OR sync_leases.expires_at <= excluded.taken_at
                    OR sync_leases.holder = ?8
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
            .fetch_optional(&self.pool)
            .await?;
            if taken.is_some() {
                return Ok(None);
            }
            let in_the_way = sqlx::query_as(
                "SELECT holder, face, host, pid, taken_at, expires_at FROM sync_leases WHERE source = ?",
            )
            .bind(source)
            .fetch_optional(&self.pool)
            .await?;
            // None: its holder gave it up between the two statements; ask again.
            if in_the_way.is_some() {
                return Ok(in_the_way);
            }
        }
    }

    /// Gives up `source`'s lease, if `holder` holds it.
    pub async fn release_lease(&self, source: &str, holder: &str) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        sqlx::query("DELETE FROM sync_leases WHERE source = ? AND holder = ?")
            .bind(source)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives up every lease `holder` holds.
    pub async fn release_leases(&self, holder: &str) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        sqlx::query("DELETE FROM sync_leases WHERE holder = ?")
            .bind(holder)
            .execute(&self.pool)
            .await?;
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
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT source, holder, face, host, pid, taken_at, expires_at
             FROM sync_leases ORDER BY source",
        )
        .fetch_all(&self.pool)
        .await?;
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
    async fn a_lease_goes_to_one_holder_until_it_lapses_or_is_given_up() {
        let store = Store::in_memory(&crate::store::AuditLocation::default())
            .await
            .unwrap();
        let (a, b) = (process("a"), process("b"));
        let t0 = Utc::now();
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
