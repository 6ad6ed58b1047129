//! Retention cleanup: the policy in force per cluster, pins, and deleting backup sets across every
//! component. The plan itself is `backup_domain::retention::plan`, the same function the browser
//! previews with; before deleting anything the server recomputes it on fresh data and refuses when
//! it differs from what the administrator confirmed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backup_domain::retention::{self as planner, CleanupOutcome, CleanupReport, CleanupView};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::cluster::Clusters;
use crate::procedure::service::{RunService, STALE_AFTER_MS};
use crate::store::{CleanupRow, Store, StoreError};

mod cleanup;
mod policy;
mod schedule;

pub use policy::FILE_PINNED_BY;
pub use schedule::SCHEDULE_USER;

#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the plan changed since the preview")]
    PlanChanged(planner::PlanDifference),
    #[error("some selected sets may not be deleted")]
    Refused(Vec<(u64, String)>),
    #[error("no cleanup {0}")]
    NotFound(i64),
    /// A cleanup nobody confirmed was refused; the reason is recorded and audited.
    #[error("cleanup refused: {0}")]
    Unattended(String),
    #[error("{0}")]
    Conflict(String),
    /// The plan carries a warning the request did not acknowledge.
    #[error("{0}; confirm again acknowledging it")]
    Unacknowledged(String),
    #[error("{0}")]
    Maintenance(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct RetentionService {
    store: Store,
    clusters: Arc<Clusters>,
    runs: Arc<RunService>,
    /// How many DELETE calls run at once.
    concurrency: usize,
    live: Mutex<HashMap<i64, watch::Receiver<CleanupReport>>>,
    /// Schedules only fire for times after this process started.
    started_ms: i64,
    /// This process among those sharing the database (the server, a `cleanup` CLI): the owner
    /// of the cleanups it runs (review L4).
    owner: String,
    /// The run service's clock: plans, schedules, leases and audit rows share one "now".
    clock: Clock,
}

/// How often the process running a cleanup says so in the database.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);
/// How often a console looks for cleanups whose process went silent.
const STALE_CHECK_EVERY: Duration = Duration::from_secs(1);

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

impl RetentionService {
    pub fn new(
        store: Store,
        clusters: Arc<Clusters>,
        runs: Arc<RunService>,
        concurrency: usize,
    ) -> Self {
        let clock = runs.clock().clone();
        RetentionService {
            store,
            clusters,
            runs,
            concurrency: concurrency.max(1),
            live: Mutex::new(HashMap::new()),
            started_ms: clock.now_ms(),
            clock,
            owner: format!(
                "pid {} {}",
                std::process::id(),
                &crate::auth::random_token()[..8]
            ),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<i64, watch::Receiver<CleanupReport>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks interrupted the running cleanups whose process has not said it is alive for
    /// [`STALE_AFTER_MS`] (a console or CLI that was killed or hung); a live one, whichever
    /// process runs it, is left alone. Returns how many were interrupted.
    pub async fn interrupt_stale_cleanups(&self) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let ids = self
            .store
            .interrupt_stale_cleanups(self.owner.clone(), now, now - STALE_AFTER_MS, None)
            .await?;
        for id in &ids {
            tracing::warn!(
                id,
                "a cleanup whose process stopped was marked interrupted; retry it from the Retention page"
            );
        }
        Ok(ids.len())
    }

    /// Marks this process's own running cleanups interrupted, as it stops.
    pub async fn interrupt_own_cleanups(&self) -> Result<usize, StoreError> {
        self.store
            .interrupt_own_cleanups(self.owner.clone(), self.clock.now_ms())
            .await
    }

    /// A cleanup as stored, or live while this process runs it.
    pub fn view(&self, row: CleanupRow) -> CleanupView {
        let live = self.live().get(&row.id).map(|rx| rx.borrow().clone());
        let report = live.unwrap_or_else(|| {
            let mut report: CleanupReport =
                serde_json::from_value(row.report.clone()).unwrap_or(CleanupReport {
                    sets: Vec::new(),
                    items: Vec::new(),
                    outcome: CleanupOutcome::Interrupted,
                });
            if row.state == "interrupted" {
                report.outcome = CleanupOutcome::Interrupted;
            }
            report
        });
        CleanupView {
            id: row.id,
            cluster: row.cluster,
            started_by: row.started_by,
            started_ms: row.started_ms,
            ended_ms: row.ended_ms,
            report,
        }
    }

    pub async fn get(&self, id: i64) -> Result<CleanupView, CleanupError> {
        let row = self
            .store
            .cleanup(id)
            .await?
            .ok_or(CleanupError::NotFound(id))?;
        Ok(self.view(row))
    }
}
