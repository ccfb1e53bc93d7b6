//! Sync: runs sources' connectors side by side and lands each result in the cache, whole or not
//! at all, with what it cost and how it went.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::join_all;
use futures_util::FutureExt;
use tracing::Instrument;

use crate::api::{SyncProgress, SyncReport};
use crate::config::{SourceConfig, SourceKind};
use crate::connectors::alertmanager::{AlertmanagerConnector, AlertmanagerSnapshot};
use crate::connectors::argocd::{ArgoCdConnector, WiringRead};
use crate::connectors::backstage::BackstageConnector;
use crate::connectors::catalog_files::{load_tree, CatalogLoad, Links};
use crate::connectors::github::{GithubConnector, RepoRead};
use crate::connectors::http::RequestMeter;
use crate::connectors::pagerduty::{PagerDutyConnector, PagerDutySnapshot};
use crate::connectors::{ConnectorError, Endpoint, FailureKind, FetchProgress};
use crate::domain::alerts::selector_problem;
use crate::domain::delivery::{wiring_problem, DeliveryTarget, Deployment, EnvironmentState};
use crate::domain::merge::carried_over;
use crate::domain::{relations_of, Entity};
use crate::engine::argocd_watch::{self, ArgoWatch, WatchMark};
use crate::engine::{leases, Engine};
use crate::store::{
    DeliveryLanding, DeliveryPart, PlatformRecord, RecordKind, SourceRows, SyncCost,
};
use crate::text::clock_time;
use crate::Result;

/// What a source's fetch brought: catalog entities, platform records, or delivery data.
enum Fetched {
    Catalog(Vec<Entity>),
    /// A catalog that holds exactly the entities the cache holds from it, as many as this.
    CatalogUnchanged(usize),
    Records(Vec<PlatformRecord>),
    Delivery(DeliveryFetch),
    /// Delivery data staged in the cache as it was read (GitHub's): what remains to land.
    Staged {
        sync_id: String,
        etags: HashMap<String, String>,
        items: usize,
    },
}

/// Parts of a GitHub sync read and not yet staged: the reader waits beyond this many.
const PARTS_IN_FLIGHT: usize = 4;

/// What an Argo CD fetch brought.
struct DeliveryFetch {
    deployments: Vec<Deployment>,
    scoped: Vec<(RecordKind, String, Vec<PlatformRecord>)>,
    items: usize,
    /// What it means for the source's watch once landed.
    watch_mark: WatchMark,
}

/// Receives progress while sources sync.
pub type ProgressSink<'a> = &'a (dyn Fn(SyncProgress) + Send + Sync);

/// Scheduled syncs start up to this fraction of the interval late, so sources on one interval
/// (and several Opsdecks on one platform) do not ask in lockstep.
const JITTER_FRACTION: f64 = 0.1;

/// How often [`Engine::follow_landings`] looks for a new landing.
pub const LANDINGS_CHECKED_EVERY: Duration = Duration::from_secs(1);

impl Engine {
    /// Syncs one source by name, or every configured source side by side (bounded per host).
    /// A source that fails keeps its cached rows; its report says why and the failure is
    /// recorded for the status bar. Reports come in config order.
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
        // Catalogs first: GitHub and Argo CD read what components are wired to.
        let (catalogs, platforms): (Vec<&SourceConfig>, Vec<&SourceConfig>) =
            sources.iter().partition(|s| s.kind.is_catalog());
        let mut reports: HashMap<String, SyncReport> = HashMap::new();
        // Naming one source is asking for it now, even before the platform allows.
        let wait = if only.is_some() {
            PlatformWait::Override
        } else {
            PlatformWait::Honour
        };
        for group in [catalogs, platforms] {
            let syncs = group
                .into_iter()
                .map(|s| self.sync_source(s, wait, progress));
            for report in join_all(syncs).await {
                let report = report?;
                reports.insert(report.source.clone(), report);
            }
        }
        Ok(sources
            .iter()
            .filter_map(|s| reports.remove(&s.name))
            .collect())
    }

    /// Whether the cache holds a catalog's services to show (false when it cannot be read).
    pub async fn holds_catalog(&self) -> bool {
        matches!(self.store().holds_components().await, Ok(true))
    }

    /// Keeps the cache fresh while the app runs: each source on its own loop, syncing when its
    /// interval has passed since its last attempt (plus jitter), or when the platform allows
    /// after asking us to wait. A source never synced, or overdue, syncs at once. An Argo CD
    /// source also holds its watch stream, whose changes sync it at once (see
    /// `argocd_watch.rs`). Runs until dropped; calls `on_report` after each sync so faces can
    /// re-read the cache.
    pub async fn sync_on_schedule(
        &self,
        progress: ProgressSink<'_>,
        on_report: &(dyn Fn(&SyncReport) + Send + Sync),
    ) {
        // A cache without components first hears from the catalogs, so GitHub and Argo CD
        // have wiring to read for on their first sync instead of a whole interval later.
        if !self.holds_catalog().await {
            let catalogs = self.config().sources.iter().filter(|s| s.kind.is_catalog());
            let syncs = catalogs.map(|s| self.sync_source(s, PlatformWait::Honour, progress));
            for report in join_all(syncs).await {
                match report {
                    Ok(report) => on_report(&report),
                    Err(error) => tracing::error!(%error, "first catalog sync failed"),
                }
            }
        }
        let loops = self.config().sources.iter().map(|source| async move {
            let syncing = self.keep_synced(source, progress, on_report);
            match self.argocd_watch(&source.name) {
                Some(watch) => {
                    tokio::join!(syncing, self.watch_argocd(source, watch));
                }
                None => syncing.await,
            }
        });
        join_all(loops).await;
    }

    /// Calls `landed` each time a sync lands in the cache, by this process or another that
    /// shares it (an agent), for as long as the future runs: told by a shared cache as each
    /// landing commits; in a file, checked every [`LANDINGS_CHECKED_EVERY`], one read of the
    /// sync state, nothing sent anywhere.
    pub async fn follow_landings(&self, landed: &(dyn Fn() + Send + Sync)) {
        if self.store().is_shared() {
            return self.store().follow_landings(&|_source| landed()).await;
        }
        let mut seen = self.store().last_landing().await.ok().flatten();
        let mut tick = tokio::time::interval(LANDINGS_CHECKED_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match self.store().last_landing().await {
                Ok(now) => {
                    failing = false;
                    if now != seen {
                        seen = now;
                        landed();
                    }
                }
                // Said once, not once a second, until the cache answers again.
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "cannot read when the cache last changed");
                }
                Err(_) => {}
            }
        }
    }

    async fn keep_synced(
        &self,
        source: &SourceConfig,
        progress: ProgressSink<'_>,
        on_report: &(dyn Fn(&SyncReport) + Send + Sync),
    ) {
        loop {
            match self.time_to_next_sync(source).await {
                Ok(wait) if wait.is_zero() => {}
                Ok(wait) => {
                    let woken = async {
                        match self.argocd_watch(&source.name) {
                            Some(watch) => watch.woken().await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        // A manual sync while we slept moved the next one: wait for it instead.
                        () = tokio::time::sleep(wait) => continue,
                        // The watch heard a change, or is back after a break: sync now, once
                        // a burst of changes had time to arrive.
                        () = woken => tokio::time::sleep(argocd_watch::WATCH_SETTLE).await,
                    }
                }
                Err(error) => {
                    tracing::error!(source = %source.name, %error, "cannot read sync state");
                    tokio::time::sleep(source.interval).await;
                }
            }
            match self
                .sync_source(source, PlatformWait::Honour, progress)
                .await
            {
                Ok(report) => on_report(&report),
                Err(error) => {
                    tracing::error!(source = %source.name, %error, "scheduled sync failed")
                }
            }
        }
    }

    async fn time_to_next_sync(&self, source: &SourceConfig) -> Result<Duration> {
        let now = Utc::now();
        let times = self.sync_times(source).await?;
        let due = times.next_sync(now);
        if due <= now {
            return Ok(Duration::ZERO);
        }
        // Jitter only where the wait is long: the loop asks again after sleeping, and a due
        // time reached must not be pushed on by fresh jitter each time.
        let wait = (due - now).to_std().unwrap_or_default();
        let jitter = source.interval.mul_f64(JITTER_FRACTION * fastrand::f64());
        Ok(if wait > jitter { wait + jitter } else { wait })
    }

    async fn sync_source(
        &self,
        source: &SourceConfig,
        wait: PlatformWait,
        progress: ProgressSink<'_>,
    ) -> Result<SyncReport> {
        // A manual sync and a scheduled one of the same source never overlap.
        let _this_source = self.source_lock(&source.name).lock().await;
        let started = Instant::now();
        let mut warning = None;
        if let Some(until) = self.sync_times(source).await?.retry_after {
            if until > Utc::now() {
                let asked = format!(
                    "{}: the platform asked us to wait until {}",
                    source.name,
                    clock_time(until)
                );
                if wait == PlatformWait::Honour {
                    return Ok(not_landed(source, format!("{asked}; next sync then"), 0));
                }
                tracing::warn!(source = %source.name, %until, "syncing before the platform allows, as asked");
                warning = Some(format!(
                    "{asked}; synced anyway because you asked, and it may refuse again"
                ));
            }
        }
        let _host_slot = self
            .host_slots(&source.host_key())
            .acquire()
            .await
            .expect("host slots are never closed");
        let mut report = self.leased(source, progress).await?;
        // After what went wrong, if anything did: that is what to read first.
        report.problems.extend(warning);
        Ok(SyncReport {
            duration_ms: started.elapsed().as_millis() as i64,
            ..report
        })
    }

    /// Lands `source` under its lease, so that no other process sharing the cache syncs it
    /// meanwhile; taken only now, once this process is ready to start, so that it shows who
    /// is at it rather than who waits. A source another process is syncing is left to it.
    async fn leased(
        &self,
        source: &SourceConfig,
        progress: ProgressSink<'_>,
    ) -> Result<SyncReport> {
        if let Some(other) = self.take_lease(&source.name).await? {
            let holder = leases::held_by(&other);
            let problem = format!(
                "{}: not synced here: {holder} is syncing it, and what it lands shows here",
                source.name,
            );
            return Ok(SyncReport {
                left_to: Some(holder),
                ..not_landed(source, problem, 0)
            });
        }
        let span = tracing::info_span!("sync", source = %source.name, kind = source.kind.as_str());
        let sync = self.isolated(source, self.land(source, progress).instrument(span));
        let report = tokio::select! {
            report = sync => report,
            lost = self.hold_lease(&source.name) => Ok(not_landed(source, lost, 0)),
        };
        self.release_lease(&source.name).await;
        report
    }

    /// Runs one source's sync so that a panic, which is a bug, costs that sync only: the other
    /// sources, and this source's next sync, go on; the cache keeps what it held (the landing's
    /// transaction rolls back as it unwinds); the failure is recorded for every face to show.
    async fn isolated(
        &self,
        source: &SourceConfig,
        sync: impl std::future::Future<Output = Result<SyncReport>>,
    ) -> Result<SyncReport> {
        match AssertUnwindSafe(sync).catch_unwind().await {
            Ok(report) => report,
            Err(panic) => {
                let message = format!(
                    "{}: Opsdeck failed internally while syncing ({}); the cached data is kept and the next sync will try again — please report this",
                    source.name,
                    panic_message(&panic)
                );
                tracing::error!(source = %source.name, error = %message, "sync panicked");
                self.store()
                    .record_failure(&source.name, &message, None)
                    .await?;
                Ok(not_landed(source, message, 0))
            }
        }
    }

    async fn land(&self, source: &SourceConfig, progress: ProgressSink<'_>) -> Result<SyncReport> {
        let store = self.store();
        store.record_attempt(&source.name, Utc::now()).await?;
        let started = Instant::now();
        let meter = RequestMeter::default();
        let pages = AtomicUsize::new(0);
        let counted = |p: SyncProgress| {
            pages.store(p.pages as usize, Ordering::Relaxed);
            progress(p)
        };
        let fetched = self.fetch(source, &meter, &counted).await;
        // A spent quota holds the next sync until the platform's window resets, even after a
        // sync that landed: asking before then would only earn a 429.
        let cost = |at| SyncCost {
            at,
            requests: meter.requests(),
            duration_ms: started.elapsed().as_millis() as i64,
            quota: meter.quota(),
            wait_until: meter.quota().and_then(|q| q.exhausted_until(at)),
        };
        let (fetched, mut problems) = match fetched {
            Ok(fetched) => fetched,
            Err(error) => {
                let message = match error.retry_after {
                    Some(until) => format!("{error}; next sync {}", clock_time(until)),
                    None => error.to_string(),
                };
                store
                    .record_failure(&source.name, &message, error.retry_after)
                    .await?;
                let cost = cost(Utc::now());
                store.record_cost(&source.name, &cost).await?;
                tracing::warn!(
                    outcome = "failed",
                    pages = pages.load(Ordering::Relaxed),
                    requests = cost.requests,
                    duration_ms = cost.duration_ms,
                    error = %message,
                    "sync failed; cache kept"
                );
                return Ok(not_landed(source, message, cost.requests));
            }
        };
        let landed_at = Utc::now();
        let (items, rows_written) = match fetched {
            Fetched::Catalog(entities) => {
                let written = self
                    .land_catalog(source, &entities, &mut problems, landed_at)
                    .await?;
                (entities.len(), written)
            }
            Fetched::CatalogUnchanged(items) => {
                match store
                    .confirm_source(&source.name, &self.precedence(), landed_at, items)
                    .await?
                {
                    Some(held_problems) => {
                        problems.extend(held_problems);
                        (items, 0)
                    }
                    None => {
                        let entities = store.source_entities(&source.name).await?;
                        let written = self
                            .land_catalog(source, &entities, &mut problems, landed_at)
                            .await?;
                        (entities.len(), written)
                    }
                }
            }
            Fetched::Records(records) => {
                let written = store
                    .replace_records(&source.name, &records, &problems, landed_at)
                    .await?;
                (records.len(), written)
            }
            Fetched::Staged {
                sync_id,
                etags,
                items,
            } => {
                let (written, deployed) = store
                    .land_staged_delivery(
                        &source.name,
                        &sync_id,
                        &etags,
                        items,
                        &problems,
                        landed_at,
                    )
                    .await?;
                problems.extend(self.after_delivery(source, &deployed, &meter).await?);
                (items, written)
            }
            Fetched::Delivery(fetch) => {
                let landing = DeliveryLanding {
                    deployments: &fetch.deployments,
                    scoped: fetch.scoped,
                    items: fetch.items,
                };
                let (written, deployed) = store
                    .land_delivery(&source.name, landing, &problems, landed_at)
                    .await?;
                if let Some(watch) = self.argocd_watch(&source.name) {
                    watch.landed(fetch.watch_mark);
                }
                problems.extend(self.after_delivery(source, &deployed, &meter).await?);
                (fetch.items, written)
            }
        };
        let cost = cost(landed_at);
        store.record_cost(&source.name, &cost).await?;
        // What landed may change scorecards; failing to work them out costs no landed data.
        if let Err(error) = self.refresh_scorecards(rows_written > 0).await {
            tracing::warn!(%error, "scorecards not worked out");
            problems.push(format!(
                "scorecards could not be worked out from the cache: {error}"
            ));
        }
        // The On call screen's summary is worked out now, not on the next click.
        if let Err(error) = self.on_call_summary().await {
            tracing::warn!(%error, "on-call summary not worked out");
        }
        tracing::info!(
            outcome = "landed",
            pages = pages.load(Ordering::Relaxed),
            rows = items,
            rows_written,
            problems = problems.len(),
            requests = cost.requests,
            duration_ms = cost.duration_ms,
            "sync landed"
        );
        Ok(SyncReport {
            source: source.name.clone(),
            landed: true,
            items: items as i64,
            rows_written: rows_written as i64,
            requests: cost.requests,
            problems,
            duration_ms: cost.duration_ms,
            left_to: None,
        })
    }

    /// Lands `entities` as everything `source` holds now; `problems` gains what they get
    /// wrong. Returns the rows written.
    async fn land_catalog(
        &self,
        source: &SourceConfig,
        entities: &[Entity],
        problems: &mut Vec<String>,
        landed_at: chrono::DateTime<Utc>,
    ) -> Result<u64> {
        // References that cannot become relations, and alert selectors that do not parse,
        // are the source's problems to fix.
        problems.extend(
            entities
                .iter()
                .flat_map(|e| relations_of(e).1)
                .map(|problem| problem.to_string()),
        );
        problems.extend(entities.iter().filter_map(selector_problem));
        problems.extend(entities.iter().filter_map(wiring_problem));
        Ok(self
            .store()
            .replace_source(
                SourceRows {
                    source: &source.name,
                    entities,
                    problems,
                },
                &self.precedence(),
                landed_at,
            )
            .await?)
    }

    /// Source names in config order: which source's word wins in the merged view.
    fn precedence(&self) -> Vec<String> {
        self.config()
            .sources
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    async fn fetch(
        &self,
        source: &SourceConfig,
        meter: &RequestMeter,
        progress: ProgressSink<'_>,
    ) -> Result<(Fetched, Vec<String>), ConnectorError> {
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
                let connector = BackstageConnector::new(self.endpoint(source)?);
                let store = self.store();
                let cache_failed = |e: crate::store::StoreError| {
                    ConnectorError::new(&source.name, FailureKind::Io, e.to_string())
                };
                let held = store
                    .source_etags(&source.name)
                    .await
                    .map_err(cache_failed)?;
                let mut sink = report;
                let read = connector.fetch_entities(&held, meter, &mut sink).await?;
                if !held.is_empty()
                    && read.entities.is_empty()
                    && read.unchanged.len() == held.len()
                {
                    return Ok((Fetched::CatalogUnchanged(held.len()), Vec::new()));
                }
                let mut entities = read.entities;
                if !read.unchanged.is_empty() {
                    let kept = store
                        .source_entities(&source.name)
                        .await
                        .map_err(cache_failed)?;
                    entities.extend(
                        kept.into_iter()
                            .filter(|e| read.unchanged.contains(&e.entity_ref().key())),
                    );
                }
                Ok((Fetched::Catalog(entities), Vec::new()))
            }
            SourceKind::CatalogFiles => {
                let load = load_catalog_tree(source).await?;
                report(FetchProgress {
                    pages: load.files,
                    items: load.entities.len(),
                    total: Some(load.entities.len()),
                });
                let (mut entities, mut problems) = (load.entities, load.problems);
                if !load.damaged.is_empty() {
                    let held = self
                        .store()
                        .source_entities(&source.name)
                        .await
                        .map_err(|e| {
                            ConnectorError::new(&source.name, FailureKind::Io, e.to_string())
                        })?;
                    let kept: Vec<Entity> = carried_over(&held, &entities, &load.damaged)
                        .into_iter()
                        .cloned()
                        .collect();
                    if !kept.is_empty() {
                        problems.push(format!(
                            "{} entities of files that do not read or parse now are kept as last read: {}",
                            kept.len(),
                            kept.iter()
                                .map(|e| e.entity_ref().to_string())
                                .take(10)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                        entities.extend(kept);
                    }
                }
                Ok((Fetched::Catalog(entities), problems))
            }
            SourceKind::Pagerduty => {
                let connector = PagerDutyConnector::new(self.endpoint(source)?);
                let mut sink = report;
                let snapshot = connector.fetch(Utc::now(), meter, &mut sink).await?;
                Ok((Fetched::Records(pagerduty_records(&snapshot)), Vec::new()))
            }
            SourceKind::Alertmanager => {
                let connector = AlertmanagerConnector::new(self.endpoint(source)?);
                let mut sink = report;
                let snapshot = connector.fetch(meter, &mut sink).await?;
                Ok((
                    Fetched::Records(alertmanager_records(&snapshot)),
                    Vec::new(),
                ))
            }
            SourceKind::Github => {
                let connector = GithubConnector::new(self.endpoint(source)?);
                let cache_failed = |e: crate::Error| {
                    ConnectorError::new(&source.name, FailureKind::Io, e.to_string())
                };
                let (repos, etags) = self
                    .github_known(&source.name)
                    .await
                    .map_err(cache_failed)?;
                let store = self.store();
                // Another process may be syncing this source into the same cache.
                let sync_id = format!("{:016x}", fastrand::u64(..));
                store
                    .drop_staged(&source.name, &sync_id)
                    .await
                    .map_err(|e| cache_failed(e.into()))?;
                let (finished, mut parts) = tokio::sync::mpsc::channel(PARTS_IN_FLIGHT);
                let mut sink = report;
                let reading =
                    connector.fetch(&repos, &etags, Utc::now(), meter, &mut sink, finished);
                let staging = async {
                    let mut items = 0;
                    while let Some(reads) = parts.recv().await {
                        items += reads.len();
                        store
                            .stage_delivery(&source.name, &sync_id, &github_part(reads))
                            .await?;
                    }
                    Ok::<_, crate::store::StoreError>(items)
                };
                let (read, staged) = tokio::join!(reading, staging);
                let outcome = match (read, staged) {
                    (Ok(snapshot), Ok(items)) => Ok(Fetched::Staged {
                        sync_id: sync_id.clone(),
                        etags: snapshot.etags,
                        items,
                    }),
                    (Err(error), _) => Err(error),
                    (Ok(_), Err(error)) => Err(cache_failed(error.into())),
                };
                if outcome.is_err() {
                    // What was staged is dropped now (what a crash leaves goes a day later).
                    let _ = store.drop_staged(&source.name, &sync_id).await;
                }
                Ok((outcome?, Vec::new()))
            }
            SourceKind::Argocd => {
                let connector = ArgoCdConnector::new(self.endpoint(source)?);
                let cache_failed = |e: crate::Error| {
                    ConnectorError::new(&source.name, FailureKind::Io, e.to_string())
                };
                let wirings: Vec<DeliveryTarget> = self
                    .store()
                    .delivery_targets("argocd-")
                    .await
                    .map_err(|e| cache_failed(e.into()))?
                    .iter()
                    .filter_map(|key| DeliveryTarget::from_key(key))
                    .collect();
                let watch = self.argocd_watch(&source.name);
                if let Some(changes) = watch.and_then(ArgoWatch::changes_to_land) {
                    let (deployments, scoped) = self
                        .watched_delivery(&source.name, &connector, &wirings, &changes)
                        .await
                        .map_err(cache_failed)?;
                    let items = self
                        .store()
                        .count_records(&source.name, RecordKind::Environment)
                        .await
                        .map_err(|e| cache_failed(e.into()))?;
                    return Ok((
                        Fetched::Delivery(DeliveryFetch {
                            deployments,
                            scoped,
                            items,
                            watch_mark: WatchMark::Applied(changes.len()),
                        }),
                        Vec::new(),
                    ));
                }
                let started = Instant::now();
                let mut sink = report;
                let reads = connector.fetch(&wirings, meter, &mut sink).await?;
                Ok((
                    Fetched::Delivery(argocd_delivery(reads, started)),
                    Vec::new(),
                ))
            }
        }
    }
}

/// Reads a `catalog-files` source's tree, off the async threads.
pub(crate) async fn load_catalog_tree(
    source: &SourceConfig,
) -> Result<CatalogLoad, ConnectorError> {
    let name = source.name.clone();
    let root = source.path.clone().unwrap_or_default();
    let links = match source.follow_links {
        Some(false) => Links::Refuse,
        _ => Links::FollowInside,
    };
    tokio::task::spawn_blocking(move || load_tree(&name, &root, links))
        .await
        .map_err(|e| ConnectorError::new(&source.name, FailureKind::Io, e.to_string()))?
}

impl Engine {
    /// What a delivery landing asks next, while the platform is up: the changes in each new
    /// deploy (so "what changed" answers from the cache when it is not) and, for GitHub, the
    /// runbooks kept there (so they read offline). Their failures are problems, not failures.
    async fn after_delivery(
        &self,
        source: &SourceConfig,
        deployed: &std::collections::BTreeSet<String>,
        meter: &RequestMeter,
    ) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        if !deployed.is_empty() {
            problems.extend(self.cache_comparisons(deployed, meter).await?);
        }
        if source.kind == SourceKind::Github {
            problems.extend(self.cache_runbooks(source, meter).await?);
        }
        Ok(problems)
    }
}

impl Engine {
    /// Where and as whom `source`'s connector reads; a keychain that fails is the source's
    /// failure.
    pub(crate) fn endpoint(&self, source: &SourceConfig) -> Result<Endpoint, ConnectorError> {
        let token = self
            .secrets()
            .token_for(source)
            .map_err(|e| ConnectorError::new(&source.name, FailureKind::Token, e.detail()))?;
        Ok(Endpoint::new(
            self.clients(source)?,
            &source.name,
            source.url.as_deref().unwrap_or_default(),
            token,
            source.token_env.clone(),
            source.timeout,
        ))
    }
}

/// GitHub's reads of some repositories as a part to stage: runs and releases replace what
/// each repository held only when GitHub said they changed.
fn github_part(reads: Vec<RepoRead>) -> DeliveryPart {
    let mut part = DeliveryPart::default();
    for repo in reads {
        let target = DeliveryTarget::GithubRepo(repo.slug).key();
        if let Some(runs) = repo.runs {
            let records = runs
                .iter()
                .map(|r| PlatformRecord::new(RecordKind::Run, &r.id, Some(&target), r))
                .collect();
            part.scoped.push((RecordKind::Run, target.clone(), records));
        }
        if let Some(releases) = repo.releases {
            let records = releases
                .iter()
                .map(|r| PlatformRecord::new(RecordKind::Release, &r.tag, Some(&target), r))
                .collect();
            part.scoped
                .push((RecordKind::Release, target.clone(), records));
        }
        part.deployments.extend(repo.deployments);
    }
    part
}

/// Argo CD's answer as delivery data: each wiring's applications replace what it held.
fn argocd_delivery(reads: Vec<WiringRead>, started: Instant) -> DeliveryFetch {
    let mut fetch = DeliveryFetch {
        deployments: Vec::new(),
        scoped: Vec::new(),
        items: 0,
        watch_mark: WatchMark::Listed(started),
    };
    for read in reads {
        fetch.items += read.environments.len();
        fetch
            .scoped
            .push(environment_scope(read.target, &read.environments));
        fetch.deployments.extend(read.deployments);
    }
    fetch
}

/// The applications a wiring holds, as the records that replace what it held.
pub(super) fn environment_scope(
    target: String,
    environments: &[EnvironmentState],
) -> (RecordKind, String, Vec<PlatformRecord>) {
    let records = environments
        .iter()
        .map(|e| PlatformRecord::new(RecordKind::Environment, &e.app, Some(&target), e))
        .collect();
    (RecordKind::Environment, target, records)
}

/// PagerDuty's answer as records: services and shifts joined by escalation policy, incidents
/// by service.
fn pagerduty_records(snapshot: &PagerDutySnapshot) -> Vec<PlatformRecord> {
    let services = snapshot
        .services
        .iter()
        .map(|s| PlatformRecord::new(RecordKind::Service, &s.id, s.policy_id.as_deref(), s));
    let policies = snapshot
        .policies
        .iter()
        .map(|p| PlatformRecord::new(RecordKind::Policy, &p.id, Some(&p.id), p));
    let shifts = snapshot.shifts.iter().map(|s| {
        let start = s.start.map_or("always".to_string(), |t| t.to_rfc3339());
        let id = format!("{}|{}|{}|{start}", s.policy_id, s.level, s.person.id);
        PlatformRecord::new(RecordKind::Shift, &id, Some(&s.policy_id), s)
    });
    let incidents = snapshot
        .incidents
        .iter()
        .map(|i| PlatformRecord::new(RecordKind::Incident, &i.id, Some(&i.service_id), i));
    let change_events = snapshot.change_events.iter().flat_map(|e| {
        e.service_ids.iter().map(move |service| {
            let id = format!("{}|{service}", e.id);
            PlatformRecord::new(RecordKind::ChangeEvent, &id, Some(service), e)
        })
    });
    services
        .chain(policies)
        .chain(shifts)
        .chain(incidents)
        .chain(change_events)
        .collect()
}

/// Alertmanager's answer as records; alerts are joined to components by the store.
fn alertmanager_records(snapshot: &AlertmanagerSnapshot) -> Vec<PlatformRecord> {
    let alerts = snapshot
        .alerts
        .iter()
        .map(|a| PlatformRecord::new(RecordKind::Alert, &a.fingerprint, Some(a.state.as_str()), a));
    let silences = snapshot
        .silences
        .iter()
        .map(|s| PlatformRecord::new(RecordKind::Silence, &s.id, Some(&s.id), s));
    alerts.chain(silences).collect()
}

/// Whether a sync waits for the time a platform asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlatformWait {
    /// Scheduled syncs, and syncs of everything: no request before the platform allows.
    Honour,
    /// A sync of one source the user asked for by name: sent anyway, with a warning.
    Override,
}

/// What a panic said, when it said it in words.
fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// The report of a sync that did not land, with the requests it made.
fn not_landed(source: &SourceConfig, problem: String, requests: i64) -> SyncReport {
    SyncReport {
        source: source.name.clone(),
        landed: false,
        items: 0,
        rows_written: 0,
        requests,
        problems: vec![problem],
        duration_ms: 0,
        left_to: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_costs_its_sources_sync_only_and_is_recorded() {
        let config = crate::config::Config::parse(
            "[[sources]]\nname = 'files'\nkind = 'catalog-files'\npath = 'catalog'\n",
            std::path::Path::new("/tmp/opsdeck.toml"),
        )
        .unwrap();
        let engine = Engine::in_memory(config, Default::default()).await.unwrap();
        let source = engine.config().sources[0].clone();
        let report = engine
            .isolated(&source, async { panic!("index out of bounds") })
            .await
            .expect("a panic is a report, not an error or an unwinding");
        assert!(!report.landed);
        assert!(
            report.problems[0].starts_with(
                "files: Opsdeck failed internally while syncing (index out of bounds)"
            ),
            "{:?}",
            report.problems
        );
        let state = &engine.sources().await.unwrap()[0];
        assert_eq!(state.health, crate::domain::Health::Failing);
        assert_eq!(
            state.last_error.as_deref(),
            Some(report.problems[0].as_str())
        );
    }
}
