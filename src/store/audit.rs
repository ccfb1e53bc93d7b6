//! The audit log: steps of the actions Opsdeck takes on platforms, in a file of its own beside
//! the cache, appended and never changed (the schema's triggers refuse updates and deletes),
//! each row chained to the one before by a hash so that a change made behind Opsdeck's back
//! is found. Sync never touches it.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

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
    /// Another action of the same kind on the same target has no outcome yet.
    InFlight(Box<AuditStep>),
}

/// The first place the audit log's chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The entry's position in the log.
    pub seq: i64,
    /// Its action.
    pub action_key: String,
    /// What is wrong, for people.
    pub problem: String,
}

/// The chain's first link: what the first entry names as the one before it.
const GENESIS: &str = "";

impl Store {
    /// Appends `requested` for an action, flushed to disk before it returns, unless its key
    /// was requested before or another action of its kind on the same target, requested at or
    /// after `unfinished_since`, has no `finished` step, whichever service asked. Checked and
    /// written in one immediate transaction, so two windows or processes cannot both start.
    pub async fn begin_action(
        &self,
        requested: &AuditStep,
        unfinished_since: DateTime<Utc>,
    ) -> Result<Begun, StoreError> {
        let _writing = self.audit_writer.lock().await;
        let mut conn = self.audit.acquire().await?;
        // An action whose record could be lost to a power cut after the call is worse than a
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
                (requested.kind, &requested.target),
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
        end_transaction(&mut conn, outcome.is_ok()).await?;
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *conn)
            .await?;
        outcome
    }

    /// The newest action of `kind` on `target` requested at or after `since` that has no
    /// `finished` step: what holds another one off.
    pub async fn unfinished_action(
        &self,
        (kind, target): (ActionKind, &ActionTarget),
        since: DateTime<Utc>,
    ) -> Result<Option<AuditStep>, StoreError> {
        let mut conn = self.audit.acquire().await?;
        unfinished(&mut conn, (kind, target), since).await
    }

    /// Appends a later step of an action.
    pub async fn append_audit(&self, step: &AuditStep) -> Result<(), StoreError> {
        let _writing = self.audit_writer.lock().await;
        let mut conn = self.audit.acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let outcome = insert(&mut conn, step).await;
        end_transaction(&mut conn, outcome.is_ok()).await?;
        outcome
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
        .fetch_all(&self.audit)
        .await?;
        rows.iter().map(step_of).collect()
    }

    /// The steps of the last `limit` actions of one of `kinds` on a target (by its stored kind
    /// and value), oldest first.
    pub async fn audit_steps_of_target(
        &self,
        kinds: &[ActionKind],
        target_kind: &str,
        target: &str,
        limit: i64,
    ) -> Result<Vec<AuditStep>, StoreError> {
        let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let rows = sqlx::query(
            "SELECT * FROM audit_log WHERE action_key IN (
                 SELECT action_key FROM audit_log
                 WHERE action IN (SELECT value FROM json_each(?1)) AND target_kind = ?2
                     AND target = ?3 AND step = 'requested'
                 ORDER BY seq DESC LIMIT ?4)
             ORDER BY seq",
        )
        .bind(serde_json::to_string(&kinds).expect("strings serialise"))
        .bind(target_kind)
        .bind(target)
        .bind(limit)
        .fetch_all(&self.audit)
        .await?;
        rows.iter().map(step_of).collect()
    }

    /// The steps of one action, oldest first.
    pub async fn action_steps(&self, action_key: &str) -> Result<Vec<AuditStep>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE action_key = ? ORDER BY seq")
            .bind(action_key)
            .fetch_all(&self.audit)
            .await?;
        rows.iter().map(step_of).collect()
    }

    /// Walks the whole log in order and checks each entry's hash and its link to the one
    /// before: how many entries hold, and the first that does not.
    pub async fn verify_audit(&self) -> Result<(i64, Option<BrokenLink>), StoreError> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query("SELECT * FROM audit_log ORDER BY seq").fetch(&self.audit);
        let mut previous: Option<(i64, String)> = None;
        let mut held = 0;
        while let Some(row) = rows.try_next().await? {
            let seq: i64 = row.try_get("seq")?;
            let action_key: String = row.try_get("action_key")?;
            let prev_hash: String = row.try_get("prev_hash")?;
            let hash: String = row.try_get("hash")?;
            let broken = |problem: String| BrokenLink {
                seq,
                action_key: action_key.clone(),
                problem,
            };
            let expected_prev = previous.as_ref().map_or(GENESIS, |(_, h)| h.as_str());
            let expected_seq = previous.as_ref().map_or(1, |(before, _)| before + 1);
            // Numbers are handed out once, so a gap is a deletion even where the rows after
            // it were chained to what was left.
            if prev_hash != expected_prev || seq != expected_seq {
                let problem = match &previous {
                    None => "the first entry left is not the log's first: entries before it were deleted".to_string(),
                    Some((before, _)) => format!(
                        "it does not follow entry {before}: an entry between them was deleted, or the order was changed"
                    ),
                };
                return Ok((held, Some(broken(problem))));
            }
            if hash_of(&row, &prev_hash)? != hash {
                return Ok((
                    held,
                    Some(broken(
                        "its content does not match its hash: it was edited".to_string(),
                    )),
                ));
            }
            held += 1;
            previous = Some((seq, hash));
        }
        Ok((held, None))
    }

    /// Moves the rows the cache held before the log had its own file into the log, chained,
    /// then drops them from the cache. Runs at open; a move cut short is redone whole, since
    /// the log takes rows only in one transaction and the cache drops them only after.
    pub(super) async fn move_audit_rows_from_cache(&self) -> Result<(), StoreError> {
        let waiting: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_log_to_move'",
        )
        .fetch_optional(&self.pool)
        .await?;
        if waiting.is_none() {
            return Ok(());
        }
        let rows = sqlx::query("SELECT * FROM audit_log_to_move ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        let moved: Vec<AuditStep> = rows
            .iter()
            .map(|row| {
                let kind: String = row.try_get("target_kind")?;
                let value: String = row.try_get("target")?;
                step_with_target(row, ActionTarget::from_columns(&kind, &value, ""), &kind)
            })
            .collect::<Result<_, _>>()?;
        let _writing = self.audit_writer.lock().await;
        let mut conn = self.audit.acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let outcome = async {
            for step in &moved {
                insert(&mut conn, step).await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        end_transaction(&mut conn, outcome.is_ok()).await?;
        outcome?;
        sqlx::query("DROP TABLE audit_log_to_move")
            .execute(&self.pool)
            .await?;
        if !moved.is_empty() {
            tracing::info!(
                entries = moved.len(),
                "moved the audit log into its own file"
            );
        }
        Ok(())
    }
}

/// Commits the transaction `conn` holds when `ok`, else rolls it back.
async fn end_transaction(conn: &mut SqliteConnection, ok: bool) -> Result<(), StoreError> {
    let end = if ok { "COMMIT" } else { "ROLLBACK" };
    sqlx::query(end).execute(&mut *conn).await?;
    Ok(())
}

async fn unfinished(
    conn: &mut SqliteConnection,
    (kind, target): (ActionKind, &ActionTarget),
    since: DateTime<Utc>,
) -> Result<Option<AuditStep>, StoreError> {
    let (target_kind, value, detail) = target.columns();
    let row = sqlx::query(
        "SELECT r.* FROM audit_log r
         WHERE r.step = 'requested' AND r.action = ?
           AND r.target_kind = ? AND r.target = ? AND r.target_detail = ? AND r.at >= ?
           AND NOT EXISTS (SELECT 1 FROM audit_log f
                           WHERE f.action_key = r.action_key AND f.step = 'finished')
         ORDER BY r.seq DESC LIMIT 1",
    )
    .bind(kind.as_str())
    .bind(target_kind)
    .bind(value)
    .bind(detail)
    .bind(since.timestamp())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(step_of).transpose()
}

/// Appends `step` after the log's last entry, chained to it. The caller holds the writer and
/// a transaction, so no other entry comes between reading the last hash and writing.
async fn insert(conn: &mut SqliteConnection, step: &AuditStep) -> Result<(), StoreError> {
    let prev_hash: String =
        sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or_else(|| GENESIS.to_string());
    let seq: i64 = sqlx::query_scalar(
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'), 0) + 1",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (target_kind, target, detail) = step.target.columns();
    let fields = Fields {
        seq,
        action_key: &step.action_key,
        step: step.step.as_str(),
        at: step.at.timestamp(),
        actor: &step.actor,
        action: step.kind.as_str(),
        service: &step.service,
        target_kind,
        target: &target,
        target_detail: detail,
        state: &step.state,
        body: &step.body.to_string(),
    };
    let hash = fields.hash(&prev_hash);
    sqlx::query(
        "INSERT INTO audit_log (seq, action_key, step, at, actor, action, service, target_kind,
             target, target_detail, state, body, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(fields.seq)
    .bind(fields.action_key)
    .bind(fields.step)
    .bind(fields.at)
    .bind(fields.actor)
    .bind(fields.action)
    .bind(fields.service)
    .bind(fields.target_kind)
    .bind(fields.target)
    .bind(fields.target_detail)
    .bind(fields.state)
    .bind(fields.body)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An entry's content, as its hash covers it.
struct Fields<'a> {
    seq: i64,
    action_key: &'a str,
    step: &'a str,
    at: i64,
    actor: &'a str,
    action: &'a str,
    service: &'a str,
    target_kind: &'a str,
    target: &'a str,
    target_detail: &'a str,
    state: &'a str,
    body: &'a str,
}

impl Fields<'_> {
    /// SHA-256 over the previous hash and every field, as one JSON array: unambiguous however
    /// the fields' text runs together.
    fn hash(&self, prev_hash: &str) -> String {
        let canonical = serde_json::json!([
            prev_hash,
            self.seq,
            self.action_key,
            self.step,
            self.at,
            self.actor,
            self.action,
            self.service,
            self.target_kind,
            self.target,
            self.target_detail,
            self.state,
            self.body,
        ]);
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The hash a stored row should carry, from its own columns.
fn hash_of(row: &SqliteRow, prev_hash: &str) -> Result<String, StoreError> {
    let text = |column: &str| -> Result<String, StoreError> { Ok(row.try_get(column)?) };
    let (action_key, step, actor, action, service) = (
        text("action_key")?,
        text("step")?,
        text("actor")?,
        text("action")?,
        text("service")?,
    );
    let (target_kind, target, target_detail, state, body) = (
        text("target_kind")?,
        text("target")?,
        text("target_detail")?,
        text("state")?,
        text("body")?,
    );
    Ok(Fields {
        seq: row.try_get("seq")?,
        action_key: &action_key,
        step: &step,
        at: row.try_get("at")?,
        actor: &actor,
        action: &action,
        service: &service,
        target_kind: &target_kind,
        target: &target,
        target_detail: &target_detail,
        state: &state,
        body: &body,
    }
    .hash(prev_hash))
}

fn step_of(row: &SqliteRow) -> Result<AuditStep, StoreError> {
    let kind: String = row.try_get("target_kind")?;
    let value: String = row.try_get("target")?;
    let detail: String = row.try_get("target_detail")?;
    step_with_target(
        row,
        ActionTarget::from_columns(&kind, &value, &detail),
        &kind,
    )
}

fn step_with_target(
    row: &SqliteRow,
    target: Option<ActionTarget>,
    target_kind: &str,
) -> Result<AuditStep, StoreError> {
    let word = |column: &str| -> Result<String, StoreError> { Ok(row.try_get(column)?) };
    let unknown = |column: &str, value: &str| {
        StoreError::Corrupt(format!(
            "audit_log.{column}: '{value}' is not a word it knows"
        ))
    };
    let (step, kind) = (word("step")?, word("action")?);
    Ok(AuditStep {
        action_key: row.try_get("action_key")?,
        step: Step::parse(&step).ok_or_else(|| unknown("step", &step))?,
        at: DateTime::from_timestamp(row.try_get("at")?, 0).unwrap_or_default(),
        actor: row.try_get("actor")?,
        kind: ActionKind::parse(&kind).ok_or_else(|| unknown("action", &kind))?,
        service: row.try_get("service")?,
        target: target.ok_or_else(|| unknown("target_kind", target_kind))?,
        state: row.try_get("state")?,
        body: decode_json("audit_log.body", &row.try_get::<String, _>("body")?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(target: &str) -> ActionTarget {
        ActionTarget::Deployment {
            target: target.into(),
            environment: "prod".into(),
        }
    }

    fn step(key: &str, step: Step, service: &str, target: &str) -> AuditStep {
        AuditStep {
            action_key: key.into(),
            step,
            at: Utc::now(),
            actor: "dana@demo.opsdeck.dev".into(),
            kind: ActionKind::Rollback,
            service: service.into(),
            target: deployment(target),
            state: step.as_str().into(),
            body: serde_json::json!({"to": "v1"}),
        }
    }

    #[tokio::test]
    async fn a_key_starts_once_and_one_action_per_target_runs_at_a_time() {
        let store = Store::in_memory().await.unwrap();
        let since = Utc::now() - chrono::Duration::minutes(15);
        let (a, b) = ("component:default/a", "component:default/b");
        let first = step("k1", Step::Requested, a, "argocd-app:shop");
        assert_eq!(
            store.begin_action(&first, since).await.unwrap(),
            Begun::Started
        );
        assert_eq!(
            store.begin_action(&first, since).await.unwrap(),
            Begun::AlreadyRequested
        );
        // Another service wired to the same application waits too.
        let same_app = step("k2", Step::Requested, b, "argocd-app:shop");
        assert!(matches!(
            store.begin_action(&same_app, since).await.unwrap(),
            Begun::InFlight(held) if held.action_key == "k1"
        ));
        let elsewhere = step("k3", Step::Requested, a, "argocd-app:cart");
        assert_eq!(
            store.begin_action(&elsewhere, since).await.unwrap(),
            Begun::Started
        );
        store
            .append_audit(&step("k1", Step::Finished, a, "argocd-app:shop"))
            .await
            .unwrap();
        assert_eq!(
            store.begin_action(&same_app, since).await.unwrap(),
            Begun::Started
        );
        let steps = store.audit_steps(Some(a), 10).await.unwrap();
        let keys: Vec<(&str, Step)> = steps
            .iter()
            .map(|s| (s.action_key.as_str(), s.step))
            .collect();
        assert_eq!(
            keys,
            [
                ("k1", Step::Requested),
                ("k3", Step::Requested),
                ("k1", Step::Finished)
            ]
        );
        assert_eq!(store.verify_audit().await.unwrap(), (4, None));
    }

    #[tokio::test]
    async fn nothing_in_the_log_can_be_changed_or_removed() {
        let store = Store::in_memory().await.unwrap();
        store
            .append_audit(&step(
                "k1",
                Step::Requested,
                "component:default/a",
                "github:o/r",
            ))
            .await
            .unwrap();
        for statement in [
            "UPDATE audit_log SET state = 'succeeded'",
            "DELETE FROM audit_log",
        ] {
            let refused = sqlx::query(statement)
                .execute(&store.audit)
                .await
                .unwrap_err();
            assert!(refused.to_string().contains("append-only"), "{refused}");
        }
        assert_eq!(store.action_steps("k1").await.unwrap().len(), 1);
        let unknown = sqlx::query(
            "INSERT INTO audit_log (action_key, step, at, actor, action, service, target_kind,
                 target, target_detail, state, body, prev_hash, hash)
             VALUES ('k9', 'requested', 0, 'x', 'delete-prod', 'c', 'deployment', 'prod', '', 's', '{}', '', '')",
        )
        .execute(&store.audit)
        .await
        .unwrap_err();
        assert!(unknown.to_string().contains("known actions"), "{unknown}");
    }

    /// A log of six entries, then `tamper` run on it with the triggers dropped, as someone
    /// with the file and `sqlite3` could.
    async fn tampered(tamper: &str) -> Option<BrokenLink> {
        let store = Store::in_memory().await.unwrap();
        for (key, service) in [("k1", "a"), ("k2", "b"), ("k3", "c")] {
            for at in [Step::Requested, Step::Finished] {
                store
                    .append_audit(&step(key, at, service, "github:o/r"))
                    .await
                    .unwrap();
            }
        }
        assert_eq!(store.verify_audit().await.unwrap(), (6, None));
        sqlx::raw_sql(&format!(
            "DROP TRIGGER audit_log_is_append_only_update;
             DROP TRIGGER audit_log_is_append_only_delete;
             {tamper}"
        ))
        .execute(&store.audit)
        .await
        .unwrap();
        store.verify_audit().await.unwrap().1
    }

    #[tokio::test]
    async fn verify_names_the_first_edited_deleted_or_reordered_entry() {
        let edited = tampered("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
            .await
            .unwrap();
        assert_eq!((edited.seq, edited.action_key.as_str()), (3, "k2"));
        assert!(edited.problem.contains("edited"), "{}", edited.problem);

        let deleted = tampered("DELETE FROM audit_log WHERE seq = 4")
            .await
            .unwrap();
        assert_eq!(deleted.seq, 5);
        assert!(deleted.problem.contains("entry 3"), "{}", deleted.problem);

        let first_gone = tampered("DELETE FROM audit_log WHERE seq = 1")
            .await
            .unwrap();
        assert_eq!(first_gone.seq, 2);
        assert!(first_gone.problem.contains("before it were deleted"));

        let reordered = tampered(
            "UPDATE audit_log SET seq = 100 WHERE seq = 2;
             UPDATE audit_log SET seq = 2 WHERE seq = 5;
             UPDATE audit_log SET seq = 5 WHERE seq = 100;",
        )
        .await
        .unwrap();
        assert_eq!(reordered.seq, 2);

        // Rewriting a row and its hash in place still breaks the next link.
        let rehashed =
            tampered("UPDATE audit_log SET actor = 'mallory', hash = 'forged' WHERE seq = 3")
                .await
                .unwrap();
        assert_eq!(rehashed.seq, 3);
        assert_eq!(tampered("SELECT 1").await, None);
    }

    /// The cache's log as the version before its own file wrote it: a rollback, a runbook run
    /// and a runbook opened.
    const BEFORE_ITS_OWN_FILE: &str = "
        INSERT INTO audit_log (action_key, step, at, actor, action, service, target_kind, target, state, body) VALUES
          ('rb-1', 'requested', 1, 'dana', 'rollback', 'component:default/a', 'environment', 'prod', 'requested', '{}'),
          ('rb-1', 'finished', 2, 'dana', 'rollback', 'component:default/a', 'environment', 'prod', 'succeeded', '{}'),
          ('run-1', 'requested', 3, 'dana', 'runbook-run', 'component:default/a', 'workflow', 'drain-region.yml', 'requested', '{}'),
          ('open-1', 'requested', 4, 'dana', 'runbook-open', 'component:default/a', 'service', '', 'requested', '{}')";

    #[tokio::test]
    async fn the_caches_log_moves_to_its_own_file_whole_and_chained() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache.sqlite");
        {
            // The cache as the version before wrote it: every migration but the move.
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&cache)
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            let before = sqlx::migrate::Migrator {
                migrations: std::borrow::Cow::Owned(
                    super::super::MIGRATOR
                        .migrations
                        .iter()
                        .filter(|m| m.version < 20261202000008)
                        .cloned()
                        .collect(),
                ),
                ..sqlx::migrate::Migrator::DEFAULT
            };
            before.run(&pool).await.unwrap();
            sqlx::raw_sql(BEFORE_ITS_OWN_FILE)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        let store = Store::open(&cache).await.unwrap();
        let steps = store.audit_steps(None, 10).await.unwrap();
        assert_eq!(steps.len(), 4);
        assert_eq!(
            steps[1].target,
            ActionTarget::Environment {
                name: "prod".into()
            }
        );
        assert_eq!(steps[1].state, "succeeded");
        assert_eq!(
            steps[2].target,
            ActionTarget::Workflow {
                repo: String::new(),
                workflow: "drain-region.yml".into(),
                git_ref: String::new(),
            }
        );
        assert_eq!(steps[3].target, ActionTarget::Service);
        assert_eq!(store.verify_audit().await.unwrap(), (4, None));
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name LIKE 'audit_log%'")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!(left, 0, "the cache holds no audit log any more");
        drop(store);

        // The cache deleted: the log is kept, and a fresh cache moves nothing twice.
        std::fs::remove_file(&cache).unwrap();
        let store = Store::open(&cache).await.unwrap();
        assert_eq!(store.verify_audit().await.unwrap(), (4, None));
        #[cfg(unix)]
        for file in [&cache, &super::super::audit_path_of(&cache)] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
}
