//! What every landing does besides its own rows: the source's sync state, in the same
//! transaction, so a failed landing records nothing either.

use std::any::TypeId;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};

use super::{on_backend, Backend, StoreError};

/// A connection to the cache inside a landing's transaction, on either backend.
pub(super) type Landing<'c> = Backend<&'c mut SqliteConnection, &'c mut PgConnection>;

impl Landing<'_> {
    /// The same connection, for one more statement.
    pub(super) fn reborrow(&mut self) -> Landing<'_> {
        match self {
            Backend::Sqlite(connection) => Backend::Sqlite(&mut **connection),
            Backend::Postgres(connection) => Backend::Postgres(&mut **connection),
        }
    }
}

/// A transaction that writes to the cache, on either backend.
pub(super) type WriteTransaction =
    Backend<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>;

impl WriteTransaction {
    /// The transaction's connection.
    pub(super) fn connection(&mut self) -> Landing<'_> {
        match self {
            Backend::Sqlite(tx) => Backend::Sqlite(&mut **tx),
            Backend::Postgres(tx) => Backend::Postgres(&mut **tx),
        }
    }

    pub(super) async fn commit(self) -> Result<(), StoreError> {
        on_backend!(self, tx => tx.commit().await?);
        Ok(())
    }
}

/// Marks a sync of `source` as landed at `at` with `items` held and `written` rows written;
/// `problems` (single records the source got wrong) become its last error.
pub(super) async fn record_landed(
    landing: Landing<'_>,
    source: &str,
    at: DateTime<Utc>,
    problems: &[String],
    items: usize,
    written: u64,
) -> Result<(), StoreError> {
    let problems = (!problems.is_empty()).then(|| problems.join("\n"));
    on_backend!(landing, connection => {
        sqlx::query(
            "INSERT INTO sync_state (source, last_attempt, last_success, last_error, item_count, last_rows_written)
             VALUES ($1, $2, $2, $3, $4, $5)
             ON CONFLICT (source) DO UPDATE SET last_success = $2, last_error = $3, item_count = $4,
                last_rows_written = $5, consecutive_failures = 0, retry_after = NULL",
        )
        .bind(source)
        .bind(at)
        .bind(problems)
        .bind(items as i64)
        .bind(written as i64)
        .execute(connection)
        .await?;
    });
    Ok(())
}

/// Rows a statement writes at most.
pub(super) const ROWS_A_STATEMENT: usize = 500;

/// A statement with the values bound so far, on backend `DB`.
pub(super) type Bound<'q, DB> = sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>;

/// Runs `insert` (an `INSERT … INTO table (columns)` without its values, then `then`: an
/// `ON CONFLICT` clause or nothing) for every row of `rows`, many rows a statement, each row's
/// values bound by `bind` in the columns' order.
/// PostgreSQL refuses a statement whose `ON CONFLICT DO UPDATE` meets one key twice: `rows`
/// name each key once.
/// Each statement is a round trip to the thread sqlx runs SQLite on: one a row cost a full
/// catalog sync of 14,000 entities 200,000 context switches. Bound values, not a JSON array
/// taken apart by `json_each`: SQLite would render and parse each row's text twice more.
/// Placeholders written here, not by sqlx's QueryBuilder (it cannot be written once for both
/// backends: SQLite's arguments carry a lifetime its builder's borrow cannot meet).
pub(super) async fn insert_rows<C, T>(
    connection: &mut C,
    insert: &str,
    then: &str,
    rows: &[T],
    bind: impl for<'q> FnMut(Bound<'q, C::Database>, &'q T) -> Bound<'q, C::Database>,
) -> Result<(), StoreError>
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
    for<'q> <C::Database as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, C::Database>,
{
    insert_rows_returning(connection, insert, then, rows, bind).await?;
    Ok(())
}

/// [`insert_rows`] with a `RETURNING` clause in `then`: the rows it returned.
pub(super) async fn insert_rows_returning<C, T>(
    connection: &mut C,
    insert: &str,
    then: &str,
    rows: &[T],
    mut bind: impl for<'q> FnMut(Bound<'q, C::Database>, &'q T) -> Bound<'q, C::Database>,
) -> Result<Vec<<C::Database as sqlx::Database>::Row>, StoreError>
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
    for<'q> <C::Database as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, C::Database>,
{
    let columns = column_count(insert);
    let placeholders = if TypeId::of::<C::Database>() == TypeId::of::<Sqlite>() {
        Placeholders::Anonymous
    } else {
        Placeholders::Numbered
    };
    let mut returned = Vec::new();
    for chunk in rows.chunks(ROWS_A_STATEMENT) {
        let sql = format!(
            "{} {then}",
            with_values(insert, columns, chunk.len(), placeholders)
        );
        let mut statement = sqlx::query::<C::Database>(&sql);
        for row in chunk {
            statement = bind(statement, row);
        }
        returned.extend(statement.fetch_all(&mut *connection).await?);
    }
    Ok(returned)
}

/// The columns an `INSERT … (a, b, c)` names.
fn column_count(insert: &str) -> usize {
    let listed = insert
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map_or("", |(columns, _)| columns);
    listed.split(',').count()
}

/// How a statement names its values.
#[derive(Clone, Copy)]
enum Placeholders {
    /// `$1, $2…`: PostgreSQL's only form.
    Numbered,
    /// `?, ?…`, for SQLite: sqlx asks SQLite each placeholder's name to bind it, and SQLite
    /// finds a name by walking the statement's list of them, so 9,500 numbered values cost
    /// 45 million steps a statement (more than half a catalog sync's time).
    Anonymous,
}

/// `insert` followed by `VALUES ($1, $2), ($3, $4)…` (or `(?, ?), (?, ?)…`) for `rows` rows of
/// `columns` values.
fn with_values(insert: &str, columns: usize, rows: usize, placeholders: Placeholders) -> String {
    use std::fmt::Write;
    let mut sql = format!("{} VALUES ", insert.trim_end());
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            let separator = if column == 0 { "" } else { ", " };
            let _ = match placeholders {
                Placeholders::Numbered => {
                    write!(sql, "{separator}${}", row * columns + column + 1)
                }
                Placeholders::Anonymous => write!(sql, "{separator}?"),
            };
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<(i64, String, Option<&'static str>)> {
        (0..ROWS_A_STATEMENT as i64 * 2 + 1)
            .map(|n| (n, format!("row {n}"), (n % 2 == 0).then_some("even")))
            .collect()
    }

    fn expected() -> Vec<(i64, String, Option<String>)> {
        rows()
            .into_iter()
            .map(|(n, name, note)| (n, name, note.map(String::from)))
            .collect()
    }

    const CREATE: &str = "CREATE TABLE t (n BIGINT PRIMARY KEY, name TEXT NOT NULL, note TEXT)";
    const INSERT: &str = "INSERT INTO t (n, name, note) ";
    const READ: &str = "SELECT n, name, note FROM t ORDER BY n";

    #[tokio::test]
    async fn rows_land_whole_across_statements_each_value_in_its_column() {
        let rows = rows();
        let cluster = opsdeck_test_postgres::Cluster::start();
        for store in crate::store::each_backend(&cluster).await {
            let mut tx = store.begin_write().await.unwrap();
            let landed: Vec<(i64, String, Option<String>)> = on_backend!(tx.connection(), c => {
                sqlx::query(CREATE).execute(&mut *c).await.unwrap();
                insert_rows(&mut *c, INSERT, "", &rows, |statement, (n, name, note)| {
                    statement.bind(*n).bind(name.as_str()).bind(*note)
                })
                .await
                .unwrap();
                sqlx::query_as(READ).fetch_all(&mut *c).await.unwrap()
            });
            assert_eq!(landed, expected());
        }
    }

    #[test]
    fn values_are_numbered_row_after_row() {
        assert_eq!(column_count("INSERT INTO r (a, b,c) "), 3);
        assert_eq!(
            with_values("INSERT INTO r (a, b) ", 2, 2, Placeholders::Numbered),
            "INSERT INTO r (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            with_values("INSERT INTO r (a, b) ", 2, 2, Placeholders::Anonymous),
            "INSERT INTO r (a, b) VALUES (?, ?), (?, ?)"
        );
    }
}
