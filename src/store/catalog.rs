//! Catalog rows: what each source said, the merged view, relations, search, sync state.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::landing::{insert_rows, record_landed, Landing, ROWS_A_STATEMENT};
use super::{decode_json, on_backend, Backend, Store, StoreError, Writes};
use crate::api::{EntitySummary, SearchHit, ServiceRow, TeamSummary};
use crate::domain::merge::{merge_reports, MergedEntity, SourcedEntity};
use crate::domain::Quota;
use crate::domain::{ownership_gaps, relations_of, Entity, Gap, Relation};

/// Whether the group `g` has the user whose email is `$1` among its members. SQLite's column
/// compares case-blind (COLLATE NOCASE); PostgreSQL compares both sides lower-cased.
fn is_mine<S, P>(backend: &Backend<S, P>) -> &'static str {
    match backend {
        Backend::Sqlite(_) => {
            "EXISTS (SELECT 1 FROM relations r JOIN entities u ON u.entity_key = r.source_key
             WHERE r.target_key = g.entity_key AND r.relation = 'memberOf' AND u.email = $1)"
        }
        Backend::Postgres(_) => {
            "EXISTS (SELECT 1 FROM relations r JOIN entities u ON u.entity_key = r.source_key
             WHERE r.target_key = g.entity_key AND r.relation = 'memberOf' AND lower(u.email) = lower($1))"
        }
    }
}

/// The channel a shared cache tells each landing on (see its migration).
const LANDED_CHANNEL: &str = "opsdeck_landed";

/// One source's complete fetch, to replace what the cache holds from it.
#[derive(Debug)]
pub struct SourceRows<'a> {
    /// Source name.
    pub source: &'a str,
    /// Everything the source holds now.
    pub entities: &'a [Entity],
    /// Problems that cost single documents; stored as the source's last error.
    pub problems: &'a [String],
}

/// A row of `sync_state`, with the requests of the last hour.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncStateRow {
    /// Source name.
    pub source: String,
    /// When a sync last started.
    pub last_attempt: Option<DateTime<Utc>>,
    /// When a sync last landed.
    pub last_success: Option<DateTime<Utc>>,
    /// Last error or problems.
    pub last_error: Option<String>,
    /// Entities held.
    pub item_count: i64,
    /// Failed syncs since the last one that landed.
    pub consecutive_failures: i64,
    /// Until when the platform asked us to wait.
    pub retry_after: Option<DateTime<Utc>>,
    /// The platform's reported request limit.
    pub quota_limit: Option<i64>,
    /// Requests left, as the platform last reported.
    pub quota_remaining: Option<i64>,
    /// When the platform's window resets.
    pub quota_resets_at: Option<DateTime<Utc>>,
    /// Requests the last sync made.
    pub last_requests: Option<i64>,
    /// Rows the last sync that landed wrote.
    pub last_rows_written: Option<i64>,
    /// Duration of the last sync.
    pub last_duration_ms: Option<i64>,
    /// Requests made in the last hour.
    pub requests_last_hour: i64,
}

/// What one sync cost, landed or not.
#[derive(Debug, Clone, Copy)]
pub struct SyncCost {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Requests made (retries included).
    pub requests: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// The platform's rate limit, if its answers reported one.
    pub quota: Option<Quota>,
    /// No request before this: the platform's quota is spent until then.
    pub wait_until: Option<DateTime<Utc>>,
}

/// A team without its counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamHead {
    /// Cache key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Display title, or the name.
    pub title: String,
    /// Whether the identity is a member.
    pub is_mine: bool,
}

/// A stored entity with what the service page needs besides the body.
#[derive(Debug, Clone)]
pub struct StoredEntity {
    /// The merged body.
    pub entity: Entity,
    /// Gaps computed at ingest.
    pub gaps: Vec<Gap>,
    /// Sources that reported it.
    pub sources: Vec<String>,
}

/// A relation seen from one end, with the other end's summary.
#[derive(Debug, Clone)]
pub struct RelatedEntity {
    /// Relation type (`dependsOn`, …).
    pub relation: String,
    /// The other end.
    pub other: EntitySummary,
}

impl Store {
    /// Makes the cache hold exactly `rows.entities` from `rows.source`, in one transaction: a
    /// failure anywhere leaves the cache exactly as it was. Only entities that changed are
    /// written, and only the merged rows they touch are rebuilt; a fetch identical to what is
    /// held writes no row at all. `precedence` lists source names in config order; when it
    /// differs from the order the merged view was built with, the view is rebuilt whole.
    /// Returns the number of source rows written or deleted.
    pub async fn replace_source(
        &self,
        rows: SourceRows<'_>,
        precedence: &[String],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut fetched: InHand = HashMap::with_capacity(rows.entities.len());
        for entity in rows.entities {
            let body =
                serde_json::to_string(entity).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            // A key repeated within one fetch: the last one wins, as it always has.
            fetched.insert(entity.entity_ref().key(), (entity, body));
        }
        let _writing = self.writer.lock().await;
        let mut tx = self.begin_landing().await?;
        let mut landing = tx.connection();
        let held: Vec<(String, String)> = on_backend!(landing.reborrow(), c => {
            sqlx::query_as("SELECT entity_key, body FROM source_entities WHERE source = $1")
                .bind(rows.source)
                .fetch_all(c)
                .await?
        });
        let held: HashMap<String, String> = held.into_iter().collect();
        let removed: Vec<&String> = held.keys().filter(|k| !fetched.contains_key(*k)).collect();
        let mut changed: Vec<(&String, &String)> = fetched
            .iter()
            .map(|(key, (_, body))| (key, body))
            .filter(|(key, body)| held.get(*key) != Some(*body))
            .collect();
        // In key order: rows inserted at random places split pages of the table's b-tree,
        // which then holds an eighth more pages, and a full landing took twice as long.
        changed.sort_unstable_by_key(|(key, _)| *key);
        let delete = format!(
            "DELETE FROM source_entities WHERE source = $1 AND entity_key IN ({})",
            landing.json_strings(2)
        );
        for chunk in removed.chunks(ROWS_A_STATEMENT) {
            on_backend!(landing.reborrow(), c => {
                sqlx::query(&delete)
                    .bind(rows.source)
                    .bind(to_json(&chunk))
                    .execute(c)
                    .await?;
            });
        }
        on_backend!(landing.reborrow(), c => {
            insert_rows(
                c,
                "INSERT INTO source_entities (source, entity_key, body)",
                "ON CONFLICT (source, entity_key) DO UPDATE SET body = excluded.body",
                &changed,
                |statement, (key, body)| {
                    statement
                        .bind(rows.source)
                        .bind(key.as_str())
                        .bind(body.as_str())
                },
            )
            .await?
        });
        let precedence_json = to_json(&precedence);
        let built_with: Option<String> = on_backend!(landing.reborrow(), c => {
            sqlx::query_scalar("SELECT precedence FROM merge_state WHERE id = 1")
                .fetch_optional(c)
                .await?
        });
        let touched: Vec<&String> = removed
            .iter()
            .copied()
            .chain(changed.iter().map(|(k, _)| *k))
            .collect();
        let rebuilt_whole = built_with.as_deref() != Some(precedence_json.as_str());
        if rebuilt_whole {
            remerge(landing.reborrow(), precedence, None, rows.source, &fetched).await?;
            on_backend!(landing.reborrow(), c => {
                sqlx::query(
                    "INSERT INTO merge_state (id, precedence) VALUES (1, $1)
                     ON CONFLICT (id) DO UPDATE SET precedence = excluded.precedence",
                )
                .bind(&precedence_json)
                .execute(c)
                .await?;
            });
        } else if !touched.is_empty() {
            remerge(
                landing.reborrow(),
                precedence,
                Some(&touched),
                rows.source,
                &fetched,
            )
            .await?;
        }
        if rebuilt_whole || !touched.is_empty() {
            super::platform::rejoin_alerts(landing.reborrow()).await?;
        }
        let written = touched.len() as u64;
        record_landed(
            landing,
            rows.source,
            at,
            rows.problems,
            fetched.len(),
            written,
        )
        .await?;
        self.commit_landing(tx).await?;
        if rebuilt_whole {
            self.analyze().await?;
        } else {
            self.analyze_after(written, fetched.len()).await?;
        }
        Ok(written)
    }

    /// The key of every entity the cache holds from `source`, with its etag when its body
    /// has one: what a catalog's listing is compared with.
    pub async fn source_etags(
        &self,
        source: &str,
    ) -> Result<HashMap<String, Option<String>>, StoreError> {
        let etag = match self.cache {
            Backend::Sqlite(_) => "body ->> '$.metadata.etag'",
            Backend::Postgres(_) => "body::jsonb -> 'metadata' ->> 'etag'",
        };
        let query = format!("SELECT entity_key, {etag} FROM source_entities WHERE source = $1");
        let rows: Vec<(String, Option<String>)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query).bind(source).fetch_all(pool).await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Marks a sync of `source` that found exactly what the cache holds as landed at `at`,
    /// writing no entity: when the last sync landed (so the source's last error holds the
    /// problems of the entities held) and the merged view was built with `precedence`.
    /// Returns those problems when it did; when not, the sync lands its entities as any
    /// other.
    pub async fn confirm_source(
        &self,
        source: &str,
        precedence: &[String],
        at: DateTime<Utc>,
        items: usize,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let _writing = self.writer.lock().await;
        let mut tx = self.begin_write().await?;
        let confirmed: Option<Option<String>> = on_backend!(tx.connection(), c => {
            sqlx::query_scalar(
                "UPDATE sync_state SET last_success = $2, item_count = $3, last_rows_written = 0,
                    retry_after = NULL
                 WHERE source = $1 AND consecutive_failures = 0 AND last_success IS NOT NULL
                   AND EXISTS (SELECT 1 FROM merge_state WHERE id = 1 AND precedence = $4)
                 RETURNING last_error",
            )
            .bind(source)
            .bind(at)
            .bind(items as i64)
            .bind(to_json(&precedence))
            .fetch_optional(c)
            .await?
        });
        tx.commit().await?;
        // Problems are stored one a line (see `record_landed`).
        Ok(confirmed.map(|problems| {
            problems
                .map(|p| p.split('\n').map(str::to_string).collect())
                .unwrap_or_default()
        }))
    }

    /// Refreshes the planner's statistics after a landing that wrote `written` rows of the
    /// `items` a source holds, if that is a twentieth of them or more: a few rows do not change
    /// the tables' shape, and analysing takes each reader's connection in turn (a catalog sync
    /// that changed one entity of 14,000 spent 0.07 s of its 1 s on it).
    pub(super) async fn analyze_after(&self, written: u64, items: usize) -> Result<(), StoreError> {
        if written > 0 && written.saturating_mul(20) >= items as u64 {
            self.analyze().await?;
        }
        Ok(())
    }

    /// Refreshes the planner's statistics after a sync changed the tables' shape (10 rows or
    /// 10,000). `PRAGMA optimize` skips tables never analysed, so analyse outright, sampling to
    /// keep it to milliseconds. One connection for both: analysis_limit is a per-connection
    /// setting. In PostgreSQL, the tables the role owns (autovacuum gets to the others within
    /// a minute or so).
    pub(super) async fn analyze(&self) -> Result<(), StoreError> {
        let pool = match &self.cache {
            Backend::Sqlite(pool) => pool,
            Backend::Postgres(pool) => {
                sqlx::raw_sql(
                    "DO $$ DECLARE t record; BEGIN
                        FOR t IN SELECT tablename FROM pg_tables
                                 WHERE schemaname = current_schema() AND tableowner = current_user
                        LOOP EXECUTE format('ANALYZE %I', t.tablename); END LOOP;
                     END $$",
                )
                .execute(pool)
                .await?;
                return Ok(());
            }
        };
        sqlx::raw_sql("PRAGMA analysis_limit = 400; ANALYZE;")
            .execute(pool)
            .await?;
        // A connection plans with the statistics it loaded when it opened: hand the new ones to
        // the landing connection, which lives from landing to landing, and to every connection
        // of the pool (holding each, so the next acquire is another one). Without this, a table
        // empty when a connection opened kept being planned as empty.
        if let Some(landing) = &self.landing {
            sqlx::query("ANALYZE sqlite_schema")
                .execute(landing)
                .await?;
        }
        let mut connections = Vec::new();
        for _ in 0..pool.options().get_max_connections() {
            connections.push(pool.acquire().await?);
        }
        for connection in &mut connections {
            sqlx::query("ANALYZE sqlite_schema")
                .execute(connection.as_mut())
                .await?;
        }
        Ok(())
    }

    /// Calls `landed` with the source's name each time a sync lands in a shared cache, by
    /// any process (and once with an empty name after a lost connection came back), for as
    /// long as the future runs. Returns at once for a file of this machine's.
    pub async fn follow_landings(&self, landed: &(dyn Fn(&str) + Send + Sync)) {
        if let Backend::Postgres(pool) = &self.cache {
            super::postgres::follow(pool, LANDED_CHANNEL, "the shared cache", landed).await;
        }
    }

    /// Notes that a sync of `source` started.
    pub async fn record_attempt(&self, source: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        on_backend!(&self.cache, pool => {
            sqlx::query(
                "INSERT INTO sync_state (source, last_attempt) VALUES ($1, $2)
                 ON CONFLICT (source) DO UPDATE SET last_attempt = $2",
            )
            .bind(source)
            .bind(at)
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(())
    }

    /// Notes that a sync of `source` failed; its cached rows stay as they were. `retry_after`
    /// is when the platform allows the next request, when it asked us to wait.
    pub async fn record_failure(
        &self,
        source: &str,
        error: &str,
        retry_after: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        on_backend!(&self.cache, pool => {
            sqlx::query(
                "INSERT INTO sync_state (source, last_error, consecutive_failures, retry_after) VALUES ($1, $2, 1, $3)
                 ON CONFLICT (source) DO UPDATE SET last_error = $2,
                    consecutive_failures = sync_state.consecutive_failures + 1, retry_after = $3",
            )
            .bind(source)
            .bind(error)
            .bind(retry_after)
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(())
    }

    /// Notes what a sync of `source` cost, landed or not: its requests (counted in the hour's
    /// budget), its duration, and the quota the platform last reported, if it did.
    pub async fn record_cost(&self, source: &str, cost: &SyncCost) -> Result<(), StoreError> {
        let minute = cost.at.timestamp().div_euclid(60);
        // The later of the wait held and the new one; SQLite's dates are text, PostgreSQL's
        // greatest() passes over a NULL.
        let later_wait = match self.cache {
            Backend::Sqlite(_) => {
                "CASE WHEN $7 > coalesce(retry_after, '') THEN $7 ELSE retry_after END"
            }
            Backend::Postgres(_) => "greatest(retry_after, $7)",
        };
        let update = format!(
            "UPDATE sync_state SET last_requests = $2, last_duration_ms = $3,
                quota_limit = coalesce($4, CASE WHEN $5 IS NULL THEN quota_limit END),
                quota_remaining = coalesce($5, quota_remaining),
                quota_resets_at = CASE WHEN $5 IS NULL THEN quota_resets_at ELSE $6 END,
                retry_after = {later_wait}
             WHERE source = $1"
        );
        let _writing = self.writer.lock().await;
        on_backend!(&self.cache, pool => {
            let mut tx = pool.write_transaction().await?;
            if cost.requests > 0 {
                sqlx::query(
                    "INSERT INTO source_requests (source, minute, count) VALUES ($1, $2, $3)
                     ON CONFLICT (source, minute) DO UPDATE SET count = source_requests.count + $3",
                )
                .bind(source)
                .bind(minute)
                .bind(cost.requests)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("DELETE FROM source_requests WHERE source = $1 AND minute < $2")
                .bind(source)
                .bind(minute - 60)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&update)
                .bind(source)
                .bind(cost.requests)
                .bind(cost.duration_ms)
                .bind(cost.quota.and_then(|q| q.limit))
                .bind(cost.quota.map(|q| q.remaining))
                .bind(cost.quota.and_then(|q| q.resets_at))
                .bind(cost.wait_until)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// When a sync last landed in the cache, whichever source and process: what changes when
    /// there is something new to show.
    pub async fn last_landing(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar("SELECT max(last_success) FROM sync_state")
                .fetch_one(pool)
                .await?
        }))
    }

    /// Every source's sync state, with the requests it made in the hour before `now`.
    pub async fn sync_states(&self, now: DateTime<Utc>) -> Result<Vec<SyncStateRow>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT s.source, s.last_attempt, s.last_success, s.last_error, s.item_count,
                    s.consecutive_failures, s.retry_after, s.quota_limit, s.quota_remaining,
                    s.quota_resets_at, s.last_requests, s.last_rows_written, s.last_duration_ms,
                    CAST((SELECT coalesce(sum(r.count), 0) FROM source_requests r
                     WHERE r.source = s.source AND r.minute > $1) AS BIGINT) AS requests_last_hour
                 FROM sync_state s ORDER BY s.source",
            )
            .bind(now.timestamp().div_euclid(60) - 60)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Teams (groups) with counts, all of them or those `only` names; those `email` belongs to
    /// come first.
    pub async fn teams(
        &self,
        email: Option<&str>,
        only: Option<&[String]>,
    ) -> Result<Vec<TeamSummary>, StoreError> {
        let filter = if only.is_some() {
            format!("AND g.entity_key IN ({})", self.cache.json_strings(2))
        } else {
            String::new()
        };
        let is_mine = is_mine(&self.cache);
        let members = "(SELECT count(DISTINCT r.source_key) FROM relations r
                        WHERE r.target_key = g.entity_key AND r.relation = 'memberOf')";
        let query = match self.cache {
            // Two index probes a group: the components' rows are read from the index alone.
            Backend::Sqlite(_) => format!(
                "SELECT g.entity_key, g.name, coalesce(g.title, g.name) AS title,
                    (SELECT count(*) FROM entities c WHERE c.owner_key = g.entity_key AND c.kind = 'component') AS service_count,
                    (SELECT coalesce(sum(c.gap_count), 0) FROM entities c WHERE c.owner_key = g.entity_key AND c.kind = 'component') AS gap_count,
                    {members} AS member_count, {is_mine} AS is_mine, g.spec_type
                 FROM entities g WHERE g.kind = 'group' {filter}
                 ORDER BY is_mine DESC, g.name"
            ),
            // PostgreSQL reads each component's row from the table for a probe (until a
            // vacuum marks the pages visible): the components are counted in one pass instead.
            Backend::Postgres(_) => format!(
                "WITH owned AS MATERIALIZED (
                    SELECT owner_key, count(*) AS service_count, sum(gap_count) AS gap_count
                    FROM entities WHERE kind = 'component' GROUP BY owner_key)
                 SELECT g.entity_key, g.name, coalesce(g.title, g.name) AS title,
                    coalesce(o.service_count, 0) AS service_count,
                    CAST(coalesce(o.gap_count, 0) AS BIGINT) AS gap_count,
                    {members} AS member_count, {is_mine} AS is_mine, g.spec_type
                 FROM entities g LEFT JOIN owned o ON o.owner_key = g.entity_key
                 WHERE g.kind = 'group' {filter}
                 ORDER BY is_mine DESC, g.name"
            ),
        };
        let rows: Vec<TeamColumns> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(email)
                .bind(only.map(|o| serde_json::to_string(o).expect("strings serialise")))
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| TeamSummary {
                key: r.entity_key,
                name: r.name,
                title: r.title,
                service_count: r.service_count,
                member_count: r.member_count,
                gap_count: r.gap_count,
                is_mine: r.is_mine,
                group_type: r.spec_type,
                // The tree is the engine's to draw; until it does, each group stands alone.
                parent: None,
                depth: 0,
                child_count: 0,
                service_count_below: r.service_count,
                gap_count_below: r.gap_count,
            })
            .collect())
    }

    /// Teams without their counts, those `email` belongs to first.
    pub async fn team_heads(&self, email: Option<&str>) -> Result<Vec<TeamHead>, StoreError> {
        let query = format!(
            "SELECT g.entity_key AS key, g.name, coalesce(g.title, g.name) AS title, {} AS is_mine
             FROM entities g WHERE g.kind = 'group' ORDER BY is_mine DESC, g.name",
            is_mine(&self.cache)
        );
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as(&query).bind(email).fetch_all(pool).await?
        }))
    }

    /// Whether the cache holds any component.
    pub async fn holds_components(&self) -> Result<bool, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM entities WHERE kind = 'component')")
                .fetch_one(pool)
                .await?
        }))
    }

    /// Components owned by `owner_key`, by name.
    pub async fn services_of(&self, owner_key: &str) -> Result<Vec<ServiceRow>, StoreError> {
        self.service_rows(
            "WHERE c.kind = 'component' AND c.owner_key = $1 ORDER BY c.name",
            Some(owner_key),
        )
        .await
    }

    /// Components whose owner is not in the catalog, or that name none.
    pub async fn orphaned_services(&self) -> Result<Vec<ServiceRow>, StoreError> {
        self.service_rows("WHERE c.unowned ORDER BY c.name", None)
            .await
    }

    /// Every component, by name.
    pub async fn all_services(&self) -> Result<Vec<ServiceRow>, StoreError> {
        self.service_rows("WHERE c.kind = 'component' ORDER BY c.name", None)
            .await
    }

    /// The service rows the rest of a query (`filter`, with `value` as its parameter) picks.
    async fn service_rows(
        &self,
        filter: &str,
        value: Option<&str>,
    ) -> Result<Vec<ServiceRow>, StoreError> {
        let query = format!("{SERVICE_ROW_SELECT} {filter}");
        let rows: Vec<ServiceColumns> = on_backend!(&self.cache, pool => {
            let statement = sqlx::query_as(&query);
            let statement = match value {
                Some(value) => statement.bind(value),
                None => statement,
            };
            statement.fetch_all(pool).await?
        });
        rows.into_iter().map(service_row).collect()
    }

    /// One entity by key.
    pub async fn entity(&self, key: &str) -> Result<Option<StoredEntity>, StoreError> {
        let row: Option<(String, String, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as("SELECT body, gaps, sources FROM entities WHERE entity_key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        row.map(|(body, gaps, sources)| {
            Ok(StoredEntity {
                entity: decode_json("body", &body)?,
                gaps: decode_json("gaps", &gaps)?,
                sources: decode_json("sources", &sources)?,
            })
        })
        .transpose()
    }

    /// A summary of the entity at `key`; `exists: false` when the cache has none.
    pub async fn summary(&self, key: &str) -> Result<EntitySummary, StoreError> {
        let found: Option<(String, String, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT kind, name, coalesce(title, name) AS title FROM entities WHERE entity_key = $1",
            )
            .bind(key)
            .fetch_optional(pool)
            .await?
        });
        Ok(summary_of(key, found))
    }

    /// Relations leaving `key` (`outgoing`) or arriving at it, with the other end summarised.
    pub async fn related(
        &self,
        key: &str,
        outgoing: bool,
    ) -> Result<Vec<RelatedEntity>, StoreError> {
        let sql = if outgoing {
            "SELECT DISTINCT r.relation, r.target_key AS other_key, o.kind, o.name, coalesce(o.title, o.name) AS title
             FROM relations r LEFT JOIN entities o ON o.entity_key = r.target_key
             WHERE r.source_key = $1 ORDER BY r.relation, r.target_key"
        } else {
            "SELECT DISTINCT r.relation, r.source_key AS other_key, o.kind, o.name, coalesce(o.title, o.name) AS title
             FROM relations r LEFT JOIN entities o ON o.entity_key = r.source_key
             WHERE r.target_key = $1 ORDER BY r.relation, r.source_key"
        };
        type RelatedRow = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<RelatedRow> = on_backend!(&self.cache, pool => {
            sqlx::query_as(sql).bind(key).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(relation, other_key, kind, name, title)| {
                // The LEFT JOIN leaves `kind` NULL when the other end is not in the cache.
                let found =
                    kind.map(|kind| (kind, name.unwrap_or_default(), title.unwrap_or_default()));
                RelatedEntity {
                    relation,
                    other: summary_of(&other_key, found),
                }
            })
            .collect())
    }

    /// Search as you type over services, teams, people, systems, APIs, domains and resources.
    /// Every word of `text` must start a word of the entity's name, title, description or tags.
    ///
    /// Type-ahead wants names first, and a one-letter prefix can match every row, so results
    /// come in three bounded steps, each only while the limit is not filled: names that start
    /// with the text (an index range, in order); names or titles with a word that starts so;
    /// then any other match, in index order, with no ranking over what may be every row.
    pub async fn search(&self, text: &str, limit: i64) -> Result<Vec<SearchHit>, StoreError> {
        let terms: Vec<String> = words(text).collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = search_name(text);
        let mut hits: Vec<SearchHit> = Vec::new();
        let add = |found: Vec<SearchHit>, hits: &mut Vec<SearchHit>| {
            for hit in found {
                if (hits.len() as i64) < limit && !hits.iter().any(|h| h.key == hit.key) {
                    hits.push(hit);
                }
            }
        };
        // Every name that starts with the prefix sorts below it followed by the last character.
        let past_prefix = match self.cache {
            Backend::Sqlite(_) => "x'f48fbfbf'",
            Backend::Postgres(_) => "chr(1114111)",
        };
        let query = format!(
            "{SEARCH_SELECT} FROM entities e
             WHERE e.search_name >= $1 AND e.search_name < $1 || {past_prefix} AND e.kind != 'location'
             ORDER BY e.search_name LIMIT $2"
        );
        let starts: Vec<SearchColumns> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query).bind(&prefix).bind(limit).fetch_all(pool).await?
        });
        add(starts.into_iter().map(search_hit).collect(), &mut hits);
        for names_only in [true, false] {
            if hits.len() as i64 >= limit {
                break;
            }
            let order = if names_only {
                "ORDER BY length(e.name), e.name"
            } else {
                ""
            };
            let (from, matching) = match self.cache {
                Backend::Sqlite(_) => (
                    "entities_fts f JOIN entities e ON e.rowid = f.rowid WHERE entities_fts MATCH $1",
                    fts_query(&terms, names_only),
                ),
                Backend::Postgres(_) if names_only => (
                    "entities e WHERE e.search_names @@ to_tsquery('simple', $1)",
                    tsquery(&terms),
                ),
                Backend::Postgres(_) => (
                    "entities e WHERE e.search @@ to_tsquery('simple', $1)",
                    tsquery(&terms),
                ),
            };
            let query =
                format!("{SEARCH_SELECT} FROM {from} AND e.kind != 'location' {order} LIMIT $2");
            let rows: Vec<SearchColumns> = on_backend!(&self.cache, pool => {
                sqlx::query_as(&query).bind(&matching).bind(limit).fetch_all(pool).await?
            });
            add(rows.into_iter().map(search_hit).collect(), &mut hits);
        }
        Ok(hits)
    }
}

/// The columns a search hit needs; `team` is the group itself, a person's team, or the owner
/// when the catalog has it (an orphan's missing owner is no team to open).
const SEARCH_SELECT: &str =
    "SELECT e.entity_key, e.kind, e.name, coalesce(e.title, e.name) AS title, e.email, e.owner_key,
    CASE e.kind
        WHEN 'group' THEN e.entity_key
        WHEN 'user' THEN (SELECT min(r.target_key) FROM relations r
                          WHERE r.source_key = e.entity_key AND r.relation = 'memberOf')
        ELSE (SELECT o.entity_key FROM entities o WHERE o.entity_key = e.owner_key)
    END AS team";

/// A search hit's columns as [`SEARCH_SELECT`] reads them.
#[derive(sqlx::FromRow)]
struct SearchColumns {
    entity_key: String,
    kind: String,
    name: String,
    title: String,
    email: Option<String>,
    owner_key: Option<String>,
    team: Option<String>,
}

fn search_hit(r: SearchColumns) -> SearchHit {
    SearchHit {
        team: r.team,
        key: r.entity_key,
        kind: r.kind,
        name: r.name,
        title: r.title,
        context: r
            .email
            .or_else(|| r.owner_key.map(|o| format!("owned by {}", key_name(&o)))),
    }
}

/// "Checkout_API", "checkout-api" and "checkout api" all become "checkout api".
fn search_name(text: &str) -> String {
    words(text).collect::<Vec<_>>().join(" ")
}

const SERVICE_ROW_SELECT: &str =
    "SELECT c.entity_key, c.name, coalesce(c.title, c.name) AS title, c.system_key,
        c.lifecycle, c.tier, c.spec_type, c.gaps, c.tags FROM entities c";

/// A service row's columns as [`SERVICE_ROW_SELECT`] reads them.
#[derive(sqlx::FromRow)]
struct ServiceColumns {
    entity_key: String,
    name: String,
    title: String,
    system_key: Option<String>,
    lifecycle: Option<String>,
    tier: Option<String>,
    spec_type: Option<String>,
    gaps: String,
    tags: String,
}

/// A team's columns as [`Store::teams`] reads them.
#[derive(sqlx::FromRow)]
struct TeamColumns {
    entity_key: String,
    name: String,
    title: String,
    service_count: i64,
    gap_count: i64,
    member_count: i64,
    is_mine: bool,
    spec_type: Option<String>,
}

fn service_row(c: ServiceColumns) -> Result<ServiceRow, StoreError> {
    Ok(ServiceRow {
        key: c.entity_key,
        name: c.name,
        title: c.title,
        system: c.system_key.map(|k| key_name(&k).to_string()),
        lifecycle: c.lifecycle,
        tier: c.tier,
        service_type: c.spec_type,
        gaps: decode_json("gaps", &c.gaps)?,
        tags: decode_json("tags", &c.tags)?,
    })
}

/// The name part of a cache key (`kind:namespace/name`).
pub fn key_name(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(_, name)| name)
}

/// The summary of the entity at `key` from its kind, name and title, when the cache has it;
/// else from the key alone, with `exists: false`.
fn summary_of(key: &str, found: Option<(String, String, String)>) -> EntitySummary {
    match found {
        Some((kind, name, title)) => EntitySummary {
            key: key.to_string(),
            kind,
            name,
            title,
            exists: true,
        },
        None => EntitySummary {
            key: key.to_string(),
            kind: key.split_once(':').map_or("", |(k, _)| k).to_string(),
            name: key_name(key).to_string(),
            title: key_name(key).to_string(),
            exists: false,
        },
    }
}

/// The lower-cased words of typed text or a name; anything not a letter or digit separates.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Typed words as an FTS5 query: each word a quoted prefix term, all required, in the name
/// and title columns only when `names_only`. Quoting keeps FTS operators in the text (`AND`,
/// `*`, `"`, `-`) from being interpreted.
fn fts_query(words: &[String], names_only: bool) -> String {
    let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
    let terms = terms.join(" ");
    if names_only {
        format!("{{name title}} : ({terms})")
    } else {
        terms
    }
}

/// Typed words as a PostgreSQL text query: each a quoted prefix term, all required. The words
/// hold letters and digits only, so no quote or operator of the query's own ends up in it.
fn tsquery(words: &[String]) -> String {
    let terms: Vec<String> = words.iter().map(|w| format!("'{w}':*")).collect();
    terms.join(" & ")
}

/// The entities a landing source reported, by key, each with the body the cache holds for it.
type InHand<'a> = HashMap<String, (&'a Entity, String)>;

/// What one source's report of an entity stands for while merged rows are worked out: the
/// landing source's entity is in hand; another source's body is read only if it wins.
#[derive(Clone, Copy)]
enum Report<'a> {
    InHand(&'a Entity, &'a str),
    Held,
}

/// A merged row about to be written: the winning report's entity and body.
struct Remerged<'a> {
    key: String,
    entity: &'a Entity,
    body: &'a str,
    sources: Vec<String>,
}

/// Rebuilds the merged rows (`entities`, `relations`, the search index) of the entities at
/// `touched` keys from what every source holds, or of all entities when `touched` is `None`.
/// Besides the touched entities, those owned by one are rebuilt: an owner that appears or
/// disappears changes their gaps. `source` is the source landing, whose entities are
/// `in_hand`: only bodies of other sources that win are read back and parsed.
async fn remerge(
    mut landing: Landing<'_>,
    precedence: &[String],
    touched: Option<&[&String]>,
    source: &str,
    in_hand: &InHand<'_>,
) -> Result<(), StoreError> {
    let reported: Vec<(String, String)> = match touched {
        None => {
            let tables: &[&str] = match landing {
                Backend::Sqlite(_) => &["entities", "relations", "entities_fts"],
                Backend::Postgres(_) => &["entities", "relations"],
            };
            for table in tables {
                let delete = format!("DELETE FROM {table}");
                on_backend!(landing.reborrow(), c => {
                    sqlx::query(&delete).execute(c).await?;
                });
            }
            on_backend!(landing.reborrow(), c => {
                sqlx::query_as("SELECT source, entity_key FROM source_entities")
                    .fetch_all(c)
                    .await?
            })
        }
        Some(touched) => {
            let listed = landing.json_strings(1);
            let owned: Vec<String> = on_backend!(landing.reborrow(), c => {
                sqlx::query_scalar(&format!(
                    "SELECT entity_key FROM entities WHERE owner_key IN ({listed})"
                ))
                .bind(to_json(&touched))
                .fetch_all(c)
                .await?
            });
            let remerged: BTreeSet<&str> = touched
                .iter()
                .map(|key| key.as_str())
                .chain(owned.iter().map(String::as_str))
                .collect();
            let remerged = to_json(&remerged);
            let mut deletes = vec![
                format!("DELETE FROM entities WHERE entity_key IN ({listed})"),
                format!("DELETE FROM relations WHERE declared_by IN ({listed})"),
            ];
            if let Backend::Sqlite(_) = landing {
                deletes.insert(
                    0,
                    format!(
                        "DELETE FROM entities_fts WHERE rowid IN
                            (SELECT rowid FROM entities WHERE entity_key IN ({listed}))"
                    ),
                );
            }
            for delete in &deletes {
                on_backend!(landing.reborrow(), c => {
                    sqlx::query(delete).bind(&remerged).execute(c).await?;
                });
            }
            let read = format!(
                "SELECT source, entity_key FROM source_entities WHERE entity_key IN ({listed})"
            );
            on_backend!(landing.reborrow(), c => {
                sqlx::query_as(&read).bind(&remerged).fetch_all(c).await?
            })
        }
    };
    let rank: HashMap<&str, usize> = precedence
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut reports: BTreeMap<String, Vec<SourcedEntity<Report>>> = BTreeMap::new();
    for (from, key) in reported {
        let report = match in_hand.get(&key) {
            Some((entity, body)) if from == source => Report::InHand(entity, body),
            _ => Report::Held,
        };
        reports.entry(key).or_default().push(SourcedEntity {
            precedence: rank.get(from.as_str()).copied().unwrap_or(usize::MAX),
            source: from,
            entity: report,
        });
    }
    let merged: Vec<(String, MergedEntity<Report>)> = reports
        .into_iter()
        .filter_map(|(key, reports)| merge_reports(reports).map(|m| (key, m)))
        .collect();
    // The sources list the winner first.
    let mut to_read: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (key, m) in &merged {
        if let (Report::Held, Some(winner)) = (m.entity, m.sources.first()) {
            to_read.entry(winner).or_default().push(key);
        }
    }
    let read_one_source = format!(
        "SELECT entity_key, body FROM source_entities WHERE source = $1 AND entity_key IN ({})",
        landing.json_strings(2)
    );
    let mut read: HashMap<String, (Entity, String)> = HashMap::new();
    for (winner, keys) in to_read {
        let bodies: Vec<(String, String)> = on_backend!(landing.reborrow(), c => {
            sqlx::query_as(&read_one_source)
                .bind(winner)
                .bind(to_json(&keys))
                .fetch_all(c)
                .await?
        });
        for (key, body) in bodies {
            let entity = decode_json("source_entities.body", &body)?;
            read.insert(key, (entity, body));
        }
    }
    let merged: Vec<Remerged> = merged
        .into_iter()
        .map(|(key, m)| {
            let (entity, body) = match m.entity {
                Report::InHand(entity, body) => (entity, body),
                Report::Held => {
                    let (entity, body) = read.get(&key).ok_or_else(|| {
                        StoreError::Corrupt(format!("{key} left source_entities mid-landing"))
                    })?;
                    (entity, body.as_str())
                }
            };
            Ok(Remerged {
                key,
                entity,
                body,
                sources: m.sources,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let owners: HashSet<String> = merged
        .iter()
        .filter_map(|m| m.entity.owner_ref().map(|r| r.key()))
        .collect();
    let existing = format!(
        "SELECT DISTINCT entity_key FROM source_entities WHERE entity_key IN ({})",
        landing.json_strings(1)
    );
    let existing_owners: Vec<String> = on_backend!(landing.reborrow(), c => {
        sqlx::query_scalar(&existing).bind(to_json(&owners)).fetch_all(c).await?
    });
    let existing_owners: HashSet<String> = existing_owners.into_iter().collect();

    for chunk in merged.chunks(ROWS_A_STATEMENT) {
        on_backend!(landing.reborrow(), c => {
            insert_rows(
                c,
                "INSERT INTO entities (entity_key, kind, namespace, name, search_name, title, description,
                    spec_type, lifecycle, tier, owner_key, system_key, email, tags, gaps, gap_count,
                    unowned, sources, body)",
                "",
                chunk,
                |statement, m| {
                    let e = m.entity;
                    let owner_key = e.owner_ref().map(|r| r.key());
                    let owner_exists = owner_key
                        .as_ref()
                        .is_some_and(|k| existing_owners.contains(k));
                    let gaps = ownership_gaps(e, owner_exists);
                    statement
                        .bind(m.key.as_str())
                        .bind(e.kind.to_ascii_lowercase())
                        .bind(e.namespace())
                        .bind(e.metadata.name.as_str())
                        .bind(search_name(&e.metadata.name))
                        .bind(
                            e.metadata
                                .title
                                .as_deref()
                                .or_else(|| e.profile_str("displayName")),
                        )
                        .bind(e.metadata.description.as_deref())
                        .bind(e.spec_str("type"))
                        .bind(e.spec_str("lifecycle"))
                        .bind(e.tier())
                        .bind(owner_key)
                        .bind(e.system_ref().map(|r| r.key()))
                        .bind(e.profile_str("email"))
                        .bind(to_json(&e.metadata.tags))
                        .bind(to_json(&gaps))
                        .bind(gaps.len() as i64)
                        .bind(e.is_kind("component") && gaps.iter().any(|g| g.means_unowned()))
                        .bind(to_json(&m.sources))
                        .bind(m.body)
                },
            )
            .await?
        });
        if let Backend::Sqlite(connection) = landing.reborrow() {
            write_fts_rows(connection, chunk).await?;
        }
        let relations: Vec<(Relation, &str)> = chunk
            .iter()
            .flat_map(|m| {
                relations_of(m.entity)
                    .0
                    .into_iter()
                    .map(move |relation| (relation, m.key.as_str()))
            })
            .collect();
        on_backend!(landing.reborrow(), c => {
            insert_rows(
                c,
                "INSERT INTO relations (source_key, relation, target_key, declared_by)",
                "ON CONFLICT DO NOTHING",
                &relations,
                |statement, (relation, declared_by)| {
                    statement
                        .bind(relation.source.as_str())
                        .bind(relation.relation.as_str())
                        .bind(relation.target.as_str())
                        .bind(*declared_by)
                },
            )
            .await?
        });
    }
    Ok(())
}

/// SQLite's search rows of the `merged` entities just written (PostgreSQL searches columns
/// the entities' rows generate).
async fn write_fts_rows(
    connection: &mut sqlx::SqliteConnection,
    merged: &[Remerged<'_>],
) -> Result<(), StoreError> {
    let search_rows: Vec<serde_json::Value> = merged
        .iter()
        .map(|m| {
            let e = m.entity;
            let titles = [
                e.metadata.title.as_deref(),
                e.profile_str("displayName"),
                e.profile_str("email"),
            ];
            let titles = titles.into_iter().flatten().collect::<Vec<_>>().join(" ");
            serde_json::json!([
                m.key,
                e.metadata.name,
                titles,
                e.metadata.description,
                e.metadata.tags.join(" "),
            ])
        })
        .collect();
    // The search rows take their rowids from the entities just written.
    sqlx::query(
        "INSERT INTO entities_fts (rowid, name, title, description, tags)
         SELECT e.rowid, j.value ->> 1, j.value ->> 2, j.value ->> 3, j.value ->> 4
         FROM json_each(?) j JOIN entities e ON e.entity_key = j.value ->> 0",
    )
    .bind(serde_json::Value::Array(search_rows).to_string())
    .execute(connection)
    .await?;
    Ok(())
}

/// Serialises our own types to a JSON column; that cannot fail.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("catalog values serialise to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::each_backend;
    use opsdeck_test_postgres::Cluster;

    #[tokio::test]
    async fn an_entity_and_its_summary_are_read_on_either_backend() {
        let cluster = Cluster::start();
        for store in each_backend(&cluster).await {
            assert!(!store.holds_components().await.unwrap());
            let body = serde_json::json!({
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": "shop", "title": "Shop"},
                "spec": {"owner": "group:default/t", "type": "service", "lifecycle": "production"}
            });
            on_backend!(&store.cache, pool => {
                sqlx::query(
                    "INSERT INTO entities (entity_key, kind, namespace, name, search_name, title,
                         owner_key, tags, gaps, gap_count, unowned, sources, body)
                     VALUES ('component:default/shop', 'component', 'default', 'shop', 'shop', 'Shop',
                         'group:default/t', '[]', '[]', 0, false, '[\"catalog\"]', $1)",
                )
                .bind(body.to_string())
                .execute(pool)
                .await
                .map(drop)
                .unwrap()
            });
            assert!(store.holds_components().await.unwrap());
            let held = store
                .entity("component:default/shop")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (held.entity.metadata.name.as_str(), held.sources.as_slice()),
                ("shop", ["catalog".to_string()].as_slice())
            );
            let summary = store.summary("component:default/shop").await.unwrap();
            assert_eq!((summary.title.as_str(), summary.exists), ("Shop", true));
            let services = store.services_of("group:default/t").await.unwrap();
            assert_eq!(
                (
                    services.len(),
                    services[0].title.as_str(),
                    services[0].lifecycle.as_deref()
                ),
                (1, "Shop", None)
            );
            assert_eq!(store.all_services().await.unwrap().len(), 1);
            assert!(store.orphaned_services().await.unwrap().is_empty());
            let missing = store.summary("group:default/t").await.unwrap();
            assert_eq!(
                (missing.kind.as_str(), missing.name.as_str(), missing.exists),
                ("group", "t", false)
            );
        }
    }

    fn entity(kind: &str, name: &str, more: serde_json::Value) -> Entity {
        let mut body = serde_json::json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": kind,
            "metadata": {"name": name}, "spec": {}
        });
        for (section, fields) in more.as_object().unwrap() {
            for (key, value) in fields.as_object().unwrap() {
                body[section][key] = value.clone();
            }
        }
        serde_json::from_value(body).unwrap()
    }

    fn catalog() -> Vec<Entity> {
        use serde_json::json;
        vec![
            entity(
                "Group",
                "payments",
                json!({"metadata": {"title": "Payments"}, "spec": {"type": "team"}}),
            ),
            entity(
                "User",
                "dana",
                json!({"spec": {"profile": {"email": "dana@example.com"}, "memberOf": ["payments"]}}),
            ),
            entity(
                "Component",
                "checkout-api",
                json!({
                "metadata": {"title": "Checkout API", "description": "Takes the money", "tags": ["pci"]},
                "spec": {"owner": "payments", "type": "service", "lifecycle": "production",
                         "dependsOn": ["component:ledger"]}}),
            ),
            entity(
                "Component",
                "ledger",
                json!({
                "metadata": {"description": "Keeps the checkout's books"},
                "spec": {"owner": "payments", "type": "service", "lifecycle": "production"}}),
            ),
            entity(
                "Component",
                "stray",
                json!({
                "spec": {"owner": "nobody", "type": "service", "lifecycle": "experimental"}}),
            ),
        ]
    }

    fn found(hits: &[SearchHit]) -> Vec<&str> {
        hits.iter().map(|h| h.name.as_str()).collect()
    }

    #[tokio::test]
    async fn a_catalog_lands_merges_and_is_searched_on_either_backend() {
        let cluster = Cluster::start();
        for store in each_backend(&cluster).await {
            let at = Utc::now();
            store.land_catalog(&catalog(), at).await;
            // Names that start with the text first, then names or titles with a word that
            // does, then any other match (a description, a tag, an email).
            assert_eq!(
                found(&store.search("check", 10).await.unwrap()),
                ["checkout-api", "ledger"]
            );
            assert_eq!(
                found(&store.search("api", 10).await.unwrap()),
                ["checkout-api"]
            );
            assert_eq!(
                found(&store.search("money", 10).await.unwrap()),
                ["checkout-api"]
            );
            assert_eq!(
                found(&store.search("pci", 10).await.unwrap()),
                ["checkout-api"]
            );
            assert_eq!(found(&store.search("dana@ex", 10).await.unwrap()), ["dana"]);
            assert_eq!(
                found(&store.search("Checkout A", 10).await.unwrap()),
                ["checkout-api"]
            );
            assert_eq!(
                found(&store.search("check", 1).await.unwrap()),
                ["checkout-api"]
            );
            // A query language's own marks are text like any other.
            for hostile in ["\"a\" OR *", "') & !x:*", "NEAR(a b)", "ü's"] {
                store.search(hostile, 10).await.unwrap();
            }
            let teams = store.teams(Some("DANA@example.com"), None).await.unwrap();
            let team = &teams[0];
            assert_eq!(
                (
                    team.name.as_str(),
                    team.service_count,
                    team.member_count,
                    team.is_mine
                ),
                ("payments", 2, 1, true)
            );
            let only = store
                .teams(None, Some(&["group:default/payments".to_string()]))
                .await
                .unwrap();
            assert_eq!((only.len(), only[0].is_mine), (1, false));
            let depends = store
                .related("component:default/checkout-api", true)
                .await
                .unwrap();
            let seen: Vec<(&str, &str, bool)> = depends
                .iter()
                .map(|r| (r.relation.as_str(), r.other.name.as_str(), r.other.exists))
                .collect();
            assert!(seen.contains(&("dependsOn", "ledger", true)), "{seen:?}");
            let orphans = store.orphaned_services().await.unwrap();
            assert_eq!(
                orphans.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
                ["stray"]
            );

            // A change touches only its entity and what it owns; one identical lands nothing.
            let mut changed = catalog();
            changed.retain(|e| e.metadata.name != "stray");
            changed[2].metadata.description = Some("Takes the cash".into());
            store.land_catalog(&changed, at).await;
            assert_eq!(
                found(&store.search("cash", 10).await.unwrap()),
                ["checkout-api"]
            );
            assert!(store.search("money", 10).await.unwrap().is_empty());
            assert!(store.orphaned_services().await.unwrap().is_empty());
            assert_eq!(store.source_entity_count("catalog").await.unwrap(), 4);
            let written = store
                .replace_source(
                    SourceRows {
                        source: "catalog",
                        entities: &changed,
                        problems: &[],
                    },
                    &["catalog".to_string()],
                    at,
                )
                .await
                .unwrap();
            assert_eq!(written, 0);
            // Another source's precedence rebuilds the whole view, and what it says of an
            // entity is merged in.
            let mut other = catalog()[2].clone();
            other.metadata.title = Some("Till".into());
            store
                .replace_source(
                    SourceRows {
                        source: "other",
                        entities: &[other],
                        problems: &[],
                    },
                    &["other".to_string(), "catalog".to_string()],
                    at,
                )
                .await
                .unwrap();
            assert_eq!(
                found(&store.search("till", 10).await.unwrap()),
                ["checkout-api"]
            );
            let held = store
                .entity("component:default/checkout-api")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(held.sources.len(), 2);
            // A later landing of the source that loses keeps the winner's body, read back.
            changed[2].metadata.description = Some("Counts the coins".into());
            store
                .replace_source(
                    SourceRows {
                        source: "catalog",
                        entities: &changed,
                        problems: &[],
                    },
                    &["other".to_string(), "catalog".to_string()],
                    at,
                )
                .await
                .unwrap();
            let held = store
                .entity("component:default/checkout-api")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(held.entity.metadata.title.as_deref(), Some("Till"));
            assert_eq!(held.sources, ["other", "catalog"]);
            assert!(store.search("coins", 10).await.unwrap().is_empty());
            assert_eq!(
                found(&store.search("ledger", 10).await.unwrap()),
                ["ledger"]
            );
        }
    }

    #[tokio::test]
    async fn statistics_are_refreshed_after_a_landing_that_changes_a_twentieth_or_more() {
        let store = Store::in_memory(&crate::store::AuditLocation::default())
            .await
            .unwrap();
        let services = |n: usize| -> Vec<Entity> {
            (0..n)
                .map(|i| entity("Component", &format!("svc-{i:03}"), serde_json::json!({})))
                .collect()
        };
        let counted = || async {
            let Backend::Sqlite(pool) = &store.cache else {
                unreachable!("in memory is SQLite")
            };
            let stat: String = sqlx::query_scalar(
                "SELECT stat FROM sqlite_stat1 WHERE idx = 'sqlite_autoindex_entities_1'",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            stat.split(' ').next().unwrap().to_string()
        };
        let at = Utc::now();
        store.land_catalog(&services(200), at).await;
        assert_eq!(counted().await, "200");
        // 9 more of 209: the statistics stay; 21 more of 230: they are refreshed.
        store.land_catalog(&services(209), at).await;
        assert_eq!(counted().await, "200");
        store.land_catalog(&services(230), at).await;
        assert_eq!(counted().await, "230");
    }

    #[tokio::test]
    async fn a_store_sharing_a_postgres_cache_hears_each_landing_another_commits() {
        let Some(cluster) = Cluster::start() else {
            return;
        };
        let database = cluster.create_database();
        let shared = crate::store::SharedDatabase::at(
            &cluster.url(opsdeck_test_postgres::SUPERUSER, &database),
            "[cache]",
        )
        .unwrap()
        .with_password(opsdeck_test_postgres::SUPERUSER_PASSWORD);
        let beside = crate::store::AuditLocation::default();
        let (ours, theirs) = (
            Store::open_shared(&shared, &beside).await.unwrap(),
            Store::open_shared(&shared, &beside).await.unwrap(),
        );
        let (told, mut heard) = tokio::sync::mpsc::unbounded_channel();
        let following = tokio::spawn(async move {
            ours.follow_landings(&move |source| told.send(source.to_string()).unwrap())
                .await
        });
        // The listener may start after the first landing: land until one is heard.
        let mut tries = 0;
        let heard_first = loop {
            tries += 1;
            assert!(tries <= 20, "no landing heard in 20 tries");
            theirs.land_catalog(&catalog(), Utc::now()).await;
            if let Ok(Some(source)) =
                tokio::time::timeout(std::time::Duration::from_millis(500), heard.recv()).await
            {
                break source;
            }
        };
        assert_eq!(heard_first, "catalog");
        // A sync that fails records its try, not a landing: nothing is told.
        theirs.record_attempt("catalog", Utc::now()).await.unwrap();
        theirs
            .record_failure("catalog", "boom", None)
            .await
            .unwrap();
        theirs.land_catalog(&catalog(), Utc::now()).await;
        let told = tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv()).await;
        assert_eq!(told.expect("heard in time").as_deref(), Some("catalog"));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(heard.try_recv().is_err(), "one landing, told once");
        following.abort();
    }

    #[tokio::test]
    async fn my_teams_come_first_whatever_the_case_of_my_email_on_either_backend() {
        let cluster = Cluster::start();
        for store in each_backend(&cluster).await {
            on_backend!(&store.cache, pool => {
                sqlx::raw_sql(
                    "INSERT INTO entities (entity_key, kind, namespace, name, search_name, title, email,
                         tags, gaps, gap_count, unowned, sources, body) VALUES
                       ('group:default/zeta', 'group', 'default', 'zeta', 'zeta', 'Zeta', NULL, '[]', '[]', 0, false, '[]', '{}'),
                       ('group:default/alpha', 'group', 'default', 'alpha', 'alpha', NULL, NULL, '[]', '[]', 0, false, '[]', '{}'),
                       ('user:default/dana', 'user', 'default', 'dana', 'dana', NULL, 'Dana@Example.com', '[]', '[]', 0, false, '[]', '{}');
                     INSERT INTO relations (source_key, relation, target_key, declared_by) VALUES
                       ('user:default/dana', 'memberOf', 'group:default/zeta', 'user:default/dana');",
                )
                .execute(pool)
                .await
                .map(drop)
                .unwrap()
            });
            let heads = store.team_heads(Some("dana@EXAMPLE.com")).await.unwrap();
            let seen: Vec<(&str, &str, bool)> = heads
                .iter()
                .map(|h| (h.key.as_str(), h.title.as_str(), h.is_mine))
                .collect();
            assert_eq!(
                seen,
                [
                    ("group:default/zeta", "Zeta", true),
                    ("group:default/alpha", "alpha", false)
                ]
            );
        }
    }

    #[tokio::test]
    async fn sync_state_keeps_tries_failures_costs_and_waits_on_either_backend() {
        let cluster = Cluster::start();
        for store in each_backend(&cluster).await {
            let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
            let minutes = |n: i64| t0 + chrono::Duration::minutes(n);
            store.record_attempt("gh", t0).await.unwrap();
            store.record_failure("gh", "503", None).await.unwrap();
            store
                .record_failure("gh", "429", Some(minutes(5)))
                .await
                .unwrap();
            let cost = |at, requests, wait_until| SyncCost {
                at,
                requests,
                duration_ms: 1200,
                quota: Some(Quota {
                    limit: Some(5000),
                    remaining: 4990,
                    resets_at: Some(minutes(60)),
                }),
                wait_until,
            };
            store.record_cost("gh", &cost(t0, 7, None)).await.unwrap();
            // An earlier wait does not shorten the one held; a later one lengthens it.
            store
                .record_cost("gh", &cost(minutes(1), 3, Some(minutes(2))))
                .await
                .unwrap();
            let states = store.sync_states(minutes(1)).await.unwrap();
            let gh = &states[0];
            assert_eq!(
                (
                    gh.source.as_str(),
                    gh.last_attempt,
                    gh.last_error.as_deref()
                ),
                ("gh", Some(t0), Some("429"))
            );
            assert_eq!(gh.consecutive_failures, 2);
            assert_eq!(gh.retry_after, Some(minutes(5)));
            assert_eq!(
                (gh.quota_limit, gh.quota_remaining),
                (Some(5000), Some(4990))
            );
            assert_eq!(gh.quota_resets_at, Some(minutes(60)));
            assert_eq!((gh.last_requests, gh.requests_last_hour), (Some(3), 10));
            store
                .record_cost("gh", &cost(minutes(2), 1, Some(minutes(9))))
                .await
                .unwrap();
            let states = store.sync_states(minutes(2)).await.unwrap();
            assert_eq!(states[0].retry_after, Some(minutes(9)));
            // Nothing landed yet.
            assert_eq!(store.last_landing().await.unwrap(), None);
        }
    }
}
