//! Prometheus metrics: one registry per process (no global), filled by the HTTP middleware
//! and the job runner, rendered by `GET /metrics` in the text exposition format.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of HTTP request metrics. `route` is the matched route template (e.g.
/// `/api/v1/creators/{handle}`), never the raw path, so cardinality stays bounded.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// HTTP method.
    pub method: String,
    /// Matched route template, or `unmatched`.
    pub route: String,
    /// Response status code.
    pub status: u16,
}

/// Labels of job outcome counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// The job kind.
    pub kind: String,
    /// `succeeded`, `retried`, `failed` (attempts exhausted or aborted) or `released`.
    pub outcome: &'static str,
}

/// Labels of job gauges by state.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobStateLabels {
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
}

/// Labels naming a job kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobKindLabels {
    /// The job kind.
    pub kind: String,
}

/// Labels of media processing outcomes.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MediaLabels {
    /// `image` or `video`.
    pub kind: &'static str,
    /// `ready`, `rejected`, `infected` or `failed`.
    pub outcome: &'static str,
}

fn http_histogram() -> Histogram {
    // 1 ms .. ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn job_histogram() -> Histogram {
    // 10 ms .. ~1.5 h
    Histogram::new(exponential_buckets(0.01, 2.5, 15))
}

/// Every metric this process exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by method, route and status.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Request latency by method, route and status.
    pub http_duration: Family<HttpLabels, Histogram, fn() -> Histogram>,
    /// Connections in the database pool (idle + in use).
    pub db_pool_connections: Gauge,
    /// Idle connections in the database pool.
    pub db_pool_idle: Gauge,
    /// The pool's maximum size.
    pub db_pool_max: Gauge,
    /// Job executions by kind and outcome.
    pub job_outcomes: Family<JobLabels, Counter>,
    /// Job execution time by kind.
    pub job_duration: Family<JobKindLabels, Histogram, fn() -> Histogram>,
    /// Jobs this process is running now.
    pub jobs_in_flight: Gauge,
    /// Jobs in the queue table by state (read from the database at scrape time).
    pub jobs_by_state: Family<JobStateLabels, Gauge>,
    /// Age in seconds of the oldest job that is due but not yet claimed.
    pub jobs_oldest_due_seconds: Gauge<f64, AtomicU64>,
    /// Uploads processed, by kind and outcome.
    pub media_processed: Family<MediaLabels, Counter>,
    /// Open reports past their due time (set by the worker's hourly check; alarm on > 0).
    pub reports_overdue: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("zinovia");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration =
            Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                http_histogram as fn() -> Histogram,
            );
        let db_pool_connections = Gauge::default();
        let db_pool_idle = Gauge::default();
        let db_pool_max = Gauge::default();
        let job_outcomes = Family::<JobLabels, Counter>::default();
        let job_duration =
            Family::<JobKindLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                job_histogram as fn() -> Histogram,
            );
        let jobs_in_flight = Gauge::default();
        let jobs_by_state = Family::<JobStateLabels, Gauge>::default();
        let jobs_oldest_due_seconds = Gauge::<f64, AtomicU64>::default();
        let media_processed = Family::<MediaLabels, Counter>::default();
        let reports_overdue = Gauge::default();

        registry.register(
            "http_requests",
            "HTTP requests handled",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_duration.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections",
            db_pool_connections.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            db_pool_idle.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Database pool size limit",
            db_pool_max.clone(),
        );
        registry.register(
            "job_runs",
            "Job executions by outcome",
            job_outcomes.clone(),
        );
        registry.register(
            "job_duration_seconds",
            "Job execution time",
            job_duration.clone(),
        );
        registry.register(
            "jobs_in_flight",
            "Jobs running in this process",
            jobs_in_flight.clone(),
        );
        registry.register("jobs", "Jobs in the queue by state", jobs_by_state.clone());
        registry.register(
            "jobs_oldest_due_age_seconds",
            "Age of the oldest due, unclaimed job",
            jobs_oldest_due_seconds.clone(),
        );
        registry.register(
            "media_processed",
            "Uploads processed by kind and outcome",
            media_processed.clone(),
        );
        registry.register(
            "reports_overdue",
            "Open reports past their due time (hourly check)",
            reports_overdue.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            db_pool_connections,
            db_pool_idle,
            db_pool_max,
            job_outcomes,
            job_duration,
            jobs_in_flight,
            jobs_by_state,
            jobs_oldest_due_seconds,
            media_processed,
            reports_overdue,
        }
    }

    /// Records one HTTP request.
    pub fn observe_request(&self, labels: HttpLabels, seconds: f64) {
        self.http_duration.get_or_create(&labels).observe(seconds);
        self.http_requests.get_or_create(&labels).inc();
    }

    /// Records one job execution.
    pub fn observe_job(&self, kind: &str, outcome: &'static str, seconds: f64) {
        self.job_outcomes
            .get_or_create(&JobLabels {
                kind: kind.to_owned(),
                outcome,
            })
            .inc();
        self.job_duration
            .get_or_create(&JobKindLabels {
                kind: kind.to_owned(),
            })
            .observe(seconds);
    }

    /// The exposition text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
