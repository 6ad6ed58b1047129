//! Backup runs as the API sees them: one at a time per cluster, started on the server and
//! independent of any browser, every progress change persisted, and recovered at start-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use backup_domain::backup_set::ComponentState;
use backup_domain::procedure::{self, ProcedurePlan};
use tokio::sync::watch;

use super::resume::{Backoff, resume_until_confirmed};
use super::runner::{self, RunOutcome, RunReport, RunSettings};
use crate::cluster::{Cluster, Clusters};
use crate::store::{AuditRecord, Store};

enum Slot {
    /// Reserved while the start is validated, so two simultaneous starts cannot both pass.
    Starting,
    Running {
        run_id: i64,
        progress: watch::Receiver<RunReport>,
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

pub struct Started {
    pub run_id: i64,
    pub backup_id: u64,
    pub plan: ProcedurePlan,
}

pub struct RunService {
    slots: Mutex<HashMap<String, Slot>>,
    settings: RunSettings,
    store: Store,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn outcome_state(outcome: &RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Running => "running",
        RunOutcome::Completed => "completed",
        RunOutcome::Failed { .. } => "failed",
        RunOutcome::ExportingStillPaused { .. } => "exporting_still_paused",
    }
}

fn to_json(report: &RunReport) -> String {
    serde_json::to_string(report).unwrap_or_else(|_| "{}".into())
}

impl RunService {
    pub fn new(store: Store, settings: RunSettings) -> Self {
        RunService {
            slots: Mutex::new(HashMap::new()),
            settings,
            store,
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live report of a run this process is running.
    pub fn live(&self, run_id: i64) -> Option<RunReport> {
        self.slots().values().find_map(|slot| match slot {
            Slot::Running {
                run_id: id,
                progress,
            } if *id == run_id => Some(progress.borrow().clone()),
            _ => None,
        })
    }

    /// Validates and starts a backup of `cluster`. The run goes on whatever happens to the caller.
    pub async fn start(
        self: &Arc<Self>,
        cluster: &Cluster,
        user: &str,
        client: &str,
        requested: Option<i64>,
    ) -> Result<Started, StartError> {
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
        requested: Option<i64>,
    ) -> Result<Started, StartError> {
        // Preflight: every component answers its listing, and exporting runs everywhere.
        let history = crate::history::history(cluster).await;
        if let Some(e) = history.component_errors.first() {
            return Err(StartError::Preflight(format!(
                "{} is not reachable: {}",
                e.component.label(),
                e.message
            )));
        }
        if let Some(error) = &history.exporting.error {
            return Err(StartError::Preflight(format!(
                "the exporter phase cannot be read: {error}"
            )));
        }
        if let Some(p) = history
            .exporting
            .partitions
            .iter()
            .find(|p| p.phase != "EXPORTING")
        {
            return Err(StartError::Preflight(format!(
                "partition {} is {}: resume exporting before a backup",
                p.partition_id, p.phase
            )));
        }
        let highest = history.highest_backup_id;
        let backup_id = match requested {
            Some(id) => {
                let used_by: Vec<_> = history
                    .sets
                    .iter()
                    .find(|s| s.backup_id as i64 == id)
                    .map(|s| {
                        s.components
                            .iter()
                            .filter(|c| c.state != ComponentState::Missing)
                            .map(|c| c.component)
                            .collect()
                    })
                    .unwrap_or_default();
                procedure::validate_backup_id(id, highest, &used_by)
                    .map_err(|p| StartError::BadId(p.explain()))?
            }
            None => procedure::propose_backup_id((now_ms() / 1000) as u64, highest),
        };
        let plan = procedure::plan(cluster.profile, &cluster.components());
        let initial = RunReport {
            backup_id,
            steps: vec![],
            outcome: RunOutcome::Running,
            paused_ms: None,
            resumed_ms: None,
        };
        let run_id = self
            .store
            .create_run(
                cluster.name.clone(),
                backup_id,
                user.to_string(),
                now_ms(),
                to_json(&initial),
            )
            .await?;
        let (tx, rx) = watch::channel(initial);
        self.slots().insert(
            cluster.name.clone(),
            Slot::Running {
                run_id,
                progress: rx.clone(),
            },
        );
        self.audit(
            user,
            client,
            "backup_started",
            &cluster.name,
            backup_id,
            "success",
            None,
        )
        .await;

        let service = self.clone();
        let (cluster, user, client, run_plan) = (
            cluster.clone(),
            user.to_string(),
            client.to_string(),
            plan.clone(),
        );
        tokio::spawn(async move {
            let persister = tokio::spawn(persist(service.store.clone(), run_id, rx));
            let report =
                runner::run(cluster.clone(), run_plan, backup_id, service.settings, tx).await;
            persister.abort();
            let state = outcome_state(&report.outcome);
            let paused = matches!(report.outcome, RunOutcome::ExportingStillPaused { .. });
            if let Err(error) = service
                .store
                .update_run(run_id, state, paused, Some(now_ms()), to_json(&report))
                .await
            {
                tracing::error!(%error, run_id, "could not store the end of a run");
            }
            let detail = match &report.outcome {
                RunOutcome::Failed { step, reason } => Some(format!("{step}: {reason}")),
                RunOutcome::ExportingStillPaused { reason } => Some(reason.clone()),
                _ => None,
            };
            let outcome = if state == "completed" {
                "success"
            } else {
                "failure"
            };
            service
                .audit(
                    &user,
                    &client,
                    "backup_finished",
                    &cluster.name,
                    backup_id,
                    outcome,
                    detail,
                )
                .await;
            service.slots().remove(&cluster.name);
        });
        Ok(Started {
            run_id,
            backup_id,
            plan,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn audit(
        &self,
        user: &str,
        client: &str,
        action: &str,
        cluster: &str,
        backup_id: u64,
        outcome: &str,
        detail: Option<String>,
    ) {
        let record = AuditRecord {
            at_ms: now_ms(),
            user: user.to_string(),
            client: client.to_string(),
            action: action.to_string(),
            cluster: Some(cluster.to_string()),
            target: Some(backup_id.to_string()),
            outcome: outcome.to_string(),
            detail,
        };
        if let Err(error) = self.store.append_audit(record).await {
            tracing::error!(%error, action, "could not write the audit log");
        }
    }

    /// Runs left unfinished by a previous process: exporting is resumed first where the run had
    /// reached the pause, then the run is marked interrupted (its ID is spent).
    pub async fn recover(
        self: &Arc<Self>,
        clusters: &Clusters,
    ) -> Result<usize, crate::store::StoreError> {
        let unfinished = self.store.unfinished_runs().await?;
        let count = unfinished.len();
        for row in unfinished {
            let paused = row.report.get("paused_ms").is_some_and(|v| !v.is_null())
                && row.report.get("resumed_ms").is_none_or(|v| v.is_null());
            let service = self.clone();
            let cluster = clusters.get(&row.cluster).cloned();
            tokio::spawn(async move {
                let (state, still_paused, detail) = match (paused, cluster) {
                    (false, _) => (
                        "interrupted",
                        false,
                        "the console stopped during the run; exporting had not been paused"
                            .to_string(),
                    ),
                    (true, None) => (
                        "exporting_still_paused",
                        true,
                        format!(
                            "cluster {} is no longer configured; resume exporting by hand",
                            row.cluster
                        ),
                    ),
                    (true, Some(cluster)) => match resume_until_confirmed(
                        &cluster.zeebe,
                        Backoff::default(),
                    )
                    .await
                    {
                        Ok(_) => (
                            "interrupted",
                            false,
                            "the console stopped during the run; exporting was resumed at restart"
                                .to_string(),
                        ),
                        Err(e) => ("exporting_still_paused", true, e.to_string()),
                    },
                };
                let mut report = row.report.clone();
                report["interruption"] = serde_json::Value::String(detail.clone());
                if let Err(error) = service
                    .store
                    .update_run(
                        row.id,
                        state,
                        still_paused,
                        Some(now_ms()),
                        report.to_string(),
                    )
                    .await
                {
                    tracing::error!(%error, run = row.id, "could not store a recovered run");
                }
                let outcome = if still_paused { "failure" } else { "success" };
                service
                    .audit(
                        "system",
                        "-",
                        "backup_interrupted",
                        &row.cluster,
                        row.backup_id,
                        outcome,
                        Some(detail),
                    )
                    .await;
                tracing::warn!(run = row.id, cluster = %row.cluster, state, "recovered an unfinished backup run");
            });
        }
        Ok(count)
    }
}

/// Stores every progress change, so that a reopened tab or a restarted console sees the run.
async fn persist(store: Store, run_id: i64, mut progress: watch::Receiver<RunReport>) {
    while progress.changed().await.is_ok() {
        let report = progress.borrow_and_update().clone();
        let paused = report.paused_ms.is_some() && report.resumed_ms.is_none();
        if let Err(error) = store
            .update_run(run_id, "running", paused, None, to_json(&report))
            .await
        {
            tracing::error!(%error, run_id, "could not store run progress");
        }
    }
}

/// Default settings, with quick first polls so that exporting stays paused no longer than needed.
pub fn default_settings() -> RunSettings {
    RunSettings {
        poll: super::wait::PollPolicy::default(),
        resume: Backoff::default(),
    }
}
