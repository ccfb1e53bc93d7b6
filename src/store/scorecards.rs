//! Scorecards in the cache: the facts the checks need, gathered in one pass; the results the
//! engine worked out from them; and their history, for trends.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::landing::insert_rows;
use super::{decode_json, Store, StoreError};
use crate::api::EntitySummary;
use crate::domain::scorecards::{CheckOutcome, Tally};
use crate::domain::Entity;

/// What the cache knows of one component that its checks need, besides its body.
#[derive(Debug, Clone)]
pub struct ScorecardInput {
    /// Cache key.
    pub key: String,
    /// Owner's cache key, as written.
    pub owner_key: Option<String>,
    /// The entity.
    pub entity: Entity,
    /// Whether the owner is in the catalog.
    pub owner_exists: bool,
    /// Members of the owner group.
    pub owner_members: i64,
    /// `pagerduty.com/service-id`.
    pub pagerduty_service_id: Option<String>,
    /// The escalation policy of that PagerDuty service, when PagerDuty has it.
    pub policy_id: Option<String>,
    /// The system or team whose runbook the component inherits.
    pub inherited_runbook: Option<String>,
    /// Alerts in the cache name the component.
    pub alerts_seen: bool,
    /// The newest deploy that reached one of the production environments.
    pub last_production_deploy: Option<DateTime<Utc>>,
}

/// One component's worked-out result.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorecardResult {
    /// Cache key.
    pub key: String,
    /// Owner's cache key.
    pub owner_key: Option<String>,
    /// Level reached (index into the levels).
    pub level: Option<usize>,
    /// Each check's outcome.
    pub outcomes: Vec<CheckOutcome>,
    /// The newest production deploy.
    pub last_production_deploy: Option<DateTime<Utc>>,
    /// Incidents open on it.
    pub open_incidents: i64,
}

/// A service that scores worse than it did a week before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worsening {
    /// Cache key.
    pub key: String,
    /// Owner's cache key.
    pub owner_key: Option<String>,
    /// Level then (index into the levels).
    pub was: Option<usize>,
    /// Level now.
    pub now: Option<usize>,
    /// Checks failing now that passed then.
    pub newly_failing: Vec<String>,
}

/// A stored result with what a table of services shows beside it.
#[derive(Debug, Clone)]
pub struct ScoredService {
    /// The result.
    pub result: ScorecardResult,
    /// Name.
    pub name: String,
    /// Display title, or the name.
    pub title: String,
    /// Tier label.
    pub tier: Option<String>,
    /// `spec.lifecycle`.
    pub lifecycle: Option<String>,
}

/// A day's tally of one owner, as kept for the charts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamDay {
    /// The day.
    pub day: NaiveDate,
    /// The owner ("" for services without one).
    pub owner_key: String,
    /// Services, checks passed and checks run that day.
    pub services: i64,
    /// Checks passed.
    pub passed: i64,
    /// Checks run.
    pub total: i64,
    /// Services at each level, `none` first.
    pub at_level: Vec<i64>,
}

/// How long history is kept.
pub const HISTORY_DAYS: i64 = 366;

/// Each component with what its checks need. The owners and systems that link a runbook are
/// found first, each body read once: per component, a team's body was read 20 times over.
const INPUT_SELECT: &str = "
WITH runbook_holders AS MATERIALIZED (
    SELECT e.entity_key FROM entities e
    WHERE e.entity_key IN (SELECT owner_key FROM entities WHERE kind = 'component'
                           UNION SELECT system_key FROM entities WHERE kind = 'component')
        AND EXISTS (SELECT 1 FROM json_each(e.body, '$.metadata.links') l
                    WHERE lower(json_extract(l.value, '$.type')) = 'runbook'))
SELECT c.entity_key, c.owner_key, c.body, NOT c.unowned AS owner_exists,
    (SELECT count(DISTINCT r.source_key) FROM relations r
     WHERE r.target_key = c.owner_key AND r.relation = 'memberOf') AS owner_members,
    p.service_id,
    (SELECT pr.join_key FROM platform_records pr
     WHERE pr.kind = 'service' AND pr.id = p.service_id AND pr.join_key IS NOT NULL
     ORDER BY pr.source LIMIT 1) AS policy_id,
    CASE
        WHEN c.system_key IN runbook_holders THEN c.system_key
        WHEN c.owner_key IN runbook_holders THEN c.owner_key
    END AS inherited_runbook,
    EXISTS (SELECT 1 FROM alert_components a WHERE a.component_key = c.entity_key) AS alerts_seen,
    (SELECT d.started_at FROM component_delivery cd JOIN deployments d ON d.target = cd.target
     WHERE cd.component_key = c.entity_key
        AND d.environment IN (SELECT value FROM json_each(?1))
        AND d.status IN ('success', 'inactive')
     ORDER BY d.started_at DESC LIMIT 1) AS last_production_deploy
FROM entities c
LEFT JOIN component_pagerduty p ON p.component_key = c.entity_key
WHERE c.kind = 'component'";

impl Store {
    /// Every component with the facts its checks need; `production` names the environments
    /// that count as production.
    pub async fn scorecard_inputs(
        &self,
        production: &[String],
    ) -> Result<Vec<ScorecardInput>, StoreError> {
        let rows = sqlx::query(INPUT_SELECT)
            .bind(serde_json::to_string(production).expect("strings serialise"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ScorecardInput {
                    key: r.get("entity_key"),
                    owner_key: r.get("owner_key"),
                    entity: decode_json("entities.body", r.get("body"))?,
                    owner_exists: r.get("owner_exists"),
                    owner_members: r.get("owner_members"),
                    pagerduty_service_id: r.get("service_id"),
                    policy_id: r.get("policy_id"),
                    inherited_runbook: r.get("inherited_runbook"),
                    alerts_seen: r.get("alerts_seen"),
                    last_production_deploy: r
                        .get::<Option<i64>, _>("last_production_deploy")
                        .and_then(|s| DateTime::from_timestamp(s, 0)),
                })
            })
            .collect()
    }

    /// The fingerprint and time of the stored results, if any were worked out.
    pub async fn scorecard_state(&self) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let row: Option<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT fingerprint, computed_at FROM scorecard_state WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row)
    }

    /// Replaces the results with `results` (each owner's `tallies` beside them), in one
    /// transaction, and keeps `today`'s history: a row for each service whose result differs
    /// from its previous one, each owner's tally for the day, and nothing older than a year
    /// that a newer row has replaced.
    pub async fn replace_scorecards(
        &self,
        results: &[ScorecardResult],
        worse: &[Worsening],
        tallies: &HashMap<String, Tally>,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer.lock().await;
        let mut tx = super::write_transaction(&self.landing).await?;
        let day = now.date_naive().to_string();
        let cutoff = (now.date_naive() - chrono::Days::new(HISTORY_DAYS as u64)).to_string();
        for sql in [
            "DELETE FROM scorecard_results",
            "DELETE FROM scorecard_teams",
            "DELETE FROM scorecard_worse",
        ] {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        let previous: HashMap<String, (Option<i64>, String)> = sqlx::query(
            "SELECT h.component_key, h.level, h.failing FROM scorecard_history h
             WHERE h.day = (SELECT max(day) FROM scorecard_history WHERE component_key = h.component_key)",
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.get("component_key"), (r.get("level"), r.get("failing"))))
        .collect();
        insert_rows(
            &mut tx,
            "INSERT INTO scorecard_results (component_key, owner_key, level, passed, total, outcomes,
                last_production_deploy, open_incidents) ",
            results,
            |values, result| {
                let passed = result.outcomes.iter().filter(|o| o.passed).count();
                values
                    .push_bind(result.key.as_str())
                    .push_bind(result.owner_key.as_deref())
                    .push_bind(result.level.map(|l| l as i64))
                    .push_bind(passed as i64)
                    .push_bind(result.outcomes.len() as i64)
                    .push_bind(serde_json::to_string(&result.outcomes).expect("outcomes serialise"))
                    .push_bind(result.last_production_deploy.map(|t| t.timestamp()))
                    .push_bind(result.open_incidents);
            },
        )
        .await?;
        // History keeps a row for each result that differs from the previous one.
        let changed: Vec<(&ScorecardResult, String)> = results
            .iter()
            .map(|result| {
                let failing: Vec<&str> = result
                    .outcomes
                    .iter()
                    .filter(|o| !o.passed)
                    .map(|o| o.check.as_str())
                    .collect();
                let failing = serde_json::to_string(&failing).expect("strings serialise");
                (result, failing)
            })
            .filter(|(result, failing)| {
                let level = result.level.map(|l| l as i64);
                previous.get(&result.key) != Some(&(level, failing.clone()))
            })
            .collect();
        insert_rows(
            &mut tx,
            "INSERT OR REPLACE INTO scorecard_history (component_key, day, owner_key, level, failing) ",
            &changed,
            |values, (result, failing)| {
                values
                    .push_bind(result.key.as_str())
                    .push_bind(day.as_str())
                    .push_bind(result.owner_key.as_deref())
                    .push_bind(result.level.map(|l| l as i64))
                    .push_bind(failing.as_str());
            },
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO scorecard_worse (component_key, owner_key, was_level, now_level, newly_failing) ",
            worse,
            |values, w| {
                values
                    .push_bind(w.key.as_str())
                    .push_bind(w.owner_key.as_deref())
                    .push_bind(w.was.map(|l| l as i64))
                    .push_bind(w.now.map(|l| l as i64))
                    .push_bind(serde_json::to_string(&w.newly_failing).expect("strings serialise"));
            },
        )
        .await?;
        sqlx::query("DELETE FROM scorecard_team_days WHERE day = ?")
            .bind(&day)
            .execute(&mut *tx)
            .await?;
        let tallies: Vec<(&String, &Tally)> = tallies.iter().collect();
        insert_rows(
            &mut tx,
            "INSERT INTO scorecard_teams (owner_key, tally) ",
            &tallies,
            |values, (owner, tally)| {
                values
                    .push_bind(owner.as_str())
                    .push_bind(serde_json::to_string(tally).expect("tallies serialise"));
            },
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO scorecard_team_days (day, owner_key, services, passed, total, at_level) ",
            &tallies,
            |values, (owner, tally)| {
                values
                    .push_bind(day.as_str())
                    .push_bind(owner.as_str())
                    .push_bind(tally.services)
                    .push_bind(tally.passed)
                    .push_bind(tally.total)
                    .push_bind(serde_json::to_string(&tally.at_level).expect("counts serialise"));
            },
        )
        .await?;
        sqlx::query("DELETE FROM scorecard_team_days WHERE day < ?")
            .bind(&cutoff)
            .execute(&mut *tx)
            .await?;
        // A row older than a year still says what its service scored until its next row:
        // it goes only once that next row is itself older than a year.
        sqlx::query(
            "DELETE FROM scorecard_history AS h WHERE h.day < ?1 AND EXISTS
                (SELECT 1 FROM scorecard_history n
                 WHERE n.component_key = h.component_key AND n.day > h.day AND n.day <= ?1)",
        )
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT OR REPLACE INTO scorecard_state (id, computed_at, fingerprint) VALUES (1, ?, ?)",
        )
        .bind(now)
        .bind(fingerprint)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The results of the services `owners` own (all services when `None`), by name.
    pub async fn scored_services(
        &self,
        owners: Option<&[String]>,
    ) -> Result<Vec<ScoredService>, StoreError> {
        let filter = if owners.is_some() {
            "WHERE s.owner_key IN (SELECT value FROM json_each(?))"
        } else {
            ""
        };
        let rows = sqlx::query(&format!("{SCORED_SELECT} {filter} ORDER BY e.name"))
            .bind(owners.map(|o| serde_json::to_string(o).expect("strings serialise")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(scored_service).collect()
    }

    /// One service's stored result.
    pub async fn scored_service(&self, key: &str) -> Result<Option<ScoredService>, StoreError> {
        let row = sqlx::query(&format!("{SCORED_SELECT} WHERE s.component_key = ?"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(scored_service).transpose()
    }

    /// Each PagerDuty service's escalation policy: (service, policy).
    pub async fn service_policies(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT id, join_key FROM platform_records WHERE kind = 'service' AND join_key IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The escalation policies of the PagerDuty services `owner`'s components name.
    pub async fn policies_of_owner(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT r.join_key FROM component_pagerduty c
             JOIN platform_records r ON r.kind = 'service' AND r.id = c.service_id
             WHERE c.owner_key = ? AND r.join_key IS NOT NULL",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The users who are members of `group`, by name, with their emails.
    pub async fn members_of(
        &self,
        group: &str,
    ) -> Result<Vec<(EntitySummary, Option<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT r.source_key, u.kind, u.name, coalesce(u.title, u.name) AS title, u.email
             FROM relations r LEFT JOIN entities u ON u.entity_key = r.source_key
             WHERE r.target_key = ? AND r.relation = 'memberOf'
             ORDER BY coalesce(u.title, u.name, r.source_key)",
        )
        .bind(group)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let key: String = r.get("source_key");
                let found = r.get::<Option<String>, _>("kind").is_some();
                let summary = EntitySummary {
                    kind: r
                        .get::<Option<String>, _>("kind")
                        .unwrap_or_else(|| "user".into()),
                    name: r
                        .get::<Option<String>, _>("name")
                        .unwrap_or_else(|| super::key_name(&key).to_string()),
                    title: r
                        .get::<Option<String>, _>("title")
                        .unwrap_or_else(|| super::key_name(&key).to_string()),
                    exists: found,
                    key,
                };
                (summary, r.get("email"))
            })
            .collect())
    }

    /// Components `owner` owns whose system another group owns: (component, system, its owner).
    pub async fn system_owner_mismatches(
        &self,
        owner: &str,
    ) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT c.entity_key, c.system_key, s.owner_key FROM entities c
             JOIN entities s ON s.entity_key = c.system_key
             WHERE c.kind = 'component' AND c.owner_key = ?1 AND s.owner_key IS NOT ?1
             ORDER BY c.name",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?)
    }
}

const SCORED_SELECT: &str = "SELECT s.component_key, s.owner_key, s.level, s.outcomes,
    s.last_production_deploy, s.open_incidents, e.name, coalesce(e.title, e.name) AS title,
    e.tier, e.lifecycle
    FROM scorecard_results s JOIN entities e ON e.entity_key = s.component_key";

fn scored_service(r: &sqlx::sqlite::SqliteRow) -> Result<ScoredService, StoreError> {
    Ok(ScoredService {
        result: ScorecardResult {
            key: r.get("component_key"),
            owner_key: r.get("owner_key"),
            level: r.get::<Option<i64>, _>("level").map(|l| l as usize),
            outcomes: decode_json("scorecard_results.outcomes", r.get("outcomes"))?,
            last_production_deploy: r
                .get::<Option<i64>, _>("last_production_deploy")
                .and_then(|s| DateTime::from_timestamp(s, 0)),
            open_incidents: r.get("open_incidents"),
        },
        name: r.get("name"),
        title: r.get("title"),
        tier: r.get("tier"),
        lifecycle: r.get("lifecycle"),
    })
}

impl Store {
    /// Each owner's tally ("" for services without an owner).
    pub async fn scorecard_tallies(&self) -> Result<HashMap<String, Tally>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT owner_key, tally FROM scorecard_teams")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(owner, tally)| Ok((owner, decode_json("scorecard_teams.tally", &tally)?)))
            .collect()
    }

    /// The daily tallies of `owners` (every owner when `None`) from `since` on, by day.
    pub async fn scorecard_team_days(
        &self,
        owners: Option<&[String]>,
        since: NaiveDate,
    ) -> Result<Vec<TeamDay>, StoreError> {
        let filter = if owners.is_some() {
            "AND owner_key IN (SELECT value FROM json_each(?2))"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT day, owner_key, services, passed, total, at_level FROM scorecard_team_days
             WHERE day >= ?1 {filter} ORDER BY day"
        ))
        .bind(since.to_string())
        .bind(owners.map(|o| serde_json::to_string(o).expect("strings serialise")))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let day: String = r.get("day");
                Ok(TeamDay {
                    day: day.parse().map_err(|e| {
                        StoreError::Corrupt(format!("scorecard_team_days.day: {e}"))
                    })?,
                    owner_key: r.get("owner_key"),
                    services: r.get("services"),
                    passed: r.get("passed"),
                    total: r.get("total"),
                    at_level: decode_json("scorecard_team_days.at_level", r.get("at_level"))?,
                })
            })
            .collect()
    }

    /// What each of `keys` scored on `day`: its level and failing checks, from its newest
    /// history row up to that day. Services with no row by then are left out.
    pub async fn scores_on(
        &self,
        keys: &[String],
        day: NaiveDate,
    ) -> Result<HashMap<String, (Option<usize>, Vec<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.value AS component_key, h.level, h.failing
             FROM json_each(?1) k JOIN scorecard_history h ON h.component_key = k.value
             WHERE h.day = (SELECT max(day) FROM scorecard_history
                            WHERE component_key = k.value AND day <= ?2)",
        )
        .bind(serde_json::to_string(keys).expect("strings serialise"))
        .bind(day.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.get("component_key"),
                    (
                        r.get::<Option<i64>, _>("level").map(|l| l as usize),
                        decode_json("scorecard_history.failing", r.get("failing"))?,
                    ),
                ))
            })
            .collect()
    }

    /// The services of `owners` (every service when `None`) that score worse than a week
    /// before the results were worked out, by name.
    pub async fn worsenings(
        &self,
        owners: Option<&[String]>,
    ) -> Result<Vec<Worsening>, StoreError> {
        let filter = if owners.is_some() {
            "WHERE w.owner_key IN (SELECT value FROM json_each(?))"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT w.component_key, w.owner_key, w.was_level, w.now_level, w.newly_failing
             FROM scorecard_worse w LEFT JOIN entities e ON e.entity_key = w.component_key
             {filter} ORDER BY e.name"
        ))
        .bind(owners.map(|o| serde_json::to_string(o).expect("strings serialise")))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Worsening {
                    key: r.get("component_key"),
                    owner_key: r.get("owner_key"),
                    was: r.get::<Option<i64>, _>("was_level").map(|l| l as usize),
                    now: r.get::<Option<i64>, _>("now_level").map(|l| l as usize),
                    newly_failing: decode_json(
                        "scorecard_worse.newly_failing",
                        r.get("newly_failing"),
                    )?,
                })
            })
            .collect()
    }

    /// What changes whenever any source lands: the groups, their tree and their heads can be
    /// kept while it stays the same, whichever process landed what.
    pub async fn landings_mark(&self) -> Result<String, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce(group_concat(source || '@' || coalesce(last_success, ''), ','), '')
             FROM sync_state",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Groups, by key, and the (parent, child) edges between them.
    pub async fn group_edges(&self) -> Result<(Vec<String>, Vec<(String, String)>), StoreError> {
        let groups: Vec<String> =
            sqlx::query_scalar("SELECT entity_key FROM entities WHERE kind = 'group'")
                .fetch_all(&self.pool)
                .await?;
        // Up from each group, by the index on the target: `relation` alone has no index, and a
        // scan of every relation costs the sidebar several milliseconds at 10,000 services. A
        // parent the catalog lacks is still found, to be named.
        let edges: Vec<(String, String)> = sqlx::query_as(
            "SELECT r.source_key, r.target_key FROM entities g
             JOIN relations r ON r.target_key = g.entity_key AND r.relation = 'parentOf'
             WHERE g.kind = 'group'",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok((groups, edges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn result(level: Option<usize>, failing: &[&str]) -> ScorecardResult {
        ScorecardResult {
            key: "component:default/svc".into(),
            owner_key: Some("group:default/team".into()),
            level,
            outcomes: ["owner", "runbook", "rotation"]
                .iter()
                .map(|c| CheckOutcome {
                    check: c.to_string(),
                    passed: !failing.contains(c),
                    detail: String::new(),
                })
                .collect(),
            last_production_deploy: None,
            open_incidents: 0,
        }
    }

    async fn land(store: &Store, result: ScorecardResult, at: DateTime<Utc>) {
        let mut tally = Tally::default();
        tally.add_counts(
            3,
            result.level,
            result.outcomes.iter().map(|o| (o.check.as_str(), o.passed)),
        );
        let tallies = HashMap::from([("group:default/team".to_string(), tally)]);
        store
            .replace_scorecards(&[result], &[], &tallies, "f", at)
            .await
            .unwrap();
    }

    async fn history_days(store: &Store) -> Vec<String> {
        sqlx::query_scalar("SELECT day FROM scorecard_history ORDER BY day")
            .fetch_all(&store.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn history_keeps_a_row_per_change_and_a_year_of_days() {
        let store = Store::in_memory(&crate::store::AuditLocation::default())
            .await
            .unwrap();
        let start: DateTime<Utc> = "2025-01-01T12:00:00Z".parse().unwrap();
        let day = |n: i64| start + Duration::days(n);
        let key = vec!["component:default/svc".to_string()];

        land(&store, result(Some(2), &[]), day(0)).await;
        land(&store, result(Some(2), &[]), day(1)).await;
        land(&store, result(Some(1), &["rotation"]), day(3)).await;
        assert_eq!(history_days(&store).await, vec!["2025-01-01", "2025-01-04"]);
        // What it scored on a day is its newest row up to that day.
        let on = |n: i64| store.scores_on(&key, day(n).date_naive());
        assert_eq!(on(2).await.unwrap()[&key[0]], (Some(2), vec![]));
        assert_eq!(
            on(5).await.unwrap()[&key[0]],
            (Some(1), vec!["rotation".to_string()])
        );
        assert!(on(-1).await.unwrap().is_empty());
        let days = store
            .scorecard_team_days(None, day(0).date_naive())
            .await
            .unwrap();
        assert_eq!(days.len(), 3, "one tally per day a result was worked out");
        assert_eq!((days[2].passed, days[2].total), (2, 3));

        // A year on, the first row is replaced by one older than a year: it goes; the one
        // that still says what the service scored stays until a newer one is a year old.
        land(&store, result(Some(0), &["runbook", "rotation"]), day(400)).await;
        assert_eq!(history_days(&store).await, vec!["2025-01-04", "2026-02-05"]);
        let kept = store
            .scorecard_team_days(None, day(0).date_naive())
            .await
            .unwrap();
        assert_eq!(kept.len(), 1, "days older than a year are pruned");
        let state = store.scorecard_state().await.unwrap().unwrap();
        assert_eq!(state, ("f".to_string(), day(400)));
    }
}
