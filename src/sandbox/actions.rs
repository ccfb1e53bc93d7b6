//! How the sandbox's platforms answer actions (rollbacks, deployments, dispatches): normally,
//! by failing the rollout, or by refusing in the ways a real platform can, so every path of
//! an action is tested. Set with `opsdeck sandbox --actions`, `PUT /_sandbox/actions`, or
//! [`super::Sandbox::set_actions`]:
//!
//! `refuse=403` | `refuse=500` | `drop` (act, then cut the connection before answering) |
//! `fail` (accept, then the rollout ends degraded/failed), and `rollout=5s` (how long a
//! rollout takes), separated by `,`.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;

use super::delivery::Rollout;

/// How long a rollout takes unless told otherwise: long enough to watch it progress.
pub const DEFAULT_ROLLOUT: Duration = Duration::from_secs(6);

/// A refusal an action meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 403: the token may read but not act.
    Forbidden,
    /// 500: the platform fails.
    ServerError,
    /// The action is carried out, then the connection is cut before the answer.
    DropAfterActing,
}

/// How actions are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionsSpec {
    /// Refuse every action this way.
    pub refuse: Option<Refusal>,
    /// Accept, then end the rollout failed (Argo CD: Degraded; GitHub: failure).
    pub fail: bool,
    /// How long a rollout takes.
    pub rollout: Duration,
}

impl Default for ActionsSpec {
    fn default() -> Self {
        Self {
            refuse: None,
            fail: false,
            rollout: DEFAULT_ROLLOUT,
        }
    }
}

impl ActionsSpec {
    /// The refusal the sandbox was told to give, in the platform's error shape (`error`), with
    /// the platform's words for a missing permission; `None` to carry the action out.
    pub(super) fn refusal(
        self,
        error: fn(StatusCode, &str) -> Response,
        forbidden: &str,
    ) -> Option<Response> {
        match self.refuse {
            Some(Refusal::Forbidden) => Some(error(StatusCode::FORBIDDEN, forbidden)),
            Some(Refusal::ServerError) => Some(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "sandbox: the action failed on the server",
            )),
            _ => None,
        }
    }

    /// The answer to an action carried out: `answer`, or a cut connection when told so.
    pub(super) fn deliver(self, answer: Response) -> Response {
        match self.refuse {
            Some(Refusal::DropAfterActing) => super::chaos::cut_off(Vec::new(), None),
            _ => answer,
        }
    }

    /// The rollout an action starts now.
    pub(super) fn rollout(self) -> Rollout {
        Rollout {
            at: chrono::Utc::now(),
            lasts: chrono::Duration::from_std(self.rollout).unwrap_or_default(),
            fails: self.fail,
        }
    }
}

impl std::str::FromStr for ActionsSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut spec = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                None if part == "drop" => spec.refuse = Some(Refusal::DropAfterActing),
                None if part == "fail" => spec.fail = true,
                Some(("refuse", "403")) => spec.refuse = Some(Refusal::Forbidden),
                Some(("refuse", "500")) => spec.refuse = Some(Refusal::ServerError),
                Some(("rollout", value)) => {
                    spec.rollout = humantime::parse_duration(value.trim())
                        .map_err(|e| format!("actions: rollout '{value}': {e}"))?;
                }
                _ => {
                    return Err(format!(
                        "actions: '{part}' is not understood; use refuse=403, refuse=500, drop, fail, rollout=DURATION"
                    ))
                }
            }
        }
        Ok(spec)
    }
}

impl fmt::Display for ActionsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match self.refuse {
            Some(Refusal::Forbidden) => parts.push("refuse=403".to_string()),
            Some(Refusal::ServerError) => parts.push("refuse=500".to_string()),
            Some(Refusal::DropAfterActing) => parts.push("drop".to_string()),
            None => {}
        }
        if self.fail {
            parts.push("fail".into());
        }
        parts.push(format!(
            "rollout={}",
            humantime::format_duration(self.rollout)
        ));
        f.write_str(&parts.join(","))
    }
}

/// The sandbox's actions: how they are answered and how many arrived.
#[derive(Debug, Default)]
pub struct Actions {
    spec: Mutex<ActionsSpec>,
    received: AtomicUsize,
}

impl Actions {
    /// How actions are answered now.
    pub fn spec(&self) -> ActionsSpec {
        *self.spec.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes how actions are answered.
    pub fn set(&self, spec: ActionsSpec) {
        *self.spec.lock().unwrap_or_else(|p| p.into_inner()) = spec;
    }

    /// Counts an action that changes state (dry runs are not counted) and says how to answer.
    pub fn receive(&self) -> ActionsSpec {
        self.received.fetch_add(1, Ordering::SeqCst);
        self.spec()
    }

    /// State-changing actions received so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        let spec: ActionsSpec = "refuse=403, rollout=1s".parse().unwrap();
        assert_eq!(spec.refuse, Some(Refusal::Forbidden));
        assert_eq!(spec.rollout, Duration::from_secs(1));
        assert_eq!(spec.to_string(), "refuse=403,rollout=1s");
        let spec: ActionsSpec = "drop,fail".parse().unwrap();
        assert_eq!(spec.refuse, Some(Refusal::DropAfterActing));
        assert!(spec.fail);
        assert!("refuse=418"
            .parse::<ActionsSpec>()
            .unwrap_err()
            .contains("refuse=403"));
    }
}
