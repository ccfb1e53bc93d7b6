//! Catalog rows: what each source said, the merged view, relations, search, sync state.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{Row, Sqlite, Transaction};

use super::landing::{insert_rows, record_landed, ROWS_A_STATEMENT};
use super::{decode_json, Store, StoreError};
use crate::api::{EntitySummary, SearchHit, ServiceRow, TeamSummary};
use crate::domain::merge::{merge_reports, SourcedEntity};
use crate::domain::Quota;
use crate::domain::{ownership_gaps, relations_of, Entity, Gap, Relation};

/// Whether the group `g` has a member whose email is `?1`.
const IS_MINE: &str =
    "EXISTS (SELECT 1 FROM relations r JOIN entities u ON u.entity_key = r.source_key
    WHERE r.target_key = g.entity_key AND r.relation = 'memberOf' AND u.email = ?1)";

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
        let mut fetched: HashMap<String, String> = HashMap::with_capacity(rows.entities.len());
        for entity in rows.entities {
            let body =
                serde_json::to_string(entity).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            // A key repeated within one fetch: the last one wins, as it always has.
            fetched.insert(entity.entity_ref().key(), body);
        }
        let _writing = self.writer.lock().await;
        let mut tx = super::write_transaction(&self.landing).await?;
        let held: HashMap<String, String> =
            sqlx::query_as("SELECT entity_key, body FROM source_entities WHERE source = ?")
                .bind(rows.source)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        let removed: Vec<&String> = held.keys().filter(|k| !fetched.contains_key(*k)).collect();
        let changed: Vec<(&String, &String)> = fetched
            .iter()
            .filter(|(key, body)| held.get(*key) != Some(*body))
            .collect();
        for chunk in removed.chunks(ROWS_A_STATEMENT) {
            sqlx::query(
                "DELETE FROM source_entities WHERE source = ? AND entity_key IN (SELECT value FROM json_each(?))",
            )
            .bind(rows.source)
            .bind(to_json(&chunk))
            .execute(&mut *tx)
            .await?;
        }
        insert_rows(
            &mut tx,
            "INSERT OR REPLACE INTO source_entities (source, entity_key, body) ",
            &changed,
            |values, (key, body)| {
                values
                    .push_bind(rows.source)
                    .push_bind(key.as_str())
                    .push_bind(body.as_str());
            },
        )
        .await?;
        let precedence_json = to_json(&precedence);
        let built_with: Option<String> =
            sqlx::query_scalar("SELECT precedence FROM merge_state WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?;
        let touched: Vec<&String> = removed
            .iter()
            .copied()
            .chain(changed.iter().map(|(k, _)| *k))
            .collect();
        let rebuilt_whole = built_with.as_deref() != Some(precedence_json.as_str());
        if rebuilt_whole {
            remerge(&mut tx, precedence, None).await?;
            sqlx::query("INSERT OR REPLACE INTO merge_state (id, precedence) VALUES (1, ?)")
                .bind(&precedence_json)
                .execute(&mut *tx)
                .await?;
        } else if !touched.is_empty() {
            remerge(&mut tx, precedence, Some(&touched)).await?;
        }
        if rebuilt_whole || !touched.is_empty() {
            super::platform::rejoin_alerts(&mut tx).await?;
        }
        let written = touched.len() as u64;
        record_landed(
            &mut tx,
            rows.source,
            at,
            rows.problems,
            fetched.len(),
            written,
        )
        .await?;
        tx.commit().await?;
        if written > 0 || rebuilt_whole {
            self.analyze().await?;
        }
        Ok(written)
    }

    /// Refreshes the planner's statistics after a sync changed the tables' shape (10 rows or
    /// 10,000). `PRAGMA optimize` skips tables never analysed, so analyse outright, sampling to
    /// keep it to milliseconds. One connection for both: analysis_limit is a per-connection
    /// setting.
    pub(super) async fn analyze(&self) -> Result<(), StoreError> {
        sqlx::raw_sql("PRAGMA analysis_limit = 400; ANALYZE;")
            .execute(&self.pool)
            .await?;
        // A connection plans with the statistics it loaded when it opened: hand the new ones to
        // the landing connection, which lives from landing to landing, and to every connection
        // of the pool (holding each, so the next acquire is another one). Without this, a table
        // empty when a connection opened kept being planned as empty.
        sqlx::query("ANALYZE sqlite_schema")
            .execute(&self.landing)
            .await?;
        let mut connections = Vec::new();
        for _ in 0..self.pool.options().get_max_connections() {
            connections.push(self.pool.acquire().await?);
        }
        for connection in &mut connections {
            sqlx::query("ANALYZE sqlite_schema")
                .execute(connection.as_mut())
                .await?;
        }
        Ok(())
    }

    /// Notes that a sync of `source` started.
    pub async fn record_attempt(&self, source: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        sqlx::query(
            "INSERT INTO sync_state (source, last_attempt) VALUES (?1, ?2)
             ON CONFLICT (source) DO UPDATE SET last_attempt = ?2",
        )
        .bind(source)
        .bind(at)
        .execute(&self.pool)
        .await?;
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
        sqlx::query(
            "INSERT INTO sync_state (source, last_error, consecutive_failures, retry_after) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT (source) DO UPDATE SET last_error = ?2,
                consecutive_failures = consecutive_failures + 1, retry_after = ?3",
        )
        .bind(source)
        .bind(error)
        .bind(retry_after)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Notes what a sync of `source` cost, landed or not: its requests (counted in the hour's
    /// budget), its duration, and the quota the platform last reported, if it did.
    pub async fn record_cost(&self, source: &str, cost: &SyncCost) -> Result<(), StoreError> {
        let minute = cost.at.timestamp().div_euclid(60);
        let _writing = self.writer.lock().await;
        let mut tx = super::write_transaction(&self.pool).await?;
        if cost.requests > 0 {
            sqlx::query(
                "INSERT INTO source_requests (source, minute, count) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source, minute) DO UPDATE SET count = count + ?3",
            )
            .bind(source)
            .bind(minute)
            .bind(cost.requests)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM source_requests WHERE source = ? AND minute < ?")
            .bind(source)
            .bind(minute - 60)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE sync_state SET last_requests = ?2, last_duration_ms = ?3,
                quota_limit = coalesce(?4, CASE WHEN ?5 IS NULL THEN quota_limit END),
                quota_remaining = coalesce(?5, quota_remaining),
                quota_resets_at = CASE WHEN ?5 IS NULL THEN quota_resets_at ELSE ?6 END,
                retry_after = CASE WHEN ?7 > coalesce(retry_after, '') THEN ?7 ELSE retry_after END
             WHERE source = ?1",
        )
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
        Ok(())
    }

    /// When a sync last landed in the cache, whichever source and process: what changes when
    /// there is something new to show.
    pub async fn last_landing(&self) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT max(last_success) FROM sync_state")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Every source's sync state, with the requests it made in the hour before `now`.
    pub async fn sync_states(&self, now: DateTime<Utc>) -> Result<Vec<SyncStateRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT s.source, s.last_attempt, s.last_success, s.last_error, s.item_count,
                s.consecutive_failures, s.retry_after, s.quota_limit, s.quota_remaining,
                s.quota_resets_at, s.last_requests, s.last_rows_written, s.last_duration_ms,
                (SELECT coalesce(sum(r.count), 0) FROM source_requests r
                 WHERE r.source = s.source AND r.minute > ?1) AS requests_last_hour
             FROM sync_state s ORDER BY s.source",
        )
        .bind(now.timestamp().div_euclid(60) - 60)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Teams (groups) with counts, all of them or those `only` names; those `email` belongs to
    /// come first.
    pub async fn teams(
        &self,
        email: Option<&str>,
        only: Option<&[String]>,
    ) -> Result<Vec<TeamSummary>, StoreError> {
        let filter = if only.is_some() {
            "AND g.entity_key IN (SELECT value FROM json_each(?2))"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT g.entity_key, g.name, coalesce(g.title, g.name) AS title,
                (SELECT count(*) FROM entities c WHERE c.owner_key = g.entity_key AND c.kind = 'component') AS service_count,
                (SELECT coalesce(sum(c.gap_count), 0) FROM entities c WHERE c.owner_key = g.entity_key AND c.kind = 'component') AS gap_count,
                (SELECT count(DISTINCT r.source_key) FROM relations r WHERE r.target_key = g.entity_key AND r.relation = 'memberOf') AS member_count,
                {IS_MINE} AS is_mine, g.spec_type
             FROM entities g WHERE g.kind = 'group' {filter}
             ORDER BY is_mine DESC, g.name"
        ))
        .bind(email)
        .bind(only.map(|o| serde_json::to_string(o).expect("strings serialise")))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| TeamSummary {
                key: r.get("entity_key"),
                name: r.get("name"),
                title: r.get("title"),
                service_count: r.get("service_count"),
                member_count: r.get("member_count"),
                gap_count: r.get("gap_count"),
                is_mine: r.get("is_mine"),
                group_type: r.get("spec_type"),
                // The tree is the engine's to draw; until it does, each group stands alone.
                parent: None,
                depth: 0,
                child_count: 0,
                service_count_below: r.get("service_count"),
                gap_count_below: r.get("gap_count"),
            })
            .collect())
    }

    /// Teams without their counts, those `email` belongs to first.
    pub async fn team_heads(&self, email: Option<&str>) -> Result<Vec<TeamHead>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT g.entity_key AS key, g.name, coalesce(g.title, g.name) AS title, {IS_MINE} AS is_mine
             FROM entities g WHERE g.kind = 'group' ORDER BY is_mine DESC, g.name"
        ))
        .bind(email)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether the cache holds any component.
    pub async fn holds_components(&self) -> Result<bool, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM entities WHERE kind = 'component')")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Components owned by `owner_key`, by name.
    pub async fn services_of(&self, owner_key: &str) -> Result<Vec<ServiceRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SERVICE_ROW_SELECT} WHERE c.kind = 'component' AND c.owner_key = ? ORDER BY c.name"
        ))
        .bind(owner_key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(service_row).collect()
    }

    /// Components whose owner is not in the catalog, or that name none.
    pub async fn orphaned_services(&self) -> Result<Vec<ServiceRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SERVICE_ROW_SELECT} WHERE c.unowned ORDER BY c.name"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(service_row).collect()
    }

    /// Every component, by name.
    pub async fn all_services(&self) -> Result<Vec<ServiceRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SERVICE_ROW_SELECT} WHERE c.kind = 'component' ORDER BY c.name"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(service_row).collect()
    }

    /// One entity by key.
    pub async fn entity(&self, key: &str) -> Result<Option<StoredEntity>, StoreError> {
        let row = sqlx::query("SELECT body, gaps, sources FROM entities WHERE entity_key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(StoredEntity {
                entity: decode_json("body", r.get("body"))?,
                gaps: decode_json("gaps", r.get("gaps"))?,
                sources: decode_json("sources", r.get("sources"))?,
            })
        })
        .transpose()
    }

    /// A summary of the entity at `key`; `exists: false` when the cache has none.
    pub async fn summary(&self, key: &str) -> Result<EntitySummary, StoreError> {
        let row = sqlx::query(
            "SELECT kind, name, coalesce(title, name) AS title FROM entities WHERE entity_key = ?",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(summary_of(key, row.as_ref()))
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
             WHERE r.source_key = ? ORDER BY r.relation, r.target_key"
        } else {
            "SELECT DISTINCT r.relation, r.source_key AS other_key, o.kind, o.name, coalesce(o.title, o.name) AS title
             FROM relations r LEFT JOIN entities o ON o.entity_key = r.source_key
             WHERE r.target_key = ? ORDER BY r.relation, r.source_key"
        };
        let rows = sqlx::query(sql).bind(key).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let other_key: String = r.get("other_key");
                // The LEFT JOIN leaves `kind` NULL when the other end is not in the cache.
                let found = r.get::<Option<String>, _>("kind").is_some().then_some(&r);
                RelatedEntity {
                    relation: r.get("relation"),
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
        let Some(terms) = fts_query(text) else {
            return Ok(Vec::new());
        };
        let prefix = search_name(text);
        let mut hits: Vec<SearchHit> = Vec::new();
        let add = |found: Vec<SearchHit>, hits: &mut Vec<SearchHit>| {
            for hit in found {
                if (hits.len() as i64) < limit && !hits.iter().any(|h| h.key == hit.key) {
                    hits.push(hit);
                }
            }
        };
        let starts = sqlx::query(&format!(
            "{SEARCH_SELECT} FROM entities e
             WHERE e.search_name >= ?1 AND e.search_name < ?1 || x'f48fbfbf' AND e.kind != 'location'
             ORDER BY e.search_name LIMIT ?2"
        ))
        .bind(&prefix)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        add(starts.iter().map(search_hit).collect(), &mut hits);
        for (matching, order) in [
            (
                format!("{{name title}} : ({terms})"),
                "ORDER BY length(e.name), e.name",
            ),
            (terms, ""),
        ] {
            if hits.len() as i64 >= limit {
                break;
            }
            let rows = sqlx::query(&format!(
                "{SEARCH_SELECT} FROM entities_fts f JOIN entities e ON e.rowid = f.rowid
                 WHERE entities_fts MATCH ?1 AND e.kind != 'location' {order} LIMIT ?2"
            ))
            .bind(&matching)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            add(rows.iter().map(search_hit).collect(), &mut hits);
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

fn search_hit(r: &sqlx::sqlite::SqliteRow) -> SearchHit {
    let owner: Option<String> = r.get("owner_key");
    SearchHit {
        team: r.get("team"),
        key: r.get("entity_key"),
        kind: r.get("kind"),
        name: r.get("name"),
        title: r.get("title"),
        context: r
            .get::<Option<String>, _>("email")
            .or_else(|| owner.map(|o| format!("owned by {}", key_name(&o)))),
    }
}

/// "Checkout_API", "checkout-api" and "checkout api" all become "checkout api".
fn search_name(text: &str) -> String {
    words(text).collect::<Vec<_>>().join(" ")
}

const SERVICE_ROW_SELECT: &str =
    "SELECT c.entity_key, c.name, coalesce(c.title, c.name) AS title, c.system_key,
        c.lifecycle, c.tier, c.spec_type, c.gaps, c.tags FROM entities c";

fn service_row(r: &sqlx::sqlite::SqliteRow) -> Result<ServiceRow, StoreError> {
    Ok(ServiceRow {
        key: r.get("entity_key"),
        name: r.get("name"),
        title: r.get("title"),
        system: r
            .get::<Option<String>, _>("system_key")
            .map(|k| key_name(&k).to_string()),
        lifecycle: r.get("lifecycle"),
        tier: r.get("tier"),
        service_type: r.get("spec_type"),
        gaps: decode_json("gaps", r.get("gaps"))?,
        tags: decode_json("tags", r.get("tags"))?,
    })
}

/// The name part of a cache key (`kind:namespace/name`).
pub fn key_name(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(_, name)| name)
}

/// A summary from a row with `kind`, `name` and `title`, or, without one, from the key alone
/// with `exists: false`.
fn summary_of(key: &str, row: Option<&sqlx::sqlite::SqliteRow>) -> EntitySummary {
    match row {
        Some(r) => EntitySummary {
            key: key.to_string(),
            kind: r.get("kind"),
            name: r.get("name"),
            title: r.get("title"),
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

/// Turns typed text into an FTS5 query: each word a quoted prefix term, all required. Quoting
/// keeps FTS operators in the text (`AND`, `*`, `"`, `-`) from being interpreted.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = words(text).map(|w| format!("\"{w}\"*")).collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Rebuilds the merged rows (`entities`, `relations`, the search index) of the entities at
/// `touched` keys from what every source holds, or of all entities when `touched` is `None`.
/// Besides the touched entities, those owned by one are rebuilt: an owner that appears or
/// disappears changes their gaps.
async fn remerge(
    tx: &mut Transaction<'_, Sqlite>,
    precedence: &[String],
    touched: Option<&[&String]>,
) -> Result<(), StoreError> {
    let rows = match touched {
        None => {
            for table in ["entities", "relations", "entities_fts"] {
                sqlx::query(&format!("DELETE FROM {table}"))
                    .execute(&mut **tx)
                    .await?;
            }
            sqlx::query("SELECT source, entity_key, body FROM source_entities")
                .fetch_all(&mut **tx)
                .await?
        }
        Some(touched) => {
            let touched = to_json(&touched);
            sqlx::query(
                "CREATE TEMP TABLE IF NOT EXISTS remerged (entity_key TEXT PRIMARY KEY) WITHOUT ROWID",
            )
            .execute(&mut **tx)
            .await?;
            sqlx::query("DELETE FROM temp.remerged")
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT OR IGNORE INTO temp.remerged SELECT value FROM json_each(?1)
                 UNION SELECT entity_key FROM entities WHERE owner_key IN (SELECT value FROM json_each(?1))",
            )
            .bind(&touched)
            .execute(&mut **tx)
            .await?;
            for delete in [
                "DELETE FROM entities_fts WHERE rowid IN
                    (SELECT e.rowid FROM entities e JOIN temp.remerged t USING (entity_key))",
                "DELETE FROM entities WHERE entity_key IN (SELECT entity_key FROM temp.remerged)",
                "DELETE FROM relations WHERE declared_by IN (SELECT entity_key FROM temp.remerged)",
            ] {
                sqlx::query(delete).execute(&mut **tx).await?;
            }
            sqlx::query(
                "SELECT s.source, s.entity_key, s.body FROM source_entities s
                 JOIN temp.remerged t USING (entity_key)",
            )
            .fetch_all(&mut **tx)
            .await?
        }
    };
    let rank: HashMap<&str, usize> = precedence
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut reports: BTreeMap<String, Vec<SourcedEntity>> = BTreeMap::new();
    for row in rows {
        let source: String = row.get("source");
        let entity: Entity = decode_json("source_entities.body", row.get("body"))?;
        reports
            .entry(row.get("entity_key"))
            .or_default()
            .push(SourcedEntity {
                precedence: rank.get(source.as_str()).copied().unwrap_or(usize::MAX),
                source,
                entity,
            });
    }
    let merged: Vec<_> = reports.into_values().filter_map(merge_reports).collect();
    let owners: HashSet<String> = merged
        .iter()
        .filter_map(|m| m.entity.owner_ref().map(|r| r.key()))
        .collect();
    let existing_owners: HashSet<String> = sqlx::query_scalar(
        "SELECT DISTINCT entity_key FROM source_entities WHERE entity_key IN (SELECT value FROM json_each(?))",
    )
    .bind(to_json(&owners))
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();

    for chunk in merged.chunks(ROWS_A_STATEMENT) {
        insert_rows(
            tx,
            "INSERT INTO entities (entity_key, kind, namespace, name, search_name, title, description,
                spec_type, lifecycle, tier, owner_key, system_key, email, tags, gaps, gap_count,
                unowned, sources, body) ",
            chunk,
            |values, m| {
                let e = &m.entity;
                let owner_key = e.owner_ref().map(|r| r.key());
                let owner_exists = owner_key
                    .as_ref()
                    .is_some_and(|k| existing_owners.contains(k));
                let gaps = ownership_gaps(e, owner_exists);
                values
                    .push_bind(e.entity_ref().key())
                    .push_bind(e.kind.to_ascii_lowercase())
                    .push_bind(e.namespace())
                    .push_bind(e.metadata.name.as_str())
                    .push_bind(search_name(&e.metadata.name))
                    .push_bind(
                        e.metadata
                            .title
                            .as_deref()
                            .or_else(|| e.profile_str("displayName")),
                    )
                    .push_bind(e.metadata.description.as_deref())
                    .push_bind(e.spec_str("type"))
                    .push_bind(e.spec_str("lifecycle"))
                    .push_bind(e.tier())
                    .push_bind(owner_key)
                    .push_bind(e.system_ref().map(|r| r.key()))
                    .push_bind(e.profile_str("email"))
                    .push_bind(to_json(&e.metadata.tags))
                    .push_bind(to_json(&gaps))
                    .push_bind(gaps.len() as i64)
                    .push_bind(e.is_kind("component") && gaps.iter().any(|g| g.means_unowned()))
                    .push_bind(to_json(&m.sources))
                    .push_bind(to_json(e));
            },
        )
        .await?;
        let search_rows: Vec<serde_json::Value> = chunk
            .iter()
            .map(|m| {
                let e = &m.entity;
                let titles = [
                    e.metadata.title.as_deref(),
                    e.profile_str("displayName"),
                    e.profile_str("email"),
                ];
                let titles = titles.into_iter().flatten().collect::<Vec<_>>().join(" ");
                serde_json::json!([
                    e.entity_ref().key(),
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
        .execute(&mut **tx)
        .await?;
        let relations: Vec<(Relation, String)> = chunk
            .iter()
            .flat_map(|m| {
                let declared_by = m.entity.entity_ref().key();
                relations_of(&m.entity)
                    .0
                    .into_iter()
                    .map(move |relation| (relation, declared_by.clone()))
            })
            .collect();
        insert_rows(
            tx,
            "INSERT OR IGNORE INTO relations (source_key, relation, target_key, declared_by) ",
            &relations,
            |values, (relation, declared_by)| {
                values
                    .push_bind(relation.source.as_str())
                    .push_bind(relation.relation.as_str())
                    .push_bind(relation.target.as_str())
                    .push_bind(declared_by.as_str());
            },
        )
        .await?;
    }
    Ok(())
}

/// Serialises our own types to a JSON column; that cannot fail.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("catalog values serialise to JSON")
}
