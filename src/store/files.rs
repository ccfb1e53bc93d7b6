//! Files read from repositories (runbooks and workflow files), as last confirmed by GitHub.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{on_backend, Backend, Store, StoreError};

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
        on_backend!(&self.cache, pool => {
            let row = sqlx::query(
                "SELECT body, sha, etag, html_url, confirmed_at FROM repo_files
                 WHERE repo = $1 AND path = $2 AND git_ref = $3",
            )
            .bind(&at.repo)
            .bind(&at.path)
            .bind(&at.git_ref)
            .fetch_optional(pool)
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
        })
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
        on_backend!(&self.cache, pool => {
            match file {
                Some(file) => {
                    sqlx::query(
                        "INSERT INTO repo_files (repo, path, git_ref, source, sha, etag, html_url, confirmed_at, body)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
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
                    .execute(pool)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "UPDATE repo_files SET confirmed_at = $1 WHERE repo = $2 AND path = $3 AND git_ref = $4",
                    )
                    .bind(now.timestamp())
                    .bind(&at.repo)
                    .bind(&at.path)
                    .bind(&at.git_ref)
                    .execute(pool)
                    .await?;
                }
            }
        });
        Ok(())
    }

    /// Every runbook link of a component, system or group in the catalog, as written, and
    /// every `runbook_url` of a cached alert: what a GitHub sync keeps readable offline.
    pub async fn runbook_urls(&self) -> Result<Vec<String>, StoreError> {
        let query = match self.cache {
            Backend::Sqlite(_) => {
                "SELECT DISTINCT json_extract(link.value, '$.url') FROM entities e,
                     json_each(e.body, '$.metadata.links') link
                 WHERE e.kind IN ('component', 'system', 'group')
                   AND json_extract(link.value, '$.type') = 'runbook'
                   AND json_extract(link.value, '$.url') IS NOT NULL
                 UNION
                 SELECT DISTINCT json_extract(body, '$.runbook_url') FROM platform_records
                 WHERE kind = 'alert' AND json_extract(body, '$.runbook_url') IS NOT NULL"
            }
            Backend::Postgres(_) => {
                "SELECT DISTINCT link ->> 'url' FROM entities e,
                     jsonb_array_elements(coalesce(e.body::jsonb -> 'metadata' -> 'links', '[]')) link
                 WHERE e.kind IN ('component', 'system', 'group')
                   AND link ->> 'type' = 'runbook' AND link ->> 'url' IS NOT NULL
                 UNION
                 SELECT DISTINCT body::jsonb ->> 'runbook_url' FROM platform_records
                 WHERE kind = 'alert' AND body::jsonb ->> 'runbook_url' IS NOT NULL"
            }
        };
        Ok(on_backend!(&self.cache, pool => {
            sqlx::query_scalar(query).fetch_all(pool).await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::each_backend;
    use opsdeck_test_postgres::Cluster;

    #[tokio::test]
    async fn a_file_is_kept_confirmed_and_read_back_on_either_backend() {
        let cluster = Cluster::start();
        for store in each_backend(&cluster).await {
            let at = FileAt {
                repo: "o/r".into(),
                path: "runbooks/drain.md".into(),
                git_ref: "main".into(),
            };
            assert_eq!(store.repo_file(&at).await.unwrap(), None);
            let read = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
            let file = StoredFile {
                body: "# Drain".into(),
                sha: "abc".into(),
                etag: Some("\"e1\"".into()),
                html_url: None,
                confirmed_at: read,
            };
            store
                .keep_repo_file("github", &at, Some(&file), read)
                .await
                .unwrap();
            assert_eq!(store.repo_file(&at).await.unwrap().as_ref(), Some(&file));
            let later = read + chrono::Duration::hours(1);
            store
                .keep_repo_file("github", &at, None, later)
                .await
                .unwrap();
            let confirmed = store.repo_file(&at).await.unwrap().unwrap();
            assert_eq!(
                (confirmed.body.as_str(), confirmed.confirmed_at),
                ("# Drain", later)
            );
            // Nothing links a runbook yet.
            assert!(store.runbook_urls().await.unwrap().is_empty());
        }
    }
}
