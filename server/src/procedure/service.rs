//! Backup runs as the API sees them: one at a time per cluster, started on the server and
//! independent of any browser, every progress change persisted, and recovered at start-up.

use crate::clock::Clock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use backup_domain::api::{HistoryResponse, VersionProfile};
use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::id::BackupId;
use backup_domain::procedure::{self, ProcedurePlan};
use backup_domain::run::{
    CheckStatus, Preflight, PreflightCheck, PreflightCheckId, RunState, StepState, component_check,
    exporting_check, latest_id_from_conflict, no_other_run_check,
};
use tokio::sync::watch;

use super::resume::{Backoff, resume_until_confirmed};
use super::runner::{self, CancelSignal, RunOutcome, RunReport, RunSettings};
use crate::audit::{self, AuditEvent};
use crate::cluster::{Cluster, Clusters};
use crate::store::{Lease, RunRow, Store};
use crate::upstream::upstream_message;

enum Slot {
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
fn resuming(report: &RunReport) -> bool {
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
    slots: Mutex<HashMap<String, Slot>>,
    settings: RunSettings,
    store: Store,
    /// This process among those sharing the database (the server, a `backup` CLI run).
    owner: String,
    /// The tasks of this process's runs and recoveries, so that a shutdown can wait for them.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Set once the process is stopping: no new runs, event streams end.
    stopping: watch::Sender<bool>,
    /// Now, for the runs' times, their leases and the proposed backup ID.
    clock: Clock,
}

/// How often the process running a run says so in the database.
const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// A running run whose process has been silent this long is recovered by another process. Well
/// above SQLite's busy_timeout (5 s): a heartbeat held up by a locked database must not look like
/// a dead process (review M3).
pub const STALE_AFTER_MS: i64 = 10_000;
/// Who cancels the runs when the console stops (SIGTERM, SIGINT).
const SHUTDOWN_BY: &str = "the console's shutdown";
/// Time beyond the resume deadline that a shutdown waits for runs to store their end.
const SHUTDOWN_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

fn to_json(report: &RunReport) -> String {
    serde_json::to_string(report).unwrap_or_else(|_| "{}".into())
}

fn zeebe_latest_key(cluster: &str) -> String {
    format!("zeebe_latest_backup_id:{cluster}")
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
        }
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

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<tokio::task::JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keep_task(&self, task: tokio::task::JoinHandle<()>) {
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

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
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

    fn running_on(&self, cluster: &str) -> Option<Option<i64>> {
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

    /// The highest ID Zeebe is known to have used: listed by a component, spent by a run of this
    /// console, or revealed by a 409. Deleted backups are not listed (contract §2, §3.8).
    async fn highest_known(&self, cluster: &Cluster, listed: Option<u64>) -> Option<u64> {
        let ran = self
            .store
            .highest_run_backup_id(cluster.name.clone())
            .await
            .ok()
            .flatten();
        let revealed = self
            .store
            .get_setting(zeebe_latest_key(&cluster.name))
            .await
            .ok()
            .flatten()
            .and_then(|v| v.parse::<u64>().ok());
        [listed, ran, revealed].into_iter().flatten().max()
    }

    /// The wizard's first step: every check, the proposed ID and the plan, without side effects.
    pub async fn preflight(&self, cluster: &Cluster) -> (Preflight, HistoryResponse) {
        let history = crate::history::history(cluster).await;
        let mut checks: Vec<PreflightCheck> = history
            .components
            .iter()
            .map(|c| {
                let error = history
                    .component_errors
                    .iter()
                    .find(|e| e.component == *c)
                    .map(|e| e.message.as_str());
                component_check(*c, error)
            })
            .collect();
        checks.push(exporting_check(&history.exporting));
        let running_run = match self.running_on(&cluster.name) {
            Some(local) => Some(local),
            // Another process sharing the database (a `backup` CLI run) may hold the cluster.
            None => self
                .store
                .running_run(cluster.name.clone())
                .await
                .ok()
                .flatten()
                .map(Some),
        };
        checks.push(no_other_run_check(running_run));
        let highest = self.highest_known(cluster, history.highest_backup_id).await;
        let plan = procedure::plan(cluster.profile, &cluster.components());
        let preflight = Preflight {
            checks,
            proposed_backup_id: procedure::propose_backup_id(
                (self.clock.now_ms() / 1000) as u64,
                highest,
            ),
            highest_known_id: highest,
            steps: plan.steps.iter().map(|s| s.describe()).collect(),
            skipped: plan.skipped,
            running_run: running_run.flatten(),
        };
        (preflight, history)
    }

    /// Validates and starts a backup of `cluster`. The run goes on whatever happens to the caller.
    pub async fn start(
        self: &Arc<Self>,
        cluster: &Cluster,
        user: &str,
        client: &str,
        requested: Option<BackupId>,
    ) -> Result<Started, StartError> {
        if self.is_stopping() {
            return Err(StartError::Preflight(
                "the console is stopping; start the backup once it is back".into(),
            ));
        }
        {
            let mut slots = self.slots();
            match slots.get(&cluster.name) {
                Some(Slot::Running { run_id, .. }) => {
                    return Err(StartError::InProgress {
                        run_id: Some(*run_id),
                    });
                }
                Some(Slot::Starting) => return Err(StartError::InProgress { run_id: None }),
                None => {
                    slots.insert(cluster.name.clone(), Slot::Starting);
                }
            }
        }
        match self.prepare(cluster, user, client, requested).await {
            Ok(started) => Ok(started),
            Err(e) => {
                self.slots().remove(&cluster.name);
                Err(e)
            }
        }
    }

    async fn prepare(
        self: &Arc<Self>,
        cluster: &Cluster,
        user: &str,
        client: &str,
        requested: Option<BackupId>,
    ) -> Result<Started, StartError> {
        // Another process sharing the database may be running one (create_run checks again).
        if let Some(running) = self.store.running_run(cluster.name.clone()).await? {
            return Err(StartError::InProgress {
                run_id: Some(running),
            });
        }
        let (preflight, history) = self.preflight(cluster).await;
        // This start holds the slot itself, so only the component and exporting checks count.
        if let Some(failed) = preflight
            .checks
            .iter()
            .filter(|c| c.id != PreflightCheckId::NoOtherRun)
            .find(|c| c.status == CheckStatus::Fail)
        {
            return Err(StartError::Preflight(format!(
                "{}: {}{}",
                failed.name,
                failed.detail.trim_end_matches('.'),
                failed
                    .fix
                    .as_deref()
                    .map(|f| format!(". {f}"))
                    .unwrap_or_default()
            )));
        }
        let backup_id = match requested {
            Some(id) => {
                let used_by = history
                    .sets
                    .iter()
                    .find(|s| s.backup_id == id.get())
                    .map(|s| s.holders())
                    .unwrap_or_default();
                // A `BackupId` is at most i64::MAX: the cast is exact.
                procedure::validate_backup_id(id.get() as i64, preflight.highest_known_id, &used_by)
                    .map_err(|p| StartError::BadId(p.explain()))?
            }
            None => preflight.proposed_backup_id,
        };
        let plan = procedure::plan(cluster.profile, &cluster.components());
        let initial = runner::initial_report(&plan, backup_id);
        let run_id = self
            .store
            .create_run(
                cluster.name.clone(),
                backup_id,
                user.to_string(),
                self.clock.now_ms(),
                to_json(&initial),
                self.owner.clone(),
            )
            .await?
            .map_err(|running| StartError::InProgress {
                run_id: Some(running),
            })?;
        let (tx, rx) = watch::channel(initial);
        let (cancel_tx, cancel) = CancelSignal::new();
        let remote_cancel = cancel_tx.clone();
        self.slots().insert(
            cluster.name.clone(),
            Slot::Running {
                run_id,
                progress: rx.clone(),
                cancel: cancel_tx,
            },
        );
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(
                user,
                client,
                AuditAction::BackupStarted,
                AuditOutcome::Success,
            )
            .cluster(cluster.name.as_str())
            .target(backup_id.to_string()),
        )
        .await;

        // A shutdown that began while this start was validated has already swept the slots.
        if self.is_stopping()
            && let Some(Slot::Running { cancel, .. }) = self.slots().get(&cluster.name)
        {
            cancel.send_replace(Some(SHUTDOWN_BY.to_string()));
        }

        let service = self.clone();
        let (cluster, user, client, run_plan) = (
            cluster.clone(),
            user.to_string(),
            client.to_string(),
            plan.clone(),
        );
        let task = tokio::spawn(async move {
            // Raised when another process took the run over (this one was silent too long): the
            // run stops where it is, without resuming (the new owner did) or writing an outcome.
            let (lost_tx, lost) = watch::channel(false);
            let lost_tx = Arc::new(lost_tx);
            let (stop_tx, stop) = tokio::sync::oneshot::channel();
            // Every progress change is stored (at most every 100 ms), so that a reopened tab or
            // a restarted console sees the run.
            let store = service.store.clone();
            let owner = service.owner.clone();
            let persist_lost = lost_tx.clone();
            let persister = tokio::spawn(crate::progress::persist_changes(
                rx,
                stop,
                std::time::Duration::from_millis(100),
                move |report: RunReport| {
                    let (store, owner, lost) = (store.clone(), owner.clone(), persist_lost.clone());
                    async move {
                        let paused = report.exporting_paused();
                        match store
                            .update_run(
                                run_id,
                                owner,
                                RunState::Running,
                                paused,
                                None,
                                to_json(&report),
                            )
                            .await
                        {
                            Ok(true) => {}
                            Ok(false) => {
                                lost.send_replace(true);
                            }
                            Err(error) => {
                                tracing::error!(%error, run_id, "could not store run progress");
                            }
                        }
                    }
                },
            ));
            let (alive_tx, alive) = tokio::sync::oneshot::channel();
            let heartbeat = tokio::spawn(heartbeat(
                service.store.clone(),
                service.clock.clone(),
                run_id,
                service.owner.clone(),
                Some(remote_cancel),
                Some(lost_tx.clone()),
                alive,
            ));
            // The pause is on record before its request leaves, whatever the persister's pace;
            // if it cannot be, the pause is not sent (review M2).
            let store = service.store.clone();
            let owner = service.owner.clone();
            let checkpoint_lost = lost_tx.clone();
            let checkpoint: runner::PauseCheckpoint = Arc::new(move |report: RunReport| {
                let (store, owner, lost) = (store.clone(), owner.clone(), checkpoint_lost.clone());
                Box::pin(async move {
                    match store
                        .update_run(
                            run_id,
                            owner,
                            RunState::Running,
                            true,
                            None,
                            to_json(&report),
                        )
                        .await
                    {
                        Ok(true) => Ok(()),
                        Ok(false) => {
                            lost.send_replace(true);
                            Err("another process took the run over".to_string())
                        }
                        Err(error) => {
                            tracing::error!(%error, run_id, "could not record the coming pause");
                            Err(error.to_string())
                        }
                    }
                })
            });
            let mut lost_seen = lost.clone();
            let ran = tokio::select! {
                report = runner::run_with_clock(
                    cluster.clone(),
                    run_plan,
                    backup_id,
                    service.settings,
                    service.clock.clone(),
                    cancel,
                    tx.clone(),
                    Some(checkpoint),
                ) => Some(report),
                // Dropping the run aborts its steps (runner::run owns its inner task).
                _ = lost_seen.wait_for(|lost| *lost) => None,
            };
            // Stop the persister between two writes, so its last write cannot land after the end.
            let _ = stop_tx.send(());
            let _ = persister.await;
            let _ = alive_tx.send(());
            let _ = heartbeat.await;
            let mut report = match ran {
                Some(report) if !*lost.borrow() => report,
                _ => {
                    tracing::error!(
                        run_id,
                        cluster = %cluster.name,
                        "another process took this backup run over (this one was silent too long); it stopped without writing an outcome"
                    );
                    let mut report = tx.borrow().clone();
                    report.outcome = RunOutcome::Interrupted {
                        reason: "another process took this run over; see the stored run".into(),
                    };
                    service.slots().remove(&cluster.name);
                    tx.send_replace(report);
                    return;
                }
            };
            report.outcome = stopped_by_shutdown(report.outcome, report.paused_ms.is_some());
            service
                .finish(&cluster.name, run_id, &report, &user, &client)
                .await;
            // Only now do readers see the end, and the cluster is free for the next run.
            service.slots().remove(&cluster.name);
            tx.send_replace(report);
        });
        self.keep_task(task);
        Ok(Started {
            run_id,
            backup_id,
            plan,
        })
    }

    async fn finish(
        &self,
        cluster: &str,
        run_id: i64,
        report: &RunReport,
        user: &str,
        client: &str,
    ) {
        let state = report.outcome.state();
        match self
            .store
            .update_run(
                run_id,
                self.owner.clone(),
                state.clone(),
                report.exporting_paused(),
                Some(self.clock.now_ms()),
                to_json(report),
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                // The new owner writes the outcome; this one's would overwrite it (review M3).
                tracing::error!(
                    run_id,
                    "another process took this backup run over before its end; its outcome ({state}) was not written"
                );
                return;
            }
            Err(error) => tracing::error!(%error, run_id, "could not store the end of a run"),
        }
        // Zeebe's 409 names its latest ID (only Zeebe's wording has it); remember it for the
        // next proposal.
        if let Some(latest) = report
            .transcript
            .iter()
            .filter(|e| e.method == "POST" && e.status == Some(409))
            .filter_map(|e| latest_id_from_conflict(&upstream_message(e.response.as_bytes())))
            .max()
            && let Err(error) = self
                .store
                .put_setting(zeebe_latest_key(cluster), latest.to_string())
                .await
        {
            tracing::error!(%error, "could not remember Zeebe's latest backup ID");
        }
        let detail = match &report.outcome {
            RunOutcome::Failed { step, reason } => Some(format!("{step}: {reason}")),
            RunOutcome::Cancelled { step, by } => Some(format!("cancelled by {by} at {step}")),
            RunOutcome::ExportingStillPaused { reason } => Some(reason.clone()),
            RunOutcome::Interrupted { reason } => Some(reason.clone()),
            _ => None,
        };
        let outcome = if state == RunState::Completed {
            AuditOutcome::Success
        } else {
            AuditOutcome::Failure
        };
        audit::record(
            &self.store,
            &self.clock,
            AuditEvent::new(user, client, AuditAction::BackupFinished, outcome)
                .cluster(cluster)
                .target(report.backup_id.to_string())
                .detail(detail),
        )
        .await;
    }

    /// Checks for abandoned runs now and then every half second, for as long as the process lives.
    pub fn spawn_reaper(self: &Arc<Self>, clusters: Arc<Clusters>) {
        let service = self.clone();
        tokio::spawn(async move {
            let mut stopped = Box::pin(service.stopped());
            loop {
                match service.recover(&clusters).await {
                    Ok(handles) if !handles.is_empty() => {
                        tracing::warn!(
                            count = handles.len(),
                            "unfinished backup runs found; recovering them"
                        );
                        // A shutdown waits for them too: a recovery is a resume in progress.
                        for handle in handles {
                            service.keep_task(handle);
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, "could not look for abandoned runs"),
                }
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    // A stopping console claims nothing new.
                    () = &mut stopped => return,
                }
            }
        });
    }

    /// Runs whose process stopped (killed, crashed, restarted) without finishing them: exporting
    /// is resumed first where the run had reached the pause, then the run is marked interrupted
    /// (its ID is spent). A run is abandoned once its process has not said it is alive for
    /// [`STALE_AFTER_MS`]; each is claimed by exactly one process.
    pub async fn recover(
        self: &Arc<Self>,
        clusters: &Clusters,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>, crate::store::StoreError> {
        let now = self.clock.now_ms();
        let unfinished = self
            .store
            .claim_stale_runs(self.owner.clone(), now, now - STALE_AFTER_MS)
            .await?;
        let mut handles = Vec::new();
        for row in unfinished {
            let cluster = clusters.get(&row.cluster).cloned();
            let profile = cluster.as_ref().map_or(VersionProfile::V88, |c| c.profile);
            let mut report = report_from_row(&row, profile);
            // A report that does not say whether the pause was reached counts as paused:
            // resuming is harmless, forgetting is not.
            let readable: Option<RunReport> = serde_json::from_value(row.report.clone()).ok();
            let paused = readable.as_ref().is_none_or(RunReport::exporting_paused);
            let service = self.clone();
            handles.push(tokio::spawn(async move {
                // Claimed: say so while resuming, or another process would claim it too.
                let (alive_tx, alive) = tokio::sync::oneshot::channel();
                let heartbeat = tokio::spawn(heartbeat(
                    service.store.clone(),
                    service.clock.clone(),
                    row.id,
                    service.owner.clone(),
                    None,
                    None,
                    alive,
                ));
                let resumed = match (paused, &cluster) {
                    (false, _) => Ok(None),
                    (true, None) => Err(format!(
                        "cluster {} is no longer configured; resume exporting by hand",
                        row.cluster
                    )),
                    (true, Some(cluster)) => {
                        resume_until_confirmed(&cluster.zeebe, self_resume_backoff())
                            .await
                            .map(|_| Some(service.clock.now_ms()))
                            .map_err(|e| e.to_string())
                    }
                };
                let outcome = match &resumed {
                    Ok(None) => RunOutcome::Interrupted {
                        reason: "the console stopped during the run; exporting had not been paused"
                            .into(),
                    },
                    Ok(Some(_)) => RunOutcome::Interrupted {
                        reason:
                            "the console stopped during the run; exporting was resumed at restart"
                                .into(),
                    },
                    Err(reason) => RunOutcome::ExportingStillPaused {
                        reason: reason.clone(),
                    },
                };
                if let Ok(Some(at)) = resumed {
                    report.resumed_ms = Some(at);
                }
                report.outcome = outcome.clone();
                for s in &mut report.steps {
                    if matches!(s.state, StepState::Pending | StepState::Running) {
                        s.state = StepState::NotRun;
                    }
                }
                let _ = alive_tx.send(());
                let _ = heartbeat.await;
                let text = to_json(&report);
                let still_paused = resumed.is_err();
                match service
                    .store
                    .update_run(
                        row.id,
                        service.owner.clone(),
                        outcome.state(),
                        still_paused,
                        Some(service.clock.now_ms()),
                        text,
                    )
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(
                            run = row.id,
                            "another process claimed this run while it was being recovered; its outcome was not written"
                        );
                        return;
                    }
                    Err(error) => {
                        tracing::error!(%error, run = row.id, "could not store a recovered run")
                    }
                }
                let (audit_outcome, detail) = match &outcome {
                    RunOutcome::Interrupted { reason } => (AuditOutcome::Success, reason.clone()),
                    RunOutcome::ExportingStillPaused { reason } => {
                        (AuditOutcome::Failure, reason.clone())
                    }
                    _ => (AuditOutcome::Success, String::new()),
                };
                audit::record(
                    &service.store,
                    &service.clock,
                    AuditEvent::new(
                        "system",
                        "-",
                        AuditAction::BackupInterrupted,
                        audit_outcome,
                    )
                    .cluster(row.cluster.as_str())
                    .target(row.backup_id.to_string())
                    .detail(detail),
                )
                .await;
                tracing::warn!(run = row.id, cluster = %row.cluster, state = %outcome.state(), "recovered an unfinished backup run");
            }));
        }
        Ok(handles)
    }
}

fn self_resume_backoff() -> Backoff {
    Backoff {
        first: std::time::Duration::from_millis(100),
        ..Backoff::default()
    }
}

/// A stored run's report. Rows written by older versions, or cut short by a crash, may lack fields:
/// they are filled from the row, so a run is always readable rather than an internal error.
pub fn report_from_row(row: &RunRow, profile: VersionProfile) -> RunReport {
    let mut value = row.report.clone();
    if !value.is_object() {
        value = serde_json::json!({});
    }
    let defaults = [
        ("backup_id", serde_json::json!(row.backup_id)),
        ("profile", serde_json::to_value(profile).unwrap_or_default()),
        ("steps", serde_json::json!([])),
        (
            "outcome",
            serde_json::to_value(row.state.outcome_without_report()).unwrap_or_default(),
        ),
    ];
    for (key, default) in defaults {
        if value.get(key).is_none_or(serde_json::Value::is_null) {
            value[key] = default;
        }
    }
    serde_json::from_value(value).unwrap_or_else(|_| RunReport {
        backup_id: row.backup_id,
        profile,
        steps: Vec::new(),
        skipped: Vec::new(),
        outcome: row.state.outcome_without_report(),
        paused_ms: None,
        resumed_ms: None,
        transcript: Vec::new(),
    })
}

/// A run cancelled by the console's own shutdown is recorded as interrupted by the stop, not as
/// cancelled by a person.
fn stopped_by_shutdown(outcome: RunOutcome, pause_reached: bool) -> RunOutcome {
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
async fn heartbeat(
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
