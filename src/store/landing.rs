//! What every landing does besides its own rows: the source's sync state, in the same
//! transaction, so a failed landing records nothing either.

use chrono::{DateTime, Utc};
use sqlx::{Sqlite, Transaction};

use super::StoreError;

/// Marks a sync of `source` as landed at `at` with `items` held and `written` rows written;
/// `problems` (single records the source got wrong) become its last error.
pub(super) async fn record_landed(
    tx: &mut Transaction<'_, Sqlite>,
    source: &str,
    at: DateTime<Utc>,
    problems: &[String],
    items: usize,
    written: u64,
) -> Result<(), StoreError> {
    let problems = (!problems.is_empty()).then(|| problems.join("\n"));
    sqlx::query(
        "INSERT INTO sync_state (source, last_attempt, last_success, last_error, item_count, last_rows_written)
         VALUES (?1, ?2, ?2, ?3, ?4, ?5)
         ON CONFLICT (source) DO UPDATE SET last_success = ?2, last_error = ?3, item_count = ?4,
            last_rows_written = ?5, consecutive_failures = 0, retry_after = NULL",
    )
    .bind(source)
    .bind(at)
    .bind(problems)
    .bind(items as i64)
    .bind(written as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
