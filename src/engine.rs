//! The engine: configuration, cache, secrets and HTTP client in one cloneable handle. Both faces
//! hold one and call only its methods.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use crate::api::{
    PlatformWiring, Quota, SearchHit, ServiceDetail, ServiceRow, SourceStatus, TeamSummary,
};
use crate::config::{Config, SourceConfig};
use crate::domain::{platform_wiring, EntityRef, RelationType, SyncTimes, DEFAULT_NAMESPACE};
use crate::secrets::Secrets;
use crate::store::{Store, SyncStateRow};
use crate::{Error, Result};

/// What the engine needs besides the cache.
#[derive(Debug)]
struct Inner {
    config: Config,
    secrets: Secrets,
    http: reqwest::Client,
    /// One per source, held while it syncs: a scheduled sync and a manual one never overlap.
    source_locks: HashMap<String, tokio::sync::Mutex<()>>,
    /// Syncs in flight per host (see [`SourceConfig::host_key`]), so several sources on one
    /// platform do not gang up on it.
    host_slots: HashMap<String, tokio::sync::Semaphore>,
    /// Rollback plans made here and not yet confirmed, by key: a confirmation carries only
    /// the key, so what runs is what was planned, never what a face sends back.
    rollback_plans: std::sync::Mutex<HashMap<String, crate::rollback::PendingRollback>>,
}

/// Sources of one host that may sync at once.
pub const SYNCS_PER_HOST: usize = 2;

/// Cloneable handle to the engine.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
    store: Store,
}

impl Engine {
    /// Opens the cache at `db_path` for `config`.
    pub async fn open(config: Config, db_path: &Path, secrets: Secrets) -> Result<Self> {
        let store = Store::open(db_path).await?;
        Ok(Self::with_store(config, store, secrets))
    }

    /// An engine over an existing store (tests use an in-memory one).
    pub fn with_store(config: Config, store: Store, secrets: Secrets) -> Self {
        let source_locks = config
            .sources
            .iter()
            .map(|s| (s.name.clone(), Default::default()))
            .collect();
        let host_slots = config
            .sources
            .iter()
            .map(|s| (s.host_key(), tokio::sync::Semaphore::new(SYNCS_PER_HOST)))
            .collect();
        Self {
            inner: Arc::new(Inner {
                config,
                secrets,
                http: crate::connectors::http_client(),
                source_locks,
                host_slots,
                rollback_plans: Default::default(),
            }),
            store,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The cache.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn secrets(&self) -> &Secrets {
        &self.inner.secrets
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn source_lock(&self, source: &str) -> &tokio::sync::Mutex<()> {
        &self.inner.source_locks[source]
    }

    pub(crate) fn pending_rollbacks(
        &self,
    ) -> &std::sync::Mutex<HashMap<String, crate::rollback::PendingRollback>> {
        &self.inner.rollback_plans
    }

    pub(crate) fn host_slots(&self, host_key: &str) -> &tokio::sync::Semaphore {
        &self.inner.host_slots[host_key]
    }

    /// A source's sync times, as the freshness rule reads them.
    pub(crate) async fn sync_times(&self, source: &SourceConfig) -> Result<SyncTimes> {
        let states = self.store.sync_states(Utc::now()).await?;
        Ok(sync_times(
            source,
            states.iter().find(|s| s.source == source.name),
        ))
    }

    /// Each configured source with its sync state, health and request budget.
    pub async fn sources(&self) -> Result<Vec<SourceStatus>> {
        let now = Utc::now();
        let states = self.store.sync_states(now).await?;
        Ok(self
            .config()
            .sources
            .iter()
            .map(|source| {
                let state = states.iter().find(|s| s.source == source.name);
                let times = sync_times(source, state);
                SourceStatus {
                    name: source.name.clone(),
                    kind: source.kind,
                    interval_secs: source.interval.as_secs(),
                    health: times.health(now),
                    data_stale: times.data_is_stale(now),
                    last_attempt: times.last_attempt,
                    last_success: times.last_success,
                    next_sync: times.next_sync(now),
                    retry_after: times.retry_after.filter(|until| *until > now),
                    consecutive_failures: state.map_or(0, |s| s.consecutive_failures),
                    last_error: state.and_then(|s| s.last_error.clone()),
                    item_count: state.map_or(0, |s| s.item_count),
                    requests_last_hour: state.map_or(0, |s| s.requests_last_hour),
                    last_requests: state.and_then(|s| s.last_requests),
                    last_rows_written: state.and_then(|s| s.last_rows_written),
                    last_duration_ms: state.and_then(|s| s.last_duration_ms),
                    quota: state.and_then(|s| {
                        Some(Quota {
                            limit: s.quota_limit,
                            remaining: s.quota_remaining?,
                            resets_at: s.quota_resets_at,
                        })
                    }),
                }
            })
            .collect())
    }

    /// Teams, the identity's own first.
    pub async fn teams(&self) -> Result<Vec<TeamSummary>> {
        Ok(self
            .store
            .teams(self.config().identity.email.as_deref())
            .await?)
    }

    /// Services of a team (`checkout`, `group:checkout`, or a cache key), or all services.
    pub async fn services(&self, team: Option<&str>) -> Result<Vec<ServiceRow>> {
        let Some(team) = team else {
            return Ok(self.store.all_services().await?);
        };
        let key = self.team_key(team).await?;
        Ok(self.store.services_of(&key).await?)
    }

    /// Services whose owner is missing from the catalog.
    pub async fn orphaned_services(&self) -> Result<Vec<ServiceRow>> {
        Ok(self.store.orphaned_services().await?)
    }

    /// The service page of `name` (`checkout-api`, `component:default/checkout-api`, …).
    pub async fn service(&self, name: &str) -> Result<ServiceDetail> {
        let (key, stored) = self.service_entity(name).await?;
        let e = &stored.entity;
        let owner = match e.owner_ref() {
            Some(r) => Some(self.store.summary(&r.key()).await?),
            None => None,
        };
        let system = match e.system_ref() {
            Some(r) => Some(self.store.summary(&r.key()).await?),
            None => None,
        };
        let outgoing = self.store.related(&key, true).await?;
        let incoming = self.store.related(&key, false).await?;
        let pick = |list: &[crate::store::RelatedEntity], relation: RelationType| {
            list.iter()
                .filter(|r| r.relation == relation.as_str())
                .map(|r| r.other.clone())
                .collect::<Vec<_>>()
        };
        Ok(ServiceDetail {
            key: key.clone(),
            kind: e.kind.to_ascii_lowercase(),
            namespace: e.namespace().to_string(),
            name: e.metadata.name.clone(),
            title: e.display_name().to_string(),
            description: e.metadata.description.clone(),
            service_type: e.spec_str("type").map(Into::into),
            lifecycle: e.spec_str("lifecycle").map(Into::into),
            tier: e.tier().map(Into::into),
            owner,
            system,
            depends_on: pick(&outgoing, RelationType::DependsOn),
            dependents: pick(&incoming, RelationType::DependsOn),
            provides_apis: pick(&outgoing, RelationType::ProvidesApi),
            consumes_apis: pick(&outgoing, RelationType::ConsumesApi),
            links: e.metadata.links.clone(),
            tags: e.metadata.tags.clone(),
            platforms: platform_wiring(e)
                .into_iter()
                .map(|(platform, annotation, value)| PlatformWiring {
                    platform: platform.into(),
                    annotation: annotation.into(),
                    value,
                })
                .collect(),
            gaps: stored.gaps,
            sources: stored.sources,
        })
    }

    /// Search as you type over services, teams, people and systems.
    pub async fn search(&self, text: &str, limit: i64) -> Result<Vec<SearchHit>> {
        Ok(self.store.search(text, limit).await?)
    }
}

impl Engine {
    /// The cache key of the team `team` names, if the cache holds it.
    pub(crate) async fn team_key(&self, team: &str) -> Result<String> {
        let key = parse_key(team, "group")?;
        if !self.store.summary(&key).await?.exists {
            return Err(Error::NotFound(format!(
                "no team '{team}' in the cache (see `opsdeck teams`)"
            )));
        }
        Ok(key)
    }

    /// The cache key of the service `name` names and what the cache holds of it.
    pub(crate) async fn service_entity(
        &self,
        name: &str,
    ) -> Result<(String, crate::store::StoredEntity)> {
        let key = parse_key(name, "component")?;
        let stored = self
            .store
            .entity(&key)
            .await?
            .ok_or_else(|| no_service(name))?;
        Ok((key, stored))
    }

    /// Who acts: the configured identity, else the OS user.
    pub(crate) fn actor(&self) -> String {
        self.config()
            .identity
            .email
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown user".into())
    }

    /// The cache key of the service `name` names, if the cache holds it.
    pub(crate) async fn service_key(&self, name: &str) -> Result<String> {
        let key = parse_key(name, "component")?;
        if !self.store.summary(&key).await?.exists {
            return Err(no_service(name));
        }
        Ok(key)
    }
}

/// A fresh key for an action in the audit log: `prefix`, the time, and 64 random bits.
pub(crate) fn new_action_key(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{:016x}",
        Utc::now().format("%Y%m%dT%H%M%S"),
        fastrand::u64(..)
    )
}

fn no_service(name: &str) -> Error {
    Error::NotFound(format!(
        "no service '{name}' in the cache (try `opsdeck search {name}`)"
    ))
}

/// What the freshness rule needs from a source's stored state.
fn sync_times(source: &SourceConfig, state: Option<&SyncStateRow>) -> SyncTimes {
    let last_attempt = state.and_then(|s| s.last_attempt);
    let last_success = state.and_then(|s| s.last_success);
    SyncTimes {
        last_attempt,
        last_success,
        last_attempt_failed: state.is_some_and(|s| s.consecutive_failures > 0),
        retry_after: state.and_then(|s| s.retry_after),
        interval: chrono::Duration::from_std(source.interval).unwrap_or(chrono::Duration::MAX),
    }
}

/// A user-typed reference turned into a cache key, with the context's default kind.
fn parse_key(text: &str, default_kind: &str) -> Result<String> {
    EntityRef::parse(text, Some(default_kind), DEFAULT_NAMESPACE)
        .map(|r| r.key())
        .map_err(|e| Error::NotFound(e.to_string()))
}
