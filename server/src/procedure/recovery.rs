//! Runs whose process died: found by their silent lease, exporting resumed, recorded interrupted;
//! and a stored row read back as a report.

use std::sync::Arc;

use backup_domain::api::VersionProfile;
use backup_domain::audit::{AuditAction, AuditOutcome};
use backup_domain::run::StepState;

use super::resume::{Backoff, resume_until_confirmed};
use super::runner::{RunOutcome, RunReport};
use crate::audit::{self, AuditEvent};
use crate::cluster::Clusters;
use crate::store::RunRow;

use super::service::{RunService, STALE_AFTER_MS, heartbeat, to_json};

pub(super) fn self_resume_backoff() -> Backoff {
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

impl RunService {
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
