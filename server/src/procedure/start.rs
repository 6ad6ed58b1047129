//! Starting a run: the preflight the wizard shows, the checks again at the start, the run's row,
//! and the task that runs it under its lease with a heartbeat and a pause checkpoint.

use std::sync::Arc;

use backup_domain::api::HistoryResponse;
use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::id::BackupId;
use backup_domain::procedure::{self, ProcedurePlan};
use backup_domain::run::{
    CheckStatus, Preflight, PreflightCheck, PreflightCheckId, RunState, component_check,
    exporting_check, latest_id_from_conflict, no_other_run_check,
};
use backup_domain::schedule::RunTrigger;
use tokio::sync::watch;

use super::runner::{self, CancelSignal, RunOutcome, RunReport};
use crate::audit::{self, AuditEvent};
use crate::cluster::Cluster;
use crate::upstream::upstream_message;

use super::service::{
    RunService, SHUTDOWN_BY, Slot, StartError, Started, heartbeat, stopped_by_shutdown, to_json,
};

pub(super) fn zeebe_latest_key(cluster: &str) -> String {
    format!("zeebe_latest_backup_id:{cluster}")
}

impl RunService {
    /// The highest ID Zeebe is known to have used: listed by a component, spent by a run of this
    /// console, or revealed by a 409. Deleted backups are not listed (contract §2, §3.8).
    pub(super) async fn highest_known(
        &self,
        cluster: &Cluster,
        listed: Option<u64>,
    ) -> Option<u64> {
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
        // A dump needs pg_dump, pg_restore and a writable directory before anything starts.
        let tools = futures_util::future::join_all(
            cluster
                .databases
                .iter()
                .map(|db| async move { (db.component(), db.check().await) }),
        )
        .await;
        for (component, result) in tools {
            if let Err((detail, fix)) = result
                && let Some(check) = checks.iter_mut().find(|c| c.component == Some(component))
            {
                check.status = backup_domain::run::CheckStatus::Fail;
                check.detail = detail;
                check.fix = Some(fix);
            }
        }
        // Without a management port the phase cannot be read: the plan says the check is skipped.
        if cluster.zeebe.has_management_port() {
            checks.push(exporting_check(&history.exporting));
        }
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
        let plan = runner::noting_exporter_phase(plan_of(cluster), cluster);
        let preflight = Preflight {
            checks,
            // 0 stands for "Zeebe generates it" until the run learns it.
            proposed_backup_id: if cluster.zeebe_generates_ids() {
                GENERATED_BY_ZEEBE
            } else {
                procedure::propose_backup_id((self.clock.now_ms() / 1000) as u64, highest)
            },
            highest_known_id: highest,
            steps: plan.steps.iter().map(|s| s.describe()).collect(),
            skipped: plan.skipped,
            running_run: running_run.flatten(),
            zeebe_generates_id: cluster.zeebe_generates_ids(),
        };
        (preflight, history)
    }

    /// Validates and starts a backup of `cluster` that someone asked for in the console. The run
    /// goes on whatever happens to the caller.
    pub async fn start(
        self: &Arc<Self>,
        cluster: &Cluster,
        user: &str,
        client: &str,
        requested: Option<BackupId>,
    ) -> Result<Started, StartError> {
        self.start_as(cluster, user, client, requested, RunTrigger::Manual)
            .await
    }

    /// Validates and starts a backup of `cluster`, recording what started it.
    pub async fn start_as(
        self: &Arc<Self>,
        cluster: &Cluster,
        user: &str,
        client: &str,
        requested: Option<BackupId>,
        trigger: RunTrigger,
    ) -> Result<Started, StartError> {
        if let Some(maintenance) = crate::maintenance::gate(&self.store, &cluster.name).await? {
            return Err(StartError::Maintenance(crate::maintenance::refusal(
                &maintenance,
            )));
        }
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
        match self
            .prepare(cluster, user, client, requested, trigger)
            .await
        {
            Ok(started) => Ok(started),
            Err(e) => {
                self.slots().remove(&cluster.name);
                Err(e)
            }
        }
    }

    pub(super) async fn prepare(
        self: &Arc<Self>,
        cluster: &Cluster,
        user: &str,
        client: &str,
        requested: Option<BackupId>,
        trigger: RunTrigger,
    ) -> Result<Started, StartError> {
        let (preflight, history) = self.startable(cluster).await?;
        let backup_id = if cluster.zeebe_generates_ids() {
            if requested.is_some() {
                return Err(StartError::BadId(
                    "Zeebe generates the backup ID on this cluster (zeebe_scheduler = true): start the backup without one".into(),
                ));
            }
            GENERATED_BY_ZEEBE
        } else {
            chosen_backup_id(&preflight, &history, requested)?
        };
        let plan = runner::noting_exporter_phase(plan_of(cluster), cluster);
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
                trigger.clone(),
            )
            .await?
            .map_err(|running| StartError::InProgress {
                run_id: Some(running),
            })?;
        self.metrics.run_started(&cluster.name, &trigger);
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
            .target(backup_id.to_string())
            .detail(Some(format!("trigger: {trigger}"))),
        )
        .await;

        // A shutdown that began while this start was validated has already swept the slots.
        if self.is_stopping()
            && let Some(Slot::Running { cancel, .. }) = self.slots().get(&cluster.name)
        {
            cancel.send_replace(Some(SHUTDOWN_BY.to_string()));
        }

        self.spawn_run(
            cluster.clone(),
            plan.clone(),
            RunHandles {
                run_id,
                backup_id,
                progress: (tx, rx),
                cancel,
                remote_cancel,
            },
            user,
            client,
        );
        Ok(Started {
            run_id,
            backup_id,
            plan,
        })
    }

    /// Nothing else runs on the cluster and every check but "no other run" passes (this start
    /// holds the slot itself). Returns the preflight and the history it read.
    async fn startable(
        &self,
        cluster: &Cluster,
    ) -> Result<(Preflight, HistoryResponse), StartError> {
        // Another process sharing the database may be running one (create_run checks again).
        if let Some(running) = self.store.running_run(cluster.name.clone()).await? {
            return Err(StartError::InProgress {
                run_id: Some(running),
            });
        }
        let (preflight, history) = self.preflight(cluster).await;
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
        Ok((preflight, history))
    }

    /// Runs the procedure in a task of its own under the run's lease: progress stored as it
    /// changes, a heartbeat, the pause put on record before it is sent, and the outcome written
    /// last (or nothing written when another process took the run over).
    fn spawn_run(
        self: &Arc<Self>,
        cluster: Cluster,
        run_plan: ProcedurePlan,
        handles: RunHandles,
        user: &str,
        client: &str,
    ) {
        let RunHandles {
            run_id,
            backup_id,
            progress: (tx, rx),
            cancel,
            remote_cancel,
        } = handles;
        let service = self.clone();
        let (user, client) = (user.to_string(), client.to_string());
        let task = tokio::spawn(async move {
            // Raised when another process took the run over (this one was silent too long): the
            // run stops where it is, without resuming (the new owner did) or writing an outcome.
            let (lost_tx, lost) = watch::channel(false);
            let lost_tx = Arc::new(lost_tx);
            let (stop_tx, stop) = tokio::sync::oneshot::channel();
            // Every progress change is stored (at most every 100 ms), so that a reopened tab or
            // a restarted console sees the run.
            let writer = RunWriter {
                store: service.store.clone(),
                owner: service.owner.clone(),
                run_id,
                lost: lost_tx.clone(),
                stored_id: Arc::new(std::sync::atomic::AtomicU64::new(backup_id)),
            };
            let progress_writer = writer.clone();
            let persister = tokio::spawn(crate::progress::persist_changes(
                rx,
                stop,
                std::time::Duration::from_millis(100),
                move |report: RunReport| {
                    let writer = progress_writer.clone();
                    async move {
                        let paused = report.exporting_paused();
                        if let Err(WriteLost::Store(error)) = writer.write(paused, &report).await {
                            tracing::error!(%error, run_id, "could not store run progress");
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
            let checkpoint: runner::PauseCheckpoint = Arc::new(move |report: RunReport| {
                let writer = writer.clone();
                Box::pin(async move {
                    match writer.write(true, &report).await {
                        Ok(()) => Ok(()),
                        Err(WriteLost::Lease) => {
                            Err("another process took the run over".to_string())
                        }
                        Err(WriteLost::Store(error)) => {
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
    }

    pub(super) async fn finish(
        &self,
        cluster: &str,
        run_id: i64,
        report: &RunReport,
        user: &str,
        client: &str,
    ) {
        let state = report.outcome.state();
        let now = self.clock.now_ms();
        match self.store.run(run_id).await {
            Ok(Some(row)) => {
                if row.backup_id != report.backup_id {
                    record_learned_id(&self.store, run_id, report.backup_id).await;
                }
                self.metrics
                    .run_ended(cluster, report, now - row.started_ms)
            }
            _ => tracing::warn!(
                run_id,
                "the run's start was not found; its end is not counted"
            ),
        }
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
}

pub use super::runner::GENERATED_BY_ZEEBE;

/// The procedure for `cluster`: its profile, secondary storage and components.
pub(super) fn plan_of(cluster: &Cluster) -> ProcedurePlan {
    procedure::plan_for(
        cluster.profile,
        cluster.secondary_storage,
        &cluster.components(),
    )
}

/// What the run's task takes over from its start.
struct RunHandles {
    run_id: i64,
    backup_id: u64,
    progress: (watch::Sender<RunReport>, watch::Receiver<RunReport>),
    cancel: CancelSignal,
    remote_cancel: watch::Sender<Option<String>>,
}

/// The requested ID, checked against what the cluster already holds, or the proposed one.
fn chosen_backup_id(
    preflight: &Preflight,
    history: &HistoryResponse,
    requested: Option<BackupId>,
) -> Result<u64, StartError> {
    let Some(id) = requested else {
        return Ok(preflight.proposed_backup_id);
    };
    let used_by = history
        .sets
        .iter()
        .find(|s| s.backup_id == id.get())
        .map(|s| s.holders())
        .unwrap_or_default();
    // A `BackupId` is at most i64::MAX: the cast is exact.
    procedure::validate_backup_id(id.get() as i64, preflight.highest_known_id, &used_by)
        .map_err(|p| StartError::BadId(p.explain()))
}

/// Writes a running run's report under its lease; a write the lease no longer allows raises
/// `lost`, so the run stops where it is.
#[derive(Clone)]
struct RunWriter {
    store: crate::store::Store,
    owner: String,
    run_id: i64,
    lost: Arc<watch::Sender<bool>>,
    /// The backup ID on the row: a generated one is written once the run learns it.
    stored_id: Arc<std::sync::atomic::AtomicU64>,
}

enum WriteLost {
    /// Another process took the run over.
    Lease,
    Store(crate::store::StoreError),
}

/// Puts the ID Zeebe generated on the run's row (`GENERATED_BY_ZEEBE` until then).
async fn record_learned_id(store: &crate::store::Store, run_id: i64, backup_id: u64) {
    if let Err(error) = store.set_run_backup_id(run_id, backup_id).await {
        tracing::error!(%error, run_id, backup_id, "could not record the run's generated backup ID");
    }
}

impl RunWriter {
    async fn write(&self, paused: bool, report: &RunReport) -> Result<(), WriteLost> {
        if report.backup_id != self.stored_id.load(std::sync::atomic::Ordering::SeqCst) {
            record_learned_id(&self.store, self.run_id, report.backup_id).await;
            self.stored_id
                .store(report.backup_id, std::sync::atomic::Ordering::SeqCst);
        }
        let held = self
            .store
            .update_run(
                self.run_id,
                self.owner.clone(),
                RunState::Running,
                paused,
                None,
                to_json(report),
            )
            .await
            .map_err(WriteLost::Store)?;
        if !held {
            self.lost.send_replace(true);
            return Err(WriteLost::Lease);
        }
        Ok(())
    }
}
