//! Events the web view listens to: sync progress while a sync runs, and "cache changed" when
//! one lands, so open screens re-read the cache.

use opsdeck::api::{SyncProgress, SyncReport};
use opsdeck::Engine;
use tauri::{AppHandle, Emitter};

/// Event carrying [`SyncProgress`].
pub const SYNC_PROGRESS: &str = "sync-progress";
/// Event with no payload: the cache has new data or new sync state.
pub const CACHE_CHANGED: &str = "cache-changed";
/// Event carrying a service's cache key: show its page (a notification was clicked).
pub const OPEN_SERVICE: &str = "open-service";

/// Keeps every source synced on its interval for as long as the app runs, telling the UI after
/// each sync.
pub async fn sync_on_schedule(handle: AppHandle, engine: Engine) {
    let emitter = handle.clone();
    let progress = move |p: SyncProgress| {
        let _ = emitter.emit(SYNC_PROGRESS, p);
    };
    let notifier = engine.clone();
    let changed = move |report: &SyncReport| {
        let _ = handle.emit(CACHE_CHANGED, ());
        if report.landed {
            tauri::async_runtime::spawn(crate::notify::new_incidents(
                handle.clone(),
                notifier.clone(),
            ));
        }
    };
    engine.sync_on_schedule(&progress, &changed).await;
}

/// Syncs one source (every source when `only` is `None`) now, streaming progress, and tells
/// the UI when the cache changed.
pub async fn sync_and_notify(
    handle: &AppHandle,
    engine: &Engine,
    only: Option<&str>,
) -> opsdeck::Result<Vec<SyncReport>> {
    let emitter = handle.clone();
    let progress = move |p: SyncProgress| {
        let _ = emitter.emit(SYNC_PROGRESS, p);
    };
    let reports = engine.sync(only, &progress).await;
    let _ = handle.emit(CACHE_CHANGED, ());
    crate::notify::new_incidents(handle.clone(), engine.clone()).await;
    reports
}
