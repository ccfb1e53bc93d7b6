//! Sync: runs a source's connector and lands the result in the cache, whole or not at all.

use chrono::Utc;

use crate::api::{SyncProgress, SyncReport};
use crate::config::{SourceConfig, SourceKind};
use crate::connectors::backstage::BackstageConnector;
use crate::connectors::catalog_files::load_tree;
use crate::connectors::{ConnectorError, FailureKind, FetchProgress};
use crate::domain::{relations_of, Entity};
use crate::engine::Engine;
use crate::store::SourceRows;
use crate::Result;

/// Receives progress while sources sync.
pub type ProgressSink<'a> = &'a (dyn Fn(SyncProgress) + Send + Sync);

impl Engine {
    /// Syncs one source by name, or every configured source. A source that fails keeps its
    /// cached rows; its report says why and the failure is recorded for the status bar.
    pub async fn sync(
        &self,
        only: Option<&str>,
        progress: ProgressSink<'_>,
    ) -> Result<Vec<SyncReport>> {
        let sources: Vec<&SourceConfig> = match only {
            Some(name) => vec![self
                .config()
                .source(name)
                .ok_or_else(|| crate::Error::UnknownSource(name.to_string()))?],
            None => self.config().sources.iter().collect(),
        };
        let mut reports = Vec::with_capacity(sources.len());
        for source in sources {
            reports.push(self.sync_source(source, progress).await?);
        }
        Ok(reports)
    }

    /// Keeps the cache fresh while the app runs: every source syncs at once, then again each
    /// time its `interval` has passed since its last sync ended. Runs until dropped; calls
    /// `on_report` after each sync so faces can re-read the cache. A failing sync is recorded
    /// like any other and retried at the next interval.
    pub async fn sync_on_schedule(
        &self,
        progress: ProgressSink<'_>,
        on_report: &(dyn Fn(&SyncReport) + Send + Sync),
    ) {
        let mut due: Vec<(tokio::time::Instant, &SourceConfig)> = self
            .config()
            .sources
            .iter()
            .filter(|s| s.kind.is_synced())
            .map(|s| (tokio::time::Instant::now(), s))
            .collect();
        loop {
            let Some(next) = due.iter_mut().min_by_key(|(when, _)| *when) else {
                return; // nothing to sync
            };
            tokio::time::sleep_until(next.0).await;
            let source = next.1;
            match self.sync_source(source, progress).await {
                Ok(report) => on_report(&report),
                Err(error) => {
                    tracing::error!(source = %source.name, %error, "scheduled sync failed")
                }
            }
            next.0 = tokio::time::Instant::now() + source.interval;
        }
    }

    #[tracing::instrument(skip_all, fields(source = %source.name, kind = source.kind.as_str()))]
    async fn sync_source(
        &self,
        source: &SourceConfig,
        progress: ProgressSink<'_>,
    ) -> Result<SyncReport> {
        let kind = source.kind.as_str();
        if !source.kind.is_synced() {
            return Ok(SyncReport {
                source: source.name.clone(),
                landed: false,
                items: 0,
                problems: vec![format!(
                    "{}: {kind} sources are not synced by this version of Opsdeck",
                    source.name
                )],
            });
        }
        let _one_at_a_time = self.sync_guard().lock().await;
        let store = self.store();
        store.record_attempt(&source.name, Utc::now()).await?;
        let started = std::time::Instant::now();
        let fetched = self.fetch(source, progress).await;
        let (entities, mut problems) = match fetched {
            Ok(fetched) => fetched,
            Err(error) => {
                tracing::warn!(error = %error, "sync failed; cache kept");
                store
                    .record_failure(&source.name, &error.to_string())
                    .await?;
                return Ok(SyncReport {
                    source: source.name.clone(),
                    landed: false,
                    items: 0,
                    problems: vec![error.to_string()],
                });
            }
        };
        // References that cannot become relations are the source's problem to fix: say so.
        problems.extend(
            entities
                .iter()
                .flat_map(|e| relations_of(e).1)
                .map(|problem| problem.to_string()),
        );
        let precedence: Vec<String> = self
            .config()
            .sources
            .iter()
            .map(|s| s.name.clone())
            .collect();
        store
            .replace_source(
                SourceRows {
                    source: &source.name,
                    entities: &entities,
                    problems: &problems,
                },
                &precedence,
                Utc::now(),
            )
            .await?;
        tracing::info!(
            rows = entities.len(),
            problems = problems.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "sync landed"
        );
        Ok(SyncReport {
            source: source.name.clone(),
            landed: true,
            items: entities.len() as i64,
            problems,
        })
    }

    async fn fetch(
        &self,
        source: &SourceConfig,
        progress: ProgressSink<'_>,
    ) -> Result<(Vec<Entity>, Vec<String>), ConnectorError> {
        let report = |p: FetchProgress| {
            progress(SyncProgress {
                source: source.name.clone(),
                pages: p.pages as i64,
                items: p.items as i64,
                total: p.total.map(|t| t as i64),
            })
        };
        match source.kind {
            SourceKind::Backstage => {
                let token = self.secrets().token_for(source).map_err(|e| {
                    ConnectorError::new(&source.name, FailureKind::Token, e.detail())
                })?;
                let url = source.url.as_deref().unwrap_or_default();
                let connector = BackstageConnector::new(
                    self.http().clone(),
                    &source.name,
                    url,
                    token,
                    source.token_env.clone(),
                );
                let mut sink = report;
                Ok((connector.fetch_entities(&mut sink).await?, Vec::new()))
            }
            SourceKind::CatalogFiles => {
                let name = source.name.clone();
                let root = source.path.clone().unwrap_or_default();
                let load = tokio::task::spawn_blocking(move || load_tree(&name, &root))
                    .await
                    .map_err(|e| {
                        ConnectorError::new(&source.name, FailureKind::Io, e.to_string())
                    })??;
                report(FetchProgress {
                    pages: load.files,
                    items: load.entities.len(),
                    total: Some(load.entities.len()),
                });
                Ok((load.entities, load.problems))
            }
            _ => unreachable!("kinds that are not synced are turned away by sync_source"),
        }
    }
}
