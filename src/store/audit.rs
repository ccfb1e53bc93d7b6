//! The audit log: steps of the actions Opsdeck takes on platforms, appended and never changed
//! (the schema refuses updates and deletes), each row chained to the one before by a hash so
//! that a change made behind Opsdeck's back is found. It lives in a file of its own beside the
//! cache, or in a PostgreSQL database shared by everyone pointed at it, where each row says
//! from which machine it came. Sync never touches it.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use sqlx::Row;

use super::postgres::{self, SharedDatabase};
use super::{decode_json, on_backend, Backend, Store, StoreError, Writes};
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
    /// The machine it was taken from (its host name); empty in entries from before.
    pub machine: String,
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

/// Where the audit log is kept.
#[derive(Debug, Clone, Default)]
pub enum AuditLocation {
    /// In a file beside the cache: this machine's own (in a shared cache's database: shared).
    #[default]
    BesideCache,
    /// In a PostgreSQL database of its own, shared by everyone pointed at it.
    Postgres(SharedDatabase),
}

impl AuditLocation {
    /// The PostgreSQL database at `url` (its password, when it needs one, from
    /// [`AuditLocation::with_password`] or PostgreSQL's own PGPASSWORD and ~/.pgpass).
    pub fn shared(url: &str) -> Result<Self, StoreError> {
        SharedDatabase::parse(url)
            .map(Self::Postgres)
            .map_err(|message| StoreError::SharedAuditLog {
                at: "[audit] url".into(),
                message,
            })
    }

    /// The same, connecting with `password`.
    pub fn with_password(self, password: &str) -> Self {
        match self {
            Self::BesideCache => self,
            Self::Postgres(shared) => Self::Postgres(shared.with_password(password)),
        }
    }
}

/// The audit log's database.
pub(super) type AuditDb = Backend<SqlitePool, PgPool>;
/// A connection to it, inside the transaction of an append.
type AuditConnection<'c> = Backend<&'c mut SqliteConnection, &'c mut PgConnection>;

/// The chain's first link: what the first entry names as the one before it.
const GENESIS: &str = "";

/// The advisory lock every append to a shared log holds for its transaction, so entries are
/// chained one at a time whichever machine writes them (any role may take one, unlike a
/// table lock strong enough for this, which needs more than the right to insert).
const SHARED_APPEND_LOCK: i64 = 0x6f70_7364_6563_6b41; // "opsdeckA"

/// A shared audit log's pool, connected when first used: a database that cannot be reached
/// costs the actions their record (and so the actions), never the screens the cache answers.
pub(super) fn open_shared(options: &PgConnectOptions) -> AuditDb {
    Backend::Postgres(postgres::lazy_pool(options, 4))
}

/// Reaches a shared audit log and brings its schema up to date, unless it is already.
async fn check_shared(pool: &PgPool) -> Result<(), StoreError> {
    postgres::reach_and_migrate(
        pool,
        &postgres::AUDIT_MIGRATOR,
        "[audit] url (or [cache] url)",
        &format!(
            "password_env, `opsdeck login {}`, PGPASSWORD or ~/.pgpass",
            crate::config::AUDIT_LOG_SECRET
        ),
        "SELECT and INSERT on audit_log",
    )
    .await
    .map_err(|message| StoreError::SharedAuditLog {
        at: postgres::describe(&pool.connect_options()),
        message,
    })
}

impl Store {
    /// The audit log's database, checked the first time a shared one is used (reached, its
    /// schema current); until that succeeds each use tries again and says why it failed.
    async fn audit_db(&self) -> Result<&AuditDb, StoreError> {
        if let Backend::Postgres(pool) = &self.audit {
            self.audit_checked
                .get_or_try_init(|| check_shared(pool))
                .await?;
        }
        Ok(&self.audit)
    }
}

/// The channel a shared log's trigger tells each entry on (see its migration).
const APPENDED_CHANNEL: &str = "opsdeck_audit_appended";

/// What an append does inside its transaction.
enum Append<'a> {
    /// An action's first step, unless it may not start (see [`Store::begin_action`]).
    Begin(&'a AuditStep, DateTime<Utc>),
    /// Steps, in order.
    Steps(&'a [AuditStep]),
}

impl Store {
    /// Appends `requested` for an action, flushed to disk before it returns, unless its key
    /// was requested before or another action of its kind on the same target, requested at or
    /// after `unfinished_since`, has no `finished` step, whichever service asked. Checked and
    /// written in one transaction that appends alone, so two windows, processes or machines
    /// cannot both start.
    pub async fn begin_action(
        &self,
        requested: &AuditStep,
        unfinished_since: DateTime<Utc>,
    ) -> Result<Begun, StoreError> {
        self.append(Append::Begin(requested, unfinished_since))
            .await
    }

    /// The newest action of `kind` on `target` requested at or after `since` that has no
    /// `finished` step: what holds another one off.
    pub async fn unfinished_action(
        &self,
        (kind, target): (ActionKind, &ActionTarget),
        since: DateTime<Utc>,
    ) -> Result<Option<AuditStep>, StoreError> {
        on_backend!(self.audit_db().await?, pool => {
            let mut conn = pool.acquire().await?;
            unfinished((&mut *conn).into(), (kind, target), since).await
        })
    }

    /// Appends a later step of an action.
    pub async fn append_audit(&self, step: &AuditStep) -> Result<(), StoreError> {
        self.append(Append::Steps(std::slice::from_ref(step)))
            .await
            .map(drop)
    }

    /// Runs `append` in a transaction no other append runs beside, committed (and synced to
    /// disk) before it returns: an action whose record could be lost to a power cut after the
    /// call is worse than a slower write.
    async fn append(&self, append: Append<'_>) -> Result<Begun, StoreError> {
        let _writing = self.audit_writer.lock().await;
        match self.audit_db().await? {
            // A transaction, not a BEGIN of its own: an append given up partway (its caller
            // gone) is rolled back instead of leaving the log's write lock held for good.
            Backend::Sqlite(pool) => {
                let mut transaction = pool.write_transaction().await?;
                let outcome = appended(Backend::Sqlite(&mut *transaction), append).await;
                if outcome.is_ok() {
                    transaction.commit().await?;
                }
                outcome
            }
            Backend::Postgres(pool) => {
                let mut transaction = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(SHARED_APPEND_LOCK)
                    .execute(&mut *transaction)
                    .await?;
                let outcome = appended(Backend::Postgres(&mut *transaction), append).await;
                if outcome.is_ok() {
                    transaction.commit().await?;
                }
                outcome
            }
        }
    }

    /// The steps of the newest `limit` actions (of one service, when given), oldest step first.
    pub async fn audit_steps(
        &self,
        service: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditStep>, StoreError> {
        on_backend!(self.audit_db().await?, pool => {
            let rows = sqlx::query(
                "SELECT * FROM audit_log WHERE action_key IN (
                     SELECT action_key FROM audit_log
                     WHERE step = 'requested' AND ($1 IS NULL OR service = $1)
                     ORDER BY seq DESC LIMIT $2)
                 ORDER BY seq",
            )
            .bind(service)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter().map(step_of).collect()
        })
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
        let kinds = serde_json::to_string(&kinds).expect("strings serialise");
        let in_kinds = match self.audit {
            Backend::Sqlite(_) => "SELECT value FROM json_each($1)",
            Backend::Postgres(_) => "SELECT jsonb_array_elements_text($1::jsonb)",
        };
        let query = format!(
            "SELECT * FROM audit_log WHERE action_key IN (
                 SELECT action_key FROM audit_log
                 WHERE action IN ({in_kinds}) AND target_kind = $2
                     AND target = $3 AND step = 'requested'
                 ORDER BY seq DESC LIMIT $4)
             ORDER BY seq"
        );
        on_backend!(self.audit_db().await?, pool => {
            let rows = sqlx::query(&query)
                .bind(&kinds)
                .bind(target_kind)
                .bind(target)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(step_of).collect()
        })
    }

    /// The steps of one action, oldest first.
    pub async fn action_steps(&self, action_key: &str) -> Result<Vec<AuditStep>, StoreError> {
        on_backend!(self.audit_db().await?, pool => {
            let rows = sqlx::query("SELECT * FROM audit_log WHERE action_key = $1 ORDER BY seq")
                .bind(action_key)
                .fetch_all(pool)
                .await?;
            rows.iter().map(step_of).collect()
        })
    }

    /// Walks the whole log in order and checks each entry's hash and its link to the one
    /// before: how many entries hold, and the first that does not.
    pub async fn verify_audit(&self) -> Result<(i64, Option<BrokenLink>), StoreError> {
        use futures_util::TryStreamExt;
        let mut chain = Chain::default();
        on_backend!(self.audit_db().await?, pool => {
            let mut rows = sqlx::query("SELECT * FROM audit_log ORDER BY seq").fetch(pool);
            while let Some(row) = rows.try_next().await? {
                if let Some(broken) = chain.link(&row)? {
                    return Ok((chain.held, Some(broken)));
                }
            }
        });
        Ok((chain.held, None))
    }

    /// Calls `appended` with the action's key each time an entry is appended to a shared log,
    /// by any client, for as long as the future runs; and once more after a lost connection
    /// came back (what was appended meanwhile was not heard). Returns at once for a log
    /// beside the cache: only this machine writes that one.
    pub async fn follow_audit(&self, appended: &(dyn Fn(&str) + Send + Sync)) {
        if let Backend::Postgres(pool) = &self.audit {
            postgres::follow(pool, APPENDED_CHANNEL, "the shared audit log", appended).await;
        }
    }

    /// Moves the rows the cache held before the log had its own file into the log, chained,
    /// then drops them from the cache. Runs at open; a move cut short is redone whole, since
    /// the log takes rows only in one transaction and the cache drops them only after.
    pub(super) async fn move_audit_rows_from_cache(&self) -> Result<(), StoreError> {
        // Processes opening the cache at once each find the rows: one moves them, under the
        // cache's write lock, and the others find them gone (not moved twice).
        // A PostgreSQL cache never held the log.
        let Backend::Sqlite(pool) = &self.cache else {
            return Ok(());
        };
        let mut cache = pool.write_transaction().await?;
        let waiting: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_log_to_move'",
        )
        .fetch_optional(&mut *cache)
        .await?;
        if waiting.is_none() {
            return Ok(());
        }
        let rows = sqlx::query("SELECT *, '' AS machine FROM audit_log_to_move ORDER BY seq")
            .fetch_all(&mut *cache)
            .await?;
        let moved: Vec<AuditStep> = rows
            .iter()
            .map(|row| {
                let kind: String = row.try_get("target_kind")?;
                let value: String = row.try_get("target")?;
                step_with_target(row, ActionTarget::from_columns(&kind, &value, ""), &kind)
            })
            .collect::<Result<_, _>>()?;
        if !moved.is_empty() {
            self.append(Append::Steps(&moved)).await?;
        }
        sqlx::query("DROP TABLE audit_log_to_move")
            .execute(&mut *cache)
            .await?;
        cache.commit().await?;
        if !moved.is_empty() {
            tracing::info!(
                entries = moved.len(),
                "moved the audit log into its own file"
            );
        }
        Ok(())
    }
}

impl<'c> From<&'c mut SqliteConnection> for AuditConnection<'c> {
    fn from(conn: &'c mut SqliteConnection) -> Self {
        Backend::Sqlite(conn)
    }
}

impl<'c> From<&'c mut PgConnection> for AuditConnection<'c> {
    fn from(conn: &'c mut PgConnection) -> Self {
        Backend::Postgres(conn)
    }
}

/// What `append` does, in the transaction `conn` holds.
async fn appended(mut conn: AuditConnection<'_>, append: Append<'_>) -> Result<Begun, StoreError> {
    match append {
        Append::Begin(requested, unfinished_since) => {
            let held: i64 = on_backend!(&mut conn, c => sqlx::query_scalar(
                "SELECT count(*) FROM audit_log WHERE action_key = $1 AND step = 'requested'",
            )
            .bind(&requested.action_key)
            .fetch_one(&mut **c)
            .await?);
            if held > 0 {
                return Ok(Begun::AlreadyRequested);
            }
            let target = (requested.kind, &requested.target);
            if let Some(step) = unfinished(reborrow(&mut conn), target, unfinished_since).await? {
                return Ok(Begun::InFlight(Box::new(step)));
            }
            insert(&mut conn, requested).await?;
        }
        Append::Steps(steps) => {
            for step in steps {
                insert(&mut conn, step).await?;
            }
        }
    }
    Ok(Begun::Started)
}

fn reborrow<'s>(conn: &'s mut AuditConnection<'_>) -> AuditConnection<'s> {
    on_backend!(conn, c => (&mut **c).into())
}

async fn unfinished(
    mut conn: AuditConnection<'_>,
    (kind, target): (ActionKind, &ActionTarget),
    since: DateTime<Utc>,
) -> Result<Option<AuditStep>, StoreError> {
    let (target_kind, value, detail) = target.columns();
    on_backend!(&mut conn, c => {
        let row = sqlx::query(
            "SELECT r.* FROM audit_log r
             WHERE r.step = 'requested' AND r.action = $1
               AND r.target_kind = $2 AND r.target = $3 AND r.target_detail = $4 AND r.at >= $5
               AND NOT EXISTS (SELECT 1 FROM audit_log f
                               WHERE f.action_key = r.action_key AND f.step = 'finished')
             ORDER BY r.seq DESC LIMIT 1",
        )
        .bind(kind.as_str())
        .bind(target_kind)
        .bind(value)
        .bind(detail)
        .bind(since.timestamp())
        .fetch_optional(&mut **c)
        .await?;
        row.as_ref().map(step_of).transpose()
    })
}

/// Appends `step` after the log's last entry, chained to it. The caller holds the writer and
/// a transaction no other append runs beside, so no entry comes between reading the last
/// hash and writing.
async fn insert(conn: &mut AuditConnection<'_>, step: &AuditStep) -> Result<(), StoreError> {
    // SQLite's counter outlives a deleted last row, so its removal shows as a gap; a shared
    // log's rows cannot be deleted by the roles that append (see its migration).
    let next_seq = match conn {
        Backend::Sqlite(_) => {
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'), 0) + 1"
        }
        Backend::Postgres(_) => "SELECT coalesce(max(seq), 0) + 1 FROM audit_log",
    };
    let (target_kind, target, detail) = step.target.columns();
    let body = step.body.to_string();
    on_backend!(conn, c => {
        let prev_hash: String =
            sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut **c)
                .await?
                .unwrap_or_else(|| GENESIS.to_string());
        let seq: i64 = sqlx::query_scalar(next_seq).fetch_one(&mut **c).await?;
        let fields = Fields {
            seq,
            action_key: &step.action_key,
            step: step.step.as_str(),
            at: step.at.timestamp(),
            actor: &step.actor,
            machine: &step.machine,
            action: step.kind.as_str(),
            service: &step.service,
            target_kind,
            target: &target,
            target_detail: detail,
            state: &step.state,
            body: &body,
        };
        let hash = fields.hash(&prev_hash);
        sqlx::query(
            "INSERT INTO audit_log (seq, action_key, step, at, actor, machine, action, service,
                 target_kind, target, target_detail, state, body, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(fields.seq)
        .bind(fields.action_key)
        .bind(fields.step)
        .bind(fields.at)
        .bind(fields.actor)
        .bind(fields.machine)
        .bind(fields.action)
        .bind(fields.service)
        .bind(fields.target_kind)
        .bind(fields.target)
        .bind(fields.target_detail)
        .bind(fields.state)
        .bind(fields.body)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut **c)
        .await?;
    });
    Ok(())
}

/// A walk along the log, entry by entry.
#[derive(Default)]
struct Chain {
    /// The entry before: its position and hash.
    previous: Option<(i64, String)>,
    /// How many entries held so far.
    held: i64,
}

impl Chain {
    /// Checks `row` against the entry before it: the first problem, if it has one.
    fn link(&mut self, row: &impl AuditRow) -> Result<Option<BrokenLink>, StoreError> {
        let seq = row.int("seq")?;
        let prev_hash = row.text("prev_hash")?;
        let broken = |problem: String| -> Result<_, StoreError> {
            Ok(Some(BrokenLink {
                seq,
                action_key: row.text("action_key")?,
                problem,
            }))
        };
        let expected_prev = self.previous.as_ref().map_or(GENESIS, |(_, h)| h.as_str());
        let expected_seq = self.previous.as_ref().map_or(1, |(before, _)| before + 1);
        // Numbers are handed out once, so a gap is a deletion even where the rows after it
        // were chained to what was left.
        if prev_hash != expected_prev || seq != expected_seq {
            return broken(match &self.previous {
                None => "the first entry left is not the log's first: entries before it were deleted".to_string(),
                Some((before, _)) => format!(
                    "it does not follow entry {before}: an entry between them was deleted, or the order was changed"
                ),
            });
        }
        let hash = row.text("hash")?;
        if hash_of(row, &prev_hash)? != hash {
            return broken("its content does not match its hash: it was edited".to_string());
        }
        self.held += 1;
        self.previous = Some((seq, hash));
        Ok(None)
    }
}

/// An entry's content, as its hash covers it.
struct Fields<'a> {
    seq: i64,
    action_key: &'a str,
    step: &'a str,
    at: i64,
    actor: &'a str,
    machine: &'a str,
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
    /// the fields' text runs together. The machine joined the log later: it is covered when
    /// there is one, so the entries from before keep their hashes.
    fn hash(&self, prev_hash: &str) -> String {
        let mut canonical = serde_json::json!([
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
        if !self.machine.is_empty() {
            canonical
                .as_array_mut()
                .expect("an array")
                .push(self.machine.into());
        }
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A row of the audit log, from either database.
trait AuditRow {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
}

impl AuditRow for SqliteRow {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
}

impl AuditRow for PgRow {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// The hash a stored row should carry, from its own columns.
fn hash_of(row: &impl AuditRow, prev_hash: &str) -> Result<String, StoreError> {
    let (action_key, step, actor, machine, action, service) = (
        row.text("action_key")?,
        row.text("step")?,
        row.text("actor")?,
        row.text("machine")?,
        row.text("action")?,
        row.text("service")?,
    );
    let (target_kind, target, target_detail, state, body) = (
        row.text("target_kind")?,
        row.text("target")?,
        row.text("target_detail")?,
        row.text("state")?,
        row.text("body")?,
    );
    Ok(Fields {
        seq: row.int("seq")?,
        action_key: &action_key,
        step: &step,
        at: row.int("at")?,
        actor: &actor,
        machine: &machine,
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

fn step_of(row: &impl AuditRow) -> Result<AuditStep, StoreError> {
    let kind = row.text("target_kind")?;
    let target =
        ActionTarget::from_columns(&kind, &row.text("target")?, &row.text("target_detail")?);
    step_with_target(row, target, &kind)
}

fn step_with_target(
    row: &impl AuditRow,
    target: Option<ActionTarget>,
    target_kind: &str,
) -> Result<AuditStep, StoreError> {
    let unknown = |column: &str, value: &str| {
        StoreError::Corrupt(format!(
            "audit_log.{column}: '{value}' is not a word it knows"
        ))
    };
    let (step, kind) = (row.text("step")?, row.text("action")?);
    Ok(AuditStep {
        action_key: row.text("action_key")?,
        step: Step::parse(&step).ok_or_else(|| unknown("step", &step))?,
        at: DateTime::from_timestamp(row.int("at")?, 0).unwrap_or_default(),
        actor: row.text("actor")?,
        machine: row.text("machine")?,
        kind: ActionKind::parse(&kind).ok_or_else(|| unknown("action", &kind))?,
        service: row.text("service")?,
        target: target.ok_or_else(|| unknown("target_kind", target_kind))?,
        state: row.text("state")?,
        body: decode_json("audit_log.body", &row.text("body")?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsdeck_test_postgres::{Cluster, SUPERUSER, SUPERUSER_PASSWORD};

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
            machine: "dana-laptop".into(),
            kind: ActionKind::Rollback,
            service: service.into(),
            target: deployment(target),
            state: step.as_str().into(),
            body: serde_json::json!({"to": "v1"}),
        }
    }

    /// A log shared in a fresh database of `cluster`, as its owner.
    async fn shared_log(cluster: &Cluster) -> Store {
        shared_log_in(cluster, &cluster.create_database()).await
    }

    /// The log in `database`, used once as its owner: created, its schema current.
    async fn shared_log_in(cluster: &Cluster, database: &str) -> Store {
        let store = Store::in_memory(&shared_at(cluster, SUPERUSER, database, SUPERUSER_PASSWORD))
            .await
            .unwrap();
        store.audit_steps(None, 1).await.unwrap();
        store
    }

    fn shared_at(cluster: &Cluster, user: &str, database: &str, password: &str) -> AuditLocation {
        AuditLocation::shared(&cluster.url(user, database))
            .unwrap()
            .with_password(password)
    }

    /// A log in a file of its own (in memory), and one shared in PostgreSQL where it is
    /// installed: every test of the log runs on both.
    async fn each_backend(cluster: &Option<Cluster>) -> Vec<Store> {
        let mut logs = vec![Store::in_memory(&AuditLocation::default()).await.unwrap()];
        if let Some(cluster) = cluster {
            logs.push(shared_log(cluster).await);
        }
        logs
    }

    async fn run(store: &Store, sql: &str) -> Result<(), sqlx::Error> {
        on_backend!(&store.audit, pool => sqlx::raw_sql(sql).execute(pool).await.map(drop))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_append_given_up_partway_leaves_the_log_writable_and_each_is_synced_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cache.sqlite"), &AuditLocation::default())
            .await
            .unwrap();
        let Backend::Sqlite(log) = &store.audit else {
            unreachable!("a log beside a SQLite cache is a file")
        };
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(log)
            .await
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
        let since = Utc::now() - chrono::Duration::minutes(15);
        let service = "component:default/a";
        // Every point an append can be given up at, from before its BEGIN to after its COMMIT.
        for polls in 1..=16 {
            let given_up = step(
                &format!("g{polls}"),
                Step::Requested,
                service,
                &format!("app:g{polls}"),
            );
            crate::store::given_up_after(store.begin_action(&given_up, since), polls).await;
            let next = step(
                &format!("n{polls}"),
                Step::Requested,
                service,
                &format!("app:n{polls}"),
            );
            let begun = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                store.begin_action(&next, since),
            )
            .await
            .unwrap_or_else(|_| {
                panic!("given up after {polls} polls, an append left the log locked")
            });
            assert_eq!(begun.unwrap(), Begun::Started, "after {polls} polls");
        }
        assert_eq!(store.verify_audit().await.unwrap().1, None);
    }

    #[tokio::test]
    async fn a_key_starts_once_and_one_action_per_target_runs_at_a_time() {
        let cluster = Cluster::start();
        for store in each_backend(&cluster).await {
            a_key_starts_once_and_one_action_per_target_runs_at_a_time_in(store).await;
        }
    }

    async fn a_key_starts_once_and_one_action_per_target_runs_at_a_time_in(store: Store) {
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
        assert_eq!(steps[0].machine, "dana-laptop");
        assert_eq!(store.verify_audit().await.unwrap(), (4, None));
    }

    #[tokio::test]
    async fn nothing_in_the_log_can_be_changed_or_removed() {
        let cluster = Cluster::start();
        for store in each_backend(&cluster).await {
            nothing_in_the_log_can_be_changed_or_removed_in(store).await;
        }
    }

    async fn nothing_in_the_log_can_be_changed_or_removed_in(store: Store) {
        store
            .append_audit(&step(
                "k1",
                Step::Requested,
                "component:default/a",
                "github:o/r",
            ))
            .await
            .unwrap();
        let emptied = match store.audit {
            Backend::Sqlite(_) => "DELETE FROM audit_log WHERE 1",
            Backend::Postgres(_) => "TRUNCATE audit_log",
        };
        for statement in [
            "UPDATE audit_log SET state = 'succeeded'",
            "DELETE FROM audit_log",
            emptied,
        ] {
            let refused = run(&store, statement).await.unwrap_err();
            assert!(refused.to_string().contains("append-only"), "{refused}");
        }
        assert_eq!(store.action_steps("k1").await.unwrap().len(), 1);
        let unknown = run(
            &store,
            "INSERT INTO audit_log (seq, action_key, step, at, actor, action, service, target_kind,
                 target, target_detail, state, body, prev_hash, hash)
             VALUES (9, 'k9', 'requested', 0, 'x', 'delete-prod', 'c', 'deployment', 'prod', '', 's', '{}', '', '')",
        )
        .await
        .unwrap_err();
        assert!(unknown.to_string().contains("known actions"), "{unknown}");
    }

    /// A log of six entries, then `tamper` run on it with the triggers dropped, as someone
    /// with the file and `sqlite3`, or the database's owner, could.
    async fn tampered(store: &Store, tamper: &str) -> Option<BrokenLink> {
        for (key, service) in [("k1", "a"), ("k2", "b"), ("k3", "c")] {
            for at in [Step::Requested, Step::Finished] {
                store
                    .append_audit(&step(key, at, service, "github:o/r"))
                    .await
                    .unwrap();
            }
        }
        assert_eq!(store.verify_audit().await.unwrap(), (6, None));
        let unguarded = match store.audit {
            Backend::Sqlite(_) => {
                "DROP TRIGGER audit_log_is_append_only_update;
                 DROP TRIGGER audit_log_is_append_only_delete;"
            }
            Backend::Postgres(_) => "DROP TRIGGER audit_log_is_append_only ON audit_log;",
        };
        run(store, &format!("{unguarded} {tamper}")).await.unwrap();
        store.verify_audit().await.unwrap().1
    }

    #[tokio::test]
    async fn verify_names_the_first_edited_deleted_or_reordered_entry() {
        let cluster = Cluster::start();
        // The same tampering, on a file's log and a shared one, is found the same way.
        let found = |tamper: &'static str| {
            let cluster = &cluster;
            async move {
                let store = match cluster {
                    Some(cluster) => shared_log(cluster).await,
                    None => Store::in_memory(&AuditLocation::default()).await.unwrap(),
                };
                let file = Store::in_memory(&AuditLocation::default()).await.unwrap();
                let broken = tampered(&file, tamper).await;
                assert_eq!(tampered(&store, tamper).await, broken, "{tamper}");
                broken
            }
        };
        let edited = found("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
            .await
            .unwrap();
        assert_eq!((edited.seq, edited.action_key.as_str()), (3, "k2"));
        assert!(edited.problem.contains("edited"), "{}", edited.problem);

        let deleted = found("DELETE FROM audit_log WHERE seq = 4").await.unwrap();
        assert_eq!(deleted.seq, 5);
        assert!(deleted.problem.contains("entry 3"), "{}", deleted.problem);

        let first_gone = found("DELETE FROM audit_log WHERE seq = 1").await.unwrap();
        assert_eq!(first_gone.seq, 2);
        assert!(first_gone.problem.contains("before it were deleted"));

        let reordered = found(
            "UPDATE audit_log SET seq = 100 WHERE seq = 2;
             UPDATE audit_log SET seq = 2 WHERE seq = 5;
             UPDATE audit_log SET seq = 5 WHERE seq = 100;",
        )
        .await
        .unwrap();
        assert_eq!(reordered.seq, 2);

        // Rewriting a row and its hash in place still breaks the next link.
        let rehashed =
            found("UPDATE audit_log SET actor = 'mallory', hash = 'forged' WHERE seq = 3")
                .await
                .unwrap();
        let machine_changed = found("UPDATE audit_log SET machine = 'elsewhere' WHERE seq = 2")
            .await
            .unwrap();
        assert_eq!(machine_changed.seq, 2);
        assert_eq!(rehashed.seq, 3);
        assert_eq!(found("SELECT 1").await, None);
    }

    #[tokio::test]
    async fn machines_sharing_a_log_see_each_others_actions_and_wait_for_them() {
        let Some(cluster) = Cluster::start() else {
            return;
        };
        let database = cluster.create_database();
        let location = shared_at(&cluster, SUPERUSER, &database, SUPERUSER_PASSWORD);
        let (ours, theirs) = (
            Store::in_memory(&location).await.unwrap(),
            Store::in_memory(&location).await.unwrap(),
        );
        let since = Utc::now() - chrono::Duration::minutes(15);
        let service = "component:default/a";
        let mut rollback = step("k1", Step::Requested, service, "argocd-app:shop");
        rollback.machine = "ops-laptop-7".into();
        assert_eq!(
            ours.begin_action(&rollback, since).await.unwrap(),
            Begun::Started
        );
        // The same key from another machine, or another rollback of the same application,
        // does not start while the first has no outcome.
        assert_eq!(
            theirs.begin_action(&rollback, since).await.unwrap(),
            Begun::AlreadyRequested
        );
        let second = step("k2", Step::Requested, service, "argocd-app:shop");
        assert!(matches!(
            theirs.begin_action(&second, since).await.unwrap(),
            Begun::InFlight(held) if held.machine == "ops-laptop-7"
        ));
        // Appends from both, at once, stay one chain.
        let appends = (0..20).map(|n| {
            let store = if n % 2 == 0 { &ours } else { &theirs };
            let progress = step("k1", Step::Progress, service, "argocd-app:shop");
            async move { store.append_audit(&progress).await }
        });
        for appended in futures_util::future::join_all(appends).await {
            appended.unwrap();
        }
        let seen = theirs.action_steps("k1").await.unwrap();
        assert_eq!(seen.len(), 21);
        assert_eq!(seen[0].machine, "ops-laptop-7");
        assert_eq!(theirs.verify_audit().await.unwrap(), (21, None));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_client_following_a_shared_log_hears_of_each_entry_another_appends() {
        let Some(cluster) = Cluster::start() else {
            return;
        };
        let database = cluster.create_database();
        let location = shared_at(&cluster, SUPERUSER, &database, SUPERUSER_PASSWORD);
        let (ours, theirs) = (
            Store::in_memory(&location).await.unwrap(),
            Store::in_memory(&location).await.unwrap(),
        );
        let (heard, mut hearing) = tokio::sync::mpsc::unbounded_channel::<String>();
        let follower = tokio::spawn(async move {
            ours.follow_audit(&move |key| {
                let _ = heard.send(key.to_string());
            })
            .await
        });
        // Until it listens, nothing is heard: append until the first is.
        let first = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            let mut n = 0;
            loop {
                n += 1;
                let key = format!("k{n}");
                theirs
                    .append_audit(&step(
                        &key,
                        Step::Requested,
                        "component:default/a",
                        "github:o/r",
                    ))
                    .await
                    .unwrap();
                if let Ok(Some(heard)) =
                    tokio::time::timeout(std::time::Duration::from_millis(200), hearing.recv())
                        .await
                {
                    break heard;
                }
            }
        })
        .await
        .expect("the follower hears an append");
        assert!(first.starts_with('k'), "{first}");
        theirs
            .append_audit(&step(
                "rb-9",
                Step::Requested,
                "component:default/a",
                "github:o/r",
            ))
            .await
            .unwrap();
        let heard = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                let key = hearing.recv().await.unwrap();
                if key == "rb-9" {
                    break key;
                }
            }
        })
        .await;
        assert_eq!(heard.as_deref(), Ok("rb-9"));
        follower.abort();
        // A log beside the cache has nobody else to hear.
        let beside = Store::in_memory(&AuditLocation::default()).await.unwrap();
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            beside.follow_audit(&|_| panic!("nothing to hear")),
        )
        .await
        .expect("returns at once");
    }

    /// Why the shared log at `location` refuses to be read: the store opens (its cache
    /// answers), the log says at its first use.
    async fn refused_by(location: &AuditLocation) -> String {
        let store = Store::in_memory(location).await.unwrap();
        assert!(store.sync_states(Utc::now()).await.is_ok());
        store.audit_steps(None, 1).await.unwrap_err().to_string()
    }

    #[tokio::test]
    async fn a_shared_log_that_cannot_be_reached_leaves_the_cache_answering() {
        let dead = format!(
            "postgres://dana@127.0.0.1:{}/opsdeck",
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        );
        let location = AuditLocation::shared(&dead).unwrap().with_password("pw");
        let refused = refused_by(&location).await;
        assert!(
            refused.starts_with("cannot open the shared audit log at postgres://dana@127.0.0.1:"),
            "{refused}"
        );
        assert!(refused.contains("Connection refused"), "{refused}");
        assert!(refused.contains("check [audit] url"), "{refused}");
    }

    #[tokio::test]
    async fn a_role_that_may_only_read_and_append_uses_a_shared_log_and_cannot_change_it() {
        let Some(cluster) = Cluster::start() else {
            return;
        };
        let database = cluster.create_database();
        let fresh = cluster.create_database();
        cluster.psql(
            "postgres",
            "CREATE ROLE dana LOGIN PASSWORD 'dana-password'",
        );
        // Its owner migrates it once, and gives people's role reading and appending only.
        shared_log_in(&cluster, &database).await;
        cluster.psql(
            &database,
            "GRANT SELECT, INSERT ON audit_log TO dana; GRANT SELECT ON _sqlx_migrations TO dana",
        );
        let dana = Store::in_memory(&shared_at(&cluster, "dana", &database, "dana-password"))
            .await
            .expect("a migrated log opens for a role that cannot migrate");
        let since = Utc::now() - chrono::Duration::minutes(15);
        let requested = step("k1", Step::Requested, "component:default/a", "github:o/r");
        assert_eq!(
            dana.begin_action(&requested, since).await.unwrap(),
            Begun::Started
        );
        dana.append_audit(&step(
            "k1",
            Step::Finished,
            "component:default/a",
            "github:o/r",
        ))
        .await
        .unwrap();
        assert_eq!(dana.verify_audit().await.unwrap(), (2, None));
        for statement in [
            "UPDATE audit_log SET actor = 'mallory'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "DROP TRIGGER audit_log_is_append_only ON audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        ] {
            let refused = run(&dana, statement).await.unwrap_err().to_string();
            assert!(
                refused.contains("permission denied") || refused.contains("must be owner"),
                "{statement}: {refused}"
            );
        }
        // A role without the grants is told which it needs.
        cluster.psql("postgres", "CREATE ROLE eva LOGIN PASSWORD 'eva-password'");
        let refused = refused_by(&shared_at(&cluster, "eva", &database, "eva-password")).await;
        assert!(
            refused.contains("needs SELECT on _sqlx_migrations"),
            "{refused}"
        );
        // A log its role cannot create is refused in words that say who can.
        let refused = refused_by(&shared_at(&cluster, "dana", &fresh, "dana-password")).await;
        assert!(refused.contains("its owner"), "{refused}");
        assert!(!refused.contains("dana-password"), "{refused}");
        // A wrong password is said, and not repeated.
        let refused = refused_by(&shared_at(&cluster, "dana", &database, "not-it")).await;
        assert!(
            refused.contains("password authentication failed"),
            "{refused}"
        );
        assert!(refused.contains("postgres://dana@127.0.0.1"), "{refused}");
        assert!(!refused.contains("not-it"), "{refused}");
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
        let store = Store::open(&cache, &AuditLocation::default())
            .await
            .unwrap();
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
                .fetch_one(store.sqlite())
                .await
                .unwrap();
        assert_eq!(left, 0, "the cache holds no audit log any more");
        drop(store);

        // The cache deleted: the log is kept, and a fresh cache moves nothing twice.
        std::fs::remove_file(&cache).unwrap();
        let store = Store::open(&cache, &AuditLocation::default())
            .await
            .unwrap();
        assert_eq!(store.verify_audit().await.unwrap(), (4, None));
        #[cfg(unix)]
        for file in [&cache, &super::super::audit_path_of(&cache)] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
}
