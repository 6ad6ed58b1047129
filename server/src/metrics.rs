//! Prometheus metrics at `/metrics` on a listener of their own (`[metrics] listen`), in the text
//! exposition format (0.0.4), with the `c8bc_` prefix. What runs and cleanups do is counted as it
//! happens; the rest is read at scrape time from what the console already holds in memory (the
//! catalog's figures, the status poller's latest round). A scrape never calls a cluster.
//!
//! No label carries a backup ID: series are per cluster, component, trigger, step or outcome.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use backup_domain::run::{RunOutcome, RunReport};
use backup_domain::schedule::RunTrigger;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::upstream::timing::UPSTREAM_REQUESTS;
pub use crate::upstream::timing::operation_of;

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// The content type of an answer.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

fn run_buckets() -> Histogram {
    // 10 s to about 11 h: web-app backups take minutes, large Zeebe partitions hours.
    Histogram::new(exponential_buckets(10.0, 2.0, 13))
}

fn pause_buckets() -> Histogram {
    // 0.5 s to about 17 min: the soft-pause window should be seconds to a few minutes.
    Histogram::new(exponential_buckets(0.5, 2.0, 12))
}

/// The console's metrics. Counters live here; gauges are filled at each scrape.
pub struct Metrics {
    registry: Registry,
    runs: Family<Labels, Counter>,
    run_successes: Family<Labels, Counter>,
    run_failures: Family<Labels, Counter>,
    run_duration: Histograms,
    pause_window: Histograms,
    last_success: Family<Labels, FloatGauge>,
    cleanups: Family<Labels, Counter>,
    deleted: Family<Labels, Counter>,
    // Filled at scrape time.
    newest_restorable: Family<Labels, FloatGauge>,
    rpo: Family<Labels, Gauge>,
    sets: Family<Labels, Gauge>,
    orphaned: Family<Labels, Gauge>,
    catalog_refreshed: Family<Labels, FloatGauge>,
    catalog_listing_failed: Family<Labels, Gauge>,
    exporting_paused: Family<Labels, Gauge>,
    exporting_paused_since: Family<Labels, FloatGauge>,
    component_up: Family<Labels, Gauge>,
    maintenance: Family<Labels, Gauge>,
    last_run_failed: Family<Labels, Gauge>,
    last_cleanup_failed: Family<Labels, Gauge>,
    /// When each cluster's exporting was first seen not running, until it runs again.
    paused_since: Mutex<HashMap<String, i64>>,
    /// One scrape fills the gauges at a time.
    scrape: tokio::sync::Mutex<()>,
}

fn cluster(name: &str) -> Labels {
    vec![("cluster", name.to_string())]
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("c8bc");
        let m = Metrics {
            runs: Family::default(),
            run_successes: Family::default(),
            run_failures: Family::default(),
            run_duration: Family::new_with_constructor(run_buckets as fn() -> Histogram),
            pause_window: Family::new_with_constructor(pause_buckets as fn() -> Histogram),
            last_success: Family::default(),
            cleanups: Family::default(),
            deleted: Family::default(),
            newest_restorable: Family::default(),
            rpo: Family::default(),
            sets: Family::default(),
            orphaned: Family::default(),
            catalog_refreshed: Family::default(),
            catalog_listing_failed: Family::default(),
            exporting_paused: Family::default(),
            exporting_paused_since: Family::default(),
            component_up: Family::default(),
            maintenance: Family::default(),
            last_run_failed: Family::default(),
            last_cleanup_failed: Family::default(),
            paused_since: Mutex::new(HashMap::new()),
            scrape: tokio::sync::Mutex::new(()),
            registry: Registry::default(),
        };
        registry.register(
            "build",
            "The console's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            "backup_runs",
            "Backup runs started, by cluster and trigger",
            m.runs.clone(),
        );
        registry.register(
            "backup_run_successes",
            "Backup runs that completed",
            m.run_successes.clone(),
        );
        registry.register(
            "backup_run_failures",
            "Backup runs that did not complete, by the step they ended at",
            m.run_failures.clone(),
        );
        registry.register(
            "backup_run_duration_seconds",
            "How long backup runs took, start to end",
            m.run_duration.clone(),
        );
        registry.register(
            "exporting_soft_pause_window_seconds",
            "How long a run kept exporting soft-paused",
            m.pause_window.clone(),
        );
        registry.register(
            "last_successful_backup_timestamp_seconds",
            "When the last backup run that completed ended (any process on the database)",
            m.last_success.clone(),
        );
        registry.register(
            "cleanup_runs",
            "Retention cleanups ended, by outcome",
            m.cleanups.clone(),
        );
        registry.register(
            "cleanup_deleted_artifacts",
            "Artifacts a cleanup deleted (or found already gone), by component",
            m.deleted.clone(),
        );
        registry.register(
            "newest_restorable_backup_timestamp_seconds",
            "When the newest fully restorable backup set started",
            m.newest_restorable.clone(),
        );
        registry.register(
            "rpo_seconds",
            "The recovery point objective: how old the newest restorable set may be",
            m.rpo.clone(),
        );
        registry.register(
            "backup_sets",
            "Backup sets in the catalog, by verdict",
            m.sets.clone(),
        );
        registry.register(
            "orphaned_artifacts",
            "Artifacts of sets that some component holds and another does not",
            m.orphaned.clone(),
        );
        registry.register(
            "catalog_refresh_timestamp_seconds",
            "When the backup catalog was last listed",
            m.catalog_refreshed.clone(),
        );
        registry.register(
            "catalog_listing_failed",
            "1 while a component's last listing failed (its figures are unknown)",
            m.catalog_listing_failed.clone(),
        );
        registry.register(
            "exporting_paused",
            "1 while any partition's exporter is not exporting, by the status poller",
            m.exporting_paused.clone(),
        );
        registry.register(
            "exporting_paused_since_timestamp_seconds",
            "When this console first saw exporting not running, while it is not",
            m.exporting_paused_since.clone(),
        );
        registry.register(
            "component_up",
            "1 when the component answered the last status round as a healthy one",
            m.component_up.clone(),
        );
        registry.register(
            "maintenance",
            "1 while the cluster is in maintenance mode",
            m.maintenance.clone(),
        );
        registry.register(
            "last_run_failed",
            "1 while the cluster's latest ended backup run did not complete (an alert's condition \
             that clears with the next success)",
            m.last_run_failed.clone(),
        );
        registry.register(
            "last_cleanup_failed",
            "1 while the cluster's latest ended cleanup left artifacts or was interrupted",
            m.last_cleanup_failed.clone(),
        );
        registry.register(
            "upstream_request_duration_seconds",
            "Requests to the clusters' management APIs, by component and operation",
            UPSTREAM_REQUESTS.clone(),
        );
        Metrics { registry, ..m }
    }

    /// A run started.
    pub fn run_started(&self, cluster_name: &str, trigger: &RunTrigger) {
        let mut labels = cluster(cluster_name);
        labels.push(("trigger", trigger.to_string()));
        self.runs.get_or_create(&labels).inc();
    }

    /// A run ended with `report` after `took_ms`.
    pub fn run_ended(&self, cluster_name: &str, report: &RunReport, took_ms: i64) {
        let labels = cluster(cluster_name);
        self.run_duration
            .get_or_create(&labels)
            .observe(seconds(took_ms.max(0)));
        if let (Some(paused), Some(resumed)) = (report.paused_ms, report.resumed_ms) {
            self.pause_window
                .get_or_create(&labels)
                .observe(seconds((resumed - paused).max(0)));
        }
        let step = match &report.outcome {
            RunOutcome::Completed => {
                self.run_successes.get_or_create(&labels).inc();
                return;
            }
            RunOutcome::Failed { step, .. } | RunOutcome::Cancelled { step, .. } => step.clone(),
            RunOutcome::ExportingStillPaused { .. } => "resume_exporting".into(),
            RunOutcome::Interrupted { .. } => "interrupted".into(),
            RunOutcome::Running => return,
        };
        let mut labels = labels;
        labels.push(("step", step));
        self.run_failures.get_or_create(&labels).inc();
    }

    /// A cleanup ended.
    pub fn cleanup_ended(
        &self,
        cluster_name: &str,
        report: &backup_domain::retention::CleanupReport,
    ) {
        use backup_domain::retention::ArtifactState;
        let mut labels = cluster(cluster_name);
        labels.push(("outcome", report.outcome.state_name().to_string()));
        self.cleanups.get_or_create(&labels).inc();
        for item in &report.items {
            if matches!(
                item.state,
                ArtifactState::Deleted | ArtifactState::AlreadyGone
            ) {
                let mut labels = cluster(cluster_name);
                labels.push(("component", item.artifact.component.label().to_string()));
                self.deleted.get_or_create(&labels).inc();
            }
        }
    }

    /// The text exposition of every metric, the gauges set from `clusters` (read by the caller
    /// from what the console holds).
    pub async fn scrape(&self, clusters: &[ClusterFigures]) -> String {
        let _one = self.scrape.lock().await;
        self.fill(clusters);
        let mut out = String::new();
        if let Err(error) = prometheus_text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "could not encode the metrics");
        }
        out
    }

    fn fill(&self, clusters: &[ClusterFigures]) {
        for family in [
            &self.rpo,
            &self.sets,
            &self.orphaned,
            &self.catalog_listing_failed,
            &self.exporting_paused,
            &self.component_up,
            &self.maintenance,
            &self.last_run_failed,
            &self.last_cleanup_failed,
        ] {
            family.clear();
        }
        self.newest_restorable.clear();
        self.last_success.clear();
        self.catalog_refreshed.clear();
        self.exporting_paused_since.clear();
        for c in clusters {
            let labels = cluster(&c.name);
            self.rpo
                .get_or_create(&labels)
                .set(i64::from(c.rpo_hours) * 3600);
            if let Some(f) = &c.catalog {
                self.catalog_refreshed
                    .get_or_create(&labels)
                    .set(seconds(f.refreshed_ms));
                // Unknown is not zero: while a listing fails, the set figures are left out.
                self.catalog_listing_failed
                    .get_or_create(&labels)
                    .set(i64::from(!f.component_errors.is_empty()));
                if f.component_errors.is_empty() {
                    if let Some(at) = f.latest_restorable.and_then(|l| l.started_at_ms) {
                        self.newest_restorable
                            .get_or_create(&labels)
                            .set(seconds(at));
                    }
                    for (verdict, count) in [
                        ("restorable", f.counts.restorable),
                        ("restorable_partial", f.counts.restorable_partial),
                        ("in_progress", f.counts.in_progress),
                        ("not_restorable", f.counts.not_restorable),
                        ("unknown", f.counts.unknown),
                    ] {
                        let mut l = labels.clone();
                        l.push(("verdict", verdict.to_string()));
                        self.sets.get_or_create(&l).set(count as i64);
                    }
                    self.orphaned
                        .get_or_create(&labels)
                        .set(f.orphaned_artifacts as i64);
                }
            }
            if let Some(status) = &c.status {
                for component in &status.components {
                    let mut l = labels.clone();
                    l.push(("component", component.component.label().to_string()));
                    self.component_up.get_or_create(&l).set(i64::from(
                        component.probe == backup_domain::status::Probe::Reachable,
                    ));
                }
                use backup_domain::status::ExportingPhase;
                let mut since = self.paused_since.lock().unwrap_or_else(|p| p.into_inner());
                match status.phase {
                    // Not known: neither paused nor running; the series is left out.
                    ExportingPhase::Unknown => {}
                    ExportingPhase::Exporting => {
                        since.remove(&c.name);
                        self.exporting_paused.get_or_create(&labels).set(0);
                    }
                    _ => {
                        let at = *since.entry(c.name.clone()).or_insert(status.taken_at_ms);
                        self.exporting_paused.get_or_create(&labels).set(1);
                        self.exporting_paused_since
                            .get_or_create(&labels)
                            .set(seconds(at));
                    }
                }
            }
            if let Some(ended) = c.last_success_ms {
                self.last_success.get_or_create(&labels).set(seconds(ended));
            }
            self.maintenance
                .get_or_create(&labels)
                .set(i64::from(c.maintenance));
            if let Some(failed) = c.last_run_failed {
                self.last_run_failed
                    .get_or_create(&labels)
                    .set(i64::from(failed));
            }
            if let Some(failed) = c.last_cleanup_failed {
                self.last_cleanup_failed
                    .get_or_create(&labels)
                    .set(i64::from(failed));
            }
        }
    }
}

/// What a scrape shows of one cluster, read from the console's memory and database.
pub struct ClusterFigures {
    pub name: String,
    pub rpo_hours: u32,
    /// The stored catalog's figures; `None` before its first listing.
    pub catalog: Option<crate::catalog::CatalogFigures>,
    /// The status poller's latest round, if it has taken one.
    pub status: Option<backup_domain::status::ClusterStatus>,
    /// When the last run that completed ended, by any process on the database.
    pub last_success_ms: Option<i64>,
    pub maintenance: bool,
    /// Whether the latest ended run did not complete; `None` before any run ended.
    pub last_run_failed: Option<bool>,
    /// Whether the latest ended cleanup was partial or interrupted; `None` before any.
    pub last_cleanup_failed: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_never_carry_an_id() {
        assert_eq!(
            operation_of("/actuator/backupRuntime/1733000000"),
            "/actuator/backupRuntime/{id}"
        );
        assert_eq!(
            operation_of(
                "/_snapshot/camunda/camunda_zeebe_records_backup_17?wait_for_completion=true"
            ),
            "/_snapshot/camunda/{id}"
        );
        assert_eq!(operation_of("/actuator/backups"), "/actuator/backups");
    }

    #[test]
    fn a_run_counts_by_trigger_and_a_failure_by_step() {
        let metrics = Metrics::new();
        metrics.run_started("prod", &RunTrigger::Schedule);
        let report = RunReport {
            backup_id: 1,
            profile: backup_domain::api::VersionProfile::V88,
            steps: Vec::new(),
            skipped: Vec::new(),
            outcome: RunOutcome::Failed {
                step: "records_snapshot".into(),
                reason: "timeout".into(),
            },
            paused_ms: Some(1_000),
            resumed_ms: Some(4_000),
            transcript: Vec::new(),
        };
        metrics.run_ended("prod", &report, 60_000);
        let mut text = String::new();
        prometheus_text::encode(&mut text, &metrics.registry).unwrap();
        assert!(
            text.contains(r#"c8bc_backup_runs_total{cluster="prod",trigger="schedule"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"c8bc_backup_run_failures_total{cluster="prod",step="records_snapshot"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"c8bc_exporting_soft_pause_window_seconds_sum{cluster="prod"} 3"#),
            "{text}"
        );
        assert!(text.contains("c8bc_build_info{version="), "{text}");
    }
}
