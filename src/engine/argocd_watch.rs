//! Argo CD's watch stream, held open while the sync loop runs: a change lands within seconds
//! of Argo CD reporting it, and a scheduled sync lands what the stream heard instead of
//! listing every application again. Argo CD's watch does not replay what happened while no
//! stream was open, so after any break the next sync lists the applications, as it also does
//! once an hour in case a change slipped between two streams.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::config::SourceConfig;
use crate::connectors::argocd::{AppChange, ArgoCdConnector, WatchEnd};
use crate::connectors::http::RequestMeter;
use crate::domain::delivery::{DeliveryTarget, Deployment, EnvironmentState};
use crate::domain::label_selector::LabelSelector;
use crate::engine::sync::environment_scope;
use crate::engine::Engine;
use crate::store::{LookupBy, PlatformRecord, RecordKind};

/// The longest one stream is held before it is opened again (a request needs a time limit).
const WATCH_SPAN: Duration = Duration::from_secs(10 * 60);
/// A stream that ends sooner than this after opening is not trusted to have been open.
const WATCH_MIN_HOLD: Duration = Duration::from_secs(1);
/// How long the stream may be trusted alone before the applications are listed again.
pub(super) const LIST_EVERY: Duration = Duration::from_secs(60 * 60);
/// How long a burst of changes is given to arrive before it lands as one.
pub(super) const WATCH_SETTLE: Duration = Duration::from_millis(300);
/// The first wait before opening a broken stream again; each failure doubles it.
const FIRST_REOPEN_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between two tries to open the stream.
const MAX_REOPEN_WAIT: Duration = Duration::from_secs(60);
/// Changes held for landing at most: beyond, they are dropped and the next sync lists.
const MAX_HELD_CHANGES: usize = 10_000;

/// One Argo CD source's watch: whether it is live and what it heard since the last landing.
#[derive(Debug, Default)]
pub(crate) struct ArgoWatch {
    state: std::sync::Mutex<WatchState>,
    /// Wakes the source's sync loop: a change was heard, or the stream is back after a break.
    heard: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct WatchState {
    /// Since when a stream has been held without a break.
    live_since: Option<Instant>,
    /// When the last list that landed started.
    listed_at: Option<Instant>,
    /// Changes heard and not landed, oldest first, with when each was heard.
    held: Vec<(Instant, AppChange)>,
}

/// What a landing did for the watch, to be noted once it is in the cache.
#[derive(Debug, Clone, Copy)]
pub(super) enum WatchMark {
    /// Every application was listed, starting then.
    Listed(Instant),
    /// The first this many held changes landed.
    Applied(usize),
}

impl ArgoWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The changes to land instead of a list, when the stream has been live since before the
    /// last list started and that list is recent; `None` when the applications must be listed.
    pub(super) fn changes_to_land(&self) -> Option<Vec<AppChange>> {
        let state = self.lock();
        let listed = state.listed_at?;
        let trusted =
            state.live_since.is_some_and(|live| live <= listed) && listed.elapsed() < LIST_EVERY;
        trusted.then(|| state.held.iter().map(|(_, c)| c.clone()).collect())
    }

    /// Notes what a landing did.
    pub(super) fn landed(&self, mark: WatchMark) {
        let mut state = self.lock();
        match mark {
            WatchMark::Listed(started) => {
                state.listed_at = Some(started);
                // What was heard before the list started, the list read.
                state.held.retain(|(heard, _)| *heard >= started);
            }
            WatchMark::Applied(count) => {
                let count = count.min(state.held.len());
                state.held.drain(..count);
            }
        }
    }

    fn hear(&self, change: AppChange) {
        let mut state = self.lock();
        if state.held.len() >= MAX_HELD_CHANGES {
            // Nobody is landing them: the next sync lists instead.
            state.held.clear();
            state.listed_at = None;
        }
        state.held.push((Instant::now(), change));
        drop(state);
        self.heard.notify_one();
    }

    /// Marks the stream open; returns whether it had been broken (or never open).
    fn opening(&self) -> bool {
        let mut state = self.lock();
        let was_broken = state.live_since.is_none();
        state.live_since.get_or_insert_with(Instant::now);
        was_broken
    }

    fn broken(&self) {
        self.lock().live_since = None;
    }

    /// Waits until the source's sync loop should sync now.
    pub(super) async fn woken(&self) {
        self.heard.notified().await
    }
}

impl Engine {
    /// Holds `source`'s watch stream open, reopening it as it ends; runs until dropped.
    pub(super) async fn watch_argocd(&self, source: &SourceConfig, watch: &ArgoWatch) {
        let mut wait = FIRST_REOPEN_WAIT;
        loop {
            let connector = match self.endpoint(source) {
                Ok(endpoint) => ArgoCdConnector::new(endpoint),
                Err(error) => {
                    tracing::warn!(source = %source.name, %error, "Argo CD watch not opened");
                    tokio::time::sleep(MAX_REOPEN_WAIT).await;
                    continue;
                }
            };
            if watch.opening() {
                // Back after a break (or at start): the next sync lists the applications, now.
                watch.heard.notify_one();
            }
            let opened = Instant::now();
            let meter = RequestMeter::default();
            let end = connector
                .watch(&meter, WATCH_SPAN, &mut |change| watch.hear(change))
                .await;
            let error = match end {
                WatchEnd::Ended if opened.elapsed() >= WATCH_MIN_HOLD => {
                    wait = FIRST_REOPEN_WAIT;
                    continue;
                }
                WatchEnd::Ended => "Argo CD closed the watch stream at once".to_string(),
                WatchEnd::Broken(error) => error.to_string(),
            };
            watch.broken();
            tracing::warn!(source = %source.name, %error, retry_in = ?wait, "Argo CD watch broken; syncs list the applications until it is back");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_REOPEN_WAIT);
        }
    }

    pub(crate) fn argocd_watch(&self, source: &str) -> Option<&ArgoWatch> {
        self.inner.argocd_watches.get(source)
    }

    /// What the watched `changes` make of the wirings they touch: each touched wiring with
    /// every application it holds now, and the changed applications' history. An application
    /// belongs to the wirings that name it or whose selector its labels match; those that
    /// held it before are touched too, so one relabelled or deleted leaves them.
    pub(super) async fn watched_delivery(
        &self,
        source: &str,
        connector: &ArgoCdConnector,
        wirings: &[DeliveryTarget],
        changes: &[AppChange],
    ) -> crate::Result<(
        Vec<Deployment>,
        Vec<(RecordKind, String, Vec<PlatformRecord>)>,
    )> {
        let latest: BTreeMap<&str, &AppChange> =
            changes.iter().map(|c| (c.name.as_str(), c)).collect();
        let matchers: Vec<(String, WiringMatch)> = wirings
            .iter()
            .filter_map(|wiring| {
                let matcher = match wiring {
                    DeliveryTarget::ArgoApp(name) => WiringMatch::Name(name.clone()),
                    // A selector Argo CD would refuse selects nothing here either.
                    DeliveryTarget::ArgoSelector(s) => {
                        WiringMatch::Selector(LabelSelector::parse(s).ok()?)
                    }
                    DeliveryTarget::GithubRepo(_) => return None,
                };
                Some((wiring.key(), matcher))
            })
            .collect();
        let belongs = |change: &AppChange| -> Vec<String> {
            matchers
                .iter()
                .filter(|(_, m)| !change.deleted && m.admits(change))
                .map(|(key, _)| key.clone())
                .collect()
        };
        let names: Vec<String> = latest.keys().map(|n| n.to_string()).collect();
        let mut touched: BTreeSet<String> = self
            .store()
            .records::<EnvironmentState>(RecordKind::Environment, LookupBy::Id, &names)
            .await?
            .into_iter()
            .filter(|(from, _)| from == source)
            .map(|(_, state)| state.target)
            .collect();
        touched.extend(latest.values().flat_map(|c| belongs(c)));
        let keys: Vec<String> = touched.iter().cloned().collect();
        let mut holds: BTreeMap<String, Vec<EnvironmentState>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        let held = self
            .store()
            .records::<EnvironmentState>(RecordKind::Environment, LookupBy::JoinKey, &keys)
            .await?;
        for (_, state) in held.into_iter().filter(|(from, _)| from == source) {
            if !latest.contains_key(state.app.as_str()) {
                holds.entry(state.target.clone()).or_default().push(state);
            }
        }
        let mut deployments = Vec::new();
        for change in latest.values() {
            for target in belongs(change) {
                let (state, history) = connector.read_change(change, &target);
                holds.entry(target).or_default().push(state);
                deployments.extend(history);
            }
        }
        let scoped = holds
            .into_iter()
            .map(|(target, states)| environment_scope(target, &states))
            .collect();
        Ok((deployments, scoped))
    }
}

/// How a wiring selects applications.
enum WiringMatch {
    Name(String),
    Selector(LabelSelector),
}

impl WiringMatch {
    fn admits(&self, change: &AppChange) -> bool {
        match self {
            Self::Name(name) => *name == change.name,
            Self::Selector(selector) => {
                selector.matches(|key| change.labels.get(key).map(String::as_str))
            }
        }
    }
}
