//! Rolling back through a GitHub Actions workflow (`opsdeck.io/rollback:
//! github-workflow:FILE`): dispatched with the environment and version, its run followed.

use super::*;

/// A workflow rollback, as planned.
#[derive(Debug, Clone)]
pub(super) struct GithubWorkflowRollback {
    pub slug: String,
    pub workflow: String,
    /// The dispatch request.
    pub body: Value,
}

impl GithubWorkflowRollback {
    /// The call, as the plan shows it.
    pub fn planned_call(&self, endpoint: &Endpoint, version: &str) -> PlannedCall {
        let (slug, workflow) = (&self.slug, &self.workflow);
        PlannedCall {
            method: "POST".into(),
            url: GithubConnector::new(endpoint.clone()).dispatch_url(slug, workflow),
            body: self.body.to_string(),
            purpose: format!("dispatch {workflow} in {slug} with version {version}"),
        }
    }

    /// Dispatches the workflow; the run it started is what the run follows.
    pub async fn send(
        &self,
        run: &mut RollbackRun,
        endpoint: Endpoint,
        meter: &RequestMeter,
    ) -> std::result::Result<String, ConnectorError> {
        let workflow = &self.workflow;
        match GithubConnector::new(endpoint)
            .dispatch_workflow(&self.slug, workflow, &self.body, meter)
            .await?
        {
            Some(id) => {
                run.handle = Some(id);
                Ok(format!("{workflow} dispatched: run {id}"))
            }
            None => Ok(format!("{workflow} dispatched; finding the run it started")),
        }
    }

    /// The run's status; a run not known yet is found by when the dispatch happened.
    pub async fn read(
        &self,
        run: &mut RollbackRun,
        endpoint: Endpoint,
        meter: &RequestMeter,
    ) -> std::result::Result<(RollbackState, String), ConnectorError> {
        let (slug, workflow) = (&self.slug, &self.workflow);
        let connector = GithubConnector::new(endpoint);
        if run.handle.is_none() {
            let since = run.progress.started_at - Duration::seconds(5);
            run.handle = connector
                .find_dispatched_run(slug, workflow, since, meter)
                .await?;
        }
        let Some(id) = run.handle else {
            return Ok((
                run.progress.state,
                format!(
                    "{}: no run of {workflow} started by the dispatch yet",
                    run.progress.state.as_str()
                ),
            ));
        };
        let started = connector.run(slug, id, meter).await?;
        run.progress.link = started.link.clone();
        Ok((
            state_of_status(started.status),
            format!("run {id} of {workflow}: {}", started.status.as_str()),
        ))
    }
}
