//! Files read from repositories (runbooks and workflow files), as last confirmed by GitHub.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError};

/// Where a file lives: repository, path, branch or tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileAt {
    /// `owner/repo`.
    pub repo: String,
    /// Path in the repository.
    pub path: String,
    /// Branch, tag or commit.
    pub git_ref: String,
}

/// A file as the cache holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    /// Its text.
    pub body: String,
    /// Its blob SHA.
    pub sha: String,
    /// The ETag of the read, for the next conditional one.
    pub etag: Option<String>,
    /// Its page on GitHub.
    pub html_url: Option<String>,
    /// When GitHub last said this is the file.
    pub confirmed_at: DateTime<Utc>,
}

impl Store {
    /// The cached copy of a file.
    pub async fn repo_file(&self, at: &FileAt) -> Result<Option<StoredFile>, StoreError> {
        let row = sqlx::query(
            "SELECT body, sha, etag, html_url, confirmed_at FROM repo_files
             WHERE repo = ? AND path = ? AND git_ref = ?",
        )
        .bind(&at.repo)
        .bind(&at.path)
        .bind(&at.git_ref)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(StoredFile {
                body: row.try_get("body")?,
                sha: row.try_get("sha")?,
                etag: row.try_get("etag")?,
                html_url: row.try_get("html_url")?,
                confirmed_at: DateTime::from_timestamp(row.try_get("confirmed_at")?, 0)
                    .unwrap_or_default(),
            })
        })
        .transpose()
    }

    /// Keeps a file as read from `source` (`file`), or, when `file` is `None` (GitHub said
    /// the copy held is current), notes when that was said.
    pub async fn keep_repo_file(
        &self,
        source: &str,
        at: &FileAt,
        file: Option<&StoredFile>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _writing = self.writer.lock().await;
        match file {
            Some(file) => {
                sqlx::query(
                    "INSERT INTO repo_files (repo, path, git_ref, source, sha, etag, html_url, confirmed_at, body)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (repo, path, git_ref) DO UPDATE SET source = excluded.source,
                         sha = excluded.sha, etag = excluded.etag, html_url = excluded.html_url,
                         confirmed_at = excluded.confirmed_at, body = excluded.body",
                )
                .bind(&at.repo)
                .bind(&at.path)
                .bind(&at.git_ref)
                .bind(source)
                .bind(&file.sha)
                .bind(&file.etag)
                .bind(&file.html_url)
                .bind(now.timestamp())
                .bind(&file.body)
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE repo_files SET confirmed_at = ? WHERE repo = ? AND path = ? AND git_ref = ?",
                )
                .bind(now.timestamp())
                .bind(&at.repo)
                .bind(&at.path)
                .bind(&at.git_ref)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Every runbook link of a component, system or group in the catalog, as written, and
    /// every `runbook_url` of a cached alert: what a GitHub sync keeps readable offline.
    pub async fn runbook_urls(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT json_extract(link.value, '$.url') FROM entities e,
                 json_each(e.body, '$.metadata.links') link
             WHERE e.kind IN ('component', 'system', 'group')
               AND json_extract(link.value, '$.type') = 'runbook'
               AND json_extract(link.value, '$.url') IS NOT NULL
             UNION
             SELECT DISTINCT json_extract(body, '$.runbook_url') FROM platform_records
             WHERE kind = 'alert' AND json_extract(body, '$.runbook_url') IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
