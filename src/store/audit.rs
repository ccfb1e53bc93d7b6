//! The audit log: steps of the actions Opsdeck takes on platforms, appended and never changed
//! (the schema's triggers refuse updates and deletes). Sync never touches it.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{decode_json, Store, StoreError};

/// One step of an action, as appended.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditStep {
    /// The action's idempotency key.
    pub action_key: String,
    /// `requested`, `answered`, `progress`, `finished`, `notified`.
    pub step: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who acted (the identity).
    pub actor: String,
    /// What kind of action: `rollback`.
    pub action: String,
    /// The service's cache key.
    pub service: String,
    /// The environment.
    pub environment: String,
    /// Where the action stands after this step.
    pub state: String,
    /// The step's details (plan, call, answer, outcome), as JSON.
    pub body: serde_json::Value,
}

/// The step that starts every action.
pub const REQUESTED: &str = "requested";
/// The step that ends one.
pub const FINISHED: &str = "finished";

/// Whether an action's first step could be written.
#[derive(Debug, Clone, PartialEq)]
pub enum Begun {
    /// Written and flushed: the call may be made.
    Started,
    /// This key was requested before: the call was made (or is being made) already.
    AlreadyRequested,
    /// Another action on the same service and environment has no outcome yet.
    InFlight(Box<AuditStep>),
}

impl Store {
    /// Appends `requested` for an action, flushed to disk before it returns, unless its key
    /// was requested before or another action on the same service and environment, requested
    /// at or after `unfinished_since`, has no `finished` step. Checked and written in one
    /// immediate transaction, so two windows or processes cannot both start.
    pub async fn begin_action(
        &self,
        requested: &AuditStep,
        unfinished_since: DateTime<Utc>,
    ) -> Result<Begun, StoreError> {
        let _writing = self.writer.lock().await;
        let mut conn = self.pool.acquire().await?;
        // A rollback whose record could be lost to a power cut after the call is worse than a
        // slower write: this one transaction is synced to disk.
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let outcome = async {
            let held: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM audit_log WHERE action_key = ? AND step = 'requested'",
            )
            .bind(&requested.action_key)
            .fetch_one(&mut *conn)
            .await?;
            if held > 0 {
                return Ok(Begun::AlreadyRequested);
            }
            let busy = unfinished(
                &mut conn,
                (
                    &requested.action,
                    &requested.service,
                    &requested.environment,
                ),
                unfinished_since,
            )
            .await?;
            if let Some(step) = busy {
                return Ok(Begun::InFlight(Box::new(step)));
            }
            insert(&mut conn, requested).await?;
            Ok::<_, StoreError>(Begun::Started)
        }
        .await;
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        sqlx::query(end).execute(&mut *conn).await?;
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *conn)
            .await?;
        outcome
    }

    /// The newest `action` on `service` in `environment` requested at or after `since` that
    /// has no `finished` step: what holds another one off.
    pub async fn unfinished_action(
        &self,
        (action, service, environment): (&str, &str, &str),
        since: DateTime<Utc>,
    ) -> Result<Option<AuditStep>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        unfinished(&mut conn, (action, service, environment), since).await
    }

    /// Appends a later step of an action.
    pub async fn append_audit(&self, step: &AuditStep) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        let mut conn = self.pool.acquire().await?;
        insert(&mut conn, step).await
    }

    /// The steps of the newest `limit` actions (of one service, when given), oldest step first.
    pub async fn audit_steps(
        &self,
        service: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditStep>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_log WHERE action_key IN (
                 SELECT action_key FROM audit_log
                 WHERE step = 'requested' AND (?1 IS NULL OR service = ?1)
                 ORDER BY seq DESC LIMIT ?2)
             ORDER BY seq",
        )
        .bind(service)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(step_of).collect()
    }

    /// The steps of one action, oldest first.
    pub async fn action_steps(&self, action_key: &str) -> Result<Vec<AuditStep>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE action_key = ? ORDER BY seq")
            .bind(action_key)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(step_of).collect()
    }
}

async fn unfinished(
    conn: &mut sqlx::SqliteConnection,
    (action, service, environment): (&str, &str, &str),
    since: DateTime<Utc>,
) -> Result<Option<AuditStep>, StoreError> {
    let row = sqlx::query(
        "SELECT r.* FROM audit_log r
         WHERE r.step = 'requested' AND r.action = ? AND r.service = ? AND r.environment = ?
           AND r.at >= ?
           AND NOT EXISTS (SELECT 1 FROM audit_log f
                           WHERE f.action_key = r.action_key AND f.step = 'finished')
         ORDER BY r.seq DESC LIMIT 1",
    )
    .bind(action)
    .bind(service)
    .bind(environment)
    .bind(since.timestamp())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(step_of).transpose()
}

async fn insert(conn: &mut sqlx::SqliteConnection, step: &AuditStep) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (action_key, step, at, actor, action, service, environment, state, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&step.action_key)
    .bind(&step.step)
    .bind(step.at.timestamp())
    .bind(&step.actor)
    .bind(&step.action)
    .bind(&step.service)
    .bind(&step.environment)
    .bind(&step.state)
    .bind(step.body.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn step_of(row: &sqlx::sqlite::SqliteRow) -> Result<AuditStep, StoreError> {
    Ok(AuditStep {
        action_key: row.try_get("action_key")?,
        step: row.try_get("step")?,
        at: DateTime::from_timestamp(row.try_get("at")?, 0).unwrap_or_default(),
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        state: row.try_get("state")?,
        body: decode_json("audit_log.body", &row.try_get::<String, _>("body")?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(key: &str, step: &str, service: &str) -> AuditStep {
        AuditStep {
            action_key: key.into(),
            step: step.into(),
            at: Utc::now(),
            actor: "dana@demo.opsdeck.dev".into(),
            action: "rollback".into(),
            service: service.into(),
            environment: "prod".into(),
            state: step.into(),
            body: serde_json::json!({"to": "v1"}),
        }
    }

    #[tokio::test]
    async fn a_key_starts_once_and_one_action_per_environment_runs_at_a_time() {
        let store = Store::in_memory().await.unwrap();
        let since = Utc::now() - chrono::Duration::minutes(15);
        let first = step("k1", REQUESTED, "component:default/a");
        assert_eq!(
            store.begin_action(&first, since).await.unwrap(),
            Begun::Started
        );
        assert_eq!(
            store.begin_action(&first, since).await.unwrap(),
            Begun::AlreadyRequested
        );
        let other = step("k2", REQUESTED, "component:default/a");
        assert!(matches!(
            store.begin_action(&other, since).await.unwrap(),
            Begun::InFlight(held) if held.action_key == "k1"
        ));
        let elsewhere = step("k3", REQUESTED, "component:default/b");
        assert_eq!(
            store.begin_action(&elsewhere, since).await.unwrap(),
            Begun::Started
        );
        store
            .append_audit(&step("k1", FINISHED, "component:default/a"))
            .await
            .unwrap();
        assert_eq!(
            store.begin_action(&other, since).await.unwrap(),
            Begun::Started
        );
        let steps = store
            .audit_steps(Some("component:default/a"), 10)
            .await
            .unwrap();
        let keys: Vec<(&str, &str)> = steps
            .iter()
            .map(|s| (s.action_key.as_str(), s.step.as_str()))
            .collect();
        assert_eq!(
            keys,
            [("k1", REQUESTED), ("k1", FINISHED), ("k2", REQUESTED)]
        );
    }

    #[tokio::test]
    async fn nothing_in_the_log_can_be_changed_or_removed() {
        let store = Store::in_memory().await.unwrap();
        store
            .append_audit(&step("k1", REQUESTED, "component:default/a"))
            .await
            .unwrap();
        for statement in [
            "UPDATE audit_log SET state = 'succeeded'",
            "DELETE FROM audit_log",
        ] {
            let refused = sqlx::query(statement)
                .execute(&store.pool)
                .await
                .unwrap_err();
            assert!(refused.to_string().contains("append-only"), "{refused}");
        }
        assert_eq!(store.action_steps("k1").await.unwrap().len(), 1);
    }
}
