//! The headless agent: every source synced on its schedule into the cache it shares with the
//! desktops and CLIs that read it, with what the service manager and Prometheus need to watch
//! it over HTTP: `GET /healthz` and `GET /metrics`.

use std::future::{Future, IntoFuture};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::api::{SourceStatus, SyncReport};
use crate::{Engine, Result};

/// What `/metrics` answers with: Prometheus's text format, version 0.0.4.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Runs the agent until `stop` resolves: the schedule of every source, and the HTTP endpoints
/// on `listener`. A sync under way when `stop` comes is dropped, so its landing rolls back and
/// nothing of it lands; the leases this process held are given up for another agent to take.
pub async fn run(
    engine: Engine,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()>,
) -> Result<()> {
    let metrics = Arc::new(Metrics::new());
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(Agent {
            engine: engine.clone(),
            metrics: metrics.clone(),
        });
    let server = axum::serve(listener, app).into_future();
    let observe = |report: &SyncReport| metrics.observe(report);
    let schedule = engine.sync_on_schedule(&|_| {}, &observe);
    let outcome = tokio::select! {
        () = stop => Ok(()),
        () = schedule => Ok(()),
        served = server => served.map_err(crate::Error::Serve),
    };
    engine.release_leases().await?;
    outcome
}

#[derive(Clone)]
struct Agent {
    engine: Engine,
    metrics: Arc<Metrics>,
}

/// Ready (200), with each source's status, when the cache answers (it opened only once its
/// migrations were applied); 503 with the reason when it does not.
async fn healthz(State(agent): State<Agent>) -> Response {
    match agent.engine.sources().await {
        Ok(sources) => {
            Json(serde_json::json!({ "status": "ready", "sources": sources })).into_response()
        }
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "unavailable",
                "error": format!("the cache does not answer: {error}"),
            })),
        )
            .into_response(),
    }
}

async fn metrics_text(State(agent): State<Agent>) -> Response {
    let sources = match agent.engine.sources().await {
        Ok(sources) => sources,
        Err(error) => {
            let message = format!("the cache does not answer: {error}");
            return (StatusCode::SERVICE_UNAVAILABLE, message).into_response();
        }
    };
    match agent.metrics.encode(&sources) {
        Ok(text) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    source: String,
    /// `landed`, `failed`, or `left` to another process that was syncing the source.
    outcome: String,
}

type HistogramFamily = Family<SourceLabel, Histogram, fn() -> Histogram>;

/// The agent's metrics: counted from its syncs since it started, and read from the cache's
/// sync state at each scrape (shared by every process on the cache).
struct Metrics {
    registry: Registry,
    syncs: Family<SyncLabels, Counter>,
    requests: Family<SourceLabel, Counter>,
    rows_written: Family<SourceLabel, Counter>,
    durations: HistogramFamily,
    last_success: Family<SourceLabel, Gauge>,
    failures_in_a_row: Family<SourceLabel, Gauge>,
    requests_last_hour: Family<SourceLabel, Gauge>,
    quota_remaining: Family<SourceLabel, Gauge>,
    quota_limit: Family<SourceLabel, Gauge>,
}

impl Metrics {
    fn new() -> Self {
        let mut metrics = Self {
            registry: Registry::with_prefix("opsdeck"),
            syncs: Family::default(),
            requests: Family::default(),
            rows_written: Family::default(),
            // 0.1 s to about 27 min.
            durations: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.1, 2.0, 15))
            }),
            last_success: Family::default(),
            failures_in_a_row: Family::default(),
            requests_last_hour: Family::default(),
            quota_remaining: Family::default(),
            quota_limit: Family::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "syncs",
            "Syncs this agent ran, by outcome",
            metrics.syncs.clone(),
        );
        registry.register(
            "sync_requests",
            "Requests this agent's syncs made to the platforms",
            metrics.requests.clone(),
        );
        registry.register(
            "sync_rows_written",
            "Cache rows this agent's syncs wrote",
            metrics.rows_written.clone(),
        );
        registry.register(
            "sync_duration_seconds",
            "How long this agent's syncs took",
            metrics.durations.clone(),
        );
        registry.register(
            "source_last_success_timestamp_seconds",
            "When a sync of the source last landed, by any process on the cache",
            metrics.last_success.clone(),
        );
        registry.register(
            "source_consecutive_failures",
            "Failed syncs of the source since the last one that landed",
            metrics.failures_in_a_row.clone(),
        );
        registry.register(
            "source_requests_last_hour",
            "Requests made to the source's platform in the last hour, by every process on the cache",
            metrics.requests_last_hour.clone(),
        );
        registry.register(
            "source_quota_remaining",
            "Requests the platform's rate limit had left when it last said",
            metrics.quota_remaining.clone(),
        );
        registry.register(
            "source_quota_limit",
            "The platform's rate limit per window, when it says",
            metrics.quota_limit.clone(),
        );
        metrics
    }

    fn observe(&self, report: &SyncReport) {
        let outcome = if report.landed {
            "landed"
        } else if report.left_to.is_some() {
            "left"
        } else {
            "failed"
        };
        self.syncs
            .get_or_create(&SyncLabels {
                source: report.source.clone(),
                outcome: outcome.into(),
            })
            .inc();
        let source = SourceLabel {
            source: report.source.clone(),
        };
        self.requests
            .get_or_create(&source)
            .inc_by(report.requests.max(0) as u64);
        self.rows_written
            .get_or_create(&source)
            .inc_by(report.rows_written.max(0) as u64);
        if report.left_to.is_none() {
            self.durations
                .get_or_create(&source)
                .observe(report.duration_ms as f64 / 1000.0);
        }
    }

    fn encode(&self, sources: &[SourceStatus]) -> std::result::Result<String, std::fmt::Error> {
        for status in sources {
            let source = SourceLabel {
                source: status.name.clone(),
            };
            if let Some(at) = status.last_success {
                self.last_success.get_or_create(&source).set(at.timestamp());
            }
            self.failures_in_a_row
                .get_or_create(&source)
                .set(status.consecutive_failures);
            self.requests_last_hour
                .get_or_create(&source)
                .set(status.requests_last_hour);
            if let Some(quota) = &status.quota {
                self.quota_remaining
                    .get_or_create(&source)
                    .set(quota.remaining);
                if let Some(limit) = quota.limit {
                    self.quota_limit.get_or_create(&source).set(limit);
                }
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
