//! The fleet view: one row per cluster with its RPO, exporting phase, last run, next scheduled
//! backup and component reachability, for `GET /api/fleet`, `backup-console status` and the
//! metrics. The console reads its catalog and its status poller; the command reads the
//! database's catalog when it is fresh and lists the cluster itself otherwise.

use std::sync::Arc;
use std::time::Duration;

use backup_domain::api::{LatestRestorable, Reachability};
use backup_domain::fleet::{FleetComponent, FleetRow, LastRun, RpoState, RpoStatus, rpo_status};
use backup_domain::status::{ExportingPhase, Probe};

use crate::catalog::{CatalogFigures, CatalogService};
use crate::cluster::Cluster;
use crate::status::StatusService;
use crate::store::Store;

/// How long a fleet row waits for a catalog that was never listed.
const FIGURES_WAIT: Duration = Duration::from_secs(5);

/// The phase as Zeebe spells it.
pub fn phase_text(phase: ExportingPhase) -> &'static str {
    match phase {
        ExportingPhase::Exporting => "EXPORTING",
        ExportingPhase::SoftPaused => "SOFT_PAUSED",
        ExportingPhase::Paused => "PAUSED",
        ExportingPhase::Closed => "CLOSED",
        ExportingPhase::Unknown => "UNKNOWN",
    }
}

pub fn reachability(probe: Probe) -> Reachability {
    match probe {
        Probe::Reachable => Reachability::Up,
        Probe::Degraded => Reachability::Degraded,
        // A probe that timed out cannot tell: never read as up.
        Probe::Unreachable | Probe::Unknown => Reachability::Unreachable,
    }
}

/// The RPO from a catalog's figures (`None`: no catalog could be read).
pub fn rpo_of(rpo_hours: u32, figures: Option<&CatalogFigures>, now_ms: i64) -> RpoStatus {
    match figures {
        Some(f) => rpo_status(
            rpo_hours,
            f.latest_restorable.as_ref(),
            f.latest_partial.as_ref(),
            f.component_errors.first().map(|e| e.component.label()),
            now_ms,
        ),
        None => RpoStatus {
            state: RpoState::Unknown,
            rpo_hours,
            newest_restorable: None,
            newer_partial: None,
            reason: "the backup history has not been listed yet".into(),
        },
    }
}

pub async fn last_run(store: &Store, cluster: &str) -> Option<LastRun> {
    match store.latest_run(cluster.to_string()).await {
        Ok(row) => row.map(|r| LastRun {
            run_id: r.id,
            backup_id: r.backup_id,
            started_ms: r.started_ms,
            ended_ms: r.ended_ms,
            state: r.state.as_str().to_string(),
            trigger: r.trigger,
        }),
        Err(error) => {
            tracing::error!(%cluster, %error, "could not read the last run");
            None
        }
    }
}

/// What a console knows of its clusters, to build fleet rows from.
pub struct FleetSources<'a> {
    pub catalog: &'a Arc<CatalogService>,
    pub status: &'a StatusService,
    pub store: &'a Store,
    pub scheduler: &'a crate::scheduler::Scheduler,
}

impl FleetSources<'_> {
    /// The fleet row of `cluster` at `now_ms`. Nothing here calls the cluster: the catalog and
    /// the status poller did.
    pub async fn row(&self, cluster: &Cluster, now_ms: i64) -> FleetRow {
        let figures = tokio::time::timeout(FIGURES_WAIT, self.catalog.figures(&cluster.name))
            .await
            .ok()
            .and_then(Result::ok);
        let (exporting, components) = match self.status.current(&cluster.name).await {
            Some(Ok(status)) => (
                phase_text(status.phase).to_string(),
                status
                    .components
                    .iter()
                    .map(|c| FleetComponent {
                        component: c.component.label().to_string(),
                        reachability: reachability(c.probe),
                    })
                    .collect(),
            ),
            _ => ("UNKNOWN".to_string(), Vec::new()),
        };
        FleetRow {
            cluster: cluster.name.clone(),
            profile: cluster.profile,
            rpo: rpo_of(cluster.rpo_hours, figures.as_ref(), now_ms),
            exporting,
            last_run: last_run(self.store, &cluster.name).await,
            next_backup_ms: self.scheduler.next_backup(cluster).await,
            components,
            maintenance: crate::maintenance::current(self.store, &cluster.name).await,
            listed_at_ms: figures.as_ref().map(|f| f.refreshed_ms),
        }
    }
}

/// The newest restorable set of a fresh merge, in the catalog's figures' shape (the command's
/// fallback when the catalog is stale).
pub fn figures_of_history(history: &backup_domain::api::HistoryResponse) -> CatalogFigures {
    let latest = |verdict: backup_domain::Verdict| {
        history
            .sets
            .iter()
            .find(|s| s.verdict == verdict)
            .map(|s| LatestRestorable {
                backup_id: s.backup_id,
                started_at_ms: s.started_at_ms,
                age_seconds: None,
            })
    };
    CatalogFigures {
        refreshed_ms: history.generated_at_ms,
        sets: history.sets.len(),
        counts: history.counts,
        latest_restorable: latest(backup_domain::Verdict::Restorable),
        latest_partial: latest(backup_domain::Verdict::RestorablePartial),
        orphaned_artifacts: history
            .sets
            .iter()
            .filter(|s| s.verdict == backup_domain::Verdict::NotRestorable && s.is_orphan())
            .map(|s| backup_domain::retention::artifacts(s).len())
            .sum(),
        component_errors: history.component_errors.clone(),
    }
}
