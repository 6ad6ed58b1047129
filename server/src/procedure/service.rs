//! Backup runs as the API sees them: one at a time per cluster, started on the server and
//! independent of any browser, every progress change persisted, and recovered at start-up.

use crate::clock::Clock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::procedure::{self, ProcedurePlan};
use backup_domain::run::{RunState, StepState};
use tokio::sync::watch;

use super::runner::{RunOutcome, RunReport, RunSettings};
use crate::audit::{self, AuditEvent};
use crate::store::{Lease, Store};

pub(super) enum Slot {
    /// Reserved while the start is validated, so two simultaneous starts cannot both pass.
    Starting,
    Running {
        run_id: i64,
        progress: watch::Receiver<RunReport>,
        cancel: watch::Sender<Option<String>>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("a backup run is already in progress on this cluster{}", run_id.map(|id| format!(" (run {id})")).unwrap_or_default())]
    InProgress { run_id: Option<i64> },
    #[error("preflight failed: {0}")]
    Preflight(String),
    #[error("backup ID refused: {0}")]
    BadId(String),
    #[error("{0}")]
    Maintenance(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("run {0} is not running")]
    NotRunning(i64),
}

/// A run holding a cluster: while it does, only it pauses, resumes or rebalances (review M1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    /// `None` while the run is still being started.
    pub run_id: Option<i64>,
    /// The run has reached its own resume (its resume step, or it is ending early and resuming).
    pub resuming: bool,
}

/// Whether a run's report shows it resuming exporting (or done with the steps that need it paused).
pub(super) fn resuming(report: &RunReport) -> bool {
    report.outcome.is_finished()
        || report.steps.iter().any(|s| {
            s.state == StepState::Failed
                || (s.step == procedure::ProcedureStep::ResumeExporting
                    && s.state != StepState::Pending)
        })
}

pub struct Started {
    pub run_id: i64,
    pub backup_id: u64,
    pub plan: ProcedurePlan,
}

pub struct RunService {
    pub(super) slots: Mutex<HashMap<String, Slot>>,
    pub(super) settings: RunSettings,
    pub(super) store: Store,
    /// This process among those sharing the database (the server, a `backup` CLI run).
    pub(super) owner: String,
    /// The tasks of this process's runs and recoveries, so that a shutdown can wait for them.
    pub(super) tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Set once the process is stopping: no new runs, event streams end.
    pub(super) stopping: watch::Sender<bool>,
    /// Now, for the runs' times, their leases and the proposed backup ID.
    pub(super) clock: Clock,
    /// The console's metrics: runs and cleanups are counted as they end.
    pub(super) metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// How often the process running a run says so in the database.
pub(super) const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// A running run whose process has been silent this long is recovered by another process. Well
/// above SQLite's busy_timeout (5 s): a heartbeat held up by a locked database must not look like
/// a dead process (review M3).
pub const STALE_AFTER_MS: i64 = 10_000;
/// Who cancels the runs when the console stops (SIGTERM, SIGINT).
pub(super) const SHUTDOWN_BY: &str = "the console's shutdown";
/// Time beyond the resume deadline that a shutdown waits for runs to store their end.
pub(super) const SHUTDOWN_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) fn to_json(report: &RunReport) -> String {
    serde_json::to_string(report).unwrap_or_else(|_| "{}".into())
}

impl RunService {
    pub fn new(store: Store, settings: RunSettings) -> Self {
        RunService {
            slots: Mutex::new(HashMap::new()),
            settings,
            store,
            owner: format!(
                "pid {} {}",
                std::process::id(),
                &crate::auth::random_token()[..8]
            ),
            tasks: Mutex::new(Vec::new()),
            stopping: watch::channel(false).0,
            clock: Clock::System,
            metrics: std::sync::Arc::new(crate::metrics::Metrics::new()),
        }
    }

    /// The metrics this service and those built beside it count into.
    pub fn metrics(&self) -> &std::sync::Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// The same service on another clock (a test's).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock of this service; the services built beside it share it.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(super) fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<tokio::task::JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn keep_task(&self, task: tokio::task::JoinHandle<()>) {
        let mut tasks = self.tasks();
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once the process is stopping; long-lived answers (event streams) end on it, so
    /// that they do not hold the HTTP server's graceful shutdown open.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + use<> {
        let mut rx = self.stopping.subscribe();
        async move {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }

    /// The console is stopping (SIGTERM, SIGINT): no new run starts, every local run is cancelled
    /// at once (the request or wait in flight is dropped), and this waits until each has resumed
    /// exporting and stored its end, at most the resume deadline plus a margin. Returns how many
    /// tasks were still unfinished when it gave up (0 normally).
    pub async fn shutdown(&self) -> usize {
        self.stopping.send_replace(true);
        let deadline =
            tokio::time::Instant::now() + self.settings.resume.deadline + SHUTDOWN_MARGIN;
        loop {
            // A start being validated may still become a run: cancel again on every round.
            let starting = {
                let slots = self.slots();
                for slot in slots.values() {
                    if let Slot::Running { cancel, .. } = slot {
                        cancel.send_if_modified(|by| {
                            let unset = by.is_none();
                            if unset {
                                *by = Some(SHUTDOWN_BY.to_string());
                            }
                            unset
                        });
                    }
                }
                slots.values().any(|s| matches!(s, Slot::Starting))
            };
            let tasks = std::mem::take(&mut *self.tasks());
            if tasks.is_empty() && !starting {
                return 0;
            }
            let mut left = 0;
            for task in tasks {
                if tokio::time::timeout_at(deadline, task).await.is_err() {
                    left += 1;
                }
            }
            if left > 0 || tokio::time::Instant::now() >= deadline {
                return left;
            }
            if starting {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }

    pub(super) fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live progress of a run this process is running, to follow it change by change.
    pub fn subscribe(&self, run_id: i64) -> Option<watch::Receiver<RunReport>> {
        self.slots().values().find_map(|slot| match slot {
            Slot::Running {
                run_id: id,
                progress,
                ..
            } if *id == run_id => Some(progress.clone()),
            _ => None,
        })
    }

    /// The live report of a run this process is running.
    pub fn live(&self, run_id: i64) -> Option<RunReport> {
        self.subscribe(run_id).map(|rx| rx.borrow().clone())
    }

    pub(super) fn running_on(&self, cluster: &str) -> Option<Option<i64>> {
        match self.slots().get(cluster) {
            Some(Slot::Running { run_id, .. }) => Some(Some(*run_id)),
            Some(Slot::Starting) => Some(None),
            None => None,
        }
    }

    /// The run holding `cluster` now, in this process or another sharing the database, if any.
    pub async fn holding(&self, cluster: &str) -> Option<Holding> {
        let local = self.slots().get(cluster).map(|slot| match slot {
            Slot::Running {
                run_id,
                progress,
                cancel,
            } => Holding {
                run_id: Some(*run_id),
                resuming: cancel.borrow().is_some() || resuming(&progress.borrow()),
            },
            Slot::Starting => Holding {
                run_id: None,
                resuming: false,
            },
        });
        if local.is_some() {
            return local;
        }
        // A database that cannot answer is not taken as "free": the caller refuses.
        let id = match self.store.running_run(cluster.to_string()).await {
            Ok(id) => id?,
            Err(error) => {
                tracing::error!(%error, "could not check for a run holding the cluster");
                return Some(Holding {
                    run_id: None,
                    resuming: false,
                });
            }
        };
        let resuming = match self.store.run(id).await {
            Ok(Some(row)) => serde_json::from_value::<RunReport>(row.report)
                .map(|r| resuming(&r))
                .unwrap_or(false),
            _ => false,
        };
        Some(Holding {
            run_id: Some(id),
            resuming,
        })
    }

    /// The backup ID a run on `cluster` is taking now, in this process or another.
    pub async fn running_backup(&self, cluster: &str) -> Option<u64> {
        let local = self.slots().get(cluster).and_then(|slot| match slot {
            Slot::Running { progress, .. } => Some(progress.borrow().backup_id),
            Slot::Starting => None,
        });
        if local.is_some() {
            return local;
        }
        let id = self.store.running_run(cluster.to_string()).await.ok()??;
        self.store.run(id).await.ok()?.map(|row| row.backup_id)
    }

    /// Asks a run to stop after the request in flight; it resumes exporting if it paused it.
    pub async fn cancel(&self, run_id: i64, user: &str, client: &str) -> Result<(), CancelError> {
        let found = self.slots().iter().find_map(|(cluster, slot)| match slot {
            Slot::Running {
                run_id: id,
                cancel,
                progress,
            } if *id == run_id && !progress.borrow().outcome.is_finished() => {
                cancel.send_replace(Some(user.to_string()));
                Some((cluster.clone(), progress.borrow().backup_id))
            }
            _ => None,
        });
        let (cluster, backup_id) = match found {
            Some(found) => found,
            // Run by another process sharing the database: its heartbeat picks the request up.
            None => {
                let row = self
                    .store
                    .run(run_id)
                    .await
                    .ok()
                    .flatten()
                    .filter(|r| r.state == RunState::Running)
                    .ok_or(CancelError::NotRunning(run_id))?;
                match self.store.request_cancel(run_id, user.to_string()).await {
                    Ok(true) => (row.cluster, row.backup_id),
                    _ => return Err(CancelError::NotRunning(run_id)),
                }
            }
        };
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(
                user,
                client,
                AuditAction::BackupCancelled,
                AuditOutcome::Success,
            )
            .cluster(cluster)
            .target(backup_id.to_string()),
        )
        .await;
        Ok(())
    }
}

/// A run cancelled by the console's own shutdown is recorded as interrupted by the stop, not as
/// cancelled by a person.
pub(super) fn stopped_by_shutdown(outcome: RunOutcome, pause_reached: bool) -> RunOutcome {
    match outcome {
        RunOutcome::Cancelled { step, by } if by == SHUTDOWN_BY => RunOutcome::Interrupted {
            reason: if pause_reached {
                format!(
                    "the console was stopped (SIGTERM or SIGINT) during \"{step}\"; exporting was resumed before it exited"
                )
            } else {
                format!(
                    "the console was stopped (SIGTERM or SIGINT) during \"{step}\"; exporting had not been paused"
                )
            },
        },
        other => other,
    }
}

/// Says the run's process is alive, until `stop`; passes on a cancel asked through another
/// process sharing the database, and raises `lost` if another process took the run over.
pub(super) async fn heartbeat(
    store: Store,
    clock: Clock,
    run_id: i64,
    owner: String,
    cancel: Option<watch::Sender<Option<String>>>,
    lost: Option<Arc<watch::Sender<bool>>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        match store.heartbeat(run_id, owner.clone(), clock.now_ms()).await {
            Ok(Lease::Held {
                cancel_by: Some(by),
            }) => {
                if let Some(cancel) = &cancel
                    && cancel.borrow().is_none()
                {
                    cancel.send_replace(Some(by));
                }
            }
            Ok(Lease::Held { cancel_by: None }) => {}
            Ok(Lease::Lost) => {
                tracing::error!(run_id, "this process no longer holds the run's lease");
                if let Some(lost) = &lost {
                    lost.send_replace(true);
                }
                return;
            }
            Err(error) => tracing::error!(%error, run_id, "could not record the run's heartbeat"),
        }
        tokio::select! {
            () = tokio::time::sleep(HEARTBEAT_EVERY) => {}
            _ = &mut stop => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::recovery::report_from_row;
    use crate::store::RunRow;
    use backup_domain::api::VersionProfile;

    fn row(state: RunState) -> RunRow {
        RunRow {
            id: 1,
            cluster: "c".into(),
            backup_id: 5,
            started_by: "u".into(),
            started_ms: 0,
            ended_ms: Some(1),
            state,
            paused: false,
            report: serde_json::json!({}),
            trigger: backup_domain::schedule::RunTrigger::Manual,
        }
    }

    #[test]
    fn a_stored_cancelled_run_without_an_outcome_reads_as_cancelled() {
        let report = report_from_row(&row(RunState::Cancelled), VersionProfile::V88);
        assert_eq!(report.outcome.state(), RunState::Cancelled, "{report:?}");
    }

    #[test]
    fn every_stored_state_without_a_report_reads_back_as_itself() {
        for state in RunState::KNOWN {
            let report = report_from_row(&row(state.clone()), VersionProfile::V87);
            assert_eq!(&report.outcome.state(), state, "{report:?}");
        }
        let later = report_from_row(&row(RunState::from("paused_forever")), VersionProfile::V87);
        assert_eq!(later.outcome.state(), RunState::Failed);
    }

    #[test]
    fn a_cancel_by_the_shutdown_reads_as_interrupted_by_the_stop() {
        let outcome = stopped_by_shutdown(
            RunOutcome::Cancelled {
                step: "Take the Zeebe backup".into(),
                by: SHUTDOWN_BY.into(),
            },
            true,
        );
        match outcome {
            RunOutcome::Interrupted { reason } => {
                assert!(reason.contains("console was stopped"), "{reason}");
                assert!(reason.contains("resumed"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let by_user = RunOutcome::Cancelled {
            step: "x".into(),
            by: "alice".into(),
        };
        assert_eq!(stopped_by_shutdown(by_user.clone(), true), by_user);
    }

    /// The service's times are its clock's: a test sets "now" instead of waiting for it.
    #[tokio::test]
    async fn the_audit_rows_of_runs_are_stamped_by_the_service_clock() {
        let dir = std::env::temp_dir().join(format!("bc-clock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("console.db")).unwrap();
        let clock = Clock::manual(1_700_000_000_000);
        let service =
            RunService::new(store.clone(), RunSettings::default()).with_clock(clock.clone());
        clock.advance(std::time::Duration::from_secs(60));
        let event = crate::audit::AuditEvent::new(
            "alice",
            "127.0.0.1",
            backup_domain::audit::AuditAction::BackupStarted,
            backup_domain::audit::AuditOutcome::Success,
        )
        .cluster("c");
        crate::audit::record(&store, service.clock(), event).await;
        let rows = store
            .audit(crate::store::AuditFilter {
                user: None,
                action: None,
                cluster: None,
                from_ms: None,
                to_ms: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].at_ms, 1_700_000_060_000);
        assert_eq!(service.clock().now_ms(), 1_700_000_060_000);
    }
}
