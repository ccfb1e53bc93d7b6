//! Rolling back through a GitHub deployment: a new deployment of the target's commit to the
//! environment, which the repository's deployment tooling carries out.

use super::*;

/// A GitHub deployment rollback, as planned.
#[derive(Debug, Clone)]
pub(super) struct GithubDeploymentRollback {
    pub slug: String,
    /// The create-deployment request.
    pub body: Value,
}

impl GithubDeploymentRollback {
    /// The call, as the plan shows it.
    pub fn planned_call(&self, endpoint: &Endpoint, version: &str) -> PlannedCall {
        PlannedCall {
            method: "POST".into(),
            url: GithubConnector::new(endpoint.clone()).deployments_url(&self.slug),
            body: self.body.to_string(),
            purpose: format!("create a deployment of {version} in {}", self.slug),
        }
    }

    /// Creates the deployment; its id is what the run follows.
    pub async fn send(
        &self,
        run: &mut RollbackRun,
        endpoint: Endpoint,
        meter: &RequestMeter,
    ) -> std::result::Result<String, ConnectorError> {
        let id = GithubConnector::new(endpoint)
            .create_deployment(&self.slug, &self.body, meter)
            .await?;
        run.handle = Some(id);
        Ok(format!("GitHub deployment {id} created"))
    }

    /// The deployment's latest status; a lost answer is found again by the key in its payload.
    pub async fn read(
        &self,
        run: &mut RollbackRun,
        endpoint: Endpoint,
        meter: &RequestMeter,
    ) -> std::result::Result<(RollbackState, String), ConnectorError> {
        let connector = GithubConnector::new(endpoint);
        let plan = &run.pending.plan;
        if run.handle.is_none() {
            run.handle = connector
                .find_deployment(&self.slug, &plan.environment, &plan.key, meter)
                .await?;
        }
        let Some(id) = run.handle else {
            return Ok((
                RollbackState::Unknown,
                "unknown — no deployment of this rollback on GitHub yet; nothing is retried".into(),
            ));
        };
        let status = connector.deployment_status(&self.slug, id, meter).await?;
        Ok((
            state_of_status(status),
            format!("deployment {id}: {}", status.as_str()),
        ))
    }
}
