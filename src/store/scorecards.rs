//! Scorecards in the cache: the facts the checks need, gathered in one pass; the results the
//! engine worked out from them; and their history, for trends.

use std::collections::HashMap;

use super::landing::{insert_rows, ROWS_A_STATEMENT};
use super::{decode_json, on_backend, Backend, Store, StoreError};
use crate::api::EntitySummary;
use crate::domain::scorecards::{CheckOutcome, Tally};
use crate::domain::Entity;
use chrono::{DateTime, NaiveDate, Utc};

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

/// A row of `scorecard_results`.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct ResultRow {
    component_key: String,
    owner_key: Option<String>,
    level: Option<i64>,
    passed: i64,
    total: i64,
    /// The outcomes as JSON.
    outcomes: String,
    /// Unix seconds.
    last_production_deploy: Option<i64>,
    open_incidents: i64,
}

impl ResultRow {
    /// `result` as the row that stores it.
    fn of(result: &ScorecardResult) -> Self {
        Self {
            component_key: result.key.clone(),
            owner_key: result.owner_key.clone(),
            level: result.level.map(|l| l as i64),
            passed: result.outcomes.iter().filter(|o| o.passed).count() as i64,
            total: result.outcomes.len() as i64,
            outcomes: serde_json::to_string(&result.outcomes).expect("outcomes serialise"),
            last_production_deploy: result.last_production_deploy.map(|t| t.timestamp()),
            open_incidents: result.open_incidents,
        }
    }
}

/// Each component with what its checks need (`{runbook_link}`: whether an entity `e` links a
/// runbook; `{production}`: the production environments bound as `$1`). The owners and
/// systems that link a runbook are found first, each body read once: per component, a team's
/// body was read 20 times over.
const INPUT_SELECT: &str = "
WITH runbook_holders AS MATERIALIZED (
    SELECT e.entity_key FROM entities e
    WHERE e.entity_key IN (SELECT owner_key FROM entities WHERE kind = 'component'
                           UNION SELECT system_key FROM entities WHERE kind = 'component')
        AND {runbook_link})
SELECT c.entity_key, c.owner_key, c.body, NOT c.unowned AS owner_exists,
    (SELECT count(DISTINCT r.source_key) FROM relations r
     WHERE r.target_key = c.owner_key AND r.relation = 'memberOf') AS owner_members,
    p.service_id,
    (SELECT pr.join_key FROM platform_records pr
     WHERE pr.kind = 'service' AND pr.id = p.service_id AND pr.join_key IS NOT NULL
     ORDER BY pr.source LIMIT 1) AS policy_id,
    CASE
        WHEN c.system_key IN (SELECT entity_key FROM runbook_holders) THEN c.system_key
        WHEN c.owner_key IN (SELECT entity_key FROM runbook_holders) THEN c.owner_key
    END AS inherited_runbook,
    EXISTS (SELECT 1 FROM alert_components a WHERE a.component_key = c.entity_key) AS alerts_seen,
    (SELECT d.started_at FROM component_delivery cd JOIN deployments d ON d.target = cd.target
     WHERE cd.component_key = c.entity_key
        AND d.environment IN ({production})
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
        let runbook_link = match self.cache {
            Backend::Sqlite(_) => {
                "EXISTS (SELECT 1 FROM json_each(e.body, '$.metadata.links') l
                         WHERE lower(json_extract(l.value, '$.type')) = 'runbook')"
            }
            Backend::Postgres(_) => {
                "EXISTS (SELECT 1 FROM jsonb_array_elements(e.body::jsonb -> 'metadata' -> 'links') l
                         WHERE lower(l ->> 'type') = 'runbook')"
            }
        };
        let query = INPUT_SELECT
            .replace("{runbook_link}", runbook_link)
            .replace("{production}", &self.cache.json_strings(1));
        let rows: Vec<InputColumns> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(serde_json::to_string(production).expect("strings serialise"))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(ScorecardInput {
                    entity: decode_json("entities.body", &r.body)?,
                    key: r.entity_key,
                    owner_key: r.owner_key,
                    owner_exists: r.owner_exists,
                    owner_members: r.owner_members,
                    pagerduty_service_id: r.service_id,
                    policy_id: r.policy_id,
                    inherited_runbook: r.inherited_runbook,
                    alerts_seen: r.alerts_seen,
                    last_production_deploy: r
                        .last_production_deploy
                        .and_then(|s| DateTime::from_timestamp(s, 0)),
                })
            })
            .collect()
    }

    /// The fingerprint and time of the stored results, if any were worked out.
    pub async fn scorecard_state(&self) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as("SELECT fingerprint, computed_at FROM scorecard_state WHERE id = 1")
                .fetch_optional(pool)
                .await?
        }))
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
        let mut tx = self.begin_landing().await?;
        let mut landing = tx.connection();
        let day = now.date_naive().to_string();
        let cutoff = (now.date_naive() - chrono::Days::new(HISTORY_DAYS as u64)).to_string();
        for sql in ["DELETE FROM scorecard_teams", "DELETE FROM scorecard_worse"] {
            on_backend!(landing.reborrow(), c => {
                sqlx::query(sql).execute(c).await?;
            });
        }
        let previous: Vec<(String, Option<i64>, String)> = on_backend!(landing.reborrow(), c => {
            sqlx::query_as(
                "SELECT h.component_key, h.level, h.failing FROM scorecard_history h
                 WHERE h.day = (SELECT max(day) FROM scorecard_history WHERE component_key = h.component_key)",
            )
            .fetch_all(c)
            .await?
        });
        let previous: HashMap<String, (Option<i64>, String)> = previous
            .into_iter()
            .map(|(key, level, failing)| (key, (level, failing)))
            .collect();
        // Only the rows that differ are written: most refreshes follow another source's
        // landing that changes a result or none, and rewriting all of them (10 MB at 10,000
        // services) took a tenth of a second each time.
        let held: Vec<ResultRow> = on_backend!(landing.reborrow(), c => {
            sqlx::query_as(
                "SELECT component_key, owner_key, level, passed, total, outcomes,
                    last_production_deploy, open_incidents
                 FROM scorecard_results",
            )
            .fetch_all(c)
            .await?
        });
        let mut held: HashMap<String, ResultRow> = held
            .into_iter()
            .map(|row| (row.component_key.clone(), row))
            .collect();
        let differing: Vec<ResultRow> = results
            .iter()
            .map(ResultRow::of)
            .filter(|row| held.remove(&row.component_key).as_ref() != Some(row))
            .collect();
        let gone: Vec<String> = held.into_keys().collect();
        let delete = format!(
            "DELETE FROM scorecard_results WHERE component_key IN ({})",
            landing.json_strings(1)
        );
        for chunk in gone.chunks(ROWS_A_STATEMENT) {
            on_backend!(landing.reborrow(), c => {
                sqlx::query(&delete)
                    .bind(strings(chunk))
                    .execute(c)
                    .await?;
            });
        }
        on_backend!(landing.reborrow(), c => {
            insert_rows(
                c,
                "INSERT INTO scorecard_results (component_key, owner_key, level, passed, total, outcomes,
                    last_production_deploy, open_incidents)",
                "ON CONFLICT (component_key) DO UPDATE SET owner_key = excluded.owner_key,
                    level = excluded.level, passed = excluded.passed, total = excluded.total,
                    outcomes = excluded.outcomes,
                    last_production_deploy = excluded.last_production_deploy,
                    open_incidents = excluded.open_incidents",
                &differing,
                |statement, row| {
                    statement
                        .bind(row.component_key.as_str())
                        .bind(row.owner_key.as_deref())
                        .bind(row.level)
                        .bind(row.passed)
                        .bind(row.total)
                        .bind(row.outcomes.as_str())
                        .bind(row.last_production_deploy)
                        .bind(row.open_incidents)
                },
            )
            .await?
        });
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
        on_backend!(landing.reborrow(), c => {
            insert_rows(
                c,
                "INSERT INTO scorecard_history (component_key, day, owner_key, level, failing)",
                "ON CONFLICT (component_key, day) DO UPDATE SET owner_key = excluded.owner_key,
                    level = excluded.level, failing = excluded.failing",
                &changed,
                |statement, (result, failing)| {
                    statement
                        .bind(result.key.as_str())
                        .bind(day.as_str())
                        .bind(result.owner_key.as_deref())
                        .bind(result.level.map(|l| l as i64))
                        .bind(failing.as_str())
                },
            )
            .await?
        });
        on_backend!(landing.reborrow(), c => {
            insert_rows(
                c,
                "INSERT INTO scorecard_worse (component_key, owner_key, was_level, now_level, newly_failing)",
                "",
                worse,
                |statement, w| {
                    statement
                        .bind(w.key.as_str())
                        .bind(w.owner_key.as_deref())
                        .bind(w.was.map(|l| l as i64))
                        .bind(w.now.map(|l| l as i64))
                        .bind(serde_json::to_string(&w.newly_failing).expect("strings serialise"))
                },
            )
            .await?
        });
        on_backend!(landing.reborrow(), c => {
            sqlx::query("DELETE FROM scorecard_team_days WHERE day = $1")
                .bind(&day)
                .execute(c)
                .await?;
        });
        let tallies: Vec<(&String, &Tally)> = tallies.iter().collect();
        on_backend!(landing.reborrow(), c => {
            insert_rows(
                c,
                "INSERT INTO scorecard_teams (owner_key, tally)",
                "",
                &tallies,
                |statement, (owner, tally)| {
                    statement
                        .bind(owner.as_str())
                        .bind(serde_json::to_string(tally).expect("tallies serialise"))
                },
            )
            .await?
        });
        on_backend!(landing.reborrow(), c => {
            insert_rows(
                c,
                "INSERT INTO scorecard_team_days (day, owner_key, services, passed, total, at_level)",
                "",
                &tallies,
                |statement, (owner, tally)| {
                    statement
                        .bind(day.as_str())
                        .bind(owner.as_str())
                        .bind(tally.services)
                        .bind(tally.passed)
                        .bind(tally.total)
                        .bind(serde_json::to_string(&tally.at_level).expect("counts serialise"))
                },
            )
            .await?
        });
        on_backend!(landing.reborrow(), c => {
            sqlx::query("DELETE FROM scorecard_team_days WHERE day < $1")
                .bind(&cutoff)
                .execute(c)
                .await?;
        });
        // A row older than a year still says what its service scored until its next row:
        // it goes only once that next row is itself older than a year.
        on_backend!(landing.reborrow(), c => {
            sqlx::query(
                "DELETE FROM scorecard_history AS h WHERE h.day < $1 AND EXISTS
                    (SELECT 1 FROM scorecard_history n
                     WHERE n.component_key = h.component_key AND n.day > h.day AND n.day <= $1)",
            )
            .bind(&cutoff)
            .execute(c)
            .await?;
        });
        on_backend!(landing, c => {
            sqlx::query(
                "INSERT INTO scorecard_state (id, computed_at, fingerprint) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET computed_at = excluded.computed_at,
                    fingerprint = excluded.fingerprint",
            )
            .bind(now)
            .bind(fingerprint)
            .execute(c)
            .await?;
        });
        self.commit_landing(tx).await?;
        Ok(())
    }

    /// The results of the services `owners` own (all services when `None`), by name.
    pub async fn scored_services(
        &self,
        owners: Option<&[String]>,
    ) -> Result<Vec<ScoredService>, StoreError> {
        let filter = if owners.is_some() {
            format!("WHERE s.owner_key IN ({})", self.cache.json_strings(1))
        } else {
            String::new()
        };
        let query = format!("{SCORED_SELECT} {filter} ORDER BY e.name");
        let rows: Vec<ScoredColumns> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(owners.map(strings))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(scored_service).collect()
    }

    /// One service's stored result.
    pub async fn scored_service(&self, key: &str) -> Result<Option<ScoredService>, StoreError> {
        let query = format!("{SCORED_SELECT} WHERE s.component_key = $1");
        let row: Option<ScoredColumns> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query).bind(key).fetch_optional(pool).await?
        });
        row.map(scored_service).transpose()
    }

    /// Each PagerDuty service's escalation policy: (service, policy).
    pub async fn service_policies(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT DISTINCT id, join_key FROM platform_records WHERE kind = 'service' AND join_key IS NOT NULL",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// The escalation policies of the PagerDuty services `owner`'s components name.
    pub async fn policies_of_owner(&self, owner: &str) -> Result<Vec<String>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar(
                "SELECT DISTINCT r.join_key FROM component_pagerduty c
                 JOIN platform_records r ON r.kind = 'service' AND r.id = c.service_id
                 WHERE c.owner_key = $1 AND r.join_key IS NOT NULL",
            )
            .bind(owner)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The users who are members of `group`, by name, with their emails.
    pub async fn members_of(
        &self,
        group: &str,
    ) -> Result<Vec<(EntitySummary, Option<String>)>, StoreError> {
        type MemberRow = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<MemberRow> = on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT DISTINCT r.source_key, u.kind, u.name, coalesce(u.title, u.name) AS title, u.email,
                    coalesce(u.title, u.name, r.source_key) AS shown
                 FROM relations r LEFT JOIN entities u ON u.entity_key = r.source_key
                 WHERE r.target_key = $1 AND r.relation = 'memberOf'
                 ORDER BY shown",
            )
            .bind(group)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(key, kind, name, title, email)| {
                let summary = EntitySummary {
                    exists: kind.is_some(),
                    kind: kind.unwrap_or_else(|| "user".into()),
                    name: name.unwrap_or_else(|| super::key_name(&key).to_string()),
                    title: title.unwrap_or_else(|| super::key_name(&key).to_string()),
                    key,
                };
                (summary, email)
            })
            .collect())
    }

    /// Components `owner` owns whose system another group owns: (component, system, its owner).
    pub async fn system_owner_mismatches(
        &self,
        owner: &str,
    ) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT c.entity_key, c.system_key, s.owner_key FROM entities c
                 JOIN entities s ON s.entity_key = c.system_key
                 WHERE c.kind = 'component' AND c.owner_key = $1 AND s.owner_key IS DISTINCT FROM $1
                 ORDER BY c.name",
            )
            .bind(owner)
            .fetch_all(pool)
            .await?
        }))
    }
}

const SCORED_SELECT: &str = "SELECT s.component_key, s.owner_key, s.level, s.outcomes,
    s.last_production_deploy, s.open_incidents, e.name, coalesce(e.title, e.name) AS title,
    e.tier, e.lifecycle
    FROM scorecard_results s JOIN entities e ON e.entity_key = s.component_key";

/// A stored result's columns as [`SCORED_SELECT`] reads them.
#[derive(sqlx::FromRow)]
struct ScoredColumns {
    component_key: String,
    owner_key: Option<String>,
    level: Option<i64>,
    outcomes: String,
    last_production_deploy: Option<i64>,
    open_incidents: i64,
    name: String,
    title: String,
    tier: Option<String>,
    lifecycle: Option<String>,
}

fn scored_service(r: ScoredColumns) -> Result<ScoredService, StoreError> {
    Ok(ScoredService {
        result: ScorecardResult {
            key: r.component_key,
            owner_key: r.owner_key,
            level: r.level.map(|l| l as usize),
            outcomes: decode_json("scorecard_results.outcomes", &r.outcomes)?,
            last_production_deploy: r
                .last_production_deploy
                .and_then(|s| DateTime::from_timestamp(s, 0)),
            open_incidents: r.open_incidents,
        },
        name: r.name,
        title: r.title,
        tier: r.tier,
        lifecycle: r.lifecycle,
    })
}

/// A component's columns as [`INPUT_SELECT`] reads them.
#[derive(sqlx::FromRow)]
struct InputColumns {
    entity_key: String,
    owner_key: Option<String>,
    body: String,
    owner_exists: bool,
    owner_members: i64,
    service_id: Option<String>,
    policy_id: Option<String>,
    inherited_runbook: Option<String>,
    alerts_seen: bool,
    last_production_deploy: Option<i64>,
}

/// `values` as the JSON array a list is bound as.
fn strings(values: &[String]) -> String {
    serde_json::to_string(values).expect("strings serialise")
}

impl Store {
    /// Each owner's tally ("" for services without an owner).
    pub async fn scorecard_tallies(&self) -> Result<HashMap<String, Tally>, StoreError> {
        let rows: Vec<(String, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as("SELECT owner_key, tally FROM scorecard_teams")
                .fetch_all(pool)
                .await?
        });
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
            format!("AND owner_key IN ({})", self.cache.json_strings(2))
        } else {
            String::new()
        };
        let query = format!(
            "SELECT day, owner_key, services, passed, total, at_level FROM scorecard_team_days
             WHERE day >= $1 {filter} ORDER BY day"
        );
        type DayRow = (String, String, i64, i64, i64, String);
        let rows: Vec<DayRow> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(since.to_string())
                .bind(owners.map(strings))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(day, owner_key, services, passed, total, at_level)| {
                Ok(TeamDay {
                    day: day.parse().map_err(|e| {
                        StoreError::Corrupt(format!("scorecard_team_days.day: {e}"))
                    })?,
                    owner_key,
                    services,
                    passed,
                    total,
                    at_level: decode_json("scorecard_team_days.at_level", &at_level)?,
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
        let query = format!(
            "SELECT h.component_key, h.level, h.failing FROM scorecard_history h
             WHERE h.component_key IN ({})
               AND h.day = (SELECT max(day) FROM scorecard_history
                            WHERE component_key = h.component_key AND day <= $2)",
            self.cache.json_strings(1)
        );
        let rows: Vec<(String, Option<i64>, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(strings(keys))
                .bind(day.to_string())
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(key, level, failing)| {
                Ok((
                    key,
                    (
                        level.map(|l| l as usize),
                        decode_json("scorecard_history.failing", &failing)?,
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
            format!("WHERE w.owner_key IN ({})", self.cache.json_strings(1))
        } else {
            String::new()
        };
        let query = format!(
            "SELECT w.component_key, w.owner_key, w.was_level, w.now_level, w.newly_failing
             FROM scorecard_worse w LEFT JOIN entities e ON e.entity_key = w.component_key
             {filter} ORDER BY e.name"
        );
        type WorseRow = (String, Option<String>, Option<i64>, Option<i64>, String);
        let rows: Vec<WorseRow> = on_backend!(&self.cache, pool => {
            sqlx::query_as(&query)
                .bind(owners.map(strings))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(key, owner_key, was, now, newly_failing)| {
                Ok(Worsening {
                    key,
                    owner_key,
                    was: was.map(|l| l as usize),
                    now: now.map(|l| l as usize),
                    newly_failing: decode_json("scorecard_worse.newly_failing", &newly_failing)?,
                })
            })
            .collect()
    }

    /// What changes whenever any source lands: the groups, their tree and their heads can be
    /// kept while it stays the same, whichever process landed what.
    pub async fn landings_mark(&self) -> Result<String, StoreError> {
        let query = match self.cache {
            Backend::Sqlite(_) => {
                "SELECT coalesce(group_concat(source || '@' || coalesce(last_success, ''), ','), '')
                 FROM sync_state"
            }
            Backend::Postgres(_) => {
                "SELECT coalesce(string_agg(source || '@' || coalesce(last_success::TEXT, ''), ','), '')
                 FROM sync_state"
            }
        };
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar(query).fetch_one(pool).await?
        }))
    }

    /// Groups, by key, and the (parent, child) edges between them.
    pub async fn group_edges(&self) -> Result<(Vec<String>, Vec<(String, String)>), StoreError> {
        let groups: Vec<String> = on_backend!(&self.cache, pool => {
            sqlx::query_scalar("SELECT entity_key FROM entities WHERE kind = 'group'")
                .fetch_all(pool)
                .await?
        });
        // Up from each group, by the index on the target: `relation` alone has no index, and a
        // scan of every relation costs the sidebar several milliseconds at 10,000 services. A
        // parent the catalog lacks is still found, to be named.
        let edges: Vec<(String, String)> = on_backend!(&self.cache, pool => {
            sqlx::query_as(
                "SELECT r.source_key, r.target_key FROM entities g
                 JOIN relations r ON r.target_key = g.entity_key AND r.relation = 'parentOf'
                 WHERE g.kind = 'group'",
            )
            .fetch_all(pool)
            .await?
        });
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
        on_backend!(&store.cache, pool => {
            sqlx::query_scalar("SELECT day FROM scorecard_history ORDER BY day")
                .fetch_all(pool)
                .await
                .unwrap()
        })
    }

    #[tokio::test]
    async fn results_are_written_where_they_differ_and_dropped_where_gone() {
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            let at: DateTime<Utc> = "2025-01-01T12:00:00Z".parse().unwrap();
            let of = |name: &str, level: Option<usize>, failing: &[&str]| ScorecardResult {
                key: format!("component:default/{name}"),
                ..result(level, failing)
            };
            let replace = |results: Vec<ScorecardResult>| {
                let store = store.clone();
                async move {
                    store
                        .replace_scorecards(&results, &[], &HashMap::new(), "f", at)
                        .await
                        .unwrap();
                }
            };
            let stored = || async {
                let rows: Vec<(String, Option<i64>, i64, String)> = on_backend!(&store.cache, pool => {
                    sqlx::query_as(
                        "SELECT component_key, level, passed, outcomes FROM scorecard_results
                         ORDER BY component_key",
                    )
                    .fetch_all(pool)
                    .await
                    .unwrap()
                });
                rows.into_iter()
                    .map(|(key, level, passed, outcomes)| {
                        (
                            key.replace("component:default/", ""),
                            level,
                            passed,
                            outcomes.contains("\"passed\":false"),
                        )
                    })
                    .collect::<Vec<_>>()
            };
            replace(vec![
                of("kept", Some(2), &[]),
                of("changed", Some(2), &[]),
                of("gone", Some(1), &["runbook"]),
            ])
            .await;
            replace(vec![
                of("kept", Some(2), &[]),
                of("changed", Some(0), &["owner", "runbook"]),
                of("new", None, &["owner", "runbook", "rotation"]),
            ])
            .await;
            assert_eq!(
                stored().await,
                [
                    ("changed".to_string(), Some(0), 1, true),
                    ("kept".to_string(), Some(2), 3, false),
                    ("new".to_string(), None, 0, true),
                ]
            );
        }
    }

    #[tokio::test]
    async fn history_keeps_a_row_per_change_and_a_year_of_days() {
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            history_keeps_a_row_per_change_and_a_year_of_days_in(store).await;
        }
    }

    async fn history_keeps_a_row_per_change_and_a_year_of_days_in(store: Store) {
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
