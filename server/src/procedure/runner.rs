//! Runs a backup procedure step by step and reports progress. Once exporting has been (or may
//! have been) paused, every way out (a failed step, a timeout, a cancel, a panic) goes through
//! resuming it.

use crate::clock::Clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backup_domain::backup_set::Component;
use backup_domain::procedure::{ProcedurePlan, ProcedureStep};
pub use backup_domain::run::{RunOutcome, RunReport, StepProgress, StepState};
use backup_domain::run::{latest_id_from_conflict, record_exchange};
use tokio::sync::watch;

use super::resume::{Backoff, resume_until_confirmed};
pub use super::wait::CancelSignal;
use super::wait::{PollPolicy, WaitError, wait_until_completed};
use crate::cluster::Cluster;
use crate::upstream::{self, ExportingOperation, UpstreamError};
use crate::upstream::{Recorder, recording};

/// Timeouts and polling of a run; `[procedure]` in the configuration sets them.
#[derive(Debug, Clone, Copy)]
pub struct RunSettings {
    /// Polling of a component's backup; its `timeout` is every step's timeout.
    pub poll: PollPolicy,
    /// The longest wait between two polls while exporting is soft-paused (100 ms), so that the
    /// pause ends within this long of the backup completing (BENCHMARKS.md: the pause window).
    pub paused_poll_max: Duration,
    pub resume: Backoff,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            poll: PollPolicy::default(),
            paused_poll_max: Duration::from_millis(100),
            resume: Backoff::default(),
        }
    }
}

impl RunSettings {
    pub fn from_config(procedure: &crate::config::ProcedureConfig) -> Self {
        let defaults = RunSettings::default();
        RunSettings {
            poll: PollPolicy {
                timeout: procedure.step_timeout,
                ..defaults.poll
            },
            resume: Backoff {
                deadline: procedure.resume_deadline,
                ..defaults.resume
            },
            ..defaults
        }
    }
}

/// Why the still-paused check is skipped on a cluster without a management port.
pub const STILL_PAUSED_SKIPPED: &str = "the check that exporting is still paused before the Zeebe backup is skipped: no management port configured ([clusters.orchestration] url), so the exporter phase is unknown";

/// On a REST cluster without a management port nothing reads the exporter phase: the plan says
/// so in `skipped`.
pub fn noting_exporter_phase(mut plan: ProcedurePlan, cluster: &Cluster) -> ProcedurePlan {
    if !cluster.zeebe.has_management_port() {
        plan.skipped.push(STILL_PAUSED_SKIPPED.to_string());
    }
    plan
}

/// The report of a run before its first step.
pub fn initial_report(plan: &ProcedurePlan, backup_id: u64) -> RunReport {
    RunReport {
        backup_id,
        profile: plan.profile,
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
        skipped: plan.skipped.clone(),
        outcome: RunOutcome::Running,
        paused_ms: None,
        resumed_ms: None,
        transcript: Vec::new(),
    }
}

enum Stop {
    Failed { step: String, reason: String },
    Cancelled { step: String, by: String },
}

/// Awaited with the report just before the pause request is sent: the caller stores that the
/// run may pause exporting, so that a process killed right after the request still resumes it
/// at recovery (a throttled progress write could lag behind the request). An `Err` (the reason)
/// stops the run before the pause: a pause nobody could recover from is not sent (review M2).
pub type PauseCheckpoint = Arc<
    dyn Fn(
            RunReport,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// Runs `plan` for `backup_id` in its own task, so that a panic cannot skip the resume. Every
/// upstream call lands in the report's transcript; progress goes to `progress`, the final report
/// is returned. Its times are the system clock's.
pub async fn run(
    cluster: Cluster,
    plan: ProcedurePlan,
    backup_id: u64,
    settings: RunSettings,
    cancel: CancelSignal,
    progress: watch::Sender<RunReport>,
    before_pause: Option<PauseCheckpoint>,
) -> RunReport {
    run_with_clock(
        cluster,
        plan,
        backup_id,
        settings,
        Clock::System,
        cancel,
        progress,
        before_pause,
    )
    .await
}

/// [`run`], its times from `clock` (the run service's).
#[expect(
    clippy::too_many_arguments,
    reason = "one run's state, passed once into its own task"
)]
pub async fn run_with_clock(
    cluster: Cluster,
    plan: ProcedurePlan,
    backup_id: u64,
    settings: RunSettings,
    clock: Clock,
    cancel: CancelSignal,
    progress: watch::Sender<RunReport>,
    before_pause: Option<PauseCheckpoint>,
) -> RunReport {
    let paused = Arc::new(AtomicBool::new(false));
    progress.send_replace(initial_report(&plan, backup_id));
    // Each exchange is filed under the step that made it: `fixed`, or the step the runner is
    // executing (steps run one after the other, so that is the last one started). Not by time:
    // steps can start in the same millisecond.
    let recorder_for = |fixed: Option<ProcedureStep>| {
        let sink = progress.clone();
        Recorder::new(clock.clone(), move |exchange| {
            sink.send_modify(|r| {
                let step = fixed.or_else(|| {
                    r.steps
                        .iter()
                        .rev()
                        .find(|s| s.started_ms.is_some())
                        .map(|s| s.step)
                });
                record_exchange(&mut r.transcript, step, exchange);
            });
        })
    };
    let recorder = recorder_for(None);
    let inner = tokio::spawn(recording(
        recorder.clone(),
        run_steps(
            cluster.clone(),
            plan,
            backup_id,
            settings,
            clock.clone(),
            cancel,
            progress.clone(),
            paused.clone(),
            before_pause,
        ),
    ));
    // Dropping this future (a run whose lease was lost) aborts the steps too, with no resume.
    let mut inner = AbortOnDrop(inner);
    let result = (&mut inner.0).await;
    let outcome = match result {
        Ok(Ok(())) => RunOutcome::Completed,
        Ok(Err(Stop::Failed { step, reason })) => RunOutcome::Failed { step, reason },
        Ok(Err(Stop::Cancelled { step, by })) => RunOutcome::Cancelled { step, by },
        Err(join) => RunOutcome::Failed {
            step: "runner".into(),
            reason: format!("the runner stopped: {join}"),
        },
    };
    // The run's own resume step failed: it has had its whole deadline, and a second one here
    // would double what a stopping console (and an operator) waits for exporting.
    let resume_failed = progress.borrow().steps.iter().find_map(|s| {
        (s.step == ProcedureStep::ResumeExporting && s.state == StepState::Failed)
            .then(|| s.detail.clone().unwrap_or_default())
    });
    let outcome = if let Some(reason) = resume_failed.filter(|_| paused.load(Ordering::SeqCst)) {
        RunOutcome::ExportingStillPaused { reason }
    } else if outcome != RunOutcome::Completed && paused.load(Ordering::SeqCst) {
        // The resume owed after a failure, cancel or panic is the resume step's work.
        match recording(
            recorder_for(Some(ProcedureStep::ResumeExporting)),
            resume_until_confirmed(&cluster.zeebe, settings.resume),
        )
        .await
        {
            Ok(_) => {
                progress.send_modify(|r| r.resumed_ms = Some(clock.now_ms()));
                outcome
            }
            Err(still) => RunOutcome::ExportingStillPaused {
                reason: still.to_string(),
            },
        }
    } else {
        outcome
    };
    // The final report is returned, not sent: the caller publishes it once it is stored, so
    // nobody sees a run ended that a restart would not.
    let mut report = progress.borrow().clone();
    report.outcome = outcome;
    for s in &mut report.steps {
        if matches!(s.state, StepState::Pending | StepState::Running) {
            s.state = StepState::NotRun;
        }
    }
    report
}

/// Aborts a task when dropped; a finished task is unaffected.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one run's state, passed once into its own task"
)]
async fn run_steps(
    cluster: Cluster,
    plan: ProcedurePlan,
    id: u64,
    settings: RunSettings,
    clock: Clock,
    mut cancel: CancelSignal,
    progress: watch::Sender<RunReport>,
    paused: Arc<AtomicBool>,
    before_pause: Option<PauseCheckpoint>,
) -> Result<(), Stop> {
    // Zeebe generates the ID on a `zeebe_scheduler` cluster: the run learns it at StartZeebe.
    // A dump taken before then is written under this run's own name and moved once it is known.
    let mut id = id;
    let scratch = clock.now_ms();
    for (index, step) in plan.steps.iter().enumerate() {
        // The resume is never skipped by a cancel: the run's own resume step or the run's
        // cleanup performs it.
        if let Some(by) = cancel.by() {
            return Err(Stop::Cancelled {
                step: step.describe(),
                by,
            });
        }
        progress.send_modify(|r| {
            r.steps[index].state = StepState::Running;
            r.steps[index].started_ms = Some(clock.now_ms());
        });
        if *step == ProcedureStep::SoftPauseExporting {
            progress.send_modify(|r| r.paused_ms = Some(clock.now_ms()));
            if let Some(checkpoint) = &before_pause {
                let snapshot = progress.borrow().clone();
                if let Err(reason) = checkpoint(snapshot).await {
                    // Nothing was sent, so nothing is owed: the run ends before the pause.
                    let reason = format!(
                        "the coming pause could not be recorded in the database ({reason}); exporting was not paused"
                    );
                    progress.send_modify(|r| {
                        r.paused_ms = None;
                        let s = &mut r.steps[index];
                        s.ended_ms = Some(clock.now_ms());
                        s.state = StepState::Failed;
                        s.detail = Some(reason.clone());
                    });
                    return Err(Stop::Failed {
                        step: step.describe(),
                        reason,
                    });
                }
            }
            // A failed pause can leave some partitions paused (§4.1): resume is owed either way.
            paused.store(true, Ordering::SeqCst);
        }
        // Said in the step's detail when it ends, beside what the step itself reports.
        let mut note: Option<&str> = None;
        if *step == ProcedureStep::StartZeebe
            && paused.load(Ordering::SeqCst)
            && !cluster.zeebe.has_management_port()
        {
            note = Some(STILL_PAUSED_SKIPPED);
            progress.send_modify(|r| {
                r.steps[index].detail = Some(STILL_PAUSED_SKIPPED.to_string());
            });
        } else if *step == ProcedureStep::StartZeebe && paused.load(Ordering::SeqCst) {
            // Someone may have resumed exporting since the pause (review M1): a Zeebe backup
            // taken then would not match the snapshots before it.
            if let Err(reason) = still_paused(&cluster).await {
                progress.send_modify(|r| {
                    let s = &mut r.steps[index];
                    s.ended_ms = Some(clock.now_ms());
                    s.state = StepState::Failed;
                    s.detail = Some(reason.clone());
                });
                return Err(Stop::Failed {
                    step: step.describe(),
                    reason,
                });
            }
        }
        let mut step_settings = settings;
        if paused.load(Ordering::SeqCst) {
            step_settings.poll.max = settings.poll.max.min(settings.paused_poll_max);
        }
        // The component's own progress while a wait polls it: "3 of 6 parts".
        let show = |detail: Option<String>| {
            progress.send_if_modified(|r| {
                let s = &mut r.steps[index];
                let changed = detail.is_some() && s.detail != detail;
                if changed {
                    s.detail = detail.clone();
                }
                changed
            });
        };
        // A cancel (a user, or the console stopping) drops the request or wait in flight at
        // once, so that nothing holds the pause for a step's whole timeout. The resume step is
        // left to finish: dropping it would only start the resume over.
        let mut stop = cancel.clone();
        let result = if *step == ProcedureStep::StartZeebe && cluster.zeebe_generates_ids() {
            let started = tokio::select! {
                started = start_generated(&cluster, settings.poll.timeout) => started,
                () = stop.requested() => Err(StepError::Cancelled),
            };
            match started {
                Ok(learned) => {
                    id = learned;
                    progress.send_modify(|r| r.backup_id = learned);
                    let dumped: Vec<Component> = plan.steps[..index]
                        .iter()
                        .filter_map(|s| match s {
                            ProcedureStep::DumpDatabase(c) => Some(*c),
                            _ => None,
                        })
                        .collect();
                    backup_id_learned(&cluster, &dumped, scratch, learned)
                        .await
                        .map(|()| Some(format!("Zeebe generated the backup ID {learned}")))
                        .map_err(failed)
                }
                Err(e) => Err(e),
            }
        } else if let (ProcedureStep::DumpDatabase(c), GENERATED_BY_ZEEBE) = (step, id) {
            tokio::select! {
                result = dump(&cluster, *c, crate::dumps::DumpTarget::Run(scratch), settings) => result,
                () = stop.requested() => Err(StepError::Cancelled),
            }
        } else if *step == ProcedureStep::ResumeExporting {
            execute(&cluster, *step, id, step_settings, &mut cancel, &show).await
        } else {
            tokio::select! {
                result = execute(&cluster, *step, id, step_settings, &mut cancel, &show) => result,
                () = stop.requested() => Err(StepError::Cancelled),
            }
        };
        if let Err(StepError::Cancelled) = result {
            progress.send_modify(|r| {
                let s = &mut r.steps[index];
                s.ended_ms = Some(clock.now_ms());
                s.state = StepState::NotRun;
                s.detail = Some("cancelled".into());
            });
            return Err(Stop::Cancelled {
                step: step.describe(),
                by: cancel.by().unwrap_or_default(),
            });
        }
        let failed = result.as_ref().err().map(ToString::to_string);
        progress.send_modify(|r| {
            let s = &mut r.steps[index];
            s.ended_ms = Some(clock.now_ms());
            match &result {
                Ok(detail) => {
                    s.state = StepState::Done;
                    s.detail = match (detail, note) {
                        (Some(d), Some(n)) => Some(format!("{d}; {n}")),
                        (None, Some(n)) => Some(n.to_string()),
                        (d, None) => d.clone(),
                    };
                }
                Err(reason) => {
                    s.state = StepState::Failed;
                    s.detail = Some(reason.to_string());
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
            return Err(Stop::Failed {
                step: step.describe(),
                reason,
            });
        }
    }
    Ok(())
}

/// The backup ID of a run whose ID Zeebe generates, until its StartZeebe step learns it (Zeebe
/// refuses 0 as an ID, §2, so it names no backup).
pub const GENERATED_BY_ZEEBE: u64 = 0;

/// Where a run learns the ID Zeebe generated (a `zeebe_scheduler` cluster), right after its
/// StartZeebe step and before any later step: the report's `backup_id` and the run's row take it
/// (the row through the run's writer). Steps before it ran under `GENERATED_BY_ZEEBE` (0); what
/// they wrote under the run's name (a database dump) is renamed here to the learned ID.
/// A dump that cannot be moved fails the step: the set would otherwise lack it without a word.
pub async fn backup_id_learned(
    cluster: &Cluster,
    dumped: &[Component],
    scratch: i64,
    learned: u64,
) -> Result<(), String> {
    tracing::info!(cluster = %cluster.name, backup_id = learned, "Zeebe generated the backup ID");
    for c in dumped {
        let Some(database) = cluster.databases.iter().find(|d| d.component() == *c) else {
            continue;
        };
        database.adopt(scratch, learned).await.map_err(|e| {
            format!(
                "Zeebe generated the backup ID {learned}, but the {} taken before it could not be moved to it: {e}",
                c.label()
            )
        })?;
    }
    Ok(())
}

/// One database's dump into `target`; the step detail names its size and checksum.
async fn dump(
    cluster: &Cluster,
    c: Component,
    target: crate::dumps::DumpTarget,
    settings: RunSettings,
) -> Result<Option<String>, StepError> {
    let database = cluster
        .databases
        .iter()
        .find(|d| d.component() == c)
        .ok_or_else(|| format!("{} is not configured", c.label()))?;
    // A cancel drops this future, which kills pg_dump and removes its partial file.
    let manifest = database
        .take(target, database.timeout_or(settings.poll.timeout))
        .await
        .map_err(failed)?;
    Ok(Some(crate::dumps::step_detail(&manifest)))
}

/// StartZeebe where Zeebe generates the ID (§3.2): a take without `backupId`. The 8.9 answer
/// names the ID; when it does not, the new ID is the lowest one above what Zeebe listed just
/// before the take, polled for up to `wait`. A listing that fails before the take stops the step:
/// without it the new ID could not be told from an older one.
async fn start_generated(cluster: &Cluster, wait: Duration) -> Result<u64, StepError> {
    let highest = |listed: &[upstream::ZeebeBackupInfo]| {
        listed.iter().map(|b| b.backup_id).max().unwrap_or(0)
    };
    let before = highest(&cluster.zeebe.list().await.map_err(|e| {
        failed(format!(
            "could not list Zeebe's backups before the take (needed to find the generated ID): {e}"
        ))
    })?);
    if let Some(id) = cluster.zeebe.take_generated().await.map_err(failed)? {
        return Ok(id);
    }
    // Neither the answer nor its message names the ID: a new backup in the listing may be
    // Zeebe's scheduler's or another console's, so only one that `backupRuntime/state` types
    // MANUAL_BACKUP, and the only such one above the pre-take highest, is taken as this run's.
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Ok(types) = cluster.zeebe.checkpoint_types().await {
            let manual: Vec<u64> = types
                .iter()
                .filter(|(id, scheduled)| **id > before && !**scheduled)
                .map(|(id, _)| *id)
                .collect();
            match manual.as_slice() {
                [id] => return Ok(*id),
                [] => {}
                several => {
                    return Err(failed(format!(
                        "Zeebe accepted the backup without naming its ID, and several manual backups above {before} appeared ({several:?}): the run's ID is unknown"
                    )));
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(failed(format!(
                "Zeebe accepted the backup without naming its ID, and no manual backup above {before} appeared in backupRuntime/state within {}s: the run's ID is unknown",
                wait.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Checks that every partition's exporter is still paused (soft or not).
async fn still_paused(cluster: &Cluster) -> Result<(), String> {
    let phases = cluster.zeebe.exporting_phases().await.map_err(|e| {
        format!("could not confirm that exporting is still paused before the Zeebe backup: {e}")
    })?;
    let running: Vec<String> = phases
        .iter()
        .filter(|p| !matches!(p.phase.as_str(), "SOFT_PAUSED" | "PAUSED"))
        .map(|p| format!("partition {} is {}", p.partition_id, p.phase))
        .collect();
    if phases.is_empty() || !running.is_empty() {
        return Err(format!(
            "exporting is no longer paused ({}): someone resumed it during the run, so the Zeebe backup would not match the snapshots taken before it",
            if running.is_empty() {
                "no partition reported".to_string()
            } else {
                running.join(", ")
            }
        ));
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error("{0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
}

impl From<String> for StepError {
    fn from(reason: String) -> Self {
        StepError::Failed(reason)
    }
}

impl From<&str> for StepError {
    fn from(reason: &str) -> Self {
        StepError::Failed(reason.to_string())
    }
}

impl From<WaitError> for StepError {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Cancelled => StepError::Cancelled,
            other => StepError::Failed(other.to_string()),
        }
    }
}

fn failed(e: impl ToString) -> StepError {
    StepError::Failed(e.to_string())
}

/// One step; `Ok` carries a short detail for the progress view, and `show` gets the component's
/// progress on every poll of a wait.
async fn execute(
    cluster: &Cluster,
    step: ProcedureStep,
    id: u64,
    settings: RunSettings,
    cancel: &mut CancelSignal,
    show: &(dyn Fn(Option<String>) + Sync),
) -> Result<Option<String>, StepError> {
    let webapps = |c: Component| cluster.webapps.iter().find(|w| w.component() == c);
    let progress_detail = |done: &backup_domain::ComponentBackup, unit: &str| {
        done.progress
            .map(|p| format!("{} of {} {unit}", p.done, p.total))
    };
    let polled = |answer: &Result<Option<backup_domain::ComponentBackup>, UpstreamError>,
                  unit: &str| {
        if let Ok(Some(found)) = answer {
            show(progress_detail(found, unit));
        }
    };
    match step {
        ProcedureStep::DumpDatabase(c) => {
            dump(cluster, c, crate::dumps::DumpTarget::Backup(id), settings).await
        }
        ProcedureStep::Start(Component::Optimize) => {
            let optimize = cluster
                .optimize
                .as_ref()
                .ok_or("Optimize is not configured")?;
            optimize.take(id).await.map_err(failed)?;
            Ok(None)
        }
        ProcedureStep::Start(c) => {
            let app = webapps(c).ok_or_else(|| format!("{} is not configured", c.label()))?;
            let parts = app.take(id).await.map_err(failed)?;
            Ok(Some(format!("{} snapshots scheduled", parts.len())))
        }
        ProcedureStep::WaitFor(Component::Optimize) => {
            let optimize = cluster
                .optimize
                .as_ref()
                .ok_or("Optimize is not configured")?;
            let done = wait_until_completed(settings.poll, cancel, || async {
                let answer = optimize
                    .get(id)
                    .await
                    .map(|b| b.map(upstream::optimize_component));
                polled(&answer, "parts");
                answer
            })
            .await?;
            Ok(progress_detail(&done, "parts"))
        }
        ProcedureStep::WaitFor(c) => {
            let app = webapps(c).ok_or_else(|| format!("{} is not configured", c.label()))?;
            let prefix = app.snapshot_prefix();
            let done = wait_until_completed(settings.poll, cancel, || async {
                let answer = app
                    .get(id)
                    .await
                    .map(|b| b.map(|b| upstream::artifact_component(c, prefix, b)));
                polled(&answer, "parts");
                answer
            })
            .await?;
            Ok(progress_detail(&done, "parts"))
        }
        ProcedureStep::SoftPauseExporting => {
            cluster
                .zeebe
                .exporting(ExportingOperation::SoftPause)
                .await
                .map_err(failed)?;
            Ok(None)
        }
        ProcedureStep::SnapshotRecords => {
            let records = cluster
                .records
                .as_ref()
                .ok_or("Elasticsearch is not configured")?;
            // Started without waiting, then polled under the step's timeout: a snapshot of large
            // indices takes longer than any single request may (review H2).
            match records.start(id).await {
                Ok(()) => {}
                // No answer does not mean no snapshot: polling finds it, or fails the step once
                // the registration grace has passed.
                Err(e @ (UpstreamError::Timeout { .. } | UpstreamError::Transport { .. })) => {
                    tracing::warn!(error = %e, "starting the records snapshot got no answer; polling");
                }
                Err(e) => return Err(failed(e)),
            }
            let done = wait_until_completed(settings.poll, cancel, || async {
                records
                    .get(id)
                    .await
                    .map(|s| s.and_then(upstream::records_component).map(|(_, c)| c))
            })
            .await?;
            Ok(Some(
                done.upstream_state.unwrap_or_else(|| "SUCCESS".into()),
            ))
        }
        ProcedureStep::StartZeebe => match cluster.zeebe.take(id).await {
            Ok(()) => Ok(None),
            Err(e) => {
                // Zeebe's 409 names its latest ID, which the listing may not show (deleted
                // backups, §3.8); say it, so the next ID can be chosen above it.
                let latest = match &e {
                    UpstreamError::Status {
                        status: 409,
                        message,
                        ..
                    } => latest_id_from_conflict(message),
                    _ => None,
                };
                // Zeebe with its own scheduler or continuous backups refuses a named ID (§3.2).
                let generates = matches!(
                    &e,
                    UpstreamError::Status { status: 400, message, .. }
                        if message.contains("predetermined backupId")
                );
                Err(match latest {
                    Some(latest) => StepError::Failed(format!(
                        "{e}; Zeebe's latest backup ID is {latest}, so the next backup needs an ID above it"
                    )),
                    None if generates => StepError::Failed(format!(
                        "{e}; Zeebe generates the backup IDs on this cluster (its scheduler or continuous backups are on): set [clusters.backup] zeebe_scheduler = true"
                    )),
                    None => failed(e),
                })
            }
        },
        ProcedureStep::WaitForZeebe => {
            let done = wait_until_completed(settings.poll, cancel, || async {
                let answer = cluster
                    .zeebe
                    .get(id)
                    .await
                    .map(|b| b.map(upstream::zeebe_component));
                polled(&answer, "partitions");
                answer
            })
            .await?;
            Ok(progress_detail(&done, "partitions"))
        }
        ProcedureStep::ResumeExporting => {
            let attempts = resume_until_confirmed(&cluster.zeebe, settings.resume)
                .await
                .map_err(failed)?;
            Ok((attempts > 1).then(|| format!("confirmed after {attempts} attempts")))
        }
    }
}
