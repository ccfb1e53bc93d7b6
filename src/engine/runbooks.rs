//! Runbooks in reach: a service's runbooks (its own, its system's and team's, its alerts'),
//! filled in with the context they are launched for; markdown runbooks kept readable offline
//! (read through GitHub's contents API at every GitHub sync, conditionally); automated ones
//! run through `workflow_dispatch` and followed to their conclusion. Every launch and run is
//! in the audit log.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::json;

use super::actions::{Act, Follow};
use crate::api::{
    RunbookAsk, RunbookDocument, RunbookForm, RunbookRow, RunbookRunProgress, ServiceRef,
};
use crate::config::SourceConfig;
use crate::connectors::github::GithubConnector;
use crate::connectors::http::RequestMeter;
use crate::domain::actions::{ActionKind, ActionTarget, Step};
use crate::domain::delivery::{environments_now, DeployStatus};
use crate::domain::runbooks::{
    checked_inputs, expand, kind_of, launchable, prefill, unfilled, workflow_inputs, LaunchContext,
    RunbookKind, RunbookOrigin,
};
use crate::domain::Link;
use crate::store::{key_name, Begun, FileAt, StoredFile};
use crate::{Engine, Error, Result};

/// An automated runbook's run, dispatched, to be followed.
#[derive(Debug)]
pub struct RunbookRun {
    repo: String,
    act: Act,
    progress: RunbookRunProgress,
}

impl RunbookRun {
    /// Where it stands now.
    pub fn progress(&self) -> &RunbookRunProgress {
        &self.progress
    }
}

impl Engine {
    /// The runbooks of `service` for `ask`: an asked alert's own first, then the service's,
    /// its system's, its team's and its other alerts', each URL filled in.
    pub async fn runbooks(&self, service: &str, ask: &RunbookAsk) -> Result<Vec<RunbookRow>> {
        Ok(self.runbooks_for(service, ask).await?.0)
    }

    /// The runbooks, and the context their templates were filled with.
    async fn runbooks_for(
        &self,
        service: &str,
        ask: &RunbookAsk,
    ) -> Result<(Vec<RunbookRow>, LaunchContext)> {
        let (key, stored) = self.service_entity(service).await?;
        let entity = &stored.entity;
        let system = entity.system_ref();
        let team = entity.owner_ref();
        let alerts = self.alerts(Some(&key)).await.unwrap_or_default();
        let asked_alert = ask
            .alert
            .as_ref()
            .and_then(|f| alerts.iter().find(|a| &a.alert.fingerprint == f));
        let (env, version) = self.where_it_runs(&key, ask.environment.as_deref()).await?;
        let mut context = LaunchContext::default()
            .with("service", Some(&entity.metadata.name))
            .with("system", system.as_ref().map(|s| s.name.as_str()))
            .with("team", team.as_ref().map(|t| t.name.as_str()))
            .with("env", env.as_deref())
            .with("version", version.as_deref())
            .with("incident_id", ask.incident_id.as_deref());
        if let Some(row) = asked_alert {
            context = context
                .with("alertname", Some(&row.alert.name))
                .with_labels(&row.alert.labels);
        }
        let mut found: Vec<(String, String, RunbookOrigin)> = Vec::new();
        let mut add = |title: Option<&str>, url: &str, origin: RunbookOrigin| {
            if !found.iter().any(|(_, u, _)| u == url) {
                let title = title.filter(|t| !t.is_empty()).unwrap_or(url);
                found.push((title.to_string(), url.to_string(), origin));
            }
        };
        if let Some(row) = asked_alert {
            if let Some(url) = &row.alert.runbook_url {
                add(
                    Some(&row.alert.name),
                    url,
                    RunbookOrigin::Alert(row.alert.name.clone()),
                );
            }
        }
        for link in runbook_links(&entity.metadata.links) {
            add(link.title.as_deref(), &link.url, RunbookOrigin::Service);
        }
        for (owner, origin) in [
            (
                system.map(|r| r.key()),
                RunbookOrigin::System as fn(String) -> RunbookOrigin,
            ),
            (team.map(|r| r.key()), RunbookOrigin::Team),
        ] {
            let Some(owner) = owner else { continue };
            if let Some(held) = self.store().entity(&owner).await? {
                for link in runbook_links(&held.entity.metadata.links) {
                    add(
                        link.title.as_deref(),
                        &link.url,
                        origin(key_name(&owner).to_string()),
                    );
                }
            }
        }
        for row in &alerts {
            if let Some(url) = &row.alert.runbook_url {
                add(
                    Some(&row.alert.name),
                    url,
                    RunbookOrigin::Alert(row.alert.name.clone()),
                );
            }
        }
        let mut rows = Vec::with_capacity(found.len());
        for (title, template, origin) in found {
            let url = expand(&template, &context);
            let kind = kind_of(&url);
            let cached_at = match file_of(&kind) {
                Some(at) => self.store().repo_file(&at).await?.map(|f| f.confirmed_at),
                None => None,
            };
            rows.push(RunbookRow {
                title,
                unfilled: unfilled(&url),
                refused: launchable(&url).err(),
                template,
                url,
                kind,
                origin,
                cached_at,
            });
        }
        Ok((rows, context))
    }

    /// A markdown runbook as cached; read from GitHub first when `refresh` (an action) or when
    /// it was never read.
    pub async fn runbook_document(
        &self,
        service: &str,
        template: &str,
        refresh: bool,
    ) -> Result<RunbookDocument> {
        let row = self.runbook(service, template).await?;
        let at = match &row.kind {
            RunbookKind::Markdown { .. } => {
                file_of(&row.kind).expect("a markdown runbook is a file")
            }
            _ => {
                return Err(Error::Refused(format!(
                    "'{}' is not a markdown file in a GitHub repository: open it instead",
                    row.title
                )))
            }
        };
        let file = self.file(&at, refresh).await?;
        if !refresh {
            self.record_open(
                service,
                &row,
                &RunbookAsk::default(),
                "read",
                "read in Opsdeck",
            )
            .await?;
        }
        Ok(RunbookDocument {
            title: row.title,
            url: file.html_url.clone().unwrap_or(row.url),
            repo: at.repo,
            path: at.path,
            markdown: file.body,
            confirmed_at: file.confirmed_at,
        })
    }

    /// An automated runbook's inputs, from its workflow file (cached, else read now), their
    /// defaults filled from `ask`'s context where they name it.
    pub async fn runbook_form(
        &self,
        service: &str,
        template: &str,
        ask: &RunbookAsk,
    ) -> Result<RunbookForm> {
        Ok(self.form_and_row(service, template, ask).await?.0)
    }

    /// The URL to open for a runbook, filled in for `ask`; recorded in the audit log, refused
    /// (and recorded) unless it is http or https.
    pub async fn launch_runbook(
        &self,
        service: &str,
        template: &str,
        ask: &RunbookAsk,
    ) -> Result<String> {
        let rows = self.runbooks(service, ask).await?;
        let row = rows
            .into_iter()
            .find(|r| r.template == template)
            .ok_or_else(|| no_runbook(service, template))?;
        match launchable(&row.url) {
            Ok(url) => {
                let url = url.to_string();
                self.record_open(service, &row, ask, "opened", &format!("opened {url}"))
                    .await?;
                Ok(url)
            }
            Err(problem) => {
                self.record_open(service, &row, ask, "refused", &problem)
                    .await?;
                Err(Error::Refused(problem))
            }
        }
    }

    /// Runs an automated runbook with `inputs` (checked against its workflow, defaults filled
    /// in): the audit entry, then one dispatch, never retried.
    pub async fn run_runbook(
        &self,
        service: &str,
        template: &str,
        ask: &RunbookAsk,
        inputs: &BTreeMap<String, String>,
    ) -> Result<Box<RunbookRun>> {
        let (form, row) = self.form_and_row(service, template, ask).await?;
        let inputs = checked_inputs(&form.inputs, inputs)
            .map_err(|problems| Error::Refused(problems.join("; ")))?;
        let source = self.github_source()?;
        if let Some(problem) = source.refuses_actions() {
            return Err(Error::Refused(problem));
        }
        let connector = GithubConnector::new(self.endpoint(source)?);
        let key = super::actions::new_key("run");
        let act = self
            .act(
                &key,
                ActionKind::RunbookRun,
                service,
                ActionTarget::Workflow {
                    repo: form.repo.clone(),
                    workflow: form.workflow.clone(),
                    git_ref: form.git_ref.clone(),
                },
            )
            .await?;
        let mut body = launch_details(&act, &row, ask);
        body["inputs"] = json!(inputs);
        // A run of the same workflow at the same ref holds off another until it finished (or
        // was followed for as long as runs are), whichever service started it.
        match self.begin(&act, body, self.config().runbooks.timeout).await? {
            Begun::Started => {}
            Begun::AlreadyRequested => {
                return Err(Error::Refused(format!(
                    "{} was started already under this key: follow that run",
                    form.title
                )))
            }
            Begun::InFlight(held) => {
                return Err(Error::Refused(format!(
                    "{} ({}@{}) was started by {} at {} and has not finished: follow that run, or wait for it",
                    form.title,
                    form.repo,
                    form.git_ref,
                    held.actor,
                    held.at.format("%H:%M:%S UTC")
                )))
            }
        }
        let mut run = Box::new(RunbookRun {
            repo: form.repo.clone(),
            progress: RunbookRunProgress {
                key: key.clone(),
                service: ServiceRef {
                    name: key_name(&act.service).to_string(),
                    key: act.service.clone(),
                },
                title: form.title.clone(),
                workflow: form.workflow.clone(),
                run_id: None,
                status: DeployStatus::Queued,
                finished: false,
                message: "dispatching".into(),
                started_at: act.started_at,
                link: None,
            },
            act,
        });
        let body = json!({"ref": form.git_ref, "inputs": inputs, "return_run_details": true});
        let answer = connector
            .dispatch_workflow(&form.repo, &form.workflow, &body, &RequestMeter::default())
            .await
            .map(|run_id| {
                run.progress.run_id = run_id;
                match run_id {
                    Some(id) => format!("dispatched: run {id}"),
                    None => "dispatched; finding the run it started".into(),
                }
            });
        self.answered(&mut *run, answer).await?;
        Ok(run)
    }

    /// Follows a dispatched run to its conclusion (or `[rollback] timeout`), telling
    /// `on_progress` of each change.
    pub async fn track_runbook(
        &self,
        mut run: Box<RunbookRun>,
        on_progress: &(dyn Fn(&RunbookRunProgress) + Send + Sync),
    ) -> Result<RunbookRunProgress> {
        self.follow(&mut *run, on_progress).await?;
        Ok(run.progress)
    }

    /// Reads every runbook file the catalog and the alerts name in GitHub (conditionally: an
    /// unchanged file costs a 304), so they are readable when GitHub is not. Problems are the
    /// sync's.
    pub(crate) async fn cache_runbooks(
        &self,
        source: &SourceConfig,
        meter: &RequestMeter,
    ) -> Result<Vec<String>> {
        let mut files: Vec<FileAt> = self
            .store()
            .runbook_urls()
            .await?
            .iter()
            .filter_map(|url| file_of(&kind_of(url)))
            .collect();
        files.sort();
        files.dedup();
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let connector = match self.endpoint(source) {
            Ok(endpoint) => GithubConnector::new(endpoint),
            Err(error) => return Ok(vec![format!("runbooks were not read: {error}")]),
        };
        let mut problems = Vec::new();
        for at in files {
            if let Err(error) = self.read_file(&connector, source, &at, meter).await {
                problems.push(format!(
                    "runbook {}/{} was not read: {error}",
                    at.repo, at.path
                ));
            }
        }
        Ok(problems)
    }
}

impl Engine {
    /// An automated runbook's form and its row, from one reading of the service's runbooks.
    async fn form_and_row(
        &self,
        service: &str,
        template: &str,
        ask: &RunbookAsk,
    ) -> Result<(RunbookForm, RunbookRow)> {
        let (rows, context) = self.runbooks_for(service, ask).await?;
        let row = rows
            .into_iter()
            .find(|r| r.template == template)
            .ok_or_else(|| no_runbook(service, template))?;
        let RunbookKind::Automated {
            repo,
            workflow,
            git_ref,
        } = &row.kind
        else {
            return Err(Error::Refused(format!(
                "'{}' is not a GitHub Actions workflow: it cannot be run",
                row.title
            )));
        };
        let at = file_of(&row.kind).expect("a workflow is a file");
        let file = self.file(&at, false).await?;
        let mut inputs = workflow_inputs(&file.body)
            .map_err(|problem| Error::Refused(format!("{repo}/{}: {problem}", at.path)))?;
        prefill(&mut inputs, &context);
        let form = RunbookForm {
            title: row.title.clone(),
            template: row.template.clone(),
            repo: repo.clone(),
            workflow: workflow.clone(),
            git_ref: git_ref.clone(),
            inputs,
            confirmed_at: file.confirmed_at,
        };
        Ok((form, row))
    }

    async fn runbook(&self, service: &str, template: &str) -> Result<RunbookRow> {
        self.runbooks(service, &RunbookAsk::default())
            .await?
            .into_iter()
            .find(|r| r.template == template)
            .ok_or_else(|| no_runbook(service, template))
    }

    /// A file from the cache, read from GitHub first when asked or never read.
    async fn file(&self, at: &FileAt, refresh: bool) -> Result<StoredFile> {
        let held = self.store().repo_file(at).await?;
        if refresh || held.is_none() {
            let source = self.github_source()?;
            let connector = GithubConnector::new(self.endpoint(source)?);
            let read = self
                .read_file(&connector, source, at, &RequestMeter::default())
                .await;
            match (read, held) {
                (Ok(()), _) => {}
                // Asked to refresh while GitHub is down: the copy held still answers.
                (Err(error), Some(held)) => {
                    tracing::warn!(%error, repo = %at.repo, path = %at.path, "runbook refresh failed");
                    return Ok(held);
                }
                (Err(error), None) => return Err(error),
            }
        }
        self.store()
            .repo_file(at)
            .await?
            .ok_or_else(|| Error::NotFound(format!("{}/{} was never read", at.repo, at.path)))
    }

    async fn read_file(
        &self,
        connector: &GithubConnector,
        source: &SourceConfig,
        at: &FileAt,
        meter: &RequestMeter,
    ) -> Result<()> {
        let held = self.store().repo_file(at).await?;
        let etag = held.as_ref().and_then(|f| f.etag.as_deref());
        let read = connector
            .file(&at.repo, &at.path, &at.git_ref, etag, meter)
            .await?;
        let file = read.map(|file| StoredFile {
            body: file.text,
            sha: file.sha,
            etag: file.etag,
            html_url: file.html_url,
            confirmed_at: Utc::now(),
        });
        self.store()
            .keep_repo_file(&source.name, at, file.as_ref(), Utc::now())
            .await?;
        Ok(())
    }

    /// The environment a runbook is launched for (asked, else production) and what runs there.
    async fn where_it_runs(
        &self,
        service_key: &str,
        asked: Option<&str>,
    ) -> Result<(Option<String>, Option<String>)> {
        // Each environment's newest deploys, from an index: not the service page's whole
        // delivery read again.
        let targets = self.store().targets_of_component(service_key).await?;
        let newest = self.store().environment_heads(&targets).await?;
        let order = self.config().delivery.order();
        let environments = environments_now(&newest, &[], &order);
        let environment = environments.iter().find(|e| match asked {
            Some(asked) => e.environment == asked,
            None => order.is_production(&e.environment),
        });
        Ok(match environment {
            Some(e) => (
                Some(e.environment.clone()),
                e.current.as_ref().map(|c| c.version.clone()),
            ),
            None => (asked.map(str::to_string), None),
        })
    }

    /// An action of `kind` on `service`, by the identity, from now.
    async fn act(
        &self,
        key: &str,
        kind: ActionKind,
        service: &str,
        target: ActionTarget,
    ) -> Result<Act> {
        Ok(Act {
            key: key.to_string(),
            kind,
            actor: self.actor(),
            machine: self.machine(),
            service: self.service_key(service).await?,
            target,
            started_at: Utc::now(),
        })
    }

    /// Records that a runbook was opened (or read, or refused): two steps, request and outcome.
    /// Opening changes no platform, so it needs no hold on the runner's door.
    async fn record_open(
        &self,
        service: &str,
        row: &RunbookRow,
        ask: &RunbookAsk,
        state: &str,
        message: &str,
    ) -> Result<()> {
        let key = super::actions::new_key("open");
        let act = self
            .act(
                &key,
                ActionKind::RunbookOpen,
                service,
                ActionTarget::Service,
            )
            .await?;
        let requested = act.step(Step::Requested, "requested", launch_details(&act, row, ask));
        self.store().append_audit(&requested).await?;
        self.store()
            .append_audit(&act.step(Step::Finished, state, json!({"message": message})))
            .await
            .map_err(Into::into)
    }
}

/// What a runbook's `requested` entry says: which runbook, where, for what.
fn launch_details(act: &Act, row: &RunbookRow, ask: &RunbookAsk) -> serde_json::Value {
    let verb = if act.kind == ActionKind::RunbookRun {
        "run"
    } else {
        "open"
    };
    json!({
        "subject": row.title,
        "executor": match row.kind {
            RunbookKind::Link => "runbook page",
            RunbookKind::Markdown { .. } => "markdown runbook",
            RunbookKind::Automated { .. } => "automated runbook",
        },
        "url": row.url,
        "incident_id": ask.incident_id,
        "alert": ask.alert,
        "environment": ask.environment,
        "message": format!("{}: {verb} '{}'", act.actor, row.title),
    })
}

impl Follow for RunbookRun {
    type State = DeployStatus;
    type Progress = RunbookRunProgress;
    const ACCEPTED: DeployStatus = DeployStatus::Queued;
    const UNKNOWN: DeployStatus = DeployStatus::Unknown;
    const FAILED: DeployStatus = DeployStatus::Failure;

    fn act(&self) -> &Act {
        &self.act
    }

    fn progress(&self) -> &RunbookRunProgress {
        &self.progress
    }

    fn state(&self) -> DeployStatus {
        self.progress.status
    }

    fn message(&self) -> &str {
        &self.progress.message
    }

    fn word(state: DeployStatus) -> &'static str {
        state.as_str()
    }

    fn is_final(state: DeployStatus) -> bool {
        !state.is_open() && state != DeployStatus::Unknown
    }

    fn finished(&self) -> bool {
        self.progress.finished
    }

    fn show(&mut self, state: DeployStatus, message: String) {
        self.progress.status = state;
        self.progress.message = message;
        self.progress.finished = Self::is_final(state);
    }

    fn give_up(&mut self, _waited: std::time::Duration) {
        self.progress.message = "no conclusion in time: see the run on GitHub".into();
        self.progress.finished = true;
    }

    async fn look(&mut self, engine: &Engine) -> (DeployStatus, String) {
        let status = self.progress.status;
        let read = async {
            let connector = GithubConnector::new(engine.endpoint(engine.github_source()?)?);
            let meter = RequestMeter::default();
            if self.progress.run_id.is_none() {
                let since = self.progress.started_at - Duration::seconds(5);
                self.progress.run_id = connector
                    .find_dispatched_run(&self.repo, &self.progress.workflow, since, &meter)
                    .await?;
            }
            let Some(id) = self.progress.run_id else {
                return Ok((status, self.progress.message.clone()));
            };
            let run = connector.run(&self.repo, id, &meter).await?;
            self.progress.link = run.link.clone();
            Ok::<_, Error>((run.status, format!("run {id}: {}", run.status.as_str())))
        };
        read.await.unwrap_or_else(|e| (status, e.to_string()))
    }

    fn details(&self) -> serde_json::Value {
        json!({
            "response_id": self.progress.run_id.map(|id| id.to_string()),
            "url": self.progress.link,
        })
    }
}

fn runbook_links(links: &[Link]) -> impl Iterator<Item = &Link> {
    links
        .iter()
        .filter(|l| l.link_type.as_deref() == Some("runbook"))
}

/// The file behind a markdown runbook or a workflow.
fn file_of(kind: &RunbookKind) -> Option<FileAt> {
    match kind {
        RunbookKind::Link => None,
        RunbookKind::Markdown {
            repo,
            path,
            git_ref,
        } => Some(FileAt {
            repo: repo.clone(),
            path: path.clone(),
            git_ref: git_ref.clone(),
        }),
        RunbookKind::Automated {
            repo,
            workflow,
            git_ref,
        } => Some(FileAt {
            repo: repo.clone(),
            path: format!(".github/workflows/{workflow}"),
            git_ref: git_ref.clone(),
        }),
    }
}

fn no_runbook(service: &str, template: &str) -> Error {
    Error::NotFound(format!(
        "{service} has no runbook '{template}' (see `opsdeck runbooks {service}`)"
    ))
}
