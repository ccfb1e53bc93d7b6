//! The commands the web view may call: each one engine call, nothing else.

use opsdeck::api::{
    ActionPlan, ActionProgress, ActionRequest, AuditEntry, ChangesView, DeploymentRow,
    DesktopSettings, IncidentView, LaunchInfo, OnCallPanel, ReleaseMatrix, RollbackConfirmation,
    RollbackPlan, RollbackProgress, RunbookAsk, RunbookDocument, RunbookForm, RunbookRow,
    RunbookRunProgress, ScorecardView, SearchHit, ServiceDelivery, ServiceDetail, ServiceRow,
    ServiceScorecard, SourceCheck, SourceStatus, SyncReport, TeamDetail, TeamOnCall, TeamSummary,
};
use opsdeck::secrets::Secrets;
use opsdeck::setup::{SourceDraft, SourcesFile};
use opsdeck::{ActivityFilter, ReportFormat, ReportKind, Scope, Started, StartedAction};
use tauri::{AppHandle, Manager, State};
use tauri_plugin_opener::OpenerExt;

use crate::error::IpcError;
use crate::Running;

type Reply<T> = Result<T, IpcError>;

#[tauri::command]
pub async fn teams(app: State<'_, Running>) -> Reply<Vec<TeamSummary>> {
    Ok(app.engine().teams().await?)
}

#[tauri::command]
pub async fn team(app: State<'_, Running>, key: String) -> Reply<TeamDetail> {
    Ok(app.engine().team(&key).await?)
}

/// A team's scorecard (`below`: with the groups under it), or the organisation's.
#[tauri::command]
pub async fn scorecard(
    app: State<'_, Running>,
    team: Option<String>,
    below: bool,
) -> Reply<ScorecardView> {
    Ok(app.engine().scorecard(team.as_deref(), below).await?)
}

#[tauri::command]
pub async fn service_scorecard(app: State<'_, Running>, key: String) -> Reply<ServiceScorecard> {
    Ok(app.engine().service_scorecard(&key).await?)
}

/// Writes a report (of a team and the groups below it, or of everything) to the user's
/// downloads folder as CSV or markdown; answers the path.
#[tauri::command]
pub async fn export_report(
    handle: AppHandle,
    app: State<'_, Running>,
    kind: ReportKind,
    team: Option<String>,
    markdown: bool,
) -> Reply<String> {
    let format = if markdown {
        ReportFormat::Markdown
    } else {
        ReportFormat::Csv
    };
    let path = app
        .engine()
        .export_report(kind, team.as_deref(), format, &export_dir(&handle)?)
        .await?;
    Ok(path.display().to_string())
}

fn export_dir(handle: &AppHandle) -> Reply<std::path::PathBuf> {
    handle
        .path()
        .download_dir()
        .or_else(|_| handle.path().home_dir())
        .map_err(|e| IpcError::invalid(&format!("no folder to export to: {e}")))
}

#[tauri::command]
pub async fn team_services(app: State<'_, Running>, team: String) -> Reply<Vec<ServiceRow>> {
    Ok(app.engine().services(Some(&team)).await?)
}

#[tauri::command]
pub async fn orphaned_services(app: State<'_, Running>) -> Reply<Vec<ServiceRow>> {
    Ok(app.engine().orphaned_services().await?)
}

#[tauri::command]
pub async fn service(app: State<'_, Running>, key: String) -> Reply<ServiceDetail> {
    Ok(app.engine().service(&key).await?)
}

#[tauri::command]
pub async fn search(app: State<'_, Running>, text: String) -> Reply<Vec<SearchHit>> {
    Ok(app.engine().search(&text, 30).await?)
}

/// Who is on call and what is on fire for a team (`team`) or a service (`service`).
#[tauri::command]
pub async fn on_call(
    app: State<'_, Running>,
    team: Option<String>,
    service: Option<String>,
) -> Reply<OnCallPanel> {
    let scope = match (&team, &service) {
        (Some(team), _) => Scope::Team(team),
        (None, Some(service)) => Scope::Service(service),
        (None, None) => {
            return Err(IpcError::invalid("name a team or a service"));
        }
    };
    Ok(app.engine().on_call_panel(scope).await?)
}

#[tauri::command]
pub async fn on_call_overview(app: State<'_, Running>) -> Reply<Vec<TeamOnCall>> {
    Ok(app.engine().on_call_overview().await?)
}

/// Opens a web, mail or phone link with the system's handler; any other scheme is refused.
#[tauri::command]
pub fn open_link(handle: AppHandle, url: String) -> Reply<()> {
    let url = opsdeck::domain::links::openable(&url).map_err(|e| IpcError::invalid(&e))?;
    handle
        .opener()
        .open_url(url, None::<&str>)
        .map_err(|e| IpcError::invalid(&format!("cannot open {url}: {e}")))
}

#[tauri::command]
pub async fn service_delivery(app: State<'_, Running>, service: String) -> Reply<ServiceDelivery> {
    Ok(app.engine().service_delivery(&service).await?)
}

#[tauri::command]
pub async fn release_matrix(app: State<'_, Running>, team: String) -> Reply<ReleaseMatrix> {
    Ok(app.engine().release_matrix(&team).await?)
}

#[tauri::command]
pub async fn environments(app: State<'_, Running>) -> Reply<Vec<String>> {
    Ok(app.engine().environments().await?)
}

/// Deploys newest first; `after` (the last row's start and id) asks for the next page.
#[tauri::command]
pub async fn activity(
    app: State<'_, Running>,
    filter: ActivityFilter,
) -> Reply<Vec<DeploymentRow>> {
    let filter = ActivityFilter {
        limit: filter.limit.clamp(1, 500),
        ..filter
    };
    Ok(app.engine().activity(&filter).await?)
}

/// What changed between two deployed versions: from the cache; `null` when it holds none,
/// unless `ask_github` (the user asked), when GitHub is read.
#[tauri::command]
pub async fn changes(
    app: State<'_, Running>,
    service: String,
    from: String,
    to: String,
    ask_github: bool,
) -> Reply<Option<ChangesView>> {
    Ok(app
        .engine()
        .changes(&service, &from, &to, ask_github)
        .await?)
}

/// What a rollback of `service` in `environment` would do; changes nothing.
#[tauri::command]
pub async fn plan_rollback(
    app: State<'_, Running>,
    service: String,
    environment: String,
    to: Option<String>,
) -> Reply<RollbackPlan> {
    Ok(app
        .engine()
        .plan_rollback(&service, &environment, to.as_deref())
        .await?)
}

/// Carries out a confirmed plan (by its key, once) and follows it in the background with
/// `rollback-progress` events; answers where it stands after the call.
#[tauri::command]
pub async fn start_rollback(
    handle: AppHandle,
    app: State<'_, Running>,
    confirmation: RollbackConfirmation,
) -> Reply<RollbackProgress> {
    match app.engine().start_rollback(&confirmation).await? {
        Started::AlreadyConfirmed(progress) => Ok(*progress),
        Started::Running(run) => {
            let progress = run.progress().clone();
            let engine = app.engine();
            tauri::async_runtime::spawn(crate::events::track_rollback(handle, engine, run));
            Ok(progress)
        }
    }
}

/// Every open incident, then those resolved in the last week, newest first.
#[tauri::command]
pub async fn incidents(app: State<'_, Running>) -> Reply<Vec<opsdeck::api::IncidentRow>> {
    use opsdeck::domain::oncall::IncidentStatus;
    Ok(app
        .engine()
        .incidents(
            None,
            &[
                IncidentStatus::Triggered,
                IncidentStatus::Acknowledged,
                IncidentStatus::Resolved,
            ],
        )
        .await?)
}

/// One incident with everything around it: on call, alerts, suspect changes ranked.
#[tauri::command]
pub async fn incident(app: State<'_, Running>, id: String) -> Reply<IncidentView> {
    Ok(app.engine().incident(&id).await?)
}

/// What an on-call action would do; changes nothing.
#[tauri::command]
pub async fn plan_action(app: State<'_, Running>, request: ActionRequest) -> Reply<ActionPlan> {
    Ok(app.engine().plan_action(&request).await?)
}

/// Carries out a planned action (by its key, once) and follows it in the background with
/// `action-progress` events; answers where it stands after the call.
#[tauri::command]
pub async fn start_action(
    handle: AppHandle,
    app: State<'_, Running>,
    key: String,
) -> Reply<ActionProgress> {
    match app.engine().start_action(&key).await? {
        StartedAction::AlreadyConfirmed(progress) => Ok(*progress),
        StartedAction::Running(run) => {
            let progress = run.progress().clone();
            let engine = app.engine();
            tauri::async_runtime::spawn(crate::events::track_action(handle, engine, run));
            Ok(progress)
        }
    }
}

/// A service's runbooks, filled in for `ask` (an incident, an alert, an environment).
#[tauri::command]
pub async fn runbooks(
    app: State<'_, Running>,
    service: String,
    ask: RunbookAsk,
) -> Reply<Vec<RunbookRow>> {
    Ok(app.engine().runbooks(&service, &ask).await?)
}

/// A markdown runbook from the cache; read from GitHub first when `refresh`.
#[tauri::command]
pub async fn runbook_document(
    app: State<'_, Running>,
    service: String,
    template: String,
    refresh: bool,
) -> Reply<RunbookDocument> {
    Ok(app
        .engine()
        .runbook_document(&service, &template, refresh)
        .await?)
}

/// An automated runbook's inputs, prefilled from `ask`'s context.
#[tauri::command]
pub async fn runbook_form(
    app: State<'_, Running>,
    service: String,
    template: String,
    ask: RunbookAsk,
) -> Reply<RunbookForm> {
    Ok(app.engine().runbook_form(&service, &template, &ask).await?)
}

/// Opens a runbook in the system browser (http and https only), recorded in the audit log.
#[tauri::command]
pub async fn open_runbook(
    handle: AppHandle,
    app: State<'_, Running>,
    service: String,
    template: String,
    ask: RunbookAsk,
) -> Reply<String> {
    let url = app
        .engine()
        .launch_runbook(&service, &template, &ask)
        .await?;
    handle
        .opener()
        .open_url(&url, None::<&str>)
        .map_err(|e| IpcError::invalid(&format!("cannot open {url}: {e}")))?;
    Ok(url)
}

/// Runs an automated runbook; its progress follows as `runbook-progress` events.
#[tauri::command]
pub async fn run_runbook(
    handle: AppHandle,
    app: State<'_, Running>,
    service: String,
    template: String,
    ask: RunbookAsk,
    inputs: std::collections::BTreeMap<String, String>,
) -> Reply<RunbookRunProgress> {
    let run = app
        .engine()
        .run_runbook(&service, &template, &ask, &inputs)
        .await?;
    let progress = run.progress().clone();
    if !progress.finished {
        let engine = app.engine();
        tauri::async_runtime::spawn(crate::events::track_runbook(handle, engine, run));
    }
    Ok(progress)
}

/// The audit log, newest first; one service's when `service` is given.
#[tauri::command]
pub async fn audit(app: State<'_, Running>, service: Option<String>) -> Reply<Vec<AuditEntry>> {
    Ok(app.engine().audit(service.as_deref(), 200).await?)
}

/// Writes the whole audit log as JSON lines to the user's downloads folder; answers the path.
#[tauri::command]
pub async fn export_audit(handle: AppHandle, app: State<'_, Running>) -> Reply<String> {
    let lines = app.engine().audit_json_lines(None).await?;
    let path = export_dir(&handle)?.join(format!(
        "opsdeck-audit-{}.jsonl",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    ));
    std::fs::write(&path, lines)
        .map_err(|e| IpcError::invalid(&format!("cannot write {}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

#[tauri::command]
pub async fn sources(app: State<'_, Running>) -> Reply<Vec<SourceStatus>> {
    Ok(app.engine().sources().await?)
}

/// How the app was started: demo or not, and whether the welcome is due.
#[tauri::command]
pub fn launch_info(app: State<'_, Running>) -> LaunchInfo {
    app.launch()
}

/// Tests one source's connection: one cheap, read-only call; nothing is cached.
#[tauri::command]
pub async fn check_source(app: State<'_, Running>, source: String) -> Reply<SourceCheck> {
    Ok(app.engine().check_source(&source).await?)
}

/// The config file as the sources editor shows it (none yet in the demo: an empty one).
#[tauri::command]
pub fn config_sources(app: State<'_, Running>) -> Reply<SourcesFile> {
    let path = app.config_path().map_err(|e| IpcError::invalid(&e))?;
    Ok(opsdeck::setup::sources_file(path, &Secrets::default())?)
}

/// Tests a source as the editor's form has it, before it is saved; nothing is written.
#[tauri::command]
pub async fn check_draft(app: State<'_, Running>, draft: SourceDraft) -> Reply<SourceCheck> {
    let path = app.config_path().map_err(|e| IpcError::invalid(&e))?;
    Ok(app.engine().check_draft(path, &draft).await?)
}

/// Saves a source from the editor (its token to the keychain) and puts the config in force.
#[tauri::command]
pub async fn save_source(
    handle: AppHandle,
    app: State<'_, Running>,
    draft: SourceDraft,
) -> Reply<SourcesFile> {
    let path = app.config_path().map_err(|e| IpcError::invalid(&e))?;
    let config = opsdeck::setup::save_source(path, &draft, &Secrets::default())?;
    put_in_force(&handle, &app, config).await
}

/// Removes a source (and its keychain token) and puts the config in force.
#[tauri::command]
pub async fn remove_source(
    handle: AppHandle,
    app: State<'_, Running>,
    name: String,
) -> Reply<SourcesFile> {
    let path = app.config_path().map_err(|e| IpcError::invalid(&e))?;
    let config = opsdeck::setup::remove_source(path, &name, &Secrets::default())?;
    put_in_force(&handle, &app, config).await
}

/// Moves a source to `index` in precedence order and puts the config in force.
#[tauri::command]
pub async fn move_source(
    handle: AppHandle,
    app: State<'_, Running>,
    name: String,
    index: usize,
) -> Reply<SourcesFile> {
    let path = app.config_path().map_err(|e| IpcError::invalid(&e))?;
    let config = opsdeck::setup::move_source(path, &name, index)?;
    put_in_force(&handle, &app, config).await
}

/// The email a platform knows the user's token by (else Git's), and who says so, for the user
/// to confirm as their identity.
#[tauri::command]
pub async fn detect_identity(app: State<'_, Running>) -> Reply<Option<(String, String)>> {
    Ok(app.engine().detect_identity().await)
}

/// Sets `[identity] email`, once the user confirmed it, and puts the config in force.
#[tauri::command]
pub async fn set_identity(
    handle: AppHandle,
    app: State<'_, Running>,
    email: String,
) -> Reply<SourcesFile> {
    let path = app.config_path().map_err(|e| IpcError::invalid(&e))?;
    let config = opsdeck::setup::set_identity(path, &email)?;
    put_in_force(&handle, &app, config).await
}

/// Opens the `opsdeck://` link the app was launched with, once the window listens.
#[tauri::command]
pub async fn open_pending_link(handle: AppHandle) {
    if let Some(url) = crate::presence::take_pending_link(&handle) {
        crate::presence::open_launch_link(handle, url).await;
    }
}

/// How the app behaves on this machine: the tray, closing the window, starting at login.
#[tauri::command]
pub fn desktop_settings(handle: AppHandle, app: State<'_, Running>) -> DesktopSettings {
    DesktopSettings {
        tray: crate::presence::has_tray(&handle),
        keep_running_in_tray: app.engine().config().desktop.keep_running_in_tray,
        start_at_login: crate::presence::starts_at_login(&handle),
    }
}

#[tauri::command]
pub fn set_start_at_login(
    handle: AppHandle,
    app: State<'_, Running>,
    on: bool,
) -> Reply<DesktopSettings> {
    crate::presence::set_start_at_login(&handle, on).map_err(|e| IpcError::invalid(&e))?;
    Ok(desktop_settings(handle, app))
}

/// Sets `[desktop] keep_running_in_tray` in the config and puts it in force.
#[tauri::command]
pub async fn set_keep_running_in_tray(
    handle: AppHandle,
    app: State<'_, Running>,
    on: bool,
) -> Reply<DesktopSettings> {
    if app.launch().demo {
        return Err(IpcError::invalid(
            "the demo has no config to keep this in: connect your platforms first",
        ));
    }
    let path = app.config_path().map_err(|e| IpcError::invalid(&e))?;
    let config = opsdeck::setup::set_keep_running_in_tray(path, on)?;
    put_in_force(&handle, &app, config).await?;
    Ok(desktop_settings(handle, app))
}

/// The config just saved, in force without a restart; the file as the editor now shows it.
async fn put_in_force(
    handle: &AppHandle,
    app: &Running,
    config: opsdeck::config::Config,
) -> Reply<SourcesFile> {
    app.apply(handle, config)
        .await
        .map_err(|e| IpcError::invalid(&format!("saved, but not in force: {e}")))?;
    let path = app.config_path().map_err(|e| IpcError::invalid(&e))?;
    Ok(opsdeck::setup::sources_file(path, &Secrets::default())?)
}

#[tauri::command]
pub async fn identity(app: State<'_, Running>) -> Reply<Option<String>> {
    Ok(app.engine().config().identity.email.clone())
}

/// Syncs one source, or all of them when `source` is `None`.
#[tauri::command]
pub async fn sync_now(
    handle: AppHandle,
    app: State<'_, Running>,
    source: Option<String>,
) -> Reply<Vec<SyncReport>> {
    Ok(crate::events::sync_and_notify(&handle, &app.engine(), source.as_deref()).await?)
}

/// The UI calls this once the first team list is on screen: the time since launch is logged,
/// the sync loop starts if it waited for it, and the benchmark asks the app to quit.
#[tauri::command]
pub fn ui_ready(handle: AppHandle, app: State<'_, Running>) {
    eprintln!("{}", app.start_up.report("first team list drawn"));
    app.first_list_drawn();
    if std::env::var_os("OPSDECK_EXIT_AFTER_READY").is_some() {
        handle.exit(0);
    }
}
