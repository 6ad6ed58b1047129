//! Runs a backup procedure step by step and reports progress. Once exporting has been (or may
//! have been) paused, every way out (a failed step, a timeout, a panic) goes through resuming it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backup_domain::backup_set::Component;
use backup_domain::procedure::{ProcedurePlan, ProcedureStep};
use serde::Serialize;
use tokio::sync::watch;

use super::resume::{Backoff, resume_until_confirmed};
use super::wait::{PollPolicy, wait_until_completed};
use crate::cluster::Cluster;
use crate::upstream::{self, ExportingOperation};

#[derive(Debug, Clone, Copy, Default)]
pub struct RunSettings {
    pub poll: PollPolicy,
    pub resume: Backoff,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Failed,
    /// Not run because an earlier step failed.
    NotRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepProgress {
    pub step: ProcedureStep,
    pub description: String,
    pub state: StepState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RunOutcome {
    Running,
    Completed,
    Failed {
        step: String,
        reason: String,
    },
    /// The run ended and resuming exporting could not be confirmed: an alarm for the administrator.
    ExportingStillPaused {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub backup_id: u64,
    pub steps: Vec<StepProgress>,
    pub outcome: RunOutcome,
    /// When exporting was soft-paused and resumed, for the pause window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_ms: Option<i64>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs `plan` for `backup_id` in its own task, so that a panic cannot skip the resume.
pub async fn run(
    cluster: Cluster,
    plan: ProcedurePlan,
    backup_id: u64,
    settings: RunSettings,
    progress: watch::Sender<RunReport>,
) -> RunReport {
    let paused = Arc::new(AtomicBool::new(false));
    let report = RunReport {
        backup_id,
        steps: plan
            .steps
            .iter()
            .map(|s| StepProgress {
                step: *s,
                description: s.describe(),
                state: StepState::Pending,
                started_ms: None,
                ended_ms: None,
                detail: None,
            })
            .collect(),
        outcome: RunOutcome::Running,
        paused_ms: None,
        resumed_ms: None,
    };
    progress.send_replace(report);
    let inner = tokio::spawn(run_steps(
        cluster.clone(),
        plan,
        backup_id,
        settings,
        progress.clone(),
        paused.clone(),
    ));
    let result = inner.await;
    let mut report = progress.borrow().clone();
    match result {
        Ok(Ok(())) => report.outcome = RunOutcome::Completed,
        Ok(Err((step, reason))) => report.outcome = RunOutcome::Failed { step, reason },
        Err(join) => {
            report.outcome = RunOutcome::Failed {
                step: "runner".into(),
                reason: format!("the runner stopped: {join}"),
            }
        }
    }
    if report.outcome != RunOutcome::Completed && paused.load(Ordering::SeqCst) {
        match resume_until_confirmed(&cluster.zeebe, settings.resume).await {
            Ok(_) => report.resumed_ms = Some(now_ms()),
            Err(still) => {
                report.outcome = RunOutcome::ExportingStillPaused {
                    reason: still.to_string(),
                }
            }
        }
    }
    for s in &mut report.steps {
        if s.state == StepState::Pending {
            s.state = StepState::NotRun;
        }
    }
    progress.send_replace(report.clone());
    report
}

async fn run_steps(
    cluster: Cluster,
    plan: ProcedurePlan,
    id: u64,
    settings: RunSettings,
    progress: watch::Sender<RunReport>,
    paused: Arc<AtomicBool>,
) -> Result<(), (String, String)> {
    for (index, step) in plan.steps.iter().enumerate() {
        progress.send_modify(|r| {
            r.steps[index].state = StepState::Running;
            r.steps[index].started_ms = Some(now_ms());
        });
        if *step == ProcedureStep::SoftPauseExporting {
            // A failed pause can leave some partitions paused (§4.1): resume is owed either way.
            paused.store(true, Ordering::SeqCst);
            progress.send_modify(|r| r.paused_ms = Some(now_ms()));
        }
        let result = execute(&cluster, *step, id, settings).await;
        let failed = result.as_ref().err().cloned();
        progress.send_modify(|r| {
            let s = &mut r.steps[index];
            s.ended_ms = Some(now_ms());
            match &result {
                Ok(detail) => {
                    s.state = StepState::Done;
                    s.detail = detail.clone();
                }
                Err(reason) => {
                    s.state = StepState::Failed;
                    s.detail = Some(reason.clone());
                }
            }
            if *step == ProcedureStep::ResumeExporting && result.is_ok() {
                r.resumed_ms = s.ended_ms;
            }
        });
        if *step == ProcedureStep::ResumeExporting && result.is_ok() {
            paused.store(false, Ordering::SeqCst);
        }
        if let Some(reason) = failed {
            return Err((step.describe(), reason));
        }
    }
    Ok(())
}

/// One step; `Ok` carries a short detail for the progress view.
async fn execute(
    cluster: &Cluster,
    step: ProcedureStep,
    id: u64,
    settings: RunSettings,
) -> Result<Option<String>, String> {
    let webapps = |c: Component| cluster.webapps.iter().find(|w| w.component() == c);
    match step {
        ProcedureStep::Start(Component::Optimize) => {
            let optimize = cluster
                .optimize
                .as_ref()
                .ok_or("Optimize is not configured")?;
            optimize
                .take(id)
                .await
                .map(|()| None)
                .map_err(|e| e.to_string())
        }
        ProcedureStep::Start(c) => {
            let app = webapps(c).ok_or_else(|| format!("{} is not configured", c.label()))?;
            let parts = app.take(id).await.map_err(|e| e.to_string())?;
            Ok(Some(format!("{} snapshots scheduled", parts.len())))
        }
        ProcedureStep::WaitFor(Component::Optimize) => {
            let optimize = cluster
                .optimize
                .as_ref()
                .ok_or("Optimize is not configured")?;
            let done = wait_until_completed(settings.poll, || async {
                optimize
                    .get(id)
                    .await
                    .map(|b| b.map(upstream::optimize_component))
            })
            .await
            .map_err(|e| e.to_string())?;
            Ok(done
                .progress
                .map(|p| format!("{} of {} parts", p.done, p.total)))
        }
        ProcedureStep::WaitFor(c) => {
            let app = webapps(c).ok_or_else(|| format!("{} is not configured", c.label()))?;
            let prefix = app.snapshot_prefix();
            let done = wait_until_completed(settings.poll, || async {
                app.get(id)
                    .await
                    .map(|b| b.map(|b| upstream::artifact_component(c, prefix, b)))
            })
            .await
            .map_err(|e| e.to_string())?;
            Ok(done
                .progress
                .map(|p| format!("{} of {} parts", p.done, p.total)))
        }
        ProcedureStep::SoftPauseExporting => cluster
            .zeebe
            .exporting(ExportingOperation::SoftPause)
            .await
            .map(|()| None)
            .map_err(|e| e.to_string()),
        ProcedureStep::SnapshotRecords => {
            let records = cluster
                .records
                .as_ref()
                .ok_or("Elasticsearch is not configured")?;
            let created = tokio::time::timeout(settings.poll.timeout, records.create(id))
                .await
                .map_err(|_| {
                    format!(
                        "the records snapshot did not finish within {:?}",
                        settings.poll.timeout
                    )
                })?
                .map_err(|e| e.to_string())?;
            // Verify what the repository says now, not only the create answer (§8.1 step 3.2).
            let verified = records.get(id).await.map_err(|e| e.to_string())?;
            let state = verified.as_ref().or(created.as_ref()).map(|s| s.state);
            match state {
                Some(backup_domain::upstream_state::SnapshotState::Success) => {
                    Ok(Some("SUCCESS".into()))
                }
                Some(other) => Err(format!("the records snapshot ended {other:?}")),
                None => Err("the records snapshot is missing after its creation".into()),
            }
        }
        ProcedureStep::StartZeebe => cluster
            .zeebe
            .take(id)
            .await
            .map(|()| None)
            .map_err(|e| e.to_string()),
        ProcedureStep::WaitForZeebe => {
            let done = wait_until_completed(settings.poll, || async {
                cluster
                    .zeebe
                    .get(id)
                    .await
                    .map(|b| b.map(upstream::zeebe_component))
            })
            .await
            .map_err(|e| e.to_string())?;
            Ok(done
                .progress
                .map(|p| format!("{} of {} partitions", p.done, p.total)))
        }
        ProcedureStep::ResumeExporting => resume_until_confirmed(&cluster.zeebe, settings.resume)
            .await
            .map(|attempts| (attempts > 1).then(|| format!("confirmed after {attempts} attempts")))
            .map_err(|e| e.to_string()),
    }
}

/// A settings value for tests and the simulator: quick polls and short timeouts.
pub fn quick_settings(timeout: Duration) -> RunSettings {
    RunSettings {
        poll: PollPolicy {
            first: Duration::from_millis(20),
            max: Duration::from_millis(200),
            timeout,
            registration_grace: timeout,
        },
        resume: Backoff {
            first: Duration::from_millis(20),
            max: Duration::from_millis(200),
            deadline: Duration::from_secs(10),
        },
    }
}
