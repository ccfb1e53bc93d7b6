//! A rollback carried out: confirmed once, its call made once through the action runner,
//! followed to an end, told to PagerDuty.

use super::*;

impl Engine {
    /// Carries out a confirmed plan: checks the confirmation, writes the audit entry (flushed)
    /// and makes the call, once per key. A second confirmation of the same key calls nothing.
    pub async fn start_rollback(&self, confirmation: &RollbackConfirmation) -> Result<Started> {
        let now = Utc::now();
        let pending = self.rollback_plans().get(&confirmation.key).cloned();
        let Some(pending) = pending else {
            let steps = self.store().action_steps(&confirmation.key).await?;
            return match entry_of(&steps) {
                Some(entry) => Ok(Started::AlreadyConfirmed(Box::new(progress_of_entry(
                    &entry,
                )))),
                None => Err(Error::Refused(
                    "this plan was not made here or has expired: plan the rollback again".into(),
                )),
            };
        };
        let plan = &pending.plan;
        if plan.expires_at <= now {
            return Err(Error::Refused(format!(
                "the plan expired at {}: plan the rollback again to see what runs now",
                plan.expires_at.format("%H:%M:%S UTC")
            )));
        }
        let left = unresolved(&plan.blockers, confirmation.disable_automated_sync);
        if let Some(first) = left.first() {
            return Err(Error::Refused(format!(
                "the rollback cannot run: {}",
                first.message
            )));
        }
        if plan.needs_override
            && confirmation.typed_service.as_deref().map(str::trim) != Some(&plan.service.name)
        {
            return Err(Error::Refused(format!(
                "{}: type its name to confirm",
                override_why(plan)
            )));
        }
        let (Some(target), Some(source), Some(platform_target)) =
            (&plan.target, &plan.source, &plan.platform_target)
        else {
            return Err(Error::Refused("the plan has no target".into()));
        };
        let actor = self.actor();
        let override_reason = plan.needs_override.then(|| {
            format!(
                "{actor} typed '{}': {}{}",
                plan.service.name,
                override_why(plan),
                confirmation
                    .reason
                    .as_deref()
                    .map(|r| format!("; reason: {r}"))
                    .unwrap_or_default()
            )
        });
        let act = Act {
            key: plan.key.clone(),
            kind: ActionKind::Rollback,
            actor: actor.clone(),
            machine: self.machine(),
            service: plan.service.key.clone(),
            target: ActionTarget::Deployment {
                target: platform_target.clone(),
                environment: plan.environment.clone(),
            },
            started_at: now,
        };
        let body = json!({
            "from": plan.current.as_ref().map(|c| &c.version),
            "from_deployment": plan.current.as_ref().map(|c| &c.id),
            "to": target.version,
            "to_commit": target.commit,
            "executor": plan.executor_label,
            "source": source,
            "calls": plan.calls,
            "disable_automated_sync": confirmation.disable_automated_sync,
            "on_call": plan.on_call,
            "override": override_reason,
            "reason": confirmation.reason,
            "message": format!("{actor} confirmed the rollback of {} in {} to {}", plan.service.name, plan.environment, target.version),
        });
        match self
            .begin(&act, body, self.config().rollback.timeout)
            .await?
        {
            Begun::Started => {}
            Begun::AlreadyRequested => {
                let steps = self.store().action_steps(&plan.key).await?;
                let entry = entry_of(&steps).expect("a requested key has steps");
                return Ok(Started::AlreadyConfirmed(Box::new(progress_of_entry(&entry))));
            }
            Begun::InFlight(busy) => {
                return Err(Error::Refused(format!(
                    "{} started another rollback of {} in {} at {} that has no outcome yet; nothing was called",
                    busy.actor,
                    plan.service.name,
                    plan.environment,
                    busy.at.format("%H:%M:%S UTC")
                )))
            }
        }
        self.rollback_plans().remove(&plan.key);
        let mut run = RollbackRun {
            progress: RollbackProgress {
                key: plan.key.clone(),
                service: plan.service.clone(),
                environment: plan.environment.clone(),
                from_version: plan.current.as_ref().map(|c| c.version.clone()),
                to_version: target.version.clone(),
                executor_label: plan.executor_label.clone(),
                state: RollbackState::Requested,
                message: "requested".into(),
                started_at: now,
                at: now,
                link: plan.current.as_ref().and_then(|c| c.link.clone()),
            },
            pending: pending.clone(),
            act,
            source: source.clone(),
            handle: None,
            reached_platform: false,
        };
        self.call(&mut run, confirmation.disable_automated_sync)
            .await?;
        Ok(Started::Running(Box::new(run)))
    }

    /// Follows a started rollback until the platform reports it healthy or failed, or the
    /// configured time passes; `on_progress` hears every change. Records the outcome, tells
    /// PagerDuty and syncs the executor's source so every screen shows what runs now.
    pub async fn track_rollback(
        &self,
        mut run: Box<RollbackRun>,
        on_progress: &(dyn Fn(&RollbackProgress) + Send + Sync),
    ) -> Result<RollbackProgress> {
        self.follow(&mut *run, on_progress).await?;
        self.tell_pagerduty(&run).await?;
        if let Err(e) = self.sync(Some(&run.source), &|_| {}).await {
            tracing::warn!(source = %run.source, error = %e, "sync after a rollback failed");
        }
        Ok(run.progress)
    }
}

impl Engine {
    /// Makes the rollback's call(s), once, recording each answer. A call whose answer was
    /// lost leaves the run `unknown`, to be re-read; a refusal finishes it.
    async fn call(&self, run: &mut RollbackRun, disable_automated_sync: bool) -> Result<()> {
        let source = self
            .config()
            .source(&run.source)
            .expect("a plan's source is configured");
        let endpoint = match self.endpoint(source) {
            Ok(endpoint) => endpoint,
            Err(e) => return self.answered(run, Err(e)).await,
        };
        let meter = RequestMeter::default();
        let how = run.pending.how.clone();
        let outcome = match &how {
            How::Argocd(argocd) => {
                argocd
                    .send(self, run, endpoint, disable_automated_sync, &meter)
                    .await?
            }
            How::GithubDeployment(deployment) => deployment.send(run, endpoint, &meter).await,
            How::GithubWorkflow(workflow) => workflow.send(run, endpoint, &meter).await,
        };
        // Only a call that may have reached the platform is worth telling PagerDuty about.
        run.reached_platform = match &outcome {
            Ok(_) => true,
            Err(e) => e.outcome_unknown(),
        };
        self.answered(run, outcome).await
    }

    /// Reads where the rollback stands; a read that fails keeps the state and says so.
    async fn read_progress(&self, run: &mut RollbackRun) -> (RollbackState, String) {
        match self.read_platform(run).await {
            Ok(read) => read,
            Err(e) => (
                run.progress.state,
                format!("{}: {}", run.progress.state.as_str(), e.message),
            ),
        }
    }

    async fn read_platform(
        &self,
        run: &mut RollbackRun,
    ) -> std::result::Result<(RollbackState, String), ConnectorError> {
        let source = self
            .config()
            .source(&run.source)
            .expect("a run's source is configured");
        let endpoint = self.endpoint(source)?;
        let meter = RequestMeter::default();
        match run.pending.how.clone() {
            How::Argocd(argocd) => argocd.read(run, endpoint, &meter).await,
            How::GithubDeployment(deployment) => deployment.read(run, endpoint, &meter).await,
            How::GithubWorkflow(workflow) => workflow.read(run, endpoint, &meter).await,
        }
    }

    /// Sends the finished rollback to PagerDuty as a change event, when configured and the
    /// service has an integration key. Its failure is recorded, never the rollback's.
    async fn tell_pagerduty(&self, run: &RollbackRun) -> Result<()> {
        if !self.config().rollback.pagerduty_change_events || !run.reached_platform {
            return Ok(());
        }
        let Some(source) = self
            .config()
            .sources
            .iter()
            .find(|s| s.kind == SourceKind::Pagerduty)
        else {
            return Ok(());
        };
        let plan = &run.pending.plan;
        let Some(routing_key) = self.store().entity(&plan.service.key).await?.and_then(|e| {
            e.entity
                .metadata
                .annotations
                .get(INTEGRATION_KEY_ANNOTATION)
                .cloned()
        }) else {
            return Ok(());
        };
        let p = &run.progress;
        let summary = format!(
            "Rollback of {} in {}: {} → {} {}",
            p.service.name,
            p.environment,
            p.from_version.as_deref().unwrap_or("?"),
            p.to_version,
            p.state.as_str().replace('_', " ")
        );
        let mut event = json!({
            "routing_key": routing_key,
            "payload": {
                "summary": summary,
                "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "source": "opsdeck",
                "custom_details": {
                    "service": p.service.name, "environment": p.environment,
                    "from_version": p.from_version, "to_version": p.to_version,
                    "executor": p.executor_label, "outcome": p.state.as_str(),
                    "actor": run.act.actor, "opsdeck_action": p.key,
                },
            },
        });
        if let Some(link) = &p.link {
            event["links"] = json!([{"href": link, "text": "The rollback on its platform"}]);
        }
        let events_url = source
            .events_url
            .as_deref()
            .unwrap_or(crate::config::PAGERDUTY_EVENTS_API);
        let sent = match self.clients(source) {
            Ok(clients) => {
                let endpoint = Endpoint::new(
                    clients,
                    &source.name,
                    events_url,
                    None,
                    None,
                    source.timeout,
                );
                ChangeEvents::new(endpoint)
                    .send(&event, &RequestMeter::default())
                    .await
            }
            Err(error) => Err(error),
        };
        let message = match sent {
            Ok(()) => "change event sent to PagerDuty".to_string(),
            Err(e) => format!("the change event was not sent: {}", e.message),
        };
        let step = run.act.step(
            Step::Notified,
            p.state.as_str(),
            json!({"message": message}),
        );
        if let Err(problem) = self.record(step).await {
            tracing::error!(%problem, key = %p.key, "the change event's step is not in the audit log yet");
        }
        Ok(())
    }
}

impl Follow for RollbackRun {
    type State = RollbackState;
    type Progress = RollbackProgress;
    const ACCEPTED: RollbackState = RollbackState::Accepted;
    const UNKNOWN: RollbackState = RollbackState::Unknown;
    const FAILED: RollbackState = RollbackState::Failed;

    fn act(&self) -> &Act {
        &self.act
    }

    fn progress(&self) -> &RollbackProgress {
        &self.progress
    }

    fn state(&self) -> RollbackState {
        self.progress.state
    }

    fn message(&self) -> &str {
        &self.progress.message
    }

    fn word(state: RollbackState) -> &'static str {
        state.as_str()
    }

    fn is_final(state: RollbackState) -> bool {
        state.is_final()
    }

    fn finished(&self) -> bool {
        self.progress.state.is_final()
    }

    fn show(&mut self, state: RollbackState, message: String) {
        self.progress.state = state;
        self.progress.message = message;
        self.progress.at = Utc::now();
    }

    fn give_up(&mut self, waited: std::time::Duration) {
        let message = format!(
            "no end state after {}: check {} before planning again",
            humantime::format_duration(waited),
            self.progress.executor_label
        );
        self.show(RollbackState::TimedOut, message);
    }

    async fn look(&mut self, engine: &Engine) -> (RollbackState, String) {
        engine.read_progress(self).await
    }

    fn details(&self) -> Value {
        json!({"response_id": self.handle.map(|h| h.to_string())})
    }
}

/// Why a plan needs the service's name typed: it, or a service sharing its target, is neither
/// my team's nor mine on call.
fn override_why(plan: &RollbackPlan) -> String {
    if plan.owned_by_me || plan.me_on_call {
        format!(
            "the rollback also acts for {}, not all of which your teams own or you are on call for",
            plan.also_claimed_by.join(", ")
        )
    } else {
        format!(
            "none of your teams owns {} and you are not on call for it",
            plan.service.name
        )
    }
}
