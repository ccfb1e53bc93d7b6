//! Desktop notifications of new triggered incidents on the user's teams' services (the engine
//! hands each incident out once, across restarts) and of rollbacks that ended. A click on an
//! incident's opens its incident view, and *Acknowledge* (where the notification server
//! shows actions) acknowledges it through the action runner: the click is the consent.

use opsdeck::api::{ActionRequest, IncidentRow, RollbackProgress, Screen};
use opsdeck::{Engine, StartedAction};
use tauri::{AppHandle, Emitter, Manager};

/// More new incidents than this at once are summed up in one notification.
const MAX_SEPARATE: usize = 3;

/// What one notification says, and what a click opens: an incident, else a service.
struct Notice {
    title: String,
    body: String,
    service_key: Option<String>,
    /// The incident's id: a click opens its view, and it offers *Acknowledge*.
    incident: Option<String>,
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
        incident: None,
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
            incident: None,
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
            incident: Some(r.incident.id.clone()),
        })
        .collect()
}

/// Brings the window forward and shows the incident, else the service.
fn open(handle: &AppHandle, notice: &Notice) {
    let screen = match (&notice.incident, &notice.service_key) {
        (Some(id), _) => Screen::Incident { id: id.clone() },
        (None, Some(key)) => Screen::Service { key: key.clone() },
        (None, None) => return crate::presence::show_window(handle),
    };
    crate::presence::show_screen(handle, &screen);
}

/// Acknowledges the incident from the notification's button: planned, started and followed
/// by the engine like any action, its progress shown in the window.
async fn acknowledge(handle: AppHandle, id: String) {
    let engine = handle.state::<crate::Running>().engine();
    let started = async {
        let plan = engine
            .plan_action(&ActionRequest::Acknowledge { incident: id })
            .await?;
        engine.start_action(&plan.key).await
    };
    match started.await {
        Ok(StartedAction::Running(run)) => {
            let _ = handle.emit(crate::events::ACTION_PROGRESS, run.progress());
            crate::events::track_action(handle, engine, run).await;
        }
        Ok(StartedAction::AlreadyConfirmed(progress)) => {
            let _ = handle.emit(crate::events::ACTION_PROGRESS, *progress);
        }
        Err(error) => {
            tracing::warn!(%error, "acknowledging from the notification failed");
            show(
                &handle,
                Notice {
                    title: "Not acknowledged".into(),
                    body: error.to_string(),
                    service_key: None,
                    incident: None,
                },
            );
        }
    }
}

#[cfg(target_os = "linux")]
fn show(handle: &AppHandle, notice: Notice) {
    let handle = handle.clone();
    // Showing blocks on D-Bus and waiting for a click blocks until the notification closes:
    // a thread of its own, not the async runtime.
    std::thread::spawn(move || {
        let mut notification = notify_rust::Notification::new();
        notification
            .appname("Opsdeck")
            .summary(&notice.title)
            // Notification servers read the body as markup: incident titles must stay text.
            .body(&inert_markup(&notice.body))
            .action("default", "Open");
        if notice.incident.is_some() {
            notification.action("acknowledge", "Acknowledge");
        }
        match notification.show() {
            Ok(shown) => shown.wait_for_action(|action| match action {
                "default" => open(&handle, &notice),
                "acknowledge" => {
                    if let Some(id) = notice.incident.clone() {
                        tauri::async_runtime::spawn(acknowledge(handle.clone(), id));
                    }
                }
                _ => {}
            }),
            Err(error) => tracing::warn!(%error, "cannot show a desktop notification"),
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn show(handle: &AppHandle, notice: Notice) {
    use tauri_plugin_notification::NotificationExt;
    // Desktop notifications of this plugin carry no actions or clicks outside Linux.
    let _ = (open, acknowledge);
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
                policy_id: None,
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
        // A click opens the incident view, and the notification offers Acknowledge.
        assert_eq!(few[0].incident.as_deref(), Some("Q1"));

        let many: Vec<IncidentRow> = (1..=5).map(|n| row(n, "down")).collect();
        let summed = notices(&many);
        assert_eq!(summed.len(), 1);
        assert_eq!(summed[0].title, "5 new incidents on your teams' services");
        assert_eq!(summed[0].body.lines().count(), 5);
        assert!(summed[0].service_key.is_none());
        assert!(summed[0].incident.is_none());
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
