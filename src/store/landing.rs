//! What every landing does besides its own rows: the source's sync state, in the same
//! transaction, so a failed landing records nothing either.

use chrono::{DateTime, Utc};
use sqlx::query_builder::Separated;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};

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

/// Rows a statement writes at most.
pub(super) const ROWS_A_STATEMENT: usize = 500;

/// Runs `insert` (an `INSERT … INTO table (columns)` without its values) for every row of
/// `rows`, many rows a statement, each row's values bound by `bind` in the columns' order.
/// Each statement is a round trip to the thread sqlx runs SQLite on: one a row cost a full
/// catalog sync of 14,000 entities 200,000 context switches. Bound values, not a JSON array
/// taken apart by `json_each`: SQLite would render and parse each row's text twice more.
pub(super) async fn insert_rows<'r, T>(
    connection: &mut SqliteConnection,
    insert: &str,
    rows: &'r [T],
    mut bind: impl FnMut(&mut Separated<'_, 'r, Sqlite, &'static str>, &'r T),
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_A_STATEMENT) {
        let mut statement = QueryBuilder::<Sqlite>::new(insert);
        statement.push_values(chunk, |mut values, row| bind(&mut values, row));
        statement.build().execute(&mut *connection).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[tokio::test]
    async fn rows_land_whole_across_statements_each_value_in_its_column() {
        let mut connection = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT)")
            .execute(&mut connection)
            .await
            .unwrap();
        let rows: Vec<(i64, String, Option<&str>)> = (0..ROWS_A_STATEMENT as i64 * 2 + 1)
            .map(|n| (n, format!("row {n}"), (n % 2 == 0).then_some("even")))
            .collect();
        insert_rows(
            &mut connection,
            "INSERT INTO t (n, name, note) ",
            &rows,
            |values, (n, name, note)| {
                values
                    .push_bind(*n)
                    .push_bind(name.as_str())
                    .push_bind(*note);
            },
        )
        .await
        .unwrap();
        let landed: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT n, name, note FROM t ORDER BY n")
                .fetch_all(&mut connection)
                .await
                .unwrap();
        let expected: Vec<(i64, String, Option<String>)> = rows
            .iter()
            .map(|(n, name, note)| (*n, name.clone(), note.map(String::from)))
            .collect();
        assert_eq!(landed, expected);
    }
}
