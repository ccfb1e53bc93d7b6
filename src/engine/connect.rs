//! *Test connection*: one cheap, read-only call to a source's platform (or a read of its
//! directory), said in words: what it found, whose token it is, or exactly what is wrong.

use std::path::Path;
use std::time::Instant;

use futures_util::future::join_all;

use super::sync::load_catalog_tree;
use super::Engine;
use crate::api::SourceCheck;
use crate::config::{SourceConfig, SourceKind};
use crate::connectors::alertmanager::AlertmanagerConnector;
use crate::connectors::argocd::ArgoCdConnector;
use crate::connectors::backstage::BackstageConnector;
use crate::connectors::github::GithubConnector;
use crate::connectors::http::RequestMeter;
use crate::connectors::pagerduty::PagerDutyConnector;
use crate::connectors::{ConnectorError, Reached};
use crate::error::{Error, Result};
use crate::secrets::Secrets;
use crate::setup::SourceDraft;
use crate::text::grouped;

impl Engine {
    /// Tests the connection of the source named `name`. Nothing is written to the cache.
    pub async fn check_source(&self, name: &str) -> Result<SourceCheck> {
        let source = self
            .config()
            .source(name)
            .ok_or_else(|| Error::UnknownSource(name.to_string()))?;
        Ok(self.check(source).await)
    }

    /// Tests the connection of a source as an editor's form has it, before it is saved: the
    /// config file at `path` with `draft` put in, the token typed into the form if any. Nothing
    /// is written, to the file, the keychain or the cache.
    pub async fn check_draft(&self, path: &Path, draft: &SourceDraft) -> Result<SourceCheck> {
        let config = crate::setup::draft_config(path, draft)?;
        let name = draft.form.name.trim();
        let typed = draft
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let secrets = match typed {
            Some(token) => Secrets::with_typed(name, token),
            // Never this engine's: the demo's embedded tokens must not reach a real platform.
            None => Secrets::default(),
        };
        self.reconfigured(config, secrets).check_source(name).await
    }

    /// The email the user is known by and who says so, from the configured sources' checks
    /// (see [`Engine::detected_email`]).
    pub async fn detect_identity(&self) -> Option<(String, String)> {
        Self::detected_email(&self.check_sources().await).await
    }

    /// Tests every configured source's connection at once, in the config's order.
    pub async fn check_sources(&self) -> Vec<SourceCheck> {
        join_all(self.config().sources.iter().map(|s| self.check(s))).await
    }

    /// What `checks` say of who the user is, when it is not what `[identity] email` says: the
    /// email a platform knows the user's token by, to confirm into the config.
    pub fn identity_advice(&self, checks: &[SourceCheck]) -> Option<String> {
        let (email, source) = platform_email(checks)?;
        match self.config().identity.email.as_deref() {
            Some(configured) if configured.eq_ignore_ascii_case(email) => None,
            Some(configured) => Some(format!(
                "{source} knows your token as {email}, but [identity] email is {configured}: actions are sent as, and \"my teams\" found by, {configured}"
            )),
            None => Some(format!(
                "{source} knows your token as {email}: set [identity] email = \"{email}\" in the config so actions and \"my teams\" know you"
            )),
        }
    }

    /// The email the user is known by, and who says so: what a platform knows their token by
    /// (in `checks`), else Git's `user.email`. For `[identity]`, once the user confirms it.
    pub async fn detected_email(checks: &[SourceCheck]) -> Option<(String, String)> {
        if let Some((email, source)) = platform_email(checks) {
            return Some((email.to_string(), source.to_string()));
        }
        let git = tokio::task::spawn_blocking(|| {
            std::process::Command::new("git")
                .args(["config", "--get", "user.email"])
                .stdin(std::process::Stdio::null())
                .output()
        })
        .await
        .ok()?
        .ok()?;
        let email = String::from_utf8(git.stdout).ok()?.trim().to_string();
        (git.status.success() && crate::setup::plausible_email(&email))
            .then(|| (email, "git config user.email".to_string()))
    }

    async fn check(&self, source: &SourceConfig) -> SourceCheck {
        let meter = RequestMeter::default();
        let started = Instant::now();
        let reached = self.reach(source, &meter).await;
        let (found, problem, signed_in_as) = match reached {
            Ok(Reached {
                found,
                signed_in_as,
            }) => (Some(found), None, signed_in_as),
            Err(e) => (None, Some(e.message), None),
        };
        SourceCheck {
            source: source.name.clone(),
            kind: source.kind,
            address: match source.kind {
                SourceKind::CatalogFiles => source
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                _ => source.url.clone().unwrap_or_default(),
            },
            ok: problem.is_none(),
            found,
            problem,
            signed_in_as,
            requests: meter.requests(),
            took_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        }
    }

    async fn reach(
        &self,
        source: &SourceConfig,
        meter: &RequestMeter,
    ) -> std::result::Result<Reached, ConnectorError> {
        match source.kind {
            SourceKind::Backstage => {
                BackstageConnector::new(self.endpoint(source)?)
                    .check(meter)
                    .await
            }
            SourceKind::Pagerduty => {
                PagerDutyConnector::new(self.endpoint(source)?)
                    .check(meter)
                    .await
            }
            SourceKind::Alertmanager => {
                AlertmanagerConnector::new(self.endpoint(source)?)
                    .check(meter)
                    .await
            }
            SourceKind::Github => {
                GithubConnector::new(self.endpoint(source)?)
                    .check(meter)
                    .await
            }
            SourceKind::Argocd => {
                ArgoCdConnector::new(self.endpoint(source)?)
                    .check(meter)
                    .await
            }
            SourceKind::CatalogFiles => {
                let load = load_catalog_tree(source).await?;
                let problems = match load.problems.len() {
                    0 => String::new(),
                    1 => format!("; 1 problem: {}", load.problems[0]),
                    n => format!("; {n} problems, the first: {}", load.problems[0]),
                };
                Ok(Reached {
                    found: format!(
                        "{} entities in {} files{problems}",
                        grouped(load.entities.len() as u64),
                        grouped(load.files as u64)
                    ),
                    signed_in_as: None,
                })
            }
        }
    }
}

/// The first email a platform knows a checked token by, and the source that said it.
fn platform_email(checks: &[SourceCheck]) -> Option<(&str, &str)> {
    checks.iter().find_map(|c| {
        let email = c.signed_in_as.as_ref()?.email.as_deref()?;
        Some((email, c.source.as_str()))
    })
}
