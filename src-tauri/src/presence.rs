//! Opsdeck's presence on the desktop beyond its window: one instance per user (a second launch
//! brings the first forward and hands it its link), `opsdeck://` links, a tray that says what
//! matters (on call until when, triggered incidents on my teams, the worst source) and keeps the
//! app syncing when the window closes, and starting at login.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Manager, Window, WindowEvent, Wry};
use tauri_plugin_autostart::ManagerExt;
use tauri_plugin_deep_link::DeepLinkExt;

use crate::running::Running;

/// The argument autostart launches with: the window stays hidden until the tray opens it.
pub const HIDDEN_ARG: &str = "--hidden";

/// A link the app was launched with, kept until the window listens for it.
pub struct PendingLink(Mutex<Option<String>>);

/// Whether the window is still to be shown once its page has loaded: not when the app started
/// hidden in the tray, and once only (a reload must not bring back a window put away).
struct ShowOnLoad(AtomicBool);

/// The tray and the menu items it rewrites after each sync.
struct Tray {
    icon: TrayIcon,
    lines: Vec<MenuItem<Wry>>,
    start_at_login: CheckMenuItem<Wry>,
}

/// A second launch focuses the running window; its `opsdeck://` link, if any, reaches
/// [`take_links`]'s handler through the deep-link plugin first.
pub fn single_instance() -> tauri::plugin::TauriPlugin<Wry> {
    tauri_plugin_single_instance::init(|app, _argv, _cwd| show_window(app))
}

/// Sets the tray up, and takes the links the app is opened with (`link`, now) and while it runs.
pub fn setup(app: &tauri::App, hidden: bool, link: Option<String>) -> tauri::Result<()> {
    let handle = app.handle();
    match build_tray(handle) {
        Ok(tray) => {
            app.manage(tray);
        }
        // Without a tray (no indicator library) the app still runs; closing its window quits.
        Err(error) => tracing::warn!(%error, "no tray icon"),
    }
    app.manage(PendingLink(Mutex::new(link)));
    app.manage(ShowOnLoad(AtomicBool::new(!(hidden && has_tray(handle)))));
    take_links(handle);
    Ok(())
}

/// The window opens hidden (`tauri.conf.json`) and shows here, once its page has loaded (or
/// failed to: WebKit reports both). Shown earlier, it would be a blank frame; and where WebKit
/// paints without compositing (`rendering.rs`), its first draw waits up to half a second for
/// the web process's picture while that process waits for the page's scripts, which this
/// process's main thread, the one waiting, serves.
pub fn page_loaded(window: &Window) {
    let due = window
        .try_state::<ShowOnLoad>()
        .is_some_and(|show| show.0.swap(false, Ordering::Relaxed));
    if due {
        let _ = window.show();
    }
}

/// Closing the window hides it while the tray stands in for it (unless `[desktop]
/// keep_running_in_tray` is off): syncs and notifications go on.
pub fn on_window_event(window: &Window, event: &WindowEvent) {
    let WindowEvent::CloseRequested { api, .. } = event else {
        return;
    };
    let app = window.app_handle();
    let keep_running = app
        .try_state::<Running>()
        .is_some_and(|r| r.engine().config().desktop.keep_running_in_tray);
    if keep_running && has_tray(app) {
        api.prevent_close();
        let _ = window.hide();
    }
}

/// Brings the window forward.
pub fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Shows `screen` in the window, brought forward.
pub fn show_screen(app: &AppHandle, screen: &opsdeck::api::Screen) {
    show_window(app);
    let _ = app.emit(crate::events::OPEN_SCREEN, screen);
}

/// Opens the screen an `opsdeck://` link names, or tells the window why it cannot.
pub async fn open_link(app: AppHandle, url: String) {
    let engine = app.state::<Running>().engine();
    match engine.resolve_link(&url).await {
        Ok(screen) => show_screen(&app, &screen),
        Err(error) => link_failed(&app, &url, &error),
    }
}

/// Opens the link the app was launched with: what it names may come with the first sync of a
/// cold cache, so a name not found yet is looked up again as sources land, for a minute.
pub async fn open_launch_link(app: AppHandle, url: String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let engine = app.state::<Running>().engine();
        let error = match engine.resolve_link(&url).await {
            Ok(screen) => return show_screen(&app, &screen),
            Err(error) => error,
        };
        let first_sync_due = engine.sources().await.is_ok_and(|sources| {
            sources
                .iter()
                .any(|s| s.health == opsdeck::domain::Health::Never)
        });
        if !(error.is_not_found() && first_sync_due && std::time::Instant::now() < deadline) {
            return link_failed(&app, &url, &error);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

fn link_failed(app: &AppHandle, url: &str, error: &opsdeck::Error) {
    show_window(app);
    let _ = app.emit(
        crate::events::LINK_FAILED,
        format!("{}: {error}", opsdeck::text::one_line(url, 200)),
    );
}

/// The link the app was launched with, once: the window asks when it listens.
pub fn take_pending_link(app: &AppHandle) -> Option<String> {
    app.try_state::<PendingLink>()?
        .0
        .lock()
        .expect("pending link lock")
        .take()
}

/// Links a second launch hands over (the single-instance plugin passes them to the deep-link
/// plugin) open as they come.
fn take_links(app: &AppHandle) {
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            tauri::async_runtime::spawn(open_link(handle.clone(), url.to_string()));
        }
    });
}

fn build_tray(app: &AppHandle) -> tauri::Result<Tray> {
    let lines = (0..3)
        .map(|i| {
            MenuItem::with_id(
                app,
                format!("line-{i}"),
                "Reading the cache…",
                false,
                None::<&str>,
            )
        })
        .collect::<tauri::Result<Vec<_>>>()?;
    let start_at_login = CheckMenuItem::with_id(
        app,
        "start-at-login",
        "Start at login",
        true,
        app.autolaunch().is_enabled().unwrap_or(false),
        None::<&str>,
    )?;
    let open = MenuItem::with_id(app, "open", "Open Opsdeck", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Opsdeck", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let separator_2 = PredefinedMenuItem::separator(app)?;
    let mut items: Vec<&dyn tauri::menu::IsMenuItem<Wry>> = Vec::new();
    items.extend(lines.iter().map(|l| l as &dyn tauri::menu::IsMenuItem<Wry>));
    items.extend([
        &separator as &dyn tauri::menu::IsMenuItem<Wry>,
        &open,
        &start_at_login,
        &separator_2,
        &quit,
    ]);
    let menu = Menu::with_items(app, &items)?;
    let mut builder = TrayIconBuilder::with_id("opsdeck")
        .tooltip("Opsdeck")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_window(app),
            "start-at-login" => {
                let on = !app.autolaunch().is_enabled().unwrap_or(false);
                if let Err(error) = set_start_at_login(app, on) {
                    tracing::warn!(%error, "start at login");
                }
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    #[cfg(target_os = "linux")]
    {
        builder = builder.temp_dir_path(tray_icon_dir(app)?);
    }
    Ok(Tray {
        icon: builder.build(app)?,
        lines,
        start_at_login,
    })
}

/// Where the tray writes its icon for libayatana-appindicator, already in GTK's icon search
/// path. Without a StatusNotifierWatcher on the session bus (GNOME without its extension, CI)
/// the library falls back to a GtkStatusIcon and looks this directory up in that path. Debian
/// 12's build (0.5.92-1) still has the loop that reads on past the list's end when the
/// directory is missing (upstream's 540b7bf), and where jemalloc left zeroed memory behind the
/// list it runs into unmapped memory: one launch in a dozen died of SIGSEGV a second after
/// starting. Found within the list, the lookup stops there.
#[cfg(target_os = "linux")]
fn tray_icon_dir(app: &AppHandle) -> tauri::Result<std::path::PathBuf> {
    let dir = app.path().app_cache_dir()?.join("tray");
    if let Some(theme) = gtk::IconTheme::default() {
        use gtk::prelude::IconThemeExt;
        theme.append_search_path(&dir);
    }
    Ok(dir)
}

/// Turns starting at login on or off; the tray's tick follows.
pub fn set_start_at_login(app: &AppHandle, on: bool) -> Result<(), String> {
    let autostart = app.autolaunch();
    if on {
        autostart.enable()
    } else {
        autostart.disable()
    }
    .map_err(|e| format!("cannot change starting at login: {e}"))?;
    if let Some(tray) = app.try_state::<Tray>() {
        let _ = tray.start_at_login.set_checked(on);
    }
    Ok(())
}

/// Whether a tray icon stands in for the window.
pub fn has_tray(app: &AppHandle) -> bool {
    app.try_state::<Tray>().is_some()
}

/// Whether Opsdeck starts at login.
pub fn starts_at_login(app: &AppHandle) -> bool {
    app.autolaunch().is_enabled().unwrap_or(false)
}

/// Rewrites the tray from the cache: after each sync, and when the config changes.
pub async fn refresh_tray(app: AppHandle) {
    let Some(tray) = app.try_state::<Tray>() else {
        return;
    };
    let engine = app.state::<Running>().engine();
    let presence = match engine.presence().await {
        Ok(presence) => presence,
        Err(error) => {
            tracing::warn!(%error, "tray: cannot read the cache");
            return;
        }
    };
    let lines = presence.lines(&chrono::Local);
    for (item, text) in tray.lines.iter().zip(&lines) {
        let _ = item.set_text(text);
    }
    let _ = tray
        .icon
        .set_tooltip(Some(format!("Opsdeck\n{}", lines.join("\n"))));
}
