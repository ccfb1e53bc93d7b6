//! The audit log: steps of the actions Opsdeck takes on platforms, appended and never changed
//! (the schema's triggers refuse updates and deletes). Sync never touches it.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{decode_json, Store, StoreError};
use crate::domain::actions::{ActionKind, ActionTarget, Step};

/// One step of an action, as appended.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditStep {
    /// The action's idempotency key.
    pub action_key: String,
    /// Which step.
    pub step: Step,
    /// When.
    pub at: DateTime<Utc>,
    /// Who acted (the identity).
    pub actor: String,
    /// What kind of action.
    pub kind: ActionKind,
    /// The service's cache key.
    pub service: String,
    /// What it acts on besides the service.
    pub target: ActionTarget,
    /// Where the action stands after this step, in its kind's words.
    pub state: String,
    /// The step's details (plan, call, answer, outcome), as JSON.
    pub body: serde_json::Value,
}

/// Whether an action's first step could be written.
#[derive(Debug, Clone, PartialEq)]
pub enum Begun {
    /// Written and flushed: the call may be made.
    Started,
    /// This key was requested before: the call was made (or is being made) already.
    AlreadyRequested,
    /// Another action of the same kind on the same service and target has no outcome yet.
    InFlight(Box<AuditStep>),
}

impl Store {
    /// Appends `requested` for an action, flushed to disk before it returns, unless its key
    /// was requested before or another action of its kind on the same service and target, requested
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
                (requested.kind, &requested.service, &requested.target),
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

    /// The newest action of `kind` on `service` and `target` requested at or after `since`
    /// that has no `finished` step: what holds another one off.
    pub async fn unfinished_action(
        &self,
        (kind, service, target): (ActionKind, &str, &ActionTarget),
        since: DateTime<Utc>,
    ) -> Result<Option<AuditStep>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        unfinished(&mut conn, (kind, service, target), since).await
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
    (kind, service, target): (ActionKind, &str, &ActionTarget),
    since: DateTime<Utc>,
) -> Result<Option<AuditStep>, StoreError> {
    let (target_kind, target) = target.columns();
    let row = sqlx::query(
        "SELECT r.* FROM audit_log r
         WHERE r.step = 'requested' AND r.action = ? AND r.service = ?
           AND r.target_kind = ? AND r.target = ? AND r.at >= ?
           AND NOT EXISTS (SELECT 1 FROM audit_log f
                           WHERE f.action_key = r.action_key AND f.step = 'finished')
         ORDER BY r.seq DESC LIMIT 1",
    )
    .bind(kind.as_str())
    .bind(service)
    .bind(target_kind)
    .bind(target)
    .bind(since.timestamp())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(step_of).transpose()
}

async fn insert(conn: &mut sqlx::SqliteConnection, step: &AuditStep) -> Result<(), StoreError> {
    let (target_kind, target) = step.target.columns();
    sqlx::query(
        "INSERT INTO audit_log
             (action_key, step, at, actor, action, service, target_kind, target, state, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&step.action_key)
    .bind(step.step.as_str())
    .bind(step.at.timestamp())
    .bind(&step.actor)
    .bind(step.kind.as_str())
    .bind(&step.service)
    .bind(target_kind)
    .bind(target)
    .bind(&step.state)
    .bind(step.body.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn step_of(row: &sqlx::sqlite::SqliteRow) -> Result<AuditStep, StoreError> {
    let word = |column: &str| -> Result<String, StoreError> { Ok(row.try_get(column)?) };
    let unknown = |column: &str, value: &str| {
        StoreError::Corrupt(format!(
            "audit_log.{column}: '{value}' is not a word it knows"
        ))
    };
    let (step, kind) = (word("step")?, word("action")?);
    let (target_kind, target) = (word("target_kind")?, word("target")?);
    Ok(AuditStep {
        action_key: row.try_get("action_key")?,
        step: Step::parse(&step).ok_or_else(|| unknown("step", &step))?,
        at: DateTime::from_timestamp(row.try_get("at")?, 0).unwrap_or_default(),
        actor: row.try_get("actor")?,
        kind: ActionKind::parse(&kind).ok_or_else(|| unknown("action", &kind))?,
        service: row.try_get("service")?,
        target: ActionTarget::from_columns(&target_kind, &target)
            .ok_or_else(|| unknown("target_kind", &target_kind))?,
        state: row.try_get("state")?,
        body: decode_json("audit_log.body", &row.try_get::<String, _>("body")?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(key: &str, step: Step, service: &str) -> AuditStep {
        AuditStep {
            action_key: key.into(),
            step,
            at: Utc::now(),
            actor: "dana@demo.opsdeck.dev".into(),
            kind: ActionKind::Rollback,
            service: service.into(),
            target: ActionTarget::environment("prod"),
            state: step.as_str().into(),
            body: serde_json::json!({"to": "v1"}),
        }
    }

    #[tokio::test]
    async fn a_key_starts_once_and_one_action_per_environment_runs_at_a_time() {
        let store = Store::in_memory().await.unwrap();
        let since = Utc::now() - chrono::Duration::minutes(15);
        let first = step("k1", Step::Requested, "component:default/a");
        assert_eq!(
            store.begin_action(&first, since).await.unwrap(),
            Begun::Started
        );
        assert_eq!(
            store.begin_action(&first, since).await.unwrap(),
            Begun::AlreadyRequested
        );
        let other = step("k2", Step::Requested, "component:default/a");
        assert!(matches!(
            store.begin_action(&other, since).await.unwrap(),
            Begun::InFlight(held) if held.action_key == "k1"
        ));
        let elsewhere = step("k3", Step::Requested, "component:default/b");
        assert_eq!(
            store.begin_action(&elsewhere, since).await.unwrap(),
            Begun::Started
        );
        store
            .append_audit(&step("k1", Step::Finished, "component:default/a"))
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
        let keys: Vec<(&str, Step)> = steps
            .iter()
            .map(|s| (s.action_key.as_str(), s.step))
            .collect();
        assert_eq!(
            keys,
            [
                ("k1", Step::Requested),
                ("k1", Step::Finished),
                ("k2", Step::Requested)
            ]
        );
    }

    #[tokio::test]
    async fn nothing_in_the_log_can_be_changed_or_removed() {
        let store = Store::in_memory().await.unwrap();
        store
            .append_audit(&step("k1", Step::Requested, "component:default/a"))
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
        let unknown = sqlx::query(
            "INSERT INTO audit_log (action_key, step, at, actor, action, service, target_kind, target, state, body)
             VALUES ('k9', 'requested', 0, 'x', 'delete-prod', 'c', 'environment', 'prod', 's', '{}')",
        )
        .execute(&store.pool)
        .await
        .unwrap_err();
        assert!(unknown.to_string().contains("known actions"), "{unknown}");
    }

    /// The log as the version before typed targets wrote it: a rollback, a runbook run (its
    /// workflow in `environment`) and a runbook opened (`-`).
    const BEFORE_TYPED_TARGETS: &str = "
        INSERT INTO audit_log (action_key, step, at, actor, action, service, environment, state, body) VALUES
          ('rb-1', 'requested', 1, 'dana', 'rollback', 'component:default/a', 'prod', 'requested', '{}'),
          ('rb-1', 'finished', 2, 'dana', 'rollback', 'component:default/a', 'prod', 'succeeded', '{}'),
          ('run-1', 'requested', 3, 'dana', 'runbook-run', 'component:default/a', 'drain-region.yml', 'requested', '{}'),
          ('open-1', 'requested', 4, 'dana', 'runbook-open', 'component:default/a', '-', 'requested', '{}')";

    #[tokio::test]
    async fn typing_the_targets_keeps_every_row() {
        let options = sqlx::sqlite::SqliteConnectOptions::new().in_memory(true);
        let mut conn = sqlx::ConnectOptions::connect(&options).await.unwrap();
        sqlx::raw_sql(include_str!("migrations/20261126000005_audit_log.sql"))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::raw_sql(BEFORE_TYPED_TARGETS)
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::raw_sql(include_str!(
            "migrations/20261202000007_typed_audit_log.sql"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        let rows = sqlx::query("SELECT * FROM audit_log ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let steps: Vec<AuditStep> = rows.iter().map(|r| step_of(r).unwrap()).collect();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[1].target, ActionTarget::environment("prod"));
        assert_eq!(steps[1].state, "succeeded");
        assert_eq!(
            steps[2].target,
            ActionTarget::Workflow {
                workflow: "drain-region.yml".into()
            }
        );
        assert_eq!(steps[3].target, ActionTarget::Service);
        for statement in ["UPDATE audit_log SET state = 'x'", "DELETE FROM audit_log"] {
            assert!(sqlx::query(statement).execute(&mut conn).await.is_err());
        }
    }
}
