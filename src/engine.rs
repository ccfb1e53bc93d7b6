//! The engine: configuration, cache, secrets and HTTP client in one cloneable handle. Both faces
//! hold one and call only its methods.

use std::path::Path;
use std::sync::Arc;

use crate::api::{PlatformWiring, SearchHit, ServiceDetail, ServiceRow, SourceStatus, TeamSummary};
use crate::config::Config;
use crate::domain::{platform_wiring, EntityRef, RelationType, DEFAULT_NAMESPACE};
use crate::secrets::Secrets;
use crate::store::Store;
use crate::{Error, Result};

/// What the engine needs besides the cache.
#[derive(Debug)]
struct Inner {
    config: Config,
    secrets: Secrets,
    http: reqwest::Client,
    /// Held while a source syncs: a scheduled sync and a manual one never overlap.
    syncing: tokio::sync::Mutex<()>,
}

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
        Self {
            inner: Arc::new(Inner {
                config,
                secrets,
                http: crate::connectors::http_client(),
                syncing: tokio::sync::Mutex::new(()),
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

    pub(crate) fn sync_guard(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.syncing
    }

    /// Each configured source with its sync state.
    pub async fn sources(&self) -> Result<Vec<SourceStatus>> {
        let states = self.store.sync_states().await?;
        Ok(self
            .config()
            .sources
            .iter()
            .map(|source| {
                let state = states.iter().find(|s| s.source == source.name);
                SourceStatus {
                    name: source.name.clone(),
                    kind: source.kind,
                    supported: source.kind.is_synced(),
                    interval_secs: source.interval.as_secs(),
                    last_attempt: state.and_then(|s| s.last_attempt),
                    last_success: state.and_then(|s| s.last_success),
                    last_error: state.and_then(|s| s.last_error.clone()),
                    item_count: state.map_or(0, |s| s.item_count),
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
        let key = parse_key(team, "group")?;
        if !self.store.summary(&key).await?.exists {
            return Err(Error::NotFound(format!(
                "no team '{team}' in the cache (see `opsdeck teams`)"
            )));
        }
        Ok(self.store.services_of(&key).await?)
    }

    /// Services whose owner is missing from the catalog.
    pub async fn orphaned_services(&self) -> Result<Vec<ServiceRow>> {
        Ok(self.store.orphaned_services().await?)
    }

    /// The service page of `name` (`checkout-api`, `component:default/checkout-api`, …).
    pub async fn service(&self, name: &str) -> Result<ServiceDetail> {
        let key = parse_key(name, "component")?;
        let stored = self.store.entity(&key).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "no service '{name}' in the cache (try `opsdeck search {name}`)"
            ))
        })?;
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

/// A user-typed reference turned into a cache key, with the context's default kind.
fn parse_key(text: &str, default_kind: &str) -> Result<String> {
    EntityRef::parse(text, Some(default_kind), DEFAULT_NAMESPACE)
        .map(|r| r.key())
        .map_err(|e| Error::NotFound(e.to_string()))
}
