//! The engine: configuration, cache, secrets and HTTP clients in one cloneable handle. Both faces
//! hold one and call only its methods.

mod actions;
mod argocd_watch;
mod audit;
mod catalog;
mod connect;
pub(crate) mod delivery;
pub(crate) mod incident_actions;
pub(crate) mod incidents;
pub(crate) mod leases;
pub(crate) mod on_call;
pub(crate) mod ownership;
pub(crate) mod reports;
pub(crate) mod rollback;
pub(crate) mod runbooks;
pub(crate) mod sync;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use crate::api::SourceStatus;
use crate::config::{Config, SourceConfig};
use crate::config::{StorageConfig, AUDIT_LOG_SECRET, CACHE_SECRET};
use crate::connectors::{ConnectorError, FailureKind, SourceClients};
use crate::domain::Quota;
use crate::domain::SyncTimes;
use crate::secrets::Secrets;
use crate::store::{SharedDatabase, Store, SyncStateRow};
use crate::Result;

/// What the engine needs besides the cache.
#[derive(Debug)]
struct Inner {
    config: Config,
    secrets: Secrets,
    /// Each source's HTTP clients, or why they could not be set up (its `ca_file`).
    clients: HashMap<String, std::result::Result<SourceClients, String>>,
    /// One per source, held while it syncs: a scheduled sync and a manual one never overlap.
    source_locks: HashMap<String, tokio::sync::Mutex<()>>,
    /// Syncs in flight per host (see [`SourceConfig::host_key`]), so several sources on one
    /// platform do not gang up on it.
    host_slots: HashMap<String, tokio::sync::Semaphore>,
    /// Rollback plans made here and not yet confirmed, by key: a confirmation carries only
    /// the key, so what runs is what was planned, never what a face sends back.
    rollback_plans: std::sync::Mutex<HashMap<String, rollback::PendingRollback>>,
    /// Other actions planned here and not yet confirmed, by key, for the same reason.
    action_plans: std::sync::Mutex<HashMap<String, incident_actions::PendingAction>>,
    /// Steps of actions under way that the audit log could not take yet, oldest first.
    unrecorded_steps: tokio::sync::Mutex<Vec<crate::store::AuditStep>>,
    /// Held while scorecards are worked out, so two syncs landing at once never write results
    /// read before the other landed.
    scorecard_refresh: tokio::sync::Mutex<()>,
    /// The org tree and group heads as last read.
    org_view: KeptUntilLanding<Arc<ownership::OrgView>>,
    /// The sidebar's teams with their counts as last read.
    sidebar: KeptUntilLanding<Vec<crate::api::TeamSummary>>,
    /// The On call screen's summary as last worked out.
    on_call_summary: KeptUntilLanding<Arc<on_call::OnCallSummary>>,
    /// Each owner's scorecard tally, with when the results it adds up were worked out.
    scorecard_tallies: ScorecardTallies,
    /// Each Argo CD source's watch stream, held while the sync loop runs.
    argocd_watches: HashMap<String, argocd_watch::ArgoWatch>,
    /// This engine in the sync leases of the cache.
    lease_holder: crate::store::LeaseHolder,
}

/// What the engine read from the cache, kept with the landings mark
/// ([`crate::store::Store::landings_mark`]) it was read after: good until something lands,
/// whichever process landed it.
#[derive(Debug)]
struct KeptUntilLanding<T>(std::sync::Mutex<Option<(String, T)>>);

impl<T> Default for KeptUntilLanding<T> {
    fn default() -> Self {
        Self(std::sync::Mutex::new(None))
    }
}

impl<T: Clone> KeptUntilLanding<T> {
    /// What was kept, if read after the landings `mark` stands for.
    fn get(&self, mark: &str) -> Option<T> {
        match &*self.0.lock().expect("never poisoned") {
            Some((kept, value)) if kept == mark => Some(value.clone()),
            _ => None,
        }
    }

    fn keep(&self, mark: String, value: T) {
        *self.0.lock().expect("never poisoned") = Some((mark, value));
    }
}

type ScorecardTallies = std::sync::Mutex<
    Option<(
        chrono::DateTime<Utc>,
        Arc<HashMap<String, crate::domain::scorecards::Tally>>,
    )>,
>;

/// The password of the shared database `storage` names (`name`: [`CACHE_SECRET`] or
/// [`AUDIT_LOG_SECRET`]), found the way tokens are. A password not found is logged, not
/// fatal: the database then says it wants one, as it says the server cannot be reached, and
/// that costs what needs the database (and says what to check).
fn password_of(storage: &StorageConfig, name: &str, secrets: &Secrets) -> Option<String> {
    let account = storage.keychain_account(name).unwrap_or_default();
    match secrets.secret(
        (name, "password"),
        storage.password_env.as_deref(),
        &account,
    ) {
        Ok(found) => found.map(|password| password.value),
        Err(missing) => {
            tracing::warn!(%missing, database = name, "the shared database will be asked without a password");
            None
        }
    }
}

/// Where `config` keeps the audit log: beside the cache, or in a shared database of its own.
fn audit_location(config: &Config, secrets: &Secrets) -> Result<crate::store::AuditLocation> {
    let Some(url) = config.audit.shared_url() else {
        return Ok(Default::default());
    };
    let shared = crate::store::AuditLocation::shared(url)?;
    Ok(
        match password_of(&config.audit, AUDIT_LOG_SECRET, secrets) {
            Some(password) => shared.with_password(&password),
            None => shared,
        },
    )
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
    /// Opens the cache for `config`: the shared database its `[cache] url` names, or the file
    /// at `db_path`.
    pub async fn open(config: Config, db_path: &Path, secrets: Secrets) -> Result<Self> {
        let audit = audit_location(&config, &secrets)?;
        let store = match config.cache.shared_url() {
            Some(url) => {
                let shared = SharedDatabase::at(url, "[cache]")?;
                let shared = match password_of(&config.cache, CACHE_SECRET, &secrets) {
                    Some(password) => shared.with_password(&password),
                    None => shared,
                };
                Store::open_shared(&shared, &audit).await?
            }
            None => Store::open(db_path, &audit).await?,
        };
        Ok(Self::with_store(
            config,
            store,
            secrets,
            leases::this_process(),
        ))
    }

    /// An engine over a cache in memory, gone when the last clone is dropped: for tests and
    /// benchmarks.
    pub async fn in_memory(config: Config, secrets: Secrets) -> Result<Self> {
        let store = Store::in_memory(&audit_location(&config, &secrets)?).await?;
        Ok(Self::with_store(
            config,
            store,
            secrets,
            leases::this_process(),
        ))
    }

    /// Another engine over this one's cache, with another configuration and secrets, to be
    /// used in its place: it holds this one's sync leases, so a sync cut short by the switch
    /// does not keep its source from the new engine until the lease lapses.
    pub fn reconfigured(&self, config: Config, secrets: Secrets) -> Self {
        let holder = self.inner.lease_holder.clone();
        Self::with_store(config, self.store.clone(), secrets, holder)
    }

    fn with_store(
        config: Config,
        store: Store,
        secrets: Secrets,
        lease_holder: crate::store::LeaseHolder,
    ) -> Self {
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
        let clients = config
            .sources
            .iter()
            .map(|s| (s.name.clone(), SourceClients::new(s.ca_file.as_deref())))
            .collect();
        let argocd_watches = config
            .sources
            .iter()
            .filter(|s| s.kind == crate::config::SourceKind::Argocd)
            .map(|s| (s.name.clone(), Default::default()))
            .collect();
        Self {
            inner: Arc::new(Inner {
                config,
                secrets,
                clients,
                source_locks,
                host_slots,
                rollback_plans: Default::default(),
                action_plans: Default::default(),
                unrecorded_steps: Default::default(),
                scorecard_refresh: Default::default(),
                org_view: Default::default(),
                sidebar: Default::default(),
                on_call_summary: Default::default(),
                scorecard_tallies: Default::default(),
                argocd_watches,
                lease_holder,
            }),
            store,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Waits for what the syncs left running in the background (the checkpoint of what they
    /// landed): for a process about to exit.
    pub async fn settle(&self) {
        self.store.settle().await;
    }

    pub(crate) fn secrets(&self) -> &Secrets {
        &self.inner.secrets
    }

    /// `source`'s HTTP clients; a `ca_file` that cannot be read is the source's failure.
    pub(crate) fn clients(&self, source: &SourceConfig) -> Result<SourceClients, ConnectorError> {
        match &self.inner.clients[&source.name] {
            Ok(clients) => Ok(clients.clone()),
            Err(message) => Err(ConnectorError::new(
                &source.name,
                FailureKind::Io,
                format!("{message}; fix the source in the config file"),
            )),
        }
    }

    pub(crate) fn source_lock(&self, source: &str) -> &tokio::sync::Mutex<()> {
        &self.inner.source_locks[source]
    }

    /// The machine this engine acts from, as the audit log names it.
    pub(crate) fn machine(&self) -> String {
        self.inner.lease_holder.host.clone()
    }

    pub(crate) fn lease_holder(&self) -> &crate::store::LeaseHolder {
        &self.inner.lease_holder
    }

    pub(crate) fn unrecorded_steps(&self) -> &tokio::sync::Mutex<Vec<crate::store::AuditStep>> {
        &self.inner.unrecorded_steps
    }

    pub(crate) fn pending_rollbacks(
        &self,
    ) -> &std::sync::Mutex<HashMap<String, rollback::PendingRollback>> {
        &self.inner.rollback_plans
    }

    pub(crate) fn action_plans(
        &self,
    ) -> &std::sync::Mutex<HashMap<String, incident_actions::PendingAction>> {
        &self.inner.action_plans
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

    /// The cache's own check: SQLite's of its file, or, in a shared cache, that every migration
    /// applied whole: `ok`, or what is broken.
    pub async fn cache_integrity(&self) -> Result<String> {
        Ok(self.store.integrity_check().await?)
    }

    /// How many entities the cache holds as `source` reported them.
    pub async fn entities_from(&self, source: &str) -> Result<i64> {
        Ok(self.store.source_entity_count(source).await?)
    }

    /// Each configured source with its sync state, health and request budget.
    pub async fn sources(&self) -> Result<Vec<SourceStatus>> {
        let now = Utc::now();
        let states = self.store.sync_states(now).await?;
        let mut syncing = self.syncing_now().await?;
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
                    warning: source.insecure_warning(),
                    syncing_now: syncing
                        .iter()
                        .position(|now| now.source == source.name)
                        .map(|at| syncing.swap_remove(at)),
                }
            })
            .collect())
    }
}

impl Engine {
    /// Who acts: the configured identity, else the OS user.
    pub(crate) fn actor(&self) -> String {
        self.config()
            .identity
            .email
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown user".into())
    }
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
