//! What GitHub and Argo CD sources said about delivery: deployments (their own table, for the
//! timeline, matrix and activity feed at a million rows), runs, releases, application states
//! and comparisons (as platform records joined by target), and the ETags of the pages read.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::landing::record_landed;
use super::platform::write_changed;
use super::{decode_json, PlatformRecord, RecordKind, Store, StoreError};
use crate::domain::delivery::{DeployStatus, Deployment};

/// What one delivery sync lands.
#[derive(Debug, Default)]
pub struct DeliveryLanding<'a> {
    /// Deployments new or changed; those held and not here are kept (history).
    pub deployments: &'a [Deployment],
    /// Records that replace, per kind and target, what the source held there.
    pub scoped: Vec<(RecordKind, String, Vec<PlatformRecord>)>,
    /// Items the source reported, for the status bar.
    pub items: usize,
}

/// A part of a delivery sync, staged in the cache until the sync lands whole.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct DeliveryPart {
    /// Deployments new or changed.
    pub deployments: Vec<Deployment>,
    /// Records that replace, per kind and target, what the source held there.
    pub scoped: Vec<(RecordKind, String, Vec<PlatformRecord>)>,
}

/// Which deployments the activity feed shows.
#[derive(Debug, Clone, Default)]
pub struct ActivityQuery {
    /// Only the components of this owner.
    pub owner_key: Option<String>,
    /// Only the components with these keys.
    pub component_keys: Option<Vec<String>>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only this status.
    pub status: Option<DeployStatus>,
    /// Only deployments started at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Only deployments after this one in the feed's order (the previous page's last).
    pub after: Option<ActivityCursor>,
    /// At most this many.
    pub limit: i64,
}

/// Where a page of the activity feed ends: its last deployment's start and id (deploys that
/// start in the same second are told apart by id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ActivityCursor {
    /// When the last deployment started.
    #[ts(type = "string")]
    pub started_at: DateTime<Utc>,
    /// Its id.
    pub id: String,
}

/// A deployment with the component it belongs to.
#[derive(Debug, Clone)]
pub struct ComponentDeployment {
    /// The component's cache key.
    pub component_key: String,
    /// Its name.
    pub name: String,
    /// The deployment.
    pub deployment: Deployment,
}

impl Store {
    /// Lands a delivery sync in one transaction, writing only what changed. Returns the rows
    /// written and the targets whose deployments were among them.
    pub async fn land_delivery(
        &self,
        source: &str,
        landing: DeliveryLanding<'_>,
        problems: &[String],
        at: DateTime<Utc>,
    ) -> Result<(u64, BTreeSet<String>), StoreError> {
        let _writing = self.writer.lock().await;
        let mut tx = super::write_transaction(&self.landing).await?;
        let (written, deployed) =
            land_part(&mut tx, source, landing.deployments, &landing.scoped).await?;
        record_landed(&mut tx, source, at, problems, landing.items, written).await?;
        tx.commit().await?;
        if written > 0 {
            self.analyze().await?;
        }
        Ok((written, deployed))
    }

    /// Drops the parts staged by `sync`, and any staged by syncs of `source` a day or more
    /// ago (a process that died mid-sync).
    pub async fn drop_staged(&self, source: &str, sync: &str) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        let stale = (Utc::now() - chrono::Duration::days(1)).timestamp();
        sqlx::query(
            "DELETE FROM staged_delivery WHERE sync_id = ? OR (source = ? AND staged_at < ?)",
        )
        .bind(sync)
        .bind(source)
        .bind(stale)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stages a part of the sync `sync` of `source`, to land with the rest or not at all.
    pub async fn stage_delivery(
        &self,
        source: &str,
        sync: &str,
        part: &DeliveryPart,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(part).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let _writing = self.writer.lock().await;
        sqlx::query(
            "INSERT INTO staged_delivery (source, sync_id, staged_at, body) VALUES (?, ?, ?, ?)",
        )
        .bind(source)
        .bind(sync)
        .bind(Utc::now().timestamp())
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lands every part the sync `sync` of `source` staged, and `etags`, in one transaction,
    /// reading the parts one at a time; drops them. Returns the rows written and the targets
    /// whose deployments were among them.
    pub async fn land_staged_delivery(
        &self,
        source: &str,
        sync: &str,
        etags: &HashMap<String, String>,
        items: usize,
        problems: &[String],
        at: DateTime<Utc>,
    ) -> Result<(u64, BTreeSet<String>), StoreError> {
        let _writing = self.writer.lock().await;
        let mut tx = super::write_transaction(&self.landing).await?;
        let parts: Vec<i64> =
            sqlx::query_scalar("SELECT seq FROM staged_delivery WHERE sync_id = ? ORDER BY seq")
                .bind(sync)
                .fetch_all(&mut *tx)
                .await?;
        let mut written = 0;
        let mut deployed = BTreeSet::new();
        for seq in parts {
            let body: String = sqlx::query_scalar("SELECT body FROM staged_delivery WHERE seq = ?")
                .bind(seq)
                .fetch_one(&mut *tx)
                .await?;
            let part: DeliveryPart = decode_json("staged_delivery.body", &body)?;
            let (rows, targets) =
                land_part(&mut tx, source, &part.deployments, &part.scoped).await?;
            written += rows;
            deployed.extend(targets);
        }
        sqlx::query("DELETE FROM staged_delivery WHERE sync_id = ?")
            .bind(sync)
            .execute(&mut *tx)
            .await?;
        written += replace_etags(&mut tx, source, etags).await?;
        record_landed(&mut tx, source, at, problems, items, written).await?;
        tx.commit().await?;
        if written > 0 {
            self.analyze().await?;
        }
        Ok((written, deployed))
    }

    /// Adds comparisons (immutable: two commits always compare the same).
    pub async fn add_comparisons(
        &self,
        source: &str,
        records: &[PlatformRecord],
    ) -> Result<u64, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        let _writing = self.writer.lock().await;
        let mut tx = super::write_transaction(&self.pool).await?;
        let mut written = 0;
        for record in records {
            written += sqlx::query(
                "INSERT OR IGNORE INTO platform_records (source, kind, id, join_key, body)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(source)
            .bind(record.kind.as_str())
            .bind(&record.id)
            .bind(&record.join_key)
            .bind(&record.body)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Every target components are wired to whose key starts with `prefix` (`github:`,
    /// `argocd-`).
    pub async fn delivery_targets(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT target FROM component_delivery WHERE substr(target, 1, length(?1)) = ?1
             ORDER BY target",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every component wired to one of `targets`, with its owner's key: who shares a
    /// platform target.
    pub async fn components_wired_to(
        &self,
        targets: &[String],
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT component_key, owner_key FROM component_delivery
             WHERE target IN (SELECT value FROM json_each(?)) ORDER BY component_key",
        )
        .bind(serde_json::to_string(targets).expect("strings serialise"))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The targets of the component at `key`.
    pub async fn targets_of_component(&self, key: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT target FROM component_delivery WHERE component_key = ? ORDER BY target",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The components `owner_key` owns that are wired for delivery: (component key, target).
    pub async fn targets_of_owner(
        &self,
        owner_key: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT component_key, target FROM component_delivery WHERE owner_key = ?",
        )
        .bind(owner_key)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The delivery targets of every component deployed from one of `targets`, by component.
    pub async fn components_of_targets(
        &self,
        targets: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT component_key, target FROM component_delivery WHERE component_key IN (
                SELECT component_key FROM component_delivery
                WHERE target IN (SELECT value FROM json_each(?)))",
        )
        .bind(serde_json::to_string(targets).expect("strings serialise"))
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for (component, target) in rows {
            out.entry(component).or_default().push(target);
        }
        Ok(out)
    }

    /// Per target of `source`: when its newest deployment started and the ids that started
    /// then.
    pub async fn newest_deployments(
        &self,
        source: &str,
    ) -> Result<HashMap<String, (DateTime<Utc>, Vec<String>)>, StoreError> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT d.target, d.started_at, d.id FROM deployments d
             JOIN (SELECT target, max(started_at) AS newest FROM deployments
                   WHERE source = ?1 GROUP BY target) n
               ON d.source = ?1 AND d.target = n.target AND d.started_at = n.newest",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<String, (DateTime<Utc>, Vec<String>)> = HashMap::new();
        for (target, started, id) in rows {
            let at = DateTime::from_timestamp(started, 0).unwrap_or_default();
            out.entry(target)
                .or_insert_with(|| (at, Vec::new()))
                .1
                .push(id);
        }
        Ok(out)
    }

    /// `source`'s deployments whose status may still change.
    pub async fn open_deployments(&self, source: &str) -> Result<Vec<Deployment>, StoreError> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM deployments
             WHERE source = ? AND status IN ('queued', 'pending', 'waiting', 'in_progress')",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        bodies
            .iter()
            .map(|b| decode_json("deployments.body", b))
            .collect()
    }

    /// The ETags `source` read last, by URL.
    pub async fn page_etags(&self, source: &str) -> Result<HashMap<String, String>, StoreError> {
        Ok(
            sqlx::query_as("SELECT url, etag FROM page_etags WHERE source = ?")
                .bind(source)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect(),
        )
    }

    /// Deployments to `targets` started at or after `since`, newest first.
    pub async fn deployments_of(
        &self,
        targets: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<Deployment>, StoreError> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM deployments
             WHERE target IN (SELECT value FROM json_each(?)) AND started_at >= ?
             ORDER BY started_at DESC",
        )
        .bind(serde_json::to_string(targets).expect("strings serialise"))
        .bind(since.timestamp())
        .fetch_all(&self.pool)
        .await?;
        bodies
            .iter()
            .map(|b| decode_json("deployments.body", b))
            .collect()
    }

    /// Per target and environment of `targets`: the newest deployment that reached it, and
    /// the newest of any status, as (source, id). Read from an index alone.
    pub async fn newest_per_environment(
        &self,
        targets: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        // SQLite returns the row holding max() for bare columns of an aggregate query.
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT source, id, max(started_at) FROM deployments
             WHERE target IN (SELECT value FROM json_each(?1))
             GROUP BY target, environment
             UNION
             SELECT source, id, max(started_at) FROM deployments
             WHERE target IN (SELECT value FROM json_each(?1)) AND status IN ('success', 'inactive')
             GROUP BY target, environment",
        )
        .bind(serde_json::to_string(targets).expect("strings serialise"))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(source, id, _)| (source, id))
            .collect())
    }

    /// Deploys per target and day (0 is `since`'s) to `environments` since `since`. Deploys
    /// whose status was never read (older than the newest few per environment) count: only a
    /// known failure does not.
    pub async fn daily_deploys(
        &self,
        targets: &[String],
        environments: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT target, (started_at - ?3) / 86400 AS day, count(*) FROM deployments
             WHERE target IN (SELECT value FROM json_each(?1))
               AND environment IN (SELECT value FROM json_each(?2))
               AND started_at >= ?3 AND status NOT IN ('failure', 'error', 'cancelled')
             GROUP BY target, day",
        )
        .bind(serde_json::to_string(targets).expect("strings serialise"))
        .bind(serde_json::to_string(environments).expect("strings serialise"))
        .bind(since.timestamp())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every environment deployed to.
    pub async fn environments(&self) -> Result<Vec<String>, StoreError> {
        // One index probe per environment (a loose index scan), not a walk of every deployment.
        Ok(sqlx::query_scalar(
            "WITH RECURSIVE e(name) AS (
                SELECT min(environment) FROM deployments
                UNION ALL
                SELECT (SELECT min(environment) FROM deployments WHERE environment > e.name)
                FROM e WHERE e.name IS NOT NULL)
             SELECT name FROM e WHERE name IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The deployments `keys` (source, id) name.
    pub async fn deployments_named(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<Deployment>, StoreError> {
        let bodies: Vec<String> = sqlx::query_scalar(
            // CROSS JOIN: the few keys are looked up, the deployments are not scanned.
            "SELECT d.body FROM json_each(?) k
             CROSS JOIN deployments d ON d.source = json_extract(k.value, '$[0]')
                AND d.id = json_extract(k.value, '$[1]')",
        )
        .bind(serde_json::to_string(keys).expect("strings serialise"))
        .fetch_all(&self.pool)
        .await?;
        bodies
            .iter()
            .map(|b| decode_json("deployments.body", b))
            .collect()
    }

    /// Deployments newest first, with their components, as `query` filters them.
    pub async fn activity(
        &self,
        query: &ActivityQuery,
    ) -> Result<Vec<ComponentDeployment>, StoreError> {
        let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(
            // CROSS JOIN keeps deployments outermost, so the newest-first index answers the
            // first page; statistics skewed by Argo CD's ten-entry histories otherwise lead
            // the planner to scan every component's deployments and sort them.
            "SELECT c.component_key, c.name, d.body
             FROM deployments d CROSS JOIN component_delivery c ON c.target = d.target
             WHERE 1 = 1",
        );
        if let Some(owner) = &query.owner_key {
            // Through the owner's few targets, so a team's feed never walks everyone's.
            sql.push(" AND d.target IN (SELECT target FROM component_delivery WHERE owner_key = ")
                .push_bind(owner.clone())
                .push(") AND c.owner_key = ")
                .push_bind(owner.clone());
        }
        if let Some(keys) = &query.component_keys {
            sql.push(" AND c.component_key IN (SELECT value FROM json_each(")
                .push_bind(serde_json::to_string(keys).expect("strings serialise"))
                .push("))");
        }
        if let Some(environment) = &query.environment {
            sql.push(" AND d.environment = ")
                .push_bind(environment.clone());
        }
        if let Some(status) = query.status {
            sql.push(" AND d.status = ").push_bind(status.as_str());
        }
        if let Some(since) = query.since {
            sql.push(" AND d.started_at >= ")
                .push_bind(since.timestamp());
        }
        if let Some(after) = &query.after {
            sql.push(" AND (d.started_at, d.id) < (")
                .push_bind(after.started_at.timestamp())
                .push(", ")
                .push_bind(after.id.clone())
                .push(")");
        }
        sql.push(" ORDER BY d.started_at DESC, d.id DESC LIMIT ")
            .push_bind(query.limit);
        let rows = sql.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(ComponentDeployment {
                    component_key: r.get("component_key"),
                    name: r.get("name"),
                    deployment: decode_json("deployments.body", r.get("body"))?,
                })
            })
            .collect()
    }
}

/// Deployments upserted and records replaced per target: one part of a landing.
async fn land_part(
    tx: &mut Transaction<'_, Sqlite>,
    source: &str,
    deployments: &[Deployment],
    scoped: &[(RecordKind, String, Vec<PlatformRecord>)],
) -> Result<(u64, BTreeSet<String>), StoreError> {
    let (mut written, deployed) = upsert_deployments(tx, source, deployments).await?;
    for (kind, target, records) in scoped {
        written += write_changed(tx, source, Some((*kind, target)), records)
            .await?
            .0;
    }
    Ok((written, deployed))
}

async fn upsert_deployments(
    tx: &mut Transaction<'_, Sqlite>,
    source: &str,
    deployments: &[Deployment],
) -> Result<(u64, BTreeSet<String>), StoreError> {
    let mut written = 0;
    let mut targets = BTreeSet::new();
    for deployment in deployments {
        let body = serde_json::to_string(deployment).expect("domain records serialise");
        // The WHERE turns an identical row into no write at all.
        let rows = sqlx::query(
            "INSERT INTO deployments (source, id, target, environment, status, started_at, body)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (source, id) DO UPDATE SET target = excluded.target,
                environment = excluded.environment, status = excluded.status,
                started_at = excluded.started_at, body = excluded.body
             WHERE body != excluded.body",
        )
        .bind(source)
        .bind(&deployment.id)
        .bind(&deployment.target)
        .bind(&deployment.environment)
        .bind(deployment.status.as_str())
        .bind(deployment.started_at.timestamp())
        .bind(&body)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if rows > 0 {
            written += rows;
            targets.insert(deployment.target.clone());
        }
    }
    Ok((written, targets))
}

async fn replace_etags(
    tx: &mut Transaction<'_, Sqlite>,
    source: &str,
    etags: &HashMap<String, String>,
) -> Result<u64, StoreError> {
    let held: HashMap<String, String> =
        sqlx::query_as("SELECT url, etag FROM page_etags WHERE source = ?")
            .bind(source)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
    let mut written = 0;
    for url in held.keys().filter(|url| !etags.contains_key(*url)) {
        sqlx::query("DELETE FROM page_etags WHERE source = ? AND url = ?")
            .bind(source)
            .bind(url)
            .execute(&mut **tx)
            .await?;
        written += 1;
    }
    for (url, etag) in etags
        .iter()
        .filter(|(url, etag)| held.get(*url) != Some(*etag))
    {
        sqlx::query("INSERT OR REPLACE INTO page_etags (source, url, etag) VALUES (?, ?, ?)")
            .bind(source)
            .bind(url)
            .bind(etag)
            .execute(&mut **tx)
            .await?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::delivery::DeployStatus;

    fn deployment(id: &str, env: &str, minutes: i64, status: DeployStatus) -> Deployment {
        Deployment {
            id: id.into(),
            target: "github:demo-org/app".into(),
            environment: env.into(),
            version: format!("v{id}"),
            commit: Some(format!("sha{id}")),
            actor: None,
            started_at: DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap(),
            finished_at: None,
            status,
            link: None,
            rolled_back_from: None,
            description: None,
        }
    }

    #[tokio::test]
    async fn staged_parts_land_whole_or_not_at_all() {
        let store = Store::in_memory(&crate::store::AuditLocation::default())
            .await
            .unwrap();
        let at = Utc::now();
        let staged = || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM staged_delivery")
                .fetch_one(&store.pool)
                .await
                .unwrap()
        };
        let part = |ids: &[&str]| DeliveryPart {
            deployments: ids
                .iter()
                .map(|id| deployment(id, "prod", id.parse().unwrap(), DeployStatus::Success))
                .collect(),
            scoped: vec![],
        };
        // A sync that fails after staging: its parts are dropped, nothing landed.
        store
            .stage_delivery("gh", "a", &part(&["1", "2"]))
            .await
            .unwrap();
        store.drop_staged("gh", "a").await.unwrap();
        assert_eq!(staged().await, 0);
        assert!(store.newest_deployments("gh").await.unwrap().is_empty());

        // Another sync of the same source (another process) keeps its parts while this one
        // lands, and so does another source's.
        store
            .stage_delivery("gh", "b", &part(&["7"]))
            .await
            .unwrap();
        store
            .stage_delivery("other", "c", &part(&["9"]))
            .await
            .unwrap();
        store
            .stage_delivery("gh", "d", &part(&["1", "2"]))
            .await
            .unwrap();
        store.drop_staged("gh", "x").await.unwrap();
        store
            .stage_delivery("gh", "d", &part(&["3"]))
            .await
            .unwrap();
        let etags = HashMap::from([("graphql:x".to_string(), "v1".to_string())]);
        let (written, deployed) = store
            .land_staged_delivery("gh", "d", &etags, 3, &[], at)
            .await
            .unwrap();
        assert_eq!(written, 4, "three deployments and a mark");
        assert_eq!(deployed.len(), 1);
        assert_eq!(
            staged().await,
            2,
            "the other sync's part and the other source's"
        );
        let newest = store.newest_deployments("gh").await.unwrap();
        assert_eq!(newest["github:demo-org/app"].1, ["3"]);
        assert_eq!(store.page_etags("gh").await.unwrap(), etags);

        // A part a dead process left a day ago goes with the next sync of its source.
        sqlx::query("UPDATE staged_delivery SET staged_at = 0 WHERE sync_id = 'b'")
            .execute(&store.pool)
            .await
            .unwrap();
        store.drop_staged("gh", "e").await.unwrap();
        assert_eq!(staged().await, 1, "the other source's part");
    }

    #[tokio::test]
    async fn an_unchanged_landing_writes_nothing_and_each_environments_newest_is_found() {
        let store = Store::in_memory(&crate::store::AuditLocation::default())
            .await
            .unwrap();
        let at = Utc::now();
        let list = vec![
            deployment("1", "prod", 0, DeployStatus::Success),
            deployment("2", "prod", 10, DeployStatus::Failure),
            deployment("3", "beta", 5, DeployStatus::Success),
        ];
        let landing = || DeliveryLanding {
            deployments: &list,
            scoped: vec![],
            items: 3,
        };
        let (written, deployed) = store.land_delivery("gh", landing(), &[], at).await.unwrap();
        assert_eq!(written, 3);
        assert_eq!(
            deployed,
            BTreeSet::from(["github:demo-org/app".to_string()])
        );
        let (written, deployed) = store.land_delivery("gh", landing(), &[], at).await.unwrap();
        assert_eq!((written, deployed.len()), (0, 0));
        let targets = vec!["github:demo-org/app".to_string()];
        let mut newest = store.newest_per_environment(&targets).await.unwrap();
        newest.sort();
        let ids: Vec<&str> = newest.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(
            ids,
            ["1", "2", "3"],
            "prod's newest (2) and the newest that reached it (1)"
        );
        let named = store.deployments_named(&newest[1..2]).await.unwrap();
        assert_eq!(named[0].status, DeployStatus::Failure);
        let since = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let prod = vec!["prod".to_string()];
        let daily = store.daily_deploys(&targets, &prod, since).await.unwrap();
        assert_eq!(
            daily,
            [("github:demo-org/app".to_string(), 0, 1)],
            "the failure does not count"
        );
        let known = store.newest_deployments("gh").await.unwrap();
        assert_eq!(known["github:demo-org/app"].1, ["2"]);
    }
}
