//! What GitHub and Argo CD sources said about delivery: deployments (their own table, for the
//! timeline, matrix and activity feed at a million rows), runs, releases, application states
//! and comparisons (as platform records joined by target), and the ETags of the pages read.

use std::collections::{BTreeSet, HashMap};

use super::landing::{insert_rows_returning, record_landed, Landing};
use super::platform::write_changed;
use super::{decode_json, on_backend, Backend, PlatformRecord, RecordKind, Store, StoreError};
use crate::domain::delivery::{DeployStatus, Deployment};
use chrono::{DateTime, Utc};

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
        let mut tx = self.begin_landing().await?;
        let mut connection = tx.connection();
        let (written, deployed) = land_part(
            connection.reborrow(),
            source,
            landing.deployments,
            &landing.scoped,
        )
        .await?;
        keep_summaries(connection.reborrow(), &deployed).await?;
        record_landed(connection, source, at, problems, landing.items, written).await?;
        self.commit_landing(tx).await?;
        self.analyze_after(written, landing.items).await?;
        Ok((written, deployed))
    }

    /// Drops the parts staged by `sync`, and any staged by syncs of `source` a day or more
    /// ago (a process that died mid-sync).
    pub async fn drop_staged(&self, source: &str, sync: &str) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        let stale = (Utc::now() - chrono::Duration::days(1)).timestamp();
        on_backend!(&self.cache, pool => {
            sqlx::query(
                "DELETE FROM staged_delivery WHERE sync_id = $1 OR (source = $2 AND staged_at < $3)",
            )
            .bind(sync)
            .bind(source)
            .bind(stale)
            .execute(pool)
            .await?;
        });
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
        on_backend!(&self.cache, pool => {
            sqlx::query(
                "INSERT INTO staged_delivery (source, sync_id, staged_at, body) VALUES ($1, $2, $3, $4)",
            )
            .bind(source)
            .bind(sync)
            .bind(Utc::now().timestamp())
            .bind(&body)
            .execute(pool)
            .await?;
        });
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
        let mut tx = self.begin_landing().await?;
        let mut landing = tx.connection();
        let parts: Vec<i64> = on_backend!(landing.reborrow(), c => {
            sqlx::query_scalar("SELECT seq FROM staged_delivery WHERE sync_id = $1 ORDER BY seq")
                .bind(sync)
                .fetch_all(c)
                .await?
        });
        let mut written = 0;
        let mut deployed = BTreeSet::new();
        for seq in parts {
            let body: String = on_backend!(landing.reborrow(), c => {
                sqlx::query_scalar("SELECT body FROM staged_delivery WHERE seq = $1")
                    .bind(seq)
                    .fetch_one(c)
                    .await?
            });
            let part: DeliveryPart = decode_json("staged_delivery.body", &body)?;
            let (rows, targets) =
                land_part(landing.reborrow(), source, &part.deployments, &part.scoped).await?;
            written += rows;
            deployed.extend(targets);
        }
        keep_summaries(landing.reborrow(), &deployed).await?;
        on_backend!(landing.reborrow(), c => {
            sqlx::query("DELETE FROM staged_delivery WHERE sync_id = $1")
                .bind(sync)
                .execute(c)
                .await?;
        });
        written += replace_etags(landing.reborrow(), source, etags).await?;
        record_landed(landing, source, at, problems, items, written).await?;
        self.commit_landing(tx).await?;
        self.analyze_after(written, items).await?;
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
        let mut tx = self.begin_write().await?;
        let mut written = 0;
        for record in records {
            written += on_backend!(tx.connection(), c => {
                sqlx::query(
                    "INSERT INTO platform_records (source, kind, id, join_key, body)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(source)
                .bind(record.kind.as_str())
                .bind(&record.id)
                .bind(&record.join_key)
                .bind(&record.body)
                .execute(c)
                .await?
                .rows_affected()
            });
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Every target components are wired to whose key starts with `prefix` (`github:`,
    /// `argocd-`).
    pub async fn delivery_targets(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar(
                "SELECT DISTINCT target FROM component_delivery WHERE substr(target, 1, length($1)) = $1
                 ORDER BY target",
            )
            .bind(prefix)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Every component wired to one of `targets`, with its owner's key: who shares a
    /// platform target.
    pub async fn components_wired_to(
        &self,
        targets: &[String],
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let query = format!(
            "SELECT DISTINCT component_key, owner_key FROM component_delivery
             WHERE target IN ({}) ORDER BY component_key",
            self.cache.json_strings(1)
        );
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as(&query).bind(strings(targets)).fetch_all(pool).await?
        }))
    }

    /// The targets of the component at `key`.
    pub async fn targets_of_component(&self, key: &str) -> Result<Vec<String>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar(
                "SELECT target FROM component_delivery WHERE component_key = $1 ORDER BY target",
            )
            .bind(key)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The components `owner_key` owns that are wired for delivery: (component key, target).
    pub async fn targets_of_owner(
        &self,
        owner_key: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT component_key, target FROM component_delivery WHERE owner_key = $1",
            )
            .bind(owner_key)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The delivery targets of every component deployed from one of `targets`, by component.
    pub async fn components_of_targets(
        &self,
        targets: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let query = format!(
            "SELECT component_key, target FROM component_delivery WHERE component_key IN (
                SELECT component_key FROM component_delivery WHERE target IN ({}))",
            self.cache.json_strings(1)
        );
        let rows: Vec<(String, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query).bind(strings(targets)).fetch_all(pool).await?
        });
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
        let rows: Vec<(String, i64, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT d.target, d.started_at, d.id FROM deployments d
                 JOIN (SELECT target, max(started_at) AS newest FROM deployments
                       WHERE source = $1 GROUP BY target) n
                   ON d.source = $1 AND d.target = n.target AND d.started_at = n.newest",
            )
            .bind(source)
            .fetch_all(pool)
            .await?
        });
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
        let bodies: Vec<String> = on_backend!(&self.cache, pool => {
            sqlx::query_scalar(
                "SELECT body FROM deployments
                 WHERE source = $1 AND status IN ('queued', 'pending', 'waiting', 'in_progress')",
            )
            .bind(source)
            .fetch_all(pool)
            .await?
        });
        decode_deployments(&bodies)
    }

    /// The ETags `source` read last, by URL.
    pub async fn page_etags(&self, source: &str) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as("SELECT url, etag FROM page_etags WHERE source = $1")
                .bind(source)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Deployments to `targets` started at or after `since`, newest first.
    pub async fn deployments_of(
        &self,
        targets: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<Deployment>, StoreError> {
        let query = format!(
            "SELECT body FROM deployments WHERE target IN ({}) AND started_at >= $2
             ORDER BY started_at DESC",
            self.cache.json_strings(1)
        );
        let bodies: Vec<String> = on_backend!(&self.cache, pool => {
            sqlx::query_scalar(&query)
                .bind(strings(targets))
                .bind(since.timestamp())
                .fetch_all(pool)
                .await?
        });
        decode_deployments(&bodies)
    }

    /// Per target and environment of `targets`: the newest deployment that reached it, and
    /// the newest of any status (newest by start, then id), as the landings keep them.
    pub async fn environment_heads(
        &self,
        targets: &[String],
    ) -> Result<Vec<Deployment>, StoreError> {
        let query = format!(
            "SELECT body FROM deployments WHERE (source, id) IN
                (SELECT source, id FROM deployment_heads WHERE target IN ({}))",
            self.cache.json_strings(1)
        );
        let bodies: Vec<String> = on_backend!(&self.cache, pool => {
            sqlx::query_scalar(&query).bind(strings(targets)).fetch_all(pool).await?
        });
        decode_deployments(&bodies)
    }

    /// Deploys to `environments` per target, environment and day (0 is the UTC day `since`
    /// falls in) from that day on, as the landings keep them: (target, day, deploys), a row
    /// per environment. Deploys whose status was never read (older than the newest few per
    /// environment) count: only a known failure does not.
    pub async fn daily_deploys(
        &self,
        targets: &[String],
        environments: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let query = format!(
            "SELECT target, day - $3, deploys FROM deploy_days
             WHERE target IN ({}) AND environment IN ({}) AND day >= $3",
            self.cache.json_strings(1),
            self.cache.json_strings(2)
        );
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(strings(targets))
                .bind(strings(environments))
                .bind(since.timestamp().div_euclid(86400))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Every environment deployed to.
    pub async fn environments(&self) -> Result<Vec<String>, StoreError> {
        // One index probe per environment (a loose index scan), not a walk of every deployment.
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar(
                "WITH RECURSIVE e(name) AS (
                    SELECT min(environment) FROM deployments
                    UNION ALL
                    SELECT (SELECT min(environment) FROM deployments WHERE environment > e.name)
                    FROM e WHERE e.name IS NOT NULL)
                 SELECT name FROM e WHERE name IS NOT NULL",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Deployments newest first, with their components, as `query` filters them.
    pub async fn activity(
        &self,
        query: &ActivityQuery,
    ) -> Result<Vec<ComponentDeployment>, StoreError> {
        let mut values: Vec<ActivityValue> = Vec::new();
        // Binds a value and returns its parameter's number.
        let mut bind = |value: ActivityValue| {
            values.push(value);
            values.len()
        };
        // Deployments outermost, so the newest-first index answers the first page; statistics
        // skewed by Argo CD's ten-entry histories otherwise lead SQLite's planner to scan
        // every component's deployments and sort them.
        let mut sql = format!(
            "SELECT c.component_key, c.name, d.body
             FROM deployments d {} component_delivery c ON c.target = d.target
             WHERE 1 = 1",
            self.cache.outer_first()
        );
        if let Some(owner) = &query.owner_key {
            // Through the owner's few targets, so a team's feed never walks everyone's.
            let owner = bind(ActivityValue::Text(owner.clone()));
            sql += &format!(
                " AND d.target IN (SELECT target FROM component_delivery WHERE owner_key = ${owner})
                  AND c.owner_key = ${owner}"
            );
        }
        if let Some(keys) = &query.component_keys {
            let keys = bind(ActivityValue::Text(strings(keys)));
            sql += &format!(
                " AND c.component_key IN ({})",
                self.cache.json_strings(keys)
            );
        }
        if let Some(environment) = &query.environment {
            let environment = bind(ActivityValue::Text(environment.clone()));
            sql += &format!(" AND d.environment = ${environment}");
        }
        if let Some(status) = query.status {
            let status = bind(ActivityValue::Text(status.as_str().into()));
            sql += &format!(" AND d.status = ${status}");
        }
        if let Some(since) = query.since {
            let since = bind(ActivityValue::Int(since.timestamp()));
            sql += &format!(" AND d.started_at >= ${since}");
        }
        if let Some(after) = &query.after {
            let started = bind(ActivityValue::Int(after.started_at.timestamp()));
            let id = bind(ActivityValue::Text(after.id.clone()));
            sql += &format!(" AND (d.started_at, d.id) < (${started}, ${id})");
        }
        let limit = bind(ActivityValue::Int(query.limit));
        sql += &format!(" ORDER BY d.started_at DESC, d.id DESC LIMIT ${limit}");
        let rows: Vec<(String, String, String)> = on_backend!(&self.cache, pool => {
            let mut statement = sqlx::query_as(&sql);
            for value in &values {
                statement = match value {
                    ActivityValue::Text(text) => statement.bind(text),
                    ActivityValue::Int(number) => statement.bind(number),
                };
            }
            statement.fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|(component_key, name, body)| {
                Ok(ComponentDeployment {
                    component_key,
                    name,
                    deployment: decode_json("deployments.body", &body)?,
                })
            })
            .collect()
    }
}

/// A value the activity feed's query binds.
enum ActivityValue {
    Text(String),
    Int(i64),
}

/// `values` as the JSON array a list is bound as.
fn strings(values: &[String]) -> String {
    serde_json::to_string(values).expect("strings serialise")
}

fn decode_deployments(bodies: &[String]) -> Result<Vec<Deployment>, StoreError> {
    bodies
        .iter()
        .map(|b| decode_json("deployments.body", b))
        .collect()
}

/// Deployments upserted and records replaced per target: one part of a landing.
async fn land_part(
    mut landing: Landing<'_>,
    source: &str,
    deployments: &[Deployment],
    scoped: &[(RecordKind, String, Vec<PlatformRecord>)],
) -> Result<(u64, BTreeSet<String>), StoreError> {
    let (mut written, deployed) =
        upsert_deployments(landing.reborrow(), source, deployments).await?;
    for (kind, target, records) in scoped {
        written += write_changed(landing.reborrow(), source, Some((*kind, target)), records)
            .await?
            .0;
    }
    Ok((written, deployed))
}

async fn upsert_deployments(
    mut landing: Landing<'_>,
    source: &str,
    deployments: &[Deployment],
) -> Result<(u64, BTreeSet<String>), StoreError> {
    // Each id once, as read last: a page that shifted while it was paged repeats one, and a
    // statement may not update one row twice.
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut rows: Vec<(&Deployment, String)> = Vec::with_capacity(deployments.len());
    for deployment in deployments {
        let body = serde_json::to_string(deployment).expect("domain records serialise");
        match at.entry(deployment.id.as_str()) {
            std::collections::hash_map::Entry::Occupied(held) => {
                rows[*held.get()] = (deployment, body)
            }
            std::collections::hash_map::Entry::Vacant(new) => {
                new.insert(rows.len());
                rows.push((deployment, body));
            }
        }
    }
    // The WHERE turns an identical row into no write at all, and returns nothing for it.
    let targets: Vec<String> = on_backend!(landing.reborrow(), c => {
        insert_rows_returning(
            c,
            "INSERT INTO deployments (source, id, target, environment, status, started_at, body)",
            "ON CONFLICT (source, id) DO UPDATE SET target = excluded.target,
                environment = excluded.environment, status = excluded.status,
                started_at = excluded.started_at, body = excluded.body
             WHERE deployments.body != excluded.body
             RETURNING target",
            &rows,
            |statement, (deployment, body)| {
                statement
                    .bind(source)
                    .bind(deployment.id.as_str())
                    .bind(deployment.target.as_str())
                    .bind(deployment.environment.as_str())
                    .bind(deployment.status.as_str())
                    .bind(deployment.started_at.timestamp())
                    .bind(body.as_str())
            },
        )
        .await?
        .iter()
        .map(|row| sqlx::Row::try_get(row, 0))
        .collect::<Result<_, _>>()?
    });
    Ok((targets.len() as u64, targets.into_iter().collect()))
}

/// Works out `targets`' rows of `deployment_heads` and `deploy_days` again from their
/// deployments, once a landing (a first sync's every target at once).
async fn keep_summaries(
    mut landing: Landing<'_>,
    targets: &BTreeSet<String>,
) -> Result<(), StoreError> {
    if targets.is_empty() {
        return Ok(());
    }
    let listed = landing.json_strings(1);
    // From each listed target to its deployments, by index: SQLite, whose statistics were
    // taken before this landing wrote them, otherwise scans every deployment for a few
    // targets (a first GitHub sync took ten times as long).
    let (targets_table, join) = match landing {
        Backend::Sqlite(_) => ("json_each($1) AS t", "CROSS JOIN"),
        Backend::Postgres(_) => ("jsonb_array_elements_text($1::jsonb) AS t(value)", "JOIN"),
    };
    let deployments = format!("{targets_table} {join} deployments d ON d.target = t.value");
    let ranked = |reached: u8, condition: &str| {
        format!(
            "SELECT d.target, d.environment, {reached} AS reached, d.source, d.id,
                row_number() OVER (PARTITION BY d.target, d.environment
                                   ORDER BY d.started_at DESC, d.id DESC) AS n
             FROM {deployments} {condition}"
        )
    };
    let heads = format!(
        "INSERT INTO deployment_heads (target, environment, reached, source, id)
         SELECT target, environment, reached, source, id FROM ({} UNION ALL {}) AS ranked
         WHERE n = 1",
        ranked(0, ""),
        ranked(1, "WHERE d.status IN ('success', 'inactive')"),
    );
    let days = format!(
        "INSERT INTO deploy_days (target, environment, day, deploys)
         SELECT d.target, d.environment, d.started_at / 86400, count(*) FROM {deployments}
         WHERE d.status NOT IN ('failure', 'error', 'cancelled')
         GROUP BY d.target, d.environment, d.started_at / 86400"
    );
    let targets = serde_json::to_string(targets).expect("strings serialise");
    for (table, insert) in [("deployment_heads", heads), ("deploy_days", days)] {
        let delete = format!("DELETE FROM {table} WHERE target IN ({listed})");
        on_backend!(landing.reborrow(), c => {
            sqlx::query(&delete).bind(&targets).execute(&mut *c).await?;
            sqlx::query(&insert).bind(&targets).execute(&mut *c).await?;
        });
    }
    Ok(())
}

async fn replace_etags(
    mut landing: Landing<'_>,
    source: &str,
    etags: &HashMap<String, String>,
) -> Result<u64, StoreError> {
    let held: Vec<(String, String)> = on_backend!(landing.reborrow(), c => {
        sqlx::query_as("SELECT url, etag FROM page_etags WHERE source = $1")
            .bind(source)
            .fetch_all(c)
            .await?
    });
    let held: HashMap<String, String> = held.into_iter().collect();
    let mut written = 0;
    for url in held.keys().filter(|url| !etags.contains_key(*url)) {
        on_backend!(landing.reborrow(), c => {
            sqlx::query("DELETE FROM page_etags WHERE source = $1 AND url = $2")
                .bind(source)
                .bind(url)
                .execute(c)
                .await?;
        });
        written += 1;
    }
    for (url, etag) in etags
        .iter()
        .filter(|(url, etag)| held.get(*url) != Some(*etag))
    {
        on_backend!(landing.reborrow(), c => {
            sqlx::query(
                "INSERT INTO page_etags (source, url, etag) VALUES ($1, $2, $3)
                 ON CONFLICT (source, url) DO UPDATE SET etag = excluded.etag",
            )
            .bind(source)
            .bind(url)
            .bind(etag)
            .execute(c)
            .await?;
        });
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
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            staged_parts_land_whole_or_not_at_all_in(store).await;
        }
    }

    async fn staged_parts_land_whole_or_not_at_all_in(store: Store) {
        let at = Utc::now();
        let staged = || async {
            on_backend!(&store.cache, pool => {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM staged_delivery")
                    .fetch_one(pool)
                    .await
                    .unwrap()
            })
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
        on_backend!(&store.cache, pool => {
            sqlx::query("UPDATE staged_delivery SET staged_at = 0 WHERE sync_id = 'b'")
                .execute(pool)
                .await
                .unwrap();
        });
        store.drop_staged("gh", "e").await.unwrap();
        assert_eq!(staged().await, 1, "the other source's part");
    }

    #[tokio::test]
    async fn an_unchanged_landing_writes_nothing_and_each_environments_newest_is_found() {
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            an_unchanged_landing_writes_nothing_and_each_environments_newest_is_found_in(store)
                .await;
        }
    }

    async fn an_unchanged_landing_writes_nothing_and_each_environments_newest_is_found_in(
        store: Store,
    ) {
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
        let heads = |list: Vec<Deployment>| {
            let mut heads: Vec<(String, DeployStatus)> =
                list.into_iter().map(|d| (d.id, d.status)).collect();
            heads.sort_by(|a, b| a.0.cmp(&b.0));
            heads
        };
        assert_eq!(
            heads(store.environment_heads(&targets).await.unwrap()),
            [
                ("1".into(), DeployStatus::Success),
                ("2".into(), DeployStatus::Failure),
                ("3".into(), DeployStatus::Success)
            ],
            "prod's newest (2) and the newest that reached it (1)"
        );
        let since = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let prod = vec!["prod".to_string()];
        let daily = || store.daily_deploys(&targets, &prod, since);
        assert_eq!(
            daily().await.unwrap(),
            [("github:demo-org/app".to_string(), 0, 1)],
            "the failure does not count"
        );
        let known = store.newest_deployments("gh").await.unwrap();
        assert_eq!(known["github:demo-org/app"].1, ["2"]);

        // A page that shifted while it was paged names one deployment twice: the one read
        // last lands, once.
        let shifted = vec![
            deployment("2", "prod", 10, DeployStatus::Failure),
            deployment("4", "prod", 20, DeployStatus::InProgress),
            deployment("2", "prod", 10, DeployStatus::Success),
        ];
        let landing = DeliveryLanding {
            deployments: &shifted,
            scoped: vec![],
            items: 3,
        };
        let (written, _) = store.land_delivery("gh", landing, &[], at).await.unwrap();
        assert_eq!(written, 2, "4 new, 2 changed");
        assert_eq!(
            heads(store.environment_heads(&targets).await.unwrap()),
            [
                ("2".into(), DeployStatus::Success),
                ("3".into(), DeployStatus::Success),
                ("4".into(), DeployStatus::InProgress)
            ],
            "prod's newest (4) and the newest that reached it, 2 now"
        );
        assert_eq!(
            daily().await.unwrap(),
            [("github:demo-org/app".to_string(), 0, 3)],
            "2 succeeded after all; 4's outcome is not known yet"
        );

        // Two started in the same second: the greater id is the newer, as the matrix orders.
        // A day later, prod counts on a day of its own; beta is not asked for.
        let later = vec![
            deployment("5", "beta", 5, DeployStatus::Success),
            deployment("6", "prod", 24 * 60, DeployStatus::Success),
        ];
        let landing = DeliveryLanding {
            deployments: &later,
            scoped: vec![],
            items: 2,
        };
        store.land_delivery("gh", landing, &[], at).await.unwrap();
        let ids: Vec<String> = heads(store.environment_heads(&targets).await.unwrap())
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["5", "6"]);
        let mut daily = daily().await.unwrap();
        daily.sort();
        assert_eq!(
            daily,
            [
                ("github:demo-org/app".to_string(), 0, 3),
                ("github:demo-org/app".to_string(), 1, 1)
            ]
        );
    }
}
