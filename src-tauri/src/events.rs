//! Events the web view listens to: sync progress while a sync runs, and "cache changed" when
//! one lands, so open screens re-read the cache.

use std::time::Duration;

use opsdeck::api::{SyncProgress, SyncReport};
use opsdeck::Engine;
use tauri::{AppHandle, Emitter};

/// Event carrying [`opsdeck::api::LaunchInfo`]: the app left the demo for the user's platforms.
pub const LAUNCH_CHANGED: &str = "launch-changed";
/// Event carrying [`SyncProgress`].
pub const SYNC_PROGRESS: &str = "sync-progress";
/// Event with no payload: the cache has new data or new sync state.
pub const CACHE_CHANGED: &str = "cache-changed";
/// Event carrying [`opsdeck::api::RollbackProgress`] each time a rollback moves.
pub const ROLLBACK_PROGRESS: &str = "rollback-progress";
/// Event carrying [`opsdeck::api::RunbookRunProgress`] each time an automated runbook's run moves.
pub const RUNBOOK_PROGRESS: &str = "runbook-progress";
/// Event carrying an [`opsdeck::api::Screen`] to show: a notification was clicked, or an
/// `opsdeck://` link opened.
pub const OPEN_SCREEN: &str = "open-screen";
/// Event carrying why an `opsdeck://` link could not be opened, in words.
pub const LINK_FAILED: &str = "link-failed";
/// Event carrying [`opsdeck::api::ActionProgress`] each time an on-call action moves.
pub const ACTION_PROGRESS: &str = "action-progress";

/// How long the sync loop waits for the window's first team list at most.
const FIRST_LIST_WAIT: Duration = Duration::from_secs(2);

/// Keeps every source synced on its interval for as long as the app runs (unless `[desktop]
/// sync = false` leaves that to an agent), telling the UI after each landing in the cache
/// (whoever synced) and each entry any client appends to a shared audit log. Over a cache
/// that already holds a catalog, the loop starts once the window has drawn its first team list
/// (`drawn`), or after [`FIRST_LIST_WAIT`]: at a morning's launch every source is due, and
/// their syncs would take the two cores the window's first reads and frames need. A cache with
/// nothing to show syncs at once: that first sync is what the window waits for.
pub async fn sync_on_schedule(
    handle: AppHandle,
    engine: Engine,
    mut drawn: tokio::sync::watch::Receiver<bool>,
) {
    if engine.holds_catalog().await {
        let _ = tokio::time::timeout(FIRST_LIST_WAIT, drawn.wait_for(|drawn| *drawn)).await;
    }
    let emitter = handle.clone();
    let progress = move |p: SyncProgress| {
        let _ = emitter.emit(SYNC_PROGRESS, p);
    };
    // A sync that did not land changed its source's state (its error, its next try): shown at
    // once. Landings, this process's or an agent's, are followed in the cache.
    let reporter = handle.clone();
    let changed = move |report: &SyncReport| {
        if !report.landed {
            let _ = reporter.emit(CACHE_CHANGED, ());
            tauri::async_runtime::spawn(crate::presence::refresh_tray(reporter.clone()));
        }
    };
    let follower = (handle.clone(), engine.clone());
    let landed = move || {
        let (handle, engine) = &follower;
        let _ = handle.emit(CACHE_CHANGED, ());
        tauri::async_runtime::spawn(crate::presence::refresh_tray(handle.clone()));
        tauri::async_runtime::spawn(crate::notify::new_incidents(handle.clone(), engine.clone()));
    };
    // What colleagues do shows as it is done when the audit log is shared.
    let appended = move |_: &str| {
        let _ = handle.emit(CACHE_CHANGED, ());
    };
    let syncing = async {
        if engine.config().desktop_syncs() {
            engine.sync_on_schedule(&progress, &changed).await;
        } else {
            tracing::info!(
                "no sync on a schedule here ([desktop] sync, off by default on a shared cache): leaving it to an agent"
            );
        }
    };
    tokio::join!(
        syncing,
        engine.follow_landings(&landed),
        engine.follow_shared_audit(&appended)
    );
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
    crate::presence::refresh_tray(handle.clone()).await;
    crate::notify::new_incidents(handle.clone(), engine.clone()).await;
    reports
}

/// Follows a started rollback to its end, streaming its progress, then tells the UI the cache
/// changed (the engine synced the executor's source) and notifies of the outcome.
pub async fn track_rollback(handle: AppHandle, engine: Engine, run: Box<opsdeck::RollbackRun>) {
    let emitter = handle.clone();
    let progress = move |p: &opsdeck::api::RollbackProgress| {
        let _ = emitter.emit(ROLLBACK_PROGRESS, p);
    };
    match engine.track_rollback(run, &progress).await {
        Ok(end) => {
            let _ = handle.emit(ROLLBACK_PROGRESS, &end);
            crate::notify::rollback_ended(&handle, &end);
        }
        Err(error) => tracing::error!(%error, "tracking a rollback failed"),
    }
    let _ = handle.emit(CACHE_CHANGED, ());
}

/// Follows an on-call action to its end, streaming its progress, then tells the UI the cache
/// changed (the engine synced the action's source).
pub async fn track_action(handle: AppHandle, engine: Engine, run: Box<opsdeck::ActionRun>) {
    let emitter = handle.clone();
    let progress = move |p: &opsdeck::api::ActionProgress| {
        let _ = emitter.emit(ACTION_PROGRESS, p);
    };
    match engine.track_action(run, &progress).await {
        Ok(end) => {
            let _ = handle.emit(ACTION_PROGRESS, &end);
        }
        Err(error) => tracing::error!(%error, "following an action failed"),
    }
    let _ = handle.emit(CACHE_CHANGED, ());
}

/// Follows an automated runbook's run to its conclusion, streaming its progress.
pub async fn track_runbook(handle: AppHandle, engine: Engine, run: Box<opsdeck::RunbookRun>) {
    let emitter = handle.clone();
    let progress = move |p: &opsdeck::api::RunbookRunProgress| {
        let _ = emitter.emit(RUNBOOK_PROGRESS, p);
    };
    if let Err(error) = engine.track_runbook(run, &progress).await {
        tracing::error!(%error, "tracking a runbook's run failed");
    }
}
