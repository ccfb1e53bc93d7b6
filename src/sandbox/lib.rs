//! The sandbox: a simulated platform on loopback that serves the real APIs' contracts for a
//! deterministic organisation. It is the demo mode's data, the tests' bed and the benchmarks'
//! load. Connectors cannot tell it from the real platform.

pub mod actions;
mod alertmanager;
mod argocd;
mod backstage;
pub mod chaos;
mod delivery;
mod events;
mod github;
mod github_graphql;
mod oncall;
pub mod org;
mod pagerduty;
pub mod specs;

use opsdeck_domain as domain;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::oneshot;

pub use actions::ActionsSpec;
pub use chaos::ChaosSpec;
pub use delivery::{DEMO_AWAITING_APPROVAL, DEMO_ROLLBACK_FROM, DEMO_ROLLBACK_TO};
pub use oncall::DEMO_INCIDENT_TITLE;
pub use org::{Seed, DEMO_IDENTITY};

/// Where a running sandbox's answers to actions are read (`GET`), changed (`PUT`, an
/// [`ActionsSpec`] as the body) and reset (`DELETE`), with the sandbox's bearer token.
pub const ACTIONS_PATH: &str = "/_sandbox/actions";

/// Where the sandbox serves PagerDuty's Events API (its root, as
/// `https://events.pagerduty.com` is).
pub const PAGERDUTY_EVENTS_PREFIX: &str = "/pagerduty-events";

/// Where a running sandbox's chaos is read (`GET`), changed (`PUT`, the spec as the body) and
/// cleared (`DELETE`), with the sandbox's bearer token.
pub const CHAOS_PATH: &str = "/_sandbox/chaos";

/// The env var the written config names for the sandbox's token.
pub const TOKEN_ENV: &str = "OPSDECK_SANDBOX_TOKEN";

/// The name of the catalog source in a sandbox config.
pub const CATALOG_SOURCE: &str = "catalog";

/// The name of the PagerDuty source in a sandbox config.
pub const PAGERDUTY_SOURCE: &str = "pagerduty";

/// The name of the Alertmanager source in a sandbox config.
pub const ALERTMANAGER_SOURCE: &str = "alertmanager";

/// The name of the GitHub source in a sandbox config.
pub const GITHUB_SOURCE: &str = "github";

/// The name of the Argo CD source in a sandbox config.
pub const ARGOCD_SOURCE: &str = "argocd";

/// The token of every source of a sandbox config that sends one, by source name: what the
/// demo, tests and benchmarks hand the engine in process instead of through its env var.
pub fn source_tokens(token: &str) -> std::collections::HashMap<String, String> {
    [
        CATALOG_SOURCE,
        PAGERDUTY_SOURCE,
        GITHUB_SOURCE,
        ARGOCD_SOURCE,
    ]
    .map(|source| (source.to_string(), token.to_string()))
    .into()
}

/// Where the sandbox serves GitHub's REST API (its root, as `https://api.github.com` is).
pub const GITHUB_PREFIX: &str = "/github";

/// Where the sandbox serves Argo CD's API server.
pub const ARGOCD_PREFIX: &str = "/argocd";

/// Where the sandbox serves PagerDuty's API (its root, as `https://api.pagerduty.com` is).
pub const PAGERDUTY_PREFIX: &str = "/pagerduty";

/// Where the sandbox serves Alertmanager (as its `--web.route-prefix`).
pub const ALERTMANAGER_PREFIX: &str = "/alertmanager";

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Loopback port; 0 picks a free one.
    pub port: u16,
    /// Which organisation.
    pub seed: Seed,
    /// The bearer token clients must send; random when `None`.
    pub token: Option<String>,
    /// Faults to inject from the start.
    pub chaos: ChaosSpec,
    /// How actions are answered from the start.
    pub actions: ActionsSpec,
}

/// A running sandbox. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    token: String,
    catalog: Arc<backstage::CatalogApi>,
    chaos: Arc<chaos::Chaos>,
    world: Arc<oncall::OnCallWorld>,
    actions: Arc<actions::Actions>,
    events: Arc<events::EventsApi>,
    github_hourly_limit: Arc<std::sync::atomic::AtomicU32>,
    github_points_spent: Arc<std::sync::atomic::AtomicU64>,
    argocd_changes: tokio::sync::broadcast::Sender<argocd::Watched>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Sandbox {
    /// Binds to 127.0.0.1 and serves in the background on the current tokio runtime.
    pub async fn start(options: SandboxOptions) -> std::io::Result<Self> {
        let token = options.token.unwrap_or_else(random_token);
        let entities = org::entities(options.seed);
        let world = Arc::new(oncall::OnCallWorld::new(
            options.seed,
            &entities.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
            chrono::Utc::now(),
        ));
        let delivery = Arc::new(std::sync::RwLock::new(delivery::DeliveryWorld::new(
            options.seed,
            &entities.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
            chrono::Utc::now(),
        )));
        let actions = Arc::new(actions::Actions::default());
        actions.set(options.actions);
        let events = Arc::new(events::EventsApi::default());
        let api = Arc::new(backstage::CatalogApi::new(token.clone(), entities));
        let chaos = Arc::new(chaos::Chaos::new(options.chaos));
        let with_chaos = |router: Router, platform: &'static str, error_body: chaos::ErrorBody| {
            router.layer(axum::middleware::from_fn_with_state(
                chaos::ChaosLayer {
                    chaos: chaos.clone(),
                    platform,
                    error_body,
                },
                chaos::apply,
            ))
        };
        let catalog = with_chaos(api.clone().router(), "backstage", backstage::server_error);
        let pagerduty = with_chaos(
            Arc::new(pagerduty::PagerDutyApi {
                token: token.clone(),
                world: world.clone(),
                actions: actions.clone(),
            })
            .router(),
            "pagerduty",
            pagerduty::server_error,
        );
        let alertmanager = with_chaos(
            Arc::new(alertmanager::AlertmanagerApi {
                world: world.clone(),
                actions: actions.clone(),
            })
            .router(),
            "alertmanager",
            alertmanager::server_error,
        );
        let github_api = Arc::new(github::GithubApi::new(
            token.clone(),
            delivery.clone(),
            actions.clone(),
        ));
        let github_hourly_limit = github_api.hourly_limit.clone();
        let github_points_spent = github_api.points_spent.clone();
        let github = with_chaos(github_api.router(), "github", github::server_error);
        let argocd_changes = argocd::change_channel();
        let argocd = with_chaos(
            Arc::new(argocd::ArgoCdApi {
                token: token.clone(),
                world: delivery.clone(),
                actions: actions.clone(),
                changes: argocd_changes.clone(),
            })
            .router(),
            "argocd",
            argocd::server_error,
        );
        let pagerduty_events =
            with_chaos(events.clone().router(), "pagerduty", events::server_error);
        let control = Router::new()
            .route(
                CHAOS_PATH,
                axum::routing::get(read_chaos)
                    .put(set_chaos)
                    .delete(clear_chaos),
            )
            .route(
                ACTIONS_PATH,
                axum::routing::get(read_actions)
                    .put(set_actions)
                    .delete(reset_actions),
            )
            .with_state(Control {
                chaos: chaos.clone(),
                actions: actions.clone(),
                token: token.clone(),
            });
        let app = catalog
            .nest(PAGERDUTY_PREFIX, pagerduty)
            .nest(ALERTMANAGER_PREFIX, alertmanager)
            .nest(GITHUB_PREFIX, github)
            .nest(ARGOCD_PREFIX, argocd)
            .nest(PAGERDUTY_EVENTS_PREFIX, pagerduty_events)
            .merge(control);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::error!(error = %e, "sandbox server stopped");
            }
        });
        tracing::info!(%addr, "sandbox listening");
        Ok(Self {
            addr,
            token,
            catalog: api,
            chaos,
            world,
            actions,
            events,
            github_hourly_limit,
            github_points_spent,
            argocd_changes,
            shutdown: Some(shutdown),
        })
    }

    /// Changes the Backstage catalog's entities (each with the catalog file it is read from),
    /// as a commit to the catalog's repository would; the on-call and delivery worlds stay
    /// as they started.
    pub fn edit_catalog(&self, edit: impl FnOnce(&mut Vec<(String, domain::Entity)>)) {
        self.catalog.edit(edit);
    }

    /// Cuts every open Argo CD watch stream mid-body, as a restarting API server does.
    pub fn cut_argocd_streams(&self) {
        let _ = self.argocd_changes.send(argocd::Watched::Cut);
    }

    /// Changes the faults injected from now on.
    pub fn set_chaos(&self, spec: ChaosSpec) {
        self.chaos.set(spec);
    }

    /// GitHub's hourly budget from now on: requests on REST, points on GraphQL.
    pub fn set_github_hourly_limit(&self, limit: u32) {
        self.github_hourly_limit
            .store(limit, std::sync::atomic::Ordering::Relaxed);
    }

    /// GraphQL points GitHub's queries cost since the start.
    pub fn github_points_spent(&self) -> u64 {
        self.github_points_spent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Changes how actions are answered from now on.
    pub fn set_actions(&self, spec: ActionsSpec) {
        self.actions.set(spec);
    }

    /// State-changing actions (rollbacks, deployments, dispatches, patches) received so far,
    /// refused or not; dry runs are not counted.
    pub fn actions_received(&self) -> usize {
        self.actions.received()
    }

    /// The change events PagerDuty's Events API received, oldest first.
    pub fn change_events(&self) -> Vec<serde_json::Value> {
        self.events.received()
    }

    /// Triggers a new high-urgency incident on the PagerDuty service of the component named
    /// `service`, as a monitoring tool would; returns its id, or `None` when the component
    /// has no PagerDuty service.
    pub fn trigger_incident(&self, service: &str, title: &str) -> Option<String> {
        self.world.trigger(service, title, chrono::Utc::now())
    }

    /// Base URL, e.g. `http://127.0.0.1:7007`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bearer token it accepts.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// An `opsdeck.toml` wired to this sandbox. The token is not in it: the source names
    /// [`TOKEN_ENV`].
    pub fn config_toml(&self) -> String {
        format!(
            "# Written by `opsdeck sandbox`: the demo organisation served on {url}.\n\
             # The sandbox's token is read from {TOKEN_ENV}; `opsdeck sandbox` prints it.\n\n\
             [identity]\nemail = \"{DEMO_IDENTITY}\"\n\n\
             [[sources]]\nname = \"{CATALOG_SOURCE}\"\nkind = \"backstage\"\nurl = \"{url}\"\n\
             token_env = \"{TOKEN_ENV}\"\ninterval = \"60s\"\n\n\
             [[sources]]\nname = \"{PAGERDUTY_SOURCE}\"\nkind = \"pagerduty\"\n\
             url = \"{url}{PAGERDUTY_PREFIX}\"\nevents_url = \"{url}{PAGERDUTY_EVENTS_PREFIX}\"\n\
             token_env = \"{TOKEN_ENV}\"\ninterval = \"60s\"\n\n\
             [[sources]]\nname = \"{ALERTMANAGER_SOURCE}\"\nkind = \"alertmanager\"\n\
             url = \"{url}{ALERTMANAGER_PREFIX}\"\ninterval = \"30s\"\n\n\
             [[sources]]\nname = \"{GITHUB_SOURCE}\"\nkind = \"github\"\n\
             url = \"{url}{GITHUB_PREFIX}\"\ntoken_env = \"{TOKEN_ENV}\"\ninterval = \"60s\"\n\n\
             [[sources]]\nname = \"{ARGOCD_SOURCE}\"\nkind = \"argocd\"\n\
             url = \"{url}{ARGOCD_PREFIX}\"\ntoken_env = \"{TOKEN_ENV}\"\ninterval = \"30s\"\n",
            url = self.url()
        )
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

#[derive(Clone)]
struct Control {
    chaos: Arc<chaos::Chaos>,
    actions: Arc<actions::Actions>,
    token: String,
}

impl Control {
    fn allows(&self, headers: &HeaderMap) -> bool {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            == Some(self.token.as_str())
    }
}

fn denied() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "send the sandbox's token: Authorization: Bearer <token>\n",
    )
        .into_response()
}

async fn read_chaos(State(control): State<Control>, headers: HeaderMap) -> Response {
    if !control.allows(&headers) {
        return denied();
    }
    format!("{}\n", control.chaos.spec()).into_response()
}

async fn set_chaos(State(control): State<Control>, headers: HeaderMap, body: String) -> Response {
    if !control.allows(&headers) {
        return denied();
    }
    match body.parse::<ChaosSpec>() {
        Ok(spec) => {
            tracing::info!(chaos = %spec, "sandbox chaos changed");
            control.chaos.set(spec);
            format!("{}\n", control.chaos.spec()).into_response()
        }
        Err(message) => (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response(),
    }
}

async fn clear_chaos(State(control): State<Control>, headers: HeaderMap) -> Response {
    if !control.allows(&headers) {
        return denied();
    }
    control.chaos.set(ChaosSpec::default());
    StatusCode::NO_CONTENT.into_response()
}

async fn read_actions(State(control): State<Control>, headers: HeaderMap) -> Response {
    if !control.allows(&headers) {
        return denied();
    }
    format!("{}\n", control.actions.spec()).into_response()
}

async fn set_actions(State(control): State<Control>, headers: HeaderMap, body: String) -> Response {
    if !control.allows(&headers) {
        return denied();
    }
    match body.parse::<ActionsSpec>() {
        Ok(spec) => {
            tracing::info!(actions = %spec, "sandbox actions changed");
            control.actions.set(spec);
            format!("{}\n", control.actions.spec()).into_response()
        }
        Err(message) => (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response(),
    }
}

async fn reset_actions(State(control): State<Control>, headers: HeaderMap) -> Response {
    if !control.allows(&headers) {
        return denied();
    }
    control.actions.set(ActionsSpec::default());
    StatusCode::NO_CONTENT.into_response()
}

/// A hash that is the same on every run of one build, for the sandbox's stable ids.
fn stable_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// A token that differs per start, so a config from an old sandbox cannot silently work.
fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("sbx_{:016x}", h.finish())
}
