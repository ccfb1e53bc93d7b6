//! Desktop notifications of new triggered incidents on the user's teams' services (the engine
//! hands each incident out once, across restarts) and of rollbacks that ended; a click opens
//! the service.

use opsdeck::api::{IncidentRow, RollbackProgress};
use opsdeck::Engine;
use tauri::{AppHandle, Emitter, Manager};

/// More new incidents than this at once are summed up in one notification.
const MAX_SEPARATE: usize = 3;

/// What one notification says, and which service a click opens.
struct Notice {
    title: String,
    body: String,
    service_key: Option<String>,
}

/// Notifies of triggered incidents not notified before.
pub async fn new_incidents(handle: AppHandle, engine: Engine) {
    let rows = match engine.incidents_to_notify().await {
        Ok(rows) => rows,
        Err(error) => {
            tracing::warn!(%error, "cannot read incidents to notify");
            return;
        }
    };
    for notice in notices(&rows) {
        show(&handle, notice);
    }
}

/// Notifies that a rollback reached its end state.
pub fn rollback_ended(handle: &AppHandle, progress: &RollbackProgress) {
    show(handle, rollback_notice(progress));
}

fn rollback_notice(p: &RollbackProgress) -> Notice {
    Notice {
        title: format!(
            "Rollback of {} in {} {}",
            p.service.name,
            p.environment,
            p.state.as_str().replace('_', " ")
        ),
        body: format!(
            "{} → {}: {}",
            p.from_version.as_deref().unwrap_or("?"),
            p.to_version,
            p.message
        ),
        service_key: Some(p.service.key.clone()),
    }
}

fn notices(rows: &[IncidentRow]) -> Vec<Notice> {
    let service = |r: &IncidentRow| r.services.first().map(|s| s.name.clone());
    if rows.len() > MAX_SEPARATE {
        return vec![Notice {
            title: format!("{} new incidents on your teams' services", rows.len()),
            body: rows
                .iter()
                .map(|r| format!("{}: {}", service(r).unwrap_or_default(), r.incident.title))
                .collect::<Vec<_>>()
                .join("\n"),
            service_key: None,
        }];
    }
    rows.iter()
        .map(|r| Notice {
            title: format!(
                "{} incident on {}",
                if r.incident.urgency == "high" {
                    "High-urgency"
                } else {
                    "New"
                },
                service(r).unwrap_or_else(|| "a service of yours".into())
            ),
            body: format!("#{} {}", r.incident.number, r.incident.title),
            service_key: r.services.first().map(|s| s.key.clone()),
        })
        .collect()
}

/// Brings the window forward and shows the service.
fn open(handle: &AppHandle, service_key: Option<String>) {
    if let Some(window) = handle.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
    if let Some(key) = service_key {
        let _ = handle.emit(crate::events::OPEN_SERVICE, key);
    }
}

#[cfg(target_os = "linux")]
fn show(handle: &AppHandle, notice: Notice) {
    let handle = handle.clone();
    // Showing blocks on D-Bus and waiting for a click blocks until the notification closes:
    // a thread of its own, not the async runtime.
    std::thread::spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname("Opsdeck")
            .summary(&notice.title)
            // Notification servers read the body as markup: incident titles must stay text.
            .body(&inert_markup(&notice.body))
            .action("default", "Open")
            .show();
        match shown {
            Ok(shown) => shown.wait_for_action(|action| {
                if action == "default" {
                    open(&handle, notice.service_key.clone());
                }
            }),
            Err(error) => tracing::warn!(%error, "cannot show a desktop notification"),
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn show(handle: &AppHandle, notice: Notice) {
    use tauri_plugin_notification::NotificationExt;
    let _ = open;
    if let Err(error) = handle
        .notification()
        .builder()
        .title(&notice.title)
        .body(&notice.body)
        .show()
    {
        tracing::warn!(%error, "cannot show a desktop notification");
    }
}

/// Escapes the few characters the freedesktop body markup gives meaning to.
#[cfg(target_os = "linux")]
fn inert_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opsdeck::api::ServiceRef;
    use opsdeck::domain::oncall::{Incident, IncidentStatus};

    fn row(number: i64, title: &str) -> IncidentRow {
        IncidentRow {
            source: "pagerduty".into(),
            incident: Incident {
                id: format!("Q{number}"),
                number,
                title: title.into(),
                status: IncidentStatus::Triggered,
                urgency: "high".into(),
                priority: None,
                service_id: "P1".into(),
                created_at: "2026-11-26T02:09:00Z".parse().unwrap(),
                last_status_change_at: None,
                assignees: vec![],
                acknowledged_by: vec![],
                html_url: None,
            },
            services: vec![ServiceRef {
                key: "component:default/checkout-api".into(),
                name: "checkout-api".into(),
            }],
        }
    }

    #[test]
    fn one_notification_per_incident_up_to_three_then_one_for_all() {
        let few = notices(&[row(1, "Checkout error rate above 5%")]);
        assert_eq!(few.len(), 1);
        assert_eq!(few[0].title, "High-urgency incident on checkout-api");
        assert_eq!(few[0].body, "#1 Checkout error rate above 5%");
        assert_eq!(
            few[0].service_key.as_deref(),
            Some("component:default/checkout-api")
        );

        let many: Vec<IncidentRow> = (1..=5).map(|n| row(n, "down")).collect();
        let summed = notices(&many);
        assert_eq!(summed.len(), 1);
        assert_eq!(summed[0].title, "5 new incidents on your teams' services");
        assert_eq!(summed[0].body.lines().count(), 5);
        assert!(summed[0].service_key.is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn titles_stay_text_in_the_notification_body() {
        assert_eq!(
            inert_markup("<b>x</b> & <a href='y'>"),
            "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href='y'&gt;"
        );
    }
}
