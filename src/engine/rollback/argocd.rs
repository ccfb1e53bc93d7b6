//! Rolling back through Argo CD: the application synced back to an entry of its history,
//! after switching automated sync off when the user consented to it.

use super::*;

/// The step a rollback records when it switched automated sync off first: what the incident
/// view finds it by.
pub(crate) const AUTOMATED_SYNC_SWITCHED_OFF: &str = "automated sync switched off";

/// An Argo CD rollback, as planned.
#[derive(Debug, Clone)]
pub(super) struct ArgoCdRollback {
    pub app: String,
    /// The wiring it was read through (a delivery target key).
    pub target: String,
    pub history_id: i64,
    /// The commit the application must report once the rollback ran.
    pub target_revision: String,
}

impl ArgoCdRollback {
    /// The PATCH that switches automated sync off, as the plan shows it.
    pub fn sync_off_call(&self, endpoint: &Endpoint) -> PlannedCall {
        let app = &self.app;
        PlannedCall {
            method: "PATCH".into(),
            url: ArgoCdConnector::new(endpoint.clone()).application_url(app),
            body: automated_sync_body(app, false).to_string(),
            purpose: format!("switch automated sync of {app} off"),
        }
    }

    /// The rollback call, as the plan shows it.
    pub fn planned_call(&self, endpoint: &Endpoint, version: &str) -> PlannedCall {
        let (app, history_id) = (&self.app, self.history_id);
        PlannedCall {
            method: "POST".into(),
            url: ArgoCdConnector::new(endpoint.clone()).rollback_url(app),
            body: rollback_body(app, history_id, false).to_string(),
            purpose: format!("roll {app} back to history entry {history_id} ({version})"),
        }
    }

    /// Argo CD's own check of the rollback, without doing it.
    pub async fn dry_run(&self, endpoint: &Endpoint) -> std::result::Result<(), ConnectorError> {
        ArgoCdConnector::new(endpoint.clone())
            .rollback(
                &self.app,
                self.history_id,
                true,
                &self.target,
                &RequestMeter::default(),
            )
            .await
            .map(|_| ())
    }

    /// The call: automated sync off first when consented and on, then the rollback.
    pub async fn send(
        &self,
        engine: &Engine,
        run: &mut RollbackRun,
        endpoint: Endpoint,
        disable_automated_sync: bool,
        meter: &RequestMeter,
    ) -> Result<std::result::Result<String, ConnectorError>> {
        let (app, history_id) = (&self.app, self.history_id);
        let connector = ArgoCdConnector::new(endpoint);
        if disable_automated_sync && run.pending.plan.automated_sync {
            if let Err(e) = connector
                .set_automated_sync(app, false, &self.target, meter)
                .await
            {
                return Ok(Err(e));
            }
            engine
                .note(
                    run,
                    Step::Progress,
                    RollbackState::Requested,
                    AUTOMATED_SYNC_SWITCHED_OFF.into(),
                )
                .await?;
        }
        Ok(connector
            .rollback(app, history_id, false, &self.target, meter)
            .await
            .map(|_| format!("Argo CD started syncing {app} to history entry {history_id}")))
    }

    /// Where the application stands against the rollback's target.
    pub async fn read(
        &self,
        run: &RollbackRun,
        endpoint: Endpoint,
        meter: &RequestMeter,
    ) -> std::result::Result<(RollbackState, String), ConnectorError> {
        let app = &self.app;
        let live = ArgoCdConnector::new(endpoint)
            .application(app, &self.target, meter)
            .await?;
        let state = state_of_application(
            live.operation_phase.as_deref(),
            live.state.revision.as_deref(),
            live.state.health.as_deref(),
            &self.target_revision,
        );
        if run.progress.state == RollbackState::Unknown && state == RollbackState::Accepted {
            return Ok((RollbackState::Unknown, format!("unknown — Argo CD shows no sync of {app} to the target yet; nothing is retried")));
        }
        Ok((
            state,
            format!(
                "{app}: {} / {}",
                live.operation_phase.as_deref().unwrap_or("no operation"),
                live.state.health.as_deref().unwrap_or("health unknown")
            ),
        ))
    }
}
